"""The hotkey backend interface, its error, and the choice of a backend per platform.

A backend registers one global key combination and reports its presses and releases.
It runs its own thread (or uses the platform's main-thread event source) and hands
every callback to the asyncio event loop that called :meth:`HotkeyBackend.start`, so
callers never see another thread. Key noise is not filtered here beyond auto-repeat:
:class:`app.core.activation.Activation` debounces and decides what a press means.

When no backend can work, :func:`choose_backend` returns None and says why in the log;
the app then relies on the IPC commands (``hark toggle``, ``hark ptt press|release``),
which the user can bind to a desktop shortcut. :func:`select_backend` makes the same
choice and also returns why (a :class:`BackendChoice`), for the self-check.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from app.core.errors import HarkError
from app.core.hotkey import Hotkey, describe_hotkey

log = logging.getLogger(__name__)

IPC_HINT = "bind `hark ptt press`/`hark ptt release` (or `hark toggle`) to a desktop shortcut"
"""The fallback every message offers: the IPC commands, from the desktop's own shortcuts."""

ErrorCallback = Callable[["HotkeyError"], None]


class HotkeyError(HarkError):
    """The hotkey cannot be registered, or stopped working; the message says what to do."""


class HotkeyBackend(Protocol):
    """One global hotkey on one platform.

    Attributes:
        name: Short backend name for logs and diagnostics (``x11``, ``windows``...).
    """

    name: str

    def start(
        self,
        hotkey: Hotkey,
        on_press: Callable[[], None],
        on_release: Callable[[], None],
        *,
        on_error: ErrorCallback | None = None,
    ) -> None:
        """Register ``hotkey`` and report its presses and releases.

        Must be called from a coroutine or callback running on the asyncio event loop
        (with qasync: the Qt thread). Every callback is then called on that loop:
        ``on_press`` once per press (auto-repeat is suppressed), ``on_release`` once per
        release, and ``on_error`` if the hotkey stops working later (the connection to
        the display is lost, the desktop revokes it).

        Raises:
            HotkeyError: The combination cannot be registered (taken by another
                application, not on the keyboard, not supported by this backend).
            RuntimeError: Already started, or no running event loop.
        """
        ...

    def stop(self) -> None:
        """Unregister the hotkey and end the backend's thread; safe to call twice.

        No callback is delivered after it returns (a press still held gets no release).
        """
        ...


