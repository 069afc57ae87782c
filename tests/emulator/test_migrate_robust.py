"""``notes2m365 migrate`` under faults, throttling, SIGKILL and Ctrl-C: every planned item exactly once.

Each test ends by reading the target mailbox back through raw Graph HTTP (``mailbox_fixture``) and
comparing the source keys found with the plan: every planned key once, nothing missing, nothing extra,
each copy carrying the planned version.  The emulator runs in this process (the session server of
``conftest.py``, reset per test); the SIGKILL and Ctrl-C tests run the real CLI as a subprocess.

In-process runs with fault injection use short retry waits (:func:`fast_retries`: the per-request
backoff without ``Retry-After`` and the per-item backoff of the executor), so that the file stays
within about a minute; the waits ``Retry-After`` asks for are honoured as they are, and the
subprocess tests run with the product's defaults.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from tenacity import wait_exponential_jitter

import notes2m365.executor as executor
import notes2m365.migrate as migrate_module
from notes2m365.emulator import BackgroundEmulator, EmulatorConfig, FaultConfig, ThrottleConfig
from notes2m365.migrate import run_migration
from notes2m365.state import open_state

from .mailbox_fixture import (
    JANE,
    JOHN,
    JobFiles,
    MailboxSpec,
    assert_exactly_once,
    planned_total,
    read_mailbox,
    write_job,
)

ALL_FAULTS = ("503", "504", "reset", "lost-504", "lost-reset")
LOST = ("lost-504", "lost-reset")
MAX_RUNS = 5


@pytest.fixture
def server(_server: BackgroundEmulator):
    """The session's emulator server; each test resets it with the configuration it needs (and it is
    left with the default one: no faults, no latency)."""
    yield _server
    _server.reset()


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shorter backoff where Graph gives no ``Retry-After`` (request level) and between item attempts."""
    monkeypatch.setattr(executor, "wait_exponential_jitter",
                        lambda *a, **kw: wait_exponential_jitter(multiplier=0.05, max=0.5, jitter=0.05))
    real = migrate_module.graph_settings
    monkeypatch.setattr(migrate_module, "graph_settings",
                        lambda job: dataclasses.replace(real(job), backoff_base=0.05, backoff_cap=0.5))


def faulty(seed: int, rate: float, latency_ms: int = 0, kinds: tuple[str, ...] = ALL_FAULTS) -> EmulatorConfig:
    return EmulatorConfig(faults=FaultConfig(fault_rate=rate, seed=seed, latency_ms=latency_ms, kinds=kinds))


def fault_log(server: BackgroundEmulator) -> Counter[str]:
    """Faults the emulator injected so far, by kind; ``"lost create"``: creates of items (alone or in a
    ``$batch``) and ``$batch`` requests that were carried out but whose answer was lost."""
    out: Counter[str] = Counter()
    for entry in list(server.emulator.requests.entries):
        if entry["fault"]:
            out[entry["fault"]] += 1
            if entry["fault"] in LOST and entry["method"] == "POST" and entry["path"].rstrip("/").endswith(
                    ("/messages", "/events", "/contacts", "/tasks", "/$batch")):
                out["lost create"] += 1
    return out


def wait_quiet(server: BackgroundEmulator, quiet_s: float = 0.3, timeout: float = 10.0) -> None:
    """Until the emulator has logged no request for ``quiet_s``: a killed client's last request may still be
    running there (a ``$batch`` goes on creating its items after the client is gone)."""
    deadline = time.monotonic() + timeout
    seen, since = len(server.emulator.requests.entries), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = len(server.emulator.requests.entries)
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return


def duplicates(base_url: str, upns: list[str]) -> list[str]:
    """Source keys present more than once right now (must never happen, not even between runs)."""
    out = []
    for upn in upns:
        for (kind, key), versions in read_mailbox(base_url, upn).copies.items():
            if len(versions) > 1:
                out.append(f"{upn}: {kind} {key} x{len(versions)}")
    return out


