"""Planning application sources: the teamroom sample into a list, and column type conversion."""

from __future__ import annotations

import json

import pytest

from notes2m365.appplan import LINKS_KEY, plan_application
from notes2m365.convert import iter_converted
from notes2m365.identity import IdentityMap, IdentityRules
from notes2m365.mapping import load_mapping

from .conftest import SAMPLES, database, document, write

SITE = "acme.sharepoint.com:/sites/teamroom"
RESTRICTED = "acme.sharepoint.com:/sites/teamroom-restricted"
IDENTITY_CSV = SAMPLES / "identity.csv"


def converted(path):
    return [conv if conv is not None else record for _p, _s, record, conv in iter_converted([str(path)])]


def identity() -> IdentityMap:
    return IdentityMap.load(str(IDENTITY_CSV), IdentityRules(internet_domains=("acme.example",)))


def teamroom_plan(restricted: str = RESTRICTED):
    return plan_application(SITE, load_mapping("builtin:teamroom"), converted(SAMPLES / "apps/teamroom-discussion.dxl"),
                            identity(), source_file="apps/teamroom-discussion.dxl", restricted=restricted)


def test_teamroom_sample_becomes_a_list_items_and_library_files():
    plan = teamroom_plan()
    ops = [op.op for op in plan.operations]
    assert ops[0] == "ensure-list" and ops.count("create-list-item") == 5 and ops.count("upload-file") == 3
    assert ops.count("ensure-list") == 2  # the restricted documents' list is on the restricted site
    columns = {c["name"]: c for c in plan.operations[0].payload["columns"]}
    assert columns["NotesKey"]["indexed"] is True and columns["Body"]["text"]["textType"] == "richText"
    assert "Title" not in columns  # genericList's own column
    assert sum(plan.documents.values()) == 5


def test_items_carry_provenance_people_and_their_thread():
    plan = teamroom_plan()
    items = {op.form: op for op in plan.operations if op.op == "create-list-item"}
    topic, response = items["MainTopic"], items["Response"]
    fields = topic.payload["fields"]
    assert fields["NotesKey"] == topic.key and fields["NotesForm"] == "MainTopic"
    assert fields["PostedBy"] == {"@person": [fields["PostedBy"]["@person"][0]]}
    assert fields["PostedBy"]["@person"][0].endswith("@acme.example")
    assert fields["NotesCreated"].endswith("Z") and "T" in fields["NotesCreated"]
    assert response.payload["fields"]["ParentKey"] in response.depends_on  # a response follows its topic


def test_attachments_go_to_the_library_under_the_document_key():
    plan = teamroom_plan()
    uploads = [op for op in plan.operations if op.op == "upload-file"]
    owner = next(op for op in plan.operations if op.key == uploads[0].key.split("#")[0])
    unid = owner.key.split("/")[1]
    assert uploads[0].container == f"site:{SITE}/drive:Documents/TeamRoom/{unid}"
    assert uploads[0].key.endswith("#att/1") and uploads[0].content[0].sha256
    assert uploads[0].payload["name"] in owner.payload["fields"]["NotesAttachments"]


def test_unmapped_items_and_degraded_content_are_reported():
    issues = teamroom_plan().issues
    assert issues.unmapped_items == {"Document.ImportNote": 1, "Document.Keywords": 1}
    assert any("OLE" in k for k in issues.degraded)


def test_plans_are_deterministic():
    assert [op.line() for op in teamroom_plan().operations] == [op.line() for op in teamroom_plan().operations]


CUSTOM = """[mapping]
kind = "application"
forms = ["Order"]
condition = "text('Status') != 'Cancelled'"
[list]
name = "Orders"
[[column]]
name = "Title"
from = "Subject"
[[column]]
name = "Amount"
from = "Amount"
type = "number"
[[column]]
name = "Due"
from = "DueDate"
type = "dateTime"
[[column]]
name = "Paid"
from = "Paid"
type = "boolean"
[[column]]
name = "Status"
from = "Status"
type = "choice"
choices = ["Open", "Shipped"]
default = "Open"
[[column]]
name = "Link"
from = "Url"
type = "hyperlink"
[[column]]
name = "Owner"
from = "Owner"
type = "person"
"""


