"""The X11 hotkey backend on a real X server (Xvfb + openbox), driven by xdotool (XTEST).

Each test starts the backend in-process on the running asyncio loop, with ``DISPLAY``
pointing at a fresh Xvfb, and waits on conditions with timeouts: the callbacks set
asyncio events, and auto-repeat is awaited through the backend's repeat counter.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from Xlib import X
from Xlib import error as xerror
from Xlib.display import Display

from app.adapters.hotkeys import x11 as x11_module
from app.adapters.hotkeys.base import HotkeyError
from app.adapters.hotkeys.x11 import X11Backend
from app.adapters.hotkeys.xkb import XkbSetup
from app.core.hotkey import parse_hotkey
from tests.desktop import x_display, x_run, xdotool
from tests.helpers import TIMEOUT_FACTOR

HOTKEY = parse_hotkey("ctrl+alt+space")


@pytest.fixture
def desktop(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with x_display() as env:
        monkeypatch.setenv("DISPLAY", env["DISPLAY"])
        yield env


class Recorder:
    """Counts callbacks, checks they run on the loop's thread, and lets tests await them."""

    def __init__(self) -> None:
        self.presses = 0
        self.releases = 0
        self.errors: list[HotkeyError] = []
        self.log: list[str] = []
        self.changed = asyncio.Event()
        self.thread = threading.get_ident()

    def _seen(self, what: str) -> None:
        assert threading.get_ident() == self.thread, f"{what} not on the event loop's thread"
        self.log.append(what)
        self.changed.set()

    def on_press(self) -> None:
        self.presses += 1
        self._seen("press")

    def on_release(self) -> None:
        self.releases += 1
        self._seen("release")

    def on_error(self, error: HotkeyError) -> None:
        self.errors.append(error)
        self._seen("error")

    async def until(self, check: Callable[[], bool], what: str, limit_s: float = 10) -> None:
        """Wait until ``check()`` holds after some callback, or fail after ``limit_s``."""

        async def wait() -> None:
            while not check():
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(wait(), limit_s * TIMEOUT_FACTOR)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; saw {self.log}") from None


