"""Calendars/events, contacts and To Do of the Graph emulator, driven over raw HTTP (graph-semantics §3, §4, §11)."""

from __future__ import annotations

import base64

import httpx
import pytest

from .conftest import JANE, JOHN, error_code

U = f"/users/{JANE}"
PROP = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name MigrationId"
OTHER_PROP = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Other"
PACIFIC = {"Prefer": 'outlook.timezone="Pacific Standard Time"'}


def dtz(text: str, tz: str = "W. Europe Standard Time") -> dict:
    return {"dateTime": text, "timeZone": tz}


def event_body(**extra: object) -> dict:
    return {"subject": "Budget review", "body": {"contentType": "html", "content": "<p>Q3 <b>numbers</b></p>"},
            "start": dtz("2024-03-01T10:00:00"), "end": dtz("2024-03-01T11:00:00"), **extra}


def weekly(**pattern: object) -> dict:
    base = {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"}
    return {"pattern": {**base, **pattern},
            "range": {"type": "endDate", "startDate": "2024-03-04", "endDate": "2024-04-01"}}


def invitations(emulator) -> list[dict]:
    return httpx.get(emulator.root_url + "/_emulator/invitations").json()["value"]


def create_event(graph: httpx.Client, path: str = U + "/events", **extra: object) -> dict:
    r = graph.post(path, json=event_body(**extra))
    assert r.status_code == 201, r.text
    return r.json()


# -- calendars --------------------------------------------------------------------------------------------


def test_default_calendar_is_provisioned(graph):
    r = graph.get(U + "/calendar")
    assert r.status_code == 200
    assert r.json()["name"] == "Calendar" and r.json()["isDefaultCalendar"] is True
    assert [c["id"] for c in graph.get(U + "/calendars").json()["value"]] == [r.json()["id"]]


def test_unknown_mailbox_is_404_invalid_user(graph):
    r = graph.get("/users/nobody@acme.example/calendars")
    assert r.status_code == 404 and error_code(r) == "ErrorInvalidUser"


def test_create_calendar_is_201(graph):
    r = graph.post(U + "/calendars", json={"name": "Notes import"})
    assert r.status_code == 201
    assert r.json()["name"] == "Notes import" and r.json()["isDefaultCalendar"] is False


def test_duplicate_calendar_name_is_409_folder_exists(graph):
    graph.post(U + "/calendars", json={"name": "Notes import"})
    r = graph.post(U + "/calendars", json={"name": "NOTES IMPORT"})
    assert r.status_code == 409 and error_code(r) == "ErrorFolderExists"


def test_rename_calendar(graph):
    cal = graph.post(U + "/calendars", json={"name": "A"}).json()
    r = graph.patch(f"{U}/calendars/{cal['id']}", json={"name": "B"})
    assert r.status_code == 200 and graph.get(f"{U}/calendars/{cal['id']}").json()["name"] == "B"


def test_default_calendar_cannot_be_deleted(graph):
    cal = graph.get(U + "/calendar").json()
    r = graph.delete(f"{U}/calendars/{cal['id']}")
    assert r.status_code == 400 and error_code(r) == "ErrorDeleteDistinguishedFolder"


def test_deleted_calendar_and_its_events_are_gone(graph):
    cal = graph.post(U + "/calendars", json={"name": "Temp"}).json()
    event = create_event(graph, f"{U}/calendars/{cal['id']}/events")
    assert graph.delete(f"{U}/calendars/{cal['id']}").status_code == 204
    r = graph.get(f"{U}/events/{event['id']}")
    assert r.status_code == 404 and error_code(r) == "ErrorItemNotFound"


def test_calendar_of_another_mailbox_is_not_found(graph):
    cal = graph.post(U + "/calendars", json={"name": "Mine"}).json()
    r = graph.get(f"/users/{JOHN}/calendars/{cal['id']}")
    assert r.status_code == 404 and error_code(r) == "ErrorItemNotFound"


# -- events: creation and rendering ------------------------------------------------------------------------------


def test_create_event_is_201_with_graph_fields(graph):
    event = create_event(graph)
    assert event["type"] == "singleInstance" and event["isOrganizer"] is True
    assert event["organizer"]["emailAddress"]["address"] == JANE
    assert event["responseStatus"]["response"] == "organizer"
    assert event["bodyPreview"] == "Q3 numbers"
    assert event["originalStartTimeZone"] == "W. Europe Standard Time"
    assert event["start"] == {"dateTime": "2024-03-01T09:00:00.0000000", "timeZone": "UTC"}
    assert event["iCalUId"] and event["webLink"] and event["hasAttachments"] is False


def test_event_in_named_calendar_is_not_in_the_default_listing(graph):
    cal = graph.post(U + "/calendars", json={"name": "Other"}).json()
    event = create_event(graph, f"{U}/calendars/{cal['id']}/events")
    assert [e["id"] for e in graph.get(f"{U}/calendars/{cal['id']}/events").json()["value"]] == [event["id"]]
    assert graph.get(U + "/calendar/events").json()["value"] == []
    assert graph.get(U + "/events").json()["value"] == []  # the default calendar only


def test_event_read_through_the_wrong_calendar_is_404(graph):
    cal = graph.post(U + "/calendars", json={"name": "Other"}).json()
    event = create_event(graph)
    r = graph.get(f"{U}/calendars/{cal['id']}/events/{event['id']}")
    assert r.status_code == 404 and error_code(r) == "ErrorItemNotFound"


def test_prefer_outlook_timezone_converts_start_and_end(graph):
    event = create_event(graph)
    got = graph.get(f"{U}/events/{event['id']}", headers=PACIFIC).json()
    assert got["start"] == {"dateTime": "2024-03-01T01:00:00.0000000", "timeZone": "Pacific Standard Time"}
    assert got["end"]["dateTime"] == "2024-03-01T02:00:00.0000000"


def test_iana_time_zone_is_accepted(graph):
    event = create_event(graph, start=dtz("2024-07-01T10:00:00", "Asia/Kolkata"),
                         end=dtz("2024-07-01T11:00:00", "India Standard Time"))
    assert event["start"]["dateTime"] == "2024-07-01T04:30:00.0000000"


def test_unknown_time_zone_is_400(graph):
    r = graph.post(U + "/events", json=event_body(start=dtz("2024-03-01T10:00:00", "Mars Standard Time")))
    assert r.status_code == 400 and error_code(r) == "TimeZoneNotSupportedException"


def test_unknown_prefer_time_zone_is_400(graph):
    r = graph.get(U + "/events", headers={"Prefer": 'outlook.timezone="Nowhere"'})
    assert r.status_code == 400 and error_code(r) == "TimeZoneNotSupportedException"


def test_event_without_end_is_400(graph):
    body = event_body()
    del body["end"]
    r = graph.post(U + "/events", json=body)
    assert r.status_code == 400 and error_code(r) == "ErrorPropertyValidationFailure"


def test_end_before_start_is_400(graph):
    r = graph.post(U + "/events", json=event_body(end=dtz("2024-03-01T09:00:00")))
    assert r.status_code == 400 and error_code(r) == "ErrorCalendarEndDateIsEarlierThanStartDate"


def test_all_day_event_needs_midnight(graph):
    r = graph.post(U + "/events", json=event_body(isAllDay=True))
    assert r.status_code == 400 and error_code(r) == "ErrorPropertyValidationFailure"


def test_all_day_event_needs_one_time_zone(graph):
    r = graph.post(U + "/events", json=event_body(isAllDay=True, start=dtz("2024-03-01T00:00:00"),
                                                  end=dtz("2024-03-02T00:00:00", "UTC")))
    assert r.status_code == 400 and error_code(r) == "ErrorPropertyValidationFailure"


def test_all_day_event_keeps_midnight_in_any_requested_zone(graph):
    event = create_event(graph, isAllDay=True, start=dtz("2024-03-01T00:00:00"), end=dtz("2024-03-02T00:00:00"))
    got = graph.get(f"{U}/events/{event['id']}", headers=PACIFIC).json()
    assert got["isAllDay"] is True
    assert got["start"] == {"dateTime": "2024-03-01T00:00:00.0000000", "timeZone": "Pacific Standard Time"}


def test_unknown_event_property_is_400(graph):
    r = graph.post(U + "/events", json=event_body(subjekt="typo"))
    assert r.status_code == 400 and error_code(r) == "RequestBodyRead"


def test_invalid_show_as_is_400(graph):
    r = graph.post(U + "/events", json=event_body(showAs="away"))
    assert r.status_code == 400 and error_code(r) == "RequestBodyRead"


def test_select_limits_the_event_fields(graph):
    create_event(graph)
    item = graph.get(U + "/events", params={"$select": "subject"}).json()["value"][0]
    assert set(item) == {"id", "subject"}


def test_events_page_with_next_link(graph):
    for _ in range(3):
        create_event(graph)
    first = graph.get(U + "/events", params={"$top": "2"}).json()
    assert len(first["value"]) == 2 and "@odata.nextLink" in first
    assert len(graph.get(first["@odata.nextLink"]).json()["value"]) == 1


def test_filter_on_subject(graph):
    create_event(graph)
    create_event(graph, subject="Other")
    r = graph.get(U + "/events", params={"$filter": "subject eq 'other'"})
    assert [e["subject"] for e in r.json()["value"]] == ["Other"]


# -- events: recurrence -----------------------------------------------------------------------------------------


def test_weekly_recurrence_makes_a_series_master(graph):
    event = create_event(graph, start=dtz("2024-03-04T10:00:00"), end=dtz("2024-03-04T11:00:00"),
                         recurrence=weekly())
    assert event["type"] == "seriesMaster"
    assert event["recurrence"]["pattern"]["firstDayOfWeek"] == "sunday"
    assert event["recurrence"]["range"]["recurrenceTimeZone"] == "W. Europe Standard Time"


@pytest.mark.parametrize("recurrence", [
    weekly(daysOfWeek=[]),
    weekly(interval=0),
    {"pattern": {"type": "absoluteMonthly", "interval": 1},
     "range": {"type": "noEnd", "startDate": "2024-03-04"}},
    {"pattern": {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 4},
     "range": {"type": "noEnd", "startDate": "2024-03-04"}},
    {"pattern": {"type": "relativeMonthly", "interval": 1},
     "range": {"type": "noEnd", "startDate": "2024-03-04"}},
    {"pattern": {"type": "daily", "interval": 1},
     "range": {"type": "endDate", "startDate": "2024-03-04", "endDate": "2024-03-01"}},
    {"pattern": {"type": "daily", "interval": 1},
     "range": {"type": "numbered", "startDate": "2024-03-04", "numberOfOccurrences": 0}},
    {"pattern": {"type": "daily", "interval": 1}},
    {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
     "range": {"type": "noEnd", "startDate": "2024-03-04"}},
    {"pattern": {"type": "absoluteYearly", "interval": 1, "dayOfMonth": 31, "month": 2},
     "range": {"type": "noEnd", "startDate": "2024-03-04"}},
], ids=["weekly-no-days", "interval-0", "absmonthly-no-day", "absyearly-no-month", "relmonthly-no-days",
        "end-before-start", "numbered-zero", "no-range", "weekly-no-first-day", "february-31"])
def test_invalid_recurrence_is_400(graph, recurrence):
    r = graph.post(U + "/events", json=event_body(recurrence=recurrence))
    assert r.status_code == 400 and error_code(r) == "ErrorPropertyValidationFailure"


@pytest.mark.parametrize("pattern", [{"daysOfWeek": ["funday"]}, {"index": "fifth"}, {"type": "hourly"},
                                     {"bogus": 3}], ids=["bad-day", "bad-index", "bad-type", "unknown-property"])
def test_recurrence_enum_out_of_range_is_400(graph, pattern):
    r = graph.post(U + "/events", json=event_body(recurrence=weekly(**pattern)))
    assert r.status_code == 400 and error_code(r) == "RequestBodyRead"


def test_calendar_view_needs_a_window(graph):
    r = graph.get(U + "/calendarView")
    assert r.status_code == 400 and error_code(r) == "ErrorInvalidParameter"


def test_calendar_view_returns_events_and_occurrences_in_the_window(graph):
    single = create_event(graph)
    series = create_event(graph, start=dtz("2024-03-04T10:00:00"), end=dtz("2024-03-04T11:00:00"),
                          recurrence=weekly())
    view = graph.get(U + "/calendarView", params={"startDateTime": "2024-03-01T00:00:00Z",
                                                  "endDateTime": "2024-03-15T00:00:00Z"}).json()["value"]
    assert view[0]["id"] == single["id"]
    occurrences = [e for e in view if e["type"] == "occurrence"]
    assert [o["start"]["dateTime"][:10] for o in occurrences] == ["2024-03-04", "2024-03-11"]
    assert all(o["seriesMasterId"] == series["id"] for o in occurrences)


# -- events: invitations -----------------------------------------------------------------------------------------


def test_event_with_attendees_records_an_invitation(graph, emulator):
    event = create_event(graph, attendees=[{"emailAddress": {"address": "ext@partner.example", "name": "Ext"},
                                            "type": "optional"}])
    assert event["attendees"][0]["status"]["response"] == "none"
    sent = invitations(emulator)
    assert len(sent) == 1 and sent[0]["eventId"] == event["id"] and sent[0]["attendees"] == ["ext@partner.example"]
    assert sent[0]["mailbox"] == JANE and sent[0]["subject"] == "Budget review"


def test_event_without_attendees_records_no_invitation(graph, emulator):
    create_event(graph)
    assert invitations(emulator) == []


def test_changing_a_meeting_sends_an_update(graph, emulator):
    event = create_event(graph, attendees=[{"emailAddress": {"address": "a@partner.example"}}])
    graph.patch(f"{U}/events/{event['id']}", json={"subject": "Moved"})
    assert [i["reason"] for i in invitations(emulator)] == ["created", "updated"]


def test_deleting_a_meeting_sends_a_cancellation(graph, emulator):
    event = create_event(graph, attendees=[{"emailAddress": {"address": "a@partner.example"}}])
    assert graph.delete(f"{U}/events/{event['id']}").status_code == 204
    assert [i["reason"] for i in invitations(emulator)] == ["created", "cancelled"]


def test_attendee_without_address_is_400(graph):
    r = graph.post(U + "/events", json=event_body(attendees=[{"emailAddress": {"name": "Nobody"}}]))
    assert r.status_code == 400 and error_code(r) == "ErrorInvalidRecipients"


# -- events: update and delete ---------------------------------------------------------------------------------


def test_patch_event_changes_fields(graph):
    event = create_event(graph)
    r = graph.patch(f"{U}/events/{event['id']}", json={"subject": "New", "end": dtz("2024-03-01T12:00:00")})
    assert r.status_code == 200 and r.json()["subject"] == "New"
    assert r.json()["end"]["dateTime"] == "2024-03-01T11:00:00.0000000"


def test_invalid_patch_leaves_the_event_unchanged(graph):
    event = create_event(graph)
    r = graph.patch(f"{U}/events/{event['id']}", json={"subject": "X", "isAllDay": True})
    assert r.status_code == 400 and error_code(r) == "ErrorPropertyValidationFailure"
    assert graph.get(f"{U}/events/{event['id']}").json()["subject"] == "Budget review"


def test_deleted_event_is_404(graph):
    event = create_event(graph)
    assert graph.delete(f"{U}/events/{event['id']}").status_code == 204
    r = graph.get(f"{U}/events/{event['id']}")
    assert r.status_code == 404 and error_code(r) == "ErrorItemNotFound"


# -- events: extended properties (§4) --------------------------------------------------------------------------------


def ext(value: object, prop: str = PROP) -> dict:
    return {"singleValueExtendedProperties": [{"id": prop, "value": value}]}


def test_extended_property_is_not_returned_by_default(graph):
    event = create_event(graph, **ext("notes:UNID1"))
    assert "singleValueExtendedProperties" not in event
    assert "singleValueExtendedProperties" not in graph.get(f"{U}/events/{event['id']}").json()


def test_extended_property_is_returned_with_expand_filter(graph):
    event = create_event(graph, singleValueExtendedProperties=[{"id": PROP, "value": "notes:UNID1"},
                                                               {"id": OTHER_PROP, "value": "x"}])
    r = graph.get(f"{U}/events/{event['id']}",
                  params={"$expand": f"singleValueExtendedProperties($filter=id eq '{PROP}')"})
    assert r.json()["singleValueExtendedProperties"] == [{"id": PROP, "value": "notes:UNID1"}]


def test_expand_all_extended_properties_is_400(graph):
    event = create_event(graph, **ext("notes:UNID1"))
    r = graph.get(f"{U}/events/{event['id']}", params={"$expand": "singleValueExtendedProperties"})
    assert r.status_code == 400 and error_code(r) == "ErrorInvalidRequest"


def test_non_string_extended_property_value_is_400(graph):
    r = graph.post(U + "/events", json=event_body(**ext(42)))
    assert r.status_code == 400 and error_code(r) == "BadRequest"


def test_malformed_extended_property_id_is_400(graph):
    r = graph.post(U + "/events", json=event_body(**ext("v", prop="MigrationId")))
    assert r.status_code == 400 and error_code(r) == "ErrorInvalidProperty"


def test_filter_on_extended_property_finds_the_event(graph):
    create_event(graph, **ext("notes:UNID1"))
    wanted = create_event(graph, **ext("notes:UNID2"))
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' and ep/value eq 'NOTES:unid2')"
    found = graph.get(U + "/events", params={"$filter": flt}).json()["value"]
    assert [e["id"] for e in found] == [wanted["id"]] and "singleValueExtendedProperties" not in found[0]


def test_extended_property_name_is_case_sensitive_in_filter(graph):
    create_event(graph, **ext("notes:UNID1"))
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP.lower()}' and ep/value eq 'notes:UNID1')"
    assert graph.get(U + "/events", params={"$filter": flt}).json()["value"] == []


