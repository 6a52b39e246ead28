"""The settings dialog: the form round trip, validation next to the field, the API key
kept only in the keyring, the connection test hand-off and the first-run note."""

from __future__ import annotations

from pathlib import Path

import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QPlainTextEdit
from pytestqt.qtbot import QtBot

from app.adapters.secrets import KeyringSecretStore
from app.adapters.settings_store import SettingsStore
from app.core.errors import SecretStoreError, SettingError
from app.core.options import BasetenOptions, TogetherOptions
from app.core.settings import HotkeySettings, OverlaySettings, Settings
from app.ui.settings_dialog import SettingsDialog
from app.ui.widgets.form import ERROR_COLOR, OK_COLOR
from app.ui.widgets.hotkey_edit import format_hotkey
from tests.memory_keyring import MemoryKeyring

DEVICES = ["USB Mic", "Built-in Audio"]
CTRL = Qt.KeyboardModifier.ControlModifier
ALT = Qt.KeyboardModifier.AltModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
META = Qt.KeyboardModifier.MetaModifier
NONE = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def store() -> KeyringSecretStore:
    return KeyringSecretStore(MemoryKeyring())


def open_dialog(
    qtbot: QtBot,
    store: KeyringSecretStore,
    settings: Settings | None = None,
    *,
    first_run: bool = False,
) -> SettingsDialog:
    dialog = SettingsDialog(
        settings or Settings(provider="baseten"), store, devices=DEVICES, first_run=first_run
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def line(dialog: SettingsDialog, provider: str, name: str) -> QLineEdit:
    form = dialog.general_forms[provider]
    if name not in form.rows:
        form = dialog.option_forms[provider]
    widget = form.editor(name).widget
    assert isinstance(widget, QLineEdit)
    return widget


def type_into(qtbot: QtBot, edit: QLineEdit, text: str) -> None:
    edit.clear()
    qtbot.keyClicks(edit, text)


def select(dialog: SettingsDialog, group: str, name: str, value: object) -> None:
    form = dialog.groups.form_of(group, name)
    assert form is not None
    combo = form.editor(name).widget
    index = combo.findData(value)  # type: ignore[attr-defined]
    assert index >= 0, f"{value!r} is not offered for {name}"
    combo.setCurrentIndex(index)  # type: ignore[attr-defined]


def error_under(dialog: SettingsDialog, group: str, name: str) -> str:
    form = dialog.groups.form_of(group, name)
    assert form is not None
    label = form.rows[name].error
    return label.text() if label.isVisible() else ""


def test_round_trip_saves_exactly_what_was_entered(
    qtbot: QtBot, store: KeyringSecretStore, tmp_path: Path
) -> None:
    dialog = open_dialog(qtbot, store)
    assert dialog.windowTitle() == "Hark Settings"

    # Baseten first, then switch to Together: both providers keep their values.
    type_into(qtbot, line(dialog, "baseten", "model_id"), "abc123")
    prompt = dialog.general_forms["baseten"].editor("prompt").widget
    assert isinstance(prompt, QPlainTextEdit)
    qtbot.keyClicks(prompt, "Kubernetes, Hark")
    dialog.option_forms["baseten"].editor("vad_threshold").set_value(0.35)
    diversity = dialog.option_forms["baseten"].editor("beam_search_diversity_rate")
    diversity.check.setChecked(True)  # type: ignore[attr-defined]
    diversity.spin.setValue(0.3)  # type: ignore[attr-defined]
    select(dialog, "settings", "provider", "together")
    assert dialog.general_stack.isVisible()
    assert dialog.general_forms["together"].isVisible()
    assert not dialog.general_forms["baseten"].isVisible()
    type_into(qtbot, line(dialog, "together", "language"), "de")
    dialog.option_forms["together"].editor("vad_max_speech_s").set_value(90.0)
    qtbot.keyClicks(dialog.key_fields["together"].edit, "tg-secret-123")

    select(dialog, "settings", "microphone", "USB Mic")
    select(dialog, "settings", "insertion", "type")
    hotkey = dialog.groups.form_of("hotkey", "hotkey")
    assert hotkey is not None
    hotkey_edit = hotkey.editor("hotkey").widget
    hotkey_edit.setFocus()
    qtbot.keyClick(hotkey_edit, Qt.Key.Key_D, CTRL | SHIFT)
    overlay = dialog.groups.form_of("overlay", "font_size")
    assert overlay is not None
    overlay.editor("font_size").set_value(28)

    with qtbot.waitSignal(dialog.saved, timeout=2000) as blocker:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    expected = Settings(
        provider="together",
        baseten=BasetenOptions(
            model_id="abc123",
            prompt="Kubernetes, Hark",
            vad_threshold=0.35,
            beam_search_diversity_rate=0.3,
        ),
        together=TogetherOptions(language="de", vad_max_speech_s=90.0),
        microphone="USB Mic",
        insertion="type",
        hotkey=HotkeySettings(hotkey="ctrl+shift+d"),
        overlay=OverlaySettings(font_size=28),
    )
    saved = blocker.args[0]
    assert saved == expected
    assert dialog.result() == QDialog.DialogCode.Accepted

    path = tmp_path / "settings.json"
    SettingsStore(path).save(saved)
    loaded = SettingsStore(path).load()
    assert loaded.settings == expected
    assert loaded.problems == []
    assert store.get("together") == "tg-secret-123"
    assert store.get("baseten") is None
    assert "tg-secret-123" not in path.read_text(encoding="utf-8")


def test_cancel_discards_values_and_key(qtbot: QtBot, store: KeyringSecretStore) -> None:
    dialog = open_dialog(qtbot, store)
    type_into(qtbot, line(dialog, "baseten", "model_id"), "abc123")
    qtbot.keyClicks(dialog.key_fields["baseten"].edit, "sk-typed")
    with qtbot.assertNotEmitted(dialog.saved):
        cancel = dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert store.get("baseten") is None


def test_invalid_language_is_refused_next_to_the_field(
    qtbot: QtBot, store: KeyringSecretStore
) -> None:
    dialog = open_dialog(qtbot, store)
    type_into(qtbot, line(dialog, "baseten", "model_id"), "abc123")
    language = line(dialog, "baseten", "language")
    type_into(qtbot, language, "English")
    dialog.sections.setCurrentRow(4)  # somewhere else: Save must bring the field back
    with qtbot.assertNotEmitted(dialog.saved):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert "ISO 639 language code" in error_under(dialog, "baseten", "language")
    assert "'English'" in error_under(dialog, "baseten", "language")
    assert ERROR_COLOR in dialog.general_forms["baseten"].rows["language"].error.styleSheet()
    assert dialog.sections.currentRow() == 0
    qtbot.waitUntil(language.hasFocus, timeout=2000)

    type_into(qtbot, language, "fr")  # fixing it clears the message at once
    assert error_under(dialog, "baseten", "language") == ""
    with qtbot.waitSignal(dialog.saved, timeout=2000) as blocker:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].baseten.language == "fr"


