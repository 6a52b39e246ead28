"""The Qt probe's child process: the only part of the self-check that starts Qt.

Run as ``hark --self-check --qt-probe FILE`` (or ``python -m app.diagnostics``); it
writes what it found to FILE as it goes, so a platform plugin that aborts the process
leaves the versions behind. :func:`.qt.probe_qt` reads it.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from app.diagnostics.findings import error_text

APP_MODULES = ("app.ui.application", "app.ui.controller", "app.cli.main")


def _plugin_names(folder: Path) -> list[str]:
    names = []
    for path in folder.glob("*"):
        if path.suffix.lower() not in (".so", ".dll", ".dylib"):
            continue
        names.append(path.stem.removeprefix("lib").removeprefix("q"))
    return sorted(set(names))


def qt_probe(out: Path) -> int:
    """Start Qt and write what it found to ``out``, as JSON, as it goes.

    After Qt, it imports the app's entry modules (which import everything the app
    runs), so a frozen build that misses a module fails here, not at the user's.
    """
    result: dict[str, Any] = {}

    def save() -> None:
        out.write_text(json.dumps(result), encoding="utf-8")

    try:
        import PySide6
        from PySide6.QtCore import QLibraryInfo, qVersion

        result["pyside6"] = PySide6.__version__
        result["qt"] = qVersion()
        plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
        result["platform_plugins"] = _plugin_names(plugins / "platforms")
        save()  # if the platform plugin aborts the process, the versions are kept

        from PySide6.QtGui import QImageReader
        from PySide6.QtWidgets import QApplication, QSystemTrayIcon

        app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "hark"])
        result["platform"] = QApplication.platformName()
        result["system_tray"] = QSystemTrayIcon.isSystemTrayAvailable()
        formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
        result["svg_support"] = "svg" in formats
        from app.ui.icons import app_icon

        result["icon_renders"] = not app_icon().pixmap(32, 32).isNull()
        app.processEvents()
    except Exception as exc:
        result["error"] = error_text(exc)
    save()
    try:  # the whole app loads: in a frozen build, nothing is missing from the bundle
        for module in APP_MODULES:
            importlib.import_module(module)
        result["app_modules"] = "ok"
    except Exception as exc:
        result["app_modules"] = error_text(exc)
    save()
    return 0
