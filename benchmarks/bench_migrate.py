#!/usr/bin/env python3
"""Migration throughput against the Graph emulator: messages/s against the ceiling its limits allow, CPU per message.

The emulator runs in its own process (its CPU is not counted) with ``--latency-ms`` added to every
answer (direct requests and each ``$batch`` item alike) and Outlook's per-mailbox request limit scaled
down (``throttle.mailbox_requests`` per ``throttle.mailbox_window_s``, a sliding window in which
throttled requests count too; ``$batch`` items are charged one by one, graph-semantics §7).
``notes2m365 migrate`` runs as a child process on a fresh state store and a fresh emulator tenant, for
1 and for 20 mailboxes of plain messages (``make_dxl.py --kind plain``: short text bodies, no
attachments).

    python benchmarks/bench_migrate.py              # both scenarios, about a minute each
    python benchmarks/bench_migrate.py --quick      # smoke test, a few seconds each
    python benchmarks/bench_migrate.py --scenarios 20 --profile

Passes, in one run:

``capacity``  the emulator alone (throttling off, same latency): a client in this process keeps 40
              ``$batch`` requests of 20 message creates in flight; items/s served and emulator CPU
              per item, so the ceiling can be checked to sit well below what the emulator can serve.
``plan``      a child process plans the job (``plan_sources``: reading DXL, rendering rich text,
              mapping): the planning CPU, measured alone.
``migrate``   ``notes2m365 migrate JOB --json`` in a child process (``bench_child.py``), its CPU (user+sys) from
              ``wait4``'s rusage; the emulator's request log gives what Graph saw.

The ceiling: in an interval of T seconds a sliding window of L requests per W seconds admits at most
``L * (floor(T / W) + 1)`` requests per mailbox (L at once at the start, L more each time W has
passed), and every message takes at least one request, so the message ceiling is that times the
number of mailboxes.  T runs from the first request the emulator received to the last answer it
gave.  The same figure over each mailbox's own active interval (its first to its last request) is
printed as "per mailbox": the difference is the time mailboxes waited for their source to be planned
(sources are planned one after the other).  Latency and the 4-request concurrency limit bound a
mailbox at about 20 items per (1 + 20/4) x latency when batches of 20 are sent one at a time; the
limits are chosen so that the window, not the latency, is what binds.

CPU per message: ``total`` is the child's user+sys CPU over messages migrated; ``startup`` is the
interpreter and imports (measured in the child before the command runs); ``planning`` comes from the
planning thread of the migrate process (its thread CPU; the plan pass measures the same alone);
``execution`` = total - startup - planning (Graph requests, state store, batching, logging);
``workers`` = total - the migrate process's own rusage (the planning worker processes, their start-up
included) and ``own`` = the migrate process after its start-up.  The children run ``bench_child.py``.

``--pace`` (the default) tells the client the emulator's per-mailbox limit, as a migration against
Microsoft 365 uses Graph's published one (10,000 requests per 10 minutes); ``--no-pace`` leaves the
client at the published limit, so against the scaled emulator it finds the limit through 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from emuproc import EmulatorProcess, epoch, free_port  # noqa: E402

DOMAIN = "bench.example"


@dataclass
class Settings:
    latency_ms: int
    limit: int  # throttle.mailbox_requests (L)
    window: float  # throttle.mailbox_window_s (W)
    messages: int  # per mailbox
    capacity_seconds: float
    scenarios: tuple[int, ...]


# Graph's 10,000 requests per 600 s per mailbox with the count / 100 and the window / 50: 8.33 requests/s per
# mailbox (half Graph's rate, so that 20 mailboxes stay well inside what the emulator serves on 2 cores), and
# L a multiple of the $batch size (20), as Graph's 10,000 is; 500 messages = 5 windows = about 50 s.
DEFAULT = dict(latency_ms=50, limit=100, window=12.0, messages=500, capacity_seconds=10.0)
QUICK = dict(latency_ms=50, limit=20, window=2.0, messages=60, capacity_seconds=2.0)


# -- data ------------------------------------------------------------------------------------------------------
def upn(i: int) -> str:
    return f"user{i:02d}@{DOMAIN}"


def prepare_data(data: Path, mailboxes: int, messages: int) -> None:
    """Tenant file with 20 users; one plain DXL per mailbox (own seed: source keys must differ)."""
    from make_dxl import generate

    data.mkdir(parents=True, exist_ok=True)
    users = "".join(f'[[users]]\nuserPrincipalName = "{upn(i)}"\ndisplayName = "Bench User {i:02d}"\n\n'
                    for i in range(1, max(20, mailboxes) + 1))
    (data / "tenant.toml").write_text(f'[tenant]\ndomain = "{DOMAIN}"\n\n' + users, encoding="utf-8")
    for i in range(1, mailboxes + 1):
        path = data / f"plain-{i:02d}-{messages}.dxl"
        if not path.exists():
            generate(str(path), "plain", None, seed=1000 + i, quiet=True, count=messages)


def write_job(data: Path, run: Path, mailboxes: int, messages: int, port: int) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    lines = ["[job]", 'name = "bench-migrate"', 'state = "state.sqlite"', f"concurrency = {max(4, mailboxes)}", "",
             "[target]", f'graph_url = "http://127.0.0.1:{port}/v1.0"', "",
             "[identity]", 'fallback_domain = "acme.example"', 'fallback_orgs = ["Acme"]', "",
             "[migrate]", "requests_per_second = 0  # no global cap: the per-mailbox limit is what is measured", ""]
    for i in range(1, mailboxes + 1):
        lines += ["[[mailbox]]", f'source = "{(data / f"plain-{i:02d}-{messages}.dxl").as_posix()}"',
                  f'mailbox = "{upn(i)}"', ""]
    job = run / "job.toml"
    job.write_text("\n".join(lines), encoding="utf-8")
    return job


# -- emulator --------------------------------------------------------------------------------------------------




# -- children --------------------------------------------------------------------------------------------------
def run_child(args: list[str], stdout: Path) -> tuple[int, float, float]:
    """Run ``bench_child.py`` as a child; returns (exit status, wall seconds, user+sys CPU seconds from wait4).

    Its stdout goes to ``stdout``, its stderr (log lines) beside it (``.err``).  The child is a module of its
    own with nothing imported at its top: the planning workers that ``migrate`` spawns run the main module of
    their parent again, and this one's imports (asyncio, subprocess, the emulator launcher) cost each of them
    about 0.13 s of CPU that the ``notes2m365`` command does not."""
    with open(stdout, "wb") as out, open(stdout.with_suffix(".err"), "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(HERE / "bench_child.py"), *args], stdout=out, stderr=err,
                                cwd=str(ROOT))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime


# -- capacity --------------------------------------------------------------------------------------------------
async def _capacity_client(base: str, items: list[list[dict]], seconds: float, in_flight: int) -> tuple[int, int]:
    import httpx

    done = errors = 0
    stop_at = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": "Bearer bench"}, timeout=120,
                                 limits=limits) as client:
        async def worker(n: int) -> None:
            nonlocal done, errors
            k = n
            while time.monotonic() < stop_at:
                batch = items[k % len(items)]
                k += in_flight
                body = json.dumps({"requests": batch}, separators=(",", ":"), ensure_ascii=False).encode()
                r = await client.post("/$batch", content=body, headers={"Content-Type": "application/json"})
                for answer in r.json()["responses"]:
                    if answer["status"] < 300:
                        done += 1
                    else:
                        errors += 1
        await asyncio.gather(*(worker(n) for n in range(in_flight)))
    return done, errors


def capacity(data: Path, work: Path, s: Settings) -> dict:
    """Items/s the emulator serves (no throttling, same latency) and its CPU per item."""
    from notes2m365.exchange import MailboxTarget
    from notes2m365.job import MigrateSettings, load_job
    from notes2m365.plan import PlanResult, identity_for, plan_sources

    mailboxes = max(s.scenarios)
    job = load_job(write_job(data, work / "capacity", mailboxes, s.messages, 1))
    target = MailboxTarget(None, MigrateSettings())  # type: ignore[arg-type]  # prepare() sends nothing
    batches: list[list[dict]] = []
    for planned in plan_sources(job, identity_for(job), PlanResult()):
        ops = planned.operations[:200]
        for start in range(0, len(ops), 20):
            batches.append([target.batch_item(str(n + 1), target.prepare(op, "inbox", planned.content))
                            for n, op in enumerate(ops[start:start + 20])])
    # interleave mailboxes so that concurrent batches go to different mailboxes, as in the 20-mailbox run
    per_mailbox = len(batches) // mailboxes
    batches = [batches[m * per_mailbox + k] for k in range(per_mailbox) for m in range(mailboxes)]
    port = free_port()
    emu = EmulatorProcess(port, data / "tenant.toml", s.latency_ms, None, work / "emulator-capacity.log")
    try:
        cpu0, client0, t0 = emu.cpu(), time.process_time(), time.perf_counter()
        done, errors = asyncio.run(_capacity_client(emu.root + "/v1.0", batches, s.capacity_seconds, 40))
        wall = time.perf_counter() - t0
        emu_cpu, client_cpu = emu.cpu() - cpu0, time.process_time() - client0
    finally:
        emu.stop()
    return {"items": done, "errors": errors, "seconds": wall, "items_per_s": done / wall,
            "emulator_cpu_s": emu_cpu, "emulator_cpu_per_item_ms": 1000 * emu_cpu / max(1, done),
            "emulator_items_per_cpu_s": done / emu_cpu if emu_cpu else float("inf"),
            "emulator_busy": emu_cpu / wall, "client_busy": client_cpu / wall}


# -- one scenario ------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    mailboxes: int
    messages: int = 0
    wall: float = 0.0
    interval: float = 0.0  # T: first request to last answer at the emulator
    cpu: float = 0.0
    startup_cpu: float = 0.0
    plan_cpu: float = 0.0  # the plan pass, alone in its process
    plan_cpu_in_run: float = 0.0  # the planning thread of the migrate process
    own_cpu: float = 0.0  # the migrate process without its planning worker processes
    emulator_cpu: float = 0.0
    items: int = 0  # $batch items + direct requests to mailboxes, throttled ones included
    outer: int = 0  # $batch envelopes
    created: int = 0
    throttled: int = 0
    by_status: Counter = field(default_factory=Counter)  # of the mailbox requests (items and direct)
    ceiling: int = 0
    ceiling_active: int = 0
    admitted_active: int = 0
    start_spread: float = 0.0  # first request of the first mailbox to first request of the last one
    least_time: float = 0.0  # the shortest interval in which the limit admits every mailbox's requests
    summary: dict = field(default_factory=dict)
    paced: bool = False
    exit: int = 0

    @property
    def ratio(self) -> float:
        return self.messages / self.ceiling if self.ceiling else 0.0


def window_ceiling(limit: int, window: float, seconds: float) -> int:
    """The most requests a sliding window of ``limit`` per ``window`` s admits in ``seconds`` (burst included)."""
    return limit * (math.floor(seconds / window) + 1)


def scenario(data: Path, work: Path, s: Settings, mailboxes: int, pace: bool, profile: bool) -> Outcome:
    run = work / f"mailboxes-{mailboxes}"
    if run.exists():
        shutil.rmtree(run)
    port = free_port()
    job = write_job(data, run, mailboxes, s.messages, port)
    out = Outcome(mailboxes)

    # planning alone
    code, _, _ = run_child(["--child-plan", str(job)], run / "plan.json")
    if code != 0:
        raise SystemExit(f"planning failed: see {run / 'plan.json'}")
    out.plan_cpu = json.loads((run / "plan.json").read_text())["cpu"]

    throttle = {"mailbox_requests": s.limit, "mailbox_window_s": s.window, "fractional_retry_after": "true"}
    emu = EmulatorProcess(port, data / "tenant.toml", s.latency_ms, throttle, run / "emulator.log")
    try:
        cpu0 = emu.cpu()
        args = ["--child-migrate", str(job), "--cpu-out", str(run / "cpu.json")]
        if pace:
            args += ["--child-pace", f"{s.limit}:{s.window}"]
        if profile:
            args += ["--child-profile", str(run / "migrate.prof")]
        code, out.wall, out.cpu = run_child(args, run / "summary.json")
        out.emulator_cpu = emu.cpu() - cpu0
        log = emu.requests()
    finally:
        emu.stop()
    child = json.loads((run / "cpu.json").read_text())
    out.startup_cpu, out.paced, out.exit = child["startup"], child["paced"], code
    out.plan_cpu_in_run = child["planning"]
    out.own_cpu = child.get("own", out.cpu)
    try:
        out.summary = json.loads((run / "summary.json").read_text())
    except ValueError:
        raise SystemExit(f"migrate did not print its summary (exit {code}): see {run}")
    counts = out.summary.get("counts", {})
    out.messages = sum(counts.get(k, 0) for k in ("created", "updated", "recovered"))

    starts, ends = [], []
    active: dict[str, list[float]] = defaultdict(list)
    for entry in log:
        end = epoch(entry["time"])
        start = end - entry["ms"] / 1000
        starts.append(start)
        ends.append(end)
        if entry["path"] == "/$batch":
            out.outer += 1
            continue
        parts = entry["path"].split("/")
        if len(parts) > 2 and parts[1].lower() == "users":  # a mailbox request (throttled ones have no budget)
            out.items += 1
            out.by_status[entry["status"]] += 1
            active[parts[2].lower()] += [start, end]
            if entry["status"] == 429:
                out.throttled += 1
            elif entry["status"] < 300 and entry["method"] == "POST":
                out.created += 1
    out.interval = max(ends) - min(starts) if starts else 0.0
    out.ceiling = mailboxes * window_ceiling(s.limit, s.window, out.interval)
    out.ceiling_active = sum(window_ceiling(s.limit, s.window, max(t) - min(t)) for t in active.values())
    out.admitted_active = out.items - out.throttled
    firsts = [min(t) for t in active.values()]
    out.start_spread = max(firsts) - min(firsts) if firsts else 0.0
    per_mailbox = max(1, out.messages // mailboxes)
    out.least_time = s.window * (math.ceil(per_mailbox / s.limit) - 1)
    return out


# -- report ------------------------------------------------------------------------------------------------------
def report(s: Settings, cap: dict | None, results: list[Outcome], pace: bool) -> None:
    rate = s.limit / s.window
    batch_bound = 20 / ((1 + math.ceil(20 / 4)) * s.latency_ms / 1000)
    print(f"\nemulator: latency {s.latency_ms} ms per request and per $batch item; Outlook limit scaled to "
          f"{s.limit} requests per {s.window:g} s per mailbox (sliding, throttled requests count; "
          f"{rate:.2f}/s steady), 4 concurrent; fractional Retry-After")
    print(f"latency bound per mailbox with $batch of 20 one at a time: {batch_bound:.1f} items/s "
          f"({batch_bound / rate:.1f}x the window's steady rate: the window binds)")
    if cap:
        print(f"\ncapacity (throttling off, 40 batches of 20 in flight, {cap['seconds']:.1f} s): "
              f"{cap['items_per_s']:.0f} items/s served, emulator CPU {cap['emulator_cpu_per_item_ms']:.2f} ms/item "
              f"= {cap['emulator_items_per_cpu_s']:.0f} items per CPU second; emulator busy {cap['emulator_busy']:.0%}, "
              f"client busy {cap['client_busy']:.0%}, errors {cap['errors']}")
    print(f"\nclient pacing: {'told the emulator limit' if pace else 'off (client at the published 10,000/10 min)'}")
    print(f"\n{'mailboxes':>9} {'messages':>8} {'T s':>6} {'msg/s':>7} {'ceiling':>8} {'ceil/s':>7} {'ratio':>6} "
          f"{'per-mbx':>7} {'T min':>6} {'spread':>6} {'req/msg':>7} {'429s':>5} {'retries':>7} {'emu busy':>8} "
          f"{'headroom':>8}")
    for r in results:
        ceiling_rate = r.ceiling / r.interval if r.interval else 0.0
        headroom = (cap["emulator_items_per_cpu_s"] / ceiling_rate) if cap and ceiling_rate else float("nan")
        g = r.summary.get("graph", {})
        print(f"{r.mailboxes:>9} {r.messages:>8} {r.interval:>6.1f} {r.messages / r.interval if r.interval else 0:>7.1f} "
              f"{r.ceiling:>8} {ceiling_rate:>7.1f} {r.ratio:>6.1%} "
              f"{(r.admitted_active / r.ceiling_active if r.ceiling_active else 0):>7.1%} "
              f"{r.least_time:>6.1f} {r.start_spread:>6.1f} "
              f"{(r.items + r.outer) / max(1, r.messages):>7.3f} {r.throttled:>5} {g.get('retries', 0):>7} "
              f"{r.emulator_cpu / r.interval if r.interval else 0:>8.0%} {headroom:>7.1f}x")
    print("T: first request to last answer at the emulator; ceiling: mailboxes x L x (floor(T/W) + 1) messages "
          "(one request each);\nper-mbx: mailbox requests admitted / the same ceiling over each mailbox's own "
          "active interval; T min: the shortest interval in\nwhich the limit admits each mailbox's messages "
          "(W x (ceil(messages/L) - 1)); spread: first request of the first mailbox to\nthe first request of the "
          "last (sources are planned one after the other); req/msg: $batch envelopes\n+ mailbox requests (429s "
          "included) per message; emu busy: "
          "emulator CPU / T; headroom: the emulator's items per\nCPU second (capacity pass) / the ceiling's "
          "items per second.")
    print(f"\n{'mailboxes':>9} {'CPU s':>7} {'ms/msg':>7} {'startup s':>9} {'plan ms/msg':>11} "
          f"{'(alone)':>7} {'exec ms/msg':>11} {'exec+plan':>9} {'workers':>7} {'own':>6} {'wall s':>7}")
    for r in results:
        per_msg = 1000 / max(1, r.messages)
        execution = r.cpu - r.startup_cpu - r.plan_cpu_in_run
        print(f"{r.mailboxes:>9} {r.cpu:>7.2f} {r.cpu * per_msg:>7.3f} {r.startup_cpu:>9.2f} "
              f"{r.plan_cpu_in_run * per_msg:>11.3f} {r.plan_cpu * per_msg:>7.3f} {execution * per_msg:>11.3f} "
              f"{(r.cpu - r.startup_cpu) * per_msg:>9.3f} {(r.cpu - r.own_cpu) * per_msg:>7.3f} "
              f"{(r.own_cpu - r.startup_cpu) * per_msg:>6.3f} {r.wall:>7.1f}")
    print("CPU: user+sys of the migrate process and its planning worker processes (wait4); startup: interpreter "
          "and imports;\nplan: the planning thread inside the run (thread CPU; 0 when sources are planned in "
          "worker processes),\nalone: the same planning in a process of its own; exec = CPU - startup - plan; "
          "workers: the planning worker\nprocesses (their start-up included); own: the migrate process without "
          "them, after its start-up (ms/msg).")
    if len(results) >= 2:
        a, b = min(results, key=lambda r: r.messages), max(results, key=lambda r: r.messages)
        if b.messages > a.messages:
            def ex(r: Outcome) -> float:
                return r.cpu - r.startup_cpu - r.plan_cpu_in_run
            n = b.messages - a.messages
            print(f"marginal CPU per message ({a.mailboxes} -> {b.mailboxes} mailboxes): "
                  f"{1000 * (b.cpu - a.cpu) / n:.3f} ms, of which execution {1000 * (ex(b) - ex(a)) / n:.3f} ms; "
                  f"fixed execution cost (client set-up, lazy imports) about "
                  f"{ex(a) - a.messages * (ex(b) - ex(a)) / n:.2f} s")
    for r in results:
        verdict_t = "met" if r.ratio >= 0.90 else "NOT met"
        verdict_c = "met" if r.cpu / max(1, r.messages) <= 0.001 else "NOT met"
        print(f"{r.mailboxes} mailbox(es): {r.ratio:.1%} of the ceiling (target >= 90%: {verdict_t}); "
              f"{1000 * r.cpu / max(1, r.messages):.3f} ms CPU per message (target <= 1 ms: {verdict_c}); "
              f"wall {r.wall:.1f} s, exit {r.exit}, outcome {r.summary.get('outcome')}, "
              f"mailbox requests by status {dict(sorted(r.by_status.items()))}, {r.outer} $batch envelopes")
    print(json.dumps({"settings": s.__dict__, "capacity": cap, "results": [
        {"mailboxes": r.mailboxes, "messages": r.messages, "interval_s": round(r.interval, 3),
         "ceiling": r.ceiling, "ratio": round(r.ratio, 4),
         "per_mailbox_ratio": round(r.admitted_active / r.ceiling_active, 4) if r.ceiling_active else None,
         "requests_per_message": round((r.items + r.outer) / max(1, r.messages), 4), "throttled": r.throttled,
         "cpu_s": round(r.cpu, 3), "startup_cpu_s": round(r.startup_cpu, 3), "own_cpu_s": round(r.own_cpu, 3), "plan_cpu_s": round(r.plan_cpu, 3),
         "plan_cpu_in_run_s": round(r.plan_cpu_in_run, 3),
         "emulator_cpu_s": round(r.emulator_cpu, 3), "graph": r.summary.get("graph"), "paced": r.paced}
        for r in results]}))


def print_profile(path: Path, top: int) -> None:
    import pstats

    print(f"\nprofile of the migrate process's event-loop thread (CPU time; planning runs in another thread): {path}")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: small limits and counts, a few seconds")
    parser.add_argument("--scenarios", default="1,20", help="mailbox counts to run (default 1,20)")
    parser.add_argument("--messages", type=int, help="messages per mailbox")
    parser.add_argument("--limit", type=int, help="throttle.mailbox_requests (L)")
    parser.add_argument("--window", type=float, help="throttle.mailbox_window_s (W)")
    parser.add_argument("--latency-ms", type=int)
    parser.add_argument("--capacity-seconds", type=float, help="length of the capacity pass; 0 skips it")
    parser.add_argument("--pace", action=argparse.BooleanOptionalAction, default=True,
                        help="tell the client the emulator's per-mailbox limit (default: yes)")
    parser.add_argument("--profile", action="store_true", help="cProfile the migrate process's event loop")
    parser.add_argument("--profile-top", type=int, default=35)
    parser.add_argument("--data", default=str(ROOT / "bench-data" / "migrate"), help="where data and runs go")
    args = parser.parse_args()

    base = QUICK if args.quick else DEFAULT
    s = Settings(latency_ms=args.latency_ms if args.latency_ms is not None else base["latency_ms"],
                 limit=args.limit or base["limit"], window=args.window or base["window"],
                 messages=args.messages or base["messages"],
                 capacity_seconds=args.capacity_seconds if args.capacity_seconds is not None
                 else base["capacity_seconds"],
                 scenarios=tuple(int(x) for x in args.scenarios.split(",")))
    data = Path(args.data).resolve()
    work = data / ("runs-quick" if args.quick else "runs")
    prepare_data(data, max(s.scenarios), s.messages)
    cap = capacity(data, work, s) if s.capacity_seconds > 0 else None
    if cap:
        print(f"capacity: {cap['items_per_s']:.0f} items/s, {cap['emulator_items_per_cpu_s']:.0f} items per "
              f"emulator CPU second", flush=True)
    results = []
    for n in s.scenarios:
        r = scenario(data, work, s, n, args.pace, args.profile)
        print(f"{n} mailbox(es): {r.messages} messages in {r.interval:.1f} s, {r.ratio:.1%} of the ceiling, "
              f"{1000 * r.cpu / max(1, r.messages):.3f} ms CPU/message", flush=True)
        results.append(r)
    report(s, cap, results, args.pace)
    if args.profile:
        for n in s.scenarios:
            print_profile(work / f"mailboxes-{n}" / "migrate.prof", args.profile_top)


if __name__ == "__main__":
    main()
