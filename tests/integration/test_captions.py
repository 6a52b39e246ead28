"""Live captions: the microphone (a private PulseAudio fed with espeak-ng speech) to an emulator."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.adapters.microphone import MICROPHONE_GONE, MicrophoneSource
from app.adapters.ws_transport import open_connection
from app.core.errors import SettingError
from app.core.events import Event, Final, Partial
from app.core.options import FireworksOptions
from app.engine.captions import UNEXPECTED, LiveCaptions, State
from tests.audio import VirtualMicrophone, virtual_microphone
from tests.emulators import Faults, FireworksEmulator, Script, Utterance
from tests.helpers import TIMEOUT_FACTOR, speech_wav

KEY = "fw-test-key"
SPEECH = "Hello world. This is a live caption test, spoken into a virtual microphone."


@pytest.fixture
def vmic(tmp_path: Path) -> Iterator[VirtualMicrophone]:
    """The virtual microphone, applied to this process (PortAudio sees it)."""
    with virtual_microphone(tmp_path) as mic, mic.apply():
        yield mic


@pytest.fixture
def speech(tmp_path: Path) -> Path:
    return speech_wav(tmp_path / "speech.wav", SPEECH)


class Recorder:
    """Collects what LiveCaptions reports; builds it against an emulator."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.states: list[tuple[State, str]] = []
        self.sources: list[MicrophoneSource] = []

    def on_state(self, state: State, message: str) -> None:
        self.states.append((state, message))

    def source(self) -> MicrophoneSource:
        self.sources.append(MicrophoneSource())
        return self.sources[-1]

    def captions(self, url: str, *, limit_s: float | None = None) -> LiveCaptions:
        return LiveCaptions(
            lambda: FireworksOptions(endpoint=url),
            lambda: KEY,
            open_connection,
            self.source,
            limit_s=limit_s,
            on_event=self.events.append,
            on_state=self.on_state,
        )

    @property
    def names(self) -> list[State]:
        return [state for state, _ in self.states]


