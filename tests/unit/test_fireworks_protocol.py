"""FireworksProtocol: URL and headers, audio framing, the checkpoint flush and segment merging."""

from __future__ import annotations

from typing import Any

import pytest

from app.core.errors import InsecureEndpointError
from app.core.events import Final, FlushAck, Partial, ProviderError, Segment, SessionEnded, Word
from app.core.options import FireworksOptions
from app.core.providers.base import State
from app.core.providers.fireworks import FireworksProtocol
from app.core.providers.registry import build_protocol
from tests.protocol_helpers import receive, state

CHECKPOINT = '{"checkpoint_id":"final"}'


def started(**options: Any) -> FireworksProtocol:
    protocol = FireworksProtocol(FireworksOptions(**options))
    protocol.start()
    return protocol


def flushing() -> FireworksProtocol:
    protocol = started()
    protocol.flush()
    assert protocol.data_to_send() == [CHECKPOINT]
    return protocol


def seg(seg_id: object, *words: tuple[str, bool], text: str | None = None) -> dict[str, Any]:
    """A wire segment without timestamps; ``words`` are ``(word, is_final)`` pairs."""
    return {
        "id": seg_id,
        "text": text if text is not None else " ".join(w for w, _ in words),
        "words": [{"word": w, "is_final": f} for w, f in words],
    }


def message(*segments: dict[str, Any]) -> dict[str, Any]:
    return {"task": "transcribe", "segments": list(segments)}


def kinds(events: list[object]) -> list[tuple[str, str, str]]:
    """(event class, utterance, text) for each Partial and Final."""
    out = []
    for e in events:
        assert isinstance(e, Partial | Final)
        out.append((type(e).__name__, e.utterance, e.text))
    return out


# -- connection ------------------------------------------------------------------


def test_default_url_and_headers() -> None:
    request = FireworksProtocol().connect_request("fw-secret")
    assert request.url == (
        "wss://audio-streaming.api.fireworks.ai/v1/audio/transcriptions/streaming"
        "?response_format=verbose_json&temperature=0&timestamp_granularities=word,segment"
    )
    assert dict(request.headers) == {"Authorization": "fw-secret"}  # raw key, no scheme
    assert "fw-secret" not in repr(request)


def test_every_option_reaches_the_url() -> None:
    options = FireworksOptions(
        endpoint="wss://audio-streaming-v2.api.fireworks.ai/v1/audio/transcriptions/streaming",
        model="fireworks-asr-v2",
        language="de",
        prompt="Hark & Co, 100% dictation",
        temperature=0.2,
        word_timestamps=False,
    )
    assert FireworksProtocol(options).connect_request("k").url == (
        "wss://audio-streaming-v2.api.fireworks.ai/v1/audio/transcriptions/streaming"
        "?response_format=verbose_json&temperature=0.2&language=de"
        "&prompt=Hark+%26+Co,+100%25+dictation&model=fireworks-asr-v2"
    )


def test_local_endpoint_is_allowed_and_insecure_remote_is_refused() -> None:
    local = FireworksProtocol(FireworksOptions(endpoint="ws://127.0.0.1:9000/stream"))
    assert local.connect_request("k").url.startswith("ws://127.0.0.1:9000/stream?response_format=")
    remote = FireworksProtocol(FireworksOptions(endpoint="ws://audio.example.com/stream"))
    with pytest.raises(InsecureEndpointError):
        remote.connect_request("k")


def test_build_protocol_picks_fireworks() -> None:
    options = FireworksOptions(language="en")
    protocol = build_protocol(options)
    assert isinstance(protocol, FireworksProtocol)
    assert protocol.options is options


# -- life cycle and audio -----------------------------------------------------------


def test_start_sends_nothing_and_streams() -> None:
    protocol = FireworksProtocol()
    protocol.start()
    assert state(protocol) is State.STREAMING
    assert protocol.data_to_send() == []


def test_calls_out_of_order_raise() -> None:
    protocol = FireworksProtocol()
    with pytest.raises(RuntimeError, match="idle"):
        protocol.send_audio(b"\x00\x00")
    with pytest.raises(RuntimeError):
        protocol.flush()
    protocol.start()
    protocol.flush()
    with pytest.raises(RuntimeError, match="flushing"):
        protocol.send_audio(b"\x00\x00")
    with pytest.raises(RuntimeError):
        protocol.flush()


def test_audio_is_sent_as_binary_frames_of_exactly_50_ms() -> None:
    protocol = started()
    pcm = bytes(range(256)) * 15  # 3840 bytes: two full frames and 640 over
    protocol.send_audio(pcm[:1000])
    assert protocol.data_to_send() == []
    protocol.send_audio(pcm[1000:])
    frames = protocol.data_to_send()
    assert frames == [pcm[:1600], pcm[1600:3200]]
    protocol.flush()
    assert protocol.data_to_send() == [pcm[3200:], CHECKPOINT]  # remainder unpadded
    assert state(protocol) is State.FLUSHING
    assert not protocol.close_expected()


