"""Audio files as audio sources, decoded by libsndfile (``soundfile``) into float32 blocks.

libsndfile reads WAV of every subtype (8/16/24/32-bit PCM, float, WAVE_FORMAT_EXTENSIBLE,
mu-law/A-law), FLAC, OGG Vorbis and Opus, MP3, AIFF, CAF and more, so ``hark transcribe``
takes what recorders and converters actually write. What it cannot read, and files with
no audio or only silence, end in one :class:`~app.core.errors.AudioInputError` line that
says what to do, before any connection is made.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile

from app.core.errors import AudioInputError

log = logging.getLogger(__name__)

SILENCE_PEAK = 10 ** (-60 / 20)
"""Below -60 dBFS throughout, a file holds nothing a speech model could hear."""

_SCAN_BLOCK_FRAMES = 1 << 16
_CONVERT_HINT = "`ffmpeg -i IN OUT.wav`"


class AudioFileSource:
    """An audio file of any format libsndfile reads: the engine's ``AudioSource`` port.

    Args:
        path: The file.
        block_ms: Size of each yielded block, like a microphone callback (20 ms).

    Raises:
        AudioInputError: The file is missing, unreadable, in a format libsndfile does
            not know, holds no audio, or is silent throughout.
    """

    def __init__(self, path: str | Path, block_ms: int = 20) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise AudioInputError(f"{self.path}: no such file.")
        if self.path.is_dir():
            raise AudioInputError(f"{self.path}: is a folder; give an audio file.")
        try:
            with soundfile.SoundFile(self.path) as f:
                self.sample_rate = int(f.samplerate)
                self.channels = int(f.channels)
                self.format = f"{f.format}/{f.subtype}"
                self.frames = int(f.frames)
                peak = _peak_until(f, SILENCE_PEAK)
                # libsndfile reads a cut-short file up to where it ends, and notes in its
                # log that the header promised more ("data : 32000 (should be 15978)").
                truncated = "(should be" in f.extra_info
        except soundfile.LibsndfileError as exc:
            raise AudioInputError(
                f"{self.path}: cannot read it as audio ({_reason(exc)}). "
                "WAV, FLAC, OGG/Opus and MP3 work; convert it to one of those, "
                f"e.g. {_CONVERT_HINT}"
            ) from None
        except OSError as exc:
            raise AudioInputError(f"{self.path}: cannot read it ({exc.strerror}).") from None
        if self.frames == 0:
            raise AudioInputError(f"{self.path}: holds no audio (0 samples); record it again.")
        if peak < SILENCE_PEAK:
            level = "digital silence" if peak == 0 else f"{20 * math.log10(peak):.0f} dBFS"
            raise AudioInputError(
                f"{self.path}: is silent throughout (loudest sample: {level}); nothing to "
                "transcribe. Check the recording's input and level."
            )
        if truncated:
            log.warning(
                "%s: the file is cut short (an interrupted recording or copy?); "
                "transcribing the %.1f s it holds",
                self.path, self.frames / self.sample_rate,
            )  # fmt: skip
        log.info(
            "%s: %s, %d Hz, %d channel(s), %.1f s",
            self.path, self.format, self.sample_rate, self.channels, self.duration,
        )  # fmt: skip
        self.block_frames = max(1, self.sample_rate * block_ms // 1000)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        """Yield ``(frames, channels)`` float32 blocks of ``block_ms`` each."""
        with soundfile.SoundFile(self.path) as f:
            while True:
                block = f.read(self.block_frames, dtype="float32", always_2d=True)
                if not len(block):
                    return
                yield block


def _peak_until(f: soundfile.SoundFile, enough: float) -> float:
    """The file's peak level, reading only until it exceeds ``enough`` (cheap for speech)."""
    peak = 0.0
    for block in f.blocks(_SCAN_BLOCK_FRAMES, dtype="float32", always_2d=True):
        if len(block):
            peak = max(peak, float(np.max(np.abs(block))))
        if peak >= enough:
            break
    f.seek(0)
    return peak


def _reason(exc: soundfile.LibsndfileError) -> str:
    """libsndfile's message without its "Error opening '...':" preamble."""
    text = str(exc.error_string).strip().rstrip(".")
    return text[:1].lower() + text[1:] if text else "unknown format"
