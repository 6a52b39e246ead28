"""``hark serve`` under abuse: what a hostile or broken client can do, and cannot.

Against the real server (websockets, the engine, the tiny model): clients that send
nothing, stop mid-stream, trickle audio or read nothing; oversized frames; garbage
metadata and control messages; hundreds of connections opened and dropped. After each,
the slot is free and a valid client is still transcribed correctly.

Then property tests (Hypothesis) over the one step every client frame goes through,
``decode_client_frame``, and over whole sessions on an in-memory connection: nothing
a client sends raises anything but ``ClientFrameRefused``, every reply is JSON in
Baseten's shapes, and the metadata that passes can be used.
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import websockets
from hypothesis import HealthCheck as Health
from hypothesis import given, settings
from hypothesis import strategies as st

from app.adapters.whisper import SileroVad, WhisperTranscriber
from app.adapters.ws_server import BASETEN_PATH, HarkServer, ServerWebSocket, serve
from app.core.baseten_server import (
    AudioFrame,
    BadFrame,
    BasetenServerProtocol,
    EndAudio,
    HealthCheck,
    MetadataReceived,
    MetadataRejected,
    Phase,
)
from app.core.endpointing import Endpointer
from app.core.local_types import TranscribedSegment, TranscriptionResult
from app.core.serving import MAX_AUDIO_FRAME_BYTES, MAX_FRAME_BYTES, MAX_TEXT_FRAME_CHARS
from app.engine.local_connector import memory_pair
from app.engine.local_engine import (
    ClientFrameRefused,
    LocalEngine,
    _Session,
    decode_client_frame,
)
from tests import baseten_docs_client as docs
from tests.helpers import TIMEOUT_FACTOR
from tests.local_model import SCRIPTED_TEXT
from tests.raw_websocket import RawClient
from tests.synthetic_speech import silence, speechlike, to_pcm16

TEXT = SCRIPTED_TEXT.strip()
META = json.dumps(docs.METADATA)
WAIT = 10 * TIMEOUT_FACTOR
ERROR_KEYS = {"type", "trace_id", "timestamp", "body"}
ERROR_BODY_KEYS = {"error_type", "message", "stream_id", "recoverable", "timestamp"}


def engine_for(model: Path, *, max_sessions: int, grace_s: float | None = None) -> LocalEngine:
    return LocalEngine(
        lambda: WhisperTranscriber(str(model), device="cpu", cpu_threads=1),
        lambda threshold: SileroVad(threshold),
        max_sessions=max_sessions,
        slow_client_grace_s=grace_s,
    )


@asynccontextmanager
async def hark_serve(
    model: Path, *, max_sessions: int = 1, grace_s: float | None = None, **options: Any
) -> AsyncIterator[tuple[HarkServer, LocalEngine, str]]:
    """A server as ``hark serve`` runs it (engine and server share ``max_sessions``)."""
    engine = engine_for(model, max_sessions=max_sessions, grace_s=grace_s)
    running = await serve(engine, token=None, max_sessions=max_sessions, **options)
    try:
        yield running, engine, f"ws://127.0.0.1:{running.port}{BASETEN_PATH}"
    finally:
        await running.aclose()
        await engine.aclose()


async def served_correctly(url: str, *, realtime: bool = False) -> None:
    """A valid client gets both finals of two utterances, right, and a clean end."""
    pcm = to_pcm16(np.concatenate([speechlike(1.0), silence(0.6), speechlike(0.8)]))
    outcome = await docs.stream(url, pcm, realtime=realtime, timeout_s=30 * TIMEOUT_FACTOR)
    assert outcome.errors == []
    assert [m["transcript"] for m in outcome.finals] == [TEXT, TEXT]
    assert outcome.end_audio_statuses == ["acknowledged", "finished"]


def assert_baseten_error(raw: str | bytes, *, says: str) -> dict[str, Any]:
    """``raw`` is Baseten's error frame (docs/wire-protocols.md §1.4 d), not recoverable."""
    assert isinstance(raw, str), raw
    message = json.loads(raw)
    assert set(message) == ERROR_KEYS
    assert message["type"] == "error"
    body = message["body"]
    assert set(body) == ERROR_BODY_KEYS
    assert body["error_type"] == "StreamError"
    assert body["recoverable"] is False
    assert says in body["message"], body["message"]
    assert len(body["message"]) <= 600
    return message


