"""The caption overlay on a real X server with a window manager (Xvfb + openbox).

Checks what offscreen cannot: showing and updating the overlay leaves the focus with
the application the user is typing in, clicks go through it to the window below, and
it is really drawn (a screenshot is kept in test-output/overlay-x11.png).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from tests.apps.type_target import TEXT_HEIGHT
from tests.desktop import (
    activate,
    active_window_name,
    launch,
    poll_until,
    screenshot,
    wait_for_window,
    window_geometry,
    x_display,
    x_run,
    xdotool,
)
from tests.helpers import ROOT

APPS = ROOT / "tests" / "apps"
SHOT = ROOT / "test-output" / "overlay-x11.png"
TARGET = "TypeTarget"


@pytest.fixture
def desktop() -> Iterator[dict[str, str]]:
    with x_display() as env:
        yield env


def file_text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def region_stats(image: QImage, rect: tuple[int, int, int, int]) -> tuple[float, float]:
    """Fractions of dark (panel) and bright (text) pixels in ``rect`` of ``image``."""
    x0, y0, w, h = rect
    dark = bright = 0
    for y in range(y0, y0 + h):
        for x in range(x0, x0 + w):
            c = image.pixelColor(x, y)
            luma = 0.2126 * c.red() + 0.7152 * c.green() + 0.0722 * c.blue()
            dark += luma < 60
            bright += luma > 200
    return dark / (w * h), bright / (w * h)


def test_overlay_keeps_focus_passes_clicks_and_is_drawn(
    desktop: dict[str, str], tmp_path: Path
) -> None:
    env = desktop
    typed = tmp_path / "typed.txt"
    with launch([sys.executable, str(APPS / "type_target.py"), str(typed), TARGET], env) as target:
        target.expect("READY")
        window = wait_for_window(f"^{TARGET}$", env)
        activate(window, env)
        poll_until(lambda: active_window_name(env) == TARGET, 10, "the target to have focus")
        xdotool(env, "type", "--delay", "30", "before ")
        poll_until(lambda: file_text(typed) == "before ", 10, "typing to reach the target")
        tx, ty, tw, th = window_geometry(window, env)
        before = screenshot(tmp_path / "before.png", env)
        demo_args = [
            sys.executable,
            str(APPS / "overlay_demo.py"),
            "--ui-state",
            str(tmp_path / "ui-state.json"),
            "--position",
            "top",
            "--offset",
            str(ty + TEXT_HEIGHT + 80),  # over the target's button
            "--width-percent",
            "40",
        ]
        with launch(demo_args, env) as demo:
            _, *numbers = demo.expect("READY").split()
            ox, oy, ow, oh, overlay_id = (int(n) for n in numbers)
            assert active_window_name(env) == TARGET  # shown without taking the focus

            demo.send("partial u2 and more, still talking")
            assert "and more, still talking" in demo.expect("OK")
            assert active_window_name(env) == TARGET  # updated without taking the focus
            xdotool(env, "type", "--delay", "30", "after")
            poll_until(lambda: file_text(typed) == "before after", 10, "typing after the overlay")

            assert xdotool(env, "getwindowname", str(overlay_id)).strip() == "Hark captions"
            # Override-redirect (X11BypassWindowManagerHint): openbox would otherwise frame
            # it and swallow the clicks (docs/desktop-integration.md §3).
            assert "Override Redirect State: yes" in x_run(env, "xwininfo", "-id", str(overlay_id))

            # A point inside the overlay that lies over the target's button.
            cx, cy = ox + ow // 4, oy + oh // 2
            assert tx <= cx < tx + tw, (cx, (tx, tw))
            assert ty + TEXT_HEIGHT + 20 < cy < ty + th, (cy, (ty, th))
            xdotool(env, "mousemove", "--sync", str(cx), str(cy), "click", "1")
            poll_until(
                lambda: file_text(typed) == "before after|clicks=1", 10, "the click to go through"
            )
            assert active_window_name(env) == TARGET

            shot = screenshot(tmp_path / "overlay.png", env)
        image, baseline = QImage(str(shot)), QImage(str(before))
        assert not image.isNull()
        assert not baseline.isNull()
        # Where the overlay covers the target: light button before, dark panel after.
        left, right = max(ox, tx), min(ox + ow, tx + tw)
        over_button = (left, oy, right - left, oh)
        dark_before, _ = region_stats(baseline, over_button)
        dark, _ = region_stats(image, over_button)
        assert dark_before < 0.05, f"{dark_before:.0%} dark before the overlay"
        assert dark > 0.6, f"overlay panel not drawn: {dark:.0%} dark pixels"
        _, bright = region_stats(image, (ox, oy, ow, oh))
        assert bright > 0.01, f"no caption text drawn: {bright:.1%} bright pixels"
        SHOT.parent.mkdir(exist_ok=True)  # kept for people to look at (git-ignored)
        partial = SHOT.with_name(f"{SHOT.name}.{os.getpid()}.tmp")
        shutil.copyfile(shot, partial)
        partial.replace(SHOT)  # atomic: parallel runs never leave a half-written file
