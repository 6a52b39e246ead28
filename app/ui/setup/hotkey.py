"""Setup step 3: record the hotkey by pressing it, the activation mode and how text is
inserted. Combinations that type text are refused by the hotkey field; common
shortcuts (copy, paste, switching windows...) get a warning."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QComboBox, QFormLayout, QVBoxLayout, QWidget

from app.core.settings import Settings
from app.ui.setup import texts
from app.ui.widgets.form import ERROR_COLOR, message_label, note_label, show_message
from app.ui.widgets.hotkey_edit import HotkeyEdit
from app.ui.widgets.settings_labels import CHOICE_LABELS, INSERTION_HELP

WARN_COLOR = "#9a6700"


def clash(hotkey: str) -> str:
    """A warning when ``hotkey`` is a shortcut desktops and apps commonly use, else ``""``."""
    what = texts.COMMON_SHORTCUTS.get(hotkey.lower())
    return texts.HOTKEY_CLASH.format(hotkey=hotkey, what=what) if what else ""


def _combo(name: str, current: str, accessible: str) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(accessible)
    for value, label in CHOICE_LABELS[name].items():
        combo.addItem(label, value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    return combo


def _stacked(field: QWidget, note: QWidget) -> QWidget:
    """A field with its note right under it (a hidden note takes no room)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(field)
    layout.addWidget(note)
    box.setFocusProxy(field)
    return box


class HotkeyPage(QWidget):
    """The hotkey field, its warnings, the activation mode and the insertion method.

    Args:
        settings: The settings to start from.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.edit = HotkeyEdit()
        self.edit.setAccessibleName("Dictation hotkey")
        self.edit.set_hotkey(settings.hotkey.hotkey)
        self.warning = message_label()
        self.warning.setAccessibleName("Hotkey warning")
        self.mode = _combo("mode", settings.hotkey.mode, "Activation mode")
        self.insertion = _combo("insertion", settings.insertion, "Insertion method")
        self.insertion_help = note_label()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(note_label(texts.HOTKEY_INTRO, muted=False))
        self.form = form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Hotkey:", _stacked(self.edit, self.warning))
        form.addRow("Activation:", self.mode)
        form.addRow("Insert text by:", _stacked(self.insertion, self.insertion_help))
        layout.addLayout(form)
        layout.addStretch(1)

        self.edit.hotkey_changed.connect(self._on_hotkey)
        self.edit.refused.connect(self._on_refused)
        self.insertion.currentIndexChanged.connect(self._update_help)
        self._update_help()
        self._on_hotkey(self.edit.hotkey())

    def hotkey(self) -> str:
        """The recorded hotkey (``ctrl+alt+space``)."""
        return self.edit.hotkey()

    def settings(self, base: Settings) -> Settings:
        """``base`` with this page's choices."""
        hotkey = dataclasses.replace(
            base.hotkey, hotkey=self.hotkey(), mode=str(self.mode.currentData())
        )
        return base.replace(hotkey=hotkey, insertion=str(self.insertion.currentData()))

    @Slot(str)
    def _on_hotkey(self, hotkey: str) -> None:
        show_message(self.warning, clash(hotkey), WARN_COLOR)
        self.form.invalidate()  # QFormLayout keeps a stale row height otherwise

    @Slot(str)
    def _on_refused(self, why: str) -> None:
        show_message(self.warning, why, ERROR_COLOR)
        self.form.invalidate()

    @Slot()
    def _update_help(self) -> None:
        self.insertion_help.setText(INSERTION_HELP.get(str(self.insertion.currentData()), ""))
