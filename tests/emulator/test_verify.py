"""``notes2m365 verify`` end to end: the samples migrated into the emulator, then changed through Graph calls
the way users and admins change things, and every change named in every output (terminal, CSV, JSON, HTML)."""

from __future__ import annotations

import csv
import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from notes2m365.cli import main
from notes2m365.emulator import BackgroundEmulator, EmulatorConfig
from notes2m365.job import load_job
from notes2m365.migrate import run_migration
from notes2m365.operations import SOURCE_KEY_PROPERTY
from notes2m365.verify import run_verify, sampled

from .conftest import JANE
from .test_migrate import DENTIST, KICKOFF, SENT, WITH_FILES, copy_samples, request_log, writes_since

U = f"/users/{JANE}"
TEAMROOM = "acme.sharepoint.com:/sites/teamroom"
CONTACT = "C1257A8A00208504/8E0BBFDE32C1D1B9C1257E58003440A5"  # John Smith
ITEMS = 31  # 8 messages, 7 events, 4 tasks, 4 contacts; 5 list items, 3 files


def migrated(emulator, tmp_path: Path) -> Path:
    """A private copy of the samples, migrated into the emulator; returns its job file."""
    job_file = copy_samples(tmp_path)
    result = run_migration(load_job(job_file, {"graph_url": emulator.base_url}))
    assert result.summary.outcome == "complete", result.summary
    return job_file


def verify_cli(emulator, job_file: Path, out: Path, *extra: str) -> Any:
    return CliRunner().invoke(main, ["verify", str(job_file), "--graph-url", emulator.base_url, "--out", str(out),
                                     "--no-progress", *extra])


def by_key(graph: httpx.Client, key: str, kind: str = "messages") -> dict[str, Any]:
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{SOURCE_KEY_PROPERTY}' and ep/value eq '{key}')"
    found = graph.get(f"{U}/{kind}", params={"$filter": flt}).json()["value"]
    assert len(found) == 1, found
    return found[0]


