"""Message attachments: inline POST, reads, deletes, and Outlook attachment upload sessions.

Rules (graph-semantics §2 and §11.8; DC:resources/fileattachment.md,
DC:concepts/outlook-large-attachments.md, DC:api/attachment-createuploadsession.md):

- ``POST .../attachments`` takes a fileAttachment with base64 ``contentBytes`` up to 3 MB;
- ``createUploadSession`` (file attachments only, up to 150 MB and the message size
  limit) hands out a pre-authenticated URL; chunks of at most 4 MB are PUT in order
  with ``Content-Range``; interim 200 with ``nextExpectedRanges``; the last one 201
  with an empty body and ``Location: .../Attachments('{id}')``;
- ``hasAttachments`` counts only non-inline attachments.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from datetime import UTC, datetime

from ..errors import EmulatorHttpError
from .directory import mailbox_user
from .odata import page, select_fields
from .router import GraphRequest, GraphResponse, Json, Router, bad_request, not_found, now_iso, opaque_id, public
from .store import Store

MB = 1024 * 1024
SESSION_MAX = 150 * MB  # "3 MB-150 MB: createUploadSession" (DC:concepts/outlook-large-attachments.md)
CHUNK_MAX = 4 * MB  # "Keep each range <= 4 MB" (same)
RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


def _message_of(emu, req: GraphRequest, user: str, message: str) -> tuple[Json, Json]:
    owner = mailbox_user(emu.store, user)
    found = emu.store.locate("message", message)
    if found is None or found[2] != owner["id"]:
        raise not_found()
    return owner, found[0]


def render_attachment(att: Json, store: Store, with_content: bool = True) -> Json:
    out = public(att)
    if with_content:
        out["contentBytes"] = base64.b64encode(store.get_blob(att["_blob"]) or b"").decode()
    return out


def _refresh_has_attachments(store: Store, message: Json) -> None:
    items = store.children("attachment", message["id"])
    # "hasAttachments ... does not include inline attachments" (DC:resources/message.md)
    message["hasAttachments"] = any(not a.get("isInline") for a in items)
    store.put("message", message)


def _open_sessions(store: Store, message: Json) -> list[Json]:
    return store.children("uploadSession", message["id"])


def _check_message_size(emu, message: Json, extra: int, pending: bool = True) -> None:
    """413 when the message would pass the size limit; open upload sessions count as reserved."""
    used = sum(a["size"] for a in emu.store.children("attachment", message["id"]))
    used += len(str(message.get("body", {}).get("content", "")).encode())
    if pending:
        used += sum(s["_size"] for s in _open_sessions(emu.store, message))
    limit = emu.config.switches.max_message_bytes
    if used + extra > limit:
        # Default Exchange Online maximum message size 35 MB (DC:api/attachment-createuploadsession.md tip).
        raise EmulatorHttpError(413, "ErrorMessageSizeExceeded",
                                f"The message exceeds the maximum supported size of {limit} bytes.")


def add_attachment(emu, message: Json, spec: object) -> Json:
    """Store one fileAttachment given in JSON (also used by message creation)."""
    if not isinstance(spec, dict):
        raise bad_request("An attachment must be an object.", "BadRequest")
    kind = str(spec.get("@odata.type", "#microsoft.graph.fileAttachment")).lstrip("#").lower()
    if kind != "microsoft.graph.fileattachment":
        raise bad_request(f"The emulator supports file attachments only, not {kind}.", "ErrorInvalidRequest")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise bad_request("The attachment name is required.", "ErrorInvalidRequest")
    try:
        data = base64.b64decode(str(spec.get("contentBytes") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise EmulatorHttpError(400, "BadRequest",
                                "Cannot convert the literal contentBytes to the expected type 'Edm.Binary'.")
    switches = emu.config.switches
    if len(data) > switches.inline_attachment_limit:
        # "< 3 MB: single POST"; larger needs createUploadSession. Status/code UNCONFIRMED: switches.
        raise EmulatorHttpError(switches.inline_attachment_status, "ErrorRequestEntityTooLarge",
                                "The attachment is larger than 3 MB; use createUploadSession.")
    _check_message_size(emu, message, len(data))
    return _store_attachment(emu.store, message, name, data, spec.get("contentType"), bool(spec.get("isInline")),
                             spec.get("contentId"))


def _store_attachment(store: Store, message: Json, name: str, data: bytes, content_type: object,
                      inline: bool, content_id: object) -> Json:
    att_id = opaque_id("AAMkAGI", message["id"], "attachment", store.next_number("attachment"))
    att = {"@odata.type": "#microsoft.graph.fileAttachment", "id": att_id, "name": name,
           "contentType": content_type or "application/octet-stream", "size": len(data), "isInline": inline,
           "contentId": content_id if isinstance(content_id, str) else None,
           "lastModifiedDateTime": now_iso(), "_blob": "att:" + att_id}
    store.put_blob(att["_blob"], data)
    store.insert("attachment", att, parent=message["id"], owner=message.get("_owner"))
    _refresh_has_attachments(store, message)
    return att


def delete_all(store: Store, message: Json) -> None:
    """A message's attachments and its open upload sessions (with their chunks)."""
    for att in store.children("attachment", message["id"]):
        store.delete_blob(att["_blob"])
        store.delete("attachment", att["id"])
    for session in _open_sessions(store, message):
        store.drop_chunks(session["id"])
        store.delete("uploadSession", session["id"])


