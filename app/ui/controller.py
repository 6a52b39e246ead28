"""The app's brain: what the tray, the overlay, the settings and the IPC ask for.

Two activities: push-to-talk dictation (the hotkey, ``hark ptt``/``hark toggle`` and
the tray all drive :class:`~app.engine.push_to_talk.PushToTalk`; the text lands in the
window that had focus) and live captions (the overlay shows what is said, nothing is
typed). Every failure reaches the user as a tray notification plus a line in the
overlay, each saying what to do.

Signals:
    quit_requested: The user chose Quit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QDialog

from app.adapters.history import SqliteHistory
from app.adapters.hotkeys import HotkeyBackend, choose_backend
from app.adapters.ipc import ipc_address
from app.adapters.keyboard import choose_keyboard
from app.adapters.logfile import SecretFilter
from app.adapters.microphone import MicrophoneSource, list_input_devices
from app.adapters.models import ModelStore
from app.adapters.secrets import SECRETS, KeyringSecretStore, api_key_for
from app.adapters.settings_store import SettingsStore, UiStateStore
from app.adapters.state import FileSchemaMemory
from app.adapters.ws_transport import open_connection
from app.core.errors import HarkError
from app.core.events import Event, Final, Partial
from app.core.options import MODEL_SIZES, PROVIDER_TITLES, LocalOptions
from app.core.settings import Settings, flush_timeout_s, needs_new_dictation
from app.engine.captions import LiveCaptions, LiveSource
from app.engine.dictation import Dictation, DictationResult
from app.engine.insertion import Inserter, Outcome
from app.engine.kept_audio import KeptAudio
from app.engine.local_connector import LocalConnector
from app.engine.ports import Clipboard, Connector, SchemaMemory
from app.engine.push_to_talk import PushToTalk
from app.engine.shared_microphone import SharedMicrophone
from app.ui.clipboard import QtClipboard
from app.ui.model_dialog import ModelDownloadDialog, ModelsWidget
from app.ui.overlay import CaptionOverlay
from app.ui.settings_dialog import SettingsDialog
from app.ui.setup import SetupWindow
from app.ui.single_instance import InstanceServer
from app.ui.tray import Tray

if TYPE_CHECKING:
    from app.engine.local_engine import LocalEngine

log = logging.getLogger(__name__)

RECENT_LIMIT = 10
SETUP_BOX = "setup-window:try-it"
"""The dictation target meaning the setup window's "Try it" box (not an OS window)."""


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
        clipboard: Clipboard,
        settings: Settings,
        history: SqliteHistory,
        inserter: Inserter,
        hotkey_backend: HotkeyBackend | None,
        models: ModelStore | None = None,
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
        self.history = history
        self.models = models
        self._configure_local(settings)
        self._download: ModelDownloadDialog | None = None
        self._microphone: MicrophoneSource | None = None
        self.first_run = first_run
        self.problems = list(problems or [])
        self.run: LiveCaptions | None = None  # live captions, while they run
        self.last_audio: KeptAudio | None = None  # the last dictation's, for a retry
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.dialog: SettingsDialog | None = None
        self.setup: SetupWindow | None = None
        self.ptt = PushToTalk(
            backend=hotkey_backend,
            inserter=inserter,
            make_dictation=self._make_dictation,
            report=self.report,
            level=lambda: self._microphone.level if self._microphone is not None else 0.0,
            show_level=overlay.set_level,
            capture_target=self._capture_target,
        )

        tray.captions_toggled.connect(self.toggle_captions)
        tray.dictation_toggled.connect(self.toggle_dictation)
        tray.settings_requested.connect(self.open_settings)
        tray.setup_requested.connect(self.open_setup)
        tray.provider_selected.connect(self.select_provider)
        tray.retry_requested.connect(self.retry_last)
        tray.transcript_chosen.connect(self.copy_transcript)
        tray.transcript_insert_requested.connect(self.reinsert_transcript)
        tray.quit_requested.connect(self.quit_requested.emit)
        server.answer = self.handle_command

    # -- life cycle -------------------------------------------------------------------------

    def listen(self) -> bool:
        """Take the single-instance address; False when another Hark has it."""
        return self.server.listen()

    def start(self, *, open_settings: bool = False, start_captions: bool = False) -> None:
        """Show the tray; register the hotkey; report problems; guide a first run.

        A first run opens the setup window and nothing else: the model download, the
        API key and the settings all happen inside it (finishing it with the local
        model still missing starts the download then, in its own window). Later runs
        fetch a missing local model in a download window, unless Settings is opening.
        """
        self.ptt.configure(self.settings, rebuild=self.ptt.dictation is None)
        self.refresh_recent()
        self.tray.show(window=not self.first_run)  # a control window would cover setup
        log.info("tray shown")
        for line in self.problems:
            self.report("Settings", line)
        if self.first_run:
            self.open_setup()
        elif open_settings:
            self.open_settings()
        else:
            self.offer_model_download()
        if start_captions:
            self.toggle_captions()

    async def shutdown(self) -> None:
        """Stop any run, finish deliveries, close windows and the IPC server."""
        if self.run is not None:
            self.run.stop()
        await self.ptt.aclose()
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
        if self.setup is not None:
            self.setup.close()
        self.tray.hide()
        self.server.close()
        self.history.close()
        if isinstance(self.connector, LocalConnector):  # the local engine's worker and model
            await self.connector.aclose()
        if isinstance(self.clipboard, QtClipboard):
            self.clipboard.release()

    def handle_command(self, command: str) -> str:
        """Answer one IPC command line (a second launch, scripts)."""
        if command == "show-settings":
            if self.setup is not None:  # a second launch during setup: show that
                self.open_setup()
            else:
                self.open_settings()
        elif command == "captions":
            if self.run is None:
                self.toggle_captions()
        elif command == "captions stop":
            if self.run is not None:
                self.run.stop()
        elif command == "toggle":
            self.ptt.toggle()
        elif command == "ptt press":
            self.ptt.key_down()
        elif command == "ptt release":
            self.ptt.key_up()
        elif command == "quit":
            self.quit_requested.emit()
        else:
            return f"error: unknown command {command!r}"
        return "ok"

    # -- user-facing reporting ------------------------------------------------------------

    def report(self, title: str, message: str, *, error: bool = True) -> None:
        """A tray notification and an overlay line; also logged."""
        message = SECRETS.mask(message)  # a server's error may quote the key
        (log.warning if error else log.info)("%s: %s", title, message)
        self.tray.notify(title, message, error=error)
        self.overlay.set_status(message, error=error)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- live captions and dictation --------------------------------------------------

    def toggle_captions(self) -> None:
        """Start live captions, or stop them."""
        if self.run is not None:
            self.run.stop()
            return
        limit = self.settings.captions_limit_min * 60
        self.overlay.clear()
        self.run = LiveCaptions(
            self.settings.provider_options,
            self._api_key,
            self.connector,
            self._open_microphone,
            limit_s=limit or None,
            on_event=self._on_event,
            on_state=self._on_state,
            schema_memory=self.schema_memory,
            on_reconnect=self._on_reconnect,
        )
        self.tray.set_captions_active(True)
        self._task = self._spawn(self._drive(self.run))

    async def _drive(self, run: LiveCaptions) -> None:
        try:
            await run.run()
        finally:
            self.run = None
            self.tray.set_captions_active(False)

    def toggle_dictation(self) -> None:
        """The tray's dictation item: like ``hark toggle``."""
        self.ptt.toggle()
        self.tray.set_dictation_active(self.ptt.active)

    def _open_microphone(self) -> LiveSource:
        source = self.source_factory(self.settings.microphone)
        self._microphone = source if isinstance(source, MicrophoneSource) else None
        return source

    def _make_dictation(self) -> Dictation:
        settings = self.settings
        shared = None
        if settings.keep_microphone_open:
            shared = SharedMicrophone(self._open_microphone)
            self._spawn(self._start_shared(shared))
        return Dictation(
            lambda: self.settings.provider_options(),
            self._api_key,
            self.connector,
            history=self.history,
            insert=self._insert,
            on_state=self._on_dictation_state,
            on_event=self._on_event,
            source_factory=None if shared is not None else self._open_microphone,
            shared_microphone=shared,
            clipboard=self.clipboard,
            on_result=self._on_result,
            on_reconnect=self._on_reconnect,
            schema_memory=self.schema_memory,
            flush_timeout=flush_timeout_s(settings.provider),
        )

    async def _start_shared(self, shared: SharedMicrophone) -> None:
        try:
            await shared.start()
        except HarkError as exc:
            self.report("Microphone", str(exc))

    def _capture_target(self) -> object:
        """Where the text goes, decided at key-down: the setup window's box, or a window."""
        if self.setup is not None and self.setup.accepts_dictation():
            return SETUP_BOX
        return self.ptt.inserter.capture_target()

    async def _insert(self, text: str, target: object) -> Outcome:
        if target == SETUP_BOX:  # the "Try it" box: no typing permission needed
            if self.setup is None:
                return Outcome("failed", "The setup window was closed; the text is in history.")
            self.setup.insert(text)
            log.info("dictation: into the setup window (%d characters)", len(text))
            return Outcome("inserted", "")
        outcome = await self.ptt.inserter.insert(
            text, target=target if isinstance(target, str) else None, method=self.settings.insertion
        )
        log.info("dictation: %s (%d characters)", outcome.status, len(text))
        return outcome

    def _on_dictation_state(self, state: str, message: str) -> None:
        self.tray.set_dictation_active(self.ptt.active)
        if self.setup is not None:
            self.setup.set_dictation_active(self.ptt.active)
        if state == "connecting":
            self.overlay.clear()
        self._on_state(state, message)

    def _on_result(self, result: DictationResult) -> None:
        self.refresh_recent()
        if result.status != "inserted" and result.message:
            self.overlay.set_status(result.message)
        dictation = self.ptt.dictation
        if dictation is not None and dictation.last_audio is not None:
            self.last_audio = dictation.last_audio  # kept across a settings rebuild
            self.tray.set_retry_available(True)

    def retry_last(self, provider: str) -> None:
        """Transcribe the last dictation's audio again with ``provider`` (the tray's)."""
        if self.last_audio is None or self.ptt.dictation is None:
            return
        self._spawn(self._retry(self.ptt.dictation, self.last_audio, provider))

    async def _retry(self, dictation: Dictation, audio: KeptAudio, provider: str) -> None:
        settings = self.settings.replace(provider=provider)
        title = PROVIDER_TITLES[provider]
        self.overlay.set_status(f"Transcribing the last dictation again with {title}…")
        try:
            options = settings.provider_options()
            key = await self._key_for(settings)
            await dictation.retry(audio, options, key)  # its result reaches _on_result
        except HarkError as exc:
            self.report("Retry last dictation", str(exc))
        except RuntimeError as exc:  # a retry is already running
            self.overlay.set_status(f"{exc}.")

    def _on_reconnect(self, attempt: int, reason: str) -> None:
        self.overlay.clear()
        self.overlay.set_status(f"Connection lost; reconnecting (attempt {attempt})…")
        log.warning("reconnecting (attempt %d): %s", attempt, reason)

    async def _api_key(self) -> str:
        return await self._key_for(self.settings)

    async def _key_for(self, settings: Settings, typed_key: str = "") -> str:
        """The key for ``settings``' provider: typed, stored or from the environment.

        Raises:
            MissingKeyError: see :func:`app.adapters.secrets.api_key_for`.
        """
        key = await api_key_for(self.secrets, settings.provider_options(), typed=typed_key)
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

    def refresh_recent(self) -> None:
        """Show the newest transcripts from history in the tray."""
        self.tray.set_recent(self.history.recent(RECENT_LIMIT))

    def copy_transcript(self, text: str) -> None:
        """Copy a recent transcript to the clipboard."""
        self.clipboard.set_text(text, transient=False)
        self.overlay.set_status("Copied to the clipboard.")

    def reinsert_transcript(self, text: str) -> None:
        """Insert a recent transcript into the focused window (after the menu closes)."""
        self._spawn(self._reinsert(text))

    async def _reinsert(self, text: str) -> None:
        outcome = await self.ptt.inserter.insert(text, target=None, method=self.settings.insertion)
        self.overlay.set_status(outcome.message)

    # -- settings -----------------------------------------------------------------------

    def select_provider(self, provider: str) -> None:
        """Switch provider from the tray; saved at once."""
        self.apply_settings(self.settings.replace(provider=provider))

    def apply_settings(self, settings: Settings) -> None:
        """Use and save ``settings``."""
        rebuild = needs_new_dictation(self.settings, settings)
        self.settings = settings
        try:
            self.settings_store.save(settings)
        except OSError as exc:
            self.report("Settings", f"Could not save the settings: {exc}")
        self.overlay.apply_settings(settings.overlay)
        self.tray.set_provider(settings.provider)
        self.ptt.configure(settings, rebuild=rebuild)
        self.history.prune(settings.history_days)
        self._configure_local(settings)
        self.offer_model_download()

    def _configure_local(self, settings: Settings) -> None:
        """Give the in-process engine its idle unload delay (it applies at once)."""
        if isinstance(self.connector, LocalConnector):
            self.connector.unload_after_s = settings.local.unload_after_min * 60

    def offer_model_download(self) -> None:
        """With the local provider and its model not downloaded yet, fetch it now.

        The download shows its progress in a window (with Cancel); afterwards dictation
        works offline. A model given as a folder path needs nothing. While the setup
        window is open it offers the download itself, so no window opens over it.
        """
        options = self.settings.local
        if (
            self.settings.provider != "local"
            or self.models is None
            or self.setup is not None
            or self._download is not None
            or options.model not in MODEL_SIZES
            or self.models.resolve(options.model) is not None
        ):
            return
        log.info("the local %s model is not downloaded yet; downloading it", options.model)
        dialog = ModelDownloadDialog(self.models, options.model)
        dialog.downloaded.connect(lambda path: self.overlay.set_status("The model is ready."))
        dialog.failed.connect(lambda message: self.report("Local model", message))
        dialog.finished.connect(self._download_closed)
        self._download = dialog
        dialog.open()
        dialog.start()

    def _download_closed(self, _result: int = 0) -> None:
        if self._download is not None:
            self._download.deleteLater()
        self._download = None

    def open_settings(self, *, first_run: bool = False) -> None:
        """Show the settings dialog (raising the open one, if any)."""
        if self.dialog is not None:
            self.dialog.show()
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        dialog = SettingsDialog(
            self.settings,
            self.secrets,
            devices=self.devices(),
            first_run=first_run,
            models=ModelsWidget(self.models) if self.models is not None else None,
            ui_state=self.ui_state,
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

    # -- the setup window -----------------------------------------------------------------

    def open_setup(self) -> None:
        """Show the setup window (raising the open one, if any)."""
        if self.setup is None:
            window = SetupWindow(
                self.settings,
                self.secrets,
                models=self.models,
                devices=self.devices(),
                source_factory=self.source_factory,
                ui_state=self.ui_state,
            )
            window.applied.connect(self.apply_settings)
            window.test_requested.connect(self._test_from_setup)
            window.dictation_toggled.connect(self.toggle_dictation)
            window.skipped.connect(self._setup_skipped)
            window.finished.connect(self._setup_closed)
            self.setup = window
            log.info("setup window shown")
        self.setup.show()
        self.setup.raise_()
        self.setup.activateWindow()

    def _setup_skipped(self) -> None:
        if self.first_run:  # write the defaults, so the next start is not a first run
            self.apply_settings(self.settings)
        self.first_run = False

    def _setup_closed(self, result: int = 0) -> None:
        self.first_run = False
        if self.setup is not None:
            self.setup.deleteLater()
        self.setup = None
        self.tray.show()  # where there is no tray, the control window appears now
        if result == QDialog.DialogCode.Accepted.value:  # finished, a model still missing
            self.offer_model_download()

    def _test_from_setup(self, settings: Settings, typed_key: str) -> None:
        self._start_test(settings, typed_key, self.setup)

    # -- connection tests -------------------------------------------------------------------

    def _test_connection(self, settings: Settings, typed_key: str) -> None:
        self._start_test(settings, typed_key, self.dialog)

    def _start_test(
        self, settings: Settings, typed_key: str, window: SettingsDialog | SetupWindow | None
    ) -> None:
        SECRETS.learn(typed_key)  # before a task, a log line or a repr can carry it
        self._spawn(self._run_test(settings, typed_key, window))

    async def _run_test(
        self, settings: Settings, typed_key: str, window: SettingsDialog | SetupWindow | None
    ) -> None:
        try:
            key = await self._key_for(settings, typed_key)
            from app.engine.probe import check_connection

            message = await check_connection(
                settings.provider_options(), key, self.connector, schema_memory=self.schema_memory
            )
            ok = True
        except HarkError as exc:
            ok, message = False, str(exc)
        except Exception:
            log.exception("connection test failed")
            ok, message = False, "The test failed unexpectedly; the log has the details."
        if window is not None and window in (self.dialog, self.setup):  # still open
            window.show_test_result(ok, SECRETS.mask(message))


def build_controller(
    app: QApplication, *, address: str | None = None, secret_filter: SecretFilter | None = None
) -> AppController:
    """Build the real adapters and widgets (the composition root's one call)."""
    store = SettingsStore()
    loaded = store.load()
    history = SqliteHistory()
    history.prune(loaded.settings.history_days)
    clipboard = QtClipboard()
    keyboard = choose_keyboard()
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
        connector=LocalConnector(_local_engine, fallback=open_connection),
        schema_memory=FileSchemaMemory(),
        devices=list_input_devices,
        source_factory=lambda device: MicrophoneSource(device),
        clipboard=clipboard,
        settings=settings,
        history=history,
        inserter=Inserter(
            keyboard, clipboard, paste_delay_s=0.05 if keyboard.name == "wayland" else 0.0
        ),
        hotkey_backend=choose_backend(),
        models=ModelStore(),
        first_run=loaded.first_run,
        problems=loaded.problems,
    )
    return controller


def _local_engine(options: LocalOptions) -> LocalEngine:
    """The in-process local engine for ``options``' model (captions, dictation, a test)."""
    from app.adapters.whisper import whisper_factories
    from app.engine.local_engine import LocalEngine

    return LocalEngine(*whisper_factories(options), max_sessions=3)
