"""What no server (or, for ``hark serve``, no client) can do: crash a protocol.

Deeply nested JSON raised RecursionError past every ``except ValueError``; a lone
surrogate escape (``"\\ud83d"``) became a string that cannot be encoded, and the
CLI crashed printing it. Each receive path now gets a typed protocol error or clean
text.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.core import jsonwire
from app.core.baseten_server import BadFrame, BasetenServerProtocol, MetadataRejected
from app.core.events import Final, ProviderError
from app.core.options import BasetenOptions, FireworksOptions, TogetherOptions
from app.core.providers.base import StreamingProtocol
from app.core.providers.registry import build_protocol

DEEP = "[" * 100_000 + "]" * 100_000
LONE = '"caf\\u00e9 \\ud83d and \\ude00 alone, \\ud83d\\ude00 paired"'
CLEAN = "café \ufffd and \ufffd alone, 😀 paired"


def test_deep_nesting_is_a_malformed_message() -> None:
    with pytest.raises(jsonwire.MalformedMessage, match="nested too deeply"):
        jsonwire.loads(DEEP)
    with pytest.raises(jsonwire.MalformedMessage, match="nested too deeply"):
        jsonwire.loads("[" * 65 + "]" * 65)
    assert jsonwire.loads("[" * 64 + "]" * 64) is not None


def test_oversized_and_invalid_messages_are_malformed() -> None:
    with pytest.raises(jsonwire.MalformedMessage, match="the limit is 10"):
        jsonwire.loads('"' + "x" * 20 + '"', max_chars=10)
    with pytest.raises(jsonwire.MalformedMessage, match="invalid JSON"):
        jsonwire.loads("{nope")


def test_lone_surrogates_become_replacement_characters_everywhere() -> None:
    value = jsonwire.loads('{"a": [' + LONE + "], " + LONE + ": 1}")
    assert value == {"a": [CLEAN], CLEAN: 1}
    json.dumps(value, ensure_ascii=False).encode("utf-8")  # printable, storable


def _client(provider: str) -> StreamingProtocol:
    options = {
        "baseten": BasetenOptions(endpoint="ws://127.0.0.1:1/ws", schema="current"),
        "together": TogetherOptions(),
        "fireworks": FireworksOptions(),
    }[provider]
    protocol = build_protocol(options)
    protocol.start()
    protocol.data_to_send()
    return protocol


FINALS: dict[str, str] = {
    "baseten": '{"type": "transcription", "is_final": true, "transcription_num": 1, '
    '"segments": [{"start_time": 0, "end_time": 1, "text": ' + LONE + "}]}",
    "together": '{"type": "conversation.item.input_audio_transcription.completed", '
    '"item_id": "item_1", "transcript": ' + LONE + "}",
    "fireworks": '{"task": "transcribe", "segments": [{"id": 0, "text": ' + LONE + "}]}",
}


@pytest.mark.parametrize("provider", ["baseten", "together", "fireworks"])
@pytest.mark.parametrize(
    "message", [DEEP, '{"x": ' * 5000 + "1" + "}" * 5000, "x" * (jsonwire.MAX_CHARS + 1)]
)
def test_no_message_crashes_a_client(provider: str, message: str) -> None:
    protocol = _client(provider)
    protocol.receive_text(message)
    [event] = protocol.events_received()
    assert isinstance(event, ProviderError)
    assert event.code == "protocol"
    assert len(event.message) < 400


@pytest.mark.parametrize("provider", ["baseten", "together", "fireworks"])
def test_lone_surrogates_in_a_final_are_replaced(provider: str) -> None:
    protocol = _client(provider)
    protocol.receive_text(FINALS[provider])
    if provider == "fireworks":  # segments become final on the flush
        protocol.flush()
        protocol.receive_text('{"checkpoint_id": "final"}')
    finals = [e for e in protocol.events_received() if isinstance(e, Final)]
    assert finals, protocol.events_received()
    text: Any = finals[0].text
    assert text.strip() == CLEAN
    text.encode("utf-8")


def test_no_client_message_crashes_the_server() -> None:
    server = BasetenServerProtocol()
    [rejected] = server.receive_text(DEEP)
    assert isinstance(rejected, MetadataRejected)

    server = BasetenServerProtocol()
    server.receive_text("{}")
    for message in (DEEP, "x" * (jsonwire.MAX_CHARS + 1)):
        [bad] = server.receive_text(message)
        assert isinstance(bad, BadFrame)
