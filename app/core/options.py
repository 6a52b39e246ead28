"""Typed, validated provider options.

Every option a provider documents is a field here, with its default, a help line and
its valid range or choices in the field metadata. Construction validates: an
out-of-range value raises :class:`~app.core.errors.SettingError` naming the option
and the range. The CLI builds its flags from the same metadata, and the settings
dialog will too, so there is one source of truth for names, bounds and help.

Where a provider publishes no range (Baseten's beam search settings and VAD timings,
Together's ``vad_max_speech_s``), the bounds here are ours: sane limits that stop
typos (a VAD threshold of 5, a beam width of 500) from reaching the wire.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from app.core.errors import SettingError
from app.core.urls import is_loopback_host

_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")


def option(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    choices: tuple[Any, ...] | None = None,
    kind: str | None = None,
    app_only: bool = False,
) -> Any:
    """Declare an option field with its help text and bounds.

    Args:
        default: The value used when the user sets nothing.
        help: One line shown by ``--help`` and in the settings dialog.
        min: Smallest allowed value (inclusive), for numbers.
        max: Largest allowed value (inclusive), for numbers.
        choices: The allowed values, for enumerations.
        kind: ``"language"`` or ``"languages"`` for language-code validation.
        app_only: A setting of the desktop app only, with no command-line flag.
    """
    meta = {
        "help": help,
        "min": min,
        "max": max,
        "choices": choices,
        "kind": kind,
        "app_only": app_only,
    }
    if isinstance(default, list | tuple):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


def _check_language(name: str, value: str, *, allow_auto: bool) -> None:
    if allow_auto and value == "auto":
        return
    if not _LANGUAGE_RE.match(value):
        hint = "'auto' or " if allow_auto else ""
        raise SettingError(
            name,
            f"must be {hint}a lowercase ISO 639 language code like 'en' or 'de', got {value!r}",
        )


def check_field(obj: object, f: dataclasses.Field[Any]) -> None:
    """Validate one :func:`option` field of ``obj``; raises :class:`SettingError`."""
    name = f.name
    value = getattr(obj, name)
    meta = f.metadata
    if not meta or value is None:
        return
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        shown = ", ".join(repr(c) for c in choices)
        raise SettingError(name, f"must be one of {shown}, got {value!r}")
    if isinstance(value, bool):
        return
    lo, hi = meta.get("min"), meta.get("max")
    if isinstance(value, int | float) and (
        (lo is not None and value < lo) or (hi is not None and value > hi)
    ):
        raise SettingError(name, f"must be between {lo:g} and {hi:g}, got {value:g}")
    kind = meta.get("kind")
    if kind == "language":
        _check_language(name, value, allow_auto=True)
    elif kind == "languages":
        for code in value:
            _check_language(name, code, allow_auto=False)


@dataclass(frozen=True)
class ProviderOptions:
    """Base for each provider's options: validation on construction, and introspection."""

    provider: ClassVar[str]
    title: ClassVar[str]
    """How the provider is named to the user."""
    key_env: ClassVar[str | None] = None
    """The environment variable that may hold its API key; ``None``: it needs no key."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check_field(self, f)

    def replace(self, **changes: Any) -> ProviderOptions:
        """Return a copy with ``changes`` applied (validated like a new instance)."""
        return dataclasses.replace(self, **changes)


BasetenSchema = Literal["auto", "current", "legacy"]


@dataclass(frozen=True)
class BasetenOptions(ProviderOptions):
    """Baseten "Whisper Streaming Large v3" options (docs/wire-protocols.md §1.2).

    ``endpoint`` or ``model_id`` says where to connect; the rest goes into the
    metadata JSON. Under the legacy schema only the keys that schema documents are
    sent (see ``app.core.providers.baseten``).
    """

    provider: ClassVar[str] = "baseten"
    title: ClassVar[str] = "Baseten"
    key_env: ClassVar[str | None] = "BASETEN_API_KEY"

    model_id: str | None = option(None, "Baseten model id (builds the production URL)")
    endpoint: str | None = option(None, "Full WebSocket URL; overrides the model id")
    schema: BasetenSchema = option(
        "auto",
        "Metadata schema: current, legacy, or auto (try current, fall back once)",
        choices=("auto", "current", "legacy"),
    )
    encoding: str = option(
        "pcm_s16le", "Audio encoding on the wire", choices=("pcm_s16le", "pcm_mulaw")
    )
    sample_rate: int = option(
        16000,
        "Audio sample rate on the wire (Hz); the VAD supports only these",
        choices=(16000, 8000),
    )
    vad_threshold: float = option(0.5, "Speech probability threshold of the VAD", min=0.0, max=1.0)
    vad_min_silence_ms: int = option(300, "Silence (ms) that ends an utterance", min=0, max=10000)
    vad_speech_pad_ms: int = option(30, "Audio (ms) kept around detected speech", min=0, max=2000)
    partials: bool = option(True, "Send partial transcripts while speaking")
    partial_interval_s: float = option(
        0.5, "Buffered audio (s) between partials", min=0.1, max=10.0
    )
    max_final_duration_s: float = option(
        30.0,
        "Longest utterance (s) before a forced final; the server caps it at 30",
        min=1.0,
        max=30.0,
    )
    language: str = option("en", "Spoken language code, or 'auto' to detect", kind="language")
    prompt: str = option("", "Text that primes the vocabulary and style")
    language_detection_only: bool = option(False, "Only detect the language; no transcript")
    language_options: tuple[str, ...] = option(
        (), "Languages auto-detection may choose from (runtime >= v0.5.0)", kind="languages"
    )
    dynamic_preprocessing: bool = option(False, "Let the server normalise the audio level")
    word_timestamps: bool = option(False, "Ask for per-word timestamps")
    beam_width: int = option(1, "Beam search width (1 = greedy)", min=1, max=16)
    length_penalty: float = option(2.0, "Beam search length penalty", min=0.0, max=10.0)
    repetition_penalty: float = option(1.01, "Penalty on repeated tokens", min=0.5, max=3.0)
    beam_search_diversity_rate: float | None = option(
        None, "Diversity between beams; unset = server default", min=0.0, max=1.0
    )
    no_repeat_ngram_size: int | None = option(
        None, "Forbid repeating n-grams of this size; unset = off", min=1, max=20
    )


@dataclass(frozen=True)
class TogetherOptions(ProviderOptions):
    """Together AI realtime transcription options (docs/wire-protocols.md §2).

    The VAD defaults suit dictation: a long ``vad_max_speech_s`` so a sentence is not
    cut into 5-second pieces (Together's own default is 5.0).
    """

    provider: ClassVar[str] = "together"
    title: ClassVar[str] = "Together AI"
    key_env: ClassVar[str | None] = "TOGETHER_API_KEY"

    endpoint: str | None = option(None, "WebSocket URL without query; default Together's")
    model: str = option("openai/whisper-large-v3", "Realtime transcription model")
    language: str | None = option(
        None, "Spoken language code (unset: the model decides)", kind="language"
    )
    vad: bool = option(True, "Server-side voice activity detection (off: finals only on flush)")
    vad_threshold: float = option(0.3, "Speech probability threshold of the VAD", min=0.0, max=1.0)
    vad_min_silence_ms: int = option(500, "Silence (ms) that ends a segment", min=0, max=10000)
    vad_min_speech_ms: int = option(250, "Shortest speech (ms) counted", min=0, max=10000)
    vad_max_speech_s: float = option(
        60.0, "Longest segment (s) before a forced final", min=1.0, max=600.0
    )
    vad_speech_pad_ms: int = option(250, "Audio (ms) kept around detected speech", min=0, max=2000)
    # OpenAI-compatible servers answer a commit with `input_audio_buffer.committed`;
    # Together's docs do not say so (Pipecat's logs show it: unverified). Waiting for it
    # keeps a VAD `completed` for earlier speech, arriving after our commit, from
    # being taken for the flush's result; if the server never sends it, the session
    # ends after the flush timeout instead, losing nothing.
    commit_reply: bool = option(
        True, "Expect input_audio_buffer.committed after a commit (off: first completed ends)"
    )


@dataclass(frozen=True)
class FireworksOptions(ProviderOptions):
    """Fireworks streaming transcription options (docs/wire-protocols.md §3)."""

    provider: ClassVar[str] = "fireworks"
    title: ClassVar[str] = "Fireworks"
    key_env: ClassVar[str | None] = "FIREWORKS_API_KEY"

    endpoint: str | None = option(None, "WebSocket URL without query; default Fireworks v1")
    model: str | None = option(None, "Model name (unset: the endpoint's default)")
    language: str = option("auto", "Spoken language code, or 'auto' to detect", kind="language")
    prompt: str = option("", "Text that primes the vocabulary and style")
    temperature: float = option(0.0, "Sampling temperature", min=0.0, max=1.0)
    word_timestamps: bool = option(True, "Ask for word and segment timestamps")


MODEL_SIZES = (
    "tiny", "tiny.en", "base", "base.en", "small", "small.en",
    "medium", "medium.en", "large-v3", "large-v3-turbo",
)  # fmt: skip


@dataclass(frozen=True)
class LocalOptions(ProviderOptions):
    """The local, offline engine (faster-whisper with Silero VAD); no account needed.

    ``model`` is a size from :data:`MODEL_SIZES` (downloaded once into the cache) or
    the path of a folder holding a CTranslate2 Whisper model.
    """

    provider: ClassVar[str] = "local"
    title: ClassVar[str] = "Local (offline)"

    model: str = option(
        "base",
        f"A model size ({', '.join(MODEL_SIZES)}; downloaded once) or the path of a folder "
        "holding a CTranslate2 Whisper model",
    )
    device: str = option("auto", "Where inference runs", choices=("auto", "cpu", "cuda"))
    compute_type: str = option(
        "auto",
        "Numeric precision (auto: int8 on CPU, float16 on CUDA)",
        choices=("auto", "int8", "int8_float16", "float16", "float32"),
    )
    language: str = option("auto", "Spoken language code, or 'auto' to detect", kind="language")
    prompt: str = option("", "Text that primes the vocabulary and style")
    word_timestamps: bool = option(False, "Ask for per-word timestamps")
    partials: bool = option(True, "Show partial transcripts while speaking")
    partial_interval_s: float = option(
        1.0, "Seconds of new audio between partial transcripts", min=0.2, max=10.0
    )
    vad_threshold: float = option(0.5, "Speech probability threshold of the VAD", min=0.0, max=1.0)
    vad_min_silence_ms: int = option(500, "Silence (ms) that ends an utterance", min=0, max=10000)
    beam_width: int = option(5, "Beam search width (1 = greedy, fastest)", min=1, max=10)
    # How long the app keeps the model loaded while unused: a policy of the app, not of
    # the engine's address (app.core.providers.local leaves it out of the local: URL).
    unload_after_min: float = option(
        5.0,
        "Free the model's memory after this many idle minutes; the next use loads it "
        "again (0: never)",
        min=0.0,
        max=1440.0,
        app_only=True,  # `hark transcribe` loads the model once and exits
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.model.strip():
            raise SettingError("model", "name a model size or a model folder")


PROVIDER_OPTIONS: tuple[type[ProviderOptions], ...] = (
    BasetenOptions,
    TogetherOptions,
    FireworksOptions,
    LocalOptions,
)
"""Every provider's options class, in the order the user sees them. The tables below,
the CLI flags, the settings and the registry (``app.core.providers.registry``) follow."""

PROVIDER_TITLES = {cls.provider: cls.title for cls in PROVIDER_OPTIONS}
"""How each provider is named to the user."""

KEYED_PROVIDERS = tuple(cls.provider for cls in PROVIDER_OPTIONS if cls.key_env)
"""Providers that need an API key (the local engine needs none)."""

KEY_ENV_VARS = {cls.provider: cls.key_env for cls in PROVIDER_OPTIONS if cls.key_env}
"""Each keyed provider's usual environment variable, used when the keyring has no key."""


def key_optional(options: ProviderOptions) -> bool:
    """Whether a missing API key may be sent as none instead of stopping the session.

    True for a Baseten endpoint on this machine: ``hark serve`` on loopback takes any
    client, and one started with a token answers a keyless client with HTTP 401, which
    is reported as a refused key. Cloud endpoints always need a key.
    """
    if not isinstance(options, BasetenOptions) or not options.endpoint:
        return False
    host = urlsplit(options.endpoint).hostname
    return host is not None and is_loopback_host(host)


OPTIONS_BY_PROVIDER: dict[str, type[ProviderOptions]] = {
    cls.provider: cls for cls in PROVIDER_OPTIONS
}
