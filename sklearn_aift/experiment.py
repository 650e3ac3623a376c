"""Simulated annotation: compare AIFT with its baselines against an oracle.

The paper's evaluation (Zhou et al., CVPR 2017, sec. 4, Figs. 3, 5 and 8)
starts every method from an empty labeled set, lets it query ``b`` candidates
per round from a training pool whose labels an oracle knows, fine-tunes, and
measures the candidate-level AUC on a held-out test set after every round.
:func:`run_comparison` does exactly that for any of the methods in
:data:`METHODS` over several seeds, storing every (method, seed, round) result
as soon as it is made so that an interrupted run continues where it stopped.
:class:`ResultsTable` holds the tidy results (one row per method, seed and
round) and :func:`annotation_saving` turns them into the paper's headline
figure: how many labels each method needs to reach a target AUC.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

__all__ = [
    "METHODS",
    "AIFT_METHODS",
    "ResultsTable",
    "annotation_saving",
    "format_metric_table",
    "format_saving_table",
    "method_label",
    "run_comparison",
]

logger = logging.getLogger(__name__)

#: The six AIFT variants of the paper, in the order of its figures.
AIFT_METHODS: tuple[str, ...] = (
    "diversity_quarter",
    "diversity",
    "entropy_quarter",
    "entropy",
    "entropy_diversity_quarter",
    "entropy_diversity",
)

#: Every method :func:`run_comparison` knows: the six AIFT variants, IFT
#: Random (continuous fine-tuning with random queries), Learning from Scratch
#: (same architecture, random initial weights, random queries) and the entropy
#: of the candidate's mean prediction (the plain uncertainty baseline).
METHODS: tuple[str, ...] = AIFT_METHODS + ("ift_random", "scratch", "mean_uncertainty")

_METHOD_LABELS = {
    "diversity_quarter": "AIFT Diversity 1/4",
    "diversity": "AIFT Diversity",
    "entropy_quarter": "AIFT Entropy 1/4",
    "entropy": "AIFT Entropy",
    "entropy_diversity_quarter": "AIFT (Entropy+Diversity) 1/4",
    "entropy_diversity": "AIFT (Entropy+Diversity)",
    "ift_random": "IFT Random",
    "scratch": "Learning from Scratch",
    "mean_uncertainty": "Mean uncertainty",
}

# Columns of a results row, in table order. List-valued columns (the queried
# pool indices, their strategy scores and, for some rounds, their patch
# predictions) are kept in JSON only.
SCALAR_COLUMNS: tuple[str, ...] = (
    "method",
    "seed",
    "round",
    "n_labels",
    "n_positive",
    "n_negative",
    "auc",
    "accuracy",
    "score_time",
    "train_time",
    "eval_time",
    "full_data_auc",
)
LIST_COLUMNS: tuple[str, ...] = ("queried", "scores", "patch_proba")
_INT_COLUMNS = {"seed", "round", "n_labels", "n_positive", "n_negative"}
_STR_COLUMNS = {"method"}

_STORE_VERSION = 1


def method_label(method: str) -> str:
    """Return the paper's display name of a method.

    Parameters
    ----------
    method : str
        A name from :data:`METHODS` (other names are returned unchanged).

    Returns
    -------
    label : str
        The display name, e.g. ``"AIFT Diversity 1/4"`` for
        ``"diversity_quarter"``.

    Examples
    --------
    >>> from sklearn_aift.experiment import method_label
    >>> method_label("entropy_diversity_quarter")
    'AIFT (Entropy+Diversity) 1/4'
    >>> method_label("ift_random")
    'IFT Random'
    """
    return _METHOD_LABELS.get(method, method)


# ---------------------------------------------------------------------------
# The tidy results table
# ---------------------------------------------------------------------------


def _to_float(value: Any) -> float:
    if value is None or value == "":
        return float("nan")
    return float(value)


def _coerce_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in _STR_COLUMNS:
            out[key] = str(value)
        elif key in _INT_COLUMNS:
            out[key] = int(value)
        elif key in LIST_COLUMNS:
            out[key] = None if value is None else list(value)
        elif key in SCALAR_COLUMNS:
            out[key] = _to_float(value)
        else:
            out[key] = value
    return out


def _json_safe(value: Any) -> Any:
    """Replace NaN/inf floats by None (standard JSON) and NumPy scalars by Python ones."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


