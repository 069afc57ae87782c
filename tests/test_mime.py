"""Tests of notes2m365.mime: RFC822ITEMDESC / MIME_PART decoding and message rebuilding."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import random
import struct
from pathlib import Path

import pytest
from lxml import etree

from notes2m365.mime import (
    MIME_PART_BODY,
    MIME_PART_EPILOG,
    MIME_PART_PROLOG,
    assemble_message,
    build_message,
    decode_mime_part,
    decode_rfc822_item,
    decode_timedate,
    message_parts,
)
from notes2m365.model import Attachment, Item, MimeContent, NotesDocument, RawItemData

CORPUS = Path(__file__).parents[2] / "shared/corpus/dxl-real"
FIXTURES = Path(__file__).parent / "fixtures" / "mime"
JNX_SPAM = CORPUS / "jnx-spam.xml"

HAS_BOUNDARY, HAS_HEADERS, IN_DBOBJECT = 0x1, 0x2, 0x4


# --------------------------------------------------------------------------- builders


def rfc822(name: bytes, body: bytes, *, flags: int = 0x0A, native: bytes | None = None, delim: bytes = b": ") -> bytes:
    native = body.strip() if native is None else native
    head = struct.pack("<HIHHHH", 14, flags, len(native), len(name), len(delim), len(body))
    return head + native + name + delim + body


def mime_part(ptype: int, flags: int, boundary: bytes = b"", headers: bytes = b"", body: bytes = b"") -> bytes:
    data = boundary + headers + body
    head = struct.pack("<HIBBHHHHI", 2, flags, ptype, 0, len(data), len(boundary), len(headers), 0, 0)
    return head + data


def raw_item(name: str, type_code: int, data: bytes) -> Item:
    return Item(name=name, type="rawitemdata", raw=RawItemData(type_code=type_code, data=data))


def header_items(*pairs: tuple[bytes, bytes]) -> list[Item]:
    return [raw_item(n.decode(), 0x502, rfc822(n, b)) for n, b in pairs]


def file_item(name: str, data: bytes) -> Item:
    att = Attachment(
        name=name,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        flags=("storedindoc", "mime"),
        _spool=io.BytesIO(data),
    )
    return Item(name="$FILE", type="object", attachment=att)


def make_doc(items: list[Item], mime: str | None = None) -> NotesDocument:
    return NotesDocument(
        file="test.xml",
        line=1,
        unid="0" * 32,
        items=items,
        mime=MimeContent(mime) if mime is not None else None,
    )


STD_HEADERS = [
    (b"From", b'"Alice Example" <alice@example.com>\r\n'),
    (b"To", b"bob@example.com, Carol <carol@example.com>\r\n"),
    (b"Subject", b"Hello\r\n"),
    (b"Message-ID", b"<m1@example.com>\r\n"),
    (b"MIME-Version", b"1.0\r\n"),
]


# --------------------------------------------------------------------------- RFC822ITEMDESC


def test_decode_rfc822_item_fields():
    data = rfc822(b"Subject", b"=?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n", native=b"Grusse")
    item = decode_rfc822_item(data)
    assert item is not None
    assert item.version == 14
    assert item.name == "Subject"
    assert item.native == b"Grusse"
    assert item.delimiter == ": "
    assert item.body == "=?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    assert item.format == "text" and item.strict
    assert item.value == "=?utf-8?q?Gr=C3=BC=C3=9Fe?="
    assert item.header_line() == b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    assert not item.truncated and item.warnings == []


def test_decode_rfc822_item_date_native_timedate():
    # PostedDate in jnx-spam: TIMEDATE 2014-08-08 17:18:33 UTC, body without CRLF.
    native = struct.pack("<II", 6231300, 0x04000000 | 2456878)
    item = decode_rfc822_item(rfc822(b"Date", b"Fri, 8 Aug 2014 13:18:33 -0400 (EDT)", flags=0x09, native=native))
    assert item is not None and item.format == "date"
    assert item.native_text is None
    assert item.native_datetime == dt.datetime(2014, 8, 8, 17, 18, 33, tzinfo=dt.timezone.utc)
    assert item.header_line() == b"Date: Fri, 8 Aug 2014 13:18:33 -0400 (EDT)\r\n"


def test_decode_timedate_sentinels():
    assert decode_timedate(b"\xff" * 8) is None
    assert decode_timedate(b"\x00" * 4) is None


def test_decode_rfc822_item_truncated_and_short():
    data = rfc822(b"Subject", b"A long subject line\r\n")
    item = decode_rfc822_item(data[:-5])
    assert item is not None and item.truncated
    assert item.name == "Subject"
    assert item.body == "A long subject l"
    assert any("truncated" in w for w in item.warnings)
    assert decode_rfc822_item(data[:10]) is None
    assert decode_rfc822_item(b"") is None


def test_header_line_keeps_folding_and_neutralises_blank_lines():
    item = decode_rfc822_item(rfc822(b"X-Rules", b"\r\n \tone\r\n\r\ntwo\r\n"))
    assert item is not None
    assert item.header_line() == b"X-Rules: \r\n \tone\r\n two\r\n"


# --------------------------------------------------------------------------- MIME_PART


def test_decode_mime_part_fields():
    data = mime_part(
        MIME_PART_BODY,
        HAS_BOUNDARY | HAS_HEADERS,
        b"\r\n--b1\r\n",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\n",
        b"hi\r\n",
    )
    part = decode_mime_part(data)
    assert part is not None
    assert len(data) == 20 + part.byte_count
    assert (part.version, part.part_type, part.type_name) == (2, MIME_PART_BODY, "body")
    assert part.has_boundary and part.has_headers and not part.body_in_dbobject
    assert part.boundary == b"\r\n--b1\r\n" and part.boundary_text == "--b1"
    assert part.headers.startswith(b"Content-Type: text/plain")
    assert part.body == b"hi\r\n"
    assert part.content_transfer_encoding == "7bit"
    assert part.object_name is None
    assert part.warnings == []


def test_decode_mime_part_dbobject_and_truncation():
    part = decode_mime_part(mime_part(MIME_PART_BODY, HAS_HEADERS | IN_DBOBJECT | 0x8, b"", b"X: y\r\n\r\n", b"file.bin"))
    assert part is not None and part.body_in_dbobject and part.shared_dbobject
    assert part.object_name == "file.bin"
    data = mime_part(MIME_PART_BODY, HAS_HEADERS, b"", b"Content-Type: text/plain\r\n\r\n", b"x" * 100)
    cut = decode_mime_part(data[:60])
    assert cut is not None and cut.truncated
    assert cut.headers == b"Content-Type: text/plain\r\n\r\n"
    assert cut.body == b"x" * (60 - 20 - 28)
    assert decode_mime_part(data[:19]) is None


def test_decode_mime_part_with_leading_type_word():
    data = struct.pack("<H", 0x19) + mime_part(MIME_PART_BODY, HAS_HEADERS, b"", b"A: b\r\n\r\n", b"body")
    part = decode_mime_part(data)
    assert part is not None and part.body == b"body"
    assert any("type word" in w for w in part.warnings)


# --------------------------------------------------------------------------- raw MIME items -> message


def test_single_part_raw():
    items = header_items(*STD_HEADERS) + [
        raw_item(
            "Body",
            0x19,
            mime_part(MIME_PART_BODY, HAS_HEADERS, b"", b"Content-Type: text/plain; charset=utf-8\r\n\r\n", "Grüße\r\n".encode()),
        )
    ]
    built = assemble_message(make_doc(items))
    assert built is not None and built.source == "raw" and built.warnings == []
    s = message_parts(built.message)
    assert s.subject == "Hello"
    assert s.from_ is not None and (s.from_.name, s.from_.email) == ("Alice Example", "alice@example.com")
    assert [a.email for a in s.to] == ["bob@example.com", "carol@example.com"]
    assert s.message_id == "<m1@example.com>"
    assert s.text is not None and s.text.startswith("Grüße")
    assert s.html is None and s.attachments == []


def _alternative_items(boundary_prefix: bytes) -> list[Item]:
    b = boundary_prefix
    return header_items(*STD_HEADERS) + [
        raw_item(
            "Body",
            0x19,
            mime_part(
                MIME_PART_PROLOG,
                HAS_HEADERS,
                b"",
                b'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n',
                b"This is a multi-part message in MIME format.\r\n",
            ),
        ),
        raw_item(
            "Body",
            0x19,
            mime_part(
                MIME_PART_BODY,
                HAS_BOUNDARY | HAS_HEADERS,
                b + b"--alt\r\n",
                b"Content-Type: text/plain; charset=us-ascii\r\n\r\n",
                b"plain version",
            ),
        ),
        raw_item(
            "Body",
            0x19,
            mime_part(
                MIME_PART_BODY,
                HAS_BOUNDARY | HAS_HEADERS,
                b + b"--alt\r\n",
                b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
                b"<p>html =C3=A9dition</p>",
            ),
        ),
        raw_item("Body", 0x19, mime_part(MIME_PART_EPILOG, HAS_BOUNDARY, b + b"--alt--\r\n")),
    ]


@pytest.mark.parametrize("prefix", [b"\r\n", b""], ids=["boundary-with-crlf", "bare-boundary"])
def test_multipart_alternative_raw(prefix):
    msg = build_message(make_doc(_alternative_items(prefix)))
    assert msg is not None
    assert msg.get_content_type() == "multipart/alternative"
    s = message_parts(msg)
    assert s.text is not None and s.text.strip() == "plain version"
    assert s.html is not None and s.html.strip() == "<p>html édition</p>"
    assert s.attachments == []
    assert s.warnings == []


def test_multipart_mixed_with_base64_attachment_raw():
    payload = bytes(range(256))
    items = header_items(*STD_HEADERS) + [
        raw_item("Body", 0x19, mime_part(MIME_PART_PROLOG, HAS_HEADERS, b"", b'Content-Type: multipart/mixed; boundary="mix"\r\n\r\n')),
        # a nested multipart/alternative: its prolog carries the outer boundary
        raw_item(
            "Body",
            0x19,
            mime_part(
                MIME_PART_PROLOG,
                HAS_BOUNDARY | HAS_HEADERS,
                b"\r\n--mix\r\n",
                b'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n',
            ),
        ),
        raw_item("Body", 0x19, mime_part(MIME_PART_BODY, 3, b"\r\n--alt\r\n", b"Content-Type: text/plain\r\n\r\n", b"see attached")),
        raw_item("Body", 0x19, mime_part(MIME_PART_BODY, 3, b"\r\n--alt\r\n", b"Content-Type: text/html\r\n\r\n", b"<b>see attached</b>")),
        raw_item("Body", 0x19, mime_part(MIME_PART_EPILOG, HAS_BOUNDARY, b"\r\n--alt--\r\n")),
        raw_item(
            "Body",
            0x19,
            mime_part(
                MIME_PART_BODY,
                3,
                b"\r\n--mix\r\n",
                b'Content-Type: application/octet-stream; name="bytes.bin"\r\n'
                b"Content-Transfer-Encoding: base64\r\n"
                b'Content-Disposition: attachment; filename="bytes.bin"\r\n\r\n',
                base64.encodebytes(payload).replace(b"\n", b"\r\n"),
            ),
        ),
        raw_item("Body", 0x19, mime_part(MIME_PART_EPILOG, HAS_BOUNDARY, b"\r\n--mix--\r\n", b"", b"epilogue\r\n")),
    ]
    msg = build_message(make_doc(items))
    s = message_parts(msg)
    assert s.text == "see attached" and s.html == "<b>see attached</b>"
    assert len(s.attachments) == 1
    att = s.attachments[0]
    filename, ctype, cid, data, inline = att  # a plain tuple too
    assert (filename, ctype, cid, inline) == ("bytes.bin", "application/octet-stream", None, False)
    assert data == payload


def _dbobject_items(file_bytes: bytes | None) -> list[Item]:
    items = header_items(*STD_HEADERS) + [
        raw_item("Body", 0x19, mime_part(MIME_PART_PROLOG, HAS_HEADERS, b"", b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n')),
        raw_item("Body", 0x19, mime_part(MIME_PART_BODY, 3, b"\r\n--B\r\n", b"Content-Type: text/plain\r\n\r\n", b"text")),
        raw_item(
            "Body",
            0x19,
            mime_part(
                MIME_PART_BODY,
                HAS_BOUNDARY | HAS_HEADERS | IN_DBOBJECT,
                b"\r\n--B\r\n",
                b'Content-Type: image/gif; name="pic.gif"\r\nContent-Transfer-Encoding: base64\r\n'
                b'Content-Disposition: attachment; filename="pic.gif"\r\n\r\n',
                b"ATT00001.gif",
            ),
        ),
        raw_item("Body", 0x19, mime_part(MIME_PART_EPILOG, HAS_BOUNDARY, b"\r\n--B--\r\n")),
    ]
    if file_bytes is not None:
        items.append(file_item("ATT00001.gif", file_bytes))
    return items


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


@pytest.mark.parametrize(
    "stored",
    [base64.encodebytes(GIF).replace(b"\n", b"\r\n"), GIF],
    ids=["object-holds-encoded-body", "object-holds-decoded-bytes"],
)
def test_part_body_in_file_object(stored):
    built = assemble_message(make_doc(_dbobject_items(stored)))
    assert built is not None
    assert built.used_files == ["ATT00001.gif"]
    s = message_parts(built.message)
    assert s.text == "text"
    assert [(a.filename, a.content_type, a.data) for a in s.attachments] == [("pic.gif", "image/gif", GIF)]
    if stored == GIF:
        assert any("re-encoded as base64" in w for w in built.warnings)
    else:
        assert built.warnings == []


def test_part_body_in_missing_file_object_warns():
    built = assemble_message(make_doc(_dbobject_items(None)))
    assert built is not None
    assert any("ATT00001.gif" in w for w in built.warnings)
    s = message_parts(built.message)
    assert s.text == "text"
    assert [a.data for a in s.attachments] == [b""]


def test_root_headers_in_items_and_part_keep_the_parts():
    items = header_items(*STD_HEADERS, (b"Content-Type", b"text/plain; charset=us-ascii\r\n")) + [
        raw_item("Body", 0x19, mime_part(MIME_PART_BODY, HAS_HEADERS, b"", b"Content-Type: text/html; charset=utf-8\r\n\r\n", b"<i>x</i>")),
    ]
    built = assemble_message(make_doc(items))
    assert built is not None
    assert len(built.message.get_all("Content-Type")) == 1
    assert built.message.get_content_type() == "text/html"
    assert any("content-type" in w for w in built.warnings)
    assert message_parts(built.message).html == "<i>x</i>"


def test_no_mime_content_returns_none():
    doc = make_doc([Item(name="Subject", type="text", values=["plain Notes memo"])])
    assert build_message(doc) is None
    assert assemble_message(doc) is None
    # a rich-text Body is not MIME
    doc = make_doc([raw_item("Body", 0x1, b"\x00" * 40)])
    assert build_message(doc) is None


# --------------------------------------------------------------------------- <mime> (MIMEOption=DXL)


def _mime_fixture_text() -> str:
    tree = etree.parse(str(FIXTURES / "native-mime.xml"))
    (el,) = tree.iter("{http://www.lotus.com/dxl}mime")
    return el.text


def _check_mime_fixture_summary(s):
    assert s.subject == "Quarterly report – Q3"
    assert s.from_ == ("Alice Example", "alice@example.com")
    assert s.to == [("Bob", "bob@example.com"), ("", "carol@example.com")]
    assert s.cc == [("Jürgen Müller", "juergen@example.com")]
    assert s.date == dt.datetime(2023, 10, 3, 9, 15, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert s.message_id == "<abc123@example.com>"
    assert s.in_reply_to == "<prev@example.com>"
    assert s.references == ["<root@example.com>", "<prev@example.com>"]
    assert s.text is not None and s.text.startswith("Hello Bob, see the chart. Grüße")
    assert s.html is not None and 'src="cid:chart1@example.com"' in s.html
    by_name = {a.filename: a for a in s.attachments}
    assert set(by_name) == {"chart.png", "report.pdf"}
    png, pdf = by_name["chart.png"], by_name["report.pdf"]
    assert (png.content_type, png.content_id, png.inline) == ("image/png", "chart1@example.com", True)
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert (pdf.content_type, pdf.content_id, pdf.inline) == ("application/pdf", None, False)
    assert pdf.data.startswith(b"%PDF-1.4")
    assert s.warnings == []


def test_mime_element_text():
    text = _mime_fixture_text()
    assert "\r" not in text  # XML normalised the line ends
    built = assemble_message(make_doc([], mime="\n" + text))  # leading newline after <mime> must not matter
    assert built is not None and built.source == "mime"
    assert built.message.get_content_type() == "multipart/mixed"
    _check_mime_fixture_summary(message_parts(built.message))


def test_mime_element_gets_missing_headers_from_items():
    text = "Content-Type: text/plain\n\nbody only\n"
    doc = make_doc(header_items((b"Subject", b"From items\r\n"), (b"Content-Type", b"text/html\r\n")), mime=text)
    msg = build_message(doc)
    assert msg is not None
    assert msg["Subject"] == "From items"
    assert msg.get_content_type() == "text/plain"


# --------------------------------------------------------------------------- real export: jnx-spam.xml


def _read_doc_with_lxml(path: Path) -> NotesDocument:
    """A minimal stand-in for the project reader: items of the first <document>."""
    tree = etree.parse(str(path))
    doc_el = next(e for e in tree.iter() if isinstance(e.tag, str) and etree.QName(e).localname == "document")
    items: list[Item] = []
    for el in doc_el:
        if not isinstance(el.tag, str) or etree.QName(el).localname != "item":
            continue
        value = el[0]
        kind = etree.QName(value).localname
        if kind == "rawitemdata":
            data = base64.b64decode("".join((value.text or "").split()))
            items.append(raw_item(el.get("name"), int(value.get("type"), 16), data))
        elif kind == "text":
            items.append(Item(name=el.get("name"), type="text", values=[value.text or ""]))
        else:
            items.append(Item(name=el.get("name"), type=kind))
    return make_doc(items)


def _check_jnx_spam(doc: NotesDocument):
    body = [i for i in doc.get_all("Body") if i.raw is not None]
    assert [i.raw.type_code for i in body] == [0x19]
    part = decode_mime_part(body[0].raw.data)
    assert part is not None
    # 20-byte header, wByteCount 18202, single HTML body part with headers and no boundary
    assert len(body[0].raw.data) == 18222 == 20 + part.byte_count
    assert (part.version, part.flags, part.part_type) == (2, 0x2, MIME_PART_BODY)
    assert part.boundary == b"" and len(part.headers) == 87
    assert part.headers == b"Content-Transfer-Encoding: quoted-printable\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"

    sendto = decode_rfc822_item(doc.get("SendTo").raw.data)
    assert (sendto.name, sendto.native, sendto.format) == ("To", b"jesse@secondfoundation.org", "addr")
    posted = decode_rfc822_item(doc.get("PostedDate").raw.data)
    assert posted.name == "Date" and posted.format == "date"
    assert posted.native_datetime == dt.datetime(2014, 8, 8, 17, 18, 33, tzinfo=dt.timezone.utc)

    built = assemble_message(doc)
    assert built is not None and built.source == "raw"
    assert built.warnings == []
    msg = built.message
    assert len(msg.get_all("Received")) == 4
    assert msg["Received"].startswith("from cx-a.mxthunder.net")  # file order kept
    s = message_parts(msg)
    assert s.subject == "Extra 60% 0ff EVERYTHING + Lots More Summer Savings."
    assert s.from_ == ("Louis Vuitton", "newsletter@lvbagsforyou.com")
    assert [a.email for a in s.to] == ["jesse@secondfoundation.org"]
    assert s.message_id == "<331186-1407517453669-16268-82837855-34-37@ss23.agm1.us>"
    assert s.date == dt.datetime(2014, 8, 8, 13, 18, 33, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    assert s.html is not None
    assert "If you can't read the text below, then open this address with your Internet browser:" in s.html
    assert "<title>extra 60% 0ff,women's apparel, bags,& sunglasses</title>" in s.html
    assert s.text is None and s.attachments == []
    assert s.warnings == []


def test_jnx_spam_with_lxml():
    if not JNX_SPAM.exists():
        pytest.skip("corpus file jnx-spam.xml not available")
    _check_jnx_spam(_read_doc_with_lxml(JNX_SPAM))


def _iter_dxl():
    try:
        from notes2m365.dxl import iter_dxl
    except Exception as exc:  # the reader is developed in parallel
        pytest.skip(f"notes2m365.dxl not usable: {exc}")
    return iter_dxl


def test_jnx_spam_through_reader():
    if not JNX_SPAM.exists():
        pytest.skip("corpus file jnx-spam.xml not available")
    docs = [d for d in _iter_dxl()(JNX_SPAM) if isinstance(d, NotesDocument)]
    assert len(docs) == 1
    _check_jnx_spam(docs[0])


def test_fixture_through_reader():
    docs = [d for d in _iter_dxl()(FIXTURES / "native-mime.xml") if isinstance(d, NotesDocument)]
    assert len(docs) == 2
    _check_mime_fixture_summary(message_parts(build_message(docs[0])))
    built = assemble_message(docs[1])
    assert built is not None and built.source == "raw" and built.warnings == []
    assert built.used_files == ["data.bin"]
    s = message_parts(built.message)
    assert (s.subject, s.message_id) == ("Raw form", "<raw1@example.com>")
    assert s.text is not None and s.text.strip() == "Body text of the raw form."
    assert [(a.filename, a.data) for a in s.attachments] == [("data.bin", bytes(range(256)) * 3)]


# --------------------------------------------------------------------------- never raise


def test_garbage_bytes_never_raise():
    rng = random.Random(1234)
    for n in range(2000):
        blob = rng.randbytes(rng.randrange(0, 120))
        if n % 3 == 0 and len(blob) >= 20:  # plausible headers with random lengths
            blob = struct.pack("<HIBBHHHHI", 2, rng.randrange(64), rng.randrange(8), 0, *[rng.randrange(200) for _ in range(3)], 0, 0) + blob
        decode_mime_part(blob)
        decode_rfc822_item(blob)
        decode_rfc822_item(struct.pack("<HIHHHH", 14, 0x9, 8, 3, 2, 40) + blob)


def test_garbage_documents_never_raise():
    rng = random.Random(99)
    for _ in range(200):
        items = [raw_item("Body", 0x19, rng.randbytes(rng.randrange(0, 200))) for _ in range(rng.randrange(1, 4))]
        items += [raw_item("X", 0x502, rng.randbytes(rng.randrange(0, 60))) for _ in range(rng.randrange(0, 3))]
        items.append(
            raw_item(
                "Body",
                0x19,
                mime_part(MIME_PART_BODY, rng.randrange(32), rng.randbytes(8), rng.randbytes(30), rng.randbytes(50)),
            )
        )
        built = assemble_message(make_doc(items))
        if built is not None:
            message_parts(built.message)
    for text in ["", "   ", "\x00\x01garbage", "Content-Type: multipart/mixed; boundary=\n\n--\n--", "a" * 5000]:
        message_parts(build_message(make_doc([], mime=text)))


def test_message_parts_tolerates_broken_messages():
    nasty = (
        b"From: <<<@@@>>>, \"unterminated\r\n"
        b"To: =?x-unknown?q?abc?= <a@b>, ;;;\r\n"
        b"Subject: =?utf-8?b?!!!notbase64?=\r\n"
        b"Date: not a date\r\n"
        b"Message-ID: no-brackets\r\n"
        b"Content-Type: multipart/mixed; boundary=\"X\"\r\n\r\n"
        b"--X\r\nContent-Type: text/plain; charset=x-bogus\r\n\r\nbody \xe9\r\n"
        b"--X\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!===\r\n"
        b"--X\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n\r\nJVBERi0x\r\n"
        b"--X\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n"
        b"--X"  # truncated: no closing boundary
    )
    from email import policy
    from email.parser import BytesParser

    msg = BytesParser(policy=policy.default).parsebytes(nasty)
    s = message_parts(msg)
    assert s.text is not None and s.text.startswith("body ")
    assert s.date is None and s.message_id == "no-brackets"
    names = [a.filename for a in s.attachments]
    assert "résumé.pdf" in names
    inner = [a for a in s.attachments if a.content_type == "message/rfc822"]
    assert inner and b"Subject: inner" in inner[0].data
    assert s.warnings  # problems are reported, not raised
    assert message_parts(None).subject is None
