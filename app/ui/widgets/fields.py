"""Field editors: one small wrapper per option type, chosen from a field's metadata.

:func:`make_editor` reads a dataclass field declared with
:func:`~app.core.options.option` (its type, ``min``/``max``, ``choices`` and help) and
returns a :class:`FieldEditor`: a widget plus ``value()``/``set_value()`` in the
model's own types (``None`` for an unset optional, tuples for lists). Editors never
validate: the model does, so the dialog shows the model's own messages.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

Callback = Callable[[], None]

# Field-name endings that are units: shown as the spin box suffix, not in the label.
_UNITS = {"ms": " ms", "s": " s", "min": " min", "percent": " %"}
_WORDS = {"vad": "VAD", "id": "ID", "url": "URL", "ngram": "n-gram"}


def unit_suffix(name: str) -> str:
    """The spin box suffix for a field name (``vad_min_silence_ms`` -> `` ms``)."""
    if name == "font_size":
        return " pt"
    return _UNITS.get(name.rsplit("_", 1)[-1], "") if "_" in name else ""


def humanize(name: str) -> str:
    """A label for a field name: ``vad_min_silence_ms`` -> ``VAD min silence``."""
    words = name.split("_")
    if len(words) > 1 and words[-1] in _UNITS:
        words = words[:-1]
    text = " ".join(_WORDS.get(w, w) for w in words)
    return text[:1].upper() + text[1:]


class _SpinBox(QSpinBox):
    """A spin box that lets the wheel scroll the page unless it has the focus."""

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Change the value only when focused; otherwise let the scroll area scroll."""
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class _DoubleSpinBox(QDoubleSpinBox):
    """A double spin box that lets the wheel scroll the page unless it has the focus."""

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Change the value only when focused; otherwise let the scroll area scroll."""
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class _ComboBox(QComboBox):
    """A combo box that lets the wheel scroll the page unless it has the focus."""

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Change the selection only when focused; otherwise let the page scroll."""
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()


class FieldEditor:
    """Edits one value of the model.

    Attributes:
        widget: What goes into the form.
        focus_widget: What gets the keyboard focus when the field is shown an error.
        help_shown: True when the widget already shows the help text (a check box).
    """

    help_shown = False

    def __init__(self, widget: QWidget, focus_widget: QWidget | None = None) -> None:
        self.widget = widget
        self.focus_widget = focus_widget or widget

    def value(self) -> Any:
        """The value in the model's type."""
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        """Show ``value``."""
        raise NotImplementedError

    def on_changed(self, callback: Callback) -> None:
        """Call ``callback`` on every change (each keystroke in a text field)."""
        raise NotImplementedError

    def on_committed(self, callback: Callback) -> None:
        """Call ``callback`` when an edit is complete (a text field loses focus)."""
        self.on_changed(callback)

    def bind_problem(self, callback: Callable[[str], None]) -> None:
        """Let the editor report an input it refused (only the hotkey field does)."""


class BoolEditor(FieldEditor):
    """A check box whose text is the field's help, or "Enabled" when the help is too
    long for one line (a check box's text does not wrap; the help goes below then)."""

    MAX_TEXT = 64

    def __init__(self, text: str) -> None:
        self.help_shown = len(text) <= self.MAX_TEXT
        self.box = QCheckBox(text if self.help_shown else "Enabled")
        super().__init__(self.box)

    def value(self) -> bool:
        """Whether the box is checked."""
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        """Check or uncheck the box."""
        self.box.setChecked(bool(value))

    def on_changed(self, callback: Callback) -> None:
        """Notify on toggling."""
        self.box.toggled.connect(lambda _checked: callback())


