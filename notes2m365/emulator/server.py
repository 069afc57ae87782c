"""HTTP serving of the emulator: a Starlette application run by uvicorn.

``/v1.0/...`` is Graph; ``/_upload/...`` are the pre-authenticated upload
URLs handed out by ``createUploadSession``; ``/_emulator/...`` are the
emulator's own read-only views for operators and tests (health, request log,
invitations that Exchange would have sent).  :func:`serve` blocks (the CLI);
:class:`BackgroundEmulator` runs one in a thread on a free port (tests,
rehearsals driven from Python).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import ConfigError
from .config import EmulatorConfig
from .router import GraphRequest, public
from .service import UPLOAD_PREFIX, Emulator

GRAPH_PREFIX = "/v1.0"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class ConnectionDropped(Exception):
    """Raised after a response has started, so that uvicorn closes the connection mid-answer."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


def build_app(emulator: Emulator | Callable[[], Emulator]) -> Starlette:
    """The ASGI application serving ``emulator`` (or whichever one ``emulator()`` returns per request)."""
    current: Callable[[], Emulator] = emulator if callable(emulator) else (lambda: emulator)

    async def graph(request: Request) -> Response:
        raw_target = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
        query = request.scope.get("query_string", b"").decode("latin-1")
        path = raw_target[len(GRAPH_PREFIX):] if raw_target.startswith(GRAPH_PREFIX) else raw_target
        base = f"{request.url.scheme}://{request.url.netloc}{GRAPH_PREFIX}"
        req = GraphRequest.from_target(request.method, path + ("?" + query if query else ""),
                                       dict(request.headers), await request.body(), base_url=base,
                                       app_id=_app_id(request.headers.get("authorization", "")))
        outcome = await current().handle(req)
        body, content_type = outcome.response.encoded()
        headers = dict(outcome.response.headers)
        if content_type:
            headers["Content-Type"] = content_type
        if outcome.drop:
            return _DroppedResponse(outcome.response.status, headers)
        return Response(body, status_code=outcome.response.status, headers=headers)

    async def upload(request: Request) -> Response:
        return await graph(request)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "store": current().store.path})

    async def request_log(request: Request) -> Response:
        return JSONResponse({"value": list(current().requests.entries)})

    async def invitations(request: Request) -> Response:
        return JSONResponse({"value": [public(i) for i in current().store.all("invitation")]})

    routes = [
        Route("/_emulator/health", health),
        Route("/_emulator/requests", request_log),
        Route("/_emulator/invitations", invitations),
        Route(UPLOAD_PREFIX + "{rest:path}", upload, methods=METHODS),
        Route(GRAPH_PREFIX + "/{rest:path}", graph, methods=METHODS),
        Route(GRAPH_PREFIX, graph, methods=METHODS),
    ]
    return Starlette(routes=routes)


def _app_id(authorization: str) -> str:
    """The throttling identity of a caller: Graph throttles per application, so the ``appid`` (v1 tokens) or
    ``azp`` (v2) claim of a JWT; for an opaque token, a hash of it (never the token itself)."""
    token = authorization.partition(" ")[2].strip()
    parts = token.split(".")
    if len(parts) == 3:
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
            app = claims.get("appid") or claims.get("azp")
            if isinstance(app, str) and app:
                return "app:" + app
        except (ValueError, AttributeError):
            pass
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]


class _DroppedResponse(Response):
    """Starts the answer, then aborts: the client sees the connection close mid-response."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        super().__init__(b"", status_code=status, headers={**headers, "Content-Length": "1024"})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise ConnectionDropped("injected fault: connection dropped")


def _uvicorn_config(app: Starlette, config: EmulatorConfig, log_level: str) -> uvicorn.Config:
    logging.getLogger("uvicorn.error").addFilter(_QuietDrops())
    return uvicorn.Config(app, host=config.host, port=config.port, http="h11", lifespan="off",
                          log_level=log_level, access_log=False, timeout_keep_alive=30)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket (ConfigError when the address is taken or invalid)."""
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only for sockets
    # whose proto is IPPROTO_TCP; with proto 0 every answer waits ~40 ms on Nagle + delayed ACK.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    return sock


def serve(emulator: Emulator, log_level: str = "warning", on_ready: Callable[[], None] | None = None) -> None:
    """Serve ``emulator`` until interrupted (the ``notes2m365 emulator`` command); Ctrl-C returns normally."""
    config = emulator.config
    sock = listen(config.host, config.port)
    if on_ready:
        on_ready()
    try:
        asyncio.run(uvicorn.Server(_uvicorn_config(build_app(emulator), config, log_level)).serve(sockets=[sock]))
    except KeyboardInterrupt:  # uvicorn shuts down gracefully, then re-raises the signal it caught
        pass
    finally:
        sock.close()
        emulator.close()


class BackgroundEmulator:
    """An emulator on a free local port in a daemon thread; a context manager.

    >>> with BackgroundEmulator() as emu:
    ...     emu.base_url   # 'http://127.0.0.1:PORT/v1.0'
    """

    def __init__(self, config: EmulatorConfig | None = None, **kw: Any) -> None:
        self.config = config or EmulatorConfig()
        self.emulator = Emulator(self.config, **kw)
        self._sock = listen(self.config.host, 0 if self.config.port in (0, 8765) else self.config.port)
        self.port = self._sock.getsockname()[1]
        self.root_url = f"http://{self.config.host}:{self.port}"
        self.base_url = self.root_url + GRAPH_PREFIX
        self._server = uvicorn.Server(_uvicorn_config(build_app(lambda: self.emulator), self.config, "error"))
        self._server.config.port = self.port
        self._thread = threading.Thread(target=self._run, name="graph-emulator", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def reset(self, config: EmulatorConfig | None = None, **kw: Any) -> "BackgroundEmulator":
        """Serve a fresh emulator (new store, limits and counters) on the same port."""
        old = self.emulator
        self.config = config or EmulatorConfig()
        self.emulator = Emulator(self.config, **kw)
        old.close()
        return self

    def start(self) -> "BackgroundEmulator":
        self._thread.start()
        for _ in range(500):
            if self._server.started or not self._thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not self._server.started:
            raise RuntimeError("the emulator did not start")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
        self.emulator.close()

    def __enter__(self) -> "BackgroundEmulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
