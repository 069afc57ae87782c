#!/usr/bin/env python3
"""Regenerate the synthetic DXL samples in samples/ (deterministic, stdlib only).

Every name, address and text is invented (fictional organisation "Acme").

The writer reproduces the layout of Domino's DXL exporter: single-quoted
attributes (``'`` escaped as ``&apos;``), no indentation, and line breaks put
*inside* start tags once the current line is longer than 72 characters -- before
the next attribute (``\\n attr='..'``) or, for a tag without attributes, before
its ``>`` / ``/>``.  This rule reproduces the published Domino 11/12/14 exports we
compared it with byte for byte.  Base64 payloads are wrapped at 76 columns.

Structural newlines (between notes, items, paragraphs, table rows ...) are
explicit ``"\\n"`` text children, placed where Domino places them.

Run from anywhere:

    python samples/tools/make_samples.py          # (re)write the files
    python samples/tools/make_samples.py --check  # exit 1 if a file differs
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import struct
import sys
import zlib
from pathlib import Path

# =========================================================================== DXL writer and helpers

# --------------------------------------------------------------------------- tree


class CData(str):
    """Character data written as a CDATA section (used for <mime>)."""


class E:
    """An element: tag, ordered attributes (None values dropped), children."""

    __slots__ = ("tag", "attrs", "children")

    def __init__(self, tag: str, attrs: dict | None = None, *children):
        self.tag = tag
        self.attrs = [(k, str(v)) for k, v in (attrs or {}).items() if v is not None]
        self.children: list = []
        self.add(*children)

    def add(self, *children):
        for c in children:
            if c is None or c == "":
                continue
            if isinstance(c, (list, tuple)):
                self.add(*c)
            else:
                self.children.append(c)
        return self


def _esc_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _esc_attr(s: str) -> str:
    return _esc_text(s).replace("'", "&apos;")


class Writer:
    WRAP = 72

    def __init__(self):
        self.parts: list[str] = []
        self.col = 0

    def put(self, s: str):
        self.parts.append(s)
        i = s.rfind("\n")
        self.col = len(s) - i - 1 if i >= 0 else self.col + len(s)

    def node(self, n):
        if isinstance(n, CData):
            self.put("<![CDATA[" + str(n) + "]]>")
        elif isinstance(n, str):
            self.put(_esc_text(n))
        else:
            self.element(n)

    def element(self, el: E):
        self.put("<" + el.tag)
        for k, v in el.attrs:
            self.put("\n " if self.col > self.WRAP else " ")
            self.put(f"{k}='{_esc_attr(v)}'")
        if not el.children:
            if self.col > self.WRAP and not el.attrs:
                self.put("\n")
            self.put("/>")
            return
        if self.col > self.WRAP and not el.attrs:
            self.put("\n")
        self.put(">")
        for c in el.children:
            self.node(c)
        self.put(f"</{el.tag}>")

    def text(self) -> str:
        return "".join(self.parts)


def serialize(root: E, doctype: str | None = "database", dtd: str = "xmlschemas/domino_12_0.dtd") -> bytes:
    w = Writer()
    w.put("<?xml version='1.0' encoding='utf-8'?>\n")
    if doctype:
        w.put(f"<!DOCTYPE {doctype} SYSTEM '{dtd}'>\n")
    w.element(root)
    w.put("\n")
    return w.text().encode("utf-8")


def joined(items, sep="\n"):
    """Children separated by ``sep`` (Domino puts most siblings on new lines)."""
    out = []
    for i, it in enumerate(x for x in items if x is not None):
        if i:
            out.append(sep)
        out.append(it)
    return out


def b64(data: bytes) -> str:
    """Base64 wrapped at 76 columns, with a leading and trailing newline."""
    s = base64.b64encode(data).decode("ascii")
    return "\n" + "\n".join(s[i : i + 76] for i in range(0, len(s), 76)) + "\n"


# --------------------------------------------------------------------------- ids


def hexhash(label: str, n: int = 16) -> str:
    return hashlib.sha256(label.encode("utf-8")).hexdigest()[:n].upper()


def pseudo_bytes(label: str, size: int) -> bytes:
    out = b""
    i = 0
    while len(out) < size:
        out += hashlib.sha256(f"{label}/{i}".encode()).digest()
        i += 1
    return out[:size]


def noteref_list(*unids: str) -> bytes:
    """A TYPE_NOTEREF_LIST value ($REF, $TUA ...) in canonical format, without the type word."""
    data = struct.pack("<H", len(unids))
    for u in unids:
        a, b, c, d = (int(u[i : i + 8], 16) for i in (0, 8, 16, 24))
        data += struct.pack("<IIII", b, a, d, c)
    return data


# --------------------------------------------------------------------------- time


def _last_sunday(year: int, month: int) -> dt.date:
    d = dt.date(year, month + 1, 1) - dt.timedelta(days=1) if month < 12 else dt.date(year, 12, 31)
    return d - dt.timedelta(days=(d.weekday() + 1) % 7)


class Zone:
    def __init__(self, name: str, std_minutes: int, eu_dst: bool, notes: str):
        self.name = name
        self.std = std_minutes
        self.eu_dst = eu_dst
        self.notes = notes  # Notes time zone string (StartTimeZone ...)

    def offset(self, local: dt.datetime) -> tuple[int, bool]:
        if self.eu_dst:
            start = dt.datetime.combine(_last_sunday(local.year, 3), dt.time(2))
            end = dt.datetime.combine(_last_sunday(local.year, 10), dt.time(3))
            if start <= local < end:
                return self.std + 60, True
        return self.std, False


CET = Zone("W. Europe", 60, True, "Z=-1$DO=1$DL=3 -1 1 10 -1 1$ZX=96$ZN=W. Europe")
IST = Zone("India", 330, False, "Z=-5005$DO=0$ZX=58$ZN=India")
UTC = Zone("UTC", 0, False, "Z=0$DO=0$ZX=25$ZN=UTC")


class Stamp:
    """A local wall-clock time in a zone, rendered the way DXL writes TIMEDATEs."""

    def __init__(self, zone: Zone, text: str):
        # text: 'YYYY-MM-DD HH:MM:SS.cc' (seconds/hundredths optional)
        date_s, _, time_s = text.partition(" ")
        cs = 0
        if "." in time_s:
            time_s, cs_s = time_s.split(".")
            cs = int(cs_s)
        parts = [int(p) for p in (time_s or "0:0").split(":")] + [0, 0]
        self.zone = zone
        self.local = dt.datetime.combine(dt.date.fromisoformat(date_s), dt.time(parts[0], parts[1], parts[2]))
        self.cs = cs
        self.minutes, self.dst = zone.offset(self.local)

    def plus(self, seconds: float = 0, days: int = 0) -> "Stamp":
        total_cs = self.cs + round(seconds * 100)
        base = self.local + dt.timedelta(days=days, seconds=total_cs // 100)
        return Stamp(self.zone, base.strftime("%Y-%m-%d %H:%M:%S") + f".{total_cs % 100:02d}")

    @property
    def utc(self) -> dt.datetime:
        return (self.local - dt.timedelta(minutes=self.minutes)).replace(tzinfo=dt.timezone.utc)

    def offset_text(self) -> str:
        sign = "+" if self.minutes >= 0 else "-"
        h, m = divmod(abs(self.minutes), 60)
        return f"{sign}{h:02d}{m:02d}" if m else f"{sign}{h:02d}"

    def dxl(self) -> str:
        return self.local.strftime("%Y%m%dT%H%M%S") + f",{self.cs:02d}" + self.offset_text()

    def date_text(self) -> str:
        return self.local.strftime("%Y%m%d")

    def time_text(self) -> str:
        return self.local.strftime("T%H%M%S") + f",{self.cs:02d}"

    def rfc822(self) -> str:
        sign = "+" if self.minutes >= 0 else "-"
        h, m = divmod(abs(self.minutes), 60)
        return f"{self.local:%a}, {self.local.day} {self.local:%b %Y %H:%M:%S} {sign}{h:02d}{m:02d}"

    def timedate_hex(self) -> str:
        """The 8-byte TIMEDATE as Domino prints it in replica ids / UNIDs (Innards[1], Innards[0])."""
        u = self.utc
        ticks = ((u.hour * 60 + u.minute) * 60 + u.second) * 100 + self.cs
        julian = u.date().toordinal() + 1721425
        east = self.zone.std >= 0
        hours, rest = divmod(abs(self.zone.std), 60)
        quarters = rest // 15
        hi = (0x80000000 if self.zone.eu_dst else 0) | (0x40000000 if east and self.zone.std else 0)
        hi |= (quarters << 28) | (hours << 24) | julian
        return f"{hi:08X}{ticks:08X}"


def unid(label: str, created: Stamp) -> str:
    """32 upper-case hex: a pseudo-random 'file' half and the creation TIMEDATE."""
    return hexhash("unid:" + label) + created.timedate_hex()


def dtm(s: Stamp) -> E:
    return E("datetime", {"dst": "true" if s.dst else None}, s.dxl())


def dtm_date(s: Stamp) -> E:
    return E("datetime", {}, s.date_text())


def dtm_time(s: Stamp) -> E:
    return E("datetime", {}, s.time_text())


# --------------------------------------------------------------------------- notes


def noteinfo(noteid: int, unid_: str, seq: int, created: Stamp, modified: Stamp,
             revised: Stamp | None = None, accessed: Stamp | None = None, added: Stamp | None = None) -> E:
    revised = revised or modified.plus(-0.01)
    accessed = accessed or revised
    added = added or created.plus(0.09)
    return E("noteinfo", {"noteid": f"{noteid:x}", "unid": unid_, "sequence": seq},
             "\n", E("created", {}, dtm(created)),
             "\n", E("modified", {}, dtm(modified)),
             "\n", E("revised", {}, dtm(revised)),
             "\n", E("lastaccessed", {}, dtm(accessed)),
             "\n", E("addedtofile", {}, dtm(added)))


def updatedby(*names: str) -> E:
    return E("updatedby", {}, [E("name", {}, n) for n in names])


def revisions(*stamps: Stamp) -> E | None:
    return E("revisions", {}, [dtm(s) for s in stamps]) if stamps else None


def note_body(info: E, upd: E | None, revs: E | None, items: list, extra_prolog: list | None = None):
    parts = ["\n", info]
    for p in [upd, revs, *(extra_prolog or [])]:
        if p is not None:
            parts += ["\n", p]
    if items:
        parts.append("\n")
        parts += joined(items)
    return parts


def document(form: str, info: E, upd: E, revs: E | None, items: list, *, parent: str | None = None,
             textprops: E | None = None, mime: str | None = None) -> E:
    attrs = {"form": form}
    if parent:
        attrs.update(parent=parent, response="true")
    extra = []
    if textprops is not None:
        extra.append(textprops)
    if mime is not None:
        extra.append(E("mime", {}, CData(mime)))
    return E("document", attrs, note_body(info, upd, revs, items, extra))


def database(attrs: dict, dbinfo: E, notes: list) -> E:
    root = E("database", {"xmlns": "http://www.lotus.com/dxl", **attrs})
    root.add("\n", dbinfo, "\n")
    root.add(joined(notes, "\n\n"))
    root.add("\n")
    return root


def databaseinfo(dbid: str, ndocs: int, diskspace: int, pct: str, datamod: Stamp, designmod: Stamp) -> E:
    return E("databaseinfo", {"dbid": dbid, "odsversion": "55", "diskspace": diskspace, "percentused": pct,
                              "numberofdocuments": ndocs},
             E("datamodified", {}, dtm(datamod)), E("designmodified", {}, dtm(designmod)))


# --------------------------------------------------------------------------- items


def item(name: str, value: E, *, summary: bool | None = None, sign=False, seal=False, authors=False,
         names=False, readers=False, protected=False) -> E:
    attrs = {"name": name}
    if summary is not None:
        attrs["summary"] = "true" if summary else "false"
    for flag, on in (("sign", sign), ("seal", seal), ("authors", authors), ("names", names),
                     ("readers", readers), ("protected", protected)):
        if on:
            attrs[flag] = "true"
    return E("item", attrs, value)


def text(value: str) -> E:
    """<text>; newlines become <break/>, a '\\x1b' style control char becomes <nonxmlchar>."""
    el = E("text")
    for i, line in enumerate(value.split("\n")):
        if i:
            el.add(E("break"))
        chunk = ""
        for ch in line:
            if ord(ch) < 0x20 and ch != "\t":
                el.add(chunk, E("nonxmlchar", {"value": f"{ord(ch):x}"}))
                chunk = ""
            else:
                chunk += ch
        el.add(chunk)
    return el


def textlist(*values: str) -> E:
    return E("textlist", {}, [text(v) for v in values])


def number(v) -> E:
    return E("number", {}, f"{v:g}" if isinstance(v, float) else str(v))


def numberlist(*vs) -> E:
    return E("numberlist", {}, [number(v) for v in vs])


def datetimelist(*els: E) -> E:
    return E("datetimelist", {}, list(els))


def t_item(name, value, **kw):
    return item(name, text(value), **kw)


def tl_item(name, *values, **kw):
    return item(name, textlist(*values), **kw)


def raw_item(name: str, type_hex: str, data: bytes, summary: bool | None = True) -> E:
    attrs = {"name": name, "summary": None if summary is None else ("true" if summary else "false")}
    return E("item", attrs, "\n", E("rawitemdata", {"type": type_hex}, b64(data)))


def ref_item(name: str, *unids: str) -> E:
    return raw_item(name, "4", noteref_list(*unids))


def file_item(name: str, data: bytes, created: Stamp, modified: Stamp, *, hosttype="msdos",
              desiredcompression: str | None = None, with_size=True) -> E:
    f = E("file", {"hosttype": hosttype, "compression": "none", "desiredcompression": desiredcompression,
                   "flags": "storedindoc", "encoding": "none", "name": name,
                   "size": len(data) if with_size else None},
          "\n", E("created", {}, dtm(created)),
          "\n", E("modified", {}, dtm(modified)),
          E("filedata", {}, b64(data)))
    return item("$FILE", E("object", {}, f), summary=True, sign=True, seal=True)


# --------------------------------------------------------------------------- rich text


def rt(*blocks) -> E:
    el = E("richtext")
    for b in blocks:
        if b is None:
            continue
        if isinstance(b, (list, tuple)):
            for x in b:
                el.add("\n", x)
        else:
            el.add("\n", b)
    return el


def pardef(id_, **attrs) -> E:
    order = ["align", "leftmargin", "rightmargin", "firstlineleftmargin", "linespacing", "spacebefore",
             "spaceafter", "list", "tabs", "hide", "newpage", "keepwithnext", "keeptogether"]
    a = {"id": id_}
    for k in order:
        if k in attrs:
            a[k] = attrs.pop(k)
    assert not attrs, attrs
    return E("pardef", a)


def par(def_=None, *content) -> E:
    return E("par", {"def": def_}, *content)


def font(size=None, style=None, name=None, color=None, pitch=None, truetype=None, familyid=None) -> E:
    return E("font", {"size": size, "style": style, "name": name, "pitch": pitch, "truetype": truetype,
                      "familyid": familyid, "color": color})


def run(fnt: E | None, *content, highlight=None) -> E:
    return E("run", {"highlight": highlight}, fnt, *content)


def br() -> E:
    return E("break")


def table(attrs: dict, widths: list[str], rows: list) -> E:
    t = E("table", attrs, [E("tablecolumn", {"width": w}) for w in widths])
    for r in rows:
        t.add("\n", r)
    return t


def tablerow(*cells, **attrs) -> E:
    r = E("tablerow", attrs or None)
    for c in cells:
        r.add("\n", c)
    return r


def tablecell(attrs: dict | None, *blocks) -> E:
    c = E("tablecell", attrs)
    for b in blocks:
        c.add("\n", b)
    return c


def picture(fmt: str, data: bytes, *, width: int, height: int, attrs_first="width", **extra) -> E:
    a = {"width": f"{width}px", "height": f"{height}px"} if attrs_first == "width" else \
        {"height": f"{height}px", "width": f"{width}px"}
    a.update(extra)
    img_attrs = {"originalformat": "notesbitmap"} if fmt == "gif-from-bitmap" else {}
    tag = "gif" if fmt == "gif-from-bitmap" else fmt
    return E("picture", a, E(tag, img_attrs, b64(data)))


# --------------------------------------------------------------------------- binary payloads


def png(width: int, height: int, pixel) -> bytes:
    """An RGB PNG; pixel(x, y) -> (r, g, b)."""
    raw = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def gif(width: int, height: int, palette: list[tuple[int, int, int]], index) -> bytes:
    """A GIF89a with a 16-colour table; LZW stream with a clear code every 14 codes (never grows)."""
    bits = 4
    pal = list(palette) + [(0, 0, 0)] * ((1 << bits) - len(palette))
    min_code = bits
    clear, eoi = 1 << min_code, (1 << min_code) + 1
    width_bits = min_code + 1
    codes = []
    pixels = [index(x, y) for y in range(height) for x in range(width)]
    per_clear = (1 << min_code) - 2
    for i in range(0, len(pixels), per_clear):
        codes.append(clear)
        codes.extend(pixels[i : i + per_clear])
    codes.append(eoi)
    acc = nbits = 0
    out = bytearray()
    for c in codes:
        acc |= c << nbits
        nbits += width_bits
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 0xFF)
    blocks = b"".join(bytes([len(out[i : i + 255])]) + bytes(out[i : i + 255]) for i in range(0, len(out), 255))
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80 | (bits - 1), 0, 0)
    table_ = b"".join(bytes(c) for c in pal)
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + bytes([min_code]) + blocks + b"\x00"
    return header + table_ + image + b"\x3b"


def pdf(title: str, lines: list[str]) -> bytes:
    """A small, valid single-page PDF 1.4 (Helvetica text)."""
    content = ["BT /F1 18 Tf 72 760 Td (" + title + ") Tj ET"]
    y = 730
    for ln in lines:
        content.append(f"BT /F1 11 Tf 72 {y} Td ({ln}) Tj ET")
        y -= 16
    stream = "\n".join(content).encode("latin-1")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title (" + title.encode("latin-1") + b") /Producer (Acme Reports) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def notesbitmap(label: str, size: int = 420) -> bytes:
    """Opaque stand-in for a CD-record bitmap (readers treat <notesbitmap> as a placeholder)."""
    return b"\x95\x00" + struct.pack("<H", size) + pseudo_bytes("bitmap:" + label, size - 4)


# =========================================================================== sample content


SAMPLES = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------- people

JANE = "CN=Jane Doe/OU=Sales/O=Acme"
JOHN = "CN=John Smith/O=Acme"
MARIA = "CN=Maria Garcia/OU=Marketing/O=Acme"
PETER = "CN=Peter Miller/OU=Engineering/O=Acme"
RAVI = "CN=Ravi Kumar/OU=Bangalore/O=Acme"
MAILSRV = "CN=mail01/OU=Servers/O=Acme"
APPSRV = "CN=apps01/OU=Servers/O=Acme"
ADMIN = "CN=Acme Admin/O=Acme"
ANNA_INET = "anna.schmidt@partner.example"
INET = {JANE: "jane.doe@acme.example", JOHN: "john.smith@acme.example", MARIA: "maria.garcia@acme.example",
        PETER: "peter.miller@acme.example", RAVI: "ravi.kumar@acme.example"}


def abbr(name: str) -> str:
    return "/".join(p.split("=", 1)[-1] for p in name.split("/"))


def cn(name: str) -> str:
    return name.split("/")[0].split("=", 1)[-1]


def names_item(name: str, *values: str, **kw) -> E:
    value = text(values[0]) if len(values) == 1 else textlist(*values)
    return item(name, value, names=True, **kw)


# --------------------------------------------------------------------------- rich text shorthands


def fa(size="10pt", style=None, color=None, name="Arial"):
    """Arial run font as the Notes client stores it."""
    if name == "Arial":
        return font(size=size, style=style, name="Arial", pitch="variable", truetype="true", familyid="20",
                    color=color)
    if name == "Courier New":
        return font(size=size, style=style, name="Courier New", pitch="fixed", truetype="true", familyid="30",
                    color=color)
    return font(size=size, style=style, name=name, color=color)


def r(txt="", **kw):
    hl = kw.pop("highlight", None)
    return run(fa(**kw), txt, highlight=hl)


def doclink(doc: str, view: str, db: str, description: str, *content, server: str | None = None):
    attrs = {"showborder": "false"} if content else {}
    attrs.update(document=doc, view=view, database=db, server=server, description=description)
    return E("doclink", attrs, *content)


def urllink(href: str, label: str, size="10pt"):
    return E("urllink", {"showborder": "false", "href": href}, run(fa(size=size, color="blue", style="underline"),
                                                                       label))


def attachmentref(name: str, icon: bytes, *, gif_icon=True):
    pic = picture("gif-from-bitmap" if gif_icon else "notesbitmap", icon, width=64, height=36,
                  attrs_first="height")
    return E("attachmentref", {"name": name, "displayname": name}, pic)


def std_cell(attrs, pdid, *content, new_pardef=None):
    blocks = []
    if new_pardef is not None:
        blocks.append(new_pardef)
    blocks.append(par(pdid, *content))
    return tablecell(attrs, *blocks)


# --------------------------------------------------------------------------- binary payloads


def bar_chart_png() -> bytes:
    bars = [(18, 40, (31, 78, 121)), (52, 62, (46, 117, 182)), (86, 30, (157, 195, 230)), (120, 75, (255, 192, 0))]

    def px(x, y):
        for x0, h, colour in bars:
            if x0 <= x < x0 + 24 and 82 - h <= y < 82:
                return colour
        if y == 82 and 8 <= x < 152:
            return (64, 64, 64)
        return (255, 255, 255)

    return png(160, 90, px)


def logo_gif() -> bytes:
    pal = [(255, 255, 255), (0, 82, 147), (255, 153, 0), (200, 200, 200)]

    def idx(x, y):
        if 2 <= y <= 29 and 2 <= x <= 29:
            return 1 if (x - 2) + (29 - y) < 40 else 2
        if 36 <= x <= 92 and 10 <= y <= 21:
            return 1 if (x // 6) % 2 == 0 else 3
        return 0

    return gif(96, 32, pal, idx)


def attachment_icon() -> bytes:
    pal = [(255, 255, 255), (96, 96, 96), (0, 0, 0), (0, 90, 170)]

    def idx(x, y):
        if 20 <= x <= 43 and 1 <= y <= 24:
            if x in (20, 43) or y in (1, 24):
                return 2
            return 3 if 24 <= x <= 39 and y % 4 == 0 and y > 4 else 0
        if 4 <= x <= 59 and 28 <= y <= 32:
            return 1 if (x // 3) % 3 else 0
        return 0

    return gif(64, 36, pal, idx)


def architecture_png() -> bytes:
    boxes = [(10, 20, 70, 50, (221, 235, 247)), (90, 20, 150, 50, (226, 239, 218)),
             (170, 20, 230, 50, (255, 242, 204)), (90, 90, 150, 120, (252, 228, 214))]

    def px(x, y):
        for x0, y0, x1, y1, colour in boxes:
            if x0 <= x <= x1 and y0 <= y <= y1:
                return (40, 40, 40) if x in (x0, x1) or y in (y0, y1) else colour
        if y == 35 and (70 < x < 90 or 150 < x < 170):
            return (40, 40, 40)
        if x == 120 and 50 < y < 90:
            return (40, 40, 40)
        return (255, 255, 255)

    return png(240, 140, px)


REPORT_PDF = pdf("Project Alpha - Status Report Q1/2024", [
    "Prepared by Maria Garcia, Marketing",
    "1. Kick-off held on 18 March 2024 with 14 participants.",
    "2. Requirements workshop scheduled for 9 April 2024.",
    "3. Budget: 38% committed, no deviations.",
    "Acme Corporation - internal use only",
])
MINUTES_TXT = ("Protokoll Kick-off Projekt Alpha\r\n"
               "Datum: 18.03.2024, 10:00-12:00, Raum Matterhorn\r\n"
               "Teilnehmer: J. Smith, J. Doe, M. García, P. Miller\r\n"
               "\r\n"
               "1. Ziele und Umfang bestätigt.\r\n"
               "2. Nächster Termin: Anforderungs-Workshop am 09.04.2024.\r\n"
               "3. Offene Punkte: Lizenzkosten, Schnittstelle zum Lager (Müller AG).\r\n").encode("utf-8")
SPEC_PDF = pdf("Alpha Requirements Specification v1.2", [
    "Owner: Maria Garcia",
    "Scope: CRM integration for EMEA sales",
    "Status: approved for design",
])
GLOSSARY_CSV = ("term;definition\r\nLead;A qualified sales contact\r\nOpportunity;A lead with a forecast value\r\n"
                "Pipeline;All open opportunities\r\n").encode("utf-8")

# --------------------------------------------------------------------------- mail file


MAIL_DB_CREATED = Stamp(CET, "2016-09-05 08:12:44.20")
MAIL_REPLICA = MAIL_DB_CREATED.timedate_hex()
TEMPLATE_STAMP = Stamp(CET, "2021-11-18 14:02:10.31")


def mail_db_attrs():
    return {"version": "12.0", "maintenanceversion": "2.0", "replicaid": MAIL_REPLICA, "path": "mail/jdoe.nsf",
            "title": "Jane Doe", "fromtemplate": "StdR9Mail", "allowsoftdeletion": "true",
            "increasemaxfields": "true", "softdeletionsexpirein": "48", "compressdesign": "true",
            "compressdata": "true", "uselz1": "true"}


def mail_dbinfo():
    return databaseinfo(MAIL_REPLICA, 22, 6815744, "91.3562297821045", Stamp(CET, "2024-04-08 17:40:12.55"),
                        Stamp(CET, "2023-02-14 22:31:05.40"))


# design notes (skipped by a document reader)
V_ALL = unid("design:($All)", Stamp(CET, "2003-05-02 11:20:31.14"))
F_INBOX = unid("design:($Inbox)", Stamp(CET, "2003-05-02 11:20:44.02"))
F_ALPHA = unid("design:Projects\\Alpha", Stamp(CET, "2024-03-12 14:18:40.03"))


def column(itemname, width, title, formula=None, sort=None, extra=None):
    attrs = {"sort": sort, "hidedetailrows": "false", "itemname": itemname, "width": width, "resizable": "true",
             "separatemultiplevalues": "false", "sortnoaccent": "true", "sortnocase": "true",
             "showaslinks": "false"}
    attrs.update(extra or {})
    col = E("column", attrs, E("columnheader", {"title": title}, font(size="9pt", style="bold")))
    if formula:
        col.add(E("code", {"event": "value"}, E("formula", {}, formula)))
    return col


VIEW_COMMON = {"publicaccess": "false", "designerversion": "8.5.3", "unreadmarks": "standard",
               "onopengoto": "lastopened", "onrefresh": "displayindicator", "headers": "beveled",
               "opencollapsed": "false", "showresponsehierarchy": "true", "showmargin": "true",
               "shrinkrows": "true", "extendlastcolumn": "true", "showhierarchies": "false",
               "unreadcolor": "black", "rowlinecount": "1", "headerlinecount": "1", "rowspacing": "1",
               "bgcolor": "white", "totalscolor": "black", "headerbgcolor": "white", "boldunreadrows": "true",
               "evaluateactions": "false", "allownewdocuments": "false", "allowcustomizations": "true",
               "hidemarginborder": "false", "marginwidth": "0px", "marginbgcolor": "white", "uniquekeys": "false"}

MAIL_COLUMNS = [
    ("$Sender", "16", "Who", "@If(From = @UserName; \"To: \" + @Name([CN]; SendTo); @Name([CN]; From))", None),
    ("Subject", "40", "Subject", None, None),
    ("$Date", "10", "Date", "@If(DeliveredDate != \"\"; DeliveredDate; PostedDate != \"\"; PostedDate; @Created)",
     "descending"),
]


def mail_design_notes():
    notes = []
    # the database icon
    icon_created = Stamp(CET, "2003-05-02 11:19:58.71")
    icon = E("note", {"default": "true", "class": "icon"}, note_body(
        noteinfo(0x11A, unid("design:icon", icon_created), 4, icon_created, TEMPLATE_STAMP),
        updatedby(ADMIN), None,
        [raw_item("IconBitmap", "6", pseudo_bytes("icon", 630)),
         t_item("$Flags", "J7NZq"),
         t_item("$TITLE", "Jane Doe\n#2StdR9Mail")]))
    notes.append(icon)
    view = E("view", {"name": "($All)", "alias": "AllDocuments", "showinmenu": "false", **VIEW_COMMON},
             "\n", noteinfo(0x1F6, V_ALL, 12, Stamp(CET, "2003-05-02 11:20:31.14"), TEMPLATE_STAMP),
             "\n", updatedby(ADMIN), "\n", E("wassignedby", {}, E("name", {}, ADMIN)),
             E("code", {"event": "selection"},
               E("formula", {}, "SELECT @IsNotMember(\"A\"; ExcludeFromView) & IsMailStationery != 1")),
             "\n", joined([column(i, w, t, f, s) for i, w, t, f, s in MAIL_COLUMNS]))
    notes.append(view)
    for name, uid, noteid, created in (("($Inbox)", F_INBOX, 0x20E, Stamp(CET, "2003-05-02 11:20:44.02")),
                                       ("Projects\\Alpha", F_ALPHA, 0x2C46, Stamp(CET, "2024-03-12 14:18:40.03"))):
        attrs = {"name": name, "showinmenu": "false", **VIEW_COMMON}
        folder = E("folder", attrs, "\n", noteinfo(noteid, uid, 3 if noteid == 0x20E else 1, created,
                                                     TEMPLATE_STAMP if noteid == 0x20E else created.plus(0.4)),
                   "\n", updatedby(ADMIN if noteid == 0x20E else JANE),
                   "\n", joined([column(i, w, t, f, s) for i, w, t, f, s in MAIL_COLUMNS]))
        notes.append(folder)
    return notes


def msgid(created: Stamp, label: str) -> str:
    td = created.timedate_hex()
    h = hexhash("msgid:" + label)
    return f"<OF{h[:8]}.{h[8:16]}-ON{td[:8]}.{td[8:]}-{td[:8]}.{hexhash('msgid2:' + label, 8)}@acme.example>"


def route_items(delivered: Stamp):
    return [
        item("RouteServers", textlist(MAILSRV), summary=False),
        item("RouteTimes", datetimelist(E("datetimepair", {}, dtm(delivered.plus(-0.41)), dtm(delivered))),
             summary=False),
    ]


def mail():
    d = {}  # label -> (unid, msgid)

    # ---- M1: received memo, rich text showcase --------------------------------------------------
    m1_created = Stamp(CET, "2024-03-12 09:11:47.63")
    m1_posted = Stamp(CET, "2024-03-12 09:15:02.17")
    m1_delivered = m1_posted.plus(3.44)
    m1 = unid("mail:m1", m1_created)
    m1_id = msgid(m1_created, "m1")
    d["m1"] = (m1, m1_id)
    cell_hdr = {"bgcolor": "#d9e2f3"}
    body1 = rt(
        pardef(1),
        par(1, r("Hi Jane,")),
        par(),
        par(None, r("we are kicking off "), r("Project Alpha", style="bold"),
            r(" on Monday, 18 March. The most important points:")),
        pardef(2, leftmargin="0.2500in", list="bullet"),
        par(2, r("Scope: "), r("CRM integration for the EMEA sales teams", style="italic")),
        par(None, r("Budget: EUR 240,000 \u2013 "), r("please keep this confidential", style="bold", color="red")),
        par(None, r("Steering meeting every second Wednesday, "), r("14:00", color="#1f3864", style="bold underline")),
        pardef(3, leftmargin="0.2500in", list="number"),
        par(3, r("Confirm the team list by Friday")),
        par(None, r("Book the kick-off room "), r("(done \u2013 Matterhorn)", style="strikethrough", color="gray")),
        par(1, r("Milestones:", size="12pt", style="bold", color="navy")),
        table({"widthtype": "fixedleft", "cellbordercolor": "#a6a6a6", "leftmargin": "0", "refwidth": "6.5000in"},
              ["2.5000in", "1.5000in", "2.5000in"], [
                  tablerow(
                      std_cell(cell_hdr, 4, r("Milestone", style="bold"),
                               new_pardef=pardef(4, keepwithnext="true", keeptogether="true")),
                      std_cell(cell_hdr, 5, r("Date", style="bold"),
                               new_pardef=pardef(5, align="center", keepwithnext="true", keeptogether="true")),
                      std_cell(cell_hdr, 4, r("Owner", style="bold"))),
                  tablerow(std_cell(None, 4, r("Kick-off")), std_cell(None, 5, r("18.03.2024")),
                           std_cell(None, 4, r("John Smith"))),
                  tablerow(std_cell(None, 4, r("Design sign-off")), std_cell(None, 5, r("26.04.2024")),
                           std_cell(None, 4, r("Peter Miller"))),
                  tablerow(std_cell(None, 4, r("Pilot go-live")),
                           std_cell({"bgcolor": "#fff2cc"}, 5, r("01.07.2024", style="bold")),
                           std_cell(None, 4, r("Jane Doe"))),
              ]),
        par(1, r("The project wiki is at "), urllink("https://wiki.acme.example/projects/alpha",
                                                     "wiki.acme.example/projects/alpha"), r(".")),
        par(1, r("Regards,"), br(), r("John", style="italic")),
    )
    m1_items = [
        t_item("$MessageID", m1_id),
        item("PostedDate", dtm(m1_posted)),
        names_item("From", JOHN),
        names_item("Principal", JOHN),
        t_item("INetFrom", INET[JOHN]),
        names_item("SendTo", JANE),
        names_item("CopyTo", MARIA),
        t_item("InetSendTo", INET[JANE]),
        t_item("InetCopyTo", INET[MARIA]),
        t_item("Subject", "Project Alpha kickoff"),
        item("Body", body1),
        item("ComposedDate", dtm(m1_created.plus(2.1))),
        t_item("DeliveryPriority", "H"),
        t_item("DeliveryReport", "B"),
        t_item("Importance", "1"),
        t_item("ReturnReceipt", "0"),
        item("$PaperColor", number(1)),
        t_item("$Mailer", "HCL Notes Release 12.0.2"),
        tl_item("Categories", "Projects", "Alpha"),
        t_item("$Abstract", "Hi Jane, we are kicking off Project Alpha on Monday, 18 March. The most important "
                            "points: Scope: CRM integration for the EMEA sales teams"),
        t_item("$RespondedTo", "1"),
        *route_items(m1_delivered),
        item("DeliveredDate", dtm(m1_delivered)),
        ref_item("$TUA", m1),
    ]
    m1_mod = Stamp(CET, "2024-03-12 14:20:07.91")
    doc_m1 = document("Memo", noteinfo(0x2D0A, m1, 3, m1_created, m1_mod, added=m1_delivered.plus(0.06)),
                      updatedby(JOHN, JANE), revisions(m1_delivered.plus(0.05), Stamp(CET, "2024-03-12 10:02:44.12")),
                      m1_items)

    # ---- M2: Jane's reply (in Sent) --------------------------------------------------------------
    m2_created = Stamp(CET, "2024-03-12 09:48:13.02")
    m2_posted = Stamp(CET, "2024-03-12 10:02:41.06")
    m2 = unid("mail:m2", m2_created)
    m2_id = msgid(m2_created, "m2")
    d["m2"] = (m2, m2_id)
    grey = {"color": "gray", "size": "9pt"}
    body2 = rt(
        pardef(1),
        par(1, r("Hi John,")),
        par(None, r("thanks \u2013 the team list is confirmed: Maria for marketing, Peter for engineering, "
                    "Ravi for the India rollout.")),
        par(None, r("I will send the partner documents once Maria's status report is in.")),
        par(None, r("Best,"), br(), r("Jane")),
        par(),
        pardef(2, leftmargin="0.1000in"),
        par(2, run(fa(**grey), "From:\tJohn Smith/Acme"), br(), run(fa(**grey), "To:\tJane Doe/Sales/Acme"), br(),
            run(fa(**grey), "Cc:\tMaria Garcia/Marketing/Acme"), br(),
            run(fa(**grey), "Date:\t12.03.2024 09:15"), br(),
            run(fa(**grey), "Subject:\tProject Alpha kickoff")),
        E("par", {"def": "2"}, E("horizrule", {"height": "0.0313in", "width": "100%", "color": "gray",
                                               "use3dshading": "false"})),
        par(2, r("Hi Jane,")),
        par(None, r("we are kicking off Project Alpha on Monday, 18 March. [...]")),
    )
    m2_items = [
        t_item("$MessageID", m2_id),
        t_item("In_Reply_To", m1_id),
        item("PostedDate", dtm(m2_posted)),
        names_item("From", JANE),
        names_item("Principal", JANE),
        t_item("INetFrom", INET[JANE]),
        names_item("SendTo", JOHN),
        t_item("InetSendTo", INET[JOHN]),
        t_item("Subject", "Re: Project Alpha kickoff"),
        item("Body", body2),
        item("ComposedDate", dtm(m2_created.plus(1.3))),
        t_item("DeliveryPriority", "N"),
        t_item("DeliveryReport", "B"),
        t_item("Importance", ""),
        t_item("ReturnReceipt", "0"),
        t_item("SaveOptions", "1"),
        t_item("$Mailer", "HCL Notes Release 12.0.2"),
        tl_item("Categories", ""),
        ref_item("$REF", m1),
        ref_item("$TUA", m1),
    ]
    doc_m2 = document("Reply", noteinfo(0x2D12, m2, 2, m2_created, m2_posted.plus(0.9)), updatedby(JANE),
                      revisions(m2_posted.plus(0.4)), m2_items, parent=m1)

    # ---- M3: John's reply to the reply (received) ------------------------------------------------
    m3_created = Stamp(CET, "2024-03-12 11:26:55.48")
    m3_posted = Stamp(CET, "2024-03-12 11:30:09.77")
    m3_delivered = m3_posted.plus(2.05)
    m3 = unid("mail:m3", m3_created)
    m3_id = msgid(m3_created, "m3")
    d["m3"] = (m3, m3_id)
    body3 = rt(
        pardef(1),
        par(1, r("Great, thanks Jane."), br(), r("Please make sure the partner gets the documents "),
            r("before 5 April", style="bold", highlight="yellow"), r(".")),
        par(None, r("John")),
    )
    m3_items = [
        t_item("$MessageID", m3_id),
        t_item("In_Reply_To", m2_id),
        item("PostedDate", dtm(m3_posted)),
        names_item("From", JOHN),
        names_item("Principal", JOHN),
        t_item("INetFrom", INET[JOHN]),
        names_item("SendTo", JANE),
        t_item("InetSendTo", INET[JANE]),
        t_item("Subject", "Re: Project Alpha kickoff"),
        item("Body", body3),
        item("ComposedDate", dtm(m3_created.plus(0.8))),
        t_item("DeliveryPriority", "N"),
        t_item("Importance", ""),
        t_item("$Mailer", "HCL Notes Release 12.0.2"),
        *route_items(m3_delivered),
        item("DeliveredDate", dtm(m3_delivered)),
        ref_item("$REF", m2),
        ref_item("$TUA", m1),
    ]
    doc_m3 = document("Reply", noteinfo(0x2D1E, m3, 1, m3_created, m3_delivered.plus(0.07),
                                        added=m3_delivered.plus(0.05)),
                      updatedby(JOHN), revisions(m3_delivered.plus(0.04)), m3_items, parent=m2)

    # ---- M4: memo with two attachments -------------------------------------------------------------
    m4_created = Stamp(CET, "2024-03-14 16:30:21.05")
    m4_posted = Stamp(CET, "2024-03-14 16:41:33.80")
    m4_delivered = m4_posted.plus(1.67)
    m4 = unid("mail:m4", m4_created)
    m4_id = msgid(m4_created, "m4")
    d["m4"] = (m4, m4_id)
    icon = attachment_icon()
    minutes_name = "Protokoll M\u00e4rz 2024.txt"
    body4 = rt(
        pardef(1),
        par(1, r("Hi Jane, hi John,")),
        par(None, r("attached are the Q1 status report and the (German) kick-off minutes.")),
        par(None, attachmentref("report.pdf", icon), r("  "), attachmentref(minutes_name, icon)),
        par(None, r("Kind regards"), br(), r("Maria Garcia", style="bold"), br(),
            r("Marketing | Acme Corporation", size="8pt", color="gray")),
    )
    m4_items = [
        t_item("$MessageID", m4_id),
        item("PostedDate", dtm(m4_posted)),
        names_item("From", MARIA),
        names_item("Principal", MARIA),
        t_item("INetFrom", INET[MARIA]),
        names_item("SendTo", JANE, JOHN),
        item("InetSendTo", textlist(INET[JANE], INET[JOHN])),
        t_item("Subject", "Alpha: status report and kick-off minutes"),
        item("Body", body4),
        item("ComposedDate", dtm(m4_created.plus(4.2))),
        t_item("DeliveryPriority", "N"),
        t_item("Importance", "2"),
        item("$PaperColor", number(1)),
        t_item("$Mailer", "HCL Notes Release 12.0.2"),
        *route_items(m4_delivered),
        item("DeliveredDate", dtm(m4_delivered)),
        file_item("report.pdf", REPORT_PDF, Stamp(CET, "2024-03-14 16:38:02.51"),
                  Stamp(CET, "2024-03-14 15:57:40.00"), desiredcompression="lz1"),
        file_item(minutes_name, MINUTES_TXT, Stamp(CET, "2024-03-14 16:39:11.08"),
                  Stamp(CET, "2024-03-14 12:05:16.00")),
        ref_item("$TUA", m4),
    ]
    doc_m4 = document("Memo", noteinfo(0x2D2A, m4, 1, m4_created, m4_delivered.plus(0.12),
                                       added=m4_delivered.plus(0.1)),
                      updatedby(MARIA), revisions(m4_delivered.plus(0.09)), m4_items)

    # ---- M5: inline pictures, readers field, sender in India (+0530) --------------------------------
    m5_created = Stamp(IST, "2024-03-20 13:58:40.12")
    m5_posted = Stamp(IST, "2024-03-20 14:05:09.40")
    m5_delivered = Stamp(CET, "2024-03-20 09:35:13.02")
    m5 = unid("mail:m5", m5_created)
    m5_id = msgid(m5_created, "m5")
    d["m5"] = (m5, m5_id)
    body5 = rt(
        pardef(1),
        par(1, r("Jane,")),
        par(None, r("here is the pricing comparison for the India rollout (units in thousand INR):")),
        par(None, picture("png", bar_chart_png(), width=160, height=90)),
        pardef(2, leftmargin="0.5000in"),
        par(2, run(fa(name="Courier New", size="9pt"), "Tier\tQ1\tQ2"), br(),
            run(fa(name="Courier New", size="9pt"), "Basic\t40\t62"), br(),
            run(fa(name="Courier New", size="9pt"), "Premium\t30\t75")),
        par(1, r("Regards from Bangalore,")),
        par(None, picture("gif", logo_gif(), width=96, height=32, alttext="Acme India")),
        par(None, r("Ravi Kumar", style="bold"), br(),
            r("This message is confidential and intended for the addressee only.", size="7pt", color="gray")),
    )
    m5_items = [
        t_item("$MessageID", m5_id),
        item("PostedDate", dtm(m5_posted)),
        names_item("From", RAVI),
        names_item("Principal", RAVI),
        t_item("INetFrom", INET[RAVI]),
        names_item("SendTo", JANE),
        t_item("InetSendTo", INET[JANE]),
        t_item("Subject", "Alpha India pricing (confidential)"),
        item("Body", body5),
        item("ComposedDate", dtm(m5_created.plus(1.9))),
        t_item("DeliveryPriority", "N"),
        t_item("Importance", "1"),
        t_item("$KeepPrivate", "1"),
        item("$Readers", textlist(RAVI, JANE, "LocalDomainServers"), names=True, readers=True),
        t_item("$Mailer", "HCL Notes Release 11.0.1"),
        *route_items(m5_delivered),
        item("DeliveredDate", dtm(m5_delivered)),
        ref_item("$TUA", m5),
    ]
    doc_m5 = document("Memo", noteinfo(0x2D3E, m5, 1, m5_created, m5_delivered.plus(0.2),
                                       added=m5_delivered.plus(0.15)),
                      updatedby(RAVI), revisions(m5_delivered.plus(0.14)), m5_items)

    # ---- M6: native MIME message from the Internet (MIMEOption=DXL) ---------------------------------
    m6_date = Stamp(CET, "2024-04-03 10:12:01")
    m6_delivered = Stamp(CET, "2024-04-03 10:12:34.56")
    m6 = hexhash("inet:m6") + hexhash("inet:m6b")
    m6_orig = unid("mail:m6orig", m6_delivered.plus(-0.9))
    d["m6"] = (m6, "<20240403081201.4F2A1C@mx.partner.example>")
    mime = MIME_M6.replace("{DATE}", m6_date.rfc822()).replace("{RECV}", m6_delivered.rfc822())
    m6_items = [
        tl_item("$MIMETrack",
                "Itemize by SMTP Server on mail01/Servers/Acme(Release 12.0.2|November 03, 2022) at 03.04.2024 "
                "10:12:34",
                "Serialize by Router on mail01/Servers/Acme(Release 12.0.2|November 03, 2022) at\n"
                " 03.04.2024 10:12:35"),
        t_item("$NoteHasNativeMIME", "1"),
        ref_item("$INetOrig", m6),
        names_item("SMTPOriginator", ANNA_INET),
        ref_item("$Orig", m6_orig),
        item("Categories", textlist("")),
        *route_items(m6_delivered),
        item("DeliveredDate", dtm(m6_delivered)),
        item("$Abstract", text("Hallo Jane, vielen Dank f\u00fcr das Gespr\u00e4ch. Anbei unser Angebot f\u00fcr "
                               "die Integration"), seal=True),
        ref_item("$TUA", m6),
    ]
    doc_m6 = document("Memo", noteinfo(0x2E02, m6, 1, m6_delivered.plus(-0.9), m6_delivered.plus(0.6),
                                       added=m6_delivered.plus(0.5)),
                      updatedby(MAILSRV), revisions(m6_delivered.plus(0.45)), m6_items, mime=mime)

    # ---- M7: sent memo with doclinks -------------------------------------------------------------
    m7_created = Stamp(CET, "2024-04-05 11:02:17.30")
    m7_posted = Stamp(CET, "2024-04-05 11:20:45.18")
    m7 = unid("mail:m7", m7_created)
    m7_id = msgid(m7_created, "m7")
    d["m7"] = (m7, m7_id)
    body7 = rt(
        pardef(1),
        par(1, r("Dear Anna, dear John,")),
        par(None, r("as agreed, here are the documents for the partner review. Maria's status report: "),
            doclink(m4, V_ALL, MAIL_REPLICA, "Alpha: status report and kick-off minutes"),
            r(" (Notes users only).")),
        par(None, r("Background: "), doclink(m1, V_ALL, MAIL_REPLICA, "Project Alpha kickoff",
                                             run(fa(color="blue", style="underline"), "the kick-off memo")),
            r(".")),
        par(None, r("Please send your comments by "), r("12 April", style="bold"), r(".")),
        par(None, r("Best regards,"), br(), r("Jane Doe"), br(),
            r("Sales EMEA | Acme Corporation | +41 44 555 01 00", size="8pt", color="gray")),
    )
    m7_items = [
        t_item("$MessageID", m7_id),
        item("PostedDate", dtm(m7_posted)),
        names_item("From", JANE),
        names_item("Principal", JANE),
        t_item("INetFrom", INET[JANE]),
        names_item("SendTo", JOHN, ANNA_INET),
        names_item("CopyTo", MARIA),
        names_item("BlindCopyTo", PETER),
        item("InetSendTo", textlist(INET[JOHN], ANNA_INET)),
        t_item("InetCopyTo", INET[MARIA]),
        t_item("InetBlindCopyTo", INET[PETER]),
        t_item("Subject", "Alpha: documents for the partner review"),
        item("Body", body7),
        item("ComposedDate", dtm(m7_created.plus(0.6))),
        t_item("DeliveryPriority", "N"),
        t_item("DeliveryReport", "C"),
        t_item("Importance", "2"),
        t_item("ReturnReceipt", "1"),
        t_item("SaveOptions", "1"),
        t_item("$Mailer", "HCL Notes Release 12.0.2"),
        ref_item("$TUA", m7),
    ]
    doc_m7 = document("Memo", noteinfo(0x2E16, m7, 2, m7_created, m7_posted.plus(1.1)), updatedby(JANE),
                      revisions(m7_posted.plus(0.7)), m7_items)

    # ---- M8: draft --------------------------------------------------------------------------------
    m8_created = Stamp(CET, "2024-04-08 17:02:51.44")
    m8_mod = Stamp(CET, "2024-04-08 17:40:12.55")
    m8 = unid("mail:m8", m8_created)
    body8 = rt(
        pardef(1),
        par(1, r("Ravi,")),
        par(None, r("first draft of the rollout plan \u2013 please review the dates:")),
        table({"widthtype": "fitmargins", "cellbordercolor": "silver", "leftmargin": "0"}, ["40%", "30%", "30%"], [
            tablerow(std_cell({"columnspan": "3", "bgcolor": "navy"}, 2,
                              run(fa(style="bold", color="white"), "Rollout India 2024"),
                              new_pardef=pardef(2, align="center", keepwithnext="true", keeptogether="true"))),
            tablerow(std_cell(None, 3, r("Wave 1: Bangalore"),
                              new_pardef=pardef(3, keepwithnext="true", keeptogether="true")),
                     std_cell(None, 3, r("July")), std_cell(None, 3, r("40 users"))),
            tablerow(std_cell(None, 3, r("Wave 2: Pune, Chennai")), std_cell(None, 3, r("September")),
                     std_cell(None, 3, r("120 users"))),
        ]),
        par(1, r("TODO: add training slots", color="red", style="italic")),
    )
    m8_items = [
        names_item("From", JANE),
        names_item("Principal", JANE),
        names_item("SendTo", RAVI),
        t_item("InetSendTo", INET[RAVI]),
        t_item("Subject", "Alpha rollout plan India (draft)"),
        item("Body", body8),
        t_item("DeliveryPriority", "N"),
        t_item("Importance", ""),
        t_item("SaveOptions", "1"),
        t_item("$Abstract", "Ravi, first draft of the rollout plan \u2013 please review the dates:"),
    ]
    doc_m8 = document("Memo", noteinfo(0x2E1A, m8, 3, m8_created, m8_mod), updatedby(JANE),
                      revisions(m8_created.plus(38.2), Stamp(CET, "2024-04-08 17:21:09.77")), m8_items)

    docs = [doc_m1, doc_m2, doc_m3, doc_m4, doc_m5, doc_m6, doc_m7, doc_m8]
    root = database(mail_db_attrs(), mail_dbinfo(), mail_design_notes() + docs)
    # as the agent writes it: view by view, entries in view order (newest first)
    folders = [("Inbox", "m6"), ("Inbox", "m5"), ("Inbox", "m4"), ("Inbox", "m3"), ("Inbox", "m1"),
               ("Projects\\Alpha", "m4"), ("Projects\\Alpha", "m3"), ("Projects\\Alpha", "m2"),
               ("Projects\\Alpha", "m1"), ("Drafts", "m8"), ("Sent", "m7"), ("Sent", "m2")]
    d["m8"] = (m8, None)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["folder", "unid"])
    for folder, label in folders:
        w.writerow([folder, d[label][0]])
    return root, buf.getvalue().encode("utf-8"), d


MIME_M6 = """MIME-Version: 1.0
Received: from mx.partner.example ([192.0.2.25]) by mail01.acme.example (HCL Domino Release 12.0.2)
 with ESMTP id 2024040310123456-4711 ; {RECV}
