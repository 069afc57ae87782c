"""Planning helpers for a mailbox: names to recipients, dates, content, and calendar/To Do/contact payloads.

:mod:`notes2m365.mailplan` drives the planning of a mailbox source; this module
holds the parts shared with messages (:class:`Ctx`: recipients through the
identity map, UTC dates, :class:`~notes2m365.operations.ContentRef`\\ s) and
the builders of the non-mail payloads (graph-semantics §3):

* **events** -- single events in UTC (the instant is exact whatever the Notes
  zone); all-day entries (``AppointmentType`` 1 and 2, or date-only values)
  at midnight to midnight, the inclusive Notes end date plus one day.
  Repeating entries get a ``patternedRecurrence`` only when the rule (``D``,
  ``W``, ``MD``, ``YD``) regenerates exactly the Notes instance dates, at one
  wall-clock time in a zone we can name for Windows: every instance is
  converted to that zone (``StartTimeZone``'s ``$ZN``, through the IANA zone
  of :data:`notes2m365.timezones.WINDOWS_TO_IANA`), whatever offset its DXL value was written with, and
  the series starts at that zone's wall-clock time.  Otherwise every instance
  becomes a single event (key ``...#instance/<local start>``) with a warning.
  An entry without a valid ``StartDateTime`` is not planned: :class:`PlanError`
  (the mailbox plan records it as an error).  ``RepeatInterval`` and
  ``$AlarmOffset`` must be finite numbers in a sane range (else: single
  events, a reminder at the start, each with a warning).
  Attendees per :attr:`MailboxRules.attendees`.
* **tasks** -- To Do tasks; the source key goes into ``linkedResources``
  (To Do has no extended properties); ``AssignedTo`` cannot be expressed and
  is written into the body with a warning.
* **contacts** -- Person documents; birthdays at 12:00 UTC so the date shows
  unchanged in every zone from UTC-11 to UTC+11; fax numbers (no Graph
  field) go to ``personalNotes``.

Everything is pure: same documents, same payloads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from dataclasses import dataclass, field
from functools import cache, lru_cache
from html import escape
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml import html as lxml_html

from .convert import ConvertedDocument
from .model import NotesDateTime, NotesDocument
from .operations import INLINE_ATTACHMENT_LIMIT, SOURCE_KEY_PROPERTY, ContentRef
from .timezones import WINDOWS_TO_IANA

UTC = dt.UTC
_ADDRESS = re.compile(r"^[^@\s<>\"/=]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
#: Notes zone names (``$ZN=`` of a zone string) whose Windows zone we name; others are planned in UTC.
WINDOWS_ZONES = {
    "utc": "UTC", "gmt": "GMT Standard Time", "w. europe": "W. Europe Standard Time",
    "central europe": "Central Europe Standard Time", "central european": "Central European Standard Time",
    "romance": "Romance Standard Time", "e. europe": "E. Europe Standard Time", "fle": "FLE Standard Time",
    "gtb": "GTB Standard Time", "russian": "Russian Standard Time", "india": "India Standard Time",
    "nepal": "Nepal Standard Time", "china": "China Standard Time", "tokyo": "Tokyo Standard Time",
    "singapore": "Singapore Standard Time", "aus eastern": "AUS Eastern Standard Time",
    "eastern": "Eastern Standard Time", "central": "Central Standard Time",
    "mountain": "Mountain Standard Time", "pacific": "Pacific Standard Time",
}
#: Largest ``RepeatInterval`` we turn into a Graph pattern (Outlook's own limit is 999).
MAX_REPEAT_INTERVAL = 999
#: Largest ``$AlarmOffset`` (minutes either side of the start) we keep: one year.
MAX_ALARM_MINUTES = 366 * 24 * 60
#: Extensions we name a content type for (a fixed table: the system's mime.types would vary between hosts).
CONTENT_TYPES = {
    "pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv", "htm": "text/html", "html": "text/html",
    "xml": "application/xml", "json": "application/json", "rtf": "application/rtf", "zip": "application/zip",
    "doc": "application/msword", "xls": "application/vnd.ms-excel", "ppt": "application/vnd.ms-powerpoint",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "png": "image/png", "gif": "image/gif", "jpg": "image/jpeg", "jpeg": "image/jpeg", "bmp": "image/bmp",
    "tif": "image/tiff", "tiff": "image/tiff", "eml": "message/rfc822", "ics": "text/calendar",
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class PlanError(ValueError):
    """A document that cannot be planned; the message says why (the mailbox plan records it as an error)."""


class ResolutionLike(Protocol):
    kind: str
    address: str | None


class Resolver(Protocol):
    """What planning needs of :class:`notes2m365.identity.IdentityMap`."""

    def resolve(self, name: str) -> Any: ...


# -- dates ------------------------------------------------------------------------------------------------
def first_dt(doc: NotesDocument, name: str) -> NotesDateTime | None:
    item = doc.get(name)
    for v in item.values if item is not None else ():
        if isinstance(v, NotesDateTime) and v.value is not None:
            return v
    return None


def all_dt(doc: NotesDocument, name: str) -> list[NotesDateTime]:
    item = doc.get(name)
    return [v for v in (item.values if item is not None else ()) if isinstance(v, NotesDateTime)
            and isinstance(v.value, (dt.datetime, dt.date))]


def to_utc(value: NotesDateTime | dt.datetime | None) -> dt.datetime | None:
    """A TIMEDATE or datetime as an aware UTC datetime; a date is its midnight UTC, naive values count as UTC."""
    v = value.value if isinstance(value, NotesDateTime) else value
    if isinstance(v, dt.datetime):
        u = v.astimezone(UTC) if v.tzinfo else v
        # = u.replace(tzinfo=UTC, microsecond=0), in a third less time: replace() parses keywords, slowly here
        return _DATETIME(u.year, u.month, u.day, u.hour, u.minute, u.second, 0, UTC)
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day, tzinfo=UTC)
    return None


_DATETIME = dt.datetime


def iso_z(value: dt.datetime) -> str:
    if value.year >= 1000:  # = isoformat(timespec="seconds")[:19] + "Z" (a third faster; strftime's %Y does not
        return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (  # pad below 1000)
            value.year, value.month, value.day, value.hour, value.minute, value.second)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def dttz(value: dt.datetime, zone: str = "UTC") -> dict[str, str]:
    """Graph ``dateTimeTimeZone``: wall-clock time (no offset) plus a Windows zone name."""
    return {"dateTime": value.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": zone}


def local_date(value: NotesDateTime) -> dt.date:
    v = value.value
    return v.date() if isinstance(v, dt.datetime) else v  # type: ignore[return-value]


@cache
def zone_info(windows: str) -> ZoneInfo | None:
    """The IANA zone of a Windows zone name of :data:`WINDOWS_ZONES`; ``None`` without time zone data."""
    name = WINDOWS_TO_IANA.get(windows)
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def wall_clock(value: NotesDateTime, zone: ZoneInfo) -> dt.datetime:
    """The naive wall-clock time of a TIMEDATE in ``zone`` (naive values count as UTC, like :func:`to_utc`)."""
    utc = to_utc(value)
    assert utc is not None
    return utc.astimezone(zone).replace(tzinfo=None)


def notes_zone(doc: NotesDocument) -> str | None:
    """The Windows zone of ``StartTimeZone`` (``...$ZN=W. Europe``), when we can name it."""
    m = re.search(r"\$ZN=([^$]*)", doc.text("StartTimeZone"))
    return WINDOWS_ZONES.get(m.group(1).strip().casefold()) if m else None


def texts(doc: NotesDocument, name: str) -> list[str]:
    item = doc.get(name)
    if item is None:
        return []
    out = []
    for v in item.values:  # a loop: faster than nested comprehensions for the usual one to five values
        t = (v if v.__class__ is str else str(v)).strip()
        if t:
            out.append(t)
    return out


def html_text(markup: str) -> str:
    """Plain text of rendered HTML: block elements on their own lines, runs of blank lines collapsed."""
    if not markup.strip():
        return ""
    root = lxml_html.fragment_fromstring(markup, create_parent="div")
    for el in root.iter("p", "div", "li", "tr", "br", "h1", "h2", "h3", "h4", "table", "hr"):
        el.tail = "\n" + (el.tail or "")
    for el in root.iter("li"):
        el.text = "- " + (el.text or "")
    lines = [" ".join(line.split()) for line in root.text_content().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


_QUOTED_ADDRESS = re.compile(r'^"?([^"<]*?)"?\s*<[^>]+>$')


@lru_cache(maxsize=8192)  # pure; the same few names recur on every message of a mailbox
def display_name(name: str) -> str:
    """``CN=Jane Doe/OU=Sales/O=Acme`` or ``Jane Doe/Sales/Acme@ACME`` -> ``Jane Doe``; other text as is."""
    text = name.strip()
    m = _QUOTED_ADDRESS.match(text)
    if m:
        return m.group(1).strip()
    if _ADDRESS.match(text):
        return text
    first = text.rsplit("@", 1)[0].split("/")[0].strip()
    return first[3:].strip() if first[:3].upper() == "CN=" else first


# -- the planning context -----------------------------------------------------------------------------------
#: Most (name, Internet address) answers a planning memo keeps (see :func:`planning_memo`); then it starts over.
MEMO_LIMIT = 20_000


def planning_memo(identity: Resolver) -> dict[tuple[str, str], tuple[str | None, str, dict[str, Any] | None]] | None:
    """The memo of :meth:`Ctx.lookup` for ``identity``, kept with it (the same people recur on every message of a
    mailbox, and across the mailboxes of a job): (name, Internet address) -> (address, why-not, recipient JSON).
    Only an :class:`~notes2m365.identity.IdentityMap` has one: its answers are pure except for the count of
    unresolved names, and answers that counted one are not kept.  The recipient dicts are shared by the payloads
    (read-only: nothing changes a planned payload's nested values)."""
    return getattr(identity, "planning_memo", None)


@dataclass
class Ctx:
    """One document being planned: the mailbox, identity map and the warnings collected so far."""

    upn: str
    identity: Resolver
    key: str = ""
    warnings: list[str] = field(default_factory=list)
    memo: dict[tuple[str, str], tuple[str | None, str, dict[str, Any] | None]] | None = None

    def lookup(self, name: str, inet: str = "") -> tuple[str | None, str, dict[str, Any] | None]:
        """(address, why-not, recipient JSON named by ``display_name(name)``) of a Notes name; a valid Internet
        address beside it takes precedence."""
        memo = self.memo
        if memo is not None:
            hit = memo.get((name, inet))
            if hit is not None:
                return hit
        missed = False
        stripped = inet.strip()
        found = None
        if stripped and _ADDRESS.match(stripped):
            res = self.identity.resolve(stripped)
            missed = res.kind == "unresolved"
            if res.address:
                found = (res.address, "", recipient(res.address, display_name(name)))
        if found is None:
            res = self.identity.resolve(name)
            missed = missed or res.kind == "unresolved"
            found = ((res.address, "", recipient(res.address, display_name(name))) if res.address
                     else (None, res.kind, None))
        if memo is not None and not missed:  # an unresolved name is asked again: each time it is counted
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            memo[(name, inet)] = found
        return found

    def address(self, name: str, inet: str = "") -> tuple[str | None, str]:
        """(address, why-not) of a Notes name; a valid Internet address beside it takes precedence."""
        address, why, _ = self.lookup(name, inet)
        return address, why

    def recipients(self, label: str, names: list[str], inets: list[str] = (),  # type: ignore[assignment]
                   skip: str | None = None) -> list[dict[str, Any]]:
        """Graph recipients; names without an address are dropped with a warning (Graph requires one)."""
        aligned = len(inets) == len(names)
        out: list[dict[str, Any]] = []
        lookup = self.lookup
        for i, name in enumerate(names):
            address, why, rec = lookup(name, inets[i] if aligned else "")
            if address is None:
                self.warnings.append(f"{label}: '{name}' dropped: no address ({why})")
                continue
            if skip and address.casefold() == skip.casefold():
                continue
            out.append(rec)  # type: ignore[arg-type]
        return out


def recipient(address: str, name: str | None = None) -> dict[str, Any]:
    email: dict[str, str] = {"address": address}
    if name and name.casefold() != address.casefold():
        email["name"] = name
    return {"emailAddress": email}


def source_key_property(key: str) -> dict[str, str]:
    return {"id": SOURCE_KEY_PROPERTY, "value": key}


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower() if "." in name else "", "application/octet-stream")


