"""The comparison rules of ``verify`` (notes2m365.compare) and its sampling and labels (notes2m365.verify)."""

from __future__ import annotations

from notes2m365.compare import (Blob, body_text, compare_body, compare_content, compare_fields, compare_instant,
                                compare_item, compare_message, compare_people, compare_value, instant)
from notes2m365.verify import container_label, sampled


def fields(diffs) -> list[str]:
    return [d.field for d in diffs]


def test_body_text_ignores_markup_and_keeps_words_apart():
    html = "<div data-item='Body'><p>Hi&nbsp;Jane,</p><ul><li>one</li><li>two</li></ul><br/>Bye</div>"
    assert body_text(html) == "Hi Jane, one two Bye"  # a no-break space is white space too
    assert body_text("plain <b>text</b>", "text") == "plain <b>text</b>"
    assert body_text("<script>alert(1)</script><p>x</p>") == "x"


def test_body_must_be_contained_in_the_target():
    sent = {"contentType": "html", "content": "<div><b>Agenda</b>: budget</div>"}
    rewritten = {"contentType": "html", "content": "<html><body><div class=x>Agenda:\r\n budget</div>"
                                                   "<div>Attachments stored in OneDrive</div></body></html>"}
    assert compare_body("body", sent, rewritten) == []
    assert fields(compare_body("body", sent, {"contentType": "html", "content": "<p>Agenda: costs</p>"})) == ["body"]
    assert compare_body("body", sent, None)[0].actual == "(empty)"


def test_instants_across_zones_and_graph_fractions():
    assert instant({"dateTime": "2024-04-10T14:00:00", "timeZone": "W. Europe Standard Time"}) == \
        instant("2024-04-10T12:00:00.0000000Z")
    assert instant({"dateTime": "2024-04-10T12:00:00.0000000", "timeZone": "UTC"}) == instant("2024-04-10T12:00:00Z")
    assert instant("not a date") is None
    assert compare_instant("start", "2024-04-10T12:00:00Z", "2024-04-10T12:00:00.1234567Z") == []
    assert fields(compare_instant("start", "2024-04-10T12:00:00Z", "2024-04-10T12:00:05Z")) == ["start"]


def test_people_by_address_case_insensitive_as_multiset():
    a = [{"emailAddress": {"address": "Jane.Doe@acme.example", "name": "Jane"}},
         {"emailAddress": {"address": "john@acme.example"}}]
    b = [{"emailAddress": {"address": "john@acme.example", "name": "John S"}},
         {"emailAddress": {"address": "jane.doe@acme.example"}}]
    assert compare_people("toRecipients", a, b) == []
    assert fields(compare_people("toRecipients", a, b[:1])) == ["toRecipients"]


def test_values_are_subsets():
    assert compare_value("x", {"a": 1, "b": ["k", "l"]}, {"a": 1.0, "b": ["l", "k"], "added": True}) == []
    assert fields(compare_value("x", {"a": 1}, {"a": 2})) == ["x.a"]
    assert fields(compare_value("cats", ["a", "b"], ["a", "b", "c"])) == ["cats"]  # a category added
    assert compare_value("addr", [{"address": "a@x"}], [{"address": "a@x", "name": "A"}]) == []
    assert compare_value("notes", "line one\r\nline  two ", "line one\nline two") == []
    assert compare_value("empty", "", None) == []


def test_message_dates_come_from_the_mapi_properties():
    payload = {"subject": "S", "singleValueExtendedProperties": [
        {"id": "SystemTime 0x0039", "value": "2024-03-14T15:41:33Z"},
        {"id": "SystemTime 0x0E06", "value": "2024-03-14T15:41:35Z"}], "internetMessageHeaders": [{"name": "X-A"}]}
    item = {"subject": "S", "sentDateTime": "2024-03-14T15:41:33Z", "receivedDateTime": "2024-03-14T15:41:35Z",
            "isDraft": False}
    assert compare_message(payload, item, draft=False) == []
    assert fields(compare_message(payload, {**item, "receivedDateTime": "2026-01-01T00:00:00Z"}, False)) == \
        ["receivedDateTime"]
    assert fields(compare_message(payload, item, draft=True)) == ["isDraft"]


def test_all_day_events_compare_their_dates_only():
    payload = {"isAllDay": True, "start": {"dateTime": "2024-05-20T00:00:00", "timeZone": "W. Europe Standard Time"},
               "end": {"dateTime": "2024-05-22T00:00:00", "timeZone": "W. Europe Standard Time"}}
    utc = {"isAllDay": True, "start": {"dateTime": "2024-05-20T00:00:00.0000000", "timeZone": "UTC"},
           "end": {"dateTime": "2024-05-22T00:00:00.0000000", "timeZone": "UTC"}}
    assert compare_item(payload, utc) == []
    moved = {**utc, "end": {"dateTime": "2024-05-23T00:00:00.0000000", "timeZone": "UTC"}}
    assert fields(compare_item(payload, moved)) == ["end"]


def test_content_by_name_length_and_sha256():
    data = b"hello"
    blob = Blob.of("a.txt", data)
    want = [("a.txt", 5, blob.sha256)]
    assert compare_content("attachments", want, [blob]) == []
    assert fields(compare_content("attachments", want, [])) == ["attachments[a.txt]"]
    assert fields(compare_content("attachments", want, [Blob.of("a.txt", b"hellO")])) == ["attachments[a.txt].sha256"]
    assert fields(compare_content("attachments", want, [Blob.of("a.txt", b"hello!")])) == ["attachments[a.txt].size"]
    assert fields(compare_content("attachments", want, [blob, Blob.of("b.txt", b"x")])) == ["attachments[b.txt]"]
    assert fields(compare_content("attachments", want, [Blob.of("renamed.txt", data)])) == \
        ["attachments[a.txt].name"]


