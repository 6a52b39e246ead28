"""``hark --self-check``: what this installation of Hark can use, as JSON.

For users ("why does nothing happen when I press the hotkey?") and for the smoke test
of a frozen build: it reports the versions, the Qt platform, the audio backend and
input devices, the keyring backend, the hotkey and typing backends that would load,
the permissions it can detect and the bundled resources. Nothing is grabbed, recorded,
typed or stored, and no permission prompt is triggered.

It also checks the user's own set-up (``setup``): that the chosen provider can run
(the local model is there, or its download is reachable; a cloud provider's key is
stored) and that there is a microphone. ``--installation-only`` leaves that out, for a
build's smoke test on a machine with neither.

Exit status 0 when everything the app needs is present; 1 otherwise, with one line per
reason in ``problems``, each saying what to do. Things the app can live without (no
secure keyring: keys then come from environment variables; no global hotkey: ``hark
ptt`` commands; no typing: the clipboard) are ``warnings`` and do not change the status.

Qt is probed in a child process (the same program with ``--qt-probe FILE``): a
platform plugin that cannot start aborts the process (``qFatal``) or may hang, and
neither may take the self-check down with it. Other probes that talk to a daemon
(PortAudio to a sound server, keyring and the portal over D-Bus) run on daemon threads
with a time limit.

Checks that only exist on Windows or macOS (microphone privacy settings, Accessibility,
Input Monitoring) follow the platform documentation and are NOT verified here (no
Windows or macOS in the test environment).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import importlib.util
import json
import logging
import os
import platform
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from app import __version__
from app.argparsing import ArgumentParser
from app.verbosity import split_verbosity

T = TypeVar("T")
Report = dict[str, Any]

QT_PROBE_TIMEOUT_S = 30.0
PROBE_TIMEOUT_S = 15.0
APP_MODULES = ("app.ui.application", "app.ui.controller", "app.cli.main")
ICON_NAMES = ("app", "template", "idle", "connecting", "listening", "finishing", "error")

MAC_MIC_STATUS = {0: "not_determined", 1: "restricted", 2: "denied", 3: "authorized"}
_MAC_APPSERVICES = "/System/Library/Frameworks/ApplicationServices.framework/ApplicationServices"
_MAC_COREGRAPHICS = "/System/Library/Frameworks/CoreGraphics.framework/CoreGraphics"
_MAC_AVFOUNDATION = "/System/Library/Frameworks/AVFoundation.framework"
_WIN_MIC_CONSENT = (
    r"Software\Microsoft\Windows\CurrentVersion\CapabilityAccessManager\ConsentStore\microphone"
)

_timed_out = False  # a probe thread may still be stuck: leave with os._exit


# -- helpers ------------------------------------------------------------------------------


class _Collector(logging.Handler):
    """Keeps the messages the adapters log, so stderr stays quiet and stdout pure JSON."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _log_lines(collector: _Collector) -> Iterator[list[str]]:
    """The messages logged inside the block (INFO and up)."""
    lines: list[str] = []
    start = len(collector.records)
    try:
        yield lines
    finally:
        for record in collector.records[start:]:
            with contextlib.suppress(Exception):
                lines.append(record.getMessage())


def _with_timeout(fn: Callable[[], T], seconds: float, what: str) -> T:
    """Run ``fn`` on a daemon thread; raise TimeoutError naming ``what`` when it hangs."""
    global _timed_out
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised on the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"hark-selfcheck-{what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        _timed_out = True
        raise TimeoutError(f"{what} did not answer within {seconds:g} s")
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def desktop_session(environ: Mapping[str, str], plat: str) -> bool:
    """Whether the tray app could start here (the same rule as ``app.ui.application``)."""
    if not plat.startswith("linux"):
        return True
    return bool(
        environ.get("QT_QPA_PLATFORM") or environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
    )


# -- the checks -----------------------------------------------------------------------------


