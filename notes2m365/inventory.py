"""The inventory behind ``notes2m365 inspect``: what a set of DXL files holds, per file and in total.

It is fed converted documents (the same conversion a migration runs) and
document errors, and keeps only counters, so its memory does not grow with the
number of documents.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from collections.abc import Callable

from .convert import ConvertedDocument, ProgressCallback, iter_converted
from .dxl import ReadStats
from .model import DocumentError, NotesDateTime

#: How many warnings are kept verbatim per file (all are counted).
WARNINGS_KEPT = 200


@dataclass(slots=True)
class _FormItems:
    documents: int = 0
    items: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    present: Counter[str] = field(default_factory=Counter)


@dataclass
class Inventory:
    """Counters for one file or for the whole input."""

    name: str
    documents: int = 0
    by_form: Counter[str] = field(default_factory=Counter)
    design_notes: Counter[str] = field(default_factory=Counter)
    responses: int = 0
    attachment_count: int = 0
    attachment_bytes: int = 0
    largest_attachment: tuple[int, str, str] | None = None  # size, name, unid
    ole_objects: int = 0
    inline_images: int = 0
    features: Counter[str] = field(default_factory=Counter)
    forms: dict[str, _FormItems] = field(default_factory=lambda: defaultdict(_FormItems))
    readers_documents: int = 0
    authors_documents: int = 0
    readers_names: Counter[str] = field(default_factory=Counter)
    sealed_items: Counter[str] = field(default_factory=Counter)
    encrypted_documents: int = 0
    signed_documents: int = 0
    created_min: str | None = None
    created_max: str | None = None
    modified_min: str | None = None
    modified_max: str | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)
    warning_count: int = 0
    errors: list[DocumentError] = field(default_factory=list)
    file_info: dict[str, Any] = field(default_factory=dict)

    # -- feeding --------------------------------------------------------------------------
    def add(self, conv: ConvertedDocument) -> None:
        doc = conv.doc
        form = doc.form or "(no form)"
        self.documents += 1
        self.by_form[form] += 1
        if doc.parent_unid or doc.response:
            self.responses += 1
        self._range("created", doc.created)
        self._range("modified", doc.modified)
        self.ole_objects += sum(1 for att in doc.attachments if att.is_ole_storage)
        for att in conv.attachments:
            self.attachment_count += 1
            self.attachment_bytes += att.size
            if self.largest_attachment is None or att.size > self.largest_attachment[0]:
                self.largest_attachment = (att.size, att.name, doc.unid or "")
        if conv.message is not None:
            for a in conv.message.attachments:
                self.attachment_count += 1
                self.attachment_bytes += len(a.data)
        self.inline_images += len(conv.inline_images)
        self.features.update(conv.features)
        stats = self.forms[form]
        stats.documents += 1
        readers = authors = signed = False
        seen: set[str] = set()
        for item in doc.items:
            stats.items[item.name][item.type] += 1
            if item.name not in seen:
                seen.add(item.name)
                stats.present[item.name] += 1
            flags = item.flags
            if flags:
                if "readers" in flags:
                    readers = True
                    for v in item.values:
                        if v != "":
                            self.readers_names[str(v)] += 1
                if "authors" in flags:
                    authors = True
                if "sealed" in flags or "seal" in flags:
                    self.sealed_items[item.name] += 1
                if "sign" in flags:
                    signed = True
        self.readers_documents += readers
        self.authors_documents += authors
        self.signed_documents += signed
        if conv.features.get("encrypted"):
            self.encrypted_documents += 1
        for w in conv.warnings:
            self.warning_count += 1
            if len(self.warnings) < WARNINGS_KEPT:
                self.warnings.append({"file": doc.file, "line": doc.line, "unid": doc.unid, "message": w})

    def add_error(self, error: DocumentError) -> None:
        self.errors.append(error)

    def add_stats(self, stats: ReadStats) -> None:
        """The file-level facts: header, skipped design notes, file warnings."""
        self.design_notes.update(stats.design_notes)
        self.file_info.update({
            "root": stats.root, "dxl_version": stats.version, "replica_id": stats.replica_id, "title": stats.title,
            "database_path": stats.path, "bytes": stats.bytes_total, "resynchronised": stats.resyncs,
        })
        for w in stats.file_warnings:
            self.warning_count += 1
            if len(self.warnings) < WARNINGS_KEPT:
                self.warnings.append({"file": stats.file, "line": None, "unid": None, "message": w})

    def merge(self, other: Inventory) -> None:
        """Add a file's counters into this total."""
        self.documents += other.documents
        self.by_form.update(other.by_form)
        self.design_notes.update(other.design_notes)
        self.responses += other.responses
        self.attachment_count += other.attachment_count
        self.attachment_bytes += other.attachment_bytes
        if other.largest_attachment and (not self.largest_attachment or other.largest_attachment[0] > self.largest_attachment[0]):
            self.largest_attachment = other.largest_attachment
        self.ole_objects += other.ole_objects
        self.inline_images += other.inline_images
        self.features.update(other.features)
        for form, fs in other.forms.items():
            mine = self.forms[form]
            mine.documents += fs.documents
            mine.present.update(fs.present)
            for name, types in fs.items.items():
                mine.items[name].update(types)
        self.readers_documents += other.readers_documents
        self.authors_documents += other.authors_documents
        self.readers_names.update(other.readers_names)
        self.sealed_items.update(other.sealed_items)
        self.encrypted_documents += other.encrypted_documents
        self.signed_documents += other.signed_documents
        for key in ("created", "modified"):
            for bound in ("min", "max"):
                self._range(key, getattr(other, f"{key}_{bound}"))
        self.warning_count += other.warning_count
        self.warnings.extend(other.warnings[: max(0, WARNINGS_KEPT - len(self.warnings))])
        self.errors.extend(other.errors)

    def _range(self, key: str, value: NotesDateTime | str | None) -> None:
        if value is None:
            return
        text = value if isinstance(value, str) else _sortable(value)
        if text is None:
            return
        lo, hi = getattr(self, f"{key}_min"), getattr(self, f"{key}_max")
        if lo is None or text < lo:
            setattr(self, f"{key}_min", text)
        if hi is None or text > hi:
            setattr(self, f"{key}_max", text)

    # -- output ---------------------------------------------------------------------------
    def as_json(self) -> dict[str, Any]:
        largest = None
        if self.largest_attachment:
            size, name, unid = self.largest_attachment
            largest = {"name": name, "size": size, "unid": unid}
        return {
            "documents": self.documents,
            "by_form": dict(sorted(self.by_form.items())),
            "design_notes_skipped": sum(self.design_notes.values()),
            "design_notes": dict(sorted(self.design_notes.items())),
            "responses": self.responses,
            "date_range": {
                "created": [self.created_min, self.created_max],
                "modified": [self.modified_min, self.modified_max],
            },
            "attachments": {"count": self.attachment_count, "bytes": self.attachment_bytes, "largest": largest},
            "ole_objects": self.ole_objects,
            "inline_images": self.inline_images,
            "richtext_features": dict(sorted(self.features.items())),
            "forms": {
                form: {
                    "documents": fs.documents,
                    "items": {
                        name: {
                            "types": dict(sorted(types.items())),
                            "fill_rate": round(fs.present[name] / fs.documents, 4) if fs.documents else 0.0,
                        }
                        for name, types in sorted(fs.items.items())
                    },
                }
                for form, fs in sorted(self.forms.items())
            },
            "security": {
                "documents_with_readers": self.readers_documents,
                "documents_with_authors": self.authors_documents,
                "reader_names": dict(self.readers_names.most_common(50)),
                "signed_documents": self.signed_documents,
                "encrypted_documents": self.encrypted_documents,
                "seal_flagged_items": dict(sorted(self.sealed_items.items())),
            },
            "warnings": {"count": self.warning_count, "first": self.warnings},
            "errors": [e.as_dict() for e in self.errors],
            **({"file": self.file_info} if self.file_info else {}),
        }


