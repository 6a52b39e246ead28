"""WebSocket connections with the ``websockets`` library, mapped to Hark's typed errors.

TLS uses the default, verifying SSL context; ``ws://`` URLs were already limited to
loopback by the protocol (``app.core.urls``).
"""

from __future__ import annotations

import email.utils
import logging
import ssl
from datetime import UTC, datetime
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.asyncio.connection import Connection as WsConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.version import version as websockets_version

from app import __version__
from app.core.errors import (
    EndpointUnreachableError,
    KeyRejectedError,
    ProviderBusyError,
    SessionTimeout,
)
from app.core.providers.base import ConnectRequest

log = logging.getLogger(__name__)


class WebSocketConnection:
    """An open connection, client or server side: the engine's ``Connection`` port."""

    def __init__(self, ws: WsConnection) -> None:
        self._ws = ws
        self.close_code: int | None = None
        self.close_reason = ""

    async def send(self, frame: str | bytes) -> None:
        """Send one frame; a closed connection is noticed by ``recv``, not here."""
        try:
            await self._ws.send(frame)
        except ConnectionClosed:
            log.debug("send on a closed connection dropped")

    async def recv(self) -> str | bytes | None:
        """Return the next frame, or ``None`` when the connection has closed."""
        try:
            return await self._ws.recv()
        except ConnectionClosed as exc:
            frame = exc.rcvd or exc.sent
            self.close_code = frame.code if frame else 1006
            self.close_reason = frame.reason if frame else "connection lost"
            return None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close (1000 unless told otherwise) and wait for the closing handshake."""
        await self._ws.close(code, reason)


async def open_connection(
    request: ConnectRequest, *, provider: str, open_timeout: float
) -> WebSocketConnection:
    """Open a WebSocket connection: the engine's ``Connector`` port.

    Raises:
        KeyRejectedError: HTTP 401 or 403 during the handshake.
        ProviderBusyError: HTTP 429 or 503, with the server's ``Retry-After`` if any.
        EndpointUnreachableError: DNS, TCP, TLS or any other handshake failure.
        SessionTimeout: the handshake took longer than ``open_timeout`` seconds.
    """
    host = urlsplit(request.url).hostname or request.url
    ssl_context = ssl.create_default_context() if request.url.startswith("wss://") else None
    try:
        ws = await connect(
            request.url,
            additional_headers=dict(request.headers),
            user_agent_header=f"Hark/{__version__} websockets/{websockets_version}",
            open_timeout=open_timeout,
            ssl=ssl_context,
            max_size=16 * 1024 * 1024,
            # No permessage-deflate: what we send is PCM, which deflate barely shrinks, at
            # a cost on every frame (it showed in profiles of a dictation made with
            # bench/desktop_cpu.py --profile); what we receive is small JSON.
            compression=None,
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise KeyRejectedError(
                f"{provider} rejected the API key (HTTP {status}). "
                f"Check it with `hark keys set {provider.split()[0].lower()}`."
            ) from None
        refused = f"{provider} refused the connection to {host} (HTTP {status})."
        if status in (429, 503):
            wait = retry_after(exc.response.headers.get("Retry-After"))
            if wait is not None:
                refused += f" It asked to retry in {wait:g} s."
            raise ProviderBusyError(refused, wait) from None
        raise EndpointUnreachableError(refused) from None
    except TimeoutError:
        raise SessionTimeout(
            f"{provider} at {host} did not answer within {open_timeout:g} s."
        ) from None
    except ssl.SSLError as exc:
        raise EndpointUnreachableError(
            f"TLS with {host} failed ({exc.reason or exc}); the certificate could not be verified."
        ) from None
    except (OSError, InvalidHandshake, InvalidURI) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise EndpointUnreachableError(f"Cannot reach {provider} at {host}: {why}.") from None
    log.debug("connected to %s", host)
    return WebSocketConnection(ws)


def retry_after(value: str | None) -> float | None:
    """Seconds from now that a ``Retry-After`` header names (delta-seconds or an HTTP
    date), or ``None`` for a missing or unreadable one."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, round((when - datetime.now(UTC)).total_seconds()))
