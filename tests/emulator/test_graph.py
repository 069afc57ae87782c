"""notes2m365.graph against the in-process emulator (and httpx.MockTransport where headers must be seen).

What is pinned down: errors translated once (transient / permanent with Graph's code / fatal), retries
that honour fractional Retry-After, no blind retry of a POST whose answer was lost, 429'd POSTs retried
without duplicates, at most 4 requests in flight per mailbox, $batch with per-item results and camelCase
dependsOn, upload chunks without Authorization, the SDK's RetryHandler off, the decorated User-Agent.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from notes2m365.emulator import EmulatorConfig, FaultConfig, ThrottleConfig
from notes2m365.errors import (ConfigError, FatalGraphError, PermanentGraphError, SinkError,
                               TransientGraphError)
from notes2m365.graph import (POOL_KEY, USER_AGENT, GraphClient, GraphSettings, PoolsByMailbox, classify, graph_path,
                              mailbox_of, parse_retry_after, transport_error)
from notes2m365.job import Target

from .conftest import JANE, JOHN

FAST = GraphSettings(backoff_base=0.01, backoff_cap=0.05, max_retry_time=20)
GUID = "00000000-0000-0000-0000-000000000001"


def sync(test):
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))
    return wrapper


def client(emulator, settings: GraphSettings = FAST) -> GraphClient:
    return GraphClient(Target(graph_url=emulator.base_url, auth="none"), settings)


def log_entries(emulator, **match):
    return [e for e in emulator.emulator.requests.entries if all(e.get(k) == v for k, v in match.items())]


# -- translation ------------------------------------------------------------------------------------------
def test_retry_after_int_fraction_and_http_date():
    now = datetime(2024, 3, 5, 9, 0, 0, tzinfo=UTC)
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("2.128") == pytest.approx(2.128)
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None and parse_retry_after("-1") is None


@pytest.mark.parametrize("status,code,kind", [
    (429, "TooManyRequests", TransientGraphError), (503, "ServiceUnavailable", TransientGraphError),
    (504, "GatewayTimeout", TransientGraphError), (500, "InternalServerError", TransientGraphError),
    (502, "BadGateway", TransientGraphError), (401, "InvalidAuthenticationToken", FatalGraphError),
    (403, "ErrorAccessDenied", FatalGraphError), (403, "ErrorSendAsDenied", PermanentGraphError),
    (404, "ErrorItemNotFound", PermanentGraphError), (409, "nameAlreadyExists", PermanentGraphError),
    (400, "ErrorFolderExists", PermanentGraphError), (413, "ErrorMessageSizeExceeded", PermanentGraphError),
])
def test_every_status_class_maps_to_one_category(status, code, kind):
    body = {"error": {"code": code, "message": "m", "innerError": {"request-id": "r1"}}}
    error = classify(status, body, httpx.Headers({"Retry-After": "2.5"}), "GET /x")
    assert type(error) is kind and (error.status, error.code, error.request_id) == (status, code, "r1")
    if kind is TransientGraphError:
        assert error.retry_after == 2.5 and error.maybe_committed is (status != 429)
    assert classify(201, None, {}) is None


@pytest.mark.parametrize("exc,kind,committed", [
    (httpx.ConnectError("refused"), TransientGraphError, False),
    (httpx.ConnectTimeout("slow"), TransientGraphError, False),
    (httpx.ReadTimeout("slow"), TransientGraphError, True),
    (httpx.RemoteProtocolError("peer closed"), TransientGraphError, True),
    (httpx.ReadError("reset"), TransientGraphError, True),
    (httpx.UnsupportedProtocol("ftp"), FatalGraphError, None),
    (httpx.TooManyRedirects("loop"), PermanentGraphError, None),
])
def test_every_httpx_exception_maps_to_one_category(exc, kind, committed):
    error = transport_error(exc, "GET /x")
    assert type(error) is kind and error.status == 0
    if committed is not None:
        assert error.maybe_committed is committed


def test_paths_encode_segments_and_name_the_mailbox():
    assert graph_path("users", JANE, "messages", "AAMk_a-b=") == "/users/jane.doe%40acme.example/messages/AAMk_a-b%3D"
    assert mailbox_of("/users/Jane.Doe%40acme.example/messages") == JANE
    assert mailbox_of("/users/x") is None and mailbox_of("/sites/s/lists") is None


# -- the wire: headers, SDK retries off, token refresh (MockTransport) ------------------------------------
class Recorder:
    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@sync
async def test_user_agent_bearer_on_graph_calls_and_neither_token_nor_sdk_retry_on_chunks():
    rec = Recorder(httpx.Response(200, json={"id": "u1"}))
    async with GraphClient(Target(graph_url="http://localhost:9/v1.0"), FAST,
                           transport=httpx.MockTransport(rec)) as graph:
        await graph.request("POST", graph_path("users", JANE, "mailFolders"), json={"displayName": "ü"})
        await graph.put_chunk("http://localhost:9/_upload/s?authtoken=t", b"abc", 0, 3)
    call, chunk = rec.requests
    assert call.headers["user-agent"] == USER_AGENT == "ISV|notes2m365|notes2m365/0.1.0"
    assert call.headers["authorization"].startswith("Bearer ") and call.headers["content-type"] == "application/json"
    assert str(call.url) == "http://localhost:9/v1.0/users/jane.doe%40acme.example/mailFolders"
    assert json.loads(call.content) == {"displayName": "ü"}
    assert "authorization" not in chunk.headers and chunk.headers["user-agent"] == USER_AGENT
    assert chunk.headers["content-range"] == "bytes 0-2/3"


@sync
async def test_the_sdk_retry_handler_is_off_so_attempts_do_not_multiply():
    rec = Recorder(httpx.Response(503, json={"error": {"code": "ServiceUnavailable", "message": "busy"}}))
    settings = GraphSettings(max_attempts=3, backoff_base=0.001)
    async with GraphClient(Target(graph_url="http://localhost:9/v1.0"), settings,
                           transport=httpx.MockTransport(rec)) as graph:
        with pytest.raises(TransientGraphError) as info:
            await graph.request("GET", "/users")
    assert info.value.code == "ServiceUnavailable" and len(rec.requests) == 3
    assert all("retry-attempt" not in r.headers for r in rec.requests)
    assert graph.stats.retries == 2


@sync
async def test_the_middleware_chain_has_no_retry_handler_and_still_decodes_dollar_parameters():
    rec = Recorder(httpx.Response(200, json={"value": []}))
    async with GraphClient(Target(graph_url="http://localhost:9/v1.0"), FAST,
                           transport=httpx.MockTransport(rec)) as graph:
        await graph.request("GET", "/users/jane.doe@acme.example/mailFolders", params={"$top": "5"})
        chain, names = graph._http._transport.pipeline._first_middleware, []
        while chain is not None:
            names.append(type(chain).__name__)
            chain = getattr(chain, "next", None)
    assert names == ["RedirectHandler", "ParametersNameDecodingHandler", "UserAgentHandler", "GraphTelemetryHandler"]
    (call,) = rec.requests
    assert call.url.query == b"$top=5" and call.headers["user-agent"] == USER_AGENT


@sync
async def test_each_mailbox_keeps_to_one_connection_pool_and_the_mailboxes_are_spread_over_them():
    made: list[Recorder] = []

    def make_pool() -> httpx.MockTransport:
        made.append(Recorder(httpx.Response(200, json={})))
        return httpx.MockTransport(made[-1])

    pools = PoolsByMailbox(make_pool, pools=3)
    async with httpx.AsyncClient(transport=pools) as http:
        for mailbox in ["a@x", "b@x", "a@x", "c@x", "d@x", "", "b@x"]:
            await http.get("http://graph.test/v1.0/x", extensions={POOL_KEY: mailbox} if mailbox else {})
    assert len(made) == 3  # made when first needed, never more than asked for
    seen = [[r.extensions.get(POOL_KEY, "") for r in pool.requests] for pool in made]
    assert seen == [["a@x", "a@x", "d@x", ""], ["b@x", "b@x"], ["c@x"]]  # round-robin; no mailbox: the first


@sync
async def test_graph_requests_name_their_mailbox_for_the_connection_pools(emulator):
    async with client(emulator) as graph:
        pools = graph._http._transport.transport  # innermost, under msgraph-core's middleware
        assert isinstance(pools, PoolsByMailbox)
        await graph.request("GET", f"/users/{JANE}/mailFolders/inbox")
        await graph.batch([{"id": "1", "method": "GET", "url": f"/users/{JOHN}/mailFolders/inbox"}])
        await graph.request("GET", f"/users/{JANE}/mailFolders/inbox")
    assert pools._by_key == {mailbox_of(f"/users/{JANE}/x"): 0, mailbox_of(f"/users/{JOHN}/x"): 1}


@sync
async def test_closing_the_client_closes_every_connection_pool(emulator):
    graph = client(emulator)
    pools = graph._pools
    await graph.request("GET", f"/users/{JANE}/mailFolders/inbox")
    await graph.request("GET", f"/users/{JOHN}/mailFolders/inbox")
    made = [pool for pool in pools._pools if pool is not None]
    assert len(made) == 2 and all(pool._pool.connections for pool in made)  # a kept-alive connection each
    await graph.aclose()
    assert not any(pool._pool.connections for pool in made)


@sync
async def test_a_proxy_named_by_the_environment_carries_the_graph_requests(monkeypatch):
    """httpx sets up the environment's proxies only when it makes its transport itself: with one named, the
    client has no pools of its own (a request through them would bypass the proxy)."""
    seen: list[str] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n")[0].decode())
        body = b'{"value": []}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    async with server, GraphClient(Target(graph_url="http://graph.invalid/v1.0", auth="none"), FAST) as graph:
        assert graph._pools is None
        answer = await graph.request("GET", f"/users/{JANE}/mailFolders")
    assert answer.status == 200 and seen == [f"GET http://graph.invalid/v1.0/users/{JANE}/mailFolders HTTP/1.1"]


@sync
async def test_tls_verifies_certificates_and_an_http_target_trusts_none():
    async with GraphClient(Target(graph_url="https://graph.microsoft.com/v1.0"), token="t") as graph:
        assert graph._tls.verify_mode == ssl.CERT_REQUIRED and graph._tls.check_hostname
        assert graph._tls.cert_store_stats()["x509_ca"] > 0  # the CA bundle
    async with GraphClient(Target(graph_url="http://127.0.0.1:9/v1.0"), token="t") as graph:
        # no bundle loaded (50 ms of CPU saved); an https URL from such a target fails verification
        assert graph._tls.verify_mode == ssl.CERT_REQUIRED and graph._tls.check_hostname
        assert graph._tls.cert_store_stats()["x509_ca"] == 0


class FakeCredential:
    """What azure-identity's async credentials offer: ``await get_token(*scopes)`` and ``close()``."""

    def __init__(self) -> None:
        self.issued = 0
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: object):
        from azure.core.credentials import AccessToken
        self.issued += 1
        self.scopes.append(scopes)
        return AccessToken(f"token-{self.issued}", int(time.time()) + 3600)


