"""Drives (document libraries) of the emulator: drive items, content, simple upload and upload sessions.

Owns the store kinds ``drive`` (one per document library, created by
:mod:`lists`, and one OneDrive per user, created by :mod:`onedrive`),
``driveItem`` (parent = containing folder, owner = drive; file bytes in a blob)
and the drive ``uploadSession`` objects with their chunks.
``/sites/{site}/drive/...`` is an alias of ``/drives/{default-drive}/...``
(``/users/{user}/drive/...`` likewise, see :mod:`onedrive`).
Items are addressed as ``root``, ``items/{id}``, ``root:/{path}`` or
``items/{id}:/{path}``, followed by ``/children``, ``/content``, ``/listItem``
(``/listItem/fields``) or ``:/content`` / ``:/createUploadSession``.  Rules come
from graph-semantics §6 and §11.12, each cited where it is encoded.

In a document library every file and folder is also a list item of the
library's list (DC:resources/listitem.md "For document libraries, the driveItem
relationship exposes the listItem as a driveItem").  There is one stored object:
the ``driveItem`` carries the list item's number (``_n``, from the list's item
counter) and its column values (``_fields``); a ``libraryItem`` row
``{list-id}/{n}`` -> item id is only the index by which :mod:`lists` finds it.
The list-item views (fields, filters, PATCH of columns) live in :mod:`lists`.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
import secrets
import time
from typing import Any
from urllib.parse import quote

from ..errors import EmulatorHttpError
from .directory import require_site
from .odata import page, select_fields
from .router import (GraphRequest, GraphResponse, Json, Router, guid, iso_utc, now_iso, opaque_id, parse_datetime,
                     public)
from .store import Store

CHUNK_MULTIPLE = 327_680  # 320 KiB (DC:api/driveitem-createuploadsession.md)
INVALID_CHARS = set('"*:<>?/\\|')
RESERVED = {".lock", "con", "prn", "aux", "nul", "_vti_", "desktop.ini"} | \
    {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
MAX_PATH = 400
CONFLICT_KEY = "@microsoft.graph.conflictBehavior"
CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+)\s*$", re.IGNORECASE)
SUFFIXES = ("", "/children", "/content", "/createUploadSession", "/listItem", "/listItem/fields")
LIBRARY_INDEX = "libraryItem"  # {list-id}/{n} -> the driveItem that is list item n of a library


def item_not_found(what: str = "The resource could not be found.") -> EmulatorHttpError:
    return EmulatorHttpError(404, "itemNotFound", what)


def invalid(message: str) -> EmulatorHttpError:
    return EmulatorHttpError(400, "invalidRequest", message)


# -- drives -----------------------------------------------------------------------------------------
def create_drive(store: Store, site: Json, list_obj: Json) -> Json:
    """The drive of a new document library (called by :mod:`lists`), with its root folder."""
    drive_id = opaque_id("b!", site["id"], list_obj["id"])
    now = now_iso()
    drive: Json = {"id": drive_id, "name": list_obj["displayName"], "description": list_obj.get("description", ""),
                   "driveType": "documentLibrary", "createdDateTime": now, "lastModifiedDateTime": now,
                   "webUrl": list_obj["webUrl"], "createdBy": {"user": {"displayName": "System Account"}},
                   "owner": {"group": {"displayName": site["displayName"]}},
                   "_site": site["id"], "_list": list_obj["id"], "_libpath": site["_path"].rstrip("/") + "/"
                   + list_obj["name"]}
    return add_drive(store, drive, site["id"])


def add_drive(store: Store, drive: Json, owner: str) -> Json:
    """Store a new drive (``_libpath``: server-relative URL of its library) under a site or user, with its root."""
    now = drive["createdDateTime"]
    root = {"id": new_item_id(store, drive["id"]), "name": "root", "createdDateTime": now,
            "lastModifiedDateTime": now, "webUrl": drive["webUrl"], "folder": {}, "root": {}, "size": 0,
            "fileSystemInfo": {"createdDateTime": now, "lastModifiedDateTime": now},
            "_drive": drive["id"], "_version": 1}
    root["_guid"] = guid("driveItem", root["id"]).upper()
    drive["_root"] = root["id"]
    store.insert("drive", drive, parent=owner, owner=owner)
    store.insert("driveItem", root, parent=drive["id"], owner=drive["id"])
    return drive


def delete_drive(store: Store, drive_id: str) -> None:
    drive = store.get("drive", drive_id)
    if drive:
        delete_tree(store, drive["_root"])
        store.delete("drive", drive_id)


def ensure_list_item(store: Store, drive: Json, item: Json, stored: bool = True) -> bool:
    """Make a file or folder of a library drive list item ``_n`` of the library's list (numbered with the
    list's own item counter, like the items of any list); ``False`` for roots and OneDrive items, which
    have no list here.  ``stored=False``: the caller inserts the item afterwards.  Idempotent, so that
    items of a store made before libraries had list items get their number on first need."""
    list_id = drive.get("_list")
    if not list_id or item.get("root") is not None:
        return False
    if "_n" not in item:
        item["_n"] = store.next_number(f"listItem:{list_id}")
        item["_list"] = list_id
        item.setdefault("_fields", {})
        store.insert(LIBRARY_INDEX, {"id": f"{list_id}/{item['_n']}", "item": item["id"]}, parent=list_id,
                     owner=drive.get("_site"))
        if stored:
            store.put("driveItem", item)
    return True


def render_drive(store: Store, drive: Json) -> Json:
    out = public(drive)
    out["quota"] = {"deleted": 0, "remaining": 27487790694400, "state": "normal", "total": 27487790694400,
                    "used": 0}
    return out


def new_item_id(store: Store, drive_id: str) -> str:
    """``01`` + 32 upper-case base32 characters, like SharePoint drive item ids."""
    digest = hashlib.sha256(f"{drive_id}:{store.next_number('driveItem')}".encode()).digest()
    return "01" + base64.b32encode(digest).decode()[:32]


def resolve_drive(store: Store, drive: str | None = None, site: str | None = None) -> Json:
    if site is not None:
        site_obj = require_site(store, site)
        found = next(iter(store.owned("drive", site_obj["id"])), None)  # the default library comes first
    else:
        found = store.get("drive", drive or "")
    if found is None:
        raise item_not_found("The drive could not be found.")
    return found


# -- naming rules ----------------------------------------------------------------------------------
def _deepest(store: Store, folder_id: str) -> int:
    """Length of the longest path below a folder ('/a/b.txt'), 0 when it is empty."""
    return max((1 + len(child["name"]) + (_deepest(store, child["id"]) if "folder" in child else 0)
                for child in store.children("driveItem", folder_id)), default=0)


def check_name(store: Store, drive: Json, parent: Json, name: str, folder: bool, moving: Json | None = None) -> None:
    """SharePoint naming rules (support article "Restrictions and limitations in OneDrive and SharePoint",
    graph-semantics §6, §11.12); 400 invalidRequest naming the rule."""
    if not name or not name.strip():
        raise invalid("The name must not be empty.")
    bad = sorted(set(name) & INVALID_CHARS)
    if bad:
        raise invalid(f"The name '{name}' contains the invalid character '{bad[0]}'.")
    if name != name.strip(" "):
        raise invalid(f"The name '{name}' must not start or end with a space.")
    if name.lower() in RESERVED:
        raise invalid(f"The name '{name}' is reserved and not allowed.")
    if name.startswith("~$"):
        raise invalid(f"The name '{name}' must not start with '~$'.")
    if folder and name.startswith("~"):
        raise invalid(f"The folder name '{name}' must not start with '~'.")
    if "_vti_" in name.lower():
        raise invalid(f"The name '{name}' must not contain '_vti_'.")
    if folder and name.lower() == "forms" and parent.get("root") is not None:
        raise invalid("'forms' is not allowed as a folder name at the root of a library.")
    full = drive["_libpath"].lstrip("/") + "/" + "/".join(filter(None, [item_path(store, parent), name]))
    below = _deepest(store, moving["id"]) if moving is not None and "folder" in moving else 0
    if len(full) + below > MAX_PATH:  # a renamed or moved folder takes its whole subtree along
        raise invalid(f"The decoded path '{full[:40]}...' is longer than {MAX_PATH} characters.")


# -- items -------------------------------------------------------------------------------------------
def item_path(store: Store, item: Json) -> str:
    """Path below the root, '' for the root itself."""
    parts: list[str] = []
    while item.get("root") is None:
        parts.append(item["name"])
        item = store.get("driveItem", item["_parent"]) or {"root": {}}
    return "/".join(reversed(parts))


def child_named(store: Store, parent_id: str, name: str) -> Json | None:
    low = name.lower()  # SharePoint names compare case-insensitively
    return next((c for c in store.children("driveItem", parent_id) if c["name"].lower() == low), None)


def render_item(store: Store, drive: Json, item: Json, req: GraphRequest | None = None) -> Json:
    out = public(item)
    out["eTag"] = f'"{{{item["_guid"]}}},{item["_version"]}"'
    out["cTag"] = f'"c:{{{item["_guid"]}}},{item["_version"]}"'
    if item.get("root") is not None:
        out["parentReference"] = {"driveId": drive["id"], "driveType": drive["driveType"]}
    else:
        parent = store.get("driveItem", item["_parent"]) or {}
        ppath = item_path(store, parent)
        out["parentReference"] = {"driveId": drive["id"], "driveType": drive["driveType"], "id": parent.get("id"),
                                  "path": f"/drives/{drive['id']}/root:" + (f"/{ppath}" if ppath else "")}
        out["webUrl"] = drive["webUrl"] + "/" + quote(item_path(store, item))
    if "folder" in item:
        out["folder"] = {"childCount": store.count("driveItem", item["id"])}
        out["size"] = _tree_size(store, item["id"])
    select = req.query.get("$select") if req else None
    if select and "sharepointids" in select.lower().replace(" ", "").split(","):
        # "not returned by default and must be selected using $select" (DC:resources/driveitem.md sharepointIds)
        from . import lists  # lists imports this module; the late import keeps the cycle harmless
        ids = lists.drive_item_sharepoint_ids(store, drive, item)
        if ids is not None:
            out["sharepointIds"] = ids
    out = select_fields(out, select)
    expand = expand_options(req.query.get("$expand", "")) if req else {}
    if "listitem" in expand:
        # driveItem.listItem: "For drives in SharePoint, the associated document library list item"
        # (DC:resources/driveitem.md); $expand=listItem($expand=fields) as clients list a library with columns.
        from . import lists
        list_item = lists.drive_item_list_item_json(store, drive, item, expand["listitem"])
        if list_item is not None:
            out["listItem"] = list_item
    return out


def expand_options(text: str) -> dict[str, str]:
    """``a,b($select=x;$expand=c(...))`` -> {'a': '', 'b': '$select=x;$expand=c(...)'} (names lower-case)."""
    out: dict[str, str] = {}
    depth, current = 0, ""
    for ch in text + ",":
        if ch == "," and depth == 0:
            name, _, inner = current.strip().partition("(")
            if name.strip():
                out[name.strip().lower()] = inner[:-1] if inner.endswith(")") else inner
            current = ""
            continue
        depth += (ch == "(") - (ch == ")")
        current += ch
    return out


def _tree_size(store: Store, folder_id: str) -> int:
    total = 0
    for child in store.children("driveItem", folder_id):
        total += child["size"] if "file" in child else _tree_size(store, child["id"])
    return total


def delete_tree(store: Store, item_id: str) -> None:
    """Delete an item with everything below it; in a library their list items go with them (one object)."""
    for child in store.children("driveItem", item_id):
        delete_tree(store, child["id"])
    item = store.get("driveItem", item_id)
    if item and item.get("_blob"):
        store.delete_blob(item["_blob"])
    if item and "_n" in item:
        store.delete(LIBRARY_INDEX, f"{item['_list']}/{item['_n']}")
    store.delete("driveItem", item_id)


def _new_folder(store: Store, drive: Json, parent: Json, name: str) -> Json:
    now = now_iso()
    folder = {"id": new_item_id(store, drive["id"]), "name": name, "createdDateTime": now,
              "lastModifiedDateTime": now, "folder": {}, "size": 0,
              "createdBy": {"user": {"displayName": "SharePoint App"}},
              "lastModifiedBy": {"user": {"displayName": "SharePoint App"}},
              "fileSystemInfo": {"createdDateTime": now, "lastModifiedDateTime": now},
              "_drive": drive["id"], "_parent": parent["id"], "_version": 1}
    folder["_guid"] = guid("driveItem", folder["id"]).upper()
    ensure_list_item(store, drive, folder, stored=False)
    store.insert("driveItem", folder, parent=parent["id"], owner=drive["id"])
    return folder


def walk(store: Store, drive: Json, start: Json, path: str, create: bool = False) -> Json:
    """The item at ``path`` below ``start``; with ``create`` missing folders are made on the way."""
    item = start
    for part in [p for p in path.split("/") if p]:
        child = child_named(store, item["id"], part)
        if child is None:
            if not create:
                raise item_not_found("The resource could not be found.")
            check_name(store, drive, item, part, folder=True)
            child = _new_folder(store, drive, item, part)
        elif "folder" not in child and create:
            raise invalid(f"'{part}' is a file, not a folder.")
        item = child
    return item


def parse_address(rest: str) -> tuple[str | None, str | None, str]:
    """``root[:/path[:]][suffix]`` or ``items/{id}[:/path[:]][suffix]`` -> (item id or None for root, path, suffix)."""
    m = re.match(r"^(?:root|items/(?P<id>[^/:]+))(?P<tail>.*)$", rest, re.IGNORECASE)
    if not m:
        raise EmulatorHttpError(400, "BadRequest", f"Resource not found for the segment '{rest.split('/')[0]}'.")
    item_id, tail = m["id"], m["tail"]
    if item_id and item_id.lower() == "root":  # items/root is the root too (the SDK's by_drive_item_id("root:/a:"))
        item_id = None
    path: str | None = None
    if tail.startswith(":"):
        body = tail[1:]
        if ":" in body:
            path, _, tail = body.partition(":")
        else:
            path, tail = body, ""
        path = path.strip("/")
    if tail.lower() not in [s.lower() for s in SUFFIXES]:
        raise EmulatorHttpError(400, "BadRequest", f"Resource not found for the segment '{tail.strip('/')}'.")
    return item_id, path, next(s for s in SUFFIXES if s.lower() == tail.lower())


def _base_item(store: Store, drive: Json, item_id: str | None) -> Json:
    item = store.get("driveItem", item_id or drive["_root"])
    if item is None or item["_drive"] != drive["id"]:
        raise item_not_found("Item not found")
    return item


def _conflict(store: Store, parent: Json, name: str, behavior: str, code: str = "nameAlreadyExists") -> str:
    """The name to use under ``behavior``; 409 for ``fail`` when ``name`` exists (graph-semantics §6)."""
    if behavior not in ("fail", "replace", "rename"):
        raise invalid(f"Invalid conflict behavior '{behavior}'.")
    if child_named(store, parent["id"], name) is None or behavior == "replace":
        return name
    if behavior == "fail":
        raise EmulatorHttpError(409, code, "The specified item name already exists.")
    stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    n = 1
    while child_named(store, parent["id"], f"{stem} {n}{dot}{ext}") is not None:
        n += 1
    return f"{stem} {n}{dot}{ext}"


def quick_xor_hash(data: bytes) -> str:
    """OneDrive's quickXorHash: bytes xored in at 11-bit steps of a 160-bit ring, length in the last 8 bytes."""
    lanes = bytearray(160)
    for start in range(0, len(data), 160):
        block = data[start:start + 160]
        acc = int.from_bytes(lanes[:len(block)], "little") ^ int.from_bytes(block, "little")
        lanes[:len(block)] = acc.to_bytes(len(block), "little")
    mask, h = (1 << 160) - 1, 0
    for k, byte in enumerate(lanes):
        if byte:
            v = byte << ((k * 11) % 160)
            h ^= (v & mask) ^ (v >> 160)
    out = bytearray(h.to_bytes(20, "little"))
    for i, b in enumerate(len(data).to_bytes(8, "little")):
        out[12 + i] ^= b
    return base64.b64encode(bytes(out)).decode()


