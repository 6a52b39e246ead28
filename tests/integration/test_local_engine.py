"""The local engine for real: faster-whisper on a tiny home-made model, Silero VAD, sessions.

Every test runs the real loading, VAD and transcription code offline on the models of
``tests.local_model`` (``" hello world"`` whatever the audio, for the scripted ones).
What is checked is the engine: the partial/final cadence, VAD endpointing, the
``end_audio`` flush, the session bound, threading, and Hark's own client on top.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soxr

from app.adapters.audiofile import AudioFileSource
from app.adapters.whisper import ModelMissingError, SileroVad, WhisperTranscriber, whisper_factories
from app.core.events import Event, Final, FlushAck, Partial
from app.core.local_types import TranscriptionResult
from app.core.options import LocalOptions
from app.core.providers.base import ConnectRequest
from app.engine.local_connector import LocalConnector, MemoryConnection, memory_pair
from app.engine.local_engine import LocalEngine
from app.engine.ports import AudioSource, Connection
from app.engine.session import StreamingSession
from tests.helpers import TIMEOUT_FACTOR, hark_env, run_hark, speech_wav

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach the model hub

SPOKEN = "Hello world. This is a dictation test."
METADATA = {
    "whisper_params": {"audio_language": "en", "show_word_timestamps": True},
    "streaming_params": {"enable_partial_transcripts": False},
    "streaming_vad_config": {"threshold": 0.5, "min_silence_duration_ms": 300},
}


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 2.5 s of espeak-ng speech (Silero hears it as speech), at espeak's own rate."""
    return speech_wav(tmp_path_factory.mktemp("wav") / "speech.wav", SPOKEN)


