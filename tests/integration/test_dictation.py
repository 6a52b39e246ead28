"""Push-to-talk dictation: the microphone (a private PulseAudio fed with espeak-ng speech, or a
paced noise source) to an emulator, then history, then insertion, in that order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from app.adapters.history import SqliteHistory
from app.adapters.microphone import MicrophoneSource
from app.adapters.ws_transport import open_connection
from app.core.errors import AudioInputError, HarkError, SettingError
from app.core.events import Event, Final, Partial
from app.core.options import FireworksOptions, TogetherOptions
from app.engine.captions import LiveSource, State
from app.engine.dictation import CANCELLED, NOTHING_HEARD, Dictation, DictationResult
from app.engine.shared_microphone import MicrophoneTap, SharedMicrophone
from tests.audio import VirtualMicrophone, virtual_microphone
from tests.emulators import Faults, FireworksEmulator, Script, TogetherEmulator, Utterance
from tests.helpers import TIMEOUT_FACTOR, speech_wav

KEY = "fw-test-key"
RATE = 16000


@pytest.fixture
def vmic(tmp_path: Path) -> Iterator[VirtualMicrophone]:
    """The virtual microphone, applied to this process (PortAudio sees it)."""
    with virtual_microphone(tmp_path) as mic, mic.apply():
        yield mic


async def eventually(predicate: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Poll ``predicate`` (state changed by callbacks on the event loop) until it holds."""
    async with asyncio.timeout(timeout_s * TIMEOUT_FACTOR):
        while not predicate():  # noqa: ASYNC110 (callbacks, not an event, report the state)
            await asyncio.sleep(0.01)


async def speak(vmic: VirtualMicrophone, wav: Path) -> None:
    """Play ``wav`` into the virtual microphone and wait until it has been played: the key
    is held meanwhile."""
    player = vmic.play(wav)
    await asyncio.to_thread(player.wait, 30 * TIMEOUT_FACTOR)


def resampled(frames: int, rate: int) -> float:
    """``frames`` at ``rate`` as 16 kHz samples."""
    return frames * RATE / rate


@dataclass(frozen=True)
class Outcome:
    status: str
    message: str


class FakeClipboard:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def snapshot(self) -> object:
        return None

    def set_text(self, text: str, *, transient: bool) -> None:
        self.texts.append(text)

    def owns(self) -> bool:
        return True

    def restore(self, snapshot: object) -> None:
        pass


class NoiseMic:
    """A LiveSource without a device: 16 kHz noise in 20 ms blocks, paced, until stopped."""

    def __init__(self) -> None:
        self.sample_rate = 0
        self.channels = 0
        self.frames = 0
        self.started = False
        self.closed = False
        self.error: AudioInputError | None = None
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        self.sample_rate, self.channels, self.started = RATE, 1, True

    def stop(self) -> None:
        self._stopped.set()

    async def aclose(self) -> None:
        self.stop()
        self.closed = True

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        rng = np.random.default_rng(5)
        while not self._stopped.is_set():
            block = (rng.standard_normal((320, 1)) * 0.1).astype(np.float32)
            self.frames += len(block)
            yield block
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), 0.02)


