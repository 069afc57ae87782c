"""Plan a mailbox source: Notes mail, calendar, to-dos and contacts as Graph operations.

:func:`plan_mailbox` turns the converted documents of one ``[[mailbox]]``
source into :class:`~notes2m365.operations.Operation`\\ s, in a fixed order:
folder operations first (``ensure-mail-folder``, ``ensure-todo-list``,
``ensure-contact-folder``, sorted), then one or more operations per document
in source order.  It is pure: the same documents, rules, identity map and
folder manifest give the same operations, byte for byte once serialized.

Which forms go where is :class:`MailboxRules` (``builtin:mail`` and
``builtin:contacts`` are read from ``mappings/mail.toml`` and ``mappings/contacts.toml``).
Decisions (the tests rely on them):

* **Folders.** DXL carries no folder membership; the export agent's manifest
  (:class:`FolderManifest`, CSV ``folder,unid``) does.  Notes levels are
  separated by ``\\``; ``($Inbox)``/``Inbox``, ``($Sent)``/``Sent``,
  ``($Drafts)``/``Drafts``, ``($Trash)``/``Trash`` and
  ``($JunkMail)``/``Junk Mail``/``JunkMail`` (top level, any case) are Graph's
  well-known ``inbox``, ``sentitems``, ``drafts``, ``deleteditems``,
  ``junkemail``; every other folder is created (with its parents) by an
  ``ensure-mail-folder`` operation keyed ``REPLICA/#folder/Projects/Alpha``
  (a ``/`` or ``%`` inside a level is written ``%2F``/``%25`` in keys and
  containers).  Folders are created when at least one planned message is in
  them.  Exchange compares folder names case-insensitively, so folder paths
  are folded: ``Projects`` and ``projects`` are one folder, spelt as the
  first planned message (in source order) spells it.  A message in several
  folders goes to the first folder that is not well-known, else the first;
  the others are named in a warning and counted (``multi_folder``).  A message in no folder goes to Sent when it has a
  ``PostedDate``, no ``DeliveredDate`` and is from the mailbox owner, to Drafts
  when it has neither date, else to the Inbox.
* **Drafts** (destination ``drafts``, or no date at all) get no
  ``Integer 0x0E07``; every other message gets ``"1"`` (read, not a draft),
  ``SystemTime 0x0E06`` (delivered, else posted) and ``SystemTime 0x0039``
  (posted) in UTC, and the source key property.  ``In_Reply_To`` and MIME
  ``References`` become ``String 0x1042``/``String 0x1039`` (threading).
  Three ``internetMessageHeaders`` (``X-Notes-Replica``, ``X-Notes-UNID``,
  ``X-Notes-Form``), never an empty list.
* **Size.** Attachments over 3 MB are counted (``large_attachments``); a
  message whose payload and attachments together exceed Exchange Online's
  default 35 MB maximum message size (graph-semantics §2) gets a warning and
  is counted in ``degraded`` (``messages over 35 MB``).
* **Every document is accounted for**: planned (one or more operations),
  left out on purpose (``left_out``: skipped, filtered, folded repeat
  instance), unmapped, or a plan error naming file, line and UNID -- a
  document that cannot be planned (a calendar entry without a valid start,
  numbers out of range...) is an error for that document while the rest is
  planned.
* **People.** An Internet address beside a Notes name (``InetSendTo``...,
  MIME headers) takes precedence; otherwise the identity map.  Graph needs an
  address, so a name without one is *dropped* from the payload with a warning
  on the operation; the identity map counts it (``identity.unresolved()``).
  ``from`` is ``Principal`` (the mailbox the mail was sent from) and
  ``sender`` is ``From`` (the author, e.g. a delegate).
* **Repeat instances.** An instance child (``$RefOptions`` 1 under its
  repeat parent) is folded into the parent's series when the parent is
  planned (counted in ``series_instances``); an orphan child is planned on
  its own.
* **Filters** (``job.Filters``): forms include/exclude (case-insensitive),
  since/until on the document's date (messages: posted, else delivered;
  events: first start; tasks: due, else start; contacts are not dated and never
  date-filtered) and folders (messages only; a folder matches with its
  subfolders).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from .convert import ConvertedDocument
from .errors import ConfigError
from .job import Filters, Source
from .mapping import MailboxMapping, load_mapping
from .model import DocumentError, NotesDocument
from .operations import Operation, PlanIssues, canonical_bytes, source_key
from .pimplan import (
    IMPORTANCE,
    Ctx,
    PlanError,
    Resolver,
    contact_payload,
    contents,
    display_name,
    event_parts,
    first_dt,
    is_instance_child,
    iso_z,
    large_content,
    planning_memo,
    recipient,
    source_key_property,
    task_payload,
    texts,
    to_utc,
)

TargetKind = Literal["message", "event", "task", "contact", "skip"]
AttendeesMode = Literal["omit", "body", "invite"]
TARGET_KINDS = ("message", "event", "task", "contact", "skip")

#: Notes folders that are Graph well-known folders (top level, compared case-insensitively).
WELL_KNOWN = {"($inbox)": "inbox", "inbox": "inbox", "($sent)": "sentitems", "sent": "sentitems",
              "($drafts)": "drafts", "drafts": "drafts", "($trash)": "deleteditems", "trash": "deleteditems",
              "($junkmail)": "junkemail", "junk mail": "junkemail", "junkmail": "junkemail"}
#: Exchange Online's default maximum message size (graph-semantics §2).
MAX_MESSAGE_SIZE = 35 * 1024 * 1024
OVERSIZED = "messages over 35 MB"
#: What planning one document may raise on malformed data: an error for that document, not the plan.
DOCUMENT_ERRORS = (PlanError, ValueError, OverflowError, ArithmeticError, TypeError, LookupError)
#: Conversion features that lose content (counted as degraded).
DEGRADED_FEATURES = ("ole", "unknown", "flattened", "compositedata", "richtextdata", "rawcd", "field",
                     "computedtext", "subformref", "sharedfieldref", "namedelementref", "javaapplet", "layer",
                     "encrypted")
_DEGRADED = frozenset(DEGRADED_FEATURES)
_MESSAGE_ID = re.compile(r"^<[^<>\s]+@[^<>\s]+>$")


# -- folder manifest ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FolderManifest:
    """Folder membership from the export agent: per UNID (upper case), its Notes folders in file order."""

    folders: dict[str, tuple[str, ...]] = field(default_factory=dict)
    path: str | None = None

    @classmethod
    def load(cls, path: str | Path) -> FolderManifest:
        """Read ``folder,unid`` CSV (UTF-8, optional BOM, CRLF or LF); errors name the file and line."""
        import csv
        import io

        try:
            text = Path(path).read_bytes().decode("utf-8-sig")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read folder manifest: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: folder manifest is not UTF-8 ({exc.reason})") from None
        members: dict[str, list[str]] = {}
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader, None)
            if header is None or [h.strip().lower() for h in header] != ["folder", "unid"]:
                raise ConfigError(f"{path}:1: header must be folder,unid")
            line = reader.line_num + 1
            for row in reader:
                here, line = line, reader.line_num + 1
                if not any(c.strip() for c in row):
                    continue
                if len(row) != 2:
                    raise ConfigError(f"{path}:{here}: expected 2 fields (folder,unid), got {len(row)}")
                folder, unid = row[0].strip(), row[1].strip().upper()
                if not _levels(folder):
                    raise ConfigError(f"{path}:{here}: empty folder name")
                if not re.fullmatch(r"[0-9A-F]{32}", unid):
                    raise ConfigError(f"{path}:{here}: '{row[1]}' is not a UNID (32 hex digits)")
                entry = members.setdefault(unid, [])
                if folder not in entry:
                    entry.append(folder)
        except csv.Error as exc:
            raise ConfigError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
        return cls({u: tuple(f) for u, f in members.items()}, str(path))

    def folders_of(self, unid: str | None) -> tuple[str, ...]:
        return self.folders.get((unid or "").upper(), ())


def _levels(notes_path: str) -> list[str]:
    return [p.strip() for p in notes_path.split("\\") if p.strip()]


@lru_cache(maxsize=4096)  # pure; a mailbox has a few folders, every message asks
def graph_folder(notes_path: str) -> tuple[str, ...]:
    """Graph path levels of a Notes folder: the first level may be a well-known name."""
    levels = _levels(notes_path)
    if levels and levels[0].casefold() in WELL_KNOWN:
        levels[0] = WELL_KNOWN[levels[0].casefold()]
    return tuple(levels)


@lru_cache(maxsize=4096)  # pure, as graph_folder
def _encode(levels: tuple[str, ...]) -> str:
    return "/".join(p.replace("%", "%25").replace("/", "%2F") for p in levels)


def _is_user_folder(notes_path: str) -> bool:
    levels = _levels(notes_path)
    return not (len(levels) == 1 and levels[0].casefold() in WELL_KNOWN)


# -- rules --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MailboxRules:
    """Which forms go where (``form`` -> message/event/task/contact/skip, case-insensitive) and options."""

    forms: dict[str, TargetKind] = field(default_factory=lambda: dict(MailboxRules.builtin("mail").forms))
    attendees: AttendeesMode = "body"
    todo_list: str = "Tasks"
    contacts_folder: str | None = None

    def __post_init__(self) -> None:
        for form, kind in self.forms.items():
            if kind not in TARGET_KINDS:
                raise ConfigError(f"form {form!r}: unknown target {kind!r} (use {', '.join(TARGET_KINDS)})")
        if self.attendees not in ("omit", "body", "invite"):
            raise ConfigError(f"attendees: {self.attendees!r} (use omit, body or invite)")
        if not self.todo_list.strip():
            raise ConfigError("todo_list must not be empty")
        object.__setattr__(self, "_index", {f.casefold(): k for f, k in self.forms.items()})

    @classmethod
    def builtin(cls, name: str) -> MailboxRules:
        """The rules of a shipped mailbox mapping (``mappings/NAME.toml``)."""
        return cls.from_mapping(load_mapping(f"builtin:{name}", expected="mailbox"))  # type: ignore[arg-type]

    @classmethod
    def from_mapping(cls, mapping: MailboxMapping) -> MailboxRules:
        return cls(dict(mapping.forms), attendees=mapping.attendees, todo_list=mapping.todo_list)  # type: ignore

    def kind_of(self, form: str | None) -> TargetKind | None:
        return self._index.get((form or "").casefold())  # type: ignore[attr-defined, no-any-return]


# -- the plan -------------------------------------------------------------------------------------------------
@dataclass
class MailboxPlan:
    """The operations of one mailbox source and the counters of its summary."""

    target: str
    operations: list[Operation] = field(default_factory=list)
    forms: Counter[str] = field(default_factory=Counter)  # documents read, per form
    unmapped_forms: Counter[str] = field(default_factory=Counter)
    skipped_forms: Counter[str] = field(default_factory=Counter)
    filtered: int = 0
    degraded: Counter[str] = field(default_factory=Counter)  # feature -> documents
    large_attachments: int = 0
    multi_folder: int = 0
    series_instances: int = 0
    duplicates: int = 0  # documents whose key an earlier file of the source had: the first copy is planned
    errors: list[str] = field(default_factory=list)

    @property
    def targets(self) -> Counter[str]:
        return Counter(op.op for op in self.operations)

    def issues(self) -> PlanIssues:
        left_out = {f"skipped form {form}": n for form, n in self.skipped_forms.items()}
        if self.filtered:
            left_out["filtered out by the job"] = self.filtered
        if self.series_instances:
            left_out["repeat instances folded into their series"] = self.series_instances
        if self.duplicates:
            left_out["documents also in an earlier file of the source (same replica and UNID): the first copy "
                     "is migrated"] = self.duplicates
        return PlanIssues(unmapped_forms=dict(sorted(self.unmapped_forms.items())),
                          degraded=dict(sorted(self.degraded.items())),
                          large_attachments=self.large_attachments, errors=list(self.errors),
                          left_out=dict(sorted(left_out.items())))


@dataclass
class _Entry:
    op: Operation
    parent: str | None = None  # repeat parent UNID, for instance children


def plan_mailbox(source: Source, docs: Iterable[ConvertedDocument | DocumentError], rules: MailboxRules,
                 identity: Resolver, manifest: FolderManifest | None = None,
                 filters: Filters | None = None, source_files: dict[str, str] | None = None) -> MailboxPlan:
    """Plan every document of a mailbox source (see the module docstring for the decisions); ``source_files``:
    how operations name a document's file (default: as the document does)."""
    upn = source.target
    plan = MailboxPlan(upn)
    entries: list[_Entry] = []
    folders: dict[tuple[str, ...], str | None] = {}  # graph path -> replica of its first planned message
    spellings: dict[tuple[str, ...], tuple[str, ...]] = {}  # case-folded graph path -> its first spelling
    canonical: dict[tuple[str, ...], tuple[str, ...]] = {}  # graph path as a document spells it -> as planned
    planned_unids: set[str] = set()
    planned_keys: set[str] = set()
    todo_key: str | None = None
    contacts_key: str | None = None
    memo = planning_memo(identity)
    for item in docs:
        if isinstance(item, DocumentError):
            plan.errors.append(str(item))
            continue
        doc = item.doc
        form = doc.form or "(no form)"
        plan.forms[form] += 1
        kind = rules.kind_of(doc.form)
        if kind is None:
            plan.unmapped_forms[form] += 1
            continue
        if kind == "skip":
            plan.skipped_forms[form] += 1
            continue
        if not doc.unid:
            plan.errors.append(f"{doc.file}:{doc.line}: document without a UNID: not planned")
            continue
        notes_folders = manifest.folders_of(doc.unid) if manifest is not None else ()
        mime_date = item.message.date if item.message is not None else None
        if filters is not None and not _passes(filters, doc, kind, notes_folders, mime_date):
            plan.filtered += 1
            continue
        if is_instance_child(doc) and (doc.parent_unid or "").upper() in planned_unids:
            plan.series_instances += 1  # its parent's series covers it
            continue
        key = source_key(doc.replica_id, doc.unid)
        if key in planned_keys:  # the same document again, in another file of the source (overlapping exports):
            plan.duplicates += 1  # one operation per key, or the migration could create it twice
            continue
        ctx = Ctx(upn, identity, key=key, memo=memo)
        common: dict[str, Any] = {"sequence": doc.sequence, "form": doc.form,
                                  "source_file": source_files.get(doc.file, doc.file) if source_files else doc.file}
        try:
            done = _plan_document(ctx, item, kind, rules, notes_folders, common)
        except DOCUMENT_ERRORS as exc:
            why = str(exc) if isinstance(exc, PlanError) else f"{type(exc).__name__}: {exc}"
            plan.errors.append(str(DocumentError(doc.file, doc.line, doc.unid.upper(), f"not planned: {why}")))
            continue
        # the document is planned: count it, and note the folders, list and contact folder it needs
        if not _DEGRADED.isdisjoint(item.features):  # most documents have none: skip the loop
            for feature in DEGRADED_FEATURES:
                if item.features.get(feature):
                    plan.degraded[feature] += 1
        plan.large_attachments += done.large
        plan.multi_folder += done.multi_folder
        if done.oversized:
            plan.degraded[OVERSIZED] += 1
        if done.path is not None:
            path = canonical.get(done.path)
            if path is None:  # a path's spelling is fixed once seen: worked out once per path
                path = canonical[done.path] = _canonical(spellings, done.path)
            [entry] = done.entries
            changes: dict[str, Any] = {}
            if path != done.path:
                changes["container"] = f"mailbox:{upn}/folder:{_encode(path)}"
            if len(path) > 1 or path[0] not in WELL_KNOWN.values():
                _note_folders(folders, path, doc.replica_id)
                changes["depends_on"] = (_folder_key(folders[path], path),)
            if changes:
                done.entries = [_Entry(entry.op.evolve(**changes))]
        elif kind == "task" and rules.todo_list != "Tasks":
            if todo_key is None:
                todo_key = source_key(doc.replica_id, "", f"todo/{rules.todo_list}")
            done.entries = [replace(e, op=e.op.evolve(depends_on=(todo_key,))) for e in done.entries]
        elif kind == "contact" and rules.contacts_folder:
            if contacts_key is None:
                contacts_key = source_key(doc.replica_id, "", f"contacts/{rules.contacts_folder}")
            done.entries = [replace(e, op=e.op.evolve(depends_on=(contacts_key,))) for e in done.entries]
        entries.extend(done.entries)
        planned_unids.add(doc.unid.upper())
        planned_keys.add(key)
    ops = _folder_ops(upn, folders)
    if todo_key:
        ops.append(Operation("ensure-todo-list", f"mailbox:{upn}/todo", todo_key,
                             {"displayName": rules.todo_list}))
    if contacts_key:
        ops.append(Operation("ensure-contact-folder", f"mailbox:{upn}/contacts", contacts_key,
                             {"displayName": rules.contacts_folder}))
    folded = {e.op.key for e in entries if e.parent is not None and e.parent in planned_unids}
    plan.series_instances += len({k.split("#", 1)[0] for k in folded})
    ops += [e.op for e in entries if e.op.key not in folded]
    plan.operations = ops
    return plan