def contents(conv: ConvertedDocument) -> list[ContentRef]:
    """Attachments (OLE storage and MIME part bodies excluded) and inline images, in document order."""
    refs = [ContentRef(a.name, a.size, a.sha256, content_type(a.name)) for a in conv.attachments]
    refs += [ContentRef(i.filename, i.size, i.sha256, i.content_type, inline=True, content_id=i.content_id)
             for i in conv.inline_images]
    if conv.message is not None:
        for n, a in enumerate(conv.message.attachments, 1):
            refs.append(ContentRef(a.filename or f"attachment-{n}", len(a.data), hashlib.sha256(a.data).hexdigest(),
                                   a.content_type, inline=a.inline and bool(a.content_id), content_id=a.content_id))
    return refs


def large_content(ctx: Ctx, refs: list[ContentRef], draft: bool) -> int:
    """Count content over the inline limit; warn where Graph's upload session is a risk (graph-semantics §2)."""
    large = [r for r in refs if r.size > INLINE_ATTACHMENT_LIMIT]
    for r in large:
        if r.inline:
            ctx.warnings.append(f"inline image '{r.name}' ({r.size} bytes) is over the 3 MB inline limit: an upload "
                                "session cannot set its contentId")
        elif not draft:
            ctx.warnings.append(f"attachment '{r.name}' ({r.size} bytes) is over the 3 MB inline limit: upload "
                                "sessions on a non-draft item are undocumented")
    return len(large)


