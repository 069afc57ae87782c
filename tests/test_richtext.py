"""DXL rich text to HTML: one test per construct, safety, limits, determinism, raw CD, real corpus."""

from __future__ import annotations

import base64
import hashlib
import random
import re
import struct
import zlib
from pathlib import Path

import pytest
from lxml import etree

from notes2m365.model import Attachment
from notes2m365.richtext import (
    MAX_DEPTH,
    RAW_CD_WARNING,
    InlineImage,
    RenderedRichText,
    render_raw_richtext,
    render_richtext,
)

NS = "http://www.lotus.com/dxl"
FIXTURES = Path(__file__).parent / "fixtures" / "richtext"
CORPUS = Path(__file__).resolve().parents[2] / "shared/corpus/dxl-real"
VOID = {"br", "hr", "img", "col", "wbr"}
ALLOWED_ATTRS = {
    "style", "class", "href", "src", "alt", "title", "id", "width", "height", "type", "colspan", "rowspan",
    "data-item", "data-notes-type", "data-notes-link", "data-replica", "data-view", "data-document",
    "data-server", "data-anchor", "data-attachment", "data-object", "data-expanded",
}
SELF_CLOSING = re.compile(r"<([A-Za-z][\w-]*)(?:\s[^<>]*)?/>")


def png_bytes(width: int = 1, height: int = 1) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


PNG = png_bytes()
PNG_B64 = base64.b64encode(PNG).decode()
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


def richtext(body: str, ns: bool = True) -> etree._Element:
    xmlns = f" xmlns='{NS}'" if ns else ""
    return etree.fromstring(f"<richtext{xmlns}>{body}</richtext>")


def render(body: str, ns: bool = True, **kw) -> RenderedRichText:
    kw.setdefault("item_name", "Body")
    return render_richtext(richtext(body, ns), **kw)


def tree(r: RenderedRichText) -> etree._Element:
    """The rendered markup re-parsed: proves well-formedness and gives XPath access."""
    root = etree.fromstring(r.html)
    assert root.tag == "div" and root.get("data-item") == r.item_name
    return root


def texts(root: etree._Element, xpath: str) -> list[str]:
    return ["".join(e.itertext()) for e in root.xpath(xpath)]


def assert_safe(html: str) -> None:
    root = etree.fromstring(html)
    for el in root.iter():
        assert el.tag not in ("script", "style", "iframe", "object", "embed", "link", "meta", "base", "form")
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), name
            low = re.sub(r"\s", "", value.lower())
            assert name in ALLOWED_ATTRS, name  # title/alt/data-* values are inert text
            if name == "style":
                assert "expression(" not in low and "url(" not in low and "behavior" not in low and "javascript" not in low
            if name in ("href", "src"):
                assert re.match(r"(https?|mailto|notes|ftp|cid|attachment):", value, re.I), value
                assert not re.match(r"(javascript|vbscript|data):", low)
    for m in SELF_CLOSING.finditer(html):
        assert m.group(1) in VOID, f"non-void element serialized as <{m.group(1)}/>"


both = pytest.mark.parametrize("ns", [True, False], ids=["dxl-ns", "no-ns"])


# -- API shape -------------------------------------------------------------------------------


def test_api_shape_and_root():
    r = render("<pardef id='1'/><par def='1'>Hello</par>", item_name="$Body")
    assert isinstance(r, RenderedRichText)
    assert r.item_name == "$Body" and r.element.tag == "div" and r.element.get("data-item") == "$Body"
    assert r.html == '<div data-item="$Body"><div>Hello</div></div>'
    assert r.images == [] and r.warnings == [] and isinstance(r.features, type(r.features))
    assert "xmlns" not in r.html


def test_empty_richtext_is_well_formed():
    r = render("")
    assert r.html == '<div data-item="Body"></div>'


@both
def test_namespace_does_not_change_output(ns):
    body = ("<pardef id='1' align='center'/><par def='1'><run><font style='bold'/>x</run></par>"
            "<table><tablerow><tablecell><par>c</par></tablecell></tablerow></table>")
    assert render(body, ns).html == render(body, not ns).html


# -- paragraphs and pardefs --------------------------------------------------------------------


@both
def test_par_without_def_inherits_previous_pardef(ns):
    r = render("<pardef id='1' align='center'/><pardef id='2' align='right'/>"
               "<par def='1'>a</par><par>b</par><par def='2'>c</par><par>d</par>", ns)
    divs = tree(r).xpath("div")
    assert [d.text for d in divs] == ["a", "b", "c", "d"]
    assert [d.get("style") for d in divs] == ["text-align:center"] * 2 + ["text-align:right"] * 2


@both
def test_pardef_css(ns):
    r = render("<pardef id='1' align='full' spacebefore='2' spaceafter='1.5' linespacing='2' leftmargin='1.5000in'"
               " firstlineleftmargin='2in' rightmargin='90%'/><par def='1'>x</par>"
               "<pardef id='2' align='left' leftmargin='0' rightmargin='7.8063in' spacebefore='1'/><par def='2'>y</par>"
               "<pardef id='3' leftmargin='5.08cm'/><par def='3'>z</par>", ns)
    x, y, z = tree(r).xpath("div")
    style = x.get("style").split(";")
    assert style == ["text-align:justify", "margin-top:1em", "margin-bottom:0.5em", "line-height:2",
                     "margin-left:0.5in", "margin-right:10%", "text-indent:0.5in"]
    assert y.get("style") is None  # defaults, and an absolute rightmargin (a position) is not a CSS margin
    assert z.get("style") == "margin-left:1in"  # 5.08cm = 2in from the page edge, 1in is the text origin


def test_margins_inside_table_cells_are_cell_relative():
    root = tree(render("<pardef id='1' leftmargin='0.5in'/><par def='1'>top</par><table><tablerow><tablecell>"
                       "<pardef id='2' leftmargin='0.5in'/><par def='2'>cell</par></tablecell></tablerow></table>"))
    assert root.xpath("div")[0].get("style") is None  # 0.5in from the page edge: left of the 1in text origin
    assert root.xpath(".//td/div")[0].get("style") == "margin-left:0.5in"


def test_unknown_pardef_reference_uses_defaults():
    r = render("<par def='9'>x</par>")
    assert tree(r).xpath("div")[0].get("style") is None and r.warnings == []


def test_hidewhen_is_ignored_and_formula_not_rendered():
    r = render("<pardef id='1' hide='notes web'><code event='hidewhen'><formula>@True</formula></code></pardef>"
               "<par def='1'>visible</par>")
    assert "visible" in r.html and "@True" not in r.html


def test_pardef_ids_are_per_item():
    first = render("<pardef id='1' align='center'/><par def='1'>a</par>")
    second = render("<par def='1'>b</par>")
    assert "text-align" in first.html and "text-align" not in second.html


