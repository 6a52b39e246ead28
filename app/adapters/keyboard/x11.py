"""The ``Keyboard`` port on X11: XTEST key events through python-xlib.

Typing is independent of the keyboard layout. Each character is typed with a key of
the current layout when one has it (in the active XKB group, with Shift if needed);
any other character (``é`` on a US layout, ``€``, ``中``, emoji) is typed with a
*spare* keycode (one with no keysyms) temporarily given that character's keysym, as
``xdotool type`` does.

Remapping is timing-sensitive: the target application decodes a key event with the
keymap it fetches when it *processes* the event, so a keycode remapped again before
the target caught up types the wrong character (docs/desktop-integration.md §2: with xdotool,
0 of 6 runs exact at 5 ms per remapped character). Here:

* up to ``spare_keycodes`` different characters are mapped at once, each on its own
  keycode, so a run of text needs a remap only when it holds more new characters;
* before a keycode is remapped again (and before the spare keycodes are restored at
  the end) the target must have processed every key sent so far: we send it a
  ``_NET_WM_PING`` and wait for the answer, which a client sends only after handling
  all earlier events (Qt, GTK, Chromium and most toolkits answer pings); a target
  without ``_NET_WM_PING`` (xterm) gets a fixed ``settle_s`` pause instead.

Caps Lock is switched off while typing and on again afterwards.

Paste sends Ctrl+V, or Ctrl+Shift+V to terminal emulators (by ``WM_CLASS``). xterm and
rxvt have no key that pastes the CLIPBOARD selection (Shift+Insert pastes PRIMARY), so
pasting there raises :class:`PasteUnsupportedError`: choose "Type" for them.
"""

from __future__ import annotations

import asyncio
import logging
import time

from Xlib import XK, X
from Xlib import display as xdisplay
from Xlib import error as xerror
from Xlib.ext import xtest
from Xlib.protocol import event as xevent
from Xlib.protocol import rq

from app.adapters.keyboard.keysyms import Layout, char_to_keysym, keystrokes, read_layout

log = logging.getLogger(__name__)

TERMINALS = frozenset(
    name.lower()
    for name in (
        "Alacritty", "kitty", "foot", "footclient", "gnome-terminal", "gnome-terminal-server",
        "konsole", "tilix", "terminator", "xfce4-terminal", "org.wezfurlong.wezterm", "wezterm",
        "st", "st-256color", "terminology", "lxterminal", "mate-terminal", "qterminal", "sakura",
        "guake", "tilda", "termite", "deepin-terminal", "io.elementary.terminal", "kgx",
        "org.gnome.Console", "org.gnome.Ptyxis", "ptyxis", "com.mitchellh.ghostty", "ghostty",
        "contour", "cool-retro-term", "Hyper", "tabby", "warp", "Eterm", "roxterm", "yakuake",
    )
)  # fmt: skip
PRIMARY_ONLY = frozenset({"xterm", "uxterm", "urxvt", "rxvt", "urxvt-unicode", "rxvt-unicode"})
YIELD_EVERY = 64  # keystrokes between returns to the event loop
_LOCK_KEYSYMS = {XK.XK_Caps_Lock, XK.XK_Shift_Lock, XK.XK_Num_Lock, XK.XK_Scroll_Lock}


class PasteUnsupportedError(RuntimeError):
    """The focused application has no key that pastes the clipboard."""


