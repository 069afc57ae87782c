"""Every payload a plan would send is accepted by the emulator (which rejects what Graph rejects).

This is not the executor (issue 5): containers are resolved by hand here and content uploads carry a
stand-in byte. It catches planners that build bodies Graph would refuse, before a migration meets them.
Run on the demo job and, when present, on the real corpus.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from notes2m365.job import load_job
from notes2m365.plan import build_plan

from ..conftest import CORPUS
from ..test_corpus_plan import FIXTURES

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo.toml"


def without_person_fields(fields: dict) -> dict:
    """Person values are resolved to site user ids at run time (graph-semantics §5.2)."""
    return {k: v for k, v in fields.items() if not (isinstance(v, dict) and "@person" in v)}


def site_url(container: str) -> str:
    site = container.removeprefix("site:").split("/list:")[0].split("/drive:")[0]
    host, _, path = site.partition(":")
    return f"/sites/{host}:{path}:"


def check_every_payload(graph, operations) -> set[str]:
    folders: dict[str, str] = {}
    lists: dict[str, str] = {}
    todo = graph.get("/users/jane.doe@acme.example/todo/lists").json()["value"][0]["id"]
    checked = set()
    for op in operations:
        mailbox = op.container.split("/")[0].removeprefix("mailbox:")
        user = f"/users/{mailbox}"
        if op.op == "ensure-mail-folder":
            parent = op.container.split("folder:", 1)[1]
            url = (f"{user}/mailFolders" if parent == "msgfolderroot"
                   else f"{user}/mailFolders/{folders[parent]}/childFolders")
            r = graph.post(url, json=op.payload)
            folders[op.key.split("#folder/", 1)[1]] = r.json().get("id")
        elif op.op == "create-message":
            folder = op.container.split("folder:", 1)[1]
            r = graph.post(f"{user}/mailFolders/{folders.get(folder, folder)}/messages", json=op.payload)
        elif op.op == "create-event":
            r = graph.post(f"{user}/events", json=op.payload)
        elif op.op == "create-contact":
            r = graph.post(f"{user}/contacts", json=op.payload)
        elif op.op == "create-task":
            r = graph.post(f"{user}/todo/lists/{todo}/tasks", json=op.payload)
        elif op.op == "ensure-list":
            r = graph.post(f"{site_url(op.container)}/lists", json=op.payload)
            lists[op.container + "/list:" + op.payload["displayName"]] = r.json().get("id")
        elif op.op == "create-list-item":
            r = graph.post(f"{site_url(op.container)}/lists/{lists[op.container]}/items",
                           json={"fields": without_person_fields(op.payload["fields"])})
        elif op.op == "upload-file":
            folder = op.container.split("/drive:Documents/", 1)[1]
            r = graph.put(f"{site_url(op.container)}/drive/root:/{folder}/{op.payload['name']}:/content", content=b"x")
        else:
            raise AssertionError(f"no check for {op.op}")
        assert r.status_code in (200, 201), f"{op.op} {op.key}: {r.status_code} {r.text[:400]}"
        checked.add(op.op)
    return checked


def test_every_payload_of_the_demo_plan_is_accepted(graph):
    operations = build_plan(load_job(DEMO)).operations
    assert check_every_payload(graph, operations) == {op.op for op in operations}


def test_every_payload_of_a_real_corpus_plan_is_accepted(graph, tmp_path):
    if not CORPUS.is_dir():
        pytest.skip("real DXL corpus ../shared/corpus/dxl-real is absent")
    job = tmp_path / "corpus.toml"
    job.write_text(f'[target]\ngraph_url = "http://127.0.0.1:8765/v1.0"\n'
                   f'[[mailbox]]\nsource = "{CORPUS}/jnx-spam.xml"\nmailbox = "jane.doe@acme.example"\n'
                   f'[[application]]\nsource = "{CORPUS}/plomino-test_*.xml"\n'
                   f'site = "acme.sharepoint.com:/sites/archive"\nmapping = "{FIXTURES}/plomino-billet.toml"\n')
    operations = build_plan(load_job(job)).operations
    assert len(operations) > 50
    check_every_payload(graph, operations)
