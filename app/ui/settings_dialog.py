"""The settings dialog: every field of :class:`~app.core.settings.Settings`, built from
the model's metadata, with the API keys kept in the keyring.

Invalid values are refused next to their field with the model's own message, and the
dialog stays open. The dialog is synchronous: the controller connects
:attr:`SettingsDialog.saved` and :attr:`SettingsDialog.test_requested`, runs the real
test session, and answers with :meth:`SettingsDialog.show_test_result`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.options import KEYED_PROVIDERS, OPTIONS_BY_PROVIDER
from app.core.settings import PROVIDERS, HotkeySettings, OverlaySettings, Settings
from app.ui.widgets import settings_labels as text
from app.ui.widgets.api_key import ApiKeyField, SecretStore
from app.ui.widgets.fields import ChoiceEditor, FieldEditor, humanize
from app.ui.widgets.form import (
    ERROR_COLOR,
    OK_COLOR,
    FieldForm,
    OneOf,
    align_labels,
    message_label,
    note_label,
    show_message,
)
from app.ui.widgets.hotkey_edit import HotkeyEditor
from app.ui.widgets.settings_groups import TOP, FieldProblem, FormGroups
from app.ui.window_state import StateStore, restore_geometry, save_geometry

__all__ = ["FieldProblem", "SettingsDialog"]

GENERAL, OPTIONS, MICROPHONE, DICTATION, CAPTIONS, OVERLAY, MODELS = range(len(text.PAGES))
GEOMETRY_KEY = "settings_dialog"
DEFAULT_SIZE = QSize(860, 620)


def _choices(names: Sequence[str], default_label: str) -> ChoiceEditor:
    """A combo of ``names`` after a "default" entry whose value is ``""``."""
    return ChoiceEditor(
        [("", default_label), *((n, n) for n in names)], unknown="{} (not connected)"
    )


class SettingsDialog(QDialog):
    """Edit the settings and the providers' API keys.

    Args:
        settings: The settings to start from.
        secrets: The key store (:class:`~app.adapters.secrets.KeyringSecretStore`).
        devices: Input device names for the microphone list.
        first_run: Show the welcome note at the top.
        models: The local models manager for the "Local models" page.
        ui_state: Remembers the dialog's size and position.
        parent: The parent widget.

    Signals:
        saved(Settings): Save was pressed and everything was valid; keys are stored.
        test_requested(Settings, str): "Test connection" was pressed: the settings in
            the form and the key typed in the field (``""``: the stored or env key).
    """

    saved = Signal(object)
    test_requested = Signal(object, str)

    def __init__(
        self,
        settings: Settings,
        secrets: SecretStore,
        *,
        devices: Sequence[str],
        first_run: bool = False,
        models: QWidget | None = None,
        ui_state: StateStore | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Hark Settings")
        self.setMinimumSize(720, 520)
        self.ui_state = ui_state
        self._testing = False
        self.groups = FormGroups(settings, self.provider)
        self._page_of: dict[int, int] = {}  # id(form) -> page index
        self._areas: list[QScrollArea] = []

        self.sections = QListWidget()
        self.sections.addItems(list(text.PAGES))
        self.sections.setFixedWidth(170)
        self.sections.setStyleSheet("QListWidget::item { padding: 5px 6px; }")
        self.sections.setAccessibleName("Settings sections")
        self.pages = QStackedWidget()
        self.key_fields: dict[str, ApiKeyField] = {}
        self._build_general(secrets)
        self._build_options()
        self._build_simple_pages(devices, models)
        self.form_error = message_label()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setDefault(True)

        outer = QVBoxLayout(self)
        if first_run:
            outer.addWidget(self._welcome(settings.provider))
        body = QHBoxLayout()
        body.addWidget(self.sections)
        body.addWidget(self.pages, 1)
        outer.addLayout(body, 1)
        outer.addWidget(self.form_error)
        outer.addWidget(self.buttons)

        self.groups.load(settings)
        align_labels([form for _group, form in self.groups.forms()])
        self._connect()
        self.sections.setCurrentRow(GENERAL)
        self._on_provider_changed()
        if first_run:  # start where the welcome note points
            self.provider_form.rows["provider"].setFocus()
        restore_geometry(self, ui_state, GEOMETRY_KEY, DEFAULT_SIZE)

    # -- construction -----------------------------------------------------------------

    def _form(self, group: str, cls: type[Any], names: Sequence[str], **kw: Any) -> FieldForm:
        form = FieldForm(
            cls,
            names,
            labels=text.LABELS,
            help=text.HELP,
            choice_labels=text.CHOICE_LABELS,
            **kw,
        )
        return self.groups.add(group, form)

    def _add_page(self, index: int, *parts: QWidget) -> QLabel:
        page = QWidget()
        layout = QVBoxLayout(page)
        heading = QLabel(text.PAGES[index])
        font = QFont(heading.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        heading.setFont(font)
        layout.addWidget(heading)
        for part in parts:
            layout.addWidget(part)
            if isinstance(part, FieldForm):
                self._page_of[id(part)] = index
        layout.addStretch(1)
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        area.setWidget(page)
        self._areas.append(area)
        self.pages.addWidget(area)
        return heading

    def _build_general(self, secrets: SecretStore) -> None:
        self.provider_form = self._form(TOP, Settings, ["provider"])
        self.general_stack = OneOf()
        self.general_forms: dict[str, FieldForm] = {}
        for provider in PROVIDERS:
            names = [f.name for f in dataclasses.fields(OPTIONS_BY_PROVIDER[provider])]
            general = [n for n in text.GENERAL_FIELDS if n in names]
            form = self._form(
                provider,
                OPTIONS_BY_PROVIDER[provider],
                general,
                placeholders=text.PLACEHOLDERS.get(provider),
                multiline=("prompt",),
            )
            if provider in KEYED_PROVIDERS:
                key = ApiKeyField(provider, text.PROVIDER_TITLES[provider], secrets)
                form.add_row("API key", key)
                self.key_fields[provider] = key
            self.general_forms[provider] = form
            self.general_stack.add(form)
            self._page_of[id(form)] = GENERAL
        self.test_button = QPushButton("Test connection")
        self.test_button.setToolTip("Connect with these settings and key, without saving")
        self.test_result = message_label()
        test_row = QWidget()
        row = QHBoxLayout(test_row)
        row.setContentsMargins(0, 8, 0, 0)
        row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        row.addWidget(self.test_result, 1)
        self._add_page(GENERAL, self.provider_form, self.general_stack, test_row)

    def _build_options(self) -> None:
        self.options_stack = OneOf()
        self.option_forms: dict[str, FieldForm] = {}
        for provider in PROVIDERS:
            cls = OPTIONS_BY_PROVIDER[provider]
            names = [f.name for f in dataclasses.fields(cls) if f.name not in text.GENERAL_FIELDS]
            form = self._form(provider, cls, names, placeholders=text.PLACEHOLDERS.get(provider))
            self.option_forms[provider] = form
            self.options_stack.add(form)
            self._page_of[id(form)] = OPTIONS
        self.options_heading = self._add_page(OPTIONS, self.options_stack)

    def _build_simple_pages(self, devices: Sequence[str], models: QWidget | None) -> None:
        def microphone(_f: Any, _hint: Any) -> FieldEditor:
            return _choices(devices, "System default")

        def screen(_f: Any, _hint: Any) -> FieldEditor:
            return _choices([s.name() for s in QGuiApplication.screens()], "Primary screen")

        mic = self._form(
            TOP,
            Settings,
            ["microphone", "keep_microphone_open"],
            overrides={"microphone": microphone},
        )
        self._add_page(MICROPHONE, mic)
        hotkey = self._form(
            "hotkey",
            HotkeySettings,
            ["hotkey", "mode"],
            overrides={"hotkey": lambda _f, _h: HotkeyEditor()},
        )
        self.insertion_form = self._form(TOP, Settings, ["insertion", "history_days"])
        self._add_page(DICTATION, hotkey, self.insertion_form)
        captions = self._form(TOP, Settings, ["captions_limit_min"])
        self._add_page(CAPTIONS, captions)
        overlay = self._form(
            "overlay",
            OverlaySettings,
            [f.name for f in dataclasses.fields(OverlaySettings)],
            overrides={"screen": screen},
        )
        self._add_page(OVERLAY, overlay)
        if models is None:  # the app passes its model manager; tests may not
            models = QLabel("Models for the local engine are managed with `hark models`.")
        self._add_page(MODELS, models)

    def _welcome(self, provider: str) -> QFrame:
        frame = QFrame()
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(frame)
        words = text.WELCOME_CLOUD if provider in KEYED_PROVIDERS else text.WELCOME
        self.welcome_label = note_label(words, muted=False)
        layout.addWidget(self.welcome_label)
        return frame

    def _connect(self) -> None:
        self.sections.currentRowChanged.connect(self.pages.setCurrentIndex)
        self.provider_form.editor("provider").on_changed(self._on_provider_changed)
        self.insertion_form.editor("insertion").on_changed(self._update_insertion_help)
        self._update_insertion_help()
        for group, form in self.groups.forms():
            form.field_changed.connect(lambda _n, g=group: self._recheck_shown(g))
            form.field_committed.connect(lambda n, g=group, f=form: self._check_field(g, f, n))
        self.test_button.clicked.connect(self._on_test)
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)

    # -- reading the form -------------------------------------------------------------

    def provider(self) -> str:
        """The provider selected in the form."""
        value: str = self.provider_form.editor("provider").value()
        return value

    def current_settings(self) -> Settings:
        """The settings in the form.

        Raises:
            FieldProblem: a value is refused (a :class:`SettingError`; ``group`` says
                which part of the settings, ``name`` which field).
        """
        return self.groups.settings()

    # -- showing problems -------------------------------------------------------------

    def _check_field(self, group: str, form: FieldForm, name: str) -> None:
        self.groups.check_field(group, form, name)
        self._recheck_shown(group)

    def _recheck_shown(self, group: str) -> None:
        """Update the errors shown in ``group`` and the note about other providers."""
        self.groups.recheck_shown(group)
        if self.provider_form.error("provider") and not any(
            p.group in PROVIDERS and p.group != self.provider() for p in self.groups.problems()
        ):
            self.provider_form.show_error("provider", "")

    def _validated(self) -> Settings | None:
        """The settings, or ``None`` after showing every problem and focusing the first."""
        self.groups.clear_errors()
        show_message(self.form_error, "", None)
        problems = self.groups.problems()
        if not problems:
            try:
                return self.current_settings()
            except FieldProblem as exc:  # a rule across fields, from the model
                problems = [exc]
        for problem in problems:
            shown_in = self.groups.form_of(problem.group, problem.name)
            if shown_in is not None:
                shown_in.show_error(problem.name, problem.message)
        self._reveal(problems[0])
        return None

    def _reveal(self, problem: FieldProblem) -> None:
        """Show the page of ``problem`` and focus its field."""
        form = self.groups.form_of(problem.group, problem.name)
        if form is None:
            show_message(self.form_error, str(problem), ERROR_COLOR)
            return
        target: QWidget = form.rows[problem.name]
        page = self._page_of[id(form)]
        if problem.group in PROVIDERS and problem.group != self.provider():
            title = text.PROVIDER_TITLES[problem.group]
            label = text.LABELS.get(problem.name, humanize(problem.name))
            self.provider_form.show_error(
                "provider",
                f"{title} has an invalid setting ({label}: {problem.message}). "
                f"Select {title} to fix it.",
            )
            target, page = self.provider_form.rows["provider"], GENERAL
        self._focus(page, target)

    def _focus(self, page: int, widget: QWidget) -> None:
        self.sections.setCurrentRow(page)
        self._areas[page].ensureWidgetVisible(widget)
        widget.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- reactions --------------------------------------------------------------------

    def _on_provider_changed(self) -> None:
        provider = self.provider()
        index = PROVIDERS.index(provider)
        self.general_stack.show_page(index)
        self.options_stack.show_page(index)
        self.options_heading.setText(f"Provider options: {text.PROVIDER_TITLES[provider]}")
        self.provider_form.show_error("provider", "")
        self._recheck_shown("baseten")  # its model ID rule applies only while selected
        if not self._testing:
            show_message(self.test_result, "", None)

    def _update_insertion_help(self) -> None:
        method = self.insertion_form.editor("insertion").value()
        self.insertion_form.rows["insertion"].set_help(text.INSERTION_HELP.get(method, ""))

    def _on_test(self) -> None:
        settings = self._validated()
        if settings is None:
            return
        self._testing = True
        self.test_button.setEnabled(False)
        self.test_button.setText("Testing…")
        title = text.PROVIDER_TITLES[settings.provider]
        show_message(self.test_result, f"Connecting to {title}…", None)
        field = self.key_fields.get(settings.provider)
        self.test_requested.emit(settings, field.typed_key() if field is not None else "")

    @Slot(bool, str)
    def show_test_result(self, ok: bool, message: str) -> None:
        """Show the outcome of a connection test next to its button.

        Args:
            ok: Whether the test session connected.
            message: What to show: details on success, the exact error on failure.
        """
        self._testing = False
        self.test_button.setEnabled(True)
        self.test_button.setText("Test connection")
        if ok:
            shown = message if message.startswith("Connected") else "Connected"
            if message and shown != message:
                shown += f": {message}"
            show_message(self.test_result, shown, OK_COLOR)
        else:
            show_message(self.test_result, message or "The connection test failed.", ERROR_COLOR)

    def _on_save(self) -> None:
        settings = self._validated()
        if settings is None:
            return
        for provider, field in self.key_fields.items():
            refused = field.apply_pending()  # shown under the field too
            if refused is None:
                continue
            if provider == self.provider():
                self._focus(GENERAL, field)
            else:
                title = text.PROVIDER_TITLES[provider]
                row = self.provider_form.rows["provider"]
                row.show_error(f"Could not store the {title} key: {refused}")
                self._focus(GENERAL, row)
            return
        self.saved.emit(settings)
        self.accept()

    def done(self, result: int) -> None:
        """Remember the size and position, then close."""
        save_geometry(self, self.ui_state, GEOMETRY_KEY)
        super().done(result)