@sync
async def test_401_refreshes_the_token_once_then_is_fatal():
    unauthorized = httpx.Response(401, json={"error": {"code": "InvalidAuthenticationToken", "message": "expired"}})
    ok = httpx.Response(200, json={"id": "u1"})
    rec = Recorder(unauthorized, ok, ok, unauthorized, unauthorized)
    credential = FakeCredential()
    target = Target(tenant_id=GUID, client_id=GUID, auth="client_secret", client_secret_env="UNUSED")
    async with GraphClient(target, FAST, credential=credential, transport=httpx.MockTransport(rec)) as graph:
        assert (await graph.request("GET", "/users/u1")).json == {"id": "u1"}
        assert credential.scopes[0] == ("https://graph.microsoft.com/.default",)
        await graph.request("GET", "/users/u1")  # cached: no new token
        with pytest.raises(FatalGraphError) as info:
            await graph.request("GET", "/users/u1")
    assert info.value.status == 401 and credential.issued == 3
    assert [r.headers["authorization"] for r in rec.requests] == [
        "Bearer token-1", "Bearer token-2", "Bearer token-2", "Bearer token-2", "Bearer token-3"]


def test_a_missing_client_secret_variable_is_named_and_no_value_is_shown():
    target = Target(tenant_id=GUID, client_id=GUID, auth="client_secret", client_secret_env="N2M_TEST_SECRET")
    with pytest.raises(ConfigError, match="N2M_TEST_SECRET"):
        GraphClient(target, environ={})
    with pytest.raises(ConfigError, match="only for an emulator"):
        GraphClient(Target(auth="none"))

    async def build_and_close():
        graph = GraphClient(target, environ={"N2M_TEST_SECRET": "s3cr3t-value"})
        assert "s3cr3t" not in repr(vars(graph))
        await graph.aclose()
    asyncio.run(build_and_close())


