"""Native MIME documents: rebuild an RFC 5322 message from DXL and summarise it.

Two DXL shapes carry a native MIME document (reference §6):

* ``MIMEOption=DXL``: a ``<mime>`` element holding the whole MIME stream
  (:attr:`NotesDocument.mime`);
* ``MIMEOption=RAW`` (the exporter's default): one ``Body`` item per MIME part,
  ``<rawitemdata type='19'>`` (TYPE_MIME_PART, a ``MIME_PART`` structure), and
  one ``<rawitemdata type='502'>`` item (TYPE_RFC822_TEXT, an
  ``RFC822ITEMDESC``) per top-level header; a part body too big for the item
  lives in a ``$FILE`` object named by the part (``MIME_PART_BODY_IN_DBOBJECT``).

Layouts (``mimeods.h`` in the Domino C API; all little-endian, and DXL's
base64 payload is the item value *without* its 2-byte type word)::

    RFC822ITEMDESC (14 bytes)                 MIME_PART (20 bytes)
      WORD  wVersion    = 14 (ODSSizeof)        WORD  wVersion   = 2 (MIME_PART_VERSION)
      DWORD dwFlags                             DWORD dwFlags    (MIME_PART_xxx)
      WORD  wNotesNativeLen                     BYTE  cPartType  (MIMEPARTTYPE)
      WORD  w822NameLen                         BYTE  cSpare
      WORD  w822DelimLen                        WORD  wByteCount (boundary+headers+body,
      WORD  w822BodyLen                                           not the DB object)
    then native value (LMBCS text or an         WORD  wBoundaryLen
    8-byte TIMEDATE), header name,              WORD  wHeadersLen
    delimiter (``": "``), header body           WORD  wSpare
    (raw, RFC 2047, usually ending CRLF)        DWORD dwSpare
                                              then boundary, headers, body

Nothing here raises on bad input: undecodable or truncated structures give
whatever could be decoded, and the problems are listed in ``warnings``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.header
import email.utils
import quopri
import re
import struct
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Iterable, Literal, NamedTuple

from notes2m365.model import NotesDocument

__all__ = [
    "TYPE_MIME_PART",
    "TYPE_RFC822_TEXT",
    "MIME_PART_HAS_BOUNDARY",
    "MIME_PART_HAS_HEADERS",
    "MIME_PART_BODY_IN_DBOBJECT",
    "MIME_PART_SHARED_DBOBJECT",
    "MIME_PART_SKIP_FOR_CONVERSION",
    "MIME_PART_PROLOG",
    "MIME_PART_BODY",
    "MIME_PART_EPILOG",
    "MIME_PART_RETRIEVE_INFO",
    "MIME_PART_MESSAGE",
    "Rfc822Item",
    "MimePart",
    "MimeBuild",
    "Address",
    "MimeAttachment",
    "MessageSummary",
    "decode_rfc822_item",
    "decode_mime_part",
    "assemble_message",
    "build_message",
    "message_parts",
]

# Item type codes (TYPE_xxx; DXL writes them in hex: '19', '502').
TYPE_MIME_PART = 0x0019
TYPE_RFC822_TEXT = 0x0502

# MIME_PART.dwFlags
MIME_PART_HAS_BOUNDARY = 0x00000001
MIME_PART_HAS_HEADERS = 0x00000002
MIME_PART_BODY_IN_DBOBJECT = 0x00000004
MIME_PART_SHARED_DBOBJECT = 0x00000008  # only with BODY_IN_DBOBJECT
MIME_PART_SKIP_FOR_CONVERSION = 0x00000010  # only used during MIME->CD conversion

# MIME_PART.cPartType (MIMEPARTTYPE)
MIME_PART_PROLOG = 1  # a multipart entity: its headers and preamble
MIME_PART_BODY = 2  # an ordinary (leaf) part
MIME_PART_EPILOG = 3  # the closing boundary ("--b--") and epilogue
MIME_PART_RETRIEVE_INFO = 4
MIME_PART_MESSAGE = 5  # a message/rfc822 entity

PART_TYPE_NAMES = {1: "prolog", 2: "body", 3: "epilog", 4: "retrieve-info", 5: "message"}

# RFC822ITEMDESC.dwFlags
RFC822_ITEM_FORMAT_MASK = 0x00000007
RFC822_ITEM_FORMAT_ADDR = 0x00000000
RFC822_ITEM_FORMAT_DATE = 0x00000001
RFC822_ITEM_FORMAT_TEXT = 0x00000002
RFC822_ITEM_STORAGE_STRICT = 0x00000008
RFC822_ITEM_TEXT_LIST = 0x00000010

_RFC822_FORMATS = {0: "addr", 1: "date", 2: "text"}

RFC822ITEMDESC_SIZE = 14
MIME_PART_SIZE = 20
_RFC822 = struct.Struct("<HIHHHH")
_MIME_PART = struct.Struct("<HIBBHHHHI")

_CRLF = b"\r\n"
# Top-level headers that describe the root entity: when the first MIME part
# carries them too, the part's copy wins (it is what the body was encoded with).
_ENTITY_HEADERS = frozenset(
    {
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "content-id",
        "content-description",
        "content-language",
        "content-location",
        "mime-version",
    }
)
_HEADER_NAME_RE = re.compile(rb"^([!-9;-~]+)[ \t]*:", re.MULTILINE)
_CTE_RE = re.compile(rb"^content-transfer-encoding[ \t]*:[ \t]*([^\s;]*)", re.IGNORECASE | re.MULTILINE)
_B64_TEXT_RE = re.compile(rb"^[A-Za-z0-9+/=\s]*$")


# --------------------------------------------------------------------------- helpers


def _text(data: bytes) -> str:
    """Best-effort text of LMBCS/RFC 822 bytes (ASCII is identical in all of them).

    UTF-8 first (raw 8-bit headers are nearly always UTF-8 nowadays), then
    cp1252/latin-1 so that no byte is ever lost.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def decode_timedate(data: bytes) -> dt.datetime | None:
    """An 8-byte Domino TIMEDATE as an aware UTC ``datetime`` (``None`` if not a full date+time).

    ``Innards[0]`` = hundredths of a second since midnight GMT, ``Innards[1]``
    bits 0-23 = Julian day number (bits 24-31 hold the zone, used only for display).
    """
    if len(data) < 8:
        return None
    ticks, high = struct.unpack_from("<II", data)
    jdn = high & 0x00FFFFFF
    if ticks == 0xFFFFFFFF or jdn == 0x00FFFFFF or ticks >= 8_640_000:
        return None  # ALLDAY / ANYDAY, or not a time
    try:
        day = dt.date.fromordinal(jdn - 1721425)  # JDN 1721426 = 0001-01-01
    except (ValueError, OverflowError):
        return None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc) + dt.timedelta(
        milliseconds=ticks * 10
    )


