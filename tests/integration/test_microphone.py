"""MicrophoneSource against a real PortAudio device: a private PulseAudio fed by paplay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from app.adapters.microphone import (
    MICROPHONE_GONE,
    NO_MICROPHONE,
    PORTAUDIO_MISSING,
    MicrophoneSource,
    list_input_devices,
)
from app.core.errors import AudioInputError
from tests.audio import (
    VirtualMicrophone,
    patched_environ,
    pulse_client_vars,
    reinitialize_portaudio,
    virtual_microphone,
)
from tests.helpers import ROOT, TIMEOUT_FACTOR, need_tool

Block = npt.NDArray[np.float32]


@pytest.fixture
def vmic(tmp_path: Path) -> Iterator[VirtualMicrophone]:
    """The virtual microphone, applied to this process (PortAudio sees it)."""
    with virtual_microphone(tmp_path) as mic, mic.apply():
        yield mic


@pytest.fixture
def tone(tmp_path: Path) -> Path:
    """Four seconds of a 440 Hz sine at half scale, 48 kHz (the device runs at its own rate)."""
    path = tmp_path / "tone440.wav"
    sox = need_tool("sox")
    synth = ["synth", "4", "sine", "440", "vol", "0.5"]
    subprocess.run([sox, "-n", "-r", "48000", "-c", "1", "-b", "16", str(path), *synth], check=True)
    return path


@contextlib.asynccontextmanager
async def opened(mic: MicrophoneSource) -> AsyncIterator[AsyncIterator[Block]]:
    """Start ``mic`` and hand out its block iterator; close both afterwards."""
    await mic.start()
    blocks = mic.blocks()
    try:
        yield blocks
    finally:
        await blocks.aclose()  # type: ignore[attr-defined]
        await mic.aclose()


async def read_until(
    blocks: AsyncIterator[Block], done: Callable[[list[Block]], bool], timeout_s: float = 10.0
) -> list[Block]:
    """Collect blocks until ``done(collected)``; fail after ``timeout_s``."""
    collected: list[Block] = []
    async with asyncio.timeout(timeout_s * TIMEOUT_FACTOR):
        while not done(collected):
            collected.append(await anext(blocks))
    return collected


async def eventually(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Poll ``predicate`` (state that changes on the event loop) until it holds."""
    async with asyncio.timeout(timeout_s * TIMEOUT_FACTOR):
        while not predicate():  # noqa: ASYNC110 (the source has no event for this)
            await asyncio.sleep(0.01)


def frames(blocks: list[Block]) -> int:
    return sum(len(b) for b in blocks)


def test_lists_the_virtual_microphone(vmic: VirtualMicrophone) -> None:
    names = list_input_devices()
    # ALSA's `default` (routed to PulseAudio's default source, vmic) comes first.
    assert names[0] == "default"
    assert "pulse" in names
    assert len(names) == len(set(names))


async def test_reads_a_tone_at_real_time(vmic: VirtualMicrophone, tone: Path) -> None:
    mic = MicrophoneSource()
    async with opened(mic) as blocks:
        assert mic.sample_rate > 0
        assert mic.channels == 1
        vmic.play(tone)
        # Wait for the tone to arrive (the first callback can take up to ~2 s), then 1.5 s of it.
        lead = await read_until(blocks, lambda got: bool(got) and np.abs(got[-1]).max() > 0.1)
        started = asyncio.get_running_loop().time()
        tail = await read_until(blocks, lambda got: frames(got) >= 1.5 * mic.sample_rate)
        elapsed = asyncio.get_running_loop().time() - started
        level = mic.level
    assert all(b.dtype == np.float32 and b.ndim == 2 and b.shape[1] == 1 for b in lead + tail)
    signal = np.concatenate(tail)[:, 0]
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    dominant = np.fft.rfftfreq(len(signal), 1 / mic.sample_rate)[spectrum.argmax()]
    assert abs(dominant - 440) < 5, dominant
    rms = float(np.sqrt(np.mean(signal**2)))
    assert 0.3 < rms < 0.4  # a sine at half scale: 0.354
    assert 0.3 < level < 0.4
    # Paced by the null sink's clock: about real time (not a free-running 200 M frames/s).
    rate = frames(tail) / elapsed
    assert 0.6 * mic.sample_rate < rate < 1.5 * mic.sample_rate, rate
    assert mic.dropped_blocks == 0


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [("pulse", "pulse"), ("PUL", "pulse"), ("defa", "default")],
)
async def test_picks_the_device_by_name(
    vmic: VirtualMicrophone, wanted: str, expected: str
) -> None:
    mic = MicrophoneSource(wanted)
    async with opened(mic) as blocks:
        assert mic.device_name == expected
        await read_until(blocks, lambda got: frames(got) > 0)


