#!/usr/bin/env python3
"""SharePoint list items/s against the emulator's resource-unit ceiling, and CPU per item (issue 6).

The emulator runs in its own process (its CPU is not counted) with ``--latency-ms`` added to every
answer and SharePoint's resource-unit budget scaled down (``throttle.sharepoint_units`` U per
``throttle.sharepoint_window_s`` W, per application, a sliding window; graph-semantics §8.2:
1 RU per single-item read, 2 per query over a collection or per write, 5 per permission operation;
a request over the budget gets 429 + ``Retry-After`` and is *not* charged).  ``notes2m365 migrate``
runs as a child process on a fresh state store and a fresh emulator tenant, one ``[[application]]``
source with ``builtin:discussion``: N plain MainTopic/Response documents (short rich-text bodies, a
person in ``From``, about a third of them responses; no attachments, no doclinks).

    python benchmarks/bench_sites.py               # about a minute
    python benchmarks/bench_sites.py --quick       # smoke test, a few seconds
    python benchmarks/bench_sites.py --profile     # + cProfile of the migrate process's event loop

What one run of the job asks of SharePoint (counted from the emulator's request log; RU per request
as the emulator charges them):

====================================================  =====  ===========================================
request                                                RU     when
====================================================  =====  ===========================================
``GET /sites/{host}:/sites/archive:``                 1      once (site id)
``GET /sites/{id}/lists``                             2      once (is the list there?)
``POST /sites/{id}/lists`` (columns inline)           2      once
``POST /sites/{id}/lists/{l}/columns`` (NotesParent)  2      once (responses point at their topic)
``GET .../lists/User Information List/items``         2      once per site per 999 people (*)
``POST /sites/{id}/lists/{l}/items``                  2      per document
====================================================  =====  ===========================================

so a run of N documents needs R = S + 2 N resource units, S = 9 here (the table's first five rows).
(*) Read by every worker that needs a person before the first read has answered: 3 reads (6 RU) with
4 workers in practice, so S = 13 is measured; the job's size leaves room for that.  Nothing else is
sent per document: no lookup (fresh state), no file, no doclink pass.

The ceiling: in an interval of T seconds a sliding window of U per W seconds admits at most
``U * (floor(T / W) + 1)`` units (U at once at the start, U more each time W has passed), so at most
``(U * (floor(T / W) + 1) - S) / 2`` items (S as measured); T runs from the first request the
emulator received to the last answer it gave.  ``ratio`` = items / that.  The steady rate is
U / W / 2 items/s (a run of a few windows goes faster: the first U is there at once); the shortest T
in which the budget admits the RU the run spent is ``T min = W * (ceil(R / U) - 1)`` (``Tmin/T``
says how much of the run's time went to anything but waiting for the window).  The default N is
sized so that R is just under k * U (k = ``--windows``): T min = (k - 1) W and the job is RU-bound,
not latency-bound (the unthrottled pass shows how much faster it goes without the budget).
``budget used`` is the RU admitted in the run's whole windows ([t0, t0 + W), [t0 + W, t0 + 2W) ...)
over U per window: unlike ``ratio`` it does not jump by one window's worth when T crosses a multiple
of W, and 100% means no unit the window freed was left unused.

Passes, in one run (each ``migrate`` on a fresh emulator and a fresh state store):

``plan``         ``notes2m365 plan JOB --out FILE`` in a child process: planning alone (reading DXL,
                 rendering rich text, mapping, plus writing the plan as JSON lines).
``unthr-N/5``    ``migrate`` of a fifth of the documents, throttling off: with the next pass, the
                 marginal CPU per item (the fixed costs cancel out).
``unthrottled``  ``migrate`` with the emulator's throttling off (same latency): what latency and the
                 client's 4 workers allow, and CPU per item without retries.
``throttled``    ``migrate`` against the scaled budget: the measure.

CPU per item: user+sys of the child (``getrusage(RUSAGE_CHILDREN)`` deltas around its wait; the
emulator is a child too but still running, so not counted); ``startup`` is the interpreter and
imports (measured in the child before the command runs); ``plan`` is the planning thread of the
migrate process (thread CPU; the plan pass measures the same alone); ``exec`` = total - startup - plan
(Graph requests, state store, logging).
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import json
import math
import random
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if importlib.util.find_spec("notes2m365") is None:  # not installed: from the checkout (only then: each entry of
    sys.path.insert(0, str(ROOT))  # sys.path makes a failed import, e.g. httpcore's `import sniffio`, dearer)

from emuproc import EmulatorProcess, epoch, free_port, run_cli, time_planning  # noqa: E402  (beside this file)

SITE = "acme.sharepoint.com:/sites/archive"  # a site of the emulator's demo tenant
SETUP_RU = 9  # site 1 + lists query 2 + list create 2 + parent column 2 + User Information List read 2
ITEM_RU = 2  # one POST .../items per document
WORKERS = 4  # [migrate] site_workers (its default): the workers of an application source
SETUP_SLACK = 0  # the site's User Information List is read once per run (it used to be once per worker)


@dataclass
class Settings:
    latency_ms: int
    units: int  # throttle.sharepoint_units (U)
    window: float  # throttle.sharepoint_window_s (W)
    windows: int  # k: the job needs just under k * U resource units
    items: int  # N documents
    fractional: bool  # throttle.fractional_retry_after
    unthrottled: bool


# SharePoint's per-minute budget at 10 RU/s (5 item creates/s, steady) in 12-second windows, so that a run of
# about a minute spans five of them and the burst allowance (U at once at the start) is a fifth of the total.
DEFAULT = dict(latency_ms=50, units=120, window=12.0, windows=5)
QUICK = dict(latency_ms=50, units=40, window=2.0, windows=3)


def items_for(units: int, windows: int) -> int:
    """The most documents whose R = S + 2N stays within ``windows`` budgets even with the extra reads."""
    return (units * windows - SETUP_RU - SETUP_SLACK) // ITEM_RU


# -- data ----------------------------------------------------------------------------------------------------
# The synthetic discussion database of tests/emulator/test_sites_migrate.py (write_discussion_dxl), reduced
# to plain documents: no attachments, no doclinks.
_WORDS = ("budget review forecast meeting contract invoice customer delivery schedule agenda minutes status "
          "report draft approval migration server archive policy audit training Zürich café naïve Kraków "
          "straße R&D Q&A 10% kick-off hand-over").split()
_PEOPLE = ("CN=Jane Doe/OU=Sales/O=Acme", "CN=John Smith/O=Acme", "CN=Maria Garcia/OU=Marketing/O=Acme",
           "CN=Peter Miller/OU=Engineering/O=Acme", "CN=Ravi Kumar/OU=Bangalore/O=Acme")
_CATEGORIES = ("Alpha", "Beta", "Planning", "Support", "Ops")


def _x(text: str) -> str:
    return html.escape(text, quote=True).replace("&#x27;", "&apos;")


def _when(n: int) -> str:
    return f"<datetime>202402{1 + n % 27:02d}T{8 + n % 10:02d}{n % 60:02d}00,00+01</datetime>"


def write_discussion(path: Path, n: int, seed: int = 6) -> dict[str, int]:
    """``n`` MainTopic/Response documents (a response answers an earlier topic, 35 %); same seed, same bytes."""
    rng = random.Random(seed)
    replica = f"C1258B{rng.getrandbits(40):010X}"
    parts = ["<?xml version='1.0' encoding='utf-8'?>\n<!DOCTYPE database SYSTEM 'xmlschemas/domino_12_0.dtd'>\n"
             f"<database xmlns='http://www.lotus.com/dxl' version='12.0' replicaid='{replica}' "
             f"path='apps/bench{seed}.nsf' title='Benchmark discussion {seed}'>\n"]
    topics: list[str] = []
    responses = 0
    for i in range(n):
        unid = f"{rng.getrandbits(64):016X}C1258B{i + 1:010X}"
        parent = rng.choice(topics) if topics and rng.random() < 0.35 else None
        if parent:
            responses += 1
        else:
            topics.append(unid)
        subject = " ".join(rng.choices(_WORDS, k=rng.randint(2, 6))).capitalize() + f" #{i}"
        pars = "".join(f"<par def='1'><run><font size='10pt' name='Arial'/>{_x(' '.join(rng.choices(_WORDS, k=12)))}."
                       "</run></par>\n" for _ in range(rng.randint(1, 3)))
        categories = rng.sample(_CATEGORIES, rng.randint(0, 2))
        head = (f"<document form='{'Response' if parent else 'MainTopic'}'"
                + (f" parent='{parent}' response='true'" if parent else "") + ">\n")
        items = [f"<noteinfo noteid='{0x900 + 4 * i:x}' unid='{unid}' sequence='{rng.randint(1, 9)}'><created>"
                 f"{_when(i)}</created><modified>{_when(i + 1)}</modified><revised>{_when(i + 1)}</revised>"
                 "</noteinfo>\n",
                 f"<item name='Subject'><text>{_x(subject)}</text></item>\n",
                 f"<item name='From' names='true'><text>{_x(rng.choice(_PEOPLE))}</text></item>\n"]
        if categories:
            items.append("<item name='Categories'><textlist>" + "".join(f"<text>{c}</text>" for c in categories)
                         + "</textlist></item>\n")
        items.append(f"<item name='Body'><richtext>\n<pardef id='1'/>\n{pars}</richtext></item>\n")
        parts.append(head + "".join(items) + "</document>\n")
    parts.append("</database>\n")
    path.write_text("".join(parts), encoding="utf-8")
    return {"documents": n, "topics": n - responses, "responses": responses}


def write_job(run: Path, dxl: Path, port: int) -> Path:
    samples = ROOT / "samples"
    lines = ["[job]", 'name = "bench-sites"', 'state = "state.sqlite"', "concurrency = 4", "",
             "[target]", f'graph_url = "http://127.0.0.1:{port}/v1.0"', "",
             "[identity]", f'map = "{(samples / "identity.csv").as_posix()}"', 'fallback_domain = "acme.example"',
             'fallback_orgs = ["Acme"]', 'internet_domains = ["acme.example"]', "",
             "[[application]]", f'source = "{dxl.as_posix()}"', f'site = "{SITE}"', 'mapping = "builtin:discussion"',
             ""]
    run.mkdir(parents=True, exist_ok=True)
    job = run / "job.toml"
    job.write_text("\n".join(lines), encoding="utf-8")
    return job


# -- emulator ------------------------------------------------------------------------------------------------




# -- children ------------------------------------------------------------------------------------------------
def _startup_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_plan(job_path: str, out: str, cpu_out: str) -> None:
    """``notes2m365 plan JOB --out OUT --json``; the CPU after imports goes to ``cpu_out``."""
    import notes2m365.cli as cli
    import notes2m365.plan  # noqa: F401  (imports counted as startup)

    startup = _startup_cpu()
    code = 0
    try:
        cli.main(["plan", job_path, "--out", out, "--json"], standalone_mode=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        Path(cpu_out).write_text(json.dumps({"startup": startup, "exit": code}))
    sys.exit(code)


def child_migrate(job_path: str, cpu_out: str, profile: str | None) -> None:
    """``notes2m365 migrate JOB --json --no-progress``; startup and planning-thread CPU go to ``cpu_out``."""
    import notes2m365.cli as cli
    import notes2m365.executor  # noqa: F401  (imports counted as startup)
    import notes2m365.migrate as migrate
    import notes2m365.sitemigration  # noqa: F401

    startup = _startup_cpu()
    planning = time_planning(migrate)  # the planning CPU inside this process (its planning thread)

    def record(code: int) -> None:
        Path(cpu_out).write_text(json.dumps({"startup": startup, "planning": planning[0], "exit": code}))
    run_cli(cli, ["migrate", job_path, "--json", "--no-progress"], profile, record)


def run_child(args: list[str], stdout: Path) -> tuple[int, float, float]:
    """This script as a child; (exit status, wall s, user+sys CPU s from getrusage(RUSAGE_CHILDREN) deltas).

    Its stdout goes to ``stdout``, its stderr beside it (``.err``).  No other child may end meanwhile: the
    emulator (a child too) keeps running until this one has been waited for."""
    with open(stdout, "wb") as out, open(stdout.with_suffix(".err"), "wb") as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args], stdout=out, stderr=err,
                                cwd=str(ROOT))
        code = proc.wait()
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return code, wall, cpu


# -- one migrate pass ----------------------------------------------------------------------------------------


_ROUTER = None


def units_of(method: str, path: str) -> int:
    """The resource units the emulator charges for an admitted SharePoint request (its own cost function)."""
    global _ROUTER
    from notes2m365.emulator.router import Router
    from notes2m365.emulator.service import RESOURCE_MODULES
    from notes2m365.emulator.throttle import sharepoint_units

    if _ROUTER is None:
        _ROUTER = Router()
        for module in RESOURCE_MODULES:
            module.register(_ROUTER)
    route, _ = _ROUTER.match(method, path)
    return sharepoint_units(method, route.many, path, {})


def kind_of(entry: dict) -> str:
    """What a logged request was for (the rows of the module docstring's table)."""
    path, method = entry["path"].lower(), entry["method"]
    parts = path.split("/")
    if "/lists/" in path and parts[-1] == "items" and method == "POST":
        return "item create"
    if "/lists/" in path and "/items" in path and method == "GET" and "user information list" not in path:
        return "item lookup"
    if "/lists/" in path and "/items/" in path and method in ("PATCH", "DELETE"):
        return f"item {method.lower()}"
    if "user information list" in path:
        return "user list read"
    if path.endswith("/columns"):
        return "column " + ("create" if method == "POST" else "read")
    if path.endswith("/lists"):
        return "list " + ("create" if method == "POST" else "query")
    if parts[1:2] == ["sites"] and len(parts) == 3:
        return "site"
    return f"{method} other"


@dataclass
class Outcome:
    name: str
    items: int = 0
    wall: float = 0.0
    interval: float = 0.0  # T: first request to last answer at the emulator
    cpu: float = 0.0
    startup_cpu: float = 0.0
    plan_cpu_in_run: float = 0.0
    requests: int = 0  # every request the emulator logged, 429s included
    throttled: int = 0
    units: int = 0  # RU admitted
    setup_units: int = 0  # RU of requests other than item creates
    by_kind: Counter = field(default_factory=Counter)  # admitted requests by kind
    units_by_kind: Counter = field(default_factory=Counter)
    throttled_by_kind: Counter = field(default_factory=Counter)
    window_units: list[int] = field(default_factory=list)  # RU admitted per whole window from t0
    idle_gaps: list[float] = field(default_factory=list)  # seconds without any request in flight, > 0.5 s
    summary: dict = field(default_factory=dict)
    exit: int = 0

    def per_item_ms(self, cpu: float) -> float:
        return 1000 * cpu / max(1, self.items)

    @property
    def exec_cpu(self) -> float:
        return self.cpu - self.startup_cpu - self.plan_cpu_in_run


def analyse(out: Outcome, log: list[dict], s: Settings | None) -> None:
    spans = []
    for entry in log:
        end = epoch(entry["time"])
        start = end - entry["ms"] / 1000  # the emulator charges on arrival, before the added latency
        spans.append((start, end, entry))
        out.requests += 1
        kind = kind_of(entry)
        if entry["status"] == 429:
            out.throttled += 1
            out.throttled_by_kind[kind] += 1
            continue
        out.by_kind[kind] += 1
        if entry.get("budget") == "sharepoint":
            units = units_of(entry["method"], entry["path"])
            out.units += units
            out.units_by_kind[kind] += units
            if kind != "item create":
                out.setup_units += units
    if not spans:
        return
    spans.sort(key=lambda x: x[0])
    t0 = spans[0][0]
    out.interval = max(e for _, e, _ in spans) - t0
    busy_until = spans[0][1]
    for start, end, _ in spans[1:]:  # stretches with nothing in flight at the emulator
        if start - busy_until > 0.5:
            out.idle_gaps.append(start - busy_until)
        busy_until = max(busy_until, end)
    if s is not None:
        whole = math.floor(out.interval / s.window)
        out.window_units = [0] * whole
        for start, _, entry in spans:
            j = math.floor((start - t0) / s.window)
            if j < whole and entry["status"] != 429 and entry.get("budget") == "sharepoint":
                out.window_units[j] += units_of(entry["method"], entry["path"])


def migrate_pass(name: str, run: Path, dxl: Path, s: Settings, throttled: bool, profile: bool) -> Outcome:
    if run.exists():
        shutil.rmtree(run)
    port = free_port()
    job = write_job(run, dxl, port)
    throttle = None
    if throttled:
        throttle = {"sharepoint_units": s.units, "sharepoint_window_s": s.window,
                    "fractional_retry_after": str(s.fractional).lower()}
    emu = EmulatorProcess(port, None, s.latency_ms, throttle, run / "emulator.log")
    out = Outcome(name)
    try:
        args = ["--child-migrate", str(job), "--cpu-out", str(run / "cpu.json")]
        if profile:
            args += ["--child-profile", str(run / "migrate.prof")]
        out.exit, out.wall, out.cpu = run_child(args, run / "summary.json")
        log = emu.requests()
        (run / "requests.jsonl").write_text("".join(json.dumps(e) + "\n" for e in log), encoding="utf-8")
    finally:
        emu.stop()
    child = json.loads((run / "cpu.json").read_text())
    out.startup_cpu, out.plan_cpu_in_run = child["startup"], child["planning"]
    try:
        out.summary = json.loads((run / "summary.json").read_text())
    except ValueError:
        raise SystemExit(f"migrate did not print its summary (exit {out.exit}): see {run}")
    counts = out.summary.get("counts", {})
    # the ensure-list operation counts as created too: items are the list items only
    out.items = sum(1 for e in log if kind_of(e) == "item create" and e["status"] < 300)
    if sum(counts.get(k, 0) for k in ("created", "updated", "recovered")) != out.items + 1:
        print(f"note: {name}: summary counts {counts} vs {out.items} item creates in the request log", flush=True)
    analyse(out, log, s if throttled else None)
    return out


def plan_pass(run: Path, dxl: Path) -> dict:
    run.mkdir(parents=True, exist_ok=True)
    job = write_job(run, dxl, 9)
    code, wall, cpu = run_child(["--child-plan", str(job), "--plan-out", str(run / "plan.jsonl"),
                                 "--cpu-out", str(run / "plan-cpu.json")], run / "plan-summary.json")
    if code != 0:
        raise SystemExit(f"planning failed (exit {code}): see {run}")
    child = json.loads((run / "plan-cpu.json").read_text())
    return {"wall": wall, "cpu": cpu, "startup": child["startup"], "plan": cpu - child["startup"]}


# -- report --------------------------------------------------------------------------------------------------
def ceiling_units(s: Settings, seconds: float) -> int:
    """The most units a sliding window of U per W s admits in ``seconds`` (the burst at the start included)."""
    return s.units * (math.floor(seconds / s.window) + 1)


def report(s: Settings, docs: dict, plan: dict, results: list[Outcome]) -> dict:
    steady = s.units / s.window / ITEM_RU
    r_planned = SETUP_RU + ITEM_RU * s.items
    print(f"\nemulator: latency {s.latency_ms} ms; SharePoint budget {s.units} RU per {s.window:g} s (sliding, "
          f"throttled requests not charged; {'fractional' if s.fractional else 'whole-second'} Retry-After) = "
          f"{s.units / s.window:.1f} RU/s = {steady:.2f} item creates/s steady")
    print(f"job: {s.items} documents ({docs['topics']} topics, {docs['responses']} responses), builtin:discussion, "
          f"{WORKERS} workers; R = S + 2N = {SETUP_RU} + {ITEM_RU} x {s.items} = {r_planned} RU "
          f"({r_planned / s.units:.2f} budgets)")
    print(f"\n{'pass':<12}{'items':>6}{'T s':>7}{'items/s':>8}{'ceiling':>8}{'ceil/s':>7}{'ratio':>7}{'T min':>6}"
          f"{'Tmin/T':>7}{'budget':>7}{'req/item':>9}{'RU/item':>8}{'429s':>5}{'retries':>8}{'waited':>7}"
          f"{'idle s':>7}")
    rows = []
    for r in results:
        g = r.summary.get("graph", {})
        rate = r.items / r.interval if r.interval else 0.0
        row = {"pass": r.name, "items": r.items, "interval_s": round(r.interval, 3), "items_per_s": round(rate, 3)}
        if r.name == "throttled":
            cap_items = max(0, (ceiling_units(s, r.interval) - r.setup_units) // ITEM_RU)
            ratio = r.items / cap_items if cap_items else 0.0
            least = s.window * (math.ceil(r.units / s.units) - 1)  # from the RU the run actually needed
            used = sum(r.window_units) / (s.units * len(r.window_units)) if r.window_units else None
            row.update(ceiling_items=cap_items, ceiling_items_per_s=round(cap_items / r.interval, 3),
                       steady_items_per_s=round(steady, 3), ratio=round(ratio, 4), t_min_s=least,
                       t_min_ratio=round(least / r.interval, 4) if r.interval else None,
                       budget_used=round(used, 4) if used is not None else None)
            cells = (f"{cap_items:>8}{cap_items / r.interval:>7.2f}{ratio:>7.1%}{least:>6.0f}"
                     f"{least / r.interval:>7.1%}{(f'{used:.1%}' if used is not None else '-'):>7}")
        else:
            cells = f"{'-':>8}{'-':>7}{'-':>7}{'-':>6}{'-':>7}{'-':>7}"
        print(f"{r.name:<12}{r.items:>6}{r.interval:>7.1f}{rate:>8.2f}{cells}"
              f"{r.requests / max(1, r.items):>9.3f}{r.units / max(1, r.items):>8.3f}{r.throttled:>5}"
              f"{g.get('retries', 0):>8}{g.get('wait_seconds', 0):>7.1f}{sum(r.idle_gaps):>7.1f}")
        row.update(requests=r.requests, requests_per_item=round(r.requests / max(1, r.items), 4), units=r.units,
                   setup_units=r.setup_units, throttled=r.throttled, throttled_by_kind=dict(r.throttled_by_kind),
                   admitted_by_kind=dict(r.by_kind), units_by_kind=dict(r.units_by_kind),
                   window_units=r.window_units, idle_gaps_s=[round(x, 2) for x in r.idle_gaps],
                   cpu_s=round(r.cpu, 3), startup_cpu_s=round(r.startup_cpu, 3),
                   plan_cpu_in_run_s=round(r.plan_cpu_in_run, 3), wall_s=round(r.wall, 3), graph=g, exit=r.exit,
                   outcome=r.summary.get("outcome"))
        rows.append(row)
    print("T: first request to last answer at the emulator; ceiling: (U x (floor(T/W) + 1) - setup RU) / 2 items "
          "in T;\nT min: W x (ceil(RU admitted / U) - 1), the least T for the RU the run needed; budget: RU "
          "admitted in T's\nwhole windows / U per window; req/item: every request, 429s included, per item; "
          "RU/item: RU admitted\n(setup included) per item; retries, waited (s): the client's (--json summary); "
          "idle s: stretches over 0.5 s\nwith no request in flight at the emulator.")
    for r in results:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(r.by_kind.items()))
        print(f"{r.name}: admitted {kinds}; 429s by kind {dict(r.throttled_by_kind) or '{}'}")
        if r.window_units:
            print(f"  RU admitted per window from t0: {r.window_units} (U = {s.units})")
        if r.idle_gaps:
            gaps = [round(x, 2) for x in r.idle_gaps]
            print(f"  idle stretches (s): {gaps if len(gaps) <= 12 else gaps[:12] + ['...']}")
    print(f"\n{'pass':<12}{'CPU s':>7}{'ms/item':>8}{'startup s':>10}{'plan ms/item':>13}{'exec ms/item':>13}"
          f"{'wall s':>7}")
    for r in results:
        print(f"{r.name:<12}{r.cpu:>7.2f}{r.per_item_ms(r.cpu):>8.3f}{r.startup_cpu:>10.2f}"
              f"{r.per_item_ms(r.plan_cpu_in_run):>13.3f}{r.per_item_ms(r.exec_cpu):>13.3f}{r.wall:>7.1f}")
    n = max(1, s.items)
    print(f"{'plan alone':<12}{plan['cpu']:>7.2f}{1000 * plan['cpu'] / n:>8.3f}{plan['startup']:>10.2f}"
          f"{1000 * plan['plan'] / n:>13.3f}{'-':>13}{plan['wall']:>7.1f}")
    print("CPU: user+sys of the child process; startup: interpreter and imports; plan: the planning thread "
          "inside the run\n(thread CPU), for 'plan alone' `notes2m365 plan` minus its startup (it also writes the "
          "plan); exec = CPU - startup - plan.")
    marginal = None
    by_name = {r.name: r for r in results}
    a = next((r for r in results if r.name.startswith("unthr-")), None)
    b = by_name.get("unthrottled")
    if a is not None and b is not None and b.items > a.items:
        k = b.items - a.items
        marginal = {"total_ms": 1000 * (b.cpu - a.cpu) / k, "exec_ms": 1000 * (b.exec_cpu - a.exec_cpu) / k,
                    "plan_ms": 1000 * (b.plan_cpu_in_run - a.plan_cpu_in_run) / k}
        fixed = b.exec_cpu - b.items * marginal["exec_ms"] / 1000
        marginal["fixed_exec_s"] = fixed
        print(f"marginal CPU per item ({a.items} -> {b.items} items, unthrottled): {marginal['total_ms']:.3f} ms, "
              f"of which execution {marginal['exec_ms']:.3f} ms and planning {marginal['plan_ms']:.3f} ms; fixed "
              f"execution cost (Graph client set-up and its lazy imports, list provisioning) about {fixed:.2f} s")
        t = by_name.get("throttled")
        if t is not None:
            extra = 1000 * (t.exec_cpu - b.exec_cpu) / max(1, t.items)
            print(f"throttled vs unthrottled execution CPU: {extra:+.3f} ms per item (429s, retries, waiting)")
    return {"settings": s.__dict__, "documents": docs, "plan": {k: round(v, 3) for k, v in plan.items()},
            "marginal_cpu": {k: round(v, 4) for k, v in marginal.items()} if marginal else None, "results": rows}


def print_profile(path: Path, top: int) -> None:
    import pstats

    print(f"\nprofile of the throttled migrate's event-loop thread (thread CPU; planning runs in another): {path}")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: small budget and window, a few seconds")
    parser.add_argument("--items", type=int, help="documents (default: just under --windows budgets)")
    parser.add_argument("--units", type=int, help="throttle.sharepoint_units (U)")
    parser.add_argument("--window", type=float, help="throttle.sharepoint_window_s (W)")
    parser.add_argument("--windows", type=int, help="size the job to just under this many budgets (k)")
    parser.add_argument("--latency-ms", type=int)
    parser.add_argument("--fractional-retry-after", action="store_true",
                        help="the emulator sends Retry-After with milliseconds (default: whole seconds)")
    parser.add_argument("--unthrottled", action=argparse.BooleanOptionalAction, default=True,
                        help="also migrate with throttling off (default: yes)")
    parser.add_argument("--profile", action="store_true", help="cProfile the throttled migrate's event loop")
    parser.add_argument("--profile-top", type=int, default=30)
    parser.add_argument("--data", default=str(ROOT / "bench-data" / "sites"), help="where data and runs go")
    # internal: the child processes
    parser.add_argument("--child-plan", help=argparse.SUPPRESS)
    parser.add_argument("--plan-out", help=argparse.SUPPRESS)
    parser.add_argument("--child-migrate", help=argparse.SUPPRESS)
    parser.add_argument("--cpu-out", help=argparse.SUPPRESS)
    parser.add_argument("--child-profile", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_plan:
        return child_plan(args.child_plan, args.plan_out, args.cpu_out)
    if args.child_migrate:
        return child_migrate(args.child_migrate, args.cpu_out, args.child_profile)

    base = QUICK if args.quick else DEFAULT
    units = args.units or base["units"]
    windows = args.windows or base["windows"]
    s = Settings(latency_ms=args.latency_ms if args.latency_ms is not None else base["latency_ms"],
                 units=units, window=args.window or base["window"], windows=windows,
                 items=args.items or items_for(units, windows), fractional=args.fractional_retry_after,
                 unthrottled=args.unthrottled)
    data = Path(args.data).resolve()
    work = data / ("runs-quick" if args.quick else "runs")
    work.mkdir(parents=True, exist_ok=True)
    dxl = data / f"discussion-{s.items}.dxl"
    docs = write_discussion(dxl, s.items)
    plan = plan_pass(work / "plan", dxl)
    print(f"plan: {plan['cpu']:.2f} s CPU ({plan['startup']:.2f} s startup) for {s.items} documents", flush=True)
    results = []
    small = max(1, s.items // 5)
    if s.unthrottled:
        small_dxl = data / f"discussion-{small}.dxl"
        write_discussion(small_dxl, small)
        for name, source in ((f"unthr-{small}", small_dxl), ("unthrottled", dxl)):
            r = migrate_pass(name, work / name, source, s, False, False)
            print(f"{name}: {r.items} items in {r.interval:.1f} s ({r.items / max(r.interval, 1e-9):.1f}/s), "
                  f"{r.per_item_ms(r.cpu):.2f} ms CPU/item", flush=True)
            results.append(r)
    r = migrate_pass("throttled", work / "throttled", dxl, s, True, args.profile)
    print(f"throttled: {r.items} items in {r.interval:.1f} s ({r.items / max(r.interval, 1e-9):.2f}/s), "
          f"{r.throttled} throttled, {r.per_item_ms(r.cpu):.2f} ms CPU/item", flush=True)
    results.append(r)
    print(json.dumps(report(s, docs, plan, results)))
    if args.profile:
        print_profile(work / "throttled" / "migrate.prof", args.profile_top)
    bad = [r for r in results if r.exit != 0 or r.items != (s.items if not r.name.startswith("unthr-") else small)]
    if bad:
        raise SystemExit(f"not every item migrated: {[(r.name, r.items, r.exit) for r in bad]}")

if __name__ == "__main__":
    main()
