"""Baseten "Whisper Streaming Large v3" v1 skin (docs/wire-protocols.md §1)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode

from .baseten_schema import AcceptSchema, Settings, validate
from .script import Hypothesis, Script
from .server import JSON, ConnectionRecord, EmulatorServer, Faults, Session, epoch

ResultShape = Literal["current", "transcript", "message_type"]
FramePolicy = Literal["warn", "strict", "accept"]
_MESSAGE_KEYS = {"type", "trace_id", "timestamp", "body"}


class BasetenEmulator(EmulatorServer):
    """Baseten streaming Whisper: ``Api-Key`` auth, a metadata text frame, 512-sample binary frames.

    ``frame_policy``: a frame that is not exactly 512 samples is recorded as a violation
    ("warn"), also closes the connection with 1011 ("strict"), or is accepted silently ("accept").
    ``accept_top_level_sampling`` lets top-level ``whisper_sampling_params`` / ``asr_options``
    through; ``accept_language_options=False`` imitates a runtime older than v0.5.0;
    ``accept_bearer`` also accepts ``Authorization: Bearer <key>`` (the v2 docs).
    ``silence_vad`` adds the real server's end-of-speech rule on top of the script: once
    ``min_silence_duration_ms`` of digital silence (all-zero samples) has arrived, every
    begun utterance gets its final (with ``Faults.no_flush_reply``, a runtime that ignores
    ``end_audio`` but whose VAD still works).
    """

    path = "/environments/production/websocket"

    def __init__(
        self,
        script: Script | Sequence[Script],
        *,
        api_key: str = "test-key",
        accept_schema: AcceptSchema = "current",
        faults: Faults | None = None,
        result_shape: ResultShape = "current",
        frame_policy: FramePolicy = "warn",
        accept_top_level_sampling: bool = False,
        accept_language_options: bool = True,
        accept_bearer: bool = False,
        silence_vad: bool = False,
    ) -> None:
        super().__init__(script, api_key=api_key, faults=faults)
        self.accept_schema: AcceptSchema = accept_schema
        self.result_shape: ResultShape = result_shape
        self.frame_policy: FramePolicy = frame_policy
        self.accept_top_level_sampling = accept_top_level_sampling
        self.accept_language_options = accept_language_options
        self.accept_bearer = accept_bearer
        self.silence_vad = silence_vad

    def authorized(self, record: ConnectionRecord) -> bool:
        value = record.header("Authorization")
        allowed = {f"Api-Key {self.api_key}"}
        if self.accept_bearer:
            allowed.add(f"Bearer {self.api_key}")
        return value in allowed

    def new_session(self, ws: ServerConnection, record: ConnectionRecord) -> Session:
        return _BasetenSession(self, ws, record)


class _BasetenSession(Session):
    server: BasetenEmulator

    def __init__(self, server: BasetenEmulator, ws: ServerConnection, record: ConnectionRecord):
        super().__init__(server, ws, record)
        self.settings = Settings(schema="current")
        self.stream_id = str(uuid.uuid4())
        self.finals = 0
        self.audio_ended = False
        self.closing = False
        self.silent_samples = 0  # trailing all-zero samples received (silence_vad)

    async def run(self) -> None:
        settings = await self._receive_metadata()
        if settings is None:
            return
        self.settings = settings
        self.start_timeline(settings.sample_rate)
        self.server.changed()
        async for message in self.ws:
            if isinstance(message, bytes):
                await self._on_frame(message)
            else:
                await self._on_text(message)
            if self.closing:
                return
            self.server.changed()

    # -- metadata --

    async def _receive_metadata(self) -> Settings | None:
        first = await self.ws.recv()
        if isinstance(first, bytes):
            await self._reject("the first frame must be the metadata JSON as a TEXT frame")
            return None
        try:
            self.record.metadata = json.loads(first)
        except ValueError:
            self.record.metadata = first
            await self._reject("the metadata frame is not valid JSON")
            return None
        server = self.server
        settings, errors = validate(
            self.record.metadata,
            server.accept_schema,
            top_level_sampling=server.accept_top_level_sampling,
            language_options=server.accept_language_options,
        )
        if settings is None:
            await self._reject("; ".join(errors))
            return None
        self.record.schema = settings.schema
        if isinstance(self.record.metadata.get("stream_id"), str):
            self.stream_id = self.record.metadata["stream_id"]
        return settings

    async def _reject(self, reason: str) -> None:
        """The server's `_receive_metadata` raises and the socket closes (1011 by default)."""
        self.record.rejected = reason
        if self.faults.metadata_rejection == "error_then_close":
            await self.send(
                self._error(f"Failed to validate metadata: {reason}", recoverable=False)
            )
        await self.close(CloseCode.INTERNAL_ERROR)

    # -- audio and control --

    @property
    def _frame_bytes(self) -> int:
        return 512 if self.settings.encoding == "pcm_mulaw" else 1024

    async def _on_frame(self, data: bytes) -> None:
        size, width = len(data), 1 if self.settings.encoding == "pcm_mulaw" else 2
        self.record.frames.append(size)
        self.record.samples_received += size // width
        if self.audio_ended:
            self.violation(f"binary frame of {size} bytes after end_audio (the server has stopped)")
            return
        if size != self._frame_bytes and self.server.frame_policy != "accept":
            self.violation(
                f"binary frame {len(self.record.frames) - 1} is {size} bytes; the Silero VAD needs "
                f"exactly {self._frame_bytes} bytes (512 samples) per frame"
            )
            if self.server.frame_policy == "strict":
                self.closing = True
                await self.close(CloseCode.INTERNAL_ERROR)
                return
        await self.on_audio(size // width)
        if self.server.silence_vad:
            await self._vad(data)

    async def _vad(self, data: bytes) -> None:
        silent = data.count(b"\xff" if self.settings.encoding == "pcm_mulaw" else b"\x00")
        width = 1 if self.settings.encoding == "pcm_mulaw" else 2
        if silent != len(data):
            self.silent_samples = 0
            return
        self.silent_samples += len(data) // width
        assert self.timeline is not None
        if self.silent_samples * 1000 >= self.settings.min_silence_ms * self.settings.sample_rate:
            for hypothesis in self.timeline.end_speech():
                await self.emit(hypothesis)

    async def _on_text(self, text: str) -> None:
        try:
            message: Any = self.parse_json(text)
        except ValueError:
            message = None
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("type"), str)
            or not set(message) <= _MESSAGE_KEYS
        ):
            self.violation(f"text frame is not a valid control Message: {text[:200]!r}")
            await self.send(self._error(f"Failed to validate text message: {text[:200]}"))
            return
        kind = message["type"]
        if kind == "end_audio":
            await self._end_audio(message)
        elif kind == "health_check":
            body: dict[str, Any] = {"healthy": True}
            asked = message.get("body")
            if isinstance(asked, dict) and asked.get("get_partial_interval"):
                body["partial_interval"] = self.settings.partial_interval_s
            trace = message.get("trace_id")
            await self.send(
                {"type": "health_check", "trace_id": trace, "timestamp": epoch(), "body": body}
            )
        else:
            self.violation(f"unknown control message type {kind!r}")
            await self.send({"type": "error", "body": {"error": f"Unhandled message type: {kind}"}})

    async def _end_audio(self, message: JSON) -> None:
        self.record.flush_requested = True
        if self.faults.no_flush_reply:
            self.record.notes.append("end_audio ignored (no_flush_reply fault)")
            return
        if self.audio_ended:
            self.violation("end_audio sent again after the stream had ended")
            return
        assert self.timeline is not None
        self.audio_ended = True
        trace = message.get("trace_id")
        await self.send(_end_audio_reply("acknowledged", trace))
        for hypothesis in self.timeline.flush():
            await self.emit(hypothesis)
        await self.send(_end_audio_reply("finished", None))
        self.record.flush_done = True

    # -- output --

    async def emit(self, hypothesis: Hypothesis) -> None:
        if hypothesis.kind == "partial":
            if self.settings.partials:
                await self.send(self._result(hypothesis, self.finals))
        elif hypothesis.kind == "final":
            self.finals += 1
            await self.send(self._result(hypothesis, self.finals))
        # Revisions are a Fireworks concept; Baseten partials already re-transcribe the utterance.

    async def emit_fatal_error(self, message: str) -> None:
        await self.send(self._error(message, recoverable=False))
        self.closing = True
        await self.close(CloseCode.INTERNAL_ERROR)

    def _error(self, message: str, *, recoverable: bool = True) -> JSON:
        body = {
            "error_type": "StreamError",
            "message": message,
            "stream_id": self.stream_id,
            "recoverable": recoverable,
            "timestamp": epoch(),
        }
        return {"type": "error", "trace_id": None, "timestamp": None, "body": body}

    def _result(self, h: Hypothesis, num: int) -> JSON:
        language, start, end = self.settings.language, round(h.start, 3), round(h.end, 3)
        shape = self.server.result_shape
        if shape != "current":
            segments = [{"start": start, "end": end, "text": " " + h.text}]
            if shape == "transcript":
                return {
                    "is_final": h.is_final,
                    "transcript": h.text,
                    "confidence": 0.95,
                    "language_code": language,
                    "segments": segments,
                }
            return {
                "message_type": "final_transcript" if h.is_final else "partial_transcript",
                "transcript": h.text,
                "confidence": 0.95,
                "language": language,
                "segments": segments,
            }
        words = [
            {"start_time": s, "end_time": e, "word": " " + w, "prob": 0.95, "speaker": None}
            for w, s, e in h.words()
        ]
        segment = {
            "start_time": start,
            "end_time": end,
            "text": " " + h.text,  # Whisper segment text usually begins with a space
            "log_prob": -0.2,
            "word_timestamps": words if self.settings.word_timestamps else [],
            "speaker": None,
            "speaker_confidence": None,
            "possible_hallucination": False,
            "beam_results": None,
            "language_code": language,
            "language_prob": 0.99,
        }
        result: JSON = {
            "type": "transcription",
            "is_final": h.is_final,
            "transcription_num": num,
            "segments": [segment],
            "language_code": language,
            "language_prob": 0.99,
            "diarization": [],
            "timing_info": {} if self.settings.timing_info else None,  # real shape unknown
            "enable_chunk_level_language_detection": False,
            "audio_length_sec": round(h.end - h.start, 3),
            "next_partial": None,
            "pipeline_latency": 0.0 if self.settings.latency_metric else None,
        }
        if h.flush:
            result["is_end_of_audio_flush"] = True
        return result


def _end_audio_reply(status: str, trace_id: Any) -> JSON:
    return {
        "type": "end_audio",
        "trace_id": trace_id,
        "timestamp": None,
        "body": {"status": status},
    }
