"""faster-whisper (CTranslate2) and its bundled Silero VAD behind the engine's ports.

:class:`WhisperTranscriber` implements ``app.engine.ports.Transcriber`` and
:class:`SileroVad` implements ``app.engine.ports.Vad``. Nothing here downloads
anything: a model size is looked up in the cache the model downloader fills
(``<user cache>/hark/models/<size>``, laid out like the Systran/faster-whisper-<size>
repositories), and a folder path is used as it is. A missing model raises
:class:`ModelMissingError` with a one-line message that names the ways out.

faster-whisper, ctranslate2 and onnxruntime are imported only when a model is loaded
or a VAD is made, so importing this module is cheap.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import platformdirs

from app.core.errors import HarkError
from app.core.local_types import TranscribedSegment, TranscriptionResult, WordTiming
from app.core.options import MODEL_SIZES, LocalOptions

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
"""A model folder needs these; without ``tokenizer.json`` faster-whisper would go to the hub."""

VAD_WINDOW = 512
_VAD_CONTEXT = 64  # Silero v5/v6 at 16 kHz: each window is preceded by 64 samples of the last
_VAD_ASSET = "silero_vad_v6.onnx"  # bundled with faster-whisper >= 1.2


class ModelMissingError(HarkError):
    """The local model is not on this machine (not downloaded, or a bad folder)."""


class ModelLoadError(HarkError):
    """The local model is there but cannot be loaded (damaged files, no CUDA, ...)."""


def default_models_dir() -> Path:
    """Where downloaded models live: one folder per size under the user cache."""
    return Path(platformdirs.user_cache_dir("hark")) / "models"


def resolve_model(model: str, models_dir: Path | None = None) -> Path:
    """Return the folder of ``model`` (a size from ``MODEL_SIZES`` or a folder path).

    Raises:
        ModelMissingError: The size is not downloaded, or the folder holds no model.
    """
    if model in MODEL_SIZES:
        folder = (models_dir or default_models_dir()) / model
        if all((folder / name).is_file() for name in REQUIRED_FILES):
            return folder
        raise ModelMissingError(
            f"The local model {model!r} is not downloaded: run `hark models download {model}` "
            "(needs the internet once), choose a cloud provider, or give a model folder path."
        )
    folder = Path(model).expanduser()
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        what = "does not exist" if not folder.is_dir() else f"lacks {', '.join(missing)}"
        raise ModelMissingError(
            f"No Whisper model at {folder} (the folder {what}): give a CTranslate2 model "
            f"folder or a model size ({', '.join(MODEL_SIZES)}), or choose a cloud provider."
        )
    return folder


class WhisperTranscriber:
    """A faster-whisper model, loaded on first use; implements the ``Transcriber`` port.

    Args:
        model: A size from ``MODEL_SIZES`` (looked up in the cache) or a model folder.
        device: ``"auto"`` (CUDA when ctranslate2 sees a GPU, else CPU), ``"cpu"`` or ``"cuda"``.
        compute_type: ``"auto"`` (float16 on CUDA, int8 on CPU) or a CTranslate2 type.
        cpu_threads: Threads per transcription on CPU; 0 lets CTranslate2 decide
            (``OMP_NUM_THREADS``, else 4).
        workers: Transcriptions that can run at once (CTranslate2 model replicas
            sharing the weights); call :meth:`transcribe` from that many threads.
        cache_dir: The folder holding one folder per model size (default
            :func:`default_models_dir`).

    Raises:
        ModelMissingError: At construction, when the model is not there.
    """

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int = 0,
        workers: int = 1,
        cache_dir: Path | None = None,
    ) -> None:
        self.path = resolve_model(model, cache_dir)
        self.workers = max(1, workers)
        self.model_name = model
        self.device = device
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """True once the model is in memory."""
        return self._model is not None

    def load(self) -> None:
        """Load the model (blocking; a no-op once loaded).

        Raises:
            ModelLoadError: CTranslate2 cannot load it (one line, with the cause).
        """
        with self._lock:
            if self._model is not None:
                return
            try:
                import ctranslate2

                model_class = _short_context_model_class()

                device = self.device
                if device == "auto":
                    device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
                compute = self.compute_type
                if compute == "auto":
                    compute = "float16" if device == "cuda" else "int8"
                self._model = model_class(
                    str(self.path),
                    device=device,
                    compute_type=compute,
                    cpu_threads=self.cpu_threads,
                    num_workers=self.workers,
                    local_files_only=True,
                )
            except Exception as exc:
                raise ModelLoadError(
                    f"Cannot load the local model from {self.path}: {_one_line(exc)}"
                ) from exc
            log.info("loaded the Whisper model %s on %s (%s)", self.path, device, compute)

    def transcribe(
        self,
        audio: FloatArray,
        *,
        language: str | None,
        prompt: str,
        word_timestamps: bool,
        beam_size: int,
        partial: bool = False,
        context: str = "",
    ) -> TranscriptionResult:
        """Transcribe one utterance (blocking; loads the model on first use).

        Whisper's own VAD filter is off (the engine already cut the utterance). The
        encoder sees the audio plus :data:`CONTEXT_MARGIN_S` of padding rather than a
        fixed 30 s window (see :func:`short_context_frames`). ``context`` (what was
        said just before) conditions the decoder as faster-whisper's
        ``condition_on_previous_text`` does between windows; ``prompt`` goes first, as
        hot words. A ``partial`` decodes once at temperature 0; a final keeps
        faster-whisper's temperature fallback. The language, when ``None``, is detected
        from the same encoder pass (no second encoding).

        Raises:
            ModelLoadError: The model cannot be loaded.
            HarkError: The model refuses the options (an unknown language code).
        """
        self.load()
        options: dict[str, Any] = {}
        if partial:
            options["temperature"] = 0.0
        try:
            segments, info = self._model.transcribe(
                audio,
                language=language,
                task="transcribe",
                beam_size=beam_size,
                initial_prompt=_tail_words(context, CONTEXT_WORDS) or None,
                hotwords=prompt.strip() or None,
                word_timestamps=word_timestamps,
                vad_filter=False,
                condition_on_previous_text=True,
                **options,
            )
            duration = len(audio) / 16000
            converted = tuple(_segment(s, duration) for s in segments)  # decoding runs here
        except ValueError as exc:  # faster-whisper's answer to a bad language code
            raise HarkError(f"The local model cannot transcribe this: {_one_line(exc)}") from exc
        return TranscriptionResult.of(converted, info.language, float(info.language_probability))


def short_context_frames(content_frames: int, available: int = 3000) -> int:
    """How many mel frames the encoder is given for ``content_frames`` of audio.

    Whisper is trained on 30 s windows, but CTranslate2 runs its encoder on any length,
    and its cost falls steeply with it (base on 2 CPU cores: 0.75 s for 30 s, 0.18 s
    for 15 s, 0.10 s for 10 s). The audio plus :data:`CONTEXT_MARGIN_S` of the
    window's zero padding, rounded up to a whole second, measured as accurate as the
    full window or better (bench/local_accuracy.py: base 9.1-9.5 % WER with 2-4 s of
    margin against 11.8 % with the full window and 11.0 % for faster-whisper's own
    batch transcription; with 0.5 s of margin it fell to 17.9 %).
    """
    wanted = content_frames + round(CONTEXT_MARGIN_S * 100)
    return min(available, -(-wanted // 100) * 100)


CONTEXT_MARGIN_S = 3.0
"""Padding the encoder sees after the audio (see :func:`short_context_frames`)."""

CONTEXT_WORDS = 60
"""Words of earlier text that condition the decoder (Whisper's prompt holds ~220 tokens)."""


def _tail_words(text: str, count: int) -> str:
    return " ".join(text.split()[-count:])


@functools.cache
def _short_context_model_class() -> type[Any]:
    """faster-whisper's ``WhisperModel`` with an encoder that skips the window's padding.

    faster-whisper pads every window's features to 30 s with zeros before encoding;
    the override encodes only the audio's frames plus the margin of
    :func:`short_context_frames`. Everything else (decoding, temperature fallback,
    timestamps, word alignment, language detection) is faster-whisper's own.
    """
    from faster_whisper import WhisperModel

    class ShortContextWhisperModel(WhisperModel):  # type: ignore[misc]
        def encode(self, features: Any) -> Any:
            batch = features if features.ndim == 3 else features[None]
            filled = np.flatnonzero(np.any(batch[0] != 0, axis=0))
            content = int(filled[-1]) + 1 if len(filled) else 1
            frames = short_context_frames(content, batch.shape[-1])
            return super().encode(np.ascontiguousarray(batch[..., :frames]))

    return ShortContextWhisperModel


def _segment(s: Any, duration: float) -> TranscribedSegment:
    """Convert a faster-whisper segment (numpy floats included) into a plain one."""

    def clamp(t: Any) -> float:
        return round(min(max(float(t), 0.0), duration), 3)

    words = tuple(
        WordTiming(w.word, clamp(w.start), clamp(w.end), float(w.probability))
        for w in (s.words or ())
    )
    return TranscribedSegment(
        clamp(s.start),
        clamp(s.end),
        s.text,
        words,
        float(s.avg_logprob),
        float(s.no_speech_prob),
        float(s.compression_ratio),
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


@functools.cache
def _vad_session() -> Any:
    """One onnxruntime session of the bundled Silero model, shared (``run`` is thread-safe)."""
    import onnxruntime
    from faster_whisper.utils import get_assets_path

    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.enable_cpu_mem_arena = False
    opts.log_severity_level = 4
    path = Path(get_assets_path()) / _VAD_ASSET
    return onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"], sess_options=opts
    )


class SileroVad:
    """Silero VAD v6 (the model faster-whisper ships) over 512-sample windows, stateful.

    Each window is scored with the recurrent state and the last 64 samples of the
    previous one, as Silero's own streaming ``VADIterator`` does; scoring a stream
    window by window gives the same probabilities as faster-whisper's batch scoring.
    One call takes about 0.2 ms on a slow CPU (single-threaded onnxruntime).

    Args:
        threshold: The speech threshold this VAD is used with (kept as an attribute).
        sampling_rate: Must be 16000 (the bundled model's only rate).
    """

    def __init__(self, threshold: float = 0.5, sampling_rate: int = 16000) -> None:
        if sampling_rate != 16000:
            raise ValueError(f"the bundled Silero VAD runs at 16000 Hz only, not {sampling_rate}")
        self.threshold = threshold
        self.sampling_rate = sampling_rate
        self._session = _vad_session()
        self.reset()

    def reset(self) -> None:
        """Start a new stream: clear the recurrent state and the context."""
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(_VAD_CONTEXT, np.float32)

    def speech_probability(self, window: FloatArray) -> float:
        """The speech probability of one 512-sample window, continuing the stream."""
        if window.shape != (VAD_WINDOW,):
            raise ValueError(f"expected {VAD_WINDOW} samples, got shape {window.shape}")
        x = np.concatenate((self._context, window.astype(np.float32, copy=False)))[None, :]
        out, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = x[0, -_VAD_CONTEXT:].copy()
        return float(np.asarray(out).reshape(-1)[0])


def whisper_factories(
    options: LocalOptions, *, cpu_threads: int = 0, cache_dir: Path | None = None
) -> tuple[Callable[[], WhisperTranscriber], Callable[[float], SileroVad]]:
    """The two factories a ``LocalEngine`` takes, for ``options``' model and device.

    The composition roots (CLI, desktop app, ``hark serve``) build the engine with them:
    ``LocalEngine(*whisper_factories(options))``.
    """

    def transcriber() -> WhisperTranscriber:
        return WhisperTranscriber(
            options.model,
            device=options.device,
            compute_type=options.compute_type,
            cpu_threads=cpu_threads,
            cache_dir=cache_dir,
        )

    return transcriber, SileroVad