def test_empty_paragraph_is_a_blank_line():
    r = render("<par/><par><run><font size='9pt'/></run></par>")
    assert r.html == '<div data-item="Body"><div><br/></div><div><br/></div></div>'


@both
def test_pardef_inside_table_cell_applies_to_later_paragraphs(ns):
    r = render("<table><tablerow><tablecell><pardef id='5' align='center'/><par def='5'>in cell</par></tablecell>"
               "</tablerow></table><par def='5'>after</par>", ns)
    root = tree(r)
    assert root.xpath("table//td/div")[0].get("style") == "text-align:center"
    assert root.xpath("div")[-1].get("style") == "text-align:center"


# -- lists -------------------------------------------------------------------------------------


@both
def test_bullet_and_number_lists_are_grouped(ns):
    r = render("<pardef id='1'/><pardef id='7' leftmargin='1.2500in' list='bullet'/>"
               "<pardef id='9' leftmargin='1.2500in' list='number'/>"
               "<par def='7'>one</par><par>two</par><par>three</par><par def='1'>plain</par>"
               "<par def='9'>first</par><par>second</par>", ns)
    root = tree(r)
    assert [el.tag for el in root] == ["ul", "div", "ol"]
    assert texts(root, "ul/li") == ["one", "two", "three"]
    assert texts(root, "ol/li") == ["first", "second"]
    assert root.find("ol").get("type") is None
    assert r.features["list"] == 2


@pytest.mark.parametrize(
    "kind,tag,attr,value",
    [
        ("alphaupper", "ol", "type", "A"),
        ("alphalower", "ol", "type", "a"),
        ("romanupper", "ol", "type", "I"),
        ("romanlower", "ol", "type", "i"),
        ("circle", "ul", "style", "list-style-type:circle"),
        ("square", "ul", "style", "list-style-type:square"),
        ("check", "ul", "style", "list-style-type:none"),
        ("uncheck", "ul", "style", "list-style-type:none"),
    ],
)
def test_list_kinds(kind, tag, attr, value):
    root = tree(render(f"<pardef id='1' list='{kind}'/><par def='1'>item</par>"))
    lst = root[0]
    assert lst.tag == tag and lst.get(attr) == value
    if kind == "check":
        assert lst[0].text.startswith("\u2611")
    if kind == "uncheck":
        assert lst[0].text.startswith("\u2610")


def test_list_kind_change_starts_a_new_list():
    root = tree(render("<pardef id='1' list='bullet'/><pardef id='2' list='square'/>"
                       "<par def='1'>a</par><par def='2'>b</par><par def='1'>c</par>"))
    assert [(el.tag, el.get("style")) for el in root] == [
        ("ul", None), ("ul", "list-style-type:square"), ("ul", None)]


def test_list_nesting_by_margin():
    root = tree(render("<pardef id='1' leftmargin='1.25in' list='bullet'/><pardef id='2' leftmargin='1.5in' list='number'/>"
                       "<par def='1'>a</par><par def='2'>a.1</par><par>a.2</par><par def='1'>b</par>"))
    assert texts(root, "ul/li") == ["aa.1a.2", "b"]
    assert texts(root, "ul/li[1]/ol/li") == ["a.1", "a.2"]


def test_list_nesting_is_capped():
    body = "".join(f"<pardef id='{i}' leftmargin='{1 + i / 10:.2f}in' list='bullet'/><par def='{i}'>l{i}</par>"
                   for i in range(1, 40))
    root = tree(render(body))
    depth = max(len(list(el.iterancestors("ul"))) for el in root.iter("li"))
    assert depth <= 8


def test_empty_list_item_is_kept():
    root = tree(render("<pardef id='1' list='number'/><par def='1'>a</par><par/><par>c</par>"))
    assert len(root.xpath("ol/li")) == 3 and root.xpath("ol/li[2]/br")


# -- runs and fonts ----------------------------------------------------------------------------


@both
def test_run_font_styles_and_span(ns):
    r = render("<par><run><font style='bold italic underline strikethrough superscript shadow' color='red'"
               " size='12pt' name='Helvetica Neue'/>styled</run><run><font color='system' size='x'/>plain</run>"
               "<run highlight='yellow'><font style='subscript'/>h</run></par>", ns)
    root = tree(r)
    span = root.xpath("div/span")[0]
    assert span.get("style") == "color:red;font-size:12pt;font-family:'Helvetica Neue'"
    assert span.xpath("b/i/u/s/sup")[0].text == "styled"
    assert "shadow" not in r.html
    assert root.xpath("div/span")[1].get("style") == "background-color:#ffff00"
    assert root.xpath("div/span")[1].xpath("sub")[0].text == "h"
    assert "plain" in root.xpath("string(div)")  # color='system' ignored: no wrapper needed
    assert "color:system" not in r.html


def test_font_colors_and_generic_names():
    r = render("<par><run><font color='#191919' name='monospace'/>a</run><run><font color='none' name='multilingual'/>b</run></par>")
    assert "color:#191919;font-family:monospace" in r.html and "none" not in r.html and "multilingual" not in r.html


def test_run_nested_inline_constructs():
    r = render("<par><run><font style='bold'/>see <urllink href='https://example.org/'>here</urllink><break/>x</run></par>")
    b = tree(r).xpath("div/b")[0]
    assert b.xpath("a/@href") == ["https://example.org/"] and b.xpath("br")


@both
def test_break_and_tabs(ns):
    r = render("<par><run><font size='8pt'/>Series Link Number\t\t: x</run><break/>next</par>", ns)
    root = tree(r)
    tab = root.xpath("//span[@style='white-space:pre']")
    assert [t.text for t in tab] == ["\t\t"]
    assert root.xpath("div/br") and "next" in root.xpath("string(div)")
    assert "Series Link Number\t\t: x" in root.xpath("string(div)")


def test_newlines_in_character_data_follow_dxl_import_rules():
    r = render("<par>Votre nom: \n<field name='n' type='text'/></par><par>a\nb</par><par>\n  lead</par>")
    divs = tree(r).xpath("div")
    assert divs[0].text == "Votre nom: "
    assert divs[1].text == "a b" and divs[2].text == "lead"


def test_nonxmlchar_is_ignored_and_text_around_kept():
    r = render("<par>a<nonxmlchar value='1'/>b<run><nonxmlchar value='2'/></run></par>")
    assert r.html == '<div data-item="Body"><div>ab</div></div>'


def test_comments_and_processing_instructions_are_skipped():
    el = etree.fromstring("<richtext><!-- c --><par>a<!-- inner -->b<?pi x?>c</par></richtext>")
    r = render_richtext(el, item_name="Body")
    assert tree(r).xpath("string(div)") == "abc" and "inner" not in r.html


