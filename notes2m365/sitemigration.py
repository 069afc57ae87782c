"""The executor's half for application sources: lists, files and list items, then the doclink pass.

Driven by :class:`notes2m365.executor.Migration` (and like it the only
writer of state for what it does).  Per application source: the lists come
first (provisioned, or found and checked: a list or column that cannot take
the items fails its ensure operation, and with it every item of that list,
before anything is written); then files and items in plan order through a
few workers, each waiting for what it depends on (an item for the files it
links to, a response for its parent); each one marked started before its
request and done with its Graph id and URL when Graph confirms it:

* a file is found again by its path (uploads replace, so sending one twice
  leaves one file); a library file's columns are written on its list item;
* a list item is found again by its indexed ``NotesKey``; a changed document
  is updated in place (list items can be edited); a duplicate left by a lost
  answer is deleted;
* ``attachment:`` and ``cid:`` references in rich text become the uploaded
  files' URLs, a response's ``NotesParent`` lookup points at its parent item,
  and person values become site user ids;
* Notes doclinks (``notes:///…``) whose target is migrated (now, or by an
  earlier run or wave sharing the state store) become that target's URL;
  the others are recorded, and :meth:`SiteRun.resolve_links` rewrites them
  once a later run brings their target.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from html import escape, unescape
from typing import TYPE_CHECKING, Any

from tenacity import AsyncRetrying

from .errors import FatalGraphError, PermanentGraphError, SinkError, SourceError, TransientGraphError
from .exchange import ContainerUnavailable
from .operations import LINKS_KEY, Operation
from .plan import ContentIndex, SourcePlan
from .sharepoint import PARENT_COLUMN, ListInfo, SiteTarget

if TYPE_CHECKING:
    from .executor import Migration

log = logging.getLogger("notes2m365.migrate")

#: A rendered Notes doclink (richtext.py): its href, and the replica and document it points at.
#: A Notes doclink as richtext.py renders it, ``notes:///REPLICA/VIEW/DOCUMENT`` (also with a server); read
#: from the href alone, so the later link pass works even if SharePoint drops the data-* attributes.
DOCLINK = re.compile(r'href="notes://[^/"]*/([0-9A-Fa-f]{16})/(?:[0-9A-Fa-f]{32}/|0/)?([0-9A-Fa-f]{32})"')
REFERENCE = re.compile(r'(href|src)="((?:attachment|cid):[^"]*)"')


def site_of(container: str) -> str:
    """``site:HOST:/sites/x/list:Name`` → ``HOST:/sites/x``."""
    rest = container[len("site:"):]
    return re.split(r"/(?:list|drive):", rest, maxsplit=1)[0]


def rewrite_doclinks(html: str, url_of: Any) -> tuple[str, set[str]]:
    """Doclinks whose target has a URL point there; returns the new HTML and the keys still unresolved."""
    missing: set[str] = set()

    def swap(m: re.Match[str]) -> str:
        key = f"{m.group(1).upper()}/{m.group(2).upper()}"
        url = url_of(key)
        if url is None:
            missing.add(key)
            return m.group(0)
        return f'href="{escape(url)}"'
    return DOCLINK.sub(swap, html), missing


class SiteRun:
    """Application sources of one run (caches of sites, lists and drives shared between sources)."""

    def __init__(self, migration: Migration) -> None:
        self.m = migration
        self.sites = SiteTarget(migration.graph)
        self._site_ids: dict[str, str] = {}
        self._lists: dict[str, ListInfo] = {}
        self._drives: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    # -- containers ---------------------------------------------------------------------------------------
    async def _site(self, site: str) -> str:
        async with self._locks.setdefault("site:" + site, asyncio.Lock()):
            if site not in self._site_ids:
                known = self.m.state.container_id("site:" + site)
                if known is None:
                    known, _ = await self.sites.site(site)
                    self.m.state.set_container_id("site:" + site, known)
                self._site_ids[site] = known
            return self._site_ids[site]

    async def _drive(self, container: str) -> tuple[str, str, str]:
        """(site id, drive id, folder path) of an ``upload-file`` container."""
        site = site_of(container)
        rest = container[len("site:" + site + "/drive:"):]
        name, _, folder = rest.partition("/")
        site_id = await self._site(site)
        key = f"site:{site}/drive:{name}"
        async with self._locks.setdefault(key, asyncio.Lock()):
            if key not in self._drives:
                if name == "Documents":  # the site's default library
                    self._drives[key] = await self.sites.default_drive(site_id)
                else:
                    raise ContainerUnavailable(f"{key}: library not provisioned (its list failed; see failures)")
        return site_id, self._drives[key], folder

    async def _ensure_list(self, op: Operation, needs_parent: bool) -> str:
        # Several sources may share a list (and run at once): one ensure at a time per list, so the second
        # finds the list the first created instead of failing on 409 nameAlreadyExists.
        container = f"site:{site_of(op.container)}/list:{op.payload['displayName']}"
        async with self._locks.setdefault("list:" + container.casefold(), asyncio.Lock()):
            return await self._ensure_list_now(op, needs_parent)

    async def _ensure_list_now(self, op: Operation, needs_parent: bool) -> str:
        site = site_of(op.container)
        container = f"site:{site}/list:{op.payload['displayName']}"
        prev = self.m.state.get(op.key)
        self.m.state.begin(op.key, op.op, op.container, op.content_hash, op.sequence, self.m.run_id)
        try:
            site_id = await self._site(site)
            async for attempt in AsyncRetrying(**self.m.item_retry):
                with attempt:
                    info = await self.sites.ensure_list(op, site_id)
                    if needs_parent:
                        info = await self.sites.ensure_parent_column(site_id, info)
        except FatalGraphError:
            self.m.state.failed(op.key, "fatal error: see the run's log", permanent=False)
            raise
        except (SinkError, ContainerUnavailable) as exc:
            self.m.fail(op, exc)
            return "failed"
        self._lists[container] = info
        if info.drive_id:
            self._drives[f"site:{site}/drive:{op.payload['displayName']}"] = info.drive_id
        self.m.state.set_container_id(container, info.id)
        self.m.state.done(op.key, info.id, info.web_url or None)
        return "unchanged" if prev is not None and prev.status == "done" else "created"

    # -- one source ---------------------------------------------------------------------------------------
    async def run(self, label: str, planned: SourcePlan) -> None:
        ops = planned.operations
        parents = {op.container for op in ops if op.op == "create-list-item" and "ParentKey" in op.payload["fields"]}
        failed: set[str] = set()
        for op in ops:
            if op.op == "ensure-list" and not self.m.stopping:
                needs = f"site:{site_of(op.container)}/list:{op.payload['displayName']}" in parents
                outcome = await self._ensure_list(op, needs)
                if outcome == "failed":
                    failed.add(op.key)
                self.m.finish_ensure(label, op, outcome)
        work = [op for op in ops if op.op in ("create-list-item", "upload-file")]
        done: dict[str, asyncio.Event] = {op.key: asyncio.Event() for op in work}
        # a file an item links to waits for that item's list too: nothing is written for a list that failed
        ensures = {op.key for op in ops if op.op == "ensure-list"}
        lists_of: dict[str, set[str]] = {}
        for op in work:
            if op.op == "create-list-item":
                for dep in op.depends_on:
                    lists_of.setdefault(dep, set()).update(d for d in op.depends_on if d in ensures)
        queue: asyncio.Queue[Operation | None] = asyncio.Queue()
        for op in work:
            queue.put_nowait(op)
        workers = self.m.settings.site_workers
        for _ in range(workers):
            queue.put_nowait(None)

        async def worker() -> None:
            while (op := await queue.get()) is not None:
                try:
                    if self.m.stopping:
                        self.m.finished(label, op, "not_attempted")
                        failed.add(op.key)
                        continue
                    for dep in op.depends_on:
                        if dep in done:
                            await done[dep].wait()
                    blocked = [d for d in (*op.depends_on, *sorted(lists_of.get(op.key, ()))) if d in failed]
                    outcome = await self._one(op, planned.content, blocked)
                    if outcome in ("failed", "not_attempted"):
                        failed.add(op.key)
                    self.m.finished(label, op, outcome)
                finally:
                    done[op.key].set()

        tasks = [asyncio.create_task(worker()) for _ in range(workers)]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _one(self, op: Operation, content: ContentIndex, blocked: list[str]) -> str:
        from .executor import decide

        prev = self.m.state.get(op.key)
        mode = decide(op, prev, self.m.retry_failed)
        # planned somewhere else than where it went (it gained or lost Readers fields, the job's sites changed)
        moved = prev is not None and prev.container != op.container and prev.target_id is not None
        if mode == "unchanged" and moved:
            mode = "changed"
        if mode == "unchanged":
            return "unchanged"
        if mode == "failed-before":
            return "failed"
        if moved:  # the old copy goes first (never a restricted document left on an open site), while the
            try:  # state still says where it is: begin() records the new place
                await self._remove_moved(op, prev)
            except FatalGraphError:
                raise
            except (SinkError, ContainerUnavailable) as exc:
                self.m.fail(op, exc)
                return "failed"
        self.m.state.begin(op.key, op.op, op.container, op.content_hash, op.sequence, self.m.run_id)
        if blocked:  # an item never links to a file that is not there: it waits for the next run
            self.m.fail(op, ContainerUnavailable(f"waits for {', '.join(blocked)}, which failed"))
            return "failed"
        try:
            async for attempt in AsyncRetrying(**self.m.item_retry):
                with attempt:
                    now = mode if attempt.retry_state.attempt_number == 1 else "resume"
                    if op.op == "upload-file":
                        outcome, item_id, url, notes = await self._file(op, content, now)
                    else:
                        outcome, item_id, url, notes = await self._list_item(op, now, prev)
        except FatalGraphError:
            self.m.state.failed(op.key, "fatal error: see the run's log", permanent=False)
            raise
        except (SinkError, SourceError, ContainerUnavailable) as exc:
            self.m.fail(op, exc)
            return "failed"
        self.m.state.done(op.key, item_id, url)
        for note in notes:
            self.m.summary.notes.append((op.key, note))
        log.info("%s %s %s: %s", op.op, op.key, outcome, item_id)
        return outcome

    async def _remove_moved(self, op: Operation, prev: Any) -> None:
        """Delete the copy of ``op``'s document (or file) at the place the state records."""
        site = site_of(prev.container)
        site_id = await self._site(site)
        if prev.op == "create-list-item":
            list_id = self.m.state.container_id(prev.container)
            if list_id is not None:
                await self.sites.delete_item(site_id, list_id, prev.target_id)
        elif prev.op == "upload-file":
            library = prev.container[len(f"site:{site}/drive:"):].partition("/")[0]
            if library == "Documents":
                drive_id = await self.sites.default_drive(site_id)
            else:
                list_id = self.m.state.container_id(f"site:{site}/list:{library}")
                drive_id = await self.sites.library_drive(site_id, list_id) if list_id else None
            if drive_id is not None:
                await self.sites.delete_file(drive_id, prev.target_id)
        log.info("%s %s: moved from %s to %s; removed %s there", op.op, op.key, prev.container, op.container,
                 prev.target_id)

    # -- files --------------------------------------------------------------------------------------------
    async def _file(self, op: Operation, content: ContentIndex, mode: str) -> tuple[str, str, str | None, list[str]]:
        site_id, drive_id, folder = await self._drive(op.container)
        ref = op.content[0]
        path = f"{folder}/{op.payload['name']}" if folder else op.payload["name"]
        item = None
        outcome = "created"
        if mode != "fresh":
            found = await self.sites.find_file(drive_id, path)
            if found is not None and mode == "resume" and int(found.get("size") or -1) == ref.size:
                item, outcome = found, "recovered"
            elif found is not None:
                outcome = "updated"
        if item is None:
            item = await self.sites.upload_file(drive_id, path, content.read(ref), op.payload.get("fileSystemInfo"))
        notes: list[str] = []
        if op.payload.get("fields"):  # a library file's columns live on its list item
            fields, notes = await self.sites.resolve_fields(site_id, op.payload["fields"])
            await self.sites.set_file_fields(drive_id, item["id"], fields)
        return outcome, item["id"], item.get("webUrl"), notes

    # -- list items ---------------------------------------------------------------------------------------
    def _container(self, op: Operation) -> ListInfo:
        info = self._lists.get(op.container)
        if info is None:
            raise ContainerUnavailable(f"{op.container}: not provisioned (its list failed; see failures)")
        return info

    def _fields(self, op: Operation, info: ListInfo) -> tuple[dict[str, Any], set[str]]:
        """The item's fields with references rewritten; the doclink targets not migrated yet."""
        links: dict[str, str] = op.payload.get(LINKS_KEY) or {}
        state = self.m.state
        fields: dict[str, Any] = {}
        missing: set[str] = set()
        for name, value in op.payload["fields"].items():
            if isinstance(value, str) and ("attachment:" in value or "cid:" in value):
                def swap(m: re.Match[str]) -> str:
                    target = links.get(unescape(m.group(2)))
                    url = state.target_url(target) if target else None
                    return f'{m.group(1)}="{escape(url)}"' if url else m.group(0)
                value = REFERENCE.sub(swap, value)
            if isinstance(value, str) and "notes:///" in value:
                value, unresolved = rewrite_doclinks(value, state.target_url)
                missing |= {f"{name}\0{key}" for key in unresolved}
            fields[name] = value
        parent = fields.get("ParentKey")
        if isinstance(parent, str) and PARENT_COLUMN in info.columns:
            found = state.get(parent)
            if found is not None and found.status == "done" and found.container == op.container and found.target_id:
                fields[PARENT_COLUMN + "LookupId"] = str(found.target_id)
        return fields, missing

    async def _list_item(self, op: Operation, mode: str, prev: Any = None) -> tuple[str, str, str | None, list[str]]:
        info = self._container(op)
        site_id = await self._site(site_of(op.container))
        fields, missing = self._fields(op, info)
        fields, notes = await self.sites.resolve_fields(site_id, fields)
        outcome = "created"
        item = None
        if mode != "fresh":
            found = await self.sites.find_items(site_id, info.id, op.key)
            if not found and await self.m.in_flight_wait(prev):  # a crashed run's create may still land
                found = await self.sites.find_items(site_id, info.id, op.key)
            if found:
                item = found[0]
                for extra in found[1:]:  # a copy a lost answer left behind
                    await self.sites.delete_item(site_id, info.id, extra.id)
                    log.info("%s %s: removed a duplicate item %s", op.op, op.key, extra.id)
                # resumed, the item found may predate this version (an update cut short after begin) or hold
                # doclinks whose target has arrived since: it gets this version's fields either way
                await self.sites.update_item(site_id, info.id, item.id, fields)
                outcome = "updated" if mode == "changed" else "recovered"
        if item is None:
            item = await self.sites.create_item(site_id, info.id, fields)
        for entry in sorted(missing):
            field_name, target = entry.split("\0", 1)
            self.m.state.add_link(op.key, target, json.dumps(
                {"site": site_id, "list": info.id, "item": item.id, "field": field_name}, sort_keys=True))
        return outcome, item.id, item.web_url or None, notes

    # -- the doclink pass ---------------------------------------------------------------------------------
    async def resolve_links(self) -> tuple[int, int]:
        """Rewrite recorded doclinks whose target is now migrated; (rewritten, still pending)."""
        rewritten = 0
        for source, target, place_text in self.m.state.open_links():
            if self.m.stopping:
                break
            place = json.loads(place_text)
            try:
                html = await self.sites.read_field(place["site"], place["list"], place["item"], place["field"])
                if isinstance(html, str):
                    new, _ = rewrite_doclinks(html, lambda key: self.m.state.target_url(key) if key == target
                                              else None)
                    if new != html:
                        await self.sites.update_item(place["site"], place["list"], place["item"],
                                                     {place["field"]: new})
                self.m.state.link_resolved(source, target)
                rewritten += 1
            except FatalGraphError:
                raise
            except PermanentGraphError as exc:
                if exc.status != 404:
                    log.warning("doclink %s -> %s not rewritten yet: %s", source, target, exc)
                    continue
                # the item it was recorded in is gone (its document moved: the new copy recorded its own)
                self.m.state.link_resolved(source, target)
            except (SinkError, TransientGraphError) as exc:
                log.warning("doclink %s -> %s not rewritten yet: %s", source, target, exc)
        return rewritten, len(self.m.state.pending_links())
