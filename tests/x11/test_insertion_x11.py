"""Typing and pasting into another application on a real X server (Xvfb + openbox).

The target is ``tests/apps/type_target.py`` (a Qt text field that mirrors its text to a
file); the inserter runs in ``tests/apps/insert_demo.py`` (QtClipboard + X11 keyboard +
Inserter on a qasync loop), as in the app. Non-ASCII text must arrive exactly, every
time: characters that are not on the US layout are typed through remapped keycodes,
which is timing-sensitive (docs/desktop-integration.md §2).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QColor, QImage

from tests.desktop import (
    Child,
    activate,
    active_window_name,
    launch,
    poll_until,
    stop,
    wait_for_window,
    x_display,
    x_run,
    xdotool,
)
from tests.helpers import ROOT, need_tool

APPS = ROOT / "tests" / "apps"
TEXT = "Naïve café — déjà vu 😀 Ünïcödé ß € 中文"
# 40 characters, none of them on a US layout: each is typed through a remapped keycode.
NON_ASCII_40 = "äöüéèêàâçñßœæøåíóúýžšč€中文日本語😀🎉—\N{EN DASH}…ÄÖÜÉÈÇÑ"
PREVIOUS = "previous clipboard"


@dataclass
class Desk:
    """A display with a focused target window and the insert demo running."""

    env: dict[str, str]
    typed: Path
    window: str
    demo: Child
    tmp: Path

    def insert(self, method: str, text: str, target: str = "-", timeout: float = 30) -> str:
        """Run one insertion; return the ``DONE`` line."""
        self.demo.send(f"insert {method} {target} {json.dumps(text)}")
        return self.demo.expect("DONE", timeout)

    def clear(self) -> None:
        """Empty the target's field."""
        xdotool(self.env, "key", "--clearmodifiers", "ctrl+a", "BackSpace")
        poll_until(lambda: file_text(self.typed) == "", 10, "the field to be cleared")


def file_text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def clipboard_text(env: dict[str, str]) -> str:
    """The CLIPBOARD selection as another X client reads it."""
    return x_run(env, "xclip", "-o", "-selection", "clipboard")


def clipboard_now(env: dict[str, str]) -> str | None:
    """The CLIPBOARD text, or ``None`` while nobody owns it."""
    done = subprocess.run(
        [need_tool("xclip"), "-o", "-selection", "clipboard"],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
    )
    return done.stdout if done.returncode == 0 else None


def start_target(env: dict[str, str], typed: Path, title: str) -> tuple[Child, str]:
    child = launch([sys.executable, str(APPS / "type_target.py"), str(typed), title], env)
    child.expect("READY")
    return child, wait_for_window(f"^{title}$", env)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    need_tool("xclip")
    with x_display() as env:
        typed = tmp_path / "typed.txt"
        target, window = start_target(env, typed, "TypeTarget")
        with target, launch([sys.executable, str(APPS / "insert_demo.py")], env) as demo:
            demo.expect("READY")
            activate(window, env)
            poll_until(lambda: active_window_name(env) == "TypeTarget", 10, "focus on the target")
            yield Desk(env, typed, window, demo, tmp_path)


def keymap(desk: Desk) -> str:
    desk.demo.send("keymap")
    return desk.demo.expect("KEYMAP").split()[1]


def test_type_non_ascii_exactly_every_time(desk: Desk) -> None:
    before = keymap(desk)
    for attempt in range(3):
        done = desk.insert("type", TEXT)
        assert done.split()[1] == "inserted", done
        poll_until(lambda: file_text(desk.typed) == TEXT, 10, f"the exact text (run {attempt})")
        assert keymap(desk) == before  # the borrowed keycodes were given back
        desk.clear()


def test_type_40_non_ascii_characters_and_measure(desk: Desk) -> None:
    assert len(NON_ASCII_40) == 40
    assert not any(c.isascii() for c in NON_ASCII_40)
    seconds = []
    for attempt in range(3):
        done = desk.insert("type", NON_ASCII_40)
        assert done.split()[1] == "inserted", done
        seconds.append(float(done.split()[2]))
        poll_until(lambda: file_text(desk.typed) == NON_ASCII_40, 10, f"the text (run {attempt})")
        desk.clear()
    print(f"typing 40 non-ASCII characters took {', '.join(f'{s:.3f}' for s in seconds)} s")
    assert max(seconds) < 5


def test_type_waits_until_the_hotkey_modifier_is_released(desk: Desk) -> None:
    xdotool(desk.env, "keydown", "ctrl")
    try:
        desk.demo.send(f"insert type - {json.dumps(TEXT)}")
        desk.demo.expect("MODS_HELD")  # Ctrl+letters now would be shortcuts, not text
        assert file_text(desk.typed) == ""
    finally:
        xdotool(desk.env, "keyup", "ctrl")
    assert desk.demo.expect("DONE", 30).split()[1] == "inserted"
    poll_until(lambda: file_text(desk.typed) == TEXT, 10, "the text typed after Ctrl went up")