def test_extended_property_on_calendar(graph):
    cal = graph.post(U + "/calendars", json={"name": "Tagged", **ext("cal-1")}).json()
    r = graph.get(f"{U}/calendars/{cal['id']}",
                  params={"$expand": f"singleValueExtendedProperties($filter=id eq '{PROP}')"})
    assert r.json()["singleValueExtendedProperties"][0]["value"] == "cal-1"


# -- event attachments ------------------------------------------------------------------------------------------------


def file_attachment(data: bytes = b"hello", **extra: object) -> dict:
    return {"@odata.type": "#microsoft.graph.fileAttachment", "name": "a.txt", "contentType": "text/plain",
            "contentBytes": base64.b64encode(data).decode(), **extra}


def test_event_attachment_is_201_and_sets_has_attachments(graph):
    event = create_event(graph)
    r = graph.post(f"{U}/events/{event['id']}/attachments", json=file_attachment())
    assert r.status_code == 201 and r.json()["size"] == 5
    assert graph.get(f"{U}/events/{event['id']}").json()["hasAttachments"] is True
    listed = graph.get(f"{U}/events/{event['id']}/attachments").json()["value"]
    assert [a["name"] for a in listed] == ["a.txt"]


def test_event_attachment_with_bad_base64_is_400(graph):
    event = create_event(graph)
    r = graph.post(f"{U}/events/{event['id']}/attachments", json=file_attachment(contentBytes="not base64!"))
    assert r.status_code == 400 and error_code(r) == "RequestBodyRead"


