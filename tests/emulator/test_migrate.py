"""The migration end to end against the in-process Graph emulator: content, reruns, changes, crash windows,
large attachments and the ``migrate``/``status``/``failures``/``demo`` commands.

Every test migrates into a fresh emulator (the ``emulator`` fixture) and then reads the mailbox back through
Graph, so what is checked is what a user would find, not what the executor believes it did.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from notes2m365.cli import main
from notes2m365.emulator import EmulatorConfig
from notes2m365.exchange import CREATE_BODY_BUDGET, VERSION_PROPERTY, MailboxTarget, is_draft
from notes2m365.job import Job, MigrateSettings, load_job
from notes2m365.migrate import render_summary, run_migration
from notes2m365.operations import SOURCE_KEY_PROPERTY, Operation
from notes2m365.plan import ContentIndex, build_plan
from notes2m365.state import open_state

from ..conftest import REPO, SAMPLES
from .mailbox_fixture import dxl_file_bytes, edit_document
from .conftest import JANE

FIXTURES = REPO / "tests" / "fixtures" / "migrate"
U = f"/users/{JANE}"
MAIL_REPLICA = "C125802500222004"
KICKOFF = f"{MAIL_REPLICA}/49C8134A623DE9E3C1258ADE002D066B"  # Projects/Alpha, no attachments
WITH_FILES = f"{MAIL_REPLICA}/DE9A1D928B199F2DC1258AE000552D19"  # report.pdf + Protokoll März 2024.txt
WITH_IMAGES = f"{MAIL_REPLICA}/2C0B2C0182E0321065258AE6002E91EC"  # two inline images, Inbox
SENT = f"{MAIL_REPLICA}/F4A73FE3910DDA1FC1258AF60031A5E2"  # Sent Items, To/Cc/Bcc
DRAFT = f"{MAIL_REPLICA}/806FC944C7A00F2DC1258AF90052A8B8"
DENTIST = f"{MAIL_REPLICA}/F93FEDB806DC80D7C1258AED003CF76F"  # a single appointment
MAILBOX_ITEMS = 25  # 2 folders, 8 messages, 7 events, 4 tasks, 4 contacts
# the teamroom application's operations (lists, files, items, on two sites)
APP_OPERATIONS = sum(op.container.startswith("site:") for op in build_plan(load_job(SAMPLES / "demo.toml")).operations)


# -- helpers --------------------------------------------------------------------------------------------------
def copy_samples(tmp_path: Path) -> Path:
    """A private copy of samples/ (its job's state, ../state/demo.sqlite, lands in tmp_path/state)."""
    target = tmp_path / "samples"
    shutil.copytree(SAMPLES, target, ignore=shutil.ignore_patterns("tools", "export"))
    return target / "demo.toml"


def sample_job(emulator, tmp_path: Path, job_file: Path | str = SAMPLES / "demo.toml", **overrides: Any) -> Job:
    return load_job(job_file, {"graph_url": emulator.base_url, "state": str(tmp_path / "s.sqlite"), **overrides})


def planned(job: Job) -> dict[str, Operation]:
    return {op.key: op for op in build_plan(job).operations}


def get_all(graph: httpx.Client, path: str, params: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every item of a collection, following @odata.nextLink."""
    response = graph.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    out = list(response.json()["value"])
    while link := response.json().get("@odata.nextLink"):
        response = graph.get(link, headers=headers)
        assert response.status_code == 200, response.text
        out.extend(response.json()["value"])
    return out


def by_key(graph: httpx.Client, collection: str, key: str, headers: dict[str, str] | None = None
           ) -> list[dict[str, Any]]:
    """Items of ``collection`` carrying ``key`` in the source-key property, with their version property."""
    return get_all(graph, collection, {
        "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{SOURCE_KEY_PROPERTY}' and ep/value eq '{key}')",
        "$expand": f"singleValueExtendedProperties($filter=id eq '{VERSION_PROPERTY}')"}, headers)


def version_of(item: dict[str, Any]) -> str | None:
    return next((p["value"] for p in item.get("singleValueExtendedProperties") or []
                 if p["id"].lower() == VERSION_PROPERTY.lower()), None)


def one_message(graph: httpx.Client, key: str) -> dict[str, Any]:
    found = by_key(graph, U + "/messages", key)
    assert len(found) == 1, f"{key}: {len(found)} messages"
    return found[0]


def request_log(emulator) -> list[dict[str, Any]]:
    return httpx.get(emulator.root_url + "/_emulator/requests", timeout=10).json()["value"]


def writes_since(emulator, mark: int) -> list[dict[str, Any]]:
    return [e for e in request_log(emulator)[mark:] if e["method"] != "GET"]


def child_folder(graph: httpx.Client, parent: str, name: str) -> str:
    found = [f for f in get_all(graph, f"{U}/mailFolders/{parent}/childFolders") if f["displayName"] == name]
    assert len(found) == 1, f"{name}: {len(found)} folders under {parent}"
    return found[0]["id"]


def folder_ids(graph: httpx.Client) -> dict[str, str]:
    """Planned folder (the part of a container after ``folder:``) → Graph id."""
    ids = {name: graph.get(f"{U}/mailFolders/{name}").json()["id"]
           for name in ("inbox", "drafts", "sentitems", "deleteditems")}
    projects = child_folder(graph, "msgfolderroot", "Projects")
    ids["Projects"] = projects
    ids["Projects/Alpha"] = child_folder(graph, projects, "Alpha")
    return ids






def post_planned(graph: httpx.Client, op: Operation, container_id: str) -> str:
    """Create ``op``'s item directly through Graph as the executor's create would (payload, source key and
    version), but without its attachments: a crash between the create and what follows it."""
    target = MailboxTarget(None, MigrateSettings())  # type: ignore[arg-type]  # no request is sent through it
    prepared = target.prepare(dataclasses.replace(op, content=()), container_id, ContentIndex())
    assert "attachments" not in prepared.body and version_of(prepared.body) == str(op.sequence)
    response = graph.post(prepared.path, json=prepared.body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def mark_started(job: Job, op: Operation) -> None:
    """The state a crash leaves between ``begin`` and ``done``: the item is ``started``."""
    with open_state(job.state) as state:
        state.begin(op.key, op.op, op.container, op.content_hash, op.sequence, "crashed-run")


def same_people(actual: Any, planned_people: Any) -> None:
    planned_list = planned_people if isinstance(planned_people, list) else [planned_people]
    actual_list = actual if isinstance(actual, list) else [actual]
    assert [p["emailAddress"]["address"] for p in actual_list] == \
        [p["emailAddress"]["address"] for p in planned_list]
    for got, want in zip(actual_list, planned_list):
        if want["emailAddress"].get("name"):
            assert got["emailAddress"]["name"] == want["emailAddress"]["name"]


def prop(payload: dict[str, Any], prop_id: str) -> str | None:
    return next((p["value"] for p in payload.get("singleValueExtendedProperties", []) if p["id"] == prop_id), None)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- 1. the samples, read back through Graph --------------------------------------------------------------------
def test_full_migration_lands_the_planned_content(emulator, graph, tmp_path):
    job = sample_job(emulator, tmp_path)
    result = run_migration(job)
    summary = result.summary
    assert summary.outcome == "complete", render_summary(result)
    assert dict(summary.counts) == {"created": MAILBOX_ITEMS + APP_OPERATIONS}
    assert summary.failures == [] and summary.counts["failed"] == 0
    ops = planned(job)

    # folders: Projects/Alpha exists once, under the root
    folders = folder_ids(graph)
    top = [f["displayName"] for f in get_all(graph, f"{U}/mailFolders")]
    assert top.count("Projects") == 1 and "Alpha" not in top

    messages = [op for op in ops.values() if op.op == "create-message"]
    assert len(messages) == 8
    drafts = set()
    for op in messages:
        msg = one_message(graph, op.key)
        payload = op.payload
        where = op.container.split("/folder:", 1)[1]
        assert msg["parentFolderId"] == folders[where], op.key
        assert msg["subject"] == payload["subject"]
        assert version_of(msg) == str(op.sequence)
        # links to the message's own attachments lose their href (a link cannot point at an attachment)
        expected = re.sub(r' href="attachment:[^"]*"', "", payload["body"]["content"])
        assert msg["body"]["content"] == expected
        assert 'href="attachment:' not in msg["body"]["content"]
        assert msg["importance"] == payload.get("importance", "normal")
        assert msg["internetMessageId"] == payload.get("internetMessageId")
        assert msg["categories"] == payload.get("categories", [])
        for field in ("from", "sender", "toRecipients", "ccRecipients", "bccRecipients"):
            if field in payload:
                same_people(msg[field], payload[field])
            else:
                assert not msg.get(field), (op.key, field)
        assert msg["isDraft"] == is_draft(payload)
        if msg["isDraft"]:
            drafts.add(op.key)
            continue
        # dates from the source (PR_MESSAGE_DELIVERY_TIME / PR_CLIENT_SUBMIT_TIME), never "now"
        assert moment(msg["receivedDateTime"]) == moment(prop(payload, "SystemTime 0x0E06"))
        assert moment(msg["sentDateTime"]) == moment(prop(payload, "SystemTime 0x0039"))
        assert moment(msg["receivedDateTime"]).year == 2024
    assert drafts == {DRAFT}
    assert ops[DRAFT].container.endswith("/folder:drafts")

    # the sent memo: To a Notes name and an Internet address, Cc, Bcc
    sent = one_message(graph, SENT)
    assert sent["parentFolderId"] == folders["sentitems"]
    assert [r["emailAddress"]["address"] for r in sent["toRecipients"]] == ["john.smith@acme.example",
                                                                           "anna.schmidt@partner.example"]
    assert [r["emailAddress"]["address"] for r in sent["ccRecipients"]] == ["maria.garcia@acme.example"]
    assert [r["emailAddress"]["address"] for r in sent["bccRecipients"]] == ["peter.miller@acme.example"]
    kickoff = one_message(graph, KICKOFF)
    assert kickoff["importance"] == "high" and kickoff["parentFolderId"] == folders["Projects/Alpha"]
    assert kickoff["from"]["emailAddress"]["address"] == "john.smith@acme.example"

    # attachments: names, sizes and bytes equal the DXL's $FILE items
    msg = one_message(graph, WITH_FILES)
    assert msg["hasAttachments"] is True
    files = {a["name"]: a for a in get_all(graph, f"{U}/messages/{msg['id']}/attachments")}
    assert set(files) == {"report.pdf", "Protokoll März 2024.txt"}
    for ref in ops[WITH_FILES].content:
        data = base64.b64decode(files[ref.name]["contentBytes"])
        source = dxl_file_bytes(SAMPLES / "mail" / "jdoe-mail.dxl", ref.name)
        assert files[ref.name]["size"] == len(data) == len(source) == ref.size
        assert hashlib.sha256(data).hexdigest() == hashlib.sha256(source).hexdigest() == ref.sha256
        assert files[ref.name]["isInline"] is False
    assert "Müller" in dxl_file_bytes(SAMPLES / "mail" / "jdoe-mail.dxl", "Protokoll März 2024.txt").decode("utf-8")

    # inline images: isInline attachments whose contentId is what the body's cid: references name
    msg = one_message(graph, WITH_IMAGES)
    images = get_all(graph, f"{U}/messages/{msg['id']}/attachments")
    cids = set(re.findall(r'src="cid:([^"]+)"', msg["body"]["content"]))
    assert len(images) == 2 and all(a["isInline"] for a in images)
    assert {a["contentId"] for a in images} == cids and len(cids) == 2
    assert msg["hasAttachments"] is False  # inline attachments only (Graph's rule)
    refs = {r.content_id: r for r in ops[WITH_IMAGES].content}
    for att in images:
        assert hashlib.sha256(base64.b64decode(att["contentBytes"])).hexdigest() == refs[att["contentId"]].sha256

    # events: times and zones as planned, all-day, recurrence; attendees only in the body
    events = [op for op in ops.values() if op.op == "create-event"]
    assert len(events) == 7
    for op in events:
        payload = op.payload
        zone = payload["start"]["timeZone"]
        found = by_key(graph, U + "/events", op.key, headers={"Prefer": f'outlook.timezone="{zone}"'})
        assert len(found) == 1, op.key
        event = found[0]
        assert event["subject"] == payload["subject"]
        assert event["isAllDay"] == payload["isAllDay"]
        assert event["originalStartTimeZone"] == zone
        for side in ("start", "end"):
            assert event[side]["timeZone"] == payload[side]["timeZone"]
            assert event[side]["dateTime"][:19] == payload[side]["dateTime"], (op.key, side)
        if "recurrence" in payload:
            for part in ("pattern", "range"):
                for name, value in payload["recurrence"][part].items():
                    assert event["recurrence"][part][name] == value, (op.key, part, name)
            assert event["type"] == "seriesMaster"
        else:
            assert event["recurrence"] is None
        assert event["attendees"] == []  # mapping default: attendees = "body"
        assert event["body"]["content"] == payload["body"]["content"]
        assert version_of(event) == str(op.sequence)
    by_subject = {op.payload["subject"]: op for op in events}
    steering = by_key(graph, U + "/events", by_subject["Project Alpha steering meeting"].key)[0]
    assert 'data-notes="attendees"' in steering["body"]["content"]
    assert "John Smith &lt;john.smith@acme.example&gt;" in steering["body"]["content"]
    offsite = by_subject["Acme EMEA Sales Kick-off (offsite)"].payload
    assert offsite["isAllDay"] and offsite["start"]["dateTime"] == "2024-05-20T00:00:00" \
        and offsite["end"]["dateTime"] == "2024-05-22T00:00:00"
    weekly = by_key(graph, U + "/events", by_subject["Sales team weekly"].key)[0]
    assert weekly["recurrence"]["pattern"]["type"] == "weekly"
    assert weekly["recurrence"]["pattern"]["daysOfWeek"] == ["tuesday"]
    assert weekly["originalStartTimeZone"] == "W. Europe Standard Time"
    birthday = by_key(graph, U + "/events", by_subject["Birthday: John Smith"].key)[0]
    assert birthday["isAllDay"] and birthday["recurrence"]["pattern"]["type"] == "absoluteYearly"
    assert httpx.get(emulator.root_url + "/_emulator/invitations").json()["value"] == []  # nobody was invited

    # contacts: every planned field
    contacts = [op for op in ops.values() if op.op == "create-contact"]
    assert len(contacts) == 4
    for op in contacts:
        found = by_key(graph, U + "/contacts", op.key)
        assert len(found) == 1, op.key
        for name, value in op.payload.items():
            if name == "singleValueExtendedProperties":
                continue
            if name == "birthday":
                assert moment(found[0][name]) == moment(value)
            else:
                assert found[0][name] == value, (op.key, name)
    john = by_key(graph, U + "/contacts", "C1257A8A00208504/8E0BBFDE32C1D1B9C1257E58003440A5")[0]
    assert john["businessAddress"]["city"] == "Zurich" and john["mobilePhone"] == "+41 79 555 01 23"

    # To Do: in the default list, each task keyed by linkedResources.externalId
    lists = get_all(graph, f"{U}/todo/lists")
    default = [tl for tl in lists if tl.get("wellknownListName") == "defaultList"]
    assert len(default) == 1 and len(lists) == 1  # no list was created for the tasks
    tasks = get_all(graph, f"{U}/todo/lists/{default[0]['id']}/tasks", {"$expand": "linkedResources"})
    by_external = {r["externalId"]: t for t in tasks for r in t.get("linkedResources") or []}
    planned_tasks = [op for op in ops.values() if op.op == "create-task"]
    assert len(tasks) == len(planned_tasks) == 4
    assert set(by_external) == {op.key for op in planned_tasks}
    for op in planned_tasks:
        task = by_external[op.key]
        for name in ("title", "status", "importance"):
            assert task[name] == op.payload[name], (op.key, name)
        assert task["body"]["content"] == op.payload["body"]["content"]
        assert task["dueDateTime"]["dateTime"][:19] == op.payload["dueDateTime"]["dateTime"]


# -- 2. a second run sends nothing ----------------------------------------------------------------------------
def test_rerun_writes_nothing(emulator, tmp_path):
    job = sample_job(emulator, tmp_path)
    assert run_migration(job).summary.outcome == "complete"
    mark = len(request_log(emulator))
    again = run_migration(job).summary
    assert again.outcome == "complete"
    assert dict(again.counts) == {"unchanged": MAILBOX_ITEMS + APP_OPERATIONS}
    assert again.graph is not None and again.graph.writes == 0
    assert writes_since(emulator, mark) == []


# -- 3. a changed document: a message replaced, an event updated in place -------------------------------------
def test_sequence_change_replaces_the_message_and_updates_the_event(emulator, graph, tmp_path):
    job_file = copy_samples(tmp_path)
    job = sample_job(emulator, tmp_path, job_file)
    assert run_migration(job).summary.outcome == "complete"
    old_msg = one_message(graph, KICKOFF)
    old_event = by_key(graph, U + "/events", DENTIST)[0]
    assert version_of(old_msg) == "3"

    edit_document(job_file.parent / "mail" / "jdoe-mail.dxl", KICKOFF.split("/")[1], 4,
                  ("<text>Project Alpha kickoff</text>", "<text>Project Alpha kickoff (moved)</text>"),
                  ("we are kicking off </run>", "we are restarting </run>"))
    edit_document(job_file.parent / "mail" / "jdoe-calendar.dxl", DENTIST.split("/")[1], 2,
                  ("<text>Dentist</text>", "<text>Dentist (moved)</text>"))
    summary = run_migration(job).summary
    assert summary.outcome == "complete"
    assert dict(summary.counts) == {"updated": 2, "unchanged": MAILBOX_ITEMS + APP_OPERATIONS - 2}

    new_msg = one_message(graph, KICKOFF)
    assert new_msg["id"] != old_msg["id"]
    assert new_msg["subject"] == "Project Alpha kickoff (moved)"
    assert "we are restarting" in new_msg["body"]["content"]
    assert version_of(new_msg) == "4"
    assert new_msg["parentFolderId"] == old_msg["parentFolderId"] and new_msg["isDraft"] is False
    assert graph.get(f"{U}/messages/{old_msg['id']}").status_code == 404  # gone for good ...
    assert by_key(graph, U + "/mailFolders/deleteditems/messages", KICKOFF) == []  # ... not in Deleted Items
    assert get_all(graph, U + "/mailFolders/deleteditems/messages") == []

    events = by_key(graph, U + "/events", DENTIST)
    assert len(events) == 1 and events[0]["id"] == old_event["id"]
    assert events[0]["subject"] == "Dentist (moved)" and version_of(events[0]) == "2"
    with open_state(job.state, read_only=True) as state:
        assert state.get(KICKOFF).sequence == 4 and state.get(KICKOFF).target_id == new_msg["id"]
        assert state.get(DENTIST).sequence == 2 and state.get(DENTIST).status == "done"


# -- 4. crash windows, by hand --------------------------------------------------------------------------------
@pytest.mark.parametrize("left", ["started", "failed"])
def test_created_but_not_recorded_is_recovered_without_a_duplicate(emulator, graph, tmp_path, left):
    """A run that died (or lost Graph's answer) after Graph created the item, before the state said ``done``."""
    job = sample_job(emulator, tmp_path)
    assert run_migration(job).summary.outcome == "complete"
    before = one_message(graph, WITH_FILES)
    ops = planned(job)
    mark_started(job, ops[WITH_FILES])
    if left == "failed":  # a transient failure: the answer was lost, the item may exist
        with open_state(job.state) as state:
            state.failed(WITH_FILES, "504 GatewayTimeout: the answer was lost", permanent=False)
    summary = run_migration(job).summary
    assert dict(summary.counts) == {"recovered": 1, "unchanged": MAILBOX_ITEMS + APP_OPERATIONS - 1}
    assert summary.graph.writes == 0  # found by its source key with every attachment: nothing to send
    after = one_message(graph, WITH_FILES)
    assert after["id"] == before["id"]
    assert len(get_all(graph, f"{U}/messages/{after['id']}/attachments")) == 2
    with open_state(job.state, read_only=True) as state:
        assert state.get(WITH_FILES).status == "done" and state.get(WITH_FILES).target_id == before["id"]


def test_created_before_its_attachments_is_completed(emulator, graph, tmp_path):
    """The message exists (created through Graph with its source key) but its attachments never came."""
    job = sample_job(emulator, tmp_path)
    op = planned(job)[WITH_IMAGES]
    made = post_planned(graph, op, "inbox")
    assert get_all(graph, f"{U}/messages/{made}/attachments") == []
    mark_started(job, op)
    summary = run_migration(job).summary
    assert summary.outcome == "complete"
    assert summary.per_target[JANE]["recovered"] == 1 and summary.per_target[JANE]["created"] == MAILBOX_ITEMS - 1
    msg = one_message(graph, WITH_IMAGES)
    assert msg["id"] == made
    images = get_all(graph, f"{U}/messages/{made}/attachments")
    assert sorted(a["contentId"] for a in images) == sorted(r.content_id for r in op.content)
    assert all(a["isInline"] for a in images)
    assert sorted(hashlib.sha256(base64.b64decode(a["contentBytes"])).hexdigest() for a in images) == \
        sorted(r.sha256 for r in op.content)
    assert len(get_all(graph, U + "/messages")) == 8


def test_a_copy_left_by_a_lost_answer_is_removed(emulator, graph, tmp_path):
    """Two copies of the same version (a create sent again after its answer was lost): one stays, complete."""
    job = sample_job(emulator, tmp_path)
    op = planned(job)[WITH_IMAGES]
    copies = {post_planned(graph, op, "inbox") for _ in range(2)}
    mark_started(job, op)
    summary = run_migration(job).summary
    assert summary.outcome == "complete" and summary.per_target[JANE]["recovered"] == 1
    msg = one_message(graph, WITH_IMAGES)
    assert msg["id"] in copies
    assert len(get_all(graph, f"{U}/messages/{msg['id']}/attachments")) == 2
    assert get_all(graph, U + "/mailFolders/deleteditems/messages") == []


def test_interrupted_replacement_leaves_only_the_new_message(emulator, graph, tmp_path):
    """A replacement that died after creating the new message, before deleting the old one."""
    job_file = copy_samples(tmp_path)
    job = sample_job(emulator, tmp_path, job_file)
    assert run_migration(job).summary.outcome == "complete"
    old = one_message(graph, SENT)
    edit_document(job_file.parent / "mail" / "jdoe-mail.dxl", SENT.split("/")[1], 7,
                  ("<text>Alpha: documents for the partner review</text>",
                   "<text>Alpha: documents for the partner review (v2)</text>"))
    op = planned(job)[SENT]
    assert op.sequence == 7
    mark_started(job, op)  # the replacement's begin() ...
    made = post_planned(graph, op, "sentitems")  # ... and its create, whose answer was lost
    assert sorted(version_of(m) for m in by_key(graph, U + "/messages", SENT)) == ["2", "7"]

    summary = run_migration(job).summary
    assert summary.outcome == "complete"
    assert dict(summary.counts) == {"recovered": 1, "unchanged": MAILBOX_ITEMS + APP_OPERATIONS - 1}
    msg = one_message(graph, SENT)
    assert msg["id"] == made and version_of(msg) == "7"
    assert msg["subject"] == "Alpha: documents for the partner review (v2)"
    assert graph.get(f"{U}/messages/{old['id']}").status_code == 404
    assert get_all(graph, U + "/mailFolders/deleteditems/messages") == []
    assert run_migration(job).summary.graph.writes == 0  # and settled: the next run sends nothing


# -- 5. attachments over 3 MB ---------------------------------------------------------------------------------
LARGE_KEY = "C1258B1200334455/A11CE0000000000AC1258B1200400001"  # non-draft, alpha-deck.pptx 4.5 MB
DRAFT_KEY = "C1258B1200334455/A11CE0000000000DC1258B1200400002"  # Notes draft, contract-scan.pdf 3.5 MB
MANY_KEY = "C1258B1200334455/A11CE0000000000EC1258B1200400003"  # 4 x ~1.5 MB
LARGE_SIZES = {"DECK": 4_500_000, "SCAN": 3_500_000}
MANY_SIZES = {"PART1": 1_500_000, "PART2": 1_500_001, "PART3": 1_500_002, "PART4": 1_500_003}
FILE_NAMES = {"DECK": "alpha-deck.pptx", "SCAN": "contract-scan.pdf", "PART1": "photos-1.zip",
              "PART2": "photos-2.zip", "PART3": "photos-3.zip", "PART4": "photos-4.zip"}


def large_job(emulator, tmp_path: Path, policy: str, many: bool = False) -> tuple[Job, dict[str, bytes]]:
    """The large-attachment fixtures with their file data generated now, and a job for them."""
    rng = random.Random(20240415)
    sizes = {**LARGE_SIZES, **(MANY_SIZES if many else {})}
    data = {FILE_NAMES[k]: rng.randbytes(n) for k, n in sizes.items()}
    src = tmp_path / "dxl"
    src.mkdir()
    for fixture in ("large-attachment.dxl",) + (("many-attachments.dxl",) if many else ()):
        text = (FIXTURES / fixture).read_text(encoding="utf-8")
        for k in sizes:
            blob = data[FILE_NAMES[k]]
            text = text.replace(f"@@{k}_SIZE@@", str(len(blob))).replace(f"@@{k}@@", base64.encodebytes(blob).decode())
        assert "@@" not in text
        (src / fixture).write_text(text, encoding="utf-8")
    job_file = tmp_path / "large.toml"
    job_file.write_text(f"""
[job]
name = "large attachments"
state = "state.sqlite"

[target]
graph_url = "{emulator.base_url}"

[identity]
map = "{(SAMPLES / 'identity.csv').as_posix()}"
fallback_domain = "acme.example"
fallback_orgs = ["Acme"]
internet_domains = ["acme.example"]

[migrate]
large_attachments = "{policy}"

[[mailbox]]
source = "dxl/*.dxl"
mailbox = "{JANE}"
""", encoding="utf-8")
    return load_job(job_file), data


def attachment_bytes(graph: httpx.Client, message_id: str) -> dict[str, bytes]:
    return {a["name"]: base64.b64decode(a["contentBytes"])
            for a in get_all(graph, f"{U}/messages/{message_id}/attachments")}


def assert_draft_with_session_upload(emulator, graph, key: str, name: str, data: bytes) -> None:
    msg = one_message(graph, key)
    assert msg["isDraft"] is True
    assert attachment_bytes(graph, msg["id"]) == {name: data}
    sessions = [e for e in request_log(emulator) if e["method"] == "POST"
                and e["path"] == f"{U}/messages/{msg['id']}/attachments/createUploadSession"]
    assert len(sessions) == 1


def test_large_attachments_onedrive_policy(emulator, graph, tmp_path):
    """Default policy: the file goes to OneDrive and is linked; a Notes draft takes an upload session; several
    attachments over the create budget are all attached."""
    job, data = large_job(emulator, tmp_path, "onedrive", many=True)
    assert job.migrate.large_attachments == "onedrive"
    result = run_migration(job)
    summary = result.summary
    assert summary.outcome == "complete", render_summary(result)
    assert dict(summary.counts) == {"created": 3}

    # (a) non-draft: in OneDrive, linked from the body, not attached
    msg = one_message(graph, LARGE_KEY)
    assert msg["isDraft"] is False and msg["parentFolderId"] == graph.get(f"{U}/mailFolders/inbox").json()["id"]
    assert attachment_bytes(graph, msg["id"]) == {}
    path = f"{U}/drive/root:/Notes attachments/{LARGE_KEY.split('/')[1]}/1-alpha-deck.pptx:"
    item = graph.get(path)
    assert item.status_code == 200, item.text
    assert item.json()["size"] == 4_500_000
    content = graph.get(path + "/content", follow_redirects=True)
    assert content.status_code == 200 and content.content == data["alpha-deck.pptx"]
    assert f'href="{item.json()["webUrl"]}"' in msg["body"]["content"]
    assert 'data-notes="onedrive-attachments"' in msg["body"]["content"]
    assert any(k == LARGE_KEY and "OneDrive" in n for k, n in summary.notes)

    # (d) a Notes draft: upload session, whatever the policy
    assert_draft_with_session_upload(emulator, graph, DRAFT_KEY, "contract-scan.pdf", data["contract-scan.pdf"])

    # (e) 4 x 1.5 MB: some in the create, the rest posted after it; all there, bytes equal
    many = one_message(graph, MANY_KEY)
    assert many["isDraft"] is False
    assert attachment_bytes(graph, many["id"]) == {n: data[n] for n in ("photos-1.zip", "photos-2.zip",
                                                                          "photos-3.zip", "photos-4.zip")}
    later = [e for e in request_log(emulator) if e["method"] == "POST"
             and e["path"] == f"{U}/messages/{many['id']}/attachments"]
    budget, carried = CREATE_BODY_BUDGET, 0
    for size in MANY_SIZES.values():  # what fits the create request's budget travels in it, in order
        if size <= budget:
            carried, budget = carried + 1, budget - size
    assert 1 <= carried < 4 and len(later) == 4 - carried

    assert run_migration(job).summary.graph.writes == 0


def test_large_attachments_draft_policy(emulator, graph, tmp_path):
    job, data = large_job(emulator, tmp_path, "draft")
    result = run_migration(job)
    assert result.summary.outcome == "complete", render_summary(result)
    # (b) kept as a draft, attached through an upload session (in chunks of at most 4 MB)
    assert_draft_with_session_upload(emulator, graph, LARGE_KEY, "alpha-deck.pptx", data["alpha-deck.pptx"])
    chunks = [e for e in request_log(emulator) if e["method"] == "PUT" and e["path"].startswith("/_upload/outlook/")]
    assert sum(e["bytesIn"] for e in chunks) == 4_500_000 + 3_500_000 and max(e["bytesIn"] for e in chunks) <= 4 << 20
    assert any(k == LARGE_KEY and "kept as a draft" in n for k, n in result.summary.notes)
    assert "kept as a draft" in render_summary(result)
    # (d) the Notes draft: the same path
    assert_draft_with_session_upload(emulator, graph, DRAFT_KEY, "contract-scan.pdf", data["contract-scan.pdf"])
    assert graph.get(f"{U}/drive/root:/Notes attachments").status_code == 404  # nothing went to OneDrive

    # a crash after the create, before the upload finished: the next run finds the draft and uploads again
    msg = one_message(graph, LARGE_KEY)
    (att,) = get_all(graph, f"{U}/messages/{msg['id']}/attachments", {"$select": "id,name"})
    assert graph.delete(f"{U}/messages/{msg['id']}/attachments/{att['id']}").status_code == 204
    mark_started(job, planned(job)[LARGE_KEY])
    summary = run_migration(job).summary
    assert dict(summary.counts) == {"recovered": 1, "unchanged": 1}
    assert one_message(graph, LARGE_KEY)["id"] == msg["id"]
    assert attachment_bytes(graph, msg["id"]) == {"alpha-deck.pptx": data["alpha-deck.pptx"]}


def test_large_attachments_skip_policy(emulator, graph, tmp_path):
    job, data = large_job(emulator, tmp_path, "skip")
    result = run_migration(job)
    summary = result.summary
    # (c) the message is left out, the state and the summary say why
    assert summary.outcome == "complete"
    assert dict(summary.counts) == {"created": 1, "skipped": 1}
    assert by_key(graph, U + "/messages", LARGE_KEY) == []
    with open_state(job.state, read_only=True) as state:
        item = state.get(LARGE_KEY)
        assert item.status == "skipped"
        assert "alpha-deck.pptx" in item.last_error and "large_attachments = skip" in item.last_error
    assert any(k == LARGE_KEY and "large_attachments = skip" in n for k, n in summary.notes)
    assert f"note {LARGE_KEY}: attachments over 3 MB" in render_summary(result)
    # (d) the Notes draft still gets its upload session
    assert_draft_with_session_upload(emulator, graph, DRAFT_KEY, "contract-scan.pdf", data["contract-scan.pdf"])
    # the policy is applied again on every run; it never sends anything for the skipped message
    mark = len(request_log(emulator))
    again = run_migration(job).summary
    assert dict(again.counts) == {"unchanged": 1, "skipped": 1} and writes_since(emulator, mark) == []


# -- 6. migrate --dry-run ---------------------------------------------------------------------------------------
def test_dry_run_reads_and_writes_nothing(emulator, tmp_path):
    job_file = copy_samples(tmp_path)
    state = tmp_path / "state" / "demo.sqlite"
    result = CliRunner().invoke(main, ["migrate", str(job_file), "--dry-run", "--graph-url", emulator.base_url])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "nothing was written (0 writes)" in out
    for check in ("mailbox exists", "mail readable", "calendar readable", "To Do readable", "contacts readable"):
        assert re.search(rf"^\s+ok\s+{check}$", out, re.M), check
    for n, what in ((8, "create message"), (7, "create event"), (4, "create contact"), (4, "create task"),
                    (2, "create folder")):
        assert re.search(rf"^\s+{n}\s+{what}$", out, re.M), what
    assert "FAIL" not in out
    assert writes_since(emulator, 0) == [] and len(request_log(emulator)) > 0
    assert not state.exists() and not list(tmp_path.rglob("*.sqlite*"))

    # a mailbox the tenant does not have
    text = job_file.read_text(encoding="utf-8").replace(f'mailbox = "{JANE}"', 'mailbox = "nobody@acme.example"')
    job_file.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["migrate", str(job_file), "--dry-run", "--graph-url", emulator.base_url])
    assert result.exit_code == 1, result.output
    assert re.search(r"^\s+FAIL mailbox exists \(404 ", result.stdout, re.M)
    assert "nobody@acme.example:" in result.stdout
    assert writes_since(emulator, 0) == [] and not state.exists()

    # after a real run, the dry run reads the state: nothing left to do, still nothing written
    job_file.write_text(text.replace('mailbox = "nobody@acme.example"', f'mailbox = "{JANE}"'), encoding="utf-8")
    assert run_migration(load_job(job_file, {"graph_url": emulator.base_url})).summary.outcome == "complete"
    mark = len(request_log(emulator))
    result = CliRunner().invoke(main, ["migrate", str(job_file), "--dry-run", "--graph-url", emulator.base_url])
    assert result.exit_code == 0, result.output
    for n, what in ((8, "nothing: message done"), (7, "nothing: event done"), (2, "folder exists: reuse"),
                    (2, "nothing: mail-folder exists (done)")):
        assert re.search(rf"^\s+{n}\s+{re.escape(what)}$", result.stdout, re.M), (what, result.stdout)
    assert "create" not in result.stdout and writes_since(emulator, mark) == []


# -- 7. failures, status, --retry-failed -----------------------------------------------------------------------
def test_failures_status_and_retry_failed(emulator, tmp_path):
    job_file = copy_samples(tmp_path)
    args = [str(job_file), "--graph-url", emulator.base_url, "--no-progress"]
    switches = emulator.emulator.config.switches
    switches.inline_attachment_limit = 100  # every message with attachments is now refused (413)
    result = CliRunner().invoke(main, ["migrate", *args])
    assert result.exit_code == 1, result.output
    assert "migration failures:" in result.stdout
    assert f"failed {WITH_FILES}: " in result.stdout and "ErrorRequestEntityTooLarge" in result.stdout

    result = CliRunner().invoke(main, ["failures", str(job_file)])
    assert result.exit_code == 1, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert {r[0] for r in rows} == {WITH_FILES, WITH_IMAGES}
    for row in rows:
        assert row[1] == "create-message" and "permanent" in row[3] and "ErrorRequestEntityTooLarge" in row[4]
    assert "2 failed item(s)" in result.stderr

    result = CliRunner().invoke(main, ["status", str(job_file), "--json"])
    assert result.exit_code == 1, result.output
    status = json.loads(result.stdout)
    assert status["counts"]["failed"] == 2 and status["counts"]["done"] == MAILBOX_ITEMS + APP_OPERATIONS - 2
    assert status["per_target"][f"mailbox:{JANE}"]["failed"] == 2
    result = CliRunner().invoke(main, ["status", str(job_file)])
    assert result.exit_code == 1 and "failed 2" in result.stdout

    # a permanent failure is not retried by a plain rerun, even once the cause is gone
    switches.inline_attachment_limit = 3 << 20
    result = CliRunner().invoke(main, ["migrate", *args])
    assert result.exit_code == 1, result.output
    assert by_key_count(emulator, WITH_FILES) == 0
    result = CliRunner().invoke(main, ["migrate", *args, "--retry-failed"])
    assert result.exit_code == 0, result.output
    assert "created 2" in result.stdout and f"unchanged {MAILBOX_ITEMS + APP_OPERATIONS - 2}" in result.stdout
    assert by_key_count(emulator, WITH_FILES) == 1 and by_key_count(emulator, WITH_IMAGES) == 1
    result = CliRunner().invoke(main, ["failures", str(job_file)])
    assert result.exit_code == 0 and result.stdout == ""
    assert CliRunner().invoke(main, ["status", str(job_file)]).exit_code == 0


def by_key_count(emulator, key: str) -> int:
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": "Bearer t"}) as client:
        return len(by_key(client, U + "/messages", key))


def test_status_without_state_is_a_usage_error(tmp_path):
    job_file = copy_samples(tmp_path)
    for command in ("status", "failures"):
        result = CliRunner().invoke(main, [command, str(job_file)])
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and result.output.startswith("error: ")
        assert "no state store" in result.output and "Traceback" not in result.output


# -- 8. the demo command ---------------------------------------------------------------------------------------
def test_demo_command_twice(tmp_path):
    job_file = copy_samples(tmp_path)
    cmd = [sys.executable, "-m", "notes2m365.cli", "demo", "--job", str(job_file), "--data", str(tmp_path / "data"),
           "--no-progress"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    m = re.search(r"verified: (\d+) of (\d+) planned items are in the emulator and match the source", first.stdout)
    # 8 messages, 7 events, 4 tasks, 4 contacts; 5 list items and 3 files
    assert m and m.group(1) == m.group(2) == "31", first.stdout
    assert "writes this run: 0" not in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "verified: 31 of 31" in second.stdout
    assert "writes this run: 0" in second.stdout
    assert "Traceback" not in first.stderr + second.stderr
    assert (tmp_path / "data" / "demo.sqlite").is_file() and (tmp_path / "data" / "demo.log").is_file()
    # another --data: a fresh tenant with its own state store, so everything is migrated into it again
    third = subprocess.run([*cmd[:-2], str(tmp_path / "other"), "--no-progress"], capture_output=True, text=True,
                           timeout=120, cwd=tmp_path)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "verified: 31 of 31" in third.stdout and "writes this run: 0" not in third.stdout
    assert f"state: {tmp_path / 'other' / 'demo.sqlite'}" in third.stdout


# -- 9. exit code 3 ---------------------------------------------------------------------------------------------
def test_state_store_in_use_exits_3(emulator, tmp_path):
    job_file = copy_samples(tmp_path)
    job = load_job(job_file)
    with open_state(job.state):
        result = CliRunner().invoke(main, ["migrate", str(job_file), "--graph-url", emulator.base_url,
                                           "--no-progress"])
    assert result.exit_code == 3, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    assert "in use" in result.output and "Traceback" not in result.output
    assert writes_since(emulator, 0) == []


def test_fatal_graph_error_exits_3_and_resumes(emulator, tmp_path):
    emulator.reset(EmulatorConfig(token="secret"))  # the emulator default token is refused: 401
    job_file = copy_samples(tmp_path)
    args = ["migrate", str(job_file), "--graph-url", emulator.base_url, "--no-progress"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 3, result.output
    assert "migration fatal" in result.stdout and "fatal: " in result.stdout
    assert "InvalidAuthenticationToken" in result.stdout or "401" in result.stdout
    assert "Traceback" not in result.output
    assert writes_since(emulator, 0) == [] or all(e["status"] == 401 for e in writes_since(emulator, 0))
    job = load_job(job_file)
    with open_state(job.state, read_only=True) as state:
        assert state.counts()["done"] == 0 and not any(i.permanent for i in state.items("failed"))

    emulator.emulator.config.token = None  # credentials fixed: the same command resumes
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"created {MAILBOX_ITEMS}" in result.stdout
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": "Bearer x"}) as client:
        assert len(get_all(client, U + "/messages")) == 8
