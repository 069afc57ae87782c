"""The dry run: a job's sources through their mappings into a deterministic plan and its summary.

:func:`build_plan` reads every source of a job, applies its mapping and the
identity map, and returns the operations in a fixed order (sources in job
order, documents in file order) with the summary an admin reviews: counts per
target, unmapped forms and items, unresolved names, degraded content, large
attachments, errors, and an estimated duration from Graph's published
throttling limits.  Nothing here talks to Graph or writes state; the same
inputs give a byte-identical ``plan.jsonl`` (paths relative to the job file).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

from .convert import ConvertedDocument, iter_converted
from .errors import SourceError
from .identity import IdentityMap, IdentityRules
from .mailplan import FolderManifest, MailboxRules, plan_mailbox
from .job import Job, Source
from .mapping import AppMapping, MailboxMapping, load_mapping
from .operations import ContentRef, Operation, PlanIssues

# Published limits behind the estimate (graph-semantics §8).
MAILBOX_REQUESTS_PER_S = 10_000 / 600
MAILBOX_BYTES_PER_S = 150_000_000 / 300
SHAREPOINT_UNITS_PER_S = 1_200 / 60
SHAREPOINT_UNITS_PER_REQUEST = 2  # a write or a query (SPDOCS)


@dataclass
class PlanResult:
    operations: list[Operation] = field(default_factory=list)
    issues: PlanIssues = field(default_factory=PlanIssues)
    documents_read: int = 0
    documents_by_form: Counter[str] = field(default_factory=Counter)
    unresolved: list[tuple[str, int]] = field(default_factory=list)
    estimate: dict[str, Any] = field(default_factory=dict)

    def write(self, out: TextIO) -> None:
        for op in self.operations:
            out.write(op.line() + "\n")

    def summary(self) -> dict[str, Any]:
        ops = Counter(op.op for op in self.operations)
        targets = Counter(target_of(op.container) + " " + op.op for op in self.operations)
        return {
            "documents": self.documents_read, "documents_by_form": dict(sorted(self.documents_by_form.items())),
            "operations": dict(sorted(ops.items())), "by_target": dict(sorted(targets.items())),
            "requests": sum(op.requests for op in self.operations),
            "bytes": sum(op.size for op in self.operations),
            "unmapped_forms": dict(sorted(self.issues.unmapped_forms.items())),
            "unmapped_items": dict(sorted(self.issues.unmapped_items.items())),
            "unresolved_names": [{"name": n, "count": c} for n, c in self.unresolved],
            "degraded": dict(sorted(self.issues.degraded.items())),
            "left_out": dict(sorted(self.issues.left_out.items())),
            "large_attachments": self.issues.large_attachments,
            "errors": list(self.issues.errors),
            "estimate": self.estimate,
        }


def target_of(container: str) -> str:
    """The mailbox or site of a container: ``mailbox:UPN`` or ``site:HOST:/PATH``."""
    if container.startswith("site:"):
        return re.split(r"/(?:list|drive):", container, maxsplit=1)[0]
    return container.split("/", 1)[0]


def identity_for(job: Job) -> IdentityMap:
    s = job.identity
    rules = IdentityRules(fallback_domain=s.fallback_domain, pattern=s.pattern, fallback_orgs=s.fallback_orgs,
                          internet_domains=s.internet_domains, ignore=s.ignore, fallback=bool(s.fallback_domain))
    return IdentityMap.load(s.map, rules)


class ContentIndex:
    """Where the bytes of a source's planned content are: its documents' spooled attachments and images.

    Plans reference content by sha256 and size only; the executor reads the bytes here when it sends them,
    and each read is checked against the plan (size and sha256), so a changed file is never sent silently.
    """

    def __init__(self) -> None:
        self._openers: dict[str, Callable[[], bytes]] = {}

    def add(self, conv: ConvertedDocument) -> None:
        for att in conv.attachments:
            self._openers.setdefault(att.sha256, att.read_bytes)
        for img in conv.inline_images:
            self._openers.setdefault(img.sha256, (lambda data=img.data: data))
        if conv.message is not None:
            for part in conv.message.attachments:
                self._openers.setdefault(hashlib.sha256(part.data).hexdigest(), (lambda data=part.data: data))

    def __contains__(self, sha256: str) -> bool:
        return sha256 in self._openers

    def read(self, ref: ContentRef) -> bytes:
        opener = self._openers.get(ref.sha256)
        if opener is None:
            raise SourceError(f"{ref.name}: content sha256 {ref.sha256[:12]}… is not in the source any more")
        data = opener()
        if len(data) != ref.size or hashlib.sha256(data).hexdigest() != ref.sha256:
            raise SourceError(f"{ref.name}: content changed since it was planned")
        return data


@dataclass
class SourcePlan:
    """One source's operations and the content they upload."""

    source: Source
    operations: list[Operation]
    content: ContentIndex


