"""Identity mapping: name forms, the CSV, rules, and reporting of what cannot be mapped."""

from __future__ import annotations

import re

import pytest

from notes2m365.errors import ConfigError
from notes2m365.identity import IdentityEntry, IdentityMap, IdentityRules, Resolution, abbreviate, canonicalize

JANE = "CN=Jane Doe/OU=Sales/O=Acme"
DEMO_CSV = """notes_name,target,kind
CN=Jane Doe/OU=Sales/O=Acme,Jane.Doe@acme.example,person
John Smith/Acme,john.smith@acme.example,
CN=Maria Garcia/OU=Marketing/O=Acme,maria.garcia@acme.example,person
CN=Matterhorn/OU=Zurich Rooms/O=Acme,matterhorn@acme.example,room
Beamer 3,beamer3@acme.example,resource
[Editors],teamroom-editors@acme.example,role
Sales Team,sales@acme.example,group
*/Sales/Acme,sales-all@acme.example,
"""
RULES = IdentityRules(fallback_domain="acme.example", fallback_orgs=("Acme",), internet_domains=("acme.example",),
                      ignore=("*/OU=Servers/O=Acme", "LocalDomainServers", "-Default-", "Anonymous"),
                      servers=("CN=mail02/OU=Hub/O=Acme",), fallback=True)


def write(tmp_path, text: str, name: str = "identity.csv", encoding: str = "utf-8", newline: str = "\n"):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return str(path)


@pytest.fixture
def demo(tmp_path) -> IdentityMap:
    return IdentityMap.load(write(tmp_path, DEMO_CSV), RULES)


# -- name forms ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, canonical, abbreviated", [
    (JANE, JANE, "Jane Doe/Sales/Acme"),
    ("Jane Doe/Sales/Acme", JANE, "Jane Doe/Sales/Acme"),
    ("Jane Doe/Sales/Acme@ACME", JANE, "Jane Doe/Sales/Acme"),
    ("CN=Jane Doe/OU=Sales/O=Acme@ACME", JANE, "Jane Doe/Sales/Acme"),
    ("  cn = Jane  Doe / ou=Sales/o=Acme ", JANE, "Jane Doe/Sales/Acme"),
    ("CN=Jayne Doe/OU=Inside Sales/OU=Sales/O=ABCorp/C=US", "CN=Jayne Doe/OU=Inside Sales/OU=Sales/O=ABCorp/C=US",
     "Jayne Doe/Inside Sales/Sales/ABCorp/US"),
    ("Jayne Doe/Inside Sales/Sales/ABCorp/US", "CN=Jayne Doe/OU=Inside Sales/OU=Sales/O=ABCorp/C=US",
     "Jayne Doe/Inside Sales/Sales/ABCorp/US"),
    ("A B/One/Two/Three/Four/Acme/CH", "CN=A B/OU=One/OU=Two/OU=Three/OU=Four/O=Acme/C=CH",
     "A B/One/Two/Three/Four/Acme/CH"),
    ("John Smith/Acme", "CN=John Smith/O=Acme", "John Smith/Acme"),
    ("Jane Doe", "Jane Doe", "Jane Doe"),
    ("CN=Jane Doe", "Jane Doe", "Jane Doe"),
    ("Jane Doe@ACME", "Jane Doe", "Jane Doe"),
    ("jane.doe@acme.example", "jane.doe@acme.example", "jane.doe@acme.example"),
    ('"Jane Doe" <jane.doe@acme.example>', "jane.doe@acme.example", "jane.doe@acme.example"),
    ("Jane Doe <Jane.Doe@acme.example>", "Jane.Doe@acme.example", "Jane.Doe@acme.example"),
    ('"Doe, Jane" <jane.doe@acme.example>', "jane.doe@acme.example", "jane.doe@acme.example"),
    ("Jane Doe <Jane Doe/Sales/Acme@ACME>", JANE, "Jane Doe/Sales/Acme"),
    ("[Editors]", "[Editors]", "[Editors]"),
    ("*/Sales/Acme", "*/OU=Sales/O=Acme", "*/Sales/Acme"),
    ("CN=*/OU=Sales/O=Acme", "*/OU=Sales/O=Acme", "*/Sales/Acme"),
    ("*", "*", "*"),
    ("-Default-", "-Default-", "-Default-"),
    ("", "", ""),
])
def test_canonicalize_and_abbreviate(name, canonical, abbreviated):
    assert canonicalize(name) == canonical
    assert abbreviate(name) == abbreviated
    assert canonicalize(abbreviated) == canonicalize(canonical)


