"""A first run of the real app on a real X server, from the setup window to dictation.

Hark starts as a subprocess with empty config, cache and data folders, on Xvfb +
openbox (no system tray), with a PulseAudio virtual microphone. The hub is the local
stand-in serving the tiny scripted Whisper model (it hears " hello world" in any
speech) as the default ``base`` size. Only the keyboard drives the setup window, as
a user would: download the model, move through the steps with Enter, then hold the
real hotkey (grabbed on the X server) while speech plays, and the words land in the
"Try it" box. A screenshot of that goes to ``$HARK_SCREENSHOT_DIR`` (else tmp).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.adapters.history import SqliteHistory
from app.adapters.ipc import send_command
from app.adapters.models import MODEL_REPOS
from tests.audio import virtual_microphone
from tests.desktop import activate, screenshot, wait_for_window, x_display, x_run, xdotool
from tests.helpers import ROOT, TIMEOUT_FACTOR, hark_env, speech_wav
from tests.model_server import ModelHub, add_repo, serve_hub

HOTKEY = "ctrl+alt+space"  # the default


class App:
    """The running app and its log (stderr, ``-v``)."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.log: list[str] = []
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.log.append(line.decode(errors="replace").rstrip())

    async def wait_log(self, needle: str, limit: float = 30, *, since: int = 0) -> str:
        """The first log line from index ``since`` on containing ``needle``."""
        deadline = asyncio.get_running_loop().time() + limit * TIMEOUT_FACTOR
        while True:
            for text in self.log[since:]:
                if needle in text:
                    return text
            if self.proc.returncode is not None or asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no log line {needle!r}; log:\n" + "\n".join(self.log))
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        await asyncio.gather(self._reader, return_exceptions=True)


@contextlib.asynccontextmanager
async def running_app(env: dict[str, str]) -> AsyncIterator[App]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "-v", env=env, cwd=ROOT, stderr=asyncio.subprocess.PIPE
    )
    app = App(proc)
    try:
        yield app
    finally:
        await app.close()


def window_names(env: dict[str, str]) -> list[str]:
    """The titles of the mapped top-level windows that belong to Hark."""
    found = x_run(env, "xdotool", "search", "--onlyvisible", "--name", ".").split()
    names = [xdotool(env, "getwindowname", w).strip() for w in found]
    return sorted(n for n in names if "Hark" in n or "speech model" in n)


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speech_wav(tmp_path_factory.mktemp("speech") / "speech.wav", "Testing one two three.")


async def test_first_run_sets_up_downloads_and_dictates_into_the_box(
    tmp_path: Path, tiny_model: Path, wav: Path
) -> None:
    hub = ModelHub(files={}, chunk=64 * 1024)
    add_repo(hub, MODEL_REPOS["base"], tiny_model)  # the default size, made tiny
    shots = Path(os.environ.get("HARK_SCREENSHOT_DIR") or tmp_path / "shots")
    with (
        serve_hub(hub),
        x_display("1280x800x24") as display_env,
        virtual_microphone(tmp_path) as mic,
    ):
        env = {**hark_env(tmp_path), **display_env, **mic.pulse_vars}
        env["HARK_MODEL_BASE_URL"] = hub.base_url
        env["XDG_RUNTIME_DIR"] = str(tmp_path / "run")
        (tmp_path / "run").mkdir(mode=0o700)
        async with running_app(env) as app:
            await app.wait_log("hotkey registered")
            await app.wait_log("setup window shown")
            window = wait_for_window("^Set up Hark$", env)
            activate(window, env)
            assert window_names(env) == ["Set up Hark"]  # nothing else: no Settings,
            # no download window, no control window (there is no tray here)

            # Step 1 starts on "On this computer"; Tab Tab Tab reaches Download.
            xdotool(env, "key", "--delay", "50", "Tab", "Tab", "Tab", "space")
            await app.wait_log("model base downloaded")
            for step in ("Microphone", "Hotkey", "Try it"):  # Enter is Next on every step
                xdotool(env, "key", "Return")
                await app.wait_log(f"setup: step {step}")

            mark = len(app.log)
            xdotool(env, "keydown", HOTKEY)
            await app.wait_log("dictation: press", since=mark)
            await app.wait_log("microphone", since=mark)
            player = mic.play(wav)
            await asyncio.to_thread(player.wait, 30 * TIMEOUT_FACTOR)
            xdotool(env, "keyup", HOTKEY)
            inserted = await app.wait_log("dictation: into the setup window", 60, since=mark)
            screenshot(shots / "x11-first-run-try-it.png", env)

            xdotool(env, "key", "Return")  # Finish
            await app.wait_log("tray shown")
            wait_for_window("^Hark$", env)  # now the control window may show
            address = str(tmp_path / "run" / "hark" / "ipc.sock")
            await asyncio.to_thread(send_command, "quit", address=address)
            assert await asyncio.wait_for(app.proc.wait(), 20 * TIMEOUT_FACTOR) == 0
    assert "Traceback" not in "\n".join(app.log)
    history = SqliteHistory(tmp_path / "data" / "hark" / "history.sqlite3")
    text = history.recent(1)[0]
    history.close()
    assert "hello world" in text
    assert f"({len(text)} characters)" in inserted  # that whole text went into the box
    saved = json.loads((tmp_path / "config" / "hark" / "settings.json").read_text())
    assert saved["provider"] == "local"