async def closed_after(ws: websockets.ClientConnection) -> list[str | bytes]:
    """Everything the server sends until it closes (within :data:`WAIT`)."""
    received: list[str | bytes] = []
    async with asyncio.timeout(WAIT):
        try:
            while True:
                received.append(await ws.recv())
        except websockets.ConnectionClosed:
            return received


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (by polling the loop, not sleeping a fixed time) until ``condition`` holds."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 (the engine's counters have no event)
            await asyncio.sleep(0.01)
    assert condition(), what


# -- idle and slow clients ----------------------------------------------------------------


async def test_silent_clients_do_not_lock_out_a_real_user(tiny_model: Path) -> None:
    """A slot is taken with the first frame: two clients that connect and send nothing
    leave both slots of a 2-session server to real users, however long they wait."""
    async with hark_serve(tiny_model, max_sessions=2, metadata_timeout_s=60) as (_, engine, url):
        silent = [await websockets.connect(url) for _ in range(2)]
        await served_correctly(url)
        await served_correctly(url)
        assert all(ws.close_code is None for ws in silent)  # still waiting, harmlessly
        await until(lambda: engine.active_sessions == 0, "the sessions ended")
        for ws in silent:
            await ws.close()


async def test_clients_waiting_for_their_metadata_are_bounded(tiny_model: Path) -> None:
    async with hark_serve(tiny_model, max_sessions=2, metadata_timeout_s=0.5) as (_, _e, url):
        silent = [await websockets.connect(url) for _ in range(16)]  # at least 16 may wait
        async with websockets.connect(url) as one_too_many:
            [error] = await closed_after(one_too_many)
        assert_baseten_error(error, says="Server busy")
        assert one_too_many.close_code == 1013
        for ws in silent:  # closed at the metadata timeout, with Baseten's error first
            [error] = await closed_after(ws)
            assert_baseten_error(error, says="No audio or message for 0.5 s")
            assert ws.close_code == 1008
        await served_correctly(url)


async def test_a_client_that_stops_mid_stream_is_closed(tiny_model: Path) -> None:
    async with hark_serve(tiny_model, idle_timeout_s=0.5) as (_, engine, url):
        async with websockets.connect(url) as ws:
            await ws.send(META)
            await ws.send(to_pcm16(speechlike(0.3)))
            received = await closed_after(ws)
        assert_baseten_error(received[-1], says="No audio or message for 0.5 s")
        assert ws.close_code == 1008
        await until(lambda: engine.active_sessions == 0, "the slot is free")
        await served_correctly(url)


async def test_a_client_trickling_audio_is_closed(tiny_model: Path) -> None:
    """32 ms of audio every 0.15 s is never silent for the idle timeout, yet would hold
    the slot for ever; a client at real time is not affected."""
    async with hark_serve(tiny_model, grace_s=0.5, idle_timeout_s=5) as (_, engine, url):
        async with websockets.connect(url) as ws:
            await ws.send(META)

            async def trickle() -> None:
                frame = to_pcm16(silence(0.032))
                while True:  # until the server closes (ConnectionClosed)
                    await ws.send(frame)
                    await asyncio.sleep(0.15)

            sender = asyncio.create_task(trickle())
            received = await closed_after(ws)
            with pytest.raises(websockets.ConnectionClosed):
                await sender
        assert_baseten_error(received[-1], says="Audio arrives too slowly")
        assert ws.close_code == 1008
        await until(lambda: engine.active_sessions == 0, "the slot is free")
        await served_correctly(url, realtime=True)


async def test_a_client_that_reads_nothing_is_dropped(tiny_model: Path) -> None:
    """Health checks with 50 KB trace ids, never reading the answers: the server's
    sends block once the buffers are full, and it drops the client after the idle
    timeout instead of waiting for the keepalive (20 s ping, 20 s for the pong)."""
    async with hark_serve(tiny_model, idle_timeout_s=0.5) as (running, engine, url):
        client = await RawClient.connect(url, running.port)
        assert client.protocol.handshake_exc is None
        await client.send_text(META)

        async def flood() -> None:
            for _ in range(400):  # 20 MB: far more than the buffers hold
                await client.send_text(
                    json.dumps({"type": "health_check", "trace_id": "x" * 50_000})
                )

        flooding = asyncio.create_task(flood())
        await until(lambda: engine.active_sessions == 1, "the session started")
        await until(lambda: engine.active_sessions == 0, "the session ended")
        with pytest.raises(ConnectionError):  # the server dropped it
            await flooding
        client.abort()
        await served_correctly(url)