# -- tables ------------------------------------------------------------------------------------


@both
def test_table(ns):
    r = render("<table widthtype='fitmargins' cellbordercolor='#c6c6c6'><tablecolumn width='30%'/><tablecolumn width='1.9688in'/>"
               "<tablerow><tablecell bgcolor='white' valign='center' borderwidth='1px 0px'><par>a</par></tablecell>"
               "<tablecell rowspan='2'><par>b</par></tablecell></tablerow>"
               "<tablerow><tablecell><par>c</par></tablecell></tablerow>"
               "<tablerow><tablecell columnspan='2'><par>d</par><par>e</par></tablecell></tablerow></table>", ns)
    root = tree(r)
    table = root.find("table")
    assert "width:100%" in table.get("style")
    assert [c.get("style") for c in table.iter("col")] == ["width:30%", "width:1.9688in"]
    cells = table.xpath("tr/td")
    assert ["".join(c.itertext()) for c in cells] == ["a", "b", "c", "de"]
    assert cells[1].get("rowspan") == "2" and cells[3].get("colspan") == "2"
    assert "vertical-align:middle" in cells[0].get("style") and "background-color:white" in cells[0].get("style")
    assert "border-width:1px 0px" in cells[0].get("style") and "border-color:#c6c6c6" in cells[0].get("style")
    assert r.features["table"] == 1 and r.features["colspan"] == 1 and r.features["rowspan"] == 1


def test_nested_table_and_cell_text():
    r = render("<table><tablerow><tablecell>direct<table><tablerow><tablecell><par>inner</par></tablecell></tablerow>"
               "</table></tablecell><tablecell/></tablerow></table>")
    root = tree(r)
    assert root.xpath("table/tr/td[1]/table/tr/td/div")[0].text == "inner"
    assert root.xpath("table/tr/td[1]/div")[0].text == "direct"
    assert r.features["table"] == 2
    assert "<td" in r.html and not re.search(r"<td[^>]*/>", r.html)


def test_tabbed_table_shows_all_rows_with_labels():
    r = render("<table rowdisplay='tabs'><tablerowstyle><font color='navy'/></tablerowstyle><tablecolumn width='100%'/>"
               "<tablerow tablabel='First'><tablecell><par>one</par></tablecell></tablerow>"
               "<tablerow tablabel='Second'><tablecell><par>two</par></tablecell></tablerow></table>")
    rows = tree(r).xpath("table/tr")
    assert [row.get("class") for row in rows] == ["notes-tablabel", None, "notes-tablabel", None]
    assert [row.xpath("string()") for row in rows] == ["First", "one", "Second", "two"]
    assert rows[0][0].tag == "th" and "color:navy" in rows[0][0].get("style")
    assert r.features["tabbedtable"] == 1 and any("tabbed" in w for w in r.warnings)


def test_table_cells_with_blocks_and_lists():
    r = render("<table><tablerow><tablecell><pardef id='1' list='bullet'/><par def='1'>x</par><par>y</par>"
               "</tablecell></tablerow></table>")
    assert texts(tree(r), "table/tr/td/ul/li") == ["x", "y"]


# -- sections ------------------------------------------------------------------------------------


@both
def test_section(ns):
    r = render("<pardef id='3' leftmargin='0.75in'/><section expanded='true'><sectiontitle pardef='3' color='teal'>"
               "<text>Mes chansons:</text></sectiontitle><code event='hidewhen'><formula>x</formula></code>"
               "<par def='3'>body</par></section>", ns)
    root = tree(r)
    sec = root.xpath("div[@class='notes-section']")[0]
    assert sec.get("data-expanded") == "true"
    title = sec.xpath("div[@class='notes-section-title']")[0]
    assert title.text == "Mes chansons:" and "color:teal" in title.get("style")
    assert texts(sec, "div[@class='notes-section-body']/div") == ["body"]
    assert r.features["section"] == 1


def test_computed_section_title():
    r = render("<section><sectiontitle><code event='value'><formula>\"t\"</formula></code></sectiontitle><par>b</par></section>")
    assert "[Computed section title]" in r.html and any("section title" in w for w in r.warnings)


# -- links -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "href",
    ["https://example.org/x?a=1&b=2", "http://example.org", "mailto:a@example.org", "notes://srv/db.nsf", "ftp://example.org/f"],
)
def test_urllink_allowed(href):
    r = render(f"<par><urllink href='{href.replace('&', '&amp;')}'><run>text</run></urllink></par>")
    a = tree(r).xpath("div/a")[0]
    assert a.get("href") == href and a.text == "text" and r.warnings == []


@pytest.mark.parametrize(
    "href",
    ["javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java&#9;script:alert(1)",
     "java&#10;script:alert(1)", "vbscript:msgbox", "data:text/html;base64,PHNjcmlwdD4=", "file:///etc/passwd",
     "../relative/page.html"],
)
def test_urllink_disallowed_keeps_text(href):
    r = render(f"<par><urllink href='{href}'>click me</urllink></par>")
    root = tree(r)
    assert root.xpath("//a") == [] and root.xpath("string(div)") == "click me"
    assert r.warnings and "dropped" in r.warnings[0]
    assert_safe(r.html)


def test_urllink_bare_host_and_empty_content():
    r = render("<par><urllink href='www.example.org/page'/></par>")
    a = tree(r).xpath("div/a")[0]
    assert a.get("href") == "http://www.example.org/page" and a.text == "http://www.example.org/page"


def test_urllink_computed_by_formula():
    r = render("<par><urllink><code event='value'><formula>\"http://x\"</formula></code>label</urllink></par>")
    assert tree(r).xpath("string(div)") == "label" and "formula" in r.warnings[0]


@both
def test_doclink(ns):
    r = render("<par><doclink document='0123456789abcdef0123456789abcdef' view='FEDCBA9876543210FEDCBA9876543210'"
               " database='85257EF7:006D0765' server='CN=Srv/O=Org' description='Target'/>"
               "<doclink document='0123456789ABCDEF0123456789ABCDEF' database='85257EF7006D0765'><run>hot</run></doclink>"
               "<doclink/></par>", ns)
    a1, a2, a3 = tree(r).xpath("div/a")
    assert a1.get("href") == "notes:///85257EF7006D0765/FEDCBA9876543210FEDCBA9876543210/0123456789ABCDEF0123456789ABCDEF"
    assert a1.get("data-notes-link") == "doclink" and a1.get("data-replica") == "85257EF7006D0765"
    assert a1.get("data-view") == "FEDCBA9876543210FEDCBA9876543210"
    assert a1.get("data-document") == "0123456789ABCDEF0123456789ABCDEF" and a1.get("data-server") == "CN=Srv/O=Org"
    assert a1.text == "Target"
    assert a2.get("href") == "notes:///85257EF7006D0765/0/0123456789ABCDEF0123456789ABCDEF" and a2.text == "hot"
    assert a3.get("href") is None and a3.text == "Document link"
    assert r.features["doclink"] == 3


