"""Endpoint rules: TLS for everything but this machine."""

from __future__ import annotations

import pytest

from app.core.errors import InsecureEndpointError
from app.core.urls import check_endpoint


@pytest.mark.parametrize(
    "url",
    [
        "wss://model-abc.api.baseten.co/environments/production/websocket",
        "ws://127.0.0.1:8080/ws",
        "ws://127.1.2.3/ws",
        "ws://localhost:1/x",
        "ws://[::1]:9000/x",
    ],
)
def test_allowed(url: str) -> None:
    assert check_endpoint(url) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ws://example.com/ws", "Refusing unencrypted ws:// to example.com; use wss://"),
        ("ws://10.0.0.5/ws", "Refusing unencrypted ws:// to 10.0.0.5"),
        ("https://example.com/ws", "is not a WebSocket URL"),
        ("wss:///nohost", "is not a WebSocket URL"),
        ("wss://user:pw@example.com/ws", "must not contain credentials"),
    ],
)
def test_refused(url: str, message: str) -> None:
    with pytest.raises(InsecureEndpointError, match=message):
        check_endpoint(url)
