"""Streaming benchmarks: flush latency, release-to-final overhead, CPU per audio minute.

    .venv/bin/python -m bench.streaming [--runs 20]

Prints numbers; asserts nothing (the budgets are in the README's Benchmarks section;
results go in the issue notes). The provider is the Baseten emulator from tests/emulators, which
answers instantly, so every millisecond measured here is Hark's own.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.adapters.ws_transport import open_connection
from app.core.events import Event, Final, FlushAck
from app.core.options import BasetenOptions
from app.core.providers.base import ConnectRequest
from app.engine.pacing import RealtimeSource
from app.engine.session import StreamingSession
from tests.emulators import BasetenEmulator, Faults, Script, Utterance

KEY = "bench-key"


class ToneSource:
    """``seconds`` of 48 kHz stereo noise; records when its last block was delivered."""

    sample_rate = 48000
    channels = 2

    def __init__(self, seconds: float) -> None:
        rng = np.random.default_rng(0)
        self.signal = (rng.standard_normal((int(seconds * 48000), 2)) * 0.1).astype(np.float32)
        self.ended_at = 0.0

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        for i in range(0, len(self.signal), 960):
            yield self.signal[i : i + 960]
        self.ended_at = time.perf_counter()  # "key release": the last block is out


async def _one_run(url: str, seconds: float) -> tuple[float, float, float]:
    """Milliseconds from the end of the audio to: the flush frame sent, the final, the end.

    The end (the session returns its transcript) is when a dictation inserts the text.
    """
    flush_sent = 0.0
    final_at = 0.0

    async def connector(request: ConnectRequest, *, provider: str, open_timeout: float):  # type: ignore[no-untyped-def]
        conn = await open_connection(request, provider=provider, open_timeout=open_timeout)
        send = conn.send

        async def timed_send(frame: str | bytes) -> None:
            nonlocal flush_sent
            await send(frame)
            if isinstance(frame, str) and "end_audio" in frame:
                flush_sent = time.perf_counter()

        conn.send = timed_send  # type: ignore[method-assign]
        return conn

    def on_event(event: Event) -> None:
        nonlocal final_at
        if isinstance(event, Final) and not final_at:
            final_at = time.perf_counter()
        if isinstance(event, FlushAck) and not final_at:
            final_at = time.perf_counter()

    source = ToneSource(seconds)
    session = StreamingSession(
        BasetenOptions(endpoint=url, schema="current"), KEY, connector, on_event=on_event
    )
    await session.run(RealtimeSource(source))
    ended = time.perf_counter()
    return tuple((t - source.ended_at) * 1000 for t in (flush_sent, final_at, ended))  # type: ignore[return-value]


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


async def latency(runs: int) -> None:
    script = Script(
        [Utterance("Benchmark sentence.", partials=[(0.3, "Benchmark")], final_at=None)]
    )
    flush, final, ended = [], [], []
    async with BasetenEmulator(script, api_key=KEY, accept_schema="current") as emu:
        for _ in range(runs):
            f, t, e = await _one_run(emu.url, 1.0)
            flush.append(f)
            final.append(t)
            ended.append(e)
    print(
        f"flush frame sent after end of audio: median {statistics.median(flush):.2f} ms, "
        f"p95 {_pct(flush, 95):.2f} ms, max {max(flush):.2f} ms  (budget 40 ms; n={runs})"
    )
    print(
        f"end of audio -> final received (instant emulator): median "
        f"{statistics.median(final):.2f} ms, p95 {_pct(final, 95):.2f} ms"
    )
    # The same, side by side with a runtime that never answers end_audio (its VAD still
    # ends an utterance after 300 ms of silence).
    ignored_final, ignored_end = [], []
    faults = Faults(no_flush_reply=True)
    async with BasetenEmulator(
        script, api_key=KEY, accept_schema="current", faults=faults, silence_vad=True
    ) as emu:
        for _ in range(runs):
            _, t, e = await _one_run(emu.url, 1.0)
            ignored_final.append(t)
            ignored_end.append(e)
    print("end of audio -> (ms)        final (median/p95)   transcript returned (median/p95)")
    for name, fin, end in (
        ("end_audio answered", final, ended),
        ("end_audio ignored", ignored_final, ignored_end),
    ):
        print(
            f"  {name:<24} {statistics.median(fin):7.1f} / {_pct(fin, 95):7.1f}"
            f"        {statistics.median(end):7.1f} / {_pct(end, 95):7.1f}"
        )
    ratio = statistics.median(ignored_end) / statistics.median(ended)
    print(f"  ignored / answered, transcript returned: {ratio:.1f}x")


class SpokenThenQuiet(ToneSource):
    """0.5 s of noise, then 1.5 s of digital silence (a pause before the key release)."""

    def __init__(self) -> None:
        super().__init__(2.0)
        self.signal[24000:] = 0.0


async def together_empty_commit(runs: int) -> None:
    """Release after a pause: Together's VAD has closed the segment; the commit is empty."""
    from app.core.options import TogetherOptions
    from tests.emulators import TogetherEmulator

    script = Script([Utterance("Spoken.", partials=[(0.3, "Spo")], final_at=1.1)])
    ended = []
    async with TogetherEmulator(script, api_key=KEY) as emu:
        for _ in range(runs):
            source = SpokenThenQuiet()
            session = StreamingSession(
                TogetherOptions(endpoint=emu.url), KEY, open_connection, flush_timeout=5.0
            )
            await session.run(RealtimeSource(source))
            ended.append((time.perf_counter() - source.ended_at) * 1000)
    print(
        "Together, commit with nothing pending: end of audio -> transcript returned "
        f"median {statistics.median(ended):.1f} ms, p95 {_pct(ended, 95):.1f} ms "
        "(the flush timeout is 5 s)"
    )


def _write_wav(path: Path, seconds: float) -> None:
    rng = np.random.default_rng(1)
    pcm = (rng.standard_normal((int(seconds * 48000), 2)) * 3000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(pcm.tobytes())


async def _child_cpu(args: list[str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", *args,
        env={"BASETEN_API_KEY": KEY, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
             "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    await proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


async def cpu_per_minute() -> None:
    script = Script([Utterance("Benchmark sentence.", final_at=None)])
    with tempfile.TemporaryDirectory() as tmp:
        long, short = Path(tmp) / "long.wav", Path(tmp) / "short.wav"
        _write_wav(long, 60.0)
        _write_wav(short, 0.1)
        async with BasetenEmulator(script, api_key=KEY, accept_schema="current") as emu:
            base = ["transcribe", "--provider", "baseten", "--endpoint", emu.url,
                    "--schema", "current", "--fast"]  # fmt: skip
            startup = await _child_cpu([*base[:1], str(short), *base[1:]])
            total = await _child_cpu([*base[:1], str(long), *base[1:]])
    print(
        f"hark transcribe, 60 s of 48 kHz stereo: {total:.2f} CPU-s in all, "
        f"{startup:.2f} CPU-s start-up, {total - startup:.2f} CPU-s per audio minute of "
        "streaming (budget 1.5)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(latency(args.runs))
    asyncio.run(together_empty_commit(min(args.runs, 5)))
    asyncio.run(cpu_per_minute())


if __name__ == "__main__":
    main()
