"""Utterance segmentation from per-window speech probabilities (the local engine's VAD rules)."""

from __future__ import annotations

import numpy as np

from app.core.endpointing import WINDOW, Chunk, Endpointer

RATE = 16000


def _feed(ep: Endpointer, probs: list[float]) -> list[tuple[int, Chunk]]:
    """Feed windows whose samples are their index (to check which audio a chunk holds)."""
    out = []
    for i, p in enumerate(probs):
        window = np.full(WINDOW, i, np.float32)
        out += [(i, c) for c in ep.push(window, p)]
    return out


def _endpointer(**kwargs: float | None) -> Endpointer:
    args: dict[str, float | None] = {
        "threshold": 0.5,
        "min_silence_ms": 4 * 32,
        "speech_pad_ms": 0,
        "max_duration_s": 30.0,
        "partial_interval_s": None,
    }
    args.update(kwargs)
    return Endpointer(**args)  # type: ignore[arg-type]


def test_silence_produces_nothing() -> None:
    ep = _endpointer(partial_interval_s=0.1)
    assert _feed(ep, [0.1] * 100) == []
    assert ep.flush() is None


def test_speech_then_silence_gives_one_vad_final() -> None:
    ep = _endpointer()
    probs = [0.0] * 3 + [0.9] * 5 + [0.1] * 6
    [(at, chunk)] = _feed(ep, probs)
    # Silero counts the silence from the end of the first silent window: 4 more (128 ms).
    assert at == 3 + 5 + 4
    assert chunk.reason == "vad"
    assert chunk.final
    assert chunk.start == 3 * WINDOW / RATE
    # Silero's end: the first silent window's start plus the pad (0): the speech only.
    assert set(np.unique(chunk.audio)) == {3, 4, 5, 6, 7}
    assert not ep.in_speech


def test_padding_keeps_audio_around_speech() -> None:
    ep = _endpointer(speech_pad_ms=64)  # two windows
    [(_, chunk)] = _feed(ep, [0.0] * 5 + [0.9] * 2 + [0.0] * 6)
    assert set(np.unique(chunk.audio)) == {3, 4, 5, 6, 7, 8}
    assert chunk.start == 3 * WINDOW / RATE


def test_hysteresis_keeps_speech_going_between_thresholds() -> None:
    ep = _endpointer()
    assert _feed(ep, [0.9] + [0.4] * 20) == []  # 0.4 >= 0.5 - 0.15: not silence
    assert ep.in_speech


def test_first_partial_early_then_every_interval_of_buffered_audio() -> None:
    ep = _endpointer(partial_interval_s=4 * WINDOW / RATE, first_partial_s=2 * WINDOW / RATE)
    got = _feed(ep, [0.9] * 13)
    assert [(i, c.reason, len(c.audio) // WINDOW) for i, c in got] == [
        (1, "partial", 2),
        (5, "partial", 6),
        (9, "partial", 10),
    ]
    assert [c.speech_end for _, c in got] == [len(c.audio) / RATE for _, c in got]


def test_no_partial_without_new_speech() -> None:
    # Speech, then a pause shorter than the endpoint's silence: the pause offers nothing,
    # so no pass is spent on it and none can stand in the way of the final.
    ep = _endpointer(
        partial_interval_s=2 * WINDOW / RATE, first_partial_s=WINDOW / RATE, min_silence_ms=20 * 32
    )
    got = _feed(ep, [0.9] * 4 + [0.0] * 12 + [0.9] * 3)
    assert [i for i, c in got if c.reason == "partial"] == [0, 2, 4, 16, 18]


def test_speech_end_marks_the_last_speech_window() -> None:
    ep = _endpointer(speech_pad_ms=64)
    [(_, chunk)] = _feed(ep, [0.0] * 5 + [0.9] * 3 + [0.0] * 6)
    # Two windows of padding, three of speech: the speech ends five windows in.
    assert chunk.speech_end == 5 * WINDOW / RATE
    assert chunk.duration == 7 * WINDOW / RATE


def test_max_duration_forces_a_final_and_goes_on() -> None:
    ep = _endpointer(max_duration_s=5 * WINDOW / RATE)
    got = _feed(ep, [0.9] * 12)
    assert [(i, c.reason, len(c.audio) // WINDOW) for i, c in got] == [
        (4, "max_duration", 5),
        (9, "max_duration", 5),
    ]
    assert got[1][1].start == 5 * WINDOW / RATE
    assert ep.in_speech
    flushed = ep.flush(np.ones(100, np.float32))
    assert flushed is not None
    assert flushed.reason == "flush"
    assert len(flushed.audio) == 2 * WINDOW + 100


def test_a_silent_tail_after_a_forced_final_is_dropped() -> None:
    ep = _endpointer(max_duration_s=5 * WINDOW / RATE)
    got = _feed(ep, [0.9] * 5 + [0.1] * 10)
    assert [c.reason for _, c in got] == ["max_duration"]


def test_flush_only_while_in_speech() -> None:
    ep = _endpointer()
    _feed(ep, [0.9] * 3)
    chunk = ep.flush()
    assert chunk is not None
    assert chunk.reason == "flush"
    assert ep.flush() is None
