"""Identity mapping: Notes names to Entra UPNs / SMTP addresses, and what cannot be mapped.

This module owns the *name* side of a migration: parsing and normalising Notes
names (canonical ``CN=Jane Doe/OU=Sales/O=Acme``, abbreviated
``Jane Doe/Sales/Acme``, common names, ``@DOMAIN`` suffixes, Internet and
RFC 822 addresses, ``[roles]``, groups, wildcard and special ACL entries), the
identity CSV (``notes_name,target[,kind]``) and the :class:`IdentityRules` a
job file fills in.  It does no I/O besides reading the CSV and never guesses
silently: every answer is a :class:`Resolution` saying where the address came
from (``source``), and names nothing maps are counted for :meth:`IdentityMap.unresolved`.

Decisions (also relied on by the tests):

* Comparisons are case-insensitive (``str.casefold``); results keep the case of
  the CSV.  A Notes domain suffix (``Jane Doe/Sales/Acme@ACME``) is dropped.
  In an abbreviated name the last part is the country when it has two letters
  and the name has three parts or more (Notes organisations have 3-64
  characters), so ``Jane Doe/Sales/Acme/CH`` is ``CN=Jane Doe/OU=Sales/O=Acme/C=CH``.
* Resolution order: CSV entry; ``servers`` and ``ignore`` (kind ``ignored``);
  Internet address (the CSV target it equals, else itself: kind ``person`` when
  its domain is one of ``internet_domains`` -- exact domains, no subdomains --
  otherwise ``external``, so a mail recipient stays correct); the fallback rule
  (only with ``fallback=True``, only hierarchical person names inside
  ``fallback_orgs``: ``"Acme"`` covers ``O=Acme`` with any OUs and any country,
  ``"Sales/Acme"`` only that OU); otherwise ``unresolved`` with a reason.
* A common name alone never matches a hierarchical CSV entry (two people may
  share it); the reason lists the candidates so an alias row can be added.
* Fallback transliteration: German umlauts become two letters
  (``Müller`` -> ``mueller``, ``ß`` -> ``ss``), other Latin letters lose their
  accents (``José`` -> ``jose``), anything else is dropped.  ``{first}`` is the
  first word of the common name, ``{last}`` the last (middle words ignored),
  ``{cn}`` all words joined by dots.  A name that yields no valid address (one
  word with ``{last}``, a non-Latin script, a comma as in ``Doe, Jane``) stays unresolved.
* Ignore entries match the canonical form (or the address) case-insensitively;
  only ``*`` and ``?`` are wildcards (brackets are literal, so ``[Admin]`` can be
  ignored), and the entry ``*`` alone means the ACL entry ``*``, not everything.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError

Kind = Literal["person", "group", "role", "room", "resource", "external", "ignored", "unresolved"]
Source = Literal["csv", "rule:fallback", "internet", "ignore"]
ENTRY_KINDS = ("person", "group", "role", "room", "resource")
SPECIAL_NAMES = ("-default-", "anonymous", "*")

_ADDR = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                   r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_DOMAIN = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_ANGLE = re.compile(r'^(?:"[^"]*"|[^<>"]*)\s*<\s*([^<>]+?)\s*>$')
_LABEL = re.compile(r"^([A-Za-z]{1,2})\s*=\s*(.*)$")
_LABELS = {"CN", "OU", "O", "C", "G", "S", "I", "Q", "P", "A"}
_PLACEHOLDER = re.compile(r"{(\w*)}")
_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss",
                           "ẞ": "SS", "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ø": "o", "Ø": "O",
                           "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ł": "l",
                           "Ł": "L", "ı": "i"})

Form = Literal["empty", "role", "internet", "hierarchical", "flat", "wildcard"]


@dataclass(frozen=True, slots=True)
class _Parsed:
    form: Form
    canonical: str
    parts: tuple[tuple[str, str], ...] = ()  # (label, value) of a Notes name; label "" for "*"


def _is_address(text: str) -> bool:
    return bool(_ADDR.match(text)) and "/" not in text and "=" not in text


def _label_plain(parts: list[str], has_cn: bool) -> list[tuple[str, str]]:
    """Labels for an abbreviated name (``has_cn``) or hierarchy (``Sales/Acme``)."""
    out = [("CN", parts[0])] if has_cn else []
    rest = parts[1:] if has_cn else parts
    country = len(rest) >= 2 and len(rest[-1]) == 2 and rest[-1].isalpha()
    if country:
        rest = rest[:-1]
    out += [("OU", p) for p in rest[:-1]] + [("O", rest[-1])] if rest else []
    return out + ([("C", parts[-1])] if country else [])


def _hierarchy(text: str, has_cn: bool) -> list[tuple[str, str]]:
    parts = []
    for p in text.split("/"):
        p = p.strip()
        if p:
            parts.append(p)
    if not parts:
        return []
    out = []
    labelled = False  # one pass (every new name of a mailbox is parsed): labels where a part has one
    for p in parts:
        m = _LABEL.match(p)
        if m is not None:
            label, value = m.groups()
            label = label.upper()
            if label in _LABELS:
                labelled = True
                out.append((label, value.strip()))
                continue
        out.append(("", p))
    return out if labelled else _label_plain(parts, has_cn)


def _parse(name: str) -> _Parsed:
    text = " ".join(name.split())
    if not text:
        return _Parsed("empty", "")
    if text.startswith("[") and text.endswith("]"):
        return _Parsed("role", text)
    angle = _ANGLE.match(text)
    if angle:  # "Jane Doe" <jane.doe@acme.example>, or a Notes address in brackets
        text = angle.group(1)
    if _is_address(text):
        return _Parsed("internet", text)
    if "@" in text:  # Notes domain suffix: Jane Doe/Sales/Acme@ACME
        text = text.rsplit("@", 1)[0].strip() or text
    hierarchy = _hierarchy(text, True)
    if ("CN", "*") in hierarchy:
        hierarchy = [("", v) if v == "*" and lab == "CN" else (lab, v) for lab, v in hierarchy]
    parts = tuple(hierarchy)
    if len(parts) <= 1:
        flat = parts[0][1] if parts else text
        return _Parsed("wildcard" if "*" in flat else "flat", flat, parts)
    canonical = "/".join([lab + "=" + v if lab else v for lab, v in parts])
    return _Parsed("wildcard" if "*" in parts[0][1] else "hierarchical", canonical, parts)


def canonicalize(name: str) -> str:
    """The canonical form: ``Jane Doe/Sales/Acme@ACME`` -> ``CN=Jane Doe/OU=Sales/O=Acme``.

    Internet addresses become the bare address, roles and flat names are only
    trimmed; the case of the values is kept.
    """
    return _parse(name).canonical


def abbreviate(name: str) -> str:
    """The abbreviated form: ``CN=Jane Doe/OU=Sales/O=Acme`` -> ``Jane Doe/Sales/Acme``."""
    p = _parse(name)
    if p.form in ("hierarchical", "wildcard") and len(p.parts) > 1:
        return "/".join(v for _, v in p.parts)
    return p.canonical


def _ends_with(hierarchy: tuple[tuple[str, str], ...], org: tuple[tuple[str, str], ...]) -> bool:
    """``OU=Sales/O=Acme/C=CH`` is inside ``Sales/Acme`` (no country given) and ``Acme/CH``, not ``Acme/DE``."""
    if hierarchy and hierarchy[-1][0] == "C" and org[-1][0] != "C":
        hierarchy = hierarchy[:-1]
    return hierarchy[-len(org):] == org


@lru_cache(maxsize=4096)  # pure; first and last names recur across the many names of a mailbox
def _ascii_word(word: str) -> str:
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFC", word).translate(_TRANSLIT))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return re.sub(r"[^a-z0-9-]", "", text).strip("-")


@lru_cache(maxsize=64)
def _placeholders(pattern: str) -> frozenset[str]:
    return frozenset(_PLACEHOLDER.findall(pattern))


@dataclass(frozen=True)
class IdentityRules:
    """Rules beyond the CSV, filled from the job file's ``[identity]`` table.

    The fallback pattern is applied only when ``fallback`` is true (the caller
    enables it) and ``fallback_domain`` is set.  Invalid values raise
    :class:`ConfigError` without a file name; the job reader adds its location.
    """

    fallback_domain: str | None = None
    pattern: str = "{first}.{last}"
    fallback_orgs: tuple[str, ...] = ()
    internet_domains: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    servers: tuple[str, ...] = ()
    fallback: bool = False

    def __post_init__(self) -> None:
        for name in ("fallback_orgs", "internet_domains", "ignore", "servers"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise ConfigError(f"identity rules: {name} must be a list of strings, not {value!r}")
            object.__setattr__(self, name, tuple(value))
        unknown = sorted(set(_PLACEHOLDER.findall(self.pattern)) - {"first", "last", "cn"})
        if unknown:
            raise ConfigError(f"identity rules: pattern {self.pattern!r}: unknown placeholder {{{unknown[0]}}}"
                              " (use {first}, {last}, {cn})")
        for domain in (self.fallback_domain, *self.internet_domains):
            if domain is not None and not _DOMAIN.match(domain.lstrip("@")):
                raise ConfigError(f"identity rules: {domain!r} is not a domain name")
        if self.fallback and not self.fallback_domain:
            raise ConfigError("identity rules: the fallback rule needs a fallback_domain")


@dataclass(frozen=True, slots=True)
class IdentityEntry:
    """One CSV row: a Notes name (any form), its target address and kind."""

    notes_name: str
    target: str
    kind: str = ""  # "" = person, or role/group when the name's form says so
    line: int = 0


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a Notes name maps to.  ``source`` is ``None`` for unresolved (and empty) names."""

    name: str
    canonical: str
    kind: Kind
    address: str | None
    source: Source | None
    reason: str | None = None

    @property
    def mapped(self) -> bool:
        return self.address is not None


