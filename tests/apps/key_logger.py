"""A window that logs the key chords it receives, posing as any application class.

Usage: ``RESOURCE_NAME=kitty python key_logger.py LOG_FILE [TITLE]``

Qt takes the ``WM_CLASS`` instance name from ``RESOURCE_NAME``, so the window can pose
as a terminal emulator. Each key press with Ctrl is appended to LOG_FILE as a line
such as ``ctrl+shift+V``. Prints ``READY`` once the window is exposed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget

Mod = Qt.KeyboardModifier


class Logger(QWidget):
    """Appends ``ctrl[+shift][+alt]+KEY`` for every key pressed with Ctrl."""

    def __init__(self, log: Path) -> None:
        super().__init__()
        self.log = log
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Log chords with Ctrl."""
        mods = event.modifiers()
        if mods & Mod.ControlModifier and event.key() not in (Qt.Key.Key_Control, Qt.Key.Key_Shift):
            parts = ["ctrl"]
            parts += ["shift"] if mods & Mod.ShiftModifier else []
            parts += ["alt"] if mods & Mod.AltModifier else []
            parts.append(chr(event.key()) if event.key() < 0x110000 else str(event.key()))
            with self.log.open("a", encoding="utf-8") as out:
                out.write("+".join(parts) + "\n")


def main() -> int:
    """Show the window until terminated."""
    log = Path(sys.argv[1])
    log.write_text("", encoding="utf-8")
    app = QApplication(sys.argv[:1])
    window = Logger(log)
    window.setWindowTitle(sys.argv[2] if len(sys.argv) > 2 else "KeyLogger")
    window.resize(400, 200)
    window.show()
    window.activateWindow()

    def ready() -> None:
        handle = window.windowHandle()
        if handle is not None and handle.isExposed():
            print("READY", flush=True)
        else:
            QTimer.singleShot(20, ready)

    QTimer.singleShot(0, ready)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