@dataclass
class _Planned:
    """The operations of one document and what it adds to the plan's counters (committed once it is planned)."""

    entries: list[_Entry]
    path: tuple[str, ...] | None = None  # a message's graph folder, as the document spells it
    large: int = 0
    multi_folder: int = 0
    oversized: bool = False


def _plan_document(ctx: Ctx, item: ConvertedDocument, kind: TargetKind, rules: MailboxRules,
                   notes_folders: tuple[str, ...], common: dict[str, Any]) -> _Planned:
    """Plan one document; raises (:data:`DOCUMENT_ERRORS`) when it cannot be planned, touching no counter."""
    doc, upn, key = item.doc, ctx.upn, ctx.key
    parent = doc.parent_unid.upper() if is_instance_child(doc) and doc.parent_unid else None
    if kind == "message":
        return _message(ctx, item, notes_folders, common)
    if kind == "event":
        parts = event_parts(ctx, item, rules.attendees)
        if not parts:  # event_parts raises instead; never let a document vanish
            raise PlanError("calendar entry without an event to plan")
        refs = contents(item)
        large = large_content(ctx, refs, draft=False)
        return _Planned([_Entry(Operation(
            "create-event", f"mailbox:{upn}/calendar", source_key(doc.replica_id, doc.unid, part.part),
            part.payload, content=tuple(refs), warnings=tuple(item.warnings + ctx.warnings), **common), parent)
            for part in parts], large=large)
    if kind == "task":
        payload = task_payload(ctx, item)
        return _Planned([_Entry(Operation(
            "create-task", f"mailbox:{upn}/todo:{rules.todo_list}", key, payload,
            warnings=tuple(item.warnings + ctx.warnings), **common), parent)])
    container = f"mailbox:{upn}/contacts" + (f":{rules.contacts_folder}" if rules.contacts_folder else "")
    payload = contact_payload(ctx, item)
    return _Planned([_Entry(Operation("create-contact", container, key, payload,
                                      warnings=tuple(item.warnings + ctx.warnings), **common))])


