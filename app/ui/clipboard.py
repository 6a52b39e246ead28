"""The system clipboard through Qt: the engine's ``Clipboard`` port.

Qt owns the clipboard for this process. On X11 the clipboard is *served* by the owner
on request, so the Qt event loop must keep running while another application pastes
(the engine only awaits; it never blocks).

:meth:`QtClipboard.set_text` with ``transient=True`` adds the hints that clipboard
managers honour, so dictated text does not fill their history:

* Linux (KDE Klipper, CopyQ, GPaste and most others):
  ``x-kde-passwordManagerHint`` = ``secret``.
* Windows: the registered formats ``ExcludeClipboardContentFromMonitorProcessing``,
  and ``CanIncludeInClipboardHistory`` / ``CanUploadToCloudClipboard`` = DWORD 0
  (Win+V history and cloud sync). Qt's Windows backend maps a MIME type
  ``application/x-qt-windows-mime;value="NAME"`` to the registered format ``NAME``
  with the raw bytes (the same names CopyQ checks). Not verified on Windows here.
* macOS: ``org.nspasteboard.TransientType`` (nspasteboard.org). Qt cannot write a raw
  pasteboard type (it maps unknown MIME types to ``com.trolltech.anymime.*``), so it is
  added through AppKit (pyobjc) when that is installed; otherwise it is skipped. Not
  verified on macOS here.

:meth:`QtClipboard.snapshot` copies every format Qt reports (text, HTML, images,
custom types) as bytes, and :meth:`QtClipboard.restore` puts them all back; an empty
snapshot restores an empty clipboard.
"""

from __future__ import annotations

import atexit
import importlib
import logging
import struct
import sys
from dataclasses import dataclass, field

from PySide6.QtCore import QMimeData
from PySide6.QtGui import QClipboard, QGuiApplication
from shiboken6 import Shiboken

log = logging.getLogger(__name__)

KDE_HINT = "x-kde-passwordManagerHint"
MAC_TRANSIENT = "org.nspasteboard.TransientType"
DWORD_ZERO = struct.pack("<I", 0)


def windows_format(name: str) -> str:
    """The MIME type Qt's Windows backend maps to the registered clipboard format ``name``."""
    return f'application/x-qt-windows-mime;value="{name}"'


WINDOWS_HINTS = {
    windows_format("ExcludeClipboardContentFromMonitorProcessing"): DWORD_ZERO,
    windows_format("CanIncludeInClipboardHistory"): DWORD_ZERO,
    windows_format("CanUploadToCloudClipboard"): DWORD_ZERO,
}

# Not copied: Qt-internal formats regenerated from the others (as bytes they would put a
# raw byte string where Qt expects a QImage/QColor variant), and the X11 selection
# protocol's meta-targets, which Qt lists for some owners (xclip: TARGETS).
_SKIP = {
    "application/x-qt-image",
    "application/x-color",
    "TARGETS",
    "MULTIPLE",
    "TIMESTAMP",
    "SAVE_TARGETS",
    "DELETE",
    "INSERT_SELECTION",
    "INSERT_PROPERTY",
}


@dataclass(frozen=True)
class ClipboardSnapshot:
    """Everything that was on the clipboard: MIME type -> bytes, in Qt's order."""

    formats: dict[str, bytes] = field(default_factory=dict)
    image: object | None = None  # a QImage when the content had one


def transient_hints(platform: str) -> dict[str, bytes]:
    """The extra formats that ask clipboard managers on ``platform`` to skip the content."""
    if platform == "win32":
        return dict(WINDOWS_HINTS)
    if platform == "darwin":
        return {}  # added natively, see _mark_transient_macos
    return {KDE_HINT: b"secret"}


