"""The hidden "User Information List" of every site: where a person column's ``LookupId`` points.

A personOrGroup column is written as ``<Col>LookupId`` = the id of the person's
entry in the site's User Information List, not an Entra object id
(graph-semantics §5.2; GH alcionai/corso#5108, GH microsoftgraph/microsoft-graph-docs-contrib#1457).
Each site has its own list (``{site}/_catalogs/users``), so ids are site-local:
here each site numbers its people from its own start, and the same person has
different ids in different sites, as in SharePoint.

What the emulator serves, and the sources:

* The list is a **system** list: ``GET /sites/{s}/lists`` leaves it out unless
  ``$select`` names ``system`` (DC:api/list-list.md "Lists with the system facet
  are hidden by default"; pnpcore's Graph notes list "User Information List
  (_catalogs/users, hidden)" among the lists Graph's enumeration did not return;
  public code finds it with ``lists?$select=system,id,name`` and ``name == 'users'``).
  By id or by title it is always found (Microsoft365R's maintainer,
  GH Azure/Microsoft365R#77: ``get_list("User Information List")``).  Whether
  ``$filter=displayName eq 'User Information List'`` finds it without ``$select=system``
  is UNCONFIRMED (the same thread suggests it): switch ``system_lists_match_filter``.
* Items carry the fields SharePoint keeps there (REST typings of the list,
  e.g. AsyncVoid/sharepoint-rest-lib ``UserInfoItemResponse``): ``Title`` (display
  name), ``Name`` (the claims login ``i:0#.f|membership|{upn}``), ``EMail``,
  ``UserName`` (the UPN), ``FirstName``, ``LastName``, ``JobTitle``, ``Department``,
  ``IsSiteAdmin``, ``Deleted``, ``UserInfoHidden``; content type ``Person``.
* Its columns are not indexed: ``$filter=fields/EMail eq '...'`` needs the
  ``Prefer: HonorNonIndexedQueriesWarningMayFailRandomly`` header like any other
  non-indexed column (whether SharePoint indexes them is UNCONFIRMED: switch
  ``user_info_list_indexed``; one author reports that $expand with $filter did not
  work there and filters on the client).
* Graph does not add people to it (SharePoint does, when a user is added to the
  site or first visits it; SharePoint REST ``web/ensureuser`` does it on request):
  writes to the list are refused (:func:`lists._refuse_system`).

Which tenant users are in which site's list is seedable: ``siteUsers`` (and
``siteAdmins``) of a ``[[sites]]`` entry in the tenant file; without it, every
tenant user is in the list (also users added to the tenant file later).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from .directory import find_user
from .lists import NAMESPACE, _column, create_list, find_item, insert_item
from .router import Json
from .store import Store

TITLE = "User Information List"
NAME = "users"  # its URL segment (_catalogs/users) and Graph list name
TEMPLATE = "userInformation"  # SPListTemplateType.UserInformation (112) in Graph's spelling: UNCONFIRMED
APP_ENTRY = 1073741822  # "SharePoint App": the author of app-only writes (lists.APP_AUTHOR_ID)
MEMBERSHIP = "i:0#.f|membership|"  # SharePoint Online claims prefix of an Entra user's login name


def list_id(site: Json) -> str:
    return str(uuid.uuid5(NAMESPACE, "user-information-list:" + site["id"]))


def _columns() -> list[Json]:
    text, flag = {"allowMultipleLines": False, "maxLength": 255, "textType": "plain"}, {}
    cols = [("Name", "text", text, "Account"), ("EMail", "text", text, "Work email"),
            ("UserName", "text", text, "User name"), ("FirstName", "text", text, "First name"),
            ("LastName", "text", text, "Last name"), ("JobTitle", "text", text, "Job Title"),
            ("Department", "text", text, "Department"), ("MobilePhone", "text", text, "Mobile phone"),
            ("WorkPhone", "text", text, "Work phone"), ("SipAddress", "text", text, "SIP Address"),
            ("IsSiteAdmin", "boolean", flag, "Is Site Admin"), ("Deleted", "boolean", flag, "Deleted"),
            ("UserInfoHidden", "boolean", flag, "Hidden")]
    return [_column(name, facet, value, display=display) for name, facet, value, display in cols]


def find(store: Store, site: Json) -> Json | None:
    return store.get("spList", list_id(site))


def ensure(store: Store, site: Json) -> Json:
    """The site's User Information List, made (with its people) on first need: at seeding, or for a site
    of a store seeded before the list existed."""
    found = find(store, site)
    if found is not None:
        return found
    uil = create_list(store, site, TITLE, TEMPLATE, name=NAME, list_id=list_id(site),
                      web_url=site["webUrl"] + "/_catalogs/users", system=True, hidden=True, columns=_columns())
    app = {"Title": "SharePoint App", "Name": "i:0i.t|00000003-0000-0ff1-ce00-000000000000|app@sharepoint",
           "IsSiteAdmin": False, "Deleted": False, "UserInfoHidden": False}
    insert_item(store, uil, APP_ENTRY, app, content_type="Person")
    admins = {a.lower() for a in site.get("_siteAdmins") or []}
    for user in members(store, site):
        add_user(store, site, uil, user, admin=user["userPrincipalName"].lower() in admins)
    return uil


def members(store: Store, site: Json) -> list[Json]:
    """The tenant users in the site's list: ``siteUsers`` of the tenant file, or everyone."""
    wanted = site.get("_siteUsers")
    if wanted is None:
        return store.all("user")
    return [u for u in (find_user(store, upn) for upn in wanted) if u is not None]


def _first_id(site: Json) -> int:
    """Where a site's people start: 7..29 by site, so that ids are visibly site-local."""
    return 7 + int(hashlib.sha256(site["id"].encode()).hexdigest(), 16) % 23


def add_user(store: Store, site: Json, uil: Json, user: Json, admin: bool = False) -> Json:
    items = store.children("spListItem", uil["id"])
    taken = [int(i["id"].split("/")[-1]) for i in items]
    people = [n for n in taken if n < APP_ENTRY]
    n = max(people) + 1 if people else _first_id(site)
    values: dict[str, Any] = {
        "Title": user["displayName"], "Name": MEMBERSHIP + user["userPrincipalName"].lower(),
        "EMail": user.get("mail") or user["userPrincipalName"], "UserName": user["userPrincipalName"].lower(),
        "FirstName": user.get("givenName"), "LastName": user.get("surname"), "JobTitle": user.get("jobTitle"),
        "Department": user.get("department"), "IsSiteAdmin": admin, "Deleted": False, "UserInfoHidden": False}
    item = insert_item(store, uil, n, {k: v for k, v in values.items() if v is not None}, content_type="Person")
    item["_user"] = user["id"]
    store.put("spListItem", item)
    return item


def ensure_user(store: Store, user: Json) -> None:
    """A user new to the tenant joins the lists of the sites that take every tenant user."""
    for site in store.all("site"):
        uil = find(store, site)
        if uil is None or site.get("_siteUsers") is not None:
            continue
        if not any(i.get("_user") == user["id"] for i in store.children("spListItem", uil["id"])):
            add_user(store, site, uil, user)


def site_user(store: Store, site: Json, number: int) -> Json | None:
    """The entry ``number`` of the site's list, if it names a user who is not deleted."""
    item = find_item(store, ensure(store, site), number)
    if item is None or item["_fields"].get("Deleted"):
        return None
    return item
