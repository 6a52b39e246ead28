"""Logging to a rotating file in the platform log directory, with secrets masked.

Keys are never logged on purpose; the mask is the second line of defence, for what
libraries write at their most verbose (websockets' handshake headers, qasync's
``Setting Future result: ('<key>', ...)``, a server's error that echoes the key):
:func:`protect_output` learns the environment's secrets and masks stdout and stderr,
and every log handler gets a :class:`SecretFilter`. Both mask whatever
:data:`app.adapters.secrets.SECRETS` knows at the moment of writing, and it learns
each key where the process reads it (see ``app/adapters/secrets.py``).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO, cast

import platformdirs

from app.adapters.secrets import SECRETS, SecretRegistry, learn_environment


def log_dir() -> Path:
    """The platform's per-user log directory for Hark."""
    return Path(platformdirs.user_log_dir("hark", appauthor=False))


class SecretFilter(logging.Filter):
    """Masks the process's secrets and Authorization values in every record.

    Args:
        registry: The secrets to mask; default: the process's (:data:`SECRETS`).
    """

    def __init__(self, registry: SecretRegistry = SECRETS) -> None:
        super().__init__()
        self._registry = registry

    def add(self, secret: str) -> None:
        """Mask ``secret`` from now on (values shorter than 6 characters are ignored)."""
        self._registry.learn(secret)

    def mask(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        return self._registry.mask(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging would print its arguments raw
            message = f"{record.msg!s} (arguments that do not format: {record.args!r})"
            record.msg, record.args = message, None
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


class MaskedStream:
    """A text stream that masks the secrets in whatever is written to it.

    For what reaches stdout or stderr without logging: an error message that quotes a
    server, a traceback, a JSON line. Everything else is the wrapped stream's.
    """

    def __init__(self, stream: TextIO, registry: SecretRegistry = SECRETS) -> None:
        self._stream = stream
        self._registry = registry

    @property
    def wrapped(self) -> TextIO:
        """The stream written to."""
        return self._stream

    def write(self, text: str) -> int:
        self._stream.write(self._registry.mask(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def mask_standard_streams(registry: SecretRegistry = SECRETS) -> None:
    """Put a :class:`MaskedStream` over ``sys.stdout`` and ``sys.stderr`` (once)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, MaskedStream):
            setattr(sys, name, cast(TextIO, MaskedStream(stream, registry)))


def protect_output() -> SecretFilter:
    """At a process's start: learn the environment's secrets, mask stdout and stderr.

    Returns:
        A filter for every log handler the process installs.
    """
    learn_environment()
    mask_standard_streams()
    return SecretFilter()


def setup_logging(
    verbosity: int = 0, *, directory: Path | None = None, stderr: bool = True
) -> tuple[SecretFilter, Path]:
    """Log to ``hark.log`` (1 MB, 3 old files kept) and, optionally, to stderr.

    Args:
        verbosity: 0 for INFO in the file and WARNING on stderr; 1 for INFO on both;
            2 for DEBUG on both.

    Returns:
        The secret filter (every handler has it) and the log file's path.
    """
    secrets = protect_output()
    directory = directory or log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "hark.log"
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=1_000_000, backupCount=3, encoding="utf-8"
    )
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    file_handler.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)
    handlers: list[logging.Handler] = [file_handler]
    if stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("hark: %(levelname)s: %(name)s: %(message)s"))
        console.setLevel([logging.WARNING, logging.INFO, logging.DEBUG][min(verbosity, 2)])
        handlers.append(console)
    for handler in handlers:
        handler.addFilter(secrets)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)
    logging.getLogger("websockets").setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)
    return secrets, path
