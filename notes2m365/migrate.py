"""Running a migration: the job's plan streamed into the executor, Ctrl-C handling, dry runs, summaries.

:func:`run_migration` is what ``notes2m365 migrate`` and ``notes2m365 demo``
call: it opens the state store and a :class:`~notes2m365.graph.GraphClient`
for the job's target, plans source after source and hands each to the
executor, and turns the first SIGINT into a graceful stop (requests in
flight finish, their items are recorded) and a second one into an abort
(the state stays resumable: started items are looked up on the next run).

:func:`preflight` is ``migrate --dry-run``: it reads the tenant (each
mailbox exists and its mail, calendar, contacts and To Do can be read; which
folders exist) and the state, and says what a run would create, update or
leave alone.  It sends no write and does not create the state store.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import FatalGraphError, PermanentGraphError, SinkError
from .exchange import ENSURE_KINDS, MailboxTarget, mailbox_of
from .executor import OUTCOMES, Migration, Progress, RunSummary, decide
from .graph import GraphClient, GraphSettings, graph_path
from .job import Job
from .plan import PlanResult, SourcePlan, identity_for, plan_sources
from .sharepoint import SiteTarget, incompatibility
from .sitemigration import site_of
from .state import SqliteStateStore, open_state


log = logging.getLogger("notes2m365.migrate")


def graph_settings(job: Job) -> GraphSettings:
    s = job.migrate
    return GraphSettings(requests_per_second=s.requests_per_second, mailbox_concurrency=s.mailbox_concurrency,
                         mailbox_requests=s.mailbox_requests, mailbox_window_s=s.mailbox_window_s)


@dataclass
class MigrationResult:
    summary: RunSummary
    plan: PlanResult
    state_path: str
    verified: dict[str, Any] | None = None
    log_path: str | None = None


def run_migration(job: Job, *, retry_failed: bool = False, progress: Progress | None = None,
                  graph: GraphClient | None = None) -> MigrationResult:
    """Migrate ``job`` (blocking); raises StateError when the state store is in use or unreadable."""
    state = open_state(job.state)
    try:
        return asyncio.run(_migrate(job, state, retry_failed, progress, graph))
    finally:
        state.close()


async def _migrate(job: Job, state: SqliteStateStore, retry_failed: bool, progress: Progress | None,
                   graph: GraphClient | None) -> MigrationResult:
    client = graph or GraphClient(job.target, graph_settings(job))
    plan = PlanResult()
    identity = identity_for(job)
    try:
        migration = Migration(client, state, job.migrate, concurrency=job.concurrency, retry_failed=retry_failed,
                              progress=progress)
        workers = job.migrate.planning_workers(len(job.sources))

        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        presses = 0

        def on_sigint() -> None:
            nonlocal presses
            presses += 1
            migration.stop()
            if presses > 1 and task is not None:
                task.cancel()

        try:
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests), or no signals here
            pass
        try:
            summary = await migration.run(plan_sources(job, identity, plan, workers=workers))
        except asyncio.CancelledError:
            migration.summary.interrupted = True
            summary = migration.summary
        finally:
            try:
                loop.remove_signal_handler(signal.SIGINT)
            except (NotImplementedError, RuntimeError):
                pass
        plan.unresolved = identity.unresolved()
        for error in plan.issues.errors:
            log.error("not migrated, cannot be read: %s", error)
        return MigrationResult(summary, plan, job.state)
    finally:
        if graph is None:
            await client.aclose()


async def resolve_container(graph: GraphClient, target: MailboxTarget, container: str) -> str:
    """A container's Graph id by reading the mailbox (no state needed): folders walked by name."""
    known = target.well_known(container)
    if known:
        return known
    upn = mailbox_of(container)
    _, _, rest = container.partition("/")
    if rest in ("calendar", "contacts"):
        return rest
    if rest == "todo:Tasks":
        return await target.default_todo_list(upn)
    kind, _, name = rest.partition(":")
    if kind == "todo":
        base = graph_path("users", upn, "todo", "lists")
    elif kind == "contacts":
        base = graph_path("users", upn, "contactFolders")
    else:
        parent = "msgfolderroot"
        for level in [p.replace("%2F", "/").replace("%25", "%") for p in name.split("/")]:
            found = await target._by_name(graph_path("users", upn, "mailFolders", parent, "childFolders"), level,
                                          upn)
            if found is None:
                raise PermanentGraphError(404, "ErrorItemNotFound", f"{container}: folder '{level}' not found")
            parent = found
        return parent
    found = await target._by_name(base, name, upn)
    if found is None:
        raise PermanentGraphError(404, "ErrorItemNotFound", f"{container}: not found")
    return found


