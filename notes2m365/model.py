"""Value objects produced by the DXL reader: documents, items, values, attachments.

Keys: a document's source key is ``"<replica_id>/<unid>"`` (replica id from the
DXL root or ``databaseinfo``, upper-case hex; ``"-"`` when the export carries
none).  The revision is the ``noteinfo/@sequence``.  Graph ids never appear here.

Nothing in this module does I/O, except :class:`Attachment`, which reads its
own spooled bytes back.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from sys import intern as _intern
from typing import IO, Any, Literal, Union

ValueType = Literal[
    "text",
    "textlist",
    "number",
    "numberlist",
    "datetime",
    "datetimelist",
    "richtext",
    "object",
    "rawitemdata",
    "itemdata",
    "formula",
    "empty",
]

#: Item flags as written by DXL (absent booleans take the DTD default "false").
ITEM_FLAGS = ("sign", "seal", "sealed", "summary", "names", "readers", "authors", "protected", "placeholder")


@dataclass(frozen=True, slots=True)
class NotesDateTime:
    """A Domino TIMEDATE as written in DXL (``19990713T060306,52+05``).

    ``kind`` says which parts are present.  ``value`` is a timezone-aware
    ``datetime`` when date, time and offset are present, a naive ``datetime``
    when the offset is missing, a ``date`` for date-only and a ``time`` for
    time-only values, ``None`` for an empty ``<datetime/>`` and for text that is
    not a valid TIMEDATE (``kind="invalid"``; the reader also records a warning).
    """

    raw: str
    kind: Literal["datetime", "date", "time", "empty", "invalid"]
    value: dt.datetime | dt.date | dt.time | None
    dst: bool = False

    def isoformat(self) -> str | None:
        """ISO 8601 text with the original offset (``2021-05-05T18:47:01.850000+00:00``)."""
        if self.value is None:
            return None
        return self.value.isoformat()


@dataclass(frozen=True, slots=True)
class NotesDateTimePair:
    """A ``<datetimepair>``: a range of two datetimes."""

    start: NotesDateTime
    end: NotesDateTime


@dataclass(frozen=True, slots=True)
class RawItemData:
    """A ``<rawitemdata>`` / ``<itemdata>`` value: Domino canonical bytes kept with their type.

    ``type_code`` is the TYPE_xxx value (DXL writes it in hex: ``'19'`` is 0x19).
    ``unids`` holds the decoded UNIDs of a NOTEREF_LIST (type 4), e.g. ``$REF``.
    """

    type_code: int
    data: bytes
    legacy: bool = False  # True for the deprecated <itemdata> (host format, Domino <= 6.5)
    unids: tuple[str, ...] = ()


@dataclass(slots=True)
class Attachment:
    """A file attached to a document (``$FILE`` item, ``<object><file>``).

    The decoded bytes live in a spooled temporary file (memory below the
    reader's threshold, disk above).  ``size`` and ``sha256`` are computed from
    the decoded bytes; ``declared_size`` is DXL's ``size`` attribute, when present.
    """

    name: str
    size: int
    sha256: str
    declared_size: int | None = None
    created: NotesDateTime | None = None
    modified: NotesDateTime | None = None
    hosttype: str = "unknown"
    compression: str = "none"
    flags: tuple[str, ...] = ()
    _spool: IO[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def is_ole_storage(self) -> bool:
        """OLE object storage (``bytearraypage``/``bytearrayext``), not a user attachment."""
        return self.hosttype in ("bytearraypage", "bytearrayext")

    def open(self) -> IO[bytes]:
        """A readable binary stream over the attachment's bytes, from the start."""
        if self._spool is None:
            return io.BytesIO(b"")
        self._spool.seek(0)
        return _NonClosing(self._spool)

    def read_bytes(self) -> bytes:
        with self.open() as stream:
            return stream.read()


class _NonClosing(io.RawIOBase):
    """A view over a spool that does not close the spool when it is closed."""

    def __init__(self, spool: IO[bytes]) -> None:
        super().__init__()
        self._spool = spool

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._spool.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        return self._spool.read(size)


@dataclass(slots=True)
class RichText:
    """A ``<richtext>`` value: the detached lxml element, rendered by :mod:`notes2m365.richtext`."""

    element: Any  # lxml.etree._Element; namespace-qualified or not, as in the file


ItemValue = Union[str, float, int, NotesDateTime, NotesDateTimePair]


@dataclass(slots=True)
class Item:
    """One ``<item>``: its name, value type, values and flags.

    ``values`` holds the scalar values for text/number/datetime types and
    formulas.  ``richtext``, ``attachment`` and ``raw`` hold the complex values.
    """

    name: str
    type: ValueType
    values: list[ItemValue] = field(default_factory=list)
    flags: frozenset[str] = frozenset()
    richtext: RichText | None = None
    attachment: Attachment | None = None
    raw: RawItemData | None = None

    @property
    def value(self) -> ItemValue | None:
        """The first value, or ``None``."""
        return self.values[0] if self.values else None

    def text(self, sep: str = ", ") -> str:
        """The values as text (datetimes in ISO 8601)."""
        values = self.values
        if len(values) == 1 and values[0].__class__ is str:  # the usual single text value
            return values[0]
        out = []
        for v in self.values:
            if isinstance(v, NotesDateTime):
                out.append(v.isoformat() or "")
            elif isinstance(v, NotesDateTimePair):
                out.append(f"{v.start.isoformat() or ''}/{v.end.isoformat() or ''}")
            elif isinstance(v, float) and v.is_integer():
                out.append(str(int(v)))
            else:
                out.append(str(v))
        return sep.join(out)


@dataclass(slots=True)
class MimeContent:
    """The ``<mime>`` element of a native MIME document (MIMEOption=DXL): the raw MIME stream."""

    text: str


@dataclass(slots=True)
class NotesDocument:
    """One Domino data note (``<document>`` or ``<note class='document'>``)."""

    file: str
    line: int
    unid: str | None
    noteid: str | None = None
    sequence: int | None = None
    replica_id: str | None = None
    form: str | None = None
    element: Literal["document", "note"] = "document"
    parent_unid: str | None = None
    response: bool = False
    conflict: bool = False
    created: NotesDateTime | None = None
    modified: NotesDateTime | None = None
    revised: NotesDateTime | None = None
    lastaccessed: NotesDateTime | None = None
    addedtofile: NotesDateTime | None = None
    updated_by: list[str] = field(default_factory=list)
    revisions: list[NotesDateTime] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    mime: MimeContent | None = None
    warnings: list[str] = field(default_factory=list)
    #: ``get``'s index (the items list it was built from, its length, lower-case name -> first item): planning
    #: asks a document for about twenty names; rebuilt when the list is replaced or grows or shrinks.
    _index: tuple[list[Item], int, dict[str, Item]] | None = field(default=None, init=False, repr=False,
                                                                    compare=False)

    @property
    def key(self) -> str:
        """The source key ``replica/unid``."""
        return f"{self.replica_id or '-'}/{self.unid or '-'}"

    def get(self, name: str) -> Item | None:
        """The first item called ``name`` (Notes item names are case-insensitive)."""
        items = self.items
        index = self._index
        if index is None or index[0] is not items or index[1] != len(items):
            names: dict[str, Item] = {}
            for item in items:
                names.setdefault(_intern(item.name.lower()), item)  # names recur: one copy each
            index = self._index = (items, len(items), names)
        return index[2].get(name.lower())

    def get_all(self, name: str) -> list[Item]:
        """Every item called ``name``, in file order (``$FILE``, ``Received`` repeat)."""
        lname = name.lower()
        return [item for item in self.items if item.name.lower() == lname]

    def text(self, name: str, default: str = "") -> str:
        item = self.get(name)
        return item.text() if item is not None else default

    @property
    def attachments(self) -> list[Attachment]:
        """Every decoded file attachment, OLE storage included, in file order."""
        return [i.attachment for i in self.items if i.attachment is not None]


@dataclass(frozen=True, slots=True)
class DocumentError:
    """A document (or the rest of a file) that could not be read; reading went on."""

    file: str
    line: int | None
    unid: str | None
    message: str
    noteid: str | None = None
    fatal: bool = False  # True when the file could not be read further (truncated, not XML)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "unid": self.unid,
            "noteid": self.noteid,
            "message": self.message,
            "fatal": self.fatal,
        }

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        doc = f" document {self.unid}" if self.unid else ""
        return f"{where}:{doc} {self.message}".replace(": ", ": ", 1)