def rekey(store: Store, old_message_id: str, new_message_id: str) -> None:
    """After a move changed the message id: attachments and open sessions follow."""
    for att in store.children("attachment", old_message_id):
        store.move("attachment", att["id"], new_message_id)
    for session in store.children("uploadSession", old_message_id):
        session["_message"] = new_message_id
        store.put("uploadSession", session)
        store.move("uploadSession", session["id"], new_message_id)


# -- endpoints -------------------------------------------------------------------------------------------
def create(emu, req: GraphRequest, user: str, message: str, folder: str | None = None) -> GraphResponse:
    _, msg = _message_of(emu, req, user, message)
    att = add_attachment(emu, msg, req.json())
    return GraphResponse(201, render_attachment(att, emu.store))


def list_all(emu, req: GraphRequest, user: str, message: str, folder: str | None = None) -> GraphResponse:
    _, msg = _message_of(emu, req, user, message)
    items = emu.store.children("attachment", msg["id"])
    select = req.query.get("$select")
    return GraphResponse(200, page(req, items, page_size=emu.config.page_size,
                                   render=lambda a: select_fields(render_attachment(a, emu.store), select)))


def _attachment(emu, msg: Json, attachment: str) -> Json:
    found = emu.store.locate("attachment", attachment)
    if found is None or found[1] != msg["id"]:
        raise not_found()
    return found[0]


def get_one(emu, req: GraphRequest, user: str, message: str, attachment: str, folder: str | None = None
            ) -> GraphResponse:
    _, msg = _message_of(emu, req, user, message)
    att = _attachment(emu, msg, attachment)
    return GraphResponse(200, select_fields(render_attachment(att, emu.store), req.query.get("$select")))


def get_value(emu, req: GraphRequest, user: str, message: str, attachment: str, folder: str | None = None
              ) -> GraphResponse:
    _, msg = _message_of(emu, req, user, message)
    att = _attachment(emu, msg, attachment)
    return GraphResponse(200, emu.store.get_blob(att["_blob"]) or b"", {"Content-Type": att["contentType"]})


def delete_one(emu, req: GraphRequest, user: str, message: str, attachment: str, folder: str | None = None
               ) -> GraphResponse:
    _, msg = _message_of(emu, req, user, message)
    att = _attachment(emu, msg, attachment)
    emu.store.delete_blob(att["_blob"])
    emu.store.delete("attachment", att["id"])
    _refresh_has_attachments(emu.store, msg)
    return GraphResponse(204)


def create_upload_session(emu, req: GraphRequest, user: str, message: str, folder: str | None = None
                          ) -> GraphResponse:
    owner, msg = _message_of(emu, req, user, message)
    body = req.json()
    item = next((v for k, v in body.items() if k.lower() == "attachmentitem"), None)
    if not isinstance(item, dict):
        raise bad_request("AttachmentItem is required.", "ErrorInvalidRequest")
    if str(item.get("attachmentType", "file")).lower() != "file":
        # GH microsoft-graph-docs-contrib#710
        raise EmulatorHttpError(405, "ErrorAttachmentSessionIsSupportedOnlyForFileAttachments",
                                "Attachment session is supported only for file attachments.")
    name, size = item.get("name"), item.get("size")
    if not isinstance(name, str) or not name:
        raise bad_request("AttachmentItem.name is required.", "ErrorInvalidRequest")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise bad_request("AttachmentItem.size must be a positive number of bytes.", "ErrorInvalidRequest")
    if size > SESSION_MAX:
        raise EmulatorHttpError(413, "ErrorAttachmentSizeShouldNotBeLargerThanMaximumSize",
                                "An attachment of an upload session can be at most 150 MB.")
    if not msg["isDraft"] and not emu.config.switches.upload_session_on_non_draft:
        # Undocumented for non-drafts; community says the message must be a draft (docs-contrib#687):
        # UNCONFIRMED, refused by default (switch upload_session_on_non_draft).
        raise EmulatorHttpError(400, "ErrorInvalidOperation",
                                "An attachment upload session can only be created on a draft message.")
    _check_message_size(emu, msg, size)
    session_id = opaque_id("AAMkAGS", msg["id"], emu.store.next_number("uploadSession"))
    token = secrets.token_urlsafe(24)
    expires = time.time() + emu.config.upload_session_ttl_s
    expiration = _expiration(expires)
    emu.store.insert("uploadSession", {
        "id": session_id, "_mailbox": owner["id"], "_message": msg["id"], "_name": name, "_size": size,
        "_contentType": item.get("contentType"), "_isInline": bool(item.get("isInline")),
        # contentId cannot be set through an upload session (GH microsoft-graph-docs-contrib#4850).
        "_token": token, "_app": req.app_id, "_expires": expires, "_next": 0, "expirationDateTime": expiration,
    }, parent=msg["id"], owner=owner["id"])
    root = req.base_url.rsplit("/v1.0", 1)[0]
    return GraphResponse(201, {
        "@odata.context": f"{req.base_url}/$metadata#microsoft.graph.uploadSession",
        "uploadUrl": f"{root}/_upload/outlook/{session_id}?authtoken={token}",
        "expirationDateTime": expiration, "nextExpectedRanges": ["0-"]})


