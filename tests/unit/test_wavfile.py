"""WAV files of any rate, width and channel count become float32 blocks."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from app.adapters.wavfile import WavSource
from app.core.errors import AudioInputError


def _write(path: Path, rate: int, channels: int, width: int, data: bytes) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)


async def _read_all(src: WavSource) -> np.ndarray:
    return np.concatenate([b async for b in src.blocks()])


async def test_16bit_stereo(tmp_path: Path) -> None:
    frames = np.array([[16384, -16384]] * 1000, dtype="<i2")
    _write(tmp_path / "a.wav", 44100, 2, 2, frames.tobytes())
    src = WavSource(tmp_path / "a.wav", block_ms=10)
    assert (src.sample_rate, src.channels) == (44100, 2)
    blocks = [b async for b in src.blocks()]
    assert blocks[0].shape == (441, 2)
    x = np.concatenate(blocks)
    assert x.shape == (1000, 2)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x[0], [0.5, -0.5])


@pytest.mark.parametrize(
    ("width", "raw", "expected"),
    [
        (1, bytes([128, 192, 64]), [0.0, 0.5, -0.5]),
        (3, b"\x00\x00\x40" + b"\x00\x00\xc0", [0.5, -0.5]),
        (4, np.array([2**30, -(2**30)], "<i4").tobytes(), [0.5, -0.5]),
    ],
)
async def test_other_widths(tmp_path: Path, width: int, raw: bytes, expected: list[float]) -> None:
    _write(tmp_path / "w.wav", 8000, 1, width, raw)
    x = await _read_all(WavSource(tmp_path / "w.wav"))
    np.testing.assert_allclose(x[:, 0], expected)


def test_missing_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match=r"no such file"):
        WavSource(tmp_path / "nope.wav")
    (tmp_path / "x.wav").write_bytes(b"ID3 this is an mp3")
    with pytest.raises(AudioInputError, match=r"not a PCM WAV file .* Convert it"):
        WavSource(tmp_path / "x.wav")
