"""Planned target operations: what a migration will do, one JSON line each.

An :class:`Operation` is a single write the executor will make (create a
folder, a message, a list item...), fully determined by the source: its
``key`` comes from the Notes document (``replica/unid``, plus ``#att/N`` or
``#folder/PATH`` for parts; a list, shared by every database of a source,
is ``#list/SITE/NAME``), never from a Graph id, so a crash or a lost
answer can be found again instead of re-sent.  ``payload`` is the Graph body
it will send (binary content referenced by sha256 and size, never inlined);
``content_hash`` covers payload and content, so a re-plan shows what changed.

Containers are logical, resolved to Graph ids only at run time:
``mailbox:jane.doe@acme.example/folder:Inbox/Projects``,
``mailbox:jane.doe@acme.example/calendar``, ``mailbox:.../contacts``,
``mailbox:.../todo:Tasks``, ``site:acme.sharepoint.com:/sites/teamroom/list:Discussion``,
``site:.../drive:Documents/Discussion/KEY``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import orjson

OpKind = Literal[
    "ensure-mail-folder", "create-message",
    "create-event",
    "ensure-contact-folder", "create-contact",
    "ensure-todo-list", "create-task",
    "ensure-list", "ensure-column", "create-list-item",
    "ensure-drive-folder", "upload-file",
]
#: Inline attachment limit of Graph's message/event attachment POST (graph-semantics §2).
INLINE_ATTACHMENT_LIMIT = 3 * 1024 * 1024
#: Outlook upload-session chunk size used to count requests (≤ 4 MB, a multiple of 320 KiB).
OUTLOOK_CHUNK = 3_932_160
#: Drive upload-session chunk size (a multiple of 320 KiB, well under 60 MiB).
DRIVE_CHUNK = 10 * 327_680 * 3
#: Files above this go through a drive upload session instead of a simple PUT (graph-semantics §6 advice).
DRIVE_SIMPLE_LIMIT = 10 * 1024 * 1024


def canonical_json(value: Any) -> str:
    """The one serialization used for plan lines and hashes: sorted keys, no spaces, UTF-8 kept."""
    data = _orjson_if_same(value)
    if data is not None:
        return data.decode()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_bytes(value: Any, *, texts_only: bool = False) -> bytes:
    """``canonical_json(value).encode()``.

    ``texts_only``: the caller builds ``value`` from strings, booleans and integers only (dicts and lists of
    them: a message's payload), so orjson's bytes are the standard library's without looking for floats in
    them (that scan cost twice orjson's own serialization on a 2 KB message); ``tests/test_operations.py``
    checks the claim on every message planned from the samples, the fixtures and the real exports."""
    if texts_only:
        try:
            return orjson.dumps(value, option=_ORJSON_OPTIONS)
        except TypeError:
            pass  # a subclass or an integer beyond 64 bits: the standard library's, as below
    else:
        data = _orjson_if_same(value)
        if data is not None:
            return data
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


_ORJSON_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME
                   | orjson.OPT_PASSTHROUGH_DATACLASS)
#: Where orjson's output may differ from the standard library's: a float (``1e-07`` is ``1e-7`` there,
#: ``1.5e-05`` is ``0.000015``), NaN and infinity (``null`` there).  Inside a value a number follows ``:``,
#: ``[`` or ``,``; a string that merely looks like one only sends the value the slow way.
#: ``[:,\[]-?[0-9]+[.eE]`` as three searches that each start with a literal (which the regular expression engine
#: scans for quickly): half the time of the one search on a message payload.
_FLOAT_AFTER = tuple(re.compile(re.escape(c) + rb"-?[0-9]+[.eE]").search for c in (b":", b",", b"["))


def _orjson_if_same(value: Any) -> bytes | None:
    """The canonical JSON by orjson (about five times faster, this check included) when it is certain to be the
    standard library's, byte for byte (the same escaping; keys sorted by code point): not when ``value`` holds
    a float, NaN, infinity or None, a key that is not a string, an integer beyond 64 bits, a subclass of a JSON
    type, a lone surrogate (orjson refuses the last four), nor when it is a number itself."""
    try:
        data = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except TypeError:
        return None
    if b"null" in data or data[:1] in b"-0123456789":
        return None
    for search in _FLOAT_AFTER:
        if search(data) is not None:
            return None
    return data


@dataclass(frozen=True)
class ContentRef:
    """Binary content an operation uploads: where it comes from and what it is."""

    name: str
    size: int
    sha256: str
    content_type: str = "application/octet-stream"
    inline: bool = False
    content_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        out = {"name": self.name, "size": self.size, "sha256": self.sha256, "contentType": self.content_type}
        if self.inline:
            out["inline"] = True
        if self.content_id:
            out["contentId"] = self.content_id
        return out


@dataclass(frozen=True)
class Operation:
    """One planned write to Microsoft 365."""

    op: OpKind
    container: str
    key: str
    payload: dict[str, Any]
    sequence: int | None = None
    content: tuple[ContentRef, ...] = ()
    depends_on: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    source_file: str | None = None
    form: str | None = None

    @property
    def size(self) -> int:
        """Bytes sent: the JSON payload and every piece of content."""
        size = self.__dict__.get("_payload_size")
        if size is None:
            size = self.measure().__dict__["_payload_size"]
        return size + sum(c.size for c in self.content)

    @property
    def content_hash(self) -> str:  # read several times per item by the executor: computed once
        digest = self.__dict__.get("_content_hash")
        if digest is None:
            digest = self.measure().__dict__["_content_hash"]
        return digest

    def measure(self, payload_json: bytes | None = None) -> Operation:
        """Size and hash of the payload from one canonical encoding (``payload_json``: that encoding, when the
        planner made it already), kept with the operation: the executor reads the hash of every item, and a
        source planned in a worker process hands them over with its operations.  Returns the operation."""
        data = canonical_bytes(self.payload) if payload_json is None else payload_json
        digest = hashlib.sha256(data)
        for ref in self.content:
            digest.update(f"\0{ref.name}\0{ref.sha256}".encode())
        # a frozen dataclass: derived values go straight into the instance dict (as functools.cached_property does)
        self.__dict__["_payload_size"] = len(data)
        self.__dict__["_content_hash"] = "sha256:" + digest.hexdigest()
        return self

    def evolve(self, **changes: Any) -> Operation:
        """``dataclasses.replace``, keeping the measured size and hash when payload and content are unchanged."""
        new = replace(self, **changes)
        if "payload" not in changes and "content" not in changes:
            for name in ("_payload_size", "_content_hash"):
                if name in self.__dict__:
                    new.__dict__[name] = self.__dict__[name]
        return new

    @property
    def requests(self) -> int:
        """Graph requests the operation takes: the create, plus one per attachment (more for large ones)."""
        count = 1
        if self.op == "upload-file" and "fields" in self.payload:
            count += 1  # a file's columns are a separate PATCH of its listItem fields
        for ref in self.content:
            if self.op == "upload-file":
                count += -1 + (1 if ref.size <= DRIVE_SIMPLE_LIMIT else 1 + -(-ref.size // DRIVE_CHUNK))
            elif ref.size <= INLINE_ATTACHMENT_LIMIT:
                count += 1
            else:
                count += 1 + -(-ref.size // OUTLOOK_CHUNK)  # createUploadSession + chunks
        return count

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": self.op, "container": self.container, "key": self.key,
                               "sequence": self.sequence, "hash": self.content_hash, "size": self.size,
                               "requests": self.requests, "payload": self.payload}
        if self.content:
            out["content"] = [c.as_json() for c in self.content]
        if self.depends_on:
            out["dependsOn"] = list(self.depends_on)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.source_file:
            out["source"] = self.source_file
        if self.form:
            out["form"] = self.form
        return out

    def line(self) -> str:
        return canonical_json(self.as_json())


@dataclass
class PlanIssues:
    """What a plan reports besides its operations (the summary's material)."""

    unmapped_forms: dict[str, int] = field(default_factory=dict)
    unmapped_items: dict[str, int] = field(default_factory=dict)
    degraded: dict[str, int] = field(default_factory=dict)
    large_attachments: int = 0
    errors: list[str] = field(default_factory=list)
    #: documents left out on purpose, by reason ("skipped form Group", "filtered out", "repeat instance ...")
    left_out: dict[str, int] = field(default_factory=dict)

#: The named MAPI property every created Outlook item carries: its source key (graph-semantics §4: a named
#: property, never a proptag, always the same id format). The GUID is ours, fixed forever.
SOURCE_KEY_PROPERTY = "String {6c8f3f9e-5d1a-4f6b-9c2e-1d7a0b4e2f31} Name NotesSourceKey"
#: SharePoint column holding the source key: indexed, so that a lookup by key is allowed (§5.4).
SOURCE_KEY_COLUMN = "NotesKey"
#: Payload key the executor reads and strips from a list item: what ``attachment:`` and ``cid:`` references in
#: the item's HTML become once their files are uploaded (file operation keys).  Set by ``appplan``.
LINKS_KEY = "@notes2m365.links"


def source_key(replica: str | None, unid: str, part: str | None = None) -> str:
    """``REPLICA/UNID`` (upper-case hex; ``-`` for a missing replica id, as :attr:`NotesDocument.key`),
    with ``#part`` for pieces of a document."""
    key = f"{(replica or '-').upper()}/{unid.upper()}"
    return f"{key}#{part}" if part else key
