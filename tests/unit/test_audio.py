"""Audio core: conversions, the streaming resampler and framing."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.audio import (
    Framer,
    StreamResampler,
    float_to_pcm16,
    mulaw_to_pcm16,
    pcm16_to_float,
    pcm16_to_mulaw,
    rms_level,
    to_mono,
)


def test_pcm16_round_trip_and_clipping() -> None:
    x = np.array([0.0, 0.5, -0.5, 1.5, -1.5], dtype=np.float32)
    pcm = float_to_pcm16(x)
    assert np.frombuffer(pcm, "<i2").tolist() == [0, 16384, -16384, 32767, -32767]
    back = pcm16_to_float(pcm)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back[:3], [0.0, 0.5, -0.5], atol=1e-4)


def test_to_mono_averages_channels() -> None:
    stereo = np.array([[1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    assert to_mono(stereo).tolist() == [0.5, 0.5]


def _tone(rate: int, seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize(("rate", "channels"), [(48000, 2), (44100, 1), (8000, 1), (16000, 2)])
def test_resampler_length_and_pitch(rate: int, channels: int) -> None:
    tone = _tone(rate, 2.0)
    block = np.repeat(tone[:, None], channels, axis=1)
    rs = StreamResampler(rate, channels)
    out = [rs.process(block[i : i + 960]) for i in range(0, len(block), 960)]
    out.append(rs.finish())
    y = np.concatenate(out)
    assert len(y) == 32000  # exactly 2 s at 16 kHz: nothing lost, nothing invented
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak_hz = np.fft.rfftfreq(len(y), 1 / 16000)[spectrum.argmax()]
    assert abs(peak_hz - 440) < 2
    assert rms_level(y[2000:-2000]) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)


def test_resampler_chunking_is_seamless() -> None:
    tone = _tone(48000, 1.0)
    one = StreamResampler(48000, 1)
    whole = np.concatenate([one.process(tone), one.finish()])
    many = StreamResampler(48000, 1)
    pieces = [many.process(tone[i : i + 441]) for i in range(0, len(tone), 441)]
    chunked = np.concatenate([*pieces, many.finish()])
    np.testing.assert_allclose(chunked, whole, atol=1e-6)


def test_resampler_rejects_wrong_channel_count() -> None:
    with pytest.raises(ValueError, match="2 channel"):
        StreamResampler(48000, 2).process(np.zeros((10, 1), dtype=np.float32))


def test_framer_exact_frames_and_padding() -> None:
    f = Framer(4)
    assert f.push(b"abcdefghij") == [b"abcd", b"efgh"]
    assert f.pending == 2
    assert f.flush(pad=True) == [b"ij\x00\x00"]
    assert f.flush(pad=True) == []
    f.push(b"xyz")
    assert f.flush(pad=False) == [b"xyz"]


def test_mulaw_matches_g711_reference_points() -> None:
    # Values from the ITU-T G.711 tables: 0 -> 0xFF, full scale -> 0x80/0x00.
    pcm = np.array([0, 32767, -32768, 1000, -1000], dtype="<i2").tobytes()
    assert list(pcm16_to_mulaw(pcm)) == [0xFF, 0x80, 0x00, 0xCE, 0x4E]
    decoded = np.frombuffer(mulaw_to_pcm16(pcm16_to_mulaw(pcm)), "<i2")
    assert decoded.tolist() == [0, 32124, -32124, 988, -988]


def test_mulaw_round_trip_snr() -> None:
    x = (np.random.default_rng(1).standard_normal(16000) * 6000).astype("<i2")
    y = np.frombuffer(mulaw_to_pcm16(pcm16_to_mulaw(x.tobytes())), "<i2").astype(float)
    snr = 10 * np.log10(np.sum(x.astype(float) ** 2) / np.sum((x - y) ** 2))
    assert snr > 35
