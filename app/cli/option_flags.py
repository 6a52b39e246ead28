"""Command-line flags built from the provider option dataclasses.

Every field of every provider's options becomes a flag (``vad_threshold`` ->
``--vad-threshold``), with the field's help text, type and choices, so a new option
in ``app.core.options`` is on the command line without further work. Flags default to
"not given"; a flag given for a provider that has no such option is an error.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

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


def _fields() -> dict[str, tuple[dataclasses.Field[Any], Any, list[str]]]:
    """Every option name -> (a field, its base type, the providers that have it)."""
    out: dict[str, tuple[dataclasses.Field[Any], Any, list[str]]] = {}
    for provider, cls in OPTIONS_BY_PROVIDER.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name in out:
                out[f.name][2].append(provider)
            else:
                out[f.name] = (f, _base_type(hints[f.name]), [provider])
    return out


def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """Add one flag per provider option, grouped as shared or per provider."""
    groups: dict[str, Any] = {}
    for name, (f, base, providers) in _fields().items():
        key = "shared" if len(providers) > 1 else providers[0]
        if key not in groups:
            title = "options for several providers" if key == "shared" else f"{key} options"
            groups[key] = parser.add_argument_group(title)
        meta = f.metadata
        help_text = meta.get("help", "")
        if key == "shared":
            help_text += f" [{', '.join(providers)}]"
        kwargs: dict[str, Any] = {"dest": f"opt_{name}", "default": argparse.SUPPRESS}
        if base is bool:
            kwargs.update(type=_parse_bool, metavar="BOOL")
            help_text += " (true/false)"
        elif base is int or base is float or base is str:
            kwargs.update(type=base, metavar={int: "N", float: "X", str: "TEXT"}[base])
        else:  # tuple[str, ...]
            kwargs.update(type=_parse_list, metavar="A,B")
        choices = meta.get("choices")
        if choices:
            kwargs["choices"] = choices
        if meta.get("min") is not None:
            help_text += f" ({meta['min']:g}..{meta['max']:g})"
        groups[key].add_argument(flag_name(name), help=help_text, **kwargs)


def options_from_args(provider: str, args: argparse.Namespace) -> ProviderOptions:
    """Build ``provider``'s options from the flags the user gave.

    Raises:
        SettingError: a flag belongs to another provider, or a value is out of range.
    """
    cls = OPTIONS_BY_PROVIDER[provider]
    fields = _fields()
    given = {
        name[len("opt_") :]: value for name, value in vars(args).items() if name.startswith("opt_")
    }
    own = {f.name for f in dataclasses.fields(cls)}
    for name in given:
        if name not in own:
            owners = ", ".join(fields[name][2])
            raise SettingError(
                flag_name(name), f"is not a {provider} option (it applies to: {owners})"
            )
    try:
        return cls(**given)
    except SettingError as exc:
        raise SettingError(flag_name(exc.name), exc.message) from None