def order(n, status, amount="12.5", paid="Yes", url="https://acme.example/o/1", owner="CN=Jane Doe/OU=Sales/O=Acme"):
    return document(n, f"<item name='Subject'><text>Order {n}</text></item>"
                       f"<item name='Status'><text>{status}</text></item>"
                       f"<item name='Amount'><text>{amount}</text></item>"
                       f"<item name='DueDate'><datetime>20240401</datetime></item>"
                       f"<item name='Paid'><text>{paid}</text></item><item name='Url'><text>{url}</text></item>"
                       f"<item name='Owner'><text>{owner}</text></item>", form="Order")


def test_custom_mapping_converts_values_to_column_types(tmp_path):
    mapping_path = tmp_path / "orders.toml"
    mapping_path.write_text(CUSTOM)
    dxl = write(tmp_path, database(order(1, "Shipped") + order(2, "Cancelled") +
                                   order(3, "Lost", amount="n/a", paid="no", url="ftp://x", owner="CN=Nobody/O=Else")))
    plan = plan_application(SITE, load_mapping(str(mapping_path)), converted(dxl), identity())
    items = [op for op in plan.operations if op.op == "create-list-item"]
    assert len(items) == 2 and plan.issues.unmapped_forms == {"Order (condition false)": 1}
    first = items[0].payload["fields"]
    assert (first["Amount"], first["Due"], first["Paid"], first["Status"]) == (12.5, "2024-04-01T00:00:00Z", True,
                                                                                "Shipped")
    assert first["Link"] == {"Url": "https://acme.example/o/1", "Description": "https://acme.example/o/1"}
    third = items[1]
    assert "Amount" not in third.payload["fields"] and third.payload["fields"]["Paid"] is False
    assert "Status" not in third.payload["fields"]  # 'Lost' is not a choice: warned, and the default is not forced
    warnings = " | ".join(third.warnings)
    assert "'n/a' is not a number" in warnings and "'Lost' is not one of the choices" in warnings
    assert "'ftp://x' is not a link" in warnings and "not mapped to an account" in warnings
    json.loads(third.line())


def test_job_filters_apply_to_applications():
    from datetime import date

    from notes2m365.job import Filters
    docs = converted(SAMPLES / "apps/teamroom-discussion.dxl")
    mapping = load_mapping("builtin:teamroom")
    only_topics = plan_application(SITE, mapping, docs, identity(), filters=Filters(forms=("MainTopic",)),
                                   restricted=RESTRICTED)
    assert only_topics.documents == {"MainTopic": 2} and only_topics.issues.left_out == {"filtered out by the job": 3}
    nothing_new = plan_application(SITE, mapping, docs, identity(), filters=Filters(since=date(2030, 1, 1)),
                                   restricted=RESTRICTED)
    assert nothing_new.operations == [] and nothing_new.issues.left_out == {"filtered out by the job": 5}


# -- regressions from the review of issue 4 ------------------------------------------------------------
def app_mapping(tmp_path, body: str, template: str = "genericList", attachments: str = "library"):
    path = tmp_path / "m.toml"
    path.write_text(f'[mapping]\nkind = "application"\nforms = ["Doc"]\n[list]\nname = "Docs"\n'
                    f'template = "{template}"\n' + (f'attachments = "{attachments}"\n' if template == "genericList"
                                                   else "") + body)
    return load_mapping(str(path))


TITLE = '[[column]]\nname = "Title"\nfrom = "Subject"\n'


def doc_with(n, items="", files=()):
    import base64
    objects = "".join(f"<item name='$FILE'><object><file hosttype='msdos' name='{name}'><filedata>"
                      f"{base64.b64encode(data).decode()}</filedata></file></object></item>" for name, data in files)
    return document(n, f"<item name='Subject'><text>Doc {n}</text></item>{items}{objects}", form="Doc")


def test_a_value_that_grows_without_bound_is_a_warning_not_a_crash(tmp_path):
    mapping = app_mapping(tmp_path, TITLE + '[[column]]\nname = "Big"\ntype = "note"\n'
                                             'expr = "replace(text(\'Subject\'), \'\', text(\'Subject\'))"\n')
    plan = plan_application(SITE, mapping, converted(write(tmp_path, database(doc_with(1)))), identity())
    item = plan.operations[1]
    assert "Big" not in item.payload["fields"] and any("Big:" in w for w in item.warnings)


