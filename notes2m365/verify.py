"""Verify: the job's sources planned again and compared with what the target holds, item by item.

:func:`run_verify` is ``notes2m365 verify``.  It plans the job exactly as a
migration would (pure, from the DXL), then reads each mailbox and site back
through the same throttle-aware :class:`~notes2m365.graph.GraphClient`:

- every planned folder, calendar, contact folder, To Do list and SharePoint list
  is listed once, each object with its source key (the named property, the task's
  ``linkedResources.externalId``, the ``NotesKey`` column), so an item is found
  by its key, counted per container, and objects whose key the source no
  longer plans, or second copies, come out as ``extra``;
- a message not in its planned folder is looked up mailbox-wide (the user may
  have moved it): found elsewhere, it ``differs`` in its folder;
- attachments are downloaded and compared by name, length and sha256, and
  so are library files; attachments over 3 MB that the job's
  ``large_attachments = onedrive`` policy put in the owner's OneDrive are
  checked there;
- fields are compared by :mod:`notes2m365.compare`.

With ``sample`` (a percentage) only a deterministic subset of documents
(by ``seed``) is compared in full; listings are light then, and every
compared item is read on its own.  The state store, when there is one, only
annotates: why a missing item is missing (failed, skipped, interrupted).
Nothing here writes to Graph or to the state.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable

from .compare import Blob, compare_content, compare_fields, compare_item, compare_message, compare_value
from .errors import FatalGraphError, PermanentGraphError, SinkError, TransientGraphError
from .exchange import ITEM_KINDS, ContainerUnavailable, MailboxTarget, drive_name, is_draft, mailbox_of, quote
from .graph import GraphClient, graph_path
from .job import Job
from .migrate import graph_settings, resolve_container
from .operations import INLINE_ATTACHMENT_LIMIT, SOURCE_KEY_COLUMN, SOURCE_KEY_PROPERTY, Operation
from .plan import PlanResult, identity_for, plan_sources, target_of
from .sharepoint import SiteTarget, site_address
from .sitemigration import site_of
from .state import ItemState, open_state
from .verifyresult import ContainerCount, Difference, ItemResult, VerifyReport

log = logging.getLogger("notes2m365.verify")

KINDS = {"create-message": "message", "create-event": "event", "create-contact": "contact",
         "create-task": "task", "create-list-item": "list item", "upload-file": "file"}
PAGE = "100"
_KEY_EXPAND = f"singleValueExtendedProperties($filter=id eq {quote(SOURCE_KEY_PROPERTY)})"
_FULL_SELECT = {
    "create-message": "id,subject,body,sentDateTime,receivedDateTime,from,sender,toRecipients,ccRecipients,"
                      "bccRecipients,replyTo,importance,internetMessageId,isDraft,hasAttachments,webLink,"
                      "parentFolderId,categories,flag",
    "create-event": "id,subject,body,start,end,isAllDay,location,showAs,sensitivity,importance,categories,"
                    "isReminderOn,reminderMinutesBeforeStart,recurrence,hasAttachments,webLink,attendees",
}
_LIGHT_SELECT = {"create-message": "id,subject,webLink,parentFolderId", "create-event": "id,subject,webLink",
                 "create-contact": "id,displayName", "create-task": "id,title"}

#: Display names of the well-known folders planned containers use (Outlook's English names).
_FOLDER_NAMES = {"inbox": "Inbox", "sentitems": "Sent Items", "drafts": "Drafts", "deleteditems": "Deleted Items",
                 "junkemail": "Junk Email", "archive": "Archive", "outbox": "Outbox", "msgfolderroot": "(top)"}
#: What one item, container or target may fail with without stopping the run (see :func:`stop_on`).
CHECK_ERRORS = (SinkError, ContainerUnavailable)


def stop_on(exc: BaseException) -> None:
    """Re-raise what must stop a verification: bad credentials, a tenant-wide refusal.  A 403 stays with its
    mailbox or site (an application access policy scopes mailboxes one by one; a site may be closed to
    the app): verify only reads, and the other targets can still be checked."""
    if isinstance(exc, FatalGraphError) and exc.status != 403:
        raise exc


def why(exc: BaseException) -> str:
    if isinstance(exc, SinkError):
        return f"{exc.status} {exc.code}: {exc.message}" if exc.status else f"{exc.code}: {exc.message}"
    return str(exc)


Tick = Callable[[int], None]


@dataclass
class Progress:
    """What the CLI shows while verifying: items to compare, and one tick per compared item."""

    add_total: Tick = lambda n: None  # noqa: E731
    advance: Tick = lambda n: None  # noqa: E731


def sampled(key: str, percent: float | None, seed: int) -> bool:
    """Whether a document is in the sample: a stable hash of its key (parts follow their document)."""
    if percent is None or percent >= 100:
        return True
    base = key.split("#", 1)[0]
    digest = hashlib.sha256(f"{seed}:{base}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 * 100 < percent


def container_label(container: str) -> str:
    """``mailbox:U/folder:Projects/Alpha`` → ``folder Projects/Alpha``; ``site:S/list:TeamRoom`` → ``list
    TeamRoom``; ``site:S/drive:Documents/TeamRoom/KEY`` → ``library Documents/TeamRoom``."""
    if container.startswith("site:"):
        rest = container[len("site:" + site_of(container)) + 1:]
        kind, _, name = rest.partition(":")
        if kind == "drive":
            parts = name.split("/")
            return "library " + "/".join(parts[:2])
        return f"{kind} {name}"
    _, _, rest = container.partition("/")
    kind, _, name = rest.partition(":")
    if kind == "folder":
        first, sep, more = name.partition("/")
        return "folder " + _FOLDER_NAMES.get(first, first) + sep + more.replace("%2F", "/").replace("%25", "%")
    if kind == "todo":
        return "To Do " + name
    return f"{kind} {name}" if name else kind


def _title(op: Operation) -> str:
    p = op.payload
    if op.op == "create-list-item":
        fields = p.get("fields") or {}
        return str(fields.get("Title") or fields.get("ThreadSubject") or op.key)
    return str(p.get("subject") or p.get("displayName") or p.get("title") or p.get("name") or op.key)


def _item_title(item: dict[str, Any]) -> str:
    fields = item.get("fields") or {}
    return str(item.get("subject") or item.get("displayName") or item.get("title") or item.get("name")
               or fields.get("Title") or "(untitled)")


def _key_of(item: dict[str, Any]) -> str | None:
    for prop in item.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == SOURCE_KEY_PROPERTY.lower():
            return str(prop.get("value"))
    for link in item.get("linkedResources") or []:
        if link.get("applicationName") == "notes2m365" and link.get("externalId"):
            return str(link["externalId"])
    fields = item.get("fields")
    if isinstance(fields, dict) and fields.get(SOURCE_KEY_COLUMN):
        return str(fields[SOURCE_KEY_COLUMN])
    return None


def state_note(state: Any, key: str) -> str:
    """Why an item may be missing, from the migration's state store (empty when there is none)."""
    if state is None:
        return ""
    found: ItemState | None = state.get(key)
    if found is None:
        return "the migration has no record of it (not migrated yet?)"
    if found.status == "failed":
        return f"the migration failed: {found.last_error or 'no error recorded'}"
    if found.status == "skipped":
        return f"skipped by the migration: {found.last_error or 'no reason recorded'}"
    if found.status in ("pending", "started"):
        return "the migration did not finish it (run migrate again)"
    return "the migration recorded it as done"


