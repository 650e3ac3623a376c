"""One process per session folder: an advisory lock held while a session is served.

The lock is ``fcntl.flock`` on ``<session>/session.lock``: the operating
system releases it when the process ends, however it ends (``kill -9``
included), so a crashed server never leaves a stale lock behind. The file
holds the owner's process id, for the message another process gets.
"""

from __future__ import annotations

import os
from pathlib import Path

try:  # POSIX; elsewhere sessions are not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["SessionInUseError", "SessionLock", "check_session_free"]

LOCK_FILE = "session.lock"


class SessionInUseError(RuntimeError):
    """The session folder is held by another process (another labeling server).

    The message names the session and the process; the process id is also
    kept in the attribute ``pid`` (None when it could not be read).

    Examples
    --------
    >>> from sklearn_aift.learner import SessionInUseError
    >>> issubclass(SessionInUseError, RuntimeError)
    True
    """

    def __init__(self, session: Path, pid: int | None) -> None:
        owner = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            f"session {str(session)!r} in use by {owner}: stop that server first, or give "
            f"another session folder"
        )
        self.session = session
        self.pid = pid


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class SessionLock:
    """An exclusive lock on a session folder, taken at construction.

    Parameters
    ----------
    session : path-like
        An existing session folder.

    Raises
    ------
    SessionInUseError
        If another open lock holds the folder (in this process or another).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_aift.learner import SessionInUseError, SessionLock
    >>> folder = tempfile.mkdtemp()
    >>> lock = SessionLock(folder)
    >>> try:
    ...     SessionLock(folder)
    ... except SessionInUseError as exc:
    ...     print("held by", "this process" if exc.pid == os.getpid() else exc.pid)
    held by this process
    >>> lock.release()
    """

    def __init__(self, session: str | os.PathLike) -> None:
        self.session = Path(session)
        self.path = self.session / LOCK_FILE
        self._fd: int | None = None
        if fcntl is None:  # pragma: no cover - Windows
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SessionInUseError(self.session, _read_pid(self.path)) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Release the lock (closing the file releases it); a second call does nothing."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def check_session_free(session: str | os.PathLike) -> None:
    """Raise :class:`SessionInUseError` now if another process holds ``session``.

    Takes and releases the lock at once: a quick check before slower set-up
    (the campaign takes the lock for good when it opens).

    Parameters
    ----------
    session : path-like
        A session folder; nothing is checked (or created) when it does not exist.

    Raises
    ------
    SessionInUseError
        If another process (or another lock in this one) holds the folder.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_aift.learner import check_session_free
    >>> check_session_free(tempfile.mkdtemp())
    """
    if os.path.isdir(session):
        SessionLock(session).release()
