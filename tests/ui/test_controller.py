"""The app controller on a real qasync loop: runs, errors, settings and IPC.

The provider is an emulator on loopback and the microphone is a WAV file played in
real time (the audio device is the system edge; the real device is covered by
tests/integration/test_microphone.py and tests/e2e/test_app_captions.py).
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pytest
import qasync
from keyring.backends.null import Keyring as NullKeyring
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from app.adapters.audiofile import AudioFileSource
from app.adapters.settings_store import SettingsStore
from app.adapters.whisper import SileroVad, WhisperTranscriber
from app.adapters.ws_server import BASETEN_PATH, serve
from app.core.errors import HarkError
from app.core.options import BasetenOptions, FireworksOptions, LocalOptions, TogetherOptions
from app.core.settings import OverlaySettings, Settings
from app.engine.local_connector import LocalConnector
from app.engine.local_engine import LocalEngine
from app.engine.pacing import RealtimeSource
from app.ui.controller import AppController
from tests.emulators import Faults, FireworksEmulator, Script, TogetherEmulator, Utterance
from tests.memory_keyring import MemoryKeyring
from tests.ui import rig
from tests.ui.rig import run, until

T = TypeVar("T")
KEY = "fw-controller-key"


class WavMicrophone:
    """A WAV file played in real time, behaving like the app's microphone source."""

    def __init__(self, path: Path) -> None:
        self._wav = AudioFileSource(path)
        self.sample_rate = self._wav.sample_rate
        self.channels = self._wav.channels
        self.error: HarkError | None = None
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        return None

    def stop(self) -> None:
        self._stopped.set()

    async def aclose(self) -> None:
        self.stop()

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        async for block in RealtimeSource(self._wav).blocks():
            if self._stopped.is_set():
                return
            yield block


def _tone_wav(path: Path, seconds: float) -> Path:
    t = np.arange(int(16000 * seconds)) / 16000
    pcm = (np.sin(2 * np.pi * 300 * t) * 8000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm.tobytes())
    return path


def make_controller(
    qtbot: QtBot,
    tmp_path: Path,
    settings: Settings,
    *,
    keyring: MemoryKeyring | None = None,
    wav: Path | None = None,
    **kwargs: Any,
) -> AppController:
    """The controller, its microphone a WAV file played in real time."""
    wav = wav or _tone_wav(tmp_path / "tone.wav", 1.5)
    return rig.make_controller(
        qtbot, tmp_path, settings, keyring=keyring, devices=["Virtual Mic"],
        source_factory=lambda device: WavMicrophone(wav), **kwargs,
    )  # fmt: skip


def test_live_captions_show_partials_then_finals(
    qtbot: QtBot, tmp_path: Path, loop: qasync.QEventLoop
) -> None:
    keyring = MemoryKeyring()
    keyring.set_password("hark", "fireworks", KEY)
    script = Script([Utterance("First sentence.", partials=[(0.3, "First")], final_at=0.8)])
    states: list[str] = []

    async def scenario() -> None:
        async with FireworksEmulator(script, api_key=KEY) as emu:
            settings = Settings(provider="fireworks", fireworks=FireworksOptions(endpoint=emu.url))
            c = make_controller(qtbot, tmp_path, settings, keyring=keyring)
            c.tray.set_state = lambda s, m="", f=c.tray.set_state: (states.append(s), f(s, m))[1]  # type: ignore[method-assign]
            c.toggle_captions()
            assert c.tray.captions_action.text() == "Stop live captions"
            await until(lambda: "First" in " ".join(c.overlay.visible_lines()))
            await until(lambda: c.overlay.visible_lines() == ["First sentence."])
            c.toggle_captions()  # stop
            await until(lambda: c.run is None)
            assert c.tray.captions_action.text() == "Start live captions"

    run(loop, scenario())
    assert states[0] == "connecting"
    assert "listening" in states
    assert states[-1] == "idle"