# -- oversized frames -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "then", "says"),
    [
        (META, "x" * (MAX_TEXT_FRAME_CHARS + 1), "A text frame of 65537 characters"),
        (META, b"\0" * (MAX_AUDIO_FRAME_BYTES + 2), "A binary frame of 262146 bytes"),
        ('{"stream_id": "' + "x" * MAX_TEXT_FRAME_CHARS + '"}', None, "A text frame of"),
    ],
    ids=["text-after-metadata", "binary-after-metadata", "metadata"],
)
async def test_an_oversized_frame_gets_an_error_then_1009(
    tiny_model: Path, first: str, then: str | bytes | None, says: str
) -> None:
    async with hark_serve(tiny_model) as (_, engine, url):
        async with websockets.connect(url, max_size=None) as ws:
            await ws.send(first)
            if then is not None:
                await ws.send(then)
            received = await closed_after(ws)
        assert_baseten_error(received[-1], says=says)
        assert ws.close_code == 1009
        await until(lambda: engine.active_sessions == 0, "the slot is free")
        await served_correctly(url)


async def test_a_frame_over_the_websocket_limit_is_closed_unread(tiny_model: Path) -> None:
    """Past ``MAX_FRAME_BYTES`` the frame is never read: 1009, no room for a message."""
    async with hark_serve(tiny_model) as (_, engine, url):
        async with websockets.connect(url, max_size=None) as ws:
            await ws.send(META)
            await ws.send(b"\0" * (MAX_FRAME_BYTES + 1))
            assert await closed_after(ws) == []
        assert ws.close_code == 1009
        await until(lambda: engine.active_sessions == 0, "the slot is free")
        await served_correctly(url)


# -- garbage ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "says"),
    [
        ("[" * 30_000 + "]" * 30_000, "Failed to validate metadata"),
        ('{"streaming_params": {"sample_rate": "16000"}}', "expected an integer"),
        ('{"whisper_params": {"whisper_sampling_params": {"beam_width": [1]}}}', "beam_width"),
        ('{"streaming_vad_config": "fast"}', "expected an object"),
        ("[1, 2]", "expected an object"),
        ("null", "expected an object"),
        ('{"whisper_params": {"prompt": "x"', "not valid JSON"),
        ('{"streaming_vad_config": {"threshold": NaN}}', "threshold"),
        ('{"streaming_vad_config": {"min_silence_duration_ms": 1e999}}', "min_silence"),
        (json.dumps({f"key{i}": i for i in range(2000)}), "extra inputs are not permitted"),
        (b"\0\1" * 512, "the first frame must be the metadata"),
    ],
    ids=[
        "deep",
        "string-for-int",
        "list-for-int",
        "string-for-object",
        "list",
        "null",
        "not-json",
        "nan",
        "infinity",
        "2000-errors",
        "binary",
    ],
)
async def test_garbage_metadata_gets_an_error_then_1011(
    tiny_model: Path, first: str | bytes, says: str
) -> None:
    async with hark_serve(tiny_model) as (_, engine, url):
        async with websockets.connect(url) as ws:
            await ws.send(first)
            [error] = await closed_after(ws)
        assert_baseten_error(error, says=says)
        assert ws.close_code == 1011
        await until(lambda: engine.active_sessions == 0, "the slot is free")
        await served_correctly(url)


async def test_invalid_utf8_is_closed_with_1007(tiny_model: Path) -> None:
    """websockets checks text frames before the engine sees them: 1007, no message."""
    async with hark_serve(tiny_model) as (_, engine, url):
        for first in (b"\xff\xfe{}", b'{"stream_id": "\xed\xa0\x80"}'):  # the second: a surrogate
            async with websockets.connect(url) as ws:
                await ws.send(first, text=True)
                assert await closed_after(ws) == []
            assert ws.close_code == 1007
        await until(lambda: engine.active_sessions == 0, "the slot is free")
        await served_correctly(url)


