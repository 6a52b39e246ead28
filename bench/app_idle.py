"""Desktop app benchmarks: start to tray, idle memory, idle CPU.

    .venv/bin/python -m bench.app_idle [--idle-s 20]

Starts ``python -m app`` (offscreen Qt, throwaway config, a settings file so the
first-run dialog stays closed) and reads /proc (Linux only). Prints numbers; the
budgets are start to tray <= 1 s, idle memory <= 150 MB, idle CPU <= 0.5 % of a core.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.adapters.ipc import send_command


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-s", type=float, default=20.0)
    parser.add_argument(
        "--provider", default="local", help="the provider in the settings file (default: local)"
    )
    parser.add_argument(
        "--settle-s",
        type=float,
        default=6.0,
        help="wait this long after the tray shows before measuring (start-up work: with the "
        "local provider and no model, a download attempt and its messages)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_STATE_HOME": str(root / "state"),
            "XDG_RUNTIME_DIR": str(root / "run"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
        (root / "run").mkdir(mode=0o700)
        (root / "config" / "hark").mkdir(parents=True)
        (root / "config" / "hark" / "settings.json").write_text(
            json.dumps({"version": 1, "provider": args.provider})
        )
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "-v"], env=env, stderr=subprocess.PIPE, text=True
        )
        assert proc.stderr is not None
        for line in proc.stderr:
            if "tray shown" in line:
                break
        to_tray = time.perf_counter() - start
        try:
            time.sleep(args.settle_s)  # let start-up work settle before measuring idle
            cpu0, t0 = _cpu_seconds(proc.pid), time.perf_counter()
            time.sleep(args.idle_s)
            cpu1, t1 = _cpu_seconds(proc.pid), time.perf_counter()
            rss = _rss_mb(proc.pid)
        finally:
            send_command("quit", address=str(root / "run" / "hark" / "ipc.sock"))
            proc.wait(10)
    print(f"start to tray: {to_tray * 1000:.0f} ms (budget 1000 ms; includes Python start-up)")
    print(f"idle memory (RSS): {rss:.0f} MB (budget 150 MB)")
    print(f"idle CPU: {100 * (cpu1 - cpu0) / (t1 - t0):.2f} % of a core over {t1 - t0:.0f} s "
          "(budget 0.5 %)")  # fmt: skip


if __name__ == "__main__":
    main()
