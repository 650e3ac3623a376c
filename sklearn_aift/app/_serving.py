"""Serving a campaign: the access token, loopback addresses and the uvicorn server."""

from __future__ import annotations

import ipaddress
import logging
import secrets
import threading
import time
import webbrowser
from typing import Any

__all__ = ["generate_token", "is_loopback", "serve"]

_logger = logging.getLogger(__name__)

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only: ``localhost`` or a loopback address.

    Parameters
    ----------
    host : str
        A host name or IP address (IPv6 without brackets).

    Returns
    -------
    loopback : bool

    Examples
    --------
    >>> from sklearn_aift.app import is_loopback
    >>> is_loopback("127.0.0.2"), is_loopback("::1"), is_loopback("10.0.0.1")
    (True, True, False)
    """
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def generate_token() -> str:
    """A new random access token (32 URL-safe characters).

    Returns
    -------
    token : str

    Examples
    --------
    >>> from sklearn_aift.app import generate_token
    >>> len(generate_token())
    32
    """
    return secrets.token_urlsafe(24)


def serve(campaign: Any, *, host: str = "127.0.0.1", port: int = 8765,
          token: str | None = None, open_url: str | None = None) -> None:
    """Serve the labeling page of ``campaign`` until interrupted.

    Connections must deliver each request's headers in time (see
    ``_connections.py``), so half-open connections cannot lock out an
    authorised client.

    Parameters
    ----------
    campaign : LabelingCampaign
        The campaign to serve.
    host : str, default="127.0.0.1"
        Address to listen on.
    port : int, default=8765
        Port to listen on.
    token : str or None, default=None
        Access token every request must present (see :func:`create_app`).
    open_url : str or None, default=None
        Opened in the default web browser as soon as the server listens.

    Raises
    ------
    ImportError
        If the page's dependencies (the ``[app]`` extra) are not installed.

    Examples
    --------
    ``serve(campaign, port=8765)`` blocks until the server is stopped; with
    ``campaign`` built as in :class:`LabelingCampaign`'s example, this is what
    ``sklearn-aift label`` runs after checking its arguments.
    """
    from . import _import_web

    uvicorn = _import_web("uvicorn")
    create_app = _import_web("._server", __package__).create_app
    protocol = _import_web("._connections", __package__).TimedH11Protocol
    config = uvicorn.Config(create_app(campaign, token=token), host=host, port=port,
                            log_level="warning", http=protocol, timeout_keep_alive=5)
    server = uvicorn.Server(config)
    if open_url is not None:
        threading.Thread(target=_open_when_listening, args=(server, open_url),
                         daemon=True).start()
    server.run()


def _open_when_listening(server: Any, url: str, timeout: float = 60.0) -> None:
    """Open ``url`` in the default browser as soon as ``server`` accepts connections."""
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or server.should_exit:
            return
        time.sleep(0.05)
    if not webbrowser.open(url):
        _logger.warning("no web browser could be opened here: open %s yourself", url)