def test_paste_inserts_and_restores_the_previous_clipboard(desk: Desk) -> None:
    owner = subprocess.Popen(  # another application owns the clipboard before we paste
        [need_tool("xclip"), "-quiet", "-selection", "clipboard"],
        env=desk.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert owner.stdin is not None
        owner.stdin.write(PREVIOUS)
        owner.stdin.close()
        poll_until(lambda: clipboard_now(desk.env) == PREVIOUS, 10, "xclip to own the clipboard")
        for attempt in range(3):
            done = desk.insert("paste", TEXT)
            assert done.split()[1] == "inserted", done
            poll_until(lambda: file_text(desk.typed) == TEXT, 10, f"the pasted text ({attempt})")
            desk.demo.send("drain")
            desk.demo.expect("DRAINED")
            assert clipboard_text(desk.env) == PREVIOUS
            desk.clear()
        owner.wait(10)  # it lost the clipboard to us, and exits
    finally:
        stop(owner)


def png_bytes() -> bytes:
    image = QImage(5, 4, QImage.Format.Format_RGB32)
    image.fill(QColor("green"))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert image.save(buffer, "PNG")  # type: ignore[call-overload]  # the stubs say bytes
    return bytes(data.data())


def test_paste_restores_an_image_on_the_clipboard(desk: Desk) -> None:
    png = png_bytes()
    owner = subprocess.Popen(  # an image viewer has copied a picture
        [need_tool("xclip"), "-quiet", "-selection", "clipboard", "-t", "image/png"],
        env=desk.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    read_png = [need_tool("xclip"), "-o", "-selection", "clipboard", "-t", "image/png"]

    def clipboard_png() -> bytes | None:
        done = subprocess.run(read_png, env=desk.env, capture_output=True, timeout=10)
        return done.stdout if done.returncode == 0 else None

    try:
        assert owner.stdin is not None
        owner.stdin.write(png)
        owner.stdin.close()
        poll_until(lambda: clipboard_png() == png, 10, "xclip to own the clipboard")
        assert desk.insert("paste", TEXT).split()[1] == "inserted"
        poll_until(lambda: file_text(desk.typed) == TEXT, 10, "the pasted text")
        desk.demo.send("drain")
        desk.demo.expect("DRAINED")
        assert clipboard_png() == png  # served by the demo now, byte for byte
    finally:
        stop(owner)


def test_focus_moved_leaves_the_text_on_the_clipboard(desk: Desk) -> None:
    desk.demo.send("target")
    target = desk.demo.expect("TARGET").split()[1]
    assert target != "-"
    other_typed = desk.tmp / "other.txt"
    other, other_window = start_target(desk.env, other_typed, "OtherTarget")
    with other:
        activate(other_window, desk.env)
        poll_until(lambda: active_window_name(desk.env) == "OtherTarget", 10, "focus to move")
        for method in ("type", "paste"):
            done = desk.insert(method, TEXT, target)
            assert done.split()[1] == "clipboard", done
            assert "focused window changed" in json.loads(done.split(" ", 3)[3])
            assert clipboard_text(desk.env) == TEXT
        # Keys sent before this marker would have arrived before it: nothing else came.
        assert desk.insert("type", "ok").split()[1] == "inserted"
        poll_until(lambda: file_text(other_typed) == "ok", 10, "the marker in the other window")
        assert file_text(desk.typed) == ""
        desk.demo.send("drain")
        desk.demo.expect("DRAINED")
        assert clipboard_text(desk.env) == TEXT  # left there, not replaced by a restore


def start_logger(desk: Desk, resource_name: str) -> tuple[Child, Path]:
    """A key-logging window whose WM_CLASS says it is ``resource_name``; focused."""
    log = desk.tmp / f"{resource_name}.log"
    title = f"Logger-{resource_name}"
    env = {**desk.env, "RESOURCE_NAME": resource_name}
    child = launch([sys.executable, str(APPS / "key_logger.py"), str(log), title], env)
    child.expect("READY")
    window = wait_for_window(f"^{title}$", desk.env)
    assert resource_name in x_run(desk.env, "xprop", "-id", window, "WM_CLASS")
    activate(window, desk.env)
    poll_until(lambda: active_window_name(desk.env) == title, 10, f"focus on {title}")
    return child, log


def test_terminals_get_ctrl_shift_v(desk: Desk) -> None:
    logger, log = start_logger(desk, "kitty")
    with logger:
        assert desk.insert("paste", "ls -l").split()[1] == "inserted"
        poll_until(lambda: "ctrl+shift+V" in file_text(log).split(), 10, "Ctrl+Shift+V")
    logger, log = start_logger(desk, "plainapp")
    with logger:
        assert desk.insert("paste", "hello").split()[1] == "inserted"
        poll_until(lambda: file_text(log).split() == ["ctrl+V"], 10, "a plain Ctrl+V")


def test_xterm_cannot_paste_so_the_text_stays_on_the_clipboard(desk: Desk) -> None:
    logger, log = start_logger(desk, "xterm")
    with logger:
        done = desk.insert("paste", TEXT)
        assert done.split()[1] == "failed", done
        message = json.loads(done.split(" ", 3)[3])
        assert "xterm" in message
        assert message.endswith("The text is on the clipboard.")
        assert clipboard_text(desk.env) == TEXT
        assert file_text(log) == ""