class Rig:
    """Builds a Dictation against an emulator and records everything it reports."""

    def __init__(self, tmp_path: Path, *, real_microphone: bool = True) -> None:
        self.history = SqliteHistory(tmp_path / "history.sqlite3")
        self.clipboard = FakeClipboard()
        self.states: list[tuple[State, str]] = []
        self.events: list[Event] = []
        self.results: list[DictationResult] = []
        self.reconnects: list[tuple[int, str]] = []
        self.inserted: list[tuple[str, object]] = []
        self.history_at_insert: list[list[str]] = []
        self.log: list[str] = []
        self.insert_gate: Callable[[int], asyncio.Future[None] | None] = lambda n: None
        self.sources: list[MicrophoneSource | NoiseMic] = []
        self.real_microphone = real_microphone

    def source(self) -> LiveSource:
        self.sources.append(MicrophoneSource() if self.real_microphone else NoiseMic())
        return self.sources[-1]

    async def insert(self, text: str, target: object) -> Outcome:
        n = len(self.inserted) + 1
        self.history_at_insert.append(self.history.recent())
        self.inserted.append((text, target))
        self.log.append(f"insert {n} begins")
        gate = self.insert_gate(n)
        if gate is not None:
            await gate
        self.log.append(f"insert {n} ends")
        return Outcome("inserted", "Inserted.")

    def dictation(
        self,
        url: str,
        *,
        shared: SharedMicrophone | None = None,
        reconnect_attempts: int = 2,
        options: Callable[[], FireworksOptions] | None = None,
    ) -> Dictation:
        return Dictation(
            options or (lambda: FireworksOptions(endpoint=url)),
            lambda: KEY,
            open_connection,
            history=self.history,
            insert=self.insert,
            on_state=lambda state, message: self.states.append((state, message)),
            on_event=self.events.append,
            source_factory=None if shared is not None else self.source,
            shared_microphone=shared,
            clipboard=self.clipboard,
            on_result=self.results.append,
            on_reconnect=lambda attempt, reason: self.reconnects.append((attempt, reason)),
            reconnect_attempts=reconnect_attempts,
        )

    @property
    def names(self) -> list[State]:
        return [state for state, _ in self.states]


HELLO = Script([Utterance("Hello world.", partials=[(0.4, "Hello")], final_at=None)])


@pytest.fixture
def hello_wav(tmp_path: Path) -> Path:
    return speech_wav(tmp_path / "hello.wav", "Hello world, this is a dictation test.")


# -- with the real microphone ------------------------------------------------------------


@pytest.mark.espeak
async def test_press_speak_release_saves_then_inserts_and_loses_no_audio(
    vmic: VirtualMicrophone, hello_wav: Path, tmp_path: Path
) -> None:
    rig = Rig(tmp_path)
    faults = Faults(connect_delay_s=1.0)
    async with FireworksEmulator(HELLO, api_key=KEY, faults=faults) as emu:
        dictation = rig.dictation(emu.url)
        assert dictation.press("window-1")
        assert dictation.state == "connecting"  # at once, before any await
        await speak(vmic, hello_wav)
        assert emu.connections[0].status == 101  # the 1 s handshake finished while speaking
        dictation.release()
        await asyncio.wait_for(dictation.wait_idle(), 20 * TIMEOUT_FACTOR)
    assert rig.names == ["connecting", "listening", "finishing", "idle"]
    assert rig.states[0] == ("connecting", "Connecting to Fireworks…")
    assert rig.states[-1] == ("idle", "Inserted.")
    assert rig.inserted == [("Hello world.", "window-1")]
    # Saved before insert was called, then marked with the outcome.
    assert rig.history_at_insert == [["Hello world."]]
    entry = rig.history.entries(1)[0]
    assert (entry.text, entry.provider, entry.outcome) == ("Hello world.", "fireworks", "inserted")
    assert [(r.status, r.text, r.inserted) for r in rig.results] == [
        ("inserted", "Hello world.", "Hello world.")
    ]
    # No audio lost: every frame the device captured from press to release reached the
    # provider, the second queued during the 1 s handshake included.
    mic = rig.sources[0]
    assert isinstance(mic, MicrophoneSource)
    assert mic.captured_frames > 1.5 * mic.sample_rate
    expected = resampled(mic.captured_frames, mic.sample_rate)
    assert abs(emu.total_samples - expected) <= 0.02 * RATE  # one 20 ms block
    assert emu.connections[0].flush_done
    assert not mic.capturing  # released
    assert [type(e) for e in rig.events if isinstance(e, Partial | Final)] == [Partial, Final]
    assert emu.violations == []


