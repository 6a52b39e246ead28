"""``hark toggle`` and ``hark ptt press|release``: drive the running app's dictation.

They act exactly like the hotkey (same activation logic in the app), so a desktop
shortcut, a script or an accessibility tool can dictate where no global hotkey can be
had (Wayland without the GlobalShortcuts portal, remote sessions, foot pedals...).

Bound to a key, they must answer at once: :func:`main` is the entry point's fast path,
which imports only this module, the socket address and argparse (no numpy, asyncio,
keyring or engine), about 20 ms in all.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from app.adapters.ipc import NotRunningError, send_command
from app.argparsing import ArgumentParser, print_error
from app.core.errors import HarkError


def register(sub: Any) -> None:
    """Add the ``toggle`` and ``ptt`` subcommands."""
    sub.add_parser("toggle", help="start or stop dictation in the running app")
    ptt = sub.add_parser("ptt", help="push-to-talk for the running app: press, then release")
    ptt.add_argument("action", choices=("press", "release"))


def run(args: argparse.Namespace) -> int:
    """Send the command; a reply other than ``ok`` is an error."""
    command = "toggle" if args.command == "toggle" else f"ptt {args.action}"
    try:
        reply = send_command(command)
    except NotRunningError as exc:
        raise HarkError(f"{exc} Start it first (run `hark`).") from None
    if reply != "ok":
        raise HarkError(f"Hark refused {command!r}: {reply.removeprefix('error: ')}")
    return 0


def main(argv: Sequence[str]) -> int:
    """``hark toggle`` / ``hark ptt ...`` without the full command line's imports."""
    parser = ArgumentParser(prog="hark")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(list(argv))
    try:
        return run(args)
    except HarkError as exc:
        print_error(str(exc))
        return 1
