"""Command-line parsing shared by ``hark COMMAND`` and the desktop app's own options.

A usage mistake ends as one line, ``hark: error: ...`` with a pointer to ``--help``,
and exit status 1, like every other error the user can fix; argparse's default is a
usage dump and status 2. Number types here refuse values no flag can mean (a negative
timeout, a port above 65535) with the flag's name and what is allowed.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import NoReturn

from app.verbosity import split_verbosity

__all__ = ["ArgumentParser", "number", "print_error", "split_verbosity"]

EXIT_USAGE = 1


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit status 1); subparsers inherit it."""

    def error(self, message: str) -> NoReturn:
        """Print ``hark: error: MESSAGE`` and a pointer to ``--help``; exit 1."""
        self.exit(EXIT_USAGE, f"hark: error: {message}. See `{self.prog} --help`.\n")


def number(
    kind: type[int] | type[float],
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    what: str = "",
) -> Callable[[str], float]:
    """An argparse ``type`` that parses a number and checks its range.

    Args:
        kind: ``int`` or ``float``.
        minimum: Smallest allowed value (inclusive).
        maximum: Largest allowed value (inclusive).
        above: The value must be greater than this (exclusive), e.g. 0 for timeouts.
        what: The unit, for the message ("seconds").
    """
    unit = f" {what}" if what else ""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {noun}{unit}, got {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number{unit}, got {text!r}")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"must be more than {above:g}{unit}, got {text}")
        if minimum is not None and value < minimum:
            top = f"..{maximum:g}" if maximum is not None else " or more"
            raise argparse.ArgumentTypeError(f"must be {minimum:g}{top}{unit}, got {text}")
        if maximum is not None and value > maximum:
            low = f"{minimum:g}.." if minimum is not None else "at most "
            raise argparse.ArgumentTypeError(f"must be {low}{maximum:g}{unit}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def print_error(message: str) -> None:
    """The one line every failure the user can fix ends in."""
    print(f"hark: error: {message}", file=sys.stderr)
