"""The one module that talks to Microsoft Graph: credentials, HTTP, limits, error translation, request retries.

What it owns
    * **Credentials.** :func:`credential_for` turns a job's ``[target]`` into an azure-identity credential
      (client secret read from the environment variable the job names, certificate, device code); an
      emulator target (``auth = "none"``) gets a static bearer token.  Tokens are cached until five
      minutes before they expire, refreshed once on a 401, and never logged.
    * **HTTP.** Graph calls go through msgraph-core's ``GraphClientFactory`` middleware with the SDK's
      ``RetryHandler`` switched off (``max_retries=0, should_retry=False``: graph-semantics §9.4, it
      retries POSTs and cannot parse ``Retry-After: 2.128``) and ``User-Agent: ISV|notes2m365|notes2m365/<v>``
      (§8.1 traffic decoration).  Bodies are our plan's JSON, sent as they are.  Upload-session chunks go
      through a second, plain httpx client that has no credentials at all: upload URLs are
      pre-authenticated and answer a bearer token with 401 (§2, §9.7).
    * **Error translation, once.** :func:`classify` maps a status, body and headers to
      :class:`TransientGraphError` (408/424/429/5xx, with ``Retry-After``), :class:`FatalGraphError`
      (401 after a refresh, 403 access denied, quota) or :class:`PermanentGraphError` (other 4xx, carrying
      Graph's ``error.code`` such as ``ErrorFolderExists`` or ``nameAlreadyExists``);
      :func:`transport_error` does the same for httpx exceptions.
    * **Request-level retries** (tenacity, configured in :class:`GraphSettings`): only transient errors;
      the wait is ``Retry-After`` when Graph gives one (fractional seconds honoured), otherwise exponential
      backoff with jitter; at most ``max_attempts`` attempts within ``max_retry_time`` seconds; each retry
      logged at INFO on ``notes2m365.graph``.  The other retry tier is the item level (the pipeline).
    * **Limits shared by every caller of one client:** at most ``mailbox_concurrency`` (4) requests in
      flight per mailbox (Outlook's limit, §8.1), at most ``mailbox_requests`` per ``mailbox_window_s``
      per mailbox (Outlook's 10,000 per 10 minutes, kept on our side: see :class:`MailboxWindow`), and a
      global token bucket of ``requests_per_second``.

Exactly-once rule for writes
    A request that is not idempotent (POST, unless the caller says otherwise with ``idempotent=True``)
    is retried here **only** when Graph cannot have carried it out: a 429 (rejected before it ran), a
    424 in a batch (not run), or a connection that was never established.  A 5xx, a timeout or a dropped
    connection after the request was sent may hide a committed write (the emulator's ``lost-504`` and
    ``lost-reset``), so the :class:`TransientGraphError` (``maybe_committed=True``) goes to the caller,
    whose item-level logic looks the object up by its source key before sending it again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import inspect
import json as jsonlib
import logging
import math
import os
import random
import re
import ssl
import time
import urllib.request
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
import orjson
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, stop_before_delay

from . import __version__
from .errors import ConfigError, FatalGraphError, PermanentGraphError, SinkError, TransientGraphError
from .job import Target

log = logging.getLogger("notes2m365.graph")

SCOPES = ("https://graph.microsoft.com/.default",)
USER_AGENT = f"ISV|notes2m365|notes2m365/{__version__}"
EMULATOR_TOKEN = "notes2m365-emulator"
BATCH_MAX = 20
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})
TRANSIENT_STATUS = frozenset({408, 424, 429, 500, 502, 503, 504, 509})
# 403 codes that mean "this application may not do this here": access policies, missing consent.
FATAL_403_CODES = frozenset({"ErrorAccessDenied", "accessDenied", "AccessDenied", "Authorization_RequestDenied",
                             "ErrorApplicationAccessPolicy", "InsufficientPermissions"})
FATAL_CODES = frozenset({"ErrorQuotaExceeded", "quotaLimitReached", "InvalidAuthenticationToken"})
_REQUEST_OPTIONS_KEY = "kiota_request_options"  # msgraph_core's AsyncGraphTransport runs middleware only with it
POOL_KEY = "notes2m365_pool"  # a request extension: the mailbox whose connection pool it goes through
_USERS = re.compile(r"^/?users/([^/?]+)/[^?]", re.IGNORECASE)


# -- settings and results -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GraphSettings:
    """How hard to push and how long to insist (one set per run)."""

    max_attempts: int = 6  # per request, first attempt included
    max_retry_time: float = 300.0  # seconds from the first attempt; no retry sleeps past it
    backoff_base: float = 0.5  # first backoff without Retry-After; doubles per attempt, with jitter
    backoff_cap: float = 60.0
    mailbox_concurrency: int = 4  # Outlook: 4 concurrent requests per app and mailbox
    mailbox_requests: int = 10_000  # Outlook: requests per app and mailbox per mailbox_window_s; 0 = not kept
    mailbox_window_s: float = 600.0
    requests_per_second: float = 50.0  # global cap for this client; 0 = none
    burst: int | None = None  # token-bucket size; None = one second's worth
    timeout: float = 100.0
    connect_timeout: float = 30.0


@dataclass
class GraphResponse:
    """One answer: status, headers (lower-case names), body (JSON value, bytes, or None when empty).

    ``error`` is set only on ``$batch`` item results (direct calls raise instead).
    """

    status: int
    headers: dict[str, str]
    body: Any = None
    error: SinkError | None = None
    content: bytes = b""  # the body's bytes as received (a download's content, whatever its type)

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    @property
    def request_id(self) -> str | None:
        return self.headers.get("request-id")

    def raise_for_error(self) -> GraphResponse:
        if self.error is not None:
            raise self.error
        return self


@dataclass
class GraphStats:
    """Counters for the summary, the benchmark and tests."""

    requests: int = 0  # HTTP exchanges (a $batch is one)
    writes: int = 0  # write requests sent (POST, PUT, PATCH, DELETE; each $batch item; each upload chunk)
    retries: int = 0
    throttled: int = 0  # 429 answers, batch items included
    wait_seconds: float = 0.0  # slept before retries
    peak_in_flight: dict[str, int] = field(default_factory=dict)  # per mailbox


# -- error translation ----------------------------------------------------------------------------------------
def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: ``5``, ``2.128`` (Graph sends fractions) or an HTTP-date."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _error_fields(body: Any, status: int) -> tuple[str, str, str | None]:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        inner = error.get("innerError") or error.get("innererror") or {}
        rid = inner.get("request-id") if isinstance(inner, dict) else None
        return str(error.get("code") or f"HTTP{status}"), str(error.get("message") or ""), rid
    if isinstance(error, str):  # OAuth-style {"error": "invalid_client", ...}
        return error, str(body.get("error_description") or ""), None
    return f"HTTP{status}", "", None


def classify(status: int, body: Any, headers: Mapping[str, str], where: str = "") -> SinkError | None:
    """The error an answer stands for, or None for success (1xx-3xx).

    ``headers`` must be case-insensitive or lower-case (httpx.Headers, or batch item headers as
    normalised by this module).
    """
    if status < 400:
        return None
    code, message, inner_rid = _error_fields(body, status)
    rid = headers.get("request-id") or headers.get("client-request-id") or inner_rid
    if status in TRANSIENT_STATUS:
        # 429 and 424 were not carried out; any 5xx may hide a committed write.
        return TransientGraphError(status, code, message, rid, where,
                                   retry_after=parse_retry_after(headers.get("retry-after")),
                                   maybe_committed=status not in (424, 429))
    if status == 401 or status == 507 or code in FATAL_CODES or (status == 403 and code in FATAL_403_CODES):
        return FatalGraphError(status, code, message, rid, where)
    return PermanentGraphError(status, code, message, rid, where)


def transport_error(exc: httpx.HTTPError, where: str = "") -> SinkError:
    """An httpx exception as a SinkError: network trouble is transient, a bad URL fatal, the rest permanent."""
    name, message = type(exc).__name__, str(exc) or type(exc).__name__
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return TransientGraphError(0, name, message, None, where, maybe_committed=False)  # never sent
    if isinstance(exc, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)):
        return TransientGraphError(0, name, message, None, where, maybe_committed=True)
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return FatalGraphError(0, name, message, None, where)
    return PermanentGraphError(0, name, message, None, where)


# -- paths ----------------------------------------------------------------------------------------------------
@lru_cache(maxsize=4096)  # the same mailbox and folder paths, message after message
def graph_path(*segments: str) -> str:
    """``/users/jane%40acme.example/messages/AAMk%3D``: each segment percent-encoded (``@``, ``=``, ``/``...)."""
    return "/" + "/".join(quote(str(s), safe="") for s in segments)


@lru_cache(maxsize=4096)
def mailbox_of(path: str) -> str | None:
    """The mailbox a ``/users/{id}/...`` path works on (lower-case), for the per-mailbox limit."""
    m = _USERS.match(path)
    return unquote(m.group(1)).lower() if m else None


def _redact(url: str) -> str:
    """A URL fit for logs and errors: no query string (upload URLs carry their token there)."""
    parts = urlsplit(url)
    return parts.path if not parts.scheme else f"{parts.scheme}://{parts.netloc}{parts.path}"


class _RedactUrls(logging.Filter):
    """httpx logs every request's full URL at INFO; upload URLs would leak their ``authtoken`` query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(_redact(str(a)) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


