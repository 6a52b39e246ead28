"""Reconnects: a connection lost before the flush was confirmed is replaced, and the new
one is sent the audio from where everything was final (all of it, for a provider whose
finals carry no times), over real loopback WebSockets."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import numpy as np
import pytest

from app.adapters.ws_transport import WebSocketConnection, open_connection
from app.core.errors import KeyRejectedError, ProviderFailure
from app.core.events import Event, Final
from app.core.options import BasetenOptions, FireworksOptions, TogetherOptions
from app.core.providers.base import ConnectRequest
from app.engine.pacing import RealtimeSource
from app.engine.session import StreamingSession, reconnect_delays
from tests.emulators import (
    BasetenEmulator,
    Faults,
    FireworksEmulator,
    Script,
    TogetherEmulator,
    Utterance,
)
from tests.helpers import ArraySource

KEY = "k-123"
RATE = 16000

# "One two." is final at 0.3 s of audio, before the drop at 0.5 s; "Three." comes with the flush.
SCRIPT = Script([Utterance("One two.", partials=[(0.1, "One")], final_at=0.3),
                 Utterance("Three.", final_at=None)])  # fmt: skip


def _noise_source(seconds: float) -> ArraySource:
    """``seconds`` of noise at 16 kHz."""
    rng = np.random.default_rng(3)
    return ArraySource((rng.standard_normal(round(seconds * RATE)) * 0.1).astype(np.float32))


class Reconnects:
    """Records ``on_reconnect`` calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []

    def __call__(self, attempt: int, reason: str) -> None:
        self.calls.append((attempt, reason))


def test_backoff_is_short_then_steady() -> None:
    assert list(itertools.islice(reconnect_delays(), 5)) == [0.2, 0.5, 1.0, 1.0, 1.0]


# What a new connection that resumes at 0.3 s hears: the rest, "Three."
RESUMED = Script([Utterance("Three.", final_at=None)])
EMULATORS = {"baseten": BasetenEmulator, "fireworks": FireworksEmulator}
OPTIONS = {"baseten": BasetenOptions, "fireworks": FireworksOptions}


@pytest.mark.parametrize("provider", ["baseten", "fireworks"])
async def test_a_dropped_connection_resumes_where_everything_was_final(provider: str) -> None:
    """Finals with times (Baseten's segments, Fireworks' segments): only the rest is resent."""
    events: list[Event] = []
    reconnects = Reconnects()
    kwargs: dict[str, Any] = {"accept_schema": "current"} if provider == "baseten" else {}
    async with EMULATORS[provider](
        [SCRIPT, RESUMED], api_key=KEY, faults=Faults(drop_after_s=0.5), **kwargs
    ) as emu:
        options = OPTIONS[provider](endpoint=emu.url)
        session = StreamingSession(
            options,
            KEY,
            open_connection,
            on_event=events.append,
            reconnect_attempts=1,
            on_reconnect=reconnects,
        )
        # Paced: the final at 0.3 s must reach the client before the drop at 0.5 s (an
        # aborted socket discards what the emulator had not flushed yet).
        result = await session.run(RealtimeSource(_noise_source(1.5)))
    assert emu.drop_fired
    assert len(emu.connections) == 2
    assert emu.connections[0].close_code == 1006  # aborted after 0.5 s of audio
    # "One two." was final at 0.3 s: the new connection got the audio from there on.
    resent = emu.connections[1].samples_received
    assert resent - 24000 + round(0.3 * RATE) in range(0, 512 + 6400)  # frame and flush padding
    assert result.samples_sent == 24000 - round(0.3 * RATE)
    # Complete and not duplicated.
    assert result.transcript.text == "One two. Three."
    [(attempt, reason)] = reconnects.calls
    assert attempt == 1
    assert "closed the connection before the transcript was complete" in reason
    # After on_reconnect (a display clears), the kept final is sent again, then the rest.
    finals = [e for e in events if isinstance(e, Final)]
    assert [f.text for f in finals] == ["One two.", "One two.", "Three."]
    assert finals[0] == finals[1]
    # The resumed connection's times count from the session's start, its ids are its own.
    assert finals[2].utterance != finals[0].utterance
    assert all(
        (s.start or 0.0) >= 0.3 - 1e-6 for s in finals[2].segments
    )  # shifted by the resume point
    assert emu.violations == []


async def test_without_times_in_the_finals_all_audio_is_resent() -> None:
    """Together's `completed` carries no times: the new connection hears everything again."""
    events: list[Event] = []
    async with TogetherEmulator(SCRIPT, api_key=KEY, faults=Faults(drop_after_s=0.5)) as emu:
        session = StreamingSession(
            TogetherOptions(endpoint=emu.url),
            KEY,
            open_connection,
            on_event=events.append,
            reconnect_attempts=1,
        )
        result = await session.run(_noise_source(1.5))
    assert len(emu.connections) == 2
    assert emu.connections[1].samples_received == 24000 == result.samples_sent
    # Complete and not duplicated: the final of the lost connection was dropped.
    assert result.transcript.text == "One two. Three."
    finals = [e.text for e in events if isinstance(e, Final)]
    assert finals == ["One two.", "One two.", "Three."]
    assert emu.violations == []


