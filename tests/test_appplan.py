"""Planning application sources: the teamroom sample into a list, and column type conversion."""

from __future__ import annotations

import json

from notes2m365.appplan import plan_application
from notes2m365.convert import iter_converted
from notes2m365.identity import IdentityMap, IdentityRules
from notes2m365.mapping import load_mapping

from .conftest import SAMPLES, database, document, write

SITE = "acme.sharepoint.com:/sites/teamroom"
IDENTITY_CSV = SAMPLES / "identity.csv"


def converted(path):
    return [conv if conv is not None else record for _p, _s, record, conv in iter_converted([str(path)])]


def identity() -> IdentityMap:
    return IdentityMap.load(str(IDENTITY_CSV), IdentityRules(internet_domains=("acme.example",)))


def teamroom_plan():
    return plan_application(SITE, load_mapping("builtin:teamroom"), converted(SAMPLES / "apps/teamroom-discussion.dxl"),
                            identity(), source_file="apps/teamroom-discussion.dxl")


def test_teamroom_sample_becomes_a_list_items_and_library_files():
    plan = teamroom_plan()
    ops = [op.op for op in plan.operations]
    assert ops[0] == "ensure-list" and ops.count("create-list-item") == 5 and ops.count("upload-file") == 3
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
    only_topics = plan_application(SITE, mapping, docs, identity(), filters=Filters(forms=("MainTopic",)))
    assert only_topics.documents == {"MainTopic": 2} and only_topics.issues.left_out == {"filtered out by the job": 3}
    nothing_new = plan_application(SITE, mapping, docs, identity(), filters=Filters(since=date(2030, 1, 1)))
    assert nothing_new.operations == [] and nothing_new.issues.left_out == {"filtered out by the job": 5}