def check_runtime() -> Report:
    """Python, the OS and whether this is a frozen (PyInstaller) build."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "frozen": bool(getattr(sys, "frozen", False)),
        "bundle_dir": getattr(sys, "_MEIPASS", None),
        "os": platform.platform(),
        "machine": platform.machine(),
    }


def _qt_probe_command(out: Path) -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, "--self-check", "--qt-probe", str(out)]
    return [sys.executable, "-m", "app.selfcheck", "--qt-probe", str(out)]


def check_qt(environ: Mapping[str, str], plat: str = sys.platform) -> Report:
    """Start Qt in a child process: its platform plugin, tray, icons, and the app's code."""
    info: Report = {"session": desktop_session(environ, plat)}
    env = dict(environ)
    if not info["session"]:
        env["QT_QPA_PLATFORM"] = "offscreen"  # still check that Qt itself loads
    if not getattr(sys, "frozen", False):
        source_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (source_root, env.get("PYTHONPATH", "")) if p
        )
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if plat == "win32" else 0
    with tempfile.TemporaryDirectory(prefix="hark-selfcheck-") as tmp:
        out = Path(tmp) / "qt.json"
        try:
            child = subprocess.run(
                _qt_probe_command(out),
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=QT_PROBE_TIMEOUT_S,
                creationflags=flags,
                check=False,
            )
        except subprocess.TimeoutExpired:
            info["error"] = f"Qt did not start within {QT_PROBE_TIMEOUT_S:g} s"
            return info
        except OSError as exc:
            info["error"] = f"cannot run the Qt probe: {_error(exc)}"
            return info
        with contextlib.suppress(OSError, ValueError):
            info.update(json.loads(out.read_text(encoding="utf-8")))
    if child.returncode != 0 and not info.get("error"):
        info["error"] = f"Qt stopped with status {child.returncode}: " + _qt_reason(
            child.stderr.decode("utf-8", "replace")
        )
    return info


