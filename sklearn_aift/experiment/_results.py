"""The tidy results table of a comparison: one row per method, seed and round."""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from ._methods import METHODS

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
    """Write through a temporary file renamed into place, readable like any new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; results are for sharing
        with os.fdopen(fd, "w", newline=newline) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


