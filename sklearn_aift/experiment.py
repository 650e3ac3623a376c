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
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from . import strategies
from .candidates import check_candidate_labels, check_candidates, iter_candidate_batches
from .learner import ActiveLearner
from .net import ActivationCache

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
        for _, batch in iter_candidate_batches(X, 64):
            h.update(str(batch.dtype).encode())
            h.update(memoryview(np.ascontiguousarray(batch)).cast("B"))
    h.update(json.dumps(_json_safe(np.asarray(y).tolist())).encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------

_STRATEGY_OF = {
    "ift_random": "random_sampling",
    "scratch": "random_sampling",
}


def _strategy_for(method: str) -> Callable:
    return getattr(strategies, _STRATEGY_OF.get(method, method))


def _check_int(value: Any, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}.")
    return int(value)


def _check_methods(methods: Any) -> list[str]:
    if isinstance(methods, str):
        methods = [methods]
    methods = list(methods)
    if not methods:
        raise ValueError("methods is empty; give at least one of " + ", ".join(METHODS) + ".")
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; choose from {', '.join(METHODS)}.")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods lists a method twice: {methods}.")
    return methods


def _check_seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seeds = range(_check_int(seeds, "seeds"))
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds is empty; give a number of seeds or a list of integer seeds.")
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"seeds must be non-negative integers; got {s!r}.")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds lists a seed twice: {seeds}.")
    return [int(s) for s in seeds]


def _roc_auc(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray, positive: Any) -> float:
    if len(np.unique(y_true)) < 2:
        return float("nan")
    if len(classes) == 2:
        column = int(np.flatnonzero(classes == positive)[0])
        return float(roc_auc_score(y_true == positive, proba[:, column]))
    return float(roc_auc_score(y_true, proba, multi_class="ovr", labels=classes))


def _evaluate(estimator: Any, X_test: Any, y_test: np.ndarray, classes: np.ndarray,
              positive: Any) -> tuple[float, float, float]:
    start = time.perf_counter()
    proba = np.asarray(estimator.predict_proba(X_test), dtype=np.float64)
    seconds = time.perf_counter() - start
    est_classes = np.asarray(getattr(estimator, "classes_", classes))
    if len(est_classes) != len(classes) or not np.array_equal(est_classes, classes):
        # align columns with the pool's classes
        aligned = np.zeros((len(proba), len(classes)))
        for j, c in enumerate(est_classes):
            aligned[:, int(np.flatnonzero(classes == c)[0])] = proba[:, j]
        proba = aligned
    accuracy = float(np.mean(classes[np.argmax(proba, axis=1)] == y_test))
    return _roc_auc(y_test, proba, classes, positive), accuracy, seconds


def _method_estimator(estimator: Any, method: str, seed: int, cache: Any,
                      scratch_params: Mapping[str, Any]) -> Any:
    est = clone(estimator)
    params: dict[str, Any] = {}
    names = est.get_params(deep=False)
    if "random_state" in names:
        params["random_state"] = seed
    if cache is not None and "activation_cache" in names:
        params["activation_cache"] = cache
    if method == "scratch":
        params.update(scratch_params)
    return est.set_params(**params)


def _simulate(
    method: str,
    seed: int,
    estimator: Any,
    X_pool: Any,
    y_pool: np.ndarray,
    X_test: Any,
    y_test: np.ndarray,
    classes: np.ndarray,
    positive: Any,
    n_rounds: int,
    batch_size: int,
    patch_proba_rounds: set[int],
) -> Iterator[dict[str, Any]]:
    """Run one (method, seed) with the ActiveLearner and yield one row per round."""
    learner = ActiveLearner(estimator, query_strategy=_strategy_for(method), classes=classes,
                            random_state=seed)
    current_round = 0
    recorded: dict[str, Any] = {}
    pos_column = int(np.flatnonzero(classes == positive)[0])

    def oracle(indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.intp)
        if current_round in patch_proba_rounds:
            # the predictions the strategy ranked (the model before this round's fine-tuning)
            P = learner.estimator.predict_patch_proba(X_pool[indices])
            recorded["patch_proba"] = np.round(P[..., pos_column], 5).tolist()
        return y_pool[indices]

    for r in range(1, n_rounds + 1):
        current_round = r
        recorded.clear()
        learner.run(oracle, X_pool, budget=r * batch_size, batch_size=batch_size)
        if len(learner.history_) != r:
            raise RuntimeError(
                f"the learner ran {len(learner.history_)} rounds where {r} were expected "
                f"(method {method!r}, seed {seed})."
            )
        entry = learner.history_[-1]
        queried = np.asarray(entry["queried"], dtype=np.intp)
        auc, accuracy, eval_time = _evaluate(learner.estimator, X_test, y_test, classes, positive)
        n_pos = int(np.sum(y_pool[queried] == positive))
        yield {
            "method": method,
            "seed": seed,
            "round": r,
            "n_labels": int(entry["n_labels"]),
            "n_positive": n_pos,
            "n_negative": int(len(queried) - n_pos),
            "auc": auc,
            "accuracy": accuracy,
            "score_time": float(entry.get("scoring_time") or 0.0),
            "train_time": float(entry.get("training_time") or 0.0),
            "eval_time": eval_time,
            "queried": queried.tolist(),
            "scores": [None if s is None else float(s) for s in entry.get("scores", [])],
            "patch_proba": recorded.get("patch_proba"),
        }


