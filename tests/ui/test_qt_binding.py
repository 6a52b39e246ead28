"""Guards against a Qt binding that corrupts Python's reference counts.

PySide6 6.12.0 on Python 3.11 lost one reference to ``None`` on every call returning
nothing and one to ``True`` on every Python-side ``emit``; a running app aborted within
a minute of live captions. pyproject.toml excludes that release; this test fails
loudly if a future one brings the bug back.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot


class _Source(QObject):
    fired = Signal(str)


def test_calls_and_emits_keep_reference_counts(qtbot: QtBot) -> None:
    timer = QTimer()
    widget = QWidget()
    qtbot.addWidget(widget)
    source = _Source()
    got: list[str] = []
    source.fired.connect(got.append)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(2000):
        timer.setInterval(5)
        widget.update()
        source.fired.emit("x")
    assert len(got) == 2000
    # Other code may take or drop a few references meanwhile; a leak costs thousands.
    assert abs(sys.getrefcount(None) - none_before) < 100
    assert abs(sys.getrefcount(True) - true_before) < 100
