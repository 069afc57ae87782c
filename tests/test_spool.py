"""The diverting reader: attachment base64 out of the XML stream, everything else byte-identical."""

import base64
import hashlib
import io
import os

import pytest

from notes2m365.spool import TOKEN_PREFIX, DivertingReader


def drain(reader: DivertingReader, size: int = 7000) -> bytes:
    out = bytearray()
    while True:
        chunk = reader.read(size)
        if not chunk:
            return bytes(out)
        out += chunk


@pytest.mark.parametrize("read_size", [1, 13, 4096, 1 << 20])
def test_filedata_diverted_and_lines_kept(read_size):
    payload = os.urandom(50_000)
    b64 = base64.encodebytes(payload)  # 76-column lines
    xml = b"<a><filedata\n>" + b64 + b"</filedata><!-- <filedata>x</filedata> --><![CDATA[<filedata>y</filedata>]]></a>"
    reader = DivertingReader(io.BytesIO(xml), spool_threshold=1024)
    out = drain(reader, read_size)
    assert out.count(b"\n") == xml.count(b"\n")
    assert b"<!-- <filedata>x</filedata> -->" in out and b"<![CDATA[<filedata>y</filedata>]]>" in out
    token = out.split(b"<filedata\n>")[1].split(b"</filedata>")[0].decode()
    assert token.strip() == f"{TOKEN_PREFIX}0"
    spool = reader.take(token)
    assert spool.size == len(payload) and spool.sha256 == hashlib.sha256(payload).hexdigest()
    assert spool.file.read() == payload
    assert reader.take(token) is None


def test_unpadded_base64_tail_is_padded():
    xml = b"<a><filedata>aGVsbG8</filedata></a>"  # "hello" without '='
    reader = DivertingReader(io.BytesIO(xml))
    drain(reader)
    spool = reader.take(f"{TOKEN_PREFIX}0")
    assert spool.error is None and spool.file.read() == b"hello"


def test_invalid_base64_is_recorded_not_raised():
    reader = DivertingReader(io.BytesIO(b"<a><filedata>abc*def==</filedata><b/></a>"))
    out = drain(reader)
    assert out.endswith(b"</filedata><b/></a>")
    assert "invalid base64" in reader.take(f"{TOKEN_PREFIX}0").error


def test_other_bytes_untouched():
    xml = "<?xml version='1.0'?><db><text>été &amp; <break/></text></db>".encode()
    assert drain(DivertingReader(io.BytesIO(xml)), 3) == xml


@pytest.mark.parametrize("read_size", [1, 7, 4096])
def test_prefixed_tag_and_lookalikes(read_size):
    xml = (b"<d:db xmlns:d='x'><d:item name='filedata'><d:text>filedata &lt;filedata&gt;</d:text></d:item>"
           b"<d:filedata  >aGVsbG8=</d:filedata><d:filedatax>keep</d:filedatax></d:db>")
    reader = DivertingReader(io.BytesIO(xml))
    out = drain(reader, read_size)
    assert b"<d:filedatax>keep</d:filedatax>" in out and b"name='filedata'" in out
    assert out.count(TOKEN_PREFIX.encode()) == 1
    assert reader.take(f"{TOKEN_PREFIX}0").file.read() == b"hello"
