"""The calling contract of app.core.providers.base, checked on every registered provider.

Each provider's own tests pin its exact frames; this one says what they all share, so a
new provider's spec and protocol module are held to it the day they are added.
"""

from __future__ import annotations

import pytest

from app.core.events import ConfigRejected, Event, FlushAck, ProviderError, SessionEnded
from app.core.options import KEY_ENV_VARS, PROVIDER_TITLES, ProviderOptions
from app.core.providers.base import State, StreamingProtocol
from app.core.providers.registry import SPECS, ProviderSpec, build_protocol, connection_variants
from app.core.settings import Settings

ENDPOINTS = {"baseten": "ws://127.0.0.1:9/ws", "together": None, "fireworks": None}


def options_of(spec: ProviderSpec) -> ProviderOptions:
    endpoint = ENDPOINTS.get(spec.name)
    return spec.options(endpoint=endpoint) if endpoint else spec.options()  # type: ignore[call-arg]


@pytest.fixture(params=SPECS, ids=lambda spec: spec.name)
def spec(request: pytest.FixtureRequest) -> ProviderSpec:
    return request.param  # type: ignore[no-any-return]


def drained(protocol: StreamingProtocol) -> list[Event]:
    protocol.data_to_send()
    return protocol.events_received()


def test_a_spec_names_everything_the_app_needs(spec: ProviderSpec) -> None:
    assert spec.options.provider == spec.name
    assert PROVIDER_TITLES[spec.name] == spec.options.title
    assert (spec.name in KEY_ENV_VARS) == (spec.options.key_env is not None)
    assert isinstance(getattr(Settings(), spec.name), spec.options)  # a settings field
    variants = connection_variants(options_of(spec), None)
    assert variants
    for variant in variants:
        assert build_protocol(options_of(spec), schema=variant).provider == spec.name


def test_the_life_cycle(spec: ProviderSpec) -> None:
    protocol = build_protocol(options_of(spec))
    assert protocol.state is State.IDLE
    request = protocol.connect_request("secret-key-123")
    assert request.url.startswith(("ws://", "wss://", "local:"))
    assert "secret-key-123" not in repr(request)
    with pytest.raises(RuntimeError):
        protocol.send_audio(b"\x00\x00")  # not before start()
    protocol.start()
    assert protocol.state is State.STREAMING
    protocol.send_audio(bytes(2 * protocol.sample_rate))  # one second of silence
    assert drained(protocol) == []
    assert protocol.flush_settle_after() is None  # nothing to settle before a flush
    protocol.flush()
    assert protocol.data_to_send()  # the end-of-audio message at least
    assert protocol.state is State.FLUSHING
    assert not protocol.close_expected()
    with pytest.raises(RuntimeError):
        protocol.flush()
    protocol.connection_closed(1006, "")
    events = protocol.events_received()
    assert events[-1] == SessionEnded("server_close", 1006, "")
    # Only errors before the end (Baseten reads a close before any reply as a refusal).
    assert all(isinstance(e, ProviderError | ConfigRejected | SessionEnded) for e in events)
    assert protocol.state is State.CLOSED
    protocol.connection_closed(1006, "")  # a second close changes nothing
    assert protocol.events_received() == []


def test_declared_capabilities(spec: ProviderSpec) -> None:
    protocol = build_protocol(options_of(spec))
    assert isinstance(protocol.flush_ack_guaranteed, bool)
    assert protocol.unsupported_options() == [] or spec.name == "baseten"
    assert isinstance(protocol.sample_rate, int)


def test_garbage_is_a_typed_error_never_an_exception(spec: ProviderSpec) -> None:
    protocol = build_protocol(options_of(spec))
    protocol.start()
    for text in ("", "{", "[" * 10_000, '"\\ud83d"', "null", '{"type": 5}'):
        protocol.receive_text(text)
    protocol.receive_bytes(b"\xff\x00")
    events = drained(protocol)
    assert all(isinstance(e, Event.__args__) for e in events)  # type: ignore[attr-defined]
    assert any(isinstance(e, ProviderError) and e.code == "protocol" for e in events)


def test_settle_flush_is_the_engines_to_call_only_while_flushing(spec: ProviderSpec) -> None:
    protocol = build_protocol(options_of(spec))
    protocol.start()
    with pytest.raises(RuntimeError):
        protocol.settle_flush()
    protocol.flush()
    protocol.data_to_send()
    protocol.settle_flush()
    assert protocol.events_received() == [FlushAck(synthesized=True)]
    assert protocol.close_expected()
