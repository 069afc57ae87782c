"""Comparing what the plan sent with what Graph gives back: pure functions, no I/O.

The planned payload *is* the source as the target should hold it (the
mapping's output), so ``verify`` compares each payload with the object read
back, field by field, tolerating what Graph legitimately changes:

- bodies by their visible text with all white space removed (Exchange and
  SharePoint rewrite HTML; the words must survive, the markup need not), and
  the source text need only be *contained* in the target's (the migration
  may append a block, e.g. links to attachments stored in OneDrive);
- dates and ``dateTimeTimeZone`` values as instants, to the second;
- people by address, case-insensitively, as a multiset;
- objects as subsets: every planned property must be there with an equal
  value, extra properties Graph adds (ids, statuses, defaults) are ignored;
- attachments and files by name, byte length and sha256 of the bytes.

Every function returns a list of :class:`~notes2m365.verifyresult.Difference`.
"""

from __future__ import annotations

import hashlib
import re
from html import unescape
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo


from .timezones import WINDOWS_TO_IANA
from .verifyresult import Difference

SHOWN = 80  # characters of a value shown in a difference
_SPACE = re.compile(r"\s+")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
#: Message properties Graph derives from extended properties (graph-semantics §1.3): PR_CLIENT_SUBMIT_TIME is
#: sentDateTime, PR_MESSAGE_DELIVERY_TIME is receivedDateTime.
SENT_PROPERTY = "SystemTime 0x0039"
RECEIVED_PROPERTY = "SystemTime 0x0E06"


def shown(value: Any) -> str:
    """A value as a short line of text."""
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else repr(value)
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= SHOWN else text[:SHOWN - 1] + "…"


# -- text ------------------------------------------------------------------------------------------------------
_DROPPED = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>|<!--.*?-->", re.S | re.I)
_BLOCK_TAG = re.compile(r"</?(?:p|div|br|li|tr|td|th|h[1-6]|ul|ol|table|blockquote|pre|hr)\b"
                        r"(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.I)
_TAG = re.compile(r"<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>")


def body_text(content: Any, content_type: str | None = "html") -> str:
    """The visible text of a body (HTML or plain), white space collapsed.  A tokenizer, not a parser: block
    elements end a word, other tags vanish, entities are decoded (a few µs, where parsing took 0.3 ms)."""
    text = str(content or "")
    if (content_type or "html").lower() == "html" and ("<" in text or "&" in text):
        text = _TAG.sub("", _BLOCK_TAG.sub(" ", _DROPPED.sub(" ", text)))
        text = unescape(text)
    return _SPACE.sub(" ", text).strip()


def _squeezed(text: str) -> str:
    return _SPACE.sub("", text)


#: The one block the migration adds to a body (exchange.MailboxTarget.link_large_files), squeezed.
APPENDED = "AttachmentsstoredinOneDrive"


def compare_body(field: str, expected: Any, actual: Any) -> list[Difference]:
    """``itemBody`` values (or rich text strings): the same visible text, white space aside, or the same
    followed only by the block of OneDrive links the migration appends for attachments over 3 MB."""
    exp_type = expected.get("contentType", "html") if isinstance(expected, dict) else "html"
    act_type = actual.get("contentType", "html") if isinstance(actual, dict) else "html"
    exp = body_text(expected.get("content") if isinstance(expected, dict) else expected, exp_type)
    act = body_text(actual.get("content") if isinstance(actual, dict) else actual, act_type)
    want, have = _squeezed(exp), _squeezed(act)
    if have == want or (have.startswith(want) and have[len(want):].startswith(APPENDED)):
        return []
    return [Difference(field, shown(exp), shown(act) if act else "(empty)")]


# -- dates -----------------------------------------------------------------------------------------------------
def instant(value: Any) -> datetime | None:
    """An ISO 8601 string or a ``dateTimeTimeZone`` as an aware UTC datetime (None when not a date)."""
    zone = "UTC"
    if isinstance(value, dict):
        zone = str(value.get("timeZone") or "UTC")
        value = value.get("dateTime")
    if not isinstance(value, str) or not _ISO.match(value.strip()):
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # Graph writes 7 fractional digits; Python reads at most 6
        head, _, rest = text.partition(".")
        digits = re.match(r"\d*", rest).group(0)  # type: ignore[union-attr]
        text = head + rest[len(digits):]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=ZoneInfo(WINDOWS_TO_IANA.get(zone, zone)))
        except (KeyError, ValueError):
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def compare_instant(field: str, expected: Any, actual: Any) -> list[Difference]:
    exp, act = instant(expected), instant(actual)
    if exp is None:
        return []
    if act is None or abs((exp - act).total_seconds()) >= 1:
        return [Difference(field, exp.strftime("%Y-%m-%d %H:%M:%S UTC"),
                           act.strftime("%Y-%m-%d %H:%M:%S UTC") if act else shown(actual))]
    return []


