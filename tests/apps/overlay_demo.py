"""Shows a CaptionOverlay on a real display, driven by commands on stdin.

Usage: ``python overlay_demo.py --ui-state FILE [--offset PX] [--width-percent N]
[--position top|bottom]``

Starts with a final caption, a partial and a status line, then prints
``READY x y width height window-id`` once the overlay is on screen. Each stdin line
``final UTT TEXT`` / ``partial UTT TEXT`` / ``status TEXT`` / ``error TEXT`` updates it and
is answered ``OK`` after the overlay has been repainted; ``quit`` exits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.adapters.settings_store import UiStateStore
from app.core.settings import OverlaySettings
from app.ui.overlay import CaptionOverlay
from tests.apps.commands import Commands

FINAL = "Hello from Hark — captions"
PARTIAL = "and more"
STATUS = "Listening"


def main() -> int:
    """Show the overlay and serve commands until ``quit``."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--ui-state", type=Path, required=True)
    parser.add_argument("--offset", type=int, default=None)
    parser.add_argument("--width-percent", type=int, default=40)
    parser.add_argument("--position", choices=("top", "bottom"), default="top")
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    settings = OverlaySettings(
        width_percent=args.width_percent, position=args.position, fade_after_s=0.0
    )
    overlay = CaptionOverlay(settings, UiStateStore(args.ui_state))
    if args.offset is not None:
        overlay.set_vertical_offset(args.offset)
    overlay.show_final("u1", FINAL)
    overlay.show_partial("u2", PARTIAL)
    overlay.set_status(STATUS)

    def flushed() -> None:
        overlay.repaint()
        QGuiApplication.sync()

    def ready() -> None:
        handle = overlay.windowHandle()
        if handle is None or not handle.isExposed():
            QTimer.singleShot(20, ready)
            return
        flushed()
        g = overlay.geometry()
        print("READY", g.x(), g.y(), g.width(), g.height(), int(overlay.winId()), flush=True)

    def command(line: str) -> None:
        verb, _, rest = line.partition(" ")
        if verb == "quit":
            app.quit()
            return
        if verb in ("final", "partial"):
            utterance, _, text = rest.partition(" ")
            (overlay.show_final if verb == "final" else overlay.show_partial)(utterance, text)
        elif verb in ("status", "error"):
            overlay.set_status(rest, error=verb == "error")
        else:
            print(f"ERROR unknown command {line!r}", flush=True)
            return
        flushed()
        print("OK", " ".join(overlay.visible_lines()), flush=True)

    commands = Commands()
    commands.line.connect(command)
    commands.start()
    QTimer.singleShot(0, ready)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
