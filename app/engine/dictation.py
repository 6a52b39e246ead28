"""Push-to-talk dictation: key down, speak, key up, and the words land in the window.

:class:`Dictation` runs one utterance per press. :meth:`~Dictation.press` starts
capturing at once (the microphone opens, or with a :class:`SharedMicrophone` its
blocks are taken from this instant, after a short pre-roll) while the connection
opens in parallel; audio captured while connecting is queued, so nothing said from
key-down on is lost. :meth:`~Dictation.release` ends the audio: the session flushes
at once and waits for the last final. Then, in this order:

1. the transcript (the finals joined with :func:`~app.core.transcript.join_pieces`)
   is saved with ``history.add``, so it survives whatever follows;
2. ``await insert(text, target)`` delivers it (the app's function: the ``Inserter``
   with the window focused at key-down and the chosen method);
3. ``history.mark(id, outcome.status)`` records how it went.

Successive utterances run in parallel: a press while the previous one is still
finishing starts capturing and connecting at once (queueing it would lose the start
of the new utterance or wait for the old one's network round trip). Their texts are
delivered strictly in press order: each waits for the previous delivery to end.

Joining with the text inserted before (into the same ``target``, when the last
delivery there was ``inserted``): the separator follows ``join_pieces`` (a space,
none before closing punctuation or between CJK characters), and the first letter is
capitalised when that text ended a sentence (``.``, ``!``, ``?``, ``…``, CJK full
stops, a line break); it is never lower-cased (it may be a name or "I"). With no
such text, the utterance is a sentence start: capitalised, no separator. History
keeps the transcript itself, without separator or capitalisation.

Failures (a :class:`~app.core.errors.HarkError`) end in state ``error`` with the
one-line message. Finals that arrived before the failure are not dropped: they are
saved to history and put on the clipboard (when a ``clipboard`` is given), and the
message says so. :meth:`~Dictation.cancel` (Esc) discards the utterances not yet
being delivered.

States, through ``on_state(state, message)``, for the newest utterance::

    idle -> connecting -> listening -> finishing -> idle (the outcome's message)
                   any (until delivered)         -> error

A lost connection is reconnected (``reconnect_attempts``) and sent the audio after
the last final again; meanwhile the message says so, and the events that follow
(the finals kept, then the new connection's) restart the utterance's text
(``on_reconnect`` tells a display to clear it). While a newer
utterance captures, an older one's outcome reaches ``on_result`` only; an error is
shown once no utterance is active any more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from app.core.errors import HarkError
from app.core.events import Event
from app.core.options import PROVIDER_TITLES, ProviderOptions
from app.engine.captions import LiveSource, State
from app.engine.dictation_text import continue_text
from app.engine.kept_audio import KeptAudio, KeptAudioSource
from app.engine.ports import Clipboard, Connector, History, SchemaMemory
from app.engine.session import StreamingSession
from app.engine.shared_microphone import SharedMicrophone
from app.engine.sources import resolve
from app.engine.utterance import FINISHING, SessionSettings, Utterance

log = logging.getLogger(__name__)

UNEXPECTED = "Dictation stopped because of an unexpected error; the log has the details."
CANCELLED = "Dictation cancelled."
NOTHING_HEARD = "Nothing was heard."


class InsertOutcome(Protocol):
    """What the app's insert function returns (the ``Inserter``'s outcome)."""

    @property
    def status(self) -> str:
        """``inserted``, ``clipboard`` or ``failed``; saved with the history entry."""

    @property
    def message(self) -> str:
        """One line for the user ("Inserted.", "... the text is on the clipboard.")."""


InsertFunction = Callable[[str, object], Awaitable[InsertOutcome]]
"""``insert(text, target)``: deliver ``text`` to ``target`` (what :meth:`Dictation.press` got)."""


@dataclass(frozen=True)
class DictationResult:
    """How one utterance ended, for ``on_result``.

    Attributes:
        number: The utterance's number, counting presses from 1.
        text: The transcript ("" when nothing was heard or it was cancelled); after a
            failure, the finals that arrived before it.
        inserted: What was handed to ``insert`` (with separator and capital), or "".
        entry_id: Its history id, or ``None`` when nothing was saved.
        status: The insert outcome's status, or ``empty``, ``cancelled``, ``error``.
        message: One line for the user.
    """

    number: int
    text: str
    inserted: str
    entry_id: int | None
    status: str
    message: str


class Dictation:
    """Push-to-talk dictation over streaming sessions, one per press.

    Args:
        options_factory: Returns the provider's options; read at each press; may raise
            a :class:`~app.core.errors.HarkError` (a bad setting).
        api_key_factory: Returns the API key, or an awaitable of it; may raise
            :class:`~app.core.errors.MissingKeyError`.
        connector: Opens WebSocket connections.
        history: Where each transcript is saved before it is inserted.
        insert: ``insert(text, target)``, the app's delivery (see :data:`InsertFunction`).
        on_state: Called with ``(state, message)`` on every change.
        on_event: Called with the newest utterance's events (partials, finals) for an
            overlay; a new utterance starts with state ``connecting``.
        source_factory: Makes a fresh, not yet started microphone source per utterance.
        shared_microphone: Instead of ``source_factory``: a microphone kept open
            (``keep_microphone_open``); its owner starts and closes it.
        clipboard: Where the words heard before a failure go; optional.
        on_result: Called with a :class:`DictationResult` when each utterance ends.
        on_reconnect: Called with ``(attempt, reason)`` when a connection was lost and
            the utterance is sent again; a display should clear its text.
        schema_memory: Where Baseten schema auto-detection remembers its answer.
        reconnect_attempts: Reconnects per utterance (see ``StreamingSession``).
        flush_timeout: Seconds to wait for the provider's last final after release.
    """

    def __init__(
        self,
        options_factory: Callable[[], ProviderOptions],
        api_key_factory: Callable[[], str | Awaitable[str]],
        connector: Connector,
        *,
        history: History,
        insert: InsertFunction,
        on_state: Callable[[State, str], None],
        on_event: Callable[[Event], None],
        source_factory: Callable[[], LiveSource] | None = None,
        shared_microphone: SharedMicrophone | None = None,
        clipboard: Clipboard | None = None,
        on_result: Callable[[DictationResult], None] | None = None,
        on_reconnect: Callable[[int, str], None] | None = None,
        schema_memory: SchemaMemory | None = None,
        reconnect_attempts: int = 2,
        flush_timeout: float = 5.0,
    ) -> None:
        if (source_factory is None) == (shared_microphone is None):
            raise ValueError("give exactly one of source_factory and shared_microphone")
        self.options_factory = options_factory
        self.api_key_factory = api_key_factory
        self.connector = connector
        self.history = history
        self._insert = insert
        self._on_state = on_state
        self._on_event = on_event
        self._source_factory = source_factory
        self._shared = shared_microphone
        self.clipboard = clipboard
        self._on_result = on_result or (lambda result: None)
        self.on_reconnect = on_reconnect or (lambda attempt, reason: None)
        self.schema_memory = schema_memory
        self.reconnect_attempts = reconnect_attempts
        self.flush_timeout = flush_timeout
        self.state: State = "idle"
        self.message = ""
        self._utterances: list[Utterance] = []  # not yet ended, in press order
        self._count = 0
        self._last_turn: asyncio.Future[None] | None = None
        self._error: str | None = None  # an error since the last time all was idle
        self._last_message = ""
        self._tail = ""  # the end of the text inserted last, into _tail_target
        self._tail_target: object = None
        self.last_audio: KeptAudio | None = None  # the last utterance's, for retry()
        self.retrying = False

    # -- the hotkey's API ------------------------------------------------------------------

    @property
    def capturing(self) -> bool:
        """True between a press and its release."""
        return any(u.capturing and not u.cancelled for u in self._utterances)

    @property
    def busy(self) -> bool:
        """True while any utterance has not ended."""
        return bool(self._utterances)

    def press(self, target: object = None) -> bool:
        """Start an utterance now. Ignored (returns False) while one is capturing.

        Args:
            target: Passed back to ``insert``: the window focused at key-down. The
                text joins the previous one only when both have the same target.
        """
        if self.capturing:
            return False
        if not any(not u.cancelled for u in self._utterances):
            self._error = None
        try:
            options = self.options_factory()
        except Exception as exc:
            if not isinstance(exc, HarkError):
                log.exception("reading the dictation settings failed")
            self._error = str(exc) if isinstance(exc, HarkError) else UNEXPECTED
            self.refresh()
            return False
        self._count += 1
        source = self._shared.tap() if self._shared is not None else self._new_source()
        previous, turn = self._last_turn, asyncio.get_running_loop().create_future()
        self._last_turn = turn
        title = PROVIDER_TITLES.get(options.provider, options.provider)
        settings = SessionSettings(
            self.api_key_factory,
            self.connector,
            self.schema_memory,
            self.flush_timeout,
            self.reconnect_attempts,
        )
        utt = Utterance(self, settings, self._count, options, title, source, target, previous, turn)
        self._utterances.append(utt)
        utt.task = asyncio.create_task(self._run(utt), name=f"hark-dictation-{self._count}")
        self.refresh()
        return True

    def release(self) -> None:
        """End the audio of the capturing utterance; it flushes and is delivered."""
        for utt in self._utterances:
            if utt.capturing:
                utt.release()
        self.refresh()

    def cancel(self) -> None:
        """Discard every utterance not yet being delivered (Esc). Nothing is saved."""
        cancelled = False
        for utt in self._utterances:
            if utt.phase != "delivering" and utt.task is not None:
                utt.cancelled = True
                utt.source.stop()
                utt.task.cancel()
                cancelled = True
        if cancelled:
            self._error = None
            self._last_message = CANCELLED
            self.refresh()

    async def wait_idle(self) -> None:
        """Wait until every utterance has ended."""
        while self._utterances:
            tasks = [u.task for u in self._utterances if u.task is not None and not u.task.done()]
            if not tasks:  # ended (each task removes its utterance on the way out)
                return
            await asyncio.wait(tasks)

    async def aclose(self) -> None:
        """Cancel everything, deliveries included, and wait for it to end."""
        for utt in self._utterances:
            utt.source.stop()
            if utt.task is not None:
                utt.task.cancel()
        await self.wait_idle()

    # -- one utterance ---------------------------------------------------------------------

    async def _run(self, utt: Utterance) -> None:
        try:
            try:
                try:
                    text = await utt.transcribe()
                finally:  # before the outcome is reported: a retry may follow it at once
                    if not utt.cancelled and (kept := utt.audio.kept()) is not None:
                        self.last_audio = kept
            except HarkError as exc:
                await self._finish_failed(utt, str(exc))
                return
            except asyncio.CancelledError:
                self._report(utt, "", "", None, "cancelled", CANCELLED)
                raise
            except Exception:
                log.exception("dictation failed")
                await self._finish_failed(utt, UNEXPECTED)
                return
            await self._deliver(utt, text)
        finally:
            if not utt.turn.done():  # the next utterance may deliver now
                utt.turn.set_result(None)
            try:
                await utt.close()
            finally:  # also when cancelled while closing (aclose): wait_idle relies on it
                self._utterances.remove(utt)
                self.refresh()

    async def retry(
        self, audio: KeptAudio, options: ProviderOptions, api_key: str | Awaitable[str]
    ) -> DictationResult:
        """Transcribe kept audio (e.g. :attr:`last_audio`) again, with ``options``' provider.

        The text is saved to the history and put on the clipboard (the window it
        was dictated into may be gone); the audio stays for another try.

        Raises:
            RuntimeError: While another retry runs.
        """
        if self.retrying:
            raise RuntimeError("a retry is running")
        self.retrying = True
        title = PROVIDER_TITLES.get(options.provider, options.provider)
        number = self._count
        try:
            session = StreamingSession(
                options,
                await resolve(api_key),
                self.connector,
                schema_memory=self.schema_memory,
                flush_timeout=self.flush_timeout,
                reconnect_attempts=self.reconnect_attempts,
            )
            text = (await session.run(KeptAudioSource(audio))).transcript.text
        except HarkError as exc:
            result = DictationResult(number, "", "", None, "error", f"Retry failed: {exc}")
        except Exception:
            log.exception("retrying the last dictation failed")
            result = DictationResult(number, "", "", None, "error", f"Retry failed. {UNEXPECTED}")
        else:
            result = self._retried(number, text, options.provider, title)
        finally:
            self.retrying = False
        log.info("retry of the last dictation: %s (%s)", result.status, result.message)
        self._on_result(result)
        return result

    def _retried(self, number: int, text: str, provider: str, title: str) -> DictationResult:
        if not text:
            return DictationResult(number, "", "", None, "empty", f"{title} heard nothing.")
        entry_id = self._save(provider, text)
        status, message = self._hand_over(
            text, f"Transcribed again with {title}", entry_id is not None
        )
        self._mark(entry_id, status)
        return DictationResult(number, text, "", entry_id, status, message)

    async def _deliver(self, utt: Utterance, text: str) -> None:
        utt.phase = "delivering"
        self.refresh()
        if not text:
            await utt.wait_turn()
            self._report(utt, "", "", None, "empty", NOTHING_HEARD)
            return
        # First: whatever happens next, the words are kept.
        entry_id = self._save(utt.options.provider, text)
        await utt.wait_turn()
        same = self._tail_target == utt.target
        inserted = continue_text(self._tail if same else "", text)
        try:
            outcome = await self._insert(inserted, utt.target)
            status, message = outcome.status, outcome.message
        except Exception as exc:
            log.exception("inserting the text failed")
            why = f"The text could not be inserted ({exc})"
            status, message = self._hand_over(text, why, entry_id is not None)
        self._mark(entry_id, status)
        if status == "inserted":
            self._tail = ((self._tail if same else "") + inserted)[-200:]
            self._tail_target = utt.target
        else:  # where the text ends up is not known: the next one starts a sentence
            self._tail = ""
        if utt.device_error is not None:  # the words made it; the microphone did not
            self._error = utt.device_error
        self._report(utt, text, inserted, entry_id, status, message)

    async def _finish_failed(self, utt: Utterance, message: str) -> None:
        """Report a failure; save and hand over the finals that arrived before it."""
        utt.phase = "delivering"
        heard = utt.finals.text
        entry_id = self._save(utt.options.provider, heard) if heard else None
        await utt.wait_turn()
        if heard:
            status, message = self._hand_over(heard, message.rstrip("."), entry_id is not None)
            self._mark(entry_id, status)
        self._tail = ""
        self._error = message
        self._report(utt, heard, "", entry_id, "error", message)

    def _hand_over(self, text: str, why: str, saved: bool) -> tuple[str, str]:
        """Put ``text`` on the clipboard if there is one; the status and one-line message."""
        where = " and in the history" if saved else ""
        if self.clipboard is not None:
            try:
                self.clipboard.set_text(text, transient=False)
            except Exception:
                log.exception("putting the text on the clipboard failed")
            else:
                return "clipboard", f"{why}. The words heard are on the clipboard{where}."
        if saved:
            return "failed", f"{why}. The words heard are in the history."
        return "failed", f"{why}."

    def _save(self, provider: str, text: str) -> int | None:
        try:
            return self.history.add(text, provider=provider)
        except Exception:  # the history must never cost the text itself
            log.exception("saving the transcript to the history failed")
            return None

    def _mark(self, entry_id: int | None, status: str) -> None:
        if entry_id is None:
            return
        try:
            self.history.mark(entry_id, status)
        except Exception:
            log.exception("recording the outcome in the history failed")

    def _report(
        self, utt: Utterance, text: str, inserted: str, entry_id: int | None, status: str, msg: str
    ) -> None:
        self._last_message = msg
        log.info("dictation %d: %s (%s)", utt.number, status, msg)
        self._on_result(DictationResult(utt.number, text, inserted, entry_id, status, msg))

    def _new_source(self) -> LiveSource:
        assert self._source_factory is not None
        return self._source_factory()

    # -- UtteranceListener: what the utterances report -------------------------------------

    def is_newest(self, utt: Utterance) -> bool:
        """Whether ``utt`` is the latest press (its events go to ``on_event``)."""
        return utt.number == self._count

    def forward(self, utt: Utterance, event: Event) -> None:
        """Pass the newest utterance's events on."""
        if self.is_newest(utt):
            self._on_event(event)

    def reconnecting(self, utt: Utterance, attempt: int, reason: str) -> None:
        """Tell ``on_reconnect`` when the newest utterance reconnects."""
        if self.is_newest(utt):
            self.on_reconnect(attempt, reason)

    def refresh(self) -> None:
        """Report the state the utterances are in."""
        live = [u for u in self._utterances if not u.cancelled]
        if live:
            newest, oldest = live[-1], live[0]
            if newest.capturing:
                self._set_state(newest.phase_state, newest.message)
            else:
                message = oldest.message if oldest.reconnecting else FINISHING
                self._set_state("finishing", message)
        elif self._error is not None:
            self._set_state("error", self._error)
        else:
            self._set_state("idle", self._last_message)

    def _set_state(self, state: State, message: str) -> None:
        if (state, message) == (self.state, self.message):
            return
        self.state, self.message = state, message
        log.info("dictation: %s %s", state, message)
        self._on_state(state, message)
