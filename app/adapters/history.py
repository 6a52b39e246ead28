"""Dictated transcripts in an SQLite database: the engine's ``History`` port.

Every final transcript is saved before it is inserted anywhere, so a crash, a focus
change or a failed paste never costs the words. :meth:`SqliteHistory.add` commits at
once in WAL mode with ``synchronous=FULL``: when it returns, the text is on disk and
survives the app (or the machine) crashing right after.

Threads and the event loop: the app calls these methods on the event loop. Each is
one or two small statements on a local file; ``add`` and ``mark`` wait for one
``fsync`` of the write-ahead log (about a millisecond on an SSD, tens of
milliseconds on a slow disk), which is acceptable for one call per dictation. A lock
makes them safe from other threads too (``asyncio.to_thread``), for callers that want
them off the loop.

Robustness: a database file that is not SQLite or is damaged is moved aside (kept as
``<name>.corrupt-<UTC time>``, with its ``-wal`` file) and a fresh one is created, with
a logged warning. When no file can be used at all, the history lives in memory for
this run (logged as an error) rather than breaking dictation.

Privacy: the file is created readable by the user only, and deleted entries are
overwritten (``secure_delete``), so :meth:`SqliteHistory.prune` really forgets them.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import platformdirs

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_VERSION = 1
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26  # primary result codes (low byte)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    provider TEXT NOT NULL,
    text TEXT NOT NULL,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS entries_created_at ON entries (created_at);
"""


def history_path() -> Path:
    """The default database: ``history.sqlite3`` in the platform's user data directory."""
    return Path(platformdirs.user_data_dir("hark", appauthor=False)) / "history.sqlite3"


@dataclass(frozen=True)
class HistoryEntry:
    """One saved transcript.

    Attributes:
        id: Its id (never reused, also after pruning).
        created_at: When it was saved (UTC).
        provider: The provider that transcribed it (``baseten``, ...).
        text: The transcript.
        outcome: How it was delivered (``inserted``, ``clipboard``, ``failed``), or
            ``None`` when it never was (the app stopped before inserting it).
    """

    id: int
    created_at: datetime
    provider: str
    text: str
    outcome: str | None


