"""One streaming session: connect, stream audio while receiving, flush, close.

:class:`StreamingSession` drives a sans-I/O provider protocol over a
:class:`~app.engine.ports.Connection`. Audio is read from the source into a queue
from the first moment, so nothing captured while the connection is still opening is
lost. On the end of the audio it flushes at once (no waiting for server-side silence
detection), waits for the provider to confirm, and closes.

Baseten's metadata schema: in ``auto`` mode the session tries the schema that last
worked for the endpoint (else the current one); if the provider rejects the
metadata, it reconnects once with the other schema, replays the audio sent so far,
and remembers the schema that worked.

Reconnects (``reconnect_attempts > 0``): when the connection is lost before the
provider confirmed the end of the audio (an abnormal close, 1006, 1011, any close
without a fatal provider error), the session opens a new connection after a short
backoff (:func:`reconnect_delays`) and sends it the audio from the resume point on:
where every utterance had its final (:mod:`app.core.resume`; the start, for a
provider whose finals carry no times). The finals before it are kept and emitted
again; the new connection's events are shifted into session time, so nothing is
lost and nothing is duplicated (docs/wire-protocols.md §5.4). To do that the session
keeps the PCM it has sent since the resume point (16 kHz s16: 1.9 MB a minute), up
to ``max_replay_s``. Rejected keys, rejected settings, fatal provider errors and a
flush that was never confirmed on a live connection are not retried.

A busy provider (HTTP 429 or 503 at the first handshake) that says when to come back
(``Retry-After``, at most :data:`MAX_RETRY_AFTER_S`) is tried once more after that
wait, announced through ``on_retry``; the audio captured meanwhile is kept and sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

from app.core.errors import (
    EndpointUnreachableError,
    ProviderBusyError,
    ProviderFailure,
    SessionTimeout,
)
from app.core.events import (
    ConfigRejected,
    Event,
    FlushAck,
    ProviderError,
    SessionEnded,
)
from app.core.options import PROVIDER_TITLES, ProviderOptions
from app.core.providers.base import StreamingProtocol
from app.core.providers.registry import build_protocol, connection_variants
from app.core.resume import ConnectionTrack
from app.core.transcript import Transcript
from app.engine.ports import AudioSource, Connection, Connector, SchemaMemory

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_S = 10.0
"""The longest ``Retry-After`` a session waits out (once); a longer one fails at once."""


class _MetadataRejected(Exception):
    """Internal: the provider refused this connection's configuration."""


class _ConnectionLost(Exception):
    """Internal: the connection ended before the flush was confirmed; maybe retried.

    Attributes:
        failure: The error to raise when no reconnect is left.
    """

    def __init__(self, failure: ProviderFailure | EndpointUnreachableError | SessionTimeout):
        super().__init__(str(failure))
        self.failure = failure


def reconnect_delays() -> Iterator[float]:
    """Seconds to wait before each reconnect: 0.2, 0.5, then 1 s for every later one."""
    yield 0.2
    yield 0.5
    while True:
        yield 1.0


class _AudioFeed:
    """The session's audio on its way from the source to one connection after another.

    The source's PCM is queued from the first block. While the provider has not yet
    accepted the configuration (Baseten ``auto``), what was taken from the queue is
    also kept, so a retry on a new connection replays it before continuing. With
    ``keep_all`` (reconnects) every chunk is kept, up to ``max_replay_bytes``; past
    that, ``overflowed`` is set and reconnecting is no longer possible. The end of
    the audio is remembered, so a retry after the source ended still flushes.
    """

    def __init__(
        self, keep_replay: bool, *, keep_all: bool = False, max_replay_bytes: int = 0
    ) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.keep_replay = keep_replay
        self.keep_all = keep_all
        self.max_replay_bytes = max_replay_bytes
        self.replay: list[bytes] = []
        self.replay_bytes = 0
        self.replay_start = 0  # the sample of the session the replay starts at
        self.overflowed = False
        self.ended = False

    def trim(self, sample: int) -> None:
        """Forget the kept audio before ``sample``: the provider finalised it."""
        drop = (sample - self.replay_start) * 2
        while drop > 0 and self.replay:
            first = self.replay[0]
            if len(first) <= drop:
                self.replay.pop(0)
                cut = len(first)
            else:
                self.replay[0] = first[drop:]
                cut = drop
            drop -= cut
            self.replay_bytes -= cut
            self.replay_start += cut // 2

    async def chunks(self, confirmed: Callable[[], bool]) -> AsyncIterator[bytes]:
        """Yield the replay, then queued PCM until the end of the audio."""
        for earlier in list(self.replay):
            yield earlier
        while not self.ended:
            pcm = await self.queue.get()
            if pcm is None:
                self.ended = True
                return
            if self.keep_all and self.replay_bytes + len(pcm) > self.max_replay_bytes:
                log.warning(
                    "the session's audio passed %.1f MB; a lost connection cannot be resumed",
                    self.max_replay_bytes / 1e6,
                )
                self.keep_all, self.overflowed = False, True
            if self.keep_all or (self.keep_replay and not confirmed()):
                self.replay.append(pcm)
                self.replay_bytes += len(pcm)
            yield pcm