# -- recurrence -----------------------------------------------------------------------------------------------
def _add_months(d: dt.date, months: int) -> dt.date | None:
    y, m = divmod(d.month - 1 + months, 12)
    try:
        return d.replace(year=d.year + y, month=m + 1)
    except ValueError:
        return None


def recurrence(doc: NotesDocument, starts: list[NotesDateTime] | list[dt.date],
               zone: str) -> tuple[dict[str, Any] | None, str]:
    """A ``patternedRecurrence`` reproducing exactly the instance ``starts`` (TIMEDATEs, or their dates in
    ``zone``), or ``(None, why not)``."""
    unit = doc.text("RepeatUnit").strip().upper()
    raw = doc.text("RepeatInterval").strip()
    try:
        number = float(raw or 1)
    except ValueError:
        return None, f"RepeatInterval {raw!r} is not a number"
    if not math.isfinite(number) or not 0 <= number <= MAX_REPEAT_INTERVAL:
        return None, f"RepeatInterval {raw!r} is out of range (1 to {MAX_REPEAT_INTERVAL})"
    interval = max(1, int(number))
    dates = [s if isinstance(s, dt.date) else local_date(s) for s in starts]
    if not dates:
        return None, "no instance dates"
    first = dates[0]
    if unit == "D":
        pattern: dict[str, Any] = {"type": "daily", "interval": interval}
    elif unit == "W":
        pattern = {"type": "weekly", "interval": interval, "daysOfWeek": [WEEKDAYS[first.weekday()]],
                   "firstDayOfWeek": "sunday"}
    elif unit == "MD" and first.day <= 28:
        pattern = {"type": "absoluteMonthly", "interval": interval, "dayOfMonth": first.day}
    elif unit == "YD" and (first.month, first.day) != (2, 29):
        pattern = {"type": "absoluteYearly", "interval": interval, "dayOfMonth": first.day, "month": first.month}
    else:
        return None, f"repeat unit {unit or '(none)'!r} on {first} has no exact Graph pattern"
    how, until = doc.text("RepeatHow").strip().upper(), first_dt(doc, "RepeatUntil")
    rng: dict[str, Any] = {"startDate": first.isoformat(), "recurrenceTimeZone": zone}
    if how == "U" and until is not None:
        rng.update(type="endDate", endDate=local_date(until).isoformat())
        end, count = local_date(until), None
    else:
        rng.update(type="numbered", numberOfOccurrences=len(dates))
        end, count = None, len(dates)
    expected, k = [], 0
    while len(expected) <= len(dates):
        try:
            if unit in ("D", "W"):
                d: dt.date | None = first + dt.timedelta(days=k * interval * (7 if unit == "W" else 1))
            else:
                d = _add_months(first, k * interval * (12 if unit == "YD" else 1))
        except OverflowError:  # past year 9999: the rule ends there
            d = None
        k += 1
        if d is None or (end is not None and d > end) or (count is not None and len(expected) == count):
            break
        expected.append(d)
    if expected != dates:
        return None, "the Notes instance dates do not follow the repeat rule (moved, deleted or custom dates)"
    return {"pattern": pattern, "range": rng}, ""


