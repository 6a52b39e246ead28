"""The global hotkey on macOS: Carbon ``RegisterEventHotKey`` through ctypes.

Carbon hotkeys report both ``kEventHotKeyPressed`` and ``kEventHotKeyReleased`` and
need no Accessibility or Input Monitoring permission (unlike an event tap). Their
events are dispatched by the main thread's run loop, which Qt runs, so ``start`` must
be called on the main thread (with qasync the asyncio loop runs there); the handler
hands each event to the loop with ``call_soon_threadsafe`` like the other backends.

Secure Event Input (a focused password field, Terminal's "Secure Keyboard Entry")
blocks event taps; Carbon hotkeys are reported to keep working under it
(cjpais/Handy#1578 switches to Carbon for that reason). :func:`secure_input_enabled`
tells the UI whether it is on, to explain a hotkey that seems dead; ``start`` logs
it. Letters and punctuation are looked up on the current keyboard layout
(``UCKeyTranslate``), with the US positions as a fallback.

UNTESTED: written from Apple's Carbon headers and QHotkey's ``qhotkey_mac.mm``; it has
never run on macOS. Importing it is safe anywhere (Carbon is loaded in ``start``).
Modifier-only hotkeys (Fn, Right Option alone) are refused: Carbon cannot bind them.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable
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

CARBON_PATH = "/System/Library/Frameworks/Carbon.framework/Carbon"


def _fourcc(code: str) -> int:
    return int.from_bytes(code.encode("ascii"), "big")


SIGNATURE = _fourcc("HARK")
K_EVENT_CLASS_KEYBOARD = _fourcc("keyb")
K_EVENT_HOTKEY_PRESSED, K_EVENT_HOTKEY_RELEASED = 5, 6
K_EVENT_PARAM_DIRECT_OBJECT, TYPE_EVENT_HOTKEY_ID = _fourcc("----"), _fourcc("hkid")
NO_ERR, EVENT_NOT_HANDLED_ERR = 0, -9874
EVENT_HOTKEY_EXISTS_ERR, EVENT_HOTKEY_INVALID_ERR = -9878, -9879

MODIFIER_FLAGS = {"cmd": 0x0100, "super": 0x0100, "shift": 0x0200, "alt": 0x0800, "ctrl": 0x1000}

_F_KEYS = (0x7A, 0x78, 0x63, 0x76, 0x60, 0x61, 0x62, 0x64, 0x65, 0x6D,
           0x67, 0x6F, 0x69, 0x6B, 0x71, 0x6A, 0x40, 0x4F, 0x50, 0x5A)  # fmt: skip
"""kVK_F1 .. kVK_F20."""

KEY_CODES = {  # kVK_* virtual key codes (Events.h); layout-independent keys
    "space": 0x31,
    "enter": 0x24,
    "tab": 0x30,
    "backspace": 0x33,
    "esc": 0x35,
    "insert": 0x72,  # kVK_Help, where PC keyboards have Insert
    "delete": 0x75,
    "home": 0x73,
    "end": 0x77,
    "page_up": 0x74,
    "page_down": 0x79,
    "left": 0x7B,
    "right": 0x7C,
    "down": 0x7D,
    "up": 0x7E,
    "caps_lock": 0x39,
    **{f"f{n}": code for n, code in enumerate(_F_KEYS, start=1)},
}

US_CHARACTERS = dict(  # kVK_ANSI_*: the US layout, used when the layout cannot be read
    zip(
        "asdfhgzxcv" + "bqweryt123" + "465=97-80]" + "ou[ip" + "lj'k;\\,/nm." + "`",
        [*range(0x00, 0x0A), *range(0x0B, 0x24), *range(0x25, 0x30), 0x32],
        strict=True,
    )
)


class EventHotKeyID(ctypes.Structure):
    """Carbon's ``EventHotKeyID``."""

    _fields_ = (("signature", ctypes.c_uint32), ("id", ctypes.c_uint32))


class EventTypeSpec(ctypes.Structure):
    """Carbon's ``EventTypeSpec``."""

    _fields_ = (("eventClass", ctypes.c_uint32), ("eventKind", ctypes.c_uint32))


HANDLER = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


