"""Streaming DXL reader: one :class:`NotesDocument` at a time, flat memory, hostile input safe.

``iter_dxl(path)`` yields, in file order, a :class:`NotesDocument` for every
data note (``<document>``, ``<note class='document'>``) and a
:class:`DocumentError` for every one that could not be read, so that nothing
disappears silently.  Design notes (forms, views, agents, icon notes...) and
profile documents are skipped and counted in :class:`ReadStats`.

Safety: lxml ``iterparse`` with the external DTD never loaded, no network,
entities never expanded (an entity reference in a document makes that
document an error); ``huge_tree`` so that very large text items parse.

Memory: every top-level note is cleared and unlinked once handled; rich-text
elements are detached and handed over with the document; ``<filedata>`` base64
never reaches lxml (see :mod:`notes2m365.spool`).

Recovery: an XML syntax error (invalid UTF-8, a broken tag) makes libxml2 stop.
The reader reports the document being read, then resynchronises on the next
top-level note after the error position and parses on from there, so that the
good documents after a bad one are still read.  A file that ends early reports
how many documents were read before the break.
"""

from __future__ import annotations

import os
import re
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import pybase64
from lxml import etree

from .dxltime import parse_datetime
from .errors import DxlDocumentError, DxlFileError
from .model import (
    ITEM_FLAGS,
    Attachment,
    DocumentError,
    Item,
    MimeContent,
    NotesDateTime,
    NotesDateTimePair,
    NotesDocument,
    RawItemData,
    RichText,
)
from .spool import TOKEN_PREFIX, DivertingReader

DXL_NS = "http://www.lotus.com/dxl"

#: Elements that can stand at the top level of a ``<database>`` ([DTD901] note.types).
NOTE_TAGS = (
    "document", "note", "profiledocument", "form", "subform", "page", "frameset", "view", "folder",
    "sharedfield", "sharedactions", "imageresource", "appletresource", "agent", "webservice", "agentdata",
    "scriptlibrary", "databasescript", "helpusingdocument", "helpaboutdocument", "dataconnection",
    "sharedcolumn", "fileresource", "stylesheetresource", "outline", "db2accessview",
)
_ITERPARSE_TAGS = ["{*}" + t for t in (*NOTE_TAGS, "database", "databaseinfo")]
_UNID_RE = re.compile(r"^[0-9A-Fa-f]{32}$")
_WS_TABLE = bytes.maketrans(b"", b"")
_WS = b" \t\r\n"
_NOTE_START_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,40}:)?(?:" + b"|".join(t.encode() for t in NOTE_TAGS) + rb")[\s>/]")


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2] if tag[0] == "{" else tag


@dataclass(slots=True)
class ReadStats:
    """What one file held: counts, database header, skipped design notes, warnings."""

    file: str
    documents: int = 0
    errors: int = 0
    design_notes: Counter[str] = field(default_factory=Counter)
    root: str | None = None
    version: str | None = None
    replica_id: str | None = None
    title: str | None = None
    path: str | None = None
    file_warnings: list[str] = field(default_factory=list)
    bytes_total: int = 0
    bytes_read: int = 0
    resyncs: int = 0


def iter_dxl(
    path: str | os.PathLike[str],
    *,
    stats: ReadStats | None = None,
    spool_threshold: int = 1 << 20,
    spool_dir: str | None = None,
) -> Iterator[NotesDocument | DocumentError]:
    """Yield every data note of a DXL file as a document or an error, in file order."""
    name = os.fspath(path)
    stats = stats if stats is not None else ReadStats(file=name)
    stats.file = name
    try:
        stats.bytes_total = os.path.getsize(name)
        raw = open(name, "rb")
    except OSError as exc:
        raise DxlFileError(name, exc.strerror or str(exc)) from exc
    with raw:
        reader = _FileReader(name, raw, stats, spool_threshold, spool_dir)
        yield from reader.run()


