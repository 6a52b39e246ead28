"""Committing the settled start of an utterance: agreement, pauses, hold-back, repeats."""

from __future__ import annotations

import pytest

from app.core.agreement import (
    Agreement,
    drop_after,
    drop_repeated_start,
    has_words,
    word_key,
)
from app.core.local_types import TranscribedSegment, TranscriptionResult, WordTiming


def _words(*spec: tuple[str, float, float]) -> list[WordTiming]:
    return [WordTiming(w, a, b, 0.9) for w, a, b in spec]


FIRST = _words((" Turn", 0.4, 0.7), (" left,", 0.7, 1.1), (" then", 1.5, 1.8), (" park", 1.8, 2.2))


def test_words_compare_without_case_and_punctuation() -> None:
    assert word_key(" Left,") == word_key("left") == "left"
    assert word_key(" don't") == "don't"
    assert has_words(" 5.")
    assert not has_words(" . , ?")


def test_nothing_is_committed_from_a_single_pass() -> None:
    agreement = Agreement(holdback_s=0.5)
    assert agreement.update(FIRST, offset_s=0, heard_s=6.0, pauses=[(1.1, 1.5)]) == 0
    assert agreement.cut_s == 0
    assert agreement.hypothesis_text == "Turn left, then park"


def test_two_agreeing_passes_commit_up_to_a_pause() -> None:
    agreement = Agreement(holdback_s=0.5)
    agreement.update(FIRST, offset_s=0, heard_s=3.0, pauses=[(1.1, 1.5)])
    second = [*FIRST[:3], WordTiming(" parks", 1.8, 2.3, 0.9)]
    assert agreement.update(second, offset_s=0, heard_s=3.5, pauses=[(1.1, 1.5)]) == 2
    assert agreement.committed_text == " Turn left,"
    assert agreement.cut_s == 1.3  # the middle of the pause
    assert agreement.hypothesis_text == "Turn left, then parks"


def test_no_cut_without_a_pause_even_when_passes_agree() -> None:
    # Fluent speech: the word times alone are not trusted to cut between words.
    agreement = Agreement(holdback_s=0.5)
    agreement.update(FIRST, offset_s=0, heard_s=3.0)
    assert agreement.update(FIRST, offset_s=0, heard_s=3.5) == 0
    assert agreement.cut_s == 0


def test_a_pause_too_close_to_the_edge_waits() -> None:
    agreement = Agreement(holdback_s=2.5)
    agreement.update(FIRST, offset_s=0, heard_s=3.0, pauses=[(1.1, 1.5)])
    assert agreement.update(FIRST, offset_s=0, heard_s=3.5, pauses=[(1.1, 1.5)]) == 0
    assert agreement.update(FIRST, offset_s=0, heard_s=4.0, pauses=[(1.1, 1.5)]) == 2


def test_a_pause_inside_a_word_is_not_a_cut() -> None:
    # The pause lies in the middle of " left," (0.7-1.1 s): cutting there would split it.
    agreement = Agreement(holdback_s=0.5)
    for heard in (3.0, 3.5):
        agreement.update(FIRST, offset_s=0, heard_s=heard, pauses=[(0.8, 0.95)])
    assert agreement.committed == []


def test_disagreement_stops_the_commit() -> None:
    agreement = Agreement(holdback_s=0.5)
    agreement.update(FIRST, offset_s=0, heard_s=3.0, pauses=[(1.1, 1.5)])
    other = _words((" Turn", 0.4, 0.7), (" lift,", 0.7, 1.1), (" then", 1.5, 1.8))
    assert agreement.update(other, offset_s=0, heard_s=3.5, pauses=[(1.1, 1.5)]) == 0


