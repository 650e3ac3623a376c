"""Opening sessions written before the page ran on the learner's session store.

Those sessions kept the page's own database, ``<session>/campaign.sqlite``
(tables ``meta``, ``events``, ``batches``, ``dropped``, ``rounds``) and the
weights of each completed round in ``<session>/checkpoints/``. They are
converted when opened: the model starts from the weights of the last completed
round, every event, batch, drop and round is copied into the decision tables
of the new store, and candidates are re-identified by their content through
the file recorded with each row. The old database is renamed
``campaign.sqlite.migrated`` (kept, never read again) only once everything is
written, so an interrupted conversion is started again at the next open.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from ..learner import SessionStore

__all__ = ["OLD_STORE", "check_old_session", "copy_old_session", "discard_unfinished",
           "load_old_weights"]

_logger = logging.getLogger("sklearn_aift.app")

OLD_STORE = "campaign.sqlite"
_MIGRATED_MARK = "migrated_from"


def _read(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _old_meta(path: Path) -> dict[str, Any]:
    return {key: json.loads(value) for key, value in _read(path, "SELECT key, value FROM meta")}


def check_old_session(session: Path, classes: list[str], images_dir: Path) -> None:
    """Refuse to convert a session made for other classes or another folder."""
    meta = _old_meta(session / OLD_STORE)
    if meta.get("classes", classes) != classes:
        raise ValueError(
            f"classes={classes!r} but the session at {str(session)!r} labels "
            f"{meta['classes']!r}; pass the session's classes or a new session folder.")
    if meta.get("images_dir", str(images_dir)) != str(images_dir):
        raise ValueError(
            f"images_dir={str(images_dir)!r} but the session at {str(session)!r} labels images "
            f"of {meta['images_dir']!r}; pass that folder or a new session folder.")


def discard_unfinished(session: Path) -> None:
    """Remove a new store left by an interrupted conversion (the old one is intact)."""
    if (session / OLD_STORE).is_file() and SessionStore.exists(session):
        if _MIGRATED_MARK not in SessionStore(session).read_meta():
            _logger.warning("session %s: finishing an interrupted conversion", session)
            db = SessionStore(session).db_path
            for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                path.unlink(missing_ok=True)
            shutil.rmtree(session / "weights", ignore_errors=True)


def load_old_weights(session: Path, estimator: Any) -> None:
    """Load the weights of the old session's last completed round into ``estimator``."""
    rows = _read(session / OLD_STORE,
                 "SELECT checkpoint FROM rounds WHERE checkpoint != '' ORDER BY round")
    if rows:
        estimator.load_checkpoint(str(session / rows[-1][0]))


def copy_old_session(session: Path, store: SessionStore, ids_by_file: dict[str, str]) -> int:
    """Copy the old database's rows into ``store``'s decision tables, then retire it.

    Each row's candidate becomes the content id of the file it names, when
    that file is in the folder (rows of other files keep their ids).

    Returns
    -------
    n_events : int
        How many decisions were copied.
    """
    old = session / OLD_STORE

    def key(candidate: str, file: str) -> str:
        return ids_by_file.get(file, candidate)

    events = [{"candidate": key(c, f), "file": f, "kind": k, "label": lab, "round": r,
               "time": t, "annotator": a} for c, f, k, lab, r, t, a in _read(
        old, "SELECT candidate, file, kind, label, round, time, annotator FROM events "
             "ORDER BY seq")]
    if events:
        store.add_decisions(events)
    batches: dict[int, list[dict[str, Any]]] = {}
    for r, c, f, score, predicted, proba in _read(
            old, "SELECT round, candidate, file, score, predicted, patch_proba FROM batches "
                 "ORDER BY round, position"):
        batches.setdefault(r, []).append({"id": key(c, f), "file": f, "score": score,
                                          "predicted": predicted,
                                          "patch_proba": json.loads(proba)})
    for r, rows in batches.items():
        store.save_batch(r, rows)
    tables = {name for (name,) in _read(old, "SELECT name FROM sqlite_master")}
    if "dropped" in tables:
        for r, c, f, reason, t in _read(old, "SELECT round, candidate, file, reason, time "
                                             "FROM dropped ORDER BY rowid"):
            store.drop_from_batch(r, [{"id": key(c, f), "file": f, "reason": reason}], at=t)
    for r, n, accuracy, seconds, _, t in _read(
            old, "SELECT round, n_labels, batch_accuracy, training_time, checkpoint, time "
                 "FROM rounds ORDER BY round"):
        store.complete_batch_round({"round": r, "n_labels": n, "batch_accuracy": accuracy,
                                    "training_time": seconds, "learner_round": 0, "time": t})
    store.update_meta(**{_MIGRATED_MARK: OLD_STORE})
    for suffix in ("-wal", "-shm"):
        Path(f"{old}{suffix}").unlink(missing_ok=True)
    os.replace(old, session / f"{OLD_STORE}.migrated")
    shutil.rmtree(session / "checkpoints", ignore_errors=True)
    _logger.info("session %s: converted %d decisions from %s", session, len(events), OLD_STORE)
    return len(events)
