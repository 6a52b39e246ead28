"""The provider emulators, driven by raw WebSocket clients written from docs/wire-protocols.md.

The clients here follow the spec directly; they share no code with Hark's adapters.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

from tests.emulators import (
    BasetenEmulator,
    Faults,
    FireworksEmulator,
    Script,
    Timeline,
    TogetherEmulator,
    Utterance,
)
from tests.helpers import TIMEOUT_FACTOR

T = 5 * TIMEOUT_FACTOR
KEY = "test-key"
SCRIPT = Script(
    [
        Utterance("Hello world.", partials=[(0.4, "Hello"), (0.8, "Hello wor")], final_at=1.2),
        Utterance("Naïve café — ok 😀", partials=[(1.6, "Naïve")], final_at=None),
    ]
)
METADATA_B = {
    "whisper_params": {"audio_language": "en", "show_word_timestamps": True},
    "streaming_params": {
        "encoding": "pcm_s16le",
        "sample_rate": 16000,
        "enable_partial_transcripts": True,
        "partial_transcript_interval_s": 0.5,
        "final_transcript_max_duration_s": 30,
    },
    "streaming_vad_config": {"threshold": 0.5, "min_silence_duration_ms": 300, "speech_pad_ms": 30},
}
METADATA_A = {
    "vad_params": {"threshold": 0.5, "min_silence_duration_ms": 300, "speech_pad_ms": 30},
    "streaming_whisper_params": {
        "encoding": "pcm_s16le",
        "sample_rate": 16000,
        "enable_partial_transcripts": True,
        "audio_language": "en",
        "show_word_timestamps": True,
    },
}
TOGETHER_QUERY = "?model=openai/whisper-large-v3&input_audio_format=pcm_s16le_16000"
FIREWORKS_QUERY = "?response_format=verbose_json&timestamp_granularities=word,segment&language=en"


def pcm(seconds: float) -> bytes:
    return bytes(2 * round(seconds * 16000))


def chunks(data: bytes, size: int, *, pad: bool = False) -> list[bytes]:
    out = [data[i : i + size] for i in range(0, len(data), size)]
    if pad and out and len(out[-1]) < size:
        out[-1] = out[-1] + bytes(size - len(out[-1]))
    return out


async def recv_json(ws: ClientConnection) -> Any:
    message = await asyncio.wait_for(ws.recv(), T)
    assert isinstance(message, str), "the server sent a binary frame"
    return json.loads(message)


async def recv_until(ws: ClientConnection, done: Callable[[Any], bool]) -> list[Any]:
    """Every message up to and including the first one for which ``done`` holds."""
    got = [await recv_json(ws)]
    while not done(got[-1]):
        got.append(await recv_json(ws))
    return got


async def read_forever(ws: ClientConnection) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), T)


async def closed_code(ws: ClientConnection) -> int | None:
    """Read until the server closes; the close code it sent (None: no close frame)."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), T)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


def baseten_auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Api-Key {key}"}


def seg_text(message: dict[str, Any]) -> str:
    return "".join(s["text"] for s in message["segments"]).strip()


# -- the scripted core ----------------------------------------------------------------------------


def test_timeline_advances_by_received_samples_only() -> None:
    timeline = Timeline(SCRIPT)
    assert timeline.advance(6399) == []
    assert [(h.kind, h.text) for h in timeline.advance(1)] == [("partial", "Hello")]
    due = timeline.advance(16000)  # one big chunk: everything up to 1.4 s, in order
    assert [(h.kind, h.text) for h in due] == [("partial", "Hello wor"), ("final", "Hello world.")]
    assert due[-1].words() == [("Hello", 0.0, 0.6), ("world.", 0.6, 1.2)]
    assert timeline.flush() == []  # the second utterance has not begun at 1.4 s
    timeline.advance(3200)
    (final,) = timeline.flush()
    assert (final.index, final.text, final.flush, final.end) == (1, "Naïve café — ok 😀", True, 1.6)


