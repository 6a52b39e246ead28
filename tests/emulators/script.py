"""The scripted core shared by every provider emulator (docs/wire-protocols.md §5.6).

A :class:`Script` is a list of :class:`Utterance` objects whose times are seconds of *received
audio* since the connection started. A :class:`Timeline` turns received sample counts into
:class:`Hypothesis` events, so tests are deterministic: nothing here reads a clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

HypothesisKind = Literal["partial", "final", "revision"]

_KIND_ORDER: dict[HypothesisKind, int] = {"partial": 0, "final": 1, "revision": 2}


@dataclass
class Utterance:
    """One stretch of speech: its hypotheses over audio time and its final text.

    ``partials`` and ``revisions`` are ``(t, text)`` pairs; ``final_at=None`` means the final
    comes only on the client's flush. ``revisions`` overwrite this utterance's (already sent)
    segment with non-final text; only the Fireworks skin sends them. ``start`` is the audio time
    the speech begins (default: the earliest scripted time); a flush finalises only utterances
    that have begun. Word timestamps span from ``start`` (default: the previous utterance's
    ``final_at``, or 0.0) to the event's time.
    """

    text: str
    partials: Sequence[tuple[float, str]] = field(default_factory=list)
    final_at: float | None = None
    revisions: Sequence[tuple[float, str]] = field(default_factory=list)
    start: float | None = None

    def __post_init__(self) -> None:
        self.partials = [(float(t), str(s)) for t, s in self.partials]
        self.revisions = [(float(t), str(s)) for t, s in self.revisions]
        for name, items in (("partials", self.partials), ("revisions", self.revisions)):
            times = [t for t, _ in items]
            if times != sorted(times) or any(t < 0 for t in times):
                raise ValueError(f"{name} times must be non-negative and ascending: {times}")
        if self.final_at is not None:
            if self.final_at < 0:
                raise ValueError("final_at must be non-negative")
            if any(t > self.final_at for t, _ in self.partials):
                raise ValueError("every partial must come before final_at")
        first = self.first_time
        if self.start is not None and first is not None and self.start > first:
            raise ValueError("start must not be after the utterance's first scripted time")

    @property
    def first_time(self) -> float | None:
        """The earliest scripted time of this utterance (partials, final, revisions), if any."""
        times = [t for t, _ in self.partials] + [t for t, _ in self.revisions]
        if self.final_at is not None:
            times.append(self.final_at)
        return min(times) if times else None


class Script:
    """An ordered list of utterances. Utterance ``i`` is Baseten final ``i+1``, Together item ``i``,
    Fireworks segment ``i``."""

    def __init__(self, utterances: Iterable[Utterance] = ()) -> None:
        self.utterances: tuple[Utterance, ...] = tuple(utterances)

    def __len__(self) -> int:
        return len(self.utterances)

    def __iter__(self) -> Iterator[Utterance]:
        return iter(self.utterances)

    def __repr__(self) -> str:
        return f"Script({list(self.utterances)!r})"


@dataclass(frozen=True)
class Hypothesis:
    """A transcript event produced by the core; each skin renders it in its wire format."""

    kind: HypothesisKind
    index: int
    text: str
    start: float
    end: float
    flush: bool = False

    @property
    def is_final(self) -> bool:
        return self.kind == "final"

    def words(self) -> list[tuple[str, float, float]]:
        """The text split on spaces, with times spread evenly over ``[start, end]``."""
        tokens = [w for w in self.text.split(" ") if w]
        if not tokens:
            return []
        step = (self.end - self.start) / len(tokens)
        return [
            (w, round(self.start + k * step, 3), round(self.start + (k + 1) * step, 3))
            for k, w in enumerate(tokens)
        ]


@dataclass(frozen=True)
class _Cue:
    samples: int
    kind: HypothesisKind
    index: int
    at: float
    text: str


class Timeline:
    """Advances one connection's script by received audio samples.

    ``emit_timed=False`` holds back timed partials and finals (Together with
    ``turn_detection=none``): the utterances stay pending until :meth:`flush`. With
    ``revisions=True`` (Fireworks) a revision re-opens its utterance, so the next flush sends its
    final (``Utterance.text``) again; otherwise revisions are skipped.
    """

    def __init__(self, script: Script, sample_rate: int = 16000, *, revisions: bool = False):
        self.script = script
        self.sample_rate = sample_rate
        self.revisions = revisions
        self.samples = 0
        self.emit_timed = True
        self.finalized: set[int] = set()
        self.dropped: set[int] = set()
        cues: list[_Cue] = []
        for i, u in enumerate(script.utterances):
            cues += [self._cue("partial", i, t, s) for t, s in u.partials]
            if u.final_at is not None:
                cues.append(self._cue("final", i, u.final_at, u.text))
            cues += [self._cue("revision", i, t, s) for t, s in u.revisions]
        cues.sort(key=lambda c: (c.samples, c.index, _KIND_ORDER[c.kind]))
        self._cues = cues
        self._next = 0

    def _cue(self, kind: HypothesisKind, index: int, at: float, text: str) -> _Cue:
        return _Cue(round(at * self.sample_rate), kind, index, at, text)

    @property
    def now(self) -> float:
        """Seconds of audio received so far on this connection."""
        return self.samples / self.sample_rate

    def span_start(self, index: int) -> float:
        u = self.script.utterances[index]
        if u.start is not None:
            return u.start
        previous = self.script.utterances[index - 1].final_at if index > 0 else 0.0
        first = u.first_time
        if previous is None:
            previous = first if first is not None else 0.0
        return previous if first is None else min(previous, first)

    def begun(self, index: int) -> bool:
        """Whether this utterance's speech has started by now (what a VAD would say)."""
        u = self.script.utterances[index]
        begin = u.start if u.start is not None else u.first_time
        return begin is None or round(begin * self.sample_rate) <= self.samples

    def pending(self) -> list[int]:
        """Begun utterances that have no final yet (and were not cleared)."""
        return [
            i
            for i in range(len(self.script))
            if i not in self.finalized and i not in self.dropped and self.begun(i)
        ]

    def advance(self, samples: int) -> list[Hypothesis]:
        """Account for ``samples`` more samples; return every event now due, in order."""
        self.samples += samples
        due: list[Hypothesis] = []
        while self._next < len(self._cues) and self._cues[self._next].samples <= self.samples:
            cue = self._cues[self._next]
            self._next += 1
            if cue.index in self.dropped:
                continue
            if cue.kind == "revision":
                if not self.revisions:
                    continue
                self.finalized.discard(cue.index)
                due.append(self._hypothesis(cue.kind, cue.index, cue.text, cue.at))
            elif cue.index not in self.finalized and self.emit_timed:
                if cue.kind == "final":
                    self.finalized.add(cue.index)
                due.append(self._hypothesis(cue.kind, cue.index, cue.text, cue.at))
        return due

    def flush(self) -> list[Hypothesis]:
        """Finals, in script order, for every pending utterance (the provider's flush)."""
        out = []
        for i in self.pending():
            self.finalized.add(i)
            u = self.script.utterances[i]
            end = u.final_at if u.final_at is not None and u.final_at <= self.now else self.now
            out.append(self._hypothesis("final", i, u.text, end, flush=True))
        return out

    def end_speech(self) -> list[Hypothesis]:
        """Finals for every pending utterance, as a VAD that heard the speech end sends them."""
        return [dataclasses.replace(h, flush=False) for h in self.flush()]

    def drop_pending(self) -> list[int]:
        """Forget pending utterances without finals (Fireworks ``stt.state.clear``)."""
        gone = self.pending()
        self.dropped.update(gone)
        return gone

    def _hypothesis(
        self, kind: HypothesisKind, index: int, text: str, at: float, flush: bool = False
    ) -> Hypothesis:
        start = self.span_start(index)
        final_at = self.script.utterances[index].final_at
        if kind == "revision" and final_at is not None and final_at <= at:
            at = final_at
        return Hypothesis(kind, index, text, min(start, at), max(start, at), flush)
