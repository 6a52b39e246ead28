"""The local engine lets its model go after an idle time and loads it again losing no audio.

Real parts throughout: ``LocalConnector`` and ``LocalEngine`` serving Hark's own
client (``StreamingSession``) over in-memory connections, faster-whisper on the tiny
scripted model of ``tests.local_model`` (``" hello world"`` whatever the audio) and
Silero VAD. The idle delays are a few hundredths of a second; nothing sleeps to let
time pass: each test waits, with a time limit, for the condition it is about.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from app.adapters.whisper import SileroVad, WhisperTranscriber
from app.core.events import Event, Final
from app.core.options import LocalOptions
from app.core.providers.base import ConnectRequest
from app.core.providers.local import local_url
from app.engine.local_connector import LocalConnector
from app.engine.local_engine import LocalEngine
from app.engine.ports import Connection
from app.engine.session import SessionResult, StreamingSession
from tests.helpers import TIMEOUT_FACTOR, ArraySource

IDLE_S = 0.05
NOT_BEFORE_S = 0.5  # how long "not unloaded" is watched: ten idle delays
SAMPLES = 16384  # 1.024 s: whole 512-sample windows, so the client pads nothing
METADATA = {"streaming_vad_config": {"threshold": 0.0}}  # everything is speech


async def eventually(predicate: Callable[[], bool], timeout_s: float = 15.0) -> None:
    """Poll ``predicate`` (state changed by timers and tasks on the loop) until it holds."""
    async with asyncio.timeout(timeout_s * TIMEOUT_FACTOR):
        while not predicate():  # noqa: ASYNC110 (a timer, not an event, changes the state)
            await asyncio.sleep(0.01)


class _Transcriber(WhisperTranscriber):
    """The real transcriber; its loading waits for ``gate``; notes each final's samples."""

    def __init__(self, rig: _Rig, model: str) -> None:
        super().__init__(model, cpu_threads=1)
        self.rig = rig
        self.load_started = threading.Event()

    def load(self) -> None:
        if self.loaded:
            return
        self.load_started.set()
        assert self.rig.gate.wait(30 * TIMEOUT_FACTOR), "the test never opened the gate"
        super().load()
        self.rig.models.append(weakref.ref(self._model))

    def transcribe(self, audio: Any, **kwargs: Any) -> Any:
        if not kwargs["partial"]:
            self.rig.final_samples.append(len(audio))
        return super().transcribe(audio, **kwargs)


class _Rig:
    """A connector whose engines make :class:`_Transcriber` s, known only by weak references."""

    def __init__(self, model: Path, unload_after_s: float) -> None:
        self.options = LocalOptions(model=str(model), partials=False, vad_threshold=0.0)
        self.gate = threading.Event()
        self.gate.set()
        self.transcribers: list[weakref.ref[_Transcriber]] = []
        self.models: list[weakref.ref[Any]] = []  # each loaded faster-whisper model
        self.final_samples: list[int] = []
        self.connector = LocalConnector(self._engine, unload_after_s=unload_after_s)

    def _engine(self, options: LocalOptions) -> LocalEngine:
        def transcriber() -> _Transcriber:
            made = _Transcriber(self, options.model)
            self.transcribers.append(weakref.ref(made))
            return made

        return LocalEngine(transcriber, SileroVad)

    @property
    def engine(self) -> LocalEngine:
        [engine] = self.connector.engines
        return engine

    async def dictate(self, source: ArraySource | None = None) -> tuple[SessionResult, list[Event]]:
        events: list[Event] = []
        session = StreamingSession(
            self.options, "", self.connector, flush_timeout=60, on_event=events.append
        )
        result = await session.run(source or ArraySource(_signal()))
        return result, events

    async def open(self) -> Connection:
        """A raw session, held open until the test closes it."""
        client = await self.connector(
            ConnectRequest(local_url(self.options), local=self.options),
            provider="local",
            open_timeout=10,
        )
        await client.send(json.dumps(METADATA))
        return client


class _Watched(ArraySource):
    """An ``ArraySource`` that says when it has handed over its last block."""

    def __init__(self, signal: npt.NDArray[np.float32]) -> None:
        super().__init__(signal)
        self.done = False

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        async for block in super().blocks():
            yield block
        self.done = True


