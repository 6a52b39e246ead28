"""``hark toggle`` and ``hark ptt press|release``: drive the running app's dictation.

They act exactly like the hotkey (same activation logic in the app), so a desktop
shortcut, a script or an accessibility tool can dictate where no global hotkey can be
had (Wayland without the GlobalShortcuts portal, remote sessions, foot pedals...).
"""

from __future__ import annotations

import argparse
from typing import Any

from app.adapters.ipc import NotRunningError, send_command
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