def test_later_passes_start_at_the_cut_and_repeats_are_dropped() -> None:
    agreement = Agreement(holdback_s=0.5)
    agreement.update(FIRST, offset_s=0, heard_s=3.0, pauses=[(1.1, 1.5)])
    agreement.update(FIRST, offset_s=0, heard_s=3.5, pauses=[(1.1, 1.5)])  # "Turn left,"
    pauses = [(1.1, 1.5), (2.2, 2.6)]
    # The next pass hears from 1.3 s; it repeats "left," from the edge of the cut.
    tail = _words(
        (" left,", 0.0, 0.1), (" then", 0.2, 0.5), (" park", 0.5, 0.9), (" here", 1.3, 1.6)
    )
    assert agreement.update(tail, offset_s=1.3, heard_s=4.0, pauses=pauses) == 2
    assert agreement.committed_text == " Turn left, then park"
    assert agreement.cut_s == pytest.approx(2.4)
    assert [w.start for w in agreement.committed[2:]] == [1.5, 1.8]  # utterance time


def test_finish_joins_committed_words_and_the_decoded_tail() -> None:
    agreement = Agreement(holdback_s=0.5)
    agreement.update(FIRST, offset_s=0, heard_s=3.0, pauses=[(1.1, 1.5)])
    agreement.update(FIRST, offset_s=0, heard_s=3.5, pauses=[(1.1, 1.5)])
    tail = TranscriptionResult.of(
        (TranscribedSegment(0.0, 1.0, " left, then park here."),), "en", 0.99
    )
    final = agreement.finish(tail, offset_s=1.3)
    assert final.text == "Turn left, then park here."
    assert [(s.start, s.end) for s in final.segments] == [(0.4, 1.1), (1.3, 2.3)]
    assert final.language == "en"


def test_finish_without_commits_is_the_tail_itself() -> None:
    tail = TranscriptionResult.of((TranscribedSegment(0.0, 1.0, " Hello."),), "en", 1.0)
    assert Agreement().finish(tail, offset_s=0.0) == tail


def test_pending_words_become_the_final_when_nothing_was_said_since() -> None:
    agreement = Agreement(holdback_s=0.5)
    last = TranscriptionResult.of((TranscribedSegment(0.4, 2.2, "", tuple(FIRST)),), "en", 1.0)
    agreement.update(FIRST, offset_s=0, heard_s=3.0, pauses=[(1.1, 1.5)])
    agreement.update(FIRST, offset_s=0, heard_s=3.5, pauses=[(1.1, 1.5)])
    final = agreement.finish(agreement.pending_result(last), offset_s=0.0)
    assert final.text == "Turn left, then park"
    assert [w.word for s in final.segments for w in s.words] == [w.word for w in FIRST]


def test_repeats_longest_first() -> None:
    assert drop_repeated_start([" over", " the"], [" the", " lazy"]) == 1
    assert drop_repeated_start([" over", " the"], [" over", " the", " lazy"]) == 2
    assert drop_repeated_start([" over", " the"], [" lazy", " dog"]) == 0
    assert drop_repeated_start([], [" the"]) == 0


def test_text_after_the_end_of_speech_is_dropped() -> None:
    result = TranscriptionResult.of(
        (
            TranscribedSegment(0.0, 2.0, " He never missed a night.", _words_tuple()),
            TranscribedSegment(2.6, 3.0, " He had"),
        ),
        "en",
        1.0,
    )
    kept = drop_after(result, 2.3)
    assert kept.text == "He never missed a night."
    assert drop_after(result, 5.0) is result


def test_words_after_the_end_of_speech_are_dropped_inside_a_segment() -> None:
    words = (*_words_tuple(), WordTiming(" He", 2.5, 2.7, 0.3))
    result = TranscriptionResult.of(
        (TranscribedSegment(0.0, 2.7, " He never missed a night. He", words),), "en", 1.0
    )
    assert drop_after(result, 2.3).text == "He never missed a night."


def _words_tuple() -> tuple[WordTiming, ...]:
    return tuple(
        _words(
            (" He", 0.0, 0.3),
            (" never", 0.3, 0.7),
            (" missed", 0.7, 1.1),
            (" a", 1.1, 1.2),
            (" night.", 1.2, 2.0),
        )
    )
