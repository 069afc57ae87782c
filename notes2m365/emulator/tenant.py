"""The emulated tenant: its users and SharePoint sites, the demo set and ``--tenant FILE``.

A tenant file is TOML (or JSON with the same shape)::

    [tenant]
    domain = "contoso.example"                  # default for users given only a name
    sharepoint_host = "contoso.sharepoint.com"

    [[users]]
    userPrincipalName = "ann.lee@contoso.example"
    displayName = "Ann Lee"                     # optional: mail, givenName, surname, jobTitle, id

    [[sites]]
    path = "/sites/hr"                          # server-relative URL of the site
    displayName = "Human Resources"             # optional: description, id
    siteUsers = ["ann.lee@contoso.example"]     # optional: who is in the site's User Information List
    siteAdmins = ["ann.lee@contoso.example"]    # optional: those of them with IsSiteAdmin

``siteUsers``: in SharePoint a person is in a site's hidden User Information
List (and so has a site-local id a person column can take, graph-semantics §5.2)
only once added to the site or after visiting it.  Without ``siteUsers`` every
tenant user is in every site's list, also users added to the tenant file later;
with it, exactly those named (``siteAdmins`` are added to them).  Both name
users of the same file by userPrincipalName.

Seeding is idempotent: ids derive from the UPN and the site path, objects
that exist are kept, so a tenant stored under ``--data`` survives restarts
and re-seeding with a longer file only adds what is new.
"""

from __future__ import annotations

import json
import tomllib
import uuid
from pathlib import Path
from typing import Any

from ..errors import ConfigError

NAMESPACE = uuid.UUID("6f1c2c55-2d7e-4b8e-9b8e-4e6f7a6d3b10")

# The demo tenant: the people of the samples (samples/README.md) and the site the demo job
# migrates the teamroom application into.
DEMO_TENANT: dict[str, Any] = {
    "tenant": {"domain": "acme.example", "sharepoint_host": "acme.sharepoint.com"},
    "users": [
        {"displayName": "Jane Doe", "userPrincipalName": "jane.doe@acme.example", "jobTitle": "Sales Manager"},
        {"displayName": "John Smith", "userPrincipalName": "john.smith@acme.example"},
        {"displayName": "Maria Garcia", "userPrincipalName": "maria.garcia@acme.example"},
        {"displayName": "Peter Miller", "userPrincipalName": "peter.miller@acme.example"},
        {"displayName": "Ravi Kumar", "userPrincipalName": "ravi.kumar@acme.example"},
        {"displayName": "Migration Service", "userPrincipalName": "migration@acme.example"},
    ],
    "sites": [
        {"path": "/", "displayName": "Communication site"},
        {"path": "/sites/teamroom", "displayName": "Sales Teamroom",
         "description": "Target of the teamroom-discussion sample application"},
        {"path": "/sites/teamroom-restricted", "displayName": "Sales Teamroom (restricted)",
         "description": "Documents of the teamroom sample with Readers fields (samples/demo.toml restricted)",
         # the people of the sample's "Project Alpha Core" readers group and the documents' authors
         "siteUsers": ["jane.doe@acme.example", "john.smith@acme.example", "maria.garcia@acme.example",
                       "peter.miller@acme.example"]},
        {"path": "/sites/archive", "displayName": "Notes Archive"},
    ],
}


def load_tenant_file(path: str) -> dict[str, Any]:
    """Read and check a tenant file; errors name the file and the entry."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read tenant file: {exc.strerror}")
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid tenant file: {exc}")
    return validate_tenant(data, path)


def validate_tenant(data: dict[str, Any], source: str = "tenant") -> dict[str, Any]:
    settings = data.get("tenant", {})
    if not isinstance(settings, dict):
        raise ConfigError(f"{source}: [tenant] must be a table")
    domain = settings.get("domain", "contoso.example")
    host = settings.get("sharepoint_host", domain.split(".")[0] + ".sharepoint.com")
    users, sites = [], []
    for n, user in enumerate(data.get("users", []), 1):
        if not isinstance(user, dict) or not isinstance(user.get("userPrincipalName", user.get("displayName")), str):
            raise ConfigError(f"{source}: users[{n}] needs a userPrincipalName or a displayName")
        upn = user.get("userPrincipalName") or user["displayName"].lower().replace(" ", ".") + "@" + domain
        if "@" not in upn:
            raise ConfigError(f"{source}: users[{n}].userPrincipalName {upn!r} is not an address")
        users.append({**user, "userPrincipalName": upn})
    known = {u["userPrincipalName"].lower() for u in users}
    for n, site in enumerate(data.get("sites", []), 1):
        if not isinstance(site, dict) or not isinstance(site.get("path"), str) or not site["path"].startswith("/"):
            raise ConfigError(f"{source}: sites[{n}].path must be a server-relative URL starting with '/'")
        site = dict(site)
        for key in ("siteUsers", "siteAdmins"):
            if key not in site:
                continue
            names = site[key]
            if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
                raise ConfigError(f"{source}: sites[{n}].{key} must be a list of userPrincipalNames")
            unknown = [x for x in names if x.lower() not in known]
            if unknown:
                raise ConfigError(f"{source}: sites[{n}].{key}: {unknown[0]!r} is not a user of this tenant file")
            site[key] = [x.lower() for x in names]
        if "siteAdmins" in site and "siteUsers" in site:
            site["siteUsers"] += [a for a in site["siteAdmins"] if a not in site["siteUsers"]]
        sites.append(site)
    if not users and not sites:
        raise ConfigError(f"{source}: no users and no sites")
    return {"domain": domain, "sharepoint_host": host, "users": users, "sites": sites}


def user_object(spec: dict[str, Any]) -> dict[str, Any]:
    upn = spec["userPrincipalName"]
    name = spec.get("displayName") or upn.split("@")[0].replace(".", " ").title()
    given, _, surname = name.partition(" ")
    return {
        "id": spec.get("id") or str(uuid.uuid5(NAMESPACE, "user:" + upn.lower())),
        "displayName": name,
        "userPrincipalName": upn,
        "mail": spec.get("mail", upn),
        "givenName": spec.get("givenName", given),
        "surname": spec.get("surname", surname or None),
        "jobTitle": spec.get("jobTitle"),
        "businessPhones": [],
    }


def site_object(spec: dict[str, Any], host: str) -> dict[str, Any]:
    path = spec["path"].rstrip("/") or "/"
    collection = str(uuid.uuid5(NAMESPACE, f"site:{host}{path}"))
    web = str(uuid.uuid5(NAMESPACE, f"web:{host}{path}"))
    name = path.rsplit("/", 1)[-1] or host
    return {
        "id": spec.get("id") or f"{host},{collection},{web}",
        "name": name,
        "displayName": spec.get("displayName", name),
        "description": spec.get("description", ""),
        "webUrl": f"https://{host}{'' if path == '/' else path}",
        "createdDateTime": "2024-01-01T00:00:00Z",
        "siteCollection": {"hostname": host},
        "_path": path,
        "_host": host,
        "_siteUsers": spec.get("siteUsers"),  # None: every tenant user (userinfo.members)
        "_siteAdmins": spec.get("siteAdmins", []),
    }
