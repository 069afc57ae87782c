"""What the processes of a mailbox migration import: every module costs each run its CPU to load.

A planning worker (``plan._plan_elsewhere``, unpickled in a spawned process) imports ``notes2m365.plan``; the
``migrate`` command imports the CLI, the migration and the executor.  Neither needs SharePoint application
planning, MIME decoding with the email package, or (the migrating process, whose sources are planned by
workers) the DXL reader: they are imported where they are used.
"""

from __future__ import annotations

import json
import subprocess
import sys

NEVER_FOR_MAIL = ("notes2m365.appplan", "notes2m365.mime", "email.policy", "email.headerregistry")


def imported_by(statement: str) -> set[str]:
    """The modules a fresh interpreter has loaded after ``statement``."""
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_a_planning_worker_imports_no_application_planning_and_no_mime():
    modules = imported_by("import notes2m365.plan")
    assert not modules & {*NEVER_FOR_MAIL, "email"}, sorted(modules & {*NEVER_FOR_MAIL, "email"})


def test_the_migrating_process_imports_neither_the_reader_nor_other_commands():
    modules = imported_by("import notes2m365.cli, notes2m365.migrate, notes2m365.executor")
    unwanted = {*NEVER_FOR_MAIL, "notes2m365.dxl", "notes2m365.inventory", "notes2m365.report",
                "notes2m365.verify", "notes2m365.compare", "notes2m365.emulator", "azure.identity"}
    assert not modules & unwanted, sorted(modules & unwanted)


def test_the_cli_leaves_the_interpreter_exit_cheap():
    """At exit the interpreter's teardown collects over every live object (about 80 ms of CPU after a migration);
    the CLI freezes them first (``atexit``), so that the teardown skips them."""
    code = ("import atexit, gc, notes2m365.cli\n"
            "calls = []\n"
            "atexit.register(lambda: calls.append(gc.get_freeze_count()))\n"  # runs before the CLI's (last in, first out)
            "atexit._run_exitfuncs()\n"
            "print(calls[0] == 0, gc.get_freeze_count() > 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["True", "True"]
