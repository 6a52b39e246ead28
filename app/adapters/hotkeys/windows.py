"""The global hotkey on Windows: ``RegisterHotKey`` plus polling for the release.

Windows reports a registered hotkey's press (``WM_HOTKEY``; ``MOD_NOREPEAT`` drops
auto-repeat) but never its release, so after each press a 15 ms timer polls
``GetAsyncKeyState`` until the key is up: the pattern QHotkey uses. A daemon thread
registers the hotkey and runs its own message loop; ``stop`` posts ``WM_QUIT`` to it,
and the thread unregisters before it ends.

UNTESTED: written from the Win32 documentation and QHotkey's ``qhotkey_win.cpp``; it
has never run on Windows. Importing it is safe anywhere (``ctypes.WinDLL`` is only
touched in the thread). Modifier-only hotkeys are refused (``RegisterHotKey`` needs a
key); a low-level keyboard hook would be needed for those.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from ctypes import wintypes
from typing import Any

from app.adapters.hotkeys.base import (
    IPC_HINT,
    ErrorCallback,
    HotkeyError,
    LoopCallbacks,
    check_start,
    taken_message,
)
from app.core.hotkey import Hotkey, describe_hotkey

log = logging.getLogger(__name__)

START_TIMEOUT_S = 5.0
POLL_MS = 15
HOTKEY_ID = 0xB0A1

MOD_ALT, MOD_CONTROL, MOD_SHIFT, MOD_WIN, MOD_NOREPEAT = 0x1, 0x2, 0x4, 0x8, 0x4000
WM_QUIT, WM_TIMER, WM_HOTKEY, PM_NOREMOVE = 0x0012, 0x0113, 0x0312, 0x0000
ERROR_HOTKEY_ALREADY_REGISTERED = 1409

MODIFIER_FLAGS = {
    "ctrl": MOD_CONTROL,
    "alt": MOD_ALT,
    "shift": MOD_SHIFT,
    "super": MOD_WIN,
    "cmd": MOD_WIN,
}

VIRTUAL_KEYS = {
    "space": 0x20,
    "enter": 0x0D,
    "tab": 0x09,
    "backspace": 0x08,
    "esc": 0x1B,
    "insert": 0x2D,
    "delete": 0x2E,
    "home": 0x24,
    "end": 0x23,
    "page_up": 0x21,
    "page_down": 0x22,
    "left": 0x25,
    "up": 0x26,
    "right": 0x27,
    "down": 0x28,
    "print_screen": 0x2C,
    "scroll_lock": 0x91,
    "pause": 0x13,
    "caps_lock": 0x14,
    "num_lock": 0x90,
    "menu": 0x5D,
    "plus": 0xBB,  # VK_OEM_PLUS: the "=+" key on US layouts
    "media_play_pause": 0xB3,
    "media_volume_mute": 0xAD,
    "media_volume_down": 0xAE,
    "media_volume_up": 0xAF,
    "media_previous": 0xB1,
    "media_next": 0xB0,
    **{f"f{n}": 0x70 + n - 1 for n in range(1, 25)},  # F1..F24 (Windows has no F25+)
}


def _user32() -> Any:
    # getattr: ctypes.WinDLL exists only on Windows (and mypy on Linux does not know it).
    user32 = getattr(ctypes, "WinDLL")("user32", use_last_error=True)  # noqa: B009
    user32.GetAsyncKeyState.restype = ctypes.c_short
    user32.VkKeyScanW.restype = ctypes.c_short
    user32.SetTimer.restype = ctypes.c_size_t
    return user32


def _kernel32() -> Any:
    return getattr(ctypes, "WinDLL")("kernel32", use_last_error=True)  # noqa: B009


def virtual_key(user32: Any, key: str) -> int | None:
    """The virtual-key code of a canonical key name on the current layout, or None."""
    if key in VIRTUAL_KEYS:
        return VIRTUAL_KEYS[key]
    if len(key) != 1:
        return None
    if key.isascii() and key.isalnum():
        return ord(key.upper())  # VK_0..VK_9 and VK_A..VK_Z are the ASCII codes
    scan = int(user32.VkKeyScanW(ctypes.c_wchar(key)))  # -1: not on this layout
    return None if scan == -1 else scan & 0xFF


class WindowsBackend:
    """The hotkey through ``RegisterHotKey`` on a thread with its own message loop."""

    name = "windows"

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._thread_id = 0
        self._callbacks: LoopCallbacks | None = None

    def start(
        self,
        hotkey: Hotkey,
        on_press: Callable[[], None],
        on_release: Callable[[], None],
        *,
        on_error: ErrorCallback | None = None,
    ) -> None:
        """Register ``hotkey``; see :meth:`app.adapters.hotkeys.base.HotkeyBackend.start`."""
        check_start(
            hotkey, started=self._thread is not None, backend="Windows", registrar="RegisterHotKey"
        )
        callbacks = LoopCallbacks(on_press, on_release, on_error)
        ready: Future[int] = Future()
        thread = threading.Thread(
            target=self._run, args=(hotkey, callbacks, ready), name="hark-hotkey-win", daemon=True
        )
        thread.start()
        try:
            self._thread_id = ready.result(timeout=START_TIMEOUT_S)
        except FutureTimeout:
            callbacks.closed = True
            raise HotkeyError(f"Windows did not register the hotkey in time; {IPC_HINT}.") from None
        self._thread, self._callbacks = thread, callbacks

    def stop(self) -> None:
        """Unregister the hotkey and end the thread's message loop."""
        thread, callbacks = self._thread, self._callbacks
        self._thread = self._callbacks = None
        if thread is None:
            return
        if callbacks is not None:
            callbacks.closed = True
        _user32().PostThreadMessageW(self._thread_id, WM_QUIT, 0, 0)
        thread.join(5.0)
        if thread.is_alive():
            log.warning("the Windows hotkey thread did not end")

    def _run(self, hotkey: Hotkey, callbacks: LoopCallbacks, ready: Future[int]) -> None:
        try:
            self._loop(hotkey, callbacks, ready)
        except Exception as exc:  # never leave start() waiting or the app unaware
            log.exception("the Windows hotkey thread failed")
            error = HotkeyError(f"The Windows hotkey failed ({exc!r}); {IPC_HINT}.")
            if not ready.done():
                ready.set_exception(error)
            else:
                callbacks.error(error)

    def _loop(self, hotkey: Hotkey, callbacks: LoopCallbacks, ready: Future[int]) -> None:
        user32 = _user32()
        msg = wintypes.MSG()
        # Create this thread's message queue before anyone can post WM_QUIT to it.
        user32.PeekMessageW(ctypes.byref(msg), None, 0, 0, PM_NOREMOVE)
        vk = virtual_key(user32, hotkey.key)
        if vk is None:
            ready.set_exception(
                HotkeyError(
                    f"{describe_hotkey(hotkey)}: the key {hotkey.key!r} is not on the current "
                    f"keyboard layout; choose another hotkey in Settings, or {IPC_HINT}."
                )
            )
            return
        flags = MOD_NOREPEAT
        for name in hotkey.modifiers:
            flags |= MODIFIER_FLAGS[name]
        if not user32.RegisterHotKey(None, HOTKEY_ID, flags, vk):
            code = getattr(ctypes, "get_last_error")()  # noqa: B009 (Windows only)
            if code == ERROR_HOTKEY_ALREADY_REGISTERED:
                ready.set_exception(HotkeyError(taken_message(hotkey)))
            else:
                ready.set_exception(
                    HotkeyError(
                        f"Windows refused {describe_hotkey(hotkey)} (error {code}); "
                        f"choose another hotkey in Settings, or {IPC_HINT}."
                    )
                )
            return
        ready.set_result(_kernel32().GetCurrentThreadId())
        timer = 0
        try:
            while user32.GetMessageW(ctypes.byref(msg), None, 0, 0) > 0:
                if msg.message == WM_HOTKEY and msg.wParam == HOTKEY_ID:
                    callbacks.press()
                    if not timer:
                        timer = user32.SetTimer(None, 0, POLL_MS, None)
                elif msg.message == WM_TIMER and timer and msg.wParam == timer:
                    if not user32.GetAsyncKeyState(vk) & 0x8000:
                        user32.KillTimer(None, timer)
                        timer = 0
                        callbacks.release()
                else:
                    user32.DispatchMessageW(ctypes.byref(msg))
        finally:
            if timer:
                user32.KillTimer(None, timer)
            user32.UnregisterHotKey(None, HOTKEY_ID)
