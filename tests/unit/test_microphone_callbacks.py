"""MicrophoneSource against a stand-in PortAudio whose callbacks come at awkward moments.

The integration tests use a real PulseAudio device, where the timing of the first
callback is up to the scheduler. Here the stand-in ``sounddevice`` module (the system
edge: PortAudio itself) delivers its first block from inside ``stream.start()``, which
PortAudio is free to do, so the race is reproduced every time.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import numpy as np
import pytest

from app.adapters.microphone import MicrophoneSource

RATE = 16000
BLOCK_MS = 20
FRAMES = RATE * BLOCK_MS // 1000


class _PortAudioError(Exception):
    pass


class _CallbackAbort(Exception):
    pass


class _EagerStream:
    """An input stream that delivers ``early_blocks`` blocks before ``start()`` returns."""

    early_blocks = 2

    def __init__(self, *, callback: Any, finished_callback: Any, **kwargs: Any) -> None:
        self.callback = callback
        self.finished_callback = finished_callback
        self.channels = kwargs["channels"]

    def start(self) -> None:
        for n in range(self.early_blocks):
            block = np.full((FRAMES, self.channels), (n + 1) / 10, dtype=np.float32)
            self.callback(block, FRAMES, None, None)

    def stop(self, ignore_errors: bool = True) -> None:
        self.finished_callback()

    def close(self, ignore_errors: bool = True) -> None:
        pass


def _stand_in() -> types.ModuleType:
    sd = types.ModuleType("sounddevice")
    device = {
        "index": 0,
        "name": "stand-in mic",
        "hostapi": 0,
        "max_input_channels": 1,
        "default_samplerate": float(RATE),
    }
    sd.query_devices = lambda kind=None: device if kind == "input" else [device]  # type: ignore[attr-defined]
    sd.InputStream = _EagerStream  # type: ignore[attr-defined]
    sd.PortAudioError = _PortAudioError  # type: ignore[attr-defined]
    sd.CallbackAbort = _CallbackAbort  # type: ignore[attr-defined]
    return sd


async def test_blocks_delivered_while_the_device_opens_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", _stand_in())
    source = MicrophoneSource(block_ms=BLOCK_MS)
    await source.start()
    source.stop()
    got = [block async for block in source.blocks()]
    await source.aclose()

    assert source.captured_frames == 2 * FRAMES
    assert [round(float(b[0, 0]), 2) for b in got] == [0.1, 0.2]  # the first word's audio


class _ThreeBlockStream(_EagerStream):
    early_blocks = 3


async def test_blocks_still_held_when_the_capture_stops_are_delivered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Blocks reach the loop in twos; the odd one out comes as the stream closes."""
    sd = _stand_in()
    sd.InputStream = _ThreeBlockStream  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    source = MicrophoneSource(block_ms=BLOCK_MS, blocks_per_wake=2)
    await source.start()
    assert source.captured_frames == 2 * FRAMES  # one wake-up for the first two
    source.stop()
    got = [block async for block in source.blocks()]
    await source.aclose()

    assert [round(float(b[0, 0]), 2) for b in got] == [0.1, 0.2, 0.3]
    assert source.captured_frames == 3 * FRAMES
