"""Push-to-talk orchestration, without Qt: the hotkey, the debounce, the meter, the dictation.

The loop's clock is a stand-in that the tests move forward, so the debounce wake-up and
the meter's timer fire without waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from app.adapters.hotkeys.base import HotkeyError
from app.core.errors import HarkError
from app.core.hotkey import Hotkey
from app.core.settings import HotkeySettings, Settings
from app.engine.dictation import Dictation
from app.engine.insertion import Inserter
from app.engine.push_to_talk import DEBOUNCE_S, METER_INTERVAL_S, PushToTalk


class Clock:
    """The event loop's time, moved by hand."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.now = loop.time()
        self.loop = loop

    def __call__(self) -> float:
        return self.now

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        for _ in range(3):  # due timers run on the loop's next turns
            await asyncio.sleep(0)


@dataclass
class FakeDictation:
    accept: bool = True
    calls: list[Any] = field(default_factory=list)
    closed: bool = False

    def press(self, target: object = None) -> bool:
        self.calls.append(("press", target))
        return self.accept

    def release(self) -> None:
        self.calls.append("release")

    def cancel(self) -> None:
        self.calls.append("cancel")

    async def aclose(self) -> None:
        self.closed = True


class FakeInserter:
    def __init__(self) -> None:
        self.restored = False

    def capture_target(self) -> str | None:
        return "window-7"

    async def restore_now(self) -> None:
        self.restored = True


class FakeBackend:
    name = "fake"

    def __init__(self, refuse: str = "") -> None:
        self.refuse = refuse
        self.started: list[Hotkey] = []
        self.stops = 0
        self.on_error: Callable[[HarkError], None] | None = None

    def start(
        self,
        hotkey: Hotkey,
        on_press: Callable[[], None],
        on_release: Callable[[], None],
        *,
        on_error: Callable[[HarkError], None] | None = None,
    ) -> None:
        if self.refuse:
            raise HotkeyError(self.refuse)
        self.started.append(hotkey)
        self.on_error = on_error

    def stop(self) -> None:
        self.stops += 1


@dataclass
class Rig:
    ptt: PushToTalk
    clock: Clock
    backend: FakeBackend
    inserter: FakeInserter
    dictations: list[FakeDictation]
    reports: list[tuple[str, str]]
    levels: list[float]

    @property
    def dictation(self) -> FakeDictation:
        return self.dictations[-1]


def settings(mode: str = "hold", hotkey: str = "ctrl+alt+space") -> Settings:
    return Settings(hotkey=HotkeySettings(hotkey=hotkey, mode=mode))


