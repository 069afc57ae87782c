"""Every payload the demo plan would send is accepted by the emulator (which rejects what Graph rejects).

This is not the executor (issue 5): containers are resolved by hand here and content uploads are left
out. It catches planners that build bodies Graph would refuse, before a migration meets them.
"""

from __future__ import annotations

from pathlib import Path

from notes2m365.job import load_job
from notes2m365.plan import build_plan

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo.toml"
SITE = "/sites/acme.sharepoint.com:/sites/teamroom:"


def without_person_fields(fields: dict) -> dict:
    """Person values are resolved to site user ids at run time (graph-semantics §5.2)."""
    return {k: v for k, v in fields.items() if not (isinstance(v, dict) and "@person" in v)}


def test_every_planned_payload_is_accepted(graph):
    operations = build_plan(load_job(DEMO)).operations
    folders: dict[str, str] = {}
    list_id = None
    todo = graph.get("/users/jane.doe@acme.example/todo/lists").json()["value"][0]["id"]
    checked = set()
    for op in operations:
        mailbox = op.container.split("/")[0].removeprefix("mailbox:")
        user = f"/users/{mailbox}"
        if op.op == "ensure-mail-folder":
            parent = op.container.split("folder:", 1)[1]
            url = f"{user}/mailFolders" if parent == "msgfolderroot" else f"{user}/mailFolders/{folders[parent]}/childFolders"
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
            r = graph.post(f"{SITE}/lists", json=op.payload)
            list_id = r.json().get("id")
        elif op.op == "create-list-item":
            r = graph.post(f"{SITE}/lists/{list_id}/items",
                           json={"fields": without_person_fields(op.payload["fields"])})
        elif op.op == "upload-file":
            folder = op.container.split("/drive:Documents/", 1)[1]
            r = graph.put(f"{SITE}/drive/root:/{folder}/{op.payload['name']}:/content", content=b"x")
        else:
            raise AssertionError(f"no check for {op.op}")
        assert r.status_code in (200, 201), f"{op.op} {op.key}: {r.status_code} {r.text[:400]}"
        checked.add(op.op)
    assert checked == {op.op for op in operations}
