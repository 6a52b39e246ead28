"""The local speech engine: Baseten's streaming protocol over a local Whisper model.

:class:`LocalEngine` serves one Baseten-protocol session per connection (protocols.md
§1, the server side in :mod:`app.core.local_protocol`). The app's "local" provider runs
it in-process over an in-memory connection (:mod:`app.engine.local_connector`);
``hark serve`` runs it behind a WebSocket server. Per session:

- audio is cut into 512-sample windows, scored by the VAD and segmented into
  utterances by :class:`~app.core.endpointing.Endpointer`;
- while in speech, every ``partial_interval_s`` of new audio the whole utterance so far
  is transcribed again and sent as a partial. A partial that falls due while this
  session's previous transcription is still queued or running is dropped, never
  queued, so partials can never pile up behind a slow model: on a slow machine they
  simply come less often;
- a final goes out at the VAD endpoint, at ``max_final_duration_s``, or at
  ``end_audio`` (``is_end_of_audio_flush``); finals are never dropped, and every
  session's results go out in order;
- ``end_audio`` is acknowledged at once; the session then waits for its queued work,
  sends the flush final (only when the VAD is in speech) and ``finished``. The server
  never closes a session by itself after that.

Threads: inference never runs on the event loop. Every model call (creating the
transcriber, loading it, transcribing) goes to one executor, by default a single
worker thread shared by all sessions: CTranslate2 already spreads one transcription
over several cores, so parallel calls would only oversubscribe the CPU (and a single
model instance serialises them anyway), while the event loop keeps turning because
CTranslate2 releases the GIL while it computes. The VAD runs on the event loop: one
window costs about 0.2 ms (0.6 % of its 32 ms), and the session yields to the loop
every 16 windows so a client sending faster than real time cannot stall it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from app.core.audio import Framer, pcm16_to_float
from app.core.baseten_metadata import AcceptSchema, SessionParams, params_from_options
from app.core.endpointing import WINDOW, Chunk, Endpointer
from app.core.errors import HarkError
from app.core.local_protocol import (
    AudioFrame,
    BadFrame,
    BasetenServerProtocol,
    EndAudio,
    HealthCheck,
    MetadataRejected,
)
from app.core.local_types import TranscriptionResult
from app.core.options import LocalOptions
from app.engine.ports import ServerConnection, Transcriber, Vad

log = logging.getLogger(__name__)

CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_GOING_AWAY = 1001
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
        executor: Where model calls run; by default a single worker thread owned (and
            shut down) by the engine.
        defaults: Settings for metadata keys a client leaves out; ``None`` means
            Baseten's own defaults, which is what a Baseten client expects.
        accept: The metadata schemas taken: ``"both"``, ``"current"`` or ``"legacy"``.

    Attributes:
        active_sessions: Sessions being served now.
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
    ) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        self._transcriber_factory = transcriber_factory
        self.vad_factory = vad_factory
        self.max_sessions = max_sessions
        self._own_executor = executor is None
        self.executor = executor or concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="hark-whisper"
        )
        self.defaults = params_from_options(defaults) if defaults else SessionParams()
        self.accept: AcceptSchema = accept
        self.active_sessions = 0
        self._transcriber: Transcriber | None = None
        self._transcriber_lock = asyncio.Lock()
        self._sessions: set[_Session] = set()
        self._loading: asyncio.Future[None] | None = None
        self._closed = False

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
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn)

    async def transcribe(self, chunk: Chunk, params: SessionParams) -> TranscriptionResult:
        """Transcribe one chunk in the executor with the session's settings."""
        transcriber = await self._get_transcriber()
        call = functools.partial(
            transcriber.transcribe,
            chunk.audio,
            language=params.language,
            prompt=params.prompt,
            word_timestamps=params.word_timestamps,
            beam_size=params.beam_width,
            partial=not chunk.final,
        )
        return await self._in_executor(call)

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


def _log_load_failure(future: asyncio.Future[None]) -> None:
    if future.cancelled():
        return
    exc = future.exception()
    if exc is not None:
        log.warning("loading the local model failed: %s", exc)


@dataclass
class _Job:
    chunk: Chunk
    queued_at: float
    utterance: int  # finals submitted before this job; a partial is stale once it grows


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

    async def run(self) -> None:
        first = await self.conn.recv()
        if first is None:
            return
        events = (
            self.protocol.receive_text(first)
            if isinstance(first, str)
            else self.protocol.receive_bytes(first)
        )
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
        while not self.failed:
            frame = await self.conn.recv()
            if frame is None:
                return
            if isinstance(frame, str):
                events = self.protocol.receive_text(frame)
            else:
                events = self.protocol.receive_bytes(frame)
            for event in events:
                if isinstance(event, AudioFrame):
                    await self._audio(event.pcm)
                elif isinstance(event, EndAudio):
                    await self._end_audio(event)
                elif isinstance(event, HealthCheck):
                    await self.conn.send(self.protocol.health(event, now=time.time()))
                elif isinstance(event, BadFrame):
                    log.info("client frame refused: %s", event.message)
                    if event.reply is not None:
                        await self.conn.send(event.reply)

    async def _audio(self, pcm: bytes) -> None:
        assert self.vad is not None
        assert self.endpointer is not None
        for frame in self.framer.push(pcm):
            window = pcm16_to_float(frame)
            prob = self.vad.speech_probability(window)
            for chunk in self.endpointer.push(window, prob):
                self._submit(chunk)
            self.windows += 1
            if self.windows % YIELD_EVERY_WINDOWS == 0:
                await asyncio.sleep(0)

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
        try:
            result = await self.engine.transcribe(chunk, self.protocol.params)
        except HarkError as exc:
            await self._fail(str(exc))
            return
        except Exception as exc:
            log.exception("local transcription failed")
            await self._fail(f"The local transcription failed: {type(exc).__name__}: {exc}")
            return
        latency = self.loop.time() - job.queued_at
        if chunk.final:
            message: str | None = self.protocol.final(
                result,
                offset=chunk.start,
                audio_length=chunk.duration,
                end_of_audio=chunk.reason == "flush",
                latency=latency,
            )
        elif job.utterance < self.finals_submitted:
            return  # the utterance has ended since: its final is on the way
        else:
            message = self.protocol.partial(
                result, offset=chunk.start, audio_length=chunk.duration, latency=latency
            )
        if message is not None:
            await self.conn.send(message)

    async def _fail(self, message: str) -> None:
        """A non-recoverable failure: tell the client and end the stream (§1.7)."""
        log.warning("local session failed: %s", message)
        self.failed = True
        await self.conn.send(self.protocol.error(message, recoverable=False, now=time.time()))
        await self.conn.close(CLOSE_INTERNAL_ERROR, "transcription failed")
