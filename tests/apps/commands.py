"""Commands for the demo apps: lines on stdin, delivered on the Qt thread."""

from __future__ import annotations

import sys
import threading

from PySide6.QtCore import QObject, Signal


class Commands(QObject):
    """Stdin lines, re-emitted on the Qt thread; ``quit`` when stdin closes."""

    line = Signal(str)

    def start(self) -> None:
        """Read stdin on a daemon thread; the signal crosses to the GUI thread queued."""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in sys.stdin:
            self.line.emit(line.rstrip("\n"))
        self.line.emit("quit")
