"""The composition root of the desktop app.

Builds every adapter once and hands them to the controller: no global singletons.
asyncio runs on the Qt thread through qasync, so sessions, the UI and the IPC server
share one loop and nothing blocking runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from app import __version__
from app.argparsing import ArgumentParser

log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The desktop app's own options (``hark [--captions] [--settings] [-v]``)."""
    parser = ArgumentParser(
        prog="hark",
        description="Start the Hark tray app. Subcommands (hark transcribe, hark keys) "
        "are listed by `hark help`; `hark --self-check` reports what this computer can do.",
    )
    parser.add_argument("--captions", action="store_true", help="start live captions at once")
    parser.add_argument("--settings", action="store_true", help="open the settings window")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    parser.add_argument("--version", action="version", version=f"hark {__version__}")
    return parser.parse_args(list(argv))


def run(argv: Sequence[str]) -> int:
    """Start the app, or hand over to the one already running; return the exit status."""
    args = parse_args(argv)

    from app.adapters.ipc import NotRunningError, ipc_address, send_command

    address = ipc_address()
    try:  # a running instance takes over: no second tray icon
        send_command("captions" if args.captions else "show-settings", address=address)
    except NotRunningError:
        pass
    else:
        print("hark: already running; asked it to show its settings", file=sys.stderr)
        return 0

    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        print(
            "hark: error: no desktop session found (neither DISPLAY nor WAYLAND_DISPLAY is "
            "set). Start Hark from your desktop, or use `hark transcribe FILE`.",
            file=sys.stderr,
        )
        return 1

    from PySide6.QtWidgets import QApplication

    from app.adapters.logfile import setup_logging

    secret_filter, log_path = setup_logging(args.verbose)
    log.info("Hark %s starting (log: %s)", __version__, log_path)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Hark")
    app.setApplicationDisplayName("Hark")
    app.setDesktopFileName("hark")
    app.setQuitOnLastWindowClosed(False)

    from app.ui.garbage import QtThreadCollector

    QtThreadCollector(parent=app)  # Qt objects are only ever freed on this thread

    import qasync

    from app.ui.controller import build_controller

    async def main() -> int:
        controller = build_controller(app, address=address, secret_filter=secret_filter)
        if not controller.listen():
            log.warning("another Hark is already running")
            return 0
        quit_event = asyncio.Event()
        controller.quit_requested.connect(quit_event.set)
        controller.start(open_settings=args.settings, start_captions=args.captions)
        await quit_event.wait()
        await controller.shutdown()
        return 0

    with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
        return runner.run(main())