def test_event_attachment_over_the_inline_limit_is_refused(graph, emulator):
    emulator.emulator.config.switches.inline_attachment_limit = 1024
    event = create_event(graph)
    r = graph.post(f"{U}/events/{event['id']}/attachments", json=file_attachment(b"x" * 1025))
    assert r.status_code == 413 and error_code(r) == "ErrorRequestEntityTooLarge"


# -- contacts ------------------------------------------------------------------------------------------------------


def contact_body(**extra: object) -> dict:
    return {"givenName": "Ada", "surname": "Lovelace", "emailAddresses": [{"address": "ada@example.org"}],
            "businessPhones": ["+44 20 1234"], "businessAddress": {"city": "London", "countryOrRegion": "UK"},
            **extra}


def test_contact_folders_list_the_folders_inside_the_default_one(graph):
    assert graph.get(U + "/contactFolders").json()["value"] == []
    contact = graph.post(U + "/contacts", json=contact_body()).json()
    folder = graph.post(U + "/contactFolders", json={"displayName": "Notes"}).json()
    assert folder["parentFolderId"] == contact["parentFolderId"]
    assert [f["displayName"] for f in graph.get(U + "/contactFolders").json()["value"]] == ["Notes"]


def test_duplicate_contact_folder_is_409_folder_exists(graph):
    graph.post(U + "/contactFolders", json={"displayName": "Notes"})
    r = graph.post(U + "/contactFolders", json={"displayName": "notes"})
    assert r.status_code == 409 and error_code(r) == "ErrorFolderExists"


