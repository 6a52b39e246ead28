"""Audio that Silero VAD takes for speech, made in numpy (no espeak, no files).

A glottal pulse train with a wandering pitch (100-150 Hz) goes through three formant
resonators that change every 250 ms (four vowels), under a 2 Hz syllable envelope.
Silero gives it a speech probability around 0.9; pure tones and noise get about 0,
which is why tests cannot use them: the VAD drops all of such audio and the model is
never called.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RATE = 16000
_VOWELS = (
    ((700, 130), (1220, 70), (2600, 160)),  # a
    ((300, 60), (2300, 100), (3000, 150)),  # i
    ((500, 80), (900, 80), (2500, 150)),  # o
    ((400, 70), (1900, 100), (2600, 150)),  # e
)


def _resonate(x: npt.NDArray[np.float64], freq: float, bandwidth: float) -> npt.NDArray[np.float64]:
    r = np.exp(-np.pi * bandwidth / RATE)
    c, d = 2 * r * np.cos(2 * np.pi * freq / RATE), -r * r
    y = np.zeros_like(x)
    y1 = y2 = 0.0
    for i, v in enumerate(x.tolist()):
        y0 = v + c * y1 + d * y2
        y[i] = y0
        y1, y2 = y0, y1
    return y


def speechlike(seconds: float) -> npt.NDArray[np.float32]:
    """``seconds`` of vowel-like "speech" at 16 kHz, float32 in [-0.5, 0.5]."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * t) + 10 * np.sin(2 * np.pi * 3.1 * t)
    phase = np.cumsum(f0 / RATE)
    pulses = np.zeros(n)
    pulses[np.nonzero(np.diff(np.floor(phase)))[0]] = 1.0
    out = np.zeros(n)
    step = RATE // 4
    for j, start in enumerate(range(0, n, step)):
        y = pulses[start : start + step]
        for freq, bandwidth in _VOWELS[j % len(_VOWELS)]:
            y = _resonate(y, freq, bandwidth)
        out[start : start + step] = y
    out *= 0.3 + 0.7 * np.sin(2 * np.pi * t) ** 2
    peak = float(np.abs(out).max()) or 1.0
    return (0.5 * out / peak).astype(np.float32)


def silence(seconds: float) -> npt.NDArray[np.float32]:
    """``seconds`` of digital silence at 16 kHz."""
    return np.zeros(int(seconds * RATE), np.float32)


def to_pcm16(signal: npt.NDArray[np.float32]) -> bytes:
    """Float samples in [-1, 1] as little-endian int16 bytes."""
    return (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()