# -- dry run ----------------------------------------------------------------------------------------------------
@dataclass
class TargetReport:
    """What ``migrate --dry-run`` found for one mailbox or site and what a run would do there."""

    target: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)  # (what, ok, detail)
    would: Counter[str] = field(default_factory=Counter)  # "create message", "nothing (done)" ...

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


def preflight(job: Job, retry_failed: bool = False, graph: GraphClient | None = None
              ) -> tuple[list[TargetReport], PlanResult, int]:
    """The dry run (blocking); returns the reports, the plan result and the writes sent (always 0)."""
    state = open_state(job.state, read_only=True) if Path(job.state).is_file() else None
    try:
        return asyncio.run(_preflight(job, state, retry_failed, graph))
    finally:
        if state is not None:
            state.close()


async def _preflight(job: Job, state: SqliteStateStore | None, retry_failed: bool,
                     graph: GraphClient | None) -> tuple[list[TargetReport], PlanResult, int]:
    client = graph or GraphClient(job.target, graph_settings(job))
    plan = PlanResult()
    reports: dict[str, TargetReport] = {}
    target = MailboxTarget(client, job.migrate)
    try:
        for planned in plan_sources(job, identity_for(job), plan):
            name = planned.source.target.lower()
            report = reports.setdefault(name, TargetReport(planned.source.target))
            if planned.source.kind != "mailbox":
                await _check_sites(client, report, planned, state, retry_failed)
                continue
            await _check_mailbox(client, target, report, planned)
            for op in planned.operations:
                prev = state.get(op.key) if state is not None else None
                if op.op in ENSURE_KINDS:
                    if prev is not None and prev.status == "done":
                        report.would[f"nothing: {op.op[7:]} exists (done)"] += 1
                    continue  # counted by _check_mailbox from the tenant
                mode = decide(op, prev, retry_failed)
                kind = op.op[7:]
                report.would[{"fresh": f"create {kind}", "changed": f"update {kind} (document changed)",
                              "resume": f"look up {kind}, then complete or create it",
                              "unchanged": f"nothing: {kind} done",
                              "failed-before": f"nothing: {kind} failed before (--retry-failed)"}[mode]] += 1
        return list(reports.values()), plan, client.stats.writes
    finally:
        if graph is None:
            await client.aclose()


async def _check_mailbox(graph: GraphClient, target: MailboxTarget, report: TargetReport,
                         planned: SourcePlan) -> None:
    upn = planned.source.target
    kinds = {op.op for op in planned.operations}
    reads = [("mailbox exists", graph_path("users", upn), {"$select": "id,userPrincipalName"})]
    if kinds & {"create-message", "ensure-mail-folder"}:
        reads.append(("mail readable", graph_path("users", upn, "mailFolders", "msgfolderroot"), {"$select": "id"}))
    if "create-event" in kinds:
        reads.append(("calendar readable", graph_path("users", upn, "calendar"), {"$select": "id"}))
    if kinds & {"create-contact", "ensure-contact-folder"}:
        reads.append(("contacts readable", graph_path("users", upn, "contactFolders"), {"$top": "1"}))
    if kinds & {"create-task", "ensure-todo-list"}:
        reads.append(("To Do readable", graph_path("users", upn, "todo", "lists"), {"$top": "1"}))
    for what, path, params in reads:
        if any(w == what for w, _, _ in report.checks):
            continue
        try:
            await graph.request("GET", path, params=params, mailbox=upn)
            report.checks.append((what, True, ""))
        except FatalGraphError:
            raise
        except SinkError as exc:
            report.checks.append((what, False, f"{exc.status} {exc.code}: {exc.message}"))
            if what == "mailbox exists":
                return
    folder_ids: dict[str, str | None] = {}
    for op in planned.operations:
        if op.op != "ensure-mail-folder":
            continue
        created = MailboxTarget.created_container(op)
        parent = target.well_known(op.container) or folder_ids.get(op.container)
        exists = None
        if parent is not None:
            try:
                exists = await target._by_name(graph_path("users", upn, "mailFolders", parent, "childFolders"),
                                               op.payload["displayName"], upn)
            except SinkError:
                exists = None
        folder_ids[created] = exists
        report.would["folder exists: reuse" if exists else "create folder"] += 1


