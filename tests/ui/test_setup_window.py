"""The setup window, driven through every path with real parts.

The model store downloads from a local stand-in for the hub (or a closed port, for
offline), the cloud provider is the Fireworks emulator on loopback, the microphone is
a tone played in real time, keys go to an in-memory keyring behind the real
``KeyringSecretStore``, and dictation runs through the controller's real push-to-talk
path. A screenshot of each step goes to ``$HARK_SCREENSHOT_DIR`` (else the test's
temporary directory).
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import pytest
import qasync
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.adapters.models import ModelStore
from app.adapters.secrets import KeyringSecretStore
from app.adapters.settings_store import SettingsStore
from app.core.errors import HarkError
from app.core.options import FireworksOptions, LocalOptions
from app.core.settings import Settings
from app.engine.pacing import RealtimeSource
from app.ui.controller import AppController
from app.ui.settings_dialog import SettingsDialog
from app.ui.setup import SetupWindow, texts
from app.ui.setup.window import HOTKEY, MICROPHONE, TRANSCRIPTION, TRY
from tests.emulators import FireworksEmulator, Script, Utterance
from tests.helpers import TIMEOUT_FACTOR
from tests.memory_keyring import MemoryKeyring
from tests.model_server import ModelHub, closed_port
from tests.ui import rig
from tests.ui.rig import run, until

T = TypeVar("T")
KEY = "fw-setup-key"
WAIT_MS = int(10_000 * TIMEOUT_FACTOR)
REJECTED = "Fireworks rejected the API key (HTTP 401). Check it with `hark keys set fireworks`."


# -- real parts for the tests ---------------------------------------------------------


class _Tone:
    """Three seconds of a 300 Hz tone at a speaking level, in 20 ms blocks."""

    sample_rate = 16000
    channels = 1

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        t = np.arange(320) / self.sample_rate
        block = (0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32).reshape(-1, 1)
        for _ in range(150):
            yield block


class ToneMicrophone:
    """A microphone that hears a steady tone, in real time (the app's LiveSource)."""

    def __init__(self) -> None:
        self.sample_rate = _Tone.sample_rate
        self.channels = _Tone.channels
        self.error: HarkError | None = None
        self.stopped = False

    async def start(self) -> None:
        return None

    def stop(self) -> None:
        self.stopped = True

    async def aclose(self) -> None:
        self.stop()

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        async for block in RealtimeSource(_Tone()).blocks():
            if self.stopped:
                return
            yield block


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("HARK_SCREENSHOT_DIR") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shoot(widget: QWidget, folder: Path, name: str) -> None:
    QApplication.processEvents()  # let pending layout changes land before drawing
    assert widget.grab().save(str(folder / f"setup-{name}.png"))


def fully_shown(label: QLabel) -> bool:
    """Every wrapped line of ``label`` is on screen: not cut, not scrolled away."""
    if not label.isVisible() or label.height() < label.heightForWidth(label.width()):
        return False
    return label.visibleRegion().boundingRect() == label.rect()


def make_controller(
    qtbot: QtBot,
    tmp_path: Path,
    settings: Settings,
    *,
    keyring: MemoryKeyring | None = None,
    models: ModelStore | None = None,
    first_run: bool = False,
    tray_available: bool = True,
) -> AppController:
    """The controller, its microphone a tone; models from a server that is not there."""
    return rig.make_controller(
        qtbot, tmp_path, settings, keyring=keyring, devices=["Tone Mic"],
        source_factory=lambda device: ToneMicrophone(), tray_available=tray_available,
        models=models or ModelStore(tmp_path / "models", base_url=offline_url()),
        first_run=first_run,
    )  # fmt: skip


def offline_url() -> str:
    return f"http://127.0.0.1:{closed_port()}"


def window_of(qtbot: QtBot, controller: AppController) -> SetupWindow:
    controller.open_setup()
    window = controller.setup
    assert window is not None
    qtbot.addWidget(window)
    qtbot.waitExposed(window)
    return window


def standalone(qtbot: QtBot, store: ModelStore, settings: Settings | None = None) -> SetupWindow:
    window = SetupWindow(
        settings or Settings(),
        KeyringSecretStore(MemoryKeyring()),
        models=store,
        devices=["Tone Mic"],
        source_factory=None,
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


def visible_windows() -> list[QWidget]:
    return [w for w in QApplication.topLevelWidgets() if w.isVisible() and w.isWindow()]


# -- a first run ----------------------------------------------------------------------


def test_a_first_run_opens_only_the_setup_window(qtbot: QtBot, tmp_path: Path, shots: Path) -> None:
    c = make_controller(qtbot, tmp_path, Settings(), first_run=True)
    c.start()
    assert c.setup is not None
    qtbot.addWidget(c.setup)
    qtbot.waitExposed(c.setup)
    assert c.dialog is None  # no Settings on top of it
    assert c._download is None  # and no download window: the setup window offers it
    assert visible_windows() == [c.setup]
    window = c.setup
    assert window.step == TRANSCRIPTION
    assert window.transcription.local
    assert "145 MB" in window.transcription.local_panel.model_combo.currentText()
    assert window.transcription.local_panel.download_button.isVisible()
    shoot(window, shots, "1-local")
    # A second launch while setting up raises the setup window, not Settings.
    assert c.handle_command("show-settings") == "ok"
    assert c.dialog is None
    window.skip_button.click()
    qtbot.waitUntil(lambda: c.setup is None, timeout=WAIT_MS)
    assert SettingsStore(tmp_path / "settings.json").load().settings == Settings()
    assert c._download is None  # skipping does not start a download either
    assert visible_windows() == []


def test_without_a_tray_the_control_window_waits_for_the_setup_window(
    qtbot: QtBot, tmp_path: Path
) -> None:
    c = make_controller(qtbot, tmp_path, Settings(), first_run=True, tray_available=False)
    control = c.tray.window
    assert control is not None
    qtbot.addWidget(control)
    c.start()
    assert c.setup is not None
    qtbot.addWidget(c.setup)
    qtbot.waitExposed(c.setup)
    assert visible_windows() == [c.setup]  # the always-on-top control window would cover it
    c.setup.skip_button.click()
    qtbot.waitUntil(control.isVisible, timeout=WAIT_MS)
    assert control.width() < 600


def test_the_welcome_note_asks_for_a_key_only_for_cloud_providers(qtbot: QtBot) -> None:
    secrets = KeyringSecretStore(MemoryKeyring())
    local = SettingsDialog(Settings(), secrets, devices=[], first_run=True)
    cloud = SettingsDialog(Settings(provider="together"), secrets, devices=[], first_run=True)
    qtbot.addWidget(local)
    qtbot.addWidget(cloud)
    assert "API key" not in local.welcome_label.text()  # the local engine needs none
    assert "offline" in local.welcome_label.text()
    assert "API key" in cloud.welcome_label.text()


# -- step 1, local: a model folder, offline, a download ---------------------------------


def test_local_with_a_model_folder(
    qtbot: QtBot, tmp_path: Path, tiny_model: Path, shots: Path
) -> None:
    window = standalone(qtbot, ModelStore(tmp_path / "models", base_url=offline_url()))
    page = window.transcription.local_panel
    assert not page.use_folder(tmp_path)  # no model.bin there: refused, and said why
    assert page.problem.text() == texts.NOT_A_MODEL.format(path=tmp_path)
    assert fully_shown(page.problem)
    assert page.use_folder(tiny_model)
    assert not page.problem.isVisible()
    assert page.model_status.text() == texts.FOLDER_READY.format(path=tiny_model)
    assert not page.download_button.isVisible()  # nothing to download
    assert page.model_combo.currentText() == "Model folder: tiny-en"
    page.model_combo.setCurrentIndex(page.model_combo.findData("tiny"))  # a size, then back
    assert page.model() == "tiny"
    page.model_combo.setCurrentIndex(page.model_combo.findData(str(tiny_model)))
    assert page.model() == str(tiny_model)
    shoot(window, shots, "1-local-folder")
    applied: list[Settings] = []
    window.applied.connect(applied.append)
    for _ in range(3):
        window.next_button.click()
    assert window.step == TRY
    window.next_button.click()  # Finish
    assert not window.isVisible()
    assert [s.local.model for s in applied] == [str(tiny_model)] * 2  # "Try it", Finish
    assert applied[-1].provider == "local"


def test_local_offline_says_what_is_possible_in_full(
    qtbot: QtBot, tmp_path: Path, shots: Path
) -> None:
    store = ModelStore(tmp_path / "models", base_url=offline_url(), retries=0)
    window = standalone(qtbot, store)
    page = window.transcription.local_panel
    page.download_button.click()
    qtbot.waitUntil(lambda: not page.downloading, timeout=WAIT_MS)
    assert page.problem.text().startswith(
        "The model could not be downloaded. Cannot download the base model"
    )
    help_text = page.help.text()
    assert "Use a model folder" in help_text
    assert "hark models download base" in help_text
    assert "cloud service" in help_text
    for label in (page.problem, page.help):  # wrapped, never cut
        qtbot.waitUntil(lambda label=label: fully_shown(label), timeout=WAIT_MS)
    assert page.download_button.isVisible()  # a retry is one click away
    assert QApplication.focusWidget() in (page.folder_button, None)
    shoot(window, shots, "1-local-offline")


def test_local_download_with_progress_cancel_and_retry(
    qtbot: QtBot, tmp_path: Path, hub: ModelHub, shots: Path
) -> None:
    store = ModelStore(tmp_path / "models", base_url=hub.base_url)
    window = standalone(qtbot, store, Settings(local=LocalOptions(model="tiny")))
    page = window.transcription.local_panel
    assert page.model() == "tiny"
    hub.stall = threading.Event()  # the body trickles only while the test allows it
    values: list[int] = []
    page.bar.valueChanged.connect(values.append)
    page.download_button.click()
    qtbot.waitUntil(lambda: page.bar.maximum() == 1000, timeout=WAIT_MS)  # sizes known
    assert page.cancel_button.isVisible()
    assert not page.model_combo.isEnabled()  # the size cannot change under the download
    assert " of 1.5 MB" in page.progress.text()
    shoot(window, shots, "1-local-downloading")
    page.cancel_button.click()
    hub.stall.set()
    qtbot.waitUntil(lambda: not page.downloading, timeout=WAIT_MS)
    assert page.progress.text() == texts.CANCELLED
    assert not store.is_installed("tiny")
    page.download_button.click()  # again, to the end
    qtbot.waitUntil(lambda: store.is_installed("tiny"), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not page.downloading, timeout=WAIT_MS)
    assert not page.progress.isVisible()
    assert page.model_status.text() == texts.MODEL_READY
    assert page.model_combo.currentText().endswith("(installed)")
    assert not page.download_button.isVisible()
    assert max(values) == 1000
    shoot(window, shots, "1-local-downloaded")


def test_finishing_without_the_model_downloads_it_after_the_window_closes(
    qtbot: QtBot, tmp_path: Path, hub: ModelHub, loop: qasync.QEventLoop
) -> None:
    store = ModelStore(tmp_path / "models", base_url=hub.base_url)
    settings = Settings(local=LocalOptions(model="tiny"))

    async def scenario() -> AppController:
        c = make_controller(qtbot, tmp_path, settings, models=store, first_run=True)
        c.start()
        window = c.setup
        assert window is not None
        qtbot.addWidget(window)
        window.steps.setCurrentRow(TRY)  # applies the choices: still no download window
        assert c._download is None
        window.next_button.click()  # Finish
        await until(lambda: c.setup is None)
        assert c._download is not None  # one window at a time: now the download
        qtbot.addWidget(c._download)
        await until(lambda: store.is_installed("tiny"))
        await until(lambda: c._download is None)
        return c

    c = run(loop, scenario())
    assert c.settings.local.model == "tiny"


def test_the_tray_opens_setup_later_with_the_current_choices(qtbot: QtBot, tmp_path: Path) -> None:
    c = make_controller(qtbot, tmp_path, Settings(provider="together"))
    c.tray.setup_action.trigger()
    window = c.setup
    assert window is not None
    qtbot.addWidget(window)
    assert window.isVisible()
    assert window.transcription.cloud_radio.isChecked()
    assert window.transcription.cloud_panel.provider() == "together"
    window.skip_button.click()
    qtbot.waitUntil(lambda: c.setup is None, timeout=WAIT_MS)
    assert not (tmp_path / "settings.json").exists()  # skipping later changes nothing


# -- step 1, cloud: a key tested against the provider ------------------------------------


def test_cloud_key_is_tested_against_the_provider_and_stored(
    qtbot: QtBot, tmp_path: Path, loop: qasync.QEventLoop, shots: Path
) -> None:
    keyring = MemoryKeyring()

    async def scenario() -> tuple[AppController, list[str]]:
        async with FireworksEmulator(Script([]), api_key=KEY) as emu:
            settings = Settings(fireworks=FireworksOptions(endpoint=emu.url))  # local first
            c = make_controller(qtbot, tmp_path, settings, keyring=keyring, first_run=True)
            window = window_of(qtbot, c)
            window.transcription.cloud_radio.click()
            page = window.transcription.cloud_panel
            assert page.isVisible()
            assert not window.transcription.local_panel.isVisible()
            page.provider_combo.setCurrentIndex(page.provider_combo.findData("fireworks"))
            field = page.key_fields["fireworks"]
            assert field.isVisible()
            results = []
            for key in ("wrong-key", KEY):
                field.edit.setText(key)
                page.test_button.click()
                assert page.test_button.text() == "Testing…"
                await until(lambda: page.test_button.isEnabled())
                results.append(page.test_result.text())
                assert fully_shown(page.test_result)
                shoot(window, shots, "1-cloud-" + ("connected" if key == KEY else "wrong-key"))
            assert emu.connections[-1].flush_done  # a real session, audio and all
            window.next_button.click()  # the key goes to the keyring here
            assert window.step == MICROPHONE
            assert keyring.get_password("hark", "fireworks") == KEY
            return c, results

    c, results = run(loop, scenario())
    assert results[0] == REJECTED
    assert results[1].startswith("Connected to Fireworks")
    assert c.settings.provider == "local"  # nothing is saved before "Try it" or Finish


# -- step 2: the microphone's level -----------------------------------------------------


def test_microphone_test_shows_a_live_level(
    qtbot: QtBot, tmp_path: Path, loop: qasync.QEventLoop, shots: Path
) -> None:
    async def scenario() -> list[int]:
        c = make_controller(qtbot, tmp_path, Settings())
        window = window_of(qtbot, c)
        window.next_button.click()
        page = window.microphone
        assert window.step == MICROPHONE
        assert [page.combo.itemText(i) for i in range(page.combo.count())] == [
            texts.MIC_DEFAULT,
            "Tone Mic",
        ]
        page.combo.setCurrentIndex(1)
        levels: list[int] = []
        page.meter.valueChanged.connect(levels.append)
        page.test_button.click()
        assert page.test_button.text() == "Stop"
        await until(lambda: page.status.text() == texts.MIC_HEARD)
        await until(lambda: page.meter.value() > 50)
        shoot(window, shots, "2-microphone")
        window.next_button.click()  # leaving the step closes the microphone
        await until(lambda: not page.testing)
        assert page.test_button.text() == "Test"
        assert window.current_settings().microphone == "Tone Mic"
        return levels

    levels = run(loop, scenario())
    assert max(levels) > 50  # 0.2 RMS tone: most of the bar
    assert levels[-1] == 0  # back to zero once stopped


# -- step 3: the hotkey ------------------------------------------------------------------


def test_hotkey_is_pressed_and_clashes_are_flagged(
    qtbot: QtBot, tmp_path: Path, shots: Path
) -> None:
    window = standalone(qtbot, ModelStore(tmp_path / "models", base_url=offline_url()))
    window.steps.setCurrentRow(HOTKEY)
    page = window.hotkey
    qtbot.waitUntil(page.edit.hasFocus, timeout=WAIT_MS)
    qtbot.keyClick(page.edit, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert page.hotkey() == "ctrl+c"
    assert page.warning.text() == texts.HOTKEY_CLASH.format(hotkey="ctrl+c", what="copy")
    qtbot.keyClick(page.edit, Qt.Key.Key_A)  # a letter alone would fire while typing
    assert page.hotkey() == "ctrl+c"
    assert page.warning.text().startswith("Hold Ctrl, Alt or Super as well")
    shoot(window, shots, "3-hotkey-refused")
    qtbot.keyClick(page.edit, Qt.Key.Key_F9)
    assert page.hotkey() == "f9"
    assert not page.warning.isVisible()
    page.insertion.setCurrentIndex(page.insertion.findData("type"))
    assert page.insertion_help.text().startswith("Types the text key by key")
    page.mode.setCurrentIndex(page.mode.findData("toggle"))
    chosen = window.current_settings()
    assert (chosen.hotkey.hotkey, chosen.hotkey.mode, chosen.insertion) == ("f9", "toggle", "type")
    shoot(window, shots, "3-hotkey")
    page.edit.setFocus()
    qtbot.keyClick(page.edit, Qt.Key.Key_Return)  # Enter is not captured: it means Next
    assert page.hotkey() == "f9"
    assert window.step == TRY


# -- step 4: try it, with the real dictation flow ------------------------------------------


def test_try_it_puts_dictated_words_in_the_box(
    qtbot: QtBot, tmp_path: Path, loop: qasync.QEventLoop, shots: Path
) -> None:
    keyring = MemoryKeyring()
    keyring.set_password("hark", "fireworks", KEY)
    scripts = [Script([Utterance(text, final_at=None)]) for text in ("Hello from setup.", "Again.")]

    async def scenario() -> AppController:
        async with FireworksEmulator(scripts, api_key=KEY) as emu:
            settings = Settings(fireworks=FireworksOptions(endpoint=emu.url))
            c = make_controller(qtbot, tmp_path, settings, keyring=keyring, first_run=True)
            window = window_of(qtbot, c)
            window.transcription.cloud_radio.click()
            combo = window.transcription.cloud_panel.provider_combo
            combo.setCurrentIndex(combo.findData("fireworks"))
            window.steps.setCurrentRow(TRY)  # entering the step applies the choices
            assert c.settings.provider == "fireworks"
            box = window.try_page.box
            await until(box.hasFocus)
            assert "Ctrl+Alt+Space" in window.try_page.intro.text()
            # The hotkey's twin (`hark ptt press|release`) drives the same push-to-talk.
            assert c.handle_command("ptt press") == "ok"
            await until(lambda: window.try_page.button.text() == "Stop")
            await until(lambda: emu.total_samples > 8000)
            assert c.handle_command("ptt release") == "ok"
            await until(lambda: box.toPlainText() == "Hello from setup.")
            # The Start button (desktops without a hotkey) leaves the focus in the box.
            window.activateWindow()  # offscreen, the overlay took the activation
            await until(box.hasFocus)
            window.try_page.button.click()
            await until(lambda: c.ptt.active)
            assert window.focusWidget() is box
            await until(lambda: emu.total_samples > 16000)
            window.try_page.button.click()
            await until(lambda: box.toPlainText() == "Hello from setup. Again.")
            assert window.try_page.status.text() == texts.TRY_DONE
            shoot(window, shots, "4-try-it")
            window.next_button.click()  # Finish
            await until(lambda: c.setup is None)
            await until(lambda: c.tray.state == "idle")
            return c

    c = run(loop, scenario())
    assert c.history.recent(2) == ["Again.", "Hello from setup."]
    saved = SettingsStore(tmp_path / "settings.json").load()
    assert not saved.first_run
    assert saved.settings.provider == "fireworks"


# -- skipping, the keyboard, geometry, names ------------------------------------------------


def test_escape_skips_and_keeps_the_defaults(qtbot: QtBot, tmp_path: Path) -> None:
    c = make_controller(qtbot, tmp_path, Settings(), first_run=True)
    window = window_of(qtbot, c)
    window.transcription.cloud_radio.click()  # chosen, but never confirmed
    window.next_button.click()
    with qtbot.waitSignal(window.skipped, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: c.setup is None, timeout=WAIT_MS)
    assert SettingsStore(tmp_path / "settings.json").load().settings == Settings()


def test_keyboard_tab_order_and_default_button(qtbot: QtBot, tmp_path: Path) -> None:
    window = standalone(qtbot, ModelStore(tmp_path / "models", base_url=offline_url()))
    page = window.transcription.local_panel
    radio = window.transcription.local_radio
    qtbot.waitUntil(radio.hasFocus, timeout=WAIT_MS)
    order = [radio]
    for _ in range(3):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        order.append(QApplication.focusWidget())
    assert order == [radio, page.model_combo, page.folder_button, page.download_button]
    assert window.next_button.isDefault()
    qtbot.keyClick(page.download_button, Qt.Key.Key_Return)  # Enter is Next, not Download
    assert window.step == MICROPHONE
    assert not page.downloading
    assert QApplication.focusWidget() is window.microphone.combo  # each step starts focused


def test_every_control_has_an_accessible_name(qtbot: QtBot, tmp_path: Path) -> None:
    window = standalone(qtbot, ModelStore(tmp_path / "models", base_url=offline_url()))
    kinds = (QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit, QProgressBar)
    controls = [w for w in window.findChildren(QWidget) if isinstance(w, kinds)]
    controls = [
        w for w in controls if w.parent() is not None and w.objectName() != "qt_spinbox_lineedit"
    ]
    assert len(controls) > 20
    unnamed = [
        f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r}"
        for w in controls
        if not w.accessibleName()
    ]
    assert unnamed == []


def test_setup_and_settings_remember_where_they_were_and_fit_the_screen(
    qtbot: QtBot, tmp_path: Path
) -> None:
    screen = QApplication.primaryScreen().availableGeometry()
    c = make_controller(qtbot, tmp_path, Settings())
    window = window_of(qtbot, c)
    assert window.width() <= min(screen.width(), 1280)
    assert window.height() <= min(screen.height(), 800)
    window.resize(700, 500)
    window.move(QPoint(screen.x() + 40, screen.y() + 30))
    window.skip_button.click()
    qtbot.waitUntil(lambda: c.setup is None, timeout=WAIT_MS)
    again = window_of(qtbot, c)
    assert (again.width(), again.height()) == (700, 500)
    assert again.pos() == QPoint(screen.x() + 40, screen.y() + 30)
    again.skip_button.click()
    qtbot.waitUntil(lambda: c.setup is None, timeout=WAIT_MS)
    c.ui_state.set("setup_window", [5000, 4000, 3000, 2000])  # a monitor that is gone
    third = window_of(qtbot, c)
    assert screen.contains(third.frameGeometry())

    c.open_settings()
    dialog = c.dialog
    assert dialog is not None
    qtbot.addWidget(dialog)
    assert dialog.width() <= 1280
    assert dialog.height() <= 800
    assert screen.contains(dialog.frameGeometry())
    dialog.resize(760, 560)
    dialog.reject()
    qtbot.waitUntil(lambda: c.dialog is None, timeout=WAIT_MS)
    c.open_settings()
    assert c.dialog is not None
    qtbot.addWidget(c.dialog)
    assert (c.dialog.width(), c.dialog.height()) == (760, 560)
