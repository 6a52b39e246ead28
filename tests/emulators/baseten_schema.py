"""Validation of the Baseten metadata frame (docs/wire-protocols.md §1.2), ``extra="forbid"`` style.

Types are checked strictly (JSON types; ints accepted where numbers are expected). Pydantic's lax
mode would coerce a few more values (e.g. the string "true" for a bool); clients should not rely on
that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Check = Callable[[Any, str], list[str]]
AcceptSchema = Literal["current", "legacy", "both", "none"]  # "none": a runtime that takes neither


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


def _free_object(v: Any, path: str) -> list[str]:
    return [] if isinstance(v, dict) else [f"{path}: expected an object, got {v!r}"]


def _object(fields: Mapping[str, Check]) -> Check:
    def check(v: Any, path: str) -> list[str]:
        if not isinstance(v, dict):
            return [f"{path or '<metadata>'}: expected an object, got {v!r}"]
        errors = []
        for key, value in v.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in fields:
                errors.append(f"{where}: Extra inputs are not permitted")
            else:
                errors += fields[key](value, where)
        return errors

    return check


SAMPLING_PARAMS: dict[str, Check] = {
    "beam_width": _int(1),
    "length_penalty": _num(),
    "repetition_penalty": _num(),
    "beam_search_diversity_rate": _num(nullable=True),
    "no_repeat_ngram_size": _int(0, nullable=True),
    "sampling_temperatures": _list(_num(0)),
    "max_new_tokens": _int(1),
}

WHISPER_PARAMS: dict[str, Check] = {
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
    "whisper_sampling_params": _object(SAMPLING_PARAMS),
    "enable_diarization": _bool,
    "diarization_granularity": _str("word", "segment", "sentence", "split_segment"),
    "enable_word_level_diarization": _bool,
    "enable_sentence_level_diarization": _bool,
    "enable_final_diarization": _bool,
    "prefix": _str(nullable=True),
    "show_beam_results": _bool,
    "enable_chunk_level_language_detection": _bool,
}

STREAMING_PARAMS: dict[str, Check] = {
    "encoding": _str("pcm_s16le", "pcm_mulaw"),
    "sample_rate": _int(1),
    "enable_partial_transcripts": _bool,
    "partial_transcript_interval_s": _num(0),
    "final_transcript_max_duration_s": _num(0),
    "prioritize_latency": _bool,
    "skip_partial_if_hallucination": _bool,
    "include_pipeline_latency_metric": _bool,
}

# StreamingVADIterator(**kwargs) takes exactly these; anything else is a TypeError on the server.
VAD_CONFIG: dict[str, Check] = {
    "threshold": _num(0, 1),
    "min_silence_duration_ms": _num(0),
    "speech_pad_ms": _num(0),
}


def schema_b(*, top_level_sampling: bool = False, language_options: bool = True) -> Check:
    whisper = dict(WHISPER_PARAMS)
    if not language_options:
        del whisper["language_options"]
    top: dict[str, Check] = {
        "whisper_params": _object(whisper),
        "streaming_params": _object(STREAMING_PARAMS),
        "streaming_vad_config": _object(VAD_CONFIG),
        "streaming_diarization_config": _free_object,
        "diarization_config": _free_object,
        "stream_id": _str(nullable=True),
        "include_timing_info": _bool,
    }
    if top_level_sampling:
        top["whisper_sampling_params"] = _object(SAMPLING_PARAMS)
        top["asr_options"] = _free_object
    return _object(top)


def schema_a(*, language_options: bool = True) -> Check:
    legacy = {
        key: STREAMING_PARAMS[key]
        for key in ("encoding", "sample_rate", "enable_partial_transcripts")
    }
    legacy.update(WHISPER_PARAMS)
    if not language_options:
        del legacy["language_options"]
    return _object({"vad_params": _object(VAD_CONFIG), "streaming_whisper_params": _object(legacy)})


@dataclass(frozen=True)
class Settings:
    """What the emulator needs from accepted metadata."""

    schema: Literal["current", "legacy"]
    encoding: str = "pcm_s16le"
    sample_rate: int = 16000
    partials: bool = False
    partial_interval_s: float = 0.5
    word_timestamps: bool = False
    language: str = "en"
    latency_metric: bool = False
    timing_info: bool = False
    min_silence_ms: int = 300  # StreamingVADIterator's default


def validate(
    metadata: Any,
    accept: AcceptSchema,
    *,
    top_level_sampling: bool = False,
    language_options: bool = True,
) -> tuple[Settings | None, list[str]]:
    """The settings if ``metadata`` passes an accepted schema, else the validation errors."""
    errors: list[str] = []
    settings: Settings | None = None
    if accept in ("current", "both"):
        check_b = schema_b(top_level_sampling=top_level_sampling, language_options=language_options)
        found = check_b(metadata, "")
        errors += [f"schema B: {e}" for e in found]
        settings = None if found else _settings_b(metadata)
    if settings is None and accept in ("legacy", "both"):
        found = schema_a(language_options=language_options)(metadata, "")
        errors += [f"schema A: {e}" for e in found]
        settings = None if found else _settings_a(metadata)
    if settings is None:
        return None, errors or ["this runtime accepts neither metadata schema"]
    # The Silero VAD supports only 8 kHz and 16 kHz: any other rate fails the session.
    if settings.sample_rate not in (8000, 16000):
        return None, [f"sample_rate {settings.sample_rate} is not supported by the VAD"]
    return settings, []


def _language(value: Any) -> str:
    return "en" if not isinstance(value, str) or value == "auto" else value


def _settings_b(m: dict[str, Any]) -> Settings:
    sp, wp = m.get("streaming_params", {}), m.get("whisper_params", {})
    return Settings(
        schema="current",
        encoding=sp.get("encoding", "pcm_s16le"),
        sample_rate=sp.get("sample_rate", 16000),
        partials=sp.get("enable_partial_transcripts", False),
        partial_interval_s=sp.get("partial_transcript_interval_s", 0.5),
        word_timestamps=wp.get("show_word_timestamps", False),
        language=_language(wp.get("audio_language", "en")),
        latency_metric=sp.get("include_pipeline_latency_metric", False),
        timing_info=m.get("include_timing_info", False),
        min_silence_ms=m.get("streaming_vad_config", {}).get("min_silence_duration_ms", 300),
    )


def _settings_a(m: dict[str, Any]) -> Settings:
    p = m.get("streaming_whisper_params", {})
    return Settings(
        schema="legacy",
        encoding=p.get("encoding", "pcm_s16le"),
        sample_rate=p.get("sample_rate", 16000),
        partials=p.get("enable_partial_transcripts", False),
        word_timestamps=p.get("show_word_timestamps", False),
        language=_language(p.get("audio_language", "en")),
        min_silence_ms=m.get("vad_params", {}).get("min_silence_duration_ms", 300),
    )
