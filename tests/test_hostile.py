"""Hostile and broken input: a clear error for the bad part, the good documents still read, no hang.

Each case is run through the reader and through ``notes2m365 inspect --json``
(in a subprocess with a timeout: no traceback, exit status 1, errors listed).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time


from notes2m365.dxl import ReadStats, iter_dxl
from notes2m365.model import DocumentError, NotesDocument

from .conftest import NS, database, document, unid, write

SECRET = "TOP-SECRET-CONTENT-4711"


def read(path):
    stats = ReadStats(file=str(path))
    results = list(iter_dxl(path, stats=stats))
    return [r for r in results if isinstance(r, NotesDocument)], [r for r in results if isinstance(r, DocumentError)], stats


def run_inspect(path, timeout=60):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "notes2m365.cli", "inspect", "--json", str(path)],
                          capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads(proc.stdout), time.monotonic() - start


def test_xxe_to_local_file_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    doctype = f"<!DOCTYPE database [<!ENTITY xxe SYSTEM 'file://{secret}'>]>"
    body = document(1, "<item name='Subject'><text>&xxe;</text></item>") + document(2)
    path = write(tmp_path, database(body, doctype=doctype))
    docs, errors, stats = read(path)
    assert [d.unid for d in docs] == [unid(2)]
    assert errors and errors[0].unid == unid(1) and "entity" in errors[0].message
    assert any("DOCTYPE declares entities" in w for w in stats.file_warnings)
    proc, data, _ = run_inspect(path)
    assert SECRET not in proc.stdout + proc.stderr
    assert proc.returncode == 1 and data["documents"] == 1


def test_billion_laughs_is_not_expanded(tmp_path):
    lols = "".join(f"<!ENTITY lol{i} '{'&lol%d;' % (i - 1) * 10}'>" for i in range(1, 10))
    doctype = f"<!DOCTYPE database [<!ENTITY lol0 'lol'>{lols}]>"
    body = document(1) + document(2, "<item name='Subject'><text>&lol9;</text></item>") + document(3)
    path = write(tmp_path, database(body, doctype=doctype))
    start = time.monotonic()
    docs, errors, _ = read(path)
    assert time.monotonic() - start < 5
    assert [d.unid for d in docs] == [unid(1), unid(3)]
    assert len(errors) == 1 and errors[0].unid == unid(2)
    proc, data, elapsed = run_inspect(path)
    assert elapsed < 30 and data["documents"] == 2 and len(data["errors"]) == 1


def test_external_dtd_url_is_never_fetched(tmp_path):
    doctype = "<!DOCTYPE database SYSTEM 'http://127.0.0.1:9/domino.dtd'>"
    body = document(1) + document(2)
    path = write(tmp_path, database(body, doctype=doctype))
    start = time.monotonic()
    docs, errors, _ = read(path)
    assert len(docs) == 2 and not errors and time.monotonic() - start < 5


def test_external_parameter_entity_is_not_loaded(tmp_path):
    doctype = "<!DOCTYPE database [<!ENTITY % ext SYSTEM 'http://127.0.0.1:9/evil.dtd'> %ext;]>"
    path = write(tmp_path, database(document(1), doctype=doctype))
    docs, errors, _ = read(path)
    assert len(docs) == 1 and not errors


def test_truncated_file_reports_documents_read_before_the_break(tmp_path):
    data = database(document(1) + document(2) + document(3, "<item name='Subject'><text>cut here"))
    data = data[: data.index(b"cut here") + 8]
    path = write(tmp_path, data)
    docs, errors, _ = read(path)
    assert [d.unid for d in docs] == [unid(1), unid(2)]
    assert errors[-1].fatal and "2 document(s) read before the break" in errors[-1].message
    assert any(e.unid == unid(3) for e in errors)
    proc, out, _ = run_inspect(path)
    assert proc.returncode == 1 and out["documents"] == 2
    assert all({"file", "line", "unid", "message"} <= set(e) for e in out["errors"])


def test_not_xml_at_all(tmp_path):
    path = write(tmp_path, b"\x89PNG\r\n\x1a\n binary garbage")
    docs, errors, _ = read(path)
    assert not docs and len(errors) == 1 and errors[0].fatal and "not a readable DXL file" in errors[0].message
    proc, out, _ = run_inspect(path)
    assert proc.returncode == 1 and out["documents"] == 0


def test_invalid_utf8_in_one_document_later_documents_still_read(tmp_path):
    bad = document(2, "<item name='Subject'><text>caf\xe9</text></item>").encode("latin-1")
    data = database(document(1) + "@@BAD@@" + document(3) + document(4))
    data = data.replace(b"@@BAD@@", bad)
    path = write(tmp_path, data)
    docs, errors, stats = read(path)
    assert [d.unid for d in docs] == [unid(1), unid(3), unid(4)]
    assert len(errors) == 1 and errors[0].unid == unid(2) and "UTF-8" in errors[0].message
    assert stats.resyncs == 1
    # line numbers after the resynchronisation are those of the file
    assert docs[1].line == data[: data.index(f"unid='{unid(3)}'".encode())].count(b"\n") + 1


def test_bad_base64_attachment_fails_only_that_document(tmp_path):
    bad_file = ("<item name='$FILE'><object><file hosttype='msdos' name='x.bin'><created><datetime>20240101T120000,00+01</datetime></created>"
                "<modified><datetime>20240101T120000,00+01</datetime></modified><filedata>!!!!not*base64</filedata></file></object></item>")
    path = write(tmp_path, database(document(1) + document(2, bad_file) + document(3)))
    docs, errors, _ = read(path)
    assert [d.unid for d in docs] == [unid(1), unid(3)]
    assert errors[0].unid == unid(2) and "x.bin" in errors[0].message and "base64" in errors[0].message


def test_bad_base64_raw_item(tmp_path):
    path = write(tmp_path, database(document(1, "<item name='$REF'><rawitemdata type='4'>%%%%</rawitemdata></item>") + document(2)))
    docs, errors, _ = read(path)
    assert [d.unid for d in docs] == [unid(2)] and "$REF" in errors[0].message


def test_invalid_dates_are_warnings_not_losses(tmp_path):
    items = "<item name='D'><datetime>20241341T250000,00+01</datetime></item><item name='E'><datetime>yesterday</datetime></item>"
    docs, errors, _ = read(write(tmp_path, database(document(1, items))))
    assert not errors
    d = docs[0]
    assert d.get("D").value.kind == "invalid" and d.get("E").value.kind == "invalid"
    assert len([w for w in d.warnings if "invalid date" in w]) == 2


def test_missing_unid(tmp_path):
    path = write(tmp_path, database(document(1) + document(2, noteinfo="<noteinfo noteid='1f' sequence='1'/>") + document(3)))
    docs, errors, _ = read(path)
    assert [d.unid for d in docs] == [unid(1), unid(3)]
    assert "no UNID" in errors[0].message and errors[0].line == 5 and errors[0].noteid == "1f"


def test_invalid_unid(tmp_path):
    path = write(tmp_path, database(document(1, noteinfo="<noteinfo unid='XYZ' sequence='1'/>")))
    docs, errors, _ = read(path)
    assert not docs and "not 32 hexadecimal" in errors[0].message


def test_duplicate_unids(tmp_path):
    path = write(tmp_path, database(document(1) + document(2) + document(1)))
    docs, errors, _ = read(path)
    assert [d.unid for d in docs] == [unid(1), unid(2)]
    assert errors[0].unid == unid(1) and "duplicate UNID" in errors[0].message and "line 4" in errors[0].message


def test_item_without_name(tmp_path):
    docs, errors, _ = read(write(tmp_path, database(document(1, "<item><text>x</text></item>") + document(2))))
    assert [d.unid for d in docs] == [unid(2)] and "no name" in errors[0].message


def test_fifty_megabyte_text_item(tmp_path):
    big = "x" * (50 * 1024 * 1024)
    path = tmp_path / "big.dxl"
    with open(path, "wb") as f:
        f.write(database("@@").split(b"@@")[0])
        f.write(document(1, "<item name='Big'><text>" + big + "</text></item>").encode())
        f.write(document(2).encode())
        f.write(b"</database>\n")
    del big
    docs, errors, _ = read(path)
    assert not errors and len(docs) == 2 and len(docs[0].get("Big").values[0]) == 50 * 1024 * 1024


def _nested_tables(depth: int) -> str:
    rt = "<table><tablerow><tablecell>" * depth + "deep" + "</tablecell></tablerow></table>" * depth
    return document(1, f"<item name='Body'><richtext><par>top</par>{rt}</richtext></item>") + document(2)


def test_deeply_nested_tables_are_flattened_with_a_warning(tmp_path):
    proc, out, elapsed = run_inspect(write(tmp_path, database(_nested_tables(400))))
    assert elapsed < 60 and proc.returncode == 0
    assert out["documents"] == 2
    assert any("flattened" in w["message"] for w in out["warnings"]["first"])


def test_nesting_beyond_the_parser_limit_fails_only_that_document(tmp_path):
    docs, errors, _ = read(write(tmp_path, database(_nested_tables(1100))))
    assert [d.unid for d in docs] == [unid(2)]
    assert errors[0].unid == unid(1) and "depth" in errors[0].message


def test_unknown_root_is_reported_not_crashed(tmp_path):
    path = write(tmp_path, "<?xml version='1.0'?><html><body>hello</body></html>")
    docs, errors, stats = read(path)
    assert not docs and errors[0].fatal and "not a DXL file: the root element is <html>" in errors[0].message


# -- found by review: resynchronisation and odd encodings ----------------------------------------

BAD = "<item name='a'><text>x<</text></item>"  # a syntax error inside a document


def test_error_in_a_start_tag_is_reported_not_lost(tmp_path):
    data = database(document(1) + document(2, extra_attrs=" a='1' a='2'") + document(3))
    docs, errors, _ = read(write(tmp_path, data))
    assert [d.unid for d in docs] == [unid(1), unid(3)]
    assert len(errors) == 1 and errors[0].unid == unid(2) and errors[0].line == 5


def test_missing_end_tag_does_not_lose_later_documents(tmp_path):
    data = database(document(1) + document(2).replace("</document>", "") + document(3) + document(4) + document(5))
    docs, errors, _ = read(write(tmp_path, data))
    assert [d.unid for d in docs] == [unid(1), unid(3), unid(4), unid(5)]
    assert [e.unid for e in errors] == [unid(2)]


def test_error_in_the_last_document_is_reported_once(tmp_path):
    docs, errors, _ = read(write(tmp_path, database(document(1) + document(2) + document(3, BAD))))
    assert [d.unid for d in docs] == [unid(1), unid(2)] and [e.unid for e in errors] == [unid(3)]


def test_two_broken_documents_in_a_row(tmp_path):
    data = database(document(1) + document(2, BAD) + document(3, BAD) + document(4))
    docs, errors, _ = read(write(tmp_path, data))
    assert [d.unid for d in docs] == [unid(1), unid(4)] and [e.unid for e in errors] == [unid(2), unid(3)]


def test_attachment_before_an_error_keeps_line_numbers_and_documents(tmp_path):
    att = ("<item name='$FILE'><object><file hosttype='msdos' name='a.bin'><created><datetime>20240101T120000,00+01"
           "</datetime></created><modified><datetime>20240101T120000,00+01</datetime></modified><filedata>\n"
           + "QUFB\n" * 5000 + "</filedata></file></object></item>")
    data = database(document(1, att) + document(2) + document(3, BAD) + document(4))
    docs, errors, _ = read(write(tmp_path, data))
    assert [d.unid for d in docs] == [unid(1), unid(2), unid(4)] and [e.unid for e in errors] == [unid(3)]
    text = data.decode()
    assert docs[2].line == text[: text.index(f"unid='{unid(4)}'")].count("\n") + 1


def test_prefixed_root_resynchronises(tmp_path):
    body = (document(1) + document(2, BAD) + document(3)).replace("<document", "<dxl:document") \
        .replace("</document>", "</dxl:document>").replace("<noteinfo", "<dxl:noteinfo").replace("</noteinfo>", "</dxl:noteinfo>") \
        .replace("<item", "<dxl:item").replace("</item>", "</dxl:item>").replace("<text>", "<dxl:text>").replace("</text>", "</dxl:text>") \
        .replace("<created>", "<dxl:created>").replace("</created>", "</dxl:created>").replace("<modified>", "<dxl:modified>") \
        .replace("</modified>", "</dxl:modified>").replace("<datetime", "<dxl:datetime").replace("</datetime>", "</dxl:datetime>")
    xml = f"<?xml version='1.0'?>\n<dxl:database xmlns:dxl='{NS}' replicaid='C1257A2B0034F00D'>\n{body}</dxl:database>\n"
    docs, errors, _ = read(write(tmp_path, xml))
    assert [d.unid for d in docs] == [unid(1), unid(3)] and [e.unid for e in errors] == [unid(2)]


def test_non_ascii_digits_in_a_size_attribute(tmp_path):
    att = ("<item name='$FILE'><object><file name='a' size='\u00b2'><created><datetime/></created><modified><datetime/>"
           "</modified><filedata>aGk=</filedata></file></object></item>")
    docs, errors, _ = read(write(tmp_path, database(document(1, att))))
    assert not errors and docs[0].attachments[0].declared_size is None and docs[0].attachments[0].read_bytes() == b"hi"


def test_utf16_file_with_an_attachment(tmp_path):
    att = ("<item name='$FILE'><object><file name='a.txt'><created><datetime/></created><modified><datetime/></modified>"
           "<filedata>aGVsbG8=</filedata></file></object></item>")
    text = database(document(1, att) + document(2)).decode().replace("encoding='utf-8'", "encoding='utf-16'")
    path = tmp_path / "u16.dxl"
    path.write_bytes(text.encode("utf-16"))
    docs, errors, _ = read(path)
    assert not errors and [d.unid for d in docs] == [unid(1), unid(2)]
    assert docs[0].attachments[0].read_bytes() == b"hello"


def test_error_between_documents_is_reported(tmp_path):
    data = database(document(1) + "<junk a='1' a='2'/>\n" + document(2))
    docs, errors, _ = read(write(tmp_path, data))
    assert [d.unid for d in docs] == [unid(1), unid(2)]
    assert len(errors) == 1 and errors[0].unid is None and "outside any document" in errors[0].message


def test_single_line_file_reports_what_it_cannot_resynchronise(tmp_path):
    body = (document(1) + document(2, BAD) + document(3) + document(4)).replace("\n", "")
    docs, errors, _ = read(write(tmp_path, database(body)))
    assert [d.unid for d in docs] == [unid(1)]
    assert errors[0].unid == unid(2)
    assert errors[-1].fatal and "documents after it could not be read" in errors[-1].message


def test_entity_inside_a_number_or_raw_item_fails_the_document(tmp_path):
    doctype = "<!DOCTYPE database [<!ENTITY e '1'>]>"
    body = (document(1, "<item name='N'><number>1&e;</number></item>") + document(2)
            + document(3, "<item name='R'><rawitemdata type='4'>AQB2&e;</rawitemdata></item>"))
    docs, errors, _ = read(write(tmp_path, database(body, doctype=doctype)))
    assert [d.unid for d in docs] == [unid(2)]
    assert [e.unid for e in errors] == [unid(1), unid(3)] and all("entity" in e.message for e in errors)