def test_viewlink_and_databaselink():
    r = render("<par><viewlink view='FEDCBA9876543210FEDCBA9876543210' database='85257EF7006D0765'/>"
               "<databaselink database='85257EF7006D0765' description='The DB'/></par>")
    v, d = tree(r).xpath("div/a")
    assert v.get("href") == "notes:///85257EF7006D0765/FEDCBA9876543210FEDCBA9876543210" and v.text == "View link"
    assert v.get("data-notes-link") == "viewlink"
    assert d.get("href") == "notes:///85257EF7006D0765" and d.text == "The DB" and d.get("data-notes-link") == "databaselink"


def test_doclink_with_injected_ids_is_sanitized():
    r = render("<par><doclink database='javascript:alert(1)' document='\"&gt;&lt;script&gt;'/></par>")
    a = tree(r).xpath("div/a")[0]
    assert a.get("href") is None and a.get("data-replica") is None and a.get("data-document") is None
    assert_safe(r.html)


def test_links_do_not_nest():
    r = render("<par><urllink href='https://a.example/'>x <doclink database='85257EF7006D0765'>y</doclink></urllink></par>")
    assert len(tree(r).xpath("//a")) == 1 and tree(r).xpath("string(div)") == "x y"


# -- attachments, pictures, objects --------------------------------------------------------------


@both
def test_attachmentref(ns):
    body = ("<par><attachmentref name='Sample Pictures.lnk' displayname='Sample.lnk'><picture height='47px' width='101px'>"
            "<notesbitmap>AAAA</notesbitmap></picture></attachmentref></par>")
    att = Attachment(name="Sample Pictures.lnk", size=3, sha256="x")
    r = render(body, ns, attachments={att.name: att})
    a = tree(r).xpath("div/a")[0]
    assert a.get("href") == "attachment:Sample Pictures.lnk" and a.get("data-attachment") == "Sample Pictures.lnk"
    assert a.text == "Sample.lnk" and "img" not in r.html and "notes-placeholder" not in r.html
    assert r.warnings == [] and r.features["attachmentref"] == 1
    missing = render(body, ns, attachments={})
    assert missing.warnings == ["attachment 'Sample Pictures.lnk' referenced in rich text is not in the document"]
    assert render(body, ns).warnings == []  # no mapping given: nothing to check


@both
def test_picture_png_inline_image(ns):
    r = render(f"<par><picture width='1px' height='1px' alttext='a &lt;pixel&gt;'><png>\n{PNG_B64}\n</png>"
               "<caption>cap</caption></picture></par>", ns, item_name="My Body")
    assert len(r.images) == 1
    img = r.images[0]
    assert isinstance(img, InlineImage)
    assert img.content_id == "My_Body-1@notes2m365" and img.filename == "image001.png"
    assert img.content_type == "image/png" and img.data == PNG and img.size == len(PNG)
    assert img.sha256 == hashlib.sha256(PNG).hexdigest()
    root = tree(r)
    el = root.xpath("//img")[0]
    assert el.get("src") == "cid:My_Body-1@notes2m365" and el.get("alt") == "a <pixel>"
    assert el.get("width") == "1" and el.get("height") == "1"
    assert root.xpath("//span[@class='notes-caption']")[0].text == "cap"
    assert r.features["picture"] == 1


def test_picture_gif_jpeg_and_dedup():
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 20
    g, j = base64.b64encode(GIF).decode(), base64.b64encode(jpeg).decode()
    r = render(f"<par><picture><gif>{g}</gif></picture><picture><jpeg>{j}</jpeg></picture><picture><gif>{g}</gif></picture></par>")
    assert [(i.filename, i.content_type) for i in r.images] == [("image001.gif", "image/gif"), ("image002.jpg", "image/jpeg")]
    srcs = tree(r).xpath("//img/@src")
    assert srcs == ["cid:Body-1@notes2m365", "cid:Body-2@notes2m365", "cid:Body-1@notes2m365"]


def test_picture_bad_base64_is_placeholder():
    r = render("<par><picture><png>!!!not base64!!!</png></picture><picture><jpeg>QUJD</jpeg></picture></par>")
    assert r.images == []
    assert len(tree(r).xpath("//span[@class='notes-placeholder']")) == 2
    assert any("invalid png" in w for w in r.warnings) and any("invalid jpeg" in w for w in r.warnings)


def test_content_ids_are_stable_and_sanitized():
    body = f"<par><picture><png>{PNG_B64}</png></picture></par>"
    a = render(body, item_name="$Body <x>")
    b = render(body, item_name="$Body <x>")
    assert a.images[0].content_id == b.images[0].content_id == "_Body__x_-1@notes2m365"


@pytest.mark.parametrize(
    "snippet,kind,label",
    [
        ("<picture><notesbitmap>AAAA</notesbitmap></picture>", "notesbitmap", "[Notes bitmap image]"),
        ("<picture alttext='alt'><imageref name='logo.jpg'/><caption>c</caption></picture>", "imageref", "[Image resource: logo.jpg]"),
        ("<picture><cgm>AAAA</cgm></picture>", "cgm", "[CGM image]"),
        ("<picture><bitmap>AAAA</bitmap></picture>", "bitmap", "[Bitmap image]"),
        ("<picture><nativeimage imagename='n.png'/></picture>", "nativeimage", "[Image: n.png]"),
        ("<objectref name='EXT14519' class='xmlfile' description='XML Document'><picture><notesbitmap>AA</notesbitmap>"
         "</picture></objectref>", "ole", "[OLE object: XML Document]"),
        ("<embeddedview name='($Inbox)'/>", "embeddedview", "[Embedded view: ($Inbox)]"),
        ("<embeddedfileuploadcontrol/>", "embeddedfileuploadcontrol", "[File upload control]"),
        ("<javaapplet><code event='x'/></javaapplet>", "javaapplet", "[Java applet]"),
        ("<layer><par>inside</par></layer>", "layer", "[Layer]"),
        ("<compositedata type='98'>Yg4BAIQAAAAAAAEAAAA=</compositedata>", "compositedata", "[Unsupported rich text data]"),
        ("<richtextdata>AAAA</richtextdata>", "richtextdata", "[Unsupported rich text data]"),
        ("<computedtext><code event='value'><formula>@Now</formula></code></computedtext>", "computedtext", "[Computed text]"),
        ("<field type='text' kind='editable' name='Subject'/>", "field", "[Field: Subject]"),
    ],
)
def test_placeholders(snippet, kind, label):
    r = render(f"<par>before {snippet} after</par>")
    ph = tree(r).xpath("//span[@class='notes-placeholder']")
    assert len(ph) == 1 and ph[0].get("data-notes-type") == kind and ph[0].text == label
    assert r.warnings and r.features[kind] == 1
    assert "before" in r.html and "after" in r.html and "@Now" not in r.html
    assert_safe(r.html)


