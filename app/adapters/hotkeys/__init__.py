"""Global push-to-talk hotkeys: one interface (:mod:`.base`), one backend per platform.

Backends import their platform libraries when chosen, so importing this package is
safe everywhere; :func:`choose_backend` (:mod:`.factory`) picks one for the running
session.
"""

from app.adapters.hotkeys.base import HotkeyBackend, HotkeyError
from app.adapters.hotkeys.factory import BackendChoice, choose_backend, select_backend

__all__ = ["BackendChoice", "HotkeyBackend", "HotkeyError", "choose_backend", "select_backend"]