def _qt_reason(stderr: str) -> str:
    """Qt's own explanation from a failed start, on one line (``qt.qpa`` messages first)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    qpa = [line.split(": ", 1)[-1] for line in lines if line.startswith("qt.qpa")]
    return "; ".join(qpa[:3] or lines[-1:]) or "no message"


def _plugin_names(folder: Path) -> list[str]:
    names = []
    for path in folder.glob("*"):
        if path.suffix.lower() not in (".so", ".dll", ".dylib"):
            continue
        names.append(path.stem.removeprefix("lib").removeprefix("q"))
    return sorted(set(names))


def qt_probe(out: Path) -> int:
    """The child side of :func:`check_qt`: writes what it found to ``out`` as it goes.

    After Qt, it imports the app's entry modules (which import everything the app
    runs), so a frozen build that misses a module fails here, not at the user's.
    """
    result: Report = {}

    def save() -> None:
        out.write_text(json.dumps(result), encoding="utf-8")

    try:
        import PySide6
        from PySide6.QtCore import QLibraryInfo, qVersion

        result["pyside6"] = PySide6.__version__
        result["qt"] = qVersion()
        plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath))
        result["platform_plugins"] = _plugin_names(plugins / "platforms")
        save()  # if the platform plugin aborts the process, the versions are kept

        from PySide6.QtGui import QImageReader
        from PySide6.QtWidgets import QApplication, QSystemTrayIcon

        app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "hark"])
        result["platform"] = QApplication.platformName()
        result["system_tray"] = QSystemTrayIcon.isSystemTrayAvailable()
        formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
        result["svg_support"] = "svg" in formats
        from app.ui.icons import app_icon

        result["icon_renders"] = not app_icon().pixmap(32, 32).isNull()
        app.processEvents()
    except Exception as exc:
        result["error"] = _error(exc)
    save()
    try:  # the whole app loads: in a frozen build, nothing is missing from the bundle
        for module in APP_MODULES:
            importlib.import_module(module)
        result["app_modules"] = "ok"
    except Exception as exc:
        result["app_modules"] = _error(exc)
    save()
    return 0


def check_audio() -> Report:
    """sounddevice and PortAudio, and the input devices Hark would offer."""
    info: Report = {"backend": "sounddevice", "input_devices": []}

    def probe() -> None:
        try:
            import sounddevice
        except OSError as exc:  # the PortAudio library is missing
            from app.adapters.microphone import PORTAUDIO_MISSING

            info["error"] = f"{PORTAUDIO_MISSING} ({_error(exc)})"
            return
        except Exception as exc:  # Pa_Initialize failed
            info["error"] = f"the audio system could not be started: {_error(exc)}"
            return
        info["sounddevice"] = getattr(sounddevice, "__version__", None)
        info["portaudio"] = sounddevice.get_portaudio_version()[1]
        info["library"] = getattr(sounddevice, "_libname", None)  # system or bundled copy
        info["host_apis"] = [str(api["name"]) for api in sounddevice.query_hostapis()]
        from app.adapters.microphone import list_input_devices

        info["input_devices"] = list_input_devices()

    try:
        _with_timeout(probe, PROBE_TIMEOUT_S, "the audio system")
    except Exception as exc:
        info["error"] = _error(exc)
    return info


def check_keyring() -> Report:
    """The keyring backend, and whether Hark would accept it for API keys."""
    info: Report = {"backend": None, "secure": False}
    try:
        alt = importlib.util.find_spec("keyrings.alt") is not None
    except (ImportError, ValueError):
        alt = False
    info["keyrings_alt_installed"] = alt

    def probe() -> None:
        import keyring

        from app.adapters.secrets import KeyringSecretStore, backend_name

        backend = keyring.get_keyring()
        store = KeyringSecretStore(backend)
        info["backend"] = store.backend
        info["secure"] = store.usable()
        chained = getattr(backend, "backends", None)
        if chained:
            info["chain"] = [backend_name(b) for b in chained]

    try:
        _with_timeout(probe, PROBE_TIMEOUT_S, "the keyring")
    except Exception as exc:
        info["error"] = _error(exc)
    return info


def check_hotkey(collector: _Collector) -> Report:
    """The global hotkey backend that would load (constructed, never started)."""
    info: Report = {"backend": None, "started": False}
    with _log_lines(collector) as lines:
        try:
            from app.adapters.hotkeys.base import choose_backend

            backend = choose_backend()
            info["backend"] = backend.name if backend is not None else None
        except Exception as exc:
            info["error"] = _error(exc)
    if info["backend"] is None and lines:
        info["reason"] = lines[-1].removeprefix("no global hotkey: ")
    return info


def check_keyboard() -> Report:
    """The typing/paste backend that would load, and the session kind it was chosen for."""
    info: Report = {"backend": None}
    try:
        from app.adapters.keyboard import choose_keyboard, session_kind

        info["session"] = session_kind(sys.platform, os.environ)
        keyboard = choose_keyboard()
        info["backend"] = keyboard.name
        if keyboard.name == "unavailable":
            info["reason"] = getattr(keyboard, "reason", None)
        tool = getattr(keyboard, "tool", None)
        if tool:
            info["tool"] = tool
        close = getattr(keyboard, "close", None)
        if callable(close):
            close()
    except Exception as exc:
        info["error"] = _error(exc)
    return info


def _mac_permissions() -> Report:
    """Accessibility, Input Monitoring, the microphone and Secure Event Input (macOS)."""
    info: Report = {}
    try:
        services: Any = ctypes.CDLL(_MAC_APPSERVICES)
        services.AXIsProcessTrusted.restype = ctypes.c_bool
        info["accessibility"] = bool(services.AXIsProcessTrusted())
    except (OSError, AttributeError) as exc:
        info["accessibility"] = None
        info["accessibility_error"] = _error(exc)
    try:
        graphics: Any = ctypes.CDLL(_MAC_COREGRAPHICS)
        for key, name in (
            ("post_events", "CGPreflightPostEventAccess"),
            ("input_monitoring", "CGPreflightListenEventAccess"),
        ):
            fn = getattr(graphics, name, None)
            if fn is not None:
                fn.restype = ctypes.c_bool
                info[key] = bool(fn())
    except OSError:
        pass
    info["microphone"] = _mac_microphone_status()
    try:
        from app.adapters.hotkeys.macos import secure_input_enabled

        info["secure_event_input"] = secure_input_enabled()
    except Exception:
        info["secure_event_input"] = None
    return info


def _mac_microphone_status() -> str | None:
    """AVCaptureDevice's authorization for audio, without asking (needs pyobjc)."""
    try:
        avf: Any = importlib.import_module("AVFoundation")
        device, media = avf.AVCaptureDevice, avf.AVMediaTypeAudio
    except Exception:
        try:
            objc: Any = importlib.import_module("objc")
            objc.loadBundle("AVFoundation", {}, bundle_path=_MAC_AVFOUNDATION)
            device, media = objc.lookUpClass("AVCaptureDevice"), "soun"  # AVMediaTypeAudio
        except Exception:
            return None
    try:
        status = int(device.authorizationStatusForMediaType_(media))
    except Exception:
        return None
    return MAC_MIC_STATUS.get(status, str(status))


