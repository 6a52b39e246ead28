"""Small persistent facts the app learns, kept in the platform state directory.

Today: which Baseten metadata schema each endpoint accepted. Written atomically, and
an unreadable file is treated as empty (it is only a cache).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import platformdirs

from app.adapters.files import write_atomic

log = logging.getLogger(__name__)


def state_dir() -> Path:
    """The platform's per-user state directory for Hark."""
    return Path(platformdirs.user_state_dir("hark", appauthor=False))


class FileSchemaMemory:
    """The engine's ``SchemaMemory`` port, as a JSON file ``{endpoint: schema}``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "baseten-schemas.json"

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
        )

    def get(self, endpoint: str) -> str | None:
        """The schema that last worked for ``endpoint``."""
        return self._load().get(endpoint)

    def set(self, endpoint: str, schema: str) -> None:
        """Remember ``schema`` for ``endpoint``."""
        data = self._load()
        if data.get(endpoint) == schema:
            return
        data[endpoint] = schema
        try:
            write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True))
        except OSError as exc:
            log.warning("cannot save %s: %s", self.path, exc)