@pytest.mark.espeak
async def test_a_drop_mid_utterance_reconnects_and_resends_what_was_not_final(
    vmic: VirtualMicrophone, hello_wav: Path, tmp_path: Path
) -> None:
    rig = Rig(tmp_path)
    first = Script([Utterance("Hello", partials=[(0.3, "Hel")], final_at=0.6),
                    Utterance("world.", partials=[(0.8, "wor")], final_at=None)])  # fmt: skip
    resumed = Script([Utterance("world.", final_at=None)])  # what the audio after 0.6 s holds
    async with FireworksEmulator(
        [first, resumed], api_key=KEY, faults=Faults(drop_after_s=1.0)
    ) as emu:
        dictation = rig.dictation(emu.url)
        dictation.press()
        await speak(vmic, hello_wav)
        dictation.release()
        await asyncio.wait_for(dictation.wait_idle(), 20 * TIMEOUT_FACTOR)
    assert emu.drop_fired
    assert len(emu.connections) == 2
    assert [attempt for attempt, _ in rig.reconnects] == [1]
    assert "closed the connection before the transcript was complete" in rig.reconnects[0][1]
    assert ("connecting", "Connection to Fireworks lost; reconnecting (1 of 2)…") in rig.states
    assert rig.names[-2:] == ["finishing", "idle"]
    # The lost connection's final stays; the new one was sent the audio after it.
    assert rig.inserted == [("Hello world.", None)]
    assert rig.history.recent() == ["Hello world."]
    mic = rig.sources[0]
    assert isinstance(mic, MicrophoneSource)
    expected = resampled(mic.captured_frames, mic.sample_rate) - round(0.6 * RATE)
    assert abs(emu.connections[1].samples_received - expected) <= 0.02 * RATE
    assert emu.violations == []


@pytest.mark.espeak
async def test_successive_utterances_are_inserted_in_order_and_joined(
    vmic: VirtualMicrophone, hello_wav: Path, tmp_path: Path
) -> None:
    second_wav = speech_wav(tmp_path / "second.wav", "This is the second one.")
    scripts = [
        Script([Utterance("Hello world.", final_at=None)]),
        Script([Utterance("this is the second one.", final_at=None)]),
    ]
    rig = Rig(tmp_path)
    async with FireworksEmulator(scripts, api_key=KEY) as emu:
        # The first insertion is slow: it lasts until the second transcript is final (saved).
        def gate(n: int) -> asyncio.Future[None] | None:
            if n != 1:
                return None
            saved = lambda: len(rig.history.recent()) == 2  # noqa: E731
            return asyncio.ensure_future(eventually(saved, 30))

        rig.insert_gate = gate
        dictation = rig.dictation(emu.url)
        dictation.press("editor")
        await speak(vmic, hello_wav)
        dictation.release()
        assert dictation.press("editor")  # at once, while the first is still finishing
        await speak(vmic, second_wav)
        dictation.release()
        await asyncio.wait_for(dictation.wait_idle(), 40 * TIMEOUT_FACTOR)
    # In press order, never overlapping, and the second continues the first sentence.
    assert rig.log == ["insert 1 begins", "insert 1 ends", "insert 2 begins", "insert 2 ends"]
    assert rig.inserted == [("Hello world.", "editor"), (" This is the second one.", "editor")]
    # The gate opened only once the second transcript was saved: saving does not wait its turn.
    assert rig.history_at_insert[1] == ["this is the second one.", "Hello world."]
    assert [r.number for r in rig.results] == [1, 2]
    assert rig.states[-1] == ("idle", "Inserted.")
    for mic, connection in zip(rig.sources, emu.connections, strict=True):
        assert isinstance(mic, MicrophoneSource)
        expected = resampled(mic.captured_frames, mic.sample_rate)
        assert abs(connection.samples_received - expected) <= 0.02 * RATE


