"""What ``hark serve`` (its command line), its WebSocket server and the engine agree on.

Plain constants, so that building the command line's parser (``hark --help``) needs
neither the server nor the engine. docs/local-engine.md ("Abuse") says why each is
what it is.
"""

from __future__ import annotations

TOKEN_ENV = "HARK_SERVE_TOKEN"
"""The environment variable holding the token clients must send (never on argv)."""

IDLE_TIMEOUT_S = 30.0
"""A client silent this long (no audio, no message) is closed and its session slot freed.

Also how long a send may wait for a client that reads nothing, and the grace before a
client sending audio slower than :data:`MIN_AUDIO_RATE` is closed."""

METADATA_TIMEOUT_S = 10.0
"""How long a connected client may take to send its metadata (at most the idle timeout).

It holds no session slot meanwhile: a slot is taken with the first frame."""

WAITING_PER_SESSION = 4
"""Connections waiting for their metadata, per session slot (at least :data:`MIN_WAITING`)."""

MIN_WAITING = 16
"""The fewest connections that may wait for their metadata at once."""

MIN_AUDIO_RATE = 0.5
"""Seconds of audio per second a streaming client must send, on average, after a grace.

A client that trickles audio (32 ms every few seconds) never falls silent for the idle
timeout, yet would hold its slot for ever. Every client Hark knows streams at real time
(a microphone) or faster (a file)."""

MAX_TEXT_FRAME_CHARS = 64 * 1024
"""Longest text frame (metadata or control message) a client may send; longer ends the session.

The metadata and control messages are a few hundred bytes."""

MAX_AUDIO_FRAME_BYTES = 256 * 1024
"""Largest binary (audio) frame; larger ends the session. Clients send 512 samples (1 KiB);
this is 8 s of 16 kHz audio."""

MAX_FRAME_BYTES = 1024 * 1024
"""Largest frame the WebSocket layer reads at all: beyond it the connection is closed
with 1009 before the frame is read, so there is no room for an error message first.
Between the limits above and this one, the client gets Baseten's error frame, then 1009."""

WS_MAX_QUEUE = 4
"""Frames the WebSocket layer buffers per connection before it stops reading the socket:
with :data:`MAX_FRAME_BYTES` this bounds a connection's buffered input to 4 MiB (the
library's default of 16 would be 16 MiB)."""
