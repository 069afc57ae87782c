"""The migration's memory: what was done to which source item, kept in an embedded SQLite database.

Only the executor writes here.  Per planned operation (keyed by its source
key, never a Graph id) the store keeps its status, the Graph id it got, the
content hash and sequence it was made from, the attempts and the last error;
per logical container (``mailbox:…/folder:Inbox``) the Graph id it resolved
to; and one row per run.  The status machine::

    pending ──begin──▶ started ──done──▶ done
                          │  └──failed──▶ failed ──begin──▶ started (retry)
                          └──(crash)──▶ started: looked up by source key before anything is re-sent

:class:`StateStore` is the interface the pipeline uses, so that a PostgreSQL
backend serving several workers can be added without touching it;
:class:`SqliteStateStore` is the embedded one (WAL, one writer: a second
process on the same file is refused rather than allowed to interleave).
Secrets never reach the store: upload-session URLs carry a pre-authentication
token, so sessions are recorded without their URL (a crashed upload restarts).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from .errors import StateError

ItemStatus = Literal["pending", "started", "done", "failed", "skipped"]
STATUSES: tuple[ItemStatus, ...] = ("pending", "started", "done", "failed", "skipped")
SCHEMA_VERSION = 2  # 2: items.target_url, links

# The status check is written with OR, not ``status IN (...)``: SQLite 3.40 builds a small table for the IN list
# each time a row is checked, which made every begin and done cost 70 % more (stores made before are rebuilt
# with this definition when opened for writing: :meth:`SqliteStateStore._upgrade_items`).
ITEMS_TABLE = """CREATE TABLE {name} (
    key TEXT PRIMARY KEY,
    op TEXT NOT NULL,
    container TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status = 'pending' OR status = 'started' OR status = 'done' OR status = 'failed'
                                OR status = 'skipped'),
    target_id TEXT,
    content_hash TEXT,
    sequence INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    permanent INTEGER NOT NULL DEFAULT 0,
    run_id TEXT,
    updated TEXT NOT NULL,
    target_url TEXT
)"""
ITEM_COLUMNS = ("key, op, container, status, target_id, content_hash, sequence, attempts, last_error, permanent, "
                "run_id, updated, target_url")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
""" + ITEMS_TABLE.format(name="IF NOT EXISTS items") + """;
CREATE TABLE IF NOT EXISTS containers (container TEXT PRIMARY KEY, graph_id TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS upload_sessions (
    key TEXT PRIMARY KEY, size INTEGER NOT NULL, sent INTEGER NOT NULL, expires TEXT, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started TEXT NOT NULL, finished TEXT, outcome TEXT, counts TEXT);
CREATE TABLE IF NOT EXISTS links (
    source_key TEXT NOT NULL, target_key TEXT NOT NULL, place TEXT NOT NULL, resolved INTEGER NOT NULL DEFAULT 0,
    updated TEXT NOT NULL, PRIMARY KEY (source_key, target_key));
CREATE INDEX IF NOT EXISTS links_target ON links (target_key, resolved);
"""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class ItemState:
    key: str
    op: str
    container: str
    status: ItemStatus
    target_id: str | None = None
    content_hash: str | None = None
    sequence: int | None = None
    attempts: int = 0
    last_error: str | None = None
    permanent: bool = False
    run_id: str | None = None
    updated: str = ""


class StateStore(Protocol):
    """What the executor needs from a state backend."""

    def start_run(self) -> str: ...
    def finish_run(self, run_id: str, outcome: str) -> None: ...
    def run_finished(self, run_id: str) -> bool: ...
    def get(self, key: str) -> ItemState | None: ...
    def get_many(self, keys: list[str]) -> dict[str, ItemState]: ...
    def begin(self, key: str, op: str, container: str, content_hash: str | None, sequence: int | None,
              run_id: str) -> ItemState: ...
    def done(self, key: str, target_id: str | None, target_url: str | None = None) -> None: ...
    def target_url(self, key: str) -> str | None: ...
    def add_link(self, source_key: str, target_key: str, place: str) -> None: ...
    def open_links(self) -> list[tuple[str, str, str]]: ...
    def pending_links(self) -> list[tuple[str, str]]: ...
    def link_resolved(self, source_key: str, target_key: str) -> None: ...
    def begin_many(self, rows: list[tuple[str, str, str, str | None, int | None]], run_id: str) -> None: ...
    def done_many(self, rows: list[tuple[str, str | None, str | None]]) -> None: ...
    def failed(self, key: str, error: str, permanent: bool) -> None: ...
    def skipped(self, key: str, reason: str) -> None: ...
    def items(self, status: ItemStatus | None = None) -> list[ItemState]: ...
    def counts(self) -> dict[str, int]: ...
    def container_id(self, container: str) -> str | None: ...
    def set_container_id(self, container: str, graph_id: str) -> None: ...
    def close(self) -> None: ...