@pytest.mark.espeak
async def test_keep_open_mode_starts_with_the_pre_roll(
    vmic: VirtualMicrophone, hello_wav: Path, tmp_path: Path
) -> None:
    made: list[MicrophoneSource] = []

    def factory() -> MicrophoneSource:
        made.append(MicrophoneSource())
        return made[-1]

    shared = SharedMicrophone(factory, preroll_s=0.3)
    taps: list[MicrophoneTap] = []
    original_tap = shared.tap

    def spy() -> MicrophoneTap:
        taps.append(original_tap())
        return taps[-1]

    shared.tap = spy  # type: ignore[method-assign]
    scripts = [HELLO, Script([Utterance("Again.", final_at=None)])]
    rig = Rig(tmp_path)
    try:
        await shared.start()
        async with FireworksEmulator(scripts, api_key=KEY) as emu:
            dictation = rig.dictation(emu.url, shared=shared)
            player = vmic.play(hello_wav)
            # The key goes down half a second into the speech: the pre-roll holds 0.3 s of it.
            await eventually(lambda: made[0].captured_frames > 0.5 * made[0].sample_rate)
            dictation.press()
            await asyncio.to_thread(player.wait, 30 * TIMEOUT_FACTOR)
            dictation.release()
            await asyncio.wait_for(dictation.wait_idle(), 20 * TIMEOUT_FACTOR)
            # A second utterance reuses the open device.
            dictation.press()
            await eventually(lambda: taps[1].frames > 0.3 * made[0].sample_rate)
            dictation.release()
            await asyncio.wait_for(dictation.wait_idle(), 20 * TIMEOUT_FACTOR)
        rate = made[0].sample_rate
        assert taps[0].preroll_frames == round(0.3 * rate)
        assert taps[0].frames > taps[0].preroll_frames + rate
        # Everything the tap collected, the pre-roll first, reached the provider.
        expected = resampled(taps[0].frames, rate)
        assert abs(emu.connections[0].samples_received - expected) <= 0.02 * RATE
        assert rig.inserted == [("Hello world.", None), (" Again.", None)]
        assert rig.names[-1] == "idle"
        assert len(made) == 1  # one device, kept open
        assert made[0].capturing
        assert shared.running
    finally:
        await shared.aclose()
    assert not made[0].capturing


# -- with a device-free source (failure paths) ----------------------------------------------


ONE_TWO = Script([Utterance("One two.", final_at=0.3), Utterance("Three.", final_at=None)])


async def test_a_failure_keeps_the_words_heard_before_it(tmp_path: Path) -> None:
    rig = Rig(tmp_path, real_microphone=False)
    async with FireworksEmulator(ONE_TWO, api_key=KEY, faults=Faults(drop_after_s=0.6)) as emu:
        dictation = rig.dictation(emu.url, reconnect_attempts=0)
        dictation.press()
        await asyncio.wait_for(dictation.wait_idle(), 20 * TIMEOUT_FACTOR)  # fails while held
        dictation.release()  # the key comes up later: nothing left to do
    assert rig.names == ["connecting", "listening", "error"]
    message = rig.states[-1][1]
    assert message.startswith("Fireworks closed the connection before the transcript was complete")
    assert message.endswith("The words heard are on the clipboard and in the history.")
    assert "\n" not in message
    assert rig.inserted == []  # nothing typed into a window after a failure
    assert rig.clipboard.texts == ["One two."]
    entry = rig.history.entries(1)[0]
    assert (entry.text, entry.outcome) == ("One two.", "clipboard")
    assert [(r.status, r.text) for r in rig.results] == [("error", "One two.")]
    assert rig.sources[0].closed  # type: ignore[union-attr]


async def test_retry_last_sends_the_kept_audio_to_another_provider(tmp_path: Path) -> None:
    """The connection failed for good: the same audio goes to Together, nothing recorded anew."""
    rig = Rig(tmp_path, real_microphone=False)
    async with FireworksEmulator(ONE_TWO, api_key=KEY, faults=Faults(drop_after_s=0.6)) as emu:
        dictation = rig.dictation(emu.url, reconnect_attempts=0)
        dictation.press()
        await asyncio.wait_for(dictation.wait_idle(), 20 * TIMEOUT_FACTOR)
    assert rig.results[-1].status == "error"
    kept = dictation.last_audio
    assert kept is not None
    assert kept.provider == "fireworks"
    assert len(kept.pcm) // 2 == rig.sources[0].frames  # all of it, at the provider's rate
    again = Script([Utterance("One two. Three four.", final_at=None)])
    async with TogetherEmulator(again, api_key=KEY) as other:
        result = await asyncio.wait_for(
            dictation.retry(kept, TogetherOptions(endpoint=other.url), KEY), 20 * TIMEOUT_FACTOR
        )
    assert other.connections[0].samples_received == len(kept.pcm) // 2
    assert (result.status, result.text) == ("clipboard", "One two. Three four.")
    assert result.message == (
        "Transcribed again with Together AI. The words heard are on the clipboard and in the "
        "history."
    )
    assert rig.results[-1] == result
    assert rig.clipboard.texts[-1] == "One two. Three four."
    entry = rig.history.entries(1)[0]
    assert (entry.text, entry.outcome, entry.provider) == (
        "One two. Three four.", "clipboard", "together",
    )  # fmt: skip
    assert len(rig.sources) == 1  # the microphone was not opened again
    assert dictation.last_audio is kept  # still there for another try


