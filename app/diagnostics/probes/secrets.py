"""The keyring backend, and whether Hark would accept it for API keys."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from typing import Any

from app.diagnostics.findings import (
    PROBE_TIMEOUT_S,
    Findings,
    error_text,
    warning,
    with_timeout,
)


@dataclass(frozen=True)
class KeyringResult:
    """The keyring; ``secure`` when Hark would store API keys in it."""

    keyrings_alt_installed: bool
    backend: str | None = None
    secure: bool = False
    chain: tuple[str, ...] | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "backend": self.backend,
            "secure": self.secure,
            "keyrings_alt_installed": self.keyrings_alt_installed,
        }
        if self.chain:
            info["chain"] = list(self.chain)
        if self.error is not None:
            info["error"] = self.error
        return info

    def findings(self) -> Findings:
        found = []
        if self.keyrings_alt_installed:
            found.append(warning("keyrings.alt is installed; Hark refuses its plaintext backends"))
        if self.error:
            found.append(
                warning(f"the keyring does not answer ({self.error}); API keys only from env")
            )
        elif not self.secure:
            found.append(
                warning(
                    f"no secure keyring ({self.backend}): API keys can only come from "
                    "environment variables (BASETEN_API_KEY, ...)"
                )
            )
        return tuple(found)


def _keyrings_alt() -> bool:
    try:
        return importlib.util.find_spec("keyrings.alt") is not None
    except (ImportError, ValueError):
        return False


def probe_keyring() -> KeyringResult:
    alt = _keyrings_alt()

    def probe() -> KeyringResult:
        import keyring

        from app.adapters.secrets import KeyringSecretStore, backend_name

        backend = keyring.get_keyring()
        store = KeyringSecretStore(backend)
        found = KeyringResult(alt, backend=store.backend)
        try:
            found = replace(found, secure=store.usable())
            chained = getattr(backend, "backends", None)
            if chained:
                found = replace(found, chain=tuple(backend_name(b) for b in chained))
        except Exception as exc:
            return replace(found, error=error_text(exc))
        return found

    try:
        return with_timeout(probe, PROBE_TIMEOUT_S, "the keyring")
    except Exception as exc:
        return KeyringResult(alt, error=error_text(exc))