def _carbon() -> Any:
    lib: Any = ctypes.CDLL(CARBON_PATH)
    vp, u32 = ctypes.c_void_p, ctypes.c_uint32
    lib.GetApplicationEventTarget.restype = vp
    lib.InstallEventHandler.argtypes = [
        vp,
        HANDLER,
        ctypes.c_ulong,
        ctypes.POINTER(EventTypeSpec),
        vp,
        ctypes.POINTER(vp),
    ]
    lib.InstallEventHandler.restype = ctypes.c_int32
    lib.RemoveEventHandler.argtypes = [vp]
    lib.RegisterEventHotKey.argtypes = [u32, u32, EventHotKeyID, vp, u32, ctypes.POINTER(vp)]
    lib.RegisterEventHotKey.restype = ctypes.c_int32
    lib.UnregisterEventHotKey.argtypes = [vp]
    lib.GetEventKind.argtypes = [vp]
    lib.GetEventKind.restype = u32
    lib.GetEventParameter.argtypes = [vp, u32, u32, vp, ctypes.c_ulong, vp, vp]
    lib.GetEventParameter.restype = ctypes.c_int32
    lib.IsSecureEventInputEnabled.restype = ctypes.c_bool
    return lib


def secure_input_enabled() -> bool:
    """Whether Secure Event Input is on (False where it cannot be asked)."""
    try:
        return bool(_carbon().IsSecureEventInputEnabled())
    except (OSError, AttributeError):
        return False


def _layout_characters(carbon: Any) -> dict[str, int]:
    """Character -> key code on the current keyboard layout (unshifted)."""
    cf: Any = ctypes.CDLL("/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation")
    vp = ctypes.c_void_p
    carbon.TISCopyCurrentKeyboardLayoutInputSource.restype = vp
    carbon.TISGetInputSourceProperty.restype = vp
    carbon.TISGetInputSourceProperty.argtypes = [vp, vp]
    carbon.LMGetKbdType.restype = ctypes.c_uint8
    u16, u32, ulong = ctypes.c_uint16, ctypes.c_uint32, ctypes.c_ulong
    carbon.UCKeyTranslate.restype = ctypes.c_int32
    carbon.UCKeyTranslate.argtypes = [
        vp, u16, u16, u32, u32, u32, ctypes.POINTER(u32), ulong, ctypes.POINTER(ulong),
        ctypes.POINTER(u16),
    ]  # fmt: skip
    cf.CFDataGetBytePtr.restype = vp
    cf.CFDataGetBytePtr.argtypes = [vp]
    cf.CFRelease.argtypes = [vp]
    source = carbon.TISCopyCurrentKeyboardLayoutInputSource()
    if not source:
        return {}
    try:
        prop = vp.in_dll(carbon, "kTISPropertyUnicodeKeyLayoutData")
        data = carbon.TISGetInputSourceProperty(source, prop)
        if not data:
            return {}
        layout = cf.CFDataGetBytePtr(data)
        kbd_type = carbon.LMGetKbdType()
        found: dict[str, int] = {}
        chars = (ctypes.c_uint16 * 4)()
        for code in range(128):
            dead, length = u32(0), ulong(0)
            # kUCKeyActionDisplay (3), no modifiers, kUCKeyTranslateNoDeadKeysMask (1)
            status = carbon.UCKeyTranslate(
                layout, code, 3, 0, kbd_type, 1, ctypes.byref(dead), 4, ctypes.byref(length), chars
            )
            if status == 0 and length.value == 1:
                found.setdefault(chr(chars[0]).lower(), code)
        return found
    finally:
        cf.CFRelease(source)


def key_code(carbon: Any, key: str) -> int | None:
    """The virtual key code of a canonical key name, or None when there is none."""
    if key in KEY_CODES:
        return KEY_CODES[key]
    if key == "plus":
        key = "="  # "+" is Shift+= on US-like layouts
    if len(key) != 1:
        return None
    try:
        layout = _layout_characters(carbon)
    except (OSError, AttributeError, ValueError) as exc:
        log.debug("keyboard layout unreadable (%s); assuming US positions", exc)
        layout = {}
    return layout.get(key, US_CHARACTERS.get(key))