# --------------------------------------------------------------------------- RFC822ITEMDESC


@dataclass(slots=True)
class Rfc822Item:
    """A decoded TYPE_RFC822_TEXT value: one top-level message header."""

    name: str  # the RFC 822 header name ("To", "Message-ID"); not the Notes item name
    native: bytes  # the Notes-native value: LMBCS text, or an 8-byte TIMEDATE (date format)
    body: str  # the raw header body (RFC 2047 still encoded; may end with CRLF; may be folded)
    delimiter: str = ": "
    body_bytes: bytes = b""
    version: int = RFC822ITEMDESC_SIZE
    flags: int = 0
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def format(self) -> str:
        """``addr``, ``date`` or ``text`` (RFC822_ITEM_FORMAT_xxx), ``unknown`` otherwise."""
        return _RFC822_FORMATS.get(self.flags & RFC822_ITEM_FORMAT_MASK, "unknown")

    @property
    def strict(self) -> bool:
        return bool(self.flags & RFC822_ITEM_STORAGE_STRICT)

    @property
    def text_list(self) -> bool:
        return bool(self.flags & RFC822_ITEM_TEXT_LIST)

    @property
    def native_text(self) -> str | None:
        """The Notes-native value as text (best effort: LMBCS is read as UTF-8/cp1252); ``None`` for dates."""
        if self.format == "date":
            return None
        return _text(self.native)

    @property
    def native_datetime(self) -> dt.datetime | None:
        """The native TIMEDATE of a date header (``PostedDate``) in UTC."""
        if self.format != "date":
            return None
        return decode_timedate(self.native)

    @property
    def value(self) -> str:
        """The header body unfolded and stripped (still RFC 2047 encoded)."""
        return re.sub(r"\r?\n[ \t]*", " ", self.body).strip()

    def header_line(self) -> bytes:
        """``Name: body\\r\\n`` as it stood in the original message, made safe to splice into a header block."""
        body = self.body_bytes
        # A blank line inside would end the header block; a non-indented line would start a new header.
        lines = [ln for ln in re.split(rb"\r?\n", body)]
        if lines and lines[-1] == b"":
            lines.pop()
        out = []
        for i, ln in enumerate(lines):
            if i == 0:
                out.append(ln)
            elif ln.strip() == b"":
                continue
            elif ln[:1] in (b" ", b"\t"):
                out.append(ln)
            else:
                out.append(b" " + ln)
        delim = self.delimiter.encode("utf-8", "surrogateescape") or b": "
        if b":" not in delim:
            delim = b": "
        return self.name.encode("utf-8", "surrogateescape") + delim + _CRLF.join(out) + _CRLF


