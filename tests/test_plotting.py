"""Plots of a simulated annotation, drawn from hand-made results."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sklearn_aift.experiment import ResultsTable  # noqa: E402
from sklearn_aift.plotting import (  # noqa: E402
    plot_learning_curves,
    plot_prediction_patterns,
    plot_selected_candidates,
    plot_selection_balance,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _results(methods=("diversity_quarter", "ift_random", "scratch"), seeds=(0, 1, 2), rounds=4):
    rows = []
    for k, method in enumerate(methods):
        for seed in seeds:
            for r in range(1, rounds + 1):
                rows.append(
                    {
                        "method": method,
                        "seed": seed,
                        "round": r,
                        "n_labels": 5 * r,
                        "n_positive": (r + k) % 5,
                        "n_negative": 5 - (r + k) % 5,
                        "auc": 0.5 + 0.05 * r + 0.02 * k + 0.01 * seed,
                    }
                )
    return ResultsTable(rows)


def test_learning_curves_one_line_and_band_per_method(tmp_path):
    results = _results()
    path = tmp_path / "curves.png"
    fig = plot_learning_curves(results, path=path)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "AIFT Diversity 1/4",
        "IFT Random",
        "Learning from Scratch",
    ]
    # the line is the mean over seeds, at the label budgets
    np.testing.assert_allclose(lines[1].get_xdata(), [5, 10, 15, 20])
    np.testing.assert_allclose(lines[1].get_ydata(), [0.58, 0.63, 0.68, 0.73])  # 0.5 + 0.05 r + 0.02 + mean seed term 0.01
    assert len(ax.collections) == 3  # one band per method
    assert ax.get_xlabel() == "labels queried" and ax.get_ylabel() == "AUC"
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_learning_curves_options():
    results = _results(seeds=(0,))
    fig = plot_learning_curves(results, methods=["ift_random"])
    assert len(fig.axes[0].get_lines()) == 1
    assert len(fig.axes[0].collections) == 0  # one seed: no band
    fig, ax = plt.subplots()
    assert plot_learning_curves(_results(), ax=ax, band="minmax") is fig
    with pytest.raises(ValueError, match="band"):
        plot_learning_curves(_results(), band="iqr")
    with pytest.raises(ValueError, match="entropy"):
        plot_learning_curves(_results(), methods=["entropy"])
    with pytest.raises(TypeError, match="ResultsTable"):
        plot_learning_curves([{"method": "x"}])
    with pytest.raises(ValueError, match="empty"):
        plot_learning_curves(ResultsTable())


def test_selection_balance_bars_match_counts(tmp_path):
    results = _results(methods=("entropy", "entropy_quarter", "diversity", "ift_random"))
    fig = plot_selection_balance(results, path=tmp_path / "balance.png")
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == [  # table order (the paper's)
        "AIFT Diversity",
        "AIFT Entropy 1/4",
        "AIFT Entropy",
        "IFT Random",
    ]
    # entropy_quarter was made with k=1: positives (r + 1) % 5 in rounds 1..4
    bars = axes[1].patches
    assert len(bars) == 8  # 4 positive + 4 negative bars
    heights = [b.get_height() for b in bars]
    assert heights[:4] == [2, 3, 4, 0]
    assert heights[4:] == [3, 2, 1, 5]
    assert (tmp_path / "balance.png").exists()
    with pytest.raises(ValueError, match="seed"):
        plot_selection_balance(results, seed=7)


def test_selected_candidates_patches_and_histograms(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(20, 6, 3, 8, 8), dtype=np.uint8)
    y = np.arange(20) % 2
    rows = []
    for method in ("entropy", "diversity_quarter"):
        for r in (1, 2):
            rows.append(
                {
                    "method": method,
                    "seed": 0,
                    "round": r,
                    "n_labels": 3 * r,
                    "queried": [r, r + 4, r + 9],
                    "scores": [3.0, 2.0, 1.0],
                    "patch_proba": rng.random((3, 6)).tolist() if r == 2 else None,
                }
            )
    results = ResultsTable(rows)
    fig = plot_selected_candidates(results, X, y, n_top=2, path=tmp_path / "top.png")
    assert len(fig.axes) == 2 * 2 * 2  # methods x candidates x (tile, histogram)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["#2 s=3.00", "#6 s=2.00", "#2 s=3.00", "#6 s=2.00"]
    # y[2] = 0 -> negative (blue), as in the paper's Fig. 10
    assert fig.axes[0].title.get_color() == "tab:blue"
    hist_ax = fig.axes[1]
    counts = [p.get_height() for p in hist_ax.patches]
    assert sum(counts) == 6  # every patch of the candidate is in its histogram
    tile = fig.axes[0].get_images()[0].get_array()
    assert tile.shape == (2 * 8 + 1, 3 * 8 + 2, 3)  # 6 patches: 2 rows x 3 columns, 1-px gaps
    assert (tmp_path / "top.png").exists()
    with pytest.raises(ValueError, match="rounds with predictions: \\[2\\]"):
        plot_selected_candidates(results, X, round=1)
    with pytest.raises(ValueError, match="n_top"):
        plot_selected_candidates(results, X, n_top=0)


def test_prediction_patterns():
    P = np.stack([np.full(8, 0.5), np.r_[np.zeros(4), np.ones(4)]])
    P3 = np.stack([1 - P, P], axis=-1)
    fig = plot_prediction_patterns(P3, names=["A", "C"])
    assert [ax.get_title() for ax in fig.axes] == ["A", "C"]
    heights = [p.get_height() for p in fig.axes[1].patches]
    assert heights[0] == 4 and heights[-1] == 4 and sum(heights) == 8
    with pytest.raises(ValueError, match="shape"):
        plot_prediction_patterns(np.zeros(3))
    with pytest.raises(ValueError, match="names"):
        plot_prediction_patterns(P, names=["A"])