# -- people ----------------------------------------------------------------------------------------------------
def addresses(value: Any) -> list[str]:
    """The e-mail addresses of a recipient or a list of recipients, lower-case and sorted."""
    items = value if isinstance(value, list) else [value] if value else []
    out = []
    for item in items:
        email = item.get("emailAddress") if isinstance(item, dict) else None
        address = (email or {}).get("address") if isinstance(email, dict) else None
        if address:
            out.append(str(address).strip().lower())
    return sorted(out)


def compare_addresses(field: str, expected: Any, actual: Any) -> list[Difference]:
    """A contact's ``emailAddresses`` (``[{address, name}]``) by address: Exchange may put the directory's
    display name, or the address, in ``name``."""
    def norm(value: Any) -> list[str]:
        return sorted(str(v.get("address", "")).strip().lower() for v in value or [] if isinstance(v, dict))
    exp, act = norm(expected), norm(actual if isinstance(actual, list) else [])
    if exp == act:
        return []
    return [Difference(field, shown(", ".join(exp)) or "(none)", shown(", ".join(act)) if act else "(none)")]


def compare_date(field: str, expected: Any, actual: Any) -> list[Difference]:
    """Values that are dates whatever time they carry (a birthday; a To Do due, start or completed date,
    which To Do keeps as a date): the calendar date each is written with."""
    def day(value: Any) -> str:
        text = value.get("dateTime") if isinstance(value, dict) else value
        return str(text or "")[:10]
    if day(expected) == day(actual):
        return []
    return [Difference(field, day(expected) or "(none)", day(actual) or "(none)")]


def compare_people(field: str, expected: Any, actual: Any) -> list[Difference]:
    exp, act = addresses(expected), addresses(actual)
    if Counter(exp) == Counter(act):
        return []
    return [Difference(field, shown(", ".join(exp)) if exp else "(none)", shown(", ".join(act)) if act else "(none)")]


# -- generic values --------------------------------------------------------------------------------------------
def _lookup(actual: Any, key: str) -> Any:
    if not isinstance(actual, dict):
        return None
    if key in actual:
        return actual[key]
    low = key.lower()
    return next((v for k, v in actual.items() if k.lower() == low), None)


def _scalar_equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected == actual or str(expected).lower() == str(actual).lower()
    if isinstance(expected, (int, float)) or isinstance(actual, (int, float)):
        try:
            return float(expected) == float(actual)
        except (TypeError, ValueError):
            return False
    if isinstance(expected, str) and isinstance(actual, str):
        exp_time, act_time = instant(expected), instant(actual)
        if exp_time is not None and act_time is not None:
            return abs((exp_time - act_time).total_seconds()) < 1
        return _SPACE.sub(" ", expected.replace("\r\n", "\n")).strip() == \
            _SPACE.sub(" ", actual.replace("\r\n", "\n")).strip()
    return expected == actual or (expected in ("", None) and actual in ("", None))


