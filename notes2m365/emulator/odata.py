"""OData query options of the emulator: ``$filter``, ``$select``, ``$top``, ``$skip``/``$skiptoken``, ``$count``, ``$orderby``.

``$filter`` is parsed into a small tree and evaluated against the stored
objects, including the lambda form Graph documents for extended properties
(graph-semantics §4, DC:api/singlevaluelegacyextendedproperty-get.md)::

    singleValueExtendedProperties/Any(ep: ep/id eq 'String {guid} Name X' and ep/value eq 'v')

where the property *name* in the id compares case-sensitively and the value
case-insensitively.  String comparisons elsewhere are case-insensitive, as
Exchange and SharePoint collations are.  Anything the parser does not know
is a 400, never a silent match-all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from ..errors import EmulatorHttpError
from .router import GraphRequest, Json

TOKEN = re.compile(r"""
    \s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<dt>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<punct>[(),:])
    | (?P<name>[A-Za-z_@$][\w@.$]*(?:/[A-Za-z_@$][\w@.$]*)*)
    )""", re.VERBOSE)
# Outlook's answer to an unknown property in a query option (realistic code from community reports).
PARSE_URI = "RequestBroker--ParseUri"
COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
FUNCTIONS = {"contains", "startswith", "endswith", "cast", "tolower", "toupper"}


def invalid_filter(message: str) -> EmulatorHttpError:
    return EmulatorHttpError(400, "BadRequest", f"Invalid filter clause: {message}")


@dataclass(frozen=True)
class ExtProp:
    """One single-value extended property as a lambda variable sees it."""

    id: str
    value: str


def normalize_ext_id(prop_id: str) -> str:
    """Compare key of an extended-property id: type, GUID, 'Name'/'Id' and proptags case-folded; the name kept.

    "Filtering the string name (Name) in the id ... is case-sensitive" (DC:singlevaluelegacyextendedproperty-get.md).
    """
    parts = prop_id.strip().split(" ", 3)
    if len(parts) == 4 and parts[2].lower() == "name":
        return f"{parts[0].lower()} {parts[1].lower()} name {parts[3]}"
    return " ".join(p.lower() for p in parts)


# -- parsing ------------------------------------------------------------------------------------
def tokenize(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise invalid_filter(f"unexpected text at position {pos}: {text[pos:pos + 20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise invalid_filter("unexpected end of expression")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.take()
        if tok[1] != value:
            raise invalid_filter(f"expected '{value}', found '{tok[1]}'")

    def keyword(self, *words: str) -> str | None:
        tok = self.peek()
        if tok and tok[0] == "name" and tok[1].lower() in words:
            self.i += 1
            return tok[1].lower()
        return None

    def parse(self) -> tuple:
        node = self.or_expr()
        if self.peek() is not None:
            raise invalid_filter(f"unexpected '{self.peek()[1]}'")
        return node

    def or_expr(self) -> tuple:
        node = self.and_expr()
        while self.keyword("or"):
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> tuple:
        node = self.not_expr()
        while self.keyword("and"):
            node = ("and", node, self.not_expr())
        return node

    def not_expr(self) -> tuple:
        if self.keyword("not"):
            return ("not", self.not_expr())
        left = self.operand()
        op = self.keyword(*COMPARISONS)
        if op:
            return ("cmp", op, left, self.operand())
        return left

    def operand(self) -> tuple:
        kind, text = self.take()
        if text == "(":
            node = self.or_expr()
            self.expect(")")
            return node
        if kind == "str":
            return ("lit", text[1:-1].replace("''", "'"))
        if kind == "num":
            return ("lit", float(text) if "." in text else int(text))
        if kind == "dt":
            return ("lit", text)
        if kind != "name":
            raise invalid_filter(f"unexpected '{text}'")
        low = text.lower()
        if low in ("true", "false"):
            return ("lit", low == "true")
        if low == "null":
            return ("lit", None)
        nxt = self.peek()
        if nxt and nxt[1] == "(":
            self.i += 1
            if low.endswith("/any") or low.endswith("/all"):
                collection, _, quantifier = text.rpartition("/")
                var = self.take()[1]
                self.expect(":")
                body = self.or_expr()
                self.expect(")")
                if collection.lower() == "singlevalueextendedproperties":
                    _check_extended_property_lambda(quantifier.lower(), var, body)
                return ("lambda", quantifier.lower(), collection, var, body)
            if low not in FUNCTIONS:
                raise invalid_filter(f"unknown function '{text}'")
            args = [self.or_expr()]
            while self.peek() and self.peek()[1] == ",":
                self.i += 1
                args.append(self.type_or_expr())
            self.expect(")")
            return ("call", low, args)
        return ("path", text)

    def type_or_expr(self) -> tuple:
        tok = self.peek()
        if tok and tok[0] == "name" and tok[1].startswith("Edm."):
            self.i += 1
            return ("type", tok[1])
        return self.or_expr()


def _check_extended_property_lambda(quantifier: str, var: str, body: tuple) -> None:
    """The only form Graph documents (DC:api/singlevaluelegacyextendedproperty-get.md)::

        Any(ep: ep/id eq '{id}' and <value test>)

    with the value test ``ep/value eq|ne '…'``, ``contains|startswith(ep/value, '…')`` or
    ``cast(ep/value, Edm.X) eq|ne|gt|ge|lt|le …``; "the filter on id must use eq"."""
    if quantifier != "any":
        raise invalid_filter("extended properties can only be filtered with Any(...)")
    if body[0] != "and" or body[1][0] == "and" or body[2][0] == "and":
        raise invalid_filter("an extended property filter is Any(ep: ep/id eq '...' and <a test of ep/value>)")
    id_path, value_path = ("path", f"{var}/id"), ("path", f"{var}/value")

    def is_id_test(n: tuple) -> bool:
        return n[0] == "cmp" and n[1] == "eq" and n[2] == id_path and n[3][0] == "lit" and isinstance(n[3][1], str)

    def is_value_test(n: tuple) -> bool:
        if n[0] == "cmp" and n[2] == value_path and n[3][0] == "lit":
            return n[1] in ("eq", "ne")
        if n[0] == "call" and n[1] in ("contains", "startswith") and len(n[2]) == 2:
            return n[2][0] == value_path and n[2][1][0] == "lit"
        if n[0] == "cmp" and n[2][0] == "call" and n[2][1] == "cast" and n[3][0] == "lit":
            return n[2][2][0] == value_path
        return False
    parts = [body[1], body[2]]
    if not (any(map(is_id_test, parts)) and any(map(is_value_test, parts))):
        if any(p[0] == "cmp" and id_path in (p[2], p[3]) and p[1] != "eq" for p in parts):
            raise invalid_filter("an extended property id can only be compared with 'eq'")
        raise invalid_filter("an extended property filter is Any(ep: ep/id eq '...' and <a test of ep/value>)")


def parse_filter(text: str) -> tuple:
    """The syntax tree of a ``$filter`` expression (400 on anything unsupported)."""
    return _Parser(text).parse()


def referenced_paths(node: tuple) -> list[str]:
    """Every property path the filter reads (outside lambda variables)."""
    out: list[str] = []

    def walk(n: tuple, bound: set[str]) -> None:
        if n[0] == "path":
            head = n[1].split("/")[0]
            if head not in bound:
                out.append(n[1])
        elif n[0] == "lambda":
            out.append(n[2])
            walk(n[4], bound | {n[3]})
        elif n[0] in ("and", "or"):
            walk(n[1], bound)
            walk(n[2], bound)
        elif n[0] == "not":
            walk(n[1], bound)
        elif n[0] == "cmp":
            walk(n[2], bound)
            walk(n[3], bound)
        elif n[0] == "call":
            for a in n[2]:
                walk(a, bound)
    walk(node, set())
    return out


# -- evaluation ------------------------------------------------------------------------------------
Resolver = Callable[[Json, str], Any]


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        pass
    elif isinstance(left, (int, float)) and isinstance(right, str):
        try:
            right = float(right)
        except ValueError:
            return False
    elif isinstance(right, (int, float)) and isinstance(left, str):
        try:
            left = float(left)
        except ValueError:
            return False
    left, right = _fold(left), _fold(right)
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if left is None or right is None:
        return False
    try:
        return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]
    except TypeError:
        return False


def evaluate(node: tuple, obj: Json, resolve: Resolver, env: dict[str, Any] | None = None) -> Any:
    """Value of ``node`` for ``obj``; ``resolve(obj, path)`` reads a property path of the resource."""
    env = env or {}
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "path":
        head, _, rest = node[1].partition("/")
        if head in env:
            target = env[head]
            if isinstance(target, ExtProp):
                if rest.lower() == "id":
                    return target
                if rest.lower() == "value":
                    return target.value
                raise invalid_filter(f"unknown property '{rest}' of an extended property")
            return resolve(target, rest) if rest else target
        return resolve(obj, node[1])
    if kind == "and":
        return bool(evaluate(node[1], obj, resolve, env)) and bool(evaluate(node[2], obj, resolve, env))
    if kind == "or":
        return bool(evaluate(node[1], obj, resolve, env)) or bool(evaluate(node[2], obj, resolve, env))
    if kind == "not":
        return not evaluate(node[1], obj, resolve, env)
    if kind == "cmp":
        left = evaluate(node[2], obj, resolve, env)
        right = evaluate(node[3], obj, resolve, env)
        if isinstance(left, ExtProp) or isinstance(right, ExtProp):
            if node[1] != "eq":  # "the filter on id must use eq" (DC:singlevaluelegacyextendedproperty-get.md)
                raise invalid_filter("an extended property id can only be compared with 'eq'")
            prop, other = (left, right) if isinstance(left, ExtProp) else (right, left)
            return normalize_ext_id(prop.id) == normalize_ext_id(str(other))
        return _compare(node[1], left, right)
    if kind == "call":
        name, args = node[1], node[2]
        values = [evaluate(a, obj, resolve, env) if a[0] != "type" else a[1] for a in args]
        if name in ("contains", "startswith", "endswith"):
            if len(values) != 2:
                raise invalid_filter(f"{name} takes two arguments")
            hay, needle = values
            if not isinstance(hay, str) or not isinstance(needle, str):
                return False
            hay, needle = hay.lower(), needle.lower()
            return {"contains": needle in hay, "startswith": hay.startswith(needle),
                    "endswith": hay.endswith(needle)}[name]
        if name == "cast":
            if len(values) != 2:
                raise invalid_filter("cast takes a value and a type")
            try:
                return {"Edm.Int32": int, "Edm.Int64": int, "Edm.Double": float,
                        "Edm.String": str, "Edm.Guid": lambda v: str(v).lower()}[values[1]](values[0])
            except (KeyError, ValueError, TypeError):
                return None
        if name in ("tolower", "toupper"):
            return values[0].lower() if isinstance(values[0], str) else values[0]
    if kind == "lambda":
        _, quantifier, collection, var, body = node
        items = resolve(obj, collection) or []
        results = (bool(evaluate(body, obj, resolve, {**env, var: item})) for item in items)
        return any(results) if quantifier == "any" else all(results)
    raise invalid_filter(f"unsupported expression {kind}")


def default_resolver(obj: Json, path: str) -> Any:
    """Follow ``a/b/c`` through nested JSON (case-insensitive keys); extended properties from ``_ext``."""
    current: Any = obj
    for part in path.split("/"):
        if not isinstance(current, dict):
            return None
        if part.lower() == "singlevalueextendedproperties" and "_ext" in current:
            current = [ExtProp(k, v) for k, v in current["_ext"].items()]
            continue
        if part in current:
            current = current[part]
            continue
        low = part.lower()
        current = next((v for k, v in current.items() if k.lower() == low), None)
    return current


# -- collections -----------------------------------------------------------------------------------
def select_fields(obj: Json, select: str | None, always: Iterable[str] = ("id",)) -> Json:
    if not select:
        return obj
    wanted = {s.strip().lower() for s in select.split(",") if s.strip()} | {a.lower() for a in always}
    return {k: v for k, v in obj.items() if k.lower() in wanted or k.startswith("@odata")}


def _sort_key(value: Any) -> tuple:
    """Order like a typed store: numbers as numbers, strings case-insensitively, nulls last."""
    if value is None:
        return (2, 0, "")
    if isinstance(value, (bool, int, float)):
        return (0, float(value), "")
    return (1, 0, str(value).lower())


def check_query(req: GraphRequest, known: Iterable[str], type_name: str, code: str = "BadRequest") -> None:
    """400 for ``$select``, ``$orderby`` or ``$filter`` naming a property the type lacks, a bad ``$count``,
    and ``$search`` (not emulated): a mistyped lookup must fail, not match nothing."""
    names = {k.lower() for k in known} | {"id"}
    q = req.query

    def check(path: str) -> None:
        head = path.strip().split("/")[0]
        if head.lower() not in names:
            raise EmulatorHttpError(400, code, f"Could not find a property named '{head}' on type '{type_name}'.")
    for item in (q.get("$select") or "").split(","):
        if item.strip():
            check(item)
    for clause in (q.get("$orderby") or "").split(","):
        if clause.strip():
            prop, _, direction = clause.strip().partition(" ")
            check(prop)
            if direction.strip().lower() not in ("", "asc", "desc"):
                raise EmulatorHttpError(400, code, f"Invalid $orderby direction '{direction.strip()}'.")
    if q.get("$filter"):
        for path in referenced_paths(parse_filter(q["$filter"])):
            check(path)
    if "$search" in q:
        raise EmulatorHttpError(400, code, "$search is not supported by the emulator; use $filter.")


def check_expand(req: GraphRequest, supported: tuple[str, ...]) -> set[str]:
    """The navigation properties named in ``$expand`` (lower-case); 400 for ones the resource lacks."""
    names: set[str] = set()
    depth, current, clauses = 0, "", []
    for ch in req.query.get("$expand", ""):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            clauses.append(current)
            current = ""
        else:
            current += ch
    clauses.append(current)
    for clause in clauses:
        name = clause.split("(", 1)[0].strip().lower()
        if not name:
            continue
        if name not in {s.lower() for s in supported}:
            raise EmulatorHttpError(400, "BadRequest", f"Could not find a property named '{name}' to expand.")
        names.add(name)
    return names


def page(req: GraphRequest, items: list[Json], *, page_size: int, render: Callable[[Json], Json],
         resolve: Resolver = default_resolver, max_top: int = 1000, filtered: bool = False,
         known: Iterable[str] | None = None, type_name: str = "", code: str = "BadRequest") -> Json:
    """The collection answer: filter (unless ``filtered``), order, count, page with ``@odata.nextLink``.

    With ``known`` (the type's property names), query options naming anything else are 400 (check_query).
    """
    if known is not None:
        check_query(req, known, type_name, code)
    q = req.query
    if q.get("$filter") and not filtered:
        tree = parse_filter(q["$filter"])
        items = [o for o in items if evaluate(tree, o, resolve)]
    if q.get("$orderby"):
        for clause in reversed([c.strip() for c in q["$orderby"].split(",") if c.strip()]):
            prop, _, direction = clause.partition(" ")
            items = sorted(items, key=lambda o: _sort_key(resolve(o, prop)),
                           reverse=direction.strip().lower() == "desc")
    if q.get("$count", "true").lower() not in ("true", "false"):
        raise EmulatorHttpError(400, "BadRequest", "$count must be true or false.")
    try:
        top = int(q["$top"]) if "$top" in q else page_size
        skip = int(q.get("$skiptoken") or q.get("$skip") or 0)
    except ValueError:
        raise EmulatorHttpError(400, "BadRequest", "Invalid value for $top, $skip or $skiptoken.")
    if top < 0 or skip < 0:
        raise EmulatorHttpError(400, "BadRequest", "$top and $skip must not be negative.")
    if top > max_top:
        raise EmulatorHttpError(400, "ErrorInvalidUrlQuery", f"The value of $top cannot exceed {max_top}.")
    chunk = items[skip:skip + top]
    out: Json = {}
    if q.get("$count", "").lower() == "true":
        out["@odata.count"] = len(items)
    out["value"] = [render(o) for o in chunk]
    if top and skip + top < len(items):
        params = {k: v for k, v in q.items() if k not in ("$skip", "$skiptoken")}
        params["$skiptoken"] = str(skip + top)
        params.setdefault("$top", str(top))
        # the path was decoded on the way in: encode it again ('#', '%', spaces in drive paths)
        out["@odata.nextLink"] = req.link(quote(req.path, safe="/:@!$&'()*+,;=")) + "?" + urlencode(params)
    return out