def test_ole_placeholder_names_the_storage_item():
    r = render("<par><objectref name='EXT14519' class='xmlfile'/></par>")
    assert tree(r).xpath("//span/@data-object") == ["EXT14519"]
    assert r.warnings == ["OLE object 'EXT14519' not converted (placeholder)"]


def test_imagemap_renders_picture_and_area_links():
    r = render(f"<par><imagemap><picture width='1px' height='1px'><png>{PNG_B64}</png></picture>"
               "<area type='circle' alttext='Circle'><point x='1' y='1'/><urllink href='https://a.example/'/></area>"
               "<area type='default'><urllink href='javascript:x'/></area></imagemap></par>")
    root = tree(r)
    assert root.xpath("//img") and root.xpath("//a/@href") == ["https://a.example/"]
    assert root.xpath("//a")[0].text == "Circle"
    assert_safe(r.html)


# -- other inline constructs -----------------------------------------------------------------------


def test_horizrule():
    r = render("<par><horizrule height='0.0729in' width='100%' use3dshading='true' color='#ff0000'/></par>"
               "<par><horizrule width='url(x)' height='expression(1)'/></par>")
    hrs = tree(r).xpath("//hr")
    assert hrs[0].get("style") == "height:0.0729in;width:100%;border:none;background-color:#ff0000"
    assert hrs[1].get("style") is None
    assert r.features["horizrule"] == 2


def test_span_and_region_are_transparent():
    r = render("<par><span propid='0' regionid='1'><run><font style='bold'/>a</run></span></par>"
               "<par><region regionid='1'>b</region></par><par><region regionid='1' end='true'/></par>")
    assert r.html == '<div data-item="Body"><div><b>a</b></div><div>b</div><div><br/></div></div>'
    assert r.warnings == []


def test_anchor():
    r = render("<par>x<anchor name='top one'/>y</par>")
    a = tree(r).xpath("//a")[0]
    assert a.get("id") == "top_one" and "<a id=\"top_one\"></a>" in r.html


def test_button_hotspot_popup_keep_text_drop_code():
    r = render("<par><button width='2in'><code event='action'><simpleaction action='modifyfield' field='age' value='17'/></code>"
               "age to 17</button></par><par><button><code event='click'><formula>@Command([FileSave])</formula></code>"
               "Save</button></par>"
               "<par><actionhotspot><code event='action'><formula>FIELD a := 1</formula></code><run>act</run></actionhotspot></par>"
               "<par><popup show='onclick'><popuptext>Pop text</popuptext>hover me</popup></par>")
    root = tree(r)
    assert texts(root, "//span[@class='notes-button']") == ["age to 17", "Save"]
    assert texts(root, "//span[@class='notes-hotspot']") == ["act"]
    popup = root.xpath("//span[@class='notes-popup']")[0]
    assert popup.get("title") == "Pop text" and popup.text == "hover me"
    assert "FileSave" not in r.html and "modifyfield" not in r.html and "FIELD" not in r.html
    assert r.features["button"] == 2 and r.features["hotspot"] == 1 and r.features["popup"] == 1
    assert len(r.warnings) == 3  # one per construct kind, not per occurrence


def test_unknown_element_renders_text_with_warning():
    r = render("<par>a<sparkle level='9'><run><font style='bold'/>b</run></sparkle>c</par><gizmo>top-level</gizmo>")
    root = tree(r)
    assert root.xpath("string(div[1])") == "abc" and root.xpath("div[1]/b")[0].text == "b"
    assert root.xpath("string(div[2])") == "top-level"
    assert "unsupported rich text element <sparkle> rendered as text" in r.warnings
    assert "unsupported rich text element <gizmo> rendered as text" in r.warnings


def test_subform_and_block():
    r = render("<subformref name='Footer'/><block><par>in block</par></block>")
    root = tree(r)
    assert root.xpath("string(div[1])") == "[Subform: Footer]" and root.xpath("string(div[2])") == "in block"


# -- safety ---------------------------------------------------------------------------------------


def test_html_attributes_from_dxl_are_never_copied():
    r = render("<par><run html='true'><font color='red'/>&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</run>"
               "<urllink href='https://ok.example/' htmlid='x' htmlstyle='background:url(javascript:alert(1))'"
               " extrahtmlattrs='onclick=\"alert(1)\"'>ok</urllink></par>"
               "<table htmlstyle='x:expression(alert(1))' htmlclass='c'><tablerow><tablecell htmlid='y'>c</tablecell></tablerow></table>")
    assert_safe(r.html)
    root = tree(r)
    assert root.xpath("//script") == [] and root.xpath("//img") == []
    assert "<script>alert(1)</script>" in root.xpath("string(div[1])")  # shown as text
    assert "&lt;script&gt;" in r.html
    assert "pass-thru HTML in rich text rendered as plain text" in r.warnings


@pytest.mark.parametrize(
    "attrs",
    [
        "color='red;background-image:url(javascript:alert(1))'",
        "color='expression(alert(1))'",
        "size='12pt;behavior:url(x.htc)'",
        "name=\"Arial';background:url(x);x:'\"",
        "name='Arial&quot;&gt;&lt;script&gt;'",
        "color='#12345g'",
    ],
)
def test_injected_css_is_rejected(attrs):
    r = render(f"<par><run><font {attrs}/>x</run></par>")
    assert_safe(r.html)
    assert tree(r).xpath("string(div)") == "x"
    assert "url(" not in r.html and "expression" not in r.html and "script" not in r.html


def test_injected_lengths_and_colors_in_blocks():
    r = render("<pardef id='1' leftmargin='1in;background:url(x)' firstlineleftmargin='expression(1)' rightmargin='50%;x'/>"
               "<par def='1'>p</par><table cellbordercolor='red;x:url(y)' bgcolor='url(z)' colorstyle='solid'>"
               "<tablecolumn width='10in;x:url(a)'/><tablerow><tablecell bgcolor='red;x:url(b)' borderwidth='1px;x:url(c)'"
               " columnspan='2;x' rowspan='-1'>c</tablecell></tablerow></table>"
               "<section><sectiontitle color='red;x:url(d)'><text>t</text></sectiontitle></section>")
    assert_safe(r.html)
    assert "url(" not in r.html and ";x" not in r.html and "colspan" not in r.html and "rowspan" not in r.html


