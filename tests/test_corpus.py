"""Real Domino output (../shared/corpus/dxl-real, read in place, never copied): every document read.

Skipped when the corpus is absent.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from lxml import etree

from notes2m365.convert import convert_document
from notes2m365.dxl import ReadStats, iter_dxl
from notes2m365.model import DocumentError

from .conftest import corpus_files

FILES = corpus_files()


def plain_count(path) -> int:
    """Documents by a plain element count: <document> and <note class='document'> anywhere."""
    tree = etree.parse(str(path), etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False, huge_tree=True))
    root = tree.getroot()
    docs = root.iter("{*}document")
    notes = [n for n in root.iter("{*}note") if n.get("class", "document") == "document"]
    return sum(1 for _ in docs) + len(notes)


@pytest.mark.skipif(not FILES, reason="real DXL corpus is absent")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_document_read_and_converted(path):
    stats = ReadStats(file=str(path))
    docs = []
    for result in iter_dxl(path, stats=stats):
        assert not isinstance(result, DocumentError), str(result)
        conv = convert_document(result)
        for rendered in conv.richtext:
            etree.fromstring(rendered.html.encode())  # well-formed
        json.dumps(conv.as_json())
        docs.append(result)
    assert len(docs) == plain_count(path)
    assert all(len(d.unid) == 32 for d in docs)


@pytest.mark.skipif(not FILES, reason="real DXL corpus is absent")
def test_inspect_json_counts_every_document():
    proc = subprocess.run([sys.executable, "-m", "notes2m365.cli", "inspect", "--json", *map(str, FILES)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["documents"] == sum(plain_count(p) for p in FILES) == 134
    assert data["errors"] == []
    assert data["by_form"]["binaryForm"] == 5
    assert data["attachments"]["count"] >= 2
    assert data["design_notes_skipped"] > 0


def test_spam_memo_details(corpus):
    doc = next(d for d in iter_dxl(corpus / "jnx-spam.xml") if not isinstance(d, DocumentError))
    assert doc.form == "Memo" and doc.unid == "8FD8E55C12D1A9764F03FE20DF203FE7"
    assert len(doc.get_all("Received")) == 4
    assert doc.get("$INetOrig").raw.unids == (doc.unid,)
    conv = convert_document(doc)
    assert conv.message is not None and conv.message.html


def test_binaries_attachments_and_ole(corpus):
    docs = [d for d in iter_dxl(corpus / "plomino-test_binaries.xml") if not isinstance(d, DocumentError)]
    png = [a for d in docs for a in d.attachments if a.name.endswith(".png")]
    assert len(png) == 1 and png[0].size == 47127 and png[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ole = [a for d in docs for a in d.attachments if a.is_ole_storage]
    assert len(ole) == 4


def test_invaliddoc_ref_and_empty_created(corpus):
    doc = next(d for d in iter_dxl(corpus / "jnx-invaliddoc.xml") if not isinstance(d, DocumentError))
    assert doc.created.kind == "empty"
    assert doc.get("$TUA").raw.unids[0] == doc.text("ApptUNID") == "2531C7CE4F8E6C628FBB8DBFCD362EBC"
    assert doc.parent_unid and len(doc.parent_unid) == 32
