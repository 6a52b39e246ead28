"""The hotkey backend interface, its error, and the helpers every backend shares.

A backend registers one global key combination and reports its presses and releases.
It runs its own thread (or uses the platform's main-thread event source) and hands
every callback to the asyncio event loop that called :meth:`HotkeyBackend.start`, so
callers never see another thread. Key noise is not filtered here beyond auto-repeat:
:class:`app.core.activation.Activation` debounces and decides what a press means.

Backends import this module only; choosing one is :mod:`app.adapters.hotkeys.factory`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
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


def check_start(hotkey: Hotkey, *, started: bool, backend: str, registrar: str) -> None:
    """The checks that open every backend's :meth:`HotkeyBackend.start`.

    Args:
        hotkey: The combination to register.
        started: Whether the backend is started already.
        backend: The backend's name in the error (``X11``, ``portal``...).
        registrar: What refuses a modifier-only hotkey, for :func:`modifier_only_message`.

    Raises:
        RuntimeError: Already started.
        HotkeyError: ``hotkey`` is modifier-only (no backend can register one alone).
    """
    if started:
        raise RuntimeError(f"the {backend} hotkey backend is already started")
    if hotkey.modifier_only:
        raise HotkeyError(modifier_only_message(hotkey, registrar))


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