def _read_source(source: Source, result: PlanResult, content: ContentIndex | None) -> list[Any]:
    docs = []
    for path in source.files:
        for _path, _stats, record, conv in iter_converted([path]):
            result.documents_read += 1
            if conv is not None:
                result.documents_by_form[conv.doc.form or "(no form)"] += 1
                if content is not None:
                    content.add(conv)
            docs.append(conv if conv is not None else record)
    return docs


def _relative(job: Job, source: Source) -> dict[str, str]:
    base = Path(job.path).resolve().parent
    return {f: os.path.relpath(f, base).replace(os.sep, "/") for f in source.files}


class LazyContentIndex(ContentIndex):
    """The content of a source planned in another process: its files are read again here, once, the first
    time an operation needs bytes (a source without attachments never is)."""

    def __init__(self, source: Source) -> None:
        super().__init__()
        self._source: Source | None = source
        self._docs: list[Any] = []

    def _load(self) -> None:
        if self._source is not None:
            self._docs = _read_source(self._source, PlanResult(), self)  # kept: their spools hold the bytes
            self._source = None

    def __contains__(self, sha256: str) -> bool:
        self._load()
        return super().__contains__(sha256)

    def read(self, ref: ContentRef) -> bytes:
        self._load()
        return super().read(ref)


#: What a planning worker keeps from one source to the next of the same job: the identity map (with the
#: names it resolved: the same people write to every mailbox of an organisation; resolving them again for
#: each source cost about a quarter of the mail mapping) and the mappings.  A worker lives as long as one
#: ``plan_sources`` call; the key is the job's identity settings.
_WORKER_CACHE: dict[str, Any] = {}


def _plan_elsewhere(job: Job, index: int) -> tuple[list[Operation], PlanResult, dict[str, list[Any]]]:
    """One source planned in a worker process: its operations, counts and issues, and unresolved names."""
    source = job.sources[index]
    key = repr(job.identity)
    if _WORKER_CACHE.get("identity_key") != key:
        _WORKER_CACHE.clear()
        _WORKER_CACHE["identity_key"] = key
        _WORKER_CACHE["identity"] = identity_for(job)
    identity: IdentityMap = _WORKER_CACHE["identity"]
    mapping = _WORKER_CACHE.get((source.mapping, source.kind))
    if mapping is None:
        mapping = _WORKER_CACHE[(source.mapping, source.kind)] = load_mapping(source.mapping, source.kind)
    result = PlanResult()
    docs = _read_source(source, result, None)
    ops = _plan_source(job, source, mapping, docs, identity, _relative(job, source), result.issues)
    return ops, result, identity.take_misses()  # this source's unresolved names only


def _planning_worker() -> None:
    """Planning workers leave Ctrl-C to the migration, which stops gracefully.  Their garbage collector runs
    less often: planning allocates many small objects and keeps a source's documents until it is planned, so
    the default thresholds had it scan them again and again (about 8 % of the planning CPU)."""
    import gc
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.freeze()  # what the worker imported is never garbage
    gc.set_threshold(50_000, 20, 10)


