"""The cyclic collector runs on the Qt thread only, from a timer."""

from __future__ import annotations

import gc
import threading
import weakref

from pytestqt.qtbot import QtBot

from app.ui.garbage import QtThreadCollector


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_cycles_are_freed_by_the_timer_on_the_qt_thread(qtbot: QtBot) -> None:
    collector = QtThreadCollector(interval_ms=20)
    try:
        assert not gc.isenabled()
        freed_on: list[str] = []
        cycle = _Node()
        weakref.finalize(cycle, lambda: freed_on.append(threading.current_thread().name))
        del cycle

        kept: list[list[int]] = []

        def churn() -> None:  # a busy audio thread: enough new objects for a collection
            kept.extend([] for _ in range(5_000))

        worker = threading.Thread(target=churn, name="not-the-qt-thread")
        worker.start()
        worker.join()
        assert freed_on == []  # the worker's allocations did not collect
        qtbot.waitUntil(lambda: freed_on != [], timeout=5000)
        assert freed_on == [threading.current_thread().name]
        assert collector.collections >= 1
    finally:
        collector.stop()
    assert gc.isenabled()
