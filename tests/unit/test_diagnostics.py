"""The self-check's probes one by one: typed results, their JSON sections, their findings.

``test_selfcheck.py`` runs the whole command; here each probe's result is built or run
in-process. The hotkey backend factory says why it chose or refused a backend, and the
hotkey probe reports that reason (it used to be scraped from the log).
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any

import pytest

from app.adapters.hotkeys import select_backend
from app.adapters.hotkeys.base import IPC_HINT
from app.diagnostics import findings
from app.diagnostics.findings import Level, problem, status, warning, with_timeout
from app.diagnostics.probes.audio import AudioResult
from app.diagnostics.probes.hotkey import HotkeyResult, probe_hotkey
from app.diagnostics.probes.keyboard import KeyboardResult, probe_keyboard
from app.diagnostics.probes.local_engine import LocalEngineResult, probe_local_engine
from app.diagnostics.probes.permissions import (
    MacPermissions,
    PermissionsResult,
    WaylandPermissions,
    probe_permissions,
)
from app.diagnostics.probes.qt import QtResult
from app.diagnostics.probes.runtime import probe_runtime
from app.diagnostics.probes.secrets import KeyringResult
from app.diagnostics.probes.setup import KeyCheck, LocalModelCheck, SetupResult
from app.diagnostics.probes.tls import probe_tls

# -- the hotkey backend factory's reasons ------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "platform", "name", "reason"),
    [
        ({"DISPLAY": ":0"}, "linux", "x11", "an X11 session (DISPLAY=:0)"),
        ({"WAYLAND_DISPLAY": "w"}, "linux", "wayland-portal", "a Wayland session"),
        ({}, "win32", "windows", "Windows"),
        ({}, "darwin", "macos", "macOS"),
        ({"HARK_HOTKEY_BACKEND": " X11 "}, "linux", "x11", "HARK_HOTKEY_BACKEND=x11"),
        ({}, "linux", None, f"no X11 or Wayland display; {IPC_HINT}"),
        ({"HARK_HOTKEY_BACKEND": "none"}, "win32", None, "global hotkey off (HARK_HOTKEY"),
        ({"HARK_HOTKEY_BACKEND": "evdev"}, "linux", None, "unknown HARK_HOTKEY_BACKEND 'evdev'"),
    ],
)
def test_the_backend_factory_says_why(
    environ: dict[str, str], platform: str, name: str | None, reason: str
) -> None:
    choice = select_backend(environ, platform)
    assert (choice.backend.name if choice.backend is not None else None) == name
    assert choice.reason.startswith(reason)


def test_a_missing_library_is_the_reason_and_is_still_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "Xlib" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    choice = select_backend({"DISPLAY": ":0"}, "linux")
    assert choice.backend is None
    assert choice.reason == f"python-xlib is not installed; {IPC_HINT}"
    assert f"no global hotkey: {choice.reason}" in caplog.text  # the app's log, as before


def test_the_hotkey_probe_reports_the_factory_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARK_HOTKEY_BACKEND", "none")
    result = probe_hotkey()
    assert result.backend is None
    assert result.to_json() == {"backend": None, "started": False, "reason": result.reason}
    assert result.findings() == (warning(f"no global hotkey: {result.reason}"),)


def test_a_chosen_hotkey_keeps_its_reason_out_of_the_report() -> None:
    result = HotkeyResult("x11", reason="an X11 session (DISPLAY=:0)")
    assert result.to_json() == {"backend": "x11", "started": False}
    assert result.findings() == ()
    assert HotkeyResult(None, error="OSError: x").findings() == (
        warning("no global hotkey: OSError: x"),
    )


# -- findings and their helpers --------------------------------------------------------------


def test_status_is_the_worst_finding() -> None:
    assert status(()) is None
    assert status((warning("w"),)) is Level.WARNING
    assert status((warning("w"), problem("p"))) is Level.PROBLEM


def test_a_probe_that_hangs_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(findings._Timeouts, "happened", False)
    release = threading.Event()
    try:
        with pytest.raises(TimeoutError, match=r"the test did not answer within 0\.01 s"):
            with_timeout(release.wait, 0.01, "the test")
    finally:
        release.set()
    assert findings.timed_out() is True
    assert with_timeout(lambda: 7, 5, "the answer") == 7
    with pytest.raises(ValueError, match="bad"):
        with_timeout(lambda: int("bad"), 5, "the error")


# -- each section's JSON, as the report always showed it ------------------------------------


def test_qt_reads_what_the_child_got_to() -> None:
    data = {"pyside6": "6.7", "qt": "6.7.2", "platform_plugins": ["offscreen", "xcb"],
            "error": "RuntimeError: no"}  # fmt: skip
    result = QtResult.from_child(True, data)
    assert result.platform_plugins == ("offscreen", "xcb")
    assert result.to_json() == {"session": True, **data}
    assert list(result.to_json()) == ["session", "pyside6", "qt", "platform_plugins", "error"]
    assert [f.message for f in result.findings()] == ["Qt cannot start: RuntimeError: no"]
    assert QtResult.from_child(False, {"qt": 6, "platform": None}).to_json() == {"session": False}


def test_audio_without_portaudio() -> None:
    result = AudioResult(error="PortAudio is missing")
    assert result.to_json() == {
        "backend": "sounddevice",
        "input_devices": [],
        "error": "PortAudio is missing",
    }
    assert result.findings() == (problem("no audio input: PortAudio is missing"),)
    loaded = AudioResult(("Mic",), True, "0.5", "PortAudio V19", None, ("ALSA",))
    assert loaded.to_json() == {"backend": "sounddevice", "input_devices": ["Mic"],
                                "sounddevice": "0.5", "portaudio": "PortAudio V19",
                                "library": None, "host_apis": ["ALSA"]}  # fmt: skip


def test_keyring_sections() -> None:
    assert KeyringResult(False, "null", False).to_json() == {
        "backend": "null", "secure": False, "keyrings_alt_installed": False,
    }  # fmt: skip
    chained = KeyringResult(False, "chainer", True, chain=("a", "b"))
    assert chained.to_json()["chain"] == ["a", "b"]
    assert chained.findings() == ()


def test_keyboard_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(var, raising=False)
    result = probe_keyboard()
    if result.session == "none":
        assert result.to_json() == {
            "backend": "unavailable",
            "session": "none",
            "reason": "No desktop session (no DISPLAY or WAYLAND_DISPLAY).",
        }
        assert [f.level for f in result.findings()] == [Level.WARNING]
    assert KeyboardResult(error="OSError: x").to_json() == {"backend": None, "error": "OSError: x"}


def test_permissions_sections() -> None:
    assert probe_permissions("x11", plat="linux") == PermissionsResult()
    assert PermissionsResult().to_json() == {}
    mac = MacPermissions(accessibility=True, microphone="authorized", secure_event_input=False)
    assert PermissionsResult(macos=mac).to_json() == {
        "macos": {"accessibility": True, "microphone": "authorized", "secure_event_input": False}
    }
    wayland = WaylandPermissions(portal_error="TimeoutError: slow")
    assert wayland.to_json() == {"focus_check": False, "global_shortcuts_portal": None,
                                 "portal_error": "TimeoutError: slow"}  # fmt: skip
    assert len(wayland.findings()) == 2


def test_setup_sections() -> None:
    missing = SetupResult("together", None, key=KeyCheck(None, key_error="No key."))
    assert missing.to_json() == {"provider": "together", "microphone": None, "api_key": None,
                                 "key_error": "No key."}  # fmt: skip
    download = SetupResult("local", "Mic", model=LocalModelCheck("base", download_bytes=2_000_000))
    assert download.to_json() == {"provider": "local", "microphone": "Mic", "model": "base",
                                  "download_bytes": 2_000_000}  # fmt: skip
    found = download.findings(AudioResult(input_devices=("Mic",)))
    assert [f.level for f in found] == [Level.WARNING]
    assert "not downloaded yet (2 MB)" in found[0].message
    # No microphone is the audio probe's problem when PortAudio is missing, not setup's.
    assert download.findings(AudioResult(error="PortAudio is missing")) == found


def test_probes_that_run_anywhere() -> None:
    runtime = probe_runtime()
    assert runtime.frozen is False
    assert set(runtime.to_json()) == {"python", "implementation", "executable", "frozen",
                                      "bundle_dir", "os", "machine"}  # fmt: skip
    tls = probe_tls()
    assert list(tls.to_json())[-1] == "ok"
    engine = probe_local_engine()
    assert isinstance(engine, LocalEngineResult)
    assert set(engine.to_json()) <= {"faster_whisper", "ctranslate2", "errors"}