@dataclass
class SessionResult:
    """What a finished session produced.

    Attributes:
        transcript: The finals (and any partials left open).
        flush_confirmed: False when the provider never confirmed the end of audio and
            the session gave up waiting (the last words may be missing).
        schema: The Baseten metadata schema that worked, else ``None``.
        samples_sent: 16-bit samples sent to the provider on the final connection.
    """

    transcript: Transcript = field(default_factory=Transcript)
    flush_confirmed: bool = True
    schema: str | None = None
    samples_sent: int = 0


class StreamingSession:
    """Streams one audio source to one provider and collects the transcript.

    Args:
        options: The provider's options (their class picks the provider).
        api_key: The provider API key; only ever placed in the handshake headers.
        connector: Opens WebSocket connections.
        schema_memory: Where Baseten schema auto-detection remembers its answer.
        connect_timeout: Seconds the handshake may take.
        flush_timeout: Seconds of silence from the provider, after the flush, before
            giving up on its confirmation.
        on_event: Called on the event loop for every event, in order. After a
            reconnect the new connection's events follow: they transcribe the audio
            from its start again, so a display should clear its text when
            ``on_reconnect`` is called.
        reconnect_attempts: How many times in a row a connection lost before the
            flush was confirmed is replaced by a new one, sent the audio from the last
            final on (a connection that delivered a final resets the count).
            ``0`` (the default) keeps no audio and fails at once; dictation and
            live captions use a few.
        on_reconnect: Called on the event loop with ``(attempt, reason)`` (attempt
            counts from 1; reason is the one-line error of the lost connection) just
            before waiting to reconnect.
        on_retry: Called with ``(seconds, reason)`` before waiting out a busy
            provider's ``Retry-After`` (at most once a session).
        on_audio: Called with ``(pcm, rate)`` for every block of the source as it is
            queued: 16-bit mono PCM at the provider's rate (to keep it for a retry).
        max_replay_s: Seconds of 16 kHz audio not yet final kept for reconnects; past
            that the session stops keeping audio (logged) and is no longer reconnected.
    """

    def __init__(
        self,
        options: ProviderOptions,
        api_key: str,
        connector: Connector,
        *,
        schema_memory: SchemaMemory | None = None,
        connect_timeout: float = 10.0,
        flush_timeout: float = 5.0,
        on_event: Callable[[Event], None] | None = None,
        reconnect_attempts: int = 0,
        on_reconnect: Callable[[int, str], None] | None = None,
        max_replay_s: float = 600.0,
        on_retry: Callable[[float, str], None] | None = None,
        on_audio: Callable[[bytes, int], None] | None = None,
    ) -> None:
        if reconnect_attempts < 0:
            raise ValueError("reconnect_attempts must not be negative")
        self.options = options
        self._api_key = api_key
        self._connector = connector
        self._schema_memory = schema_memory
        self.connect_timeout = connect_timeout
        self.flush_timeout = flush_timeout
        self._on_event = on_event or (lambda event: None)
        self.reconnect_attempts = reconnect_attempts
        self._on_reconnect = on_reconnect or (lambda attempt, reason: None)
        self._on_retry = on_retry or (lambda seconds, reason: None)
        self._on_audio = on_audio or (lambda pcm, rate: None)
        self.max_replay_s = max_replay_s
        self.title = PROVIDER_TITLES.get(options.provider, options.provider)

    # -- public -------------------------------------------------------------------

    async def run(self, source: AudioSource) -> SessionResult:
        """Stream ``source`` to the provider and return the transcript.

        Raises:
            HarkError: a subclass with a one-line message on any failure.
        """
        protocol = build_protocol(self.options)
        endpoint = protocol.connect_request(self._api_key).url
        candidates = self._schema_candidates(endpoint)
        feed = _AudioFeed(
            keep_replay=len(candidates) > 1,
            keep_all=self.reconnect_attempts > 0,
            max_replay_bytes=round(self.max_replay_s * protocol.sample_rate) * 2,
        )
        pump = asyncio.create_task(
            self._pump(source, protocol.sample_rate, feed.queue), name="hark-audio-pump"
        )
        try:
            return await self._run_attempts(endpoint, candidates, feed, pump)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    # -- attempts (Baseten schema fallback) -------------------------------------------

    def _schema_candidates(self, endpoint: str) -> list[str | None]:
        remembered = self._schema_memory.get(endpoint) if self._schema_memory else None
        return connection_variants(self.options, remembered)

    async def _run_attempts(
        self,
        endpoint: str,
        candidates: list[str | None],
        feed: _AudioFeed,
        pump: asyncio.Task[None],
    ) -> SessionResult:
        index = 0
        reconnects = 0
        busy_retried = False  # one retry for a busy server that said when to come back
        delays = reconnect_delays()
        track = ConnectionTrack()
        while True:
            schema = candidates[index]
            protocol = build_protocol(self.options, schema=schema)
            try:
                result = await self._attempt(
                    protocol, feed, pump, track, reconnecting=reconnects > 0
                )
            except _MetadataRejected as exc:
                if index + 1 < len(candidates):
                    log.info(
                        "%s rejected the %s metadata schema (%s); retrying with the %s schema",
                        self.title,
                        schema,
                        exc,
                        candidates[index + 1],
                    )
                    index += 1
                    continue
                tried = " and ".join(f"the {s} schema" for s in candidates if s)
                raise ProviderFailure(
                    f"{self.title} rejected the session settings with {tried}: {exc}. "
                    "Check the endpoint and the options you set."
                ) from None
            except ProviderBusyError as busy:
                if busy_retried or busy.retry_after is None or busy.retry_after > MAX_RETRY_AFTER_S:
                    raise
                busy_retried = True
                wait = busy.retry_after
                log.warning("%s Retrying once in %g s.", busy, wait)
                self._on_retry(wait, str(busy))
                await asyncio.sleep(wait)
                continue
            except _ConnectionLost as lost:
                if track.watermark_s > track.offset_s:
                    # That connection got somewhere: count the attempts afresh (live
                    # captions run for hours; each drop gets the same chances).
                    reconnects, delays = 0, reconnect_delays()
                if reconnects >= self.reconnect_attempts or feed.overflowed:
                    raise lost.failure from None
                reconnects += 1
                delay = next(delays)
                log.warning(
                    "%s; reconnecting in %.1f s (attempt %d of %d) to send the audio again",
                    str(lost.failure).rstrip("."),
                    delay,
                    reconnects,
                    self.reconnect_attempts,
                )
                self._on_reconnect(reconnects, str(lost.failure))
                await asyncio.sleep(delay)
                track = self._resume_point(track, feed, protocol.sample_rate, reconnects)
                continue
            result.schema = schema
            if len(candidates) > 1 and schema is not None and self._schema_memory is not None:
                self._schema_memory.set(endpoint, schema)
            return result

    def _resume_point(
        self, lost: ConnectionTrack, feed: _AudioFeed, rate: int, attempt: int
    ) -> ConnectionTrack:
        """The track of the next connection: it starts where everything was final.

        The finals kept are emitted again, so a display cleared by ``on_reconnect``
        shows them. The feed was trimmed to the watermark as it moved (``_handle``),
        so its replay starts there.
        """
        offset = feed.replay_start / rate
        log.info(
            "resuming at %.2f s of audio: %d finals kept, %.1f s to send again",
            offset,
            len(lost.kept),
            feed.replay_bytes / 2 / rate,
        )
        for final in lost.kept:
            self._on_event(final)
        return ConnectionTrack(offset, f"r{attempt}.", lost.kept)

    async def _attempt(
        self,
        protocol: StreamingProtocol,
        feed: _AudioFeed,
        pump: asyncio.Task[None],
        track: ConnectionTrack,
        *,
        reconnecting: bool = False,
    ) -> SessionResult:
        request = protocol.connect_request(self._api_key)
        log.info("connecting to %s", request.url)
        try:
            conn = await self._connector(
                request, provider=self.title, open_timeout=self.connect_timeout
            )
        except (EndpointUnreachableError, SessionTimeout) as exc:
            if reconnecting:  # the trouble that cost the last connection may be passing
                raise _ConnectionLost(exc) from None
            raise
        run = _ConnectionRun(self, protocol, conn, track, feed)
        try:
            return await run.drive(feed, pump)
        finally:
            await run.shutdown()

    # -- audio --------------------------------------------------------------------------

    async def _pump(
        self, source: AudioSource, rate: int, queue: asyncio.Queue[bytes | None]
    ) -> None:
        """Read the source into ``queue`` as 16-bit PCM at ``rate``; ``None`` marks the end."""
        # Here, not at the top: numpy and soxr load with the first session, not the app.
        from app.core.audio import FloatArray, StreamResampler, float_to_pcm16

        resampler = StreamResampler(source.sample_rate, source.channels, rate)

        def put(out: FloatArray) -> None:
            if out.size:
                pcm = float_to_pcm16(out)
                self._on_audio(pcm, rate)
                queue.put_nowait(pcm)

        async for block in source.blocks():
            put(resampler.process(block))
        put(resampler.finish())
        queue.put_nowait(None)


