"""The API key field of one provider: masked, never shows the stored key, and writes
to the keyring only when the dialog is saved."""

from __future__ import annotations

import os
from typing import Protocol

from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.adapters.secrets import ENV_VARS
from app.core.errors import HarkError
from app.ui.widgets.form import ERROR_COLOR, message_label, note_label, show_message


class SecretStore(Protocol):
    """What the dialog needs from :class:`~app.adapters.secrets.KeyringSecretStore`."""

    @property
    def backend(self) -> str:
        """The keyring backend's name."""
        ...

    def get(self, provider: str) -> str | None:
        """The stored key, or ``None``."""
        ...

    def set(self, provider: str, key: str) -> None:
        """Store ``key``; raises ``SecretStoreError`` when refused."""
        ...

    def delete(self, provider: str) -> bool:
        """Delete the stored key; whether there was one."""
        ...

    def usable(self) -> bool:
        """False when no secure keyring exists."""
        ...


class ApiKeyField(QWidget):
    """Masked key entry with Show/Hide, the keyring status and a Remove button.

    Nothing is written until :meth:`apply` (called on Save): a typed key replaces the
    stored one; "Remove key" marks the stored key for deletion (press again to keep it).

    Args:
        provider: ``baseten``, ``together`` or ``fireworks``.
        title: The provider's display name.
        secrets: The key store.
    """

    def __init__(self, provider: str, title: str, secrets: SecretStore) -> None:
        super().__init__()
        self.provider = provider
        self.title = title
        self.env_var = ENV_VARS.get(provider, f"{provider.upper()}_API_KEY")
        self._secrets = secrets
        self._stored = False
        self._remove = False

        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setAccessibleName(f"{title} API key")
        self.show_button = QPushButton("Show")
        self.show_button.setCheckable(True)
        self.show_button.setToolTip("Show or hide the key you are typing")
        self.show_button.setAccessibleName(f"Show the {title} key")
        self.show_button.toggled.connect(self._on_show_toggled)
        self.remove_button = QPushButton("Remove key")
        self.remove_button.setToolTip("Delete the stored key from the keyring when you save")
        self.remove_button.setAccessibleName(f"Remove the stored {title} key")
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.status = note_label()
        self.error = message_label()

        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.edit, 1)
        line.addWidget(self.show_button)
        line.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(line)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        self.setFocusProxy(self.edit)
        self.refresh()

    def usable(self) -> bool:
        """Whether keys can be stored at all."""
        return self._secrets.usable()

    def typed_key(self) -> str:
        """The key typed in the field (stripped), or ``""``."""
        return self.edit.text().strip()

    def removal_pending(self) -> bool:
        """Whether Save will delete the stored key."""
        return self._remove

    def refresh(self) -> None:
        """Re-read whether a key is stored (never the key itself into the UI)."""
        usable = self.usable()
        self._stored = usable and bool(self._secrets.get(self.provider))
        self._remove = self._remove and self._stored
        self.edit.setEnabled(usable)
        self.show_button.setEnabled(usable)
        self.remove_button.setEnabled(self._stored)
        self.remove_button.setText("Keep key" if self._remove else "Remove key")
        self.edit.setPlaceholderText(
            "Type a new key to replace the stored one" if self._stored else "Paste your API key"
        )
        self.status.setText(self._status_text(usable))

    def _status_text(self, usable: bool) -> str:
        env_set = bool(os.environ.get(self.env_var, "").strip())
        if not usable:
            text = (
                f"No secure keyring is available on this system (found {self._secrets.backend}), "
                f"so Hark cannot store API keys. Set the {self.env_var} environment variable "
                "before starting Hark instead."
            )
            return text + (f" {self.env_var} is set, so Hark will use it." if env_set else "")
        backend = self._secrets.backend
        if self._remove:
            return "The stored key will be removed from the keyring when you save."
        if self._stored:
            text = f"A key is stored in the keyring ({backend})."
            return text + (f" It is used instead of {self.env_var}." if env_set else "")
        text = (
            f"No key stored. A key you enter is kept in the keyring ({backend}), "
            "never in the settings file."
        )
        return text + (f" Until then Hark uses {self.env_var}." if env_set else "")

    def show_error(self, message: str) -> None:
        """Show ``message`` in red under the field (empty: hide it)."""
        show_message(self.error, message, ERROR_COLOR)

    def apply(self) -> None:
        """Store the typed key or delete the stored one, as the user asked.

        Raises:
            SecretStoreError: the keyring refused (the field keeps what was typed).
        """
        key = self.typed_key()
        if key:
            self._secrets.set(self.provider, key)
            self.edit.clear()
        elif self._remove:
            self._secrets.delete(self.provider)
        self._remove = False
        self.show_error("")
        self.refresh()

    def apply_pending(self) -> str | None:
        """:meth:`apply` when there is something to store or delete; the refusal, if any.

        Returns:
            ``None``, or the keyring's reason for refusing (also shown under the field).
        """
        if not (self.typed_key() or self.removal_pending()):
            return None
        try:
            self.apply()
        except HarkError as exc:
            self.show_error(str(exc))
            return str(exc)
        return None

    def _on_show_toggled(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.edit.setEchoMode(mode)
        self.show_button.setText("Hide" if shown else "Show")

    def _on_remove_clicked(self) -> None:
        self._remove = not self._remove
        self.refresh()
