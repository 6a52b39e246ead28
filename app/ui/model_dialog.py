"""Local Whisper models in the desktop app: the download dialog and the models list.

The download runs on a worker thread (:meth:`ModelStore.download` blocks on the
network); its progress reaches the Qt thread through queued signals, so the UI, the
tray and the hotkey never wait on it. Cancel keeps the partial files, and the next
download of that size resumes them.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.adapters.models import MODEL_REPOS, DownloadCancelled, ModelStore
from app.core.errors import HarkError
from app.ui.widgets.form import ERROR_COLOR, message_label, note_label, show_message

_MB = 1_000_000
_STEPS = 1000  # progress bar resolution (0.1 %)


class _Relay(QObject):
    """Carries the worker thread's news to the Qt thread (queued connections).

    It has no parent and the worker holds a reference, so it outlives a dialog that is
    closed while the download is still winding down.
    """

    progressed = Signal(object, object)  # done, total (Python ints: no 32-bit limit)
    succeeded = Signal(object)  # Path
    failed = Signal(str)
    cancelled = Signal()


class ModelDownloadDialog(QDialog):
    """Downloads one model with a progress bar, speed and a Cancel button.

    Call :meth:`start` after showing it (``open()`` or ``show()``). It accepts itself
    when the model is in place, and rejects itself once a cancel has taken effect; on
    a failure it stays open with the one-line reason and a Close button.

    Args:
        store: Where the model goes.
        size: A key of :data:`~app.adapters.models.MODEL_REPOS`.
        parent: The parent widget.

    Signals:
        downloaded(Path): The model folder, once complete.
        failed(str): The one-line reason (it names the alternatives).
    """

    downloaded = Signal(object)
    failed = Signal(str)

    def __init__(self, store: ModelStore, size: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.model_size = size
        self.path: Path | None = None
        self.error: str | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._relay = _Relay()
        self._started_at = 0.0
        self._first_done: int | None = None
        self.setWindowTitle("Downloading a speech model")
        self.setMinimumWidth(420)

        self.title = QLabel(f"Downloading the {size} Whisper model for offline dictation…")
        self.title.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until the sizes are known
        self.status = note_label("Connecting…")
        self.message = message_label()
        self.button = QPushButton("Cancel")
        self.button.clicked.connect(self._on_button)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.button)
        layout = QVBoxLayout(self)
        for widget in (self.title, self.bar, self.status, self.message):
            layout.addWidget(widget)
        layout.addLayout(buttons)

        queued = Qt.ConnectionType.QueuedConnection
        self._relay.progressed.connect(self._on_progress, queued)
        self._relay.succeeded.connect(self._on_succeeded, queued)
        self._relay.failed.connect(self._on_failed, queued)
        self._relay.cancelled.connect(self._on_cancelled, queued)

    @property
    def running(self) -> bool:
        """Whether the worker thread is still at work."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the download on a worker thread (once)."""
        if self._thread is not None:
            return
        self._started_at = time.monotonic()
        relay, store, size, cancel = self._relay, self.store, self.model_size, self._cancel
        last = [-1, 0.0]  # per-mille and time of the last emit: at most ~20 signals a second

        def progress(done: int, total: int) -> None:
            step, now = (_STEPS * done // total if total else _STEPS), time.monotonic()
            if done >= total or (step > last[0] and now - last[1] >= 0.05):
                last[0], last[1] = step, now
                relay.progressed.emit(done, total)

        def work() -> None:
            try:
                path = store.download(size, progress, cancel)
            except DownloadCancelled:
                relay.cancelled.emit()
            except HarkError as exc:
                relay.failed.emit(str(exc))
            except Exception as exc:  # a bug: still report it on the Qt thread
                relay.failed.emit(f"Download failed: {exc!r}")
            else:
                relay.succeeded.emit(path)

        self._thread = threading.Thread(target=work, name=f"hark-download-{size}", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Ask the download to stop; the dialog rejects itself once it has."""
        if self.running:
            self._cancel.set()
            self.button.setEnabled(False)
            self.status.setText("Cancelling…")
        else:
            self.reject()

    @Slot()
    def _on_button(self) -> None:
        if self.path is not None:
            self.accept()
        elif self.error is not None:
            self.reject()
        else:
            self.cancel()

    @Slot(object, object)
    def _on_progress(self, done: int, total: int) -> None:
        if self._cancel.is_set() or self.path is not None:
            return
        now = time.monotonic()
        if self._first_done is None:  # a resumed download's old bytes do not count for speed
            self._first_done, self._started_at = done, now
        elapsed = now - self._started_at
        speed = (done - self._first_done) / elapsed / _MB if elapsed > 0.2 else 0.0
        self.bar.setRange(0, _STEPS)
        self.bar.setValue(_STEPS * done // total if total else _STEPS)
        rate = f", {speed:.1f} MB/s" if speed else ""
        self.status.setText(f"{done / _MB:.1f} of {total / _MB:.1f} MB{rate}")

    @Slot(object)
    def _on_succeeded(self, path: Path) -> None:
        self.path = path
        self.bar.setRange(0, _STEPS)
        self.bar.setValue(_STEPS)
        self.status.setText(f"Saved in {path}")
        self.downloaded.emit(path)
        self.accept()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.error = message
        self.bar.setRange(0, _STEPS)
        self.status.setText("The download stopped.")
        show_message(self.message, message, ERROR_COLOR)
        self.button.setText("Close")
        self.button.setEnabled(True)
        self.failed.emit(message)

    @Slot()
    def _on_cancelled(self) -> None:
        self.status.setText("Cancelled; downloading again resumes where it stopped.")
        self.reject()

    def reject(self) -> None:
        """Close; a running download is cancelled first (the dialog then closes)."""
        if self.running and not self._cancel.is_set():
            self.cancel()
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        """The window's close button cancels like the Cancel button."""
        if self.running:
            self.cancel()
            event.ignore()
            return
        super().closeEvent(event)


class ModelsWidget(QWidget):
    """The downloaded models with their sizes, Remove, and Download… with a size choice.

    Embed it in a settings page; it works on its own (downloads open a
    :class:`ModelDownloadDialog`).

    Args:
        store: The model store to show and change.
        parent: The parent widget.

    Signals:
        models_changed(): A model was downloaded or removed.
    """

    models_changed = Signal()

    def __init__(self, store: ModelStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.dialog: ModelDownloadDialog | None = None
        self.list = QListWidget()
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._remove_selected)
        self.size_combo = QComboBox()
        self.size_combo.addItems(list(MODEL_REPOS))
        self.size_combo.setCurrentText("base")
        self.download_button = QPushButton("Download…")
        self.download_button.clicked.connect(self._download_chosen)
        self.message = message_label()
        row = QHBoxLayout()
        row.addWidget(self.remove_button)
        row.addStretch(1)
        row.addWidget(self.size_combo)
        row.addWidget(self.download_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(row)
        layout.addWidget(self.message)
        layout.addWidget(note_label(f"Models are kept in {store.root}"))
        self.refresh()

    def refresh(self) -> None:
        """Re-read the store."""
        self.list.clear()
        for model in self.store.installed():
            item = QListWidgetItem(f"{model.name}    {model.size_bytes / _MB:,.0f} MB")
            item.setData(Qt.ItemDataRole.UserRole, model.name)
            item.setToolTip(str(model.path))
            self.list.addItem(item)
        if not self.list.count():
            placeholder = QListWidgetItem("No models downloaded yet")
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(placeholder)
        self._update_buttons()

    def selected_name(self) -> str | None:
        """The selected model's name."""
        items = self.list.selectedItems()
        name = items[0].data(Qt.ItemDataRole.UserRole) if items else None
        return name if isinstance(name, str) else None

    def confirm_remove(self, name: str) -> bool:
        """Ask before deleting (tests replace this)."""
        answer = QMessageBox.question(
            self, "Remove model", f"Delete the {name} model? It can be downloaded again."
        )
        return answer == QMessageBox.StandardButton.Yes

    @Slot()
    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.selected_name() is not None)

    @Slot()
    def _remove_selected(self) -> None:
        name = self.selected_name()
        if name is None or not self.confirm_remove(name):
            return
        try:
            self.store.remove(name)
        except (HarkError, OSError) as exc:
            show_message(self.message, str(exc), ERROR_COLOR)
            return
        self.message.hide()
        self.refresh()
        self.models_changed.emit()

    @Slot()
    def _download_chosen(self) -> None:
        self.dialog = ModelDownloadDialog(self.store, self.size_combo.currentText(), self)
        self.dialog.downloaded.connect(self._on_downloaded)
        self.dialog.open()
        self.dialog.start()

    @Slot(object)
    def _on_downloaded(self, path: Path) -> None:
        self.refresh()
        self.models_changed.emit()