async def test_garbage_control_messages_are_answered_and_the_session_goes_on(
    tiny_model: Path,
) -> None:
    garbage = [
        "not json",
        "[1]",
        '{"type": 7}',
        '{"type": "end_audio", "extra": 1}',
        '{"type": "' + "y" * 5000 + '"}',
        '{"type": "health_check", "trace_id": {"a": [1, {"b": null}]}, "body": [1]}',
        '{"type": "\\ud83d"}',
        "[" * 5000 + "]" * 5000,
    ]
    metadata = dict(docs.METADATA, streaming_vad_config={"min_silence_duration_ms": 1e308})
    async with hark_serve(tiny_model) as (_, _e, url), websockets.connect(url) as ws:
        await ws.send(json.dumps(metadata))  # huge but finite: taken as "an hour"
        await ws.send(to_pcm16(speechlike(0.5)))
        for frame in garbage:
            await ws.send(frame)
        await ws.send(to_pcm16(speechlike(0.5)))
        await ws.send(json.dumps({"type": "end_audio", "trace_id": "t1"}))
        messages = []
        async with asyncio.timeout(WAIT):
            while not messages or messages[-1].get("body", {}).get("status") != "finished":
                messages.append(json.loads(await ws.recv()))
    errors = [m for m in messages if m["type"] == "error"]
    assert len(errors) == len(garbage) - 1  # the health check is answered
    for error in errors:
        assert len(json.dumps(error)) < 6000
        recoverable = error["body"].get("recoverable", True)  # unknown types: Baseten's shape
        assert recoverable is True
    [health] = [m for m in messages if m["type"] == "health_check"]
    assert health["trace_id"] == {"a": [1, {"b": None}]}
    finals = [m for m in messages if m["type"] == "transcription" and m["is_final"]]
    assert [m["transcript"] for m in finals] == [TEXT]  # one utterance: a silence of an hour
    ack = next(m for m in messages if m["type"] == "end_audio")
    assert ack["trace_id"] == "t1"


# -- connection churn ------------------------------------------------------------------


async def churn(port: int, url: str, rounds: int) -> None:
    """``rounds`` each of: TCP connect and close; half an upgrade; a full upgrade and close;
    metadata and audio, then the socket dropped; metadata, then a clean close."""

    async def tcp_only() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()

    async def half_upgrade() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {BASETEN_PATH} HTTP/1.1\r\nHost: x\r\n".encode())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def upgrade_only() -> None:
        ws = await websockets.connect(url)
        await ws.close()

    async def dropped_mid_stream() -> None:
        ws = await websockets.connect(url)
        await ws.send(META)
        await ws.send(to_pcm16(speechlike(0.3)))
        ws.transport.abort()

    async def metadata_then_close() -> None:
        async with websockets.connect(url) as ws:
            await ws.send(META)

    kinds: list[Callable[[], Awaitable[None]]] = [
        tcp_only,
        half_upgrade,
        upgrade_only,
        dropped_mid_stream,
        metadata_then_close,
    ]
    for _ in range(rounds):
        # Ten at a time: "busy" is an answer too, but not the one under test here.
        await asyncio.gather(*(kind() for kind in kinds for _ in range(2)))


async def test_hundreds_of_connects_and_drops_leak_nothing(tiny_model: Path) -> None:
    """500 connections of five kinds, twice, while a real-time client dictates: afterwards
    the tasks of before, no new threads, no connection or session left in memory, and a
    client is served right."""
    async with hark_serve(tiny_model, max_sessions=8) as (running, engine, url):
        await served_correctly(url)
        baseline_tasks = len(asyncio.all_tasks())
        threads: list[list[str]] = []
        for _ in range(2):
            dictation = asyncio.create_task(served_correctly(url, realtime=True))
            await churn(running.port, url, rounds=50)
            await dictation
            await until(lambda: engine.active_sessions == 0, "every session ended")
            await until(
                lambda: len(asyncio.all_tasks()) <= baseline_tasks,
                f"tasks back to {baseline_tasks}",
            )
            threads.append(sorted(t.name for t in threading.enumerate()))
        # Each session's VAD is made in the loop's default executor, which starts its
        # threads as they are needed, up to its fixed maximum; nothing else may start one.
        pool = [name for name in threads[1] if name.startswith("asyncio_")]
        assert len(pool) <= min(32, (os.cpu_count() or 1) + 4)
        assert [n for n in threads[1] if n not in pool] == [
            n for n in threads[0] if not n.startswith("asyncio_")
        ]
        assert engine.active_sessions == 0
        gc.collect()
        alive = [o for o in gc.get_objects() if isinstance(o, ServerWebSocket | _Session)]
        assert alive == []  # no connection or session is kept from being freed
        await served_correctly(url)