def test_field_is_checked_when_editing_finishes(qtbot: QtBot, store: KeyringSecretStore) -> None:
    dialog = open_dialog(qtbot, store)
    options = line(dialog, "baseten", "language_options")
    dialog.sections.setCurrentRow(1)
    options.setFocus()
    qtbot.keyClicks(options, "en, German")
    assert error_under(dialog, "baseten", "language_options") == ""  # not while typing
    qtbot.keyClick(options, Qt.Key.Key_Return)
    assert "'German'" in error_under(dialog, "baseten", "language_options")


def test_baseten_needs_a_model_id_or_an_endpoint(qtbot: QtBot, store: KeyringSecretStore) -> None:
    dialog = open_dialog(qtbot, store)
    with qtbot.assertNotEmitted(dialog.saved):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert error_under(dialog, "baseten", "model_id") == (
        "Enter a Baseten model ID or an endpoint URL."
    )
    assert dialog.isVisible()
    with pytest.raises(SettingError, match="model_id"):
        dialog.current_settings()

    type_into(qtbot, line(dialog, "baseten", "endpoint"), "wss://example.test/ws")
    assert error_under(dialog, "baseten", "model_id") == ""
    assert dialog.current_settings().baseten.endpoint == "wss://example.test/ws"


def test_insecure_endpoint_is_refused_next_to_it(qtbot: QtBot, store: KeyringSecretStore) -> None:
    dialog = open_dialog(qtbot, store)
    type_into(qtbot, line(dialog, "baseten", "endpoint"), "ws://example.com/stream")
    with qtbot.assertNotEmitted(dialog.saved):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert "Refusing unencrypted ws://" in error_under(dialog, "baseten", "endpoint")
    assert error_under(dialog, "baseten", "model_id") == ""  # the endpoint counts as given


