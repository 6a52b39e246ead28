"""The global hotkey backend that would load (constructed, never started), and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.diagnostics.findings import Findings, error_text, warning


@dataclass(frozen=True)
class HotkeyResult:
    """The backend's name (None: no global hotkey) and why it was chosen or refused.

    ``reason`` comes from :func:`app.adapters.hotkeys.factory.select_backend`; the report
    shows it when no backend was chosen.
    """

    backend: str | None
    reason: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": self.backend, "started": False}
        if self.error is not None:
            info["error"] = self.error
        if self.backend is None and self.reason:
            info["reason"] = self.reason
        return info

    def findings(self) -> Findings:
        if self.backend is not None:
            return ()
        why = self.error or self.reason or "no backend for this session"
        return (warning(f"no global hotkey: {why}"),)


def probe_hotkey() -> HotkeyResult:
    try:
        from app.adapters.hotkeys import select_backend

        choice = select_backend()
    except Exception as exc:
        return HotkeyResult(None, error=error_text(exc))
    name = choice.backend.name if choice.backend is not None else None
    return HotkeyResult(name, reason=choice.reason)
