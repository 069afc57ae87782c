#!/usr/bin/env python3
"""Verification throughput against the Graph emulator, with the bare listing of the same pages as baseline.

The emulator runs in its own process with ``--latency-ms`` per answer and throttling off.  The job is
``bench_migrate``'s: N mailboxes of plain messages (``make_dxl.py --kind plain``), migrated first (not
measured).  Then, in one run:

``verify``    ``notes2m365 verify JOB --json`` in a child process: wall time, its CPU (user+sys from
              ``wait4``), Graph requests (the emulator's request log), items compared per second.
``sample``    the same with ``--sample 10 --seed 1``.
``baseline``  this process, with httpx and nothing else: every planned folder listed page by page with
              the same ``$select``/``$expand``/``$top`` verify uses, mailboxes in parallel.  It is the
              floor of a full verification (the pages have to be read); the ratio verify / baseline is
              what comparing, bookkeeping and reporting add.
``plan``      ``notes2m365 plan JOB`` in a child process: reading and planning the source, which verify
              has to do too (it compares with the plan), wall and CPU.
``startup``   the interpreter and the imports of ``notes2m365 verify`` alone (CPU), subtracted for the
              CPU per item.

    python benchmarks/bench_verify.py                 # 4 mailboxes x 500 messages
    python benchmarks/bench_verify.py --quick         # smoke test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench_migrate import prepare_data, write_job  # noqa: E402
from emuproc import EmulatorProcess, free_port  # noqa: E402

CLI = "import sys; from notes2m365.cli import main; sys.exit(main())"


def timed(args: list[str], out: Path) -> tuple[int, float, float]:
    """A child process: (exit status, wall seconds, user+sys CPU seconds)."""
    with open(out, "wb") as stdout, open(out.with_suffix(".err"), "wb") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *args], stdout=stdout, stderr=stderr, cwd=str(ROOT))
        _, status, usage = os.wait4(proc.pid, 0)
        return os.waitstatus_to_exitcode(status), time.perf_counter() - started, usage.ru_utime + usage.ru_stime


async def baseline(base: str, job_path: Path) -> tuple[float, int, int]:
    """Every planned folder listed with verify's own query options: (seconds, requests, items)."""
    import httpx

    from notes2m365.exchange import mailbox_of
    from notes2m365.job import load_job
    from notes2m365.plan import build_plan
    from notes2m365.verify import _FULL_SELECT, _KEY_EXPAND, PAGE

    folders: dict[str, set[str]] = defaultdict(set)
    for op in build_plan(load_job(job_path)).operations:
        if op.op == "create-message":
            folders[mailbox_of(op.container)].add(op.container.split("/folder:", 1)[1])
    requests = items = 0
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": "Bearer bench"}, timeout=120) as client:
        async def mailbox(upn: str) -> None:
            nonlocal requests, items
            for folder in sorted(folders[upn]):
                response = await client.get(f"/users/{upn}/mailFolders/{folder}/messages", params={
                    "$top": PAGE, "$select": _FULL_SELECT["create-message"], "$expand": _KEY_EXPAND})
                while True:
                    requests += 1
                    body = response.json()
                    items += len(body["value"])
                    if not body.get("@odata.nextLink"):
                        break
                    response = await client.get(body["@odata.nextLink"])
        started = time.perf_counter()
        await asyncio.gather(*(mailbox(upn) for upn in folders))
        return time.perf_counter() - started, requests, items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mailboxes", type=int, default=4)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.mailboxes, args.messages = 2, 60
    data = ROOT / "bench-data" / "migrate"
    prepare_data(data, args.mailboxes, args.messages)
    work = ROOT / "bench-data" / "verify-run"
    if work.exists():
        shutil.rmtree(work)
    port = free_port()
    job = write_job(data, work, args.mailboxes, args.messages, port)
    emu = EmulatorProcess(port, data / "tenant.toml", args.latency_ms, None, work / "emulator.log")
    try:
        code, wall, _ = timed(["-c", CLI, "-q", "migrate", str(job), "--no-progress", "--json"], work / "migrate.json")
        if code != 0:
            raise SystemExit(f"migration failed ({code}): see {work / 'migrate.json'}")
        print(f"migrated {args.mailboxes} x {args.messages} plain messages in {wall:.1f} s (not measured)")
        _, _, startup_cpu = timed(["-c", "import notes2m365.cli, notes2m365.verify, notes2m365.verifyreport, "
                                   "notes2m365.graph, tqdm"], work / "startup.out")
        code, plan_wall, plan_cpu = timed(["-c", CLI, "-q", "plan", str(job), "--out", str(work / "plan.jsonl")],
                                          work / "plan.out")
        if code != 0:
            raise SystemExit(f"plan failed ({code}): see {work / 'plan.out'}")
        rows = []
        for label, extra in (("verify", []), ("sample 10 %", ["--sample", "10", "--seed", "1"])):
            before = len(emu.requests())
            code, wall, cpu = timed(["-c", CLI, "-q", "verify", str(job), "--no-progress", "--json", "--out",
                                     str(work / "report"), *extra], work / "verify.json")
            report = json.loads((work / "verify.json").read_text())
            if code != 0 or not report["ok"]:
                raise SystemExit(f"verify did not come out clean ({code}): see {work / 'verify.json'}")
            compared = sum(report["counts"].values())
            requests = len(emu.requests()) - before
            rows.append((label, compared, wall, cpu, requests))
        base_s, base_requests, base_items = asyncio.run(baseline(emu.root + "/v1.0", job))
    finally:
        emu.stop()
    print(f"emulator latency {args.latency_ms} ms, throttling off; startup CPU {startup_cpu:.2f} s (subtracted)")
    print(f"baseline: {base_items} messages listed in {base_requests} requests, {base_s:.2f} s "
          f"({base_items / base_s:.0f} items/s)")
    planned = args.mailboxes * args.messages
    print(f"plan alone (notes2m365 plan): {plan_wall:.2f} s wall, {plan_cpu:.2f} s CPU")
    print(f"{'run':<12} {'compared':>8} {'wall s':>7} {'items/s':>8} {'x baseline':>10} {'x plan+baseline':>15} "
          f"{'requests':>8} {'req/item':>8} {'CPU s':>6} {'CPU ms/planned item':>19}")
    for label, compared, wall, cpu, requests in rows:
        print(f"{label:<12} {compared:>8} {wall:>7.2f} {compared / wall:>8.0f} {wall / base_s:>10.2f} "
              f"{wall / (plan_wall + base_s):>15.2f} {requests:>8} {requests / compared:>8.3f} {cpu:>6.2f} "
              f"{(cpu - startup_cpu) / planned * 1000:>19.2f}")


if __name__ == "__main__":
    main()
