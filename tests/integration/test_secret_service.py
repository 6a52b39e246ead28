"""The keyring against a real Secret Service: gnome-keyring inside dbus-run-session.

The key goes in through `hark keys set` on stdin, is readable by other Secret Service
clients (secret-tool), reaches the provider's auth header in `hark transcribe`, and
appears in no file in plain text.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.emulators import BasetenEmulator, Script, Utterance
from tests.helpers import ROOT, TIMEOUT_FACTOR, hark_env, need_tool, speech_wav

KEY = "sk-live-4f1d2c9a-not-a-real-key"

SCRIPT = r"""
set -eu
eval "$(printf 'testpass' | gnome-keyring-daemon --unlock --components=secrets)"
hark() { "$PYTHON" -m app "$@"; }
printf '%s\n' "$KEY" | hark keys set baseten
echo "status1: $(hark keys status baseten | tail -n 1)"
echo "secret-tool: $(secret-tool lookup service hark username baseten)"
unset KEY
hark transcribe "$WAV" --provider baseten --endpoint "$ENDPOINT" --fast
hark keys delete baseten
echo "status2: $(hark keys status baseten | tail -n 1)"
"""


async def test_keys_round_trip_through_gnome_keyring(tmp_path: Path) -> None:
    need_tool("gnome-keyring-daemon")
    need_tool("secret-tool")
    dbus_run_session = need_tool("dbus-run-session")
    wav = speech_wav(tmp_path / "hello.wav", "Hello from the keyring test.")
    home = tmp_path / "home"
    runtime = tmp_path / "run"
    for d in (home, runtime):
        d.mkdir(mode=0o700)
    script = Script([Utterance("Hello from the keyring test.", final_at=None)])
    async with BasetenEmulator(script, api_key=KEY, accept_schema="current") as emu:
        env = hark_env(
            tmp_path,
            HOME=str(home),
            XDG_RUNTIME_DIR=str(runtime),
            XDG_DATA_HOME=str(home / ".local" / "share"),
            PYTHON_KEYRING_BACKEND="keyring.backends.SecretService.Keyring",
            PYTHON=sys.executable,
            KEY=KEY,
            WAV=str(wav),
            ENDPOINT=emu.url,
        )
        proc = await asyncio.create_subprocess_exec(
            dbus_run_session, "--", "bash", "-c", SCRIPT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env, cwd=ROOT,
        )  # fmt: skip
        out_b, err_b = await asyncio.wait_for(proc.communicate(), 120 * TIMEOUT_FACTOR)
    out, err = out_b.decode(), err_b.decode()
    assert proc.returncode == 0, err
    assert "status1: baseten: set in the keyring" in out
    assert f"secret-tool: {KEY}" in out
    assert "Hello from the keyring test." in out
    assert "status2: baseten: not set" in out
    assert emu.connections[0].headers["authorization"] == f"Api-Key {KEY}"
    assert KEY not in err
    # Nothing under the throwaway home or Hark's directories holds the key in clear text.
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert KEY.encode() not in path.read_bytes(), f"key found in {path}"
