"""The local speech engine's libraries: absent is fine, present but broken is not."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any

from app.diagnostics.findings import Findings, error_text, problem

MODULES = ("faster_whisper", "ctranslate2")


@dataclass(frozen=True)
class LocalEngineResult:
    """Each library's version; None when it is absent or does not load."""

    faster_whisper: str | None = None
    ctranslate2: str | None = None
    errors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "faster_whisper": self.faster_whisper,
            "ctranslate2": self.ctranslate2,
        }
        if self.errors:
            info["errors"] = list(self.errors)
        return info

    def findings(self) -> Findings:
        return tuple(problem(f"the local engine cannot load: {e}") for e in self.errors)


def _version(module: str, errors: list[str]) -> str | None:
    try:
        present = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        present = False
    if not present:
        return None
    try:
        loaded = importlib.import_module(module)
    except Exception as exc:
        errors.append(f"{module}: {error_text(exc)}")
        return None
    return str(getattr(loaded, "__version__", "unknown"))


def probe_local_engine() -> LocalEngineResult:
    errors: list[str] = []
    faster_whisper = _version("faster_whisper", errors)
    ctranslate2 = _version("ctranslate2", errors)
    return LocalEngineResult(faster_whisper, ctranslate2, tuple(errors))
