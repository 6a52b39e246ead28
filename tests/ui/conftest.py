"""Fixtures of the UI tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from app.adapters.models import MODEL_REPOS
from tests.model_server import ModelHub, add_repo, fake_model_files, serve_hub


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A qasync loop on the test's QApplication, as the app runs (closing the last
    window does not quit it)."""
    quits = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)
    event_loop = qasync.QEventLoop(qapp, already_running=False)
    yield event_loop
    event_loop.close()
    qapp.setQuitOnLastWindowClosed(quits)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[ModelHub]:
    """A model server with a 1.5 MB "tiny" model, sent in 16 kB chunks."""
    served = ModelHub(files={}, chunk=16 * 1024)
    add_repo(served, MODEL_REPOS["tiny"], fake_model_files(tmp_path / "source"))
    with serve_hub(served):
        yield served
