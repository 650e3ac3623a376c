"""Connections that must deliver a request in time: the labeling server's HTTP protocol.

uvicorn gives a connection unlimited time to send its request headers, and its
``limit_concurrency`` counts open connections before any token can be checked:
64 clients that send half a request and wait lock every authorised user out.
Here a connection that has not delivered complete request headers within
``HEADER_TIMEOUT`` seconds (after connecting, or after its previous response)
is closed, and no connection-level limit is used: the app limits the requests
it works on at once after checking their token.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "TimedH11Protocol"]

_logger = logging.getLogger(__name__)

#: Seconds a connection has to deliver a request's headers.
HEADER_TIMEOUT = 10.0


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers.

    Pass the class as ``uvicorn.Config(http=TimedH11Protocol)``.

    Examples
    --------
    >>> import uvicorn
    >>> from sklearn_aift.app._connections import TimedH11Protocol
    >>> config = uvicorn.Config("app:app", http=TimedH11Protocol)
    """

    header_timeout = HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        deadline = getattr(self, "_header_deadline", None)
        if deadline is not None:
            deadline.cancel()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        previous = getattr(self, "_header_deadline", None)
        if previous is not None:
            previous.cancel()
        # a new request replaces self.scope: still the same object means none arrived
        waiting_for = self.scope
        self._header_deadline = self.loop.call_later(
            self.header_timeout, self._close_if_no_request, waiting_for)

    def _close_if_no_request(self, waiting_for: object) -> None:
        if self.scope is waiting_for and not self.transport.is_closing():
            _logger.info("closing a connection from %s: no complete request in %.0f s",
                         self.client, self.header_timeout)
            self.transport.close()
