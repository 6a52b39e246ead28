"""The shared WebSocket server: handshake pipeline, fault injection, per-connection records.

Each provider module subclasses :class:`EmulatorServer` (handshake rules) and :class:`Session` (the
protocol skin). Nothing here sleeps except ``Faults.connect_delay_s``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, ClassVar, Literal, Self
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .script import Hypothesis, Script, Timeline

JSON = dict[str, Any]


@dataclass
class Faults:
    """Fault injection; everything is off by default.

    ``drop_after_s`` and ``error_at_s`` fire once per emulator (on the first session whose
    received audio reaches them). ``http_status`` rejects every handshake, or only the first
    ``http_status_times`` ones, with ``retry_after`` as its ``Retry-After`` header.
    ``connect_delay_s`` delays every handshake.
    """

    connect_delay_s: float = 0.0
    reject_key: bool = False
    http_status: int | None = None
    http_status_times: int | None = None
    retry_after: str | None = None  # a Retry-After header on the http_status responses
    raw_frames: tuple[str, ...] = ()  # text frames sent as they are, once, at raw_frames_at_s
    raw_frames_at_s: float = 0.0
    drop_after_s: float | None = None
    error_at_s: float | None = None
    error_message: str = "Emulated provider failure"
    no_flush_reply: bool = False
    metadata_rejection: Literal["close", "error_then_close"] = "close"


class HeaderDict(dict[str, str]):
    """Request headers: names stored lower-cased, looked up case-insensitively."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((name.lower(), value) for name, value in items)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name.lower() if isinstance(name, str) else name)

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)


@dataclass
class ConnectionRecord:
    """What one connection attempt did.

    ``status`` is 101 once upgraded, else the rejecting HTTP status (``rejected`` says why; a
    Baseten metadata rejection keeps 101 and sets ``rejected``).
    """

    index: int
    path: str
    headers: HeaderDict
    query: dict[str, str]
    query_lists: dict[str, list[str]]
    status: int | None = None
    rejected: str | None = None
    metadata: Any = None
    schema: str | None = None
    session_index: int | None = None
    samples_received: int = 0
    frames: list[int] = field(default_factory=list)
    ignored_frames: int = 0
    control: list[Any] = field(default_factory=list)
    sent: list[JSON] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flush_requested: bool = False
    flush_done: bool = False
    close_code: int | None = None
    closed_by: Literal["client", "server", "abort"] | None = None
    client_closed_after_flush: bool = False
    ended: bool = False

    def header(self, name: str) -> str | None:
        """The header's value (case-insensitive), or None."""
        return self.headers.get(name)

    @property
    def client_closed_after_finished(self) -> bool:
        """Baseten wording of :attr:`client_closed_after_flush`."""
        return self.client_closed_after_flush


class Aborted(Exception):
    """Raised inside a session after the drop fault aborted the TCP connection."""


