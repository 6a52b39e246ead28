"""Normalised events: the vocabulary every provider protocol produces.

Providers differ on the wire (docs/wire-protocols.md §5); the engine, CLI and UI only ever see
these frozen dataclasses. Display rule: the visible text is every :class:`Final` in
order, followed by the newest :class:`Partial` of each utterance that has no final yet.
Only :class:`Final` text is ever committed (printed, typed, saved).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FinalReason = Literal["vad", "max_duration", "flush", "unknown"]
EndReason = Literal["client_close", "server_close", "error"]


@dataclass(frozen=True)
class Word:
    """One recognised word.

    Attributes:
        text: The word as the provider spelled it (may carry a leading space).
        start: Seconds from the start of the stream, when the provider gives it.
        end: Seconds from the start of the stream, when the provider gives it.
        confidence: 0..1 where the provider reports one (Baseten ``prob``,
            Fireworks ``probability``).
        final: False for words the provider may still revise (Fireworks ``is_final``).
    """

    text: str
    start: float | None = None
    end: float | None = None
    confidence: float | None = None
    final: bool = True


@dataclass(frozen=True)
class Segment:
    """A stretch of recognised text with optional timing and words."""

    text: str
    start: float | None = None
    end: float | None = None
    words: tuple[Word, ...] = ()
    id: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Partial:
    """An interim hypothesis. It replaces any earlier partial with the same ``utterance``.

    Attributes:
        utterance: Identifies the utterance this hypothesis belongs to; the next
            :class:`Final` with the same id supersedes it.
        text: The whole current hypothesis of that utterance (never a delta).
    """

    utterance: str
    text: str
    segments: tuple[Segment, ...] = ()
    words: tuple[Word, ...] = ()
    language: str | None = None


@dataclass(frozen=True)
class Final:
    """Committed text for one utterance. Immutable once emitted."""

    utterance: str
    text: str
    segments: tuple[Segment, ...] = ()
    words: tuple[Word, ...] = ()
    language: str | None = None
    language_prob: float | None = None
    confidence: float | None = None
    reason: FinalReason = "unknown"


@dataclass(frozen=True)
class SessionReady:
    """The provider announced that the session is open (Together ``session.created``)."""

    session_id: str | None = None


@dataclass(frozen=True)
class FlushAck:
    """Every audio frame sent before the flush has been transcribed.

    Attributes:
        synthesized: True when the engine gave up waiting and made this up itself.
    """

    synthesized: bool = False


@dataclass(frozen=True)
class ProviderError:
    """The provider reported an error.

    Attributes:
        message: The provider's own words.
        code: The provider's error type or code, when it gives one.
        fatal: True when the session cannot continue.
    """

    message: str
    code: str | None = None
    fatal: bool = False


@dataclass(frozen=True)
class ConfigRejected:
    """The provider refused the session configuration (Baseten metadata validation).

    The engine reacts by retrying with the other metadata schema when allowed.
    """

    message: str


@dataclass(frozen=True)
class SessionEnded:
    """The connection is gone.

    Attributes:
        reason: Who ended it: we did (after a flush), the server did, or an error did.
        code: WebSocket close code, when there was a close frame.
        detail: WebSocket close reason or error text.
    """

    reason: EndReason
    code: int | None = None
    detail: str = ""


Event = Partial | Final | SessionReady | FlushAck | ProviderError | ConfigRejected | SessionEnded

__all__ = [
    "ConfigRejected",
    "EndReason",
    "Event",
    "Final",
    "FinalReason",
    "FlushAck",
    "Partial",
    "ProviderError",
    "Segment",
    "SessionEnded",
    "SessionReady",
    "Word",
]
