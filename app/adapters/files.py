"""Files written so that a crash never leaves half of one behind."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class JsonKeyValues:
    """A JSON object ``{key: value}`` in one file, for facts that are no user data.

    A missing, unreadable or malformed file reads as empty (logged, except when it is
    missing); a write goes through :func:`write_atomic`, and one that fails is logged,
    not raised. With ``cached`` the file is read once; else on every access (another
    process may write it too).
    """

    def __init__(self, path: Path, *, cached: bool = False) -> None:
        self.path = path
        self._cached = cached
        self._data: dict[str, Any] | None = None

    def load(self) -> dict[str, Any]:
        """The stored object (the cached one when ``cached``); mutate it only via set()."""
        if self._data is not None:
            return self._data
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            data = {}
        data = data if isinstance(data, dict) else {}
        if self._cached:
            self._data = data
        return data

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value for ``key``."""
        return self.load().get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key`` and write the file."""
        data = self.load()
        if data.get(key) == value:
            return
        data[key] = value
        try:
            write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True) + "\n")
        except OSError as exc:
            log.warning("cannot save %s: %s", self.path, exc)
