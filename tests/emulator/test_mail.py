"""Mail folders, messages, attachments and attachment upload sessions of the emulator, over raw HTTP."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from notes2m365.emulator import EmulatorConfig, Switches

from .conftest import JANE, error_code

U = f"/users/{JANE}"
KEY = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name NotesKey"
NON_DRAFT = {"id": "Integer 0x0E07", "value": "1"}


def post_message(graph: httpx.Client, folder: str = "inbox", **body) -> dict:
    r = graph.post(f"{U}/mailFolders/{folder}/messages", json={"subject": "s", **body})
    assert r.status_code == 201, r.text
    return r.json()


# -- folders -------------------------------------------------------------------------------------------
def test_well_known_folders_are_listed_and_hidden_ones_only_on_request(graph):
    names = [f["displayName"] for f in graph.get(f"{U}/mailFolders").json()["value"]]
    assert {"Inbox", "Drafts", "Sent Items", "Deleted Items", "Archive", "Junk Email"} <= set(names)
    assert "Sync Issues" not in names
    hidden = graph.get(f"{U}/mailFolders", params={"includeHiddenFolders": "true", "$top": "50"}).json()["value"]
    assert "Sync Issues" in [f["displayName"] for f in hidden]


@pytest.mark.parametrize("name", ["inbox", "Inbox", "SENTITEMS", "msgfolderroot", "archive", "junkemail"])
def test_well_known_names_address_folders(graph, name):
    assert graph.get(f"{U}/mailFolders/{name}").status_code == 200


def test_duplicate_folder_name_under_the_same_parent_is_ErrorFolderExists(graph):
    assert graph.post(f"{U}/mailFolders", json={"displayName": "Projects"}).status_code == 201
    r = graph.post(f"{U}/mailFolders", json={"displayName": "projects"})
    assert (r.status_code, error_code(r)) == (409, "ErrorFolderExists")
    assert graph.post(f"{U}/mailFolders/inbox/childFolders", json={"displayName": "Projects"}).status_code == 201


def test_child_folders_nest_and_count(graph):
    parent = graph.post(f"{U}/mailFolders", json={"displayName": "Projects"}).json()
    child = graph.post(f"{U}/mailFolders/{parent['id']}/childFolders", json={"displayName": "Alpha"}).json()
    assert child["parentFolderId"] == parent["id"]
    assert graph.get(f"{U}/mailFolders/{parent['id']}").json()["childFolderCount"] == 1
    assert [f["displayName"] for f in graph.get(f"{U}/mailFolders/{parent['id']}/childFolders").json()["value"]] \
        == ["Alpha"]


@pytest.fixture
def config(request):
    return getattr(request, "param", EmulatorConfig())


@pytest.mark.parametrize("config", [EmulatorConfig(switches=Switches(folder_exists_status=400))], indirect=True)
def test_folder_exists_status_is_a_switch(graph):
    graph.post(f"{U}/mailFolders", json={"displayName": "X"})
    r = graph.post(f"{U}/mailFolders", json={"displayName": "X"})
    assert (r.status_code, error_code(r)) == (400, "ErrorFolderExists")


def test_folder_needs_a_display_name(graph):
    r = graph.post(f"{U}/mailFolders", json={"isHidden": False})
    assert (r.status_code, error_code(r)) == (400, "ErrorInvalidRequest")


def test_well_known_folder_cannot_be_deleted_but_own_folder_can(graph):
    r = graph.delete(f"{U}/mailFolders/inbox")
    assert (r.status_code, error_code(r)) == (400, "ErrorDeleteDistinguishedFolder")
    folder = graph.post(f"{U}/mailFolders", json={"displayName": "Tmp"}).json()
    assert graph.delete(f"{U}/mailFolders/{folder['id']}").status_code == 204
    r = graph.get(f"{U}/mailFolders/{folder['id']}")
    assert (r.status_code, error_code(r)) == (404, "ErrorItemNotFound")


def test_unknown_mailbox_is_ErrorInvalidUser(graph):
    r = graph.get("/users/nobody@acme.example/mailFolders")
    assert (r.status_code, error_code(r)) == (404, "ErrorInvalidUser")


# -- draft state, dates, flags ------------------------------------------------------------------------
def test_message_without_flags_is_a_draft(graph):
    assert post_message(graph)["isDraft"] is True


def test_post_to_users_messages_saves_a_draft_in_drafts(graph):
    message = graph.post(f"{U}/messages", json={"subject": "d"}).json()
    drafts = graph.get(f"{U}/mailFolders/drafts").json()
    assert message["isDraft"] is True and message["parentFolderId"] == drafts["id"]


@pytest.mark.parametrize("flags,draft,read", [("1", False, True), ("0", False, False), ("9", True, True),
                                              ("8", True, True), ("5", False, True)])
def test_message_flags_at_creation_decide_draft_and_read(graph, flags, draft, read):
    m = post_message(graph, singleValueExtendedProperties=[{"id": "Integer 0x0E07", "value": flags}])
    assert (m["isDraft"], m["isRead"]) == (draft, read)


def test_dates_in_the_body_are_ignored_and_mapi_times_honoured(graph):
    plain = post_message(graph, receivedDateTime="2001-01-01T00:00:00Z", sentDateTime="2001-01-01T00:00:00Z",
                         singleValueExtendedProperties=[NON_DRAFT])
    assert not plain["receivedDateTime"].startswith("2001")
    dated = post_message(graph, receivedDateTime="2001-01-01T00:00:00Z", singleValueExtendedProperties=[
        NON_DRAFT, {"id": "SystemTime 0x0E06", "value": "2019-05-01T10:00:00+02:00"},
        {"id": "SystemTime 0x0039", "value": "2019-05-01T07:30:00Z"}])
    assert (dated["receivedDateTime"], dated["sentDateTime"]) == ("2019-05-01T08:00:00Z", "2019-05-01T07:30:00Z")


def test_invalid_mapi_values_are_rejected(graph):
    r = graph.post(f"{U}/mailFolders/inbox/messages", json={
        "singleValueExtendedProperties": [{"id": "SystemTime 0x0E06", "value": "yesterday"}]})
    assert (r.status_code, error_code(r)) == (400, "ErrorInvalidExtendedPropertyValue")
    r = graph.post(f"{U}/mailFolders/inbox/messages", json={
        "singleValueExtendedProperties": [{"id": "Integer 0x0E07", "value": 1}]})
    assert (r.status_code, error_code(r)) == (400, "BadRequest")
    r = graph.post(f"{U}/mailFolders/inbox/messages", json={
        "singleValueExtendedProperties": [{"id": "Strng {x} Name y", "value": "1"}]})
    assert (r.status_code, error_code(r)) == (400, "ErrorInvalidProperty")


def test_draft_state_cannot_be_changed_after_creation(graph):
    m = post_message(graph)
    r = graph.patch(f"{U}/messages/{m['id']}", json={"singleValueExtendedProperties": [NON_DRAFT]})
    assert (r.status_code, error_code(r)) == (400, "ErrorInvalidPropertySet")
    r = graph.patch(f"{U}/messages/{m['id']}", json={"isDraft": False})
    assert (r.status_code, error_code(r)) == (400, "ErrorInvalidPropertySet")


def test_non_draft_content_is_read_only_but_flags_and_categories_update(graph):
    m = post_message(graph, singleValueExtendedProperties=[NON_DRAFT])
    r = graph.patch(f"{U}/messages/{m['id']}", json={"subject": "changed"})
    assert (r.status_code, error_code(r)) == (400, "ErrorInvalidPropertyUpdateSentMessage")
    r = graph.patch(f"{U}/messages/{m['id']}", json={"isRead": False, "categories": ["Blue"]})
    assert r.status_code == 200 and r.json()["isRead"] is False and r.json()["categories"] == ["Blue"]
    draft = post_message(graph)
    assert graph.patch(f"{U}/messages/{draft['id']}", json={"subject": "ok"}).json()["subject"] == "ok"


def test_recipients_need_addresses(graph):
    r = graph.post(f"{U}/mailFolders/inbox/messages", json={"toRecipients": [{"emailAddress": {"name": "x"}}]})
    assert (r.status_code, error_code(r)) == (400, "ErrorInvalidRecipients")


# -- extended properties ----------------------------------------------------------------------------
def test_extended_properties_are_never_returned_by_default(graph):
    m = post_message(graph, singleValueExtendedProperties=[NON_DRAFT, {"id": KEY, "value": "A"}])
    assert "singleValueExtendedProperties" not in m
    assert "singleValueExtendedProperties" not in graph.get(f"{U}/messages/{m['id']}").json()
    assert all("singleValueExtendedProperties" not in x for x in graph.get(f"{U}/messages").json()["value"])


def test_expand_with_filter_returns_the_named_property(graph):
    m = post_message(graph, singleValueExtendedProperties=[{"id": KEY, "value": "A/1"}])
    r = graph.get(f"{U}/messages/{m['id']}",
                  params={"$expand": f"singleValueExtendedProperties($filter=id eq '{KEY}')"})
    assert r.json()["singleValueExtendedProperties"] == [{"id": KEY, "value": "A/1"}]
    listed = graph.get(f"{U}/mailFolders/inbox/messages",
                       params={"$expand": f"singleValueExtendedProperties($filter=id eq '{KEY}')"}).json()
    assert listed["value"][0]["singleValueExtendedProperties"][0]["value"] == "A/1"


def test_expand_of_all_extended_properties_is_refused(graph):
    m = post_message(graph)
    r = graph.get(f"{U}/messages/{m['id']}", params={"$expand": "singleValueExtendedProperties"})
    assert (r.status_code, error_code(r)) == (400, "ErrorInvalidRequest")


def any_filter(prop_id: str, op: str, value: str) -> str:
    if op in ("contains", "startswith"):
        return f"singleValueExtendedProperties/Any(ep: ep/id eq '{prop_id}' and {op}(ep/value, '{value}'))"
    return f"singleValueExtendedProperties/Any(ep: ep/id eq '{prop_id}' and ep/value {op} '{value}')"


def test_filter_by_extended_property_name_case_sensitive_value_case_insensitive(graph):
    post_message(graph, singleValueExtendedProperties=[{"id": KEY, "value": "Replica/UNID1"}])
    post_message(graph, singleValueExtendedProperties=[{"id": KEY, "value": "Replica/UNID2"}])

    def hits(flt: str) -> int:
        r = graph.get(f"{U}/messages", params={"$filter": flt})
        assert r.status_code == 200, r.text
        return len(r.json()["value"])
    assert hits(any_filter(KEY, "eq", "replica/unid1")) == 1
    assert hits(any_filter(KEY.upper().replace("NAME NOTESKEY", "Name NotesKey"), "eq", "REPLICA/UNID1")) == 1
    assert hits(any_filter(KEY.replace("NotesKey", "noteskey"), "eq", "Replica/UNID1")) == 0
    assert hits(any_filter(KEY, "ne", "Replica/UNID1")) == 1
    assert hits(any_filter(KEY, "startswith", "replica/")) == 2
    assert hits(any_filter(KEY, "contains", "unid2")) == 1


def test_extended_property_id_only_compares_with_eq(graph):
    r = graph.get(f"{U}/messages", params={
        "$filter": f"singleValueExtendedProperties/Any(ep: ep/id ne '{KEY}' and ep/value eq 'x')"})
    assert (r.status_code, error_code(r)) == (400, "BadRequest")


def test_unparsable_filter_is_400_not_match_all(graph):
    r = graph.get(f"{U}/messages", params={"$filter": "subject eq 'a' and (("})
    assert r.status_code == 400


def test_internet_message_id_filter_returns_every_match(graph):
    for _ in range(2):
        post_message(graph, internetMessageId="<same@acme.example>")
    r = graph.get(f"{U}/messages", params={"$filter": "internetMessageId eq '<same@acme.example>'"})
    assert len(r.json()["value"]) == 2


# -- internet message headers --------------------------------------------------------------------------
def test_headers_must_start_with_x(graph):
    r = graph.post(f"{U}/mailFolders/inbox/messages",
                   json={"internetMessageHeaders": [{"name": "Received", "value": "a"}]})
    assert (r.status_code, error_code(r)) == (400, "InvalidInternetMessageHeader")


def test_at_most_five_headers_and_not_an_empty_list(graph):
    six = [{"name": f"x-h{i}", "value": "v"} for i in range(6)]
    r = graph.post(f"{U}/mailFolders/inbox/messages", json={"internetMessageHeaders": six})
    assert (r.status_code, error_code(r)) == (400, "InvalidInternetMessageHeaderCollection")
    r = graph.post(f"{U}/mailFolders/inbox/messages", json={"internetMessageHeaders": []})
    assert (r.status_code, error_code(r)) == (400, "InvalidInternetMessageHeaderCollection")


def test_headers_are_returned_only_with_select(graph):
    m = post_message(graph, internetMessageHeaders=[{"name": "X-Notes-Unid", "value": "ABC"}])
    assert "internetMessageHeaders" not in graph.get(f"{U}/messages/{m['id']}").json()
    got = graph.get(f"{U}/messages/{m['id']}", params={"$select": "subject,internetMessageHeaders"}).json()
    assert got["internetMessageHeaders"] == [{"name": "X-Notes-Unid", "value": "ABC"}]
    assert set(got) == {"@odata.etag", "id", "subject", "internetMessageHeaders"}


# -- MIME ---------------------------------------------------------------------------------------------
MIME = (b"From: Jane Doe <jane.doe@acme.example>\r\nTo: john.smith@acme.example\r\nSubject: Hello MIME\r\n"
        b"Date: Tue, 05 Mar 2024 09:15:00 +0100\r\nMessage-ID: <m1@acme.example>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nBody text\r\n")


def test_mime_creation_gives_a_draft_with_mime_headers(graph):
    r = graph.post(f"{U}/mailFolders/inbox/messages", content=base64.b64encode(MIME),
                   headers={"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    m = r.json()
    assert (m["isDraft"], m["subject"], m["sentDateTime"]) == (True, "Hello MIME", "2024-03-05T08:15:00Z")
    assert m["internetMessageId"] == "<m1@acme.example>" and m["toRecipients"][0]["emailAddress"]["address"] \
        == "john.smith@acme.example"


def test_mime_with_invalid_base64_is_rejected(graph):
    r = graph.post(f"{U}/mailFolders/inbox/messages", content=b"From: not base64 at all!",
                   headers={"Content-Type": "text/plain"})
    assert (r.status_code, error_code(r)) == (400, "ErrorMimeContentInvalidBase64String")


# -- reads, paging, deletes, moves --------------------------------------------------------------------
def test_paging_by_next_link_and_count(graph):
    for n in range(23):
        post_message(graph, subject=f"m{n}")
    first = graph.get(f"{U}/mailFolders/inbox/messages", params={"$count": "true"}).json()
    assert first["@odata.count"] == 23 and len(first["value"]) == 10
    seen, link = [m["subject"] for m in first["value"]], first["@odata.nextLink"]
    while link:
        assert link.startswith(graph.base_url.scheme + "://")
        page = graph.get(link).json()
        seen += [m["subject"] for m in page["value"]]
        link = page.get("@odata.nextLink")
    assert sorted(seen) == sorted(f"m{n}" for n in range(23))
    top = graph.get(f"{U}/mailFolders/inbox/messages", params={"$top": "5", "$select": "subject"}).json()
    assert len(top["value"]) == 5 and set(top["value"][0]) == {"@odata.etag", "id", "subject"}


def test_top_over_1000_is_rejected(graph):
    r = graph.get(f"{U}/messages", params={"$top": "1001"})
    assert r.status_code == 400


def test_delete_moves_to_deleted_items_then_removes(graph):
    m = post_message(graph)
    assert graph.delete(f"{U}/messages/{m['id']}").status_code == 204
    deleted = graph.get(f"{U}/mailFolders/deleteditems").json()
    assert graph.get(f"{U}/messages/{m['id']}").json()["parentFolderId"] == deleted["id"]
    assert graph.delete(f"{U}/messages/{m['id']}").status_code == 204
    r = graph.get(f"{U}/messages/{m['id']}")
    assert (r.status_code, error_code(r)) == (404, "ErrorItemNotFound")


def test_move_changes_the_id_unless_immutable_ids_are_asked(graph):
    m = post_message(graph)
    archive = graph.get(f"{U}/mailFolders/archive").json()["id"]
    moved = graph.post(f"{U}/messages/{m['id']}/move", json={"destinationId": "archive"}).json()
    assert moved["id"] != m["id"] and moved["parentFolderId"] == archive
    kept = graph.post(f"{U}/messages/{moved['id']}/move", json={"destinationId": "inbox"},
                      headers={"Prefer": 'IdType="ImmutableId"'}).json()
    assert kept["id"] == moved["id"]


# -- attachments ----------------------------------------------------------------------------------
def file_attachment(name: str, data: bytes, **extra) -> dict:
    return {"@odata.type": "#microsoft.graph.fileAttachment", "name": name,
            "contentBytes": base64.b64encode(data).decode(), **extra}


def test_inline_post_up_to_3_mb_and_has_attachments(graph):
    m = post_message(graph)
    r = graph.post(f"{U}/messages/{m['id']}/attachments", json=file_attachment("a.txt", b"hello"))
    assert r.status_code == 201 and r.json()["size"] == 5
    assert graph.get(f"{U}/messages/{m['id']}").json()["hasAttachments"] is True
    listed = graph.get(f"{U}/messages/{m['id']}/attachments").json()["value"]
    assert base64.b64decode(listed[0]["contentBytes"]) == b"hello"


def test_only_inline_attachments_leave_has_attachments_false(graph):
    m = post_message(graph, attachments=[file_attachment("logo.png", b"png", isInline=True, contentId="logo")])
    assert m["hasAttachments"] is False
    assert graph.get(f"{U}/messages/{m['id']}/attachments").json()["value"][0]["contentId"] == "logo"


def test_inline_post_over_3_mb_is_refused(graph):
    m = post_message(graph)
    r = graph.post(f"{U}/messages/{m['id']}/attachments", json=file_attachment("big", b"x" * (3 * 1024 * 1024 + 1)))
    assert (r.status_code, error_code(r)) == (413, "ErrorRequestEntityTooLarge")


def test_attachment_with_invalid_base64_is_refused(graph):
    m = post_message(graph)
    r = graph.post(f"{U}/messages/{m['id']}/attachments",
                   json={"@odata.type": "#microsoft.graph.fileAttachment", "name": "a", "contentBytes": "@@@"})
    assert (r.status_code, error_code(r)) == (400, "BadRequest")


def start_session(graph, message_id: str, size: int, **item) -> httpx.Response:
    return graph.post(f"{U}/messages/{message_id}/attachments/createUploadSession",
                      json={"AttachmentItem": {"attachmentType": "file", "name": "big.bin", "size": size, **item}})


def put_chunk(url: str, data: bytes, start: int, total: int, **headers) -> httpx.Response:
    return httpx.put(url, content=data, headers={"Content-Range": f"bytes {start}-{start + len(data) - 1}/{total}",
                                                 "Content-Type": "application/octet-stream", **headers})


def test_upload_session_in_order_chunks_then_201_with_location(graph):
    m = post_message(graph)
    data = bytes(range(256)) * 4096 * 5  # 5 MiB
    session = start_session(graph, m["id"], len(data))
    assert session.status_code == 201 and session.json()["nextExpectedRanges"] == ["0-"]
    url = session.json()["uploadUrl"]
    first = put_chunk(url, data[:4 * 1024 * 1024], 0, len(data))
    assert first.status_code == 200 and first.json()["nextExpectedRanges"] == [str(4 * 1024 * 1024)]
    last = put_chunk(url, data[4 * 1024 * 1024:], 4 * 1024 * 1024, len(data))
    assert last.status_code == 201 and last.content == b""
    att_id = last.headers["Location"].rsplit("Attachments('", 1)[1].rstrip("')")
    got = graph.get(f"{U}/messages/{m['id']}/attachments/{att_id}/$value")
    assert got.content == data


def test_upload_url_refuses_a_bearer_token(graph):
    m = post_message(graph)
    url = start_session(graph, m["id"], 10).json()["uploadUrl"]
    r = put_chunk(url, b"0123456789", 0, 10, Authorization="Bearer test-token")
    assert r.status_code == 401


def test_upload_chunks_must_come_in_order_and_within_4_mb(graph):
    m = post_message(graph)
    size = 5 * 1024 * 1024
    url = start_session(graph, m["id"], size).json()["uploadUrl"]
    r = put_chunk(url, b"x" * 100, 100, size)
    assert (r.status_code, error_code(r)) == (416, "ErrorInvalidRange")
    r = put_chunk(url, b"x" * (4 * 1024 * 1024 + 1), 0, size)
    assert (r.status_code, error_code(r)) == (413, "ErrorRequestEntityTooLarge")
    assert put_chunk(url, b"x" * 100, 0, size).status_code == 200
    r = put_chunk(url, b"x" * 100, 0, size)
    assert (r.status_code, error_code(r)) == (416, "ErrorInvalidRange")
    r = httpx.put(url, content=b"x", headers={"Content-Type": "application/octet-stream"})
    assert (r.status_code, error_code(r)) == (400, "ErrorInvalidContentRange")


def test_upload_session_is_for_file_attachments_only(graph):
    m = post_message(graph)
    r = start_session(graph, m["id"], 10, attachmentType="item")
    assert (r.status_code, error_code(r)) == (405, "ErrorAttachmentSessionIsSupportedOnlyForFileAttachments")


def test_upload_session_over_150_mb_is_refused(graph):
    m = post_message(graph)
    r = start_session(graph, m["id"], 150 * 1024 * 1024 + 1)
    assert r.status_code == 413


def test_upload_session_on_a_non_draft_is_refused_by_default(graph):
    m = post_message(graph, singleValueExtendedProperties=[NON_DRAFT])
    r = start_session(graph, m["id"], 10)
    assert (r.status_code, error_code(r)) == (400, "ErrorInvalidOperation")


@pytest.mark.parametrize("config", [EmulatorConfig(switches=Switches(upload_session_on_non_draft=True))],
                         indirect=True)
def test_upload_session_on_a_non_draft_is_a_switch(graph):
    m = post_message(graph, singleValueExtendedProperties=[NON_DRAFT])
    assert start_session(graph, m["id"], 10).status_code == 201


@pytest.mark.parametrize("config", [EmulatorConfig(switches=Switches(max_message_bytes=1000))], indirect=True)
def test_message_size_limit(graph):
    m = post_message(graph)
    assert graph.post(f"{U}/messages/{m['id']}/attachments", json=file_attachment("a", b"x" * 600)).status_code == 201
    r = graph.post(f"{U}/messages/{m['id']}/attachments", json=file_attachment("b", b"x" * 600))
    assert (r.status_code, error_code(r)) == (413, "ErrorMessageSizeExceeded")
    r = start_session(graph, m["id"], 600)
    assert (r.status_code, error_code(r)) == (413, "ErrorMessageSizeExceeded")


def test_cancelled_session_and_wrong_token_and_expiry(graph, emulator):
    m = post_message(graph)
    url = start_session(graph, m["id"], 10).json()["uploadUrl"]
    r = put_chunk(url.replace("authtoken=", "authtoken=x"), b"0123456789", 0, 10)
    assert r.status_code == 401
    assert httpx.delete(url).status_code == 204
    r = put_chunk(url, b"0123456789", 0, 10)
    assert (r.status_code, error_code(r)) == (404, "ErrorItemNotFound")
    emulator.config.upload_session_ttl_s = 0.05
    url = start_session(graph, m["id"], 10).json()["uploadUrl"]
    time.sleep(0.1)
    r = put_chunk(url, b"0123456789", 0, 10)
    assert (r.status_code, error_code(r)) == (404, "ErrorItemNotFound")


# -- regressions from the fidelity review -------------------------------------------------------------
@pytest.mark.parametrize("body,code", [
    ({"bogusProp": "x"}, "RequestBodyRead"),
    ({"subject": 5}, "RequestBodyRead"),
    ({"categories": "abc"}, "RequestBodyRead"),
    ({"categories": 5}, "RequestBodyRead"),
    ({"body": "plain"}, "RequestBodyRead"),
    ({"body": {"content": 5}}, "RequestBodyRead"),
    ({"importance": "urgent"}, "RequestBodyRead"),
    ({"isRead": "yes"}, "RequestBodyRead"),
])
def test_message_create_refuses_unknown_and_mistyped_properties(graph, body, code):
    r = graph.post(f"{U}/mailFolders/inbox/messages", json=body)
    assert (r.status_code, error_code(r)) == (400, code)


def test_property_names_match_case_insensitively(graph):
    r = graph.post(f"{U}/mailFolders/inbox/messages", json={"Subject": "hello", "IsRead": False})
    assert r.status_code == 201 and r.json()["subject"] == "hello"


@pytest.mark.parametrize("body,code", [
    ({"bogusProp": "x"}, "RequestBodyRead"),
    ({"Subject": "changed"}, "ErrorInvalidPropertyUpdateSentMessage"),
    ({"receiveddatetime": "2020-01-01T00:00:00Z"}, "ErrorInvalidPropertySet"),
    ({"internetMessageHeaders": [{"name": "x-a", "value": "b"}]}, "ErrorInvalidPropertySet"),
    ({"_ext": {"a": "b"}}, "RequestBodyRead"),
    ({"body": "plain"}, "ErrorInvalidPropertyUpdateSentMessage"),
    ({"isRead": "yes"}, "RequestBodyRead"),
])
def test_message_update_refuses_what_graph_refuses(graph, body, code):
    m = post_message(graph, singleValueExtendedProperties=[NON_DRAFT])
    r = graph.patch(f"{U}/messages/{m['id']}", json=body)
    assert (r.status_code, error_code(r)) == (400, code)


def test_folder_body_is_checked(graph):
    r = graph.post(f"{U}/mailFolders", json={"displayName": "F1", "foo": 1})
    assert (r.status_code, error_code(r)) == (400, "RequestBodyRead")


@pytest.mark.parametrize("params", [
    {"$filter": "nosuchprop eq 'x'"}, {"$select": "nosuchprop"}, {"$orderby": "nosuch"},
    {"$orderby": "subject sideways"}, {"$expand": "bogus"}, {"$count": "maybe"}, {"$search": '"s1"'},
])
def test_query_options_naming_unknown_properties_are_400(graph, params):
    r = graph.get(f"{U}/mailFolders/inbox/messages", params=params)
    assert r.status_code == 400, r.text


def test_expand_attachments(graph):
    m = post_message(graph, attachments=[file_attachment("a.txt", b"abc")])
    got = graph.get(f"{U}/messages/{m['id']}", params={"$expand": "attachments"}).json()
    assert [a["name"] for a in got["attachments"]] == ["a.txt"]


@pytest.mark.parametrize("flt", [
    "singleValueExtendedProperties/Any(ep: ep/value eq 'x')",
    f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY}' or ep/value eq 'x')",
    f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY}' and ep/value gt 'a')",
    f"singleValueExtendedProperties/All(ep: ep/id eq '{KEY}' and ep/value eq 'x')",
    "singleValueExtendedProperties/Any(ep: contains(ep/id, 'Notes') and ep/value eq 'x')",
    f"singleValueExtendedProperties/Any(ep: x/id eq '{KEY}' and ep/value eq 'x')",
])
def test_only_the_documented_extended_property_filter_form_is_accepted(graph, flt):
    r = graph.get(f"{U}/messages", params={"$filter": flt})
    assert r.status_code == 400, r.text


def test_numeric_extended_property_filter_with_cast(graph):
    post_message(graph, singleValueExtendedProperties=[{"id": KEY, "value": "42"}])
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{KEY}' and cast(ep/value, Edm.Int32) gt 40)"
    assert len(graph.get(f"{U}/messages", params={"$filter": flt}).json()["value"]) == 1


def test_top_zero_has_no_next_link(graph):
    post_message(graph)
    r = graph.get(f"{U}/messages", params={"$top": "0"}).json()
    assert r["value"] == [] and "@odata.nextLink" not in r


@pytest.mark.parametrize("config", [EmulatorConfig(switches=Switches(max_message_bytes=1000))], indirect=True)
def test_open_upload_sessions_reserve_message_size(graph):
    m = post_message(graph)
    assert start_session(graph, m["id"], 600).status_code == 201
    r = start_session(graph, m["id"], 600)
    assert (r.status_code, error_code(r)) == (413, "ErrorMessageSizeExceeded")


def test_deleting_a_message_drops_its_upload_sessions(graph, emulator):
    m = post_message(graph)
    start_session(graph, m["id"], 10)
    graph.post(f"{U}/messages/{m['id']}/permanentDelete")
    assert emulator.emulator.store.all("uploadSession") == []


def test_a_moved_message_keeps_its_upload_session(graph):
    m = post_message(graph, folder="drafts")
    url = start_session(graph, m["id"], 10).json()["uploadUrl"]
    moved = graph.post(f"{U}/messages/{m['id']}/move", json={"destinationId": "inbox"}).json()
    assert put_chunk(url, b"0123456789", 0, 10).status_code == 201
    assert [a["size"] for a in graph.get(f"{U}/messages/{moved['id']}/attachments").json()["value"]] == [10]


def test_json_endpoints_need_a_json_content_type(graph):
    r = graph.post(f"{U}/mailFolders", content=b'{"displayName": "X"}', headers={"Content-Type": "application/xml"})
    assert (r.status_code, error_code(r)) == (415, "UnsupportedMediaType")


def test_a_body_over_the_message_size_limit_is_refused_without_attachments(emulator, graph):
    """The size limit counts the body too (a fixed gap: only attachments were counted)."""
    emulator.emulator.config.switches.max_message_bytes = 1000
    r = graph.post("/users/jane.doe@acme.example/mailFolders/inbox/messages",
                   json={"subject": "big", "body": {"contentType": "text", "content": "x" * 2000}})
    assert r.status_code == 413 and r.json()["error"]["code"] == "ErrorMessageSizeExceeded"
    r = graph.post("/users/jane.doe@acme.example/mailFolders/inbox/messages",
                   json={"subject": "small", "body": {"contentType": "text", "content": "x" * 200}})
    assert r.status_code == 201
