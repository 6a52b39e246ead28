"""The tray icon and its menu, or a small control window where no tray exists.

The tray only shows state and emits what the user asked for; the controller decides
what happens. Signals:
    dictation_toggled: Start/stop dictation was chosen.
    captions_toggled: Start/stop live captions was chosen.
    provider_selected(str): A provider was picked in the Provider submenu.
    setup_requested: Set up Hark... was chosen.
    settings_requested: Settings... was chosen.
    transcript_chosen(str): Copy was chosen for a recent transcript.
    transcript_insert_requested(str): Insert was chosen for a recent transcript.
    retry_requested(str): Retry last dictation was chosen, with this provider.
    quit_requested: Quit was chosen.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent
from PySide6.QtWidgets import (
    QLabel,
    QMenu,
    QSizePolicy,
    QSystemTrayIcon,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.options import PROVIDER_TITLES
from app.ui.icons import state_icon

STATES = ("idle", "connecting", "listening", "finishing", "error")
STATE_TEXT = {
    "idle": "Ready",
    "connecting": "Connecting…",
    "listening": "Listening",
    "finishing": "Finishing…",
    "error": "Error",
}


CONTROL_WIDTH = 260
"""The control window's width: its status text wraps to it instead of widening it."""


class ControlWindow(QWidget):
    """A small always-available window with the tray menu's actions, for desktops
    without a system tray. Closing it hides it; Quit is in its menu.

    It keeps a fixed, narrow width: a long notification (a download error is three
    sentences) wraps onto more lines instead of stretching the window off the screen.
    """

    def __init__(self, menu: QMenu) -> None:
        super().__init__(None, Qt.WindowType.Window | Qt.WindowType.WindowStaysOnTopHint)
        self.setWindowTitle("Hark")
        self.setFixedWidth(CONTROL_WIDTH)
        self.status = QLabel(STATE_TEXT["idle"])
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setAccessibleName("Hark status")
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        for action in menu.actions():
            if action.isSeparator() or action.menu() is not None:
                continue
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            layout.addWidget(button)
        more = QToolButton()
        more.setText("More…")
        more.setMenu(menu)
        more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        more.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        layout.addWidget(more)

    def set_status(self, text: str) -> None:
        """Show ``text`` (wrapped), growing or shrinking the window's height to fit it."""
        self.status.setText(text)
        self.adjustSize()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Hide instead of closing: the app keeps running (quit from the menu)."""
        event.ignore()
        self.hide()


class Tray(QObject):
    """The tray icon (or control window) with the app's menu.

    Args:
        provider: The provider selected at start.
        tray_available: Override of ``QSystemTrayIcon.isSystemTrayAvailable()``.
    """

    dictation_toggled = Signal()
    captions_toggled = Signal()
    provider_selected = Signal(str)
    setup_requested = Signal()
    settings_requested = Signal()
    transcript_chosen = Signal(str)
    transcript_insert_requested = Signal(str)
    retry_requested = Signal(str)
    quit_requested = Signal()

    def __init__(self, provider: str, *, tray_available: bool | None = None) -> None:
        super().__init__()
        self.state = "idle"
        self.menu = QMenu()
        self.dictation_action = self._action("Start dictation", self.dictation_toggled.emit)
        self.captions_action = self._action("Start live captions", self.captions_toggled.emit)
        self.menu.addSeparator()
        self.provider_menu = self.menu.addMenu("Provider")
        self.provider_group = QActionGroup(self)
        self.provider_actions: dict[str, QAction] = {}
        for name, title in PROVIDER_TITLES.items():
            action = self.provider_menu.addAction(title)
            action.setCheckable(True)
            action.setActionGroup(self.provider_group)
            action.triggered.connect(lambda _=False, n=name: self.provider_selected.emit(n))
            self.provider_actions[name] = action
        self.recent_menu = self.menu.addMenu("Recent transcripts")
        self._recent_none: QAction | None = None
        self._recent_entries: list[QMenu] = []
        self.set_recent([])
        # The last dictation's audio, transcribed again: after a failure, or wrong words.
        self.retry_menu = self.menu.addMenu("Retry last dictation")
        for name, title in PROVIDER_TITLES.items():
            action = self.retry_menu.addAction(f"With {title}")
            action.triggered.connect(lambda _=False, n=name: self.retry_requested.emit(n))
        self.set_retry_available(False)
        self.setup_action = self._action("Set up Hark…", self.setup_requested.emit)
        self.settings_action = self._action("Settings…", self.settings_requested.emit)
        self.menu.addSeparator()
        self.quit_action = self._action("Quit Hark", self.quit_requested.emit)
        self.set_provider(provider)

        available = (
            QSystemTrayIcon.isSystemTrayAvailable() if tray_available is None else tray_available
        )
        self.icon: QSystemTrayIcon | None = None
        self.window: ControlWindow | None = None
        if available:
            self.icon = QSystemTrayIcon(state_icon("idle"))
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._activated)
        else:
            self.window = ControlWindow(self.menu)
        self.set_state("idle")

    def _action(self, text: str, slot: object) -> QAction:
        action = self.menu.addAction(text)
        action.triggered.connect(lambda _=False: slot())  # type: ignore[operator]
        return action

    def show(self, *, window: bool = True) -> None:
        """Show the tray icon, or the control window where there is no tray.

        Args:
            window: Also show the control window (a first run shows it only once the
                setup window has closed, so nothing covers that).
        """
        if self.icon is not None:
            self.icon.show()
        elif self.window is not None and window:
            self.window.show()

    def hide(self) -> None:
        """Remove the icon / window (at quit)."""
        if self.icon is not None:
            self.icon.hide()
        if self.window is not None:
            self.window.hide()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        # A left click opens the menu too (on Linux many trays send only Trigger).
        if reason == QSystemTrayIcon.ActivationReason.Trigger and self.icon is not None:
            self.menu.popup(self.icon.geometry().center())

    # -- state shown ----------------------------------------------------------------------

    def set_state(self, state: str, message: str = "") -> None:
        """Show ``state`` (one of :data:`STATES`) in the icon and tooltip."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        self.state = state
        tooltip = f"Hark: {STATE_TEXT[state]}"
        if message:
            tooltip += f"\n{message}"
        if self.icon is not None:
            self.icon.setIcon(state_icon(state))
            self.icon.setToolTip(tooltip)
        if self.window is not None:
            self.window.set_status(tooltip.replace("\n", " — "))
            self.window.setWindowIcon(state_icon(state))

    @property
    def tooltip(self) -> str:
        """The current tooltip (or the control window's status text)."""
        if self.icon is not None:
            return self.icon.toolTip()
        return self.window.status.text() if self.window is not None else ""

    def set_dictation_active(self, active: bool) -> None:
        """Label the dictation action for what it will do next."""
        self.dictation_action.setText("Stop dictation" if active else "Start dictation")

    def set_captions_active(self, active: bool) -> None:
        """Label the captions action for what it will do next."""
        self.captions_action.setText("Stop live captions" if active else "Start live captions")

    def set_provider(self, provider: str) -> None:
        """Check ``provider`` in the Provider submenu."""
        action = self.provider_actions.get(provider)
        if action is not None:
            action.setChecked(True)

    def set_retry_available(self, available: bool) -> None:
        """Enable *Retry last dictation* once a dictation's audio is kept."""
        self.retry_menu.setEnabled(available)

    def set_recent(self, transcripts: list[str]) -> None:
        """List recent transcripts, newest first, each with Copy and Insert.

        The entries are made once and then re-used (titles and texts replaced, spare ones
        hidden): the list is refreshed after every dictation, and menus rebuilt each time
        were never all freed (QMenu.clear() leaves addMenu()'s submenus behind, and the
        connected lambdas with them), so memory grew with every dictation.
        """
        if self._recent_none is None:
            self._recent_none = self.recent_menu.addAction("(none yet)")
            self._recent_none.setEnabled(False)
        self._recent_none.setVisible(not transcripts)
        while len(self._recent_entries) < len(transcripts):
            self._recent_entries.append(self._recent_entry())
        for n, entry in enumerate(self._recent_entries):
            shown = n < len(transcripts)
            entry.menuAction().setVisible(shown)
            text = transcripts[n] if shown else ""
            label = text if len(text) <= 60 else text[:57] + "…"
            entry.setTitle(label.replace("&", "&&"))
            entry.setToolTip(text)
            for action in entry.actions():
                action.setData(text)

    def _recent_entry(self) -> QMenu:
        entry = self.recent_menu.addMenu("")
        copy = entry.addAction("Copy")
        copy.triggered.connect(lambda _=False, a=copy: self.transcript_chosen.emit(a.data()))
        insert = entry.addAction("Insert into the focused window")
        insert.triggered.connect(
            lambda _=False, a=insert: self.transcript_insert_requested.emit(a.data())
        )
        return entry

    def notify(self, title: str, message: str, *, error: bool = False) -> None:
        """A desktop notification (a balloon from the tray icon where there is one)."""
        icon = (
            QSystemTrayIcon.MessageIcon.Critical
            if error
            else QSystemTrayIcon.MessageIcon.Information
        )
        if self.icon is not None and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage(title, message, icon, 8000)
        elif self.window is not None:
            self.window.set_status(f"{title}: {message}")
            self.window.show()
