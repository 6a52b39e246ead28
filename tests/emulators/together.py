"""Together AI realtime transcription skin (docs/wire-protocols.md §2)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, Literal

from websockets.asyncio.server import ServerConnection

from .script import Hypothesis, Script
from .server import JSON, ConnectionRecord, EmulatorServer, Faults, Session

ErrorShape = Literal["nested", "top_level"]
AUDIO_FORMAT = "pcm_s16le_16000"
_PREFIX = "conversation.item.input_audio_transcription"
# VAD query parameters [doc] and their accepted ranges (None: unbounded).
_VAD_RANGES: dict[str, tuple[float, float | None]] = {
    "threshold": (0.0, 1.0),
    "min_silence_duration_ms": (0.0, None),
    "min_speech_duration_ms": (0.0, None),
    "max_speech_duration_s": (0.0, None),
    "speech_pad_ms": (0.0, None),
}
_KNOWN_QUERY = {
    "model",
    "input_audio_format",
    "intent",
    "language",
    "turn_detection",
    "authorization",
}
_KNOWN_QUERY |= set(_VAD_RANGES)


class TogetherEmulator(EmulatorServer):
    """Together realtime: ``Bearer`` auth, query config, base64 JSON appends, replacing deltas.

    ``error_shape`` picks the error event layout: ``{"error": {"message", "code", ...}}`` (as
    Pipecat reads it, "nested") or the docs example's top-level ``message`` ("top_level").
    """

    path = "/v1/realtime"

    def __init__(
        self,
        script: Script | Sequence[Script],
        *,
        api_key: str = "test-key",
        faults: Faults | None = None,
        error_shape: ErrorShape = "nested",
    ) -> None:
        super().__init__(script, api_key=api_key, faults=faults)
        self.error_shape: ErrorShape = error_shape

    def authorized(self, record: ConnectionRecord) -> bool:
        expected = f"Bearer {self.api_key}"
        # The docs' example also passes `authorization=Bearer <key>` in the query string.
        return expected in (record.header("Authorization"), record.query.get("authorization"))

    def check_handshake(self, record: ConnectionRecord) -> tuple[int, str] | None:
        query = record.query_lists
        if not query.get("model", [""])[0]:
            return HTTPStatus.BAD_REQUEST, "missing required query parameter: model"
        audio_format = query.get("input_audio_format")
        if audio_format is None:
            return HTTPStatus.BAD_REQUEST, "missing required query parameter: input_audio_format"
        if audio_format != [AUDIO_FORMAT]:
            return HTTPStatus.BAD_REQUEST, f"unsupported input_audio_format {audio_format}"
        for key, values in query.items():
            if len(values) > 1:
                record.violations.append(f"query parameter {key!r} repeated: {values}")
            if key not in _KNOWN_QUERY:
                record.violations.append(f"unknown query parameter {key!r}")
            elif key in _VAD_RANGES:
                record.violations += _vad_errors(key, values[-1])
        if query.get("turn_detection", ["none"])[-1] not in ("none", "server_vad"):
            record.violations.append(f"turn_detection={query['turn_detection'][-1]!r}")
        if query.get("intent", ["transcription"])[-1] != "transcription":
            record.violations.append(f"intent={query['intent'][-1]!r} (expected transcription)")
        if record.header("OpenAI-Beta") != "realtime=v1":
            record.notes.append("no `OpenAI-Beta: realtime=v1` header (the docs send it)")
        return None

    def new_session(self, ws: ServerConnection, record: ConnectionRecord) -> Session:
        return _TogetherSession(self, ws, record)


def _vad_errors(key: str, raw: str) -> list[str]:
    lo, hi = _VAD_RANGES[key]
    try:
        value = float(raw)
    except ValueError:
        return [f"query parameter {key}={raw!r} is not a number"]
    if value < lo or (hi is not None and value > hi) or value != value:
        return [f"query parameter {key}={raw!r} is out of range [{lo}, {hi}]"]
    return []


class _TogetherSession(Session):
    server: TogetherEmulator

    def __init__(self, server: TogetherEmulator, ws: ServerConnection, record: ConnectionRecord):
        super().__init__(server, ws, record)
        self.events = 0
        self.commits = 0
        self.chunk_sizes_noted: set[int] = set()

    async def run(self) -> None:
        timeline = self.start_timeline(16000)
        # With VAD disabled nothing is emitted until a commit transcribes the buffer [doc].
        timeline.emit_timed = self.record.query.get("turn_detection") != "none"
        await self.send({"type": "session.created", "session": self._session_info()})
        async for message in self.ws:
            if isinstance(message, bytes):
                self.record.frames.append(len(message))
                self.violation(f"binary frame of {len(message)} bytes (audio must be base64 JSON)")
                await self._error("Binary frames are not supported", "invalid_request_error")
            else:
                await self._on_text(message)
            self.server.changed()

    def _session_info(self) -> JSON:
        q = self.record.query
        vad: JSON | None = None
        if q.get("turn_detection") != "none":
            defaults = {
                "threshold": 0.3,
                "min_silence_duration_ms": 500,
                "min_speech_duration_ms": 250,
                "max_speech_duration_s": 5.0,
                "speech_pad_ms": 250,
            }
            vad = {"type": "server_vad"} | {k: _number(q.get(k), v) for k, v in defaults.items()}
        return {
            "id": f"sess_emulated_{self.record.index}",
            "object": "realtime.transcription_session",
            "model": q.get("model"),
            "input_audio_format": AUDIO_FORMAT,
            "turn_detection": vad,
        }

    async def send(self, message: JSON) -> None:
        self.events += 1
        await super().send({"event_id": f"event_{self.record.index}_{self.events}"} | message)

    def _item(self, index: int) -> str:
        return f"item_{self.record.index}_{index}"

    async def _error(self, message: str, code: str) -> None:
        if self.server.error_shape == "top_level":
            await self.send({"type": "error", "message": message})
        else:
            error = {"type": code, "code": code, "message": message, "param": None}
            await self.send({"type": "error", "error": error})

    async def _on_text(self, text: str) -> None:
        try:
            message: Any = self.parse_json(text)
        except ValueError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "input_audio_buffer.append":
            await self._append(message)
        elif kind == "input_audio_buffer.commit":
            await self._commit()
        elif kind == "transcription_session.updated":
            self._update(message)
        else:
            self.violation(f"unsupported client message: {text[:200]!r}")
            await self._error(f"Unsupported message: {text[:100]}", "invalid_request_error")

    async def _append(self, message: JSON) -> None:
        if not set(message) <= {"type", "audio", "event_id"}:
            self.violation(f"unexpected keys in append: {sorted(message)}")
        audio = message.get("audio")
        try:
            data = base64.b64decode(audio, validate=True) if isinstance(audio, str) else None
        except (binascii.Error, ValueError):
            data = None
        if data is None:
            self.violation("input_audio_buffer.append without valid base64 `audio`")
            await self._error("Invalid base64 audio", "invalid_request_error")
            return
        if len(data) % 2:
            self.violation(f"append of {len(data)} bytes: not whole 16-bit samples")
        size = len(data)
        self.record.frames.append(size)
        self.record.samples_received += size // 2
        if not 1600 <= size <= 9600 and size not in self.chunk_sizes_noted:
            self.chunk_sizes_noted.add(size)
            self.record.notes.append(f"append chunk of {size / 32:g} ms (the docs use 100 ms)")
        await self.on_audio(size // 2)

    async def _commit(self) -> None:
        assert self.timeline is not None
        self.record.flush_requested = True
        if self.faults.no_flush_reply:
            self.record.notes.append("commit ignored (no_flush_reply fault)")
            return
        finals = self.timeline.flush()
        self.commits += 1
        # With nothing pending the real server's reply is unknown (unverified): the emulator sends
        # only `committed`, with a fresh item id, and no `completed`.
        item = (
            self._item(finals[0].index)
            if finals
            else f"item_{self.record.index}_empty{self.commits}"
        )
        await self.send(
            {"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": item}
        )
        for hypothesis in finals:
            await self.emit(hypothesis)
        self.record.flush_done = True

    def _update(self, message: JSON) -> None:
        assert self.timeline is not None
        session = message.get("session")
        if set(message) - {"type", "session", "event_id"} or not isinstance(session, dict):
            self.violation(f"malformed transcription_session.updated: {message}")
            return
        if set(session) - {"turn_detection"}:
            self.violation(f"unknown session keys: {sorted(set(session) - {'turn_detection'})}")
        vad = session.get("turn_detection")
        if vad is None:
            self.timeline.emit_timed = False
            return
        if not isinstance(vad, dict) or vad.get("type") != "server_vad":
            self.violation(f"turn_detection must be null or a server_vad object: {vad!r}")
            return
        for key, value in vad.items():
            if key == "type":
                continue
            if key not in _VAD_RANGES:
                self.violation(f"unknown turn_detection key {key!r}")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                self.violation(f"turn_detection.{key} is not a number: {value!r}")
            else:
                self.record.violations += _vad_errors(key, str(value))
        self.timeline.emit_timed = True

    async def emit(self, hypothesis: Hypothesis) -> None:
        item = self._item(hypothesis.index)
        if hypothesis.kind == "partial":
            # Each delta carries the whole hypothesis and replaces the previous one [doc].
            delta = {"item_id": item, "content_index": 0, "delta": hypothesis.text}
            await self.send({"type": f"{_PREFIX}.delta"} | delta)
        elif hypothesis.kind == "final":
            done = {"item_id": item, "content_index": 0, "transcript": hypothesis.text}
            await self.send({"type": f"{_PREFIX}.completed"} | done)

    async def emit_fatal_error(self, message: str) -> None:
        await self._error(message, "server_error")  # the server does not close by itself


def _number(raw: str | None, default: float) -> float:
    try:
        return float(raw) if raw is not None else default
    except ValueError:
        return default
