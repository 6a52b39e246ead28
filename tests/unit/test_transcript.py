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