def repeats(doc: NotesDocument) -> bool:
    return doc.text("Repeats").strip() == "1"


def is_instance_child(doc: NotesDocument) -> bool:
    """A repeat instance document (``$RefOptions`` 1 under its parent): part of the parent's series."""
    return doc.response and doc.text("$RefOptions").strip() == "1" and repeats(doc)


# -- events ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventPart:
    """One planned event: the key part (``None`` for the document itself) and the payload."""

    part: str | None
    payload: dict[str, Any]


def _attendee_block(ctx: Ctx, doc: NotesDocument) -> tuple[str, list[dict[str, Any]]]:
    rows: list[tuple[str, list[str]]] = []
    attendees: list[dict[str, Any]] = []
    for label, names_item, inet_item, kind in (("Required", "RequiredAttendees", "INetRequiredNames", "required"),
                                               ("Optional", "OptionalAttendees", "INetOptionalNames", "optional"),
                                               ("FYI", "FYIAttendees", "INetFYINames", "optional"),
                                               ("Room", "Room", "", "resource"),
                                               ("Resources", "Resources", "", "resource")):
        names, inets = texts(doc, names_item), (texts(doc, inet_item) if inet_item else [])
        if not names:
            continue
        aligned = len(names) == len(inets)
        shown = []
        for i, name in enumerate(names):
            address, _why = ctx.address(name, inets[i] if aligned else "")
            shown.append(f"{display_name(name)} <{address}>" if address else display_name(name))
            if address and address.casefold() != ctx.upn.casefold():
                attendees.append({**recipient(address, display_name(name)), "type": kind})
        rows.append((label, shown))
    chair = doc.text("CHAIR").strip()
    if chair and rows:
        rows.insert(0, ("Chair", [display_name(chair)]))
    block = "".join(f"<p><b>{escape(label)}:</b> {escape('; '.join(shown))}</p>" for label, shown in rows)
    return (f'<div data-notes="attendees">{block}</div>' if block else ""), attendees


