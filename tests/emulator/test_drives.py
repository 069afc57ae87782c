"""Drives, drive items, simple upload and upload sessions of the emulator over raw HTTP (graph-semantics §6, §11.12)."""

from __future__ import annotations

import base64
import time
from urllib.parse import quote

import pytest

from notes2m365.emulator import EmulatorConfig, Switches, ThrottleConfig
from notes2m365.emulator.drives import quick_xor_hash

from .conftest import JANE, JOHN, error_code

SITE = "/sites/acme.sharepoint.com:/sites/teamroom:"
K320 = 327_680


@pytest.fixture
def config() -> EmulatorConfig:
    # Small limits so that no test needs big payloads: simple upload 1000 bytes, fragments < 3 x 320 KiB.
    return EmulatorConfig(switches=Switches(drive_simple_upload_limit=1000, drive_upload_chunk_limit=3 * K320))


@pytest.fixture
def drive(graph) -> str:
    return graph.get(f"{SITE}/drive").json()["id"]


def put(graph, drive, path, data=b"hello", **params):
    return graph.put(f"/drives/{drive}/root:/{quote(path)}:/content", content=data, params=params)


def session(graph, drive, path, item=None, **body):
    r = graph.post(f"/drives/{drive}/root:/{path}:/createUploadSession", json={"item": item or {}, **body})
    assert r.status_code == 200, r.text
    return r.json()


def chunk(anon, url, data, first, total):
    return anon.put(url, content=data, headers={"Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}"})


def test_site_drive_and_drives(graph, drive):
    assert drive.startswith("b!")
    assert graph.get(f"/drives/{drive}").json()["driveType"] == "documentLibrary"
    assert drive in [d["id"] for d in graph.get(f"{SITE}/drives").json()["value"]]


def test_root_item(graph, drive):
    root = graph.get(f"/drives/{drive}/root").json()
    assert "folder" in root and root["parentReference"]["driveId"] == drive


def test_simple_upload_creates_201_then_replaces_200(graph, drive):
    first = put(graph, drive, "a.txt", b"one")
    assert first.status_code == 201
    again = put(graph, drive, "a.txt", b"second")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"] and again.json()["size"] == 6


def test_drive_item_shape(graph, drive):
    item = put(graph, drive, "x/y/report.pdf", b"%PDF").json()
    assert item["id"].startswith("01") and len(item["id"]) == 34 and item["id"].isupper()
    assert item["file"]["mimeType"] == "application/pdf"
    assert item["file"]["hashes"]["quickXorHash"] == quick_xor_hash(b"%PDF")
    assert item["parentReference"]["path"] == f"/drives/{drive}/root:/x/y"
    assert item["parentReference"]["driveType"] == "documentLibrary"
    assert {"eTag", "cTag", "webUrl", "fileSystemInfo", "createdDateTime", "lastModifiedDateTime"} <= set(item)


def test_quick_xor_hash_of_empty_is_zero():
    assert base64.b64decode(quick_xor_hash(b"")) == bytes(20)


def test_upload_creates_missing_folders(graph, drive):
    put(graph, drive, "deep/er/f.txt")
    assert graph.get(f"/drives/{drive}/root:/deep/er").json()["folder"]["childCount"] == 1


def test_upload_under_parent_id_and_download(graph, drive):
    folder = graph.post(f"/drives/{drive}/root/children", json={"name": "F", "folder": {}}).json()
    r = graph.put(f"/drives/{drive}/items/{folder['id']}:/n.bin:/content", content=b"\x00\x01")
    assert r.status_code == 201
    assert graph.get(f"/drives/{drive}/items/{r.json()['id']}/content").content == b"\x00\x01"


def test_simple_upload_over_limit_is_413(graph, drive):
    r = put(graph, drive, "big.bin", b"x" * 1001)
    assert (r.status_code, error_code(r)) == (413, "requestEntityTooLarge")


def test_simple_upload_conflict_fail_param(graph, drive):
    put(graph, drive, "a.txt")
    r = put(graph, drive, "a.txt", **{"@microsoft.graph.conflictBehavior": "fail"})
    assert (r.status_code, error_code(r)) == (409, "nameAlreadyExists")


def test_simple_upload_conflict_rename_param(graph, drive):
    put(graph, drive, "a.txt")
    r = put(graph, drive, "a.txt", **{"@microsoft.graph.conflictBehavior": "rename"})
    assert r.status_code == 201 and r.json()["name"] == "a 1.txt"


@pytest.mark.parametrize("name", ["a*b.txt", "a<b", "q?.txt", "a|b", " lead.txt", "trail.txt ", "CON", "lpt9",
                                  ".lock", "desktop.ini", "~$draft.docx", "x_vti_y.txt"])
def test_invalid_names_are_400(graph, drive, name):
    r = put(graph, drive, name)
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_forms_folder_at_root_is_400(graph, drive):
    r = graph.post(f"/drives/{drive}/root/children", json={"name": "Forms", "folder": {}})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")
    assert put(graph, drive, "sub/forms/ok.txt").status_code == 201


