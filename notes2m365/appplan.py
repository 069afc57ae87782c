"""Planning an application source: Notes documents to one SharePoint list or document library.

Pure and deterministic: :func:`plan_application` turns converted documents,
an :class:`~notes2m365.mapping.AppMapping` and the identity map into
operations — the list with its columns, one list item (or library file) per
document, one library file per attachment — and the issues the plan summary
reports.  Values are converted to their column's type here, so that a value
SharePoint would refuse shows up in the plan as a warning, not as a failed
request during the migration.

Person columns carry ``{"@person": [addresses]}``: SharePoint wants site-local
user ids (``<Col>LookupId``, graph-semantics §5.2) that exist only at run time.
"""

from __future__ import annotations

import ast
import hashlib
import html
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from .convert import ConvertedDocument
from .job import Filters
from .expr import ExpressionValueError, _number, _text
from .mapping import AppMapping, Column
from .model import DocumentError, NotesDateTime, NotesDateTimePair, NotesDocument
from .operations import LINKS_KEY, ContentRef, Operation, PlanIssues, source_key

SINGLE_LINE_LIMIT = 255  # single-line text columns (graph-semantics §5.4)
SYSTEM_ITEMS = {"form", "$ref", "$file", "$revisions", "$updatedby", "$fonts", "$conflict", "$readers",
                "$authors", "readers", "authors", "docauthors", "docreaders", "abrfrom", "docversion", "$abstract"}
INVALID_NAME_CHARS = set('"*:<>?/\\|')
RESERVED_NAMES = {".lock", "con", "prn", "aux", "nul", "desktop.ini", *(f"com{n}" for n in range(10)),
                  *(f"lpt{n}" for n in range(10))}
MAX_PATH = 400  # a decoded SharePoint path (graph-semantics §6)
TRUE_WORDS = {"1", "yes", "y", "true", "ja", "oui", "si", "on", "x"}


@dataclass
class ApplicationPlan:
    operations: list[Operation] = field(default_factory=list)
    issues: PlanIssues = field(default_factory=PlanIssues)
    documents: Counter[str] = field(default_factory=Counter)  # mapped documents per form


def _utc(value: NotesDateTime | None) -> str | None:
    if value is None or value.value is None:
        return None
    v = value.value
    if isinstance(v, datetime):
        v = v if v.tzinfo else v.replace(tzinfo=UTC)
        return v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, date):
        return f"{v.isoformat()}T00:00:00Z"
    return None