class _FileReader:
    """Parses one file; keeps the state needed to resynchronise after a syntax error."""

    def __init__(self, name: str, raw: IO[bytes], stats: ReadStats, threshold: int, spool_dir: str | None) -> None:
        self.name = name
        self.raw = raw
        self.stats = stats
        self.threshold = threshold
        self.spool_dir = spool_dir
        self.root_tag: str | None = None  # local name of the root
        self.root_ns: str | None = None
        self.seen_unids: dict[bytes, int] = {}
        self.last_line = 0

    # -- passes ----------------------------------------------------------------
    def run(self) -> Iterator[NotesDocument | DocumentError]:
        offset, line_base, prefix = 0, 0, b""
        while True:
            self.raw.seek(offset)
            diverter = DivertingReader(_Prefixed(prefix, self.raw), spool_threshold=self.threshold, spool_dir=self.spool_dir)
            error: etree.XMLSyntaxError | None = None
            pass_ = _Pass(self, diverter, line_base, first=not prefix)
            try:
                yield from pass_.parse()
            except etree.XMLSyntaxError as exc:
                error = exc
            finally:
                diverter.discard_all()
                self.stats.bytes_read = max(self.stats.bytes_read, offset + diverter.bytes_read - len(prefix))
            if error is None:
                if self.root_tag is None:
                    root = getattr(getattr(pass_, "context", None), "root", None)
                    tag = _local(root.tag) if root is not None else "nothing"
                    self.stats.errors += 1
                    yield DocumentError(self.name, 1, None, f"not a DXL file: the root element is <{tag}>", fatal=True)
                return
            line = error.lineno + line_base if error.lineno else None
            reason = _syntax_reason(error)
            current = pass_.current
            if current is None and self.stats.documents == 0 and self.stats.errors == 0 and self.root_tag is None:
                # Nothing that looks like DXL at all.
                self.stats.errors += 1
                yield DocumentError(self.name, line, None, f"not a readable DXL file: {reason}", fatal=True)
                return
            unid, noteid = _ids_of(current) if current is not None else (None, None)
            resume = None
            if self.root_tag == "database":
                resume = self._find_resume(error, line, pass_.current_line if current is not None else None, offset)
            if current is not None:
                self.stats.errors += 1
                yield DocumentError(
                    self.name, pass_.current_line or line, unid,
                    (f"malformed XML at line {line}: {reason}" if line and line >= (pass_.current_line or 0)
                     else f"malformed XML: {reason}"), noteid=noteid,
                )
            if resume is None:
                self.stats.errors += 1
                yield DocumentError(
                    self.name, line, None,
                    f"file unreadable from line {line} ({reason}); "
                    f"{self.stats.documents} document(s) read before the break",
                    fatal=True,
                )
                return
            self.stats.resyncs += 1
            offset, line_base = resume
            prefix = self._root_prefix()

    def _root_prefix(self) -> bytes:
        ns = f" xmlns='{self.root_ns}'" if self.root_ns else ""
        return f"<?xml version='1.0' encoding='utf-8'?><{self.root_tag}{ns}>".encode()

    def _line_offset(self, line: int) -> int | None:
        """Byte offset of the start of a 1-based line."""
        self.raw.seek(0)
        pos, current = 0, 1
        while current < line:
            chunk = self.raw.read(1 << 20)
            if not chunk:
                return None
            need = line - current
            count = chunk.count(b"\n")
            if count < need:
                current += count
                pos += len(chunk)
                continue
            idx = -1
            for _ in range(need):
                idx = chunk.index(b"\n", idx + 1)
            return pos + idx + 1
        return pos

    def _find_resume(self, error: etree.XMLSyntaxError, line: int | None, doc_line: int | None, floor: int) -> tuple[int, int] | None:
        """Byte offset and line number of the next top-level note after the broken one.

        Searches from the error position when it lies inside or after the
        document being read; otherwise (errors reported at a bogus position,
        e.g. entity amplification) from the start of that document's line,
        skipping its own start tag.  Never goes back to or before ``floor``.
        """
        skip = 0
        start: int | None = None
        if line is not None and (doc_line is None or line >= doc_line):
            base = self._line_offset(line)
            if base is not None:
                column = error.position[1] if error.position else 1
                start = base + max(column - 1, 0)
        if start is None and doc_line is not None:
            start = self._line_offset(doc_line)
            skip = 1
        if start is None:
            return None
        start = max(start, floor + 1)
        self.raw.seek(start)
        carry = b""
        base = start
        skipped = -1
        while True:
            chunk = self.raw.read(1 << 20)
            if not chunk:
                return None
            buf = carry + chunk
            for m in _NOTE_START_RE.finditer(buf):
                found = base + m.start()
                if found <= skipped:
                    continue
                if skip:
                    skip -= 1
                    skipped = found
                    continue
                self.raw.seek(0)
                return found, _count_newlines(self.raw, found)
            carry = buf[-64:]
            base += len(buf) - len(carry)

    # -- helpers used by passes ------------------------------------------------
    def claim_unid(self, unid: str, line: int) -> int | None:
        key = bytes.fromhex(unid)
        first = self.seen_unids.get(key)
        if first is None:
            self.seen_unids[key] = line
        return first