def _sortable(value: NotesDateTime) -> str | None:
    """ISO text comparable across offsets (UTC for aware datetimes)."""
    import datetime as dt

    v = value.value
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.timezone.utc)
        return v.strftime("%Y-%m-%dT%H:%M:%SZ" if value.value.tzinfo else "%Y-%m-%dT%H:%M:%S")  # type: ignore[union-attr]
    if isinstance(v, dt.date):
        return v.isoformat()
    return None


def inspect_file(path: str, spool_dir: str | None = None,
                 on_error: Callable[[DocumentError], None] | None = None,
                 progress: ProgressCallback | None = None) -> Inventory:
    """Read and convert every document of one file into its inventory."""
    inv = Inventory(path, file_info={"path": path})
    for _path, _stats, result, conv in iter_converted(
        [path], progress=progress, on_file_done=inv.add_stats, spool_dir=spool_dir
    ):
        if conv is None:
            assert isinstance(result, DocumentError)
            inv.add_error(result)
            if on_error is not None:
                on_error(result)
        else:
            inv.add(conv)
    return inv


def inspect_files(
    files: list[str],
    *,
    jobs: int = 1,
    progress: ProgressCallback | None = None,
    on_error: Callable[[DocumentError], None] | None = None,
    spool_dir: str | None = None,
) -> tuple[Inventory, list[Inventory]]:
    """Read and convert every document of ``files``: the total and one inventory per file.

    With ``jobs`` > 1 the files are inspected in that many worker processes
    (one file per process at a time); errors are then reported once each file
    is done, and the result is the same as with one process.
    """
    per_file: list[Inventory] = []
    if jobs > 1 and len(files) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(jobs, len(files))) as pool:
            futures = [pool.submit(inspect_file, path, spool_dir) for path in files]
            done_bytes = 0
            for future in futures:  # in input order: deterministic output
                inv = future.result()
                for err in inv.errors:
                    if on_error is not None:
                        on_error(err)
                per_file.append(inv)
                done_bytes += int(inv.file_info.get("bytes") or 0)
                if progress is not None:
                    progress(ReadStats(file=inv.name), done_bytes)
    else:
        base = 0
        for path in files:
            def file_progress(stats: ReadStats, _base: int, offset: int = base) -> None:
                if progress is not None:
                    progress(stats, offset)
            inv = inspect_file(path, spool_dir, on_error, file_progress)
            per_file.append(inv)
            base += int(inv.file_info.get("bytes") or 0)
    total = Inventory("total")
    for inv in per_file:
        total.merge(inv)
    return total, per_file