async def test_a_failed_retry_is_one_line_and_keeps_the_audio(tmp_path: Path) -> None:
    rig = Rig(tmp_path, real_microphone=False)
    async with FireworksEmulator(ONE_TWO, api_key=KEY) as emu:
        dictation = rig.dictation(emu.url)
        dictation.press()
        await eventually(lambda: rig.sources[-1].frames > 0.5 * RATE)
        dictation.release()
        await asyncio.wait_for(dictation.wait_idle(), 20 * TIMEOUT_FACTOR)
    kept = dictation.last_audio
    assert kept is not None
    async with FireworksEmulator(ONE_TWO, api_key="other") as refusing:
        result = await dictation.retry(kept, FireworksOptions(endpoint=refusing.url), KEY)
    assert result.status == "error"
    assert result.message.startswith("Retry failed: Fireworks rejected the API key (HTTP 401)")
    assert "\n" not in result.message
    assert dictation.last_audio is kept


class SlowClosingMic(NoiseMic):
    """A device whose close takes its time (PortAudio's stop on a busy machine)."""

    def __init__(self) -> None:
        super().__init__()
        self.closing = asyncio.Event()

    async def aclose(self) -> None:
        self.closing.set()
        await asyncio.Event().wait()  # until cancelled


async def test_quit_while_a_failed_utterance_closes_its_microphone(tmp_path: Path) -> None:
    """Quitting right after a refused key used to spin wait_idle at 100 % CPU for ever."""
    rig = Rig(tmp_path, real_microphone=False)
    mic = SlowClosingMic()
    async with FireworksEmulator(HELLO, api_key=KEY, faults=Faults(reject_key=True)) as emu:
        dictation = Dictation(
            lambda: FireworksOptions(endpoint=emu.url),
            lambda: KEY,
            open_connection,
            history=rig.history,
            insert=rig.insert,
            on_state=lambda state, message: rig.states.append((state, message)),
            on_event=rig.events.append,
            source_factory=lambda: mic,
        )
        dictation.press()
        await asyncio.wait_for(mic.closing.wait(), 20 * TIMEOUT_FACTOR)
        await asyncio.wait_for(dictation.aclose(), 5 * TIMEOUT_FACTOR)
    assert not dictation.busy
    assert "rejected the API key" in rig.states[-1][1]


async def test_a_rejected_key_is_an_error_and_not_retried(tmp_path: Path) -> None:
    rig = Rig(tmp_path, real_microphone=False)
    async with FireworksEmulator(HELLO, api_key=KEY, faults=Faults(reject_key=True)) as emu:
        dictation = rig.dictation(emu.url)
        dictation.press()
        await asyncio.wait_for(dictation.wait_idle(), 20 * TIMEOUT_FACTOR)
    assert rig.names == ["connecting", "error"]
    assert "Fireworks rejected the API key (HTTP 401)" in rig.states[-1][1]
    assert len(emu.connections) == 1
    assert rig.history.recent() == []
    assert rig.inserted == []
    assert rig.clipboard.texts == []
    assert rig.sources[0].closed  # type: ignore[union-attr]


async def test_cancel_discards_the_utterance(tmp_path: Path) -> None:
    rig = Rig(tmp_path, real_microphone=False)
    async with FireworksEmulator(ONE_TWO, api_key=KEY) as emu:
        dictation = rig.dictation(emu.url)
        dictation.press()
        await emu.wait_until(lambda: emu.total_samples > 0.4 * RATE, 10 * TIMEOUT_FACTOR)
        dictation.cancel()
        await asyncio.wait_for(dictation.wait_idle(), 10 * TIMEOUT_FACTOR)
        await emu.wait_until(lambda: emu.connections[0].ended, 10 * TIMEOUT_FACTOR)
    assert rig.states[-1] == ("idle", CANCELLED)
    assert "error" not in rig.names
    assert rig.inserted == []
    assert rig.history.recent() == []
    assert not emu.connections[0].flush_requested
    assert rig.sources[0].closed  # type: ignore[union-attr]
    assert [r.status for r in rig.results] == ["cancelled"]