def _canonical(spellings: dict[tuple[str, ...], tuple[str, ...]], path: tuple[str, ...]) -> tuple[str, ...]:
    """``path`` spelt as the first path equal to it case-insensitively (level by level); records new levels."""
    out: tuple[str, ...] = ()
    for level in path:
        folded = tuple(p.casefold() for p in out + (level,))
        out = spellings.setdefault(folded, out + (level,))
    return out


def _note_folders(folders: dict[tuple[str, ...], str | None], path: tuple[str, ...], replica: str | None) -> None:
    start = 1 if path[0] in WELL_KNOWN.values() else 0
    for n in range(start + 1, len(path) + 1):
        folders.setdefault(path[:n], replica)


def _folder_key(replica: str | None, path: tuple[str, ...]) -> str:
    return source_key(replica, "", f"folder/{_encode(path)}")


def _folder_ops(upn: str, folders: dict[tuple[str, ...], str | None]) -> list[Operation]:
    ops = []
    for path in sorted(folders):
        parent = path[:-1]
        ops.append(Operation(
            "ensure-mail-folder", f"mailbox:{upn}/folder:{_encode(parent) if parent else 'msgfolderroot'}",
            _folder_key(folders[path], path), {"displayName": path[-1]},
            depends_on=(_folder_key(folders[parent], parent),) if parent in folders else ()))
    return ops


