"""Hark's desktop app next to a minimal script client, on the same speech, in one run.

    .venv/bin/python -m bench.desktop_cpu [--rounds 2] [--seconds 30]

One rig for both: Xvfb + openbox, a PulseAudio virtual microphone, a Baseten emulator
on loopback whose script sends a partial every half second of audio, and a Qt text
field as the target. Each round runs, one after the other:

- the minimal client (bench/minimal_client.py: sounddevice + websockets + numpy, no UI)
  streaming the speech;
- Hark dictating it: the hotkey held with xdotool (XTEST) while the speech plays, the
  overlay showing the partials and the level meter, the text pasted into the target;
- Hark captioning it (live captions started over the app's local socket).

CPU is read from /proc over the window the speech plays (user + system time of the
process and its threads) and given per minute of audio; the ratio is Hark's over the
minimal client's. Linux only. Budget: a ratio <= 1.0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.adapters.ipc import send_command
from tests.emulators import Script, Utterance
from tests.helpers import ROOT, speech_wav
from tests.x11.ptt_rig import KEY, PttRig, ptt_rig

PASSAGE = (
    "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs. "
    "How vexingly quick daft zebras jump. The five boxing wizards jump quickly. "
    "Sphinx of black quartz, judge my vow. Jackdaws love my big sphinx of quartz. "
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of ``pid`` by thread id ("main" for the main thread)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended
            continue
        name = "main" if task.name == str(pid) else task.name
        out[name] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def thread_delta(before: dict[str, float], after: dict[str, float]) -> str:
    """The threads that used CPU between two :func:`thread_cpu` readings, busiest first."""
    used = {k: v - before.get(k, 0.0) for k, v in after.items()}
    busy = sorted(((v, k) for k, v in used.items() if v > 0), reverse=True)
    return ", ".join(f"{k} {v:.2f}" for v, k in busy)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def speech(root: Path, seconds: float) -> tuple[Path, float]:
    """A WAV of at least ``seconds`` of speech (the passage repeated) and its length."""
    text = PASSAGE * max(1, round(seconds / 12))
    wav = speech_wav(root / "passage.wav", text)
    out = subprocess.run(["soxi", "-D", str(wav)], capture_output=True, text=True, check=True)
    return wav, float(out.stdout)


def script(text: str, audio_s: float) -> Script:
    """A partial every 0.5 s of audio, growing word by word; the final on the flush."""
    words = text.split()
    steps = max(1, int(audio_s / 0.5))
    partials = [
        (0.5 * (k + 1), " ".join(words[: max(1, len(words) * (k + 1) // steps)]))
        for k in range(steps - 1)
    ]
    return Script([Utterance(text, partials=partials, final_at=None, start=0.0)])


@dataclass
class Figures:
    cpu_per_min: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.cpu_per_min)


async def minimal_client(rig: PttRig, wav: Path, audio_s: float) -> tuple[float, float]:
    env = {**rig.env, "BASETEN_API_KEY": KEY}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.minimal_client", rig.emu.url,
        env=env, cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdin is not None
    assert (await proc.stdout.readline()).strip() == b"streaming"
    before, threads = cpu_seconds(proc.pid), thread_cpu(proc.pid)
    player = rig.mic.play(wav)
    await asyncio.to_thread(player.wait, 120)
    used = cpu_seconds(proc.pid) - before
    print("minimal client, CPU-s by thread:", thread_delta(threads, thread_cpu(proc.pid)))
    rss = rss_mb(proc.pid)
    proc.stdin.close()
    out = await asyncio.wait_for(proc.stdout.read(), 30)
    await proc.wait()
    assert b"[final]" in out, out
    return used / audio_s * 60, rss


def profiler(pid: int, out: str | None, name: str) -> subprocess.Popen[bytes] | None:
    """py-spy sampling ``pid`` into ``out``-``name``.txt (collapsed stacks), if asked."""
    if out is None:
        return None
    command = ["py-spy", "record", "--pid", str(pid), "--rate", "100", "--threads",
               "--format", "raw", "--output", f"{out}-{name}.txt"]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None:
        spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
        spy.wait(30)


async def played(rig: PttRig, wav: Path, audio_s: float, name: str, profile: str | None) -> float:
    """Play ``wav`` into the microphone; Hark's CPU-seconds over it, per audio minute."""
    assert rig.app is not None
    before, threads = cpu_seconds(rig.app.pid), thread_cpu(rig.app.pid)
    spy = profiler(rig.app.pid, profile, name)
    player = rig.mic.play(wav)
    await asyncio.to_thread(player.wait, 120)
    used = cpu_seconds(rig.app.pid) - before
    print(f"{name}, CPU-s by thread:", thread_delta(threads, thread_cpu(rig.app.pid)))
    stop_profiler(spy)
    return used / audio_s * 60


