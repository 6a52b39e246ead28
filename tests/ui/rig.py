"""What the UI tests share: an AppController on in-memory stores and loopback parts,
and running asyncio work on a qasync loop until a condition holds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import qasync
from pytestqt.qtbot import QtBot

from app.adapters.history import SqliteHistory
from app.adapters.keyboard import UnavailableKeyboard
from app.adapters.secrets import KeyringSecretStore
from app.adapters.settings_store import SettingsStore, UiStateStore
from app.adapters.ws_transport import open_connection
from app.core.settings import OverlaySettings, Settings
from app.engine.captions import LiveSource
from app.engine.insertion import Inserter
from app.engine.ports import Connector
from app.ui.clipboard import QtClipboard
from app.ui.controller import AppController
from app.ui.overlay import CaptionOverlay
from app.ui.single_instance import InstanceServer
from app.ui.tray import Tray
from tests.helpers import TIMEOUT_FACTOR
from tests.memory_keyring import MemoryKeyring

T = TypeVar("T")


def run(loop: qasync.QEventLoop, coro: Awaitable[T]) -> T:
    """Run ``coro`` on ``loop`` (30 s at most, scaled by the timeout factor)."""
    return loop.run_until_complete(asyncio.wait_for(coro, 30 * TIMEOUT_FACTOR))


async def until(check: Callable[[], bool], limit: float = 10) -> None:
    """Let the loop turn until ``check()`` holds."""
    deadline = asyncio.get_running_loop().time() + limit * TIMEOUT_FACTOR
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def make_controller(
    qtbot: QtBot,
    tmp_path: Path,
    settings: Settings,
    *,
    source_factory: Callable[[str], LiveSource],
    devices: Sequence[str],
    keyring: MemoryKeyring | None = None,
    tray_available: bool = True,
    connector: Connector = open_connection,
    **kwargs: Any,
) -> AppController:
    """The app's controller with real widgets, stores under ``tmp_path``, a memory keyring,
    real WebSocket connections, no typing (insertion leaves the text on the clipboard)."""
    overlay = CaptionOverlay(OverlaySettings(fade_after_s=0), UiStateStore(tmp_path / "ui.json"))
    qtbot.addWidget(overlay)
    clipboard = QtClipboard()
    controller = AppController(
        settings_store=SettingsStore(tmp_path / "settings.json"),
        ui_state=UiStateStore(tmp_path / "ui.json"),
        secrets=KeyringSecretStore(keyring or MemoryKeyring()),
        secret_filter=None,
        server=InstanceServer(str(tmp_path / "ipc.sock")),
        tray=Tray(settings.provider, tray_available=tray_available),
        overlay=overlay,
        connector=connector,
        schema_memory=None,
        devices=lambda: list(devices),
        source_factory=source_factory,
        clipboard=clipboard,
        settings=settings,
        history=SqliteHistory(tmp_path / "history.sqlite3"),
        inserter=Inserter(UnavailableKeyboard("no desktop in this test"), clipboard),
        hotkey_backend=None,
        **kwargs,
    )
    controller.ptt.configure(settings, rebuild=True)
    return controller
