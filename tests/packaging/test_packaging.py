"""Packaging, as far as Linux can prove it.

- The GitHub workflow validates against the GitHub workflow schema (check-jsonschema's
  vendored copy: no network), and builds installers where the issue says.
- The NSIS script compiles (makensis, warnings as errors) against a stand-in payload
  laid out like the one-folder build.
- The PyInstaller spec is linted, and executed with recording stand-ins for PyInstaller's
  classes as Linux, Windows and macOS would run it (the macOS bundle's Info.plist, the
  Windows console twin, hidden imports and excludes).
- The Linux tarball and its install.sh (stand-in payload, throwaway home).
- The real Linux frozen build (``packaging/build.py linux --skip-installer``: PyInstaller
  with the spec, then the frozen ``--self-check``), then its self-check offscreen, and
  under Xvfb with a real Secret Service (gnome-keyring in dbus-run-session), which proves
  the keyring, X11 hotkey and typing backends are bundled; and ``hark transcribe`` with
  the local engine on a tiny test model (faster-whisper, CTranslate2, Silero VAD). About
  a minute on 2 cores; HARK_SKIP_FROZEN_BUILD=1 skips it. Its time and size go to
  test-output/packaging-linux.txt.

Not provable here (no Windows or macOS): running the installer, the DMG, codesign and
notarization; the CI workflow's tag jobs do those.
"""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import plistlib
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from app import __version__
from tests.helpers import ROOT, TIMEOUT_FACTOR, hark_env, need_tool, speech_wav
from tests.local_model import build_tiny_model

PACKAGING = ROOT / "packaging"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
SPEC = PACKAGING / "hark.spec"
NSIS = PACKAGING / "windows" / "hark.nsi"
ON_LINUX = sys.platform.startswith("linux")
OUTPUT = ROOT / "test-output"


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tool(name: str) -> str:
    """A tool the Linux test environment installs (bootstrap.py); elsewhere: skip."""
    if not ON_LINUX and shutil.which(name) is None:
        pytest.skip(f"{name} is installed by bootstrap.py on Debian/Ubuntu only")
    return need_tool(name)


# -- the workflow -----------------------------------------------------------------------


def check_workflow(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(path)],
        capture_output=True, text=True, timeout=60 * TIMEOUT_FACTOR, check=False,
    )  # fmt: skip