class X11Keyboard:
    """Synthetic input on an X display (see the module docstring).

    Args:
        display_name: The display (default: ``$DISPLAY``).
        spare_keycodes: How many unused keycodes to borrow for characters that are
            not on the layout.
        settle_s: The pause before remapping when the target does not answer pings.
        ping_timeout_s: How long to wait for a ping answer before pausing instead.

    Raises:
        Xlib.error.DisplayError: When the display cannot be opened.
        RuntimeError: When the server has no XTEST extension.
    """

    name = "x11"

    def __init__(
        self,
        display_name: str | None = None,
        *,
        spare_keycodes: int = 8,
        settle_s: float = 0.1,
        ping_timeout_s: float = 1.0,
    ) -> None:
        self._display = xdisplay.Display(display_name)
        extension = self._display.query_extension("XTEST")
        if extension is None or not extension.present:
            self._display.close()
            raise RuntimeError("The X server has no XTEST extension; typing is unavailable.")
        self._display.set_error_handler(self._on_error)
        self._root = self._display.screen().root
        self.spare_keycodes = spare_keycodes
        self.settle_s = settle_s
        self.ping_timeout_s = ping_timeout_s
        self._ping_serial = 0
        self.pings_answered = 0  # for tests and diagnostics
        self.pauses = 0

    def close(self) -> None:
        """Close the X connection."""
        self._display.close()

    # -- focus and modifiers -------------------------------------------------------

    def active_window(self) -> str | None:
        """The active top-level window as ``0x...``, or ``None`` when none has the focus."""
        window = self._active_window_id()
        self._drain()
        return None if window is None else f"0x{window:x}"

    def modifiers_down(self) -> bool:
        """Whether a key bound to Shift, Control, Alt, Super or AltGr is held."""
        pressed = self._display.query_keymap()
        held = any(pressed[code // 8] & (1 << (code % 8)) for code in self._modifier_keycodes())
        self._drain()
        return held

    def _active_window_id(self) -> int | None:
        prop = self._root.get_full_property(self._atom("_NET_ACTIVE_WINDOW"), X.AnyPropertyType)
        if prop is not None and len(prop.value) and prop.value[0]:
            return int(prop.value[0])
        focus = self._display.get_input_focus().focus
        if isinstance(focus, int):  # None or PointerRoot
            return None
        window = focus
        while True:  # the top-level that holds the focused child
            parent = window.query_tree().parent
            if isinstance(parent, int) or parent.id == self._root.id:
                return int(window.id)
            window = parent

    def _modifier_keycodes(self) -> set[int]:
        codes: set[int] = set()
        for index, keycodes in enumerate(self._display.get_modifier_mapping()):
            if index == X.LockMapIndex:
                continue
            codes.update(
                code
                for code in keycodes
                if code and self._display.keycode_to_keysym(code, 0) not in _LOCK_KEYSYMS
            )
        return codes

    # -- paste -----------------------------------------------------------------------

    async def paste(self) -> None:
        """Send Ctrl+V (Ctrl+Shift+V to terminals) to the focused window.

        Raises:
            PasteUnsupportedError: For xterm and rxvt (see the module docstring).
        """
        klass = self._active_class()
        if klass & PRIMARY_ONLY:
            raise PasteUnsupportedError(
                f"{sorted(klass & PRIMARY_ONLY)[0]} cannot paste the clipboard with a key; "
                "use the Type method for it"
            )
        layout = self._layout()
        control = layout.keycode_of(XK.XK_Control_L) or layout.keycode_of(XK.XK_Control_R)
        if control is None:
            raise RuntimeError("The keyboard mapping has no Control key.")
        chord = [control]
        if klass & TERMINALS:
            chord.append(self._shift(layout))
        borrowed: dict[int, list[int]] = {}
        try:
            await self._caps_off(layout)
            v_key = self._key_for("v", layout, borrowed)
            for code in chord:
                self._fake(X.KeyPress, code)
            self._tap(v_key)
            for code in reversed(chord):
                self._fake(X.KeyRelease, code)
            self._display.sync()
        finally:
            await self._finish(layout, borrowed)

    def _active_class(self) -> set[str]:
        window_id = self._active_window_id()
        if window_id is None:
            return set()
        window = self._display.create_resource_object("window", window_id)
        try:
            names = window.get_wm_class() or ()
        except xerror.XError:
            return set()
        return {name.lower() for name in names}

    # -- typing ----------------------------------------------------------------------

    async def type_text(self, text: str) -> None:
        """Type ``text`` into the focused window, character by character (Unicode)."""
        chars = list(keystrokes(text))
        if not chars:
            return
        layout = self._layout()
        borrowed: dict[int, list[int]] = {}  # spare keycode -> its original keysyms
        holding: dict[str, int] = {}  # char -> spare keycode now mapped to it
        if not layout.spare and any(char not in layout.direct for char in chars):
            raise RuntimeError("The keyboard mapping has no unused keycode to type with.")
        try:
            await self._caps_off(layout)
            start = 0
            while start < len(chars):
                end, needed = self._segment(chars, start, layout)
                missing = [char for char in needed if char not in holding]
                if missing:
                    if borrowed:  # keys typed with borrowed keycodes must be decoded first
                        await self._settle()
                    self._assign(missing, needed, holding, layout, borrowed)
                for index, char in enumerate(chars[start:end], 1):
                    if char in holding:
                        self._tap(holding[char])
                    else:
                        code, shift = layout.direct[char]
                        self._tap(code, shift=self._shift(layout) if shift else None)
                    if index % YIELD_EVERY == 0:  # long text: let the event loop run
                        self._display.flush()
                        await asyncio.sleep(0)
                self._display.flush()
                start = end
        finally:
            await self._finish(layout, borrowed)
            self._drain()

    def _segment(self, chars: list[str], start: int, layout: Layout) -> tuple[int, list[str]]:
        """The end of the next run that needs at most as many new keysyms as spare keys."""
        needed: list[str] = []
        end = start
        while end < len(chars):
            char = chars[end]
            if char not in layout.direct and char not in needed:
                if len(needed) == len(layout.spare):
                    break
                needed.append(char)
            end += 1
        if end == start:
            raise RuntimeError("The keyboard mapping has no unused keycode to type with.")
        return end, needed

    def _assign(
        self,
        missing: list[str],
        needed: list[str],
        holding: dict[str, int],
        layout: Layout,
        borrowed: dict[int, list[int]],
    ) -> None:
        busy = {holding[char] for char in needed if char in holding}
        free = [code for code in layout.spare if code not in busy]
        for char, code in zip(missing, free, strict=False):
            for old in [c for c, k in holding.items() if k == code]:
                del holding[old]
            self._remap(code, char_to_keysym(char), layout, borrowed)
            holding[char] = code
        self._display.sync()  # the server has the new mapping before any key event

    def _key_for(self, char: str, layout: Layout, borrowed: dict[int, list[int]]) -> int:
        if char in layout.direct and not layout.direct[char][1]:
            return layout.direct[char][0]
        if not layout.spare:
            raise RuntimeError("The keyboard mapping has no unused keycode to type with.")
        code = layout.spare[0]
        self._remap(code, char_to_keysym(char), layout, borrowed)
        self._display.sync()
        return code

    # -- X helpers -------------------------------------------------------------------

    def _layout(self) -> Layout:
        info = self._display.display.info
        first, last = info.min_keycode, info.max_keycode
        rows = [list(row) for row in self._display.get_keyboard_mapping(first, last - first + 1)]
        state = int(self._root.query_pointer().mask)
        return read_layout(first, rows, state, spare=self.spare_keycodes)

    def _remap(
        self, code: int, keysym: int, layout: Layout, borrowed: dict[int, list[int]]
    ) -> None:
        borrowed.setdefault(code, layout.rows[code - layout.min_keycode])
        # Both levels: a single keysym would get an upper/lower-case pair from the server.
        self._display.change_keyboard_mapping(code, [(keysym, keysym)])

    def _shift(self, layout: Layout) -> int:
        code = layout.keycode_of(XK.XK_Shift_L) or layout.keycode_of(XK.XK_Shift_R)
        if code is None:
            raise RuntimeError("The keyboard mapping has no Shift key.")
        return code

    def _fake(self, kind: int, code: int) -> None:
        xtest.fake_input(self._display, kind, code)

    def _tap(self, code: int, *, shift: int | None = None) -> None:
        if shift is not None:
            self._fake(X.KeyPress, shift)
        self._fake(X.KeyPress, code)
        self._fake(X.KeyRelease, code)
        if shift is not None:
            self._fake(X.KeyRelease, shift)

    async def _caps_off(self, layout: Layout) -> None:
        if layout.caps_lock and (code := layout.keycode_of(XK.XK_Caps_Lock)) is not None:
            self._tap(code)
            self._display.sync()

    async def _finish(self, layout: Layout, borrowed: dict[int, list[int]]) -> None:
        """Wait for the target, give the borrowed keycodes back, turn Caps Lock on again."""
        if borrowed:
            await self._settle()
            for code, row in borrowed.items():
                self._display.change_keyboard_mapping(code, [tuple(row) or (0,)])
        caps = layout.keycode_of(XK.XK_Caps_Lock)
        if layout.caps_lock and caps is not None:
            self._tap(caps)
        self._display.sync()

    async def _settle(self) -> None:
        """Return once the focused client has handled every key sent so far."""
        self._display.flush()
        if await self._ping():
            self.pings_answered += 1
            return
        self.pauses += 1
        await asyncio.sleep(self.settle_s)

    async def _ping(self) -> bool:
        window_id = self._active_window_id()
        if window_id is None:
            return False
        window = self._display.create_resource_object("window", window_id)
        ping = self._atom("_NET_WM_PING")
        try:
            if ping not in window.get_wm_protocols():
                return False
        except xerror.XError:
            return False
        self._ping_serial = (self._ping_serial + 1) & 0x7FFFFFFF
        stamp = self._ping_serial
        message = xevent.ClientMessage(
            window=window,
            client_type=self._atom("WM_PROTOCOLS"),
            data=(32, [ping, stamp, window_id, 0, 0]),
        )
        # The answer goes to the root window, for listeners of SubstructureRedirect and
        # SubstructureNotify (EWMH, GTK) or StructureNotify (Qt).
        self._root.change_attributes(event_mask=X.SubstructureNotifyMask | X.StructureNotifyMask)
        try:
            window.send_event(message, event_mask=X.NoEventMask)
            self._display.flush()
            return await self._pong(ping, stamp, time.monotonic() + self.ping_timeout_s)
        finally:
            self._root.change_attributes(event_mask=X.NoEventMask)
            self._display.sync()
            self._drain()

    async def _pong(self, ping: int, stamp: int, deadline: float) -> bool:
        while True:
            while self._display.pending_events():
                event = self._display.next_event()
                if event.type == X.MappingNotify:
                    self._display.refresh_keyboard_mapping(event)
                elif (
                    event.type == X.ClientMessage
                    and event.data[0] == 32
                    and list(event.data[1][:2]) == [ping, stamp]
                ):
                    return True
            if time.monotonic() >= deadline:
                log.info("no answer to _NET_WM_PING")
                return False
            await asyncio.sleep(0.002)

    def _atom(self, name: str) -> int:
        return int(self._display.intern_atom(name))

    def _drain(self) -> None:
        """Handle queued events (our own MappingNotify ones) so the queue never grows."""
        while self._display.pending_events():
            event = self._display.next_event()
            if event.type == X.MappingNotify:
                self._display.refresh_keyboard_mapping(event)

    def _on_error(self, error: xerror.XError, request: rq.Request | None = None) -> None:
        log.warning("X error: %s", error)
