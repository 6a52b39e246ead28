"""The display, Qt, the tray and the icons, and the app's own modules: a child process.

A platform plugin that cannot start aborts the process (``qFatal``) or may hang, so
:func:`probe_qt` runs :mod:`.qt_child` as a child (the same program with
``--qt-probe FILE``) and reads what it wrote, as far as it got.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import app
from app.diagnostics.findings import Findings, error_text, problem, warning

QT_PROBE_TIMEOUT_S = 30.0


def desktop_session(environ: Mapping[str, str], plat: str) -> bool:
    """Whether the tray app could start here (the same rule as ``app.ui.application``)."""
    if not plat.startswith("linux"):
        return True
    return bool(
        environ.get("QT_QPA_PLATFORM") or environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
    )


@dataclass(frozen=True)
class QtResult:
    """What the child found; None where it did not get that far.

    Attributes:
        session: A desktop session (else Qt was checked offscreen).
        app_modules: ``ok``, or why the app's entry modules cannot be imported.
        error: Why Qt did not start (or the child did not answer).
    """

    session: bool
    pyside6: str | None = None
    qt: str | None = None
    platform_plugins: tuple[str, ...] | None = None
    platform: str | None = None
    system_tray: bool | None = None
    svg_support: bool | None = None
    icon_renders: bool | None = None
    error: str | None = None
    app_modules: str | None = None

    @classmethod
    def from_child(cls, session: bool, data: Mapping[str, Any]) -> QtResult:
        """Read what :func:`.qt_child.qt_probe` wrote (keys it did not reach are absent)."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        def flag(key: str) -> bool | None:
            value = data.get(key)
            return value if isinstance(value, bool) else None

        plugins = data.get("platform_plugins")
        return cls(
            session=session,
            pyside6=text("pyside6"),
            qt=text("qt"),
            platform_plugins=tuple(map(str, plugins)) if isinstance(plugins, list) else None,
            platform=text("platform"),
            system_tray=flag("system_tray"),
            svg_support=flag("svg_support"),
            icon_renders=flag("icon_renders"),
            error=text("error"),
            app_modules=text("app_modules"),
        )

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {"session": self.session}
        for key in ("pyside6", "qt", "platform_plugins", "platform", "system_tray",
                    "svg_support", "icon_renders", "error", "app_modules"):  # fmt: skip
            value = getattr(self, key)
            if value is not None:
                info[key] = list(value) if isinstance(value, tuple) else value
        return info

    def findings(self) -> Findings:
        found = []
        if not self.session:
            found.append(
                problem(
                    "no desktop session: neither DISPLAY nor WAYLAND_DISPLAY is set, so the "
                    "tray app cannot start (the command line still works)"
                )
            )
        if self.app_modules not in (None, "ok"):
            found.append(problem(f"Hark's own code cannot load: {self.app_modules}"))
        if self.error:
            found.append(problem(f"Qt cannot start: {self.error}"))
        elif not self.platform:
            found.append(problem("Qt started without a platform plugin"))
        else:
            if self.svg_support is False or self.icon_renders is False:
                found.append(problem("the icons cannot be drawn: Qt's SVG plugin is missing"))
            if self.system_tray is False and self.platform not in ("offscreen", "minimal"):
                found.append(
                    warning("no system tray here: Hark shows a small control window instead")
                )
        return tuple(found)


def _qt_probe_command(out: Path) -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, "--self-check", "--qt-probe", str(out)]
    return [sys.executable, "-m", "app.diagnostics", "--qt-probe", str(out)]


def probe_qt(environ: Mapping[str, str], plat: str = sys.platform) -> QtResult:
    """Start Qt in a child process: its platform plugin, tray, icons, and the app's code."""
    session = desktop_session(environ, plat)
    env = dict(environ)
    if not session:
        env["QT_QPA_PLATFORM"] = "offscreen"  # still check that Qt itself loads
    if not getattr(sys, "frozen", False):
        source_root = str(Path(app.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (source_root, env.get("PYTHONPATH", "")) if p
        )
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if plat == "win32" else 0
    data: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hark-selfcheck-") as tmp:
        out = Path(tmp) / "qt.json"
        try:
            child = subprocess.run(
                _qt_probe_command(out),
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=QT_PROBE_TIMEOUT_S,
                creationflags=flags,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return QtResult(session, error=f"Qt did not start within {QT_PROBE_TIMEOUT_S:g} s")
        except OSError as exc:
            return QtResult(session, error=f"cannot run the Qt probe: {error_text(exc)}")
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(out.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                data = loaded
    result = QtResult.from_child(session, data)
    if child.returncode != 0 and not result.error:
        reason = _qt_reason(child.stderr.decode("utf-8", "replace"))
        return QtResult.from_child(
            session, {**data, "error": f"Qt stopped with status {child.returncode}: {reason}"}
        )
    return result


def _qt_reason(stderr: str) -> str:
    """Qt's own explanation from a failed start, on one line (``qt.qpa`` messages first)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    qpa = [line.split(": ", 1)[-1] for line in lines if line.startswith("qt.qpa")]
    return "; ".join(qpa[:3] or lines[-1:]) or "no message"
