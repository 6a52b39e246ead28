"""Committing the settled start of a growing utterance while it is still being spoken.

The local engine transcribes an utterance again and again while the user speaks (the
partials). Decoding the whole utterance once more at the end would make the final
wait for a pass over all of it: on a 2-core CPU with Whisper base, about a second for
15 s of speech. Instead, words that two successive passes agree on are *committed*:
they are final, the audio before them is not decoded again, and the next pass starts
where they end, with their text as the decoder's context (as Whisper itself carries
text from one 30 s window into the next). At the end of the utterance only the
uncommitted tail is decoded.

The rule (the "local agreement" of successive hypotheses):

- a word is committed when the previous pass and this one agree on it and on every
  uncommitted word before it (compared without case and punctuation);
- the audio is cut only in a pause the VAD heard (a run of silent windows), never
  between words from their timestamps alone: Whisper's word times are off by a tenth
  of a second or more, and a cut through a word makes both passes hear half of it.
  So the committed words are the agreed ones up to the last pause that lies after
  the end of one agreed word and before the start of the next (within
  :data:`PAUSE_TOLERANCE_S`), and the cut is that pause's middle;
- the pause must end at least ``holdback_s`` before the end of the audio this pass
  heard: a word near the growing edge may still be cut off or change;
- the next pass hears only what follows the cut. Speech without pauses is not cut
  at all: its final decodes all of it.

A pass that starts at a cut may hear the end of the last committed word again and
repeat it; :func:`drop_repeated_start` removes such repeats.

Times are seconds from the start of the utterance unless a method says otherwise.
Pure logic: no model, no audio, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from app.core.local_types import TranscribedSegment, TranscriptionResult, WordTiming

_NOT_WORD = re.compile(r"[^\w']+")

HOLDBACK_S = 2.5
"""Audio a pause needs after it before the words up to it are committed.

Whisper hears a word better with speech after it (its encoder looks both ways): on the
benchmark's long passage, words committed with 0.6 s of audio after them came out
wrong where the batch transcription of the whole passage had them right.
"""

PAUSE_TOLERANCE_S = 0.15
"""How far a word's timestamp may reach into the pause that is taken to follow it."""


def word_key(word: str) -> str:
    """How words are compared: lower case, without punctuation or spaces."""
    return _NOT_WORD.sub("", word.casefold())


def has_words(text: str) -> bool:
    """True when ``text`` holds at least one letter or digit (not only punctuation)."""
    return any(ch.isalnum() for ch in text)


def drop_repeated_start(committed: Sequence[str], words: Sequence[str]) -> int:
    """How many of ``words``' first words repeat the end of ``committed`` (0 to 3).

    The longest repeat wins: committed "... over the" followed by "the lazy" drops one
    word; "over the" followed by "over the lazy" drops two.
    """
    keys_c = [word_key(w) for w in committed[-3:]]
    keys_w = [word_key(w) for w in words[:3]]
    for n in range(min(len(keys_c), len(keys_w)), 0, -1):
        if keys_c[-n:] == keys_w[:n] and all(keys_w[:n]):
            return n
    return 0


def pass_words(result: TranscriptionResult) -> list[WordTiming]:
    """The timed words of a pass, in order (empty when it has no word timings)."""
    return [w for s in result.segments for w in s.words]