async def test_without_reconnects_a_drop_fails_as_before() -> None:
    async with FireworksEmulator(SCRIPT, api_key=KEY, faults=Faults(drop_after_s=0.5)) as emu:
        session = StreamingSession(FireworksOptions(endpoint=emu.url), KEY, open_connection)
        with pytest.raises(ProviderFailure, match=r"closed the connection before the transcript"):
            await session.run(_noise_source(1.5))
    assert len(emu.connections) == 1


async def test_a_rejected_key_is_not_retried() -> None:
    reconnects = Reconnects()
    async with TogetherEmulator(SCRIPT, api_key="other") as emu:
        session = StreamingSession(
            TogetherOptions(endpoint=emu.url),
            KEY,
            open_connection,
            reconnect_attempts=2,
            on_reconnect=reconnects,
        )
        with pytest.raises(KeyRejectedError):
            await session.run(_noise_source(0.3))
    assert len(emu.connections) == 1
    assert reconnects.calls == []


async def test_a_fatal_provider_error_is_not_retried() -> None:
    faults = Faults(error_at_s=0.2, error_message="quota exceeded")
    async with BasetenEmulator(SCRIPT, api_key=KEY, accept_schema="current", faults=faults) as emu:
        session = StreamingSession(
            BasetenOptions(endpoint=emu.url, schema="current"),
            KEY,
            open_connection,
            reconnect_attempts=2,
        )
        with pytest.raises(ProviderFailure, match="quota exceeded"):
            await session.run(_noise_source(1.0))
    assert len(emu.connections) == 1


class DroppingConnector:
    """Opens real connections that each die (as code 1006) after ``frames`` sent frames."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.opened: list[Dropping] = []

    async def __call__(
        self, request: ConnectRequest, *, provider: str, open_timeout: float
    ) -> Dropping:
        inner = await open_connection(request, provider=provider, open_timeout=open_timeout)
        self.opened.append(Dropping(inner, self.frames))
        return self.opened[-1]


class Dropping:
    """A connection that stops after a number of frames, as if the network went away."""

    def __init__(self, inner: WebSocketConnection, frames: int) -> None:
        self.inner = inner
        self.left = frames
        self.dead = asyncio.Event()
        self.close_code: int | None = None
        self.close_reason = ""

    async def send(self, frame: str | bytes) -> None:
        if self.dead.is_set():
            return
        await self.inner.send(frame)
        self.left -= 1
        if self.left <= 0:
            self.dead.set()

    async def recv(self) -> str | bytes | None:
        receiving = asyncio.ensure_future(self.inner.recv())
        dying = asyncio.ensure_future(self.dead.wait())
        await asyncio.wait({receiving, dying}, return_when=asyncio.FIRST_COMPLETED)
        dying.cancel()
        if receiving.done() and not self.dead.is_set():
            return receiving.result()
        receiving.cancel()
        await self.inner.close()
        self.close_code, self.close_reason = 1006, "connection lost"
        return None

    async def close(self) -> None:
        await self.inner.close()


async def test_gives_up_after_the_last_attempt() -> None:
    reconnects = Reconnects()
    connector = DroppingConnector(frames=5)
    async with FireworksEmulator(SCRIPT, api_key=KEY) as emu:
        session = StreamingSession(
            FireworksOptions(endpoint=emu.url),
            KEY,
            connector,
            reconnect_attempts=2,
            on_reconnect=reconnects,
        )
        with pytest.raises(ProviderFailure, match=r"closed the connection .*code 1006"):
            await session.run(_noise_source(2.0))
    assert len(connector.opened) == len(emu.connections) == 3  # the first, then two more
    assert [attempt for attempt, _ in reconnects.calls] == [1, 2]


async def test_too_long_a_session_keeps_no_audio_and_is_not_reconnected() -> None:
    reconnects = Reconnects()
    async with FireworksEmulator(SCRIPT, api_key=KEY, faults=Faults(drop_after_s=0.5)) as emu:
        session = StreamingSession(
            FireworksOptions(endpoint=emu.url),
            KEY,
            open_connection,
            reconnect_attempts=1,
            on_reconnect=reconnects,
            max_replay_s=0.2,
        )
        with pytest.raises(ProviderFailure, match=r"closed the connection"):
            await session.run(_noise_source(1.5))
    assert len(emu.connections) == 1
    assert reconnects.calls == []
