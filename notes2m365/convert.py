"""What a document becomes: rich text as HTML, MIME as a message, attachments hashed, JSON.

``convert_document`` is the conversion every later stage (inspect, plan,
migrate, verify) runs on a :class:`NotesDocument`.  It is pure: the same
document gives the same result, byte for byte once serialized.
"""

from __future__ import annotations

import logging
from html import escape
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import DxlFileError
from .model import Attachment, DocumentError, Item, NotesDateTime, NotesDateTimePair, NotesDocument
from .richtext import InlineImage, RenderedRichText, render_raw_richtext, render_richtext

# The reader and MIME decoding (with the email package) are imported where they are used: a migration whose
# sources are planned in worker processes reads no DXL itself (the reader costs it 15 ms of CPU to load), and a
# planning worker of Notes mail without MIME decodes none (40 ms).  Not rich text: an import in a function
# costs 3 us a call, and every document is rendered.
if TYPE_CHECKING:
    from .dxl import ReadStats
    from .mime import MessageSummary

log = logging.getLogger(__name__)

#: rawitemdata TYPE_COMPOSITE: rich text exported as CD records.
TYPE_COMPOSITE = 0x1
#: Items holding encrypted data of a sealed document.
SEAL_ITEMS = ("$Seal", "$SealData", "$Seal2")
_SEAL_NAMES = frozenset(n.lower() for n in SEAL_ITEMS)


@dataclass(slots=True)
class ConvertedDocument:
    """A document with its rich text rendered, its MIME decoded and its warnings collected."""

    doc: NotesDocument
    richtext: list[RenderedRichText] = field(default_factory=list)
    message: MessageSummary | None = None
    warnings: list[str] = field(default_factory=list)
    features: Counter[str] = field(default_factory=Counter)
    mime_files: list[str] = field(default_factory=list)  # $FILE objects that hold MIME part bodies

    @property
    def inline_images(self) -> list[InlineImage]:
        return [img for rt in self.richtext for img in rt.images]

    @property
    def attachments(self) -> list[Attachment]:
        """User attachments: OLE object storage and $FILEs holding MIME part bodies excluded."""
        return [a for a in self.doc.attachments if not a.is_ole_storage and a.name not in self.mime_files]

    def html(self) -> str:
        """Every rich-text item, ``Body`` first, each in a ``<div data-item>``; or the MIME body, sanitized."""
        parts = [rt.html for rt in self.richtext]
        if not parts and self.message is not None:
            if self.message.html is not None:
                from .htmlsafe import sanitize_html

                return sanitize_html(self.message.html)
            if self.message.text is not None:
                return f'<div data-item="Body" data-source="mime"><pre>{escape(self.message.text)}</pre></div>'
        return "\n".join(parts)

    def as_json(self) -> dict[str, Any]:
        return document_json(self)


#: Raw composite items that are page/form styling, not content (jnx-dollarfonts.xml).
NON_CONTENT_COMPOSITES = frozenset({"localstylesheet"})


def _is_raw_richtext(item: Item) -> bool:
    """Rich text exported as CD records; ``$``-items (``$Fonts``...) hold design data, not content."""
    return (item.raw is not None and item.raw.type_code == TYPE_COMPOSITE and not item.raw.legacy
            and not item.name.startswith("$") and item.name.lower() not in NON_CONTENT_COMPOSITES)


def convert_document(doc: NotesDocument) -> ConvertedDocument:
    """Render rich text, decode MIME and collect warnings for one document."""
    out = ConvertedDocument(doc)
    out.warnings.extend(doc.warnings)
    # one pass over the items (a mail has about twenty): rich text, attachments, MIME and seal items
    by_name: dict[str, Attachment] = {}
    rich_items: list[Item] = []
    raw_mime = sealed = False
    for i in doc.items:
        if i.attachment is not None:
            by_name[i.attachment.name] = i.attachment
        raw = i.raw
        if i.richtext is not None or (raw is not None and _is_raw_richtext(i)):
            rich_items.append(i)
        if raw is not None and raw.type_code in (0x19, 0x502):
            raw_mime = True
        if not sealed and i.name.startswith("$") and i.name.lower() in _SEAL_NAMES:  # every seal name has a $
            sealed = True
    if len(rich_items) > 1:
        rich_items.sort(key=lambda i: 0 if i.name.lower() == "body" else 1)  # stable: Body first, then file order
    for item in rich_items:
        if item.richtext is not None:
            rendered = render_richtext(item.richtext.element, item_name=item.name, attachments=by_name)
            out.features["richtext"] += 1
        else:
            assert item.raw is not None
            rendered = render_raw_richtext(item.raw.data, item_name=item.name)
        out.richtext.append(rendered)
        if rendered.features:
            out.features.update(rendered.features)
        if rendered.warnings:
            out.warnings.extend(f"{item.name}: {w}" for w in rendered.warnings)
    if doc.mime is not None or raw_mime:
        from .mime import assemble_message, message_parts

        build = assemble_message(doc)
        if build is not None:
            out.message = message_parts(build.message, list(build.warnings))
            out.mime_files = list(build.used_files)
            out.features["mime"] += 1
            out.warnings.extend(f"MIME: {w}" for w in out.message.warnings)
    if sealed:
        out.features["encrypted"] += 1
        out.warnings.append("the document is encrypted: encrypted items cannot be read from DXL")
    return out


