"""Building a :class:`NotesDocument` from one parsed ``<document>`` / ``<note>`` element.

Pure functions over an lxml element (namespace-qualified or not): noteinfo,
updatedby, revisions, every item value type, ``$FILE`` attachments (whose bytes
were spooled by :mod:`notes2m365.spool`), raw item data and NOTEREF lists.
A malformed document raises :class:`DxlDocumentError`; a suspicious value only
adds a warning to the document.

Speed (about 15 items and 8 datetimes per mail document): the usual item values
are built in one step by :func:`_build_item`, without the general dispatch;
``tests/test_reader_fast.py`` checks the reader against the plain one it replaces.
"""

from __future__ import annotations

import copy
import re
import struct
from itertools import islice
from typing import Any

import pybase64
from lxml import etree

from .dxltime import parse_datetime
from .errors import DxlDocumentError
from .model import (
    ITEM_FLAGS,
    Attachment,
    Item,
    MimeContent,
    NotesDateTime,
    NotesDateTimePair,
    NotesDocument,
    RawItemData,
    RichText,
)
from .spool import DivertingReader

UNID_RE = re.compile(r"[0-9A-Fa-f]{32}\Z")  # used with match(): anchored at both ends
_FLAG_SET = frozenset(ITEM_FLAGS)
_NO_FLAGS: frozenset[str] = frozenset()
_FLAGS: dict[tuple[tuple[str, str], ...], frozenset[str]] = {}  # an item's attributes -> its flags
_TAG_LOCAL: dict[str, str] = {}  # "{ns}text" -> "text", filled as tags are met
_WS = b" \t\r\n"


def local_name(tag: Any) -> str:
    """``{ns}name`` or ``name`` to ``name``; ``""`` for comments, PIs and entities."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2] if tag[0] == "{" else tag


def _local_of(tag: str) -> str:
    """``local_name`` of an element's tag, remembered in :data:`_TAG_LOCAL`."""
    name = tag.rpartition("}")[2]
    if len(_TAG_LOCAL) < 256:  # bounded: hostile input may invent any number of tag names
        _TAG_LOCAL[tag] = name
    return name


def note_ids(el: Any) -> tuple[str | None, str | None]:
    """UNID and note id of a (possibly partial) note element, best effort."""
    try:
        for child in el:
            if local_name(child.tag) == "noteinfo":
                return child.get("unid"), child.get("noteid")
    except Exception:  # partial trees after a syntax error: best effort only
        pass
    return None, None


def build_document(el: Any, local: str, file: str, line: int | None, replica_id: str | None, diverter: DivertingReader) -> NotesDocument:
    doc = NotesDocument(file=file, line=line or 0, unid=None, replica_id=replica_id)
    doc.element = "note" if local == "note" else "document"
    # One items() call instead of four get() calls (each get() re-validates its key); a plain dict
    # lookup sees, like get(), only the attributes without a namespace.
    attrs = dict(el.items())
    doc.form = attrs.get("form")
    parent = attrs.get("parent")
    if parent:
        doc.parent_unid = parent.upper()
    doc.response = attrs.get("response") == "true"
    doc.conflict = attrs.get("conflict") == "true"
    special: dict[str, Item] = {}
    tag_local = _TAG_LOCAL
    items = doc.items
    # getchildren() builds every child proxy in one C call (about half the cost of iterating the
    # element); it yields exactly what iterating would: elements, comments, PIs and entities.
    for child in el.getchildren():
        tag = child.tag
        if tag.__class__ is not str:
            if isinstance(child, etree._Entity):
                raise DxlDocumentError(f"entity reference {child.text} is not allowed in DXL", child.sourceline)
            continue
        name = tag_local.get(tag) or _local_of(tag)
        if name == "item":
            item = _build_item(child, doc, diverter)
            items.append(item)
            iname = item.name
            if iname[:1] in ("$", "F", "f"):  # Form, $REF, $Revisions: remembered as they pass (first one wins)
                special.setdefault(iname.lower(), item)
        elif name == "noteinfo":
            _noteinfo(child, doc)
        elif name == "updatedby":
            doc.updated_by = [_plain_text(n) for n in child.getchildren() if _local_is(n.tag, "name")]
        elif name == "revisions":
            doc.revisions = [parse_datetime(_plain_text(d), d.get("dst") == "true")
                             for d in child.getchildren() if _local_is(d.tag, "datetime")]
        elif name == "mime":
            doc.mime = MimeContent(_plain_text(child))
    if doc.form is None:
        form = special.get("form")
        if form is not None and form.values:
            doc.form = str(form.values[0])
    if doc.parent_unid is None:
        ref = special.get("$ref")
        if ref is not None:
            if ref.raw is not None and ref.raw.unids:
                doc.parent_unid = ref.raw.unids[0]
            elif ref.values and isinstance(ref.values[0], str) and UNID_RE.match(ref.values[0]):
                doc.parent_unid = ref.values[0].upper()
    if not doc.revisions:
        revs = special.get("$revisions")
        if revs is not None:
            doc.revisions = [v for v in revs.values if isinstance(v, NotesDateTime)]
    return doc


def _local_is(tag: Any, name: str) -> bool:
    """``local_name(tag) == name``, with the element tags looked up in :data:`_TAG_LOCAL`."""
    if tag.__class__ is not str:
        return False
    return (_TAG_LOCAL.get(tag) or _local_of(tag)) == name


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
    for child in el.getchildren():
        tag = child.tag
        which = (_TAG_LOCAL.get(tag) or _local_of(tag)) if tag.__class__ is str else ""
        if which in _NOTEINFO_DATES:
            value = _datetime(child[0], doc, which, "noteinfo/") if len(child) else None
            setattr(doc, which, value)


