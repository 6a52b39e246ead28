"""The interfaces the engine needs from the outside world.

Adapters in ``app.adapters`` implement them against real libraries (websockets,
keyring, files); tests may pass their own implementations through the same
parameters. Each is a structural ``Protocol``: implementers need not import this.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from app.core.local_types import TranscriptionResult
from app.core.providers.base import ConnectRequest

if TYPE_CHECKING:  # annotations only: numpy loads with the audio
    import numpy as np
    import numpy.typing as npt


class Connection(Protocol):
    """An open WebSocket connection."""

    close_code: int | None
    close_reason: str

    async def send(self, frame: str | bytes) -> None:
        """Send one text (``str``) or binary (``bytes``) frame."""

    async def recv(self) -> str | bytes | None:
        """Return the next frame, or ``None`` once the connection is closed.

        After ``None``, ``close_code`` and ``close_reason`` say how it closed.
        """

    async def close(self) -> None:
        """Close the connection with code 1000 and wait for it to be closed."""


class Connector(Protocol):
    """Opens connections.

    Implementations raise :class:`~app.core.errors.KeyRejectedError` for HTTP 401/403,
    :class:`~app.core.errors.EndpointUnreachableError` for network, TLS and other
    HTTP failures, and :class:`~app.core.errors.SessionTimeout` when the handshake
    takes longer than ``open_timeout`` seconds.
    """

    async def __call__(
        self, request: ConnectRequest, *, provider: str, open_timeout: float
    ) -> Connection:
        """Open a connection to ``request.url`` with ``request.headers``."""


class AudioSource(Protocol):
    """Blocks of float32 audio: shape ``(frames, channels)`` at ``sample_rate``."""

    sample_rate: int
    channels: int

    def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        """Yield audio blocks until the source ends."""


class SchemaMemory(Protocol):
    """Remembers which Baseten metadata schema an endpoint accepted."""

    def get(self, endpoint: str) -> str | None:
        """Return ``"current"``, ``"legacy"`` or ``None`` when unknown."""

    def set(self, endpoint: str, schema: str) -> None:
        """Record the schema that worked for ``endpoint``."""


class SecretStore(Protocol):
    """API keys in the OS keyring, one per provider."""

    def get(self, provider: str) -> str | None:
        """Return the stored key or ``None``."""

    def set(self, provider: str, key: str) -> None:
        """Store ``key`` for ``provider``."""

    def delete(self, provider: str) -> bool:
        """Delete the key; return whether one existed."""


class Clipboard(Protocol):
    """The system clipboard (implemented with Qt in ``app.ui``, which can own it)."""

    def snapshot(self) -> object:
        """An opaque copy of everything on the clipboard now, for :meth:`restore`."""

    def set_text(self, text: str, *, transient: bool) -> None:
        """Put ``text`` on the clipboard; ``transient`` asks clipboard managers to skip it."""

    def owns(self) -> bool:
        """True while the clipboard still holds what :meth:`set_text` put there."""

    def restore(self, snapshot: object) -> None:
        """Put a :meth:`snapshot` back."""


class Keyboard(Protocol):
    """Synthetic input and focus queries for the desktop session (one per platform)."""

    name: str

    def active_window(self) -> str | None:
        """An id of the window that has keyboard focus, or ``None`` when it cannot be known."""

    def modifiers_down(self) -> bool:
        """Whether Ctrl, Alt, Shift or Super/Cmd is held right now."""

    async def paste(self) -> None:
        """Send the paste shortcut (Ctrl+V, Cmd+V, or the terminal's) to the focused window."""

    async def type_text(self, text: str) -> None:
        """Type ``text`` into the focused window, independent of the keyboard layout."""


class History(Protocol):
    """Where every final transcript is saved before it is inserted."""

    def add(self, text: str, *, provider: str) -> int:
        """Save ``text``; returns its id."""

    def mark(self, entry_id: int, outcome: str) -> None:
        """Record how the entry was delivered (``inserted``, ``clipboard``, ``failed``)."""

    def recent(self, limit: int = 10) -> list[str]:
        """The newest transcripts first."""


class ServerConnection(Connection, Protocol):
    """The server's end of a connection (``hark serve``, the in-process local provider).

    Like :class:`Connection`, but the server closes with a code of its choosing (1011
    after a refused metadata frame, 1013 when busy).
    """

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with ``code`` and ``reason`` and wait for it to be closed."""


class Transcriber(Protocol):
    """Speech to text for the local engine (faster-whisper in ``app.adapters.whisper``).

    Both methods block (for up to seconds): the engine calls them in an executor, never
    on the event loop.
    """

    def load(self) -> None:
        """Load the model now, if not loaded yet; ``transcribe`` also loads on first use.

        Raises:
            HarkError: The model is missing or cannot be loaded (a one-line message).
        """

    def transcribe(
        self,
        audio: npt.NDArray[np.float32],
        *,
        language: str | None,
        prompt: str,
        word_timestamps: bool,
        beam_size: int,
        partial: bool = False,
        context: str = "",
    ) -> TranscriptionResult:
        """Transcribe 16 kHz mono float32 ``audio`` (one utterance, at most 30 s).

        Args:
            audio: The samples.
            language: A language code, or ``None`` to detect it.
            prompt: Text that primes the vocabulary and style (may be empty).
            word_timestamps: Also time each word.
            beam_size: Beam search width (1 = greedy).
            partial: A throw-away hypothesis (a partial): the implementation may trade
                accuracy for speed (no temperature fallback).
            context: What was said just before this audio: conditions the decoder
                (Whisper's previous-text prompt); may be empty.
        """


class Vad(Protocol):
    """Voice activity detection over 512-sample windows of 16 kHz audio, stateful.

    Attributes:
        threshold: The speech threshold it was made for (the engine's endpointing uses it).
    """

    threshold: float

    def speech_probability(self, window: npt.NDArray[np.float32]) -> float:
        """The probability that ``window`` (exactly 512 samples) is speech, 0..1.

        Fast (well under a millisecond); each call continues from the previous ones.
        """

    def reset(self) -> None:
        """Forget the stream so far (a new stream starts)."""
