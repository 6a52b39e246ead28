"""Transcript assembly: partials and finals in, display text and committed text out.

Finals are joined the way a person would write them: one space between pieces, none
before closing punctuation or after opening brackets, none between CJK characters.
"""

from __future__ import annotations

import unicodedata

from app.core.events import Event, Final, Partial

# Full-width and typographic punctuation is meant here, hence the noqa.
_NO_SPACE_BEFORE = set(",.;:!?%)]}»”’…、。，．！？：；)")  # noqa: RUF001
_NO_SPACE_AFTER = set("([{«“‘¿¡")  # noqa: RUF001


def _is_cjk(ch: str) -> bool:
    name = unicodedata.name(ch, "")
    cjk_punctuation = "、。，．！？：；"  # noqa: RUF001
    return name.startswith(("CJK ", "HIRAGANA", "KATAKANA", "HANGUL")) or ch in cjk_punctuation


def join_pieces(left: str, right: str) -> str:
    """Append ``right`` to ``left`` with the spacing a writer would use."""
    right = right.strip()
    if not right:
        return left
    if not left:
        return right
    if left[-1].isspace():
        return left + right
    if right[0] in _NO_SPACE_BEFORE or left[-1] in _NO_SPACE_AFTER:
        return left + right
    if _is_cjk(left[-1]) and _is_cjk(right[0]):
        return left + right
    return f"{left} {right}"


class Transcript:
    """Keeps the finals in order and the newest partial of each open utterance.

    Calling contract: feed every event to :meth:`apply`; read :attr:`text` for the
    committed transcript and :meth:`display` for what a caption should show.
    """

    def __init__(self) -> None:
        self.finals: list[Final] = []
        self._partials: dict[str, Partial] = {}

    def apply(self, event: Event) -> None:
        """Update the transcript with one event; events other than text are ignored."""
        if isinstance(event, Partial):
            self._partials[event.utterance] = event
        elif isinstance(event, Final):
            self._partials.pop(event.utterance, None)
            self.finals.append(event)

    @property
    def text(self) -> str:
        """Every final, joined."""
        out = ""
        for final in self.finals:
            out = join_pieces(out, final.text)
        return out

    def display(self) -> str:
        """Finals followed by the open partials, for live captions."""
        out = self.text
        for partial in self._partials.values():
            out = join_pieces(out, partial.text)
        return out