def compare_value(field: str, expected: Any, actual: Any) -> list[Difference]:
    """``expected`` as a subset of ``actual``: dicts by their keys, lists as multisets, scalars by value."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [Difference(field, shown(expected), shown(actual))]
        out: list[Difference] = []
        for key, value in expected.items():
            if key.startswith("@"):
                continue
            out += compare_value(f"{field}.{key}", value, _lookup(actual, key))
        return out
    if isinstance(expected, list):
        actual_list = actual if isinstance(actual, list) else [] if actual in (None, "") else [actual]
        remaining = list(actual_list)
        unmatched = []
        for value in expected:
            hit = next((i for i, have in enumerate(remaining) if not compare_value(field, value, have)), None)
            if hit is None:
                unmatched.append(value)
            else:
                remaining.pop(hit)
        if unmatched or (remaining and not any(isinstance(v, dict) for v in expected)):
            return [Difference(field, shown(expected), shown(actual_list))]
        return []
    if expected in (None, "") and actual in (None, "", []):
        return []
    if actual is None or not _scalar_equal(expected, actual):
        return [Difference(field, shown(expected), shown(actual))]
    return []


# -- content ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Blob:
    """A file or attachment as found in the target: its name and bytes (or only a size, when no bytes)."""

    name: str
    size: int
    sha256: str | None = None
    inline: bool = False

    @classmethod
    def of(cls, name: str, data: bytes, inline: bool = False) -> Blob:
        return cls(name, len(data), hashlib.sha256(data).hexdigest(), inline)


def compare_content(field: str, expected: list[tuple[str, int, str]], found: list[Blob],
                    extra_allowed: bool = False) -> list[Difference]:
    """Planned ``(name, size, sha256)`` against what the target holds; bytes compared when they were read."""
    out: list[Difference] = []
    pool = list(found)
    for name, size, sha in expected:
        hit = next((b for b in pool if b.name == name and b.sha256 == sha), None) \
            or next((b for b in pool if b.name == name), None) \
            or next((b for b in pool if b.sha256 == sha), None)
        if hit is None:
            out.append(Difference(f"{field}[{name}]", f"{size:,} bytes", "(missing)"))
            continue
        pool.remove(hit)
        if hit.name != name:
            out.append(Difference(f"{field}[{name}].name", shown(name), shown(hit.name)))
        if hit.size != size:
            out.append(Difference(f"{field}[{name}].size", f"{size:,} bytes", f"{hit.size:,} bytes"))
        elif hit.sha256 is not None and hit.sha256 != sha:
            out.append(Difference(f"{field}[{name}].sha256", sha[:16] + "…", hit.sha256[:16] + "…"))
    if not extra_allowed:
        for blob in pool:
            out.append(Difference(f"{field}[{blob.name}]", "(not in the source)", f"{blob.size:,} bytes"))
    return out


# -- per kind --------------------------------------------------------------------------------------------------
def _ext(payload: dict[str, Any], prop: str) -> Any:
    for item in payload.get("singleValueExtendedProperties") or []:
        if str(item.get("id", "")).lower() == prop.lower():
            return item.get("value")
    return None


def _is_time(value: Any) -> bool:
    return isinstance(value, dict) and "dateTime" in value


def compare_payload(payload: dict[str, Any], item: dict[str, Any], skip: frozenset[str] = frozenset(),
                    dates: frozenset[str] = frozenset({"birthday"})) -> list[Difference]:
    """Every planned property not in ``skip``: bodies as text, people by address, ``dates`` by their date,
    times as instants, the rest as subsets."""
    out: list[Difference] = []
    for key, expected in payload.items():
        if key in skip or key.startswith("@") or key == "singleValueExtendedProperties":
            continue
        actual = _lookup(item, key)
        if expected == actual:
            continue
        if key in ("body", "personalNotes") and isinstance(expected, dict):
            out += compare_body(key, expected, actual)
        elif key in ("from", "sender", "toRecipients", "ccRecipients", "bccRecipients", "replyTo"):
            out += compare_people(key, expected, actual)
        elif key == "emailAddresses":
            out += compare_addresses(key, expected, actual)
        elif key in dates:
            out += compare_date(key, expected, actual)
        elif _is_time(expected):
            out += compare_instant(key, expected, actual)
        elif key == "attendees":
            out += compare_people(key, expected, actual)
        else:
            out += compare_value(key, expected, actual)
    return out


#: Properties a message, event, contact or task payload carries that Graph does not give back as such.
NOT_READ_BACK = frozenset({"internetMessageHeaders", "attachments", "linkedResources", "isDraft"})


def compare_message(payload: dict[str, Any], item: dict[str, Any], draft: bool) -> list[Difference]:
    """A planned message against the message read back (dates from the MAPI properties it was created with)."""
    out = compare_payload(payload, item, NOT_READ_BACK)
    out += compare_instant("sentDateTime", _ext(payload, SENT_PROPERTY), item.get("sentDateTime"))
    out += compare_instant("receivedDateTime", _ext(payload, RECEIVED_PROPERTY), item.get("receivedDateTime"))
    if bool(item.get("isDraft")) != draft:
        out.append(Difference("isDraft", str(draft).lower(), str(bool(item.get("isDraft"))).lower()))
    return out


#: To Do keeps these as dates (todoTask: "the date ... that the task is to be finished"), whatever time is sent.
TASK_DATES = frozenset({"dueDateTime", "startDateTime", "completedDateTime", "birthday"})


def compare_item(payload: dict[str, Any], item: dict[str, Any], kind: str = "") -> list[Difference]:
    """An event, contact or task.  An all-day event's start and end are dates: Graph gives them back as
    midnight in the zone it answers in (UTC by default), so only their date and time of day are compared."""
    if kind == "create-task":
        return compare_payload(payload, item, NOT_READ_BACK, TASK_DATES)
    if payload.get("isAllDay") is True:
        out = compare_payload(payload, item, NOT_READ_BACK | {"start", "end"})
        for key in ("start", "end"):
            exp = str((payload.get(key) or {}).get("dateTime", ""))[:19]
            act = str((_lookup(item, key) or {}).get("dateTime", ""))[:19]
            if exp != act:
                out.append(Difference(key, exp or "(none)", act or "(none)"))
        return out
    return compare_payload(payload, item, NOT_READ_BACK)


def compare_fields(expected: dict[str, Any], actual: dict[str, Any], rich: set[str]) -> list[Difference]:
    """A list item's (or library file's) columns: rich text columns by their text, the rest by value."""
    out: list[Difference] = []
    for name, value in expected.items():
        if name.startswith("@") or name.endswith("@odata.type"):
            continue
        have = _lookup(actual, name)
        if have is None and name.endswith("LookupId"):
            # a multi-person column reads back as [{"LookupId", "LookupValue", "Email"}] under its own name
            people = _lookup(actual, name[:-len("LookupId")])
            if isinstance(people, list):
                have = [p.get("LookupId") for p in people if isinstance(p, dict)]
        if name in rich:
            out += compare_body(name, value, have)
        else:
            out += compare_value(name, value, have)
    return out
