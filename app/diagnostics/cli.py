"""``hark --self-check [--output FILE] [--installation-only] [-v]``: the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from app.argparsing import ArgumentParser
from app.verbosity import split_verbosity


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="hark --self-check",
        description="Check what Hark can use on this computer and print it as JSON.",
    )
    parser.add_argument("--output", metavar="FILE", help="write the JSON to FILE as well")
    parser.add_argument(
        "--installation-only",
        action="store_true",
        help="check only what the installation provides, not the user's set-up (the "
        "chosen provider's model or API key, a microphone): for build smoke tests",
    )
    parser.add_argument("--qt-probe", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log to stderr (-vv: debug)"
    )
    return parser


def main(argv: Sequence[str]) -> int:
    """Print the report; 0 when nothing the app needs is missing, else 1."""
    verbosity, rest = split_verbosity(argv)  # -v anywhere, as for every command
    args = build_parser().parse_args(rest)
    if args.qt_probe:
        from app.diagnostics.probes.qt_child import qt_probe

        return qt_probe(Path(args.qt_probe))
    from app.adapters.logfile import protect_output
    from app.diagnostics.findings import timed_out
    from app.diagnostics.report import run_checks

    secrets = protect_output()  # stdout and stderr masked; the environment's keys learnt
    report = run_checks(setup=not args.installation_only, verbosity=verbosity)
    # Keys are never put in the report; masked all the same, --output's copy too.
    text = secrets.mask(json.dumps(report.to_json(), indent=2, ensure_ascii=True))
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    if sys.stdout is not None:  # None in a windowed build without a console
        print(text, flush=True)
    code = 0 if report.ok else 1
    if timed_out():  # a stuck probe thread could block the interpreter's exit handlers
        if sys.stderr is not None:
            sys.stderr.flush()
        os._exit(code)
    return code