def test_on_attributes_cannot_appear_from_any_construct(tmp_path):
    # every DXL attribute an attacker controls, set to an event-handler-looking value
    hostile = "onload=alert(1) onclick=alert(1) javascript:alert(1)"
    body = (f"<pardef id='{hostile}' align='{hostile}'/><par def='{hostile}'>"
            f"<run highlight='{hostile}'><font color='{hostile}'/>x</run>"
            f"<doclink document='{hostile}' server='{hostile}' description='{hostile}'/>"
            f"<attachmentref name='{hostile}' displayname='{hostile}'/>"
            f"<picture alttext='{hostile}' width='{hostile}'><png>{PNG_B64}</png></picture>"
            f"<anchor name='{hostile}'/><popup><popuptext>{hostile}</popuptext>p</popup></par>")
    r = render(body, attachments={})
    assert_safe(r.html)
    for el in tree(r).iter():
        assert all(not k.startswith("on") for k in el.attrib)


def test_no_self_closing_non_void_elements():
    r = render("<par><run><font style='bold'/><nonxmlchar/></run><anchor name='a'/></par>"
               "<table><tablerow><tablecell/></tablerow></table><table/>"
               "<section><sectiontitle><text/></sectiontitle></section><par><sparkle/></par><par><actionhotspot/></par>")
    assert_safe(r.html)


# -- limits ---------------------------------------------------------------------------------------


def nested(depth: int, ns: bool, outer: str, inner_chain: list[str], leaf_text: str) -> etree._Element:
    """Build a deeply nested tree with SubElement (the XML parser itself refuses > 256 levels)."""
    q = (lambda t: f"{{{NS}}}{t}") if ns else (lambda t: t)
    root = etree.Element(q("richtext"))
    cur = root
    for _ in range(depth):
        for tag in inner_chain:
            cur = etree.SubElement(cur, q(tag))
    par = etree.SubElement(cur, q("par"))
    par.text = leaf_text
    return root


@both
def test_tables_nested_500_deep(ns):
    el = nested(500, ns, "richtext", ["table", "tablerow", "tablecell"], "deepest")
    r = render_richtext(el, item_name="Body")
    root = tree(r)  # re-parses: the output stays below libxml2's depth limit
    assert "deepest" in root.xpath("string()")
    assert any("flattened" in w for w in r.warnings)
    assert not any("rendering failed" in w for w in r.warnings), r.warnings
    assert 40 <= r.features["table"] < 100
    assert max(len(list(e.iterancestors())) for e in root.iter()) < 256


@pytest.mark.parametrize("chain", [["span"], ["run"], ["section"], ["block"], ["urllink"], ["sparkle"]])
def test_inline_nesting_2000_deep(chain):
    el = nested(2000, True, "richtext", ["par"] + chain, "leaf")
    r = render_richtext(el, item_name="Body")
    root = tree(r)
    assert "leaf" in root.xpath("string()")
    assert any("flattened" in w for w in r.warnings)
    assert not any("rendering failed" in w for w in r.warnings), r.warnings
    assert max(len(list(e.iterancestors())) for e in root.iter()) < 256


def test_max_depth_constant_is_sane():
    assert 50 <= MAX_DEPTH < 240


# -- determinism and purity --------------------------------------------------------------------------


def test_deterministic_output_and_input_untouched():
    el = etree.parse(str(FIXTURES / "kitchen_sink.xml")).getroot()
    before = etree.tostring(el)
    r1 = render_richtext(el, item_name="Body")
    r2 = render_richtext(el, item_name="Body")
    assert r1.html == r2.html and r1.warnings == r2.warnings and r1.features == r2.features
    assert [(i.content_id, i.sha256) for i in r1.images] == [(i.content_id, i.sha256) for i in r2.images]
    assert etree.tostring(el) == before


def test_golden_kitchen_sink():
    el = etree.parse(str(FIXTURES / "kitchen_sink.xml")).getroot()
    r = render_richtext(el, item_name="Body")
    expected = (FIXTURES / "kitchen_sink.html").read_text(encoding="utf-8").rstrip("\n")
    assert r.html == expected
    assert_safe(r.html)
    assert dict(r.features) == {
        "list": 2, "urllink": 2, "doclink": 1, "section": 1, "table": 1, "colspan": 1, "picture": 1,
        "attachmentref": 1, "ole": 1, "horizrule": 1, "button": 1, "computedtext": 1,
    }
    assert len(r.images) == 1 and r.images[0].content_type == "image/png"


# -- raw CD records ---------------------------------------------------------------------------------


def cd_text(text: bytes, font: bytes = b"\x01\x00\x00\x0a") -> bytes:
    length = 8 + len(text)
    rec = struct.pack("<HH", 0xFF85, length) + font + text
    return rec + (b"\x00" if length & 1 else b"")


CD_PAR = struct.pack("<H", 0x0281)  # SIG_CD_PARAGRAPH, BSIG length 2
CD_PABREF = struct.pack("<HH", 0x0483, 1)


def test_raw_cd_text_paragraphs():
    data = (struct.pack("<HI", 0x0061, 10) + b"\x00" * 4  # an LSIG record (skipped)
            + CD_PABREF + cd_text(b"Hello ") + cd_text(b"world") + CD_PAR + cd_text(b"odd") + CD_PAR + CD_PAR
            + cd_text(b"tab\there") + cd_text(b"line\x00break"))
    r = render_raw_richtext(data, item_name="Body")
    divs = tree(r).xpath("div")
    assert ["".join(d.itertext()) for d in divs] == ["Hello world", "odd", "", "tab\thereline" + "break"]
    assert divs[3].xpath("br") and divs[2].xpath("br")
    assert r.warnings == [RAW_CD_WARNING] and r.features["rawcd"] == 1 and r.images == []


def test_raw_cd_lmbcs():
    # group 1 (cp850) 0x82 = é, group 0x14 = UCS-2 big endian (U+20AC €), unprefixed UTF-8
    data = cd_text(b"caf\x01\x82 \x14\x20\xac " + "naïve".encode()) + CD_PAR + cd_text(b"\x10\x82\xa0")
    r = render_raw_richtext(data, item_name="Body")
    assert texts(tree(r), "div")[0] == "café € naïve"


@pytest.mark.parametrize(
    "data",
    [
        cd_text(b"partial text") + struct.pack("<HH", 0xFF85, 400) + b"abc",  # length beyond the end
        cd_text(b"partial text") + b"\x85",  # truncated header
        cd_text(b"partial text") + struct.pack("<HH", 0xFF85, 2),  # length shorter than the header
    ],
)
def test_raw_cd_malformed(data):
    r = render_raw_richtext(data, item_name="Body")
    assert "partial text" in tree(r).xpath("string()")
    assert r.warnings[0] == RAW_CD_WARNING and "malformed CD records" in r.warnings[1]


def test_raw_cd_random_bytes_never_raise():
    rng = random.Random(1234)
    for n in range(300):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
        r = render_raw_richtext(data, item_name="Body")
        etree.fromstring(r.html)
        assert_safe(r.html)