async def _check_sites(graph: GraphClient, report: TargetReport, planned: SourcePlan, state: Any,
                       retry_failed: bool) -> None:
    """A site source's dry run: each site reachable, each list found (and its columns compatible) or to be
    created, and what would happen to each item and file."""
    sites = SiteTarget(graph)
    for op in planned.operations:
        if op.op == "ensure-list":
            site = site_of(op.container)
            name = op.payload["displayName"]
            try:
                site_id, _ = await sites.site(site)
            except FatalGraphError:
                raise
            except SinkError as exc:
                report.checks.append((f"site {site} exists", False, f"{exc.status} {exc.code}: {exc.message}"))
                continue
            report.checks.append((f"site {site} exists", True, ""))
            found = await sites.find_list(site_id, name)
            if found is None:
                report.would[f"create list {name} on {site}"] += 1
                continue
            columns = {c["name"].casefold(): c async for c in sites._pages(
                graph_path("sites", site_id, "lists", found["id"], "columns"))}
            problems = [why for col in op.payload.get("columns", []) if (have := columns.get(col["name"].casefold()))
                        and (why := incompatibility(col, have))]
            report.checks.append((f"list {name} on {site} can take the items", not problems, "; ".join(problems)))
            continue
        prev = state.get(op.key) if state is not None else None
        mode = decide(op, prev, retry_failed)
        kind = "file" if op.op == "upload-file" else "list item"
        report.would[{"fresh": f"create {kind}", "changed": f"update {kind} (document changed)",
                      "resume": f"look up {kind}, then complete or create it",
                      "unchanged": f"nothing: {kind} done",
                      "failed-before": f"nothing: {kind} failed before (--retry-failed)"}[mode]] += 1


def render_preflight(reports: list[TargetReport], plan: PlanResult, writes: int) -> str:
    lines = [f"dry run: {plan.documents_read} documents read; nothing was written ({writes} writes)"]
    for report in reports:
        lines.append(f"{report.target}:")
        for what, ok, detail in report.checks:
            lines.append(f"  {'ok  ' if ok else 'FAIL'} {what}" + (f" ({detail})" if detail else ""))
        for what, n in sorted(report.would.items()):
            lines.append(f"  {n:6d}  {what}")
    if plan.issues.errors:
        lines.append(f"{len(plan.issues.errors)} document(s) cannot be read: see `notes2m365 plan`")
    return "\n".join(lines)


def render_summary(result: MigrationResult) -> str:
    s = result.summary
    order = OUTCOMES
    counts = ", ".join(f"{k.replace('_', ' ')} {s.counts[k]}" for k in order if s.counts.get(k))
    g = s.graph
    rate = sum(s.counts[k] for k in ("created", "updated", "recovered")) / s.elapsed if s.elapsed else 0.0
    lines = [f"migration {s.outcome}: {counts or 'nothing to do'}",
             f"{s.elapsed:.1f} s, {rate:.1f} items/s written; Graph: {g.requests} HTTP requests, {g.writes} writes "
             f"(a $batch carries up to 20), "
             f"{g.retries} retries, {g.throttled} throttled, {g.wait_seconds:.1f} s waited" if g else ""]
    for target, counter in sorted(s.per_target.items()):
        lines.append(f"  {target}: " + ", ".join(f"{k.replace('_', ' ')} {counter[k]}" for k in order
                                                   if counter.get(k)))
    for key, note in s.notes[:20]:
        lines.append(f"  note {key}: {note}")
    if len(s.notes) > 20:
        lines.append(f"  … {len(s.notes) - 20} more notes in the log")
    for key, error in s.failures[:20]:
        lines.append(f"  failed {key}: {error}")
    if len(s.failures) > 20:
        lines.append(f"  … {len(s.failures) - 20} more: notes2m365 failures JOB")
    if s.fatal:
        lines.append(f"fatal: {s.fatal}")
    if s.interrupted:
        lines.append("interrupted: run the same command again to resume (nothing is sent twice)")
    if result.plan.issues.errors:
        lines.append(f"{len(result.plan.issues.errors)} document(s) could not be read: see `notes2m365 plan`")
    lines.append(f"state: {result.state_path}")
    return "\n".join(line for line in lines if line)
