"""Shared test helpers: speech WAVs, running `hark` as a subprocess, waiting on conditions."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent

# Scale every timeout in the tests (slow CI machines: HARK_TEST_TIMEOUT_FACTOR=3).
TIMEOUT_FACTOR = float(os.environ.get("HARK_TEST_TIMEOUT_FACTOR", "1"))


def need_tool(name: str) -> str:
    """Path of a required command-line tool, or a failure that says how to get it."""
    path = shutil.which(name)
    if path is None:
        raise AssertionError(
            f"{name} is not installed; `python3 packaging/bootstrap.py test` installs it"
        )
    return path


def speech_wav(path: Path, text: str, *, rate: int | None = None, channels: int = 1) -> Path:
    """Speak ``text`` into a 16-bit WAV with espeak-ng, converted with sox if asked."""
    raw = path.with_suffix(".espeak.wav")
    subprocess.run([need_tool("espeak-ng"), "-v", "en", "-w", str(raw), text], check=True)
    if rate is None and channels == 1:
        raw.replace(path)
        return path
    cmd = [need_tool("sox"), str(raw), "-b", "16", "-c", str(channels)]
    if rate is not None:
        cmd += ["-r", str(rate)]
    subprocess.run([*cmd, str(path)], check=True)
    return path


@dataclass
class Completed:
    """What a finished `hark` process left behind."""

    code: int
    out: str
    err: str


def hark_env(tmp: Path, **extra: str) -> dict[str, str]:
    """An environment isolated from the user's: no API keys, no real keyring, temp dirs."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        XDG_STATE_HOME=str(tmp / "state"),
        XDG_CONFIG_HOME=str(tmp / "config"),
        XDG_CACHE_HOME=str(tmp / "cache"),
        XDG_DATA_HOME=str(tmp / "data"),
        PYTHONIOENCODING="utf-8",
    )
    env.update(extra)
    return env


async def run_hark(
    *args: str, env: dict[str, str], stdin: str | None = None, limit_s: float = 60
) -> Completed:
    """Run ``python -m app ARGS`` without blocking the event loop (emulators run on it)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        out, err = await asyncio.wait_for(
            proc.communicate(stdin.encode() if stdin is not None else None),
            limit_s * TIMEOUT_FACTOR,
        )
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Completed(proc.returncode, out.decode(), err.decode())


class ArraySource:
    """A float32 signal as an audio source, in 20 ms blocks like a microphone callback,
    handed over as fast as the consumer takes them (yielding to the loop in between)."""

    def __init__(
        self, signal: npt.NDArray[np.float32], sample_rate: int = 16000, channels: int = 1
    ) -> None:
        self.signal = signal.reshape(-1, channels)
        self.sample_rate = sample_rate
        self.channels = channels

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        step = self.sample_rate // 50
        for i in range(0, len(self.signal), step):
            yield self.signal[i : i + step]
            await asyncio.sleep(0)