async def test_unknown_device_falls_back_to_the_default(
    vmic: VirtualMicrophone, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="app.adapters.microphone")
    mic = MicrophoneSource("Studio Mic That Is Not Here")
    async with opened(mic) as blocks:
        assert mic.device_name == list_input_devices()[0]
        await read_until(blocks, lambda got: frames(got) > 0)
    assert "'Studio Mic That Is Not Here' not found" in caplog.text


async def test_stop_drains_what_was_captured_and_ends(vmic: VirtualMicrophone) -> None:
    mic = MicrophoneSource()
    await mic.start()
    blocks = mic.blocks()
    received = await read_until(blocks, lambda got: frames(got) >= mic.sample_rate // 4)
    mic.stop()
    async with asyncio.timeout(5 * TIMEOUT_FACTOR):
        received += [block async for block in blocks]
    assert mic.error is None
    assert not mic.capturing
    assert frames(received) == mic.captured_frames  # nothing captured was lost
    await asyncio.wait_for(mic.aclose(), 5 * TIMEOUT_FACTOR)


async def test_drops_are_counted_against_what_is_delivered(vmic: VirtualMicrophone) -> None:
    mic = MicrophoneSource(block_ms=20, max_queued_s=0.1)  # five 20 ms blocks
    await mic.start()
    block_frames = round(mic.sample_rate * 0.02)
    await eventually(lambda: mic.captured_frames >= 20 * block_frames)
    mic.stop()
    delivered = 0
    async with asyncio.timeout(5 * TIMEOUT_FACTOR):
        async for block in mic.blocks():
            delivered += len(block)
    assert mic.dropped_blocks >= 10
    assert delivered <= 8 * block_frames  # the queue's five, plus what came until it closed
    assert delivered + mic.dropped_blocks * block_frames == mic.captured_frames


async def test_device_gone_ends_blocks_with_an_error(vmic: VirtualMicrophone) -> None:
    mic = MicrophoneSource()
    async with opened(mic) as blocks:
        await read_until(blocks, lambda got: frames(got) >= mic.sample_rate // 10)
        vmic.kill()  # the sound server dies: PortAudio finishes the stream
        async with asyncio.timeout(5 * TIMEOUT_FACTOR):
            async for _ in blocks:
                pass
    assert isinstance(mic.error, AudioInputError)
    assert str(mic.error) == MICROPHONE_GONE


async def test_stalled_device_is_treated_as_gone(vmic: VirtualMicrophone) -> None:
    mic = MicrophoneSource(stall_timeout_s=1.0)
    await mic.start()
    blocks = mic.blocks()
    try:
        await read_until(blocks, lambda got: frames(got) >= mic.sample_rate // 10)
        vmic.freeze()  # no more callbacks, no error either
        async with asyncio.timeout(5 * TIMEOUT_FACTOR):
            async for _ in blocks:
                pass
        assert mic.error is not None
        assert "stopped sending audio for 1 s" in str(mic.error)
    finally:
        vmic.thaw()  # closing the stream waits for the server
        await blocks.aclose()  # type: ignore[attr-defined]
        await mic.aclose()


async def test_no_device_is_a_clear_error(tmp_path: Path) -> None:
    # PulseAudio clients pointed at a missing server: ALSA (hence PortAudio) lists nothing.
    dead = pulse_client_vars(tmp_path, f"unix:{tmp_path / 'no-such-socket'}")
    try:
        with patched_environ(dead):
            reinitialize_portaudio()
            assert list_input_devices() == []
            with pytest.raises(AudioInputError) as caught:
                await MicrophoneSource().start()
    finally:
        reinitialize_portaudio()
    assert str(caught.value) == NO_MICROPHONE


def test_missing_portaudio_is_a_clear_error(tmp_path: Path) -> None:
    # What importing sounddevice does without libportaudio2: OSError("PortAudio library not found").
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "sounddevice.py").write_text('raise OSError("PortAudio library not found")\n')
    code = (
        "import asyncio\n"
        "from app.adapters.microphone import MicrophoneSource, list_input_devices\n"
        "from app.core.errors import AudioInputError\n"
        "print(list_input_devices())\n"
        "try:\n"
        "    asyncio.run(MicrophoneSource().start())\n"
        "except AudioInputError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": f"{fake}:{ROOT}", "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30 * TIMEOUT_FACTOR,
        check=True,
    )
    assert done.stdout.splitlines() == ["[]", PORTAUDIO_MISSING]
