"""Users and sites of the emulated tenant: lookups and the ``/users`` and ``/sites`` endpoints."""

from __future__ import annotations

import re

from ..errors import EmulatorHttpError
from .odata import page, select_fields
from .router import GraphRequest, GraphResponse, Json, Router, public
from .store import Store

USER_PROPS = {"id", "displayName", "userPrincipalName", "mail", "givenName", "surname", "jobTitle", "businessPhones",
              "mobilePhone", "officeLocation", "preferredLanguage", "accountEnabled", "department"}
SITE_BY_PATH = re.compile(r"^/sites/(?P<host>[^/,:]+):(?P<path>/[^:]*)(?::(?P<rest>/.*)?)?$", re.IGNORECASE)


def find_user(store: Store, key: str) -> Json | None:
    """A user by object id or userPrincipalName (case-insensitive)."""
    user = store.get("user", key.lower()) or store.get("user", key)
    if user:
        return user
    alias = store.get("upn", key.lower())  # written when the tenant is seeded: no scan per request
    return store.get("user", alias["user"]) if alias else None


def mailbox_user(store: Store, key: str) -> Json:
    """The owner of a mailbox addressed in ``/users/{key}/...``; 404 ErrorInvalidUser otherwise."""
    user = find_user(store, key)
    if user is None:
        # Exchange's answer for an unknown mailbox in /users/{id}/mailFolders etc.
        raise EmulatorHttpError(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")
    return user


def find_site(store: Store, key: str) -> Json | None:
    """A site by full id (``host,collection,web``), collection id, or hostname (the root site)."""
    site = store.get("site", key)
    if site:
        return site
    low = key.lower()
    for site in store.all("site"):
        _, collection, _ = (site["id"].split(",") + ["", ""])[:3]
        if low == collection.lower() or (low == site["_host"].lower() and site["_path"] == "/"):
            return site
    return None


def site_by_path(store: Store, host: str, path: str) -> Json | None:
    want = (path.rstrip("/") or "/").lower()
    return next((s for s in store.all("site") if s["_host"].lower() == host.lower() and s["_path"].lower() == want),
                None)


def require_site(store: Store, key: str) -> Json:
    site = find_site(store, key)
    if site is None:
        raise EmulatorHttpError(404, "itemNotFound", "Requested site could not be found")
    return site


def rewrite_site_path(store: Store, path: str) -> str:
    """``/sites/{host}:/{path}:/rest`` -> ``/sites/{site-id}/rest`` (404 when no such site)."""
    m = SITE_BY_PATH.match(path)
    if not m:
        return path
    site = site_by_path(store, m["host"], m["path"])
    if site is None:
        raise EmulatorHttpError(404, "itemNotFound", "Requested site could not be found")
    return f"/sites/{site['id']}{m['rest'] or ''}"


def render_site(site: Json, req: GraphRequest) -> Json:
    return select_fields(public(site), req.query.get("$select"))


def list_users(emu, req: GraphRequest) -> GraphResponse:
    return GraphResponse(200, page(req, emu.store.all("user"), page_size=100, max_top=999, known=USER_PROPS,
                                   type_name="microsoft.graph.user", code="Request_BadRequest",
                                   render=lambda u: select_fields(public(u), req.query.get("$select"))))


def get_user(emu, req: GraphRequest, user: str) -> GraphResponse:
    found = find_user(emu.store, user)
    if found is None:
        raise EmulatorHttpError(404, "Request_ResourceNotFound",
                                f"Resource '{user}' does not exist or one of its queried reference-property "
                                "objects are not present.")
    return GraphResponse(200, select_fields(public(found), req.query.get("$select")))


def search_sites(emu, req: GraphRequest) -> GraphResponse:
    if "search" not in req.query:
        # GET /sites without search enumerates nothing useful in Graph either; require it.
        raise EmulatorHttpError(400, "invalidRequest", "Use /sites?search= to list sites.")
    term = req.query["search"].strip().strip('"').lower()
    sites = [s for s in emu.store.all("site")
             if term in ("", "*") or term in s["displayName"].lower() or term in s["name"].lower()
             or term in s.get("description", "").lower()]
    return GraphResponse(200, page(req, sites, page_size=200, render=lambda s: render_site(s, req), filtered=True))


def get_site(emu, req: GraphRequest, site: str) -> GraphResponse:
    return GraphResponse(200, render_site(require_site(emu.store, site), req))


def get_root_site(emu, req: GraphRequest) -> GraphResponse:
    root = next((s for s in emu.store.all("site") if s["_path"] == "/"), None)
    if root is None:
        raise EmulatorHttpError(404, "itemNotFound", "Requested site could not be found")
    return GraphResponse(200, render_site(root, req))


def register(router: Router) -> None:
    router.add("GET", "/users", list_users)
    router.add("GET", "/users/{user}", get_user)
    router.add("GET", "/sites", search_sites, budget="sharepoint", many=True)
    router.add("GET", "/sites/root", get_root_site, budget="sharepoint")
    router.add("GET", "/sites/{site}", get_site, budget="sharepoint")