def test_flush_without_remainder_sends_only_the_checkpoint() -> None:
    protocol = started()
    protocol.send_audio(b"\x00" * 1600)
    assert len(protocol.data_to_send()) == 1
    protocol.flush()
    assert protocol.data_to_send() == [CHECKPOINT]


# -- transcription messages -------------------------------------------------------------


def test_docs_example_message() -> None:
    protocol = started(word_timestamps=True)
    spans = [("This", 0.12, 0.3), ("is", 0.3, 0.5), ("the", 0.5, 0.6), ("first", 0.6, 1.0),
             ("sentence", 1.0, 1.8)]  # fmt: skip
    first = [
        {"word": w, "language": "en", "probability": 0.98, "hallucination_score": 0.01,
         "start": start, "end": end, "is_final": True}
        for w, start, end in spans
    ]  # fmt: skip
    second = [
        {"word": "This", "probability": 0.9, "start": 2.0, "end": 2.2, "is_final": True},
        {"word": "is", "probability": 0.8, "start": 2.2, "end": 2.4, "is_final": False},
    ]
    events = receive(
        protocol,
        {
            "task": "transcribe",
            "language": "en",
            "text": "This is the first sentence This is the second",
            "words": first + second,
            "segments": [
                {"id": 0, "text": "This is the first sentence", "start": 0.1, "end": 1.9,
                 "words": first},
                {"id": 1, "text": "This is the second", "words": second},
            ],
        },
    )  # fmt: skip
    words0 = tuple(Word(w, start, end, 0.98, final=True) for w, start, end in spans)
    segment0 = Segment("This is the first sentence", 0.1, 1.9, words0, "0", "en")
    words1 = (Word("This", 2.0, 2.2, 0.9, final=True), Word("is", 2.2, 2.4, 0.8, final=False))
    segment1 = Segment("This is the second", None, None, words1, "1", "en")
    assert events == [
        Final(
            "0",
            "This is the first sentence",
            segments=(segment0,),
            words=words0,
            language="en",
            reason="vad",
        ),
        Partial("1", "This is the second", segments=(segment1,), words=words1, language="en"),
    ]


def test_a_revised_segment_overwrites_its_earlier_text() -> None:
    protocol = started()
    events = receive(protocol, message(seg(0, ("hello", False), ("wor", False))))
    assert kinds(events) == [("Partial", "0", "hello wor")]
    events = receive(protocol, message(seg(0, ("hello", True), ("world", False))))
    assert kinds(events) == [("Partial", "0", "hello world")]
    (partial,) = events
    assert isinstance(partial, Partial)
    assert [w.final for w in partial.words] == [True, False]
    # The same segment again, unchanged: nothing new to show.
    assert receive(protocol, message(seg(0, ("hello", True), ("world", False)))) == []


def test_segments_merge_by_id_and_come_out_in_numeric_order() -> None:
    protocol = started()
    events = receive(
        protocol,
        message(seg("10", ("ten", False)), seg(2, ("two", False)), seg("1", ("one", False))),
    )
    assert kinds(events) == [
        ("Partial", "1", "one"),
        ("Partial", "2", "two"),
        ("Partial", "10", "ten"),
    ]
    # A later message with only some ids: the others stay as they were (merge, not replace).
    events = receive(protocol, message(seg(2, ("two", True), ("too", True))))
    assert kinds(events) == [("Final", "2", "two too")]
    protocol.flush()
    protocol.data_to_send()
    events = receive(protocol, CHECKPOINT)
    assert kinds(events[:-1]) == [("Final", "1", "one"), ("Final", "10", "ten")]
    assert events[-1] == FlushAck()


def test_string_and_numeric_ids_name_the_same_segment() -> None:
    protocol = started()
    receive(protocol, message(seg("0", ("a", False))))
    assert kinds(receive(protocol, message(seg(0, ("a", True))))) == [("Final", "0", "a")]
    assert receive(protocol, message(seg(0.0, ("b", True)))) == []
    # A float id names the same segment as its integer (index 0 here, so not the fallback).
    assert kinds(receive(protocol, message(seg(3.0, ("c", False))))) == [("Partial", "3", "c")]


def test_a_segment_is_final_only_when_its_last_word_is() -> None:
    protocol = started()
    events = receive(protocol, message(seg(0, ("one", True), ("two", True), ("three", False))))
    assert kinds(events) == [("Partial", "0", "one two three")]
    events = receive(protocol, message(seg(0, ("one", False), ("two", False), ("three", True))))
    assert kinds(events) == [("Final", "0", "one two three")]
    (final,) = events
    assert isinstance(final, Final)
    assert [w.final for w in final.words] == [False, False, True]
    assert final.reason == "vad"


def test_a_segment_without_words_is_never_final_before_the_flush() -> None:
    protocol = started()
    events = receive(protocol, message({"id": 0, "text": "no words yet"}))
    assert kinds(events) == [("Partial", "0", "no words yet")]


