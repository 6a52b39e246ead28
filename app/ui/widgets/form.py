"""A form built from a settings dataclass: one row per field, each with its help line
and a place for the model's error message right under the field."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from app.core.errors import SettingError
from app.ui.widgets.fields import FieldEditor, humanize, make_editor

ERROR_COLOR = "#c62828"
OK_COLOR = "#2e7d32"

EditorFactory = Callable[[dataclasses.Field[Any], Any], FieldEditor]


def note_label(text: str = "", *, muted: bool = True) -> QLabel:
    """A wrapping plain-text label, in the muted colour used for help lines."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if muted:
        palette = label.palette()
        palette.setColor(
            QPalette.ColorRole.WindowText, palette.color(QPalette.ColorRole.PlaceholderText)
        )
        label.setPalette(palette)
    return label


def message_label() -> QLabel:
    """A hidden, selectable plain-text label for error and result messages."""
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.hide()
    return label


def relayout(widget: QWidget) -> None:
    """Make the layout holding ``widget`` recompute its rows.

    QFormLayout keeps stale heights of word-wrapped rows when a label inside a row
    appears or changes (Qt 6.12), so a row can overlap the next one without this.
    """
    parent = widget.parentWidget()
    while parent is not None:
        layout = parent.layout()
        if isinstance(layout, QFormLayout):
            layout.invalidate()
            return
        parent = parent.parentWidget()


def show_message(label: QLabel, text: str, color: str | None) -> None:
    """Show ``text`` in ``label`` in ``color`` (``None``: the normal text colour)."""
    label.setStyleSheet(f"color: {color};" if color else "")
    label.setText(text)
    label.setVisible(bool(text))
    relayout(label)


class FieldRow(QWidget):
    """The editor of one field, its help line and its (hidden) error line."""

    def __init__(self, editor: FieldEditor, help_text: str) -> None:
        super().__init__()
        self.editor = editor
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(editor.widget)
        self.help = note_label(help_text)
        self.help.setVisible(bool(help_text))
        layout.addWidget(self.help)
        self.error = message_label()
        layout.addWidget(self.error)
        self.setFocusProxy(editor.focus_widget)

    def set_help(self, text: str) -> None:
        """Replace the help line."""
        self.help.setText(text)
        self.help.setVisible(bool(text))
        relayout(self.help)

    def show_error(self, message: str) -> None:
        """Show ``message`` in red under the field (empty: hide it)."""
        if message:
            message = message[:1].upper() + message[1:]
        show_message(self.error, message, ERROR_COLOR)


