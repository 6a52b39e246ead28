"""``hark models list|download|remove``: the local engine's Whisper models.

Downloads show a progress bar on stderr: one line redrawn in place on a terminal,
otherwise a plain line per 10 %, so logs stay readable.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from app.core.options import MODEL_SIZES

if TYPE_CHECKING:  # the store (and asyncio) is imported when the command runs
    from app.adapters.models import ModelStore

_MB = 1_000_000


def register(sub: Any) -> None:
    """Add the ``models`` subcommand."""
    parser = sub.add_parser(
        "models",
        help="list, download or remove local Whisper models",
        description="Models for the local engine live in the platform cache directory "
        "(HARK_MODEL_BASE_URL replaces https://huggingface.co, e.g. for a mirror).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="list the downloaded models with their sizes")
    p = actions.add_parser("download", help="download a model (resumes an interrupted one)")
    p.add_argument("size", choices=MODEL_SIZES, metavar="SIZE", help=", ".join(MODEL_SIZES))
    p = actions.add_parser("remove", help="delete a downloaded model")
    p.add_argument("name", metavar="NAME", help="a name that `hark models list` shows")


class ProgressBar:
    """Download progress on a stream: redrawn in place on a terminal, else every 10 %.

    Args:
        label: What is downloading (shown first on each line).
        stream: Where to write; ``sys.stderr`` when ``None``.
        clock: Seconds, for the speed (``time.monotonic``).
    """

    def __init__(self, label: str, stream: TextIO | None = None, clock: Any = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.clock = clock or time.monotonic
        self.tty = self.stream.isatty()
        self._start = self.clock()
        self._first_done: int | None = None
        self._last_draw = 0.0
        self._last_step = -1

    def __call__(self, done: int, total: int) -> None:
        """Show that ``done`` of ``total`` bytes are on disk."""
        now = self.clock()
        if self._first_done is None:  # bytes already there (a resume) do not count for speed
            self._first_done, self._start = done, now
        percent = 100 * done // total if total else 100
        elapsed = now - self._start
        speed = (done - self._first_done) / elapsed / _MB if elapsed > 0 else 0.0
        line = (
            f"{self.label}: {percent:3d}% {done / _MB:7.1f} of {total / _MB:.1f} MB"
            f"  {speed:5.1f} MB/s"
        )
        if self.tty:
            if done >= total or now - self._last_draw >= 0.1:
                self._last_draw = now
                end = "\n" if done >= total else ""
                self.stream.write(f"\r{line}{end}")
                self.stream.flush()
        elif percent // 10 > self._last_step:
            self._last_step = percent // 10
            self.stream.write(line + "\n")
            self.stream.flush()


def run(args: argparse.Namespace, store: ModelStore | None = None) -> int:
    """Carry out ``hark models ...``; return the exit status."""
    from app.adapters.models import ModelStore

    store = store or ModelStore()
    if args.action == "list":
        found = store.installed()
        if not found:
            print(f"no models in {store.root}; `hark models download base` fetches one")
        for model in found:
            print(f"{model.name:16} {model.size_bytes / _MB:9.1f} MB  {model.path}")
        return 0
    if args.action == "download":
        print(download(store, args.size))
        return 0
    store.remove(args.name)
    print(f"removed {args.name}", file=sys.stderr)
    return 0


def download(store: ModelStore, size: str) -> Path:
    """Download ``size`` into ``store`` with a progress bar on stderr; return its folder.

    A model already there is returned at once. Ctrl+C stops it; the next run resumes.
    """
    if store.is_installed(size):
        return store.path_for(size)
    print(f"downloading the {size} model from {store.base_url}", file=sys.stderr)
    return store.download(size, ProgressBar(size))
