"""Together AI realtime transcription (docs/wire-protocols.md §2) as a sans-I/O protocol.

The whole configuration travels in the URL's query string, so :meth:`start` sends
nothing. Audio goes up as base64 ``input_audio_buffer.append`` JSON messages of
100 ms each; ``input_audio_buffer.commit`` is the flush. Interim ``…delta`` messages
carry the whole current hypothesis (each replaces the previous one) and
``…completed`` closes one VAD segment, or the committed buffer after a flush.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, ClassVar

from app.core import jsonwire
from app.core.events import Final, FlushAck, Partial, ProviderError, SessionReady
from app.core.framing import Framer
from app.core.options import TogetherOptions
from app.core.providers.base import ConnectRequest, State
from app.core.providers.wire import (
    QueryConfiguredProtocol,
    compact_json,
    endpoint_url,
    format_number,
)
from app.core.speech_bursts import SpeechBursts

DEFAULT_ENDPOINT = "wss://api.together.ai/v1/realtime"
INPUT_AUDIO_FORMAT = "pcm_s16le_16000"  # the only format Together documents
FRAME_BYTES = 3200  # 100 ms of 16 kHz s16le mono, the chunk size of Together's examples

_TRANSCRIPTION = "conversation.item.input_audio_transcription."


def _text(value: Any) -> str | None:
    """``value`` as a string when it is a string or a number, else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _error_fields(message: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Read an error's text and code from ``error:{message, code|type}``, ``error:"…"``
    or the top level (``message``, ``code``): Together's docs and Pipecat disagree."""
    err = message.get("error")
    text = code = None
    if isinstance(err, Mapping):
        text = _text(err.get("message"))
        code = _text(err.get("code")) or _text(err.get("type"))
    elif isinstance(err, str):
        text = err
    text, code = text or _text(message.get("message")), code or _text(message.get("code"))
    # One bounded line each: a fatal error's text becomes the message the user sees.
    return (
        jsonwire.excerpt(text, jsonwire.MESSAGE_CHARS) if text else None,
        jsonwire.excerpt(code) if code else None,
    )


class TogetherProtocol(QueryConfiguredProtocol):
    """Together's realtime transcription WebSocket.

    Together's examples wait for ``session.created`` before sending audio; the
    engine streams from :meth:`start` on and the server buffers it, so the wait is
    optional.

    Utterance ids are the server's ``item_id`` when it sends one, else ``"u1"``,
    ``"u2"``, ...; a :class:`~app.core.events.Final` closes the utterance and the next
    delta starts a new one.

    Attributes:
        options: The connection's :class:`~app.core.options.TogetherOptions`.
    """

    provider = "together"
    sample_rate = 16000
    # A commit is confirmed only by the `completed` it produces; with nothing left to
    # transcribe there may be none, so the engine's timeout ends the wait quietly.
    flush_ack_guaranteed = False
    FLUSH_SETTLE_S: ClassVar[float] = 0.3
    """Quiet after a commit, once every stretch of speech sent has its `completed`, that
    counts as the flush done: what an empty commit gets from Together is unverified."""

    def __init__(self, options: TogetherOptions | None = None) -> None:
        """Create an idle protocol.

        Args:
            options: Connection options; the defaults when omitted.
        """
        super().__init__()
        self.options = options if options is not None else TogetherOptions()
        self._framer = Framer(FRAME_BYTES)
        self._commit_pending = False
        self._committed = False  # the server answered our commit
        self._commit_item: str | None = None
        self._utterance: str | None = None
        self._counter = 0
        # Stretches of speech sent, against segments the server closed: after a commit
        # with nothing pending, equal counts mean nothing is left (flush_settle_after).
        self._bursts = SpeechBursts(self.sample_rate, self.options.vad_min_silence_ms)
        self._segments = 0

    # -- connection -------------------------------------------------------------

    def url(self) -> str:
        """Return the WebSocket URL with the whole configuration in its query.

        Raises:
            InsecureEndpointError: when ``options.endpoint`` is not an acceptable URL.
        """
        opts = self.options
        query = {
            "model": opts.model,
            "input_audio_format": INPUT_AUDIO_FORMAT,
            "intent": "transcription",
        }
        if opts.language is not None:
            # Seen in third-party clients only; Together's docs do not list it (unverified).
            query["language"] = opts.language
        if opts.vad:
            # Server VAD settings as query parameters, named as in Together's VAD docs.
            query["threshold"] = format_number(opts.vad_threshold)
            query["min_silence_duration_ms"] = format_number(opts.vad_min_silence_ms)
            query["min_speech_duration_ms"] = format_number(opts.vad_min_speech_ms)
            query["max_speech_duration_s"] = format_number(opts.vad_max_speech_s)
            query["speech_pad_ms"] = format_number(opts.vad_speech_pad_ms)
        else:
            query["turn_detection"] = "none"  # documented: no VAD, one transcript per commit
        return endpoint_url(opts.endpoint, DEFAULT_ENDPOINT, query)

    def connect_request(self, api_key: str) -> ConnectRequest:
        """Return the URL and the ``Bearer`` plus ``OpenAI-Beta`` headers.

        Raises:
            InsecureEndpointError: when ``options.endpoint`` is not an acceptable URL.
        """
        headers = {"Authorization": f"Bearer {api_key}", "OpenAI-Beta": "realtime=v1"}
        return ConnectRequest(self.url(), headers)

    # -- audio ------------------------------------------------------------------

    def send_audio(self, pcm: bytes) -> None:
        """Queue one ``input_audio_buffer.append`` text frame per complete 100 ms."""
        self._require(State.STREAMING)
        if self.options.vad:
            self._bursts.push(pcm)
        for frame in self._framer.push(pcm):
            self._append(frame)

    def flush(self) -> None:
        """Queue the remaining audio (unpadded) and ``input_audio_buffer.commit``."""
        self._require(State.STREAMING)
        for frame in self._framer.flush(pad=False):
            self._append(frame)
        self._send({"type": "input_audio_buffer.commit"})
        self._commit_pending = True
        self.state = State.FLUSHING

    def flush_settle_after(self) -> float | None:
        """After a commit: :attr:`FLUSH_SETTLE_S` once nothing can be pending, else None.

        Nothing is pending when the server's VAD runs, no delta is open, the audio
        ended in at least the VAD's silence and padding (so it closed every segment
        itself, and the commit found an empty buffer), and it has sent a
        ``completed`` (or ``failed``) for every stretch of speech the client counted.
        The client's count errs high (low threshold, early split), which only means
        waiting for the flush timeout as before.
        """
        o = self.options
        if (
            self.state is not State.FLUSHING
            or not o.vad
            or not self._commit_pending
            or self._utterance is not None
        ):
            return None
        tail_s = (o.vad_min_silence_ms + o.vad_speech_pad_ms) / 1000
        if self._bursts.trailing_silence_s < tail_s or self._segments < self._bursts.count:
            return None
        return self.FLUSH_SETTLE_S

    def _append(self, frame: bytes) -> None:
        audio = base64.b64encode(frame).decode("ascii")
        self._send({"type": "input_audio_buffer.append", "audio": audio})

    def _send(self, message: dict[str, str]) -> None:
        self._outgoing.append(compact_json(message))

    # -- server messages --------------------------------------------------------

    def receive_text(self, text: str) -> None:
        """Turn one server message into events; never raises on what the server sends."""
        message = self._parse(text)
        if message is None:
            return
        kind = message.get("type")
        if kind == "session.created":
            session = message.get("session")
            sid = _text(session.get("id")) if isinstance(session, Mapping) else None
            self._events.append(SessionReady(sid))
        elif kind == _TRANSCRIPTION + "delta":
            self._on_delta(message)
        elif kind == _TRANSCRIPTION + "completed":
            self._on_completed(message)
        elif kind == _TRANSCRIPTION + "failed":
            # One segment failed; no completed will follow for it, so close it.
            self._utterance = None
            self._segments += 1
            msg, code = _error_fields(message)
            self._events.append(ProviderError(msg or "transcription failed", code))
        elif kind == "error":
            msg, code = _error_fields(message)
            # Pipecat treats every error event as the end of the session.
            self._events.append(ProviderError(msg or "unknown error", code, fatal=True))
        elif kind == "input_audio_buffer.committed" and self._commit_pending:
            # Seen in Pipecat's logs (unverified in Together's docs): names the item our
            # commit created, so a VAD `completed` for earlier speech that arrives after
            # the commit is not mistaken for the flush's result.
            self._committed = True
            self._commit_item = _text(message.get("item_id"))
        # Speech events and new types carry nothing we use.

    def _utterance_for(self, message: Mapping[str, Any]) -> str:
        item = _text(message.get("item_id"))
        if item:
            self._utterance = item
        elif self._utterance is None:
            self._counter += 1
            self._utterance = f"u{self._counter}"
        return self._utterance

    def _on_delta(self, message: Mapping[str, Any]) -> None:
        # "Each delta message overrides the previous delta": the whole hypothesis.
        # Together sends it in `delta`; Pipecat reads `transcript`, so accept both.
        text = message.get("delta")
        if not isinstance(text, str):
            text = message.get("transcript")
        if not isinstance(text, str):
            return
        self._events.append(Partial(self._utterance_for(message), text))

    def _on_completed(self, message: Mapping[str, Any]) -> None:
        utterance = self._utterance_for(message)
        self._utterance = None
        self._segments += 1
        text = message.get("transcript")
        item = _text(message.get("item_id"))
        if self.options.commit_reply:
            # Wait for the server's `committed`, then for its item's `completed`.
            flushed = self._committed and (
                self._commit_item is None or item is None or item == self._commit_item
            )
        else:
            flushed = self._commit_pending
        self._events.append(
            Final(
                utterance,
                text if isinstance(text, str) else "",
                reason="flush" if flushed else "vad",
            )
        )
        if flushed:
            # The completed for the committed item (or, when the server did not name
            # it, the first one after the commit) carries the rest of the audio.
            self._commit_pending = self._committed = False
            self._commit_item = None
            self._events.append(FlushAck())
            if self.state is State.FLUSHING:
                self.state = State.FLUSHED
