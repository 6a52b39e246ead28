"""Windows that remember their size and position, and always fit on a screen.

The geometry is kept in the :class:`~app.adapters.settings_store.UiStateStore` under
a key per window, as ``[x, y, width, height]``. On restore it is clamped to the
screen it was on (or the primary one), so a window saved on a monitor that is gone,
or larger than this screen, still opens whole and on screen.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QMargins, QPoint, QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

FRAME = QMargins(8, 40, 8, 8)
"""Room kept for the window manager's frame and title bar (the geometry is the inside)."""


class StateStore(Protocol):
    """What is needed from :class:`~app.adapters.settings_store.UiStateStore`."""

    def get(self, key: str, default: object = None) -> object:
        """The stored value for ``key``."""
        ...

    def set(self, key: str, value: object) -> None:
        """Store ``value`` under ``key``."""
        ...


def available_area(point: QPoint | None = None) -> QRect:
    """The usable area (without panels) of the screen at ``point``, or the primary one."""
    screen = QGuiApplication.screenAt(point) if point is not None else None
    screen = screen or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1280, 800)


def fit_rect(rect: QRect, area: QRect, minimum: QSize) -> QRect:
    """``rect`` shrunk to fit ``area`` (not below ``minimum``) and moved inside it."""
    width = max(min(rect.width(), area.width()), min(minimum.width(), area.width()))
    height = max(min(rect.height(), area.height()), min(minimum.height(), area.height()))
    x = min(max(rect.x(), area.left()), area.left() + area.width() - width)
    y = min(max(rect.y(), area.top()), area.top() + area.height() - height)
    return QRect(x, y, width, height)


def restore_geometry(window: QWidget, store: StateStore | None, key: str, size: QSize) -> None:
    """Give ``window`` its saved geometry, or ``size`` centred; always on screen.

    The saved position is the frame's (``pos()``); the size is the inside. The frame
    itself (:data:`FRAME`) must fit on the screen too.
    """
    extra = QSize(FRAME.left() + FRAME.right(), FRAME.top() + FRAME.bottom())
    saved = store.get(key) if store is not None else None
    frame: QRect | None = None
    if isinstance(saved, list) and len(saved) == 4 and all(isinstance(v, int) for v in saved):
        frame = QRect(QPoint(saved[0], saved[1]), QSize(saved[2], saved[3]) + extra)
    area = available_area(frame.center() if frame is not None else None)
    if frame is None:
        frame = QRect(QPoint(0, 0), size + extra)
        frame.moveCenter(area.center())
    fitted = fit_rect(frame, area, window.minimumSize() + extra)
    window.resize(fitted.size() - extra)
    window.move(fitted.topLeft())


def save_geometry(window: QWidget, store: StateStore | None, key: str) -> None:
    """Remember where ``window`` is and how big it is."""
    if store is None:
        return
    frame = window.pos()
    store.set(key, [frame.x(), frame.y(), window.width(), window.height()])
