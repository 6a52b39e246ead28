"""The settings dialog's forms, grouped by the part of :class:`Settings` they edit,
and the rules that check them: the model's own, endpoint URLs, and Baseten's need for
a model ID or an endpoint."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from app.core.errors import InsecureEndpointError, SettingError
from app.core.settings import PROVIDERS, Settings
from app.core.urls import check_endpoint
from app.ui.widgets.form import FieldForm
from app.ui.widgets.settings_labels import BASETEN_NEEDS_TARGET

TOP = "settings"
"""The group of the top-level fields (provider, microphone, insertion...)."""


class FieldProblem(SettingError):
    """A :class:`SettingError` that knows which part of the settings it is in.

    Attributes:
        group: ``settings``, ``hotkey``, ``overlay`` or a provider name.
    """

    def __init__(self, group: str, name: str, message: str) -> None:
        super().__init__(name, message)
        self.group = group


class FormGroups:
    """Forms by group: ``settings`` (top-level fields), each provider, ``hotkey``,
    ``overlay``. A group may span several forms (and pages).

    Args:
        initial: The settings the dialog opened with; fields without an editor keep
            their values from here.
        provider: Returns the provider selected in the form.
    """

    def __init__(self, initial: Settings, provider: Callable[[], str]) -> None:
        self.initial = initial
        self.provider = provider
        self.groups: dict[str, list[FieldForm]] = {}

    def add(self, group: str, form: FieldForm) -> FieldForm:
        """Register ``form`` as (part of) ``group``."""
        self.groups.setdefault(group, []).append(form)
        return form

    def forms(self) -> list[tuple[str, FieldForm]]:
        """Every ``(group, form)``."""
        return [(g, f) for g, forms in self.groups.items() for f in forms]

    def form_of(self, group: str, name: str) -> FieldForm | None:
        """The form of ``group`` that has field ``name``."""
        return next((f for f in self.groups.get(group, []) if name in f.rows), None)

    def _source(self, settings: Settings, group: str) -> Any:
        return settings if group == TOP else getattr(settings, group)

    def load(self, settings: Settings) -> None:
        """Show ``settings`` in every form."""
        for group, form in self.forms():
            form.set_values(self._source(settings, group))

    def values(self, group: str) -> dict[str, Any]:
        """The values of every field of ``group``."""
        values: dict[str, Any] = {}
        for form in self.groups[group]:
            values.update(form.values())
        return values

    def build(self, group: str, **parts: Any) -> Any:
        """The dataclass of ``group`` from the form (``parts``: its sub-dataclasses).

        Raises:
            FieldProblem: the model refused a value.
        """
        try:
            return dataclasses.replace(
                self._source(self.initial, group), **self.values(group), **parts
            )
        except SettingError as exc:
            raise FieldProblem(group, exc.name, exc.message) from None

    def settings(self) -> Settings:
        """The settings in the form.

        Raises:
            FieldProblem: the first problem (the selected provider's first).
        """
        problems = self.problems()
        if problems:
            raise problems[0]
        parts = {group: self.build(group) for group in self.groups if group != TOP}
        settings: Settings = self.build(TOP, **parts)
        return settings

    def field_problem(self, group: str, form: FieldForm, name: str) -> str | None:
        """What is wrong with one field, or ``None``: the model's check, then the
        endpoint rule, then Baseten's need for a model ID or an endpoint."""
        message = form.check(name)
        if message:
            return message
        value = form.editor(name).value()
        if name == "endpoint" and value:
            try:
                check_endpoint(value)
            except InsecureEndpointError as exc:
                return str(exc)
        if (
            group == "baseten"
            and name == "model_id"
            and self.provider() == "baseten"
            and not value
            and not self.values("baseten").get("endpoint")
        ):
            return BASETEN_NEEDS_TARGET
        return None

    def problems(self) -> list[FieldProblem]:
        """Every field's problem, the selected provider's first."""
        selected = self.provider()
        order = [selected, TOP, *(g for g in self.groups if g not in PROVIDERS and g != TOP)]
        order += [p for p in PROVIDERS if p != selected and p in self.groups]
        problems = []
        for group in order:
            for form in self.groups[group]:
                for name in form.names():
                    message = self.field_problem(group, form, name)
                    if message:
                        problems.append(FieldProblem(group, name, message))
        return problems

    def check_field(self, group: str, form: FieldForm, name: str) -> None:
        """Show or clear the problem of one field."""
        form.show_error(name, self.field_problem(group, form, name) or "")

    def recheck_shown(self, group: str) -> None:
        """Update the errors shown in ``group``: fixed ones disappear."""
        for form in self.groups[group]:
            for name in form.names():
                if form.error(name):
                    self.check_field(group, form, name)

    def clear_errors(self) -> None:
        """Hide every field's error."""
        for _group, form in self.forms():
            form.clear_errors()
