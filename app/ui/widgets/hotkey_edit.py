"""A "press the keys" field that records a hotkey as ``ctrl+alt+space``.

The stored format is lowercase names joined by ``+``: modifiers first, in the order
``ctrl``, ``alt``, ``shift``, ``super`` (``cmd`` on macOS), then one key. Key names
follow pynput's spelling (``space``, ``enter``, ``page_up``, ``f9``; letters and
digits as themselves, ``plus`` for ``+``), so a hotkey backend can parse them without Qt.

On macOS Qt reports the Command key as ``ControlModifier`` and Control as
``MetaModifier``; they are stored as ``cmd`` and ``ctrl``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QLineEdit, QWidget

from app.ui.widgets.fields import Callback, FieldEditor

Key = Qt.Key
Mod = Qt.KeyboardModifier

MODIFIER_KEYS = frozenset(
    {
        Key.Key_Control,
        Key.Key_Shift,
        Key.Key_Alt,
        Key.Key_AltGr,
        Key.Key_Meta,
        Key.Key_Super_L,
        Key.Key_Super_R,
        Key.Key_Hyper_L,
        Key.Key_Hyper_R,
    }
)

KEY_NAMES: dict[Key, str] = {
    Key.Key_Space: "space",
    Key.Key_Return: "enter",
    Key.Key_Enter: "enter",
    Key.Key_Tab: "tab",
    Key.Key_Backtab: "tab",
    Key.Key_Backspace: "backspace",
    Key.Key_Escape: "esc",
    Key.Key_Insert: "insert",
    Key.Key_Delete: "delete",
    Key.Key_Home: "home",
    Key.Key_End: "end",
    Key.Key_PageUp: "page_up",
    Key.Key_PageDown: "page_down",
    Key.Key_Up: "up",
    Key.Key_Down: "down",
    Key.Key_Left: "left",
    Key.Key_Right: "right",
    Key.Key_Print: "print_screen",
    Key.Key_ScrollLock: "scroll_lock",
    Key.Key_Pause: "pause",
    Key.Key_CapsLock: "caps_lock",
    Key.Key_NumLock: "num_lock",
    Key.Key_Menu: "menu",
    Key.Key_Plus: "plus",  # "ctrl++" could not be split on "+"
}

# Keys that do not type anything, so they may be a hotkey without Ctrl, Alt or Super.
BARE_KEYS = frozenset(
    {f"f{n}" for n in range(1, 36)} | {"pause", "scroll_lock", "print_screen", "insert", "menu"}
)


def modifier_names(modifiers: Mod, *, mac: bool | None = None) -> list[str]:
    """The stored names of ``modifiers``, in canonical order."""
    on_mac = sys.platform == "darwin" if mac is None else mac
    pairs = [
        (Mod.ControlModifier, "cmd" if on_mac else "ctrl"),
        (Mod.AltModifier, "alt"),
        (Mod.ShiftModifier, "shift"),
        (Mod.MetaModifier, "ctrl" if on_mac else "super"),
    ]
    names = [name for flag, name in pairs if modifiers & flag]
    if on_mac and "ctrl" in names:  # canonical order: ctrl first, cmd last
        names = ["ctrl"] + [n for n in names if n != "ctrl"]
    return names


def key_name(key: int) -> str | None:
    """The stored name of a non-modifier key, or ``None`` when Qt does not know it."""
    try:
        qkey = Key(key)
    except ValueError:
        return None
    if qkey in KEY_NAMES:
        return KEY_NAMES[qkey]
    if Key.Key_F1.value <= key <= Key.Key_F35.value:
        return f"f{key - Key.Key_F1.value + 1}"
    if qkey == Key.Key_unknown or qkey in MODIFIER_KEYS:
        return None
    text = QKeySequence(key).toString(QKeySequence.SequenceFormat.PortableText)
    return text.lower().replace(" ", "_") or None


def format_hotkey(key: int, modifiers: Mod, *, mac: bool | None = None) -> tuple[str, str]:
    """The hotkey for ``key`` pressed with ``modifiers``.

    Returns:
        ``(hotkey, "")``, or ``("", why)`` when the combination is refused: a key
        that types text needs Ctrl, Alt or Super, or the hotkey would fire while typing.
    """
    name = key_name(key)
    if name is None:
        return "", "Hark does not know this key; try another one."
    on_mac = sys.platform == "darwin" if mac is None else mac
    mods = modifier_names(modifiers, mac=on_mac)
    if name not in BARE_KEYS and not set(mods) - {"shift"}:
        held = "Cmd, Option or Ctrl" if on_mac else "Ctrl, Alt or Super"
        shown = "+".join([*mods, name])
        return "", f"Hold {held} as well: {shown} alone would fire while you type."
    return "+".join([*mods, name]), ""


def _passes_through(event: QKeyEvent) -> bool:
    """Tab and Shift+Tab move the focus, Esc cancels the dialog and Enter presses its
    default button: never captured (alone they could not be a hotkey anyway)."""
    mods = event.modifiers() & ~(Mod.KeypadModifier | Mod.ShiftModifier)
    if mods:
        return False
    return event.key() in (
        Key.Key_Tab, Key.Key_Backtab, Key.Key_Escape, Key.Key_Return, Key.Key_Enter
    )  # fmt: skip


class HotkeyEdit(QLineEdit):
    """Shows a hotkey; when focused, the next key combination pressed replaces it.

    Tab and Shift+Tab still move the focus, Esc still closes the dialog and Enter still
    presses its default button, so the field never traps the keyboard. Modifier presses
    alone wait for the main key.

    Signals:
        hotkey_changed(str): A combination was recorded (``ctrl+alt+space``).
        refused(str): A combination was pressed and refused; the argument says why.
    """

    hotkey_changed = Signal(str)
    refused = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
        self.setPlaceholderText("Press a key combination")
        self.setAccessibleName("Hotkey")
        self._hotkey = ""

    def hotkey(self) -> str:
        """The recorded hotkey."""
        return self._hotkey

    def set_hotkey(self, hotkey: str) -> None:
        """Show ``hotkey`` without emitting :attr:`hotkey_changed`."""
        self._hotkey = hotkey
        self.setText(hotkey)

    def event(self, event: QEvent) -> bool:
        """Take key presses before the dialog's shortcuts and mnemonics see them."""
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and not _passes_through(event)
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Record the combination, or report why it was refused."""
        if _passes_through(event):
            event.ignore()
            return
        event.accept()
        if event.isAutoRepeat() or event.key() in MODIFIER_KEYS:
            return
        hotkey, why = format_hotkey(event.key(), event.modifiers())
        if not hotkey:
            self.refused.emit(why)
            return
        self.set_hotkey(hotkey)
        self.hotkey_changed.emit(hotkey)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        """Swallow releases so nothing else reacts to the captured keys."""
        event.accept()


class HotkeyEditor(FieldEditor):
    """A :class:`HotkeyEdit` as a form field; refusals show as the field's error."""

    def __init__(self) -> None:
        self.edit = HotkeyEdit()
        super().__init__(self.edit)

    def value(self) -> str:
        """The recorded hotkey."""
        return self.edit.hotkey()

    def set_value(self, value: Any) -> None:
        """Show ``value``."""
        self.edit.set_hotkey(str(value))

    def on_changed(self, callback: Callback) -> None:
        """Notify when a combination is recorded."""
        self.edit.hotkey_changed.connect(lambda _hotkey: callback())

    def bind_problem(self, callback: Callable[[str], None]) -> None:
        """Report refused combinations through ``callback``."""
        self.edit.refused.connect(callback)