def test_child_contact_folder(graph):
    parent = graph.post(U + "/contactFolders", json={"displayName": "Notes"}).json()
    r = graph.post(f"{U}/contactFolders/{parent['id']}/childFolders", json={"displayName": "Notes"})
    assert r.status_code == 201 and r.json()["parentFolderId"] == parent["id"]


def test_create_contact_is_201_with_composed_display_name(graph):
    r = graph.post(U + "/contacts", json=contact_body())
    assert r.status_code == 201
    contact = r.json()
    assert contact["displayName"] == "Ada Lovelace"
    assert contact["emailAddresses"] == [{"name": "ada@example.org", "address": "ada@example.org"}]
    assert contact["businessAddress"] == {"city": "London", "countryOrRegion": "UK"}


def test_contacts_are_listed_per_folder(graph):
    folder = graph.post(U + "/contactFolders", json={"displayName": "Notes"}).json()
    inside = graph.post(f"{U}/contactFolders/{folder['id']}/contacts", json=contact_body()).json()
    graph.post(U + "/contacts", json=contact_body(givenName="Bob"))
    listed = graph.get(f"{U}/contactFolders/{folder['id']}/contacts").json()["value"]
    assert [c["id"] for c in listed] == [inside["id"]]
    assert [c["givenName"] for c in graph.get(U + "/contacts").json()["value"]] == ["Bob"]