def test_path_over_400_chars_is_400(graph, drive):
    r = put(graph, drive, "/".join(["d" * 50] * 7) + "/" + "f" * 60 + ".txt")
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_create_folder_conflicts(graph, drive):
    url = f"/drives/{drive}/root/children"
    assert graph.post(url, json={"name": "F", "folder": {}}).status_code == 201
    dup = graph.post(url, json={"name": "f", "folder": {}})
    assert (dup.status_code, error_code(dup)) == (409, "nameAlreadyExists")
    renamed = graph.post(url, json={"name": "F", "folder": {}, "@microsoft.graph.conflictBehavior": "rename"})
    assert renamed.status_code == 201 and renamed.json()["name"] == "F 1"
    replaced = graph.post(url, json={"name": "F", "folder": {}, "@microsoft.graph.conflictBehavior": "replace"})
    assert replaced.status_code == 201


def test_children_listing_and_path_addressing(graph, drive):
    put(graph, drive, "A/one.txt")
    put(graph, drive, "A/two.txt")
    folder = graph.get(f"/drives/{drive}/root:/A").json()
    names = [c["name"] for c in graph.get(f"/drives/{drive}/items/{folder['id']}/children").json()["value"]]
    assert names == ["one.txt", "two.txt"]
    assert graph.get(f"/drives/{drive}/items/{folder['id']}:/two.txt").json()["name"] == "two.txt"
    assert graph.get(f"/drives/{drive}/root:/A:/children").status_code == 200


def test_missing_path_is_404(graph, drive):
    r = graph.get(f"/drives/{drive}/root:/nope/x.txt")
    assert (r.status_code, error_code(r)) == (404, "itemNotFound")


def test_site_drive_alias(graph, drive):
    put(graph, drive, "alias.txt")
    assert graph.get(f"{SITE}/drive/root:/alias.txt").json()["name"] == "alias.txt"


def test_patch_rename_and_file_system_info(graph, drive):
    item = put(graph, drive, "old.txt").json()
    fsi = {"createdDateTime": "2001-02-03T04:05:06Z", "lastModifiedDateTime": "2002-02-03T04:05:06Z"}
    r = graph.patch(f"/drives/{drive}/items/{item['id']}", json={"name": "new.txt", "fileSystemInfo": fsi})
    assert r.status_code == 200 and r.json()["name"] == "new.txt" and r.json()["fileSystemInfo"] == fsi


def test_rename_to_existing_is_409_and_invalid_is_400(graph, drive):
    put(graph, drive, "a.txt")
    b = put(graph, drive, "b.txt").json()
    dup = graph.patch(f"/drives/{drive}/items/{b['id']}", json={"name": "A.TXT"})
    assert (dup.status_code, error_code(dup)) == (409, "nameAlreadyExists")
    bad = graph.patch(f"/drives/{drive}/items/{b['id']}", json={"name": "b:c"})
    assert (bad.status_code, error_code(bad)) == (400, "invalidRequest")


def test_delete_item(graph, drive):
    item = put(graph, drive, "gone/x.txt").json()
    folder = item["parentReference"]["id"]
    assert graph.delete(f"/drives/{drive}/items/{folder}").status_code == 204
    r = graph.get(f"/drives/{drive}/items/{item['id']}")
    assert (r.status_code, error_code(r)) == (404, "itemNotFound")