def test_script_rejects_partials_after_the_final() -> None:
    with pytest.raises(ValueError, match="before final_at"):
        Utterance("x", partials=[(2.0, "x")], final_at=1.0)


# -- Baseten --------------------------------------------------------------------------------------


async def test_baseten_happy_path() -> None:
    async with BasetenEmulator(SCRIPT, api_key=KEY, accept_schema="current") as emu:
        assert emu.url.endswith("/environments/production/websocket")
        async with connect(emu.url, additional_headers=baseten_auth()) as ws:
            await ws.send(json.dumps(METADATA_B))
            frames = chunks(pcm(2.0), 1024, pad=True)
            for frame in frames:
                await ws.send(frame)
            live = [await recv_json(ws) for _ in range(4)]
            await ws.send(json.dumps({"type": "end_audio", "trace_id": "t-1"}))
            ending = await recv_until(ws, lambda m: m.get("body", {}).get("status") == "finished")
        await emu.wait_until(lambda: emu.connections[0].ended, T)
    assert [(m["is_final"], m["transcription_num"], seg_text(m)) for m in live] == [
        (False, 0, "Hello"),
        (False, 0, "Hello wor"),
        (True, 1, "Hello world."),
        (False, 1, "Naïve"),
    ]
    assert live[2]["segments"][0]["text"] == " Hello world."  # Whisper's leading space
    words = live[2]["segments"][0]["word_timestamps"]
    assert [(w["word"], w["start_time"], w["end_time"]) for w in words] == [
        (" Hello", 0.0, 0.6),
        (" world.", 0.6, 1.2),
    ]
    assert all("is_end_of_audio_flush" not in m for m in live)
    ack, final, finished = ending
    assert ack == {
        "type": "end_audio",
        "trace_id": "t-1",
        "timestamp": None,
        "body": {"status": "acknowledged"},
    }
    assert (final["is_final"], final["transcription_num"]) == (True, 2)
    assert (seg_text(final), final["is_end_of_audio_flush"]) == ("Naïve café — ok 😀", True)
    assert finished["body"] == {"status": "finished"}
    assert finished["trace_id"] is None
    record = emu.connections[0]
    assert record.schema == "current"
    assert record.metadata == METADATA_B
    assert record.headers["authorization"] == record.headers["Authorization"] == "Api-Key test-key"
    assert record.samples_received == 512 * len(frames) == emu.total_samples
    assert set(record.frames) == {1024}
    assert record.control == [{"type": "end_audio", "trace_id": "t-1"}]
    assert record.client_closed_after_finished
    assert record.close_code == 1000
    assert emu.violations == []


async def test_baseten_partials_are_off_by_default_and_server_never_closes() -> None:
    async with (
        BasetenEmulator(SCRIPT, api_key=KEY) as emu,
        connect(emu.url, additional_headers=baseten_auth()) as ws,
    ):
        await ws.send("{}")
        for frame in chunks(pcm(1.3), 1024, pad=True):
            await ws.send(frame)
        final = await recv_json(ws)
        await ws.send(json.dumps({"type": "end_audio"}))
        await recv_until(ws, lambda m: m.get("body", {}).get("status") == "finished")
        await ws.send(json.dumps({"type": "health_check", "body": {"get_partial_interval": True}}))
        health = await recv_json(ws)  # still open after `finished`
    assert (final["is_final"], final["segments"][0]["word_timestamps"]) == (True, [])
    assert health["body"] == {"healthy": True, "partial_interval": 0.5}
    assert emu.violations == []