if not any(isinstance(f, _RedactUrls) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_RedactUrls())


# -- credentials ----------------------------------------------------------------------------------------------
def credential_for(target: Target, environ: Mapping[str, str] | None = None) -> Any:
    """The azure-identity credential a Microsoft 365 target asks for (ConfigError naming what is missing).

    Secrets come from environment variables named in the job; their values never appear in messages.
    """
    env = os.environ if environ is None else environ
    if target.auth == "client_secret":
        name = target.client_secret_env
        secret = env.get(name) if name else None
        if not secret:
            raise ConfigError(f"target: the client secret is read from the environment variable {name}, "
                              "which is not set or empty")
        from azure.identity.aio import ClientSecretCredential
        return ClientSecretCredential(str(target.tenant_id), str(target.client_id), secret)
    if target.auth == "certificate":
        password = None
        if target.certificate_password_env:
            password = env.get(target.certificate_password_env)
            if password is None:
                raise ConfigError(f"target: the certificate password is read from the environment variable "
                                  f"{target.certificate_password_env}, which is not set")
        if not target.certificate or not os.path.isfile(target.certificate):
            raise ConfigError(f"target: certificate file {target.certificate!r} not found")
        from azure.identity.aio import CertificateCredential
        return CertificateCredential(str(target.tenant_id), str(target.client_id),
                                     certificate_path=target.certificate, password=password)
    if target.auth == "device_code":
        from azure.identity import DeviceCodeCredential  # no async variant exists; run in a thread
        return DeviceCodeCredential(client_id=target.client_id, tenant_id=target.tenant_id)
    raise ConfigError(f"target: auth = {target.auth!r} has no credential")


