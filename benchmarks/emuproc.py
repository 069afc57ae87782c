"""What the benchmarks share: the Graph emulator in a process of its own, a free port, log timestamps."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class EmulatorProcess:
    """``notes2m365 emulator`` in a child process (``tenant``: a tenant file, None for the demo tenant)."""

    def __init__(self, port: int, tenant: Path | None, latency_ms: int, throttle: dict[str, object] | None,
                 log: Path) -> None:
        args = [sys.executable, "-c", "import sys; from notes2m365.cli import main; sys.exit(main())",
                "-q", "emulator", "--port", str(port), "--latency-ms", str(latency_ms)]
        if tenant is not None:
            args += ["--tenant", str(tenant)]
        if throttle is None:
            args.append("--no-throttle")
        else:
            for key, value in throttle.items():
                args += ["--set", f"throttle.{key}={value}"]
        self.port = port
        self.root = f"http://127.0.0.1:{port}"
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, cwd=str(ROOT))
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.root + "/_emulator/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the emulator did not start; see {log}")
            time.sleep(0.05)

    def cpu(self) -> float:
        """User+sys CPU seconds of the emulator process so far (/proc/PID/stat)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def requests(self) -> list[dict]:
        with urllib.request.urlopen(self.root + "/_emulator/requests", timeout=60) as r:
            return json.loads(r.read())["value"]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def time_planning(migrate: object) -> list[float]:
    """Wrap ``migrate.plan_sources`` so that the CPU of each ``next()`` of the plan (run in a worker thread of
    the event loop, ``asyncio.to_thread``) is added up: returns the one-element accumulator, in seconds."""
    planning = [0.0]
    plan_sources = migrate.plan_sources  # type: ignore[attr-defined]

    def timed_plan_sources(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        plans = plan_sources(*args, **kwargs)
        while True:
            started = time.thread_time()
            try:
                planned = next(plans)
            except StopIteration:
                return
            finally:
                planning[0] += time.thread_time() - started
            yield planned
    migrate.plan_sources = timed_plan_sources  # type: ignore[attr-defined]
    return planning


def run_cli(cli: object, args: list[str], profile: str | None, after: Callable[[int], None]) -> None:
    """``notes2m365 ARGS`` through the CLI module, with the event loop's thread profiled to ``profile`` when
    given; ``after(exit code)`` runs once the command has ended (the caller writes its figures there), then
    the process exits with that code."""
    profiler = None
    if profile:
        import cProfile
        profiler = cProfile.Profile(time.thread_time)  # the event loop's thread: planning runs in another
        profiler.enable()
    code = 0
    try:
        cli.main(args, standalone_mode=True)  # type: ignore[attr-defined]
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        after(code)
    sys.exit(code)
