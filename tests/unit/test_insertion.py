"""The Inserter's rules, with in-test doubles of the keyboard and the clipboard.

The doubles stand in for system edges (XTEST, the X selection); the real ones are
exercised in tests/x11/test_insertion_x11.py and tests/ui/test_clipboard.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from app.engine.insertion import WINDOW_CHANGED, Inserter, Outcome


@dataclass
class FakeKeyboard:
    """Records what it was asked to do; modifiers stay down for ``held_polls`` checks."""

    name: str = "fake"
    window: str | None = "0x1"
    held_polls: int = 0
    fail: BaseException | None = None
    events: list[str] = field(default_factory=list)
    clipboard: DictClipboard | None = None  # what the target would paste

    def active_window(self) -> str | None:
        return self.window

    def modifiers_down(self) -> bool:
        if self.held_polls > 0:
            self.held_polls -= 1
            self.events.append("held")
            return True
        return False

    async def paste(self) -> None:
        if self.fail is not None:
            raise self.fail
        pasted = self.clipboard.data.get("text") if self.clipboard is not None else None
        self.events.append(f"paste:{pasted}")

    async def type_text(self, text: str) -> None:
        if self.fail is not None:
            raise self.fail
        self.events.append(f"type:{text}")
        await asyncio.sleep(0.01)  # typing takes a while
        self.events.append(f"typed:{text}")


@dataclass
class DictClipboard:
    """A clipboard holding a dict of formats; ``ours`` is what set_text put there."""

    data: dict[str, str] = field(default_factory=lambda: {"text": "old", "html": "<b>old</b>"})
    ours: dict[str, str] | None = None
    transient: list[bool] = field(default_factory=list)
    restores: int = 0

    def snapshot(self) -> object:
        return dict(self.data)

    def set_text(self, text: str, *, transient: bool) -> None:
        self.data = {"text": text}
        self.ours = self.data
        self.transient.append(transient)

    def owns(self) -> bool:
        return self.ours is not None and self.data is self.ours

    def restore(self, snapshot: object) -> None:
        assert isinstance(snapshot, dict)
        self.data = dict(snapshot)
        self.ours = None
        self.restores += 1

    def copy_elsewhere(self, text: str) -> None:
        """Another application takes the clipboard."""
        self.data = {"text": text}


def make(**keyboard: object) -> tuple[Inserter, FakeKeyboard, DictClipboard]:
    clipboard = DictClipboard()
    kb = FakeKeyboard(clipboard=clipboard, **keyboard)  # type: ignore[arg-type]
    inserter = Inserter(kb, clipboard, restore_after_s=0.05, modifier_timeout_s=1.0, poll_s=0.001)
    return inserter, kb, clipboard


async def test_types_only_after_the_modifiers_are_released() -> None:
    inserter, kb, _ = make(held_polls=3)
    outcome = await inserter.insert("héllo 😀", target="0x1", method="type")
    assert outcome == Outcome("inserted", "Typed into the focused window.")
    assert kb.events == ["held", "held", "held", "type:héllo 😀", "typed:héllo 😀"]


async def test_gives_up_waiting_for_modifiers_after_the_timeout() -> None:
    inserter, kb, _ = make(held_polls=10**9)
    inserter.modifier_timeout_s = 0.05
    outcome = await inserter.insert("x", target=None, method="type")
    assert outcome.status == "inserted"
    assert kb.events[-1] == "typed:x"


async def test_focus_moved_puts_the_text_on_the_clipboard_and_types_nothing() -> None:
    inserter, kb, clipboard = make(window="0x2")
    for method in ("type", "paste"):
        outcome = await inserter.insert("dictated", target="0x1", method=method)
        assert outcome == Outcome("clipboard", WINDOW_CHANGED)
        assert clipboard.data == {"text": "dictated"}
        assert clipboard.transient[-1] is False  # kept by clipboard managers: it is the result
    assert not any(e.startswith(("type", "paste")) for e in kb.events)


async def test_no_target_skips_the_focus_check() -> None:
    inserter, kb, _ = make(window=None)
    assert (await inserter.insert("x", target=None, method="type")).status == "inserted"
    assert kb.events == ["type:x", "typed:x"]


async def test_clipboard_method_only_sets_the_clipboard() -> None:
    inserter, kb, clipboard = make()
    outcome = await inserter.insert("dictated", target="0x1", method="clipboard")
    assert outcome.status == "clipboard"
    assert clipboard.data == {"text": "dictated"}
    assert kb.events == []


async def test_paste_then_restore_later_in_the_background() -> None:
    inserter, kb, clipboard = make()
    outcome = await inserter.insert("dictated", target="0x1", method="paste")
    assert outcome == Outcome("inserted", "Pasted into the focused window.")
    assert kb.events == ["paste:dictated"]
    assert clipboard.transient == [True]
    assert clipboard.data == {"text": "dictated"}  # insert returned before the restore
    await inserter.drain()
    assert clipboard.data == {"text": "old", "html": "<b>old</b>"}  # every format back


async def test_paste_does_not_restore_over_a_newer_copy() -> None:
    inserter, _, clipboard = make()
    await inserter.insert("dictated", target="0x1", method="paste")
    clipboard.copy_elsewhere("the user copied this")
    await inserter.drain()
    assert clipboard.data == {"text": "the user copied this"}
    assert clipboard.restores == 0


async def test_two_quick_pastes_restore_the_users_clipboard() -> None:
    inserter, kb, clipboard = make()
    await inserter.insert("first", target="0x1", method="paste")
    await inserter.insert("second", target="0x1", method="paste")
    assert kb.events == ["paste:first", "paste:second"]
    await inserter.drain()
    assert clipboard.data == {"text": "old", "html": "<b>old</b>"}  # not "first"
    assert clipboard.restores == 1


async def test_text_left_on_the_clipboard_is_not_restored_away() -> None:
    inserter, _, clipboard = make()
    await inserter.insert("pasted", target="0x1", method="paste")
    await inserter.insert("keep me", target="0x1", method="clipboard")
    await inserter.drain()
    assert clipboard.data == {"text": "keep me"}


async def test_restore_now_runs_a_pending_restore_at_once() -> None:
    inserter, _, clipboard = make()
    inserter.restore_after_s = 60
    await inserter.insert("dictated", target="0x1", method="paste")
    await asyncio.wait_for(inserter.restore_now(), 5)
    assert clipboard.data["text"] == "old"
    await asyncio.wait_for(inserter.drain(), 5)


@pytest.mark.parametrize("method", ["type", "paste"])
async def test_keyboard_failure_leaves_the_text_on_the_clipboard(method: str) -> None:
    inserter, _, clipboard = make(fail=RuntimeError("no XTEST\non this server"))
    outcome = await inserter.insert("dictated", target="0x1", method=method)
    assert outcome.status == "failed"
    assert "no XTEST on this server" in outcome.message
    assert outcome.message.endswith("The text is on the clipboard.")
    assert "\n" not in outcome.message
    assert clipboard.data == {"text": "dictated"}
    assert clipboard.transient[-1] is False
    await inserter.drain()
    assert clipboard.data == {"text": "dictated"}


async def test_insertions_run_one_at_a_time() -> None:
    inserter, kb, _ = make()
    await asyncio.gather(
        inserter.insert("one", target=None, method="type"),
        inserter.insert("two", target=None, method="type"),
    )
    assert kb.events == ["type:one", "typed:one", "type:two", "typed:two"]


async def test_empty_text_does_nothing() -> None:
    inserter, kb, clipboard = make(held_polls=5)
    for method in ("type", "paste", "clipboard"):
        assert (await inserter.insert("", target="0x9", method=method)).status == "inserted"
    assert kb.events == []
    assert clipboard.transient == []


async def test_unknown_method_is_an_error() -> None:
    inserter, _, _ = make()
    with pytest.raises(ValueError, match="unknown insertion method"):
        await inserter.insert("x", target=None, method="telepathy")