def _count_newlines(raw: IO[bytes], upto: int) -> int:
    count = 0
    remaining = upto
    while remaining > 0:
        chunk = raw.read(min(remaining, 1 << 20))
        if not chunk:
            break
        count += chunk.count(b"\n")
        remaining -= len(chunk)
    return count


class _Prefixed:
    """A file object that reads ``prefix`` and then ``raw`` (used to restart on a synthetic root)."""

    def __init__(self, prefix: bytes, raw: IO[bytes]) -> None:
        self.prefix = prefix
        self.raw = raw

    def read(self, size: int = -1) -> bytes:
        if self.prefix:
            head, self.prefix = self.prefix, b""
            return head
        return self.raw.read(size)

    def close(self) -> None:  # the raw file is closed by iter_dxl
        pass


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    msg = (exc.msg or str(exc)).strip()
    msg = re.sub(r",? line \d+, column \d+.*$", "", msg)
    low = msg.lower()
    if "not proper utf-8" in low or "invalid bytes in character encoding" in low:
        return f"invalid UTF-8 bytes ({msg})"
    if "premature end of data" in low or "no element found" in low or "end of document" in low:
        return f"the file ends early ({msg})"
    return msg


def _ids_of(el: Any) -> tuple[str | None, str | None]:
    try:
        for child in el:
            if _local(child.tag) == "noteinfo":
                return child.get("unid"), child.get("noteid")
    except Exception:  # partial trees after a syntax error: best effort only
        pass
    return None, None


