"""The streaming reader: roots, namespaces, noteinfo, every value type, attachments, design notes."""

from __future__ import annotations

import base64
import hashlib

import pytest

from notes2m365.dxl import ReadStats, decode_unid_list, iter_dxl
from notes2m365.model import DocumentError, NotesDateTimePair, NotesDocument

from .conftest import NS, database, document, unid, write


def read(path, **kw):
    stats = ReadStats(file=str(path))
    results = list(iter_dxl(path, stats=stats, **kw))
    return [r for r in results if isinstance(r, NotesDocument)], [r for r in results if isinstance(r, DocumentError)], stats


@pytest.mark.parametrize("ns", [True, False])
def test_database_root_with_and_without_namespace(tmp_path, ns):
    docs, errors, stats = read(write(tmp_path, database(document(1) + document(2), ns=ns)))
    assert [d.unid for d in docs] == [unid(1), unid(2)]
    assert not errors
    assert stats.replica_id == "C1257A2B0034F00D"
    assert docs[0].key == f"C1257A2B0034F00D/{unid(1)}"
    assert docs[0].sequence == 3 and docs[0].noteid == "1"
    assert docs[0].created.isoformat() == "2024-03-12T09:15:02.170000+01:00"
    assert docs[0].modified.dst is True


def test_document_root(tmp_path):
    xml = f"<?xml version='1.0'?><document xmlns='{NS}' form='Memo' replicaid='AAAABBBBCCCCDDDD'>" \
          f"<noteinfo unid='{unid(7)}' sequence='1'/><item name='Subject'><text>Hi</text></item></document>"
    docs, errors, stats = read(write(tmp_path, xml))
    assert len(docs) == 1 and docs[0].form == "Memo" and docs[0].text("Subject") == "Hi"
    assert docs[0].replica_id == "AAAABBBBCCCCDDDD"


def test_note_class_document_root_takes_form_from_item(tmp_path):
    xml = f"<note class='document' xmlns='{NS}' version='11.0'><noteinfo unid='{unid(9)}' sequence='2'/>" \
          "<item name='Form'><text>Post</text></item></note>"
    docs, _, _ = read(write(tmp_path, xml))
    assert docs[0].form == "Post" and docs[0].element == "note"


def test_design_notes_skipped_and_counted(tmp_path):
    body = ("<databaseinfo dbid='1' replicaid='X' numberofdocuments='1'/>"
            "<acl><aclentry name='-Default-' level='noaccess'/></acl>"
            "<form name='Memo'><body><richtext><par>x</par></richtext></body></form>"
            "<view name='All'/><note class='icon'><noteinfo unid='" + unid(99) + "'/></note>"
            + document(1) + "<agent name='a'/>")
    docs, errors, stats = read(write(tmp_path, database(body)))
    assert len(docs) == 1 and not errors
    assert stats.design_notes == {"form": 1, "view": 1, "note:icon": 1, "agent": 1}


def test_value_types(tmp_path):
    items = (
        "<item name='T'><text>line1<break/>line2</text></item>"
        "<item name='E'><text/></item>"
        "<item name='TL'><textlist><text>a</text><text>b<break/>c</text><text/></textlist></item>"
        "<item name='N'><number>12.5</number></item>"
        "<item name='I'><number>300000</number></item>"
        "<item name='NL'><numberlist><number>1</number><number>-2.25</number></numberlist></item>"
        "<item name='D'><datetime>19750521</datetime></item>"
        "<item name='TM'><datetime>T060306,52</datetime></item>"
        "<item name='Z'><datetime/></item>"
        "<item name='O4'><datetime>20240101T120000,00+0530</datetime></item>"
        "<item name='DL'><datetimelist><datetime>20240101T120000,00-04</datetime>"
        "<datetimepair><datetime>20240101T120000,00+01</datetime><datetime>20240101T130000,00+01</datetime></datetimepair>"
        "</datetimelist></item>"
        "<item name='F'><formula>@Now</formula></item>"
        "<item name='Nothing'/>"
    )
    docs, errors, _ = read(write(tmp_path, database(document(1, items))))
    d = docs[0]
    assert d.get("t").values == ["line1\nline2"]
    assert d.get("E").values == [""]
    assert d.get("TL").values == ["a", "b\nc", ""]
    assert d.get("N").values == [12.5] and d.get("I").values == [300000]
    assert d.get("NL").values == [1, -2.25]
    assert d.get("D").value.kind == "date" and d.get("D").value.isoformat() == "1975-05-21"
    assert d.get("TM").value.kind == "time" and d.get("TM").value.isoformat() == "06:03:06.520000"
    assert d.get("Z").value.kind == "empty"
    assert d.get("O4").value.isoformat() == "2024-01-01T12:00:00+05:30"
    dl = d.get("DL").values
    assert dl[0].isoformat() == "2024-01-01T12:00:00-04:00"
    assert isinstance(dl[1], NotesDateTimePair) and dl[1].end.isoformat() == "2024-01-01T13:00:00+01:00"
    assert d.get("F").type == "formula" and d.get("F").values == ["@Now"]
    assert d.get("Nothing").type == "empty"
    assert not d.warnings


