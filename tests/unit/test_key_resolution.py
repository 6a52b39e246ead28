"""api_key_for: the one way the app finds the key a session or a connection test sends."""

from __future__ import annotations

import threading

import pytest
from keyring.backends import null

from app.adapters.secrets import SECRETS, KeyringSecretStore, api_key_for
from app.core.errors import MissingKeyError
from app.core.options import BasetenOptions, FireworksOptions, LocalOptions, TogetherOptions
from tests.memory_keyring import MemoryKeyring


class ThreadNotingKeyring(MemoryKeyring):
    """Notes which thread reads it: the keyring may block on D-Bus."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[int] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.threads.append(threading.get_ident())
        return super().get_password(service, username)


@pytest.fixture(autouse=True)
def no_env_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("BASETEN_API_KEY", "TOGETHER_API_KEY", "FIREWORKS_API_KEY"):
        monkeypatch.delenv(var, raising=False)


async def test_stored_key_is_read_off_the_event_loop_thread() -> None:
    backend = ThreadNotingKeyring()
    backend.set_password("hark", "fireworks", "fw-stored-key-1")
    key = await api_key_for(KeyringSecretStore(backend), FireworksOptions())
    assert key == "fw-stored-key-1"
    assert backend.threads
    assert threading.get_ident() not in backend.threads
    assert "fw-stored-key-1" in SECRETS


async def test_environment_key_when_none_is_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGETHER_API_KEY", "tg-env-key-22")
    assert await api_key_for(KeyringSecretStore(MemoryKeyring()), TogetherOptions()) == (
        "tg-env-key-22"
    )
    assert "tg-env-key-22" in SECRETS


async def test_a_typed_key_wins_and_is_learnt_as_a_secret() -> None:
    backend = ThreadNotingKeyring()
    backend.set_password("hark", "fireworks", "fw-stored-key-1")
    store = KeyringSecretStore(backend)
    key = await api_key_for(store, FireworksOptions(), typed=" fw-typed-key-333 ")
    assert key == "fw-typed-key-333"
    assert backend.threads == []  # the keyring is not even asked
    assert "fw-typed-key-333" in SECRETS


async def test_no_key_is_needed_locally_or_for_a_serve_on_this_machine() -> None:
    store = KeyringSecretStore(MemoryKeyring())
    assert await api_key_for(store, LocalOptions()) == ""
    serve = BasetenOptions(endpoint="ws://127.0.0.1:8765/v1/stream")
    assert await api_key_for(store, serve) == ""


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        (MemoryKeyring(), "No Together AI API key: open Settings to add one "
                          "(or set the TOGETHER_API_KEY environment variable)."),
        (null.Keyring(), "No Together AI API key, and no secure keyring to keep one on this "
                         "system: set the TOGETHER_API_KEY environment variable, or install "
                         "gnome-keyring or KWallet."),
    ],
)  # fmt: skip
async def test_a_missing_key_says_where_to_add_one(backend: object, message: str) -> None:
    store = KeyringSecretStore(backend)  # type: ignore[arg-type]
    with pytest.raises(MissingKeyError) as info:
        await api_key_for(store, TogetherOptions())
    assert str(info.value) == message


async def test_the_hint_names_the_callers_way_to_add_a_key() -> None:
    with pytest.raises(MissingKeyError) as info:
        await api_key_for(
            KeyringSecretStore(MemoryKeyring()), FireworksOptions(), add_hint="run `hark keys`"
        )
    assert str(info.value).startswith("No Fireworks API key: run `hark keys` (or set the")
