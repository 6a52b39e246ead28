"""No key, token or Authorization value in anything Hark writes, at its highest verbosity.

Every command and the desktop app run at ``-vv`` with canary secrets: an API key in a
real keyring (gnome-keyring over D-Bus, as on a desktop), a wrong key from the
environment, and a ``hark serve`` token; against servers that accept the key, reject
it (HTTP 401) and echo it back in an error message. Then everything they wrote is
scanned for any 8 characters in a row of a secret: stdout and stderr of every command,
the log files, the history, the settings and state files, the self-check's report.

The leaks these guard against were real: qasync's debug log printed the future that
carried the key (``Setting Future result: ('<key>', 'keyring')``), websockets logged
the handshake's Authorization header and cut frames in two (``'<key head>...``), and a
server's error quoting the key reached stderr and the JSON lines unmasked (also cut,
``<key head>…``, where it is longer than an error message may be).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.adapters.ipc import send_command
from app.core.jsonwire import MESSAGE_CHARS
from tests.audio import virtual_microphone
from tests.emulators import Faults, FireworksEmulator, Script, Utterance
from tests.helpers import ROOT, TIMEOUT_FACTOR, Completed, hark_env, need_tool, speech_wav

CANARY = "hk-canary-7f3b29c1d4e85a60"  # the key in the keyring
WRONG = "hk-wrongkey-c80e4d19a2b7"  # a key the server refuses, from the environment
TOKEN = "hk-servetoken-5d2a97e0c13f"  # hark serve's HARK_SERVE_TOKEN
SECRETS = (CANARY, WRONG, TOKEN)
PIECE = 8  # any 8 characters of a secret in a row count as a leak

FINAL = "Hello from the canary test."
SERVERS = ("accepting", "rejecting", "echoing")


def leaks(text: str) -> list[str]:
    """Each line of ``text`` with a piece of a secret in it."""
    pieces = {s[i : i + PIECE] for s in SECRETS for i in range(len(s) - PIECE + 1)}
    return [line for line in text.splitlines() if any(p in line for p in pieces)]


def scan(root: Path) -> dict[str, list[str]]:
    """Every file under ``root`` (outputs, logs, history, settings) with a leak in it."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            lines = leaks(path.read_bytes().decode("utf-8", errors="replace"))
            if lines:
                found[str(path.relative_to(root))] = lines[:5]
    return found


