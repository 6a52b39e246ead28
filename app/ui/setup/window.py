"""The setup window: one window for a first run (and later, from the tray menu).

Four steps, each skippable: how to transcribe, the microphone, the hotkey, and a box
to try dictation in. The controller owns what happens outside the window: it saves
the settings (:attr:`SetupWindow.applied`), runs connection tests
(:attr:`SetupWindow.test_requested`, answered with :meth:`show_test_result`) and
delivers dictated text into the try box (:meth:`accepts_dictation`, :meth:`insert`).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QFont
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.adapters.models import ModelStore
from app.core.settings import Settings
from app.engine.captions import LiveSource
from app.ui.setup import texts
from app.ui.setup.hotkey import HotkeyPage
from app.ui.setup.microphone import MicrophonePage
from app.ui.setup.transcription import TranscriptionPage
from app.ui.setup.try_it import TryPage
from app.ui.widgets.api_key import SecretStore
from app.ui.widgets.form import ERROR_COLOR, message_label, note_label, show_message
from app.ui.window_state import StateStore, restore_geometry, save_geometry

log = logging.getLogger(__name__)

TRANSCRIPTION, MICROPHONE, HOTKEY, TRY = range(len(texts.STEPS))
GEOMETRY_KEY = "setup_window"
DEFAULT_SIZE = QSize(860, 600)


class SetupWindow(QDialog):
    """Guides a new user from nothing to a first dictated sentence.

    Args:
        settings: The settings to start from (the defaults on a first run).
        secrets: Where API keys go (written when the user moves past step 1's key).
        models: The local model store (downloads happen in this window).
        devices: Input device names.
        source_factory: Opens a microphone by name (for the level meter).
        ui_state: Remembers the window's size and position.
        parent: The parent widget.

    Signals:
        applied(Settings): Use and save these settings (before "Try it", and on Finish).
        test_requested(Settings, str): Test a connection: settings and the typed key.
        dictation_toggled(): The try step's Start/Stop button.
        skipped(): "Skip setup" (or Esc, or the close button) before finishing.
    """

    applied = Signal(object)
    test_requested = Signal(object, str)
    dictation_toggled = Signal()
    skipped = Signal()

    def __init__(
        self,
        settings: Settings,
        secrets: SecretStore,
        *,
        models: ModelStore | None,
        devices: Sequence[str],
        source_factory: Callable[[str], LiveSource] | None,
        ui_state: StateStore | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up Hark")
        self.setMinimumSize(640, 480)
        self.initial = settings
        self.ui_state = ui_state
        self.done_ = False

        self.transcription = TranscriptionPage(settings, secrets, models)
        self.microphone = MicrophonePage(devices, settings.microphone, source_factory)
        self.hotkey = HotkeyPage(settings)
        self.try_page = TryPage()
        self.steps = QListWidget()
        self.steps.setAccessibleName("Setup steps")
        for number, name in enumerate(texts.STEPS, 1):
            self.steps.addItem(f"{number}. {name}")
        self.steps.setFixedWidth(170)
        self.steps.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Back/Next drive it from keys
        self.steps.setFrameShape(QListWidget.Shape.NoFrame)
        self.steps.setStyleSheet(
            "QListWidget { background: transparent; }"
            "QListWidget::item { padding: 8px 6px; border-radius: 4px; }"
            "QListWidget::item:selected { background: palette(highlight);"
            " color: palette(highlighted-text); }"
        )
        self.pages = QStackedWidget()
        self.headings: list[QLabel] = []
        for name, page in zip(
            texts.STEPS,
            (self.transcription, self.microphone, self.hotkey, self.try_page),
            strict=True,
        ):
            self.pages.addWidget(self._page(name, page))
        self.error = message_label()
        self.error.setAccessibleName("Setup problem")

        self.skip_button = QPushButton("Skip setup")
        self.skip_button.setAccessibleName("Skip setup and keep the defaults")
        self.skip_button.setAutoDefault(False)
        self.back_button = QPushButton("Back")
        self.back_button.setAccessibleName("Back to the previous step")
        self.back_button.setAutoDefault(False)
        self.next_button = QPushButton("Next")
        self.next_button.setAccessibleName("Next step")
        self.next_button.setDefault(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.skip_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button)

        body = QHBoxLayout()
        body.addWidget(self.steps)
        body.addWidget(self.pages, 1)
        outer = QVBoxLayout(self)
        intro = note_label(texts.INTRO, muted=False)
        intro.setAccessibleName("Welcome")
        outer.addWidget(intro)
        outer.addLayout(body, 1)
        outer.addWidget(self.error)
        outer.addLayout(buttons)

        self.skip_button.clicked.connect(self.skip)
        self.back_button.clicked.connect(self.back)
        self.next_button.clicked.connect(self.next)
        self.steps.currentRowChanged.connect(self._show_step)
        self.transcription.test_requested.connect(self._on_test)
        self.try_page.dictation_toggled.connect(self.dictation_toggled.emit)
        self._set_tab_order()
        for button in self.findChildren(QPushButton):  # Enter always means Next / Finish
            button.setAutoDefault(button is self.next_button)
        restore_geometry(self, ui_state, GEOMETRY_KEY, DEFAULT_SIZE)
        self.steps.setCurrentRow(TRANSCRIPTION)
        self._show_step(TRANSCRIPTION)

    def _page(self, name: str, content: QWidget) -> QScrollArea:
        page = QWidget()
        layout = QVBoxLayout(page)
        heading = QLabel(texts.TITLES[name])
        heading.setWordWrap(True)
        font = QFont(heading.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.3)
        heading.setFont(font)
        self.headings.append(heading)
        layout.addWidget(heading)
        layout.addWidget(content, 1)
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # text wraps
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        area.setWidget(page)
        return area

    def _set_tab_order(self) -> None:
        local, cloud = self.transcription.local_panel, self.transcription.cloud_panel
        keys = [
            w for f in cloud.key_fields.values() for w in (f.edit, f.show_button, f.remove_button)
        ]
        chain: list[QWidget] = [
            self.transcription.local_radio, local.model_combo, local.folder_button,
            local.download_button, local.cancel_button, self.transcription.cloud_radio,
            cloud.provider_combo, cloud.baseten_model, *keys, cloud.test_button,
            self.microphone.combo, self.microphone.test_button,
            self.hotkey.edit, self.hotkey.mode, self.hotkey.insertion, self.try_page.box,
            self.skip_button, self.back_button, self.next_button,
        ]  # fmt: skip
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    # -- navigation ---------------------------------------------------------------------

    @property
    def step(self) -> int:
        """The step shown (:data:`TRANSCRIPTION` ... :data:`TRY`)."""
        return self.steps.currentRow()

    def current_settings(self) -> Settings:
        """The settings as chosen so far."""
        settings = self.transcription.settings(self.initial)
        settings = settings.replace(microphone=self.microphone.device())
        return self.hotkey.settings(settings)

    @Slot()
    def next(self) -> None:
        """Go to the next step; on the last one, finish."""
        if self.step == TRY:
            self.finish()
            return
        if self.step == TRANSCRIPTION and not self._store_key():
            return
        self.steps.setCurrentRow(self.step + 1)

    @Slot()
    def back(self) -> None:
        """Go to the previous step."""
        if self.step > 0:
            self.steps.setCurrentRow(self.step - 1)

    @Slot(int)
    def _show_step(self, step: int) -> None:
        if step < 0:
            return
        self.pages.setCurrentIndex(step)
        log.info("setup: step %s", texts.STEPS[step])
        self.back_button.setEnabled(step > 0)
        self.skip_button.setVisible(step != TRY)  # the choices are in use from here on
        self.next_button.setText("Finish" if step == TRY else "Next")
        self.next_button.setAccessibleName("Finish setup" if step == TRY else "Next step")
        self.error.hide()
        if step != MICROPHONE:
            self.microphone.stop()
        if step == TRY:
            settings = self.current_settings()
            self.try_page.set_hotkey(settings.hotkey.hotkey)
            self.applied.emit(settings)  # the try box uses the real, chosen settings
            self.try_page.focus_box()
        elif step == TRANSCRIPTION:
            self.transcription.local_radio.setFocus()
        elif step == MICROPHONE:
            self.microphone.combo.setFocus()
        elif step == HOTKEY:
            self.hotkey.edit.setFocus()

    def _store_key(self) -> bool:
        problem = self.transcription.apply_keys()
        if problem:
            show_message(self.error, f"Could not store the API key: {problem}", ERROR_COLOR)
        return not problem

    @Slot()
    def finish(self) -> None:
        """Save the choices and close."""
        if not self._store_key():
            return
        self.done_ = True
        self.applied.emit(self.current_settings())
        self.accept()

    @Slot()
    def skip(self) -> None:
        """Close without changing the settings."""
        self.reject()

    # -- answers from the controller -----------------------------------------------------

    def _on_test(self, _provider: str, typed_key: str) -> None:
        self.test_requested.emit(self.transcription.settings(self.initial), typed_key)

    def show_test_result(self, ok: bool, message: str) -> None:
        """Show how a connection test went."""
        self.transcription.show_test_result(ok, message)

    def accepts_dictation(self) -> bool:
        """Whether dictated text should go into the try box now."""
        return self.isVisible() and self.step == TRY and self.try_page.accepts_dictation()

    def insert(self, text: str) -> None:
        """Put a dictated transcript into the try box."""
        self.try_page.insert(text)

    def set_dictation_active(self, active: bool) -> None:
        """Show on the try step whether dictation is recording."""
        self.try_page.set_active(active)

    # -- closing ------------------------------------------------------------------------

    def done(self, result: int) -> None:
        """Stop the microphone test and a download, remember the geometry, close."""
        self.microphone.stop()
        self.transcription.stop()
        save_geometry(self, self.ui_state, GEOMETRY_KEY)
        if not self.done_:
            self.skipped.emit()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:
        """The window's close button skips, like Esc."""
        self.reject()
        event.accept()