def test_problem_in_another_provider_is_pointed_out(
    qtbot: QtBot, store: KeyringSecretStore
) -> None:
    dialog = open_dialog(qtbot, store)
    select(dialog, "settings", "provider", "together")
    type_into(qtbot, line(dialog, "together", "language"), "German")
    select(dialog, "settings", "provider", "fireworks")
    with qtbot.assertNotEmitted(dialog.saved):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    note = error_under(dialog, "settings", "provider")
    assert "Together AI has an invalid setting" in note
    assert "'German'" in note
    assert dialog.provider() == "fireworks"  # the choice is the user's, not ours


def test_test_connection_hands_over_the_typed_key_and_shows_the_result(
    qtbot: QtBot, store: KeyringSecretStore
) -> None:
    dialog = open_dialog(qtbot, store)
    type_into(qtbot, line(dialog, "baseten", "model_id"), "abc123")
    qtbot.keyClicks(dialog.key_fields["baseten"].edit, "sk-typed")
    with qtbot.waitSignal(dialog.test_requested, timeout=2000) as blocker:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    settings, key = blocker.args
    assert isinstance(settings, Settings)
    assert settings.baseten.model_id == "abc123"
    assert key == "sk-typed"
    assert not dialog.test_button.isEnabled()
    assert dialog.test_button.text() == "Testing…"
    assert store.get("baseten") is None  # testing stores nothing

    dialog.show_test_result(True, "Baseten answered in 0.4 s")
    assert dialog.test_button.isEnabled()
    assert dialog.test_result.text() == "Connected: Baseten answered in 0.4 s"
    assert OK_COLOR in dialog.test_result.styleSheet()

    with qtbot.waitSignal(dialog.test_requested, timeout=2000):
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    failure = "Baseten refused the API key (HTTP 401); check it in Settings."
    dialog.show_test_result(False, failure)
    assert dialog.test_result.text() == failure
    assert ERROR_COLOR in dialog.test_result.styleSheet()
    assert dialog.test_result.isVisible()


def test_test_connection_without_a_typed_key_sends_empty(
    qtbot: QtBot, store: KeyringSecretStore
) -> None:
    dialog = open_dialog(qtbot, store)
    select(dialog, "settings", "provider", "fireworks")
    with qtbot.waitSignal(dialog.test_requested, timeout=2000) as blocker:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0].provider == "fireworks"
    assert blocker.args[1] == ""


def test_invalid_form_does_not_start_a_test(qtbot: QtBot, store: KeyringSecretStore) -> None:
    dialog = open_dialog(qtbot, store)  # Baseten without a model ID or endpoint
    with qtbot.assertNotEmitted(dialog.test_requested):
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert dialog.test_button.isEnabled()
    assert error_under(dialog, "baseten", "model_id")