class ChoiceEditor(FieldEditor):
    """A combo box of fixed values; an unknown current value is kept as an extra entry.

    Args:
        choices: ``(value, label)`` pairs, in order.
        unknown: Label for a value not in ``choices``, formatted with ``{}``.
    """

    def __init__(self, choices: Sequence[tuple[Any, str]], unknown: str = "{}") -> None:
        self.combo = _ComboBox()
        self.combo.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._unknown = unknown
        for value, label in choices:
            self.combo.addItem(label, value)
        super().__init__(self.combo)

    def value(self) -> Any:
        """The selected value."""
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        """Select ``value``, adding it (marked with ``unknown``) when it is not listed."""
        for index in range(self.combo.count()):
            if self.combo.itemData(index) == value:
                self.combo.setCurrentIndex(index)
                return
        self.combo.addItem(self._unknown.format(value), value)
        self.combo.setCurrentIndex(self.combo.count() - 1)

    def on_changed(self, callback: Callback) -> None:
        """Notify when another entry is selected."""
        self.combo.currentIndexChanged.connect(lambda _index: callback())


def _decimals_of(value: float) -> int:
    text = f"{value:.6f}".rstrip("0")
    return len(text.split(".", 1)[1])


def _number_widget(
    base: type, lo: float | None, hi: float | None, suffix: str, never: bool
) -> QSpinBox | QDoubleSpinBox:
    """A spin box over the model's range, with a step and precision that suit it."""
    lo_v = -1e9 if lo is None else lo
    hi_v = 1e9 if hi is None else hi
    span = hi_v - lo_v
    spin: QSpinBox | QDoubleSpinBox
    if base is int:
        spin = _SpinBox()
        spin.setRange(int(lo_v), int(min(hi_v, 2**31 - 1)))
        spin.setSingleStep(1 if span <= 100 else 10)
    else:
        spin = _DoubleSpinBox()
        decimals, step = (2, 0.05) if span <= 1 else (2, 0.1) if span <= 10 else (1, 0.5)
        if span > 100:
            step = 1.0
        spin.setDecimals(max(decimals, _decimals_of(lo_v), _decimals_of(hi_v)))
        spin.setRange(lo_v, hi_v)
        spin.setSingleStep(step)
    spin.setSuffix(suffix)
    spin.setMaximumWidth(200)  # a number needs no full-width box
    spin.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    spin.setAccelerated(True)
    if never:
        spin.setSpecialValueText("Never")
    return spin


def _set_number(spin: QSpinBox | QDoubleSpinBox, value: Any) -> None:
    if isinstance(spin, QDoubleSpinBox):
        # Keep every digit of a hand-edited value instead of rounding it on save.
        spin.setDecimals(max(spin.decimals(), min(_decimals_of(float(value)), 6)))
        spin.setValue(float(value))
    else:
        spin.setValue(int(value))


class NumberEditor(FieldEditor):
    """A spin box limited to the model's range."""

    def __init__(self, spin: QSpinBox | QDoubleSpinBox) -> None:
        self.spin = spin
        super().__init__(spin)

    def value(self) -> int | float:
        """The number shown."""
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        """Show ``value``."""
        _set_number(self.spin, value)

    def on_changed(self, callback: Callback) -> None:
        """Notify on every value change."""
        self.spin.valueChanged.connect(lambda _value: callback())


class OptionalNumberEditor(FieldEditor):
    """A "Set" check box and a spin box: unchecked means ``None`` (the default applies)."""

    def __init__(self, spin: QSpinBox | QDoubleSpinBox) -> None:
        self.spin = spin
        self.check = QCheckBox("Set")
        box = QWidget()
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.check)
        layout.addWidget(spin, 1)
        self.check.toggled.connect(spin.setEnabled)
        spin.setEnabled(False)
        super().__init__(box, self.check)

    def value(self) -> int | float | None:
        """The number, or ``None`` when not set."""
        return self.spin.value() if self.check.isChecked() else None

    def set_value(self, value: Any) -> None:
        """Show ``value``; ``None`` unchecks the box."""
        self.check.setChecked(value is not None)
        if value is not None:
            _set_number(self.spin, value)

    def on_changed(self, callback: Callback) -> None:
        """Notify on toggling and on value changes."""
        self.check.toggled.connect(lambda _checked: callback())
        self.spin.valueChanged.connect(lambda _value: callback())