def test_a_failing_condition_makes_that_document_an_error_and_the_rest_goes_on(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('[mapping]\nkind = "application"\nforms = ["Doc"]\n'
                    'condition = "text(\'Subject\') != \'Doc 2\' or replace(\'a\', \'\', \'b\') == \'x\'"\n'
                    '[list]\nname = "Docs"\n' + TITLE)
    plan = plan_application(SITE, load_mapping(str(path)), converted(write(tmp_path, database(
        doc_with(1) + doc_with(2) + doc_with(3)))), identity())
    assert plan.documents == {"Doc": 2} and len(plan.issues.errors) == 1 and "cannot plan" in plan.issues.errors[0]


def test_several_values_in_a_single_value_column_are_warned_about(tmp_path):
    mapping = app_mapping(tmp_path, TITLE + '[[column]]\nname = "Amount"\nfrom = "Amount"\ntype = "number"\n')
    dxl = write(tmp_path, database(doc_with(1, "<item name='Amount'><numberlist><number>1</number>"
                                               "<number>2</number></numberlist></item>")))
    item = plan_application(SITE, mapping, converted(dxl), identity()).operations[1]
    assert item.payload["fields"]["Amount"] == 1 and "kept the first of 2 values" in " ".join(item.warnings)


def test_numbers_are_finite_and_thousands_separators_are_not_guessed(tmp_path):
    mapping = app_mapping(tmp_path, TITLE + '[[column]]\nname = "Amount"\nfrom = "Amount"\ntype = "number"\n')
    docs = "".join(doc_with(n, f"<item name='Amount'><text>{text}</text></item>")
                   for n, text in ((1, "NaN"), (2, "1,234"), (3, "12,5"), (4, "inf")))
    items = plan_application(SITE, mapping, converted(write(tmp_path, database(docs))), identity()).operations[1:]
    assert [op.payload["fields"].get("Amount") for op in items] == [None, None, 12.5, None]
    for op in items:  # valid JSON: no NaN or Infinity constants
        json.loads(op.line(), parse_constant=lambda constant: pytest.fail(f"{constant} in {op.key}"))


def test_text_limit_counts_utf16_units(tmp_path):
    mapping = app_mapping(tmp_path, TITLE)
    dxl = write(tmp_path, database(document(1, "<item name='Subject'><text>" + "\U0001F600" * 200 + "</text></item>",
                                            form="Doc")))
    title = plan_application(SITE, mapping, converted(dxl), identity()).operations[1].payload["fields"]["Title"]
    assert len(title.encode("utf-16-le")) // 2 <= 255


def test_fill_in_choices_are_deduplicated_and_the_same_under_any_hash_seed(tmp_path):
    import subprocess
    import sys
    mapping_body = TITLE + '[[column]]\nname = "Tag"\nfrom = "Tag"\ntype = "choice"\nfill_in = true\n'
    docs = "".join(doc_with(n, f"<item name='Tag'><text>{tag}</text></item>")
                   for n, tag in enumerate(("Alpha", "alpha", "beta", "Beta", "ALPHA"), 1))
    dxl = write(tmp_path, database(docs))
    (tmp_path / "m.toml").write_text('[mapping]\nkind = "application"\nforms = ["Doc"]\n[list]\nname = "Docs"\n'
                                     + mapping_body)
    code = ("import sys; from tests.test_appplan import *; from notes2m365.mapping import load_mapping; "
            f"p = plan_application(SITE, load_mapping({str(tmp_path / 'm.toml')!r}), converted({str(dxl)!r}), "
            "identity()); print([c for c in p.operations[0].payload['columns'] if c['name'] == 'Tag'][0]"
            "['choice']['choices'])")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={
        "PYTHONHASHSEED": seed, "PATH": ""}, cwd=str(SAMPLES.parent)).stdout.strip() for seed in ("1", "2", "3")}
    assert outputs == {"['ALPHA', 'Beta']"}  # one spelling per choice (the first in code-point order), every run