class _StaticToken:
    refreshable = False

    def __init__(self, token: str) -> None:
        self._token = token

    async def get(self) -> str:
        return self._token

    def invalidate(self, token: str) -> None:
        pass

    async def aclose(self) -> None:
        pass


class _CredentialToken:
    """Bearer tokens from an azure-identity credential (sync or async), cached until near expiry."""

    refreshable = True
    MARGIN = 300.0

    def __init__(self, credential: Any, scopes: tuple[str, ...], owned: bool) -> None:
        self._credential, self._scopes, self._owned = credential, scopes, owned
        self._token: Any = None
        self._lock = asyncio.Lock()

    def _fresh(self) -> str | None:
        token = self._token
        return token.token if token is not None and token.expires_on - time.time() > self.MARGIN else None

    async def get(self) -> str:
        if (token := self._fresh()) is not None:
            return token
        async with self._lock:
            if (token := self._fresh()) is not None:
                return token
            get_token = self._credential.get_token
            try:
                if inspect.iscoroutinefunction(get_token):
                    result = await get_token(*self._scopes)
                else:  # a sync credential (device code) blocks: keep it off the event loop
                    result = await asyncio.to_thread(get_token, *self._scopes)
            except Exception as exc:  # azure-identity's ClientAuthenticationError and friends
                # azure-identity's messages name the tenant, the app and the AADSTS code, never the secret
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                raise FatalGraphError(401, "AuthenticationFailed",
                                      f"could not get a token: {type(exc).__name__}: {first}") from exc
            self._token = result
            return result.token

    def invalidate(self, token: str) -> None:
        if self._token is not None and self._token.token == token:
            self._token = None

    async def aclose(self) -> None:
        close = getattr(self._credential, "close", None) if self._owned else None
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result