def test_more_than_three_email_addresses_is_400(graph):
    emails = [{"address": f"a{i}@example.org"} for i in range(4)]
    r = graph.post(U + "/contacts", json=contact_body(emailAddresses=emails))
    assert r.status_code == 400 and error_code(r) == "ErrorPropertyValidationFailure"


def test_unknown_contact_property_is_400(graph):
    r = graph.post(U + "/contacts", json=contact_body(email="ada@example.org"))
    assert r.status_code == 400 and error_code(r) == "RequestBodyRead"


def test_patch_and_delete_contact(graph):
    contact = graph.post(U + "/contacts", json=contact_body()).json()
    r = graph.patch(f"{U}/contacts/{contact['id']}", json={"jobTitle": "Analyst"})
    assert r.status_code == 200 and r.json()["jobTitle"] == "Analyst"
    assert graph.delete(f"{U}/contacts/{contact['id']}").status_code == 204
    r = graph.get(f"{U}/contacts/{contact['id']}")
    assert r.status_code == 404 and error_code(r) == "ErrorItemNotFound"


def test_contact_extended_property_filter_and_expand(graph):
    contact = graph.post(U + "/contacts", json=contact_body(**ext("notes:C1"))).json()
    assert "singleValueExtendedProperties" not in contact
    flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{PROP}' and ep/value eq 'notes:C1')"
    found = graph.get(U + "/contacts", params={
        "$filter": flt, "$expand": f"singleValueExtendedProperties($filter=id eq '{PROP}')"}).json()["value"]
    assert found[0]["id"] == contact["id"]
    assert found[0]["singleValueExtendedProperties"] == [{"id": PROP, "value": "notes:C1"}]