async def eventually(predicate: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Poll ``predicate`` (state changed by callbacks on the event loop) until it holds."""
    async with asyncio.timeout(timeout_s * TIMEOUT_FACTOR):
        while not predicate():  # noqa: ASYNC110 (callbacks, not an event, report the state)
            await asyncio.sleep(0.01)


@pytest.mark.espeak
async def test_captions_from_the_microphone(vmic: VirtualMicrophone, speech: Path) -> None:
    script = Script([Utterance("Hello world.", partials=[(0.5, "Hello")], final_at=1.5)])
    rec = Recorder()
    async with FireworksEmulator(script, api_key=KEY) as emu:
        captions = rec.captions(emu.url)
        run = asyncio.create_task(captions.run())
        await eventually(lambda: captions.state == "listening")
        vmic.play(speech)
        # The final comes from the provider's endpointing while audio streams: no flush yet.
        await eventually(lambda: any(isinstance(e, Final) for e in rec.events))
        assert captions.state == "listening"
        captions.stop()
        result = await asyncio.wait_for(run, 15 * TIMEOUT_FACTOR)
    assert rec.names == ["connecting", "listening", "finishing", "idle"]
    assert rec.states[0] == ("connecting", "Connecting to Fireworks…")
    texts = [(type(e).__name__, e.text) for e in rec.events if isinstance(e, Partial | Final)]
    assert texts[:2] == [("Partial", "Hello"), ("Final", "Hello world.")]
    assert result is not None
    assert result.transcript.text == "Hello world."
    assert emu.total_samples == result.samples_sent >= 1.5 * 16000
    assert emu.connections[0].flush_done  # stop() flushed before closing
    assert emu.violations == []
    assert not rec.sources[0].capturing


async def test_stops_by_itself_at_the_limit(vmic: VirtualMicrophone) -> None:
    script = Script([Utterance("Hi.", final_at=None)])  # the final comes with the flush
    rec = Recorder()
    async with FireworksEmulator(script, api_key=KEY) as emu:
        captions = rec.captions(emu.url, limit_s=1.0)
        result = await asyncio.wait_for(captions.run(), 20 * TIMEOUT_FACTOR)
    assert rec.names == ["connecting", "listening", "finishing", "idle"]
    assert rec.states[-1] == ("idle", "Live captions stopped after 1 s.")
    assert result is not None
    assert result.transcript.text == "Hi."
    # About one second of audio: from the device opening to the limit, plus closing.
    assert 0.5 * 16000 <= emu.total_samples <= 4 * 16000
    assert emu.violations == []


async def test_stop_while_connecting_still_sends_what_was_heard(vmic: VirtualMicrophone) -> None:
    script = Script([Utterance("Early words.", final_at=None)])
    rec = Recorder()
    faults = Faults(connect_delay_s=1.5)
    async with FireworksEmulator(script, api_key=KEY, faults=faults) as emu:
        captions = rec.captions(emu.url)
        run = asyncio.create_task(captions.run())
        await eventually(lambda: bool(rec.sources) and rec.sources[0].captured_frames > 8000)
        assert captions.state == "connecting"
        captions.stop()
        result = await asyncio.wait_for(run, 20 * TIMEOUT_FACTOR)
    # Never "listening" once stopped; the audio queued during the handshake still went out.
    assert rec.names == ["connecting", "finishing", "idle"]
    assert result is not None
    assert result.transcript.text == "Early words."
    assert emu.total_samples >= 8000 * 16000 / rec.sources[0].sample_rate


async def test_a_dropped_connection_is_resumed_after_the_last_final(
    vmic: VirtualMicrophone,
) -> None:
    first = Script([Utterance("Hello world.", partials=[(0.2, "Hello")], final_at=0.5),
                    Utterance("This is", partials=[(0.8, "This")], final_at=None)])  # fmt: skip
    resumed = Script([Utterance("This is a test.", final_at=None)])  # the audio after 0.5 s
    rec = Recorder()
    async with FireworksEmulator(
        [first, resumed], api_key=KEY, faults=Faults(drop_after_s=1.0)
    ) as emu:
        captions = rec.captions(emu.url)
        run = asyncio.create_task(captions.run())
        await eventually(lambda: len(emu.connections) == 2 and captions.state == "listening")
        await eventually(lambda: emu.connections[1].samples_received > 8000)
        captions.stop()
        result = await asyncio.wait_for(run, 20 * TIMEOUT_FACTOR)
    assert emu.drop_fired
    assert ("connecting", "Connection lost; reconnecting (1 of 3)…") in rec.states
    assert rec.names[-2:] == ["finishing", "idle"]
    assert result is not None
    assert result.transcript.text == "Hello world. This is a test."  # once each
    # The new connection was sent everything after the final at 0.5 s, and no more.
    sent = emu.connections[0].samples_received, emu.connections[1].samples_received
    assert result.samples_sent == sent[1]
    mic = rec.sources[0]
    captured = mic.captured_frames * 16000 / mic.sample_rate
    assert abs(sent[1] - (captured - 0.5 * 16000)) <= 0.02 * 16000
    assert emu.violations == []


async def test_a_rejected_key_is_an_error_state(vmic: VirtualMicrophone) -> None:
    rec = Recorder()
    async with FireworksEmulator(Script(), api_key=KEY, faults=Faults(reject_key=True)) as emu:
        result = await asyncio.wait_for(rec.captions(emu.url).run(), 20 * TIMEOUT_FACTOR)
    assert result is None
    assert rec.names == ["connecting", "error"]
    message = rec.states[-1][1]
    assert "Fireworks rejected the API key (HTTP 401)" in message
    assert "\n" not in message
    assert not rec.sources[0].capturing  # the microphone was released


async def test_microphone_gone_ends_with_its_error(vmic: VirtualMicrophone) -> None:
    script = Script([Utterance("Going.", final_at=None)])
    rec = Recorder()
    async with FireworksEmulator(script, api_key=KEY) as emu:
        captions = rec.captions(emu.url)
        run = asyncio.create_task(captions.run())
        await emu.wait_until(lambda: emu.total_samples >= 8000, 15 * TIMEOUT_FACTOR)
        vmic.kill()
        result = await asyncio.wait_for(run, 15 * TIMEOUT_FACTOR)
    # What was said before is still flushed and finalised, then the error is shown.
    assert result is not None
    assert result.transcript.text == "Going."
    assert rec.names == ["connecting", "listening", "finishing", "error"]
    assert rec.states[-1][1] == MICROPHONE_GONE


async def test_a_bad_setting_is_an_error_state_without_opening_anything() -> None:
    rec = Recorder()

    def options() -> FireworksOptions:
        raise SettingError("temperature", "must be between 0 and 1")

    captions = LiveCaptions(
        options,
        lambda: KEY,
        open_connection,
        rec.source,
        limit_s=None,
        on_event=rec.events.append,
        on_state=rec.on_state,
    )
    assert await captions.run() is None
    assert rec.states == [("error", "temperature: must be between 0 and 1")]
    assert rec.sources == []


async def test_an_unexpected_failure_is_logged_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rec = Recorder()

    def key() -> str:
        raise ZeroDivisionError("bug")

    captions = LiveCaptions(
        lambda: FireworksOptions(),
        key,
        open_connection,
        rec.source,
        limit_s=None,
        on_event=rec.events.append,
        on_state=rec.on_state,
    )
    with caplog.at_level(logging.ERROR, logger="app.engine.captions"):
        assert await captions.run() is None
    assert rec.names == ["connecting", "error"]
    assert rec.states[-1][1] == UNEXPECTED
    assert "ZeroDivisionError: bug" in caplog.text  # the traceback went to the log
