"""Synthetic keyboard input and focus queries: the engine's ``Keyboard`` port, per platform.

:func:`choose_keyboard` picks the backend for this session:

* Windows: :mod:`.windows` (``SendInput`` with ``KEYEVENTF_UNICODE``).
* macOS: :mod:`.macos` (Quartz events; needs the Accessibility permission).
* Linux/BSD, Wayland session: :mod:`.wayland` (``wtype`` or ``ydotool``); the focused
  window cannot be known there, so the focus check is skipped.
* Linux/BSD, X11 session: :mod:`.x11` (XTEST through python-xlib).

When no backend can work (no display, python-xlib missing, no tool on Wayland), it
returns an :class:`UnavailableKeyboard` whose ``paste``/``type_text`` raise with the
reason, so insertion falls back to the clipboard with that message.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Protocol

log = logging.getLogger(__name__)


class KeyboardBackend(Protocol):
    """What every backend offers: the engine's ``Keyboard`` port, restated structurally
    (adapters may not import the engine; import-linter keeps the layers apart)."""

    name: str

    def active_window(self) -> str | None:
        """An id of the focused window, or ``None`` when it cannot be known."""

    def modifiers_down(self) -> bool:
        """Whether Ctrl, Alt, Shift or Super/Cmd is held right now."""

    async def paste(self) -> None:
        """Send the paste shortcut to the focused window."""

    async def type_text(self, text: str) -> None:
        """Type ``text`` into the focused window, independent of the keyboard layout."""


class KeyboardUnavailableError(RuntimeError):
    """No way to send keys in this session; the message says why."""


class UnavailableKeyboard:
    """A ``Keyboard`` that cannot type: every insertion ends on the clipboard.

    Args:
        reason: One line saying why (shown to the user through the failure message).
    """

    name = "unavailable"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def active_window(self) -> str | None:
        """Unknowable: ``None``."""
        return None

    def modifiers_down(self) -> bool:
        """Unknowable: ``False``."""
        return False

    async def paste(self) -> None:
        """Raise :class:`KeyboardUnavailableError`."""
        raise KeyboardUnavailableError(self.reason)

    async def type_text(self, text: str) -> None:
        """Raise :class:`KeyboardUnavailableError`."""
        raise KeyboardUnavailableError(self.reason)


def session_kind(platform: str, environ: Mapping[str, str]) -> str:
    """``"windows"``, ``"macos"``, ``"wayland"``, ``"x11"`` or ``"none"`` for this session."""
    if platform == "win32":
        return "windows"
    if platform == "darwin":
        return "macos"
    session = environ.get("XDG_SESSION_TYPE", "").lower()
    if environ.get("WAYLAND_DISPLAY") and session != "x11":
        return "wayland"  # X11 apps through Xwayland would not reach native windows
    if environ.get("DISPLAY"):
        return "x11"
    return "wayland" if session == "wayland" else "none"


def choose_keyboard(
    *, platform: str = sys.platform, environ: Mapping[str, str] | None = None
) -> KeyboardBackend:
    """The ``Keyboard`` for this platform and desktop session (see the module docstring)."""
    env = os.environ if environ is None else environ
    kind = session_kind(platform, env)
    try:
        if kind == "windows":
            from app.adapters.keyboard.windows import WindowsKeyboard

            return WindowsKeyboard()
        if kind == "macos":
            from app.adapters.keyboard.macos import MacKeyboard

            return MacKeyboard()
        if kind == "wayland":
            from app.adapters.keyboard.wayland import WaylandKeyboard

            return WaylandKeyboard()
        if kind == "x11":
            from app.adapters.keyboard.x11 import X11Keyboard

            return X11Keyboard(env.get("DISPLAY"))
    except ImportError as error:
        log.warning("keyboard backend %s unavailable: %s", kind, error)
        return UnavailableKeyboard(f"Typing needs the {error.name or kind} module, not installed.")
    except Exception as error:
        log.warning("keyboard backend %s unavailable: %s", kind, error)
        return UnavailableKeyboard(f"Typing is unavailable: {error}")
    return UnavailableKeyboard("No desktop session (no DISPLAY or WAYLAND_DISPLAY).")
