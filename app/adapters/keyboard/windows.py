"""The ``Keyboard`` port on Windows: ``SendInput`` through ctypes.

Text is typed with ``KEYEVENTF_UNICODE`` (the UTF-16 code unit in ``wScan``), which
does not depend on the keyboard layout; characters outside the BMP (emoji) are sent
as their two surrogate units (both key-downs, then both key-ups, as AutoHotkey does).
Newline and tab are the Return and Tab keys. Paste is Ctrl+V by virtual key
(``VK_CONTROL`` + ``'V'``), which applications map through the active layout.

``SendInput`` cannot reach windows of elevated (administrator) processes from a
normal one (UIPI), and it says nothing when that happens (neither the return value
nor ``GetLastError``); a blocked call on another desktop (the lock screen, a UAC
prompt) does return fewer events, which raises here.

Importable everywhere (the Windows calls are bound only on Windows); not verified
here (no Windows in the test environment).
"""

from __future__ import annotations

import asyncio
import ctypes
import sys
from typing import Any

INPUT_KEYBOARD = 1
KEYEVENTF_KEYUP = 0x0002
KEYEVENTF_UNICODE = 0x0004
VK_TAB, VK_RETURN, VK_SHIFT, VK_CONTROL, VK_MENU = 0x09, 0x0D, 0x10, 0x11, 0x12
VK_LWIN, VK_RWIN, VK_V = 0x5B, 0x5C, 0x56
CHUNK_CHARS = 64  # characters per SendInput call; the loop runs between calls
CHUNK_PAUSE_S = 0.005

WORD, DWORD, LONG = ctypes.c_uint16, ctypes.c_uint32, ctypes.c_int32
ULONG_PTR = ctypes.c_size_t


class KEYBDINPUT(ctypes.Structure):
    """``KEYBDINPUT``."""

    _fields_ = (
        ("wVk", WORD),
        ("wScan", WORD),
        ("dwFlags", DWORD),
        ("time", DWORD),
        ("dwExtraInfo", ULONG_PTR),
    )


class MOUSEINPUT(ctypes.Structure):
    """``MOUSEINPUT`` (only for the size of the union)."""

    _fields_ = (
        ("dx", LONG),
        ("dy", LONG),
        ("mouseData", DWORD),
        ("dwFlags", DWORD),
        ("time", DWORD),
        ("dwExtraInfo", ULONG_PTR),
    )


class _INPUTUNION(ctypes.Union):
    _fields_ = (("mi", MOUSEINPUT), ("ki", KEYBDINPUT))


class INPUT(ctypes.Structure):
    """``INPUT`` (keyboard events only)."""

    _fields_ = (("type", DWORD), ("u", _INPUTUNION))


_user32: Any = None
if sys.platform == "win32":
    _user32 = ctypes.WinDLL("user32", use_last_error=True)
    _user32.SendInput.argtypes = (ctypes.c_uint, ctypes.POINTER(INPUT), ctypes.c_int)
    _user32.SendInput.restype = ctypes.c_uint
    _user32.GetForegroundWindow.restype = ctypes.c_void_p
    _user32.GetAsyncKeyState.argtypes = (ctypes.c_int,)
    _user32.GetAsyncKeyState.restype = ctypes.c_short


def _key(vk: int = 0, scan: int = 0, flags: int = 0) -> INPUT:
    return INPUT(INPUT_KEYBOARD, _INPUTUNION(ki=KEYBDINPUT(vk, scan, flags, 0, 0)))


def text_inputs(text: str) -> list[INPUT]:
    """The key events that type ``text`` (pure; used by :meth:`WindowsKeyboard.type_text`)."""
    events: list[INPUT] = []
    for char in text.replace("\r\n", "\n").replace("\r", "\n"):
        if char in "\n\t":
            vk = VK_RETURN if char == "\n" else VK_TAB
            events += [_key(vk), _key(vk, flags=KEYEVENTF_KEYUP)]
            continue
        units = char.encode("utf-16-le")
        codes = [int.from_bytes(units[i : i + 2], "little") for i in range(0, len(units), 2)]
        events += [_key(scan=code, flags=KEYEVENTF_UNICODE) for code in codes]
        events += [_key(scan=code, flags=KEYEVENTF_UNICODE | KEYEVENTF_KEYUP) for code in codes]
    return events


class WindowsKeyboard:
    """``SendInput`` typing and paste (see the module docstring).

    Raises:
        RuntimeError: When constructed anywhere but Windows.
    """

    name = "windows"

    def __init__(self) -> None:
        if _user32 is None:
            raise RuntimeError("The Windows keyboard works only on Windows.")

    def active_window(self) -> str | None:
        """The foreground window's handle as ``0x...``, or ``None``."""
        handle = _user32.GetForegroundWindow()
        return f"0x{handle:x}" if handle else None

    def modifiers_down(self) -> bool:
        """Whether Shift, Ctrl, Alt or a Windows key is held."""
        keys = (VK_SHIFT, VK_CONTROL, VK_MENU, VK_LWIN, VK_RWIN)
        return any(_user32.GetAsyncKeyState(vk) & 0x8000 for vk in keys)

    async def paste(self) -> None:
        """Send Ctrl+V."""
        self._send(
            [
                _key(VK_CONTROL),
                _key(VK_V),
                _key(VK_V, flags=KEYEVENTF_KEYUP),
                _key(VK_CONTROL, flags=KEYEVENTF_KEYUP),
            ]
        )

    async def type_text(self, text: str) -> None:
        """Type ``text`` as Unicode key events, a chunk at a time."""
        text = text.replace("\r\n", "\n")  # never split a CR LF across chunks
        for start in range(0, len(text), CHUNK_CHARS):
            if start:
                await asyncio.sleep(CHUNK_PAUSE_S)
            self._send(text_inputs(text[start : start + CHUNK_CHARS]))

    def _send(self, events: list[INPUT]) -> None:
        if not events:
            return
        array = (INPUT * len(events))(*events)
        sent = _user32.SendInput(len(events), array, ctypes.sizeof(INPUT))
        if sent != len(events):
            error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
            raise OSError(
                error, f"Windows accepted {sent} of {len(events)} key events (input blocked?)"
            )
