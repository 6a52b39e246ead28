"""Key release to text inserted, on a real X server, against the provider emulator.

    .venv/bin/python -m bench.ptt_latency [--runs 20] [--method paste|type]

Runs the same rig as tests/x11/test_dictation_x11.py: Hark as a subprocess, the
hotkey held with xdotool while espeak speech plays into a PulseAudio virtual
microphone, a Qt text field as the target. The emulator answers the flush at once, so
the time measured is Hark's own (plus xdotool's and the target's file mirroring).
Budget: <= 30 ms beyond the provider's own time (p95).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

import numpy as np

from tests.emulators import Script, Utterance
from tests.helpers import speech_wav
from tests.x11.ptt_rig import ptt_rig

TEXT = "Hello world."


async def measure(runs: int, method: str) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        wav = speech_wav(root / "hello.wav", "Hello world.")
        script = Script([Utterance(TEXT, final_at=None, start=0.0)])
        times = []
        async with ptt_rig(root, script, insertion=method) as rig:
            expected = ""
            for _ in range(runs):
                _, released = await rig.dictate(wav)
                expected = f"{expected} {TEXT}" if expected else TEXT
                seen = await rig.wait_typed(expected)
                times.append((seen - released) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--method", choices=("paste", "type"), default="paste")
    args = parser.parse_args()
    times = asyncio.run(measure(args.runs, args.method))
    print(
        f"key release -> text in the target ({args.method}, n={len(times)}): "
        f"median {statistics.median(times):.1f} ms, p95 {np.percentile(times, 95):.1f} ms, "
        f"min {min(times):.1f} ms, max {max(times):.1f} ms"
    )


if __name__ == "__main__":
    main()
