"""Live captions: one long streaming session over a live source, nothing typed anywhere.

:class:`LiveCaptions` opens the source, runs one
:class:`~app.engine.session.StreamingSession` over it (the provider's own voice
activity detection turns speech into finals as the person speaks) and reports its
state. :meth:`LiveCaptions.stop` ends it gracefully: the source stops, the session
flushes, waits for the last final and closes. It also stops by itself after
``limit_s`` seconds.

States, reported through ``on_state(state, message)`` with a one-line message::

    connecting -> listening -> finishing -> idle
        any    ->    error   (terminal; the message says what went wrong and what to do)

``connecting`` lasts until the provider accepted the connection; ``finishing`` starts
when :meth:`~LiveCaptions.stop` is called or the audio ends by itself (the microphone
went away; then, once the last final is in, the state is ``error`` with the
microphone's message).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

from app.core.errors import HarkError
from app.core.events import Event
from app.core.options import PROVIDER_TITLES, ProviderOptions
from app.core.providers.base import ConnectRequest
from app.engine.ports import AudioSource, Connection, Connector, SchemaMemory
from app.engine.session import SessionResult, StreamingSession
from app.engine.sources import EndingSource, resolve

log = logging.getLogger(__name__)

State = Literal["connecting", "listening", "finishing", "idle", "error"]

UNEXPECTED = "Live captions stopped because of an unexpected error; the log has the details."


class LiveSource(AudioSource, Protocol):
    """An :class:`~app.engine.ports.AudioSource` that is opened and stopped: a microphone.

    ``sample_rate`` and ``channels`` are valid after :meth:`start`.
    """

    @property
    def error(self) -> HarkError | None:
        """Why the audio ended by itself (device gone), else ``None``."""

    async def start(self) -> None:
        """Open the device; raises a :class:`~app.core.errors.HarkError` when it cannot."""

    def stop(self) -> None:
        """End the audio: ``blocks()`` yields what was captured, then ends. Idempotent."""

    async def aclose(self) -> None:
        """Stop, and wait until the device is released."""


class LiveCaptions:
    """Live captions from a live source through one streaming session.

    A ``LiveCaptions`` runs once: make a new one for the next run. Settings, the key
    and the device are read when :meth:`run` starts, through the factories.

    Args:
        options_factory: Returns the provider's options (their class picks the
            provider); may raise a :class:`~app.core.errors.HarkError`.
        api_key_factory: Returns the API key, or an awaitable of it (read a keyring
            off the event loop); may raise :class:`~app.core.errors.MissingKeyError`.
        connector: Opens WebSocket connections (``app.adapters.ws_transport``).
        source_factory: Makes the (not yet started) source, e.g. a ``MicrophoneSource``.
        limit_s: Stop by itself after this many seconds of capture; ``None``: never.
        on_event: Called on the event loop with every session event (``Partial``,
            ``Final``, ...), in order.
        on_state: Called on the event loop with ``(state, message)`` on every change.
        schema_memory: Where Baseten schema auto-detection remembers its answer.
        reconnect_attempts: How many times in a row a lost connection is replaced; the
            new one is sent the audio from the last final on (``on_reconnect`` tells
            the display to clear: the finals kept are sent again).
        on_reconnect: Called with ``(attempt, reason)`` before each reconnect.

    Attributes:
        state: The current state (``"idle"`` before :meth:`run`).
        message: The message that came with it.
    """

    def __init__(
        self,
        options_factory: Callable[[], ProviderOptions],
        api_key_factory: Callable[[], str | Awaitable[str]],
        connector: Connector,
        source_factory: Callable[[], LiveSource],
        *,
        limit_s: float | None,
        on_event: Callable[[Event], None],
        on_state: Callable[[State, str], None],
        schema_memory: SchemaMemory | None = None,
        reconnect_attempts: int = 3,
        on_reconnect: Callable[[int, str], None] | None = None,
    ) -> None:
        if limit_s is not None and limit_s <= 0:
            raise ValueError("limit_s must be positive, or None for no limit")
        self._options_factory = options_factory
        self._api_key_factory = api_key_factory
        self._connector = connector
        self._source_factory = source_factory
        self.limit_s = limit_s
        self._on_event = on_event
        self._on_state = on_state
        self._schema_memory = schema_memory
        self.reconnect_attempts = reconnect_attempts
        self._on_reconnect = on_reconnect or (lambda attempt, reason: None)
        self.state: State = "idle"
        self.message = ""
        self._ran = False
        self._stop_requested = False
        self._limit_reached = False
        self._source: LiveSource | None = None

    async def run(self) -> SessionResult | None:
        """Run the captions until stopped, the limit, or a failure.

        Returns:
            The session's result (its transcript), or ``None`` when it failed or was
            stopped before it started. Failures are reported as state ``"error"``,
            never raised; cancelling the task stops the source and re-raises.
        """
        if self._ran:
            raise RuntimeError("a LiveCaptions runs once; make a new one")
        self._ran = True
        source: LiveSource | None = None
        timer: asyncio.TimerHandle | None = None
        try:
            options = self._options_factory()
            title = PROVIDER_TITLES.get(options.provider, options.provider)
            self._set_state("connecting", f"Connecting to {title}…")
            session = StreamingSession(
                options,
                await resolve(self._api_key_factory()),
                self._connect,
                schema_memory=self._schema_memory,
                on_event=self._on_event,
                on_retry=lambda seconds, why: self._set_state("connecting", _busy(title, seconds)),
                reconnect_attempts=self.reconnect_attempts,
                on_reconnect=self._reconnecting,
            )
            if not self._stop_requested:
                source = self._source = self._source_factory()
                await source.start()
            if source is None or self._stop_requested:  # stopped before any audio came
                self._set_state("idle", "")
                return None
            if self.limit_s is not None:
                timer = asyncio.get_running_loop().call_later(self.limit_s, self._limit)
            result = await session.run(EndingSource(source, self._audio_ended))
        except HarkError as exc:
            self._set_state("error", str(exc))
            return None
        except asyncio.CancelledError:
            self._set_state("idle", "Live captions cancelled.")
            raise
        except Exception:
            log.exception("live captions failed")
            self._set_state("error", UNEXPECTED)
            return None
        finally:
            if timer is not None:
                timer.cancel()
            if source is not None:
                await source.aclose()
        if source.error is not None:
            self._set_state("error", str(source.error))
        elif self._limit_reached:
            self._set_state("idle", f"Live captions stopped after {_duration(self.limit_s)}.")
        else:
            self._set_state("idle", "")
        return result

    def stop(self) -> None:
        """End gracefully: stop the audio, flush, wait for the last final. Idempotent.

        Safe at any time, also before :meth:`run` or while connecting.
        """
        self._stop_requested = True
        if self._source is not None:
            self._source.stop()
        if self.state in ("connecting", "listening"):
            self._set_state("finishing", "Finishing…")

    # -- internals ----------------------------------------------------------------------

    async def _connect(
        self, request: ConnectRequest, *, provider: str, open_timeout: float
    ) -> Connection:
        """The session's connector: the real one, then ``listening`` once it is open."""
        conn = await self._connector(request, provider=provider, open_timeout=open_timeout)
        if self.state == "connecting":
            self._set_state("listening", "Listening…")
        return conn

    def _limit(self) -> None:
        log.info("live captions reached their %.0f s limit", self.limit_s or 0)
        self._limit_reached = True
        self.stop()

    def _audio_ended(self) -> None:
        if self.state in ("connecting", "listening"):
            self._set_state("finishing", "Finishing…")

    def _reconnecting(self, attempt: int, reason: str) -> None:
        if self.state == "listening":
            n = self.reconnect_attempts
            self._set_state("connecting", f"Connection lost; reconnecting ({attempt} of {n})…")
        self._on_reconnect(attempt, reason)

    def _set_state(self, state: State, message: str) -> None:
        if (state, message) == (self.state, self.message):
            return
        self.state, self.message = state, message
        log.info("live captions: %s %s", state, message)
        self._on_state(state, message)


def _busy(title: str, seconds: float) -> str:
    return f"{title} is busy; trying again in {seconds:g} s…"


def _duration(seconds: float | None) -> str:
    """``90`` -> ``"90 s"``, ``600`` -> ``"10 min"``, ``5400`` -> ``"90 min"``."""
    if seconds is None:
        return ""
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
