"""Entry point: ``python -m app`` and the ``hark`` console script."""

from __future__ import annotations

import sys


def main() -> int:
    """Dispatch to the command line."""
    from app.cli.main import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
