"""Third-party HTML (MIME bodies) is shown safe and well-formed."""

from lxml import etree

from notes2m365.htmlsafe import sanitize_html

HOSTILE = (
    '<html><head><script>steal()</script><meta http-equiv="refresh" content="0;url=http://x"></head>'
    '<body onload="x()"><p style="color:red">hi<img src="javascript:alert(1)" onerror="y()">'
    '<a href=" java\tscript:alert(1)">l</a><a href="https://example.org">ok</a><img src="cid:img1@x">'
    '<svg><script>z()</script></svg><iframe src="https://evil"></iframe><style>a{}</style>'
    '<span style="background:url(http://t/)">t</span><form action="x"><input></form>tail &amp; more<br></p>'
    '<!-- comment --></body></html>'
)


def test_hostile_html_is_neutralised():
    out = sanitize_html(HOSTILE)
    root = etree.fromstring(out)
    assert root.get("data-item") == "Body"
    tags = {el.tag for el in root.iter()}
    assert not tags & {"script", "svg", "iframe", "style", "form", "input", "meta"}
    for el in root.iter():
        for name, value in el.attrib.items():
            assert not name.startswith("on")
            assert "javascript" not in value.replace("\t", "").lower()
            assert "url(" not in value
    assert root.xpath("//a/@href") == ["https://example.org"]
    assert root.xpath("//img/@src") == ["cid:img1@x"]
    assert "tail & more" in "".join(root.itertext())


def test_empty_and_plain_text():
    assert etree.fromstring(sanitize_html("")).get("data-item") == "Body"
    assert "just text" in sanitize_html("just text")
