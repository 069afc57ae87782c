"""Request bodies of the emulator: unknown properties, JSON types, enums and itemBody, checked as Outlook does.

Outlook REST answers a body it cannot deserialize (an unknown property, a wrong JSON type, a bad enum
member) with 400 ``RequestBodyRead`` (realistic code seen in community reports; not in graph-semantics).
Property names match case-insensitively, as Outlook's OData reader does.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import EmulatorHttpError
from .router import Json


def body_error(message: str) -> EmulatorHttpError:
    # Outlook REST answers body deserialization failures (unknown property, wrong JSON type, bad enum)
    # with 400 "RequestBodyRead"; realistic code (observed in community reports), not in graph-semantics.
    return EmulatorHttpError(400, "RequestBodyRead", message)


def check_properties(body: Json, known: set[str], type_name: str,
                     error: Any = body_error) -> None:
    """Reject properties the resource type does not define (instance annotations ``@...`` pass)."""
    lowered = {k.lower() for k in known}
    for key in body:
        if "@" in key:
            continue
        if key.lower() not in lowered:
            raise error(f"The property '{key}' does not exist on type '{type_name}'. Make sure to only use "
                        "property names that are defined by the type.")


def get_prop(body: Json, name: str, default: Any = None) -> Any:
    """A body property by case-insensitive name (OData property names are matched that way by Outlook)."""
    if name in body:
        return body[name]
    low = name.lower()
    return next((v for k, v in body.items() if k.lower() == low), default)


def string_prop(body: Json, name: str, default: str | None = None, error: Any = body_error) -> str | None:
    value = get_prop(body, name, default)
    if value is not None and not isinstance(value, str):
        raise error(f"Cannot convert the value of '{name}' to the expected type 'Edm.String'.")
    return value


def bool_prop(body: Json, name: str, default: bool, error: Any = body_error) -> bool:
    value = get_prop(body, name, default)
    if not isinstance(value, bool):
        raise error(f"Cannot convert the value of '{name}' to the expected type 'Edm.Boolean'.")
    return value


def int_prop(body: Json, name: str, default: int | None, error: Any = body_error) -> int | None:
    value = get_prop(body, name, default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise error(f"Cannot convert the value of '{name}' to the expected type 'Edm.Int32'.")
    return value


def string_list(body: Json, name: str, error: Any = body_error) -> list[str] | None:
    value = get_prop(body, name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise error(f"The value of '{name}' must be a collection of strings.")
    return list(value)


def enum_prop(body: Json, name: str, allowed: tuple[str, ...], default: str | None,
              error: Any = body_error) -> str | None:
    """An enum member (case-insensitive, answered in its canonical spelling); 400 for any other value."""
    value = get_prop(body, name, default)
    if value is None:
        return None
    if isinstance(value, str):
        for member in allowed:
            if member.lower() == value.lower():
                return member
    raise error(f"The value '{value}' is not valid for property '{name}'; expected one of {', '.join(allowed)}.")


def item_body(body: Json, default_type: str, error: Any = body_error) -> Json:
    """An ``itemBody`` ``{contentType: text|html, content}``."""
    value = get_prop(body, "body")
    if value is None:
        return {"contentType": default_type, "content": ""}
    if not isinstance(value, dict):
        raise error("The value of 'body' must be an itemBody object.")
    content = string_prop(value, "content", "", error) or ""
    content_type = enum_prop(value, "contentType", ("text", "html"), default_type, error) or default_type
    return {"contentType": content_type, "content": content}


def preview(body: Json) -> str:
    """``bodyPreview``: the first 255 characters of the text (tags stripped from HTML)."""
    text = body.get("content", "")
    if body.get("contentType") == "html":
        text = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", text, flags=re.DOTALL | re.IGNORECASE)
        text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", text).strip()[:255]