@dataclass
class _Found:
    container: str
    item: dict[str, Any]


@dataclass
class _Context:
    job: Job
    graph: GraphClient
    state: Any
    report: VerifyReport
    percent: float | None
    seed: int
    progress: Progress
    results: list[ItemResult] = field(default_factory=list)
    _done: dict[str, list[ItemState]] | None = None

    def sampled(self, key: str) -> bool:
        return sampled(key, self.percent, self.seed)

    def done_items(self, upn: str) -> list[ItemState]:
        """Mailbox items the state store says were migrated (read once for every mailbox)."""
        if self.state is None:
            return []
        if self._done is None:
            self._done = defaultdict(list)
            for item in self.state.items("done"):
                if item.op in ITEM_KINDS:
                    self._done[mailbox_of(item.container).lower()].append(item)
        return self._done.get(upn.lower(), [])


# -- mailboxes -------------------------------------------------------------------------------------------------
class MailboxCheck:
    """One mailbox: its planned containers listed, each planned item compared, extras named."""

    def __init__(self, ctx: _Context, upn: str, ops: list[Operation]) -> None:
        self.ctx = ctx
        self.upn = upn
        self.ops = ops
        self.target = MailboxTarget(ctx.graph, ctx.job.migrate)
        self.ids: dict[str, str] = {}
        self.found: dict[str, list[_Found]] = defaultdict(list)
        self.folder_names: dict[str, str] = {}

    def _result(self, op: Operation, status: str, **kw: Any) -> ItemResult:
        return ItemResult(self.upn, container_label(op.container), op.key, KINDS[op.op], _title(op), status,
                          source=op.source_file, **kw)

    async def run(self) -> None:
        by_container: dict[str, list[Operation]] = defaultdict(list)
        for op in self.ops:
            by_container[op.container].append(op)
        unreachable: dict[str, str] = {}
        for container, ops in by_container.items():
            count = ContainerCount(self.upn, container_label(container), source=len(ops))
            self.ctx.report.containers.append(count)
            try:
                self.ids[container] = await resolve_container(self.ctx.graph, self.target, container)
                await self._list(container, ops[0], count)
            except CHECK_ERRORS as exc:
                stop_on(exc)
                unreachable[container] = f"{container_label(container)} cannot be read: {why(exc)}"
        planned = {op.key for op in self.ops}
        sem = asyncio.Semaphore(8)

        async def one(op: Operation) -> None:
            async with sem:
                await self._check(op, unreachable.get(op.container))
            self.ctx.progress.advance(1)
        await asyncio.gather(*(one(op) for op in self.ops if self.ctx.sampled(op.key)))
        await self._extras(planned)

    async def _list(self, container: str, first: Operation, count: ContainerCount) -> None:
        params: dict[str, str] = {"$top": PAGE}
        if first.op == "create-task":
            params["$expand"] = "linkedResources"
        else:
            params["$expand"] = _KEY_EXPAND
        select = _LIGHT_SELECT[first.op] if self.ctx.percent is not None else _FULL_SELECT.get(first.op)
        if select:
            params["$select"] = select
        path = self.target.collection(first, self.ids[container])
        async for item in self.ctx.graph.pages(path, params, mailbox=self.upn):
            key = _key_of(item)
            if key is None:
                count.other += 1
                continue
            count.target_found += 1
            if all(f.item.get("id") != item.get("id") for f in self.found[key]):  # paging may repeat one
                self.found[key].append(_Found(container, item))

    async def _check(self, op: Operation, unreachable: str | None) -> None:
        if unreachable:
            self.ctx.results.append(self._result(op, "error", detail=unreachable))
            return
        copies = self.found.get(op.key, [])
        try:
            if not copies:
                moved = await self._elsewhere(op)
                if moved is None:
                    self.ctx.results.append(self._result(op, "missing", detail=state_note(self.ctx.state, op.key)))
                    return
                copies = [moved]
            here = [c for c in copies if c.container == op.container] or copies
            item = await self._full(op, here[0])
            if here[0].container == "(elsewhere)" and await self._deleted(item):
                self.ctx.results.append(self._result(op, "missing", url=item.get("webLink"),
                                                     detail="deleted: it is in Deleted Items"))
                return
            differences = await self._compare(op, item)
            if here[0].container != op.container:
                differences.insert(0, Difference("folder", container_label(op.container),
                                                 await self._folder_label(item)))
            self.ctx.results.append(self._result(op, "differs" if differences else "match",
                                                 differences=differences, url=item.get("webLink")))
            for extra in copies:
                if extra is not here[0]:
                    self.ctx.results.append(ItemResult(
                        self.upn, container_label(extra.container), op.key, KINDS[op.op], _item_title(extra.item),
                        "extra", detail="a second copy of this document", url=extra.item.get("webLink")))
        except CHECK_ERRORS as exc:
            stop_on(exc)
            self.ctx.results.append(self._result(op, "error", detail=why(exc)))

    async def _elsewhere(self, op: Operation) -> _Found | None:
        """A message moved out of its planned folder, found by its key mailbox-wide."""
        if op.op != "create-message":
            return None
        found = await self.target.lookup(op, self.ids[op.container])
        if not found:
            return None
        return _Found("(elsewhere)", {"id": found[0].id, "webLink": found[0].web_link})

    async def _full(self, op: Operation, found: _Found) -> dict[str, Any]:
        """The item with every compared property (listings are light in sample mode)."""
        if self.ctx.percent is None and found.container != "(elsewhere)":
            return found.item
        params: dict[str, str] = {}
        if op.op in _FULL_SELECT:
            params["$select"] = _FULL_SELECT[op.op]
        if op.op == "create-task":
            params["$expand"] = "linkedResources"
        response = await self.ctx.graph.request("GET", self.target.item_path(op, self.ids[op.container],
                                                                             found.item["id"]),
                                                params=params, mailbox=self.upn)
        if "id" not in response.json:
            raise PermanentGraphError(response.status, "UnexpectedResponse", "the item read back has no id",
                                      response.request_id)
        return response.json

    async def _deleted(self, item: dict[str, Any]) -> bool:
        """Whether a message found outside its folder is in Deleted Items (a user deleted it)."""
        if "deleteditems" not in self.folder_names:
            got = await self.ctx.graph.request("GET", graph_path("users", self.upn, "mailFolders", "deleteditems"),
                                               params={"$select": "id"}, mailbox=self.upn)
            self.folder_names["deleteditems"] = str(got.json.get("id"))
        return item.get("parentFolderId") == self.folder_names["deleteditems"]

    async def _folder_label(self, item: dict[str, Any]) -> str:
        folder = item.get("parentFolderId")
        if not folder:
            return "another folder"
        if folder not in self.folder_names:
            try:
                got = await self.ctx.graph.request("GET", graph_path("users", self.upn, "mailFolders", folder),
                                                   params={"$select": "displayName"}, mailbox=self.upn)
                self.folder_names[folder] = "folder " + str(got.json.get("displayName", folder))
            except PermanentGraphError:
                self.folder_names[folder] = "another folder"
        return self.folder_names[folder]

    async def _compare(self, op: Operation, item: dict[str, Any]) -> list[Difference]:
        settings = self.ctx.job.migrate
        large = [r for r in op.content if r.size > INLINE_ATTACHMENT_LIMIT]
        draft = op.op == "create-message" and is_draft(op.payload)
        if large and op.op == "create-message" and not draft and settings.large_attachments == "draft":
            draft = True  # the job's policy kept it a draft to take them
        if op.op == "create-message":
            differences = compare_message(op.payload, item, draft)
        else:
            differences = compare_item(op.payload, item, op.op)
        if op.op in ("create-message", "create-event") and (op.content or item.get("hasAttachments")):
            # where attachments over 3 MB went (exchange.MailboxTarget._large_policy): on a draft, on the item;
            # under "skip" the item itself was skipped; otherwise in the owner's OneDrive, linked from the body
            in_drive = [] if draft or settings.large_attachments == "skip" else large
            on_item = [r for r in op.content if r not in in_drive]
            blobs = await self._attachments(op, item["id"])
            differences += compare_content("attachments", [(r.name, r.size, r.sha256) for r in on_item], blobs)
            for n, ref in enumerate(in_drive, 1):
                differences += await self._onedrive(op, n, ref)
        return differences

    async def _attachments(self, op: Operation, item_id: str) -> list[Blob]:
        kind = "messages" if op.op == "create-message" else "events"
        path = graph_path("users", self.upn, kind, item_id, "attachments")
        blobs = []
        async for att in self.ctx.graph.pages(path, {}, mailbox=self.upn):
            raw = att.get("contentBytes")
            if raw is None:  # an item attachment, or a reference: no bytes to compare
                blobs.append(Blob(str(att.get("name")), int(att.get("size") or 0), None, bool(att.get("isInline"))))
                continue
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                data = b""
            blobs.append(Blob.of(str(att.get("name")), data, bool(att.get("isInline"))))
        return blobs

    async def _onedrive(self, op: Operation, n: int, ref: Any) -> list[Difference]:
        """An attachment over 3 MB put in the owner's OneDrive (``large_attachments = onedrive``)."""
        unid = op.key.split("/", 1)[1].split("#", 1)[0]
        path = f"{self.ctx.job.migrate.onedrive_folder}/{unid}/{n}-{drive_name(ref.name)}"
        address = graph_path("users", self.upn, "drive") + "/root:" + graph_path(*path.split("/")) + ":"
        label = f"onedrive[{ref.name}]"
        try:
            data = (await self.ctx.graph.request("GET", address + "/content", mailbox=self.upn)).content
        except PermanentGraphError as exc:
            if exc.status == 404:
                return [Difference(label, f"{ref.size:,} bytes at {path}", "(missing)")]
            raise
        blob = Blob.of(ref.name, data)
        return compare_content("onedrive", [(ref.name, ref.size, ref.sha256)], [blob])

    async def _extras(self, planned: set[str]) -> None:
        """Objects with a key the plan does not have: listed in the planned containers, or known to the state."""
        for key, copies in sorted(self.found.items()):
            if key in planned:
                continue
            for copy in copies:
                self.ctx.results.append(ItemResult(
                    self.upn, container_label(copy.container), key, _kind_of_container(copy.container),
                    _item_title(copy.item), "extra", detail="the source does not have this document (any more)",
                    url=copy.item.get("webLink")))
        for old in self.ctx.done_items(self.upn):
            if old.key in planned or old.key in self.found:
                continue
            probe = Operation(old.op, old.container, old.key, {})  # type: ignore[arg-type]
            try:
                container_id = self.ids.get(old.container) or await resolve_container(
                    self.ctx.graph, self.target, old.container)
                hits = await self.target.lookup(probe, container_id)
            except CHECK_ERRORS as exc:
                stop_on(exc)
                continue  # its container is gone: so is the item
            for hit in hits:
                self.ctx.results.append(ItemResult(
                    self.upn, container_label(old.container), old.key, KINDS[old.op], "(migrated earlier)", "extra",
                    detail="migrated by an earlier run; the source does not plan it any more", url=hit.web_link))


