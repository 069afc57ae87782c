"""The emulator's request pipeline: auth, routing, errors, tenant, persistence, request log, $batch,
throttling and fault injection."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from notes2m365.emulator import Emulator, EmulatorConfig, FaultConfig, ThrottleConfig
from notes2m365.errors import ConfigError

from .conftest import JANE, JOHN, error_code

U = f"/users/{JANE}"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- auth, routing, error shape ----------------------------------------------------------------------
def test_requests_without_a_bearer_token_get_401(anon):
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
        r = anon.get("/users", headers=headers)
        assert (r.status_code, error_code(r)) == (401, "InvalidAuthenticationToken")


def test_a_configured_token_is_the_only_one_accepted(emulator, anon):
    emulator.reset(EmulatorConfig(token="s3cret"))
    assert anon.get("/users", headers={"Authorization": "Bearer other"}).status_code == 401
    assert anon.get("/users", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_errors_have_graphs_json_shape(graph):
    r = graph.get("/users/nobody@acme.example")
    assert r.status_code == 404
    error = r.json()["error"]
    assert error["code"] == "Request_ResourceNotFound" and error["message"]
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    assert r.headers["request-id"] == error["innerError"]["request-id"]


def test_unknown_segments_are_400_and_wrong_methods_405(graph):
    r = graph.get("/users/x/nonsense")
    assert (r.status_code, error_code(r)) == (400, "BadRequest")
    r = graph.put("/users")
    assert r.status_code == 405


def test_paths_are_case_insensitive_and_tolerate_double_slashes(emulator, graph):
    assert graph.get(emulator.base_url + "//users/" + JANE).status_code == 200
    assert graph.get(f"/USERS/{JANE.upper()}/MAILFOLDERS/INBOX").status_code == 200


# -- tenant ----------------------------------------------------------------------------------------
def test_demo_tenant_users_and_sites(graph):
    users = {u["userPrincipalName"] for u in graph.get("/users").json()["value"]}
    assert {JANE, JOHN, "maria.garcia@acme.example", "peter.miller@acme.example", "ravi.kumar@acme.example"} <= users
    jane = graph.get(f"/users/{JANE}").json()
    assert graph.get(f"/users/{jane['id']}").json()["userPrincipalName"] == JANE
    names = {s["name"] for s in graph.get("/sites", params={"search": "*"}).json()["value"]}
    assert "teamroom" in names


def test_sites_by_path_id_and_root(graph):
    site = graph.get("/sites/acme.sharepoint.com:/sites/teamroom").json()
    assert site["webUrl"] == "https://acme.sharepoint.com/sites/teamroom"
    assert graph.get(f"/sites/{site['id']}").json()["id"] == site["id"]
    assert graph.get("/sites/acme.sharepoint.com:/sites/teamroom:").json()["id"] == site["id"]
    assert graph.get("/sites/root").json()["webUrl"] == "https://acme.sharepoint.com"
    r = graph.get("/sites/acme.sharepoint.com:/sites/nowhere")
    assert (r.status_code, error_code(r)) == (404, "itemNotFound")
    r = graph.get("/sites/contoso.sharepoint.com,00000000-0000-0000-0000-000000000000,x")
    assert (r.status_code, error_code(r)) == (404, "itemNotFound")


def test_site_search_by_term(graph):
    hits = graph.get("/sites", params={"search": "teamroom"}).json()["value"]
    assert sorted(s["name"] for s in hits) == ["teamroom", "teamroom-restricted"]
    assert [s["name"] for s in graph.get("/sites", params={"search": "archive"}).json()["value"]] == ["archive"]


def test_tenant_file_replaces_the_demo_tenant(emulator, graph, tmp_path):
    tenant = tmp_path / "tenant.toml"
    tenant.write_text('[tenant]\ndomain = "contoso.example"\nsharepoint_host = "contoso.sharepoint.com"\n'
                      '[[users]]\nuserPrincipalName = "ann.lee@contoso.example"\ndisplayName = "Ann Lee"\n'
                      '[[sites]]\npath = "/sites/hr"\ndisplayName = "HR"\n')
    emulator.reset(EmulatorConfig(tenant_file=str(tenant)))
    assert [u["userPrincipalName"] for u in graph.get("/users").json()["value"]] == ["ann.lee@contoso.example"]
    assert graph.get("/sites/contoso.sharepoint.com:/sites/hr").status_code == 200
    assert graph.get("/users/ann.lee@contoso.example/mailFolders/inbox").status_code == 200


@pytest.mark.parametrize("text,expected", [
    ("[[users]]\nuserPrincipalName = 3\n", "users[1]"),
    ("[[sites]]\npath = 'no-slash'\n", "sites[1].path"),
    ("users = [", "not a valid tenant file"),
])
def test_bad_tenant_files_name_the_file_and_entry(tmp_path, text, expected):
    tenant = tmp_path / "t.toml"
    tenant.write_text(text)
    with pytest.raises(ConfigError) as info:
        Emulator(EmulatorConfig(tenant_file=str(tenant)))
    assert str(tenant) in str(info.value) and expected in str(info.value)


def test_state_survives_a_restart_under_a_data_dir(tmp_path):
    first = Emulator(EmulatorConfig(data_dir=str(tmp_path)))
    req = _direct(first, "POST", f"{U}/mailFolders", {"displayName": "Kept"})
    assert req.status == 201
    first.close()
    second = Emulator(EmulatorConfig(data_dir=str(tmp_path)))
    folders = _direct(second, "GET", f"{U}/mailFolders?$top=100").body["value"]
    assert [f["displayName"] for f in folders].count("Kept") == 1
    users = _direct(second, "GET", "/users").body["value"]
    assert len(users) == len({u["id"] for u in users})  # re-seeding added no duplicates
    second.close()


def _direct(emu: Emulator, method: str, target: str, body: dict | None = None):
    from notes2m365.emulator.router import GraphRequest
    req = GraphRequest.from_target(method, target, {"Authorization": "Bearer t", "Content-Type": "application/json"},
                                   json.dumps(body).encode() if body is not None else b"")
    return asyncio.run(emu.handle(req)).response


# -- request log -----------------------------------------------------------------------------------
def test_request_log_is_json_lines_without_secrets(emulator, graph, tmp_path):
    log_file = tmp_path / "requests.jsonl"
    emulator.reset(EmulatorConfig(request_log=str(log_file)))
    graph.get(f"{U}/mailFolders/inbox", params={"$select": "displayName"})
    graph.get("/users/nobody@acme.example")
    emulator.emulator.requests.close()
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [(e["method"], e["status"]) for e in lines] == [("GET", 200), ("GET", 404)]
    assert lines[1]["error"] == "Request_ResourceNotFound" and lines[0]["budget"]
    assert "test-token" not in log_file.read_text() and "$select" not in log_file.read_text()
    served = httpx.get(emulator.root_url + "/_emulator/requests").json()["value"]
    assert len(served) == 2


# -- $batch ----------------------------------------------------------------------------------------------
def batch(graph, requests: list[dict]) -> httpx.Response:
    return graph.post("/$batch", json={"requests": requests})


def get_item(n: int | str, url: str = f"{U}/mailFolders/inbox", **extra) -> dict:
    return {"id": str(n), "method": "GET", "url": url, **extra}


def statuses(r: httpx.Response) -> dict[str, int]:
    assert r.status_code == 200, r.text
    return {x["id"]: x["status"] for x in r.json()["responses"]}


def test_batch_runs_items_with_their_own_status_and_json_body(graph):
    r = batch(graph, [get_item(1), get_item(2, "/users/nobody/mailFolders"),
                      {"id": "3", "method": "POST", "url": f"{U}/mailFolders",
                       "headers": {"Content-Type": "application/json"}, "body": {"displayName": "B"}}])
    assert statuses(r) == {"1": 200, "2": 404, "3": 201}
    created = next(x for x in r.json()["responses"] if x["id"] == "3")
    assert created["body"]["displayName"] == "B"
    failed = next(x for x in r.json()["responses"] if x["id"] == "2")
    assert failed["body"]["error"]["code"] == "ErrorInvalidUser"


def test_batch_of_more_than_20_is_refused(graph):
    r = batch(graph, [get_item(n) for n in range(21)])
    assert (r.status_code, error_code(r)) == (400, "BadRequest")
    assert statuses(batch(graph, [get_item(n) for n in range(20)])) == {str(n): 200 for n in range(20)}


def test_batch_ids_must_be_unique(graph):
    r = batch(graph, [get_item(1), get_item(1)])
    assert (r.status_code, error_code(r)) == (400, "BadRequest")


def test_batch_body_needs_a_content_type(graph):
    r = batch(graph, [{"id": "1", "method": "POST", "url": f"{U}/mailFolders", "body": {"displayName": "B"}}])
    assert (r.status_code, error_code(r)) == (400, "BadRequest")
    assert "Content-Type" in r.json()["error"]["message"]


def test_dependents_of_a_failed_request_get_424(graph):
    r = batch(graph, [get_item(1, "/users/nobody/mailFolders"), get_item(2, dependsOn=["1"]),
                      get_item(3, dependsOn=["2"])])
    assert statuses(r) == {"1": 404, "2": 424, "3": 424}
    ok = batch(graph, [get_item(1), get_item(2, dependsOn=["1"])])
    assert statuses(ok) == {"1": 200, "2": 200}


def test_mixed_sequential_and_parallel_is_refused(graph):
    r = batch(graph, [get_item(1), get_item(2, dependsOn=["1"]), get_item(3)])
    assert (r.status_code, error_code(r)) == (400, "BadRequest")


def test_a_dependency_must_come_earlier(graph):
    r = batch(graph, [get_item(1, dependsOn=["2"]), get_item(2)])
    assert (r.status_code, error_code(r)) == (400, "BadRequest")


def test_snake_case_depends_on_is_ignored_as_graph_does(graph):
    """msgraph_core writes "depends_on" (graph-semantics §9.6): Graph ignores it, so no 424 happens."""
    r = batch(graph, [get_item(1, "/users/nobody/mailFolders"), get_item(2, depends_on=["1"])])
    assert statuses(r) == {"1": 404, "2": 200}


def test_batch_items_are_throttled_one_by_one(emulator, graph):
    clock = FakeClock()
    emulator.reset(EmulatorConfig(throttle=ThrottleConfig(mailbox_requests=3, mailbox_window_s=60)), clock=clock)
    r = batch(graph, [get_item(n) for n in range(5)])
    codes = statuses(r)
    assert sorted(codes.values()) == [200, 200, 200, 429, 429]
    throttled = [x for x in r.json()["responses"] if x["status"] == 429]
    assert all(int(x["headers"]["Retry-After"]) >= 1 for x in throttled)
    assert all(x["body"]["error"]["code"] == "ApplicationThrottled" for x in throttled)


# -- throttling ---------------------------------------------------------------------------------------
def test_four_concurrent_requests_per_mailbox(emulator):
    emulator.reset(EmulatorConfig(faults=FaultConfig(latency_ms=300)))

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=emulator.base_url, headers={"Authorization": "Bearer t"}) as c:
            jane = [c.get(f"{U}/mailFolders/inbox") for _ in range(6)]
            john = [c.get(f"/users/{JOHN}/mailFolders/inbox") for _ in range(2)]
            return await asyncio.gather(*jane, *john)
    answers = asyncio.run(burst())
    jane_codes = sorted(r.status_code for r in answers[:6])
    assert jane_codes == [200, 200, 200, 200, 429, 429]
    assert [r.status_code for r in answers[6:]] == [200, 200]
    throttled = next(r for r in answers[:6] if r.status_code == 429)
    assert error_code(throttled) == "ApplicationThrottled"
    assert "MailboxConcurrency" in throttled.json()["error"]["message"] and throttled.headers["Retry-After"] == "1"


def test_request_window_per_mailbox_with_retry_after(emulator, graph):
    clock = FakeClock()
    emulator.reset(EmulatorConfig(throttle=ThrottleConfig(mailbox_requests=3, mailbox_window_s=10)), clock=clock)
    for _ in range(3):
        assert graph.get(f"{U}/mailFolders/inbox").status_code == 200
        clock.now += 1
    r = graph.get(f"{U}/mailFolders/inbox")
    assert (r.status_code, error_code(r)) == (429, "ApplicationThrottled")
    assert r.headers["Retry-After"] == "8"  # the throttled request counts: waiting 7 s would be throttled again
    assert graph.get(f"/users/{JOHN}/mailFolders/inbox").status_code == 200  # another mailbox is not affected
    clock.now += 8
    assert graph.get(f"{U}/mailFolders/inbox").status_code == 200  # exactly Retry-After later: admitted


def test_throttled_requests_still_count(emulator, graph):
    clock = FakeClock()
    emulator.reset(EmulatorConfig(throttle=ThrottleConfig(mailbox_requests=2, mailbox_window_s=10)), clock=clock)
    graph.get(f"{U}/mailFolders/inbox")
    graph.get(f"{U}/mailFolders/inbox")
    clock.now += 5
    assert graph.get(f"{U}/mailFolders/inbox").status_code == 429
    clock.now += 5.5  # the first two left the window, the throttled one has not
    assert graph.get(f"{U}/mailFolders/inbox").status_code == 200
    assert graph.get(f"{U}/mailFolders/inbox").status_code == 429


def test_upload_volume_per_mailbox(emulator, graph):
    clock = FakeClock()
    emulator.reset(EmulatorConfig(throttle=ThrottleConfig(mailbox_upload_bytes=2000, mailbox_upload_window_s=300)),
                   clock=clock)
    body = {"subject": "x" * 1200}
    assert graph.post(f"{U}/mailFolders/inbox/messages", json=body).status_code == 201
    r = graph.post(f"{U}/mailFolders/inbox/messages", json=body)
    assert (r.status_code, error_code(r)) == (429, "ApplicationThrottled")
    assert 1 <= int(r.headers["Retry-After"]) <= 300
    assert graph.get(f"{U}/mailFolders/inbox").status_code == 200  # reads carry no upload volume
    clock.now += 301
    assert graph.post(f"{U}/mailFolders/inbox/messages", json=body).status_code == 201


def test_fractional_retry_after_is_a_switch(emulator, graph):
    clock = FakeClock()
    emulator.reset(EmulatorConfig(throttle=ThrottleConfig(mailbox_requests=1, mailbox_window_s=2.5,
                                                          fractional_retry_after=True)), clock=clock)
    graph.get(f"{U}/mailFolders/inbox")
    r = graph.get(f"{U}/mailFolders/inbox")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2.500"


def test_sharepoint_resource_units_with_ratelimit_headers(emulator, graph):
    clock = FakeClock()
    emulator.reset(EmulatorConfig(throttle=ThrottleConfig(sharepoint_units=10, sharepoint_window_s=60)), clock=clock)
    site = "/sites/acme.sharepoint.com:/sites/teamroom"
    first = graph.get(site)  # 1 unit: a single read
    assert first.status_code == 200 and "RateLimit-Limit" not in first.headers
    for _ in range(3):
        assert graph.get("/sites", params={"search": "*"}).status_code == 200  # 2 units: a query
    warned = graph.get(site)  # 8 of 10 used: the 80% warning
    assert warned.headers["RateLimit-Limit"] == "10" and warned.headers["RateLimit-Remaining"] == "2"
    graph.get(site)
    graph.get(site)
    r = graph.get(site)
    assert r.status_code == 429 and r.headers["RateLimit-Remaining"] == "0"
    assert int(r.headers["Retry-After"]) >= 1 and int(r.headers["RateLimit-Reset"]) >= 1
    clock.now += 61
    assert graph.get(site).status_code == 200


def test_sharepoint_can_answer_503(emulator, graph):
    emulator.reset(EmulatorConfig(throttle=ThrottleConfig(sharepoint_units=1, sharepoint_status=503)),
                   clock=FakeClock())
    graph.get("/sites/root")
    r = graph.get("/sites/root")
    assert r.status_code == 503 and "Retry-After" in r.headers


def test_no_throttle_switches_the_model_off(emulator, graph):
    emulator.reset(EmulatorConfig(throttle=ThrottleConfig(enabled=False, mailbox_requests=1, sharepoint_units=1)))
    assert all(graph.get(f"{U}/mailFolders/inbox").status_code == 200 for _ in range(5))
    assert all(graph.get("/sites/root").status_code == 200 for _ in range(5))


# -- fault injection ----------------------------------------------------------------------------------
def fault_run(emulator, seed: int) -> list[object]:
    emulator.reset(EmulatorConfig(faults=FaultConfig(fault_rate=0.4, seed=seed)))
    out: list[object] = []
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": "Bearer t"}) as c:
        for n in range(30):
            try:
                out.append(c.post(f"{U}/mailFolders", json={"displayName": f"f{n}"}).status_code)
            except httpx.TransportError as exc:
                out.append(type(exc).__name__)
    return out


def test_faults_are_deterministic_under_a_seed(emulator):
    first, again, other = fault_run(emulator, 7), fault_run(emulator, 7), fault_run(emulator, 8)
    assert first == again and first != other
    assert {201, 503, 504} <= set(first) and "RemoteProtocolError" in first


def test_committed_but_lost_writes_happen(emulator, graph):
    emulator.reset(EmulatorConfig(faults=FaultConfig(fault_rate=1.0, kinds=("lost-504",))))
    r = graph.post(f"{U}/mailFolders", json={"displayName": "Ghost"})
    assert (r.status_code, error_code(r)) == (504, "GatewayTimeout")
    emulator.config.faults.fault_rate = 0
    names = [f["displayName"] for f in graph.get(f"{U}/mailFolders", params={"$top": "50"}).json()["value"]]
    assert "Ghost" in names  # the write happened: a blind retry would now fail or duplicate


def test_dropped_connection_after_commit(emulator, graph):
    emulator.reset(EmulatorConfig(faults=FaultConfig(fault_rate=1.0, kinds=("lost-reset",))))
    with pytest.raises(httpx.RemoteProtocolError):
        graph.post(f"{U}/mailFolders", json={"displayName": "Ghost"})
    emulator.config.faults.fault_rate = 0
    assert "Ghost" in [f["displayName"] for f in
                       graph.get(f"{U}/mailFolders", params={"$top": "50"}).json()["value"]]


def test_dropped_connection_before_the_handler_writes_nothing(emulator, graph):
    emulator.reset(EmulatorConfig(faults=FaultConfig(fault_rate=1.0, kinds=("reset",))))
    with pytest.raises(httpx.RemoteProtocolError):
        graph.post(f"{U}/mailFolders", json={"displayName": "Never"})
    emulator.config.faults.fault_rate = 0
    assert "Never" not in [f["displayName"] for f in
                           graph.get(f"{U}/mailFolders", params={"$top": "50"}).json()["value"]]


def test_reads_never_draw_lost_write_faults(emulator, graph):
    emulator.reset(EmulatorConfig(faults=FaultConfig(fault_rate=1.0, kinds=("lost-504", "lost-reset"))))
    assert graph.get(f"{U}/mailFolders/inbox").status_code == 200


def test_latency_is_added_to_every_response(emulator, graph):
    emulator.reset(EmulatorConfig(faults=FaultConfig(latency_ms=150)))
    started = time.perf_counter()
    graph.get(f"{U}/mailFolders/inbox")
    assert time.perf_counter() - started >= 0.15


# -- regressions from the fidelity review -------------------------------------------------------------
def jwt(claims: dict) -> str:
    import base64

    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def test_throttling_is_per_application_not_per_token(emulator):
    emulator.reset(EmulatorConfig(throttle=ThrottleConfig(mailbox_requests=2)), clock=FakeClock())
    for n, expected in ((1, 200), (2, 200), (3, 429)):  # a refreshed token of the same app shares the budget
        token = jwt({"appid": "11111111-2222-3333-4444-555555555555", "n": n})
        r = httpx.get(f"{emulator.base_url}{U}/mailFolders/inbox", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == expected
    other = jwt({"appid": "99999999-2222-3333-4444-555555555555"})
    r = httpx.get(f"{emulator.base_url}{U}/mailFolders/inbox", headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 200


def test_upload_chunks_count_against_the_app_that_opened_the_session(emulator, graph):
    emulator.reset(EmulatorConfig(throttle=ThrottleConfig(mailbox_upload_bytes=3000)), clock=FakeClock())
    draft = graph.post(f"{U}/messages", json={"subject": "d"}).json()
    url = graph.post(f"{U}/messages/{draft['id']}/attachments/createUploadSession", json={
        "AttachmentItem": {"attachmentType": "file", "name": "a", "size": 2500}}).json()["uploadUrl"]
    r = httpx.put(url, content=b"x" * 2500, headers={"Content-Range": "bytes 0-2499/2500"})
    assert r.status_code == 201
    r = graph.post(f"{U}/mailFolders/inbox/messages", json={"subject": "y" * 600})
    assert (r.status_code, error_code(r)) == (429, "ApplicationThrottled")


def test_upload_urls_refuse_tokens_whatever_the_case_of_the_path(emulator, graph):
    draft = graph.post(f"{U}/messages", json={"subject": "d"}).json()
    url = graph.post(f"{U}/messages/{draft['id']}/attachments/createUploadSession", json={
        "AttachmentItem": {"attachmentType": "file", "name": "a", "size": 3}}).json()["uploadUrl"]
    shouted = url.replace(emulator.root_url + "/_upload/", emulator.base_url + "/_UPLOAD/")  # via the Graph route
    r = httpx.put(shouted, content=b"abc", headers={"Content-Range": "bytes 0-2/3", "Authorization": "Bearer t"})
    assert r.status_code == 401


def test_upload_urls_are_refused_inside_a_batch(graph):
    r = batch(graph, [{"id": "1", "method": "DELETE", "url": "/_upload/outlook/x?authtoken=y"}])
    assert (r.status_code, error_code(r)) == (400, "BadRequest")


def test_latency_is_added_to_rejections_too(emulator, anon):
    emulator.reset(EmulatorConfig(faults=FaultConfig(latency_ms=150)))
    started = time.perf_counter()
    assert anon.get("/users").status_code == 401
    assert time.perf_counter() - started >= 0.15


@pytest.mark.parametrize("seed", [-1, 2**70])
def test_any_integer_seed_works(emulator, graph, seed):
    emulator.reset(EmulatorConfig(faults=FaultConfig(seed=seed)))
    assert graph.get("/users").status_code == 200


def test_batch_answers_are_shuffled_reproducibly(emulator, graph):
    items = [get_item(n) for n in range(8)]
    first = [x["id"] for x in batch(graph, items).json()["responses"]]
    emulator.reset(EmulatorConfig())
    graph.get("/users")  # other traffic before: the order must not depend on it
    assert [x["id"] for x in batch(graph, items).json()["responses"]] == first
