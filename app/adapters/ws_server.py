"""The WebSocket server behind ``hark serve``: Baseten's streaming endpoint, self-hosted.

Each connection is wrapped as the engine's ``Connection`` port and handed to the
engine (``LocalEngine.serve``), which speaks the Baseten protocol on it. This module
only does what happens around that: the listening socket, the path, the token, the
bound on concurrent sessions.

Paths: Baseten's ``/environments/production/websocket`` (what its URLs end with, so a
client only changes the host) and ``/``; anything else gets HTTP 404 naming the path.

Auth: with a token, the handshake must carry ``Authorization: Api-Key <token>``
(``Bearer <token>`` is accepted too, as Baseten's v2 docs do), else HTTP 401 before the
upgrade. Listening on anything but loopback without a token is refused. The token is
never logged.

Past ``max_sessions`` concurrent sessions a client is upgraded, sent Baseten's error
frame (``recoverable: false``) and closed with 1013 (try again later).

Abuse (docs/local-engine.md, "Abuse"): a session slot is taken with a client's first
frame, not with its upgrade, so clients that connect and send nothing cannot lock real
users out; they wait in a bounded pool and are closed after ``metadata_timeout_s``.
A session silent for ``idle_timeout_s`` is closed, and so is a client that reads
nothing for that long while the server has something to send it. Frames over
:data:`~app.core.serving.MAX_FRAME_BYTES` close the connection with 1009 unread; the
engine refuses smaller but still oversized ones with Baseten's error frame first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import ssl
import time
from collections.abc import Awaitable
from http import HTTPStatus
from typing import Protocol
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.http11 import Request, Response

from app.adapters.ws_transport import WebSocketConnection
from app.core.baseten_server import BasetenServerProtocol
from app.core.errors import HarkError
from app.core.serving import (
    IDLE_TIMEOUT_S,
    MAX_FRAME_BYTES,
    METADATA_TIMEOUT_S,
    MIN_WAITING,
    TOKEN_ENV,
    WAITING_PER_SESSION,
    WS_MAX_QUEUE,
)
from app.core.urls import is_loopback_host

log = logging.getLogger(__name__)

BASETEN_PATH = "/environments/production/websocket"
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_POLICY_VIOLATION = 1008


class ServeRefused(HarkError):
    """The server would not start (e.g. a network address without a token)."""


class SessionEngine(Protocol):
    """What the server needs from the engine: one protocol session per connection."""

    def serve(self, conn: ServerWebSocket) -> Awaitable[None]:
        """Run one session on ``conn`` until it ends."""


class ServerWebSocket(WebSocketConnection):
    """An accepted connection: the engine's ``ServerConnection`` port over websockets.

    A client that connects and then sends nothing would hold a session slot for ever
    (two of them lock every real user out of a two-session server): after
    ``idle_timeout_s`` without a frame while the engine waits for one, it gets
    Baseten's error shape and a close, and :meth:`recv` reports the connection closed.
    The engine does not read while it transcribes what it has after ``end_audio``, so
    a client waiting for its last finals is never timed out.

    A client that stops reading would block a send for ever once the socket's buffers
    are full (and with it the session's receive loop): a send that waits
    ``idle_timeout_s`` drops the connection, and :meth:`recv` then reports it closed.
    """

    def __init__(self, ws: ServerConnection, idle_timeout_s: float = IDLE_TIMEOUT_S) -> None:
        super().__init__(ws)
        self._server_ws = ws
        self.idle_timeout_s = idle_timeout_s
        self._unread: str | bytes | None = None

    async def recv(self) -> str | bytes | None:
        """The next frame; ``None`` once closed, or after ``idle_timeout_s`` of silence."""
        if self._unread is not None:
            frame, self._unread = self._unread, None
            return frame
        return await self.recv_within(self.idle_timeout_s)

    async def recv_within(self, timeout_s: float) -> str | bytes | None:
        """The next frame; after ``timeout_s`` of silence, Baseten's error, a close and ``None``."""
        try:
            async with asyncio.timeout(timeout_s):
                return await super().recv()
        except TimeoutError:
            log.info("closing %s: nothing received for %g s", self.remote, timeout_s)
            message = f"No audio or message for {timeout_s:g} s; closing the session."
            with contextlib.suppress(Exception):
                await self.send(baseten_error(message, recoverable=False))
                await self.close(CLOSE_POLICY_VIOLATION, "idle")
            return None

    def unread(self, frame: str | bytes) -> None:
        """Give ``frame`` back: the next :meth:`recv` returns it."""
        self._unread = frame

    async def send(self, frame: str | bytes) -> None:
        """Send one frame; a client that reads nothing for ``idle_timeout_s`` is dropped."""
        try:
            async with asyncio.timeout(self.idle_timeout_s):
                await super().send(frame)
        except TimeoutError:
            log.info("dropping %s: it read nothing for %g s", self.remote, self.idle_timeout_s)
            self._server_ws.transport.abort()  # a close handshake would wait on it too

    @property
    def remote(self) -> str:
        """The client's address, for logs."""
        address = self._server_ws.remote_address
        return f"{address[0]}:{address[1]}" if address else "?"


def baseten_error(message: str, *, recoverable: bool) -> str:
    """Baseten's ``error`` frame (docs/wire-protocols.md §1.4 d) as JSON text."""
    return BasetenServerProtocol().error(
        message, recoverable=recoverable, now=round(time.time(), 3)
    )


class HarkServer:
    """A running ``hark serve`` listener (from :func:`serve`).

    Attributes:
        host: The address it was asked to listen on.
        port: The port it listens on (the first socket's, when ``port=0``).
        token_required: Whether clients must send the token.
    """

    def __init__(
        self, server: Server, host: str, *, token_required: bool, tls: bool, path: str
    ) -> None:
        self._server = server
        self.host = host
        self.port = int(next(iter(server.sockets)).getsockname()[1])
        self.token_required = token_required
        self.tls = tls
        self.path = path

    @property
    def url(self) -> str:
        """The URL clients connect to (a wildcard host shown as given)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'wss' if self.tls else 'ws'}://{host}:{self.port}{self.path}"

    def describe(self) -> str:
        """One line for the user: where it listens and who may connect."""
        if self.token_required:
            who = f"clients must send Authorization: Api-Key <the token in ${TOKEN_ENV}>"
        else:
            who = "no token required: only this machine can connect"
        return f"listening on {self.url} ({who})"

    def close(self) -> None:
        """Stop accepting connections and close the open ones (code 1001)."""
        self._server.close()

    async def wait_closed(self) -> None:
        """Wait until the listener and every connection handler have finished."""
        await self._server.wait_closed()

    async def aclose(self) -> None:
        """:meth:`close`, then :meth:`wait_closed`."""
        self.close()
        await self.wait_closed()


async def serve(
    engine: SessionEngine,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None,
    max_sessions: int,
    path: str = BASETEN_PATH,
    ssl_context: ssl.SSLContext | None = None,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
    metadata_timeout_s: float = METADATA_TIMEOUT_S,
) -> HarkServer:
    """Start serving ``engine`` over WebSockets; return once listening.

    Args:
        engine: Runs one Baseten-protocol session per connection.
        host: The address to listen on; anything but loopback needs ``token``.
        port: The TCP port; ``0`` picks a free one (see ``HarkServer.port``; a host
            name with several addresses then gets a different port on each).
        token: The secret clients send as ``Authorization: Api-Key <token>``;
            ``None`` or empty accepts any client (loopback only).
        max_sessions: How many sessions may run at once; more are rejected.
        path: The WebSocket path besides ``/``.
        ssl_context: Serve ``wss://`` with this server-side TLS context.
        idle_timeout_s: Close a client that sends nothing for this long, or reads
            nothing while there is something to send.
        metadata_timeout_s: Close a client that sends no metadata for this long (at
            most ``idle_timeout_s``). Up to ``4 * max_sessions`` (at least 16) clients
            may wait for it at once; more are refused as busy.

    Raises:
        ServeRefused: a non-loopback ``host`` without a token, or ``max_sessions`` < 1.
        OSError: the address cannot be bound (in use, not local).
    """
    if max_sessions < 1:
        raise ServeRefused(f"--max-sessions must be at least 1, got {max_sessions}.")
    if not token and not is_loopback_host(host):
        raise ServeRefused(
            f"Listening on {host} lets other machines connect, so it needs a token: "
            f"set {TOKEN_ENV} (or name another variable with --token-env)."
        )
    accepted = {"/", path}
    expected = [f"Api-Key {token}".encode(), f"Bearer {token}".encode()] if token else []
    active: set[ServerWebSocket] = set()  # sessions: they sent their first frame
    waiting: set[ServerWebSocket] = set()  # upgraded, no frame yet: they hold no slot
    max_waiting = max(MIN_WAITING, WAITING_PER_SESSION * max_sessions)
    first_frame_s = min(metadata_timeout_s, idle_timeout_s)

    def process_request(conn: ServerConnection, request: Request) -> Response | None:
        request_path = urlsplit(request.path).path
        if request_path not in accepted:
            return conn.respond(HTTPStatus.NOT_FOUND, f"Not found; connect to {path}\n")
        if expected:
            given = request.headers.get("Authorization", "").strip().encode()
            if not any(hmac.compare_digest(given, e) for e in expected):
                log.info("rejected a client without the right token")
                return conn.respond(
                    HTTPStatus.UNAUTHORIZED, "Unauthorized: send Authorization: Api-Key <token>\n"
                )
        return None

    async def busy(conn: ServerWebSocket, why: str) -> None:
        log.warning("rejected %s: %s", conn.remote, why)
        message = f"Server busy: it runs at most {max_sessions} sessions; try again later."
        await conn.send(baseten_error(message, recoverable=False))
        await conn.close(CLOSE_TRY_AGAIN_LATER, "server busy")

    async def handler(ws: ServerConnection) -> None:
        conn = ServerWebSocket(ws, idle_timeout_s)
        if len(active) >= max_sessions:
            await busy(conn, f"{len(active)} sessions already running")
            return
        if len(waiting) >= max_waiting:
            await busy(conn, f"{len(waiting)} clients already waiting to send their metadata")
            return
        waiting.add(conn)
        try:
            first = await conn.recv_within(first_frame_s)
        finally:
            waiting.discard(conn)
        if first is None:
            return
        if len(active) >= max_sessions:  # taken while this one connected
            await busy(conn, f"{len(active)} sessions already running")
            return
        conn.unread(first)
        active.add(conn)
        log.info("session from %s started (%d running)", conn.remote, len(active))
        try:
            await engine.serve(conn)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("session from %s failed", conn.remote)
            await conn.send(baseten_error("Internal server error", recoverable=False))
            await conn.close(1011, "internal error")
        finally:
            active.discard(conn)
            log.info("session from %s ended (%d running)", conn.remote, len(active))

    server = await ws_serve(
        handler,
        host,
        port,
        process_request=process_request,
        ssl=ssl_context,
        max_size=MAX_FRAME_BYTES,
        max_queue=WS_MAX_QUEUE,
        server_header="Hark",
    )
    running = HarkServer(
        server, host, token_required=bool(token), tls=ssl_context is not None, path=path
    )
    log.info("%s", running.describe())
    return running
