"""Command-line flags built from the provider option dataclasses.

Every field of every provider's options becomes a flag (``vad_threshold`` ->
``--vad-threshold``), with the field's help text, type, choices, range and default,
so a new option in ``app.core.options`` is on the command line without further work.
Flags default to "not given"; a flag given for a provider that has no such option is
an error that names the providers it applies to.

Help is per provider when the command line names one (``--provider local --help``):
only that provider's flags, with its own ranges and defaults. Without one, each flag
that several providers share lists every provider's range and default.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

from app.argparsing import number
from app.core.errors import SettingError
from app.core.options import OPTIONS_BY_PROVIDER, ProviderOptions

# Flags with their own, friendlier spelling on the transcribe command.
_RENAMED = {"model_id": "--model-id"}


def flag_name(field_name: str) -> str:
    """The command-line spelling of an option name."""
    return _RENAMED.get(field_name, "--" + field_name.replace("_", "-"))


def _base_type(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _base_type(args[0])
    if origin is typing.Literal:
        return type(args[0])
    return annotation


def _parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _parse_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclasses.dataclass(frozen=True)
class _Flag:
    """One option name as the providers that have it declare it."""

    base: Any
    fields: dict[str, dataclasses.Field[Any]]  # provider -> its field


def _flags() -> dict[str, _Flag]:
    """Every option name -> its type and each provider's field."""
    out: dict[str, _Flag] = {}
    for provider, cls in OPTIONS_BY_PROVIDER.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.metadata.get("app_only"):
                continue
            if f.name not in out:
                out[f.name] = _Flag(_base_type(hints[f.name]), {})
            out[f.name].fields[provider] = f
    return out


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value) or "none"
    if value in (None, ""):
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _details(f: dataclasses.Field[Any]) -> str:
    """``(1..10, default 5)``: what one provider allows and uses when not given."""
    meta = f.metadata
    parts = []  # choices are in the flag's metavar
    if meta.get("min") is not None:
        parts.append(f"{meta['min']:g}..{meta['max']:g}")
    parts.append(f"default {_show(_default(f))}")
    return f"({', '.join(parts)})"


def _help(flag: _Flag, provider: str | None) -> str:
    if provider is not None:
        f = flag.fields[provider]
        return f"{f.metadata.get('help', '')} {_details(f)}"
    if len(flag.fields) == 1:
        (f,) = flag.fields.values()
        return f"{f.metadata.get('help', '')} {_details(f)}"
    helps = {f.metadata.get("help", "") for f in flag.fields.values()}
    if len(helps) == 1:  # the same meaning everywhere: one text, then each provider's range
        per = "; ".join(f"{p} {_details(f)}" for p, f in flag.fields.items())
        return f"{helps.pop()}. {per}"
    return "; ".join(
        f"{p}: {f.metadata.get('help', '')} {_details(f)}" for p, f in flag.fields.items()
    )


def add_option_flags(parser: argparse.ArgumentParser, provider: str | None = None) -> None:
    """Add one flag per provider option.

    Args:
        parser: The command's parser.
        provider: The provider the command line names, if any: only its flags are
            shown in ``--help``, with its ranges and defaults (the others still parse,
            so using one gets a clear error, not "unrecognized argument").
    """
    groups: dict[str, Any] = {}
    for name, flag in _flags().items():
        own = provider is None or provider in flag.fields
        if provider is not None:
            key = provider if own else "hidden"
        else:
            key = "shared" if len(flag.fields) > 1 else next(iter(flag.fields))
        if key not in groups:
            if key == "shared":
                title = "options for several providers"
            elif key == "hidden":
                title = "hidden"
            else:
                title = f"{key} options"
            groups[key] = parser.add_argument_group(title)
        kwargs: dict[str, Any] = {"dest": f"opt_{name}", "default": argparse.SUPPRESS}
        base = flag.base
        if base is bool:
            kwargs.update(type=_parse_bool, metavar="BOOL")
        elif base is int or base is float:
            kwargs.update(type=number(base), metavar={int: "N", float: "X"}[base])
        elif base is str:
            kwargs.update(metavar="TEXT")
        else:  # tuple[str, ...]
            kwargs.update(type=_parse_list, metavar="A,B")
        choices = [f.metadata.get("choices") or () for f in flag.fields.values()]
        if all(choices):
            union = dict.fromkeys(str(c) for group in choices for c in group)
            kwargs["metavar"] = "{" + ",".join(union) + "}"
        kwargs["help"] = _help(flag, provider) if own else argparse.SUPPRESS
        groups[key].add_argument(flag_name(name), **kwargs)


def options_from_args(provider: str, args: argparse.Namespace) -> ProviderOptions:
    """Build ``provider``'s options from the flags the user gave.

    Raises:
        SettingError: a flag belongs to another provider, or a value is out of range or
            not one of the choices.
    """
    cls = OPTIONS_BY_PROVIDER[provider]
    flags = _flags()
    given = {
        name[len("opt_") :]: value for name, value in vars(args).items() if name.startswith("opt_")
    }
    for name in given:
        if provider not in flags[name].fields:
            owners = ", ".join(flags[name].fields)
            raise SettingError(
                flag_name(name), f"is not a {provider} option (it applies to: {owners})"
            )
    try:
        return cls(**given)
    except SettingError as exc:
        raise SettingError(flag_name(exc.name), exc.message) from None