def _pcm16k(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        rate, raw = w.getframerate(), w.readframes(w.getnframes())
    samples = np.frombuffer(raw, "<i2").astype(np.float32) / 32768
    return (soxr.resample(samples, rate, 16000) * 32767).astype("<i2").tobytes()


def _silence(seconds: float) -> bytes:
    return b"\x00\x00" * round(16000 * seconds)


def _engine(model: Path, **kwargs: Any) -> LocalEngine:
    return LocalEngine(*whisper_factories(LocalOptions(model=str(model)), cpu_threads=1), **kwargs)


async def _open(engine: LocalEngine, metadata: Any) -> tuple[MemoryConnection, asyncio.Task[None]]:
    client, server = memory_pair()
    task = asyncio.create_task(engine.serve(server))
    await client.send(json.dumps(metadata))
    return client, task


async def _send_audio(client: Connection, pcm: bytes) -> None:
    """Frames of exactly 512 samples, as Baseten's docs example sends them (padded tail)."""
    pcm += b"\x00" * (-len(pcm) % 1024)
    for i in range(0, len(pcm), 1024):
        await client.send(pcm[i : i + 1024])


async def _until_finished(client: Connection, limit_s: float = 15) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    async with asyncio.timeout(limit_s * TIMEOUT_FACTOR):
        while True:
            frame = await client.recv()
            assert isinstance(frame, str), frame
            messages.append(json.loads(frame))
            if messages[-1].get("body") == {"status": "finished"}:
                return messages


class _Paced:
    """An audio source sped up ``speed`` times over real time (partials need some pacing)."""

    def __init__(self, inner: AudioSource, speed: float) -> None:
        self.inner, self.speed = inner, speed
        self.sample_rate, self.channels = inner.sample_rate, inner.channels

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        async for block in self.inner.blocks():
            await asyncio.sleep(len(block) / self.sample_rate / self.speed)
            yield block


class _Recording(WhisperTranscriber):
    """The real transcriber, noting each call's thread, kind and time (and slowed if asked)."""

    def __init__(self, *args: Any, delay_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delay_s = delay_s
        self.calls: list[tuple[int, bool, float, float]] = []
        self.running = 0
        self.overlapped = False

    def transcribe(self, audio: Any, **kwargs: Any) -> TranscriptionResult:
        self.running += 1
        self.overlapped |= self.running > 1
        start = time.perf_counter()
        try:
            time.sleep(self.delay_s)
            return super().transcribe(audio, **kwargs)
        finally:
            self.running -= 1
            ident = threading.get_ident()
            self.calls.append((ident, kwargs["partial"], start, time.perf_counter()))


# -- Hark's own client (the "local" provider) -------------------------------------------------


@pytest.mark.espeak
async def test_partials_then_final_through_harks_session(tiny_model: Path, speech: Path) -> None:
    options = LocalOptions(model=str(tiny_model), partial_interval_s=0.5, word_timestamps=True)
    connector = LocalConnector(lambda o: _engine(Path(o.model)))
    events: list[Event] = []
    session = StreamingSession(options, "", connector, on_event=events.append)
    result = await session.run(_Paced(AudioFileSource(speech), speed=4))
    await connector.aclose()
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("Partial") >= 2, kinds
    assert kinds.index("Final") > kinds.index("Partial")
    assert isinstance(events[-2], FlushAck)
    finals = [e for e in events if isinstance(e, Final)]
    assert [f.text for f in finals] == ["hello world"] * len(finals)
    assert finals[-1].reason == "flush"
    words = finals[-1].words
    assert [w.text for w in words] == [" hello", " world"]
    assert words[0].start is not None
    assert words[1].end is not None
    assert words[0].start < words[1].end
    assert result.transcript.text == " ".join(["hello world"] * len(finals))
    assert all(p.text == "hello world" for p in events if isinstance(p, Partial))


@pytest.mark.espeak
async def test_language_detection_on_a_multilingual_model(
    tiny_multilingual_model: Path, speech: Path
) -> None:
    options = LocalOptions(model=str(tiny_multilingual_model), language="auto", partials=False)
    connector = LocalConnector(lambda o: _engine(Path(o.model)))
    events: list[Event] = []
    await StreamingSession(options, "", connector, on_event=events.append).run(
        AudioFileSource(speech)
    )
    await connector.aclose()
    [final] = [e for e in events if isinstance(e, Final)]
    assert (final.language, final.language_prob) == ("en", 1.0)


@pytest.mark.espeak
async def test_a_missing_model_fails_at_connect_in_one_line(tmp_path: Path, speech: Path) -> None:
    connector = LocalConnector(
        lambda o: LocalEngine(*whisper_factories(o, cache_dir=tmp_path / "models"))
    )
    session = StreamingSession(LocalOptions(model="base"), "", connector)
    with pytest.raises(ModelMissingError, match=r"hark models download base") as caught:
        await session.run(AudioFileSource(speech))
    assert "\n" not in str(caught.value)
    assert "cloud provider" in str(caught.value)
    await connector.aclose()


async def test_other_urls_go_to_the_fallback_connector(tiny_model: Path) -> None:
    opened: list[str] = []

    async def fallback(request: ConnectRequest, *, provider: str, open_timeout: float) -> Any:
        opened.append(request.url)
        return "websocket"

    connector = LocalConnector(lambda o: _engine(tiny_model), fallback=fallback)
    conn = await connector(ConnectRequest("wss://example.com/ws"), provider="X", open_timeout=1)
    assert (conn, opened) == ("websocket", ["wss://example.com/ws"])
    assert connector.engines == []


# -- the protocol as a Baseten client speaks it ---------------------------------------------


@pytest.mark.espeak
async def test_vad_endpoint_then_end_audio_flush(tiny_model: Path, speech: Path) -> None:
    engine = _engine(tiny_model)
    client, task = await _open(engine, METADATA)
    pcm = _pcm16k(speech)
    await _send_audio(client, pcm + _silence(1.0) + pcm)
    await client.send(json.dumps({"type": "end_audio", "trace_id": "t-1"}))
    messages = await _until_finished(client)
    results = [m for m in messages if m["type"] == "transcription"]
    assert [(m["is_final"], m["transcription_num"]) for m in results] == [(True, 1), (True, 2)]
    assert "is_end_of_audio_flush" not in results[0]
    assert results[1]["is_end_of_audio_flush"] is True
    ack = {"type": "end_audio", "trace_id": "t-1", "timestamp": None}
    assert {**ack, "body": {"status": "acknowledged"}} in messages
    assert messages[-1]["body"] == {"status": "finished"}
    second = results[1]["segments"][0]
    assert second["start_time"] >= len(pcm) / 32000  # stream time, not utterance time
    assert [w["word"] for w in second["word_timestamps"]] == [" hello", " world"]
    # The server never closes by itself after `finished`.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.recv(), 0.3)
    assert engine.active_sessions == 1
    await client.close()
    await asyncio.wait_for(task, 5)
    assert engine.active_sessions == 0
    await engine.aclose()


async def test_silence_only_gives_finished_and_nothing_else(tiny_model: Path) -> None:
    engine = _engine(tiny_model)
    client, task = await _open(engine, {})
    await _send_audio(client, _silence(2.0))
    await client.send('{"type":"end_audio"}')
    messages = await _until_finished(client)
    assert [m["body"]["status"] for m in messages] == ["acknowledged", "finished"]
    await client.close()
    await task
    await engine.aclose()


async def test_refused_metadata_gets_an_error_then_1011(tiny_model: Path) -> None:
    engine = _engine(tiny_model)
    client, task = await _open(engine, {"vad_params": {}, "whisper_params": {}})
    frame = await client.recv()
    assert isinstance(frame, str)
    body = json.loads(frame)["body"]
    assert body["recoverable"] is False
    assert "extra inputs are not permitted" in body["message"]
    assert await client.recv() is None
    assert client.close_code == 1011
    await task
    await engine.aclose()


async def test_sessions_past_the_bound_are_refused_with_1013(tiny_model: Path) -> None:
    engine = _engine(tiny_model, max_sessions=1)
    first, first_task = await _open(engine, {})
    await asyncio.sleep(0.05)
    second, second_task = await _open(engine, {})
    frame = await second.recv()
    assert isinstance(frame, str)
    assert json.loads(frame)["body"]["message"] == "server busy: 1 sessions"
    assert await second.recv() is None
    assert second.close_code == 1013
    await second_task
    await engine.aclose()  # ends the running session with 1001
    assert await first.recv() is None
    assert first.close_code == 1001
    await first_task


async def test_partials_are_dropped_while_a_transcription_runs(tiny_model: Path) -> None:
    slow = _Recording(str(tiny_model), cpu_threads=1, delay_s=0.3)
    engine = LocalEngine(lambda: slow, SileroVad)
    metadata = {
        "streaming_params": {
            "enable_partial_transcripts": True,
            "partial_transcript_interval_s": 0.5,
        },
        "streaming_vad_config": {"threshold": 0.0},  # everything is speech
    }
    client, task = await _open(engine, metadata)
    await _send_audio(client, _silence(4.0))  # offers 7 partials at once
    await client.send('{"type":"end_audio"}')
    messages = await _until_finished(client)
    kinds = [m["is_final"] for m in messages if m["type"] == "transcription"]
    partial_calls = [c for c in slow.calls if c[1]]
    assert 1 <= len(partial_calls) <= 2  # the rest were dropped, not queued
    assert kinds[-1] is True
    assert kinds.count(True) == 1
    assert not slow.overlapped
    await client.close()
    await task
    await engine.aclose()


async def test_a_model_slower_than_real_time_is_reported_once(
    tiny_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    slow = _Recording(str(tiny_model), cpu_threads=1, delay_s=1.2)
    engine = LocalEngine(lambda: slow, SileroVad)
    metadata = {"streaming_vad_config": {"threshold": 0.0}}  # everything is speech
    for _ in range(3):  # the first call (a warm-up) is not judged
        client, task = await _open(engine, metadata)
        await _send_audio(client, _silence(0.5))
        await client.send('{"type":"end_audio"}')
        await _until_finished(client)
        await client.close()
        await task
    await engine.aclose()
    warnings = [r.getMessage() for r in caplog.records if "too slow" in r.getMessage()]
    assert len(warnings) == 1, (warnings, slow.calls)
    assert "smaller model" in warnings[0]


async def test_inference_runs_off_the_loop_which_keeps_turning(tiny_random_model: Path) -> None:
    recording = _Recording(str(tiny_random_model), cpu_threads=1)
    engine = LocalEngine(lambda: recording, SileroVad)
    await engine.prepare(load=True)
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.005)

    ticking = asyncio.create_task(ticker())
    client, task = await _open(engine, {"streaming_vad_config": {"threshold": 0.0}})
    noise = np.random.default_rng(0).standard_normal(16000 * 3) * 3000
    await _send_audio(client, noise.astype("<i2").tobytes())
    await client.send('{"type":"end_audio"}')
    await _until_finished(client, limit_s=30)
    ticking.cancel()
    [(ident, partial, start, end)] = recording.calls
    assert ident != threading.get_ident()
    assert not partial
    during = [t for t in ticks if start <= t <= end]
    gaps = np.diff([start, *during, end])
    assert end - start > 0.05
    assert len(during) >= 3, f"the loop stalled for {end - start:.3f} s"
    assert gaps.max() < max(0.1, (end - start) / 2) * TIMEOUT_FACTOR
    await client.close()
    await task
    await engine.aclose()


# -- the command line -----------------------------------------------------------------------


@pytest.mark.espeak
async def test_hark_transcribe_with_a_local_model(
    tiny_model: Path, speech: Path, tmp_path: Path
) -> None:
    env = hark_env(tmp_path, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    args = ["transcribe", str(speech), "--provider", "local", "--model", str(tiny_model)]
    paced = await run_hark(*args, "--format", "jsonl", "--partial-interval-s", "0.5", env=env)
    assert paced.code == 0, paced.err
    types = [json.loads(line)["type"] for line in paced.out.splitlines()]
    assert types.count("partial") >= 2, types
    assert types.index("final") > types.index("partial")
    assert types[-2:] == ["flush_ack", "session_ended"]
    fast = await run_hark(*args, "--fast", env=env)
    assert fast.code == 0, fast.err
    assert fast.out.strip().startswith("hello world")


async def test_shutdown_while_a_flush_waits_ends_the_session(tiny_model: Path) -> None:
    slow = _Recording(str(tiny_model), cpu_threads=1, delay_s=0.5)
    engine = LocalEngine(lambda: slow, SileroVad)
    client, task = await _open(engine, {"streaming_vad_config": {"threshold": 0.0}})
    await _send_audio(client, _silence(1.0))
    await client.send('{"type":"end_audio"}')
    ack = await client.recv()
    assert isinstance(ack, str)
    assert json.loads(ack)["body"] == {"status": "acknowledged"}
    await engine.aclose()  # while the flush final is still being transcribed
    await asyncio.wait_for(task, 2)
    assert await client.recv() is None
    assert client.close_code == 1001
