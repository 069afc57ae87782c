"""Mapping files: which Notes documents go where, and how their items become fields.

A mapping is a TOML file under ``mappings/`` (``builtin:NAME`` names the
shipped ones) or anywhere a job points.  Two kinds:

``kind = "mailbox"`` maps forms of a mail file to Outlook items::

    [mapping]
    kind = "mailbox"
    [forms]
    Memo = "message"          # message | event | task | contact | skip
    Appointment = "event"
    [options]
    attendees = "body"        # omit | body | invite (invite makes Exchange mail every attendee)
    todo_list = "Tasks"

``kind = "application"`` maps an application to one SharePoint list or library::

    [mapping]
    kind = "application"
    forms = ["MainTopic", "Response"]
    condition = "text('Status') != 'Deleted'"    # optional (expr.py)
    [list]
    name = "Discussion"
    template = "genericList"                     # or documentLibrary
    attachments = "library"                      # files into the site library, linked; or skip
    [[column]]
    name = "Title"                               # SharePoint column (API) name
    from = "Subject"                             # the Notes item, or: expr = "first(text('A'), text('B'))"
    type = "text"                                # text note richtext number dateTime boolean choice person hyperlink
    # multi, choices, fill_in, indexed, required, default

Provenance columns are always added (``NotesKey`` indexed, ``NotesForm``,
``NotesAuthor``, ``NotesCreated``, ``NotesModified``, ``NotesAttachments``),
because Graph cannot set SharePoint's Created/Modified/Author/Editor
(graph-semantics §5.3).  Every error names the file, the line and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError
from .expr import Expression, ExpressionError
from .operations import SOURCE_KEY_COLUMN
from .tomlfile import KeyPath, TomlFile, load_toml

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "mappings"
MAILBOX_TARGETS = ("message", "event", "task", "contact", "skip")
COLUMN_TYPES = ("text", "note", "richtext", "number", "dateTime", "boolean", "choice", "person", "hyperlink")
MULTI_TYPES = ("choice", "person", "text")
COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
RESERVED_COLUMNS = {"created", "modified", "author", "editor", "id", "contenttype", "attachments", "_uiversionstring"}
ColumnType = Literal["text", "note", "richtext", "number", "dateTime", "boolean", "choice", "person", "hyperlink"]


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    source: str | None = None  # Notes item name
    expr: Expression | None = None
    default: Any = None
    multi: bool = False
    choices: tuple[str, ...] = ()
    fill_in: bool = False
    indexed: bool = False
    required: bool = False
    provenance: bool = False

    def definition(self) -> dict[str, Any]:
        """The Graph columnDefinition that creates it (DC:resources/columndefinition.md, textcolumn.md)."""
        facet: dict[str, Any]
        if self.type == "text":
            facet = {"text": {}}
        elif self.type == "note":
            facet = {"text": {"allowMultipleLines": True, "textType": "plain"}}
        elif self.type == "richtext":
            facet = {"text": {"allowMultipleLines": True, "textType": "richText"}}
        elif self.type == "number":
            facet = {"number": {}}
        elif self.type == "dateTime":
            facet = {"dateTime": {"format": "dateTime"}}
        elif self.type == "boolean":
            facet = {"boolean": {}}
        elif self.type == "choice":
            facet = {"choice": {"choices": list(self.choices), "allowTextEntry": self.fill_in,
                                "displayAs": "checkBoxes" if self.multi else "dropDownMenu"}}
        elif self.type == "person":
            facet = {"personOrGroup": {"allowMultipleSelection": self.multi, "chooseFromType": "peopleOnly"}}
        else:
            facet = {"hyperlinkOrPicture": {"isPicture": False}}
        out = {"name": self.name, **facet}
        if self.indexed:
            out["indexed"] = True
        if self.required:
            out["required"] = True
        return out


PROVENANCE = (
    Column(SOURCE_KEY_COLUMN, "text", indexed=True, provenance=True),
    Column("NotesForm", "text", provenance=True),
    Column("NotesAuthor", "text", provenance=True),
    Column("NotesCreated", "dateTime", provenance=True),
    Column("NotesModified", "dateTime", provenance=True),
    Column("NotesAttachments", "note", provenance=True),
    Column("NotesReaders", "note", provenance=True),  # who could read it in Notes (restricted documents)
)


@dataclass(frozen=True)
class MailboxMapping:
    path: str
    forms: dict[str, str]  # lower-case form -> target
    attendees: str = "body"
    todo_list: str = "Tasks"
    description: str = ""

    def target_of(self, form: str) -> str | None:
        return self.forms.get(form.lower())


@dataclass(frozen=True)
class AppMapping:
    path: str
    forms: tuple[str, ...]
    list_name: str
    template: str
    columns: tuple[Column, ...]
    condition: Expression | None = None
    attachments: str = "library"
    description: str = ""
    lines: dict[str, int] = field(default_factory=dict, compare=False)

    def maps(self, form: str) -> bool:
        return form.lower() in {f.lower() for f in self.forms}

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.columns + PROVENANCE


Mapping = MailboxMapping | AppMapping


def resolve_reference(ref: str) -> Path:
    """``builtin:NAME`` -> mappings/NAME.toml; anything else is a path."""
    if ref.startswith("builtin:"):
        name = ref.split(":", 1)[1]
        path = BUILTIN_DIR / f"{name}.toml"
        if not re.match(r"^[a-z0-9-]+$", name) or not path.is_file():
            known = sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))
            raise ConfigError(f"{ref}: no such built-in mapping (known: {', '.join('builtin:' + k for k in known)})")
        return path
    return Path(ref)


def load_mapping(ref: str, expected: str | None = None) -> Mapping:
    """Load and validate a mapping; ``expected`` ("mailbox" or "application") is the kind the source needs."""
    toml = load_toml(resolve_reference(ref))
    top = _table(toml, (), toml.data, {"mapping", "forms", "options", "list", "column"})
    head = _table(toml, ("mapping",), top.get("mapping", {}), {"kind", "description", "forms", "condition"})
    kind = head.get("kind")
    if kind not in ("mailbox", "application"):
        raise toml.error(("mapping", "kind"), "must be \"mailbox\" or \"application\"")
    if expected and kind != expected:
        raise toml.error(("mapping", "kind"), f"is {kind!r}, but this source is {'a' if expected[0] != 'a' else 'an'} "
                                              f"{expected}")
    description = _string(toml, ("mapping", "description"), head.get("description", ""))
    if kind == "mailbox":
        return _mailbox(toml, top, description)
    return _application(toml, top, head, description)


def _table(toml: TomlFile, path: KeyPath, value: object, known: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise toml.error(path, "must be a table")
    for key in value:
        if key not in known:
            raise toml.error(path + (key,), f"unknown key (known: {', '.join(sorted(known))})")
    return value


def _string(toml: TomlFile, path: KeyPath, value: object, allow_empty: bool = True) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise toml.error(path, "must be a non-empty string" if not allow_empty else "must be a string")
    return value


def _mailbox(toml: TomlFile, top: dict[str, Any], description: str) -> MailboxMapping:
    for key in ("list", "column"):
        if key in top:
            raise toml.error((key,), "belongs to application mappings, not mailbox ones")
    forms_table = top.get("forms")
    if not isinstance(forms_table, dict) or not forms_table:
        raise toml.error(("forms",), "a mailbox mapping needs a [forms] table (form = \"message\" ...)")
    forms: dict[str, str] = {}
    for form, target in forms_table.items():
        if target not in MAILBOX_TARGETS:
            raise toml.error(("forms", form), f"must be one of {', '.join(MAILBOX_TARGETS)}")
        if form.lower() in forms:
            raise toml.error(("forms", form), "is listed twice (forms compare case-insensitively)")
        forms[form.lower()] = target
    options = _table(toml, ("options",), top.get("options", {}), {"attendees", "todo_list"})
    attendees = options.get("attendees", "body")
    if attendees not in ("omit", "body", "invite"):
        raise toml.error(("options", "attendees"), "must be omit, body or invite")
    todo_list = _string(toml, ("options", "todo_list"), options.get("todo_list", "Tasks"), allow_empty=False)
    return MailboxMapping(path=toml.path, forms=forms, attendees=attendees, todo_list=todo_list,
                          description=description)


def _application(toml: TomlFile, top: dict[str, Any], head: dict[str, Any], description: str) -> AppMapping:
    if "forms" in top or "options" in top:
        raise toml.error(("forms" if "forms" in top else "options",), "belongs to mailbox mappings")
    forms = head.get("forms")
    if not isinstance(forms, list) or not forms or not all(isinstance(f, str) and f for f in forms):
        raise toml.error(("mapping", "forms"), "must be a non-empty list of form names")
    condition = None
    if "condition" in head:
        condition = _expression(toml, ("mapping", "condition"), head["condition"])
    lst = _table(toml, ("list",), top.get("list", {}), {"name", "template", "attachments"})
    name = _string(toml, ("list", "name"), lst.get("name", ""), allow_empty=False)
    bad = sorted(set(name) & set('"*:<>?/\\|#%'))
    if bad or name != name.strip() or len(name) > 100:
        raise toml.error(("list", "name"), f"'{name}' is not a SharePoint list name"
                                           + (f" (the character {bad[0]!r})" if bad else ""))
    template = lst.get("template", "genericList")
    if template not in ("genericList", "documentLibrary"):
        raise toml.error(("list", "template"), "must be genericList or documentLibrary")
    attachments = lst.get("attachments", "library")
    if attachments not in ("library", "skip"):
        raise toml.error(("list", "attachments"), "must be library or skip")
    columns: list[Column] = []
    raw_columns = top.get("column", [])
    if not isinstance(raw_columns, list):
        raise toml.error(("column",), "must be an array of tables ([[column]])")
    seen: dict[str, int] = {}
    for n, raw in enumerate(raw_columns):
        column = _column(toml, ("column", n), raw, template)
        key = column.name.lower()
        if key in seen:
            raise toml.error(("column", n, "name"), f"'{column.name}' is already column {seen[key] + 1}")
        if key in {p.name.lower() for p in PROVENANCE}:
            raise toml.error(("column", n, "name"), f"'{column.name}' is a provenance column notes2m365 adds itself")
        seen[key] = n
        columns.append(column)
    if template == "genericList" and "title" not in seen:
        raise toml.error(("column",), "a genericList needs a column named Title (its required built-in column)")
    return AppMapping(path=toml.path, forms=tuple(forms), list_name=name.strip(), template=template,
                      columns=tuple(columns), condition=condition, attachments=attachments, description=description)


def _expression(toml: TomlFile, path: KeyPath, value: object) -> Expression:
    text = _string(toml, path, value, allow_empty=False)
    line = toml.line(path)
    try:
        return Expression(text, where=f"{toml.path}:{line}: " + ".".join(
            f"[{p + 1}]" if isinstance(p, int) else str(p) for p in path).replace(".[", "["))
    except ExpressionError as exc:
        raise ConfigError(str(exc))


def _column(toml: TomlFile, path: KeyPath, raw: object, template: str) -> Column:
    table = _table(toml, path, raw, {"name", "from", "expr", "type", "default", "multi", "choices", "fill_in",
                                     "indexed", "required"})
    name = _string(toml, path + ("name",), table.get("name", ""), allow_empty=False)
    if not COLUMN_NAME.match(name):
        raise toml.error(path + ("name",), f"'{name}' is not a column name (letters, digits and _, at most 32, "
                                           "not starting with a digit)")
    if name.lower() in RESERVED_COLUMNS:
        raise toml.error(path + ("name",), f"'{name}' is a SharePoint built-in column that Graph cannot write; "
                                           "the provenance columns keep that information")
    col_type = table.get("type", "text")
    if col_type not in COLUMN_TYPES:
        raise toml.error(path + ("type",), f"'{col_type}' is not a column type ({', '.join(COLUMN_TYPES)})")
    if name.lower() == "title" and col_type != "text":
        raise toml.error(path + ("type",), "Title is a single-line text column")
    source, expr = table.get("from"), None
    if "expr" in table:
        if source is not None:
            raise toml.error(path + ("expr",), "give either 'from' (an item) or 'expr', not both")
        expr = _expression(toml, path + ("expr",), table["expr"])
    elif source is not None:
        source = _string(toml, path + ("from",), source, allow_empty=False)
    elif "default" not in table:
        raise toml.error(path, f"column '{name}' needs 'from' (a Notes item), 'expr' or 'default'")
    flags = {}
    for flag in ("multi", "fill_in", "indexed", "required"):
        value = table.get(flag, False)
        if not isinstance(value, bool):
            raise toml.error(path + (flag,), "must be true or false")
        flags[flag] = value
    if flags["multi"] and col_type not in MULTI_TYPES:
        raise toml.error(path + ("multi",), f"only {', '.join(MULTI_TYPES)} columns can hold several values")
    choices = table.get("choices", [])
    if not isinstance(choices, list) or not all(isinstance(c, str) and c for c in choices):
        raise toml.error(path + ("choices",), "must be a list of non-empty strings")
    if col_type == "choice" and not choices and not flags["fill_in"]:
        raise toml.error(path, f"choice column '{name}' needs 'choices' or fill_in = true")
    if choices and col_type != "choice":
        raise toml.error(path + ("choices",), "only choice columns have choices")
    default = table.get("default")
    if default is not None:
        _check_default(toml, path + ("default",), col_type, default, choices, flags["fill_in"])
    return Column(name=name, type=col_type, source=source, expr=expr, default=default,
                  multi=flags["multi"], choices=tuple(choices), fill_in=flags["fill_in"],
                  indexed=flags["indexed"], required=flags["required"])


def _check_default(toml: TomlFile, path: KeyPath, col_type: str, value: object, choices: list[str],
                   fill_in: bool) -> None:
    """A column's default must already be a value of its type (checked once, here, not per document)."""
    ok: bool
    if col_type == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif col_type == "boolean":
        ok = isinstance(value, bool)
    elif col_type == "choice":
        ok = isinstance(value, str) and (fill_in or value in choices)
    elif col_type == "dateTime":
        ok = isinstance(value, str) and bool(re.match(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?Z?)?$", value))
    elif col_type == "hyperlink":
        ok = isinstance(value, str) and value.lower().startswith(("http://", "https://", "mailto:"))
    else:
        ok = isinstance(value, str)
    if not ok:
        raise toml.error(path, f"{value!r} is not a valid {col_type} value"
                               + (" (not one of the choices)" if col_type == "choice" and isinstance(value, str) else ""))