# -- upload sessions ---------------------------------------------------------------------------------
def test_session_upload_in_chunks(graph, anon, drive):
    data = bytes(range(256)) * (K320 // 256) + b"tail"
    fsi = {"createdDateTime": "2001-02-03T04:05:06Z", "lastModifiedDateTime": "2002-02-03T04:05:06Z"}
    s = session(graph, drive, "up/big.bin", {"fileSystemInfo": fsi})
    assert s["nextExpectedRanges"] == ["0-"] and "authtoken=" in s["uploadUrl"]
    r1 = chunk(anon, s["uploadUrl"], data[:K320], 0, len(data))
    assert r1.status_code == 202 and r1.json()["nextExpectedRanges"] == [f"{K320}-"]
    r2 = chunk(anon, s["uploadUrl"], data[K320:], K320, len(data))
    assert r2.status_code == 201
    item = r2.json()
    assert item["size"] == len(data) and item["fileSystemInfo"] == fsi
    assert graph.get(f"/drives/{drive}/items/{item['id']}/content").content == data


def test_session_status_and_cancel(graph, anon, drive):
    s = session(graph, drive, "c.bin")
    chunk(anon, s["uploadUrl"], b"x" * K320, 0, K320 + 5)
    status = anon.get(s["uploadUrl"])
    assert status.status_code == 200 and status.json()["nextExpectedRanges"] == [f"{K320}-"]
    assert anon.delete(s["uploadUrl"]).status_code == 204
    r = anon.get(s["uploadUrl"])
    assert (r.status_code, error_code(r)) == (404, "itemNotFound")


def test_session_conflict_fail_at_creation(graph, drive):
    put(graph, drive, "exists.txt")
    r = graph.post(f"/drives/{drive}/root:/exists.txt:/createUploadSession", json={"item": {}})
    assert (r.status_code, error_code(r)) == (409, "nameAlreadyExists")


def test_session_conflict_at_commit(graph, anon, drive):
    s = session(graph, drive, "late.txt")
    put(graph, drive, "late.txt")
    r = chunk(anon, s["uploadUrl"], b"abc", 0, 3)
    assert (r.status_code, error_code(r)) == (409, "upload_name_conflict")


def test_session_replace_returns_200(graph, anon, drive):
    put(graph, drive, "r.txt")
    s = session(graph, drive, "r.txt", {"@microsoft.graph.conflictBehavior": "replace"})
    r = chunk(anon, s["uploadUrl"], b"new!", 0, 4)
    assert r.status_code == 200 and r.json()["size"] == 4


def test_session_rename(graph, anon, drive):
    put(graph, drive, "n.txt")
    s = session(graph, drive, "n.txt", {"@microsoft.graph.conflictBehavior": "rename"})
    r = chunk(anon, s["uploadUrl"], b"new!", 0, 4)
    assert r.status_code == 201 and r.json()["name"] == "n 1.txt"


def test_session_invalid_name_is_400(graph, drive):
    r = graph.post(f"/drives/{drive}/root:/bad%3Fname.txt:/createUploadSession", json={"item": {}})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_chunk_not_multiple_of_320k_is_400(graph, anon, drive):
    s = session(graph, drive, "m.bin")
    r = chunk(anon, s["uploadUrl"], b"x" * 1000, 0, 5000)
    assert (r.status_code, error_code(r)) == (400, "invalidRange")


def test_chunk_too_large_is_413(graph, anon, drive):
    s = session(graph, drive, "l.bin")
    r = chunk(anon, s["uploadUrl"], b"x" * 3 * K320, 0, 4 * K320)
    assert (r.status_code, error_code(r)) == (413, "requestEntityTooLarge")


def test_resent_range_is_416(graph, anon, drive):
    s = session(graph, drive, "o.bin")
    chunk(anon, s["uploadUrl"], b"x" * K320, 0, 2 * K320)
    r = chunk(anon, s["uploadUrl"], b"x" * K320, 0, 2 * K320)
    assert (r.status_code, error_code(r)) == (416, "invalidRange")


def test_out_of_order_fragment_is_416(graph, anon, drive):
    s = session(graph, drive, "g.bin")
    r = chunk(anon, s["uploadUrl"], b"x" * K320, K320, 3 * K320)
    assert (r.status_code, error_code(r)) == (416, "invalidRange")


def test_inconsistent_total_is_400(graph, anon, drive):
    s = session(graph, drive, "t.bin")
    chunk(anon, s["uploadUrl"], b"x" * K320, 0, 2 * K320)
    r = chunk(anon, s["uploadUrl"], b"x" * 10, K320, K320 + 10)
    assert (r.status_code, error_code(r)) == (400, "invalidRange")


def test_bearer_token_on_upload_url_is_401(graph, drive):
    s = session(graph, drive, "b.bin")
    r = graph.put(s["uploadUrl"], content=b"abc", headers={"Content-Range": "bytes 0-2/3"})
    assert r.status_code == 401


def test_wrong_authtoken_is_401(graph, anon, drive):
    s = session(graph, drive, "w.bin")
    r = anon.get(s["uploadUrl"].split("?")[0] + "?authtoken=wrong")
    assert (r.status_code, error_code(r)) == (401, "unauthenticated")


@pytest.mark.parametrize("config", [EmulatorConfig(upload_session_ttl_s=0.2)])
def test_expired_session_is_404(graph, anon, drive, config):
    s = session(graph, drive, "e.bin")
    time.sleep(0.3)
    r = chunk(anon, s["uploadUrl"], b"abc", 0, 3)
    assert (r.status_code, error_code(r)) == (404, "itemNotFound")


def test_defer_commit(graph, anon, drive):
    s = session(graph, drive, "d.bin", deferCommit=True)
    r = chunk(anon, s["uploadUrl"], b"abc", 0, 3)
    assert r.status_code == 202 and r.json()["nextExpectedRanges"] == []
    assert graph.get(f"/drives/{drive}/root:/d.bin").status_code == 404
    done = anon.post(s["uploadUrl"])
    assert done.status_code == 201 and done.json()["size"] == 3


# -- regressions from the fidelity review -------------------------------------------------------------
def test_next_link_re_encodes_the_path(graph, drive):
    for n in range(5):
        assert put(graph, drive, f"My Folder #1/f{n}.txt").status_code == 201
    first = graph.get(f"/drives/{drive}/root:/{quote('My Folder #1')}:/children", params={"$top": "2"}).json()
    names, link = [i["name"] for i in first["value"]], first["@odata.nextLink"]
    while link:
        page = graph.get(link)
        assert page.status_code == 200, page.text
        names += [i["name"] for i in page.json()["value"]]
        link = page.json().get("@odata.nextLink")
    assert sorted(names) == [f"f{n}.txt" for n in range(5)]


def test_a_file_never_replaces_a_folder(graph, drive):
    put(graph, drive, "F/inside.txt")
    r = put(graph, drive, "F", **{"@microsoft.graph.conflictBehavior": "replace"})
    assert r.status_code == 409
    assert graph.get(f"/drives/{drive}/root:/F/inside.txt").status_code == 200


def test_replace_does_not_wipe_a_non_empty_folder(graph, drive):
    put(graph, drive, "Keep/inside.txt")
    r = graph.post(f"/drives/{drive}/root/children", json={
        "name": "Keep", "folder": {}, "@microsoft.graph.conflictBehavior": "replace"})
    assert r.status_code == 409
    assert graph.get(f"/drives/{drive}/root:/Keep/inside.txt").status_code == 200


def test_renaming_a_folder_checks_the_path_length_of_its_contents(graph, drive):
    deep = "d" * 150
    assert put(graph, drive, f"F/{deep}/{deep}.txt").status_code == 201
    folder = graph.get(f"/drives/{drive}/root:/F").json()
    r = graph.patch(f"/drives/{drive}/items/{folder['id']}", json={"name": "F" * 120})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalidRequest"
    assert graph.patch(f"/drives/{drive}/items/{folder['id']}", json={"name": "G"}).status_code == 200


# -- users' OneDrive (/users/{id or UPN}/drive, graph-semantics §6) ----------------------------------------
JANE_DRIVE = f"/users/{JANE}/drive"
JANE_URL = "https://acme-my.sharepoint.com/personal/jane_doe_acme_example/Documents"


def test_each_user_has_an_own_onedrive(graph):
    jane, john = graph.get(JANE_DRIVE), graph.get(f"/users/{JOHN}/drive")
    assert jane.status_code == 200 and john.status_code == 200
    jane, john = jane.json(), john.json()
    assert jane["id"] != john["id"] and jane["id"].startswith("b!")
    user = graph.get(f"/users/{JANE}").json()
    assert jane["driveType"] == "business" and jane["webUrl"] == JANE_URL
    assert {k: jane["owner"]["user"][k] for k in ("id", "displayName")} == {"id": user["id"],
                                                                             "displayName": "Jane Doe"}
    assert john["webUrl"] == "https://acme-my.sharepoint.com/personal/john_smith_acme_example/Documents"
    # by object id and by UPN in any case: the same drive
    assert graph.get(f"/users/{user['id']}/drive").json()["id"] == jane["id"]
    assert graph.get(f"/users/{JANE.upper()}/drive").json()["id"] == jane["id"]
    assert [d["id"] for d in graph.get(f"/users/{JANE}/drives").json()["value"]] == [jane["id"]]


def test_user_drive_by_drive_id(graph):
    drive = graph.get(JANE_DRIVE).json()
    again = graph.get(f"/drives/{drive['id']}")
    assert again.status_code == 200 and again.json()["driveType"] == "business"
    assert again.json()["webUrl"] == JANE_URL
    root = graph.get(f"{JANE_DRIVE}/root").json()
    assert root["parentReference"] == {"driveId": drive["id"], "driveType": "business"}
    assert root["webUrl"] == JANE_URL


def test_user_drive_put_by_path_creates_folders_and_has_web_url(graph):
    drive = graph.get(JANE_DRIVE).json()["id"]
    r = graph.put(f"{JANE_DRIVE}/root:/{quote('Notes attachments/X/report.pdf')}:/content", content=b"%PDF-1.4")
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["webUrl"] == JANE_URL + "/Notes%20attachments/X/report.pdf"
    assert item["parentReference"]["driveId"] == drive and item["parentReference"]["driveType"] == "business"
    assert item["parentReference"]["path"] == f"/drives/{drive}/root:/Notes attachments/X"
    folder = graph.get(f"{JANE_DRIVE}/root:/{quote('Notes attachments')}:/children").json()["value"]
    assert [(f["name"], f["folder"]["childCount"]) for f in folder] == [("X", 1)]
    assert graph.get(f"{JANE_DRIVE}/items/{item['id']}/content").content == b"%PDF-1.4"
    assert graph.get(f"/drives/{drive}/items/{item['id']}").json()["name"] == "report.pdf"
    # personal: John's drive does not have it
    other = graph.get(f"/users/{JOHN}/drive/root:/{quote('Notes attachments/X/report.pdf')}")
    assert (other.status_code, error_code(other)) == (404, "itemNotFound")


def test_user_drive_folders_rename_and_delete(graph):
    folder = graph.post(f"{JANE_DRIVE}/root/children", json={"name": "F", "folder": {}})
    assert folder.status_code == 201 and folder.json()["webUrl"] == JANE_URL + "/F"
    dup = graph.post(f"{JANE_DRIVE}/root/children", json={"name": "F", "folder": {}})
    assert (dup.status_code, error_code(dup)) == (409, "nameAlreadyExists")
    fid = folder.json()["id"]
    renamed = graph.patch(f"{JANE_DRIVE}/items/{fid}", json={"name": "G"})
    assert renamed.status_code == 200 and renamed.json()["webUrl"] == JANE_URL + "/G"
    assert graph.put(f"{JANE_DRIVE}/items/{fid}:/a.txt:/content", content=b"a").status_code == 201
    assert graph.delete(f"{JANE_DRIVE}/items/{fid}").status_code == 204
    assert graph.get(f"{JANE_DRIVE}/root:/G/a.txt").status_code == 404


def test_user_drive_upload_session_in_two_chunks(graph, anon):
    data = b"z" * K320 + b"tail"
    r = graph.post(f"{JANE_DRIVE}/root:/{quote('Notes attachments/Y/big.bin')}:/createUploadSession",
                   json={"item": {}})
    assert r.status_code == 200, r.text
    url = r.json()["uploadUrl"]
    assert "/_upload/drive/" in url and "authtoken=" in url
    with_token = graph.put(url, content=data[:K320], headers={"Content-Range": f"bytes 0-{K320 - 1}/{len(data)}"})
    assert with_token.status_code == 401  # pre-authenticated: a bearer token is refused
    first = chunk(anon, url, data[:K320], 0, len(data))
    assert first.status_code == 202 and first.json()["nextExpectedRanges"] == [f"{K320}-"]
    last = chunk(anon, url, data[K320:], K320, len(data))
    assert last.status_code == 201, last.text
    item = last.json()
    assert item["size"] == len(data) and item["webUrl"] == JANE_URL + "/Notes%20attachments/Y/big.bin"
    assert graph.get(f"{JANE_DRIVE}/items/{item['id']}/content").content == data


def test_unknown_user_has_no_drive(graph):
    for r in (graph.get("/users/nobody@acme.example/drive"),
              graph.put("/users/nobody@acme.example/drive/root:/a.txt:/content", content=b"a"),
              graph.get("/users/00000000-0000-0000-0000-000000000000/drive/root/children")):
        assert (r.status_code, error_code(r)) == (404, "itemNotFound")


def test_user_drive_survives_reset_and_reseed_without_duplicates(emulator, graph, tmp_path):
    emulator.reset(EmulatorConfig(data_dir=str(tmp_path)))
    drive = graph.get(JANE_DRIVE).json()["id"]
    assert graph.put(f"{JANE_DRIVE}/root:/keep.txt:/content", content=b"kept").status_code == 201
    for _ in range(2):  # restart on the same store: the tenant is seeded again each time
        emulator.reset(EmulatorConfig(data_dir=str(tmp_path)))
        assert graph.get(JANE_DRIVE).json()["id"] == drive
        assert graph.get(f"/drives/{drive}/root:/keep.txt:/content").content == b"kept"
    store = emulator.emulator.store
    users = {u["id"] for u in store.all("user")}
    personal = [d for d in store.all("drive") if d.get("_user")]
    assert sorted(d["_user"] for d in personal) == sorted(users)  # exactly one per user
    emulator.reset(EmulatorConfig())  # a fresh in-memory tenant: the same (deterministic) drive id
    assert graph.get(JANE_DRIVE).json()["id"] == drive


def test_seeding_gives_drives_to_users_of_an_older_store(emulator, graph, tmp_path):
    emulator.reset(EmulatorConfig(data_dir=str(tmp_path)))
    store = emulator.emulator.store
    user_id = graph.get(f"/users/{JANE}").json()["id"]
    drive = graph.get(JANE_DRIVE).json()["id"]
    with store.transaction():  # a store from before users had drives
        store.delete("driveItem", store.get("drive", drive)["_root"])
        store.delete("drive", drive)
    emulator.reset(EmulatorConfig(data_dir=str(tmp_path)))
    assert emulator.emulator.store.get("drive", drive)["_user"] == user_id
    assert graph.get(f"/drives/{drive}").status_code == 200


@pytest.mark.parametrize("config", [EmulatorConfig(throttle=ThrottleConfig(sharepoint_units=5))])
def test_user_drive_draws_on_the_sharepoint_budget(graph, config):
    # OneDrive is SharePoint-throttled, per app and tenant (graph-semantics §8.2): one budget with the sites.
    assert graph.get(JANE_DRIVE).status_code == 200  # 1 unit
    assert graph.get(f"{SITE}/drive").status_code == 200  # 1
    assert graph.put(f"{JANE_DRIVE}/root:/a.txt:/content", content=b"a").status_code == 201  # 2 (a write)
    assert graph.get(f"/users/{JOHN}/drive").status_code == 200  # 1: 5 of 5
    r = graph.get(f"{SITE}/drive")
    assert r.status_code == 429 and r.headers["RateLimit-Remaining"] == "0"
    assert graph.get(f"/users/{JANE}/mailFolders/inbox").status_code == 200  # Outlook's budget is apart


# -- document-library files are list items of the library (DC:resources/listitem.md, driveitem.md) ----------
DOCS = f"{SITE}/lists/Documents"
PREFER = {"Prefer": "HonorNonIndexedQueriesWarningMayFailRandomly"}


def add_column(graph, spec):
    r = graph.post(f"{DOCS}/columns", json=spec)
    assert r.status_code == 201, r.text
    return r.json()


def test_a_file_is_a_list_item_of_its_library(graph, drive):
    item = put(graph, drive, "Reports/q1.txt", b"12345").json()
    li = graph.get(f"/drives/{drive}/items/{item['id']}/listItem")
    assert li.status_code == 200, li.text
    li = li.json()
    assert "fields" not in li and li["contentType"]["name"] == "Document"
    assert li["webUrl"] == item["webUrl"]
    fields = graph.get(f"/drives/{drive}/items/{item['id']}/listItem", params={"$expand": "fields"}).json()["fields"]
    assert (fields["FileLeafRef"], fields["FileSizeDisplay"], fields["DocIcon"]) == ("q1.txt", "5", "txt")
    assert fields["ContentType"] == "Document" and fields["id"] == li["id"]
    # the same object through the list, and back to the drive item
    via_list = graph.get(f"{DOCS}/items/{li['id']}", params={"$expand": "fields"}).json()
    assert via_list["fields"]["FileLeafRef"] == "q1.txt" and via_list["@odata.etag"] == li["@odata.etag"]
    back = graph.get(f"{DOCS}/items/{li['id']}/driveItem").json()
    assert back["id"] == item["id"] and back["size"] == 5
    assert graph.get(f"{DOCS}/items/{li['id']}", params={"$expand": "driveItem"}).json()["driveItem"]["id"] == item["id"]


def test_library_items_list_files_and_folders_at_every_depth(graph, drive):
    put(graph, drive, "A/one.txt")
    put(graph, drive, "A/B/two.txt")
    items = graph.get(f"{DOCS}/items", params={"$expand": "fields"}).json()["value"]
    got = {i["fields"]["FileLeafRef"]: i["fields"]["ContentType"] for i in items}
    assert got == {"A": "Folder", "one.txt": "Document", "B": "Folder", "two.txt": "Document"}
    folder_a = next(i for i in items if i["fields"]["FileLeafRef"] == "A")
    assert (folder_a["fields"]["ItemChildCount"], folder_a["fields"]["FolderChildCount"]) == ("1", "1")
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), key=int)


