#!/usr/bin/env python3
"""The child processes of ``bench_migrate.py``: the plan pass and ``notes2m365 migrate`` with its CPU recorded.

Nothing is imported at the top of this module but ``sys``: the planning worker processes that ``migrate``
spawns run their parent's main module again (multiprocessing's spawn start method), so whatever this
module imported would be counted as their start-up.  Run by ``bench_migrate.run_child``:

    bench_child.py --child-plan JOB
    bench_child.py --child-migrate JOB --cpu-out FILE [--child-pace L:W] [--child-profile FILE]
"""

import sys


def child_plan(job_path: str) -> None:
    """Plan the job as ``migrate`` does (source after source) and print the planning CPU as JSON."""
    import json
    import time

    from notes2m365.job import load_job
    from notes2m365.plan import PlanResult, identity_for, plan_sources

    job = load_job(job_path)
    result = PlanResult()
    started = time.process_time()
    ops = 0
    for planned in plan_sources(job, identity_for(job), result):
        ops += len(planned.operations)
    cpu = time.process_time() - started
    print(json.dumps({"cpu": cpu, "documents": result.documents_read, "operations": ops}))


def child_migrate(job_path: str, cpu_out: str, pace: tuple[int, float] | None, profile: str | None) -> None:
    """``notes2m365 migrate JOB --json --no-progress``, optionally told the emulator's per-mailbox limit."""
    import json
    import resource
    from pathlib import Path

    from emuproc import run_cli, time_planning  # beside this file; imported here, not at the top (see the docstring)

    import notes2m365.cli as cli
    import notes2m365.executor  # noqa: F401  (imports counted as startup)
    import notes2m365.graph as graph
    import notes2m365.migrate as migrate

    startup = resource.getrusage(resource.RUSAGE_SELF)
    planning = time_planning(migrate)  # the planning CPU inside this process (its planning thread)
    paced = False
    if pace is not None:
        fields = graph.GraphSettings.__dataclass_fields__
        if "mailbox_requests" in fields and "mailbox_window_s" in fields:
            original = migrate.graph_settings

            def graph_settings(job):  # noqa: ANN001, ANN202
                from dataclasses import replace
                return replace(original(job), mailbox_requests=pace[0], mailbox_window_s=pace[1])
            migrate.graph_settings = graph_settings
            paced = True

    def record(code: int) -> None:
        own = resource.getrusage(resource.RUSAGE_SELF)  # this process alone: its planning workers are children
        Path(cpu_out).write_text(json.dumps({"startup": startup.ru_utime + startup.ru_stime, "paced": paced,
                                             "planning": planning[0], "own": own.ru_utime + own.ru_stime,
                                             "exit": code}))
    run_cli(cli, ["migrate", job_path, "--json", "--no-progress"], profile, record)


def main(argv: list[str]) -> int | None:
    opts = dict(zip(argv[::2], argv[1::2]))
    if "--child-plan" in opts:
        return child_plan(opts["--child-plan"])
    pace = None
    if "--child-pace" in opts:
        limit, window = opts["--child-pace"].split(":")
        pace = (int(limit), float(window))
    return child_migrate(opts["--child-migrate"], opts["--cpu-out"], pace, opts.get("--child-profile"))


if __name__ == "__main__":
    import os

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout's package
    sys.exit(main(sys.argv[1:]))
