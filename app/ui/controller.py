"""The app's brain: what the tray, the overlay, the settings and the IPC ask for.

One run at a time: live captions (the overlay shows what is said, nothing is typed)
or dictation from the tray (the transcript goes to the recent list and the clipboard;
push-to-talk with typing into other windows builds on this). Every failure reaches
the user as a tray notification plus a line in the overlay, each saying what to do.

Signals:
    quit_requested: The user chose Quit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QClipboard, QGuiApplication
from PySide6.QtWidgets import QApplication

from app.adapters.ipc import ipc_address
from app.adapters.logfile import SecretFilter
from app.adapters.microphone import MicrophoneSource, list_input_devices
from app.adapters.secrets import ENV_VARS, KeyringSecretStore, resolve_key
from app.adapters.settings_store import SettingsStore, UiStateStore
from app.adapters.state import FileSchemaMemory
from app.adapters.ws_transport import open_connection
from app.core.errors import HarkError, MissingKeyError
from app.core.events import Event, Final, Partial
from app.core.settings import Settings
from app.engine.captions import LiveCaptions, LiveSource
from app.engine.ports import Connector, SchemaMemory
from app.engine.probe import check_connection
from app.engine.session import PROVIDER_TITLES
from app.ui.overlay import CaptionOverlay
from app.ui.settings_dialog import SettingsDialog
from app.ui.single_instance import InstanceServer
from app.ui.tray import Tray

log = logging.getLogger(__name__)

RECENT_LIMIT = 10


class AppController(QObject):
    """Wires the adapters, the engine and the widgets together.

    Every collaborator is passed in (see :func:`build_controller`), so tests can give
    it in-memory stores and loopback connectors.
    """

    quit_requested = Signal()

    def __init__(
        self,
        *,
        settings_store: SettingsStore,
        ui_state: UiStateStore,
        secrets: KeyringSecretStore,
        secret_filter: SecretFilter | None,
        server: InstanceServer,
        tray: Tray,
        overlay: CaptionOverlay,
        connector: Connector,
        schema_memory: SchemaMemory | None,
        devices: Callable[[], list[str]],
        source_factory: Callable[[str], LiveSource],
        clipboard: QClipboard,
        settings: Settings,
        first_run: bool = False,
        problems: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.settings_store = settings_store
        self.ui_state = ui_state
        self.secrets = secrets
        self.secret_filter = secret_filter
        self.server = server
        self.tray = tray
        self.overlay = overlay
        self.connector = connector
        self.schema_memory = schema_memory
        self.devices = devices
        self.source_factory = source_factory
        self.clipboard = clipboard
        self.settings = settings
        self.first_run = first_run
        self.problems = list(problems or [])
        self.recent: list[str] = []
        self.mode: str | None = None  # "captions" | "dictation" while a run is active
        self.run: LiveCaptions | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.dialog: SettingsDialog | None = None

        tray.captions_toggled.connect(self.toggle_captions)
        tray.dictation_toggled.connect(self.toggle_dictation)
        tray.settings_requested.connect(self.open_settings)
        tray.provider_selected.connect(self.select_provider)
        tray.transcript_chosen.connect(self.copy_transcript)
        tray.quit_requested.connect(self.quit_requested.emit)
        server.answer = self.handle_command

    # -- life cycle -------------------------------------------------------------------------

    def listen(self) -> bool:
        """Take the single-instance address; False when another Hark has it."""
        return self.server.listen()

    def start(self, *, open_settings: bool = False, start_captions: bool = False) -> None:
        """Show the tray; report settings problems; open settings on a first run."""
        self.tray.show()
        log.info("tray shown")
        for line in self.problems:
            self.report("Settings", line)
        if not self.secrets.usable():
            self.report(
                "No secure keyring",
                "API keys cannot be stored on this system (no Secret Service). Use the "
                "provider's environment variable, e.g. BASETEN_API_KEY, or install "
                "gnome-keyring or KWallet.",
            )
        if open_settings or self.first_run:
            self.open_settings(first_run=self.first_run)
        if start_captions:
            self.toggle_captions()

    async def shutdown(self) -> None:
        """Stop any run, close windows and the IPC server."""
        if self.run is not None:
            self.run.stop()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        for task in list(self._tasks):
            task.cancel()
        self.overlay.hide()
        if self.dialog is not None:
            self.dialog.close()
        self.tray.hide()
        self.server.close()

    def handle_command(self, command: str) -> str:
        """Answer one IPC command line (a second launch, scripts)."""
        if command == "show-settings":
            self.open_settings()
        elif command == "captions":
            if self.mode != "captions":
                self.toggle_captions()
        elif command == "quit":
            self.quit_requested.emit()
        else:
            return f"error: unknown command {command!r}"
        return "ok"

    # -- user-facing reporting ------------------------------------------------------------

    def report(self, title: str, message: str, *, error: bool = True) -> None:
        """A tray notification and an overlay line; also logged."""
        (log.warning if error else log.info)("%s: %s", title, message)
        self.tray.notify(title, message, error=error)
        self.overlay.set_status(message, error=error)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- runs: captions and dictation ---------------------------------------------------

    def toggle_captions(self) -> None:
        """Start live captions, or stop the run in progress."""
        self._toggle("captions")

    def toggle_dictation(self) -> None:
        """Start dictation, or stop it (the transcript is then copied)."""
        self._toggle("dictation")

    def _toggle(self, mode: str) -> None:
        if self.run is not None:
            self.run.stop()
            return
        limit = self.settings.captions_limit_min * 60 if mode == "captions" else None
        self.mode = mode
        self.overlay.clear()
        self.run = LiveCaptions(
            self.settings.provider_options,
            self._api_key,
            self.connector,
            lambda: self.source_factory(self.settings.microphone),
            limit_s=limit or None,
            on_event=self._on_event,
            on_state=self._on_state,
            schema_memory=self.schema_memory,
        )
        self.tray.set_captions_active(mode == "captions")
        self.tray.set_dictation_active(mode == "dictation")
        self._task = self._spawn(self._drive(self.run, mode))

    async def _drive(self, run: LiveCaptions, mode: str) -> None:
        try:
            result = await run.run()
        finally:
            self.run = None
            self.mode = None
            self.tray.set_captions_active(False)
            self.tray.set_dictation_active(False)
        if mode == "dictation" and result is not None and result.transcript.text:
            text = result.transcript.text
            self.add_recent(text)
            self.clipboard.setText(text)
            self.overlay.set_status("Dictation copied to the clipboard.")

    async def _api_key(self) -> str:
        provider = self.settings.provider
        title = PROVIDER_TITLES[provider]
        loop = asyncio.get_running_loop()
        try:  # the keyring may talk D-Bus: keep it off the Qt thread
            key, _ = await loop.run_in_executor(None, resolve_key, self.secrets, provider, title)
        except MissingKeyError:
            raise MissingKeyError(
                f"No {title} API key: open Settings to add one "
                f"(or set the {ENV_VARS[provider]} environment variable)."
            ) from None
        if self.secret_filter is not None:
            self.secret_filter.add(key)
        return key

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Partial):
            self.overlay.show_partial(event.utterance, event.text)
        elif isinstance(event, Final):
            self.overlay.show_final(event.utterance, event.text)

    def _on_state(self, state: str, message: str) -> None:
        self.tray.set_state(state, message)
        if state == "error":
            self.report("Hark", message)
        elif message:
            self.overlay.set_status(message)

    def add_recent(self, text: str) -> None:
        """Put ``text`` first in the tray's recent transcripts."""
        self.recent = [text, *[t for t in self.recent if t != text]][:RECENT_LIMIT]
        self.tray.set_recent(self.recent)

    def copy_transcript(self, text: str) -> None:
        """Copy a recent transcript to the clipboard."""
        self.clipboard.setText(text)
        self.overlay.set_status("Copied to the clipboard.")

    # -- settings -----------------------------------------------------------------------

    def select_provider(self, provider: str) -> None:
        """Switch provider from the tray; saved at once."""
        self.apply_settings(self.settings.replace(provider=provider))

    def apply_settings(self, settings: Settings) -> None:
        """Use and save ``settings``."""
        self.settings = settings
        try:
            self.settings_store.save(settings)
        except OSError as exc:
            self.report("Settings", f"Could not save the settings: {exc}")
        self.overlay.apply_settings(settings.overlay)
        self.tray.set_provider(settings.provider)

    def open_settings(self, *, first_run: bool = False) -> None:
        """Show the settings dialog (raising the open one, if any)."""
        if self.dialog is not None:
            self.dialog.show()
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        dialog = SettingsDialog(
            self.settings, self.secrets, devices=self.devices(), first_run=first_run
        )
        dialog.saved.connect(self.apply_settings)
        dialog.test_requested.connect(self._test_connection)
        dialog.finished.connect(self._dialog_closed)
        self.dialog = dialog
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def _dialog_closed(self, _result: int = 0) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = None

    def _test_connection(self, settings: Settings, typed_key: str) -> None:
        self._spawn(self._run_test(settings, typed_key))

    async def _run_test(self, settings: Settings, typed_key: str) -> None:
        dialog = self.dialog
        try:
            key = typed_key
            if not key:
                provider = settings.provider
                loop = asyncio.get_running_loop()
                key, _ = await loop.run_in_executor(
                    None, resolve_key, self.secrets, provider, PROVIDER_TITLES[provider]
                )
            if self.secret_filter is not None:
                self.secret_filter.add(key)
            message = await check_connection(
                settings.provider_options(), key, self.connector, schema_memory=self.schema_memory
            )
            ok = True
        except HarkError as exc:
            ok, message = False, str(exc)
        except Exception:
            log.exception("connection test failed")
            ok, message = False, "The test failed unexpectedly; the log has the details."
        if dialog is not None and dialog is self.dialog:
            dialog.show_test_result(ok, message)


def build_controller(
    app: QApplication, *, address: str | None = None, secret_filter: SecretFilter | None = None
) -> AppController:
    """Build the real adapters and widgets (the composition root's one call)."""
    store = SettingsStore()
    loaded = store.load()
    ui_state = UiStateStore()
    settings = loaded.settings
    overlay = CaptionOverlay(settings.overlay, ui_state)
    controller = AppController(
        settings_store=store,
        ui_state=ui_state,
        secrets=KeyringSecretStore(),
        secret_filter=secret_filter,
        server=InstanceServer(address or ipc_address()),
        tray=Tray(settings.provider),
        overlay=overlay,
        connector=open_connection,
        schema_memory=FileSchemaMemory(),
        devices=list_input_devices,
        source_factory=lambda device: MicrophoneSource(device),
        clipboard=QGuiApplication.clipboard(),
        settings=settings,
        first_run=loaded.first_run,
        problems=loaded.problems,
    )
    return controller