def test_flags_and_repeated_items(tmp_path):
    items = (
        "<item name='DocReaders' names='true' readers='true'><textlist><text>CN=Jane Doe/O=Acme</text><text>[Admin]</text></textlist></item>"
        "<item name='Owner' authors='true' names='true' protected='true'><text>CN=Jane Doe/O=Acme</text></item>"
        "<item name='Pwd' seal='true' sign='true'><text>x</text></item>"
        "<item name='Received' summary='false'><text>one</text></item>"
        "<item name='Received' summary='false'><text>two</text></item>"
    )
    d = read(write(tmp_path, database(document(1, items))))[0][0]
    assert d.get("DocReaders").flags == {"names", "readers"}
    assert d.get("Owner").flags == {"authors", "names", "protected"}
    assert d.get("Pwd").flags == {"seal", "sign"}
    assert [i.values[0] for i in d.get_all("received")] == ["one", "two"]


def test_updatedby_revisions_and_revisions_item(tmp_path):
    info = (f"<noteinfo noteid='a' unid='{unid(1)}' sequence='2'><created><datetime>20090527T095553,20+02</datetime></created></noteinfo>"
            "<updatedby><name>CN=A/O=X</name><name>CN=B/O=X</name></updatedby>"
            "<revisions><datetime>20090527T095553,20+02</datetime><datetime>20090528T095553,20+02</datetime></revisions>")
    d = read(write(tmp_path, database(document(1, noteinfo=info))))[0][0]
    assert d.updated_by == ["CN=A/O=X", "CN=B/O=X"] and len(d.revisions) == 2
    info2 = f"<noteinfo unid='{unid(2)}' sequence='1'/>"
    d2 = read(write(tmp_path, database(document(2, "<item name='$Revisions'><datetime dst='true'>20090527T095553,20+02</datetime></item>", noteinfo=info2)), "b.dxl"))[0][0]
    assert len(d2.revisions) == 1


def test_unid_list_decoding_and_ref_parent(tmp_path):
    # jnx-spam.xml's $INetOrig decodes to its own UNID (see dxl-reference.md 3.3)
    assert decode_unid_list(base64.b64decode("AQB2qdESXOXYj+c/IN8g/gNP")) == ("8FD8E55C12D1A9764F03FE20DF203FE7",)
    raw = "AQB2qdESXOXYj+c/IN8g/gNP"
    d = read(write(tmp_path, database(document(1, f"<item name='$REF'><rawitemdata type='4'>{raw}</rawitemdata></item>"))))[0][0]
    assert d.parent_unid == "8FD8E55C12D1A9764F03FE20DF203FE7"
    assert d.get("$REF").raw.type_code == 4


def test_parent_attribute_and_response(tmp_path):
    d = read(write(tmp_path, database(document(2, extra_attrs=f" parent='{unid(1).lower()}' response='true'"))))[0][0]
    assert d.parent_unid == unid(1) and d.response


def test_rawitemdata_types_kept(tmp_path):
    items = ("<item name='X'><rawitemdata type='502'>AAEC</rawitemdata></item>"
             "<item name='Y'><itemdata type='400'>AAAA</itemdata></item>")
    d = read(write(tmp_path, database(document(1, items))))[0][0]
    assert d.get("X").raw.type_code == 0x502 and d.get("X").raw.data == b"\x00\x01\x02"
    assert d.get("Y").raw.legacy and d.get("Y").type == "itemdata"


