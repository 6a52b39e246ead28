"""Hotkey strings: parsing, formatting, refusals; key-name tables; the backend choice."""

from __future__ import annotations

import logging

import pytest

from app.adapters.hotkeys import choose_backend, keynames
from app.core.errors import SettingError
from app.core.hotkey import (
    MODIFIER_KEYS,
    NAMED_KEYS,
    Hotkey,
    describe_hotkey,
    format_hotkey,
    parse_hotkey,
)


@pytest.mark.parametrize(
    ("text", "modifiers", "key"),
    [
        ("ctrl+alt+space", {"ctrl", "alt"}, "space"),
        ("f9", set(), "f9"),
        ("ctrl+shift+d", {"ctrl", "shift"}, "d"),
        ("super+page_up", {"super"}, "page_up"),
        ("ctrl+cmd+alt+shift+k", {"ctrl", "cmd", "alt", "shift"}, "k"),
        ("ctrl+plus", {"ctrl"}, "plus"),
        ("alt+,", {"alt"}, ","),
        ("ctrl+alt+é", {"ctrl", "alt"}, "é"),
        ("ctrl_r", set(), "ctrl_r"),
        ("media_play_pause", set(), "media_play_pause"),
        ("f35", set(), "f35"),
    ],
)
def test_parse(text: str, modifiers: set[str], key: str) -> None:
    assert parse_hotkey(text) == Hotkey(frozenset(modifiers), key)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Ctrl+Alt+Space", "ctrl+alt+space"),
        (" ctrl + alt + space ", "ctrl+alt+space"),
        ("space+alt+ctrl", "ctrl+alt+space"),  # any order; canonical order out
        ("control+option+return", "ctrl+alt+enter"),
        ("win+escape", "super+esc"),
        ("command+shift+A", "shift+cmd+a"),
        ("ctrl+pgup", "ctrl+page_up"),
        ("ctrl+alt+volume_up", "ctrl+alt+media_volume_up"),
        ("super_r", "cmd_r"),
        ("ctrl+alt+F9", "ctrl+alt+f9"),
    ],
)
def test_aliases_and_case_format_canonically(text: str, canonical: str) -> None:
    assert format_hotkey(parse_hotkey(text)) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "ctrl+alt+space",
        "f9",
        "ctrl+shift+alt+super+cmd+x",  # not canonical order: still round-trips as a value
        "alt+shift+plus",
        "ctrl+alt+/",
        "alt_gr",
        *sorted(NAMED_KEYS),
    ],
)
def test_round_trip(text: str) -> None:
    hotkey = parse_hotkey(text)
    assert parse_hotkey(format_hotkey(hotkey)) == hotkey
    assert str(hotkey) == format_hotkey(hotkey)


def test_canonical_strings_are_fixed_points() -> None:
    for text in ("ctrl+alt+space", "ctrl+alt+shift+super+cmd+f9", "shift+,", "page_down"):
        assert format_hotkey(parse_hotkey(text)) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("ctrl++space", "has an empty part; write the + key as plus"),
        ("ctrl+alt+", "has an empty part"),
        ("ctrl+foo", "unknown key 'foo' in 'ctrl+foo'"),
        ("ctrl+alt+f36", "unknown key 'f36'"),
        ("ctrl+\t", "has an empty part"),
        ("ctrl+ctrl+space", "names ctrl twice"),
        ("ctrl+control+space", "names ctrl twice"),
        ("ctrl+alt", "has no key after the modifiers"),
        ("shift", "has no key"),
        ("a+b", "names two keys (a and b)"),
        ("ctrl+space+enter", "names two keys (space and enter)"),
    ],
)
def test_refusals_are_one_line_setting_errors(text: str, expected: str) -> None:
    with pytest.raises(SettingError) as caught:
        parse_hotkey(text)
    assert caught.value.name == "hotkey"
    assert expected in caught.value.message
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("hotkey: ")


def test_non_printable_character_is_refused() -> None:
    with pytest.raises(SettingError, match="unknown key"):
        parse_hotkey("ctrl+\x07")


def test_modifier_only_and_labels() -> None:
    assert parse_hotkey("ctrl_r").modifier_only
    assert parse_hotkey("shift+alt_gr").modifier_only
    assert not parse_hotkey("ctrl+alt+space").modifier_only
    assert describe_hotkey(parse_hotkey("alt+ctrl+space")) == "Ctrl+Alt+Space"
    assert describe_hotkey(parse_hotkey("ctrl+page_up")) == "Ctrl+Page Up"
    assert describe_hotkey(parse_hotkey("ctrl+plus")) == "Ctrl++"
    assert describe_hotkey(parse_hotkey("f9")) == "F9"


