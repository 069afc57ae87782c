"""The emulator's embedded store: SQLite, on disk under ``--data`` or in memory.

Every Graph resource is one row of ``objects``: its kind (``message``,
``mailFolder``, ``listItem``...), its id, the id of its container
(``parent``), the mailbox or site it belongs to (``owner``) and its JSON.
Keys starting with ``_`` inside the JSON are the emulator's own bookkeeping
(extended properties, draft flag, blob ids) and never reach a client.
File contents live in ``blobs``; upload-session chunks in ``chunks`` until the
upload completes.  A request runs inside one transaction (:meth:`Store.transaction`),
so a rejected request leaves nothing behind.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    parent TEXT,
    owner TEXT,
    data TEXT NOT NULL,
    UNIQUE (kind, id)
);
CREATE INDEX IF NOT EXISTS objects_parent ON objects (kind, parent);
CREATE INDEX IF NOT EXISTS objects_owner ON objects (kind, owner);
CREATE INDEX IF NOT EXISTS objects_isread ON objects (kind, parent, json_extract(data, '$.isRead'));
CREATE INDEX IF NOT EXISTS objects_ishidden ON objects (kind, parent, json_extract(data, '$.isHidden'));
CREATE TABLE IF NOT EXISTS blobs (id TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (session TEXT NOT NULL, start INTEGER NOT NULL, data BLOB NOT NULL,
                                   PRIMARY KEY (session, start));
CREATE TABLE IF NOT EXISTS extindex (kind TEXT NOT NULL, prop TEXT NOT NULL, value TEXT NOT NULL, id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS extindex_lookup ON extindex (kind, prop, value);
CREATE INDEX IF NOT EXISTS extindex_id ON extindex (kind, id);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

Obj = dict[str, Any]
COUNTABLE = ("$.isRead", "$.isHidden")  # JSON paths with an expression index (folder counts)


def _ext_rows(kind: str, obj: Obj) -> list[tuple[str, str, str, str]]:
    """Index rows of an object's single-value extended properties (normalized id, case-folded value)."""
    from .odata import normalize_ext_id

    return [(kind, normalize_ext_id(k), str(v).lower(), obj["id"]) for k, v in (obj.get("_ext") or {}).items()]


