"""Stretches of speech in the audio a client sends, counted by energy (no I/O).

A provider whose end-of-speech detection runs on the server (Together's VAD) closes
one segment after each stretch of speech followed by its minimum silence, and sends
one final for it. :class:`SpeechBursts` counts those stretches on the client's side
of the wire, from the same 16-bit PCM, so that after a flush the client can tell
"every stretch has its final" from "one is still being transcribed".

It is built to count too many rather than too few: its energy threshold is low
(background noise counts as speech, which only costs a wait) and it splits at a gap
shorter than the server's minimum silence. A count at or below the server's finals,
with the audio ending in the server's silence, means nothing is left.
"""

from __future__ import annotations

import math

WINDOW_S = 0.01
"""Seconds of audio per energy window."""

THRESHOLD_DBFS = -50.0
"""A window this loud (RMS, dB below full scale) or louder counts as speech."""

SPLIT_FRACTION = 0.6
"""Silence that starts a new stretch, as a fraction of the server's minimum silence."""


class SpeechBursts:
    """Counts stretches of speech in a stream of 16-bit mono PCM.

    Args:
        sample_rate: The PCM's rate.
        min_silence_ms: The server's minimum silence that ends a segment.

    Attributes:
        count: Stretches begun so far.
        trailing_silence_s: Seconds of audio since the last speech window (all of it
            when there was none).
    """

    def __init__(self, sample_rate: int, min_silence_ms: float) -> None:
        self._window = max(1, round(sample_rate * WINDOW_S))
        self._rate = sample_rate
        self._split = math.ceil(SPLIT_FRACTION * min_silence_ms / 1000 / WINDOW_S)
        self._floor = (10 ** (THRESHOLD_DBFS / 20) * 32768) ** 2  # as a mean square
        self._pending = b""  # less than a window, not judged yet
        self._quiet = 0  # silent windows since the last loud one
        self.count = 0

    @property
    def trailing_silence_s(self) -> float:
        """Seconds of judged audio since the last speech window."""
        return self._quiet * self._window / self._rate

    def push(self, pcm: bytes) -> None:
        """Account for more PCM (whole samples)."""
        import numpy as np  # with the audio: the protocol module loads without it

        data = self._pending + pcm
        whole = len(data) - len(data) % (2 * self._window)
        self._pending = data[whole:]
        if not whole:
            return
        samples = np.frombuffer(data[:whole], dtype="<i2").astype(np.float32)
        power = (samples.reshape(-1, self._window) ** 2).mean(axis=1)
        for loud in (power >= self._floor).tolist():
            if not loud:
                self._quiet += 1
                continue
            if self.count == 0 or self._quiet >= self._split:
                self.count += 1
            self._quiet = 0
