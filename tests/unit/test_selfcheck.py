"""``hark --self-check``: a JSON report, its verdict and the exit status.

The command runs as a subprocess, as a user (or the frozen build's smoke test) runs it:
Qt offscreen, the null keyring, no desktop session. PortAudio is made unavailable
with a stand-in ``sounddevice`` module that raises exactly what the real one raises
when the library is missing (``OSError: PortAudio library not found``): the real
library cannot be hidden from ``ctypes.util.find_library`` on Linux (it asks
``/sbin/ldconfig``). The verdict rules are tested directly on typed probe results.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app import __version__
from app.adapters.models import MODEL_REPOS
from app.adapters.settings_store import SettingsStore
from app.core.options import LocalOptions
from app.core.settings import Settings
from app.diagnostics.findings import Findings, Level, messages
from app.diagnostics.probes.audio import AudioResult
from app.diagnostics.probes.hotkey import HotkeyResult
from app.diagnostics.probes.keyboard import KeyboardResult
from app.diagnostics.probes.local_engine import LocalEngineResult
from app.diagnostics.probes.permissions import (
    MacPermissions,
    PermissionsResult,
    WaylandPermissions,
    WindowsPermissions,
)
from app.diagnostics.probes.qt import QtResult, desktop_session, probe_qt
from app.diagnostics.probes.resources import ResourcesResult
from app.diagnostics.probes.runtime import RuntimeResult
from app.diagnostics.probes.secrets import KeyringResult
from app.diagnostics.probes.setup import KeyCheck, LocalModelCheck, SetupResult
from app.diagnostics.probes.tls import TlsResult
from app.diagnostics.report import Results, verdict
from tests.helpers import ROOT, TIMEOUT_FACTOR, hark_env
from tests.model_server import ModelHub, add_repo, closed_port, serve_hub

SECTIONS = {
    "hark", "runtime", "qt", "audio", "keyring", "hotkey", "keyboard", "permissions", "tls",
    "resources", "local_engine", "problems", "warnings", "ok", "log",
}  # fmt: skip


def self_check(
    tmp_path: Path, *args: str, settings: Settings | None = None, **extra: str
) -> tuple[int, dict[str, Any]]:
    env = hark_env(tmp_path, QT_QPA_PLATFORM="offscreen", **extra)
    if settings is not None:  # where platformdirs puts it under hark_env's XDG_CONFIG_HOME
        SettingsStore(tmp_path / "config" / "hark" / "settings.json").save(settings)
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE", "HARK_HOTKEY_BACKEND"):
        env.pop(var, None)
    proc = subprocess.run(
        [sys.executable, "-m", "app", "--self-check", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120 * TIMEOUT_FACTOR,
        check=False,
    )
    try:
        report = json.loads(proc.stdout)  # stdout is the JSON and nothing else
    except ValueError:
        pytest.fail(f"not JSON (status {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.returncode, report


def test_reports_everything_and_passes_where_the_app_can_run(tmp_path: Path) -> None:
    code, report = self_check(tmp_path, "--installation-only")

    assert code == 0, report["problems"]
    assert set(report) == SECTIONS
    assert report["ok"] is True
    assert report["problems"] == []
    assert report["hark"] == __version__
    assert report["runtime"]["frozen"] is False
    assert report["runtime"]["python"] == ".".join(map(str, sys.version_info[:3]))
    qt = report["qt"]
    assert qt["platform"] == "offscreen"
    assert qt["qt"].startswith("6.")
    assert "offscreen" in qt["platform_plugins"]
    assert qt["svg_support"] is True
    assert qt["icon_renders"] is True
    assert qt["app_modules"] == "ok"
    assert report["audio"]["portaudio"].startswith("PortAudio")
    assert isinstance(report["audio"]["input_devices"], list)
    assert report["resources"]["missing"] == []
    assert Path(report["resources"]["dir"]) == ROOT / "resources"
    # The null keyring is flagged, as a warning: keys can still come from the environment.
    assert report["keyring"]["backend"] == "keyring.backends.null.Keyring"
    assert report["keyring"]["secure"] is False
    assert report["keyring"]["keyrings_alt_installed"] is False
    assert any("no secure keyring" in w for w in report["warnings"])
    if sys.platform.startswith("linux"):  # no DISPLAY: no hotkey and no typing, said why
        assert report["hotkey"]["backend"] is None
        assert "X11 or Wayland" in report["hotkey"]["reason"]
        assert report["keyboard"] == {
            "backend": "unavailable",
            "session": "none",
            "reason": "No desktop session (no DISPLAY or WAYLAND_DISPLAY).",
        }
        assert any(w.startswith("no global hotkey") for w in report["warnings"])


def test_missing_portaudio_is_a_failure_with_the_reason(tmp_path: Path) -> None:
    stand_in = tmp_path / "no-portaudio"
    stand_in.mkdir()
    (stand_in / "sounddevice.py").write_text('raise OSError("PortAudio library not found")\n')

    code, report = self_check(tmp_path, "--installation-only", PYTHONPATH=str(stand_in))

    assert code == 1
    assert report["ok"] is False
    assert "PortAudio library not found" in report["audio"]["error"]
    assert report["audio"]["input_devices"] == []
    [problem] = report["problems"]
    assert problem.startswith("no audio input: The audio library PortAudio is missing")
    assert report["qt"]["platform"] == "offscreen"  # everything else still reported


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")
def test_a_qt_platform_that_cannot_start_is_reported_not_fatal() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "xcb"  # no X server: Qt aborts the (child) process

    info = probe_qt(env)

    assert info.error is not None
    assert info.error.startswith("Qt stopped with status")
    assert "could not connect to display" in info.error
    assert info.qt is not None
    assert info.qt.startswith("6.")  # written before the platform plugin was loaded
    assert problems_of(info.findings()) == [f"Qt cannot start: {info.error}"]


def test_without_a_desktop_session_qt_is_still_checked_offscreen() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    info = probe_qt(env, plat="linux")

    assert info.session is False
    assert info.platform == "offscreen"
    problems = problems_of(info.findings())
    assert len(problems) == 1
    assert problems[0].startswith("no desktop session")


@pytest.mark.parametrize(
    ("env", "plat", "expected"),
    [
        ({}, "linux", False),
        ({"DISPLAY": ":0"}, "linux", True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", True),
        ({}, "win32", True),
        ({}, "darwin", True),
    ],
)
def test_desktop_session(env: dict[str, str], plat: str, expected: bool) -> None:
    assert desktop_session(env, plat) is expected


def problems_of(findings: Findings) -> list[str]:
    return messages(findings, Level.PROBLEM)


HEALTHY = Results(
    runtime=RuntimeResult("3.11.9", "CPython", "/usr/bin/python3", False, None, "Linux", "x86_64"),
    qt=QtResult(session=True, platform="xcb", system_tray=True, svg_support=True,
                icon_renders=True),
    audio=AudioResult(input_devices=("Built-in Microphone",), loaded=True,
                      portaudio="PortAudio V19"),
    keyring=KeyringResult(keyrings_alt_installed=False,
                          backend="keyring.backends.SecretService.Keyring", secure=True),
    hotkey=HotkeyResult("x11", reason="an X11 session (DISPLAY=:0)"),
    keyboard=KeyboardResult(backend="x11", session="x11"),
    permissions=PermissionsResult(),
    tls=TlsResult("OpenSSL 3", None, None, None, ca_certificates=140, ok=True),
    resources=ResourcesResult(dir="/opt/hark/resources"),
    local_engine=LocalEngineResult(),
)  # fmt: skip


def with_change(path: str, value: Any, results: Any = HEALTHY) -> Any:
    """``results`` with the field at ``path`` (``qt.error``) replaced by ``value``."""
    name, _, rest = path.partition(".")
    if rest:
        value = with_change(rest, value, getattr(results, name))
    return dataclasses.replace(results, **{name: value})


def collect_problems(results: Results) -> tuple[list[str], list[str]]:
    judged = verdict(results)
    return list(judged.problems), list(judged.warnings)


def test_a_healthy_report_has_no_problems_and_no_warnings() -> None:
    assert collect_problems(HEALTHY) == ([], [])


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        ("qt.error", "Qt stopped with status -6: could not connect to display", "Qt cannot start"),
        ("qt.platform", None, "without a platform plugin"),
        ("qt.svg_support", False, "SVG plugin is missing"),
        ("qt.app_modules", "ImportError: cannot import name 'x'", "code cannot load: ImportError"),
        ("qt.session", False, "no desktop session"),
        ("audio.error", "PortAudio is missing", "no audio input: PortAudio is missing"),
        ("permissions.macos", MacPermissions(microphone="denied"), "microphone access is denied"),
        ("permissions.windows", WindowsPermissions("denied"), "microphone access is off"),
        ("tls.ok", False, "no CA certificates"),
        ("resources.missing", ("idle", "error"), "icons missing in /opt/hark/resources: idle"),
        ("resources.error", "ModuleNotFoundError: PySide6", "resources cannot be found"),
        ("local_engine.errors", ("ctranslate2: OSError: libctranslate2.so",), "local engine"),
    ],
)
def test_what_the_app_needs_is_a_problem(path: str, value: Any, problem: str) -> None:
    problems, _warnings = collect_problems(with_change(path, value))
    assert len(problems) == 1
    assert problem in problems[0]


@pytest.mark.parametrize(
    ("path", "value", "warning"),
    [
        ("keyring.backend", "keyrings.alt.file.PlaintextKeyring", None),
        ("keyring.secure", False, "no secure keyring"),
        ("keyring.keyrings_alt_installed", True, "keyrings.alt is installed"),
        ("keyring.error", "TimeoutError: the keyring did not answer", "does not answer"),
        ("hotkey", HotkeyResult(None, reason="no X11 or Wayland display"), "no global hotkey"),
        ("keyboard", KeyboardResult("unavailable", reason="no wtype"), "typing is unavailable"),
        ("permissions.macos", MacPermissions(accessibility=False), "Accessibility is not granted"),
        ("permissions.macos", MacPermissions(microphone="not_determined"), None),
        ("permissions.macos", MacPermissions(secure_event_input=True), "Secure Event Input"),
        ("qt.system_tray", False, "no system tray"),
    ],
)
def test_what_the_app_can_do_without_is_a_warning(
    path: str, value: Any, warning: str | None
) -> None:
    report = with_change(path, value)
    if path == "keyring.backend":
        report = with_change("keyring.secure", False, report)  # as KeyringSecretStore says
        warning = "no secure keyring (keyrings.alt.file.PlaintextKeyring)"
    problems, warnings = collect_problems(report)
    assert problems == []
    if warning is None:
        assert warnings == []
    else:
        assert len(warnings) == 1
        assert warning in warnings[0]


def test_wayland_limits_are_warnings() -> None:
    report = with_change("permissions.wayland", WaylandPermissions())
    problems, warnings = collect_problems(report)
    assert problems == []
    assert warnings == [
        "Wayland: the focused window cannot be known, so the wrong-window check is skipped",
        "Wayland: no GlobalShortcuts portal; bind `hark ptt press`/`release` or "
        "`hark toggle` to a desktop shortcut",
    ]
    report = with_change("permissions.wayland.global_shortcuts_portal", 1, report)
    assert len(collect_problems(report)[1]) == 1


# -- the user's set-up: the chosen provider can run, and there is a microphone ----------------

needs_xdg = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="settings are found through XDG_CONFIG_HOME"
)
MIC = ("Built-in Microphone",)


def _setup(setup: SetupResult, devices: tuple[str, ...] = MIC) -> tuple[list[str], list[str]]:
    report = with_change("setup", setup)
    report = with_change("audio.input_devices", devices, report)
    return collect_problems(report)


def test_a_ready_setup_has_no_problems() -> None:
    local = SetupResult("local", None, model=LocalModelCheck("base", model_path="/m/base"))
    assert _setup(local) == ([], [])
    assert _setup(SetupResult("together", None, key=KeyCheck("keyring"))) == ([], [])


def test_no_microphone_stops_the_setup() -> None:
    problems, _ = _setup(SetupResult("together", None, key=KeyCheck("keyring")), devices=())
    assert problems == [
        "no microphone found: dictation and captions need one; connect it (or check the "
        "system's sound settings) and start Hark again"
    ]


def test_a_chosen_microphone_that_is_gone_is_a_warning() -> None:
    setup = SetupResult("together", "USB Headset", key=KeyCheck("keyring"))
    problems, warnings = _setup(setup)
    assert problems == []
    assert warnings == [
        "the microphone 'USB Headset' chosen in Settings is not connected; Hark uses the "
        "default one until it is"
    ]


@needs_xdg
def test_an_unreachable_model_download_is_a_problem_with_what_to_do(tmp_path: Path) -> None:
    code, report = self_check(tmp_path, HARK_MODEL_BASE_URL=f"http://127.0.0.1:{closed_port()}")
    assert code == 1
    assert report["setup"]["provider"] == "local"
    assert report["setup"]["model"] == "base"
    [problem] = [p for p in report["problems"] if "model" in p]
    assert problem.startswith("Cannot download the base model: 127.0.0.1:")
    assert "refused the connection (offline?)" in problem
    assert "`hark models download`" in problem


@needs_xdg
def test_a_reachable_model_download_is_a_warning_with_its_size(
    tmp_path: Path, tiny_model: Path
) -> None:
    hub = ModelHub({})
    add_repo(hub, MODEL_REPOS["base"], tiny_model)
    wanted = ("config.json", "model.bin", "tokenizer.json", "vocabulary.json")
    size = sum(len(b) for path, b in hub.files.items() if path.endswith(wanted))
    with serve_hub(hub):
        _, report = self_check(tmp_path, HARK_MODEL_BASE_URL=f"http://127.0.0.1:{hub.port}")
    assert report["setup"]["download_bytes"] == size
    assert not [p for p in report["problems"] if "model" in p]
    assert f"the local base model is not downloaded yet ({size / 1e6:.0f} MB)" in " ".join(
        report["warnings"]
    )
    assert {s.method for s in hub.seen} == {"HEAD"}  # asked, not downloaded


@needs_xdg
def test_a_model_folder_is_checked(tmp_path: Path, tiny_model: Path) -> None:
    good = Settings(local=LocalOptions(model=str(tiny_model)))
    _, report = self_check(tmp_path, settings=good)
    assert report["setup"]["model_path"] == str(tiny_model)
    assert not [p for p in report["problems"] if "model" in p]

    empty = tmp_path / "empty-model"
    empty.mkdir()
    code, report = self_check(tmp_path, settings=Settings(local=LocalOptions(model=str(empty))))
    assert code == 1
    assert (
        f"The model folder {empty} holds no CTranslate2 Whisper model (model.bin). "
        "Choose another model in Settings."
    ) in report["problems"]


@needs_xdg
def test_a_cloud_provider_without_a_key_is_a_problem(tmp_path: Path) -> None:
    code, report = self_check(tmp_path, settings=Settings(provider="together"))
    assert code == 1
    assert report["setup"] == {"provider": "together", "microphone": None, "api_key": None,
                               "key_error": report["setup"]["key_error"]}  # fmt: skip
    assert any(p.startswith("No Together AI API key. Store one with `hark keys set together`")
               for p in report["problems"])  # fmt: skip

    code, report = self_check(tmp_path, settings=Settings(provider="together"),
                              TOGETHER_API_KEY="k-123")  # fmt: skip
    assert report["setup"]["api_key"] == "environment variable TOGETHER_API_KEY"
    assert "k-123" not in json.dumps(report)
