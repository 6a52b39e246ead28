"""JsonKeyValues: the one JSON key-value file behind the UI state and the schema memory."""

from __future__ import annotations

import json
from pathlib import Path

from app.adapters.files import JsonKeyValues
from app.adapters.state import FileSchemaMemory


def test_values_round_trip_and_an_unchanged_value_is_not_rewritten(tmp_path: Path) -> None:
    store = JsonKeyValues(tmp_path / "sub" / "kv.json")
    store.set("a", [1, 2])
    assert json.loads(store.path.read_text()) == {"a": [1, 2]}
    store.path.write_text('{"a": [1, 2], "b": 1}')  # a write now would drop "b"
    store.set("a", [1, 2])
    assert JsonKeyValues(store.path).get("b") == 1


def test_a_broken_or_foreign_file_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "kv.json"
    for text in ("garbage", "[1, 2]", "\xff"):
        path.write_text(text)
        assert JsonKeyValues(path).load() == {}
    assert JsonKeyValues(tmp_path / "missing.json").get("x", "default") == "default"


def test_cached_reads_once_uncached_sees_other_writers(tmp_path: Path) -> None:
    path = tmp_path / "kv.json"
    path.write_text('{"k": 1}')
    cached, fresh = JsonKeyValues(path, cached=True), JsonKeyValues(path)
    assert cached.get("k") == fresh.get("k") == 1
    path.write_text('{"k": 2}')
    assert (cached.get("k"), fresh.get("k")) == (1, 2)


def test_schema_memory_keeps_only_strings(tmp_path: Path) -> None:
    memory = FileSchemaMemory(tmp_path / "schemas.json")
    memory.path.write_text('{"wss://a": "legacy", "wss://b": 3}')
    assert memory.get("wss://a") == "legacy"
    assert memory.get("wss://b") is None
    memory.set("wss://c", "current")
    assert FileSchemaMemory(memory.path).get("wss://c") == "current"