def event_parts(ctx: Ctx, conv: ConvertedDocument, attendees_mode: str) -> list[EventPart]:
    """The events of one Appointment: one, or one per instance when the repeat rule cannot be kept."""
    doc = conv.doc
    starts, ends = all_dt(doc, "StartDateTime"), all_dt(doc, "EndDateTime")
    if not starts:
        item = doc.get("StartDateTime")
        raw = [getattr(v, "raw", str(v)) for v in (item.values if item is not None else ())]
        why = f"StartDateTime {', '.join(raw)!r} is not a date" if any(r.strip() for r in raw) else \
            "no StartDateTime"
        raise PlanError(f"calendar entry without a valid start ({why})")
    ends = ends if len(ends) == len(starts) else [starts[i] for i in range(len(starts))]
    kind = doc.text("AppointmentType").strip()
    all_day = kind in ("1", "2") or starts[0].kind == "date"
    zone = notes_zone(doc)
    body = conv.html()
    base: dict[str, Any] = {"subject": doc.text("Subject")}
    if attendees_mode != "omit":
        block, attendees = _attendee_block(ctx, doc)
        if attendees_mode == "body":
            body = block + ("\n" if block and body else "") + body
        elif attendees:
            base["attendees"] = attendees
            ctx.warnings.append("attendees = invite: creating this event sends invitations to its attendees")
    base["body"] = {"contentType": "html", "content": body}
    location = doc.text("Location").strip() or (display_name(doc.text("Room")) if doc.text("Room").strip() else "")
    if location:
        base["location"] = {"displayName": location}
    categories = texts(doc, "Categories")
    if categories:
        base["categories"] = categories
    base["showAs"] = "free" if doc.text("$BusyPriority").strip() == "2" else "busy"
    if doc.text("$PublicAccess").strip() == "0" or doc.text("OrgConfidential").strip() == "1":
        base["sensitivity"] = "private"
    if doc.text("$Alarm").strip() == "1":
        raw = doc.text("$AlarmOffset").strip()
        try:
            offset = float(raw or 0)
        except ValueError:
            offset = math.nan
        if not math.isfinite(offset) or abs(offset) > MAX_ALARM_MINUTES:
            ctx.warnings.append(f"$AlarmOffset {raw!r} is not a usable number of minutes: reminder at the start")
            offset = 0
        base.update(isReminderOn=True, reminderMinutesBeforeStart=max(0, -int(offset)))
    else:
        base["isReminderOn"] = False
    key_prop = [source_key_property(ctx.key)]

    def timing(i: int, tz: ZoneInfo | None = None) -> dict[str, Any]:
        if all_day:
            first, last = local_date(starts[i]), local_date(ends[i])
            end = max(first, last) + dt.timedelta(days=1)
            z = zone or "UTC"
            return {"isAllDay": True, "start": dttz(dt.datetime.combine(first, dt.time()), z),
                    "end": dttz(dt.datetime.combine(end, dt.time()), z)}
        if tz is not None and zone:  # wall-clock time in the named zone
            s, e = wall_clock(starts[i], tz), wall_clock(ends[i], tz)
            return {"isAllDay": False, "start": dttz(s, zone), "end": dttz(max(s, e), zone)}
        s_utc, e_utc = to_utc(starts[i]), to_utc(ends[i])
        assert s_utc is not None and e_utc is not None
        return {"isAllDay": False, "start": dttz(s_utc), "end": dttz(max(s_utc, e_utc))}

    # the event keeps its Notes zone (a Windows name, so Outlook shows and moves it as the organiser meant);
    # without zone data it is written in UTC, the same instant
    own_tz = zone_info(zone) if zone and not all_day else None
    if not repeats(doc) or len(starts) == 1:
        return [EventPart(None, {**base, **timing(0, own_tz), "singleValueExtendedProperties": key_prop})]
    reason = ""
    tz = zone_info(zone) if zone and not all_day else None
    dates: list[NotesDateTime] | list[dt.date] = starts
    if not all_day and zone is None:
        reason = "its time zone cannot be named for Windows"
    elif not all_day and tz is None:
        reason = f"no time zone data for {zone}"
    elif tz is not None:
        local = [wall_clock(s, tz) for s in starts]
        if len({w.time() for w in local}) > 1:
            reason = f"its instances do not start at one time of day in {zone}"
        dates = [w.date() for w in local]
    pattern = None
    if not reason:
        pattern, reason = recurrence(doc, dates, zone or "UTC")
    if pattern is not None:
        return [EventPart(None, {**base, **timing(0, tz), "recurrence": pattern,
                                 "singleValueExtendedProperties": key_prop})]
    ctx.warnings.append(f"repeating entry planned as {len(starts)} single events: {reason}")
    out = []
    for i, start in enumerate(starts):
        stamp = start.value.strftime("%Y-%m-%dT%H:%M") if isinstance(start.value, dt.datetime) else \
            local_date(start).isoformat()
        out.append(EventPart(f"instance/{stamp}", {**base, **timing(i, own_tz),
                                                   "singleValueExtendedProperties": key_prop}))
    return out