class EmulatorServer:
    """Base class: a real WebSocket server on 127.0.0.1 with a random port."""

    path: ClassVar[str] = "/"

    def __init__(
        self, script: Script | Sequence[Script], *, api_key: str, faults: Faults | None
    ) -> None:
        self.scripts: list[Script] = [script] if isinstance(script, Script) else list(script)
        if not self.scripts:
            raise ValueError("at least one Script is needed")
        self.api_key = api_key
        self.faults = faults if faults is not None else Faults()
        self.connections: list[ConnectionRecord] = []
        self._by_conn: dict[ServerConnection, ConnectionRecord] = {}
        self._server: Server | None = None
        self._changed = asyncio.Event()
        self._sessions = 0
        self._http_status_sent = 0
        self.drop_fired = False
        self.error_fired = False
        self.raw_fired = False

    # -- public API --

    async def __aenter__(self) -> Self:
        delay = self.faults.connect_delay_s
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            open_timeout=10 + delay,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(asyncio.shield(self._server.wait_closed()), 5)
            except TimeoutError:
                # A connection stuck in its opening handshake (its client gone without
                # closing; seen once under load) would hold the close up to open_timeout
                # and past the test's limit: end its handler here, and wait for it.
                stuck = list(self._server.handler_tasks)
                for task in stuck:
                    task.cancel()
                await asyncio.gather(*stuck, return_exceptions=True)
                await self._server.wait_closed()
        for record in self._by_conn.values():  # upgraded, but the handler never ran
            record.ended = True
        self._by_conn.clear()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running; use `async with`")
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path}"

    @property
    def violations(self) -> list[str]:
        return [f"connection {c.index}: {v}" for c in self.connections for v in c.violations]

    @property
    def total_samples(self) -> int:
        return sum(c.samples_received for c in self.connections)

    async def wait_until(self, predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
        """Wait until ``predicate()`` holds; it is re-checked after every server-side event."""
        async with asyncio.timeout(timeout_s):
            while not predicate():
                await self._changed.wait()

    # -- hooks for provider subclasses --

    def authorized(self, record: ConnectionRecord) -> bool:
        raise NotImplementedError

    def check_handshake(self, record: ConnectionRecord) -> tuple[int, str] | None:
        """Validate the query; return ``(status, reason)`` to reject, or record violations."""
        return None

    def new_session(self, ws: ServerConnection, record: ConnectionRecord) -> Session:
        raise NotImplementedError

    # -- machinery --

    def changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def next_script(self, record: ConnectionRecord) -> Script:
        record.session_index = self._sessions
        self._sessions += 1
        return self.scripts[min(record.session_index, len(self.scripts) - 1)]

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        split = urlsplit(request.path)
        lists = parse_qs(split.query, keep_blank_values=True)
        record = ConnectionRecord(
            index=len(self.connections),
            path=split.path,
            headers=HeaderDict(request.headers.raw_items()),
            query={k: ",".join(v) for k, v in lists.items()},
            query_lists=lists,
        )
        self.connections.append(record)
        self.changed()
        if self.faults.connect_delay_s > 0:
            await asyncio.sleep(self.faults.connect_delay_s)
        rejection = self._rejection(record)
        if rejection is not None:
            record.status, record.rejected = rejection
            record.ended = True
            self.changed()
            response = conn.respond(rejection[0], rejection[1] + "\n")
            if self.faults.retry_after is not None and rejection[0] == self.faults.http_status:
                response.headers["Retry-After"] = self.faults.retry_after
            return response
        record.status = HTTPStatus.SWITCHING_PROTOCOLS
        self._by_conn[conn] = record
        return None

    def _rejection(self, record: ConnectionRecord) -> tuple[int, str] | None:
        if record.path != self.path:
            return HTTPStatus.NOT_FOUND, f"Not Found: {record.path}"
        status, times = self.faults.http_status, self.faults.http_status_times
        if status is not None and (times is None or self._http_status_sent < times):
            self._http_status_sent += 1
            return status, f"Injected HTTP {status}"
        if self.faults.reject_key or not self.authorized(record):
            return HTTPStatus.UNAUTHORIZED, "Unauthorized"
        return self.check_handshake(record)

    async def _handle(self, ws: ServerConnection) -> None:
        record = self._by_conn.pop(ws)
        session = self.new_session(ws, record)
        try:
            await session.run()
        except (ConnectionClosed, Aborted):
            pass
        except Exception as exc:
            record.violations.append(f"emulator internal error: {exc!r}")
            raise
        finally:
            session.finish()
            self.changed()


class Session:
    """One accepted connection. Subclasses implement :meth:`run` and :meth:`emit`."""

    def __init__(self, server: EmulatorServer, ws: ServerConnection, record: ConnectionRecord):
        self.server = server
        self.ws = ws
        self.record = record
        self.faults = server.faults
        self.timeline: Timeline | None = None
        self.aborted = False

    async def run(self) -> None:
        raise NotImplementedError

    async def emit(self, hypothesis: Hypothesis) -> None:
        raise NotImplementedError

    async def emit_fatal_error(self, message: str) -> None:
        raise NotImplementedError

    def start_timeline(self, sample_rate: int = 16000, *, revisions: bool = False) -> Timeline:
        script = self.server.next_script(self.record)
        self.timeline = Timeline(script, sample_rate, revisions=revisions)
        return self.timeline

    def violation(self, text: str) -> None:
        self.record.violations.append(text)

    async def send(self, message: JSON) -> None:
        self.record.sent.append(message)
        # Starlette's send_json() encoding: compact, UTF-8 (no \\u escapes).
        await self.ws.send(json.dumps(message, separators=(",", ":"), ensure_ascii=False))
        self.server.changed()

    async def on_audio(self, samples: int) -> None:
        """Advance the script by ``samples`` received samples; apply time-based faults."""
        assert self.timeline is not None
        due = self.timeline.advance(samples)
        faults, now = self.faults, self.timeline.now
        drop = faults.drop_after_s
        if drop is not None and not self.server.drop_fired and now >= drop:
            self.server.drop_fired = True
            self.aborted = True
            self.ws.transport.abort()
            raise Aborted
        if faults.raw_frames and not self.server.raw_fired and now >= faults.raw_frames_at_s:
            self.server.raw_fired = True
            for frame in faults.raw_frames:  # whatever a broken server might send
                await self.ws.send(frame)
        for hypothesis in due:
            await self.emit(hypothesis)
        error = faults.error_at_s
        if error is not None and not self.server.error_fired and now >= error:
            self.server.error_fired = True
            await self.emit_fatal_error(faults.error_message)

    async def close(self, code: int) -> None:
        """Close from the server side, discarding (and counting in ``ignored_frames``) whatever the
        client still sends, so its close frame is read even behind a backlog of audio."""
        closing = asyncio.ensure_future(self.ws.close(code))
        try:
            async for _ in self.ws:
                self.record.ignored_frames += 1
        except ConnectionClosed:
            pass
        await closing

    def parse_json(self, text: str) -> Any:
        """Parse a client text frame into ``control`` (the raw text if it is not JSON)."""
        try:
            value = json.loads(text)
        except ValueError:
            self.record.control.append(text)
            raise
        self.record.control.append(value)
        return value

    def finish(self) -> None:
        record, ws = self.record, self.ws
        record.ended = True
        if self.aborted:
            record.close_code, record.closed_by = 1006, "abort"
            return
        record.close_code = ws.close_code
        protocol = ws.protocol
        if protocol.close_rcvd_then_sent is not None:
            record.closed_by = "client" if protocol.close_rcvd_then_sent else "server"
        else:  # no full closing handshake: whoever sent a close frame, else the client vanished
            record.closed_by = "server" if protocol.close_sent is not None else "client"
        record.client_closed_after_flush = record.flush_done and record.closed_by == "client"


def epoch() -> float:
    """Server wall-clock timestamps that some messages carry (never used for timing)."""
    return round(time.time(), 3)