def migrate_until_complete(jf: JobFiles, emu: BackgroundEmulator, upns: list[str]) -> list:
    """``run_migration`` until the outcome is complete (at most MAX_RUNS runs); the summaries, each with
    ``log_end``: the length of the emulator's request log when that run ended."""
    base_url = emu.base_url
    job = jf.load(base_url)
    summaries = []
    for _ in range(MAX_RUNS):
        summary = run_migration(job).summary
        summary.log_end = len(emu.emulator.requests.entries)
        summaries.append(summary)
        assert summary.outcome in ("complete", "failures"), (summary.outcome, summary.fatal)
        assert not duplicates(base_url, upns), "a run left a duplicate behind"
        if summary.outcome == "complete":
            return summaries
    raise AssertionError(f"not complete after {MAX_RUNS} runs: "
                         + "; ".join(f"{dict(s.counts)} {s.failures[:3]}" for s in summaries))


# -- 1. faults, including committed writes whose answer is lost --------------------------------------------------
@pytest.mark.parametrize("seed, rate", [(101, 0.15), (202, 0.2), (303, 0.15)])
def test_faults_exactly_once(server, tmp_path: Path, fast_retries, seed: int, rate: float) -> None:
    """~20 % of all requests fail (503, 504, reset, and lost-504/lost-reset after the write was committed):
    repeated runs end complete with every demo and synthetic item once, and a further run writes nothing."""
    emu = server.reset(faulty(seed, rate))
    jf = write_job(tmp_path, [MailboxSpec(JANE, n=60, seed=seed)], demo=True)
    summaries = migrate_until_complete(jf, emu, [JANE])
    job = jf.load(emu.base_url)
    total = planned_total(job)
    assert_exactly_once(emu.base_url, job)

    faults = fault_log(emu)
    assert faults["lost create"] > 0, f"no create's answer was lost: {faults}"
    assert sum(faults[k] for k in ("503", "504", "reset")) > 0, faults
    recovered = sum(s.counts["recovered"] for s in summaries)
    assert recovered > 0, f"answers to creates were lost ({faults}) but no item was found again by its key"
    assert sum(s.graph.retries for s in summaries) > 0, "no request was retried"
    last = summaries[-1]
    assert last.counts["failed"] == 0 and last.counts["not_attempted"] == 0, dict(last.counts)
    assert sum(last.counts[k] for k in ("created", "recovered", "unchanged")) >= total, dict(last.counts)

    again = run_migration(job).summary
    assert again.outcome == "complete"
    assert again.graph.writes == 0, again.as_json()
    assert again.counts["unchanged"] == sum(again.counts.values())


# -- 2. a 429 storm ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("throttle, fractional", [
    pytest.param(ThrottleConfig(mailbox_concurrency=2), False, id="concurrency-2-of-4"),
    pytest.param(ThrottleConfig(mailbox_requests=50, mailbox_window_s=1.0, fractional_retry_after=True), True,
                 id="50-per-1s-fractional"),
])
def test_throttle_storm(server, tmp_path: Path, throttle: ThrottleConfig, fractional: bool) -> None:
    """Graph answers 429 over and over (tiny request window, or fewer concurrent requests than the client
    sends): one run completes, nothing fails, every item once; fractional Retry-After is honoured."""
    # a little latency, so that concurrent requests overlap in the emulator as they do in Graph
    emu = server.reset(EmulatorConfig(throttle=throttle, faults=FaultConfig(latency_ms=5)))
    jf = write_job(tmp_path, [MailboxSpec(JANE, n=80, seed=7)], migrate={"mailbox_concurrency": 4})
    job = jf.load(emu.base_url)
    result = run_migration(job)
    s = result.summary
    assert s.outcome == "complete", (s.as_json(), s.failures[:5])
    assert s.counts["failed"] == 0 and s.counts["not_attempted"] == 0
    assert s.graph.throttled > 0, s.as_json()
    log = list(emu.emulator.requests.entries)
    throttled = [e for e in log if e["status"] == 429]
    assert len(throttled) >= s.graph.throttled > 0
    if fractional:
        assert 0 < s.graph.wait_seconds and s.graph.wait_seconds % 1 != 0, s.graph.wait_seconds
    assert_exactly_once(emu.base_url, job)
    assert s.counts["created"] == planned_total(job) + 3  # + the three folders of the synthetic mailbox