def test_library_columns_are_written_on_the_files_list_item(graph, drive):
    add_column(graph, {"name": "Category", "text": {}, "indexed": True})
    add_column(graph, {"name": "Pages", "number": {}})
    add_column(graph, {"name": "Reviewed", "dateTime": {}})
    item = put(graph, drive, "doc.txt").json()
    url = f"/drives/{drive}/items/{item['id']}/listItem/fields"
    r = graph.patch(url, json={"Category": "Minutes", "Pages": 3, "Reviewed": "2001-02-03T04:05:06+02:00",
                               "Title": "Board minutes"})
    assert r.status_code == 200, r.text
    assert (r.json()["Category"], r.json()["Pages"], r.json()["Reviewed"]) == ("Minutes", 3, "2001-02-03T02:05:06Z")
    n = graph.get(f"/drives/{drive}/items/{item['id']}/listItem").json()["id"]
    read = graph.get(f"{SITE}/lists/Documents/items/{n}/fields").json()
    assert (read["Category"], read["Title"], read["_UIVersionString"]) == ("Minutes", "Board minutes", "2.0")
    for bad in ({"Pages": "3"}, {"Category": 5}, {"Nope": 1}, {"FileSizeDisplay": "9"}):
        r = graph.patch(url, json=bad)
        assert (r.status_code, error_code(r)) == (400, "invalidRequest"), bad
    via_site_drive = graph.patch(f"{SITE}/drive/root:/doc.txt:/listItem/fields", json={"Pages": 4})
    assert via_site_drive.status_code == 200 and via_site_drive.json()["Pages"] == 4
    via_list = graph.patch(f"{DOCS}/items/{n}", json={"fields": {"Pages": 5}})
    assert via_list.status_code == 200 and via_list.json()["fields"]["Pages"] == 5
    via_drive = graph.patch(f"/drives/{drive}/items/{item['id']}/listItem", json={"fields": {"Pages": 6}})
    assert via_drive.status_code == 200 and via_drive.json()["fields"]["Pages"] == 6


