"""Small persistent facts the app learns, kept in the platform state directory.

Today: which Baseten metadata schema each endpoint accepted. Written atomically, and
an unreadable file is treated as empty (it is only a cache).
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

from app.adapters.files import JsonKeyValues


def state_dir() -> Path:
    """The platform's per-user state directory for Hark."""
    return Path(platformdirs.user_state_dir("hark", appauthor=False))


class FileSchemaMemory:
    """The engine's ``SchemaMemory`` port, as a JSON file ``{endpoint: schema}``."""

    def __init__(self, path: Path | None = None) -> None:
        self._file = JsonKeyValues(path or state_dir() / "baseten-schemas.json")
        self.path = self._file.path

    def get(self, endpoint: str) -> str | None:
        """The schema that last worked for ``endpoint``."""
        schema = self._file.get(endpoint)
        return schema if isinstance(schema, str) else None

    def set(self, endpoint: str, schema: str) -> None:
        """Remember ``schema`` for ``endpoint``."""
        self._file.set(endpoint, schema)
