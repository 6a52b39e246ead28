"""The server side of Baseten's v1 streaming Whisper protocol, sans I/O (docs/wire-protocols.md §4).

The local engine speaks this protocol to every client: Hark's own Baseten client (the
"local" provider runs it over an in-memory connection) and any Baseten client talking
to ``hark serve``. :class:`BasetenServerProtocol` turns received frames into
:data:`ServerEvent` values and builds the exact JSON of every server message; the
engine does the I/O, the VAD and the transcription.

Calling contract:

1. Feed every received frame to :meth:`~BasetenServerProtocol.receive_text` or
   :meth:`~BasetenServerProtocol.receive_bytes` and act on the events they return.
2. The first frame must be the metadata text frame: it yields
   :class:`MetadataReceived` (normalised :class:`SessionParams`) or
   :class:`MetadataRejected` (send :meth:`error` with ``recoverable=False``, then close
   with 1011: the real server's metadata failure closes the socket, docs/wire-protocols.md §1.7).
3. Audio yields :class:`AudioFrame` with 16-bit little-endian PCM at 16 kHz whatever the
   negotiated encoding and rate (μ-law is decoded, 8 kHz is resampled), in any length.
4. ``end_audio`` yields :class:`EndAudio`: answer :meth:`end_audio_ack` at once, then
   any flush :meth:`final` (``end_of_audio=True``), then :meth:`finished`. Audio after
   it is ignored (:class:`BadFrame` with no reply), as the real server stops processing.
5. Anything malformed yields :class:`BadFrame`; send its ``reply`` when there is one.

``transcription_num`` (docs/wire-protocols.md §1.6): partials carry the number of finals sent
so far, and each final carries that number plus one.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.core import jsonwire
from app.core.audio import StreamResampler, float_to_pcm16, mulaw_to_pcm16, pcm16_to_float
from app.core.baseten_metadata import AcceptSchema, SessionParams, parse_metadata
from app.core.local_types import TranscribedSegment, TranscriptionResult

_MESSAGE_KEYS = frozenset({"type", "trace_id", "timestamp", "body"})


@dataclass(frozen=True)
class MetadataReceived:
    """The metadata was valid; the session runs with ``params``."""

    params: SessionParams


@dataclass(frozen=True)
class MetadataRejected:
    """The metadata was invalid; ``message`` says why (one line)."""

    message: str


@dataclass(frozen=True)
class AudioFrame:
    """Audio to process: 16-bit little-endian mono PCM at 16 kHz (any length)."""

    pcm: bytes


@dataclass(frozen=True)
class EndAudio:
    """The client sent ``end_audio``; ``trace_id`` is echoed in the acknowledgement."""

    trace_id: Any = None


@dataclass(frozen=True)
class HealthCheck:
    """The client sent ``health_check``; answer with :meth:`BasetenServerProtocol.health`."""

    trace_id: Any = None
    partial_interval: bool = False


@dataclass(frozen=True)
class BadFrame:
    """A frame the protocol does not allow; ``reply`` (if any) is the error to send."""

    message: str
    reply: str | None = None


ServerEvent = MetadataReceived | MetadataRejected | AudioFrame | EndAudio | HealthCheck | BadFrame


class Phase(enum.Enum):
    """Where a server session is."""

    METADATA = "metadata"  # waiting for the metadata frame
    STREAMING = "streaming"  # audio flowing
    ENDED = "ended"  # end_audio received; nothing more is processed
    REJECTED = "rejected"  # the metadata was refused; the engine closes


def dumps(message: dict[str, Any]) -> str:
    """Encode a server message as compact JSON (as Starlette's ``send_json`` does)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


class BasetenServerProtocol:
    """One server-side session of the v1 protocol (see the module docstring).

    Args:
        accept: Which metadata schemas to take: ``"current"``, ``"legacy"`` or ``"both"``.
        defaults: Values for metadata keys a client leaves out; Baseten's when ``None``.
        stream_id: The id echoed in error bodies unless the metadata names one.

    Attributes:
        phase: The current :class:`Phase`.
        params: The session's settings once the metadata was accepted.
        finals: How many finals were built so far (the last ``transcription_num``).
    """

    def __init__(
        self,
        *,
        accept: AcceptSchema = "both",
        defaults: SessionParams | None = None,
        stream_id: str = "",
    ) -> None:
        self.accept: AcceptSchema = accept
        self.defaults = defaults or SessionParams()
        self.phase = Phase.METADATA
        self.params = self.defaults
        self.finals = 0
        self.stream_id = stream_id
        self._carry = b""  # an odd trailing byte of s16le, joined to the next frame
        self._resampler: StreamResampler | None = None
        self._last_partial: str | None = None  # of the current utterance

    # -- receiving --------------------------------------------------------------------------

    def receive_text(self, text: str) -> list[ServerEvent]:
        """Handle a text frame: the metadata first, control messages after."""
        if self.phase is Phase.METADATA:
            return [self._metadata(text)]
        if self.phase is Phase.REJECTED:
            return []
        try:
            message = jsonwire.loads(text)
        except ValueError:
            message = None
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("type"), str)
            or not set(message) <= _MESSAGE_KEYS
        ):
            why = f"Failed to validate text message: {text[:200]}"
            return [BadFrame(why, self.error(why, recoverable=True))]
        kind, trace = message["type"], message.get("trace_id")
        if kind == "end_audio":
            if self.phase is Phase.ENDED:
                return [BadFrame("end_audio after the stream had ended")]
            self.phase = Phase.ENDED
            events: list[ServerEvent] = []
            if self._resampler is not None:
                tail = self._resampler.finish()
                if tail.size:
                    events.append(AudioFrame(float_to_pcm16(tail)))
            return [*events, EndAudio(trace)]
        if kind == "health_check":
            body = message.get("body")
            asked = isinstance(body, dict) and body.get("get_partial_interval") is True
            return [HealthCheck(trace, asked)]
        reply = dumps({"type": "error", "body": {"error": f"Unhandled message type: {kind}"}})
        return [BadFrame(f"unhandled message type {kind!r}", reply)]

    def receive_bytes(self, data: bytes) -> list[ServerEvent]:
        """Handle a binary frame: audio in the negotiated encoding and rate."""
        if self.phase is Phase.METADATA:
            self.phase = Phase.REJECTED
            return [MetadataRejected("the first frame must be the metadata JSON as a text frame")]
        if self.phase is Phase.REJECTED:
            return []
        if self.phase is Phase.ENDED:
            return [BadFrame(f"binary frame of {len(data)} bytes after end_audio ignored")]
        if self.params.encoding == "pcm_mulaw":
            pcm = mulaw_to_pcm16(data)
        else:
            data, self._carry = self._carry + data, b""
            if len(data) % 2:
                data, self._carry = data[:-1], data[-1:]
            pcm = data
        if self._resampler is not None and pcm:
            pcm = float_to_pcm16(self._resampler.process(pcm16_to_float(pcm)))
        return [AudioFrame(pcm)] if pcm else []

    def _metadata(self, text: str) -> ServerEvent:
        try:
            metadata = jsonwire.loads(text)
        except ValueError:
            self.phase = Phase.REJECTED
            return MetadataRejected("Failed to validate metadata: the frame is not valid JSON")
        params, errors = parse_metadata(metadata, self.accept, self.defaults)
        if params is None:
            self.phase = Phase.REJECTED
            return MetadataRejected("Failed to validate metadata: " + "; ".join(errors))
        self.params = params
        if params.stream_id:
            self.stream_id = params.stream_id
        if params.sample_rate != 16000:
            self._resampler = StreamResampler(params.sample_rate, 1, 16000)
        self.phase = Phase.STREAMING
        return MetadataReceived(params)

    # -- messages for the client -----------------------------------------------------------

    def partial(
        self,
        result: TranscriptionResult,
        *,
        offset: float,
        audio_length: float,
        latency: float | None = None,
    ) -> str | None:
        """The partial for the current utterance, or ``None`` when there is none to send.

        A partial with no text is not sent. When Whisper flags a segment as a possible
        hallucination (and the client did not turn ``skip_partial_if_hallucination``
        off), the utterance's previous partial is sent again, or nothing if there is
        none (docs/wire-protocols.md §4.3).

        Args:
            result: The transcription of the utterance so far.
            offset: Where the utterance starts, in seconds from the stream's start.
            audio_length: Seconds of audio transcribed.
            latency: Seconds from the audio to the result, for ``pipeline_latency``.
        """
        if self.params.skip_partial_if_hallucination and any(
            s.possible_hallucination for s in result.segments
        ):
            return self._last_partial
        if not result.text:
            return None
        message = self._transcription(
            result, False, self.finals, offset, audio_length, latency, flush=False
        )
        self._last_partial = message
        return message

    def final(
        self,
        result: TranscriptionResult,
        *,
        offset: float,
        audio_length: float,
        end_of_audio: bool = False,
        latency: float | None = None,
    ) -> str:
        """The final for the current utterance; ``end_of_audio`` for the ``end_audio`` flush.

        Args:
            result: The transcription of the whole utterance (may have no segments).
            offset: Where the utterance starts, in seconds from the stream's start.
            audio_length: Seconds of audio transcribed.
            end_of_audio: Add ``"is_end_of_audio_flush": true`` (only the flush's final).
            latency: Seconds from the audio to the result, for ``pipeline_latency``.
        """
        self.finals += 1
        self._last_partial = None
        return self._transcription(
            result, True, self.finals, offset, audio_length, latency, flush=end_of_audio
        )

    def end_audio_ack(self, trace_id: Any = None) -> str:
        """The immediate answer to ``end_audio``, echoing its ``trace_id``."""
        return _end_audio("acknowledged", trace_id)

    def finished(self) -> str:
        """The last message of a session: every result has been sent."""
        return _end_audio("finished", None)

    def error(self, message: str, *, recoverable: bool, now: float | None = None) -> str:
        """An ``error`` message in Baseten's shape (docs/wire-protocols.md §1.4 d).

        Args:
            message: One line for the client.
            recoverable: False when the session cannot go on (the engine then closes).
            now: The server's clock (epoch seconds) for the body's ``timestamp``.
        """
        body = {
            "error_type": "StreamError",
            "message": message,
            "stream_id": self.stream_id or None,
            "recoverable": recoverable,
            "timestamp": now,
        }
        return dumps({"type": "error", "trace_id": None, "timestamp": None, "body": body})

    def health(self, event: HealthCheck, *, now: float) -> str:
        """The reply to a ``health_check`` (docs/wire-protocols.md §4.3)."""
        body: dict[str, Any] = {"healthy": True}
        if event.partial_interval:
            body["partial_interval"] = self.params.partial_interval_s
        return dumps(
            {"type": "health_check", "trace_id": event.trace_id, "timestamp": now, "body": body}
        )

    def _transcription(
        self,
        result: TranscriptionResult,
        is_final: bool,
        num: int,
        offset: float,
        audio_length: float,
        latency: float | None,
        *,
        flush: bool,
    ) -> str:
        message: dict[str, Any] = {
            "type": "transcription",
            "is_final": is_final,
            # The utterance's whole text, beside the segments: the response shown in
            # Baseten's docs has it, and their example client prints it.
            "transcript": result.text,
            "transcription_num": num,
            "segments": [self._segment(s, result, offset) for s in result.segments],
            "language_code": result.language,
            "language_prob": _round(result.language_prob),
            "diarization": [],
            "timing_info": None,
            "enable_chunk_level_language_detection": False,
            "audio_length_sec": round(audio_length, 3),
            "next_partial": None,
            "pipeline_latency": round(latency, 3)
            if self.params.latency_metric and latency is not None
            else None,
        }
        if flush:
            message["is_end_of_audio_flush"] = True
        return dumps(message)

    def _segment(
        self, s: TranscribedSegment, result: TranscriptionResult, offset: float
    ) -> dict[str, Any]:
        words = [
            {
                "start_time": round(offset + w.start, 3),
                "end_time": round(offset + w.end, 3),
                "word": w.word,
                "prob": _round(w.prob),
                "speaker": None,
            }
            for w in s.words
        ]
        return {
            "start_time": round(offset + s.start, 3),
            "end_time": round(offset + s.end, 3),
            "text": s.text,
            "log_prob": _round(s.avg_logprob),
            "word_timestamps": words if self.params.word_timestamps else [],
            "speaker": None,
            "speaker_confidence": None,
            "possible_hallucination": s.possible_hallucination,
            "beam_results": None,
            "language_code": result.language,
            "language_prob": _round(result.language_prob),
        }


def _end_audio(status: str, trace_id: Any) -> str:
    return dumps(
        {"type": "end_audio", "trace_id": trace_id, "timestamp": None, "body": {"status": status}}
    )


def _round(value: float | None) -> float | None:
    """Four decimals for probabilities (``None`` stays; NaN becomes ``None``)."""
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), 4)
