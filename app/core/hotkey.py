"""Hotkey strings such as ``ctrl+alt+space``: parsing, validation and formatting.

The stored format (written by the settings widget ``app.ui.widgets.hotkey_edit``) is
lowercase names joined by ``+``: modifiers, then one key. Modifiers are ``ctrl``,
``alt``, ``shift``, ``super`` and ``cmd`` (macOS Command; the other platforms read it
as ``super``). Key names follow pynput's spelling (``space``, ``enter``, ``page_up``,
``f9``, ``media_play_pause``); letters, digits and punctuation are written as
themselves, except ``+``, which is ``plus``. A few common alternatives (``return``,
``escape``, ``pgup``, ``control``, ``win``...) are accepted and formatted back in the
canonical spelling.

A modifier key may itself be the key (``ctrl_r``: push-to-talk on Right Ctrl alone);
:attr:`Hotkey.modifier_only` tells backends that cannot grab such a key apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.errors import SettingError

MODIFIERS = ("ctrl", "alt", "shift", "super", "cmd")
"""Modifier names, in the canonical order :func:`format_hotkey` writes them."""

MODIFIER_ALIASES = {
    "control": "ctrl",
    "ctl": "ctrl",
    "option": "alt",
    "opt": "alt",
    "win": "super",
    "windows": "super",
    "logo": "super",
    "command": "cmd",
}

MODIFIER_KEYS = frozenset(
    {"ctrl_l", "ctrl_r", "alt_l", "alt_r", "alt_gr", "shift_l", "shift_r", "cmd_l", "cmd_r"}
)
"""Keys that are modifiers themselves: a hotkey made of one alone is "modifier-only"."""

NAMED_KEYS = frozenset(
    {
        "space",
        "enter",
        "tab",
        "backspace",
        "esc",
        "insert",
        "delete",
        "home",
        "end",
        "page_up",
        "page_down",
        "up",
        "down",
        "left",
        "right",
        "print_screen",
        "scroll_lock",
        "pause",
        "caps_lock",
        "num_lock",
        "menu",
        "plus",
        "media_play_pause",
        "media_volume_mute",
        "media_volume_down",
        "media_volume_up",
        "media_previous",
        "media_next",
        *(f"f{n}" for n in range(1, 36)),
    }
    | MODIFIER_KEYS
)
"""Every multi-letter key name (single characters are keys as well)."""

KEY_ALIASES = {
    "return": "enter",
    "escape": "esc",
    "del": "delete",
    "ins": "insert",
    "spacebar": "space",
    "pageup": "page_up",
    "pgup": "page_up",
    "prior": "page_up",
    "pagedown": "page_down",
    "pgdn": "page_down",
    "next": "page_down",
    "print": "print_screen",
    "prtsc": "print_screen",
    "scrolllock": "scroll_lock",
    "capslock": "caps_lock",
    "numlock": "num_lock",
    # Qt's names, as the settings widget may write them for media keys.
    "volume_up": "media_volume_up",
    "volume_down": "media_volume_down",
    "volume_mute": "media_volume_mute",
    "media_play": "media_play_pause",
    "media_prev": "media_previous",
    # The Super/Windows key is pynput's "cmd".
    "super_l": "cmd_l",
    "super_r": "cmd_r",
}

_LABELS = {
    "ctrl": "Ctrl",
    "alt": "Alt",
    "shift": "Shift",
    "super": "Super",
    "cmd": "Cmd",
    "esc": "Esc",
    "plus": "+",
    "alt_gr": "AltGr",
}


@dataclass(frozen=True)
class Hotkey:
    """A key combination: modifiers held while one key is pressed.

    Attributes:
        modifiers: Canonical modifier names (a subset of :data:`MODIFIERS`).
        key: The canonical key name: one of :data:`NAMED_KEYS`, or one printable
            character (lowercase for letters).
    """

    modifiers: frozenset[str]
    key: str

    @property
    def modifier_only(self) -> bool:
        """True when the key is itself a modifier (``ctrl_r``, ``alt_gr``...)."""
        return self.key in MODIFIER_KEYS

    def ordered_modifiers(self) -> tuple[str, ...]:
        """The modifiers in canonical order."""
        return tuple(m for m in MODIFIERS if m in self.modifiers)

    def __str__(self) -> str:
        return format_hotkey(self)


def _canonical_key(name: str) -> str | None:
    """The canonical name of a key, or None when it is not a key Hark knows."""
    if len(name) == 1:
        return name.lower() if name.isprintable() and not name.isspace() else None
    lowered = name.lower()
    lowered = KEY_ALIASES.get(lowered, lowered)
    return lowered if lowered in NAMED_KEYS else None


def parse_hotkey(text: str) -> Hotkey:
    """Parse a stored hotkey such as ``ctrl+alt+space`` (case and spaces do not matter).

    Args:
        text: Names joined by ``+``: any modifiers, and exactly one key.

    Returns:
        The hotkey, with canonical names.

    Raises:
        SettingError: For the ``hotkey`` setting, with a one-line reason: empty text,
            an empty part, an unknown name, a repeated modifier, no key, or two keys.
    """
    stripped = text.strip()
    if not stripped:
        raise SettingError("hotkey", "is empty; name a key combination, e.g. ctrl+alt+space")
    parts = [part.strip() for part in stripped.split("+")]
    if any(not part for part in parts):
        raise SettingError(
            "hotkey", f"{stripped!r} has an empty part; write the + key as plus (ctrl+plus)"
        )
    modifiers: list[str] = []
    keys: list[str] = []
    for part in parts:
        lowered = part.lower()
        modifier = MODIFIER_ALIASES.get(lowered, lowered)
        if modifier in MODIFIERS:
            if modifier in modifiers:
                raise SettingError("hotkey", f"{stripped!r} names {modifier} twice")
            modifiers.append(modifier)
            continue
        key = _canonical_key(part)
        if key is None:
            raise SettingError(
                "hotkey",
                f"unknown key {part!r} in {stripped!r}; use one character or a name "
                "such as space, enter, f9 or page_up",
            )
        keys.append(key)
    if not keys:
        raise SettingError(
            "hotkey", f"{stripped!r} has no key after the modifiers, e.g. ctrl+alt+space"
        )
    if len(keys) > 1:
        named = " and ".join(keys)
        raise SettingError(
            "hotkey", f"{stripped!r} names two keys ({named}); use modifiers and one key"
        )
    return Hotkey(frozenset(modifiers), keys[0])


def format_hotkey(hotkey: Hotkey) -> str:
    """The stored form of ``hotkey``: ``parse_hotkey(format_hotkey(h)) == h``."""
    return "+".join([*hotkey.ordered_modifiers(), hotkey.key])


def describe_hotkey(hotkey: Hotkey) -> str:
    """A label for messages and menus, such as ``Ctrl+Alt+Space`` or ``Ctrl+Page Up``."""
    names = [*hotkey.ordered_modifiers(), hotkey.key]
    return "+".join(_LABELS.get(n, n.replace("_", " ").title()) for n in names)
