"""The model download dialog and the models list, against a local stand-in for the hub."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from app.adapters.models import ModelStore
from app.ui.model_dialog import ModelDownloadDialog, ModelsWidget
from tests.model_server import ModelHub, closed_port


def test_progress_reaches_100_percent(qtbot: QtBot, tmp_path: Path, hub: ModelHub) -> None:
    store = ModelStore(tmp_path / "models", base_url=hub.base_url)
    dialog = ModelDownloadDialog(store, "tiny")
    qtbot.addWidget(dialog)
    values: list[int] = []
    dialog.bar.valueChanged.connect(values.append)
    dialog.show()
    with qtbot.waitSignal(dialog.downloaded, timeout=10_000) as signal:
        dialog.start()
    assert signal.args == [tmp_path / "models" / "tiny"]
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.bar.value() == dialog.bar.maximum() == 1000
    assert values == sorted(values)
    assert store.is_installed("tiny")


def test_cancel_stops_the_download(qtbot: QtBot, tmp_path: Path, hub: ModelHub) -> None:
    hub.stall = threading.Event()  # the body trickles only while the test allows it
    store = ModelStore(tmp_path / "models", base_url=hub.base_url)
    dialog = ModelDownloadDialog(store, "tiny")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.start()
    qtbot.waitUntil(lambda: dialog.bar.maximum() == 1000, timeout=10_000)  # sizes known
    with qtbot.waitSignal(dialog.rejected, timeout=10_000):
        dialog.button.click()  # Cancel
        hub.stall.set()
    qtbot.waitUntil(lambda: not dialog.running, timeout=10_000)
    assert dialog.path is None
    assert not store.is_installed("tiny")
    assert (tmp_path / "models" / "tiny.partial").is_dir()  # kept for a resume


def test_failure_stays_open_with_the_reason(qtbot: QtBot, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models", base_url=f"http://127.0.0.1:{closed_port()}")
    dialog = ModelDownloadDialog(store, "tiny")
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.failed, timeout=10_000) as signal:
        dialog.start()
    assert "cloud provider" in signal.args[0]
    assert dialog.isVisible()
    assert dialog.message.text() == signal.args[0]
    assert not dialog.bar.isVisible()  # a shown bar is animated: CPU for nothing
    assert dialog.button.text() == "Close"
    dialog.button.click()
    assert not dialog.isVisible()
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_models_widget_downloads_lists_and_removes(
    qtbot: QtBot, tmp_path: Path, hub: ModelHub
) -> None:
    store = ModelStore(tmp_path / "models", base_url=hub.base_url)
    widget = ModelsWidget(store)
    qtbot.addWidget(widget)
    widget.confirm_remove = lambda name: True  # type: ignore[method-assign]
    widget.show()
    assert widget.selected_name() is None
    assert not widget.remove_button.isEnabled()
    widget.size_combo.setCurrentText("tiny")
    with qtbot.waitSignal(widget.models_changed, timeout=10_000):
        widget.download_button.click()
    assert widget.list.count() == 1
    assert widget.list.item(0).text().startswith("tiny")
    widget.list.setCurrentRow(0)
    assert widget.selected_name() == "tiny"
    with qtbot.waitSignal(widget.models_changed, timeout=1_000):
        widget.remove_button.click()
    assert store.installed() == []
    assert widget.selected_name() is None


def test_a_long_failure_is_shown_in_full(qtbot: QtBot, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models", base_url=f"http://127.0.0.1:{closed_port()}")
    dialog = ModelDownloadDialog(store, "large-v3-turbo")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    with qtbot.waitSignal(dialog.failed, timeout=10_000):
        dialog.start()
    label = dialog.message
    qtbot.waitUntil(lambda: label.isVisible())
    assert label.wordWrap()
    assert label.heightForWidth(label.width()) > label.fontMetrics().lineSpacing() * 2
    # The dialog grew so every line shows: nothing cut after a line and a half.
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()))
    assert dialog.rect().contains(label.geometry())
    assert dialog.button.isDefault()
