"""Streaming DXL reader: one :class:`NotesDocument` at a time, flat memory, hostile input safe.

``iter_dxl(path)`` yields, in file order, a :class:`NotesDocument` for every
data note (``<document>``, ``<note class='document'>``) and a
:class:`DocumentError` for every one that could not be read, so that nothing
disappears silently.  Design notes (forms, views, agents, icon notes...) and
profile documents are skipped and counted in :class:`ReadStats`.

Safety: lxml ``iterparse`` with the external DTD never loaded, no network,
entities never expanded (an entity reference in a document makes that
document an error); ``huge_tree`` so that very large text items parse.

Speed: a well-formed UTF-8 export is read by a fast pass that feeds lxml's
parser itself, without iterparse's per-element events (:class:`_FastPass`);
anything it does not take on sends the file to the regular passes described
here, which pass over what the fast pass has already given.

Memory: every top-level note is cleared and unlinked once handled; rich-text
elements are detached and handed over with the document; ``<filedata>`` base64
never reaches lxml (see :mod:`notes2m365.spool`).

Recovery: an XML syntax error (invalid UTF-8, a broken tag, a missing end tag)
makes libxml2 stop.  The reader reports the document being read (or the
broken start tag, or the junk between notes), then resynchronises on the next
data note that starts a line after it -- Domino writes every note on a line of
its own -- and parses on from there with a synthetic root, so that the good
documents after a bad one are still read, with their own line numbers.  A file
that ends early, or cannot be resynchronised (UTF-16, everything on one line),
reports how many documents were read before the break.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from lxml import etree

from .dxlnote import UNID_RE, build_document, decode_unid_list, local_name, note_ids
from .errors import DxlDocumentError, DxlFileError
from .model import DocumentError, NotesDocument
from .spool import TOKEN_PREFIX, DivertingReader

__all__ = ["DXL_NS", "NOTE_TAGS", "ReadStats", "decode_unid_list", "iter_dxl"]

DXL_NS = "http://www.lotus.com/dxl"

#: Elements that can stand at the top level of a ``<database>`` ([DTD901] note.types).
NOTE_TAGS = (
    "document", "note", "profiledocument", "form", "subform", "page", "frameset", "view", "folder",
    "sharedfield", "sharedactions", "imageresource", "appletresource", "agent", "webservice", "agentdata",
    "scriptlibrary", "databasescript", "helpusingdocument", "helpaboutdocument", "dataconnection",
    "sharedcolumn", "fileresource", "stylesheetresource", "outline", "db2accessview",
)
_ITERPARSE_TAGS = ["{*}" + t for t in (*NOTE_TAGS, "database", "databaseinfo")]
#: What the fast pass handles at the top level: what iterparse reports to the regular pass.
_TOP_LEVEL = frozenset((*NOTE_TAGS, "database", "databaseinfo"))
#: A data note's start tag at the start of a line (where Domino writes every note).
_RESUME_RE = re.compile(rb"[ \t\r]*<(?:[A-Za-z_][\w.-]{0,40}:)?(?:document|note)[\s>/]")
_RESUME_LINE_RE = re.compile(rb"\n[ \t\r]*(<(?:[A-Za-z_][\w.-]{0,40}:)?(?:document|note)[\s>/])")
_NOTE_TAG_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,40}:)?(?:document|note)[\s>/]")
_UNID_ATTR_RE = re.compile(rb"""\bunid\s*=\s*['"]([0-9A-Fa-f]{32})['"]""")
_ENCODING_RE = re.compile(rb"""^<\?xml[^>]*\bencoding\s*=\s*['"]([A-Za-z0-9._-]+)['"]""")
#: The XML declaration (after an optional UTF-8 byte order mark), behind which the fast pass puts its marker.
_XML_DECL_RE = re.compile(rb"(?:\xef\xbb\xbf)?<\?xml[ \t\r\n][^<>]{0,200}\?>")
_MARKER_TARGET = "n2m-root"
_MARKER = b"<?" + _MARKER_TARGET.encode() + b"?>"
_FAST_CHUNK = 1 << 16


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
        self.root_qname: str | None = None  # as written (prefix:name)
        self.root_nsmap: dict[str | None, str] = {}
        self.resync_ok = _is_utf8(raw)
        self.seen_unids: dict[bytes, int] = {}

    # -- passes ----------------------------------------------------------------
    def run(self) -> Iterator[NotesDocument | DocumentError]:
        handled = 0
        if self.resync_ok:
            fast: _FastPass | None = _FastPass(self)
            try:
                yield from fast.parse()
                return
            except _NotFast:
                handled = fast.handled
                fast = None  # its partial tree goes before the regular passes build theirs (peak memory)
        yield from self._passes(handled)

    def _passes(self, handled: int) -> Iterator[NotesDocument | DocumentError]:
        """The regular passes, from the start of the file; the first ``handled`` top-level elements were
        handled by the fast pass (which also read the root, when ``root_tag`` is set): passed over."""
        offset, line_base, prefix = 0, 0, b""
        while True:
            self.raw.seek(offset)
            diverter = DivertingReader(_Prefixed(prefix, self.raw), spool_threshold=self.threshold, spool_dir=self.spool_dir)
            error: etree.XMLSyntaxError | None = None
            pass_ = _Pass(self, diverter, line_base, first=not prefix and self.root_tag is None, skip=handled)
            handled = 0  # a resynchronised pass starts after what the first one read
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
                    tag = local_name(root.tag) if root is not None else "nothing"
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
            can_resync = self.root_tag == "database" and self.resync_ok
            doc_line = pass_.current_line if current is not None else None
            if current is not None:
                unid, noteid = note_ids(current)
                self.stats.errors += 1
                yield DocumentError(
                    self.name, doc_line or line, unid,
                    (f"malformed XML at line {line}: {reason}" if line and line >= (doc_line or 0)
                     else f"malformed XML: {reason}"), noteid=noteid,
                )
            elif line is not None:
                # The error lies outside any started note: in the start tag of a note that
                # never started (a bad attribute), or between notes.  Either way it is reported.
                orphan = self._note_start_on_line(line) if can_resync else None
                self.stats.errors += 1
                if orphan is not None:
                    yield DocumentError(self.name, line, orphan or None, f"malformed XML at line {line}: {reason}")
                else:
                    yield DocumentError(self.name, line, None, f"malformed XML at line {line}, outside any document: {reason}")
            resume = None
            if can_resync:
                after = doc_line if doc_line is not None else line
                resume = self._find_resume(after, offset) if after is not None else None
            if resume is None:
                # Silent only when the broken note was the last one; otherwise the rest is reported.
                rest = self._note_starts_from(doc_line or line or 1) - (1 if current is not None else 0)
                if current is None or "ends early" in reason or rest > 0:
                    self.stats.errors += 1
                    yield DocumentError(
                        self.name, line, None,
                        f"file unreadable from line {line} ({reason}); "
                        f"{self.stats.documents} document(s) read before the break"
                        + ("; the documents after it could not be read" if rest > 0 else ""),
                        fatal=True,
                    )
                return
            self.stats.resyncs += 1
            offset, line_base = resume
            prefix = self._root_prefix()

    def _root_prefix(self) -> bytes:
        """A synthetic root start tag (same name and namespace declarations) to parse on from a note."""
        decls = "".join(
            f" xmlns:{p}='{uri}'" if p else f" xmlns='{uri}'" for p, uri in sorted(self.root_nsmap.items(), key=lambda kv: kv[0] or "")
        )
        return f"<?xml version='1.0' encoding='utf-8'?><{self.root_qname}{decls}>".encode()

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

    def _note_start_on_line(self, line: int) -> str | None:
        """``""`` or the UNID found, when a data note's start tag begins on ``line``; else ``None``."""
        start = self._line_offset(line)
        if start is None:
            return None
        self.raw.seek(start)
        head = self.raw.read(8192)
        m = _RESUME_RE.match(head)
        if m is None:
            return None
        u = _UNID_ATTR_RE.search(head, m.end())
        return u.group(1).decode("ascii").upper() if u else ""

    def _note_starts_from(self, line: int) -> int:
        """How many data-note start tags the file holds from the start of ``line`` to its end."""
        start = self._line_offset(line)
        if start is None:
            return 0
        self.raw.seek(start)
        count, carry = 0, b""
        while chunk := self.raw.read(1 << 20):
            buf = carry + chunk
            cut = max(0, len(buf) - 64)  # a tag split across reads is counted in the next round
            count += sum(1 for m in _NOTE_TAG_RE.finditer(buf) if m.start() < cut)
            carry = buf[cut:]
        return count + sum(1 for _ in _NOTE_TAG_RE.finditer(carry))

    def _find_resume(self, after_line: int, floor: int) -> tuple[int, int] | None:
        """Byte offset and line number of the first data note starting a line after ``after_line``.

        Domino starts every note on a line of its own, so resynchronising on line
        starts never lands inside the broken note, never goes back, and cannot
        report a document twice.  (A file written on a single line is not
        resynchronised: the rest of it is reported as unreadable.)
        """
        start = self._line_offset(after_line + 1)
        if start is None or start <= floor:
            return None
        self.raw.seek(start)
        carry = b"\n"
        base = start - 1  # offset of carry[0] (the newline that ends after_line)
        while True:
            chunk = self.raw.read(1 << 20)
            if not chunk:
                return None
            buf = carry + chunk
            m = _RESUME_LINE_RE.search(buf)
            if m:
                found = base + m.start(1)
                self.raw.seek(0)
                return found, _count_newlines(self.raw, found)
            carry = buf[-256:]  # a start tag split across reads is found in the next round
            base += len(buf) - len(carry)

    # -- helpers used by passes ------------------------------------------------
    def claim_unid(self, unid: str, line: int) -> int | None:
        key = bytes.fromhex(unid)
        first = self.seen_unids.get(key)
        if first is None:
            self.seen_unids[key] = line
        return first


