"""SharePoint lists, columns and list items of the emulator, over raw HTTP (graph-semantics §5, §11.11)."""

from __future__ import annotations

import pytest

from notes2m365.emulator import EmulatorConfig, Switches

from .conftest import error_code

SITE = "/sites/acme.sharepoint.com:/sites/teamroom:"
PREFER = {"Prefer": "HonorNonIndexedQueriesWarningMayFailRandomly"}


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(switches=Switches(list_view_threshold=3))


def make_list(graph, name="Docs", columns=None, template="genericList"):
    r = graph.post(f"{SITE}/lists", json={"displayName": name, "columns": columns or [],
                                          "list": {"template": template}})
    assert r.status_code == 201, r.text
    return r.json()


def add_item(graph, list_id, fields):
    return graph.post(f"{SITE}/lists/{list_id}/items", json={"fields": fields})


@pytest.fixture
def books(graph):
    return make_list(graph, "Books", [
        {"name": "Writer", "text": {}},
        {"name": "Body", "text": {"allowMultipleLines": True, "textType": "richText"}},
        {"name": "PageCount", "number": {}},
        {"name": "Done", "boolean": {}},
        {"name": "Due", "dateTime": {}},
        {"name": "Color", "choice": {"choices": ["Red", "Blue"]}},
        {"name": "Owner", "personOrGroup": {}},
        {"name": "Readers", "personOrGroup": {"allowMultipleSelection": True}},
        {"name": "MigrationId", "text": {}, "indexed": True, "enforceUniqueValues": True},
    ])


def test_default_library_is_provisioned(graph):
    lists = graph.get(f"{SITE}/lists").json()["value"]
    docs = next(x for x in lists if x["displayName"] == "Documents")
    assert docs["name"] == "Shared Documents"
    assert docs["list"]["template"] == "documentLibrary"


def test_create_list_returns_graph_shape(graph):
    created = make_list(graph, "Books", [{"name": "Writer", "text": {}}])
    assert {"id", "name", "displayName", "createdDateTime", "lastModifiedDateTime", "webUrl", "list"} <= set(created)
    assert created["list"] == {"contentTypesEnabled": False, "hidden": False, "template": "genericList"}
    assert "columns" not in created
    assert created["webUrl"].endswith("/sites/teamroom/Lists/Books")


def test_columns_only_with_expand_and_system_columns_present(graph):
    created = make_list(graph, "Books", [{"name": "Writer", "text": {}}])
    got = graph.get(f"{SITE}/lists/{created['id']}", params={"$expand": "columns"}).json()
    names = {c["name"] for c in got["columns"]}
    assert {"Title", "Writer", "Created", "Modified", "ID", "Attachments"} <= names


def test_builtin_column_name_gets_numbered_internal_name(graph):
    created = make_list(graph, "Books", [{"name": "Author", "text": {}}])  # the example of DC:api/list-create.md
    cols = graph.get(f"{SITE}/lists/{created['id']}/columns").json()["value"]
    mine = next(c for c in cols if c["name"] == "Author0")
    assert mine["displayName"] == "Author" and "text" in mine


def test_list_addressable_by_display_name(graph):
    created = make_list(graph, "Books")
    assert graph.get(f"{SITE}/lists/Books").json()["id"] == created["id"]


def test_duplicate_list_name_is_409(graph):
    make_list(graph, "Books")
    r = graph.post(f"{SITE}/lists", json={"displayName": "books"})
    assert (r.status_code, error_code(r)) == (409, "nameAlreadyExists")


def test_two_type_facets_is_400(graph):
    r = graph.post(f"{SITE}/lists", json={"displayName": "X", "columns": [{"name": "A", "text": {}, "number": {}}]})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_column_without_facet_is_400(graph):
    r = graph.post(f"{SITE}/lists", json={"displayName": "X", "columns": [{"name": "A"}]})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_invalid_text_type_is_400(graph):
    r = graph.post(f"{SITE}/lists", json={"displayName": "X", "columns": [{"name": "A", "text": {"textType": "x"}}]})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_document_library_list_has_drive(graph):
    lib = make_list(graph, "Archive", template="documentLibrary")
    drive = graph.get(f"{SITE}/lists/{lib['id']}/drive")
    assert drive.status_code == 200 and drive.json()["driveType"] == "documentLibrary"


