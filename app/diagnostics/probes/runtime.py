"""Python, the OS and whether this is a frozen (PyInstaller) build."""

from __future__ import annotations

import platform
import sys
from dataclasses import asdict, dataclass
from typing import Any

from app.diagnostics.findings import Findings


@dataclass(frozen=True)
class RuntimeResult:
    python: str
    implementation: str
    executable: str
    frozen: bool
    bundle_dir: str | None
    os: str
    machine: str

    def findings(self) -> Findings:
        return ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def probe_runtime() -> RuntimeResult:
    bundle = getattr(sys, "_MEIPASS", None)
    return RuntimeResult(
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        executable=sys.executable,
        frozen=bool(getattr(sys, "frozen", False)),
        bundle_dir=None if bundle is None else str(bundle),
        os=platform.platform(),
        machine=platform.machine(),
    )
