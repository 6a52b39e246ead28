"""What a probe found that matters: a problem (exit status 1) or a warning, one line each.

Also the helpers every probe shares: an exception on one line, and a time limit for
probes that talk to a daemon.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

PROBE_TIMEOUT_S = 15.0


class Level(enum.Enum):
    """How much a finding matters."""

    PROBLEM = "problem"
    """The app needs this: the self-check fails (exit status 1)."""
    WARNING = "warning"
    """The app can do without it, less well; the status stays 0."""


@dataclass(frozen=True)
class Finding:
    """One thing a probe found, as the line the report shows.

    Attributes:
        level: Problem or warning.
        message: One line: what is wrong and, where the user can act, what to do.
    """

    level: Level
    message: str


Findings = tuple[Finding, ...]


def problem(message: str) -> Finding:
    return Finding(Level.PROBLEM, message)


def warning(message: str) -> Finding:
    return Finding(Level.WARNING, message)


def messages(findings: Iterable[Finding], level: Level) -> list[str]:
    """The lines of ``findings`` at ``level``, in order."""
    return [f.message for f in findings if f.level is level]


def status(findings: Iterable[Finding]) -> Level | None:
    """The worst level among ``findings``; None when there is nothing to say."""
    levels = {f.level for f in findings}
    if Level.PROBLEM in levels:
        return Level.PROBLEM
    return Level.WARNING if levels else None


def error_text(exc: BaseException) -> str:
    """An exception on one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class _Timeouts:
    """Whether a probe thread was left running (the process must then leave with _exit)."""

    happened = False


def timed_out() -> bool:
    """Whether a probe thread may still be stuck: leave with ``os._exit``."""
    return _Timeouts.happened


def with_timeout(fn: Callable[[], T], seconds: float, what: str) -> T:
    """Run ``fn`` on a daemon thread; raise TimeoutError naming ``what`` when it hangs."""
    values: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            values.append(fn())
        except BaseException as exc:  # re-raised on the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name=f"hark-selfcheck-{what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        _Timeouts.happened = True
        raise TimeoutError(f"{what} did not answer within {seconds:g} s")
    if errors:
        raise errors[0]
    return values[0]
