"""The local engine's server side of Baseten's protocol, frame by frame.

See docs/wire-protocols.md §4.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from app.core.audio import mulaw_to_pcm16, pcm16_to_mulaw
from app.core.baseten_metadata import SessionParams, params_from_options, parse_metadata
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
from app.core.events import Final, FlushAck, Partial
from app.core.local_types import TranscribedSegment, TranscriptionResult, WordTiming
from app.core.options import BasetenOptions, LocalOptions
from app.core.providers.baseten import BasetenProtocol
from app.core.providers.local import LocalProtocol, local_url
from app.core.providers.registry import build_protocol

MINIMAL_B = {
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
LEGACY_A = {
    "vad_params": {"threshold": 0.4, "min_silence_duration_ms": 250, "speech_pad_ms": 30},
    "streaming_whisper_params": {
        "encoding": "pcm_s16le",
        "sample_rate": 16000,
        "enable_partial_transcripts": True,
        "audio_language": "de",
        "show_word_timestamps": True,
    },
}
RESULT = TranscriptionResult.of(
    (
        TranscribedSegment(
            0.5,
            1.25,
            " Hello world.",
            (WordTiming(" Hello", 0.5, 0.9, 0.98), WordTiming(" world.", 0.9, 1.25, 0.95)),
            avg_logprob=-0.21,
        ),
    ),
    "en",
    0.99,
)


def _started(metadata: Any = None, **kwargs: Any) -> BasetenServerProtocol:
    proto = BasetenServerProtocol(stream_id="sid", **kwargs)
    events = proto.receive_text(json.dumps(MINIMAL_B if metadata is None else metadata))
    assert isinstance(events[0], MetadataReceived), events
    return proto


# -- metadata ------------------------------------------------------------------------------


def test_empty_metadata_takes_basetens_defaults() -> None:
    proto = BasetenServerProtocol()
    assert proto.receive_text("{}") == [MetadataReceived(SessionParams())]
    assert proto.params.partials is False  # Baseten's server default
    assert proto.params.language == "en"
    assert proto.phase is Phase.STREAMING


def test_minimal_current_schema_is_normalised() -> None:
    params = _started().params
    assert params.schema == "current"
    assert params.word_timestamps is True
    assert params.partials is True
    assert params.partial_interval_s == 0.5
    assert (params.vad_threshold, params.vad_min_silence_ms, params.vad_speech_pad_ms) == (
        0.5,
        300,
        30,
    )


def test_legacy_schema_is_normalised() -> None:
    params = _started(LEGACY_A).params
    assert params.schema == "legacy"
    assert params.language == "de"
    assert params.vad_threshold == 0.4
    assert params.partials is True
    assert params.partial_interval_s == 0.5  # schema A has no key for it: the default


@pytest.mark.parametrize("schema", ["current", "legacy"])
def test_harks_own_client_metadata_is_accepted(schema: str) -> None:
    options = BasetenOptions(
        model_id="abcd1234",
        prompt="Hark",
        beam_width=3,
        language_options=("en", "de"),
        beam_search_diversity_rate=0.5,
        no_repeat_ngram_size=3,
        language="auto",
    )
    metadata = BasetenProtocol(options, schema=schema).metadata()
    params, errors = parse_metadata(metadata)
    assert errors == []
    assert params is not None
    assert params.schema == schema
    assert params.language is None
    if schema == "current":
        assert (params.prompt, params.beam_width) == ("Hark", 3)


def test_local_protocol_metadata_carries_the_local_options() -> None:
    options = LocalOptions(
        model="tiny",
        language="de",
        prompt="p",
        word_timestamps=True,
        partial_interval_s=0.7,
        vad_threshold=0.3,
        vad_min_silence_ms=400,
        beam_width=2,
    )
    protocol = build_protocol(options)
    assert isinstance(protocol, LocalProtocol)
    request = protocol.connect_request("ignored")
    assert dict(request.headers) == {}
    params, errors = parse_metadata(protocol.metadata(), "current")
    assert errors == []
    assert params is not None
    assert (params.language, params.prompt, params.word_timestamps) == ("de", "p", True)
    assert (params.partials, params.partial_interval_s) == (True, 0.7)
    assert (params.vad_threshold, params.vad_min_silence_ms, params.beam_width) == (0.3, 400, 2)


def test_the_local_request_carries_the_options_and_names_them() -> None:
    options = LocalOptions(model="/home/me/my models/whisper?x", device="cpu", compute_type="int8")
    request = LocalProtocol(options).connect_request("")
    assert request.local is options  # the object itself: nothing to parse back
    assert request.url == local_url(options)
    assert request.url.startswith("local:///%2Fhome%2Fme%2Fmy%20models%2Fwhisper%3Fx?")
    assert request.headers == {}


@pytest.mark.parametrize(
    ("metadata", "where"),
    [
        ({"foo": 1}, "foo"),
        ({"whisper_params": {"foo": 1}}, "whisper_params.foo"),
        ({"streaming_params": {"foo": 1}}, "streaming_params.foo"),
        ({"streaming_vad_config": {"window": 512}}, "streaming_vad_config.window"),
        ({"whisper_params": {"whisper_sampling_params": {"x": 1}}}, "whisper_sampling_params.x"),
        ({"whisper_sampling_params": {"beam_width": 2}}, "whisper_sampling_params"),
        ({"asr_options": {}}, "asr_options"),
        ({"terminate_session": True}, "terminate_session"),
        ({"vad_params": {}, "streaming_params": {}}, "streaming_params"),  # a hybrid
        (
            {"streaming_whisper_params": {"partial_transcript_interval_s": 1}},
            "partial_transcript_interval_s",
        ),
        ({"vad_params": {"min_silence": 3}}, "vad_params.min_silence"),
    ],
)
def test_unknown_keys_are_rejected_at_every_level(metadata: Any, where: str) -> None:
    proto = BasetenServerProtocol()
    [event] = proto.receive_text(json.dumps(metadata))
    assert isinstance(event, MetadataRejected)
    assert where in event.message
    assert "extra inputs are not permitted" in event.message
    assert proto.phase is Phase.REJECTED
    assert proto.receive_bytes(b"\x00\x00") == []  # nothing more is processed


@pytest.mark.parametrize(
    "metadata",
    [
        {"streaming_params": {"enable_partial_transcripts": "true"}},
        {"streaming_params": {"sample_rate": 16000.0}},
        {"streaming_params": {"encoding": "opus"}},
        {"streaming_vad_config": {"threshold": 1.5}},
        {"whisper_params": {"whisper_sampling_params": {"beam_width": True}}},
        {"whisper_params": {"show_word_timestamps": 1}},
        {"whisper_params": {"audio_language": "english"}},
        {"whisper_params": {"diarization_granularity": "paragraph"}},
        {"stream_id": 5},
        [],
    ],
)
def test_wrong_types_are_rejected(metadata: Any) -> None:
    [event] = BasetenServerProtocol().receive_text(json.dumps(metadata))
    assert isinstance(event, MetadataRejected)


def test_schema_selection() -> None:
    assert parse_metadata(LEGACY_A, "current")[0] is None
    assert parse_metadata(MINIMAL_B, "legacy")[0] is None
    assert parse_metadata(LEGACY_A, "both")[0] is not None
    assert parse_metadata(MINIMAL_B, "both")[0] is not None


def test_unsupported_rate_is_rejected_with_a_clear_message() -> None:
    [event] = BasetenServerProtocol().receive_text(
        json.dumps({"streaming_params": {"sample_rate": 44100}})
    )
    assert isinstance(event, MetadataRejected)
    assert "sample_rate 44100 is not supported: use 16000 or 8000" in event.message


def test_first_frame_must_be_text_json() -> None:
    [event] = BasetenServerProtocol().receive_bytes(b"\x00" * 1024)
    assert isinstance(event, MetadataRejected)
    assert "text frame" in event.message
    [event] = BasetenServerProtocol().receive_text("not json")
    assert isinstance(event, MetadataRejected)


def test_clamps_and_auto_language() -> None:
    proto = _started(
        {
            "whisper_params": {"audio_language": "auto"},
            "streaming_params": {
                "final_transcript_max_duration_s": 90,
                "partial_transcript_interval_s": 0.01,
            },
        }
    )
    assert proto.params.language is None
    assert proto.params.max_final_duration_s == 30
    assert proto.params.partial_interval_s == 0.1


def test_server_defaults_fill_what_the_client_leaves_out() -> None:
    defaults = params_from_options(LocalOptions(language="auto", vad_threshold=0.3))
    proto = _started({"streaming_vad_config": {"min_silence_duration_ms": 100}}, defaults=defaults)
    assert (proto.params.language, proto.params.vad_threshold) == (None, 0.3)
    assert proto.params.vad_min_silence_ms == 100
    assert proto.params.partials is True  # LocalOptions' default, not Baseten's


# -- audio and control --------------------------------------------------------------------


def test_s16le_audio_passes_through_and_an_odd_byte_is_carried() -> None:
    proto = _started()
    assert proto.receive_bytes(b"\x01\x02\x03") == [AudioFrame(b"\x01\x02")]
    assert proto.receive_bytes(b"\x04") == [AudioFrame(b"\x03\x04")]


def test_mulaw_is_decoded() -> None:
    proto = _started({"streaming_params": {"encoding": "pcm_mulaw"}})
    pcm = (np.arange(512, dtype="<i2") * 50).tobytes()
    mulaw = pcm16_to_mulaw(pcm)
    assert proto.receive_bytes(mulaw) == [AudioFrame(mulaw_to_pcm16(mulaw))]


def test_8khz_is_resampled_to_16khz() -> None:
    proto = _started({"streaming_params": {"sample_rate": 8000}})
    tone = (np.sin(np.arange(8000) * 0.3) * 8000).astype("<i2").tobytes()
    frames = []
    for i in range(0, len(tone), 1024):
        frames += proto.receive_bytes(tone[i : i + 1024])
    events = proto.receive_text('{"type":"end_audio"}')
    assert isinstance(events[-1], EndAudio)
    frames += events[:-1]
    total = sum(len(f.pcm) for f in frames if isinstance(f, AudioFrame)) // 2
    assert total == 16000


def test_end_audio_then_nothing_more_is_processed() -> None:
    proto = _started()
    assert proto.receive_text('{"type":"end_audio","trace_id":"t1"}') == [EndAudio("t1")]
    [late] = proto.receive_bytes(b"\x00" * 1024)
    assert isinstance(late, BadFrame)
    assert late.reply is None
    [again] = proto.receive_text('{"type":"end_audio"}')
    assert isinstance(again, BadFrame)


def test_health_check() -> None:
    proto = _started()
    [event] = proto.receive_text(
        '{"type":"health_check","trace_id":"h","timestamp":1.0,"body":{"get_partial_interval":true}}'
    )
    assert event == HealthCheck("h", True)
    assert json.loads(proto.health(event, now=5.0)) == {
        "type": "health_check",
        "trace_id": "h",
        "timestamp": 5.0,
        "body": {"healthy": True, "partial_interval": 0.5},
    }


def test_bad_control_messages_get_basetens_error_shapes() -> None:
    proto = _started()
    [unknown] = proto.receive_text('{"type":"pause"}')
    assert isinstance(unknown, BadFrame)
    assert unknown.reply is not None
    assert json.loads(unknown.reply) == {
        "type": "error",
        "body": {"error": "Unhandled message type: pause"},
    }
    for text in ("nonsense", '{"terminate_session": true}', '{"type":"end_audio","x":1}'):
        [bad] = proto.receive_text(text)
        assert isinstance(bad, BadFrame)
        assert bad.reply is not None
        body = json.loads(bad.reply)["body"]
        assert body["message"].startswith("Failed to validate text message")
        assert body["recoverable"] is True
        assert body["stream_id"] == "sid"
    assert proto.phase is Phase.STREAMING


# -- messages for the client ----------------------------------------------------------------


TRANSCRIPTION_KEYS = {
    "type", "is_final", "transcript", "transcription_num", "segments", "language_code",
    "language_prob", "diarization", "timing_info", "enable_chunk_level_language_detection",
    "audio_length_sec", "next_partial", "pipeline_latency",
}  # fmt: skip
SEGMENT_KEYS = {
    "start_time", "end_time", "text", "log_prob", "word_timestamps", "speaker",
    "speaker_confidence", "possible_hallucination", "beam_results", "language_code",
    "language_prob",
}  # fmt: skip


def test_transcription_shapes_and_numbering() -> None:
    proto = _started()
    messages = [
        proto.partial(RESULT, offset=10.0, audio_length=1.0),
        proto.partial(RESULT, offset=10.0, audio_length=1.5),
        proto.final(RESULT, offset=10.0, audio_length=2.0),
        proto.partial(RESULT, offset=20.0, audio_length=0.5),
        proto.final(RESULT, offset=20.0, audio_length=1.0, end_of_audio=True),
    ]
    decoded = [json.loads(m) for m in messages if m is not None]
    assert [(m["is_final"], m["transcription_num"]) for m in decoded] == [
        (False, 0), (False, 0), (True, 1), (False, 1), (True, 2),
    ]  # fmt: skip
    for m in decoded[:4]:
        assert set(m) == TRANSCRIPTION_KEYS  # is_end_of_audio_flush only on the flush final
    assert set(decoded[4]) == TRANSCRIPTION_KEYS | {"is_end_of_audio_flush"}
    assert decoded[4]["is_end_of_audio_flush"] is True
    # The documented response's top-level transcript (Baseten's example client prints it).
    for m in decoded[:4]:
        assert m["transcript"] == "".join(s["text"] for s in m["segments"]).strip()
    segment = decoded[2]["segments"][0]
    assert set(segment) == SEGMENT_KEYS
    assert (segment["start_time"], segment["end_time"], segment["text"]) == (
        10.5,
        11.25,
        " Hello world.",
    )
    assert segment["word_timestamps"][0] == {
        "start_time": 10.5,
        "end_time": 10.9,
        "word": " Hello",
        "prob": 0.98,
        "speaker": None,
    }
    assert (decoded[2]["language_code"], decoded[2]["language_prob"]) == ("en", 0.99)
    assert decoded[2]["audio_length_sec"] == 2.0


def test_words_only_when_asked_and_latency_only_when_asked() -> None:
    proto = _started({"streaming_params": {"include_pipeline_latency_metric": True}})
    message = json.loads(proto.final(RESULT, offset=0.0, audio_length=1.0, latency=0.25))
    assert message["segments"][0]["word_timestamps"] == []
    assert message["pipeline_latency"] == 0.25


def test_partial_rules_empty_and_hallucination() -> None:
    proto = _started()
    assert proto.partial(TranscriptionResult(), offset=0.0, audio_length=1.0) is None
    bad = TranscriptionResult.of(
        (TranscribedSegment(0.0, 1.0, " la la la", compression_ratio=3.0),)
    )
    assert proto.partial(bad, offset=0.0, audio_length=1.0) is None  # nothing to repeat yet
    good = proto.partial(RESULT, offset=0.0, audio_length=1.0)
    assert proto.partial(bad, offset=0.0, audio_length=1.5) == good  # the previous one again
    proto.final(RESULT, offset=0.0, audio_length=2.0)
    assert proto.partial(bad, offset=2.0, audio_length=1.0) is None  # a new utterance
    trusting = _started({"streaming_params": {"skip_partial_if_hallucination": False}})
    assert trusting.partial(bad, offset=0.0, audio_length=1.0) is not None


def test_empty_final_is_still_sent() -> None:
    message = json.loads(_started().final(TranscriptionResult(), offset=0.0, audio_length=1.0))
    assert message["is_final"] is True
    assert message["segments"] == []


def test_control_replies() -> None:
    proto = _started()
    assert json.loads(proto.end_audio_ack("t9")) == {
        "type": "end_audio",
        "trace_id": "t9",
        "timestamp": None,
        "body": {"status": "acknowledged"},
    }
    assert json.loads(proto.finished())["body"] == {"status": "finished"}
    error = json.loads(proto.error("boom", recoverable=False, now=1.5))
    assert error == {
        "type": "error",
        "trace_id": None,
        "timestamp": None,
        "body": {
            "error_type": "StreamError",
            "message": "boom",
            "stream_id": "sid",
            "recoverable": False,
            "timestamp": 1.5,
        },
    }


def test_harks_client_reads_every_server_message() -> None:
    """Both ends of the protocol in this repository agree, message by message."""
    server = _started()
    client = build_protocol(LocalOptions(model="tiny", word_timestamps=True))
    client.start()
    client.data_to_send()
    client.send_audio(b"\x00\x00" * 600)
    client.flush()
    for frame in client.data_to_send():
        events = (
            server.receive_text(frame) if isinstance(frame, str) else server.receive_bytes(frame)
        )
        assert not any(isinstance(e, BadFrame | MetadataRejected) for e in events)
    for message in (
        server.partial(RESULT, offset=1.0, audio_length=1.0),
        server.end_audio_ack(),
        server.final(RESULT, offset=1.0, audio_length=1.3, end_of_audio=True),
        server.finished(),
    ):
        assert message is not None
        client.receive_text(message)
    events = client.events_received()
    assert [type(e) for e in events] == [Partial, Final, FlushAck]
    final = events[1]
    assert isinstance(final, Final)
    assert (final.text, final.reason, final.language) == ("Hello world.", "flush", "en")
    assert final.words[0].start == 1.5
