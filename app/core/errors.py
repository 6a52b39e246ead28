"""The exception hierarchy every layer raises and the CLI and UI report.

Each error's ``str()`` is one line that says what went wrong and what to do. None of
them ever carries a secret: callers pass provider names and hosts, never keys or headers.
"""

from __future__ import annotations


class HarkError(Exception):
    """Base class: a failure we can explain to the user in one line."""


class SettingError(HarkError, ValueError):
    """A setting is out of range or malformed.

    Attributes:
        name: The setting's name (``vad_threshold``), so a UI can show the message
            next to the right field.
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


class InsecureEndpointError(HarkError):
    """An unencrypted ``ws://`` URL that does not point at this machine."""


class MissingKeyError(HarkError):
    """No API key in the keyring or the provider's environment variable."""


class KeyRejectedError(HarkError):
    """The provider refused the API key during the WebSocket handshake (HTTP 401/403)."""


class EndpointUnreachableError(HarkError):
    """The endpoint could not be reached: DNS, refused connection, TLS or HTTP failure."""


class ProviderBusyError(EndpointUnreachableError):
    """HTTP 429 or 503 at the handshake: the service is overloaded or rate-limiting.

    Attributes:
        retry_after: Seconds the server asked the client to wait (its ``Retry-After``),
            or ``None`` when it did not say.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderFailure(HarkError):
    """The provider reported an error, or closed the stream abnormally."""


class SessionTimeout(HarkError):
    """The provider did not answer in time (handshake, or the final after a flush)."""


class AudioInputError(HarkError):
    """An audio file or device cannot be read."""


class SecretStoreError(HarkError):
    """The OS keyring is missing, refuses access, or is an insecure plaintext backend."""
