"""The session store: the SQLite folder that keeps a labeling campaign safe on disk.

A labeling campaign runs for days with an expert in the loop, so the labels
must survive any crash. A session store is a folder::

    <path>/session.sqlite            labels, their history, rounds, metadata (SQLite)
    <path>/weights/round-000003.pt   model weights after the last completed round

The SQLite database (format version 2) has six tables:

``meta(key TEXT PRIMARY KEY, value TEXT)``
    JSON values: ``format_version``, ``library_version``, ``created_at``,
    ``strategy`` (:func:`~sklearn_aift.strategies.describe_strategy`),
    ``estimator_class``, ``estimator_params`` (JSON-exact parameters),
    ``estimator_params_repr`` (the ``repr`` of the others), ``classes``,
    ``random_state``, ``keep_pixels``, ``completed_round``,
    ``checkpoint_round``, ``checkpoint_file`` and ``checkpoint_sha256``.
``rounds(round INTEGER PRIMARY KEY, status TEXT, only_new INTEGER, record TEXT)``
    One row per round; ``status`` is ``'open'`` (collecting labels, no
    fine-tuning asked for yet), ``'labeled'`` (fine-tuning asked for, not
    finished), ``'trained'`` or ``'waiting'`` (fine-tuning deferred until a
    second class arrives); ``record`` is the JSON history entry of the round.
``labels(seq INTEGER PRIMARY KEY, candidate_key TEXT UNIQUE, digest TEXT, label TEXT,
round INTEGER, annotator TEXT, labeled_at TEXT)``
    The current label of each labeled candidate, in the order first taught.
    ``candidate_key`` is :func:`~sklearn_aift.candidates.candidate_keys`'s key
    (a CandidateSet key or the pixel digest), ``digest`` the
    :func:`~sklearn_aift.candidates.pixel_digest` of its pixels, ``label`` the
    JSON label, ``round`` the round of its latest label.
``label_events(seq INTEGER PRIMARY KEY, candidate_key TEXT, label TEXT, previous TEXT,
round INTEGER, annotator TEXT, labeled_at TEXT)``
    Every label ever given (the audit trail): a relabeled candidate has one
    event per label, ``previous`` holding the label it replaced.
``pixels(candidate_key TEXT PRIMARY KEY, pixels BLOB)``
    The pixels of every labeled candidate (zlib-compressed ``.npy`` bytes), so
    a session resumes and fine-tunes whatever pool is passed later, including
    a pool from which the labeled candidates were deleted. Empty when
    ``keep_pixels`` is false: the labeled candidates are then read from the
    pool by key.

A labeling page adds the tables of its expert's decisions (labels, skips and
undos, batches, rounds; see :meth:`SessionStore.open_decisions`); a withdrawn
label leaves ``labels`` and appears in ``label_events`` as a label of None.

Each call of :meth:`SessionStore.record_labels` (one ``teach``) is a single
transaction committed before fine-tuning starts. After a round's fine-tuning,
the weights go to a temporary file that is flushed and atomically renamed to
``round-<r>.pt``; only then does a second transaction record the round as
completed and point ``checkpoint_file`` at the new file. A crash at any point
leaves the store at the last completed round plus every recorded label.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable

from ._errors import SessionError
from ._session_page import PageRecords
from ._session_reads import SessionReads, array_to_blob
from ._weights import WEIGHTS_DIR, CheckpointFiles, fsync_dir

__all__ = ["FORMAT_VERSION", "SessionError", "SessionStore"]

#: Version of the session store layout written by this library.
FORMAT_VERSION = 2

DB_NAME = "session.sqlite"

_SCHEMA = {
    "meta": "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "rounds": (
        "CREATE TABLE rounds (round INTEGER PRIMARY KEY, status TEXT NOT NULL "
        "CHECK (status IN ('open', 'labeled', 'trained', 'waiting')), "
        "only_new INTEGER NOT NULL, record TEXT NOT NULL)"
    ),
    "labels": (
        "CREATE TABLE labels (seq INTEGER PRIMARY KEY, candidate_key TEXT NOT NULL UNIQUE, "
        "digest TEXT NOT NULL, label TEXT NOT NULL, "
        "round INTEGER NOT NULL REFERENCES rounds(round), annotator TEXT, "
        "labeled_at TEXT NOT NULL)"
    ),
    "label_events": (
        "CREATE TABLE label_events (seq INTEGER PRIMARY KEY, candidate_key TEXT NOT NULL, "
        "label TEXT NOT NULL, previous TEXT, round INTEGER NOT NULL, annotator TEXT, "
        "labeled_at TEXT NOT NULL)"
    ),
    "pixels": "CREATE TABLE pixels (candidate_key TEXT PRIMARY KEY, pixels BLOB NOT NULL)",
}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class SessionStore(SessionReads, PageRecords, CheckpointFiles):
    """One labeling session on disk (see the module docstring for the layout).

    Use :meth:`create` for a new store and :meth:`open` for an existing one;
    both validate the folder. Every method opens its own short-lived SQLite
    connection, so a store object holds no open file between calls.

    Parameters
    ----------
    path : str or path-like
        The session folder.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn_aift.learner import SessionStore
    >>> folder = os.path.join(tempfile.mkdtemp(), "campaign")
    >>> store = SessionStore.create(folder, {"classes": [0, 1]})
    >>> SessionStore.open(folder).read_meta()["classes"]
    [0, 1]
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    # -- connection helpers ---------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        """Path of the SQLite database inside the session folder."""
        return self.path / DB_NAME

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                f"file:{self.db_path}?mode=rw", uri=True, isolation_level=None, timeout=30
            )
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise SessionError(
                f"cannot open the session database {self.db_path} ({exc}); it is corrupt or "
                f"truncated, or not a session database."
            ) from exc
        return conn

    def _transaction(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        finally:
            conn.close()

    def _write(self, work: Callable[[sqlite3.Connection], Any], what: str) -> Any:
        """Run ``work`` in a transaction; constraint violations become SessionError."""
        try:
            return self._transaction(work)
        except sqlite3.IntegrityError as exc:
            raise SessionError(f"{what} in {self.db_path}: {exc}.") from exc

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        conn = self._connect()
        try:
            return conn.execute(sql, tuple(params)).fetchall()
        except sqlite3.DatabaseError as exc:
            raise SessionError(
                f"the session database {self.db_path} is unreadable: {exc}."
            ) from exc
        finally:
            conn.close()

    def _read(
        self,
        sql: str,
        decode: Callable[[list[tuple]], Any],
        what: str,
        errors: tuple[type[BaseException], ...] = (TypeError, ValueError),
    ) -> Any:
        """Run a query and decode its rows; decoding errors become SessionError."""
        rows = self._query(sql)
        try:
            return decode(rows)
        except errors as exc:
            raise SessionError(f"the session database {self.db_path} holds {what}: {exc}.") from exc

    # -- creation and validation ----------------------------------------------------------
    @classmethod
    def exists(cls, path: str | os.PathLike) -> bool:
        """Whether ``path`` already holds a session database.

        Parameters
        ----------
        path : str or path-like
            The session folder.

        Returns
        -------
        exists : bool

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.learner import SessionStore
        >>> SessionStore.exists(tempfile.mkdtemp())
        False
        """
        return (Path(path) / DB_NAME).exists()

    @classmethod
    def create(cls, path: str | os.PathLike, meta: dict[str, Any]) -> "SessionStore":
        """Create a new, empty session store.

        Parameters
        ----------
        path : str or path-like
            The session folder; created if missing. It must not hold a session.
        meta : dict
            JSON-serialisable metadata to record (``format_version`` and
            ``created_at`` are added).

        Returns
        -------
        store : SessionStore

        Raises
        ------
        FileExistsError
            If ``path`` already holds a session database.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.learner import SessionStore
        >>> store = SessionStore.create(tempfile.mkdtemp(), {})
        >>> store.read_meta()["completed_round"]
        0
        """
        store = cls(path)
        if store.path.exists() and not store.path.is_dir():
            raise FileExistsError(
                f"session path {store.path} is a file; a session store is a folder."
            )
        if cls.exists(path):
            raise FileExistsError(
                f"a session store already exists at {store.path}; resume it with "
                f"ActiveLearner.load({str(store.path)!r}) or choose another path."
            )
        (store.path / WEIGHTS_DIR).mkdir(parents=True, exist_ok=True)
        tmp_db = store.path / (DB_NAME + ".creating")
        if tmp_db.exists():
            tmp_db.unlink()
        conn = sqlite3.connect(tmp_db, isolation_level=None)
        try:
            conn.execute("BEGIN")
            for sql in _SCHEMA.values():
                conn.execute(sql)
            values = {
                "completed_round": 0,
                "checkpoint_round": None,
                "checkpoint_file": None,
                "checkpoint_sha256": None,
                **meta,
                "format_version": FORMAT_VERSION,
                "created_at": _now(),
            }
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [(key, json.dumps(value)) for key, value in values.items()],
            )
            conn.execute("COMMIT")
        finally:
            conn.close()
        # The database appears under its final name only once complete.
        os.replace(tmp_db, store.db_path)
        fsync_dir(store.path)
        return store

    @classmethod
    def open(cls, path: str | os.PathLike) -> "SessionStore":
        """Open and validate an existing session store.

        Checks that the folder holds a SQLite database that passes SQLite's
        integrity check, has every table, was written by a format version this
        library reads, and that the recorded checkpoint file exists with the
        recorded SHA-256.

        Parameters
        ----------
        path : str or path-like
            The session folder.

        Returns
        -------
        store : SessionStore

        Raises
        ------
        FileNotFoundError
            If there is no session database at ``path``.
        NotADirectoryError
            If ``path`` is a file.
        SessionError
            If the store is corrupt, truncated, incomplete or too new, or its
            database is a folder.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.learner import SessionStore
        >>> folder = tempfile.mkdtemp()
        >>> _ = SessionStore.create(folder, {})
        >>> SessionStore.open(folder).read_meta()["format_version"]
        2
        """
        store = cls(path)
        if store.path.exists() and not store.path.is_dir():
            raise NotADirectoryError(
                f"no session store at {store.path}: it is a file; a session is the folder "
                f"holding {DB_NAME}."
            )
        if not store.path.is_dir():
            raise FileNotFoundError(f"no session store at {store.path}: the folder does not exist.")
        if store.db_path.exists() and not store.db_path.is_file():
            raise SessionError(
                f"no session store at {store.path}: {store.db_path} is a folder, not the "
                f"{DB_NAME} database."
            )
        if not store.db_path.is_file():
            raise FileNotFoundError(
                f"no session store at {store.path}: {DB_NAME} is missing from the folder."
            )
        validate_store(store)
        return store

    # -- metadata -------------------------------------------------------------------------
    def read_meta(self) -> dict[str, Any]:
        """Return the metadata table as a dict of decoded JSON values.

        Returns
        -------
        meta : dict

        Raises
        ------
        SessionError
            If a value is not valid JSON.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.learner import SessionStore
        >>> SessionStore.create(tempfile.mkdtemp(), {"classes": [0, 1]}).read_meta()["classes"]
        [0, 1]
        """
        return self._read(
            "SELECT key, value FROM meta",
            lambda rows: {key: json.loads(value) for key, value in rows},
            "invalid metadata",
        )

    def update_meta(self, **values: Any) -> None:
        """Set metadata entries in one transaction.

        Parameters
        ----------
        **values
            JSON-serialisable values by key.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.learner import SessionStore
        >>> store = SessionStore.create(tempfile.mkdtemp(), {})
        >>> store.update_meta(random_state=12)
        >>> store.read_meta()["random_state"]
        12
        """
        self._transaction(lambda conn: _upsert_meta(conn, values))

    # -- labels and rounds ----------------------------------------------------------------
    def record_labels(
        self,
        round_: int,
        rows: list[dict[str, Any]],
        record: dict[str, Any],
        *,
        status: str = "open",
        only_new: bool = False,
    ) -> None:
        """Record labels and the state of the round in progress, in one transaction.

        New candidates are inserted with their pixels; a candidate already
        stored gets its new label (the label history keeps the old one). The
        round's row is created or updated with ``status`` and ``record``.

        Parameters
        ----------
        round_ : int
            The round in progress (1 for the first one).
        rows : list of dict
            One dict per label with keys ``candidate_key``, ``digest`` (the
            pixel digest), ``label`` (a JSON scalar), ``annotator`` (str or
            None), ``labeled_at`` (ISO time) and ``pixels`` (the candidate's
            ndarray; needed for new candidates only).
        record : dict
            The round's JSON history entry so far.
        status : {"open", "labeled"}, default="open"
            ``"open"``: the round keeps collecting labels. ``"labeled"``:
            fine-tuning was asked for and has not finished.
        only_new : bool, default=False
            Whether the round fine-tunes on its own labels only.

        Raises
        ------
        ValueError
            If ``status`` is not ``"open"`` or ``"labeled"``.
        SessionError
            If the round is already completed or a row is inconsistent.

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from sklearn_aift.learner import SessionStore
        >>> store = SessionStore.create(tempfile.mkdtemp(), {})
        >>> row = {"candidate_key": "k1", "digest": "d1", "label": 1, "annotator": "ann",
        ...        "labeled_at": "2026-01-01T00:00:00+00:00", "pixels": np.zeros((1, 3, 2, 2))}
        >>> store.record_labels(1, [row], {"round": 1})
        >>> store.record_labels(1, [{**row, "label": 0, "pixels": None}], {"round": 1})
        >>> [(r["candidate_key"], r["label"]) for r in store.read_labels()]
        [('k1', 0)]
        >>> [(e["label"], e["previous"]) for e in store.read_label_history()]
        [(1, None), (0, 1)]
        """
        if status not in ("open", "labeled"):
            raise ValueError(f"status must be 'open' or 'labeled'; got {status!r}.")

        def work(conn: sqlite3.Connection) -> None:
            done = conn.execute(
                "SELECT status FROM rounds WHERE round = ?", (int(round_),)
            ).fetchone()
            if done is not None and done[0] in ("trained", "waiting"):
                raise SessionError(
                    f"round {round_} of {self.db_path} is already completed; labels go to "
                    f"the round in progress."
                )
            conn.execute(
                "INSERT INTO rounds (round, status, only_new, record) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(round) DO UPDATE SET status = excluded.status, "
                "only_new = excluded.only_new, record = excluded.record",
                (int(round_), status, int(bool(only_new)), json.dumps(record)),
            )
            for row in rows:
                _write_label(conn, int(round_), row)

        self._write(work, f"cannot record the labels of round {round_}")

    def complete_round(
        self,
        round_: int,
        record: dict[str, Any],
        *,
        status: str,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Mark a round completed (``'trained'`` or ``'waiting'``) in one transaction.

        Parameters
        ----------
        round_ : int
            The round.
        record : dict
            Its complete JSON history entry.
        status : {"trained", "waiting"}
            Whether fine-tuning ran or was deferred.
        meta : dict, default=None
            Metadata entries to update in the same transaction (such as the new
            checkpoint). ``completed_round`` is set to ``round_``.

        Raises
        ------
        ValueError
            If ``status`` is not ``"trained"`` or ``"waiting"``.
        SessionError
            If the round is not recorded.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.learner import SessionStore
        >>> store = SessionStore.create(tempfile.mkdtemp(), {})
        >>> store.record_labels(1, [], {"round": 1}, status="labeled")
        >>> store.complete_round(1, {"round": 1, "trained": True}, status="trained")
        >>> store.read_rounds()[0]["status"], store.read_meta()["completed_round"]
        ('trained', 1)
        """
        if status not in ("trained", "waiting"):
            raise ValueError(f"status must be 'trained' or 'waiting'; got {status!r}.")

        def work(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                "UPDATE rounds SET status = ?, record = ? WHERE round = ?",
                (status, json.dumps(record), int(round_)),
            )
            if cursor.rowcount != 1:
                raise SessionError(f"round {round_} is not recorded in {self.db_path}.")
            _upsert_meta(conn, {**(meta or {}), "completed_round": int(round_)})

        self._write(work, f"cannot complete round {round_}")

    def withdraw_labels(
        self, round_: int, keys: list[str], *, annotator: str | None, at: str
    ) -> None:
        """Withdraw the labels of candidates in one transaction (kept in the history).

        Each candidate leaves ``labels`` (and ``pixels``); ``label_events``
        gets an event with label None whose ``previous`` is the withdrawn label.

        Parameters
        ----------
        round_ : int
            The round in progress.
        keys : list of str
            Candidate keys; unlabeled ones are ignored.
        annotator : str or None
            Who withdrew them.
        at : str
            ISO time of the withdrawal.

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from sklearn_aift.learner import SessionStore
        >>> store = SessionStore.create(tempfile.mkdtemp(), {})
        >>> row = {"candidate_key": "k1", "digest": "d1", "label": 1, "annotator": None,
        ...        "labeled_at": "2026-01-01T00:00:00+00:00", "pixels": np.zeros((1, 3, 2, 2))}
        >>> store.record_labels(1, [row], {"round": 1})
        >>> store.withdraw_labels(1, ["k1"], annotator="ann", at="2026-01-01T00:01:00+00:00")
        >>> store.read_labels(), [(e["label"], e["previous"]) for e in store.read_label_history()]
        ([], [(1, None), (None, 1)])
        """

        def work(conn: sqlite3.Connection) -> None:
            for key in keys:
                stored = conn.execute(
                    "SELECT label FROM labels WHERE candidate_key = ?", (key,)
                ).fetchone()
                if stored is None:
                    continue
                conn.execute("DELETE FROM labels WHERE candidate_key = ?", (key,))
                conn.execute("DELETE FROM pixels WHERE candidate_key = ?", (key,))
                conn.execute(
                    "INSERT INTO label_events (candidate_key, label, previous, round, annotator, "
                    "labeled_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (key, json.dumps(None), stored[0], int(round_), annotator, at),
                )

        self._write(work, f"cannot withdraw labels in round {round_}")


def _upsert_meta(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(key, json.dumps(value)) for key, value in values.items()],
    )


def _write_label(conn: sqlite3.Connection, round_: int, row: dict[str, Any]) -> None:
    """Insert a new label or update a stored one; either way, append it to the history."""
    key, label = row["candidate_key"], json.dumps(row["label"])
    stored = conn.execute("SELECT label FROM labels WHERE candidate_key = ?", (key,)).fetchone()
    when, who = row["labeled_at"], row["annotator"]
    if stored is None:
        if row.get("pixels") is None and _keeps_pixels(conn):
            raise SessionError(f"candidate {key} is new, but its pixels were not given.")
        conn.execute(
            "INSERT INTO labels (candidate_key, digest, label, round, annotator, labeled_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, row["digest"], label, round_, who, when),
        )
        if row.get("pixels") is not None:
            conn.execute(
                "INSERT INTO pixels (candidate_key, pixels) VALUES (?, ?)",
                (key, array_to_blob(row["pixels"])),
            )
    else:
        conn.execute(
            "UPDATE labels SET label = ?, round = ?, annotator = ?, labeled_at = ? "
            "WHERE candidate_key = ?",
            (label, round_, who, when, key),
        )
    conn.execute(
        "INSERT INTO label_events (candidate_key, label, previous, round, annotator, labeled_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (key, label, None if stored is None else stored[0], round_, who, when),
    )


def _keeps_pixels(conn: sqlite3.Connection) -> bool:
    """Whether the session keeps the pixels of each labeled candidate (``keep_pixels``)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'keep_pixels'").fetchone()
    return row is None or bool(json.loads(row[0]))


def validate_store(self: "SessionStore") -> None:
    """Raise a SessionError unless the store is intact, complete and of this format."""
    try:
        conn = self._connect()
        try:
            check = conn.execute("PRAGMA integrity_check").fetchall()
            tables = {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise SessionError(
            f"the session database {self.db_path} is corrupt or truncated ({exc}); "
            f"restore it from a backup."
        ) from exc
    if [tuple(row) for row in check] != [("ok",)]:
        problems = "; ".join(str(row[0]) for row in check[:3])
        raise SessionError(
            f"the session database {self.db_path} failed SQLite's integrity check "
            f"({problems}); restore it from a backup."
        )
    missing = sorted(set(_SCHEMA) - tables)
    if missing:
        raise SessionError(
            f"the session database {self.db_path} lacks the table(s) {missing}; it is "
            f"not a complete sklearn-aift session store."
        )
    meta = self.read_meta()
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise SessionError(
            f"the session database {self.db_path} has no valid format_version "
            f"(got {version!r})."
        )
    if version < FORMAT_VERSION:
        raise SessionError(
            f"the session store {self.path} has format version {version}, which identified "
            f"candidates by their position in one fixed pool and did not keep their "
            f"pixels; this sklearn-aift reads format {FORMAT_VERSION} only. Resume it with "
            f"the sklearn-aift that wrote it, or start a new session and teach its labels "
            f"again (read them with SessionStore(path).read_labels())."
        )
    if version > FORMAT_VERSION:
        raise SessionError(
            f"the session store {self.path} was written by a newer sklearn-aift (format "
            f"version {version}); this version reads format {FORMAT_VERSION} and older. "
            f"Upgrade sklearn-aift to resume it."
        )
    if meta.get("checkpoint_file") is not None:
        self.checkpoint_path()  # raises when missing or altered