class _LineEditor(FieldEditor):
    """A one-line text field."""

    def __init__(self, placeholder: str) -> None:
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        super().__init__(self.edit)

    def on_changed(self, callback: Callback) -> None:
        """Notify on every keystroke."""
        self.edit.textChanged.connect(lambda _text: callback())

    def on_committed(self, callback: Callback) -> None:
        """Notify when Return is pressed or the field loses focus."""
        self.edit.editingFinished.connect(callback)


class TextEditor(_LineEditor):
    """Text without surrounding spaces; empty means ``None`` when the field is optional."""

    def __init__(self, optional: bool, placeholder: str = "") -> None:
        super().__init__(placeholder or ("Not set" if optional else ""))
        self._optional = optional

    def value(self) -> str | None:
        """The text, stripped; ``None`` for an empty optional field."""
        text = self.edit.text().strip()
        return None if self._optional and not text else text

    def set_value(self, value: Any) -> None:
        """Show ``value`` (``None`` as empty)."""
        self.edit.setText("" if value is None else str(value))


class ListEditor(_LineEditor):
    """Comma-separated values for a ``tuple[str, ...]`` field."""

    def __init__(self, placeholder: str = "") -> None:
        super().__init__(placeholder or "Comma-separated")

    def value(self) -> tuple[str, ...]:
        """The non-empty, stripped items."""
        return tuple(p.strip() for p in self.edit.text().split(",") if p.strip())

    def set_value(self, value: Any) -> None:
        """Show the items joined by ``", "``."""
        self.edit.setText(", ".join(value or ()))


class MultiLineEditor(FieldEditor):
    """A few lines of free text (prompts, vocabulary); Tab moves on."""

    def __init__(self, placeholder: str = "") -> None:
        self.edit = QPlainTextEdit()
        self.edit.setTabChangesFocus(True)
        self.edit.setPlaceholderText(placeholder)
        line = self.edit.fontMetrics().lineSpacing()
        self.edit.setFixedHeight(line * 3 + 14)
        super().__init__(self.edit)

    def value(self) -> str:
        """The text as typed."""
        return self.edit.toPlainText()

    def set_value(self, value: Any) -> None:
        """Show ``value``."""
        self.edit.setPlainText(str(value or ""))

    def on_changed(self, callback: Callback) -> None:
        """Notify on every change."""
        self.edit.textChanged.connect(callback)


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """``(base type, whether None is allowed)`` for a field annotation."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0], len(rest) < len(args)
    return hint, False


def make_editor(
    field: dataclasses.Field[Any],
    hint: Any,
    *,
    choice_labels: Mapping[Any, str] | None = None,
    placeholder: str = "",
    multiline: bool = False,
) -> FieldEditor:
    """Pick the editor for one :func:`~app.core.options.option` field.

    Args:
        field: The dataclass field (its metadata has help, min, max and choices).
        hint: The field's resolved type annotation.
        choice_labels: Display text for some choices (the value itself otherwise).
        placeholder: Grey text shown in an empty text field.
        multiline: Edit a ``str`` in a multi-line box (prompts).

    Raises:
        TypeError: the annotation has no editor.
    """
    meta = field.metadata
    base, optional = _unwrap_optional(hint)
    choices = meta.get("choices")
    if choices:
        labels = choice_labels or {}
        return ChoiceEditor([(c, labels.get(c, str(c))) for c in choices])
    if base is bool:
        return BoolEditor(meta.get("help", ""))
    if base in (int, float):
        lo, hi = meta.get("min"), meta.get("max")
        never = lo == 0 and "(0: never)" in meta.get("help", "")
        spin = _number_widget(base, lo, hi, unit_suffix(field.name), never)
        return OptionalNumberEditor(spin) if optional else NumberEditor(spin)
    if typing.get_origin(base) is tuple:
        return ListEditor(placeholder)
    if base is str:
        if multiline:
            return MultiLineEditor(placeholder)
        return TextEditor(optional, placeholder)
    raise TypeError(f"no editor for {field.name}: {hint!r}")
