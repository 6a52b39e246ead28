"""The global hotkey on X11: ``XGrabKey`` on the root window, with python-xlib.

A daemon thread owns a dedicated X connection: it grabs the key with its modifiers
(and with every combination of Caps Lock, Num Lock and Scroll Lock, so the lock
states do not matter), then waits with ``select`` on the connection and a wake-up
pipe. XKB "detectable auto-repeat" is turned on for that connection, so holding the
key sends repeated presses and one release instead of release/press pairs; repeats
are dropped. Where XKB is missing, a release immediately followed by a press with
the same timestamp is recognised as auto-repeat instead.

A keyboard-mapping change (``setxkbmap``, a layout switch) re-grabs the key where it
now lives. Verified on Xvfb + openbox (``tests/x11/test_hotkeys_x11.py``).
"""

from __future__ import annotations

import itertools
import logging
import os
import select
import threading
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from Xlib import X
from Xlib import error as xerror
from Xlib.display import Display
from Xlib.protocol import event as xevent
from Xlib.protocol import rq
from Xlib.xobject.drawable import Window

from app.adapters.hotkeys import keynames
from app.adapters.hotkeys.base import (
    IPC_HINT,
    ErrorCallback,
    HotkeyError,
    LoopCallbacks,
    check_start,
    taken_message,
)
from app.adapters.hotkeys.xkb import XKB_MAP_NOTIFY, XKB_NEW_KEYBOARD_NOTIFY, XkbSetup, setup_xkb
from app.core.hotkey import Hotkey, describe_hotkey

log = logging.getLogger(__name__)

START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 5.0
REPEAT_PAIR_WAIT_S = 0.01

# keysym -> role, for reading which ModN bit each modifier is on.
_MODIFIER_KEYSYMS = {
    0xFFE9: "alt",  # Alt_L
    0xFFEA: "alt",  # Alt_R
    0xFFE7: "meta",  # Meta_L
    0xFFE8: "meta",  # Meta_R
    0xFFEB: "super",  # Super_L
    0xFFEC: "super",  # Super_R
    0xFF7F: "num_lock",
    0xFF14: "scroll_lock",
}


@dataclass(frozen=True)
class GrabSet:
    """What is grabbed: every keycode of the key, with every lock-key variant mask."""

    keycodes: frozenset[int]
    masks: frozenset[int]


def keyboard_map(display: Display) -> dict[int, tuple[int, ...]]:
    """Keycode -> its keysyms, fresh from the server (python-xlib's cache goes stale
    once XKB replaces the core MappingNotify)."""
    info = display.display.info
    first, last = info.min_keycode, info.max_keycode
    rows = display.get_keyboard_mapping(first, last - first + 1)
    return {first + i: tuple(row) for i, row in enumerate(rows)}


def modifier_masks(display: Display, keymap: dict[int, tuple[int, ...]]) -> dict[str, int]:
    """The X modifier mask of each Hark modifier and lock key on this server's mapping."""
    found: dict[str, int] = {}
    for index, row in enumerate(display.get_modifier_mapping()):
        for code in row:
            for sym in keymap.get(code, ())[:4]:
                role = _MODIFIER_KEYSYMS.get(sym)
                if role is not None:
                    found.setdefault(role, 1 << index)
    alt = found.get("alt", found.get("meta", X.Mod1Mask))
    super_ = found.get("super", X.Mod4Mask)
    return {
        "ctrl": X.ControlMask,
        "shift": X.ShiftMask,
        "alt": alt,
        "super": super_,
        "cmd": super_,  # a macOS setting on Linux: the Super key
        "caps_lock": X.LockMask,
        "num_lock": found.get("num_lock", 0),
        "scroll_lock": found.get("scroll_lock", 0),
    }


def grab_set(display: Display, hotkey: Hotkey) -> GrabSet:
    """The keycodes and modifier masks to grab for ``hotkey`` on this display.

    Raises:
        HotkeyError: The key is not on the current keyboard layout.
    """
    sym = keynames.keysym(hotkey.key)
    keymap = keyboard_map(display)
    # Prefer keys that give the keysym without AltGr (levels 1-2 of the first group).
    codes = frozenset(code for code, syms in keymap.items() if sym in syms[:2]) or frozenset(
        code for code, syms in keymap.items() if sym in syms
    )
    if not codes:
        raise HotkeyError(
            f"{describe_hotkey(hotkey)}: the key {hotkey.key!r} is not on the current "
            f"keyboard layout; choose another hotkey in Settings, or {IPC_HINT}."
        )
    masks = modifier_masks(display, keymap)
    base = 0
    for name in hotkey.modifiers:
        base |= masks[name]
    locks = sorted({masks[k] for k in ("caps_lock", "num_lock", "scroll_lock")} - {0})
    locks = [m for m in locks if not m & base]
    variants = frozenset(
        base | sum(combo)
        for size in range(len(locks) + 1)
        for combo in itertools.combinations(locks, size)
    )
    return GrabSet(codes, variants)


