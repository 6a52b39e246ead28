"""Baseten "Whisper Streaming Large v3": the v1 ``StreamingWhisperInput`` protocol.

Owns everything Baseten-specific on the wire: the connection URL and ``Api-Key`` header,
the metadata JSON in both schemas (``"current"``, the doc's schema B, and ``"legacy"``,
schema A), 512-sample binary audio frames in s16le or μ-law, the ``end_audio`` flush
handshake, and the translation of every documented server message shape into the
normalised events of :mod:`app.core.events`. No I/O: the calling contract is in
:mod:`app.core.providers.base`; the wire protocol is in docs/wire-protocols.md §1,
the mapping to events in docs/wire-protocols.md §5.2.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, ClassVar

from app.core import jsonwire
from app.core.errors import SettingError
from app.core.events import (
    ConfigRejected,
    Final,
    FinalReason,
    FlushAck,
    Partial,
    ProviderError,
    Segment,
    Word,
)
from app.core.framing import Framer
from app.core.options import BasetenOptions
from app.core.providers.base import ConnectRequest, State, StreamingProtocol
from app.core.resume import end_time
from app.core.urls import check_endpoint

FRAME_SAMPLES = 512
"""Samples per binary frame: Silero VAD's window at 16 kHz. Every frame is exactly this.

Also used at 8 kHz (μ-law, 512 bytes; docs/wire-protocols.md §1.3), although Silero's own 8 kHz
window is 256 samples: what the server expects there is unverified.
"""

SCHEMAS = ("current", "legacy")
END_AUDIO = '{"type":"end_audio"}'
"""The flush message (docs/wire-protocols.md §1.5).