@pytest.fixture
async def rig(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    loop = asyncio.get_running_loop()
    clock = Clock(loop)
    monkeypatch.setattr(loop, "time", clock)
    backend, inserter = FakeBackend(), FakeInserter()
    dictations: list[FakeDictation] = []
    reports: list[tuple[str, str]] = []
    levels: list[float] = []

    def make_dictation() -> Dictation:
        dictations.append(FakeDictation())
        return cast(Dictation, dictations[-1])

    ptt = PushToTalk(
        backend=backend,
        inserter=cast(Inserter, inserter),
        make_dictation=make_dictation,
        report=lambda title, message: reports.append((title, message)),
        level=lambda: 0.5,
        show_level=levels.append,
    )
    ptt.configure(settings(), rebuild=True)
    yield Rig(ptt, clock, backend, inserter, dictations, reports, levels)
    await ptt.aclose()


async def test_hold_presses_at_key_down_and_releases_after_the_debounce(rig: Rig) -> None:
    rig.ptt.key_down()
    assert rig.dictation.calls == [("press", "window-7")]
    assert rig.ptt.active
    rig.ptt.key_up()
    assert rig.dictation.calls == [("press", "window-7")]  # held back: it may be a bounce
    await rig.clock.advance(DEBOUNCE_S)
    assert rig.dictation.calls == [("press", "window-7"), "release"]
    assert not rig.ptt.active
    assert rig.levels[-1] == 0.0  # the meter is cleared


async def test_a_bounce_within_the_debounce_is_no_release(rig: Rig) -> None:
    rig.ptt.key_down()
    rig.ptt.key_up()
    await rig.clock.advance(DEBOUNCE_S / 4)
    rig.ptt.key_down()
    await rig.clock.advance(DEBOUNCE_S * 4)
    assert rig.dictation.calls == [("press", "window-7")]
    assert rig.ptt.active


async def test_the_meter_is_read_while_capturing_only(rig: Rig) -> None:
    rig.ptt.key_down()
    assert rig.ptt.metering
    await rig.clock.advance(METER_INTERVAL_S)
    await rig.clock.advance(METER_INTERVAL_S)
    assert rig.levels == [0.5, 0.5]
    rig.ptt.key_up()
    await rig.clock.advance(DEBOUNCE_S)
    assert not rig.ptt.metering
    await rig.clock.advance(METER_INTERVAL_S * 3)
    assert rig.levels == [0.5, 0.5, 0.0]


async def test_toggle_mode_and_the_tray_toggle(rig: Rig) -> None:
    rig.ptt.configure(settings("toggle"), rebuild=False)
    rig.ptt.toggle()
    assert rig.ptt.active
    rig.ptt.key_down()  # a press while latched stops
    assert rig.dictation.calls == [("press", "window-7"), "release"]
    assert len(rig.dictations) == 1  # no rebuild asked


async def test_a_refused_press_resets_the_mode_and_starts_no_meter(rig: Rig) -> None:
    rig.dictation.accept = False
    rig.ptt.key_down()
    assert not rig.ptt.active
    assert not rig.ptt.metering


async def test_cancel_discards_and_stops_the_meter(rig: Rig) -> None:
    rig.ptt.key_down()
    rig.ptt.cancel()
    assert rig.dictation.calls[-1] == "cancel"
    assert not rig.ptt.active
    assert not rig.ptt.metering


async def test_the_hotkey_is_registered_once_per_change(rig: Rig) -> None:
    assert len(rig.backend.started) == 1
    rig.ptt.configure(settings(), rebuild=False)
    assert len(rig.backend.started) == 1
    rig.ptt.configure(settings(hotkey="ctrl+shift+d"), rebuild=False)
    assert len(rig.backend.started) == 2
    assert rig.ptt.hotkey_text == "ctrl+shift+d"


async def test_hotkey_problems_are_reported(rig: Rig) -> None:
    rig.ptt.key_down()
    assert rig.backend.on_error is not None
    rig.backend.on_error(HotkeyError("The display went away."))
    assert rig.reports == [("Hotkey", "The display went away.")]
    assert not rig.ptt.active  # the mode is reset: the release will never come
    rig.backend.refuse = "Taken by another application."
    rig.ptt.configure(settings(hotkey="ctrl+shift+d"), rebuild=False)
    assert rig.reports[-1] == ("Hotkey", "Taken by another application.")


async def test_no_backend_leaves_ipc_and_the_tray(rig: Rig) -> None:
    ptt = PushToTalk(
        backend=None,
        inserter=cast(Inserter, rig.inserter),
        make_dictation=lambda: cast(Dictation, FakeDictation()),
        report=lambda title, message: None,
        level=lambda: 0.0,
        show_level=lambda level: None,
    )
    ptt.configure(settings(), rebuild=False)  # builds the first dictation anyway
    assert ptt.dictation is not None
    ptt.toggle()
    assert ptt.active
    await ptt.aclose()


async def test_a_rebuild_closes_the_old_dictation_and_aclose_finishes(rig: Rig) -> None:
    first = rig.dictation
    rig.ptt.configure(settings(), rebuild=True)
    assert rig.dictation is not first
    await rig.clock.advance(0)
    assert first.closed
    await rig.ptt.aclose()
    assert rig.dictation.closed
    assert rig.inserter.restored
    assert rig.backend.stops >= 1
