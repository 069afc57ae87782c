"""Single-value extended properties of Outlook items (messages, folders, events, contacts).

Rules (graph-semantics §4 and §11.4; DC:resources/extended-properties-overview.md,
DC:api/singlevaluelegacyextendedproperty-post-singlevalueextendedproperties.md,
DC:api/singlevaluelegacyextendedproperty-get.md):

- ids are ``"{type} {proptag}"`` (``Integer 0x0E07``) or ``"{type} {guid} Name {name}"`` /
  ``"{type} {guid} Id {hex}"``; values are always strings;
- they are stored verbatim and never returned by default, not even by the creating POST;
- ``$expand=singleValueExtendedProperties($filter=id eq '...')`` returns the named ones;
  "You cannot ... get all the extended properties of a specific instance in one call".
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import EmulatorHttpError
from .odata import normalize_ext_id, parse_filter
from .router import GraphRequest, Json

TYPES = {"binary", "boolean", "clsid", "currency", "double", "float", "integer", "long", "object", "short",
         "string", "systemtime"}
PROPTAG = re.compile(r"^0x[0-9a-f]{1,4}$", re.IGNORECASE)
GUID = re.compile(r"^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$", re.IGNORECASE)
EXPAND = re.compile(r"singleValueExtendedProperties\s*(?:\((?P<options>.*)\))?$", re.IGNORECASE | re.DOTALL)


def _invalid(message: str) -> EmulatorHttpError:
    return EmulatorHttpError(400, "ErrorInvalidProperty", message)


def check_id(prop_id: object) -> str:
    """The id if it has one of the documented forms, else 400."""
    if not isinstance(prop_id, str):
        raise _invalid("The extended property id must be a string.")
    parts = prop_id.split(" ", 3)
    ok = (len(parts) == 2 and parts[0].lower() in TYPES and PROPTAG.match(parts[1])) or (
        len(parts) == 4 and parts[0].lower() in TYPES and GUID.match(parts[1])
        and (parts[2].lower() == "name" and parts[3] != "" or parts[2].lower() == "id" and PROPTAG.match(parts[3])))
    if not ok:
        raise _invalid(f"The extended property id '{prop_id}' is not valid.")
    return prop_id


def read_extended_properties(body: Json, existing: dict[str, str] | None = None) -> dict[str, str]:
    """``singleValueExtendedProperties`` of a request body merged into ``existing`` ({id: value})."""
    props = dict(existing or {})
    items = body.get("singleValueExtendedProperties")
    if items is None:
        return props
    if not isinstance(items, list):
        raise EmulatorHttpError(400, "BadRequest", "singleValueExtendedProperties must be a collection.")
    for item in items:
        if not isinstance(item, dict):
            raise EmulatorHttpError(400, "BadRequest", "An extended property must be an object with id and value.")
        prop_id = check_id(item.get("id"))
        value = item.get("value")
        if not isinstance(value, str):  # "value|string" in the POST extended property doc
            raise EmulatorHttpError(400, "BadRequest",
                                    f"Cannot convert the value of extended property '{prop_id}' to 'Edm.String'.")
        for known in list(props):
            if normalize_ext_id(known) == normalize_ext_id(prop_id):
                del props[known]
        props[prop_id] = value
    return props


def find(props: dict[str, str], prop_id: str) -> str | None:
    """The value of ``prop_id`` under Graph's id comparison rules."""
    want = normalize_ext_id(prop_id)
    return next((v for k, v in props.items() if normalize_ext_id(k) == want), None)


def expansion(req: GraphRequest) -> list[str] | None:
    """Ids asked for by ``$expand=singleValueExtendedProperties($filter=id eq '...')``; None when not asked."""
    expand = req.query.get("$expand")
    if not expand:
        return None
    for clause in split_top_level(expand):
        m = EXPAND.match(clause.strip())
        if not m:
            continue
        options = m["options"] or ""
        fm = re.match(r"^\s*\$filter\s*=\s*(?P<f>.+)$", options, re.DOTALL)
        if not fm:
            raise EmulatorHttpError(400, "ErrorInvalidRequest",
                                    "Expanding singleValueExtendedProperties needs $filter=id eq '...': "
                                    "all extended properties of an item cannot be read in one call.")
        return _ids_of(parse_filter(fm["f"]))
    return None


def _ids_of(node: tuple) -> list[str]:
    if node[0] == "or":
        return _ids_of(node[1]) + _ids_of(node[2])
    if node[0] == "cmp" and node[1] == "eq" and node[2] == ("path", "id") and node[3][0] == "lit":
        return [str(node[3][1])]
    if node[0] == "cmp" and node[1] == "eq" and node[3] == ("path", "id") and node[2][0] == "lit":
        return [str(node[2][1])]
    raise EmulatorHttpError(400, "ErrorInvalidUrlQueryFilter",
                            "The $filter of an extended property expansion must compare id with eq.")


def split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def add_expansion(req: GraphRequest, obj: Json, rendered: Json, wanted: list[str] | None = None) -> Json:
    """``rendered`` with the requested extended properties (only those present)."""
    ids = expansion(req) if wanted is None else wanted
    if ids is None:
        return rendered
    props: dict[str, Any] = obj.get("_ext", {})
    found = []
    for prop_id in ids:
        want = normalize_ext_id(prop_id)
        found += [{"id": k, "value": v} for k, v in props.items() if normalize_ext_id(k) == want]
    if found:
        rendered["singleValueExtendedProperties"] = found
    return rendered


def indexed_candidates(store, kind: str, filter_text: str | None) -> list[str] | None:
    """Ids that can match ``$filter`` when it requires ``Any(ep: ep/id eq 'X' and ep/value eq 'V')``;
    None when the filter has no such clause (then every object must be evaluated)."""
    if not filter_text:
        return None
    try:
        node = parse_filter(filter_text)
    except EmulatorHttpError:
        return None  # page() reports the error
    for clause in _conjuncts(node):
        if clause[0] != "lambda" or clause[1] != "any" or clause[2].lower() != "singlevalueextendedproperties":
            continue
        var, prop_id, value = clause[3], None, None
        for part in _conjuncts(clause[4]):
            if part[0] == "cmp" and part[1] == "eq" and part[3][0] == "lit":
                if part[2] == ("path", f"{var}/id"):
                    prop_id = str(part[3][1])
                elif part[2] == ("path", f"{var}/value") and isinstance(part[3][1], str):
                    value = part[3][1]
        if prop_id is not None and value is not None:
            return store.ext_lookup(kind, normalize_ext_id(prop_id), value)
    return None


def _conjuncts(node: tuple) -> list[tuple]:
    return _conjuncts(node[1]) + _conjuncts(node[2]) if node[0] == "and" else [node]
