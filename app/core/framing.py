"""Cutting a byte stream into a provider's fixed-size audio frames.

Pure bytes, no numpy: the provider protocols need it at import, and importing them
must not load the audio maths (the app starts without it; see app/core/audio.py).
"""

from __future__ import annotations


class Framer:
    """Cuts a byte stream into frames of exactly ``frame_bytes``.

    Calling contract: :meth:`push` returns every complete frame; :meth:`flush` returns
    the remainder once, zero-padded to a full frame when ``pad`` (Baseten's rule) or as
    is otherwise, and nothing when there is no remainder.
    """

    def __init__(self, frame_bytes: int) -> None:
        if frame_bytes <= 0:
            raise ValueError("frame_bytes must be positive")
        self.frame_bytes = frame_bytes
        self._pending = bytearray()

    @property
    def pending(self) -> int:
        """Bytes buffered that do not yet fill a frame."""
        return len(self._pending)

    def push(self, data: bytes) -> list[bytes]:
        """Add bytes; return the complete frames they finish."""
        self._pending += data
        n = len(self._pending) // self.frame_bytes * self.frame_bytes
        frames = [
            bytes(self._pending[i : i + self.frame_bytes]) for i in range(0, n, self.frame_bytes)
        ]
        del self._pending[:n]
        return frames

    def flush(self, pad: bool) -> list[bytes]:
        """Return the last, partial frame (zero-padded when ``pad``) and empty the buffer."""
        if not self._pending:
            return []
        tail = bytes(self._pending)
        self._pending.clear()
        if pad:
            tail += b"\x00" * (self.frame_bytes - len(tail))
        return [tail]
