"""The user's settings: a typed, versioned model, migrations, and a dict codec.

Three kinds of state are kept apart: these settings (a file), UI state such as the
overlay's position (its own file, owned by the UI), and secrets (the OS keyring only;
never a field here). Every field is declared with :func:`~app.core.options.option`,
so its help, range and choices drive validation, the CLI and the settings dialog.

:func:`from_dict` never fails on bad input: it migrates old versions, resets invalid
or unknown values to their defaults and reports each change as a one-line problem,
so a half-broken file costs the user one setting, not all of them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from app.core.errors import SettingError
from app.core.options import (
    OPTIONS_BY_PROVIDER,
    BasetenOptions,
    FireworksOptions,
    LocalOptions,
    ProviderOptions,
    TogetherOptions,
    check_field,
    option,
)

SCHEMA_VERSION = 1

PROVIDERS = tuple(OPTIONS_BY_PROVIDER)
"""The provider names a setting may hold (one field of ``Settings`` each)."""


@dataclass(frozen=True)
class OverlaySettings:
    """How the caption overlay looks and where it goes."""

    font_size: int = option(20, "Caption font size (points)", min=8, max=96)
    width_percent: int = option(60, "Overlay width (percent of the screen)", min=20, max=100)
    opacity: float = option(0.85, "Background opacity", min=0.2, max=1.0)
    position: str = option("bottom", "Where on the screen", choices=("bottom", "top"))
    screen: str = option("", "Screen name (empty: the primary screen)")
    max_lines: int = option(3, "Lines of text kept on screen", min=1, max=12)
    fade_after_s: float = option(
        4.0, "Hide the captions after this many idle seconds (0: never)", min=0.0, max=600.0
    )

    def __post_init__(self) -> None:
        _validate(self)


@dataclass(frozen=True)
class HotkeySettings:
    """The push-to-talk hotkey (used by the dictation feature)."""

    hotkey: str = option("ctrl+alt+space", "Key combination, e.g. ctrl+alt+space")
    mode: str = option(
        "hold",
        "hold: talk while held; toggle: press to start and stop; hybrid: tap toggles, hold talks",
        choices=("hold", "toggle", "hybrid"),
    )

    def __post_init__(self) -> None:
        _validate(self)
        if not self.hotkey.strip():
            raise SettingError("hotkey", "must name at least one key")


@dataclass(frozen=True)
class Settings:
    """Everything the user can set, except secrets."""

    provider: str = option(
        "local", "Speech-to-text provider (local: offline, no account)", choices=PROVIDERS
    )
    baseten: BasetenOptions = field(default_factory=BasetenOptions)
    together: TogetherOptions = field(default_factory=TogetherOptions)
    fireworks: FireworksOptions = field(default_factory=FireworksOptions)
    local: LocalOptions = field(default_factory=LocalOptions)
    microphone: str = option("", "Input device name (empty: the system default)")
    insertion: str = option(
        "paste",
        "How dictated text reaches the focused window",
        choices=("paste", "type", "clipboard"),
    )
    keep_microphone_open: bool = option(
        False,
        "Keep the microphone open between dictations: recording starts at the very "
        "instant of the key press (the system shows the microphone as in use)",
    )
    history_days: int = option(
        30, "Keep dictated transcripts for this many days (0: forever)", min=0, max=3650
    )
    captions_limit_min: float = option(
        60.0, "Stop live captions after this many minutes (0: never)", min=0.0, max=1440.0
    )
    hotkey: HotkeySettings = field(default_factory=HotkeySettings)
    overlay: OverlaySettings = field(default_factory=OverlaySettings)

    def __post_init__(self) -> None:
        _validate(self)

    def provider_options(self) -> ProviderOptions:
        """The options of the selected provider."""
        value: ProviderOptions = getattr(self, self.provider)
        return value

    def replace(self, **changes: Any) -> Settings:
        """A validated copy with ``changes``."""
        return dataclasses.replace(self, **changes)


LOCAL_FLUSH_TIMEOUT_S = 60.0
"""The local engine transcribes the last utterance after the flush: a slow CPU or a big
model takes seconds for it, not a network round trip."""

FLUSH_TIMEOUT_S = 5.0
"""How long a cloud provider gets to answer a flush with the last final."""


def flush_timeout_s(provider: str) -> float:
    """How long a session with ``provider`` waits for its last final after the flush."""
    return LOCAL_FLUSH_TIMEOUT_S if provider == "local" else FLUSH_TIMEOUT_S


def needs_new_dictation(old: Settings, new: Settings) -> bool:
    """Whether going from ``old`` to ``new`` needs a new dictation built.

    A dictation fixes its microphone (which device, and whether it stays open) and its
    provider's flush timeout when it is built; everything else it reads per use.
    """
    return (
        new.keep_microphone_open != old.keep_microphone_open
        or new.microphone != old.microphone
        or new.provider != old.provider
    )


def _validate(obj: Any) -> None:
    # The same field checks ProviderOptions runs (ranges, choices, languages).
    for f in dataclasses.fields(obj):
        check_field(obj, f)


# -- migrations -------------------------------------------------------------------------

Migration = Callable[[dict[str, Any], list[str]], dict[str, Any]]
"""Takes the raw dict of version N and the problem list; returns the dict of N+1."""


def _from_0(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """A hand-written file without a version: keys that are secrets are taken out."""
    for key in [k for k in data if k.endswith("api_key")]:
        data.pop(key)
        problems.append(
            f"Removed {key!r} from the settings file: API keys belong in the keyring "
            "(set them in Settings or with `hark keys set`)."
        )
    return data


MIGRATIONS: dict[int, Migration] = {0: _from_0}
"""``MIGRATIONS[n]`` turns a version-``n`` dict into version ``n + 1``."""


def migrate(
    data: dict[str, Any], problems: list[str], migrations: dict[int, Migration] | None = None
) -> dict[str, Any]:
    """Bring ``data`` up to :data:`SCHEMA_VERSION`, noting what changed in ``problems``."""
    steps = MIGRATIONS if migrations is None else migrations
    version = data.pop("version", 0)
    if not isinstance(version, int) or version < 0:
        problems.append(f"Unknown settings version {version!r}; reading it as the current one.")
        version = SCHEMA_VERSION
    if version > SCHEMA_VERSION:
        problems.append(
            f"The settings file is from a newer Hark (version {version}); "
            "settings this version does not know are ignored."
        )
    while version < SCHEMA_VERSION:
        data = steps[version](data, problems)
        version += 1
    return data


# -- the dict codec ------------------------------------------------------------------------


def to_dict(settings: Settings) -> dict[str, Any]:
    """The settings as plain JSON-ready data, with ``version`` first."""
    data = dataclasses.asdict(settings)
    for name in OPTIONS_BY_PROVIDER:
        data[name] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in data[name].items()}
    return {"version": SCHEMA_VERSION, **data}


def _build(cls: type[Any], raw: Any, where: str, problems: list[str]) -> Any:
    """Build ``cls`` from ``raw``, dropping whatever does not fit, field by field."""
    if not isinstance(raw, dict):
        problems.append(f"{where or 'settings'}: expected a table; using the defaults.")
        return cls()
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in raw.items():
        name = f"{where}.{key}" if where else key
        if key not in fields:
            problems.append(f"Ignored the unknown setting {name}.")
            continue
        hint = hints[key]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, name, problems)
            continue
        if isinstance(value, list):
            value = tuple(value)
        if not _type_ok(hint, value):
            problems.append(f"Reset {name} to its default: {value!r} has the wrong type.")
            continue
        try:
            cls(**{**kwargs, key: value})
        except SettingError as exc:
            problems.append(f"Reset {name} to its default: {exc.message}.")
            continue
        kwargs[key] = value
    return cls(**kwargs)


def _type_ok(hint: Any, value: Any) -> bool:
    """Whether ``value`` (from JSON, lists already made tuples) fits the annotation."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        return value in args
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(a, value) for a in args)
    if hint is type(None):
        return value is None
    if origin is tuple:
        return isinstance(value, tuple) and all(isinstance(v, str) for v in value)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(hint, type) and isinstance(value, hint)


def from_dict(data: Any) -> tuple[Settings, list[str]]:
    """Read settings from parsed JSON, never failing.

    Returns:
        The settings, and one line per problem found (empty when the data was clean).
    """
    problems: list[str] = []
    if not isinstance(data, dict):
        return Settings(), ["The settings file does not hold a table; using the defaults."]
    data = migrate(dict(data), problems)
    settings = _build(Settings, data, "", problems)
    assert isinstance(settings, Settings)
    return settings, problems
