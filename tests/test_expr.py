"""The mapping expression language: what it evaluates and what it refuses at load time."""

from __future__ import annotations

import pytest

from notes2m365.expr import Expression, ExpressionError

ITEMS = {"Subject": "Kickoff", "Categories": ["Alpha", "Beta"], "Pages": 12.0, "Empty": "",
         "Posted": "2024-03-05T09:15:00Z"}


def run(source: str):
    return Expression(source).evaluate(lambda name: ITEMS.get(name), form="MainTopic", unid="ABC")


@pytest.mark.parametrize("source,expected", [
    ("item('Subject')", "Kickoff"),
    ("text('Categories')", "Alpha, Beta"),
    ("first(text('Empty'), text('Missing'), 'fallback')", "fallback"),
    ("upper(text('Subject')) + '!'", "KICKOFF!"),
    ("'Alpha' in item('Categories')", True),
    ("number(item('Pages')) > 10 and has('Subject')", True),
    ("'big' if number(item('Pages')) >= 100 else 'small'", "small"),
    ("date(item('Posted'))", "2024-03-05"),
    ("join(item('Categories'), ' / ')", "Alpha / Beta"),
    ("split('a; b;c', ';')", ["a", "b", "c"]),
    ("replace(text('Subject'), 'off', 'on')", "Kickon"),
    ("len(item('Categories'))", 2),
    ("form() == 'MainTopic' and unid() == 'ABC'", True),
    ("not has('Missing')", True),
])
def test_evaluation(source, expected):
    assert run(source) == expected


@pytest.mark.parametrize("source,fragment", [
    ("__import__('os')", "unknown function __import__"),
    ("open('x')", "unknown function open"),
    ("Subject", "unknown name 'Subject'"),
    ("item('a').upper()", "unknown function"),
    ("item('a')[0]", "not allowed"),
    ("[x for x in 'ab']", "not allowed"),
    ("lambda: 1", "not allowed"),
    ("item('a', 'b')", "takes 1 positional"),
    ("2 ** 8", "not allowed"),
    ("item(", "not a valid expression"),
])
def test_refused_at_load_time(source, fragment):
    with pytest.raises(ExpressionError) as info:
        Expression(source, where="m.toml:3: column[1].expr")
    assert fragment in str(info.value) and str(info.value).startswith("m.toml:3: column[1].expr")


def test_limits_on_size_and_depth():
    from notes2m365.expr import ExpressionValueError
    with pytest.raises(ExpressionError, match="more than 200 parts"):
        Expression(" + ".join(["'a'"] * 300))
    with pytest.raises(ExpressionError):
        Expression("(" * 3000 + "1" + ")" * 3000)
    with pytest.raises(ExpressionValueError):
        Expression("replace(text('Subject'), '', 'x')").evaluate(lambda n: "abc")
    with pytest.raises(ExpressionValueError):
        Expression("join([text('S'), text('S')], text('S'))").evaluate(lambda n: "x" * 600_000)