def outputs(out: Path) -> tuple[dict[str, Any], list[dict[str, str]], str]:
    report = json.loads((out / "verify.json").read_text(encoding="utf-8"))
    with open(out / "verify.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return report, rows, (out / "verify.html").read_text(encoding="utf-8")


def site_list(graph: httpx.Client, site: str = TEAMROOM, name: str = "TeamRoom") -> tuple[str, str]:
    site_id = graph.get(f"/sites/{site}").json()["id"]
    lists = graph.get(f"/sites/{site_id}/lists").json()["value"]
    return site_id, next(item["id"] for item in lists if item["displayName"] == name)


# -- a clean migration --------------------------------------------------------------------------------------------
def test_clean_migration_verifies_clean(emulator, tmp_path):
    job_file = migrated(emulator, tmp_path)
    before = len(request_log(emulator))
    result = verify_cli(emulator, job_file, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert f"verify: {ITEMS} items: {ITEMS} match" in result.stdout
    assert writes_since(emulator, before) == [], "verify wrote"
    report, rows, page = outputs(tmp_path / "out")
    assert report["ok"] and report["counts"]["match"] == ITEMS and len(rows) == ITEMS
    assert {r["status"] for r in rows} == {"match"}
    # counts per container: source against target, every planned container listed
    assert report["containers"] and all(c["source"] == c["target_found"] for c in report["containers"])
    labels = {(c["target"], c["container"]) for c in report["containers"]}
    assert (JANE, "folder Projects/Alpha") in labels and (JANE, "calendar") in labels
    assert (TEAMROOM, "list TeamRoom") in labels and (TEAMROOM, "library Documents/TeamRoom") in labels
    # links to the migrated items (messages and events have webLinks, list items and files webUrls)
    assert sum(1 for r in rows if r["url"].startswith("http")) >= 8 + 7 + 5 + 3
    assert "<html" in page and KICKOFF in page


# -- every kind of change named in every output ---------------------------------------------------------------
def test_changes_are_named_in_every_output(emulator, graph, tmp_path):
    job_file = migrated(emulator, tmp_path)
    # missing: one message deleted for good, one deleted by a user (it sits in Deleted Items)
    gone = by_key(graph, KICKOFF)
    assert graph.post(f"{U}/messages/{gone['id']}/permanentDelete").status_code == 204
    trashed = by_key(graph, SENT)
    assert graph.delete(f"{U}/messages/{trashed['id']}").status_code == 204
    # differs: an event renamed, a contact edited, a message moved, a list item edited, a file replaced
    event = by_key(graph, DENTIST, "events")
    assert graph.patch(f"{U}/events/{event['id']}", json={"subject": "Changed by someone"}).status_code == 200
    contact = by_key(graph, CONTACT, "contacts")
    assert graph.patch(f"{U}/contacts/{contact['id']}", json={"jobTitle": "Retired"}).status_code == 200
    moved = by_key(graph, WITH_FILES)
    assert graph.post(f"{U}/messages/{moved['id']}/move", json={"destinationId": "archive"}).status_code == 201
    site_id, list_id = site_list(graph)
    items = graph.get(f"/sites/{site_id}/lists/{list_id}/items", params={"$expand": "fields"}).json()["value"]
    edited = items[0]
    assert graph.patch(f"/sites/{site_id}/lists/{list_id}/items/{edited['id']}/fields",
                       json={"Title": "Edited title"}).status_code == 200
    drive = graph.get(f"/sites/{site_id}/drive").json()["id"]
    folders = graph.get(f"/drives/{drive}/root:/TeamRoom:/children").json()["value"]
    files = [f for folder in folders
             for f in graph.get(f"/drives/{drive}/items/{folder['id']}/children").json()["value"]]
    replaced = files[0]
    assert graph.put(f"/drives/{drive}/items/{replaced['id']}/content", content=b"not the original").status_code \
        in (200, 201)
    # extra: a second copy of a contact, and a message carrying a key the source does not have
    copy = {"displayName": "John Smith (copy)",
            "singleValueExtendedProperties": [{"id": SOURCE_KEY_PROPERTY, "value": CONTACT}]}
    assert graph.post(f"{U}/contacts", json=copy).status_code == 201
    stray = {"subject": "Not from Notes", "singleValueExtendedProperties": [
        {"id": SOURCE_KEY_PROPERTY, "value": "C125802500222004/00000000000000000000000000000000"}]}
    assert graph.post(f"{U}/mailFolders/inbox/messages", json=stray).status_code == 201

    out = tmp_path / "out"
    result = verify_cli(emulator, job_file, out, "--per-user", str(tmp_path / "users"))
    assert result.exit_code == 1, result.output
    report, rows, page = outputs(out)
    status = {}
    for row in report["items"]:
        status.setdefault(row["key"], []).append(row)

    def one(key: str, want: str) -> dict[str, Any]:
        hits = [r for r in status[key] if r["status"] == want]
        assert hits, (key, status.get(key))
        return hits[0]
    assert "deleted" not in one(KICKOFF, "missing").get("detail", "")
    assert one(SENT, "missing")["detail"] == "deleted: it is in Deleted Items"
    assert [d["field"] for d in one(DENTIST, "differs")["differences"]] == ["subject"]
    contact_row = one(CONTACT, "differs")
    assert [d["field"] for d in contact_row["differences"]] == ["jobTitle"]
    assert contact_row["differences"][0]["actual"] == "Retired"
    assert one(CONTACT, "extra")["detail"] == "a second copy of this document"
    assert one(WITH_FILES, "differs")["differences"][0]["field"] == "folder"
    assert one("C125802500222004/00000000000000000000000000000000", "extra")["title"] == "Not from Notes"
    assert any(d["field"] == "Title" for r in report["items"] if r["status"] == "differs"
               for d in r.get("differences", []))
    assert any(d["field"].startswith("content[") for r in report["items"] if r["status"] == "differs"
               for d in r.get("differences", []))
    assert report["counts"]["missing"] == 2 and report["counts"]["extra"] == 2 and report["counts"]["differs"] == 5
    # named in the terminal summary, the CSV and the HTML too
    named = [KICKOFF, SENT, DENTIST, CONTACT, WITH_FILES]
    for key in named:
        assert key in result.stdout and key in page
        assert any(r["key"] == key and r["status"] != "match" for r in rows)
    assert "Changed by someone" in result.stdout and "Changed by someone" in page
    # the HTML report as a browser renders it (Debian's chromium): the changes are on the page
    from ..test_verifyreport import _chromium, _run_chromium

    dom = _run_chromium(_chromium(), tmp_path, "--dump-dom", (out / "verify.html").resolve().as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    for key in named:
        assert key in dom.stdout
    shot = _run_chromium(_chromium(), tmp_path, f"--screenshot={tmp_path / 'verify.png'}",
                         (out / "verify.html").resolve().as_uri())
    assert (tmp_path / "verify.png").read_bytes()[:4] == b"\x89PNG", shot.stderr[-2000:]
    # the per-user report of Jane holds her items only
    mine = (tmp_path / "users" / f"{JANE}.html").read_text(encoding="utf-8")
    assert KICKOFF in mine and "C1258A58002BF6E0/" not in mine


# -- sampling ------------------------------------------------------------------------------------------------------
def test_sample_is_deterministic_and_smaller(emulator, tmp_path):
    job_file = migrated(emulator, tmp_path)
    job = load_job(job_file, {"graph_url": emulator.base_url})
    first = run_verify(job, percent=40, seed=7)
    again = run_verify(job, percent=40, seed=7)
    other = run_verify(job, percent=40, seed=8)
    keys = [i.key for i in first.items]
    assert keys == [i.key for i in again.items] and 0 < len(keys) < ITEMS
    assert keys != [i.key for i in other.items]
    assert all(i.status == "match" for i in first.items) and first.ok
    assert all(sampled(k, 40, 7) for k in keys)
    # a document and its files go together
    docs = {k.split("#")[0] for k in keys}
    assert all(sampled(k.split("#")[0], 40, 7) for k in docs)
    assert first.sample_percent == 40 and first.seed == 7 and first.notes


def test_a_missing_list_makes_its_items_missing(emulator, graph, tmp_path):
    job_file = migrated(emulator, tmp_path)
    site_id, list_id = site_list(graph)
    assert graph.delete(f"/sites/{site_id}/lists/{list_id}").status_code == 204
    report = run_verify(load_job(job_file, {"graph_url": emulator.base_url}))
    lost = [i for i in report.items if i.target == TEAMROOM and i.kind == "list item"]
    assert lost and all(i.status == "missing" and "list TeamRoom not found" in i.detail for i in lost)
    assert not report.ok


def test_fatal_graph_error_exits_3(emulator, tmp_path):
    job_file = migrated(emulator, tmp_path)
    emulator.reset(EmulatorConfig(token="secret"))
    result = verify_cli(emulator, job_file, tmp_path / "out")
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output and "error:" in result.output


# -- the "done when", through the real command line ------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_then_verify_then_change(tmp_path):
    job_file = copy_samples(tmp_path)
    # the demo job targets the local emulator's port; a free one here, so nothing else answers there
    text = job_file.read_text(encoding="utf-8")
    job_file.write_text(re.sub(r"127\.0\.0\.1:8765", f"127.0.0.1:{_free_port()}", text), encoding="utf-8")
    run = [sys.executable, "-m", "notes2m365.cli"]
    demo = subprocess.run([*run, "demo", "--job", str(job_file), "--no-progress"], capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    clean = subprocess.run([*run, "verify", str(job_file), "--no-progress"], capture_output=True, text=True,
                           timeout=180, cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"verify: {ITEMS} items: {ITEMS} match" in clean.stdout
    assert "serving the tenant" in clean.stderr and "Traceback" not in clean.stderr
    state = tmp_path / "state"
    with BackgroundEmulator(EmulatorConfig(port=0, data_dir=str(state))) as server, \
            httpx.Client(base_url=server.base_url, headers={"Authorization": "Bearer x"}) as graph:
        gone = by_key(graph, KICKOFF)
        assert graph.post(f"{U}/messages/{gone['id']}/permanentDelete").status_code == 204
        event = by_key(graph, DENTIST, "events")
        assert graph.patch(f"{U}/events/{event['id']}", json={"subject": "Moved to Friday"}).status_code == 200
    changed = subprocess.run([*run, "verify", str(job_file), "--no-progress"], capture_output=True, text=True,
                             timeout=180, cwd=tmp_path)
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert re.search(rf"MISSING .*{re.escape(KICKOFF)}", changed.stdout), changed.stdout
    assert re.search(rf"DIFFERS .*{re.escape(DENTIST)}", changed.stdout), changed.stdout
    assert "Moved to Friday" in changed.stdout
    report = json.loads((state / "verify" / "verify.json").read_text(encoding="utf-8"))
    assert report["counts"]["missing"] == 1 and report["counts"]["differs"] == 1


@pytest.mark.parametrize("flag", ["--json"])
def test_json_on_stdout(emulator, tmp_path, flag):
    job_file = migrated(emulator, tmp_path)
    result = verify_cli(emulator, job_file, tmp_path / "out", flag)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["counts"]["match"] == ITEMS


def test_items_an_earlier_run_migrated_that_the_job_no_longer_plans_are_extra(emulator, tmp_path):
    job_file = migrated(emulator, tmp_path)
    text = job_file.read_text(encoding="utf-8")
    job_file.write_text(text.replace("[filters]\n", '[filters]\nexclude_forms = ["Task"]\n'), encoding="utf-8")
    report = run_verify(load_job(job_file, {"graph_url": emulator.base_url}))
    extra = [i for i in report.items if i.status == "extra"]
    assert len(extra) == 4 and {i.kind for i in extra} == {"task"}, extra  # found through the state store
    assert all("earlier run" in i.detail for i in extra)
    assert report.counts()["match"] == ITEMS - 4 and not report.ok


# -- what one mailbox or site may fail with does not stop the others ------------------------------------------------
class Rewriting(httpx.AsyncBaseTransport):
    """The emulator's answers, some rewritten by ``change(request, status, body)`` (None: unchanged)."""

    def __init__(self, change: Any) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.change = change

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        out = self.change(request, response.status_code, body)
        if out is None:
            return httpx.Response(response.status_code, headers=response.headers, content=body)
        status, content, content_type = out
        return httpx.Response(status, headers={"content-type": content_type}, content=content)


def verify_through(emulator, job_file: Path, change: Any) -> Any:
    import asyncio

    from notes2m365.graph import GraphClient
    from notes2m365.migrate import graph_settings

    job = load_job(job_file, {"graph_url": emulator.base_url})

    async def client() -> GraphClient:
        return GraphClient(job.target, graph_settings(job), transport=Rewriting(change))
    return run_verify(job, graph=asyncio.run(client()))


def test_a_site_refusing_access_is_that_sites_error_only(emulator, tmp_path):
    job_file = migrated(emulator, tmp_path)

    def refuse(request, status, body):
        if "teamroom-restricted" in str(request.url):
            return 403, json.dumps({"error": {"code": "accessDenied", "message": "Access denied"}}).encode(), \
                "application/json"
    report = verify_through(emulator, job_file, refuse)
    restricted = [i for i in report.items if i.target.endswith("teamroom-restricted")]
    assert restricted and all(i.status == "error" and "403 accessDenied" in i.detail for i in restricted)
    others = [i for i in report.items if not i.target.endswith("teamroom-restricted")]
    assert len(others) == ITEMS - len(restricted) and all(i.status == "match" for i in others)
    assert not report.ok


def test_a_mailbox_without_a_default_todo_list_reports_its_tasks_as_errors(emulator, tmp_path):
    job_file = migrated(emulator, tmp_path)

    def hide_default(request, status, body):
        if request.method == "GET" and request.url.path.endswith("/todo/lists"):
            lists = json.loads(body)
            lists["value"] = [item for item in lists["value"] if item.get("wellknownListName") != "defaultList"]
            return 200, json.dumps(lists).encode(), "application/json"
    report = verify_through(emulator, job_file, hide_default)
    tasks = [i for i in report.items if i.kind == "task"]
    assert len(tasks) == 4 and all(i.status == "error" and "default To Do list" in i.detail for i in tasks)
    assert report.counts()["match"] == ITEMS - 4


def test_a_page_that_is_not_json_is_an_error_not_an_empty_list(emulator, tmp_path):
    job_file = migrated(emulator, tmp_path)

    def gateway_page(request, status, body):
        if request.method == "GET" and request.url.path.endswith("/attachments"):
            return 200, b"<html>gateway</html>", "text/html"
    report = verify_through(emulator, job_file, gateway_page)
    broken = [i for i in report.items if i.status != "match"]
    assert broken and all(i.status == "error" and "UnexpectedResponse" in i.detail for i in broken)
    assert {i.key for i in broken} >= {WITH_FILES}


def test_a_json_file_is_compared_by_its_bytes(emulator, tmp_path):
    """A download's bytes, whatever its content type (a .json file used to compare as 0 bytes)."""
    import base64

    job_file = copy_samples(tmp_path)
    dxl = job_file.parent / "apps" / "teamroom-discussion.dxl"
    text = dxl.read_text(encoding="utf-8")
    data = b'{"term": "Lead"}\n'
    old = re.search(r"<file[^>]*name='glossary\.csv'.*?<filedata>(.*?)</filedata>", text, re.S)
    assert old is not None
    text = text.replace(old.group(1), base64.b64encode(data).decode()).replace("glossary.csv", "glossary.json")
    text = re.sub(r"(<file[^>]*name='glossary\.json'[^>]*size=')\d+(')", rf"\g<1>{len(data)}\g<2>", text)
    dxl.write_text(text, encoding="utf-8")
    assert run_migration(load_job(job_file, {"graph_url": emulator.base_url})).summary.outcome == "complete"
    report = run_verify(load_job(job_file, {"graph_url": emulator.base_url}))
    files = [i for i in report.items if i.kind == "file" and i.title == "glossary.json"]
    assert len(files) == 1 and files[0].status == "match", files
    assert report.ok, [i for i in report.items if i.status != "match"]


def test_progress_counts_every_compared_item(emulator, tmp_path):
    from notes2m365.verify import Progress

    job_file = migrated(emulator, tmp_path)
    seen = {"total": 0, "done": 0}
    progress = Progress(lambda n: seen.__setitem__("total", seen["total"] + n),
                        lambda n: seen.__setitem__("done", seen["done"] + n))
    report = run_verify(load_job(job_file, {"graph_url": emulator.base_url}), progress=progress)
    assert seen == {"total": ITEMS, "done": ITEMS} and len(report.items) == ITEMS
    sampled_seen = {"total": 0, "done": 0}
    progress = Progress(lambda n: sampled_seen.__setitem__("total", sampled_seen["total"] + n),
                        lambda n: sampled_seen.__setitem__("done", sampled_seen["done"] + n))
    report = run_verify(load_job(job_file, {"graph_url": emulator.base_url}), percent=50, seed=3, progress=progress)
    assert sampled_seen["total"] == sampled_seen["done"] == len(report.items) < ITEMS


def test_graph_out_of_reach_stops_at_once_with_exit_3(tmp_path):
    job_file = copy_samples(tmp_path)
    url = f"http://127.0.0.1:{_free_port()}/v1.0"  # nothing listens there, and no demo tenant is beside the state
    result = CliRunner().invoke(main, ["verify", str(job_file), "--graph-url", url, "--no-progress",
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 3, result.output
    assert "Graph cannot be reached" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "verify.json").exists()
