"""Settings: the model, migrations, the codec, and the file store's recovery rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.adapters.settings_store import SettingsStore, UiStateStore
from app.core.errors import SettingError
from app.core.options import BasetenOptions, LocalOptions
from app.core.settings import (
    SCHEMA_VERSION,
    HotkeySettings,
    OverlaySettings,
    Settings,
    flush_timeout_s,
    from_dict,
    migrate,
    needs_new_dictation,
    to_dict,
)


def test_round_trip_through_json() -> None:
    settings = Settings(
        provider="together",
        baseten=BasetenOptions(model_id="abc", language_options=("en", "de"), beam_width=3),
        overlay=OverlaySettings(font_size=30, position="top"),
        hotkey=HotkeySettings(hotkey="ctrl+shift+d", mode="toggle"),
        microphone="USB Mic",
    )
    data = json.loads(json.dumps(to_dict(settings)))
    assert data["version"] == SCHEMA_VERSION
    assert from_dict(data) == (settings, [])


@pytest.mark.parametrize(
    ("cls", "changes", "message"),
    [
        (OverlaySettings, {"font_size": 200}, "font_size: must be between 8 and 96"),
        (OverlaySettings, {"position": "left"}, "position: must be one of 'bottom', 'top'"),
        (HotkeySettings, {"mode": "press"}, "mode: must be one of 'hold', 'toggle', 'hybrid'"),
        (HotkeySettings, {"hotkey": " "}, "hotkey: must name at least one key"),
        (Settings, {"insertion": "fax"}, "insertion: must be one of 'paste', 'type', 'clipboard'"),
        (Settings, {"provider": "acme"}, "provider: must be one of"),
    ],
)
def test_invalid_values_are_refused(cls: type, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingError, match=message):
        cls(**changes)


def test_bad_values_reset_one_by_one_with_a_message() -> None:
    data = to_dict(Settings(microphone="Mic"))
    data["baseten"]["vad_threshold"] = 7
    data["overlay"]["font_size"] = "huge"
    data["surprise"] = True
    settings, problems = from_dict(data)
    assert settings.baseten.vad_threshold == 0.5
    assert settings.overlay.font_size == 20
    assert settings.microphone == "Mic"  # the good values survive
    assert problems == [
        "Reset baseten.vad_threshold to its default: must be between 0 and 1, got 7.",
        "Reset overlay.font_size to its default: 'huge' has the wrong type.",
        "Ignored the unknown setting surprise.",
    ]


def test_a_file_without_a_newer_field_reads_it_as_its_default() -> None:
    data = to_dict(Settings(local=LocalOptions(model="small")))
    del data["local"]["unload_after_min"]  # a file saved before the field existed
    settings, problems = from_dict(data)
    assert problems == []
    assert settings.local == LocalOptions(model="small", unload_after_min=5.0)


def test_migration_from_a_versionless_file_takes_keys_out() -> None:
    settings, problems = from_dict({"provider": "fireworks", "fireworks_api_key": "sk-1"})
    assert settings.provider == "fireworks"
    assert "sk-1" not in json.dumps(to_dict(settings))
    assert problems
    assert "API keys belong in the keyring" in problems[0]


def test_migrations_run_in_order_from_the_file_version() -> None:
    seen: list[int] = []

    def step(n: int) -> Any:
        def run(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
            seen.append(n)
            return {**data, f"step{n}": True}

        return run

    problems: list[str] = []
    out = migrate({"version": 0}, problems, {0: step(0)})
    assert seen == [0]
    assert out == {"step0": True}
    newer = migrate({"version": SCHEMA_VERSION + 5}, problems, {})
    assert newer == {}
    assert "from a newer Hark" in problems[-1]


def test_store_first_run_save_and_reload(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "cfg" / "settings.json")
    first = store.load()
    assert first.first_run
    assert first.settings == Settings()
    store.save(Settings(provider="fireworks"))
    again = store.load()
    assert not again.first_run
    assert again.settings.provider == "fireworks"
    assert list((tmp_path / "cfg").iterdir()) == [store.path]  # no temp files left behind


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe\x00garbage"])
def test_store_keeps_a_corrupt_file_as_backup(tmp_path: Path, content: bytes) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    store.path.write_bytes(content)
    result = store.load()
    assert result.settings == Settings()
    assert result.backup is not None
    assert result.backup.read_bytes() == content
    assert len(result.problems) == 1
    assert "using the defaults" in result.problems[0]
    assert str(result.backup) in result.problems[0]
    assert not store.path.exists()


def test_store_rewrites_a_repaired_file(tmp_path: Path) -> None:
    store = SettingsStore(tmp_path / "settings.json")
    data = to_dict(Settings())
    data["overlay"]["opacity"] = 9
    store.path.write_text(json.dumps(data))
    assert store.load().problems
    assert store.load().problems == []  # the reset value was written back


def test_ui_state_is_separate_and_forgiving(tmp_path: Path) -> None:
    state = UiStateStore(tmp_path / "ui-state.json")
    state.set("overlay_offsets", {"HDMI-1": 40})
    assert UiStateStore(state.path).get("overlay_offsets") == {"HDMI-1": 40}
    state.path.write_text("garbage")
    assert UiStateStore(state.path).get("overlay_offsets", {}) == {}


@pytest.mark.parametrize(
    ("change", "rebuild"),
    [
        ({"provider": "fireworks"}, True),
        ({"microphone": "USB Mic"}, True),
        ({"keep_microphone_open": True}, True),
        ({"insertion": "type"}, False),
        ({"history_days": 7}, False),
        ({"hotkey": HotkeySettings(hotkey="ctrl+shift+d", mode="toggle")}, False),
        ({"overlay": OverlaySettings(font_size=30.0)}, False),
        ({"local": LocalOptions(unload_after_min=0.0)}, False),  # read per use
    ],
)
def test_which_changes_need_a_new_dictation(change: dict[str, Any], rebuild: bool) -> None:
    old = Settings()
    assert needs_new_dictation(old, old.replace(**change)) is rebuild
    assert not needs_new_dictation(old, old)


def test_the_local_engine_gets_longer_to_answer_a_flush() -> None:
    assert flush_timeout_s("local") == 60.0
    for provider in ("baseten", "together", "fireworks"):
        assert flush_timeout_s(provider) == 5.0
