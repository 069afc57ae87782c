"""Domino TIMEDATE text: every documented shape, and bad text never raising."""

import datetime as dt

import pytest

from notes2m365.dxltime import parse_datetime


@pytest.mark.parametrize(
    "raw,kind,iso",
    [
        ("19990713T060306,52+05", "datetime", "1999-07-13T06:03:06.520000+05:00"),
        ("20140808T133711,22-04", "datetime", "2014-08-08T13:37:11.220000-04:00"),
        ("20240101T120000,00+0530", "datetime", "2024-01-01T12:00:00+05:30"),
        ("20240101T120000,00-0930", "datetime", "2024-01-01T12:00:00-09:30"),
        ("20210505T184701,85+00", "datetime", "2021-05-05T18:47:01.850000+00:00"),
        ("20240229T235959Z", "datetime", "2024-02-29T23:59:59+00:00"),
        ("20240101T120000", "datetime", "2024-01-01T12:00:00"),
        ("19750521", "date", "1975-05-21"),
        ("T060306,52", "time", "06:03:06.520000"),
        ("", "empty", None),
        ("  ", "empty", None),
        ("20241301T000000,00+01", "invalid", None),
        ("20240230", "invalid", None),
        ("T250000", "invalid", None),
        ("20240101T120000,00+99", "invalid", None),
        ("yesterday", "invalid", None),
        ("+01", "invalid", None),
    ],
)
def test_shapes(raw, kind, iso):
    value = parse_datetime(raw)
    assert value.kind == kind
    assert value.isoformat() == iso
    assert value.raw == raw


def test_dst_flag_and_offset():
    value = parse_datetime("20140808T131841,46-04", dst=True)
    assert value.dst is True
    assert value.value.utcoffset() == dt.timedelta(hours=-4)
    assert value.value.astimezone(dt.timezone.utc).hour == 17


@pytest.mark.parametrize("raw", [
    "19990713T060306,52+05", "20240101T120000,00+0530", "20240101T120000,00-0930", "20240101T120000,00+2359",
    "20240101T120000,00+24", "20240101T120000,00+0560", "20240230T120000,00+01", "20240101T120000,00+1", "20240101T120000.00+01",
    "２0240101T120000,00+01", "20240101T120000,00+01 ", "20240101T126000,00+01", "99991231T235959,99-23",
])
def test_fast_shape_agrees_with_the_regular_parser(raw):
    from notes2m365.dxltime import _parse

    for dst in (False, True):
        fast, regular = parse_datetime(raw, dst), _parse.__wrapped__(raw, dst)
        assert (fast.raw, fast.kind, fast.value, fast.dst) == (regular.raw, regular.kind, regular.value, regular.dst)
        assert fast == regular and hash(fast) == hash(regular) and repr(fast) == repr(regular)


def test_fast_constructor_sets_every_field():
    import dataclasses

    from notes2m365.dxltime import _datetime_value
    from notes2m365.model import NotesDateTime

    value = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)
    made = _datetime_value("20240101T120000,00+00", value, True)
    assert made == NotesDateTime("20240101T120000,00+00", "datetime", value, True)
    assert [f.name for f in dataclasses.fields(NotesDateTime)] == ["raw", "kind", "value", "dst"]  # all set above
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.raw = "x"  # type: ignore[misc]


def test_fast_path_agrees_with_the_regular_parser_near_the_usual_shape():
    """Every text a few characters away from the usual shapes reads as the regular parser reads it: what
    ``fromisoformat`` would accept beyond it (ISO week dates, ``+0560``, ``+05,5``, text after a NUL...) never
    reaches the fast path."""
    import random

    from notes2m365.dxltime import _parse

    alphabet = [*"0123456789", *"T,.+-Z W:w\t", "\x00", "\u0663", "\uff12", "\u00b2", "\u00e9", "\udc80"]
    bases = ["20240312T091502,17+01", "20240312T091502,17+0530", "99991231T235959,99-2359", "00010101T000000,00+00",
             "20230229T120000,00+01", "20240101T240000,00+01", "20240101T120000,00+2400", "20240101T120000,00+0060"]
    texts = {b[:i] + c + b[i + 1:] for b in bases for i in range(len(b)) for c in alphabet}
    rng = random.Random(7)
    for _ in range(20000):
        chars = list(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(chars) + 1)
            op = rng.random()
            if op < 0.6 and i < len(chars):
                chars[i] = rng.choice(alphabet)
            elif op < 0.8:
                chars.insert(i, rng.choice(alphabet))
            elif i < len(chars):
                del chars[i]
        texts.add("".join(chars))
    for raw in texts:
        fast, regular = parse_datetime(raw), _parse.__wrapped__(raw, False)
        assert (fast.raw, fast.kind, fast.value) == (regular.raw, regular.kind, regular.value), raw
        if fast.value is not None:
            assert fast.value.tzinfo == regular.value.tzinfo, raw
