"""A cloud provider in the setup window: which one, its API key, and a real test."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.options import KEYED_PROVIDERS, PROVIDER_TITLES
from app.core.settings import Settings
from app.ui.setup import texts
from app.ui.widgets.api_key import ApiKeyField, SecretStore
from app.ui.widgets.form import (
    ERROR_COLOR,
    OK_COLOR,
    OneOf,
    message_label,
    note_label,
    show_message,
)
from app.ui.widgets.settings_labels import BASETEN_NEEDS_TARGET


class CloudPanel(QWidget):
    """Provider, Baseten's model ID, the API key and Test connection.

    Args:
        settings: The settings to start from.
        secrets: The key store (written by :meth:`apply_keys`).

    Signals:
        test_requested(str, str): Test connection: the provider and the typed key.
    """

    test_requested = Signal(str, str)

    def __init__(self, settings: Settings, secrets: SecretStore) -> None:
        super().__init__()
        self.provider_combo = QComboBox()
        self.provider_combo.setAccessibleName("Cloud provider")
        for name in KEYED_PROVIDERS:
            self.provider_combo.addItem(PROVIDER_TITLES[name], name)
        self._baseten_endpoint = settings.baseten.endpoint
        self.baseten_model = QLineEdit(settings.baseten.model_id or "")
        self.baseten_model.setPlaceholderText(texts.BASETEN_MODEL_HINT)
        self.baseten_model.setAccessibleName(texts.BASETEN_MODEL)
        self.keys = OneOf()
        self.key_fields: dict[str, ApiKeyField] = {}
        for name in KEYED_PROVIDERS:
            field = ApiKeyField(name, PROVIDER_TITLES[name], secrets)
            self.key_fields[name] = field
            self.keys.add(field)
        self.test_button = QPushButton("Test connection")
        self.test_button.setAccessibleName("Test connection")
        self.test_button.clicked.connect(self._on_test)
        self.test_result = message_label()
        self.test_result.setAccessibleName("Connection test result")

        self.cloud_form = QFormLayout()
        self.cloud_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.cloud_form.addRow("Provider:", self.provider_combo)
        self.cloud_form.addRow(texts.BASETEN_MODEL + ":", self.baseten_model)
        self.cloud_form.addRow("API key:", self.keys)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 0, 0, 0)
        layout.addLayout(self.cloud_form)
        layout.addWidget(note_label(texts.CLOUD_NOTE))
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addStretch(1)
        layout.addLayout(test_row)
        layout.addWidget(self.test_result)

        if settings.provider in KEYED_PROVIDERS:
            self.provider_combo.setCurrentIndex(KEYED_PROVIDERS.index(settings.provider))
        self.provider_combo.currentIndexChanged.connect(self._on_provider_changed)
        self._on_provider_changed()

    def provider(self) -> str:
        """The chosen cloud provider."""
        return str(self.provider_combo.currentData())

    def settings(self, base: Settings) -> Settings:
        """``base`` with this provider (and Baseten's model ID)."""
        provider = self.provider()
        if provider == "baseten":
            model_id = self.baseten_model.text().strip() or None
            baseten = dataclasses.replace(base.baseten, model_id=model_id)
            return base.replace(provider=provider, baseten=baseten)
        return base.replace(provider=provider)

    def apply_keys(self) -> str | None:
        """Store a typed API key (or remove the stored one, as asked) in the keyring.

        Returns:
            ``None``, or the keyring's reason for refusing.
        """
        return self.key_fields[self.provider()].apply_pending()

    @Slot()
    def _on_provider_changed(self) -> None:
        provider = str(self.provider_combo.currentData())
        self.keys.show_page(KEYED_PROVIDERS.index(provider))
        self.cloud_form.setRowVisible(self.baseten_model, provider == "baseten")
        self.test_result.hide()

    def _on_test(self) -> None:
        provider = self.provider()
        if (
            provider == "baseten"
            and not self.baseten_model.text().strip()
            and not self._baseten_endpoint
        ):
            show_message(self.test_result, BASETEN_NEEDS_TARGET, ERROR_COLOR)
            self.baseten_model.setFocus()
            return
        self.test_button.setEnabled(False)
        self.test_button.setText("Testing…")
        show_message(self.test_result, f"Connecting to {PROVIDER_TITLES[provider]}…", None)
        self.test_requested.emit(provider, self.key_fields[provider].typed_key())

    def show_test_result(self, ok: bool, message: str) -> None:
        """Show how the connection test went, in full, under its button."""
        self.test_button.setEnabled(True)
        self.test_button.setText("Test connection")
        shown = message or ("Connected." if ok else "The connection test failed.")
        show_message(self.test_result, shown, OK_COLOR if ok else ERROR_COLOR)