# -- properties of the receive path -----------------------------------------------------

EXAMPLES = int(os.environ.get("HARK_FUZZ_EXAMPLES", "150"))
"""Examples per property test; ``HARK_FUZZ_EXAMPLES=5000`` for a longer hunt."""
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[Health.too_slow])

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()  # NaN, infinities, subnormals
    | st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0, 16000, 8000, 0.5])
    | st.text()
    | st.sampled_from(["\ud83d", "a\udc00b", "\x00\n\u2028", "auto", "en", "pcm_mulaw"])
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
_KEYS = {
    "streaming_vad_config": ["threshold", "min_silence_duration_ms", "speech_pad_ms", "x"],
    "streaming_params": [
        "encoding",
        "sample_rate",
        "enable_partial_transcripts",
        "partial_transcript_interval_s",
        "final_transcript_max_duration_s",
        "include_pipeline_latency_metric",
    ],
    "whisper_params": ["audio_language", "prompt", "show_word_timestamps"],
    "vad_params": ["threshold", "min_silence_duration_ms"],
    "streaming_whisper_params": ["encoding", "sample_rate", "audio_language"],
}


@st.composite
def metadata_like(draw: st.DrawFn) -> Any:
    """Metadata of Baseten's shape, its values replaced by anything at any level."""
    top = draw(st.sets(st.sampled_from([*_KEYS, "stream_id"]), max_size=3))
    metadata: dict[str, Any] = {}
    for key in top:
        if key == "stream_id" or draw(st.booleans()):
            metadata[key] = draw(json_values)
        else:
            keys = draw(st.sets(st.sampled_from(_KEYS[key]), max_size=4))
            metadata[key] = {k: draw(json_values) for k in keys}
    return metadata


def deep(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


client_text = st.one_of(
    metadata_like().map(json.dumps),
    json_values.map(json.dumps),
    st.text(),
    st.sampled_from(
        [
            deep(63),
            deep(65),
            "[" * 20_000 + "]" * 20_000,
            '{"streaming_vad_config": {"min_silence_duration_ms": 1e999}}',
            '{"streaming_params": {"partial_transcript_interval_s": 1e308, '
            '"enable_partial_transcripts": true}}',
            '{"streaming_vad_config": {"min_silence_duration_ms": ' + "9" * 4000 + "}}",
            '{"stream_id": "\\ud83d"}',
            "x" * (MAX_TEXT_FRAME_CHARS + 1),
            json.dumps({f"k{i}": "v" for i in range(3000)}),
        ]
    ),
)
control_text = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["end_audio", "health_check", "other"]) | st.text()},
        optional={"trace_id": json_values, "body": json_values, "timestamp": json_values},
    ).map(json.dumps),
    json_values.map(json.dumps),
    st.text(),
)
client_frames = st.one_of(
    client_text,
    control_text,
    st.binary(max_size=4096),
    st.sampled_from([b"", b"\0", b"\0" * (MAX_AUDIO_FRAME_BYTES + 1)]),
)


SERVER_EVENTS = (MetadataReceived, MetadataRejected, AudioFrame, EndAudio, HealthCheck, BadFrame)
SERVER_TYPES = {"error", "end_audio", "health_check", "transcription"}


def check_events(protocol: BasetenServerProtocol, frame: object) -> list[Any]:
    """Decode ``frame``; check what came out is what a session can act on."""
    refused: ClientFrameRefused | None = None
    try:
        events = decode_client_frame(protocol, frame)
    except ClientFrameRefused as exc:  # the one exception a client frame may cause
        refused = exc
    if refused is not None:
        assert refused.code in (1003, 1009)
        assert_baseten_error(refused.reply, says="")
        return []
    for event in events:
        assert isinstance(event, SERVER_EVENTS), event
        if isinstance(event, MetadataRejected):
            assert len(event.message) <= 500
            assert "\n" not in event.message
            protocol.error(event.message, recoverable=False).encode("utf-8")
        if isinstance(event, MetadataReceived):
            params = event.params
            numbers = [
                params.vad_threshold,
                params.vad_min_silence_ms,
                params.vad_speech_pad_ms,
                params.partial_interval_s,
                params.max_final_duration_s,
            ]
            assert all(math.isfinite(n) for n in numbers), params
            Endpointer(  # what the session makes from them next
                threshold=params.vad_threshold,
                min_silence_ms=params.vad_min_silence_ms,
                speech_pad_ms=params.vad_speech_pad_ms,
                max_duration_s=params.max_final_duration_s,
                partial_interval_s=params.partial_interval_s,
            )
        if isinstance(event, BadFrame) and event.reply is not None:
            json.loads(event.reply)
            event.reply.encode("utf-8")
        if isinstance(event, HealthCheck):
            protocol.health(event, now=0.0).encode("utf-8")
        if isinstance(event, EndAudio):
            json.loads(protocol.end_audio_ack(event.trace_id))
        if isinstance(event, AudioFrame):
            assert isinstance(event.pcm, bytes)
            assert len(event.pcm) % 2 == 0
    return events


