"""Text insertion: the typing/paste backend that would load, and its session kind."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from typing import Any

from app.diagnostics.findings import Findings, error_text, warning


@dataclass(frozen=True)
class KeyboardResult:
    """The backend's name (``unavailable``: text goes to the clipboard) and its tool."""

    backend: str | None = None
    session: str | None = None
    reason: str | None = None
    """Why typing is unavailable (only for the ``unavailable`` backend)."""
    tool: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": self.backend}
        if self.session is not None:
            info["session"] = self.session
        if self.backend == "unavailable":
            info["reason"] = self.reason
        if self.tool:
            info["tool"] = self.tool
        if self.error is not None:
            info["error"] = self.error
        return info

    def findings(self) -> Findings:
        if self.error:
            return (warning(f"typing is unavailable: {self.error}"),)
        if self.backend == "unavailable":
            return (warning(f"typing is unavailable (text goes to the clipboard): {self.reason}"),)
        return ()


def probe_keyboard() -> KeyboardResult:
    found = KeyboardResult()
    try:
        from app.adapters.keyboard import choose_keyboard, session_kind

        found = replace(found, session=session_kind(sys.platform, os.environ))
        keyboard = choose_keyboard()
        reason = getattr(keyboard, "reason", None) if keyboard.name == "unavailable" else None
        tool = getattr(keyboard, "tool", None)
        found = replace(
            found,
            backend=keyboard.name,
            reason=None if reason is None else str(reason),
            tool=str(tool) if tool else None,
        )
        close = getattr(keyboard, "close", None)
        if callable(close):
            close()
    except Exception as exc:
        return replace(found, error=error_text(exc))
    return found
