"""Wire helpers shared by the JSON-speaking provider protocols."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from app.core import jsonwire
from app.core.events import ProviderError
from app.core.providers.base import State, StreamingProtocol
from app.core.urls import check_endpoint


def format_number(value: float) -> str:
    """Format a query-string number without float noise.

    Whole numbers lose the fraction (``60.0`` -> ``"60"``, ``500`` -> ``"500"``);
    others use the shortest round-trip form (``0.3`` -> ``"0.3"``).
    """
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def join_query(base: str, query: Mapping[str, str]) -> str:
    """Append ``query`` to ``base``, after any query ``base`` already has.

    ``/`` and ``,`` stay literal (both are legal in a query), so the URL reads like
    the provider's docs (``model=openai/whisper-large-v3``).
    """
    if not query:
        return base
    if "?" not in base:
        sep = "?"
    elif base.endswith(("?", "&")):
        sep = ""
    else:
        sep = "&"
    return base + sep + urlencode(query, safe="/,")


def endpoint_url(endpoint: str | None, default: str, query: Mapping[str, str]) -> str:
    """The checked ``endpoint`` (``default`` when unset) with ``query`` appended.

    Raises:
        InsecureEndpointError: when the endpoint is not an acceptable URL.
    """
    return join_query(check_endpoint(endpoint or default), query)


def compact_json(message: Mapping[str, Any]) -> str:
    """``message`` as one JSON text frame without spaces."""
    return json.dumps(message, separators=(",", ":"))


def parse_object(provider: str, text: str) -> tuple[dict[str, Any] | None, ProviderError | None]:
    """Parse a text frame that must hold a JSON object.

    Returns:
        ``(message, None)``, or ``(None, error)`` with a ``"protocol"`` error to report.
    """
    try:
        value = jsonwire.loads(text)
    except ValueError as exc:
        why = f"{provider}: malformed message from the server: {exc}"
        return None, ProviderError(why, "protocol")
    if not isinstance(value, dict):
        kind = type(value).__name__
        return None, ProviderError(f"{provider}: expected a JSON object, got {kind}", "protocol")
    return value, None


class QueryConfiguredProtocol(StreamingProtocol):
    """A protocol whose whole configuration travels in the URL's query string.

    :meth:`start` sends nothing; :meth:`_parse` is the first step of each
    ``receive_text``: the server's message as an object, or ``None`` with the
    protocol error already reported.
    """

    def start(self) -> None:
        """Start streaming. Nothing to send: the configuration is in the URL."""
        self._require(State.IDLE)
        self.state = State.STREAMING

    def _parse(self, text: str) -> dict[str, Any] | None:
        message, error = parse_object(self.provider, text)
        if error is not None:
            self._events.append(error)
        return message