def _strip_type_word(data: bytes, type_code: int, version_at: int) -> tuple[bytes, bool]:
    """Drop a leading item type WORD if one slipped into the payload (e.g. legacy itemdata)."""
    if len(data) >= 4 and struct.unpack_from("<H", data)[0] == type_code:
        if struct.unpack_from("<H", data, 2)[0] == version_at:
            return data[2:], True
    return data, False


def decode_rfc822_item(data: bytes) -> Rfc822Item | None:
    """Decode an RFC822ITEMDESC value (``<rawitemdata type='502'>``); ``None`` if it is not one.

    Truncated data gives what could be read (``truncated=True`` plus a warning).
    """
    try:
        return _decode_rfc822_item(bytes(data))
    except Exception:  # pragma: no cover - defensive: never raise on bad input
        return None


def _decode_rfc822_item(data: bytes) -> Rfc822Item | None:
    data, stripped = _strip_type_word(data, TYPE_RFC822_TEXT, RFC822ITEMDESC_SIZE)
    if len(data) < RFC822ITEMDESC_SIZE:
        return None
    version, flags, native_len, name_len, delim_len, body_len = _RFC822.unpack_from(data)
    warnings: list[str] = []
    if stripped:
        warnings.append("RFC822 item started with its type word; skipped it")
    if version != RFC822ITEMDESC_SIZE:
        warnings.append(f"RFC822ITEMDESC wVersion {version} (expected {RFC822ITEMDESC_SIZE})")
    pos = RFC822ITEMDESC_SIZE
    truncated = False
    fields: list[bytes] = []
    for what, length in (("native value", native_len), ("name", name_len), ("delimiter", delim_len), ("body", body_len)):
        chunk = data[pos : pos + length]
        if len(chunk) < length:
            truncated = True
            warnings.append(f"RFC822 item truncated in the {what} ({len(chunk)} of {length} bytes)")
        fields.append(chunk)
        pos += length
    if pos < len(data):
        warnings.append(f"RFC822 item has {len(data) - pos} trailing bytes")
    native, name, delim, body = fields
    name_text = _text(name).strip()
    if name_len == 0 or not name_text or not re.fullmatch(r"[!-9;-~]+", name_text):
        if name_len and name_text:
            warnings.append(f"RFC822 item has an invalid header name {name_text!r}")
        elif not truncated:
            warnings.append("RFC822 item has no header name")
    return Rfc822Item(
        name=name_text,
        native=native,
        body=body.decode("utf-8", "surrogateescape"),
        delimiter=delim.decode("latin-1") if delim else "",
        body_bytes=body,
        version=version,
        flags=flags,
        truncated=truncated,
        warnings=warnings,
    )


# --------------------------------------------------------------------------- MIME_PART


@dataclass(slots=True)
class MimePart:
    """A decoded TYPE_MIME_PART value: one part of the MIME stream."""

    version: int
    flags: int
    part_type: int
    byte_count: int  # wByteCount: boundary + headers + body held in the item
    boundary: bytes = b""  # the boundary line(s) as stored, e.g. b"\r\n--b\r\n"
    headers: bytes = b""  # the part's header block as stored (normally ends with a blank line)
    body: bytes = b""  # the body; the $FILE object name when body_in_dbobject
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def type_name(self) -> str:
        return PART_TYPE_NAMES.get(self.part_type, f"unknown({self.part_type})")

    @property
    def has_boundary(self) -> bool:
        return bool(self.flags & MIME_PART_HAS_BOUNDARY)

    @property
    def has_headers(self) -> bool:
        return bool(self.flags & MIME_PART_HAS_HEADERS)

    @property
    def body_in_dbobject(self) -> bool:
        return bool(self.flags & MIME_PART_BODY_IN_DBOBJECT)

    @property
    def shared_dbobject(self) -> bool:
        return bool(self.flags & MIME_PART_SHARED_DBOBJECT)

    @property
    def skip_for_conversion(self) -> bool:
        return bool(self.flags & MIME_PART_SKIP_FOR_CONVERSION)

    @property
    def object_name(self) -> str | None:
        """The ``$FILE`` object holding the body (``BODY_IN_DBOBJECT`` parts), else ``None``."""
        if not self.body_in_dbobject:
            return None
        return _text(self.body.split(b"\0", 1)[0]).strip()

    @property
    def boundary_text(self) -> str:
        """The boundary without its surrounding line breaks (``--b`` or ``--b--``)."""
        return _text(self.boundary).strip("\r\n")

    @property
    def content_transfer_encoding(self) -> str | None:
        m = _CTE_RE.search(self.headers)
        return m.group(1).decode("latin-1").lower() if m else None


