"""The microphone through sounddevice (PortAudio): the engine's ``AudioSource`` port.

Threads: PortAudio calls :class:`MicrophoneSource`'s callback on its own thread; the
callback only copies the block and hands it to the event loop with
``loop.call_soon_threadsafe``. Everything else runs on the loop, except opening and
closing the stream, which can block (a stalled sound server makes ``Pa_CloseStream``
wait until the server answers again): that runs on short-lived daemon threads, so a
hung device never blocks the loop nor the interpreter's exit.

``sounddevice`` is imported lazily: importing it raises ``OSError`` when the
PortAudio library is missing, and that becomes an :class:`AudioInputError`.

PortAudio reads the list of devices once, when it is initialised (at the first
import of ``sounddevice``); :func:`list_input_devices` with ``rescan=True`` reads it
again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from app.core.errors import AudioInputError
from app.core.waiting import next_queued

if TYPE_CHECKING:  # annotations only: numpy loads with the first capture
    import numpy as np
    import numpy.typing as npt

log = logging.getLogger(__name__)

T = TypeVar("T")
FloatBlock: TypeAlias = "npt.NDArray[np.float32]"

NO_MICROPHONE = "No microphone found. Connect one or pick another in Settings."
PORTAUDIO_MISSING = (
    "The audio library PortAudio is missing (on Debian/Ubuntu: sudo apt install libportaudio2)."
)
MICROPHONE_GONE = (
    "The microphone went away (unplugged, or taken by another app). "
    "Check it, or pick another in Settings, and start again."
)
MICROPHONE_STALLED = (
    "The microphone stopped sending audio for {seconds:g} s; treating it as gone. "
    "Check it, or pick another in Settings, and start again."
)
_PA_INVALID_CHANNEL_COUNT = -9998

_open_streams = 0  # streams opened by this module and not yet closed (guards rescans)
_open_streams_lock = threading.Lock()


def _count_stream(delta: int) -> None:
    global _open_streams
    with _open_streams_lock:
        _open_streams += delta


def _sounddevice() -> ModuleType:
    """Import sounddevice, turning a missing or broken PortAudio into AudioInputError."""
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio shared library was not found
        log.warning("PortAudio is unavailable: %s", exc)
        raise AudioInputError(PORTAUDIO_MISSING) from None
    except Exception as exc:  # Pa_Initialize failed (PortAudioError) or similar
        log.warning("PortAudio could not be initialised: %s", exc)
        raise AudioInputError(
            f"The audio system could not be started ({exc}). Restart Hark, or your computer."
        ) from None
    module: ModuleType = sounddevice
    return module


@dataclass(frozen=True)
class _Device:
    """One input-capable PortAudio device."""

    index: int
    name: str
    hostapi: int
    max_channels: int
    default_rate: int


def _input_devices(sd: ModuleType) -> tuple[list[_Device], _Device | None]:
    """The input devices and the default one (``None`` when there is none)."""
    devices = [
        _Device(
            index=int(info["index"]),
            name=str(info["name"]),
            hostapi=int(info["hostapi"]),
            max_channels=int(info["max_input_channels"]),
            default_rate=round(float(info["default_samplerate"])),
        )
        for info in sd.query_devices()
        if int(info["max_input_channels"]) > 0
    ]
    try:
        default_index = int(sd.query_devices(kind="input")["index"])
    except (sd.PortAudioError, ValueError, KeyError):  # no default input device
        default_index = -1
    default = next((d for d in devices if d.index == default_index), None)
    return devices, default


def _choose(devices: list[_Device], default: _Device | None, wanted: str) -> _Device:
    """Pick ``wanted`` by exact name, then case-insensitive substring, else the default.

    Several host APIs (Windows: MME, DirectSound, WASAPI) list the same microphone;
    among equal matches, the default device's host API wins.
    """
    if not devices:
        raise AudioInputError(NO_MICROPHONE)
    fallback = default if default is not None else devices[0]
    if not wanted:
        return fallback
    needle = wanted.casefold()
    for matches in (
        [d for d in devices if d.name == wanted],
        [d for d in devices if needle in d.name.casefold()],
    ):
        if matches:
            same_api = [d for d in matches if d.hostapi == fallback.hostapi]
            return (same_api or matches)[0]
    log.warning("microphone %r not found; using the default input %r", wanted, fallback.name)
    return fallback


def list_input_devices(rescan: bool = False) -> list[str]:
    """Names of the input devices, the default one first; ``[]`` when none can be listed.

    Never raises: a missing or unusable PortAudio is logged and gives ``[]``. May block
    briefly (the first call initialises PortAudio): call it off the event loop when
    that matters.

    Args:
        rescan: Re-initialise PortAudio first, to see devices plugged in since it
            started. Skipped (with a log line) while this process has a stream open.
    """
    try:
        sd = _sounddevice()
        if rescan:
            if _open_streams:
                log.info("device rescan skipped: a microphone stream is open")
            else:
                sd._terminate()  # documented way to refresh sounddevice's device list
                sd._initialize()
        devices, default = _input_devices(sd)
    except AudioInputError as exc:
        log.warning("cannot list microphones: %s", exc)
        return []
    except Exception:
        log.exception("cannot list microphones")
        return []
    ordered = ([default] if default else []) + [d for d in devices if d != default]
    return list(dict.fromkeys(d.name for d in ordered))


def _in_daemon_thread(
    loop: asyncio.AbstractEventLoop,
    fn: Callable[[], T],
    *,
    name: str,
    abandoned: Callable[[T], None] | None = None,
) -> asyncio.Future[T]:
    """Run blocking ``fn`` on a daemon thread; its outcome resolves the returned future.

    When the future was already cancelled (the caller stopped waiting), a result is
    handed to ``abandoned`` instead, on the loop.
    """
    future: asyncio.Future[T] = loop.create_future()

    def deliver(ok: bool, value: Any) -> None:
        if future.done():
            if ok and abandoned is not None:
                abandoned(value)
        elif ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def target() -> None:
        try:
            outcome: tuple[bool, Any] = (True, fn())
        except BaseException as exc:  # handed to the loop, raised there
            outcome = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(deliver, *outcome)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future


class MicrophoneSource:
    """Live audio from a microphone: an ``AudioSource`` for the streaming session.

    Use: ``await start()``, iterate :meth:`blocks`, call :meth:`stop` to end (the
    iteration then yields what was captured and ends), ``await aclose()`` to be sure
    the device is released. A source is used once.

    Args:
        device: Device name: exact match, else case-insensitive substring; empty or
            not found (logged): the default input device.
        block_ms: Milliseconds of audio per block. Stopping the stream at a release
            waits for the block in progress, so the block sets part of the time from
            release to text: 32 ms blocks cost 25-50 ms more there than 20 ms ones
            (bench/ptt_latency.py), though PortAudio's thread costs less CPU with them
            (0.55 vs 0.88 CPU-s per audio minute).
        blocks_per_wake: Blocks the callback gathers before it wakes the event loop
            (3: every 60 ms). Each wake-up is a hop to the Qt thread and a pass of the
            session's tasks, so the CPU of streaming on the Qt thread follows the
            wake-up rate (bench/desktop_cpu.py); the blocks still held when the
            capture stops are delivered as it closes, so none is lost and the flush
            waits for none.
        max_queued_s: Seconds of audio kept while the consumer lags; beyond that the
            oldest blocks are dropped (counted in ``dropped_blocks``, logged once).
        stall_timeout_s: With no audio for this long (from the start, too) while
            running, the device is treated as gone.
        open_timeout_s: Seconds opening the device may take.
        close_timeout_s: Seconds to wait for the device to close after :meth:`stop`.

    Attributes:
        sample_rate: The device's native rate in Hz (valid after :meth:`start`).
        channels: 1, or the device's channel count up to 2 when it refuses mono.
        device_name: The device actually opened.
        dropped_blocks: Blocks dropped because the consumer lagged.
        captured_frames: Frames delivered by the device so far.
        error: Set when the device failed or went away while running.
    """

    def __init__(
        self,
        device: str = "",
        block_ms: int = 20,
        *,
        blocks_per_wake: int = 3,
        max_queued_s: float = 10.0,
        stall_timeout_s: float = 4.0,
        open_timeout_s: float = 10.0,
        close_timeout_s: float = 3.0,
    ) -> None:
        if block_ms <= 0:
            raise ValueError("block_ms must be positive")
        self.device = device
        self.block_ms = block_ms
        self.blocks_per_wake = max(1, blocks_per_wake)
        self.max_queued_s = max_queued_s
        self.stall_timeout_s = stall_timeout_s
        self.open_timeout_s = open_timeout_s
        self.close_timeout_s = close_timeout_s
        self.sample_rate = 0
        self.channels = 0
        self.device_name = ""
        self.dropped_blocks = 0
        self.captured_frames = 0
        self.error: AudioInputError | None = None
        # Bounded from the start: PortAudio's first blocks can reach the loop before
        # start() resumes after the open, and must land in this very queue.
        maxlen = max(1, round(self.max_queued_s * 1000 / self.block_ms))
        self._queue: deque[FloatBlock] = deque(maxlen=maxlen)
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: Any = None
        self._started = False
        self._stopping = False  # no more audio wanted or possible
        self._ended = False  # no more audio will arrive
        self._closed: asyncio.Future[None] | None = None
        self._last_audio_at = 0.0
        self._latest: FloatBlock | None = None  # for the level meter
        # Gathered by PortAudio's thread between wake-ups; read by the closing thread
        # once the stream has stopped (PortAudio calls back no more by then).
        self._held: list[FloatBlock] = []
        self._watchdog: asyncio.TimerHandle | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Open the device and start capturing.

        Raises:
            AudioInputError: No device, PortAudio missing, the device refused to open,
                or it did not open within ``open_timeout_s``.
        """
        if self._started:
            raise RuntimeError("a MicrophoneSource starts once; make a new one")
        self._started = True
        loop = self._loop = asyncio.get_running_loop()
        opening = _in_daemon_thread(
            loop, lambda: self._open(loop), name="hark-mic-open", abandoned=_close_later
        )
        try:
            stream, device, channels = await asyncio.wait_for(opening, self.open_timeout_s)
        except BaseException as exc:
            self._stopping = True
            self._end()
            if isinstance(exc, TimeoutError):
                raise AudioInputError(
                    f"The microphone did not open within {self.open_timeout_s:g} s. "
                    "Check it, or pick another in Settings."
                ) from None
            raise
        self._stream = stream
        self.device_name = device.name
        self.sample_rate = device.default_rate
        self.channels = channels
        self._closed = loop.create_future()
        self._last_audio_at = loop.time()
        self._watchdog = loop.call_at(self._last_audio_at + self.stall_timeout_s, self._check_stall)
        if self._stopping:  # stop() came while the device was opening
            self._close_stream()
        log.info(
            "microphone %r open: %d Hz, %d channel(s), %d ms blocks",
            device.name,
            self.sample_rate,
            channels,
            self.block_ms,
        )

    def stop(self) -> None:
        """End the capture: :meth:`blocks` yields what was captured, then ends. Idempotent.

        Called before :meth:`start` has finished, the device is closed as soon as it opens.
        """
        self._stopping = True
        if self._stream is not None:
            self._close_stream()

    async def aclose(self) -> None:
        """Stop and wait (at most ``close_timeout_s``) until the device is released."""
        self.stop()
        if self._closed is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._closed), self.close_timeout_s)

    @property
    def level(self) -> float:
        """RMS of the latest block, 0..1, for a level meter (0 once the capture ended).

        Computed when read (a meter reads a few times a second), not for every block.
        """
        from app.core.audio import rms_level

        block = self._latest
        return 0.0 if block is None else min(1.0, rms_level(block))

    @property
    def capturing(self) -> bool:
        """True from :meth:`start` until the device is being closed."""
        return self._stream is not None

    # -- the AudioSource port --------------------------------------------------------------

    async def blocks(self) -> AsyncIterator[FloatBlock]:
        """Yield float32 ``(frames, channels)`` blocks until stopped or the device fails.

        Raises:
            RuntimeError: :meth:`start` was not awaited first.
        """
        if self._loop is None:
            raise RuntimeError("await start() before reading blocks()")
        try:
            # woken by a block, the end, or the stall watchdog
            ended = lambda: self._ended  # noqa: E731
            while (block := await next_queued(self._queue, ended, self._wake)) is not None:
                yield block
        finally:
            self.stop()

    def _check_stall(self) -> None:
        """The stall watchdog: one timer, moved on as audio arrives (not one per block)."""
        self._watchdog = None
        if self._stopping or self._ended or self._loop is None:
            return
        due = self._last_audio_at + self.stall_timeout_s
        if self._loop.time() >= due:
            log.warning("no audio for %.1f s: microphone stalled", self.stall_timeout_s)
            self._fail(MICROPHONE_STALLED.format(seconds=self.stall_timeout_s))
        else:
            self._watchdog = self._loop.call_at(due, self._check_stall)

    # -- on other threads: the opener, and the callbacks on PortAudio's ----------------------

    def _open(self, loop: asyncio.AbstractEventLoop) -> tuple[Any, _Device, int]:
        """Choose the device and open and start its stream (blocking; runs on a thread)."""
        sd = _sounddevice()
        devices, default = _input_devices(sd)
        device = _choose(devices, default, self.device)
        call = loop.call_soon_threadsafe
        enqueue, finished = self._enqueue_all, self._finished
        held, per_wake = self._held, self.blocks_per_wake

        def callback(indata: FloatBlock, frames: int, time_info: Any, status: Any) -> None:
            held.append(indata.copy())
            if len(held) < per_wake:
                return
            batch = held[:]
            held.clear()
            try:
                call(enqueue, batch)
            except RuntimeError:  # the event loop is closed: nobody listens any more
                raise sd.CallbackAbort from None

        def on_finished() -> None:
            with contextlib.suppress(RuntimeError):
                call(finished)

        refusal: Exception | None = None
        for channels in dict.fromkeys((1, min(2, device.max_channels))):
            stream = None
            try:
                stream = sd.InputStream(
                    device=device.index,
                    samplerate=device.default_rate,
                    channels=channels,
                    dtype="float32",
                    blocksize=max(1, round(device.default_rate * self.block_ms / 1000)),
                    callback=callback,
                    finished_callback=on_finished,
                )
                stream.start()
            except (sd.PortAudioError, ValueError) as exc:
                if stream is not None:
                    stream.close(ignore_errors=True)
                refusal = exc
                code = exc.args[1] if len(exc.args) > 1 else None
                if code == _PA_INVALID_CHANNEL_COUNT:
                    continue
                break
            _count_stream(+1)
            return stream, device, channels
        log.warning("opening microphone %r failed: %s", device.name, refusal)
        raise AudioInputError(
            f"The microphone {device.name!r} could not be opened ({refusal}). "
            "Close other apps that use it, or pick another in Settings."
        )

    # -- back on the loop ------------------------------------------------------------------

    def _enqueue_all(self, blocks: list[FloatBlock]) -> None:
        for block in blocks:
            self._enqueue(block)

    def _enqueue(self, block: FloatBlock) -> None:
        """Queue one block from the callback; drop the oldest when the queue is full."""
        if self._ended:
            return
        if len(self._queue) == self._queue.maxlen:
            if not self.dropped_blocks:
                log.warning(
                    "audio consumer lags by %.0f s; dropping the oldest audio", self.max_queued_s
                )
            self.dropped_blocks += 1
        self._queue.append(block)
        self.captured_frames += len(block)
        self._latest = block
        assert self._loop is not None
        self._last_audio_at = self._loop.time()
        self._wake.set()

    def _finished(self) -> None:
        """PortAudio finished the stream: expected after stop(), else the device is gone."""
        if not self._stopping:
            log.warning("microphone %r stream ended unexpectedly", self.device_name)
            self._fail(MICROPHONE_GONE)

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = AudioInputError(message)
        self._stopping = True
        self._end()
        self._close_stream()

    def _end(self) -> None:
        self._ended = True
        self._latest = None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._wake.set()

    def _close_stream(self) -> None:
        """Close the stream on a daemon thread; end the audio when done or after a timeout."""
        stream, self._stream = self._stream, None
        loop, closed = self._loop, self._closed
        if stream is None or loop is None or closed is None:
            self._end()
            return

        def too_slow() -> None:
            log.warning("microphone did not close within %.1f s", self.close_timeout_s)
            self._end()

        timer = loop.call_later(self.close_timeout_s, too_slow)

        def done(fut: asyncio.Future[None]) -> None:
            if not fut.cancelled():
                fut.exception()  # _close() never raises; this only marks it retrieved
            timer.cancel()
            self._end()
            if not closed.done():
                closed.set_result(None)

        def close_and_deliver_the_rest() -> None:
            _close(stream)  # once stopped, PortAudio's thread touches _held no more
            rest = self._held[:]
            self._held.clear()
            if rest:  # queued before the closing's outcome, so before the end
                loop.call_soon_threadsafe(self._enqueue_all, rest)

        closing = _in_daemon_thread(loop, close_and_deliver_the_rest, name="hark-mic-close")
        closing.add_done_callback(done)


def _close(stream: Any) -> None:
    """Stop and close a stream (blocking), never raising."""
    try:
        stream.stop(ignore_errors=True)
        stream.close(ignore_errors=True)
    except Exception:
        log.exception("closing the microphone failed")
    finally:
        _count_stream(-1)


def _close_later(opened: tuple[Any, _Device, int]) -> None:
    """Close a stream that finished opening after its caller gave up."""
    stream = opened[0]
    threading.Thread(target=_close, args=(stream,), name="hark-mic-close", daemon=True).start()