def test_generic_list_has_no_drive(graph):
    created = make_list(graph, "Books")
    r = graph.get(f"{SITE}/lists/{created['id']}/drive")
    assert (r.status_code, error_code(r)) == (404, "itemNotFound")


def test_add_column_later(graph):
    created = make_list(graph, "Books")
    r = graph.post(f"{SITE}/lists/{created['id']}/columns", json={"name": "Isbn", "text": {}, "indexed": True})
    assert r.status_code == 201 and r.json()["indexed"] is True
    dup = graph.post(f"{SITE}/lists/{created['id']}/columns", json={"name": "isbn", "text": {}})
    assert (dup.status_code, error_code(dup)) == (400, "invalidRequest")


def test_create_item_returns_201_with_fields(graph, books):
    r = add_item(graph, books["id"], {"Title": "Widget", "PageCount": 32, "Color": "Red",
                                      "Body": "<p>rich</p>", "Due": "2024-05-01T10:00:00Z"})
    assert r.status_code == 201
    item = r.json()
    assert item["id"] == "1"
    assert item["fields"]["Title"] == "Widget" and item["fields"]["PageCount"] == 32
    assert {"Created", "Modified", "AuthorLookupId", "EditorLookupId", "_UIVersionString"} <= set(item["fields"])
    assert item["createdBy"]["user"]["displayName"]


def test_item_ids_count_per_list(graph, books):
    other = make_list(graph, "Other")
    assert add_item(graph, books["id"], {"Title": "a"}).json()["id"] == "1"
    assert add_item(graph, books["id"], {"Title": "b"}).json()["id"] == "2"
    assert add_item(graph, other["id"], {"Title": "c"}).json()["id"] == "1"


def test_unknown_field_is_400(graph, books):
    r = add_item(graph, books["id"], {"Title": "x", "Nope": 1})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")
    assert "Field 'Nope' is not recognized" in r.json()["error"]["message"]


@pytest.mark.parametrize("field,value", [("PageCount", "32"), ("Done", "yes"), ("Due", "yesterday"),
                                         ("Color", "Green"), ("Writer", 5)])
def test_type_checks(graph, books, field, value):
    r = add_item(graph, books["id"], {"Title": "x", field: value})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_fill_in_choice_allowed_when_configured(graph):
    created = make_list(graph, "C", [{"name": "Color", "choice": {"choices": ["Red"], "allowTextEntry": True}}])
    assert add_item(graph, created["id"], {"Title": "x", "Color": "Teal"}).status_code == 201


def test_person_lookup_id_string_or_int(graph, books):
    a = add_item(graph, books["id"], {"Title": "a", "OwnerLookupId": "10"})
    b = add_item(graph, books["id"], {"Title": "b", "OwnerLookupId": 11})
    assert a.status_code == b.status_code == 201
    assert a.json()["fields"]["OwnerLookupId"] == "10" and b.json()["fields"]["OwnerLookupId"] == "11"


def test_person_written_without_lookup_id_is_400(graph, books):
    r = add_item(graph, books["id"], {"Title": "a", "Owner": "jane"})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_multi_person_needs_collection_annotation(graph, books):
    bad = add_item(graph, books["id"], {"Title": "a", "ReadersLookupId": [10, 14]})
    assert (bad.status_code, error_code(bad)) == (400, "invalidRequest")
    good = add_item(graph, books["id"], {"Title": "a", "ReadersLookupId@odata.type": "Collection(Edm.Int32)",
                                         "ReadersLookupId": [10, 14]})
    assert good.status_code == 201
    assert [v["LookupId"] for v in good.json()["fields"]["Readers"]] == [10, 14]