def test_a_final_segment_is_immutable() -> None:
    protocol = started()
    receive(protocol, message(seg(0, ("done", True))))
    revised = message(seg(0, ("changed", False)), seg(1, ("next", False)))
    assert kinds(receive(protocol, revised)) == [("Partial", "1", "next")]
    assert receive(protocol, message(seg(0, ("changed", True)))) == []
    protocol.flush()
    protocol.data_to_send()
    events = receive(protocol, CHECKPOINT)
    assert kinds(events[:-1]) == [("Final", "1", "next")]  # "0" is not emitted twice


def test_checkpoint_echo_promotes_pending_segments_then_acks() -> None:
    protocol = flushing()
    receive(protocol, message(seg(0, ("first", True)), seg(1, ("second", True), ("half", False))))
    events = receive(protocol, CHECKPOINT)
    assert len(events) == 2
    final, ack = events
    assert final == Final(
        "1",
        "second half",
        segments=(Segment("second half", words=(Word("second"), Word("half")), id="1"),),
        words=(Word("second"), Word("half")),  # the flush makes every word final
        reason="flush",
    )
    assert ack == FlushAck()
    assert state(protocol) is State.FLUSHED
    assert protocol.close_expected()
    # A repeated echo is not a second flush acknowledgement.
    assert receive(protocol, CHECKPOINT) == []
    protocol.connection_closed(1000, "bye")
    assert protocol.events_received() == [SessionEnded("client_close", 1000, "bye")]


def test_checkpoint_echo_with_nothing_pending_only_acks() -> None:
    protocol = flushing()
    assert receive(protocol, CHECKPOINT) == [FlushAck()]


@pytest.mark.parametrize("echo", ['{"checkpoint_id":"mid-1"}', '{"checkpoint_id":7}'])
def test_other_checkpoints_are_ignored(echo: str) -> None:
    protocol = flushing()
    receive(protocol, message(seg(0, ("pending", False))))
    assert receive(protocol, echo) == []
    assert state(protocol) is State.FLUSHING


def test_an_unrequested_final_checkpoint_is_ignored() -> None:
    protocol = started()
    receive(protocol, message(seg(0, ("pending", False))))
    assert receive(protocol, CHECKPOINT) == []
    assert state(protocol) is State.STREAMING


@pytest.mark.parametrize(
    "control",
    [
        {"event_id": "e1", "object": "stt.state.cleared", "reset_id": "r1"},
        {"event_id": "e2", "object": "stt.output.trace", "trace_id": "final"},
        {"object": "something.new"},
        {"task": "transcribe", "text": "text without segments"},
    ],
)
def test_control_replies_are_ignored(control: dict[str, Any]) -> None:
    protocol = started()
    assert receive(protocol, control) == []


def test_segment_language_overrides_the_message_language() -> None:
    protocol = started()
    raw = seg(0, ("hallo", True))
    raw["language"] = "de"
    (final,) = receive(protocol, {"language": "en", "segments": [raw]})
    assert isinstance(final, Final)
    assert final.language == "de"
    assert final.segments[0].language == "de"


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"error": "Invalid API key"}, ProviderError("Invalid API key")),
        (
            {"error": {"message": "Too many streams", "code": "rate_limited"}},
            ProviderError("Too many streams", "rate_limited"),
        ),
        (
            {"error": {"message": "Bad audio", "type": "invalid_request", "code": None}},
            ProviderError("Bad audio", "invalid_request"),
        ),
        ({"error": {"code": 500}}, ProviderError("error: {'code': 500}", "500")),
    ],
)
def test_error_shapes(error: dict[str, Any], expected: ProviderError) -> None:
    protocol = started()
    assert receive(protocol, error) == [expected]


def test_an_error_wins_over_segments_in_the_same_message() -> None:
    protocol = started()
    events = receive(protocol, {"error": "boom", "segments": [seg(0, ("x", True))]})
    assert events == [ProviderError("boom")]


@pytest.mark.parametrize("text", ["{", "not json", "[]", "null"])
def test_invalid_json_is_a_protocol_error(text: str) -> None:
    protocol = started()
    (event,) = receive(protocol, text)
    assert isinstance(event, ProviderError)
    assert event.code == "protocol"
    assert event.message.startswith("fireworks: ")


@pytest.mark.parametrize(
    "junk",
    [
        {"segments": [None, 3, "x", {"id": None, "text": 5, "words": "nope"}]},
        {"segments": [{"id": True, "words": [None, {"word": 1}, {"text": "ok", "start": "0"}]}]},
        {"segments": None, "text": None},
        {"error": None, "checkpoint_id": None},
    ],
)
def test_malformed_messages_never_raise(junk: dict[str, Any]) -> None:
    protocol = started()
    receive(protocol, junk)  # must not raise
    assert state(protocol) is State.STREAMING


def test_segment_without_an_id_falls_back_to_its_position() -> None:
    protocol = started()
    events = receive(protocol, {"segments": [{"text": "a", "words": [{"text": "a"}]}]})
    assert kinds(events) == [("Partial", "0", "a")]


def test_segment_without_text_is_spelled_from_its_words() -> None:
    protocol = started()
    words = [{"word": " Hi", "is_final": False}, {"word": " there", "is_final": False}]
    events = receive(protocol, {"segments": [{"id": 4, "words": words}]})
    assert kinds(events) == [("Partial", "4", "Hi there")]