def test_stored_key_is_reported_but_never_shown(qtbot: QtBot, store: KeyringSecretStore) -> None:
    store.set("baseten", "sk-stored-secret")
    dialog = open_dialog(qtbot, store, Settings(baseten=BasetenOptions(model_id="m")))
    field = dialog.key_fields["baseten"]
    assert f"A key is stored in the keyring ({store.backend})" in field.status.text()
    assert field.edit.echoMode() == QLineEdit.EchoMode.Password
    texts = [w.text() for w in dialog.findChildren(QLineEdit)]
    texts += [w.text() for w in dialog.findChildren(QLabel)]
    assert not any("sk-stored-secret" in t for t in texts)

    qtbot.mouseClick(field.show_button, Qt.MouseButton.LeftButton)
    assert field.edit.echoMode() == QLineEdit.EchoMode.Normal
    assert field.edit.text() == ""  # "show" reveals only what is being typed

    qtbot.mouseClick(field.remove_button, Qt.MouseButton.LeftButton)
    assert "will be removed" in field.status.text()
    assert store.get("baseten") == "sk-stored-secret"  # nothing happens before Save
    with qtbot.waitSignal(dialog.saved, timeout=2000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert store.get("baseten") is None


def test_typed_key_replaces_the_stored_one(qtbot: QtBot, store: KeyringSecretStore) -> None:
    store.set("baseten", "sk-old")
    dialog = open_dialog(qtbot, store, Settings(baseten=BasetenOptions(model_id="m")))
    qtbot.keyClicks(dialog.key_fields["baseten"].edit, "  sk-new  ")
    with qtbot.waitSignal(dialog.saved, timeout=2000) as blocker:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert store.get("baseten") == "sk-new"
    assert "sk-new" not in repr(blocker.args[0])


class RefusingStore(KeyringSecretStore):
    def set(self, provider: str, key: str) -> None:
        raise SecretStoreError("The keyring refused to store the key: locked")


def test_keyring_refusal_keeps_the_dialog_open(qtbot: QtBot) -> None:
    dialog = open_dialog(
        qtbot,
        RefusingStore(MemoryKeyring()),
        Settings(provider="baseten", baseten=BasetenOptions(model_id="m")),
    )
    qtbot.keyClicks(dialog.key_fields["baseten"].edit, "sk-new")
    with qtbot.assertNotEmitted(dialog.saved):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    error = dialog.key_fields["baseten"].error
    assert error.isVisible()
    assert error.text() == "The keyring refused to store the key: locked"


def test_unusable_keyring_disables_the_key_field(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    store = KeyringSecretStore(fail.Keyring())
    assert not store.usable()
    dialog = open_dialog(qtbot, store)
    for provider, var in (("baseten", "BASETEN_API_KEY"), ("together", "TOGETHER_API_KEY")):
        field = dialog.key_fields[provider]
        assert not field.edit.isEnabled()
        assert not field.remove_button.isEnabled()
        assert "No secure keyring is available" in field.status.text()
        assert var in field.status.text()
        assert "keyring.backends.fail.Keyring" in field.status.text()


def test_first_run_shows_the_welcome_note(qtbot: QtBot, store: KeyringSecretStore) -> None:
    dialog = open_dialog(qtbot, store, first_run=True)
    assert dialog.welcome_label.isVisible()
    assert dialog.welcome_label.text().startswith("Welcome to Hark. Enter your API key")
    local = open_dialog(qtbot, store, Settings(), first_run=True)
    assert "API key" not in local.welcome_label.text()  # the local engine needs none

    later = open_dialog(qtbot, store)
    assert not any("Welcome to Hark" in w.text() for w in later.findChildren(QLabel))


def test_hotkey_field_refuses_typing_keys_and_lets_tab_through(
    qtbot: QtBot, store: KeyringSecretStore
) -> None:
    dialog = open_dialog(qtbot, store)
    dialog.sections.setCurrentRow(3)
    form = dialog.groups.form_of("hotkey", "hotkey")
    assert form is not None
    edit = form.editor("hotkey").widget
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus, timeout=2000)
    qtbot.keyClick(edit, Qt.Key.Key_A)
    assert edit.text() == "ctrl+alt+space"
    assert "would fire while you type" in error_under(dialog, "hotkey", "hotkey")
    qtbot.keyClick(edit, Qt.Key.Key_F9)
    assert edit.text() == "f9"
    assert error_under(dialog, "hotkey", "hotkey") == ""
    qtbot.keyClick(edit, Qt.Key.Key_Tab)
    assert not edit.hasFocus()
    assert edit.text() == "f9"


@pytest.mark.parametrize(
    ("key", "mods", "mac", "expected"),
    [
        (Qt.Key.Key_Space, CTRL | ALT, False, "ctrl+alt+space"),
        (Qt.Key.Key_PageUp, META, False, "super+page_up"),
        (Qt.Key.Key_Plus, CTRL, False, "ctrl+plus"),
        (Qt.Key.Key_F12, NONE, False, "f12"),
        (Qt.Key.Key_K, CTRL | META, True, "ctrl+cmd+k"),
        (Qt.Key.Key_A, SHIFT, False, ""),
    ],
)
def test_hotkey_names(key: Qt.Key, mods: Qt.KeyboardModifier, mac: bool, expected: str) -> None:
    assert format_hotkey(key.value, mods, mac=mac)[0] == expected


def test_unknown_microphone_and_screen_are_kept(qtbot: QtBot, store: KeyringSecretStore) -> None:
    settings = Settings(
        baseten=BasetenOptions(model_id="m"),
        microphone="Old Headset",
        overlay=OverlaySettings(screen="HDMI-9"),
    )
    dialog = open_dialog(qtbot, store, settings)
    mic = dialog.groups.form_of("settings", "microphone")
    assert mic is not None
    assert mic.editor("microphone").widget.currentText() == "Old Headset (not connected)"  # type: ignore[attr-defined]
    assert dialog.current_settings() == settings
