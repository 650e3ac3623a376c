"""Plots of a simulated annotation, drawn from hand-made results."""

import warnings

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
    warn_small_test_set,
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


def _is_integer(values):
    return all(float(v).is_integer() for v in values)


def _with_m0(results, auc=0.55):
    """Add the runner's round-0 rows (M0: no labels, an AUC, nothing queried)."""
    rows = [dict(r) for r in results.rows]
    for method in results.methods:
        for seed in results.seeds:
            rows.append({"method": method, "seed": seed, "round": 0, "n_labels": 0, "auc": auc})
    return ResultsTable(rows)


def test_learning_curves_integer_label_ticks_and_auc_axis_at_most_1():
    rows = [
        {"method": m, "seed": s, "round": r, "n_labels": r, "auc": min(1.0, 0.9 + 0.05 * r * s)}
        for m in ("entropy", "ift_random") for s in (0, 1, 2) for r in (1, 2, 3)
    ]
    ax = plot_learning_curves(ResultsTable(rows)).axes[0]
    assert _is_integer(ax.get_xticks())  # 3 budgets of 1, 2, 3 labels: no 1.5 ticks
    assert ax.get_ylim()[1] <= 1.0  # mean + std reaches 1.07 here
    band_tops = [path.vertices[:, 1].max() for c in ax.collections for path in c.get_paths()]
    assert max(band_tops) <= 1.0


def test_learning_curves_start_at_m0_when_the_results_have_it():
    ax = plot_learning_curves(_with_m0(_results())).axes[0]
    line = ax.get_lines()[1]
    np.testing.assert_allclose(line.get_xdata(), [0, 5, 10, 15, 20])
    assert line.get_ydata()[0] == pytest.approx(0.55)
    # without round 0 the curves start at the first budget, as before
    assert plot_learning_curves(_results()).axes[0].get_lines()[0].get_xdata()[0] == 5


def test_selection_balance_integer_ticks_and_no_bar_for_m0():
    results = _with_m0(_results(methods=("entropy",), rounds=3))
    ax = plot_selection_balance(results).axes[0]
    assert len(ax.patches) == 6  # rounds 1..3, positives and negatives; round 0 queried nothing
    assert sorted({b.get_x() + b.get_width() / 2 for b in ax.patches}) == [1, 2, 3]
    assert _is_integer(ax.get_xticks()) and _is_integer(ax.get_yticks())


def _selected_rows(methods):
    rng = np.random.default_rng(1)
    return ResultsTable([
        {"method": m, "seed": 0, "round": 1, "n_labels": 3, "queried": [2, 5, 7],
         "scores": [0.9, 0.4, 0.1], "patch_proba": rng.random((3, 6)).tolist()}
        for m in methods
    ])


def _texts(fig):
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_selected_candidates_legend_explains_colours_and_scores():
    X = np.zeros((10, 6, 3, 8, 8), np.uint8)
    fig = plot_selected_candidates(_selected_rows(["entropy"]), X, y=np.arange(10) % 2)
    texts = _texts(fig)
    assert "positive candidate" in texts and "negative candidate" in texts
    assert any("s=" in t and "strategy score" in t for t in texts)
    assert fig._suptitle.get_text().startswith("Top candidates queried in round 1")
    # without labels the titles are black: no class legend
    texts = _texts(plot_selected_candidates(_selected_rows(["entropy"]), X))
    assert "positive candidate" not in texts and any("strategy score" in t for t in texts)


def test_random_picks_are_not_called_top_candidates():
    X = np.zeros((10, 6, 3, 8, 8), np.uint8)
    fig = plot_selected_candidates(_selected_rows(["ift_random"]), X, y=np.arange(10) % 2)
    title = fig._suptitle.get_text()
    assert title.startswith("Random picks queried in round 1") and "Top" not in title
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["#2", "#5", "#7"]  # a random draw's "score" ranks nothing
    assert "random picks" in fig.axes[0].get_ylabel()
    assert not any("strategy score" in t for t in _texts(fig))
    mixed = plot_selected_candidates(_selected_rows(["entropy", "scratch"]), X)
    assert mixed._suptitle.get_text().startswith("Top candidates and random picks")
    labels = [ax.get_ylabel() for ax in mixed.axes if ax.get_ylabel()]
    assert "random picks" not in labels[0] and "random picks" in labels[1]


def test_warn_small_test_set():
    with pytest.warns(UserWarning, match="only 9 candidates .fewer than 30."):
        assert warn_small_test_set(9) is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_small_test_set(30) is False
        assert warn_small_test_set(12, minimum=10) is False
    for bad in (-1, 2.5, True, "9"):
        with pytest.raises(ValueError, match="n_test must be a non-negative integer"):
            warn_small_test_set(bad)


def test_learning_curves_warn_when_the_rows_record_a_small_test_set():
    rows = [dict(r, n_test=9) for r in _results().rows]
    with pytest.warns(UserWarning, match="only 9 candidates") as record:
        plot_learning_curves(ResultsTable(rows))
    assert record[0].filename == __file__  # points at the caller, not into the library
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_learning_curves(ResultsTable([dict(r, n_test=120) for r in _results().rows]))
        plot_learning_curves(_results())  # no n_test recorded: nothing to say
