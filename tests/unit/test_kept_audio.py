"""Keeping a dictation's audio for a retry: bounded, and played back whole."""

from __future__ import annotations

import numpy as np

from app.engine.kept_audio import AudioKeeper, KeptAudio, KeptAudioSource


def test_keeps_what_was_queued_in_order() -> None:
    keep = AudioKeeper("baseten")
    keep(b"\x01\x00" * 10, 16000)
    keep(b"\x02\x00" * 5, 16000)
    assert keep.kept() == KeptAudio(b"\x01\x00" * 10 + b"\x02\x00" * 5, 16000, "baseten")


def test_nothing_kept_is_none() -> None:
    assert AudioKeeper("local").kept() is None


def test_past_the_limit_nothing_is_kept() -> None:
    keep = AudioKeeper("together", max_s=1.0)
    keep(bytes(2 * 16000), 16000)
    assert keep.kept() is not None
    keep(b"\x00\x00", 16000)
    assert keep.overflowed
    assert keep.kept() is None
    keep(b"\x00\x00", 16000)
    assert keep.kept() is None


async def test_the_source_plays_every_sample_back() -> None:
    pcm = np.arange(-5000, 5000, dtype="<i2").tobytes()
    source = KeptAudioSource(KeptAudio(pcm, 8000, "baseten"))
    assert (source.sample_rate, source.channels) == (8000, 1)
    blocks = [b async for b in source.blocks()]
    played = np.concatenate(blocks)
    assert played.shape == (10000, 1)
    assert np.array_equal(np.round(played[:, 0] * 32768).astype("<i2").tobytes(), pcm)
