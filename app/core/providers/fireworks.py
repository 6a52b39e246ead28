"""Fireworks streaming transcription (docs/wire-protocols.md §3) as a sans-I/O protocol.

The configuration is in the URL's query string; audio goes up as binary frames of
50 ms. The server answers with whole transcription snapshots whose ``segments`` are
merged into local state by id ("overwrite by id"): a later message may revise a
segment or add new ones. A segment is final once its last word has ``is_final``.
The flush is the ``{"checkpoint_id":"final"}`` checkpoint, which the server echoes
once it has processed all audio sent before it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from app.core import jsonwire
from app.core.events import Final, FinalReason, FlushAck, Partial, ProviderError, Segment, Word
from app.core.framing import Framer
from app.core.options import FireworksOptions
from app.core.providers.base import ConnectRequest, State
from app.core.providers.wire import (
    QueryConfiguredProtocol,
    compact_json,
    endpoint_url,
    format_number,
)

DEFAULT_ENDPOINT = "wss://audio-streaming.api.fireworks.ai/v1/audio/transcriptions/streaming"
FRAME_BYTES = 1600  # 50 ms of 16 kHz s16le mono, the chunk size Fireworks recommends
FLUSH_CHECKPOINT = "final"


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # a JSON integer past float's range: no time or probability
            return None
    return None


def _segment_id(value: Any, index: int) -> str:
    """Normalise a segment id: the docs type it as a number but their examples send ``"0"``."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(index)  # no usable id: fall back to the position in the list


def _id_order(segment_id: str) -> tuple[int, int, str]:
    """Sort key: numeric ids in numeric order, then any others by name."""
    try:
        return (0, int(segment_id), "")
    except ValueError:
        return (1, 0, segment_id)


def _word(raw: Any) -> Word | None:
    if not isinstance(raw, Mapping):
        return None
    text = raw.get("word")
    if not isinstance(text, str):
        text = raw.get("text")
    if not isinstance(text, str):
        return None
    return Word(
        text=text,
        start=_number(raw.get("start")),
        end=_number(raw.get("end")),
        confidence=_number(raw.get("probability")),
        final=raw.get("is_final") is True,
    )


def _segment(raw: Mapping[str, Any], index: int, language: str | None) -> Segment:
    raw_words = raw.get("words")
    words = tuple(
        word
        for word in (_word(w) for w in (raw_words if isinstance(raw_words, list) else ()))
        if word is not None
    )
    text = raw.get("text")
    if not isinstance(text, str):
        text = " ".join(w.text.strip() for w in words)
    lang = raw.get("language")
    return Segment(
        text=text,
        start=_number(raw.get("start")),
        end=_number(raw.get("end")),
        words=words,
        id=_segment_id(raw.get("id"), index),
        language=lang if isinstance(lang, str) else language,
    )


def _is_final(segment: Segment) -> bool:
    # LiveKit's rule: a segment is final when its last word is.
    return bool(segment.words) and segment.words[-1].final


