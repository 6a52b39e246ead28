"""Property tests: no server message can crash a client protocol or break an event.

Every client protocol's receive path (Baseten in both metadata schemas, Together in
both flush modes, Fireworks, the local engine's client) gets arbitrary text, arbitrary
JSON, each provider's real message shapes with fields deleted or replaced by
wrong-typed values at every level, arbitrary binary frames, deep nesting, huge
strings and lone surrogates, in every state: before ``start()``, streaming, flushing
after ``flush()`` and after ``connection_closed()``.

What must hold after every call:

* no exception escapes;
* every event is one of :data:`app.core.events.Event`, each field of the type it is
  declared with (recursively, through segments and words), every string encodable
  as UTF-8 (no lone surrogates) and every number finite;
* every error event says what went wrong on one line of bounded length;
* a frame that is not a JSON object, too long, too deep or binary is one
  ``ProviderError`` with code ``"protocol"``, and it changes no state.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import baseten_server as server
from app.core import jsonwire
from app.core.baseten_metadata import SessionParams
from app.core.events import ConfigRejected, Event, Final, Partial, ProviderError, Segment, Word
from app.core.local_types import TranscribedSegment, TranscriptionResult, WordTiming
from app.core.options import BasetenOptions, FireworksOptions, LocalOptions, TogetherOptions
from app.core.providers.base import State, StreamingProtocol
from app.core.providers.baseten import BasetenProtocol
from app.core.providers.fireworks import FireworksProtocol
from app.core.providers.local import LocalProtocol
from app.core.providers.together import TogetherProtocol

EXAMPLES = int(os.environ.get("HARK_FUZZ_EXAMPLES", "60"))
"""Examples per test and protocol: the file runs in well under 20 s. Set
``HARK_FUZZ_EXAMPLES=5000`` for a longer hunt."""
FUZZ = settings(max_examples=EXAMPLES, deadline=None)

MAX_ERROR_CHARS = 600
"""Longest error message accepted: a one-line summary, not the offending frame."""

MAX_PROTOCOL_ERROR_CHARS = 300
"""Longest report of a malformed frame: why, and a short excerpt of the frame."""

MAX_CODE_CHARS = 201
"""Longest error code accepted: an identifier, whatever the server put there."""

_ENDPOINT = "ws://127.0.0.1:1/ws"
PROTOCOLS: dict[str, Callable[[], StreamingProtocol]] = {
    "baseten": lambda: BasetenProtocol(BasetenOptions(endpoint=_ENDPOINT), schema="current"),
    "baseten-legacy": lambda: BasetenProtocol(BasetenOptions(endpoint=_ENDPOINT), "legacy"),
    "together": lambda: TogetherProtocol(TogetherOptions()),
    "together-first-completed": lambda: TogetherProtocol(TogetherOptions(commit_reply=False)),
    "fireworks": lambda: FireworksProtocol(FireworksOptions()),
    "local": lambda: LocalProtocol(LocalOptions(model="tiny")),
}
STATES = ("idle", "streaming", "flushing", "closed")


def make(name: str, state: str) -> StreamingProtocol:
    """A fresh protocol, driven through the public calls into ``state``."""
    protocol = PROTOCOLS[name]()
    if state != "idle":
        protocol.start()
    if state == "flushing":
        protocol.flush()
    if state == "closed":
        protocol.connection_closed(1006, "")
    protocol.data_to_send()
    protocol.events_received()
    return protocol


# -- the real message shapes -------------------------------------------------------------

_WORD = {"start_time": 0.5, "end_time": 0.9, "word": " Hello", "prob": 0.95, "speaker": None}
_CURRENT_SEGMENT = {
    "start_time": 0.5,
    "end_time": 1.25,
    "text": " Hello world.",
    "log_prob": -0.2,
    "word_timestamps": [_WORD, {**_WORD, "word": " world.", "start_time": 0.9, "end_time": 1.25}],
    "speaker": None,
    "speaker_confidence": None,
    "possible_hallucination": False,
    "beam_results": None,
    "language_code": "en",
    "language_prob": 0.99,
}
_CURRENT = {
    "type": "transcription",
    "is_final": True,
    "transcription_num": 1,
    "segments": [_CURRENT_SEGMENT],
    "language_code": "en",
    "language_prob": 0.99,
    "diarization": [],
    "timing_info": {},
    "enable_chunk_level_language_detection": False,
    "audio_length_sec": 0.75,
    "next_partial": None,
    "pipeline_latency": 0.0,
}
_LEGACY_SEGMENTS = [{"start": 0.5, "end": 1.25, "text": " Hello world."}]
BASETEN: list[Any] = [
    _CURRENT,
    {**_CURRENT, "is_final": False},
    {**_CURRENT, "is_end_of_audio_flush": True, "audio_length_sec": 30.0},
    {  # legacy shape 1: is_final and transcript, no type
        "is_final": True,
        "transcript": "Hello world.",
        "confidence": 0.95,
        "language_code": "en",
        "segments": _LEGACY_SEGMENTS,
    },
    {  # legacy shape 2: message_type
        "message_type": "partial_transcript",
        "transcript": "Hello",
        "confidence": 0.95,
        "language": "en",
        "segments": _LEGACY_SEGMENTS,
    },
    {"message_type": "final_transcript", "transcript": "Hello world.", "segments": []},
    {"type": "end_audio", "trace_id": 7, "timestamp": None, "body": {"status": "acknowledged"}},
    {"type": "end_audio", "trace_id": None, "timestamp": None, "body": {"status": "finished"}},
    {
        "type": "error",
        "trace_id": None,
        "timestamp": None,
        "body": {
            "error_type": "StreamError",
            "message": "Too much audio",
            "stream_id": "s1",
            "recoverable": False,
            "timestamp": 1.0,
        },
    },
    {"type": "error", "body": {"error": "Unhandled message type: x"}},
    {"type": "error", "message": "top-level message"},
    {"type": "health_check", "trace_id": None, "timestamp": 1.0, "body": {"healthy": True}},
    {"type": "session.created", "session": {"id": "v2"}},
]

_ITEM = "conversation.item.input_audio_transcription."
TOGETHER: list[Any] = [
    {
        "event_id": "event_1",
        "type": "session.created",
        "session": {
            "id": "sess_1",
            "object": "realtime.transcription_session",
            "model": "openai/whisper-large-v3",
            "input_audio_format": "pcm_s16le_16000",
            "turn_detection": {"type": "server_vad", "threshold": 0.3, "speech_pad_ms": 250},
        },
    },
    {"type": _ITEM + "delta", "item_id": "item_1", "content_index": 0, "delta": "Hello"},
    {"type": _ITEM + "delta", "transcript": "Hello wor"},  # Pipecat's spelling
    {"type": _ITEM + "completed", "item_id": "item_1", "content_index": 0, "transcript": "Hi."},
    {
        "type": _ITEM + "failed",
        "item_id": "item_2",
        "error": {"type": "server_error", "code": "server_error", "message": "failed"},
    },
    {"type": "error", "error": {"type": "invalid_request_error", "code": 400, "message": "x"}},
    {"type": "error", "error": "a bare string"},
    {"type": "error", "message": "top level", "code": "server_error"},
    {"type": "input_audio_buffer.committed", "previous_item_id": None, "item_id": "item_3"},
    {"type": "input_audio_buffer.speech_started", "audio_start_ms": 100, "item_id": "item_4"},
]

_FW_WORD = {
    "word": "Hello",
    "language": "en",
    "probability": 0.98,
    "hallucination_score": 0.01,
    "is_final": False,
    "start": 0.5,
    "end": 0.9,
}
_FW_SEGMENT = {"id": 0, "text": "Hello", "start": 0.5, "end": 0.9, "words": [_FW_WORD]}
FIREWORKS: list[Any] = [
    {
        "task": "transcribe",
        "language": "en",
        "text": "Hello",
        "words": [_FW_WORD],
        "segments": [_FW_SEGMENT],
    },
    {  # a later snapshot: segment 0 final, segment "1" (a string id) still open
        "task": "transcribe",
        "language": "en",
        "segments": [
            {**_FW_SEGMENT, "words": [{**_FW_WORD, "is_final": True}]},
            {"id": "1", "text": "there", "words": [{"text": "there", "is_final": False}]},
        ],
    },
    {"checkpoint_id": "final"},
    {"checkpoint_id": "mid"},
    {"error": {"message": "bad audio", "code": "emulated_error"}},
    {"error": "a bare string"},
    {"event_id": "e1", "object": "stt.state.cleared", "reset_id": "r1"},
    {"event_id": "e2", "object": "stt.output.trace", "trace_id": "t1"},
]


def _local_shapes() -> list[Any]:
    """The messages the local engine's server side builds, as the local client gets them."""
    result = TranscriptionResult.of(
        (
            TranscribedSegment(
                0.5,
                1.25,
                " Hello world.",
                (WordTiming(" Hello", 0.5, 0.9, 0.98), WordTiming(" world.", 0.9, 1.25, 0.95)),
            ),
        ),
        language="en",
        language_prob=0.97,
    )
    params = dataclasses.replace(SessionParams(), word_timestamps=True, latency_metric=True)
    side = server.BasetenServerProtocol(defaults=params, stream_id="s1")
    texts = [
        side.partial(result, offset=2.0, audio_length=1.0, latency=0.1),
        side.final(result, offset=2.0, audio_length=1.0),
        side.final(result, offset=3.0, audio_length=1.0, end_of_audio=True),
        side.error("The model cannot be loaded", recoverable=False, now=1.0),
        side.error("Failed to validate text message: x", recoverable=True),
        side.end_audio_ack(7),
        side.finished(),
        side.health(server.HealthCheck(None, True), now=1.0),
    ]
    return [json.loads(t) for t in texts if t is not None]