def test_person_column_on_a_library_file_takes_site_user_ids(graph, drive):
    from .test_lists import site_user_id
    add_column(graph, {"name": "Owner", "personOrGroup": {"chooseFromType": "peopleOnly"}})
    item = put(graph, drive, "owned.txt").json()
    url = f"/drives/{drive}/items/{item['id']}/listItem/fields"
    jane = site_user_id(graph, JANE)
    assert graph.patch(url, json={"OwnerLookupId": str(jane)}).json()["OwnerLookupId"] == str(jane)
    r = graph.patch(url, json={"OwnerLookupId": "999"})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_filter_on_library_columns_follows_the_indexing_rules(graph, drive):
    add_column(graph, {"name": "NotesKey", "text": {}, "indexed": True})
    for n in range(3):
        item = put(graph, drive, f"f{n}.txt").json()
        graph.patch(f"/drives/{drive}/items/{item['id']}/listItem/fields", json={"NotesKey": f"K{n}"})
    found = graph.get(f"{DOCS}/items", params={"$expand": "fields", "$filter": "fields/NotesKey eq 'K1'"})
    assert found.status_code == 200 and [i["fields"]["FileLeafRef"] for i in found.json()["value"]] == ["f1.txt"]
    params = {"$expand": "fields", "$filter": "fields/FileLeafRef eq 'f2.txt'"}
    r = graph.get(f"{DOCS}/items", params=params)
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")
    assert "Field 'FileLeafRef' cannot be referenced in filter" in r.json()["error"]["message"]
    ok = graph.get(f"{DOCS}/items", params=params, headers=PREFER).json()["value"]
    assert [i["fields"]["NotesKey"] for i in ok] == ["K2"]


