"""What ``hark serve`` (its command line) and its WebSocket server agree on.

Plain constants, so that building the command line's parser (``hark --help``) needs
neither the server nor the engine.
"""

from __future__ import annotations

TOKEN_ENV = "HARK_SERVE_TOKEN"
"""The environment variable holding the token clients must send (never on argv)."""

IDLE_TIMEOUT_S = 30.0
"""A client silent this long (no audio, no message) is closed and its session slot freed."""