def test_list_fields_rich_text_by_text():
    expected = {"Body": "<div>Version <b>1.2</b></div>", "Status": "Open", "PostedByLookupId": "7",
                "Tags@odata.type": "Collection(Edm.String)"}
    actual = {"Body": "<div class=\"ExternalClass1\"><p>Version 1.2</p></div>", "Status": "Open",
              "PostedByLookupId": 7}
    assert compare_fields(expected, actual, {"Body"}) == []
    assert fields(compare_fields(expected, {**actual, "Status": "Closed"}, {"Body"})) == ["Status"]


def test_sample_is_stable_and_keeps_a_document_with_its_parts():
    keys = [f"R/{n:032X}" for n in range(2000)]
    picked = [k for k in keys if sampled(k, 10, 3)]
    assert 120 < len(picked) < 280
    assert picked == [k for k in keys if sampled(k, 10, 3)]
    assert picked != [k for k in keys if sampled(k, 10, 4)]
    assert all(sampled(k + "#att/1", 10, 3) for k in picked)
    assert all(sampled(k, None, 0) and sampled(k, 100, 0) for k in keys[:10])


def test_container_labels():
    assert container_label("mailbox:j@x/folder:inbox/Projects") == "folder Inbox/Projects"
    assert container_label("mailbox:j@x/folder:Projects/A%2FB") == "folder Projects/A/B"
    assert container_label("mailbox:j@x/calendar") == "calendar"
    assert container_label("mailbox:j@x/contacts") == "contacts"
    assert container_label("mailbox:j@x/todo:Tasks") == "To Do Tasks"
    assert container_label("site:h.example:/sites/t/list:TeamRoom") == "list TeamRoom"
    assert container_label("site:h.example:/sites/t/drive:Documents/TeamRoom/ABC") == "library Documents/TeamRoom"


def test_body_text_tokenizer_edge_cases():
    assert body_text('<a title="x>y" href="h">link</a> text') == "link text"
    assert body_text("<!-- hidden --><p>a</p><p>b</p>") == "a b"
    assert body_text("<style>p{color:red}</style>A&amp;B &lt;x&gt;") == "A&B <x>"
    assert body_text("<b>bo</b>ld<br/>next") == "bold next"
    assert body_text("<HTML><HEAD><TITLE>t</TITLE></HEAD><BODY>x</BODY></HTML>") == "x"


def test_an_edit_that_keeps_the_original_text_is_a_difference():
    assert fields(compare_body("body", "<p>OK</p>", "<p>NOT OK</p>")) == ["body"]
    assert fields(compare_body("body", "<p>Meeting at 10</p>", "<p>CANCELLED: Meeting at 10:45</p>")) == ["body"]
    assert fields(compare_body("body", "<p>ok</p>", "<p>OK</p>")) == ["body"]
    # the only addition allowed: the block of OneDrive links the migration appends
    appended = "<p>Report</p>\n<div data-notes='onedrive-attachments'><p>Attachments stored in OneDrive by the " \
               "migration:</p><ul><li><a href='https://x'>big.zip</a></li></ul></div>"
    assert compare_body("body", "<p>Report</p>", appended) == []


def test_to_do_dates_and_birthdays_are_dates():
    payload = {"title": "T", "dueDateTime": {"dateTime": "2024-04-09T15:00:00", "timeZone": "UTC"},
               "completedDateTime": {"dateTime": "2024-03-14T15:45:03", "timeZone": "UTC"}}
    stored = {"title": "T", "dueDateTime": {"dateTime": "2024-04-09T00:00:00.0000000", "timeZone": "UTC"},
              "completedDateTime": {"dateTime": "2024-03-14T00:00:00.0000000", "timeZone": "UTC"}}
    assert compare_item(payload, stored, "create-task") == []
    later = {**stored, "dueDateTime": {"dateTime": "2024-04-10T00:00:00.0000000", "timeZone": "UTC"}}
    assert fields(compare_item(payload, later, "create-task")) == ["dueDateTime"]
    assert compare_item({"birthday": "1978-06-14T12:00:00Z"}, {"birthday": "1978-06-14T00:00:00Z"}) == []
    assert fields(compare_item({"birthday": "1978-06-14T12:00:00Z"}, {"birthday": "1978-06-15T00:00:00Z"})) == \
        ["birthday"]


def test_contact_addresses_by_address_whatever_name_exchange_gives():
    planned = {"emailAddresses": [{"address": "john.smith@acme.example", "name": "John Smith"}]}
    assert compare_item(planned, {"emailAddresses": [{"address": "John.Smith@acme.example",
                                                      "name": "Smith, John (Sales)"}]}) == []
    assert fields(compare_item(planned, {"emailAddresses": [{"address": "john.smith@acme.example"},
                                                            {"address": "added@x.example"}]})) == ["emailAddresses"]


def test_multi_person_columns_as_graph_reads_them_back():
    expected = {"OwnersLookupId@odata.type": "Collection(Edm.Int32)", "OwnersLookupId": [10, 14]}
    shape = {"Owners": [{"LookupId": 14, "LookupValue": "B", "Email": "b@x"}, {"LookupId": 10, "LookupValue": "A"}]}
    assert compare_fields(expected, shape, set()) == []
    assert fields(compare_fields(expected, {"Owners": [{"LookupId": 10}]}, set())) == ["OwnersLookupId"]