def _kind_of_container(container: str) -> str:
    rest = container.partition("/")[2]
    if rest.startswith("folder:"):
        return "message"
    return {"calendar": "event", "contacts": "contact"}.get(rest.split(":", 1)[0], "task")


# -- sites -----------------------------------------------------------------------------------------------------
class SiteCheck:
    """One site: its planned lists listed by NotesKey, its planned library folders listed, files downloaded."""

    def __init__(self, ctx: _Context, site: str, ops: list[Operation], rich: dict[str, set[str]]) -> None:
        self.ctx = ctx
        self.site = site
        self.ops = ops
        self.rich = rich
        self.sites = SiteTarget(ctx.graph)
        self.site_id = ""

    def _result(self, op: Operation, status: str, **kw: Any) -> ItemResult:
        return ItemResult(self.site, container_label(op.container), op.key, KINDS[op.op], _title(op), status,
                          source=op.source_file, **kw)

    def _fail_all(self, ops: list[Operation], why: str) -> None:
        for op in ops:
            if self.ctx.sampled(op.key):
                self.ctx.results.append(self._result(op, "error", detail=why))
                self.ctx.progress.advance(1)

    async def run(self) -> None:
        try:
            self.site_id = (await self.sites.site(self.site))[0]
        except CHECK_ERRORS as exc:
            stop_on(exc)
            self._fail_all(self.ops, f"site {self.site} cannot be read: {why(exc)}")
            return
        lists: dict[str, list[Operation]] = defaultdict(list)
        folders: dict[str, list[Operation]] = defaultdict(list)
        for op in self.ops:
            (lists if op.op == "create-list-item" else folders)[op.container].append(op)
        for container, ops in lists.items():
            await self._guard(ops, self._list(container, ops))
        libraries: dict[str, ContainerCount] = {}
        for container, ops in folders.items():
            label = container_label(container)
            count = libraries.get(label)
            if count is None:
                count = libraries[label] = ContainerCount(self.site, label)
                self.ctx.report.containers.append(count)
            count.source += len(ops)
            await self._guard(ops, self._folder(container, ops, count))

    async def _guard(self, ops: list[Operation], work: Any) -> None:
        try:
            await work
        except CHECK_ERRORS as exc:
            stop_on(exc)
            done = {(r.key, r.kind) for r in self.ctx.results}
            self._fail_all([op for op in ops if (op.key, KINDS[op.op]) not in done],
                           why(exc))

    async def _list(self, container: str, ops: list[Operation]) -> None:
        name = container.rsplit("/list:", 1)[1]
        count = ContainerCount(self.site, container_label(container), source=len(ops))
        self.ctx.report.containers.append(count)
        found_list = await self.sites.find_list(self.site_id, name)
        if found_list is None:
            for op in ops:
                if self.ctx.sampled(op.key):
                    self.ctx.results.append(self._result(op, "missing", detail=f"list {name} not found; "
                                                         + state_note(self.ctx.state, op.key)))
                    self.ctx.progress.advance(1)
            return
        list_id = found_list["id"]
        light = self.ctx.percent is not None
        params = {"$expand": f"fields($select={SOURCE_KEY_COLUMN},Title)" if light else "fields", "$top": "999",
                  "$select": "id,webUrl"}
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        async for item in self.ctx.graph.pages(self.sites.items_path(self.site_id, list_id), params):
            key = _key_of(item)
            if key is None:
                count.other += 1
                continue
            count.target_found += 1
            found[key].append(item)
        planned = {op.key for op in ops}
        for op in ops:
            if not self.ctx.sampled(op.key):
                continue
            await self._guard([op], self._item(op, list_id, found.get(op.key, []), light))
            self.ctx.progress.advance(1)
        for key, items in sorted(found.items()):
            for item in items if key not in planned else []:
                self.ctx.results.append(ItemResult(
                    self.site, count.container, key, "list item", _item_title(item), "extra",
                    detail="the source does not have this document (any more)", url=item.get("webUrl")))

    async def _item(self, op: Operation, list_id: str, copies: list[dict[str, Any]], light: bool) -> None:
        if not copies:
            self.ctx.results.append(self._result(op, "missing", detail=state_note(self.ctx.state, op.key)))
            return
        item = copies[0]
        expected, _ = await self.sites.resolve_fields(self.site_id, op.payload.get("fields") or {})
        have = item.get("fields") or {}
        # listings leave lookup values out beyond 12 lookup columns: such an item is read on its own
        lookups_left_out = any(name.endswith("LookupId") and name not in have
                               and name[:-len("LookupId")] not in have for name in expected)
        if light or lookups_left_out:
            item = (await self.ctx.graph.request("GET", self.sites.items_path(self.site_id, list_id, item["id"]),
                                                 params={"$expand": "fields"})).json
        differences = compare_fields(expected, item.get("fields") or {}, self.rich.get(op.container, set()))
        self.ctx.results.append(self._result(op, "differs" if differences else "match", differences=differences,
                                             url=item.get("webUrl")))
        for extra in copies[1:]:
            self.ctx.results.append(ItemResult(self.site, container_label(op.container), op.key, "list item",
                                               _item_title(extra), "extra", detail="a second copy of this document",
                                               url=extra.get("webUrl")))

    async def _drive(self, container: str) -> tuple[str, str]:
        rest = container[len(f"site:{self.site}/drive:"):]
        library, _, folder = rest.partition("/")
        if library == "Documents":
            return await self.sites.default_drive(self.site_id), folder
        found = await self.sites.find_list(self.site_id, library)
        if found is None:
            raise PermanentGraphError(404, "itemNotFound", f"library {library} not found")
        return await self.sites.library_drive(self.site_id, found["id"]), folder

    async def _folder(self, container: str, ops: list[Operation], count: ContainerCount) -> None:
        try:
            drive_id, folder = await self._drive(container)
        except PermanentGraphError as exc:
            if exc.status != 404:
                raise
            for op in ops:
                if self.ctx.sampled(op.key):
                    self.ctx.results.append(self._result(op, "missing", detail=f"{exc.message}; "
                                                         + state_note(self.ctx.state, op.key)))
                    self.ctx.progress.advance(1)
            return
        children: dict[str, dict[str, Any]] = {}
        try:
            async for child in self.ctx.graph.pages(self.sites.path_address(drive_id, folder) + "/children",
                                                    {"$select": "id,name,size,webUrl,file,fileSystemInfo"}):
                if "file" in child:
                    children[child["name"]] = child
        except PermanentGraphError as exc:
            if exc.status != 404:
                raise
        planned = {op.payload.get("name") for op in ops}
        count.target_found += sum(1 for name in children if name in planned)
        count.other += sum(1 for name in children if name not in planned)
        for op in ops:
            if not self.ctx.sampled(op.key):
                continue
            await self._guard([op], self._file(op, drive_id, children.get(op.payload.get("name", ""))))
            self.ctx.progress.advance(1)
        for name, child in sorted(children.items()):
            if name not in planned:
                self.ctx.results.append(ItemResult(
                    self.site, count.container, f"{folder}/{name}", "file", name, "extra",
                    detail="a file the source does not have (any more) in this document's folder",
                    url=child.get("webUrl")))

    async def _file(self, op: Operation, drive_id: str, child: dict[str, Any] | None) -> None:
        if child is None:
            self.ctx.results.append(self._result(op, "missing", detail=state_note(self.ctx.state, op.key)))
            return
        data = (await self.ctx.graph.request("GET", graph_path("drives", drive_id, "items", child["id"],
                                                               "content"))).content
        ref = op.content[0]
        differences = compare_content("content", [(child["name"], ref.size, ref.sha256)],
                                      [Blob.of(child["name"], data)])
        info = op.payload.get("fileSystemInfo")
        if info:
            differences += compare_value("fileSystemInfo", info, child.get("fileSystemInfo") or {})
        if op.payload.get("fields"):
            expected, _ = await self.sites.resolve_fields(self.site_id, op.payload["fields"])
            have = (await self.ctx.graph.request("GET", graph_path("drives", drive_id, "items", child["id"],
                                                                   "listItem", "fields"))).json
            differences += compare_fields(expected, have, set())
        self.ctx.results.append(self._result(op, "differs" if differences else "match", differences=differences,
                                             url=child.get("webUrl")))