class MacBackend:
    """The hotkey through Carbon's ``RegisterEventHotKey`` on the main thread."""

    name = "macos"
    _next_id = 1

    def __init__(self) -> None:
        self._carbon: Any = None
        self._handler_ref = ctypes.c_void_p()
        self._hotkey_ref = ctypes.c_void_p()
        self._handler: Any = None  # the ctypes callback: kept alive while registered
        self._callbacks: LoopCallbacks | None = None
        self._id = 0

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
            hotkey,
            started=self._callbacks is not None,
            backend="macOS",
            registrar="macOS Carbon hotkeys",
        )
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("Carbon hotkeys must be registered on the main thread")
        callbacks = LoopCallbacks(on_press, on_release, on_error)
        try:
            carbon = _carbon()
        except OSError as exc:
            raise HotkeyError(f"Cannot load Carbon ({exc}); {IPC_HINT}.") from None
        code = key_code(carbon, hotkey.key)
        if code is None:
            raise HotkeyError(
                f"{describe_hotkey(hotkey)}: macOS has no hotkey code for {hotkey.key!r}; "
                f"choose another hotkey in Settings, or {IPC_HINT}."
            )
        flags = 0
        for name in hotkey.modifiers:
            flags |= MODIFIER_FLAGS[name]
        self._id = MacBackend._next_id
        MacBackend._next_id += 1
        handler = HANDLER(self._on_event)
        specs = (EventTypeSpec * 2)(
            EventTypeSpec(K_EVENT_CLASS_KEYBOARD, K_EVENT_HOTKEY_PRESSED),
            EventTypeSpec(K_EVENT_CLASS_KEYBOARD, K_EVENT_HOTKEY_RELEASED),
        )
        target = carbon.GetApplicationEventTarget()
        status = carbon.InstallEventHandler(
            target, handler, 2, specs, None, ctypes.byref(self._handler_ref)
        )
        if status != NO_ERR:
            raise HotkeyError(f"Carbon refused the hotkey handler (OSStatus {status}); {IPC_HINT}.")
        hotkey_id = EventHotKeyID(SIGNATURE, self._id)
        status = carbon.RegisterEventHotKey(
            code, flags, hotkey_id, target, 0, ctypes.byref(self._hotkey_ref)
        )
        if status != NO_ERR:
            carbon.RemoveEventHandler(self._handler_ref)
            if status == EVENT_HOTKEY_EXISTS_ERR:
                raise HotkeyError(taken_message(hotkey))
            raise HotkeyError(
                f"macOS refused {describe_hotkey(hotkey)} (OSStatus {status}); choose "
                f"another hotkey in Settings, or {IPC_HINT}."
            )
        self._carbon, self._handler, self._callbacks = carbon, handler, callbacks
        if carbon.IsSecureEventInputEnabled():
            log.warning(
                "Secure Event Input is on (a password field or Terminal's Secure Keyboard "
                "Entry): if the hotkey seems dead, that application is the reason"
            )

    def stop(self) -> None:
        """Unregister the hotkey and remove the event handler."""
        callbacks, carbon = self._callbacks, self._carbon
        self._callbacks = None
        if callbacks is None or carbon is None:
            return
        callbacks.closed = True
        carbon.UnregisterEventHotKey(self._hotkey_ref)
        carbon.RemoveEventHandler(self._handler_ref)
        self._handler = None

    def _on_event(self, _call_ref: int | None, event: int | None, _user: int | None) -> int:
        try:
            callbacks, carbon = self._callbacks, self._carbon
            if callbacks is None or carbon is None:
                return EVENT_NOT_HANDLED_ERR
            got = EventHotKeyID()
            status = carbon.GetEventParameter(
                event,
                K_EVENT_PARAM_DIRECT_OBJECT,
                TYPE_EVENT_HOTKEY_ID,
                None,
                ctypes.sizeof(got),
                None,
                ctypes.byref(got),
            )
            if status != NO_ERR or got.signature != SIGNATURE or got.id != self._id:
                return EVENT_NOT_HANDLED_ERR
            kind = carbon.GetEventKind(event)
            if kind == K_EVENT_HOTKEY_PRESSED:
                callbacks.press()
            elif kind == K_EVENT_HOTKEY_RELEASED:
                callbacks.release()
            return NO_ERR
        except Exception:  # an exception must not cross into Carbon
            log.exception("Carbon hotkey handler failed")
            return EVENT_NOT_HANDLED_ERR
