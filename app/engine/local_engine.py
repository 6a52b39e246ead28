"""The local speech engine: Baseten's streaming protocol over a local Whisper model.

:class:`LocalEngine` serves one Baseten-protocol session per connection
(docs/wire-protocols.md §4; the server side is :mod:`app.core.baseten_server`). The
app's "local" provider runs it in-process over an in-memory connection
(:mod:`app.engine.local_connector`);
``hark serve`` runs it behind a WebSocket server. Per session:

- audio is cut into 512-sample windows, scored by the VAD and segmented into
  utterances by :class:`~app.core.endpointing.Endpointer`;
- while the user speaks, the utterance is decoded again every ``partial_interval_s``
  of new speech (a *pass*), and each pass is sent as a partial. Words two successive
  passes agree on are committed (:class:`~app.core.agreement.Agreement`): later
  passes decode only the audio after them, with their text as context. So at the end
  of the utterance only the last second or two is left to decode, however long the
  utterance was;
- a final goes out at the VAD endpoint, at ``max_final_duration_s``, or at
  ``end_audio`` (``is_end_of_audio_flush``). When nothing was said since the last
  pass, that pass is the final; otherwise the uncommitted tail is decoded, with
  temperature fallback. Finals carry on the session's text as the next utterance's
  context, as Whisper does between windows. A final with no words (only
  punctuation, or nothing) is not sent;
- partials never delay a final: a pass falls due only while new speech arrives, it
  is dropped (never queued) when this session's previous job is still queued or
  running or when the model is busy, and finals go to the model before any partial;
- ``end_audio`` is acknowledged at once; the session then waits for its queued work,
  sends the flush final (only when the VAD is in speech) and ``finished``. The server
  never closes a session by itself after that.

Threads: inference never runs on the event loop. Every model call (creating the
transcriber, loading it, transcribing) goes to the engine's executor, ``workers``
threads shared by all sessions (one by default: CTranslate2 already spreads one
transcription over several cores, and the desktop app has one session; ``hark
serve`` runs several). :class:`_Scheduler` hands the workers out, finals first. The
event loop keeps turning because CTranslate2 releases the GIL while it computes. The
VAD runs on the event loop: one window costs about 0.2 ms (0.6 % of its 32 ms), and
the session yields to the loop every 16 windows so a client sending faster than real
time cannot stall it.

Client input: every frame a client sends goes through :func:`decode_client_frame`, the
one hardened decoding step (size limits, then the protocol's own JSON decoding with its
nesting limit and lone-surrogate cleaning, then the metadata's values bounded so the
endpointing can use them). What it refuses either becomes an event the session answers
(:class:`~app.core.baseten_server.MetadataRejected`, ``BadFrame``) or a
:class:`ClientFrameRefused`, which ends the session with Baseten's error frame and a
close. With ``slow_client_grace_s`` (``hark serve``), a client that sends audio slower
than :data:`~app.core.serving.MIN_AUDIO_RATE` times real time is closed too.

The model can be let go between sessions (:meth:`LocalEngine.unload`, which the
in-process connector calls after an idle time): the engine drops its transcriber,
and the next session makes and loads it again, its audio waiting meanwhile as on
first use.
"""

from __future__ import annotations

import asyncio
import collections.abc
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import math
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from app.core.agreement import Agreement, drop_after, has_words, pass_words
from app.core.audio import Framer, pcm16_to_float
from app.core.baseten_metadata import AcceptSchema, SessionParams, params_from_options
from app.core.baseten_server import (
    AudioFrame,
    BadFrame,
    BasetenServerProtocol,
    EndAudio,
    HealthCheck,
    MetadataReceived,
    MetadataRejected,
    Phase,
    ServerEvent,
)
from app.core.endpointing import NEG_THRESHOLD_GAP, WINDOW, Chunk, Endpointer, FloatArray
from app.core.errors import HarkError
from app.core.jsonwire import clean_text
from app.core.local_types import TranscribedSegment, TranscriptionResult
from app.core.options import LocalOptions
from app.core.serving import MAX_AUDIO_FRAME_BYTES, MAX_TEXT_FRAME_CHARS, MIN_AUDIO_RATE
from app.engine.ports import ServerConnection, Transcriber, Vad

