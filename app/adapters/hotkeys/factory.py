"""The choice of a hotkey backend for the running platform and session.

Each backend is imported only when chosen, since it loads its platform's libraries.
When no backend can work, :func:`choose_backend` returns None and says why in the log;
the app then relies on the IPC commands (``hark toggle``, ``hark ptt press|release``),
which the user can bind to a desktop shortcut. :func:`select_backend` makes the same
choice and also returns why (a :class:`BackendChoice`), for the self-check.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from app.adapters.hotkeys.base import IPC_HINT, HotkeyBackend

log = logging.getLogger(__name__)


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
