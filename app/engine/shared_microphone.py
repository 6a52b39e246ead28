"""A microphone kept open between dictations (the ``keep_microphone_open`` setting).

:class:`SharedMicrophone` keeps one started :class:`~app.engine.captions.LiveSource`
and reads it all the time. :meth:`SharedMicrophone.tap` hands out a per-utterance
source that yields, from the instant it is made, every block the device delivers,
preceded by a short pre-roll: the last ``preroll_s`` seconds before the key went down.

Why a pre-roll, and why 0.3 s by default: people often start the first word a hair
before the hotkey registers (and a global hotkey reaches the app some milliseconds
late), so the first syllable would be clipped. A third of a second is enough for
that and too short to pull in much of what was said before. It costs nothing here:
the device is open anyway. (Without ``keep_microphone_open`` there is no pre-roll:
the device only opens at the key press.)

When the device fails (unplugged, stalled), every tap ends with its error, and the
next :meth:`~SharedMicrophone.start` (a tap's ``start``) opens a new source.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, TypeAlias

from app.core.errors import AudioInputError, HarkError
from app.core.waiting import next_queued
from app.engine.captions import LiveSource

if TYPE_CHECKING:  # annotations only: numpy loads with the audio
    import numpy as np
    import numpy.typing as npt

log = logging.getLogger(__name__)

FloatBlock: TypeAlias = "npt.NDArray[np.float32]"

MICROPHONE_STOPPED = "The microphone stopped. Check it, or pick another in Settings."


class SharedMicrophone:
    """One live source, opened once and shared by successive utterances.

    Args:
        source_factory: Makes a new, not yet started source (e.g. a ``MicrophoneSource``).
        preroll_s: Seconds of audio from before a tap was made that the tap starts with.
        tail_timeout_s: After a tap's ``stop()``, it still takes the next block (the
            audio in flight up to the release), waiting at most this long for it.

    Attributes:
        source: The current source, or ``None`` before :meth:`start` or after it failed.
        error: Why the last source ended by itself, else ``None``.
    """

    def __init__(
        self,
        source_factory: Callable[[], LiveSource],
        *,
        preroll_s: float = 0.3,
        tail_timeout_s: float = 0.1,
    ) -> None:
        if preroll_s < 0:
            raise ValueError("preroll_s must not be negative")
        self._source_factory = source_factory
        self.preroll_s = preroll_s
        self.tail_timeout_s = tail_timeout_s
        self.source: LiveSource | None = None
        self.error: HarkError | None = None
        self._starting: asyncio.Future[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._recent: deque[FloatBlock] = deque()
        self._recent_frames = 0
        self._taps: set[MicrophoneTap] = set()
        self._closed = False

    @property
    def running(self) -> bool:
        """True while a started source is being read."""
        return self._reader is not None and not self._reader.done()

    async def start(self) -> None:
        """Open the device unless it is open already. Concurrent calls share one opening.

        Raises:
            HarkError: The device cannot be opened (e.g. ``AudioInputError``).
        """
        if self._closed:
            raise RuntimeError("the shared microphone was closed")
        if self.running:
            return
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._open())
        starting = self._starting
        try:
            await asyncio.shield(starting)
        finally:
            if starting.done() and self._starting is starting:
                self._starting = None

    def tap(self) -> MicrophoneTap:
        """A source of the audio from now on, after the pre-roll; collecting starts at once."""
        tap = MicrophoneTap(self, self._preroll() if self.running else [])
        self._taps.add(tap)
        return tap

    async def aclose(self) -> None:
        """Close the device; every tap ends."""
        self._closed = True
        source, reader = self.source, self._reader
        if source is not None:
            await source.aclose()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        for tap in list(self._taps):
            tap._end()

    # -- internals -----------------------------------------------------------------------

    async def _open(self) -> None:
        source = self._source_factory()
        await source.start()
        self.source, self.error = source, None
        self._recent.clear()
        self._recent_frames = 0
        self._reader = asyncio.create_task(self._read(source), name="hark-shared-microphone")

    async def _read(self, source: LiveSource) -> None:
        keep = round(self.preroll_s * source.sample_rate)
        try:
            async for block in source.blocks():
                if keep:
                    self._recent.append(block)
                    self._recent_frames += len(block)
                    while self._recent_frames - len(self._recent[0]) >= keep:
                        self._recent_frames -= len(self._recent.popleft())
                for tap in list(self._taps):
                    tap._deliver(block)
        finally:
            self.error = source.error or (
                None if self._closed else AudioInputError(MICROPHONE_STOPPED)
            )
            if self.error is not None:
                log.warning("the shared microphone ended: %s", self.error)
            self.source = None
            for tap in list(self._taps):
                tap._end(self.error)
            await source.aclose()

    def _preroll(self) -> list[FloatBlock]:
        """The last ``preroll_s`` seconds, the oldest block trimmed to fit."""
        if self.source is None or not self._recent:
            return []
        keep = round(self.preroll_s * self.source.sample_rate)
        blocks = list(self._recent)
        extra = sum(len(b) for b in blocks) - keep
        if extra > 0:
            blocks[0] = blocks[0][extra:]
        return [b for b in blocks if len(b)]

    def _forget(self, tap: MicrophoneTap) -> None:
        self._taps.discard(tap)


class MicrophoneTap:
    """One utterance's view of a :class:`SharedMicrophone`: a ``LiveSource``.

    Attributes:
        sample_rate: The device's rate (valid after :meth:`start`).
        channels: The device's channel count (valid after :meth:`start`).
        preroll_frames: Frames of pre-roll it started with.
        frames: Frames it collected so far (pre-roll included).
    """

    def __init__(self, shared: SharedMicrophone, preroll: list[FloatBlock]) -> None:
        self._shared = shared
        self._queue: deque[FloatBlock] = deque(preroll)
        self._wake = asyncio.Event()
        self.preroll_frames = sum(len(b) for b in preroll)
        self.frames = self.preroll_frames
        self._stopping = False
        self._ended = False
        self._error: HarkError | None = None
        self._tail_timer: asyncio.TimerHandle | None = None
        self.sample_rate = 0
        self.channels = 0
        self._take_format()

    @property
    def error(self) -> HarkError | None:
        """Why the audio ended by itself (the device failed), else ``None``."""
        return self._error

    async def start(self) -> None:
        """Make sure the shared device is open (opens it on the first use or after a failure)."""
        await self._shared.start()
        self._take_format()

    def stop(self) -> None:
        """End after the block in flight (the audio up to now). Idempotent."""
        if self._stopping or self._ended:
            return
        self._stopping = True
        if not self._shared.running:
            self._end()
            return
        loop = asyncio.get_running_loop()
        self._tail_timer = loop.call_later(self._shared.tail_timeout_s, self._end)

    async def aclose(self) -> None:
        """Stop and detach at once (the shared device stays open)."""
        self._end(self._error)

    async def blocks(self) -> AsyncIterator[FloatBlock]:
        """Yield the pre-roll, then every block from the tap's creation until stopped."""
        try:
            ended = lambda: self._ended  # noqa: E731
            while (block := await next_queued(self._queue, ended, self._wake)) is not None:
                yield block
        finally:
            self._end(self._error)

    def _take_format(self) -> None:
        source = self._shared.source
        if source is not None:
            self.sample_rate, self.channels = source.sample_rate, source.channels

    # -- called by the SharedMicrophone ---------------------------------------------------

    def _deliver(self, block: FloatBlock) -> None:
        if self._ended:
            return
        self._queue.append(block)
        self.frames += len(block)
        self._wake.set()
        if self._stopping:  # this block holds the audio up to the stop: the last one
            self._end()

    def _end(self, error: HarkError | None = None) -> None:
        if self._tail_timer is not None:
            self._tail_timer.cancel()
        if not self._ended:
            self._ended = True
            self._error = error
            self._wake.set()
        self._shared._forget(self)
