"""The straight-to-markup rendering of the simplest rich text against the general renderer, byte for byte."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import pytest
from lxml import etree

from notes2m365 import richtext as rt
from notes2m365.dxl import iter_dxl
from notes2m365.model import NotesDocument
from notes2m365.richtext import render_richtext

from .conftest import corpus_files

NS = "http://www.lotus.com/dxl"
ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted({*ROOT.glob("samples/**/*.xml"), *ROOT.glob("samples/**/*.dxl"), *ROOT.glob("tests/fixtures/**/*.xml"),
                  *ROOT.glob("tests/fixtures/**/*.dxl"), *corpus_files()})


def general(element, item_name: str = "Body") -> rt.RenderedRichText:
    """The general renderer alone (the fast path switched off)."""
    saved = rt._render_simple
    rt._render_simple = lambda element, item_name: None
    try:
        return render_richtext(element, item_name=item_name)
    finally:
        rt._render_simple = saved


def tag_by_tag(element, item_name: str = "Body") -> str | None:
    """The fast path with every paragraph taken tag by tag (no cached paragraph beginnings)."""
    saved = rt._HEADS, rt._head
    rt._HEADS, rt._head = {}, lambda head: ()
    try:
        return rt._render_simple(element, item_name)
    finally:
        rt._HEADS, rt._head = saved


def check(element, item_name: str = "Body") -> bool:
    """The fast path, when it answers, writes what the general renderer writes; True when it answered."""
    fast = rt._render_simple(element, rt._safe_item_name(item_name))
    assert tag_by_tag(element, rt._safe_item_name(item_name)) == fast  # both ways of the fast path agree
    slow = general(element, item_name)
    if fast is None:
        return False
    assert fast == slow.html
    assert not slow.warnings and not slow.images and not slow.features
    rendered = render_richtext(element, item_name=item_name)
    assert rendered.html == slow.html and rendered.warnings == [] and rendered.images == []
    return True


def richtext(body: str, ns: bool = True) -> etree._Element:
    xmlns = f" xmlns='{NS}'" if ns else ""
    return etree.fromstring(f"<richtext{xmlns}>{body}</richtext>")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_samples_fixtures_and_corpus(path):
    for doc in iter_dxl(path):
        if not isinstance(doc, NotesDocument):
            continue
        for item in doc.items:
            if item.richtext is not None:
                check(item.richtext.element, item.name)


PLAIN = ("<pardef id='1'/>\n<par def='1'><run><font size='10pt' name='Times New Roman'/>Hello Elena,</run></par>\n"
         "<par def='1'><run><font size='10pt' name='Times New Roman'/>Regards,<break/>Jonas</run></par>\n")


@pytest.mark.parametrize("ns", [True, False])
def test_plain_body_takes_the_fast_path(ns):
    element = richtext(PLAIN, ns)
    assert check(element)
    # detached from its document, as the reader hands it over (the namespace is then declared with a prefix)
    doc = etree.fromstring(f"<document xmlns='{NS}'><item name='Body'><richtext>{PLAIN}</richtext></item></document>")
    item = doc[0]
    element = item[0]
    item.remove(element)
    assert check(element)


@pytest.mark.parametrize("body", [
    "",
    "   \n ",
    "<par/>",
    "<par></par>",
    "<par>plain &amp; &lt;simple&gt; \"quoted\" 'text'</par>",
    "<par def='9'><run><font/>no such pardef</run></par>",
    "<pardef id='1' align='center' leftmargin='1.5in' spacebefore='2'/><par def='1'><run><font/>x</run></par><par>kept</par>",
    "<pardef id='1' align='right'/><pardef id='2'/><par def='1'>a</par><par def='2'>b</par><par>c</par>",
    "<par><run><font/></run></par>",
    "<par><run><font style='bold'/></run><run><font style='italic'/>i</run></par>",
    "<par><run><font style='bold italic underline strikethrough superscript' color='red' size='12pt' "
    "name='A &quot;quoted&quot; &amp; odd &lt;font&gt;'/>styled</run></par>",
    "<par><run><font color='#00ff00' name='Arial'/><break/></run><run><font/><break/>after<break/></run></par>",
    "<par>lead<run><font style='bold'/>b</run></par>",
    "<par><run><font size='10pt' name='Verdana'/>déjà-vu £300 R&amp;D 😀</run></par>",
])
def test_simple_shapes_match_the_general_renderer(body):
    for ns in (True, False):
        assert check(richtext(body, ns)), body


@pytest.mark.parametrize("body", [
    "stray text",
    "<par>line\nbreak</par>",
    "<par>tab\there</par>",
    "<par><run><font/>line\nbreak</run></par>",
    "<par><run><font/>tab\there</run></par>",
    "<par><run><font/>a</run>tail</par>",
    "<par><run><font/>a</run> </par>",
    "<par><run highlight='yellow'><font/>a</run></par>",
    "<par><run html='true'><font/>a</run></par>",
    "<par><run>text first<font/></run></par>",
    "<par><run><font/>a<font style='bold'/>b</run></par>",
    "<par><run><font/>a<urllink href='http://x.example'>x</urllink></run></par>",
    "<par><break/></par>",
    "<pardef id='1' list='bullet'/><par def='1'><run><font/>item</run></par>",
    "<par>x</par>stray tail",
    "<table><tablerow><tablecell><par>c</par></tablecell></tablerow></table>",
    "<section><sectiontitle><text>t</text></sectiontitle><par>x</par></section>",
    "<par><run><font/>a</run><!-- c --></par>",
])
def test_other_shapes_go_to_the_general_renderer(body):
    for ns in (True, False):
        assert not check(richtext(body, ns)), body


def test_random_bodies():
    rng = random.Random(7)
    fonts = ["<font/>", "<font size='10pt' name='Times New Roman'/>", "<font style='bold'/>",
             "<font color='blue' style='italic underline'/>", "<font name='a&amp;b' size='9pt' color='#123456'/>"]
    texts = ["Hello", "a &amp; b", "&lt;tag&gt;", " spaced ", "x\ny", "t\tab", "", "ünï €"]
    pardefs = ["<pardef id='1'/>", "<pardef id='2' align='full' rightmargin='80%'/>",
               "<pardef id='3' leftmargin='2in' firstlineleftmargin='1in'/>", "<pardef id='4' list='number'/>"]
    fast = 0
    for _ in range(400):
        parts = [rng.choice(pardefs) for _ in range(rng.randint(0, 2))]
        for _ in range(rng.randint(0, 4)):
            ref = rng.choice(["", " def='1'", " def='2'", " def='3'", " def='4'", " def='7'"])
            runs = []
            for _ in range(rng.randint(0, 3)):
                inner = rng.choice(texts)
                for _ in range(rng.randint(0, 2)):
                    inner += "<break/>" + rng.choice(texts)
                runs.append(f"<run>{rng.choice(fonts)}{inner}</run>")
            lead = rng.choice(["", "", "lead "])
            parts.append(f"<par{ref}>{lead}{''.join(runs)}</par>" + rng.choice(["", "\n"]))
        body = "".join(parts)
        fast += check(richtext(body, rng.random() < 0.7))
    assert fast > 50


def test_element_of_a_fast_rendering_is_its_markup_parsed():
    first = render_richtext(richtext(PLAIN), item_name="Body")
    assert first._element is None
    expected = first.html
    assert etree.tostring(first.element, encoding="unicode") == expected
    assert first.element.tag == "div" and first.element.get("data-item") == "Body"
    first.element.append(etree.Element("p"))  # the tree can be changed: html follows it
    assert first.html == expected[:-len("</div>")] + "<p/></div>"
    assert render_richtext(richtext(PLAIN), item_name="Body").html == expected


def test_template_caches_cleared_when_full(monkeypatch):
    monkeypatch.setattr(rt, "_SERIALIZED", {})
    monkeypatch.setattr(rt, "_WRAP_TEMPLATES", {})
    monkeypatch.setattr(rt, "_CACHE_LIMIT", 2)
    for size, style in itertools.product(range(4), ("bold", "italic")):
        body = f"<par><run><font size='{size + 8}pt' style='{style}'/>s</run></par>"
        assert check(richtext(body))
    assert len(rt._SERIALIZED) <= 2


# -- tricky bodies: escaping, white space, fonts, breaks, namespaces -------------------------------------------

DXL_TEXTS = ["Hello", "a &amp; b", "&lt;tag&gt;", "]]&gt;", "\"quoted\" 'single'", "déjà vu", "€ 25", "😀 ok",
             "\u00a0nbsp\u00a0", "line\u2028sep", "&#233;t&#xe9;", "cr&#13;", "x\ny", "t\tab", " ", "", "  two  ",
             "/&gt;", "&lt;break/&gt;", "&lt;br/&gt;", "&lt;/run&gt;&lt;/par&gt;", "a=\"b\"", "&amp;amp;", "%s {0}"]
DXL_FONTS = ["<font/>", "<font size='10pt' name='Arial'/>", "<font name='Arial' size='10pt'/>", "<font style='bold'/>",
             "<font color='blue' style='italic underline'/>", "<font size='10pt' name='Times New Roman'/>",
             "<font name='a&amp;b &quot;q&quot; &lt;x&gt;' size='9pt' color='#123456'/>", "<font size='500pt'/>",
             "<font style='superscript subscript' name='Default Sans Serif'/>", "<font name='x/y' xml:lang='en'/>",
             "<font name='Tab&#9;Name' size='9pt'/>", "<font color='#12345g' name='Courier New'/>"]
DXL_PARDEFS = ["<pardef id='1'/>", "<pardef id='2' align='full' rightmargin='80%'/>",
               "<pardef leftmargin='2in' id='3' firstlineleftmargin='1in'/>", "<pardef id='1' align='center'/>",
               "<pardef id='5' spacebefore='2' hide='notes' linespacing='1.5'/>", "<pardef id='4' list='bullet'/>",
               ("<pardef id='6' keepwithnext='true'><code event='hidewhen'><formula>x != \"H\" &amp; y &lt; 2\n"
                "</formula></code></pardef>"), "<pardef id='2' align='right'> <code/> text </pardef>"]
DXL_SEPARATORS = ["", "", "\n", "\n", " \n ", "\t", "\u00a0", "\r\n"]
ODDITIES = ["<!-- c -->", "<?pi x?>", "<br/>", "<q:x xmlns:q='urn:q'/>", "<run highlight='yellow'><font/>h</run>",
            "<run><break/>no font</run>", "<font/>", "x", "<run><font/><font style='bold'/>2</run>", "<anchor name='a'/>"]


def random_run(rng: random.Random) -> str:
    parts = [rng.choice(DXL_FONTS)]
    for _ in range(rng.choice([0, 1, 1, 1, 2, 3])):
        parts.append(rng.choice(DXL_TEXTS) if rng.random() < 0.8 else "<break/>")
    if rng.random() < 0.2:
        parts.insert(1, "<break/>")
    if rng.random() < 0.03:
        parts.insert(rng.randint(1, len(parts)), rng.choice(ODDITIES))
    return "<run>" + "".join(parts) + "</run>"


def random_body(rng: random.Random) -> str:
    parts = [rng.choice(DXL_SEPARATORS)]
    for _ in range(rng.randint(0, 6)):
        r = rng.random()
        if r < 0.15:
            parts.append(rng.choice(DXL_PARDEFS))
        elif r < 0.22:
            parts.append(rng.choice(["<par/>", "<par def='1'/>", "<par def='2'/>", "<par def='9'/>"]))
        elif r < 0.27:
            parts.append(rng.choice(ODDITIES))
        else:
            attrs = rng.choice(["", " def='1'", " def='1'", " def='2'", " def='3'", " def='4'", " def='5'", " def='7'",
                                " foo='x' def='1'", " def='1' foo='x'"])
            lead = rng.choice(["", "", "", "", "lead ", " "])
            runs = "".join(random_run(rng) for _ in range(rng.choice([0, 1, 1, 1, 1, 2, 3])))
            parts.append(f"<par{attrs}>{lead}{runs}</par>")
        parts.append(rng.choice(DXL_SEPARATORS))
    return "".join(parts)


def prefixed(body: str, prefix: str) -> str:
    """The body with every DXL element written with a prefix."""
    return re.sub(r"<(/?)(?=[a-z]+[\s/>])", rf"<\1{prefix}:", body)


def elements(body: str, mode: int):
    """The body as a <richtext> element in one of the ways it can come: in no namespace, in the DXL namespace
    (default or prefixed), as the root or detached from its document as the reader hands it over."""
    if mode == 0:
        return etree.fromstring(f"<richtext>{body}</richtext>")
    if mode == 1:
        return etree.fromstring(f"<richtext xmlns='{NS}'>{body}</richtext>")
    if mode == 2:
        return etree.fromstring(f"<d:richtext xmlns:d='{NS}'>{prefixed(body, 'd')}</d:richtext>")
    if mode == 3:  # detached from its document: the namespace then gets a prefix of its own (ns0, ns1, ...)
        doc = etree.fromstring(f"<document xmlns='{NS}'><item name='Body'><richtext>{body}</richtext></item></document>")
        element = doc[0][0]
        doc[0].remove(element)
        return element
    if mode == 4:  # still in its document
        doc = etree.fromstring(f"<d:document xmlns:d='{NS}'><d:item><d:richtext>{prefixed(body, 'd')}</d:richtext>"
                               "</d:item></d:document>")
        return doc[0][0]
    # detached, with a prefix in the document
    doc = etree.fromstring(f"<d:document xmlns:d='{NS}'><d:item><d:richtext>{prefixed(body, 'd')}</d:richtext>"
                           "</d:item></d:document>")
    element = doc[0][0]
    doc[0].remove(element)
    return element


def test_random_tricky_bodies():
    rng = random.Random(20240611)
    answered = 0
    total = 0
    for n in range(700):
        body = random_body(rng)
        for mode in (n % 6, rng.randrange(6)):
            total += 1
            answered += check(elements(body, mode))
    assert answered > total // 4


@pytest.mark.parametrize("mode", range(6))
def test_usual_mail_takes_the_fast_path_in_every_namespace_form(mode):
    body = ("\n<pardef id='1'/>\n<pardef id='2' align='center'/>\n"
            "<par def='1'><run><font size='10pt' name='Arial'/>Hello &amp; welcome,</run></par>\n"
            "<par def='2'><run><font size='10pt' name='Arial'/>centred <break/>text</run></par>\n"
            "<par><run><font size='10pt' name='Arial'/>same pardef</run><run><font style='bold'/>bold</run></par>\n"
            "<par def='1'/>\n<par def='1'><run><font size='10pt' name='Arial'/></run></par>\n"
            "<par def='1'>lead <run><font size='10pt' name='Arial'/>x</run></par>\n"
            "<pardef id='1' align='right'/><par def='1'><run><font size='10pt' name='Arial'/>right</run></par>\n"
            "<par def='1'><run><font/><break/></run></par><pardef id='3'/>\n")
    assert check(elements(body, mode))


@pytest.mark.parametrize("body", [
    "<par><run><font/>a<br/>b</run></par>",  # not a DXL break: not the fast path's <br/>
    "<par><run><font/>a<!--<break/>-->b</run></par>",
    "<par><run><font/>a<?break?>b</run></par>",
    "<par><run><font/>a</run><run><font/>b</run></par>",
    "<par><run><font size='10pt'>a</font></run></par>",
    "<par><run><font size='10pt'/>a<font/>b</run></par>",
    "<par><q:run xmlns:q='urn:q'><font/>a</q:run></par>",
    "<par><run><q:font xmlns:q='urn:q' size='10pt'/>a</run></par>",
    "<q:par xmlns:q='urn:q' def='1'><run><font/>a</run></q:par>",
    "<par def='1' xmlns:q='urn:q' q:def='2'><run><font/>a</run></par>",
    "<pardef id='1'><tabs/></pardef><par def='1'><run><font/>a</run></par>",
    "<par><run><font/></run></par><par><run><font/></run><run><font/></run></par>",
    "<par><run><font/><break/></run></par>",
    "<pardef id='1'/>x<par def='1'><run><font size='9pt'/>a</run></par>",  # stray text before a paragraph
    "<pardef id='1'><code><formula>a</formula></code></pardef>x<par def='1'><run><font/>a</run></par>",
    "<pardef id='1'><code><formula>a</formula></code></pardef>\n<par def='1'><run><font/>a</run></par>",
    "<pardef id='1'><pardef id='2'/><x>t</x>t</pardef><par def='1'><run><font/>a</run></par>",
    "<pardef id='1'><!-- c --></pardef><par def='1'><run><font/>a</run></par>",
    "<pardef id='1'><?pi x?></pardef><par def='1'><run><font/>a</run></par>",
    "<pardef id='1' list='bullet'><code/></pardef><par def='1'><run><font/>a</run></par>",
    "<par def='1'><run><font size='9pt'/>a</run></par>\ny\n<par def='1'><run><font size='9pt'/>b</run></par>",
    "<par def='1'><run><font size='9pt'/>a</run></par><par def='1'> <run><font size='9pt'/>b</run></par>",
    "<par def='1'><run><font size='9pt'/>a</run></par><par def='1'><run>r<font size='9pt'/>b</run></par>",
    "<par def='1'><run><font size='9pt'/>a</run> </par><par def='1'><run><font size='9pt'/>b</run></par>",
    "<par def='1'><run><font size='9pt'/>a</run></par><par def='1'/><par><run><font size='9pt'/>b</run></par>",
])
@pytest.mark.parametrize("mode", range(6))
def test_odd_markup(body, mode):
    check(elements(body, mode))


def test_markup_that_is_not_text():
    # CDATA kept by the parser, entity references left unresolved: the general renderer decides
    parser = etree.XMLParser(strip_cdata=False, resolve_entities=False)
    doc = etree.fromstring(f"<!DOCTYPE r [<!ENTITY e 'ent'>]><r><richtext xmlns='{NS}'><par><run><font/>"
                           "a<![CDATA[<b> & c]]>d&e;f</run></par></richtext></r>", parser)
    assert not check(doc[0])
    for body in ["<par><run><font/>a&e;b</run></par>", "<par><run><font/>a<![CDATA[x]]>b</run></par>"]:
        doc = etree.fromstring(f"<!DOCTYPE r [<!ENTITY e 'ent'>]><richtext xmlns='{NS}'>{body}</richtext>", parser)
        assert not check(doc)


def test_not_a_richtext_root():
    # the fast path does not look at the root's name; a root whose serialization ends like a paragraph
    for xml in ["<par><run><font/>x</run></par>", "<richtext/>", f"<richtext xmlns='{NS}'/>", "<x:r xmlns:x='urn:x'/>"]:
        check(etree.fromstring(xml))