class QtClipboard:
    """The ``Clipboard`` port on ``QGuiApplication.clipboard()``.

    Args:
        clipboard: The clipboard to use (default: the application's).
        platform: ``sys.platform`` (tests pass another to check the hints).
    """

    def __init__(
        self, clipboard: QClipboard | None = None, *, platform: str = sys.platform
    ) -> None:
        self._clipboard = clipboard if clipboard is not None else QGuiApplication.clipboard()
        self._platform = platform
        self._ours: QMimeData | None = None
        self._text: str | None = None

    def snapshot(self) -> ClipboardSnapshot:
        """Copy every format on the clipboard now."""
        data: QMimeData | None = self._clipboard.mimeData()
        if data is None:  # no owner on some platforms
            return ClipboardSnapshot()
        formats: dict[str, bytes] = {}
        for name in data.formats():
            if name in _SKIP:
                continue
            formats[name] = bytes(data.data(name).data())
        image = data.imageData() if data.hasImage() else None
        return ClipboardSnapshot(formats, image)

    def set_text(self, text: str, *, transient: bool) -> None:
        """Put ``text`` on the clipboard (with the clipboard-manager hints if transient)."""
        data = QMimeData()
        data.setText(text)
        if transient:
            for name, value in transient_hints(self._platform).items():
                data.setData(name, value)
        self._ours, self._text = data, text
        self._place(data)
        if transient and self._platform == "darwin":
            _mark_transient_macos()

    def owns(self) -> bool:
        """True while the clipboard still holds the data of the last :meth:`set_text`.

        The clipboard's current ``QMimeData`` must be the very object we set (Qt drops
        it when another client takes the clipboard), with our text; where the platform
        tracks ownership (X11, Windows) Qt must also still own the clipboard.
        """
        if self._ours is None:
            return False
        current = self._clipboard.mimeData()
        if current is not self._ours:
            return False
        if QGuiApplication.platformName() in ("xcb", "windows") and not (
            self._clipboard.ownsClipboard()
        ):
            return False
        return current.text() == self._text

    def restore(self, snapshot: object) -> None:
        """Put a :meth:`snapshot` back (an empty one clears the clipboard)."""
        if not isinstance(snapshot, ClipboardSnapshot):
            raise TypeError(f"not a clipboard snapshot: {snapshot!r}")
        self._ours = self._text = None
        if not snapshot.formats and snapshot.image is None:
            self._clipboard.clear()
            return
        data = QMimeData()
        for name, value in snapshot.formats.items():
            data.setData(name, value)
        if snapshot.image is not None:
            data.setImageData(snapshot.image)
        self._place(data)

    def _place(self, data: QMimeData) -> None:
        self._clipboard.setMimeData(data)

    def release(self) -> None:
        """Hand the clipboard entry over to Qt before quitting (see :func:`release_clipboard`)."""
        release_clipboard()
        self._ours = None


def release_clipboard() -> None:
    """Swap a clipboard entry created from Python for an equivalent one Qt made itself.

    A ``QMimeData`` created from Python and still on the clipboard when the process
    ends is destroyed by Qt's exit handlers after Python has gone, and PySide's clean-up
    for it then crashes the process (PySide6 6.11: exit status 139 after an otherwise
    clean run). Text and images survive the swap; other formats of such an entry are
    lost, but only at exit. The app calls it at quit; it is also registered with
    :mod:`atexit` as a safety net (tests, other exit paths).
    """
    app = QGuiApplication.instance()
    if app is None:
        return
    clipboard = QGuiApplication.clipboard()
    current = clipboard.mimeData()
    if current is None or not Shiboken.createdByPython(current):
        return
    if current.hasText():
        clipboard.setText(current.text())
    elif current.hasImage():
        clipboard.setImage(current.imageData())
    else:
        clipboard.clear()


atexit.register(release_clipboard)


def _mark_transient_macos() -> None:
    """Add ``org.nspasteboard.TransientType`` to the general pasteboard (needs pyobjc).

    Untested: Qt has just written the pasteboard; this adds one more type to it.
    """
    try:
        appkit = importlib.import_module("AppKit")
        board = appkit.NSPasteboard.generalPasteboard()
        board.addTypes_owner_([MAC_TRANSIENT], None)
        board.setData_forType_(appkit.NSData.data(), MAC_TRANSIENT)
    except Exception:  # ImportError without pyobjc; anything AppKit raises
        log.debug("could not mark the clipboard transient on macOS", exc_info=True)
