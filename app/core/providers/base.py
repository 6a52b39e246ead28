"""The contract every provider protocol implements.

A protocol is a plain state machine with no I/O, no awaits and no clocks (the
websockets library's sans-I/O pattern). The engine drives it:

1. ``request = protocol.connect_request(api_key)`` and open a WebSocket to
   ``request.url`` with ``request.headers``.
2. ``protocol.start()``, then send everything in ``protocol.data_to_send()``.
3. For each block of 16-bit mono PCM at ``protocol.sample_rate``:
   ``protocol.send_audio(pcm)``, then send ``data_to_send()``.
4. For each received frame: ``protocol.receive_text(text)`` or
   ``protocol.receive_bytes(data)``, then handle ``protocol.events_received()`` and send
   ``data_to_send()`` (a protocol may answer a frame).
5. To finish: ``protocol.flush()`` and send ``data_to_send()``; wait for a
   :class:`~app.core.events.FlushAck` event; then, when ``close_expected()``, close.
6. When the connection closes, for whatever reason:
   ``protocol.connection_closed(code, reason)`` and handle the events.

After every call, drain both ``data_to_send()`` and ``events_received()``.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.core.events import Event, FlushAck, ProviderError, SessionEnded
from app.core.options import LocalOptions

Outgoing = str | bytes
"""A frame to send: ``str`` is a text frame, ``bytes`` a binary frame."""


class State(enum.Enum):
    """Where a protocol is in its life cycle."""

    IDLE = "idle"  # created; start() not called yet
    STREAMING = "streaming"  # configuration sent, audio flowing
    FLUSHING = "flushing"  # flush sent, waiting for the provider to confirm
    FLUSHED = "flushed"  # the provider confirmed; the client may close
    CLOSED = "closed"  # the connection is gone


@dataclass(frozen=True)
class ConnectRequest:
    """Where and how to open the WebSocket.

    ``headers`` holds the API key: the ``repr`` hides it so a stray log line or
    traceback never shows it. ``local`` is set instead of a network address for the
    in-process local engine: the connector opens that engine, and ``url`` only names
    it in logs.
    """

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    local: LocalOptions | None = None

    def __repr__(self) -> str:
        names = ", ".join(sorted(self.headers))
        return f"ConnectRequest(url={self.url!r}, headers=<{names}>)"


class StreamingProtocol(ABC):
    """Base class for provider protocols. See the module docstring for the calling contract.

    Attributes:
        provider: Short provider name (``"baseten"``).
        sample_rate: The PCM rate ``send_audio`` expects, in Hz.
        state: The current :class:`State`.
    """

    provider: str = ""
    sample_rate: int = 16000
    flush_ack_guaranteed: bool = True
    """False where the provider may stay silent after a flush with nothing left to
    transcribe; the engine then ends the session after its flush timeout of silence."""

    def __init__(self) -> None:
        self.state = State.IDLE
        self._outgoing: list[Outgoing] = []
        self._events: list[Event] = []

    # -- the engine calls these -------------------------------------------------

    @abstractmethod
    def connect_request(self, api_key: str) -> ConnectRequest:
        """Return the URL and headers (auth included) to open the connection with."""

    @abstractmethod
    def start(self) -> None:
        """Queue the configuration frames, if any, and start streaming."""

    @abstractmethod
    def send_audio(self, pcm: bytes) -> None:
        """Queue 16-bit little-endian mono PCM at :attr:`sample_rate`, framed per the provider."""

    @abstractmethod
    def flush(self) -> None:
        """Queue the rest of the audio and the provider's end-of-audio message."""

    @abstractmethod
    def receive_text(self, text: str) -> None:
        """Parse a received text frame into events."""

    def receive_bytes(self, data: bytes) -> None:
        """Parse a received binary frame. No provider here sends any: report it."""
        self._events.append(
            ProviderError(f"unexpected binary frame of {len(data)} bytes", code="protocol")
        )

    def connection_closed(self, code: int | None, reason: str) -> None:
        """Record that the connection is gone; emits :class:`SessionEnded`."""
        if self.state is State.CLOSED:
            return
        by_us = self.state is State.FLUSHED
        self.state = State.CLOSED
        self._events.append(SessionEnded("client_close" if by_us else "server_close", code, reason))

    def flush_settle_after(self) -> float | None:
        """Seconds of quiet after which an unanswered flush may be taken as done.

        ``None`` (the default, and whenever the provider has answered the flush) means
        wait for the provider's confirmation up to the engine's flush timeout. A
        protocol returns a number when what it has received proves nothing is left:
        the provider ignores the flush message but its own end-of-speech detection has
        finalised everything that was sent.
        """
        return None

    def settle_flush(self) -> None:
        """Take the flush as done: the engine saw :meth:`flush_settle_after` of quiet.

        Emits a synthesized :class:`~app.core.events.FlushAck`; the client may close.
        """
        self._require(State.FLUSHING)
        self.state = State.FLUSHED
        self._events.append(FlushAck(synthesized=True))

    def unsupported_options(self) -> list[str]:
        """Options set to a non-default value that this connection cannot carry (none)."""
        return []

    def close_expected(self) -> bool:
        """True once the provider confirmed the flush and the client should close."""
        return self.state is State.FLUSHED

    def data_to_send(self) -> list[Outgoing]:
        """Return and forget the frames queued since the last call."""
        out, self._outgoing = self._outgoing, []
        return out

    def events_received(self) -> list[Event]:
        """Return and forget the events produced since the last call."""
        out, self._events = self._events, []
        return out

    # -- helpers for subclasses ----------------------------------------------------

    def _require(self, *states: State) -> None:
        if self.state not in states:
            allowed = " or ".join(s.value for s in states)
            raise RuntimeError(
                f"{self.provider}: call not allowed in state {self.state.value}; needs {allowed}"
            )