# -- 3. SIGKILL at random moments -------------------------------------------------------------------------------
def spawn(jf: JobFiles, base_url: str, out: Path, as_json: bool = True) -> subprocess.Popen:
    """``notes2m365 migrate JOB`` as a subprocess (stdout and stderr to ``out``: never a full pipe)."""
    handle = open(out, "w", encoding="utf-8")
    try:
        return subprocess.Popen([sys.executable, "-m", "notes2m365.cli", "migrate", str(jf.path), "--graph-url",
                                 base_url, "--no-progress", *(["--json"] if as_json else [])], stdout=handle,
                                stderr=subprocess.STDOUT, cwd=jf.path.parent,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    finally:
        handle.close()


def state_counts(jf: JobFiles) -> dict[str, int]:
    """Items per status in the state store (read-only, while a run may hold it); empty before it exists."""
    try:
        with open_state(jf.state, read_only=True) as state:
            return state.counts()
    except Exception:  # not created yet, or no schema yet
        return {}


def wait_until(proc: subprocess.Popen, condition, timeout: float) -> bool:
    """Poll until ``condition()``; False when the process ended first or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if condition():
            return True
        time.sleep(0.02)
    return False


def summary_of(out: Path) -> dict:
    text = out.read_text(encoding="utf-8")
    start = text.find("{\n")
    assert start >= 0, f"no JSON summary in the output:\n{text[-2000:]}"
    return json.loads(text[start:text.rindex("}") + 1])


def kill_and_resume(server: BackgroundEmulator, tmp_path: Path, seed: int, config: EmulatorConfig, n: int,
                    kills: int, migrate: dict | None = None) -> None:
    emu = server.reset(config)
    jf = write_job(tmp_path, [MailboxSpec(JANE, n=n, seed=seed)], migrate=migrate)
    job = jf.load(emu.base_url)
    rng = random.Random(seed)
    mid_run = 0
    history = []
    for k in range(kills):
        out = tmp_path / f"run{k}.out"
        started_at = time.monotonic()
        before = state_counts(jf).get("done", 0)
        proc = spawn(jf, emu.base_url, out)
        if k == 0:  # a random moment since the start (it may fall while the job is still being planned)
            delay = rng.uniform(0.3, 2.0)
            wait_until(proc, lambda: time.monotonic() - started_at > delay, 30)
        else:  # a random moment once this run has made progress: mid-run
            wait_until(proc, lambda: state_counts(jf).get("done", 0) > before, 30)
            time.sleep(rng.uniform(0.0, 0.6))
        if proc.poll() is not None:
            history.append(("finished before the kill", proc.returncode))
            break
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        counts = state_counts(jf)
        history.append((round(time.monotonic() - started_at, 2), counts))
        if counts.get("started"):
            mid_run += 1
        wait_quiet(emu)
        assert not duplicates(emu.base_url, [JANE]), f"duplicate after kill {k}: {history}"
    # let it finish; with faults on, a run may end with failed items (retried by the next run): exit 1
    codes = []
    for k in range(MAX_RUNS):
        out = tmp_path / f"final{k}.out"
        proc = spawn(jf, emu.base_url, out)
        codes.append(proc.wait(timeout=120))
        assert codes[-1] in (0, 1), f"exit {codes[-1]}:\n{out.read_text()[-3000:]}"
        summary = summary_of(out)
        if k == 0:
            resumed = summary["counts"]
        if codes[-1] == 0:
            break
    assert codes[-1] == 0, codes
    assert summary["outcome"] == "complete"
    print(f"kills: {history}; final runs: {codes}; first resumed run: {resumed}")
    assert mid_run > 0 or resumed.get("recovered"), f"no kill landed mid-run: {history}"
    assert_exactly_once(emu.base_url, job)
    again = run_migration(job).summary
    assert again.graph.writes == 0 and again.outcome == "complete", again.as_json()


@pytest.mark.parametrize("seed, batch_size", [(11, 20), (12, 1)], ids=["batched", "single-items"])
def test_sigkill_resume(server, tmp_path: Path, seed: int, batch_size: int) -> None:
    """SIGKILL the CLI at random moments (state store, HTTP requests and batches cut mid-way), start it
    again each time, then let it finish: exit 0, every item once, a further run writes nothing."""
    n, kills = (170, 3) if batch_size > 1 else (100, 2)
    kill_and_resume(server, tmp_path, seed, faulty(seed, 0.0, latency_ms=15), n, kills=kills,
                    migrate={"batch_size": batch_size})


def test_sigkill_resume_with_faults(server, tmp_path: Path) -> None:
    """The same with fault injection on (lost answers included) and the product's own retry timings."""
    kill_and_resume(server, tmp_path, 13, faulty(13, 0.05, latency_ms=10), 80, kills=2)


# -- 4. Ctrl-C --------------------------------------------------------------------------------------------------
def test_ctrl_c(server, tmp_path: Path) -> None:
    """One SIGINT mid-run: requests in flight finish, the process says "interrupted" and exits 130 within
    seconds leaving no item half-done; the next run completes, every item once."""
    emu = server.reset(faulty(0, 0.0, latency_ms=15))
    jf = write_job(tmp_path, [MailboxSpec(JANE, n=160, seed=21)])
    job = jf.load(emu.base_url)
    out = tmp_path / "interrupted.out"
    proc = spawn(jf, emu.base_url, out, as_json=False)
    assert wait_until(proc, lambda: state_counts(jf).get("done", 0) > 0, 30), out.read_text()[-2000:]
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=10)
    took = time.monotonic() - sent
    text = out.read_text(encoding="utf-8")
    assert code == 130, f"exit {code}:\n{text[-3000:]}"
    assert took < 5, f"took {took:.1f} s to stop"
    assert "migration interrupted" in text and "run the same command again to resume" in text, text[-2000:]
    counts = state_counts(jf)
    assert counts["started"] == 0, f"a graceful stop left items started: {counts}"
    assert 0 < counts["done"] < planned_total(job), counts  # it really stopped mid-run
    assert not duplicates(emu.base_url, [JANE])

    rerun = run_migration(job).summary
    assert rerun.outcome == "complete", rerun.as_json()
    assert rerun.counts["unchanged"] > 0 and rerun.counts["created"] > 0, dict(rerun.counts)
    assert_exactly_once(emu.base_url, job)