def test_deleting_the_file_deletes_its_list_item_and_back(graph, drive):
    one = put(graph, drive, "one.txt").json()
    two = put(graph, drive, "F/two.txt").json()
    n1 = graph.get(f"/drives/{drive}/items/{one['id']}/listItem").json()["id"]
    assert graph.delete(f"/drives/{drive}/items/{one['id']}").status_code == 204
    gone = graph.get(f"{DOCS}/items/{n1}")
    assert (gone.status_code, error_code(gone)) == (404, "itemNotFound")
    folder = graph.get(f"/drives/{drive}/root:/F:/listItem").json()["id"]
    assert graph.delete(f"{DOCS}/items/{folder}").status_code == 204  # the folder, with what is in it
    for r in (graph.get(f"/drives/{drive}/items/{two['id']}"), graph.get(f"/drives/{drive}/root:/F")):
        assert (r.status_code, error_code(r)) == (404, "itemNotFound")
    assert graph.get(f"{DOCS}/items").json()["value"] == []


def test_items_cannot_be_created_in_a_library_through_the_list(graph):
    r = graph.post(f"{DOCS}/items", json={"fields": {"Title": "x"}})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")
    assert r.json()["error"]["message"] == ("Files and folders should only be added to a DocumentLibrary "
                                            "via the OneDrive API")