def _windows_permissions() -> Report:
    """The microphone privacy switches (Settings > Privacy & security > Microphone)."""
    info: Report = {"microphone": None}
    try:
        winreg: Any = importlib.import_module("winreg")
    except ImportError:
        return info

    def value(root: Any, key: str) -> str | None:
        try:
            with winreg.OpenKey(root, key) as handle:
                return str(winreg.QueryValueEx(handle, "Value")[0])
        except OSError:
            return None

    machine = value(winreg.HKEY_LOCAL_MACHINE, _WIN_MIC_CONSENT)
    user = value(winreg.HKEY_CURRENT_USER, _WIN_MIC_CONSENT)
    desktop_apps = value(winreg.HKEY_CURRENT_USER, _WIN_MIC_CONSENT + r"\NonPackaged")
    if "Deny" in (machine, user, desktop_apps):
        info["microphone"] = "denied"
    elif user or machine or desktop_apps:
        info["microphone"] = "allowed"
    return info


def _portal_shortcuts_version() -> int | None:
    """The GlobalShortcuts portal's version on the session bus, or None without one."""
    from app.adapters.hotkeys.wayland import PORTAL_BUS, PORTAL_PATH, SHORTCUTS

    jeepney: Any = importlib.import_module("jeepney")
    blocking: Any = importlib.import_module("jeepney.io.blocking")
    address = jeepney.DBusAddress(
        PORTAL_PATH, bus_name=PORTAL_BUS, interface="org.freedesktop.DBus.Properties"
    )
    message = jeepney.new_method_call(address, "Get", "ss", (SHORTCUTS, "version"))
    with blocking.open_dbus_connection(bus="SESSION") as connection:
        reply = connection.send_and_get_reply(message, timeout=5)
    if reply.header.message_type.name == "error":
        return None
    _signature, version = reply.body[0]
    return int(version)


def _wayland_permissions() -> Report:
    info: Report = {"focus_check": False}
    try:
        info["global_shortcuts_portal"] = _with_timeout(
            _portal_shortcuts_version, PROBE_TIMEOUT_S, "the desktop portal"
        )
    except Exception as exc:
        info["global_shortcuts_portal"] = None
        info["portal_error"] = _error(exc)
    return info


def check_permissions(session: str, plat: str = sys.platform) -> Report:
    """What the OS would refuse Hark, as far as it can be asked without prompting."""
    if plat == "darwin":
        return {"macos": _mac_permissions()}
    if plat == "win32":
        return {"windows": _windows_permissions()}
    if session == "wayland":
        return {"wayland": _wayland_permissions()}
    return {}