def plan_sources(job: Job, identity: IdentityMap, result: PlanResult, workers: int = 0) -> Iterator[SourcePlan]:
    """Plan the sources of ``job`` in job order (mappings are loaded and checked first: a bad one plans
    nothing).  ``result`` collects counts and issues as sources are planned; operations are not added to
    it.  A source's documents stay in memory (attachments spooled) until the next source is asked for.

    With ``workers`` >= 1, sources are planned that many at a time in worker processes, ahead of the
    consumer (a migration starts each mailbox sooner); the same operations come out, in the same order,
    and a source's attachments are read again in this process only when an operation sends them."""
    mappings = {source.mapping: load_mapping(source.mapping, source.kind) for source in job.sources}
    if workers >= 1 and len(job.sources) > 1:
        yield from _plan_in_processes(job, identity, result, workers)
        return
    for source in job.sources:
        content = ContentIndex()
        docs = _read_source(source, result, content)
        ops = _plan_source(job, source, mappings[source.mapping], docs, identity, _relative(job, source),
                           result.issues)
        yield SourcePlan(source, ops, content)


def _plan_in_processes(job: Job, identity: IdentityMap, result: PlanResult, workers: int
                       ) -> Iterator[SourcePlan]:
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    # spawn: the migration runs threads (an event loop, a planning thread), so no fork; and the workers are
    # children of this process, so their CPU is counted with it
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_planning_worker) as pool:
        ahead: deque[Any] = deque()
        upcoming = iter(range(len(job.sources)))
        for index in upcoming:  # at most workers + 1 sources planned ahead of the consumer
            ahead.append(pool.submit(_plan_elsewhere, job, index))
            if len(ahead) > workers:
                break
        for source in job.sources:
            ops, part, misses = ahead.popleft().result()
            nxt = next(upcoming, None)
            if nxt is not None:
                ahead.append(pool.submit(_plan_elsewhere, job, nxt))
            result.documents_read += part.documents_read
            result.documents_by_form.update(part.documents_by_form)
            _merge(result.issues, part.issues)
            identity.add_misses(misses)
            yield SourcePlan(source, ops, LazyContentIndex(source))


def build_plan(job: Job, identity: IdentityMap | None = None) -> PlanResult:
    """Plan every source of ``job``: operations in a fixed order (sources in job order, documents in file
    order), each folder or list once even when several sources need it."""
    identity = identity or identity_for(job)
    result = PlanResult()
    per_mailbox: dict[str, list[Operation]] = {}
    seen: set[tuple[str, str]] = set()
    for planned in plan_sources(job, identity, result):
        for op in planned.operations:
            if op.op.startswith("ensure-") and (op.op, op.key) in seen:
                continue  # two sources of one mailbox or site need the same folder or list
            seen.add((op.op, op.key))
            result.operations.append(op)
            if planned.source.kind == "mailbox":
                per_mailbox.setdefault(planned.source.target.lower(), []).append(op)
    result.unresolved = identity.unresolved()
    result.estimate = estimate(result.operations, per_mailbox, job.concurrency)
    return result


def _plan_source(job: Job, source: Source, mapping: MailboxMapping | AppMapping, docs: list[Any],
                 identity: IdentityMap, relative: dict[str, str], issues: PlanIssues) -> list[Operation]:
    """One source's operations, with source files written relative to the job file (plans are portable)."""
    if isinstance(mapping, AppMapping):
        from .appplan import plan_application  # here: a mailbox planning worker never needs it

        by_file: dict[str, list[Any]] = {}
        for doc in docs:  # one application per file: each file is its own Notes database
            by_file.setdefault(getattr(getattr(doc, "doc", doc), "file", ""), []).append(doc)
        ops = []
        for file, file_docs in by_file.items():
            app = plan_application(source.target, mapping, file_docs, identity,
                                   source_file=relative.get(file, file), filters=job.filters,
                                   restricted=source.restricted)
            _merge(issues, app.issues)
            ops.extend(app.operations)
        return ops
    manifest = FolderManifest.load(source.folders) if source.folders else None
    mail = plan_mailbox(source, docs, MailboxRules.from_mapping(mapping), identity, manifest, job.filters,
                        source_files=relative)
    _merge(issues, mail.issues())
    return mail.operations


