"""Transcript assembly and the spacing rules for joining finals."""

from __future__ import annotations

import pytest

from app.core.events import Final, FlushAck, Partial
from app.core.transcript import Transcript, join_pieces


@pytest.mark.parametrize(
    ("left", "right", "joined"),
    [
        ("", " Hello.", "Hello."),
        ("Hello.", " How are you?", "Hello. How are you?"),
        ("Hello", ", world", "Hello, world"),
        ("Wait", "...", "Wait..."),
        ("(see", "below)", "(see below)"),
        ("open (", "x", "open (x"),
        ("你好。", "世界", "你好。世界"),
        ("trailing ", "space", "trailing space"),
        ("kept", "   ", "kept"),
        ("Naïve café —", "ok 😀", "Naïve café — ok 😀"),
    ],
)
def test_join_pieces(left: str, right: str, joined: str) -> None:
    assert join_pieces(left, right) == joined


def test_partials_replace_and_finals_commit() -> None:
    t = Transcript()
    t.apply(Partial("u1", "Hel"))
    t.apply(Partial("u1", "Hello wor"))
    assert t.display() == "Hello wor"
    assert t.text == ""
    t.apply(Final("u1", "Hello world."))
    t.apply(Partial("u2", "How"))
    assert t.display() == "Hello world. How"
    t.apply(FlushAck())
    t.apply(Final("u2", "How are you?"))
    assert t.text == "Hello world. How are you?"
    assert t.display() == t.text


def test_display_parts_split_the_caption_into_committed_and_open() -> None:
    t = Transcript()
    assert t.display_parts() == ("", "")
    t.apply(Partial("u1", "Hel"))
    assert t.display_parts() == ("", "Hel")
    t.apply(Final("u1", "Done."))
    t.apply(Partial("u2", "still"))
    t.apply(Partial("u3", "going"))
    assert t.display_parts() == ("Done.", " still going")  # the joining space is open
    t.apply(Partial("u2", "   "))  # a blank partial shows nothing
    assert t.display_parts() == ("Done.", " going")
    t.apply(Final("u3", ", right?"))
    assert t.display_parts() == ("Done., right?", "")
    committed, open_part = t.display_parts()
    assert committed + open_part == t.display()


def test_keep_chars_forgets_the_oldest_finals_but_never_the_newest() -> None:
    t = Transcript(keep_chars=20)
    for n in range(5):
        t.apply(Final(f"u{n}", f"word{n}"))  # 5 * 6 chars: past 20 at the fourth
    assert len(t.text) <= 20
    assert t.text.endswith("word4")
    assert t.text == " ".join(f.text for f in t.finals)
    assert "word0" not in t.text
    t.apply(Final("big", "x" * 50))
    assert t.text == "x" * 50
    assert [f.utterance for f in t.finals] == ["big"]
    unbounded = Transcript()
    for n in range(50):
        unbounded.apply(Final(f"u{n}", "word"))
    assert len(unbounded.finals) == 50
