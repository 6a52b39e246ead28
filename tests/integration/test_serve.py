"""``hark serve``: the local engine on the tiny model behind Baseten's protocol.

Clients: Hark's own Baseten session (both metadata schemas), a client written the way
Baseten's docs example is (``tests/baseten_docs_client.py``), several at once, with and
without a token, and the ``hark serve`` command as a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import soundfile
import websockets
from websockets.exceptions import InvalidStatus

from app.adapters.whisper import SileroVad, WhisperTranscriber
from app.adapters.ws_server import BASETEN_PATH, HarkServer, ServeRefused, serve
from app.adapters.ws_transport import open_connection
from app.core.errors import KeyRejectedError
from app.core.events import Event, Final, FlushAck, Partial, SessionEnded
from app.core.options import BasetenOptions, BasetenSchema
from app.engine.local_engine import LocalEngine
from app.engine.pacing import RealtimeSource
from app.engine.session import StreamingSession
from tests import baseten_docs_client as docs
from tests.helpers import ROOT, TIMEOUT_FACTOR, ArraySource, hark_env, run_hark
from tests.local_model import SCRIPTED_TEXT
from tests.synthetic_speech import silence, speechlike, to_pcm16

TOKEN = "t0k3n-for-tests"
TEXT = SCRIPTED_TEXT.strip()  # what the scripted model hears in anything


def two_utterances() -> npt.NDArray[np.float32]:
    """Speech ended by silence (a VAD final), then speech cut by the flush (a flush final)."""
    return np.concatenate([silence(0.2), speechlike(1.3), silence(0.6), speechlike(0.8)])


def engine_for(model: Path, max_sessions: int = 4) -> LocalEngine:
    return LocalEngine(
        lambda: WhisperTranscriber(str(model), device="cpu", cpu_threads=1),
        lambda threshold: SileroVad(threshold),
        max_sessions=max_sessions,
    )


@pytest.fixture
async def server(tiny_model: Path) -> AsyncIterator[HarkServer]:
    engine = engine_for(tiny_model, max_sessions=8)
    running = await serve(engine, token=None, max_sessions=2)
    try:
        yield running
    finally:
        await running.aclose()
        await engine.aclose()


def url_of(server: HarkServer) -> str:
    return f"ws://127.0.0.1:{server.port}{BASETEN_PATH}"


@pytest.mark.parametrize(("schema", "realtime"), [("current", True), ("legacy", False)])
async def test_hark_baseten_client(
    server: HarkServer, schema: BasetenSchema, realtime: bool
) -> None:
    """Partials need real-time pace: sent faster, an utterance ends before its partial is
    transcribed, and the engine drops a partial whose utterance has ended."""
    events: list[Event] = []
    options = BasetenOptions(endpoint=url_of(server), schema=schema, word_timestamps=True)
    session = StreamingSession(options, "any-key", open_connection, on_event=events.append)
    source = ArraySource(two_utterances())
    run = session.run(RealtimeSource(source) if realtime else source)
    result = await asyncio.wait_for(run, 30 * TIMEOUT_FACTOR)
    finals = [e for e in events if isinstance(e, Final)]
    assert [f.text.strip() for f in finals] == [TEXT, TEXT]
    if realtime:
        assert any(isinstance(e, Partial) and e.text.strip() == TEXT for e in events)
    assert result.flush_confirmed
    assert result.transcript.text.count(TEXT) == 2
    kinds = [type(e) for e in events]
    assert kinds.index(FlushAck) > kinds.index(Final)
    assert events[-1] == SessionEnded("client_close", 1000, "")
    if schema == "current":
        assert [w.text.strip() for w in finals[0].words] == TEXT.split()


async def test_docs_example_client(server: HarkServer) -> None:
    outcome = await docs.stream(
        url_of(server), to_pcm16(two_utterances()), api_key="anything", realtime=True
    )
    assert outcome.errors == []
    assert [m["is_final"] for m in outcome.finals] == [True, True]
    assert outcome.text == f"{TEXT}{SCRIPTED_TEXT}".strip()
    # The docs example prints each message's top-level transcript: it is the segments' text.
    for message in outcome.transcriptions:
        joined = "".join(s["text"] for s in message["segments"]).strip()
        assert message["transcript"] == joined, message
    assert outcome.partials, "partials were asked for"
    first = outcome.finals[0]
    assert first["transcription_num"] == 1
    assert outcome.finals[1]["transcription_num"] == 2
    assert outcome.finals[1].get("is_end_of_audio_flush") is True
    assert "is_end_of_audio_flush" not in first
    words = first["segments"][0]["word_timestamps"]
    assert [w["word"].strip() for w in words] == TEXT.split()
    assert outcome.end_audio_statuses == ["acknowledged", "finished"]
    assert outcome.messages[-1]["body"]["status"] == "finished"
    assert outcome.close_code == 1000  # closed by the client, after `finished`


async def test_third_client_past_the_limit_is_rejected(server: HarkServer) -> None:
    url = url_of(server)
    holders = [await websockets.connect(url) for _ in range(2)]
    for ws in holders:
        await ws.send(json.dumps(docs.METADATA))
        await ws.send(to_pcm16(silence(0.064)))
    async with websockets.connect(url) as third:
        error = json.loads(await asyncio.wait_for(third.recv(), 10))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(third.recv(), 10)
    assert error["type"] == "error"
    assert error["body"]["recoverable"] is False
    assert error["body"]["error_type"] == "StreamError"
    assert "at most 2 sessions" in error["body"]["message"]
    assert third.close_code == 1013
    # The two sessions are unharmed, and once one ends a new client gets in.
    for ws in holders:
        await ws.send(json.dumps({"type": "end_audio"}))
        statuses = [json.loads(await asyncio.wait_for(ws.recv(), 10))["body"]["status"]]
        statuses.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["body"]["status"])
        assert statuses == ["acknowledged", "finished"]
        await ws.close()
    outcome = await docs.stream(url, to_pcm16(speechlike(1.0)))
    assert outcome.end_audio_statuses == ["acknowledged", "finished"]


async def test_network_address_needs_a_token(tiny_model: Path) -> None:
    engine = engine_for(tiny_model)
    try:
        with pytest.raises(ServeRefused, match="needs a token: set HARK_SERVE_TOKEN"):
            await serve(engine, host="0.0.0.0", token=None, max_sessions=1)
    finally:
        await engine.aclose()


async def test_token_checked_before_the_upgrade(tiny_model: Path) -> None:
    engine = engine_for(tiny_model)
    running = await serve(engine, token=TOKEN, max_sessions=2)
    url = url_of(running)
    try:
        assert "Api-Key" in running.describe()
        assert TOKEN not in running.describe()
        for headers in ({}, {"Authorization": "Api-Key wrong"}, {"Authorization": TOKEN}):
            with pytest.raises(InvalidStatus) as info:
                await websockets.connect(url, additional_headers=headers)
            assert info.value.response.status_code == 401
        session = StreamingSession(BasetenOptions(endpoint=url), "wrong", open_connection)
        with pytest.raises(KeyRejectedError):
            await session.run(ArraySource(speechlike(0.5)))
        outcome = await docs.stream(url, to_pcm16(speechlike(1.0)), api_key=TOKEN)
        assert outcome.text == TEXT
        with pytest.raises(InvalidStatus) as info:
            await websockets.connect(f"ws://127.0.0.1:{running.port}/other/path")
        assert info.value.response.status_code == 404
    finally:
        await running.aclose()
        await engine.aclose()


async def test_hark_serve_command(tmp_path: Path, tiny_model: Path) -> None:
    env = hark_env(tmp_path, HARK_SERVE_TOKEN=TOKEN)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "serve", "--port", "0", "--model", str(tiny_model),
        "--cpu-threads", "1", "--max-sessions", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30 * TIMEOUT_FACTOR)
        assert line.startswith(b"listening on ws://127.0.0.1:"), line
        match = re.search(rb"ws://\S+", line)
        assert match is not None
        url = match.group().decode()
        assert url.endswith(BASETEN_PATH)
        outcome = await docs.stream(url, to_pcm16(speechlike(1.0)), api_key=TOKEN)
        assert outcome.text == TEXT
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 15 * TIMEOUT_FACTOR)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    err = (await proc.stderr.read()).decode()
    assert code == 0, err
    assert TOKEN not in err
    assert "shutting down" in err


async def test_hark_serve_refuses_a_network_address_without_token(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "serve", "--host", "0.0.0.0", "--model", "/nonexistent",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=hark_env(tmp_path), cwd=ROOT,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30 * TIMEOUT_FACTOR)
    assert proc.returncode == 1
    assert out == b""
    assert err.decode().splitlines() == [
        "hark: error: Listening on 0.0.0.0 lets other machines connect, so it needs a token: "
        "set HARK_SERVE_TOKEN (or name another variable with --token-env)."
    ]


async def test_hark_transcribe_needs_no_key_for_a_local_serve(
    server: HarkServer, tmp_path: Path
) -> None:
    """`hark serve` on loopback says no token is needed; Hark's client agrees."""
    audio = tmp_path / "speech.wav"
    soundfile.write(audio, np.concatenate([speechlike(1.0), silence(0.3)]), 16000)
    done = await run_hark(
        "transcribe", str(audio), "--provider", "baseten", "--endpoint", url_of(server),
        "--fast", env=hark_env(tmp_path),  # no BASETEN_API_KEY, an empty keyring
    )  # fmt: skip
    assert done.code == 0, done.err
    assert done.out.strip() == TEXT


