"""The audio of the last dictation, kept in memory so it can be transcribed again.

A dictation whose connection failed for good, whose text could not be inserted, or
whose words came out wrong can be sent again, to the same provider or another
(the tray's *Retry last dictation*). :class:`AudioKeeper` collects one utterance's
PCM as the session queues it (bounded: past :data:`MAX_KEPT_S` it stops keeping);
:class:`KeptAudio` is what stays of it, and :class:`KeptAudioSource` plays it back
to a new session as fast as the session takes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: numpy loads with the audio
    import numpy as np
    import numpy.typing as npt

log = logging.getLogger(__name__)

MAX_KEPT_S = 600.0
"""The longest utterance whose audio is kept (16 kHz: 19 MB); a longer one keeps none."""

_BLOCK_SAMPLES = 4096


@dataclass(frozen=True)
class KeptAudio:
    """One utterance's audio, as it was sent.

    Attributes:
        pcm: 16-bit little-endian mono PCM.
        rate: Its sample rate.
        provider: The provider it was first sent to.
    """

    pcm: bytes
    rate: int
    provider: str

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.rate


class AudioKeeper:
    """Collects the PCM a session queues (its ``on_audio``), up to :data:`MAX_KEPT_S`."""

    def __init__(self, provider: str, max_s: float = MAX_KEPT_S) -> None:
        self.provider = provider
        self.max_s = max_s
        self._chunks: list[bytes] = []
        self._bytes = 0
        self._rate = 0
        self.overflowed = False

    def __call__(self, pcm: bytes, rate: int) -> None:
        if self.overflowed:
            return
        if rate != self._rate and self._chunks:  # a Baseten schema retry at another rate
            self._chunks, self._bytes = [], 0
        self._rate = rate
        if self._bytes + len(pcm) > self.max_s * rate * 2:
            log.info("the utterance passed %.0f s; its audio is not kept", self.max_s)
            self._chunks, self._bytes, self.overflowed = [], 0, True
            return
        self._chunks.append(pcm)
        self._bytes += len(pcm)

    def kept(self) -> KeptAudio | None:
        """What was collected, or ``None`` when nothing was (or too much)."""
        if self.overflowed or not self._bytes:
            return None
        return KeptAudio(b"".join(self._chunks), self._rate, self.provider)


class KeptAudioSource:
    """Plays :class:`KeptAudio` to a session (an ``AudioSource``), unpaced."""

    channels = 1

    def __init__(self, audio: KeptAudio) -> None:
        self.audio = audio
        self.sample_rate = audio.rate

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        import numpy as np

        samples = np.frombuffer(self.audio.pcm, dtype="<i2")
        for start in range(0, len(samples), _BLOCK_SAMPLES):
            block = samples[start : start + _BLOCK_SAMPLES].astype(np.float32) / 32768.0
            yield block.reshape(-1, 1)
            await asyncio.sleep(0)  # let the session send and receive in between