From: "Anna Schmidt" <anna.schmidt@partner.example>
To: "Jane Doe" <jane.doe@acme.example>
Cc: john.smith@acme.example
Subject: =?UTF-8?Q?Angebot_f=C3=BCr_Projekt_Alpha?=
Date: {DATE}
Message-ID: <20240403081201.4F2A1C@mx.partner.example>
Content-Type: multipart/alternative; boundary="=_alt_4F2A1C7D"

This is a multi-part message in MIME format.
--=_alt_4F2A1C7D
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Hallo Jane,

vielen Dank f=C3=BCr das Gespr=C3=A4ch. Anbei unser Angebot f=C3=BCr die I=
ntegration:

  * Phase 1 (Analyse): 12 Personentage
  * Phase 2 (Umsetzung): 45 Personentage

Das Angebot ist g=C3=BCltig bis 30.04.2024.

Freundliche Gr=C3=BC=C3=9Fe
Anna Schmidt
Partner Solutions GmbH, M=C3=BCnchen
--=_alt_4F2A1C7D
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<html><body style=3D"font-family:Arial,sans-serif;font-size:10pt">
<p>Hallo Jane,</p>
<p>vielen Dank f=C3=BCr das Gespr=C3=A4ch. Anbei unser Angebot f=C3=BCr die=
 Integration:</p>
