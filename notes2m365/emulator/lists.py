"""SharePoint lists of the emulator: lists, their columns and their items (``/sites/{site}/lists/...``).

Owns the store kinds ``spList`` (columns live inside the list as ``_columns``)
and ``spListItem`` (stored id ``{list-id}/{n}``, public id ``n``).  A
``documentLibrary`` list gets its drive from :mod:`drives`; every site is
provisioned with the default library "Documents" (``Shared Documents``) and
the hidden "User Information List" (:mod:`userinfo`).

The items of a document library are its files and folders: one stored
``driveItem`` each (see :mod:`drives`), never a second ``spListItem`` copy, so
the drive view and the list view cannot drift.  Everything below that reads or
writes an item (:func:`all_items`, :func:`find_item`, :func:`item_fields`,
:func:`save_item`...) works on both kinds; ``/drives/{d}/items/{id}/listItem``
is served here too (:func:`drive_item_list_item`).
Rules encoded here come from graph-semantics §5 and §11.11; each carries
its source next to the code.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from ..errors import EmulatorHttpError
from . import drives
from .directory import find_site, require_site
from .drives import expand_options
from .odata import default_resolver, page, parse_filter, referenced_paths, select_fields
from .router import GraphRequest, GraphResponse, Json, Router, guid, now_iso, public
from .store import Store

NAMESPACE = uuid.UUID("2b0f5e0c-8a51-4d3e-9a43-5b8f3c6e7d21")
# Mutually exclusive type facets of a columnDefinition (DC:resources/columndefinition.md).
FACETS = ("boolean", "calculated", "choice", "currency", "dateTime", "lookup", "number", "personOrGroup",
          "text", "term", "hyperlinkOrPicture", "thumbnail", "contentApprovalStatus", "geolocation")
TEMPLATES = ("genericList", "documentLibrary")
APP_AUTHOR_ID = "1073741822"  # the "SharePoint App" entry of the User Information List (app-only writes)
APP_IDENTITY = {"user": {"displayName": "SharePoint App"}}
# Written by SharePoint itself; through Graph only via REST validateUpdateListItem (graph-semantics §5.3).
AUTHORSHIP = {"Created", "Modified", "Author", "Editor", "AuthorLookupId", "EditorLookupId"}
NON_INDEXED_MESSAGE = ("Field '{}' cannot be referenced in filter or orderby as it is not indexed. Provide the "
                       "'Prefer: HonorNonIndexedQueriesWarningMayFailRandomly' header to allow this, but be warned "
                       "that such queries may fail on large lists.")  # GH microsoftgraph/microsoft-graph-docs#2279
# Measured against a real tenant (public migration notes, "Brightcove Gallery -> SharePoint" plan §9, and a
# second, Japanese troubleshooting note, both found through the code index): POST .../lists/{library}/items
# answers 400 with this text.
LIBRARY_ITEM_MESSAGE = "Files and folders should only be added to a DocumentLibrary via the OneDrive API"


def invalid(message: str) -> EmulatorHttpError:
    return EmulatorHttpError(400, "invalidRequest", message)


# -- columns ---------------------------------------------------------------------------------------
def _column(name: str, facet: str, facet_value: Json | None = None, *, display: str | None = None,
            read_only: bool = True, hidden: bool = False, required: bool = False, indexed: bool = False,
            group: str = "_Hidden") -> Json:
    return {"columnGroup": group, "description": "", "displayName": display or name, "enforceUniqueValues": False,
            "hidden": hidden, "id": str(uuid.uuid5(NAMESPACE, "column:" + name)), "indexed": indexed, "name": name,
            "readOnly": read_only, "required": required, facet: facet_value or {}, "_system": True}


def system_columns(template: str) -> list[Json]:
    """Columns every list has; genericList adds a required Title (DC:api/list-create.md, graph-semantics §5.1)."""
    cols = [_column("Title", "text", {"allowMultipleLines": False, "maxLength": 255, "textType": "plain"},
                    read_only=False, required=template == "genericList", group="Custom Columns"),
            _column("ID", "number", {}, indexed=True),
            _column("ContentType", "text", {}, display="Content Type"),
            _column("Modified", "dateTime", {"displayAs": "default", "format": "dateTime"}),
            _column("Created", "dateTime", {"displayAs": "default", "format": "dateTime"}),
            _column("Author", "personOrGroup", {"allowMultipleSelection": False, "chooseFromType": "peopleAndGroups",
                                                "displayAs": "nameWithPresence"}, display="Created By"),
            _column("Editor", "personOrGroup", {"allowMultipleSelection": False, "chooseFromType": "peopleAndGroups",
                                                "displayAs": "nameWithPresence"}, display="Modified By"),
            _column("_UIVersionString", "text", {}, display="Version"),
            _column("Edit", "text", {}), _column("LinkTitleNoMenu", "text", {}), _column("LinkTitle", "text", {}),
            _column("DocIcon", "text", {}, display="Type"), _column("ItemChildCount", "text", {}),
            _column("FolderChildCount", "text", {})]
    if template == "documentLibrary":
        cols += [_column("FileLeafRef", "text", {}, display="Name", read_only=False),
                 _column("FileSizeDisplay", "text", {}, display="File Size"),
                 _column("LinkFilename", "text", {}, display="Name"),
                 _column("LinkFilenameNoMenu", "text", {}, display="Name"),
                 _column("CheckoutUser", "personOrGroup", {}, display="Checked Out To"),
                 _column("_CheckinComment", "text", {}, display="Check In Comment")]
    else:
        cols.append(_column("Attachments", "boolean", {}))
    return cols


def validate_column(body: Any, existing: list[Json], site_id: str, store: Store, switches: Any) -> Json:
    """A user column from a columnDefinition body, or 400 invalidRequest (graph-semantics §5.2)."""
    if not isinstance(body, dict):
        raise invalid("A column definition must be an object.")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid("The column 'name' is required.")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        # SharePoint encodes other characters in internal names (_x0020_); refuse instead of guessing.
        raise invalid(f"The column name '{name}' must start with a letter and contain only letters, digits or '_'.")
    display = body.get("displayName", name)
    taken = {c["name"].lower(): c for c in existing}
    if name.lower() in taken and not taken[name.lower()].get("_system"):
        raise invalid(f'A duplicate field name "{name}" was found.')  # SharePoint's SPDuplicateFieldException text
    if name.lower() in taken:
        # DC:api/list-create.md's own example adds "Author", a built-in name: SharePoint then gives the new field
        # a numbered internal name (Author0); UNCONFIRMED for Graph, the displayName stays as asked.
        n = 0
        while f"{name}{n}".lower() in taken:
            n += 1
        name = f"{name}{n}"
    facets = [f for f in FACETS if f in body]
    if len(facets) != 1:  # DC:resources/columndefinition.md: the type facets are mutually exclusive
        raise invalid(f"Column '{name}' must have exactly one type facet; found {facets or 'none'}.")
    facet = facets[0]
    value = body[facet]
    if not isinstance(value, dict):
        raise invalid(f"The '{facet}' facet of column '{name}' must be an object.")
    if facet == "text":  # DC:resources/textcolumn.md
        if value.get("textType", "plain") not in ("plain", "richText"):
            raise invalid(f"textType must be 'plain' or 'richText' (column '{name}').")
        max_len = value.get("maxLength", 255)
        if not isinstance(max_len, int) or isinstance(max_len, bool) or not 1 <= max_len <= 255:
            raise invalid(f"maxLength of column '{name}' must be 1..255.")  # "standard limit of 255 characters"
        value = {"allowMultipleLines": False, "appendChangesToExistingText": False, "linesForEditing": 0,
                 "maxLength": 255, "textType": "plain", **value}
    elif facet == "choice":
        choices = value.get("choices")
        if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
            raise invalid(f"The choice column '{name}' needs a non-empty list of string 'choices'.")
        value = {"allowTextEntry": False, "displayAs": "dropDownMenu", **value}
    elif facet == "lookup":  # DC:resources/lookupcolumn.md
        if not isinstance(value.get("listId"), str) or not isinstance(value.get("columnName"), str):
            raise invalid(f"The lookup column '{name}' needs 'listId' and 'columnName'.")
        if find_list(store, site_id, value["listId"]) is None:
            raise invalid(f"The lookup list '{value['listId']}' of column '{name}' does not exist.")
    elif facet in ("calculated", "contentApprovalStatus"):
        pass
    unique = bool(body.get("enforceUniqueValues", False))
    indexed = bool(body.get("indexed", False))
    if unique and not indexed and switches.unique_requires_index:
        # SharePoint refuses unique values on a non-indexed column; UNCONFIRMED through Graph (switch).
        raise invalid(f"Column '{name}' must be indexed to enforce unique values.")
    return {"columnGroup": "Custom Columns", "description": body.get("description", ""),
            "displayName": display, "enforceUniqueValues": unique,
            "hidden": bool(body.get("hidden", False)), "id": guid("column", store.next_number("column")),
            "indexed": indexed, "name": name,
            "readOnly": bool(body.get("readOnly", False)) or facet == "calculated",
            "required": bool(body.get("required", False)), facet: value}


def facet_of(column: Json) -> str:
    return next((f for f in FACETS if f in column), "text")


# -- lists -------------------------------------------------------------------------------------
def find_list(store: Store, site_id: str, key: str) -> Json | None:
    """A list by id, displayName or name (Graph accepts the list title in place of the id)."""
    found = store.get("spList", key.lower()) or store.get("spList", key)
    if found and found["_site"] == site_id:
        return found
    low = key.lower()
    return next((li for li in store.owned("spList", site_id)
                 if li["displayName"].lower() == low or li["name"].lower() == low), None)


def _site_lists_ready(store: Store, site: Json) -> None:
    """Sites of a store seeded before the User Information List existed get it on first need."""
    from . import userinfo  # userinfo builds on this module; imported late to keep the cycle harmless
    userinfo.ensure(store, site)


def require_list(store: Store, site: str, key: str) -> tuple[Json, Json]:
    site_obj = require_site(store, site)
    _site_lists_ready(store, site_obj)
    found = find_list(store, site_obj["id"], key)
    if found is None:
        raise EmulatorHttpError(404, "itemNotFound", "The specified list was not found")
    return site_obj, found


def create_list(store: Store, site: Json, display_name: str, template: str, name: str | None = None,
                description: str = "", columns: list[Json] | None = None, *, list_id: str | None = None,
                web_url: str | None = None, system: bool = False, hidden: bool = False) -> Json:
    if list_id is None:
        number = store.next_number("spList")
        list_id = str(uuid.uuid5(NAMESPACE, f"list:{site['id']}:{number}"))
    name = name or display_name
    now = now_iso()
    url = web_url or site["webUrl"] + ("/" if template == "documentLibrary" else "/Lists/") + quote(name)
    obj: Json = {"id": list_id, "name": name, "displayName": display_name, "description": description,
                 "createdDateTime": now, "lastModifiedDateTime": now, "webUrl": url,
                 "createdBy": APP_IDENTITY, "lastModifiedBy": APP_IDENTITY,
                 "parentReference": {"siteId": site["id"]},
                 "list": {"contentTypesEnabled": False, "hidden": hidden, "template": template},
                 "_site": site["id"], "_columns": system_columns(template) + (columns or [])}
    if system:
        obj["system"] = {}  # "If present, indicates that this is a system-managed list" (list resource)
    if template == "documentLibrary":
        drive = drives.create_drive(store, site, obj)
        obj["_drive"] = drive["id"]
        obj["_numbered"] = True  # every file and folder gets its item number when it is made
    store.insert("spList", obj, parent=site["id"], owner=site["id"])
    return obj


def provision_site(store: Store, site: Json) -> None:
    """The default document library of every site (and with it the site's default drive), and the site's
    hidden User Information List with its people (:mod:`userinfo`)."""
    create_list(store, site, "Documents", "documentLibrary", name="Shared Documents")
    _site_lists_ready(store, site)


def ensure_user(store: Store, user: Json) -> None:
    """Seeding hook (service.seed_tenant), every user on every seed: a user new to the tenant file joins the
    User Information List of each existing site that takes all tenant users (:mod:`userinfo`)."""
    from . import userinfo
    userinfo.ensure_user(store, user)


def render_list(store: Store, obj: Json, req: GraphRequest) -> Json:
    out = public(obj)
    expand = req.query.get("$expand", "").lower()
    if "columns" in expand:
        out["columns"] = [public(c) for c in obj["_columns"]]
    if "drive" in expand and obj.get("_drive"):
        out["drive"] = drives.render_drive(store, store.get("drive", obj["_drive"]) or {})
    return select_fields(out, req.query.get("$select"), always=("id", "columns", "drive"))


def _selects(req: GraphRequest, name: str) -> bool:
    return name.lower() in {s.strip().lower() for s in req.query.get("$select", "").split(",")}


def list_lists(emu, req: GraphRequest, site: str) -> GraphResponse:
    site_obj = require_site(emu.store, site)
    _site_lists_ready(emu.store, site_obj)
    lists = emu.store.owned("spList", site_obj["id"])
    # "Lists with the system facet are hidden by default. To list them, include system in your $select
    # statement." (DC:api/list-list.md).  Hidden lists without it are listed, with list.hidden true (pnpcore's
    # notes: Graph returned "Content type publishing error log (hidden)" but not "User Information List").
    show_system = _selects(req, "system") or (emu.config.switches.system_lists_match_filter
                                              and bool(req.query.get("$filter")))
    lists = [li for li in lists if show_system or "system" not in li]
    return GraphResponse(200, page(req, lists, page_size=200, render=lambda o: render_list(emu.store, o, req)))


def _refuse_system(list_obj: Json) -> None:
    """System lists (the User Information List) are SharePoint's own: Graph adds no entries and changes no
    schema there; status and code UNCONFIRMED (403 accessDenied, the side a client cannot come to rely on)."""
    if "system" in list_obj:
        raise EmulatorHttpError(403, "accessDenied", f"The list '{list_obj['displayName']}' is maintained by "
                                "SharePoint and cannot be changed through Microsoft Graph.")


def post_list(emu, req: GraphRequest, site: str) -> GraphResponse:
    site_obj = require_site(emu.store, site)
    _site_lists_ready(emu.store, site_obj)
    body = req.json()
    display = body.get("displayName")
    if not isinstance(display, str) or not display.strip():
        raise invalid("The list 'displayName' is required.")  # DC:api/list-create.md
    info = body.get("list") or {}
    if not isinstance(info, dict):
        raise invalid("The value of 'list' must be a listInfo object.")
    template = info.get("template", "genericList")  # default genericList (graph-semantics §5.1)
    if template not in TEMPLATES:
        raise invalid(f"The list template '{template}' is not supported by the emulator.")
    _ensure_unique_title(emu.store, site_obj["id"], display, body.get("name"))
    columns: list[Json] = []
    base = system_columns(template)
    for spec in body.get("columns") or []:
        columns.append(validate_column(spec, base + columns, site_obj["id"], emu.store, emu.config.switches))
    obj = create_list(emu.store, site_obj, display.strip(), template, body.get("name"),
                      body.get("description", ""), columns)
    return GraphResponse(201, render_list(emu.store, obj, req))


def _ensure_unique_title(store: Store, site_id: str, display: str, name: str | None, skip: str = "") -> None:
    wanted = {display.lower(), (name or display).lower()}
    for other in store.owned("spList", site_id):
        if other["id"] != skip and wanted & {other["displayName"].lower(), other["name"].lower()}:
            # SharePoint's SPException text; Graph answers 409 nameAlreadyExists.
            raise EmulatorHttpError(409, "nameAlreadyExists",
                                    "A list, survey, discussion board, or document library with the specified "
                                    "title already exists in this Web site.  Please choose another title.")


def get_list(emu, req: GraphRequest, site: str, list: str) -> GraphResponse:
    _, obj = require_list(emu.store, site, list)
    return GraphResponse(200, render_list(emu.store, obj, req))


def patch_list(emu, req: GraphRequest, site: str, list: str) -> GraphResponse:
    site_obj, obj = require_list(emu.store, site, list)
    _refuse_system(obj)
    body = req.json()
    if "displayName" in body:
        if not isinstance(body["displayName"], str) or not body["displayName"].strip():
            raise invalid("displayName must be a non-empty string.")
        _ensure_unique_title(emu.store, site_obj["id"], body["displayName"], None, skip=obj["id"])
        obj["displayName"] = body["displayName"].strip()
    if "description" in body:
        obj["description"] = str(body["description"])
    obj["lastModifiedDateTime"] = now_iso()
    emu.store.put("spList", obj)
    return GraphResponse(200, render_list(emu.store, obj, req))


def delete_list(emu, req: GraphRequest, site: str, list: str) -> GraphResponse:
    _, obj = require_list(emu.store, site, list)
    _refuse_system(obj)
    for item in emu.store.children("spListItem", obj["id"]):
        emu.store.delete("spListItem", item["id"])
    if obj.get("_drive"):
        drives.delete_drive(emu.store, obj["_drive"])  # its files, and with them the library's items
    emu.store.delete("spList", obj["id"])
    return GraphResponse(204)


def list_drive(emu, req: GraphRequest, site: str, list: str) -> GraphResponse:
    _, obj = require_list(emu.store, site, list)
    drive = emu.store.get("drive", obj.get("_drive", ""))
    if drive is None:
        raise EmulatorHttpError(404, "itemNotFound", "The list is not a document library and has no drive.")
    return GraphResponse(200, drives.render_drive(emu.store, drive))


def list_columns(emu, req: GraphRequest, site: str, list: str) -> GraphResponse:
    _, obj = require_list(emu.store, site, list)
    return GraphResponse(200, page(req, obj["_columns"], page_size=200,
                                   render=lambda c: select_fields(public(c), req.query.get("$select"))))


def get_column(emu, req: GraphRequest, site: str, list: str, column: str) -> GraphResponse:
    _, obj = require_list(emu.store, site, list)
    col = next((c for c in obj["_columns"] if column.lower() in (c["id"], c["name"].lower())), None)
    if col is None:
        raise EmulatorHttpError(404, "itemNotFound", f"Column '{column}' does not exist.")
    return GraphResponse(200, select_fields(public(col), req.query.get("$select")))


def post_column(emu, req: GraphRequest, site: str, list: str) -> GraphResponse:
    site_obj, obj = require_list(emu.store, site, list)
    _refuse_system(obj)
    col = validate_column(req.json(), obj["_columns"], site_obj["id"], emu.store, emu.config.switches)
    obj["_columns"].append(col)
    obj["lastModifiedDateTime"] = now_iso()
    emu.store.put("spList", obj)
    return GraphResponse(201, public(col))


def site_columns(emu, req: GraphRequest, site: str) -> GraphResponse:
    require_site(emu.store, site)
    cols = [c for c in system_columns("genericList")]
    return GraphResponse(200, page(req, cols, page_size=200, render=public))


# -- items: one API over list items (spListItem) and library files and folders (driveItem) -------------
def is_library(list_obj: Json) -> bool:
    return bool(list_obj.get("_drive"))


def _drive_of(store: Store, list_obj: Json) -> Json:
    drive = store.get("drive", list_obj["_drive"])
    if drive is None:
        raise EmulatorHttpError(404, "itemNotFound", "The library's drive was not found.")
    return drive


def all_items(store: Store, list_obj: Json) -> list[Json]:
    """The items of a list in id order; for a library its files and folders at every depth (a flat list,
    as SharePoint's list view of a library)."""
    if not is_library(list_obj):
        return store.children("spListItem", list_obj["id"])
    drive = _drive_of(store, list_obj)
    items = [i for i in store.owned("driveItem", drive["id"]) if drives.ensure_list_item(store, drive, i)]
    if not list_obj.get("_numbered"):  # a store from before libraries had list items: numbered now, once
        list_obj["_numbered"] = True
        store.put("spList", list_obj)
    return sorted(items, key=lambda i: i["_n"])


def find_item(store: Store, list_obj: Json, number: Any) -> Json | None:
    n = str(number)
    if not is_library(list_obj):
        return store.get("spListItem", f"{list_obj['id']}/{n}")
    ref = store.get(drives.LIBRARY_INDEX, f"{list_obj['id']}/{n}")
    if ref is None and not list_obj.get("_numbered"):
        all_items(store, list_obj)
        ref = store.get(drives.LIBRARY_INDEX, f"{list_obj['id']}/{n}")
    return store.get("driveItem", ref["item"]) if ref else None


def require_item(store: Store, list_obj: Json, item_id: str) -> Json:
    item = find_item(store, list_obj, item_id)
    if item is None:
        raise EmulatorHttpError(404, "itemNotFound", "The specified list item was not found")
    return item


def item_number(item: Json) -> str:
    return str(item["_n"]) if "_n" in item else item["id"].split("/")[-1]


def item_etag(item: Json) -> str:
    """The listItem eTag; a library item's is its driveItem's GUID and version without the braces."""
    if "_drive" in item:
        return f'"{item["_guid"].lower()},{item["_version"]}"'
    return item["eTag"]


def save_item(store: Store, item: Json) -> None:
    store.put("driveItem" if "_drive" in item else "spListItem", item)


def _bump(item: Json) -> None:
    item["_version"] += 1
    item["lastModifiedDateTime"] = now_iso()
    if "_drive" not in item:
        item["eTag"] = f'"{item["_guid"]},{item["_version"]}"'


def insert_item(store: Store, list_obj: Json, n: int, values: Json, content_type: str = "Item") -> Json:
    """A new item ``n`` of a (non-library) list with stored field values."""
    now = now_iso()
    item_guid = str(uuid.uuid5(NAMESPACE, f"item:{list_obj['id']}:{n}"))
    item: Json = {"id": f"{list_obj['id']}/{n}", "eTag": f'"{item_guid},1"', "createdDateTime": now,
                  "lastModifiedDateTime": now, "webUrl": f"{list_obj['webUrl']}/DispForm.aspx?ID={n}",
                  "createdBy": APP_IDENTITY, "lastModifiedBy": APP_IDENTITY,
                  "parentReference": {"id": list_obj["id"], "siteId": list_obj["_site"]},
                  "contentType": {"id": "0x0100" + item_guid.replace("-", "").upper(), "name": content_type},
                  "_fields": values, "_version": 1, "_guid": item_guid}
    store.insert("spListItem", item, parent=list_obj["id"], owner=list_obj["_site"])
    return item


def _content_type(list_obj: Json, item: Json) -> Json:
    if "_drive" not in item:
        return item["contentType"]
    suffix = list_obj["id"].replace("-", "").upper()
    return ({"id": "0x012000" + suffix, "name": "Folder"} if "folder" in item
            else {"id": "0x010100" + suffix, "name": "Document"})


def sharepoint_ids(store: Store, list_obj: Json, item: Json | None = None) -> Json:
    """sharepointIds: "identifiers useful for SharePoint REST compatibility" (DC:resources/sharepointids.md)."""
    site = store.get("site", list_obj["_site"]) or {"id": list_obj["_site"], "webUrl": ""}
    _, collection, web = (site["id"].split(",") + ["", ""])[:3]
    out = {"listId": list_obj["id"], "siteId": collection, "siteUrl": site["webUrl"], "webId": web}
    if item is not None:
        out.update({"listItemId": item_number(item), "listItemUniqueId": item["_guid"].lower()})
    return out


def _lookup_ids(value: Any, multi: bool, name: str) -> int | list[int] | None:
    def one(v: Any) -> int:
        if isinstance(v, bool) or not (isinstance(v, int) or (isinstance(v, str) and v.strip().isdigit())):
            raise invalid(f"Field '{name}' must be a lookup id (an integer, as a number or a string).")
        return int(v)
    if value is None:
        return None
    if multi:  # "<Col>LookupId@odata.type": "Collection(Edm.Int32)" + list (GH alcionai/corso#5108)
        if not isinstance(value, list):
            raise invalid(f"Field '{name}' allows several values: send a list with "
                          f"'{name}@odata.type': 'Collection(Edm.Int32)'.")
        return [one(v) for v in value]
    if isinstance(value, list):
        raise invalid(f"Field '{name}' takes a single lookup id.")
    return one(value)


def _parse_dt(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise invalid(f"Field '{name}' must be a date-time string.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"Cannot convert '{value}' to a date-time for field '{name}'.")
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def coerce_field(store: Store, column: Json, key: str, value: Any, annotations: Json, site_id: str = "") -> Any:
    """The stored form of one written field value, or 400 invalidRequest."""
    facet, spec, name = facet_of(column), column[facet_of(column)], column["name"]
    if column["readOnly"]:
        raise invalid(f"Field '{key}' is read-only.")
    if facet in ("personOrGroup", "lookup"):
        if key != name + "LookupId":  # person/lookup values are written as <Col>LookupId (graph-semantics §5.2)
            raise invalid(f"Field '{key}' cannot be written directly; write '{name}LookupId' instead.")
        multi = bool(spec.get("allowMultipleSelection") or spec.get("allowMultipleValues"))
        if multi and value is not None and annotations.get(key + "@odata.type") != "Collection(Edm.Int32)":
            raise invalid(f"Field '{key}' needs '{key}@odata.type': 'Collection(Edm.Int32)' for several values.")
        ids = _lookup_ids(value, multi, key)
        if facet == "lookup" and ids is not None:
            target = find_list(store, site_id, spec.get("listId", "")) if site_id else None
            target = target or store.get("spList", spec.get("listId", ""))
            for n in ids if isinstance(ids, list) else [ids]:
                if target is None or find_item(store, target, n) is None:
                    raise invalid(f"Field '{key}': item {n} does not exist in the lookup list.")
        if facet == "personOrGroup" and ids is not None:
            _check_site_users(store, site_id, key, ids if isinstance(ids, list) else [ids])
        return ids
    if value is None:
        return None
    if facet == "text":
        if not isinstance(value, str):
            raise invalid(f"Field '{name}' must be a string.")
        if not spec.get("allowMultipleLines") and len(value) > spec.get("maxLength", 255):
            raise invalid(f"Field '{name}' exceeds its maximum length of {spec.get('maxLength', 255)} characters.")
    elif facet in ("number", "currency"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise invalid(f"Field '{name}' must be a number.")
        if ("minimum" in spec and value < spec["minimum"]) or ("maximum" in spec and value > spec["maximum"]):
            raise invalid(f"Field '{name}' is outside its allowed range.")
    elif facet == "boolean":
        if not isinstance(value, bool):
            raise invalid(f"Field '{name}' must be a boolean.")
    elif facet == "dateTime":
        value = _parse_dt(value, name)
    elif facet == "choice":
        # A checkBoxes choice column holds several values, written as a list with
        # "<Col>@odata.type": "Collection(Edm.String)" (community-documented; UNCONFIRMED in Graph's reference).
        multi = spec.get("displayAs") == "checkBoxes"
        if multi:
            if annotations.get(key + "@odata.type") != "Collection(Edm.String)" or not isinstance(value, list):
                raise invalid(f"Field '{key}' takes several values: a list with "
                              f"'{key}@odata.type': 'Collection(Edm.String)'.")
        values = value if multi else [value]
        for one in values:
            if not isinstance(one, str):
                raise invalid(f"Field '{name}' must be a string choice.")
            if one not in spec["choices"] and not spec.get("allowTextEntry"):  # fill-in choices only if allowed
                raise invalid(f"Value '{one}' is not one of the choices of field '{name}'.")
    elif facet == "hyperlinkOrPicture":
        if not isinstance(value, (str, dict)):
            raise invalid(f"Field '{name}' must be a URL or an object with Url and Description.")
    return value


def _check_site_users(store: Store, site_id: str, key: str, ids: list[int]) -> None:
    """A person LookupId is the id of an entry of the site's User Information List (graph-semantics §5.2,
    GH alcionai/corso#5108); any other number names nobody there.  SharePoint refuses such a user value;
    the status, code and text Graph gives for it are UNCONFIRMED (400 invalidRequest here)."""
    from . import userinfo
    site = find_site(store, site_id) if site_id else None
    if site is None:
        return
    for n in ids:
        if userinfo.site_user(store, site, n) is None:
            raise invalid(f"Field '{key}': {n} is not the id of a user in this site's User Information List. "
                          "The user does not exist or is not unique.")


def column_for_key(columns: list[Json], key: str) -> Json | None:
    """The column a ``fields`` key addresses: its name, or ``<Name>LookupId`` for person/lookup columns."""
    for col in columns:
        if col["name"] == key:
            return col
        if key == col["name"] + "LookupId" and facet_of(col) in ("personOrGroup", "lookup"):
            return col
    return None


def apply_fields(emu, list_obj: Json, item: Json | None, fields: Any) -> Json:
    """Validated new stored field values (merged over ``item``'s), or 400."""
    if not isinstance(fields, dict):
        raise invalid("'fields' must be an object.")
    columns = list_obj["_columns"]
    switches = emu.config.switches
    current: Json = dict(item["_fields"]) if item else {}
    for key, value in fields.items():
        if "@" in key:
            if not key.endswith("@odata.type"):
                continue  # other instance annotations are ignored
            if key[:-len("@odata.type")] not in fields:
                raise invalid(f"Annotation '{key}' has no value.")
            continue
        if key in AUTHORSHIP and not switches.list_item_authorship_writable:
            # Believed not settable through Graph (graph-semantics §5.3, §11.11): refuse, never silently honour.
            raise invalid(f"Field '{key}' is read-only: Created, Modified, Author and Editor cannot be set "
                          "through Microsoft Graph.")
        if key == "FileLeafRef" and is_library(list_obj):
            if not switches.library_file_leaf_ref_writable:
                # Renaming a file by writing FileLeafRef through Graph fields is UNCONFIRMED: refused, the
                # file is renamed with PATCH of its driveItem name (DC:api/driveitem-update.md).
                raise invalid("Field 'FileLeafRef' is read-only through Microsoft Graph; rename the file "
                              "with PATCH /drives/{drive-id}/items/{item-id} {\"name\": ...}.")
            if not isinstance(value, str):
                raise invalid("Field 'FileLeafRef' must be a string.")
            current["FileLeafRef"] = value  # the caller renames the driveItem (one store: no copy kept)
            continue
        col = column_for_key(columns, key)
        if col is None:
            raise invalid(f"Field '{key}' is not recognized")
        if key in AUTHORSHIP:
            if key.endswith("LookupId"):
                _check_site_users(emu.store, list_obj["_site"], key, [_lookup_ids(value, False, key)])
            current[key] = value
            continue
        current[col["name"]] = coerce_field(emu.store, col, key, value, fields, list_obj["_site"])
    for col in columns:
        if col["required"] and not col["readOnly"] and current.get(col["name"]) in (None, "", []):
            if switches.enforce_required_columns and (item is None or col["name"] in fields
                                                      or col["name"] + "LookupId" in fields):
                raise invalid(f"Field '{col['name']}' is required.")
        if col.get("enforceUniqueValues") and current.get(col["name"]) not in (None, ""):
            _ensure_unique_value(emu.store, list_obj, item, col["name"], current[col["name"]])
    return current


def _ensure_unique_value(store: Store, list_obj: Json, item: Json | None, name: str, value: Any) -> None:
    fold = value.lower() if isinstance(value, str) else value
    for other in all_items(store, list_obj):
        if item and other["id"] == item["id"]:
            continue
        theirs = other["_fields"].get(name)
        if (theirs.lower() if isinstance(theirs, str) else theirs) == fold:
            # SharePoint's SPDuplicateValuesFoundException text; the Graph status/code is UNCONFIRMED.
            raise EmulatorHttpError(409, "nameAlreadyExists",
                                    "The list item could not be added or updated because duplicate values were "
                                    f"found in the following field(s) in the list: [{name}].")


def item_fields(store: Store, list_obj: Json, item: Json) -> Json:
    """The fieldValueSet of an item: system fields and the stored column values.  A library item adds
    the fields SharePoint derives from the file (FileLeafRef, FileSizeDisplay, DocIcon...)."""
    columns = {c["name"]: c for c in list_obj["_columns"]}
    library = "_drive" in item
    out: Json = {"@odata.etag": item_etag(item), "id": item_number(item),
                 "ContentType": _content_type(list_obj, item)["name"]}
    if library:
        out["FileLeafRef"] = item["name"]
    for name, value in item["_fields"].items():
        col = columns.get(name)
        if col is not None and facet_of(col) in ("personOrGroup", "lookup"):
            if isinstance(value, list):
                out[name] = [{"LookupId": v, "LookupValue": ""} for v in value]
            elif value is not None:
                out[name + "LookupId"] = str(value)
        elif name in AUTHORSHIP:
            continue
        elif value is not None:
            out[name] = value
    version = item["_version"]
    out.update({"Modified": item["_fields"].get("Modified", item["lastModifiedDateTime"]),
                "Created": item["_fields"].get("Created", item["createdDateTime"]),
                "AuthorLookupId": str(item["_fields"].get("AuthorLookupId", APP_AUTHOR_ID)),
                "EditorLookupId": str(item["_fields"].get("EditorLookupId", APP_AUTHOR_ID)),
                "_UIVersionString": f"{version}.0"})
    if library:
        children = store.children("driveItem", item["id"]) if "folder" in item else []
        out.update({"Edit": "0", "LinkFilenameNoMenu": item["name"], "LinkFilename": item["name"],
                    "ItemChildCount": str(sum("file" in c for c in children)),
                    "FolderChildCount": str(sum("folder" in c for c in children))})
        if "file" in item:
            stem, dot, ext = item["name"].rpartition(".")
            out.update({"DocIcon": ext.lower() if dot and stem else "", "FileSizeDisplay": str(item["size"])})
        return out
    out.update({"Edit": "", "LinkTitleNoMenu": out.get("Title", ""), "LinkTitle": out.get("Title", ""),
                "ItemChildCount": "0", "FolderChildCount": "0", "Attachments": False})
    return out


# -- rendering ------------------------------------------------------------------------------------------
def _inner_query(options: str) -> dict[str, str]:
    """``$select=a,b;$expand=fields(...)`` (the options inside an $expand) -> a query dict."""
    out: dict[str, str] = {}
    depth, current = 0, ""
    for ch in options + ";":
        if ch == ";" and depth == 0:
            key, sep, value = current.strip().partition("=")
            if sep:
                out[key.strip().lower() if key.strip().startswith("$") else key.strip()] = value.strip()
            current = ""
            continue
        depth += (ch == "(") - (ch == ")")
        current += ch
    return out


def render_item(store: Store, list_obj: Json, item: Json, req: GraphRequest, force_fields: bool = False) -> Json:
    """The listItem resource: fields only with ``$expand=fields`` (DC:resources/listitem.md "Get column
    values: GET /items/{item-id}?expand=fields"), a library item's driveItem with ``$expand=driveItem``."""
    etag = item_etag(item)
    if "_drive" in item:
        drive = _drive_of(store, list_obj)
        base: Json = {"createdDateTime": item["createdDateTime"], "eTag": etag, "id": item_number(item),
                      "lastModifiedDateTime": item["lastModifiedDateTime"],
                      "webUrl": drive["webUrl"] + "/" + quote(drives.item_path(store, item)),
                      "createdBy": item.get("createdBy", APP_IDENTITY),
                      "lastModifiedBy": item.get("lastModifiedBy", APP_IDENTITY),
                      "parentReference": {"id": list_obj["id"], "siteId": list_obj["_site"]},
                      "contentType": _content_type(list_obj, item)}
    else:
        base = {**public(item), "id": item_number(item)}
    out = select_fields({"@odata.etag": etag, **base}, req.query.get("$select"), always=("id",))
    if _selects(req, "sharepointIds"):
        out["sharepointIds"] = sharepoint_ids(store, list_obj, item)
    expand = expand_options(req.query.get("$expand", ""))
    if "fields" in expand or force_fields:
        fields = item_fields(store, list_obj, item)
        inner = _inner_query(expand.get("fields", ""))
        if inner.get("$select"):
            fields = select_fields(fields, inner["$select"], always=())
        out["fields"] = fields
    if "driveitem" in expand and "_drive" in item:
        out["driveItem"] = drives.render_item(store, _drive_of(store, list_obj), item)
    return out


# -- item handlers -------------------------------------------------------------------------------------
def post_item(emu, req: GraphRequest, site: str, list: str) -> GraphResponse:
    _, list_obj = require_list(emu.store, site, list)
    _refuse_system(list_obj)
    if is_library(list_obj):  # a library's items are its files: made through the drive (see LIBRARY_ITEM_MESSAGE)
        raise invalid(LIBRARY_ITEM_MESSAGE)
    body = req.json()
    values = apply_fields(emu, list_obj, None, body.get("fields", {}))  # DC:api/listitem-create.md
    n = emu.store.next_number(f"listItem:{list_obj['id']}")
    item = insert_item(emu.store, list_obj, n, values)
    return GraphResponse(201, render_item(emu.store, list_obj, item, req, force_fields=True))


def _filter_columns(emu, req: GraphRequest, list_obj: Json, count: int) -> None:
    """Indexing rules of ``$filter``/``$orderby`` on ``fields/X`` (graph-semantics §5.4, §11.11)."""
    paths: list[str] = []
    if req.query.get("$filter"):
        paths += referenced_paths(parse_filter(req.query["$filter"]))
    for clause in req.query.get("$orderby", "").split(","):
        if clause.strip():
            paths.append(clause.strip().split(" ")[0])
    honour = req.prefers("HonorNonIndexedQueriesWarningMayFailRandomly")
    for path in paths:
        head, _, rest = path.partition("/")
        if head.lower() != "fields" or not rest:
            continue
        col = column_for_key(list_obj["_columns"], rest)
        if col is None:
            raise invalid(f"Field '{rest}' is not recognized")
        if col["indexed"] or ("system" in list_obj and emu.config.switches.user_info_list_indexed):
            continue
        if not honour:
            raise invalid(NON_INDEXED_MESSAGE.format(rest))
        if count > emu.config.switches.list_view_threshold:
            # Over the list view threshold a non-indexed query fails (graph-semantics §5.4); Graph was seen
            # answering 429 for it (GH microsoftgraph/msgraph-sdk-dotnet#827), SharePoint REST 500
            # SPQueryThrottledException: status is a switch.
            raise EmulatorHttpError(emu.config.switches.list_threshold_status, "activityLimitReached",
                                    "The attempted operation is prohibited because it exceeds the list view "
                                    "threshold.")


def list_items(emu, req: GraphRequest, site: str, list: str) -> GraphResponse:
    _, list_obj = require_list(emu.store, site, list)
    items = all_items(emu.store, list_obj)
    _filter_columns(emu, req, list_obj, len(items))
    views = [{**item, "id": item_number(item), "fields": item_fields(emu.store, list_obj, item), "_item": item}
             for item in items]
    return GraphResponse(200, page(req, views, page_size=200, max_top=5000, resolve=default_resolver,
                                   render=lambda v: render_item(emu.store, list_obj, v["_item"], req)))


def get_item(emu, req: GraphRequest, site: str, list: str, item: str) -> GraphResponse:
    _, list_obj = require_list(emu.store, site, list)
    return GraphResponse(200, render_item(emu.store, list_obj, require_item(emu.store, list_obj, item), req))


def _check_if_match(req: GraphRequest, item: Json) -> None:
    want = req.headers.get("if-match")
    if want and want != "*" and want.strip('"') != item_etag(item).strip('"'):
        raise EmulatorHttpError(412, "resourceModified", "ETag mismatch: the item was changed by someone else.")


def _write_fields(emu, list_obj: Json, obj: Json, fields: Any) -> None:
    """Apply a fields write to an item and store it (a new version: every PATCH creates one,
    GH microsoftgraph/microsoft-graph-docs-contrib#6996)."""
    values = apply_fields(emu, list_obj, obj, fields)
    new_name = values.pop("FileLeafRef", None)
    if new_name is not None and new_name != obj["name"]:  # switch library_file_leaf_ref_writable
        drive = _drive_of(emu.store, list_obj)
        parent = emu.store.get("driveItem", obj["_parent"]) or {}
        drives.check_rename(emu.store, drive, obj, parent, new_name)
        obj["name"] = new_name
    obj["_fields"] = values
    _bump(obj)
    save_item(emu.store, obj)


def _patch_fields(emu, req: GraphRequest, list_obj: Json, obj: Json) -> GraphResponse:
    _refuse_system(list_obj)
    _check_if_match(req, obj)
    _write_fields(emu, list_obj, obj, req.json())
    return GraphResponse(200, item_fields(emu.store, list_obj, obj))


def _patch_item(emu, req: GraphRequest, list_obj: Json, obj: Json) -> GraphResponse:
    _refuse_system(list_obj)
    _check_if_match(req, obj)
    body = req.json()
    unknown = set(body) - {"fields", "@odata.etag", "eTag"}
    if unknown:  # content types are not emulated (graph-semantics §5.3)
        raise invalid(f"Property '{sorted(unknown)[0]}' cannot be updated on a listItem.")
    if "fields" in body:
        _write_fields(emu, list_obj, obj, body["fields"])
    else:
        _bump(obj)
        save_item(emu.store, obj)
    return GraphResponse(200, render_item(emu.store, list_obj, obj, req, force_fields=True))


def patch_fields(emu, req: GraphRequest, site: str, list: str, item: str) -> GraphResponse:
    _, list_obj = require_list(emu.store, site, list)
    return _patch_fields(emu, req, list_obj, require_item(emu.store, list_obj, item))


def patch_item(emu, req: GraphRequest, site: str, list: str, item: str) -> GraphResponse:
    _, list_obj = require_list(emu.store, site, list)
    return _patch_item(emu, req, list_obj, require_item(emu.store, list_obj, item))


def delete_item(emu, req: GraphRequest, site: str, list: str, item: str) -> GraphResponse:
    _, list_obj = require_list(emu.store, site, list)
    _refuse_system(list_obj)
    obj = require_item(emu.store, list_obj, item)
    _check_if_match(req, obj)
    if "_drive" in obj:  # the item is the file (or folder, with its contents): one object, one deletion
        drives.delete_tree(emu.store, obj["id"])
    else:
        emu.store.delete("spListItem", obj["id"])
    return GraphResponse(204)


def get_item_fields(emu, req: GraphRequest, site: str, list: str, item: str) -> GraphResponse:
    _, list_obj = require_list(emu.store, site, list)
    fields = item_fields(emu.store, list_obj, require_item(emu.store, list_obj, item))
    return GraphResponse(200, select_fields(fields, req.query.get("$select"), always=()))


def get_item_drive_item(emu, req: GraphRequest, site: str, list: str, item: str) -> GraphResponse:
    """listItem.driveItem: "For document libraries, the driveItem relationship exposes the listItem as a
    driveItem" (DC:resources/listitem.md)."""
    _, list_obj = require_list(emu.store, site, list)
    obj = require_item(emu.store, list_obj, item)
    if "_drive" not in obj:
        # Graph's text (quoted in GH microsoftgraph/microsoft-graph-docs#11650); status and code UNCONFIRMED.
        raise invalid("Cannot request driveItem for an item that is not in a document library")
    return GraphResponse(200, drives.render_item(emu.store, _drive_of(emu.store, list_obj), obj, req))


def no_attachments(emu, req: GraphRequest, **_: str) -> GraphResponse:
    # Graph has no listItem attachments endpoint, v1.0 or beta (GH microsoftgraph/microsoft-graph-docs#2134,
    # graph-semantics §5.3): the segment is unknown to its OData model.
    raise EmulatorHttpError(400, "BadRequest", "Resource not found for the segment 'attachments'.")


# -- the list item of a drive item (called by drives.item_request and drives.render_item) ----------------
def _library_of(store: Store, drive: Json) -> Json | None:
    return store.get("spList", drive.get("_list", "")) if drive.get("_list") else None


def drive_item_list_item(emu, req: GraphRequest, drive: Json, item: Json, suffix: str) -> GraphResponse:
    """``/drives/{d}/items/{id}/listItem`` (GET, PATCH) and ``.../listItem/fields`` (GET, PATCH): the same
    object as ``/sites/{s}/lists/{library}/items/{n}`` (DC:resources/driveitem.md listItem relationship;
    PATCH .../listItem/fields with If-Match was measured working, plan §9 cited at LIBRARY_ITEM_MESSAGE)."""
    store = emu.store
    list_obj = _library_of(store, drive)
    if list_obj is None:
        raise EmulatorHttpError(404, "itemNotFound", "Items of a user's OneDrive have no list item in the "
                                "emulator (not emulated).")
    if item.get("root") is not None:
        raise EmulatorHttpError(404, "itemNotFound", "The root folder of a library is not a list item.")
    drives.ensure_list_item(store, drive, item)
    if suffix == "/listItem" and req.method == "GET":
        return GraphResponse(200, render_item(store, list_obj, item, req))
    if suffix == "/listItem" and req.method == "PATCH":
        return _patch_item(emu, req, list_obj, item)
    if suffix == "/listItem/fields" and req.method == "GET":
        return GraphResponse(200, select_fields(item_fields(store, list_obj, item), req.query.get("$select"),
                                                always=()))
    if suffix == "/listItem/fields" and req.method == "PATCH":
        return _patch_fields(emu, req, list_obj, item)
    raise EmulatorHttpError(405, "Request_BadRequest",
                            f"The HTTP method '{req.method}' is not allowed for the resource.")


def drive_item_list_item_json(store: Store, drive: Json, item: Json, options: str) -> Json | None:
    """``$expand=listItem(...)`` on a driveItem: its listItem, or None outside libraries and for the root."""
    list_obj = _library_of(store, drive)
    if list_obj is None or item.get("root") is not None:
        return None
    drives.ensure_list_item(store, drive, item)
    return render_item(store, list_obj, item, GraphRequest("GET", "", query=_inner_query(options)))


def drive_item_sharepoint_ids(store: Store, drive: Json, item: Json) -> Json | None:
    list_obj = _library_of(store, drive)
    if list_obj is None:
        return None
    if item.get("root") is not None:
        return sharepoint_ids(store, list_obj)
    drives.ensure_list_item(store, drive, item)
    return sharepoint_ids(store, list_obj, item)


def register(router: Router) -> None:
    base = "/sites/{site}/lists"
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        router.add(method, base + "/{list}/items/{item}/attachments", no_attachments, budget="sharepoint")
        router.add(method, base + "/{list}/items/{item}/attachments/{rest:path}", no_attachments,
                   budget="sharepoint")
    router.add("GET", "/sites/{site}/columns", site_columns, budget="sharepoint", many=True)
    router.add("GET", base, list_lists, budget="sharepoint", many=True)
    router.add("POST", base, post_list, budget="sharepoint")
    router.add("GET", base + "/{list}", get_list, budget="sharepoint")
    router.add("PATCH", base + "/{list}", patch_list, budget="sharepoint")
    router.add("DELETE", base + "/{list}", delete_list, budget="sharepoint")
    router.add("GET", base + "/{list}/drive", list_drive, budget="sharepoint")
    router.add("GET", base + "/{list}/columns", list_columns, budget="sharepoint", many=True)
    router.add("POST", base + "/{list}/columns", post_column, budget="sharepoint")
    router.add("GET", base + "/{list}/columns/{column}", get_column, budget="sharepoint")
    router.add("GET", base + "/{list}/items", list_items, budget="sharepoint", many=True)
    router.add("POST", base + "/{list}/items", post_item, budget="sharepoint")
    router.add("GET", base + "/{list}/items/{item}", get_item, budget="sharepoint")
    router.add("PATCH", base + "/{list}/items/{item}", patch_item, budget="sharepoint")
    router.add("DELETE", base + "/{list}/items/{item}", delete_item, budget="sharepoint")
    router.add("PATCH", base + "/{list}/items/{item}/fields", patch_fields, budget="sharepoint")
    router.add("GET", base + "/{list}/items/{item}/fields", get_item_fields, budget="sharepoint")
    router.add("GET", base + "/{list}/items/{item}/driveItem", get_item_drive_item, budget="sharepoint")