class _Pass:
    """One iterparse pass over the file (from the start, or from a resynchronisation point)."""

    def __init__(self, owner: _FileReader, diverter: DivertingReader, line_base: int, first: bool) -> None:
        self.owner = owner
        self.diverter = diverter
        self.line_base = line_base
        self.first = first
        self.current: Any = None
        self.current_line: int | None = None

    def parse(self) -> Iterator[NotesDocument | DocumentError]:
        owner, stats = self.owner, self.owner.stats
        context = etree.iterparse(
            self.diverter,
            events=("start", "end"),
            tag=_ITERPARSE_TAGS,
            load_dtd=False,
            no_network=True,
            resolve_entities=False,
            huge_tree=True,
            remove_comments=True,
            remove_pis=True,
        )
        root = None
        self.context = context
        for event, el in context:
            if root is None:
                root = el
                if self.first:
                    self._on_root(el)
                if event == "start":
                    continue
            if event == "start":
                if el.getparent() is root or el is root:
                    self.current = el
                    self.current_line = el.sourceline + self.line_base if el.sourceline else None
                continue
            local = _local(el.tag)
            parent = el.getparent()
            if local == "databaseinfo":
                stats.replica_id = stats.replica_id or (el.get("replicaid") or "").upper() or None
                el.clear(keep_tail=True)
                continue
            if el is root and local == "database":
                break
            if parent is not root and el is not root:
                continue  # a same-named element nested inside a note
            self.current = None
            yield from self._on_note(el, local)
            # Free what was handled: the note, and whatever came before it at the top level.
            el.clear(keep_tail=True)
            if parent is not None:
                while el.getprevious() is not None:
                    del parent[0]
            stats.bytes_read = max(stats.bytes_read, self.diverter.bytes_read)

    def _on_root(self, el: Any) -> None:
        stats = self.owner.stats
        local = _local(el.tag)
        self.owner.root_tag = local
        self.owner.root_ns = el.tag[1:].partition("}")[0] if el.tag.startswith("{") else None
        stats.root = local
        stats.version = el.get("version")
        if el.get("maintenanceversion"):
            stats.version = f"{stats.version} ({el.get('maintenanceversion')})"
        rid = el.get("replicaid")
        stats.replica_id = rid.upper() if rid else None
        stats.title = el.get("title")
        stats.path = el.get("path")
        docinfo = el.getroottree().docinfo
        dtd = docinfo.internalDTD
        if dtd is not None and (any(True for _ in dtd.entities()) or any(True for _ in dtd.iterelements())):
            stats.file_warnings.append(
                "the DOCTYPE declares entities or elements (not DXL as Domino writes it); they are ignored, entities are never expanded"
            )
        if local not in NOTE_TAGS and local != "database":
            stats.file_warnings.append(f"root element <{local}> is not a DXL database or note")

    def _on_note(self, el: Any, local: str) -> Iterator[NotesDocument | DocumentError]:
        owner, stats = self.owner, self.owner.stats
        is_doc = local == "document" or (local == "note" and el.get("class", "document") == "document")
        line = el.sourceline + self.line_base if el.sourceline else None
        if not is_doc:
            kind = f"note:{el.get('class')}" if local == "note" else local
            stats.design_notes[kind] += 1
            self._discard_spools(el)
            return
        try:
            doc = _build_document(el, local, owner.name, line, stats.replica_id, self.diverter)
            if not doc.unid:
                raise DxlDocumentError("document has no UNID (noteinfo/@unid missing)", line)
            if not _UNID_RE.match(doc.unid):
                raise DxlDocumentError(f"UNID {doc.unid!r} is not 32 hexadecimal digits", line)
            first = owner.claim_unid(doc.unid, line or 0)
            if first is not None:
                raise DxlDocumentError(f"duplicate UNID {doc.unid} (first seen at line {first})", line)
        except DxlDocumentError as exc:
            self._discard_spools(el)
            unid, noteid = _ids_of(el)
            stats.errors += 1
            yield DocumentError(owner.name, exc.line or line, unid, exc.message, noteid=noteid)
            return
        stats.documents += 1
        yield doc

    def _discard_spools(self, el: Any) -> None:
        highest = -1
        for fd in el.iter("{*}filedata"):
            token = (fd.text or "").strip()
            if token.startswith(TOKEN_PREFIX):
                try:
                    highest = max(highest, int(token[len(TOKEN_PREFIX):]))
                except ValueError:
                    pass
        if highest >= 0:
            self.diverter.discard_through(highest)


# -- documents -------------------------------------------------------------------


def _build_document(el: Any, local: str, file: str, line: int | None, replica_id: str | None, diverter: DivertingReader) -> NotesDocument:
    doc = NotesDocument(file=file, line=line or 0, unid=None, replica_id=replica_id)
    doc.element = "note" if local == "note" else "document"
    get = el.get
    doc.form = get("form")
    parent = get("parent")
    if parent:
        doc.parent_unid = parent.upper()
    doc.response = get("response") == "true"
    doc.conflict = get("conflict") == "true"
    for child in el:
        tag = child.tag
        if not isinstance(tag, str):
            if isinstance(child, etree._Entity):
                raise DxlDocumentError(f"entity reference {child.text} is not allowed in DXL", child.sourceline)
            continue
        name = tag.rpartition("}")[2]
        if name == "item":
            item = _build_item(child, doc, diverter)
            doc.items.append(item)
        elif name == "noteinfo":
            _noteinfo(child, doc)
        elif name == "updatedby":
            doc.updated_by = [_plain_text(n) for n in child if _local(n.tag) == "name"]
        elif name == "revisions":
            doc.revisions = [parse_datetime(_plain_text(d), d.get("dst") == "true") for d in child if _local(d.tag) == "datetime"]
        elif name == "mime":
            doc.mime = MimeContent(_plain_text(child))
    if doc.form is None:
        form = doc.get("Form")
        if form is not None and form.values:
            doc.form = str(form.values[0])
    if doc.parent_unid is None:
        ref = doc.get("$REF")
        if ref is not None:
            if ref.raw is not None and ref.raw.unids:
                doc.parent_unid = ref.raw.unids[0]
            elif ref.values and isinstance(ref.values[0], str) and _UNID_RE.match(ref.values[0]):
                doc.parent_unid = ref.values[0].upper()
    if not doc.revisions:
        revs = doc.get("$Revisions")
        if revs is not None:
            doc.revisions = [v for v in revs.values if isinstance(v, NotesDateTime)]
    return doc


