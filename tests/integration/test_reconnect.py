"""Reconnects: a connection lost before the flush was confirmed is replaced, and the whole
audio is sent again on the new one (push-to-talk), over real loopback WebSockets."""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

from app.adapters.ws_transport import WebSocketConnection, open_connection
from app.core.errors import KeyRejectedError, ProviderFailure
from app.core.events import Event, Final
from app.core.options import BasetenOptions, FireworksOptions, TogetherOptions
from app.core.providers.base import ConnectRequest
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


async def test_a_dropped_connection_is_replaced_and_all_audio_resent() -> None:
    events: list[Event] = []
    reconnects = Reconnects()
    async with FireworksEmulator(SCRIPT, api_key=KEY, faults=Faults(drop_after_s=0.5)) as emu:
        session = StreamingSession(
            FireworksOptions(endpoint=emu.url),
            KEY,
            open_connection,
            on_event=events.append,
            reconnect_attempts=1,
            on_reconnect=reconnects,
        )
        result = await session.run(_noise_source(1.5))
    assert emu.drop_fired
    assert len(emu.connections) == 2
    assert emu.connections[0].close_code == 1006  # aborted after 0.5 s of audio
    # The new connection got the whole audio from the first sample, and the result counts it.
    assert emu.connections[1].samples_received == 24000 == result.samples_sent
    # Complete and not duplicated: the final of the lost connection was dropped.
    assert result.transcript.text == "One two. Three."
    assert reconnects.calls == [
        (1, "Fireworks closed the connection before the transcript was complete "
            "(code 1006 (connection lost)).")
    ]  # fmt: skip
    # The events of both connections reached on_event (a display clears on on_reconnect).
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
