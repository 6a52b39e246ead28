"""The "local" provider's transport: in-memory connections to an in-process LocalEngine.

:class:`LocalConnector` is the engine's ``Connector`` port for every provider: a
``local:`` URL (see ``app.core.providers.local``) gets a pair of in-memory
connections, with the server end served by a :class:`~app.engine.local_engine.LocalEngine`
in a task; any other URL goes to the wrapped connector (the WebSocket one). So the app
and the CLI pass one connector whatever the provider.

One engine (and so one loaded model) per model, device and compute type, made on first
use and kept for later sessions. Opening a connection makes the transcriber (which
raises a one-line :class:`~app.core.errors.HarkError` at once when the model is not
there) and starts loading the model in the engine's executor; the session's first
transcription waits for it. When a different model is asked for, idle engines of
other models are closed, so a settings change does not keep two models in memory.

With ``unload_after_s``, an engine's model is also let go once no connection to it
has been open for that long (:meth:`LocalEngine.unload`): a timer on the event loop
starts when the last connection ends and a new connection cancels it. The next
connection loads the model again; its audio is kept and transcribed once the model
is in, as on first use. The delay is the app's policy, given here, not part of the
``local:`` URL: changing it neither makes another engine nor loads another model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from app.core.errors import EndpointUnreachableError
from app.core.options import LocalOptions
from app.core.providers.base import ConnectRequest
from app.engine.ports import Connection, Connector

if TYPE_CHECKING:  # made by the factory: its model code loads with the first local use
    from app.engine.local_engine import LocalEngine

log = logging.getLogger(__name__)

EngineFactory: TypeAlias = "Callable[[LocalOptions], LocalEngine]"
"""Makes the engine for a model: gets the model, device and compute type of a URL."""

_Key: TypeAlias = tuple[str, str, str]  # model, device, compute type


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
        unload_after_s: Let an engine's model go after this many seconds with no
            connection open to it (0: keep it loaded); see :attr:`unload_after_s`.
    """

    def __init__(
        self,
        engine_factory: EngineFactory,
        fallback: Connector | None = None,
        *,
        unload_after_s: float = 0.0,
    ) -> None:
        self._engine_factory = engine_factory
        self._fallback: Connector = fallback or _no_fallback
        self._engines: dict[_Key, LocalEngine] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._unload_after_s = max(0.0, unload_after_s)
        self._open: dict[_Key, int] = {}  # connections being opened or served, per engine
        self._timers: dict[_Key, asyncio.TimerHandle] = {}
        self._unloaded: dict[_Key, float] = {}  # unloaded when idle: after how many seconds
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def engines(self) -> list[LocalEngine]:
        """The engines made so far and still open."""
        return list(self._engines.values())

    @property
    def unload_after_s(self) -> float:
        """Idle seconds after which an engine's model is let go (0: never)."""
        return self._unload_after_s

    @unload_after_s.setter
    def unload_after_s(self, seconds: float) -> None:
        """Change the delay; it applies at once: idle engines' timers start again with it."""
        seconds = max(0.0, seconds)
        if seconds == self._unload_after_s:
            return
        self._unload_after_s = seconds
        for key in list(self._engines):
            if not self._open.get(key):
                self._arm(key)

    async def __call__(
        self, request: ConnectRequest, *, provider: str, open_timeout: float
    ) -> Connection:
        """Open the local engine ``request.local`` names in memory, else ``request.url``
        through the fallback.

        Raises:
            HarkError: For a local model that is not there (one line naming the ways
                out), or whatever the fallback raises.
        """
        options = request.local
        if options is None:
            return await self._fallback(request, provider=provider, open_timeout=open_timeout)
        key = (options.model, options.device, options.compute_type)
        self._loop = asyncio.get_running_loop()
        self._open[key] = self._open.get(key, 0) + 1  # no unload from here on
        self._cancel(key)
        try:
            engine = await self._engine(key, options)
            idle_s = self._unloaded.pop(key, None)
            if idle_s is not None:
                log.info(
                    "loading the local model %s again (unloaded after %s min idle)",
                    key[0],
                    _minutes(idle_s),
                )
            await engine.prepare()
            engine.start_loading()
        except BaseException:
            self._ended(key)
            raise
        client, server = memory_pair()
        task = asyncio.create_task(self._serve(key, engine, server), name="hark-local-session")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return client

    async def _engine(self, key: _Key, options: LocalOptions) -> LocalEngine:
        engine = self._engines.get(key)
        if engine is None:
            for other, idle in list(self._engines.items()):
                if not self._open.get(other) and idle.active_sessions == 0:
                    log.info("closing the local engine for %s (another model is in use)", other[0])
                    self._forget(other)
                    await idle.aclose()
            engine = self._engines[key] = self._engine_factory(options)
        return engine

    async def _serve(self, key: _Key, engine: LocalEngine, server: MemoryConnection) -> None:
        try:
            await engine.serve(server)
        except Exception:
            log.exception("the local session failed")
            await server.close(1011, "internal error")
        finally:
            self._ended(key)

    # -- unloading an idle model ---------------------------------------------------------

    def _ended(self, key: _Key) -> None:
        """A connection to ``key``'s engine ended (or failed to open)."""
        left = self._open.get(key, 0) - 1
        if left > 0:
            self._open[key] = left
            return
        self._open.pop(key, None)
        self._arm(key)

    def _arm(self, key: _Key) -> None:
        """(Re)start ``key``'s idle timer; none with a delay of 0 or no engine."""
        self._cancel(key)
        engine = self._engines.get(key)
        if self._unload_after_s > 0 and engine is not None and engine.loaded and self._loop:
            self._timers[key] = self._loop.call_later(
                self._unload_after_s, self._unload_idle, key, self._unload_after_s
            )

    def _cancel(self, key: _Key) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _unload_idle(self, key: _Key, idle_s: float) -> None:
        self._timers.pop(key, None)
        engine = self._engines.get(key)
        if engine is None or self._open.get(key):
            return
        if engine.unload():
            self._unloaded[key] = idle_s
            log.info("local model %s unloaded after %s min idle", key[0], _minutes(idle_s))
        elif engine.loaded:  # still loading, or a call of an ended session still runs
            self._arm(key)

    def _forget(self, key: _Key) -> None:
        self._cancel(key)
        self._engines.pop(key, None)
        self._unloaded.pop(key, None)

    async def aclose(self) -> None:
        """Close every engine (ending their sessions) and free the models."""
        for key in list(self._timers):
            self._cancel(key)
        engines, self._engines = list(self._engines.values()), {}
        self._unloaded.clear()
        for engine in engines:
            await engine.aclose()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _minutes(seconds: float) -> str:
    """``300`` -> ``5``, ``3`` -> ``0.05``: minutes for a log line."""
    return f"{seconds / 60:.3g}"
