"""The activation-mode state machine: hold, toggle, hybrid, debounce, auto-repeat, IPC."""

from __future__ import annotations

import random

import pytest

from app.core.activation import MODES, Activation, Command
from app.core.errors import SettingError

Script = list[tuple[str, float]]


def run(act: Activation, script: Script) -> list[tuple[float, Command]]:
    """Feed ``script`` (method name, time); tick whenever a wake-up falls due in between.

    Returns:
        Every command with the time it was issued.
    """
    out: list[tuple[float, Command]] = []
    for name, t in script:
        wake = act.wakeup_at
        if wake is not None and wake <= t:
            out += [(wake, c) for c in act.tick(wake)]
        out += [(t, c) for c in getattr(act, name)(t)]
    wake = act.wakeup_at
    if wake is not None:
        out += [(wake, c) for c in act.tick(wake)]
    return out


def nodebounce(mode: str, **kw: float) -> Activation:
    return Activation(mode, debounce_s=0, **kw)


# -- hold --------------------------------------------------------------------------------


def test_hold_starts_on_press_and_stops_on_release() -> None:
    act = nodebounce("hold")
    assert act.key_down(1.0) == ["start"]
    assert act.active
    assert act.held
    assert not act.latched
    assert act.key_up(2.0) == ["stop"]
    assert not act.active
    assert act.wakeup_at is None


def test_hold_release_is_held_back_for_the_debounce_time() -> None:
    act = Activation("hold", debounce_s=0.25)
    assert act.key_down(0.0) == ["start"]
    assert act.key_up(1.0) == []
    assert act.active  # not yet: it might be a bounce
    assert act.wakeup_at == 1.25
    assert act.tick(1.2) == []
    assert act.active
    assert act.tick(1.25) == ["stop"]
    assert not act.active
    assert act.wakeup_at is None
    assert act.tick(2.0) == []


def test_bounce_inside_the_window_is_ignored_as_a_pair() -> None:
    act = Activation("hold", debounce_s=0.25)
    assert run(act, [("key_down", 0.0), ("key_up", 1.0), ("key_down", 1.2), ("key_up", 3.0)]) == [
        (0.0, "start"),
        (3.25, "stop"),
    ]


def test_press_exactly_at_the_window_edge_is_a_new_press() -> None:
    act = Activation("hold", debounce_s=0.25)
    act.key_down(0.0)
    act.key_up(1.0)
    # no tick in between: the press commits the due release first, in order
    assert act.key_down(1.25) == ["stop", "start"]
    assert act.active


def test_press_just_inside_the_window_is_a_bounce() -> None:
    act = Activation("hold", debounce_s=0.25)
    act.key_down(0.0)
    act.key_up(1.0)
    assert act.key_down(1.2499) == []
    assert act.active
    assert act.wakeup_at is None


@pytest.mark.parametrize("mode", MODES)
def test_auto_repeat_presses_are_ignored(mode: str) -> None:
    act = Activation(mode)
    assert act.key_down(0.0) == ["start"]
    for i in range(1, 30):
        assert act.key_down(0.5 + i * 0.033) == []
    assert act.active


@pytest.mark.parametrize("mode", MODES)
def test_release_without_press_and_double_release_are_ignored(mode: str) -> None:
    act = nodebounce(mode)
    assert act.key_up(0.0) == []
    assert not act.active
    act.key_down(1.0)
    act.key_up(1.1)
    assert act.key_up(1.2) == []
    debounced = Activation(mode)
    debounced.key_down(0.0)
    debounced.key_up(1.0)
    assert debounced.key_up(1.01) == []
    assert debounced.wakeup_at == pytest.approx(1.03)  # the first release counts


def test_xlib_style_auto_repeat_pairs_are_absorbed_by_the_debounce() -> None:
    """Without detectable auto-repeat X11 sends release+press pairs at the same time."""
    act = Activation("hold")
    script: Script = [("key_down", 0.0)]
    for i in range(20):
        t = 0.66 + i * 0.04
        script += [("key_up", t), ("key_down", t)]
    script.append(("key_up", 2.0))
    assert run(act, script) == [(0.0, "start"), (pytest.approx(2.03), "stop")]


# -- toggle ------------------------------------------------------------------------------


def test_toggle_each_press_toggles_and_releases_do_nothing() -> None:
    act = Activation("toggle")
    script: Script = [
        ("key_down", 0.0),
        ("key_up", 0.1),
        ("key_down", 2.0),
        ("key_up", 2.1),
        ("key_down", 4.0),
        ("key_up", 9.0),
    ]
    assert run(act, script) == [(0.0, "start"), (2.0, "stop"), (4.0, "start")]
    assert act.active
    assert act.latched


def test_toggle_stop_happens_on_the_press_not_the_release() -> None:
    act = nodebounce("toggle")
    act.key_down(0.0)
    act.key_up(0.1)
    assert act.key_down(1.0) == ["stop"]
    assert not act.active
    assert act.key_up(5.0) == []


def test_toggle_press_bounce_does_not_toggle_twice() -> None:
    act = Activation("toggle")
    script: Script = [("key_down", 0.0), ("key_up", 0.01), ("key_down", 0.02), ("key_up", 0.3)]
    assert run(act, script) == [(0.0, "start")]
    assert act.active


# -- hybrid ------------------------------------------------------------------------------


def test_hybrid_tap_keeps_going_until_the_next_press() -> None:
    act = Activation("hybrid", hybrid_hold_s=0.5)
    assert run(act, [("key_down", 0.0), ("key_up", 0.1)]) == [(0.0, "start")]
    assert act.active
    assert act.latched
    assert act.key_down(3.0) == ["stop"]
    assert run(act, [("key_up", 3.1)]) == []
    assert not act.active


