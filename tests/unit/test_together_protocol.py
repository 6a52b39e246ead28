"""TogetherProtocol: URL and headers, audio framing, flush, and every server message shape."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

from app.core.errors import InsecureEndpointError
from app.core.events import (
    Final,
    FlushAck,
    Partial,
    ProviderError,
    SessionEnded,
    SessionReady,
)
from app.core.options import TogetherOptions
from app.core.providers.base import State
from app.core.providers.registry import build_protocol
from app.core.providers.together import TogetherProtocol
from app.core.providers.wire import format_number, join_query
from tests.protocol_helpers import receive, state

DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"
FAILED = "conversation.item.input_audio_transcription.failed"
COMMIT = '{"type":"input_audio_buffer.commit"}'


def started(**options: Any) -> TogetherProtocol:
    protocol = TogetherProtocol(TogetherOptions(**options))
    protocol.start()
    return protocol


def decode_append(frame: object) -> bytes:
    assert isinstance(frame, str)
    message = json.loads(frame)
    assert set(message) == {"type", "audio"}
    assert message["type"] == "input_audio_buffer.append"
    return base64.b64decode(message["audio"], validate=True)


# -- connection ------------------------------------------------------------------


def test_default_url_and_headers() -> None:
    request = TogetherProtocol().connect_request("tg-secret")
    assert request.url == (
        "wss://api.together.ai/v1/realtime?model=openai/whisper-large-v3"
        "&input_audio_format=pcm_s16le_16000&intent=transcription"
        "&threshold=0.3&min_silence_duration_ms=500&min_speech_duration_ms=250"
        "&max_speech_duration_s=60&speech_pad_ms=250"
    )
    assert dict(request.headers) == {
        "Authorization": "Bearer tg-secret",
        "OpenAI-Beta": "realtime=v1",
    }
    assert "tg-secret" not in repr(request)


def test_every_option_reaches_the_url() -> None:
    options = TogetherOptions(
        endpoint="wss://proxy.example.com/v1/realtime",
        model="nvidia/parakeet-tdt-0.6b-v3",
        language="de",
        vad_threshold=0.55,
        vad_min_silence_ms=800,
        vad_min_speech_ms=100,
        vad_max_speech_s=12.5,
        vad_speech_pad_ms=30,
    )
    request = TogetherProtocol(options).connect_request("k")
    assert request.url == (
        "wss://proxy.example.com/v1/realtime?model=nvidia/parakeet-tdt-0.6b-v3"
        "&input_audio_format=pcm_s16le_16000&intent=transcription&language=de"
        "&threshold=0.55&min_silence_duration_ms=800&min_speech_duration_ms=100"
        "&max_speech_duration_s=12.5&speech_pad_ms=30"
    )


def test_vad_off_sends_turn_detection_none_and_no_vad_parameters() -> None:
    request = TogetherProtocol(TogetherOptions(vad=False, vad_threshold=0.9)).connect_request("k")
    assert request.url == (
        "wss://api.together.ai/v1/realtime?model=openai/whisper-large-v3"
        "&input_audio_format=pcm_s16le_16000&intent=transcription&turn_detection=none"
    )


def test_endpoint_with_a_query_gets_the_parameters_appended() -> None:
    options = TogetherOptions(endpoint="ws://localhost:8765/rt?trace=1", vad=False)
    assert TogetherProtocol(options).connect_request("k").url == (
        "ws://localhost:8765/rt?trace=1&model=openai/whisper-large-v3"
        "&input_audio_format=pcm_s16le_16000&intent=transcription&turn_detection=none"
    )


@pytest.mark.parametrize(
    "endpoint", ["ws://api.together.ai/v1/realtime", "https://api.together.ai/v1/realtime"]
)
def test_insecure_endpoint_is_refused(endpoint: str) -> None:
    with pytest.raises(InsecureEndpointError):
        TogetherProtocol(TogetherOptions(endpoint=endpoint)).connect_request("k")


@pytest.mark.parametrize(
    ("value", "text"), [(0.3, "0.3"), (500, "500"), (60.0, "60"), (12.5, "12.5"), (0, "0")]
)
def test_format_number_has_no_float_noise(value: float, text: str) -> None:
    assert format_number(value) == text


def test_join_query_escapes_values() -> None:
    assert join_query("wss://h/p", {"prompt": "a b&c=d"}) == "wss://h/p?prompt=a+b%26c%3Dd"
    assert join_query("wss://h/p?", {"a": "1"}) == "wss://h/p?a=1"
    assert join_query("wss://h/p", {}) == "wss://h/p"


def test_build_protocol_picks_together() -> None:
    options = TogetherOptions(language="fr")
    protocol = build_protocol(options)
    assert isinstance(protocol, TogetherProtocol)
    assert protocol.options is options


# -- life cycle and audio -----------------------------------------------------------


def test_start_sends_nothing_and_streams() -> None:
    protocol = TogetherProtocol()
    assert state(protocol) is State.IDLE
    protocol.start()
    assert state(protocol) is State.STREAMING
    assert protocol.data_to_send() == []
    assert protocol.sample_rate == 16000


def test_calls_out_of_order_raise() -> None:
    protocol = TogetherProtocol()
    with pytest.raises(RuntimeError, match="idle"):
        protocol.send_audio(b"\x00\x00")
    with pytest.raises(RuntimeError):
        protocol.flush()
    protocol.start()
    with pytest.raises(RuntimeError):
        protocol.start()
    protocol.flush()
    with pytest.raises(RuntimeError, match="flushing"):
        protocol.send_audio(b"\x00\x00")
    with pytest.raises(RuntimeError):
        protocol.flush()


def test_audio_is_sent_as_base64_appends_of_exactly_100_ms() -> None:
    protocol = started()
    pcm = bytes(range(256)) * 28  # 7168 bytes: two full frames and 768 bytes over
    protocol.send_audio(pcm)
    frames = protocol.data_to_send()
    assert [len(decode_append(f)) for f in frames] == [3200, 3200]
    assert all(isinstance(f, str) for f in frames)
    assert frames[0] == (
        '{"type":"input_audio_buffer.append","audio":"'
        + base64.b64encode(pcm[:3200]).decode()
        + '"}'
    )
    protocol.flush()
    tail = protocol.data_to_send()
    assert len(tail) == 2
    assert decode_append(tail[0]) == pcm[6400:]  # unpadded
    assert tail[1] == COMMIT
    assert b"".join(decode_append(f) for f in [*frames, tail[0]]) == pcm
    assert state(protocol) is State.FLUSHING
    assert not protocol.close_expected()


def test_small_blocks_are_buffered_into_full_frames() -> None:
    protocol = started()
    protocol.send_audio(b"\x01" * 1000)
    assert protocol.data_to_send() == []
    protocol.send_audio(b"\x02" * 2500)
    (frame,) = protocol.data_to_send()
    assert decode_append(frame) == b"\x01" * 1000 + b"\x02" * 2200


def test_flush_without_remainder_sends_only_the_commit() -> None:
    protocol = started()
    protocol.send_audio(b"\x00" * 3200)
    assert len(protocol.data_to_send()) == 1
    protocol.flush()
    assert protocol.data_to_send() == [COMMIT]


# -- server messages -----------------------------------------------------------------


def test_session_created_reports_the_session_id() -> None:
    protocol = started()
    message = {"type": "session.created", "session": {"id": "sess_123", "model": "x"}}
    assert receive(protocol, message) == [SessionReady("sess_123")]
    assert receive(protocol, {"type": "session.created"}) == [SessionReady(None)]


def test_session_created_may_arrive_before_start() -> None:
    protocol = TogetherProtocol()
    assert receive(protocol, {"type": "session.created", "session": {"id": "s"}}) == [
        SessionReady("s")
    ]


def test_docs_example_delta_then_completed() -> None:
    protocol = started()
    events = receive(
        protocol,
        '{"type":"conversation.item.input_audio_transcription.delta",'
        '"delta":"The quick brown fox jumps"}',
    )
    assert events == [Partial("u1", "The quick brown fox jumps")]
    events = receive(
        protocol,
        '{"type":"conversation.item.input_audio_transcription.completed",'
        '"transcript":"The quick brown fox jumps over the lazy dog"}',
    )
    assert events == [Final("u1", "The quick brown fox jumps over the lazy dog", reason="vad")]


def test_each_delta_replaces_the_previous_one() -> None:
    protocol = started()
    receive(protocol, {"type": DELTA, "delta": "The quick"})
    events = receive(protocol, {"type": DELTA, "delta": "The quick brown"})
    assert events == [Partial("u1", "The quick brown")]  # not "The quickThe quick brown"
    events = receive(protocol, {"type": DELTA, "delta": "A quick"})
    assert events == [Partial("u1", "A quick")]


def test_delta_falls_back_to_transcript() -> None:
    protocol = started()
    assert receive(protocol, {"type": DELTA, "transcript": "hello"}) == [Partial("u1", "hello")]
    both = {"type": DELTA, "delta": "from delta", "transcript": "ignored"}
    assert receive(protocol, both) == [Partial("u1", "from delta")]
    assert receive(protocol, {"type": DELTA}) == []


def test_a_final_closes_the_utterance_and_the_next_delta_starts_a_new_one() -> None:
    protocol = started()
    receive(protocol, {"type": DELTA, "delta": "one"})
    assert receive(protocol, {"type": COMPLETED, "transcript": "One."}) == [
        Final("u1", "One.", reason="vad")
    ]
    assert receive(protocol, {"type": DELTA, "delta": "two"}) == [Partial("u2", "two")]
    assert receive(protocol, {"type": COMPLETED, "transcript": "Two."}) == [
        Final("u2", "Two.", reason="vad")
    ]
    # A completed with no delta before it still gets its own utterance.
    assert receive(protocol, {"type": COMPLETED, "transcript": "Three."}) == [
        Final("u3", "Three.", reason="vad")
    ]


def test_item_id_is_the_utterance_when_present() -> None:
    protocol = started()
    assert receive(protocol, {"type": DELTA, "item_id": "item_9", "delta": "hi"}) == [
        Partial("item_9", "hi")
    ]
    # A completed without item_id belongs to the open utterance.
    assert receive(protocol, {"type": COMPLETED, "transcript": "Hi."}) == [
        Final("item_9", "Hi.", reason="vad")
    ]
    assert receive(protocol, {"type": COMPLETED, "item_id": "item_10", "transcript": "x"}) == [
        Final("item_10", "x", reason="vad")
    ]
    assert receive(protocol, {"type": DELTA, "delta": "next"}) == [Partial("u1", "next")]


def test_commit_then_completed_is_the_flush_ack() -> None:
    protocol = started()
    protocol.send_audio(b"\x00" * 4000)
    assert len(protocol.data_to_send()) == 1
    receive(protocol, {"type": DELTA, "delta": "end of"})
    protocol.flush()
    assert len(protocol.data_to_send()) == 2
    assert receive(protocol, {"type": "input_audio_buffer.committed", "item_id": "i1"}) == []
    assert state(protocol) is State.FLUSHING
    events = receive(protocol, {"type": COMPLETED, "transcript": "End of dictation."})
    assert events == [Final("u1", "End of dictation.", reason="flush"), FlushAck()]
    assert state(protocol) is State.FLUSHED
    assert protocol.close_expected()
    # Only the first completed after the commit acknowledges it.
    assert receive(protocol, {"type": COMPLETED, "transcript": "late"}) == [
        Final("u2", "late", reason="vad")
    ]
    protocol.connection_closed(1000, "")
    assert protocol.events_received() == [SessionEnded("client_close", 1000, "")]


def test_completed_without_transcript_is_an_empty_final() -> None:
    protocol = started(commit_reply=False)
    protocol.flush()
    assert protocol.data_to_send() == [COMMIT]
    assert receive(protocol, {"type": COMPLETED}) == [Final("u1", "", reason="flush"), FlushAck()]


def test_failed_reports_a_non_fatal_error_and_closes_the_utterance() -> None:
    protocol = started()
    receive(protocol, {"type": DELTA, "delta": "mumble"})
    failed = {"type": FAILED, "error": {"message": "Audio could not be decoded", "code": "bad"}}
    assert receive(protocol, failed) == [ProviderError("Audio could not be decoded", "bad")]
    assert receive(protocol, {"type": DELTA, "delta": "again"}) == [Partial("u2", "again")]
    assert receive(protocol, {"type": FAILED}) == [ProviderError("transcription failed")]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            {"type": "error", "error": {"message": "Invalid model", "code": "invalid_model"}},
            ProviderError("Invalid model", "invalid_model", fatal=True),
        ),
        (
            {"type": "error", "error": {"message": "Rate limited", "type": "rate_limit_error"}},
            ProviderError("Rate limited", "rate_limit_error", fatal=True),
        ),
        (
            {"type": "error", "message": "Session expired"},
            ProviderError("Session expired", None, fatal=True),
        ),
        (
            {"type": "error", "error": "quota exceeded", "code": 429},
            ProviderError("quota exceeded", "429", fatal=True),
        ),
        ({"type": "error"}, ProviderError("unknown error", None, fatal=True)),
    ],
)
def test_error_shapes(message: dict[str, object], expected: ProviderError) -> None:
    protocol = started()
    assert receive(protocol, message) == [expected]
    assert state(protocol) is State.STREAMING


@pytest.mark.parametrize(
    "message",
    [
        {"type": "input_audio_buffer.committed", "item_id": "item_1"},
        {"type": "input_audio_buffer.speech_started"},
        {"type": "something.new", "delta": "x"},
        {"no_type": True},
    ],
)
def test_other_messages_are_ignored(message: dict[str, object]) -> None:
    protocol = started()
    assert receive(protocol, message) == []


@pytest.mark.parametrize("text", ["not json", '{"type": "session.created"', "[1, 2]", '"x"', "7"])
def test_invalid_json_is_a_protocol_error(text: str) -> None:
    protocol = started()
    (event,) = receive(protocol, text)
    assert isinstance(event, ProviderError)
    assert event.code == "protocol"
    assert event.message.startswith("together: ")


@pytest.mark.parametrize(
    "message",
    [
        {"type": DELTA, "delta": 5, "item_id": {"a": 1}},
        {"type": COMPLETED, "transcript": None, "item_id": None},
        {"type": FAILED, "error": [1, 2]},
        {"type": "error", "error": None, "message": {"nested": True}},
        {"type": "session.created", "session": "not an object"},
        {"type": ["list"]},
    ],
)
def test_malformed_messages_never_raise(message: dict[str, object]) -> None:
    protocol = started()
    receive(protocol, message)  # must not raise
    assert state(protocol) is State.STREAMING


def test_binary_frames_are_reported() -> None:
    protocol = started()
    protocol.receive_bytes(b"\x00\x01")
    (event,) = protocol.events_received()
    assert isinstance(event, ProviderError)
    assert event.code == "protocol"


def test_committed_item_id_decides_which_completed_confirms_the_flush() -> None:
    p = TogetherProtocol()
    p.start()
    p.send_audio(b"\x00\x00" * 1600)
    p.flush()
    p.data_to_send()
    p.receive_text('{"type":"input_audio_buffer.committed","item_id":"item_9"}')
    p.receive_text(
        '{"type":"conversation.item.input_audio_transcription.completed",'
        '"item_id":"item_8","transcript":"Earlier speech."}'
    )
    assert not any(isinstance(e, FlushAck) for e in p.events_received())
    assert p.state is State.FLUSHING
    p.receive_text(
        '{"type":"conversation.item.input_audio_transcription.completed",'
        '"item_id":"item_9","transcript":"The rest."}'
    )
    events = p.events_received()
    assert [type(e) for e in events] == [Final, FlushAck]
    assert events[0].reason == "flush"
    assert p.state is State.FLUSHED


def test_completed_before_the_commit_reply_is_not_the_flush() -> None:
    """A VAD result for earlier speech overtaking the commit must not end the session."""
    protocol = started()
    protocol.flush()
    assert protocol.data_to_send() == [COMMIT]
    assert receive(protocol, {"type": COMPLETED, "item_id": "i1", "transcript": "Earlier."}) == [
        Final("i1", "Earlier.", reason="vad")
    ]
    assert state(protocol) is State.FLUSHING
    assert receive(protocol, {"type": "input_audio_buffer.committed", "item_id": "i2"}) == []
    assert receive(protocol, {"type": COMPLETED, "item_id": "i2", "transcript": "Last."}) == [
        Final("i2", "Last.", reason="flush"),
        FlushAck(),
    ]


def test_without_commit_reply_the_first_completed_ends_the_flush() -> None:
    protocol = started(commit_reply=False)
    protocol.flush()
    assert protocol.data_to_send() == [COMMIT]
    assert receive(protocol, {"type": COMPLETED, "item_id": "i1", "transcript": "Done."}) == [
        Final("i1", "Done.", reason="flush"),
        FlushAck(),
    ]


# -- a commit with nothing pending -------------------------------------------------------

SPEECH = (np.random.default_rng(2).standard_normal(8000) * 3000).astype("<i2").tobytes()
SILENCE = bytes(2 * 16000)  # 1 s: more than the VAD's 500 ms silence and 250 ms padding


def send(protocol: TogetherProtocol, pcm: bytes) -> None:
    protocol.send_audio(pcm)
    protocol.data_to_send()


def test_an_empty_commit_settles_once_every_stretch_has_its_completed() -> None:
    """The VAD closed the segment before the release: the commit has nothing to answer."""
    protocol = started()
    send(protocol, SPEECH)
    receive(protocol, {"type": DELTA, "item_id": "i1", "delta": "Hello"})
    send(protocol, SILENCE)
    receive(protocol, {"type": COMPLETED, "item_id": "i1", "transcript": "Hello."})
    protocol.flush()
    protocol.data_to_send()
    assert protocol.flush_settle_after() == TogetherProtocol.FLUSH_SETTLE_S
    protocol.settle_flush()
    assert protocol.events_received() == [FlushAck(synthesized=True)]
    assert protocol.close_expected()


def test_no_settling_while_speech_may_still_be_transcribed() -> None:
    # Released right after speaking: the commit's own completed is coming.
    protocol = started()
    send(protocol, SILENCE + SPEECH)
    protocol.flush()
    assert protocol.flush_settle_after() is None
    # Silence after, but its segment's completed has not come yet.
    protocol = started()
    send(protocol, SPEECH + SILENCE)
    protocol.flush()
    assert protocol.flush_settle_after() is None
    # A delta is open.
    protocol = started()
    send(protocol, SPEECH + SILENCE)
    receive(protocol, {"type": COMPLETED, "item_id": "i1", "transcript": "One."})
    receive(protocol, {"type": DELTA, "item_id": "i2", "delta": "Two"})
    protocol.flush()
    assert protocol.flush_settle_after() is None
    # Without the server's VAD the commit transcribes the whole buffer: always wait.
    protocol = started(vad=False)
    send(protocol, SILENCE)
    protocol.flush()
    assert protocol.flush_settle_after() is None


def test_nothing_said_at_all_settles_at_once() -> None:
    protocol = started()
    send(protocol, SILENCE)
    assert protocol.flush_settle_after() is None  # not before the commit
    protocol.flush()
    assert protocol.flush_settle_after() == TogetherProtocol.FLUSH_SETTLE_S
