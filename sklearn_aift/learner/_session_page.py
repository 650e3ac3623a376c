"""An expert's decisions in a session store: label, skip and undo events, batches, rounds.

A labeling page records more than the labeled set ``L``: every decision an
expert makes (a label, a skip, the undo of either) with who made it and when,
the batch shown in each round (with the images dropped from it because their
file disappeared, and their replacements), and a summary of each completed
round. These tables are added to a session store by
:meth:`PageRecords.open_decisions`; a session without them is an ordinary
learner session:

``decisions(seq, candidate_key, file, kind, label, round, annotator, decided_at)``
    ``kind`` is ``'label'``, ``'skip'`` or ``'undo'``; a candidate's current
    decision is its last event. ``file`` is where the image was (relative to
    the labeled folder).
``batches(round, position, candidate_key, file, score, predicted, patch_proba)``
    The candidates proposed in each round, in ranking order.
``batch_drops(round, candidate_key, file, reason, dropped_at)``
    Candidates taken out of a round's batch.
``batch_rounds(round, n_labels, batch_accuracy, training_time, learner_round, completed_at,
check_metrics)``
    One row per completed round of the page (round 0: labels imported before
    the first query); ``check_metrics`` is the model's quality on a held-out
    check set after the round (JSON), or NULL without one.

Every write is one committed transaction.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

__all__ = ["PageRecords"]

_TABLES = """
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    candidate_key TEXT NOT NULL,
    file TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('label', 'skip', 'undo')),
    label TEXT,
    round INTEGER NOT NULL,
    annotator TEXT NOT NULL,
    decided_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_candidate ON decisions (candidate_key, seq);