def test_lookup_column_checks_target_item(graph):
    target = make_list(graph, "Target")
    add_item(graph, target["id"], {"Title": "t"})
    src = make_list(graph, "Src", [{"name": "Ref", "lookup": {"listId": target["id"], "columnName": "Title"}}])
    assert add_item(graph, src["id"], {"Title": "s", "RefLookupId": "1"}).status_code == 201
    r = add_item(graph, src["id"], {"Title": "s", "RefLookupId": "9"})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


@pytest.mark.parametrize("field", ["Created", "Modified", "AuthorLookupId", "EditorLookupId"])
def test_authorship_fields_are_refused(graph, books, field):
    value = "2001-01-01T00:00:00Z" if field in ("Created", "Modified") else "7"
    r = add_item(graph, books["id"], {"Title": "x", field: value})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_required_column_enforced(graph):
    created = make_list(graph, "R", [{"name": "Must", "text": {}, "required": True}])
    r = add_item(graph, created["id"], {"Title": "x"})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_unique_values_enforced(graph, books):
    assert add_item(graph, books["id"], {"Title": "a", "MigrationId": "K1"}).status_code == 201
    r = add_item(graph, books["id"], {"Title": "b", "MigrationId": "k1"})
    assert (r.status_code, error_code(r)) == (409, "nameAlreadyExists")


def test_unique_on_non_indexed_column_refused(graph):
    r = graph.post(f"{SITE}/lists", json={"displayName": "U", "columns": [
        {"name": "K", "text": {}, "enforceUniqueValues": True}]})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_list_items_fields_only_with_expand(graph, books):
    add_item(graph, books["id"], {"Title": "a", "Writer": "Ann"})
    plain = graph.get(f"{SITE}/lists/{books['id']}/items").json()["value"][0]
    assert "fields" not in plain
    expanded = graph.get(f"{SITE}/lists/{books['id']}/items",
                         params={"$expand": "fields($select=Title,Writer)"}).json()["value"][0]
    assert set(expanded["fields"]) - {"@odata.etag"} == {"Title", "Writer"}


def test_items_paging(graph, books):
    for n in range(3):
        add_item(graph, books["id"], {"Title": f"t{n}"})
    first = graph.get(f"{SITE}/lists/{books['id']}/items", params={"$top": "2"}).json()
    assert len(first["value"]) == 2
    rest = graph.get(first["@odata.nextLink"]).json()
    assert [i["id"] for i in rest["value"]] == ["3"] and "@odata.nextLink" not in rest


def test_patch_fields_bumps_version(graph, books):
    item = add_item(graph, books["id"], {"Title": "a"}).json()
    r = graph.patch(f"{SITE}/lists/{books['id']}/items/1/fields", json={"Title": "b"})
    assert r.status_code == 200
    assert r.json()["Title"] == "b" and r.json()["_UIVersionString"] == "2.0"
    assert r.json()["@odata.etag"] != item["@odata.etag"]


def test_patch_fields_if_match_mismatch_is_412(graph, books):
    add_item(graph, books["id"], {"Title": "a"})
    r = graph.patch(f"{SITE}/lists/{books['id']}/items/1/fields", json={"Title": "b"},
                    headers={"If-Match": '"stale,1"'})
    assert (r.status_code, error_code(r)) == (412, "resourceModified")


def test_patch_item_and_get(graph, books):
    add_item(graph, books["id"], {"Title": "a"})
    r = graph.patch(f"{SITE}/lists/{books['id']}/items/1", json={"fields": {"PageCount": 5}})
    assert r.status_code == 200 and r.json()["fields"]["PageCount"] == 5
    got = graph.get(f"{SITE}/lists/{books['id']}/items/1", params={"$expand": "fields"}).json()
    assert got["fields"]["Title"] == "a" and got["fields"]["PageCount"] == 5


