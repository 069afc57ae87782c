"""Parsing of Domino TIMEDATE text as written by DXL.

Format (DTD and IBM's ``datetime`` element page): ISO 8601 basic,
``19990713T060306,52+05`` — date, ``T`` time, ``,`` hundredths, offset of 2 or 4
digits (``+01``, ``+0530``); or just a date (``19750521``), just a time
(``T060306,52``), or nothing (``<datetime/>``).
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

from .model import NotesDateTime

_DATETIME_RE = re.compile(
    r"""^(?:(?P<y>[0-9]{4})(?P<mo>[0-9]{2})(?P<d>[0-9]{2}))?
        (?:T(?P<h>[0-9]{2})(?P<mi>[0-9]{2})(?P<s>[0-9]{2})(?:[,.](?P<f>[0-9]{1,6}))?)?
        (?:(?P<z>Z)|(?P<sign>[+-])(?P<oh>[0-9]{2})(?P<om>[0-9]{2})?)?\Z""",
    re.VERBOSE,
)

_tz_cache: dict[int, dt.timezone] = {}


def _tz(minutes: int) -> dt.timezone:
    tz = _tz_cache.get(minutes)
    if tz is None:
        tz = dt.timezone(dt.timedelta(minutes=minutes)) if minutes else dt.timezone.utc
        _tz_cache[minutes] = tz
    return tz


_fromiso = dt.datetime.fromisoformat
#: ``20240312T091502,17+01`` / ``+0530``: offset hours 00-23, minutes 00-59 (as the regular parser demands).
_FAST_SHAPE = re.compile(r"[0-9]{8}T[0-9]{6},[0-9]{2}[+-](?:[01][0-9]|2[0-3])(?:[0-5][0-9])?\Z").match


_new = object.__new__


# The slots of the frozen NotesDateTime, set directly: its generated __init__ goes through object.__setattr__
# for each field (about twice the time; a document carries eight or so of these).
_SET_RAW, _SET_KIND, _SET_VALUE, _SET_DST = (getattr(NotesDateTime, f).__set__ for f in ("raw", "kind", "value", "dst"))


def _datetime_value(raw: str, value: dt.datetime, dst: bool) -> NotesDateTime:
    """``NotesDateTime(raw, "datetime", value, dst)``, built faster."""
    out = _new(NotesDateTime)
    _SET_RAW(out, raw)
    _SET_KIND(out, "datetime")
    _SET_VALUE(out, value)
    _SET_DST(out, dst)
    return out


@lru_cache(maxsize=4096)
def _parse(raw: str, dst: bool) -> NotesDateTime:
    text = raw.strip()
    if not text:
        return NotesDateTime(raw, "empty", None, dst)
    m = _DATETIME_RE.match(text)
    if m is None or (m["y"] is None and m["h"] is None):
        return NotesDateTime(raw, "invalid", None, dst)
    tzinfo = None
    if m["z"]:
        tzinfo = dt.timezone.utc
    elif m["sign"]:
        oh, om = int(m["oh"]), int(m["om"] or 0)
        if oh > 23 or om > 59:
            return NotesDateTime(raw, "invalid", None, dst)
        minutes = oh * 60 + om
        tzinfo = _tz(-minutes if m["sign"] == "-" else minutes)
    try:
        time = None
        if m["h"] is not None:
            frac = m["f"] or ""
            micro = int((frac + "000000")[:6]) if frac else 0
            time = dt.time(int(m["h"]), int(m["mi"]), int(m["s"]), micro, tzinfo=tzinfo)
        if m["y"] is not None:
            date = dt.date(int(m["y"]), int(m["mo"]), int(m["d"]))
            if time is None:
                return NotesDateTime(raw, "date", date, dst)
            return NotesDateTime(raw, "datetime", dt.datetime.combine(date, time), dst)
        return NotesDateTime(raw, "time", time, dst)
    except ValueError:
        return NotesDateTime(raw, "invalid", None, dst)


def parse_datetime(raw: str | None, dst: bool = False) -> NotesDateTime:
    """Parse DXL datetime text; never raises (bad text gives ``kind='invalid'``)."""
    # The shape Domino writes almost always (``20240312T091502,17+01`` or ``+0530``): Python 3.11's
    # ``datetime.fromisoformat`` reads ISO 8601 basic format with a comma fraction in C; the shape is
    # checked first so that it accepts nothing the regular parser would refuse.  Inlined: this runs
    # eight times per document.
    if raw and _FAST_SHAPE(raw) is not None:
        try:
            value = _fromiso(raw)
        except ValueError:
            return NotesDateTime(raw, "invalid", None, dst)
        return _datetime_value(raw, value, dst)
    return _parse(raw or "", dst)