def test_hybrid_hold_stops_on_release() -> None:
    act = Activation("hybrid", hybrid_hold_s=0.5)
    assert run(act, [("key_down", 0.0), ("key_up", 2.0)]) == [
        (0.0, "start"),
        (pytest.approx(2.03), "stop"),
    ]


@pytest.mark.parametrize(
    ("held_s", "tap"), [(0.0, True), (0.4999, True), (0.5, False), (0.5001, False)]
)
def test_hybrid_boundary(held_s: float, tap: bool) -> None:
    act = nodebounce("hybrid", hybrid_hold_s=0.5)
    act.key_down(10.0)
    assert act.key_up(10.0 + held_s) == ([] if tap else ["stop"])
    assert act.active is tap


def test_hybrid_measures_the_release_time_not_the_tick_time() -> None:
    act = Activation("hybrid", hybrid_hold_s=0.5, debounce_s=0.25)
    act.key_down(0.0)
    act.key_up(0.4)
    assert act.tick(0.65) == []  # the tick comes after 0.5 s, the release did not
    assert act.latched


def test_hybrid_bounce_during_a_hold_keeps_the_original_press_time() -> None:
    act = Activation("hybrid", hybrid_hold_s=0.5)
    script: Script = [("key_down", 0.0), ("key_up", 0.1), ("key_down", 0.11), ("key_up", 0.8)]
    assert run(act, script) == [(0.0, "start"), (pytest.approx(0.83), "stop")]


# -- IPC equivalents and reset -----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_ptt_press_release_act_exactly_like_the_hotkey(mode: str) -> None:
    rng = random.Random(7)
    t = 0.0
    keys: Script = []
    for _ in range(300):
        t += rng.choice([0.001, 0.01, 0.02, 0.05, 0.2, 0.4, 1.0])
        keys.append((rng.choice(["key_down", "key_up"]), t))
    ipc: Script = [("press" if n == "key_down" else "release", at) for n, at in keys]
    by_key, by_ipc = Activation(mode), Activation(mode)
    assert run(by_key, keys) == run(by_ipc, ipc)
    assert (by_key.active, by_key.latched) == (by_ipc.active, by_ipc.latched)


@pytest.mark.parametrize("mode", MODES)
def test_ipc_toggle_starts_and_stops_in_every_mode(mode: str) -> None:
    act = Activation(mode)
    assert act.toggle(0.0) == ["start"]
    assert act.latched
    assert act.toggle(5.0) == ["stop"]
    assert not act.active


@pytest.mark.parametrize("mode", MODES)
def test_press_stops_a_toggled_session_and_its_release_does_nothing(mode: str) -> None:
    act = Activation(mode)
    act.toggle(0.0)
    assert run(act, [("key_down", 1.0), ("key_up", 3.0)]) == [(1.0, "stop")]
    assert not act.active
    assert act.key_down(4.0) == ["start"]


def test_toggle_while_held_stops_and_the_release_does_nothing() -> None:
    act = Activation("hold")
    act.key_down(0.0)
    assert act.toggle(0.5) == ["stop"]
    assert act.held
    assert run(act, [("key_up", 1.0)]) == []
    assert act.key_down(2.0) == ["start"]


def test_toggle_while_held_after_a_stop_starts_and_outlives_the_release() -> None:
    act = nodebounce("hybrid")
    act.key_down(0.0)
    act.key_up(0.1)  # tap: latched
    act.key_down(1.0)  # stops; key still down
    assert act.toggle(1.5) == ["start"]
    assert act.key_up(2.0) == []
    assert act.active
    assert act.latched


def test_toggle_during_the_debounce_window() -> None:
    act = Activation("hold", debounce_s=0.25)
    act.key_down(0.0)
    act.key_up(1.0)
    assert act.toggle(1.1) == ["stop"]
    assert act.tick(1.25) == []
    assert not act.active
    assert not act.held


def test_reset_forgets_the_session_and_the_held_key() -> None:
    act = Activation("hold")
    act.key_down(0.0)
    act.reset()
    assert not act.active
    assert not act.held
    assert act.key_up(1.0) == []  # the release of the forgotten press
    assert act.wakeup_at is None
    assert act.key_down(2.0) == ["start"]  # not taken for auto-repeat


def test_reset_drops_a_pending_release() -> None:
    act = Activation("toggle")
    act.key_down(0.0)
    act.key_up(0.1)
    assert act.wakeup_at is not None
    act.reset()
    assert act.wakeup_at is None
    assert act.tick(10.0) == []
    assert act.key_down(11.0) == ["start"]


@pytest.mark.parametrize("mode", MODES)
def test_commands_always_alternate_and_match_active(mode: str) -> None:
    rng = random.Random(mode)
    act = Activation(mode, hybrid_hold_s=0.3, debounce_s=0.03)
    t, last = 0.0, "stop"
    for _ in range(3000):
        t += rng.choice([0.0, 0.005, 0.02, 0.04, 0.1, 0.29, 0.31, 1.0])
        name = rng.choice(["key_down", "key_down", "key_up", "key_up", "toggle", "tick", "reset"])
        if name == "reset":
            if rng.random() < 0.05:
                act.reset()
                last = "stop"
            continue
        for command in getattr(act, name)(t):
            assert command != last, f"{command} twice in a row"
            last = command
        assert act.active is (last == "start")


# -- construction ------------------------------------------------------------------------


def test_unknown_mode_is_a_setting_error() -> None:
    with pytest.raises(SettingError, match="unknown activation mode 'push'"):
        Activation("push")


@pytest.mark.parametrize("kw", [{"hybrid_hold_s": -1.0}, {"debounce_s": -0.1}])
def test_negative_times_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(SettingError, match="must not be negative"):
        Activation("hold", **kw)