_new = object.__new__


def _item(name: str, vtype: str, values: list[Any], flags: frozenset[str], richtext: RichText | None = None) -> Item:
    """``Item(name, vtype, values, flags, richtext)``, built without the dataclass ``__init__``.

    A document has fifteen or so items; setting the seven slots directly costs about half as much.
    Every slot is set (an unset slot would raise on reading).
    """
    item = _new(Item)
    item.name = name
    item.type = vtype  # type: ignore[assignment]
    item.values = values
    item.flags = flags
    item.richtext = richtext
    item.attachment = None
    item.raw = None
    return item


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


_NOTEINFO_DATES = frozenset({"created", "modified", "revised", "lastaccessed", "addedtofile"})


def _datetime(el: Any, doc: NotesDocument, where: str, prefix: str = "") -> NotesDateTime:
    # = parse_datetime(_plain_text(el), el.get("dst") == "true"), cheaper: get() validates its key each call,
    # and most <datetime>s have no attribute at all (len(attrib) is 0 for entities too, whose get() is None).
    value = parse_datetime((el.text or "") if not len(el) else _plain_text(el),
                           el.get("dst") == "true" if len(el.attrib) else False)
    if value.kind == "invalid":
        doc.warnings.append(f"{prefix}{where}: invalid date/time {value.raw!r} (line {el.sourceline})")
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
    name = el.get("name")
    if name is None:
        raise DxlDocumentError("an <item> has no name attribute", el.sourceline)
    if len(el.attrib) > 1:  # hot path: most items carry only their name
        attrs = tuple(el.items())
        flags = _FLAGS.get(attrs)  # type: ignore[assignment]
        if flags is None:
            flags = frozenset(k for k, v in attrs if v == "true" and k in _FLAG_SET)
            if len(_FLAGS) < 1024:  # bounded: the same few combinations recur (name, names='true'...)
                _FLAGS[attrs] = flags
    else:
        flags = _NO_FLAGS
    if not len(el):
        return _item(name, "empty", [], flags)
    value_el = el[0]  # indexing is cheaper than an iterator: usually the value comes first
    tag = value_el.tag  # read once: each read builds the "{namespace}name" string anew
    if tag.__class__ is not str:
        value_el = None
        for child in el:
            tag = child.tag
            if tag.__class__ is str:
                value_el = child
                break
            if isinstance(child, etree._Entity):
                raise DxlDocumentError(f"entity reference {child.text} is not allowed in DXL", child.sourceline)
        if value_el is None:
            return _item(name, "empty", [], flags)
    vtype = _TAG_LOCAL.get(tag) or _local_of(tag)
    # The usual values, built in one go; each equals what the general code below builds.
    if vtype == "text":
        return _item(name, "text", [_plain_text(value_el)], flags)
    if vtype == "textlist":
        return _item(name, "textlist", [_plain_text(t) for t in value_el.getchildren() if t.tag.__class__ is str], flags)
    if not len(value_el):
        if vtype == "datetime":
            return _item(name, "datetime", [_datetime(value_el, doc, name)], flags)
        if vtype == "number":
            n = _number(value_el.text or "", doc, name, value_el.sourceline)
            return _item(name, "number", [] if n is None else [n], flags)
    elif vtype in _LEAF_VALUES:
        _no_entities(value_el)  # their text is read from .text: a child would be silently cut off
    if vtype == "richtext":
        return _item(name, "richtext", [], flags, RichText(_detached(value_el)))
    item = Item(name, "empty", [], flags)
    if vtype == "number":
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
            kind = local_name(d.tag)
            if kind == "datetime":
                item.values.append(_datetime(d, doc, name))
            elif kind == "datetimepair":
                pair = [_datetime(x, doc, name) for x in d if local_name(x.tag) == "datetime"]
                if len(pair) == 2:
                    item.values.append(NotesDateTimePair(pair[0], pair[1]))
                else:
                    doc.warnings.append(f"{name}: datetimepair without two datetimes (line {d.sourceline})")
    elif vtype == "object":
        item.type = "object"
        file_el = next((f for f in value_el if local_name(f.tag) == "file"), None)
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


_LEAF_VALUES = frozenset({"number", "rawitemdata", "itemdata", "datetime"})
#: Rich text of more elements than this is copied out of its document rather than moved (below).
_MOVE_LIMIT = 256


def _detached(value_el: Any) -> Any:
    """A rich-text element on its own, to survive the clearing of the document element.

    Moving it out (``remove``) makes lxml fix the namespace of every element below it, at a cost that grows
    with the square of their number: a 1 MiB body took 0.9 s of CPU, 4 MiB 14 s.  A copy is linear (4 MiB:
    0.12 s) but costs more for a short body (8 us against 3 for three paragraphs; even at 200 paragraphs),
    so a body of up to ``_MOVE_LIMIT`` elements is moved, a larger one copied.
    """
    if next(islice(value_el.iter(), _MOVE_LIMIT, None), None) is None:
        value_el.getparent().remove(value_el)
        return value_el
    return copy.deepcopy(value_el)


def _no_entities(el: Any) -> None:
    for child in el.iter():
        if isinstance(child, etree._Entity):
            raise DxlDocumentError(f"entity reference {child.text} is not allowed in DXL", child.sourceline)


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
        which = local_name(child.tag)
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
                # Not diverted (a UTF-16 file, whose bytes the scanner cannot see): decode the text.
                spool = diverter.spool_text(token)
            if spool is not None and spool.error:
                spool.close()
                raise DxlDocumentError(f"attachment {name!r}: {spool.error}", child.sourceline)
    declared = file_el.get("size")
    declared_size = int(declared) if declared and declared.isascii() and declared.isdigit() else None
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
