"""Calendars and events of the emulator (graph-semantics §3.1, §11.9), registered by ``pim.py``.

Calendars (the default one is created with the mailbox), events with their
validation (time zones, ``isAllDay``, recurrence), event file attachments,
a simple ``calendarView`` and the invitations Exchange would send: every
event created, changed or deleted while it has attendees adds an
``invitation`` object, shown at ``GET /_emulator/invitations``, so that tests
can assert that a migration never mails anybody.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..errors import EmulatorHttpError
from .odata import PARSE_URI, page, select_fields
from .pim import (
    apply_extended_properties,
    body_error,
    bool_prop,
    check_expand,
    check_properties,
    enum_prop,
    expand_extended_properties,
    format_local,
    get_prop,
    int_prop,
    item_body,
    mailbox,
    new_id,
    owned_object,
    parse_dtz,
    prefer_zone,
    preview,
    string_list,
    string_prop,
    utc_dtz,
    zone,
)
from .router import (
    GraphRequest,
    GraphResponse,
    Json,
    Router,
    bad_request,
    now_iso,
    public,
)
from .store import Store

SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
SENSITIVITY = ("normal", "personal", "private", "confidential")
IMPORTANCE = ("low", "normal", "high")
ATTENDEE_TYPES = ("required", "optional", "resource")
PATTERN_TYPES = ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly")
DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
INDEXES = ("first", "second", "third", "fourth", "last")
RANGE_TYPES = ("endDate", "noEnd", "numbered")
NO_TIME = "0001-01-01T00:00:00Z"

# Writable event properties (DC:resources/event.md); read-only ones are accepted and ignored.
EVENT_WRITABLE = {"subject", "body", "start", "end", "location", "locations", "attendees", "isAllDay", "showAs",
                  "sensitivity", "importance", "categories", "isReminderOn", "reminderMinutesBeforeStart",
                  "recurrence", "singleValueExtendedProperties", "multiValueExtendedProperties",
                  "responseRequested", "allowNewTimeProposals", "isOnlineMeeting", "onlineMeetingProvider",
                  "hideAttendees", "transactionId", "attachments", "originalStartTimeZone", "originalEndTimeZone"}
EVENT_READ_ONLY = {"id", "createdDateTime", "lastModifiedDateTime", "changeKey", "bodyPreview", "iCalUId", "webLink",
                   "type", "organizer", "isOrganizer", "responseStatus", "hasAttachments", "isCancelled",
                   "seriesMasterId", "onlineMeetingUrl", "onlineMeeting", "isDraft", "uid", "occurrenceId"}
CALENDAR_WRITABLE = {"name", "color", "hexColor", "singleValueExtendedProperties", "multiValueExtendedProperties"}
CALENDAR_PROPS = CALENDAR_WRITABLE | {"id", "isDefaultCalendar", "canEdit", "canShare", "canViewPrivateItems",
                                      "changeKey", "owner", "isRemovable", "allowedOnlineMeetingProviders",
                                      "defaultOnlineMeetingProvider", "isTallyingResponses"}


def validation_error(message: str) -> EmulatorHttpError:
    # Realistic Exchange code for a semantically invalid item (UNCONFIRMED for each case; graph-semantics has none).
    return EmulatorHttpError(400, "ErrorPropertyValidationFailure", message)


# -- calendars -----------------------------------------------------------------------------------------------


def calendar_object(store: Store, user: Json, name: str, default: bool = False) -> Json:
    return {
        "id": new_id(store, "calendar", user["id"]), "name": name, "color": "auto", "hexColor": "",
        "isDefaultCalendar": default, "changeKey": "", "canShare": True, "canViewPrivateItems": True,
        "canEdit": True, "isRemovable": not default, "isTallyingResponses": True,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"], "defaultOnlineMeetingProvider": "teamsForBusiness",
        "owner": {"name": user["displayName"], "address": user.get("mail") or user["userPrincipalName"]},
    }


def provision_user(store: Store, user: Json) -> None:
    store.insert("calendar", calendar_object(store, user, "Calendar", default=True), parent=user["id"],
                 owner=user["id"])


def default_calendar(store: Store, user: Json) -> Json:
    return next(c for c in store.owned("calendar", user["id"]) if c["isDefaultCalendar"])


def find_calendar(store: Store, user: Json, cal_id: str) -> Json:
    return owned_object(store, "calendar", cal_id, user)[0]


def render_calendar(req: GraphRequest, cal: Json) -> Json:
    return expand_extended_properties(req, cal, select_fields(public(cal), req.query.get("$select")))


def folder_exists(emu: Any) -> EmulatorHttpError:
    # §1.8: ErrorFolderExists, status 409 or 400 (UNCONFIRMED, switch folder_exists_status).
    return EmulatorHttpError(emu.config.switches.folder_exists_status, "ErrorFolderExists",
                             "A folder with the specified name already exists.")


def check_calendar_name(emu: Any, user: Json, name: object, own_id: str | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        # Missing name: realistic code (UNCONFIRMED).
        raise bad_request("The calendar name is required.", "ErrorInvalidRequest")
    if any(c["name"].lower() == name.lower() and c["id"] != own_id for c in emu.store.owned("calendar", user["id"])):
        raise folder_exists(emu)
    return name


def list_calendars(emu: Any, req: GraphRequest, user: str) -> GraphResponse:
    owner = mailbox(emu, user)
    check_expand(req, ("singleValueExtendedProperties",))
    return GraphResponse(200, page(req, emu.store.owned("calendar", owner["id"]), page_size=emu.config.page_size,
                                   known=CALENDAR_PROPS, type_name="Microsoft.OutlookServices.Calendar",
                                   code=PARSE_URI,
                                   render=lambda c: render_calendar(req, c)))


def create_calendar(emu: Any, req: GraphRequest, user: str) -> GraphResponse:
    owner = mailbox(emu, user)
    body = req.json()
    check_properties(body, CALENDAR_WRITABLE | {"id", "isDefaultCalendar", "owner", "changeKey"}, "calendar")
    cal = calendar_object(emu.store, owner, check_calendar_name(emu, owner, get_prop(body, "name")))
    cal["color"] = string_prop(body, "color", "auto") or "auto"
    apply_extended_properties(cal, body)
    emu.store.insert("calendar", cal, parent=owner["id"], owner=owner["id"])
    return GraphResponse(201, public(cal))


def get_default_calendar(emu: Any, req: GraphRequest, user: str) -> GraphResponse:
    owner = mailbox(emu, user)
    check_expand(req, ("singleValueExtendedProperties",))
    return GraphResponse(200, render_calendar(req, default_calendar(emu.store, owner)))


def get_calendar(emu: Any, req: GraphRequest, user: str, cal: str) -> GraphResponse:
    owner = mailbox(emu, user)
    check_expand(req, ("singleValueExtendedProperties",))
    return GraphResponse(200, render_calendar(req, find_calendar(emu.store, owner, cal)))


def update_calendar(emu: Any, req: GraphRequest, user: str, cal: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_calendar(emu.store, owner, cal)
    body = req.json()
    check_properties(body, CALENDAR_WRITABLE | {"id", "isDefaultCalendar", "owner", "changeKey"}, "calendar")
    if get_prop(body, "name") is not None:
        found["name"] = check_calendar_name(emu, owner, get_prop(body, "name"), found["id"])
    for key in ("color", "hexColor"):
        if get_prop(body, key) is not None:
            found[key] = string_prop(body, key)
    apply_extended_properties(found, body)
    emu.store.put("calendar", found)
    return GraphResponse(200, public(found))


def delete_calendar(emu: Any, req: GraphRequest, user: str, cal: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_calendar(emu.store, owner, cal)
    if found["isDefaultCalendar"]:
        # EWS code for deleting a distinguished folder (realistic; UNCONFIRMED for Graph).
        raise bad_request("The default calendar cannot be deleted.", "ErrorDeleteDistinguishedFolder")
    for event in emu.store.children("event", found["id"]):
        delete_event_tree(emu.store, event["id"])
    emu.store.delete("calendar", found["id"])
    return GraphResponse(204)


# -- event validation --------------------------------------------------------------------------------------


def parse_date(value: object, field_name: str) -> date:
    if not isinstance(value, str):
        raise validation_error(f"The recurrence range needs '{field_name}' as a date (yyyy-MM-dd).")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise body_error(f"Cannot convert the literal '{value}' of '{field_name}' to the expected type 'Edm.Date'.")


def check_recurrence(value: object, start_zone: str) -> Json | None:
    """A ``patternedRecurrence`` as Graph returns it; 400 for what DC:resources/recurrencepattern.md and
    recurrencerange.md disallow ("Any property that you include that does not have a supported value would
    result in an error")."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise body_error("'recurrence' must be a patternedRecurrence object.")
    pattern, rng = get_prop(value, "pattern"), get_prop(value, "range")
    if not isinstance(pattern, dict) or not isinstance(rng, dict):
        raise validation_error("A recurrence needs both 'pattern' and 'range'.")
    check_properties(pattern, {"type", "interval", "month", "dayOfMonth", "daysOfWeek", "firstDayOfWeek", "index"},
                     "microsoft.graph.recurrencePattern")
    check_properties(rng, {"type", "startDate", "endDate", "recurrenceTimeZone", "numberOfOccurrences"},
                     "microsoft.graph.recurrenceRange")
    kind = enum_prop(pattern, "type", PATTERN_TYPES, None)
    if kind is None:
        raise validation_error("The recurrence pattern needs a 'type'.")
    interval = int_prop(pattern, "interval", None)
    if interval is None or interval < 1:  # every type requires interval (recurrencepattern.md table)
        raise validation_error("The recurrence pattern needs an 'interval' of at least 1.")
    days_raw = get_prop(pattern, "daysOfWeek") or []
    if not isinstance(days_raw, list) or not all(isinstance(d, str) for d in days_raw):
        raise body_error("'daysOfWeek' must be a collection of day names.")
    days = [enum_prop({"daysOfWeek": d}, "daysOfWeek", DAYS, "") for d in days_raw]
    first_day = enum_prop(pattern, "firstDayOfWeek", DAYS, "sunday")  # weekly: default sunday
    index = enum_prop(pattern, "index", INDEXES, "first")
    month = int_prop(pattern, "month", 0) or 0
    day_of_month = int_prop(pattern, "dayOfMonth", 0) or 0
    if not 0 <= month <= 12 or not 0 <= day_of_month <= 31:
        raise validation_error("'month' must be 1-12 and 'dayOfMonth' 1-31.")
    if kind in ("weekly", "relativeMonthly", "relativeYearly") and not days:
        raise validation_error(f"A {kind} recurrence pattern needs 'daysOfWeek'.")
    if kind in ("absoluteMonthly", "absoluteYearly") and day_of_month == 0:
        raise validation_error(f"An {kind} recurrence pattern needs 'dayOfMonth'.")
    if kind in ("absoluteYearly", "relativeYearly") and month == 0:
        raise validation_error(f"A {kind} recurrence pattern needs 'month'.")
    if kind == "weekly" and get_prop(pattern, "firstDayOfWeek") is None:
        # weekly requires interval, daysOfWeek and firstDayOfWeek (graph-semantics §3.1, recurrencepattern.md)
        raise validation_error("A weekly recurrence pattern needs 'firstDayOfWeek'.")
    if kind == "absoluteYearly" and day_of_month > (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31):
        raise validation_error(f"Month {month} has no day {day_of_month}.")
    range_type = enum_prop(rng, "type", RANGE_TYPES, None)
    if range_type is None:
        raise validation_error("The recurrence range needs a 'type'.")
    start = parse_date(get_prop(rng, "startDate"), "startDate")
    end_text, occurrences = "0001-01-01", int_prop(rng, "numberOfOccurrences", 0) or 0
    if range_type == "endDate":
        end = parse_date(get_prop(rng, "endDate"), "endDate")
        if end < start:
            raise validation_error("The recurrence range 'endDate' is before its 'startDate'.")
        end_text = end.isoformat()
    if range_type == "numbered" and occurrences <= 0:
        raise validation_error("A numbered recurrence range needs 'numberOfOccurrences' greater than 0.")
    rec_zone = get_prop(rng, "recurrenceTimeZone") or start_zone
    zone(rec_zone)
    return {"pattern": {"type": kind, "interval": interval, "month": month, "dayOfMonth": day_of_month,
                        "daysOfWeek": days, "firstDayOfWeek": first_day, "index": index},
            "range": {"type": range_type, "startDate": start.isoformat(), "endDate": end_text,
                      "recurrenceTimeZone": rec_zone, "numberOfOccurrences": occurrences}}


def check_attendees(value: object) -> list[Json]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise body_error("'attendees' must be a collection.")
    out = []
    for attendee in value:
        email = get_prop(attendee, "emailAddress") if isinstance(attendee, dict) else None
        address = get_prop(email, "address") if isinstance(email, dict) else None
        if not isinstance(address, str) or "@" not in address:
            # EWS/Graph code for an unusable recipient (realistic; UNCONFIRMED for events).
            raise bad_request("At least one recipient isn't valid.", "ErrorInvalidRecipients")
        name = string_prop(email, "name") or address
        kind = enum_prop(attendee, "type", ATTENDEE_TYPES, "required")
        out.append({"type": kind, "status": {"response": "none", "time": NO_TIME},
                    "emailAddress": {"name": name, "address": address}})
    return out


def set_times(event: Json, body: Json) -> None:
    """Validate and store start/end: required, known zones, end not before start, isAllDay at midnight."""
    for key in ("start", "end"):
        value = get_prop(body, key)
        if value is None and key not in event["_times"]:
            # DC:api/user-post-events.md: start and end are part of every event; realistic code.
            raise validation_error(f"The event needs '{key}' (a dateTimeTimeZone).")
        if value is not None:
            moment, tz_name = parse_dtz(value, key)
            event["_times"][key] = {"utc": moment.astimezone(UTC).isoformat(), "zone": tz_name,
                                    "local": moment.astimezone(zone(tz_name)).replace(tzinfo=None).isoformat()}
    start, end = (datetime.fromisoformat(event["_times"][k]["utc"]) for k in ("start", "end"))
    if end < start:
        # EWS ResponseCode "ErrorCalendarEndDateIsEarlierThanStartDate" (Exchange's code for this rule).
        raise bad_request("The end time of the event is earlier than its start time.",
                          "ErrorCalendarEndDateIsEarlierThanStartDate")
    if event["isAllDay"]:
        # §3.1 event.md: "start and end time must be set to midnight and be in the same time zone".
        s, e = event["_times"]["start"], event["_times"]["end"]
        if zone(s["zone"]).key != zone(e["zone"]).key:
            raise validation_error("The start and end of an all-day event must be in the same time zone.")
        if any(not t["local"].endswith("T00:00:00") for t in (s, e)) or s["local"] == e["local"]:
            raise validation_error("The start and end of an all-day event must be set to midnight "
                                   "(and end at least one day after start).")
    event["start"] = utc_dtz(start)
    event["end"] = utc_dtz(end)
    event["originalStartTimeZone"] = event["_times"]["start"]["zone"]
    event["originalEndTimeZone"] = event["_times"]["end"]["zone"]


def apply_event_fields(event: Json, body: Json) -> None:
    """Everything a POST or PATCH body may set, validated (shared by both)."""
    check_properties(body, EVENT_WRITABLE | EVENT_READ_ONLY, "microsoft.graph.event")
    if get_prop(body, "subject") is not None:
        event["subject"] = string_prop(body, "subject")
    if get_prop(body, "body") is not None:
        event["body"] = item_body(body, "html")
        event["bodyPreview"] = preview(event["body"])
    event["isAllDay"] = bool_prop(body, "isAllDay", event["isAllDay"])
    event["showAs"] = enum_prop(body, "showAs", SHOW_AS, event["showAs"])
    event["sensitivity"] = enum_prop(body, "sensitivity", SENSITIVITY, event["sensitivity"])
    event["importance"] = enum_prop(body, "importance", IMPORTANCE, event["importance"])
    event["isReminderOn"] = bool_prop(body, "isReminderOn", event["isReminderOn"])
    event["reminderMinutesBeforeStart"] = int_prop(body, "reminderMinutesBeforeStart",
                                                   event["reminderMinutesBeforeStart"])
    event["responseRequested"] = bool_prop(body, "responseRequested", event["responseRequested"])
    event["allowNewTimeProposals"] = bool_prop(body, "allowNewTimeProposals", event["allowNewTimeProposals"])
    event["isOnlineMeeting"] = bool_prop(body, "isOnlineMeeting", event["isOnlineMeeting"])
    categories = string_list(body, "categories")
    if categories is not None:
        event["categories"] = categories
    location = get_prop(body, "location")
    if location is not None:
        if not isinstance(location, dict):
            raise body_error("'location' must be a location object.")
        event["location"] = {"displayName": string_prop(location, "displayName", "") or "",
                             "locationType": "default", "uniqueIdType": "unknown", "address": {}, "coordinates": {},
                             **{k: v for k, v in location.items() if not k.startswith("@")}}
        event["locations"] = [event["location"]] if event["location"]["displayName"] else []
    if get_prop(body, "attendees") is not None:
        event["attendees"] = check_attendees(get_prop(body, "attendees"))
    set_times(event, body)
    if any(k.lower() == "recurrence" for k in body):
        event["recurrence"] = check_recurrence(get_prop(body, "recurrence"), event["originalStartTimeZone"])
    event["type"] = "seriesMaster" if event["recurrence"] else "singleInstance"
    apply_extended_properties(event, body)


def new_event(store: Store, owner: Json, cal: Json) -> Json:
    event_id = new_id(store, "event", owner["id"])
    stamp = now_iso()
    return {
        "id": event_id, "createdDateTime": stamp, "lastModifiedDateTime": stamp,
        "changeKey": hashlib.sha256(event_id.encode()).hexdigest()[:20], "categories": [],
        "transactionId": None, "originalStartTimeZone": "UTC", "originalEndTimeZone": "UTC",
        "iCalUId": "040000008200E00074C5B7101A82E00800000000" + hashlib.sha256(event_id.encode()).hexdigest()[:32],
        "reminderMinutesBeforeStart": 15, "isReminderOn": True, "hasAttachments": False, "subject": "",
        "bodyPreview": "", "importance": "normal", "sensitivity": "normal", "isAllDay": False, "isCancelled": False,
        "isOrganizer": True, "responseRequested": True, "seriesMasterId": None, "showAs": "busy",
        "type": "singleInstance", "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}"
                                             "&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None, "isOnlineMeeting": False, "onlineMeetingProvider": "unknown",
        "allowNewTimeProposals": True, "isDraft": False, "hideAttendees": False,
        # The organizer's own answer (DC:resources/responsestatus.md: "organizer").
        "responseStatus": {"response": "organizer", "time": NO_TIME},
        "body": {"contentType": "html", "content": ""},
        "start": None, "end": None,
        "location": {"displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": {},
                     "coordinates": {}},
        "locations": [], "recurrence": None, "attendees": [],
        "organizer": {"emailAddress": {"name": owner["displayName"],
                                       "address": owner.get("mail") or owner["userPrincipalName"]}},
        "_calendar": cal["id"], "_times": {},
    }


def record_invitation(store: Store, owner: Json, event: Json, reason: str) -> None:
    """"When an event is sent, the server sends invitations to all the attendees." (DC:api/user-post-events.md)"""
    if not event["attendees"]:
        return
    store.insert("invitation", {
        "id": f"inv-{store.next_number('invitation')}", "reason": reason, "eventId": event["id"],
        "mailbox": owner["userPrincipalName"], "organizer": event["organizer"]["emailAddress"]["address"],
        "attendees": [a["emailAddress"]["address"] for a in event["attendees"]],
        "subject": event["subject"], "start": event["start"], "end": event["end"], "sentDateTime": now_iso(),
    }, parent=event["id"], owner=owner["id"])


# -- event rendering ------------------------------------------------------------------------------------------


def render_event(req: GraphRequest, store: Store, event: Json, tz: tuple[str, Any]) -> Json:
    """The event as Graph answers it: start/end in the ``Prefer: outlook.timezone`` zone (default UTC)."""
    out = public(event)
    name, tzinfo = tz
    for key in ("start", "end"):
        times = event["_times"][key]
        if event["isAllDay"]:
            # All-day events keep their midnight whatever zone is asked (GH microsoftgraph/microsoft-graph-docs#6003).
            text = format_local(datetime.fromisoformat(times["local"]))
        else:
            text = format_local(datetime.fromisoformat(times["utc"]).astimezone(tzinfo))
        out[key] = {"dateTime": text, "timeZone": name}
    expand = check_expand(req, ("singleValueExtendedProperties", "attachments"))
    if "attachments" in expand:
        out["attachments"] = [public(a) for a in store.children("eventAttachment", event["id"])]
    out = select_fields(out, req.query.get("$select"))
    return expand_extended_properties(req, event, out)


def find_event(emu: Any, owner: Json, event_id: str, cal: str | None = None) -> Json:
    event = owned_object(emu.store, "event", event_id, owner)[0]
    if cal is not None and event["_calendar"] != find_calendar(emu.store, owner, cal)["id"]:
        raise EmulatorHttpError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return event


def delete_event_tree(store: Store, event_id: str) -> None:
    for attachment in store.children("eventAttachment", event_id):
        store.delete("eventAttachment", attachment["id"])
    store.delete("event", event_id)


# -- event handlers ---------------------------------------------------------------------------------------------


def create_event(emu: Any, req: GraphRequest, user: str, cal: str | None = None) -> GraphResponse:
    owner = mailbox(emu, user)
    target = find_calendar(emu.store, owner, cal) if cal else default_calendar(emu.store, owner)
    body = req.json()
    event = new_event(emu.store, owner, target)
    apply_event_fields(event, body)
    attachments = get_prop(body, "attachments")
    emu.store.insert("event", event, parent=target["id"], owner=owner["id"])
    if attachments is not None:
        if not isinstance(attachments, list):
            raise body_error("'attachments' must be a collection.")
        for item in attachments:
            add_attachment(emu, owner, event, item)
        event = emu.store.get("event", event["id"]) or event
    record_invitation(emu.store, owner, event, "created")
    tz = prefer_zone(req)
    # The create response does not include extended properties (singlevaluelegacyextendedproperty-post-...md).
    out = render_event(GraphRequest(req.method, req.path, headers=req.headers), emu.store, event, tz)
    return GraphResponse(201, out)


def list_events(emu: Any, req: GraphRequest, user: str, cal: str | None = None) -> GraphResponse:
    owner = mailbox(emu, user)
    tz = prefer_zone(req)
    check_expand(req, ("singleValueExtendedProperties", "attachments"))
    # /users/{id}/events and /calendar/events: the default calendar only ("from the user's default calendar
    # or from a specified calendar", DC beta user-list-events.md; the v1.0 text says "in the user's mailbox").
    target = find_calendar(emu.store, owner, cal) if cal else default_calendar(emu.store, owner)
    items = emu.store.children("event", target["id"])
    return GraphResponse(200, page(req, items, page_size=emu.config.page_size, known=EVENT_WRITABLE | EVENT_READ_ONLY,
                                   type_name="Microsoft.OutlookServices.Event", code=PARSE_URI,
                                   render=lambda e: render_event(req, emu.store, e, tz)))


def get_event(emu: Any, req: GraphRequest, user: str, event: str, cal: str | None = None) -> GraphResponse:
    owner = mailbox(emu, user)
    tz = prefer_zone(req)
    return GraphResponse(200, render_event(req, emu.store, find_event(emu, owner, event, cal), tz))


def update_event(emu: Any, req: GraphRequest, user: str, event: str, cal: str | None = None) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_event(emu, owner, event, cal)
    body = req.json()
    if get_prop(body, "attachments") is not None:
        raise bad_request("Attachments cannot be changed with PATCH; use the attachments collection.")
    before = (found["attendees"], found["subject"], found["start"], found["end"], found["location"])
    apply_event_fields(found, body)
    found["lastModifiedDateTime"] = now_iso()
    emu.store.put("event", found)
    if (found["attendees"], found["subject"], found["start"], found["end"], found["location"]) != before:
        record_invitation(emu.store, owner, found, "updated")  # Exchange sends updates to the attendees
    tz = prefer_zone(req)
    return GraphResponse(200, render_event(GraphRequest(req.method, req.path, headers=req.headers),
                                           emu.store, found, tz))


def delete_event(emu: Any, req: GraphRequest, user: str, event: str, cal: str | None = None) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_event(emu, owner, event, cal)
    # "If the event is a meeting, deleting the event on the organizer's calendar sends a cancellation
    # message to the meeting attendees." (DC:api/event-delete.md)
    record_invitation(emu.store, owner, found, "cancelled")
    delete_event_tree(emu.store, found["id"])
    return GraphResponse(204)


# -- calendarView ------------------------------------------------------------------------------------------------


def _occurrence_dates(event: Json, window_end: date) -> list[date]:
    """Dates of a series (daily, weekly, absoluteMonthly, absoluteYearly; relative patterns: first date only)."""
    pattern, rng = event["recurrence"]["pattern"], event["recurrence"]["range"]
    first = date.fromisoformat(rng["startDate"])
    last = date.fromisoformat(rng["endDate"]) if rng["type"] == "endDate" else window_end
    limit = rng["numberOfOccurrences"] if rng["type"] == "numbered" else 10_000
    out: list[date] = []
    day, step = first, pattern["interval"]
    weekdays = {DAYS.index(d) for d in pattern["daysOfWeek"]}
    while day <= min(last, window_end) and len(out) < limit:
        kind = pattern["type"]
        if kind == "daily":
            out.append(day)
            day += timedelta(days=step)
            continue
        if kind == "weekly":
            week_start = first - timedelta(days=(first.isoweekday() % 7))
            weeks = (day - week_start).days // 7
            if weeks % step == 0 and (day.isoweekday() % 7) in weekdays:
                out.append(day)
            day += timedelta(days=1)
            continue
        if kind in ("absoluteMonthly", "absoluteYearly"):
            months = (day.year - first.year) * 12 + day.month - first.month
            every = step * (12 if kind == "absoluteYearly" else 1)
            if (day.day == pattern["dayOfMonth"] and months % every == 0
                    and (kind == "absoluteMonthly" or day.month == pattern["month"])):
                out.append(day)
            day += timedelta(days=1)
            continue
        out.append(first)  # relative patterns are not expanded by the emulator
        break
    return out


def calendar_view(emu: Any, req: GraphRequest, user: str, cal: str | None = None) -> GraphResponse:
    owner = mailbox(emu, user)
    tz = prefer_zone(req)
    start_text, end_text = req.query.get("startDateTime"), req.query.get("endDateTime")
    if not start_text or not end_text:
        # Graph's answer when the window is missing (DC:api/calendar-list-calendarview.md: both required).
        raise bad_request("This request requires a time window specified by the query string parameters "
                          "StartDateTime and EndDateTime.", "ErrorInvalidParameter")
    try:
        lo, hi = (datetime.fromisoformat(t) for t in (start_text, end_text))
    except ValueError:
        raise bad_request("The StartDateTime or EndDateTime parameter is not a valid date and time.",
                          "ErrorInvalidParameter")
    lo, hi = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (lo, hi))
    target = find_calendar(emu.store, owner, cal) if cal else default_calendar(emu.store, owner)
    events = emu.store.children("event", target["id"])
    instances: list[Json] = []
    for event in events:
        start = datetime.fromisoformat(event["_times"]["start"]["utc"])
        end = datetime.fromisoformat(event["_times"]["end"]["utc"])
        if not event["recurrence"]:
            if start < hi and end > lo:
                instances.append(event)
            continue
        local_zone = zone(event["_times"]["start"]["zone"])
        local_start = datetime.fromisoformat(event["_times"]["start"]["local"])
        duration = end - start
        for day in _occurrence_dates(event, hi.date()):
            occ_local = datetime.combine(day, local_start.time())
            occ_start = occ_local.replace(tzinfo=local_zone).astimezone(UTC)
            if occ_start < hi and occ_start + duration > lo:
                occ = {**event, "id": event["id"] + "_" + day.strftime("%Y%m%d"), "type": "occurrence",
                       "seriesMasterId": event["id"], "recurrence": None,
                       "_times": {"start": {**event["_times"]["start"], "utc": occ_start.isoformat(),
                                            "local": occ_local.isoformat()},
                                  "end": {**event["_times"]["end"], "utc": (occ_start + duration).isoformat(),
                                          "local": (occ_local + duration).isoformat()}}}
                occ["start"], occ["end"] = utc_dtz(occ_start), utc_dtz(occ_start + duration)
                instances.append(occ)
    instances.sort(key=lambda e: e["_times"]["start"]["utc"])
    return GraphResponse(200, page(req, instances, page_size=emu.config.page_size,
                                   render=lambda e: render_event(req, emu.store, e, tz)))


