"""Contact folders and contacts of the emulator (graph-semantics §3.2), registered by ``pim.py``.

The default "Contacts" folder is created with the mailbox.  As in Graph,
``/users/{id}/contactFolders`` lists (and creates) the folders *inside* the
default folder (DC:api/user-list-contactfolders.md, user-post-contactfolders.md)
and ``/users/{id}/contacts`` is the default folder's contacts
(DC:api/user-list-contacts.md, user-post-contacts.md).
"""

from __future__ import annotations

from typing import Any

from ..errors import EmulatorHttpError
from .odata import PARSE_URI, page, select_fields
from .pim import (
    apply_extended_properties,
    body_error,
    check_expand,
    check_properties,
    expand_extended_properties,
    get_prop,
    mailbox,
    new_id,
    owned_object,
    string_list,
    string_prop,
)
from .router import (
    GraphRequest,
    GraphResponse,
    Json,
    Router,
    bad_request,
    now_iso,
    parse_datetime,
    public,
)
from .store import Store

STRING_FIELDS = ("givenName", "surname", "middleName", "displayName", "fileAs", "nickName", "title", "initials",
                 "generation", "mobilePhone", "companyName", "department", "jobTitle", "officeLocation",
                 "profession", "businessHomePage", "assistantName", "manager", "spouseName", "personalNotes",
                 "yomiGivenName", "yomiSurname", "yomiCompanyName")
LIST_FIELDS = ("businessPhones", "homePhones", "categories", "imAddresses", "children")
ADDRESS_FIELDS = ("businessAddress", "homeAddress", "otherAddress")
ADDRESS_KEYS = ("street", "city", "state", "countryOrRegion", "postalCode")
# Writable contact properties (DC:resources/contact.md); read-only ones are accepted and ignored.
CONTACT_PROPS = (set(STRING_FIELDS) | set(LIST_FIELDS) | set(ADDRESS_FIELDS)
                 | {"emailAddresses", "birthday", "singleValueExtendedProperties", "multiValueExtendedProperties",
                    "id", "createdDateTime", "lastModifiedDateTime", "changeKey", "parentFolderId", "photo"})
FOLDER_PROPS = {"displayName", "singleValueExtendedProperties", "multiValueExtendedProperties", "id",
                "parentFolderId", "wellKnownName"}
ITEM_NOT_FOUND = "The specified object was not found in the store."


# -- folders -----------------------------------------------------------------------------------------------


def provision_user(store: Store, user: Json) -> None:
    store.insert("contactFolder", {"id": new_id(store, "contactFolder", user["id"]), "displayName": "Contacts",
                                   "parentFolderId": None, "_default": True}, parent=user["id"], owner=user["id"])


def default_folder(store: Store, user: Json) -> Json:
    return next(f for f in store.children("contactFolder", user["id"]) if f.get("_default"))


def find_folder(store: Store, user: Json, folder_id: str) -> Json:
    return owned_object(store, "contactFolder", folder_id, user)[0]


def render_folder(req: GraphRequest, folder: Json) -> Json:
    return expand_extended_properties(req, folder, select_fields(public(folder), req.query.get("$select")))


def list_folders(emu: Any, req: GraphRequest, user: str, folder: str | None = None) -> GraphResponse:
    owner = mailbox(emu, user)
    check_expand(req, ("singleValueExtendedProperties",))
    parent = find_folder(emu.store, owner, folder) if folder else default_folder(emu.store, owner)
    return GraphResponse(200, page(req, emu.store.children("contactFolder", parent["id"]), known=FOLDER_PROPS,
                                   type_name="Microsoft.OutlookServices.ContactFolder", code=PARSE_URI,
                                   page_size=emu.config.page_size, render=lambda f: render_folder(req, f)))


def create_folder(emu: Any, req: GraphRequest, user: str, folder: str | None = None) -> GraphResponse:
    owner = mailbox(emu, user)
    parent = find_folder(emu.store, owner, folder) if folder else default_folder(emu.store, owner)
    body = req.json()
    check_properties(body, FOLDER_PROPS, "microsoft.graph.contactFolder")
    name = string_prop(body, "displayName")
    if not name or not name.strip():
        raise bad_request("The folder name is required.", "ErrorInvalidRequest")  # realistic code (UNCONFIRMED)
    if any(f["displayName"].lower() == name.lower() for f in emu.store.children("contactFolder", parent["id"])):
        # §1.8 / §3.2: same rule as mail folders; status per switch folder_exists_status (UNCONFIRMED).
        raise EmulatorHttpError(emu.config.switches.folder_exists_status, "ErrorFolderExists",
                                "A folder with the specified name already exists.")
    created = {"id": new_id(emu.store, "contactFolder", owner["id"]), "displayName": name,
               "parentFolderId": parent["id"]}
    apply_extended_properties(created, body)
    emu.store.insert("contactFolder", created, parent=parent["id"], owner=owner["id"])
    return GraphResponse(201, public(created))


