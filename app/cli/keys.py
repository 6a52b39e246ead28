"""``hark keys set|delete|status``: API keys in the OS keyring.

A key is read with a hidden prompt on a terminal, or as one line from stdin otherwise
(``pass show baseten | hark keys set baseten``). It is never echoed, logged or
passed on a command line.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import TYPE_CHECKING, Any

from app.core.errors import HarkError
from app.core.options import KEY_ENV_VARS, PROVIDER_TITLES

if TYPE_CHECKING:  # keyring is imported when the command runs, not for `hark --help`
    from app.adapters.secrets import KeyringSecretStore

PROVIDERS = tuple(KEY_ENV_VARS)


def register(sub: Any) -> None:
    """Add the ``keys`` subcommand."""
    parser = sub.add_parser("keys", help="store, delete or inspect API keys in the OS keyring")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, help_text in (
        ("set", "store a provider's API key (prompted; or one line on stdin)"),
        ("delete", "delete a provider's API key from the keyring"),
    ):
        p = actions.add_parser(action, help=help_text)
        p.add_argument("provider", choices=PROVIDERS)
    p = actions.add_parser("status", help="say where each provider's key comes from")
    p.add_argument("provider", choices=PROVIDERS, nargs="?")


def _read_key(title: str) -> str:
    if sys.stdin.isatty():
        key = getpass.getpass(f"{title} API key (input hidden): ")
    else:
        key = sys.stdin.readline()
    key = key.strip()
    if not key:
        raise HarkError(f"No key given; nothing stored for {title}.")
    return key


def run(args: argparse.Namespace, store: KeyringSecretStore | None = None) -> int:
    """Carry out ``hark keys ...``; return the exit status."""
    from app.adapters.secrets import KeyringSecretStore

    store = store or KeyringSecretStore()
    if args.action == "status":
        usable = "" if store.usable() else " (not usable: keys cannot be stored)"
        print(f"keyring backend: {store.backend}{usable}")
        for provider in (args.provider,) if args.provider else PROVIDERS:
            var = KEY_ENV_VARS[provider]
            if store.get(provider):
                where = "set in the keyring"
            elif os.environ.get(var, "").strip():
                where = f"set by the environment variable {var}"
            else:
                where = f"not set (use `hark keys set {provider}` or {var})"
            print(f"{provider}: {where}")
        return 0
    title = PROVIDER_TITLES[args.provider]
    if args.action == "set":
        store.set(args.provider, _read_key(title))
        print(f"Stored the {title} API key in the keyring ({store.backend}).")
        return 0
    if store.delete(args.provider):
        print(f"Deleted the {title} API key from the keyring.")
    else:
        print(f"No {title} API key was stored in the keyring.")
    return 0
