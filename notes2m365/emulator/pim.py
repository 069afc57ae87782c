"""Personal information management of the emulator: calendars/events, contacts, To Do.

This module owns what the three resource modules share and is the single
entry point the service knows (:func:`register`, :func:`provision_user`):

- ``calendar.py``: calendars, events, event attachments, ``calendarView``,
  the invitations Exchange would have sent (graph-semantics §3.1, §11.9);
- ``contacts.py``: contact folders and contacts (§3.2);
- ``todo.py``: To Do lists, tasks, linked resources, open extensions (§3.3, §11.10).

Shared here: mailbox/ownership lookups, ids, strict body checking, enums,
``dateTimeTimeZone`` parsing and rendering (``Prefer: outlook.timezone``) and
single-value extended properties (§4, §11.4).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ..errors import EmulatorHttpError
from ..timezones import WINDOWS_TO_IANA
from . import extprops
from .odata import check_expand  # noqa: F401  (re-exported for calendar, contacts)
from .directory import mailbox_user
from .router import GraphRequest, Json, Router, not_found, opaque_id
from .store import Store

# -- mailboxes, ids, ownership ------------------------------------------------------------------------


def mailbox(emu: Any, user: str) -> Json:
    """The user owning ``/users/{user}/...`` (404 ErrorInvalidUser otherwise)."""
    return mailbox_user(emu.store, user)


def new_id(store: Store, kind: str, owner: str) -> str:
    """A Graph-looking Exchange id, unique thanks to a persistent counter."""
    return opaque_id("AAMkAG", kind, owner, store.next_number("pim:" + kind))


def owned_object(store: Store, kind: str, obj_id: str, owner: Json,
                 error: EmulatorHttpError | None = None) -> tuple[Json, str | None]:
    """An object of ``kind`` in ``owner``'s mailbox with its parent id; 404 ErrorItemNotFound otherwise."""
    found = store.locate(kind, obj_id)
    if found is None or found[2] != owner["id"]:
        raise error or not_found()
    return found[0], found[1]


# -- request bodies: bodies.py (re-exported for calendar, contacts and todo) ----------------------------
from .bodies import (  # noqa: E402,F401
    body_error, bool_prop, check_properties, enum_prop, get_prop, int_prop, item_body, preview, string_list,
    string_prop)


# -- time zones and dateTimeTimeZone ------------------------------------------------------------------------

# Windows time zone ids (the ones Outlook writes) -> IANA; DC:resources/datetimetimezone.md accepts both,
# Windows names being the primary form.
WINDOWS_ZONES = WINDOWS_TO_IANA
_WINDOWS_LOWER = {k.lower(): v for k, v in WINDOWS_ZONES.items()}


@lru_cache(maxsize=1)
def _iana_lower() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def time_zone_error(name: object) -> EmulatorHttpError:
    # Graph answers an unknown or empty timeZone with 400 TimeZoneNotSupportedException
    # "A valid TimeZone value must be specified. The following TimeZone value is not supported: ''"
    # (community reports; DC:resources/datetimetimezone.md lists the accepted names).
    return EmulatorHttpError(400, "TimeZoneNotSupportedException",
                             f"A valid TimeZone value must be specified. The following TimeZone value "
                             f"is not supported: '{name if isinstance(name, str) else ''}'.")


def zone(name: object, error: Any = time_zone_error) -> ZoneInfo:
    """A Windows or IANA time zone name (case-insensitive) as a ZoneInfo; 400 otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise error(name)
    key = name.strip().lower()
    iana = _WINDOWS_LOWER.get(key) or _iana_lower().get(key)
    if iana is None:
        raise error(name)
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        raise error(name)


def parse_dtz(value: object, field_name: str, error: Any = body_error,
              tz_error: Any = time_zone_error) -> tuple[datetime, str]:
    """A ``dateTimeTimeZone`` -> (aware datetime, the time zone name as given)."""
    if not isinstance(value, dict):
        raise error(f"'{field_name}' must be a dateTimeTimeZone object with dateTime and timeZone.")
    text = get_prop(value, "dateTime")
    tz_name = get_prop(value, "timeZone")
    tzinfo = zone(tz_name, tz_error)
    if not isinstance(text, str):
        raise error(f"'{field_name}.dateTime' is required.")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise error(f"Cannot convert the literal '{text}' of '{field_name}.dateTime' to a date and time.")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tzinfo)
    return parsed, str(tz_name)


def format_local(value: datetime) -> str:
    """Graph's ``dateTime`` text: local time, seven fractional digits, no offset."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0"


def utc_dtz(value: datetime) -> Json:
    return {"dateTime": format_local(value.astimezone(UTC)), "timeZone": "UTC"}


def prefer_zone(req: GraphRequest) -> tuple[str, ZoneInfo]:
    """The response time zone: ``Prefer: outlook.timezone="..."``, default UTC (user-list-events.md)."""
    m = re.search(r'outlook\.timezone\s*=\s*"?([^",]+)"?', req.headers.get("prefer", ""), re.IGNORECASE)
    if not m:
        return "UTC", ZoneInfo("UTC")
    name = m.group(1).strip()
    return name, zone(name)


# -- single-value extended properties (§4) ----------------------------------------------------------------


def apply_extended_properties(obj: Json, body: Json) -> None:
    """Store ``singleValueExtendedProperties`` of a POST/PATCH body verbatim under ``obj['_ext']`` (extprops.py)."""
    obj["_ext"] = extprops.read_extended_properties(body, obj.get("_ext"))


def split_expand(req: GraphRequest) -> list[str]:
    """The top-level clauses of ``$expand`` (commas inside parentheses kept)."""
    return [c.strip() for c in extprops.split_top_level(req.query.get("$expand", "")) if c.strip()]


def expand_extended_properties(req: GraphRequest, obj: Json, rendered: Json) -> Json:
    """``rendered`` plus the extended properties that ``$expand`` asks for by id (only those present)."""
    return extprops.add_expansion(req, obj, rendered)


# -- registration ------------------------------------------------------------------------------------------


def register(router: Router) -> None:
    from . import calendar, contacts, todo
    calendar.register(router)
    contacts.register(router)
    todo.register(router)


def provision_user(store: Store, user: Json) -> None:
    """The default calendar, contact folder and To Do list of a new mailbox."""
    from . import calendar, contacts, todo
    calendar.provision_user(store, user)
    contacts.provision_user(store, user)
    todo.provision_user(store, user)