async def hark_dictation(
    rig: PttRig, wav: Path, audio_s: float, text: str, profile: str | None = None
) -> float:
    assert rig.app is not None
    rig.clear_target()
    await rig.press()
    cpu = await played(rig, wav, audio_s, "dictation", profile)
    await rig.release()
    deadline = time.monotonic() + 60
    while rig.typed().strip() != text.strip():  # a leading space: Hark joins to its last text
        assert time.monotonic() < deadline, f"target holds {rig.typed()!r}"
        await asyncio.sleep(0.01)
    return cpu


async def hark_captions(
    rig: PttRig, wav: Path, audio_s: float, profile: str | None = None
) -> float:
    assert rig.app is not None
    address = str(Path(rig.env["XDG_RUNTIME_DIR"]) / "hark" / "ipc.sock")
    mark = len(rig.log)
    await asyncio.to_thread(send_command, "captions", address=address)
    await rig.wait_log("microphone", since=mark)
    cpu = await played(rig, wav, audio_s, "captions", profile)
    mark = len(rig.log)
    await asyncio.to_thread(send_command, "captions stop", address=address)
    await rig.wait_log("live captions: idle", since=mark)
    return cpu


async def run(rounds: int, seconds: float, profile: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wav, audio_s = speech(root, seconds)
        text = " ".join(PASSAGE.split() * max(1, round(seconds / 12)))
        minimal, dictation, captions = Figures(), Figures(), Figures()
        rigged = ptt_rig(root, script(text, audio_s), insertion="paste", provider="baseten")
        async with rigged as rig:
            assert rig.app is not None
            for _ in range(rounds):
                cpu, rss = await minimal_client(rig, wav, audio_s)
                minimal.cpu_per_min.append(cpu)
                minimal.rss_mb.append(rss)
                dictation.cpu_per_min.append(await hark_dictation(rig, wav, audio_s, text, profile))
                dictation.rss_mb.append(rss_mb(rig.app.pid))
                captions.cpu_per_min.append(await hark_captions(rig, wav, audio_s, profile))
                captions.rss_mb.append(rss_mb(rig.app.pid))
            await asyncio.sleep(6)  # past the overlay's fade
            idle_before = cpu_seconds(rig.app.pid)
            idle_start = time.monotonic()
            await asyncio.sleep(10)
            idle = (cpu_seconds(rig.app.pid) - idle_before) / (time.monotonic() - idle_start)
    base = minimal.median()
    print(f"speech: {audio_s:.1f} s, {rounds} round(s); CPU-seconds per minute of audio")
    print(f"{'':28}{'median':>8}{'runs':>24}{'ratio':>8}{'RSS MB':>9}")
    for name, fig in (("minimal script client", minimal), ("Hark dictation (overlay)", dictation),
                      ("Hark live captions", captions)):  # fmt: skip
        runs = " ".join(f"{v:.2f}" for v in fig.cpu_per_min)
        print(f"{name:28}{fig.median():8.2f}{runs:>24}{fig.median() / base:8.2f}"
              f"{max(fig.rss_mb):9.0f}")  # fmt: skip
    print(f"Hark idle CPU after the rounds: {idle * 100:.2f} % of a core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the speech")
    parser.add_argument(
        "--profile",
        metavar="PREFIX",
        help="sample Hark with py-spy while the speech plays (needs py-spy on PATH); writes "
        "PREFIX-dictation.txt and PREFIX-captions.txt, collapsed stacks of the last round",
    )
    args = parser.parse_args()
    asyncio.run(run(args.rounds, args.seconds, args.profile))


if __name__ == "__main__":
    main()
