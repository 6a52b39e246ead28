"""Plain results of the local speech engine: what a transcriber hands back.

These carry no library types (faster-whisper's own segments are converted in
``app.adapters.whisper``), so the engine, the server protocol and tests share them.
Times are seconds from the start of the audio that was transcribed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class WordTiming(NamedTuple):
    """One word with its timing.

    Attributes:
        word: The word as the model spelled it, usually with a leading space.
        start: Seconds from the start of the transcribed audio.
        end: Seconds from the start of the transcribed audio.
        prob: The model's probability for the word, 0..1.
    """

    word: str
    start: float
    end: float
    prob: float


@dataclass(frozen=True)
class TranscribedSegment:
    """A stretch of recognised text.

    Attributes:
        start: Seconds from the start of the transcribed audio.
        end: Seconds from the start of the transcribed audio.
        text: The text, usually with a leading space (Whisper's habit).
        words: Per-word timings; empty unless word timestamps were asked for.
        avg_logprob: Mean log-probability of the segment's tokens.
        no_speech_prob: Whisper's probability that the window held no speech.
        compression_ratio: zlib compression ratio of the text; a high value means
            repetitive text, a typical hallucination.
    """

    start: float
    end: float
    text: str
    words: tuple[WordTiming, ...] = ()
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0

    @property
    def possible_hallucination(self) -> bool:
        """Whisper's own warning signs: repetitive text, or a no-speech verdict."""
        return self.compression_ratio > 2.4 or (
            self.no_speech_prob > 0.6 and self.avg_logprob < -1.0
        )


@dataclass(frozen=True)
class TranscriptionResult:
    """Everything one transcription produced.

    Attributes:
        text: The segments' texts joined, without surrounding spaces.
        segments: The segments in order.
        language: The language code used or detected (``"en"``); ``None`` if unknown.
        language_prob: The detection's probability (1.0 when the language was given).
    """

    text: str = ""
    segments: tuple[TranscribedSegment, ...] = ()
    language: str | None = None
    language_prob: float | None = None

    @classmethod
    def of(
        cls,
        segments: tuple[TranscribedSegment, ...],
        language: str | None = None,
        language_prob: float | None = None,
    ) -> TranscriptionResult:
        """Build a result whose ``text`` is the segments' texts joined."""
        return cls("".join(s.text for s in segments).strip(), segments, language, language_prob)
