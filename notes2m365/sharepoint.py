"""Planned application operations as Graph calls: SharePoint Online lists, libraries and files.

The counterpart of :mod:`notes2m365.exchange` for ``[[application]]``
sources.  It knows Graph's shapes for a site: how a site and a list are
found, how a list is provisioned from a mapping (and an existing one checked
for columns of an incompatible type before any item is written), how a
person becomes a site-local user id, how a list item is found again by its
indexed ``NotesKey`` column, how a file is uploaded (one PUT, or an upload
session in multiples of 320 KiB resumed from ``nextExpectedRanges``) and
found again by its deterministic path.  It keeps no state: the executor
decides and records.

Rules encoded here (graph-semantics §5, §6):

* a list is created with its columns in one request; the source-key column
  is indexed so that ``$filter=fields/NotesKey eq '…'`` is allowed (§5.4);
* person and lookup values are written as ``<Col>LookupId`` with ids from
  the site's hidden User Information List (§5.2); a person who is not in it
  cannot be written through Graph (SharePoint adds people when they join or
  visit a site), so the value is left out and reported, and the Notes name
  stays in the provenance column ``NotesAuthor``;
* Graph has no list-item attachments (§5.3): files go to a library and the
  item links to them; Created/Modified/Author/Editor cannot be written, so the
  Notes values live in provenance columns;
* upload-session chunks are multiples of 320 KiB and never carry the bearer
  token; an interrupted session is resumed from ``GET {uploadUrl}`` (§6).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote as urlquote

from .errors import PermanentGraphError, TransientGraphError
from .graph import GraphClient, graph_path
from .operations import SOURCE_KEY_COLUMN, Operation

#: Files up to this size go with one PUT (the older documented limit, 4 MB; §6); larger ones through a session.
SIMPLE_UPLOAD_LIMIT = 4 * 1024 * 1024
UPLOAD_CHUNK = 32 * 327_680  # 10 MiB: a multiple of 320 KiB, as §6 requires, and its recommended size
USER_INFORMATION_LIST = "User Information List"
PARENT_COLUMN = "NotesParent"  # a lookup to the same list: a response points at its parent item
#: The facet of each mapping column type, and what else must match for an existing column to be reusable.
FACETS = {"text": "text", "note": "text", "richtext": "text", "number": "number", "dateTime": "dateTime",
          "boolean": "boolean", "choice": "choice", "person": "personOrGroup", "hyperlink": "hyperlinkOrPicture",
          "lookup": "lookup"}
FACET_NAMES = tuple(sorted(set(FACETS.values()) | {"calculated", "currency", "term", "thumbnail", "geolocation",
                                                   "contentApprovalStatus"}))


class IncompatibleTarget(PermanentGraphError):
    """An existing list or column cannot take what the mapping writes (reported before any item is written)."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "IncompatibleTarget", message)


@dataclass(frozen=True)
class ListInfo:
    """A provisioned list: its id, its web URL and, for a library, its drive."""

    id: str
    web_url: str
    drive_id: str | None
    columns: frozenset[str]  # column names present (internal names)


@dataclass(frozen=True)
class FoundItem:
    id: str
    web_url: str
    sequence: str | None = None


def site_address(site: str) -> str:
    """``acme.sharepoint.com:/sites/teamroom`` or ``https://acme.sharepoint.com/sites/teamroom`` → the
    ``/sites/{hostname}:/{path}`` address Graph resolves (DC:api/site-getbypath.md)."""
    text = site.strip()
    if text.startswith("https://"):
        host, _, path = text[len("https://"):].partition("/")
        text = f"{host}:/{path}"
    host, _, path = text.partition(":")
    path = path.strip("/")
    return "/sites/" + urlquote(host, safe="") + (f":/{urlquote(path, safe='/')}:" if path else "")


def column_facet(column: dict[str, Any]) -> str | None:
    return next((f for f in FACET_NAMES if isinstance(column.get(f), dict)), None)


