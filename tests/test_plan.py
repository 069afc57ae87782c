"""The demo job's plan: golden, deterministic, and accounting for every document inspect counts."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from notes2m365.cli import main
from notes2m365.job import load_job
from notes2m365.plan import build_plan, estimate

from .make_golden import PLAN_GOLDEN, render_plan

DEMO = Path(__file__).resolve().parents[1] / "samples" / "demo.toml"


def test_demo_plan_matches_the_golden_file():
    """On an intended change: python -m tests.make_golden, then review the diff."""
    assert render_plan() == PLAN_GOLDEN.read_text("utf-8")


def test_plan_accounts_for_every_document_inspect_counts():
    inspect = json.loads(CliRunner().invoke(main, ["inspect", str(DEMO.parent), "--json"]).stdout)
    result = build_plan(load_job(DEMO))
    summary = result.summary()
    assert summary["documents"] == inspect["documents"] == 32
    planned = sum(1 for op in result.operations if op.op.startswith("create-") or op.key.endswith("#body"))
    left_out = sum(summary["left_out"].values()) + sum(summary["unmapped_forms"].values())
    assert planned + left_out == summary["documents"]


def test_plan_keys_are_unique_and_dependencies_point_backwards():
    seen: set[str] = set()
    for op in build_plan(load_job(DEMO)).operations:
        assert op.key not in seen
        assert all(dep in seen for dep in op.depends_on), op.key
        seen.add(op.key)


def test_plan_paths_are_relative_to_the_job_file():
    sources = {op.source_file for op in build_plan(load_job(DEMO)).operations if op.source_file}
    assert sources == {"mail/jdoe-mail.dxl", "mail/jdoe-calendar.dxl", "mail/jdoe-todo.dxl",
                       "contacts/jdoe-names.dxl", "apps/teamroom-discussion.dxl"}


def test_estimate_follows_the_published_limits():
    from notes2m365.operations import Operation
    ops = [Operation("create-message", "mailbox:a@x/folder:inbox", f"R/{n}", {"subject": "s"}) for n in range(20_000)]
    est = estimate(ops, {"a@x": ops}, concurrency=4)
    assert est["mailboxes_seconds"] == 1200.0  # 20,000 requests at 10,000 per 10 minutes
    assert est["bound_by"] == "mailbox request and upload limits"


def test_a_planning_worker_keeps_its_identity_map_but_counts_each_source_once(tmp_path):
    """A worker plans several sources with one identity map (names resolved once); the unresolved names it
    hands over are each source's own, so the job's counts equal planning in one process."""
    from notes2m365.plan import PlanResult, identity_for, plan_sources

    samples = Path(__file__).resolve().parent.parent / "samples"
    lines = ["[job]", 'name = "four"', "[target]", 'graph_url = "http://127.0.0.1:9/v1.0"', "[identity]",
             f'map = "{(samples / "identity.csv").as_posix()}"', 'fallback_domain = "acme.example"',
             'fallback_orgs = ["Acme"]']
    for n in range(4):  # the same mail file in four folders: a file is one source only
        (tmp_path / str(n)).mkdir()
        for dxl in (samples / "mail").glob("jdoe-*.dxl"):
            (tmp_path / str(n) / dxl.name).write_bytes(dxl.read_bytes())
        lines += ["[[mailbox]]", f'source = "{n}/jdoe-*.dxl"', f'mailbox = "user{n}@acme.example"']
    (tmp_path / "job.toml").write_text("\n".join(lines), encoding="utf-8")
    job = load_job(tmp_path / "job.toml")

    def run(workers: int):
        result, identity, lines = PlanResult(), identity_for(job), []
        for planned in plan_sources(job, identity, result, workers=workers):
            lines += [op.line() for op in planned.operations]
        return lines, identity.unresolved()

    serial = run(0)
    assert ("Sales Team EMEA", 4) in serial[1]
    assert run(1) == serial and run(2) == serial  # one worker planned all four sources; two, two each


def test_sources_planned_in_worker_processes_give_the_same_operations_and_content():
    """[migrate] plan_processes: the same operations in the same order, the same counts and unresolved names;
    content is read again in the consuming process when an operation needs it."""
    from notes2m365.plan import PlanResult, identity_for, plan_sources

    job = load_job(Path(__file__).resolve().parent.parent / "samples" / "demo.toml")

    def run(workers: int):
        result, identity, lines, sizes = PlanResult(), identity_for(job), [], []
        for planned in plan_sources(job, identity, result, workers=workers):
            lines += [op.line() for op in planned.operations]
            sizes += [len(planned.content.read(ref)) for op in planned.operations for ref in op.content]
        return lines, sizes, result.documents_read, dict(result.documents_by_form), identity.unresolved(), \
            dict(result.issues.left_out)

    serial, parallel = run(0), run(2)
    assert parallel == serial and serial[1]  # the demo has attachments and images to read again


def test_a_document_in_two_files_of_a_source_is_planned_once(tmp_path):
    """Overlapping exports: the same documents (same replica and UNID) in two files of one source give one
    operation per key (two would let a migration create the item twice) and a left-out count."""
    from notes2m365.plan import build_plan

    samples = Path(__file__).resolve().parent.parent / "samples"
    mail = samples / "mail" / "jdoe-mail.dxl"
    (tmp_path / "a-mail.dxl").write_bytes(mail.read_bytes())
    (tmp_path / "b-mail-again.dxl").write_bytes(mail.read_bytes())
    (tmp_path / "job.toml").write_text("\n".join([
        "[job]", 'name = "dup"', "[target]", 'graph_url = "http://127.0.0.1:9/v1.0"', "[identity]",
        'fallback_domain = "acme.example"', 'fallback_orgs = ["Acme"]', "[[mailbox]]", 'source = "*.dxl"',
        'mailbox = "jane.doe@acme.example"']), encoding="utf-8")
    plan = build_plan(load_job(tmp_path / "job.toml"))
    keys = [op.key for op in plan.operations]
    assert len(keys) == len(set(keys))
    once = build_plan(load_job_for(tmp_path, mail))
    assert keys == [op.key for op in once.operations]
    (reason, count), = [(k, v) for k, v in plan.issues.left_out.items() if "earlier file" in k]
    assert count == sum(1 for op in once.operations if op.op == "create-message") > 0


def load_job_for(tmp_path, mail):
    """The same job over one copy of the file."""
    single = tmp_path / "single"
    single.mkdir()
    (single / "a-mail.dxl").write_bytes(mail.read_bytes())
    (single / "job.toml").write_text((tmp_path / "job.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return load_job(single / "job.toml")