def write_file(store: Store, drive: Json, parent: Json, name: str, data: bytes, behavior: str,
               fsi: Json | None = None, conflict_code: str = "nameAlreadyExists") -> tuple[Json, bool]:
    """Create or replace a file; returns (item, created)."""
    check_name(store, drive, parent, name, folder=False)
    name = _conflict(store, parent, name, behavior, conflict_code)
    existing = child_named(store, parent["id"], name)
    now = now_iso()
    facets = {"file": {"mimeType": mimetypes.guess_type(name)[0] or "application/octet-stream",
                       "hashes": {"quickXorHash": quick_xor_hash(data),
                                  "sha256Hash": hashlib.sha256(data).hexdigest().upper()}},
              "size": len(data), "lastModifiedDateTime": now}
    if existing is not None and "folder" in existing:
        # Replacing a folder by a file is undocumented; refusing is the side that cannot lose data.
        raise EmulatorHttpError(409, conflict_code, f"'{name}' is a folder; a file cannot replace it.")
    if existing is None:
        item: Json = {"id": new_item_id(store, drive["id"]), "name": name, "createdDateTime": now,
                      "createdBy": {"user": {"displayName": "SharePoint App"}},
                      "lastModifiedBy": {"user": {"displayName": "SharePoint App"}},
                      "fileSystemInfo": {"createdDateTime": now, "lastModifiedDateTime": now},
                      "_drive": drive["id"], "_parent": parent["id"], "_version": 0}
        item["_guid"] = guid("driveItem", item["id"]).upper()
        item["_blob"] = "drive:" + item["id"]
    else:
        item = existing
        # Content updated without fileSystemInfo: lastModifiedDateTime resets to now (DC:resources/filesysteminfo.md).
        item["fileSystemInfo"]["lastModifiedDateTime"] = now
    item.update(facets)
    item["_version"] += 1
    if fsi:
        item["fileSystemInfo"].update(fsi)
    store.put_blob(item["_blob"], data)
    if existing is None:
        ensure_list_item(store, drive, item, stored=False)  # a new file is a new item of the library's list
        store.insert("driveItem", item, parent=parent["id"], owner=drive["id"])
    else:
        store.put("driveItem", item)
    return item, existing is None