def _referenced_items(mapping: AppMapping) -> set[str]:
    """Item names a mapping reads (``from`` and ``item('X')``/``text('X')``/``has('X')`` in expressions)."""
    names = {c.source.lower() for c in mapping.columns if c.source}
    exprs = [c.expr for c in mapping.columns if c.expr] + ([mapping.condition] if mapping.condition else [])
    for expr in exprs:
        for node in ast.walk(expr.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("item", "text", "has") \
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                names.add(node.args[0].value.lower())
    return names


class _Document:
    """Item lookup for one document: values as expressions and columns see them."""

    def __init__(self, conv: ConvertedDocument) -> None:
        self.conv, self.doc = conv, conv.doc
        self.html = {rt.item_name.lower(): rt.html for rt in conv.richtext}

    def lookup(self, name: str) -> Any:
        doc = self.doc
        if name.lower() == "$ref":
            return source_key(doc.replica_id, doc.parent_unid) if doc.parent_unid else None
        if name.lower() in self.html:
            return self.html[name.lower()]
        item = doc.get(name)
        if item is None or not item.values:
            return None
        values: list[Any] = []
        for v in item.values:
            if isinstance(v, NotesDateTime):
                values.append(_utc(v))
            elif isinstance(v, NotesDateTimePair):
                values.append(_utc(v.start))
            else:
                values.append(v)
        return values if len(values) > 1 or item.type.endswith("list") else values[0]


def readers_of(doc: NotesDocument) -> list[str]:
    """The names in the document's Readers fields (empty: everyone with access to the database reads it)."""
    return [str(v).strip() for item in doc.items if "readers" in item.flags for v in item.values if str(v).strip()]


def list_key_of(site: str, mapping: AppMapping) -> str:
    """A list is keyed by where it goes, not by a database: several databases of one source share it."""
    return f"#list/{site}/{mapping.list_name}"


def _utf16_length(text: str) -> int:
    """SharePoint counts UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def _cut_utf16(text: str, limit: int) -> str:
    out, used = [], 0
    for ch in text:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            break
        out.append(ch)
    return "".join(out)


def sharepoint_file_name(name: str, taken: set[str]) -> str:
    """A name SharePoint accepts (support article "Restrictions and limitations in OneDrive and SharePoint",
    graph-semantics §6), unique in its folder regardless of case; ``taken`` holds the case-folded names used."""
    clean = "".join("_" if ch in INVALID_NAME_CHARS or ord(ch) < 32 else ch for ch in name).strip(" ")
    clean = clean.replace("_vti_", "_vti-") or "file"
    if clean.startswith("~$"):
        clean = "_" + clean[1:]
    stem, dot, ext = clean.rpartition(".") if "." in clean.lstrip(".") else (clean, "", "")
    if stem.lower() in RESERVED_NAMES or clean.lower() in RESERVED_NAMES:
        stem, clean = "_" + stem, "_" + clean
    candidate, n = clean, 1
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{stem} ({n}){dot}{ext}"
    taken.add(candidate.casefold())
    return candidate


def _convert(column: Column, value: Any, identity: Any, warn: list[str]) -> Any:
    """``value`` as ``column`` takes it; None (and a warning) when it cannot be."""
    if value is None or value == "" or value == []:
        return None
    many = value if isinstance(value, list) else [value]
    kind = column.type
    if len(many) > 1 and not column.multi and kind not in ("text", "note", "richtext"):
        warn.append(f"{column.name}: kept the first of {len(many)} values (the column holds one)")
        many = many[:1]
    if kind in ("text", "note"):
        text = ("; " if kind == "text" else "\n").join(_text(v) for v in many if v is not None)
        if kind == "text" and _utf16_length(text) > SINGLE_LINE_LIMIT:
            warn.append(f"{column.name}: text cut to {SINGLE_LINE_LIMIT} characters (was {_utf16_length(text)})")
            text = _cut_utf16(text, SINGLE_LINE_LIMIT)
        return text
    if kind == "richtext":
        text = _text(value)
        return text if text.lstrip().startswith("<") else "<p>" + html.escape(text).replace("\n", "<br/>") + "</p>"
    if kind == "number":
        number = _number(value)
        if number is None:
            warn.append(f"{column.name}: {_text(value)!r} is not a number")
        return number
    if kind == "dateTime":
        text = _text(many[0])
        if len(text) == 10:
            text += "T00:00:00Z"
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            warn.append(f"{column.name}: {text!r} is not a date and time")
            return None
        return text
    if kind == "boolean":
        return _text(many[0]).strip().lower() in TRUE_WORDS if not isinstance(many[0], bool) else many[0]
    if kind == "choice":
        chosen = [_text(v) for v in many if _text(v)]
        if column.choices and not column.fill_in:
            allowed = {c.lower(): c for c in column.choices}
            bad = [c for c in chosen if c.lower() not in allowed]
            if bad:
                warn.append(f"{column.name}: {bad[0]!r} is not one of the choices")
            chosen = [allowed[c.lower()] for c in chosen if c.lower() in allowed]
        if not chosen:
            return None
        return chosen if column.multi else chosen[0]
    if kind == "person":
        addresses = []
        for name in many:
            resolution = identity.resolve(_text(name))
            if resolution.address:
                addresses.append(resolution.address)
            else:
                warn.append(f"{column.name}: {_text(name)!r} is not mapped to an account ({resolution.kind})")
        if not addresses:
            return None
        return {"@person": addresses if column.multi else addresses[:1]}
    if kind == "hyperlink":
        url = _text(many[0]).strip()
        if not url.lower().startswith(("http://", "https://", "mailto:")):
            warn.append(f"{column.name}: {url!r} is not a link")
            return None
        return {"Url": url, "Description": url}
    raise AssertionError(kind)


def _filtered_out(doc: NotesDocument, form: str, filters: Filters | None) -> bool:
    """The job's filters: forms to include or exclude, and a date range on the creation date."""
    if filters is None:
        return False
    if filters.forms and form.lower() not in {f.lower() for f in filters.forms}:
        return True
    if form.lower() in {f.lower() for f in filters.exclude_forms}:
        return True
    created = _utc(doc.created)
    day = date.fromisoformat(created[:10]) if created else None
    if day is not None and ((filters.since and day < filters.since) or (filters.until and day > filters.until)):
        return True
    return False


def _plan_document(plan: ApplicationPlan, entry: ConvertedDocument, site: str, mapping: AppMapping, identity: Any,
                   filters: Filters | None, referenced: set[str], keys_planned: set[str],
                   seen_choices: dict[str, set[str]], list_container: str, source_file: str | None) -> str | None:
    """Plan one document; its key, or None when it is left out (and counted)."""
    issues = plan.issues
    doc = entry.doc
    form = doc.form or "(no form)"
    if _filtered_out(doc, form, filters):
        issues.left_out["filtered out by the job"] = issues.left_out.get("filtered out by the job", 0) + 1
        return None
    if not mapping.maps(form):
        issues.unmapped_forms[form] = issues.unmapped_forms.get(form, 0) + 1
        return None
    view = _Document(entry)
    try:
        selected = not mapping.condition or mapping.condition.evaluate(view.lookup, form, doc.unid or "")
    except ExpressionValueError as exc:
        raise ValueError(f"the mapping's condition failed: {exc}")
    if not selected:
        issues.unmapped_forms[f"{form} (condition false)"] = issues.unmapped_forms.get(f"{form} (condition false)",
                                                                                       0) + 1
        return None
    list_key = list_key_of(site, mapping)
    library = mapping.template == "documentLibrary"
    plan.documents[form] += 1
    _count_unmapped(doc, form, referenced, issues)
    _count_degraded(entry, issues)
    key = source_key(doc.replica_id, doc.unid or "")
    warnings: list[str] = []
    fields = _fields(mapping, view, doc, form, identity, warnings)
    files = list(entry.attachments)
    if files and mapping.attachments == "skip" and not library:
        issues.left_out["attachments skipped by the mapping"] = (
            issues.left_out.get("attachments skipped by the mapping", 0) + len(files))
        files = []
    unid = (doc.unid or "").upper()
    drive, folder = (mapping.list_name, unid) if library else ("Documents", f"{mapping.list_name}/{unid}")
    taken: set[str] = set()
    names = []
    for att in files:
        name = sharepoint_file_name(att.name, taken)
        if name != att.name:
            warnings.append(f"attachment {att.name!r} is stored as {name!r} (SharePoint naming rules)")
        if len(f"{site.split(':', 1)[-1]}/{drive}/{folder}/{name}") > MAX_PATH:
            warnings.append(f"attachment {name!r}: the path is longer than {MAX_PATH} characters")
        names.append(name)
    if names and not library:  # where each file went, and its Notes name when SharePoint needed another
        fields["NotesAttachments"] = "\n".join(f"{folder}/{n}" + (f" (Notes name: {a.name})" if n != a.name else "")
                                               for a, n in zip(files, names))
    depends = [list_key]
    parent = source_key(doc.replica_id, doc.parent_unid) if doc.parent_unid else None
    if parent in keys_planned:
        depends.append(parent)
    readers = readers_of(doc)
    if readers:
        fields["NotesReaders"] = "\n".join(readers)
    if library:
        plan.operations.extend(_library_files(site, mapping, entry, key, fields, folder, names, depends, warnings,
                                              source_file))
    else:
        # files first: the item's HTML links to them (Graph has no list-item attachments, §5.3)
        links: dict[str, str] = {}
        for n, (att, name) in enumerate(zip(files, names), 1):
            part = key + f"#att/{n}"
            links["attachment:" + att.name] = part
            plan.operations.append(_upload(site, drive, folder, name, part, att.size, att.sha256,
                                           _utc(att.created), _utc(att.modified), (), doc.sequence, source_file,
                                           form))
        taken_images = {n.casefold() for n in names}
        for n, image in enumerate(entry.inline_images, 1):
            part = key + f"#img/{n}"
            links["cid:" + image.content_id] = part
            name = sharepoint_file_name(image.filename, taken_images)
            plan.operations.append(_upload(site, drive, folder, name, part, image.size, image.sha256,
                                           _utc(doc.created), _utc(doc.modified), (), doc.sequence, source_file,
                                           form, content_type=image.content_type))
        payload: dict[str, Any] = {"fields": fields}
        if links:
            payload[LINKS_KEY] = links
        plan.operations.append(Operation(
            op="create-list-item", container=list_container, key=key, payload=payload,
            sequence=doc.sequence, depends_on=tuple(depends + sorted(links.values())), warnings=tuple(warnings),
            source_file=source_file, form=form))
    keys_planned.add(key)
    for column in mapping.columns:
        if column.type == "choice" and column.fill_in and column.name in fields:
            value = fields[column.name]
            seen_choices.setdefault(column.name, set()).update(value if isinstance(value, list) else [value])
    return key


def plan_application(site: str, mapping: AppMapping, items: Iterable[ConvertedDocument | DocumentError],
                     identity: Any, source_file: str | None = None,
                     filters: Filters | None = None, restricted: str = "skip") -> ApplicationPlan:
    """Operations for one application source (documents in file order, after the list).

    Documents with Readers fields follow ``restricted``: ``skip`` leaves them out (counted), a site puts them
    in the same list there (a site whose permissions the admin restricted); never into ``site`` itself."""
    open_docs: list[ConvertedDocument | DocumentError] = []
    limited: list[ConvertedDocument] = []
    for entry in items:
        if not isinstance(entry, DocumentError) and readers_of(entry.doc) and mapping.maps(entry.doc.form or "") \
                and not _filtered_out(entry.doc, entry.doc.form or "(no form)", filters):
            limited.append(entry)
        else:
            open_docs.append(entry)
    plan = _plan_site(site, mapping, open_docs, identity, source_file, filters)
    if limited and restricted == "skip":
        reason = "documents with Readers fields (restricted = skip)"
        plan.issues.left_out[reason] = plan.issues.left_out.get(reason, 0) + len(limited)
    elif limited:
        other = _plan_site(restricted, mapping, limited, identity, source_file, filters)
        plan.operations.extend(other.operations)
        plan.documents.update(other.documents)
        for name in ("unmapped_forms", "unmapped_items", "degraded", "left_out"):
            target = getattr(plan.issues, name)
            for k, v in getattr(other.issues, name).items():
                target[k] = target.get(k, 0) + v
        plan.issues.errors.extend(other.issues.errors)
    return plan


def _plan_site(site: str, mapping: AppMapping, items: Iterable[ConvertedDocument | DocumentError],
               identity: Any, source_file: str | None, filters: Filters | None) -> ApplicationPlan:
    plan = ApplicationPlan()
    issues = plan.issues
    referenced = _referenced_items(mapping)
    list_container = f"site:{site}/list:{mapping.list_name}"
    list_key: str | None = None
    keys_planned: set[str] = set()
    seen_choices: dict[str, set[str]] = {}
    for entry in items:
        if isinstance(entry, DocumentError):
            issues.errors.append(str(entry))
            continue
        try:
            key = _plan_document(plan, entry, site, mapping, identity, filters, referenced, keys_planned,
                                 seen_choices, list_container, source_file)
        except (ValueError, ArithmeticError, TypeError, RecursionError) as exc:  # one bad document, not the plan
            doc = entry.doc
            issues.errors.append(f"{doc.file}:{doc.line}: document {doc.unid}: cannot plan: {exc}")
            continue
        if key is not None and list_key is None:
            list_key = list_key_of(site, mapping)
    if list_key is not None:  # the list comes first; built last, so fill-in choices know every value used
        plan.operations.insert(0, _ensure_list(site, mapping, list_key, seen_choices))
    return plan


def _ensure_list(site: str, mapping: AppMapping, key: str, seen_choices: dict[str, set[str]]) -> Operation:
    columns = []
    for column in mapping.all_columns:
        if column.name == "Title" and mapping.template == "genericList":
            continue  # the template's own column
        definition = column.definition()
        if column.type == "choice":
            # A choice column needs choices; fill-in columns offer the values the documents use (sorted).
            known = {c.casefold() for c in column.choices}
            extra = []
            for choice in sorted(seen_choices.get(column.name, set()), key=lambda c: (c.casefold(), c)):
                if choice.casefold() not in known:  # one spelling per choice, the same on every run
                    known.add(choice.casefold())
                    extra.append(choice)
            definition["choice"]["choices"] = list(column.choices) + extra or ["(none)"]
        columns.append(definition)
    payload = {"displayName": mapping.list_name, "list": {"template": mapping.template}, "columns": columns}
    return Operation(op="ensure-list", container=f"site:{site}", key=key, payload=payload)


def _fields(mapping: AppMapping, view: _Document, doc: NotesDocument, form: str, identity: Any,
            warnings: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for column in mapping.columns:
        if column.expr is not None:
            try:
                value = column.expr.evaluate(view.lookup, form, doc.unid or "")
            except ExpressionValueError as exc:
                warnings.append(f"{column.name}: {exc}")
                value = None
        elif column.source is not None:
            value = view.lookup(column.source)
        else:
            value = None
        if value is None or value == "" or value == []:
            value = column.default
        converted = _convert(column, value, identity, warnings)
        if converted is not None:
            fields[column.name] = converted
            if column.type == "choice" and column.multi:  # several values: an annotated collection
                fields[column.name + "@odata.type"] = "Collection(Edm.String)"
    author = doc.text("From") or (doc.updated_by[0] if doc.updated_by else "")
    provenance = {"NotesKey": source_key(doc.replica_id, doc.unid or ""), "NotesForm": form,
                  "NotesAuthor": author or None, "NotesCreated": _utc(doc.created), "NotesModified": _utc(doc.modified)}
    fields.update({k: v for k, v in provenance.items() if v})
    return fields


def _upload(site: str, drive: str, folder: str, name: str, key: str, size: int, sha256: str, created: str | None,
            modified: str | None, depends: tuple[str, ...], sequence: int | None, source_file: str | None,
            form: str | None, fields: dict[str, Any] | None = None, content_type: str = "application/octet-stream",
            warnings: tuple[str, ...] = ()) -> Operation:
    payload: dict[str, Any] = {"name": name, "@microsoft.graph.conflictBehavior": "replace"}
    fsi = {k: v for k, v in (("createdDateTime", created), ("lastModifiedDateTime", modified)) if v}
    if fsi:
        payload["fileSystemInfo"] = fsi
    if fields:
        payload["fields"] = fields
    return Operation(op="upload-file", container=f"site:{site}/drive:{drive}/{folder}", key=key, payload=payload,
                     sequence=sequence, content=(ContentRef(name, size, sha256, content_type),), depends_on=depends,
                     warnings=warnings, source_file=source_file, form=form)


def _library_files(site: str, mapping: AppMapping, conv: ConvertedDocument, key: str, fields: dict[str, Any],
                   folder: str, names: list[str], depends: list[str], warnings: list[str],
                   source_file: str | None) -> list[Operation]:
    """One file per attachment, each with the document's fields and its own source key (a resumed run looks
    files up by NotesKey); a document without files becomes an HTML page of its body."""
    doc = conv.doc
    ops = []
    for n, (att, name) in enumerate(zip(conv.attachments, names), 1):
        part_key = key + f"#att/{n}"
        ops.append(_upload(site, mapping.list_name, folder, name, part_key, att.size, att.sha256, _utc(att.created),
                           _utc(att.modified), tuple(depends), doc.sequence, source_file, doc.form,
                           {**fields, "NotesKey": part_key, "NotesAttachments": att.name},  # the Notes name
                           warnings=tuple(warnings)))
    if not ops:  # a document without files: its body as an HTML page, so that it is not lost
        body = ("<!DOCTYPE html><html><head><meta charset=\"utf-8\"/></head><body>" + conv.html()
                + "</body></html>").encode()
        part_key = key + "#body"
        ops.append(_upload(site, mapping.list_name, folder, f"{folder}.html", part_key, len(body),
                           hashlib.sha256(body).hexdigest(), _utc(doc.created), _utc(doc.modified), tuple(depends),
                           doc.sequence, source_file, doc.form, {**fields, "NotesKey": part_key}, "text/html",
                           tuple(warnings)))
    return ops


def _count_unmapped(doc: NotesDocument, form: str, referenced: set[str], issues: PlanIssues) -> None:
    for item in doc.items:
        low = item.name.lower()
        if low in referenced or low in SYSTEM_ITEMS or low.startswith("$") or not item.values and not item.richtext:
            continue
        key = f"{form}.{item.name}"
        issues.unmapped_items[key] = issues.unmapped_items.get(key, 0) + 1


def _count_degraded(conv: ConvertedDocument, issues: PlanIssues) -> None:
    found = []
    if any(a.is_ole_storage for a in conv.doc.attachments):
        found.append("OLE objects (kept as placeholders)")
    if any("notes-placeholder" in rt.html for rt in conv.richtext):
        found.append("rich text with placeholders (buttons, hotspots, unsupported objects)")
    if conv.features.get("encrypted"):
        found.append("encrypted items (not readable)")
    for what in found:
        issues.degraded[what] = issues.degraded.get(what, 0) + 1
