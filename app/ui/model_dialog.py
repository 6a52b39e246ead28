"""Local Whisper models in the desktop app: the download dialog and the models list.

The download runs on a worker thread (:meth:`ModelStore.download` blocks on the
network); its progress reaches the Qt thread through queued signals, so the UI, the
tray and the hotkey never wait on it. Cancel keeps the partial files, and the next
download of that size resumes them.
"""

from __future__ import annotations

import itertools
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
    """Carries the worker threads' news to the Qt thread (queued connections).

    One relay serves every download and lives as long as the module: a worker thread
    holds it, and a QObject must never be destroyed on a thread other than its own
    (the last reference to a per-download relay used to go away with the worker, and
    that corrupted Qt's connection lists). Each message names its download's token.
    """

    progressed = Signal(int, object, object)  # token, done, total (Python ints)
    succeeded = Signal(int, object)  # token, Path
    failed = Signal(int, str)
    cancelled = Signal(int)


_relay: _Relay | None = None
_tokens = itertools.count(1)


def _shared_relay() -> _Relay:
    """The relay, made on first use (on the Qt thread)."""
    global _relay
    if _relay is None:
        _relay = _Relay()
    return _relay


class ModelDownload(QObject):
    """One model download on a worker thread, reporting on the Qt thread.

    Used by :class:`ModelDownloadDialog` and the setup window. :meth:`start` once;
    exactly one of :attr:`succeeded`, :attr:`failed` or :attr:`cancelled` follows.

    Args:
        store: Where the model goes.
        size: A key of :data:`~app.adapters.models.MODEL_REPOS`.
        parent: The owning Qt object.

    Signals:
        progressed(int, int): Bytes done and total (at most ~20 a second).
        succeeded(Path): The model folder, once complete.
        failed(str): The one-line reason (it names the alternatives).
        cancelled(): A cancel took effect; the partial files are kept.
    """

    progressed = Signal(object, object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, store: ModelStore, size: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.model_size = size
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._ended = False  # the outcome (success, failure, cancel) has been delivered
        self._token = next(_tokens)
        self._started_at = 0.0
        self._first_done: int | None = None
        relay, queued = _shared_relay(), Qt.ConnectionType.QueuedConnection
        relay.progressed.connect(self._on_progressed, queued)
        relay.succeeded.connect(self._on_succeeded, queued)
        relay.failed.connect(self._on_failed, queued)
        relay.cancelled.connect(self._on_cancelled, queued)

    @Slot(int, object, object)
    def _on_progressed(self, token: int, done: int, total: int) -> None:
        if token == self._token:
            self.progressed.emit(done, total)

    @Slot(int, object)
    def _on_succeeded(self, token: int, path: Path) -> None:
        if token == self._token:
            self._ended = True
            self.succeeded.emit(path)

    @Slot(int, str)
    def _on_failed(self, token: int, message: str) -> None:
        if token == self._token:
            self._ended = True
            self.failed.emit(message)

    @Slot(int)
    def _on_cancelled(self, token: int) -> None:
        if token == self._token:
            self._ended = True
            self.cancelled.emit()

    @property
    def running(self) -> bool:
        """Whether the download started and its outcome has not arrived on the Qt thread.

        Not the worker thread's liveness: the thread may still be winding down when its
        outcome is already shown, and a Close pressed then must close, not cancel.
        """
        return self._thread is not None and not self._ended

    @property
    def cancelling(self) -> bool:
        """Whether a cancel was asked for."""
        return self._cancel.is_set()

    def start(self) -> None:
        """Start the download on a worker thread (once)."""
        if self._thread is not None:
            return
        self._started_at = time.monotonic()
        relay, token = _shared_relay(), self._token  # never a QObject the thread would own
        store, size, cancel = self.store, self.model_size, self._cancel
        last = [-1, 0.0]  # per-mille and time of the last emit: at most ~20 signals a second

        def progress(done: int, total: int) -> None:
            step, now = (_STEPS * done // total if total else _STEPS), time.monotonic()
            if done >= total or (step > last[0] and now - last[1] >= 0.05):
                last[0], last[1] = step, now
                relay.progressed.emit(token, done, total)

        def work() -> None:
            try:
                path = store.download(size, progress, cancel)
            except DownloadCancelled:
                relay.cancelled.emit(token)
            except HarkError as exc:
                relay.failed.emit(token, str(exc))
            except Exception as exc:  # a bug: still report it on the Qt thread
                relay.failed.emit(token, f"Download failed: {exc!r}")
            else:
                relay.succeeded.emit(token, path)

        self._thread = threading.Thread(target=work, name=f"hark-download-{size}", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        """Ask the download to stop soon (:attr:`cancelled` follows)."""
        self._cancel.set()

    def describe(self, done: int, total: int) -> str:
        """``"12.3 of 145.0 MB, 4.5 MB/s"`` for a progress report."""
        now = time.monotonic()
        if self._first_done is None:  # a resumed download's old bytes do not count for speed
            self._first_done, self._started_at = done, now
        elapsed = now - self._started_at
        speed = (done - self._first_done) / elapsed / _MB if elapsed > 0.2 else 0.0
        rate = f", {speed:.1f} MB/s" if speed else ""
        return f"{done / _MB:.1f} of {total / _MB:.1f} MB{rate}"


def progress_value(done: int, total: int) -> int:
    """The progress bar value (0..1000) for ``done`` of ``total`` bytes."""
    return _STEPS * done // total if total else _STEPS


class ModelDownloadDialog(QDialog):
    """Downloads one model with a progress bar, speed and a Cancel button.

    Call :meth:`start` after showing it (``open()`` or ``show()``). It accepts itself
    when the model is in place, and rejects itself once a cancel has taken effect; on
    a failure it stays open with the reason, in full, and a Close button.

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
        self.download = ModelDownload(store, size, self)
        self.setWindowTitle("Downloading a speech model")
        self.setMinimumWidth(480)

        self.title = QLabel(f"Downloading the {size} Whisper model for offline dictation…")
        self.title.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until the sizes are known
        self.bar.setAccessibleName("Download progress")
        self.status = note_label("Connecting…")
        self.message = message_label()
        self.message.setAccessibleName("Download error")
        self.button = QPushButton("Cancel")
        self.button.clicked.connect(self._on_button)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.button)
        layout = QVBoxLayout(self)
        for widget in (self.title, self.bar, self.status, self.message):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addLayout(buttons)

        self.download.progressed.connect(self._on_progress)
        self.download.succeeded.connect(self._on_succeeded)
        self.download.failed.connect(self._on_failed)
        self.download.cancelled.connect(self._on_cancelled)

    @property
    def running(self) -> bool:
        """Whether the worker thread is still at work."""
        return self.download.running

    def start(self) -> None:
        """Start the download on a worker thread (once)."""
        self.download.start()

    def cancel(self) -> None:
        """Ask the download to stop; the dialog rejects itself once it has."""
        if self.running:
            self.download.cancel()
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
        if self.download.cancelling or self.path is not None:
            return
        self.bar.setRange(0, _STEPS)
        self.bar.setValue(progress_value(done, total))
        self.status.setText(self.download.describe(done, total))

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
        # Nothing is in progress any more, and a visible progress bar keeps the style
        # animating it: 3 % of a core for as long as the dialog stayed open.
        self.bar.hide()
        self.status.setText("The download stopped.")
        show_message(self.message, message, ERROR_COLOR)
        self.button.setText("Close")
        self.button.setEnabled(True)
        self.button.setDefault(True)
        grow_to_fit(self)
        self.failed.emit(message)

    @Slot()
    def _on_cancelled(self) -> None:
        self.status.setText("Cancelled; downloading again resumes where it stopped.")
        self.reject()

    def reject(self) -> None:
        """Close; a running download is cancelled first (the dialog then closes)."""
        if self.running and not self.download.cancelling:
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


def grow_to_fit(window: QWidget) -> None:
    """Make ``window`` tall enough for its word-wrapped text at its current width.

    A top-level window's minimum size ignores height-for-width (wrapped labels), so a
    message shown after the window opened is otherwise clipped after a line or two.
    """
    layout = window.layout()
    if layout is None:
        return
    layout.activate()
    width = window.width()
    needed = layout.totalHeightForWidth(width) if layout.hasHeightForWidth() else -1
    needed = max(needed, layout.totalMinimumSize().height())
    if needed > window.height():
        window.resize(width, needed)


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
