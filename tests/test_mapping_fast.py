"""The planners' memo of names (pimplan.Ctx.lookup) and the identity fast paths give the answers of the slow way."""

from __future__ import annotations

import pytest

from notes2m365 import pimplan
from notes2m365.identity import IdentityMap, IdentityRules, _hierarchy, _parse

RULES = IdentityRules(fallback_domain="acme.example", fallback_orgs=("Acme",), internet_domains=("acme.example",),
                      ignore=("LocalDomainServers",), fallback=True)
NAMES = ["CN=Jane Doe/OU=Sales/O=Acme", "Jane Doe/Sales/Acme@ACME", "CN=Nobody/O=Elsewhere", "Some Flat Name",
         "LocalDomainServers", "jane.doe@acme.example", "", "CN=*/O=Acme", "CN=Doe, Jane/O=Acme", "[Editors]",
         '"Ext" <ext@other.example>', "CN=Jürgen Müller/OU=R&D/O=Acme/C=DE"]
INETS = ["", "", "x@acme.example", "flat@other.example", "", "", "", "", "not an address", "", "", ""]


def test_memo_gives_the_same_recipients_warnings_and_unresolved_counts():
    slow_map, fast_map = IdentityMap((), RULES), IdentityMap((), RULES)
    for _ in range(3):  # the second and third rounds come from the memo where they may
        slow = pimplan.Ctx("jane.doe@acme.example", slow_map)
        fast = pimplan.Ctx("jane.doe@acme.example", fast_map, memo=pimplan.planning_memo(fast_map))
        for ctx in (slow, fast):
            ctx.out = ctx.recipients("SendTo", NAMES, INETS, skip="ext@other.example")  # type: ignore[attr-defined]
            ctx.addresses = [ctx.address(n, i) for n, i in zip(NAMES, INETS)]  # type: ignore[attr-defined]
        assert fast.out == slow.out and fast.addresses == slow.addresses  # type: ignore[attr-defined]
        assert fast.warnings == slow.warnings
    assert fast_map.unresolved() == slow_map.unresolved() and slow_map.unresolved()
    assert pimplan.planning_memo(fast_map)  # resolved names are kept
    assert ("CN=Doe, Jane/O=Acme", "not an address") not in pimplan.planning_memo(fast_map)  # misses are not


def test_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(pimplan, "MEMO_LIMIT", 5)
    ids = IdentityMap((), RULES)
    ctx = pimplan.Ctx("jane.doe@acme.example", ids, memo=pimplan.planning_memo(ids))
    for n in range(20):
        assert ctx.address(f"CN=Person{n} Doe/O=Acme")[0] == f"person{n}.doe@acme.example"
    assert 0 < len(pimplan.planning_memo(ids)) <= 5


def test_no_memo_for_other_resolvers():
    class Fake:
        def resolve(self, name):
            raise AssertionError
    assert pimplan.planning_memo(Fake()) is None


@pytest.mark.parametrize("text", ["CN=Jane Doe/OU=Sales/O=Acme", "Jane Doe/Sales/Acme/CH", " / a /", "x = y/O=Acme",
                                  "CN=*/O=Acme", "Sales/Acme", "q=1/zz=2", "OU = Sales / O = Acme"])
def test_hierarchy_and_parse_as_before(text):
    import re
    label = re.compile(r"^([A-Za-z]{1,2})\s*=\s*(.*)$")
    labels = {"CN", "OU", "O", "C", "G", "S", "I", "Q", "P", "A"}
    from notes2m365.identity import _label_plain
    for has_cn in (True, False):
        parts = [p.strip() for p in text.split("/") if p.strip()]
        if not parts:
            expected = []
        else:
            matches = [label.match(p) for p in parts]
            if not any(m and m.group(1).upper() in labels for m in matches):
                expected = _label_plain(parts, has_cn)
            else:
                expected = [(m.group(1).upper(), m.group(2).strip()) if m and m.group(1).upper() in labels
                            else ("", p) for p, m in zip(parts, matches)]
        assert _hierarchy(text, has_cn) == expected
    parsed = _parse(text)
    assert parsed.canonical == "/".join(f"{lab}={v}" if lab else v for lab, v in parsed.parts) or len(parsed.parts) <= 1


def test_to_utc_and_iso_z_equal_the_plain_datetime_calls():
    """to_utc builds the UTC value positionally and iso_z formats it with %: the same values and text as
    ``replace(tzinfo=UTC, microsecond=0)`` and ``isoformat(timespec="seconds")[:19] + "Z"``."""
    import datetime as dt
    import random
    from datetime import UTC

    from notes2m365.pimplan import iso_z, to_utc

    rnd = random.Random(5)
    for _ in range(5000):
        year = rnd.choice([1, 999, 1000, 1970, 2023, 9999])
        naive = dt.datetime(year, rnd.randint(1, 12), rnd.randint(1, 28), rnd.randint(0, 23), rnd.randint(0, 59),
                            rnd.randint(0, 59), rnd.randint(0, 999_999), fold=rnd.randint(0, 1))
        values = [naive, naive.replace(tzinfo=UTC)]
        if 1 < year < 9999:
            values.append(naive.replace(tzinfo=dt.timezone(dt.timedelta(minutes=rnd.randint(-600, 600)))))
        for value in values:
            old = (value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)).replace(microsecond=0)
            new = to_utc(value)
            assert new == old and new.tzinfo is UTC and new.isoformat() == old.isoformat()
            expected = (old.isoformat(timespec="seconds")[:19] + "Z" if old.year >= 1000
                        else old.strftime("%Y-%m-%dT%H:%M:%SZ"))
            assert iso_z(new) == expected
