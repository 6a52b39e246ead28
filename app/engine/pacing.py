"""Real-time pacing: make a file behave like a live microphone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt

from app.engine.ports import AudioSource


class RealtimeSource:
    """Wraps an :class:`AudioSource` so that blocks arrive no faster than real time.

    Block ``n`` is released when the audio before it would have been spoken, measured
    on the event loop's monotonic clock from the first block.
    """

    def __init__(self, inner: AudioSource) -> None:
        self.inner = inner
        self.sample_rate = inner.sample_rate
        self.channels = inner.channels

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        """Yield the inner source's blocks, paced."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        frames = 0
        async for block in self.inner.blocks():
            due = start + frames / self.sample_rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield block
            frames += len(block)