def test_raw_cd_empty():
    r = render_raw_richtext(b"", item_name="Body")
    assert r.html == '<div data-item="Body"></div>' and r.warnings == [RAW_CD_WARNING]


# -- real corpus ------------------------------------------------------------------------------------


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        pytest.skip("real DXL corpus ../shared/corpus/dxl-real is absent")
    return sorted(p for p in CORPUS.iterdir() if p.suffix in (".dxl", ".xml"))


def corpus_richtexts(name: str) -> list[tuple[str, etree._Element]]:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus file {name} is absent")
    tree_ = etree.parse(str(path))
    out = []
    for rt in tree_.iter(f"{{{NS}}}richtext", "richtext"):
        parent = rt.getparent()
        owner = parent.getparent() if parent is not None else None
        kind = etree.QName(owner).localname if owner is not None else "?"
        out.append((f"{kind}:{parent.get('name') if parent is not None else '?'}", rt))
    return out


def document_richtexts(name: str) -> dict[str, RenderedRichText]:
    return {label: render_richtext(rt, item_name=label.split(":", 1)[1])
            for label, rt in corpus_richtexts(name) if label.startswith(("document:", "note:"))}


def test_corpus_every_richtext_renders_safely():
    count = 0
    for path in corpus_files():
        for label, rt in corpus_richtexts(path.name):
            before = etree.tostring(rt)
            r = render_richtext(rt, item_name=label)
            assert_safe(r.html)
            assert r.html == render_richtext(rt, item_name=label).html, (path.name, label)
            assert etree.tostring(rt) == before
            assert "rendering failed" not in " ".join(r.warnings), (path.name, label, r.warnings)
            count += 1
    assert count >= 80


def test_corpus_plomino_test1_biography():
    docs = document_richtexts("plomino-test1.xml")
    r = docs["document:biography"]
    root = tree(r)
    assert r.features["table"] == 1 and r.features["section"] == 3 and r.features["horizrule"] == 1
    assert r.features["list"] == 2 and r.features["attachmentref"] == 1
    sections = root.xpath("div[@class='notes-section']")
    assert [s.xpath("string(div[@class='notes-section-title'])") for s in sections] == ["Mes chansons:", "Todo", "Dans l'ordre:"]
    assert texts(sections[0], ".//table//td") == ["titre", "auteur", "London Calling", "The Clash"]
    assert texts(sections[1], ".//ul/li") == ["faire un serveur", "faire les courses"]
    assert texts(sections[2], ".//ol/li") == ["les courses", "ranger", "manger"]
    assert root.xpath("div/hr")
    assert root.xpath("//a/@href") == ["attachment:Sample Pictures.lnk"]
    assert r.warnings == []
    photo = tree(docs["document:photo"])
    assert texts(photo, "div") == ["fd", "f", "sd", "fsd", "fsd", "", ""] and len(photo.xpath("div/b")) == 2


def test_corpus_digitalocean_colspan_and_regions():
    r = document_richtexts("certmgr-certstore_digitalocean.dxl")["document:Body"]
    root = tree(r)
    assert root.xpath("//td[@colspan='2']")[0].xpath("string()") == "Configuration Values"
    assert "Digital Ocean provides a free basic DNS service" in root.xpath("string()")  # inside <region>
    assert root.xpath("//b[.='Registered Domain']")


def test_corpus_desec_span_region_urllink():
    r = document_richtexts("certmgr-certstore_desec.dxl")["document:Body"]
    root = tree(r)
    assert root.xpath("//a/@href") == ["https://desec.readthedocs.io/en/latest/dyndns/configure.html"]
    assert "The deSEC e.V. REST API" in root.xpath("string(div[1])")  # inside <span propid regionid>
    assert len(root.xpath("table")) == 2 and root.xpath("//span/br")


def test_corpus_binaries_pictures_ole():
    rendered = [render_richtext(rt, item_name="article") for label, rt in corpus_richtexts("plomino-test_binaries.xml")
                if label == "document:article"]
    assert len(rendered) == 5
    images = [img for r in rendered for img in r.images]
    assert len(images) == 1 and images[0].content_type == "image/jpeg" and images[0].data[:3] == b"\xff\xd8\xff"
    assert images[0].sha256 == hashlib.sha256(images[0].data).hexdigest()
    feats = sum((r.features for r in rendered), start=type(rendered[0].features)())
    assert feats["imageref"] == 2 and feats["ole"] == 1 and feats["attachmentref"] == 1
    html = "".join(r.html for r in rendered)
    assert "[OLE object: XML Document]" in html and "overlord59-tux-samourai-1773.png" in html
    assert '<span class="notes-caption">caption</span>' in html


def test_corpus_hotspot_png_and_imagemap():
    (label, rt), = corpus_richtexts("jnx-hotspot.xml")
    r = render_richtext(rt, item_name="Body")
    assert len(r.images) == 1 and r.images[0].content_type == "image/png" and r.images[0].data[:4] == b"\x89PNG"
    root = tree(r)
    assert root.xpath("//img/@alt") == ["ImageAltText"] and root.xpath("//img/@width") == ["1031"]
    assert root.xpath("//a/@href") == ["https://www.hcltechsw.com/", "https://www.hcltechsw.com/domino",
                                       "https://www.hcltechsw.com/volt-mx", "https://www.hcltechsw.com/"]


def test_corpus_fieldtypes_tabs():
    (label, rt), = corpus_richtexts("jnx-form-fieldtypes.xml")
    r = render_richtext(rt, item_name="Body")
    root = tree(r)
    assert any(s.text == "\t\t" for s in root.xpath("//span[@style='white-space:pre']"))
    assert "[Field: SeriesLinkNumber]" in r.html and r.features["field"] == 23


def test_corpus_actions_form():
    label, rt = corpus_richtexts("plomino-test_actions.xml")[0]
    r = render_richtext(rt, item_name="Body")
    assert r.features["button"] == 1 and r.features["hotspot"] == 1 and r.features["popup"] == 1
    assert "age to 17" in r.html and "action hotspot : age to 15" in r.html and "modifyfield" not in r.html


def test_corpus_texteffect_tabbed_tables_in_layers():
    (label, rt), = corpus_richtexts("jnx-texteffectForm.xml")
    r = render_richtext(rt, item_name="Body")
    assert r.features["layer"] == 3 and r.features["subformref"] == 2
    assert "defaultFormBG" not in r.html  # formula of the computed subform


