"""TOML configuration files with line numbers: job files and mapping files.

:func:`load_toml` parses with the standard library's ``tomllib`` and also
indexes where each key was written, so that validation errors can name the
file, the line and the key path in one line::

    samples/demo.toml:14: mailbox[2].mailbox: 'jane.doe@' is not an e-mail address

Key paths are tuples: table names and keys as strings, positions in arrays of
tables as ints (``("mailbox", 1, "mailbox")``).  The index follows table
headers (``[a.b]``, ``[[a]]``) and ``key =`` lines, dotted and quoted keys
included; a value spanning several lines is located at its first line.
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

KeyPath = tuple[str | int, ...]
_BARE_OR_QUOTED = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_KEYS = rf"{_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*"
_TABLE = re.compile(rf"^\s*\[\s*({_KEYS})\s*\]\s*(?:#.*)?$")
_ARRAY_TABLE = re.compile(rf"^\s*\[\[\s*({_KEYS})\s*\]\]\s*(?:#.*)?$")
_ASSIGN = re.compile(rf"^\s*({_KEYS})\s*=")
_KEY_PART = re.compile(_BARE_OR_QUOTED)


def _split_keys(text: str) -> tuple[str, ...]:
    parts = []
    for m in _KEY_PART.finditer(text):
        token = m.group(0)
        parts.append(token[1:-1] if token[:1] in "\"'" else token)
    return tuple(parts)


def format_path(path: KeyPath) -> str:
    """``("mailbox", 1, "source")`` -> ``mailbox[2].source`` (positions counted from 1, as people do)."""
    out = ""
    for part in path:
        out += f"[{part + 1}]" if isinstance(part, int) else (("." if out else "") + part)
    return out


@dataclass
class TomlFile:
    """A parsed TOML file with the line of every table and key."""

    path: str
    data: dict[str, Any]
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its nearest located ancestor."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def error(self, path: KeyPath, message: str) -> ConfigError:
        """A one-line ConfigError: ``file:line: key.path: message``."""
        line = self.line(path)
        where = f"{self.path}:{line}" if line else self.path
        key = format_path(path)
        return ConfigError(f"{where}: {key}: {message}" if key else f"{where}: {message}")


def parse_toml(text: str, path: str) -> TomlFile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        where = f"{path}:{m.group(1)}" if m else path
        reason = re.sub(r" \(at line.*", "", str(exc))
        raise ConfigError(f"{where}: not valid TOML: {reason}")
    return TomlFile(path, data, _index_lines(text))


def load_toml(path: str | Path) -> TomlFile:
    """Read and parse a TOML file; ConfigError naming the file (and line) when it cannot."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})")
    return parse_toml(text, str(path))


def _index_lines(text: str) -> dict[KeyPath, int]:
    lines: dict[KeyPath, int] = {}
    counters: dict[tuple[str, ...], int] = defaultdict(lambda: -1)
    current: KeyPath = ()
    in_multiline: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        if in_multiline:
            if in_multiline in raw:
                in_multiline = None
            continue
        m = _ARRAY_TABLE.match(raw)
        if m:
            keys = _split_keys(m.group(1))
            counters[keys] += 1
            # arrays of tables nested in arrays are rare in our files: index the outer path as written
            current = keys + (counters[keys],)
            lines.setdefault(keys, number)
            lines[current] = number
            continue
        m = _TABLE.match(raw)
        if m:
            current = _split_keys(m.group(1))
            lines.setdefault(current, number)
            continue
        m = _ASSIGN.match(raw)
        if m:
            lines[current + _split_keys(m.group(1))] = number
            rest = raw[m.end():]
            for quote in ('"""', "'''"):
                if rest.count(quote) == 1:
                    in_multiline = quote
    return lines
