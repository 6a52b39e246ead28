"""``python -m app.diagnostics``: the self-check (the Qt probe's child runs this way)."""

import sys

from app.diagnostics.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