def _merge(into: PlanIssues, other: PlanIssues) -> None:
    for name in ("unmapped_forms", "unmapped_items", "degraded", "left_out"):
        target = getattr(into, name)
        for key, value in getattr(other, name).items():
            target[key] = target.get(key, 0) + value
    into.large_attachments += other.large_attachments
    into.errors.extend(other.errors)


def estimate(operations: list[Operation], per_mailbox: dict[str, list[Operation]], concurrency: int
             ) -> dict[str, Any]:
    """The least time Graph's published limits allow for these operations (seconds), and what bounds it."""
    mailbox_times = []
    for ops in per_mailbox.values():
        requests = sum(op.requests for op in ops)
        upload = sum(op.size for op in ops)
        mailbox_times.append(max(requests / MAILBOX_REQUESTS_PER_S, upload / MAILBOX_BYTES_PER_S))
    mail = max(max(mailbox_times, default=0.0), sum(mailbox_times) / max(1, concurrency))
    sp_requests = sum(op.requests for op in operations if op.container.startswith("site:"))
    sharepoint = sp_requests * SHAREPOINT_UNITS_PER_REQUEST / SHAREPOINT_UNITS_PER_S
    seconds = max(mail, sharepoint)
    return {"seconds": round(seconds, 1), "mailboxes_seconds": round(mail, 1),
            "sharepoint_seconds": round(sharepoint, 1),
            "bound_by": "sharepoint resource units" if sharepoint > mail else "mailbox request and upload limits",
            "assumes": "10,000 requests/10 min and 150 MB/5 min per mailbox, mailboxes in parallel up to the job's "
                       "concurrency; 1,200 SharePoint resource units/min at 2 per write; no latency"}


def render_summary(result: PlanResult, job: Job) -> str:
    """The plan summary as text for a terminal."""
    s = result.summary()
    lines = [f"plan for {job.name}: {s['documents']} documents read, {len(result.operations)} operations, "
             f"{s['requests']} Graph requests, {s['bytes'] / 1e6:.1f} MB"]
    lines.append("documents by form: " + ", ".join(f"{k} {v}" for k, v in s["documents_by_form"].items()))
    lines.append("operations: " + ", ".join(f"{k} {v}" for k, v in s["operations"].items()))
    per_target = Counter(target_of(op.container) for op in result.operations)
    lines.append("by target: " + ", ".join(f"{k} {v}" for k, v in sorted(per_target.items())))
    for title, key in (("left out on purpose", "left_out"), ("unmapped forms", "unmapped_forms"),
                       ("unmapped items", "unmapped_items"), ("degraded content", "degraded")):
        if s[key]:
            lines.append(f"{title}: " + ", ".join(f"{k} ({v})" for k, v in s[key].items()))
    if s["unresolved_names"]:
        lines.append("unresolved names: " + ", ".join(f"{u['name']} ({u['count']})" for u in s["unresolved_names"]))
    if s["large_attachments"]:
        lines.append(f"attachments over 3 MB on messages: {s['large_attachments']} (upload sessions)")
    for error in s["errors"]:
        lines.append(f"error: {error}")
    est = s["estimate"]
    hours, rest = divmod(int(round(est["seconds"])), 3600)
    lines.append(f"estimated duration: at least {hours}:{rest // 60:02d}:{rest % 60:02d} "
                 f"(bound by {est['bound_by']}; assumes {est['assumes']})")
    return "\n".join(lines)
