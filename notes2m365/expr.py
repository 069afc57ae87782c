"""The small, safe expression language of mapping files: conditions, defaults and transforms.

Expressions use Python syntax but only this subset, checked when the
mapping file is loaded (so a typo is an error naming the file and line, not
a failure half-way through a migration): literals, ``and``/``or``/``not``,
comparisons (``== != < <= > >= in``), ``x if c else y``, ``+`` and calls of
the functions below.  There are no names, attributes, subscripts, lambdas
or comprehensions, and nothing is ever passed to ``eval``.

Functions: ``item(name)`` (the item's value: text, number, ISO datetime or a
list), ``text(name)`` (its text, list values joined with ", "), ``has(name)``,
``form()``, ``unid()``, ``first(a, b, ...)`` (first non-empty), ``lower(s)``,
``upper(s)``, ``strip(s)``, ``replace(s, old, new)``, ``join(list, sep)``,
``split(s, sep)``, ``date(value)`` (the YYYY-MM-DD part), ``number(value)``,
``len(value)``.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from typing import Any

from .errors import ConfigError

Lookup = Callable[[str], Any]


MAX_NODES = 200  # an expression is a line of a mapping file, not a program
MAX_SOURCE = 2000
MAX_TEXT = 1_000_000  # characters a value may grow to (replace, +, join)


class ExpressionError(ConfigError):
    """An expression is not in the allowed subset (raised at load time)."""


class ExpressionValueError(ValueError):
    """Evaluating an expression for one document failed (the planner warns and leaves the value out)."""


def _bounded(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise ExpressionValueError(f"the value grew past {MAX_TEXT:,} characters")
    if isinstance(value, list) and len(value) > 10_000:
        raise ExpressionValueError("the value grew past 10,000 elements")
    return value


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(value: Any) -> float | int | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else None
    text = str(value).strip()
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+", text):
        return None  # "1,234": a thousands separator or a decimal comma? Not guessed.
    if re.fullmatch(r"-?\d+,\d+", text):
        text = text.replace(",", ".")  # a decimal comma ("12,5")
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number


FUNCTIONS: dict[str, tuple[int, int]] = {  # name -> (min args, max args)
    "item": (1, 1), "text": (1, 1), "has": (1, 1), "form": (0, 0), "unid": (0, 0), "first": (1, 16),
    "lower": (1, 1), "upper": (1, 1), "strip": (1, 1), "replace": (3, 3), "join": (1, 2), "split": (1, 2),
    "date": (1, 1), "number": (1, 1), "len": (1, 1),
}
_OPS = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
        ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
        ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}


class Expression:
    """A checked expression; :meth:`evaluate` runs it against one document."""

    def __init__(self, source: str, where: str = "expression") -> None:
        self.source = source
        if len(source) > MAX_SOURCE:
            raise ExpressionError(f"{where}: longer than {MAX_SOURCE} characters")
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(f"{where}: not a valid expression: {exc.msg}")
        except (RecursionError, MemoryError, ValueError):
            raise ExpressionError(f"{where}: nested too deeply")
        if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
            raise ExpressionError(f"{where}: more than {MAX_NODES} parts; split it into several columns")
        self._check(tree.body, where)
        self.tree = tree.body

    def _check(self, node: ast.AST, where: str) -> None:
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, (str, int, float, bool, type(None))):
                raise ExpressionError(f"{where}: literal {node.value!r} is not allowed")
        elif isinstance(node, (ast.List, ast.Tuple)):
            for elt in node.elts:
                self._check(elt, where)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self._check(value, where)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            self._check(node.operand, where)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            self._check(node.left, where)
            self._check(node.right, where)
        elif isinstance(node, ast.Compare):
            if not all(type(op) in _OPS for op in node.ops):
                raise ExpressionError(f"{where}: only == != < <= > >= in and not in compare")
            for part in (node.left, *node.comparators):
                self._check(part, where)
        elif isinstance(node, ast.IfExp):
            for part in (node.test, node.body, node.orelse):
                self._check(part, where)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise ExpressionError(f"{where}: unknown function {name}() (known: {', '.join(sorted(FUNCTIONS))})")
            low, high = FUNCTIONS[node.func.id]
            if node.keywords or not low <= len(node.args) <= high:
                raise ExpressionError(f"{where}: {node.func.id}() takes {low}" + (f" to {high}" if high != low else "")
                                      + " positional argument(s)")
            for arg in node.args:
                self._check(arg, where)
        elif isinstance(node, ast.Name):
            raise ExpressionError(f"{where}: unknown name '{node.id}' (item names go in item('...'))")
        else:
            raise ExpressionError(f"{where}: '{ast.unparse(node)}' is not allowed in an expression")

    def evaluate(self, lookup: Lookup, form: str = "", unid: str = "") -> Any:
        """The value for one document; ``lookup(name)`` gives an item's value (None when absent).

        Raises :class:`ExpressionValueError` when a value grows past :data:`MAX_TEXT`."""
        return self._eval(self.tree, lookup, form, unid)

    def _eval(self, node: ast.AST, lookup: Lookup, form: str, unid: str) -> Any:
        ev = lambda n: self._eval(n, lookup, form, unid)  # noqa: E731
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.BoolOp):
            result: Any = None
            for value in node.values:
                result = ev(value)
                if isinstance(node.op, ast.And) and not result:
                    return result
                if isinstance(node.op, ast.Or) and result:
                    return result
            return result
        if isinstance(node, ast.UnaryOp):
            value = ev(node.operand)
            return (not value) if isinstance(node.op, ast.Not) else -(_number(value) or 0)
        if isinstance(node, ast.BinOp):
            left, right = ev(node.left), ev(node.right)
            if isinstance(left, (int, float)) and isinstance(right, (int, float)):
                return left + right
            if isinstance(left, list) or isinstance(right, list):
                return _bounded(list(left or []) + list(right or []))
            return _bounded(_text(left) + _text(right))
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            for op, comparator in zip(node.ops, node.comparators):
                right = ev(comparator)
                try:
                    ok = _OPS[type(op)](left, right)
                except TypeError:
                    ok = False
                if not ok:
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return ev(node.body) if ev(node.test) else ev(node.orelse)
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        name, args = node.func.id, [ev(a) for a in node.args]
        if name == "item":
            return lookup(_text(args[0]))
        if name == "text":
            return _text(lookup(_text(args[0])))
        if name == "has":
            return not _empty(lookup(_text(args[0])))
        if name == "form":
            return form
        if name == "unid":
            return unid
        if name == "first":
            return next((a for a in args if not _empty(a)), None)
        if name in ("lower", "upper", "strip"):
            return getattr(_text(args[0]), name)()
        if name == "replace":
            text, old, new = _text(args[0]), _text(args[1]), _text(args[2])
            if old == "" or len(text) + (len(new) - len(old)) * text.count(old) > MAX_TEXT:
                raise ExpressionValueError("replace() with an empty pattern or past the size limit")
            return text.replace(old, new)
        if name == "join":
            value = args[0] if isinstance(args[0], (list, tuple)) else [args[0]]
            return _bounded((_text(args[1]) if len(args) > 1 else ", ").join(_text(v) for v in value if not _empty(v)))
        if name == "split":
            sep = _text(args[1]) if len(args) > 1 else ","
            return [p.strip() for p in _text(args[0]).split(sep) if p.strip()]
        if name == "date":
            text = _text(args[0][0] if isinstance(args[0], (list, tuple)) and args[0] else args[0])
            return text[:10] if len(text) >= 10 else None
        if name == "number":
            return _number(args[0])
        if name == "len":
            value = args[0]
            return len(value) if isinstance(value, (list, tuple, str)) else (0 if value is None else 1)
        raise AssertionError(name)  # pragma: no cover - _check admits only FUNCTIONS
