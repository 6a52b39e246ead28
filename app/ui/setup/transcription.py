"""Setup step 1: how speech becomes text, on this computer or with a cloud service."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QButtonGroup, QRadioButton, QVBoxLayout, QWidget

from app.adapters.models import ModelStore
from app.core.settings import Settings
from app.ui.setup import texts
from app.ui.setup.cloud import CloudPanel
from app.ui.setup.local_model import LocalModelPanel
from app.ui.widgets.api_key import SecretStore


class TranscriptionPage(QWidget):
    """Local or cloud, each with its panel (only the chosen one shows).

    Args:
        settings: The settings to start from.
        secrets: The key store (keys are written by :meth:`apply_keys`).
        models: The local model store; ``None`` disables downloads.

    Signals:
        test_requested(str, str): Test connection: the provider and the typed key.
    """

    test_requested = Signal(str, str)

    def __init__(self, settings: Settings, secrets: SecretStore, models: ModelStore | None) -> None:
        super().__init__()
        self.local_radio = QRadioButton(texts.LOCAL_CHOICE)
        self.local_radio.setAccessibleName("Transcribe on this computer")
        self.cloud_radio = QRadioButton(texts.CLOUD_CHOICE)
        self.cloud_radio.setAccessibleName("Transcribe with a cloud service")
        self.choice = QButtonGroup(self)
        self.choice.addButton(self.local_radio)
        self.choice.addButton(self.cloud_radio)
        self.local_panel = LocalModelPanel(settings.local.model, models)
        self.cloud_panel = CloudPanel(settings, secrets)
        self.cloud_panel.test_requested.connect(self.test_requested)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.local_radio)
        layout.addWidget(self.local_panel)
        layout.addWidget(self.cloud_radio)
        layout.addWidget(self.cloud_panel)
        layout.addStretch(1)

        local = settings.provider == "local"
        (self.local_radio if local else self.cloud_radio).setChecked(True)
        self.local_radio.toggled.connect(self._on_choice)
        self._on_choice()

    @property
    def local(self) -> bool:
        """Whether the local engine is chosen."""
        return self.local_radio.isChecked()

    def provider(self) -> str:
        """The chosen provider."""
        return "local" if self.local else self.cloud_panel.provider()

    def settings(self, base: Settings) -> Settings:
        """``base`` with this page's choices."""
        if self.local:
            model = self.local_panel.model()
            return base.replace(
                provider="local", local=dataclasses.replace(base.local, model=model)
            )
        return self.cloud_panel.settings(base)

    def apply_keys(self) -> str | None:
        """Store the typed API key of the chosen provider; the reason when refused."""
        return None if self.local else self.cloud_panel.apply_keys()

    def show_test_result(self, ok: bool, message: str) -> None:
        """Show how the connection test went, in full, under its button."""
        self.cloud_panel.show_test_result(ok, message)

    def stop(self) -> None:
        """Cancel a running download (the window is closing)."""
        self.local_panel.stop()

    @Slot()
    def _on_choice(self) -> None:
        self.local_panel.setVisible(self.local)
        self.cloud_panel.setVisible(not self.local)