# -- tasks ----------------------------------------------------------------------------------------------------
IMPORTANCE = {"1": "high", "2": "normal", "3": "low"}


def _task_date(value: NotesDateTime) -> dict[str, str]:
    if value.kind == "date":
        d = local_date(value)
        return dttz(dt.datetime(d.year, d.month, d.day))
    utc = to_utc(value)
    assert utc is not None
    return dttz(utc)


def task_payload(ctx: Ctx, conv: ConvertedDocument) -> dict[str, Any]:
    doc = conv.doc
    body = html_text(conv.html())
    assigned = texts(doc, "AssignedTo")
    if assigned:
        names = ", ".join(display_name(n) for n in assigned)
        ctx.warnings.append(f"assigned to {names}: To Do tasks cannot be assigned; noted in the body")
        body = f"Assigned to: {names}\n\n{body}".strip()
    out: dict[str, Any] = {"title": doc.text("Subject"), "body": {"contentType": "text", "content": body}}
    importance = IMPORTANCE.get(doc.text("Importance").strip())
    if importance:
        out["importance"] = importance
    done = first_dt(doc, "CompletedDateTime")
    out["status"] = "completed" if done is not None else "notStarted"
    if done is not None:
        out["completedDateTime"] = _task_date(done)
    starts, dues = all_dt(doc, "StartDateTime"), all_dt(doc, "DueDateTime")
    if starts:
        out["startDateTime"] = _task_date(starts[0])
    if dues:
        out["dueDateTime"] = _task_date(dues[0])
    categories = texts(doc, "Categories")
    if categories:
        out["categories"] = categories
    if repeats(doc) and len(dues) > 1:
        pattern, reason = recurrence(doc, dues, "UTC")
        if pattern is not None:
            out["recurrence"] = pattern
        else:
            ctx.warnings.append(f"repeating to-do planned once (first instance): {reason}")
    out["linkedResources"] = [{"applicationName": "notes2m365", "externalId": ctx.key,
                               "displayName": f"Notes document {ctx.key}"}]
    return out


