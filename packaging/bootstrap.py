#!/usr/bin/env python3
"""Set up Hark from a checkout and run it, or run the whole test suite.

    python3 packaging/bootstrap.py run [HARK ARGS...]   # install into .venv, run `hark ...`
    python3 packaging/bootstrap.py test [PYTEST ARGS...] # + test tools and system packages,
                                                        # then lint, types, contracts, pytest

Standard library only, so it works on a fresh machine with nothing but Python 3.11+.
On Debian/Ubuntu it installs missing system packages with apt-get (as root, or via
sudo); elsewhere it says which ones are needed. Re-running is cheap: Hark is
reinstalled only when pyproject.toml changes or extras not installed yet are asked for
(so switching between ``run`` and ``test`` installs nothing). Each step is one line;
the installers' own output is shown only when they fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import venv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")

# Debian package -> why the tests need it.
TEST_PACKAGES = {
    "espeak-ng": "speech WAVs for the end-to-end tests",
    "sox": "audio conversion in the end-to-end tests",
    "dbus-daemon": "dbus-run-session, for the Secret Service test",
    "gnome-keyring": "a real Secret Service for the keyring test",
    "libsecret-tools": "secret-tool, to cross-check the keyring test",
    "xvfb": "a real X server for the overlay and window tests",
    "xauth": "xvfb-run",
    "openbox": "a window manager, for focus and click-through tests",
    "xdotool": "driving real windows in the X11 tests",
    "xclip": "reading the X11 clipboard in the insertion tests",
    "x11-utils": "xprop/xwininfo, to inspect windows",
    "imagemagick": "screenshots of the overlay",
    "pulseaudio": "a virtual microphone (null sink) for the audio tests",
    "pulseaudio-utils": "paplay/pactl, to feed the virtual microphone",
    "libasound2-plugins": "routes PortAudio's ALSA devices to PulseAudio",
    "nsis": "makensis, to compile the Windows installer script",
}
# What the desktop app itself needs on Debian/Ubuntu (the pip wheels bring the rest).
RUN_PACKAGES = {
    "libportaudio2": "PortAudio, for the microphone (sounddevice)",
    "libegl1": "Qt's xcb platform plugin",
    "libgl1": "Qt's xcb platform plugin",
    "libxkbcommon-x11-0": "Qt's xcb platform plugin",
    "libxcb-cursor0": "Qt's xcb platform plugin (Qt >= 6.5)",
    "libxcb-icccm4": "Qt's xcb platform plugin",
    "libxcb-keysyms1": "Qt's xcb platform plugin",
    "libxcb-shape0": "Qt's xcb platform plugin",
    "libxcb-xkb1": "Qt's xcb platform plugin",
    "libfontconfig1": "fonts for Qt",
    "fonts-dejavu-core": "a font for Qt to draw text with",
    "libdbus-1-3": "the system tray and notifications over D-Bus",
}


def say(message: str) -> None:
    print(f"bootstrap: {message}", file=sys.stderr, flush=True)


def step(what: str, cmd: Sequence[str], **kwargs: Any) -> None:
    """Run one set-up command quietly: one line, its output only when it fails."""
    say(what)
    started = time.monotonic()
    result = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
    )
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-40:])
        sys.exit(f"{tail}\nbootstrap: error: {what} failed (status {result.returncode})")
    seconds = time.monotonic() - started
    if seconds >= 5:
        say(f"  done in {seconds:.0f} s")


def _missing_debs(packages: dict[str, str]) -> list[str]:
    missing = []
    for name in packages:
        probe = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True
        )
        if "install ok installed" not in probe.stdout:
            missing.append(name)
    return missing


def ensure_system_packages(packages: dict[str, str], *, required: bool = True) -> None:
    """Install missing Debian packages with apt-get, or explain what is needed.

    Without root or sudo, a missing ``required`` package stops the script; other
    packages only get a warning (the app says itself what it misses).
    """
    if not packages or not sys.platform.startswith("linux"):
        return
    if not shutil.which("dpkg-query") or not shutil.which("apt-get"):
        wanted = ", ".join(f"{n} ({why})" for n, why in packages.items())
        say(f"not a Debian-like system; make sure these are installed: {wanted}")
        return
    missing = _missing_debs(packages)
    if not missing:
        return
    prefix: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            if required:
                sys.exit(f"bootstrap: error: run as root or install: {' '.join(missing)}")
            say(f"warning: missing system packages (install them as root): {' '.join(missing)}")
            return
        prefix = ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    step("updating the package lists (apt-get update)", [*prefix, "apt-get", "update"], env=env)
    step(
        f"installing system packages: {' '.join(missing)}",
        [*prefix, "apt-get", "install", "-y", "--no-install-recommends", *missing],
        env=env,
    )


def _create_venv() -> None:
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    except (subprocess.CalledProcessError, OSError):
        # Debian's python3 ships venv without ensurepip until python3-venv is installed.
        version = f"python{sys.version_info.major}.{sys.version_info.minor}-venv"
        ensure_system_packages({version: "ensurepip, for virtual environments"})
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)


def _installed() -> tuple[str, set[str]]:
    """What ``.venv`` holds: (the pyproject.toml hash it was installed from, its extras)."""
    stamp = VENV / ".hark-installed"
    try:
        data = json.loads(stamp.read_text())
        return str(data["pyproject"]), set(data["extras"])
    except (OSError, ValueError, KeyError, TypeError):
        return "", set()


def ensure_venv(extras: str) -> None:
    """Create ``.venv`` and install Hark (editable) with ``extras`` when out of date.

    Up to date means: installed from this very pyproject.toml, with at least these
    extras. ``run`` after ``test`` (or the other way round, once both ran) installs
    nothing.
    """
    wanted = {extras} if extras else set()
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    installed_from, installed_extras = _installed()
    if PYTHON.exists() and installed_from == digest and wanted <= installed_extras:
        return
    if not PYTHON.exists():
        say(f"creating {VENV}")
        _create_venv()
    # The same pyproject.toml: add the new extras to what is there. A changed one: install
    # what is asked for afresh (pip keeps what is still wanted and up to date).
    keep = installed_extras if installed_from == digest else set()
    extras_now = sorted(keep | wanted)
    target = f".[{','.join(extras_now)}]" if extras_now else "."
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check"]
    step("updating pip", [*pip, "--upgrade", "pip"])
    step(
        f"installing {target} into {VENV} (minutes the first time)", [*pip, "-e", target], cwd=ROOT
    )
    (VENV / ".hark-installed").write_text(json.dumps({"pyproject": digest, "extras": extras_now}))


def run_tests(pytest_args: list[str]) -> int:
    """Quality gates, then the whole pytest suite; returns the first failing status."""
    steps = [
        ("ruff lint", [str(BIN / "ruff"), "check", "app", "tests", "packaging", "bench"]),
        (
            "ruff format",
            [str(BIN / "ruff"), "format", "--check", "app", "tests", "packaging", "bench"],
        ),
        ("mypy", [str(BIN / "mypy"), "app"]),
        ("import contracts", [str(BIN / "lint-imports")]),
        ("pytest", [str(PYTHON), "-m", "pytest", *pytest_args]),
    ]
    failed = []
    for name, cmd in steps:
        say(f"--- {name}")
        status = subprocess.run(cmd, cwd=ROOT).returncode
        if status != 0:
            failed.append(name)
            if name == "pytest" and status == 5:
                say("pytest collected no tests")
    if failed:
        say(f"FAILED: {', '.join(failed)}")
        return 1
    say("all checks passed")
    return 0


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be run by an older python3
        sys.exit("bootstrap: error: Hark needs Python 3.11 or newer")
    if not argv or argv[0] not in ("run", "test"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        ensure_system_packages(RUN_PACKAGES, required=False)
        ensure_venv("")
        hark = BIN / ("hark.exe" if os.name == "nt" else "hark")
        return subprocess.run([str(hark), *rest]).returncode
    ensure_system_packages({**RUN_PACKAGES, **TEST_PACKAGES})
    ensure_venv("test")
    return run_tests(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