# -- filters --------------------------------------------------------------------------------------------------
def _doc_date(doc: NotesDocument, conv_date: dt.datetime | None, kind: str) -> dt.date | None:
    names = {"message": ("PostedDate", "DeliveredDate"), "event": ("StartDateTime",),
             "task": ("DueDateTime", "StartDateTime")}.get(kind, ())
    for name in names:
        value = first_dt(doc, name)
        if value is not None:
            v = value.value
            return v.date() if isinstance(v, dt.datetime) else v  # type: ignore[return-value]
    return conv_date.date() if conv_date is not None and kind == "message" else None


def _passes(filters: Filters, doc: NotesDocument, kind: str, notes_folders: tuple[str, ...],
            mime_date: dt.datetime | None = None) -> bool:
    form = (doc.form or "").casefold()
    if filters.forms and form not in {f.casefold() for f in filters.forms}:
        return False
    if form in {f.casefold() for f in filters.exclude_forms}:
        return False
    if filters.since or filters.until:
        day = _doc_date(doc, mime_date, kind)
        if day is not None and ((filters.since and day < filters.since) or (filters.until and day > filters.until)):
            return False
    if filters.folders and kind == "message":
        wanted = [tuple(p.casefold() for p in _levels(f.replace("/", "\\"))) for f in filters.folders]
        have = [tuple(p.casefold() for p in _levels(f)) for f in notes_folders]
        if not any(h[:len(w)] == w for h in have for w in wanted):
            return False
    return True


