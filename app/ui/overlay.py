"""The live caption overlay: a click-through, never-focused panel of recent speech.

What the captions say is :meth:`app.core.transcript.Transcript.display_parts` (the
finals, then the open partials); this module only draws it: finals in full colour, the
open partials after them dimmed and in italics. The text wraps to the overlay's
width and only the last ``max_lines`` lines stay; a status line (state or error) sits
under them. After ``fade_after_s`` idle seconds the overlay fades out and hides; new
text shows it again without activating it.

Focus and input (docs/desktop-integration.md §3): the window flags make it a frameless, stay-on-top
tool window that does not accept focus and lets the mouse through. On X11 it also
bypasses the window manager (override-redirect), without which openbox swallows the
clicks. Windows and macOS get small native fix-ups when the window is shown
(:func:`app.ui.overlay_native.native_fixups`).
"""

from __future__ import annotations

import html
import logging
import math
import sys
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QPointF, QPropertyAnimation, QRect, QRectF, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QPainter,
    QPaintEvent,
    QScreen,
    QShowEvent,
    QTextCharFormat,
    QTextLayout,
    QTextLine,
    QTextOption,
)
from PySide6.QtWidgets import QWidget

from app.adapters.settings_store import UiStateStore
from app.core.events import Final, Partial
from app.core.settings import OverlaySettings
from app.core.transcript import Transcript
from app.ui.overlay_native import native_fixups

log = logging.getLogger("app.ui.overlay")

OFFSETS_KEY = "overlay_offsets"
"""UI-state key: a dict of screen name -> distance in px from the top or bottom edge."""
DEFAULT_OFFSET = 48
FADE_MS = 400
PAD_X, PAD_Y, RADIUS, GAP = 18.0, 10.0, 12.0, 4.0
LEVEL_STEPS = 20  # the meter's resolution: 5 % of its width
_MAX_FINAL_CHARS = 6000  # older finals are dropped: far more than 12 lines ever show


@dataclass(frozen=True)
class TextStyle:
    """How one kind of text is drawn.

    Attributes:
        color: The text colour.
        italic: Whether the text is set in italics.
    """

    color: QColor
    italic: bool = False


FINAL_STYLE = TextStyle(QColor("#ffffff"))
PARTIAL_STYLE = TextStyle(QColor("#a7b0bb"), italic=True)
STATUS_STYLE = TextStyle(QColor("#c9d1d9"))
ERROR_STYLE = TextStyle(QColor("#ffb340"))
PANEL_RGB = (14, 17, 22)
LEVEL_COLOR = QColor("#4fd1c5")


def overlay_flags() -> Qt.WindowType:
    """The window flags for a focus-less, click-through, always-on-top overlay."""
    flags = (
        Qt.WindowType.FramelessWindowHint
        | Qt.WindowType.WindowStaysOnTopHint
        | Qt.WindowType.Tool
        | Qt.WindowType.WindowDoesNotAcceptFocus
        | Qt.WindowType.WindowTransparentForInput
    )
    if QGuiApplication.platformName() == "xcb":
        # Without it openbox frames the window and clicks stop at the frame
        # (docs/desktop-integration.md §3).
        flags |= Qt.WindowType.X11BypassWindowManagerHint
    return flags


def _utf16(text: str, start: int, length: int) -> str:
    """``text[start:start + length]`` counted in UTF-16 units, as Qt counts."""
    data = text.encode("utf-16-le")
    return data[2 * start : 2 * (start + length)].decode("utf-16-le", errors="ignore")


