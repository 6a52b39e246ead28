"""Cutting a stream into utterances from per-window speech probabilities (no I/O).

:class:`Endpointer` is the local engine's segmentation: it is fed each 512-sample
window of 16 kHz audio with the VAD's speech probability for it, buffers the current
utterance, and says when to transcribe what. Its rules are those of Silero's
``VADIterator``, which Baseten's ``StreamingVADIterator`` wraps (docs/wire-protocols.md §1.6):

- speech starts at the first window with probability >= ``threshold``; the utterance
  begins ``speech_pad_ms`` before that window (audio kept from before);
- speech ends after ``min_silence_ms`` of windows below ``threshold - 0.15``; the
  utterance keeps ``speech_pad_ms`` after the first silent window;
- an utterance that reaches ``max_duration_s`` is cut there (a forced final) and the
  next one starts at once, still in speech;
- while in speech, a partial is offered (the whole utterance so far) once
  ``first_partial_s`` of speech has been heard, then every ``partial_interval_s`` of
  newly buffered audio (audio seconds, not wall-clock time), but only when a speech
  window came since the last one: the trailing silence before an endpoint offers
  nothing, so no partial work stands in the way of the final;
- audio outside speech is not kept (beyond the padding), so long silence costs nothing
  and produces nothing.

An utterance with no window above the threshold (the silent tail after a forced cut)
is dropped instead of transcribed: Whisper invents text for silence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
ChunkReason = Literal["partial", "vad", "max_duration", "flush"]

WINDOW = 512
"""Samples per VAD window at 16 kHz (Silero's window; 32 ms)."""

NEG_THRESHOLD_GAP = 0.15
"""Silero's hysteresis: a window is silence below ``threshold - NEG_THRESHOLD_GAP``."""


@dataclass(frozen=True, eq=False)
class Chunk:
    """Audio to transcribe.

    Attributes:
        audio: A copy of the utterance's samples (float32, 16 kHz mono).
        start: Where the audio starts, in seconds from the start of the stream.
        reason: ``"partial"`` for a partial; for a final, what ended the utterance.
        speech_end: Where the last speech window of the audio ends, in seconds from
            the start of ``audio`` (what came after it is padding or silence).
    """

    audio: FloatArray
    start: float
    reason: ChunkReason
    speech_end: float = 0.0

    @property
    def final(self) -> bool:
        """True for a final (every reason but ``"partial"``)."""
        return self.reason != "partial"

    @property
    def duration(self) -> float:
        """Length of the audio in seconds (at 16 kHz)."""
        return len(self.audio) / 16000


class Endpointer:
    """The utterance state machine of one stream (see the module docstring).

    Args:
        threshold: Speech probability at or above which a window is speech.
        min_silence_ms: Silence that ends an utterance.
        speech_pad_ms: Audio kept before the start and after the end of speech.
        max_duration_s: Longest utterance before a forced final.
        partial_interval_s: Buffered audio between partials; ``None`` for no partials.
        first_partial_s: Speech heard before the first partial of an utterance.
        sample_rate: Samples per second of the windows (16000).
    """

    def __init__(
        self,
        *,
        threshold: float,
        min_silence_ms: float,
        speech_pad_ms: float,
        max_duration_s: float,
        partial_interval_s: float | None,
        first_partial_s: float = 0.3,
        sample_rate: int = 16000,
    ) -> None:
        if max_duration_s <= 0:
            raise ValueError("max_duration_s must be positive")
        self.threshold = threshold
        self.sample_rate = sample_rate
        self._min_silence = round(min_silence_ms * sample_rate / 1000)
        self._pad = round(speech_pad_ms * sample_rate / 1000)
        self._max = max(WINDOW, round(max_duration_s * sample_rate))
        self._interval = (
            None if partial_interval_s is None else max(1, round(partial_interval_s * sample_rate))
        )
        self._first = max(1, round(first_partial_s * sample_rate))
        self._buffer = np.zeros(self._max + self._pad + WINDOW, np.float32)
        self._length = 0  # samples of the current utterance in _buffer
        self._history = np.zeros(0, np.float32)  # the last `pad` samples seen
        self._current = 0  # samples seen in the whole stream
        self._start = 0  # stream sample where the current utterance starts
        self._triggered = False
        self._temp_end = 0  # stream sample where the current silence started, 0 if none
        self._speech_windows = 0
        self._offered = 0  # utterance length when the last partial was offered
        self._speech_end = 0  # utterance length at the end of its last speech window

    @property
    def in_speech(self) -> bool:
        """True between the start of speech and its end (the VAD is triggered)."""
        return self._triggered

    def push(self, window: FloatArray, prob: float) -> list[Chunk]:
        """Add one window and its speech probability; return what to transcribe now.

        At most a final and then a partial come back, in that order.
        """
        chunks: list[Chunk] = []
        self._current += len(window)
        speech = prob >= self.threshold
        if speech and self._temp_end:
            self._temp_end = 0
        if self._triggered:
            self._append(window)
        elif speech:
            self._triggered = True
            self._start = self._current - len(window) - len(self._history)
            self._length = 0
            self._offered = 0
            self._speech_windows = 0
            self._speech_end = 0
            self._append(self._history)
            self._append(window)
        self._remember(window)
        if not self._triggered:
            return chunks
        if speech:
            self._speech_windows += 1
            self._speech_end = self._length
        if prob < self.threshold - NEG_THRESHOLD_GAP:
            if not self._temp_end:
                self._temp_end = self._current
            if self._current - self._temp_end >= self._min_silence:
                end = self._temp_end + self._pad - len(window)
                self._triggered = False
                self._temp_end = 0
                chunk = self._take(max(0, min(self._length, end - self._start)), "vad")
                return [chunk] if chunk is not None else []
        if self._length >= self._max:
            chunk = self._take(self._length, "max_duration")
            if chunk is not None:
                chunks.append(chunk)
            self._start = self._current  # the next utterance goes on, still in speech
            return chunks
        if self._partial_due():
            self._offered = self._length
            audio = self._buffer[: self._length].copy()
            speech_end = self._speech_end / self.sample_rate
            chunks.append(Chunk(audio, self._start_s, "partial", speech_end))
        return chunks

    def _partial_due(self) -> bool:
        if self._interval is None or self._speech_end <= self._offered:
            return False  # no partials, or no speech since the last one
        if not self._offered:
            return self._speech_windows * WINDOW >= self._first
        return self._length - self._offered >= self._interval

    def flush(self, tail: FloatArray | None = None) -> Chunk | None:
        """End the stream: the utterance in progress (plus ``tail``) as a final, if in speech.

        As Baseten does on ``end_audio``, buffered audio becomes a final only while the
        VAD is in speech; otherwise it is dropped.
        """
        if not self._triggered:
            return None
        if tail is not None and len(tail):
            self._append(tail[: len(self._buffer) - self._length])
        self._triggered = False
        self._temp_end = 0
        return self._take(self._length, "flush")

    # -- internals ---------------------------------------------------------------------

    @property
    def _start_s(self) -> float:
        return self._start / self.sample_rate

    def _append(self, samples: FloatArray) -> None:
        n = len(samples)
        self._buffer[self._length : self._length + n] = samples
        self._length += n

    def _remember(self, window: FloatArray) -> None:
        if self._pad:
            self._history = np.concatenate((self._history, window))[-self._pad :]

    def _take(self, length: int, reason: ChunkReason) -> Chunk | None:
        """The utterance's first ``length`` samples as a final; reset the buffer."""
        speech, start = self._speech_windows, self._start_s
        speech_end = min(self._speech_end, length) / self.sample_rate
        audio = self._buffer[:length].copy()
        self._length = 0
        self._offered = 0
        self._speech_windows = 0
        self._speech_end = 0
        if speech == 0 or length == 0:
            return None
        return Chunk(audio, start, reason, speech_end)