async def test_a_local_serve_with_a_token_refuses_a_keyless_client(
    tiny_model: Path, tmp_path: Path
) -> None:
    engine = engine_for(tiny_model)
    running = await serve(engine, token=TOKEN, max_sessions=1)
    try:
        options = BasetenOptions(endpoint=url_of(running))
        session = StreamingSession(options, "", open_connection)
        with pytest.raises(KeyRejectedError):
            await session.run(ArraySource(speechlike(0.5)))
    finally:
        await running.aclose()
        await engine.aclose()


async def test_silent_clients_are_closed_and_free_their_slots(tiny_model: Path) -> None:
    """Clients that connect and send nothing must not lock real users out."""
    engine = engine_for(tiny_model)
    running = await serve(engine, token=None, max_sessions=2, idle_timeout_s=0.5)
    try:
        url = url_of(running)
        silent = [await websockets.connect(url), await websockets.connect(url)]
        for ws in silent:
            error = json.loads(await asyncio.wait_for(ws.recv(), 10 * TIMEOUT_FACTOR))
            assert error["type"] == "error"
            assert "No audio or message for 0.5 s" in error["body"]["message"]
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10 * TIMEOUT_FACTOR)
            assert ws.close_code == 1008
        # Both slots are free again: a real client is served in full, although
        # its last final comes only after it has gone quiet (the wait after end_audio).
        events: list[Event] = []
        options = BasetenOptions(endpoint=url)
        session = StreamingSession(options, "", open_connection, on_event=events.append)
        result = await asyncio.wait_for(session.run(ArraySource(two_utterances())), 30)
        assert result.transcript.text.count(TEXT) == 2
        assert result.flush_confirmed
    finally:
        await running.aclose()
        await engine.aclose()