class _ConnectionRun:
    """The work on one connection: a sender and a receiver running side by side."""

    def __init__(
        self,
        session: StreamingSession,
        protocol: StreamingProtocol,
        conn: Connection,
        track: ConnectionTrack,
        feed: _AudioFeed,
    ) -> None:
        self.session = session
        self.protocol = protocol
        self.conn = conn
        self.track = track
        self.feed = feed
        self.result = SessionResult()
        for final in track.kept:  # the earlier connections' text stays
            self.result.transcript.apply(final)
        self._send_lock = asyncio.Lock()
        self._flush_acked = asyncio.Event()
        self._frame_seen = asyncio.Event()  # set on every received frame
        self._confirmed = False
        self._loop = asyncio.get_running_loop()
        self._last_frame_at = self._loop.time()
        self._receiver: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None

    async def drive(self, feed: _AudioFeed, pump: asyncio.Task[None]) -> SessionResult:
        """Stream the feed, flush, and wait for the confirmation; raises on failure."""
        self.protocol.start()
        await self._send_pending()
        self._receiver = asyncio.create_task(self._receive(), name="hark-receive")
        self._sender = asyncio.create_task(self._send_audio(feed), name="hark-send")
        # Until the flush is sent, the receiver only ends by failing (or the server closing).
        done, _ = await asyncio.wait(
            {self._sender, self._receiver, pump}, return_when=asyncio.FIRST_COMPLETED
        )
        if pump in done and pump.exception() is not None:
            raise pump.exception()  # type: ignore[misc]
        if self._receiver in done:
            self._receiver.result()  # raises the failure
            raise self._closed_early()
        if self._sender not in done:
            await asyncio.wait({self._sender, self._receiver}, return_when=asyncio.FIRST_COMPLETED)
            if self._receiver.done():
                self._receiver.result()
                raise self._closed_early()
        self._sender.result()
        await self._await_flush_ack()
        return self.result

    async def _await_flush_ack(self) -> None:
        assert self._receiver is not None
        ack = asyncio.create_task(self._flush_acked.wait())
        try:
            while True:
                settle = self.protocol.flush_settle_after()
                wait = self.session.flush_timeout if settle is None else settle
                remaining = self._last_frame_at + wait - self._loop.time()
                if remaining <= 0 and settle is not None:
                    # The provider ignored the flush, but what it sent shows it has
                    # nothing left (Baseten runtimes without end_audio: the trailing
                    # silence ended the utterance).
                    log.info("no reply to the flush; %.1f s of quiet after the last final", wait)
                    self.protocol.settle_flush()
                    for event in self.protocol.events_received():
                        self._handle(event)
                    return
                if remaining <= 0:
                    break
                self._frame_seen.clear()
                frame = asyncio.create_task(self._frame_seen.wait())
                done, _ = await asyncio.wait(
                    {ack, self._receiver, frame},
                    timeout=remaining,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                frame.cancel()  # a frame only means: compute the deadline again
                if ack in done:
                    return
                if self._receiver in done:
                    self._receiver.result()
                    if self._flush_acked.is_set():
                        return
                    raise self._closed_early()
        finally:
            ack.cancel()
        if self.protocol.flush_ack_guaranteed:
            raise SessionTimeout(
                f"{self.session.title} did not confirm the end of the audio within "
                f"{self.session.flush_timeout:g} s; the last words may be missing."
            )
        # Together confirms a commit only by transcribing something: with nothing left
        # to transcribe, silence is the answer (docs/wire-protocols.md §5.3).
        log.info(
            "no flush confirmation within %.1f s; assuming nothing was pending",
            self.session.flush_timeout,
        )
        self.result.flush_confirmed = False
        self._emit(FlushAck(synthesized=True))

    def _closed_early(self) -> _ConnectionLost:
        code = self.conn.close_code
        reason = f" ({self.conn.close_reason})" if self.conn.close_reason else ""
        return _ConnectionLost(
            ProviderFailure(
                f"{self.session.title} closed the connection before the transcript was "
                f"complete (code {code}{reason})."
            )
        )

    async def shutdown(self) -> None:
        """Close the connection and stop both tasks."""
        if self._sender is not None:
            self._sender.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.conn.close(), timeout=self.session.flush_timeout)
        if self._receiver is not None:
            try:
                await asyncio.wait_for(self._receiver, timeout=self.session.flush_timeout)
            except (Exception, asyncio.CancelledError):
                self._receiver.cancel()
        for task in (self._sender, self._receiver):
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task

    # -- sending ------------------------------------------------------------------------

    async def _send_pending(self) -> None:
        async with self._send_lock:
            for frame in self.protocol.data_to_send():
                await self.conn.send(frame)

    async def _send_audio(self, feed: _AudioFeed) -> None:
        async for pcm in feed.chunks(lambda: self._confirmed):
            self._feed(pcm)
            await self._send_pending()
        self.protocol.flush()
        await self._send_pending()
        # The provider's silence is measured from the flush, not from its last message.
        self._last_frame_at = self._loop.time()
        log.info("flush sent after %d samples", self.result.samples_sent)

    def _feed(self, pcm: bytes) -> None:
        self.protocol.send_audio(pcm)
        self.result.samples_sent += len(pcm) // 2

    # -- receiving ------------------------------------------------------------------------

    async def _receive(self) -> None:
        while True:
            frame = await self.conn.recv()
            self._last_frame_at = self._loop.time()
            if frame is None:
                self.protocol.connection_closed(self.conn.close_code, self.conn.close_reason)
            elif isinstance(frame, str):
                self.protocol.receive_text(frame)
            else:
                self.protocol.receive_bytes(frame)
            for event in self.protocol.events_received():
                self._handle(event)
            self._frame_seen.set()
            await self._send_pending()
            if frame is None:
                return

    def _handle(self, event: Event) -> None:
        if isinstance(event, ConfigRejected):
            raise _MetadataRejected(event.message)
        if not isinstance(event, ProviderError | SessionEnded):
            self._confirmed = True
        if isinstance(event, ProviderError) and event.fatal:
            raise ProviderFailure(f"{self.session.title} reported an error: {event.message}")
        if isinstance(event, ProviderError):
            log.info("%s reported: %s", self.session.title, event.message)
        mark = self.track.watermark_s
        event = self.track.translate(event)
        if self.track.watermark_s > mark and self.feed.keep_all:
            # Final up to here: the audio before it need never be sent again.
            self.feed.trim(round(self.track.watermark_s * self.protocol.sample_rate))
        self.result.transcript.apply(event)
        self._emit(event)
        if isinstance(event, FlushAck):
            self._flush_acked.set()

    def _emit(self, event: Event) -> None:
        self.session._on_event(event)
