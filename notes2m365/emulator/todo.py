"""Microsoft To Do of the emulator (graph-semantics §3.3, §11.10), registered by ``pim.py``.

Task lists (the default "Tasks" list, ``wellknownListName: defaultList``, is
created with the mailbox), tasks, their linked resources and open
extensions.  To Do has **no** single-value extended properties: a task body
carrying them is refused, so the migration keys tasks on an open extension
or ``linkedResources.externalId`` instead (DC:resources/todotask.md).
To Do draws on the Outlook mailbox budget (§8.1 lists outlookTask).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from ..errors import EmulatorHttpError
from .odata import page, select_fields
from .pim import (
    bool_prop,
    check_properties,
    enum_prop,
    get_prop,
    item_body,
    mailbox,
    new_id,
    owned_object,
    parse_dtz,
    split_expand,
    string_list,
    string_prop,
    utc_dtz,
)
from .router import GraphRequest, GraphResponse, Json, Router, guid, now_iso, public
from .store import Store

STATUS = ("notStarted", "inProgress", "completed", "waitingOnOthers", "deferred")
IMPORTANCE = ("low", "normal", "high")
DATE_FIELDS = ("dueDateTime", "startDateTime", "completedDateTime", "reminderDateTime")
TASK_PROPS = {"title", "body", "importance", "status", "isReminderOn", "categories", "recurrence",
              "linkedResources", "checklistItems", *DATE_FIELDS,
              "id", "createdDateTime", "lastModifiedDateTime", "bodyLastModifiedDateTime", "hasAttachments"}
LIST_PROPS = {"displayName", "id", "isOwner", "isShared", "wellknownListName"}
LINK_PROPS = {"webUrl", "applicationName", "displayName", "externalId", "id"}
OPEN_EXTENSION = "microsoft.graph.openTypeExtension"
EXT_PREFIX = "Microsoft.OutlookServices.OpenTypeExtension."


def invalid(message: str = "Invalid request body") -> EmulatorHttpError:
    # The To Do service answers malformed bodies with 400 "invalidRequest" / "Invalid request body"
    # (camelCase code of the To Do API; realistic, UNCONFIRMED per case).
    return EmulatorHttpError(400, "invalidRequest", message)


def _invalid(message: object) -> EmulatorHttpError:
    return invalid(f"Invalid request body: {message}")


# -- lists ------------------------------------------------------------------------------------------------


def provision_user(store: Store, user: Json) -> None:
    store.insert("todoTaskList", {"id": new_id(store, "todoTaskList", user["id"]), "displayName": "Tasks",
                                  "isOwner": True, "isShared": False, "wellknownListName": "defaultList"},
                 parent=user["id"], owner=user["id"])


def find_list(emu: Any, owner: Json, list_id: str) -> Json:
    return owned_object(emu.store, "todoTaskList", list_id, owner)[0]


def list_name(body: Json) -> str:
    name = string_prop(body, "displayName", error=_invalid)
    if not name or not name.strip():
        raise invalid("Invalid request body: displayName is required.")
    return name


def list_lists(emu: Any, req: GraphRequest, user: str) -> GraphResponse:
    owner = mailbox(emu, user)
    return GraphResponse(200, page(req, emu.store.owned("todoTaskList", owner["id"]), page_size=emu.config.page_size,
                                   known=LIST_PROPS, type_name="microsoft.graph.todoTaskList",
                                   render=lambda t: select_fields(public(t), req.query.get("$select"))))


def create_list(emu: Any, req: GraphRequest, user: str) -> GraphResponse:
    owner = mailbox(emu, user)
    body = req.json()
    check_properties(body, LIST_PROPS, "microsoft.graph.todoTaskList", _invalid)
    created = {"id": new_id(emu.store, "todoTaskList", owner["id"]), "displayName": list_name(body),
               "isOwner": True, "isShared": False, "wellknownListName": "none"}
    emu.store.insert("todoTaskList", created, parent=owner["id"], owner=owner["id"])
    return GraphResponse(201, public(created))


def get_list(emu: Any, req: GraphRequest, user: str, tlist: str) -> GraphResponse:
    owner = mailbox(emu, user)
    return GraphResponse(200, select_fields(public(find_list(emu, owner, tlist)), req.query.get("$select")))


def update_list(emu: Any, req: GraphRequest, user: str, tlist: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_list(emu, owner, tlist)
    body = req.json()
    check_properties(body, LIST_PROPS, "microsoft.graph.todoTaskList", _invalid)
    if get_prop(body, "displayName") is not None:
        found["displayName"] = list_name(body)
    emu.store.put("todoTaskList", found)
    return GraphResponse(200, public(found))


def delete_list(emu: Any, req: GraphRequest, user: str, tlist: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_list(emu, owner, tlist)
    if found["wellknownListName"] == "defaultList":
        raise invalid("The default list cannot be deleted.")  # realistic code (UNCONFIRMED)
    for task in emu.store.children("todoTask", found["id"]):
        emu.store.delete("todoTask", task["id"])
    emu.store.delete("todoTaskList", found["id"])
    return GraphResponse(204)


# -- tasks ------------------------------------------------------------------------------------------------------


def _next_child_id(task: Json, kind: str) -> str:
    """A deterministic id for a linked resource or checklist item, unique within the task."""
    task["_seq"] = task.get("_seq", 0) + 1
    return guid(task.get("id", ""), kind, task["_seq"])


def check_link(value: object, task: Json) -> Json:
    """A linkedResource (DC:resources/linkedresource.md)."""
    if not isinstance(value, dict):
        raise invalid()
    check_properties(value, LINK_PROPS, "microsoft.graph.linkedResource", _invalid)
    link = {key: string_prop(value, key, error=_invalid) for key in ("webUrl", "applicationName", "displayName",
                                                                   "externalId")}
    return {"id": _next_child_id(task, "link"), **link}


def check_checklist_item(value: object, task: Json) -> Json:
    if not isinstance(value, dict):
        raise invalid()
    check_properties(value, {"displayName", "isChecked", "id", "createdDateTime", "checkedDateTime"},
                     "microsoft.graph.checklistItem", _invalid)
    name = string_prop(value, "displayName", error=_invalid)
    if not name:
        raise invalid("Invalid request body: checklistItem displayName is required.")
    checked = bool_prop(value, "isChecked", False, _invalid)
    return {"id": _next_child_id(task, "checklistItem"), "displayName": name, "isChecked": checked, "createdDateTime": now_iso(),
            **({"checkedDateTime": now_iso()} if checked else {})}


def apply_task_fields(task: Json, body: Json, creating: bool) -> None:
    if get_prop(body, "singleValueExtendedProperties") is not None or any(
            k.lower() in ("singlevalueextendedproperties", "multivalueextendedproperties") for k in body):
        # §3.3: todoTask has no singleValueExtendedProperties (DC:resources/todotask.md).
        raise invalid("Invalid request body: todoTask has no property 'singleValueExtendedProperties'.")
    allowed = TASK_PROPS if creating else TASK_PROPS - {"linkedResources", "checklistItems"}
    check_properties(body, allowed, "microsoft.graph.todoTask", _invalid)
    if get_prop(body, "title") is not None:
        task["title"] = string_prop(body, "title", error=_invalid)
    if get_prop(body, "body") is not None:
        task["body"] = item_body(body, "text", _invalid)
        task["bodyLastModifiedDateTime"] = now_iso()
    task["importance"] = enum_prop(body, "importance", IMPORTANCE, task["importance"], _invalid)
    old_status = task["status"]
    task["status"] = enum_prop(body, "status", STATUS, task["status"], _invalid)
    task["isReminderOn"] = bool_prop(body, "isReminderOn", task["isReminderOn"], _invalid)
    categories = string_list(body, "categories", _invalid)
    if categories is not None:
        task["categories"] = categories
    for key in DATE_FIELDS:
        if key in body or any(k.lower() == key.lower() for k in body):
            value = get_prop(body, key)
            if value is None:
                task.pop(key, None)
            else:
                moment, _ = parse_dtz(value, key, _invalid, _invalid)
                task[key] = utc_dtz(moment)  # To Do answers these in UTC
    if task["status"] == "completed" and old_status != "completed" and "completedDateTime" not in task:
        task["completedDateTime"] = utc_dtz(datetime.now(UTC))
    if task["status"] != "completed":
        task.pop("completedDateTime", None)
    if any(k.lower() == "recurrence" for k in body):
        from .calendar import check_recurrence
        value = get_prop(body, "recurrence")
        start = task.get("dueDateTime", {}).get("timeZone", "UTC")
        try:
            task["recurrence"] = check_recurrence(value, start) if value is not None else None
        except EmulatorHttpError as err:
            raise invalid(f"Invalid request body: {err.message}")
    if creating:
        links = get_prop(body, "linkedResources")
        if links is not None:
            if not isinstance(links, list):
                raise invalid()
            task["linkedResources"] = [check_link(v, task) for v in links]  # inline at creation
        items = get_prop(body, "checklistItems")
        if items is not None:
            if not isinstance(items, list):
                raise invalid()
            task["checklistItems"] = [check_checklist_item(v, task) for v in items]


def find_task(emu: Any, owner: Json, tlist: str, task_id: str) -> Json:
    found_list = find_list(emu, owner, tlist)
    task, parent = owned_object(emu.store, "todoTask", task_id, owner)
    if parent != found_list["id"]:
        raise EmulatorHttpError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return task


def render_extension(ext: Json) -> Json:
    return {"@odata.type": "#" + OPEN_EXTENSION, **ext}


def _ids_in(options: str) -> list[str] | None:
    m = re.match(r"^\s*\$filter\s*=\s*(?P<f>.+)$", options, re.DOTALL)
    if not m:
        return None
    return [v.replace("''", "'") for v in re.findall(r"id\s+eq\s+'((?:[^']|'')*)'", m["f"], re.IGNORECASE)]


def render_task(req: GraphRequest, task: Json) -> Json:
    """The task; linkedResources, checklistItems and extensions only with ``$expand``."""
    out = {k: v for k, v in public(task).items() if k not in ("linkedResources", "checklistItems", "extensions")}
    for clause in split_expand(req):
        name, _, options = clause.partition("(")
        key = name.strip().lower()
        if key == "extensions":
            ids = _ids_in(options.rstrip(")"))
            out["extensions"] = [render_extension(e) for e in task.get("extensions", [])
                                 if ids is None or any(_ext_matches(e, i) for i in ids)]
        elif key in ("linkedresources", "checklistitems"):
            real = "linkedResources" if key == "linkedresources" else "checklistItems"
            out[real] = task.get(real, [])
        elif key == "attachments":
            out["attachments"] = []
        else:
            raise EmulatorHttpError(400, "BadRequest", f"Could not find a property named '{name}' to expand.")
    # expanded navigation properties are returned whatever $select says (OData 4.01 §11.2.5.2: $expand
    # and $select are independent)
    expanded = [c.partition("(")[0].strip().lower() for c in split_expand(req)]
    return select_fields(out, req.query.get("$select"), always=("id", *expanded))


def new_task(emu: Any, owner: Json) -> Json:
    stamp = now_iso()
    return {"importance": "normal", "isReminderOn": False, "status": "notStarted", "title": "",
            "createdDateTime": stamp, "lastModifiedDateTime": stamp, "hasAttachments": False, "categories": [],
            "id": new_id(emu.store, "todoTask", owner["id"]), "bodyLastModifiedDateTime": stamp,
            "body": {"content": "", "contentType": "text"}, "linkedResources": [], "checklistItems": [],
            "extensions": []}


def list_tasks(emu: Any, req: GraphRequest, user: str, tlist: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_list(emu, owner, tlist)
    return GraphResponse(200, page(req, emu.store.children("todoTask", found["id"]), page_size=emu.config.page_size,
                                   known=TASK_PROPS | {"extensions"}, type_name="microsoft.graph.todoTask",
                                   render=lambda t: render_task(req, t)))


def create_task(emu: Any, req: GraphRequest, user: str, tlist: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_list(emu, owner, tlist)
    body = req.json()
    task = new_task(emu, owner)
    apply_task_fields(task, body, creating=True)
    emu.store.insert("todoTask", task, parent=found["id"], owner=owner["id"])
    out = render_task(GraphRequest(req.method, req.path), task)
    if task["linkedResources"]:  # the create answer echoes what was created inline
        out["linkedResources"] = task["linkedResources"]
    if task["checklistItems"]:
        out["checklistItems"] = task["checklistItems"]
    return GraphResponse(201, out)


def get_task(emu: Any, req: GraphRequest, user: str, tlist: str, task: str) -> GraphResponse:
    owner = mailbox(emu, user)
    return GraphResponse(200, render_task(req, find_task(emu, owner, tlist, task)))


def update_task(emu: Any, req: GraphRequest, user: str, tlist: str, task: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_task(emu, owner, tlist, task)
    apply_task_fields(found, req.json(), creating=False)
    found["lastModifiedDateTime"] = now_iso()
    emu.store.put("todoTask", found)
    return GraphResponse(200, render_task(GraphRequest(req.method, req.path), found))


def delete_task(emu: Any, req: GraphRequest, user: str, tlist: str, task: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_task(emu, owner, tlist, task)
    emu.store.delete("todoTask", found["id"])
    return GraphResponse(204)


# -- linked resources ----------------------------------------------------------------------------------------------


def list_links(emu: Any, req: GraphRequest, user: str, tlist: str, task: str) -> GraphResponse:
    found = find_task(emu, mailbox(emu, user), tlist, task)
    return GraphResponse(200, page(req, found.get("linkedResources", []), page_size=emu.config.page_size,
                                   render=lambda r: select_fields(r, req.query.get("$select"))))


def create_link(emu: Any, req: GraphRequest, user: str, tlist: str, task: str) -> GraphResponse:
    found = find_task(emu, mailbox(emu, user), tlist, task)
    link = check_link(req.json(), found)
    found.setdefault("linkedResources", []).append(link)
    emu.store.put("todoTask", found)
    return GraphResponse(201, link)


def _link(found: Json, link_id: str) -> Json:
    link = next((r for r in found.get("linkedResources", []) if r["id"] == link_id), None)
    if link is None:
        raise EmulatorHttpError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return link


def get_link(emu: Any, req: GraphRequest, user: str, tlist: str, task: str, link: str) -> GraphResponse:
    found = find_task(emu, mailbox(emu, user), tlist, task)
    return GraphResponse(200, _link(found, link))


def delete_link(emu: Any, req: GraphRequest, user: str, tlist: str, task: str, link: str) -> GraphResponse:
    found = find_task(emu, mailbox(emu, user), tlist, task)
    found["linkedResources"].remove(_link(found, link))
    emu.store.put("todoTask", found)
    return GraphResponse(204)


# -- open extensions -----------------------------------------------------------------------------------------------


def _ext_matches(ext: Json, key: str) -> bool:
    return key.lower() in (ext["id"].lower(), ext["extensionName"].lower())


def create_extension(emu: Any, req: GraphRequest, user: str, tlist: str, task: str) -> GraphResponse:
    """An openTypeExtension (DC:resources/opentypeextension.md): extensionName plus custom data."""
    found = find_task(emu, mailbox(emu, user), tlist, task)
    body = req.json()
    kind = str(get_prop(body, "@odata.type") or "").lstrip("#").lower()
    if kind != OPEN_EXTENSION.lower():
        raise invalid("Invalid request body: @odata.type must be microsoft.graph.openTypeExtension.")
    name = string_prop(body, "extensionName", error=_invalid)
    if not name:
        raise invalid("Invalid request body: extensionName is required.")
    if any(e["extensionName"].lower() == name.lower() for e in found.get("extensions", [])):
        # One extension per name and resource; 409 (code UNCONFIRMED, realistic choice).
        raise EmulatorHttpError(409, "nameAlreadyExists",
                                f"An extension with the name '{name}' already exists on this resource.")
    data = {k: v for k, v in body.items() if not k.startswith("@") and k.lower() not in ("extensionname", "id")}
    ext = {"id": EXT_PREFIX + name, "extensionName": name, **data}
    found.setdefault("extensions", []).append(ext)
    emu.store.put("todoTask", found)
    return GraphResponse(201, render_extension(ext))


def list_extensions(emu: Any, req: GraphRequest, user: str, tlist: str, task: str) -> GraphResponse:
    found = find_task(emu, mailbox(emu, user), tlist, task)
    return GraphResponse(200, page(req, found.get("extensions", []), page_size=emu.config.page_size,
                                   render=render_extension))


def _extension(found: Json, key: str) -> Json:
    ext = next((e for e in found.get("extensions", []) if _ext_matches(e, key)), None)
    if ext is None:
        raise EmulatorHttpError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    return ext


def get_extension(emu: Any, req: GraphRequest, user: str, tlist: str, task: str, ext: str) -> GraphResponse:
    found = find_task(emu, mailbox(emu, user), tlist, task)
    return GraphResponse(200, render_extension(_extension(found, ext)))


def delete_extension(emu: Any, req: GraphRequest, user: str, tlist: str, task: str, ext: str) -> GraphResponse:
    found = find_task(emu, mailbox(emu, user), tlist, task)
    found["extensions"].remove(_extension(found, ext))
    emu.store.put("todoTask", found)
    return GraphResponse(204)


def register(router: Router) -> None:
    add = router.add
    lists = "/users/{user}/todo/lists"
    tasks = lists + "/{tlist}/tasks"
    add("GET", lists, list_lists, budget="mailbox", many=True)
    add("POST", lists, create_list, budget="mailbox")
    add("GET", lists + "/{tlist}", get_list, budget="mailbox")
    add("PATCH", lists + "/{tlist}", update_list, budget="mailbox")
    add("DELETE", lists + "/{tlist}", delete_list, budget="mailbox")
    add("GET", tasks, list_tasks, budget="mailbox", many=True)
    add("POST", tasks, create_task, budget="mailbox")
    add("GET", tasks + "/{task}", get_task, budget="mailbox")
    add("PATCH", tasks + "/{task}", update_task, budget="mailbox")
    add("DELETE", tasks + "/{task}", delete_task, budget="mailbox")
    add("GET", tasks + "/{task}/linkedResources", list_links, budget="mailbox", many=True)
    add("POST", tasks + "/{task}/linkedResources", create_link, budget="mailbox")
    add("GET", tasks + "/{task}/linkedResources/{link}", get_link, budget="mailbox")
    add("DELETE", tasks + "/{task}/linkedResources/{link}", delete_link, budget="mailbox")
    add("GET", tasks + "/{task}/extensions", list_extensions, budget="mailbox", many=True)
    add("POST", tasks + "/{task}/extensions", create_extension, budget="mailbox")
    add("GET", tasks + "/{task}/extensions/{ext}", get_extension, budget="mailbox")
    add("DELETE", tasks + "/{task}/extensions/{ext}", delete_extension, budget="mailbox")