class LoopCallbacks:
    """The callbacks of one :meth:`HotkeyBackend.start`, delivered on its event loop.

    Backends create it in ``start`` (on the loop thread) and call :meth:`press`,
    :meth:`release` and :meth:`error` from any thread. It also drops a repeated press
    or an unmatched release, so ``on_press``/``on_release`` alternate strictly.
    """

    def __init__(
        self,
        on_press: Callable[[], None],
        on_release: Callable[[], None],
        on_error: ErrorCallback | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self._on_press = on_press
        self._on_release = on_release
        self._on_error = on_error
        self.pressed = False
        self.closed = False

    def press(self) -> bool:
        """Deliver a press; False (nothing delivered) when already pressed: a repeat."""
        if self.pressed:
            return False
        self.pressed = True
        self._post(self._on_press)
        return True

    def release(self) -> bool:
        """Deliver a release; False (nothing delivered) when not pressed."""
        if not self.pressed:
            return False
        self.pressed = False
        self._post(self._on_release)
        return True

    def error(self, error: HotkeyError) -> None:
        """Report a failure after start: log it, and release a held key first."""
        log.warning("%s", error)
        self.release()
        if self._on_error is not None:
            self._post(self._on_error, error)

    def _post(self, callback: Callable[..., None], *args: object) -> None:
        if self.closed:
            return
        try:
            self.loop.call_soon_threadsafe(self._call, callback, *args)
        except RuntimeError:  # the loop is closed: the app is shutting down
            log.debug("event loop closed; dropped a hotkey event")

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        if not self.closed:  # stop() came first: nothing after it
            callback(*args)


def taken_message(hotkey: Hotkey) -> str:
    """The message for a combination another application already holds."""
    return (
        f"{describe_hotkey(hotkey)} is already taken by another application; choose another "
        f"hotkey in Settings, or {IPC_HINT}."
    )


def modifier_only_message(hotkey: Hotkey, backend: str) -> str:
    """The message for a modifier-only hotkey that ``backend`` cannot register."""
    return (
        f"{describe_hotkey(hotkey)} alone cannot be a hotkey with {backend}: add a key "
        f"such as space or f9 in Settings, or {IPC_HINT}."
    )


@dataclass(frozen=True)
class BackendChoice:
    """The hotkey backend chosen for this session, or None, and why.

    Attributes:
        backend: The backend (constructed, not started), or None when none can work.
        reason: Why it was chosen (the setting or session that picked it) or why every
            backend was refused, then what to do instead (:data:`IPC_HINT`).
    """

    backend: HotkeyBackend | None
    reason: str


def choose_backend(
    environ: Mapping[str, str] | None = None, platform: str | None = None
) -> HotkeyBackend | None:
    """The backend for this platform and session, or None (logged) when none can work.

    The same choice as :func:`select_backend`, without its reason.
    """
    return select_backend(environ, platform).backend


def select_backend(
    environ: Mapping[str, str] | None = None, platform: str | None = None
) -> BackendChoice:
    """The backend for this platform and session and why; when none can work, why not.

    ``HARK_HOTKEY_BACKEND`` (``x11``, ``wayland``, ``windows``, ``macos`` or ``none``)
    overrides the choice. Otherwise: Windows and macOS have one each; on Linux a
    Wayland session (``WAYLAND_DISPLAY`` set or ``XDG_SESSION_TYPE=wayland``) uses the
    GlobalShortcuts portal, since an X11 grab through Xwayland only sees keys typed
    into X11 windows; an X11 session (``DISPLAY``) grabs the key on the X server.
    A refusal is also logged (what the app shows); the choice is returned for the
    self-check, which reports it.

    Args:
        environ: The environment to read (default: ``os.environ``).
        platform: ``sys.platform`` to assume (default: the real one).
    """
    env = os.environ if environ is None else environ
    plat = sys.platform if platform is None else platform
    forced = env.get("HARK_HOTKEY_BACKEND", "").strip().lower()
    if forced == "none":
        reason = f"global hotkey off (HARK_HOTKEY_BACKEND=none); {IPC_HINT}"
        log.info("%s", reason)
        return BackendChoice(None, reason)
    if forced:
        kind, why = forced, f"HARK_HOTKEY_BACKEND={forced}"
    elif plat == "win32":
        kind, why = "windows", "Windows"
    elif plat == "darwin":
        kind, why = "macos", "macOS"
    elif env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        kind, why = "wayland", "a Wayland session: the GlobalShortcuts portal"
    elif env.get("DISPLAY"):
        kind, why = "x11", f"an X11 session (DISPLAY={env['DISPLAY']})"
    else:
        reason = f"no X11 or Wayland display; {IPC_HINT}"
        log.info("no global hotkey: %s", reason)
        return BackendChoice(None, reason)
    return _make(kind, why, env)


def _make(kind: str, why: str, env: Mapping[str, str]) -> BackendChoice:
    if kind == "x11":
        if importlib.util.find_spec("Xlib") is None:
            return _refused("python-xlib is not installed")
        from app.adapters.hotkeys.x11 import X11Backend

        return BackendChoice(X11Backend(env.get("DISPLAY")), why)
    if kind == "wayland":
        if importlib.util.find_spec("jeepney") is None:
            return _refused("jeepney (D-Bus) is not installed")
        from app.adapters.hotkeys.wayland import PortalBackend

        return BackendChoice(PortalBackend(), why)
    if kind == "windows":
        from app.adapters.hotkeys.windows import WindowsBackend

        return BackendChoice(WindowsBackend(), why)
    if kind == "macos":
        from app.adapters.hotkeys.macos import MacBackend

        return BackendChoice(MacBackend(), why)
    reason = f"unknown HARK_HOTKEY_BACKEND {kind!r}; no global hotkey; {IPC_HINT}"
    log.warning("%s", reason)
    return BackendChoice(None, reason)


def _refused(missing: str) -> BackendChoice:
    """No backend: a library the chosen one needs is missing (logged as a warning)."""
    reason = f"{missing}; {IPC_HINT}"
    log.warning("no global hotkey: %s", reason)
    return BackendChoice(None, reason)
