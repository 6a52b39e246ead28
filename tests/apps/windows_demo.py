"""Shows one of Hark's windows on a real display, as a first run would.

Usage: ``python windows_demo.py WINDOW --home DIR`` with WINDOW one of

- ``setup``: the setup window, step 1;
- ``setup-offline``: the setup window after a model download failed (a closed port);
- ``setup-cloud``: the setup window with a cloud provider chosen;
- ``settings``: the settings dialog of a first run;
- ``control``: the control window of a desktop without a tray, after a long error.

Prints ``READY CUT`` once the window is exposed and drawn, in its final state, where
CUT counts the word-wrapped labels not shown whole (too short for their lines, or
clipped by the window); ``quit`` on stdin (or its end) exits. Nothing is read from or
written to the user's own files: the keyring is in memory, the stores under ``--home``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from app.adapters.models import ModelStore
from app.adapters.secrets import KeyringSecretStore
from app.adapters.settings_store import UiStateStore
from app.core.settings import Settings
from app.ui.settings_dialog import SettingsDialog
from app.ui.setup import SetupWindow
from app.ui.tray import Tray
from tests.apps.commands import Commands
from tests.memory_keyring import MemoryKeyring
from tests.model_server import closed_port

LONG_ERROR = (
    "Cannot download the base model: cannot reach huggingface.co (Name or service not "
    "known). Choose a cloud provider in Settings, or point the model setting at a model "
    "folder."
)


def cut_labels(window: QWidget) -> list[str]:
    """The texts of visible word-wrapped labels that do not show all their lines."""
    cut = []
    for label in window.findChildren(QLabel):
        if not (label.isVisible() and label.wordWrap() and label.text()):
            continue
        short = label.height() < label.heightForWidth(label.width())
        if short or label.visibleRegion().boundingRect() != label.rect():
            cut.append(label.text())
    return cut


def main() -> int:
    """Show the window and wait for ``quit``."""
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "window", choices=("setup", "setup-offline", "setup-cloud", "settings", "control")
    )
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    secrets = KeyringSecretStore(MemoryKeyring())
    models = ModelStore(
        args.home / "models", base_url=f"http://127.0.0.1:{closed_port()}", retries=0
    )
    ui_state = UiStateStore(args.home / "ui-state.json")
    keep: list[object] = []
    window: QWidget
    wait_for = lambda: True  # noqa: E731 - the condition for READY
    if args.window.startswith("setup"):
        setup = SetupWindow(
            Settings(),
            secrets,
            models=models,
            devices=["Built-in Microphone"],
            source_factory=None,
            ui_state=ui_state,
        )
        window = setup
        if args.window == "setup-offline":
            panel = setup.transcription.local_panel
            QTimer.singleShot(0, panel.start_download)
            wait_for = lambda: panel.problem.isVisible()  # noqa: E731
        elif args.window == "setup-cloud":
            setup.transcription.cloud_radio.click()
    elif args.window == "settings":
        window = SettingsDialog(
            Settings(), secrets, devices=["Built-in Microphone"], first_run=True, ui_state=ui_state
        )
    else:
        tray = Tray("local", tray_available=False)
        keep.append(tray)
        assert tray.window is not None
        window = tray.window
        QTimer.singleShot(0, lambda: tray.notify("Local model", LONG_ERROR, error=True))
    window.show()

    def ready() -> None:
        handle = window.windowHandle()
        if handle is None or not handle.isExposed() or not wait_for():
            QTimer.singleShot(20, ready)
            return
        window.repaint()
        QGuiApplication.sync()
        cut = cut_labels(window)
        for text in cut:
            print(f"cut label: {text!r}", file=sys.stderr)
        print("READY", len(cut), flush=True)

    def command(line: str) -> None:
        if line == "quit":
            app.quit()

    commands = Commands()
    commands.line.connect(command)
    commands.start()
    QTimer.singleShot(0, ready)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