def _full_data_auc(estimator: Any, seed: int, cache: Any, X_pool: Any, y_pool: np.ndarray,
                   X_test: Any, y_test: np.ndarray, classes: np.ndarray,
                   positive: Any) -> dict[str, Any]:
    est = _method_estimator(estimator, "full_data", seed, cache, {})
    start = time.perf_counter()
    est.fit(X_pool, y_pool)
    train_time = time.perf_counter() - start
    auc, accuracy, _ = _evaluate(est, X_test, y_test, classes, positive)
    return {"type": "full_data", "seed": seed, "auc": auc, "accuracy": accuracy,
            "n_labels": int(len(y_pool)), "train_time": train_time}


def run_comparison(
    estimator: Any,
    X_pool: Any,
    y_pool: Any,
    X_test: Any,
    y_test: Any,
    *,
    methods: Sequence[str] = ("entropy_diversity_quarter", "diversity_quarter", "ift_random"),
    n_rounds: int = 10,
    batch_size: int = 10,
    seeds: int | Sequence[int] = 3,
    full_data: bool = False,
    scratch_params: Mapping[str, Any] | None = None,
    patch_proba_rounds: Sequence[int] = (1, 3),
    positive_label: Any = None,
    out_dir: str | os.PathLike | None = None,
    callback: Callable[[dict[str, Any]], Any] | None = None,
    verbose: int = 1,
) -> ResultsTable:
    """Simulate annotation with several methods and seeds against an oracle.

    For every seed and method, an :class:`~sklearn_aift.learner.ActiveLearner`
    starts from a clone of ``estimator`` and an empty labeled set and runs
    ``n_rounds`` rounds of Alg. 1: query ``batch_size`` candidates of the pool,
    get their labels from ``y_pool`` (the oracle), fine-tune. After every round
    the model's candidate-level AUC and accuracy on the test set are recorded
    with the labels used, the positives and negatives among the queried
    candidates and the time spent scoring, training and evaluating.

    Methods (:data:`METHODS`): the six AIFT variants of the paper (strategies
    of the same names in :mod:`sklearn_aift.strategies`); ``"ift_random"``
    (continuous fine-tuning with random queries); ``"scratch"`` (Learning from
    Scratch: the same estimator with ``weights=None``, random queries); and
    ``"mean_uncertainty"``. Within a seed every method starts from the same
    network (``random_state=seed`` for the estimator and the strategy), so
    differences come from the queries.

    When the estimator has an ``activation_cache`` parameter set to ``"auto"``,
    one :class:`~sklearn_aift.net.ActivationCache` is shared by all the nets of
    the run, so the frozen-prefix activations of the pool and the test set are
    computed once (per distinct frozen prefix: the scratch nets have their
    own). Pass ``activation_cache=None`` in the estimator to switch that off.

    **Resuming.** With ``out_dir``, every row is appended to a store in
    ``out_dir/store/`` (one JSON-lines file per configuration, named by a hash
    of the estimator's parameters, the data, ``batch_size``, ``scratch_params``,
    ``patch_proba_rounds`` and ``positive_label``) as soon as it is made. Run
    again with the same arguments, finished (method, seed) runs are read back
    and an interrupted one is recomputed from its start, which gives the same
    rows as an uninterrupted run (every fit and query is seeded). Adding
    methods or seeds reuses the stored ones. At the end the table is written
    to ``out_dir/results.csv`` and ``out_dir/results.json``.

    Parameters
    ----------
    estimator : estimator object
        A classifier over candidates with ``predict_patch_proba``, ``fit``,
        ``predict_proba``, ``get_params``/``set_params`` and ``random_state``,
        usually :class:`~sklearn_aift.net.AIFTNet` (with ``warm_start=True`` for
        continuous fine-tuning). It is cloned, never fitted itself.
    X_pool : candidate array or CandidateSet
        The unlabeled training pool the methods query from.
    y_pool : array-like of shape (n_pool,)
        The oracle's labels of the pool.
    X_test : candidate array or CandidateSet
        Held-out candidates the AUC is measured on (never queried).
    y_test : array-like of shape (n_test,)
        Their labels.
    methods : sequence of str, default=("entropy_diversity_quarter", "diversity_quarter", "ift_random")
        Methods to run, from :data:`METHODS`.
    n_rounds : int, default=10
        Rounds per method and seed (the label budget is
        ``n_rounds * batch_size``).
    batch_size : int, default=10
        Candidates queried per round (``b``).
    seeds : int or sequence of int, default=3
        The seeds, or their number (``range(seeds)``).
    full_data : bool, default=False
        Also fine-tune once per seed on the whole labeled pool and record the
        test AUC in the ``full_data_auc`` column (a reference for
        :func:`annotation_saving`'s ``full_data_fraction``).
    scratch_params : dict, default=None
        ``set_params`` overrides of the ``"scratch"`` estimator; None means
        ``{"weights": None}`` (the same architecture and settings, random
        initial weights; a frozen prefix stays frozen at its random values).
    patch_proba_rounds : sequence of int, default=(1, 3)
        Rounds for which the patch predictions of the queried candidates (the
        ones the strategy ranked) are kept in the ``patch_proba`` column, for
        :func:`~sklearn_aift.plotting.plot_selected_candidates`.
    positive_label : label, default=None
        The positive class for the AUC; None takes the greatest label.
    out_dir : str or path-like, default=None
        Folder for the store and the results; None keeps everything in memory
        (nothing is resumable).
    callback : callable, default=None
        ``callback(row)`` after each round's row is stored.
    verbose : int, default=1
        0 is silent; 1 shows a tqdm progress bar over methods x seeds x rounds.

    Returns
    -------
    results : ResultsTable
        One row per method, seed and round (see :class:`ResultsTable`).

    Raises
    ------
    ValueError
        For an unknown method, a bad number, labels that do not match the
        candidates, a single-class pool or a budget larger than the pool.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift import AIFTNet
    >>> from sklearn_aift.experiment import run_comparison
    >>> rng = np.random.default_rng(0)
    >>> y = np.arange(40) % 2
    >>> X = rng.integers(0, 120, size=(40, 3, 3, 32, 32)).astype(np.uint8)
    >>> X[y == 1] += 100
    >>> net = AIFTNet("mobilenet_v3_small", weights=None, input_size=32, max_epochs=1,
    ...               max_epochs_incremental=1, batch_size=32, freeze=8)
    >>> results = run_comparison(net, X[:30], y[:30], X[30:], y[30:], methods=["entropy",
    ...                          "ift_random"], n_rounds=2, batch_size=4, seeds=1, verbose=0)
    >>> len(results), results["n_labels"].tolist()
    (4, [4, 8, 4, 8])
    """
    methods = _check_methods(methods)
    seeds = _check_seeds(seeds)
    n_rounds = _check_int(n_rounds, "n_rounds")
    batch_size = _check_int(batch_size, "batch_size")
    X_pool = check_candidates(X_pool, name="X_pool")
    X_test = check_candidates(X_test, name="X_test")
    y_pool = check_candidate_labels(y_pool, len(X_pool), name="y_pool")
    y_test = check_candidate_labels(y_test, len(X_test), name="y_test")
    classes = np.unique(y_pool)
    if len(classes) < 2:
        raise ValueError(f"y_pool holds a single class ({classes[0]!r}); two are needed.")
    unseen = np.setdiff1d(np.unique(y_test), classes)
    if unseen.size:
        raise ValueError(f"y_test holds labels absent from y_pool: {unseen.tolist()}.")
    if positive_label is None:
        positive = classes[-1]
    elif positive_label in classes.tolist():
        positive = classes[classes.tolist().index(positive_label)]
    else:
        raise ValueError(
            f"positive_label={positive_label!r} is not a pool label; labels: {classes.tolist()}."
        )
    budget = n_rounds * batch_size
    if budget > len(X_pool):
        raise ValueError(
            f"the budget n_rounds * batch_size = {n_rounds} * {batch_size} = {budget} exceeds "
            f"the pool of {len(X_pool)} candidates."
        )
    scratch_params = {"weights": None} if scratch_params is None else dict(scratch_params)
    rounds_kept = {int(r) for r in patch_proba_rounds}

    cache = None
    if getattr(estimator, "activation_cache", None) == "auto":
        cache = ActivationCache(max_bytes=None)

    store = None
    records: list[dict[str, Any]] = []
    if out_dir is not None:
        out_dir = Path(out_dir)
        config = {
            "estimator": _estimator_signature(estimator),
            "pool": _data_fingerprint(X_pool, y_pool),
            "test": _data_fingerprint(X_test, y_test),
            "batch_size": batch_size,
            "scratch_params": _stable_repr(scratch_params),
            "patch_proba_rounds": sorted(rounds_kept),
            "positive_label": _stable_repr(_json_safe(positive)),
        }
        key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
        store = _ResultStore(out_dir / "store" / f"{key}.jsonl", key, config)
        records = store.load()

    rows: dict[tuple[str, int], list[dict[str, Any]]] = {}
    done: set[tuple[str, int]] = set()
    full: dict[int, dict[str, Any]] = {}
    for rec in records:
        kind = rec.get("type")
        if kind == "round":
            rows.setdefault((rec["method"], rec["seed"]), []).append(rec)
        elif kind == "done" and rec.get("n_rounds", 0) >= n_rounds:
            done.add((rec["method"], rec["seed"]))
        elif kind == "full_data":
            full[rec["seed"]] = rec
    # (method, seed) runs without a "done" mark at this length start again from round 1
    stale = [pair for pair in rows if pair not in done and pair[0] in methods and pair[1] in seeds]
    if stale and store is not None:
        logger.info("recomputing interrupted runs %s", stale)
        for pair in stale:
            del rows[pair]
        store.rewrite(
            r for r in records
            if not (r.get("type") == "round" and (r["method"], r["seed"]) in stale)
        )

    n_done = sum(1 for m in methods for s in seeds if (m, s) in done)
    progress = tqdm(
        total=len(methods) * len(seeds) * n_rounds,
        initial=n_done * n_rounds,
        disable=not verbose,
        desc="rounds",
        unit="round",
    )
    try:
        for seed in seeds:
            if full_data and seed not in full:
                progress.set_postfix_str(f"full data, seed {seed}")
                rec = _full_data_auc(estimator, seed, cache, X_pool, y_pool, X_test, y_test,
                                     classes, positive)
                full[seed] = rec
                if store is not None:
                    store.append(rec)
            for method in methods:
                if (method, seed) in done:
                    continue
                progress.set_postfix_str(f"{method}, seed {seed}")
                est = _method_estimator(estimator, method, seed, cache, scratch_params)
                made = []
                for row in _simulate(method, seed, est, X_pool, y_pool, X_test, y_test,
                                     classes, positive, n_rounds, batch_size, rounds_kept):
                    record = {"type": "round", **row}
                    if store is not None:
                        store.append(record)
                    made.append(record)
                    progress.update(1)
                    logger.info("%s seed %d round %d: %d labels, AUC %.4f", method, seed,
                                row["round"], row["n_labels"], row["auc"])
                    if callback is not None:
                        callback(dict(row))
                rows[(method, seed)] = made
                done.add((method, seed))
                if store is not None:
                    store.append({"type": "done", "method": method, "seed": seed,
                                  "n_rounds": n_rounds})
    finally:
        progress.close()

    table_rows = []
    for method in methods:
        for seed in seeds:
            for rec in rows.get((method, seed), []):
                if rec["round"] > n_rounds:
                    continue
                row = {k: v for k, v in rec.items() if k != "type"}
                row["full_data_auc"] = full[seed]["auc"] if seed in full else float("nan")
                table_rows.append(row)
    results = ResultsTable(table_rows)
    if out_dir is not None:
        results.to_csv(out_dir / "results.csv")
        results.to_json(out_dir / "results.json")
    return results
