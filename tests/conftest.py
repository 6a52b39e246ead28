"""Suite-wide set-up: Qt runs offscreen unless a test starts a real X server itself."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The tiny Whisper model fixtures, registered once for every module: a per-module
# pytest_plugins next to direct imports of the same module broke collection depending
# on which test file pytest reached first.
pytest_plugins = ["tests.local_model"]


@pytest.fixture(autouse=True)
def collect_qt_garbage_on_the_qt_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used Qt, free its windows and controllers here, on the Qt thread.

    Left to Python's cyclic collector, they die whenever it happens to run, often on a
    helper thread of a later test (an emulator, a download, a pipe reader, a thread of
    a unit test): Qt objects destroyed there leave their timers registered on the Qt
    thread, and the next timer event for one of them crashes the whole run.

    A clipboard entry the test's ``QtClipboard`` made is first swapped for one Qt made
    itself, as the app does when it quits: collecting its Python owner would otherwise
    free the entry while the clipboard still holds it.
    """
    yield
    if {"qapp", "qtbot", "loop"} & set(request.fixturenames):
        from app.ui.clipboard import release_clipboard

        release_clipboard()
        gc.collect()
