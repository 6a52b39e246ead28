"""A real X desktop for GUI tests: Xvfb + openbox, and xdotool/ImageMagick helpers.

Use :func:`x_display` as a context manager (or the :func:`x_desktop` fixture: import it
into a test module or a conftest) to get an environment whose ``DISPLAY`` points at a
fresh Xvfb with a window manager, so focus, stacking and click-through behave as on
a desktop. Every wait polls a condition against a deadline (scaled by
``HARK_TEST_TIMEOUT_FACTOR``); nothing sleeps blindly. Child processes are ended by
their own handle, never by name.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from tests.helpers import TIMEOUT_FACTOR, need_tool

T = TypeVar("T")


def poll_until(
    check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05
) -> T:
    """Call ``check`` until it returns something truthy, or fail after ``timeout`` s.

    Returns:
        The first truthy value.

    Raises:
        AssertionError: At the deadline, naming ``what`` was awaited.
    """
    deadline = time.monotonic() + timeout * TIMEOUT_FACTOR
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout * TIMEOUT_FACTOR:.1f}s waiting for {what}"
            )
        time.sleep(interval)  # a polling interval, not a wait for something to happen


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str] | None, grace: float = 5) -> None:
    """End a child process: terminate, then kill if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)


def _x(env: dict[str, str], *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), env=env, capture_output=True, text=True, timeout=timeout * TIMEOUT_FACTOR
    )


def _free_display(start: int) -> int:
    for n in range(start, start + 400):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise AssertionError("no free X display number")


@contextmanager
def x_display(size: str = "1280x800x24", window_manager: bool = True) -> Iterator[dict[str, str]]:
    """Start Xvfb (and openbox) on a free display; yield an environment that uses it.

    Args:
        size: The screen, as Xvfb's ``-screen 0`` argument.
        window_manager: Start openbox and wait until it manages windows.

    Yields:
        A copy of ``os.environ`` with ``DISPLAY`` set and ``QT_QPA_PLATFORM=xcb``.
    """
    xvfb = need_tool("Xvfb")
    need_tool("xdpyinfo")
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XAUTHORITY")}
    env["QT_QPA_PLATFORM"] = "xcb"
    server: subprocess.Popen[bytes] | None = None
    wm: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryFile() as log:  # Xvfb's chatter, shown if it fails to start
        try:
            start = 100 + os.getpid() % 300
            for _attempt in range(10):  # another run may take the number between check and use
                display = _free_display(start)
                # -noreset: otherwise the server resets when its last client (our probe)
                # leaves, and a client connecting during the reset is refused.
                cmd = [xvfb, f":{display}", "-screen", "0", size, "-nolisten", "tcp", "-noreset"]
                server = subprocess.Popen(cmd, stdout=log, stderr=log)
                env["DISPLAY"] = f":{display}"
                lock = Path(f"/tmp/.X{display}-lock")  # Xvfb writes its pid there

                def up(server: subprocess.Popen[bytes] = server, lock: Path = lock) -> bool:
                    if server.poll() is not None:
                        return True  # exited: stop waiting, then pick another number
                    try:
                        owner = int(lock.read_text().strip())
                    except (OSError, ValueError):
                        return False  # not written yet
                    if owner != server.pid:  # another run's server holds the number
                        stop(server)
                        return True
                    return _x(env, "xdpyinfo").returncode == 0

                poll_until(up, 15, f"Xvfb on :{display}")
                if server.poll() is None:
                    break
                start = display + 1
            else:
                log.seek(0)
                raise AssertionError(f"Xvfb did not start: {log.read().decode(errors='replace')}")
            if window_manager:
                wm = subprocess.Popen(
                    [need_tool("openbox"), "--sm-disable"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                need_tool("xprop")
                poll_until(
                    lambda: (
                        "window id #"
                        in _x(env, "xprop", "-root", "_NET_SUPPORTING_WM_CHECK").stdout
                    ),
                    15,
                    "openbox to manage the display",
                )
            yield env
        finally:
            stop(wm)
            stop(server)


@pytest.fixture
def x_desktop() -> Iterator[dict[str, str]]:
    """A fresh Xvfb + openbox for one test; the value is the environment to run in."""
    with x_display() as env:
        yield env


def wait_for_window(name: str, env: dict[str, str], timeout: float = 15) -> str:
    """Wait until a window whose title matches ``name`` (a regex) exists; return its id."""
    need_tool("xdotool")
    try:
        done = _x(env, "xdotool", "search", "--sync", "--name", name, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"no window named {name!r} within {timeout}s") from None
    ids = done.stdout.split()
    assert ids, f"xdotool search found no window {name!r}: {done.stderr}"
    return ids[0]


def active_window_name(env: dict[str, str]) -> str:
    """The title of the window that has the keyboard focus ('' when none)."""
    return _x(env, "xdotool", "getwindowfocus", "getwindowname").stdout.strip()


def activate(window: str, env: dict[str, str]) -> None:
    """Give ``window`` the focus through the window manager and wait until it has it."""
    _x(env, "xdotool", "windowactivate", "--sync", window, timeout=15).check_returncode()


def x_run(env: dict[str, str], tool: str, *args: str) -> str:
    """Run an X client tool on the display; fail loudly if it fails; return its output."""
    done = _x(env, need_tool(tool), *args)
    assert done.returncode == 0, f"{tool} {' '.join(args)}: {done.stderr}"
    return done.stdout


def xdotool(env: dict[str, str], *args: str) -> str:
    """Run ``xdotool ARGS`` on the display (see :func:`x_run`)."""
    return x_run(env, "xdotool", *args)


def window_geometry(window: str, env: dict[str, str]) -> tuple[int, int, int, int]:
    """``(x, y, width, height)`` of a window in root coordinates."""
    shell = dict(
        line.split("=", 1)
        for line in xdotool(env, "getwindowgeometry", "--shell", window).split()
        if "=" in line
    )
    return int(shell["X"]), int(shell["Y"]), int(shell["WIDTH"]), int(shell["HEIGHT"])


def screenshot(path: Path, env: dict[str, str]) -> Path:
    """Save the whole screen to ``path`` (PNG by extension) with ImageMagick's ``import``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    done = _x(env, need_tool("import"), "-window", "root", str(path), timeout=30)
    assert done.returncode == 0, f"import failed: {done.stderr}"
    return path


class Child:
    """A child process with line-based text stdin/stdout, for driving test apps.

    Its stdout is read on a thread, so :meth:`expect` can wait for a line with a
    timeout; stderr is inherited (it lands in the test log). Use it as a context
    manager, or call :meth:`stop`.
    """

    def __init__(self, args: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(
            list(args),
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout as stream:
            for line in stream:
                self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, prefix: str, timeout: float = 15) -> str:
        """The next stdout line starting with ``prefix`` (skipped lines stay in ``seen``)."""
        deadline = time.monotonic() + timeout * TIMEOUT_FACTOR
        while True:
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                raise AssertionError(f"no line {prefix!r} in {timeout}s; saw {self.seen}") from None
            if line is None:
                raise AssertionError(f"output ended before {prefix!r}; saw {self.seen}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def send(self, line: str) -> None:
        """Write one line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        """End the process (terminate, then kill) and close its pipes."""
        stop(self.proc)
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        self._reader.join(5)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def launch(args: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> Child:
    """Start ``args`` as a :class:`Child` on the display of ``env``."""
    return Child(args, env, cwd)