log = logging.getLogger(__name__)

CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY_VIOLATION = 1008
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_MESSAGE_TOO_BIG = 1009
YIELD_EVERY_WINDOWS = 16

_T = TypeVar("_T")


class LocalEngine:
    """Serves Baseten-protocol sessions with a local model (see the module docstring).

    Args:
        transcriber_factory: Makes the transcriber; called once, in the executor. It
            may raise :class:`~app.core.errors.HarkError` (a missing model).
        vad_factory: Makes one VAD per session from its speech threshold.
        max_sessions: Sessions served at once; one more is refused with an error frame
            ("server busy: N sessions") and close code 1013.
        executor: Where model calls run; by default ``workers`` threads owned (and
            shut down) by the engine.
        workers: Transcriptions run at once (the transcriber must allow that many
            concurrent calls); finals are given a worker before any partial.
        defaults: Settings for metadata keys a client leaves out; ``None`` means
            Baseten's own defaults, which is what a Baseten client expects.
        accept: The metadata schemas taken: ``"both"``, ``"current"`` or ``"legacy"``.
        slow_client_grace_s: When set, a streaming client must send audio at
            :data:`~app.core.serving.MIN_AUDIO_RATE` times real time on average: ``t``
            seconds after its metadata, at least ``(t - grace) * rate`` seconds of
            audio. Else it gets Baseten's error frame and close 1008. ``None`` (the
            in-process provider, whose audio is a microphone) never checks.

    Attributes:
        active_sessions: Sessions being served now.
        unloads: Times :meth:`unload` let the model go.
        warned_slow: True once a model call ran slower than real time (logged once,
            with the advice to choose a smaller model).
    """

    def __init__(
        self,
        transcriber_factory: Callable[[], Transcriber],
        vad_factory: Callable[[float], Vad],
        *,
        max_sessions: int = 4,
        executor: concurrent.futures.Executor | None = None,
        defaults: LocalOptions | None = None,
        accept: AcceptSchema = "both",
        workers: int = 1,
        slow_client_grace_s: float | None = None,
    ) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._transcriber_factory = transcriber_factory
        self.vad_factory = vad_factory
        self.max_sessions = max_sessions
        self._own_executor = executor is None
        self.executor = executor or concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="hark-whisper"
        )
        self.workers = workers
        self.slow_client_grace_s = slow_client_grace_s
        self._scheduler = _Scheduler(workers)
        self.defaults = params_from_options(defaults) if defaults else SessionParams()
        self.accept: AcceptSchema = accept
        self.active_sessions = 0
        self.warned_slow = False  # "the model is too slow" was logged
        self._calls = 0  # model calls made (the first one warms up)
        self._transcriber: Transcriber | None = None
        self._transcriber_lock = asyncio.Lock()
        self._sessions: set[_Session] = set()
        self._loading: asyncio.Future[None] | None = None
        self._submitted: set[concurrent.futures.Future[Any]] = set()  # may still run
        self._closed = False
        self.unloads = 0

    # -- the model ------------------------------------------------------------------------

    async def prepare(self, *, load: bool = False) -> None:
        """Create the transcriber now (off the loop); with ``load``, also load the model and VAD.

        Raises:
            HarkError: The transcriber cannot be made (a missing model) or loaded.
        """
        transcriber = await self._get_transcriber()
        if load:
            await self._in_executor(transcriber.load)
            # The first VAD loads its ONNX model, holding the GIL for ~60 ms: do it now,
            # not when the first session's audio is already flowing.
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self.vad_factory, self.defaults.vad_threshold)

    def start_loading(self) -> None:
        """Begin loading the model in the executor without waiting (errors only logged).

        The first transcription waits for it; if loading failed, it fails again there
        and the session gets the error.
        """
        if self._loading is not None or self._closed:
            return
        self._loading = asyncio.ensure_future(self.prepare(load=True))
        self._loading.add_done_callback(_log_load_failure)

    async def _get_transcriber(self) -> Transcriber:
        async with self._transcriber_lock:
            if self._transcriber is None:
                self._transcriber = await self._in_executor(self._transcriber_factory)
            return self._transcriber

    async def _in_executor(self, fn: Callable[[], _T]) -> _T:
        # The executor's own future, kept until it is done: a call whose awaiting
        # session was cancelled still runs (and holds the model) until it returns.
        future = self.executor.submit(fn)
        self._submitted.add(future)
        try:
            return await asyncio.wrap_future(future)
        finally:
            if future.done():
                self._submitted.discard(future)

    @property
    def loaded(self) -> bool:
        """True while the engine holds its transcriber (the model loaded or loading)."""
        return self._transcriber is not None

    @property
    def busy(self) -> bool:
        """True while the transcriber is being made or loaded, or a model call still runs."""
        self._submitted = {f for f in self._submitted if not f.done()}
        loading = self._loading is not None and not self._loading.done()
        return loading or self._transcriber_lock.locked() or bool(self._submitted)

    def unload(self) -> bool:
        """Let the model go, so its memory is freed; the next session loads it again.

        Refused (``False``) while a session is open or :attr:`busy`, or when no model
        is held. The engine drops its only reference to the transcriber: nothing is
        left running that holds one, so the model is freed now.
        """
        if self._closed or self.active_sessions or self.busy:
            return False
        held = self._transcriber is not None
        self._transcriber = None
        self._loading = None  # a failed load's error (and its traceback) goes too
        self._calls = 0  # the next first call warms the new model up: not judged
        if held:
            self.unloads += 1
        return held

    async def transcribe(
        self,
        audio: FloatArray,
        params: SessionParams,
        *,
        partial: bool,
        context: str = "",
        language: str | None = None,
        word_timestamps: bool | None = None,
    ) -> TranscriptionResult | None:
        """Transcribe ``audio`` in the executor with the session's settings.

        A ``partial`` returns ``None`` without running when every worker is busy or a
        final is waiting for one (dropped, never queued); a final waits its turn.
        ``language`` and ``word_timestamps`` override the session's when given.
        """
        transcriber = await self._get_transcriber()
        call = functools.partial(
            transcriber.transcribe,
            audio,
            language=language if language is not None else params.language,
            prompt=params.prompt,
            word_timestamps=params.word_timestamps if word_timestamps is None else word_timestamps,
            beam_size=params.beam_width,
            partial=partial,
            context=context,
        )
        seconds = len(audio) / RATE
        return await self._scheduler.run(
            lambda: self._timed(transcriber, call, seconds), urgent=not partial
        )

    async def _timed(self, transcriber: Transcriber, call: Callable[[], _T], audio_s: float) -> _T:
        """Run ``call`` in the executor; say once if the model is slower than real time."""
        if self._loading is not None and not self._loading.done():
            await asyncio.shield(self._loading)  # loading the model is not transcribing
        await self._in_executor(transcriber.load)  # a no-op once loaded
        started = time.perf_counter()
        result = await self._in_executor(call)
        took = time.perf_counter() - started
        self._calls += 1
        # The first call also warms CTranslate2 up (1.9 s for 0.4 s of audio was seen on a
        # model that is 10x faster than real time after it): it is not judged.
        if self._calls > 1 and not self.warned_slow and took > max(audio_s, SLOW_FLOOR_S):
            self.warned_slow = True
            log.warning(
                "The local model is too slow for this machine: %.1f s of speech took %.1f s "
                "to transcribe, so text will lag ever further behind. Choose a smaller model "
                "(tiny or base, or their .en versions for English).",
                audio_s,
                took,
            )
        return result

    # -- sessions ---------------------------------------------------------------------------

    async def serve(self, conn: ServerConnection) -> None:
        """Serve one Baseten-protocol session on ``conn`` until the client closes it.

        Never raises for anything the client does; the connection is closed on return
        only when the server ended the session (rejection, failure, shutdown).
        """
        protocol = BasetenServerProtocol(
            accept=self.accept, defaults=self.defaults, stream_id=str(uuid.uuid4())
        )
        if self._closed or self.active_sessions >= self.max_sessions:
            busy = f"server busy: {self.active_sessions} sessions"
            why = "server shutting down" if self._closed else busy
            log.warning("refusing a session: %s", why)
            await conn.send(protocol.error(why, recoverable=False, now=time.time()))
            code = CLOSE_GOING_AWAY if self._closed else CLOSE_TRY_AGAIN_LATER
            await conn.close(code, why)
            return
        session = _Session(self, conn, protocol)
        self.active_sessions += 1
        self._sessions.add(session)
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
            self.active_sessions -= 1

    async def aclose(self) -> None:
        """Refuse new sessions, end the running ones (close 1001) and free the model."""
        self._closed = True
        for session in list(self._sessions):
            await session.conn.close(CLOSE_GOING_AWAY, "server shutting down")
        for _ in range(200):  # sessions notice the close at their next receive
            if not self._sessions:
                break
            await asyncio.sleep(0.01)
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
        if self._own_executor:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self._transcriber = None


