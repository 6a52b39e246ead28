"""The "other application" for typing, paste and click-through tests.

See docs/desktop-integration.md §7.

Usage: ``python type_target.py OUT_FILE [TITLE]``

A window titled TITLE (default ``TypeTarget``) at (40, 40), 720x560: a text field on top
(TEXT_HEIGHT px) and a tall button filling the rest. The file always holds the field's
text, followed by ``|clicks=N`` once the button has been clicked N times. The button
never takes the focus, so typing still reaches the field after a click. Prints
``READY`` once the window is exposed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QApplication,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

TEXT_HEIGHT = 140
GEOMETRY = (40, 40, 720, 560)


def main() -> int:
    """Run the target window until it is closed or terminated."""
    out = Path(sys.argv[1])
    title = sys.argv[2] if len(sys.argv) > 2 else "TypeTarget"
    app = QApplication(sys.argv[:1])
    window = QWidget()
    window.setWindowTitle(title)
    text = QPlainTextEdit()
    text.setFixedHeight(TEXT_HEIGHT)
    button = QPushButton("Click target")
    button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
    layout = QVBoxLayout(window)
    layout.addWidget(text)
    layout.addWidget(button, 1)
    clicks = 0

    def dump() -> None:
        suffix = f"|clicks={clicks}" if clicks else ""
        out.write_text(text.toPlainText() + suffix, encoding="utf-8")

    def clicked() -> None:
        nonlocal clicks
        clicks += 1
        dump()

    text.textChanged.connect(dump)
    button.clicked.connect(clicked)
    dump()
    x, y, w, h = GEOMETRY
    window.resize(w, h)
    window.move(x, y)
    window.show()
    window.raise_()
    window.activateWindow()
    text.setFocus()

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