CREATE TABLE IF NOT EXISTS batches (
    round INTEGER NOT NULL,
    position INTEGER NOT NULL,
    candidate_key TEXT NOT NULL,
    file TEXT NOT NULL,
    score REAL NOT NULL,
    predicted TEXT NOT NULL,
    patch_proba TEXT NOT NULL,
    PRIMARY KEY (round, position)
);
CREATE TABLE IF NOT EXISTS batch_drops (
    round INTEGER NOT NULL,
    candidate_key TEXT NOT NULL,
    file TEXT NOT NULL,
    reason TEXT NOT NULL,
    dropped_at TEXT NOT NULL,
    PRIMARY KEY (round, candidate_key)
);
CREATE TABLE IF NOT EXISTS batch_rounds (
    round INTEGER PRIMARY KEY,
    n_labels INTEGER NOT NULL,
    batch_accuracy REAL,
    training_time REAL NOT NULL,
    learner_round INTEGER NOT NULL,
    completed_at TEXT NOT NULL,
    check_metrics TEXT
);
"""

_ROUND_KEYS = ("round", "n_labels", "batch_accuracy", "training_time", "learner_round", "time",
               "check_metrics")


class PageRecords:
    """The decision methods of :class:`SessionStore` (mixed into it).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_aift.learner import SessionStore
    >>> store = SessionStore.create(tempfile.mkdtemp(), {})
    >>> store.open_decisions()
    >>> store.add_decisions([{"candidate": "k1", "file": "a.png", "kind": "label",
    ...                       "label": "tumour", "round": 1, "annotator": "ann",
    ...                       "time": "2026-01-01T00:00:00+00:00"}])
    >>> store.current_decisions()["k1"]["label"], store.n_decisions()
    ('tumour', 1)
    """

    def open_decisions(self) -> None:
        """Add the decision tables to the store when it lacks them (idempotent).

        The database also switches to write-ahead logging (kept in the file):
        a page reads the store while its background thread writes to it, and
        with a write-ahead log the readers do not wait for the writer.
        """
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
        self._transaction(_create_tables)

    def add_decisions(self, events: list[dict[str, Any]]) -> None:
        """Append decisions in one committed transaction.

        Parameters
        ----------
        events : list of dict
            Keys ``candidate``, ``file``, ``kind`` (``'label'``, ``'skip'`` or
            ``'undo'``), ``label`` (None unless a label), ``round``,
            ``annotator`` and ``time`` (ISO 8601).
        """
        self._write(lambda conn: conn.executemany(
            "INSERT INTO decisions (candidate_key, file, kind, label, round, annotator, "
            "decided_at) VALUES (:candidate, :file, :kind, :label, :round, :annotator, :time)",
            events), "cannot record the decisions")

    def current_decisions(self) -> dict[str, dict[str, Any]]:
        """The last decision of every candidate, in the order they were made.

        Returns
        -------
        current : dict
            ``{candidate_key: {kind, label, file, round, time, annotator}}``.
        """
        rows = self._query(
            "SELECT d.candidate_key, d.kind, d.label, d.file, d.round, d.decided_at, d.annotator "
            "FROM decisions d JOIN (SELECT candidate_key, MAX(seq) AS seq FROM decisions "
            "GROUP BY candidate_key) last ON d.seq = last.seq ORDER BY d.seq")
        return {r[0]: {"kind": r[1], "label": r[2], "file": r[3], "round": r[4], "time": r[5],
                       "annotator": r[6]} for r in rows}

    def decision_history(self, candidate: str) -> list[dict[str, Any]]:
        """Every decision about one candidate, oldest first.

        Parameters
        ----------
        candidate : str
            The candidate key.

        Returns
        -------
        events : list of dict
            ``kind``, ``label``, ``round``, ``time``, ``annotator``.
        """
        rows = self._query("SELECT kind, label, round, decided_at, annotator FROM decisions "
                           "WHERE candidate_key = ? ORDER BY seq", (candidate,))
        return [{"kind": r[0], "label": r[1], "round": r[2], "time": r[3], "annotator": r[4]}
                for r in rows]

    def n_decisions(self) -> int:
        """How many decisions were recorded (it changes with every one).

        Returns
        -------
        n : int
        """
        return int(self._query("SELECT COUNT(*) FROM decisions")[0][0])

    def save_batch(self, round_: int, rows: list[dict[str, Any]]) -> None:
        """Append candidates to the batch of ``round_``, after those already in it.

        Parameters
        ----------
        round_ : int
            The page's round.
        rows : list of dict
            Keys ``id`` (candidate key), ``file``, ``score``, ``predicted``
            and ``patch_proba`` (a nested list).
        """

        def work(conn: sqlite3.Connection) -> None:
            (start,) = conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM batches "
                                    "WHERE round = ?", (round_,)).fetchone()
            conn.executemany(
                "INSERT INTO batches (round, position, candidate_key, file, score, predicted, "
                "patch_proba) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(round_, i, r["id"], r["file"], r["score"], r["predicted"],
                  json.dumps(r["patch_proba"])) for i, r in enumerate(rows, start=start)])

        self._write(work, f"cannot record the batch of round {round_}")

    def read_batch(self, round_: int) -> list[dict[str, Any]]:
        """The batch of ``round_`` in ranking order, dropped candidates left out.

        Parameters
        ----------
        round_ : int

        Returns
        -------
        rows : list of dict
            ``id``, ``file``, ``score``, ``predicted``, ``patch_proba``.
        """
        rows = self._query(
            "SELECT candidate_key, file, score, predicted, patch_proba FROM batches "
            "WHERE round = ? AND candidate_key NOT IN (SELECT candidate_key FROM batch_drops "
            "WHERE round = ?) ORDER BY position", (round_, round_))
        return [{"id": r[0], "file": r[1], "score": r[2], "predicted": r[3],
                 "patch_proba": json.loads(r[4])} for r in rows]

    def drop_from_batch(self, round_: int, rows: list[dict[str, Any]], at: str) -> None:
        """Take candidates (``id``, ``file``, ``reason``) out of the batch of ``round_``.

        Their decisions are kept; a candidate dropped twice is recorded once.

        Parameters
        ----------
        round_ : int
        rows : list of dict
        at : str
            ISO time of the drop.
        """
        self._write(lambda conn: conn.executemany(
            "INSERT OR IGNORE INTO batch_drops (round, candidate_key, file, reason, dropped_at) "
            "VALUES (?, ?, ?, ?, ?)", [(round_, r["id"], r["file"], r["reason"], at)
                                       for r in rows]), f"cannot drop from round {round_}")

    def read_drops(self, round_: int | None = None) -> list[dict[str, Any]]:
        """Candidates dropped from a batch (of ``round_``, or of every round), oldest first.

        Parameters
        ----------
        round_ : int or None, default=None

        Returns
        -------
        rows : list of dict
            ``round``, ``id``, ``file``, ``reason``, ``time``.
        """
        sql = "SELECT round, candidate_key, file, reason, dropped_at FROM batch_drops"
        rows = (self._query(sql + " ORDER BY rowid") if round_ is None
                else self._query(sql + " WHERE round = ? ORDER BY rowid", (round_,)))
        return [dict(zip(("round", "id", "file", "reason", "time"), r)) for r in rows]

    def complete_batch_round(self, record: dict[str, Any]) -> None:
        """Record a completed round of the page.

        Parameters
        ----------
        record : dict
            Keys ``round``, ``n_labels`` (labels trained on), ``batch_accuracy``
            (or None), ``training_time``, ``learner_round`` (the learner's
            ``n_iter_`` after it), ``time`` and optionally ``check_metrics``
            (a JSON-serialisable dict, or None).
        """
        values = [record.get(k) for k in _ROUND_KEYS]
        values[-1] = None if values[-1] is None else json.dumps(values[-1])
        self._write(lambda conn: conn.execute(
            "INSERT INTO batch_rounds (round, n_labels, batch_accuracy, training_time, "
            "learner_round, completed_at, check_metrics) VALUES (?, ?, ?, ?, ?, ?, ?)",
            tuple(values)), f"cannot complete round {record['round']}")

    def read_batch_rounds(self) -> list[dict[str, Any]]:
        """Completed rounds of the page, oldest first.

        Returns
        -------
        rounds : list of dict
            Keys as in :meth:`complete_batch_round`.
        """
        rows = self._query("SELECT round, n_labels, batch_accuracy, training_time, "
                           "learner_round, completed_at, check_metrics FROM batch_rounds "
                           "ORDER BY round")
        return [dict(zip(_ROUND_KEYS, (*r[:-1], None if r[-1] is None else json.loads(r[-1]))))
                for r in rows]


def _create_tables(conn: sqlite3.Connection) -> None:
    for sql in _TABLES.split(";"):
        if sql.strip():
            conn.execute(sql)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(batch_rounds)")}
    if "check_metrics" not in columns:  # a store written before check sets existed
        conn.execute("ALTER TABLE batch_rounds ADD COLUMN check_metrics TEXT")
