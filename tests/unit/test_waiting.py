"""next_queued: the shared wait loop of the microphone and a shared microphone's tap."""

from __future__ import annotations

import asyncio
from collections import deque

from app.core.waiting import next_queued


async def test_queued_items_come_out_before_the_end() -> None:
    queue = deque([1, 2])
    wake = asyncio.Event()
    assert await next_queued(queue, lambda: True, wake) == 1
    assert await next_queued(queue, lambda: True, wake) == 2
    assert await next_queued(queue, lambda: True, wake) is None


async def test_an_empty_queue_waits_for_the_wake_up() -> None:
    queue: deque[str] = deque()
    wake = asyncio.Event()
    ended = False
    waiting = asyncio.ensure_future(next_queued(queue, lambda: ended, wake))
    await asyncio.sleep(0)
    assert not waiting.done()
    queue.append("block")
    wake.set()
    assert await waiting == "block"
    ended = True
    wake.set()
    assert await next_queued(queue, lambda: ended, wake) is None
