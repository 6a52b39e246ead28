"""Logging to a rotating file in the platform log directory, with secrets masked.

Keys are never logged on purpose; the :class:`SecretFilter` is the second line of
defence: every secret the app handles is registered with it, and any record that
would contain one (or an ``Authorization`` header) is masked before it is written.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from pathlib import Path

import platformdirs

_AUTH_RE = re.compile(
    r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(api-key |bearer |token )?[^\s\"',}]+"
)


def log_dir() -> Path:
    """The platform's per-user log directory for Hark."""
    return Path(platformdirs.user_log_dir("hark", appauthor=False))


class SecretFilter(logging.Filter):
    """Masks registered secrets and Authorization values in every record."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        """Mask ``secret`` from now on (values shorter than 6 characters are ignored)."""
        if len(secret) >= 6:
            self._secrets.add(secret)

    def mask(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _AUTH_RE.sub(lambda m: m.group(1) + (m.group(2) or "") + "***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = self.mask(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def setup_logging(
    verbosity: int = 0, *, directory: Path | None = None, stderr: bool = True
) -> tuple[SecretFilter, Path]:
    """Log to ``hark.log`` (1 MB, 3 old files kept) and, optionally, to stderr.

    Args:
        verbosity: 0 for INFO in the file and WARNING on stderr; 1 for INFO on both;
            2 for DEBUG on both.

    Returns:
        The secret filter (register keys with it) and the log file's path.
    """
    directory = directory or log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "hark.log"
    secrets = SecretFilter()
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
