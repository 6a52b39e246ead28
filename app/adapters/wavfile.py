"""WAV files as audio sources, read in blocks and converted to float32."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.core.errors import AudioInputError

_DTYPES = {2: "<i2", 4: "<i4"}


class WavSource:
    """A PCM WAV file of any rate and channel count: the engine's ``AudioSource`` port.

    Args:
        path: The file.
        block_ms: Size of each yielded block, like a microphone callback (20 ms).
    """

    def __init__(self, path: str | Path, block_ms: int = 20) -> None:
        self.path = Path(path)
        try:
            with wave.open(str(self.path), "rb") as w:
                self.sample_rate = w.getframerate()
                self.channels = w.getnchannels()
                self.sample_width = w.getsampwidth()
                self.frames = w.getnframes()
        except FileNotFoundError:
            raise AudioInputError(f"{self.path}: no such file.") from None
        except (wave.Error, EOFError) as exc:
            raise AudioInputError(
                f"{self.path}: not a PCM WAV file ({exc}). Convert it, e.g. "
                "`sox in.mp3 -b 16 out.wav` or `ffmpeg -i in.mp3 out.wav`."
            ) from None
        except OSError as exc:
            raise AudioInputError(f"{self.path}: cannot read it ({exc.strerror}).") from None
        if self.sample_width not in (1, 2, 3, 4):
            raise AudioInputError(f"{self.path}: {8 * self.sample_width}-bit WAV is not supported.")
        self.block_frames = max(1, self.sample_rate * block_ms // 1000)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate

    def _decode(self, raw: bytes) -> npt.NDArray[np.float32]:
        width = self.sample_width
        if width == 1:  # 8-bit WAV is unsigned
            centred = np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0
            return (centred / 128.0).reshape(-1, self.channels)
        if width == 3:  # 24-bit: widen to 32-bit by placing the three bytes high
            b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
            wide = np.zeros((len(b), 4), dtype=np.uint8)
            wide[:, 1:] = b
            ints = wide.view("<i4").reshape(-1)
            width = 4
        else:
            ints = np.frombuffer(raw, dtype=_DTYPES[width])
        scale = np.float32(2 ** (8 * width - 1))
        return (ints.astype(np.float32) / scale).reshape(-1, self.channels)

    async def blocks(self) -> AsyncIterator[npt.NDArray[np.float32]]:
        """Yield ``(frames, channels)`` float32 blocks of ``block_ms`` each."""
        with wave.open(str(self.path), "rb") as w:
            while raw := w.readframes(self.block_frames):
                yield self._decode(raw)
