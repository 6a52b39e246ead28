"""Audio files of any format libsndfile reads become float32 blocks; bad ones one clear error."""

from __future__ import annotations

import logging
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile

from app.adapters.audiofile import AudioFileSource
from app.core.errors import AudioInputError

RATE = 16000


def _tone(seconds: float = 0.5, channels: int = 1, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    mono = (level * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.repeat(mono[:, None], channels, axis=1)


async def _read_all(src: AudioFileSource) -> np.ndarray:
    return np.concatenate([b async for b in src.blocks()])


def _write_pcm(path: Path, rate: int, channels: int, width: int, data: bytes) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)


async def test_16bit_stereo_in_blocks(tmp_path: Path) -> None:
    frames = np.array([[16384, -16384]] * 1000, dtype="<i2")
    _write_pcm(tmp_path / "a.wav", 44100, 2, 2, frames.tobytes())
    src = AudioFileSource(tmp_path / "a.wav", block_ms=10)
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
        (1, bytes([128, 192, 64]), [0.0, 0.5, -0.5]),  # 8-bit WAV is unsigned
        (3, b"\x00\x00\x40" + b"\x00\x00\xc0", [0.5, -0.5]),
        (4, np.array([2**30, -(2**30)], "<i4").tobytes(), [0.5, -0.5]),
    ],
)
async def test_pcm_widths(tmp_path: Path, width: int, raw: bytes, expected: list[float]) -> None:
    _write_pcm(tmp_path / "w.wav", 8000, 1, width, raw)
    x = await _read_all(AudioFileSource(tmp_path / "w.wav"))
    np.testing.assert_allclose(x[:, 0], expected)


@pytest.mark.parametrize(
    ("name", "fmt", "subtype", "channels", "tolerance"),
    [
        ("float.wav", "WAV", "FLOAT", 1, 1e-6),
        ("ext24.wav", "WAVEX", "PCM_24", 4, 1e-6),  # WAVE_FORMAT_EXTENSIBLE, as sox writes
        ("a.flac", "FLAC", "PCM_16", 2, 1e-4),
        ("a.ogg", "OGG", "VORBIS", 1, 0.1),
        ("a.opus", "OGG", "OPUS", 1, 0.1),
        ("a.mp3", "MP3", "MPEG_LAYER_III", 1, 0.1),  # written by ffmpeg, see _write
    ],
)
async def test_formats_beyond_pcm_wav(
    tmp_path: Path, name: str, fmt: str, subtype: str, channels: int, tolerance: float
) -> None:
    rate = 48000 if subtype == "OPUS" else RATE  # Opus runs at 48 kHz
    t = np.arange(rate // 2) / rate
    tone = np.repeat((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None], channels, 1)
    _write(tmp_path / name, tone, rate, fmt, subtype)
    src = AudioFileSource(tmp_path / name)
    assert (src.sample_rate, src.channels) == (rate, channels)
    x = await _read_all(src)
    assert x.shape[1] == channels
    assert abs(len(x) - len(tone)) < rate // 10  # lossy codecs pad a little
    n = min(len(x), len(tone))
    if tolerance < 0.01:  # lossless: sample for sample
        np.testing.assert_allclose(x[:n], tone[:n], atol=tolerance)
    else:  # lossy: the same loudness
        assert np.sqrt(np.mean(x**2)) == pytest.approx(np.sqrt(np.mean(tone**2)), abs=tolerance)


def _write(path: Path, audio: np.ndarray, rate: int, fmt: str, subtype: str) -> None:
    if fmt != "MP3":
        soundfile.write(path, audio, rate, format=fmt, subtype=subtype)
        return
    # libsndfile's own MP3 encoder writes files its decoder then misreads when read in
    # blocks (frames decode to zeros); MP3s from LAME via ffmpeg, what users have, read
    # correctly, so the test makes one of those (PyAV comes with faster-whisper).
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        for start in range(0, len(audio), 1152):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(audio[start : start + 1152, :1].T), format="flt", layout="mono"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_missing_folder_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(AudioInputError, match=r"no such file"):
        AudioFileSource(tmp_path / "nope.wav")
    with pytest.raises(AudioInputError, match=r"is a folder"):
        AudioFileSource(tmp_path)
    (tmp_path / "x.wav").write_bytes(b"this is not audio at all, just words")
    with pytest.raises(AudioInputError, match=r"cannot read it as audio .*WAV, FLAC.*ffmpeg"):
        AudioFileSource(tmp_path / "x.wav")


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    _write_pcm(tmp_path / "empty.wav", RATE, 1, 2, b"")
    with pytest.raises(AudioInputError, match=r"holds no audio"):
        AudioFileSource(tmp_path / "empty.wav")


@pytest.mark.parametrize(("level", "says"), [(0.0, "digital silence"), (1e-4, "-80 dBFS")])
def test_silent_file_is_an_error(tmp_path: Path, level: float, says: str) -> None:
    soundfile.write(tmp_path / "quiet.wav", _tone(level=level), RATE, subtype="PCM_24")
    with pytest.raises(AudioInputError, match=f"silent throughout .*{says}"):
        AudioFileSource(tmp_path / "quiet.wav")


def test_quiet_start_then_sound_is_accepted(tmp_path: Path) -> None:
    audio = np.concatenate([np.zeros((RATE * 5, 1), np.float32), _tone(level=0.01)])
    soundfile.write(tmp_path / "late.wav", audio, RATE)
    assert AudioFileSource(tmp_path / "late.wav").frames == len(audio)


async def test_truncated_file_is_read_to_its_end_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    soundfile.write(tmp_path / "whole.wav", _tone(1.0), RATE, subtype="PCM_16")
    whole = (tmp_path / "whole.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[: len(whole) // 2])
    with caplog.at_level(logging.WARNING):
        src = AudioFileSource(tmp_path / "cut.wav")
    assert "cut short" in caplog.text
    assert len(await _read_all(src)) == pytest.approx(RATE / 2, abs=20)
    caplog.clear()
    AudioFileSource(tmp_path / "whole.wav")
    assert "cut short" not in caplog.text