# -- contacts -------------------------------------------------------------------------------------------------
def _postal(doc: NotesDocument, street: str, city: str, state: str, zip_: str, country: str) -> dict[str, str]:
    values = {"street": doc.text(street).strip(), "city": doc.text(city).strip(), "state": doc.text(state).strip(),
              "postalCode": doc.text(zip_).strip(), "countryOrRegion": doc.text(country).strip()}
    return {k: v for k, v in values.items() if v}


def contact_payload(ctx: Ctx, conv: ConvertedDocument) -> dict[str, Any]:
    doc = conv.doc
    first, middle, last = (doc.text(n).strip() for n in ("FirstName", "MiddleInitial", "LastName"))
    full = [n for n in texts(doc, "FullName") if "=" not in n and "/" not in n]
    display = full[0] if full else " ".join(p for p in (first, last) if p)
    out: dict[str, Any] = {"displayName": display}
    for key, value in (("givenName", first), ("middleName", middle), ("surname", last),
                       ("companyName", doc.text("CompanyName").strip()), ("jobTitle", doc.text("JobTitle").strip()),
                       ("department", doc.text("Department").strip()),
                       ("mobilePhone", doc.text("CellPhoneNumber").strip()),
                       ("businessHomePage", doc.text("WebSite").strip())):
        if value:
            out[key] = value
    emails: list[str] = []
    for name in ("InternetAddress", "MailAddress"):
        for value in texts(doc, name):
            if _ADDRESS.match(value) and value.casefold() not in (e.casefold() for e in emails):
                emails.append(value)
    if len(emails) > 3:
        ctx.warnings.append(f"{len(emails)} e-mail addresses: Outlook keeps 3, dropped {', '.join(emails[3:])}")
    if emails:
        out["emailAddresses"] = [{"address": e, "name": display} for e in emails[:3]]
    for key, names in (("businessPhones", ("OfficePhoneNumber",)), ("homePhones", ("PhoneNumber",))):
        phones = [p for n in names for p in texts(doc, n)]
        if phones:
            out[key] = phones
    business = _postal(doc, "OfficeStreetAddress", "OfficeCity", "OfficeState", "OfficeZIP", "OfficeCountry")
    home = _postal(doc, "StreetAddress", "City", "State", "Zip", "country")
    if business:
        out["businessAddress"] = business
    if home:
        out["homeAddress"] = home
    birthday = first_dt(doc, "Birthday")
    if birthday is not None:
        d = local_date(birthday)
        out["birthday"] = f"{d.isoformat()}T12:00:00Z"
    notes = html_text(conv.html())
    fax = doc.text("OfficeFAXPhoneNumber").strip()
    if fax:
        notes = f"Fax: {fax}\n\n{notes}".strip()
    if notes:
        out["personalNotes"] = notes
    categories = texts(doc, "Categories")
    if categories:
        out["categories"] = categories
    out["singleValueExtendedProperties"] = [source_key_property(ctx.key)]
    return out