class Store:
    """Resources, blobs and counters of one emulated tenant."""

    def __init__(self, data_dir: str | None = None) -> None:
        if data_dir:
            Path(data_dir).mkdir(parents=True, exist_ok=True)
            target = str(Path(data_dir) / "graph.sqlite")
        else:
            target = ":memory:"
        self.path = target
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        if data_dir:
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._depth = 0

    def close(self) -> None:
        self._db.close()

    # -- transactions ---------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together, or not at all when an exception leaves."""
        with self._lock:
            outer = self._depth == 0
            name = f"sp{self._depth}"
            self._db.execute("BEGIN" if outer else f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                self._db.execute("ROLLBACK" if outer else f"ROLLBACK TO {name}")
                if not outer:
                    self._db.execute(f"RELEASE {name}")
                raise
            self._depth -= 1
            self._db.execute("COMMIT" if outer else f"RELEASE {name}")

    # -- objects ----------------------------------------------------------------------
    def insert(self, kind: str, obj: Obj, parent: str | None = None, owner: str | None = None) -> Obj:
        with self._lock:
            self._db.execute("INSERT INTO objects (kind, id, parent, owner, data) VALUES (?, ?, ?, ?, ?)",
                             (kind, obj["id"], parent, owner, json.dumps(obj)))
            self._reindex(kind, obj)
        return obj

    def _reindex(self, kind: str, obj: Obj) -> None:
        self._db.execute("DELETE FROM extindex WHERE kind = ? AND id = ?", (kind, obj["id"]))
        rows = _ext_rows(kind, obj)
        if rows:
            self._db.executemany("INSERT INTO extindex (kind, prop, value, id) VALUES (?, ?, ?, ?)", rows)

    def ext_lookup(self, kind: str, prop: str, value: str) -> list[str]:
        """Ids of ``kind`` objects whose extended property ``prop`` (normalized id) equals ``value`` (any case)."""
        with self._lock:
            rows = self._db.execute("SELECT id FROM extindex WHERE kind = ? AND prop = ? AND value = ?",
                                    (kind, prop, value.lower())).fetchall()
        return [r[0] for r in rows]

    def get(self, kind: str, obj_id: str) -> Obj | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM objects WHERE kind = ? AND id = ?", (kind, obj_id)).fetchone()
        return json.loads(row[0]) if row else None

    def locate(self, kind: str, obj_id: str) -> tuple[Obj, str | None, str | None] | None:
        """The object with its parent and owner ids."""
        with self._lock:
            row = self._db.execute("SELECT data, parent, owner FROM objects WHERE kind = ? AND id = ?",
                                   (kind, obj_id)).fetchone()
        return (json.loads(row[0]), row[1], row[2]) if row else None

    def put(self, kind: str, obj: Obj) -> Obj:
        """Replace the JSON of an existing object."""
        with self._lock:
            self._db.execute("UPDATE objects SET data = ? WHERE kind = ? AND id = ?", (json.dumps(obj), kind, obj["id"]))
            self._reindex(kind, obj)
        return obj

    def move(self, kind: str, obj_id: str, parent: str) -> None:
        with self._lock:
            self._db.execute("UPDATE objects SET parent = ? WHERE kind = ? AND id = ?", (parent, kind, obj_id))

    def delete(self, kind: str, obj_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, obj_id))
            self._db.execute("DELETE FROM extindex WHERE kind = ? AND id = ?", (kind, obj_id))

    def children(self, kind: str, parent: str) -> list[Obj]:
        """Objects of ``kind`` in container ``parent``, in creation order."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM objects WHERE kind = ? AND parent = ? ORDER BY seq",
                                    (kind, parent)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def owned(self, kind: str, owner: str) -> list[Obj]:
        """Objects of ``kind`` belonging to mailbox or site ``owner``, in creation order."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM objects WHERE kind = ? AND owner = ? ORDER BY seq",
                                    (kind, owner)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def count_where(self, kind: str, parent: str, path: str, value: object) -> int:
        """How many ``kind`` objects in ``parent`` have ``value`` at JSON ``path`` (e.g. ``$.isRead``)."""
        if path not in COUNTABLE:  # the path is part of the SQL so that the expression index is used
            raise ValueError(f"no index for {path}")
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM objects WHERE kind = ? AND parent = ? "
                                    f"AND json_extract(data, '{path}') = ?", (kind, parent, value)).fetchone()[0]

    def all(self, kind: str) -> list[Obj]:
        with self._lock:
            rows = self._db.execute("SELECT data FROM objects WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def count(self, kind: str, parent: str) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM objects WHERE kind = ? AND parent = ?",
                                    (kind, parent)).fetchone()[0]

    # -- counters and meta ------------------------------------------------------------------
    def next_number(self, name: str) -> int:
        """1, 2, 3... per counter name, persistent (list item ids, generated ids)."""
        with self._lock:
            self._db.execute("INSERT INTO counters (name, value) VALUES (?, 1) "
                             "ON CONFLICT(name) DO UPDATE SET value = value + 1", (name,))
            return self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                             "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    # -- blobs and upload chunks -----------------------------------------------------------
    def put_blob(self, blob_id: str, data: bytes) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO blobs (id, data) VALUES (?, ?)", (blob_id, data))

    def get_blob(self, blob_id: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT data FROM blobs WHERE id = ?", (blob_id,)).fetchone()
        return bytes(row[0]) if row else None

    def delete_blob(self, blob_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM blobs WHERE id = ?", (blob_id,))

    def add_chunk(self, session: str, start: int, data: bytes) -> None:
        with self._lock:
            self._db.execute("INSERT INTO chunks (session, start, data) VALUES (?, ?, ?)", (session, start, data))

    def chunk_ranges(self, session: str) -> list[tuple[int, int]]:
        """(start, length) of every chunk received, in order."""
        with self._lock:
            rows = self._db.execute("SELECT start, length(data) FROM chunks WHERE session = ? ORDER BY start",
                                    (session,)).fetchall()
        return [(r[0], r[1]) for r in rows]

    def take_chunks(self, session: str) -> bytes:
        """The assembled upload; the chunks are removed."""
        with self._lock:
            rows = self._db.execute("SELECT data FROM chunks WHERE session = ? ORDER BY start", (session,)).fetchall()
            self._db.execute("DELETE FROM chunks WHERE session = ?", (session,))
        return b"".join(bytes(r[0]) for r in rows)

    def drop_chunks(self, session: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM chunks WHERE session = ?", (session,))