def incompatibility(planned: dict[str, Any], existing: dict[str, Any]) -> str | None:
    """Why an existing column cannot take the planned column's values, or None when it can."""
    want, have = column_facet(planned), column_facet(existing)
    name = planned["name"]
    if want != have:
        return f"column '{name}' is {have or 'of an unsupported type'} in the target, the mapping writes {want}"
    if want == "text":
        p, e = planned["text"], existing["text"]
        if p.get("allowMultipleLines") and not e.get("allowMultipleLines"):
            return f"column '{name}' is single-line text in the target, the mapping writes several lines"
        if p.get("textType") == "richText" and e.get("textType", "plain") != "richText":
            return f"column '{name}' is plain text in the target, the mapping writes rich text (HTML)"
    if want == "personOrGroup" and planned[want].get("allowMultipleSelection") and \
            not existing[want].get("allowMultipleSelection"):
        return f"column '{name}' holds one person in the target, the mapping writes several"
    if want == "choice" and existing["choice"].get("allowTextEntry") is False:
        missing = set(planned["choice"].get("choices", [])) - set(existing["choice"].get("choices", []))
        if missing:
            return f"column '{name}' does not offer the choices {sorted(missing)} and takes no other values"
    return None


class SiteTarget:
    """Graph calls for the planned operations of application sources (caches, no state)."""

    def __init__(self, graph: GraphClient) -> None:
        self.graph = graph
        self._people: dict[str, dict[str, int]] = {}  # site id -> e-mail/UPN (lower) -> User Information List id
        self._people_locks: dict[str, asyncio.Lock] = {}

    def _pages(self, path: str, params: dict[str, str] | None = None,
               headers: dict[str, str] | None = None) -> Any:
        return self.graph.pages(path, params, headers=headers)

    # -- sites and lists ----------------------------------------------------------------------------------
    async def site(self, site: str) -> tuple[str, str]:
        """The site's Graph id and web URL."""
        found = (await self.graph.request("GET", site_address(site), params={"$select": "id,webUrl"})).json
        return found["id"], found.get("webUrl", "")

    async def find_list(self, site_id: str, name: str) -> dict[str, Any] | None:
        async for item in self._pages(graph_path("sites", site_id, "lists"),
                                      {"$select": "id,displayName,name,webUrl,list"}):
            if item.get("displayName", "").casefold() == name.casefold():
                return item
        return None

    async def ensure_list(self, op: Operation, site_id: str) -> ListInfo:
        """The list ``op`` describes: created with its columns, or found and checked (missing columns added,
        the key column indexed); :class:`IncompatibleTarget` when an existing one cannot take the items."""
        payload = op.payload
        name = payload["displayName"]
        template = payload.get("list", {}).get("template", "genericList")
        found = await self.find_list(site_id, name)
        base = graph_path("sites", site_id, "lists")
        if found is None:
            body = {k: v for k, v in payload.items() if k in ("displayName", "description", "columns", "list")}
            created = (await self.graph.request("POST", base, json=body, idempotent=False)).json
            found = created
            columns = {c["name"] for c in payload.get("columns", [])}
        else:
            have_template = (found.get("list") or {}).get("template")
            if have_template and have_template != template:
                raise IncompatibleTarget(f"list '{name}' exists as a {have_template}, the mapping needs a {template}")
            columns = await self._reconcile_columns(site_id, found["id"], payload.get("columns", []), name)
        list_id = found["id"]
        drive_id = None
        if template == "documentLibrary":
            drive_id = (await self.graph.request("GET", graph_path("sites", site_id, "lists", list_id, "drive"),
                                                 params={"$select": "id"})).json["id"]
        return ListInfo(list_id, found.get("webUrl", ""), drive_id, frozenset(columns))

    async def _reconcile_columns(self, site_id: str, list_id: str, planned: list[dict[str, Any]],
                                 list_name: str) -> set[str]:
        path = graph_path("sites", site_id, "lists", list_id, "columns")
        existing = {c["name"].casefold(): c async for c in self._pages(path)}
        problems = [why for col in planned if (have := existing.get(col["name"].casefold())) is not None
                    and (why := incompatibility(col, have))]
        if problems:
            raise IncompatibleTarget(f"list '{list_name}': " + "; ".join(problems))
        for col in planned:
            have = existing.get(col["name"].casefold())
            if have is None:
                await self.graph.request("POST", path, json=col)
            elif col.get("indexed") and not have.get("indexed"):
                await self.graph.request("PATCH", f"{path}/{urlquote(have['id'], safe='')}", json={"indexed": True})
        return {c["name"] for c in planned} | {c["name"] for c in existing.values()}

    async def ensure_parent_column(self, site_id: str, info: ListInfo) -> ListInfo:
        """A lookup column to the list itself, so a response points at its parent item."""
        if PARENT_COLUMN in info.columns:
            return info
        path = graph_path("sites", site_id, "lists", info.id, "columns")
        column = {"name": PARENT_COLUMN, "displayName": "Parent",
                  "lookup": {"listId": info.id, "columnName": "Title"}}
        try:
            await self.graph.request("POST", path, json=column)
        except PermanentGraphError as exc:
            if exc.status != 409:  # created by an earlier run whose answer was lost
                raise
        return ListInfo(info.id, info.web_url, info.drive_id, info.columns | {PARENT_COLUMN})

    # -- people -------------------------------------------------------------------------------------------
    async def person_id(self, site_id: str, address: str) -> int | None:
        """The site-local id of a person (User Information List), or None when the site does not know them."""
        async with self._people_locks.setdefault(site_id, asyncio.Lock()):  # read once, not once per worker
            return (await self._site_people(site_id)).get(address.lower())

    async def _site_people(self, site_id: str) -> dict[str, int]:
        people = self._people.get(site_id)
        if people is None:
            people = {}
            info = graph_path("sites", site_id, "lists", USER_INFORMATION_LIST, "items")
            # its columns are not indexed: read it once per site and match here (§5.4)
            async for item in self._pages(info, {"$expand": "fields($select=EMail,UserName)", "$select": "id",
                                                 "$top": "999"}):
                fields = item.get("fields") or {}
                for value in (fields.get("EMail"), fields.get("UserName")):
                    if value:
                        people.setdefault(str(value).lower(), int(item["id"]))
            self._people[site_id] = people
        return people

    async def resolve_fields(self, site_id: str, fields: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Person values (``{"@person": [addresses]}``) as ``<Col>LookupId``; notes for people left out."""
        out: dict[str, Any] = {}
        notes: list[str] = []
        for name, value in fields.items():
            if not (isinstance(value, dict) and "@person" in value):
                out[name] = value
                continue
            ids = []
            for address in value["@person"]:
                found = await self.person_id(site_id, address)
                if found is None:
                    notes.append(f"{name}: {address} is not a user of the site; left out")
                else:
                    ids.append(found)
            if len(value["@person"]) > 1 or len(ids) > 1:
                if ids:
                    out[name + "LookupId@odata.type"] = "Collection(Edm.Int32)"
                    out[name + "LookupId"] = ids
            elif ids:
                out[name + "LookupId"] = str(ids[0])
        return out, notes

    # -- list items ---------------------------------------------------------------------------------------
    def items_path(self, site_id: str, list_id: str, *rest: str) -> str:
        return graph_path("sites", site_id, "lists", list_id, "items", *rest)

    async def create_item(self, site_id: str, list_id: str, fields: dict[str, Any]) -> FoundItem:
        created = (await self.graph.request("POST", self.items_path(site_id, list_id), json={"fields": fields})).json
        return FoundItem(created["id"], created.get("webUrl", ""))

    async def find_items(self, site_id: str, list_id: str, key: str) -> list[FoundItem]:
        """Items whose indexed NotesKey column holds ``key`` (§5.4)."""
        params = {"$filter": f"fields/{SOURCE_KEY_COLUMN} eq '{key.replace(chr(39), chr(39) * 2)}'",
                  "$expand": f"fields($select={SOURCE_KEY_COLUMN})", "$select": "id,webUrl"}
        return [FoundItem(item["id"], item.get("webUrl", ""))
                async for item in self._pages(self.items_path(site_id, list_id), params)]

    async def update_item(self, site_id: str, list_id: str, item_id: str, fields: dict[str, Any]) -> None:
        await self.graph.request("PATCH", self.items_path(site_id, list_id, item_id, "fields"), json=fields)

    async def read_field(self, site_id: str, list_id: str, item_id: str, name: str) -> Any:
        response = await self.graph.request("GET", self.items_path(site_id, list_id, item_id, "fields"),
                                            params={"$select": name})
        return response.json.get(name)

    async def delete_item(self, site_id: str, list_id: str, item_id: str) -> None:
        try:
            await self.graph.request("DELETE", self.items_path(site_id, list_id, item_id))
        except PermanentGraphError as exc:
            if exc.status != 404:
                raise

    # -- files --------------------------------------------------------------------------------------------
    async def default_drive(self, site_id: str) -> str:
        return (await self.graph.request("GET", graph_path("sites", site_id, "drive"),
                                         params={"$select": "id"})).json["id"]

    @staticmethod
    def path_address(drive_id: str, path: str) -> str:
        segments = [s for s in path.split("/") if s]
        return graph_path("drives", drive_id) + "/root:" + graph_path(*segments) + ":"

    async def find_file(self, drive_id: str, path: str) -> dict[str, Any] | None:
        try:
            return (await self.graph.request("GET", self.path_address(drive_id, path),
                                             params={"$select": "id,name,size,webUrl,file"})).json
        except PermanentGraphError as exc:
            if exc.status == 404:
                return None
            raise

    async def upload_file(self, drive_id: str, path: str, data: bytes,
                          file_system_info: dict[str, str] | None) -> dict[str, Any]:
        """Put ``data`` at ``path`` (replacing what is there: sending it twice leaves one file)."""
        address = self.path_address(drive_id, path)
        if len(data) <= SIMPLE_UPLOAD_LIMIT:
            item = (await self.graph.request(
                "PUT", address + "/content", content=data, params={"@microsoft.graph.conflictBehavior": "replace"},
                headers={"Content-Type": "application/octet-stream"})).json
            if file_system_info:  # the simple PUT takes no metadata: the original dates follow in a PATCH
                item = (await self.graph.request("PATCH", graph_path("drives", drive_id, "items", item["id"]),
                                                 json={"fileSystemInfo": file_system_info})).json or item
            return item
        spec: dict[str, Any] = {"@microsoft.graph.conflictBehavior": "replace"}
        if file_system_info:
            spec["fileSystemInfo"] = file_system_info
        session = (await self.graph.request("POST", address + "/createUploadSession", json={"item": spec},
                                            idempotent=True)).json  # a second session replaces the same file
        return await self._send_session(session["uploadUrl"], data)

    async def _send_session(self, url: str, data: bytes) -> dict[str, Any]:
        """Chunks of 10 MiB in order; after a lost answer (416) the session says where to go on (§6)."""
        start = 0
        total = len(data)
        while True:
            try:
                response = await self.graph.put_chunk(url, data[start:start + UPLOAD_CHUNK], start, total)
            except PermanentGraphError as exc:
                if exc.status != 416:
                    if exc.status == 404:  # expired or gone: the item is retried from the start
                        raise TransientGraphError(404, "UploadSessionGone", exc.message, exc.request_id, exc.where,
                                                  maybe_committed=True) from exc
                    raise
                status = (await self.graph.upload_status(url)).json  # pre-authenticated URL, no token
                start = _next_start(status.get("nextExpectedRanges") or [])
                if start is None:
                    raise TransientGraphError(416, "UploadStateUnknown", "the session expects nothing more",
                                              exc.request_id, exc.where, maybe_committed=True) from exc
                continue
            if response.status in (200, 201) and "id" in response.json:
                return response.json
            nxt = _next_start(response.json.get("nextExpectedRanges") or [])
            start = nxt if nxt is not None else start + UPLOAD_CHUNK

    async def library_drive(self, site_id: str, list_id: str) -> str:
        return (await self.graph.request("GET", graph_path("sites", site_id, "lists", list_id, "drive"),
                                         params={"$select": "id"})).json["id"]

    async def delete_file(self, drive_id: str, item_id: str) -> None:
        try:
            await self.graph.request("DELETE", graph_path("drives", drive_id, "items", item_id))
        except PermanentGraphError as exc:
            if exc.status != 404:
                raise

    async def set_file_fields(self, drive_id: str, item_id: str, fields: dict[str, Any]) -> None:
        await self.graph.request("PATCH", graph_path("drives", drive_id, "items", item_id, "listItem", "fields"),
                                 json=fields)

    async def file_key(self, drive_id: str, item_id: str) -> str | None:
        response = await self.graph.request("GET", graph_path("drives", drive_id, "items", item_id, "listItem",
                                                              "fields"), params={"$select": SOURCE_KEY_COLUMN})
        return response.json.get(SOURCE_KEY_COLUMN)


def _next_start(ranges: list[Any]) -> int | None:
    if not ranges:
        return None
    m = re.match(r"^(\d+)", str(ranges[0]))
    return int(m.group(1)) if m else None