async def until(check: Callable[[], bool], what: str, limit_s: float = 10) -> None:
    """Poll a condition set by another thread (here: the backend's repeat counter)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s * TIMEOUT_FACTOR
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit_s}s waiting for {what}")
        await asyncio.sleep(0.02)


def start(backend: X11Backend, rec: Recorder, hotkey: str = "ctrl+alt+space") -> None:
    backend.start(parse_hotkey(hotkey), rec.on_press, rec.on_release, on_error=rec.on_error)


def keycode_of(char: str) -> int:
    """The keycode of a character on the current layout, from a separate client."""
    display = Display()
    try:
        return int(display.keysym_to_keycode(ord(char)))
    finally:
        display.close()


def modifier_state() -> int:
    """The current modifier/lock mask of the core keyboard, from a separate client."""
    display = Display()
    try:
        return int(display.screen().root.query_pointer().mask)
    finally:
        display.close()


async def press_and_release(env: dict[str, str], rec: Recorder, n: int) -> None:
    """Tap the hotkey and wait for the n-th press and release."""
    xdotool(env, "keydown", "ctrl+alt+space")
    await rec.until(lambda: rec.presses == n, f"press {n}")
    xdotool(env, "keyup", "space", "alt", "ctrl")
    await rec.until(lambda: rec.releases == n, f"release {n}")


async def test_holding_gives_one_press_and_one_release(desktop: dict[str, str]) -> None:
    rec, backend = Recorder(), X11Backend()
    start(backend, rec)
    try:
        assert backend.xkb.detectable_autorepeat
        xdotool(desktop, "keydown", "ctrl+alt+space")
        await rec.until(lambda: rec.presses == 1, "the press")
        xdotool(desktop, "keydown", "space")  # XTEST presses of a key already down
        xdotool(desktop, "keydown", "space")
        # the server's own auto-repeat starts after ~660 ms at 25/s
        await until(lambda: backend.repeats_ignored >= 8, "auto-repeat while held")
        assert (rec.presses, rec.releases) == (1, 0)
        xdotool(desktop, "keyup", "space")
        await rec.until(lambda: rec.releases == 1, "the release")
        xdotool(desktop, "keyup", "alt", "ctrl")
        # a second tap: any stray event of the first would have arrived before it
        await press_and_release(desktop, rec, 2)
        assert rec.log == ["press", "release", "press", "release"]
        assert rec.errors == []
    finally:
        backend.stop()


async def test_without_detectable_autorepeat_repeat_pairs_are_dropped(
    desktop: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on a server without XKB: the connection never asks for detectable auto-repeat,
    # so each repeat arrives as a release and a press with the same timestamp.
    monkeypatch.setattr(x11_module, "setup_xkb", lambda display: XkbSetup())
    rec, backend = Recorder(), X11Backend()
    start(backend, rec)
    try:
        assert not backend.xkb.detectable_autorepeat
        xdotool(desktop, "keydown", "ctrl+alt+space")
        await rec.until(lambda: rec.presses == 1, "the press")
        await until(lambda: backend.repeats_ignored >= 8, "release/press repeat pairs")
        xdotool(desktop, "keyup", "space", "alt", "ctrl")
        await rec.until(lambda: rec.releases == 1, "the release")
        await press_and_release(desktop, rec, 2)
        assert rec.log == ["press", "release", "press", "release"]
    finally:
        backend.stop()


async def test_releasing_the_modifiers_first_still_releases(desktop: dict[str, str]) -> None:
    rec, backend = Recorder(), X11Backend()
    start(backend, rec)
    try:
        xdotool(desktop, "keydown", "ctrl+alt+space")
        await rec.until(lambda: rec.presses == 1, "the press")
        xdotool(desktop, "keyup", "ctrl", "alt")
        xdotool(desktop, "key", "b")  # another key while ours holds the keyboard: ignored
        assert rec.releases == 0
        xdotool(desktop, "keyup", "space")
        await rec.until(lambda: rec.releases == 1, "the release")
        await press_and_release(desktop, rec, 2)
        assert rec.log == ["press", "release", "press", "release"]
    finally:
        backend.stop()


async def test_num_lock_and_caps_lock_do_not_matter(desktop: dict[str, str]) -> None:
    rec, backend = Recorder(), X11Backend()
    start(backend, rec)
    try:
        xdotool(desktop, "key", "Num_Lock")
        xdotool(desktop, "key", "Caps_Lock")
        state = modifier_state()
        assert state & X.Mod2Mask, "Num Lock did not turn on"
        assert state & X.LockMask, "Caps Lock did not turn on"
        await press_and_release(desktop, rec, 1)
        xdotool(desktop, "key", "Caps_Lock")  # Num Lock alone
        assert modifier_state() & (X.Mod2Mask | X.LockMask) == X.Mod2Mask
        await press_and_release(desktop, rec, 2)
    finally:
        backend.stop()


async def test_another_client_cannot_take_it_until_stop(desktop: dict[str, str]) -> None:
    rec, first = Recorder(), X11Backend()
    start(first, rec)
    second = X11Backend()
    with pytest.raises(HotkeyError) as refused:
        start(second, Recorder())
    message = str(refused.value)
    assert "Ctrl+Alt+Space is already taken by another application" in message
    assert "hark ptt press" in message
    assert "\n" not in message
    await press_and_release(desktop, rec, 1)  # the first still has it

    thread = first._thread
    assert thread is not None
    assert thread.is_alive()
    first.stop()
    assert not thread.is_alive()
    first.stop()  # idempotent

    rec2 = Recorder()
    start(second, rec2)  # the grab was released
    try:
        await press_and_release(desktop, rec2, 1)
        assert rec.presses == 1, "a stopped backend must deliver nothing"
    finally:
        second.stop()


async def test_stop_releases_the_grab_for_any_client(desktop: dict[str, str]) -> None:
    backend = X11Backend()
    start(backend, Recorder())
    backend.stop()
    other = Display()
    try:
        code = other.keysym_to_keycode(0x20)
        catch = xerror.CatchError(xerror.BadAccess)
        root = other.screen().root
        root.grab_key(code, X.ControlMask | X.Mod1Mask, False, X.GrabModeAsync, X.GrabModeAsync,
                      onerror=catch)  # fmt: skip
        other.sync()
        assert catch.get_error() is None
    finally:
        other.close()


async def test_a_layout_switch_grabs_the_key_where_it_moved(desktop: dict[str, str]) -> None:
    rec, backend = Recorder(), X11Backend()
    start(backend, rec, "ctrl+alt+q")
    try:
        xdotool(desktop, "keydown", "ctrl+alt+q")
        await rec.until(lambda: rec.presses == 1, "the press on the US layout")
        xdotool(desktop, "keyup", "q", "alt", "ctrl")
        await rec.until(lambda: rec.releases == 1, "the release")
        us_code = keycode_of("q")
        x_run(desktop, "setxkbmap", "-layout", "fr")  # AZERTY: q moves to where a was
        fr_code = keycode_of("q")
        assert fr_code != us_code
        await until(
            lambda: fr_code in backend_keycodes(backend), "the grab to follow the layout", 10
        )
        xdotool(desktop, "keydown", "ctrl+alt+q")  # xdotool types q on its new key
        await rec.until(lambda: rec.presses == 2, "the press on the French layout")
        xdotool(desktop, "keyup", "q", "alt", "ctrl")
        await rec.until(lambda: rec.releases == 2, "the release")
    finally:
        backend.stop()


def backend_keycodes(backend: X11Backend) -> frozenset[int]:
    return backend.grabbed.keycodes if backend.grabbed else frozenset()


async def test_keys_off_the_layout_and_modifier_only_keys_are_refused(
    desktop: dict[str, str],
) -> None:
    backend = X11Backend()
    with pytest.raises(HotkeyError, match="not on the current keyboard layout"):
        start(backend, Recorder(), "ctrl+alt+я")
    with pytest.raises(HotkeyError, match="alone cannot be a hotkey with X11"):
        start(backend, Recorder(), "ctrl_r")
    start(backend, Recorder())  # a failed start leaves it usable
    backend.stop()


async def test_a_bad_display_is_a_hotkey_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":4077")  # nothing listens there
    with pytest.raises(HotkeyError, match="Cannot open the X display"):
        start(X11Backend(), Recorder())


async def test_losing_the_server_releases_a_held_key_and_reports(
    desktop: dict[str, str],
) -> None:
    rec, backend = Recorder(), X11Backend()
    start(backend, rec)
    try:
        xdotool(desktop, "keydown", "ctrl+alt+space")
        await rec.until(lambda: rec.presses == 1, "the press")
        display = desktop["DISPLAY"].lstrip(":")
        xvfb_pid = int(Path(f"/tmp/.X{display}-lock").read_text().strip())
        os.kill(xvfb_pid, signal.SIGTERM)  # the Xvfb this test started
        await rec.until(lambda: bool(rec.errors), "the error")
        assert rec.log == ["press", "release", "error"]  # no key left stuck down
        assert "stopped working" in str(rec.errors[0])
    finally:
        backend.stop()
