"""Small helpers shared by the live activities (captions, dictation)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from app.engine.ports import AudioSource

if TYPE_CHECKING:  # annotations only: numpy loads with the audio
    import numpy as np
    import numpy.typing as npt


class EndingSource:
    """The source as the session sees it, calling ``ended`` when its audio runs out."""

    def __init__(self, inner: AudioSource, ended: Callable[[], None]) -> None:
        self.inner = inner
        self.sample_rate = inner.sample_rate
        self.channels = inner.channels
        self._ended = ended

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        """Yield the inner blocks; call ``ended`` when they run out."""
        async for block in self.inner.blocks():
            yield block
        self._ended()


async def resolve(value: str | Awaitable[str]) -> str:
    """``value`` itself, or what it resolves to when it is awaitable (e.g. a key read)."""
    if inspect.isawaitable(value):
        return await value
    return value
