"""Fireworks streaming transcription skin (docs/wire-protocols.md §3)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from websockets.asyncio.server import ServerConnection

from .script import Hypothesis, Script
from .server import JSON, ConnectionRecord, EmulatorServer, Faults, Session

SegmentsMode = Literal["full", "changed"]
MIN_FRAME, MAX_FRAME = 1600, 12800  # 50 ms and 400 ms of 16 kHz s16le
_MODELS = {"fireworks-asr-large", "fireworks-asr-v2"}
_KNOWN_QUERY = {
    "response_format",
    "language",
    "prompt",
    "temperature",
    "timestamp_granularities",
    "model",
    "skip_vad",
    "vad_kwargs",
    "text_timeout_seconds",
    "Authorization",
}


class FireworksEmulator(EmulatorServer):
    """Fireworks streaming: raw-key auth, query config, binary 50-400 ms frames, segment overwrite.

    ``segments_mode="full"`` sends every known segment in each message (what the cookbook
    implies); ``"changed"`` sends only the segment that changed. ``segment_id_as_string`` sends ids
    as "0", "1", ... as the docs' own examples do (the documented type is a number).
    """

    path = "/v1/audio/transcriptions/streaming"

    def __init__(
        self,
        script: Script | Sequence[Script],
        *,
        api_key: str = "test-key",
        faults: Faults | None = None,
        segment_id_as_string: bool = False,
        segments_mode: SegmentsMode = "full",
    ) -> None:
        super().__init__(script, api_key=api_key, faults=faults)
        self.segment_id_as_string = segment_id_as_string
        self.segments_mode: SegmentsMode = segments_mode

    def authorized(self, record: ConnectionRecord) -> bool:
        # The raw key in the header, or `?Authorization=<key>` for browsers [doc].
        return self.api_key in (record.header("Authorization"), record.query.get("Authorization"))

    def check_handshake(self, record: ConnectionRecord) -> tuple[int, str] | None:
        for key, values in record.query_lists.items():
            if key not in _KNOWN_QUERY:
                record.violations.append(f"unknown query parameter {key!r}")
            elif key != "timestamp_granularities" and len(values) > 1:
                record.violations.append(f"query parameter {key!r} repeated: {values}")
            else:
                record.violations += _query_errors(key, values)
        model = record.query.get("model")
        if model is not None and model not in _MODELS:
            record.notes.append(f"model {model!r} is not a documented streaming model")
        return None

    def new_session(self, ws: ServerConnection, record: ConnectionRecord) -> Session:
        return _FireworksSession(self, ws, record)


def _query_errors(key: str, values: list[str]) -> list[str]:
    value = values[-1]
    if key == "response_format" and value != "verbose_json":
        return [f"response_format={value!r}: the emulator speaks only verbose_json"]
    if key == "timestamp_granularities":
        parts = [p for v in values for p in v.split(",")]
        bad = [p for p in parts if p not in ("word", "segment")]
        return [f"timestamp_granularities has unknown values {bad}"] if bad else []
    if key in ("temperature", "text_timeout_seconds"):
        lo, hi = (0.0, 1.0) if key == "temperature" else (1.0, 29.0)
        try:
            number = float(value)
        except ValueError:
            return [f"{key}={value!r} is not a number"]
        return [] if lo <= number <= hi else [f"{key}={value!r} is out of range [{lo}, {hi}]"]
    if key == "skip_vad" and value not in ("true", "false"):
        return [f"skip_vad={value!r} is not true/false"]
    if key == "vad_kwargs":
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        return [] if isinstance(parsed, dict) else [f"vad_kwargs={value!r} is not a JSON object"]
    if key in ("language", "model", "Authorization") and not value:
        return [f"empty query parameter {key!r}"]
    return []


class _FireworksSession(Session):
    server: FireworksEmulator

    def __init__(self, server: FireworksEmulator, ws: ServerConnection, record: ConnectionRecord):
        super().__init__(server, ws, record)
        granularities = record.query_lists.get("timestamp_granularities", [])
        parts = [p for v in granularities for p in v.split(",")]
        self.word_times = "word" in parts
        self.segment_times = "segment" in parts
        self.language = record.query.get("language") or "en"
        self.segments: dict[int, JSON] = {}
        self.short_frame: int | None = None

    async def run(self) -> None:
        self.start_timeline(16000, revisions=True)
        async for message in self.ws:
            if isinstance(message, bytes):
                await self._on_frame(message)
            else:
                await self._on_text(message)
            self.server.changed()

    async def _on_frame(self, data: bytes) -> None:
        size, number = len(data), len(self.record.frames)
        self.record.frames.append(size)
        self.record.samples_received += size // 2
        if self.short_frame is not None:
            self.violation(
                f"frame {number - 1} is {self.short_frame} bytes ({self.short_frame / 32:g} ms), "
                "under 50 ms, and is not the last frame before a checkpoint"
            )
            self.short_frame = None
        if size % 2:
            self.violation(f"frame {number} is {size} bytes: not whole 16-bit samples")
        if size > MAX_FRAME:
            self.violation(f"frame {number} is {size} bytes ({size / 32:g} ms), over 400 ms")
        elif size < MIN_FRAME:
            self.short_frame = size  # allowed only as the last frame before a checkpoint
        await self.on_audio(size // 2)

    async def _on_text(self, text: str) -> None:
        try:
            message: Any = self.parse_json(text)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self.violation(f"text frame is not a JSON object: {text[:200]!r}")
            return
        keys, kind = set(message), message.get("object")
        if keys == {"checkpoint_id"} and isinstance(message["checkpoint_id"], str):
            await self._checkpoint(message["checkpoint_id"])
        elif kind == "stt.input.trace" and keys == {"event_id", "object", "trace_id"}:
            reply = {"event_id": message["event_id"], "object": "stt.output.trace"}
            await self.send(reply | {"trace_id": message["trace_id"]})
        elif kind == "stt.state.clear" and keys == {"event_id", "object", "reset_id"}:
            assert self.timeline is not None
            self.timeline.drop_pending()
            self.segments.clear()
            reply = {"event_id": message["event_id"], "object": "stt.state.cleared"}
            await self.send(reply | {"reset_id": message["reset_id"]})
        else:
            self.violation(f"unknown control message: {text[:200]!r}")

    async def _checkpoint(self, checkpoint_id: str) -> None:
        assert self.timeline is not None
        self.short_frame = None
        final = checkpoint_id == "final"
        self.record.flush_requested |= final
        if self.faults.no_flush_reply:
            self.record.notes.append(f"checkpoint {checkpoint_id!r} ignored (no_flush_reply fault)")
            return
        if final:  # mid-stream checkpoints only confirm processing; "final" ends the audio
            for hypothesis in self.timeline.flush():
                await self.emit(hypothesis)
        await self.send({"checkpoint_id": checkpoint_id})
        self.record.flush_done |= final

    def _segment(self, h: Hypothesis) -> JSON:
        words = []
        for word, start, end in h.words():
            item: JSON = {"word": word, "language": self.language, "probability": 0.98}
            item |= {"hallucination_score": 0.01, "is_final": h.is_final}
            if self.word_times:
                item |= {"start": start, "end": end}
            words.append(item)
        segment: JSON = {"id": str(h.index) if self.server.segment_id_as_string else h.index}
        segment["text"] = h.text
        if self.segment_times:
            segment |= {"start": round(h.start, 3), "end": round(h.end, 3)}
        segment["words"] = words
        return segment

    async def emit(self, hypothesis: Hypothesis) -> None:
        # Partials and revisions overwrite the segment with non-final words; finals make them final.
        segment = self._segment(hypothesis)
        self.segments[hypothesis.index] = segment
        every = [self.segments[k] for k in sorted(self.segments)]
        await self.send(
            {
                "task": "transcribe",
                "language": self.language,
                "text": " ".join(s["text"] for s in every),
                "words": [w for s in every for w in s["words"]],
                "segments": every if self.server.segments_mode == "full" else [segment],
            }
        )

    async def emit_fatal_error(self, message: str) -> None:
        # The error schema is unverified; clients only test for an `error` key.
        await self.send({"error": {"message": message, "code": "emulated_error"}})