def check_tls() -> Report:
    """Whether TLS has CA certificates to verify the providers' servers with."""
    paths = ssl.get_default_verify_paths()
    info: Report = {
        "openssl": ssl.OPENSSL_VERSION,
        "cafile": paths.cafile,
        "capath": paths.capath,
        "ssl_cert_file": os.environ.get("SSL_CERT_FILE"),
    }
    try:
        context = ssl.create_default_context()
        info["ca_certificates"] = int(context.cert_store_stats()["x509_ca"])
    except (ssl.SSLError, OSError) as exc:
        info["ca_certificates"] = 0
        info["error"] = _error(exc)
    capath = Path(paths.capath) if paths.capath else None
    info["ok"] = bool(info["ca_certificates"]) or bool(
        capath is not None and capath.is_dir() and any(capath.iterdir())
    )
    return info


def check_resources() -> Report:
    """The icons, wherever this build keeps them."""
    info: Report = {"dir": None, "missing": []}
    try:
        from app.ui.icons import icon_path, resources_dir

        info["dir"] = str(resources_dir())
        info["missing"] = [name for name in ICON_NAMES if not icon_path(name).is_file()]
    except Exception as exc:
        info["error"] = _error(exc)
    return info


def check_local_engine() -> Report:
    """The local speech engine's libraries: absent is fine, present but broken is not."""
    info: Report = {}
    for module in ("faster_whisper", "ctranslate2"):
        try:
            present = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            present = False
        if not present:
            info[module] = None
            continue
        try:
            loaded = importlib.import_module(module)
            info[module] = str(getattr(loaded, "__version__", "unknown"))
        except Exception as exc:
            info[module] = None
            info.setdefault("errors", []).append(f"{module}: {_error(exc)}")
    return info


def check_setup() -> Report:
    """The user's own set-up: can the chosen provider run (its model, or its key)?

    A local model that is not downloaded yet is asked of the model server (HEAD requests
    only, a few seconds at most), so "it will download on first use" is a fact, not a
    hope. Keys are looked up where the app looks (keyring, then environment) and never
    shown.
    """
    from app.adapters.settings_store import SettingsStore

    loaded = SettingsStore().load()
    settings = loaded.settings
    info: Report = {"provider": settings.provider, "microphone": settings.microphone or None}
    if loaded.problems:
        info["settings_problems"] = list(loaded.problems)
    try:
        if settings.provider == "local":
            info.update(_with_timeout(lambda: _local_model(settings.local.model), 20, "models"))
        else:
            info.update(_with_timeout(lambda: _api_key(settings), PROBE_TIMEOUT_S, "the keyring"))
    except Exception as exc:
        info["error"] = _error(exc)
    return info


def _local_model(model: str) -> Report:
    from app.adapters.models import ModelStore, is_model_folder
    from app.core.errors import HarkError
    from app.core.options import MODEL_SIZES

    info: Report = {"model": model}
    store = ModelStore(retries=0, timeout=5.0)
    try:
        path = store.resolve(model)
    except HarkError as exc:
        info["model_error"] = str(exc)
        return info
    if path is not None:
        info["model_path"] = str(path)
        if not is_model_folder(path):
            info["model_error"] = (
                f"The model folder {path} holds no CTranslate2 Whisper model (model.bin)."
            )
        return info
    assert model in MODEL_SIZES
    try:
        info["download_bytes"] = store.download_size(model)
    except HarkError as exc:
        info["download_error"] = str(exc)
    return info


def _api_key(settings: Any) -> Report:
    from app.adapters.secrets import KeyringSecretStore, resolve_key
    from app.core.errors import HarkError
    from app.core.options import PROVIDER_TITLES, key_optional

    provider = settings.provider
    try:
        _, where = resolve_key(KeyringSecretStore(), provider, PROVIDER_TITLES[provider])
    except HarkError as exc:
        if key_optional(settings.provider_options()):
            return {"api_key": "not needed (an endpoint on this machine)"}
        return {"api_key": None, "key_error": str(exc)}
    return {"api_key": where}


