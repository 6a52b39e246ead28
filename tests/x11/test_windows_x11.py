"""Hark's windows on a real 1280x800 X screen with a window manager (Xvfb + openbox).

Each window is shown as a first run shows it, with the real fonts and frames: it must
fit on the screen, show every wrapped label whole, and be drawn. The screenshots go to
``$HARK_SCREENSHOT_DIR`` (else the test's temporary directory) for people to look at.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from tests.desktop import (
    launch,
    poll_until,
    screenshot,
    wait_for_window,
    window_geometry,
    x_display,
)
from tests.helpers import ROOT

APPS = ROOT / "tests" / "apps"
SCREEN = (1280, 800)
WINDOWS = {
    "setup": "^Set up Hark$",
    "setup-offline": "^Set up Hark$",
    "setup-cloud": "^Set up Hark$",
    "settings": "^Hark Settings$",
    "control": "^Hark$",
}


def distinct_colours(image: QImage, rect: tuple[int, int, int, int]) -> int:
    """How many colours a sparse grid of pixels inside ``rect`` has (1: nothing drawn)."""
    x0, y0, w, h = rect
    seen = {
        image.pixel(x, y)
        for y in range(y0 + 2, y0 + h - 2, max(1, h // 40))
        for x in range(x0 + 2, x0 + w - 2, max(1, w // 40))
    }
    return len(seen)


def test_windows_fit_the_screen_show_their_text_and_are_drawn(tmp_path: Path) -> None:
    shots = Path(os.environ.get("HARK_SCREENSHOT_DIR") or tmp_path / "shots")
    with x_display(f"{SCREEN[0]}x{SCREEN[1]}x24") as env:
        for name, title in WINDOWS.items():
            args = [
                sys.executable,
                str(APPS / "windows_demo.py"),
                name,
                "--home",
                str(tmp_path / name),
            ]
            with launch(args, env) as demo:
                cut = int(demo.expect("READY").split()[1])
                window = wait_for_window(title, env)
                x, y, w, h = poll_until(
                    lambda window=window: (g := window_geometry(window, env))[2] > 1 and g,
                    10,
                    f"the {name} window to be mapped",
                )
                assert cut == 0, f"{name}: {cut} label(s) not shown whole (see stderr)"
                assert min(x, y) >= 0, (name, x, y)
                assert x + w <= SCREEN[0], (name, x, w)
                assert y + h <= SCREEN[1], (name, y, h)
                if name == "control":
                    assert w < 600, f"the control window is {w} px wide"
                shot = screenshot(shots / f"x11-{name}.png", env)
                image = QImage(str(shot))
                assert not image.isNull()
                assert distinct_colours(image, (x, y, w, h)) > 3, f"{name} is not drawn"
                demo.send("quit")
