#!/usr/bin/env python3
"""Build Hark's frozen app and its installer for this operating system.

    python packaging/build.py linux|windows|macos [--skip-self-check] [--skip-installer]

1. PyInstaller with ``packaging/hark.spec`` (one-folder) into ``dist/``.
2. The frozen app's ``--self-check`` (it must exit 0).
3. The platform's package, in ``dist/``:
   - linux:   ``hark-VERSION-linux-ARCH.tar.gz`` (the folder, the .desktop file, the
     icon and ``install.sh``);
   - windows: ``Hark-VERSION-setup.exe`` with NSIS (``makensis``);
   - macos:   ``Hark-VERSION-macos-ARCH.dmg`` through ``packaging/macos/make_dmg.sh``
     (signed and notarized when the ``APPLE_*`` variables are set).

Run it with the Python that has Hark and PyInstaller installed (``pip install -e
".[test]"``): PyInstaller freezes the interpreter that runs it. Standard library only
besides PyInstaller; PyInstaller is not a cross-compiler, so each OS builds its own.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
SPEC = PACKAGING / "hark.spec"
TARGETS = {"linux": "linux", "windows": "win32", "macos": "darwin"}


def say(message: str) -> None:
    print(f"build: {message}", file=sys.stderr, flush=True)


def app_version() -> str:
    """``app.__version__``, read without importing the app."""
    text = (ROOT / "app" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    if match is None:
        sys.exit("build: error: no __version__ in app/__init__.py")
    return match.group(1)


def numeric_version(version: str) -> str:
    """Four dot-separated numbers for Windows file properties (``0.1.0rc1`` -> ``0.1.0.0``)."""
    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3]]
    return ".".join(str(n) for n in [*numbers, 0, 0, 0, 0][:4])


def arch() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "aarch64": "arm64"}.get(machine, machine)


def run(cmd: list[str], cwd: Path | None = None) -> None:
    say("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True, cwd=cwd)


def pyinstaller(dist: Path, work: Path) -> None:
    started = time.monotonic()
    run(
        [
            sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
            "--distpath", str(dist), "--workpath", str(work), str(SPEC),
        ],
        cwd=ROOT,
    )  # fmt: skip
    say(f"PyInstaller took {time.monotonic() - started:.0f} s")


def frozen_executable(target: str, dist: Path) -> Path:
    """The program to run for the self-check (the console twin on Windows)."""
    if target == "windows":
        return dist / "hark" / "hark-cli.exe"
    if target == "macos":
        return dist / "Hark.app" / "Contents" / "MacOS" / "hark"
    return dist / "hark" / "hark"


def self_check(executable: Path) -> None:
    env = dict(os.environ)
    if sys.platform.startswith("linux") and not (
        env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("QT_QPA_PLATFORM")
    ):
        env["QT_QPA_PLATFORM"] = "offscreen"  # a headless build machine
    # The build machine has no model, key or microphone: check the installation alone.
    say(f"$ {executable} --self-check --installation-only")
    result = subprocess.run(
        [str(executable), "--self-check", "--installation-only"], env=env, timeout=300
    )
    if result.returncode != 0:
        sys.exit(f"build: error: the frozen app's self-check failed ({result.returncode})")


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def package_linux(dist: Path, version: str, icons: Path) -> Path:
    """A tarball: ``hark-VERSION/`` with the app folder, .desktop, icons and install.sh."""
    out = dist / f"hark-{version}-linux-{arch()}.tar.gz"
    top = f"hark-{version}"
    extras = {
        "hark.desktop": PACKAGING / "hark.desktop",
        "install.sh": PACKAGING / "linux" / "install.sh",
        "hark.svg": ROOT / "resources" / "icons" / "hark.svg",
        "hark-256.png": icons / "hark-256.png",
        "README.md": ROOT / "README.md",
    }

    def executable_bits(info: tarfile.TarInfo) -> tarfile.TarInfo:
        if info.name.endswith("install.sh"):
            info.mode = 0o755
        return info

    with tarfile.open(out, "w:gz") as tar:
        tar.add(dist / "hark", arcname=f"{top}/hark")
        for name, source in extras.items():
            if source.is_file():
                tar.add(source, arcname=f"{top}/{name}", filter=executable_bits)
    return out


def find_makensis() -> str:
    found = shutil.which("makensis")
    if found:
        return found
    for base in (os.environ.get("PROGRAMFILES(X86)"), os.environ.get("PROGRAMFILES")):
        if base and (Path(base) / "NSIS" / "makensis.exe").is_file():
            return str(Path(base) / "NSIS" / "makensis.exe")
    sys.exit("build: error: makensis not found (install NSIS: choco install nsis)")


def package_windows(dist: Path, version: str, icons: Path) -> Path:
    out = dist / f"Hark-{version}-setup.exe"
    cmd = [
        find_makensis(),
        "-V2",
        f"-DVERSION={version}",
        f"-DVI_VERSION={numeric_version(version)}",
        f"-DSOURCE_DIR={dist / 'hark'}",
        f"-DOUTFILE={out}",
    ]
    if (icons / "hark.ico").is_file():
        cmd.append(f"-DICON={icons / 'hark.ico'}")
    run([*cmd, str(PACKAGING / "windows" / "hark.nsi")])
    return out


def package_macos(dist: Path, version: str) -> Path:
    out = dist / f"Hark-{version}-macos-{arch()}.dmg"
    run(["bash", str(PACKAGING / "macos" / "make_dmg.sh"), str(dist / "Hark.app"), str(out)])
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("target", choices=sorted(TARGETS))
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    parser.add_argument("--skip-self-check", action="store_true")
    parser.add_argument("--skip-installer", action="store_true", help="only the frozen app")
    args = parser.parse_args(argv)
    wanted = TARGETS[args.target]
    if not sys.platform.startswith(wanted):
        sys.exit(f"build: error: build {args.target} on {args.target} (this is {sys.platform})")

    version = app_version()
    dist = args.dist.resolve()
    work = dist.parent / "build" / "pyinstaller"
    icons = work / SPEC.stem / "icons"  # drawn by the spec (PyInstaller's workpath/specname)
    say(f"Hark {version} for {args.target} ({arch()}), into {dist}")
    pyinstaller(dist, work)
    say(f"one-folder build: {folder_size(dist / 'hark') / 1e6:.0f} MB")
    if not args.skip_self_check:
        self_check(frozen_executable(args.target, dist))
    if args.skip_installer:
        return 0
    if args.target == "linux":
        out = package_linux(dist, version, icons)
    elif args.target == "windows":
        out = package_windows(dist, version, icons)
    else:
        out = package_macos(dist, version)
    say(f"wrote {out} ({out.stat().st_size / 1e6:.0f} MB)")
    github_output = os.environ.get("GITHUB_OUTPUT")
    if github_output:  # for the workflow's upload step
        with open(github_output, "a", encoding="utf-8") as f:
            f.write(f"package={out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