def test_delete_item(graph, books):
    add_item(graph, books["id"], {"Title": "a"})
    assert graph.delete(f"{SITE}/lists/{books['id']}/items/1").status_code == 204
    r = graph.get(f"{SITE}/lists/{books['id']}/items/1")
    assert (r.status_code, error_code(r)) == (404, "itemNotFound")


def test_filter_on_non_indexed_column_is_400(graph, books):
    r = graph.get(f"{SITE}/lists/{books['id']}/items",
                  params={"$expand": "fields", "$filter": "fields/Writer eq 'Ann'"})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")
    assert "Field 'Writer' cannot be referenced in filter or orderby as it is not indexed" in r.json()["error"]["message"]


def test_filter_non_indexed_with_prefer_header(graph, books):
    add_item(graph, books["id"], {"Title": "a", "Writer": "Ann"})
    add_item(graph, books["id"], {"Title": "b", "Writer": "Bob"})
    r = graph.get(f"{SITE}/lists/{books['id']}/items", headers=PREFER,
                  params={"$expand": "fields", "$filter": "fields/Writer eq 'Ann'"})
    assert [i["fields"]["Title"] for i in r.json()["value"]] == ["a"]


def test_filter_non_indexed_over_threshold_fails(graph, books):
    for n in range(4):  # threshold shrunk to 3 by the config fixture
        add_item(graph, books["id"], {"Title": f"t{n}", "Writer": "Ann"})
    r = graph.get(f"{SITE}/lists/{books['id']}/items", headers=PREFER,
                  params={"$filter": "fields/Writer eq 'Ann'"})
    assert (r.status_code, error_code(r)) == (429, "activityLimitReached")


def test_filter_on_indexed_column(graph, books):
    for n in range(4):
        add_item(graph, books["id"], {"Title": f"t{n}", "MigrationId": f"K{n}"})
    r = graph.get(f"{SITE}/lists/{books['id']}/items",
                  params={"$expand": "fields", "$filter": "fields/MigrationId eq 'K2'"})
    assert r.status_code == 200 and [i["id"] for i in r.json()["value"]] == ["3"]


def test_orderby_non_indexed_is_400(graph, books):
    r = graph.get(f"{SITE}/lists/{books['id']}/items", params={"$orderby": "fields/Writer"})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_no_attachments_endpoint(graph, books, method):
    add_item(graph, books["id"], {"Title": "a"})
    r = graph.request(method, f"{SITE}/lists/{books['id']}/items/1/attachments", json={})
    assert (r.status_code, error_code(r)) == (400, "BadRequest")


def test_patch_and_delete_list(graph):
    created = make_list(graph, "Books")
    r = graph.patch(f"{SITE}/lists/{created['id']}", json={"displayName": "Novels"})
    assert r.status_code == 200 and r.json()["displayName"] == "Novels"
    assert graph.delete(f"{SITE}/lists/{created['id']}").status_code == 204
    gone = graph.get(f"{SITE}/lists/{created['id']}")
    assert (gone.status_code, error_code(gone)) == (404, "itemNotFound")


def test_unknown_site_is_404(graph):
    r = graph.get("/sites/acme.sharepoint.com:/sites/nope:/lists")
    assert (r.status_code, error_code(r)) == (404, "itemNotFound")


# -- regressions from the fidelity review -------------------------------------------------------------
def test_list_info_must_be_an_object(graph):
    r = graph.post(f"{SITE}/lists", json={"displayName": "X", "list": "genericList"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalidRequest"


def test_orderby_compares_numbers_as_numbers(graph):
    lst = make_list(graph, "Numbers", [{"name": "Pages", "number": {}, "indexed": True}])
    for pages in (5, 100, 10, 0):
        assert add_item(graph, lst["id"], {"Title": str(pages), "Pages": pages}).status_code == 201
    r = graph.get(f"{SITE}/lists/{lst['id']}/items", params={"$expand": "fields", "$orderby": "fields/Pages desc"})
    assert [i["fields"]["Pages"] for i in r.json()["value"]] == [100, 10, 5, 0]
