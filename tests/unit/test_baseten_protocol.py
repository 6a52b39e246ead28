"""Exact-frame tests of the Baseten v1 protocol (docs/wire-protocols.md §1, mapping §5.2).

Server messages follow docs/wire-protocols.md §1.4 (legacy shapes rebuilt from their
field lists). Bytes and text go in, frames, events and state come out: no network.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from app.core.audio import pcm16_to_mulaw
from app.core.errors import InsecureEndpointError, SettingError
from app.core.events import (
    ConfigRejected,
    Final,
    FlushAck,
    Partial,
    ProviderError,
    Segment,
    SessionEnded,
    Word,
)
from app.core.options import BasetenOptions
from app.core.providers.base import State
from app.core.providers.baseten import END_AUDIO, BasetenProtocol
from tests.protocol_helpers import receive
from tests.protocol_helpers import state as state_of

# -- server messages (docs/wire-protocols.md §1.4) -------------------------------------------

CURRENT_FINAL: dict[str, Any] = {
    "type": "transcription",
    "is_final": True,
    "transcription_num": 1,
    "segments": [
        {
            "start_time": 0.52,
            "end_time": 2.10,
            "text": " Hello world.",
            "log_prob": -0.21,
            "word_timestamps": [
                {
                    "start_time": 0.52,
                    "end_time": 0.90,
                    "word": " Hello",
                    "prob": 0.98,
                    "speaker": None,
                },
                {
                    "start_time": 0.92,
                    "end_time": 2.10,
                    "word": " world.",
                    "prob": 0.95,
                    "speaker": None,
                },
            ],
            "speaker": None,
            "speaker_confidence": None,
            "possible_hallucination": False,
            "beam_results": None,
            "language_code": "en",
            "language_prob": 0.99,
        }
    ],
    "language_code": "en",
    "language_prob": 0.99,
    "diarization": [],
    "timing_info": None,
    "enable_chunk_level_language_detection": False,
    "audio_length_sec": 1.92,
    "next_partial": None,
    "pipeline_latency": None,
}
ACKNOWLEDGED = (
    '{"type": "end_audio", "trace_id": null, "timestamp": null, "body": {"status": "acknowledged"}}'
)
FINISHED = (
    '{"type": "end_audio", "trace_id": null, "timestamp": null, "body": {"status": "finished"}}'
)
HEALTH = '{"type":"health_check","trace_id":null,"timestamp":1760000000.0,"body":{"healthy":true}}'
ERROR_BODY_MESSAGE = (
    '{"type": "error", "trace_id": null, "timestamp": null,'
    ' "body": {"error_type": "StreamError", "message": "Failed to validate text message: x",'
    ' "stream_id": "6f1c", "recoverable": true, "timestamp": 1760000000.0}}'
)
ERROR_BODY_ERROR = '{"type":"error","body":{"error":"Unhandled message type: ping"}}'
ERROR_TOP_LEVEL = '{"type":"error","message":"model overloaded"}'

NON_DEFAULTS: dict[str, Any] = {
    "encoding": "pcm_mulaw",
    "sample_rate": 8000,
    "vad_threshold": 0.7,
    "vad_min_silence_ms": 600,
    "vad_speech_pad_ms": 100,
    "partials": False,
    "partial_interval_s": 1.5,
    "max_final_duration_s": 12.5,
    "language": "auto",
    "prompt": "Hark, Baseten",
    "language_detection_only": True,
    "language_options": ("en", "de"),
    "dynamic_preprocessing": True,
    "word_timestamps": True,
    "beam_width": 4,
    "length_penalty": 1.0,
    "repetition_penalty": 1.2,
    "beam_search_diversity_rate": 0.3,
    "no_repeat_ngram_size": 3,
}
CONNECTION_FIELDS = {"model_id", "endpoint", "schema"}
LEGACY_DROPPED = [
    "partial_interval_s",
    "max_final_duration_s",
    "prompt",
    "language_detection_only",
    "language_options",
    "dynamic_preprocessing",
    "beam_width",
    "length_penalty",
    "repetition_penalty",
    "beam_search_diversity_rate",
    "no_repeat_ngram_size",
]


def make(schema: str = "current", **changes: Any) -> BasetenProtocol:
    return BasetenProtocol(BasetenOptions(**changes), schema=schema)


def started(schema: str = "current", **changes: Any) -> BasetenProtocol:
    protocol = make(schema, **changes)
    protocol.start()
    protocol.data_to_send()
    return protocol


def answered(**changes: Any) -> BasetenProtocol:
    """A streaming protocol that has already heard from the server (metadata accepted)."""
    protocol = started(**changes)
    protocol.receive_text(HEALTH)
    assert protocol.events_received() == []
    return protocol


def feed(protocol: BasetenProtocol, message: dict[str, Any] | str) -> list[Any]:
    return receive(protocol, message, replies=True)


def metadata_frame(protocol: BasetenProtocol) -> dict[str, Any]:
    protocol.start()
    frames = protocol.data_to_send()
    assert len(frames) == 1
    assert isinstance(frames[0], str)
    parsed: dict[str, Any] = json.loads(frames[0])
    return parsed


# -- construction and connection -----------------------------------------------------


@pytest.mark.parametrize("schema", ["auto", "B", ""])
def test_rejects_unknown_schema(schema: str) -> None:
    with pytest.raises(ValueError, match="schema"):
        make(schema)


def test_sample_rate_follows_options() -> None:
    assert make(sample_rate=8000, encoding="pcm_mulaw").sample_rate == 8000
    assert make().sample_rate == 16000


def test_connect_request_from_model_id() -> None:
    request = make(model_id="abcd1234").connect_request("sk-secret")
    assert request.url == "wss://model-abcd1234.api.baseten.co/environments/production/websocket"
    assert dict(request.headers) == {"Authorization": "Api-Key sk-secret"}
    assert "sk-secret" not in repr(request)


def test_endpoint_overrides_model_id() -> None:
    url = "wss://chain-xyz.api.baseten.co/environments/production/websocket"
    request = make(model_id="abcd1234", endpoint=url).connect_request("k")
    assert request.url == url
    assert request.headers["Authorization"] == "Api-Key k"


def test_loopback_ws_endpoint_allowed() -> None:
    assert make(endpoint="ws://127.0.0.1:8765/ws").connect_request("k").url == (
        "ws://127.0.0.1:8765/ws"
    )


@pytest.mark.parametrize("url", ["ws://example.com/ws", "https://example.com/ws"])
def test_insecure_or_non_websocket_endpoint_refused(url: str) -> None:
    with pytest.raises(InsecureEndpointError):
        make(endpoint=url).connect_request("k")


def test_missing_model_id_and_endpoint() -> None:
    with pytest.raises(SettingError, match="model id or an endpoint") as info:
        make().connect_request("k")
    assert info.value.name == "model_id"


@pytest.mark.parametrize("model_id", ["abc/../x", "abc.def", "abc 123", "model-abc"])
def test_malformed_model_id_refused(model_id: str) -> None:
    with pytest.raises(SettingError) as info:
        make(model_id=model_id).connect_request("k")
    assert info.value.name == "model_id"


# -- metadata ----------------------------------------------------------------------------


def test_current_metadata_defaults_exact_frame() -> None:
    protocol = make()
    protocol.start()
    assert protocol.data_to_send() == [
        '{"whisper_params":{"prompt":"","audio_language":"en","language_detection_only":false,'
        '"use_dynamic_preprocessing":false,"show_word_timestamps":false,'
        '"whisper_sampling_params":{"beam_width":1,"length_penalty":2.0,"repetition_penalty":1.01}},'
        '"streaming_params":{"encoding":"pcm_s16le","sample_rate":16000,'
        '"enable_partial_transcripts":true,"partial_transcript_interval_s":0.5,'
        '"final_transcript_max_duration_s":30},'
        '"streaming_vad_config":{"threshold":0.5,"min_silence_duration_ms":300,"speech_pad_ms":30}}'
    ]
    assert protocol.state is State.STREAMING


def test_current_metadata_every_option_non_default() -> None:
    assert metadata_frame(make(**NON_DEFAULTS)) == {
        "whisper_params": {
            "prompt": "Hark, Baseten",
            "audio_language": "auto",
            "language_detection_only": True,
            "language_options": ["en", "de"],
            "use_dynamic_preprocessing": True,
            "show_word_timestamps": True,
            "whisper_sampling_params": {
                "beam_width": 4,
                "length_penalty": 1.0,
                "repetition_penalty": 1.2,
                "beam_search_diversity_rate": 0.3,
                "no_repeat_ngram_size": 3,
            },
        },
        "streaming_params": {
            "encoding": "pcm_mulaw",
            "sample_rate": 8000,
            "enable_partial_transcripts": False,
            "partial_transcript_interval_s": 1.5,
            "final_transcript_max_duration_s": 12.5,
        },
        "streaming_vad_config": {
            "threshold": 0.7,
            "min_silence_duration_ms": 600,
            "speech_pad_ms": 100,
        },
    }


def test_current_metadata_never_sends_top_level_sampling_params() -> None:
    top = metadata_frame(make(beam_width=3))
    assert set(top) == {"whisper_params", "streaming_params", "streaming_vad_config"}
    assert top["whisper_params"]["whisper_sampling_params"]["beam_width"] == 3


def test_whole_second_max_duration_is_an_int_on_the_wire() -> None:
    protocol = make(max_final_duration_s=20.0)
    protocol.start()
    frame = protocol.data_to_send()[0]
    assert isinstance(frame, str)
    assert '"final_transcript_max_duration_s":20}' in frame


@pytest.mark.parametrize("name", sorted(NON_DEFAULTS))
def test_every_option_reaches_the_current_wire(name: str) -> None:
    base = metadata_frame(make())
    changed = metadata_frame(make(**{name: NON_DEFAULTS[name]}))
    assert changed != base
    assert make(**{name: NON_DEFAULTS[name]}).unsupported_options() == []


def test_options_table_is_complete() -> None:
    fields = {f.name for f in dataclasses.fields(BasetenOptions)}
    assert fields - CONNECTION_FIELDS == set(NON_DEFAULTS)


def test_legacy_metadata_defaults() -> None:
    protocol = make("legacy")
    assert metadata_frame(protocol) == {
        "vad_params": {"threshold": 0.5, "min_silence_duration_ms": 300, "speech_pad_ms": 30},
        "streaming_whisper_params": {
            "encoding": "pcm_s16le",
            "sample_rate": 16000,
            "enable_partial_transcripts": True,
            "audio_language": "en",
            "show_word_timestamps": False,
        },
    }
    assert protocol.unsupported_options() == []


def test_legacy_metadata_every_option_non_default() -> None:
    protocol = make("legacy", **NON_DEFAULTS)
    meta = metadata_frame(protocol)
    assert meta == {
        "vad_params": {"threshold": 0.7, "min_silence_duration_ms": 600, "speech_pad_ms": 100},
        "streaming_whisper_params": {
            "encoding": "pcm_mulaw",
            "sample_rate": 8000,
            "enable_partial_transcripts": False,
            "audio_language": "auto",
            "show_word_timestamps": True,
        },
    }
    # Only the keys of the legacy schema (docs/wire-protocols.md §1.2), nothing the server forbids.
    assert set(meta) == {"vad_params", "streaming_whisper_params"}
    assert set(meta["vad_params"]) == {"threshold", "min_silence_duration_ms", "speech_pad_ms"}
    assert set(meta["streaming_whisper_params"]) == {
        "encoding",
        "sample_rate",
        "enable_partial_transcripts",
        "audio_language",
        "show_word_timestamps",
    }
    assert protocol.unsupported_options() == LEGACY_DROPPED


@pytest.mark.parametrize("name", sorted(NON_DEFAULTS))
def test_legacy_option_is_sent_or_reported(name: str) -> None:
    protocol = make("legacy", **{name: NON_DEFAULTS[name]})
    sent = metadata_frame(protocol) != metadata_frame(make("legacy"))
    reported = protocol.unsupported_options() == [name]
    assert sent != reported
    assert reported == (name in LEGACY_DROPPED)


def test_metadata_is_the_first_frame_and_start_only_once() -> None:
    protocol = make()
    protocol.start()
    protocol.send_audio(b"\x00\x00" * 512)
    frames = protocol.data_to_send()
    assert isinstance(frames[0], str)
    assert frames[0].startswith('{"whisper_params":')
    assert frames[1] == b"\x00\x00" * 512
    with pytest.raises(RuntimeError):
        protocol.start()


# -- audio framing -------------------------------------------------------------------------


def ramp(samples: int) -> bytes:
    return b"".join(
        ((i * 37) % 30000 - 15000).to_bytes(2, "little", signed=True) for i in range(samples)
    )


def test_s16le_frames_are_1024_bytes_with_zero_padded_tail() -> None:
    protocol = started()
    pcm = ramp(1500)
    protocol.send_audio(pcm[:1000])  # 500 samples: not a frame yet
    assert protocol.data_to_send() == []
    protocol.send_audio(pcm[1000:])
    assert protocol.data_to_send() == [pcm[:1024], pcm[1024:2048]]
    protocol.flush()
    tail, *silence, end = protocol.data_to_send()
    assert tail == pcm[2048:] + b"\x00" * (1024 - len(pcm[2048:]))
    assert silence
    assert all(frame == bytes(1024) for frame in silence)
    assert end == END_AUDIO == '{"type":"end_audio"}'
    assert protocol.state is State.FLUSHING


def test_mulaw_frames_are_512_bytes_with_mulaw_silence_padding() -> None:
    protocol = started(encoding="pcm_mulaw", sample_rate=8000)
    pcm = ramp(1100)
    protocol.send_audio(pcm[:300])
    protocol.send_audio(pcm[300:])
    encoded = pcm16_to_mulaw(pcm)
    assert protocol.data_to_send() == [encoded[:512], encoded[512:1024]]
    protocol.flush()
    tail, *silence, end = protocol.data_to_send()
    assert pcm16_to_mulaw(b"\x00\x00") == b"\xff"  # μ-law silence is 0xFF, not 0x00
    assert tail == encoded[1024:] + b"\xff" * (512 - 76)
    assert silence
    assert all(frame == b"\xff" * 512 for frame in silence)
    assert end == '{"type":"end_audio"}'


@pytest.mark.parametrize(("min_silence_ms", "pad_ms"), [(300, 30), (800, 200), (0, 0)])
def test_flush_sends_enough_silence_for_the_vad_to_end_the_utterance(
    min_silence_ms: int, pad_ms: int
) -> None:
    """Runtimes that ignore end_audio still end the utterance: their VAD hears the silence."""
    protocol = started(vad_min_silence_ms=min_silence_ms, vad_speech_pad_ms=pad_ms)
    protocol.send_audio(b"\x01\x00" * 1024)
    assert len(protocol.data_to_send()) == 2
    protocol.flush()
    *silence, end = protocol.data_to_send()
    assert end == END_AUDIO
    assert all(frame == bytes(1024) for frame in silence)
    silence_ms = len(silence) * 512 * 1000 / 16000
    # The VAD's own rule, plus two whole frames: its window is one frame.
    assert min_silence_ms + pad_ms + 64 <= silence_ms < min_silence_ms + pad_ms + 64 + 32


def test_without_trailing_silence_flush_sends_only_end_audio() -> None:
    class Quiet(BasetenProtocol):
        TRAILING_SILENCE = False

    protocol = Quiet(BasetenOptions())
    protocol.start()
    protocol.data_to_send()
    protocol.send_audio(b"\x01\x00" * 1024)
    assert len(protocol.data_to_send()) == 2
    protocol.flush()
    assert protocol.data_to_send() == ['{"type":"end_audio"}']
    assert protocol.flush_settle_after() is None  # never guesses without the silence


def _ended_at(seconds: float, *, final: bool = True) -> dict[str, Any]:
    """A result whose one segment (and its last word) ends at ``seconds`` of audio."""
    msg = json.loads(json.dumps(CURRENT_FINAL))
    msg["is_final"] = final
    msg["segments"][0]["end_time"] = seconds
    msg["segments"][0]["word_timestamps"][-1]["end_time"] = seconds
    return msg


def flushed_after(seconds: float) -> BasetenProtocol:
    protocol = answered()
    protocol.send_audio(bytes(2 * round(seconds * 16000)))
    protocol.flush()
    protocol.data_to_send()
    return protocol


def test_an_unanswered_flush_settles_once_a_final_reaches_the_end_of_speech() -> None:
    protocol = flushed_after(3.0)
    assert protocol.flush_settle_after() == BasetenProtocol.FLUSH_QUIET_S  # nothing open
    feed(protocol, _ended_at(2.5, final=False))
    assert protocol.flush_settle_after() is None  # a partial is open: its final must come
    feed(protocol, _ended_at(2.9))
    assert protocol.flush_settle_after() == BasetenProtocol.FLUSH_SETTLE_S
    protocol.settle_flush()
    assert protocol.events_received() == [FlushAck(synthesized=True)]
    assert protocol.close_expected()
    protocol.connection_closed(1000, "")
    assert protocol.events_received() == [SessionEnded("client_close", 1000, "")]


def test_a_final_ending_long_before_the_flush_only_settles_after_the_quiet_time() -> None:
    """Room for another utterance after it: it may be on its way."""
    protocol = flushed_after(3.0)
    feed(protocol, _ended_at(1.0))
    assert protocol.flush_settle_after() == BasetenProtocol.FLUSH_QUIET_S


def test_an_acknowledged_flush_waits_for_finished() -> None:
    protocol = flushed_after(3.0)
    feed(protocol, ACKNOWLEDGED)
    feed(protocol, _ended_at(2.9))
    assert protocol.flush_settle_after() is None
    assert feed(protocol, FINISHED) == [FlushAck()]


def test_no_settling_before_the_flush() -> None:
    protocol = answered()
    protocol.send_audio(bytes(3200))
    feed(protocol, _ended_at(0.1))
    assert protocol.flush_settle_after() is None
    with pytest.raises(RuntimeError):
        protocol.settle_flush()


def test_call_order_is_enforced() -> None:
    protocol = make()
    with pytest.raises(RuntimeError):
        protocol.send_audio(b"\x00\x00")
    with pytest.raises(RuntimeError):
        protocol.flush()
    protocol.start()
    with pytest.raises(ValueError, match="16-bit"):
        protocol.send_audio(b"\x00\x00\x00")
    protocol.flush()
    with pytest.raises(RuntimeError):
        protocol.send_audio(b"\x00\x00")
    with pytest.raises(RuntimeError):
        protocol.flush()


# -- results -------------------------------------------------------------------------------


def test_current_final_with_word_timestamps() -> None:
    [event] = feed(started(), CURRENT_FINAL)
    hello = Word(" Hello", 0.52, 0.90, 0.98)
    world = Word(" world.", 0.92, 2.10, 0.95)
    assert event == Final(
        utterance="u1",
        text="Hello world.",
        segments=(Segment(" Hello world.", 0.52, 2.10, (hello, world), language="en"),),
        words=(hello, world),
        language="en",
        language_prob=0.99,
        confidence=None,
        reason="vad",
    )


def test_end_of_audio_flush_final_has_reason_flush() -> None:
    [event] = feed(started(), {**CURRENT_FINAL, "is_end_of_audio_flush": True})
    assert isinstance(event, Final)
    assert event.reason == "flush"


def test_final_at_the_duration_cap_has_reason_max_duration() -> None:
    [event] = feed(started(), {**CURRENT_FINAL, "audio_length_sec": 30.0})
    assert isinstance(event, Final)
    assert event.reason == "max_duration"


def test_segment_texts_are_joined_and_only_the_outer_whitespace_stripped() -> None:
    message = {
        "type": "transcription",
        "is_final": False,
        "segments": [
            {"start_time": 0.0, "end_time": 1.0, "text": " One,", "word_timestamps": []},
            {"start_time": 1.0, "end_time": 2.0, "text": " two. ", "word_timestamps": []},
        ],
        "language_code": None,
        "language_prob": None,
    }
    [event] = feed(started(), message)
    assert isinstance(event, Partial)
    assert event.text == "One, two."
    assert [s.text for s in event.segments] == [" One,", " two. "]
    assert event.words == ()
    assert event.language is None


def test_language_falls_back_to_the_segments() -> None:
    segment = {"start_time": 0.0, "end_time": 1.0, "text": " Hallo", "language_code": "de"}
    segment["language_prob"] = 0.8
    [event] = feed(started(), {"type": "transcription", "is_final": True, "segments": [segment]})
    assert isinstance(event, Final)
    assert (event.language, event.language_prob) == ("de", 0.8)


def test_legacy_mid_2025_shape() -> None:
    message = {
        "is_final": True,
        "transcript": " Hello, world! ",
        "confidence": 0.91,
        "language_code": "en",
        "segments": [{"start": 0.5, "end": 2.1, "text": " hello world"}],
    }
    [event] = feed(started("legacy"), message)
    assert event == Final(  # `transcript` wins over the segments' texts
        utterance="u1",
        text="Hello, world!",
        segments=(Segment(" hello world", 0.5, 2.1),),
        language="en",
        confidence=0.91,
        reason="unknown",
    )


def test_legacy_reported_shape_with_log_prob() -> None:
    message = {
        "is_final": False,
        "transcript": "Hello",
        "confidence": 0.7,
        "language_code": "en",
        "language_prob": 0.97,
        "segments": [{"text": " Hello", "log_prob": -0.3, "start_time": 0.1, "end_time": 0.6}],
    }
    [event] = feed(started("legacy"), message)
    assert event == Partial("u1", "Hello", segments=(Segment(" Hello", 0.1, 0.6),), language="en")


@pytest.mark.parametrize(
    ("message_type", "kind"), [("partial_transcript", Partial), ("final_transcript", Final)]
)
def test_legacy_earliest_message_type_shape(message_type: str, kind: type) -> None:
    message = {
        "message_type": message_type,
        "transcript": "",
        "confidence": 0.5,
        "language": "fr",
        "segments": [{"start": 0.0, "end": 0.4, "text": " Bonjour"}],
    }
    [event] = feed(started("legacy"), message)
    assert type(event) is kind
    assert isinstance(event, Partial | Final)
    assert (event.utterance, event.text, event.language) == ("u1", "Bonjour", "fr")


def test_partials_share_the_id_of_the_next_final() -> None:
    protocol = started()

    def result(is_final: bool, num: int, text: str) -> dict[str, Any]:
        segment = {"start_time": 0.0, "end_time": 1.0, "text": text}
        return {
            "type": "transcription",
            "is_final": is_final,
            "transcription_num": num,
            "segments": [segment],
        }

    script = [
        (False, 0, " Hel"),
        (False, 0, " Hello"),
        (True, 1, " Hello."),
        (False, 1, " Wor"),
        (True, 2, " World."),
    ]
    events = [
        e for is_final, num, text in script for e in feed(protocol, result(is_final, num, text))
    ]
    assert [(type(e).__name__, e.utterance, e.text) for e in events] == [
        ("Partial", "u1", "Hel"),
        ("Partial", "u1", "Hello"),
        ("Final", "u1", "Hello."),
        ("Partial", "u2", "Wor"),
        ("Final", "u2", "World."),
    ]


# -- flush, health, errors -----------------------------------------------------------------


def test_flush_ack_only_on_finished() -> None:
    protocol = answered()
    protocol.flush()
    protocol.data_to_send()
    assert feed(protocol, ACKNOWLEDGED) == []
    assert protocol.flush_acknowledged
    assert protocol.state is State.FLUSHING
    assert not protocol.close_expected()
    assert feed(protocol, FINISHED) == [FlushAck()]
    assert state_of(protocol) is State.FLUSHED
    assert protocol.close_expected()
    assert feed(protocol, FINISHED) == []  # a repeat is harmless
    protocol.connection_closed(1000, "")
    assert protocol.events_received() == [SessionEnded("client_close", 1000, "")]


def test_finished_without_flush_is_a_protocol_error() -> None:
    protocol = answered()
    [event] = feed(protocol, FINISHED)
    assert isinstance(event, ProviderError)
    assert event.code == "protocol"
    assert protocol.state is State.STREAMING


def test_health_check_reply_is_ignored() -> None:
    protocol = started()
    assert feed(protocol, HEALTH) == []
    assert protocol.state is State.STREAMING


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (ERROR_BODY_MESSAGE, ProviderError("Failed to validate text message: x", "StreamError")),
        (ERROR_BODY_ERROR, ProviderError("Unhandled message type: ping")),
        (ERROR_TOP_LEVEL, ProviderError("model overloaded")),
        (
            '{"type":"error","body":{}}',
            ProviderError("Baseten reported an error without a message"),
        ),
    ],
)
def test_error_shapes(message: str, expected: ProviderError) -> None:
    assert feed(answered(), message) == [expected]


def test_unrecoverable_error_is_fatal() -> None:
    message = json.loads(ERROR_BODY_MESSAGE)
    message["body"]["recoverable"] = False
    [event] = feed(answered(), message)
    assert event == ProviderError("Failed to validate text message: x", "StreamError", fatal=True)


def test_error_before_any_server_message_is_a_config_rejection() -> None:
    protocol = started()
    assert feed(protocol, ERROR_BODY_MESSAGE) == [
        ConfigRejected("Failed to validate text message: x")
    ]
    protocol.connection_closed(1011, "")
    assert protocol.events_received() == [SessionEnded("server_close", 1011, "")]


@pytest.mark.parametrize("code", [1011, 1000, None])
def test_close_right_after_metadata_is_a_config_rejection(code: int | None) -> None:
    protocol = started()
    protocol.connection_closed(code, "bad metadata")
    rejected, ended = protocol.events_received()
    assert isinstance(rejected, ConfigRejected)
    assert str(code) in rejected.message
    assert "bad metadata" in rejected.message
    assert ended == SessionEnded("server_close", code, "bad metadata")


def test_close_after_flush_with_nothing_heard_is_a_config_rejection() -> None:
    protocol = started()
    protocol.flush()
    protocol.connection_closed(1011, "")
    assert [type(e) for e in protocol.events_received()] == [ConfigRejected, SessionEnded]


def test_config_rejection_close_codes_are_configurable() -> None:
    class Strict(BasetenProtocol):
        CONFIG_REJECT_CLOSE_CODES = frozenset({1011})

    protocol = Strict(BasetenOptions())
    protocol.start()
    protocol.connection_closed(1000, "")
    assert protocol.events_received() == [SessionEnded("server_close", 1000, "")]


def test_close_while_streaming_after_results_is_a_plain_server_close() -> None:
    protocol = answered()
    protocol.connection_closed(1011, "boom")
    assert protocol.events_received() == [SessionEnded("server_close", 1011, "boom")]
    protocol.connection_closed(1011, "boom")
    assert protocol.events_received() == []


def test_close_before_finished_reports_the_unconfirmed_flush() -> None:
    protocol = answered()
    protocol.flush()
    feed(protocol, ACKNOWLEDGED)
    protocol.connection_closed(1006, "")
    error, ended = protocol.events_received()
    assert isinstance(error, ProviderError)
    assert "before Baseten confirmed the end of audio" in error.message
    assert ended == SessionEnded("server_close", 1006, "")


def test_close_before_start_is_a_plain_close() -> None:
    protocol = make()
    protocol.connection_closed(None, "")
    assert protocol.events_received() == [SessionEnded("server_close", None, "")]


def test_v2_session_created_is_a_fatal_error() -> None:
    [event] = feed(started(), '{"type":"session.created","session":{"id":"s1"}}')
    assert isinstance(event, ProviderError)
    assert event.fatal
    assert "v2" in event.message


def test_later_session_created_is_a_protocol_error() -> None:
    [event] = feed(answered(), '{"type":"session.created"}')
    assert isinstance(event, ProviderError)
    assert (event.code, event.fatal) == ("protocol", False)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"type":"pong"}',
        '{"hello":"there"}',
        '{"message_type":"interim","transcript":"x"}',
        '{"type":"transcription","is_final":"yes","segments":[]}',
        '{"type":"transcription","is_final":true,"transcript":5}',
        '{"type":"transcription","is_final":true,"segments":{"text":"x"}}',
        '{"type":"transcription","is_final":true,"segments":["x"]}',
        '{"type":"transcription","is_final":true,"segments":[{"text":5}]}',
        '{"type":"transcription","is_final":true,"segments":[{"text":"a","word_timestamps":[1]}]}',
        '{"type":"end_audio","body":{"status":"weird"}}',
        '{"type":"end_audio"}',
    ],
)
def test_unreadable_server_messages_become_protocol_errors(text: str) -> None:
    protocol = answered()
    [event] = feed(protocol, text)
    assert isinstance(event, ProviderError)
    assert event.code == "protocol"
    assert protocol.state is State.STREAMING


def test_malformed_result_does_not_advance_the_utterance() -> None:
    protocol = answered()
    feed(protocol, '{"type":"transcription","is_final":true,"segments":[{"text":5}]}')
    [event] = feed(protocol, CURRENT_FINAL)
    assert isinstance(event, Final)
    assert event.utterance == "u1"
