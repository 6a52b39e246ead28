"""X keysyms, the characters they type, and keyboard mappings (pure; no X connection).

Keysyms 0x20-0x7e and 0xa0-0xff are Latin-1 code points; ``0x01000000 + code point``
is the Unicode keysym for any other character (emoji included), which X servers,
xkbcommon (Qt, GTK 4) and Xlib clients all understand. Legacy keysyms (``EuroSign``,
``Cyrillic_a``...) on the user's layout are read through libxkbcommon's
``xkb_keysym_to_utf32`` when that library is present (it is wherever Qt runs on X11),
so characters on a Russian or Greek layout are typed with their own keys.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

UNICODE_KEYSYM = 0x01000000
RETURN = 0xFF0D
TAB = 0xFF09
# Keypad keysyms type digits only with NumLock, and dead keys type nothing by themselves.
_KEYPAD = range(0xFF80, 0xFFBE)
_DEAD = range(0xFE50, 0xFE94)


def keystrokes(text: str) -> Iterator[str]:
    """The characters of ``text`` to type, with CR LF and CR as one newline.

    Control characters other than newline and tab are dropped (nothing types them).
    """
    for char in text.replace("\r\n", "\n").replace("\r", "\n"):
        if char in "\n\t" or (ord(char) >= 0x20 and ord(char) != 0x7F):
            yield char


def char_to_keysym(char: str) -> int:
    """The keysym that types ``char`` (Return for a newline, Tab for a tab)."""
    if char == "\n":
        return RETURN
    if char == "\t":
        return TAB
    code = ord(char)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code
    return UNICODE_KEYSYM + code


@functools.cache
def _xkb_to_utf32() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("xkbcommon")
    if name is None:
        return None
    try:
        function = ctypes.CDLL(name).xkb_keysym_to_utf32
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_uint32]
    function.restype = ctypes.c_uint32
    return function  # type: ignore[no-any-return, unused-ignore]


def keysym_to_char(keysym: int) -> str | None:
    """The printable character ``keysym`` types, or ``None`` (function keys, dead keys...)."""
    if keysym == RETURN:
        return "\n"
    if keysym == TAB:
        return "\t"
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return chr(keysym)
    if UNICODE_KEYSYM + 0xA0 <= keysym <= UNICODE_KEYSYM + 0x10FFFF:
        return chr(keysym - UNICODE_KEYSYM)
    if keysym in _KEYPAD or keysym in _DEAD or keysym <= 0 or keysym > 0xFFFFFF:
        return None
    to_utf32 = _xkb_to_utf32()
    if to_utf32 is None:
        return None
    code = int(to_utf32(keysym))
    if code < 0x20 or code == 0x7F or code > 0x10FFFF:
        return None
    return chr(code)


@dataclass
class Layout:
    """A core keyboard mapping, as read at the start of one typing or paste.

    Attributes:
        min_keycode: The keycode of ``rows[0]``.
        rows: The keysyms of each keycode (XKB's core view: group 1 levels 1-2, group 2
            levels 1-2, then further levels).
        group: The active XKB group (0-3).
        caps_lock: Whether Caps Lock is on.
        direct: Character -> (keycode, needs Shift) in the active group.
        spare: Keycodes with no keysyms at all, highest first, to borrow.
    """

    min_keycode: int
    rows: list[list[int]]
    group: int
    caps_lock: bool
    direct: dict[str, tuple[int, bool]] = field(default_factory=dict)
    spare: list[int] = field(default_factory=list)

    def keycode_of(self, keysym: int) -> int | None:
        """The first keycode with ``keysym`` at level 1 of group 1 or 2."""
        for offset, row in enumerate(self.rows):
            if keysym in row[0:1] or keysym in row[2:3]:
                return self.min_keycode + offset
        return None


LOCK_MASK = 1 << 1


def read_layout(min_keycode: int, rows: list[list[int]], state: int, *, spare: int) -> Layout:
    """A :class:`Layout` from a core mapping and the core state mask (bits 13-14: group).

    Args:
        min_keycode: The first keycode of ``rows``.
        rows: The keysyms per keycode.
        state: The modifier and group state, as ``QueryPointer`` reports it.
        spare: How many unused keycodes to offer for borrowing.
    """
    layout = Layout(min_keycode, rows, group=(state >> 13) & 3, caps_lock=bool(state & LOCK_MASK))
    if layout.group <= 1:  # the core mapping describes groups 1 and 2 only
        for level in (0, 1):  # unshifted keys first
            column = 2 * layout.group + level
            for offset, row in enumerate(rows):
                keysym = row[column] if column < len(row) else 0
                char = keysym_to_char(keysym) if keysym else None
                if char is not None and char not in layout.direct:
                    layout.direct[char] = (min_keycode + offset, level == 1)
    # Keycode 8 exists in the protocol but many clients ignore it.
    unused = [min_keycode + i for i, row in enumerate(rows) if not any(row)]
    layout.spare = [code for code in reversed(unused) if code > 8][:spare]
    return layout
