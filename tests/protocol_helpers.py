"""Helpers the provider protocol tests (tests/unit/test_*_protocol.py) share."""

from __future__ import annotations

import json

from app.core.providers.base import State, StreamingProtocol


def receive(protocol: StreamingProtocol, message: object, *, replies: bool = False) -> list[object]:
    """Hand ``message`` (a JSON-able value, or text as sent) to ``protocol``; its events.

    Without ``replies`` the protocol must have queued nothing to send back (Together and
    Fireworks never answer a server message); with it, what it queued stays for the test.
    """
    protocol.receive_text(message if isinstance(message, str) else json.dumps(message))
    if not replies:
        assert protocol.data_to_send() == []
    return list(protocol.events_received())


def state(protocol: StreamingProtocol) -> State:
    """The current state (a call, so mypy does not narrow it across calls)."""
    return protocol.state
