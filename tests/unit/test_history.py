"""The SQLite transcript history: durable at once, prunable, and self-healing."""

from __future__ import annotations

import logging
import sqlite3
import stat
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.adapters.history import HistoryEntry, SqliteHistory


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


def test_add_mark_get_recent(db: Path, clock: Clock) -> None:
    history = SqliteHistory(db, clock=clock)
    first = history.add("Hello world.", provider="fireworks")
    clock.now += timedelta(seconds=5)
    second = history.add("Second one.", provider="baseten")
    history.mark(first, "inserted")
    history.mark(999, "inserted")  # unknown: ignored
    assert second > first
    assert history.recent() == ["Second one.", "Hello world."]
    assert history.recent(1) == ["Second one."]
    assert history.get(first) == HistoryEntry(
        first, datetime(2025, 3, 1, 12, 0, tzinfo=UTC), "fireworks", "Hello world.", "inserted"
    )
    entry = history.get(second)
    assert entry is not None
    assert entry.outcome is None  # never delivered (yet)
    assert entry.created_at == datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC)
    assert history.get(12345) is None
    assert history.persistent


def test_created_at_is_utc_text(db: Path) -> None:
    paris = timezone(timedelta(hours=1))
    history = SqliteHistory(db, clock=lambda: datetime(2025, 3, 1, 13, 0, tzinfo=paris))
    history.add("x", provider="together")
    history.close()
    with sqlite3.connect(db) as conn:
        (created,) = conn.execute("SELECT created_at FROM entries").fetchone()
    assert created == "2025-03-01T12:00:00.000000+00:00"


def test_the_text_is_on_disk_as_soon_as_add_returns(db: Path) -> None:
    history = SqliteHistory(db)
    entry_id = history.add("Survive a crash.", provider="fireworks")
    # Another connection (another process, after a crash) sees it without any close or commit.
    other = sqlite3.connect(db)
    try:
        row = other.execute("SELECT text, provider FROM entries WHERE id = ?", (entry_id,))
        assert row.fetchone() == ("Survive a crash.", "fireworks")
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        other.close()
    synchronous = history._conn.execute("PRAGMA synchronous").fetchone()[0]
    assert synchronous == 2  # FULL: an fsync per commit


def test_persists_across_instances(db: Path) -> None:
    first = SqliteHistory(db)
    entry_id = first.add("Kept.", provider="baseten")
    first.close()
    again = SqliteHistory(db)
    again.mark(entry_id, "clipboard")
    assert again.recent() == ["Kept."]
    entry = again.get(entry_id)
    assert entry is not None
    assert entry.outcome == "clipboard"
    assert again.add("Next.", provider="baseten") == entry_id + 1


def test_closed_history_reopens(db: Path) -> None:
    history = SqliteHistory(db)
    history.add("a", provider="p")
    history.close()
    history.close()
    assert history.recent() == ["a"]


def test_prune_deletes_only_older_entries(db: Path, clock: Clock) -> None:
    history = SqliteHistory(db, clock=clock)
    old = history.add("Old.", provider="p")
    clock.now += timedelta(days=20)
    history.add("Newer.", provider="p")
    clock.now += timedelta(days=15)  # "Old." is 35 days old, "Newer." 15
    assert history.prune(0) == 0  # 0: keep forever
    assert history.recent() == ["Newer.", "Old."]
    assert history.prune(30) == 1
    assert history.recent() == ["Newer."]
    assert history.get(old) is None
    assert history.prune(30) == 0
    # Ids are never reused after pruning (AUTOINCREMENT).
    assert history.add("Latest.", provider="p") > old + 1
    with pytest.raises(ValueError, match="negative"):
        history.prune(-1)


def test_pruned_text_is_gone_from_the_file(db: Path, clock: Clock) -> None:
    history = SqliteHistory(db, clock=clock)
    history.add("secret-words-" * 20, provider="p")
    clock.now += timedelta(days=2)
    assert history.prune(1) == 1
    history.close()
    raw = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.is_file())
    assert b"secret-words-" not in raw


def test_a_corrupt_file_is_moved_aside_and_replaced(
    db: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    db.parent.mkdir(parents=True)
    junk = b"this is not a database at all\n" * 200
    db.write_bytes(junk)
    with caplog.at_level(logging.WARNING, logger="app.adapters.history"):
        history = SqliteHistory(db, clock=clock)
    assert history.persistent
    backup = db.with_name("history.sqlite3.corrupt-20250301T120000Z")
    assert history.backups == [backup]
    assert backup.read_bytes() == junk  # kept, untouched
    assert "damaged" in caplog.text
    assert str(backup) in caplog.text
    entry_id = history.add("Fresh start.", provider="p")
    assert history.get(entry_id) is not None
    assert SqliteHistory(db).recent() == ["Fresh start."]


def test_damage_found_on_reopening_is_recovered(db: Path, clock: Clock) -> None:
    history = SqliteHistory(db, clock=clock)
    history.add("before", provider="p")
    history.close()
    data = bytearray(db.read_bytes())
    data[:16] = b"garbage header!!"  # breaks the SQLite header
    db.write_bytes(bytes(data))
    # The file went bad while closed; the next call reopens it, finds it damaged, starts anew.
    entry_id = history.add("after", provider="p")
    assert history.recent() == ["after"]
    assert history.get(entry_id) is not None
    assert len(history.backups) == 1
    assert history.backups[0].exists()


def test_damage_found_by_a_statement_is_recovered_and_the_text_still_saved(
    db: Path, clock: Clock
) -> None:
    history = SqliteHistory(db, clock=clock)
    history.add("before", provider="p")
    history._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
    db.write_bytes(b"garbage" * 1000)
    # A connection without cached pages, as after the file was damaged underneath it.
    history._conn.close()
    history._conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    entry_id = history.add("saved anyway", provider="p")
    assert history.get(entry_id) is not None
    assert history.recent() == ["saved anyway"]
    assert len(history.backups) == 1
    assert history.backups[0].read_bytes() == b"garbage" * 1000


def test_two_corruptions_in_the_same_second_keep_both_backups(db: Path, clock: Clock) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"junk one" * 100)
    SqliteHistory(db, clock=clock).close()
    db.write_bytes(b"junk two" * 100)
    second = SqliteHistory(db, clock=clock)
    assert second.backups[0].name == "history.sqlite3.corrupt-20250301T120000Z-2"
    assert second.backups[0].read_bytes() == b"junk two" * 100
    assert db.with_name("history.sqlite3.corrupt-20250301T120000Z").exists()


def test_an_unusable_location_falls_back_to_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.ERROR, logger="app.adapters.history"):
        history = SqliteHistory(blocker / "history.sqlite3")
    assert not history.persistent
    assert "in memory only" in caplog.text
    entry_id = history.add("Still works.", provider="p")
    history.mark(entry_id, "inserted")
    assert history.recent() == ["Still works."]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_the_file_is_private(db: Path) -> None:
    SqliteHistory(db).add("private", provider="p")
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
