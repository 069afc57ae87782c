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