# -- against the emulator ---------------------------------------------------------------------------------
@sync
async def test_get_user_from_the_emulator(emulator):
    async with client(emulator) as graph:
        user = await graph.request("GET", graph_path("users", JANE))
    assert user.status == 200 and user.json["userPrincipalName"] == JANE and user.request_id
    assert log_entries(emulator)[-1]["path"] == f"/users/{JANE}"


@sync
async def test_404_and_409_are_permanent_with_graphs_code(emulator):
    async with client(emulator) as graph:
        with pytest.raises(PermanentGraphError) as info:
            await graph.request("GET", graph_path("users", JANE, "messages", "AAMkdoesnotexist="))
        assert info.value.status == 404 and info.value.code and info.value.request_id
        folders = graph_path("users", JANE, "mailFolders")
        await graph.request("POST", folders, json={"displayName": "Projects"})
        with pytest.raises(PermanentGraphError) as info:
            await graph.request("POST", folders, json={"displayName": "Projects"})
        assert (info.value.status, info.value.code) == (409, "ErrorFolderExists")
        assert graph.stats.retries == 0


@sync
async def test_429_with_fractional_retry_after_is_waited_for_and_retried(emulator, caplog):
    # SharePoint's budget: throttled requests are not charged, so one wait of Retry-After suffices.
    emulator.reset(EmulatorConfig(throttle=ThrottleConfig(sharepoint_units=2, sharepoint_window_s=1.5,
                                                          fractional_retry_after=True)))
    caplog.set_level(logging.INFO, logger="notes2m365.graph")
    site = graph_path("sites", "acme.sharepoint.com:/sites/teamroom:")
    async with client(emulator) as graph:
        await graph.request("GET", site)
        await graph.request("GET", site)
        started = time.monotonic()
        third = await graph.request("GET", site)
        elapsed = time.monotonic() - started
    assert third.status == 200 and graph.stats.throttled == 1 and graph.stats.retries == 1
    throttled = log_entries(emulator, status=429)
    assert len(throttled) == 1
    waited = graph.stats.wait_seconds
    assert waited != int(waited) and 0.5 < waited <= 1.5 and elapsed >= waited
    assert any("429 activityLimitReached" in r.message and f"{waited:.3f} s" in r.message for r in caplog.records)


