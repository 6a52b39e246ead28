"""How long the key-bound and trivial commands take, next to a bare Python start.

    .venv/bin/python -m bench.cli_start [--runs 20]

``hark ptt release`` and ``hark toggle`` are what desktops without global hotkeys bind
to a key; ``--version`` and ``--help`` should be as quick. Each command runs ``--runs``
times, interleaved with ``python -c pass`` (same interpreter, same machine, same
moment), against no running app (the answer is "not running", after the same
imports and socket attempt a real press makes). Prints the median and p90 wall time
of each and its ratio to the bare start. Target (issue 11): ptt within 2x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "hark ptt release": [sys.executable, "-m", "app", "ptt", "release"],
    "hark toggle": [sys.executable, "-m", "app", "toggle"],
    "hark --version": [sys.executable, "-m", "app", "--version"],
    "hark --help": [sys.executable, "-m", "app", "--help"],
}


def _time(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        run_dir.mkdir(mode=0o700)
        env = {**os.environ, "XDG_RUNTIME_DIR": str(run_dir)}  # no app listens here
        times: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for cmd in COMMANDS.values():
            _time(cmd, env)  # warm the page cache and .pyc files
        for _ in range(args.runs):
            for name, cmd in COMMANDS.items():
                times[name].append(_time(cmd, env))
    base = statistics.median(times["python -c pass"])
    print(f"{'command':<20} {'median ms':>10} {'p90 ms':>8} {'x bare':>7}")
    for name, values in times.items():
        values.sort()
        median = statistics.median(values)
        p90 = values[int(0.9 * (len(values) - 1))]
        print(f"{name:<20} {median * 1000:>10.1f} {p90 * 1000:>8.1f} {median / base:>7.2f}")


if __name__ == "__main__":
    main()