class CaptionOverlay(QWidget):
    """The caption overlay window.

    Args:
        settings: How it looks and where it goes.
        ui_state: Where the per-screen vertical offset is remembered (in memory only
            when None).
        parent: Optional parent; the overlay stays a top-level tool window.

    Attributes:
        final_style: How finals are drawn.
        partial_style: How partials are drawn (dimmer and italic).
    """

    final_style = FINAL_STYLE
    partial_style = PARTIAL_STYLE

    def __init__(
        self,
        settings: OverlaySettings,
        ui_state: UiStateStore | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent, overlay_flags())
        self.setObjectName("CaptionOverlay")
        self.setWindowTitle("Hark captions")
        self.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        if sys.platform == "darwin":  # NSPanel hides when its app deactivates otherwise
            self.setAttribute(Qt.WidgetAttribute.WA_MacAlwaysShowToolWindow)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._ui_state = ui_state
        self._memory_offsets: dict[str, Any] = {}
        self._transcript = Transcript(keep_chars=_MAX_FINAL_CHARS)
        self._status = ""
        self._status_error = False
        self._level = 0.0
        self._text = ""
        self._partial_start = 0  # UTF-16 index where the partials begin in _text
        self._layout: QTextLayout | None = None
        self._visible: list[QTextLine] = []  # the QTextLines drawn (the last max_lines)
        self._fade_timer = QTimer(self)
        self._fade_timer.setSingleShot(True)
        self._fade_timer.timeout.connect(self._fade_out)
        self._fade = QPropertyAnimation(self, b"windowOpacity", self)
        self._fade.setDuration(FADE_MS)
        self._fade.setEndValue(0.0)
        self._fade.finished.connect(self._faded)
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            # Bound methods, not lambdas: Qt drops these connections when the overlay dies.
            app.screenAdded.connect(self._screen_added)
            app.screenRemoved.connect(self._screens_changed)
            app.primaryScreenChanged.connect(self._screens_changed)
            for screen in app.screens():
                screen.availableGeometryChanged.connect(self._screens_changed)
        self.apply_settings(settings)

    # -- settings and placement -------------------------------------------------------------

    def apply_settings(self, settings: OverlaySettings) -> None:
        """Restyle and re-place the overlay for new settings."""
        self._settings = settings
        self._font = QFont(self.font())
        self._font.setPointSizeF(settings.font_size)
        self._font.setWeight(QFont.Weight.Medium)
        self._status_font = QFont(self.font())
        self._status_font.setPointSizeF(max(8.0, settings.font_size * 0.6))
        self._fade_timer.setInterval(round(settings.fade_after_s * 1000))
        if settings.fade_after_s <= 0:
            self._fade_timer.stop()
        elif self.isVisible() and self._fade.state() != QPropertyAnimation.State.Running:
            self._fade_timer.start()
        self.place()

    def target_screen(self) -> QScreen | None:
        """The screen named in the settings, else the primary screen."""
        if self._settings.screen:
            for screen in QGuiApplication.screens():
                if screen.name() == self._settings.screen:
                    return screen
        return QGuiApplication.primaryScreen()

    def vertical_offset(self) -> int:
        """The remembered distance (px) from the top or bottom edge of the target screen."""
        value = self._offsets().get(self._screen_key(), DEFAULT_OFFSET)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return DEFAULT_OFFSET
        return max(0, int(value))

    def set_vertical_offset(self, px: int) -> None:
        """Remember ``px`` as this screen's offset from the edge and move there."""
        offsets = dict(self._offsets())  # a copy: the store skips writes of an equal value
        offsets[self._screen_key()] = max(0, int(px))
        if self._ui_state is None:
            self._memory_offsets = offsets
        else:
            self._ui_state.set(OFFSETS_KEY, offsets)
        self.place()

    def place(self) -> None:
        """Lay the text out and move the overlay to its place on the target screen."""
        screen = self.target_screen()
        if screen is None:  # no screen at all (every monitor unplugged): nothing to do
            return
        area = screen.availableGeometry()
        width = max(120, round(area.width() * self._settings.width_percent / 100))
        self._lay_out(width - 2 * PAD_X)
        height = self._content_height()
        offset = min(self.vertical_offset(), max(0, area.height() - height))
        x = area.x() + (area.width() - width) // 2
        if self._settings.position == "top":
            y = area.y() + offset
        else:
            y = area.y() + area.height() - height - offset
        self.setGeometry(x, y, width, height)
        self.update()

    def _offsets(self) -> dict[str, Any]:
        if self._ui_state is None:
            return self._memory_offsets
        value = self._ui_state.get(OFFSETS_KEY, {})
        return value if isinstance(value, dict) else {}

    def _screen_key(self) -> str:
        screen = self.target_screen()
        return (screen.name() if screen is not None else "") or "default"

    def _screen_added(self, screen: QScreen) -> None:
        screen.availableGeometryChanged.connect(self._screens_changed)
        self.place()

    def _screens_changed(self, _what: object = None) -> None:
        self.place()

    # -- content ---------------------------------------------------------------------------

    def show_partial(self, utterance: str, text: str) -> None:
        """Show ``text`` as the open partial of ``utterance``, replacing its previous one."""
        self._transcript.apply(Partial(utterance, text))
        self._changed()

    def show_final(self, utterance: str, text: str) -> None:
        """Commit ``text`` as final; the utterance's partial goes away."""
        self._transcript.apply(Final(utterance, text))
        log.info("overlay final: %s", text)
        self._changed()

    def set_status(self, text: str, *, error: bool = False) -> None:
        """Show a status line (state or error) under the captions; empty text removes it."""
        self._status = text.strip()
        self._status_error = error
        log.info("overlay status: %s", text)
        self._changed(show=bool(self._status))

    def set_level(self, rms: float) -> None:
        """Show the input level (0..1) as a thin bar; 0 hides the bar. Never shows the overlay."""
        # Shown in steps of 1/LEVEL_STEPS (any sound shows at least one); only a change of
        # step repaints, and only the meter's strip: a whole repaint of the translucent
        # panel for every reading was most of the overlay's CPU.
        level = math.ceil(min(1.0, max(0.0, float(rms))) * LEVEL_STEPS) / LEVEL_STEPS
        if level == self._level:
            return
        before, self._level = self._level_rect(), level
        self.update(before.united(self._level_rect()))

    def clear(self) -> None:
        """Forget all text and the status, and hide."""
        self._transcript = Transcript(keep_chars=_MAX_FINAL_CHARS)
        self._status, self._level = "", 0.0
        self._fade_timer.stop()
        self._fade.stop()
        self.hide()
        self.setWindowOpacity(1.0)
        self.place()

    # -- what is shown (for tests and the e2e log) -----------------------------------------

    def visible_lines(self) -> list[str]:
        """The caption lines on screen, top to bottom (trailing spaces removed)."""
        return [
            _utf16(self._text, line.textStart(), line.textLength()).rstrip()
            for line in self._visible
        ]

    def caption_html(self) -> str:
        """The visible lines as HTML: finals in spans, partials in ``<i>``, lines by ``<br>``."""
        out = []
        for line in self._visible:
            start, end = line.textStart(), line.textStart() + line.textLength()
            cut = min(max(self._partial_start, start), end)
            final = html.escape(_utf16(self._text, start, cut - start))
            partial = html.escape(_utf16(self._text, cut, end - cut))
            span = f'<span style="color:{FINAL_STYLE.color.name()}">{final}</span>'
            italic = f'<i style="color:{PARTIAL_STYLE.color.name()}">{partial}</i>'
            out.append((span if final.strip() else "") + (italic if partial.strip() else ""))
        return "<br>".join(out)

    def status_text(self) -> str:
        """The status line as set (empty when none)."""
        return self._status

    @property
    def status_style(self) -> TextStyle:
        """How the status line is drawn now (the warning colour for errors)."""
        return ERROR_STYLE if self._status_error else STATUS_STYLE

    @property
    def caption_font(self) -> QFont:
        """The font the captions are set in (size from the settings)."""
        return QFont(self._font)

    @property
    def fade_scheduled(self) -> bool:
        """Whether the idle timer that starts the fade-out is running."""
        return self._fade_timer.isActive()

    @property
    def level(self) -> float:
        """The level shown by the meter, 0..1."""
        return self._level

    # -- layout, painting and fading -------------------------------------------------------

    def _lay_out(self, width: float) -> None:
        committed, open_part = self._transcript.display_parts()  # what to show: core decides
        text = self._text = committed + open_part
        self._partial_start = len(committed.encode("utf-16-le")) // 2
        layout = QTextLayout(text, self._font)
        option = QTextOption()
        option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        layout.setTextOption(option)
        total = len(text.encode("utf-16-le")) // 2
        if self._partial_start < total:
            style = QTextCharFormat()
            style.setForeground(PARTIAL_STYLE.color)
            style.setFontItalic(PARTIAL_STYLE.italic)
            span = QTextLayout.FormatRange()
            span.start = self._partial_start
            span.length = total - self._partial_start
            span.format = style
            layout.setFormats([span])
        lines = []
        layout.beginLayout()
        while True:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            lines.append(line)
        layout.endLayout()
        self._layout = layout
        self._visible = lines[-self._settings.max_lines :] if text else []
        y = 0.0
        for line in self._visible:  # restack the kept lines from the top; the rest never draw
            line.setPosition(QPointF(0.0, y))
            y += line.height()

    def _content_height(self) -> int:
        text_height = sum(line.height() for line in self._visible)
        if not self._visible and not self._status:
            text_height = QFontMetricsF(self._font).lineSpacing()
        status_height = QFontMetricsF(self._status_font).lineSpacing() if self._status else 0.0
        gap = GAP if self._visible and self._status else 0.0
        return round(2 * PAD_Y + text_height + gap + status_height)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draw the rounded translucent panel, the caption lines, the status and the meter."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(*PANEL_RGB, round(255 * self._settings.opacity)))
        painter.drawRoundedRect(QRectF(self.rect()), RADIUS, RADIUS)
        if self._meter_strip().contains(event.rect()):  # the meter moved: no text to draw
            if self._level > 0:
                painter.fillRect(self._level_rect(), LEVEL_COLOR)
            painter.end()
            return
        painter.setPen(FINAL_STYLE.color)
        for line in self._visible:
            line.draw(painter, QPointF(PAD_X, PAD_Y))
        if self._status:
            metrics = QFontMetricsF(self._status_font)
            top = PAD_Y + sum(line.height() for line in self._visible)
            top += GAP if self._visible else 0.0
            elided = metrics.elidedText(
                self._status, Qt.TextElideMode.ElideRight, self.width() - 2 * PAD_X
            )
            painter.setFont(self._status_font)
            painter.setPen(self.status_style.color)
            painter.drawText(QPointF(PAD_X, top + metrics.ascent()), elided)
        if self._level > 0:
            painter.fillRect(self._level_rect(), LEVEL_COLOR)
        painter.end()

    def _meter_strip(self) -> QRect:
        """Where the meter's bar can be: 2 px, 4 px above the bottom, between the pads."""
        return QRect(round(PAD_X), self.height() - 4, self.width() - 2 * round(PAD_X), 2)

    def _level_rect(self) -> QRect:
        """The meter's bar in whole pixels (empty at level 0)."""
        strip = self._meter_strip()
        width = round(strip.width() * self._level)
        if width <= 0:
            return QRect()
        strip.setWidth(width)
        return strip

    def _changed(self, *, show: bool = True) -> None:
        """Re-lay out after new content; show (never activate) and restart the idle timer."""
        self.place()
        if not show:
            return
        self._fade.stop()
        self.setWindowOpacity(1.0)
        if not self.isVisible():
            self.show()  # WA_ShowWithoutActivating + WindowDoesNotAcceptFocus: no focus taken
        elif QGuiApplication.platformName() == "xcb":
            self.raise_()  # override-redirect windows are not kept on top by the WM
        if self._settings.fade_after_s > 0:
            self._fade_timer.start()

    def _fade_out(self) -> None:
        self._fade.setStartValue(self.windowOpacity())
        self._fade.start()

    def _faded(self) -> None:
        self.hide()
        self.setWindowOpacity(1.0)

    def showEvent(self, event: QShowEvent) -> None:
        """Apply the per-platform no-activate and click-through fix-ups once native."""
        super().showEvent(event)
        native_fixups(int(self.winId()))
