"""Transport-free requests, responses and routing of the emulator.

A :class:`GraphRequest` is what a handler sees, whether it came over HTTP or
out of a ``$batch`` body, so that batch items run through exactly the same
code as direct calls.  Routes are regular expressions over the decoded path
after ``/v1.0``; literal parts match case-insensitively, as Graph's do.
Each route says which throttling budget it draws on (an Outlook mailbox,
SharePoint, or none) and whether it reads one resource or queries many.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from ..errors import EmulatorHttpError

Json = dict[str, Any]


@dataclass
class GraphRequest:
    """One Graph call: method, decoded path below ``/v1.0``, query, headers (lower-case), body."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    base_url: str = "http://127.0.0.1:8765/v1.0"
    app_id: str = "app"
    request_id: str = ""

    @classmethod
    def from_target(cls, method: str, target: str, headers: dict[str, str], body: bytes, **kw: Any) -> "GraphRequest":
        """Build from a raw target such as ``/users/x%40y/messages?$top=5`` (path below /v1.0)."""
        raw_path, _, raw_query = target.partition("?")
        path = re.sub(r"/{2,}", "/", unquote(raw_path))  # the SDK may send /v1.0//users (graph-semantics §9.2)
        if len(path) > 1:
            path = path.rstrip("/")
        query = {k: v for k, v in parse_qsl(raw_query, keep_blank_values=True)}
        return cls(method.upper(), path or "/", query, {k.lower(): v for k, v in headers.items()}, body, **kw)

    def json(self) -> Json:
        """The body as a JSON object, or 400 BadRequest as Graph answers unparsable bodies."""
        if not self.body:
            raise EmulatorHttpError(400, "BadRequest", "Empty Payload. JSON content expected.")
        content_type = self.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if not content_type.endswith("json"):
            raise EmulatorHttpError(415, "UnsupportedMediaType",
                                    f"A JSON body needs Content-Type application/json, not '{content_type}'.")
        try:
            value = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise EmulatorHttpError(400, "BadRequest", "Unable to read JSON request payload. "
                                    "Please ensure Content-Type header is set and payload is of valid JSON format.")
        if not isinstance(value, dict):
            raise EmulatorHttpError(400, "BadRequest", "The request body must be a JSON object.")
        return value

    def prefers(self, token: str) -> bool:
        """Whether a ``Prefer`` header carries ``token`` (case-insensitive)."""
        return token.lower() in self.headers.get("prefer", "").lower()

    def link(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


@dataclass
class GraphResponse:
    """What a handler answers: a status and a JSON object, raw bytes or nothing."""

    status: int = 200
    body: Json | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, str | None]:
        if self.body is None:
            return b"", None
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        return json.dumps(self.body).encode(), "application/json"


Budget = str  # "mailbox" | "sharepoint" | "none"
Handler = Callable[..., GraphResponse]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    budget: Budget
    many: bool  # a query over a collection (SharePoint: 2 resource units instead of 1)


class Router:
    """Method + path regular expression -> handler, first match wins."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, budget: Budget = "none", many: bool = False) -> None:
        """``template`` uses ``{name}`` for one path segment and ``{name:path}`` for the rest."""
        regex = ""
        for literal, name, rest in re.findall(r"([^{]*)(?:\{(\w+)(:path)?\})?", template):
            regex += re.escape(literal)
            if name:
                regex += f"(?P<{name}>.+)" if rest else f"(?P<{name}>[^/]+)"
        self.routes.append(Route(method, re.compile(f"^{regex}$", re.IGNORECASE), handler, budget, many))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed = False
        for route in self.routes:
            m = route.pattern.match(path)
            if m:
                if route.method == method:
                    return route, m.groupdict()
                allowed = True
        if allowed:
            raise EmulatorHttpError(405, "Request_BadRequest",
                                    f"The HTTP method '{method}' is not allowed for the resource '{path}'.")
        raise EmulatorHttpError(400, "BadRequest", f"Resource not found for the segment in '{path}'.")


# -- helpers shared by the resource modules ---------------------------------------------------------
def now_iso() -> str:
    """Current UTC time the way Graph writes it (second precision, Z)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def opaque_id(prefix: str, *parts: object) -> str:
    """A Graph-looking opaque id (URL-safe base64, no '/'), deterministic from ``parts``."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return prefix + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def guid(*parts: object) -> str:
    """A GUID-shaped id, deterministic from ``parts`` (so fault draws on requests naming it are reproducible)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def public(obj: Json) -> Json:
    """The object without the emulator's own ``_`` keys."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def not_found(what: str = "The specified object was not found in the store.") -> EmulatorHttpError:
    return EmulatorHttpError(404, "ErrorItemNotFound", what)


def bad_request(message: str, code: str = "ErrorInvalidRequest") -> EmulatorHttpError:
    return EmulatorHttpError(400, code, message)


def parse_datetime(value: object, field_name: str) -> datetime:
    """An ISO 8601 date-time with offset (or Z), else 400."""
    if not isinstance(value, str):
        raise bad_request(f"Cannot convert the literal '{value}' to the expected type 'Edm.DateTimeOffset'.",
                          "BadRequest")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"Cannot convert the literal '{value}' to the expected type 'Edm.DateTimeOffset' "
                          f"({field_name}).", "BadRequest")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
