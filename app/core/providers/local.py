"""The "local" provider: Hark's Baseten client talking to the in-process local engine.

The local engine speaks Baseten's v1 streaming protocol (``app.core.baseten_server``),
so the client side is :class:`~app.core.providers.baseten.BasetenProtocol` with the
current metadata schema built from :class:`~app.core.options.LocalOptions`. Only the
address differs: ``local:///<model>?device=<device>&compute_type=<type>``, with the
model (a size, or a folder path) percent-encoded into one path segment. No key, no
header: ``app.engine.local_connector.LocalConnector`` opens such URLs in memory.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from app.core.options import BasetenOptions, LocalOptions
from app.core.providers.base import ConnectRequest
from app.core.providers.baseten import BasetenProtocol

SCHEME = "local"
SPEECH_PAD_MS = 400
"""Audio kept around detected speech: Whisper hears word onsets and endings whole."""


def local_url(options: LocalOptions) -> str:
    """The ``local:`` URL naming ``options``' model, device and compute type, for logs."""
    model = quote(options.model, safe="")
    return f"{SCHEME}:///{model}?device={options.device}&compute_type={options.compute_type}"


def as_baseten_options(options: LocalOptions) -> BasetenOptions:
    """The Baseten client options that carry ``options`` to the local engine."""
    return BasetenOptions(
        schema="current",
        vad_threshold=options.vad_threshold,
        vad_min_silence_ms=options.vad_min_silence_ms,
        vad_speech_pad_ms=SPEECH_PAD_MS,
        partials=options.partials,
        partial_interval_s=options.partial_interval_s,
        language=options.language,
        prompt=options.prompt,
        word_timestamps=options.word_timestamps,
        beam_width=options.beam_width,
    )


class LocalProtocol(BasetenProtocol):
    """Baseten's client protocol aimed at the in-process local engine."""

    provider = "local"
    # The engine takes the metadata it is sent (built here), so a close before any
    # message is a failure to report as such, not a refused schema to retry.
    CONFIG_REJECT_CLOSE_CODES: ClassVar[frozenset[int | None] | None] = frozenset()
    # The engine always answers end_audio; silence would only cost it decoding work.
    TRAILING_SILENCE: ClassVar[bool] = False

    def __init__(self, options: LocalOptions) -> None:
        """Create the protocol for validated local options (current schema, 16 kHz s16le)."""
        super().__init__(as_baseten_options(options), schema="current")
        self.local_options = options

    def connect_request(self, api_key: str) -> ConnectRequest:
        """The ``local:`` URL; no headers (``api_key`` is ignored: none is needed)."""
        return ConnectRequest(local_url(self.local_options), local=self.local_options)

    def _on_error(self, msg: dict[str, Any], first: bool) -> None:
        # The engine builds valid metadata itself, so an error arriving first is not a
        # refused schema (nothing to retry) but a real failure: a model that cannot be
        # loaded, a busy engine. Report it as such.
        super()._on_error(msg, False)