# -- running it ------------------------------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rich_columns(ops: list[Operation]) -> dict[str, set[str]]:
    """Per list container, its rich-text columns (compared by their text: SharePoint rewrites the HTML)."""
    out: dict[str, set[str]] = {}
    for op in ops:
        if op.op == "ensure-list":
            container = f"{op.container}/list:{op.payload['displayName']}"
            out[container] = {c["name"] for c in op.payload.get("columns", [])
                              if (c.get("text") or {}).get("textType") == "richText"}
    return out


async def _reachable(graph: GraphClient, job: Job) -> None:
    """One read of the job's first target before anything else: when Graph cannot be reached at all (a wrong
    address, no network), the run stops at once instead of reporting every item as an error."""
    if not job.sources:
        return
    first = job.sources[0]
    path = graph_path("users", first.target) if first.kind == "mailbox" else site_address(first.target)
    try:
        await graph.request("GET", path, params={"$select": "id"})
    except TransientGraphError as exc:
        if exc.status == 0:  # the transport failed, after the request layer's retries
            raise FatalGraphError(0, exc.code, f"Graph cannot be reached at {job.target.graph_url}: {exc.message}",
                                  None, exc.where) from exc
    except CHECK_ERRORS as exc:
        stop_on(exc)  # a missing user or site, a 403: that target's items say so