class Agreement:
    """The committed words and the audio cut of one utterance (see the module docstring).

    Args:
        holdback_s: A word must end this long before the end of the heard audio to be
            committed.

    Attributes:
        committed: The committed words, utterance times.
        cut_s: Where the audio of the next pass starts (0 until something is committed).
    """

    def __init__(self, *, holdback_s: float = HOLDBACK_S) -> None:
        self.holdback_s = holdback_s
        self.committed: list[WordTiming] = []
        self.cut_s = 0.0
        self._previous: list[WordTiming] = []  # the last pass's uncommitted words

    @property
    def committed_text(self) -> str:
        """The committed words joined as Whisper spelled them (leading space kept)."""
        return "".join(w.word for w in self.committed)

    @property
    def hypothesis_text(self) -> str:
        """Committed words plus the last pass's uncommitted ones: the best guess so far."""
        return "".join(w.word for w in (*self.committed, *self._previous)).strip()

    def pending_result(self, source: TranscriptionResult) -> TranscriptionResult:
        """The last pass's uncommitted words as a result (utterance times), for :meth:`finish`.

        ``source`` is that pass's result, for its language.
        """
        words = tuple(self._previous)
        if not words:
            return TranscriptionResult.of((), source.language, source.language_prob)
        text = "".join(w.word for w in words)
        segment = TranscribedSegment(words[0].start, words[-1].end, text, words)
        return TranscriptionResult.of((segment,), source.language, source.language_prob)

    def update(
        self,
        words: Sequence[WordTiming],
        *,
        offset_s: float,
        heard_s: float,
        pauses: Sequence[tuple[float, float]] = (),
    ) -> int:
        """Take one pass; return how many words it committed.

        Args:
            words: The pass's timed words, times from the start of its audio.
            offset_s: Where the pass's audio started in the utterance (the cut it used).
            heard_s: Where the pass's audio ended in the utterance.
            pauses: The silent stretches the VAD heard, (start, end) in utterance time.
        """
        hypothesis = [_shift(w, offset_s) for w in words]
        repeat = drop_repeated_start([w.word for w in self.committed], [w.word for w in words])
        hypothesis = hypothesis[repeat:]
        agreed = 0
        for old, new in zip(self._previous, hypothesis, strict=False):
            if word_key(old.word) != word_key(new.word):
                break
            agreed += 1
        agreed, cut = self._cut(hypothesis, agreed, heard_s - self.holdback_s, pauses)
        if agreed:
            self.cut_s = cut
            self.committed.extend(hypothesis[:agreed])
        self._previous = hypothesis[agreed:]
        return agreed

    def _cut(
        self,
        hypothesis: Sequence[WordTiming],
        agreed: int,
        limit: float,
        pauses: Sequence[tuple[float, float]],
    ) -> tuple[int, float]:
        """The most agreed words that end at a pause before ``limit``, and that pause's middle."""
        usable = [(a + b) / 2 for a, b in pauses if b <= limit and (a + b) / 2 > self.cut_s]
        for k in range(agreed, 0, -1):
            end = hypothesis[k - 1].end
            start_next = hypothesis[k].start if k < len(hypothesis) else None
            for middle in reversed(usable):
                if middle < end - PAUSE_TOLERANCE_S:
                    break
                if start_next is None or start_next >= middle - PAUSE_TOLERANCE_S:
                    return k, middle
        return 0, self.cut_s

    def finish(self, tail: TranscriptionResult, *, offset_s: float) -> TranscriptionResult:
        """The utterance's final: the committed words, then ``tail`` (decoded from ``offset_s``).

        Segment and word times come back in utterance time; words of ``tail`` that
        repeat the committed end are dropped.
        """
        segments = [_shift_segment(s, offset_s) for s in tail.segments]
        if self.committed:
            segments = _drop_leading_words(segments, self.committed)
            first, last = self.committed[0], self.committed[-1]
            head = TranscribedSegment(
                first.start, last.end, self.committed_text, tuple(self.committed)
            )
            segments.insert(0, head)
        return TranscriptionResult.of(tuple(segments), tail.language, tail.language_prob)


def drop_after(result: TranscriptionResult, end_s: float) -> TranscriptionResult:
    """``result`` without the segments and words that start after ``end_s``.

    Whisper sometimes adds a few words after the end of speech (often a repeat of the
    context it was given, "He had" at the end of a passage); what starts where the VAD
    heard no more speech is dropped.
    """
    kept: list[TranscribedSegment] = []
    for s in result.segments:
        if s.start >= end_s:
            continue
        if s.words and s.words[-1].start >= end_s:
            words = tuple(w for w in s.words if w.start < end_s)
            if not words:
                continue
            s = replace(s, words=words, text="".join(w.word for w in words), end=words[-1].end)
        kept.append(s)
    if len(kept) == len(result.segments) and all(
        a is b for a, b in zip(kept, result.segments, strict=True)
    ):
        return result
    return TranscriptionResult.of(tuple(kept), result.language, result.language_prob)


def _shift(w: WordTiming, by: float) -> WordTiming:
    return WordTiming(w.word, round(w.start + by, 3), round(w.end + by, 3), w.prob)


def _shift_segment(s: TranscribedSegment, by: float) -> TranscribedSegment:
    if not by:
        return s
    return replace(
        s,
        start=round(s.start + by, 3),
        end=round(s.end + by, 3),
        words=tuple(_shift(w, by) for w in s.words),
    )


def _drop_leading_words(
    segments: list[TranscribedSegment], committed: Sequence[WordTiming]
) -> list[TranscribedSegment]:
    """Remove a repeat of the committed end from the start of the first segment."""
    if not segments:
        return segments
    first = segments[0]
    spoken = [w.word for w in first.words] if first.words else _split_words(first.text)
    n = drop_repeated_start([w.word for w in committed], spoken)
    if not n:
        return segments
    rest = spoken[n:]
    words = first.words[n:] if first.words else ()
    text = "".join(rest)
    if not has_words(text):
        return segments[1:]
    start = words[0].start if words else first.start
    return [replace(first, text=text, words=words, start=start), *segments[1:]]


def _split_words(text: str) -> list[str]:
    """Words with their leading space, as Whisper's word timings spell them."""
    return re.findall(r"\s*\S+", text)