def _signal() -> npt.NDArray[np.float32]:
    t = np.arange(SAMPLES) / 16000
    return (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _finals(events: list[Event]) -> list[str]:
    return [e.text for e in events if isinstance(e, Final)]


async def test_the_model_is_unloaded_when_idle_and_never_while_a_session_is_open(
    tiny_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.engine.local_connector")
    rig = _Rig(tiny_model, unload_after_s=IDLE_S)
    client = await rig.open()
    engine = rig.engine
    await eventually(lambda: engine.active_sessions == 1 and bool(rig.models))
    with pytest.raises(TimeoutError):  # the session stays open: the model stays
        await eventually(lambda: not engine.loaded, NOT_BEFORE_S)
    await client.close()
    await eventually(lambda: not engine.loaded)
    # The engine held the only reference: the transcriber and its model are gone now.
    assert [ref() for ref in rig.transcribers] == [None]
    assert [ref() for ref in rig.models] == [None]
    assert engine.unloads == 1
    lines = [r.getMessage() for r in caplog.records if "unloaded after" in r.getMessage()]
    assert lines == [f"local model {tiny_model} unloaded after 0.000833 min idle"]
    await rig.connector.aclose()


async def test_a_new_session_in_the_idle_time_keeps_the_model(tiny_model: Path) -> None:
    idle_s = 0.2 * TIMEOUT_FACTOR  # the next session opens within a few loop turns
    rig = _Rig(tiny_model, unload_after_s=idle_s)
    first = await rig.open()
    engine = rig.engine
    await eventually(lambda: engine.active_sessions == 1 and bool(rig.models))
    await first.close()
    await eventually(lambda: engine.active_sessions == 0)  # the idle timer is running
    second = await rig.open()
    with pytest.raises(TimeoutError):
        await eventually(lambda: not engine.loaded, 3 * idle_s / TIMEOUT_FACTOR)
    assert engine.unloads == 0
    await second.close()
    await eventually(lambda: not engine.loaded)
    assert len(rig.transcribers) == 1  # one model made, used by both sessions
    await rig.connector.aclose()


async def test_after_an_unload_the_next_session_reloads_and_loses_no_audio(
    tiny_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.engine.local_connector")
    rig = _Rig(tiny_model, unload_after_s=IDLE_S)
    _, events = await rig.dictate()
    assert _finals(events) == ["hello world"]
    engine = rig.engine
    await eventually(lambda: not engine.loaded)
    assert [ref() for ref in rig.models] == [None]

    rig.gate.clear()  # the model's second loading waits until all the audio is sent
    source = _Watched(_signal())
    second = asyncio.create_task(rig.dictate(source))
    try:

        def loading_while_all_audio_is_sent() -> bool:
            if len(rig.transcribers) < 2 or not source.done:
                return False
            transcriber = rig.transcribers[1]()
            return transcriber is not None and transcriber.load_started.is_set()

        await eventually(loading_while_all_audio_is_sent)
        reloading = rig.transcribers[1]()
        assert reloading is not None
        assert not reloading.loaded
        del reloading
    finally:
        rig.gate.set()
    result, events = await asyncio.wait_for(second, 30 * TIMEOUT_FACTOR)
    assert _finals(events) == ["hello world"]
    assert result.transcript.text == "hello world"
    # Every sample the second session sent reached the model, in its one final.
    assert rig.final_samples == [SAMPLES, SAMPLES]
    assert engine.loaded
    assert len(rig.transcribers) == 2
    reloads = [r.getMessage() for r in caplog.records if "again" in r.getMessage()]
    assert reloads == [
        f"loading the local model {tiny_model} again (unloaded after 0.000833 min idle)"
    ]
    await rig.connector.aclose()


async def test_zero_never_unloads_and_a_new_delay_applies_at_once(tiny_model: Path) -> None:
    rig = _Rig(tiny_model, unload_after_s=0)
    _, events = await rig.dictate()
    assert _finals(events) == ["hello world"]
    engine = rig.engine
    await eventually(lambda: engine.active_sessions == 0)
    with pytest.raises(TimeoutError):
        await eventually(lambda: not engine.loaded, NOT_BEFORE_S)
    rig.connector.unload_after_s = IDLE_S  # as a settings change does, with nothing open
    await eventually(lambda: not engine.loaded)
    assert [ref() for ref in rig.models] == [None]
    await rig.connector.aclose()
