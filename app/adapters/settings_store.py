"""Settings and UI state as JSON files in the platform's config directory.

Two files, two owners: ``settings.json`` (the user's choices, :class:`SettingsStore`)
and ``ui-state.json`` (window and overlay geometry, :class:`UiStateStore`). Both are
written atomically. A settings file that cannot be read or parsed is moved aside to a
timestamped backup, the defaults are used, and the caller gets a one-line problem
to show the user. Secrets never go here: they are in the keyring.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from app.adapters.files import JsonKeyValues, write_atomic
from app.core.settings import Settings, from_dict, to_dict

log = logging.getLogger(__name__)


def config_dir() -> Path:
    """The platform's per-user configuration directory for Hark."""
    return Path(platformdirs.user_config_dir("hark", appauthor=False))


@dataclass
class LoadResult:
    """What :meth:`SettingsStore.load` found.

    Attributes:
        settings: The settings to use (the defaults when nothing usable was found).
        first_run: True when there was no settings file at all.
        problems: One line per thing the user should know (reset values, a backup).
        backup: Where an unreadable file was moved, if one was.
    """

    settings: Settings
    first_run: bool = False
    problems: list[str] = field(default_factory=list)
    backup: Path | None = None


class SettingsStore:
    """Loads and saves :class:`~app.core.settings.Settings` as JSON."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "settings.json"

    def load(self) -> LoadResult:
        """Read the settings; never raises for a missing, corrupt or unreadable file."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return LoadResult(Settings(), first_run=True)
        except (OSError, UnicodeDecodeError) as exc:
            return self._recover(f"cannot be read ({exc})")
        try:
            data = json.loads(text)
        except ValueError as exc:
            return self._recover(f"is not valid JSON ({exc})")
        if not isinstance(data, dict):
            return self._recover("does not hold a table")
        settings, problems = from_dict(data)
        if problems:
            for line in problems:
                log.warning("settings: %s", line)
            self.save(settings)  # keep the file in step with what is in use
        return LoadResult(settings, problems=problems)

    def _recover(self, why: str) -> LoadResult:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = self.path.with_name(f"{self.path.stem}.broken-{stamp}{self.path.suffix}")
        try:
            self.path.replace(backup)
        except OSError as exc:
            log.error("cannot move the broken settings file aside: %s", exc)
            backup_note = "it could not be moved aside"
            moved: Path | None = None
        else:
            backup_note = f"it was kept as {backup}"
            moved = backup
        message = f"The settings file {why}; using the defaults ({backup_note})."
        log.warning("%s", message)
        return LoadResult(Settings(), problems=[message], backup=moved)

    def save(self, settings: Settings) -> None:
        """Write the settings atomically (readers never see half a file)."""
        write_atomic(self.path, json.dumps(to_dict(settings), indent=2, ensure_ascii=False) + "\n")


class UiStateStore(JsonKeyValues):
    """Small UI facts (overlay position per screen, dialog geometry) in their own file.

    Unreadable state is simply forgotten: it is a convenience, not user data.
    """

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(path or config_dir() / "ui-state.json", cached=True)
