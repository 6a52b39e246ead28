"""The secret mask on its own: the registry, the log filter and the masked streams.

tests/e2e/test_no_secrets.py runs every command and the app against it; these pin down
the forms it masks, each on a fresh registry (the process's own is shared).
"""

from __future__ import annotations

import io
import logging
import sys

import pytest

from app.adapters.logfile import MaskedStream, SecretFilter
from app.adapters.secrets import (
    SECRETS,
    SecretRegistry,
    learn_environment,
    secret_from_environment,
)

KEY = "sk-canary-0123456789abcdef"


@pytest.fixture
def registry() -> SecretRegistry:
    known = SecretRegistry()
    known.learn(KEY)
    return known


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"key {KEY}.", "key ***."),
        (f"Future result: ('{KEY}', 'keyring')", "Future result: ('***', 'keyring')"),
        # websockets cuts long frames to HEAD...TAIL, which can cut the key in two
        ("'{\"message\":\"bad key sk-canary-01...\"}'", "'{\"message\":\"bad key ***...\"}'"),
        ("'{\"a\":\"x...89abcdef is bad\"}'", "'{\"a\":\"x...*** is bad\"}'"),
        ("nothing...to see", "nothing...to see"),
        ("Invalid API key: sk-canary-0…", "Invalid API key: ***…"),  # an error text, cut
        ("…89abcdef", "…***"),
        ("one...two…three", "one...two…three"),
        ("> Authorization: Bearer some-other-token", "> Authorization: Bearer ***"),
        ("{'authorization': 'Api-Key abcdefgh'}", "{'authorization': 'Api-Key ***'}"),
        ("Authorization: Api-Key <the token in $X>", "Authorization: Api-Key <the token in $X>"),
    ],
)  # fmt: skip
def test_mask(registry: SecretRegistry, text: str, masked: str) -> None:
    assert registry.mask(text) == masked


def test_repr_and_json_forms_of_an_odd_key_are_masked() -> None:
    registry = SecretRegistry()
    odd = 'k3y"with\\quote-é'
    registry.learn(odd)
    for form in (repr(odd), ascii(odd), repr(odd.encode()), '"k3y\\"with\\\\quote-\\u00e9"'):
        assert "k3y" not in registry.mask(form), form


def test_short_and_empty_values_are_not_secrets() -> None:
    registry = SecretRegistry()
    for value in ("", None, "  ", "abc12"):
        registry.learn(value)
    assert registry.mask("abc12 is a word") == "abc12 is a word"


def test_the_environment_s_secrets_are_learnt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf-token-abcdef123")
    monkeypatch.setenv("HARK_TEST_VAR", " read-by-hark-123 ")
    learn_environment({"FIREWORKS_API_KEY": "fw-env-key-123", "PATH": "/usr/bin:/bin"})
    learn_environment()
    assert "fw-env-key-123" in SECRETS
    assert "hf-token-abcdef123" in SECRETS
    assert "/usr/bin:/bin" not in SECRETS
    assert secret_from_environment("HARK_TEST_VAR") == "read-by-hark-123"
    assert "read-by-hark-123" in SECRETS


def test_the_filter_masks_messages_exceptions_and_stacks(registry: SecretRegistry) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SecretFilter(registry))
    log = logging.getLogger("tests.secret_masking")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("args %s", (KEY, "keyring"))
        try:
            raise ValueError(f"Invalid header value {KEY!r}")
        except ValueError:
            log.exception("failed")
        log.warning("stack", stack_info=True, extra={"key": KEY})
        log.warning("too few %s %s", KEY)  # a malformed call: logging prints its arguments
    finally:
        log.removeHandler(handler)
    written = stream.getvalue()
    assert KEY not in written
    assert "args ('***', 'keyring')" in written
    assert "ValueError: Invalid header value '***'" in written
    assert "arguments that do not format: ('***',)" in written


def test_the_streams_mask_what_bypasses_logging(registry: SecretRegistry) -> None:
    target = io.StringIO()
    stream = MaskedStream(target, registry)
    print(f"hark: error: the server said {KEY}", file=stream)
    stream.writelines([KEY, "\n"])
    assert target.getvalue() == "hark: error: the server said ***\n***\n"
    assert stream.wrapped is target
    assert stream.getvalue() == target.getvalue()  # the rest is the wrapped stream's
    assert sys.stdout is not stream