class Recorder:
    """Runs `hark` commands in one environment, keeping each one's stdout and stderr."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.out = tmp / "outputs"
        self.out.mkdir(exist_ok=True)
        self.env = env
        self.runs = 0

    def keep(self, name: str, out: bytes, err: bytes) -> Completed:
        self.runs += 1
        words = [w for w in name.split() if "/" not in w]  # no paths or URLs
        stem = f"{self.runs:02d}-{re.sub(r'[^a-z0-9]+', '-', ' '.join(words)).strip('-')}"
        (self.out / f"{stem}.stdout").write_bytes(out)
        (self.out / f"{stem}.stderr").write_bytes(err)
        return Completed(-1, out.decode(errors="replace"), err.decode(errors="replace"))

    async def hark(
        self, *args: str, stdin: str | None = None, limit_s: float = 60, **env: str
    ) -> Completed:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app", *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env={**self.env, **env}, cwd=ROOT,
        )  # fmt: skip
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(stdin.encode() if stdin is not None else None),
                limit_s * TIMEOUT_FACTOR,
            )
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        done = self.keep(" ".join(args), out, err)
        assert proc.returncode is not None
        done.code = proc.returncode
        return done


@contextlib.asynccontextmanager
async def secret_service(tmp: Path, **extra: str) -> AsyncIterator[dict[str, str]]:
    """A private D-Bus session with an unlocked gnome-keyring; yields the env to use it."""
    need_tool("gnome-keyring-daemon")
    dbus_run_session = need_tool("dbus-run-session")
    home, run = tmp / "home", tmp / "run"
    for d in (home, run):
        d.mkdir(mode=0o700, exist_ok=True)
    env = hark_env(
        tmp,
        HOME=str(home),
        XDG_RUNTIME_DIR=str(run),
        PYTHON_KEYRING_BACKEND="keyring.backends.SecretService.Keyring",
        **extra,
    )
    script = (
        'eval "$(printf testpass | gnome-keyring-daemon --unlock --components=secrets)" '
        '>/dev/null; echo "bus=$DBUS_SESSION_BUS_ADDRESS"; cat >/dev/null'
    )
    proc = await asyncio.create_subprocess_exec(
        dbus_run_session, "--", "bash", "-c", script, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 20 * TIMEOUT_FACTOR)
        assert line.startswith(b"bus="), line
        env["DBUS_SESSION_BUS_ADDRESS"] = line.decode().strip().removeprefix("bus=")
        yield env
    finally:
        proc.stdin.close()  # the session ends, and the keyring daemon with it
        try:
            await asyncio.wait_for(proc.wait(), 10 * TIMEOUT_FACTOR)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def fireworks(server: str) -> FireworksEmulator:
    """A Fireworks emulator that accepts the canary, rejects it, or quotes it in an error."""
    script = Script([Utterance(FINAL, partials=[(0.3, "Hello")], final_at=0.9)])
    if server == "rejecting":
        return FireworksEmulator(script, api_key="hk-another-key-entirely")
    faults = Faults()
    if server == "echoing":  # as a real server may: "Invalid API key 'sk-...'"
        message = f"Invalid API key {CANARY!r} ({CANARY}); once more where Hark cuts it: "
        message = message.ljust(MESSAGE_CHARS - 10, "x") + CANARY  # "hk-canary-…"
        faults = Faults(error_at_s=0.2, error_message=message)
    return FireworksEmulator(script, api_key=CANARY, faults=faults)


def write_settings(tmp: Path, endpoint: str) -> None:
    config = tmp / "config" / "hark"
    config.mkdir(parents=True, exist_ok=True)
    settings = {"version": 1, "provider": "fireworks", "fireworks": {"endpoint": endpoint}}
    (config / "settings.json").write_text(json.dumps(settings))


def assert_nothing_leaked(tmp: Path) -> None:
    found = scan(tmp)
    assert not found, "secrets written:\n" + json.dumps(found, indent=1)


@pytest.mark.parametrize("server", SERVERS)
async def test_commands_never_show_a_key(server: str, tmp_path: Path) -> None:
    """keys, transcribe (text and JSON lines), the self-check and models, all at -vv."""
    wav = speech_wav(tmp_path / "speech.wav", FINAL)
    async with secret_service(tmp_path) as env:
        hark = Recorder(tmp_path, env).hark
        stored = await hark("keys", "set", "fireworks", "-vv", stdin=CANARY + "\n")
        assert stored.code == 0, stored.err
        status = await hark("-vv", "keys", "status")
        assert "fireworks: set in the keyring" in status.out
        for output in ("text", "jsonl"):
            async with fireworks(server) as emu:  # an echo fires once per emulator
                write_settings(tmp_path, emu.url)
                done = await hark(
                    "transcribe", str(wav), "--provider", "fireworks", "--endpoint", emu.url,
                    "--fast", "--format", output, "-vv",
                )  # fmt: skip
            assert (done.code == 0) == (server == "accepting"), done.err
            assert "hark: debug: > Authorization: ***" in done.err  # it was logged
            if server == "echoing":
                assert "Invalid API key '***' (***)" in done.err
        report = await hark("--self-check", "-vv", "--output", str(tmp_path / "report.json"))
        assert json.loads(report.out)["setup"]["api_key"] == "keyring"
        assert "hark: INFO:" in report.err  # it logged
        listed = await hark("models", "list", "-vv")
        assert listed.code == 0, listed.err
        deleted = await hark("keys", "delete", "fireworks", "-vv")
        assert deleted.code == 0, deleted.err
    assert_nothing_leaked(tmp_path)


async def test_serve_never_shows_its_token(tiny_model: Path, tmp_path: Path) -> None:
    """`hark serve -vv` with a token; clients with the token and with a wrong one."""
    wav = speech_wav(tmp_path / "speech.wav", FINAL)
    env = hark_env(tmp_path, HARK_SERVE_TOKEN=TOKEN)
    recorder = Recorder(tmp_path, env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "serve", "-vv", "--port", "0", "--model", str(tiny_model),
        "--cpu-threads", "1", "--max-sessions", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), 60 * TIMEOUT_FACTOR)
        match = re.search(rb"ws://\S+", first)
        assert match is not None, first
        url = match.group().decode()
        for key, accepted in ((TOKEN, True), (WRONG, False)):
            done = await recorder.hark(
                "transcribe", str(wav), "--provider", "baseten", "--endpoint", url, "--fast",
                "-vv", BASETEN_API_KEY=key,
            )  # fmt: skip
            assert (done.code == 0) == accepted, done.err
        proc.send_signal(signal.SIGINT)
        rest, err = await asyncio.wait_for(proc.communicate(), 30 * TIMEOUT_FACTOR)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    served = recorder.keep("serve", first + rest, err)
    assert proc.returncode == 0, served.err
    assert "hark: debug: < Authorization: Api-Key ***" in served.err  # it was logged
    assert "rejected a client without the right token" in served.err
    assert_nothing_leaked(tmp_path)


async def _wait_for_line(
    stream: asyncio.StreamReader, needle: str, seen: list[str], limit_s: float = 30
) -> None:
    async def scan_lines() -> None:
        while line := await stream.readline():
            seen.append(line.decode(errors="replace"))
            if needle in seen[-1]:
                return
        raise AssertionError(f"the app exited before {needle!r}:\n" + "".join(seen[-30:]))

    try:
        await asyncio.wait_for(scan_lines(), limit_s * TIMEOUT_FACTOR)
    except TimeoutError:
        raise AssertionError(f"no {needle!r}; the app wrote:\n" + "".join(seen[-30:])) from None


@pytest.mark.parametrize("server", SERVERS)
async def test_the_app_never_shows_a_key(server: str, tmp_path: Path) -> None:
    """`hark -vv` dictates with the key from the keyring, driven by `hark ptt|toggle -vv`."""
    wav = speech_wav(tmp_path / "speech.wav", FINAL)
    with virtual_microphone(tmp_path) as mic:
        pulse = {k: v for k, v in mic.pulse_vars.items() if k != "XDG_RUNTIME_DIR"}
        async with secret_service(tmp_path, QT_QPA_PLATFORM="offscreen", **pulse) as env:
            recorder = Recorder(tmp_path, env)
            stored = await recorder.hark("keys", "set", "fireworks", stdin=CANARY + "\n")
            assert stored.code == 0, stored.err
            async with fireworks(server) as emu:
                write_settings(tmp_path, emu.url)
                app = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "app", "-vv",
                    env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                assert app.stderr is not None
                assert app.stdout is not None
                seen: list[str] = []
                try:
                    await _dictate(server, recorder, emu, mic, wav, app.stderr, seen)
                    address = str(tmp_path / "run" / "hark" / "ipc.sock")
                    assert await asyncio.to_thread(send_command, "quit", address=address) == "ok"
                    rest, out = await asyncio.wait_for(
                        asyncio.gather(app.stderr.read(), app.stdout.read()), 30 * TIMEOUT_FACTOR
                    )
                    code = await asyncio.wait_for(app.wait(), 10 * TIMEOUT_FACTOR)
                finally:
                    if app.returncode is None:
                        app.kill()
                        await app.wait()
    err = recorder.keep("app", out, "".join(seen).encode() + rest).err
    assert code == 0, err
    assert "hark: DEBUG: websockets.client:" in err
    # What was logged with the key in it (the file has every line: stderr can miss one
    # written while sounddevice's import points it at /dev/null, on the first press).
    log = (tmp_path / "state" / "hark" / "log" / "hark.log").read_text()
    assert "Setting Future result: ('***', 'keyring')" in log  # qasync, on the key lookup
    assert "websockets.client: > Authorization: ***" in log
    assert_nothing_leaked(tmp_path)


async def _dictate(
    server: str,
    recorder: Recorder,
    emu: Any,
    mic: Any,
    wav: Path,
    stderr: asyncio.StreamReader,
    seen: list[str],
) -> None:
    await _wait_for_line(stderr, "tray shown", seen)
    if server == "rejecting":
        assert (await recorder.hark("toggle", "-vv")).code == 0
        # The app's report, once the dictation has ended: a quit sooner than that, a few
        # ms after the rejection, leaves the app spinning instead of exiting (a bug of
        # its own, not of secrets).
        await _wait_for_line(stderr, "app.ui.controller: Hark: Fireworks rejected", seen)
        return
    assert (await recorder.hark("ptt", "press", "-vv")).code == 0
    await emu.wait_until(lambda: bool(emu.connections), 20 * TIMEOUT_FACTOR)
    player = mic.play(wav)
    try:
        await emu.wait_until(lambda: emu.total_samples > 16000 * 1.5, 20 * TIMEOUT_FACTOR)
    finally:
        player.kill()
    assert (await recorder.hark("ptt", "release", "-vv")).code == 0
    await _wait_for_line(stderr, "dictation 1: ", seen)  # its outcome: the history has it