@pytest.mark.parametrize(
    ("auth", "faults", "status"),
    [
        ({"Authorization": "Api-Key wrong"}, Faults(), 401),
        ({"Authorization": f"Bearer {KEY}"}, Faults(), 401),
        ({}, Faults(), 401),
        (baseten_auth(), Faults(reject_key=True), 401),
        (baseten_auth(), Faults(http_status=503), 503),
    ],
)
async def test_baseten_handshake_rejections(
    auth: dict[str, str], faults: Faults, status: int
) -> None:
    async with BasetenEmulator(SCRIPT, api_key=KEY, faults=faults) as emu:
        with pytest.raises(InvalidStatus) as info:
            async with connect(emu.url, additional_headers=auth, open_timeout=T):
                pass
    assert info.value.response.status_code == status
    assert emu.connections[0].status == status
    assert emu.total_samples == 0


BAD_METADATA = [
    pytest.param({**METADATA_B, "asr_options": {}}, id="top-level asr_options"),
    pytest.param({**METADATA_B, "whisper_sampling_params": {}}, id="top-level sampling params"),
    pytest.param({"streaming_params": {"encoding": "pcm_s16le", "foo": 1}}, id="nested unknown"),
    pytest.param({"whisper_params": {"whisper_sampling_params": {"top_k": 5}}}, id="sampling key"),
    pytest.param({"streaming_vad_config": {"min_speech_duration_ms": 250}}, id="vad kwarg"),
    pytest.param({"vad_params": {}, "streaming_params": {}, "whisper_params": {}}, id="hybrid"),
    pytest.param({"streaming_params": {"sample_rate": 48000}}, id="unsupported rate"),
    pytest.param({"streaming_params": {"enable_partial_transcripts": "yes"}}, id="wrong type"),
    pytest.param([1, 2], id="not an object"),
]


@pytest.mark.parametrize("metadata", BAD_METADATA)
async def test_baseten_rejects_bad_metadata_with_1011_and_no_frame(metadata: Any) -> None:
    async with (
        BasetenEmulator(SCRIPT, api_key=KEY, accept_schema="both") as emu,
        connect(emu.url, additional_headers=baseten_auth()) as ws,
    ):
        await ws.send(json.dumps(metadata))
        assert await closed_code(ws) == 1011
    record = emu.connections[0]
    assert record.rejected
    assert record.metadata == metadata
    assert record.sent == []
    assert record.closed_by == "server"
    assert emu.violations == []  # a rejection is the server's answer, not a recorded violation


async def test_baseten_metadata_rejection_can_send_an_error_frame_first() -> None:
    faults = Faults(metadata_rejection="error_then_close")
    async with (
        BasetenEmulator(SCRIPT, api_key=KEY, faults=faults) as emu,
        connect(emu.url, additional_headers=baseten_auth()) as ws,
    ):
        await ws.send(json.dumps(METADATA_A))
        error = await recv_json(ws)
        assert await closed_code(ws) == 1011
    assert error["type"] == "error"
    assert error["body"]["recoverable"] is False
    assert "vad_params: Extra inputs are not permitted" in error["body"]["message"]


async def test_baseten_rejection_is_seen_behind_an_audio_backlog() -> None:
    """The server drains what the client keeps sending, so the client still sees the 1011."""
    async with (
        BasetenEmulator(SCRIPT, api_key=KEY, accept_schema="legacy") as emu,
        connect(emu.url, additional_headers=baseten_auth()) as ws,
    ):
        await ws.send(json.dumps(METADATA_B))
        for frame in chunks(pcm(60.0), 1024):
            await ws.send(frame)
        assert await closed_code(ws) == 1011
    assert emu.connections[0].samples_received == 0
    assert emu.connections[0].ignored_frames > 0


async def test_scripts_per_session_skip_rejected_connections() -> None:
    first = Script([Utterance("First.", final_at=0.1)])
    second = Script([Utterance("Second.", final_at=0.1)])
    texts = []
    async with BasetenEmulator([first, second], api_key=KEY, accept_schema="legacy") as emu:
        async with connect(emu.url, additional_headers=baseten_auth()) as ws:
            await ws.send(json.dumps(METADATA_B))
            assert await closed_code(ws) == 1011
        for _ in range(2):
            async with connect(emu.url, additional_headers=baseten_auth()) as ws:
                await ws.send(json.dumps(METADATA_A))
                for frame in chunks(pcm(0.2), 1024, pad=True):
                    await ws.send(frame)
                texts.append(seg_text(await recv_json(ws)))
        await emu.wait_until(lambda: all(c.ended for c in emu.connections), T)
    assert texts == ["First.", "Second."]
    assert [c.session_index for c in emu.connections] == [None, 0, 1]