ProgressCallback = Callable[["ReadStats", int], None]


def iter_converted(
    files: list[str],
    *,
    progress: ProgressCallback | None = None,
    on_file_done: Callable[[ReadStats], None] | None = None,
    spool_dir: str | None = None,
) -> Iterator[tuple[str, ReadStats, NotesDocument | DocumentError, ConvertedDocument | None]]:
    """Read and convert every document of every file, in order; problems come through as records.

    Yields ``(file, stats, document, converted)`` for each document and
    ``(file, stats, error, None)`` for each document that could not be read or
    converted.  ``progress(stats, bytes_of_earlier_files)`` is called as it goes,
    ``on_file_done(stats)`` once a file has been read to its end.
    """
    from .dxl import ReadStats, iter_dxl

    base = 0
    for path in files:
        stats = ReadStats(file=path)
        try:
            for result in iter_dxl(path, stats=stats, spool_dir=spool_dir):
                if isinstance(result, DocumentError):
                    yield path, stats, result, None
                else:
                    try:
                        conv = convert_document(result)
                    except Exception as exc:  # a converter bug must not stop the run: report it, go on
                        log.debug("conversion of %s failed", result.unid, exc_info=True)
                        stats.errors += 1
                        err = DocumentError(path, result.line, result.unid,
                                            f"conversion failed: {type(exc).__name__}: {exc}", noteid=result.noteid)
                        yield path, stats, err, None
                        continue
                    yield path, stats, result, conv
                if progress is not None:
                    progress(stats, base)
        except DxlFileError as exc:
            stats.errors += 1
            yield path, stats, DocumentError(path, exc.line, None, exc.message, fatal=True), None
        if progress is not None:
            progress(stats, base)
        if on_file_done is not None:
            on_file_done(stats)
        base += stats.bytes_total


# -- JSON ------------------------------------------------------------------------------------


def _dt(value: NotesDateTime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _value_json(value: Any) -> Any:
    if isinstance(value, NotesDateTime):
        return value.isoformat() if value.kind != "invalid" else {"invalid": value.raw}
    if isinstance(value, NotesDateTimePair):
        return {"start": _value_json(value.start), "end": _value_json(value.end)}
    return value


def attachment_json(att: Attachment) -> dict[str, Any]:
    return {
        "name": att.name,
        "size": att.size,
        "sha256": att.sha256,
        "created": _dt(att.created),
        "modified": _dt(att.modified),
        "hosttype": att.hosttype,
        "ole_storage": att.is_ole_storage,
    }


def _item_json(item: Item, html_by_item: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {"name": item.name, "type": item.type}
    if item.flags:
        data["flags"] = sorted(item.flags)
    if item.richtext is not None or _is_raw_richtext(item):
        data["html"] = html_by_item.get(item.name.lower())
    if item.attachment is not None:
        data["attachment"] = item.attachment.name
    if item.raw is not None:
        data["raw_type"] = f"0x{item.raw.type_code:x}"
        data["raw_size"] = len(item.raw.data)
        if item.raw.unids:
            data["unids"] = list(item.raw.unids)
    if item.type not in ("richtext", "object", "rawitemdata", "itemdata"):
        data["values"] = [_value_json(v) for v in item.values]
    return data


def document_json(conv: ConvertedDocument) -> dict[str, Any]:
    """The normalized document: typed items, ISO 8601 datetimes, attachments with sha256, HTML."""
    doc = conv.doc
    html_by_item: dict[str, str] = {}
    for rt in conv.richtext:
        html_by_item.setdefault(rt.item_name.lower(), rt.html)
    data: dict[str, Any] = {
        "key": doc.key,
        "unid": doc.unid,
        "noteid": doc.noteid,
        "sequence": doc.sequence,
        "form": doc.form,
        "source": {"file": doc.file, "line": doc.line, "element": doc.element},
        "parent_unid": doc.parent_unid,
        "response": doc.response,
        "conflict": doc.conflict,
        "created": _dt(doc.created),
        "modified": _dt(doc.modified),
        "revised": _dt(doc.revised),
        "lastaccessed": _dt(doc.lastaccessed),
        "addedtofile": _dt(doc.addedtofile),
        "updated_by": doc.updated_by,
        "revisions": [_dt(r) for r in doc.revisions],
        "items": [_item_json(i, html_by_item) for i in doc.items],
        "attachments": [attachment_json(a) for a in doc.attachments],
        "inline_images": [
            {"content_id": img.content_id, "filename": img.filename, "content_type": img.content_type,
             "size": img.size, "sha256": img.sha256}
            for img in conv.inline_images
        ],
        "warnings": conv.warnings,
    }
    if conv.message is not None:
        data["mime"] = conv.message.as_json()
    return data
