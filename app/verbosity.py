"""``-v``/``-vv`` anywhere on the command line, read without importing argparse.

The entry point reads it before it knows which command runs, on the path of
``hark --version`` and of the key-bound ``hark ptt``, where every import shows.
"""

from __future__ import annotations

from collections.abc import Sequence

VERBOSE_FLAGS = ("-v", "-vv", "-vvv", "--verbose")


def split_verbosity(argv: Sequence[str]) -> tuple[int, list[str]]:
    """Take ``-v``/``-vv``/``--verbose`` from anywhere before ``--``: (count, the rest).

    So ``hark -v transcribe ...`` and ``hark transcribe ... -v`` both work, whatever
    the command; no flag takes a value that starts with ``-v``.
    """
    count, rest = 0, list[str]()
    for i, arg in enumerate(argv):
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg == "--verbose":
            count += 1
        elif arg in VERBOSE_FLAGS:
            count += len(arg) - 1
        else:
            rest.append(arg)
    return count, rest