def decode_mime_part(data: bytes) -> MimePart | None:
    """Decode a MIME_PART value (``<rawitemdata type='19'>``); ``None`` if shorter than the header.

    The variable data is ``boundary`` (wBoundaryLen), ``headers`` (wHeadersLen)
    and the body (the rest of wByteCount).  Truncated data gives what could be read.
    """
    try:
        return _decode_mime_part(bytes(data))
    except Exception:  # pragma: no cover - defensive
        return None


def _decode_mime_part(data: bytes) -> MimePart | None:
    data, stripped = _strip_type_word(data, TYPE_MIME_PART, 2)
    if len(data) < MIME_PART_SIZE:
        return None
    version, flags, part_type, _spare, byte_count, boundary_len, headers_len, _wspare, _dwspare = (
        _MIME_PART.unpack_from(data)
    )
    warnings: list[str] = []
    if stripped:
        warnings.append("MIME part started with its type word; skipped it")
    if version not in (1, 2):
        warnings.append(f"MIME_PART wVersion {version} (expected 2)")
    if part_type not in PART_TYPE_NAMES:
        warnings.append(f"MIME_PART has unknown part type {part_type}")
    payload = data[MIME_PART_SIZE : MIME_PART_SIZE + byte_count]
    truncated = len(payload) < byte_count
    if truncated:
        warnings.append(f"MIME part truncated: {len(payload)} of {byte_count} bytes")
    extra = len(data) - MIME_PART_SIZE - byte_count
    if extra > 0:
        warnings.append(f"MIME part has {extra} bytes after wByteCount")
    if boundary_len + headers_len > byte_count:
        warnings.append(
            f"MIME part boundary+headers ({boundary_len}+{headers_len}) exceed wByteCount {byte_count}"
        )
    boundary = payload[:boundary_len]
    headers = payload[boundary_len : boundary_len + headers_len]
    body = payload[boundary_len + headers_len :]
    if boundary_len and not flags & MIME_PART_HAS_BOUNDARY:
        warnings.append("MIME part has a boundary but not MIME_PART_HAS_BOUNDARY")
    if headers_len and not flags & MIME_PART_HAS_HEADERS:
        warnings.append("MIME part has headers but not MIME_PART_HAS_HEADERS")
    return MimePart(
        version=version,
        flags=flags,
        part_type=part_type,
        byte_count=byte_count,
        boundary=boundary,
        headers=headers,
        body=body,
        truncated=truncated,
        warnings=warnings,
    )


# --------------------------------------------------------------------------- building the message


@dataclass(slots=True)
class MimeBuild:
    """The outcome of :func:`assemble_message`."""

    message: EmailMessage
    source: Literal["mime", "raw"]  # <mime> element, or raw MIME_PART/RFC822 items
    data: bytes  # the MIME stream that was parsed
    warnings: list[str] = field(default_factory=list)
    used_files: list[str] = field(default_factory=list)  # $FILE objects that held part bodies


