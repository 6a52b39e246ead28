"""Entry point: ``python -m app`` and the ``hark`` console script.

``hark`` alone (or with the app's own options) starts the desktop app; ``hark
COMMAND ...`` runs a command-line command, with ``-v`` before or after the command.
"""

from __future__ import annotations

import sys

from app.verbosity import split_verbosity

CLI_COMMANDS = {"transcribe", "keys", "toggle", "ptt", "models", "serve", "help"}


def main() -> int:
    """Dispatch to the command line or the desktop app."""
    argv = sys.argv[1:]
    _, plain = split_verbosity(argv)  # the command may come after -v
    first = plain[0] if plain else None
    if first == "--self-check":
        from app.diagnostics.cli import main as self_check

        return self_check([a for a in argv if a != "--self-check"])
    if first == "--version":
        from app import __version__

        print(f"hark {__version__}")
        return 0
    if first in ("ptt", "toggle") and "-h" not in argv and "--help" not in argv:
        from app.cli.remote import main as remote  # bound to keys: the fast path

        return remote(plain)
    if first == "--help-app":
        argv = ["--help"]
    elif first in CLI_COMMANDS or first in ("-h", "--help"):
        from app.cli.main import main as cli_main

        return cli_main(["--help"] if first == "help" else argv)
    from app.ui.application import run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
