"""Planned mailbox operations as Graph calls: Exchange Online mail, calendar, contacts and To Do.

This module knows Graph's shapes for a mailbox: which URL a container is,
what a create request carries (the plan's payload, the item's version, its
attachments), how an item is found again by its source key, and how it is
updated, replaced or completed.  It sends nothing itself except through
:class:`notes2m365.graph.GraphClient`, and keeps no state: the executor
decides what to do with an item and records the outcome.

Exactly-once rules encoded here (graph-semantics §0-§4):

* every message, event and contact carries its source key in a named
  extended property (§4) and its Notes ``sequence`` in a second one, so a
  lookup tells the current version from a stale one; To Do tasks carry the
  key in ``linkedResources.externalId`` (§3.3: no extended properties);
* a non-draft message cannot be edited (§1.9): a changed document is
  replaced: the new message is created first, then every other message with
  the same source key is deleted permanently (a copy in Deleted Items would
  still carry the key);
* attachments up to 3 MB travel in the create request (§2), the rest of
  the small ones one POST each; larger ones take an upload session on a
  draft, and on a non-draft follow the job's ``large_attachments`` policy;
* folders, contact folders and To Do lists are looked up by name before
  they are created, and a folder that already exists is reused (§1.8: the
  ``ErrorFolderExists`` status varies, so the code is what counts).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from html import escape, unescape
from typing import Any

from .errors import PermanentGraphError, SourceError, TransientGraphError
from .graph import GraphClient, GraphResponse, graph_path
from .job import MigrateSettings
from .mailplan import WELL_KNOWN
from .operations import (
    INLINE_ATTACHMENT_LIMIT,
    OUTLOOK_CHUNK,
    SOURCE_KEY_PROPERTY,
    ContentRef,
    Operation,
)
from .plan import ContentIndex

#: The Notes ``sequence`` an item was made from (named property in our GUID's namespace, §4).
VERSION_PROPERTY = "String {6c8f3f9e-5d1a-4f6b-9c2e-1d7a0b4e2f31} Name NotesSequence"
MESSAGE_FLAGS = "Integer 0x0E07"  # PR_MESSAGE_FLAGS: set at creation, "1" = read, not a draft (§1.2)
#: Raw bytes of attachments carried in one create request (base64 adds a third; Graph's request limit is 4 MB).
CREATE_BODY_BUDGET = 2_500_000
#: Requests up to this size may share a $batch (§7); bigger ones go alone.
BATCHABLE_BYTES = 256 * 1024
#: Files up to this size go to OneDrive with one PUT; larger ones through a drive upload session (§6).
ONEDRIVE_SIMPLE_LIMIT = 4 * 1024 * 1024
ONEDRIVE_CHUNK = 10 * 327_680  # a multiple of 320 KiB (§6)
INVALID_DRIVE_CHARS = set('"*:<>?/\\|#%')
WELL_KNOWN_FOLDERS = frozenset(WELL_KNOWN.values()) | {"msgfolderroot", "archive", "outbox"}
ATTACHMENT_HREF = re.compile(r' href="attachment:([^"]*)"')
ITEM_KINDS = ("create-message", "create-event", "create-contact", "create-task")
ENSURE_KINDS = ("ensure-mail-folder", "ensure-contact-folder", "ensure-todo-list")


class ContainerUnavailable(Exception):
    """The folder, list or calendar an item goes into could not be created or found."""


@dataclass(frozen=True)
class Found:
    """An item found again by its source key."""

    id: str
    version: str | None
    web_link: str | None = None  # where its owner opens it (messages, events)


@dataclass
class Prepared:
    """What creating an item takes: the request, and what is left to do once it exists."""

    method: str
    path: str
    body: dict[str, Any]
    later: list[ContentRef] = field(default_factory=list)  # small attachments posted one by one
    sessions: list[ContentRef] = field(default_factory=list)  # large ones through an upload session
    skip_reason: str | None = None  # the large-attachment policy says: leave this item out
    notes: list[str] = field(default_factory=list)  # what the item's record should say (kept as draft...)
    size: int = 0

    @property
    def batchable(self) -> bool:
        return not self.later and not self.sessions and self.size <= BATCHABLE_BYTES


def quote(value: str) -> str:
    """A string literal for ``$filter`` (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def mailbox_of(container: str) -> str:
    """``mailbox:UPN/...`` → UPN."""
    return container.split("/", 1)[0].removeprefix("mailbox:")


def _users(upn: str, *rest: str) -> str:
    return graph_path("users", upn, *rest)


def is_draft(payload: dict[str, Any]) -> bool:
    props = payload.get("singleValueExtendedProperties") or []
    for prop in props:
        if prop.get("id") == MESSAGE_FLAGS:
            try:
                return bool(int(str(prop.get("value")), 0) & 0x8)
            except ValueError:
                return True
    return True  # without PR_MESSAGE_FLAGS Graph creates a draft (§1.1)


def attachment_json(ref: ContentRef, data: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.type": "#microsoft.graph.fileAttachment", "name": ref.name,
                           "contentType": ref.content_type, "contentBytes": base64.b64encode(data).decode("ascii")}
    if ref.inline and ref.content_id:
        out["isInline"] = True
        out["contentId"] = ref.content_id
    return out


def drive_name(name: str) -> str:
    """A file name OneDrive accepts (invalid characters replaced, no trailing dot or space)."""
    clean = "".join("_" if ch in INVALID_DRIVE_CHARS or ord(ch) < 32 else ch for ch in name).strip(" .")
    return clean or "attachment"


class MailboxTarget:
    """Graph calls for the planned operations of one or more mailboxes (no state of its own but caches)."""

    def __init__(self, graph: GraphClient, settings: MigrateSettings) -> None:
        self.graph = graph
        self.settings = settings

    # -- containers ---------------------------------------------------------------------------------------
    @staticmethod
    def created_container(op: Operation) -> str:
        """The logical container an ensure operation creates (``mailbox:U/folder:A/B``, ``…/todo:Name``)."""
        upn = mailbox_of(op.container)
        part = op.key.split("#", 1)[1]
        kind, _, name = part.partition("/")
        if kind == "folder":
            return f"mailbox:{upn}/folder:{name}"
        if kind == "todo":
            return f"mailbox:{upn}/todo:{op.payload['displayName']}"
        return f"mailbox:{upn}/contacts:{op.payload['displayName']}"

    @staticmethod
    def well_known(container: str) -> str | None:
        """The Graph id of a container that needs no creating (a well-known folder), else None."""
        _, _, rest = container.partition("/")
        if rest.startswith("folder:"):
            name = rest[len("folder:"):]
            return name if name in WELL_KNOWN_FOLDERS else None
        return None

    async def ensure(self, op: Operation, parent_id: str | None) -> str:
        """The Graph id of the folder, contact folder or To Do list ``op`` describes, created if missing."""
        upn = mailbox_of(op.container)
        name = op.payload["displayName"]
        if op.op == "ensure-mail-folder":
            base = _users(upn, "mailFolders", parent_id or "msgfolderroot", "childFolders")
            found = await self._by_name(base, name, upn)
            if found:
                return found
            try:
                return (await self.graph.request("POST", base, json={"displayName": name}, mailbox=upn)).json["id"]
            except PermanentGraphError as exc:
                if exc.code != "ErrorFolderExists":  # status 409 or 400 (§1.8): the code is what counts
                    raise
                again = await self._by_name(base, name, upn)
                if again is None:
                    raise
                return again
        if op.op == "ensure-contact-folder":
            base = _users(upn, "contactFolders")
        else:
            base = _users(upn, "todo", "lists")
        found = await self._by_name(base, name, upn)
        if found:
            return found
        return (await self.graph.request("POST", base, json={"displayName": name}, mailbox=upn)).json["id"]

    async def _by_name(self, base: str, name: str, upn: str) -> str | None:
        todo = "/todo/" in base
        params = {"$select": "id,displayName"}
        if not todo:  # To Do lists: no $filter on displayName documented; read them all
            params["$filter"] = f"displayName eq {quote(name)}"
        async for item in self._pages(base, params, upn):
            if item.get("displayName", "").casefold() == name.casefold():
                return item["id"]
        return None

    async def default_todo_list(self, upn: str) -> str:
        async for item in self._pages(_users(upn, "todo", "lists"), {}, upn):
            if item.get("wellknownListName") == "defaultList":
                return item["id"]
        raise ContainerUnavailable(f"{upn}: the mailbox has no default To Do list")

    def _pages(self, path: str, params: dict[str, str], upn: str) -> Any:
        return self.graph.pages(path, params, mailbox=upn)

    def collection(self, op: Operation, container_id: str) -> str:
        """Where items of ``op`` are created: ``/users/U/mailFolders/{id}/messages`` and the like."""
        upn = mailbox_of(op.container)
        if op.op == "create-message":
            return _users(upn, "mailFolders", container_id, "messages")
        if op.op == "create-event":
            return _users(upn, "events")
        if op.op == "create-contact":
            return _users(upn, "contactFolders", container_id, "contacts") if container_id != "contacts" \
                else _users(upn, "contacts")
        return _users(upn, "todo", "lists", container_id, "tasks")

    def item_path(self, op: Operation, container_id: str, item_id: str) -> str:
        upn = mailbox_of(op.container)
        if op.op == "create-task":
            return _users(upn, "todo", "lists", container_id, "tasks", item_id)
        kind = {"create-message": "messages", "create-event": "events", "create-contact": "contacts"}[op.op]
        return _users(upn, kind, item_id)

    # -- creating -----------------------------------------------------------------------------------------
    def prepare(self, op: Operation, container_id: str, content: ContentIndex) -> Prepared:
        """The create request of ``op`` (payload, version, attachments that fit), and what remains after it."""
        body = dict(op.payload)
        if op.op != "create-task" and op.sequence is not None:
            body["singleValueExtendedProperties"] = [*body.get("singleValueExtendedProperties", []),
                                                     {"id": VERSION_PROPERTY, "value": str(op.sequence)}]
        prepared = Prepared("POST", self.collection(op, container_id), body)
        if not op.content:  # most items (a plain message): nothing to attach, link or retarget
            prepared.size = len(str(body.get("body", {}).get("content", "")))
            return prepared
        budget = CREATE_BODY_BUDGET
        inline: list[dict[str, Any]] = []
        for ref in op.content:
            if ref.size > INLINE_ATTACHMENT_LIMIT:
                prepared.sessions.append(ref)
            elif ref.size <= budget:
                inline.append(attachment_json(ref, content.read(ref)))
                budget -= ref.size
            else:
                prepared.later.append(ref)
        if inline:
            body["attachments"] = inline
        prepared.size = len(str(body.get("body", {}).get("content", ""))) + (CREATE_BODY_BUDGET - budget)
        if prepared.sessions:
            self._large_policy(op, prepared)
        linked = {r.name for r in self._linked(prepared, op)}
        self._retarget(prepared, {r.name: None for r in op.content if r.name not in linked})
        return prepared

    @staticmethod
    def _retarget(prepared: Prepared, urls: dict[str, str | None]) -> None:
        """Rich text links to attachments (``href="attachment:NAME"``): to the file's URL, or (a file attached
        to the item itself, which a link cannot point at) no href, the name staying as text."""
        body = prepared.body.get("body")
        if not urls or not isinstance(body, dict) or "attachment:" not in str(body.get("content", "")):
            return

        def swap(m: re.Match[str]) -> str:
            name = unescape(m.group(1))
            if name not in urls:
                return m.group(0)
            url = urls[name]
            return f' href="{escape(url)}"' if url else ""
        prepared.body["body"] = {**body, "content": ATTACHMENT_HREF.sub(swap, str(body["content"]))}

    def _large_policy(self, op: Operation, prepared: Prepared) -> None:
        """Attachments over 3 MB: an upload session on a draft; otherwise the job's policy (§2)."""
        names = ", ".join(f"'{r.name}' ({r.size} bytes)" for r in prepared.sessions)
        if op.op == "create-message" and is_draft(prepared.body):
            return  # a draft takes upload sessions
        policy = self.settings.large_attachments
        if policy == "skip":
            prepared.skip_reason = (f"attachments over 3 MB on a non-draft item ({names}); "
                                    "large_attachments = skip")
        elif policy == "draft" and op.op == "create-message":
            props = [p for p in prepared.body.get("singleValueExtendedProperties", []) if p.get("id") != MESSAGE_FLAGS]
            prepared.body["singleValueExtendedProperties"] = props
            prepared.notes.append(f"kept as a draft to take attachments over 3 MB: {names}")
        else:  # onedrive (and events under "draft": an event is never a draft)
            prepared.notes.append(f"attachments over 3 MB stored in OneDrive and linked: {names}")

    async def link_large_files(self, op: Operation, prepared: Prepared, content: ContentIndex) -> None:
        """Put the item's large files in the owner's OneDrive and link them at the end of its body."""
        if not prepared.sessions or not any(n.startswith("attachments over 3 MB stored") for n in prepared.notes):
            return
        upn = mailbox_of(op.container)
        unid = op.key.split("/", 1)[1].split("#", 1)[0]
        rows = []
        urls: dict[str, str | None] = {}
        for n, ref in enumerate(prepared.sessions, 1):
            name = drive_name(ref.name)
            path = f"{self.settings.onedrive_folder}/{unid}/{n}-{name}"
            item = await self._upload_to_onedrive(upn, path, content.read(ref))
            urls[ref.name] = item.get("webUrl") or None
            rows.append(f'<li><a href="{escape(item.get("webUrl", ""))}">{escape(ref.name)}</a> '
                        f'({ref.size:,} bytes)</li>')
        self._retarget(prepared, urls)
        block = ('<div data-notes="onedrive-attachments"><p>Attachments stored in OneDrive by the migration:</p>'
                 f'<ul>{"".join(rows)}</ul></div>')
        body = dict(prepared.body.get("body") or {"contentType": "html", "content": ""})
        if body.get("contentType", "html").lower() == "html":
            body["content"] = str(body.get("content", "")) + "\n" + block
        else:
            body["content"] = str(body.get("content", "")) + "\n\nAttachments stored in OneDrive: " + ", ".join(
                r.name for r in prepared.sessions)
        prepared.body["body"] = body
        prepared.sessions = []

    async def _upload_to_onedrive(self, upn: str, path: str, data: bytes) -> dict[str, Any]:
        segments = [s for s in path.split("/") if s]
        drive = _users(upn, "drive") + "/root:" + graph_path(*segments) + ":"  # path addressing (§6)
        if len(data) <= ONEDRIVE_SIMPLE_LIMIT:
            # PUT replaces: sending it twice after a lost answer leaves one file (idempotent)
            return (await self.graph.request("PUT", drive + "/content", content=data,
                                             params={"@microsoft.graph.conflictBehavior": "replace"},
                                             headers={"Content-Type": "application/octet-stream"},
                                             mailbox=upn)).json
        session = (await self.graph.request(
            "POST", drive + "/createUploadSession", json={"item": {"@microsoft.graph.conflictBehavior": "replace"}},
            mailbox=upn, idempotent=True)).json  # a second session replaces the same file
        url = session["uploadUrl"]
        response: GraphResponse | None = None
        for start in range(0, len(data), ONEDRIVE_CHUNK):
            try:
                response = await self.graph.put_chunk(url, data[start:start + ONEDRIVE_CHUNK], start, len(data))
            except PermanentGraphError as exc:
                if exc.status not in (404, 416):
                    raise
                # a chunk re-sent after a lost answer: the item is retried, and the file uploaded again (replace)
                raise TransientGraphError(exc.status, "UploadInterrupted", f"'{path}': {exc.message}",
                                          exc.request_id, exc.where, maybe_committed=True) from exc
        return response.json if response is not None else {}

    async def create(self, prepared: Prepared, upn: str) -> tuple[str, str | None]:
        """The new item's id and ``webLink`` (messages and events have one)."""
        response = await self.graph.request(prepared.method, prepared.path, json=prepared.body, mailbox=upn)
        return response.json["id"], response.json.get("webLink")

    def batch_item(self, item_id: str, prepared: Prepared) -> dict[str, Any]:
        return {"id": item_id, "method": prepared.method, "url": prepared.path, "body": prepared.body,
                "headers": {"Content-Type": "application/json"}}

    async def complete(self, op: Operation, container_id: str, item_id: str, prepared: Prepared,
                       content: ContentIndex, fresh: bool) -> None:
        """Send what the create request did not carry: small attachments one by one, large ones through
        upload sessions.  ``fresh`` = just created with every inline attachment; otherwise the item's
        attachments are read first and only the missing ones are sent."""
        todo = prepared.later + prepared.sessions
        if not fresh:
            todo = await self._missing_attachments(op, item_id, [r for r in op.content if r not in
                                                                 self._linked(prepared, op)])
        if not todo:
            return
        upn = mailbox_of(op.container)
        base = self.item_path(op, container_id, item_id) + "/attachments"
        for ref in todo:
            data = content.read(ref)
            if ref.size <= INLINE_ATTACHMENT_LIMIT:
                await self.graph.request("POST", base, json=attachment_json(ref, data), mailbox=upn)
            else:
                await self._upload_attachment(upn, base, ref, data)

    @staticmethod
    def _linked(prepared: Prepared, op: Operation) -> list[ContentRef]:
        """Content that went to OneDrive instead of being attached."""
        if any(n.startswith("attachments over 3 MB stored") for n in prepared.notes):
            return [r for r in op.content if r.size > INLINE_ATTACHMENT_LIMIT]
        return []

    async def _missing_attachments(self, op: Operation, item_id: str, expected: list[ContentRef]) -> list[ContentRef]:
        if not expected:
            return []
        upn = mailbox_of(op.container)
        path = self.item_path(op, "", item_id) + "/attachments"
        have: dict[tuple[str, int], int] = {}
        async for att in self._pages(path, {"$select": "id,name,size"}, upn):
            k = (att.get("name", ""), int(att.get("size") or 0))
            have[k] = have.get(k, 0) + 1
        missing = []
        for ref in expected:
            k = (ref.name, ref.size)
            if have.get(k):
                have[k] -= 1
            else:
                missing.append(ref)
        return missing

    async def _upload_attachment(self, upn: str, base: str, ref: ContentRef, data: bytes) -> None:
        """An Outlook attachment upload session: chunks of at most 4 MB, in order, no bearer token (§2).

        The session URL is a credential: it is never logged or stored, so a crash restarts the upload."""
        spec: dict[str, Any] = {"attachmentType": "file", "name": ref.name, "size": ref.size,
                                "contentType": ref.content_type}
        session = (await self.graph.request("POST", base + "/createUploadSession",
                                            json={"AttachmentItem": spec}, mailbox=upn)).json
        url = session["uploadUrl"]
        start = 0
        while start < len(data):
            chunk = data[start:start + OUTLOOK_CHUNK]
            try:
                response = await self.graph.put_chunk(url, chunk, start, len(data), mailbox=upn)
            except PermanentGraphError as exc:
                if exc.status not in (404, 416):
                    raise
                # A chunk re-sent after a lost answer meets 416 (already received) or 404 (the session completed
                # or expired); an Outlook session has no documented status GET, so the item is retried: it is
                # looked up, and an attachment that is still missing gets a new session.
                raise TransientGraphError(exc.status, "UploadInterrupted", f"'{ref.name}': {exc.message}",
                                          exc.request_id, exc.where, maybe_committed=True) from exc
            if response.status == 201:
                return
            ranges = response.json.get("nextExpectedRanges") or []
            start = int(str(ranges[0]).split("-", 1)[0]) if ranges else start + len(chunk)
        raise PermanentGraphError(0, "UploadIncomplete", f"upload of '{ref.name}' ended without 201")

    # -- finding, updating, deleting ----------------------------------------------------------------------
    async def lookup(self, op: Operation, container_id: str) -> list[Found]:
        """Every item of the mailbox carrying ``op``'s source key, with the sequence it was made from."""
        upn = mailbox_of(op.container)
        if op.op == "create-task":
            found = []
            async for task in self._pages(self.collection(op, container_id), {"$expand": "linkedResources",
                                                                              "$select": "id"}, upn):
                if any(r.get("externalId") == op.key for r in task.get("linkedResources") or []) \
                        and all(f.id != task["id"] for f in found):  # offset paging may show one twice
                    found.append(Found(task["id"], None))
            return found
        if op.op == "create-message":
            where = _users(upn, "messages")  # every folder: the user may have moved it since
        elif op.op == "create-event":
            where = _users(upn, "events")
        else:
            where = self.collection(op, container_id)
        params = {
            "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq {quote(SOURCE_KEY_PROPERTY)} "
                       f"and ep/value eq {quote(op.key)})",
            "$select": "id" if op.op == "create-contact" else "id,webLink",
            "$expand": f"singleValueExtendedProperties($filter=id eq {quote(VERSION_PROPERTY)})",
        }
        found = []
        async for item in self._pages(where, params, upn):
            version = next((p.get("value") for p in item.get("singleValueExtendedProperties") or []
                            if p.get("id", "").lower() == VERSION_PROPERTY.lower()), None)
            found.append(Found(item["id"], version, item.get("webLink")))
        return found

    async def update(self, op: Operation, container_id: str, item_id: str) -> None:
        """Bring an event, contact or task up to date in place (those can be edited, unlike sent mail)."""
        if op.op == "create-message":
            raise PermanentGraphError(0, "NotUpdatable", "a non-draft message cannot be updated; replace it")
        body = {k: v for k, v in op.payload.items() if k not in ("linkedResources", "attachments")}
        if op.op != "create-task" and op.sequence is not None:
            body["singleValueExtendedProperties"] = [*body.get("singleValueExtendedProperties", []),
                                                     {"id": VERSION_PROPERTY, "value": str(op.sequence)}]
        await self.graph.request("PATCH", self.item_path(op, container_id, item_id), json=body,
                                 mailbox=mailbox_of(op.container))

    async def delete(self, op: Operation, container_id: str, item_id: str) -> None:
        """Remove a stale or duplicate item; a message for good (a copy in Deleted Items keeps the key)."""
        upn = mailbox_of(op.container)
        path = self.item_path(op, container_id, item_id)
        try:
            if op.op == "create-message":
                await self.graph.request("POST", path + "/permanentDelete", mailbox=upn, idempotent=True)
            else:
                await self.graph.request("DELETE", path, mailbox=upn)
        except PermanentGraphError as exc:
            if exc.status != 404:
                raise

    def check_content(self, op: Operation, content: ContentIndex) -> None:
        """Fail early, before anything is sent, when planned content cannot be read any more."""
        for ref in op.content:
            if ref.sha256 not in content:
                raise SourceError(f"{op.key}: content '{ref.name}' is not in the source any more")
