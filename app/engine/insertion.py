"""Putting a finished transcript into the window the user is working in.

:class:`Inserter` uses only the :class:`~app.engine.ports.Keyboard` and
:class:`~app.engine.ports.Clipboard` ports. The rules, in order:

1. Empty text: nothing happens.
2. Wait until the user has let go of Ctrl/Alt/Shift/Super (the push-to-talk chord);
   otherwise typed characters would become shortcuts. Polls every ``poll_s``; after
   ``modifier_timeout_s`` it gives up waiting and carries on.
3. If a ``target`` window was captured when dictation started and another window
   has the focus now, nothing is typed: the text goes on the clipboard instead.
4. ``method``:

   * ``"clipboard"``: the text goes on the clipboard; nothing is typed.
   * ``"paste"``: snapshot the clipboard, put the text there marked transient (so
     clipboard managers skip it), send the paste shortcut, and restore the snapshot
     ``restore_after_s`` later *in a background task*, only if the clipboard still
     holds our text (if the user copied something meanwhile, that stays). The event
     loop keeps running in between: on X11 this process serves the clipboard to the
     target, so blocking here would make the target paste the old content.
     :meth:`Inserter.drain` awaits pending restores (tests, shutdown).
   * ``"type"``: the keyboard types the text (layout-independent Unicode).

5. Any error from the keyboard: the text goes on the clipboard and the outcome says so.

Insertions run one at a time (a second waits for the first), so keystrokes never
interleave.

Every outcome carries a one-line message for the overlay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Literal

from app.engine.ports import Clipboard, Keyboard

log = logging.getLogger(__name__)

Status = Literal["inserted", "clipboard", "failed"]
METHODS = ("paste", "type", "clipboard")

WINDOW_CHANGED = "The focused window changed; the text is on the clipboard."
ON_CLIPBOARD = "The text is on the clipboard."
NOTHING = "Nothing to insert."


@dataclass(frozen=True)
class Outcome:
    """What became of one transcript.

    Attributes:
        status: ``"inserted"`` (typed or pasted into the focused window, or empty
            text: nothing to do), ``"clipboard"`` (deliberately left on the
            clipboard: that method, or the focus moved) or ``"failed"`` (the
            keyboard failed; the message says whether the text is on the clipboard).
        message: One line for the overlay.
    """

    status: Status
    message: str


def _one_line(error: BaseException, limit: int = 160) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class _PendingRestore:
    task: asyncio.Task[None]
    snapshot: object


class Inserter:
    """Inserts text with a keyboard and a clipboard (see the module docstring).

    Args:
        keyboard: Synthetic input and focus queries for this desktop.
        clipboard: The system clipboard.
        restore_after_s: How long after the paste shortcut the old clipboard is put
            back (the target must have read ours by then).
        modifier_timeout_s: How long to wait for held modifiers to be released.
        poll_s: How often to check the modifiers while waiting.
        paste_delay_s: Pause between taking the clipboard and sending the shortcut,
            so the new owner is known before the target asks for it. None is needed
            where taking the clipboard is synchronous: Qt's X11 clipboard confirms the
            new owner with a round trip, and Windows and macOS set it in the call.
            Wayland's is asynchronous (the app passes a small delay there).
    """

    def __init__(
        self,
        keyboard: Keyboard,
        clipboard: Clipboard,
        *,
        restore_after_s: float = 0.6,
        modifier_timeout_s: float = 2.0,
        poll_s: float = 0.01,
        paste_delay_s: float = 0.0,
    ) -> None:
        self.keyboard = keyboard
        self.clipboard = clipboard
        self.restore_after_s = restore_after_s
        self.modifier_timeout_s = modifier_timeout_s
        self.poll_s = poll_s
        self.paste_delay_s = paste_delay_s
        self._pending: _PendingRestore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy = asyncio.Lock()  # one insertion at a time: keystrokes must not interleave

    def capture_target(self) -> str | None:
        """The focused window now (call when dictation starts); ``None`` if unknowable."""
        try:
            return self.keyboard.active_window()
        except Exception:
            log.exception("could not read the focused window")
            return None

    async def insert(self, text: str, *, target: str | None, method: str) -> Outcome:
        """Insert ``text`` into the focused window by ``method``.

        Args:
            text: The transcript.
            target: The window that had the focus when dictation started (from
                :meth:`capture_target`), or ``None`` to skip the focus check.
            method: ``"paste"``, ``"type"`` or ``"clipboard"``.

        Returns:
            The outcome, with a one-line message.

        Raises:
            ValueError: For an unknown ``method``.
        """
        if method not in METHODS:
            raise ValueError(f"unknown insertion method {method!r}")
        if not text:
            return Outcome("inserted", NOTHING)
        async with self._busy:
            return await self._insert(text, target, method)

    async def _insert(self, text: str, target: str | None, method: str) -> Outcome:
        if method == "clipboard":
            return self._leave_on_clipboard(text, ON_CLIPBOARD)
        await self._wait_for_modifiers()
        if target is not None:
            try:
                now = self.keyboard.active_window()
            except Exception as error:
                log.exception("could not read the focused window")
                return self._fail(text, "check the focused window", error)
            if now != target:
                log.info("focus moved from %s to %s; not typing", target, now)
                return self._leave_on_clipboard(text, WINDOW_CHANGED)
        if method == "type":
            return await self._type(text)
        return await self._paste(text)

    async def drain(self) -> None:
        """Wait until every scheduled clipboard restore has run."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def restore_now(self) -> None:
        """Run a pending clipboard restore at once (on shutdown), if one is waiting."""
        pending, self._pending = self._pending, None
        if pending is None or pending.task.done():
            return
        pending.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pending.task
        self._restore_if_owned(pending.snapshot)

    async def _wait_for_modifiers(self) -> None:
        deadline = time.monotonic() + self.modifier_timeout_s
        while True:
            try:
                held = self.keyboard.modifiers_down()
            except Exception:
                log.exception("could not read the modifier keys")
                return
            if not held:
                return
            if time.monotonic() >= deadline:
                log.warning(
                    "modifiers still held after %.1fs; inserting anyway", self.modifier_timeout_s
                )
                return
            await asyncio.sleep(self.poll_s)

    async def _type(self, text: str) -> Outcome:
        try:
            await self.keyboard.type_text(text)
        except Exception as error:
            log.exception("typing failed")
            return self._fail(text, "type the text", error)
        return Outcome("inserted", "Typed into the focused window.")

    async def _paste(self, text: str) -> Outcome:
        try:
            snapshot = self._take_snapshot()
            self.clipboard.set_text(text, transient=True)
        except Exception as error:
            log.exception("could not use the clipboard")
            return self._fail(text, "use the clipboard", error)
        try:
            if self.paste_delay_s:
                await asyncio.sleep(self.paste_delay_s)
            await self.keyboard.paste()
        except Exception as error:
            log.exception("paste failed")
            return self._fail(text, "paste", error)
        task = asyncio.create_task(self._restore_later(snapshot))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._pending = _PendingRestore(task, snapshot)
        return Outcome("inserted", "Pasted into the focused window.")

    def _take_snapshot(self) -> object:
        """The clipboard to restore later: the user's, not a transcript still pending."""
        pending, self._pending = self._pending, None
        if pending is not None and not pending.task.done():
            pending.task.cancel()
            if self.clipboard.owns():  # still our previous transcript: keep the older snapshot
                return pending.snapshot
        return self.clipboard.snapshot()

    def _cancel_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.task.cancel()

    async def _restore_later(self, snapshot: object) -> None:
        await asyncio.sleep(self.restore_after_s)
        if self._pending is not None and self._pending.snapshot is snapshot:
            self._pending = None
        self._restore_if_owned(snapshot)

    def _restore_if_owned(self, snapshot: object) -> None:
        try:
            if self.clipboard.owns():
                self.clipboard.restore(snapshot)
            else:
                log.info("the clipboard changed since the paste; not restoring it")
        except Exception:
            log.exception("could not restore the clipboard")

    def _leave_on_clipboard(self, text: str, message: str) -> Outcome:
        self._cancel_pending()  # a pending restore must not wipe this text
        try:
            self.clipboard.set_text(text, transient=False)
        except Exception as error:
            log.exception("could not put the text on the clipboard")
            return Outcome("failed", f"Could not put the text on the clipboard: {_one_line(error)}")
        return Outcome("clipboard", message)

    def _fail(self, text: str, action: str, error: BaseException) -> Outcome:
        self._cancel_pending()
        try:
            self.clipboard.set_text(text, transient=False)
        except Exception:
            log.exception("could not put the text on the clipboard either")
            return Outcome("failed", f"Could not {action}: {_one_line(error)}")
        return Outcome("failed", f"Could not {action}: {_one_line(error)}. {ON_CLIPBOARD}")
