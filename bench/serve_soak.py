"""``hark serve`` soaked in abuse for a few minutes: does it keep serving, and stay flat?

    .venv/bin/python -m bench.serve_soak [--seconds 120] [--baseline] [--model PATH]

Starts ``hark serve`` as a subprocess (the scripted tiny model the tests build, offline,
unless ``--model`` names a model folder) and runs against it, all at once: valid
sessions (two as fast as they go, one at real time), clients that connect and send
nothing, clients that trickle audio, clients that stop reading, garbage (bad metadata,
oversized frames, junk control messages) and bursts of connections dropped at every
stage. Every ~10 s it prints the valid sessions served, the abusive clients turned
away as they should be, the errors (a valid session refused, failed or wrong; an
abusive one not closed; anything raised) and the server's RSS, threads and open
files. At the end: whether RSS stayed flat over the second half of the run.

``--baseline`` first runs the valid clients alone for as long, for comparison.
The run is bounded (``--seconds`` at most 1800); it is not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import websockets

from tests import baseten_docs_client as docs
from tests.helpers import ROOT, hark_env
from tests.local_model import SCRIPTED_TEXT, build_tiny_model
from tests.raw_websocket import RawClient
from tests.synthetic_speech import silence, speechlike, to_pcm16

IDLE_TIMEOUT_S = 2.0  # the server's --idle-timeout: short, so silent clients cycle
FLAT_MB = 5.0  # growth over the second half below this is "flat" (allocator noise)
MAX_SESSIONS = 8  # room for the valid clients beside the abusive ones that hold a slot
META = json.dumps(docs.METADATA)
SPEECH = to_pcm16(np.concatenate([speechlike(1.0), silence(0.6), speechlike(0.8)]))
GARBAGE: list[str | bytes] = [
    "[" * 30_000 + "]" * 30_000,
    '{"streaming_params": {"sample_rate": "16000"}}',
    '{"streaming_vad_config": {"min_silence_duration_ms": 1e999}}',
    '{"whisper_params": {"prompt": "x"',
    json.dumps({f"key{i}": i for i in range(2000)}),
    b"\0\1" * 512,
    "x" * 70_000,
]


@dataclass
class Tally:
    """What happened, by kind; ``errors`` lists what should not have."""

    counts: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def error(self, what: str) -> None:
        self.errors[what] += 1


def proc_status(pid: int) -> tuple[float, int, int]:
    """The process's RSS (MB), threads and open file descriptors, from /proc."""
    rss, threads = float("nan"), -1
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss, threads, len(os.listdir(f"/proc/{pid}/fd"))


async def recv_until_closed(ws: websockets.ClientConnection, limit_s: float) -> list[str]:
    received: list[str] = []
    async with asyncio.timeout(limit_s):
        with contextlib.suppress(websockets.ConnectionClosed):
            while True:
                message = await ws.recv()
                received.append(message if isinstance(message, str) else "<binary>")
    return received


def is_error(message: str, *, says: str = "") -> bool:
    body = json.loads(message).get("body") or {}
    return body.get("recoverable") is False and says in str(body.get("message"))


# -- the clients -----------------------------------------------------------------------


async def valid(url: str, tally: Tally, *, realtime: bool, scripted: bool) -> None:
    try:
        outcome = await docs.stream(url, SPEECH, realtime=realtime, timeout_s=60)
    except websockets.ConnectionClosed as exc:
        if exc.rcvd is None or exc.rcvd.code != 1013:
            raise
        tally.counts["busy"] += 1
        return
    texts = [m["transcript"] for m in outcome.finals]
    if outcome.errors and is_error(json.dumps(outcome.errors[-1]), says="Server busy"):
        tally.counts["busy"] += 1  # the server at its limit: an answer, not a failure
    elif outcome.errors or outcome.end_audio_statuses != ["acknowledged", "finished"]:
        tally.error("valid: failed")
    elif scripted and texts != [SCRIPTED_TEXT.strip()] * 2:
        tally.error("valid: wrong text")
    else:
        tally.counts["served" if not realtime else "served (real time)"] += 1


async def silent(url: str, tally: Tally) -> None:
    async with websockets.connect(url) as ws:
        received = await recv_until_closed(ws, 30)
    ok = ws.close_code == 1008 and received and is_error(received[-1], says="No audio")
    tally.counts["silent, closed"] += 1 if ok else 0
    if ws.close_code == 1013:
        tally.counts["busy, abusive"] += 1
    elif not ok:
        tally.error(f"silent: {ws.close_code} {received[-1:]}")


async def trickle(url: str, tally: Tally) -> None:
    async with websockets.connect(url) as ws:
        await ws.send(META)

        async def drip() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    await ws.send(to_pcm16(silence(0.032)))
                    await asyncio.sleep(0.3)

        dripping = asyncio.create_task(drip())
        try:
            received = await recv_until_closed(ws, 30)
        finally:
            dripping.cancel()
    if ws.close_code == 1008 and received and is_error(received[-1]):
        tally.counts["trickle, closed"] += 1
    elif ws.close_code == 1013:
        tally.counts["busy, abusive"] += 1
    else:
        tally.error(f"trickle: {ws.close_code} {received[-1:]}")


