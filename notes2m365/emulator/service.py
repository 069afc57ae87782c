"""The emulator as a service, independent of HTTP: authenticate, route, throttle, inject faults, run, log.

:class:`Emulator` owns the store, the router and the models of throttling
and faults.  :meth:`Emulator.handle` takes one :class:`GraphRequest` and
returns an :class:`Outcome`; the HTTP server (``server.py``) only translates
between ASGI and these objects, and ``$batch`` (``batch.py``) runs its items
through :meth:`Emulator.admit` / :meth:`Emulator.run` like direct calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..errors import EmulatorHttpError
from . import batch, directory, drives, lists, mail, onedrive, pim
from .config import EmulatorConfig
from .directory import find_user, rewrite_site_path
from .faults import Faults
from .reqlog import RequestLog
from .router import GraphRequest, GraphResponse, Route, Router
from .store import Store
from .tenant import DEMO_TENANT, load_tenant_file, site_object, user_object, validate_tenant
from .throttle import Slot, Throttle, sharepoint_units

log = logging.getLogger("notes2m365.emulator")
RESOURCE_MODULES = (directory, mail, pim, lists, drives, onedrive, batch)
UPLOAD_PREFIX = "/_upload/"


@dataclass
class Outcome:
    """A response to send, or ``drop=True``: close the connection without a complete answer."""

    response: GraphResponse
    drop: bool = False
    fault: str | None = None


@dataclass
class Admission:
    """A routed request that passed throttling and holds its slot until :meth:`Emulator.run` ends."""

    request: GraphRequest
    route: Route
    params: dict[str, str]
    slot: Slot | None = None
    headers: dict[str, str] = field(default_factory=dict)
    budget_key: str | None = None


def error_body(err: EmulatorHttpError, request_id: str, client_request_id: str = "") -> dict[str, Any]:
    """Graph's error shape, so that msgraph-sdk's ODataError carries code and message (§11.15)."""
    return {"error": {"code": err.code, "message": err.message, "innerError": {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id, "client-request-id": client_request_id or request_id}}}


def error_response(err: EmulatorHttpError, req: GraphRequest) -> GraphResponse:
    headers = dict(err.headers)
    headers["request-id"] = req.request_id
    return GraphResponse(err.status, error_body(err, req.request_id, req.headers.get("client-request-id", "")), headers)


class Emulator:
    """One emulated tenant with its Graph endpoints."""

    def __init__(self, config: EmulatorConfig | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or EmulatorConfig()
        self.store = Store(self.config.data_dir)
        self.router = Router()
        for module in RESOURCE_MODULES:
            module.register(self.router)
        self.throttle = Throttle(self.config.throttle, clock)
        self.faults = Faults(self.config.faults)
        self.requests = RequestLog(self.config.request_log)
        self.clock = clock
        self._counter = 0
        spec = load_tenant_file(self.config.tenant_file) if self.config.tenant_file else validate_tenant(DEMO_TENANT)
        self.seed_tenant(spec)

    def close(self) -> None:
        self.requests.close()
        self.store.close()

    # -- tenant ---------------------------------------------------------------------------------------
    def seed_tenant(self, spec: dict[str, Any]) -> None:
        """Create the users (with their mailboxes) and sites (with their libraries) that do not exist yet."""
        with self.store.transaction():
            self.store.set_meta("sharepoint_host", spec["sharepoint_host"])
            for user_spec in spec["users"]:
                user = user_object(user_spec)
                if self.store.get("upn", user["userPrincipalName"].lower()) is None:  # stores seeded before it
                    self.store.insert("upn", {"id": user["userPrincipalName"].lower(), "user": user["id"]})
                if self.store.get("user", user["id"]) is None:
                    self.store.insert("user", user)
                    for module in RESOURCE_MODULES:
                        if hasattr(module, "provision_user"):
                            module.provision_user(self.store, user)
                user = self.store.get("user", user["id"]) or user
                for module in RESOURCE_MODULES:  # idempotent hooks: also for users of an older store
                    if hasattr(module, "ensure_user"):
                        module.ensure_user(self.store, user)
            for site_spec in spec["sites"]:
                site = site_object(site_spec, spec["sharepoint_host"])
                if self.store.get("site", site["id"]) is None:
                    self.store.insert("site", site)
                    for module in RESOURCE_MODULES:
                        if hasattr(module, "provision_site"):
                            module.provision_site(self.store, site)

    # -- request pipeline ---------------------------------------------------------------------------
    def next_request_id(self) -> str:
        self._counter += 1
        digest = hashlib.sha256(f"{self.config.faults.seed}:{self._counter}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def authenticate(self, req: GraphRequest) -> None:
        auth = req.headers.get("authorization", "")
        if req.path.lower().startswith(UPLOAD_PREFIX):
            # Upload URLs are pre-authenticated; Outlook answers a bearer token with 401
            # (graph-semantics §2, §11.2; DC:concepts/outlook-large-attachments.md, driveitem-createuploadsession.md).
            if auth:
                raise EmulatorHttpError(401, "InvalidAudience",
                                        "The audience claim value is invalid for the upload URL; "
                                        "do not send an Authorization header to a pre-authenticated upload URL.")
            return
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise EmulatorHttpError(401, "InvalidAuthenticationToken", "Access token is empty.")
        if self.config.token is not None and token.strip() != self.config.token:
            raise EmulatorHttpError(401, "InvalidAuthenticationToken", "Access token validation failure.")

    def admit(self, req: GraphRequest) -> Admission:
        """Route and throttle one request (raises EmulatorHttpError with the answer to give)."""
        if req.path.lower().startswith("/sites/"):
            req.path = rewrite_site_path(self.store, req.path)
        route, params = self.router.match(req.method, req.path)
        admission = Admission(req, route, params)
        budget = route.budget
        owner: str | None = None
        if budget.startswith("upload:"):
            # chunks carry no token: they count against the app that created the session
            budget, owner, req.app_id = self._upload_budget(params.get("session", ""), req.app_id)
        if budget == "mailbox":
            key = owner or params.get("user", "")
            user = find_user(self.store, key) if not owner else None
            admission.budget_key = owner or (user["id"] if user else key.lower())
            size = len(req.body) if req.method in ("POST", "PUT", "PATCH") else 0
            admission.slot = self.throttle.enter_mailbox(req.app_id, admission.budget_key, size)
        elif budget == "sharepoint":
            admission.budget_key = "sharepoint"
            admission.headers = self.throttle.charge_sharepoint(
                req.app_id, sharepoint_units(req.method, route.many, req.path, req.query))
        return admission

    def _upload_budget(self, session_id: str, app_id: str) -> tuple[str, str | None, str]:
        session = self.store.get("uploadSession", session_id)
        if session is None:
            return "none", None, app_id
        app_id = session.get("_app", app_id)
        return ("mailbox", session["_mailbox"], app_id) if session.get("_mailbox") else ("sharepoint", None, app_id)

    async def run(self, admission: Admission) -> GraphResponse:
        """Execute an admitted request in one transaction and release its slot."""
        req = admission.request
        try:
            handler = admission.route.handler
            if inspect.iscoroutinefunction(handler):
                response = await handler(self, req, **admission.params)
            else:
                with self.store.transaction():
                    response = handler(self, req, **admission.params)
        except EmulatorHttpError as err:
            response = error_response(err, req)
        except Exception:  # a bug of the emulator: answer 500 and say so loudly
            log.exception("emulator handler failed for %s %s", req.method, req.path)
            response = error_response(EmulatorHttpError(500, "InternalServerError",
                                                        "The emulator failed; see its log."), req)
        finally:
            self.throttle.leave(admission.slot)
        response.headers.update(admission.headers)
        response.headers.setdefault("request-id", req.request_id)
        return response

    async def latency(self) -> None:
        if self.config.faults.latency_ms > 0:
            await asyncio.sleep(self.config.faults.latency_ms / 1000)

    async def handle(self, req: GraphRequest, batch_id: str | None = None, allow_drop: bool = True) -> Outcome:
        """Everything that happens to one request, from authentication to the log entry."""
        started = time.perf_counter()
        req.request_id = req.request_id or self.next_request_id()
        fault: str | None = None
        budget_key: str | None = None
        drop = waited = False
        try:
            if batch_id is None:
                self.authenticate(req)
            fault = self.faults.draw(req.method, req.path + "?" + "&".join(f"{k}={v}" for k, v in
                                     sorted(req.query.items()) if k != "authtoken"), req.body)
            if not allow_drop and fault in ("reset", "lost-reset"):
                fault = {"reset": "503", "lost-reset": "lost-504"}[fault]
            if fault in ("503", "504", "reset"):
                await self.latency()
                waited = True
                drop = fault == "reset"
                status = int(fault) if fault != "reset" else 503
                raise EmulatorHttpError(status, "ServiceUnavailable" if status == 503 else "GatewayTimeout",
                                        "The service is temporarily unavailable (injected fault).",
                                        {"Retry-After": "1"} if status == 503 else {})
            admission = self.admit(req)
            budget_key = admission.budget_key
            try:
                await self.latency()
                waited = True
                response = await self.run(admission)
            finally:  # also when the wait is cancelled: never leak a concurrency slot
                self.throttle.leave(admission.slot)
            if fault == "lost-504" or fault == "lost-reset":
                drop = fault == "lost-reset"
                response = error_response(EmulatorHttpError(504, "GatewayTimeout",
                                                            "The gateway timed out (injected fault; "
                                                            "the request was carried out)."), req)
        except EmulatorHttpError as err:
            if not waited:  # --latency-ms is added to every answer, rejections included
                await self.latency()
            response = error_response(err, req)
        self.requests.write({
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestId": req.request_id, "batch": batch_id, "method": req.method, "path": req.path,
            "status": response.status, "ms": round((time.perf_counter() - started) * 1000, 1),
            "budget": budget_key, "bytesIn": len(req.body), "fault": fault,
            "error": response.body.get("error", {}).get("code") if isinstance(response.body, dict) else None,
        })
        return Outcome(response, drop=drop and allow_drop, fault=fault)