# -- messages -------------------------------------------------------------------------------------------------
def _people(ctx: Ctx, label: str, doc: NotesDocument, item: str, inet: str, mime: list[Any] | None
            ) -> list[dict[str, Any]]:
    if mime:
        out = []
        for a in mime:
            address, why = ctx.address(a.email, a.email)
            if address is None:
                ctx.warnings.append(f"{label}: '{a}' dropped: no address ({why})")
            else:
                out.append(recipient(address, a.name or None))
        return out
    names = texts(doc, item)
    return ctx.recipients(label, names, texts(doc, inet)) if names else []


def _importance(doc: NotesDocument, headers: list[tuple[str, str]]) -> str | None:
    value = IMPORTANCE.get(doc.text("Importance").strip())
    for name, raw in headers:
        text = raw.strip().lower()
        if name.lower() == "importance" and text in ("high", "normal", "low"):
            value = text
        elif name.lower() == "x-priority" and text[:1] in "12345" and text:
            value = {"1": "high", "2": "high", "4": "low", "5": "low"}.get(text[:1], "normal")
    return value


def _distinct_folders(notes_folders: tuple[str, ...]) -> tuple[str, ...]:
    """Notes folders that are distinct Graph folders (case-insensitively; ``($Inbox)`` is ``Inbox``), first kept."""
    if not notes_folders:
        return ()
    seen: set[tuple[str, ...]] = set()
    out = []
    for f in notes_folders:
        folded = tuple(p.casefold() for p in graph_folder(f))
        if folded and folded not in seen:
            seen.add(folded)
            out.append(f)
    return tuple(out)