def _glob(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.casefold())
    return re.compile(body, re.DOTALL)


class IdentityMap:
    """The CSV entries plus the rules; :meth:`resolve` answers (cached) and counts misses.

    One map per run: the counters behind :meth:`unresolved` are not locked for threads.
    """

    def __init__(self, entries: Iterable[IdentityEntry | tuple[str, ...]] = (),
                 rules: IdentityRules | None = None, *, source: str = "<entries>") -> None:
        self.rules = rules or IdentityRules()
        self._source = source
        self._entries: dict[str, tuple[IdentityEntry, _Parsed]] = {}
        self._targets: dict[str, IdentityEntry] = {}
        self._by_cn: dict[str, list[str]] = {}
        for n, entry in enumerate(entries, 1):
            if not isinstance(entry, IdentityEntry):
                entry = IdentityEntry(*entry[:3], line=n)  # type: ignore[misc]
            self._add(entry)
        r = self.rules
        self._servers = {_parse(s).canonical.casefold() for s in r.servers}
        self._ignore_exact: set[str] = set()
        self._ignore_globs: list[re.Pattern[str]] = []
        for pat in r.ignore:
            canon = pat.strip() if "@" in pat or pat.strip() == "*" else _parse(pat).canonical
            if canon == "*" or not any(c in canon for c in "*?"):
                self._ignore_exact.add(canon.casefold())
            else:
                self._ignore_globs.append(_glob(canon))
        self._internal = {d.lstrip("@").casefold() for d in r.internet_domains}
        self._orgs = [tuple((lab, v.casefold()) for lab, v in _hierarchy(o, False)) for o in r.fallback_orgs]
        self._cache: dict[str, Resolution] = {}
        self._inside_orgs: dict[tuple[tuple[str, str], ...], bool] = {}  # name hierarchy -> in fallback_orgs
        self._misses: dict[str, list[Any]] = {}  # key -> [count, smallest spelling seen]
        #: planners' memo of what names become (:func:`notes2m365.pimplan.planning_memo`; bounded there)
        self.planning_memo: dict[Any, Any] = {}

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def load(cls, csv_path: str | None, rules: IdentityRules | None = None) -> IdentityMap:
        """Read the identity CSV (UTF-8, optional BOM, CRLF or LF); ``None`` means rules only."""
        if csv_path is None:
            return cls((), rules)
        try:
            data = Path(csv_path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"{csv_path}: cannot read identity map: {exc.strerror or exc}") from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise ConfigError(f"{csv_path}:{line}: not UTF-8 text ({exc.reason})") from None
        return cls(_read_csv(csv_path, text), rules, source=csv_path)

    def _fail(self, line: int, message: str) -> ConfigError:
        return ConfigError(f"{self._source}:{line}: {message}" if line else f"{self._source}: {message}")

    def _add(self, entry: IdentityEntry) -> None:
        parsed = _parse(entry.notes_name)
        target = entry.target.strip()
        kind = entry.kind.strip().lower() or {"role": "role", "wildcard": "group"}.get(parsed.form, "person")
        if parsed.form == "empty":
            raise self._fail(entry.line, "notes_name is empty")
        if kind not in ENTRY_KINDS:
            raise self._fail(entry.line, f"unknown kind {entry.kind!r} (use {', '.join(ENTRY_KINDS)})")
        if (kind == "role") != (parsed.form == "role"):
            raise self._fail(entry.line, f"{entry.notes_name!r}: a role is written in brackets, e.g. [Editors],"
                                         " and has kind role")
        if not _is_address(target):
            raise self._fail(entry.line, f"target {target!r} is not an e-mail address / UPN")
        entry = IdentityEntry(entry.notes_name.strip(), target, kind, entry.line)
        key = parsed.canonical.casefold()
        old = self._entries.get(key)
        if old is not None:
            first = old[0]
            if first.target.casefold() != target.casefold() or first.kind != kind:
                raise self._fail(entry.line, f"{entry.notes_name!r} is mapped to {target} ({kind}) here but "
                                             f"line {first.line} maps {first.notes_name!r} to {first.target} "
                                             f"({first.kind})")
            return
        self._entries[key] = (entry, parsed)
        self._targets.setdefault(target.casefold(), entry)
        if parsed.form == "hierarchical":
            self._by_cn.setdefault(parsed.parts[0][1].casefold(), []).append(parsed.canonical)

    def __len__(self) -> int:
        return len(self._entries)

    # -- resolving -------------------------------------------------------------------------

    def resolve(self, name: str) -> Resolution:
        """Map one Notes name (any form); unresolved answers are counted on every call."""
        res = self._cache.get(name)
        if res is None:
            res = self._cache[name] = self._resolve(name)
        if res.kind == "unresolved":
            key = res.canonical.casefold()
            miss = self._misses.setdefault(key, [0, res.canonical])
            miss[0] += 1
            miss[1] = min(miss[1], res.canonical)
        return res

    def misses(self) -> dict[str, list[Any]]:
        """Unresolved names and their counts, to merge into another map (planning in several processes)."""
        return {k: list(v) for k, v in self._misses.items()}

    def take_misses(self) -> dict[str, list[Any]]:
        """:meth:`misses`, then forgotten: a planning worker hands over each source's own."""
        out = self.misses()
        self._misses.clear()
        return out

    def add_misses(self, misses: dict[str, list[Any]]) -> None:
        for key, (count, display) in misses.items():
            miss = self._misses.setdefault(key, [0, display])
            miss[0] += count
            miss[1] = min(miss[1], display)

    def unresolved(self) -> list[tuple[str, int]]:
        """Distinct unresolved names (canonical) and how often each was asked for: most first, then by name."""
        return sorted(((display, count) for count, display in self._misses.values()),
                      key=lambda item: (-item[1], item[0].casefold(), item[0]))

    def _resolve(self, name: str) -> Resolution:
        p = _parse(name)
        key = p.canonical.casefold()
        if p.form == "empty":
            return Resolution(name, "", "ignored", None, None, "empty name")
        hit = self._entries.get(key)
        if hit is not None:
            entry = hit[0]
            return Resolution(name, p.canonical, entry.kind, entry.target, "csv")  # type: ignore[arg-type]
        if key in self._servers:
            return Resolution(name, p.canonical, "ignored", None, "ignore", "listed as a server")
        if key in self._ignore_exact or any(g.fullmatch(key) for g in self._ignore_globs):
            return Resolution(name, p.canonical, "ignored", None, "ignore", "matches an ignore rule")
        if p.form == "internet":
            entry = self._targets.get(key)
            if entry is not None:
                return Resolution(name, p.canonical, entry.kind, entry.target, "csv")  # type: ignore[arg-type]
            if p.canonical.rsplit("@", 1)[1].casefold() in self._internal:
                return Resolution(name, p.canonical, "person", p.canonical, "internet")
            return Resolution(name, p.canonical, "external", p.canonical, "internet",
                              "address outside the internet_domains, kept as is")
        if p.form == "hierarchical":
            return self._fallback(name, p)
        return Resolution(name, p.canonical, "unresolved", None, None, self._why(p))

    def _why(self, p: _Parsed) -> str:
        what = {"role": "role", "wildcard": "wildcard entry"}.get(p.form, "name")
        if p.canonical.casefold() in SPECIAL_NAMES:
            what = "special ACL entry"
        reason = f"no entry for {what} {p.canonical} and no rule applies"
        if p.form == "flat":
            candidates = self._by_cn.get(p.canonical.casefold())
            reason += " (a name without hierarchy: map it, or ignore it"
            reason += f"; candidates: {', '.join(sorted(candidates))})" if candidates else ")"
        return reason

    def _fallback(self, name: str, p: _Parsed) -> Resolution:
        r = self.rules
        base = f"no entry for {p.canonical}"

        def miss(why: str) -> Resolution:
            return Resolution(name, p.canonical, "unresolved", None, None, f"{base} and {why}")

        if not (r.fallback and r.fallback_domain):
            return miss("no rule applies (fallback rule not enabled)")
        inside = self._inside_orgs.get(p.parts[1:])  # the same few OUs recur: decided once each
        if inside is None:
            hierarchy = tuple((lab, v.casefold()) for lab, v in p.parts[1:])
            inside = any(org and _ends_with(hierarchy, org) for org in self._orgs)
            if len(self._inside_orgs) >= 4096:
                self._inside_orgs.clear()
            self._inside_orgs[p.parts[1:]] = inside
        if not inside:
            return miss("no rule applies (outside fallback_orgs)")
        if p.parts[0][0] != "CN":
            return miss("no rule applies (not a person name)")
        if "," in p.parts[0][1]:
            return miss("no rule applies (a comma: which word is the first name?)")
        words = p.parts[0][1].split()
        values = {"first": _ascii_word(words[0]),
                  "last": _ascii_word(words[-1]) if len(words) > 1 else "",
                  "cn": ".".join(filter(None, map(_ascii_word, words)))}
        used = _placeholders(r.pattern)
        if not all(values[u] for u in used):
            empty = sorted(u for u in used if not values[u])
            return miss(f"the fallback pattern has no {{{empty[0]}}} for it")
        local = r.pattern
        for placeholder, value in values.items():
            local = local.replace("{" + placeholder + "}", value)
        address = f"{local}@{r.fallback_domain.lstrip('@')}"
        if not _is_address(address):
            return miss(f"the fallback pattern gives {address!r}, not an address")
        owner = self._targets.get(address.casefold())
        if owner is not None:  # two people must not be merged into one mailbox by a guess
            return miss(f"the fallback pattern gives {address}, which the CSV gives to {owner.notes_name} "
                        f"(line {owner.line})")
        return Resolution(name, p.canonical, "person", address, "rule:fallback",
                          f"derived by the fallback pattern {r.pattern!r}, not from the CSV")


def _read_csv(path: str, text: str) -> list[IdentityEntry]:
    """The rows of an identity CSV; blank lines and lines starting with ``#`` are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise ConfigError(f"{path}:1: empty file (expected the header notes_name,target[,kind])")
        columns = [h.strip().lower() for h in header]
        unknown = [c for c in columns if c not in ("notes_name", "target", "kind")]
        missing = [c for c in ("notes_name", "target") if c not in columns]
        if unknown or missing or len(set(columns)) != len(columns):
            raise ConfigError(f"{path}:{reader.line_num}: header must be notes_name,target[,kind]; got "
                              f"{','.join(header)}")
        out = []
        start = reader.line_num + 1
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
                continue
            if len(row) != len(columns):
                raise ConfigError(f"{path}:{line}: expected {len(columns)} fields ({','.join(columns)}), "
                                  f"got {len(row)}")
            cells = dict(zip(columns, row))
            for column in ("notes_name", "target"):
                if not cells[column].strip():
                    raise ConfigError(f"{path}:{line}: {column} is empty")
            out.append(IdentityEntry(cells["notes_name"], cells["target"], cells.get("kind", ""), line))
        return out
    except csv.Error as exc:
        raise ConfigError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None