@sync
async def test_transient_faults_on_gets_are_retried_until_success(emulator):
    emulator.reset(EmulatorConfig(faults=FaultConfig(fault_rate=0.5, seed=7, kinds=("503", "504", "reset"))))
    async with client(emulator) as graph:
        for user in (JANE, JOHN, JANE, JOHN):
            assert (await graph.request("GET", graph_path("users", user, "mailFolders"))).status == 200
    faults = [e["fault"] for e in log_entries(emulator) if e["fault"]]
    assert faults and graph.stats.retries == len(faults)


@pytest.mark.parametrize("kind", ["lost-504", "lost-reset"])
@sync
async def test_a_post_whose_answer_was_lost_is_not_retried(emulator, kind):
    emulator.reset(EmulatorConfig(faults=FaultConfig(fault_rate=1.0, seed=1, kinds=(kind,))))
    messages = graph_path("users", JANE, "mailFolders", "inbox", "messages")
    async with client(emulator) as graph:
        with pytest.raises(TransientGraphError) as info:
            await graph.request("POST", messages, json={"subject": "exactly once"})
        assert info.value.maybe_committed and graph.stats.retries == 0
        emulator.config.faults.fault_rate = 0
        listed = await graph.request("GET", messages)
    assert [m["subject"] for m in listed.json["value"]] == ["exactly once"]
    assert len(log_entries(emulator, method="POST")) == 1


@sync
async def test_posts_refused_with_429_are_retried_without_duplicates(emulator):
    """A 429 means Graph did not run the request: safe to send a POST again (here: over-eager client)."""
    emulator.reset(EmulatorConfig(faults=FaultConfig(latency_ms=100)))
    folders = graph_path("users", JANE, "mailFolders")
    async with client(emulator, GraphSettings(mailbox_concurrency=8, backoff_base=0.01)) as graph:
        await asyncio.gather(*(graph.request("POST", folders, json={"displayName": f"F{n}"}) for n in range(8)))
        assert graph.stats.throttled >= 1
        names = [f["displayName"] for f in (await graph.request("GET", folders, params={"$top": "100"})).json["value"]]
    assert sorted(n for n in names if n.startswith("F")) == [f"F{n}" for n in range(8)]


