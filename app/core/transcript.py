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

    Calling contract: feed every event to :meth:`apply` (the only writer of
    :attr:`finals`); read :attr:`text` for the committed transcript, :meth:`display`
    for what a caption should show and :meth:`display_parts` for the same split into
    its committed and its open part.

    Args:
        keep_chars: When set, the oldest finals are forgotten once the committed text
            grows past this many characters (down to about half of it; the newest final
            always stays), for a caption that only ever shows its tail.
    """

    def __init__(self, keep_chars: int | None = None) -> None:
        self.finals: list[Final] = []
        self._partials: dict[str, Partial] = {}
        self._text = ""
        self._keep_chars = keep_chars

    def apply(self, event: Event) -> None:
        """Update the transcript with one event; events other than text are ignored."""
        if isinstance(event, Partial):
            self._partials[event.utterance] = event
        elif isinstance(event, Final):
            self._partials.pop(event.utterance, None)
            self.finals.append(event)
            self._text = join_pieces(self._text, event.text)
            if self._keep_chars is not None and len(self._text) > self._keep_chars:
                self._forget_oldest(self._keep_chars // 2)

    def _forget_oldest(self, target: int) -> None:
        """Keep only the newest finals that fit in about ``target`` characters (one at least)."""
        kept = size = 0
        for final in reversed(self.finals):
            size += len(final.text.strip()) + 1
            if kept and size > target:
                break
            kept += 1
        del self.finals[: len(self.finals) - kept]
        self._text = ""
        for final in self.finals:
            self._text = join_pieces(self._text, final.text)

    @property
    def text(self) -> str:
        """Every final, joined."""
        return self._text

    def display_parts(self) -> tuple[str, str]:
        """The caption as (committed, open): the finals, then the open partials.

        ``committed + open`` is :meth:`display`; the open part starts with the space
        (if any) that joins it to the finals.
        """
        committed = out = self._text
        for partial in self._partials.values():
            out = join_pieces(out, partial.text)
        return committed, out[len(committed) :]

    def display(self) -> str:
        """Finals followed by the open partials, for live captions."""
        committed, open_part = self.display_parts()
        return committed + open_part