def _file_item(name: str, data: bytes, *, size: int | None = None, wrap: int = 76) -> str:
    b64 = base64.b64encode(data).decode()
    lines = "\n".join(b64[i:i + wrap] for i in range(0, len(b64), wrap))
    size_attr = f" size='{size if size is not None else len(data)}'"
    return (f"<item name='$FILE' summary='true' sign='true' seal='true'><object><file hosttype='msdos' compression='none' "
            f"flags='storedindoc' encoding='none' name='{name}'{size_attr}><created><datetime>20240101T120000,00+01</datetime></created>"
            f"<modified><datetime>20240102T120000,00+01</datetime></modified><filedata\n>{lines}</filedata></file></object></item>")


def test_attachments_decoded_hashed_and_spooled(tmp_path):
    small = b"hello world"
    big = bytes(range(256)) * 8000  # ~2 MB: above the spool threshold
    items = _file_item("a.txt", small) + _file_item("big.bin", big)
    docs, errors, _ = read(write(tmp_path, database(document(1, items) + document(2))), spool_threshold=64 * 1024)
    assert not errors
    a, b = docs[0].attachments
    assert (a.name, a.size, a.sha256) == ("a.txt", len(small), hashlib.sha256(small).hexdigest())
    assert a.read_bytes() == small
    assert b.size == len(big) and b.sha256 == hashlib.sha256(big).hexdigest() and b.read_bytes() == big
    assert b._spool._rolled  # went to disk
    assert a.created.isoformat() == "2024-01-01T12:00:00+01:00"
    assert docs[1].unid == unid(2)


def test_line_numbers_survive_diverted_attachments(tmp_path):
    items = _file_item("a.bin", b"x" * 10000, wrap=20)
    data = database(document(1, items) + document(2))
    docs, _, _ = read(write(tmp_path, data))
    text = data.decode()
    expected = text[: text.index(f"unid='{unid(2)}'")].count("\n") + 1
    assert docs[1].line == expected


def test_filedata_inside_cdata_is_not_diverted(tmp_path):
    mime = "<mime><![CDATA[Content-Type: text/html\n\n<filedata>not an attachment</filedata>]]></mime>"
    d = read(write(tmp_path, database(document(1, "") .replace("</document>", mime + "</document>"))))[0][0]
    assert "<filedata>not an attachment</filedata>" in d.mime.text


def test_declared_size_mismatch_warns(tmp_path):
    d = read(write(tmp_path, database(document(1, _file_item("a.txt", b"abc", size=10)))))[0][0]
    assert any("the file says 10" in w for w in d.warnings)


def test_richtext_is_detached_and_survives(tmp_path):
    items = "<item name='Body'><richtext><pardef id='1'/><par def='1'>Hello</par></richtext></item>"
    docs, _, _ = read(write(tmp_path, database(document(1, items) + document(2, items))))
    assert all("".join(d.get("Body").richtext.element.itertext()) == "Hello" for d in docs)


def test_mime_element_kept(tmp_path):
    mime = "<mime><![CDATA[MIME-Version: 1.0\nSubject: x\n\nbody]]></mime>"
    d = read(write(tmp_path, database(document(1).replace("</noteinfo>", "</noteinfo>" + mime))))[0][0]
    assert d.mime is not None and "Subject: x" in d.mime.text


def test_leading_comments_and_whitespace(tmp_path):
    data = database(document(1)).replace(b"<database", b"<!-- licence header -->\n<database", 1)
    docs, errors, _ = read(write(tmp_path, data))
    assert len(docs) == 1 and not errors


def test_domino_wrapped_tags(tmp_path):
    items = "<item name='X'><text\n>value</text></item><item name='D'><datetime\n>20210610T210751,59+00</datetime></item>"
    d = read(write(tmp_path, database(document(1, items))))[0][0]
    assert d.text("X") == "value" and d.get("D").value.kind == "datetime"


def test_item_with_an_empty_name_is_kept(tmp_path):
    d = read(write(tmp_path, database(document(1, "<item name=''><text>x</text></item><item name='Form'><text>F</text></item>"),
                                      ).replace(b"form='Memo'", b"")))[0][0]
    assert d.items[0].name == "" and d.form == "F"