RATE = 16000
SLOW_FLOOR_S = 1.0
"""A model call slower than real time, and longer than this, means the model is too big."""
AFTER_SPEECH_S = 0.3
"""Text that starts this long after the last speech window is taken for a hallucination."""
PAUSE_WINDOWS = 3
"""Silent VAD windows (32 ms each) that make a pause where the audio may be cut."""
UTTERANCE_LANGUAGE_S = 1.5
"""A pass over this much of an utterance's start settles its language (when detected)."""
LANGUAGE_LOCK_PROB = 0.5
"""A detected language this likely is kept for the rest of the session."""
MAX_SILENCE_MS = 3_600_000.0
"""``min_silence_duration_ms`` above this (an hour) is taken as this: utterances then end
only at ``max_final_duration_s``, as they would with any larger value."""
MAX_PARTIAL_INTERVAL_S = 3600.0
"""``partial_transcript_interval_s`` above this is taken as this (no partial comes anyway)."""
MAX_REFUSAL_CHARS = 500
"""Longest reason sent back for refused metadata: one line, never the client's whole frame."""
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class ClientFrameRefused(HarkError):
    """A client frame that ends the session: over a size limit, or neither text nor bytes.

    Attributes:
        code: The WebSocket close code to close with (1009 too big, 1003 not a frame).
        reply: Baseten's ``error`` frame (``recoverable: false``) to send before closing.
    """

    def __init__(self, protocol: BasetenServerProtocol, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
        self.reply = protocol.error(message, recoverable=False, now=time.time())


def decode_client_frame(protocol: BasetenServerProtocol, frame: object) -> list[ServerEvent]:
    """Decode one frame from a client: the only way a client's bytes reach a session.

    In order: the frame's type and size (text at most
    :data:`~app.core.serving.MAX_TEXT_FRAME_CHARS` characters, binary at most
    :data:`~app.core.serving.MAX_AUDIO_FRAME_BYTES`); lone surrogates in text replaced
    (only an in-memory client can send them: WebSocket text is valid UTF-8); the
    protocol's decoding (``app.core.jsonwire``: size and nesting limits, every type
    checked); then the accepted metadata's numbers made usable (no NaN or infinity,
    none so large that sample counts overflow) and a refusal's reason cut to one line.

    Returns:
        The protocol's events, which the session answers as the protocol says.

    Raises:
        ClientFrameRefused: the frame ends the session; send ``reply``, close with ``code``.
    """
    if isinstance(frame, str):
        if len(frame) > MAX_TEXT_FRAME_CHARS:
            raise ClientFrameRefused(
                protocol,
                f"A text frame of {len(frame)} characters is over the limit of "
                f"{MAX_TEXT_FRAME_CHARS}; closing the session.",
                CLOSE_MESSAGE_TOO_BIG,
            )
        events = protocol.receive_text(clean_text(frame))
    elif isinstance(frame, bytes | bytearray | memoryview):
        size = len(frame) if not isinstance(frame, memoryview) else frame.nbytes
        if size > MAX_AUDIO_FRAME_BYTES:
            raise ClientFrameRefused(
                protocol,
                f"A binary frame of {size} bytes is over the limit of "
                f"{MAX_AUDIO_FRAME_BYTES}; send audio in frames of 512 samples.",
                CLOSE_MESSAGE_TOO_BIG,
            )
        events = protocol.receive_bytes(bytes(frame))
    else:
        raise ClientFrameRefused(
            protocol, f"A frame of type {type(frame).__name__} is not a WebSocket frame.",
            CLOSE_UNSUPPORTED_DATA,
        )  # fmt: skip
    return [_usable(protocol, event) for event in events]


def _usable(protocol: BasetenServerProtocol, event: ServerEvent) -> ServerEvent:
    if isinstance(event, MetadataRejected):
        reason = _NOT_ONE_LINE.sub(" ", event.message).strip()
        if len(reason) > MAX_REFUSAL_CHARS:
            reason = reason[: MAX_REFUSAL_CHARS - 1] + "…"
        return MetadataRejected(reason)
    if not isinstance(event, MetadataReceived):
        return event
    params = event.params
    for name in (
        "vad_threshold",
        "vad_min_silence_ms",
        "vad_speech_pad_ms",
        "partial_interval_s",
        "max_final_duration_s",
    ):
        value = getattr(params, name)
        if not isinstance(value, int) and not math.isfinite(value):
            protocol.phase = Phase.REJECTED
            return MetadataRejected(f"Failed to validate metadata: {name}: not a finite number")
    params = dataclasses.replace(
        params,
        vad_min_silence_ms=min(params.vad_min_silence_ms, MAX_SILENCE_MS),
        partial_interval_s=min(params.partial_interval_s, MAX_PARTIAL_INTERVAL_S),
    )
    protocol.params = params
    return MetadataReceived(params)


def _partial_result(text: str, result: TranscriptionResult) -> TranscriptionResult:
    """A partial's result: one segment with the best guess so far (committed + latest pass)."""
    if not text:
        return TranscriptionResult.of((), result.language, result.language_prob)
    flagged = any(s.possible_hallucination for s in result.segments)
    end = max((s.end for s in result.segments), default=0.0)
    segment = TranscribedSegment(0.0, end, " " + text, compression_ratio=3.0 if flagged else 1.0)
    return TranscriptionResult.of((segment,), result.language, result.language_prob)


def _close_reason(message: str) -> str:
    """A close frame's reason: at most 123 bytes of UTF-8 (RFC 6455), cut at a character."""
    return message.encode()[:123].decode(errors="ignore")


def _log_load_failure(future: asyncio.Future[None]) -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        log.warning("loading the local model failed: %s", exc)


class _Scheduler:
    """Hands ``slots`` model workers out: finals wait their turn, partials never wait.

    A partial runs only when a worker is free and no final is waiting; otherwise it is
    dropped (:meth:`run` returns ``None``). A worker that finishes goes straight to
    the longest-waiting final.
    """

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._finals: deque[asyncio.Future[None]] = deque()

    async def run(
        self, job: Callable[[], collections.abc.Awaitable[_T]], *, urgent: bool
    ) -> _T | None:
        if not urgent and (self._free == 0 or self._finals):
            log.debug("partial dropped: the model is busy")
            return None
        if self._free:
            self._free -= 1
        else:
            turn = asyncio.get_running_loop().create_future()
            self._finals.append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn in self._finals:
                    self._finals.remove(turn)
                elif turn.done() and not turn.cancelled():
                    self._release()  # the slot was handed over just as we were cancelled
                raise
        try:
            return await job()
        finally:
            self._release()

    def _release(self) -> None:
        while self._finals:
            turn = self._finals.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1


@dataclass
class _Job:
    chunk: Chunk
    queued_at: float
    utterance: int  # finals submitted before this job; a partial is stale once it grows


@dataclass
class _Utterance:
    """What the passes over the current utterance have settled so far."""

    start: float  # stream seconds where it starts (the chunks' ``start``)
    agreement: Agreement = field(default_factory=Agreement)
    last_pass: TranscriptionResult | None = None
    last_pass_end: float = 0.0  # where its audio ended (utterance seconds)
    language: str | None = None  # detected from its first second and a half


class _Session:
    """One client's session: receive, segment, queue transcriptions, send results."""

    def __init__(
        self, engine: LocalEngine, conn: ServerConnection, protocol: BasetenServerProtocol
    ) -> None:
        self.engine = engine
        self.conn = conn
        self.protocol = protocol
        self.loop = asyncio.get_running_loop()
        self.jobs: asyncio.Queue[_Job] = asyncio.Queue()
        self.pending = 0  # jobs queued or running
        self.finals_submitted = 0
        self.framer = Framer(WINDOW * 2)
        self.windows = 0
        self.failed = False
        self.vad: Vad | None = None
        self.endpointer: Endpointer | None = None
        self.worker: asyncio.Task[None] | None = None
        self.utterance: _Utterance | None = None
        self.context = ""  # the session's final text so far (conditions the next passes)
        self.language: str | None = None  # detected once, then kept for the session
        self.pauses: list[tuple[float, float]] = []  # silent runs, stream seconds
        self._quiet_since: int | None = None  # window where the current silent run began
        self.audio_s = 0.0  # seconds of audio received (the slow-client check)
        self.streaming_since = 0.0  # loop time when audio could start to flow

    async def run(self) -> None:
        first = await self.conn.recv()
        if first is None:
            return
        try:
            events = decode_client_frame(self.protocol, first)
        except ClientFrameRefused as refused:
            await self._refuse(refused)
            return
        if isinstance(events[0], MetadataRejected):
            log.info("metadata rejected: %s", events[0].message)
            error = self.protocol.error(events[0].message, recoverable=False, now=time.time())
            await self.conn.send(error)
            await self.conn.close(CLOSE_INTERNAL_ERROR, "invalid metadata")
            return
        params = self.protocol.params
        # The first VAD loads the ONNX model (~0.1 s): off the loop, and not queued
        # behind transcriptions in the engine's executor.
        self.vad = await self.loop.run_in_executor(
            None, self.engine.vad_factory, params.vad_threshold
        )
        self.endpointer = Endpointer(
            threshold=params.vad_threshold,
            min_silence_ms=params.vad_min_silence_ms,
            speech_pad_ms=params.vad_speech_pad_ms,
            max_duration_s=params.max_final_duration_s,
            partial_interval_s=params.partial_interval_s if params.partials else None,
        )
        worker = self.worker = asyncio.create_task(self._work(), name="hark-local-worker")
        try:
            await self._receive()
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _receive(self) -> None:
        self.streaming_since = self.loop.time()
        while not self.failed:
            frame = await self._next_frame()
            if frame is None:
                return
            try:
                events = decode_client_frame(self.protocol, frame)
            except ClientFrameRefused as refused:
                await self._refuse(refused)
                return
            for event in events:
                if isinstance(event, AudioFrame):
                    self.audio_s += len(event.pcm) / (2 * RATE)
                    await self._audio(event.pcm)
                elif isinstance(event, EndAudio):
                    await self._end_audio(event)
                elif isinstance(event, HealthCheck):
                    await self.conn.send(self.protocol.health(event, now=time.time()))
                elif isinstance(event, BadFrame):
                    log.info("client frame refused: %r", event.message[:200])
                    if event.reply is not None:
                        await self.conn.send(event.reply)

    async def _next_frame(self) -> str | bytes | None:
        """The next frame; ``None`` once closed, or (closing it) once the client is too slow."""
        grace = self.engine.slow_client_grace_s
        if grace is None or self.protocol.phase is not Phase.STREAMING:
            return await self.conn.recv()
        # t seconds in, (t - grace) * rate seconds of audio must have come.
        deadline = self.streaming_since + grace + self.audio_s / MIN_AUDIO_RATE
        try:
            async with asyncio.timeout_at(deadline):
                return await self.conn.recv()
        except TimeoutError:
            message = (
                f"Audio arrives too slowly: {self.audio_s:.1f} s in "
                f"{self.loop.time() - self.streaming_since:.0f} s (at least "
                f"{MIN_AUDIO_RATE:g} s a second is needed); closing the session."
            )
            refused = ClientFrameRefused(self.protocol, message, CLOSE_POLICY_VIOLATION)
            await self._refuse(refused)
            return None

    async def _refuse(self, refused: ClientFrameRefused) -> None:
        """End the session for something the client did: Baseten's error, then the close."""
        log.info("closing a session: %s", refused)
        self.failed = True
        await self.conn.send(refused.reply)
        await self.conn.close(refused.code, _close_reason(str(refused)))

    async def _audio(self, pcm: bytes) -> None:
        assert self.vad is not None
        assert self.endpointer is not None
        for frame in self.framer.push(pcm):
            window = pcm16_to_float(frame)
            prob = self.vad.speech_probability(window)
            self._note_pause(prob)
            for chunk in self.endpointer.push(window, prob):
                self._submit(chunk)
            self.windows += 1
            if self.windows % YIELD_EVERY_WINDOWS == 0:
                await asyncio.sleep(0)

    def _note_pause(self, prob: float) -> None:
        """Record runs of at least :data:`PAUSE_WINDOWS` silent windows (where a cut is safe)."""
        assert self.endpointer is not None
        quiet = prob < self.endpointer.threshold - NEG_THRESHOLD_GAP
        if quiet and self._quiet_since is None:
            self._quiet_since = self.windows
        elif not quiet and self._quiet_since is not None:
            if self.windows - self._quiet_since >= PAUSE_WINDOWS:
                self.pauses.append(
                    (self._quiet_since * WINDOW / RATE, self.windows * WINDOW / RATE)
                )
                del self.pauses[:-64]
            self._quiet_since = None

    def _submit(self, chunk: Chunk) -> None:
        if not chunk.final and self.pending:
            log.debug("partial dropped: the previous transcription is still running")
            return
        self.pending += 1
        self.jobs.put_nowait(_Job(chunk, self.loop.time(), self.finals_submitted))
        if chunk.final:
            self.finals_submitted += 1

    async def _end_audio(self, event: EndAudio) -> None:
        assert self.endpointer is not None
        await self.conn.send(self.protocol.end_audio_ack(event.trace_id))
        tail = b"".join(self.framer.flush(pad=False))
        chunk = self.endpointer.flush(pcm16_to_float(tail) if tail else None)
        if chunk is not None:
            self._submit(chunk)
        assert self.worker is not None
        drained = asyncio.create_task(self.jobs.join())
        try:  # the worker ends early only on a failure (already reported) or a shutdown
            await asyncio.wait({drained, self.worker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            drained.cancel()
        if drained.done() and not drained.cancelled() and not self.failed:
            await self.conn.send(self.protocol.finished())

    async def _work(self) -> None:
        while True:
            job = await self.jobs.get()
            try:
                await self._run_job(job)
            finally:
                self.pending -= 1
                self.jobs.task_done()
            if self.failed:
                return

    async def _run_job(self, job: _Job) -> None:
        chunk = job.chunk
        if not chunk.final and job.utterance < self.finals_submitted:
            return  # the utterance has ended since: its final is on the way
        result: TranscriptionResult | None
        try:
            if chunk.final:
                result = await self._final_result(chunk)
            else:
                result = await self._pass(chunk)
        except HarkError as exc:
            await self._fail(str(exc))
            return
        except Exception as exc:
            log.exception("local transcription failed")
            await self._fail(f"The local transcription failed: {type(exc).__name__}: {exc}")
            return
        if result is None:
            return  # a partial dropped because the model was busy
        latency = self.loop.time() - job.queued_at
        if chunk.final:
            if not has_words(result.text):
                log.debug("final without words dropped: %r", result.text)
                return
            self.context = f"{self.context} {result.text}".strip()[-2000:]
            if self.language is None and (result.language_prob or 0) >= LANGUAGE_LOCK_PROB:
                self.language = result.language
            message: str | None = self.protocol.final(
                result,
                offset=chunk.start,
                audio_length=chunk.duration,
                end_of_audio=chunk.reason == "flush",
                latency=latency,
            )
        elif job.utterance < self.finals_submitted:
            return  # the utterance ended while this pass ran
        else:
            message = self.protocol.partial(
                result, offset=chunk.start, audio_length=chunk.duration, latency=latency
            )
        if message is not None:
            await self.conn.send(message)

    def _utterance_of(self, chunk: Chunk) -> _Utterance:
        if self.utterance is None or self.utterance.start != chunk.start:
            self.utterance = _Utterance(chunk.start)
        return self.utterance

    def _language(self) -> str | None:
        utterance = self.utterance.language if self.utterance else None
        return self.protocol.params.language or self.language or utterance

    async def _pass(self, chunk: Chunk) -> TranscriptionResult | None:
        """Decode the uncommitted part of the utterance so far; commit what two passes agree on."""
        utt = self._utterance_of(chunk)
        agreement = utt.agreement
        offset = agreement.cut_s
        # The agreement needs the words' times.
        result = await self._decode_after_cut(chunk, agreement, partial=True, timed=True)
        if result is None:
            return None
        pauses = [(a - chunk.start, b - chunk.start) for a, b in self.pauses if a >= chunk.start]
        if utt.language is None and offset == 0 and chunk.duration >= UTTERANCE_LANGUAGE_S:
            utt.language = result.language  # detected from the whole utterance so far
        committed = agreement.update(
            pass_words(result), offset_s=offset, heard_s=chunk.duration, pauses=pauses
        )
        if committed:
            log.debug(
                "committed %d words up to %.2f s of %.2f s: %r",
                committed,
                agreement.cut_s,
                chunk.duration,
                agreement.committed_text,
            )
        utt.last_pass, utt.last_pass_end = result, chunk.duration
        return _partial_result(agreement.hypothesis_text, result)

    async def _decode_after_cut(
        self,
        chunk: Chunk,
        agreement: Agreement,
        *,
        partial: bool,
        timed: bool | None = None,
        language: str | None = None,
    ) -> TranscriptionResult | None:
        """Transcribe the chunk's audio after the cut, with the text before it as context."""
        return await self.engine.transcribe(
            chunk.audio[round(agreement.cut_s * RATE) :],
            self.protocol.params,
            partial=partial,
            context=f"{self.context}{agreement.committed_text}",
            language=language or self._language(),
            word_timestamps=timed,
        )

    async def _final_result(self, chunk: Chunk) -> TranscriptionResult:
        """The final of the utterance: the committed words, then the tail decoded now.

        When the last pass heard all of the speech and the start of the silence after
        it (nothing was said since, and the last word's end was in its audio), it is
        the tail: nothing is decoded again.
        """
        utt = self._utterance_of(chunk)
        language = self._language()
        self.utterance = None
        agreement = utt.agreement
        last = utt.last_pass
        if (
            last is not None
            and chunk.speech_end + AFTER_SPEECH_S <= utt.last_pass_end
            and not any(s.possible_hallucination for s in last.segments)
        ):
            log.debug("final: the last pass heard all the speech; reusing it")
            tail, offset = agreement.pending_result(last), 0.0
        else:
            offset = agreement.cut_s
            decoded = await self._decode_after_cut(
                chunk, agreement, partial=False, language=language
            )
            assert decoded is not None  # finals are never dropped
            tail = decoded
        final = agreement.finish(tail, offset_s=offset)
        return drop_after(final, chunk.speech_end + AFTER_SPEECH_S)

    async def _fail(self, message: str) -> None:
        """A non-recoverable failure: tell the client, end the stream.

        See docs/wire-protocols.md §1.7.
        """
        log.warning("local session failed: %s", message)
        self.failed = True
        await self.conn.send(self.protocol.error(message, recoverable=False, now=time.time()))
        await self.conn.close(CLOSE_INTERNAL_ERROR, "transcription failed")