async def test_baseten_first_frame_must_be_text() -> None:
    async with (
        BasetenEmulator(SCRIPT, api_key=KEY) as emu,
        connect(emu.url, additional_headers=baseten_auth()) as ws,
    ):
        await ws.send(bytes(1024))
        assert await closed_code(ws) == 1011
    assert "TEXT frame" in (emu.connections[0].rejected or "")


@pytest.mark.parametrize(
    ("accept", "metadata", "schema"),
    [
        ("current", METADATA_B, "current"),
        ("current", METADATA_A, None),
        ("legacy", METADATA_A, "legacy"),
        ("legacy", METADATA_B, None),
        ("both", METADATA_A, "legacy"),
        ("both", METADATA_B, "current"),
        ("none", METADATA_B, None),
    ],
)
async def test_baseten_schema_modes(accept: Any, metadata: Any, schema: str | None) -> None:
    async with (
        BasetenEmulator(SCRIPT, api_key=KEY, accept_schema=accept) as emu,
        connect(emu.url, additional_headers=baseten_auth()) as ws,
    ):
        await ws.send(json.dumps(metadata))
        await ws.send(json.dumps({"type": "health_check"}))
        if schema is None:
            assert await closed_code(ws) == 1011
        else:
            assert (await recv_json(ws))["type"] == "health_check"
    assert emu.connections[0].schema == schema
    assert (emu.connections[0].rejected is None) == (schema is not None)


async def test_baseten_top_level_sampling_switch() -> None:
    metadata = {**METADATA_B, "whisper_sampling_params": {"beam_width": 2}, "asr_options": {}}
    async with (
        BasetenEmulator(SCRIPT, api_key=KEY, accept_top_level_sampling=True) as emu,
        connect(emu.url, additional_headers=baseten_auth()) as ws,
    ):
        await ws.send(json.dumps(metadata))
        await ws.send(json.dumps({"type": "health_check"}))
        assert (await recv_json(ws))["type"] == "health_check"
    assert emu.connections[0].rejected is None


async def test_baseten_frame_size_violation_is_recorded() -> None:
    async with (
        BasetenEmulator(SCRIPT, api_key=KEY) as emu,
        connect(emu.url, additional_headers=baseten_auth()) as ws,
    ):
        await ws.send("{}")
        await ws.send(bytes(1024))
        await ws.send(bytes(1000))
        await ws.send(json.dumps({"type": "health_check"}))
        await recv_json(ws)
    record = emu.connections[0]
    assert record.frames == [1024, 1000]
    assert record.samples_received == 1012
    assert len(emu.violations) == 1
    assert "1000 bytes" in emu.violations[0]


async def test_baseten_strict_frame_policy_closes() -> None:
    async with (
        BasetenEmulator(SCRIPT, api_key=KEY, frame_policy="strict") as emu,
        connect(emu.url, additional_headers=baseten_auth()) as ws,
    ):
        await ws.send("{}")
        await ws.send(bytes(2048))
        assert await closed_code(ws) == 1011
    assert emu.connections[0].violations


