"""The one wait loop of a block queue that a producer fills and wakes.

A microphone and a shared microphone's tap both hand blocks from a deque to one
reader: the producer appends and sets an event; the reader takes what is queued,
and waits for the next wake-up only when the queue is empty and not yet ended.
The event is any object with ``clear()`` and an awaitable ``wait()`` (an
``asyncio.Event``), so the core stays free of asyncio.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Wakeable(Protocol):
    """What :func:`next_queued` waits on: an ``asyncio.Event`` or the like."""

    def clear(self) -> None: ...

    def wait(self) -> Awaitable[Any]: ...


async def next_queued(queue: deque[T], ended: Callable[[], bool], wake: Wakeable) -> T | None:
    """The next queued item, waiting for one; ``None`` once it is empty and ``ended()``.

    What was queued before the end is still handed out first.
    """
    while not queue:
        if ended():
            return None
        wake.clear()
        await wake.wait()
    return queue.popleft()
