"""QtClipboard on the offscreen platform (an in-process clipboard).

Serving the clipboard to another X client, and restoring after a real paste, are
checked in tests/x11/test_insertion_x11.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData
from PySide6.QtGui import QClipboard, QColor, QImage
from PySide6.QtWidgets import QApplication

from app.ui.clipboard import KDE_HINT, WINDOWS_HINTS, ClipboardSnapshot, QtClipboard
from tests.helpers import ROOT


@pytest.fixture
def board(qapp: QApplication) -> Iterator[QClipboard]:
    clipboard = qapp.clipboard()
    clipboard.clear()
    yield clipboard
    clipboard.clear()


def png_bytes() -> bytes:
    image = QImage(4, 3, QImage.Format.Format_ARGB32)
    image.fill(QColor("red"))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stubs say bytes
    return bytes(data.data())


def formats(board: QClipboard) -> dict[str, bytes]:
    data = board.mimeData()
    assert data is not None
    return {name: bytes(data.data(name).data()) for name in data.formats()}


def test_transient_text_carries_the_clipboard_manager_hint(board: QClipboard) -> None:
    QtClipboard(board, platform="linux").set_text("dictated é 😀", transient=True)
    assert board.text() == "dictated é 😀"
    assert formats(board)[KDE_HINT] == b"secret"


def test_transient_text_on_windows_excludes_history_and_monitors(board: QClipboard) -> None:
    QtClipboard(board, platform="win32").set_text("dictated", transient=True)
    seen = formats(board)
    for name, value in WINDOWS_HINTS.items():
        assert seen[name] == value == b"\0\0\0\0"
    assert 'application/x-qt-windows-mime;value="CanIncludeInClipboardHistory"' in seen


def test_text_that_should_stay_has_no_hint(board: QClipboard) -> None:
    QtClipboard(board, platform="linux").set_text("keep me", transient=False)
    assert board.text() == "keep me"
    assert KDE_HINT not in formats(board)


def test_owns_until_someone_else_sets_the_clipboard(board: QClipboard) -> None:
    ours = QtClipboard(board)
    assert not ours.owns()
    ours.set_text("dictated", transient=True)
    assert ours.owns()
    board.setText("copied by the user")
    assert not ours.owns()
    ours.set_text("again", transient=True)
    assert ours.owns()
    QtClipboard(board).set_text("another client", transient=False)
    assert not ours.owns()


def test_snapshot_and_restore_keep_every_format(board: QClipboard) -> None:
    original = QMimeData()
    original.setText("plain")
    original.setHtml("<b>rich</b>")
    original.setData("image/png", png_bytes())
    original.setData("application/x-hark-test", b"\x00\x01binary\xff")
    board.setMimeData(original)
    before = formats(board)
    clipboard = QtClipboard(board)
    snapshot = clipboard.snapshot()
    assert isinstance(snapshot, ClipboardSnapshot)
    clipboard.set_text("dictated", transient=True)
    assert board.text() == "dictated"
    clipboard.restore(snapshot)
    assert formats(board) == before
    assert before["image/png"] == png_bytes()
    assert board.text() == "plain"
    assert not clipboard.owns()  # what is there now is the user's again


def test_restoring_an_empty_clipboard_empties_it(board: QClipboard) -> None:
    clipboard = QtClipboard(board)
    snapshot = clipboard.snapshot()
    clipboard.set_text("dictated", transient=True)
    clipboard.restore(snapshot)
    assert board.text() == ""


def test_restore_rejects_foreign_objects(board: QClipboard) -> None:
    with pytest.raises(TypeError):
        QtClipboard(board).restore({"text": "x"})


def test_a_process_that_set_the_clipboard_exits_cleanly(tmp_path: Path) -> None:
    """PySide crashed at exit (status 139) when our QMimeData was still on the clipboard."""
    script = (
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from app.ui.clipboard import QtClipboard\n"
        "QtClipboard().set_text('still on the clipboard', transient=True)\n"
        "print('done')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "done"
    assert done.returncode == 0, done.stderr
