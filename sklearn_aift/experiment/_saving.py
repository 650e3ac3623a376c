"""Annotation saving: labels each method needs to reach a target, and text tables."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from ._methods import method_label
from ._results import ResultsTable, _to_float

# ---------------------------------------------------------------------------
# Annotation saving
# ---------------------------------------------------------------------------


def _first_reach(labels: np.ndarray, values: np.ndarray, target: float) -> float:
    hit = np.flatnonzero(np.nan_to_num(values, nan=-np.inf) >= target)
    return float(labels[hit[0]]) if hit.size else float("nan")


def annotation_saving(
    results: ResultsTable,
    target: float | None = None,
    reference: str = "ift_random",
    *,
    full_data_fraction: float | None = None,
    metric: str = "auc",
) -> list[dict[str, Any]]:
    """Labels each method needs to reach a target AUC, and the saving over a reference.

    The paper's headline measure (sec. 4): AIFT reaches the performance that
    IFT Random reaches with all its labels with a fraction of them. A method's
    *labels needed* is the number of labels at the first round where its mean
    curve (mean over seeds) reaches the target; per seed, the same on that
    seed's curve gives the spread. The *saving* is ``1 - labels_needed /
    full_budget``, the share of the full budget (the reference's largest
    number of labels) it spares; the reference's own labels needed are
    reported too (random's curve may reach its final mean before the end).

    Parameters
    ----------
    results : ResultsTable
        Output of :func:`run_comparison` (or any table with ``method``, ``seed``,
        ``round``, ``n_labels`` and the metric).
    target : float, default=None
        The metric value to reach. None: the reference method's mean metric at
        its full budget (its last round). Ignored when ``full_data_fraction``
        is given.
    reference : str, default="ift_random"
        The method savings are measured against.
    full_data_fraction : float in (0, 1], default=None
        When given, the target is this fraction of the mean ``full_data_auc``
        (fine-tuning on the whole labeled pool, measured once per seed by
        ``run_comparison(full_data=True)``).
    metric : str, default="auc"
        The column to use.

    Returns
    -------
    savings : list of dict
        One dict per method (table order) with keys ``method``, ``target``,
        ``labels_needed`` (from the mean curve; NaN if never reached),
        ``labels_per_seed`` (list, NaN where that seed never reached it),
        ``labels_mean``/``labels_std`` (over the seeds that reached it),
        ``n_seeds_reached``, ``n_seeds``, ``reference_labels`` (the reference's
        ``labels_needed``), ``full_budget``, ``saving`` (``1 - labels_needed /
        full_budget``, NaN when never reached), ``saving_per_seed`` (per seed)
        and ``saving_std``.

    Raises
    ------
    ValueError
        If the reference method is missing, ``full_data_fraction`` is outside
        (0, 1] or the table has no ``full_data_auc``, or the target is not finite.

    Examples
    --------
    >>> from sklearn_aift.experiment import ResultsTable, annotation_saving
    >>> rows = []
    >>> for seed in (0, 1):
    ...     for r, (a, b) in enumerate([(0.6, 0.80), (0.7, 0.90), (0.8, 0.92)], start=1):
    ...         rows.append({"method": "ift_random", "seed": seed, "round": r,
    ...                      "n_labels": 10 * r, "auc": a})
    ...         rows.append({"method": "diversity_quarter", "seed": seed, "round": r,
    ...                      "n_labels": 10 * r, "auc": b})
    >>> res = {d["method"]: d for d in annotation_saving(ResultsTable(rows))}
    >>> res["ift_random"]["labels_needed"], res["diversity_quarter"]["labels_needed"]
    (30.0, 10.0)
    >>> round(res["diversity_quarter"]["saving"], 3), res["ift_random"]["saving"]
    (0.667, 0.0)
    """
    if not isinstance(results, ResultsTable):
        results = ResultsTable(results)
    if reference not in results.methods:
        raise ValueError(
            f"reference={reference!r} is not in the results; they hold {results.methods}."
        )
    if full_data_fraction is not None:
        if not (isinstance(full_data_fraction, (int, float)) and 0 < full_data_fraction <= 1):
            raise ValueError(
                f"full_data_fraction must be a number in (0, 1]; got {full_data_fraction!r}."
            )
        full = {}
        for row in results:
            value = _to_float(row.get("full_data_auc"))
            if math.isfinite(value):
                full[row["seed"]] = value
        if not full:
            raise ValueError(
                "full_data_fraction needs the 'full_data_auc' column; run "
                "run_comparison(..., full_data=True) to measure it."
            )
        target = float(full_data_fraction) * float(np.mean(list(full.values())))
    elif target is None:
        _, ref_values = results.curve(reference, metric)
        target = float(np.nanmean(ref_values[:, -1]))
    target = float(target)
    if not math.isfinite(target):
        raise ValueError(f"target must be a finite number; got {target!r}.")

    def reach(method: str) -> tuple[float, dict[int, float]]:
        labels, values = results.curve(method, metric)
        seeds = sorted({r["seed"] for r in results.rows if r["method"] == method})
        with np.errstate(all="ignore"):
            mean_curve = np.nanmean(values, axis=0)
        per_seed = {s: _first_reach(labels, values[i], target) for i, s in enumerate(seeds)}
        return _first_reach(labels, mean_curve, target), per_seed

    ref_labels, _ = reach(reference)
    full_budget = float(results.curve(reference, metric)[0].max())
    out = []
    for method in results.methods:
        needed, per_seed = reach(method)
        reached = np.array([v for v in per_seed.values() if math.isfinite(v)])
        saving_seed = [
            1.0 - v / full_budget if math.isfinite(v) else float("nan") for v in per_seed.values()
        ]
        finite_savings = [v for v in saving_seed if math.isfinite(v)]
        out.append(
            {
                "method": method,
                "target": target,
                "labels_needed": needed,
                "labels_per_seed": list(per_seed.values()),
                "labels_mean": float(reached.mean()) if reached.size else float("nan"),
                "labels_std": float(reached.std()) if reached.size else float("nan"),
                "n_seeds_reached": int(reached.size),
                "n_seeds": len(per_seed),
                "reference": reference,
                "reference_labels": ref_labels,
                "full_budget": full_budget,
                "saving": 1.0 - needed / full_budget if math.isfinite(needed) else float("nan"),
                "saving_per_seed": saving_seed,
                "saving_std": float(np.std(finite_savings)) if finite_savings else float("nan"),
            }
        )
    return out


# ---------------------------------------------------------------------------
# Text tables
# ---------------------------------------------------------------------------


def _fmt(value: float, digits: int = 3) -> str:
    return "-" if not math.isfinite(value) else f"{value:.{digits}f}"


def format_metric_table(
    results: ResultsTable,
    budgets: Sequence[int] | None = None,
    *,
    metric: str = "auc",
    methods: Sequence[str] | None = None,
    markdown: bool = False,
) -> str:
    """A text table of the mean metric (± std over seeds) per method and label budget.

    Parameters
    ----------
    results : ResultsTable
        The results.
    budgets : sequence of int, default=None
        Label counts to show (columns); each must be a budget some round
        reached. None shows every round.
    metric : str, default="auc"
        The column to tabulate.
    methods : sequence of str, default=None
        Rows to show, in this order; None shows every method of the table.
    markdown : bool, default=False
        Write a Markdown table instead of aligned plain text.

    Returns
    -------
    table : str
        One line per method (after a header); cells read ``mean ± std``, ``-``
        where the method has no round with that many labels.

    Examples
    --------
    >>> from sklearn_aift.experiment import ResultsTable, format_metric_table
    >>> t = ResultsTable([{"method": "ift_random", "seed": s, "round": 1, "n_labels": 10,
    ...                    "auc": 0.7 + 0.1 * s} for s in (0, 1)])
    >>> print(format_metric_table(t))
    method      10 labels
    IFT Random  0.750 ± 0.050
    """
    methods = list(results.methods if methods is None else methods)
    curves = {m: results.curve(m, metric) for m in methods if m in results.methods}
    if budgets is None:
        budgets = sorted({int(n) for labels, _ in curves.values() for n in labels})
    header = ["method"] + [f"{b} labels" for b in budgets]
    body = []
    for m in methods:
        cells = [method_label(m)]
        for b in budgets:
            if m not in curves:
                cells.append("-")
                continue
            labels, values = curves[m]
            hit = np.flatnonzero(labels == b)
            if not hit.size:
                cells.append("-")
                continue
            col = values[:, hit[0]]
            col = col[np.isfinite(col)]
            cells.append(
                "-" if not col.size else f"{col.mean():.3f} ± {col.std():.3f}"
            )
        body.append(cells)
    return _render(header, body, markdown)


def format_saving_table(savings: Sequence[Mapping[str, Any]], *, markdown: bool = False) -> str:
    """A text table of :func:`annotation_saving` output.

    Parameters
    ----------
    savings : sequence of dict
        Output of :func:`annotation_saving`.
    markdown : bool, default=False
        Write a Markdown table instead of aligned plain text.

    Returns
    -------
    table : str
        One line per method: labels needed (mean curve), per-seed mean ± std and
        how many seeds reached the target, and the saving against the reference.

    Examples
    --------
    >>> from sklearn_aift.experiment import format_saving_table
    >>> print(format_saving_table([{"method": "ift_random", "target": 0.8,
    ...     "labels_needed": 30.0, "labels_mean": 30.0, "labels_std": 0.0,
    ...     "n_seeds_reached": 2, "n_seeds": 2, "saving": 0.0, "saving_std": 0.0}]))
    method      labels to AUC 0.800  per seed (reached)  saving
    IFT Random  30                   30.0 ± 0.0 (2/2)    0% ± 0%
    """
    if not savings:
        return ""
    target = savings[0]["target"]
    budget = savings[0].get("full_budget")
    saving_head = "saving" if budget is None else f"saving of {budget:.0f}"
    header = ["method", f"labels to AUC {target:.3f}", "per seed (reached)", saving_head]
    body = []
    for s in savings:
        needed = s["labels_needed"]
        per_seed = (
            f"{s['labels_mean']:.1f} ± {s['labels_std']:.1f}"
            if math.isfinite(s["labels_mean"])
            else "-"
        )
        saving = (
            f"{100 * s['saving']:.0f}% ± {100 * s['saving_std']:.0f}%"
            if math.isfinite(s["saving"])
            else "-"
        )
        if math.isfinite(s["saving"]) and not math.isfinite(s["saving_std"]):
            saving = f"{100 * s['saving']:.0f}%"
        body.append(
            [
                method_label(s["method"]),
                "not reached" if not math.isfinite(needed) else f"{needed:.0f}",
                f"{per_seed} ({s['n_seeds_reached']}/{s['n_seeds']})",
                saving,
            ]
        )
    return _render(header, body, markdown)


def _render(header: list[str], body: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
        for row in [header] + body
    )


