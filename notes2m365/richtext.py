"""DXL ``<richtext>`` to safe HTML, built as an lxml tree.

:func:`render_richtext` walks a ``<richtext>`` element (DXL namespace or none)
and builds ``<div data-item="...">`` holding HTML.  :func:`render_raw_richtext`
extracts the text of rich text exported as CD records (``<rawitemdata type='1'>``).

Output conventions
------------------
* Every Notes paragraph (``<par>``) becomes a ``<div>`` (no default margins, so
  spacing matches Notes); an empty paragraph is ``<div><br/></div>``.  The
  pardef gives ``text-align``, ``margin-top``/``margin-bottom`` (spacebefore /
  spaceafter: 1 = none, 1.5 = 0.5em, 2 = 1em), ``line-height``,
  ``margin-left`` (leftmargin, in the unit given) and ``text-indent``
  (firstlineleftmargin minus leftmargin).  ``rightmargin`` is a position
  measured from the left in Notes (``100%`` is the default), so only a
  percentage below 100 becomes ``margin-right: (100 - x)%``.
* Consecutive list paragraphs with the same list kind become one ``<ul>`` /
  ``<ol type>`` of ``<li>``; a larger leftmargin nests a list inside the
  previous item (at most 8 levels).  check/uncheck lists are ``<ul>`` without
  bullets, each item starting with U+2611 / U+2610.
* Runs: ``<span style="color;font-size;font-family;background-color">`` around
  ``<b>``, ``<i>``, ``<u>``, ``<s>``, ``<sup>``, ``<sub>``.  TAB characters are
  kept, wrapped in ``<span style="white-space:pre">``.  Newlines inside DXL
  character data follow the DXL importer rule (dropped, or one space).
* Sections: ``<div class="notes-section" data-expanded>`` holding
  ``<div class="notes-section-title">`` and ``<div class="notes-section-body">``
  (a div rather than ``<details>``: Outlook and SharePoint do not support it).
* Tables: ``<table>``, ``<colgroup><col style="width">``, ``<tr>``, ``<td>`` with
  colspan/rowspan/background/vertical-align/border; tabbed and caption tables
  show every row, each labelled row preceded by
  ``<tr class="notes-tablabel"><th colspan=n>label</th></tr>``.
* Things that cannot be migrated become
  ``<span class="notes-placeholder" data-notes-type="...">[Label]</span>`` plus
  a warning (warnings are de-duplicated, in document order).
* Links: ``<a href>`` only for http, https, mailto, notes and ftp URLs; Notes
  links are ``notes:///replica/view/document`` with ``data-notes-link`` etc.;
  attachment references are ``<a href="attachment:name" data-attachment>``;
  pictures are ``<img src="cid:...">`` with the bytes in
  :attr:`RenderedRichText.images`.

Safety: only elements and attributes written by this module appear in the
output; DXL's ``htmlstyle``/``extrahtmlattrs``/pass-thru HTML are never copied;
every CSS value written from an attribute is validated (colour names / hex,
numbers with units); no empty non-void element is left (it would be read as an
open tag by HTML parsers).  Nesting deeper than :data:`MAX_DEPTH` output levels
(about 50 nested tables) is flattened to text.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lxml import etree

from .model import Attachment

__all__ = [
    "InlineImage",
    "RenderedRichText",
    "render_richtext",
    "render_raw_richtext",
    "MAX_DEPTH",
    "RAW_CD_WARNING",
]

#: Output nesting budget (each nested output element costs one; a table costs three).
MAX_DEPTH = 160
#: Below this depth a run's wrappers (span + at most 6 tags) cannot reach MAX_DEPTH.
_FAST_DEPTH = MAX_DEPTH - 8
#: Lists nest by margin up to this many levels.
MAX_LIST_LEVELS = 8
#: Warning added to every rendering of raw CD rich text.
RAW_CD_WARNING = "rich text exported as raw CD records: text only, formatting lost"

_SubElement = etree.SubElement
_tostring = etree.tostring
_Element = etree.Element


# -- public value objects ---------------------------------------------------------------------


@dataclass(slots=True)
class InlineImage:
    """An image embedded in rich text, referenced from the HTML as ``cid:{content_id}``."""

    content_id: str
    filename: str
    content_type: str
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(slots=True)
class RenderedRichText:
    """One rich-text item rendered: the ``<div data-item>`` tree, its images, warnings and features.

    The simplest bodies (paragraphs of plain runs) are rendered straight to markup (``_markup``, the
    tree's serialization byte for byte); their tree is parsed from it when ``element`` is asked for.
    """

    item_name: str
    _element: Any  # lxml.etree._Element: <div data-item="..."> ... </div>; None while only the markup exists
    images: list[InlineImage] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    features: Counter[str] = field(default_factory=Counter)
    _markup: str | None = field(default=None, repr=False)

    @property
    def element(self) -> Any:
        if self._element is None:
            self._element = etree.fromstring(self._markup)
            self._markup = None  # the tree may now be changed: html serializes it again
        return self._element

    @property
    def html(self) -> str:
        """Well-formed markup (XML serialization, no namespace declarations)."""
        if self._markup is not None:
            return self._markup
        return etree.tostring(self._element, encoding="unicode", method="xml")


# -- tag names --------------------------------------------------------------------------------

_LOCAL: dict[str, str] = {}


def _localname(tag: str) -> str:
    name = _LOCAL.get(tag)
    if name is None:
        name = tag.rpartition("}")[2]
        if len(_LOCAL) < 4096:
            _LOCAL[tag] = name
    return name


def _first_child(el: Any, name: str) -> Any:
    for ch in el:
        tag = ch.tag
        if tag.__class__ is str and (_LOCAL.get(tag) or _localname(tag)) == name:
            return ch
    return None


# -- validation of values copied into the output ------------------------------------------------

_COLOR_NAMES = frozenset(
    "aqua black blue fuchsia gray green lime maroon navy olive purple red silver teal white yellow".split()
)
_HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\Z")
_LEN_RE = re.compile(r"\s*(\d{1,5}(?:\.\d{0,6})?|\.\d{1,6})\s*(in|cm|mm|pt|pc|px|ex|em|%)?\s*\Z", re.IGNORECASE)
_TO_INCHES = {"in": 1.0, "cm": 1 / 2.54, "mm": 1 / 25.4, "pt": 1 / 72, "pc": 1 / 6, "px": 1 / 96}
_PIXELS_RE = re.compile(r"(\d{1,2})(?:px)?\Z")
_PX_ATTR = re.compile(r"\s*(\d{1,5})(?:px)?\s*\Z")
_FONT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.\-]{0,62}\Z")
_FONT_SIZE_RE = re.compile(r"\s*(\d{1,3}(?:\.\d{1,3})?)\s*(pt)?\s*\Z")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._:\-]")
_CID_UNSAFE = re.compile(r"[^A-Za-z0-9._\-]")
_HEX16 = re.compile(r"[0-9A-Fa-f]{16}\Z")
_HEX32 = re.compile(r"[0-9A-Fa-f]{32}\Z")
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_WS_RUN = re.compile(r"\s+")


@lru_cache(maxsize=1024)
def _color(value: str | None) -> str | None:
    """A CSS colour from a DXL colour, or None (``none``/``system``/anything invalid)."""
    if not value:
        return None
    v = value.strip().lower()
    if v in _COLOR_NAMES:
        return v
    if _HEX_COLOR.match(v):
        return v
    return None


def _fmt_num(num: str) -> str:
    if "." in num:
        num = num.rstrip("0").rstrip(".")
    if num.startswith("."):
        num = "0" + num
    return num or "0"


@lru_cache(maxsize=2048)
def _length(value: str | None, allow_pct: bool = True) -> tuple[str, float | None] | None:
    """(css, inches-or-None) for a DXL length (``1.2500in``, ``50%``, ``0``), else None."""
    if not value:
        return None
    m = _LEN_RE.match(value)
    if m is None:
        return None
    num, unit = m.group(1), (m.group(2) or "").lower()
    number = float(num)
    if not unit:
        if number != 0:
            return None  # a bare non-zero number has no defined unit
        return "0", 0.0
    if unit == "%":
        if not allow_pct or number > 100:
            return None
        return f"{_fmt_num(num)}%", None
    factor = _TO_INCHES.get(unit)
    inches = number * factor if factor is not None else None
    if inches is not None and inches > 50:
        return None
    if unit in ("ex", "em") and number > 200:
        return None
    return f"{_fmt_num(num)}{unit}", inches


@lru_cache(maxsize=256)
def _pixels_1to4(value: str | None) -> str | None:
    """CSS border-width from DXL %pixels.1to4 (``1px 0px``), else None."""
    if value is None:
        return None
    parts = value.split()
    if not 1 <= len(parts) <= 4:
        return None
    out = []
    for p in parts:
        m = _PIXELS_RE.match(p)
        if m is None:
            return None
        out.append(f"{int(m.group(1))}px")
    return " ".join(out)


def _int_attr(value: str | None, lo: int, hi: int) -> int | None:
    if value is None:
        return None
    value = value.strip()
    if not value.isdigit() or len(value) > 6:
        return None
    n = int(value)
    return n if lo <= n <= hi else None


def _hexid(value: str | None, pattern: re.Pattern[str]) -> str | None:
    if not value:
        return None
    v = value.strip().replace(":", "")
    return v.upper() if pattern.match(v) else None


def _clip(text: str, limit: int = 200) -> str:
    text = _XML_INVALID.sub("", text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# -- URLs --------------------------------------------------------------------------------------

_ALLOWED_SCHEMES = frozenset({"http", "https", "mailto", "notes", "ftp"})
_URL_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_BARE_HOST = re.compile(r"(?:www\.)?[A-Za-z0-9][A-Za-z0-9\-]*(?:\.[A-Za-z0-9\-]+)+(?:[:/?#]|\Z)")


def _safe_url(href: str) -> tuple[str | None, str]:
    """(url or None, scheme).  Browsers drop tabs/newlines inside URLs, so they are removed first."""
    cleaned = _URL_CONTROL.sub("", href).strip()
    m = _SCHEME_RE.match(cleaned)
    if m is not None:
        scheme = m.group(1).lower()
        if scheme in _ALLOWED_SCHEMES:
            return cleaned.replace(" ", "%20"), scheme
        return None, scheme
    if _BARE_HOST.match(cleaned):  # "www.example.com/page": Notes opens it as http
        return "http://" + cleaned.replace(" ", "%20"), "http"
    return None, ""


# -- fonts and pardefs -------------------------------------------------------------------------

_STYLE_TAGS = {
    "bold": "b",
    "italic": "i",
    "underline": "u",
    "strikethrough": "s",
    "superscript": "sup",
    "subscript": "sub",
}
_TAG_ORDER = ("b", "i", "u", "s", "sup", "sub")
_GENERIC_FONTS = {
    "monospace": "monospace",
    "serif": "serif",
    "sans-serif": "sans-serif",
    "user-interface": "sans-serif",
    "multilingual": None,
}
_HIGHLIGHTS = {"yellow": "#ffff00", "pink": "#ffc0cb", "blue": "#add8e6"}
_NO_WRAP: tuple[tuple[str, ...], str | None] = ((), None)


@lru_cache(maxsize=4096)
def _font_wrappers(
    name: str | None, color: str | None, size: str | None, style: str | None, highlight: str | None
) -> tuple[tuple[str, ...], str | None]:
    """(semantic tags, span style) for a ``<font>`` (and run highlight)."""
    css = []
    c = _color(color)
    if c:
        css.append("color:" + c)
    if size:
        m = _FONT_SIZE_RE.match(size)
        if m is not None:
            pts = float(m.group(1))
            if 1 <= pts <= 200:
                css.append(f"font-size:{_fmt_num(m.group(1))}pt")
    if name:
        generic = _GENERIC_FONTS.get(name, "")
        if generic is None:
            pass
        elif generic:
            css.append("font-family:" + generic)
        elif _FONT_NAME_RE.match(name):
            css.append(f"font-family:'{name}'")
    if highlight:
        bg = _HIGHLIGHTS.get(highlight)
        if bg:
            css.append("background-color:" + bg)
    tags: tuple[str, ...] = ()
    if style:
        found = {_STYLE_TAGS[t] for t in style.split() if t in _STYLE_TAGS}
        if "sup" in found and "sub" in found:
            found.discard("sub")
        tags = tuple(t for t in _TAG_ORDER if t in found)
    return tags, (";".join(css) or None)


# -- caches of output templates -------------------------------------------------------------------
#
# Copying a detached read-only template (el.__copy__()) and appending the copy is about twice
# as fast as SubElement with an attribute dict, so elements with attributes are made that way.
# Templates are never modified, so copies may be made from any thread.  Each cache holds at
# most _CACHE_LIMIT entries (about 1 KB each) and is emptied when full.

_CACHE_LIMIT = 1024


def _cache_put(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


# tuple(font.items()) -> _wrap_template(font)
_WRAP_TEMPLATES: dict[tuple[tuple[str, str], ...], tuple[Any, int]] = {}


def _wrap_template(font: Any) -> tuple[Any, int]:
    """(template of the wrapper chain of a run with this ``<font>`` and no highlight, or
    None when there is none; the number of nested elements)."""
    key = tuple(font.items())
    entry = _WRAP_TEMPLATES.get(key)
    if entry is None:
        get = font.get
        tags, css = _font_wrappers(get("name"), get("color"), get("size"), get("style"), None)
        tmpl = None
        levels = len(tags)
        if css:
            tmpl = target = _Element("span", {"style": css})
            levels += 1
        for t in tags:
            target = _Element(t) if tmpl is None else _SubElement(target, t)
            if tmpl is None:
                tmpl = target
        entry = (tmpl, levels)
        _cache_put(_WRAP_TEMPLATES, key, entry)
    return entry


_ALIGN = {"right": "text-align:right", "center": "text-align:center", "full": "text-align:justify"}
_SPACING = {"1.5": "0.5em", "2": "1em"}
_LINE_HEIGHT = {"1.5": "line-height:1.5", "2": "line-height:2"}
_LIST_KINDS = frozenset(
    "bullet number check uncheck circle square alphaupper alphalower romanupper romanlower".split()
)
# list kind -> (tag, attributes, item prefix)
_LIST_SPEC: dict[str, tuple[str, dict[str, str], str | None]] = {
    "bullet": ("ul", {}, None),
    "circle": ("ul", {"style": "list-style-type:circle"}, None),
    "square": ("ul", {"style": "list-style-type:square"}, None),
    "check": ("ul", {"class": "notes-checklist", "style": "list-style-type:none"}, "\u2611 "),
    "uncheck": ("ul", {"class": "notes-checklist", "style": "list-style-type:none"}, "\u2610 "),
    "number": ("ol", {}, None),
    "alphaupper": ("ol", {"type": "A"}, None),
    "alphalower": ("ol", {"type": "a"}, None),
    "romanupper": ("ol", {"type": "I"}, None),
    "romanlower": ("ol", {"type": "i"}, None),
}


@dataclass(frozen=True, slots=True)
class _ParDef:
    attrs: dict[str, str] | None  # attributes of a plain paragraph's <div> (style)
    item_attrs: dict[str, str] | None  # attributes of a list item (no margin-left / text-indent)
    list: str | None
    margin: float  # left margin in inches, for list nesting
    # templates of the <div> / <li> with those attributes (None: no attributes)
    div: Any = None
    li: Any = None


_DEFAULT_PARDEF = _ParDef(None, None, None, 0.0)


def _style_attrs(css: list[str]) -> dict[str, str] | None:
    return {"style": ";".join(css)} if css else None


@lru_cache(maxsize=1024)
def _make_pardef(
    align: str | None,
    spacebefore: str | None,
    spaceafter: str | None,
    linespacing: str | None,
    leftmargin: str | None,
    rightmargin: str | None,
    firstline: str | None,
    list_kind: str | None,
    origin: float,
) -> _ParDef:
    """Paragraph style.  Notes margins outside tables are positions from the page edge,
    where 1in is the normal text position (the DTD's table ``leftmargin`` default); inside
    table cells they are offsets from the cell edge ([DTD901] ``table/@r4spacing`` comment).
    ``origin`` is that zero point in inches: margins are rendered relative to it."""
    common = []
    if align in _ALIGN:
        common.append(_ALIGN[align])
    sb = _SPACING.get(spacebefore or "")
    if sb:
        common.append("margin-top:" + sb)
    sa = _SPACING.get(spaceafter or "")
    if sa:
        common.append("margin-bottom:" + sa)
    lh = _LINE_HEIGHT.get(linespacing or "")
    if lh:
        common.append(lh)
    own = list(common)
    left = _length(leftmargin)
    left_abs = left[1] if left is not None and left[1] is not None else origin
    left_in = max(0.0, left_abs - origin)
    if left is not None and left[1] is None:  # a percentage: kept as written
        own.append("margin-left:" + left[0])
    elif left_in > 1e-4:
        own.append(f"margin-left:{_fmt_num(f'{left_in:.4f}')}in")
    right = _length(rightmargin)
    if right is not None and right[0].endswith("%"):
        pct = float(right[0][:-1])
        if 0 < pct < 100:
            own.append(f"margin-right:{_fmt_num(f'{100 - pct:.4f}')}%")
    first = _length(firstline)
    if first is not None and first[1] is not None:
        indent = first[1] - left_abs
        if abs(indent) > 1e-4:
            own.append(f"text-indent:{_fmt_num(f'{indent:.4f}')}in")
    kind = list_kind if list_kind in _LIST_KINDS else None
    attrs = _style_attrs(own)
    item_attrs = _style_attrs(common)
    return _ParDef(
        attrs,
        item_attrs,
        kind,
        left_in,
        _Element("div", attrs) if attrs else None,
        _Element("li", item_attrs) if item_attrs else None,
    )


_PARDEF_KEYS = frozenset(
    "align spacebefore spaceafter linespacing leftmargin rightmargin firstlineleftmargin list".split()
)
_PARDEFS: dict[tuple[Any, ...], _ParDef] = {}


def _parse_pardef(el: Any, origin: float = 1.0) -> _ParDef:
    # Key: the origin and the attributes that matter, in document order (a pardef also has
    # an id, different in every table cell, and attributes that do not change the output).
    key: list[Any] = [origin]
    get = el.get
    for k in el.keys():  # noqa: SIM118 (an lxml element, not a dict)
        if k in _PARDEF_KEYS:
            key.append(k)
            key.append(get(k))
    tkey = tuple(key)
    pd = _PARDEFS.get(tkey)
    if pd is None:
        pd = _compute_pardef(el, origin)
        _cache_put(_PARDEFS, tkey, pd)
    return pd


def _compute_pardef(el: Any, origin: float) -> _ParDef:
    get = el.get
    return _make_pardef(
        get("align"),
        get("spacebefore"),
        get("spaceafter"),
        get("linespacing"),
        get("leftmargin"),
        get("rightmargin"),
        get("firstlineleftmargin"),
        get("list"),
        origin,
    )


# -- tables --------------------------------------------------------------------------------------

_VALIGN = {"top": "top", "center": "middle", "bottom": "bottom"}
_CELL_BORDER_STYLES = frozenset({"solid", "ridge", "groove"})


@lru_cache(maxsize=1024)
def _cell_style(
    valign: str | None, bgcolor: str | None, borderwidth: str | None, bstyle: str, bcolor: str
) -> str:
    css = ["vertical-align:" + _VALIGN.get(valign or "top", "top")]
    bg = _color(bgcolor)
    if bg:
        css.append("background-color:" + bg)
    width = _pixels_1to4(borderwidth if borderwidth is not None else "1px") or "1px"
    css.append(f"border-style:{bstyle};border-width:{width};border-color:{bcolor}")
    css.append("padding:2px 4px")
    return ";".join(css)


_STYLED: dict[tuple[str, str], Any] = {}


def _styled(parent: Any, tag: str, style: str) -> Any:
    """Append ``<tag style=...>`` to parent: a copy of a cached read-only template."""
    tmpl = _STYLED.get((tag, style))
    if tmpl is None:
        tmpl = _Element(tag, {"style": style})
        _cache_put(_STYLED, (tag, style), tmpl)
    el = tmpl.__copy__()
    parent.append(el)
    return el


_CELL_TEMPLATES: dict[tuple[Any, ...], tuple[Any, bool, bool]] = {}


def _cell_template(cell: Any, bstyle: str, bcolor: str) -> tuple[Any, bool, bool]:
    """(detached read-only <td> template, has a colspan, has a rowspan) for a tablecell."""
    get = cell.get
    attrs = {}
    colspan = _int_attr(get("columnspan"), 1, 1000)
    if colspan and colspan > 1:
        attrs["colspan"] = str(colspan)
    rowspan = _int_attr(get("rowspan"), 1, 10000)
    if rowspan and rowspan > 1:
        attrs["rowspan"] = str(rowspan)
    attrs["style"] = _cell_style(get("valign"), get("bgcolor"), get("borderwidth"), bstyle, bcolor)
    return _Element("td", attrs), "colspan" in attrs, "rowspan" in attrs


# -- text ----------------------------------------------------------------------------------------

_NL_SEQ = re.compile(r"[\r\n][ \t\r\n]*")
_TAB_SPLIT = re.compile(r"(\t+)")
_TAB_STYLE = {"style": "white-space:pre"}


def _nl_repl(m: re.Match[str]) -> str:
    # DXL importer rule (keepindentation='false'): a newline plus following white space is
    # dropped at the start or end of character data or after a space/tab, else one space.
    s = m.string
    start = m.start()
    if start == 0 or m.end() == len(s) or s[start - 1] in " \t":
        return ""
    return " "


def _append_text(out: Any, s: str) -> None:
    if len(out):
        last = out[-1]
        t = last.tail
        last.tail = s if t is None else t + s
    else:
        t = out.text
        out.text = s if t is None else t + s


def _text_state(out: Any) -> tuple[int, str | None]:
    """What changes when content is appended to ``out`` (to detect "nothing rendered")."""
    n = len(out)
    return n, (out[-1].tail if n else out.text)


def _emit_text(out: Any, s: str) -> None:
    if "\n" in s or "\r" in s:
        s = _NL_SEQ.sub(_nl_repl, s)
        if not s:
            return
    if "\t" in s:
        for i, part in enumerate(_TAB_SPLIT.split(s)):
            if not part:
                continue
            if i & 1:
                _SubElement(out, "span", _TAB_STYLE).text = part
            else:
                _append_text(out, part)
    else:
        _append_text(out, s)


# -- the renderer ----------------------------------------------------------------------------------

_IMAGE_FORMATS = {"gif": "image/gif", "jpeg": "image/jpeg", "png": "image/png"}
_IMAGE_EXT = {"image/gif": "gif", "image/jpeg": "jpg", "image/png": "png"}
_PLACEHOLDER_IMAGES = {
    "notesbitmap": ("notesbitmap", "Notes bitmap image"),
    "cgm": ("cgm", "CGM image"),
    "bitmap": ("bitmap", "Bitmap image"),
    "nativeimage": ("nativeimage", "Image"),
    "imageref": ("imageref", "Image resource"),
}
_EMBEDDED_LABELS = {
    "embeddedview": "Embedded view",
    "embeddedoutline": "Embedded outline",
    "embeddedfolderpane": "Embedded folder pane",
    "embeddednavigator": "Embedded navigator",
    "embeddeddatepicker": "Embedded date picker",
    "embeddedfileuploadcontrol": "File upload control",
    "embeddedcontrol": "Embedded control",
    "embeddededitor": "Embedded editor",
    "embeddedschedulercontrol": "Embedded scheduler",
    "embeddedcontactlist": "Embedded contact list",
    "embeddedcalendarctrl": "Embedded calendar",
}
_NOTES_LINK_TEXT = {"doclink": "Document link", "viewlink": "View link", "databaselink": "Database link"}
_VOID = frozenset({"br", "hr", "img", "col", "wbr"})
_EMPTY_ELEMENTS = etree.XPath("descendant-or-self::*[not(node())]")

Handler = Callable[["_Renderer", Any, Any, int], None]


def _sniff_image(data: bytes) -> str | None:
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    return None


class _Renderer:
    __slots__ = (
        "item_name",
        "attachments",
        "att_folded",
        "pardefs",
        "cur",
        "warnings",
        "features",
        "images",
        "image_cids",
        "cid_prefix",
        "link_depth",
        "cell_level",
    )

    def __init__(self, item_name: str, attachments: Mapping[str, Attachment] | None) -> None:
        self.item_name = item_name
        self.attachments = attachments
        self.att_folded: set[str] | None = None
        self.pardefs: dict[str, _ParDef] = {}
        self.cur = _DEFAULT_PARDEF
        self.warnings: dict[str, None] = {}
        self.features: Counter[str] = Counter()
        self.images: list[InlineImage] = []
        self.image_cids: dict[str, str] = {}
        self.cid_prefix = _CID_UNSAFE.sub("_", item_name) or "item"
        self.link_depth = 0
        self.cell_level = 0  # > 0 inside table cells, where pardef margins are cell-relative

    # -- helpers ------------------------------------------------------------------------------

    def warn(self, message: str) -> None:
        self.warnings.setdefault(message, None)

    def flatten(self, src: Any, out: Any) -> None:
        """Too deep: the element's text only, white space collapsed."""
        self.features["flattened"] += 1
        self.warn(f"rich text nested deeper than {MAX_DEPTH} levels: deeper content flattened to text")
        text = _WS_RUN.sub(" ", "".join(src.itertext()))
        if text.strip():
            _append_text(out, text)

    def placeholder(self, out: Any, kind: str, label: str, warning: str | None) -> Any:
        span = _SubElement(out, "span", {"class": "notes-placeholder", "data-notes-type": kind})
        span.text = f"[{label}]"
        self.features[kind] += 1
        if warning:
            self.warn(warning)
        return span

    # -- block level ----------------------------------------------------------------------------

    def blocks(self, src: Any, out: Any, depth: int) -> None:
        """Block content of richtext / tablecell / section / block: paragraphs grouped into lists."""
        if depth >= MAX_DEPTH:
            self.flatten(src, out)
            return
        lists: list[list[Any]] = []  # [margin, kind, list element, last li]
        stray = None  # implicit paragraph for inline content found at block level
        text = src.text
        if text and not text.isspace():
            stray = _SubElement(out, "div")
            _emit_text(stray, text)
        handlers = _HANDLERS
        local = _LOCAL
        pardefs = self.pardefs
        for child in src:
            tag = child.tag
            if tag.__class__ is str:
                name = local.get(tag) or _localname(tag)
                if name == "par":
                    stray = None
                    ref = child.get("def")
                    if ref is None:
                        pd = self.cur  # a par without def keeps the previous paragraph's pardef
                    else:
                        pd = self.cur = pardefs.get(ref, _DEFAULT_PARDEF)
                    if pd.list is not None:
                        li = self.list_item(out, lists, pd)
                        self.inline(child, li, depth + 2 * len(lists))
                        if not len(li) and (li.text is None or li.text == _LIST_SPEC[pd.list][2]):
                            _SubElement(li, "br")
                    else:
                        if lists:
                            lists.clear()
                        self.par(child, out, depth, pd)
                elif name == "pardef":
                    pardefs[child.get("id") or ""] = _parse_pardef(child, 0.0 if self.cell_level else 1.0)
                elif name in _NOOP:
                    pass
                elif name in _BLOCK_NAMES:
                    if lists:
                        lists.clear()
                    stray = None
                    handlers[name](self, child, out, depth)
                else:
                    if lists:
                        lists.clear()
                    if stray is None:
                        stray = _SubElement(out, "div")
                    handlers.get(name, _Renderer.unknown)(self, child, stray, depth + 1)
                    if stray.text is None and not len(stray):  # rendered nothing
                        out.remove(stray)
                        stray = None
            tail = child.tail
            if tail and not tail.isspace():
                if stray is None:
                    if lists:
                        lists.clear()
                    stray = _SubElement(out, "div")
                _emit_text(stray, tail)

    def pardef_for(self, par: Any) -> _ParDef:
        ref = par.get("def")
        if ref is None:
            return self.cur  # a par without def keeps the previous paragraph's pardef
        pd = self.pardefs.get(ref, _DEFAULT_PARDEF)
        self.cur = pd
        return pd

    def list_item(self, out: Any, lists: list[list[Any]], pd: _ParDef) -> Any:
        kind = pd.list
        assert kind is not None
        margin = pd.margin
        while lists and (lists[-1][0] > margin + 1e-6 or (abs(lists[-1][0] - margin) <= 1e-6 and lists[-1][1] != kind)):
            lists.pop()
        if lists and abs(lists[-1][0] - margin) <= 1e-6:
            entry = lists[-1]
        elif lists and len(lists) >= MAX_LIST_LEVELS:
            entry = lists[-1]
            if entry[1] != kind:  # too deep to nest: start a sibling list at this level
                lists.pop()
                parent = lists[-1][3] if lists else out
                entry = self.new_list(parent, kind, entry[0])
                lists.append(entry)
        else:
            parent = lists[-1][3] if lists else out
            entry = self.new_list(parent, kind, margin)
            lists.append(entry)
        tmpl = pd.li
        if tmpl is None:
            li = _SubElement(entry[2], "li")
        else:
            li = tmpl.__copy__()
            entry[2].append(li)
        entry[3] = li
        prefix = _LIST_SPEC[kind][2]
        if prefix:
            li.text = prefix
        return li

    def new_list(self, parent: Any, kind: str, margin: float) -> list[Any]:
        tag, attrs, _ = _LIST_SPEC[kind]
        self.features["list"] += 1
        el = _SubElement(parent, tag, attrs) if attrs else _SubElement(parent, tag)
        return [margin, kind, el, None]

    def par(self, src: Any, out: Any, depth: int, pd: _ParDef | None = None) -> None:
        if pd is None:
            pd = self.pardef_for(src)
        tmpl = pd.div
        if tmpl is None:
            div = _SubElement(out, "div")
        else:
            div = tmpl.__copy__()
            out.append(div)
        if len(src):
            self.inline(src, div, depth + 1)
        else:  # text only (the common case)
            text = src.text
            if text:
                if "\n" in text or "\t" in text or "\r" in text:
                    _emit_text(div, text)
                else:
                    div.text = text
                    return
        if div.text is None and not len(div):
            _SubElement(div, "br")

    def par_handler(self, src: Any, out: Any, depth: int) -> None:
        self.par(src, out, depth)

    def pardef(self, src: Any, out: Any, depth: int) -> None:
        self.pardefs[src.get("id") or ""] = _parse_pardef(src, 0.0 if self.cell_level else 1.0)

    def block(self, src: Any, out: Any, depth: int) -> None:
        if src.get("html") == "true":
            self.warn("pass-thru HTML in rich text rendered as plain text")
        self.blocks(src, out, depth + 1)

    # -- inline level ---------------------------------------------------------------------------

    def inline(self, src: Any, out: Any, depth: int) -> None:
        if depth >= MAX_DEPTH:
            self.flatten(src, out)
            return
        text = src.text
        if text:
            _emit_text(out, text)
        handlers = _HANDLERS
        local = _LOCAL
        wraps = _WRAP_TEMPLATES
        fast = depth < _FAST_DEPTH
        for child in src:
            tag = child.tag
            if tag.__class__ is str:
                name = local.get(tag) or _localname(tag)
                if name == "run":
                    # Fast path for the usual <run><font .../>text</run>: one font child, the
                    # text in its tail without newline/tab/CR, no run attributes (html,
                    # highlight), far from MAX_DEPTH.  Same output as run().
                    if fast and child.text is None and len(child) == 1 and not child.keys():
                        font = child[0]
                        ftag = font.tag
                        if ftag.__class__ is str and (local.get(ftag) or _localname(ftag)) == "font":
                            text = font.tail
                            if text and "\n" not in text and "\t" not in text and "\r" not in text:
                                tmpl, levels = wraps.get(tuple(font.items())) or _wrap_template(font)
                                if tmpl is None:
                                    _append_text(out, text)
                                else:
                                    target = tmpl.__copy__()
                                    out.append(target)
                                    while levels > 1:
                                        target = target[0]
                                        levels -= 1
                                    target.text = text
                            elif text:
                                self.run(child, out, depth)
                            # else: an empty run (only a font), nothing to render
                        else:
                            self.run(child, out, depth)
                    else:
                        self.run(child, out, depth)
                else:
                    handler = handlers.get(name)
                    if handler is None:
                        self.unknown(child, out, depth)
                    else:
                        handler(self, child, out, depth)
            tail = child.tail
            if tail:
                _emit_text(out, tail)

    def unknown(self, src: Any, out: Any, depth: int) -> None:
        tag = src.tag
        name = _localname(tag) if isinstance(tag, str) else "?"
        self.features["unknown"] += 1
        self.warn(f"unsupported rich text element <{_clip(name, 60)}> rendered as text")
        self.inline(src, out, depth + 1)

    def noop(self, src: Any, out: Any, depth: int) -> None:
        pass

    def transparent(self, src: Any, out: Any, depth: int) -> None:
        """span / region: inline content, no markup of their own."""
        self.inline(src, out, depth + 1)

    def run(self, src: Any, out: Any, depth: int) -> None:
        """A run (inline() renders the usual <run><font/>text</run> itself)."""
        font = None
        content = bool(src.text)
        for ch in src:
            tag = ch.tag
            if tag.__class__ is str and (_LOCAL.get(tag) or _localname(tag)) == "font":
                if font is None:
                    font = ch
                if ch.tail:
                    content = True
            else:
                content = True
        if not content:
            return  # an empty run (only a font): nothing to render
        highlight = None
        if src.keys():
            if src.get("html") == "true":
                self.warn("pass-thru HTML in rich text rendered as plain text")
            highlight = src.get("highlight")
        if highlight not in _HIGHLIGHTS:  # no background: the font's cached template
            if font is not None:
                tmpl, levels = _WRAP_TEMPLATES.get(tuple(font.items())) or _wrap_template(font)
                if tmpl is not None:
                    outer = target = tmpl.__copy__()
                    out.append(outer)
                    for _ in range(levels - 1):
                        target = target[0]
                    self.inline(src, target, depth + levels)
                    if target.text is None and not len(target):
                        out.remove(outer)  # nothing rendered (e.g. only a nonxmlchar); no tail yet
                    return
            self.inline(src, out, depth + 1)
            return
        if font is not None:
            get = font.get
            tags, style = _font_wrappers(get("name"), get("color"), get("size"), get("style"), highlight)
        elif highlight and highlight != "none":
            tags, style = _font_wrappers(None, None, None, None, highlight)
        else:
            tags, style = _NO_WRAP
        if not tags and style is None:
            self.inline(src, out, depth + 1)
            return
        outer = None
        target = out
        if style:
            target = outer = _SubElement(out, "span", {"style": style})  # lxml copies the dict
        for t in tags:
            target = _SubElement(target, t)
            if outer is None:
                outer = target
        self.inline(src, target, depth + len(tags) + (1 if style else 0))
        if target.text is None and not len(target):
            out.remove(outer)  # nothing rendered (e.g. only a nonxmlchar); outer has no tail yet

    def break_(self, src: Any, out: Any, depth: int) -> None:
        _SubElement(out, "br")

    def horizrule(self, src: Any, out: Any, depth: int) -> None:
        self.features["horizrule"] += 1
        css = []
        h = _length(src.get("height"), False)
        if h is not None:
            css.append("height:" + h[0])
        w = _length(src.get("width"))
        if w is not None:
            css.append("width:" + w[0])
        c = _color(src.get("color"))
        if c:
            css.append("border:none;background-color:" + c)
        if css:
            _SubElement(out, "hr", {"style": ";".join(css)})
        else:
            _SubElement(out, "hr")

    def anchor(self, src: Any, out: Any, depth: int) -> None:
        name = src.get("name")
        self.features["anchor"] += 1
        if name:
            _SubElement(out, "a", {"id": _ID_UNSAFE.sub("_", _clip(name, 100))}).text = ""

    # -- links --------------------------------------------------------------------------------------

    def link_content(self, src: Any, target: Any, depth: int) -> None:
        self.link_depth += 1
        try:
            self.inline(src, target, depth + 1)
        finally:
            self.link_depth -= 1

    def urllink(self, src: Any, out: Any, depth: int, label: str | None = None) -> None:
        self.features["urllink"] += 1
        href = src.get("href")
        url = None
        if href is None:
            self.warn("URL link computed by a formula: link dropped, text kept")
        else:
            url, scheme = _safe_url(href)
            if url is None:
                what = f"scheme '{_clip(scheme, 20)}'" if scheme else "a relative or malformed URL"
                self.warn(f"URL link with {what} dropped, text kept")
        if url is not None and not self.link_depth:
            a = _SubElement(out, "a", {"href": url})
            self.link_content(src, a, depth)
            if a.text is None and not len(a):
                a.text = label or url
        else:
            mark = _text_state(out)
            self.link_content(src, out, depth)
            if label and mark == _text_state(out):
                _append_text(out, label)

    def notes_link(self, src: Any, out: Any, depth: int, kind: str, label: str | None = None) -> None:
        self.features[kind] += 1
        attrs = {}
        db = _hexid(src.get("database"), _HEX16)
        view = _hexid(src.get("view"), _HEX32)
        doc = _hexid(src.get("document"), _HEX32)
        for attr, value in (("database", db), ("view", view), ("document", doc)):
            if src.get(attr) and value is None:
                self.warn(f"{kind}: invalid {attr} id ignored")
        if db:
            parts = [db]
            if kind == "doclink":
                parts.append(view or "0")
                if doc:
                    parts.append(doc)
            elif kind == "viewlink" and view:
                parts.append(view)
            attrs["href"] = "notes:///" + "/".join(parts)
        attrs["data-notes-link"] = kind
        if db:
            attrs["data-replica"] = db
        if view:
            attrs["data-view"] = view
        if doc:
            attrs["data-document"] = doc
        server = src.get("server")
        if server:
            attrs["data-server"] = _clip(server)
        anchor = src.get("anchor")
        if anchor:
            attrs["data-anchor"] = _clip(anchor)
        if self.link_depth:  # no link inside a link: content only
            mark = _text_state(out)
            self.link_content(src, out, depth)
            if mark == _text_state(out):
                _append_text(out, label or _clip(src.get("description") or "") or _NOTES_LINK_TEXT[kind])
            return
        a = _SubElement(out, "a", attrs)
        self.link_content(src, a, depth)
        if a.text is None and not len(a):
            a.text = label or _clip(src.get("description") or "") or _NOTES_LINK_TEXT[kind]

    def doclink(self, src: Any, out: Any, depth: int) -> None:
        self.notes_link(src, out, depth, "doclink")

    def viewlink(self, src: Any, out: Any, depth: int) -> None:
        self.notes_link(src, out, depth, "viewlink")

    def databaselink(self, src: Any, out: Any, depth: int) -> None:
        self.notes_link(src, out, depth, "databaselink")

    def namedelementlink(self, src: Any, out: Any, depth: int) -> None:
        self.features["namedelementlink"] += 1
        self.warn("link to a Notes design element dropped, text kept")
        mark = _text_state(out)
        self.link_content(src, out, depth)
        if mark == _text_state(out) and src.get("name"):
            _append_text(out, _clip(src.get("name") or ""))

    def attachmentref(self, src: Any, out: Any, depth: int) -> None:
        name = src.get("name") or ""
        shown = src.get("displayname") or name or src.get("caption") or src.get("path") or ""
        if not name:
            self.placeholder(out, "attachmentref", f"Attachment: {_clip(shown)}" if shown else "Attachment",
                             "attachment reference without a name (path only) not migrated")
            return
        self.features["attachmentref"] += 1
        att = self.attachments
        if att is not None and name not in att:
            if self.att_folded is None:
                self.att_folded = {k.casefold() for k in att}
            if name.casefold() not in self.att_folded:
                self.warn(f"attachment '{_clip(name)}' referenced in rich text is not in the document")
        a = _SubElement(out, "a", {"href": "attachment:" + _clip(name, 1000), "data-attachment": _clip(name, 1000)})
        a.text = _clip(shown, 1000)

    # -- hotspots -----------------------------------------------------------------------------------

    def button(self, src: Any, out: Any, depth: int) -> None:
        self.features["button"] += 1
        self.warn("button: action code dropped, label kept")
        span = _SubElement(out, "span", {"class": "notes-button", "style": "border:1px solid #808080;padding:0 4px"})
        self.inline(src, span, depth + 1)
        if span.text is None and not len(span):
            span.text = "[Button]"

    def actionhotspot(self, src: Any, out: Any, depth: int) -> None:
        self.features["hotspot"] += 1
        self.warn("action hotspot: action code dropped, text kept")
        span = _SubElement(out, "span", {"class": "notes-hotspot"})
        self.inline(src, span, depth + 1)
        if span.text is None and not len(span):
            out.remove(span)

    def popup(self, src: Any, out: Any, depth: int) -> None:
        self.features["popup"] += 1
        self.warn("popup hotspot: popup behaviour dropped, text kept")
        attrs = {"class": "notes-popup"}
        pt = _first_child(src, "popuptext")
        if pt is not None:
            title = _WS_RUN.sub(" ", "".join(pt.itertext())).strip()
            if title:
                attrs["title"] = _clip(title, 1000)
        span = _SubElement(out, "span", attrs)
        self.inline(src, span, depth + 1)
        if span.text is None and not len(span):
            out.remove(span)

    # -- pictures and objects -------------------------------------------------------------------

    def picture(self, src: Any, out: Any, depth: int) -> None:
        self.features["picture"] += 1
        image = None
        caption = None
        for ch in src:
            tag = ch.tag
            if tag.__class__ is not str:
                continue
            name = _LOCAL.get(tag) or _localname(tag)
            if name == "caption":
                caption = ch
            elif name in _IMAGE_FORMATS or name in _PLACEHOLDER_IMAGES:
                if image is None:
                    image = ch
        cap_text = _WS_RUN.sub(" ", "".join(caption.itertext())).strip() if caption is not None else ""
        target = out
        if cap_text:
            target = _SubElement(out, "span", {"class": "notes-figure", "style": "display:inline-block;text-align:center"})
        if image is None:
            self.placeholder(target, "picture-empty", "Picture", "picture without image data (placeholder)")
        else:
            name = _LOCAL.get(image.tag) or _localname(image.tag)
            if name in _IMAGE_FORMATS:
                self.embedded_image(src, image, _IMAGE_FORMATS[name], target)
            else:
                kind, label = _PLACEHOLDER_IMAGES[name]
                ref = image.get("name") or image.get("imagename")
                if ref:
                    label = f"{label}: {_clip(ref)}"
                if name == "imageref":
                    warning = f"image resource '{_clip(ref or '')}' is a design element: not embedded (placeholder)"
                else:
                    warning = f"{label.split(':')[0]} not converted (placeholder)"
                self.placeholder(target, kind, label, warning)
        if cap_text:
            _SubElement(target, "br")
            _SubElement(target, "span", {"class": "notes-caption"}).text = _clip(cap_text, 1000)

    def embedded_image(self, picture: Any, image: Any, declared: str, out: Any) -> None:
        text = image.text or ""
        try:
            data = binascii.a2b_base64(text)
        except (binascii.Error, ValueError):
            data = b""
        ctype = _sniff_image(data) if data else None
        if ctype is None:
            self.placeholder(out, "badimage", "Image", f"invalid {declared.partition('/')[2]} image data in rich text (placeholder)")
            return
        if ctype != declared:
            self.warn(f"picture declared as {declared} is {ctype}")
        sha = hashlib.sha256(data).hexdigest()
        cid = self.image_cids.get(sha)
        if cid is None:
            n = len(self.images) + 1
            cid = f"{self.cid_prefix}-{n}@notes2m365"
            self.images.append(InlineImage(cid, f"image{n:03d}.{_IMAGE_EXT[ctype]}", ctype, data, sha))
            self.image_cids[sha] = cid
        attrs = {"src": "cid:" + cid, "alt": _clip(picture.get("alttext") or "", 500)}
        for attr in ("width", "height"):
            v = picture.get(attr)
            m = _PX_ATTR.match(v) if v else None
            if m is not None and int(m.group(1)) > 0:
                attrs[attr] = str(int(m.group(1)))
        css = []
        for attr, prop in (("scaledwidth", "width"), ("scaledheight", "height")):
            v = _length(picture.get(attr), False)
            if v is not None and v[0] != "0":
                css.append(f"{prop}:{v[0]}")
        if css:
            attrs["style"] = ";".join(css)
        _SubElement(out, "img", attrs)

    def imagemap(self, src: Any, out: Any, depth: int) -> None:
        self.features["imagemap"] += 1
        links = []
        for ch in src:
            tag = ch.tag
            if tag.__class__ is not str:
                continue
            name = _LOCAL.get(tag) or _localname(tag)
            if name == "picture":
                self.picture(ch, out, depth + 1)
            elif name == "area":
                links.append(ch)
        if not links:
            return
        self.warn("image map hotspots rendered as links after the image")
        span = _SubElement(out, "span", {"class": "notes-imagemap-links"})
        first = True
        for area in links:
            label = _clip(area.get("alttext") or "") or None
            for ch in area:
                tag = ch.tag
                if tag.__class__ is not str:
                    continue
                name = _LOCAL.get(tag) or _localname(tag)
                if name == "urllink" or name in _NOTES_LINK_TEXT:
                    if not first:
                        _append_text(span, " | ")
                    first = False
                    if name == "urllink":
                        self.urllink(ch, span, depth + 1, label)
                    else:
                        self.notes_link(ch, span, depth + 1, name, label)
        if span.text is None and not len(span):
            out.remove(span)

    def objectref(self, src: Any, out: Any, depth: int) -> None:
        name = src.get("name") or ""
        desc = src.get("description") or src.get("class") or name or "object"
        label = f"OLE object: {_clip(desc)}"
        span = self.placeholder(out, "ole", label, f"OLE object '{_clip(name or desc)}' not converted (placeholder)")
        if name:
            span.set("data-object", _clip(name))

    def simple_placeholder(self, src: Any, out: Any, depth: int) -> None:
        tag = src.tag
        name = _LOCAL.get(tag) or _localname(tag)
        label, kind, warning = _SIMPLE_PLACEHOLDERS[name]
        ref = src.get("name")
        if ref and kind in ("field", "subformref", "sharedfieldref", "namedelementref", "javaapplet"):
            label = f"{label}: {_clip(ref)}"
        elif kind == "subformref" and not ref:
            label = "Computed subform"
        self.placeholder(out, kind, label, warning)

    def embedded(self, src: Any, out: Any, depth: int) -> None:
        tag = src.tag
        name = _LOCAL.get(tag) or _localname(tag)
        what = _EMBEDDED_LABELS.get(name) or ("Embedded " + name[8:] if name.startswith("embedded") else name)
        ref = src.get("name")
        label = f"{what}: {_clip(ref)}" if ref else what
        self.placeholder(out, name, label, f"{what.lower()} not migrated (placeholder)")

    # -- tables and sections --------------------------------------------------------------------

    def table(self, src: Any, out: Any, depth: int) -> None:
        if depth + 3 >= MAX_DEPTH:
            self.flatten(src, out)
            return
        self.features["table"] += 1
        css = ["border-collapse:collapse"]
        widthtype = src.get("widthtype")
        if widthtype in ("fitmargins", "fitwindow"):
            css.append("width:100%")
        elif widthtype == "fixedcenter":
            css.append("margin-left:auto;margin-right:auto")
        bg = _color(src.get("bgcolor"))
        if bg and src.get("colorstyle") == "solid":
            css.append("background-color:" + bg)
        table = _styled(out, "table", ";".join(css))
        bstyle = src.get("cellborderstyle")
        if bstyle not in _CELL_BORDER_STYLES:
            bstyle = "solid"
        bcolor = _color(src.get("cellbordercolor")) or "#000000"
        columns = []
        rows = []
        label_font = None
        for ch in src:
            tag = ch.tag
            if tag.__class__ is not str:
                continue
            name = _LOCAL.get(tag) or _localname(tag)
            if name == "tablerow":
                rows.append(ch)
            elif name == "tablecolumn":
                columns.append(ch)
            elif name == "tablerowstyle":
                label_font = _first_child(ch, "font")
        if columns:
            colgroup = _SubElement(table, "colgroup")
            for col in columns:
                w = _length(col.get("width"))
                if w is not None:
                    _styled(colgroup, "col", "width:" + w[0])
                else:
                    _SubElement(colgroup, "col")
        rowdisplay = src.get("rowdisplay")
        tabbed = rowdisplay not in (None, "all")
        ncols = len(columns)
        if tabbed:
            self.features["tabbedtable"] += 1
            self.warn("tabbed or caption table rendered with all rows visible")
            label_style = "text-align:left"
            if label_font is not None:
                _, fstyle = _font_wrappers(None, label_font.get("color"), label_font.get("size"), None, None)
                if fstyle:
                    label_style += ";" + fstyle
        cells = _CELL_TEMPLATES
        local = _LOCAL
        blocks = self.blocks
        self.cell_level += 1
        try:
            for row in rows:
                if tabbed:
                    label = row.get("tablabel")
                    if label:
                        tr = _SubElement(table, "tr", {"class": "notes-tablabel"})
                        th = _SubElement(tr, "th", {"colspan": str(max(ncols, 1)), "style": label_style})
                        th.text = _clip(label, 500)
                tr = _SubElement(table, "tr")
                for cell in row:
                    tag = cell.tag
                    if tag.__class__ is not str or (local.get(tag) or _localname(tag)) != "tablecell":
                        continue
                    key = (bstyle, bcolor, tuple(cell.items()))
                    entry = cells.get(key)
                    if entry is None:
                        entry = _cell_template(cell, bstyle, bcolor)
                        _cache_put(cells, key, entry)
                    tmpl, colspan, rowspan = entry
                    if colspan:
                        self.features["colspan"] += 1
                    if rowspan:
                        self.features["rowspan"] += 1
                    td = tmpl.__copy__()
                    tr.append(td)
                    blocks(cell, td, depth + 3)
                    if td.text is None and not len(td):
                        td.text = ""
                if not len(tr):
                    table.remove(tr)
        finally:
            self.cell_level -= 1
        if not len(table):
            table.text = ""

    def section(self, src: Any, out: Any, depth: int) -> None:
        if depth + 3 >= MAX_DEPTH:
            self.flatten(src, out)
            return
        self.features["section"] += 1
        title_el = _first_child(src, "sectiontitle")
        title = None
        css = "font-weight:bold"
        if title_el is not None:
            color = _color(title_el.get("color"))
            font = _first_child(title_el, "font")
            if font is not None:
                _, fstyle = _font_wrappers(font.get("name"), font.get("color"), font.get("size"), None, None)
                if fstyle:
                    css += ";" + fstyle
            if color and "color:" not in css:
                css += ";color:" + color
            text_el = _first_child(title_el, "text")
            if text_el is not None:
                title = _WS_RUN.sub(" ", "".join(text_el.itertext())).strip()
            elif _first_child(title_el, "code") is not None:
                title = "[Computed section title]"
                self.warn("section title computed by a formula: placeholder title")
        attrs = {"class": "notes-section"}
        if src.get("expanded") == "true":
            attrs["data-expanded"] = "true"
        wrap = _SubElement(out, "div", attrs)
        _SubElement(wrap, "div", {"class": "notes-section-title", "style": css}).text = _clip(title or "", 1000)
        body = _SubElement(wrap, "div", {"class": "notes-section-body"})
        self.blocks(src, body, depth + 3)
        if body.text is None and not len(body):
            body.text = ""


_NOOP = frozenset(
    {
        "font",
        "code",
        "border",
        "parstyle",
        "sectiontitle",
        "tablerowstyle",
        "formregionbegin",
        "formregionend",
        "nonxmlchar",
        "popuptext",
        "textproperties",
        "associatedfiles",
        "appletparameters",
        "cellbackground",
        "layerbackground",
        "background",
        "area",
    }
)
_BLOCK_NAMES = frozenset({"table", "section", "block", "richtext"})

# name -> (label, feature, warning)
_SIMPLE_PLACEHOLDERS = {
    "field": ("Field", "field", "form field(s) rendered as placeholders"),
    "computedtext": ("Computed text", "computedtext", "computed text (formula) not evaluated: placeholder"),
    "subformref": ("Subform", "subformref", "subform reference not migrated (placeholder)"),
    "sharedfieldref": ("Shared field", "sharedfieldref", "shared field reference not migrated (placeholder)"),
    "namedelementref": ("Named element", "namedelementref", "named element reference not migrated (placeholder)"),
    "javaapplet": ("Java applet", "javaapplet", "Java applet not migrated (placeholder)"),
    "layer": ("Layer", "layer", "layer content not migrated (placeholder)"),
    "compositedata": ("Unsupported rich text data", "compositedata", "unsupported rich text data (compositedata) replaced by a placeholder"),
    "richtextdata": ("Unsupported rich text data", "richtextdata", "uninterpreted rich text data (richtextdata) replaced by a placeholder"),
}

_HANDLERS: dict[str, Handler] = {
    "run": _Renderer.run,
    "break": _Renderer.break_,
    "span": _Renderer.transparent,
    "region": _Renderer.transparent,
    "par": _Renderer.par_handler,
    "pardef": _Renderer.pardef,
    "table": _Renderer.table,
    "section": _Renderer.section,
    "block": _Renderer.block,
    "richtext": _Renderer.block,
    "horizrule": _Renderer.horizrule,
    "anchor": _Renderer.anchor,
    "urllink": _Renderer.urllink,
    "doclink": _Renderer.doclink,
    "viewlink": _Renderer.viewlink,
    "databaselink": _Renderer.databaselink,
    "namedelementlink": _Renderer.namedelementlink,
    "attachmentref": _Renderer.attachmentref,
    "picture": _Renderer.picture,
    "imagemap": _Renderer.imagemap,
    "objectref": _Renderer.objectref,
    "button": _Renderer.button,
    "actionhotspot": _Renderer.actionhotspot,
    "popup": _Renderer.popup,
}
for _name in _NOOP:
    _HANDLERS[_name] = _Renderer.noop
for _name in _SIMPLE_PLACEHOLDERS:
    _HANDLERS[_name] = _Renderer.simple_placeholder
for _name in _EMBEDDED_LABELS:
    _HANDLERS[_name] = _Renderer.embedded
del _name


def _fix_empty(root: Any) -> None:
    """Give every empty non-void element an empty text, so it serializes as <x></x>, not <x/>."""
    for el in _EMPTY_ELEMENTS(root):
        if el.tag not in _VOID:
            el.text = ""


_SAFE_NAMES: dict[str, str] = {}  # item name -> without the characters XML cannot hold


def _safe_item_name(item_name: str) -> str:
    safe = _SAFE_NAMES.get(item_name) if item_name.__class__ is str else None
    if safe is None:
        safe = _XML_INVALID.sub("", str(item_name))
        if item_name.__class__ is str:
            _cache_put(_SAFE_NAMES, item_name, safe)
    return safe


_ROOTS: dict[str, Any] = {}  # item name -> read-only <div data-item> template


def render_richtext(
    element: Any, *, item_name: str, attachments: Mapping[str, Attachment] | None = None
) -> RenderedRichText:
    """Render a DXL ``<richtext>`` element (namespaced or not) as ``<div data-item>`` HTML.

    ``attachments`` (file name -> :class:`Attachment`) lets attachment references be
    checked.  The input element is not modified.  Never raises for bad content.
    """
    item_name = _safe_item_name(item_name)
    try:
        markup = _render_simple(element, item_name)
    except Exception:  # defensive: the general renderer decides
        markup = None
    if markup is not None:
        # (Counter.__new__: an empty Counter, without the cost of Counter.__init__ and update)
        return RenderedRichText(item_name, None, [], [], Counter.__new__(Counter), markup)
    renderer = _Renderer(item_name, attachments)
    tmpl = _ROOTS.get(item_name)
    if tmpl is None:
        tmpl = _Element("div", {"data-item": item_name})
        _cache_put(_ROOTS, item_name, tmpl)
    root = tmpl.__copy__()
    try:
        renderer.blocks(element, root, 1)
    except Exception as exc:  # defensive: a renderer bug must not stop a migration
        root = _Element("div", {"data-item": item_name})
        text = _WS_RUN.sub(" ", _XML_INVALID.sub("", "".join(element.itertext()))).strip()
        _SubElement(root, "div").text = text
        renderer.warn(f"rich text rendering failed ({type(exc).__name__}): rendered as plain text")
        renderer.images.clear()
        _fix_empty(root)
    if root.text is None and not len(root):
        root.text = ""  # every other element is filled as it is built (see _fix_empty)
    return RenderedRichText(item_name, root, renderer.images, list(renderer.warnings), renderer.features)


# -- the simplest rich text, straight to markup ---------------------------------------------------------

_MARK = "\ue000"
#: id(template element) -> (the template, kept alive so that its id is not reused; open and close markup)
_SERIALIZED: dict[int, tuple[Any, str, str]] = {}


def _open_close(tmpl: Any, levels: int) -> tuple[str, str] | None:
    """The markup before and after the content of a (read-only, cached) template chain ``levels`` deep."""
    entry = _SERIALIZED.get(id(tmpl))
    if entry is None or entry[0] is not tmpl:
        copy = tmpl.__copy__()
        inner = copy
        for _ in range(levels - 1):
            inner = inner[0]
        inner.text = _MARK
        parts = etree.tostring(copy, encoding="unicode", method="xml").split(_MARK)
        entry = (tmpl, parts[0], parts[1]) if len(parts) == 2 else None
        if entry is None:
            return None
        _cache_put(_SERIALIZED, id(tmpl), entry)
    return entry[1], entry[2]


# The simplest rich text -- pardefs that make no list (their content, e.g. hide-when formulas, is not read), and
# paragraphs of text and plain runs (no attributes, one leading self-closed <font/>, then text and <break/>),
# with no line break or tab in the text -- is most mail.  It is rendered from lxml's serialization of the
# <richtext> element rather than by walking the elements (each element access makes a proxy object and a
# "{namespace}name" string, font.items() a list; the walk cost about 50 us for a 5-paragraph mail, this about
# 30, of which tostring is 9).  The serialization is cut at "</run></par>": the usual paragraph is then a
# chunk whose beginning up to the font tag, and the font tag, are looked up in caches, and whose rest is the
# text; any other chunk is taken tag by tag (_simple_chunk).  This holds because of how lxml serializes
# (encoding="unicode"):
#  * character data is escaped exactly as in the output (& < > as entities, CR as &#13;, all else as is), so
#    a text goes into the output unchanged;
#  * text and attribute values never hold a raw "<" or ">", so every "<" starts a tag that ends at the next
#    ">"; tags are written canonically (<prefix:name a="v"/>, one space before each attribute, values in
#    double quotes), and a detached element's namespace gets a prefix of its own ("ns5"), dropped for caching;
#  * anything else (comment, PI, CDATA, entity or character reference, a tag not of the expected shape or not
#    in the expected place) fails a check below, and the general renderer takes the body.
# Names are compared without prefix, as _localname does for the general renderer.

#: A serialized tag without its "<" and ">": closing slash, local name (any prefix), attributes, self-closing.
_SERIAL_TAG = re.compile(r'(/?)(?:[^\s/<>:"=]+:)?([^\s/<>:"=]+)((?: [^\s/<>"=]+="[^"<>]*")*)(/?)\Z')
#: The prefix of the serialized root's name.
_ROOT_PREFIX = re.compile(r"<([^\s/>:]+):")
#: An ampersand that is not lxml's escape of < > & " (a character or entity reference).
_ODD_AMP = re.compile(r"&(?!amp;|lt;|gt;|quot;)")

# What a tag is, with its value in the cache entries (kind, value):
_T_PARDEF = 0  # (id, the ends of its paragraphs' <div>, or None when it makes a list)
_T_PAR = 1  # its def, or None
_T_EMPTY_PAR = 2  # its def, or None
_T_PAR_END = 3
_T_RUN = 4
_T_FONT = 5  # the markup before and after the run's content
_T_BREAK = 6
_T_RUN_END = 7
_T_PARDEF_START = 8  # a pardef with content (hide-when formulas, ...), which is skipped: as _T_PARDEF
#: Tags that may be followed by white space (dropped) but not by text.
_BLOCK_ENDS = (_T_PARDEF, _T_EMPTY_PAR, _T_PAR_END)
#: serialized tag (without "<", ">" and the root's prefix) -> (kind, value), for simple tags only
_SIMPLE_TAGS: dict[str, tuple[int, Any]] = {}
#: a tag, ">" and no text to render (nothing, or white space after a block) -> (kind, value)
_SIMPLE_PIECES: dict[str, tuple[int, Any]] = {}
#: white space and pardefs, a paragraph's start tag, "<run>" -> ((pardef id and div ends, ...), def); or ()
_HEADS: dict[str, tuple[tuple[tuple[str, Any], ...], str | None] | tuple[()]] = {}
#: the attributes of a font tag, as serialized -> the markup around its run's content; or ()
_FONTS: dict[str, tuple[str, str] | tuple[()]] = {}
_PLAIN_DIV = ("<div>", "</div>")  # the ends of a paragraph without pardef style
_NO_WRAPPER = ("", "")  # a run whose font adds no markup: its content goes in as is
#: item name -> the markup around the content of its ``<div data-item>``
_SIMPLE_ROOT_ENDS: dict[str, tuple[str, str]] = {}


def _attrs_element(attrs: str) -> Any:
    """An element with these serialized attributes, in the same order (None if they do not parse alone)."""
    try:
        return etree.fromstring(f"<x{attrs}/>")
    except etree.XMLSyntaxError:  # e.g. an attribute whose prefix is declared on an ancestor
        return None


def _simple_tag(tag: str) -> tuple[int, Any] | None:
    """What a serialized tag (without "<" ">") means in simple rich text (cached), or None if not simple."""
    entry = _SIMPLE_TAGS.get(tag)
    if entry is not None:
        return entry
    m = _SERIAL_TAG.match(tag)
    if m is None:
        return None
    close, name, attrs, empty = m.groups()
    if close:
        if not attrs and not empty:
            entry = (_T_PAR_END, None) if name == "par" else (_T_RUN_END, None) if name == "run" else None
    elif name == "run":
        entry = None if attrs or empty else (_T_RUN, None)
    elif name == "break":
        entry = None if attrs or not empty else (_T_BREAK, None)
    elif name in ("par", "pardef", "font"):
        el = _attrs_element(attrs) if attrs else _Element("x")
        if el is None:
            return None
        if name == "par":
            entry = (_T_EMPTY_PAR if empty else _T_PAR, el.get("def"))
        elif name == "pardef":
            pd = _parse_pardef(el, 1.0)
            div = None
            if pd.list is None:
                div = _PLAIN_DIV if pd.div is None else _open_close(pd.div, 1)
            entry = (_T_PARDEF if empty else _T_PARDEF_START, (el.get("id") or "", div))
        elif name == "font" and empty:
            tmpl, levels = _wrap_template(el)
            ends = _NO_WRAPPER if tmpl is None else _open_close(tmpl, levels)
            entry = None if ends is None else (_T_FONT, ends)
    if entry is not None:
        _cache_put(_SIMPLE_TAGS, tag, entry)
    return entry


def _head(head: str) -> tuple[tuple[tuple[str, Any], ...], str | None] | tuple[()]:
    """What a paragraph's beginning up to its font tag means (cached): white space and pardefs, the paragraph's
    start tag, "<run>" -> (the pardefs, in order, the paragraph's def); () for anything else."""
    value: tuple[tuple[tuple[str, Any], ...], str | None] | tuple[()] = ()
    pieces = head.split("<")
    if len(pieces) >= 3 and pieces[-1] == "run>" and (not pieces[0] or pieces[0].isspace()):
        entries = []
        for piece in pieces[1:-1]:
            tag, gt, text = piece.partition(">")
            entry = _simple_tag(tag)
            if entry is None or not gt or (text and not text.isspace()):
                break
            entries.append(entry)
        else:
            *pardefs, par = entries
            # (no text after the paragraph's start tag: it would be the paragraph's)
            if par[0] is _T_PAR and pieces[-2].endswith(">") and all(pd[0] is _T_PARDEF for pd in pardefs):
                value = (tuple(pd[1] for pd in pardefs), par[1])
    _cache_put(_HEADS, head, value)
    return value


def _font(attrs: str) -> tuple[str, str] | tuple[()]:
    """The markup around the content of a run whose font tag has these attributes (cached); () if not simple."""
    entry = _simple_tag(f"font {attrs}/")
    ends = () if entry is None else entry[1]
    _cache_put(_FONTS, attrs, ends)
    return ends


def _simple_chunk(
    chunk: str, mark: str, end_mark: str, closed: bool, out: list[str], pardefs: dict[str, Any], div: Any
) -> Any:
    """Render simple rich text tag by tag, into ``out``: ``chunk`` is what lies between the end of a paragraph
    (or the root's start tag) and the ``</run></par>`` ending another (``closed``; the root's end tag if not).
    Its tags start with ``mark`` and ``end_mark`` ("<p:" and "</p:" for the root's prefix p).  Returns the ends
    of the current pardef's <div>, None if the chunk is not simple."""
    if mark != "<":
        chunk = chunk.replace(mark, "<").replace(end_mark, "</")
    # white space, then a tag and the text after it each
    pieces = chunk.split("<")
    if closed:
        pieces += ("/run>", "/par>")
    text = pieces[0]
    if text and not text.isspace():
        return None
    known = _SIMPLE_PIECES
    where = 0  # 0: between paragraphs, 1: in a paragraph, 2: after a run's start tag, 3: in a run
    par_at = run_at = 0  # len(out) after the start markup of the paragraph / of the run
    run_close = ""
    skip = 0  # in a pardef's content (which the renderer does not read), the number of elements open
    for i in range(1, len(pieces)):
        piece = pieces[i]
        if skip:
            tag, _, text = piece.partition(">")
            if tag[:1] == "/":
                skip -= 1
            elif tag[-1:] != "/":
                skip += 1  # (a comment or PI counts as an element: then the pardef never ends, not simple)
            if skip or not text or text.isspace():
                continue
            return None  # text after the pardef
        entry = known.get(piece)
        if entry is None:
            tag, gt, text = piece.partition(">")
            entry = _simple_tag(tag)
            if entry is None or not gt:
                return None
            if not text or (entry[0] in _BLOCK_ENDS and text.isspace()):
                _cache_put(known, piece, entry)  # nothing to render after the tag
                text = ""
        else:
            text = ""
        kind = entry[0]
        # each tag is allowed in one place only (where)
        if kind is _T_RUN:
            if where != 1 or text:
                return None  # a run outside a paragraph, text before the run's font
            where = 2
            continue
        if kind is _T_FONT:
            if where != 2:
                return None  # not the first thing in a run
            run_open, run_close = entry[1]
            out.append(run_open)
            run_at = len(out)
            where = 3
        elif kind is _T_RUN_END:
            if where != 3 or text:
                return None  # a run without font, text after a run
            if len(out) == run_at:
                out.pop()  # an empty run (only a font): nothing to render
            else:
                out.append(run_close)
            where = 1
            continue
        elif kind is _T_PAR:
            if where:
                return None
            if entry[1] is not None:  # a par without def keeps the previous paragraph's pardef
                div = pardefs.get(entry[1], _PLAIN_DIV)
            if div is None:
                return None  # a list paragraph
            out.append(div[0])
            par_at = len(out)
            where = 1
        elif kind is _T_PAR_END:
            if where != 1 or text:
                return None
            if len(out) == par_at:
                out.append("<br/>")  # an empty paragraph
            out.append(div[1])
            where = 0
            continue
        elif kind is _T_BREAK:
            if where != 3:
                return None
            out.append("<br/>")
        elif kind is _T_EMPTY_PAR:
            if where or text:
                return None
            if entry[1] is not None:
                div = pardefs.get(entry[1], _PLAIN_DIV)
            if div is None:
                return None
            out += (div[0], "<br/>", div[1])
            continue
        else:  # _T_PARDEF, _T_PARDEF_START
            if where:
                return None
            if kind is _T_PARDEF_START:
                skip = 1  # (the text after its start tag is its content)
            elif text:
                return None
            pardefs[entry[1][0]] = entry[1][1]
            continue
        # the text after a paragraph's start tag, a font or a break goes into the output as it is
        if text:
            if "\n" in text or "\t" in text or "<" in text:
                return None  # the general renderer changes line breaks and tabs
            out.append(text)
    return None if where or skip else div


def _render_simple(element: Any, item_name: str) -> str | None:
    """The markup of the simplest rich text (see above): what :class:`_Renderer` builds for it, serialized,
    byte for byte, without building the tree.  None for anything else (the general renderer takes it)."""
    s = _tostring(element, encoding="unicode", with_tail=False)
    if "&" in s and _ODD_AMP.search(s) is not None:
        return None
    ends = _SIMPLE_ROOT_ENDS.get(item_name)
    if ends is None:
        root = _ROOTS.get(item_name)
        if root is None:
            root = _Element("div", {"data-item": item_name})
            _cache_put(_ROOTS, item_name, root)
        ends = _open_close(root, 1)
        if ends is None:
            return None
        _cache_put(_SIMPLE_ROOT_ENDS, item_name, ends)
    # Tags are written with the root's prefix p, if any: found with it ("<p:", "</p:"), cached without it.
    m = _ROOT_PREFIX.match(s)
    mark, end_mark = ("<", "</") if m is None else (f"<{m.group(1)}:", f"</{m.group(1)}:")
    # The usual paragraph ends with "</run></par>": cut there.  A chunk holds what comes before the paragraph
    # (white space, pardefs, ...), its start tag, "<run>", the font tag and the run's content; the last chunk
    # holds what follows the last paragraph, and the root's end tag.
    chunks = s.split(f"{end_mark}run>{end_mark}par>")
    first = chunks[0]
    start = first.find(">") + 1  # after the root's start tag
    if first[start - 2] == "/":  # <richtext/>
        return ends[0] + ends[1] if start == len(s) else None
    chunks[0] = first[start:]
    last = chunks[-1]
    end = last.rfind("<")  # the root's end tag
    if end < 0 or last[end + 1] != "/":
        return None
    chunks[-1] = last[:end]
    out = [ends[0]]
    pardefs: dict[str, tuple[str, str] | None] = {}
    div: Any = _PLAIN_DIV  # the ends of the current pardef's <div> (None: it makes a list)
    heads = _HEADS
    fonts = _FONTS
    font_mark = mark + "font "
    brk = mark + "break/>"
    for i in range(len(chunks) - 1):
        chunk = chunks[i]
        head, font_tag, rest = chunk.partition(font_mark)
        if font_tag:
            if mark != "<":
                head = head.replace(mark, "<")
            frame = heads.get(head)
            if frame is None:
                frame = _head(head)
            if frame:
                attrs, _, content = rest.partition("/>")
                run = fonts.get(attrs)
                if run is None:
                    run = _font(attrs)
                if "<" in content:  # breaks, or more runs or other markup: then tag by tag
                    if content.count("<") == content.count(brk):
                        content = content.replace(brk, "<br/>")
                    else:
                        run = ()
                if run and "\n" not in content and "\t" not in content:
                    for pardef_id, pardef_div in frame[0]:
                        pardefs[pardef_id] = pardef_div
                    if frame[1] is not None:  # a par without def keeps the previous paragraph's pardef
                        div = pardefs.get(frame[1], _PLAIN_DIV)
                    if div is None:
                        return None  # a list paragraph
                    if content:
                        out += (div[0], run[0], content, run[1], div[1])
                    else:  # only an empty run: an empty paragraph
                        out += (div[0], "<br/>", div[1])
                    continue
        div = _simple_chunk(chunk, mark, end_mark, True, out, pardefs, div)
        if div is None:
            return None
    last = chunks[-1]
    if last and not last.isspace() and _simple_chunk(last, mark, end_mark, False, out, pardefs, div) is None:
        return None
    out.append(ends[1])
    return "".join(out)


# -- raw CD records ---------------------------------------------------------------------------------

_SIG_TEXT_LOW = 0x85  # SIG_CD_TEXT = 0x85 | WORDRECORDLENGTH
_SIG_PARAGRAPH_LOW = 0x81  # SIG_CD_PARAGRAPH = 0x81 | BYTERECORDLENGTH
_LMBCS_SPECIAL = re.compile(rb"[\x00-\x1f\x80-\xff]")
# LMBCS group byte -> Python codec for the following single byte
_LMBCS_SBCS = {
    0x01: "cp850",
    0x02: "cp869",  # LMBCS-2 is cp851 (Greek), not in Python; cp869 is the closest
    0x03: "cp1255",
    0x04: "cp1256",
    0x05: "cp1251",
    0x06: "cp852",
    0x08: "cp1254",
    0x0B: "cp874",
}
_LMBCS_DBCS = {0x10: "cp932", 0x11: "cp949", 0x12: "cp950", 0x13: "cp936"}


def _decode_high(chunk: bytes) -> str:
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError:
        return chunk.decode("cp850", "replace")  # LMBCS optimisation group 1


def _decode_lmbcs(b: bytes) -> str:
    """Best-effort LMBCS: ASCII, group-prefixed code pages, UCS-2 (0x14); NUL = line break."""
    if _LMBCS_SPECIAL.search(b) is None:
        return b.decode("ascii")
    out: list[str] = []
    i, n = 0, len(b)
    ucs2 = bytearray()
    while i < n:
        c = b[i]
        if c == 0x14 and i + 2 < n:
            ucs2 += b[i + 1 : i + 3]
            i += 3
            continue
        if ucs2:
            out.append(ucs2.decode("utf-16-be", "replace"))
            ucs2 = bytearray()
        if 0x20 <= c < 0x80:
            j = i + 1
            while j < n and 0x20 <= b[j] < 0x80:
                j += 1
            out.append(b[i:j].decode("ascii"))
            i = j
        elif c >= 0x80:
            j = i + 1
            while j < n and b[j] >= 0x80:
                j += 1
            out.append(_decode_high(b[i:j]))
            i = j
        elif c == 0x00 or c == 0x0A or c == 0x0D:
            out.append("\n")
            i += 1
        elif c == 0x09:
            out.append("\t")
            i += 1
        elif c in _LMBCS_SBCS and i + 1 < n and b[i + 1] >= 0x80:
            out.append(b[i + 1 : i + 2].decode(_LMBCS_SBCS[c], "replace"))
            i += 2
        elif c in _LMBCS_DBCS and i + 2 < n:
            out.append(b[i + 1 : i + 3].decode(_LMBCS_DBCS[c], "replace"))
            i += 3
        elif c == 0x0F and i + 1 < n:
            out.append("\ufffd")
            i += 2
        else:
            i += 1  # other control bytes: dropped
    if ucs2:
        out.append(ucs2.decode("utf-16-be", "replace"))
    return _XML_INVALID.sub("", "".join(out).replace("\r\n", "\n"))


def _cd_text(data: bytes) -> tuple[list[list[str]], str | None]:
    """Paragraphs (lists of text pieces) from CD records, and a problem description or None."""
    paragraphs: list[list[str]] = []
    cur: list[str] | None = None
    pos, n = 0, len(data)
    problem = None
    while pos + 2 <= n:
        lo = data[pos]
        hi = data[pos + 1]
        if hi == 0xFF:  # WSIG: WORD length
            if pos + 4 > n:
                problem = f"truncated record header at offset {pos}"
                break
            length = data[pos + 2] | (data[pos + 3] << 8)
            header = 4
        elif hi == 0x00:  # LSIG: DWORD length
            if pos + 6 > n:
                problem = f"truncated record header at offset {pos}"
                break
            length = int.from_bytes(data[pos + 2 : pos + 6], "little")
            header = 6
        else:  # BSIG: the high byte is the length
            length = hi
            header = 2
        if length < header or pos + length > n:
            problem = f"bad record length {length} at offset {pos}"
            break
        if lo == _SIG_TEXT_LOW and hi == 0xFF:
            if length >= 8:
                if cur is None:
                    cur = []
                cur.append(_decode_lmbcs(data[pos + 8 : pos + length]))
        elif lo == _SIG_PARAGRAPH_LOW and header == 2:
            if cur is not None:
                paragraphs.append(cur)
            cur = []
        pos += length + (length & 1)
    else:
        if pos < n and not (pos == n - 1 and data[pos] == 0):
            problem = f"{n - pos} trailing byte(s) at offset {pos}"
    if cur is not None:
        paragraphs.append(cur)
    return paragraphs, problem


def render_raw_richtext(data: bytes, *, item_name: str) -> RenderedRichText:
    """Best-effort text of rich text exported as CD records (``<rawitemdata type='1'>``)."""
    item_name = _safe_item_name(item_name)
    root = _Element("div", {"data-item": item_name})
    warnings = [RAW_CD_WARNING]
    features: Counter[str] = Counter({"rawcd": 1})
    try:
        paragraphs, problem = _cd_text(bytes(data))
    except Exception as exc:  # defensive
        paragraphs, problem = [], f"{type(exc).__name__}"
    if problem:
        warnings.append(f"malformed CD records ({problem}): text may be incomplete")
    for pieces in paragraphs:
        div = _SubElement(root, "div")
        lines = "".join(pieces).split("\n")
        for k, line in enumerate(lines):
            if k:
                _SubElement(div, "br")
            if line:
                _emit_text(div, line)
        if div.text is None and not len(div):
            _SubElement(div, "br")
    if not len(root):
        root.text = ""
    return RenderedRichText(item_name, root, [], warnings, features)
