"""How the local engine hands out its model workers: finals wait their turn, partials never do."""

from __future__ import annotations

import asyncio

from app.engine.local_engine import _Scheduler


class _Log(list[str]):
    """What the jobs did, in order; :meth:`until` waits for an entry to appear."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def append(self, entry: str) -> None:
        super().append(entry)
        self.changed.set()

    async def until(self, entry: str, limit: float = 2.0) -> None:
        async with asyncio.timeout(limit):
            while entry not in self:
                self.changed.clear()
                await self.changed.wait()


class _Job:
    """A model call that runs until released."""

    def __init__(self, name: str, log: _Log) -> None:
        self.name, self.log = name, log
        self.release = asyncio.Event()

    async def __call__(self) -> str:
        self.log.append(f"start {self.name}")
        await self.release.wait()
        self.log.append(f"end {self.name}")
        return self.name


async def test_a_partial_is_dropped_while_every_worker_is_busy() -> None:
    log = _Log()
    scheduler = _Scheduler(1)
    busy = _Job("final", log)
    running = asyncio.create_task(scheduler.run(busy, urgent=True))
    await log.until("start final")
    assert await scheduler.run(_Job("partial", log), urgent=False) is None
    busy.release.set()
    assert await running == "final"
    assert log == ["start final", "end final"]


async def test_a_waiting_final_goes_before_any_partial() -> None:
    log = _Log()
    scheduler = _Scheduler(1)
    first, second = _Job("partial-a", log), _Job("final-b", log)
    a = asyncio.create_task(scheduler.run(first, urgent=False))
    await log.until("start partial-a")
    b = asyncio.create_task(scheduler.run(second, urgent=True))
    await asyncio.sleep(0)
    # A final is waiting: a new partial is dropped rather than queued in front of it.
    assert await scheduler.run(_Job("partial-c", log), urgent=False) is None
    first.release.set()
    await log.until("start final-b")
    second.release.set()
    assert (await a, await b) == ("partial-a", "final-b")
    assert log == ["start partial-a", "end partial-a", "start final-b", "end final-b"]
    # Once idle again, partials run.
    third = _Job("partial-d", log)
    third.release.set()
    assert await scheduler.run(third, urgent=False) == "partial-d"


async def test_two_workers_run_two_jobs_at_once() -> None:
    log = _Log()
    scheduler = _Scheduler(2)
    jobs = [_Job(n, log) for n in ("x", "y")]
    tasks = [asyncio.create_task(scheduler.run(j, urgent=False)) for j in jobs]
    await log.until("start x")
    await log.until("start y")
    for j in jobs:
        j.release.set()
    assert sorted(await asyncio.gather(*tasks)) == ["x", "y"]


async def test_a_cancelled_waiting_final_gives_its_turn_back() -> None:
    log = _Log()
    scheduler = _Scheduler(1)
    busy = _Job("busy", log)
    running = asyncio.create_task(scheduler.run(busy, urgent=True))
    await log.until("start busy")
    waiting = asyncio.create_task(scheduler.run(_Job("gone", log), urgent=True))
    await asyncio.sleep(0)
    waiting.cancel()
    busy.release.set()
    await running
    later = _Job("later", log)
    later.release.set()
    assert await scheduler.run(later, urgent=False) == "later"  # the worker is free again
    assert "start gone" not in log
