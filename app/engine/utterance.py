"""One push-to-talk utterance of a :class:`~app.engine.dictation.Dictation`.

It owns the utterance's source and streaming session, tracks its phase and the
finals heard so far (for a failure's salvage), and waits for its turn to deliver.
The :class:`~app.engine.dictation.Dictation` decides what the phases mean to the user.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Literal

from app.core.events import Event
from app.core.options import ProviderOptions
from app.core.providers.base import ConnectRequest
from app.core.transcript import Transcript
from app.engine.captions import LiveSource, State
from app.engine.kept_audio import AudioKeeper
from app.engine.ports import Connection
from app.engine.session import StreamingSession
from app.engine.sources import EndingSource, resolve

if TYPE_CHECKING:
    from app.engine.dictation import Dictation

Phase = Literal["connecting", "listening", "finishing", "delivering"]

LISTENING = "Listening…"
FINISHING = "Finishing…"


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
        owner: Dictation,
        number: int,
        options: ProviderOptions,
        title: str,
        source: LiveSource,
        target: object,
        previous: asyncio.Future[None] | None,
        turn: asyncio.Future[None],
    ) -> None:
        self.owner = owner
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
            key = await resolve(self.owner.api_key_factory())
            await starting
        except BaseException:
            starting.cancel()
            raise
        session = StreamingSession(
            self.options,
            key,
            self._connect,
            schema_memory=self.owner.schema_memory,
            flush_timeout=self.owner.flush_timeout,
            on_event=self._event,
            reconnect_attempts=self.owner.reconnect_attempts,
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
        conn = await self.owner.connector(request, provider=provider, open_timeout=open_timeout)
        if self.reconnecting or self.phase == "connecting":
            self.reconnecting = False
            if self.phase == "connecting":
                self.phase = "listening"
            self.message = LISTENING if self.phase == "listening" else FINISHING
            self.owner.refresh()
        return conn

    def _event(self, event: Event) -> None:
        self.finals.apply(event)
        self.owner.forward(self, event)

    def _reconnecting(self, attempt: int, reason: str) -> None:
        self.finals = Transcript()  # the new connection transcribes everything again
        self.reconnecting = True
        self.message = (
            f"Connection to {self.title} lost; reconnecting "
            f"({attempt} of {self.owner.reconnect_attempts})…"
        )
        if self.phase == "listening":
            self.phase = "connecting"
        self.owner.refresh()
        if self.owner.is_newest(self):
            self.owner.on_reconnect(attempt, reason)

    def _retrying(self, seconds: float, reason: str) -> None:
        self.message = f"{self.title} is busy; trying again in {seconds:g} s…"
        self.owner.refresh()

    def _finishing(self) -> None:
        if self.phase in ("connecting", "listening"):
            self.phase = "finishing"
            if not self.reconnecting:
                self.message = FINISHING
            self.owner.refresh()


def _retrieve(future: asyncio.Future[None]) -> None:
    """Mark a background future's exception as seen (it is raised where it is awaited)."""
    if not future.cancelled():
        future.exception()
