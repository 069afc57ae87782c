"""Attachment bytes lifted out of the DXL stream before lxml sees them.

``$FILE`` attachments arrive as base64 text inside ``<filedata>``.  Parsed
normally, a 150 MB attachment becomes a 200 MB text node held twice (libxml2's
and Python's copy).  :class:`DivertingReader` is the file object handed to
``lxml.etree.iterparse``: it copies the XML through unchanged, except that the
content of every ``<filedata>`` element is decoded incrementally (SIMD base64,
sha256 as it goes) into a spooled temporary file and replaced in the stream by
a short token (``n2m-spool-17``) followed by as many newlines as the base64
had, so that lxml's line numbers stay those of the original file.

The scanner skips comments and CDATA sections (a ``<filedata>`` written inside
a CDATA MIME body is text, not an attachment).  Base64 cannot contain ``<``,
so the content ends at the first ``</``.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import tempfile
from dataclasses import dataclass, field
from typing import IO

import pybase64

TOKEN_PREFIX = "n2m-spool-"
_PREFIX_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,40}:)?")
_AFTER_RE = re.compile(rb"\s{0,16}>")
_WS = b" \t\r\n"
_READ_SIZE = 1 << 20
_TAIL = 80  # bytes kept back so that a start tag split across reads is still found


@dataclass(slots=True)
class Spool:
    """The decoded bytes of one ``<filedata>``."""

    id: int
    file: IO[bytes]
    size: int = 0
    sha256: str = ""
    error: str | None = None
    _hash: "hashlib._Hash" = field(default_factory=hashlib.sha256, repr=False)
    _carry: bytes = b""

    def feed(self, data: bytes) -> None:
        """Decode base64 text from which the white space has been removed."""
        if self.error is not None:
            return
        view = memoryview(data)
        if self._carry:  # complete the pending quartet on its own: no copy of the whole chunk
            need = 4 - len(self._carry)
            head = self._carry + bytes(view[:need])
            view = view[need:]
            if len(head) < 4:
                self._carry = head
                return
            self._carry = b""
            self._decode(head)
        cut = len(view) - len(view) % 4
        self._carry = bytes(view[cut:])
        if cut:
            self._decode(view[:cut])

    def _decode(self, data: bytes | memoryview) -> None:
        try:
            decoded = pybase64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            self.error = f"invalid base64 in attachment data ({exc})"
            return
        self.file.write(decoded)
        self._hash.update(decoded)
        self.size += len(decoded)

    def finish(self) -> None:
        if self.error is None and self._carry:
            # Unpadded tail: pad it; more than 2 missing characters is corrupt data.
            missing = -len(self._carry) % 4
            if missing == 3:
                self.error = "invalid base64 in attachment data (truncated)"
            else:
                self._decode(self._carry + b"=" * missing)
        self._carry = b""
        self.sha256 = self._hash.hexdigest()
        self.file.seek(0)

    def close(self) -> None:
        self.file.close()


def _next_start(buf: bytes, pos: int) -> tuple[int, int] | None:
    """End of the next ``<filedata>`` start tag, ``<![CDATA[`` or ``<!--`` in ``buf[pos:]``, and the
    state it opens (1 filedata, 2 CDATA, 3 comment); ``None`` when there is none.

    Plain ``bytes.find`` calls (memchr speed) rather than one regular expression, which
    would backtrack over every tag name looking for a namespace prefix.
    """
    fd = buf.find(b"filedata", pos)
    fd_end = lt = -1
    while fd >= 0:
        lt = buf.rfind(b"<", max(pos, fd - 44), fd)
        if lt >= 0:
            m = _PREFIX_RE.match(buf, lt, fd)
            if m is not None and m.end() == fd:
                a = _AFTER_RE.match(buf, fd + 8)
                if a is not None:
                    fd_end = a.end()
                    break
        fd = buf.find(b"filedata", fd + 8)
    limit = lt if fd >= 0 else len(buf)
    bang = buf.find(b"<!", pos, limit)
    while bang >= 0:
        if buf.startswith(b"<![CDATA[", bang):
            return bang + 9, 2
        if buf.startswith(b"<!--", bang):
            return bang + 4, 3
        bang = buf.find(b"<!", bang + 2, limit)
    if fd >= 0:
        return fd_end, 1
    return None


class DivertingReader:
    """A binary file object for ``iterparse`` that diverts ``<filedata>`` content into spools."""

    def __init__(self, raw: IO[bytes], *, spool_threshold: int = 1 << 20, spool_dir: str | None = None) -> None:
        self._raw = raw
        self._threshold = spool_threshold
        self._spool_dir = spool_dir
        self._pending = b""  # raw bytes not yet scanned
        self._out = bytearray()  # scanned bytes ready for lxml
        self._eof = False
        self._state = 0  # 0 XML, 1 filedata, 2 CDATA, 3 comment
        self._spool: Spool | None = None
        self._newlines = 0
        self._next_id = 0
        self.spools: dict[int, Spool] = {}
        self.bytes_read = 0

    # -- file protocol -------------------------------------------------------
    def read(self, size: int = -1) -> bytes:
        want = size if size and size > 0 else _READ_SIZE
        while len(self._out) < want and not (self._eof and not self._pending):
            self._fill()
        chunk = bytes(self._out[:want])
        del self._out[:want]
        return chunk

    def close(self) -> None:
        self._raw.close()

    # -- spools --------------------------------------------------------------
    def take(self, token: str) -> Spool | None:
        """Claim the spool named by a ``<filedata>`` token (``None`` when unknown)."""
        token = token.strip()
        if not token.startswith(TOKEN_PREFIX):
            return None
        try:
            return self.spools.pop(int(token[len(TOKEN_PREFIX):]))
        except (ValueError, KeyError):
            return None

    def spool_text(self, text: str) -> Spool:
        """Decode base64 that reached lxml as text (inputs the byte scanner cannot see)."""
        spool_file = tempfile.SpooledTemporaryFile(max_size=self._threshold, dir=self._spool_dir, prefix="n2m-")
        spool = Spool(-1, spool_file)  # standalone: the scanner may have a spool of its own open
        data = text.encode("ascii", "replace")
        spool.feed(data.translate(None, _WS))
        spool.finish()
        return spool

    def discard_through(self, spool_id: int) -> None:
        """Close spools up to ``spool_id`` that nobody claimed (design notes, failed documents)."""
        for key in [k for k in self.spools if k <= spool_id]:
            self.spools.pop(key).close()

    def discard_all(self) -> None:
        self.discard_through(self._next_id)
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    # -- scanning ------------------------------------------------------------
    def _fill(self) -> None:
        if not self._eof:
            data = self._raw.read(_READ_SIZE)
            self.bytes_read += len(data)
            if data:
                self._pending = self._pending + data if self._pending else data
            else:
                self._eof = True
        buf = self._pending
        pos = 0
        final = self._eof
        n = len(buf)
        while True:
            if self._state == 0:
                hit = _next_start(buf, pos)
                if hit is None:
                    keep = 0 if final else min(_TAIL, n - pos)
                    self._out += buf[pos : n - keep]
                    pos = n - keep
                    break
                end, state = hit
                self._out += buf[pos:end]
                pos = end
                self._state = state
                if state == 1:
                    self._open_spool()
            elif self._state == 1:
                # base64 holds no '<': the content ends at the first one (memchr is fast)
                end = buf.find(b"<", pos)
                if end >= 0 and end + 1 == n:
                    end = -1  # a lone '<' at the end: kept back until the next read
                elif end >= 0 and buf[end + 1] != 0x2F:  # not '</' (corrupt data): the first '</'
                    end = buf.find(b"</", end)
                if end < 0:
                    stop = n if final or not buf.endswith(b"<") else n - 1
                    self._feed_spool(buf[pos:stop])
                    pos = stop
                    if final:
                        self._close_spool()
                        self._state = 0
                    break
                self._feed_spool(buf[pos:end])
                pos = end
                self._close_spool()
                self._state = 0
            else:
                closer = b"]]>" if self._state == 2 else b"-->"
                end = buf.find(closer, pos)
                if end < 0:
                    keep = 0 if final else min(len(closer) - 1, n - pos)
                    self._out += buf[pos : n - keep]
                    pos = n - keep
                    break
                self._out += buf[pos : end + len(closer)]
                pos = end + len(closer)
                self._state = 0
        self._pending = buf[pos:]
        if final and self._pending and self._state != 1:
            self._out += self._pending
            self._pending = b""

    def _open_spool(self) -> None:
        spool_file = tempfile.SpooledTemporaryFile(max_size=self._threshold, dir=self._spool_dir, prefix="n2m-")
        self._spool = Spool(self._next_id, spool_file)
        self._newlines = 0
        self._next_id += 1

    def _feed_spool(self, text: bytes) -> None:
        if text and self._spool is not None:
            stripped = text.replace(b"\n", b"")
            self._newlines += len(text) - len(stripped)
            if b"\r" in stripped or b" " in stripped or b"\t" in stripped:
                stripped = stripped.translate(None, _WS)
            self._spool.feed(stripped)

    def _close_spool(self) -> None:
        spool = self._spool
        if spool is None:
            return
        spool.finish()
        self.spools[spool.id] = spool
        self._out += f"{TOKEN_PREFIX}{spool.id}".encode() + b"\n" * self._newlines
        self._spool = None