class SqliteHistory:
    """The ``History`` port on an SQLite file.

    Args:
        path: The database file; default :func:`history_path`. Its directory is
            created when missing.
        clock: Returns the current time for ``created_at`` and :meth:`prune`
            (default ``datetime.now(UTC)``); aware datetimes are converted to UTC.

    Attributes:
        path: The database file.
        backups: Where damaged databases were moved during this run.
        persistent: False when no file could be used and the history is in memory.
    """

    def __init__(
        self, path: Path | None = None, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.path = path if path is not None else history_path()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self.backups: list[Path] = []
        self.persistent = True
        self._conn = self._open()

    # -- the History port ------------------------------------------------------------

    def add(self, text: str, *, provider: str) -> int:
        """Save ``text`` and commit it to disk before returning; returns its id."""
        created = _timestamp(self._now())

        def insert(conn: sqlite3.Connection) -> int:
            cursor = conn.execute(
                "INSERT INTO entries (created_at, provider, text) VALUES (?, ?, ?)",
                (created, provider, text),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

        return self._run(insert)

    def mark(self, entry_id: int, outcome: str) -> None:
        """Record how entry ``entry_id`` was delivered; an unknown id is ignored."""
        self._run(
            lambda conn: conn.execute(
                "UPDATE entries SET outcome = ? WHERE id = ?", (outcome, entry_id)
            )
        )

    def recent(self, limit: int = 10) -> list[str]:
        """The newest ``limit`` transcripts, newest first."""
        return [entry.text for entry in self.entries(limit)]

    # -- more ------------------------------------------------------------------------

    def entries(self, limit: int = 10) -> list[HistoryEntry]:
        """The newest ``limit`` entries, newest first."""
        rows = self._run(
            lambda conn: conn.execute(
                "SELECT id, created_at, provider, text, outcome FROM entries "
                "ORDER BY id DESC LIMIT ?",
                (max(0, limit),),
            ).fetchall()
        )
        return [_entry(row) for row in rows]

    def get(self, entry_id: int) -> HistoryEntry | None:
        """The entry with this id, or ``None``."""
        row = self._run(
            lambda conn: conn.execute(
                "SELECT id, created_at, provider, text, outcome FROM entries WHERE id = ?",
                (entry_id,),
            ).fetchone()
        )
        return _entry(row) if row is not None else None

    def prune(self, days: int) -> int:
        """Delete entries older than ``days`` days; ``0`` keeps everything.

        Returns:
            How many entries were deleted.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        if days == 0:
            return 0
        cutoff = _timestamp(self._now() - timedelta(days=days))

        def delete(conn: sqlite3.Connection) -> int:
            count = conn.execute("DELETE FROM entries WHERE created_at < ?", (cutoff,)).rowcount
            if count:  # write the zeroed pages back into the file, and empty the log
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return count

        deleted = self._run(delete)
        if deleted:
            log.info("history: forgot %d transcript(s) older than %d days", deleted, days)
        return deleted

    def close(self) -> None:
        """Close the database. Idempotent; later calls reopen it."""
        with self._lock:
            self._conn.close()

    # -- internals ---------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        return now.astimezone(UTC) if now.tzinfo is not None else now.replace(tzinfo=UTC)

    def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``operation``; on a damaged database, start a fresh one and run it again."""
        with self._lock:
            try:
                return operation(self._usable())
            except sqlite3.DatabaseError as exc:
                if not _is_corruption(exc):
                    raise
                log.warning("history database %s is damaged: %s", self.path, exc)
                self._conn.close()
                self._conn = self._recreate()
                return operation(self._conn)

    def _usable(self) -> sqlite3.Connection:
        try:
            self._conn.execute("SELECT 1")
        except sqlite3.ProgrammingError:  # closed by close(): reopen
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        """Open (creating) the database; a damaged file is moved aside first."""
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if not _is_corruption(exc):
                return self._in_memory(exc)
            log.warning("history database %s is damaged: %s", self.path, exc)
            return self._recreate()
        except OSError as exc:
            return self._in_memory(exc)

    def _recreate(self) -> sqlite3.Connection:
        try:
            self._move_aside()
            return self._connect()
        except (OSError, sqlite3.Error) as exc:
            return self._in_memory(exc)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():  # an empty file is an empty database; only we may read it
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(
            self.path, timeout=2.0, isolation_level=None, check_same_thread=False
        )
        try:
            _prepare(conn)
            check = conn.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise sqlite3.DatabaseError(f"database disk image is malformed: {check}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _move_aside(self) -> None:
        stamp = self._now().strftime("%Y%m%dT%H%M%SZ")
        backup = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while backup.exists():
            n += 1
            backup = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        for suffix in ("", "-wal", "-shm"):  # a stale log must not meet the fresh database
            old = Path(f"{self.path}{suffix}")
            if old.exists():
                old.replace(f"{backup}{suffix}")
        self.backups.append(backup)
        log.warning("moved the damaged history to %s and started a new one", backup)

    def _in_memory(self, exc: BaseException) -> sqlite3.Connection:
        log.error(
            "cannot use the history database %s (%s); this run keeps transcripts in memory only",
            self.path,
            exc,
        )
        self.persistent = False
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        _prepare(conn)
        return conn


def _prepare(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA secure_delete=ON")
    conn.executescript(_SCHEMA)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version < SCHEMA_VERSION:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc)
    return "malformed" in text or "not a database" in text


def _timestamp(moment: datetime) -> str:
    """Fixed-width UTC ISO 8601, so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _entry(row: tuple[int, str, str, str, str | None]) -> HistoryEntry:
    return HistoryEntry(row[0], datetime.fromisoformat(row[1]), row[2], row[3], row[4])