SHAPES: dict[str, list[Any]] = {
    "baseten": BASETEN,
    "baseten-legacy": BASETEN,
    "together": TOGETHER,
    "together-first-completed": TOGETHER,
    "fireworks": FIREWORKS,
    "local": _local_shapes() + BASETEN,
}


def _all_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _all_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _all_keys(item)


KEYS = sorted({key for shapes in SHAPES.values() for shape in shapes for key in _all_keys(shape)})
"""Every field name of every shape: arbitrary objects are made of them."""


# -- strategies --------------------------------------------------------------------------


def _nest(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {"body": value}
    return value


LONE = ["\ud83d", "\ude00", "caf\u00e9 \ud800 and \udfff", "\udbff\udfff\udc00"]
CHARS = st.characters() | st.characters(categories=["Cs"]) | st.sampled_from("\n\r\t\x00\u2028")
TEXT = st.text(CHARS, max_size=40) | st.sampled_from(LONE)
HUGE = st.sampled_from(["w" * 200_000, "\u00e9" * 100_000 + "\ud83d", "\n" * 50_000])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, -1, 2**63, -(2**64), 10**400, -(10**400)])
    | st.floats()  # NaN and both infinities included: Python's json reads and writes them
    | st.sampled_from([1e308, -1e-320, -0.0])
    | TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | TEXT, inner, max_size=4)
    ),
    max_leaves=12,
)
NASTY = st.sampled_from(
    [
        *(None, True, False, 0, -1, 10**400, math.nan, math.inf, -math.inf, 1e308),
        *("", " ", "\n", *LONE),
        *([], {}, [None], {"": None}, _nest(10), _nest(70)),
    ]
)
WRONG = NASTY | JSON | HUGE
"""What replaces a field: any JSON value, a huge string, nesting past the limit."""


