"""The labeling campaign's SQLite store: label events with history, batches, rounds.

Every write is one committed transaction (WAL journal, ``synchronous=FULL``),
so a label is on disk before the call returns and a ``kill -9`` loses nothing
that was acknowledged. The current label of a candidate is its last event;
earlier events stay as its history.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    candidate TEXT NOT NULL,
    file TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('label', 'undo', 'skip')),
    label TEXT,
    round INTEGER NOT NULL,
    time TEXT NOT NULL,
    annotator TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_candidate ON events (candidate, seq);
CREATE TABLE IF NOT EXISTS batches (
    round INTEGER NOT NULL,
    position INTEGER NOT NULL,
    candidate TEXT NOT NULL,
    file TEXT NOT NULL,
    score REAL NOT NULL,
    predicted TEXT NOT NULL,
    patch_proba TEXT NOT NULL,
    PRIMARY KEY (round, position)
);
CREATE TABLE IF NOT EXISTS dropped (
    round INTEGER NOT NULL,
    candidate TEXT NOT NULL,
    file TEXT NOT NULL,
    reason TEXT NOT NULL,
    time TEXT NOT NULL,
    PRIMARY KEY (round, candidate)
);
CREATE TABLE IF NOT EXISTS rounds (
    round INTEGER PRIMARY KEY,
    n_labels INTEGER NOT NULL,
    batch_accuracy REAL,
    training_time REAL NOT NULL,
    checkpoint TEXT NOT NULL,
    time TEXT NOT NULL
);
"""


