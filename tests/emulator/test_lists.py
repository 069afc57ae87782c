"""SharePoint lists, columns and list items of the emulator, over raw HTTP (graph-semantics §5, §11.11)."""

from __future__ import annotations

import pytest

from notes2m365.emulator import EmulatorConfig, Switches

from .conftest import JANE, JOHN, error_code

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


UIL = "User Information List"


def site_user_id(graph, upn, site=SITE):
    """The person's id in the site's User Information List (what <Col>LookupId takes, graph-semantics §5.2)."""
    items = graph.get(f"{site}/lists/{UIL}/items", params={"$expand": "fields", "$top": "999"}).json()["value"]
    return next(int(i["id"]) for i in items if i["fields"].get("UserName") == upn.lower())


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
    jane, john = site_user_id(graph, JANE), site_user_id(graph, JOHN)
    a = add_item(graph, books["id"], {"Title": "a", "OwnerLookupId": str(jane)})
    b = add_item(graph, books["id"], {"Title": "b", "OwnerLookupId": john})
    assert a.status_code == b.status_code == 201
    assert a.json()["fields"]["OwnerLookupId"] == str(jane) and b.json()["fields"]["OwnerLookupId"] == str(john)


def test_person_written_without_lookup_id_is_400(graph, books):
    r = add_item(graph, books["id"], {"Title": "a", "Owner": "jane"})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")


def test_multi_person_needs_collection_annotation(graph, books):
    ids = [site_user_id(graph, JANE), site_user_id(graph, JOHN)]
    bad = add_item(graph, books["id"], {"Title": "a", "ReadersLookupId": ids})
    assert (bad.status_code, error_code(bad)) == (400, "invalidRequest")
    good = add_item(graph, books["id"], {"Title": "a", "ReadersLookupId@odata.type": "Collection(Edm.Int32)",
                                         "ReadersLookupId": ids})
    assert good.status_code == 201
    assert [v["LookupId"] for v in good.json()["fields"]["Readers"]] == ids


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


# -- the User Information List: site-local person ids (graph-semantics §5.2) ----------------------------------
ARCHIVE = "/sites/acme.sharepoint.com:/sites/archive:"


def test_user_information_list_is_a_hidden_system_list(graph):
    plain = graph.get(f"{SITE}/lists").json()["value"]
    assert UIL not in [x["displayName"] for x in plain]  # system lists are hidden by default (list-list.md)
    assert "Documents" in [x["displayName"] for x in plain]
    selected = graph.get(f"{SITE}/lists", params={"$select": "id,name,displayName,list,system"}).json()["value"]
    uil = next(x for x in selected if x["displayName"] == UIL)
    assert uil["system"] == {} and uil["name"] == "users" and uil["list"]["hidden"] is True
    assert all("system" not in x for x in selected if x["displayName"] != UIL)


def test_user_information_list_by_title_and_by_id(graph):
    by_title = graph.get(f"{SITE}/lists/{UIL}")
    assert by_title.status_code == 200
    assert by_title.json()["webUrl"] == "https://acme.sharepoint.com/sites/teamroom/_catalogs/users"
    assert graph.get(f"{SITE}/lists/{by_title.json()['id']}").json()["displayName"] == UIL


def test_filter_by_display_name_does_not_reveal_system_lists(graph):
    flt = {"$filter": f"displayName eq '{UIL}'"}
    assert graph.get(f"{SITE}/lists", params=flt).json()["value"] == []
    found = graph.get(f"{SITE}/lists", params={**flt, "$select": "id,displayName,system"}).json()["value"]
    assert [x["displayName"] for x in found] == [UIL]


@pytest.mark.parametrize("config", [EmulatorConfig(switches=Switches(system_lists_match_filter=True))])
def test_filter_reveals_system_lists_when_switched(graph, config):
    found = graph.get(f"{SITE}/lists", params={"$filter": f"displayName eq '{UIL}'"}).json()["value"]
    assert [x["displayName"] for x in found] == [UIL]
    assert UIL not in [x["displayName"] for x in graph.get(f"{SITE}/lists").json()["value"]]


