"""`hark toggle` / `hark ptt` without a running app: one clear line, exit 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import hark_env, run_hark


@pytest.mark.parametrize("args", [["toggle"], ["ptt", "press"], ["ptt", "release"]])
async def test_not_running(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "run").mkdir(mode=0o700)
    done = await run_hark(*args, env=hark_env(tmp_path, XDG_RUNTIME_DIR=str(tmp_path / "run")))
    assert done.code == 1
    assert done.err == "hark: error: Hark is not running. Start it first (run `hark`).\n"
