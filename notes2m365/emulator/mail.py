"""Exchange mail of the emulator: mail folders and messages (JSON and MIME creation, reads, updates, deletes).

Message attachments and their upload sessions are in ``attachments.py``.
The rules, with their sources, are in graph-semantics §1 and §11.3-7; each
is cited where it is encoded.  Ids never change (as with
``Prefer: IdType="ImmutableId"``) except on ``move`` without that header.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import re
from datetime import UTC
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from ..errors import EmulatorHttpError
from . import attachments, extprops
from .directory import mailbox_user
from .odata import PARSE_URI, check_expand, check_query, page, select_fields
from .bodies import (body_error, bool_prop, check_properties, enum_prop, get_prop, item_body, string_list,
                     string_prop)
from .router import (GraphRequest, GraphResponse, Json, Router, bad_request, iso_utc, not_found, now_iso, opaque_id,
                     parse_datetime, public)
from .store import Store

# DC:resources/mailfolder.md (current): well-known folder names usable in place of an id.
# (name, displayName, hidden, parent well-known name)
WELL_KNOWN = [
    ("msgfolderroot", "Top of Information Store", False, None),
    ("inbox", "Inbox", False, "msgfolderroot"),
    ("drafts", "Drafts", False, "msgfolderroot"),
    ("sentitems", "Sent Items", False, "msgfolderroot"),
    ("deleteditems", "Deleted Items", False, "msgfolderroot"),
    ("archive", "Archive", False, "msgfolderroot"),
    ("junkemail", "Junk Email", False, "msgfolderroot"),
    ("outbox", "Outbox", False, "msgfolderroot"),
    ("conversationhistory", "Conversation History", False, "msgfolderroot"),
    ("clutter", "Clutter", True, "msgfolderroot"),
    ("scheduled", "Scheduled", True, "msgfolderroot"),
    ("searchfolders", "Search Folders", True, "msgfolderroot"),
    ("syncissues", "Sync Issues", True, "msgfolderroot"),
    ("conflicts", "Conflicts", True, "syncissues"),
    ("localfailures", "Local Failures", True, "syncissues"),
    ("serverfailures", "Server Failures", True, "syncissues"),
    ("recoverableitemsdeletions", "Deletions", True, None),
]
WELL_KNOWN_NAMES = {w[0] for w in WELL_KNOWN}
RECIPIENT_FIELDS = ("toRecipients", "ccRecipients", "bccRecipients", "replyTo")
# DC:api/message-update.md: "Updatable only if isDraft = true".
DRAFT_ONLY = {"body", "subject", "toRecipients", "ccRecipients", "bccRecipients", "from", "sender", "replyTo",
              "internetMessageId", "uniqueBody"}
MESSAGE_WRITABLE = {"subject", "body", "toRecipients", "ccRecipients", "bccRecipients", "replyTo", "from", "sender",
                    "importance", "isRead", "isDeliveryReceiptRequested", "isReadReceiptRequested", "categories",
                    "flag", "internetMessageId", "internetMessageHeaders", "singleValueExtendedProperties",
                    "attachments", "inferenceClassification"}
READ_ONLY = {"id", "isDraft", "conversationIndex", "uniqueBody", "receivedDateTime", "sentDateTime",
             "createdDateTime", "lastModifiedDateTime", "hasAttachments", "parentFolderId", "conversationId", "changeKey", "webLink", "bodyPreview",
             "internetMessageHeaders"}
FOLDER_WRITABLE = {"displayName", "singleValueExtendedProperties"}
FOLDER_PROPS = FOLDER_WRITABLE | {"id", "parentFolderId", "childFolderCount", "unreadItemCount", "totalItemCount",
                                  "isHidden"}
MESSAGE_FLAGS = "Integer 0x0E07"  # PidTagMessageFlags: mfRead 0x1, mfUnsent 0x8 (MS-OXCMSG 2.2.1.6)
DELIVERY_TIME = "SystemTime 0x0E06"  # PR_MESSAGE_DELIVERY_TIME -> receivedDateTime (davmail PR #517)
SUBMIT_TIME = "SystemTime 0x0039"  # PR_CLIENT_SUBMIT_TIME -> sentDateTime (davmail PR #517)
TAGS = re.compile(r"<[^>]*>")


# -- provisioning and lookups ---------------------------------------------------------------------------
def provision_user(store: Store, user: Json) -> None:
    """The well-known folders of a new mailbox."""
    ids: dict[str, str] = {}
    for name, display, hidden, parent in WELL_KNOWN:
        folder_id = opaque_id("AAMkAGF", user["id"], "folder", name)
        ids[name] = folder_id
        store.insert("mailFolder", {
            "id": folder_id, "displayName": display, "parentFolderId": ids.get(parent or "", None),
            "isHidden": hidden, "_wellKnown": name,
        }, parent=ids.get(parent or "", None) or f"root:{user['id']}", owner=user["id"])


def resolve_folder(store: Store, user: Json, key: str) -> Json:
    """A mail folder of ``user`` by id or well-known name; 404 ErrorItemNotFound otherwise."""
    low = key.lower()
    if low in WELL_KNOWN_NAMES:
        return store.get("mailFolder", opaque_id("AAMkAGF", user["id"], "folder", low)) or _missing_folder()
    found = store.locate("mailFolder", key)
    if found is None or found[2] != user["id"]:
        raise _missing_folder()
    return found[0]


def _missing_folder() -> EmulatorHttpError:
    return not_found("The specified folder could not be found in the store.")


def resolve_message(store: Store, user: Json, key: str) -> Json:
    found = store.locate("message", key)
    if found is None or found[2] != user["id"]:
        raise not_found("The specified object was not found in the store.")
    return found[0]


def render_folder(store: Store, folder: Json, req: GraphRequest, expand: set[str] = frozenset()) -> Json:
    out = {**public(folder),
           "childFolderCount": store.count_where("mailFolder", folder["id"], "$.isHidden", False),
           "unreadItemCount": store.count_where("message", folder["id"], "$.isRead", False),
           "totalItemCount": store.count("message", folder["id"])}
    out = select_fields(out, req.query.get("$select"))
    return extprops.add_expansion(req, folder, out) if "singlevalueextendedproperties" in expand else out


def _folder_query(req: GraphRequest) -> set[str]:
    check_query(req, FOLDER_PROPS, "Microsoft.OutlookServices.MailFolder", PARSE_URI)
    return check_expand(req, ("singleValueExtendedProperties",))


# -- folders ------------------------------------------------------------------------------------------
def list_folders(emu, req: GraphRequest, user: str, folder: str | None = None) -> GraphResponse:
    owner = mailbox_user(emu.store, user)
    parent = resolve_folder(emu.store, owner, folder or "msgfolderroot")
    expand = _folder_query(req)
    include_hidden = req.query.get("includeHiddenFolders", "").lower() == "true"
    items = [f for f in emu.store.children("mailFolder", parent["id"]) if include_hidden or not f["isHidden"]]
    return GraphResponse(200, page(req, items, page_size=emu.config.page_size,
                                   render=lambda f: render_folder(emu.store, f, req, expand)))


def get_folder(emu, req: GraphRequest, user: str, folder: str) -> GraphResponse:
    owner = mailbox_user(emu.store, user)
    expand = _folder_query(req)
    return GraphResponse(200, render_folder(emu.store, resolve_folder(emu.store, owner, folder), req, expand))


def create_folder(emu, req: GraphRequest, user: str, folder: str | None = None) -> GraphResponse:
    owner = mailbox_user(emu.store, user)
    parent = resolve_folder(emu.store, owner, folder or "msgfolderroot")
    body = req.json()
    check_properties(body, FOLDER_WRITABLE | {"isHidden"}, "microsoft.graph.mailFolder")
    name = string_prop(body, "displayName")
    if not name or not name.strip():
        raise bad_request("The folder display name is required.", "ErrorInvalidRequest")
    _check_unique_folder(emu, parent["id"], name)
    new = {"id": opaque_id("AAMkAGF", owner["id"], "folder", emu.store.next_number("mailFolder")),
           "displayName": name, "parentFolderId": parent["id"], "isHidden": bool_prop(body, "isHidden", False),
           "_ext": extprops.read_extended_properties(body)}
    emu.store.insert("mailFolder", new, parent=parent["id"], owner=owner["id"])
    return GraphResponse(201, render_folder(emu.store, new, req))


def _check_unique_folder(emu, parent_id: str, name: str, except_id: str | None = None) -> None:
    for sibling in emu.store.children("mailFolder", parent_id):
        if sibling["displayName"].lower() == name.lower() and sibling["id"] != except_id:
            # EWS ResponseCode ErrorFolderExists; HTTP status UNCONFIRMED (409 or 400): a switch.
            raise EmulatorHttpError(emu.config.switches.folder_exists_status, "ErrorFolderExists",
                                    "A folder with the specified name already exists.")


def update_folder(emu, req: GraphRequest, user: str, folder: str) -> GraphResponse:
    owner = mailbox_user(emu.store, user)
    target = resolve_folder(emu.store, owner, folder)
    body = req.json()
    check_properties(body, FOLDER_WRITABLE | {"isHidden"}, "microsoft.graph.mailFolder")
    if get_prop(body, "isHidden") is not None:  # settable at creation only (graph-semantics §1.8, UNCONFIRMED)
        raise EmulatorHttpError(400, "ErrorInvalidPropertySet", "The property 'isHidden' is read-only.")
    name = string_prop(body, "displayName")
    if name is not None:
        if target.get("_wellKnown"):
            raise EmulatorHttpError(400, "ErrorInvalidRequest", "A well-known folder cannot be renamed.")
        if not name.strip():
            raise bad_request("The folder display name is required.", "ErrorInvalidRequest")
        _check_unique_folder(emu, target["parentFolderId"], name, target["id"])
        target["displayName"] = name
    target["_ext"] = extprops.read_extended_properties(body, target.get("_ext"))
    emu.store.put("mailFolder", target)
    return GraphResponse(200, render_folder(emu.store, target, req))


def delete_folder(emu, req: GraphRequest, user: str, folder: str) -> GraphResponse:
    owner = mailbox_user(emu.store, user)
    target = resolve_folder(emu.store, owner, folder)
    if target.get("_wellKnown"):
        # EWS ResponseCode ErrorDeleteDistinguishedFolder.
        raise EmulatorHttpError(400, "ErrorDeleteDistinguishedFolder", "Distinguished folders cannot be deleted.")
    _delete_tree(emu.store, target["id"])
    return GraphResponse(204)


def _delete_tree(store: Store, folder_id: str) -> None:
    for child in store.children("mailFolder", folder_id):
        _delete_tree(store, child["id"])
    for message in store.children("message", folder_id):
        attachments.delete_all(store, message)
        store.delete("message", message["id"])
    store.delete("mailFolder", folder_id)


# -- messages: creation ---------------------------------------------------------------------------------
def create_message(emu, req: GraphRequest, user: str, folder: str | None = None) -> GraphResponse:
    """POST .../messages: JSON or MIME (DC:api/user-post-messages.md, mailfolder-post-messages.md)."""
    owner = mailbox_user(emu.store, user)
    # "By default, this operation saves the draft in the Drafts folder." (DC:user-post-messages.md)
    target = resolve_folder(emu.store, owner, folder or "drafts")
    content_type = req.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type == "text/plain":
        message, files = _from_mime(req.body)
    else:
        message, files = _from_json(emu, req.json())
    message["id"] = opaque_id("AAMkAGI", owner["id"], "message", emu.store.next_number("message"))
    message["parentFolderId"] = target["id"]
    message["conversationId"] = opaque_id("AAQkAGI", owner["id"], message.get("subject") or message["id"])
    message["webLink"] = f"https://outlook.office365.com/owa/?ItemID={message['id']}&exvsurl=1&viewmodel=ReadMessageItem"
    message["changeKey"] = opaque_id("CQAAAB", message["id"], 1)
    message["_version"] = 1
    body_bytes = len(str(message.get("body", {}).get("content", "")).encode())
    if body_bytes > emu.config.switches.max_message_bytes:
        # the message size limit counts the body too, not only attachments (DC:api/attachment-createuploadsession.md
        # tip: 35 MB default maximum message size)
        raise EmulatorHttpError(413, "ErrorMessageSizeExceeded", "The message exceeds the maximum supported size "
                                f"of {emu.config.switches.max_message_bytes} bytes.")
    emu.store.insert("message", message, parent=target["id"], owner=owner["id"])
    for spec in files:
        attachments.add_attachment(emu, message, spec)
    message = emu.store.get("message", message["id"]) or message
    return GraphResponse(201, render_message(emu, message, req))


def _message_fields(body: Json) -> Json:
    """The writable message properties present in ``body``, type-checked, under their canonical names."""
    out: Json = {}
    present = {k.lower() for k in body}

    def has(name: str) -> bool:
        return name.lower() in present
    if has("subject"):
        out["subject"] = string_prop(body, "subject") or ""
    if has("body"):
        out["body"] = item_body(body, "text")
    for name in RECIPIENT_FIELDS:
        if has(name):
            out[name] = _check_recipients(get_prop(body, name), name)
    for name in ("from", "sender"):
        if has(name):
            value = get_prop(body, name)
            out[name] = None if value is None else _check_recipients([value], name)[0]
    if has("importance"):
        out["importance"] = enum_prop(body, "importance", ("low", "normal", "high"), "normal")
    if has("inferenceClassification"):
        out["inferenceClassification"] = enum_prop(body, "inferenceClassification", ("focused", "other"), "focused")
    for name in ("isRead", "isDeliveryReceiptRequested", "isReadReceiptRequested"):
        if has(name):
            out[name] = bool_prop(body, name, False)
    if has("categories"):
        out["categories"] = string_list(body, "categories") or []
    if has("internetMessageId"):
        out["internetMessageId"] = string_prop(body, "internetMessageId")
    if has("flag"):
        flag = get_prop(body, "flag")
        if not isinstance(flag, dict):
            raise body_error("The value of 'flag' must be a followupFlag object.")
        check_properties(flag, {"flagStatus", "startDateTime", "dueDateTime", "completedDateTime"},
                         "microsoft.graph.followupFlag")
        out["flag"] = {**flag, "flagStatus": enum_prop(flag, "flagStatus", ("notFlagged", "complete", "flagged"),
                                                       "notFlagged")}
    return out


def _from_json(emu, body: Json) -> tuple[Json, list[Json]]:
    check_properties(body, MESSAGE_WRITABLE | READ_ONLY, "microsoft.graph.message")
    now = now_iso()
    ext = extprops.read_extended_properties(body)
    _check_internet_headers(emu, get_prop(body, "internetMessageHeaders"))
    fields = _message_fields(body)
    # PidTagMessageFlags at creation decides draft state; read-only afterwards (MS-OXCMSG 2.2.1.6;
    # GH microsoft-graph-docs-contrib#2790). Community-established, UNCONFIRMED in Graph's own docs.
    flags_text = extprops.find(ext, MESSAGE_FLAGS)
    is_draft, is_read = True, True
    if flags_text is not None:
        try:
            flags = int(flags_text, 0)
        except ValueError:
            raise EmulatorHttpError(400, "ErrorInvalidExtendedPropertyValue",
                                    f"The value '{flags_text}' of {MESSAGE_FLAGS} is not a 32-bit integer.")
        is_draft = bool(flags & 0x8)
        is_read = True if is_draft else bool(flags & 0x1)
    if not is_draft and "isRead" in fields:
        is_read = fields["isRead"]
    # receivedDateTime / sentDateTime in the body are ignored; the MAPI times are honoured (davmail PR #517).
    received = _mapi_time(ext, DELIVERY_TIME) or now
    sent = _mapi_time(ext, SUBMIT_TIME) or (None if is_draft else now)
    content = fields.get("body", {"contentType": "text", "content": ""})
    sender = fields.get("sender") or fields.get("from")
    message = {
        "createdDateTime": now, "lastModifiedDateTime": now, "receivedDateTime": received, "sentDateTime": sent,
        "categories": fields.get("categories", []), "hasAttachments": False,
        "internetMessageId": fields.get("internetMessageId"), "subject": fields.get("subject", ""),
        "bodyPreview": _preview(content), "importance": fields.get("importance", "normal"),
        "isDeliveryReceiptRequested": fields.get("isDeliveryReceiptRequested", False),
        "isReadReceiptRequested": fields.get("isReadReceiptRequested", False), "isRead": is_read,
        "isDraft": is_draft, "inferenceClassification": fields.get("inferenceClassification", "focused"),
        "body": content, "sender": sender, "from": fields.get("from") or sender,
        "toRecipients": fields.get("toRecipients", []), "ccRecipients": fields.get("ccRecipients", []),
        "bccRecipients": fields.get("bccRecipients", []), "replyTo": fields.get("replyTo", []),
        "flag": fields.get("flag", {"flagStatus": "notFlagged"}),
        "_ext": ext, "_headers": get_prop(body, "internetMessageHeaders") or [],
    }
    files = get_prop(body, "attachments") or []
    if not isinstance(files, list):
        raise body_error("The value of 'attachments' must be a collection.")
    return message, files


def _mapi_time(ext: dict[str, str], prop_id: str) -> str | None:
    value = extprops.find(ext, prop_id)
    if value is None:
        return None
    try:
        return iso_utc(parse_datetime(value, prop_id))
    except EmulatorHttpError:
        raise EmulatorHttpError(400, "ErrorInvalidExtendedPropertyValue",
                                f"The value '{value}' of {prop_id} is not a valid date and time.")


def _check_internet_headers(emu, headers: Any) -> None:
    """DC:resources/message.md: custom headers only at creation, named 'x-...'; at most 5 (msgraph-sdk-dotnet#2208)."""
    if headers is None:
        return
    if not isinstance(headers, list):
        raise bad_request("internetMessageHeaders must be a collection.", "BadRequest")
    if not headers and emu.config.switches.reject_empty_internet_headers:
        raise EmulatorHttpError(400, "InvalidInternetMessageHeaderCollection",
                                "Maximum number of headers in one message should be less than or equal to 5 "
                                "and the collection must not be empty.")
    if len(headers) > 5:
        raise EmulatorHttpError(400, "InvalidInternetMessageHeaderCollection",
                                "Maximum number of headers in one message should be less than or equal to 5.")
    for header in headers:
        name = header.get("name") if isinstance(header, dict) else None
        if not isinstance(name, str) or not name.lower().startswith("x-"):
            # Quoted in terminal42/contao-notification_center#423 and redaxo/core#6590.
            raise EmulatorHttpError(400, "InvalidInternetMessageHeader",
                                    f"The internet message header name '{name}' should start with 'x-' or 'X-'.")


def _check_recipients(value: Any, field_name: str) -> list[Json]:
    """Recipients ``[{emailAddress: {address, name}}]``; 400 for anything else."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise body_error(f"The value of '{field_name}' must be a collection of recipients.")
    out = []
    for recipient in value:
        address = get_prop(recipient, "emailAddress") if isinstance(recipient, dict) else None
        if not isinstance(address, dict) or not isinstance(get_prop(address, "address"), str) \
                or "@" not in get_prop(address, "address"):
            # EWS ResponseCode ErrorInvalidRecipients.
            raise EmulatorHttpError(400, "ErrorInvalidRecipients",
                                    f"At least one recipient in {field_name} is not valid.")
        name = get_prop(address, "name")
        if name is not None and not isinstance(name, str):
            raise body_error(f"The name of a recipient in '{field_name}' must be a string.")
        out.append({"emailAddress": {"name": name, "address": get_prop(address, "address")}})
    return out


def _preview(content: Json) -> str:
    text = content.get("content") or ""
    if str(content.get("contentType", "")).lower() == "html":
        text = TAGS.sub(" ", text)
    return " ".join(text.split())[:255]


def _from_mime(raw: bytes) -> tuple[Json, list[Json]]:
    """MIME creation: base64 of the RFC 822 message in a text/plain body; the item is a draft (§1.7)."""
    try:
        mime = base64.b64decode(b"".join(raw.split()), validate=True)
        if not mime:
            raise ValueError
    except (binascii.Error, ValueError):
        raise EmulatorHttpError(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
    parsed = email.message_from_bytes(mime, policy=email.policy.default)
    now = now_iso()
    sent = None
    if parsed["Date"]:
        try:
            sent = iso_utc(parsedate_to_datetime(str(parsed["Date"])).astimezone(UTC))
        except (TypeError, ValueError):
            sent = None

    def people(header: str) -> list[Json]:
        return [{"emailAddress": {"name": name, "address": addr}}
                for name, addr in getaddresses([str(v) for v in parsed.get_all(header, [])]) if addr]

    html = parsed.get_body(("html",))
    text = parsed.get_body(("plain",))
    chosen = html or text
    content = {"contentType": "html" if html is not None else "text",
               "content": chosen.get_content() if chosen is not None else ""}
    files = []
    for part in parsed.iter_attachments():
        payload = part.get_payload(decode=True) or b""
        files.append({"@odata.type": "#microsoft.graph.fileAttachment", "name": part.get_filename() or "attachment",
                      "contentType": part.get_content_type(), "contentBytes": base64.b64encode(payload).decode(),
                      "isInline": part.get_content_disposition() == "inline",
                      "contentId": (part["Content-ID"] or "").strip("<>") or None})
    sender = people("From")
    message = {
        "createdDateTime": now, "lastModifiedDateTime": now, "receivedDateTime": now, "sentDateTime": sent,
        "categories": [], "hasAttachments": False, "internetMessageId": parsed["Message-ID"],
        "subject": str(parsed["Subject"] or ""), "bodyPreview": _preview(content), "importance": "normal",
        "isDeliveryReceiptRequested": False, "isReadReceiptRequested": False, "isRead": True,
        "isDraft": True,  # MIME-created items are drafts (DC:user-post-messages.md example; docs-contrib#2790)
        "inferenceClassification": "focused", "body": content,
        "sender": sender[0] if sender else None, "from": sender[0] if sender else None,
        "toRecipients": people("To"), "ccRecipients": people("Cc"), "bccRecipients": people("Bcc"),
        "replyTo": people("Reply-To"), "flag": {"flagStatus": "notFlagged"}, "_ext": {},
        "_headers": [{"name": k, "value": str(v)} for k, v in parsed.items()],
    }
    return message, files


# -- messages: reads, updates, deletes -----------------------------------------------------------------
def render_message(emu, message: Json, req: GraphRequest, expand: set[str] = frozenset()) -> Json:
    select = req.query.get("$select") if req.method == "GET" else None
    out = public(message)
    out["@odata.etag"] = f'W/"{message.get("changeKey", "")}"'
    if select and "internetmessageheaders" in select.lower():
        # "returned only with $select=internetMessageHeaders" (DC:resources/message.md)
        out["internetMessageHeaders"] = message.get("_headers", [])
    out = select_fields(out, select)
    if "attachments" in expand:
        out["attachments"] = [attachments.render_attachment(a, emu.store)
                              for a in emu.store.children("attachment", message["id"])]
    return extprops.add_expansion(req, message, out) if "singlevalueextendedproperties" in expand else out


def _message_query(req: GraphRequest) -> set[str]:
    check_query(req, MESSAGE_WRITABLE | READ_ONLY, "Microsoft.OutlookServices.Message", PARSE_URI)
    return check_expand(req, ("singleValueExtendedProperties", "attachments"))


def list_messages(emu, req: GraphRequest, user: str, folder: str | None = None) -> GraphResponse:
    owner = mailbox_user(emu.store, user)
    parent = resolve_folder(emu.store, owner, folder)["id"] if folder is not None else None
    expand = _message_query(req)
    candidates = extprops.indexed_candidates(emu.store, "message", req.query.get("$filter"))
    if candidates is not None:  # the source-key lookup of a resumed migration: use the index
        found = (emu.store.locate("message", c) for c in candidates)
        items = [obj for obj, par, own in filter(None, found)
                 if own == owner["id"] and (parent is None or par == parent)]
    elif parent is None:
        items = emu.store.owned("message", owner["id"])
    else:
        items = emu.store.children("message", parent)
    items.sort(key=lambda m: m["receivedDateTime"] or "", reverse=True)  # Graph's default order
    return GraphResponse(200, page(req, items, page_size=emu.config.page_size,
                                   render=lambda m: render_message(emu, m, req, expand)))


def get_message(emu, req: GraphRequest, user: str, message: str, folder: str | None = None) -> GraphResponse:
    owner = mailbox_user(emu.store, user)
    expand = _message_query(req)
    return GraphResponse(200, render_message(emu, resolve_message(emu.store, owner, message), req, expand))


def update_message(emu, req: GraphRequest, user: str, message: str, folder: str | None = None) -> GraphResponse:
    owner = mailbox_user(emu.store, user)
    target = resolve_message(emu.store, owner, message)
    body = req.json()
    check_properties(body, MESSAGE_WRITABLE | READ_ONLY, "microsoft.graph.message")
    read_only = {k.lower() for k in READ_ONLY | {"attachments"}}
    draft_only = {k.lower() for k in DRAFT_ONLY}
    for key in body:
        if "@" in key:
            continue
        if key.lower() in read_only:
            raise EmulatorHttpError(400, "ErrorInvalidPropertySet", f"The property '{key}' is read-only.")
        if key.lower() in draft_only and not target["isDraft"]:
            # DC:api/message-update.md: "Updatable only if isDraft = true".
            raise EmulatorHttpError(400, "ErrorInvalidPropertyUpdateSentMessage",
                                    f"The property '{key}' can be updated only while the message is a draft.")
    new_ext = extprops.read_extended_properties(body)
    if extprops.find(new_ext, MESSAGE_FLAGS) is not None:
        # PidTagMessageFlags is read-only after the first save (MS-OXCMSG 2.2.1.6).
        raise EmulatorHttpError(400, "ErrorInvalidPropertySet",
                                "PidTagMessageFlags (Integer 0x0E07) can only be set when the message is created.")
    fields = _message_fields(body)
    target.update(fields)
    if "body" in fields:
        target["bodyPreview"] = _preview(fields["body"])
    target["_ext"] = extprops.read_extended_properties(body, target.get("_ext"))
    target["lastModifiedDateTime"] = now_iso()
    target["_version"] = target.get("_version", 1) + 1
    target["changeKey"] = opaque_id("CQAAAB", target["id"], target["_version"])
    emu.store.put("message", target)
    return GraphResponse(200, render_message(emu, target, req))


def delete_message(emu, req: GraphRequest, user: str, message: str, folder: str | None = None) -> GraphResponse:
    """DELETE moves the message to Deleted Items; from there it is removed (DC:api/message-delete.md)."""
    owner = mailbox_user(emu.store, user)
    target = resolve_message(emu.store, owner, message)
    deleted = resolve_folder(emu.store, owner, "deleteditems")
    if target["parentFolderId"] == deleted["id"]:
        attachments.delete_all(emu.store, target)
        emu.store.delete("message", target["id"])
    else:
        target["parentFolderId"] = deleted["id"]
        emu.store.put("message", target)
        emu.store.move("message", target["id"], deleted["id"])
    return GraphResponse(204)


def permanent_delete(emu, req: GraphRequest, user: str, message: str, folder: str | None = None) -> GraphResponse:
    owner = mailbox_user(emu.store, user)
    target = resolve_message(emu.store, owner, message)
    attachments.delete_all(emu.store, target)
    emu.store.delete("message", target["id"])
    return GraphResponse(204)


def move_message(emu, req: GraphRequest, user: str, message: str, folder: str | None = None) -> GraphResponse:
    """POST .../move {destinationId}: 201 with the moved message; its id changes unless ImmutableId is asked."""
    owner = mailbox_user(emu.store, user)
    target = resolve_message(emu.store, owner, message)
    destination = resolve_folder(emu.store, owner, str(req.json().get("destinationId", "")))
    old_id = target["id"]
    target["parentFolderId"] = destination["id"]
    if 'idtype="immutableid"' not in req.headers.get("prefer", "").lower().replace(" ", ""):
        # learn.microsoft.com/graph/outlook-immutable-id: ids change on move without the Prefer header.
        target["id"] = opaque_id("AAMkAGI", owner["id"], "message", emu.store.next_number("message"))
        attachments.rekey(emu.store, old_id, target["id"])
        emu.store.delete("message", old_id)
        emu.store.insert("message", target, parent=destination["id"], owner=owner["id"])
    else:
        emu.store.put("message", target)
        emu.store.move("message", old_id, destination["id"])
    return GraphResponse(201, render_message(emu, target, req))


def register(router: Router) -> None:
    folder_base = "/users/{user}/mailFolders/{folder}"
    router.add("GET", "/users/{user}/mailFolders", list_folders, "mailbox", many=True)
    router.add("POST", "/users/{user}/mailFolders", create_folder, "mailbox")
    router.add("GET", folder_base, get_folder, "mailbox")
    router.add("PATCH", folder_base, update_folder, "mailbox")
    router.add("DELETE", folder_base, delete_folder, "mailbox")
    router.add("GET", folder_base + "/childFolders", list_folders, "mailbox", many=True)
    router.add("POST", folder_base + "/childFolders", create_folder, "mailbox")
    for base in ("/users/{user}", folder_base):
        router.add("GET", base + "/messages", list_messages, "mailbox", many=True)
        router.add("POST", base + "/messages", create_message, "mailbox")
        router.add("GET", base + "/messages/{message}", get_message, "mailbox")
        router.add("PATCH", base + "/messages/{message}", update_message, "mailbox")
        router.add("DELETE", base + "/messages/{message}", delete_message, "mailbox")
        router.add("POST", base + "/messages/{message}/permanentDelete", permanent_delete, "mailbox")
        router.add("POST", base + "/messages/{message}/move", move_message, "mailbox")
    attachments.register(router, "/users/{user}/messages/{message}", folder_base + "/messages/{message}")