class ResultsTable:
    """Tidy results of a simulated annotation: one row per method, seed and round.

    A small, dependency-free table (a list of dicts) with the columns
    ``method, seed, round, n_labels, n_positive, n_negative, auc, accuracy,
    score_time, train_time, eval_time, full_data_auc`` and, in JSON only, the
    list columns ``queried`` (pool indices asked for in that round, best first),
    ``scores`` (their strategy scores) and ``patch_proba`` (their patch
    predictions for the positive class, recorded for some rounds only).
    ``n_positive``/``n_negative`` count the queried candidates of that round;
    ``n_labels`` is the size of the labeled set after it. Times are seconds.
    With pandas installed, ``pandas.DataFrame(table.rows)`` gives a data frame.

    Parameters
    ----------
    rows : iterable of dict
        The rows. Values are coerced to the column types (``int`` for counts,
        ``float`` for metrics and times, NaN for missing values).

    Attributes
    ----------
    rows : list of dict
        The rows, sorted by method (in :data:`METHODS` order), seed and round.

    Examples
    --------
    >>> from sklearn_aift.experiment import ResultsTable
    >>> table = ResultsTable([
    ...     {"method": "ift_random", "seed": 0, "round": 1, "n_labels": 10, "auc": 0.7},
    ...     {"method": "ift_random", "seed": 0, "round": 2, "n_labels": 20, "auc": 0.8},
    ... ])
    >>> len(table), table.methods
    (2, ['ift_random'])
    >>> table["auc"]
    array([0.7, 0.8])
    >>> labels, auc = table.curve("ift_random")
    >>> labels, auc
    (array([10, 20]), array([[0.7, 0.8]]))
    """

    def __init__(self, rows: Iterable[Mapping[str, Any]] = ()) -> None:
        order = {m: i for i, m in enumerate(METHODS)}
        coerced = [_coerce_row(r) for r in rows]
        for i, row in enumerate(coerced):
            missing = {"method", "seed", "round"} - set(row)
            if missing:
                raise ValueError(
                    f"rows[{i}] lacks the key column(s) {sorted(missing)}; every row needs "
                    f"'method', 'seed' and 'round'."
                )
        coerced.sort(
            key=lambda r: (order.get(r["method"], len(order)), r["method"], r["seed"], r["round"])
        )
        self.rows = coerced

    # -- container protocol -------------------------------------------------
    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __getitem__(self, column: str) -> np.ndarray:
        if not isinstance(column, str):
            raise TypeError(f"index a ResultsTable by column name; got {column!r}.")
        if column not in self.columns:
            raise KeyError(f"no column {column!r}; the table has {self.columns}.")
        values = [row.get(column) for row in self.rows]
        if column in _STR_COLUMNS:
            return np.array(values, dtype=object)
        if column in _INT_COLUMNS:
            return np.array(values, dtype=np.int64)
        if column in LIST_COLUMNS:
            out = np.empty(len(values), dtype=object)
            out[:] = values
            return out
        return np.array([_to_float(v) for v in values], dtype=np.float64)

    def __repr__(self) -> str:
        return (
            f"ResultsTable({len(self)} rows, methods={self.methods}, seeds={self.seeds}, "
            f"rounds={self.n_rounds})"
        )

    @property
    def columns(self) -> list[str]:
        """Column names present in at least one row, in table order."""
        present = set()
        for row in self.rows:
            present.update(row)
        known = [c for c in SCALAR_COLUMNS + LIST_COLUMNS if c in present]
        return known + sorted(present - set(known))

    @property
    def methods(self) -> list[str]:
        """Methods in the table, in :data:`METHODS` order."""
        return list(dict.fromkeys(row["method"] for row in self.rows))

    @property
    def seeds(self) -> list[int]:
        """Seeds in the table, sorted."""
        return sorted({row["seed"] for row in self.rows})

    @property
    def n_rounds(self) -> int:
        """The largest round number in the table (0 when empty)."""
        return max((row["round"] for row in self.rows), default=0)

    def select(self, **conditions: Any) -> "ResultsTable":
        """Rows whose columns equal the given values (a list/tuple/set means any of them).

        Parameters
        ----------
        **conditions
            ``column=value`` pairs, e.g. ``method="ift_random", seed=[0, 1]``.

        Returns
        -------
        table : ResultsTable
            The matching rows.

        Examples
        --------
        >>> from sklearn_aift.experiment import ResultsTable
        >>> t = ResultsTable([{"method": "scratch", "seed": s, "round": 1} for s in range(3)])
        >>> len(t.select(seed=[0, 2]))
        2
        """
        def keep(row: Mapping[str, Any]) -> bool:
            for column, wanted in conditions.items():
                value = row.get(column)
                if isinstance(wanted, (list, tuple, set, frozenset)):
                    if value not in wanted:
                        return False
                elif value != wanted:
                    return False
            return True

        return ResultsTable(r for r in self.rows if keep(r))

    def curve(self, method: str, metric: str = "auc") -> tuple[np.ndarray, np.ndarray]:
        """The learning curve of one method: labels and the metric for every seed.

        Parameters
        ----------
        method : str
            The method.
        metric : str, default="auc"
            Any numeric column, e.g. ``"auc"``, ``"accuracy"`` or ``"train_time"``.

        Returns
        -------
        n_labels : ndarray of shape (n_rounds,)
            Labels used after each round.
        values : ndarray of shape (n_seeds, n_rounds)
            The metric per seed (rows in :attr:`seeds` order) and round; NaN
            where a seed lacks a round.

        Raises
        ------
        ValueError
            If the method is not in the table, or its seeds used different
            label budgets per round.

        Examples
        --------
        >>> from sklearn_aift.experiment import ResultsTable
        >>> t = ResultsTable([{"method": "entropy", "seed": s, "round": r, "n_labels": 5 * r,
        ...                    "auc": 0.5 + 0.1 * r + 0.01 * s} for s in (0, 1) for r in (1, 2)])
        >>> labels, auc = t.curve("entropy")
        >>> labels.tolist(), auc.round(2).tolist()
        ([5, 10], [[0.6, 0.7], [0.61, 0.71]])
        """
        sub = [row for row in self.rows if row["method"] == method]
        if not sub:
            raise ValueError(f"method {method!r} is not in the results; it holds {self.methods}.")
        rounds = sorted({row["round"] for row in sub})
        seeds = sorted({row["seed"] for row in sub})
        labels_by_round: dict[int, int] = {}
        values = np.full((len(seeds), len(rounds)), np.nan)
        r_pos = {r: i for i, r in enumerate(rounds)}
        s_pos = {s: i for i, s in enumerate(seeds)}
        for row in sub:
            n = int(row.get("n_labels", row["round"]))
            if labels_by_round.setdefault(row["round"], n) != n:
                raise ValueError(
                    f"method {method!r} used different numbers of labels in round "
                    f"{row['round']} across seeds ({labels_by_round[row['round']]} and {n})."
                )
            values[s_pos[row["seed"]], r_pos[row["round"]]] = _to_float(row.get(metric))
        return np.array([labels_by_round[r] for r in rounds], dtype=np.int64), values

    # -- input/output -------------------------------------------------------
    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the scalar columns to a CSV file (list columns are JSON-only).

        Parameters
        ----------
        path : str or path-like
            The file to write (replaced atomically).

        Returns
        -------
        path : Path
            The file written.

        Examples
        --------
        >>> import tempfile, os
        >>> from sklearn_aift.experiment import ResultsTable
        >>> t = ResultsTable([{"method": "scratch", "seed": 0, "round": 1, "auc": 0.5}])
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = t.to_csv(os.path.join(d, "results.csv"))
        ...     ResultsTable.read_csv(p)["auc"]
        array([0.5])
        """
        columns = [c for c in self.columns if c not in LIST_COLUMNS]
        path = Path(path)

        def write(fh):
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for row in self.rows:
                writer.writerow({c: _csv_value(row.get(c)) for c in columns})

        _atomic_write(path, write, newline="")
        return path

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write all columns to a JSON file (a list of row objects; NaN becomes null).

        Parameters
        ----------
        path : str or path-like
            The file to write (replaced atomically).

        Returns
        -------
        path : Path
            The file written.

        Examples
        --------
        >>> import tempfile, os
        >>> from sklearn_aift.experiment import ResultsTable
        >>> t = ResultsTable([{"method": "scratch", "seed": 0, "round": 1, "queried": [4, 2]}])
        >>> with tempfile.TemporaryDirectory() as d:
        ...     ResultsTable.read_json(t.to_json(os.path.join(d, "r.json"))).rows[0]["queried"]
        [4, 2]
        """
        path = Path(path)
        _atomic_write(path, lambda fh: json.dump(_json_safe(self.rows), fh, indent=1))
        return path

    @classmethod
    def read_csv(cls, path: str | os.PathLike) -> "ResultsTable":
        """Read a table written by :meth:`to_csv`.

        Parameters
        ----------
        path : str or path-like
            The CSV file.

        Returns
        -------
        table : ResultsTable

        Examples
        --------
        See :meth:`to_csv`.
        """
        with open(path, newline="") as fh:
            return cls(dict(row) for row in csv.DictReader(fh))

    @classmethod
    def read_json(cls, path: str | os.PathLike) -> "ResultsTable":
        """Read a table written by :meth:`to_json`.

        Parameters
        ----------
        path : str or path-like
            The JSON file.

        Returns
        -------
        table : ResultsTable

        Examples
        --------
        See :meth:`to_json`.
        """
        with open(path) as fh:
            rows = json.load(fh)
        if not isinstance(rows, list):
            raise ValueError(f"{path} does not hold a list of result rows.")
        return cls(rows)


