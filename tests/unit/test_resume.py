"""The resume point of a lost connection: the watermark, kept finals, shifted events."""

from __future__ import annotations

from app.core.events import Final, FlushAck, Partial, Segment, Word
from app.core.resume import ConnectionTrack, end_time


def final(utterance: str, text: str, start: float | None, end: float | None) -> Final:
    return Final(utterance, text, (Segment(text, start, end),))


def test_end_time_reads_segments_and_words() -> None:
    assert end_time(Final("u1", "x")) is None
    assert end_time(final("u1", "x", 0.1, 0.9)) == 0.9
    words = (Word("a", 0.1, 0.5), Word("b", 0.6, 1.4))
    assert end_time(Final("u1", "a b", (Segment("a b", 0.1, 1.2, words),))) == 1.4
    assert end_time(Final("u1", "a b", words=words)) == 1.4


def test_the_watermark_follows_finals_while_nothing_else_is_open() -> None:
    track = ConnectionTrack()
    track.translate(Partial("u1", "One"))
    assert track.watermark_s == 0.0
    one = track.translate(final("u1", "One two.", 0.0, 0.3))
    assert track.watermark_s == 0.3
    assert track.kept == [one]
    track.translate(Partial("u2", "Three"))
    assert track.watermark_s == 0.3  # open: its audio must be sent again


def test_a_final_while_another_utterance_is_open_does_not_move_it() -> None:
    """Fireworks can finalise a later segment first: the earlier one's audio must stay."""
    track = ConnectionTrack()
    track.translate(Partial("s0", "one"))
    track.translate(Partial("s1", "two"))
    track.translate(final("s1", "two", 0.5, 0.9))
    assert (track.watermark_s, track.kept) == (0.0, [])
    track.translate(final("s0", "one", 0.0, 0.4))
    assert track.watermark_s == 0.9
    assert [f.text for f in track.kept] == ["two", "one"]


def test_an_untimed_final_stops_the_watermark_for_good() -> None:
    track = ConnectionTrack()
    track.translate(final("u1", "a", 0.0, 0.3))
    track.translate(Final("item_1", "b"))  # Together: no times
    track.translate(final("u3", "c", 0.5, 0.9))
    assert track.watermark_s == 0.3
    assert [f.text for f in track.kept] == ["a"]


def test_a_resumed_connection_speaks_session_time_with_ids_of_its_own() -> None:
    earlier = [final("u1", "One two.", 0.0, 0.3)]
    track = ConnectionTrack(0.3, "r1.", earlier)
    partial = track.translate(
        Partial("u1", "Th", (Segment("Th", 0.0, 0.1),), (Word("Th", 0.0, 0.1),))
    )
    assert partial == Partial("r1.u1", "Th", (Segment("Th", 0.3, 0.4),), (Word("Th", 0.3, 0.4),))
    three = track.translate(final("u1", "Three.", 0.1, 0.5))
    assert three.utterance == "r1.u1"
    assert three.segments[0].start == 0.4
    assert track.watermark_s == 0.8
    assert track.kept == [*earlier, three]
    assert track.translate(FlushAck()) == FlushAck()  # other events pass through