# -- limits ---------------------------------------------------------------------------------------------------
class TokenBucket:
    """A global requests-per-second cap; waiters are served in order."""

    def __init__(self, rate: float, burst: int | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.capacity = float(burst if burst else max(1.0, rate))
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()
        self._lock = asyncio.Lock()

    async def take(self, n: int = 1) -> None:
        if self.rate <= 0:
            return
        left = float(n)
        async with self._lock:
            while left > 0:  # more than the bucket holds (a $batch of 20 under a cap of 10/s): in bucketfuls
                need = min(left, self.capacity)
                now = self.clock()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= need:
                    self.tokens -= need
                    left -= need
                    continue
                await asyncio.sleep((need - self.tokens) / self.rate)


class MailboxWindow:
    """Outlook's per-mailbox request limit kept on our side: at most ``limit`` requests in any ``window`` s.

    Graph counts throttled requests too (graph-semantics §8.1), so a client that finds the limit through
    429s fills the window with its own rejected requests: a ``$batch`` of 20 sent into a window with room
    for one is 19 rejections that each hold a place for another ``window`` seconds, and the retries after
    ``Retry-After`` (which promises room for one) do it again.  Measured against the emulator with the
    limit scaled down, that kept a migration at about a quarter of what the limit allows.  So each
    request is entered here before it is sent (a ``$batch`` with each of its items for their mailboxes)
    and stays counted until ``window`` seconds after its answer arrived: Graph counted it when it came
    in, earlier, so our count never ends before Graph's, whatever the latency.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._used: dict[str, int] = defaultdict(int)  # in flight + answered within the window
        self._answered: dict[str, deque[tuple[float, int]]] = defaultdict(deque)

    async def enter(self, counts: Mapping[str, int]) -> None:
        """Wait until every mailbox of ``counts`` has room for its requests, and count them."""
        if self.limit <= 0:
            return
        entered: list[tuple[str, int]] = []
        try:
            for key, n in counts.items():
                n = min(n, self.limit)
                answered = self._answered[key]
                while True:
                    now = self.clock()
                    while answered and answered[0][0] <= now - self.window:
                        self._used[key] -= answered.popleft()[1]
                    if self._used[key] + n <= self.limit:
                        self._used[key] += n
                        entered.append((key, n))
                        break
                    # the oldest answered request leaves the window then; all in flight: look again soon
                    await asyncio.sleep(answered[0][0] + self.window - now if answered else 0.05)
        except BaseException:  # cancelled while waiting for a second mailbox: nothing was sent
            for key, n in entered:
                self._used[key] -= n
            raise

    def leave(self, counts: Mapping[str, int]) -> None:
        """The answer (or failure) of requests counted by :meth:`enter` arrived: their window starts now."""
        if self.limit <= 0:
            return
        now = self.clock()
        for key, n in counts.items():
            self._answered[key].append((now, min(n, self.limit)))


class MailboxLimiter:
    """At most ``limit`` requests in flight per mailbox; a ``$batch`` may hold several slots at once."""

    def __init__(self, limit: int, stats: GraphStats) -> None:
        self.limit = limit
        self.stats = stats
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._multi: dict[str, asyncio.Lock] = {}
        self.in_flight: dict[str, int] = defaultdict(int)

    @asynccontextmanager
    async def hold(self, weights: Mapping[str, int]) -> AsyncIterator[None]:
        held: list[str] = []
        try:
            for key in sorted(weights):  # one order for everyone: no deadlock between batches
                n = max(1, min(weights[key], self.limit))
                slots = self._slots.setdefault(key, asyncio.Semaphore(self.limit))
                if n == 1:
                    await slots.acquire()
                    held.append(key)
                else:  # several slots: one multi-taker at a time per mailbox, so two never starve each other
                    async with self._multi.setdefault(key, asyncio.Lock()):
                        for _ in range(n):
                            await slots.acquire()
                            held.append(key)
            for key in held:
                self.in_flight[key] += 1
                if self.in_flight[key] > self.stats.peak_in_flight.get(key, 0):
                    self.stats.peak_in_flight[key] = self.in_flight[key]
            yield
        finally:
            for key in held:
                self._slots[key].release()
                self.in_flight[key] = max(0, self.in_flight[key] - 1)


# -- the client -----------------------------------------------------------------------------------------------
class _ItemsToRetry(TransientGraphError):
    """Internal: some $batch items (``ids``) answered transiently and may be sent again."""

    ids: list[str] = []


class PoolsByMailbox(httpx.AsyncBaseTransport):
    """The Graph client's innermost transport: several HTTP connection pools, each mailbox's requests always in
    the same one (the mailbox named by the request's ``POOL_KEY`` extension; others in the first pool).

    httpcore's pool looks at every connection it holds each time a request comes or an answer is read: whether
    it expired, whether the server closed it (a ``poll()`` through anyio for each idle one), and it counts the
    idle connections once per idle connection.  Over HTTP/1.1 a pool holds a connection per request in flight:
    with many mailboxes at up to four requests each, one pool of 40 connections made a request cost 5.6 ms of
    CPU instead of 2.1 with one connection, and 80 connections 12.2 ms (``POST /$batch`` to the emulator, a
    pool warmed to that size, then requests one at a time).  Mailboxes spread round-robin over ``pools`` pools
    keep each pool to a few mailboxes' connections; over HTTP/2 (Microsoft 365) that is a connection per pool.
    Pools are made when first needed.
    """

    def __init__(self, make_pool: Callable[[], httpx.AsyncBaseTransport], pools: int = 16) -> None:
        self._make_pool = make_pool
        self._pools: list[httpx.AsyncBaseTransport | None] = [None] * pools
        self._by_key: dict[str, int] = {}

    def pool_for(self, key: str) -> int:
        """The pool of a mailbox (``""``: the first): round-robin in order of first use."""
        if not key:
            return 0
        index = self._by_key.get(key)
        if index is None:
            index = self._by_key[key] = len(self._by_key) % len(self._pools)
        return index

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = self.pool_for(request.extensions.get(POOL_KEY) or "")
        pool = self._pools[index]
        if pool is None:
            pool = self._pools[index] = self._make_pool()
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools:
            if pool is not None:
                await pool.aclose()


class GraphClient:
    """Every Graph call of a run.  ``async with GraphClient(job.target) as graph: await graph.request(...)``.

    ``credential``: an azure-identity credential to use instead of the one the target describes (the
    caller keeps owning it); ``token``: a static bearer token (emulators; default for ``auth = "none"``);
    ``transport``: the innermost httpx transport of both HTTP clients (tests).
    """

    def __init__(self, target: Target, settings: GraphSettings | None = None, *, credential: Any = None,
                 token: str | None = None, transport: httpx.AsyncBaseTransport | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.target = target
        self.settings = s = settings or GraphSettings()
        self.base_url = target.graph_url.rstrip("/")
        self.stats = GraphStats()
        if token is not None:
            self._tokens: _StaticToken | _CredentialToken = _StaticToken(token)
        elif credential is not None:
            self._tokens = _CredentialToken(credential, SCOPES, owned=False)
        elif target.auth == "none":
            if not target.is_emulator:
                raise ConfigError("target: auth = \"none\" is only for an emulator; Microsoft 365 needs "
                                  "client_secret, certificate or device_code")
            self._tokens = _StaticToken(EMULATOR_TOKEN)
        else:
            self._tokens = _CredentialToken(credential_for(target, environ), SCOPES, owned=True)
        self._mailboxes = MailboxLimiter(s.mailbox_concurrency, self.stats)
        self._window = MailboxWindow(s.mailbox_requests, s.mailbox_window_s)
        self._bucket = TokenBucket(s.requests_per_second, s.burst)
        timeout = httpx.Timeout(s.timeout, connect=s.connect_timeout)
        # one TLS context (the same default trust as httpx's) for both clients: loading the CA bundle costs
        # about 50 ms of CPU each time.  An http:// target (an emulator) gets one that trusts no certificate:
        # an https URL it hands out fails verification rather than going unchecked.
        tls: ssl.SSLContext | bool = True
        if transport is None:
            tls = (httpx.create_ssl_context() if self.base_url.startswith("https://")
                   else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        self._tls = tls
        self._http = self._graph_http(timeout, transport, tls)
        self._upload = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False,
                                         headers={"User-Agent": USER_AGENT}, verify=tls)

    def _graph_http(self, timeout: httpx.Timeout, transport: httpx.AsyncBaseTransport | None,
                    tls: ssl.SSLContext | bool) -> httpx.AsyncClient:
        """msgraph-core's client with the part of its default middleware (graph-semantics §9.3) that does
        something for us: redirects (downloads; Authorization dropped on another host), ``%24`` to ``$`` in
        query parameter names, our User-Agent and Graph's telemetry headers.  Left out: the RetryHandler
        (§9.4: it retries POSTs; our retries are in this module and at item level, so it is not even in the
        chain, not merely set to 0), the URL-replace handler (``/users/TokenToReplace``: never ours) and the
        header and body inspection handlers (off unless asked for per request): each layer costs CPU on
        every request, about a tenth of a ``$batch``'s own."""
        from kiota_http.middleware import ParametersNameDecodingHandler, RedirectHandler, UserAgentHandler
        from kiota_http.middleware.options import RetryHandlerOption, UserAgentHandlerOption
        from msgraph_core import GraphClientFactory
        from msgraph_core.middleware import GraphTelemetryHandler

        user_agent = UserAgentHandlerOption(product_name="ISV|notes2m365|notes2m365", product_version=__version__)
        self._options = {
            # no RetryHandler in the chain; the option stays so that one added by a later SDK would not retry
            RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0, should_retry=False),
            UserAgentHandlerOption.get_key(): user_agent,
        }
        # as many idle connections kept as may be open (httpx keeps 20 of its 100): with many mailboxes in
        # flight over HTTP/1.1, every request beyond 20 at once otherwise opened a new connection
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        # a pool per group of mailboxes, unless the environment names a proxy: httpx sets proxies up (with
        # NO_PROXY) only when it makes the transport itself, and then there is one pool, as before
        self._pools: PoolsByMailbox | None = None
        if transport is None and not any(scheme != "no" for scheme in urllib.request.getproxies()):
            http2 = self.base_url.startswith("https://")
            transport = self._pools = PoolsByMailbox(
                lambda: httpx.AsyncHTTPTransport(verify=tls, http2=http2, limits=limits))
        client = httpx.AsyncClient(timeout=timeout, transport=transport, verify=tls, limits=limits,
                                   http2=self.base_url.startswith("https://") and transport is None)
        del client.headers["User-Agent"]  # the UserAgentHandler then writes exactly ours
        middleware = [RedirectHandler(), ParametersNameDecodingHandler(), UserAgentHandler(options=user_agent),
                      GraphTelemetryHandler()]
        return GraphClientFactory.create_with_custom_middleware(middleware, client=client)

    async def aclose(self) -> None:
        await self._http.aclose()
        if self._pools is not None:  # msgraph-core's transport does not pass aclose on to the one it wraps
            await self._pools.aclose()
        await self._upload.aclose()
        await self._tokens.aclose()

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- public calls ------------------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (relative to the target's graph_url, or an ``@odata.nextLink``)."""
        if path.startswith(("https://", "http://")):
            if not path.startswith(self.base_url + "/"):
                raise PermanentGraphError(0, "ForeignUrl", f"{_redact(path)} is not below {self.base_url}")
            return path
        return self.base_url + (path if path.startswith("/") else "/" + path)

    async def request(self, method: str, path: str, *, json: Any = None, content: bytes | None = None,
                      headers: Mapping[str, str] | None = None, params: Mapping[str, str] | None = None,
                      mailbox: str | None = None, idempotent: bool | None = None) -> GraphResponse:
        """One Graph call, retried here when that is safe; raises a SinkError otherwise.

        ``path`` is relative to the target's graph_url with segments already encoded (see
        :func:`graph_path`); ``mailbox`` defaults to the ``{id}`` of ``/users/{id}/...``.
        ``idempotent`` defaults to False for POST: see the module docstring before changing it.
        """
        method = method.upper()
        safe = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        url = self.url(path)
        key = mailbox.lower() if mailbox else mailbox_of(path if not path.startswith("http") else
                                                         path[len(self.base_url):])
        where = f"{method} {_redact(path)}"
        body = content
        extra = dict(headers or {})
        if json is not None:
            body = _dumps(json)
            extra.setdefault("Content-Type", "application/json")

        async def once() -> GraphResponse:
            return await self._graph_exchange(method, url, body, extra, params, {key: 1} if key else {}, 1, where)
        return await self._retrying(safe, where)(once)

    async def batch(self, requests: list[dict[str, Any]]) -> dict[str, GraphResponse]:
        """``POST /$batch`` of at most 20 requests; returns every id's response, ``error`` set when it failed.

        Items: ``{"id", "method", "url" (relative, like "/users/x/messages"), "body"?, "headers"?,
        "dependsOn"?, "idempotent"?}`` (``idempotent`` is ours and not sent; default by method).
        Items that fail transiently and may be re-sent (idempotent, or not carried out: 429/424) are sent
        again in a new batch after the longest ``Retry-After``, within the usual retry limits; the outer
        call is retried when transient only if every remaining item may be re-sent.  Never raises for an
        item; raises a SinkError when the batch as a whole fails.
        """
        items = _check_batch(requests)
        by_id = {item["id"]: item for item in items}
        results: dict[str, GraphResponse] = {}
        pending = [item["id"] for item in items]

        def resendable(exc: BaseException) -> bool:
            if isinstance(exc, _ItemsToRetry):
                return True
            return isinstance(exc, TransientGraphError) and (
                not exc.maybe_committed or all(_item_idempotent(by_id[i]) for i in pending))

        async def round_trip() -> None:
            nonlocal pending
            try:
                pending = await self._batch_round(by_id, pending, results)
            except _ItemsToRetry as exc:
                pending = exc.ids  # only these go again: the others are done, and a POST sent twice is a duplicate
                raise

        try:
            await self._retrying(True, "POST /$batch", predicate=resendable)(round_trip)
        except _ItemsToRetry:
            pass  # retries exhausted: the items keep their transient errors
        return {item["id"]: results[item["id"]] for item in items}

    async def put_chunk(self, upload_url: str, data: bytes, start: int, total: int, *,
                        mailbox: str | None = None) -> GraphResponse:
        """PUT one range to a pre-authenticated upload URL, without Authorization; retried (same range).

        200 with ``nextExpectedRanges`` for an interim chunk, 201 (Outlook, ``Location``) or 200/201
        (drives) for the last.  A retry after a lost answer may meet 416 (range already received) or
        404 (session completed): the caller then resumes from the session's state.
        """
        if not upload_url.startswith(("https://", "http://")):
            raise PermanentGraphError(0, "InvalidUploadUrl", "an upload URL must be absolute")
        end = start + len(data) - 1
        headers = {"Content-Range": f"bytes {start}-{end}/{total}", "Content-Type": "application/octet-stream"}
        where = f"PUT {_redact(upload_url)} bytes {start}-{end}/{total}"
        weights = {mailbox.lower(): 1} if mailbox else {}

        async def once() -> GraphResponse:
            async with self._mailboxes.hold(weights):
                await self._window.enter(weights)
                await self._bucket.take(1)
                self.stats.requests += 1
                self.stats.writes += 1
                try:
                    response = await self._upload.put(upload_url, content=data, headers=headers)
                except httpx.HTTPError as exc:
                    raise transport_error(exc, where) from exc
                finally:
                    self._window.leave(weights)
            return self._answer(response, where)
        return await self._retrying(True, where)(once)

    async def pages(self, path: str, params: Mapping[str, str] | None = None, *,
                    headers: Mapping[str, str] | None = None, mailbox: str | None = None) -> AsyncIterator[Any]:
        """Every element of a collection's ``value``, following ``@odata.nextLink`` page after page."""
        response = await self.request("GET", path, params=params or {}, headers=headers, mailbox=mailbox)
        while True:
            if not isinstance(response.body, dict) or not isinstance(response.body.get("value", []), list):
                raise PermanentGraphError(response.status, "UnexpectedResponse",
                                          "a collection page that is not a JSON object with a value array",
                                          response.request_id, f"GET {_redact(path)}")
            for item in response.json.get("value", []):
                yield item
            link = response.json.get("@odata.nextLink")
            if not link:
                return
            response = await self.request("GET", link, headers=headers, mailbox=mailbox)

    async def upload_status(self, upload_url: str) -> GraphResponse:
        """``GET {uploadUrl}`` of a drive upload session, without Authorization (§6): its
        ``nextExpectedRanges`` say where to go on after an interruption.  Retried (a read)."""
        if not upload_url.startswith(("https://", "http://")):
            raise PermanentGraphError(0, "InvalidUploadUrl", "an upload URL must be absolute")
        where = f"GET {_redact(upload_url)}"

        async def once() -> GraphResponse:
            await self._bucket.take(1)
            self.stats.requests += 1
            try:
                response = await self._upload.get(upload_url)
            except httpx.HTTPError as exc:
                raise transport_error(exc, where) from exc
            return self._answer(response, where)
        return await self._retrying(True, where)(once)

    # -- machinery ---------------------------------------------------------------------------------------------
    def _retrying(self, idempotent: bool, where: str,
                  predicate: Callable[[BaseException], bool] | None = None) -> AsyncRetrying:
        s = self.settings

        def may_retry(exc: BaseException) -> bool:
            return isinstance(exc, TransientGraphError) and (idempotent or not exc.maybe_committed)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.upcoming_sleep
            self.stats.retries += 1
            self.stats.wait_seconds += wait
            what = f"{exc.status} {exc.code}" if isinstance(exc, SinkError) and exc.status else \
                getattr(exc, "code", type(exc).__name__)
            log.info("%s: %s; attempt %d of %d in %.3f s", where, what, state.attempt_number + 1,
                     s.max_attempts, wait)

        return AsyncRetrying(retry=retry_if_exception(predicate or may_retry),
                             stop=stop_after_attempt(s.max_attempts) | stop_before_delay(s.max_retry_time),
                             wait=self._wait, before_sleep=before_sleep, reraise=True)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientGraphError) and exc.retry_after is not None:
            return exc.retry_after
        delay = min(self.settings.backoff_cap, self.settings.backoff_base * 2 ** (state.attempt_number - 1))
        return delay / 2 + random.uniform(0, delay / 2)

    async def _graph_exchange(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
                              params: Mapping[str, str] | None, weights: Mapping[str, int], cost: int,
                              where: str, counts: Mapping[str, int] | None = None,
                              writes: int | None = None) -> GraphResponse:
        """One attempt through the middleware: limits, bearer token (refreshed once on 401), classification.

        ``weights``: concurrency slots per mailbox; ``counts``: requests per mailbox for the request window
        (a ``$batch``'s items; default ``weights``); ``writes``: write requests it carries (default: 1 for a
        write method, the non-GET items of a ``$batch`` body)."""
        counts = weights if counts is None else counts
        async with self._mailboxes.hold(weights):
            for refresh in (False, True):
                await self._window.enter(counts)
                try:
                    await self._bucket.take(cost)
                    token = await self._tokens.get()
                    request = self._http.build_request(
                        method, url, content=body, params=params,
                        headers={**headers, "Authorization": f"Bearer {token}"},
                        extensions={_REQUEST_OPTIONS_KEY: self._options,
                                    POOL_KEY: next(iter(counts), "")})
                    self.stats.requests += 1
                    if method not in ("GET", "HEAD"):
                        self.stats.writes += self._writes_in(url, body) if writes is None else writes
                    try:
                        response = await self._http.send(request)
                    except httpx.HTTPError as exc:
                        raise transport_error(exc, where) from exc
                finally:
                    self._window.leave(counts)
                if response.status_code != 401 or refresh or not self._tokens.refreshable:
                    break
                log.info("%s: 401; getting a new token and trying once more", where)
                self._tokens.invalidate(token)
        return self._answer(response, where)

    def _writes_in(self, url: str, body: bytes | None) -> int:
        if not url.endswith("/$batch"):
            return 1
        try:
            items = _loads(body or b"{}").get("requests", [])
        except ValueError:
            return 1
        return sum(1 for item in items if str(item.get("method", "")).upper() not in ("GET", "HEAD"))

    def _answer(self, response: httpx.Response, where: str) -> GraphResponse:
        body = _decode_body(response.headers.get("content-type", ""), response.content)
        if response.status_code == 429:
            self.stats.throttled += 1
        error = classify(response.status_code, body, response.headers, where)
        if error is not None:
            raise error
        return GraphResponse(response.status_code, {k.lower(): v for k, v in response.headers.items()}, body,
                             content=response.content)

    async def _batch_round(self, by_id: dict[str, dict[str, Any]], pending: list[str],
                           results: dict[str, GraphResponse]) -> list[str]:
        """Send the pending items once; record their results; return (by raising) those to send again."""
        sending = set(pending)
        payload = []
        for item_id in pending:
            item = {k: v for k, v in by_id[item_id].items() if k != "idempotent"}
            deps = [d for d in item.get("dependsOn") or () if d in sending]  # done ones need no waiting for
            if deps:
                item["dependsOn"] = deps
            else:
                item.pop("dependsOn", None)
            payload.append(item)
        sequential = any("dependsOn" in item for item in payload)
        counts: dict[str, int] = defaultdict(int)
        for item in payload:
            if (key := mailbox_of(item["url"])) is not None:
                counts[key] += 1
        # Outlook runs up to four items of a parallel batch at once, one at a time with dependsOn (§7).
        weights = {k: 1 if sequential else n for k, n in counts.items()}
        writes = sum(1 for item in payload if item["method"] not in ("GET", "HEAD"))
        body = _dumps({"requests": payload})
        response = await self._graph_exchange("POST", self.url("/$batch"), body,
                                              {"Content-Type": "application/json"}, None, weights, len(payload),
                                              "POST /$batch", counts=counts, writes=writes)
        answers = {str(a.get("id")): a for a in response.json.get("responses", []) if isinstance(a, dict)}
        again: list[str] = []
        for item_id in pending:
            item = by_id[item_id]
            answer = answers.get(item_id)
            if answer is None:
                error: SinkError = TransientGraphError(0, "MissingBatchResponse", "no answer for this item",
                                                       response.request_id, _item_where(item))
                results[item_id] = GraphResponse(0, {}, None, error)
            else:
                headers = {str(k).lower(): str(v) for k, v in (answer.get("headers") or {}).items()}
                status = int(answer.get("status", 0))
                item_body = _batch_body(headers.get("content-type", ""), answer.get("body"))
                if status == 429:
                    self.stats.throttled += 1
                results[item_id] = GraphResponse(status, headers, item_body, None if status < 400 else
                                                 classify(status, item_body, headers, _item_where(item)))
            error_ = results[item_id].error
            if isinstance(error_, TransientGraphError) and (_item_idempotent(item) or not error_.maybe_committed):
                again.append(item_id)
        # a 424 is worth sending again only with the dependency it waited for
        while True:
            keep = set(again)
            stale = [i for i in again if results[i].status == 424
                     and not any(d in keep for d in by_id[i].get("dependsOn") or ())]
            if not stale:
                break
            again = [i for i in again if i not in stale]
        if again:
            waits = [e.retry_after for i in again if isinstance(e := results[i].error, TransientGraphError)
                     and e.retry_after is not None]
            retry = _ItemsToRetry(0, "BatchItemsToRetry", f"{len(again)} item(s) to send again", None,
                                  "POST /$batch", retry_after=max(waits) if waits else None, maybe_committed=False)
            retry.ids = again
            raise retry
        return again


# -- helpers ---------------------------------------------------------------------------------------------------
_DUMPS_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS  # those raise, as json's do


def _dumps(value: Any) -> bytes:
    """A request body: compact JSON, UTF-8.  orjson (a ``$batch`` of 20 messages in a tenth of the time); the
    standard library for what orjson refuses (keys that are not strings, integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=_DUMPS_OPTIONS)
    except TypeError:
        return jsonlib.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _loads(raw: bytes) -> Any:
    """JSON from Graph: orjson, or the standard library for what orjson refuses (UTF-16, NaN...); raises
    ValueError when neither can read it."""
    try:
        return orjson.loads(raw)
    except ValueError:
        return jsonlib.loads(raw)


def _decode_body(content_type: str, raw: bytes) -> Any:
    if not raw:
        return None
    if "json" in content_type.lower():
        try:
            return _loads(raw)
        except ValueError:
            return raw
    return raw


def _batch_body(content_type: str, body: Any) -> Any:
    """A batch item's body: JSON as is; other content arrives base64-encoded (json-batching.md)."""
    if isinstance(body, str) and "json" not in content_type.lower():
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return body
    return body


def _item_where(item: Mapping[str, Any]) -> str:
    """How errors name a batch item (only built for items that failed)."""
    return f"{item['method'].upper()} {_redact(item['url'])} (batch item {item['id']})"


def _item_idempotent(item: Mapping[str, Any]) -> bool:
    flag = item.get("idempotent")
    return bool(flag) if flag is not None else str(item.get("method", "")).upper() in IDEMPOTENT_METHODS


def _check_batch(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not requests:
        raise ValueError("a $batch needs at least one request")
    if len(requests) > BATCH_MAX:
        raise ValueError(f"a $batch holds at most {BATCH_MAX} requests, not {len(requests)}")
    items, seen = [], set()
    for raw in requests:
        item = dict(raw)
        item_id = str(item.get("id", ""))
        if not item_id or item_id in seen:
            raise ValueError(f"$batch request ids must be unique and non-empty: {item_id!r}")
        for dep in item.get("dependsOn") or ():
            if dep not in seen:
                raise ValueError(f"$batch request {item_id}: dependsOn {dep!r} must name an earlier request")
        seen.add(item_id)
        item["id"] = item_id
        item["method"] = str(item["method"]).upper()
        url = str(item["url"])
        item["url"] = url if url.startswith("/") else "/" + url
        if item.get("body") is not None:
            headers = dict(item.get("headers") or {})
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
            item["headers"] = headers
        items.append(item)
    return items

