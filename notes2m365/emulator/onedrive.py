"""Personal OneDrive of every user: ``/users/{id or UPN}/drive`` and the drive-item calls below it.

A user's OneDrive is a ``drive`` (driveType ``business``) owned by the user,
living in the user's personal site on the tenant's "-my" host, e.g.
``https://acme-my.sharepoint.com/personal/jane_doe_acme_example/Documents``.
It is made when the tenant is seeded (for every user, also those of a store
seeded before this module existed) and, failing that, on first access; its id
derives from the user id, so both paths are idempotent and a re-seed or
restart never makes a second one.

Items, simple upload and upload sessions are those of :mod:`drives` (graph-semantics
§6 covers OneDrive and document libraries alike); ``/users/{u}/drive/...`` is an
alias of ``/drives/{personal-drive}/...``.  OneDrive is SharePoint-throttled:
the routes draw on the ``sharepoint`` budget, which is per application and
tenant (graph-semantics §8.2 "SharePoint / OneDrive"), so a user's drive and the
sites share one resource-unit budget, as in SharePoint Online.
"""

from __future__ import annotations

import re

from ..errors import EmulatorHttpError
from .directory import find_user
from .drives import add_drive, item_request, render_drive
from .odata import page, select_fields
from .router import GraphRequest, GraphResponse, Json, Router, now_iso, opaque_id
from .store import Store


def my_site_host(store: Store, upn: str) -> str:
    """``acme.sharepoint.com`` -> ``acme-my.sharepoint.com``, the host of the personal sites."""
    host = store.get_meta("sharepoint_host") or upn.split("@")[-1].split(".")[0] + ".sharepoint.com"
    label, _, rest = host.partition(".")
    return f"{label}-my.{rest}" if rest else f"{label}-my"


def personal_path(upn: str) -> str:
    """Server-relative URL of the user's library: every non-alphanumeric UPN character becomes '_'."""
    return "/personal/" + re.sub(r"[^0-9a-z]", "_", upn.lower()) + "/Documents"


def drive_id(user: Json) -> str:
    return opaque_id("b!", "personal", user["id"])


def personal_drive(store: Store, user: Json) -> Json:
    """The user's OneDrive, made on first need (idempotent: the id derives from the user id)."""
    found = store.get("drive", drive_id(user))
    if found is not None:
        return found
    path = personal_path(user["userPrincipalName"])
    now = now_iso()
    drive: Json = {"id": drive_id(user), "name": "OneDrive", "description": "", "driveType": "business",
                   "createdDateTime": now, "lastModifiedDateTime": now,
                   "webUrl": f"https://{my_site_host(store, user['userPrincipalName'])}{path}",
                   "createdBy": {"user": {"displayName": "System Account"}},
                   "owner": {"user": {"id": user["id"], "displayName": user["displayName"],
                                      "email": user.get("mail") or user["userPrincipalName"]}},
                   "_user": user["id"], "_libpath": path}
    return add_drive(store, drive, user["id"])


def ensure_user(store: Store, user: Json) -> None:
    """Seeding hook (service.seed_tenant), run for every user of the tenant, new or not: stores made
    before users had a OneDrive get theirs too, and a re-seed finds the existing one."""
    personal_drive(store, user)


def drive_user(store: Store, key: str) -> Json:
    """The user addressed in ``/users/{key}/drive``; 404 otherwise.  Graph's code for an unknown user
    here is UNCONFIRMED; ``itemNotFound`` is what the drive endpoints answer for anything missing."""
    user = find_user(store, key)
    if user is None:
        raise EmulatorHttpError(404, "itemNotFound", f"The user '{key}' could not be found.")
    return user


# -- handlers ------------------------------------------------------------------------------------------
def get_user_drive(emu, req: GraphRequest, user: str) -> GraphResponse:
    drive = personal_drive(emu.store, drive_user(emu.store, user))
    return GraphResponse(200, select_fields(render_drive(emu.store, drive), req.query.get("$select")))


def list_user_drives(emu, req: GraphRequest, user: str) -> GraphResponse:
    drives = [personal_drive(emu.store, drive_user(emu.store, user))]
    return GraphResponse(200, page(req, drives, page_size=200,
                                   render=lambda d: select_fields(render_drive(emu.store, d),
                                                                  req.query.get("$select"))))


def user_drive_item(emu, req: GraphRequest, user: str, rest: str, children: bool = False) -> GraphResponse:
    drive = personal_drive(emu.store, drive_user(emu.store, user))
    return item_request(emu, req, drive, rest + ("/children" if children else ""))


def _children_query(emu, req: GraphRequest, user: str, rest: str) -> GraphResponse:
    return user_drive_item(emu, req, user, rest, children=True)


def register(router: Router) -> None:
    # Same address forms and budgets as /sites/{site}/drive (drives.register).
    router.add("GET", "/users/{user}/drives", list_user_drives, budget="sharepoint", many=True)
    router.add("GET", "/users/{user}/drive", get_user_drive, budget="sharepoint")
    router.add("GET", "/users/{user}/drive/{rest:path}/children", _children_query, budget="sharepoint", many=True)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        router.add(method, "/users/{user}/drive/{rest:path}", user_drive_item, budget="sharepoint")