async def test_baseten_bad_control_messages_get_recoverable_errors() -> None:
    async with (
        BasetenEmulator(SCRIPT, api_key=KEY) as emu,
        connect(emu.url, additional_headers=baseten_auth()) as ws,
    ):
        await ws.send("{}")
        await ws.send(json.dumps({"terminate_session": True}))
        invalid = await recv_json(ws)
        await ws.send(json.dumps({"type": "pause"}))
        unknown = await recv_json(ws)
        await ws.send(json.dumps({"type": "health_check"}))
        assert (await recv_json(ws))["type"] == "health_check"  # the session continues
    assert invalid["type"] == "error"
    assert invalid["body"]["recoverable"] is True
    assert invalid["body"]["message"].startswith("Failed to validate text message")
    assert unknown == {"type": "error", "body": {"error": "Unhandled message type: pause"}}
    assert len(emu.violations) == 2


async def test_baseten_error_fault_is_fatal() -> None:
    faults = Faults(error_at_s=0.5, error_message="quota exceeded")
    async with (
        BasetenEmulator(SCRIPT, api_key=KEY, faults=faults) as emu,
        connect(emu.url, additional_headers=baseten_auth()) as ws,
    ):
        await ws.send("{}")
        for frame in chunks(pcm(0.5), 1024, pad=True):
            await ws.send(frame)
        error = await recv_json(ws)
        assert await closed_code(ws) == 1011
    assert error["body"]["message"] == "quota exceeded"
    assert error["body"]["recoverable"] is False


async def test_baseten_no_flush_reply() -> None:
    async with (
        BasetenEmulator(SCRIPT, api_key=KEY, faults=Faults(no_flush_reply=True)) as emu,
        connect(emu.url, additional_headers=baseten_auth()) as ws,
    ):
        await ws.send("{}")
        await ws.send(json.dumps({"type": "end_audio"}))
        await ws.send(json.dumps({"type": "health_check"}))
        assert (await recv_json(ws))["type"] == "health_check"  # nothing for end_audio
    record = emu.connections[0]
    assert record.flush_requested
    assert not record.flush_done


@pytest.mark.parametrize("shape", ["transcript", "message_type"])
async def test_baseten_legacy_result_shapes(shape: Any) -> None:
    script = Script([Utterance("Hi there.", partials=[(0.1, "Hi")], final_at=0.2)])
    async with (
        BasetenEmulator(script, api_key=KEY, accept_schema="legacy", result_shape=shape) as emu,
        connect(emu.url, additional_headers=baseten_auth()) as ws,
    ):
        await ws.send(json.dumps(METADATA_A))
        for frame in chunks(pcm(0.3), 1024, pad=True):
            await ws.send(frame)
        partial, final = await recv_json(ws), await recv_json(ws)
    assert (partial["transcript"], final["transcript"]) == ("Hi", "Hi there.")
    if shape == "transcript":
        assert (partial["is_final"], final["is_final"]) == (False, True)
        assert final["segments"] == [{"start": 0.0, "end": 0.2, "text": " Hi there."}]
    else:
        assert (partial["message_type"], final["message_type"]) == (
            "partial_transcript",
            "final_transcript",
        )
    assert emu.violations == []


# -- Together -------------------------------------------------------------------------------------


def together_headers(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "OpenAI-Beta": "realtime=v1"}


def append(data: bytes) -> str:
    return json.dumps(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(data).decode()}
    )