async def non_reader(url: str, port: int, tally: Tally) -> None:
    """Upgrades on a raw socket, asks for big answers, never reads them."""
    client = await RawClient.connect(url, port)
    if not client.opened:  # told busy and closed with the upgrade's answer
        client.abort()
        tally.counts["busy, abusive"] += 1
        return
    try:
        for text in [META, *[json.dumps({"type": "health_check", "trace_id": "x" * 50_000})] * 400]:
            async with asyncio.timeout(30):
                await client.send_text(text)
    except ConnectionError:
        tally.counts["non-reader, dropped"] += 1
    except TimeoutError:
        tally.error("non-reader: still connected after 30 s")
    else:
        tally.error("non-reader: the server read everything")
    finally:
        client.abort()


async def garbage(url: str, tally: Tally) -> None:
    first = random.choice(GARBAGE)
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(first)
        received = await recv_until_closed(ws, 30)
    if ws.close_code in (1009, 1011) and received and is_error(received[-1]):
        tally.counts["garbage, refused"] += 1
    elif ws.close_code == 1013:
        tally.counts["busy, abusive"] += 1
    else:
        tally.error(f"garbage: {ws.close_code} {received[-1:]}")


async def junk_controls(url: str, tally: Tally, *, scripted: bool) -> None:
    """A valid session with junk control messages in the middle: answered, then served."""
    junk = ["not json", "[1]", '{"type": 7}', '{"type": "nope"}', "[" * 5000 + "]" * 5000]
    async with websockets.connect(url) as ws:
        await ws.send(META)
        await ws.send(SPEECH[: len(SPEECH) // 2])
        for frame in junk:
            await ws.send(frame)
        await ws.send(SPEECH[len(SPEECH) // 2 :])
        await ws.send('{"type": "end_audio"}')
        messages: list[dict[str, Any]] = []
        async with asyncio.timeout(60):
            while not messages or (messages[-1].get("body") or {}).get("status") != "finished":
                messages.append(json.loads(await ws.recv()))
    errors = [m for m in messages if m["type"] == "error"]
    finals = [m for m in messages if m["type"] == "transcription" and m["is_final"]]
    if len(errors) != len(junk) or (scripted and not finals):
        tally.error(f"junk controls: {len(errors)} errors, {len(finals)} finals")
    else:
        tally.counts["junk controls, served"] += 1


async def burst(url: str, port: int, tally: Tally) -> None:
    """20 connections dropped at every stage: 6 TCP only, 6 half an upgrade, 6 just
    upgraded, 2 mid-stream (these take a slot for a moment)."""

    async def tcp_only() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()

    async def half_upgrade() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /environments/production/websocket HTTP/1.1\r\nHost: x\r\n")
        writer.close()

    async def upgraded() -> None:
        ws = await websockets.connect(url)
        await ws.close()

    async def mid_stream() -> None:
        ws = await websockets.connect(url)
        await ws.send(META)
        await ws.send(SPEECH[:8192])
        ws.transport.abort()

    kinds = [tcp_only] * 6 + [half_upgrade] * 6 + [upgraded] * 6 + [mid_stream] * 2
    await asyncio.gather(*(kind() for kind in kinds))
    tally.counts["connects dropped"] += 20


async def forever(
    tally: Tally, what: str, client: Callable[[], Awaitable[None]], pause_s: float
) -> None:
    """Run ``client`` again and again, ``pause_s`` apart; "server busy" is counted apart."""
    while True:
        try:
            await client()
        except asyncio.CancelledError:
            raise
        except websockets.ConnectionClosed as exc:
            if exc.rcvd is not None and exc.rcvd.code == 1013:
                tally.counts["busy, abusive"] += 1  # at its limit: an answer, not a failure
            else:
                tally.error(f"{what}: {exc}"[:120])
        except Exception as exc:  # counted, and the soak goes on
            tally.error(f"{what}: {type(exc).__name__}: {exc}"[:120])
        await asyncio.sleep(pause_s)


# -- the run ---------------------------------------------------------------------------


COLUMNS = [  # title, width, the counter shown
    ("t s", 5, ""),
    ("served", 8, "served"),
    ("rt", 5, "served (real time)"),
    ("busy", 6, "busy"),  # valid clients told "server busy" (at the session limit)
    ("silent", 8, "silent, closed"),
    ("trickle", 9, "trickle, closed"),
    ("no-read", 9, "non-reader, dropped"),
    ("garbage", 9, "garbage, refused"),
    ("junk", 6, "junk controls, served"),
    ("drops", 7, "connects dropped"),
    ("errors", 8, ""),
    ("RSS MB", 8, ""),
    ("thr", 5, ""),
    ("fds", 5, ""),
]


@dataclass
class Phase:
    name: str
    tally: Tally
    rss: list[float]
    seconds: float


async def soak(
    url: str, port: int, pid: int, seconds: float, *, abuse: bool, scripted: bool, every: float
) -> Phase:
    tally = Tally()
    clients: list[tuple[str, Callable[[], Awaitable[None]], float]] = [
        ("valid", lambda: valid(url, tally, realtime=False, scripted=scripted), 0.0),
        ("valid", lambda: valid(url, tally, realtime=False, scripted=scripted), 0.0),
        ("real time", lambda: valid(url, tally, realtime=True, scripted=scripted), 0.0),
    ]
    if abuse:  # each holds a slot at most briefly, or none, so the valid clients have room
        clients += [
            ("silent", lambda: silent(url, tally), 0.0),
            ("silent", lambda: silent(url, tally), 0.0),
            ("trickle", lambda: trickle(url, tally), 0.0),
            ("non-reader", lambda: non_reader(url, port, tally), 0.0),
            ("garbage", lambda: garbage(url, tally), 0.2),
            ("junk", lambda: junk_controls(url, tally, scripted=scripted), 0.0),
            ("burst", lambda: burst(url, port, tally), 1.0),  # 20 connections a second
        ]
    name = "valid clients and abuse" if abuse else "valid clients only (baseline)"
    print(f"\n== {name}, {seconds:g} s ==")
    print("".join(f"{title:>{width}}" for title, width, _ in COLUMNS))
    tasks = [asyncio.create_task(forever(tally, what, c, pause)) for what, c, pause in clients]
    started = time.monotonic()
    rss: list[float] = []
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            await asyncio.sleep(min(every, seconds - elapsed))
            mb, threads, fds = proc_status(pid)
            rss.append(mb)
            values = {
                "t s": f"{time.monotonic() - started:.0f}",
                "errors": str(sum(tally.errors.values())),
                "RSS MB": f"{mb:.1f}",
                "thr": str(threads),
                "fds": str(fds),
            }
            row = [values.get(title) or str(tally.counts[key]) for title, _, key in COLUMNS]
            print("".join(f"{v:>{w}}" for v, (_, w, _) in zip(row, COLUMNS, strict=True)))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return Phase(name, tally, rss, time.monotonic() - started)


def summary(phase: Phase) -> str:
    half = phase.rss[len(phase.rss) // 2 :]
    slope = statistics.linear_regression(range(len(half)), half).slope if len(half) > 2 else 0.0
    growth = half[-1] - half[0] if half else 0.0
    flat = growth < FLAT_MB
    c = phase.tally.counts
    served = c["served"] + c["served (real time)"] + c["junk controls, served"]
    lines = [
        f"{phase.name}: {served} valid sessions served ({served / phase.seconds:.2f}/s), "
        f"{c['busy']} told busy (and {c['busy, abusive']} abusive ones), "
        f"{sum(phase.tally.errors.values())} errors",
        f"  RSS {phase.rss[0]:.1f} MB at the first report, {phase.rss[-1]:.1f} MB at the last; "
        f"second half {growth:+.1f} MB ({slope:+.2f} MB per report): "
        f"{'flat' if flat else 'NOT flat'}",
    ]
    lines += [f"  error: {n} x {what}" for what, n in phase.tally.errors.most_common(8)]
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        scripted = args.model is None
        model = args.model or build_tiny_model(root / "tiny-en")
        log = root / "serve.log"
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "app", "serve", "--port", "0", "--model", str(model),
                "--max-sessions", str(MAX_SESSIONS), "--idle-timeout", str(IDLE_TIMEOUT_S),
                "--cpu-threads", "1", "--device", "cpu",
                stdout=asyncio.subprocess.PIPE, stderr=err, env=hark_env(root), cwd=ROOT,
            )  # fmt: skip
            assert proc.stdout is not None
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), 60)
                match = re.search(rb"ws://\S+", line)
                assert match is not None, line
                url = match.group().decode()
                port = int(url.split(":")[2].split("/")[0])
                print(
                    f"hark serve (pid {proc.pid}): {url}; model {model}; "
                    f"--max-sessions {MAX_SESSIONS} --idle-timeout {IDLE_TIMEOUT_S:g}"
                )
                phases = []
                for abuse in [False, True] if args.baseline else [True]:
                    phase = await soak(
                        url, port, proc.pid, args.seconds,
                        abuse=abuse, scripted=scripted, every=args.every,
                    )  # fmt: skip
                    phases.append(phase)
                alive = proc.returncode is None
            finally:
                if proc.returncode is None:
                    proc.terminate()
                    await asyncio.wait_for(proc.wait(), 30)
        text = log.read_text(errors="replace")
    print()
    for phase in phases:
        print(summary(phase))
    print(f"server: {'alive' if alive else 'DIED'} throughout, exit {proc.returncode}; "
          f"{text.count('Traceback')} tracebacks in its log")  # fmt: skip
    ok = alive and all(not p.tally.errors for p in phases) and "Traceback" not in text
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="per phase (at most 1800)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between reports")
    parser.add_argument("--baseline", action="store_true", help="valid clients alone first")
    parser.add_argument("--model", type=Path, help="a model folder (default: the tiny model)")
    args = parser.parse_args()
    args.seconds = max(10.0, min(args.seconds, 1800.0))
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