def test_user_information_list_items_carry_sharepoint_user_fields(graph):
    items = graph.get(f"{SITE}/lists/{UIL}/items", params={"$expand": "fields"}).json()["value"]
    jane = next(i for i in items if i["fields"].get("EMail") == JANE)
    f = jane["fields"]
    assert (f["Title"], f["UserName"], f["Name"]) == ("Jane Doe", JANE, "i:0#.f|membership|" + JANE)
    assert (f["FirstName"], f["LastName"], f["JobTitle"]) == ("Jane", "Doe", "Sales Manager")
    assert f["IsSiteAdmin"] is False and f["Deleted"] is False and f["ContentType"] == "Person"
    assert int(jane["id"]) == site_user_id(graph, JANE)
    app = graph.get(f"{SITE}/lists/{UIL}/items/1073741822", params={"$expand": "fields"}).json()
    assert app["fields"]["Title"] == "SharePoint App"  # who AuthorLookupId names on app-only writes


@pytest.mark.parametrize("config", [EmulatorConfig()])  # the default list view threshold
def test_filter_on_email_needs_the_prefer_header(graph, config):
    params = {"$expand": "fields", "$filter": f"fields/EMail eq '{JANE}'"}
    r = graph.get(f"{SITE}/lists/{UIL}/items", params=params)
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")
    assert "Field 'EMail' cannot be referenced in filter or orderby as it is not indexed" in r.json()["error"]["message"]
    ok = graph.get(f"{SITE}/lists/{UIL}/items", params=params, headers=PREFER).json()["value"]
    assert [i["fields"]["UserName"] for i in ok] == [JANE]


@pytest.mark.parametrize("config", [EmulatorConfig(switches=Switches(user_info_list_indexed=True))])
def test_filter_on_email_without_prefer_when_switched(graph, config):
    r = graph.get(f"{SITE}/lists/{UIL}/items", params={"$expand": "fields", "$filter": f"fields/EMail eq '{JOHN}'"})
    assert r.status_code == 200 and [i["fields"]["Title"] for i in r.json()["value"]] == ["John Smith"]


def test_person_ids_are_site_local(graph, books):
    here, there = site_user_id(graph, JANE), site_user_id(graph, JANE, ARCHIVE)
    assert here != there
    assert add_item(graph, books["id"], {"Title": "a", "OwnerLookupId": here}).status_code == 201


def test_person_lookup_id_not_in_the_site_list_is_400(graph, books):
    single = add_item(graph, books["id"], {"Title": "a", "OwnerLookupId": 999})
    assert (single.status_code, error_code(single)) == (400, "invalidRequest")  # real code UNCONFIRMED
    multi = add_item(graph, books["id"], {"Title": "a", "ReadersLookupId@odata.type": "Collection(Edm.Int32)",
                                          "ReadersLookupId": [site_user_id(graph, JANE), 4242]})
    assert (multi.status_code, error_code(multi)) == (400, "invalidRequest")
    assert "User Information List" in multi.json()["error"]["message"]


def test_person_lookup_checked_on_patch_too(graph, books):
    add_item(graph, books["id"], {"Title": "a"})
    r = graph.patch(f"{SITE}/lists/{books['id']}/items/1/fields", json={"OwnerLookupId": "5"})
    assert (r.status_code, error_code(r)) == (400, "invalidRequest")
    ok = graph.patch(f"{SITE}/lists/{books['id']}/items/1/fields", json={"OwnerLookupId": site_user_id(graph, JOHN)})
    assert ok.status_code == 200 and ok.json()["OwnerLookupId"] == str(site_user_id(graph, JOHN))


