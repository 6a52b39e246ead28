"""A whole desktop for push-to-talk tests: X server, microphone, provider, target, Hark.

:class:`PttRig` starts Xvfb + openbox, a PulseAudio virtual microphone, a provider
emulator on loopback, the target application (a Qt text field mirroring its text to a
file) and Hark itself as a subprocess configured to use them; :meth:`PttRig.dictate`
holds the hotkey with xdotool while a speech WAV plays into the microphone. Used by
tests/x11/test_dictation_x11.py and bench/ptt_latency.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from app.adapters.ipc import send_command
from tests.audio import virtual_microphone
from tests.desktop import (
    Child,
    activate,
    active_window_name,
    launch,
    poll_until,
    wait_for_window,
    x_display,
    x_run,
    xdotool,
)
from tests.emulators import BasetenEmulator, EmulatorServer, Faults, FireworksEmulator, Script
from tests.helpers import ROOT, TIMEOUT_FACTOR, hark_env, need_tool

KEY = "fw-ptt-key"
HOTKEY = "ctrl+alt+h"


class PttRig:
    """The running desktop; see the module docstring.

    Attributes:
        env: The environment of every X client (DISPLAY, PulseAudio, isolated dirs).
        emu: The provider emulator.
        log: Every line Hark wrote to stderr so far.
    """

    def __init__(
        self, tmp: Path, env: dict[str, str], mic: Any, emu: EmulatorServer, provider: str
    ) -> None:
        self.tmp = tmp
        self.provider = provider
        self.env = env
        self.mic = mic
        self.emu = emu
        self.out = tmp / "typed.txt"
        self.log: list[str] = []
        self.target: Child | None = None
        self.target_id = ""
        self.app: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiters: list[tuple[str, asyncio.Future[str]]] = []

    # -- start and stop ---------------------------------------------------------------------

    def start_target(self) -> None:
        self.target = launch([sys.executable, str(ROOT / "tests/apps/type_target.py"),
                              str(self.out)], self.env)  # fmt: skip
        self.target.expect("READY")
        self.target_id = wait_for_window("^TypeTarget$", self.env)
        self.focus_target()

    def focus_target(self) -> None:
        activate(self.target_id, self.env)
        poll_until(lambda: active_window_name(self.env) == "TypeTarget", 10, "target focus")

    async def start_app(self, insertion: str, *extra_args: str) -> None:
        config = self.tmp / "config" / "hark"
        config.mkdir(parents=True, exist_ok=True)
        settings = {
            "version": 1,
            "provider": self.provider,
            self.provider: {"endpoint": self.emu.url},
            "insertion": insertion,
            "hotkey": {"hotkey": HOTKEY, "mode": "hold"},
        }
        (config / "settings.json").write_text(json.dumps(settings))
        self.app = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", "-v", *extra_args,
            env=self.env, cwd=ROOT, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read_log())
        await self.wait_log("hotkey registered")
        await self.wait_log("tray shown")
        # Without a system tray the app shows its small control window: focus the target.
        self.focus_target()

    async def _read_log(self) -> None:
        assert self.app is not None
        assert self.app.stderr is not None
        while line := await self.app.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self.log.append(text)
            for needle, future in list(self._waiters):
                if needle in text and not future.done():
                    future.set_result(text)
        for _, future in self._waiters:
            if not future.done():
                future.set_exception(AssertionError("Hark exited:\n" + "\n".join(self.log)))

    async def wait_log(self, needle: str, limit: float = 20, *, since: int = 0) -> str:
        """The first log line from index ``since`` on that contains ``needle``."""
        for text in self.log[since:]:
            if needle in text:
                return text
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.append((needle, future))
        try:
            return await asyncio.wait_for(future, limit * TIMEOUT_FACTOR)
        except TimeoutError:
            raise AssertionError(f"no log line {needle!r}; log:\n" + "\n".join(self.log)) from None
        finally:
            self._waiters.remove((needle, future))

    async def quit(self) -> int:
        assert self.app is not None
        address = str(Path(self.env["XDG_RUNTIME_DIR"]) / "hark" / "ipc.sock")
        await asyncio.to_thread(send_command, "quit", address=address)
        return await asyncio.wait_for(self.app.wait(), 20 * TIMEOUT_FACTOR)

    # -- actions ----------------------------------------------------------------------------

    def typed(self) -> str:
        return self.out.read_text(encoding="utf-8") if self.out.exists() else ""

    def clear_target(self) -> None:
        self.focus_target()
        xdotool(self.env, "key", "--clearmodifiers", "ctrl+a", "BackSpace")
        poll_until(lambda: self.typed() == "", 10, "the target to be empty")

    async def press(self) -> int:
        """Hold the hotkey; return the log index at the press (for :meth:`wait_log`)."""
        mark = len(self.log)
        xdotool(self.env, "keydown", HOTKEY)
        await self.wait_log("dictation: press", since=mark)
        await self.wait_log("microphone", since=mark)  # open: the WAV may play now
        return mark

    async def release(self) -> float:
        """Let go of the hotkey; return the time just after the X server had the release."""
        xdotool(self.env, "keyup", HOTKEY)
        return time.perf_counter()

    async def dictate(self, wav: Path) -> tuple[int, float]:
        """Hold the hotkey while ``wav`` plays into the microphone; returns (mark, t_release)."""
        mark = await self.press()
        player = self.mic.play(wav)
        await asyncio.to_thread(player.wait, 30 * TIMEOUT_FACTOR)
        return mark, await self.release()

    async def wait_typed(self, expected: str, limit: float = 20) -> float:
        """Wait until the target holds ``expected``; return when it was seen."""
        deadline = time.monotonic() + limit * TIMEOUT_FACTOR
        while (text := self.typed()) != expected:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"target holds {text!r}, expected {expected!r}; log:\n" + "\n".join(self.log)
                )
            await asyncio.sleep(0.002)
        return time.perf_counter()

    def set_clipboard(self, text: str) -> None:
        """Own the clipboard with ``text`` from another client (xclip keeps serving it)."""
        subprocess.run([need_tool("xclip"), "-selection", "clipboard"], input=text.encode(),
                       env=self.env, check=True, timeout=10)  # fmt: skip

    def clipboard(self) -> str:
        return x_run(self.env, "xclip", "-o", "-selection", "clipboard")


@contextlib.asynccontextmanager
async def ptt_rig(
    tmp: Path,
    script: Script,
    *,
    insertion: str,
    faults: Faults | None = None,
    provider: str = "fireworks",
) -> AsyncIterator[PttRig]:
    """Start everything; stop everything on exit (Hark is asked to quit first).

    ``provider`` is ``"fireworks"`` or ``"baseten"``: which emulator Hark talks to.
    """
    emulator = {"fireworks": FireworksEmulator, "baseten": BasetenEmulator}[provider]
    with x_display() as display_env, virtual_microphone(tmp) as mic:
        async with emulator(script, api_key=KEY, faults=faults) as emu:
            key_var = f"{provider.upper()}_API_KEY"
            env = {**hark_env(tmp, **{key_var: KEY}), **display_env, **mic.pulse_vars}
            env["XDG_RUNTIME_DIR"] = str(tmp / "run")
            (tmp / "run").mkdir(mode=0o700, exist_ok=True)
            rig = PttRig(tmp, env, mic, emu, provider)
            try:
                rig.start_target()
                await rig.start_app(insertion)
                yield rig
                assert await rig.quit() == 0
            finally:
                if rig.app is not None and rig.app.returncode is None:
                    rig.app.kill()
                    await rig.app.wait()
                if rig._reader is not None:
                    await asyncio.gather(rig._reader, return_exceptions=True)
                if rig.target is not None:
                    rig.target.stop()
