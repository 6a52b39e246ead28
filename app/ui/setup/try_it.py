"""Setup step 4: a text box to dictate into with the real hotkey and provider.

The controller delivers a finished transcript straight into this box while it has the
focus (see :meth:`TryPage.accepts_dictation`), so it works before any typing
permission is granted and whatever the insertion method.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from app.core.errors import SettingError
from app.core.hotkey import describe_hotkey, parse_hotkey
from app.ui.setup import texts
from app.ui.widgets.form import OK_COLOR, note_label, show_message


def hotkey_text(hotkey: str) -> str:
    """``Ctrl+Alt+Space`` for ``ctrl+alt+space`` (as typed when it cannot be parsed)."""
    try:
        return describe_hotkey(parse_hotkey(hotkey))
    except SettingError:
        return hotkey


class TryPage(QWidget):
    """Instructions, the box, and a Start/Stop button for desktops without a hotkey.

    Signals:
        dictation_toggled(): Start/Stop was pressed (like the tray's dictation item).
    """

    dictation_toggled = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.intro = note_label(muted=False)
        self.box = QPlainTextEdit()
        self.box.setAccessibleName("Try dictation here")
        self.box.setPlaceholderText(texts.TRY_PLACEHOLDER)
        self.box.setTabChangesFocus(True)
        self.button = QPushButton("Start")
        self.button.setAccessibleName("Start or stop dictation")
        # Clicking it must leave the focus in the box, where the words go.
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.button.clicked.connect(self._on_button)
        self.status = note_label()
        self.status.setAccessibleName("Dictation status")
        row = QHBoxLayout()
        row.addWidget(self.button)
        row.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.intro)
        layout.addWidget(self.box, 1)
        layout.addLayout(row)
        self.set_hotkey("ctrl+alt+space")

    def set_hotkey(self, hotkey: str) -> None:
        """Name ``hotkey`` in the instructions."""
        self.intro.setText(texts.TRY_INTRO.format(hotkey=hotkey_text(hotkey)))

    def focus_box(self) -> None:
        """Put the keyboard focus in the box."""
        self.box.setFocus(Qt.FocusReason.OtherFocusReason)

    def accepts_dictation(self) -> bool:
        """Whether dictated text should land here: shown, and the box has the focus."""
        return self.isVisible() and self.box.hasFocus()

    def insert(self, text: str) -> None:
        """Insert a finished transcript at the cursor (the dictation adds the spacing)."""
        self.box.insertPlainText(text)
        show_message(self.status, texts.TRY_DONE, OK_COLOR)

    def set_active(self, active: bool) -> None:
        """Show whether dictation is recording."""
        self.button.setText("Stop" if active else "Start")
        if active:
            show_message(self.status, texts.TRY_STARTED, None)

    def _on_button(self) -> None:
        self.focus_box()
        self.dictation_toggled.emit()
