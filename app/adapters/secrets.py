"""API keys in the OS keyring, and nowhere else; and every secret masked in what is written.

Refuses backends that would store keys in plaintext (``keyrings.alt``) or that cannot
store at all (``fail``/``null``), with a message saying what to install instead.

:data:`SECRETS` learns each key and token where it enters the process (read from the
keyring or the environment, stored, typed in), before it is handed to anyone: so no
log line, ``repr`` of a future or exception that later carries it, whichever library
writes it, can be written before the mask knows it. ``app/adapters/logfile.py`` puts
the mask on every log handler and on stdout and stderr.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from app.core.errors import MissingKeyError, SecretStoreError
from app.core.options import KEY_ENV_VARS, KEYED_PROVIDERS, PROVIDER_TITLES, key_optional

SERVICE = "hark"

ENV_VARS = KEY_ENV_VARS

_UNUSABLE = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")

if TYPE_CHECKING:
    import keyring.backend

    from app.core.options import ProviderOptions

MASK = "***"
MIN_SECRET_LENGTH = 6
"""Shorter values are not masked: they would hide ordinary words, and are no keys."""

FRAGMENT_LENGTH = 4
"""The shortest piece of a secret masked where a long text was cut with ``...`` or ``…``."""

SECRET_ENV_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_PASSWORD")
"""Environment variables whose values are secrets: the providers' keys, ``HARK_SERVE_TOKEN``,
and whatever else a library might pick up (``HF_TOKEN``...)."""

_CUT_RE = re.compile("(\\.\\.\\.|\u2026)")  # where a long text was cut: "..." or "…"
_SCHEME = r"(?:api-key |bearer |token |basic )"
_AUTH_RE = re.compile(  # a placeholder such as "Api-Key <the token in $VAR>" stays
    rf"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?!{_SCHEME}?<)({_SCHEME}?)[^\s\"',}}]+"
)


class SecretRegistry:
    """Every secret one process holds; :meth:`mask` hides them in any text.

    Thread-safe: keys are read on executor threads while other threads log. Each
    secret is also masked in the forms a ``repr``, ``ascii`` or JSON gives it, and in
    the piece left where a long text was shortened to ``HEAD...TAIL`` (websockets logs
    frames that way) or ``HEAD…`` (a server's error text, cut to one bounded line).
    Any ``Authorization`` header value is masked too, known or not (a client's wrong
    token in ``hark serve``'s log).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forms: tuple[str, ...] = ()  # longest first; replaced whole, never mutated

    def learn(self, secret: str | None) -> None:
        """Mask ``secret`` from now on (values under 6 characters are ignored)."""
        secret = (secret or "").strip()
        if len(secret) < MIN_SECRET_LENGTH:
            return
        forms = {
            secret,
            repr(secret)[1:-1],
            ascii(secret)[1:-1],
            json.dumps(secret)[1:-1],
            repr(secret.encode())[2:-1],
        }
        forms = {f for f in forms if len(f) >= MIN_SECRET_LENGTH}
        with self._lock:
            if not forms.issubset(self._forms):
                known = forms.union(self._forms)
                self._forms = tuple(sorted(known, key=len, reverse=True))

    def learn_all(self, secrets: Iterable[str | None]) -> None:
        """:meth:`learn` each of ``secrets``."""
        for secret in secrets:
            self.learn(secret)

    def __contains__(self, secret: object) -> bool:
        return isinstance(secret, str) and secret.strip() in self._forms

    def mask(self, text: str) -> str:
        """``text`` with every secret and Authorization value replaced by ``***``."""
        forms = self._forms
        for form in forms:
            if form in text:
                text = text.replace(form, MASK)
        if forms and ("..." in text or "\u2026" in text):
            text = _mask_cut_pieces(text, forms)
        return _AUTH_RE.sub(lambda m: m.group(1) + m.group(2) + MASK, text)


def _mask_cut_pieces(text: str, forms: tuple[str, ...]) -> str:
    """Mask the head of a secret just before an ellipsis and its tail just after one."""
    parts = _CUT_RE.split(text)  # piece, ellipsis, piece, ...
    last = len(parts) - 1
    for i in range(0, len(parts), 2):
        piece = parts[i]
        for form in forms:
            if i < last:
                piece = _mask_overlap(piece, form, at_end=True)
            if i > 0:
                piece = _mask_overlap(piece, form, at_end=False)
        parts[i] = piece
    return "".join(parts)


def _mask_overlap(piece: str, form: str, *, at_end: bool) -> str:
    """``piece`` with its end masked where it is a start of ``form`` (or the reverse)."""
    for size in range(min(len(piece), len(form) - 1), FRAGMENT_LENGTH - 1, -1):
        if at_end and piece.endswith(form[:size]):
            return piece[:-size] + MASK
        if not at_end and piece.startswith(form[-size:]):
            return MASK + piece[size:]
    return piece


SECRETS = SecretRegistry()
"""This process's secrets: what the log handlers and the standard streams mask."""


def learn_environment(environ: Mapping[str, str] | None = None) -> None:
    """Learn every secret-looking variable's value (see :data:`SECRET_ENV_SUFFIXES`)."""
    env = os.environ if environ is None else environ
    names = set(ENV_VARS.values())
    SECRETS.learn_all(
        value
        for name, value in env.items()
        if name in names or name.upper().endswith(SECRET_ENV_SUFFIXES)
    )


def secret_from_environment(var: str) -> str:
    """The (stripped) value of the environment variable ``var``, learnt as a secret."""
    value = os.environ.get(var, "").strip()
    SECRETS.learn(value)
    return value


def backend_name(backend: keyring.backend.KeyringBackend) -> str:
    """A readable ``module.Class`` name for a keyring backend."""
    cls = type(backend)
    return f"{cls.__module__}.{cls.__name__}"


class KeyringSecretStore:
    """The engine's ``SecretStore`` port over the ``keyring`` library.

    Args:
        backend: A specific backend (tests pass an in-memory one); default: the
            backend ``keyring`` selects for this system, chosen at the first use.

    The ``keyring`` library is imported, and the system's backend chosen (which can
    talk to D-Bus), only when a key is first needed: not on the app's way to its tray,
    and not in the 13 MB of an idle app that has not used a key yet.
    """

    def __init__(self, backend: keyring.backend.KeyringBackend | None = None) -> None:
        self._given = backend
        self._chosen: keyring.backend.KeyringBackend | None = None
        self._lock = threading.Lock()  # keys are read on worker threads, too

    @property
    def _backend(self) -> keyring.backend.KeyringBackend:
        if self._given is not None:
            return self._given
        with self._lock:
            if self._chosen is None:
                import keyring

                self._chosen = keyring.get_keyring()
            return self._chosen

    @property
    def backend(self) -> str:
        """The backend's name."""
        return backend_name(self._backend)

    def usable(self) -> bool:
        """False for plaintext, failing or null backends."""
        names = [self.backend]
        names += [backend_name(b) for b in getattr(self._backend, "backends", [])]
        if any(n.startswith("keyrings.alt") for n in names):
            return False
        return not self.backend.startswith(_UNUSABLE)

    def _check(self) -> None:
        if not self.usable():
            raise SecretStoreError(
                f"No secure OS keyring is available (found {self.backend}). On Linux, run a "
                "Secret Service such as gnome-keyring or KWallet; or use the provider's "
                "environment variable instead."
            )

    def get(self, provider: str) -> str | None:
        """Return the stored key, or ``None`` (also when no usable keyring exists)."""
        import keyring.errors

        if not self.usable():
            return None
        try:
            key = self._backend.get_password(SERVICE, provider)
        except keyring.errors.KeyringError:
            return None
        SECRETS.learn(key)  # before any caller (or a future's repr) carries it
        return key

    def set(self, provider: str, key: str) -> None:
        """Store ``key``; raises :class:`SecretStoreError` when the keyring refuses."""
        import keyring.errors

        SECRETS.learn(key)
        self._check()
        try:
            self._backend.set_password(SERVICE, provider, key)
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(f"The keyring refused to store the key: {exc}") from None

    def delete(self, provider: str) -> bool:
        """Delete the stored key; return whether there was one."""
        import keyring.errors

        self._check()
        try:
            self._backend.delete_password(SERVICE, provider)
        except keyring.errors.PasswordDeleteError:
            return False
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(f"The keyring refused to delete the key: {exc}") from None
        return True


def resolve_key(store: KeyringSecretStore, provider: str, title: str) -> tuple[str, str]:
    """Find the API key for ``provider``: the keyring first, then the environment.

    Returns:
        ``(key, where)`` with ``where`` naming the source, for status output.

    Raises:
        MissingKeyError: neither has one; the message says how to set it.
    """
    key = store.get(provider)
    if key:
        return key, "keyring"
    var = ENV_VARS[provider]
    key = secret_from_environment(var)
    if key:
        return key, f"environment variable {var}"
    raise MissingKeyError(
        f"No {title} API key. Store one with `hark keys set {provider}` "
        f"or set the {var} environment variable."
    )


async def api_key_for(
    store: KeyringSecretStore,
    options: ProviderOptions,
    *,
    typed: str = "",
    add_hint: str = "open Settings to add one",
) -> str:
    """The key a connection with ``options`` sends: what the app's sessions and tests use.

    ``typed`` (a key typed into a dialog, not stored yet) wins; else the keyring, read
    on an executor thread (it may talk D-Bus: never on the event loop's thread), then
    the environment (:func:`resolve_key`). Every key found is learnt by
    :data:`SECRETS` before it is returned.

    Args:
        store: The keyring.
        options: The provider's options (their ``provider`` names the key).
        typed: A key the user just typed, or ``""``.
        add_hint: How the user adds a key, for the missing-key message.

    Returns:
        The key, or ``""`` where none is needed: the local engine, or a Baseten
        endpoint on this machine (:func:`app.core.options.key_optional`).

    Raises:
        MissingKeyError: a cloud provider without a key; the message says where to add
            one (the environment variable only, where no secure keyring exists).
    """
    import asyncio  # here: `hark --help` and friends start without asyncio

    typed = typed.strip()
    if typed:
        SECRETS.learn(typed)
        return typed
    provider = options.provider
    if provider not in KEYED_PROVIDERS:
        return ""
    title = PROVIDER_TITLES[provider]
    loop = asyncio.get_running_loop()
    try:
        key, _ = await loop.run_in_executor(None, resolve_key, store, provider, title)
    except MissingKeyError:
        if key_optional(options):
            return ""  # e.g. `hark serve` on this machine, which takes any client
        var = ENV_VARS[provider]
        if not store.usable():  # said here, not at start-up: see KeyringSecretStore
            raise MissingKeyError(
                f"No {title} API key, and no secure keyring to keep one on this system: "
                f"set the {var} environment variable, or install gnome-keyring or KWallet."
            ) from None
        raise MissingKeyError(
            f"No {title} API key: {add_hint} (or set the {var} environment variable)."
        ) from None
    return key