# -- event attachments ---------------------------------------------------------------------------------------------


def add_attachment(emu: Any, owner: Json, event: Json, body: object) -> Json:
    """A fileAttachment (DC:resources/fileattachment.md); over the inline limit -> refused (§2, §11.8)."""
    if not isinstance(body, dict):
        raise body_error("An attachment must be an object.")
    kind = str(get_prop(body, "@odata.type") or "").lstrip("#").lower()
    if kind != "microsoft.graph.fileattachment":
        # The emulator implements file attachments only (item/reference attachments are not migrated).
        raise bad_request("The emulator supports only '#microsoft.graph.fileAttachment' on events.",
                          "ErrorInvalidRequest")
    name = string_prop(body, "name")
    content = string_prop(body, "contentBytes")
    if not name or content is None:
        raise validation_error("A file attachment needs 'name' and 'contentBytes'.")
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        # contentBytes is Edm.Binary; a bad literal fails body deserialization (realistic code).
        raise body_error("Cannot convert the literal of 'contentBytes' to the expected type 'Edm.Binary'.")
    switches = emu.config.switches
    if len(data) > switches.inline_attachment_limit:
        # §2: POST .../attachments only below 3 MB; larger needs an upload session (status UNCONFIRMED, switch).
        raise EmulatorHttpError(switches.inline_attachment_status, "ErrorRequestEntityTooLarge",
                                "The attachment is larger than the limit for a single POST; use "
                                "createUploadSession for attachments of 3 MB or more.")
    is_inline = bool_prop(body, "isInline", False)
    attachment = {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "id": new_id(emu.store, "eventAttachment", owner["id"]), "lastModifiedDateTime": now_iso(),
        "name": name, "contentType": string_prop(body, "contentType") or "application/octet-stream",
        "size": len(data), "isInline": is_inline, "contentId": string_prop(body, "contentId"),
        "contentLocation": None, "contentBytes": base64.b64encode(data).decode(),
    }
    emu.store.insert("eventAttachment", attachment, parent=event["id"], owner=owner["id"])
    if not is_inline:  # hasAttachments ignores inline attachments (DC:resources/message.md, §2)
        stored = emu.store.get("event", event["id"]) or event
        stored["hasAttachments"] = True
        emu.store.put("event", stored)
    return attachment


