"""The tray's state icons and the app icon, found wherever Hark runs from.

The SVGs live in ``resources/icons`` at the repository root. A PyInstaller build
unpacks them under ``sys._MEIPASS/resources``; an installed wheel carries them as
data files in ``<prefix>/share/hark/icons``. Qt draws SVG through its ``qsvg``
image-format and ``qsvgicon`` icon-engine plugins, which PySide6-Essentials ships.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon

STATES = ("idle", "connecting", "listening", "finishing", "error")
"""The tray states that have their own icon."""

_EXTRA = {"app": "hark.svg", "template": "hark-template.svg"}


def resources_dir() -> Path:
    """The folder holding Hark's ``icons/`` (frozen build, source tree or installed).

    Returns:
        The first candidate that holds the icons; the source-tree path when none does,
        so that a missing file shows up as a clear path in an error.
    """
    candidates: list[Path] = []
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        candidates.append(Path(frozen) / "resources")
    source = Path(__file__).resolve().parents[2] / "resources"
    candidates += [source, Path(sys.prefix) / "share" / "hark"]
    for candidate in candidates:
        if (candidate / "icons" / "hark.svg").is_file():
            return candidate
    return source


def icon_path(state: str) -> Path:
    """The SVG for a tray state, or for ``"app"`` (the app icon) or ``"template"``.

    Args:
        state: One of :data:`STATES`, ``"app"`` or ``"template"`` (the monochrome
            macOS menu-bar variant).

    Returns:
        The file's path (it exists in a complete checkout or build).

    Raises:
        ValueError: For a name that has no icon.
    """
    if state in STATES:
        name = f"hark-{state}.svg"
    elif state in _EXTRA:
        name = _EXTRA[state]
    else:
        known = ", ".join((*STATES, *_EXTRA))
        raise ValueError(f"no icon for state {state!r} (known: {known})")
    return resources_dir() / "icons" / name


def state_icon(state: str) -> QIcon:
    """The tray icon for ``state``.

    On macOS this is the monochrome template icon marked as a mask, so the menu bar
    tints it for light and dark mode (Apple's guideline for status items); elsewhere
    it is the state's coloured icon.

    Args:
        state: One of :data:`STATES` (or ``"app"`` / ``"template"``).

    Returns:
        The icon; null only if the SVG file or Qt's SVG plugin is missing.
    """
    if sys.platform == "darwin":
        icon = QIcon(str(icon_path("template")))
        icon.setIsMask(True)
        return icon
    return QIcon(str(icon_path(state)))


def app_icon() -> QIcon:
    """The application icon (windows, dialogs, the about box)."""
    return QIcon(str(icon_path("app")))