def test_children_with_expanded_list_item_fields(graph, drive):
    add_column(graph, {"name": "Category", "text": {}})
    item = put(graph, drive, "c/x.txt").json()
    graph.patch(f"/drives/{drive}/items/{item['id']}/listItem/fields", json={"Category": "Memo"})
    kids = graph.get(f"/drives/{drive}/root:/c:/children",
                     params={"$expand": "listItem($expand=fields($select=FileLeafRef,Category))"}).json()["value"]
    assert [set(k["listItem"]["fields"]) - {"@odata.etag"} for k in kids] == [{"FileLeafRef", "Category"}]
    assert kids[0]["listItem"]["fields"]["Category"] == "Memo"
    plain = graph.get(f"/drives/{drive}/items/{item['id']}").json()
    assert "listItem" not in plain and "sharepointIds" not in plain


def test_sharepoint_ids_only_when_selected(graph, drive):
    item = put(graph, drive, "ids.txt").json()
    docs = graph.get(DOCS).json()["id"]
    got = graph.get(f"/drives/{drive}/items/{item['id']}", params={"$select": "id,sharepointIds"}).json()
    n = graph.get(f"/drives/{drive}/items/{item['id']}/listItem").json()["id"]
    assert got["sharepointIds"]["listId"] == docs and got["sharepointIds"]["listItemId"] == n
    assert got["sharepointIds"]["siteUrl"] == "https://acme.sharepoint.com/sites/teamroom"


def test_list_item_etag_follows_the_file(graph, drive):
    item = put(graph, drive, "e.txt", b"one").json()
    url = f"/drives/{drive}/items/{item['id']}/listItem/fields"
    first = graph.get(f"/drives/{drive}/items/{item['id']}/listItem").json()["@odata.etag"]
    put(graph, drive, "e.txt", b"two")  # new content: a new version of the same item
    second = graph.get(f"/drives/{drive}/items/{item['id']}/listItem").json()["@odata.etag"]
    assert first != second
    stale = graph.patch(url, json={"Title": "t"}, headers={"If-Match": first})
    assert (stale.status_code, error_code(stale)) == (412, "resourceModified")
    assert graph.patch(url, json={"Title": "t"}, headers={"If-Match": second}).status_code == 200


def test_file_leaf_ref_follows_renames_and_is_read_only_by_default(graph, drive):
    item = put(graph, drive, "old.txt").json()
    graph.patch(f"/drives/{drive}/items/{item['id']}", json={"name": "new.txt"})
    url = f"/drives/{drive}/items/{item['id']}/listItem/fields"
    assert graph.get(url).json()["FileLeafRef"] == "new.txt"
    r = graph.patch(url, json={"FileLeafRef": "other.txt"})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


@pytest.mark.parametrize("config", [EmulatorConfig(switches=Switches(library_file_leaf_ref_writable=True))])
def test_file_leaf_ref_renames_when_switched(graph, drive, config):
    item = put(graph, drive, "old.txt").json()
    put(graph, drive, "taken.txt")
    url = f"/drives/{drive}/items/{item['id']}/listItem/fields"
    assert graph.patch(url, json={"FileLeafRef": "renamed.txt"}).json()["FileLeafRef"] == "renamed.txt"
    assert graph.get(f"/drives/{drive}/items/{item['id']}").json()["name"] == "renamed.txt"
    for name, status in (("taken.txt", 409), ("bad|name.txt", 400)):
        assert graph.patch(url, json={"FileLeafRef": name}).status_code == status


