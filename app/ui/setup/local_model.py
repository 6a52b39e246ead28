"""The local engine's model in the setup window: a size to download (with progress and
Cancel), an installed one, or a model folder; offline, what is still possible."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.adapters.models import ALTERNATIVES, ModelStore, is_model_folder
from app.core.options import MODEL_SIZES
from app.ui.model_dialog import ModelDownload, progress_value
from app.ui.setup import texts
from app.ui.widgets.form import ERROR_COLOR, message_label, note_label, show_message

log = logging.getLogger(__name__)


class LocalModelPanel(QWidget):
    """The model list, "Use a model folder…", the download and its problems.

    Args:
        model: The model setting to start from (a size or a folder path).
        models: The model store; ``None`` disables downloads.
    """

    def __init__(self, model: str, models: ModelStore | None) -> None:
        super().__init__()
        self.models = models
        self.download: ModelDownload | None = None
        self.folder: Path | None = None
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
        self.help = message_label()
        self.help.setAccessibleName("What you can do instead")
        root = self.models.root if self.models is not None else "the models folder"
        self.folder_hint = note_label(texts.FOLDER_HINT.format(root=root))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 0, 0, 8)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_combo, 1)
        model_row.addWidget(self.folder_button)
        layout.addLayout(model_row)
        layout.addWidget(self.model_status)
        download_row = QHBoxLayout()
        download_row.addWidget(self.download_button)
        download_row.addWidget(self.bar, 1)
        download_row.addWidget(self.cancel_button)
        download_row.addStretch(0)
        layout.addLayout(download_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.problem)
        layout.addWidget(self.help)
        layout.addWidget(self.folder_hint)

        index = self.model_combo.findData(model)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        elif Path(model).expanduser().is_dir():
            self.use_folder(Path(model).expanduser())
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self._update_model_status()

    def model(self) -> str:
        """The local model setting: a size or a folder path."""
        return str(self.folder) if self.folder is not None else str(self.model_combo.currentData())

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
        index = self.model_combo.findData(str(path))
        if index < 0:  # listed after the sizes, so it can be picked again
            self.model_combo.addItem(texts.FOLDER_ENTRY.format(name=path.name), str(path))
            index = self.model_combo.count() - 1
            self.model_combo.setItemData(index, str(path), Qt.ItemDataRole.ToolTipRole)
        self.model_combo.blockSignals(True)
        self.model_combo.setCurrentIndex(index)
        self.model_combo.blockSignals(False)
        self.folder = path
        self.problem.hide()
        self.help.hide()
        self._update_model_status()
        return True

    @Slot()
    def _on_model_changed(self) -> None:
        chosen = str(self.model_combo.currentData())
        self.folder = None if chosen in MODEL_SIZES else Path(chosen)
        self.problem.hide()
        self.help.hide()
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
        self.help.hide()
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
    def _on_downloaded(self, path: Path) -> None:
        log.info("model %s downloaded into %s", self.model(), path)
        self._finish_download("")  # the status line now says it is installed
        self.model_combo.setFocus()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        log.warning("model download failed: %s", message)
        reason = message.replace(ALTERNATIVES, "").strip()
        self._finish_download("")
        show_message(self.problem, texts.OFFLINE.format(reason=reason), ERROR_COLOR)
        show_message(self.help, texts.OFFLINE_HELP.format(size=self.model()), None)
        self.download_button.setText("Try again")
        self.folder_button.setFocus()

    @Slot()
    def _on_cancelled(self) -> None:
        self._finish_download(texts.CANCELLED)
        self.download_button.setFocus()

    def stop(self) -> None:
        """Cancel a running download (the window is closing)."""
        if self.download is not None:
            self.download.cancel()