def _message(ctx: Ctx, conv: ConvertedDocument, notes_folders: tuple[str, ...],
             common: dict[str, Any]) -> _Planned:
    doc, msg = conv.doc, conv.message
    posted = to_utc(first_dt(doc, "PostedDate")) or (to_utc(msg.date) if msg is not None and msg.date else None)
    delivered = to_utc(first_dt(doc, "DeliveredDate"))
    # from = the mailbox sent from (Principal), sender = the author (From)
    if msg is not None and msg.from_ is not None:
        senders = _people(ctx, "From", doc, "From", "INetFrom", [msg.from_])
        on_behalf = _people(ctx, "Sender", doc, "", "", [msg.sender]) if msg.sender else senders
    else:
        senders = ctx.recipients("From", texts(doc, "From")[:1], texts(doc, "INetFrom")[:1])
        principal = doc.text("Principal").strip()
        on_behalf = senders
        if principal and display_name(principal) != display_name(doc.text("From")):
            on_behalf, senders = senders, ctx.recipients("Principal", [principal])
    owner = bool(senders) and senders[0]["emailAddress"]["address"].casefold() == ctx.upn.casefold()
    notes_folders = _distinct_folders(notes_folders)
    multi = 0
    if notes_folders:
        user = [f for f in notes_folders if _is_user_folder(f)]
        chosen = user[0] if user else notes_folders[0]
        if len(notes_folders) > 1:
            multi = 1
            others = ", ".join(f for f in notes_folders if f != chosen)
            ctx.warnings.append(f"in Notes folder {chosen} and also {others}: a message is in one folder in Graph")
    elif posted is not None and delivered is None and owner:
        chosen = "($Sent)"
    elif posted is None and delivered is None:
        chosen = "($Drafts)"
    else:
        chosen = "($Inbox)"
    path = graph_folder(chosen)
    draft = path == ("drafts",) or (posted is None and delivered is None)
    payload: dict[str, Any] = {"subject": (msg.subject if msg is not None and msg.subject is not None
                                           else doc.text("Subject"))}
    payload["body"] = {"contentType": "html", "content": conv.html()}
    if senders:
        payload["from"] = senders[0]
    if on_behalf:
        payload["sender"] = on_behalf[0]
    for field_name, label, item, inet, mime in (
            ("toRecipients", "SendTo", "SendTo", "InetSendTo", msg.to if msg else None),
            ("ccRecipients", "CopyTo", "CopyTo", "InetCopyTo", msg.cc if msg else None),
            ("bccRecipients", "BlindCopyTo", "BlindCopyTo", "InetBlindCopyTo", msg.bcc if msg else None),
            ("replyTo", "ReplyTo", "ReplyTo", "", msg.reply_to if msg else None)):
        people = _people(ctx, label, doc, item, inet, mime)
        if people:
            payload[field_name] = people
    importance = _importance(doc, msg.headers if msg is not None else [])
    if importance:
        payload["importance"] = importance
    categories = texts(doc, "Categories")
    if categories:
        payload["categories"] = categories
    message_id = doc.text("$MessageID").strip() or (msg.message_id or "" if msg is not None else "")
    if _MESSAGE_ID.match(message_id):
        payload["internetMessageId"] = message_id
    props = [] if draft else [{"id": "Integer 0x0E07", "value": "1"}]
    received = delivered or posted
    if received is not None:
        props.append({"id": "SystemTime 0x0E06", "value": iso_z(received)})
    if posted is not None:
        props.append({"id": "SystemTime 0x0039", "value": iso_z(posted)})
    in_reply_to = doc.text("In_Reply_To").strip() or (msg.in_reply_to or "" if msg is not None else "")
    if in_reply_to:
        props.append({"id": "String 0x1042", "value": in_reply_to})
    if msg is not None and msg.references:
        props.append({"id": "String 0x1039", "value": " ".join(msg.references)})
    props.append(source_key_property(ctx.key))
    payload["singleValueExtendedProperties"] = props
    payload["internetMessageHeaders"] = [{"name": "X-Notes-Replica", "value": (doc.replica_id or "-").upper()},
                                         {"name": "X-Notes-UNID", "value": (doc.unid or "").upper()},
                                         {"name": "X-Notes-Form", "value": doc.form or ""}]
    refs = contents(conv)
    large = large_content(ctx, refs, draft)
    payload_json = canonical_bytes(payload, texts_only=True)  # its size here, and the operation's hash from it
    size = len(payload_json) + sum(r.size for r in refs)
    oversized = size > MAX_MESSAGE_SIZE
    if oversized:
        ctx.warnings.append(f"message of {size} bytes (body and attachments) is over Exchange Online's default "
                            "35 MB maximum message size: the mailbox's limit must be raised (up to 150 MB) or "
                            "Exchange rejects it")
    op = Operation("create-message", f"mailbox:{ctx.upn}/folder:{_encode(path)}", ctx.key, payload,
                   content=tuple(refs), warnings=tuple(conv.warnings + ctx.warnings), **common).measure(payload_json)
    return _Planned([_Entry(op)], path=path, large=large, multi_folder=multi, oversized=oversized)