async def test_together_happy_path() -> None:
    async with TogetherEmulator(SCRIPT, api_key=KEY) as emu:
        assert emu.url.endswith("/v1/realtime")
        async with connect(emu.url + TOGETHER_QUERY, additional_headers=together_headers()) as ws:
            created = await recv_json(ws)
            for chunk in chunks(pcm(2.0), 3200):
                await ws.send(append(chunk))
            live = [await recv_json(ws) for _ in range(4)]
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            committed, completed = await recv_json(ws), await recv_json(ws)
    assert created["type"] == "session.created"
    assert created["session"]["turn_detection"]["max_speech_duration_s"] == 5.0
    prefix = "conversation.item.input_audio_transcription."
    assert [
        (m["type"].removeprefix(prefix), m.get("delta", m.get("transcript"))) for m in live
    ] == [
        ("delta", "Hello"),
        ("delta", "Hello wor"),  # the whole hypothesis: it replaces "Hello"
        ("completed", "Hello world."),
        ("delta", "Naïve"),
    ]
    assert live[0]["item_id"] == live[2]["item_id"] != live[3]["item_id"]
    assert committed["type"] == "input_audio_buffer.committed"
    assert completed["type"] == prefix + "completed"
    assert (completed["item_id"], completed["transcript"]) == (
        live[3]["item_id"],
        SCRIPT.utterances[1].text,
    )
    record = emu.connections[0]
    assert record.query["model"] == "openai/whisper-large-v3"
    assert record.frames == [3200] * 20
    assert record.samples_received == 32000
    assert record.client_closed_after_flush
    assert emu.violations == []
    assert record.notes == []


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("?input_audio_format=pcm_s16le_16000", 400),
        ("?model=openai/whisper-large-v3", 400),
        ("?model=openai/whisper-large-v3&input_audio_format=pcm_s16le_24000", 400),
        ("", 400),
    ],
)
async def test_together_rejects_missing_query_params(query: str, status: int) -> None:
    async with TogetherEmulator(SCRIPT, api_key=KEY) as emu:
        with pytest.raises(InvalidStatus) as info:
            async with connect(emu.url + query, additional_headers=together_headers()):
                pass
    assert info.value.response.status_code == status
    assert emu.connections[0].rejected


async def test_together_bad_key() -> None:
    async with TogetherEmulator(SCRIPT, api_key=KEY) as emu:
        with pytest.raises(InvalidStatus) as info:
            async with connect(emu.url + TOGETHER_QUERY, additional_headers=together_headers("x")):
                pass
    assert info.value.response.status_code == 401


async def test_together_query_violations_and_bad_audio() -> None:
    query = TOGETHER_QUERY + "&threshold=2&min_silence_duration_ms=abc&sample_rate=16000"
    async with (
        TogetherEmulator(SCRIPT, api_key=KEY, error_shape="top_level") as emu,
        connect(emu.url + query, additional_headers=together_headers()) as ws,
    ):
        await recv_json(ws)
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": "!!"}))
        error = await recv_json(ws)
        await ws.send(append(bytes(3)))
    assert error == {
        "type": "error",
        "message": "Invalid base64 audio",
        "event_id": error["event_id"],
    }
    found = emu.violations
    assert any("threshold='2'" in v for v in found)
    assert any("min_silence_duration_ms='abc'" in v for v in found)
    assert any("unknown query parameter 'sample_rate'" in v for v in found)
    assert any("valid base64" in v for v in found)
    assert any("not whole 16-bit samples" in v for v in found)


async def test_together_without_vad_waits_for_commit() -> None:
    async with TogetherEmulator(SCRIPT, api_key=KEY) as emu:
        url = emu.url + TOGETHER_QUERY + "&turn_detection=none"
        async with connect(url, additional_headers=together_headers()) as ws:
            assert (await recv_json(ws))["session"]["turn_detection"] is None
            for chunk in chunks(pcm(2.0), 3200):
                await ws.send(append(chunk))
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
            first = await recv_until(ws, lambda m: m.get("transcript") == SCRIPT.utterances[1].text)
            await ws.send(json.dumps({"type": "input_audio_buffer.commit"}))  # nothing pending
            await ws.send(json.dumps({"type": "bogus"}))
            second = [await recv_json(ws), await recv_json(ws)]
    assert [m["type"].rsplit(".", 1)[-1] for m in first] == ["committed", "completed", "completed"]
    assert [m.get("transcript") for m in first[1:]] == ["Hello world.", SCRIPT.utterances[1].text]
    assert [m["type"] for m in second] == ["input_audio_buffer.committed", "error"]
    assert emu.violations == ['connection 0: unsupported client message: \'{"type": "bogus"}\'']


# -- Fireworks ------------------------------------------------------------------------------------

