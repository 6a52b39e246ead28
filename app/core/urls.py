"""Endpoint URL rules: TLS everywhere except this machine."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from app.core.errors import InsecureEndpointError


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str) -> str:
    """Validate a WebSocket endpoint URL and return it unchanged.

    Raises:
        InsecureEndpointError: for a scheme other than ``wss``/``ws``, a missing host,
            or ``ws://`` to anything but loopback (the audio and the key would travel
            in clear text).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise InsecureEndpointError(
            f"Endpoint {url!r} is not a WebSocket URL; use wss://host/path."
        )
    if parts.scheme == "ws" and not is_loopback_host(parts.hostname):
        raise InsecureEndpointError(
            f"Refusing unencrypted ws:// to {parts.hostname}; use wss:// "
            "(plain ws:// is allowed only for this machine)."
        )
    if parts.username or parts.password:
        raise InsecureEndpointError(
            "Endpoint URLs must not contain credentials; store the key with `hark keys set`."
        )
    return url