def _is_repeat(release: rq.Event, following: rq.Event) -> bool:
    """A release and a press of the same key at the same instant: server auto-repeat."""
    return (
        isinstance(following, xevent.KeyPress)
        and following.detail == release.detail
        and following.time == release.time
    )


def _drop_failed_sockets(exc: BaseException) -> None:
    """Free the sockets python-xlib leaves open when it cannot connect, quietly.

    Its connect helpers raise without closing their socket, which stays alive in the
    traceback's frames; clearing the tracebacks frees it at once, so its
    ResourceWarning is raised (and ignored) here rather than at some later collection.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        seen: set[int] = set()
        link: BaseException | None = exc
        while link is not None and id(link) not in seen:
            seen.add(id(link))
            link.__traceback__ = None
            link = link.__context__ or link.__cause__


class X11Backend:
    """The hotkey as a passive key grab on the X server's root window.

    Args:
        display: The X display name (default: ``$DISPLAY``).

    Attributes:
        xkb: What XKB granted the connection (detectable auto-repeat, keymap events).
        repeats_ignored: Auto-repeat presses dropped so far (for diagnostics).
        grabbed: The keycodes and masks grabbed now (None when not running).
    """

    name = "x11"

    def __init__(self, display: str | None = None) -> None:
        self.display_name = display
        self.xkb = XkbSetup()
        self.repeats_ignored = 0
        self.grabbed: GrabSet | None = None
        self._thread: threading.Thread | None = None
        self._callbacks: LoopCallbacks | None = None
        self._wake: tuple[int, int] | None = None

    def start(
        self,
        hotkey: Hotkey,
        on_press: Callable[[], None],
        on_release: Callable[[], None],
        *,
        on_error: ErrorCallback | None = None,
    ) -> None:
        """Grab ``hotkey``; see :meth:`app.adapters.hotkeys.base.HotkeyBackend.start`."""
        check_start(hotkey, started=self._thread is not None, backend="X11", registrar="X11")
        callbacks = LoopCallbacks(on_press, on_release, on_error)
        ready: Future[None] = Future()
        wake = os.pipe()
        thread = threading.Thread(
            target=self._run,
            args=(hotkey, callbacks, ready, wake[0]),
            name="hark-hotkey-x11",
            daemon=True,
        )
        thread.start()
        try:
            ready.result(timeout=START_TIMEOUT_S)
        except BaseException as exc:
            callbacks.closed = True
            self._end(thread, wake)
            if isinstance(exc, FutureTimeout):
                raise HotkeyError(
                    f"The X server did not answer within {START_TIMEOUT_S:.0f} s; "
                    f"the hotkey is off ({IPC_HINT})."
                ) from None
            raise
        self._thread, self._callbacks, self._wake = thread, callbacks, wake

    def stop(self) -> None:
        """Ungrab the key, close the connection and end the thread."""
        thread, wake, callbacks = self._thread, self._wake, self._callbacks
        self._thread = self._wake = self._callbacks = None
        if thread is None or wake is None:
            return
        if callbacks is not None:
            callbacks.closed = True
        self._end(thread, wake)

    @staticmethod
    def _end(thread: threading.Thread, wake: tuple[int, int]) -> None:
        os.write(wake[1], b"x")
        thread.join(STOP_TIMEOUT_S)
        if thread.is_alive():
            log.warning("the X11 hotkey thread did not end within %s s", STOP_TIMEOUT_S)
            return  # it may still read the pipe: leave it open
        for fd in wake:
            os.close(fd)

    # -- the thread ------------------------------------------------------------------

    def _run(
        self, hotkey: Hotkey, callbacks: LoopCallbacks, ready: Future[None], wake_fd: int
    ) -> None:
        try:
            self._session(hotkey, callbacks, ready, wake_fd)
        except Exception as exc:  # a bug: never leave start() waiting or the app unaware
            log.exception("the X11 hotkey thread failed")
            error = HotkeyError(f"The X11 hotkey failed ({exc!r}); {IPC_HINT}.")
            if not ready.done():
                ready.set_exception(error)
            else:
                callbacks.error(error)

    def _session(
        self, hotkey: Hotkey, callbacks: LoopCallbacks, ready: Future[None], wake_fd: int
    ) -> None:
        try:
            display = Display(self.display_name)
        except (xerror.DisplayError, OSError) as exc:
            name = self.display_name or os.environ.get("DISPLAY", "")
            ready.set_exception(
                HotkeyError(f"Cannot open the X display {name!r} ({exc}); {IPC_HINT}.")
            )
            _drop_failed_sockets(exc)
            return
        root = display.screen().root
        grabs: GrabSet | None = None
        try:
            self.xkb = setup_xkb(display)
            grabs = grab_set(display, hotkey)
            self._grab(display, root, grabs, hotkey)
        except (HotkeyError, xerror.XError, xerror.ConnectionClosedError, OSError) as exc:
            grabs = None
            if not isinstance(exc, HotkeyError):
                exc = HotkeyError(f"The X server refused the hotkey ({exc}); {IPC_HINT}.")
            ready.set_exception(exc)
            self._close(display, root, None)
            return
        ready.set_result(None)
        log.info(
            "hotkey %s grabbed on X11 (keycodes %s, detectable auto-repeat: %s)",
            describe_hotkey(hotkey),
            sorted(grabs.keycodes),
            self.xkb.detectable_autorepeat,
        )
        try:
            grabs = self._serve(display, root, hotkey, grabs, callbacks, wake_fd)
        except (xerror.ConnectionClosedError, xerror.XError, OSError) as exc:
            callbacks.error(HotkeyError(f"The X11 hotkey stopped working ({exc}); {IPC_HINT}."))
        except HotkeyError as exc:  # the key could not be grabbed again after a remap
            callbacks.error(exc)
            grabs = None
        self._close(display, root, grabs)

    def _grab(self, display: Display, root: Window, grabs: GrabSet, hotkey: Hotkey) -> None:
        catch = xerror.CatchError(xerror.BadAccess)
        for code, mask in itertools.product(grabs.keycodes, grabs.masks):
            root.grab_key(code, mask, False, X.GrabModeAsync, X.GrabModeAsync, onerror=catch)
        display.sync()
        if catch.get_error() is not None:
            self._ungrab(root, grabs)  # those that succeeded; the others are not ours
            display.sync()
            raise HotkeyError(taken_message(hotkey))
        self.grabbed = grabs

    @staticmethod
    def _ungrab(root: Window, grabs: GrabSet) -> None:
        for code, mask in itertools.product(grabs.keycodes, grabs.masks):
            root.ungrab_key(code, mask)

    def _close(self, display: Display, root: Window, grabs: GrabSet | None) -> None:
        self.grabbed = None
        try:
            if grabs is not None:
                self._ungrab(root, grabs)
            display.close()  # flushes the ungrabs; the server drops any grab left anyway
        except (xerror.ConnectionClosedError, xerror.XError, OSError) as exc:
            log.debug("closing the X connection: %s", exc)

    def _serve(
        self,
        display: Display,
        root: Window,
        hotkey: Hotkey,
        grabs: GrabSet,
        callbacks: LoopCallbacks,
        wake_fd: int,
    ) -> GrabSet:
        """Deliver presses and releases until woken through ``wake_fd``."""
        fd = display.fileno()
        while True:
            queue: deque[rq.Event] = deque()
            self._read(display, queue)
            while queue:
                event = queue.popleft()
                if self._remaps(event):
                    grabs = self._remap(display, root, hotkey, grabs)
                elif event.type not in (X.KeyPress, X.KeyRelease):
                    continue
                elif event.detail not in grabs.keycodes:
                    continue  # another key typed while ours holds the keyboard grab
                elif isinstance(event, xevent.KeyPress):
                    if not callbacks.press():
                        self.repeats_ignored += 1
                elif not self.xkb.detectable_autorepeat and self._repeat_follows(
                    display, queue, event
                ):
                    continue  # the pair was dropped
                else:
                    callbacks.release()
            readable, _, _ = select.select([fd, wake_fd], [], [])
            if wake_fd in readable:
                return grabs

    @staticmethod
    def _read(display: Display, queue: deque[rq.Event]) -> None:
        while display.pending_events():
            queue.append(display.next_event())

    def _repeat_follows(self, display: Display, queue: deque[rq.Event], release: rq.Event) -> bool:
        """Without detectable auto-repeat: is ``release`` half of a release/press pair?

        The server sends both halves at once; if the press has not been read yet, wait
        a moment for it before taking the release as real.
        """
        if not queue:
            select.select([display.fileno()], [], [], REPEAT_PAIR_WAIT_S)
            self._read(display, queue)
        if queue and _is_repeat(release, queue[0]):
            queue.popleft()
            self.repeats_ignored += 1
            return True
        return False

    def _remaps(self, event: rq.Event) -> bool:
        """Whether ``event`` says the keyboard mapping changed (core or XKB)."""
        if isinstance(event, xevent.MappingNotify):
            return event.request in (X.MappingKeyboard, X.MappingModifier)
        return event.type == self.xkb.event_code and event.detail in (
            XKB_NEW_KEYBOARD_NOTIFY,
            XKB_MAP_NOTIFY,
        )

    def _remap(self, display: Display, root: Window, hotkey: Hotkey, grabs: GrabSet) -> GrabSet:
        """After a keyboard mapping change, grab the key where it now is."""
        new = grab_set(display, hotkey)
        if new != grabs:
            log.info("keyboard mapping changed; grabbing %s again", describe_hotkey(hotkey))
            self._ungrab(root, grabs)
            self.grabbed = None
            self._grab(display, root, new, hotkey)
        return new
