"""Wire helpers shared by the JSON-speaking provider protocols."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from app.core import jsonwire
from app.core.events import ProviderError


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