class SqliteStateStore:
    """The embedded state store: one SQLite file (WAL) and a lock file beside it."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._lock_file = None
        if read_only:  # status and failures read while a migration runs: no lock, no writes
            if not self.path.is_file():
                raise StateError(f"{self.path}: no state store here (nothing migrated yet?)")
            try:
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                                           check_same_thread=False)
                self._check_version()
            except sqlite3.DatabaseError as exc:
                raise StateError(f"{self.path}: not a notes2m365 state store ({exc})")
            self._mutex = threading.Lock()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"{self.path}: cannot create its folder: {exc.strerror or exc}")
        self._lock_file = self._acquire_lock()
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # a process crash loses nothing committed
            self._refuse_newer()  # before anything in the file changes
            self._db.executescript(SCHEMA)
            self._check_version()
            self._upgrade_items()
        except sqlite3.DatabaseError as exc:
            self._release_lock()
            raise StateError(f"{self.path}: not a notes2m365 state store ({exc})")
        except BaseException:
            self._db.close()
            self._release_lock()
            raise
        self._mutex = threading.Lock()

    # -- the single-writer lock ----------------------------------------------------------------------
    def _acquire_lock(self) -> IO[str]:
        lock_path = self.path.with_name(self.path.name + ".lock")
        handle = open(lock_path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise StateError(f"{self.path}: in use by {holder}; one migration per state store at a time")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        return handle

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None  # type: ignore[assignment]

    def _upgrade_items(self) -> None:
        """Stores made by earlier versions: the items table rebuilt with today's definition (the status check
        as ORs, ``target_url``), in one transaction; and no index on ``status``: it cost every begin and done an
        index update, about 12 % of the store's CPU per item (status and failures scan the table instead)."""
        self._db.execute("DROP INDEX IF EXISTS items_status")
        row = self._db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'items'").fetchone()
        if row is None or "status IN (" not in row[0]:
            return
        known = [c.strip() for c in ITEM_COLUMNS.split(",")]
        columns = [r[1] for r in self._db.execute("PRAGMA table_info(items)")]
        if not set(columns) <= set(known):  # a column we do not know: keep the table as it is (slower, intact)
            return
        copied = ", ".join(c for c in known if c in columns)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(ITEMS_TABLE.format(name="items_upgraded"))
            self._db.execute(f"INSERT INTO items_upgraded ({copied}) SELECT {copied} FROM items")
            self._db.execute("DROP TABLE items")
            self._db.execute("ALTER TABLE items_upgraded RENAME TO items")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _refuse_newer(self) -> None:
        if self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise StateError(f"{self.path}: written by a newer notes2m365 (schema {row[0]}, this one reads "
                                 f"{SCHEMA_VERSION})")

    def _check_version(self) -> None:
        self._refuse_newer()
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None and self.read_only:
            raise StateError(f"{self.path}: not a notes2m365 state store (no schema version)")
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(items)")}
        if "target_url" not in columns and not self.read_only:  # schema 1 -> 2, in place
            self._db.execute("ALTER TABLE items ADD COLUMN target_url TEXT")
        if row is None:
            self._db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) < SCHEMA_VERSION and not self.read_only:
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        if getattr(self, "_db", None) is not None:
            self._db.close()
            self._db = None  # type: ignore[assignment]
        self._release_lock()

    def __enter__(self) -> SqliteStateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        if self.read_only:
            raise StateError(f"{self.path}: opened read-only")
        with self._mutex:
            return self._db.execute(sql, params).rowcount

    # -- runs ---------------------------------------------------------------------------------------------
    def start_run(self) -> str:
        """A new run id (a sortable UTC timestamp; never part of an item key)."""
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        self._write("INSERT INTO runs (run_id, started) VALUES (?, ?)", (run_id, _now()))
        return run_id

    def finish_run(self, run_id: str, outcome: str) -> None:
        self._write("UPDATE runs SET finished = ?, outcome = ?, counts = ? WHERE run_id = ?",
                    (_now(), outcome, json.dumps(self.counts(), sort_keys=True), run_id))

    def run_finished(self, run_id: str) -> bool:
        """Whether a run ended on its own (its requests all answered), as opposed to a crash or a kill."""
        row = self._db.execute("SELECT finished, outcome FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return bool(row and row[0] and row[1] != "crashed")  # "crashed": cancelled with requests in flight

    def runs(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT run_id, started, finished, outcome, counts FROM runs ORDER BY run_id")
        return [{"run_id": r[0], "started": r[1], "finished": r[2], "outcome": r[3],
                 "counts": json.loads(r[4]) if r[4] else None} for r in rows]

    # -- items --------------------------------------------------------------------------------------------
    _COLUMNS = ("key, op, container, status, target_id, content_hash, sequence, attempts, last_error, permanent, "
                "run_id, updated")

    def _row(self, row: tuple[Any, ...]) -> ItemState:
        return ItemState(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], bool(row[9]),
                         row[10], row[11])

    def get(self, key: str) -> ItemState | None:
        row = self._db.execute(f"SELECT {self._COLUMNS} FROM items WHERE key = ?", (key,)).fetchone()
        return self._row(row) if row else None

    _MANY_CHUNK = 500  # keys per query: under SQLite's 999 bound variables of older builds

    def get_many(self, keys: list[str]) -> dict[str, ItemState]:
        """:meth:`get` for several keys in a few queries (a third of the CPU of one query each); keys that
        have no state are left out."""
        out: dict[str, ItemState] = {}
        for start in range(0, len(keys), self._MANY_CHUNK):
            chunk = keys[start:start + self._MANY_CHUNK]
            sql = f"SELECT {self._COLUMNS} FROM items WHERE key IN ({','.join('?' * len(chunk))})"
            for row in self._db.execute(sql, chunk):
                out[row[0]] = self._row(row)
        return out

    def begin(self, key: str, op: str, container: str, content_hash: str | None, sequence: int | None,
              run_id: str) -> ItemState:
        """Mark ``key`` started (before its request is sent); the state before this call is returned.

        A ``started`` state found here means an earlier attempt may have reached Graph: the caller must
        look the item up by its source key before sending anything."""
        previous = self.get(key)
        with self._mutex:
            self._db.execute(self._BEGIN, (key, op, container, content_hash, sequence, run_id, _now()))
        return previous or ItemState(key, op, container, "pending")

    def done(self, key: str, target_id: str | None, target_url: str | None = None) -> None:
        """Graph confirmed the item (created, or found again by its source key); ``target_url`` is where
        people open it (list items and files: links to it are rewritten to this)."""
        if not self._write(self._DONE_URL, (target_id, target_url, _now(), key)):
            raise StateError(f"{key}: done without begin")

    def target_url(self, key: str) -> str | None:
        """The URL of a migrated document (done, in this or an earlier run or wave sharing this store): its
        item, or for a document that became files (a document library) its body page or first file."""
        row = self._db.execute(
            "SELECT target_url FROM items WHERE key IN (?, ?, ?) AND status = 'done' AND target_url IS NOT NULL "
            "ORDER BY CASE key WHEN ? THEN 0 WHEN ? THEN 1 ELSE 2 END LIMIT 1",
            (key, key + "#body", key + "#att/1", key, key + "#body")).fetchone()
        return row[0] if row and row[0] else None

    # -- links between items (Notes doclinks) -----------------------------------------------------------
    def add_link(self, source_key: str, target_key: str, place: str) -> None:
        """``source_key``'s content links to ``target_key``, not migrated yet; ``place`` says where the link is
        (JSON: site, list, item, field) so a later run or wave can rewrite it."""
        self._write("INSERT INTO links (source_key, target_key, place, resolved, updated) VALUES (?, ?, ?, 0, ?) "
                    "ON CONFLICT(source_key, target_key) DO UPDATE SET place = excluded.place, resolved = 0, "
                    "updated = excluded.updated", (source_key, target_key, place, _now()))

    def open_links(self) -> list[tuple[str, str, str]]:
        """(source, target, place) of links not rewritten yet whose target is now migrated."""
        rows = self._db.execute(
            "SELECT DISTINCT l.source_key, l.target_key, l.place FROM links l JOIN items i "
            "ON i.key IN (l.target_key, l.target_key || '#body', l.target_key || '#att/1') "
            "WHERE l.resolved = 0 AND i.status = 'done' AND i.target_url IS NOT NULL ORDER BY l.source_key")
        return [(r[0], r[1], r[2]) for r in rows]

    def pending_links(self) -> list[tuple[str, str]]:
        """(source, target) of links whose target is not migrated (yet), or has no URL to point at."""
        rows = self._db.execute(
            "SELECT l.source_key, l.target_key FROM links l WHERE l.resolved = 0 AND NOT EXISTS ("
            "SELECT 1 FROM items i WHERE i.key IN (l.target_key, l.target_key || '#body', l.target_key || '#att/1') "
            "AND i.status = 'done' AND i.target_url IS NOT NULL) ORDER BY l.source_key, l.target_key")
        return [(r[0], r[1]) for r in rows]

    def link_resolved(self, source_key: str, target_key: str) -> None:
        self._write("UPDATE links SET resolved = 1, updated = ? WHERE source_key = ? AND target_key = ?",
                    (_now(), source_key, target_key))

    _BEGIN = ("INSERT INTO items (key, op, container, status, content_hash, sequence, attempts, run_id, updated) "
              "VALUES (?, ?, ?, 'started', ?, ?, 1, ?, ?) ON CONFLICT(key) DO UPDATE SET status = 'started', "
              "op = excluded.op, container = excluded.container, content_hash = excluded.content_hash, "
              "sequence = excluded.sequence, attempts = items.attempts + 1, run_id = excluded.run_id, "
              "updated = excluded.updated")
    _DONE = ("UPDATE items SET status = 'done', target_id = ?, last_error = NULL, permanent = 0, updated = ? "
             "WHERE key = ?")
    _DONE_URL = ("UPDATE items SET status = 'done', target_id = ?, target_url = ?, last_error = NULL, permanent = 0, "
                 "updated = ? WHERE key = ?")

    def _many(self, sql: str, params: list[tuple[Any, ...]]) -> int:
        """One statement for many rows in one transaction (one commit instead of one per row)."""
        if self.read_only:
            raise StateError(f"{self.path}: opened read-only")
        if not params:
            return 0
        with self._mutex:
            self._db.execute("BEGIN")
            try:
                changed = self._db.executemany(sql, params).rowcount
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return changed

    def begin_many(self, rows: list[tuple[str, str, str, str | None, int | None]], run_id: str) -> None:
        """:meth:`begin` for several items (key, op, container, content_hash, sequence) at once, committed
        together before their request (a ``$batch``) is sent; the states before are not returned."""
        now = _now()
        self._many(self._BEGIN, [(*row, run_id, now) for row in rows])

    def done_many(self, rows: list[tuple[str, str | None, str | None]]) -> None:
        """:meth:`done` for several items (key, Graph id, URL) at once, in one transaction."""
        now = _now()
        if self._many(self._DONE_URL, [(target_id, url, now, key) for key, target_id, url in rows]) != len(rows):
            missing = [key for key, _, _ in rows if self.get(key) is None]
            raise StateError(f"{', '.join(missing) or 'an item'}: done without begin")

    def failed(self, key: str, error: str, permanent: bool) -> None:
        if not self._write("UPDATE items SET status = 'failed', last_error = ?, permanent = ?, updated = ? "
                           "WHERE key = ?", (error[:2000], int(permanent), _now(), key)):
            raise StateError(f"{key}: failed without begin")

    def skipped(self, key: str, reason: str) -> None:
        self._write("INSERT INTO items (key, op, container, status, last_error, updated) "
                    "VALUES (?, '', '', 'skipped', ?, ?) ON CONFLICT(key) DO UPDATE SET status = 'skipped', "
                    "last_error = excluded.last_error, updated = excluded.updated", (key, reason[:2000], _now()))

    def items(self, status: ItemStatus | None = None) -> list[ItemState]:
        if status is not None and status not in STATUSES:
            raise ValueError(status)
        sql = f"SELECT {self._COLUMNS} FROM items" + (" WHERE status = ?" if status else "") + " ORDER BY key"
        return [self._row(r) for r in self._db.execute(sql, (status,) if status else ())]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for status, n in self._db.execute("SELECT status, COUNT(*) FROM items GROUP BY status"):
            out[status] = n
        return out

    # -- containers and upload sessions -------------------------------------------------------------------
    def container_id(self, container: str) -> str | None:
        row = self._db.execute("SELECT graph_id FROM containers WHERE container = ?", (container,)).fetchone()
        return row[0] if row else None

    def set_container_id(self, container: str, graph_id: str) -> None:
        self._write("INSERT INTO containers (container, graph_id, updated) VALUES (?, ?, ?) "
                    "ON CONFLICT(container) DO UPDATE SET graph_id = excluded.graph_id, updated = excluded.updated",
                    (container, graph_id, _now()))

    def upload_progress(self, key: str, size: int, sent: int, expires: str | None) -> None:
        """Record how far an upload got (without its URL: the URL is a credential)."""
        self._write("INSERT INTO upload_sessions (key, size, sent, expires, updated) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET size = excluded.size, sent = excluded.sent, "
                    "expires = excluded.expires, updated = excluded.updated", (key, size, sent, expires, _now()))

    def upload_finished(self, key: str) -> None:
        self._write("DELETE FROM upload_sessions WHERE key = ?", (key,))

    def open_uploads(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT key, size, sent, expires FROM upload_sessions ORDER BY key")
        return [{"key": r[0], "size": r[1], "sent": r[2], "expires": r[3]} for r in rows]


def open_state(path: str | Path, read_only: bool = False) -> SqliteStateStore:
    """The state store of a job (``[job] state``); ``read_only`` for reports while a run holds it."""
    return SqliteStateStore(path, read_only=read_only)