Whether legacy runtimes answer it is unverified.
"""

_MULAW_SILENCE = b"\xff"  # G.711 μ-law encodes 0 as 0xFF; 0x00 is a near full-scale negative sample
_MODEL_ID_RE = re.compile(r"[A-Za-z0-9]+")
_MAX_DURATION_SLACK_S = 0.1
_SETTLE_SLACK_S = 0.3
_V2_MESSAGE = (
    "This endpoint speaks Baseten's v2 streaming protocol (it sent session.created), which "
    "Hark does not support yet; use a Whisper Streaming Large v3 (v1) deployment."
)

# Options the legacy schema (docs/wire-protocols.md §1.2) has no key for. All others reach it.
_LEGACY_UNSUPPORTED = frozenset(
    {
        "prompt",
        "language_detection_only",
        "language_options",
        "dynamic_preprocessing",
        "partial_interval_s",
        "max_final_duration_s",
        "beam_width",
        "length_penalty",
        "repetition_penalty",
        "beam_search_diversity_rate",
        "no_repeat_ngram_size",
    }
)


def schema_variants(options: BasetenOptions, remembered: str | None) -> tuple[str, ...]:
    """The metadata schemas to try: the configured one, or for ``auto`` both, the one
    that last worked for the endpoint (``remembered``) first, else the current one."""
    if options.schema != "auto":
        return (options.schema,)
    first = remembered if remembered in SCHEMAS else "current"
    return (first, "legacy" if first == "current" else "current")


class _Malformed(Exception):
    """A server message whose shape we cannot read (turned into a protocol ProviderError)."""


class BasetenProtocol(StreamingProtocol):
    """Sans-I/O client of Baseten's v1 streaming Whisper protocol.

    Attributes:
        schema: The metadata schema this connection sends: ``"current"`` or ``"legacy"``.
        flush_acknowledged: True once the server answered ``end_audio`` with
            ``acknowledged`` (``finished``, not this, produces :class:`FlushAck`).
        CONFIG_REJECT_CLOSE_CODES: Close codes that, arriving before any server message,
            count as a metadata rejection. ``None`` counts every close, with or without a
            code, because the code is unverified (docs/wire-protocols.md §1.7).
            Narrow it (``frozenset({1000, 1011})``) once checked against the live service.
        TRAILING_SILENCE: Whether :meth:`flush` sends, before ``end_audio``, enough
            silence for the server's VAD to end the utterance by itself (its minimum
            silence plus padding, and two frames). Runtimes that ignore ``end_audio``
            (unverified which; docs/wire-protocols.md §1.7) then still send the last
            final at once; those that honour it are unaffected.
        FLUSH_SETTLE_S: With ``end_audio`` unanswered, the quiet after a final that
            reaches the end of the speech before the flush counts as done.
        FLUSH_QUIET_S: With ``end_audio`` unanswered and no utterance open, the quiet
            after the flush that counts as done. Both are guesses at the server's
            transcription time, not measured on the live service.
    """

    provider = "baseten"
    CONFIG_REJECT_CLOSE_CODES: ClassVar[frozenset[int | None] | None] = None
    TRAILING_SILENCE: ClassVar[bool] = True
    FLUSH_SETTLE_S: ClassVar[float] = 0.3
    FLUSH_QUIET_S: ClassVar[float] = 0.8

    def __init__(self, options: BasetenOptions, schema: str = "current") -> None:
        """Create the protocol.

        Args:
            options: Validated Baseten options; every metadata field reaches the wire.
            schema: ``"current"`` or ``"legacy"``; the engine resolves ``"auto"``.

        Raises:
            ValueError: For any other schema.
        """
        super().__init__()
        if schema not in SCHEMAS:
            raise ValueError(f"schema must be 'current' or 'legacy', got {schema!r}")
        self.schema = schema
        self.sample_rate = options.sample_rate
        self.flush_acknowledged = False
        self._options = options
        self._mulaw = options.encoding == "pcm_mulaw"
        self._framer = Framer(FRAME_SAMPLES * (1 if self._mulaw else 2))
        self._utterance = 1  # number of the open utterance: partials join it, a final closes it
        self._metadata_unanswered = False  # True from start() until the first server message
        self._samples = 0  # PCM samples given to send_audio
        self._speech_end_s = 0.0  # audio time of the flush, before the trailing silence
        self._partial_open = False  # a partial arrived and its final has not
        self._flush_final_seen = False  # a final after the flush reached the speech's end

    # -- connection and configuration ------------------------------------------------

    def connect_request(self, api_key: str) -> ConnectRequest:
        """Return the WebSocket URL and the ``Authorization: Api-Key`` header.

        Raises:
            SettingError: When neither ``endpoint`` nor a well-formed ``model_id`` is set.
            InsecureEndpointError: For a non-WebSocket or non-loopback ``ws://`` endpoint.
        """
        opts = self._options
        if opts.endpoint:
            url = check_endpoint(opts.endpoint)
        elif opts.model_id:
            if not _MODEL_ID_RE.fullmatch(opts.model_id):
                raise SettingError(
                    "model_id",
                    f"{opts.model_id!r} does not look like a Baseten model id "
                    "(letters and digits only, e.g. 'abcd1234')",
                )
            url = f"wss://model-{opts.model_id}.api.baseten.co/environments/production/websocket"
        else:
            raise SettingError(
                "model_id", "Baseten needs a model id or an endpoint URL (set one of the two)"
            )
        # No key at all (a local `hark serve`, see options.key_optional): no header,
        # rather than "Api-Key " with nothing after it.
        headers = {"Authorization": f"Api-Key {api_key}"} if api_key else {}
        return ConnectRequest(url, headers)

    def metadata(self) -> dict[str, Any]:
        """Return the metadata object for :attr:`schema` (the first text frame, unencoded)."""
        o = self._options
        vad = {
            "threshold": o.vad_threshold,
            "min_silence_duration_ms": o.vad_min_silence_ms,
            "speech_pad_ms": o.vad_speech_pad_ms,
        }
        if self.schema == "legacy":
            # Exactly the keys of the legacy schema (docs/wire-protocols.md §1.2); the runtime
            # behind it forbids unknown keys, so nothing more is sent. Use unsupported_options().
            return {
                "vad_params": vad,
                "streaming_whisper_params": {
                    "encoding": o.encoding,
                    "sample_rate": o.sample_rate,
                    "enable_partial_transcripts": o.partials,
                    "audio_language": o.language,
                    "show_word_timestamps": o.word_timestamps,
                },
            }
        sampling: dict[str, Any] = {
            "beam_width": o.beam_width,
            "length_penalty": o.length_penalty,
            "repetition_penalty": o.repetition_penalty,
        }
        if o.beam_search_diversity_rate is not None:
            sampling["beam_search_diversity_rate"] = o.beam_search_diversity_rate
        if o.no_repeat_ngram_size is not None:
            sampling["no_repeat_ngram_size"] = o.no_repeat_ngram_size
        whisper: dict[str, Any] = {
            "prompt": o.prompt,
            "audio_language": o.language,
            "language_detection_only": o.language_detection_only,
        }
        if o.language_options:  # runtimes before v0.5.0 reject the key, so omit when empty
            whisper["language_options"] = list(o.language_options)
        whisper["use_dynamic_preprocessing"] = o.dynamic_preprocessing
        whisper["show_word_timestamps"] = o.word_timestamps
        # Nested inside whisper_params per the server source; the top-level spelling is
        # rejected by extra="forbid" (unverified against every deployed runtime).
        whisper["whisper_sampling_params"] = sampling
        max_final = o.max_final_duration_s
        return {
            "whisper_params": whisper,
            "streaming_params": {
                "encoding": o.encoding,
                "sample_rate": o.sample_rate,
                "enable_partial_transcripts": o.partials,
                "partial_transcript_interval_s": o.partial_interval_s,
                # Whole seconds go out as an int, like the docs' example (30), in case the
                # server field is an int (its type is unverified).
                "final_transcript_max_duration_s": int(max_final)
                if max_final.is_integer()
                else max_final,
            },
            "streaming_vad_config": vad,
        }

    def unsupported_options(self) -> list[str]:
        """Return the options set to a non-default value that :attr:`schema` cannot carry."""
        if self.schema == "current":
            return []
        defaults = BasetenOptions()
        return [
            f.name
            for f in dataclasses.fields(self._options)
            if f.name in _LEGACY_UNSUPPORTED
            and getattr(self._options, f.name) != getattr(defaults, f.name)
        ]

    # -- outgoing ------------------------------------------------------------------------

    def start(self) -> None:
        """Queue the metadata JSON as the first text frame and start streaming."""
        self._require(State.IDLE)
        self._outgoing.append(json.dumps(self.metadata(), separators=(",", ":")))
        self.state = State.STREAMING
        self._metadata_unanswered = True

    def send_audio(self, pcm: bytes) -> None:
        """Queue 16-bit LE mono PCM as frames of exactly 512 samples; keep the remainder.

        Raises:
            RuntimeError: Unless streaming.
            ValueError: For an odd number of bytes (not whole samples).
        """
        self._require(State.STREAMING)
        if len(pcm) % 2:
            raise ValueError(f"PCM must be whole 16-bit samples, got {len(pcm)} bytes")
        self._samples += len(pcm) // 2
        if self._mulaw:
            from app.core.audio import pcm16_to_mulaw  # numpy, for this encoding only

            pcm = pcm16_to_mulaw(pcm)
        self._outgoing.extend(self._framer.push(pcm))

    def flush(self) -> None:
        """Queue the remainder, padded with silence (``TRAILING_SILENCE``), then ``end_audio``."""
        self._require(State.STREAMING)
        self._speech_end_s = self._samples / self.sample_rate
        if self.TRAILING_SILENCE:
            silence = -(-self._vad_tail_ms() * self.sample_rate // 1000)  # ceiling
            self._outgoing.extend(
                self._framer.push(_MULAW_SILENCE * silence if self._mulaw else bytes(2 * silence))
            )
        for tail in self._framer.flush(pad=not self._mulaw):  # Framer pads with 0x00 only
            self._outgoing.append(tail + _MULAW_SILENCE * (self._framer.frame_bytes - len(tail)))
        self._outgoing.append(END_AUDIO)
        self.state = State.FLUSHING

    def _vad_tail_ms(self) -> int:
        """Silence that surely ends an utterance at the server: its VAD's rule, plus 2 frames."""
        frames_ms = 2 * FRAME_SAMPLES * 1000 // self.sample_rate
        return self._options.vad_min_silence_ms + self._options.vad_speech_pad_ms + frames_ms

    def flush_settle_after(self) -> float | None:
        """Quiet after which an ``end_audio`` the server never acknowledged counts as done.

        Only with the trailing silence sent: it made the server's VAD end the last
        utterance, so once no partial is open the server has nothing left.
        """
        if (
            self.state is not State.FLUSHING
            or self.flush_acknowledged
            or not self.TRAILING_SILENCE
            or self._partial_open
        ):
            return None
        return self.FLUSH_SETTLE_S if self._flush_final_seen else self.FLUSH_QUIET_S

    # -- incoming ------------------------------------------------------------------------

    def receive_text(self, text: str) -> None:
        """Parse a server message into events; never raises on what the server sends."""
        first = self._metadata_unanswered
        self._metadata_unanswered = False
        try:
            msg = jsonwire.loads(text)
        except ValueError:
            self._protocol_error("invalid JSON", text)
            return
        if not isinstance(msg, dict):
            self._protocol_error("unexpected message", text)
            return
        kind = msg.get("type")
        try:
            if kind == "session.created" and first:
                self._events.append(ProviderError(_V2_MESSAGE, code="unsupported", fatal=True))
            elif kind == "transcription" or (  # untyped: the legacy shapes (one unverified)
                kind is None and ("is_final" in msg or "message_type" in msg)
            ):
                self._on_result(msg)
            elif kind == "end_audio":
                self._on_end_audio(msg)
            elif kind == "error":
                self._on_error(msg, first)
            elif kind != "health_check":  # health replies carry nothing for us
                raise _Malformed("unknown message")
        except _Malformed as exc:
            self._protocol_error(str(exc), text)

    def connection_closed(self, code: int | None, reason: str) -> None:
        """Record the close; a close before any server message means the metadata was refused."""
        if self.state is State.CLOSED:
            return
        codes = self.CONFIG_REJECT_CLOSE_CODES
        if (
            self._metadata_unanswered
            and self.state in (State.STREAMING, State.FLUSHING)
            and (codes is None or code in codes)
        ):
            # A refused metadata closes the socket, maybe with no error frame
            # (docs/wire-protocols.md §1.7).
            self._metadata_unanswered = False
            self._events.append(
                ConfigRejected(
                    f"Baseten closed the connection right after the metadata (code {code}, "
                    f"reason {reason!r}); it probably rejected the {self.schema} schema"
                )
            )
        elif self.state is State.FLUSHING:
            self._events.append(
                ProviderError(
                    "The stream ended before Baseten confirmed the end of audio; "
                    "the last words may be missing.",
                    code="flush_unconfirmed",
                )
            )
        super().connection_closed(code, reason)

    def _on_result(self, msg: dict[str, Any]) -> None:
        message_type = msg.get("message_type")
        if message_type not in (None, "partial_transcript", "final_transcript"):
            raise _Malformed("unknown message_type")
        is_final = msg.get("is_final", message_type == "final_transcript")
        transcript = msg.get("transcript")
        if not isinstance(is_final, bool) or not isinstance(transcript, str | None):
            raise _Malformed("malformed transcription")
        raw_segments = msg.get("segments") or []
        if not isinstance(raw_segments, list) or not all(isinstance(s, dict) for s in raw_segments):
            raise _Malformed("malformed segments")
        segments = tuple(_segment(s) for s in raw_segments)
        # docs/wire-protocols.md §1.4: the legacy `transcript`, else the segments' texts joined.
        text = (transcript or "".join(s.text for s in segments)).strip()
        words = tuple(w for s in segments for w in s.words)
        # Top-level language may be null on some runtimes (unverified): fall back to segments.
        language = _str(msg.get("language_code")) or _str(msg.get("language"))
        language = language or next((s.language for s in segments if s.language), None)
        # Partials belong to the next final (docs/wire-protocols.md §1.6).
        utterance = f"u{self._utterance}"
        if not is_final:
            self._partial_open = True
            self._events.append(Partial(utterance, text, segments, words, language))
            return
        self._utterance += 1
        self._partial_open = False
        prob = _num(msg.get("language_prob"))
        if prob is None:
            probs = (_num(s.get("language_prob")) for s in raw_segments)
            prob = next((p for p in probs if p is not None), None)
        final = Final(
            utterance,
            text,
            segments,
            words,
            language=language,
            language_prob=prob,
            confidence=_num(msg.get("confidence")),
            reason=self._final_reason(msg),
        )
        if self.state is State.FLUSHING and self._reaches_speech_end(final):
            self._flush_final_seen = True
        self._events.append(final)

    def _reaches_speech_end(self, final: Final) -> bool:
        """Whether a final's audio ends so late that no further utterance can follow it.

        Another utterance would need the VAD's minimum silence after this one ends, and
        then speech, all before the flush; the slack allows for Whisper's timing.
        """
        end = end_time(final)
        tail_s = (self._options.vad_min_silence_ms + self._options.vad_speech_pad_ms) / 1000
        return end is not None and end >= self._speech_end_s - tail_s - _SETTLE_SLACK_S

    def _final_reason(self, msg: dict[str, Any]) -> FinalReason:
        if msg.get("is_end_of_audio_flush") is True:
            return "flush"
        if msg.get("type") != "transcription":
            return "unknown"  # legacy shapes carry nothing to tell VAD from forced finals
        # Guess: a buffer as long as the cap was cut by it (audio_length_sec's meaning is
        # inferred from the source's example, unverified). The server caps at 30 s.
        length = _num(msg.get("audio_length_sec"))
        limit = min(self._options.max_final_duration_s, 30.0) - _MAX_DURATION_SLACK_S
        return "max_duration" if length is not None and length >= limit else "vad"

    def _on_end_audio(self, msg: dict[str, Any]) -> None:
        body = msg.get("body")
        status = body.get("status") if isinstance(body, dict) else None
        if status == "acknowledged":
            self.flush_acknowledged = True
        elif status != "finished":
            raise _Malformed("unknown end_audio status")
        elif self.state is State.FLUSHING:
            self.state = State.FLUSHED
            self._events.append(FlushAck())
        elif self.state is not State.FLUSHED:  # a repeated `finished` is harmless
            raise _Malformed("end_audio finished without a flush")

    def _on_error(self, msg: dict[str, Any], first: bool) -> None:
        # Three shapes seen (docs/wire-protocols.md §1.4 d): body.message, body.error, message.
        body = msg.get("body")
        body = body if isinstance(body, dict) else {}
        words = _str(body.get("message")) or _str(body.get("error")) or _str(msg.get("message"))
        message = jsonwire.excerpt(words or "", jsonwire.MESSAGE_CHARS)
        message = message or "Baseten reported an error without a message"
        if first:  # nothing else came back after the metadata: the server refused it
            self._events.append(ConfigRejected(message))
            return
        code = _str(body.get("error_type"))
        code = jsonwire.excerpt(code) if code else None
        self._events.append(
            ProviderError(message, code=code, fatal=body.get("recoverable") is False)
        )

    def _protocol_error(self, why: str, text: str) -> None:
        """Report a frame we cannot read, quoting its start (one line, never all of it)."""
        message = f"{why} from Baseten: {jsonwire.excerpt(text)}"
        self._events.append(ProviderError(message, code="protocol"))


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _num(value: object) -> float | None:
    """Return a JSON number as float; anything else (null, text, booleans) as None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # a JSON integer past float's range: no time or probability
        return None


def _segment(raw: dict[str, Any]) -> Segment:
    """Read one segment: current ``start_time``/``end_time`` or legacy ``start``/``end``.

    Times are taken as seconds from stream start, as the server sends them (that no
    further offset is needed is unverified, docs/wire-protocols.md §1.4).
    """
    text = raw.get("text", "")
    timestamps = raw.get("word_timestamps") or []
    if not isinstance(text, str) or not isinstance(timestamps, list):
        raise _Malformed("malformed segment")
    words = []
    for w in timestamps:
        if not isinstance(w, dict) or not isinstance(w.get("word"), str):
            raise _Malformed("malformed word timestamp")
        words.append(
            Word(w["word"], _num(w.get("start_time")), _num(w.get("end_time")), _num(w.get("prob")))
        )
    return Segment(
        text,
        _num(raw.get("start_time", raw.get("start"))),
        _num(raw.get("end_time", raw.get("end"))),
        tuple(words),
        language=_str(raw.get("language_code")),
    )
