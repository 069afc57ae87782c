"""The state store: status machine, single writer, persistence across a crash, no secrets."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from notes2m365.errors import StateError
from notes2m365.state import SqliteStateStore, open_state


@pytest.fixture
def store(tmp_path):
    with SqliteStateStore(tmp_path / "state.sqlite") as s:
        yield s


def test_status_machine_and_counts(store):
    run = store.start_run()
    first = store.begin("R/A", "create-message", "mailbox:j@x/folder:inbox", "sha256:1", 3, run)
    assert first.status == "pending"
    assert store.get("R/A").status == "started" and store.get("R/A").attempts == 1
    store.done("R/A", "AAMk1")
    store.begin("R/B", "create-event", "mailbox:j@x/calendar", "sha256:2", 1, run)
    store.failed("R/B", "429 ApplicationThrottled", permanent=False)
    store.skipped("R/C", "form Group is skipped")
    assert store.counts() == {"pending": 0, "started": 0, "done": 1, "failed": 1, "skipped": 1}
    retry = store.begin("R/B", "create-event", "mailbox:j@x/calendar", "sha256:2", 1, run)
    assert retry.status == "failed" and store.get("R/B").attempts == 2
    assert [i.key for i in store.items("started")] == ["R/B"]
    store.finish_run(run, "interrupted")
    assert store.runs()[0]["counts"]["started"] == 1


def test_get_many_equals_get_one_by_one(store):
    run = store.start_run()
    keys = [f"R/{n:04d}" for n in range(1200)]  # more than two chunks of one query
    store.begin_many([(k, "create-message", "c", f"sha256:{k}", 1) for k in keys[::3]], run)
    store.done_many([(k, f"id-{k}", None) for k in keys[::6]])
    asked = keys + ["R/absent", keys[0]]
    found = store.get_many(asked)
    assert found == {k: store.get(k) for k in asked if store.get(k) is not None}
    assert len(found) == 400 and found[keys[6]].status == "done" and found[keys[3]].status == "started"
    assert store.get_many([]) == {}


OLD_ITEMS = """CREATE TABLE items (
    key TEXT PRIMARY KEY, op TEXT NOT NULL, container TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'started', 'done', 'failed', 'skipped')),
    target_id TEXT, content_hash TEXT, sequence INTEGER, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    permanent INTEGER NOT NULL DEFAULT 0, run_id TEXT, updated TEXT NOT NULL)"""


@pytest.mark.parametrize("with_url", [False, True])
def test_a_store_made_by_an_earlier_version_is_rebuilt_keeping_every_item(tmp_path, with_url):
    """The items table as schema 1 and 2 wrote it (status checked with IN, an index on status, target_url added
    later or not yet): opened for writing, it is rebuilt with the OR check and no index, every row kept."""
    path = tmp_path / "state.sqlite"
    db = sqlite3.connect(path)
    db.execute(OLD_ITEMS)
    db.execute("CREATE INDEX items_status ON items (status)")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema_version', ?)", ("2" if with_url else "1",))
    if with_url:
        db.execute("ALTER TABLE items ADD COLUMN target_url TEXT")
    db.execute("INSERT INTO items (key, op, container, status, target_id, attempts, updated) "
               "VALUES ('R/A', 'create-message', 'c', 'done', 'AAMk1', 2, 't')")
    if with_url:
        db.execute("UPDATE items SET target_url = 'https://x/1'")
    db.commit()
    db.close()
    with SqliteStateStore(path, read_only=True) as s:  # a reader changes nothing
        assert s.get("R/A").target_id == "AAMk1"
    db = sqlite3.connect(path)
    assert "status IN (" in db.execute("SELECT sql FROM sqlite_master WHERE name = 'items'").fetchone()[0]
    db.close()
    with SqliteStateStore(path) as s:
        got = s.get("R/A")
        assert (got.status, got.target_id, got.attempts) == ("done", "AAMk1", 2)
        assert s.target_url("R/A") == ("https://x/1" if with_url else None)
        assert s.counts()["done"] == 1 and [i.key for i in s.items("done")] == ["R/A"]
        s.begin("R/B", "create-event", "c", None, None, s.start_run())
        with pytest.raises(sqlite3.IntegrityError):  # the status check still holds
            s._db.execute("UPDATE items SET status = 'lost' WHERE key = 'R/B'")
    db = sqlite3.connect(path)
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'items'").fetchone()[0]
    assert "status IN (" not in sql and "status = 'skipped'" in sql
    assert db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'items_status'").fetchall() == []
    db.close()


def test_begin_reports_an_unfinished_earlier_attempt(store):
    run = store.start_run()
    store.begin("R/A", "create-message", "c", None, None, run)
    again = store.begin("R/A", "create-message", "c", None, None, run)
    assert again.status == "started"  # the caller must look the item up by its source key first


def test_done_or_failed_without_begin_is_a_bug(store):
    with pytest.raises(StateError):
        store.done("R/X", "id")
    with pytest.raises(StateError):
        store.failed("R/X", "e", permanent=True)


def test_containers_and_upload_progress_without_urls(store):
    store.set_container_id("mailbox:j@x/folder:Projects", "AAMkF1")
    assert store.container_id("mailbox:j@x/folder:Projects") == "AAMkF1"
    store.upload_progress("R/A#att/1", 9_000_000, 3_932_160, "2026-11-28T20:00:00Z")
    assert store.open_uploads() == [{"key": "R/A#att/1", "size": 9_000_000, "sent": 3_932_160,
                                     "expires": "2026-11-28T20:00:00Z"}]
    store.upload_finished("R/A#att/1")
    assert store.open_uploads() == []


def test_one_writer_at_a_time(tmp_path):
    with SqliteStateStore(tmp_path / "s.sqlite"):
        with pytest.raises(StateError) as info:
            SqliteStateStore(tmp_path / "s.sqlite")
        assert "in use by pid" in str(info.value)
    SqliteStateStore(tmp_path / "s.sqlite").close()  # free again once closed


def test_a_killed_process_leaves_its_started_items(tmp_path):
    path = tmp_path / "s.sqlite"
    code = ("import os, signal; from notes2m365.state import SqliteStateStore; s = SqliteStateStore(%r); "
            "r = s.start_run(); s.begin('R/A', 'create-message', 'c', None, None, r); s.begin('R/B', 'x', 'c', None, "
            "None, r); s.done('R/B', 'id'); os.kill(os.getpid(), signal.SIGKILL)" % str(path))
    assert subprocess.run([sys.executable, "-c", code]).returncode == -9
    with SqliteStateStore(path) as store:  # the lock died with the process
        assert store.get("R/A").status == "started" and store.get("R/B").status == "done"


def test_a_newer_or_foreign_file_is_refused(tmp_path):
    newer = tmp_path / "newer.sqlite"
    SqliteStateStore(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StateError, match="newer notes2m365"):
        SqliteStateStore(newer)
    foreign = tmp_path / "foreign.sqlite"
    foreign.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StateError, match="not a notes2m365 state store"):
        SqliteStateStore(foreign)


def test_a_refused_file_does_not_keep_the_lock(tmp_path):
    newer = tmp_path / "newer.sqlite"
    SqliteStateStore(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    for _ in range(2):  # the second attempt must fail on the version again, not on a leaked lock
        with pytest.raises(StateError, match="newer notes2m365"):
            SqliteStateStore(newer)


def test_read_only_store_reads_while_a_run_holds_the_lock(tmp_path):
    path = tmp_path / "s.sqlite"
    with open_state(path) as writer:
        run = writer.start_run()
        writer.begin("R/U1", "create-message", "mailbox:a@b.example/folder:inbox", "h", 1, run)
        writer.failed("R/U1", "400 ErrorInvalidRecipients: bad", permanent=True)
        with open_state(path, read_only=True) as reader:  # status/failures during a migration
            assert reader.counts()["failed"] == 1
            assert reader.items("failed")[0].last_error.startswith("400 ErrorInvalidRecipients")
            with pytest.raises(StateError, match="read-only"):
                reader.skipped("R/U2", "no")


def test_read_only_store_must_exist(tmp_path):
    with pytest.raises(StateError, match="no state store here"):
        open_state(tmp_path / "missing.sqlite", read_only=True)
    (tmp_path / "other.sqlite").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(StateError, match="not a notes2m365 state store"):
        open_state(tmp_path / "other.sqlite", read_only=True)


def test_links_to_a_document_that_became_files_resolve_to_its_first_file(tmp_path):
    """A document-library document is keyed KEY#att/N or KEY#body; a doclink names KEY."""
    with open_state(tmp_path / "s.sqlite") as store:
        run = store.start_run()
        store.add_link("R/SRC", "R/LIB", '{"field": "Body"}')
        assert store.pending_links() == [("R/SRC", "R/LIB")] and store.open_links() == []
        store.begin("R/LIB#att/1", "upload-file", "site:x/drive:Lib/LIB", None, 1, run)
        store.done("R/LIB#att/1", "01ABC", "https://x/Lib/LIB/a.pdf")
        assert store.target_url("R/LIB") == "https://x/Lib/LIB/a.pdf"
        assert store.open_links() == [("R/SRC", "R/LIB", '{"field": "Body"}')] and store.pending_links() == []
        store.begin("R/LIB#body", "upload-file", "site:x/drive:Lib/LIB", None, 1, run)
        store.done("R/LIB#body", "01ABD", "https://x/Lib/LIB/LIB.html")
        assert store.target_url("R/LIB") == "https://x/Lib/LIB/LIB.html"  # the body page first


