"""One push-to-talk utterance of a :class:`~app.engine.dictation.Dictation`.

It owns the utterance's source and streaming session, tracks its phase and the
finals heard so far (for a failure's salvage), and waits for its turn to deliver.
Its owner decides what the phases mean to the user: the utterance gets the session's
parameters as :class:`SessionSettings` and reports through one
:class:`UtteranceListener`, so this module knows nothing of its owner.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from app.core.events import Event
from app.core.options import ProviderOptions
from app.core.providers.base import ConnectRequest
from app.core.transcript import Transcript
from app.engine.captions import LiveSource, State
from app.engine.kept_audio import AudioKeeper
from app.engine.ports import Connection, Connector, SchemaMemory
from app.engine.session import StreamingSession
from app.engine.sources import EndingSource, resolve

Phase = Literal["connecting", "listening", "finishing", "delivering"]

LISTENING = "Listening…"
FINISHING = "Finishing…"


@dataclass(frozen=True)
class SessionSettings:
    """What an utterance's streaming session is opened with (its owner's settings).

    Attributes:
        api_key_factory: Returns the API key, or an awaitable of it; read at the press.
        connector: Opens the connections.
        schema_memory: Where Baseten schema auto-detection remembers its answer.
        flush_timeout: Seconds to wait for the provider's last final after release.
        reconnect_attempts: Reconnects per utterance (see ``StreamingSession``).
    """

    api_key_factory: Callable[[], str | Awaitable[str]]
    connector: Connector
    schema_memory: SchemaMemory | None
    flush_timeout: float
    reconnect_attempts: int


class UtteranceListener(Protocol):
    """Who hears what an utterance does (its :class:`~app.engine.dictation.Dictation`)."""

    def refresh(self) -> None:
        """The utterance's phase or message changed."""

    def forward(self, utt: Utterance, event: Event) -> None:
        """An event (partial, final) of ``utt``'s session."""

    def reconnecting(self, utt: Utterance, attempt: int, reason: str) -> None:
        """``utt``'s connection was lost and is opened again (after :meth:`refresh`)."""


class Utterance:
    """The work and the state of one press.

    Attributes:
        number: Counts presses from 1.
        options: The provider's options, read at the press.
        source: Its microphone source (or shared-microphone tap).
        target: What the press was given; passed back to ``insert``.
        phase: Where it is: ``connecting`` and ``listening`` while capturing (or
            reconnecting), ``finishing`` after the audio ended, ``delivering`` once
            the transcript is final (or the session failed).
        message: The line to show for the phase.
        finals: The finals heard so far on the current connection.
        device_error: The microphone's error when the audio ended by itself.
    """

    def __init__(
        self,
        listener: UtteranceListener,
        settings: SessionSettings,
        number: int,
        options: ProviderOptions,
        title: str,
        source: LiveSource,
        target: object,
        previous: asyncio.Future[None] | None,
        turn: asyncio.Future[None],
    ) -> None:
        self.listener = listener
        self.settings = settings
        self.number = number
        self.options = options
        self.title = title
        self.source = source
        self.target = target
        self.previous = previous
        self.turn = turn
        self.task: asyncio.Task[None] | None = None
        self.phase: Phase = "connecting"
        self.message = f"Connecting to {title}…"
        self.finals = Transcript()
        self.released = False
        self.cancelled = False
        self.reconnecting = False
        self.device_error: str | None = None
        self.audio = AudioKeeper(options.provider)  # for "Retry last dictation"

    @property
    def capturing(self) -> bool:
        """Pressed and not yet released (nor ended by itself)."""
        return self.phase in ("connecting", "listening") and not self.released

    @property
    def phase_state(self) -> State:
        """The phase as a dictation state."""
        return self.phase if self.phase in ("connecting", "listening") else "finishing"

    def release(self) -> None:
        """End the audio: the session flushes once the source's last block is sent."""
        self.released = True
        self.source.stop()
        self._finishing()

    async def transcribe(self) -> str:
        """Capture from now, stream, and return the final transcript.

        The source starts first, and the key is read while it opens; the session
        connects while the audio queues.

        Raises:
            HarkError: On any failure (after reconnects, where they apply).
        """
        starting = asyncio.ensure_future(self.source.start())
        starting.add_done_callback(_retrieve)
        try:
            key = await resolve(self.settings.api_key_factory())
            await starting
        except BaseException:
            starting.cancel()
            raise
        session = StreamingSession(
            self.options,
            key,
            self._connect,
            schema_memory=self.settings.schema_memory,
            flush_timeout=self.settings.flush_timeout,
            on_event=self._event,
            reconnect_attempts=self.settings.reconnect_attempts,
            on_reconnect=self._reconnecting,
            on_retry=self._retrying,
            on_audio=self.audio,
        )
        result = await session.run(EndingSource(self.source, self._finishing))
        if self.source.error is not None:
            self.device_error = str(self.source.error)
        return result.transcript.text

    async def wait_turn(self) -> None:
        """Wait until the previous utterance has been delivered (or has ended)."""
        if self.previous is not None and not self.previous.done():
            await asyncio.wait({self.previous})

    async def close(self) -> None:
        """Release the source (a shared microphone stays open)."""
        with contextlib.suppress(Exception):
            await self.source.aclose()

    # -- session callbacks ---------------------------------------------------------------

    async def _connect(
        self, request: ConnectRequest, *, provider: str, open_timeout: float
    ) -> Connection:
        conn = await self.settings.connector(request, provider=provider, open_timeout=open_timeout)
        if self.reconnecting or self.phase == "connecting":
            self.reconnecting = False
            if self.phase == "connecting":
                self.phase = "listening"
            self.message = LISTENING if self.phase == "listening" else FINISHING
            self.listener.refresh()
        return conn

    def _event(self, event: Event) -> None:
        self.finals.apply(event)
        self.listener.forward(self, event)

    def _reconnecting(self, attempt: int, reason: str) -> None:
        self.finals = Transcript()  # the new connection transcribes everything again
        self.reconnecting = True
        self.message = (
            f"Connection to {self.title} lost; reconnecting "
            f"({attempt} of {self.settings.reconnect_attempts})…"
        )
        if self.phase == "listening":
            self.phase = "connecting"
        self.listener.refresh()
        self.listener.reconnecting(self, attempt, reason)

    def _retrying(self, seconds: float, reason: str) -> None:
        self.message = f"{self.title} is busy; trying again in {seconds:g} s…"
        self.listener.refresh()

    def _finishing(self) -> None:
        if self.phase in ("connecting", "listening"):
            self.phase = "finishing"
            if not self.reconnecting:
                self.message = FINISHING
            self.listener.refresh()


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a background future's exception as seen (it is raised where it is awaited)."""
    if not future.cancelled():
        future.exception()
