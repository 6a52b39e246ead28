"""Every probe, the verdict from their typed results, and the report as JSON.

The adapters' log messages are captured while the probes run, so stderr stays quiet
and stdout pure JSON; warnings and errors among them go into the report's ``log``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app import __version__
from app.diagnostics.findings import Findings, Level, messages
from app.diagnostics.probes.audio import AudioResult, probe_audio
from app.diagnostics.probes.hotkey import HotkeyResult, probe_hotkey
from app.diagnostics.probes.keyboard import KeyboardResult, probe_keyboard
from app.diagnostics.probes.local_engine import LocalEngineResult, probe_local_engine
from app.diagnostics.probes.permissions import PermissionsResult, probe_permissions
from app.diagnostics.probes.qt import QtResult, probe_qt
from app.diagnostics.probes.resources import ResourcesResult, probe_resources
from app.diagnostics.probes.runtime import RuntimeResult, probe_runtime
from app.diagnostics.probes.secrets import KeyringResult, probe_keyring
from app.diagnostics.probes.setup import SetupResult, probe_setup
from app.diagnostics.probes.tls import TlsResult, probe_tls


@dataclass(frozen=True)
class Results:
    """What every probe found; ``setup`` is None with ``--installation-only``."""

    runtime: RuntimeResult
    qt: QtResult
    audio: AudioResult
    keyring: KeyringResult
    hotkey: HotkeyResult
    keyboard: KeyboardResult
    permissions: PermissionsResult
    tls: TlsResult
    resources: ResourcesResult
    local_engine: LocalEngineResult
    setup: SetupResult | None = None

    def findings(self) -> Findings:
        """Every probe's findings, in the report's order."""
        found = (
            *self.runtime.findings(),
            *self.qt.findings(),
            *self.audio.findings(),
            *self.keyring.findings(),
            *self.hotkey.findings(),
            *self.keyboard.findings(),
            *self.permissions.findings(),
            *self.tls.findings(),
            *self.resources.findings(),
            *self.local_engine.findings(),
        )
        if self.setup is not None:
            found = (*found, *self.setup.findings(self.audio))
        return found

    def to_json(self) -> dict[str, Any]:
        """The report's sections, one per probe."""
        sections: dict[str, Any] = {
            "runtime": self.runtime.to_json(),
            "qt": self.qt.to_json(),
            "audio": self.audio.to_json(),
            "keyring": self.keyring.to_json(),
            "hotkey": self.hotkey.to_json(),
            "keyboard": self.keyboard.to_json(),
            "permissions": self.permissions.to_json(),
            "tls": self.tls.to_json(),
            "resources": self.resources.to_json(),
            "local_engine": self.local_engine.to_json(),
        }
        if self.setup is not None:
            sections["setup"] = self.setup.to_json()
        return sections


@dataclass(frozen=True)
class Verdict:
    """Problems (the app cannot work: exit status 1) and warnings, one line each."""

    problems: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verdict(results: Results) -> Verdict:
    found = results.findings()
    return Verdict(tuple(messages(found, Level.PROBLEM)), tuple(messages(found, Level.WARNING)))


@dataclass(frozen=True)
class Report:
    """The results, their verdict, and the warnings the adapters logged meanwhile."""

    results: Results
    verdict: Verdict
    log: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.verdict.ok

    def to_json(self) -> dict[str, Any]:
        return {
            "hark": __version__,
            **self.results.to_json(),
            "problems": list(self.verdict.problems),
            "warnings": list(self.verdict.warnings),
            "ok": self.verdict.ok,
            "log": list(self.log),
        }


class _Collector(logging.Handler):
    """Keeps the warnings and errors the adapters log, for the report's ``log``."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def probe_all(environ: Mapping[str, str], *, setup: bool = True) -> Results:
    """Every probe, in the report's order (the keyboard's session kind first)."""
    keyboard = probe_keyboard()
    runtime = probe_runtime()
    qt = probe_qt(environ)
    audio = probe_audio()
    keyring = probe_keyring()
    hotkey = probe_hotkey()
    return Results(
        runtime=runtime,
        qt=qt,
        audio=audio,
        keyring=keyring,
        hotkey=hotkey,
        keyboard=keyboard,
        permissions=probe_permissions(keyboard.session or ""),
        tls=probe_tls(),
        resources=probe_resources(),
        local_engine=probe_local_engine(),
        setup=probe_setup() if setup else None,
    )


def run_checks(
    environ: Mapping[str, str] | None = None, *, setup: bool = True, verbosity: int = 0
) -> Report:
    """Every check, and the verdict.

    Args:
        environ: The environment to judge (default: this process's).
        setup: Also check the user's set-up: the chosen provider's model or key, and a
            microphone. Off for a build's smoke test, on a machine with neither.
        verbosity: 1 also logs to stderr (INFO), 2 at DEBUG; 0 keeps stderr quiet.
    """
    from app.adapters.logfile import SecretFilter

    env = os.environ if environ is None else environ
    secrets = SecretFilter()  # the report's log lines, and stderr, never show a key
    collector = _Collector()
    collector.addFilter(secrets)
    handlers: list[logging.Handler] = [collector]
    if verbosity > 0:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("hark: %(levelname)s: %(name)s: %(message)s"))
        console.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)
        console.addFilter(secrets)
        handlers.append(console)
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, root.handlers[:]
    root.handlers = handlers
    root.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)
    try:
        results = probe_all(env, setup=setup)
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)
    log = tuple(f"{r.levelname.lower()}: {r.name}: {r.getMessage()}" for r in collector.records)
    return Report(results, verdict(results), log)