# -- To Do ------------------------------------------------------------------------------------------------------------


def new_list(graph: httpx.Client, name: str = "Notes tasks") -> dict:
    r = graph.post(U + "/todo/lists", json={"displayName": name})
    assert r.status_code == 201, r.text
    return r.json()


def new_task(graph: httpx.Client, tlist: dict, **extra: object) -> httpx.Response:
    return graph.post(f"{U}/todo/lists/{tlist['id']}/tasks", json={"title": "Call Ada", **extra})


def test_default_task_list_is_provisioned(graph):
    lists = graph.get(U + "/todo/lists").json()["value"]
    assert [(t["displayName"], t["wellknownListName"]) for t in lists] == [("Tasks", "defaultList")]


def test_create_task_is_201_with_defaults(graph):
    r = new_task(graph, new_list(graph))
    assert r.status_code == 201
    task = r.json()
    assert (task["status"], task["importance"], task["isReminderOn"]) == ("notStarted", "normal", False)
    assert task["body"] == {"content": "", "contentType": "text"}


def test_invalid_task_status_is_400(graph):
    r = new_task(graph, new_list(graph), status="done")
    assert r.status_code == 400 and error_code(r) == "invalidRequest"


def test_invalid_task_importance_is_400(graph):
    r = new_task(graph, new_list(graph), importance="urgent")
    assert r.status_code == 400 and error_code(r) == "invalidRequest"


