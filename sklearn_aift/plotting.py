"""Figures of a simulated annotation: learning curves, label balance, prediction patterns.

The paper's figures, drawn from a :class:`~sklearn_aift.experiment.ResultsTable`:
learning curves with a band over seeds (Figs. 3, 5, 8), the positives and
negatives among the candidates each method selected per round (Fig. 9), and the
top candidates of each method in one round with their patches and the
histogram of their patch predictions (Table 1, Fig. 10).

Every function returns the :class:`matplotlib.figure.Figure` and, when ``path``
is given, also saves it (PNG unless the suffix says otherwise). Nothing is
shown: the functions work with any backend, including Agg on a headless
machine.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .candidates import materialize
from .experiment import AIFT_METHODS, PEER_METHODS, ResultsTable, method_label
from .utils import check_int

__all__ = [
    "plot_learning_curves",
    "plot_prediction_patterns",
    "plot_selected_candidates",
    "plot_selection_balance",
    "warn_small_test_set",
]

#: Below this many test candidates a candidate-level AUC is too coarse to
#: compare methods (one candidate moves it by several hundredths or more).
MIN_TEST_CANDIDATES = 30

# Methods whose queries are random draws: their picks are not "top candidates"
# and their strategy scores rank nothing.
_RANDOM_METHODS = frozenset({"ift_random", "scratch"})
# Metrics that live in [0, 1]: their axis never goes beyond.
_UNIT_METRICS = frozenset({"auc", "accuracy", "full_data_auc"})

# One colour per method, the same in every figure.
_COLORS = {
    "diversity_quarter": "tab:red",
    "diversity": "tab:orange",
    "entropy_quarter": "tab:blue",
    "entropy": "tab:cyan",
    "entropy_diversity_quarter": "tab:green",
    "entropy_diversity": "tab:olive",
    "ift_random": "black",
    "scratch": "tab:gray",
    "mean_uncertainty": "tab:purple",
}
_POSITIVE_COLOR = "tab:blue"
_NEGATIVE_COLOR = "gold"


# Colours of the other methods (batch-aware variants, peers), none of the above.
_OTHER_COLORS = ("tab:brown", "tab:pink", "teal", "navy", "goldenrod", "lime", "indigo",
                 "salmon", "darkkhaki", "deepskyblue", "maroon", "slategray")


def _style(method: str, index: int) -> dict[str, Any]:
    color = _COLORS.get(method, _OTHER_COLORS[index % len(_OTHER_COLORS)])
    if method in AIFT_METHODS and not method.endswith("_quarter"):
        linestyle = "--"
    elif method == "scratch":
        linestyle = ":"
    elif method in PEER_METHODS:
        linestyle = "-."
    else:
        linestyle = "-"
    return {"color": color, "linestyle": linestyle}


def _new_figure(figsize: tuple[float, float]):
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize)


def _finish(fig, path: str | os.PathLike | None):
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def _check_results(results: Any) -> ResultsTable:
    if isinstance(results, ResultsTable):
        if not len(results):
            raise ValueError("results is empty: there is nothing to plot.")
        return results
    raise TypeError(
        f"results must be a ResultsTable (from run_comparison or ResultsTable.read_json); "
        f"got {type(results).__name__}."
    )


def _check_methods(results: ResultsTable, methods: Sequence[str] | None) -> list[str]:
    if methods is None:
        return results.methods
    methods = list(methods)
    unknown = [m for m in methods if m not in results.methods]
    if unknown:
        raise ValueError(
            f"methods {unknown} are not in the results; they hold {results.methods}."
        )
    return methods


def warn_small_test_set(
    n_test: int, *, minimum: int = MIN_TEST_CANDIDATES, stacklevel: int = 2
) -> bool:
    """Warn that an AUC measured on fewer than ``minimum`` test candidates means little.

    With 9 test candidates an AUC of 1.0 is one lucky ordering of 9 numbers;
    differences between methods measured on such a set are noise. Call this
    wherever such an AUC is shown to a user (:func:`plot_learning_curves`
    does, when the results record ``n_test``).

    Parameters
    ----------
    n_test : int
        Candidates in the test set the metric was measured on.
    minimum : int, default=30
        The smallest test set that does not warn.
    stacklevel : int, default=2
        Passed to :func:`warnings.warn`: 2 names the caller's line, 3 its
        caller's.

    Returns
    -------
    warned : bool
        True when the warning was issued.

    Raises
    ------
    ValueError
        If ``n_test`` is not a non-negative integer or ``minimum`` not a
        positive one.

    Warns
    -----
    UserWarning
        When ``n_test < minimum``, naming both numbers.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_aift.plotting import warn_small_test_set
    >>> warn_small_test_set(120)
    False
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_small_test_set(9)
    True
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    the test set holds only 9 candidates (fewer than 30): its AUC ...
    """
    check_int(n_test, "n_test", min_value=0)
    check_int(minimum, "minimum")
    if n_test >= minimum:
        return False
    warnings.warn(
        f"the test set holds only {n_test} candidates (fewer than {minimum}): its AUC and "
        f"accuracy change by 1/{max(n_test, 1)} or more with a single candidate, so they "
        f"cannot tell methods apart; hold out more candidates for testing.",
        UserWarning,
        stacklevel=stacklevel,
    )
    return True


def _warn_if_small_test_set(results: ResultsTable) -> None:
    sizes = [int(row["n_test"]) for row in results.rows if row.get("n_test") is not None]
    if sizes:
        warn_small_test_set(min(sizes), stacklevel=4)  # points at the plotting call


def _integer_ticks(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def plot_learning_curves(
    results: ResultsTable,
    metric: str = "auc",
    *,
    methods: Sequence[str] | None = None,
    band: str = "std",
    ax: Any = None,
    title: str | None = None,
    path: str | os.PathLike | None = None,
):
    """Metric against labels queried, one line per method, with a band over seeds.

    The paper's Figs. 3, 5 and 8: the mean over seeds as a line and, when
    there are several seeds, a shaded band. Rows of round 0 (``n_labels``
    0: the pretrained model M0 before any label), when the results have
    them, are the curves' first points. The label axis has integer ticks;
    the axis of a metric in [0, 1] (AUC, accuracy) never goes beyond 1.

    Parameters
    ----------
    results : ResultsTable
        Output of :func:`~sklearn_aift.experiment.run_comparison`.
    metric : str, default="auc"
        The column on the y axis (``"auc"``, ``"accuracy"``, ...).
    methods : sequence of str, default=None
        Methods to draw, in this order; None draws all.
    band : {"std", "minmax", "none"}, default="std"
        The band: mean ± one standard deviation, the range over seeds, or none.
    ax : matplotlib Axes, default=None
        Axes to draw into; a new figure when None.
    title : str, default=None
        The axes title.
    path : str or path-like, default=None
        When given, the figure is saved there.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding the axes.

    Raises
    ------
    ValueError
        If ``results`` is empty, a method is missing or ``band`` is unknown.

    Warns
    -----
    UserWarning
        When the rows record an ``n_test`` below 30 (see
        :func:`warn_small_test_set`).

    Examples
    --------
    >>> from sklearn_aift.experiment import ResultsTable
    >>> from sklearn_aift.plotting import plot_learning_curves
    >>> t = ResultsTable([{"method": m, "seed": s, "round": r, "n_labels": 10 * r,
    ...                    "auc": 0.5 + 0.1 * r + 0.02 * s}
    ...                   for m in ("diversity_quarter", "ift_random")
    ...                   for s in (0, 1) for r in (1, 2, 3)])
    >>> fig = plot_learning_curves(t)
    >>> len(fig.axes[0].get_lines())
    2
    """
    results = _check_results(results)
    methods = _check_methods(results, methods)
    if band not in ("std", "minmax", "none"):
        raise ValueError(f"band must be 'std', 'minmax' or 'none'; got {band!r}.")
    if ax is None:
        fig = _new_figure((6.4, 4.4))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    if metric == "auc":
        _warn_if_small_test_set(results.select(method=methods))
    bounded = metric in _UNIT_METRICS
    for i, method in enumerate(methods):
        labels, values = results.curve(method, metric)
        with np.errstate(all="ignore"):
            mean = np.nanmean(values, axis=0)
        style = _style(method, i)
        ax.plot(labels, mean, marker="o", markersize=3, label=method_label(method), **style)
        if values.shape[0] > 1 and band != "none":
            with np.errstate(all="ignore"):
                if band == "std":
                    std = np.nanstd(values, axis=0)
                    low, high = mean - std, mean + std
                else:
                    low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
            if bounded:  # mean + std of AUCs near 1 would otherwise draw above 1
                low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
            ax.fill_between(labels, low, high, color=style["color"], alpha=0.15, linewidth=0)
    n_seeds = len(results.select(method=methods).seeds)
    _integer_ticks(ax.xaxis)
    if bounded:
        bottom, top = ax.get_ylim()
        ax.set_ylim(max(bottom, 0.0), min(top, 1.0))
    ax.set_xlabel("labels queried")
    ax.set_ylabel(metric.upper() if metric == "auc" else metric.replace("_", " "))
    ax.set_title(title if title is not None else f"{metric.upper()} vs labels ({n_seeds} seeds)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    return _finish(fig, path)


def plot_selection_balance(
    results: ResultsTable,
    *,
    methods: Sequence[str] | None = None,
    seed: int | None = None,
    path: str | os.PathLike | None = None,
):
    """Positives and negatives among the candidates each method queried, per round.

    The paper's Fig. 9: one panel per method, one stacked bar per round
    (positives at the bottom, negatives on top), averaged over seeds unless
    ``seed`` picks one.

    Parameters
    ----------
    results : ResultsTable
        Output of :func:`~sklearn_aift.experiment.run_comparison` (needs the
        ``n_positive`` and ``n_negative`` columns).
    methods : sequence of str, default=None
        Panels to draw, in this order; None draws all.
    seed : int, default=None
        Show one seed instead of the mean over seeds.
    path : str or path-like, default=None
        When given, the figure is saved there.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes per method.

    Raises
    ------
    ValueError
        If ``results`` is empty, lacks the count columns, or a method or the
        seed is missing.

    Examples
    --------
    >>> from sklearn_aift.experiment import ResultsTable
    >>> from sklearn_aift.plotting import plot_selection_balance
    >>> t = ResultsTable([{"method": m, "seed": 0, "round": r, "n_labels": 4 * r,
    ...                    "n_positive": r, "n_negative": 4 - r}
    ...                   for m in ("entropy", "ift_random") for r in (1, 2, 3)])
    >>> fig = plot_selection_balance(t)
    >>> len(fig.axes), len(fig.axes[0].patches)
    (2, 6)
    """
    results = _check_results(results)
    methods = _check_methods(results, methods)
    for column in ("n_positive", "n_negative"):
        if column not in results.columns:
            raise ValueError(f"results lacks the {column!r} column needed for this plot.")
    if seed is not None:
        if seed not in results.seeds:
            raise ValueError(f"seed={seed!r} is not in the results; they hold {results.seeds}.")
        results = results.select(seed=seed)
    # round 0 (M0, before any query) queried nothing: it has no bar
    results = ResultsTable(row for row in results.rows if row["round"] >= 1)
    n = len(methods)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = _new_figure((4.0 * ncols, 2.8 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, method in enumerate(methods):
        ax = axes[i // ncols][i % ncols]
        _, pos = results.curve(method, "n_positive")
        _, neg = results.curve(method, "n_negative")
        rounds = np.array(sorted({row["round"] for row in results.select(method=method)}))
        with np.errstate(all="ignore"):
            pos_mean, neg_mean = np.nanmean(pos, axis=0), np.nanmean(neg, axis=0)
        ax.bar(rounds, pos_mean, color=_POSITIVE_COLOR, label="positive")
        ax.bar(rounds, neg_mean, bottom=pos_mean, color=_NEGATIVE_COLOR, label="negative")
        ax.set_title(method_label(method), fontsize="medium")
        ax.set_xlabel("round")
        ax.set_ylabel("candidates queried")
        _integer_ticks(ax.xaxis)
        _integer_ticks(ax.yaxis)
    for j in range(n, nrows * ncols):
        fig.delaxes(axes[j // ncols][j % ncols])
    axes[0][0].legend(fontsize="small")
    which = f"seed {seed}" if seed is not None else "mean over seeds"
    fig.suptitle(f"Positives/negatives among the queried candidates ({which})")
    fig.tight_layout()
    return _finish(fig, path)


def _montage(patches: np.ndarray, max_patches: int) -> np.ndarray:
    """Tile (m, C, H, W) patches into one (rows*H, cols*W, 3) float image."""
    patches = patches[:max_patches]
    if patches.dtype == np.uint8:
        patches = patches.astype(np.float32) / 255.0
    patches = np.asarray(patches, dtype=np.float32)
    if patches.shape[1] == 1:
        patches = np.repeat(patches, 3, axis=1)
    k, _, h, w = patches.shape
    cols = math.ceil(math.sqrt(k))
    rows = math.ceil(k / cols)
    gap = 1
    image = np.ones((rows * (h + gap) - gap, cols * (w + gap) - gap, 3), dtype=np.float32)
    for i in range(k):
        r, c = divmod(i, cols)
        image[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = (
            patches[i].transpose(1, 2, 0)
        )
    return image


def _hist(ax, probabilities: np.ndarray, color: str) -> None:
    ax.hist(probabilities, bins=10, range=(0.0, 1.0), color=color, edgecolor="white")
    ax.set_xlim(0, 1)
    ax.set_yticks([])
    ax.tick_params(labelsize="x-small")


def plot_selected_candidates(
    results: ResultsTable,
    X: Any,
    y: Any = None,
    *,
    round: int | None = None,
    seed: int | None = None,
    methods: Sequence[str] | None = None,
    n_top: int = 5,
    max_patches: int = 16,
    path: str | os.PathLike | None = None,
):
    """The candidates each method queried in one round, their patches and prediction patterns.

    The paper's Fig. 10 (and the patterns of Table 1): for each method one
    row; for each of its ``n_top`` best-ranked candidates of that round a
    tile of its patches and, below it, the histogram of the current model's
    positive-class predictions for all its patches (the candidate's
    *prediction pattern*). Titles give the candidate's pool index and its
    strategy score ``s``; with ``y`` they are red for positive candidates and
    blue for negative ones, as in the paper; a legend under the title says
    so. Methods that query at random (IFT Random, Learning from Scratch)
    have no top candidates: their row shows the random picks, without scores.

    Parameters
    ----------
    results : ResultsTable
        Output of :func:`~sklearn_aift.experiment.run_comparison`, with the
        ``patch_proba`` column recorded for the round (see its
        ``patch_proba_rounds`` parameter).
    X : ndarray or CandidateSet
        The pool the run queried from (indices in ``results`` refer to it).
    y : array-like of shape (n_candidates,), default=None
        The pool's labels, to colour titles by class (positive = the greater
        label).
    round : int, default=None
        The round; None takes the earliest round with recorded predictions.
    seed : int, default=None
        The seed; None takes the smallest seed.
    methods : sequence of str, default=None
        Methods to show; None shows all methods with recorded predictions.
    n_top : int, default=5
        Candidates per method.
    max_patches : int, default=16
        Patches shown per candidate (the histogram always uses all of them).
    path : str or path-like, default=None
        When given, the figure is saved there.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Two axes (patch tile, histogram) per shown candidate.

    Raises
    ------
    ValueError
        If no predictions were recorded for that round and seed, or ``n_top`` or
        ``max_patches`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.experiment import ResultsTable
    >>> from sklearn_aift.plotting import plot_selected_candidates
    >>> X = np.random.default_rng(0).integers(0, 255, (6, 4, 3, 8, 8), dtype=np.uint8)
    >>> t = ResultsTable([{"method": "entropy", "seed": 0, "round": 1, "n_labels": 2,
    ...                    "queried": [3, 1], "scores": [0.9, 0.5],
    ...                    "patch_proba": [[0.5, 0.4, 0.6, 0.5], [0.1, 0.9, 0.2, 0.8]]}])
    >>> fig = plot_selected_candidates(t, X, y=[0, 1, 0, 1, 0, 1])
    >>> len(fig.axes)
    4
    """
    results = _check_results(results)
    check_int(n_top, "n_top")
    check_int(max_patches, "max_patches")
    if seed is None:
        seed = results.seeds[0]
    recorded = [
        r for r in results.select(seed=seed)
        if r.get("patch_proba") is not None and r.get("queried") is not None
    ]
    if round is None:
        if not recorded:
            raise ValueError(
                f"no round of seed {seed} has recorded patch predictions; pass "
                f"patch_proba_rounds to run_comparison."
            )
        round = min(r["round"] for r in recorded)
    rows = {r["method"]: r for r in recorded if r["round"] == round}
    if methods is None:
        methods = [m for m in results.methods if m in rows]
    missing = [m for m in methods if m not in rows]
    if missing or not methods:
        available = sorted({r["round"] for r in recorded})
        raise ValueError(
            f"no patch predictions recorded for methods {missing or '(any)'} in round {round} "
            f"of seed {seed}; rounds with predictions: {available}."
        )
    y = None if y is None else np.asarray(y)
    positive = None if y is None else np.unique(y)[-1]
    n_cols = min(n_top, max(len(rows[m]["queried"]) for m in methods))
    height = 3.4 * len(methods) + 0.6  # inches; the top 0.9 hold the title and the legend
    fig = _new_figure((1.9 * n_cols + 1.6, height))
    grid = fig.add_gridspec(2 * len(methods), n_cols, height_ratios=[2.2, 1.0] * len(methods),
                            hspace=0.55, wspace=0.25, left=0.1, right=0.98,
                            top=1 - 0.9 / height, bottom=0.04)
    for i, method in enumerate(methods):
        row = rows[method]
        random_picks = method in _RANDOM_METHODS
        queried = np.asarray(row["queried"], dtype=np.intp)[:n_cols]
        proba = [np.asarray(p, dtype=np.float64) for p in row["patch_proba"][:n_cols]]
        scores = [] if random_picks else list(row.get("scores") or [])[:n_cols]
        patches = materialize(X, queried)
        for j, index in enumerate(queried):
            ax_img = fig.add_subplot(grid[2 * i, j])
            ax_img.imshow(_montage(patches[j], max_patches), interpolation="nearest")
            ax_img.set_xticks([])
            ax_img.set_yticks([])
            color = "black"
            if y is not None:
                color = "tab:red" if y[index] == positive else "tab:blue"
            score = f" s={scores[j]:.2f}" if j < len(scores) and scores[j] is not None else ""
            ax_img.set_title(f"#{index}{score}", fontsize="x-small", color=color)
            if j == 0:
                label = method_label(method).replace(" (", "\n(")
                label += "\n(random picks)" if random_picks else ""
                ax_img.set_ylabel(label, fontsize="small")
            ax_hist = fig.add_subplot(grid[2 * i + 1, j])
            _hist(ax_hist, proba[j] if j < len(proba) else np.array([]), color)
    if all(m in _RANDOM_METHODS for m in methods):
        shown = "Random picks"
    elif any(m in _RANDOM_METHODS for m in methods):
        shown = "Top candidates and random picks"
    else:
        shown = "Top candidates"
    fig.suptitle(f"{shown} queried in round {round} (seed {seed}) and their patch predictions",
                 y=1 - 0.08 / height, va="top")
    _selected_candidates_legend(fig, top=1 - 0.3 / height, with_classes=y is not None,
                                with_scores=any(m not in _RANDOM_METHODS for m in methods))
    return _finish(fig, path)


def _selected_candidates_legend(fig, *, top: float, with_classes: bool, with_scores: bool) -> None:
    """What the title colours and ``s=`` of :func:`plot_selected_candidates` mean."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = []
    if with_classes:
        handles += [
            Patch(color="tab:red", label="positive candidate"),
            Patch(color="tab:blue", label="negative candidate"),
        ]
    if with_scores:
        handles.append(Line2D([], [], linestyle="none", label="#i s=x: pool index i, "
                              "strategy score x (higher = queried first)"))
    handles.append(Line2D([], [], linestyle="none",
                          label="histogram: the candidate's patch predictions, 0 to 1"))
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, top),
               ncol=min(len(handles), 2), fontsize="x-small", frameon=False,
               handlelength=1.0 if with_classes else 0.0)


def plot_prediction_patterns(
    patch_proba: Any,
    names: Sequence[str] | None = None,
    *,
    ncols: int = 4,
    path: str | os.PathLike | None = None,
):
    """Histograms of patch predictions, one panel per candidate (the paper's Table 1).

    Parameters
    ----------
    patch_proba : array-like of shape (n, m) or (n, m, K)
        Patch probabilities; with a class axis the last class (the positive
        one for binary problems) is drawn.
    names : sequence of str, default=None
        Panel titles (e.g. ``"Pattern A"``); the candidate index when None.
    ncols : int, default=4
        Panels per row.
    path : str or path-like, default=None
        When given, the figure is saved there.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes per candidate.

    Raises
    ------
    ValueError
        If ``patch_proba`` is not 2-D or 3-D, or ``names`` has the wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.plotting import plot_prediction_patterns
    >>> P = np.array([[0.45, 0.5, 0.55, 0.5], [0.05, 0.95, 0.1, 0.9]])
    >>> fig = plot_prediction_patterns(P, names=["Pattern A", "Pattern C"])
    >>> [ax.get_title() for ax in fig.axes]
    ['Pattern A', 'Pattern C']
    """
    P = np.asarray(patch_proba, dtype=np.float64)
    if P.ndim == 3:
        P = P[..., -1]
    if P.ndim != 2:
        raise ValueError(
            f"patch_proba must have shape (n, m) or (n, m, K); got shape {np.shape(patch_proba)}."
        )
    if names is not None and len(names) != len(P):
        raise ValueError(f"names has {len(names)} entries for {len(P)} candidates.")
    check_int(ncols, "ncols")
    ncols = min(int(ncols), len(P))
    nrows = math.ceil(len(P) / ncols)
    fig = _new_figure((2.4 * ncols, 1.9 * nrows))
    for i, p in enumerate(P):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        _hist(ax, p, "tab:blue")
        ax.set_title(names[i] if names is not None else f"candidate {i}", fontsize="small")
    fig.tight_layout()
    return _finish(fig, path)