def _fsi(value: Any) -> Json:
    """A validated fileSystemInfo (createdDateTime / lastModifiedDateTime, DC:resources/filesysteminfo.md)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid("fileSystemInfo must be an object.")
    out: Json = {}
    for key in ("createdDateTime", "lastModifiedDateTime"):
        if key in value:
            out[key] = iso_utc(parse_datetime(value[key], key))
    unknown = set(value) - {"createdDateTime", "lastModifiedDateTime", "@odata.type"}
    if unknown:  # lastAccessedDateTime is not available on SharePoint (graph-semantics §6)
        raise invalid(f"fileSystemInfo.{sorted(unknown)[0]} cannot be set on this drive.")
    return out


# -- handlers ------------------------------------------------------------------------------------------
def get_site_drive(emu, req: GraphRequest, site: str) -> GraphResponse:
    return GraphResponse(200, select_fields(render_drive(emu.store, resolve_drive(emu.store, site=site)),
                                            req.query.get("$select")))


def list_site_drives(emu, req: GraphRequest, site: str) -> GraphResponse:
    site_obj = require_site(emu.store, site)
    return GraphResponse(200, page(req, emu.store.owned("drive", site_obj["id"]), page_size=200,
                                   render=lambda d: select_fields(render_drive(emu.store, d),
                                                                  req.query.get("$select"))))


def get_drive(emu, req: GraphRequest, drive: str) -> GraphResponse:
    return GraphResponse(200, select_fields(render_drive(emu.store, resolve_drive(emu.store, drive)),
                                            req.query.get("$select")))


def drive_item(emu, req: GraphRequest, rest: str, drive: str | None = None, site: str | None = None,
               children: bool = False) -> GraphResponse:
    """Every ``/drives/{d}/...`` and ``/sites/{s}/drive/...`` item call."""
    return item_request(emu, req, resolve_drive(emu.store, drive, site), rest + ("/children" if children else ""))


def item_request(emu, req: GraphRequest, drv: Json, rest: str) -> GraphResponse:
    """One item call on a resolved drive, dispatched on the address form (``rest``) and method."""
    store = emu.store
    item_id, path, suffix = parse_address(rest)
    base = _base_item(store, drv, item_id)
    method = req.method
    if method == "PUT" and suffix == "/content":
        return _put_content(emu, req, drv, base, path)
    if method == "POST" and suffix == "/createUploadSession":
        if path is None:
            raise invalid("createUploadSession needs a path: items/{parent-id}:/{filename}:/createUploadSession.")
        return create_session(emu, req, drv, base, path)
    target = walk(store, drv, base, path) if path else base
    if suffix.startswith("/listItem"):
        # /listItem and /listItem/fields of a library file or folder: the list-item view of this very item
        from . import lists  # lists imports this module; the late import keeps the cycle harmless
        return lists.drive_item_list_item(emu, req, drv, target, suffix)
    if suffix == "/children":
        if "folder" not in target:
            raise invalid("The item is not a folder.")
        if method == "GET":
            return GraphResponse(200, page(req, store.children("driveItem", target["id"]), page_size=200,
                                           max_top=999, render=lambda i: render_item(store, drv, i, req)))
        if method == "POST":
            return _post_children(emu, req, drv, target)
    elif suffix == "/content" and method == "GET":
        if "file" not in target:
            raise item_not_found("The item has no content: it is a folder.")
        data = store.get_blob(target["_blob"]) or b""
        return GraphResponse(200, data, {"Content-Type": target["file"]["mimeType"]})
    elif suffix == "":
        if method == "GET":
            return GraphResponse(200, render_item(store, drv, target, req))
        if method == "PATCH":
            return _patch_item(emu, req, drv, target)
        if method == "DELETE":
            if target.get("root") is not None:
                raise EmulatorHttpError(403, "accessDenied", "The root folder of a drive cannot be deleted.")
            delete_tree(store, target["id"])
            return GraphResponse(204)
    raise EmulatorHttpError(405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed for the resource.")


def _post_children(emu, req: GraphRequest, drv: Json, parent: Json) -> GraphResponse:
    body = req.json()
    name = body.get("name")
    if not isinstance(name, str):
        raise invalid("The 'name' of the new item is required.")
    if not isinstance(body.get("folder"), dict):
        # Only folders are created through POST children (DC:api/driveitem-post-children.md); files are uploaded.
        raise invalid("Only folders can be created with POST children; upload files with PUT content.")
    check_name(emu.store, drv, parent, name, folder=True)
    # Default conflict behaviour fail -> 409 nameAlreadyExists (graph-semantics §6; code UNCONFIRMED there).
    final = _conflict(emu.store, parent, name, body.get(CONFLICT_KEY, "fail"))
    existing = child_named(emu.store, parent["id"], final)
    if existing is not None:  # replace: undocumented for folders; never silently delete content
        if "folder" not in existing or emu.store.count("driveItem", existing["id"]):
            raise EmulatorHttpError(409, "nameAlreadyExists",
                                    f"'{final}' exists and is not an empty folder; it is not replaced.")
        delete_tree(emu.store, existing["id"])
    folder = _new_folder(emu.store, drv, parent, final)
    if "fileSystemInfo" in body:
        folder["fileSystemInfo"].update(_fsi(body["fileSystemInfo"]))
        emu.store.put("driveItem", folder)
    return GraphResponse(201, render_item(emu.store, drv, folder, req))


def _patch_item(emu, req: GraphRequest, drv: Json, item: Json) -> GraphResponse:
    body = req.json()
    store = emu.store
    if item.get("root") is not None:
        raise EmulatorHttpError(403, "accessDenied", "The root folder of a drive cannot be changed.")
    unknown = set(body) - {"name", "fileSystemInfo", "parentReference", "description", "@odata.type", CONFLICT_KEY}
    if unknown:
        raise invalid(f"Property '{sorted(unknown)[0]}' cannot be updated on a driveItem.")
    parent = store.get("driveItem", item["_parent"]) or {}
    ref = body.get("parentReference")
    if isinstance(ref, dict) and ref.get("id") and ref["id"] != parent.get("id"):
        parent = _base_item(store, drv, ref["id"])
        if "folder" not in parent:
            raise invalid("The new parent is not a folder.")
        node = parent
        while node.get("root") is None:  # no move into itself
            if node["id"] == item["id"]:
                raise invalid("An item cannot be moved into itself.")
            node = store.get("driveItem", node["_parent"]) or {"root": {}}
    name = body.get("name", item["name"])
    if not isinstance(name, str):
        raise invalid("name must be a string.")
    check_rename(store, drv, item, parent, name)
    item["name"] = name
    if parent["id"] != item["_parent"]:
        item["_parent"] = parent["id"]
        store.move("driveItem", item["id"], parent["id"])
    if "fileSystemInfo" in body:
        item["fileSystemInfo"].update(_fsi(body["fileSystemInfo"]))
    if "description" in body:
        item["description"] = body["description"]
    item["lastModifiedDateTime"] = now_iso()
    item["_version"] += 1
    store.put("driveItem", item)
    return GraphResponse(200, render_item(store, drv, item, req))


def check_rename(store: Store, drv: Json, item: Json, parent: Json, name: str) -> None:
    """The naming rules and the 409 for a taken name, when ``item`` is to be called ``name`` under ``parent``."""
    if name.lower() != item["name"].lower() or parent["id"] != item["_parent"]:
        check_name(store, drv, parent, name, folder="folder" in item, moving=item)
        other = child_named(store, parent["id"], name)
        if other is not None and other["id"] != item["id"]:
            raise EmulatorHttpError(409, "nameAlreadyExists", "The specified item name already exists.")


def _split_target(store: Store, drv: Json, base: Json, path: str | None) -> tuple[Json, str]:
    """(parent folder, file name) of ``{base}:/{path}``; missing folders are created on the way, as
    OneDrive does for path-addressed uploads (docs silent; the brief's conservative choice)."""
    if not path:
        raise invalid("A file name is required in the path.")
    folder_path, _, name = path.rpartition("/")
    parent = walk(store, drv, base, folder_path, create=True)
    if "folder" not in parent:
        raise invalid("The parent item is not a folder.")
    return parent, name


def _put_content(emu, req: GraphRequest, drv: Json, base: Json, path: str | None) -> GraphResponse:
    limit = emu.config.switches.drive_simple_upload_limit
    if len(req.body) > limit:
        # DC:api/driveitem-put-content.md "only supports files up to 250 MB" (older: 4 MB) -> switch.
        raise EmulatorHttpError(413, "requestEntityTooLarge",
                                f"The simple upload API supports files up to {limit} bytes; use an upload session.")
    behavior = req.query.get(CONFLICT_KEY, "replace")  # PUT content replaces by default
    if path is None:  # PUT items/{id}/content replaces the content of an existing file
        if "file" not in base:
            raise invalid("Content can only be written to a file.")
        parent = emu.store.get("driveItem", base["_parent"]) or {}
        item, created = write_file(emu.store, drv, parent, base["name"], req.body, "replace")
    else:
        parent, name = _split_target(emu.store, drv, base, path)
        item, created = write_file(emu.store, drv, parent, name, req.body, behavior)
    return GraphResponse(201 if created else 200, render_item(emu.store, drv, item, req))


# -- upload sessions ------------------------------------------------------------------------------------
def create_session(emu, req: GraphRequest, drv: Json, base: Json, path: str) -> GraphResponse:
    store = emu.store
    body = req.json() if req.body else {}
    spec = body.get("item") or {}
    if not isinstance(spec, dict):
        raise invalid("'item' must be an object.")
    parent, name = _split_target(store, drv, base, path)
    check_name(store, drv, parent, name, folder=False)
    behavior = spec.get(CONFLICT_KEY, "fail")  # default fail (DC:api/driveitem-createuploadsession.md)
    _conflict(store, parent, name, behavior)  # 409 nameAlreadyExists now when the file exists and fail
    fsi = _fsi(spec.get("fileSystemInfo"))
    session_id = opaque_id("", drv["id"], store.next_number("driveUploadSession"))
    token = secrets.token_urlsafe(24)
    expires = time.time() + emu.config.upload_session_ttl_s
    session = {"id": session_id, "_drive": drv["id"], "_parent": parent["id"], "_name": name,
               "_behavior": behavior, "_fsi": fsi, "_token": token, "_app": req.app_id, "_expires": expires, "_total": None,
               "_defer": bool(body.get("deferCommit", False)),
               "expirationDateTime": iso_utc_ts(expires)}
    store.insert("uploadSession", session, parent=drv["id"], owner=drv["id"])
    url = req.base_url.rsplit("/v1.0", 1)[0] + f"/_upload/drive/{session_id}?authtoken={token}"
    return GraphResponse(200, {"uploadUrl": url, "expirationDateTime": session["expirationDateTime"],
                               "nextExpectedRanges": ["0-"]})


def iso_utc_ts(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _session(emu, req: GraphRequest, session_id: str) -> Json:
    session = emu.store.get("uploadSession", session_id)
    if session is None or "_drive" not in session:
        raise item_not_found("The upload session was not found.")
    if not secrets.compare_digest(req.query.get("authtoken", ""), session["_token"]):
        raise EmulatorHttpError(401, "unauthenticated", "The upload URL's authtoken is invalid.")
    if time.time() > session["_expires"]:  # expired -> 404, restart the upload (graph-semantics §6)
        emu.store.drop_chunks(session_id)
        emu.store.delete("uploadSession", session_id)
        raise item_not_found("The upload session has expired.")
    return session


def _received(store: Store, session_id: str) -> int:
    return sum(length for _, length in store.chunk_ranges(session_id))


def _status(session: Json, received: int, complete: bool = False) -> Json:
    return {"expirationDateTime": session["expirationDateTime"],
            "nextExpectedRanges": [] if complete else [f"{received}-"]}


def put_chunk(emu, req: GraphRequest, session: str) -> GraphResponse:
    sess = _session(emu, req, session)
    store = emu.store
    m = CONTENT_RANGE.match(req.headers.get("content-range", ""))
    if not m:
        raise invalid("A Content-Range header 'bytes {first}-{last}/{total}' is required.")
    first, last, total = (int(g) for g in m.groups())
    size = len(req.body)
    if last < first or last >= total or size != last - first + 1:
        raise EmulatorHttpError(400, "invalidRange", "The Content-Range does not match the bytes sent.")
    if size >= emu.config.switches.drive_upload_chunk_limit:  # each PUT less than 60 MiB (createuploadsession doc)
        raise EmulatorHttpError(413, "requestEntityTooLarge", "A fragment must be smaller than 60 MiB.")
    if sess["_total"] is not None and sess["_total"] != total:  # same total in every Content-Range
        raise EmulatorHttpError(400, "invalidRange", "The total size differs from earlier fragments.")
    received = _received(store, session)
    if first < received:  # re-sending received bytes (DC:api/driveitem-createuploadsession.md)
        raise EmulatorHttpError(416, "invalidRange", "The range was already received.",
                                {"Content-Range": f"bytes */{total}"})
    if first > received:  # fragments must be uploaded sequentially, in order
        raise EmulatorHttpError(416, "invalidRange", f"Fragments must be sent in order; expected byte {received}.")
    final = last + 1 == total
    if not final and size % CHUNK_MULTIPLE:
        # The doc: a non-multiple of 320 KiB "will result in errors committing some files"; refusing the
        # fragment at once is stricter and tells the client which fragment was wrong.
        raise EmulatorHttpError(400, "invalidRange", f"Each fragment except the last must be a multiple of "
                                f"{CHUNK_MULTIPLE} bytes (320 KiB).")
    sess["_total"] = total
    # "Each fragment uploaded during the session extends the expiration time." (DC:resources/uploadsession.md)
    sess["_expires"] = time.time() + emu.config.upload_session_ttl_s
    sess["expirationDateTime"] = iso_utc_ts(sess["_expires"])
    store.put("uploadSession", sess)
    store.add_chunk(session, first, req.body)
    if not final:
        return GraphResponse(202, _status(sess, last + 1))
    if sess["_defer"]:  # deferCommit: the client commits with POST {uploadUrl}
        return GraphResponse(202, _status(sess, total, complete=True))
    return _commit(emu, req, sess)


def _commit(emu, req: GraphRequest, sess: Json) -> GraphResponse:
    store = emu.store
    drv = resolve_drive(store, sess["_drive"])
    parent = store.get("driveItem", sess["_parent"])
    if parent is None:
        raise item_not_found("The target folder no longer exists.")
    data = store.take_chunks(sess["id"])
    # A same-named file that appeared since the session began -> 409 upload_name_conflict (graph-semantics §6);
    # the transaction rolls back, so the session and its bytes survive for a retry.
    item, created = write_file(store, drv, parent, sess["_name"], data, sess["_behavior"], sess["_fsi"],
                               conflict_code="upload_name_conflict")
    store.delete("uploadSession", sess["id"])
    return GraphResponse(201 if created else 200, render_item(store, drv, item))


def commit_session(emu, req: GraphRequest, session: str) -> GraphResponse:
    sess = _session(emu, req, session)
    if not sess["_defer"] or sess["_total"] is None or _received(emu.store, session) != sess["_total"]:
        raise invalid("The upload is not complete or was not created with deferCommit.")
    return _commit(emu, req, sess)


def get_session(emu, req: GraphRequest, session: str) -> GraphResponse:
    sess = _session(emu, req, session)
    received = _received(emu.store, session)
    return GraphResponse(200, _status(sess, received, complete=sess["_total"] == received))


def delete_session(emu, req: GraphRequest, session: str) -> GraphResponse:
    _session(emu, req, session)
    emu.store.drop_chunks(session)
    emu.store.delete("uploadSession", session)
    return GraphResponse(204)


def get_drive_list(emu, req: GraphRequest, drive: str | None = None, site: str | None = None) -> GraphResponse:
    """``GET /drives/{d}/list``: "For drives in SharePoint, the underlying document library list"
    (DC:resources/drive.md); a OneDrive has no list here (not emulated), so 404."""
    drv = resolve_drive(emu.store, drive, site)
    list_obj = emu.store.get("spList", drv.get("_list", ""))
    if list_obj is None:
        raise item_not_found("The drive has no list in the emulator (a user's OneDrive).")
    from . import lists
    return GraphResponse(200, lists.render_list(emu.store, list_obj, req))


def register(router: Router) -> None:
    router.add("GET", "/sites/{site}/drives", list_site_drives, budget="sharepoint", many=True)
    router.add("GET", "/sites/{site}/drive", get_site_drive, budget="sharepoint")
    router.add("GET", "/drives/{drive}", get_drive, budget="sharepoint")
    router.add("GET", "/drives/{drive}/list", get_drive_list, budget="sharepoint")
    router.add("GET", "/sites/{site}/drive/list", get_drive_list, budget="sharepoint")
    for prefix in ("/drives/{drive}", "/sites/{site}/drive"):
        router.add("GET", prefix + "/{rest:path}/children", _children_query, budget="sharepoint", many=True)
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            router.add(method, prefix + "/{rest:path}", drive_item, budget="sharepoint")
    router.add("PUT", "/_upload/drive/{session}", put_chunk, budget="upload:drive")
    router.add("POST", "/_upload/drive/{session}", commit_session, budget="upload:drive")
    router.add("GET", "/_upload/drive/{session}", get_session, budget="upload:drive")
    router.add("DELETE", "/_upload/drive/{session}", delete_session, budget="upload:drive")


def _children_query(emu, req: GraphRequest, rest: str, **where: str) -> GraphResponse:
    return drive_item(emu, req, rest, children=True, **where)