async def test_a_bad_setting_is_an_error_without_opening_the_microphone(tmp_path: Path) -> None:
    rig = Rig(tmp_path, real_microphone=False)

    def options() -> FireworksOptions:
        raise SettingError("temperature", "must be between 0 and 1")

    dictation = rig.dictation("unused", options=options)
    assert not dictation.press()
    assert rig.states == [("error", "temperature: must be between 0 and 1")]
    assert rig.sources == []


async def test_nothing_heard_saves_and_inserts_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path, real_microphone=False)
    async with FireworksEmulator(Script(), api_key=KEY) as emu:
        dictation = rig.dictation(emu.url)
        dictation.press()
        await eventually(lambda: dictation.state == "listening")
        dictation.release()
        await asyncio.wait_for(dictation.wait_idle(), 10 * TIMEOUT_FACTOR)
    assert rig.states[-1] == ("idle", NOTHING_HEARD)
    assert rig.inserted == []
    assert rig.history.recent() == []


async def test_key_repeat_does_not_start_another_utterance(tmp_path: Path) -> None:
    rig = Rig(tmp_path, real_microphone=False)
    async with FireworksEmulator(ONE_TWO, api_key=KEY) as emu:
        dictation = rig.dictation(emu.url)
        assert dictation.press()
        assert not dictation.press()  # auto-repeat while held
        await emu.wait_until(lambda: emu.total_samples > 0.5 * RATE, 10 * TIMEOUT_FACTOR)
        dictation.release()
        await asyncio.wait_for(dictation.wait_idle(), 10 * TIMEOUT_FACTOR)
    assert len(rig.sources) == len(emu.connections) == 1
    assert rig.inserted == [("One two. Three.", None)]


async def test_a_broken_history_does_not_cost_the_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rig = Rig(tmp_path, real_microphone=False)

    def broken(text: str, *, provider: str) -> int:
        raise OSError("disk full")

    rig.history.add = broken  # type: ignore[method-assign]
    async with FireworksEmulator(ONE_TWO, api_key=KEY) as emu:
        dictation = rig.dictation(emu.url)
        dictation.press()
        await emu.wait_until(lambda: emu.total_samples > 0.5 * RATE, 10 * TIMEOUT_FACTOR)
        with caplog.at_level(logging.ERROR, logger="app.engine.dictation"):
            dictation.release()
            await asyncio.wait_for(dictation.wait_idle(), 10 * TIMEOUT_FACTOR)
    assert rig.inserted == [("One two. Three.", None)]
    assert rig.states[-1] == ("idle", "Inserted.")
    assert "saving the transcript to the history failed" in caplog.text


async def test_a_failing_insert_puts_the_text_on_the_clipboard(tmp_path: Path) -> None:
    rig = Rig(tmp_path, real_microphone=False)

    async def insert(text: str, target: object) -> Outcome:
        raise HarkError("no keyboard")

    async with FireworksEmulator(ONE_TWO, api_key=KEY) as emu:
        dictation = rig.dictation(emu.url)
        dictation._insert = insert
        dictation.press()
        await emu.wait_until(lambda: emu.total_samples > 0.5 * RATE, 10 * TIMEOUT_FACTOR)
        dictation.release()
        await asyncio.wait_for(dictation.wait_idle(), 10 * TIMEOUT_FACTOR)
    assert rig.clipboard.texts == ["One two. Three."]
    assert rig.states[-1] == (
        "idle",
        "The text could not be inserted (no keyboard). "
        "The words heard are on the clipboard and in the history.",
    )
    assert rig.history.entries(1)[0].outcome == "clipboard"


def test_needs_exactly_one_audio_source() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Dictation(
            FireworksOptions,
            lambda: KEY,
            open_connection,
            history=SqliteHistory.__new__(SqliteHistory),
            insert=Rig.insert,  # type: ignore[arg-type]
            on_state=lambda state, message: None,
            on_event=lambda event: None,
        )