REVISED = Script(
    [
        Utterance(
            "Hello world.",
            partials=[(0.4, "Hello"), (0.8, "Hello wor")],
            final_at=1.2,
            revisions=[(1.8, "Hello, world.")],
        ),
        Utterance("Second one.", partials=[(1.6, "Second")], final_at=None),
    ]
)


def fireworks_state(messages: list[dict[str, Any]]) -> dict[str, tuple[str, bool]]:
    """The documented client algorithm: overwrite segments by id; final = last word is_final."""
    state: dict[str, tuple[str, bool]] = {}
    for message in messages:
        for s in message.get("segments", []):
            state[str(s["id"])] = (s["text"], bool(s["words"]) and s["words"][-1]["is_final"])
    return state


async def test_fireworks_overwrite_revision_and_checkpoint_echo() -> None:
    async with FireworksEmulator(REVISED, api_key=KEY) as emu:
        assert emu.url.endswith("/v1/audio/transcriptions/streaming")
        url = emu.url + FIREWORKS_QUERY
        async with connect(url, additional_headers={"Authorization": KEY}) as ws:
            for chunk in chunks(pcm(2.0), 3200):
                await ws.send(chunk)
            live = [await recv_json(ws) for _ in range(5)]
            await ws.send(json.dumps({"checkpoint_id": "final"}))
            ending = await recv_until(ws, lambda m: m == {"checkpoint_id": "final"})
    assert [fireworks_state(live[: k + 1]) for k in range(5)] == [
        {"0": ("Hello", False)},
        {"0": ("Hello wor", False)},
        {"0": ("Hello world.", True)},
        {"0": ("Hello world.", True), "1": ("Second", False)},
        {"0": ("Hello, world.", False), "1": ("Second", False)},  # id 0 overwritten
    ]
    assert live[4]["text"] == "Hello, world. Second"
    assert fireworks_state(live + ending) == {
        "0": ("Hello world.", True),
        "1": ("Second one.", True),
    }
    assert len(ending) == 3
    assert all(isinstance(s["id"], int) for s in ending[0]["segments"])
    word = live[2]["segments"][0]["words"][0]
    assert word == {
        "word": "Hello",
        "language": "en",
        "probability": 0.98,
        "hallucination_score": 0.01,
        "is_final": True,
        "start": 0.0,
        "end": 0.6,
    }
    assert (live[2]["segments"][0]["start"], live[2]["segments"][0]["end"]) == (0.0, 1.2)
    record = emu.connections[0]
    assert record.client_closed_after_flush
    assert record.samples_received == 32000
    assert emu.violations == []


async def test_fireworks_string_ids_changed_mode_and_no_timestamps() -> None:
    emulator = FireworksEmulator(
        SCRIPT, api_key=KEY, segment_id_as_string=True, segments_mode="changed"
    )
    async with emulator as emu, connect(emu.url, additional_headers={"Authorization": KEY}) as ws:
        for chunk in chunks(pcm(1.7), 1600):
            await ws.send(chunk)
        live = [await recv_json(ws) for _ in range(4)]
    assert [[s["id"] for s in m["segments"]] for m in live] == [["0"], ["0"], ["0"], ["1"]]
    assert live[3]["text"] == "Hello world. Naïve"
    assert "start" not in live[0]["segments"][0]
    assert "start" not in live[0]["words"][0]
    assert emu.violations == []


async def test_fireworks_frame_sizes() -> None:
    async with (
        FireworksEmulator(SCRIPT, api_key=KEY) as emu,
        connect(emu.url, additional_headers={"Authorization": KEY}) as ws,
    ):
        await ws.send(bytes(800))  # short, and not the last before a checkpoint
        await ws.send(bytes(16000))  # 500 ms
        await ws.send(bytes(1000))  # short but last before the checkpoint: fine
        await ws.send(json.dumps({"checkpoint_id": "final"}))
        await recv_until(ws, lambda m: "checkpoint_id" in m)
    assert emu.connections[0].frames == [800, 16000, 1000]
    assert len(emu.violations) == 2
    assert "800 bytes" in emu.violations[0]
    assert "over 400 ms" in emu.violations[1]


