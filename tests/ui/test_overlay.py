"""The caption overlay (offscreen) and the tray icons.

Focus and click-through need a real X server and a window manager; they are checked
in tests/x11/test_overlay_x11.py. Here: flags, text, styling, layout, fade, placement.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject, QRect, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QGuiApplication, QImage, QPaintEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.adapters.settings_store import UiStateStore
from app.core.settings import OverlaySettings
from app.ui import icons
from app.ui.overlay import (
    DEFAULT_OFFSET,
    ERROR_STYLE,
    LEVEL_COLOR,
    OFFSETS_KEY,
    PAD_X,
    STATUS_STYLE,
    CaptionOverlay,
    overlay_flags,
)
from tests.helpers import ROOT, TIMEOUT_FACTOR

WAIT_MS = round(3000 * TIMEOUT_FACTOR)


def make(qtbot: QtBot, ui_state: UiStateStore | None = None, **settings: object) -> CaptionOverlay:
    settings.setdefault("fade_after_s", 0.0)
    overlay = CaptionOverlay(OverlaySettings(**settings), ui_state)  # type: ignore[arg-type]
    qtbot.addWidget(overlay)
    return overlay


def area() -> tuple[int, int, int, int]:
    screen = QGuiApplication.primaryScreen()
    assert screen is not None
    rect = screen.availableGeometry()
    return rect.x(), rect.y(), rect.width(), rect.height()


def luminance(color: QColor) -> float:
    return 0.2126 * color.red() + 0.7152 * color.green() + 0.0722 * color.blue()


def brightest(image: QImage) -> float:
    return max(
        luminance(image.pixelColor(x, y))
        for x in range(image.width())
        for y in range(image.height())
    )


# -- window behaviour ----------------------------------------------------------------------


def test_flags_and_attributes_make_it_focusless_and_click_through(qtbot: QtBot) -> None:
    overlay = make(qtbot)
    flags = overlay.windowFlags()
    for flag in (
        Qt.WindowType.FramelessWindowHint,
        Qt.WindowType.WindowStaysOnTopHint,
        Qt.WindowType.Tool,
        Qt.WindowType.WindowDoesNotAcceptFocus,
        Qt.WindowType.WindowTransparentForInput,
    ):
        assert flags & flag == flag, flag
    assert overlay.testAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
    assert overlay.testAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
    assert overlay.focusPolicy() == Qt.FocusPolicy.NoFocus
    assert overlay.isWindow()


def test_x11_bypasses_the_window_manager_only_on_xcb(monkeypatch: pytest.MonkeyPatch) -> None:
    bypass = Qt.WindowType.X11BypassWindowManagerHint
    assert not overlay_flags() & bypass  # offscreen
    monkeypatch.setattr(QGuiApplication, "platformName", staticmethod(lambda: "xcb"))
    assert overlay_flags() & bypass == bypass


# -- text ----------------------------------------------------------------------------------


def test_partial_is_replaced_by_the_later_partial_of_its_utterance(qtbot: QtBot) -> None:
    overlay = make(qtbot)
    overlay.show_partial("u1", "Hel")
    overlay.show_partial("u1", "Hello wor")
    assert overlay.visible_lines() == ["Hello wor"]
    overlay.show_partial("u2", "and")
    assert overlay.visible_lines() == ["Hello wor and"]
    assert overlay.isVisible()


def test_final_commits_and_removes_its_partial(qtbot: QtBot) -> None:
    overlay = make(qtbot)
    overlay.show_partial("u1", "Hello wor")
    overlay.show_final("u1", "Hello world.")
    assert overlay.visible_lines() == ["Hello world."]
    assert "<i" not in overlay.caption_html()
    overlay.show_partial("u2", "How")
    assert overlay.visible_lines() == ["Hello world. How"]
    overlay.show_final("u2", ", right?")  # join_pieces: no space before the comma
    assert overlay.visible_lines() == ["Hello world., right?"]


def test_partial_and_final_are_styled_differently(qtbot: QtBot) -> None:
    overlay = make(qtbot)
    final, partial = overlay.final_style, overlay.partial_style
    assert partial.italic
    assert not final.italic
    assert luminance(partial.color) < luminance(final.color) - 40
    overlay.show_final("u1", "Done.")
    overlay.show_partial("u2", "still <going>")
    html = overlay.caption_html()
    assert f'<span style="color:{final.color.name()}">Done.</span>' in html
    assert f'<i style="color:{partial.color.name()}"> still &lt;going&gt;</i>' in html


def test_partials_are_painted_dimmer_than_finals(qtbot: QtBot) -> None:
    final_only, partial_only = make(qtbot, opacity=1.0), make(qtbot, opacity=1.0)
    final_only.show_final("u", "MMMM HHHH")
    partial_only.show_partial("u", "MMMM HHHH")
    assert brightest(final_only.grab().toImage()) > brightest(partial_only.grab().toImage()) + 40


def test_long_text_wraps_and_keeps_only_the_last_lines(qtbot: QtBot) -> None:
    overlay = make(qtbot, max_lines=2, width_percent=30)
    words = [f"word{n:02d}" for n in range(60)]
    for n in range(0, 60, 6):
        overlay.show_final(f"u{n}", " ".join(words[n : n + 6]))
    lines = overlay.visible_lines()
    assert len(lines) == 2
    shown = " ".join(lines).split()
    assert shown == words[-len(shown) :]  # the tail, from a whole line on
    assert "word00" not in shown
    metrics = QFontMetricsF(overlay.caption_font)
    for line in lines:
        assert metrics.horizontalAdvance(line) <= overlay.width() - 2 * PAD_X
    one_line = make(qtbot, max_lines=2, width_percent=30)
    one_line.show_final("u", "word00")
    two_lines = overlay.height() - one_line.height()
    assert metrics.lineSpacing() * 0.8 < two_lines < metrics.lineSpacing() * 1.5


def test_status_line_and_error_style(qtbot: QtBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="app.ui.overlay")
    overlay = make(qtbot)
    overlay.show_final("u", "Hi.")
    before = overlay.height()
    overlay.set_status("Listening")
    assert overlay.status_text() == "Listening"
    assert overlay.status_style == STATUS_STYLE
    assert overlay.height() > before
    overlay.set_status("Connection lost", error=True)
    assert overlay.status_text() == "Connection lost"
    assert overlay.status_style == ERROR_STYLE
    assert ERROR_STYLE.color != STATUS_STYLE.color
    messages = [r.getMessage() for r in caplog.records if r.name == "app.ui.overlay"]
    assert messages == [
        "overlay final: Hi.",
        "overlay status: Listening",
        "overlay status: Connection lost",
    ]
    overlay.set_status("")
    assert overlay.status_text() == ""
    assert overlay.height() == before


def test_status_in_error_is_painted_in_the_warning_colour(qtbot: QtBot) -> None:
    overlay = make(qtbot, opacity=1.0, font_size=30)
    overlay.set_status("WWWW", error=True)
    image = overlay.grab().toImage()
    reds = [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())]
    warm = [c for c in reds if c.red() > 200 and c.green() > 120 and c.blue() < 120]
    assert len(warm) > 20


def test_level_meter(qtbot: QtBot) -> None:
    overlay = make(qtbot, opacity=1.0)
    overlay.show_final("u", "x")
    point = (round(PAD_X) + 2, overlay.height() - 3)
    assert overlay.grab().toImage().pixelColor(*point) != LEVEL_COLOR
    overlay.set_level(7.0)
    assert overlay.level == 1.0
    assert overlay.grab().toImage().pixelColor(*point) == LEVEL_COLOR


class _PaintSpy(QObject):
    """Records the rectangle of every paint event of the widget it filters."""

    def __init__(self) -> None:
        super().__init__()
        self.rects: list[QRect] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if isinstance(event, QPaintEvent):
            self.rects.append(event.rect())
        return False


def test_level_meter_repaints_only_its_strip(qtbot: QtBot) -> None:
    overlay = make(qtbot, opacity=1.0)
    overlay.show_final("u", "x")
    spy = _PaintSpy()
    overlay.installEventFilter(spy)
    qtbot.waitExposed(overlay)
    QApplication.processEvents()
    spy.rects.clear()
    overlay.set_level(0.51)
    qtbot.waitUntil(lambda: bool(spy.rects), timeout=WAIT_MS)
    assert all(r.top() >= overlay.height() - 4 and r.height() <= 2 for r in spy.rects), spy.rects
    spy.rects.clear()
    overlay.set_level(0.54)  # the same step (5 % of the width): nothing to repaint
    QApplication.processEvents()
    assert spy.rects == []
    assert overlay.level == 0.55
    overlay.set_level(0.0)  # the bar goes away: its strip is repainted
    qtbot.waitUntil(lambda: bool(spy.rects), timeout=WAIT_MS)
    assert overlay.grab().toImage().pixelColor(round(PAD_X) + 2, overlay.height() - 3) != (
        LEVEL_COLOR
    )


def test_clear_forgets_everything_and_hides(qtbot: QtBot) -> None:
    overlay = make(qtbot)
    overlay.show_final("u", "Hello.")
    overlay.show_partial("v", "more")
    overlay.set_status("Listening")
    overlay.clear()
    assert overlay.visible_lines() == []
    assert overlay.status_text() == ""
    assert not overlay.isVisible()


# -- fade ----------------------------------------------------------------------------------


def test_fades_out_when_idle_and_reappears_on_new_text(qtbot: QtBot) -> None:
    overlay = make(qtbot, fade_after_s=0.05)
    overlay.show_final("u1", "Hello.")
    assert overlay.isVisible()
    qtbot.waitUntil(lambda: not overlay.isVisible(), timeout=WAIT_MS)
    assert overlay.windowOpacity() == 1.0  # reset for the next show
    overlay.show_partial("u2", "again")
    assert overlay.isVisible()  # at once, not after a fade-in
    assert overlay.visible_lines() == ["Hello. again"]
    qtbot.waitUntil(lambda: not overlay.isVisible(), timeout=WAIT_MS)


def test_new_text_during_the_fade_cancels_it(qtbot: QtBot) -> None:
    overlay = make(qtbot, fade_after_s=0.05)
    overlay.show_final("u1", "Hello.")
    qtbot.waitUntil(lambda: overlay.windowOpacity() < 0.9, timeout=WAIT_MS)
    overlay.show_final("u2", "Still here.")
    assert overlay.isVisible()
    assert overlay.windowOpacity() == 1.0
    assert overlay.fade_scheduled


def test_fade_zero_never_schedules_a_fade(qtbot: QtBot) -> None:
    overlay = make(qtbot, fade_after_s=0.0)
    overlay.show_final("u", "Hello.")
    assert overlay.isVisible()
    assert not overlay.fade_scheduled
    overlay.apply_settings(OverlaySettings(fade_after_s=1.0))
    assert overlay.fade_scheduled


# -- appearance and placement ----------------------------------------------------------------


def test_settings_set_font_width_and_opacity(qtbot: QtBot) -> None:
    x, _, width, _ = area()
    overlay = make(qtbot, font_size=30, width_percent=50, opacity=0.5)
    overlay.show_final("u", "Hi")
    assert overlay.caption_font.pointSizeF() == 30
    assert overlay.width() == round(width * 0.5)
    assert overlay.x() == x + (width - overlay.width()) // 2
    panel = overlay.grab().toImage().pixelColor(4, overlay.height() // 2)
    assert abs(panel.alpha() - round(255 * 0.5)) <= 2
    small_height = overlay.height()
    overlay.apply_settings(OverlaySettings(font_size=12, width_percent=80, opacity=1.0))
    assert overlay.caption_font.pointSizeF() == 12
    assert overlay.width() == round(width * 0.8)
    assert overlay.height() < small_height
    assert overlay.grab().toImage().pixelColor(4, overlay.height() // 2).alpha() == 255


def test_bottom_and_top_positions_follow_the_available_geometry(qtbot: QtBot) -> None:
    _, y, _, height = area()
    overlay = make(qtbot, position="bottom")
    overlay.show_final("u", "Hi")
    assert overlay.geometry().bottom() + 1 == y + height - DEFAULT_OFFSET
    overlay.apply_settings(OverlaySettings(position="top", fade_after_s=0.0))
    assert overlay.y() == y + DEFAULT_OFFSET


def test_offset_is_remembered_per_screen(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "ui-state.json"
    path.write_text(json.dumps({OFFSETS_KEY: {"elsewhere": 7}}), encoding="utf-8")
    _, y, _, _ = area()
    overlay = make(qtbot, UiStateStore(path), position="top", screen="no-such-screen")
    overlay.set_vertical_offset(120)
    assert overlay.y() == y + 120  # an unknown screen name falls back to the primary
    screen = QGuiApplication.primaryScreen()
    assert screen is not None
    key = screen.name() or "default"
    saved = json.loads(path.read_text(encoding="utf-8"))[OFFSETS_KEY]
    assert saved == {"elsewhere": 7, key: 120}
    again = make(qtbot, UiStateStore(path), position="top")
    again.show_final("u", "Hi")
    assert again.vertical_offset() == 120
    assert again.y() == y + 120
    overlay.set_vertical_offset(-5)
    assert overlay.vertical_offset() == 0


def test_offset_is_clamped_to_the_screen(qtbot: QtBot) -> None:
    _, y, _, _ = area()
    overlay = make(qtbot, position="bottom")
    overlay.set_vertical_offset(100_000)
    assert overlay.y() == y  # pushed to the top edge, not off screen


# -- icons ---------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [*icons.STATES, "app", "template"])
def test_icons_render_at_16_and_64_px(state: str) -> None:
    path = icons.icon_path(state)
    assert path.is_file()
    assert path.read_text(encoding="utf-8").lstrip().startswith("<svg")
    icon = icons.state_icon(state)
    assert not icon.isNull()
    for size in (16, 64):
        image = icon.pixmap(size, size).toImage()
        assert image.width() == size
        opaque = sum(image.pixelColor(x, y).alpha() > 128 for x in range(size) for y in range(size))
        assert opaque > size * size // 10, (state, size)


def test_state_icons_differ() -> None:
    images = [icons.state_icon(s).pixmap(16, 16).toImage() for s in icons.STATES]
    assert len({bytes(image.constBits()) for image in images}) == len(icons.STATES)


def test_macos_uses_the_template_icon_as_a_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not icons.state_icon("listening").isMask()
    monkeypatch.setattr(sys, "platform", "darwin")
    icon = icons.state_icon("listening")
    assert icon.isMask()
    assert not icon.isNull()


def test_frozen_build_finds_resources_under_meipass(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "resources" / "icons").mkdir(parents=True)
    (tmp_path / "resources" / "icons" / "hark.svg").write_text("<svg/>", encoding="utf-8")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert icons.icon_path("idle") == tmp_path / "resources" / "icons" / "hark-idle.svg"


def test_source_tree_icons_are_used_when_not_frozen() -> None:
    assert icons.icon_path("idle") == ROOT / "resources" / "icons" / "hark-idle.svg"


def test_unknown_icon_state_is_an_error() -> None:
    with pytest.raises(ValueError, match="no icon for state 'busy'"):
        icons.icon_path("busy")