def _expiration(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _session(emu, req: GraphRequest, session: str) -> Json:
    found = emu.store.get("uploadSession", session)
    if found is None or "_mailbox" not in found:
        raise not_found("The upload session does not exist.")
    if not secrets.compare_digest(req.query.get("authtoken", ""), found["_token"]):
        raise EmulatorHttpError(401, "InvalidAuthenticationToken", "The upload URL's token is not valid.")
    if time.time() > found["_expires"]:
        raise not_found("The upload session has expired.")
    return found


def upload_chunk(emu, req: GraphRequest, session: str) -> GraphResponse:
    sess = _session(emu, req, session)
    m = RANGE.match(req.headers.get("content-range", "").strip())
    if not m:
        raise bad_request("Content-Range 'bytes start-end/total' is required.", "ErrorInvalidContentRange")
    start, end, total = (int(g) for g in m.groups())
    if total != sess["_size"]:
        raise bad_request(f"The total size {total} differs from the session's {sess['_size']}.",
                          "ErrorInvalidContentRange")
    if end < start or end >= total or end - start + 1 != len(req.body):
        raise bad_request("Content-Range does not match the bytes sent.", "ErrorInvalidContentRange")
    if len(req.body) > CHUNK_MAX:
        raise EmulatorHttpError(413, "ErrorRequestEntityTooLarge", "Upload each range in pieces of at most 4 MB.")
    if start != sess["_next"]:
        # "Bytes must be uploaded in order" (DC:concepts/outlook-large-attachments.md)
        raise EmulatorHttpError(416, "ErrorInvalidRange",
                                f"The next expected range starts at {sess['_next']}, not {start}.")
    emu.store.add_chunk(sess["id"], start, req.body)
    sess["_next"] = end + 1
    # "Each fragment uploaded during the session extends the expiration time." (DC:resources/uploadsession.md)
    sess["_expires"] = time.time() + emu.config.upload_session_ttl_s
    sess["expirationDateTime"] = _expiration(sess["_expires"])
    if sess["_next"] < total:
        emu.store.put("uploadSession", sess)
        return GraphResponse(200, {"expirationDateTime": sess["expirationDateTime"],
                                   "nextExpectedRanges": [str(sess["_next"])]})
    data = emu.store.take_chunks(sess["id"])
    emu.store.delete("uploadSession", sess["id"])
    message = emu.store.get("message", sess["_message"])
    if message is None:
        raise not_found("The message of this upload session no longer exists.")
    _check_message_size(emu, message, len(data), pending=False)
    att = _store_attachment(emu.store, message, sess["_name"], data, sess["_contentType"], sess["_isInline"], None)
    root = req.base_url.rsplit("/v1.0", 1)[0]
    location = f"{root}/api/v2.0/Users('{sess['_mailbox']}')/Messages('{message['id']}')/Attachments('{att['id']}')"
    return GraphResponse(201, None, {"Location": location})


def cancel_session(emu, req: GraphRequest, session: str) -> GraphResponse:
    sess = _session(emu, req, session)
    emu.store.drop_chunks(sess["id"])
    emu.store.delete("uploadSession", sess["id"])
    return GraphResponse(204)


def register(router: Router, *bases: str) -> None:
    for base in bases:
        router.add("GET", base + "/attachments", list_all, "mailbox", many=True)
        router.add("POST", base + "/attachments", create, "mailbox")
        router.add("POST", base + "/attachments/createUploadSession", create_upload_session, "mailbox")
        router.add("GET", base + "/attachments/{attachment}", get_one, "mailbox")
        router.add("GET", base + "/attachments/{attachment}/$value", get_value, "mailbox")
        router.add("DELETE", base + "/attachments/{attachment}", delete_one, "mailbox")
    router.add("PUT", "/_upload/outlook/{session}", upload_chunk, "upload:outlook")
    router.add("DELETE", "/_upload/outlook/{session}", cancel_session, "upload:outlook")