# -- the verdict ------------------------------------------------------------------------------


def collect_problems(report: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Split what the checks found into problems (exit 1) and warnings, one line each."""
    problems: list[str] = []
    warnings: list[str] = []
    qt = report.get("qt", {})
    if not qt.get("session", True):
        problems.append(
            "no desktop session: neither DISPLAY nor WAYLAND_DISPLAY is set, so the tray app "
            "cannot start (the command line still works)"
        )
    if qt.get("app_modules", "ok") != "ok":
        problems.append(f"Hark's own code cannot load: {qt['app_modules']}")
    if qt.get("error"):
        problems.append(f"Qt cannot start: {qt['error']}")
    elif not qt.get("platform"):
        problems.append("Qt started without a platform plugin")
    else:
        if qt.get("svg_support") is False or qt.get("icon_renders") is False:
            problems.append("the icons cannot be drawn: Qt's SVG plugin is missing")
        if qt.get("system_tray") is False and qt.get("platform") not in ("offscreen", "minimal"):
            warnings.append("no system tray here: Hark shows a small control window instead")

    audio = report.get("audio", {})
    if audio.get("error"):
        problems.append(f"no audio input: {audio['error']}")

    keys = report.get("keyring", {})
    if keys.get("keyrings_alt_installed"):
        warnings.append("keyrings.alt is installed; Hark refuses its plaintext backends")
    if keys.get("error"):
        warnings.append(f"the keyring does not answer ({keys['error']}); API keys only from env")
    elif not keys.get("secure"):
        warnings.append(
            f"no secure keyring ({keys.get('backend')}): API keys can only come from "
            "environment variables (BASETEN_API_KEY, ...)"
        )

    hotkey = report.get("hotkey", {})
    if hotkey.get("backend") is None:
        reason = hotkey.get("error") or hotkey.get("reason") or "no backend for this session"
        warnings.append(f"no global hotkey: {reason}")

    keyboard = report.get("keyboard", {})
    if keyboard.get("error"):
        warnings.append(f"typing is unavailable: {keyboard['error']}")
    elif keyboard.get("backend") == "unavailable":
        warnings.append(
            f"typing is unavailable (text goes to the clipboard): {keyboard.get('reason')}"
        )

    permissions = report.get("permissions", {})
    mac = permissions.get("macos", {})
    if mac.get("accessibility") is False:
        warnings.append(
            "Accessibility is not granted: Hark cannot type or paste (System Settings > "
            "Privacy & Security > Accessibility)"
        )
    if mac.get("microphone") in ("denied", "restricted"):
        problems.append(
            f"microphone access is {mac['microphone']} (System Settings > Privacy & Security > "
            "Microphone)"
        )
    if mac.get("secure_event_input"):
        warnings.append("Secure Event Input is on (a password field has focus): no hotkeys")
    windows = permissions.get("windows", {})
    if windows.get("microphone") == "denied":
        problems.append(
            "microphone access is off for desktop apps (Settings > Privacy & security > Microphone)"
        )
    wayland = permissions.get("wayland")
    if wayland is not None:
        warnings.append(
            "Wayland: the focused window cannot be known, so the wrong-window check is skipped"
        )
        if not wayland.get("global_shortcuts_portal"):
            warnings.append(
                "Wayland: no GlobalShortcuts portal; bind `hark ptt press`/`release` or "
                "`hark toggle` to a desktop shortcut"
            )

    tls = report.get("tls", {})
    if tls and not tls.get("ok"):
        problems.append("no CA certificates: secure connections to the providers will fail")

    resources = report.get("resources", {})
    if resources.get("error"):
        problems.append(f"resources cannot be found: {resources['error']}")
    elif resources.get("missing"):
        problems.append(
            f"icons missing in {resources.get('dir')}: {', '.join(resources['missing'])}"
        )

    engine = report.get("local_engine", {})
    for error in engine.get("errors", []):
        problems.append(f"the local engine cannot load: {error}")

    setup = report.get("setup")
    if setup is not None:
        _setup_verdict(setup, audio, problems, warnings)
    return problems, warnings


def _setup_verdict(
    setup: Mapping[str, Any], audio: Mapping[str, Any], problems: list[str], warnings: list[str]
) -> None:
    """What stops the user's chosen set-up from dictating, and what to do about it."""
    for line in setup.get("settings_problems", []):
        warnings.append(line)
    if setup.get("error"):
        problems.append(f"the set-up could not be checked: {setup['error']}")
    if setup.get("model_error"):
        problems.append(f"{setup['model_error']} Choose another model in Settings.")
    if setup.get("download_error"):
        problems.append(setup["download_error"])
    elif "download_bytes" in setup:
        mb = setup["download_bytes"] / 1e6
        warnings.append(
            f"the local {setup['model']} model is not downloaded yet ({mb:.0f} MB): Hark "
            f"fetches it on first use, or run `hark models download {setup['model']}` now"
        )
    if setup.get("key_error"):
        problems.append(setup["key_error"])
    if not audio.get("error") and not audio.get("input_devices"):
        problems.append(
            "no microphone found: dictation and captions need one; connect it (or check "
            "the system's sound settings) and start Hark again"
        )
    wanted = setup.get("microphone")
    if wanted and audio.get("input_devices") and wanted not in audio["input_devices"]:
        warnings.append(
            f"the microphone {wanted!r} chosen in Settings is not connected; Hark uses the "
            "default one until it is"
        )


def run_checks(
    environ: Mapping[str, str] | None = None, *, setup: bool = True, verbosity: int = 0
) -> Report:
    """Every check, and the verdict; never raises.

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
        keyboard = check_keyboard()
        report: Report = {
            "hark": __version__,
            "runtime": check_runtime(),
            "qt": check_qt(env),
            "audio": check_audio(),
            "keyring": check_keyring(),
            "hotkey": check_hotkey(collector),
            "keyboard": keyboard,
            "permissions": check_permissions(str(keyboard.get("session", ""))),
            "tls": check_tls(),
            "resources": check_resources(),
            "local_engine": check_local_engine(),
        }
        if setup:
            report["setup"] = check_setup()
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)
    problems, warnings = collect_problems(report)
    report["problems"] = problems
    report["warnings"] = warnings
    report["ok"] = not problems
    report["log"] = [
        f"{r.levelname.lower()}: {r.name}: {r.getMessage()}"
        for r in collector.records
        if r.levelno >= logging.WARNING
    ]
    return report


def main(argv: Sequence[str]) -> int:
    """``hark --self-check [--output FILE]``: print the report; 0 when nothing is missing."""
    parser = ArgumentParser(
        prog="hark --self-check",
        description="Check what Hark can use on this computer and print it as JSON.",
    )
    parser.add_argument("--output", metavar="FILE", help="write the JSON to FILE as well")
    parser.add_argument(
        "--installation-only",
        action="store_true",
        help="check only what the installation provides, not the user's set-up (the "
        "chosen provider's model or API key, a microphone): for build smoke tests",
    )
    parser.add_argument("--qt-probe", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log to stderr (-vv: debug)"
    )
    verbosity, rest = split_verbosity(argv)  # -v anywhere, as for every command
    args = parser.parse_args(rest)
    if args.qt_probe:
        return qt_probe(Path(args.qt_probe))
    from app.adapters.logfile import protect_output

    secrets = protect_output()  # stdout and stderr masked; the environment's keys learnt
    report = run_checks(setup=not args.installation_only, verbosity=verbosity)
    # Keys are never put in the report; masked all the same, --output's copy too.
    text = secrets.mask(json.dumps(report, indent=2, ensure_ascii=True))
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    if sys.stdout is not None:  # None in a windowed build without a console
        print(text, flush=True)
    code = 0 if report["ok"] else 1
    if _timed_out:  # a stuck probe thread could block the interpreter's exit handlers
        if sys.stderr is not None:
            sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
