"""Keyboard backends without a desktop: keysyms, layouts, event lists and the choice.

The X11 backend really types in tests/x11/test_insertion_x11.py; the Windows and
macOS backends cannot run here, so only their pure parts are checked.
"""

from __future__ import annotations

import ctypes.util

import pytest

from app.adapters.keyboard import UnavailableKeyboard, choose_keyboard, session_kind
from app.adapters.keyboard.keysyms import (
    RETURN,
    char_to_keysym,
    keystrokes,
    keysym_to_char,
    read_layout,
)
from app.adapters.keyboard.macos import utf16_chunks
from app.adapters.keyboard.wayland import WaylandKeyboard
from app.adapters.keyboard.windows import KEYEVENTF_KEYUP, KEYEVENTF_UNICODE, VK_RETURN, text_inputs


def test_keystrokes_normalise_newlines_and_drop_control_characters() -> None:
    assert "".join(keystrokes("a\r\nb\rc\td\x00e\x7f")) == "a\nb\nc\tde"


@pytest.mark.parametrize(
    ("char", "keysym"),
    [("a", 0x61), ("é", 0xE9), ("€", 0x10020AC), ("中", 0x1004E2D), ("😀", 0x101F600)],
)
def test_keysyms_round_trip(char: str, keysym: int) -> None:
    assert char_to_keysym(char) == keysym
    assert keysym_to_char(keysym) == char


def test_special_keysyms() -> None:
    assert char_to_keysym("\n") == RETURN
    assert keysym_to_char(0xFF8D) is None  # KP_Enter: only with NumLock semantics
    assert keysym_to_char(0xFE51) is None  # dead_acute types nothing by itself
    assert keysym_to_char(0xFFBE) is None  # F1


@pytest.mark.skipif(ctypes.util.find_library("xkbcommon") is None, reason="no libxkbcommon")
def test_legacy_keysyms_through_xkbcommon() -> None:
    assert keysym_to_char(0x20AC) == "€"  # EuroSign
    assert keysym_to_char(0x6C1) == "а"  # Cyrillic_a  # noqa: RUF001


def test_layout_uses_the_active_group_and_finds_spare_keycodes() -> None:
    rows = [
        [0x61, 0x41, 0x6C6, 0x6E6],  # a A / Cyrillic_ef Cyrillic_EF
        [0, 0, 0, 0],
        [0x31, 0x21, 0x31, 0x22],  # 1 ! / 1 "
        [0, 0, 0, 0],
    ]
    us = read_layout(9, rows, state=0, spare=8)
    assert us.direct["a"] == (9, False)
    assert us.direct["A"] == (9, True)
    assert us.direct["!"] == (11, True)
    assert us.spare == [12, 10]
    ru = read_layout(9, rows, state=1 << 13, spare=1)
    assert ru.direct["ф"] == (9, False)
    assert "a" not in ru.direct
    assert ru.spare == [12]
    assert read_layout(9, rows, state=2, spare=1).caps_lock


def test_windows_events_use_unicode_and_surrogate_pairs() -> None:
    events = text_inputs("é😀\n")
    keys = [(e.u.ki.wVk, e.u.ki.wScan, e.u.ki.dwFlags) for e in events]
    up = KEYEVENTF_UNICODE | KEYEVENTF_KEYUP
    assert keys == [
        (0, 0xE9, KEYEVENTF_UNICODE),
        (0, 0xE9, up),
        (0, 0xD83D, KEYEVENTF_UNICODE),
        (0, 0xDE00, KEYEVENTF_UNICODE),
        (0, 0xD83D, up),
        (0, 0xDE00, up),
        (VK_RETURN, 0, 0),
        (VK_RETURN, 0, KEYEVENTF_KEYUP),
    ]


def test_macos_chunks_stay_under_20_utf16_units_without_splitting_emoji() -> None:
    text = "a" * 19 + "😀" + "b" * 25
    chunks = utf16_chunks(text)
    assert "".join(chunks) == text
    assert chunks[0] == "a" * 19  # the emoji would make it 21 units
    assert all(len(c.encode("utf-16-le")) // 2 <= 20 for c in chunks)


@pytest.mark.parametrize(
    ("platform", "env", "kind"),
    [
        ("win32", {}, "windows"),
        ("darwin", {}, "macos"),
        ("linux", {"DISPLAY": ":0"}, "x11"),
        ("linux", {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "wayland"),
        ("linux", {"WAYLAND_DISPLAY": "w", "DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, "x11"),
        ("linux", {}, "none"),
    ],
)
def test_session_kind(platform: str, env: dict[str, str], kind: str) -> None:
    assert session_kind(platform, env) == kind


async def test_without_a_session_the_keyboard_says_why() -> None:
    keyboard = choose_keyboard(platform="linux", environ={})
    assert isinstance(keyboard, UnavailableKeyboard)
    assert keyboard.active_window() is None
    with pytest.raises(RuntimeError, match="No desktop session"):
        await keyboard.type_text("x")


def test_unreachable_display_gives_an_unavailable_keyboard() -> None:
    keyboard = choose_keyboard(platform="linux", environ={"DISPLAY": "no-such-display"})
    assert isinstance(keyboard, UnavailableKeyboard)
    assert keyboard.reason


def test_wayland_without_tools_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RuntimeError, match="wtype"):
        WaylandKeyboard()
    keyboard = choose_keyboard(platform="linux", environ={"WAYLAND_DISPLAY": "wayland-0"})
    assert isinstance(keyboard, UnavailableKeyboard)