<table border=3D"1" cellpadding=3D"4" style=3D"border-collapse:collapse">
<tr><th>Phase</th><th>Aufwand</th></tr>
<tr><td>1 &ndash; Analyse</td><td>12 PT</td></tr>
<tr><td>2 &ndash; Umsetzung</td><td>45 PT</td></tr>
</table>
<p>Das Angebot ist <b>g=C3=BCltig bis 30.04.2024</b>.</p>
<p>Freundliche Gr=C3=BC=C3=9Fe<br>Anna Schmidt<br>
<a href=3D"https://www.partner.example/">Partner Solutions GmbH</a>, M=C3=BCn=
chen</p>
</body></html>
--=_alt_4F2A1C7D--
"""


# --------------------------------------------------------------------------- calendar


def cal_common(chair: str, subject: str, created: Stamp, apptype: str, uid: str, *, zone_string=None,
               seq: int = 1, icon: int | None = None, public="1"):
    items = [
        t_item("$CSVersion", "2"),
        t_item("AppointmentType", apptype),
        t_item("Subject", subject),
        names_item("CHAIR", chair) if apptype == "3" else None,
        names_item("From", chair),
        names_item("Principal", chair),
        t_item("ApptUNID", uid),
        item("SEQUENCENUM", number(seq)),
        t_item("$PublicAccess", public),
        tl_item("ExcludeFromView", "D", "S"),
    ]
    if zone_string:
        items += [t_item("StartTimeZone", zone_string), t_item("EndTimeZone", zone_string)]
    if icon is not None:
        items.append(item("_ViewIcon", number(icon)))
    return [i for i in items if i is not None]


def repeat_child(form: str, parent_uid: str, noteid: int, created: Stamp, modified: Stamp, who: str,
                 label: str, shared: list, lists: list) -> tuple[str, E]:
    """The response that carries (a set of) instances of a repeating entry: $REF + $RefOptions."""
    uid = unid(label, created)
    items = shared + lists + [ref_item("$REF", parent_uid), t_item("$RefOptions", "1")]
    return uid, document(form, noteinfo(noteid, uid, 1, created, modified), updatedby(who), None, items,
                         parent=parent_uid)


def times(start: Stamp, end: Stamp):
    return [item("StartDateTime", dtm(start)), item("EndDateTime", dtm(end)),
            item("StartDate", dtm_date(start)), item("StartTime", dtm_time(start)),
            item("EndDate", dtm_date(end)), item("EndTime", dtm_time(end)),
            item("CalendarDateTime", dtm(start))]


def calendar(mail_ids):
    docs = []

    # C1 single meeting chaired by Jane
    c1_created = Stamp(CET, "2024-04-02 10:15:44.90")
    c1 = unid("cal:c1", c1_created)
    start, end = Stamp(CET, "2024-04-10 14:00"), Stamp(CET, "2024-04-10 15:30")
    body = rt(pardef(1), par(1, r("Agenda:", style="bold")),
              pardef(2, leftmargin="0.2500in", list="number"),
              par(2, r("Status per workstream")), par(None, r("Budget and risks")), par(None, r("Partner offer")),
              par(1, r("Dial-in for remote participants: "),
                  urllink("https://meet.acme.example/j/4711-0815", "meet.acme.example/j/4711-0815")))
    items = cal_common(JANE, "Project Alpha steering meeting", c1_created, "3", c1, zone_string=CET.notes, icon=158)
    items += [
        names_item("RequiredAttendees", JANE, JOHN, MARIA),
        item("INetRequiredNames", textlist(INET[JANE], INET[JOHN], INET[MARIA])),
        names_item("OptionalAttendees", PETER, ANNA_INET),
        item("INetOptionalNames", textlist(INET[PETER], ANNA_INET)),
        names_item("Room", "CN=Matterhorn/OU=Zurich Rooms/O=Acme"),
        t_item("Location", "Zurich HQ, 4th floor"),
        *times(start, end),
        item("$Alarm", number(1)),
        item("$AlarmOffset", number(-15)),
        names_item("$BusyName", JANE),
        t_item("$BusyPriority", "1"),
        t_item("$CSFlags", "c"),
        item("Body", body),
    ]
    docs.append(document("Appointment", noteinfo(0x3002, c1, 4, c1_created, Stamp(CET, "2024-04-02 10:17:02.11")),
                         updatedby(JANE), revisions(c1_created.plus(1.2), c1_created.plus(70.4)), items))

    # C2 all-day event over two days (date-only values)
    c2_created = Stamp(CET, "2024-02-19 08:44:12.07")
    c2 = unid("cal:c2", c2_created)
    s2, e2 = Stamp(CET, "2024-05-20"), Stamp(CET, "2024-05-21")
    items = cal_common(JANE, "Acme EMEA Sales Kick-off (offsite)", c2_created, "2", c2, zone_string=CET.notes)
    items += [
        t_item("Location", "Hotel Seeblick, Lucerne"),
        item("StartDateTime", dtm_date(s2)), item("EndDateTime", dtm_date(e2)),
        item("StartDate", dtm_date(s2)), item("EndDate", dtm_date(e2)),
        item("CalendarDateTime", dtm_date(s2)),
        t_item("$BusyPriority", "2"),
        names_item("$BusyName", JANE),
        item("Body", rt(pardef(1), par(1, r("Two days, bus leaves Zurich HQ at 07:30.")))),
    ]
    docs.append(document("Appointment", noteinfo(0x3006, c2, 1, c2_created, c2_created.plus(0.8)),
                         updatedby(JANE), None, items))

    # C3 anniversary repeating yearly (10 date-only instances): repeat parent + instance child
    c3_created = Stamp(CET, "2024-01-08 09:01:33.63")
    c3 = unid("cal:c3", c3_created)
    years = [Stamp(CET, f"{y}-06-14") for y in range(2024, 2034)]
    dl = datetimelist(*[dtm_date(s) for s in years])
    shared = cal_common(JANE, "Birthday: John Smith", c3_created, "1", c3)
    items = shared + [
        t_item("Repeats", "1"), t_item("OrgRepeat", "1"),
        t_item("RepeatUnit", "YD"), t_item("RepeatInterval", "1"),
        t_item("RepeatHow", "F"), t_item("RepeatFor", "10"), t_item("RepeatForUnit", "Y"),
        item("RepeatStartDate", dtm_date(years[0])),
        item("RepeatDates", dl), item("RepeatInstanceDates", dl),
        item("StartDateTime", dl), item("EndDateTime", dl),
        item("StartDate", dtm_date(years[0])), item("EndDate", dtm_date(years[0])),
        t_item("$BusyPriority", "2"),
        tl_item("Categories", "Birthdays"),
    ]
    docs.append(document("Appointment", noteinfo(0x300A, c3, 1, c3_created, c3_created.plus(1.5)),
                         updatedby(JANE), None, items))
    _, child = repeat_child("Appointment", c3, 0x300E, c3_created.plus(1.1), c3_created.plus(1.4), JANE,
                            "cal:c3child", shared + [t_item("Repeats", "1"), t_item("$BusyPriority", "2")],
                            [item("StartDateTime", dl), item("EndDateTime", dl), item("CalendarDateTime", dl),
                             item("RepeatInstanceDates", dl), tl_item("Categories", "Birthdays")])
    docs.append(child)

    # C4 weekly repeating meeting, crosses the switch to summer time on 31 March: parent + child
    c4_created = Stamp(CET, "2024-03-15 13:40:05.21")
    c4 = unid("cal:c4", c4_created)
    starts = [Stamp(CET, "2024-03-19 09:00").plus(days=7 * i) for i in range(11)]
    ends = [s.plus(30 * 60) for s in starts]
    sdl = datetimelist(*[dtm(s) for s in starts])
    edl = datetimelist(*[dtm(s) for s in ends])
    shared = cal_common(JANE, "Sales team weekly", c4_created, "3", c4, zone_string=CET.notes, seq=2, icon=158) + [
        names_item("RequiredAttendees", JANE, "Sales Team EMEA", MARIA),
        item("INetRequiredNames", textlist(INET[JANE], ".", INET[MARIA])),
        t_item("Location", "Room Eiger / online"),
    ]
    items = shared + [
        t_item("Repeats", "1"), t_item("OrgRepeat", "1"),
        t_item("RepeatUnit", "W"), t_item("RepeatInterval", "1"),
        t_item("RepeatHow", "U"), item("RepeatUntil", dtm_date(Stamp(CET, "2024-05-28"))),
        item("RepeatStartDate", dtm(starts[0])),
        t_item("RepeatWeekends", "D"),
        item("RepeatDates", sdl),
        item("RepeatInstanceDates", sdl),
        item("StartDateTime", sdl),
        item("EndDateTime", edl),
        item("StartDate", dtm_date(starts[0])), item("StartTime", dtm_time(starts[0])),
        item("EndDate", dtm_date(ends[0])), item("EndTime", dtm_time(ends[0])),
        item("$Alarm", number(1)), item("$AlarmOffset", number(-10)),
        names_item("$BusyName", JANE), t_item("$BusyPriority", "1"),
        t_item("$CSFlags", "c"),
        item("Body", rt(pardef(1), par(1, r("Pipeline review, one slide per region.")))),
    ]
    docs.append(document("Appointment", noteinfo(0x3012, c4, 3, c4_created, Stamp(CET, "2024-03-15 13:52:48.00")),
                         updatedby(JANE), revisions(c4_created.plus(0.9), Stamp(CET, "2024-03-15 13:47:10.30")),
                         items))
    _, child = repeat_child("Appointment", c4, 0x3016, c4_created.plus(0.7), Stamp(CET, "2024-03-15 13:52:48.20"),
                            JANE, "cal:c4child", shared + [t_item("Repeats", "1")],
                            [item("StartDateTime", sdl), item("EndDateTime", edl), item("CalendarDateTime", sdl),
                             item("RepeatInstanceDates", sdl), names_item("$BusyName", JANE),
                             t_item("$BusyPriority", "1"), item("$Alarm", number(1)),
                             item("$AlarmOffset", number(-10))])
    docs.append(child)

    # C5 meeting chaired in India (+0530), accepted by Jane
    c5_created = Stamp(IST, "2024-04-09 11:20:30.15")
    c5 = unid("cal:c5", c5_created)
    s5, e5 = Stamp(IST, "2024-04-18 15:30"), Stamp(IST, "2024-04-18 16:30")
    items = cal_common(RAVI, "Alpha integration review (Bangalore)", c5_created, "3", c5, zone_string=IST.notes,
                       seq=2, icon=158)
    items += [
        names_item("RequiredAttendees", RAVI, JANE, PETER),
        item("INetRequiredNames", textlist(INET[RAVI], INET[JANE], INET[PETER])),
        t_item("Location", "Acme Bangalore, Whitefield campus / video"),
        *times(s5, e5),
        names_item("$BusyName", JANE), t_item("$BusyPriority", "1"),
        t_item("$CSFlags", "c"),
        item("Body", rt(pardef(1), par(1, r("Walk-through of the SAP interface mapping.")))),
    ]
    docs.append(document("Appointment", noteinfo(0x301A, c5, 2, c5_created, Stamp(CET, "2024-04-09 08:02:41.80")),
                         updatedby(RAVI, JANE), revisions(Stamp(CET, "2024-04-09 08:01:12.44")), items))

    # C6 reminder
    c6_created = Stamp(CET, "2024-03-28 17:31:02.50")
    c6 = unid("cal:c6", c6_created)
    s6 = Stamp(CET, "2024-04-02 16:00")
    items = cal_common(JANE, "Submit March expense report", c6_created, "4", c6, zone_string=CET.notes)
    items += [
        item("StartDateTime", dtm(s6)), item("EndDateTime", dtm(s6)),
        item("StartDate", dtm_date(s6)), item("StartTime", dtm_time(s6)),
        item("CalendarDateTime", dtm(s6)),
        item("$Alarm", number(1)), item("$AlarmOffset", number(0)),
    ]
    docs.append(document("Appointment", noteinfo(0x301E, c6, 1, c6_created, c6_created.plus(0.5)),
                         updatedby(JANE), None, items))

    # C7 private appointment
    c7_created = Stamp(CET, "2024-03-27 12:05:55.03")
    c7 = unid("cal:c7", c7_created)
    s7, e7 = Stamp(CET, "2024-04-11 08:00"), Stamp(CET, "2024-04-11 09:00")
    items = cal_common(JANE, "Dentist", c7_created, "0", c7, zone_string=CET.notes, icon=160, public="0")
    items += [
        t_item("OrgConfidential", "1"),
        t_item("Location", "Dr. Weber, Seefeldstrasse 8"),
        *times(s7, e7),
        names_item("$BusyName", JANE), t_item("$BusyPriority", "1"),
    ]
    docs.append(document("Appointment", noteinfo(0x3022, c7, 1, c7_created, c7_created.plus(0.6)),
                         updatedby(JANE), None, items))

    return database(mail_db_attrs(), mail_dbinfo(), docs), {"c1": c1, "c3": c3, "c4": c4}


# --------------------------------------------------------------------------- to-dos


def todos():
    docs = []

    def task_common(subject, importance, task_type="1"):
        return [t_item("Subject", subject), t_item("TaskType", task_type), t_item("Importance", importance),
                names_item("From", JANE), names_item("Principal", JANE), t_item("$PublicAccess", "1"),
                tl_item("ExcludeFromView", "D", "S"), item("_ViewIcon", number(168))]

    # T1 personal, start and due date (date-only)
    t1_created = Stamp(CET, "2024-04-04 08:30:10.40")
    t1 = unid("todo:t1", t1_created)
    items = task_common("Prepare Q2 forecast", "2") + [
        item("StartDate", dtm_date(Stamp(CET, "2024-04-08"))),
        item("StartDateTime", dtm_date(Stamp(CET, "2024-04-08"))),
        item("DueDate", dtm_date(Stamp(CET, "2024-04-12"))),
        item("DueDateTime", dtm_date(Stamp(CET, "2024-04-12"))),
        item("CalendarDateTime", dtm_date(Stamp(CET, "2024-04-12"))),
        tl_item("Categories", "Sales", "Forecast"),
        item("Body", rt(pardef(1), par(1, r("Use the new template; include the India numbers from Ravi.")),
                        pardef(2, leftmargin="0.2500in", list="uncheck"),
                        par(2, r("EMEA pipeline")), pardef(3, leftmargin="0.2500in", list="check"),
                        par(3, r("Template downloaded", style="strikethrough")))),
    ]
    docs.append(document("Task", noteinfo(0x3102, t1, 1, t1_created, t1_created.plus(0.7)), updatedby(JANE), None,
                         items))

    # T2 completed
    t2_created = Stamp(CET, "2024-03-04 10:02:03.11")
    t2 = unid("todo:t2", t2_created)
    items = task_common("Book venue for the Alpha kick-off", "2") + [
        item("DueDate", dtm_date(Stamp(CET, "2024-03-15"))),
        item("DueDateTime", dtm_date(Stamp(CET, "2024-03-15"))),
        item("CalendarDateTime", dtm_date(Stamp(CET, "2024-03-15"))),
        item("CompletedDateTime", dtm(Stamp(CET, "2024-03-14 16:45:03.12"))),
        tl_item("Categories", "Alpha"),
        item("Body", rt(pardef(1), par(1, r("Room Matterhorn booked, catering for 14.")))),
    ]
    docs.append(document("Task", noteinfo(0x3106, t2, 3, t2_created, Stamp(CET, "2024-03-14 16:45:04.00")),
                         updatedby(JANE), revisions(t2_created.plus(0.6), Stamp(CET, "2024-03-11 09:12:40.72")),
                         items))

    # T3 high priority with times and an alarm
    t3_created = Stamp(CET, "2024-04-05 15:11:42.80")
    t3 = unid("todo:t3", t3_created)
    s3, d3 = Stamp(CET, "2024-04-08 09:00"), Stamp(CET, "2024-04-09 17:00")
    items = task_common("Review Alpha contract draft", "1") + [
        item("StartDateTime", dtm(s3)), item("StartDate", dtm_date(s3)),
        item("DueDateTime", dtm(d3)), item("DueDate", dtm_date(d3)),
        item("CalendarDateTime", dtm(d3)),
        item("$Alarm", number(1)), item("$AlarmOffset", number(-60)),
        t_item("StartTimeZone", CET.notes),
        item("Body", rt(pardef(1), par(1, r("Legal needs the comments "), r("before Wednesday", style="bold",
                                                                             color="red"), r(".")))),
    ]
    docs.append(document("Task", noteinfo(0x310A, t3, 1, t3_created, t3_created.plus(0.4)), updatedby(JANE), None,
                         items))

    # T4 recurring group to-do assigned to John and Maria: repeat parent + instance child
    t4_created = Stamp(CET, "2024-04-03 16:20:19.09")
    t4 = unid("todo:t4", t4_created)
    fridays = [Stamp(CET, "2024-04-05").plus(days=7 * i) for i in range(4)]
    fl = datetimelist(*[dtm_date(s) for s in fridays])
    shared = task_common("Weekly pipeline update", "3", task_type="2") + [
        names_item("CHAIR", JANE),
        names_item("AssignedTo", JOHN, MARIA),
        item("INetAssignedTo", textlist(INET[JOHN], INET[MARIA])),
        t_item("ApptUNID", t4),
        item("SEQUENCENUM", number(1)),
        tl_item("Categories", "Sales"),
    ]
    items = shared + [
        t_item("Repeats", "1"), t_item("OrgRepeat", "1"),
        t_item("RepeatUnit", "W"), t_item("RepeatInterval", "1"),
        t_item("RepeatHow", "U"), item("RepeatUntil", dtm_date(fridays[-1])),
        item("RepeatStartDate", dtm_date(fridays[0])),
        item("RepeatDates", fl), item("RepeatInstanceDates", fl),
        item("StartDateTime", fl), item("DueDateTime", fl),
        item("StartDate", dtm_date(fridays[0])), item("DueDate", dtm_date(fridays[0])),
        item("Body", rt(pardef(1), par(1, r("Update the CRM pipeline before the Monday call.")))),
    ]
    docs.append(document("Task", noteinfo(0x310E, t4, 1, t4_created, t4_created.plus(1.1)), updatedby(JANE), None,
                         items))
    _, child = repeat_child("Task", t4, 0x3112, t4_created.plus(0.8), t4_created.plus(1.0), JANE, "todo:t4child",
                            shared + [t_item("Repeats", "1")],
                            [item("StartDateTime", fl), item("DueDateTime", fl), item("CalendarDateTime", fl),
                             item("RepeatInstanceDates", fl)])
    docs.append(child)
    return database(mail_db_attrs(), mail_dbinfo(), docs)


# --------------------------------------------------------------------------- personal address book


def contacts():
    created_db = Stamp(CET, "2012-10-01 07:55:12.04")
    rid = created_db.timedate_hex()
    attrs = {"version": "12.0", "maintenanceversion": "2.0", "replicaid": rid, "path": "names.nsf",
             "title": "Jane Doe's Contacts", "increasemaxfields": "true"}
    info = databaseinfo(rid, 5, 2359296, "88.2180989583333", Stamp(CET, "2024-03-21 18:04:51.30"),
                        Stamp(CET, "2022-09-12 06:41:33.88"))
    docs = []

    def person(label, created, modified, fields, comment=None, seq=1, revs=()):
        uid = unid("contact:" + label, created)
        items = [t_item("Type", "Person")] + fields
        if comment is not None:
            items.append(item("Comment", comment))
        docs.append(document("Person", noteinfo(0x91E + 4 * len(docs), uid, seq, created, modified),
                             updatedby(JANE), revisions(*revs), items))
        return uid

    p1c = Stamp(CET, "2015-06-02 11:30:44.21")
    person("john", p1c, Stamp(CET, "2023-01-16 09:12:05.64"), [
        t_item("FirstName", "John"), t_item("MiddleInitial", "R."), t_item("LastName", "Smith"),
        item("FullName", textlist("John Smith", JOHN)),
        t_item("MailAddress", INET[JOHN]), t_item("InternetAddress", INET[JOHN]),
        t_item("CompanyName", "Acme Corporation"), t_item("JobTitle", "Program Manager"),
        t_item("Department", "PMO"),
        t_item("OfficePhoneNumber", "+41 44 555 01 23"), t_item("CellPhoneNumber", "+41 79 555 01 23"),
        t_item("OfficeFAXPhoneNumber", "+41 44 555 01 99"),
        t_item("OfficeStreetAddress", "Bahnhofstrasse 12\nBuilding B"), t_item("OfficeCity", "Zurich"),
        t_item("OfficeState", "ZH"), t_item("OfficeZIP", "8001"), t_item("OfficeCountry", "Switzerland"),
        t_item("StreetAddress", "Seestrasse 45"), t_item("City", "Kilchberg"), t_item("State", "ZH"),
        t_item("Zip", "8802"), t_item("country", "Switzerland"), t_item("PhoneNumber", "+41 44 555 77 10"),
        item("Birthday", dtm_date(Stamp(CET, "1978-06-14"))),
        t_item("WebSite", "https://www.acme.example/people/jsmith"),
        tl_item("Categories", "Acme", "Project Alpha"),
    ], comment=rt(pardef(1), par(1, r("Sponsor of "), r("Project Alpha", style="bold"),
                                  r(". Prefers calls before 10:00.")),
                  par(None, r("Assistant: Claire Dubois, +41 44 555 01 24", size="9pt", color="gray"))),
        seq=4, revs=(Stamp(CET, "2019-04-03 13:22:10.02"), Stamp(CET, "2021-11-08 08:40:55.71")))

    p2c = Stamp(CET, "2023-09-27 15:04:38.50")
    person("anna", p2c, Stamp(CET, "2024-04-03 10:20:11.08"), [
        t_item("FirstName", "Anna"), t_item("LastName", "Schmidt"), item("FullName", textlist("Anna Schmidt")),
        t_item("MailAddress", ANNA_INET), t_item("InternetAddress", ANNA_INET),
        t_item("CompanyName", "Partner Solutions GmbH"), t_item("JobTitle", "Gesch\u00e4ftsf\u00fchrerin"),
        t_item("OfficePhoneNumber", "+49 89 555 123 0"), t_item("CellPhoneNumber", "+49 151 555 12345"),
        t_item("OfficeStreetAddress", "M\u00fcllerstra\u00dfe 12"), t_item("OfficeCity", "M\u00fcnchen"),
        t_item("OfficeZIP", "80331"), t_item("OfficeCountry", "Germany"),
        t_item("WebSite", "https://www.partner.example/"),
        tl_item("Categories", "Partner", "Project Alpha"),
    ], comment=rt(pardef(1), par(1, r("Met at the Munich partner day, 26.09.2023."))), seq=2,
        revs=(p2c.plus(0.4),))

    p3c = Stamp(CET, "2020-02-10 07:12:09.33")
    person("ravi", p3c, Stamp(CET, "2024-03-20 09:40:00.15"), [
        t_item("FirstName", "Ravi"), t_item("LastName", "Kumar"), item("FullName", textlist("Ravi Kumar", RAVI)),
        t_item("MailAddress", INET[RAVI]), t_item("CompanyName", "Acme India Pvt. Ltd."),
        t_item("JobTitle", "Regional Sales Lead"),
        t_item("OfficePhoneNumber", "+91 80 5550 1234"), t_item("CellPhoneNumber", "+91 98450 55501"),
        t_item("OfficeStreetAddress", "ITPL Main Road, Whitefield"), t_item("OfficeCity", "Bengaluru"),
        t_item("OfficeState", "Karnataka"), t_item("OfficeZIP", "560066"), t_item("OfficeCountry", "India"),
        item("Birthday", dtm_date(Stamp(CET, "1986-11-02"))),
        tl_item("Categories", "Acme"),
    ], seq=3, revs=(p3c.plus(0.3), Stamp(CET, "2022-06-01 12:00:41.27")))

    p4c = Stamp(CET, "2024-02-01 16:48:27.94")
    person("sophie", p4c, p4c.plus(0.6), [
        t_item("FirstName", "Sophie"), t_item("LastName", "Martin"), item("FullName", textlist("Sophie Martin")),
        t_item("MailAddress", "s.martin@example.org"),
        item("Categories", textlist("")),
    ])

    gc = Stamp(CET, "2024-03-11 08:15:00.61")
    g = unid("contact:group-alpha", gc)
    docs.append(document("Group", noteinfo(0x91E + 4 * len(docs), g, 2, gc, Stamp(CET, "2024-03-21 18:04:51.30")),
                         updatedby(JANE), revisions(gc.plus(0.5)), [
                             t_item("Type", "Group"),
                             t_item("ListName", "Project Alpha Core"),
                             t_item("GroupType", "0"),
                             t_item("ListDescription", "Core team and partner contact of Project Alpha"),
                             item("Members", textlist(JOHN, MARIA, PETER, ANNA_INET), names=True),
                             tl_item("Categories", "Project Alpha"),
                         ]))
    return database(attrs, info, docs)


# --------------------------------------------------------------------------- discussion application

APP_CREATED = Stamp(CET, "2023-10-30 09:00:12.48")
APP_REPLICA = APP_CREATED.timedate_hex()
APP_VIEW = unid("app:view:AllDocuments", Stamp(CET, "2023-10-30 09:04:51.02"))
APP_FORM = unid("app:form:MainTopic", Stamp(CET, "2023-10-30 09:03:20.77"))
UNRESOLVED = unid("app:deleted-doc", Stamp(CET, "2023-10-31 14:10:02.00"))


def app_design():
    fc = Stamp(CET, "2023-10-30 09:03:20.77")
    form = E("form", {"name": "Main Topic", "alias": "MainTopic", "publicaccess": "false",
                      "designerversion": "8.5.3", "conflictaction": "mergeconflicts"},
             "\n", noteinfo(0x116, APP_FORM, 5, fc, Stamp(CET, "2023-10-30 11:41:09.30")),
             "\n", updatedby(ADMIN), "\n", E("wassignedby", {}, E("name", {}, ADMIN)),
             "\n", E("body", {}, rt(
                 pardef(1),
                 par(1, "Subject: ", E("field", {"type": "text", "kind": "editable", "name": "Subject"})),
                 par(None, "Category: ", E("field", {"type": "keyword", "kind": "editable", "name": "Categories",
                                                     "allowmultivalues": "true"},
                                           E("keywords", {"ui": "dialoglist", "allownew": "true"}))),
                 par(None, "Readers: ", E("field", {"type": "readers", "kind": "editable", "name": "DocReaders",
                                                    "allowmultivalues": "true", "choicesdialog": "addressbook"})),
                 par(None, E("field", {"type": "richtext", "kind": "editable", "name": "Body"})))),
             "\n", item("$$ScriptName", text("Main Topic"), summary=False, sign=True))
    vc = Stamp(CET, "2023-10-30 09:04:51.02")
    view = E("view", {"name": "All Documents", "alias": "AllDocuments", "showinmenu": "true", "default": "true",
                      **VIEW_COMMON},
             "\n", noteinfo(0x11E, APP_VIEW, 7, vc, Stamp(CET, "2023-10-30 11:52:30.05")),
             "\n", updatedby(ADMIN), "\n", E("wassignedby", {}, E("name", {}, ADMIN)),
             E("code", {"event": "selection"}, E("formula", {}, "SELECT @All")),
             "\n", joined([
                 column("$Cat", "12", "Category", "Categories", "ascending",
                        {"categorized": "true", "twisties": "true"}),
                 column("Subject", "40", "Topic", "@If(@IsResponseDoc; Subject + \" (\" + AbrFrom + \")\"; Subject)"),
                 column("AbrFrom", "16", "Author"),
             ]))
    return [form, view]


def app_docs(mail_ids):
    docs = []
    icon_bitmap = notesbitmap("attachment-icon", 388)
    readers = item("DocReaders", textlist(PETER, "Project Alpha Core", "[Editors]", "LocalDomainServers"),
                   names=True, readers=True)
    authors = item("DocAuthors", textlist(PETER, "[Editors]"), authors=True, names=True)

    # D4 first (others link to it)
    d4_created = Stamp(CET, "2023-11-02 08:47:19.66")
    d4 = unid("app:d4", d4_created)
    d1_created = Stamp(CET, "2023-11-06 10:14:05.31")
    d1 = unid("app:d1", d1_created)

    # ---- D1 main topic: tables, section, span/region, horizrule, attachment ------------------------
    hdr = {"columnspan": "3", "bgcolor": "#1f3864"}
    nested = table({"widthtype": "fixedleft", "cellbordercolor": "gray", "leftmargin": "0"},
                   ["1.1000in", "0.9000in"], [
                       tablerow(std_cell({"bgcolor": "#f2f2f2"}, 9, r("Component", size="9pt", style="bold"),
                                         new_pardef=pardef(9, keepwithnext="true", keeptogether="true")),
                                std_cell({"bgcolor": "#f2f2f2"}, 9, r("Version", size="9pt", style="bold"))),
                       tablerow(std_cell(None, 9, r("Gateway", size="9pt")), std_cell(None, 9, r("3.2", size="9pt"))),
                   ])
    body1 = rt(
        pardef(1, keepwithnext="true"),
        par(1, r("Alpha architecture overview", size="14pt", style="bold", color="#1f3864")),
        pardef(2),
        par(2, r("This topic collects the target architecture. German summary for the works council:")),
        par(None, E("span", {"propid": "1", "regionid": "1"},
                    r("Die Integration verbindet das CRM mit dem Lager- und dem Abrechnungssystem."))),
        par(None, E("region", {"regionid": "1"}, r("Personenbezogene Daten werden nur in der EU verarbeitet."))),
        par(None, E("region", {"regionid": "1", "end": "true"}, r("Details siehe Abschnitt 4 der Spezifikation."))),
        par(None),
        table({"widthtype": "fixedleft", "cellbordercolor": "#a6a6a6", "leftmargin": "0",
               "refwidth": "6.7000in"}, ["1.5000in", "2.7000in", "2.5000in"], [
            tablerow(std_cell(hdr, 3, run(fa(style="bold", color="white"), "Layers and components"),
                              new_pardef=pardef(3, align="center", keepwithnext="true", keeptogether="true"))),
            tablerow(
                tablecell({"rowspan": "2", "bgcolor": "#d9e2f3", "valign": "center"},
                          pardef(4, keepwithnext="true", keeptogether="true"), par(4, r("Backend", style="bold"))),
                std_cell(None, 4, r("API gateway"), br(), r("(REST, OAuth 2.0)", size="8pt", color="gray")),
                tablecell(None, par(4, r("Versions:", size="9pt")), nested)),
            tablerow(std_cell(None, 4, r("Sync service")),
                     std_cell({"bgcolor": "#fff2cc"}, 4, r("Nightly batch, 02:00 CET"))),
            tablerow(std_cell({"bgcolor": "#e2efda"}, 4, r("Frontend", style="bold")),
                     tablecell({"columnspan": "2"}, par(4, r("Notes client and browser (XPages)")))),
        ]),
        par(2),
        pardef(5, leftmargin="0.2500in"),
        E("section", {"onread": "collapse", "expanded": "false"},
          E("sectiontitle", {"pardef": "5", "color": "#1f3864", "borderstyle": "twoline"},
            font(size="11pt", style="bold"), text("Open questions")),
          "\n", pardef(6, leftmargin="0.5000in", list="bullet"),
          "\n", par(6, r("Who owns the master data for price lists?")),
          "\n", par(None, r("Do we need a second data centre for the pilot?"))),
        par(2, E("horizrule", {"height": "0.0313in", "width": "100%", "color": "silver", "use3dshading": "false"})),
        par(2, r("Diagram (PNG): "), attachmentref("alpha-architecture.png", icon_bitmap, gif_icon=False)),
        par(None, r("Requirements: "), doclink(d4, APP_VIEW, APP_REPLICA, "Alpha requirements specification v1.2")),
    )
    textprops = E("textproperties", {}, "\n", E("textproperty", {"propid": "0", "language": "EN"}),
                  "\n", E("textproperty", {"propid": "1", "language": "DE"}))
    items = [
        t_item("Subject", "Alpha architecture overview"),
        tl_item("Categories", "Architecture", "Alpha"),
        names_item("From", PETER),
        t_item("AbrFrom", abbr(PETER)),
        readers, authors,
        item("Body", body1),
        file_item("alpha-architecture.png", architecture_png(), Stamp(CET, "2023-11-06 10:12:40.18"),
                  Stamp(CET, "2023-11-03 17:30:00.00")),
    ]
    docs.append(document("MainTopic", noteinfo(0x8F6, d1, 5, d1_created, Stamp(CET, "2023-11-08 15:02:44.37")),
                         updatedby(PETER, JANE),
                         revisions(d1_created.plus(31.2), Stamp(CET, "2023-11-06 11:40:13.05"),
                                   Stamp(CET, "2023-11-07 09:15:22.60"), Stamp(CET, "2023-11-08 15:02:44.30")),
                         items, textprops=textprops))

    # ---- D2 response with a hotspot doclink ------------------------------------------------------
    d2_created = Stamp(CET, "2023-11-07 09:41:55.02")
    d2 = unid("app:d2", d2_created)
    body2 = rt(pardef(1),
               par(1, r("The sync service must finish before 06:00 \u2013 see "),
                   doclink(d1, APP_VIEW, APP_REPLICA, "Alpha architecture overview",
                           run(fa(color="blue", style="underline"), "the overview")),
                   r(" for the batch window.")),
               par(None, r("Sizing notes are on "),
                   urllink("https://wiki.acme.example/projects/alpha/sizing", "the wiki page"), r(".")))
    docs.append(document("Response", noteinfo(0x8FA, d2, 2, d2_created, d2_created.plus(95.3)),
                         updatedby(JOHN), revisions(d2_created.plus(1.0)), [
                             t_item("Subject", "Sync service sizing"),
                             tl_item("Categories", "Architecture", "Alpha"),
                             names_item("From", JOHN),
                             t_item("AbrFrom", abbr(JOHN)),
                             item("DocReaders", textlist(PETER, "Project Alpha Core", "[Editors]",
                                                         "LocalDomainServers"), names=True, readers=True),
                             t_item("ParentSubject", "Alpha architecture overview"),
                             item("Body", body2),
                             ref_item("$REF", d1),
                         ], parent=d1))

    # ---- D3 response to response ---------------------------------------------------------------
    d3_created = Stamp(CET, "2023-11-07 14:02:31.70")
    d3 = unid("app:d3", d3_created)
    docs.append(document("ResponseToResponse", noteinfo(0x8FE, d3, 1, d3_created, d3_created.plus(0.6)),
                         updatedby(MARIA), None, [
                             t_item("Subject", "Agreed - marketing needs the data by 06:00"),
                             names_item("From", MARIA),
                             t_item("AbrFrom", abbr(MARIA)),
                             item("DocReaders", textlist(PETER, "Project Alpha Core", "[Editors]",
                                                         "LocalDomainServers"), names=True, readers=True),
                             item("Body", rt(pardef(1), par(1, r("Agreed. Campaign mails go out at 07:00, so "
                                                                  "06:00 is the latest.")))),
                             ref_item("$REF", d2),
                         ], parent=d2))

    # ---- D4 document library document with two attachments -----------------------------------------
    m4 = mail_ids["m4"][0]
    body4 = rt(pardef(1),
               par(1, r("Version 1.2 of the requirements, approved in the steering meeting.")),
               par(None, attachmentref("Alpha-Requirements-v1.2.pdf", icon_bitmap, gif_icon=False), r(" "),
                   attachmentref("glossary.csv", icon_bitmap, gif_icon=False)),
               par(None, r("Superseded draft: "),
                   doclink(UNRESOLVED, APP_VIEW, APP_REPLICA, "Alpha requirements specification v1.1 (deleted)")),
               par(None, r("Status report mailed by Maria: "),
                   doclink(m4, V_ALL, MAIL_REPLICA, "Alpha: status report and kick-off minutes",
                           server=MAILSRV)))
    docs.append(document("Document", noteinfo(0x8F2, d4, 3, d4_created, Stamp(CET, "2023-11-06 16:20:02.42")),
                         updatedby(MARIA), revisions(d4_created.plus(12.5), Stamp(CET, "2023-11-03 10:00:51.09")),
                         [
                             t_item("Subject", "Alpha requirements specification v1.2"),
                             tl_item("Categories", "Specifications"),
                             names_item("From", MARIA),
                             t_item("AbrFrom", abbr(MARIA)),
                             item("DocVersion", number(1.2)),
                             item("ReviewDate", dtm_date(Stamp(CET, "2024-01-15"))),
                             tl_item("Keywords", "CRM", "EMEA", "requirements"),
                             t_item("ImportNote", "Migrated from the legacy spec library\x1b(ref 2019/113)"),
                             item("Body", body4),
                             file_item("Alpha-Requirements-v1.2.pdf", SPEC_PDF, Stamp(CET, "2023-11-02 08:46:50.11"),
                                       Stamp(CET, "2023-11-01 18:22:09.00"), desiredcompression="huffman"),
                             file_item("glossary.csv", GLOSSARY_CSV, Stamp(CET, "2023-11-02 08:46:58.73"),
                                       Stamp(CET, "2023-10-20 12:00:00.00")),
                         ]))

    # ---- D5 main topic: button, computed text, bitmap, OLE object ----------------------------------
    d5_created = Stamp(CET, "2023-11-09 08:05:44.15")
    d5 = unid("app:d5", d5_created)
    ole = E("objectref", {"version": "2", "name": "EXT31744", "class": "Excel.Sheet.12", "displayformat": "metafile",
                          "description": "Microsoft Excel Worksheet",
                          "classid": "{00020830-0000-0000-C000-000000000046}", "storageformat": "structstorage"},
            picture("notesbitmap", notesbitmap("ole-preview", 900), width=180, height=96,
                    attrs_first="height", scaledheight="1in", scaledwidth="1.8750in"))
    button = E("button", {"width": "2in", "widthtype": "maximum", "maxlines": "1", "wraptext": "true",
                          "bgcolor": "system"},
               E("code", {"event": "click"},
                 E("formula", {}, "FIELD Status := \"Approved\";\n@Command([FileSave]);\n@Command([FileCloseWindow])")),
               "Approve checklist")
    body5 = rt(
        pardef(1),
        par(1, r("Kick-off checklist", size="12pt", style="bold")),
        pardef(2, leftmargin="0.2500in", list="check"),
        par(2, r("Room booked")),
        par(None, r("Agenda sent")),
        pardef(3, leftmargin="0.2500in", list="uncheck"),
        par(3, r("Partner NDA signed")),
        par(1, r("Last edited by "), E("computedtext", {},
                                       E("code", {"event": "value"},
                                         E("formula", {}, "@Name([Abbreviate]; @Subset($UpdatedBy; -1))")))),
        par(None, r("Screenshot of the old process:")),
        par(None, picture("notesbitmap", notesbitmap("screenshot", 1600), width=220, height=120)),
        par(None, r("Budget sheet (embedded):")),
        par(None, ole),
        par(None, button),
        par(None, r("Overview: "), doclink(d1, APP_VIEW, APP_REPLICA, "Alpha architecture overview")),
    )
    docs.append(document("MainTopic", noteinfo(0x902, d5, 2, d5_created, d5_created.plus(410.2)),
                         updatedby(JANE), revisions(d5_created.plus(2.0)), [
                             t_item("Subject", "Kick-off checklist"),
                             tl_item("Categories", "Alpha", "Organisation"),
                             names_item("From", JANE),
                             t_item("AbrFrom", abbr(JANE)),
                             item("DocAuthors", textlist(JANE, "[Editors]"), authors=True, names=True),
                             t_item("Status", "Open"),
                             item("Body", body5),
                             file_item("EXT31744", pseudo_bytes("ole-ext", 1536), d5_created.plus(60.0),
                                       d5_created.plus(60.0), hosttype="bytearrayext"),
                             file_item("STG50311", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" +
                                       pseudo_bytes("ole-stg", 2040), d5_created.plus(60.0), d5_created.plus(60.0),
                                       hosttype="bytearraypage"),
                         ]))
    return docs, {"d1": d1, "d2": d2, "d3": d3, "d4": d4, "d5": d5}


def discussion(mail_ids):
    attrs = {"version": "12.0", "maintenanceversion": "2.0", "replicaid": APP_REPLICA,
             "path": "apps/alpha-discussion.nsf", "title": "Acme Project Discussion", "increasemaxfields": "true",
             "compressdata": "true"}
    info = databaseinfo(APP_REPLICA, 5, 1835008, "84.3540736607143", Stamp(CET, "2023-11-09 08:12:34.35"),
                        Stamp(CET, "2023-10-30 11:52:30.05"))
    docs, ids = app_docs(mail_ids)
    # notes appear in note-id order: design first, then the documents
    order = sorted(docs, key=lambda d: int(d.children[1].attrs[0][1], 16))
    return database(attrs, info, app_design() + order), ids


# --------------------------------------------------------------------------- main


def build() -> dict[str, bytes]:
    mail_root, folders_csv, mail_ids = mail()
    cal_root, _ = calendar(mail_ids)
    app_root, _ = discussion(mail_ids)
    return {
        "mail/jdoe-mail.dxl": serialize(mail_root),
        "mail/jdoe-mail.folders.csv": folders_csv,
        "mail/jdoe-calendar.dxl": serialize(cal_root),
        "mail/jdoe-todo.dxl": serialize(todos()),
        "contacts/jdoe-names.dxl": serialize(contacts()),
        "apps/teamroom-discussion.dxl": serialize(app_root),
    }


def main(argv: list[str]) -> int:
    check = "--check" in argv
    status = 0
    for rel, data in build().items():
        path = SAMPLES / rel
        if check:
            if not path.exists() or path.read_bytes() != data:
                print(f"differs: {rel}")
                status = 1
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote {rel} ({len(data):,} bytes)")
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