def test_ipc_starts_and_stops_live_captions(
    qtbot: QtBot, tmp_path: Path, loop: qasync.QEventLoop
) -> None:
    keyring = MemoryKeyring()
    keyring.set_password("hark", "fireworks", KEY)
    script = Script([Utterance("First sentence.", partials=[(0.3, "First")])])

    async def scenario() -> None:
        async with FireworksEmulator(script, api_key=KEY) as emu:
            settings = Settings(provider="fireworks", fireworks=FireworksOptions(endpoint=emu.url))
            c = make_controller(qtbot, tmp_path, settings, keyring=keyring)
            assert c.handle_command("captions stop") == "ok"  # nothing running: nothing to do
            assert c.handle_command("captions") == "ok"
            live = c.run
            assert live is not None
            assert c.handle_command("captions") == "ok"  # already running: the same run
            assert c.run is live
            await until(lambda: "First" in " ".join(c.overlay.visible_lines()))
            assert c.handle_command("captions stop") == "ok"
            await until(lambda: c.run is None)
            assert live.state == "idle"
            assert c.overlay.visible_lines() == ["First sentence."]  # flushed, not cut

    run(loop, scenario())


def test_dictation_saves_then_delivers_and_lists_it(
    qtbot: QtBot, tmp_path: Path, loop: qasync.QEventLoop
) -> None:
    keyring = MemoryKeyring()
    keyring.set_password("hark", "fireworks", KEY)
    script = Script([Utterance("Dictated words — done.", final_at=None)])

    async def scenario() -> AppController:
        async with FireworksEmulator(script, api_key=KEY) as emu:
            settings = Settings(
                provider="fireworks",
                fireworks=FireworksOptions(endpoint=emu.url),
                insertion="clipboard",
            )
            c = make_controller(qtbot, tmp_path, settings, keyring=keyring)
            assert c.handle_command("ptt press") == "ok"
            await until(lambda: c.tray.state == "listening")
            await until(lambda: emu.total_samples > 8000)
            assert c.handle_command("ptt release") == "ok"
            await until(lambda: c.history.recent(1) == ["Dictated words — done."])
            await until(lambda: c.tray.state == "idle")
            return c

    c = run(loop, scenario())
    assert QGuiApplication.clipboard().text() == "Dictated words — done."
    entry = c.history.entries(1)[0]
    assert entry.outcome == "clipboard"
    shown = [a for a in c.tray.recent_menu.actions() if a.isVisible()]
    assert [a.menu().toolTip() for a in shown] == ["Dictated words — done."]


def test_retry_last_dictation_from_the_tray_with_another_provider(
    qtbot: QtBot, tmp_path: Path, loop: qasync.QEventLoop
) -> None:
    """Together fails mid-dictation; the tray sends the same audio to Fireworks."""
    keyring = MemoryKeyring()
    keyring.set_password("hark", "fireworks", KEY)
    keyring.set_password("hark", "together", "tg-controller-key")
    faults = Faults(error_at_s=0.5, error_message="GPU fell over")
    again = Script([Utterance("Said once, heard twice.", final_at=None)])

    async def scenario() -> tuple[AppController, int, int]:
        async with (
            TogetherEmulator(Script(), api_key="tg-controller-key", faults=faults) as together,
            FireworksEmulator(again, api_key=KEY) as fireworks,
        ):
            settings = Settings(
                provider="together",
                fireworks=FireworksOptions(endpoint=fireworks.url),
                together=TogetherOptions(endpoint=together.url),
                insertion="clipboard",
            )
            c = make_controller(qtbot, tmp_path, settings, keyring=keyring)
            assert not c.tray.retry_menu.isEnabled()
            assert c.handle_command("ptt press") == "ok"
            await until(lambda: c.tray.state == "error")
            assert c.handle_command("ptt release") == "ok"
            await until(lambda: c.tray.retry_menu.isEnabled())
            [with_fireworks] = [
                a for a in c.tray.retry_menu.actions() if a.text() == "With Fireworks"
            ]
            with_fireworks.trigger()
            await until(lambda: c.history.recent(1) == ["Said once, heard twice."])
            return c, together.total_samples, fireworks.connections[0].samples_received

    c, sent_first, sent_again = run(loop, scenario())
    assert sent_first >= 0.5 * 16000
    assert sent_again >= sent_first  # the same audio, all of it, again
    assert QGuiApplication.clipboard().text() == "Said once, heard twice."
    entry = c.history.entries(1)[0]
    assert (entry.provider, entry.outcome) == ("fireworks", "clipboard")
    assert c.settings.provider == "together"  # a retry does not switch provider


