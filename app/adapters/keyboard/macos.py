"""The ``Keyboard`` port on macOS: Quartz events through pyobjc (imported lazily).

Text is posted as key events carrying a Unicode string
(``CGEventKeyboardSetUnicodeString``), which does not depend on the keyboard layout.
macOS silently truncates that string at about 20 UTF-16 units per event, so text goes
in chunks of at most 20 units, never splitting a surrogate pair. Newline and tab are
the Return and Tab keys. Events come from a private event source with no flags set, so
a modifier the user still holds does not turn text into shortcuts.

Paste is Cmd+V with virtual key 9 (the ANSI "V" position; layouts that move V, such
as Dvorak - QWERTY Cmd, may differ).

Posting events needs the Accessibility permission (System Settings > Privacy &
Security > Accessibility); without it macOS drops them silently, so this checks
``CGPreflightPostEventAccess`` first and raises with instructions.

The window id is ``PID:WINDOW-NUMBER`` of the frontmost application's frontmost
window (pid from ``NSWorkspace`` when AppKit is installed, else from the first normal
on-screen window). Not verified here (no macOS in the test environment).
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

CHUNK_UNITS = 20
KEY_RETURN, KEY_TAB, KEY_V = 36, 48, 9
CHUNK_PAUSE_S = 0.005
NO_ACCESS = (
    "Hark needs the Accessibility permission to type: System Settings > Privacy & Security "
    "> Accessibility."
)


def utf16_chunks(text: str, limit: int = CHUNK_UNITS) -> list[str]:
    """``text`` in pieces of at most ``limit`` UTF-16 units, whole characters only."""
    chunks: list[str] = []
    current, units = "", 0
    for char in text:
        size = 2 if ord(char) > 0xFFFF else 1
        if units + size > limit:
            chunks.append(current)
            current, units = "", 0
        current += char
        units += size
    if current:
        chunks.append(current)
    return chunks


def _pieces(text: str) -> list[str]:
    """Runs of ordinary text, and newlines and tabs on their own."""
    pieces: list[str] = []
    run = ""
    for char in text.replace("\r\n", "\n").replace("\r", "\n"):
        if char in "\n\t":
            if run:
                pieces.append(run)
            pieces.append(char)
            run = ""
        else:
            run += char
    if run:
        pieces.append(run)
    return pieces


class MacKeyboard:
    """Quartz typing and paste (see the module docstring).

    Raises:
        ImportError: Without pyobjc's Quartz framework (``pyobjc-framework-Quartz``).
    """

    name = "macos"

    def __init__(self) -> None:
        self._q: Any = importlib.import_module("Quartz")
        try:
            self._appkit: Any = importlib.import_module("AppKit")
        except ImportError:
            self._appkit = None

    def active_window(self) -> str | None:
        """``PID:WINDOW-NUMBER`` of the frontmost window, or ``None``."""
        q = self._q
        pid = None
        if self._appkit is not None:
            app = self._appkit.NSWorkspace.sharedWorkspace().frontmostApplication()
            pid = int(app.processIdentifier()) if app is not None else None
        options = q.kCGWindowListOptionOnScreenOnly | q.kCGWindowListExcludeDesktopElements
        for info in q.CGWindowListCopyWindowInfo(options, q.kCGNullWindowID) or ():
            owner = int(info.get(q.kCGWindowOwnerPID, -1))
            if info.get(q.kCGWindowLayer, 1) == 0 and pid in (None, owner):
                return f"{owner}:{int(info.get(q.kCGWindowNumber, 0))}"
        return None if pid is None else f"{pid}:0"

    def modifiers_down(self) -> bool:
        """Whether Shift, Control, Option or Command is held."""
        q = self._q
        flags = q.CGEventSourceFlagsState(q.kCGEventSourceStateCombinedSessionState)
        mask = (
            q.kCGEventFlagMaskShift
            | q.kCGEventFlagMaskControl
            | q.kCGEventFlagMaskAlternate
            | q.kCGEventFlagMaskCommand
        )
        return bool(flags & mask)

    async def paste(self) -> None:
        """Send Cmd+V."""
        self._check_access()
        self._key(KEY_V, self._q.kCGEventFlagMaskCommand)

    async def type_text(self, text: str) -> None:
        """Type ``text`` as Unicode-string key events."""
        self._check_access()
        for index, piece in enumerate(_pieces(text)):
            if index:
                await asyncio.sleep(CHUNK_PAUSE_S)
            if piece == "\n":
                self._key(KEY_RETURN, 0)
            elif piece == "\t":
                self._key(KEY_TAB, 0)
            else:
                for number, chunk in enumerate(utf16_chunks(piece)):
                    if number:
                        await asyncio.sleep(CHUNK_PAUSE_S)
                    self._unicode(chunk)

    def _check_access(self) -> None:
        preflight = getattr(self._q, "CGPreflightPostEventAccess", None)
        if preflight is not None and not preflight():
            request = getattr(self._q, "CGRequestPostEventAccess", None)
            if request is not None:
                request()  # shows the system prompt once
            raise PermissionError(NO_ACCESS)

    def _source(self) -> Any:
        return self._q.CGEventSourceCreate(self._q.kCGEventSourceStatePrivate)

    def _key(self, keycode: int, flags: int) -> None:
        q = self._q
        source = self._source()
        for down in (True, False):
            event = q.CGEventCreateKeyboardEvent(source, keycode, down)
            q.CGEventSetFlags(event, flags)
            q.CGEventPost(q.kCGHIDEventTap, event)

    def _unicode(self, chunk: str) -> None:
        q = self._q
        source = self._source()
        units = len(chunk.encode("utf-16-le")) // 2
        for down in (True, False):
            event = q.CGEventCreateKeyboardEvent(source, 0, down)
            q.CGEventSetFlags(event, 0)
            q.CGEventKeyboardSetUnicodeString(event, units, chunk)
            q.CGEventPost(q.kCGHIDEventTap, event)
