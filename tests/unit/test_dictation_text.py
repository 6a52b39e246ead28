"""How an utterance continues the text inserted before it: spacing and the first capital."""

from __future__ import annotations

import pytest

from app.engine.dictation_text import capitalise_first, continue_text, ends_sentence


@pytest.mark.parametrize(
    ("previous", "text", "expected"),
    [
        ("", "hello world.", "Hello world."),  # a first utterance starts a sentence
        ("Hello world.", "this is next.", " This is next."),
        ("Hello world!", "yes", " Yes"),
        ('He said "stop."', "then he left", " Then he left"),  # past closing quotes
        ("I think", "Paris is nice.", " Paris is nice."),  # never lower-cased
        ("I think", "that works", " that works"),  # mid-sentence: left as it is
        ("Wait", ", what?", ", what?"),  # no space before closing punctuation
        ("Line one\n", "next line", "Next line"),  # after a line break: no space, a capital
        ("Ends with a space. ", "more", "More"),
        ("你好。", "世界", "世界"),  # CJK: no space
        ("Done.", "  padded  ", " Padded"),
        ("Done.", '"quoted" words', ' "Quoted" words'),
        ("Done.", "42 is the answer", " 42 is the answer"),
    ],
)
def test_continue_text(previous: str, text: str, expected: str) -> None:
    assert continue_text(previous, text) == expected


@pytest.mark.parametrize(
    ("text", "ends"),
    [("", True), ("   ", True), ("Yes.", True), ("Why?)", True), ("end…", True),
     ("no", False), ("a, b", False), ("ok\n", True), ("x。", True)],
)  # fmt: skip
def test_ends_sentence(text: str, ends: bool) -> None:
    assert ends_sentence(text) is ends


def test_capitalise_first_leaves_what_it_cannot_upper_case() -> None:
    assert capitalise_first("¿qué?") == "¿Qué?"
    assert capitalise_first("ßtraße") == "ßtraße"  # "SS": not a single letter
    assert capitalise_first("") == ""
    assert capitalise_first("(...)") == "(...)"
