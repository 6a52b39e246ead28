"""Provider options: defaults, validation messages, and the command-line flags built from them."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from app.cli.option_flags import add_option_flags, flag_name, options_from_args
from app.core.errors import SettingError
from app.core.options import (
    OPTIONS_BY_PROVIDER,
    BasetenOptions,
    FireworksOptions,
    TogetherOptions,
)


@pytest.mark.parametrize(
    ("cls", "changes", "message"),
    [
        (BasetenOptions, {"vad_threshold": 1.5}, "vad_threshold: must be between 0 and 1, got 1.5"),
        (BasetenOptions, {"max_final_duration_s": 31}, "between 1 and 30, got 31"),
        (BasetenOptions, {"beam_width": 0}, "beam_width: must be between 1 and 16"),
        (BasetenOptions, {"sample_rate": 44100}, "sample_rate: must be one of 16000, 8000"),
        (BasetenOptions, {"schema": "new"}, "schema: must be one of 'auto', 'current', 'legacy'"),
        (BasetenOptions, {"language": "English"}, "language: must be 'auto' or a lowercase ISO"),
        (BasetenOptions, {"language_options": ("en", "xx1")}, "language_options: must be a"),
        (BasetenOptions, {"no_repeat_ngram_size": 0}, "no_repeat_ngram_size: must be between 1"),
        (TogetherOptions, {"vad_max_speech_s": 0.5}, "vad_max_speech_s: must be between 1"),
        (TogetherOptions, {"vad_threshold": -0.1}, "vad_threshold: must be between 0 and 1"),
        (FireworksOptions, {"temperature": 2.0}, "temperature: must be between 0 and 1"),
    ],
)
def test_out_of_range_values_are_refused_with_name_and_range(
    cls: type, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingError) as info:
        cls(**changes)
    assert message in str(info.value)
    assert info.value.name == next(iter(changes))


def test_defaults_suit_dictation() -> None:
    assert TogetherOptions().vad_max_speech_s >= 30  # Together's own default (5 s) cuts sentences
    assert BasetenOptions().schema == "auto"
    assert BasetenOptions().partials is True


def test_every_option_has_help_text() -> None:
    for cls in OPTIONS_BY_PROVIDER.values():
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_option_flags(parser)
    return parser.parse_args(argv)


def test_every_option_but_the_apps_own_is_a_flag() -> None:
    parser = argparse.ArgumentParser()
    add_option_flags(parser)
    flags = {s for a in parser._actions for s in a.option_strings}
    for cls in OPTIONS_BY_PROVIDER.values():
        for f in dataclasses.fields(cls):
            assert (flag_name(f.name) in flags) != f.metadata["app_only"], f.name
    assert "--unload-after-min" not in flags


def test_flags_reach_the_options() -> None:
    args = _parse(
        [
            "--model-id", "abc123", "--vad-threshold", "0.7", "--partials", "false",
            "--language-options", "en, de", "--beam-width", "4", "--language", "auto",
        ]
    )  # fmt: skip
    options = options_from_args("baseten", args)
    assert isinstance(options, BasetenOptions)
    assert options.model_id == "abc123"
    assert options.vad_threshold == 0.7
    assert options.partials is False
    assert options.language_options == ("en", "de")
    assert options.beam_width == 4
    assert options.language == "auto"


def test_flag_of_another_provider_is_refused() -> None:
    with pytest.raises(SettingError, match=r"--beam-width: is not a together option"):
        options_from_args("together", _parse(["--beam-width", "2"]))


def test_out_of_range_flag_names_the_flag() -> None:
    with pytest.raises(SettingError, match=r"^--vad-threshold: must be between 0 and 1, got 2$"):
        options_from_args("together", _parse(["--vad-threshold", "2"]))


def test_bad_boolean_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        _parse(["--partials", "maybe"])
