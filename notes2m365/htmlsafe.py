"""Making third-party HTML (the HTML body of a native MIME mail) safe to show and well-formed.

Our own rich-text rendering is safe by construction (:mod:`notes2m365.richtext`);
MIME bodies are someone else's HTML, so they go through this filter before
``convert --format html`` shows them: no script, no active or embedding
elements, no event handlers, no ``javascript:``-style URLs, no CSS
expressions.  The result is serialized as well-formed markup.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

_DROP_ELEMENTS = frozenset({
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input", "button",
    "select", "textarea", "link", "meta", "base", "svg", "math", "noscript", "template", "portal",
})
_URL_ATTRS = frozenset({"href", "src", "action", "background", "poster", "cite", "longdesc", "usemap", "lowsrc", "dynsrc"})
_DROP_ATTRS = frozenset({"srcdoc", "formaction", "srcset", "xmlns"})
_SAFE_SCHEMES = frozenset({"http", "https", "mailto", "cid", "notes", "ftp", "tel"})
_SCHEME_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.\-]*):")
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
_BAD_CSS = re.compile(r"expression\s*\(|url\s*\(|javascript:|behavior\s*:|-moz-binding|@import", re.I)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _url_ok(value: str) -> bool:
    compact = _CONTROL.sub("", value)
    m = _SCHEME_RE.match(compact)
    return m is None or m.group(1).lower() in _SAFE_SCHEMES


def sanitize_html(source: str, *, item_name: str = "Body") -> str:
    """The body content of ``source`` in a ``<div data-item>``, made safe and well-formed."""
    wrapper = etree.Element("div", {"data-item": item_name, "data-source": "mime"})
    text = _XML_INVALID.sub("", source or "")
    if not text.strip():
        return etree.tostring(wrapper, encoding="unicode", method="xml")
    try:
        doc = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        wrapper.text = text
        return etree.tostring(wrapper, encoding="unicode", method="xml")
    body = doc.find("body")
    root = body if body is not None else doc
    for el in list(root.iter()):
        if not isinstance(el.tag, str):  # comments and processing instructions
            if el.getparent() is not None:
                el.drop_tree()
            continue
        tag = el.tag.lower()
        if tag in _DROP_ELEMENTS or ":" in tag:
            if el.getparent() is not None:
                el.drop_tree()
            continue
        for name in list(el.attrib):
            lname = name.lower()
            value = el.attrib[name]
            if (lname.startswith("on") or lname in _DROP_ATTRS or ":" in lname
                    or (lname in _URL_ATTRS and not _url_ok(value))
                    or (lname == "style" and _BAD_CSS.search(value))):
                del el.attrib[name]
    wrapper.text = root.text
    for child in root:
        wrapper.append(child)
    return etree.tostring(wrapper, encoding="unicode", method="xml")