def get_folder(emu: Any, req: GraphRequest, user: str, folder: str) -> GraphResponse:
    owner = mailbox(emu, user)
    check_expand(req, ("singleValueExtendedProperties",))
    return GraphResponse(200, render_folder(req, find_folder(emu.store, owner, folder)))


def update_folder(emu: Any, req: GraphRequest, user: str, folder: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found, parent = owned_object(emu.store, "contactFolder", folder, owner)
    body = req.json()
    check_properties(body, FOLDER_PROPS, "microsoft.graph.contactFolder")
    name = string_prop(body, "displayName")
    if name is not None:
        if not name.strip():
            raise bad_request("The folder name is required.", "ErrorInvalidRequest")
        siblings = emu.store.children("contactFolder", parent or "")
        if any(f["displayName"].lower() == name.lower() and f["id"] != found["id"] for f in siblings):
            raise EmulatorHttpError(emu.config.switches.folder_exists_status, "ErrorFolderExists",
                                    "A folder with the specified name already exists.")
        found["displayName"] = name
    apply_extended_properties(found, body)
    emu.store.put("contactFolder", found)
    return GraphResponse(200, public(found))


def delete_folder(emu: Any, req: GraphRequest, user: str, folder: str) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_folder(emu.store, owner, folder)
    if found.get("_default"):
        # EWS code for deleting a distinguished folder (realistic; UNCONFIRMED for Graph).
        raise bad_request("The default contacts folder cannot be deleted.", "ErrorDeleteDistinguishedFolder")
    _delete_folder_tree(emu.store, found["id"])
    return GraphResponse(204)


def _delete_folder_tree(store: Store, folder_id: str) -> None:
    for child in store.children("contactFolder", folder_id):
        _delete_folder_tree(store, child["id"])
    for contact in store.children("contact", folder_id):
        store.delete("contact", contact["id"])
    store.delete("contactFolder", folder_id)


# -- contacts ------------------------------------------------------------------------------------------------


def apply_contact_fields(emu: Any, contact: Json, body: Json) -> None:
    """The fields of DC:resources/contact.md (§3.2), type-checked."""
    check_properties(body, CONTACT_PROPS, "microsoft.graph.contact")
    for key in STRING_FIELDS:
        if get_prop(body, key) is not None:
            contact[key] = string_prop(body, key)
    for key in LIST_FIELDS:
        values = string_list(body, key)
        if values is not None:
            contact[key] = values
    for key in ADDRESS_FIELDS:
        value = get_prop(body, key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise body_error(f"'{key}' must be a physicalAddress object.")
        check_properties(value, set(ADDRESS_KEYS), "microsoft.graph.physicalAddress")
        contact[key] = {k: string_prop(value, k) for k in ADDRESS_KEYS if get_prop(value, k) is not None}
    emails = get_prop(body, "emailAddresses")
    if emails is not None:
        if not isinstance(emails, list):
            raise body_error("'emailAddresses' must be a collection of emailAddress.")
        out = []
        for email in emails:
            if not isinstance(email, dict):
                raise body_error("'emailAddresses' must be a collection of emailAddress.")
            check_properties(email, {"address", "name"}, "microsoft.graph.emailAddress")
            out.append({"name": string_prop(email, "name") or string_prop(email, "address") or "",
                        "address": string_prop(email, "address") or ""})
        limit = emu.config.switches.contact_email_limit
        if limit and len(out) > limit:
            # §3.2: at most 3 email addresses (the Outlook slots) is UNCONFIRMED; conservative default rejects.
            raise bad_request(f"A contact can have at most {limit} email addresses.",
                              "ErrorPropertyValidationFailure")
        contact["emailAddresses"] = out
    birthday = get_prop(body, "birthday")
    if birthday is not None:
        contact["birthday"] = parse_datetime(birthday, "birthday").strftime("%Y-%m-%dT%H:%M:%SZ")
    if not get_prop(body, "displayName") and not contact.get("_explicitName"):
        # Exchange composes displayName from the name parts when none is given.
        parts = (contact.get("givenName"), contact.get("middleName"), contact.get("surname"))
        contact["displayName"] = " ".join(p for p in parts if p)
    else:
        contact["_explicitName"] = True
    apply_extended_properties(contact, body)


def new_contact(store: Store, owner: Json, folder: Json) -> Json:
    stamp = now_iso()
    contact: Json = {"id": new_id(store, "contact", owner["id"]), "createdDateTime": stamp,
                     "lastModifiedDateTime": stamp, "changeKey": "", "categories": [],
                     "parentFolderId": folder["id"], "birthday": None, "fileAs": "", "displayName": "",
                     "givenName": None, "initials": None, "middleName": None, "nickName": None, "surname": None,
                     "title": None, "yomiGivenName": None, "yomiSurname": None, "yomiCompanyName": None,
                     "generation": None, "imAddresses": [], "jobTitle": None, "companyName": None,
                     "department": None, "officeLocation": None, "profession": None, "businessHomePage": None,
                     "assistantName": None, "manager": None, "homePhones": [], "mobilePhone": None,
                     "businessPhones": [], "spouseName": None, "personalNotes": "", "children": [],
                     "emailAddresses": [], "homeAddress": {}, "businessAddress": {}, "otherAddress": {}}
    return contact


def render_contact(req: GraphRequest, contact: Json) -> Json:
    return expand_extended_properties(req, contact, select_fields(public(contact), req.query.get("$select")))


def find_contact(emu: Any, owner: Json, contact_id: str, folder: str | None = None) -> Json:
    contact, parent = owned_object(emu.store, "contact", contact_id, owner)
    if folder is not None and parent != find_folder(emu.store, owner, folder)["id"]:
        raise EmulatorHttpError(404, "ErrorItemNotFound", ITEM_NOT_FOUND)
    return contact


def list_contacts(emu: Any, req: GraphRequest, user: str, folder: str | None = None) -> GraphResponse:
    owner = mailbox(emu, user)
    check_expand(req, ("singleValueExtendedProperties",))
    parent = find_folder(emu.store, owner, folder) if folder else default_folder(emu.store, owner)
    return GraphResponse(200, page(req, emu.store.children("contact", parent["id"]), page_size=emu.config.page_size,
                                   known=CONTACT_PROPS, type_name="Microsoft.OutlookServices.Contact", code=PARSE_URI,
                                   render=lambda c: render_contact(req, c)))


def create_contact(emu: Any, req: GraphRequest, user: str, folder: str | None = None) -> GraphResponse:
    owner = mailbox(emu, user)
    parent = find_folder(emu.store, owner, folder) if folder else default_folder(emu.store, owner)
    body = req.json()
    contact = new_contact(emu.store, owner, parent)
    apply_contact_fields(emu, contact, body)
    emu.store.insert("contact", contact, parent=parent["id"], owner=owner["id"])
    return GraphResponse(201, public(contact))  # without extended properties (§4)


def get_contact(emu: Any, req: GraphRequest, user: str, contact: str, folder: str | None = None) -> GraphResponse:
    owner = mailbox(emu, user)
    check_expand(req, ("singleValueExtendedProperties",))
    return GraphResponse(200, render_contact(req, find_contact(emu, owner, contact, folder)))


def update_contact(emu: Any, req: GraphRequest, user: str, contact: str, folder: str | None = None) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_contact(emu, owner, contact, folder)
    apply_contact_fields(emu, found, req.json())
    found["lastModifiedDateTime"] = now_iso()
    emu.store.put("contact", found)
    return GraphResponse(200, public(found))


def delete_contact(emu: Any, req: GraphRequest, user: str, contact: str, folder: str | None = None) -> GraphResponse:
    owner = mailbox(emu, user)
    found = find_contact(emu, owner, contact, folder)
    emu.store.delete("contact", found["id"])
    return GraphResponse(204)


def register(router: Router) -> None:
    add = router.add
    add("GET", "/users/{user}/contactFolders", list_folders, budget="mailbox", many=True)
    add("POST", "/users/{user}/contactFolders", create_folder, budget="mailbox")
    add("GET", "/users/{user}/contactFolders/{folder}", get_folder, budget="mailbox")
    add("PATCH", "/users/{user}/contactFolders/{folder}", update_folder, budget="mailbox")
    add("DELETE", "/users/{user}/contactFolders/{folder}", delete_folder, budget="mailbox")
    add("GET", "/users/{user}/contactFolders/{folder}/childFolders", list_folders, budget="mailbox", many=True)
    add("POST", "/users/{user}/contactFolders/{folder}/childFolders", create_folder, budget="mailbox")
    for prefix in ("/users/{user}", "/users/{user}/contactFolders/{folder}"):
        add("GET", prefix + "/contacts", list_contacts, budget="mailbox", many=True)
        add("POST", prefix + "/contacts", create_contact, budget="mailbox")
        add("GET", prefix + "/contacts/{contact}", get_contact, budget="mailbox")
        add("PATCH", prefix + "/contacts/{contact}", update_contact, budget="mailbox")
        add("DELETE", prefix + "/contacts/{contact}", delete_contact, budget="mailbox")
