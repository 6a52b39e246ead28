"""The microphone kept open between dictations: taps from key-down, pre-roll, device loss."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt
import pytest

from app.core.errors import AudioInputError
from app.engine.shared_microphone import MICROPHONE_STOPPED, MicrophoneTap, SharedMicrophone

RATE = 1000  # 1 frame = 1 ms, so the numbers read easily


class ControlledSource:
    """A LiveSource whose blocks the test pushes; block values count up from 0."""

    def __init__(self) -> None:
        self.sample_rate = 0
        self.channels = 0
        self.error: AudioInputError | None = None
        self.started = False
        self.closed = False
        self._queue: asyncio.Queue[npt.NDArray[np.float32] | None] = asyncio.Queue()
        self._next = 0

    async def start(self) -> None:
        self.sample_rate, self.channels, self.started = RATE, 1, True

    def push(self, frames: int = 20) -> None:
        values = np.arange(self._next, self._next + frames, dtype=np.float32)
        self._next += frames
        self._queue.put_nowait(values.reshape(-1, 1))

    def fail(self, message: str) -> None:
        self.error = AudioInputError(message)
        self._queue.put_nowait(None)

    def stop(self) -> None:
        self._queue.put_nowait(None)

    async def aclose(self) -> None:
        self.stop()
        self.closed = True

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        while (block := await self._queue.get()) is not None:
            yield block


class Factory:
    def __init__(self) -> None:
        self.made: list[ControlledSource] = []

    def __call__(self) -> ControlledSource:
        self.made.append(ControlledSource())
        return self.made[-1]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def collect(tap: MicrophoneTap) -> npt.NDArray[np.float32]:
    blocks = [b async for b in tap.blocks()]
    return np.concatenate(blocks)[:, 0] if blocks else np.zeros(0, np.float32)


async def test_a_tap_starts_with_the_pre_roll_and_ends_after_the_block_in_flight() -> None:
    factory = Factory()
    shared = SharedMicrophone(factory, preroll_s=0.05)  # 50 frames
    await shared.start()
    source = factory.made[0]
    for _ in range(10):  # 200 frames before the key goes down
        source.push(20)
    await settle()
    tap = shared.tap()
    await tap.start()
    assert (tap.sample_rate, tap.channels) == (RATE, 1)
    assert tap.preroll_frames == 50
    source.push(20)  # 200..219: captured after the press
    await settle()
    tap.stop()
    source.push(20)  # 220..239: in flight at the release, still taken
    source.push(20)  # 240..259: after it, not taken
    await settle()
    got = await collect(tap)
    assert got.tolist() == list(range(150, 240))
    assert tap.frames == 90
    assert shared.running  # the device stays open
    await shared.aclose()
    assert source.closed


async def test_without_a_block_after_stop_the_tap_ends_soon() -> None:
    shared = SharedMicrophone(Factory(), preroll_s=0, tail_timeout_s=0.05)
    await shared.start()
    tap = shared.tap()
    tap.stop()
    got = await asyncio.wait_for(collect(tap), 2)
    assert got.size == 0
    assert tap.preroll_frames == 0
    await shared.aclose()


async def test_device_loss_ends_taps_with_its_error_and_the_next_start_reopens() -> None:
    factory = Factory()
    shared = SharedMicrophone(factory, preroll_s=0.02)
    await shared.start()
    tap = shared.tap()
    reading = asyncio.ensure_future(collect(tap))
    factory.made[0].push(20)
    factory.made[0].fail("The microphone went away.")
    got = await asyncio.wait_for(reading, 2)
    assert got.tolist() == list(range(20))
    assert str(tap.error) == "The microphone went away."
    assert not shared.running
    assert factory.made[0].closed
    # The next utterance opens a new device; its tap has no stale pre-roll.
    tap2 = shared.tap()
    assert tap2.preroll_frames == 0
    await tap2.start()
    assert len(factory.made) == 2
    assert shared.running
    assert tap2.error is None
    await shared.aclose()
    await asyncio.wait_for(collect(tap2), 2)  # ended with the device


async def test_a_source_that_just_ends_is_reported() -> None:
    factory = Factory()
    shared = SharedMicrophone(factory)
    await shared.start()
    tap = shared.tap()
    factory.made[0].stop()
    await asyncio.wait_for(collect(tap), 2)
    assert str(tap.error) == MICROPHONE_STOPPED


async def test_concurrent_starts_open_one_device() -> None:
    factory = Factory()
    shared = SharedMicrophone(factory)
    await asyncio.gather(shared.start(), shared.start(), shared.tap().start())
    assert len(factory.made) == 1
    await shared.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await shared.start()


def test_negative_pre_roll_is_refused() -> None:
    with pytest.raises(ValueError, match="preroll_s"):
        SharedMicrophone(Factory(), preroll_s=-1)
