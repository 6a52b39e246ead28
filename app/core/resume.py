"""Resuming a session on a new connection: what is final stays, the rest is sent again.

A connection lost in the middle of a session has transcribed part of the audio for
good (its finals) and part not yet (open partials, audio still in flight). A
:class:`ConnectionTrack` follows one connection's events and keeps the *watermark*:
the audio time, from the start of the session, up to which every utterance has its
final. The next connection is sent the audio from the watermark on. Its events count
time from its own start, so the track of that connection shifts them by its offset
and gives their utterance ids a prefix of their own; they then join the kept finals
with nothing lost and nothing twice.

The watermark moves on a final that carries an end time (its segments' or words')
while no other utterance is open. A provider whose finals carry no times (Together)
never moves it: a new connection is sent everything again, and only the finals of
the connections before that moved it are kept.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from app.core.events import Event, Final, Partial, Segment, Word

_Text = TypeVar("_Text", Partial, Final)


def _shift_word(word: Word, offset: float) -> Word:
    return dataclasses.replace(
        word,
        start=None if word.start is None else word.start + offset,
        end=None if word.end is None else word.end + offset,
    )


def _shift_segment(segment: Segment, offset: float) -> Segment:
    return dataclasses.replace(
        segment,
        start=None if segment.start is None else segment.start + offset,
        end=None if segment.end is None else segment.end + offset,
        words=tuple(_shift_word(w, offset) for w in segment.words),
    )


def end_time(final: Final) -> float | None:
    """The latest end time a final carries (segments and words), or ``None``."""
    ends = [s.end for s in final.segments if s.end is not None]
    ends += [w.end for w in final.words if w.end is not None]
    ends += [w.end for s in final.segments for w in s.words if w.end is not None]
    return max(ends) if ends else None


class ConnectionTrack:
    """Translates one connection's events into session terms and keeps its watermark.

    Args:
        offset_s: Where this connection's audio starts in the session, in seconds.
        prefix: Put before every utterance id ("" for the first connection).
        kept: The finals of earlier connections up to ``offset_s`` (session time).

    Attributes:
        watermark_s: Session time up to which every utterance is final.
        kept: The finals up to the watermark, in order (earlier connections' too).
    """

    def __init__(self, offset_s: float = 0.0, prefix: str = "", kept: list[Final] | None = None):
        self.offset_s = offset_s
        self.prefix = prefix
        self.watermark_s = offset_s
        self.kept: list[Final] = list(kept or [])
        self._finals: list[Final] = []  # this connection's, since the watermark last moved
        self._open: set[str] = set()
        self._untimed = False  # a final without times: the watermark cannot pass it

    def translate(self, event: Event) -> Event:
        """Return ``event`` in session time and ids; follow the watermark."""
        if isinstance(event, Partial):
            event = self._shifted(event)
            self._open.add(event.utterance)
        elif isinstance(event, Final):
            event = self._shifted(event)
            self._open.discard(event.utterance)
            self._finals.append(event)
            self._advance(event)
        return event

    def _shifted(self, event: _Text) -> _Text:
        return dataclasses.replace(
            event,
            utterance=self.prefix + event.utterance,
            segments=tuple(_shift_segment(s, self.offset_s) for s in event.segments),
            words=tuple(_shift_word(w, self.offset_s) for w in event.words),
        )

    def _advance(self, final: Final) -> None:
        end = end_time(final)
        if end is None:
            self._untimed = True
        if self._untimed or self._open:
            return
        ends = [end_time(f) for f in self._finals]
        self.watermark_s = max(self.watermark_s, *(e for e in ends if e is not None))
        self.kept += self._finals
        self._finals = []