def test_the_workflow_validates_against_the_github_workflow_schema(tmp_path: Path) -> None:
    result = check_workflow(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    # ... and the check can fail: a job without runs-on is rejected.
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs_on: x", 1))
    assert check_workflow(broken).returncode != 0


def load_workflow() -> dict[str, Any]:
    from ruamel.yaml import YAML  # check-jsonschema's YAML parser

    data: dict[str, Any] = YAML(typ="safe").load(WORKFLOW.read_text())
    return data


def test_the_workflow_tests_everywhere_and_builds_installers_on_tags() -> None:
    workflow = load_workflow()
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1: on = True
    assert triggers["push"]["tags"] == ["v*"]
    assert "pull_request" in triggers
    jobs = workflow["jobs"]
    assert jobs["test-linux"]["runs-on"] == "ubuntu-latest"
    assert any(
        step.get("run") == "python3 packaging/bootstrap.py test"
        for step in jobs["test-linux"]["steps"]
    )
    assert jobs["test-other"]["strategy"]["matrix"]["os"] == ["windows-2022", "macos-14"]

    installer = jobs["installer"]
    assert installer["if"] == "startsWith(github.ref, 'refs/tags/v')"
    runners = {entry["os"]: entry["target"] for entry in installer["strategy"]["matrix"]["include"]}
    assert runners == {
        "windows-2022": "windows",
        "macos-14": "macos",
        "macos-15-intel": "macos",
        "ubuntu-22.04": "linux",
    }
    steps = installer["steps"]
    upload = next(i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/upload"))
    assert upload == len(steps) - 1
    for target in ("linux", "windows", "macos"):  # build.py runs the frozen --self-check
        assert any(f"packaging/build.py {target}" in s.get("run", "") for s in steps[:upload]), (
            target
        )
    assert any("--self-check" in s.get("run", "") for s in steps[:upload])


# -- the Windows installer ------------------------------------------------------------------


@pytest.fixture(scope="module")
def icons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("icons")
    subprocess.run(
        [sys.executable, str(PACKAGING / "make_icons.py"), str(folder)],
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        check=True,
        timeout=120 * TIMEOUT_FACTOR,
    )
    return folder


def test_the_icons_are_drawn_from_the_svg(icons: Path) -> None:
    ico = (icons / "hark.ico").read_bytes()
    assert ico[:4] == b"\0\0\1\0"
    assert int.from_bytes(ico[4:6], "little") == 7  # 16..256 px
    icns = (icons / "hark.icns").read_bytes()
    assert icns[:4] == b"icns"
    assert int.from_bytes(icns[4:8], "big") == len(icns)
    assert b"ic10" in icns  # 1024 px
    assert (icons / "hark-256.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_nsis_installer_compiles_against_a_stand_in_build(tmp_path: Path, icons: Path) -> None:
    makensis = tool("makensis")
    payload = tmp_path / "dist" / "hark"
    (payload / "_internal" / "PySide6" / "plugins").mkdir(parents=True)
    for name in ("hark.exe", "hark-cli.exe"):
        (payload / name).write_bytes(b"MZ stand-in for " + name.encode())
    (payload / "_internal" / "python311.dll").write_bytes(b"MZ")
    (payload / "_internal" / "PySide6" / "plugins" / "qwindows.dll").write_bytes(b"MZ")
    out = tmp_path / "dist" / "Hark-1.2.3-setup.exe"

    result = subprocess.run(
        [makensis, "-V4", "-WX", "-DVERSION=1.2.3", "-DVI_VERSION=1.2.3.0",
         f"-DSOURCE_DIR={payload}", f"-DOUTFILE={out}", f"-DICON={icons / 'hark.ico'}",
         str(NSIS)],
        capture_output=True, text=True, timeout=120 * TIMEOUT_FACTOR, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout[-4000:] + result.stderr
    assert out.read_bytes()[:2] == b"MZ"
    log = result.stdout
    for name in ("hark.exe", "hark-cli.exe", "python311.dll", "qwindows.dll"):
        assert f'File: "{name}"' in log, name
    assert 'WriteUninstaller: "$INSTDIR\\uninstall.exe"' in log
    assert "DisplayVersion=1.2.3" in log
    assert "Software\\Microsoft\\Windows\\CurrentVersion\\Run" in log
    assert 'InstallDir: "$LOCALAPPDATA\\Programs\\Hark"' in log
    assert 'Section: "Start Hark when I sign in" ->(SecAutostart)' in log
    assert 'Section: "un.Also remove my settings and history" ->(SecUnData)' in log


def test_the_nsis_script_installs_per_user_and_keeps_settings_unless_asked() -> None:
    script = NSIS.read_text()
    assert 'InstallDir "$LOCALAPPDATA\\Programs\\Hark"' in script
    assert "RequestExecutionLevel user" in script
    assert 'Section /o "Start ${APP_NAME} when I sign in"' in script
    assert 'Section /o "un.Also remove my settings and history"' in script
    # platformdirs' folder for "hark" (appauthor=False) on Windows, removed only on request
    assert '!define DATA_DIR "$LOCALAPPDATA\\hark"' in script
    assert script.count('RMDir /r "${DATA_DIR}"') == 1


# -- the spec, run with stand-ins for PyInstaller's classes ---------------------------------


def test_the_spec_is_lint_clean() -> None:
    for args in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args, str(SPEC)],
            capture_output=True, text=True, cwd=ROOT, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr


def run_spec(
    platform: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, list[SimpleNamespace]]:
    """Execute hark.spec as PyInstaller would on ``platform``; record what it builds."""
    import PyInstaller.utils.hooks as hooks

    calls: dict[str, list[SimpleNamespace]] = {}

    def recorder(kind: str) -> Any:
        def build(*args: Any, **kwargs: Any) -> SimpleNamespace:
            made = SimpleNamespace(args=args, kwargs=kwargs, pure=[], scripts=[], binaries=[],
                                   datas=[])  # fmt: skip
            calls.setdefault(kind, []).append(made)
            return made

        return build

    monkeypatch.setattr(hooks, "collect_submodules", lambda name, **kw: [f"{name}.*"])
    monkeypatch.setattr(hooks, "collect_data_files", lambda name, **kw: [])
    monkeypatch.setattr(hooks, "collect_dynamic_libs", lambda name, **kw: [])
    fake_versioninfo = ModuleType("PyInstaller.utils.win32.versioninfo")
    for name in ("VSVersionInfo", "FixedFileInfo", "StringFileInfo", "StringTable",
                 "StringStruct", "VarFileInfo", "VarStruct"):  # fmt: skip
        setattr(fake_versioninfo, name, recorder(name))
    monkeypatch.setitem(sys.modules, "PyInstaller.utils.win32.versioninfo", fake_versioninfo)
    namespace = {
        "SPECPATH": str(PACKAGING),
        "workpath": str(tmp_path / "work"),
        "__name__": "__main__",
        **{kind: recorder(kind) for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE")},
    }
    code = compile(SPEC.read_text(), str(SPEC), "exec")
    with monkeypatch.context() as patch:
        patch.setattr(sys, "platform", platform)
        exec(code, namespace)
    return calls


@pytest.fixture
def spec_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    return lambda platform: run_spec(platform, tmp_path, monkeypatch)


def test_the_spec_bundles_the_backends_and_leaves_out_plaintext_keyrings(spec_runner: Any) -> None:
    calls = spec_runner("linux")

    [analysis] = calls["Analysis"]
    options = analysis.kwargs
    assert analysis.args[0] == [str(PACKAGING / "launcher.py")]
    hidden = set(options["hiddenimports"])
    for package in ("hotkeys", "keyboard"):
        for module in (ROOT / "app" / "adapters" / package).glob("*.py"):
            assert f"app.adapters.{package}.{module.stem}" in hidden
    assert {
        "keyring.backends.SecretService",
        "keyring.backends.kwallet",
        "keyring.backends.Windows",
        "keyring.backends.macOS",
        "Xlib.*",
        "jeepney.*",
        "secretstorage",
    } <= hidden
    excludes = set(options["excludes"])
    unused = {"PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore", "PySide6.Qt3DCore",
              "PySide6.QtMultimedia"}  # fmt: skip
    assert {"keyrings.alt", "tkinter", *unused} <= excludes
    for used in ("PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PySide6.QtNetwork",
                 "PySide6.QtSvg"):  # fmt: skip
        assert used not in excludes
    assert (str(ROOT / "resources" / "icons"), "resources/icons") in options["datas"]
    assert options["runtime_hooks"] == [str(PACKAGING / "pyi_rth_hark.py")]
    [exe] = calls["EXE"]
    assert exe.kwargs["name"] == "hark"
    assert calls["COLLECT"][0].kwargs["name"] == "hark"
    assert "BUNDLE" not in calls


def test_the_spec_makes_a_console_twin_on_windows(spec_runner: Any) -> None:
    calls = spec_runner("win32")

    gui, cli = calls["EXE"]
    assert (gui.kwargs["name"], gui.kwargs["console"]) == ("hark", False)
    assert (cli.kwargs["name"], cli.kwargs["console"]) == ("hark-cli", True)
    for exe in (gui, cli):
        assert exe.kwargs["icon"].endswith("hark.ico")
        assert exe.kwargs["version"] is not None
    assert calls["COLLECT"][0].args[:2] == (gui, cli)
    assert "win32ctypes.*" in calls["Analysis"][0].kwargs["hiddenimports"]
    [fixed] = calls["FixedFileInfo"]
    numbers = tuple(int(n) for n in __version__.split(".")[:3])
    assert fixed.kwargs["filevers"] == (*numbers, 0)


def test_the_spec_makes_a_menu_bar_agent_bundle_on_macos(spec_runner: Any) -> None:
    calls = spec_runner("darwin")

    [exe] = calls["EXE"]
    assert exe.kwargs["entitlements_file"] == str(PACKAGING / "entitlements.plist")
    assert exe.kwargs["codesign_identity"] is None  # make_dmg.sh signs with the Developer ID
    [bundle] = calls["BUNDLE"]
    options = bundle.kwargs
    assert options["name"] == "Hark.app"
    assert options["icon"].endswith("hark.icns")
    assert options["bundle_identifier"]
    plist = options["info_plist"]
    assert plist["LSUIElement"] is True
    assert "microphone" in plist["NSMicrophoneUsageDescription"]
    assert plist["CFBundleShortVersionString"] == __version__
    assert plist["LSMinimumSystemVersion"] in ("12.0", "13.0", "14.0")
    assert {"objc", "Quartz", "AppKit"} <= set(calls["Analysis"][0].kwargs["hiddenimports"])


def test_the_entitlements_allow_the_microphone_under_the_hardened_runtime() -> None:
    entitlements = plistlib.loads((PACKAGING / "entitlements.plist").read_bytes())
    assert entitlements == {
        "com.apple.security.device.audio-input": True,
        "com.apple.security.cs.allow-unsigned-executable-memory": True,
        "com.apple.security.cs.disable-library-validation": True,
    }


def test_the_shell_scripts_parse() -> None:
    bash = tool("bash")
    for script in (PACKAGING / "macos" / "make_dmg.sh", PACKAGING / "linux" / "install.sh"):
        result = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    assert os.access(PACKAGING / "linux" / "install.sh", os.X_OK)


def test_the_runtime_hook_falls_back_to_the_bundled_portaudio(tmp_path: Path) -> None:
    hook = load_module(PACKAGING / "pyi_rth_hark.py", "pyi_rth_hark")  # not frozen: no-op
    assert hook.bundled_library("portaudio", tmp_path) is None
    (tmp_path / "libportaudio.so.2").write_bytes(b"")
    assert hook.bundled_library("portaudio", tmp_path) == str(tmp_path / "libportaudio.so.2")


def test_the_runtime_hook_points_openssl_at_the_system_certificates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = load_module(PACKAGING / "pyi_rth_hark.py", "pyi_rth_hark")
    bundle = tmp_path / "ca-bundle.crt"
    bundle.write_text("")
    missing = SimpleNamespace(cafile=None, capath=None)  # the build machine's paths, absent here
    monkeypatch.setattr(hook.ssl, "get_default_verify_paths", lambda: missing)
    bundles = (str(tmp_path / "absent.pem"), str(bundle))

    environ: dict[str, str] = {}
    hook.use_system_certificates(environ, "linux", bundles)
    assert environ == {"SSL_CERT_FILE": str(bundle)}
    for preset in ({"SSL_CERT_FILE": "/mine.pem"}, {"SSL_CERT_DIR": "/mine"}):
        environ = dict(preset)
        hook.use_system_certificates(environ, "darwin", bundles)
        assert environ == preset  # the user's choice wins
    environ = {}
    hook.use_system_certificates(environ, "win32", bundles)  # Windows: the system store
    assert environ == {}


# -- Linux: the tarball and install.sh (stand-in payload) ----------------------------------------


@pytest.mark.skipif(not ON_LINUX, reason="the Linux package")
def test_the_linux_tarball_installs_for_the_user_and_uninstalls(
    tmp_path: Path, icons: Path
) -> None:
    build = load_module(PACKAGING / "build.py", "hark_build")
    dist = tmp_path / "dist"
    (dist / "hark" / "_internal").mkdir(parents=True)
    program = dist / "hark" / "hark"
    program.write_text('#!/bin/sh\necho "stand-in hark $*"\n')
    program.chmod(0o755)

    tarball = build.package_linux(dist, "9.9.9", icons)

    top = "hark-9.9.9"
    with tarfile.open(tarball) as tar:
        members = {m.name: m for m in tar.getmembers()}
        tar.extractall(tmp_path / "unpacked", filter="data")
    for name in ("hark/hark", "hark/_internal", "hark.desktop", "hark.svg", "hark-256.png",
                 "install.sh"):  # fmt: skip
        assert f"{top}/{name}" in members, name
    assert members[f"{top}/install.sh"].mode & 0o111
    assert members[f"{top}/hark/hark"].mode & 0o111

    home = tmp_path / "home"
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}
    script = tmp_path / "unpacked" / top / "install.sh"
    run = subprocess.run(["sh", str(script), "--autostart"], env=env, capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    target = home / ".local" / "opt" / "hark"
    assert (target / "hark").is_file()
    assert (home / ".local" / "bin" / "hark").resolve() == (target / "hark").resolve()
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(home / ".local" / "share" / "applications" / "hark.desktop")
    assert entry["Desktop Entry"]["Exec"] == str(target / "hark")
    assert entry["Desktop Entry"]["Icon"] == "hark"
    assert (home / ".config" / "autostart" / "hark.desktop").is_file()
    hicolor = home / ".local" / "share" / "icons" / "hicolor"
    assert (hicolor / "scalable" / "apps" / "hark.svg").is_file()
    assert (hicolor / "256x256" / "apps" / "hark.png").is_file()

    installed_copy = target / "install.sh"
    run = subprocess.run(["sh", str(installed_copy), "--uninstall"], env=env, capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert not target.exists()
    assert not (home / ".local" / "bin" / "hark").exists()
    assert not (home / ".config" / "autostart" / "hark.desktop").exists()


def test_the_desktop_entry_matches_the_app() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(PACKAGING / "hark.desktop")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Name"] == "Hark"
    assert desktop["Exec"] == "hark"
    assert desktop["Icon"] == "hark"
    assert desktop["Terminal"] == "false"
    # QGuiApplication.setDesktopFileName("hark") in app/ui/application.py names this file
    assert 'setDesktopFileName("hark")' in (ROOT / "app" / "ui" / "application.py").read_text()


# -- Linux: the real frozen build -------------------------------------------------------------

needs_frozen_build = pytest.mark.skipif(
    not ON_LINUX or os.environ.get("HARK_SKIP_FROZEN_BUILD") == "1",
    reason="the Linux frozen build (HARK_SKIP_FROZEN_BUILD=1, or not Linux)",
)


@pytest.fixture(scope="module")
def frozen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``packaging/build.py linux --skip-installer``: PyInstaller, then the --self-check."""
    dist = tmp_path_factory.mktemp("frozen") / "dist"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(PACKAGING / "build.py"), "linux", "--dist", str(dist),
         "--skip-installer"],
        capture_output=True, text=True, cwd=ROOT, timeout=900 * TIMEOUT_FACTOR, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    folder = dist / "hark"
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "packaging-linux.txt").write_text(
        f"PyInstaller build + self-check: {seconds:.0f} s\n"
        f"one-folder size: {size / 1e6:.0f} MB ({sum(1 for _ in folder.rglob('*'))} files)\n"
    )
    return folder


def frozen_self_check(
    command: list[str], env: dict[str, str], limit_s: float = 120
) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=limit_s * TIMEOUT_FACTOR,
        check=False,
    )  # fmt: skip
    start = result.stdout.find("{")
    try:
        report: dict[str, Any] = json.loads(result.stdout[start:])
    except ValueError:
        pytest.fail(f"not JSON (status {result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.returncode, report


@needs_frozen_build
def test_the_frozen_app_passes_its_self_check(frozen: Path, tmp_path: Path) -> None:
    env = hark_env(tmp_path, QT_QPA_PLATFORM="offscreen")
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "PYTHONPATH"):
        env.pop(var, None)

    code, report = frozen_self_check(
        [str(frozen / "hark"), "--self-check", "--installation-only"], env
    )

    assert code == 0, report["problems"]
    assert report["ok"] is True
    assert report["hark"] == __version__
    assert report["runtime"]["frozen"] is True
    assert report["runtime"]["bundle_dir"] == str(frozen / "_internal")
    assert report["resources"] == {"dir": str(frozen / "_internal" / "resources"), "missing": []}
    assert report["qt"]["platform"] == "offscreen"
    assert report["qt"]["icon_renders"] is True
    assert report["qt"]["app_modules"] == "ok"  # every module the app imports is bundled
    assert "xcb" in report["qt"]["platform_plugins"]
    assert report["audio"]["portaudio"].startswith("PortAudio")
    assert report["audio"]["library"] == "libportaudio.so.2"
    assert report["keyring"]["keyrings_alt_installed"] is False
    assert report["tls"]["ok"] is True
    assert "errors" not in report["local_engine"]


@needs_frozen_build
def test_the_frozen_app_finds_its_backends_on_x11_with_a_secret_service(
    frozen: Path, tmp_path: Path
) -> None:
    xvfb_run = need_tool("xvfb-run")
    dbus_run_session = need_tool("dbus-run-session")
    need_tool("gnome-keyring-daemon")
    home, runtime = tmp_path / "home", tmp_path / "run"
    for folder in (home, runtime):
        folder.mkdir(mode=0o700)
    env = hark_env(
        tmp_path, HOME=str(home), XDG_RUNTIME_DIR=str(runtime), HARK=str(frozen / "hark")
    )
    for var in ("PYTHON_KEYRING_BACKEND", "DISPLAY", "WAYLAND_DISPLAY", "PYTHONPATH"):
        env.pop(var, None)  # the frozen app picks its keyring backend itself
    script = (
        'eval "$(printf pw | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null; '
        'QT_QPA_PLATFORM=xcb exec "$HARK" --self-check --installation-only'
    )

    code, report = frozen_self_check(
        [xvfb_run, "-a", dbus_run_session, "--", "sh", "-c", script], env
    )

    assert code == 0, report["problems"]
    assert report["qt"]["platform"] == "xcb"
    assert report["qt"]["icon_renders"] is True
    assert report["keyring"]["backend"] == "keyring.backends.SecretService.Keyring"
    assert report["keyring"]["secure"] is True
    assert report["hotkey"] == {"backend": "x11", "started": False}
    assert report["keyboard"]["backend"] == "x11"


@needs_frozen_build
def test_the_frozen_bundle_holds_what_it_should_and_nothing_it_should_not(frozen: Path) -> None:
    internal = frozen / "_internal"
    names = {p.name for p in internal.iterdir()}
    assert {"hark", "_internal"} == {p.name for p in frozen.iterdir()}
    assert not (internal / "keyrings").exists()  # no plaintext keyring, ever
    assert "tkinter" not in names
    assert "_tkinter" not in {p.name.split(".")[0] for p in internal.rglob("_tkinter*")}
    qt_libs = {p.name.split(".")[0] for p in (internal / "PySide6" / "Qt" / "lib").iterdir()}
    assert {"libQt6Core", "libQt6Gui", "libQt6Widgets", "libQt6Network", "libQt6Svg"} <= qt_libs
    for unused in ("libQt6Qml", "libQt6Quick", "libQt6WebEngineCore", "libQt6Multimedia",
                   "libQt6Pdf", "libQt63DCore"):  # fmt: skip
        assert unused not in qt_libs
    assert "libportaudio.so.2" in names
    icons = {p.name for p in (internal / "resources" / "icons").iterdir()}
    assert {p.name for p in (ROOT / "resources" / "icons").glob("*.svg")} <= icons


@needs_frozen_build
def test_the_frozen_command_line_works(frozen: Path, tmp_path: Path) -> None:
    env = hark_env(tmp_path)
    result = subprocess.run(
        [str(frozen / "hark"), "keys", "status", "baseten"],
        env=env, capture_output=True, text=True, timeout=60 * TIMEOUT_FACTOR, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "baseten" in result.stdout


@needs_frozen_build
@pytest.mark.espeak
def test_the_frozen_app_transcribes_with_the_local_engine(frozen: Path, tmp_path: Path) -> None:
    """faster-whisper, CTranslate2's libraries and the Silero VAD model are all bundled."""
    model = build_tiny_model(tmp_path / "model")  # scripted: always " hello world"
    wav = speech_wav(tmp_path / "speech.wav", "Hello world. This is a dictation test.")
    env = hark_env(tmp_path, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)

    result = subprocess.run(
        [str(frozen / "hark"), "transcribe", str(wav), "--provider", "local",
         "--model", str(model), "--fast"],
        env=env, capture_output=True, text=True, timeout=120 * TIMEOUT_FACTOR, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("hello world")