async def test_fireworks_auth_and_query_checks() -> None:
    async with FireworksEmulator(SCRIPT, api_key=KEY) as emu:
        with pytest.raises(InvalidStatus) as info:
            async with connect(emu.url, additional_headers={"Authorization": f"Bearer {KEY}"}):
                pass
        assert info.value.response.status_code == 401
        url = emu.url + "?response_format=json&temperature=3&foo=1&timestamp_granularities=char"
        async with connect(url, additional_headers={"Authorization": KEY}) as ws:
            trace = {"event_id": "e1", "object": "stt.input.trace", "trace_id": "final"}
            await ws.send(json.dumps(trace))
            echoed = await recv_json(ws)
            await ws.send(
                json.dumps({"event_id": "e2", "object": "stt.state.clear", "reset_id": "r"})
            )
            cleared = await recv_json(ws)
    assert echoed == {"event_id": "e1", "object": "stt.output.trace", "trace_id": "final"}
    assert cleared == {"event_id": "e2", "object": "stt.state.cleared", "reset_id": "r"}
    assert len(emu.connections[1].violations) == 4


# -- faults shared by all skins -------------------------------------------------------------------


async def test_connect_delay_holds_the_handshake_without_losing_audio() -> None:
    loop = asyncio.get_running_loop()
    async with FireworksEmulator(SCRIPT, api_key=KEY, faults=Faults(connect_delay_s=0.3)) as emu:
        started = loop.time()
        async with connect(emu.url, additional_headers={"Authorization": KEY}) as ws:
            opened = loop.time()
            for chunk in chunks(pcm(1.0), 3200):
                await ws.send(chunk)
            await ws.send(json.dumps({"checkpoint_id": "final"}))
            await recv_until(ws, lambda m: "checkpoint_id" in m)
    assert opened - started >= 0.3
    assert emu.total_samples == 16000


async def test_drop_fault_aborts_only_the_first_connection() -> None:
    async with FireworksEmulator(SCRIPT, api_key=KEY, faults=Faults(drop_after_s=0.5)) as emu:
        async with connect(emu.url, additional_headers={"Authorization": KEY}) as ws:
            try:
                for chunk in chunks(pcm(1.0), 3200):
                    await ws.send(chunk)
            except ConnectionClosed:
                pass
            with pytest.raises(ConnectionClosedError) as info:
                await read_forever(ws)
            assert info.value.rcvd is None  # no close frame: the TCP connection was cut
        async with connect(emu.url, additional_headers={"Authorization": KEY}) as ws:
            for chunk in chunks(pcm(1.0), 3200):
                await ws.send(chunk)
            await ws.send(json.dumps({"checkpoint_id": "final"}))
            await recv_until(ws, lambda m: "checkpoint_id" in m)
    first, second = emu.connections
    assert (first.closed_by, first.close_code) == ("abort", 1006)
    assert first.samples_received >= 8000
    assert second.client_closed_after_flush
    assert second.samples_received == 16000


@pytest.mark.parametrize("emulator", [TogetherEmulator, FireworksEmulator])
async def test_error_fault_on_json_providers(emulator: Any) -> None:
    faults = Faults(error_at_s=0.2, error_message="GPU fell over")
    async with emulator(Script([]), api_key=KEY, faults=faults) as emu:
        together = emulator is TogetherEmulator
        headers = together_headers() if together else {"Authorization": KEY}
        async with connect(
            emu.url + (TOGETHER_QUERY if together else ""), additional_headers=headers
        ) as ws:
            if together:
                await recv_json(ws)
            for chunk in chunks(pcm(0.3), 3200):
                await ws.send(append(chunk) if together else chunk)
            error = await recv_json(ws)
    assert error["error"]["message"] == "GPU fell over"
