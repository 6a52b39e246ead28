"""The UI keeps turning while the local engine transcribes.

A real qasync loop on the test's QApplication (as the app runs), the real local
engine on a tiny random-weight model (random weights make every decode slow, with
the full temperature fallback), and a QTimer ticking every 10 ms: while the engine
transcribes on its worker thread, the Qt event loop must keep delivering the ticks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.adapters.whisper import whisper_factories
from app.core.events import Event, Final
from app.core.options import LocalOptions
from app.engine.local_connector import LocalConnector
from app.engine.local_engine import LocalEngine
from app.engine.session import StreamingSession
from tests.helpers import TIMEOUT_FACTOR, ArraySource
from tests.synthetic_speech import silence, speechlike


@pytest.fixture
def loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    event_loop = qasync.QEventLoop(qapp, already_running=False)
    yield event_loop
    event_loop.close()


def test_qt_keeps_turning_during_inference(
    qapp: QApplication, loop: qasync.QEventLoop, tiny_random_model: Path
) -> None:
    options = LocalOptions(model=str(tiny_random_model), partial_interval_s=0.5)
    transcribing: list[bool] = []
    gaps: list[float] = []
    finals: list[Event] = []

    def engine(opts: LocalOptions) -> LocalEngine:
        transcriber_factory, vad_factory = whisper_factories(opts, cpu_threads=1)

        def watched():  # type: ignore[no-untyped-def]
            inner = transcriber_factory()
            plain = inner.transcribe

            def transcribe(*args, **kwargs):  # type: ignore[no-untyped-def]
                transcribing.append(True)
                try:
                    return plain(*args, **kwargs)
                finally:
                    transcribing.append(False)

            inner.transcribe = transcribe  # type: ignore[method-assign]
            return inner

        return LocalEngine(watched, vad_factory, max_sessions=2)

    connector = LocalConnector(engine)
    last = [time.perf_counter()]
    busy_ticks = [0]

    def tick() -> None:
        now = time.perf_counter()
        if transcribing and transcribing[-1]:  # a transcription is running right now
            gaps.append(now - last[0])
            busy_ticks[0] += 1
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    signal = np.concatenate([speechlike(2.0), silence(1.0), speechlike(1.5)])

    async def scenario() -> None:
        timer.start()
        session = StreamingSession(options, "", connector, flush_timeout=60, on_event=finals.append)
        await session.run(ArraySource(signal))
        timer.stop()
        await connector.aclose()

    loop.run_until_complete(asyncio.wait_for(scenario(), 120 * TIMEOUT_FACTOR))
    assert any(isinstance(e, Final) for e in finals)
    assert transcribing.count(True) >= 2  # the engine really ran (partials and finals)
    assert busy_ticks[0] >= 3, "no timer tick arrived while a transcription ran"
    assert max(gaps) < 0.25  # no stall a person would notice
