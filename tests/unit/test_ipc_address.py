"""Where the running app listens: the same place for the app and for `hark ptt`."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

import platformdirs
import pytest

from app.adapters.ipc import ipc_address

pytestmark = pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG platforms")


def test_in_the_session_runtime_dir_where_platformdirs_puts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    address = ipc_address()
    assert address == str(tmp_path / "hark" / "ipc.sock")
    assert Path(address).parent == Path(platformdirs.user_runtime_dir("hark", appauthor=False))
    assert stat.S_IMODE((tmp_path / "hark").stat().st_mode) == 0o700


def test_without_a_runtime_dir_a_private_folder_in_the_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert ipc_address() == str(tmp_path / f"hark-{os.getuid()}" / "ipc.sock")