def test_task_due_date_time_is_answered_in_utc(graph):
    r = new_task(graph, new_list(graph), dueDateTime=dtz("2024-03-01T10:00:00"))
    assert r.json()["dueDateTime"] == {"dateTime": "2024-03-01T09:00:00.0000000", "timeZone": "UTC"}


def test_task_due_date_time_with_unknown_zone_is_400(graph):
    r = new_task(graph, new_list(graph), dueDateTime=dtz("2024-03-01T10:00:00", "Nowhere"))
    assert r.status_code == 400 and error_code(r) == "invalidRequest"


def test_task_with_extended_properties_is_400(graph):
    r = new_task(graph, new_list(graph), **ext("notes:T1"))
    assert r.status_code == 400 and error_code(r) == "invalidRequest"


def test_completing_a_task_stamps_completed_date_time(graph):
    tlist = new_list(graph)
    task = new_task(graph, tlist).json()
    r = graph.patch(f"{U}/todo/lists/{tlist['id']}/tasks/{task['id']}", json={"status": "completed"})
    assert r.status_code == 200 and r.json()["completedDateTime"]["timeZone"] == "UTC"


def test_linked_resources_inline_and_via_collection(graph):
    tlist = new_list(graph)
    task = new_task(graph, tlist, linkedResources=[{"applicationName": "Notes", "displayName": "Doc",
                                                    "externalId": "UNID1"}]).json()
    assert task["linkedResources"][0]["externalId"] == "UNID1"
    base = f"{U}/todo/lists/{tlist['id']}/tasks/{task['id']}"
    r = graph.post(base + "/linkedResources", json={"applicationName": "Notes", "externalId": "UNID2",
                                                   "webUrl": "notes://server/db/doc"})
    assert r.status_code == 201
    assert [x["externalId"] for x in graph.get(base + "/linkedResources").json()["value"]] == ["UNID1", "UNID2"]
    assert "linkedResources" not in graph.get(base).json()


