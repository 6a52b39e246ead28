"""The server side's reading of Baseten's metadata frame (docs/wire-protocols.md §4.2), no I/O.

Both schemas are validated with Pydantic's ``extra="forbid"`` semantics: an unknown
key at any level is an error, and so is a value of the wrong JSON type (an int counts
as a number; a bool never does). What passes is normalised into one
:class:`SessionParams`, the settings the local engine uses; keys Baseten documents but
the local engine has no use for (diarization, ``output_language``,
``language_options``, the sampling parameters other than ``beam_width``, ...) are
validated and then ignored.

Where the metadata leaves a key out, the value comes from the ``defaults`` given to
:func:`parse_metadata`: Baseten's own defaults (``SessionParams()``) unless the server
was configured otherwise.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from app.core.options import LocalOptions

AcceptSchema = Literal["current", "legacy", "both"]
Check = Callable[[Any, str], list[str]]

SUPPORTED_RATES = (16000, 8000)
MAX_BEAM_WIDTH = 16
MIN_PARTIAL_INTERVAL_S = 0.1
MAX_FINAL_DURATION_S = 30.0
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class SessionParams:
    """The settings of one session, normalised from either schema.

    The defaults are Baseten's (docs/wire-protocols.md §4.2), which a Baseten client expects.

    Attributes:
        schema: ``"current"`` (schema B) or ``"legacy"`` (schema A).
        language: Spoken language code; ``None`` detects it (``"auto"`` on the wire).
        prompt: Text that primes the model (``initial_prompt``).
        word_timestamps: Send per-word timestamps.
        partials: Send partial transcripts while in speech.
        partial_interval_s: Buffered audio seconds between partials (at least 0.1).
        skip_partial_if_hallucination: Re-send the previous partial instead of a
            partial Whisper flags as a possible hallucination.
        vad_threshold: Speech probability threshold.
        vad_min_silence_ms: Silence that ends an utterance.
        vad_speech_pad_ms: Audio kept around speech.
        max_final_duration_s: Longest utterance before a forced final (at most 30).
        beam_width: Beam search width (1 = greedy).
        encoding: ``"pcm_s16le"`` or ``"pcm_mulaw"``.
        sample_rate: 16000 or 8000 (8 kHz audio is resampled to 16 kHz).
        latency_metric: Add ``pipeline_latency`` to results.
        stream_id: The client's stream id, echoed in errors; ``None`` if not given.
    """

    schema: Literal["current", "legacy"] = "current"
    language: str | None = "en"
    prompt: str = ""
    word_timestamps: bool = False
    partials: bool = False
    partial_interval_s: float = 0.5
    skip_partial_if_hallucination: bool = True
    vad_threshold: float = 0.5
    vad_min_silence_ms: float = 300.0
    vad_speech_pad_ms: float = 0.0
    max_final_duration_s: float = MAX_FINAL_DURATION_S
    beam_width: int = 1
    encoding: str = "pcm_s16le"
    sample_rate: int = 16000
    latency_metric: bool = False
    stream_id: str | None = None


def params_from_options(options: LocalOptions) -> SessionParams:
    """Session defaults from the local provider's options (a server's ``defaults``)."""
    return SessionParams(
        language=None if options.language == "auto" else options.language,
        prompt=options.prompt,
        word_timestamps=options.word_timestamps,
        partials=options.partials,
        partial_interval_s=options.partial_interval_s,
        vad_threshold=options.vad_threshold,
        vad_min_silence_ms=options.vad_min_silence_ms,
        beam_width=options.beam_width,
    )


# -- type checks (JSON types, strictly) ---------------------------------------------------


def _num(lo: float | None = None, hi: float | None = None, *, nullable: bool = False) -> Check:
    def check(v: Any, path: str) -> list[str]:
        if v is None and nullable:
            return []
        if isinstance(v, bool) or not isinstance(v, int | float):
            return [f"{path}: expected a number, got {v!r}"]
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return [f"{path}: {v!r} is out of range [{lo}, {hi}]"]
        return []

    return check


def _int(lo: int | None = None, *, nullable: bool = False) -> Check:
    def check(v: Any, path: str) -> list[str]:
        if v is None and nullable:
            return []
        if isinstance(v, bool) or not isinstance(v, int):
            return [f"{path}: expected an integer, got {v!r}"]
        return [] if lo is None or v >= lo else [f"{path}: {v!r} is below {lo}"]

    return check


def _bool(v: Any, path: str) -> list[str]:
    return [] if isinstance(v, bool) else [f"{path}: expected a boolean, got {v!r}"]


def _str(*choices: str, nullable: bool = False) -> Check:
    def check(v: Any, path: str) -> list[str]:
        if v is None and nullable:
            return []
        if not isinstance(v, str):
            return [f"{path}: expected a string, got {v!r}"]
        if choices and v not in choices:
            return [f"{path}: {v!r} is not one of {list(choices)}"]
        return []

    return check


def _list(item: Check) -> Check:
    def check(v: Any, path: str) -> list[str]:
        if not isinstance(v, list):
            return [f"{path}: expected a list, got {v!r}"]
        return [e for k, x in enumerate(v) for e in item(x, f"{path}[{k}]")]

    return check


def _any_object(v: Any, path: str) -> list[str]:
    return [] if isinstance(v, dict) else [f"{path}: expected an object, got {v!r}"]


def _object(fields: Mapping[str, Check]) -> Check:
    def check(v: Any, path: str) -> list[str]:
        if not isinstance(v, dict):
            return [f"{path or 'metadata'}: expected an object, got {v!r}"]
        errors: list[str] = []
        for key, value in v.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in fields:
                errors.append(f"{where}: extra inputs are not permitted")
            else:
                errors += fields[key](value, where)
        return errors

    return check


# -- the schemas -----------------------------------------------------------------------------

_SAMPLING = _object(
    {
        "beam_width": _int(1),
        "length_penalty": _num(),
        "repetition_penalty": _num(),
        "beam_search_diversity_rate": _num(nullable=True),
        "no_repeat_ngram_size": _int(0, nullable=True),
        "sampling_temperatures": _list(_num(0)),
        "max_new_tokens": _int(1),
    }
)
_WHISPER: dict[str, Check] = {
    "prompt": _str(),
    "audio_language": _str(),
    "output_language": _str(),
    "language_detection_only": _bool,
    "language_options": _list(_str()),
    "use_dynamic_preprocessing": _bool,
    "use_missing_chunk_retry": _bool,
    "missing_chunk_wpm_threshold": _num(0),
    "show_word_timestamps": _bool,
    "enable_vad": _bool,
    "whisper_sampling_params": _SAMPLING,
    "enable_diarization": _bool,
    "diarization_granularity": _str("word", "segment", "sentence", "split_segment"),
    "enable_word_level_diarization": _bool,
    "enable_sentence_level_diarization": _bool,
    "enable_final_diarization": _bool,
    "prefix": _str(nullable=True),
    "show_beam_results": _bool,
    "enable_chunk_level_language_detection": _bool,
}
_STREAMING: dict[str, Check] = {
    "encoding": _str("pcm_s16le", "pcm_mulaw"),
    "sample_rate": _int(1),
    "enable_partial_transcripts": _bool,
    "partial_transcript_interval_s": _num(0),
    "final_transcript_max_duration_s": _num(0),
    "prioritize_latency": _bool,
    "skip_partial_if_hallucination": _bool,
    "include_pipeline_latency_metric": _bool,
}
# Baseten passes this object as **kwargs to StreamingVADIterator: other keys fail there.
_VAD = _object(
    {"threshold": _num(0, 1), "min_silence_duration_ms": _num(0), "speech_pad_ms": _num(0, 10000)}
)
CURRENT = _object(
    {
        "whisper_params": _object(_WHISPER),
        "streaming_params": _object(_STREAMING),
        "streaming_vad_config": _VAD,
        "streaming_diarization_config": _any_object,
        "diarization_config": _any_object,
        "stream_id": _str(nullable=True),
        "include_timing_info": _bool,
    }
)
_LEGACY_STREAMING = ("encoding", "sample_rate", "enable_partial_transcripts")
LEGACY = _object(
    {
        "vad_params": _VAD,
        "streaming_whisper_params": _object(
            {**{k: _STREAMING[k] for k in _LEGACY_STREAMING}, **_WHISPER}
        ),
    }
)
_LEGACY_KEYS = frozenset({"vad_params", "streaming_whisper_params"})


def parse_metadata(
    metadata: Any, accept: AcceptSchema = "both", defaults: SessionParams | None = None
) -> tuple[SessionParams | None, list[str]]:
    """Validate a decoded metadata frame and normalise it.

    Args:
        metadata: The decoded JSON of the first text frame.
        accept: Which schemas this server takes. With ``"both"``, an object with a
            legacy top-level key is read as the legacy schema, anything else as current.
        defaults: Values for keys the metadata leaves out (Baseten's when ``None``).

    Returns:
        ``(params, [])`` when valid, else ``(None, errors)``: one line per problem.
    """
    base = defaults or SessionParams()
    legacy = accept == "legacy" or (
        accept == "both" and isinstance(metadata, dict) and bool(_LEGACY_KEYS & metadata.keys())
    )
    errors = (LEGACY if legacy else CURRENT)(metadata, "")
    if errors:
        return None, errors
    if legacy:
        stream = metadata.get("streaming_whisper_params", {})
        whisper, vad = stream, metadata.get("vad_params", {})
    else:
        stream = metadata.get("streaming_params", {})
        whisper, vad = metadata.get("whisper_params", {}), metadata.get("streaming_vad_config", {})
    sampling = whisper.get("whisper_sampling_params", {})
    changes: dict[str, Any] = {
        "schema": "legacy" if legacy else "current",
        "prompt": whisper.get("prompt"),
        "word_timestamps": whisper.get("show_word_timestamps"),
        "partials": stream.get("enable_partial_transcripts"),
        "partial_interval_s": stream.get("partial_transcript_interval_s"),
        "skip_partial_if_hallucination": stream.get("skip_partial_if_hallucination"),
        "vad_threshold": vad.get("threshold"),
        "vad_min_silence_ms": vad.get("min_silence_duration_ms"),
        "vad_speech_pad_ms": vad.get("speech_pad_ms"),
        "max_final_duration_s": stream.get("final_transcript_max_duration_s"),
        "beam_width": sampling.get("beam_width"),
        "encoding": stream.get("encoding"),
        "sample_rate": stream.get("sample_rate"),
        "latency_metric": stream.get("include_pipeline_latency_metric"),
        "stream_id": None if legacy else metadata.get("stream_id"),
    }
    params = dataclasses.replace(base, **{k: v for k, v in changes.items() if v is not None})
    language = whisper.get("audio_language")
    if language is not None:
        if language != "auto" and not _LANGUAGE_RE.match(language):
            return None, [f"audio_language: {language!r} is not 'auto' or a language code"]
        params = dataclasses.replace(params, language=None if language == "auto" else language)
    return _limit(params)


def _limit(params: SessionParams) -> tuple[SessionParams | None, list[str]]:
    """Reject what the local engine cannot do; clamp what Baseten clamps."""
    if params.sample_rate not in SUPPORTED_RATES:
        return None, [
            f"sample_rate {params.sample_rate} is not supported: use 16000 or 8000 "
            "(the VAD supports only these)"
        ]
    if params.beam_width > MAX_BEAM_WIDTH:
        return None, [f"beam_width {params.beam_width} is too large (at most {MAX_BEAM_WIDTH})"]
    if params.max_final_duration_s <= 0:
        return None, ["final_transcript_max_duration_s must be positive"]
    return dataclasses.replace(
        params,
        partial_interval_s=max(params.partial_interval_s, MIN_PARTIAL_INTERVAL_S),
        max_final_duration_s=min(params.max_final_duration_s, MAX_FINAL_DURATION_S),
    ), []