def test_toggle_from_the_tray_acts_like_hark_toggle(
    qtbot: QtBot, tmp_path: Path, loop: qasync.QEventLoop
) -> None:
    keyring = MemoryKeyring()
    keyring.set_password("hark", "fireworks", KEY)
    script = Script([Utterance("Toggled.", final_at=None)])

    async def scenario() -> AppController:
        async with FireworksEmulator(script, api_key=KEY) as emu:
            settings = Settings(
                provider="fireworks",
                fireworks=FireworksOptions(endpoint=emu.url),
                insertion="clipboard",
            )
            c = make_controller(qtbot, tmp_path, settings, keyring=keyring)
            c.tray.dictation_action.trigger()
            await until(lambda: c.tray.dictation_action.text() == "Stop dictation")
            await until(lambda: emu.total_samples > 4000)
            assert c.handle_command("toggle") == "ok"
            await until(lambda: c.history.recent(1) == ["Toggled."])
            await until(lambda: c.tray.dictation_action.text() == "Start dictation")
            return c

    run(loop, scenario())


@pytest.mark.parametrize(
    ("secure_keyring", "message"),
    [
        (True, "No Together AI API key: open Settings to add one "
               "(or set the TOGETHER_API_KEY environment variable)."),
        (False, "No Together AI API key, and no secure keyring to keep one on this system: "
                "set the TOGETHER_API_KEY environment variable, or install gnome-keyring "
                "or KWallet."),
    ],
)  # fmt: skip
def test_missing_key_tells_the_user_what_to_do(
    qtbot: QtBot,
    tmp_path: Path,
    loop: qasync.QEventLoop,
    monkeypatch: pytest.MonkeyPatch,
    secure_keyring: bool,
    message: str,
) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    keyring = MemoryKeyring() if secure_keyring else NullKeyring()
    c = make_controller(qtbot, tmp_path, Settings(provider="together"), keyring=keyring)
    notes: list[tuple[str, str]] = []
    c.tray.notify = lambda title, message, error=False: notes.append((title, message))  # type: ignore[method-assign]

    async def scenario() -> None:
        c.toggle_captions()
        await until(lambda: c.run is None)

    run(loop, scenario())
    assert c.tray.state == "error"
    assert notes == [("Hark", message)]
    assert c.overlay.status_text() == message
    assert c.overlay.status_style != c.overlay.final_style  # shown as an error


def test_settings_dialog_test_connection_runs_a_real_session(
    qtbot: QtBot, tmp_path: Path, loop: qasync.QEventLoop
) -> None:
    async def scenario() -> tuple[str, str]:
        async with FireworksEmulator(Script([]), api_key=KEY) as emu:
            settings = Settings(provider="fireworks", fireworks=FireworksOptions(endpoint=emu.url))
            c = make_controller(qtbot, tmp_path, settings)
            c.open_settings()
            dialog = c.dialog
            assert dialog is not None
            qtbot.addWidget(dialog)
            dialog.key_fields["fireworks"].edit.setText("wrong-key")
            dialog.test_button.click()
            await until(lambda: dialog.test_button.isEnabled())
            failed = dialog.test_result.text()
            dialog.key_fields["fireworks"].edit.setText(KEY)
            dialog.test_button.click()
            await until(lambda: dialog.test_button.isEnabled())
            assert emu.connections[-1].flush_done
            return failed, dialog.test_result.text()

    failed, ok = run(loop, scenario())
    assert (
        failed
        == "Fireworks rejected the API key (HTTP 401). Check it with `hark keys set fireworks`."
    )
    assert ok.startswith("Connected to Fireworks")