def _slots(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path to every value inside ``value``, at every level."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        yield (*path, key)
        if isinstance(item, dict | list):
            yield from _slots(item, (*path, key))


@st.composite
def mutated(draw: st.DrawFn, shapes: list[Any]) -> Any:
    """A real message shape with one to three fields deleted, replaced or added."""
    message = copy.deepcopy(draw(st.sampled_from(shapes)))
    for _ in range(draw(st.integers(1, 3))):
        slots = list(_slots(message))
        how = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if not slots or how == "add":
            containers = [()] + [s for s in slots if isinstance(_at(message, s), dict)]
            target = _at(message, draw(st.sampled_from(containers)))
            target[draw(st.sampled_from(KEYS) | TEXT)] = copy.deepcopy(draw(WRONG))
            continue
        path = draw(st.sampled_from(slots))
        parent = _at(message, path[:-1])
        if how == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(draw(WRONG))  # later steps may edit it
    return message


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


@st.composite
def encoded(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> str:
    """``values`` as a text frame: ASCII with ``\\u`` escapes, or raw characters."""
    value = draw(values)
    return json.dumps(value, ensure_ascii=draw(st.booleans()), allow_nan=True)


def frames(name: str) -> st.SearchStrategy[str]:
    """Text frames for ``name``: the real shapes, mutated ones, and anything at all."""
    shapes = SHAPES[name]
    return (
        encoded(st.sampled_from(shapes))
        | encoded(mutated(shapes))
        | encoded(mutated(shapes))
        | encoded(JSON)
        | st.text(CHARS, max_size=80)
    )


# -- what must hold ----------------------------------------------------------------------

EVENT_TYPES: tuple[type, ...] = typing.get_args(Event)
_HINTS = {cls: typing.get_type_hints(cls) for cls in (*EVENT_TYPES, Segment, Word)}


def _fits(value: Any, hint: Any) -> bool:
    """``value`` is of type ``hint``, with valid strings and finite numbers all the way down."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return value in args
    if origin in (types.UnionType, typing.Union):
        return any(_fits(value, arg) for arg in args)
    if origin is tuple:
        return isinstance(value, tuple) and all(_fits(item, args[0]) for item in value)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, float) and math.isfinite(value)
    if hint is str:
        if not isinstance(value, str):
            return False
        value.encode("utf-8")  # raises on a lone surrogate
        return True
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return isinstance(value, hint) and all(
            _fits(getattr(value, name), field_hint) for name, field_hint in _HINTS[hint].items()
        )
    raise AssertionError(f"no rule for {hint!r}")


def check(events: list[Event]) -> list[Event]:
    """Assert the invariants of every event; return them."""
    for event in events:
        assert isinstance(event, EVENT_TYPES), event
        assert _fits(event, type(event)), event
        if isinstance(event, ProviderError | ConfigRejected):
            message = event.message
            assert message, event
            assert len(message) <= MAX_ERROR_CHARS, (len(message), message[:300])
            assert not {"\n", "\r"} & set(message), message[:300]
        if isinstance(event, ProviderError) and event.code == "protocol":
            assert len(event.message) <= MAX_PROTOCOL_ERROR_CHARS, event.message
        if isinstance(event, ProviderError) and event.code is not None:
            assert len(event.code) <= MAX_CODE_CHARS, (len(event.code), event.code[:300])
            assert not {"\n", "\r"} & set(event.code), event.code[:300]
    return events


def receive(protocol: StreamingProtocol, text: str) -> list[Event]:
    protocol.receive_text(text)
    protocol.data_to_send()
    return check(protocol.events_received())


def assert_skipped(protocol: StreamingProtocol, before: State, events: list[Event]) -> None:
    """The frame was one typed protocol error and changed nothing."""
    assert len(events) == 1, events
    [event] = events
    assert isinstance(event, ProviderError), event
    assert event.code == "protocol"
    assert not event.fatal
    assert protocol.state is before


NAMES = pytest.mark.parametrize("name", list(PROTOCOLS))
STATE = st.sampled_from(STATES)


# -- the properties ----------------------------------------------------------------------


@NAMES
@FUZZ
@given(state=STATE, data=st.data())
def test_any_single_frame(name: str, state: str, data: st.DataObject) -> None:
    protocol = make(name, state)
    text = data.draw(frames(name), label="frame")
    receive(protocol, text)


@NAMES
@FUZZ
@given(
    state=STATE,
    text=st.text(CHARS, max_size=200).filter(lambda t: not t.lstrip().startswith("{"))
    | encoded(st.lists(JSON, max_size=3) | SCALARS),
)
def test_a_frame_that_is_not_a_json_object_is_skipped(name: str, state: str, text: str) -> None:
    protocol = make(name, state)
    before = protocol.state
    assert_skipped(protocol, before, receive(protocol, text))


@NAMES
@FUZZ
@given(
    state=STATE,
    message=st.sampled_from(
        [
            "[" * 100_000 + "]" * 100_000,
            '{"type": ' * 5_000 + "1" + "}" * 5_000,
            json.dumps({"type": "transcription", "segments": [_nest(80)]}),
            json.dumps({"segments": _nest(70), "error": _nest(70)}),
            " " * (jsonwire.MAX_CHARS + 1),
            '{"type": "error", "message": "' + "x" * jsonwire.MAX_CHARS + '"}',
            '{"transcript": ' + "1" * 5_000 + "}",  # past int's 4300-digit limit
            '{"type": "transcription", "is_final": true, "segments": [}',
            "{" + "\ud83d" * 50 + "}",
            "\ufeff{}",
        ]
    ),
)
def test_a_hostile_frame_is_skipped(name: str, state: str, message: str) -> None:
    protocol = make(name, state)
    before = protocol.state
    assert_skipped(protocol, before, receive(protocol, message))


@NAMES
@FUZZ
@given(state=STATE, data=st.binary(max_size=600) | st.sampled_from([b"", b"{}", b"\xff" * 70_000]))
def test_a_binary_frame_is_skipped(name: str, state: str, data: bytes) -> None:
    protocol = make(name, state)
    before = protocol.state
    protocol.receive_bytes(data)
    assert_skipped(protocol, before, check(protocol.events_received()))


@NAMES
@FUZZ
@given(state=STATE, data=st.data())
def test_huge_and_broken_strings_in_every_field(name: str, state: str, data: st.DataObject) -> None:
    """Any field of any real shape, at any level, set to a huge string or lone surrogates."""
    message = copy.deepcopy(data.draw(st.sampled_from(SHAPES[name]), label="shape"))
    path = data.draw(st.sampled_from(list(_slots(message))), label="path")
    _at(message, path[:-1])[path[-1]] = data.draw(HUGE | st.sampled_from(LONE), label="text")
    protocol = make(name, state)
    receive(protocol, json.dumps(message, ensure_ascii=False))  # raw surrogates in the str
    receive(protocol, json.dumps(message))  # "\ud83d" escapes


Operation = tuple[str, Any]


def operations(name: str) -> st.SearchStrategy[list[Operation]]:
    op = (
        st.tuples(st.just("text"), frames(name))
        | st.tuples(st.just("text"), encoded(st.sampled_from(SHAPES[name])))
        | st.tuples(st.just("bytes"), st.binary(max_size=64))
        | st.tuples(st.just("flush"), st.none())
        | st.tuples(st.just("flush"), st.none())
        | st.tuples(st.just("close"), st.tuples(st.none() | st.integers(0, 4999), TEXT))
    )
    return st.lists(op, max_size=12)


@NAMES
@settings(FUZZ, max_examples=max(1, EXAMPLES * 2 // 3))
@given(data=st.data())
def test_any_sequence_of_frames_across_the_life_cycle(name: str, data: st.DataObject) -> None:
    """Frames, flushes and a close in any order: the events stay valid in every state."""
    protocol = make(name, "idle")
    for kind, arg in data.draw(operations(name), label="operations"):
        if kind == "text":
            receive(protocol, arg)
        elif kind == "bytes":
            protocol.receive_bytes(arg)
            check(protocol.events_received())
        elif kind == "flush":  # the next step of the life cycle: start, else flush
            if protocol.state is State.IDLE:
                protocol.start()
            elif protocol.state is State.STREAMING:  # flush() is only allowed there
                protocol.flush()
        else:
            code, reason = arg
            # The transport decodes the close reason as UTF-8 (at most 123 bytes).
            protocol.connection_closed(code, reason.encode("utf-8", "replace").decode()[:123])
        protocol.data_to_send()
        check(protocol.events_received())


# -- what the properties found --------------------------------------------------------------


@given(text=st.text(CHARS) | HUGE, limit=st.integers(1, 600))
@FUZZ
def test_an_excerpt_is_one_bounded_line(text: str, limit: int) -> None:
    line = jsonwire.excerpt(text, limit)
    assert len(line) <= limit + 1
    assert not {"\n", "\r", "\x00", "\u2028"} & set(line)
    line.encode("utf-8")
    if len(text) <= limit and text.isprintable():
        assert line == text.strip()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("baseten", {"type": "error", "body": {"message": "x" * 200_000, "error_type": "E\nE"}}),
        ("baseten", {"type": "error", "message": "line one\nline two"}),
        ("together", {"type": "error", "error": {"message": "x" * 200_000, "code": "y" * 9999}}),
        ("together", {"type": _ITEM + "failed", "error": "x" * 200_000}),
        ("fireworks", {"error": {"message": "x" * 200_000, "code": "y" * 9999}}),
        ("fireworks", {"error": "\n"}),
    ],
)
@pytest.mark.parametrize("first", [True, False])
def test_an_error_from_the_server_is_one_bounded_line(name: str, message: Any, first: bool) -> None:
    """The server's own error text went into the event whole: 200,000 characters on one
    event, which a fatal error then put in the one-line message the user sees."""
    protocol = make(name, "streaming")
    if not first:  # Baseten: an error right after the metadata is a refused configuration
        receive(protocol, json.dumps({"type": "health_check", "body": {"healthy": True}}))
    [event] = receive(protocol, json.dumps(message))  # check() asserts one bounded line
    assert isinstance(event, ProviderError | ConfigRejected)
    assert len(event.message) <= jsonwire.MESSAGE_CHARS + 1


@pytest.mark.parametrize("name", ["baseten", "local", "fireworks"])
@pytest.mark.parametrize("number", ["1" + "0" * 400, "-" + "9" * 4000])
def test_an_integer_past_float_range_is_no_time(name: str, number: str) -> None:
    """``float(10**400)`` raised OverflowError out of receive_text."""
    if name == "fireworks":
        text = '{"segments": [{"id": 1, "text": "hi", "start": N, "words": []}]}'
    else:
        text = '{"type": "transcription", "is_final": true, "segments": [{"text": "hi", '
        text += '"start_time": N, "word_timestamps": [{"word": "hi", "prob": N}]}]}'
    [event] = receive(make(name, "streaming"), text.replace("N", number))
    assert isinstance(event, Partial | Final)
    assert event.text.strip() == "hi"
    assert event.segments[0].start is None


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_numbers_json_cannot_spell_become_null(number: str) -> None:
    """Python's json reads NaN and Infinity; in an event they made ``hark transcribe
    --json`` print lines no JSON reader accepts."""
    assert jsonwire.loads('{"a": [N]}'.replace("N", number)) == {"a": [None]}
    text = '{"type": "transcription", "is_final": true, "language_prob": N, '
    text += '"segments": [{"text": "hi", "start_time": N, "end_time": 1.0}]}'
    [event] = receive(make("baseten", "streaming"), text.replace("N", number))
    json.dumps(dataclasses.asdict(event), allow_nan=False)
