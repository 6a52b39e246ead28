"""Inserts text into the focused window on a real X display, driven by stdin commands.

Usage: ``python insert_demo.py`` (with ``DISPLAY`` set)

Builds the app's pieces: a QApplication on a qasync loop, :class:`QtClipboard`, the X11
keyboard and an :class:`Inserter`, then prints ``READY``. Commands, one per line
(TEXT is a JSON string, so it may hold any character):

* ``target``: prints ``TARGET ID`` (the focused window now, ``-`` if unknown)
* ``insert METHOD ID|- TEXT``: inserts; prints ``DONE STATUS SECONDS MESSAGE-JSON``.
  While it waits for held modifiers it prints ``MODS_HELD`` once.
* ``settle`` (after ``insert``): prints ``SETTLE PINGS PAUSES``, how the keyboard waited
* ``drain``: waits for pending clipboard restores; prints ``DRAINED``
* ``clip``: prints ``CLIP TEXT-JSON``, the clipboard's text as this process sees it
* ``keymap``: prints ``KEYMAP DIGEST``, a hash of the server's keyboard mapping
* ``quit``
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import qasync
from PySide6.QtWidgets import QApplication
from Xlib import display as xdisplay

from app.adapters.keyboard.x11 import X11Keyboard
from app.engine.insertion import Inserter
from app.ui.clipboard import QtClipboard


class ReportingKeyboard(X11Keyboard):
    """The X11 keyboard, saying when the inserter found modifiers held."""

    reported = False

    def modifiers_down(self) -> bool:
        """As the X11 keyboard; prints ``MODS_HELD`` the first time it is True."""
        held = super().modifiers_down()
        if held and not self.reported:
            self.reported = True
            print("MODS_HELD", flush=True)
        return held


def keymap_digest() -> str:
    """A hash of every keycode's keysyms, read on a connection of its own."""
    connection = xdisplay.Display()
    try:
        info = connection.display.info
        count = info.max_keycode - info.min_keycode + 1
        rows = connection.get_keyboard_mapping(info.min_keycode, count)
        return hashlib.sha1(repr([list(row) for row in rows]).encode()).hexdigest()[:16]
    finally:
        connection.close()


def read_lines(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str]) -> None:
    """Stdin lines into the queue, on a daemon thread; ``quit`` at the end."""
    for line in sys.stdin:
        loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\n"))
    loop.call_soon_threadsafe(lines.put_nowait, "quit")


async def serve(app: QApplication) -> None:
    """Answer commands until ``quit``."""
    keyboard = ReportingKeyboard()
    clipboard = QtClipboard(app.clipboard())
    inserter = Inserter(keyboard, clipboard, modifier_timeout_s=30.0)
    lines: asyncio.Queue[str] = asyncio.Queue()
    threading.Thread(
        target=read_lines, args=(asyncio.get_running_loop(), lines), daemon=True
    ).start()
    print("READY", flush=True)
    while (line := await lines.get()) != "quit":
        command, _, rest = line.partition(" ")
        if command == "target":
            print(f"TARGET {inserter.capture_target() or '-'}", flush=True)
        elif command == "insert":
            method, target, text = rest.split(" ", 2)
            keyboard.reported = False
            keyboard.pings_answered = keyboard.pauses = 0
            start = time.monotonic()
            outcome = await inserter.insert(
                json.loads(text), target=None if target == "-" else target, method=method
            )
            elapsed = time.monotonic() - start
            print(f"DONE {outcome.status} {elapsed:.3f} {json.dumps(outcome.message)}", flush=True)
        elif command == "settle":
            print(f"SETTLE {keyboard.pings_answered} {keyboard.pauses}", flush=True)
        elif command == "drain":
            await inserter.drain()
            print("DRAINED", flush=True)
        elif command == "keymap":
            print(f"KEYMAP {keymap_digest()}", flush=True)
        elif command == "clip":
            print(f"CLIP {json.dumps(app.clipboard().text())}", flush=True)
        else:
            print(f"UNKNOWN {line}", flush=True)
    await inserter.drain()
    keyboard.close()


def main() -> int:
    """Run the command loop on qasync."""
    app = QApplication(sys.argv[:1])
    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        runner.run(serve(app))
    return 0


if __name__ == "__main__":
    sys.exit(main())