def test_attachment_names_follow_sharepoint_rules_and_stay_unique(tmp_path):
    mapping = app_mapping(tmp_path, TITLE)
    dxl = write(tmp_path, database(doc_with(1, files=[("a:b?.txt", b"1"), ("CON.txt", b"2"), ("spec.pdf", b"3"),
                                                      ("Spec.PDF", b"4")])))
    plan = plan_application(SITE, mapping, converted(dxl), identity())
    names = [op.payload["name"] for op in plan.operations if op.op == "upload-file"]
    assert names == ["a_b_.txt", "_CON.txt", "spec.pdf", "Spec (2).PDF"]
    item = next(op for op in plan.operations if op.op == "create-list-item")
    assert "stored as 'a_b_.txt'" in " ".join(item.warnings) and "Spec (2).PDF" in item.payload["fields"]["NotesAttachments"]
    listed = item.payload["fields"]["NotesAttachments"].splitlines()  # the Notes name kept beside a changed one
    assert listed[0].endswith("/a_b_.txt (Notes name: a:b?.txt)") and listed[2].endswith("/spec.pdf")


def test_library_files_each_carry_their_own_key_and_count_the_fields_patch(tmp_path):
    mapping = app_mapping(tmp_path, '[[column]]\nname = "DocTitle"\nfrom = "Subject"\n', template="documentLibrary")
    dxl = write(tmp_path, database(doc_with(1, files=[("a.txt", b"1"), ("b.txt", b"2")]) + doc_with(2)))
    files = [op for op in plan_application(SITE, mapping, converted(dxl), identity()).operations
             if op.op == "upload-file"]
    assert [op.payload["fields"]["NotesKey"] for op in files] == [op.key for op in files]
    assert [op.payload["fields"].get("NotesAttachments") for op in files[:2]] == ["a.txt", "b.txt"]
    assert files[-1].key.endswith("#body") and files[-1].payload["name"].endswith(".html")
    assert all(op.requests == 2 for op in files)


def test_skipped_attachments_are_counted(tmp_path):
    mapping = app_mapping(tmp_path, TITLE, attachments="skip")
    dxl = write(tmp_path, database(doc_with(1, files=[("a.txt", b"1")])))
    plan = plan_application(SITE, mapping, converted(dxl), identity())
    assert plan.issues.left_out == {"attachments skipped by the mapping": 1}


def test_documents_with_readers_are_skipped_by_default_and_counted():
    plan = teamroom_plan("skip")
    items = [op for op in plan.operations if op.op == "create-list-item"]
    assert len(items) == 2 and all(op.container.startswith(f"site:{SITE}") for op in plan.operations)
    assert plan.issues.left_out == {"documents with Readers fields (restricted = skip)": 3}
    assert all("NotesReaders" not in op.payload["fields"] for op in items)


def test_documents_with_readers_go_only_to_the_restricted_site_with_their_readers():
    plan = teamroom_plan()
    restricted = [op for op in plan.operations if op.op == "create-list-item" and "NotesReaders" in op.payload["fields"]]
    assert len(restricted) == 3
    assert all(op.container == f"site:{RESTRICTED}/list:TeamRoom" for op in restricted)
    keys = {op.key for op in restricted}
    files = [op for op in plan.operations if op.op == "upload-file" and op.key.split("#")[0] in keys]
    assert files and all(op.container.startswith(f"site:{RESTRICTED}/drive:") for op in files)
    assert "CN=Peter Miller/OU=Engineering/O=Acme" in restricted[0].payload["fields"]["NotesReaders"]


def test_files_come_before_the_item_that_links_to_them():
    plan = teamroom_plan()
    position = {op.key: n for n, op in enumerate(plan.operations)}
    item = next(op for op in plan.operations if op.op == "create-list-item" and LINKS_KEY in op.payload)
    links = item.payload[LINKS_KEY]
    assert links and all(position[key] < position[item.key] for key in links.values())
    assert set(links.values()) <= set(item.depends_on)
    body = item.payload["fields"]["Body"]
    assert all(ref in body for ref in links)  # every reference the executor rewrites is in the HTML