def test_every_form_of_jane_resolves_identically(demo):
    forms = [JANE, "Jane Doe/Sales/Acme", "jane doe/sales/acme", "CN=JANE DOE/OU=SALES/O=ACME",
             "Jane Doe/Sales/Acme@ACME", "Jane.Doe@acme.example", "jane.doe@ACME.example",
             '"Jane Doe" <jane.doe@acme.example>', "Jane Doe <jane.doe@acme.example>"]
    results = [demo.resolve(f) for f in forms]
    assert {(r.kind, r.address, r.source) for r in results} == {("person", "Jane.Doe@acme.example", "csv")}
    assert results[2].name == "jane doe/sales/acme" and results[2].canonical == "CN=jane doe/OU=sales/O=acme"
    assert demo.unresolved() == []


def test_kinds_from_the_csv(demo):
    assert demo.resolve("[Editors]") == Resolution("[Editors]", "[Editors]", "role", "teamroom-editors@acme.example",
                                                   "csv")
    assert demo.resolve("[editors]").address == "teamroom-editors@acme.example"
    assert demo.resolve("Sales Team").kind == "group"
    assert demo.resolve("sales team").address == "sales@acme.example"
    assert demo.resolve("Matterhorn/Zurich Rooms/Acme").kind == "room"
    assert demo.resolve("Beamer 3").kind == "resource"
    assert demo.resolve("CN=John Smith/O=Acme").kind == "person"          # empty kind column = person
    wildcard = demo.resolve("*/OU=Sales/O=Acme")                           # wildcard in the CSV: a group
    assert (wildcard.kind, wildcard.address) == ("group", "sales-all@acme.example")
    assert len(demo) == 8


def test_aliases_two_names_one_address(tmp_path):
    path = write(tmp_path, "notes_name,target\nCN=Jane Doe/OU=Sales/O=Acme,jane.doe@acme.example\n"
                           "Jane Doe,jane.doe@acme.example\nJDoe,JANE.DOE@acme.example\n"
                           "Jane Doe/Sales/Acme,jane.doe@acme.example\n")
    ids = IdentityMap.load(path)
    assert {ids.resolve(n).address for n in (JANE, "Jane Doe", "jdoe")} == {"jane.doe@acme.example",
                                                                              "JANE.DOE@acme.example"}
    assert len(ids) == 3                                                   # the repeated row is the same fact


# -- CSV errors ---------------------------------------------------------------------------------

def test_conflicting_duplicate_names_both_lines(tmp_path):
    path = write(tmp_path, "notes_name,target\nCN=Jane Doe/OU=Sales/O=Acme,jane.doe@acme.example\n"
                           "John Smith/Acme,john.smith@acme.example\njane doe/sales/acme,jd@acme.example\n")
    with pytest.raises(ConfigError) as err:
        IdentityMap.load(path)
    message = str(err.value)
    assert message.startswith(f"{path}:4: ") and "line 2" in message
    assert "jd@acme.example" in message and "jane.doe@acme.example" in message


def test_same_name_different_kind_conflicts(tmp_path):
    path = write(tmp_path, "notes_name,target,kind\nSales Team,sales@acme.example,group\n"
                           "Sales Team,sales@acme.example,person\n")
    with pytest.raises(ConfigError, match=r":3: .*line 2"):
        IdentityMap.load(path)


@pytest.mark.parametrize("text, line, words", [
    ("notes_name,target\nJane Doe,not-an-address\n", 2, "not an e-mail address"),
    ("notes_name,target\nJane Doe,jane@\n", 2, "not an e-mail address"),
    ("notes_name,target\nJane Doe,Jane Doe <jane@acme.example>\n", 2, "not an e-mail address"),
    ("notes_name,target\nJane Doe,j\u00f6rg@acme.example\n", 2, "not an e-mail address"),
    ("notes_name,target\n\nJane Doe\n", 3, "expected 2 fields"),
    ("notes_name,target\nJane Doe,jane@acme.example,person\n", 2, "expected 2 fields"),
    ("notes_name,target\n,jane@acme.example\n", 2, "notes_name is empty"),
    ("notes_name,target,kind\nJane Doe,,person\n", 2, "target is empty"),
    ("notes_name,target,kind\nJane Doe,jane@acme.example,user\n", 2, "unknown kind 'user'"),
    ("notes_name,target,kind\nEditors,editors@acme.example,role\n", 2, "in brackets"),
    ("notes_name,target,kind\n[Editors],editors@acme.example,person\n", 2, "in brackets"),
    ("notes_name,address\nJane Doe,jane@acme.example\n", 1, "header must be"),
    ("name,target,kind\n", 1, "header must be"),
    ("notes_name,target,kind,comment\n", 1, "header must be"),
    ("", 1, "empty file"),
    ('notes_name,target\n"Jane Doe,jane@acme.example\n', 2, "expected 2 fields"),
])
def test_bad_rows_name_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        IdentityMap.load(path)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert words in str(err.value)