def _noteinfo(el: Any, doc: NotesDocument) -> None:
    unid = el.get("unid")
    doc.unid = unid.upper() if unid else None
    doc.noteid = el.get("noteid")
    seq = el.get("sequence")
    if seq is not None:
        try:
            doc.sequence = int(seq)
        except ValueError:
            doc.warnings.append(f"noteinfo sequence {seq!r} is not a number")
    for child in el:
        which = _local(child.tag)
        if which in ("created", "modified", "revised", "lastaccessed", "addedtofile"):
            dt_el = child[0] if len(child) else None
            value = _datetime(dt_el, doc, f"noteinfo/{which}") if dt_el is not None else None
            setattr(doc, which, value)


def _plain_text(el: Any) -> str:
    """Text of an element with ``<break/>`` as newline and ``<nonxmlchar>`` dropped."""
    if len(el) == 0:
        return el.text or ""
    parts = [el.text or ""]
    for child in el:
        tag = child.tag
        if isinstance(tag, str):
            local = tag.rpartition("}")[2]
            if local == "break":
                parts.append("\n")
        elif isinstance(child, etree._Entity):
            raise DxlDocumentError(f"entity reference {child.text} is not allowed in DXL", child.sourceline)
        parts.append(child.tail or "")
    return "".join(parts)


def _datetime(el: Any, doc: NotesDocument, where: str) -> NotesDateTime:
    value = parse_datetime(_plain_text(el), el.get("dst") == "true")
    if value.kind == "invalid":
        doc.warnings.append(f"{where}: invalid date/time {value.raw!r} (line {el.sourceline})")
    return value


def _number(text: str, doc: NotesDocument, where: str, line: int | None) -> float | int | None:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        doc.warnings.append(f"{where}: invalid number {text!r} (line {line})")
        return None
    if value != value or value in (float("inf"), float("-inf")):
        doc.warnings.append(f"{where}: invalid number {text!r} (line {line})")
        return None
    return value


def _build_item(el: Any, doc: NotesDocument, diverter: DivertingReader) -> Item:
    attrib = el.attrib
    name = attrib.get("name")
    if name is None:
        raise DxlDocumentError("an <item> has no name attribute", el.sourceline)
    flags = frozenset(f for f in ITEM_FLAGS if attrib.get(f) == "true") if len(attrib) > 1 else frozenset()
    value_el = None
    for child in el:
        if isinstance(child.tag, str):
            value_el = child
            break
        if isinstance(child, etree._Entity):
            raise DxlDocumentError(f"entity reference {child.text} is not allowed in DXL", child.sourceline)
    if value_el is None:
        return Item(name, "empty", [], flags)
    vtype = value_el.tag.rpartition("}")[2]
    item = Item(name, "empty", [], flags)
    if vtype == "text":
        item.type = "text"
        item.values = [_plain_text(value_el)]
    elif vtype == "textlist":
        item.type = "textlist"
        item.values = [_plain_text(t) for t in value_el if isinstance(t.tag, str)]
    elif vtype == "number":
        item.type = "number"
        n = _number(value_el.text or "", doc, name, value_el.sourceline)
        item.values = [] if n is None else [n]
    elif vtype == "numberlist":
        item.type = "numberlist"
        for n_el in value_el:
            if isinstance(n_el.tag, str):
                n = _number(n_el.text or "", doc, name, n_el.sourceline)
                if n is not None:
                    item.values.append(n)
    elif vtype == "datetime":
        item.type = "datetime"
        item.values = [_datetime(value_el, doc, name)]
    elif vtype == "datetimelist":
        item.type = "datetimelist"
        for d in value_el:
            kind = _local(d.tag)
            if kind == "datetime":
                item.values.append(_datetime(d, doc, name))
            elif kind == "datetimepair":
                pair = [_datetime(x, doc, name) for x in d if _local(x.tag) == "datetime"]
                if len(pair) == 2:
                    item.values.append(NotesDateTimePair(pair[0], pair[1]))
                else:
                    doc.warnings.append(f"{name}: datetimepair without two datetimes (line {d.sourceline})")
    elif vtype == "richtext":
        item.type = "richtext"
        el.remove(value_el)  # detached: survives the clearing of the document element
        item.richtext = RichText(value_el)
    elif vtype == "object":
        item.type = "object"
        file_el = next((f for f in value_el if _local(f.tag) == "file"), None)
        if file_el is None:
            doc.warnings.append(f"{name}: <object> without <file> (line {value_el.sourceline})")
        else:
            item.attachment = _attachment(file_el, doc, diverter)
    elif vtype in ("rawitemdata", "itemdata"):
        item.type = vtype
        item.raw = _raw_item(value_el, vtype == "itemdata", name)
    elif vtype == "formula":
        item.type = "formula"
        item.values = [_plain_text(value_el)]
    else:
        doc.warnings.append(f"{name}: unknown value element <{vtype}> kept as text (line {value_el.sourceline})")
        item.type = "text"
        item.values = ["".join(value_el.itertext())]
    return item


