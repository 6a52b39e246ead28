"""What the OS would refuse Hark, as far as it can be asked without prompting.

macOS: Accessibility, Input Monitoring, the microphone and Secure Event Input; Windows:
the microphone privacy switches; a Wayland session: the GlobalShortcuts portal.
"""

from __future__ import annotations

import ctypes
import importlib
import sys
from dataclasses import dataclass
from typing import Any

from app.diagnostics.findings import (
    PROBE_TIMEOUT_S,
    Findings,
    error_text,
    problem,
    warning,
    with_timeout,
)

MAC_MIC_STATUS = {0: "not_determined", 1: "restricted", 2: "denied", 3: "authorized"}
_MAC_APPSERVICES = "/System/Library/Frameworks/ApplicationServices.framework/ApplicationServices"
_MAC_COREGRAPHICS = "/System/Library/Frameworks/CoreGraphics.framework/CoreGraphics"
_MAC_AVFOUNDATION = "/System/Library/Frameworks/AVFoundation.framework"
_WIN_MIC_CONSENT = (
    r"Software\Microsoft\Windows\CurrentVersion\CapabilityAccessManager\ConsentStore\microphone"
)


@dataclass(frozen=True)
class MacPermissions:
    """None where macOS could not be asked; ``post_events``/``input_monitoring`` too."""

    accessibility: bool | None = None
    accessibility_error: str | None = None
    post_events: bool | None = None
    input_monitoring: bool | None = None
    microphone: str | None = None
    """``not_determined``, ``restricted``, ``denied`` or ``authorized``."""
    secure_event_input: bool | None = None

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {"accessibility": self.accessibility}
        if self.accessibility_error is not None:
            info["accessibility_error"] = self.accessibility_error
        if self.post_events is not None:
            info["post_events"] = self.post_events
        if self.input_monitoring is not None:
            info["input_monitoring"] = self.input_monitoring
        info["microphone"] = self.microphone
        info["secure_event_input"] = self.secure_event_input
        return info

    def findings(self) -> Findings:
        found = []
        if self.accessibility is False:
            found.append(
                warning(
                    "Accessibility is not granted: Hark cannot type or paste (System Settings "
                    "> Privacy & Security > Accessibility)"
                )
            )
        if self.microphone in ("denied", "restricted"):
            found.append(
                problem(
                    f"microphone access is {self.microphone} (System Settings > Privacy & "
                    "Security > Microphone)"
                )
            )
        if self.secure_event_input:
            found.append(
                warning("Secure Event Input is on (a password field has focus): no hotkeys")
            )
        return tuple(found)


@dataclass(frozen=True)
class WindowsPermissions:
    microphone: str | None = None
    """``denied``, ``allowed``, or None when the registry says nothing."""

    def to_json(self) -> dict[str, Any]:
        return {"microphone": self.microphone}

    def findings(self) -> Findings:
        if self.microphone == "denied":
            return (
                problem(
                    "microphone access is off for desktop apps (Settings > Privacy & security "
                    "> Microphone)"
                ),
            )
        return ()


@dataclass(frozen=True)
class WaylandPermissions:
    """The GlobalShortcuts portal's version (None: none); the focus check never works."""

    global_shortcuts_portal: int | None = None
    portal_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "focus_check": False,
            "global_shortcuts_portal": self.global_shortcuts_portal,
        }
        if self.portal_error is not None:
            info["portal_error"] = self.portal_error
        return info

    def findings(self) -> Findings:
        found = [
            warning(
                "Wayland: the focused window cannot be known, so the wrong-window check is skipped"
            )
        ]
        if not self.global_shortcuts_portal:
            found.append(
                warning(
                    "Wayland: no GlobalShortcuts portal; bind `hark ptt press`/`release` or "
                    "`hark toggle` to a desktop shortcut"
                )
            )
        return tuple(found)


@dataclass(frozen=True)
class PermissionsResult:
    """The platform's permissions; at most one of them is set."""

    macos: MacPermissions | None = None
    windows: WindowsPermissions | None = None
    wayland: WaylandPermissions | None = None

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {}
        for key, part in (("macos", self.macos), ("windows", self.windows),
                          ("wayland", self.wayland)):  # fmt: skip
            if part is not None:
                info[key] = part.to_json()
        return info

    def findings(self) -> Findings:
        parts = (self.macos, self.windows, self.wayland)
        return tuple(f for part in parts if part is not None for f in part.findings())


def _mac_permissions() -> MacPermissions:
    accessibility: bool | None = None
    accessibility_error = None
    try:
        services: Any = ctypes.CDLL(_MAC_APPSERVICES)
        services.AXIsProcessTrusted.restype = ctypes.c_bool
        accessibility = bool(services.AXIsProcessTrusted())
    except (OSError, AttributeError) as exc:
        accessibility_error = error_text(exc)
    preflight: dict[str, bool] = {}
    try:
        graphics: Any = ctypes.CDLL(_MAC_COREGRAPHICS)
        for key, name in (
            ("post_events", "CGPreflightPostEventAccess"),
            ("input_monitoring", "CGPreflightListenEventAccess"),
        ):
            fn = getattr(graphics, name, None)
            if fn is not None:
                fn.restype = ctypes.c_bool
                preflight[key] = bool(fn())
    except OSError:
        pass
    secure_input: bool | None
    try:
        from app.adapters.hotkeys.macos import secure_input_enabled

        secure_input = secure_input_enabled()
    except Exception:
        secure_input = None
    return MacPermissions(
        accessibility=accessibility,
        accessibility_error=accessibility_error,
        post_events=preflight.get("post_events"),
        input_monitoring=preflight.get("input_monitoring"),
        microphone=_mac_microphone_status(),
        secure_event_input=secure_input,
    )


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


def _windows_permissions() -> WindowsPermissions:
    """The microphone privacy switches (Settings > Privacy & security > Microphone)."""
    try:
        winreg: Any = importlib.import_module("winreg")
    except ImportError:
        return WindowsPermissions()

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
        return WindowsPermissions("denied")
    if user or machine or desktop_apps:
        return WindowsPermissions("allowed")
    return WindowsPermissions()


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


def _wayland_permissions() -> WaylandPermissions:
    try:
        version = with_timeout(_portal_shortcuts_version, PROBE_TIMEOUT_S, "the desktop portal")
    except Exception as exc:
        return WaylandPermissions(portal_error=error_text(exc))
    return WaylandPermissions(version)


def probe_permissions(session: str, plat: str = sys.platform) -> PermissionsResult:
    """The platform's permissions; ``session`` is the keyboard probe's session kind."""
    if plat == "darwin":
        return PermissionsResult(macos=_mac_permissions())
    if plat == "win32":
        return PermissionsResult(windows=_windows_permissions())
    if session == "wayland":
        return PermissionsResult(wayland=_wayland_permissions())
    return PermissionsResult()