def test_not_utf8_and_missing_file(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("notes_name,target\nJ\u00fcrg M\u00fcller,jm@acme.example\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=re.escape(f"{path}:2: not UTF-8")):
        IdentityMap.load(str(path))
    with pytest.raises(ConfigError, match="nope.csv: cannot read"):
        IdentityMap.load(str(tmp_path / "nope.csv"))


@pytest.mark.parametrize("encoding, newline", [("utf-8", "\n"), ("utf-8-sig", "\r\n"), ("utf-8-sig", "\n"),
                                               ("utf-8", "\r\n")])
def test_bom_and_line_endings(tmp_path, encoding, newline):
    text = ("notes_name,target,kind\n# comment line\nCN=J\u00fcrg M\u00fcller/OU=Z\u00fcrich/O=Acme,"
            "juerg.mueller@acme.example,person\n\n\"Smith, John\",john.smith@acme.example,\nbad,row\n")
    path = write(tmp_path, text, encoding=encoding, newline=newline)
    with pytest.raises(ConfigError, match=re.escape(f"{path}:6: expected 3 fields")):
        IdentityMap.load(path)
    ids = IdentityMap.load(write(tmp_path, text.replace("bad,row\n", ""), "ok.csv", encoding, newline))
    assert ids.resolve("J\u00fcrg M\u00fcller/Z\u00fcrich/Acme").address == "juerg.mueller@acme.example"
    assert ids.resolve("smith, john").address == "john.smith@acme.example"


def test_entries_constructor_validates_too():
    ids = IdentityMap([("Jane Doe/Sales/Acme", "jane.doe@acme.example"), IdentityEntry("[Admin]", "admins@acme.example")])
    assert ids.resolve(JANE).source == "csv" and ids.resolve("[Admin]").kind == "role"
    with pytest.raises(ConfigError, match=r"^<entries>:2: .*line 1"):
        IdentityMap([("Jane Doe", "a@acme.example"), ("jane doe", "b@acme.example")])


# -- rules --------------------------------------------------------------------------------------

def test_fallback_rule_on(demo):
    res = demo.resolve("CN=Ravi Kumar/OU=Bangalore/O=Acme")
    assert (res.kind, res.address, res.source) == ("person", "ravi.kumar@acme.example", "rule:fallback")
    assert res.reason and "fallback" in res.reason and "not from the CSV" in res.reason
    assert demo.resolve("Peter J. Miller/Engineering/Acme").address == "peter.miller@acme.example"
    assert demo.resolve("CN=J\u00fcrgen M\u00fcller-Stra\u00dfer/O=Acme").address == "juergen.mueller-strasser@acme.example"
    assert demo.resolve("CN=Jos\u00e9 Nu\u00f1ez/O=Acme/C=ES").address == "jose.nunez@acme.example"
    # decomposed umlaut (NFD) transliterates like the composed one
    assert demo.resolve("CN=Ju\u0308rgen Mu\u0308ller/O=Acme").address == "juergen.mueller@acme.example"
    assert demo.unresolved() == []


def test_fallback_rule_cannot_build_an_address(demo):
    one_word = demo.resolve("CN=Boardroom/OU=Rooms/O=Acme")
    assert one_word.kind == "unresolved" and "{last}" in one_word.reason
    cyrillic = demo.resolve("CN=\u0418\u0432\u0430\u043d \u041f\u0435\u0442\u0440\u043e\u0432/O=Acme")
    assert cyrillic.kind == "unresolved" and cyrillic.address is None
    comma = demo.resolve("Doe, Jane/Sales/Acme")
    assert comma.kind == "unresolved" and "comma" in comma.reason
    org_unit = demo.resolve("OU=Sales/O=Acme")
    assert org_unit.kind == "unresolved" and "not a person name" in org_unit.reason


def test_fallback_cn_pattern():
    ids = IdentityMap((), IdentityRules(fallback_domain="acme.example", pattern="{cn}", fallback_orgs=("Acme",),
                                        fallback=True))
    assert ids.resolve("CN=Peter J. Miller/O=Acme").address == "peter.j.miller@acme.example"
    ids = IdentityMap((), IdentityRules(fallback_domain="acme.example", pattern="{first}{last}x",
                                        fallback_orgs=("Acme",), fallback=True))
    assert ids.resolve("CN=Ravi Kumar/OU=Bangalore/O=Acme").address == "ravikumarx@acme.example"


def test_fallback_rule_off_and_out_of_scope():
    off = IdentityMap((), IdentityRules(fallback_domain="acme.example", fallback_orgs=("Acme",)))
    res = off.resolve("CN=Ravi Kumar/OU=Bangalore/O=Acme")
    assert (res.kind, res.address, res.source) == ("unresolved", None, None)
    assert res.reason == "no entry for CN=Ravi Kumar/OU=Bangalore/O=Acme and no rule applies (fallback rule not enabled)"
    scoped = IdentityMap((), IdentityRules(fallback_domain="acme.example", fallback_orgs=("Sales/Acme",), fallback=True))
    assert scoped.resolve("Jane Doe/Sales/Acme").address == "jane.doe@acme.example"
    assert scoped.resolve("CN=Joe Bloggs/OU=Inside/OU=Sales/O=Acme").source == "rule:fallback"
    outside = scoped.resolve("CN=Ravi Kumar/OU=Bangalore/O=Acme")
    assert outside.kind == "unresolved" and "outside fallback_orgs" in outside.reason
    assert scoped.resolve("CN=Hans Meier/O=Other").kind == "unresolved"
    assert scoped.resolve("Jane Doe").kind == "unresolved"                  # no hierarchy, no org to check
    assert scoped.resolve("CN=Jane Doe/OU=Sales/O=AcmeCorp").kind == "unresolved"
    assert scoped.resolve("CN=Jane Doe/OU=Sales/O=Acme/C=CH").source == "rule:fallback"   # any country
    swiss = IdentityMap((), IdentityRules(fallback_domain="acme.example", fallback_orgs=("Acme/CH",), fallback=True))
    assert swiss.resolve("Jane Doe/Sales/Acme/CH").source == "rule:fallback"
    assert swiss.resolve("Jane Doe/Sales/Acme/DE").kind == "unresolved"
    assert swiss.resolve("Jane Doe/Sales/Acme").kind == "unresolved"


def test_csv_wins_over_the_rule(demo):
    assert demo.resolve(JANE).source == "csv"


def test_ignore_patterns_and_servers(demo):
    for name in ("CN=mail01/OU=Servers/O=Acme", "mail01/Servers/Acme", "LocalDomainServers", "localdomainservers",
                 "-Default-", "Anonymous"):
        res = demo.resolve(name)
        assert (res.kind, res.source, res.address) == ("ignored", "ignore", None), name
    server = demo.resolve("mail02/Hub/Acme")
    assert (server.kind, server.reason) == ("ignored", "listed as a server")
    assert demo.resolve("").kind == "ignored"
    assert demo.unresolved() == []


def test_ignore_brackets_literal_and_star_alone():
    ids = IdentityMap((), IdentityRules(ignore=("[Admin]", "*", "*@bounce.example", "CN=svc-?/O=Acme")))
    assert ids.resolve("[admin]").kind == "ignored"
    assert ids.resolve("[A]").kind == "unresolved"                          # not a character class
    assert ids.resolve("*").kind == "ignored"
    assert ids.resolve("Jane Doe").kind == "unresolved"                     # "*" is the ACL entry, not everything
    assert ids.resolve("Returns@Bounce.example").kind == "ignored"
    assert ids.resolve("svc-1/Acme").kind == "ignored"
    assert ids.resolve("svc-12/Acme").kind == "unresolved"


def test_internet_addresses(demo):
    internal = demo.resolve("peter.miller@acme.example")                   # not in the CSV, internal domain
    assert (internal.kind, internal.address, internal.source) == ("person", "peter.miller@acme.example", "internet")
    partner = demo.resolve('"Anna Schmidt" <Anna.Schmidt@partner.example>')
    assert (partner.kind, partner.address, partner.source) == ("external", "Anna.Schmidt@partner.example", "internet")
    assert demo.resolve("x@sub.acme.example").kind == "external"          # exact domains only
    assert demo.resolve("teamroom-editors@acme.example").kind == "role"     # a CSV target is a CSV fact
    no_domains = IdentityMap((), IdentityRules())
    assert no_domains.resolve("jane.doe@acme.example").kind == "external"
    assert no_domains.unresolved() == []


def test_rules_validation():
    with pytest.raises(ConfigError, match="unknown placeholder {surname}"):
        IdentityRules(pattern="{first}.{surname}")
    with pytest.raises(ConfigError, match="needs a fallback_domain"):
        IdentityRules(fallback=True)
    with pytest.raises(ConfigError, match="not a domain name"):
        IdentityRules(internet_domains=("acme",))
    with pytest.raises(ConfigError, match="list of strings"):
        IdentityRules(ignore="Anonymous")  # type: ignore[arg-type]
    assert IdentityRules(ignore=["a", "b"]).ignore == ("a", "b")            # lists from TOML become tuples


# -- reporting ----------------------------------------------------------------------------------

def test_unresolved_reasons_and_counts(demo):
    for name in ["CN=Hans Meier/O=Other", "Hans Meier/Other", "cn=hans meier/o=other", "[Readers]",
                 "Project Alpha Core", "Jane Doe", "*/OU=Marketing/O=Acme", "*", "[Readers]"]:
        assert demo.resolve(name).kind == "unresolved", name
    assert demo.unresolved() == [("CN=Hans Meier/O=Other", 3), ("[Readers]", 2), ("*", 1),
                                 ("*/OU=Marketing/O=Acme", 1), ("Jane Doe", 1), ("Project Alpha Core", 1)]
    assert demo.resolve("[Readers]").reason == "no entry for role [Readers] and no rule applies"
    assert "special ACL entry *" in demo.resolve("*").reason
    assert "wildcard entry */OU=Marketing/O=Acme" in demo.resolve("*/Marketing/Acme").reason
    # a common name alone never matches a hierarchical entry, but the reason names the candidate
    jane = demo.resolve("Jane Doe")
    assert jane.address is None and "candidates: CN=Jane Doe/OU=Sales/O=Acme" in jane.reason


def test_unresolved_is_deterministic():
    names = ["Zed/Other", "alpha/Other", "Alpha/Other", "Mid/Other", "Zed/Other", "[B]", "[a]"]

    def run(order):
        ids = IdentityMap()
        for n in order:
            ids.resolve(n)
        return ids.unresolved()

    first = run(names)
    assert first == run(list(reversed(names))) == run(sorted(names))
    assert first == [("CN=Alpha/O=Other", 2), ("CN=Zed/O=Other", 2), ("[a]", 1), ("[B]", 1), ("CN=Mid/O=Other", 1)]


def test_resolve_is_cached_and_still_counts():
    ids = IdentityMap()
    first = ids.resolve("Nobody/Acme")
    assert ids.resolve("Nobody/Acme") is first
    for _ in range(1000):
        ids.resolve("Nobody/Acme")
    assert ids.unresolved() == [("CN=Nobody/O=Acme", 1002)]


def test_resolution_is_frozen(demo):
    res = demo.resolve(JANE)
    assert res.mapped
    with pytest.raises(AttributeError):
        res.address = "x@y.example"  # type: ignore[misc]


def test_load_without_csv_uses_the_rules_only():
    ids = IdentityMap.load(None, RULES)
    assert len(ids) == 0 and ids.resolve("Jane Doe/Sales/Acme").source == "rule:fallback"
    assert IdentityMap.load(None).resolve("Jane Doe/Sales/Acme").kind == "unresolved"


def test_demo_sample_csv_loads():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "samples" / "identity.csv"
    if not path.is_file():
        pytest.skip("samples/identity.csv is absent")
    ids = IdentityMap.load(str(path), RULES)
    for name in ("CN=Peter Miller/OU=Engineering/O=Acme", "[Editors]", "Matterhorn/Zurich Rooms/Acme"):
        assert ids.resolve(name).source == "csv", name


def test_fallback_never_gives_a_person_another_persons_csv_address(tmp_path):
    """Review finding: 'Jane Doe/Acme' (no OU) must not silently become CN=Jane Doe/OU=Sales/O=Acme's mailbox."""
    csv_file = tmp_path / "ids.csv"
    csv_file.write_text("notes_name,target\nCN=Jane Doe/OU=Sales/O=Acme,jane.doe@acme.example\n")
    rules = IdentityRules(fallback_domain="acme.example", fallback_orgs=("Acme",), fallback=True)
    other = IdentityMap.load(str(csv_file), rules).resolve("Jane Doe/Acme")
    assert other.kind == "unresolved" and "CN=Jane Doe/OU=Sales/O=Acme" in other.reason
