"""Audio plumbing: sample-format conversion, streaming resampling and framing.

The pipeline is always: any rate and channel count (float32 blocks from a file or a
microphone) -> :class:`StreamResampler` -> 16 kHz mono float32 -> :func:`float_to_pcm16`
-> a provider protocol, which cuts the bytes into its own frame size with a
:class:`Framer`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

from app.core.framing import Framer as Framer  # where it lived; providers use framing

FloatArray = npt.NDArray[np.float32]
Int16Array = npt.NDArray[np.int16]

TARGET_RATE = 16000
BYTES_PER_SAMPLE = 2


def pcm16_to_float(pcm: bytes | Int16Array) -> FloatArray:
    """Convert little-endian signed 16-bit PCM to float32 in [-1, 1)."""
    samples = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, bytes | bytearray) else pcm
    return (samples.astype(np.float32) / 32768.0).astype(np.float32)


def float_to_pcm16(samples: FloatArray) -> bytes:
    """Convert float32 samples to little-endian signed 16-bit PCM bytes, clipping at full scale."""
    scaled = np.multiply(samples, 32767.0, dtype=np.float32)
    np.clip(scaled, -32767.0, 32767.0, out=scaled)
    np.rint(scaled, out=scaled)
    return scaled.astype("<i2").tobytes()


def to_mono(block: npt.NDArray[np.floating]) -> FloatArray:
    """Average a ``(frames, channels)`` block down to one channel (1-D float32)."""
    if block.ndim == 1:
        return np.asarray(block, dtype=np.float32)
    if block.shape[1] == 1:  # a microphone opened in mono: a view, no arithmetic
        return np.asarray(block[:, 0], dtype=np.float32)
    return np.asarray(block.mean(axis=1), dtype=np.float32)


class StreamResampler:
    """Streaming conversion of any rate and channel count to ``out_rate`` mono float32.

    Uses soxr's stateful ``ResampleStream``, so chunk boundaries leave no seams
    (per-chunk ``resample_poly`` clicks at -35 dB; docs/desktop-integration.md §6).

    Calling contract: :meth:`process` for each block, then :meth:`finish` once to get the
    filter's tail. The total output length is ``round(input_frames * out_rate / in_rate)``.
    """

    def __init__(self, in_rate: int, channels: int, out_rate: int = TARGET_RATE) -> None:
        if in_rate <= 0 or channels <= 0:
            raise ValueError(f"invalid audio format: {in_rate} Hz, {channels} channel(s)")
        self.in_rate = in_rate
        self.channels = channels
        self.out_rate = out_rate
        self._stream = (
            None
            if in_rate == out_rate
            else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality="HQ")
        )

    def process(self, block: npt.NDArray[np.floating], last: bool = False) -> FloatArray:
        """Resample one ``(frames, channels)`` or 1-D block; returns what is ready."""
        if block.ndim == 2 and block.shape[1] != self.channels:
            raise ValueError(f"expected {self.channels} channel(s), got {block.shape[1]}")
        mono = to_mono(block)
        if self._stream is None:
            return mono
        out: FloatArray = self._stream.resample_chunk(mono, last=last)
        return out

    def finish(self) -> FloatArray:
        """Flush the resampler's delay line; call once after the last block."""
        return self.process(np.zeros(0, dtype=np.float32), last=True)


def pcm16_to_mulaw(pcm: bytes) -> bytes:
    """Encode 16-bit linear PCM as G.711 mu-law, one byte per sample (ITU reference rounding)."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.int32) >> 2  # 14-bit, as G.711 specifies
    mask = np.where(x < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(x), 8159) + 0x21
    segment = np.maximum(np.floor(np.log2(mag)).astype(np.int32) - 5, 0)
    value = np.where(segment > 7, 0x7F, (segment << 4) | ((mag >> (segment + 1)) & 0x0F))
    return (value ^ mask).astype(np.uint8).tobytes()


def mulaw_to_pcm16(data: bytes) -> bytes:
    """Decode G.711 mu-law bytes to 16-bit linear PCM."""
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    mag = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -mag, mag).astype("<i2").tobytes()


def rms_level(samples: FloatArray) -> float:
    """Root-mean-square level of float samples (0 for an empty block)."""
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
