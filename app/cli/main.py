"""``hark`` on the command line: argument parsing and dispatch.

Every failure the user can fix ends as one line on stderr (``hark: error: ...``) and a
non-zero exit status; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from app import __version__
from app.cli import keys, models, remote, serve, transcribe
from app.core.errors import HarkError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (subcommands register their own arguments)."""
    parser = argparse.ArgumentParser(
        prog="hark",
        description="Push-to-talk dictation and live captions over streaming speech-to-text. "
        "`hark` alone starts the desktop app (`hark --help-app` for its options).",
    )
    parser.add_argument("--version", action="version", version=f"hark {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log progress to stderr (-vv: debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    transcribe.register(sub)
    keys.register(sub)
    remote.register(sub)
    models.register(sub)
    serve.register(sub)
    return parser


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"hark: {record.levelname.lower()}: {record.getMessage()}"


def _setup_logging(verbosity: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel([logging.WARNING, logging.INFO, logging.DEBUG][min(verbosity, 2)])
    # Library chatter (frames, pings) only at -vv.
    logging.getLogger("websockets").setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    _setup_logging(args.verbose)
    try:
        if args.command == "transcribe":
            return asyncio.run(transcribe.run(args))
        if args.command in ("toggle", "ptt"):
            return remote.run(args)
        if args.command == "models":
            return models.run(args)
        if args.command == "serve":
            return serve.run(args)
        return keys.run(args)
    except HarkError as exc:
        print(f"hark: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("hark: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
