"""Every provider the app speaks to, one spec each: the place a provider is plugged in.

A :class:`ProviderSpec` says which options class belongs to the provider, how to build
its sans-I/O protocol for one connection, and which connection variants to try in turn
(Baseten's two metadata schemas; one plain connection for the others). The engine asks
this module, never the protocol modules, so nothing here is probed with ``isinstance``
chains or ``getattr``, and the protocol modules import only :mod:`.base` (no circle).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.core.options import (
    BasetenOptions,
    FireworksOptions,
    LocalOptions,
    ProviderOptions,
    TogetherOptions,
)
from app.core.providers.base import StreamingProtocol
from app.core.providers.baseten import BasetenProtocol, schema_variants
from app.core.providers.fireworks import FireworksProtocol
from app.core.providers.local import LocalProtocol
from app.core.providers.together import TogetherProtocol


def _single(options: Any, remembered: str | None) -> tuple[str | None, ...]:
    return (None,)


@dataclass(frozen=True)
class ProviderSpec:
    """One provider, as the engine needs to know it.

    Attributes:
        name: The provider's short name (``ProviderOptions.provider``).
        options: Its options class.
        protocol: ``protocol(options, variant)`` builds the protocol for one connection.
        variants: ``variants(options, remembered)``: the connection variants to try, in
            order, given the one that last worked for the endpoint (``None`` if none
            did); a variant the provider refuses (``ConfigRejected``) moves to the next.
            ``(None,)`` for a provider with one way to connect.
    """

    name: str
    options: type[ProviderOptions]
    protocol: Callable[[Any, str | None], StreamingProtocol]
    variants: Callable[[Any, str | None], Sequence[str | None]] = _single


SPECS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        "baseten",
        BasetenOptions,
        lambda o, schema: BasetenProtocol(o, schema=schema or "current"),
        schema_variants,
    ),
    ProviderSpec("together", TogetherOptions, lambda o, _: TogetherProtocol(o)),
    ProviderSpec("fireworks", FireworksOptions, lambda o, _: FireworksProtocol(o)),
    ProviderSpec("local", LocalOptions, lambda o, _: LocalProtocol(o)),
)

_BY_OPTIONS = {spec.options: spec for spec in SPECS}


def spec_for(options: ProviderOptions) -> ProviderSpec:
    """The spec of ``options``' provider.

    Raises:
        TypeError: For an options class no spec names.
    """
    try:
        return _BY_OPTIONS[type(options)]
    except KeyError:
        raise TypeError(f"no protocol for {type(options).__name__}") from None


def build_protocol(options: ProviderOptions, *, schema: str | None = None) -> StreamingProtocol:
    """The protocol for ``options``' provider; ``schema`` is the connection variant."""
    return spec_for(options).protocol(options, schema)


def connection_variants(options: ProviderOptions, remembered: str | None) -> list[str | None]:
    """The variants to try for ``options``, the one remembered for its endpoint first."""
    return list(spec_for(options).variants(options, remembered))