def test_drive_list_is_the_library(graph, drive):
    docs = graph.get(DOCS).json()
    assert graph.get(f"/drives/{drive}/list").json()["id"] == docs["id"]
    assert graph.get(f"{SITE}/drive/list").json()["displayName"] == "Documents"
    lib = graph.post(f"{SITE}/lists", json={"displayName": "Archive", "list": {"template": "documentLibrary"}}).json()
    lib_drive = graph.get(f"{SITE}/lists/{lib['id']}/drive").json()["id"]
    f = graph.put(f"/drives/{lib_drive}/root:/a.txt:/content", content=b"a").json()
    assert graph.get(f"/drives/{lib_drive}/items/{f['id']}/listItem").json()["id"] == "1"  # the list's own ids
    assert [i["id"] for i in graph.get(f"{SITE}/lists/{lib['id']}/items").json()["value"]] == ["1"]


def test_root_and_onedrive_items_have_no_list_item(graph, drive):
    root = graph.get(f"/drives/{drive}/root/listItem")
    assert (root.status_code, error_code(root)) == (404, "itemNotFound")
    f = graph.put(f"{JANE_DRIVE}/root:/p.txt:/content", content=b"p").json()
    r = graph.get(f"{JANE_DRIVE}/items/{f['id']}/listItem")
    assert (r.status_code, error_code(r)) == (404, "itemNotFound")


def test_a_generic_list_item_has_no_drive_item(graph):
    lst = graph.post(f"{SITE}/lists", json={"displayName": "Plain"}).json()
    graph.post(f"{SITE}/lists/{lst['id']}/items", json={"fields": {"Title": "x"}})
    r = graph.get(f"{SITE}/lists/{lst['id']}/items/1/driveItem")
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_files_of_an_older_store_become_list_items(emulator, graph, tmp_path):
    emulator.reset(EmulatorConfig(data_dir=str(tmp_path)))
    drive = graph.get(f"{SITE}/drive").json()["id"]
    put(graph, drive, "old/a.txt")
    store = emulator.emulator.store
    docs = graph.get(DOCS).json()["id"]
    with store.transaction():  # as a store written before library files were list items
        for row in store.children("libraryItem", docs):
            store.delete("libraryItem", row["id"])
        for item in store.owned("driveItem", drive):
            for key in ("_n", "_list", "_fields"):
                item.pop(key, None)
            store.put("driveItem", item)
        lib = store.get("spList", docs)
        lib.pop("_numbered")
        store.put("spList", lib)
    emulator.reset(EmulatorConfig(data_dir=str(tmp_path)))
    items = graph.get(f"{DOCS}/items", params={"$expand": "fields"}).json()["value"]
    assert [i["fields"]["FileLeafRef"] for i in items] == ["old", "a.txt"]
    n = items[1]["id"]
    assert graph.get(f"{DOCS}/items/{n}/driveItem").json()["name"] == "a.txt"
    assert graph.get(f"{SITE}/drive/root:/old/a.txt:/listItem").json()["id"] == n  # numbered once, kept


def test_msgraph_sdk_writes_a_files_columns_with_a_site_user(emulator):
    """The SDK's own request builders hit these routes.  msgraph-sdk offers only GET on a drive item's
    list_item (no fields, no PATCH), so a file's columns are written through the library's list:
    /sites/{s}/lists/{library}/items/{listItem.id}/fields."""
    import asyncio

    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.drives.item.items.item.list_item.list_item_request_builder import \
        ListItemRequestBuilder
    from msgraph.generated.models.column_definition import ColumnDefinition
    from msgraph.generated.models.field_value_set import FieldValueSet
    from msgraph.generated.models.person_or_group_column import PersonOrGroupColumn
    from msgraph.generated.sites.item.lists.item.items.items_request_builder import ItemsRequestBuilder

    from .test_sdk import sdk_client

    async def run():
        client = sdk_client(emulator)
        site = await client.sites.by_site_id("acme.sharepoint.com:/sites/teamroom:").get()
        lists = client.sites.by_site_id(site.id).lists
        people = await lists.by_list_id("User Information List").items.get(RequestConfiguration(
            query_parameters=ItemsRequestBuilder.ItemsRequestBuilderGetQueryParameters(expand=["fields"])))
        jane = next(i.id for i in people.value if i.fields.additional_data.get("EMail") == JANE)
        docs = await lists.by_list_id("Documents").get()
        await lists.by_list_id(docs.id).columns.post(ColumnDefinition(name="Owner",
                                                                      person_or_group=PersonOrGroupColumn()))
        drive = await client.sites.by_site_id(site.id).drive.get()
        item = await client.drives.by_drive_id(drive.id).items.by_drive_item_id("root:/sdk.txt:").content.put(b"x")
        list_item = client.drives.by_drive_id(drive.id).items.by_drive_item_id(item.id).list_item
        number = (await list_item.get()).id
        written = await lists.by_list_id(docs.id).items.by_list_item_id(number).fields.patch(
            FieldValueSet(additional_data={"OwnerLookupId": jane, "Title": "From the SDK"}))
        got = await list_item.get(RequestConfiguration(
            query_parameters=ListItemRequestBuilder.ListItemRequestBuilderGetQueryParameters(expand=["fields"])))
        return jane, written.additional_data, got
    jane, written, got = asyncio.run(run())
    assert written["OwnerLookupId"] == jane and written["FileLeafRef"] == "sdk.txt"
    assert got.fields.additional_data["Title"] == "From the SDK" and got.content_type.name == "Document"
