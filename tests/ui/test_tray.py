"""The tray: menu actions emit what the user asked for; icon and tooltip follow the state."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from app.ui.icons import state_icon
from app.ui.tray import STATES, Tray


def _menu_texts(tray: Tray) -> list[str]:
    return [a.text() for a in tray.menu.actions() if not a.isSeparator()]


def test_menu_has_every_entry(qtbot: QtBot) -> None:
    tray = Tray("together", tray_available=True)
    assert _menu_texts(tray) == [
        "Start dictation",
        "Start live captions",
        "Provider",
        "Recent transcripts",
        "Retry last dictation",
        "Set up Hark…",
        "Settings…",
        "Quit Hark",
    ]
    assert tray.provider_actions["together"].isChecked()
    assert not tray.provider_actions["baseten"].isChecked()
    assert not tray.retry_menu.isEnabled()  # until a dictation's audio is kept
    assert [a.text() for a in tray.retry_menu.actions()] == [
        "With Baseten", "With Together AI", "With Fireworks", "With Local (offline)",
    ]  # fmt: skip


def test_actions_emit_signals(qtbot: QtBot) -> None:
    tray = Tray("baseten", tray_available=True)
    with qtbot.waitSignal(tray.captions_toggled):
        tray.captions_action.trigger()
    with qtbot.waitSignal(tray.dictation_toggled):
        tray.dictation_action.trigger()
    with qtbot.waitSignal(tray.setup_requested):
        tray.setup_action.trigger()
    with qtbot.waitSignal(tray.settings_requested):
        tray.settings_action.trigger()
    with qtbot.waitSignal(tray.quit_requested):
        tray.quit_action.trigger()
    with qtbot.waitSignal(tray.provider_selected) as picked:
        tray.provider_actions["fireworks"].trigger()
    assert picked.args == ["fireworks"]


def test_state_changes_icon_and_tooltip(qtbot: QtBot) -> None:
    tray = Tray("baseten", tray_available=True)
    assert tray.icon is not None
    seen = set()
    for state in STATES:
        tray.set_state(state, "details here" if state == "error" else "")
        seen.add(tray.icon.icon().cacheKey())
        assert tray.state == state
    assert len(seen) == len(STATES)  # every state has its own icon
    assert tray.tooltip == "Hark: Error\ndetails here"
    tray.set_state("listening")
    assert tray.tooltip == "Hark: Listening"
    assert not state_icon("listening").isNull()


def test_labels_follow_the_run(qtbot: QtBot) -> None:
    tray = Tray("baseten", tray_available=True)
    tray.set_captions_active(True)
    assert tray.captions_action.text() == "Stop live captions"
    tray.set_captions_active(False)
    assert tray.captions_action.text() == "Start live captions"
    tray.set_dictation_active(True)
    assert tray.dictation_action.text() == "Stop dictation"


def _shown(menu: QMenu) -> list[QAction]:
    return [a for a in menu.actions() if a.isVisible()]


def test_recent_transcripts_copy_or_insert(qtbot: QtBot) -> None:
    tray = Tray("baseten", tray_available=True)
    assert [a.text() for a in _shown(tray.recent_menu)] == ["(none yet)"]
    long = "word " * 30
    tray.set_recent(["Fish & chips.", long])
    entries = [a.menu() for a in _shown(tray.recent_menu)]
    assert entries[0].title() == "Fish && chips."  # & is not eaten as a mnemonic
    assert entries[1].title().endswith("…")
    copy, insert = entries[1].actions()
    with qtbot.waitSignal(tray.transcript_chosen) as chosen:
        copy.trigger()
    assert chosen.args == [long]
    with qtbot.waitSignal(tray.transcript_insert_requested) as inserted:
        insert.trigger()
    assert inserted.args == [long]


def test_refreshing_recent_transcripts_makes_no_new_menus(qtbot: QtBot) -> None:
    tray = Tray("baseten", tray_available=True)
    tray.set_recent(["One.", "Two.", "Three."])
    made = tray.recent_menu.findChildren(QMenu)
    for n in range(20):
        tray.set_recent([f"Transcript {n}.", "Older one."])
    assert tray.recent_menu.findChildren(QMenu) == made  # the same three, re-used
    assert [a.menu().title() for a in _shown(tray.recent_menu)] == [
        "Transcript 19.",
        "Older one.",
    ]
    with qtbot.waitSignal(tray.transcript_chosen) as chosen:
        _shown(tray.recent_menu)[0].menu().actions()[0].trigger()
    assert chosen.args == ["Transcript 19."]
    tray.set_recent([])
    assert [a.text() for a in _shown(tray.recent_menu)] == ["(none yet)"]


def test_without_a_system_tray_a_control_window_replaces_it(qtbot: QtBot) -> None:
    tray = Tray("baseten", tray_available=False)
    assert tray.icon is None
    assert tray.window is not None
    qtbot.addWidget(tray.window)
    tray.show()
    assert tray.window.isVisible()
    tray.set_state("connecting", "Connecting to Baseten…")
    assert tray.tooltip == "Hark: Connecting… — Connecting to Baseten…"
    tray.notify("Hark", "No microphone found.", error=True)
    assert "No microphone found." in tray.window.status.text()
    tray.window.close()  # closing hides; the app keeps running
    assert not tray.window.isVisible()


def test_the_control_window_stays_narrow_and_shows_long_messages_whole(qtbot: QtBot) -> None:
    tray = Tray("local", tray_available=False)
    assert tray.window is not None
    qtbot.addWidget(tray.window)
    tray.show()
    message = (
        "Cannot download the base model: cannot reach huggingface.co (Name or service not "
        "known). Choose a cloud provider in Settings, or point the model setting at a "
        "model folder."
    )
    tray.notify("Local model", message, error=True)
    qtbot.waitUntil(lambda: tray.window is not None and tray.window.isVisible())
    status = tray.window.status
    assert tray.window.width() < 600  # it used to grow to the message's length (1000+ px)
    assert status.text() == f"Local model: {message}"
    assert status.height() >= status.heightForWidth(status.width())  # every line shown