@FUZZ
@given(first=client_text | st.binary(max_size=64))
def test_any_first_frame_is_metadata_or_a_refusal(first: str | bytes) -> None:
    protocol = BasetenServerProtocol()
    events = check_events(protocol, first)
    if events:
        [event] = events
        assert isinstance(event, MetadataReceived | MetadataRejected)
        accepted = isinstance(event, MetadataReceived)
        assert protocol.phase is (Phase.STREAMING if accepted else Phase.REJECTED)


@FUZZ
@given(
    metadata=st.sampled_from(
        [META, '{"streaming_params": {"encoding": "pcm_mulaw", "sample_rate": 8000}}', "{}"]
    ),
    frames=st.lists(client_frames, max_size=12),
)
def test_any_frames_after_valid_metadata(metadata: str, frames: list[str | bytes]) -> None:
    protocol = BasetenServerProtocol()
    [accepted] = check_events(protocol, metadata)
    assert isinstance(accepted, MetadataReceived)
    for frame in frames:
        check_events(protocol, frame)


@FUZZ
@given(frame=st.sampled_from([None, 7, 1.5, ["x"], {"type": "end_audio"}, object()]))
def test_a_frame_of_another_type_is_refused(frame: object) -> None:
    with pytest.raises(ClientFrameRefused) as refused:
        decode_client_frame(BasetenServerProtocol(), frame)
    assert refused.value.code == 1003


class _EnergyVad:
    """Speech where the window is loud: enough for the engine's endpointing."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def speech_probability(self, window: npt.NDArray[np.float32]) -> float:
        return 0.9 if float(np.abs(window).mean()) > 0.01 else 0.0

    def reset(self) -> None:
        pass


class _Hello:
    def load(self) -> None:
        pass

    def transcribe(self, audio: npt.NDArray[np.float32], **_: Any) -> TranscriptionResult:
        segment = TranscribedSegment(0.0, len(audio) / 16000, SCRIPTED_TEXT)
        return TranscriptionResult.of((segment,), "en", 1.0)


async def _session(frames: list[str | bytes]) -> tuple[list[str | bytes], int | None]:
    engine = LocalEngine(_Hello, _EnergyVad, max_sessions=1, slow_client_grace_s=30)
    client, server = memory_pair()
    serving = asyncio.create_task(engine.serve(server))
    for frame in frames:
        await client.send(frame)
    await client.send('{"type": "end_audio"}')
    sent: list[str | bytes] = []

    async def read() -> None:
        while (message := await client.recv()) is not None:
            sent.append(message)
            if isinstance(message, str) and '"finished"' in message:
                await client.close()

    reading = asyncio.create_task(read())
    try:
        async with asyncio.timeout(WAIT):
            await asyncio.wait({serving, reading}, return_when=asyncio.FIRST_EXCEPTION)
            await serving  # returns: nothing the client sent raised
            await reading
    finally:
        reading.cancel()
        await engine.aclose()
    return sent, client.close_code


@FUZZ
@given(
    first=client_text | st.just(META),
    frames=st.lists(
        client_frames | st.just(to_pcm16(speechlike(0.3))) | st.just(to_pcm16(silence(0.5))),
        max_size=8,
    ),
)
def test_no_client_can_make_a_session_raise(first: str, frames: list[str | bytes]) -> None:
    """Whole sessions on an in-memory connection: ``serve`` returns, every message the
    engine sent is JSON of a Baseten type, and the engine closes only with its codes."""
    sent, code = asyncio.run(_session([first, *frames]))
    for message in sent:
        assert isinstance(message, str)
        message.encode("utf-8")
        assert json.loads(message)["type"] in SERVER_TYPES
    assert code in {1000, 1003, 1009, 1011}, code