def _is_utf8(raw: IO[bytes]) -> bool:
    """Resynchronising restarts on raw bytes with a UTF-8 prefix: only for UTF-8 (or ASCII) files."""
    raw.seek(0)
    head = raw.read(256)
    raw.seek(0)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]:
        return False
    m = _ENCODING_RE.match(head.lstrip(b"\xef\xbb\xbf"))
    return m is None or m.group(1).lower() in (b"utf-8", b"utf8", b"us-ascii", b"ascii")


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


class _NotFast(Exception):
    """The fast pass met what it leaves to the regular passes, which read the file again."""


class _FastPass:
    """The first pass over a UTF-8 file, without iterparse's element events.

    iterparse learns of every element start and end through a callback from libxml2 that takes the GIL back
    (lxml parses without it), tag filter or not; with the Python loop over its events that was an eighth of
    the reading of a mail document (0.033 ms of 0.29 measured, 14 % of the instructions).  This pass feeds
    the parser itself and asks for processing instructions only: one, put behind the XML declaration on the
    same line (line numbers stay), leads to the root.  After each chunk, every top-level element but the last
    is complete: it is handled as the regular pass handles it at its end event, then freed.

    A syntax error, a root other than <database>, a processing instruction of the file's own (which the
    regular pass has the parser drop) or a <databaseinfo> below the top level (which the regular pass reads
    wherever it is) raises :class:`_NotFast`; the regular passes then read the file from its start, and pass
    over the ``handled`` top-level elements this pass has counted, given and freed (``_FileReader.run``).
    """

    def __init__(self, owner: _FileReader) -> None:
        self.owner = owner
        self.diverter = DivertingReader(owner.raw, spool_threshold=owner.threshold, spool_dir=owner.spool_dir)
        self.handler = _Pass(owner, self.diverter, 0, first=True)  # its _on_root and _on_note
        self.handled = 0  # top-level elements the regular pass reports (<databaseinfo>, notes)
        self.marker: Any = None

    def parse(self) -> Iterator[NotesDocument | DocumentError]:
        stats, diverter = self.owner.stats, self.diverter
        self.owner.raw.seek(0)
        try:
            yield from self._parse()
        finally:
            diverter.discard_all()
            stats.bytes_read = max(stats.bytes_read, diverter.bytes_read)

    def _parse(self) -> Iterator[NotesDocument | DocumentError]:
        parser = etree.XMLPullParser(events=("pi",), load_dtd=False, no_network=True, resolve_entities=False,
                                     huge_tree=True, remove_comments=True)
        data = self._first_chunk()
        root: Any = None
        while True:
            self._feed(parser, data)
            if root is None:
                root = self._root()
            if root is not None:
                # while data comes, the last top-level element may be unfinished
                yield from self._handle_complete(root, 1 if data else 0)
            if not data:
                if root is None:
                    raise _NotFast("no root")
                return
            data = self.diverter.read(_FAST_CHUNK)

    def _first_chunk(self) -> bytes:
        data = self.diverter.read(_FAST_CHUNK)
        decl = _XML_DECL_RE.match(data)
        if decl is None:
            raise _NotFast("no XML declaration")
        return data[: decl.end()] + _MARKER + data[decl.end():]

    def _feed(self, parser: Any, data: bytes) -> None:
        try:
            if data:
                parser.feed(data)
            else:
                parser.close()
        except etree.XMLSyntaxError as exc:
            raise _NotFast("a syntax error") from exc
        for _event, pi in parser.read_events():
            if self.marker is not None or pi.target != _MARKER_TARGET or pi.getparent() is not None:
                raise _NotFast("a processing instruction")
            self.marker = pi

    def _root(self) -> Any:
        """The root element, once parsed (read as the regular pass reads it); ``None`` before."""
        root = self.marker.getroottree().getroot() if self.marker is not None else None
        if root is not None:
            if local_name(root.tag) != "database":
                raise _NotFast("the root is not <database>")
            self.handler._on_root(root)
        return root

    def _handle_complete(self, root: Any, last: int) -> Iterator[NotesDocument | DocumentError]:
        """Handle and free the top-level elements before the ``last`` ones."""
        stats = self.owner.stats
        stats.bytes_read = max(stats.bytes_read, self.diverter.bytes_read)
        while len(root) > last:
            el = root[0]
            # each element looked into once, when complete (not the unfinished one after every chunk: that
            # grew with the square of a large element's size); the regular pass would take the replica id
            # of a <databaseinfo> below the top level, before the element around it ends
            for _info in el.iterdescendants("{*}databaseinfo"):
                raise _NotFast("a nested <databaseinfo>")
            local = local_name(el.tag)
            if local == "databaseinfo":
                self.handled += 1
                stats.replica_id = stats.replica_id or (el.get("replicaid") or "").upper() or None
            elif local in _TOP_LEVEL:
                self.handled += 1
                yield from self.handler._on_note(el, local)
            el = None  # no proxy left: the element and its subtree are freed at once
            del root[0]


