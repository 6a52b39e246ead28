"""What the desktop app loads on its way to the tray, with a cloud provider set.

The audio maths (numpy, soxr), the sound library, the keyring and the local engine load
when they are first used, not at start: they are most of the app's idle memory and a
good part of its start-up time (bench/app_idle.py measures both).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT, TIMEOUT_FACTOR, hark_env

HEAVY = ("numpy", "soxr", "sounddevice", "keyring", "faster_whisper", "ctranslate2",
         "app.engine.local_engine", "app.adapters.whisper")  # fmt: skip

PROBE = f"""
import sys
from app.ui import controller

started = controller.AppController.start

def start(self, **kwargs):
    started(self, **kwargs)
    heavy = [m for m in {HEAVY!r} if m in sys.modules]
    print("heavy:", heavy, file=sys.stderr, flush=True)
    self.quit_requested.emit()

controller.AppController.start = start
sys.argv = ["hark"]
from app.__main__ import main
sys.exit(main())
"""


def test_the_tray_shows_before_the_heavy_parts_load(tmp_path: Path) -> None:
    config = tmp_path / "config" / "hark"
    config.mkdir(parents=True)
    (config / "settings.json").write_text(json.dumps({"version": 1, "provider": "baseten"}))
    (tmp_path / "run").mkdir(mode=0o700)
    env = hark_env(tmp_path, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(tmp_path / "run"))
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=60 * TIMEOUT_FACTOR,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("heavy:")]
    assert lines == ["heavy: []"], done.stderr
