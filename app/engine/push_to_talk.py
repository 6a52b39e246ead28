"""Push-to-talk: hotkey -> activation mode -> dictation -> insertion, Qt-free.

The global hotkey, ``hark toggle`` / ``hark ptt press|release`` (IPC) and the tray's
dictation item all feed the same :class:`~app.core.activation.Activation`, so they
behave exactly alike. Its ``start`` captures the focused window and presses the
:class:`~app.engine.dictation.Dictation`; ``stop`` releases it, and the dictation saves
the transcript to history before the :class:`~app.engine.insertion.Inserter` types or
pastes it into that window.

Everything runs on the asyncio event loop (in the app: qasync's, on the Qt thread): the
debounce wake-up and the level meter are ``call_at``/``call_later`` timers, so nothing
here needs Qt and the tests need no ``QApplication``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from app.core.activation import Activation
from app.core.errors import HarkError
from app.core.hotkey import Hotkey, describe_hotkey, parse_hotkey
from app.core.settings import Settings
from app.engine.dictation import Dictation
from app.engine.insertion import Inserter

log = logging.getLogger(__name__)

# A release is acted on only after this long without a new press. Keyboards debounce
# their contacts themselves and the hotkey backends suppress auto-repeat, so what is
# left to absorb are duplicate OS events; every millisecond here delays the flush.
DEBOUNCE_S = 0.01
METER_INTERVAL_S = 0.1
"""How often the level meter is read: 10 times a second still reads as live. Under X11
every repaint that moves the bar costs about a millisecond of the Qt thread (a round trip
to the server included); at 20 a second the meter was a third of the CPU of a dictation
(bench/desktop_cpu.py, with the meter and without)."""


class HotkeyPort(Protocol):
    """What push-to-talk needs of a global hotkey backend
    (:class:`app.adapters.hotkeys.base.HotkeyBackend` is one)."""

    name: str

    def start(
        self,
        hotkey: Hotkey,
        on_press: Callable[[], None],
        on_release: Callable[[], None],
        *,
        on_error: Callable[[HarkError], None] | None = None,
    ) -> None:
        """Register ``hotkey``; raise ``HotkeyError`` (a :class:`HarkError`) if it cannot be."""
        ...

    def stop(self) -> None:
        """Unregister the hotkey (nothing when none is registered)."""
        ...


class PushToTalk:
    """Owns the hotkey registration, the activation state machine and the dictation.

    Args:
        backend: The platform's hotkey backend, or ``None`` where no global hotkey can
            be had (then only IPC and the tray drive dictation).
        inserter: Delivers text to the window that had focus at key-down.
        make_dictation: Builds the :class:`Dictation` for the current settings.
        report: Shows a one-line problem to the user (notification + overlay).
        level: Returns the microphone level (0..1) while capturing, for the meter.
        show_level: Receives the level every :data:`METER_INTERVAL_S` while capturing,
            and 0 when capturing stops.
        capture_target: Returns where the text should go, at key-down (default: the
            inserter's focused window); handed back to the dictation's ``insert``.
    """

    def __init__(
        self,
        *,
        backend: HotkeyPort | None,
        inserter: Inserter,
        make_dictation: Callable[[], Dictation],
        report: Callable[[str, str], None],
        level: Callable[[], float],
        show_level: Callable[[float], None],
        capture_target: Callable[[], object] | None = None,
    ) -> None:
        self.backend = backend
        self.inserter = inserter
        self._make_dictation = make_dictation
        self._report = report
        self._level = level
        self._show_level = show_level
        self._capture_target = capture_target or inserter.capture_target
        self.activation = Activation("hold", debounce_s=DEBOUNCE_S)
        self.dictation: Dictation | None = None
        self.hotkey_text: str | None = None
        self._tick: asyncio.TimerHandle | None = None
        self._meter: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()

    # -- configuration ------------------------------------------------------------------

    def configure(self, settings: Settings, *, rebuild: bool) -> None:
        """Apply the hotkey, the activation mode and (when ``rebuild``) a new dictation."""
        self.activation = Activation(settings.hotkey.mode, debounce_s=DEBOUNCE_S)
        if rebuild or self.dictation is None:
            old = self.dictation
            self.dictation = self._make_dictation()
            if old is not None:  # let its utterances finish delivering, then let it go
                task = asyncio.ensure_future(old.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        if settings.hotkey.hotkey != self.hotkey_text:
            self._register(settings.hotkey.hotkey)

    def _register(self, text: str) -> None:
        if self.backend is None:
            log.info("no global hotkey backend; use `hark ptt press|release` or `hark toggle`")
            return
        self.backend.stop()
        self.hotkey_text = text
        try:
            hotkey = parse_hotkey(text)
            self.backend.start(hotkey, self.key_down, self.key_up, on_error=self._hotkey_failed)
        except HarkError as exc:  # HotkeyError, or a SettingError from parsing
            self._report("Hotkey", str(exc))
            return
        log.info("hotkey registered: %s (%s)", describe_hotkey(hotkey), self.backend.name)

    def _hotkey_failed(self, error: HarkError) -> None:
        self.activation.reset()
        self._report("Hotkey", str(error))

    # -- entry points: the hotkey and its IPC twins -----------------------------------------

    def key_down(self) -> None:
        """The hotkey went down (also ``hark ptt press``)."""
        self._run(self.activation.key_down(self._now()))

    def key_up(self) -> None:
        """The hotkey came up (also ``hark ptt release``)."""
        self._run(self.activation.key_up(self._now()))

    def toggle(self) -> None:
        """``hark toggle`` and the tray's dictation item."""
        self._run(self.activation.toggle(self._now()))

    @property
    def active(self) -> bool:
        """Whether dictation is recording."""
        return self.activation.active

    @property
    def metering(self) -> bool:
        """Whether the level meter is being read (while capturing)."""
        return self._meter is not None

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    def _run(self, commands: list[Any]) -> None:
        for command in commands:
            if command == "start":
                self._start()
            elif command == "stop":
                self._stop()
        self._schedule_tick()

    def _schedule_tick(self) -> None:
        # A release is confirmed only after the debounce time (key bounce): wake then.
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        wake = self.activation.wakeup_at
        if wake is not None:
            loop = asyncio.get_running_loop()
            self._tick = loop.call_at(
                wake, lambda: self._run(self.activation.tick(max(loop.time(), wake)))
            )

    def _start(self) -> None:
        if self.dictation is None:
            return
        target = self._capture_target()
        log.info("dictation: press (target window %s)", target)
        if not self.dictation.press(target):
            self.activation.reset()
            return
        self._start_meter()

    def _stop(self) -> None:
        log.info("dictation: release")
        self._stop_meter()
        self._show_level(0.0)
        if self.dictation is not None:
            self.dictation.release()

    # -- the level meter ----------------------------------------------------------------

    def _start_meter(self) -> None:
        self._stop_meter()
        self._meter = asyncio.get_running_loop().call_later(METER_INTERVAL_S, self._meter_tick)

    def _meter_tick(self) -> None:
        self._meter = asyncio.get_running_loop().call_later(METER_INTERVAL_S, self._meter_tick)
        self._show_level(self._level())

    def _stop_meter(self) -> None:
        if self._meter is not None:
            self._meter.cancel()
            self._meter = None

    # -- ending -------------------------------------------------------------------------

    def cancel(self) -> None:
        """Discard the utterance in progress (Esc)."""
        self.activation.reset()
        self._stop_meter()
        if self.dictation is not None:
            self.dictation.cancel()

    async def aclose(self) -> None:
        """Unregister the hotkey, finish deliveries, put the user's clipboard back."""
        if self.backend is not None:
            self.backend.stop()
        self._stop_meter()
        if self._tick is not None:
            self._tick.cancel()
        if self.dictation is not None:
            await self.dictation.aclose()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        await self.inserter.restore_now()