class _Pass:
    """One iterparse pass over the file (from the start, or from a resynchronisation point)."""

    def __init__(self, owner: _FileReader, diverter: DivertingReader, line_base: int, first: bool,
                 skip: int = 0) -> None:
        self.owner = owner
        self.diverter = diverter
        self.line_base = line_base
        self.first = first
        self.skip = skip  # top-level elements the fast pass handled: passed over, no count, no result
        self.current: Any = None
        self.current_line: int | None = None

    def parse(self) -> Iterator[NotesDocument | DocumentError]:
        stats = self.owner.stats
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
            local = local_name(el.tag)
            parent = el.getparent()
            if local == "databaseinfo":
                if self.skip and parent is root:
                    self.skip -= 1
                else:
                    stats.replica_id = stats.replica_id or (el.get("replicaid") or "").upper() or None
                el.clear(keep_tail=True)
                continue
            if el is root and local == "database":
                break
            if parent is not root and el is not root:
                continue  # a same-named element nested inside a note
            self.current = None
            if self.skip:
                self.skip -= 1
                self._discard_spools(el)  # its attachments were diverted again
            else:
                yield from self._on_note(el, local)
            # Free what was handled: the note, and whatever came before it at the top level.
            el.clear(keep_tail=True)
            if parent is not None:
                while el.getprevious() is not None:
                    del parent[0]
            stats.bytes_read = max(stats.bytes_read, self.diverter.bytes_read)

    def _on_root(self, el: Any) -> None:
        stats = self.owner.stats
        local = local_name(el.tag)
        self.owner.root_tag = local
        self.owner.root_qname = f"{el.prefix}:{local}" if el.prefix else local
        self.owner.root_nsmap = dict(el.nsmap)
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
            doc = build_document(el, local, owner.name, line, stats.replica_id, self.diverter)
            if not doc.unid:
                raise DxlDocumentError("document has no UNID (noteinfo/@unid missing)", line)
            if not UNID_RE.match(doc.unid):
                raise DxlDocumentError(f"UNID {doc.unid!r} is not 32 hexadecimal digits", line)
            first = owner.claim_unid(doc.unid, line or 0)
            if first is not None:
                raise DxlDocumentError(f"duplicate UNID {doc.unid} (first seen at line {first})", line)
        except DxlDocumentError as exc:
            self._discard_spools(el)
            unid, noteid = note_ids(el)
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


