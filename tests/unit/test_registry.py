"""The provider registry: one spec a provider, and what the engine asks of it."""

from __future__ import annotations

import pytest

from app.core.options import (
    OPTIONS_BY_PROVIDER,
    BasetenOptions,
    FireworksOptions,
    LocalOptions,
    ProviderOptions,
    TogetherOptions,
)
from app.core.providers.registry import SPECS, build_protocol, connection_variants, spec_for


def test_every_options_class_has_one_spec() -> None:
    assert {s.name for s in SPECS} == set(OPTIONS_BY_PROVIDER)
    for spec in SPECS:
        assert OPTIONS_BY_PROVIDER[spec.name] is spec.options


@pytest.mark.parametrize(
    "options",
    [BasetenOptions(), TogetherOptions(), FireworksOptions(), LocalOptions()],
    ids=lambda o: o.provider,
)
def test_build_protocol_gives_the_providers_own(options: ProviderOptions) -> None:
    assert build_protocol(options).provider == options.provider


def test_baseten_auto_tries_the_remembered_schema_first() -> None:
    auto = BasetenOptions(schema="auto")
    assert connection_variants(auto, None) == ["current", "legacy"]
    assert connection_variants(auto, "legacy") == ["legacy", "current"]
    assert connection_variants(auto, "nonsense") == ["current", "legacy"]
    assert connection_variants(BasetenOptions(schema="legacy"), "current") == ["legacy"]
    legacy = build_protocol(auto, schema="legacy")
    assert legacy.schema == "legacy"  # type: ignore[attr-defined]


def test_other_providers_connect_one_way() -> None:
    assert connection_variants(TogetherOptions(), "legacy") == [None]
    assert connection_variants(LocalOptions(), None) == [None]


def test_an_unknown_options_class_is_a_type_error() -> None:
    class Elsewhere(ProviderOptions):
        provider = "elsewhere"

    with pytest.raises(TypeError, match="no protocol for Elsewhere"):
        spec_for(Elsewhere())
