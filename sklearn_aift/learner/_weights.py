"""Weight files of a session store: atomic writes, SHA-256 checks, clean-up."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

from ._errors import SessionError

WEIGHTS_DIR = "weights"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
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


class CheckpointFiles:
    """The weight files of a session store (mixed into :class:`SessionStore`).

    Subclasses provide ``path`` (the session folder), ``db_path`` and
    ``read_meta()``.
    """

    path: Path

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
        >>> from sklearn_aift.learner import SessionStore
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
        fsync_dir(weights)
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
        >>> from sklearn_aift.learner import SessionStore
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
        >>> from sklearn_aift.learner import SessionStore
        >>> SessionStore.create(tempfile.mkdtemp(), {}).remove_stale_checkpoints()
        """
        keep = self.read_meta().get("checkpoint_file")
        for path in (self.path / WEIGHTS_DIR).glob("round-*.pt"):
            if f"{WEIGHTS_DIR}/{path.name}" != keep:
                try:
                    path.unlink()
                except OSError:  # pragma: no cover - best effort cleanup
                    pass