class FieldForm(QWidget):
    """Rows for some fields of a settings dataclass, built from their metadata.

    Args:
        cls: The dataclass (``BasetenOptions``, ``OverlaySettings``...).
        names: The fields to show, in order (default: all of them).
        labels: Row labels by field name (default: :func:`humanize`).
        help: Help lines by field name (default: the field's ``help`` metadata).
        choice_labels: Display text of choices, by field name, then by value.
        placeholders: Grey text for empty text fields, by field name.
        overrides: Editor factories by field name, for fields that need a custom widget.
        multiline: Text fields edited in a multi-line box.

    Signals:
        field_changed(str): A field's value changed (every keystroke).
        field_committed(str): An edit is complete (a text field lost focus).
    """

    field_changed = Signal(str)
    field_committed = Signal(str)

    def __init__(
        self,
        cls: type[Any],
        names: Iterable[str] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        help: Mapping[str, str] | None = None,
        choice_labels: Mapping[str, Mapping[Any, str]] | None = None,
        placeholders: Mapping[str, str] | None = None,
        overrides: Mapping[str, EditorFactory] | None = None,
        multiline: Iterable[str] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.cls = cls
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        self.layout_ = QFormLayout(self)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.layout_.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.rows: dict[str, FieldRow] = {}
        self.labels: list[QLabel] = []
        long_lines = set(multiline)
        for name in fields if names is None else names:
            f = fields[name]
            factory = (overrides or {}).get(name)
            if factory is not None:
                editor = factory(f, hints[name])
            else:
                editor = make_editor(
                    f,
                    hints[name],
                    choice_labels=(choice_labels or {}).get(name),
                    placeholder=(placeholders or {}).get(name, ""),
                    multiline=name in long_lines,
                )
            help_text = (help or {}).get(name, f.metadata.get("help", ""))
            row = FieldRow(editor, "" if editor.help_shown else help_text)
            row.setToolTip(help_text)
            label = QLabel((labels or {}).get(name, humanize(name)) + ":")
            label.setBuddy(editor.focus_widget)
            self.labels.append(label)
            self.layout_.addRow(label, row)
            self.rows[name] = row
            editor.on_changed(self._notifier(name, committed=False))
            editor.on_committed(self._notifier(name, committed=True))
            editor.bind_problem(self._problem_reporter(name))

    def _notifier(self, name: str, *, committed: bool) -> Callable[[], None]:
        def notify() -> None:
            # A focused field also "finishes editing" while Qt destroys the form; by
            # then the form's meta-object has lost its Python signals, and emitting
            # fails ("only accepts 0 argument(s)"). Nothing is listening by then.
            if self.metaObject().indexOfSignal("field_changed(QString)") < 0:
                return
            (self.field_committed if committed else self.field_changed).emit(name)

        return notify

    def _problem_reporter(self, name: str) -> Callable[[str], None]:
        def report(message: str) -> None:
            self.show_error(name, message)

        return report

    def add_row(self, label: str, widget: QWidget) -> None:
        """Append a row that is not a field of ``cls`` (the API key)."""
        title = QLabel(label + ":")
        title.setBuddy(widget.focusProxy() or widget)
        self.labels.append(title)
        self.layout_.addRow(title, widget)

    def names(self) -> list[str]:
        """The fields in this form."""
        return list(self.rows)

    def editor(self, name: str) -> FieldEditor:
        """The editor of field ``name``."""
        return self.rows[name].editor

    def values(self) -> dict[str, Any]:
        """Every field's value, in the model's types."""
        return {name: row.editor.value() for name, row in self.rows.items()}

    def set_values(self, obj: Any) -> None:
        """Show the values of ``obj`` (an instance of ``cls``)."""
        for name, row in self.rows.items():
            row.editor.set_value(getattr(obj, name))

    def check(self, name: str) -> str | None:
        """The model's complaint about field ``name`` on its own, or ``None``."""
        try:
            self.cls(**{name: self.editor(name).value()})
        except SettingError as exc:
            return exc.message if exc.name == name else None
        return None

    def show_error(self, name: str, message: str) -> None:
        """Show ``message`` under field ``name`` (empty: clear it)."""
        self.rows[name].show_error(message)

    def error(self, name: str) -> str:
        """The message shown under field ``name``, or ``""``."""
        return self.rows[name].error.text()

    def clear_errors(self) -> None:
        """Hide every error message."""
        for row in self.rows.values():
            row.show_error("")


class OneOf(QWidget):
    """Shows one of its pages; hidden pages take no room (unlike a QStackedWidget,
    which is as tall as its tallest page)."""

    def __init__(self) -> None:
        super().__init__()
        self._pages: list[QWidget] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)

    def add(self, page: QWidget) -> None:
        """Append ``page`` (hidden unless it is the first)."""
        page.setVisible(not self._pages)
        self._pages.append(page)
        self._layout.addWidget(page)

    def show_page(self, index: int) -> None:
        """Show page ``index`` only."""
        for i, page in enumerate(self._pages):
            page.setVisible(i == index)


def align_labels(forms: Sequence[FieldForm]) -> None:
    """Give every form the same label column width, so fields line up across forms."""
    labels = [label for form in forms for label in form.labels]
    width = max((label.sizeHint().width() for label in labels), default=0)
    for label in labels:
        label.setMinimumWidth(width)