def utc_now() -> str:
    """The current UTC time as an ISO 8601 string with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class CampaignStore:
    """Durable record of one labeling campaign (``<session>/campaign.sqlite``).

    Parameters
    ----------
    path : path-like
        The SQLite file; created with its tables when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            str(self.path), check_same_thread=False, isolation_level=None, timeout=30
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def _write(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            return result

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- meta -------------------------------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``, or ``default``."""
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def set_meta(self, **values: Any) -> None:
        """Store JSON values under their keys (one transaction)."""

        def work(conn: sqlite3.Connection) -> None:
            for key, value in values.items():
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    (key, json.dumps(value)),
                )

        self._write(work)

    # -- events -----------------------------------------------------------------------
    def add_events(self, events: list[dict[str, Any]]) -> None:
        """Append label/undo/skip events in one committed transaction."""

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO events (candidate, file, kind, label, round, time, annotator) "
                "VALUES (:candidate, :file, :kind, :label, :round, :time, :annotator)",
                events,
            )

        self._write(work)

    def current(self) -> dict[str, dict[str, Any]]:
        """The last event of every candidate: ``{candidate: {kind, label, file, round, time}}``."""
        rows = self._read(
            "SELECT e.candidate, e.kind, e.label, e.file, e.round, e.time, e.annotator "
            "FROM events e JOIN (SELECT candidate, MAX(seq) AS seq FROM events "
            "GROUP BY candidate) last ON e.seq = last.seq ORDER BY e.seq"
        )
        return {
            r[0]: {"kind": r[1], "label": r[2], "file": r[3], "round": r[4], "time": r[5],
                   "annotator": r[6]}
            for r in rows
        }

    def history(self, candidate: str) -> list[dict[str, Any]]:
        """Every event of one candidate, oldest first."""
        rows = self._read(
            "SELECT kind, label, round, time, annotator FROM events WHERE candidate = ? "
            "ORDER BY seq",
            (candidate,),
        )
        return [
            {"kind": r[0], "label": r[1], "round": r[2], "time": r[3], "annotator": r[4]}
            for r in rows
        ]

    def n_events(self) -> int:
        """How many events were recorded."""
        return int(self._read("SELECT COUNT(*) FROM events")[0][0])

    # -- batches ----------------------------------------------------------------------
    def save_batch(self, round_: int, rows: list[dict[str, Any]]) -> None:
        """Append candidates to the batch of ``round_``, after those already in it."""

        def work(conn: sqlite3.Connection) -> None:
            (start,) = conn.execute(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM batches WHERE round = ?", (round_,)
            ).fetchone()
            conn.executemany(
                "INSERT INTO batches (round, position, candidate, file, score, predicted, "
                "patch_proba) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (round_, i, r["id"], r["file"], r["score"], r["predicted"],
                     json.dumps(r["patch_proba"]))
                    for i, r in enumerate(rows, start=start)
                ],
            )

        self._write(work)

    def batch(self, round_: int) -> list[dict[str, Any]]:
        """The batch of ``round_`` in ranking order, dropped candidates left out."""
        rows = self._read(
            "SELECT candidate, file, score, predicted, patch_proba FROM batches "
            "WHERE round = ? AND candidate NOT IN (SELECT candidate FROM dropped "
            "WHERE round = ?) ORDER BY position",
            (round_, round_),
        )
        return [
            {"id": r[0], "file": r[1], "score": r[2], "predicted": r[3],
             "patch_proba": json.loads(r[4])}
            for r in rows
        ]

    def drop(self, round_: int, rows: list[dict[str, Any]]) -> None:
        """Take candidates (``id``, ``file``, ``reason``) out of the batch of ``round_``.

        Their events are kept; a candidate dropped twice is recorded once.
        """

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT OR IGNORE INTO dropped (round, candidate, file, reason, time) "
                "VALUES (?, ?, ?, ?, ?)",
                [(round_, r["id"], r["file"], r["reason"], utc_now()) for r in rows],
            )

        self._write(work)

    def dropped(self, round_: int | None = None) -> list[dict[str, Any]]:
        """Candidates dropped from a batch (of ``round_``, or of every round), oldest first."""
        sql = "SELECT round, candidate, file, reason, time FROM dropped"
        rows = self._read(sql + " WHERE round = ? ORDER BY rowid" if round_ is not None
                          else sql + " ORDER BY rowid", () if round_ is None else (round_,))
        keys = ("round", "id", "file", "reason", "time")
        return [dict(zip(keys, r)) for r in rows]

    # -- candidate identity -----------------------------------------------------------
    def rename_candidates(self, ids_by_file: dict[str, str], **meta: Any) -> int:
        """Give every event, batch entry and drop of a file the id in ``ids_by_file``.

        Rows are matched by their relative ``file``; files absent from the
        mapping keep their ids. Done in one transaction together with setting
        ``meta``, so a session is either wholly renamed or not at all.

        Returns
        -------
        n_changed : int
            Rows whose id changed.
        """

        def work(conn: sqlite3.Connection) -> int:
            changed = 0
            pairs = list(ids_by_file.items())
            for table in ("events", "batches", "dropped"):
                before = conn.total_changes
                conn.executemany(
                    f"UPDATE {table} SET candidate = ? WHERE file = ? AND candidate != ?",
                    [(new, file, new) for file, new in pairs],
                )
                changed += conn.total_changes - before
            for key, value in meta.items():
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             (key, json.dumps(value)))
            return changed

        return self._write(work)

    # -- rounds -----------------------------------------------------------------------
    def complete_round(self, record: dict[str, Any]) -> None:
        """Record a completed (trained and checkpointed) round."""

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO rounds (round, n_labels, batch_accuracy, training_time, "
                "checkpoint, time) VALUES (:round, :n_labels, :batch_accuracy, "
                ":training_time, :checkpoint, :time)",
                record,
            )

        self._write(work)

    def rounds(self) -> list[dict[str, Any]]:
        """Completed rounds, oldest first."""
        rows = self._read(
            "SELECT round, n_labels, batch_accuracy, training_time, checkpoint, time "
            "FROM rounds ORDER BY round"
        )
        keys = ("round", "n_labels", "batch_accuracy", "training_time", "checkpoint", "time")
        return [dict(zip(keys, r)) for r in rows]