def test_corpus_styledtext_raw_cd():
    path = CORPUS / "jnx-styledtext.xml"
    if not path.is_file():
        pytest.skip("jnx-styledtext.xml is absent")
    raw = etree.parse(str(path)).find(f".//{{{NS}}}item[@name='Body']/{{{NS}}}rawitemdata")
    assert raw.get("type") == "1"
    r = render_raw_richtext(base64.b64decode(raw.text), item_name="Body")
    assert texts(tree(r), "div") == ["This is normal text.", "", "This is monospace text", "",
                                     "This is serif italic bold text"]
    assert r.warnings == [RAW_CD_WARNING]


def test_corpus_dollarfonts_raw_cd():
    path = CORPUS / "jnx-dollarfonts.xml"
    if not path.is_file():
        pytest.skip("jnx-dollarfonts.xml is absent")
    raw = etree.parse(str(path)).find(f".//{{{NS}}}item[@name='Body']/{{{NS}}}rawitemdata")
    r = render_raw_richtext(base64.b64decode(raw.text), item_name="Body")
    assert texts(tree(r), "div")[0] == "Please select one of the following options:"
    assert len(r.warnings) == 1


# -- seeded fuzz --------------------------------------------------------------------------------------

FUZZ_TAGS = ["par", "pardef", "run", "font", "break", "table", "tablerow", "tablecell", "tablecolumn", "section",
             "sectiontitle", "text", "urllink", "doclink", "attachmentref", "picture", "png", "gif", "caption",
             "notesbitmap", "span", "region", "button", "code", "popup", "popuptext", "horizrule", "anchor", "field",
             "objectref", "imagemap", "area", "block", "layer", "computedtext", "nonxmlchar", "mystery"]
FUZZ_ATTRS = {"def": ["1", "2", "x"], "id": ["1", "2"], "list": ["bullet", "number", "check", "bogus"],
              "leftmargin": ["0", "1in", "0.25in", "5%", "junk"], "style": ["bold italic", "superscript subscript"],
              "color": ["red", "#abc", "url(x)"], "href": ["https://e.example/", "javascript:alert(1)", ""],
              "columnspan": ["2", "x"], "name": ["n", "on<x>"], "rowdisplay": ["tabs"], "tablabel": ["T"],
              "size": ["10pt", "9"], "align": ["center", "full"], "width": ["50%", "2px"]}


def random_tree(rng: random.Random, ns: bool) -> etree._Element:
    q = (lambda t: f"{{{NS}}}{t}") if ns else (lambda t: t)
    root = etree.Element(q("richtext"))
    nodes = [root]
    for _ in range(rng.randrange(1, 120)):
        parent = rng.choice(nodes)
        if rng.random() < 0.2:
            parent.text = (parent.text or "") + rng.choice(["a", "\t", " b\n c", "é", "<&>"])
            continue
        el = etree.SubElement(parent, q(rng.choice(FUZZ_TAGS)))
        for attr in rng.sample(sorted(FUZZ_ATTRS), rng.randrange(0, 3)):
            el.set(attr, rng.choice(FUZZ_ATTRS[attr]))
        if etree.QName(el).localname in ("png", "gif"):
            el.text = rng.choice([PNG_B64, "@@@", base64.b64encode(GIF).decode()])
        if rng.random() < 0.3:
            el.tail = rng.choice(["t", " tail ", "\n"])
        nodes.append(el)
    return root


@pytest.mark.parametrize("seed", range(40))
def test_fuzz_random_trees(seed):
    rng = random.Random(seed)
    el = random_tree(rng, ns=bool(seed & 1))
    r = render_richtext(el, item_name="Body", attachments={})
    assert not any("rendering failed" in w for w in r.warnings), r.warnings
    assert_safe(r.html)
    assert render_richtext(el, item_name="Body", attachments={}).html == r.html


# -- fast paths and template caches ---------------------------------------------------------------

FAST_RUNS = [
    "<run><font size='10pt' name='Verdana'/>plain</run>",
    "<run><font style='bold italic' color='navy' size='9pt' name='Calibri'/>b&amp;i &lt;x&gt;</run>",
    "<run><font style='underline'/>no span</run>",
    "<run><font color='system'/>no wrapper</run>",
    "<run><font/>bare</run>",
    "<run><font name='Arial'/></run>",
]


@both
@pytest.mark.parametrize("run", FAST_RUNS)
def test_fast_run_matches_general_path(run, ns):
    """A comment child sends a run down the general path; the output must not change."""
    fast = render(f"<par>a{run}<break/>{run}z</par>", ns)
    slow_run = run.replace("</run>", "<!--c--></run>")
    slow = render(f"<par>a{slow_run}<break/>{slow_run}z</par>", ns)
    assert fast.html == slow.html and fast.warnings == slow.warnings
    assert fast.features == slow.features


def test_fast_paths_respect_run_attributes_and_text():
    r = render("<par><run highlight='yellow'><font style='bold'/>h</run><run html='true'><font style='bold'/>x</run>"
               "<run><font style='bold'/>t\tab</run><run><font style='bold'/>n\nl</run></par>")
    assert r.html == ('<div data-item="Body"><div><span style="background-color:#ffff00"><b>h</b></span><b>x</b>'
                      '<b>t<span style="white-space:pre">\t</span>ab</b><b>n l</b></div></div>')
    assert r.warnings == ["pass-thru HTML in rich text rendered as plain text"]


def test_rendered_trees_do_not_share_elements():
    body = ("<pardef id='1' align='center'/><par def='1'><run><font style='bold' color='red'/>x</run></par>"
            "<table><tablecolumn width='1in'/><tablerow><tablecell bgcolor='red'><par>c</par></tablecell></tablerow></table>")
    first = render(body)
    expected = first.html
    for el in first.element.iter():
        el.attrib.clear()
        el.text = "changed"
    first.element.append(etree.Element("p"))
    assert render(body).html == expected


def test_template_caches_cleared_when_full(monkeypatch):
    import notes2m365.richtext as rt

    caches = ("_WRAP_TEMPLATES", "_PARDEFS", "_STYLED", "_CELL_TEMPLATES", "_ROOTS")
    for name in caches:
        monkeypatch.setattr(rt, name, {})
    monkeypatch.setattr(rt, "_CACHE_LIMIT", 2)
    body = "".join(
        f"<pardef id='{n}' leftmargin='{n / 4}in'/><par def='{n}'><run><font size='{n}pt' style='bold'/>s{n}</run></par>"
        f"<table><tablecolumn width='{n}%'/><tablerow><tablecell bgcolor='#{n:06x}'><par>c{n}</par></tablecell>"
        f"</tablerow></table>"
        for n in range(8, 20)
    )
    html = render(body, item_name="Body").html
    assert render(body, item_name="Other").html == html.replace('"Body"', '"Other"', 1)
    assert all(0 < len(getattr(rt, name)) <= 2 for name in caches)
    assert render(body).html == html
    assert html.count("<b>") == 12 and 'style="font-size:19pt"' in html and 'background-color:#000013' in html