def test_saved_settings_are_used_and_persisted(
    qtbot: QtBot, tmp_path: Path, loop: qasync.QEventLoop
) -> None:
    c = make_controller(qtbot, tmp_path, Settings(provider="baseten"))
    new = Settings(provider="fireworks", overlay=OverlaySettings(font_size=40))

    async def scenario() -> None:  # as in the app: slots run on the qasync loop
        c.select_provider("together")
        assert c.tray.provider_actions["together"].isChecked()
        c.apply_settings(new)
        await c.ptt.aclose()  # the dictation of the old provider finishes closing

    run(loop, scenario())
    assert SettingsStore(tmp_path / "settings.json").load().settings == new
    assert c.overlay.caption_font.pointSize() == 40


def test_first_run_and_problems_are_shown(qtbot: QtBot, tmp_path: Path) -> None:
    c = make_controller(
        qtbot, tmp_path, Settings(), first_run=True, problems=["The settings file is broken."]
    )
    notes: list[str] = []
    c.tray.notify = lambda title, message, error=False: notes.append(message)  # type: ignore[method-assign]
    c.start()
    assert c.dialog is None  # a first run opens the setup window, and only that
    assert c.setup is not None
    qtbot.addWidget(c.setup)
    assert c.setup.isVisible()
    assert notes == ["The settings file is broken."]


def test_ipc_commands(qtbot: QtBot, tmp_path: Path) -> None:
    c = make_controller(qtbot, tmp_path, Settings())
    assert c.handle_command("show-settings") == "ok"
    assert c.dialog is not None
    qtbot.addWidget(c.dialog)
    assert c.handle_command("dance") == "error: unknown command 'dance'"
    with qtbot.waitSignal(c.quit_requested):
        assert c.handle_command("quit") == "ok"


def test_a_local_serve_needs_no_key_in_the_app_either(
    qtbot: QtBot, tmp_path: Path, loop: qasync.QEventLoop, tiny_model: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """`hark serve` on loopback takes any client; Test connection must not ask for a key."""
    monkeypatch.delenv("BASETEN_API_KEY", raising=False)
    engine = LocalEngine(
        lambda: WhisperTranscriber(str(tiny_model), device="cpu", cpu_threads=1), SileroVad
    )

    async def scenario() -> str:
        server = await serve(engine, token=None, max_sessions=1)
        try:
            url = f"ws://127.0.0.1:{server.port}{BASETEN_PATH}"
            settings = Settings(provider="baseten", baseten=BasetenOptions(endpoint=url))
            c = make_controller(qtbot, tmp_path, settings)
            c.open_settings()
            dialog = c.dialog
            assert dialog is not None
            qtbot.addWidget(dialog)
            dialog.test_button.click()  # no key typed, none stored
            await until(lambda: dialog.test_button.isEnabled())
            return dialog.test_result.text()
        finally:
            await server.aclose()
            await engine.aclose()

    assert run(loop, scenario()).startswith("Connected to Baseten")


def test_the_local_unload_delay_follows_the_settings(
    qtbot: QtBot, tmp_path: Path, loop: qasync.QEventLoop
) -> None:
    def no_engine(options: LocalOptions) -> LocalEngine:
        raise AssertionError("no session is opened here")

    connector = LocalConnector(no_engine)
    settings = Settings(local=LocalOptions(unload_after_min=2.0))
    c = make_controller(qtbot, tmp_path, settings, connector=connector)
    assert connector.unload_after_s == 120.0  # from the settings the app starts with

    async def scenario() -> None:
        c.apply_settings(settings.replace(local=LocalOptions(unload_after_min=0.0)))

    run(loop, scenario())
    assert connector.unload_after_s == 0.0
