"""The "local" provider's transport: in-memory connections to an in-process LocalEngine.

:class:`LocalConnector` is the engine's ``Connector`` port for every provider: a
``local:`` URL (see ``app.core.providers.local``) gets a pair of in-memory
connections, with the server end served by a :class:`~app.engine.local_server.LocalEngine`
in a task; any other URL goes to the wrapped connector (the WebSocket one). So the app
and the CLI pass one connector whatever the provider.

One engine (and so one loaded model) per model, device and compute type, made on first
use and kept for later sessions. Opening a connection makes the transcriber (which
raises a one-line :class:`~app.core.errors.HarkError` at once when the model is not
there) and starts loading the model in the engine's executor; the session's first
transcription waits for it. When a different model is asked for, idle engines of
other models are closed, so a settings change does not keep two models in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from app.core.errors import EndpointUnreachableError
from app.core.options import LocalOptions
from app.core.providers.base import ConnectRequest
from app.core.providers.local import SCHEME, parse_local_url
from app.engine.local_server import LocalEngine
from app.engine.ports import Connection, Connector

log = logging.getLogger(__name__)

EngineFactory = Callable[[LocalOptions], LocalEngine]
"""Makes the engine for a model: gets the model, device and compute type of a URL."""


@dataclass(frozen=True)
class _Closed:
    code: int
    reason: str


class MemoryConnection:
    """One end of an in-memory WebSocket-like connection (text and binary frames).

    Implements both the ``Connection`` and the ``ServerConnection`` ports. Frames are
    delivered in order; a close (with its code and reason) reaches the other end after
    the frames sent before it. Sending on a closed connection drops the frame, as the
    WebSocket transport does.
    """

    def __init__(self) -> None:
        self.close_code: int | None = None
        self.close_reason = ""
        self.peer: MemoryConnection | None = None
        self._inbox: asyncio.Queue[str | bytes | _Closed] = asyncio.Queue()
        self._closing = False  # close() called, or the peer's close arrived
        self._done = False  # recv() has returned None

    @property
    def closed(self) -> bool:
        """True once either end has closed."""
        return self._closing

    async def send(self, frame: str | bytes) -> None:
        """Deliver one frame to the other end (dropped once either end closed)."""
        peer = self.peer
        if self._closing or peer is None or peer._closing:
            return
        peer._inbox.put_nowait(frame)

    async def recv(self) -> str | bytes | None:
        """The next frame, or ``None`` once closed (``close_code`` then says how)."""
        if self._done:
            return None
        item = await self._inbox.get()
        if isinstance(item, _Closed):
            self._done = True
            self._closing = True
            if self.close_code is None:
                self.close_code, self.close_reason = item.code, item.reason
            return None
        return item

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close both ends with ``code``; frames already sent still reach the other end."""
        if self._closing:
            return
        self._closing = True
        self.close_code, self.close_reason = code, reason
        self._inbox.put_nowait(_Closed(code, reason))  # wakes our own pending recv()
        peer = self.peer
        if peer is not None and not peer._closing:
            peer._closing = True
            peer._inbox.put_nowait(_Closed(code, reason))


def memory_pair() -> tuple[MemoryConnection, MemoryConnection]:
    """A connected ``(client, server)`` pair of in-memory connections."""
    client, server = MemoryConnection(), MemoryConnection()
    client.peer, server.peer = server, client
    return client, server


async def _no_fallback(
    request: ConnectRequest, *, provider: str, open_timeout: float
) -> Connection:
    raise EndpointUnreachableError(f"{provider}: only local: URLs can be opened here")


class LocalConnector:
    """A ``Connector`` that serves ``local:`` URLs in-process and passes the rest on.

    Args:
        engine_factory: Makes the engine for a model (see :data:`EngineFactory`),
            e.g. ``lambda o: LocalEngine(*whisper_factories(o))``.
        fallback: The connector for every other URL (``open_connection``).
    """

    def __init__(self, engine_factory: EngineFactory, fallback: Connector | None = None) -> None:
        self._engine_factory = engine_factory
        self._fallback: Connector = fallback or _no_fallback
        self._engines: dict[tuple[str, str, str], LocalEngine] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def engines(self) -> list[LocalEngine]:
        """The engines made so far and still open."""
        return list(self._engines.values())

    async def __call__(
        self, request: ConnectRequest, *, provider: str, open_timeout: float
    ) -> Connection:
        """Open ``request.url``: in memory for ``local:``, else through the fallback.

        Raises:
            HarkError: For a local model that is not there (one line naming the ways
                out), or whatever the fallback raises.
        """
        if not request.url.startswith(f"{SCHEME}:"):
            return await self._fallback(request, provider=provider, open_timeout=open_timeout)
        options = parse_local_url(request.url)
        engine = await self._engine(options)
        await engine.prepare()
        engine.start_loading()
        client, server = memory_pair()
        task = asyncio.create_task(self._serve(engine, server), name="hark-local-session")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return client

    async def _engine(self, options: LocalOptions) -> LocalEngine:
        key = (options.model, options.device, options.compute_type)
        engine = self._engines.get(key)
        if engine is None:
            for other, idle in list(self._engines.items()):
                if idle.active_sessions == 0:
                    log.info("closing the local engine for %s (another model is in use)", other[0])
                    del self._engines[other]
                    await idle.aclose()
            engine = self._engines[key] = self._engine_factory(options)
        return engine

    @staticmethod
    async def _serve(engine: LocalEngine, server: MemoryConnection) -> None:
        try:
            await engine.serve(server)
        except Exception:
            log.exception("the local session failed")
            await server.close(1011, "internal error")

    async def aclose(self) -> None:
        """Close every engine (ending their sessions) and free the models."""
        engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            await engine.aclose()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
