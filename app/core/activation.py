"""The activation-mode state machine: hotkey presses and releases in, start/stop out.

Sans-I/O: every input carries its time (seconds on any monotonic clock, the same one
throughout) and returns the commands it causes, ``"start"`` or ``"stop"``. Nothing
reads a clock or sets a timer; the one delayed decision (a release, held back for
``debounce_s`` in case the key bounces) is exposed as :attr:`Activation.wakeup_at`,
and the driver calls :meth:`Activation.tick` at that time (with a time no earlier
than it: event-loop timers may fire a clock tick early)::

    commands = activation.key_up(loop.time())
    when = activation.wakeup_at
    if when is not None:
        loop.call_at(when, lambda: run(activation.tick(max(loop.time(), when))))

Modes:

- ``hold``: the press starts, the release stops.
- ``toggle``: each press starts or stops; releases do nothing.
- ``hybrid``: the press starts at once. A release within ``hybrid_hold_s`` was a tap:
  dictation goes on until the next press stops it. A longer hold was push-to-talk:
  the release stops.

In every mode a press while dictation goes on after a release (a toggle or a hybrid
tap) stops it, and the release of that press does nothing.

Key noise is absorbed here, so every backend and the IPC commands behave alike:
repeated presses without a release (auto-repeat) are ignored, and a release followed
by a press within ``debounce_s`` (contact bounce, or X11 auto-repeat without
detectable auto-repeat) is ignored as a pair.
"""

from __future__ import annotations

import enum
from typing import Literal

from app.core.errors import SettingError

Command = Literal["start", "stop"]

MODES = ("hold", "toggle", "hybrid")


class _Phase(enum.Enum):
    IDLE = "idle"  # key up, not active
    HOLDING = "holding"  # key down, active; the release may stop (hold, hybrid)
    PRESSED_LATCHED = "pressed_latched"  # key down, active; the release does not stop
    LATCHED = "latched"  # key up, active until the next press or toggle
    PRESSED_STOPPED = "pressed_stopped"  # key down after a stop; its release does nothing


_KEY_DOWN = frozenset({_Phase.HOLDING, _Phase.PRESSED_LATCHED, _Phase.PRESSED_STOPPED})
_ACTIVE = frozenset({_Phase.HOLDING, _Phase.PRESSED_LATCHED, _Phase.LATCHED})


class Activation:
    """Turns hotkey presses and releases into start/stop commands for one mode.

    Args:
        mode: ``hold``, ``toggle`` or ``hybrid``.
        hybrid_hold_s: In hybrid mode, a press released sooner than this is a tap
            (dictation keeps going); one held this long or longer is push-to-talk.
        debounce_s: A release followed by a press within this time is ignored as a
            pair. 0 disables it (releases then act at once and no tick is needed).

    Raises:
        SettingError: An unknown mode (as the ``mode`` setting) or a negative time.
    """

    def __init__(self, mode: str, *, hybrid_hold_s: float = 0.3, debounce_s: float = 0.03) -> None:
        if mode not in MODES:
            raise SettingError(
                "mode", f"unknown activation mode {mode!r}; use hold, toggle or hybrid"
            )
        if hybrid_hold_s < 0 or debounce_s < 0:
            raise SettingError("mode", "hybrid_hold_s and debounce_s must not be negative")
        self.mode = mode
        self.hybrid_hold_s = hybrid_hold_s
        self.debounce_s = debounce_s
        self._phase = _Phase.IDLE
        self._pressed_at = 0.0
        self._pending_up: float | None = None

    @property
    def active(self) -> bool:
        """True while dictation should run (after a start, before the matching stop)."""
        return self._phase in _ACTIVE

    @property
    def latched(self) -> bool:
        """True when dictation will go on with the key up, until the next press or toggle."""
        return self._phase in (_Phase.LATCHED, _Phase.PRESSED_LATCHED)

    @property
    def held(self) -> bool:
        """Whether the key counts as held (a release still being debounced counts)."""
        return self._phase in _KEY_DOWN

    @property
    def wakeup_at(self) -> float | None:
        """When :meth:`tick` must be called to act on a held-back release, or None."""
        if self._pending_up is None:
            return None
        return self._pending_up + self.debounce_s

    # -- inputs ------------------------------------------------------------------------

    def key_down(self, t: float) -> list[Command]:
        """The hotkey went down at ``t``."""
        commands = self._commit_due(t)
        if self._pending_up is not None:  # pressed again within debounce_s: a bounce
            self._pending_up = None
            return commands
        if self._phase in _KEY_DOWN:  # auto-repeat
            return commands
        self._pressed_at = t
        if self._phase is _Phase.LATCHED:
            self._phase = _Phase.PRESSED_STOPPED
            return [*commands, "stop"]
        self._phase = _Phase.PRESSED_LATCHED if self.mode == "toggle" else _Phase.HOLDING
        return [*commands, "start"]

    def key_up(self, t: float) -> list[Command]:
        """The hotkey went up at ``t``."""
        commands = self._commit_due(t)
        if self._phase not in _KEY_DOWN or self._pending_up is not None:
            return commands  # not held (e.g. after reset), or a second release
        if self.debounce_s > 0:
            self._pending_up = t
            return commands
        return [*commands, *self._commit_release(t)]

    def press(self, t: float) -> list[Command]:
        """``hark ptt press``: exactly a hotkey press (:meth:`key_down`)."""
        return self.key_down(t)

    def release(self, t: float) -> list[Command]:
        """``hark ptt release``: exactly a hotkey release (:meth:`key_up`)."""
        return self.key_up(t)

    def toggle(self, t: float) -> list[Command]:
        """Start if idle, else stop (what ``hark toggle`` calls), in every mode.

        A start by toggle keeps going after the key is released; a stop while the key is
        held leaves its release without effect.
        """
        commands = self._commit_due(t)
        if self.active:
            self._phase = _Phase.PRESSED_STOPPED if self.held else _Phase.IDLE
            return [*commands, "stop"]
        self._phase = _Phase.PRESSED_LATCHED if self.held else _Phase.LATCHED
        return [*commands, "start"]

    def tick(self, t: float) -> list[Command]:
        """Act on a held-back release once ``t`` reaches :attr:`wakeup_at`."""
        return self._commit_due(t)

    def reset(self) -> None:
        """Forget everything (after an error): inactive, key up, nothing pending.

        No command is returned: the caller has already stopped. A key still held when
        this is called no longer counts; its release is ignored.
        """
        self._phase = _Phase.IDLE
        self._pending_up = None

    # -- internals ---------------------------------------------------------------------

    def _commit_due(self, t: float) -> list[Command]:
        """Act on a pending release whose debounce time has passed by ``t``."""
        if self._pending_up is None or t < self._pending_up + self.debounce_s:
            return []
        released_at = self._pending_up
        self._pending_up = None
        return self._commit_release(released_at)

    def _commit_release(self, released_at: float) -> list[Command]:
        phase = self._phase
        if phase is _Phase.HOLDING:
            if self.mode == "hybrid" and released_at - self._pressed_at < self.hybrid_hold_s:
                self._phase = _Phase.LATCHED  # a tap: keep going
                return []
            self._phase = _Phase.IDLE
            return ["stop"]
        self._phase = _Phase.LATCHED if phase is _Phase.PRESSED_LATCHED else _Phase.IDLE
        return []
