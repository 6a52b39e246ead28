"""The desktop app as a user runs it: live captions from a (virtual) microphone.

`python -m app --captions` starts as a subprocess with its settings pointing at a
provider emulator; PulseAudio's null sink plays a speech WAV into a virtual
microphone; the app's overlay must show the scripted partial and then the final.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from app.adapters.ipc import send_command
from tests.audio import virtual_microphone
from tests.emulators import FireworksEmulator, Script, Utterance
from tests.helpers import ROOT, TIMEOUT_FACTOR, hark_env, speech_wav

KEY = "fw-test-key"
FINAL = "Captions from the virtual microphone — café ✓"


async def _read_until(
    stream: asyncio.StreamReader, needle: str, seen: list[str], limit: float
) -> str:
    async def scan() -> str:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            seen.append(text)
            if needle in text:
                return text
        raise AssertionError(f"the app exited before {needle!r}")

    try:
        return await asyncio.wait_for(scan(), limit * TIMEOUT_FACTOR)
    except TimeoutError:
        raise AssertionError(f"no {needle!r} within {limit} s; log:\n" + "\n".join(seen)) from None


async def test_live_captions_show_the_scripted_final(tmp_path: Path) -> None:
    wav = speech_wav(tmp_path / "speech.wav", "Captions from the virtual microphone.")
    script = Script([Utterance(FINAL, partials=[(0.3, "Captions from")], final_at=1.2)])
    with virtual_microphone(tmp_path) as mic:
        async with FireworksEmulator(script, api_key=KEY) as emu:
            url = emu.url
            env = hark_env(tmp_path, FIREWORKS_API_KEY=KEY, XDG_RUNTIME_DIR=str(tmp_path / "run"))
            env.update(mic.pulse_vars)
            env["XDG_RUNTIME_DIR"] = str(tmp_path / "run")
            (tmp_path / "run").mkdir(mode=0o700, exist_ok=True)
            config = tmp_path / "config" / "hark"
            config.mkdir(parents=True)
            (config / "settings.json").write_text(
                json.dumps({"version": 1, "provider": "fireworks", "fireworks": {"endpoint": url}})
            )
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "app", "--captions", "-v",
                env=env, cwd=ROOT, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert proc.stderr is not None
            seen: list[str] = []
            player = None
            try:
                await _read_until(proc.stderr, "live captions: listening", seen, 30)
                player = mic.play(wav)
                partial_seen = await _read_until(proc.stderr, "overlay final:", seen, 30)
                assert partial_seen.endswith(f"overlay final: {FINAL}")
                address = str(tmp_path / "run" / "hark" / "ipc.sock")
                reply = await asyncio.to_thread(send_command, "quit", address=address)
                assert reply == "ok"
                code = await asyncio.wait_for(proc.wait(), 20 * TIMEOUT_FACTOR)
            finally:
                if player is not None:
                    player.kill()
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
    assert code == 0
    assert emu.violations == []
    assert emu.connections[0].samples_received > 8000  # the microphone really streamed
    log = "\n".join(seen)
    assert "Traceback" not in log
    assert KEY not in log
    # The settings the app used are still the user's: nothing rewrote them.
    saved = json.loads((config / "settings.json").read_text())
    assert saved["fireworks"]["endpoint"] == url
