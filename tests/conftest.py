"""Suite-wide set-up: Qt runs offscreen unless a test starts a real X server itself."""

from __future__ import annotations

import gc
import inspect
import os
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import needs

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# The tiny Whisper model fixtures, registered once for every module: a per-module
# pytest_plugins next to direct imports of the same module broke collection depending
# on which test file pytest reached first.
pytest_plugins = ["tests.local_model"]


@pytest.fixture(autouse=True)
def collect_qt_garbage_on_the_qt_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used Qt, free its windows and controllers here, on the Qt thread.

    Left to Python's cyclic collector, they die whenever it happens to run, often on a
    helper thread of a later test (an emulator, a download, a pipe reader, a thread of
    a unit test): Qt objects destroyed there leave their timers registered on the Qt
    thread, and the next timer event for one of them crashes the whole run.

    A clipboard entry the test's ``QtClipboard`` made is first swapped for one Qt made
    itself, as the app does when it quits: collecting its Python owner would otherwise
    free the entry while the clipboard still holds it.
    """
    yield
    if {"qapp", "qtbot", "loop"} & set(request.fixturenames):
        from app.ui.clipboard import release_clipboard

        release_clipboard()
        gc.collect()


# -- what each test needs ---------------------------------------------------------------
#
# The markers of tests/needs.py go on the tests here, so no test module has to list them:
# a test is marked with a need when it lives in a folder that needs it, uses a fixture
# that does, or reaches (through the functions, classes and fixtures of tests/ that it
# refers to) a helper that starts the thing or a `need_tool("...")` of one of its tools.

NEED_DIRECTORIES = {"x11": ("x11",)}
"""tests/<folder> -> the needs of every test in it."""

NEED_HELPERS = {
    "tests.desktop.x_display": ("x11",),
    "tests.desktop.x_desktop": ("x11",),
    "tests.audio.virtual_microphone": ("pulseaudio",),
    "tests.helpers.speech_wav": ("espeak",),
}
"""Helpers (module.qualname) that start what a need names; reaching one means the need."""

NEED_FIXTURES = {
    "real_model": ("real_model", "slow"),  # tests/integration/test_real_model.py
    "frozen": ("packaging", "slow"),  # the PyInstaller build, about a minute
    "spec_runner": ("packaging",),  # imports PyInstaller
}
"""Fixtures, by name, whose tests need these markers."""

SLOW_TESTS = {
    "tests/e2e/test_cli_usage.py::test_a_flac_file_is_transcribed_with_v_before_or_after_the_command",
    "tests/integration/test_serve_abuse.py::test_hundreds_of_connects_and_drops_leak_nothing",
    "tests/x11/test_dictation_x11.py::test_hold_speak_release_types_into_the_focused_window",
    "tests/x11/test_insertion_x11.py::test_type_40_non_ascii_characters_and_measure",
}
"""Tests of more than about 5 s that no fixture marks slow (measured with
`pytest --durations=40` on 2 cores), by file and function: every parameter."""

_TOOL_CALLS = {"need_tool", "tool"}


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _reached_needs(obj: object, seen: set[int]) -> set[str]:
    """The needs of what ``obj`` (a function or class of tests/) starts or refers to."""
    obj = inspect.unwrap(obj) if callable(obj) else obj
    module = getattr(obj, "__module__", None) or ""
    if id(obj) in seen or not module.startswith("tests."):
        return set()
    seen.add(id(obj))
    helper = NEED_HELPERS.get(f"{module}.{getattr(obj, '__qualname__', '')}")
    if helper is not None:
        return set(helper)
    if isinstance(obj, type):
        found: set[str] = set()
        for member in vars(obj).values():
            found |= _reached_needs(getattr(member, "__func__", member), seen)
        return found
    code = getattr(obj, "__code__", None)
    if not isinstance(code, types.CodeType):
        return set()
    found = set()
    namespace = getattr(obj, "__globals__", {})
    for each in _code_objects(code):
        if _TOOL_CALLS & set(each.co_names):
            found |= {needs.TOOL_NEEDS[c] for c in each.co_consts if c in needs.TOOL_NEEDS}
        for name in each.co_names:
            target = namespace.get(name)
            if inspect.isfunction(target) or inspect.isclass(target):
                found |= _reached_needs(target, seen)
    return found


def _needs_of(item: pytest.Function) -> set[str]:
    found: set[str] = set()
    here = Path(__file__).parent
    parts = item.path.relative_to(here).parts if item.path.is_relative_to(here) else ()
    if len(parts) > 1:
        found.update(NEED_DIRECTORIES.get(parts[0], ()))
    if f"tests/{'/'.join(parts)}::{item.originalname}" in SLOW_TESTS:
        found.add("slow")
    seen: set[int] = set()
    found |= _reached_needs(item.function, seen)
    for name, fixture_defs in item._fixtureinfo.name2fixturedefs.items():
        found.update(NEED_FIXTURES.get(name, ()))
        for fixture_def in fixture_defs:
            found |= _reached_needs(fixture_def.func, seen)
    return found


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with what it needs (see tests/needs.py)."""
    for item in items:
        if isinstance(item, pytest.Function):
            for name in sorted(_needs_of(item)):
                if item.get_closest_marker(name) is None:
                    item.add_marker(name)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture starts: skip (or, in CI, fail) a test whose need is missing."""
    needs.check(item)
