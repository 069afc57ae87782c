"""The straight-to-markup rendering of the simplest rich text against the general renderer, byte for byte."""

from __future__ import annotations

import itertools
import random
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


def check(element, item_name: str = "Body") -> bool:
    """The fast path, when it answers, writes what the general renderer writes; True when it answered."""
    fast = rt._render_simple(element, rt._safe_item_name(item_name))
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
