"""Setup step 1: the local engine (a model to download, installed or in a folder) or a
cloud provider with its API key and a connection test."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.adapters.models import ALTERNATIVES, ModelStore, is_model_folder
from app.core.errors import HarkError
from app.core.options import KEYED_PROVIDERS, MODEL_SIZES, PROVIDER_TITLES
from app.core.settings import Settings
from app.ui.model_dialog import ModelDownload, progress_value
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


def _row(*widgets: QWidget, grow_first: bool = False) -> QHBoxLayout:
    """Widgets side by side: the first one takes the spare room, or a stretch after all."""
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    for index, widget in enumerate(widgets):
        row.addWidget(widget, 1 if grow_first and index == 0 else 0)
    if not grow_first:
        row.addStretch(1)
    return row


class TranscriptionPage(QWidget):
    """Choose local or cloud transcription, and make the choice work.

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
        self.models = models
        self.download: ModelDownload | None = None
        self.folder: Path | None = None
        self.local_radio = QRadioButton(texts.LOCAL_CHOICE)
        self.local_radio.setAccessibleName("Transcribe on this computer")
        self.cloud_radio = QRadioButton(texts.CLOUD_CHOICE)
        self.cloud_radio.setAccessibleName("Transcribe with a cloud service")
        self.choice = QButtonGroup(self)
        self.choice.addButton(self.local_radio)
        self.choice.addButton(self.cloud_radio)
        self.local_panel = self._build_local(settings)
        self.cloud_panel = self._build_cloud(settings, secrets)

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

    # -- construction -------------------------------------------------------------------

    def _build_local(self, settings: Settings) -> QWidget:
        panel = QWidget()
        self.model_combo = QComboBox()
        self.model_combo.setAccessibleName("Local model")
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model_combo.setMinimumContentsLength(24)
        for size in MODEL_SIZES:
            self.model_combo.addItem(texts.model_label(size, self._installed(size)), size)
        self.folder_button = QPushButton("Use a model folder…")
        self.folder_button.setAccessibleName("Use a model folder")
        self.folder_button.clicked.connect(self.pick_folder)
        self.model_status = note_label(muted=False)
        self.model_status.setAccessibleName("Model status")
        self.download_button = QPushButton("Download")
        self.download_button.setAccessibleName("Download the model")
        self.download_button.clicked.connect(self.start_download)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.setAccessibleName("Cancel the download")
        self.cancel_button.clicked.connect(self.cancel_download)
        self.cancel_button.hide()
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Download progress")
        self.bar.hide()
        self.progress = note_label()
        self.progress.setAccessibleName("Download progress text")
        self.progress.hide()
        self.problem = message_label()
        self.problem.setAccessibleName("Download problem")
        root = self.models.root if self.models is not None else "the models folder"
        self.folder_hint = note_label(texts.FOLDER_HINT.format(root=root))

        layout = QVBoxLayout(panel)
        layout.setContentsMargins(24, 0, 0, 8)
        layout.addLayout(_row(self.model_combo, self.folder_button, grow_first=True))
        layout.addWidget(self.model_status)
        download_row = QHBoxLayout()
        download_row.addWidget(self.download_button)
        download_row.addWidget(self.bar, 1)
        download_row.addWidget(self.cancel_button)
        download_row.addStretch(0)
        layout.addLayout(download_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.problem)
        layout.addWidget(self.folder_hint)

        model = settings.local.model
        index = self.model_combo.findData(model)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        elif Path(model).expanduser().is_dir():
            self.use_folder(Path(model).expanduser())
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self._update_model_status()
        return panel

    def _build_cloud(self, settings: Settings, secrets: SecretStore) -> QWidget:
        panel = QWidget()
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
        layout = QVBoxLayout(panel)
        layout.setContentsMargins(24, 0, 0, 0)
        layout.addLayout(self.cloud_form)
        layout.addWidget(note_label(texts.CLOUD_NOTE))
        test_row = _row(self.test_button)
        layout.addLayout(test_row)
        layout.addWidget(self.test_result)

        if settings.provider in KEYED_PROVIDERS:
            self.provider_combo.setCurrentIndex(KEYED_PROVIDERS.index(settings.provider))
        self.provider_combo.currentIndexChanged.connect(self._on_provider_changed)
        self._on_provider_changed()
        return panel

    # -- what was chosen ----------------------------------------------------------------

    @property
    def local(self) -> bool:
        """Whether the local engine is chosen."""
        return self.local_radio.isChecked()

    def provider(self) -> str:
        """The chosen provider."""
        return "local" if self.local else str(self.provider_combo.currentData())

    def model(self) -> str:
        """The local model setting: a size or a folder path."""
        if self.folder is not None:
            return str(self.folder)
        return str(self.model_combo.currentData())

    def settings(self, base: Settings) -> Settings:
        """``base`` with this page's choices."""
        provider = self.provider()
        if provider == "local":
            return base.replace(
                provider="local", local=dataclasses.replace(base.local, model=self.model())
            )
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
        field = self.key_fields.get(self.provider())
        if field is None or not (field.typed_key() or field.removal_pending()):
            return None
        try:
            field.apply()
        except HarkError as exc:
            field.show_error(str(exc))
            return str(exc)
        return None

    # -- the local model ----------------------------------------------------------------

    def _installed(self, size: str) -> bool:
        return self.models is not None and self.models.is_installed(size)

    def pick_folder(self) -> None:
        """Ask for a model folder with the system's folder picker."""
        start = str(self.models.root) if self.models is not None else ""
        chosen = QFileDialog.getExistingDirectory(self, "Choose a Whisper model folder", start)
        if chosen:
            self.use_folder(Path(chosen))

    def use_folder(self, path: Path) -> bool:
        """Use the model in ``path``; says so and returns False when it holds none."""
        if not is_model_folder(path):
            show_message(self.problem, texts.NOT_A_MODEL.format(path=path), ERROR_COLOR)
            return False
        self.folder = path
        self.problem.hide()
        self._update_model_status()
        return True

    @Slot()
    def _on_model_changed(self) -> None:
        self.folder = None
        self.problem.hide()
        self.download_button.setText("Download")
        self._update_model_status()

    def _update_model_status(self) -> None:
        downloading = self.download is not None
        if downloading:
            text, needed = texts.DOWNLOADING.format(size=self.model()), True
        elif self.folder is not None:
            text, needed = texts.FOLDER_READY.format(path=self.folder), False
        elif self._installed(self.model()):
            text, needed = texts.MODEL_READY, False
        else:
            megabytes = texts.MODEL_INFO.get(self.model(), ("", 0))[1]
            text, needed = texts.MODEL_NEEDED.format(size=texts.size_text(megabytes)), True
        self.model_status.setText(text)
        self.download_button.setVisible(needed and not downloading)
        self.download_button.setEnabled(self.models is not None)
        self.cancel_button.setVisible(downloading)
        self.model_combo.setEnabled(not downloading)
        self.folder_button.setEnabled(not downloading)

    def start_download(self) -> None:
        """Download the chosen size with progress (Cancel stops it; a retry resumes)."""
        if self.models is None or self.download is not None or self.folder is not None:
            return
        self.download = ModelDownload(self.models, self.model(), self)
        self.download.progressed.connect(self._on_progress)
        self.download.succeeded.connect(self._on_downloaded)
        self.download.failed.connect(self._on_failed)
        self.download.cancelled.connect(self._on_cancelled)
        self.problem.hide()
        self.bar.setRange(0, 0)
        self.bar.show()
        self.progress.setText("Connecting…")
        self.progress.show()
        self._update_model_status()
        self.cancel_button.setFocus()
        self.download.start()

    def cancel_download(self) -> None:
        """Stop the download in progress (the partial files are kept for a resume)."""
        if self.download is not None:
            self.download.cancel()
            self.cancel_button.setEnabled(False)
            self.progress.setText("Cancelling…")

    @property
    def downloading(self) -> bool:
        """Whether a download is in progress."""
        return self.download is not None

    def _finish_download(self, message: str) -> None:
        if self.download is not None:
            self.download.deleteLater()
        self.download = None
        self.cancel_button.setEnabled(True)
        self.bar.hide()
        self.progress.setText(message)
        self.progress.setVisible(bool(message))
        for index, size in enumerate(MODEL_SIZES):
            self.model_combo.setItemText(index, texts.model_label(size, self._installed(size)))
        self._update_model_status()

    @Slot(object, object)
    def _on_progress(self, done: int, total: int) -> None:
        if self.download is None or self.download.cancelling:
            return
        self.bar.setRange(0, 1000)
        self.bar.setValue(progress_value(done, total))
        self.progress.setText(self.download.describe(done, total))

    @Slot(object)
    def _on_downloaded(self, _path: Path) -> None:
        self._finish_download(texts.DOWNLOADED.format(size=self.model()))
        self.model_combo.setFocus()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        reason = message.replace(ALTERNATIVES, "").strip()
        self._finish_download("")
        offline = texts.OFFLINE.format(reason=reason, size=self.model())
        show_message(self.problem, offline, ERROR_COLOR)
        self.download_button.setText("Try again")
        self.folder_button.setFocus()

    @Slot()
    def _on_cancelled(self) -> None:
        self._finish_download(texts.CANCELLED)
        self.download_button.setFocus()

    # -- the cloud ----------------------------------------------------------------------

    @Slot()
    def _on_choice(self) -> None:
        self.local_panel.setVisible(self.local)
        self.cloud_panel.setVisible(not self.local)

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

    def stop(self) -> None:
        """Cancel a running download (the window is closing)."""
        if self.download is not None:
            self.download.cancel()
