"""Speech for the local-engine benchmarks, made here with espeak-ng (no downloads).

Sixteen recordings in several voices and speeds: plain sentences, numbers, names, a
question, a long passage, and recordings with and without silence before the speech
(an utterance that starts at once is where word onsets get lost). Each is written as
16 kHz mono WAV with its reference text; :func:`word_error_rate` scores a hypothesis
against it after the usual normalisation (case, punctuation, numbers as words).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16000


@dataclass(frozen=True)
class Recording:
    """One file of the corpus.

    Attributes:
        name: A short id.
        text: What is said (the reference).
        voice: The espeak-ng voice (with variant).
        speed: Words per minute.
        lead_s: Silence before the speech.
        trail_s: Silence after the speech.
    """

    name: str
    text: str
    voice: str = "en-us"
    speed: int = 160
    lead_s: float = 0.3
    trail_s: float = 0.1


CORPUS = (
    Recording("fox", "The quick brown fox jumps over the lazy dog near the river bank."),
    Recording(
        "weather",
        "Tomorrow will be cloudy in the morning, with rain spreading from the west "
        "by the afternoon.",
        voice="en-gb",
        speed=150,
    ),
    Recording(
        "meeting",
        "Please move the budget meeting to Thursday and invite the whole design team.",
        voice="en-us+f3",
        speed=170,
    ),
    Recording(
        "numbers",
        "The order number is 4512 and it ships on the 21st of March for 38 dollars.",
        voice="en-us+m3",
        speed=150,
    ),
    Recording(
        "names",
        "Maria and Jonathan flew from Chicago to Berlin to visit their friend Samuel.",
        voice="en-gb-x-rp",
        speed=155,
    ),
    Recording(
        "question",
        "Could you send me the latest version of the report before lunch?",
        voice="en-us+f2",
        speed=165,
    ),
    Recording(
        "fishermen",
        "Fishermen check their nets, and the bakery opens its doors at five.",
        voice="en-us",
        speed=165,
        lead_s=0.0,
    ),
    Recording(
        "library",
        "The library closes early on Sundays, so return your books by noon.",
        voice="en-gb-scotland",
        speed=150,
        lead_s=0.03,
    ),
    Recording(
        "garden",
        "My grandmother grows tomatoes, peppers and beans in her small garden every summer.",
        voice="en-us+m5",
        speed=145,
    ),
    Recording(
        "train",
        "The next train to the airport leaves from platform seven in ten minutes.",
        voice="en-029",
        speed=160,
    ),
    Recording(
        "email",
        "I will reply to your email as soon as I get back to the office on Monday.",
        voice="en-us+f4",
        speed=180,
        lead_s=1.0,
    ),
    Recording(
        "fast",
        "We need to finish the presentation tonight because the client arrives early tomorrow.",
        voice="en-us",
        speed=200,
    ),
    Recording(
        "slow",
        "Turn left at the second traffic light and park behind the blue building.",
        voice="en-gb",
        speed=125,
    ),
    Recording(
        "short",
        "Thanks, that sounds good.",
        voice="en-us+m2",
        speed=160,
    ),
    Recording(
        "trailing",
        "Remember to water the plants while I am away this week.",
        voice="en-us+f1",
        speed=160,
        trail_s=1.0,
    ),
    Recording(
        "passage",
        "Every morning the old lighthouse keeper climbed the narrow stairs to check the "
        "lamp. He wiped the glass, wrote the weather in his notebook and watched the "
        "fishing boats leave the harbour. In the evening he lit the lamp again and listened "
        "to the radio until the last boat came home safely. He had done this for forty "
        "years, and he never once missed a night.",
        voice="en-gb-x-rp",
        speed=160,
    ),
)


def have_espeak() -> bool:
    """True when espeak-ng and sox are on PATH."""
    return bool(shutil.which("espeak-ng") and shutil.which("sox"))


def synthesise(recording: Recording, folder: Path) -> Path:
    """Write ``recording`` as 16 kHz mono WAV in ``folder`` (cached by name)."""
    out = folder / f"{recording.name}.wav"
    if out.exists():
        return out
    raw = folder / f"{recording.name}.raw.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            recording.voice,
            "-s",
            str(recording.speed),
            "-w",
            str(raw),
            recording.text,
        ],
        check=True,
    )
    subprocess.run(
        [
            *("sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out)),
            "pad",
            str(recording.lead_s),
            str(recording.trail_s),
        ],
        check=True,
    )
    raw.unlink()
    return out


def read_wav(path: Path) -> np.ndarray:
    """A 16 kHz mono 16-bit WAV as float32 samples."""
    with wave.open(str(path)) as w:
        if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16 kHz mono 16-bit")
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, np.int16).astype(np.float32) / 32768.0


def speech_bounds(samples: np.ndarray, threshold: float = 0.01) -> tuple[float, float]:
    """Seconds where the speech starts and ends (first and last sample above ``threshold``)."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if not len(loud):
        return 0.0, 0.0
    return loud[0] / RATE, (loud[-1] + 1) / RATE


_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINALS = {"1st": "first", "2nd": "second", "3rd": "third", "21st": "twenty first"}


def _number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + (" " + _number_words(rest) if rest else "")
    rest = n % 1000
    return _number_words(n // 1000) + " thousand" + (" " + _number_words(rest) if rest else "")


def normalise(text: str) -> list[str]:
    """Words for scoring: lower case, no punctuation, digits spelled out ("38" -> thirty eight).

    A number said as digits ("forty five twelve") and written as one ("4512") still
    differ; the corpus avoids such numbers where it matters.
    """
    text = re.sub(r"\$(\d+)(?:\.00)?", r"\1 dollars", text.lower()).replace("%", " percent ")
    text = re.sub(r"(\d),(\d)", r"\1\2", text)
    words: list[str] = []
    for token in re.findall(r"[a-z0-9']+", text):
        token = token.strip("'")
        if token in _ORDINALS:
            words.extend(_ORDINALS[token].split())
        elif token.isdigit():
            words.extend(_number_words(int(token)).split())
        elif re.fullmatch(r"\d+(st|nd|rd|th)", token):
            words.extend(_number_words(int(token[:-2])).split())
            words[-1] = words[-1] + "th"
        elif token:
            words.append(token)
    return words


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def word_error_rate(pairs: list[tuple[str, str]]) -> float:
    """Corpus WER of (reference, hypothesis) pairs: total edits over total reference words."""
    edits = words = 0
    for ref, hyp in pairs:
        r = normalise(ref)
        edits += edit_distance(r, normalise(hyp))
        words += len(r)
    return edits / words if words else 0.0
