"""Hark's key names (pynput style, see :mod:`app.core.hotkey`) as X11/xkb keysyms.

Shared by the X11 backend (numeric keysyms for ``XGrabKey``) and the Wayland portal
(keysym names in a ``preferred_trigger``, per the XDG shortcuts specification). No
imports beyond the core: the portal must not need python-xlib.
"""

from __future__ import annotations

from app.core.hotkey import Hotkey

# name -> (keysym name as in xkbcommon-keysyms.h without XKB_KEY_, keysym value)
KEYSYMS: dict[str, tuple[str, int]] = {
    "space": ("space", 0x0020),
    "enter": ("Return", 0xFF0D),
    "tab": ("Tab", 0xFF09),
    "backspace": ("BackSpace", 0xFF08),
    "esc": ("Escape", 0xFF1B),
    "insert": ("Insert", 0xFF63),
    "delete": ("Delete", 0xFFFF),
    "home": ("Home", 0xFF50),
    "end": ("End", 0xFF57),
    "page_up": ("Prior", 0xFF55),
    "page_down": ("Next", 0xFF56),
    "up": ("Up", 0xFF52),
    "down": ("Down", 0xFF54),
    "left": ("Left", 0xFF51),
    "right": ("Right", 0xFF53),
    "print_screen": ("Print", 0xFF61),
    "scroll_lock": ("Scroll_Lock", 0xFF14),
    "pause": ("Pause", 0xFF13),
    "caps_lock": ("Caps_Lock", 0xFFE5),
    "num_lock": ("Num_Lock", 0xFF7F),
    "menu": ("Menu", 0xFF67),
    "plus": ("plus", 0x002B),
    "media_play_pause": ("XF86AudioPlay", 0x1008FF14),
    "media_volume_mute": ("XF86AudioMute", 0x1008FF12),
    "media_volume_down": ("XF86AudioLowerVolume", 0x1008FF11),
    "media_volume_up": ("XF86AudioRaiseVolume", 0x1008FF13),
    "media_previous": ("XF86AudioPrev", 0x1008FF16),
    "media_next": ("XF86AudioNext", 0x1008FF17),
    "ctrl_l": ("Control_L", 0xFFE3),
    "ctrl_r": ("Control_R", 0xFFE4),
    "shift_l": ("Shift_L", 0xFFE1),
    "shift_r": ("Shift_R", 0xFFE2),
    "alt_l": ("Alt_L", 0xFFE9),
    "alt_r": ("Alt_R", 0xFFEA),
    "alt_gr": ("ISO_Level3_Shift", 0xFE03),
    "cmd_l": ("Super_L", 0xFFEB),
    "cmd_r": ("Super_R", 0xFFEC),
    **{f"f{n}": (f"F{n}", 0xFFBE + n - 1) for n in range(1, 36)},
}

# Printable ASCII that is not a letter or digit: its keysym name (value = code point).
PUNCTUATION = {
    "!": "exclam",
    '"': "quotedbl",
    "#": "numbersign",
    "$": "dollar",
    "%": "percent",
    "&": "ampersand",
    "'": "apostrophe",
    "(": "parenleft",
    ")": "parenright",
    "*": "asterisk",
    "+": "plus",
    ",": "comma",
    "-": "minus",
    ".": "period",
    "/": "slash",
    ":": "colon",
    ";": "semicolon",
    "<": "less",
    "=": "equal",
    ">": "greater",
    "?": "question",
    "@": "at",
    "[": "bracketleft",
    "\\": "backslash",
    "]": "bracketright",
    "^": "asciicircum",
    "_": "underscore",
    "`": "grave",
    "{": "braceleft",
    "|": "bar",
    "}": "braceright",
    "~": "asciitilde",
}

# Portal (XDG shortcuts spec) modifier names; cmd is the Super/Logo key off macOS.
PORTAL_MODIFIERS = {"ctrl": "CTRL", "alt": "ALT", "shift": "SHIFT", "super": "LOGO", "cmd": "LOGO"}


def keysym(key: str) -> int:
    """The X keysym of a canonical key name (one character or a name in :data:`KEYSYMS`).

    Raises:
        KeyError: Not a key name :func:`app.core.hotkey.parse_hotkey` accepts.
    """
    if len(key) == 1:
        code = ord(key)
        if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
            return code  # Latin-1 keysyms are the code points
        return 0x01000000 | code  # the Unicode keysym range
    return KEYSYMS[key][1]


def keysym_name(key: str) -> str:
    """The xkb keysym name of a canonical key name, e.g. ``comma``, ``F9``, ``U00E9``.

    Raises:
        KeyError: Not a key name :func:`app.core.hotkey.parse_hotkey` accepts.
    """
    if len(key) == 1:
        if key.isascii() and key.isalnum():
            return key
        if key in PUNCTUATION:
            return PUNCTUATION[key]
        return f"U{ord(key):04X}"
    return KEYSYMS[key][0]


def portal_trigger(hotkey: Hotkey) -> str:
    """``hotkey`` as an XDG shortcuts-spec trigger, e.g. ``CTRL+ALT+space``."""
    mods = dict.fromkeys(PORTAL_MODIFIERS[m] for m in hotkey.ordered_modifiers())
    return "+".join([*mods, keysym_name(hotkey.key)])