def create_attachment(emu: Any, req: GraphRequest, user: str, event: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_event(emu, owner, event)
    return GraphResponse(201, public(add_attachment(emu, owner, found, req.json())))


def list_attachments(emu: Any, req: GraphRequest, user: str, event: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_event(emu, owner, event)
    return GraphResponse(200, page(req, emu.store.children("eventAttachment", found["id"]),
                                   page_size=emu.config.page_size,
                                   render=lambda a: select_fields(public(a), req.query.get("$select"))))


def get_attachment(emu: Any, req: GraphRequest, user: str, event: str, attachment: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_event(emu, owner, event)
    item, parent = owned_object(emu.store, "eventAttachment", attachment, owner)
    if parent != found["id"]:
        raise EmulatorHttpError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return GraphResponse(200, select_fields(public(item), req.query.get("$select")))


def delete_attachment(emu: Any, req: GraphRequest, user: str, event: str, attachment: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_event(emu, owner, event)
    _, parent = owned_object(emu.store, "eventAttachment", attachment, owner)
    if parent != found["id"]:
        raise EmulatorHttpError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    emu.store.delete("eventAttachment", attachment)
    found["hasAttachments"] = any(not a["isInline"] for a in emu.store.children("eventAttachment", found["id"]))
    emu.store.put("event", found)
    return GraphResponse(204)


def register(router: Router) -> None:
    add = router.add
    add("GET", "/users/{user}/calendars", list_calendars, budget="mailbox", many=True)
    add("POST", "/users/{user}/calendars", create_calendar, budget="mailbox")
    add("GET", "/users/{user}/calendar", get_default_calendar, budget="mailbox")
    add("GET", "/users/{user}/calendars/{cal}", get_calendar, budget="mailbox")
    add("PATCH", "/users/{user}/calendars/{cal}", update_calendar, budget="mailbox")
    add("DELETE", "/users/{user}/calendars/{cal}", delete_calendar, budget="mailbox")
    for prefix in ("/users/{user}", "/users/{user}/calendars/{cal}"):
        add("GET", prefix + "/events", list_events, budget="mailbox", many=True)
        add("POST", prefix + "/events", create_event, budget="mailbox")
        add("GET", prefix + "/calendarView", calendar_view, budget="mailbox", many=True)
        add("GET", prefix + "/events/{event}", get_event, budget="mailbox")
        add("PATCH", prefix + "/events/{event}", update_event, budget="mailbox")
        add("DELETE", prefix + "/events/{event}", delete_event, budget="mailbox")
    add("GET", "/users/{user}/calendar/events", list_events, budget="mailbox", many=True)
    add("POST", "/users/{user}/calendar/events", create_event, budget="mailbox")
    add("GET", "/users/{user}/calendar/calendarView", calendar_view, budget="mailbox", many=True)
    add("GET", "/users/{user}/events/{event}/attachments", list_attachments, budget="mailbox", many=True)
    add("POST", "/users/{user}/events/{event}/attachments", create_attachment, budget="mailbox")
    add("GET", "/users/{user}/events/{event}/attachments/{attachment}", get_attachment, budget="mailbox")
    add("DELETE", "/users/{user}/events/{event}/attachments/{attachment}", delete_attachment, budget="mailbox")

