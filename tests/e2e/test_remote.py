"""`hark toggle` / `hark ptt` without a running app: one clear line, exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, hark_env, run_hark


@pytest.mark.parametrize("args", [["toggle"], ["ptt", "press"], ["ptt", "release"]])
async def test_not_running(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "run").mkdir(mode=0o700)
    done = await run_hark(*args, env=hark_env(tmp_path, XDG_RUNTIME_DIR=str(tmp_path / "run")))
    assert done.code == 1
    assert done.err == "hark: error: Hark is not running. Start it first (run `hark`).\n"


def test_the_key_bound_commands_import_nothing_heavy(tmp_path: Path) -> None:
    """Bound to a key, `hark ptt` must answer at once: no numpy, asyncio or engine."""
    (tmp_path / "run").mkdir(mode=0o700)
    probe = (
        "import sys; sys.argv = ['hark', 'ptt', 'release']\n"
        "from app.__main__ import main\n"
        "code = main()\n"
        "heavy = [m for m in ('numpy', 'asyncio', 'keyring', 'websockets', 'app.engine')"
        " if m in sys.modules]\n"
        "print(code, heavy)\n"
    )
    env = hark_env(tmp_path, XDG_RUNTIME_DIR=str(tmp_path / "run"))
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.stdout == "1 []\n", done.stderr