async def verify_job(job: Job, graph: GraphClient, state: Any = None, *, percent: float | None = None,
                     seed: int = 0, progress: Progress | None = None) -> VerifyReport:
    """Compare every planned item of ``job`` with the target (``percent``: only a sample of documents)."""
    report = VerifyReport(job=job.name, started=_now(), sample_percent=percent, seed=seed if percent else None)
    ctx = _Context(job, graph, state, report, percent, seed, progress or Progress())
    plan = PlanResult()
    mailboxes: dict[str, list[Operation]] = defaultdict(list)
    sites: dict[str, list[Operation]] = defaultdict(list)
    site_ops: list[Operation] = []
    if percent is not None:
        report.notes.append(f"sample of {percent:g}% of documents (seed {seed}); extras are still searched in the "
                            "listed folders and lists")
    limit = asyncio.Semaphore(max(1, job.concurrency))

    async def guarded(check: Any) -> None:
        async with limit:
            await check.run()
    # a mailbox is checked as soon as its last source is planned, while the next ones are planned (in worker
    # processes for larger jobs, as in a migration); sites when every application is planned
    await _reachable(graph, job)
    sources_left = Counter(s.target.lower() for s in job.sources if s.kind == "mailbox")
    checks: list[asyncio.Task[None]] = []
    planning = plan_sources(job, identity_for(job), plan, workers=job.migrate.planning_workers(len(job.sources)))
    while (planned := await asyncio.to_thread(next, planning, None)) is not None:
        for op in planned.operations:
            if op.op in ITEM_KINDS:
                mailboxes[mailbox_of(op.container).lower()].append(op)
            elif op.op in ("create-list-item", "upload-file"):
                sites[target_of(op.container).removeprefix("site:")].append(op)
            if op.op == "ensure-list":
                site_ops.append(op)
        ctx.progress.add_total(sum(1 for op in planned.operations if op.op in KINDS and ctx.sampled(op.key)))
        upn = planned.source.target.lower()
        if planned.source.kind == "mailbox":
            sources_left[upn] -= 1
            if sources_left[upn] == 0 and upn in mailboxes:
                checks.append(asyncio.create_task(guarded(MailboxCheck(ctx, mailbox_of(mailboxes[upn][0].container),
                                                                       mailboxes.pop(upn)))))
    left_out = dict(plan.issues.left_out)
    left_out.update({f"form {form} has no mapping": n for form, n in plan.issues.unmapped_forms.items()})
    report.left_out = dict(sorted(left_out.items()))
    report.unreadable = list(plan.issues.errors)
    rich = _rich_columns(site_ops)
    checks += [asyncio.create_task(guarded(MailboxCheck(ctx, mailbox_of(ops[0].container), ops)))
               for ops in mailboxes.values()]
    checks += [asyncio.create_task(guarded(SiteCheck(ctx, site, ops, rich))) for site, ops in sites.items()]
    try:
        await asyncio.gather(*checks)
    finally:
        for task in checks:
            task.cancel()
    order = {s: n for n, s in enumerate(("error", "missing", "differs", "extra", "match"))}
    report.items = sorted(ctx.results, key=lambda r: (r.target, r.container, order[r.status], r.key))
    report.containers.sort(key=lambda c: (c.target, c.container))
    report.graph_requests = graph.stats.requests
    report.finished = _now()
    return report


def run_verify(job: Job, *, percent: float | None = None, seed: int = 0, progress: Progress | None = None,
               graph: GraphClient | None = None) -> VerifyReport:
    """``notes2m365 verify`` (blocking).  The state store is read (read-only) when the job has one."""
    state = open_state(job.state, read_only=True) if Path(job.state).is_file() else None

    async def go() -> VerifyReport:
        client = graph or GraphClient(job.target, graph_settings(job))
        try:
            return await verify_job(job, client, state, percent=percent, seed=seed, progress=progress)
        finally:
            if graph is None:
                await client.aclose()
    try:
        return asyncio.run(go())
    finally:
        if state is not None:
            state.close()

