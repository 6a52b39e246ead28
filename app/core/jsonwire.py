"""JSON text frames from the other end of a socket, decoded as untrusted input.

Every JSON message a provider sends (and, for ``hark serve``, every one a client sends)
goes through :func:`loads`: a size limit, a nesting limit (``json.loads`` of tens of
thousands of nested brackets raises ``RecursionError``, not ``ValueError``), and lone
UTF-16 surrogates (``"\\ud83d"`` with no partner) replaced by U+FFFD, since such a
string cannot be encoded to UTF-8 and would fail wherever the text is printed, typed
or stored. Numbers JSON has no spelling for, which ``json.loads`` accepts anyway
(``NaN``, ``Infinity``, and ``1e999``, which overflows to infinity), become ``None``:
passed on in an event, they would make every JSON written from it invalid. What the
limits refuse is one :class:`MalformedMessage`, a ``ValueError``, so a caller's
``except ValueError`` covers every way a frame can be bad.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_CHARS = 4 * 1024 * 1024
"""Longest message accepted: far above any transcript, far below a memory problem."""

MAX_DEPTH = 64
"""Deepest nesting accepted; the protocols use four levels at most."""

EXCERPT_CHARS = 200
"""Most of a bad frame an event quotes: enough to recognise it, never the whole frame."""

MESSAGE_CHARS = 500
"""Longest error text from the other end that an event carries: one line, not a dump."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class MalformedMessage(ValueError):
    """A text frame that is not acceptable JSON: too long, too deep, or not JSON."""


def loads(text: str, *, max_chars: int = MAX_CHARS, max_depth: int = MAX_DEPTH) -> Any:
    """Decode one JSON message; lone surrogates in any string become U+FFFD.

    Raises:
        MalformedMessage: longer than ``max_chars``, nested deeper than ``max_depth``,
            or not valid JSON.
    """
    if len(text) > max_chars:
        raise MalformedMessage(f"a message of {len(text)} characters (the limit is {max_chars})")
    try:
        value = json.loads(text)
    except RecursionError:
        raise MalformedMessage("JSON nested too deeply") from None
    except ValueError as exc:
        raise MalformedMessage(f"invalid JSON: {exc}") from None
    return _clean(value, max_depth)


def clean_text(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (pairs never survive decoding)."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` fit for an event's message or a log line: one line, ``limit`` characters at most.

    Runs of line breaks and other control characters become one space and lone
    surrogates U+FFFD; a text longer than ``limit`` is cut there and ends in "…".
    """
    line = clean_text(_LINE_BREAKING.sub(" ", text[:limit])).strip()
    return line + "…" if len(text) > limit else line


def _clean(value: Any, depth_left: int) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN, Infinity or 1e999: Python's json reads them, no JSON reader can
    if isinstance(value, list | dict):
        if depth_left <= 0:
            raise MalformedMessage("JSON nested too deeply")
        if isinstance(value, list):
            return [_clean(item, depth_left - 1) for item in value]
        return {clean_text(k): _clean(v, depth_left - 1) for k, v in value.items()}
    return value
