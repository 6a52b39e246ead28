"""The session engine in-process against the emulators, over real loopback WebSockets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from app.adapters.state import FileSchemaMemory
from app.adapters.ws_transport import open_connection
from app.core.errors import KeyRejectedError, ProviderFailure, SessionTimeout
from app.core.events import Event, Final, FlushAck, Partial, SessionEnded
from app.core.options import BasetenOptions, FireworksOptions, TogetherOptions
from app.engine.pacing import RealtimeSource
from app.engine.session import StreamingSession
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


def noise(seconds: float, rate: int = 16000) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(7)
    return (rng.standard_normal(int(seconds * rate)) * 0.1).astype(np.float32)


SCRIPT = Script([Utterance("One two.", partials=[(0.2, "One")], final_at=0.5),
                 Utterance("Three.", final_at=None)])  # fmt: skip


async def test_connect_delay_loses_no_audio() -> None:
    """Audio produced while the handshake takes 1 s is queued and sent, not dropped."""
    events: list[Event] = []
    faults = Faults(connect_delay_s=1.0)
    async with FireworksEmulator(SCRIPT, api_key=KEY, faults=faults) as emu:
        session = StreamingSession(
            FireworksOptions(endpoint=emu.url), KEY, open_connection, on_event=events.append
        )
        source = RealtimeSource(ArraySource(noise(1.5), 16000))
        result = await session.run(source)
    assert emu.total_samples == 24000 == result.samples_sent
    assert result.transcript.text == "One two. Three."
    assert any(isinstance(e, Partial) for e in events)
    kinds = [type(e) for e in events]
    assert kinds[-2:] == [FlushAck, SessionEnded]  # confirmed, then closed by us
    assert events[-1] == SessionEnded("client_close", 1000, "")
    assert kinds.index(Final) < kinds.index(FlushAck)


async def test_audio_is_sent_without_compression() -> None:
    """No permessage-deflate offered: deflating PCM costs CPU on every frame for little."""
    async with BasetenEmulator(SCRIPT, api_key=KEY) as emu:
        session = StreamingSession(BasetenOptions(endpoint=emu.url), KEY, open_connection)
        await session.run(ArraySource(noise(0.5), 16000))
    (record,) = emu.connections
    assert record.status == 101
    assert "Sec-WebSocket-Extensions" not in record.headers


async def test_schema_fallback_replays_audio_and_is_remembered(tmp_path: Path) -> None:
    memory = FileSchemaMemory(tmp_path / "schemas.json")
    async with BasetenEmulator(SCRIPT, api_key=KEY, accept_schema="legacy") as emu:
        options = BasetenOptions(endpoint=emu.url)
        session = StreamingSession(options, KEY, open_connection, schema_memory=memory)
        result = await session.run(ArraySource(noise(1.0, 48000), 48000))
        assert result.schema == "legacy"
        assert result.transcript.text == "One two. Three."
        # The legacy connection received every sample: the replay lost nothing.
        assert emu.connections[1].samples_received >= 16000
        assert memory.get(emu.url) == "legacy"
        again = await StreamingSession(options, KEY, open_connection, schema_memory=memory).run(
            ArraySource(noise(0.5), 16000)
        )
    assert again.schema == "legacy"
    assert len(emu.connections) == 3  # current (rejected), legacy, legacy


async def test_schema_rejected_both_ways_is_one_clear_error() -> None:
    async with BasetenEmulator(SCRIPT, api_key=KEY, accept_schema="none") as emu:
        session = StreamingSession(BasetenOptions(endpoint=emu.url), KEY, open_connection)
        with pytest.raises(ProviderFailure, match=r"rejected the session settings with the "
                           r"current schema and the legacy schema"):  # fmt: skip
            await session.run(ArraySource(noise(0.3), 16000))
    assert len(emu.connections) == 2


async def test_key_rejected_names_the_provider() -> None:
    async with TogetherEmulator(SCRIPT, api_key="other") as emu:
        session = StreamingSession(TogetherOptions(endpoint=emu.url), KEY, open_connection)
        with pytest.raises(
            KeyRejectedError, match=r"^Together AI rejected the API key \(HTTP 401\)"
        ):
            await session.run(ArraySource(noise(0.3), 16000))


async def test_handshake_timeout() -> None:
    async with TogetherEmulator(SCRIPT, api_key=KEY, faults=Faults(connect_delay_s=3)) as emu:
        session = StreamingSession(
            TogetherOptions(endpoint=emu.url), KEY, open_connection, connect_timeout=0.5
        )
        with pytest.raises(SessionTimeout, match=r"did not answer within 0.5 s"):
            await session.run(ArraySource(noise(0.3), 16000))


async def test_together_without_pending_audio_needs_no_confirmation() -> None:
    """A commit with nothing left to transcribe gets no `completed`: the session still ends."""
    script = Script([Utterance("Only one.", final_at=0.3)])
    async with TogetherEmulator(script, api_key=KEY) as emu:
        session = StreamingSession(
            TogetherOptions(endpoint=emu.url), KEY, open_connection, flush_timeout=0.5
        )
        result = await session.run(ArraySource(noise(0.6), 16000))
    assert result.transcript.text == "Only one."
    assert result.flush_confirmed is False


async def test_baseten_runtime_ignoring_end_audio_still_ends_at_once() -> None:
    """The trailing silence ends the utterance by the server's VAD: no flush timeout spent.

    The flush timeout is far above the wait, so only the settle rule can end it in time.
    """
    script = Script([Utterance("One two.", partials=[(0.2, "One")], final_at=0.5),
                     Utterance("Three.", partials=[(0.8, "Three")], final_at=None)])  # fmt: skip
    faults = Faults(no_flush_reply=True)
    async with BasetenEmulator(
        script, api_key=KEY, accept_schema="current", faults=faults, silence_vad=True
    ) as emu:
        session = StreamingSession(
            BasetenOptions(endpoint=emu.url), KEY, open_connection, flush_timeout=60.0
        )
        result = await asyncio.wait_for(session.run(ArraySource(noise(1.0), 16000)), 20.0)
    [record] = emu.connections
    assert record.flush_requested
    assert not record.flush_done
    assert result.transcript.text == "One two. Three."
    assert result.flush_confirmed


async def test_baseten_without_end_audio_reply_or_vad_still_times_out() -> None:
    """Without a final that proves the end, a partial left open keeps waiting for the reply."""
    script = Script([Utterance("Three.", partials=[(0.2, "Three")], final_at=None)])
    async with BasetenEmulator(
        script, api_key=KEY, accept_schema="current", faults=Faults(no_flush_reply=True)
    ) as emu:
        session = StreamingSession(
            BasetenOptions(endpoint=emu.url), KEY, open_connection, flush_timeout=0.5
        )
        with pytest.raises(SessionTimeout, match="did not confirm the end of the audio"):
            await session.run(ArraySource(noise(0.5), 16000))


async def test_together_commit_with_nothing_pending_ends_at_once() -> None:
    """Speech, then more than the VAD's silence: its segment was closed before the commit.

    The flush timeout is far above the wait, so only the settle rule can end it in time.
    """
    script = Script([Utterance("Only one.", partials=[(0.3, "Only")], final_at=1.1)])
    audio = np.concatenate([noise(0.5), np.zeros(round(1.5 * 16000), np.float32)])
    async with TogetherEmulator(script, api_key=KEY) as emu:
        session = StreamingSession(
            TogetherOptions(endpoint=emu.url), KEY, open_connection, flush_timeout=60.0
        )
        result = await asyncio.wait_for(session.run(ArraySource(audio, 16000)), 20.0)
    assert emu.connections[0].flush_requested
    assert result.transcript.text == "Only one."
    assert result.flush_confirmed


async def test_fatal_error_frame() -> None:
    faults = Faults(error_at_s=0.2, error_message="quota exceeded")
    async with BasetenEmulator(SCRIPT, api_key=KEY, accept_schema="current", faults=faults) as emu:
        session = StreamingSession(BasetenOptions(endpoint=emu.url), KEY, open_connection)
        with pytest.raises(ProviderFailure, match="quota exceeded"):
            await session.run(ArraySource(noise(1.0), 16000))