def _parse(data: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(data)  # type: ignore[return-value]


def _raw_items(doc: NotesDocument, type_code: int, name: str | None = None) -> list:
    items = doc.items if name is None else doc.get_all(name)
    return [i for i in items if i.raw is not None and i.raw.type_code == type_code]


def _rfc822_headers(doc: NotesDocument, warnings: list[str]) -> list[tuple[str, bytes]]:
    """The top-level headers from the TYPE_RFC822_TEXT items, in file order: (lower name, line)."""
    out: list[tuple[str, bytes]] = []
    for item in _raw_items(doc, TYPE_RFC822_TEXT):
        desc = decode_rfc822_item(item.raw.data)  # type: ignore[union-attr]
        if desc is None:
            warnings.append(f"item {item.name}: not an RFC822 header (too short)")
            continue
        warnings.extend(f"item {item.name}: {w}" for w in desc.warnings)
        if not desc.name or not re.fullmatch(r"[!-9;-~]+", desc.name):
            # Fall back on the Notes item name: MIME_Version -> MIME-Version, $MessageID -> MessageID.
            fallback = item.name.lstrip("$").replace("_", "-")
            if not fallback or not re.fullmatch(r"[!-9;-~]+", fallback):
                warnings.append(f"item {item.name}: header dropped (no usable name)")
                continue
            desc.name = fallback
            if not desc.delimiter or ":" not in desc.delimiter:
                desc.delimiter = ": "
        out.append((desc.name.lower(), desc.header_line()))
    return out


def _header_names(block: bytes) -> set[str]:
    return {m.group(1).decode("latin-1").lower() for m in _HEADER_NAME_RE.finditer(block)}


def _find_attachment(doc: NotesDocument, name: str):
    files = [i.attachment for i in doc.get_all("$FILE") if i.attachment is not None]
    files += [a for a in doc.attachments if all(a is not f for f in files)]
    for att in files:
        if att.name == name:
            return att
    lname = name.lower()
    for att in files:
        if att.name.lower() == lname:
            return att
    return None


def _object_body(part: MimePart, cte: str | None, doc: NotesDocument, build_warnings: list[str], used: list[str]) -> bytes:
    """The body of a BODY_IN_DBOBJECT part, read from its ``$FILE`` object and made fit for the stream.

    The object normally holds the body still transfer-encoded; when its bytes are
    evidently decoded (not base64 text under a base64 part, 8-bit under a
    quoted-printable part) they are encoded again so the header stays true.
    """
    name = part.object_name or ""
    att = _find_attachment(doc, name) if name else None
    if att is None:
        build_warnings.append(f"MIME part body is in $FILE {name!r}, which the document does not have")
        return b""
    try:
        data = att.read_bytes()
    except Exception as exc:  # spool gone, I/O error
        build_warnings.append(f"$FILE {name!r}: cannot read ({exc})")
        return b""
    if att.name not in used:
        used.append(att.name)
    if cte == "base64":
        if data and not _looks_base64(data):
            build_warnings.append(f"$FILE {name!r} holds decoded bytes; re-encoded as base64")
            return base64.encodebytes(data).replace(b"\n", _CRLF)
    elif cte == "quoted-printable":
        if any(b > 0x7E or (b < 0x20 and b not in (9, 10, 13)) for b in data) or any(
            len(ln) > 998 for ln in data.splitlines()
        ):
            build_warnings.append(f"$FILE {name!r} holds decoded bytes; re-encoded as quoted-printable")
            return quopri.encodestring(data).replace(b"\r\n", b"\n").replace(b"\n", _CRLF)
    return data


def _looks_base64(data: bytes) -> bool:
    if not _B64_TEXT_RE.match(data):
        return False
    compact = b"".join(data.split())
    try:
        base64.b64decode(compact + b"=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _ensure_blank_line(block: bytes) -> bytes:
    if block.endswith(b"\r\n\r\n") or block.endswith(b"\n\n"):
        return block
    if block.endswith(b"\n"):
        return block + _CRLF
    return block + _CRLF + _CRLF


def _assemble_raw(doc: NotesDocument, warnings: list[str]) -> tuple[bytes, list[str]] | None:
    parts: list[MimePart] = []
    for n, item in enumerate(_raw_items(doc, TYPE_MIME_PART, "Body"), 1):
        part = decode_mime_part(item.raw.data)  # type: ignore[union-attr]
        if part is None:
            warnings.append(f"Body item {n}: not a MIME_PART (only {len(item.raw.data)} bytes)")  # type: ignore[union-attr]
            continue
        warnings.extend(f"Body item {n}: {w}" for w in part.warnings)
        parts.append(part)
    if not parts:
        return None
    used: list[str] = []
    headers = _rfc822_headers(doc, warnings)
    out = bytearray()

    def body_of(part: MimePart, cte: str | None) -> bytes:
        if part.body_in_dbobject:
            return _object_body(part, cte, doc, warnings, used)
        return part.body

    first = parts[0]
    if first.headers and not first.boundary and first.part_type != MIME_PART_RETRIEVE_INFO:
        # The root entity: its Content-* headers join the message's header block.
        own = _header_names(first.headers) & _ENTITY_HEADERS
        for lname, line in headers:
            if lname in own:
                warnings.append(f"header {lname} is both an item and in the first MIME part; kept the part's")
                continue
            out += line
        out += _ensure_blank_line(first.headers)
        out += body_of(first, first.content_transfer_encoding)
        rest = parts[1:]
    else:
        for _lname, line in headers:
            out += line
        out += _CRLF
        rest = parts
        if first.boundary:
            warnings.append("first MIME part starts with a boundary; the root entity headers may be missing")

    for part in rest:
        if part.part_type == MIME_PART_RETRIEVE_INFO:
            warnings.append("skipped a MIME part of type retrieve-info")
            continue
        if part.boundary:
            if out and not out.endswith(b"\n") and not part.boundary.startswith((b"\r\n", b"\n")):
                out += _CRLF
            out += part.boundary
            if not part.boundary.endswith(b"\n"):
                out += _CRLF
        if part.headers:
            out += _ensure_blank_line(part.headers)
        elif part.boundary and part.part_type not in (MIME_PART_EPILOG,):
            if not part.body.startswith((b"\r\n", b"\n")) or part.body_in_dbobject:
                out += _CRLF  # a part without headers still needs the empty header block
        out += body_of(part, part.content_transfer_encoding)
    return bytes(out), used


def _mime_text_bytes(text: str) -> bytes:
    # The stream came out of XML as text.  Headers and encoded bodies are ASCII;
    # anything else (raw 8-bit headers, 8bit parts) is written back as UTF-8.
    text = text.lstrip("\r\n\t ")
    return text.encode("utf-8", "surrogateescape")


def assemble_message(doc: NotesDocument) -> MimeBuild | None:
    """Rebuild ``doc``'s MIME message; ``None`` when the document carries no MIME content."""
    warnings: list[str] = []
    try:
        if doc.mime is not None and doc.mime.text and doc.mime.text.strip():
            data = _mime_text_bytes(doc.mime.text)
            msg = _parse(data)
            _supplement_headers(msg, doc, warnings)
            return MimeBuild(msg, "mime", data, warnings)
        raw = _assemble_raw(doc, warnings)
        if raw is None:
            return None
        data, used = raw
        return MimeBuild(_parse(data), "raw", data, warnings, used)
    except Exception as exc:  # pragma: no cover - the email package is tolerant; belt and braces
        warnings.append(f"cannot build the MIME message: {exc!r}")
        return MimeBuild(EmailMessage(policy=policy.default), "raw", b"", warnings)


def _supplement_headers(msg: EmailMessage, doc: NotesDocument, warnings: list[str]) -> None:
    """Add top-level headers from RFC822 items that the ``<mime>`` stream lacks entirely."""
    if not _raw_items(doc, TYPE_RFC822_TEXT):
        return
    present = {k.lower() for k, _v in msg.raw_items()}
    extra: list[tuple[str, str]] = []
    for lname, line in _rfc822_headers(doc, []):
        if lname in present or lname in _ENTITY_HEADERS:
            continue
        name, _, value = line.decode("utf-8", "surrogateescape").partition(":")
        extra.append((name, value.strip()))
    for name, value in extra:
        try:
            msg[name] = value
        except Exception:
            warnings.append(f"header {name} from the items could not be added")
    if extra:
        warnings.append("added headers missing from <mime>: " + ", ".join(sorted({n for n, _ in extra})))


def build_message(doc: NotesDocument, warnings: list[str] | None = None) -> EmailMessage | None:
    """The document's MIME message (``<mime>`` or raw MIME items), or ``None`` if it has none.

    Problems met while rebuilding are appended to ``warnings`` when given.
    """
    built = assemble_message(doc)
    if built is None:
        return None
    if warnings is not None:
        warnings.extend(built.warnings)
    return built.message


# --------------------------------------------------------------------------- summary


class Address(NamedTuple):
    name: str
    email: str

    def __str__(self) -> str:
        return email.utils.formataddr((self.name, self.email)) if self.name else self.email


class MimeAttachment(NamedTuple):
    filename: str | None
    content_type: str
    content_id: str | None  # without angle brackets
    data: bytes
    inline: bool


@dataclass(slots=True)
class MessageSummary:
    subject: str | None = None
    from_: Address | None = None
    sender: Address | None = None
    reply_to: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    date: dt.datetime | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    html: str | None = None
    text: str | None = None
    attachments: list[MimeAttachment] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)  # every top-level header, raw, in order
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """JSON-ready summary: addresses as text, attachments with size and sha256 (no bytes)."""
        import hashlib

        def addrs(values: list[Address]) -> list[str]:
            return [str(a) for a in values]

        return {
            "subject": self.subject,
            "from": str(self.from_) if self.from_ else None,
            "sender": str(self.sender) if self.sender else None,
            "to": addrs(self.to),
            "cc": addrs(self.cc),
            "bcc": addrs(self.bcc),
            "reply_to": addrs(self.reply_to),
            "date": self.date.isoformat() if self.date else None,
            "message_id": self.message_id,
            "in_reply_to": self.in_reply_to,
            "references": self.references,
            "html": self.html,
            "text": self.text,
            "attachments": [
                {"filename": a.filename, "content_type": a.content_type, "content_id": a.content_id,
                 "inline": a.inline, "size": len(a.data), "sha256": hashlib.sha256(a.data).hexdigest()}
                for a in self.attachments
            ],
        }


def _raw_header(msg: Message, name: str) -> str | None:
    lname = name.lower()
    for k, v in msg.raw_items():
        if k.lower() == lname:
            return v if isinstance(v, str) else str(v)
    return None


def _decode_words(value: str) -> str:
    """Unfold and decode RFC 2047 encoded words; never raises."""
    value = re.sub(r"\r?\n[ \t]*", " ", value).strip()
    if "=?" not in value:
        return _unsurrogate(value)
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:
        return _unsurrogate(value)


def _unsurrogate(value: str) -> str:
    """Raw 8-bit header bytes come back from the parser as surrogates: read them as UTF-8."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogateescape")
        return _text(raw)


def _header_text(msg: Message, name: str, warnings: list[str]) -> str | None:
    raw = _raw_header(msg, name)
    if raw is None:
        return None
    try:
        value = msg.get(name)
        if value is not None:
            return _unsurrogate(str(value)).strip()
    except Exception as exc:
        warnings.append(f"header {name}: {exc!r}; used the raw value")
    return _decode_words(raw)


def _addresses(msg: Message, name: str, warnings: list[str]) -> list[Address]:
    values = [v for k, v in msg.raw_items() if k.lower() == name.lower()]
    if not values:
        return []
    out: list[Address] = []
    try:
        for header in msg.get_all(name) or []:
            for addr in getattr(header, "addresses", ()):
                out.append(Address(_unsurrogate(addr.display_name or ""), _unsurrogate(addr.addr_spec or "")))
        if out or not any(str(v).strip() for v in values):
            return [a for a in out if a.email or a.name]
    except Exception as exc:
        warnings.append(f"header {name}: {exc!r}; parsed the raw value")
        out = []
    try:
        for disp, addr in email.utils.getaddresses([_decode_words(str(v)) for v in values]):
            if disp or addr:
                out.append(Address(disp, addr))
    except Exception as exc:
        warnings.append(f"header {name}: cannot parse addresses ({exc!r})")
    return out


def _msg_ids(value: str | None) -> list[str]:
    if not value:
        return []
    ids = re.findall(r"<[^<>\s]+>", value)
    return ids or value.split()


def _part_text(part: Message, warnings: list[str], what: str) -> str | None:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except Exception as exc:  # unknown charset, bad encoding
        warnings.append(f"{what} body: {exc!r}; decoded leniently")
    try:
        payload = part.get_payload(decode=True)
    except Exception as exc:
        warnings.append(f"{what} body: cannot decode ({exc!r})")
        return None
    if payload is None:
        return None
    if not isinstance(payload, bytes):
        payload = str(payload).encode("utf-8", "surrogateescape")
    charset = None
    try:
        charset = part.get_content_charset()
    except Exception:
        pass
    for cs in filter(None, (charset, "utf-8")):
        try:
            return payload.decode(cs)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("cp1252", "replace")


def _part_bytes(part: Message, warnings: list[str]) -> bytes:
    try:
        if part.get_content_maintype() == "message":
            inner = part.get_payload()
            if isinstance(inner, list):
                inner = inner[0] if inner else None
            if isinstance(inner, Message):
                try:
                    return inner.as_bytes(policy=policy.default.clone(linesep="\r\n"))
                except Exception:
                    return inner.as_bytes()
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            return payload
        if payload is None:
            raw = part.get_payload()
            if isinstance(raw, str):
                return raw.encode("utf-8", "surrogateescape")
    except Exception as exc:
        warnings.append(f"attachment data: {exc!r}")
    return b""


def _safe(fn, default, warnings: list[str], what: str):
    try:
        return fn()
    except Exception as exc:
        warnings.append(f"{what}: {exc!r}")
        return default


def _leaves(part: Message, under_alternative: bool = False) -> Iterable[tuple[Message, bool]]:
    """Leaf parts in order (``message/*`` parts are leaves), with "inside multipart/alternative"."""
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        alt = under_alternative or part.get_content_subtype() == "alternative"
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    yield from _leaves(sub, alt)
        return
    yield part, under_alternative


def _filename(part: Message, warnings: list[str]) -> str | None:
    name = _safe(part.get_filename, None, warnings, "attachment filename")
    if name is None:
        name = _safe(lambda: part.get_param("name"), None, warnings, "attachment name")
        if isinstance(name, tuple):  # RFC 2231 triple
            name = email.utils.collapse_rfc2231_value(name)
    if name is None:
        return None
    return _decode_words(str(name)) or None


def message_parts(msg: Message | None, warnings: list[str] | None = None) -> MessageSummary:
    """Headers, bodies and attachments of ``msg``; never raises (problems go to ``warnings``)."""
    summary = MessageSummary()
    w = summary.warnings
    if warnings:
        w.extend(warnings)
    if msg is None:
        return summary
    try:
        _summarise(msg, summary, w)
    except Exception as exc:  # pragma: no cover - defensive
        w.append(f"cannot summarise the message: {exc!r}")
    return summary


def _summarise(msg: Message, s: MessageSummary, w: list[str]) -> None:
    s.headers = [(k, _unsurrogate(v if isinstance(v, str) else str(v))) for k, v in msg.raw_items()]
    s.subject = _header_text(msg, "Subject", w)
    froms = _addresses(msg, "From", w)
    s.from_ = froms[0] if froms else None
    senders = _addresses(msg, "Sender", w)
    s.sender = senders[0] if senders else None
    s.reply_to = _addresses(msg, "Reply-To", w)
    s.to = _addresses(msg, "To", w)
    s.cc = _addresses(msg, "Cc", w)
    s.bcc = _addresses(msg, "Bcc", w)
    raw_date = _raw_header(msg, "Date")
    if raw_date:
        try:
            s.date = email.utils.parsedate_to_datetime(_decode_words(raw_date))
        except Exception:
            w.append(f"header Date: cannot parse {raw_date.strip()!r}")
    mid = _msg_ids(_header_text(msg, "Message-ID", w))
    s.message_id = mid[0] if mid else None
    irt = _msg_ids(_header_text(msg, "In-Reply-To", w))
    s.in_reply_to = irt[0] if irt else None
    s.references = _msg_ids(_header_text(msg, "References", w))

    for defect in getattr(msg, "defects", ()):
        w.append(f"message: {type(defect).__name__}: {defect}")

    html_part = _safe(lambda: msg.get_body(("html",)), None, w, "html body")  # type: ignore[attr-defined]
    text_part = _safe(lambda: msg.get_body(("plain",)), None, w, "text body")  # type: ignore[attr-defined]
    if html_part is not None:
        s.html = _part_text(html_part, w, "html")
    if text_part is not None:
        s.text = _part_text(text_part, w, "text")

    n = 0
    for part, under_alt in _leaves(msg):
        n += 1
        if part is not msg:
            for defect in getattr(part, "defects", ()):
                w.append(f"part {n}: {type(defect).__name__}: {defect}")
        if part is html_part or part is text_part:
            continue
        ctype = _safe(part.get_content_type, "application/octet-stream", w, f"part {n} content type")
        disposition = _safe(part.get_content_disposition, None, w, f"part {n} disposition")
        filename = _filename(part, w)
        if (
            ctype in ("text/plain", "text/html")
            and disposition != "attachment"
            and filename is None
            and under_alt
        ):
            continue  # another rendering of the body
        if ctype.startswith("multipart/"):
            w.append(f"part {n}: empty or unparsable {ctype}")
            continue
        cid = _header_text(part, "Content-ID", w)
        if cid:
            cid = cid.strip().strip("<>").strip() or None
        inline = disposition == "inline" or (disposition is None and cid is not None)
        s.attachments.append(MimeAttachment(filename, ctype, cid, _part_bytes(part, w), inline))