def test_user_information_list_is_not_writable_through_graph(graph):
    uil = graph.get(f"{SITE}/lists/{UIL}").json()["id"]
    jane = site_user_id(graph, JANE)
    for r in (graph.post(f"{SITE}/lists/{uil}/items", json={"fields": {"Title": "Eve"}}),
              graph.patch(f"{SITE}/lists/{uil}/items/{jane}/fields", json={"Title": "Jane D."}),
              graph.delete(f"{SITE}/lists/{uil}/items/{jane}"),
              graph.post(f"{SITE}/lists/{uil}/columns", json={"name": "X", "text": {}}),
              graph.delete(f"{SITE}/lists/{uil}")):
        assert (r.status_code, error_code(r)) == (403, "accessDenied")
    assert site_user_id(graph, JANE) == jane
    dup = graph.post(f"{SITE}/lists", json={"displayName": UIL})
    assert (dup.status_code, error_code(dup)) == (409, "nameAlreadyExists")


TENANT = """
[tenant]
domain = "contoso.example"
sharepoint_host = "contoso.sharepoint.com"

[[users]]
userPrincipalName = "ann.lee@contoso.example"
[[users]]
userPrincipalName = "bob.ray@contoso.example"
{more}
[[sites]]
path = "/sites/open"
[[sites]]
path = "/sites/closed"
siteUsers = ["Ann.Lee@contoso.example"]
siteAdmins = ["bob.ray@contoso.example"]
"""


def test_site_users_are_seeded_from_the_tenant_file(emulator, graph, tmp_path):
    path = tmp_path / "tenant.toml"
    path.write_text(TENANT.format(more=""))
    emulator.reset(EmulatorConfig(tenant_file=str(path)))

    def people(site):
        items = graph.get(f"/sites/contoso.sharepoint.com:/sites/{site}:/lists/{UIL}/items",
                          params={"$expand": "fields"}).json()["value"]
        return {i["fields"]["UserName"]: i["fields"]["IsSiteAdmin"] for i in items if "UserName" in i["fields"]}
    assert people("open") == {"ann.lee@contoso.example": False, "bob.ray@contoso.example": False}
    assert people("closed") == {"ann.lee@contoso.example": False, "bob.ray@contoso.example": True}


def test_a_user_added_to_the_tenant_file_joins_the_default_sites_only(emulator, graph, tmp_path):
    path = tmp_path / "tenant.toml"
    path.write_text(TENANT.format(more=""))
    emulator.reset(EmulatorConfig(tenant_file=str(path), data_dir=str(tmp_path / "data")))
    path.write_text(TENANT.format(more='[[users]]\nuserPrincipalName = "cy.new@contoso.example"\n'))
    emulator.reset(EmulatorConfig(tenant_file=str(path), data_dir=str(tmp_path / "data")))  # re-seed, same store
    names = {}
    for site in ("open", "closed"):
        items = graph.get(f"/sites/contoso.sharepoint.com:/sites/{site}:/lists/{UIL}/items",
                          params={"$expand": "fields"}).json()["value"]
        names[site] = sorted(i["fields"].get("UserName", "") for i in items)
    assert names["open"] == ["", "ann.lee@contoso.example", "bob.ray@contoso.example", "cy.new@contoso.example"]
    assert "cy.new@contoso.example" not in names["closed"]


def test_tenant_file_site_users_must_be_tenant_users():
    from notes2m365.emulator.tenant import validate_tenant
    from notes2m365.errors import ConfigError
    with pytest.raises(ConfigError, match="sites\\[1\\].siteUsers: 'zed@x.example' is not a user"):
        validate_tenant({"users": [{"userPrincipalName": "a@x.example"}],
                         "sites": [{"path": "/sites/s", "siteUsers": ["zed@x.example"]}]})


def test_a_store_from_before_the_user_information_list_gets_one(emulator, graph, tmp_path):
    emulator.reset(EmulatorConfig(data_dir=str(tmp_path)))
    store = emulator.emulator.store
    uil = graph.get(f"{SITE}/lists/{UIL}").json()["id"]
    with store.transaction():
        for item in store.children("spListItem", uil):
            store.delete("spListItem", item["id"])
        store.delete("spList", uil)
    emulator.reset(EmulatorConfig(data_dir=str(tmp_path)))
    assert graph.get(f"{SITE}/lists/{UIL}").json()["id"] == uil
    assert site_user_id(graph, JANE) > 0
