"""Global push-to-talk hotkeys: one interface (:mod:`.base`), one backend per platform.

Backends import their platform libraries when chosen, so importing this package is
safe everywhere; :func:`choose_backend` picks one for the running session.
"""

from app.adapters.hotkeys.base import HotkeyBackend, HotkeyError, choose_backend

__all__ = ["HotkeyBackend", "HotkeyError", "choose_backend"]
