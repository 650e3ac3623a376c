"""Durable labeling sessions: the on-disk store behind :class:`ActiveLearner`.

A labeling campaign runs for days with an expert in the loop, so the labels
must survive any crash. A session store is a folder::

    <path>/session.sqlite            labels, round history and metadata (SQLite)
    <path>/weights/round-000003.pt   model weights after the last completed round

The SQLite database has four tables:

``meta(key TEXT PRIMARY KEY, value TEXT)``
    JSON values: ``format_version``, ``library_version``, ``created_at``,
    ``strategy`` (:func:`~sklearn_aift.strategies.describe_strategy`),
    ``estimator_class``, ``estimator_params`` (JSON-exact parameters),
    ``estimator_params_repr`` (the ``repr`` of the others), ``classes``,
    ``random_state``, ``pool_length``, ``completed_round``,
    ``checkpoint_round``, ``checkpoint_file`` and ``checkpoint_sha256``.
``rounds(round INTEGER PRIMARY KEY, status TEXT, only_new INTEGER, record TEXT)``
    One row per taught batch; ``status`` is ``'labeled'`` (labels committed,
    fine-tuning not finished), ``'trained'`` or ``'waiting'`` (fine-tuning
    deferred until a second class arrives); ``record`` is the JSON history
    entry of the round.
``labels(seq INTEGER PRIMARY KEY, candidate_id TEXT UNIQUE, pool_index INTEGER,
fingerprint TEXT, label TEXT, round INTEGER)``
    The labeled set in the order it was taught. ``candidate_id`` is
    ``"pool:<i>"`` for candidate ``i`` of the pool or ``"ext:<sha1>"`` for a
    candidate given from outside the pool; ``fingerprint`` is the SHA-1 of the
    candidate's pixels; ``label`` is the JSON label.
``external(candidate_id TEXT PRIMARY KEY, pixels BLOB)``
    The pixels (``.npy`` bytes) of candidates taught from outside the pool;
    pool candidates are never copied: they are read again from the caller's
    pool on resume.

Each taught batch (its labels and its round row) is committed in one
transaction before fine-tuning starts. After a round's fine-tuning, the
weights go to a temporary file that is flushed and atomically renamed to
``round-<r>.pt``; only then does a second transaction record the round as
completed and point ``checkpoint_file`` at the new file. A crash at any point
leaves the store at the last completed round plus the labels of an
interrupted round.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

__all__ = ["FORMAT_VERSION", "SessionError", "SessionStore", "fingerprint"]

#: Version of the session store layout written by this library.
FORMAT_VERSION = 1

DB_NAME = "session.sqlite"
WEIGHTS_DIR = "weights"

_SCHEMA = {
    "meta": "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "rounds": (
        "CREATE TABLE rounds (round INTEGER PRIMARY KEY, "
        "status TEXT NOT NULL CHECK (status IN ('labeled', 'trained', 'waiting')), "
        "only_new INTEGER NOT NULL, record TEXT NOT NULL)"
    ),
    "labels": (
        "CREATE TABLE labels (seq INTEGER PRIMARY KEY, candidate_id TEXT NOT NULL UNIQUE, "
        "pool_index INTEGER, fingerprint TEXT NOT NULL, label TEXT NOT NULL, "
        "round INTEGER NOT NULL REFERENCES rounds(round))"
    ),
    "external": (
        "CREATE TABLE external (candidate_id TEXT PRIMARY KEY, pixels BLOB NOT NULL)"
    ),
}


class SessionError(ValueError):
    """A session store that cannot be used: corrupt, truncated, too new or mismatched.

    Examples
    --------
    >>> from sklearn_aift.session import SessionError
    >>> issubclass(SessionError, ValueError)
    True
    """


def fingerprint(pixels: np.ndarray) -> str:
    """Return the SHA-1 hex digest identifying one candidate's pixels.

    Parameters
    ----------
    pixels : ndarray
        One candidate, as materialised (``(m, C, H, W)``).

    Returns
    -------
    digest : str
        40 hexadecimal characters; it covers dtype, shape and bytes.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_aift.session import fingerprint
    >>> a = np.zeros((2, 3, 4, 4), dtype=np.uint8)
    >>> fingerprint(a) == fingerprint(a.copy()), fingerprint(a) == fingerprint(a + 1)
    (True, False)
    """
    pixels = np.ascontiguousarray(pixels)
    digest = hashlib.sha1(f"{pixels.dtype.str}{pixels.shape}".encode())
    digest.update(pixels.data)
    return digest.hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _array_to_blob(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _blob_to_array(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(blob), allow_pickle=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class SessionStore:
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
    >>> from sklearn_aift.session import SessionStore
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
        >>> from sklearn_aift.session import SessionStore
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
        >>> from sklearn_aift.session import SessionStore
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
        _fsync_dir(store.path)
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
        SessionError
            If the store is corrupt, truncated, incomplete or too new.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.session import SessionStore
        >>> folder = tempfile.mkdtemp()
        >>> _ = SessionStore.create(folder, {})
        >>> SessionStore.open(folder).read_meta()["format_version"]
        1
        """
        store = cls(path)
        if not store.path.is_dir():
            raise FileNotFoundError(f"no session store at {store.path}: the folder does not exist.")
        if not store.db_path.is_file():
            raise FileNotFoundError(
                f"no session store at {store.path}: {DB_NAME} is missing from the folder."
            )
        store._validate()
        return store

    def _validate(self) -> None:
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
        if version > FORMAT_VERSION:
            raise SessionError(
                f"the session store {self.path} was written by a newer sklearn-aift (format "
                f"version {version}); this version reads format {FORMAT_VERSION} and older. "
                f"Upgrade sklearn-aift to resume it."
            )
        if meta.get("checkpoint_file") is not None:
            self.checkpoint_path()  # raises when missing or altered

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
        >>> from sklearn_aift.session import SessionStore
        >>> SessionStore.create(tempfile.mkdtemp(), {"pool_length": 7}).read_meta()["pool_length"]
        7
        """
        rows = self._query("SELECT key, value FROM meta")
        try:
            return {key: json.loads(value) for key, value in rows}
        except (TypeError, ValueError) as exc:
            raise SessionError(
                f"the session database {self.db_path} holds invalid metadata: {exc}."
            ) from exc

    def update_meta(self, **values: Any) -> None:
        """Set metadata entries in one transaction.

        Parameters
        ----------
        **values
            JSON-serialisable values by key.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.session import SessionStore
        >>> store = SessionStore.create(tempfile.mkdtemp(), {})
        >>> store.update_meta(pool_length=12)
        >>> store.read_meta()["pool_length"]
        12
        """
        self._transaction(lambda conn: _upsert_meta(conn, values))

    # -- labels and rounds ----------------------------------------------------------------
    def commit_batch(
        self,
        round_: int,
        rows: list[dict[str, Any]],
        record: dict[str, Any],
        *,
        only_new: bool,
        external: dict[str, np.ndarray] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Commit one taught batch, before fine-tuning, in a single transaction.

        Parameters
        ----------
        round_ : int
            The round the batch belongs to (1 for the first batch).
        rows : list of dict
            One dict per new label with keys ``candidate_id``, ``pool_index``
            (int or None), ``fingerprint`` and ``label`` (a JSON scalar).
        record : dict
            The round's JSON history entry so far (query information).
        only_new : bool
            Whether the round fine-tunes on the new batch only.
        external : dict of str to ndarray, default=None
            Pixels of candidates from outside the pool, by candidate id.
        meta : dict, default=None
            Metadata entries to update in the same transaction.

        Raises
        ------
        SessionError
            If a candidate id is already stored or the round already exists.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.session import SessionStore
        >>> store = SessionStore.create(tempfile.mkdtemp(), {})
        >>> row = {"candidate_id": "pool:3", "pool_index": 3, "fingerprint": "ab", "label": 1}
        >>> store.commit_batch(1, [row], {"round": 1}, only_new=False)
        >>> [(r["candidate_id"], r["label"], r["round"]) for r in store.read_labels()]
        [('pool:3', 1, 1)]
        """

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO rounds (round, status, only_new, record) VALUES (?, 'labeled', ?, ?)",
                (int(round_), int(bool(only_new)), json.dumps(record)),
            )
            conn.executemany(
                "INSERT INTO labels (candidate_id, pool_index, fingerprint, label, round) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        row["candidate_id"],
                        row["pool_index"],
                        row["fingerprint"],
                        json.dumps(row["label"]),
                        int(round_),
                    )
                    for row in rows
                ],
            )
            if external:
                conn.executemany(
                    "INSERT OR IGNORE INTO external (candidate_id, pixels) VALUES (?, ?)",
                    [(key, _array_to_blob(value)) for key, value in external.items()],
                )
            if meta:
                _upsert_meta(conn, meta)

        try:
            self._transaction(work)
        except sqlite3.IntegrityError as exc:
            raise SessionError(
                f"cannot record round {round_} in {self.db_path}: {exc} (a candidate or the "
                f"round is already stored)."
            ) from exc

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

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.session import SessionStore
        >>> store = SessionStore.create(tempfile.mkdtemp(), {})
        >>> store.commit_batch(1, [], {"round": 1}, only_new=False)
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

        self._transaction(work)

    def read_labels(self) -> list[dict[str, Any]]:
        """Return the labeled candidates in the order they were taught.

        Returns
        -------
        rows : list of dict
            Keys ``seq``, ``candidate_id``, ``pool_index``, ``fingerprint``,
            ``label`` (decoded JSON) and ``round``.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.session import SessionStore
        >>> SessionStore.create(tempfile.mkdtemp(), {}).read_labels()
        []
        """
        rows = self._query(
            "SELECT seq, candidate_id, pool_index, fingerprint, label, round FROM labels "
            "ORDER BY seq"
        )
        try:
            return [
                {
                    "seq": seq,
                    "candidate_id": cid,
                    "pool_index": pool_index,
                    "fingerprint": fp,
                    "label": json.loads(label),
                    "round": round_,
                }
                for seq, cid, pool_index, fp, label, round_ in rows
            ]
        except (TypeError, ValueError) as exc:
            raise SessionError(
                f"the session database {self.db_path} holds an invalid label: {exc}."
            ) from exc

    def read_rounds(self) -> list[dict[str, Any]]:
        """Return every round's status, ``only_new`` flag and history record.

        Returns
        -------
        rounds : list of dict
            Keys ``round``, ``status``, ``only_new`` (bool) and ``record``,
            ordered by round.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.session import SessionStore
        >>> SessionStore.create(tempfile.mkdtemp(), {}).read_rounds()
        []
        """
        rows = self._query("SELECT round, status, only_new, record FROM rounds ORDER BY round")
        try:
            return [
                {"round": r, "status": s, "only_new": bool(o), "record": json.loads(rec)}
                for r, s, o, rec in rows
            ]
        except (TypeError, ValueError) as exc:
            raise SessionError(
                f"the session database {self.db_path} holds an invalid round: {exc}."
            ) from exc

    def read_external(self) -> dict[str, np.ndarray]:
        """Return the stored pixels of candidates taught from outside the pool.

        Returns
        -------
        pixels : dict of str to ndarray
            By candidate id.

        Raises
        ------
        SessionError
            If a stored array cannot be decoded.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.session import SessionStore
        >>> SessionStore.create(tempfile.mkdtemp(), {}).read_external()
        {}
        """
        rows = self._query("SELECT candidate_id, pixels FROM external")
        try:
            return {cid: _blob_to_array(blob) for cid, blob in rows}
        except (ValueError, OSError) as exc:
            raise SessionError(
                f"the session database {self.db_path} holds unreadable candidate pixels: {exc}."
            ) from exc

    # -- weights --------------------------------------------------------------------------
    def write_checkpoint(self, round_: int, save: Callable[[str], Any]) -> dict[str, Any]:
        """Write the weights of a completed round atomically.

        ``save(tmp_path)`` writes the file (e.g. ``estimator.save_checkpoint``);
        it is flushed to disk and renamed to ``weights/round-<round>.pt`` with
        :func:`os.replace`. The database is not changed: pass the returned
        entries to :meth:`complete_round` so that the round and its weights are
        recorded together.

        Parameters
        ----------
        round_ : int
            The completed round (0 for the weights before any round).
        save : callable
            ``save(path)`` writing the checkpoint to ``path``.

        Returns
        -------
        meta : dict
            ``checkpoint_round``, ``checkpoint_file`` (relative to the store)
            and ``checkpoint_sha256``.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from sklearn_aift.session import SessionStore
        >>> store = SessionStore.create(tempfile.mkdtemp(), {})
        >>> store.write_checkpoint(2, lambda p: Path(p).write_bytes(b"w"))["checkpoint_file"]
        'weights/round-000002.pt'
        """
        weights = self.path / WEIGHTS_DIR
        weights.mkdir(parents=True, exist_ok=True)
        name = f"round-{int(round_):06d}.pt"
        tmp = weights / f".{name}.{os.getpid()}.tmp"
        try:
            save(str(tmp))
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            sha = _sha256(tmp)
            os.replace(tmp, weights / name)
        finally:
            if tmp.exists():
                tmp.unlink()
        _fsync_dir(weights)
        return {
            "checkpoint_round": int(round_),
            "checkpoint_file": f"{WEIGHTS_DIR}/{name}",
            "checkpoint_sha256": sha,
        }

    def checkpoint_path(self) -> Path | None:
        """Return the recorded checkpoint file after checking its SHA-256.

        Returns
        -------
        path : Path or None
            None when no weights were recorded (the estimator is used as given).

        Raises
        ------
        SessionError
            If the file is missing or differs from what was recorded.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.session import SessionStore
        >>> SessionStore.create(tempfile.mkdtemp(), {}).checkpoint_path() is None
        True
        """
        meta = self.read_meta()
        relative = meta.get("checkpoint_file")
        if relative is None:
            return None
        path = self.path / relative
        if not path.is_file():
            raise SessionError(
                f"the session store {self.path} records the weights file {relative} "
                f"(round {meta.get('checkpoint_round')}), but it is missing."
            )
        if _sha256(path) != meta.get("checkpoint_sha256"):
            raise SessionError(
                f"the weights file {path} is corrupt or truncated: its SHA-256 differs from "
                f"the one recorded for round {meta.get('checkpoint_round')}."
            )
        return path

    def remove_stale_checkpoints(self) -> None:
        """Delete weight files other than the recorded checkpoint.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_aift.session import SessionStore
        >>> SessionStore.create(tempfile.mkdtemp(), {}).remove_stale_checkpoints()
        """
        keep = self.read_meta().get("checkpoint_file")
        for path in (self.path / WEIGHTS_DIR).glob("round-*.pt"):
            if f"{WEIGHTS_DIR}/{path.name}" != keep:
                try:
                    path.unlink()
                except OSError:  # pragma: no cover - best effort cleanup
                    pass


def _upsert_meta(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(key, json.dumps(value)) for key, value in values.items()],
    )
