"""How a dictated utterance continues the text inserted before it (pure functions).

Rules, kept simple on purpose:

- The separator is what :func:`~app.core.transcript.join_pieces` puts between two
  pieces: one space, none before closing punctuation, after an opening bracket,
  after whitespace, or between CJK characters.
- The first letter is capitalised when the previous text ended a sentence (``.``,
  ``!``, ``?``, ``…``, CJK full stops, possibly followed by closing quotes or
  brackets; or a line break) or when there is no previous text. It is never
  lower-cased: a provider capitalising a mid-sentence word may be right ("I", names).
"""

from __future__ import annotations

from app.core.transcript import join_pieces

# Full-width and typographic punctuation is meant here, hence the noqa.
_SENTENCE_END = set(".!?…。！？")  # noqa: RUF001
_CLOSERS = set("\"')]}»”’")  # noqa: RUF001
_OPENERS = set("\"'([{«“‘¿¡")  # noqa: RUF001


def ends_sentence(text: str) -> bool:
    """Whether the next words start a sentence: ``text`` is empty or ends one."""
    if not text.strip() or text.rstrip(" \t")[-1:] in ("\n", "\r"):
        return True
    stripped = text.rstrip()
    while stripped and stripped[-1] in _CLOSERS:
        stripped = stripped[:-1]
    return bool(stripped) and stripped[-1] in _SENTENCE_END


def capitalise_first(text: str) -> str:
    """Upper-case the first letter, looking past opening quotes and brackets."""
    for i, ch in enumerate(text):
        if ch.isspace() or ch in _OPENERS:
            continue
        upper = ch.upper()
        if ch.isalpha() and ch.islower() and len(upper) == 1:
            return text[:i] + upper + text[i + 1 :]
        return text
    return text


def continue_text(previous: str, text: str) -> str:
    """What to insert after ``previous`` (the text inserted before; "" for none).

    Example: ``continue_text("Hello there.", "how are you?")`` is
    ``" How are you?"``; ``continue_text("", "hello")`` is ``"Hello"``.
    """
    body = text.strip()
    if ends_sentence(previous):
        body = capitalise_first(body)
    if not previous:
        return body
    return join_pieces(previous, body)[len(previous) :]