def _raw_item(el: Any, legacy: bool, name: str) -> RawItemData:
    type_attr = el.get("type") or "0"
    try:
        type_code = int(type_attr, 16)
    except ValueError as exc:
        raise DxlDocumentError(f"item {name}: raw item type {type_attr!r} is not hexadecimal", el.sourceline) from exc
    text = (el.text or "").encode("ascii", "replace").translate(None, _WS)
    try:
        data = pybase64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except ValueError as exc:
        raise DxlDocumentError(f"item {name}: invalid base64 in raw item data", el.sourceline) from exc
    unids: tuple[str, ...] = ()
    if type_code == 4 and not legacy:
        unids = decode_unid_list(data)
    return RawItemData(type_code, data, legacy, unids)


def decode_unid_list(data: bytes) -> tuple[str, ...]:
    """Decode a NOTEREF_LIST (TYPE 4): WORD count, then 16-byte UNIDs (four LE DWORDs).

    UNID text = ``%08X%08X%08X%08X % (d1, d0, d3, d2)`` (verified on corpus
    ``jnx-spam.xml`` ``$INetOrig`` = its own noteinfo UNID).
    """
    if len(data) < 2:
        return ()
    (count,) = struct.unpack_from("<H", data, 0)
    out = []
    for i in range(count):
        offset = 2 + 16 * i
        if offset + 16 > len(data):
            break
        d0, d1, d2, d3 = struct.unpack_from("<4I", data, offset)
        out.append(f"{d1:08X}{d0:08X}{d3:08X}{d2:08X}")
    return tuple(out)


def _attachment(file_el: Any, doc: NotesDocument, diverter: DivertingReader) -> Attachment:
    name = file_el.get("name") or ""
    created = modified = None
    spool = None
    for child in file_el:
        which = _local(child.tag)
        if which in ("created", "modified") and len(child):
            value = _datetime(child[0], doc, f"$FILE {name} {which}")
            if which == "created":
                created = value
            else:
                modified = value
        elif which == "filedata":
            token = child.text or ""
            spool = diverter.take(token)
            if spool is None and token.strip():
                raise DxlDocumentError(f"attachment {name!r}: attachment data could not be read", child.sourceline)
            if spool is not None and spool.error:
                spool.close()
                raise DxlDocumentError(f"attachment {name!r}: {spool.error}", child.sourceline)
    declared = file_el.get("size")
    declared_size = int(declared) if declared and declared.isdigit() else None
    flags = tuple((file_el.get("flags") or "").split())
    attachment = Attachment(
        name=name,
        size=spool.size if spool else 0,
        sha256=spool.sha256 if spool else _EMPTY_SHA256,
        declared_size=declared_size,
        created=created,
        modified=modified,
        hosttype=file_el.get("hosttype", "unknown"),
        compression=file_el.get("compression", "none"),
        flags=flags,
        _spool=spool.file if spool else None,
    )
    if spool is None:
        doc.warnings.append(f"attachment {name!r} has no data (exported without attachments?)")
    elif declared_size is not None and declared_size != attachment.size and attachment.compression == "none":
        doc.warnings.append(f"attachment {name!r}: {attachment.size} bytes decoded, the file says {declared_size}")
    return attachment


_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
