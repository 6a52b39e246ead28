"""Counting stretches of speech by energy, erring towards too many."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.speech_bursts import SpeechBursts

RATE = 16000


def pcm(*parts: tuple[str, float]) -> bytes:
    """``("speech", s)`` is noise at -20 dBFS, ``("silence", s)`` digital silence."""
    rng = np.random.default_rng(1)
    out = []
    for kind, seconds in parts:
        n = round(seconds * RATE)
        level = {"speech": 3000.0, "hum": 20.0, "silence": 0.0}[kind]
        out.append((rng.standard_normal(n) * level).astype("<i2"))
    return np.concatenate(out).tobytes()


def counted(audio: bytes, chunk: int = 640) -> SpeechBursts:
    bursts = SpeechBursts(RATE, min_silence_ms=500)
    for i in range(0, len(audio), chunk):  # 20 ms blocks, as the microphone sends
        bursts.push(audio[i : i + chunk])
    return bursts


def test_silence_only_is_no_speech() -> None:
    bursts = counted(pcm(("silence", 1.0)))
    assert bursts.count == 0
    assert bursts.trailing_silence_s == pytest.approx(1.0)


def test_one_stretch_then_silence() -> None:
    bursts = counted(pcm(("silence", 0.2), ("speech", 0.4), ("silence", 0.8)))
    assert bursts.count == 1
    assert bursts.trailing_silence_s == pytest.approx(0.8, abs=0.011)


@pytest.mark.parametrize(("gap_s", "count"), [(0.2, 1), (0.35, 2), (0.6, 2)])
def test_a_gap_splits_earlier_than_the_servers_silence(gap_s: float, count: int) -> None:
    """The server (500 ms) would merge a 0.35 s gap; counting two only means waiting."""
    audio = pcm(("speech", 0.3), ("silence", gap_s), ("speech", 0.3), ("silence", 0.1))
    assert counted(audio).count == count


def test_quiet_hum_is_not_speech_but_low_speech_is() -> None:
    assert counted(pcm(("hum", 1.0))).count == 0  # about -64 dBFS
    assert counted(pcm(("speech", 0.3)), chunk=7).count == 1  # any block size


def test_speech_at_the_end_leaves_no_trailing_silence() -> None:
    bursts = counted(pcm(("silence", 0.5), ("speech", 0.25)))
    assert bursts.count == 1
    assert bursts.trailing_silence_s < 0.011