class FireworksProtocol(QueryConfiguredProtocol):
    """Fireworks' streaming transcription WebSocket.

    Utterance ids are the segment ids as strings. A segment emitted as
    :class:`~app.core.events.Final` is immutable: later revisions of it are ignored.

    Attributes:
        options: The connection's :class:`~app.core.options.FireworksOptions`.
    """

    provider = "fireworks"
    sample_rate = 16000

    def __init__(self, options: FireworksOptions | None = None) -> None:
        """Create an idle protocol.

        Args:
            options: Connection options; the defaults when omitted.
        """
        super().__init__()
        self.options = options if options is not None else FireworksOptions()
        self._framer = Framer(FRAME_BYTES)
        self._segments: dict[str, Segment] = {}
        self._finalized: set[str] = set()

    # -- connection -------------------------------------------------------------

    def url(self) -> str:
        """Return the WebSocket URL with the whole configuration in its query.

        Raises:
            InsecureEndpointError: when ``options.endpoint`` is not an acceptable URL.
        """
        opts = self.options
        query = {
            "response_format": "verbose_json",
            "temperature": format_number(opts.temperature),
        }
        if opts.language != "auto":
            query["language"] = opts.language
        if opts.prompt:
            query["prompt"] = opts.prompt
        if opts.model:
            query["model"] = opts.model
        if opts.word_timestamps:
            # One comma-separated value, as the docs show it (a repeated param also works).
            query["timestamp_granularities"] = "word,segment"
        return endpoint_url(opts.endpoint, DEFAULT_ENDPOINT, query)

    def connect_request(self, api_key: str) -> ConnectRequest:
        """Return the URL and the ``Authorization`` header (the raw key, no scheme).

        Raises:
            InsecureEndpointError: when ``options.endpoint`` is not an acceptable URL.
        """
        return ConnectRequest(self.url(), {"Authorization": api_key})

    # -- audio ------------------------------------------------------------------

    def send_audio(self, pcm: bytes) -> None:
        """Queue one binary frame per complete 50 ms of audio."""
        self._require(State.STREAMING)
        self._outgoing.extend(self._framer.push(pcm))

    def flush(self) -> None:
        """Queue the remaining audio (unpadded) and the ``final`` checkpoint."""
        self._require(State.STREAMING)
        self._outgoing.extend(self._framer.flush(pad=False))
        self._outgoing.append(compact_json({"checkpoint_id": FLUSH_CHECKPOINT}))
        self.state = State.FLUSHING

    # -- server messages --------------------------------------------------------

    def receive_text(self, text: str) -> None:
        """Turn one server message into events; never raises on what the server sends."""
        message = self._parse(text)
        if message is None:
            return
        if message.get("error") is not None:
            self._on_error(message["error"])
        elif "checkpoint_id" in message:
            self._on_checkpoint(message["checkpoint_id"])
        elif isinstance(message.get("segments"), list):
            self._on_transcription(message)
        # stt.state.cleared, stt.output.trace, a bare `text` without segments (we always
        # ask for verbose_json) and anything new: nothing to do.

    def _on_error(self, error: Any) -> None:
        # The docs only say errors are objects with an `error` key; the schema is
        # unverified, so accept a string or an object with `message` and `code`/`type`.
        message = code = None
        if isinstance(error, str):
            message = error
        elif isinstance(error, Mapping):
            message = error.get("message") if isinstance(error.get("message"), str) else None
            for key in ("code", "type"):
                value = error.get(key)
                if isinstance(value, str | int) and not isinstance(value, bool):
                    code = str(value)
                    break
        text = jsonwire.excerpt(message, jsonwire.MESSAGE_CHARS) if message else ""
        text = text or jsonwire.excerpt(f"error: {error!r}", jsonwire.MESSAGE_CHARS)
        self._events.append(ProviderError(text, jsonwire.excerpt(code) if code else None))

    def _on_checkpoint(self, checkpoint: Any) -> None:
        if checkpoint != FLUSH_CHECKPOINT or self.state is not State.FLUSHING:
            return  # someone else's checkpoint, or an echo we did not ask for
        # All audio is processed: the pending segments' current text is the transcript.
        for segment_id in sorted(self._segments, key=_id_order):
            if segment_id not in self._finalized:
                segment = self._segments[segment_id]
                words = tuple(dataclasses.replace(w, final=True) for w in segment.words)
                self._emit_final(dataclasses.replace(segment, words=words), "flush")
        self._events.append(FlushAck())
        self.state = State.FLUSHED

    def _on_transcription(self, message: Mapping[str, Any]) -> None:
        lang = message.get("language")
        language = lang if isinstance(lang, str) else None
        incoming: dict[str, Segment] = {}
        for index, raw in enumerate(message["segments"]):
            if isinstance(raw, Mapping):
                segment = _segment(raw, index, language)
                incoming[segment.id or str(index)] = segment
        for segment_id in sorted(incoming, key=_id_order):
            if segment_id in self._finalized:
                continue  # a Final is immutable
            segment = incoming[segment_id]
            changed = self._segments.get(segment_id) != segment
            self._segments[segment_id] = segment
            if _is_final(segment):
                # Fireworks finalises after a stretch of silence (`text_timeout_seconds`
                # in LiveKit's client): an endpoint decision, reported as "vad".
                self._emit_final(segment, "vad")
            elif changed:
                self._events.append(
                    Partial(
                        segment_id,
                        segment.text,
                        segments=(segment,),
                        words=segment.words,
                        language=segment.language,
                    )
                )

    def _emit_final(self, segment: Segment, reason: FinalReason) -> None:
        segment_id = segment.id or ""
        self._finalized.add(segment_id)
        self._segments[segment_id] = segment
        self._events.append(
            Final(
                segment_id,
                segment.text,
                segments=(segment,),
                words=segment.words,
                language=segment.language,
                reason=reason,
            )
        )
