"""Value objects of the reader: item lookup by name (indexed) and item text."""

from __future__ import annotations

from notes2m365.model import Item, NotesDateTime, NotesDocument


def doc_with(*names: str) -> NotesDocument:
    return NotesDocument("f.dxl", 1, "A" * 32, items=[Item(n, "text", [f"{n}-{i}"]) for i, n in enumerate(names)])


def linear_get(doc: NotesDocument, name: str) -> Item | None:
    return next((i for i in doc.items if i.name.lower() == name.lower()), None)


def test_get_is_case_insensitive_and_the_first_item_wins():
    doc = doc_with("Form", "Received", "RECEIVED", "$File", "Body", "received", "İx")
    for name in ("form", "FORM", "received", "Received", "$file", "body", "missing", "", "i̇x", "İx"):
        assert doc.get(name) is linear_get(doc, name)
    assert doc.get("received").values == ["Received-1"]


def test_get_follows_changes_of_the_items():
    doc = doc_with("Form")
    assert doc.get("subject") is None
    doc.items.append(Item("Subject", "text", ["hi"]))
    assert doc.get("SUBJECT").values == ["hi"]
    doc.items.pop()
    assert doc.get("subject") is None
    doc.items = [Item("Subject", "text", ["new list"])]
    assert doc.get("subject").values == ["new list"]
    assert doc.text("Subject") == "new list" and doc.text("nothing", "default") == "default"


def test_index_is_not_part_of_equality_or_repr():
    a, b = doc_with("Form", "Subject"), doc_with("Form", "Subject")
    a.get("form")
    assert a == b and repr(a) == repr(b) and "_index" not in repr(a)


def test_item_text():
    when = NotesDateTime("20240101T120000,00+00", "datetime", None)
    assert Item("S", "text", ["one"]).text() == "one"
    assert Item("S", "textlist", ["one", "two"]).text() == "one, two"
    assert Item("N", "number", [3.0]).text() == "3" and Item("N", "number", [2.5]).text() == "2.5"
    assert Item("E", "empty", []).text() == "" and Item("D", "datetime", [when]).text() == ""
