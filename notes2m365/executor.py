"""The migration engine: planned operations applied through Graph, exactly once, with the state store.

The executor is the only writer of state.  For each planned operation it
decides from the state what is left to do, marks the item ``started``
before the first request and ``done`` once Graph confirms it, so that a
crash, a kill or Ctrl-C leaves a state the next run resumes from:

==============================  =======================================================================
state before                    what this run does
==============================  =======================================================================
none, pending, skipped          create it (fresh items share ``$batch`` requests, up to 20)
started, failed (transient)     look it up by its source key first; complete or create what is missing
failed (permanent)              nothing, unless ``--retry-failed`` or the document changed
done, same sequence             nothing: no request at all
done, other sequence            look it up; replace a message, update an event, contact or task
==============================  =======================================================================

Retries live in two places, configured once: per request in
:mod:`notes2m365.graph` (tenacity; never re-sends a write Graph may have
carried out) and per item here (``[migrate] item_attempts``; every retry of
an item starts with a lookup by source key).  Sources run in parallel up to
the job's ``concurrency``; within a source, folders come first, then items
through up to ``mailbox_concurrency`` workers.  :meth:`Migration.stop` (the
first Ctrl-C) stops taking new work and lets requests in flight finish.
What Graph calls look like is :mod:`notes2m365.exchange`'s business (and, for application sources, which
run through :class:`notes2m365.sitemigration.SiteRun`, :mod:`notes2m365.sharepoint`'s).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from datetime import UTC, datetime
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from .errors import FatalGraphError, PermanentGraphError, SinkError, SourceError, TransientGraphError
from .exchange import ENSURE_KINDS, ITEM_KINDS, ContainerUnavailable, MailboxTarget, Prepared, mailbox_of
from .graph import GraphClient, GraphStats
from .job import MigrateSettings
from .operations import Operation
from .plan import ContentIndex, SourcePlan
from .sitemigration import SiteRun, site_of
from .state import ItemState, StateStore

log = logging.getLogger("notes2m365.migrate")

#: The garbage collector's thresholds during a run (Python's default is 700, 10, 10).  A run allocates many
#: short-lived objects per request while it holds every planned operation of the sources under way; with the
#: defaults, collections scanning those again and again took about 5 % of a run's CPU (20 mailboxes of plain
#: messages).  Cycles are still collected, less often.
RUN_GC_THRESHOLD = (50_000, 20, 10)
#: Items whose states are read from the store in one query, just before they are looked at.
STATE_CHUNK = 200

#: What happened to one planned operation in this run.
OUTCOMES = ("created", "updated", "recovered", "unchanged", "skipped", "failed", "not_attempted")


class Progress(Protocol):
    """Where the executor reports progress (tqdm bars, log lines, nothing)."""

    def source_started(self, label: str, total: int) -> None: ...
    def item_finished(self, label: str, outcome: str) -> None: ...
    def source_finished(self, label: str) -> None: ...


class NoProgress:
    def source_started(self, label: str, total: int) -> None:
        pass

    def item_finished(self, label: str, outcome: str) -> None:
        pass

    def source_finished(self, label: str) -> None:
        pass


@dataclass
class RunSummary:
    """What a run did, for the terminal, the log and tests."""

    counts: Counter[str] = field(default_factory=Counter)
    per_target: dict[str, Counter[str]] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (key, error) of this run
    notes: list[tuple[str, str]] = field(default_factory=list)  # (key, note): kept as draft, linked to OneDrive
    fatal: str | None = None
    interrupted: bool = False
    elapsed: float = 0.0
    graph: GraphStats | None = None

    def count(self, target: str, outcome: str) -> None:
        self.counts[outcome] += 1
        self.per_target.setdefault(target, Counter())[outcome] += 1

    @property
    def outcome(self) -> str:
        if self.fatal:
            return "fatal"
        if self.interrupted:
            return "interrupted"
        return "failures" if self.counts["failed"] else "complete"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": self.outcome, "counts": dict(sorted(self.counts.items())),
                               "per_target": {k: dict(sorted(v.items())) for k, v in sorted(self.per_target.items())},
                               "failures": [{"key": k, "error": e} for k, e in self.failures],
                               "notes": [{"key": k, "note": n} for k, n in self.notes],
                               "elapsed_seconds": round(self.elapsed, 3)}
        if self.fatal:
            out["fatal"] = self.fatal
        if self.graph is not None:
            out["graph"] = {"requests": self.graph.requests, "writes": self.graph.writes,
                            "retries": self.graph.retries,
                            "throttled": self.graph.throttled, "wait_seconds": round(self.graph.wait_seconds, 3)}
        return out


@dataclass
class _Unit:
    """Work for one worker: one item, or several fresh items in one ``$batch``."""

    ops: list[tuple[Operation, Prepared | None]]
    batch: bool = False


def decide(op: Operation, prev: ItemState | None, retry_failed: bool) -> str:
    """``fresh``, ``resume`` (look up first), ``changed``, ``unchanged`` or ``failed-before``."""
    if prev is None or prev.status in ("pending", "skipped"):
        return "fresh"  # skipped items never reached Graph: the policy is applied again
    same = prev.sequence == op.sequence
    if prev.status == "done":
        return "unchanged" if same else "changed"
    if prev.status == "failed" and prev.permanent and same and not retry_failed:
        return "failed-before"
    return "resume"


class Migration:
    """One run of the executor over a job's source plans."""

    def __init__(self, graph: GraphClient, state: StateStore, settings: MigrateSettings, *,
                 concurrency: int = 4, retry_failed: bool = False, progress: Progress | None = None) -> None:
        self.graph = graph
        self.state = state
        self.settings = settings
        self.concurrency = concurrency
        self.retry_failed = retry_failed
        self.progress = progress or NoProgress()
        self.mailboxes = MailboxTarget(graph, settings)
        self.summary = RunSummary(graph=graph.stats)
        self._stopping = False
        self._containers: dict[str, str] = {}
        self._container_locks: dict[str, asyncio.Lock] = {}
        self._run_id = ""
        self._ensured: set[str] = set()
        self._sites = SiteRun(self)
        # item-level retries (the second and last retry layer): each new attempt looks the item up first
        self._item_retry = dict(stop=stop_after_attempt(settings.item_attempts),
                                wait=wait_exponential_jitter(initial=1.0, max=30.0),
                                retry=retry_if_exception_type(TransientGraphError), reraise=True)

    # -- control ------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Take no new work; requests in flight finish and their items are recorded (first Ctrl-C)."""
        if not self._stopping:
            log.warning("stopping: requests in flight finish, then the state is saved (Ctrl-C again to abort)")
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def run(self, plans: Iterator[SourcePlan]) -> RunSummary:
        """Apply every source plan; sources run in parallel up to ``concurrency``."""
        started = time.monotonic()
        self._run_id = self.state.start_run()
        outcome = "crashed"
        thresholds = gc.get_threshold()
        gc.set_threshold(*RUN_GC_THRESHOLD)
        try:
            queue: asyncio.Queue[SourcePlan | None] = asyncio.Queue(maxsize=1)

            async def feed() -> None:
                cancelled = False
                try:
                    while not self._stopping:
                        planned = await asyncio.to_thread(next, plans, None)  # reading DXL off the loop
                        if planned is None:
                            break
                        await queue.put(planned)
                except asyncio.CancelledError:
                    cancelled = True
                    raise
                finally:
                    if not cancelled:  # cancelled: so are the workers, and a put into the full queue never returns
                        for _ in range(self.concurrency):
                            await queue.put(None)

            async def work() -> None:
                while (planned := await queue.get()) is not None:
                    await self._run_source(planned)

            feeder = asyncio.create_task(feed())
            workers = [asyncio.create_task(work()) for _ in range(self.concurrency)]
            try:
                await asyncio.gather(*workers)
                if feeder.done() and not feeder.cancelled() and feeder.exception() is not None:
                    raise feeder.exception()  # type: ignore[misc]  # a mapping or source that cannot be read
                if not self._stopping:  # doclinks whose target arrived in this run (or wave)
                    rewritten, pending = await self._sites.resolve_links()
                    if rewritten:
                        log.info("doclinks rewritten after their target was migrated: %d", rewritten)
                    if pending:
                        self.summary.notes.append(("doclinks", f"{pending} doclink(s) point at documents not "
                                                   "migrated yet; a later run or wave that brings them rewrites "
                                                   "them"))
            except FatalGraphError as exc:
                self.summary.fatal = str(exc)
                self._stopping = True
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
            finally:
                feeder.cancel()
                await asyncio.gather(feeder, return_exceptions=True)
            self.summary.interrupted = self.summary.interrupted or (self._stopping and not self.summary.fatal)
            outcome = self.summary.outcome
        finally:
            gc.set_threshold(*thresholds)
            self.summary.elapsed = time.monotonic() - started
            self.state.finish_run(self._run_id, outcome)
        return self.summary

    # -- one source ---------------------------------------------------------------------------------------
    async def _run_source(self, planned: SourcePlan) -> None:
        label = f"{planned.source.target} ({planned.source.kind} {planned.source.pattern})"
        ops = planned.operations
        self.progress.source_started(label, len(ops))
        try:
            if planned.source.kind != "mailbox":
                await self._sites.run(label, planned)
                return
            ensures = [op for op in ops if op.op in ENSURE_KINDS]
            for op in ensures:
                if self._stopping:
                    break
                outcome = await self._ensure(op)
                self.finish_ensure(label, op, outcome)
            items = [op for op in ops if op.op in ITEM_KINDS]
            await self._run_items(label, items, planned.content)
        finally:
            self.progress.source_finished(label)

    def _finished(self, label: str, op: Operation, outcome: str) -> None:
        target = site_of(op.container) if op.container.startswith("site:") else mailbox_of(op.container)
        self.summary.count(target, outcome)
        self.progress.item_finished(label, outcome)

    def finish_ensure(self, label: str, op: Operation, outcome: str) -> None:
        """A folder or list: counted once per run, though several sources of the run may need it (the plan
        lists it once too)."""
        if op.key in self._ensured:
            self.progress.item_finished(label, outcome)
            return
        self._ensured.add(op.key)
        self._finished(label, op, outcome)

    # what the application half (sitemigration.SiteRun) shares with this one
    finished = _finished

    @property
    def run_id(self) -> str:
        return self._run_id

    @property
    def item_retry(self) -> dict[str, Any]:
        return self._item_retry

    async def _run_items(self, label: str, items: list[Operation], content: ContentIndex) -> None:
        queue: asyncio.Queue[_Unit | None] = asyncio.Queue(maxsize=self.settings.mailbox_concurrency * 2)
        workers_n = self.settings.mailbox_concurrency

        async def produce() -> None:
            pending: list[tuple[Operation, Prepared | None]] = []
            cancelled = False
            try:
                states: dict[str, ItemState] = {}
                for n, op in enumerate(items):
                    if self._stopping:
                        break
                    if n % STATE_CHUNK == 0:  # the items' states a chunk at a time: one query, not one each
                        states = self.state.get_many([o.key for o in items[n:n + STATE_CHUNK]])
                    unit = self._plan_item(label, op, content, pending, states.get(op.key))
                    if unit is not None:
                        await queue.put(unit)
                    if len(pending) >= self.settings.batch_size:
                        await queue.put(_Unit(pending, batch=True))
                        pending = []
                if pending and not self._stopping:
                    await queue.put(_Unit(pending, batch=len(pending) > 1))
                    pending = []
            except asyncio.CancelledError:
                cancelled = True
                raise
            finally:
                for op, _ in pending:  # never sent: they stay as they were in the state
                    self._finished(label, op, "not_attempted")
                if not cancelled:  # cancelled: so are the workers, and a put into a full queue never returns
                    for _ in range(workers_n):
                        await queue.put(None)

        async def work() -> None:
            while (unit := await queue.get()) is not None:
                if self._stopping:  # queued, never sent: left as they were for the next run
                    for op, _ in unit.ops:
                        self._finished(label, op, "not_attempted")
                    continue
                if unit.batch:
                    await self._run_batch(label, unit.ops, content)
                else:
                    op, prepared = unit.ops[0]
                    await self._run_item(label, op, content, prepared)

        producer = asyncio.create_task(produce())
        workers = [asyncio.create_task(work()) for _ in range(workers_n)]
        try:
            await asyncio.gather(producer, *workers)
        except BaseException:
            producer.cancel()
            for task in workers:
                task.cancel()
            await asyncio.gather(producer, *workers, return_exceptions=True)
            raise

    def _plan_item(self, label: str, op: Operation, content: ContentIndex,
                   pending: list[tuple[Operation, Prepared | None]], prev: ItemState | None) -> _Unit | None:
        """Skip what is done, add a fresh batchable item to ``pending``, or return a unit of its own
        (``prev``: the item's state when its chunk was read)."""
        mode = decide(op, prev, self.retry_failed)
        if mode == "unchanged":
            self._finished(label, op, "unchanged")
            return None
        if mode == "failed-before":
            self._finished(label, op, "failed")
            return None
        if mode == "fresh" and self.settings.batch_size > 1:
            container_id = self._known_container(op.container)
            if container_id is not None:
                try:
                    prepared = self.mailboxes.prepare(op, container_id, content)
                except SourceError:
                    prepared = None  # reported by the single-item path
                if prepared is not None and prepared.batchable and prepared.skip_reason is None:
                    pending.append((op, prepared))
                    return None
        return _Unit([(op, None)])

    # -- containers ---------------------------------------------------------------------------------------
    def _known_container(self, container: str) -> str | None:
        if container in self._containers:
            return self._containers[container]
        found = self.mailboxes.well_known(container)
        if found is None:
            _, _, rest = container.partition("/")
            if rest == "calendar":
                found = "calendar"
            elif rest == "contacts":
                found = "contacts"
            else:
                found = self.state.container_id(container)
        if found is not None:
            self._containers[container] = found
        return found

    async def _container(self, container: str) -> str:
        found = self._known_container(container)
        if found is not None:
            return found
        _, _, rest = container.partition("/")
        if rest == "todo:Tasks":  # the default To Do list: found, never created
            async with self._container_locks.setdefault(container, asyncio.Lock()):
                found = self._known_container(container)
                if found is None:
                    found = await self.mailboxes.default_todo_list(mailbox_of(container))
                    self.state.set_container_id(container, found)
                    self._containers[container] = found
            return found
        raise ContainerUnavailable(f"{container}: not created (its folder or list failed; see failures)")

    async def _ensure(self, op: Operation) -> str:
        created = self.mailboxes.created_container(op)
        async with self._container_locks.setdefault(created, asyncio.Lock()):
            prev = self.state.get(op.key)
            if prev is not None and prev.status == "done" and self._known_container(created):
                return "unchanged"
            self.state.begin(op.key, op.op, op.container, op.content_hash, op.sequence, self._run_id)
            try:
                parent = None
                if op.op == "ensure-mail-folder":
                    parent = await self._container(op.container)
                async for attempt in AsyncRetrying(**self._item_retry):
                    with attempt:
                        graph_id = await self.mailboxes.ensure(op, parent)
            except FatalGraphError:
                self.state.failed(op.key, "fatal error: see the run's log", permanent=False)
                raise
            except (SinkError, ContainerUnavailable) as exc:
                self._fail(op, exc)
                return "failed"
            self.state.set_container_id(created, graph_id)
            self._containers[created] = graph_id
            self.state.done(op.key, graph_id)
            log.info("%s %s: %s", op.op, op.key, created)
            return "updated" if prev is not None and prev.status == "done" else "created"

    # -- items --------------------------------------------------------------------------------------------
    def fail(self, op: Operation, exc: BaseException) -> None:
        self._fail(op, exc)

    def _fail(self, op: Operation, exc: BaseException) -> None:
        permanent = isinstance(exc, (PermanentGraphError, SourceError))
        text = str(exc) or type(exc).__name__
        self.state.failed(op.key, text, permanent=permanent)
        self.summary.failures.append((op.key, text))
        log.error("%s %s failed: %s", op.op, op.key, text)

    async def _run_item(self, label: str, op: Operation, content: ContentIndex,
                        prepared: Prepared | None = None, first_mode: str | None = None) -> None:
        prev = self.state.get(op.key)
        mode = first_mode or decide(op, prev, self.retry_failed)
        if first_mode is None:
            self.state.begin(op.key, op.op, op.container, op.content_hash, op.sequence, self._run_id)
        try:
            async for attempt in AsyncRetrying(**self._item_retry):
                with attempt:
                    number = attempt.retry_state.attempt_number
                    outcome, target_id, note, url = await self._apply(op, content,
                                                                      mode if number == 1 else "resume",
                                                                 prev)
        except FatalGraphError:
            self.state.failed(op.key, "fatal error: see the run's log", permanent=False)
            self._finished(label, op, "failed")
            raise
        except (SinkError, SourceError, ContainerUnavailable) as exc:
            self._fail(op, exc)
            self._finished(label, op, "failed")
            return
        if outcome == "skipped":
            self.state.skipped(op.key, note or "skipped")
            self.summary.notes.append((op.key, note or "skipped"))
            log.warning("%s %s skipped: %s", op.op, op.key, note)
        else:
            self.state.done(op.key, target_id, url)
            if note:
                self.summary.notes.append((op.key, note))
            log.info("%s %s %s: %s", op.op, op.key, outcome, target_id)
        self._finished(label, op, outcome)

    async def _apply(self, op: Operation, content: ContentIndex, mode: str,
                     prev: ItemState | None) -> tuple[str, str | None, str | None, str | None]:
        """Carry out one item; returns (outcome, Graph id, note, web link)."""
        target = self.mailboxes
        upn = mailbox_of(op.container)
        container_id = await self._container(op.container)
        target.check_content(op, content)
        prepared = target.prepare(op, container_id, content)
        note = "; ".join(prepared.notes) or None
        if prepared.skip_reason:
            return "skipped", None, prepared.skip_reason, None
        if mode == "fresh":
            await target.link_large_files(op, prepared, content)
            item_id, url = await target.create(prepared, upn)
            await target.complete(op, container_id, item_id, prepared, content, fresh=True)
            return "created", item_id, note, url
        found = await target.lookup(op, container_id)
        if not found and await self.in_flight_wait(prev):
            found = await target.lookup(op, container_id)
        version = str(op.sequence) if op.sequence is not None else None
        if op.op == "create-task":
            current, stale = found, []
        else:
            current = [f for f in found if f.version == version]
            stale = [f for f in found if f.version != version]
        keep = current[0] if current else None
        extras = current[1:]
        outcome = "recovered"
        if keep is None and stale and op.op != "create-message":
            keep = stale.pop(0)  # events, contacts: edited in place
            await target.update(op, container_id, keep.id)
            outcome = "updated"
        elif keep is not None and op.op == "create-task" and prev is not None and prev.status == "done" \
                and prev.sequence != op.sequence:
            await target.update(op, container_id, keep.id)
            outcome = "updated"
        if keep is None:
            await target.link_large_files(op, prepared, content)
            item_id, url = await target.create(prepared, upn)
            await target.complete(op, container_id, item_id, prepared, content, fresh=True)
            outcome = "updated" if stale else "created"
        else:
            item_id, url = keep.id, keep.web_link
            await target.complete(op, container_id, item_id, prepared, content, fresh=False)
        for dead in stale + extras:  # the replaced message, or a copy a lost answer left behind
            await target.delete(op, container_id, dead.id)
            log.info("%s %s: removed %s item %s", op.op, op.key,
                     "a stale" if dead in stale else "a duplicate", dead.id)
        if outcome == "recovered" and mode == "changed":
            outcome = "updated"
        return outcome, item_id, note, url

    async def in_flight_wait(self, prev: ItemState | None) -> bool:
        """An item a crashed run had started moments ago: its request may still be carried out by Graph.
        Wait until ``in_flight_grace`` has passed since it was started (True), so the lookup that follows
        sees it; False when there is nothing to wait for."""
        if prev is None or prev.status != "started" or prev.run_id == self._run_id or not prev.updated \
                or not prev.run_id or self.state.run_finished(prev.run_id):
            return False  # a run that ended on its own had every request answered
        try:
            started = datetime.strptime(prev.updated, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            return False
        left = self.settings.in_flight_grace - (datetime.now(UTC) - started).total_seconds()
        if left <= 0:
            return False
        log.info("%s: started %.1f s ago by a run that stopped; looking again in %.1f s", prev.key,
                 self.settings.in_flight_grace - left, left)
        await asyncio.sleep(left)
        return True

    async def _run_batch(self, label: str, ops: list[tuple[Operation, Prepared | None]],
                         content: ContentIndex) -> None:
        """Fresh items in one ``$batch``; an item whose answer was lost goes on alone, looked up first."""
        requests = []
        for n, (op, prepared) in enumerate(ops):
            assert prepared is not None
            requests.append(self.mailboxes.batch_item(str(n + 1), prepared))
        # one transaction for the batch's items, committed before it is sent
        self.state.begin_many([(op.key, op.op, op.container, op.content_hash, op.sequence) for op, _ in ops],
                              self._run_id)
        try:
            results = await self.graph.batch(requests)
        except FatalGraphError:
            for op, _ in ops:
                self.state.failed(op.key, "fatal error: see the run's log", permanent=False)
                self._finished(label, op, "failed")
            raise
        except TransientGraphError:  # the batch as a whole failed: each item on its own, looked up first
            for op, prepared in ops:
                await self._run_item(label, op, content, None, first_mode="resume")
            return
        except SinkError as exc:
            for op, _ in ops:
                self._fail(op, exc)
                self._finished(label, op, "failed")
            return
        retry: list[Operation] = []
        answers = [(op, results[request["id"]]) for (op, _), request in zip(ops, requests)]
        done = [(op.key, r.json.get("id"), r.json.get("webLink")) for op, r in answers if r.error is None]
        self.state.done_many(done)  # one transaction, before any raise below
        if done and log.isEnabledFor(logging.INFO):  # one record per $batch, not per item (about 0.04 ms of
            log.info("created in one $batch: %s",  # CPU each, formatted and written to the run's log file)
                     "; ".join(f"{op.op} {op.key}: {r.json.get('id')}" for op, r in answers if r.error is None))
        for op, response in answers:
            if response.error is None:
                self._finished(label, op, "created")
            elif isinstance(response.error, FatalGraphError):
                self.state.failed(op.key, str(response.error), permanent=False)
                self._finished(label, op, "failed")
                raise response.error
            elif isinstance(response.error, TransientGraphError):
                retry.append(op)
            else:
                self._fail(op, response.error)
                self._finished(label, op, "failed")
        for op in retry:
            if self._stopping:  # left started: the next run looks it up
                self._finished(label, op, "not_attempted")
                continue
            await self._run_item(label, op, content, None, first_mode="resume")