def _csv_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return value


def _atomic_write(path: Path, write: Callable[[Any], None], newline: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline=newline) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
    seed's curve gives the spread.

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
        ``labels_needed``), ``saving`` (``1 - labels_needed / reference_labels``),
        ``saving_per_seed`` (per seed, against the same seed of the reference)
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
    >>> round(res["diversity_quarter"]["saving"], 3)
    0.667
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

    ref_labels, ref_seed = reach(reference)
    out = []
    for method in results.methods:
        needed, per_seed = reach(method)
        reached = np.array([v for v in per_seed.values() if math.isfinite(v)])
        saving_seed = [
            1.0 - per_seed[s] / ref_seed[s]
            if s in ref_seed and math.isfinite(ref_seed[s]) and math.isfinite(per_seed[s])
            else float("nan")
            for s in per_seed
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
                "saving": (
                    1.0 - needed / ref_labels
                    if math.isfinite(needed) and math.isfinite(ref_labels)
                    else float("nan")
                ),
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
    header = ["method", f"labels to AUC {target:.3f}", "per seed (reached)", "saving"]
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


# ---------------------------------------------------------------------------
# The resumable result store
# ---------------------------------------------------------------------------


class _ResultStore:
    """Append-only JSON-lines file of the records of one run configuration.

    The first line is a header with the format version and the configuration
    key; every later line is a record: ``{"type": "round", ...}`` (one result
    row), ``{"type": "done", "method", "seed", "n_rounds"}`` (a (method, seed)
    finished) or ``{"type": "full_data", "seed", "auc", ...}``. Each record is
    flushed and fsynced when written, so a killed run loses at most the line
    being written, which is dropped on the next load.
    """

    def __init__(self, path: Path, key: str, config: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.key = key
        self.config = dict(config)

    def load(self) -> list[dict[str, Any]]:
        """Read the records (creating the file with its header when missing)."""
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            header = {"type": "header", "version": _STORE_VERSION, "key": self.key,
                      "config": self.config}
            _atomic_write(self.path, lambda fh: fh.write(json.dumps(_json_safe(header)) + "\n"))
            return []
        with open(self.path, "rb") as fh:
            raw = fh.read()
        lines = raw.split(b"\n")
        records: list[dict[str, Any]] = []
        good_bytes = 0
        for i, line in enumerate(lines):
            if not line.strip():
                good_bytes += len(line) + 1
                continue
            try:
                record = json.loads(line)
            except ValueError:
                if i == len(lines) - 1 or all(not rest.strip() for rest in lines[i + 1:]):
                    logger.warning("dropping a partly written last record of %s", self.path)
                    break
                raise ValueError(
                    f"the result store {self.path} is corrupt at line {i + 1}; delete it to "
                    f"start this run afresh."
                ) from None
            good_bytes += len(line) + 1
            records.append(record)
        if not records or records[0].get("type") != "header":
            raise ValueError(f"the result store {self.path} has no header line; delete it.")
        header = records.pop(0)
        if header.get("version", 0) > _STORE_VERSION:
            raise ValueError(
                f"the result store {self.path} was written by a newer version of sklearn-aift "
                f"(format {header.get('version')}; this one reads up to {_STORE_VERSION})."
            )
        if header.get("key") != self.key:
            raise ValueError(
                f"the result store {self.path} belongs to another configuration "
                f"(key {header.get('key')!r}, expected {self.key!r})."
            )
        if good_bytes < len(raw):
            with open(self.path, "r+b") as fh:
                fh.truncate(min(good_bytes, len(raw)))
        return records

    def append(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(_json_safe(dict(record))) + "\n"
        with open(self.path, "a") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def rewrite(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Replace the records (atomically), keeping the header."""
        header = {"type": "header", "version": _STORE_VERSION, "key": self.key,
                  "config": self.config}
        lines = [json.dumps(_json_safe(header))] + [json.dumps(_json_safe(dict(r))) for r in records]
        _atomic_write(self.path, lambda fh: fh.write("\n".join(lines) + "\n"))


def _stable_repr(value: Any) -> Any:
    """A JSON-able description of a parameter value without memory addresses."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return _stable_repr(value.item())
    if isinstance(value, (list, tuple)):
        return [_stable_repr(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _stable_repr(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, np.ndarray):
        return {"ndarray": hashlib.sha1(np.ascontiguousarray(value).tobytes()).hexdigest()}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if hasattr(value, "get_params"):
        try:
            return {kind: _stable_repr(value.get_params(deep=False))}
        except Exception:  # noqa: BLE001 - fall back to the type name
            return kind
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    return kind


# Parameters that change speed or logging, never the results.
_IGNORED_PARAMS = {"activation_cache", "verbose"}


def _estimator_signature(estimator: Any) -> dict[str, Any]:
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    return {
        "class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        "params": {k: _stable_repr(v) for k, v in sorted(params.items())
                   if k not in _IGNORED_PARAMS},
    }


def _data_fingerprint(X: Any, y: Any) -> str:
    """SHA-256 of a candidate set's content (stable keys for lazy sets) and labels."""
    h = hashlib.sha256()
    h.update(repr(tuple(int(s) for s in X.shape)).encode())
    keys = getattr(X, "candidate_keys", None)
    if callable(keys):
        h.update(b"keys")
        for key in keys():
            h.update(str(key).encode())
            h.update(b"\0")
    elif isinstance(X, np.ndarray):
        h.update(str(X.dtype).encode())
        flat = np.ascontiguousarray(X).reshape(len(X), -1) if len(X) else X
        for start in range(0, len(X), 256):
            h.update(memoryview(np.ascontiguousarray(flat[start:start + 256])).cast("B"))
    else:
        from .candidates import iter_candidate_batches

        for _, batch in iter_candidate_batches(X, 64):
            h.update(str(batch.dtype).encode())
            h.update(memoryview(np.ascontiguousarray(batch)).cast("B"))
    h.update(json.dumps(_json_safe(np.asarray(y).tolist())).encode())
    return h.hexdigest()