# -- 5. two mailboxes at once ------------------------------------------------------------------------------------
class SourcesInFlight:
    """A progress sink that remembers how many sources were being migrated at the same time."""

    def __init__(self) -> None:
        self.active: set[str] = set()
        self.most = 0
        self.finished: Counter[str] = Counter()

    def source_started(self, label: str, total: int) -> None:
        self.active.add(label)
        self.most = max(self.most, len(self.active))

    def item_finished(self, label: str, outcome: str) -> None:
        self.finished[outcome] += 1

    def source_finished(self, label: str) -> None:
        self.active.discard(label)


@pytest.mark.parametrize("seed", [31])
def test_two_mailboxes_with_faults(server, tmp_path: Path, fast_retries, seed: int) -> None:
    """Jane's and John's mailboxes migrated concurrently under faults: each gets exactly its own items."""
    emu = server.reset(faulty(seed, 0.15, latency_ms=5))
    # sources are planned one after the other while the ones before are migrated: Jane's mailbox is the
    # bigger one, so that John's is planned (and started) while Jane's is still being written
    jf = write_job(tmp_path, [MailboxSpec(JANE, n=140, seed=seed), MailboxSpec(JOHN, n=50, seed=seed + 1,
                                                                               owner="John Smith")])
    job = jf.load(emu.base_url)
    first = SourcesInFlight()
    summary = run_migration(job, progress=first).summary
    assert first.most == 2, "the two mailboxes were not migrated at the same time"
    assert summary.per_target[JANE]["created"] > 0 and summary.per_target[JOHN]["created"] > 0, summary.per_target
    writes = {e["budget"] for e in list(emu.emulator.requests.entries) if e["budget"] and e["method"] != "GET"}
    assert len(writes) == 2, writes
    assert not duplicates(emu.base_url, [JANE, JOHN])
    if summary.outcome != "complete":
        migrate_until_complete(jf, emu, [JANE, JOHN])
    counts = assert_exactly_once(emu.base_url, job)
    assert set(counts) == {JANE, JOHN}
    faults = fault_log(emu)
    assert faults["lost create"] > 0, faults
    again = run_migration(job).summary
    assert again.graph.writes == 0 and again.outcome == "complete"