@sync
async def test_at_most_four_requests_in_flight_per_mailbox(emulator):
    emulator.reset(EmulatorConfig(faults=FaultConfig(latency_ms=100)))
    async with client(emulator) as graph:
        started = time.monotonic()
        answers = await asyncio.gather(*(graph.request("GET", graph_path("users", JANE, "mailFolders"))
                                         for _ in range(12)))
        elapsed = time.monotonic() - started
    assert all(a.status == 200 for a in answers)
    assert not log_entries(emulator, status=429) and graph.stats.retries == 0
    assert graph.stats.peak_in_flight == {JANE: 4} and elapsed >= 0.3


@sync
async def test_batch_gives_per_item_results_and_sends_depends_on(emulator):
    async with client(emulator) as graph:
        results = await graph.batch([
            {"id": "1", "method": "GET", "url": graph_path("users", JANE)},
            {"id": "2", "method": "GET", "url": graph_path("users", JANE, "messages", "AAMkmissing=")},
            {"id": "3", "method": "POST", "url": graph_path("users", JANE, "mailFolders"),
             "body": {"displayName": "Batched"}},
        ])
        assert [results[i].status for i in "123"] == [200, 404, 201]
        assert results["1"].json["userPrincipalName"] == JANE and results["3"].json["displayName"] == "Batched"
        assert isinstance(results["2"].error, PermanentGraphError) and results["2"].error.code
        assert results["1"].error is None
        sequenced = await graph.batch([
            {"id": "a", "method": "GET", "url": graph_path("users", JANE, "messages", "AAMkmissing=")},
            {"id": "b", "method": "GET", "url": graph_path("users", JANE), "dependsOn": ["a"]},
        ])
    assert sequenced["b"].status == 424  # Graph saw dependsOn (camelCase) and skipped b
    assert isinstance(sequenced["b"].error, SinkError) and graph.stats.retries == 0
    with pytest.raises(ValueError):
        await GraphClient(Target(graph_url=emulator.base_url)).batch(
            [{"id": str(n), "method": "GET", "url": "/users"} for n in range(21)])


@sync
async def test_put_chunk_completes_an_attachment_upload_session_without_a_token(emulator):
    data = bytes(range(256)) * 1600
    async with client(emulator) as graph:
        message = await graph.request("POST", graph_path("users", JANE, "messages"), json={"subject": "draft"})
        attachments = graph_path("users", JANE, "messages", message.json["id"], "attachments")
        session = await graph.request("POST", attachments + "/createUploadSession", json={
            "AttachmentItem": {"attachmentType": "file", "name": "big.bin", "size": len(data)}})
        url, answers = session.json["uploadUrl"], []
        for start in range(0, len(data), 163_840):
            answers.append(await graph.put_chunk(url, data[start:start + 163_840], start, len(data), mailbox=JANE))
        listed = await graph.request("GET", attachments)
    assert [a.status for a in answers] == [200, 200, 201] and "Attachments(" in answers[-1].headers["location"]
    assert answers[0].json["nextExpectedRanges"] == ["163840"]
    assert [(a["name"], a["size"]) for a in listed.json["value"]] == [("big.bin", len(data))]
    assert not log_entries(emulator, error="InvalidAudience")


@sync
async def test_httpx_request_logs_carry_no_upload_token(caplog):
    caplog.set_level(logging.INFO, logger="httpx")
    rec = Recorder(httpx.Response(200, json={}))
    async with GraphClient(Target(graph_url="http://localhost:9/v1.0"), FAST,
                           transport=httpx.MockTransport(rec)) as graph:
        await graph.put_chunk("http://localhost:9/_upload/s?authtoken=SECRET", b"abc", 0, 3)
    assert "HTTP Request: PUT http://localhost:9/_upload/s " in caplog.text
    assert "authtoken" not in caplog.text and "SECRET" not in caplog.text


def test_request_and_answer_json_fall_back_to_the_standard_library():
    """orjson encodes request bodies and decodes answers; what it refuses goes through json as before."""
    import math

    from notes2m365.graph import _decode_body, _dumps, _loads

    assert json.loads(_dumps({"a": [1, "é", None]})) == {"a": [1, "é", None]}
    assert json.loads(_dumps({1: 2**70})) == {"1": 2**70}  # a key that is not a string, a 70-bit integer
    with pytest.raises(TypeError):
        _dumps({"when": datetime(2024, 1, 1)})  # as json.dumps: not silently written as text
    assert math.isnan(_loads(b'{"x": NaN}')["x"])
    assert _loads('{"a": "é"}'.encode("utf-16")) == {"a": "é"}
    assert _decode_body("application/json; charset=utf-8", b"not json") == b"not json"
    assert _decode_body("application/json", b'{"id": "AAMk="}') == {"id": "AAMk="}
