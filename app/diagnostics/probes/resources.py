"""The icons, wherever this build keeps them (``app.ui.icons`` finds them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.diagnostics.findings import Findings, error_text, problem

ICON_NAMES = ("app", "template", "idle", "connecting", "listening", "finishing", "error")


@dataclass(frozen=True)
class ResourcesResult:
    dir: str | None = None
    missing: tuple[str, ...] = ()
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {"dir": self.dir, "missing": list(self.missing)}
        if self.error is not None:
            info["error"] = self.error
        return info

    def findings(self) -> Findings:
        if self.error:
            return (problem(f"resources cannot be found: {self.error}"),)
        if self.missing:
            return (problem(f"icons missing in {self.dir}: {', '.join(self.missing)}"),)
        return ()


def probe_resources() -> ResourcesResult:
    try:
        from app.ui.icons import icon_path, resources_dir

        folder = str(resources_dir())
        missing = tuple(name for name in ICON_NAMES if not icon_path(name).is_file())
    except Exception as exc:
        return ResourcesResult(error=error_text(exc))
    return ResourcesResult(folder, missing)
