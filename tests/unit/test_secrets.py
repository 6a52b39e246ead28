"""API keys: keyring first, environment second, and never a plaintext backend."""

from __future__ import annotations

import argparse

import keyring
import pytest
from keyring.backends import fail, null

from app.adapters.secrets import KeyringSecretStore, resolve_key
from app.cli import keys
from app.core.errors import MissingKeyError, SecretStoreError
from tests.memory_keyring import MemoryKeyring


@pytest.fixture
def memory() -> MemoryKeyring:
    return MemoryKeyring()


def test_round_trip(memory: MemoryKeyring) -> None:
    store = KeyringSecretStore(memory)
    assert store.usable()
    store.set("baseten", "sk-1")
    assert memory.store == {("hark", "baseten"): "sk-1"}
    assert store.get("baseten") == "sk-1"
    assert store.delete("baseten") is True
    assert store.delete("baseten") is False
    assert store.get("baseten") is None


def test_keyring_wins_over_environment(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = KeyringSecretStore(memory)
    monkeypatch.setenv("TOGETHER_API_KEY", "from-env")
    assert resolve_key(store, "together", "Together AI") == (
        "from-env",
        "environment variable TOGETHER_API_KEY",
    )
    store.set("together", "from-keyring")
    assert resolve_key(store, "together", "Together AI") == ("from-keyring", "keyring")


def test_missing_key_says_how_to_set_it(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIREWORKS_API_KEY", raising=False)
    with pytest.raises(MissingKeyError) as info:
        resolve_key(KeyringSecretStore(memory), "fireworks", "Fireworks")
    assert str(info.value) == (
        "No Fireworks API key. Store one with `hark keys set fireworks` "
        "or set the FIREWORKS_API_KEY environment variable."
    )


class PlaintextKeyring(MemoryKeyring):
    """Stands in for keyrings.alt's backends, which must never be used."""


PlaintextKeyring.__module__ = "keyrings.alt.file"


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring(), PlaintextKeyring()])
def test_unusable_backends_are_refused(backend: object) -> None:
    store = KeyringSecretStore(backend)  # type: ignore[arg-type]
    assert not store.usable()
    with pytest.raises(SecretStoreError, match="No secure OS keyring is available"):
        store.set("baseten", "sk-1")
    assert store.get("baseten") is None
    if isinstance(backend, PlaintextKeyring):
        assert backend.store == {}


def _keys_args(action: str, provider: str | None) -> argparse.Namespace:
    return argparse.Namespace(action=action, provider=provider)


def test_keys_set_reads_one_line_from_stdin_and_never_prints_it(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("sk-secret-42\n"))
    assert keys.run(_keys_args("set", "baseten"), KeyringSecretStore(memory)) == 0
    assert memory.store[("hark", "baseten")] == "sk-secret-42"
    monkeypatch.delenv("BASETEN_API_KEY", raising=False)
    keys.run(_keys_args("status", None), KeyringSecretStore(memory))
    out, err = capsys.readouterr()
    assert "sk-secret-42" not in out + err
    assert "baseten: set in the keyring" in out
    assert "together: not set" in out


def test_the_system_keyring_is_chosen_at_the_first_use_not_at_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chosen: list[MemoryKeyring] = []

    def get_keyring() -> MemoryKeyring:
        chosen.append(MemoryKeyring())
        return chosen[-1]

    monkeypatch.setattr(keyring, "get_keyring", get_keyring)
    store = KeyringSecretStore()  # what the app makes before its tray shows
    assert chosen == []
    assert store.get("baseten") is None
    store.set("baseten", "k-1")
    assert store.get("baseten") == "k-1"
    assert len(chosen) == 1  # chosen once, then kept