def test_open_extension_round_trip_and_expand(graph):
    tlist = new_list(graph)
    task = new_task(graph, tlist).json()
    base = f"{U}/todo/lists/{tlist['id']}/tasks/{task['id']}"
    r = graph.post(base + "/extensions", json={"@odata.type": "microsoft.graph.openTypeExtension",
                                              "extensionName": "com.acme.notes", "unid": "UNID1"})
    assert r.status_code == 201 and r.json()["unid"] == "UNID1"
    expanded = graph.get(base, params={"$expand": "extensions"}).json()
    assert expanded["extensions"][0]["extensionName"] == "com.acme.notes"
    assert graph.get(base + "/extensions/com.acme.notes").json()["unid"] == "UNID1"


def test_duplicate_open_extension_is_409(graph):
    tlist = new_list(graph)
    task = new_task(graph, tlist).json()
    base = f"{U}/todo/lists/{tlist['id']}/tasks/{task['id']}/extensions"
    body = {"@odata.type": "#microsoft.graph.openTypeExtension", "extensionName": "com.acme.notes"}
    graph.post(base, json=body)
    r = graph.post(base, json=body)
    assert r.status_code == 409 and error_code(r) == "nameAlreadyExists"


def test_extension_without_open_type_is_400(graph):
    tlist = new_list(graph)
    task = new_task(graph, tlist).json()
    r = graph.post(f"{U}/todo/lists/{tlist['id']}/tasks/{task['id']}/extensions", json={"extensionName": "x"})
    assert r.status_code == 400 and error_code(r) == "invalidRequest"


def test_task_read_through_another_list_is_404(graph):
    first, second = new_list(graph, "A"), new_list(graph, "B")
    task = new_task(graph, first).json()
    r = graph.get(f"{U}/todo/lists/{second['id']}/tasks/{task['id']}")
    assert r.status_code == 404 and error_code(r) == "ErrorItemNotFound"


def test_default_task_list_cannot_be_deleted(graph):
    default = graph.get(U + "/todo/lists").json()["value"][0]
    r = graph.delete(f"{U}/todo/lists/{default['id']}")
    assert r.status_code == 400 and error_code(r) == "invalidRequest"


def test_deleted_task_list_is_404(graph):
    tlist = new_list(graph)
    assert graph.delete(f"{U}/todo/lists/{tlist['id']}").status_code == 204
    r = graph.get(f"{U}/todo/lists/{tlist['id']}")
    assert r.status_code == 404 and error_code(r) == "ErrorItemNotFound"


def test_todo_calls_draw_on_the_mailbox_budget(graph, emulator):
    graph.get(U + "/todo/lists")
    entry = httpx.get(emulator.root_url + "/_emulator/requests").json()["value"][-1]
    assert entry["budget"] == emulator.emulator.store.get("user", entry["budget"])["id"]


@pytest.mark.parametrize("collection", ["/events", "/calendars", "/contacts", "/contactFolders", "/todo/lists"])
def test_unknown_property_in_filter_is_400_not_an_empty_answer(graph, collection):
    """A mistyped source-key lookup must fail loudly, never report 'not migrated' (review finding)."""
    r = graph.get(U + collection, params={"$filter": "nosuchprop eq 'x'"})
    assert r.status_code == 400, r.text


def test_expanded_links_survive_select(graph):
    """$select and $expand are independent (OData 4.01 §11.2.5.2): a source-key lookup over tasks asks for
    ``$select=id&$expand=linkedResources`` and must see the links (a fixed bug: they were dropped)."""
    tlist = new_list(graph)
    new_task(graph, tlist, linkedResources=[{"applicationName": "notes2m365", "displayName": "Doc",
                                             "externalId": "REPLICA/UNID1"}])
    r = graph.get(f"{U}/todo/lists/{tlist['id']}/tasks", params={"$select": "id", "$expand": "linkedResources"})
    [task] = r.json()["value"]
    assert set(task) == {"id", "linkedResources"}
    assert task["linkedResources"][0]["externalId"] == "REPLICA/UNID1"
