"""``hark`` on the command line: argument parsing and dispatch.

Every failure the user can fix, usage mistakes included, ends as one line on stderr
(``hark: error: ...``) and exit status 1; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from app import __version__
from app.adapters.logfile import SecretFilter, protect_output
from app.argparsing import ArgumentParser, print_error, split_verbosity
from app.cli import keys, models, remote, serve, transcribe
from app.core.errors import HarkError

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130


def build_parser(argv: Sequence[str] = ()) -> ArgumentParser:
    """The full argument parser (subcommands register their own arguments).

    Args:
        argv: The command line, read only for the provider it names, so that
            ``hark transcribe --provider local --help`` shows local's options.
    """
    parser = ArgumentParser(
        prog="hark",
        description="Push-to-talk dictation and live captions over streaming speech-to-text. "
        "`hark` alone starts the desktop app (`hark --help-app` for its options); "
        "`hark --self-check` reports what this machine can do, as JSON.",
        epilog="-v/--verbose works before or after any command.",
    )
    parser.add_argument("--version", action="version", version=f"hark {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", help="log progress to stderr (-vv: debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    transcribe.register(sub, provider=_named_provider(argv))
    keys.register(sub)
    remote.register(sub)
    models.register(sub)
    serve.register(sub)
    return parser


def _named_provider(argv: Sequence[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--provider" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--provider="):
            return arg.partition("=")[2]
    return None


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"hark: {record.levelname.lower()}: {record.getMessage()}"


SECRETS = SecretFilter()
"""Masks every key and token the process holds, and any Authorization header, in what it
logs (the process's registry: keys are learnt where they are read, see app.adapters.secrets)."""

# Every command module keeps what it runs on (numpy, keyring, websockets, the engine)
# out of its top-level imports, so that `hark --help` and a usage error stay quick.


def _setup_logging(verbosity: int) -> None:
    # Before any key is read: the environment's secrets are learnt, and stdout and
    # stderr masked too, for what reaches them without logging (an error message that
    # quotes a server, a traceback, a JSON line).
    protect_output()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    # At -vv the websockets library logs the handshake's headers, the key among them.
    handler.addFilter(SECRETS)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel([logging.WARNING, logging.INFO, logging.DEBUG][min(verbosity, 2)])
    # Library chatter (frames, pings) only at -vv.
    logging.getLogger("websockets").setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    verbosity, rest = split_verbosity(sys.argv[1:] if argv is None else argv)
    parser = build_parser(rest)
    args = parser.parse_args(rest)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    _setup_logging(verbosity)
    try:
        return _dispatch(args)
    except HarkError as exc:
        print_error(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("hark: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`hark transcribe ... | head -1`): not an error of ours.
        # Point stdout at nothing so the interpreter's final flush cannot raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "transcribe":
        import asyncio

        return asyncio.run(transcribe.run(args, SECRETS))
    if args.command in ("toggle", "ptt"):
        return remote.run(args)
    if args.command == "models":
        return models.run(args)
    if args.command == "serve":
        return serve.run(args)
    return keys.run(args)