def test_settings_default_hotkey_parses() -> None:
    from app.core.settings import HotkeySettings

    assert parse_hotkey(HotkeySettings().hotkey) == Hotkey(frozenset({"ctrl", "alt"}), "space")


# -- key-name tables ---------------------------------------------------------------------


def test_every_named_key_has_an_x_keysym() -> None:
    assert set(keynames.KEYSYMS) == set(NAMED_KEYS)


def test_x_keysym_values_match_their_names() -> None:
    xk = pytest.importorskip("Xlib.XK")
    xk.load_keysym_group("xf86")
    xk.load_keysym_group("xkb")  # ISO_Level3_Shift
    for key, (name, value) in keynames.KEYSYMS.items():
        # python-xlib spells XF86AudioPlay (the xkb name) as XF86_AudioPlay
        assert xk.string_to_keysym(name.replace("XF86", "XF86_")) == value, key


def test_character_keysyms() -> None:
    assert keynames.keysym("a") == 0x61
    assert keynames.keysym(",") == 0x2C
    assert keynames.keysym("é") == 0xE9  # Latin-1: the code point
    assert keynames.keysym("я") == 0x01000000 | ord("я")
    assert keynames.keysym_name("a") == "a"
    assert keynames.keysym_name(",") == "comma"
    assert keynames.keysym_name("я") == "U044F"


def test_portal_triggers_follow_the_shortcuts_spec() -> None:
    assert keynames.portal_trigger(parse_hotkey("ctrl+alt+space")) == "CTRL+ALT+space"
    assert keynames.portal_trigger(parse_hotkey("super+shift+f9")) == "SHIFT+LOGO+F9"
    assert keynames.portal_trigger(parse_hotkey("super+cmd+page_up")) == "LOGO+Prior"
    assert keynames.portal_trigger(parse_hotkey("alt+/")) == "ALT+slash"


def test_windows_and_macos_tables_cover_the_keys() -> None:
    from app.adapters.hotkeys import macos, windows

    plain = NAMED_KEYS - MODIFIER_KEYS
    win_missing = {k for k in plain if k not in windows.VIRTUAL_KEYS}
    assert win_missing == {f"f{n}" for n in range(25, 36)}  # Windows stops at F24
    mac_missing = {k for k in plain if k not in macos.KEY_CODES}
    # Carbon has no code for these, or they are characters looked up on the layout
    assert mac_missing == {f"f{n}" for n in range(21, 36)} | {
        "print_screen",
        "scroll_lock",
        "pause",
        "num_lock",
        "menu",
        "plus",
        *(k for k in plain if k.startswith("media_")),
    }
    assert len(set(macos.US_CHARACTERS.values())) == len(macos.US_CHARACTERS)


# -- choosing a backend -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "platform", "name"),
    [
        ({"DISPLAY": ":0"}, "linux", "x11"),
        ({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, "linux", "x11"),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", "wayland-portal"),
        ({"XDG_SESSION_TYPE": "wayland"}, "linux", "wayland-portal"),
        ({}, "win32", "windows"),
        ({}, "darwin", "macos"),
        ({"WAYLAND_DISPLAY": "w", "HARK_HOTKEY_BACKEND": "x11"}, "linux", "x11"),
    ],
)
def test_choose_backend(environ: dict[str, str], platform: str, name: str) -> None:
    backend = choose_backend(environ, platform)
    assert backend is not None
    assert backend.name == name


@pytest.mark.parametrize(
    ("environ", "reason"),
    [
        ({}, "no X11 or Wayland display"),
        ({"DISPLAY": ":0", "HARK_HOTKEY_BACKEND": "none"}, "HARK_HOTKEY_BACKEND=none"),
        ({"HARK_HOTKEY_BACKEND": "evdev"}, "unknown HARK_HOTKEY_BACKEND"),
    ],
)
def test_no_backend_is_logged_with_the_fallback(
    environ: dict[str, str], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.adapters.hotkeys.factory"):
        assert choose_backend(environ, "linux") is None
    assert reason in caplog.text
    assert "hark ptt press" in caplog.text


def test_every_backend_start_opens_with_the_same_checks() -> None:
    from app.adapters.hotkeys.base import HotkeyError, check_start

    check_start(parse_hotkey("ctrl+space"), started=False, backend="X11", registrar="X11")
    with pytest.raises(RuntimeError, match="the portal hotkey backend is already started"):
        check_start(parse_hotkey("ctrl+space"), started=True, backend="portal", registrar="p")
    with pytest.raises(HotkeyError, match="alone cannot be a hotkey with RegisterHotKey"):
        check_start(parse_hotkey("ctrl_r"), started=False, backend="W", registrar="RegisterHotKey")
