"""API keys in the OS keyring, and nowhere else.

Refuses backends that would store keys in plaintext (``keyrings.alt``) or that cannot
store at all (``fail``/``null``), with a message saying what to install instead.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from app.core.errors import MissingKeyError, SecretStoreError
from app.core.options import KEY_ENV_VARS

SERVICE = "hark"

ENV_VARS = KEY_ENV_VARS

_UNUSABLE = ("keyring.backends.fail", "keyring.backends.null", "keyrings.alt")

if TYPE_CHECKING:
    import keyring.backend


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
            return self._backend.get_password(SERVICE, provider)
        except keyring.errors.KeyringError:
            return None

    def set(self, provider: str, key: str) -> None:
        """Store ``key``; raises :class:`SecretStoreError` when the keyring refuses."""
        import keyring.errors

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
    key = os.environ.get(var, "").strip()
    if key:
        return key, f"environment variable {var}"
    raise MissingKeyError(
        f"No {title} API key. Store one with `hark keys set {provider}` "
        f"or set the {var} environment variable."
    )
