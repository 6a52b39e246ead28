"""Memory and CPU of the desktop app over many dictations: does it grow?

    .venv/bin/python -m bench.dictation_cycles [--cycles 100]

The X11 rig of tests/x11 (Xvfb + openbox, a PulseAudio virtual microphone, a Baseten
emulator, a Qt text field as the target): Hark starts with a cloud provider, its idle
RSS is read, then the hotkey is held with xdotool over a short spoken sentence, the
text is waited for in the target, and RSS and CPU are read after every cycle. Prints
the idle figure, a row every tenth of the run and the growth per cycle over the second
half (a leak shows as a steady slope; start-up work and caches settle in the first
half). Linux only. Budgets: idle RSS <= 100 MB, no growth.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench.desktop_cpu import cpu_seconds, rss_mb
from tests.emulators import Script, Utterance
from tests.helpers import speech_wav
from tests.x11.ptt_rig import ptt_rig

TEXT = "Hello world."


async def run(cycles: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wav = speech_wav(root / "hello.wav", TEXT)
        script = Script([Utterance(TEXT, partials=[(0.3, "Hello")], final_at=None, start=0.0)])
        async with ptt_rig(root, script, insertion="paste", provider="baseten") as rig:
            assert rig.app is not None
            pid = rig.app.pid
            await asyncio.sleep(3)  # start-up work (history, settings) settles
            idle = rss_mb(pid)
            print(f"idle after start: RSS {idle:.1f} MB")
            print(f"{'cycle':>6}{'RSS MB':>9}{'CPU-s/cycle':>13}{'s/cycle':>9}")
            rss: list[float] = []
            cpu_before, t_before = cpu_seconds(pid), time.monotonic()
            expected = ""
            for n in range(1, cycles + 1):
                await rig.dictate(wav)
                expected = f"{expected} {TEXT}" if expected else TEXT
                deadline = time.monotonic() + 20
                while rig.typed().strip() != expected:  # Hark may join with a space
                    assert time.monotonic() < deadline, f"target holds {rig.typed()!r}"
                    await asyncio.sleep(0.005)
                rss.append(rss_mb(pid))
                if n % max(1, cycles // 10) == 0 or n == 1:
                    cpu_now, t_now = cpu_seconds(pid), time.monotonic()
                    done = n if n == 1 else max(1, cycles // 10)
                    print(f"{n:6}{rss[-1]:9.1f}{(cpu_now - cpu_before) / done:13.3f}"
                          f"{(t_now - t_before) / done:9.2f}")  # fmt: skip
                    cpu_before, t_before = cpu_now, t_now
                if n % 20 == 0:  # keep the target's text short
                    rig.clear_target()
                    expected = ""
                    rig.focus_target()
            await asyncio.sleep(5)
            settled = rss_mb(pid)
    half = rss[len(rss) // 2 :]
    slope = statistics.linear_regression(range(len(half)), half).slope if len(half) > 2 else 0.0
    print(f"RSS: idle {idle:.1f} MB, after the first dictation {rss[0]:.1f} MB, "
          f"after {cycles} {rss[-1]:.1f} MB, 5 s later {settled:.1f} MB")  # fmt: skip
    print(f"growth over the second half: {slope * 1024:.1f} kB per cycle")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(run(args.cycles))


if __name__ == "__main__":
    main()