def test_a_run_that_ended_on_its_own_is_told_from_a_crashed_one(tmp_path):
    with open_state(tmp_path / "s.sqlite") as store:
        done, cut, killed = store.start_run(), store.start_run(), store.start_run()
        store.finish_run(done, "interrupted")
        store.finish_run(cut, "crashed")  # cancelled (Ctrl-C twice): requests may still land
        assert store.run_finished(done) and not store.run_finished(cut) and not store.run_finished(killed)


def test_a_newer_store_is_refused_before_anything_in_it_changes(tmp_path):
    path = tmp_path / "state.sqlite"
    db = sqlite3.connect(path)
    db.execute(OLD_ITEMS)
    db.execute("ALTER TABLE items ADD COLUMN future TEXT")  # what a later version might add
    db.execute("CREATE INDEX items_status ON items (status)")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    db.execute("INSERT INTO items (key, op, container, status, updated, future) VALUES ('R/A', 'x', 'c', 'done', 't', 'kept')")
    db.commit()
    before = db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()
    db.close()
    with pytest.raises(StateError, match="newer notes2m365"):
        SqliteStateStore(path)
    db = sqlite3.connect(path)
    assert db.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall() == before
    assert db.execute("SELECT future FROM items").fetchall() == [("kept",)]
    db.close()


def test_an_old_items_table_with_a_column_we_do_not_know_is_left_intact(tmp_path):
    path = tmp_path / "state.sqlite"
    db = sqlite3.connect(path)
    db.execute(OLD_ITEMS)
    db.execute("ALTER TABLE items ADD COLUMN target_url TEXT")
    db.execute("ALTER TABLE items ADD COLUMN note TEXT")  # added by hand
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    db.execute("INSERT INTO items (key, op, container, status, updated, note) VALUES ('R/A', 'x', 'c', 'done', 't', 'mine')")
    db.commit()
    db.close()
    with SqliteStateStore(path) as s:
        assert s.get("R/A").status == "done"
    db = sqlite3.connect(path)
    assert db.execute("SELECT note FROM items").fetchall() == [("mine",)]
    assert "status IN (" in db.execute("SELECT sql FROM sqlite_master WHERE name = 'items'").fetchone()[0]
    db.close()
