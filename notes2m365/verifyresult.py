"""What ``notes2m365 verify`` found: one result per planned item, counts per container, the whole report.

This module owns the result model only (no Graph, no rendering): the
comparison in :mod:`notes2m365.verify` fills it, :mod:`notes2m365.verifyreport`
renders it (terminal, CSV, JSON, HTML, one report per mailbox owner).

An item is a planned message, event, contact, task, list item or file
(a document's attachments in a library are items of their own, keyed
``REPLICA/UNID#att/N``).  Its status is one of :data:`STATUSES`:

- ``match``: found once by its source key, in the planned container, and every compared field is equal;
- ``missing``: no object in the target carries its source key;
- ``differs``: found, but a field differs (``differences`` names each, with both values);
- ``extra``: an object in the target carries a source key the source no longer plans, or a second copy;
- ``error``: it could not be checked (a read failed; ``detail`` says why).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("match", "missing", "differs", "extra", "error")
#: Statuses that make ``verify`` exit non-zero.
PROBLEMS = frozenset({"missing", "differs", "extra", "error"})


@dataclass(frozen=True)
class Difference:
    """One field that differs: what the source says and what the target holds (short, printable text)."""

    field: str
    expected: str
    actual: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "expected": self.expected, "actual": self.actual}

    def __str__(self) -> str:
        return f"{self.field}: expected {self.expected!s}, found {self.actual!s}"


@dataclass
class ItemResult:
    """One planned item (or one extra object found in the target) and what verify found."""

    target: str        # the mailbox (UPN) or site (``host:/sites/x``)
    container: str     # human label of the folder, list or library folder: ``Inbox/Projects``, ``list TeamRoom``
    key: str           # the source key (``REPLICA/UNID`` or ``REPLICA/UNID#att/N``)
    kind: str          # message, event, contact, task, list item, file
    title: str         # subject, title or file name
    status: str        # one of STATUSES
    differences: list[Difference] = field(default_factory=list)
    detail: str = ""   # error text, or a note (the migration recorded a failure, a policy applied, ...)
    url: str | None = None      # the migrated object's web link, when Graph gives one
    source: str | None = None   # the DXL file it came from (relative to the job)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"target": self.target, "container": self.container, "key": self.key,
                               "kind": self.kind, "title": self.title, "status": self.status}
        if self.differences:
            out["differences"] = [d.as_json() for d in self.differences]
        if self.detail:
            out["detail"] = self.detail
        if self.url:
            out["url"] = self.url
        if self.source:
            out["source"] = self.source
        return out


@dataclass
class ContainerCount:
    """Objects per folder, list or library: planned from the source against found in the target."""

    target: str
    container: str
    source: int = 0        # items the plan puts here
    target_found: int = 0  # objects here carrying one of our source keys (copies included)
    other: int = 0         # objects here without a source key (created by users, not by the migration)

    def as_json(self) -> dict[str, Any]:
        return {"target": self.target, "container": self.container, "source": self.source,
                "target_found": self.target_found, "other": self.other}


@dataclass
class VerifyReport:
    """Everything one verify run found, in a stable order (targets, then containers, then keys)."""

    job: str
    started: str                  # ISO 8601 UTC
    finished: str = ""
    sample_percent: float | None = None  # None: every item compared
    seed: int | None = None
    items: list[ItemResult] = field(default_factory=list)
    containers: list[ContainerCount] = field(default_factory=list)
    #: source documents the plan leaves out on purpose or cannot read (they are not expected in the target)
    left_out: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    graph_requests: int = 0
    notes: list[str] = field(default_factory=list)   # run-level remarks (e.g. "extras not searched: sample")

    def counts(self, items: list[ItemResult] | None = None) -> Counter[str]:
        return Counter(i.status for i in (self.items if items is None else items))

    @property
    def ok(self) -> bool:
        """Every item matches, and every source document could be read (as ``migrate`` counts it)."""
        return not self.unreadable and not any(i.status in PROBLEMS for i in self.items)

    def targets(self) -> list[str]:
        return sorted({i.target for i in self.items} | {c.target for c in self.containers})

    def for_target(self, target: str) -> "VerifyReport":
        """The same report restricted to one mailbox or site (what ``--per-user`` writes for its owner)."""
        return VerifyReport(job=self.job, started=self.started, finished=self.finished,
                            sample_percent=self.sample_percent, seed=self.seed,
                            items=[i for i in self.items if i.target == target],
                            containers=[c for c in self.containers if c.target == target],
                            graph_requests=0, notes=list(self.notes))

    def as_json(self) -> dict[str, Any]:
        return {"job": self.job, "started": self.started, "finished": self.finished,
                "sample_percent": self.sample_percent, "seed": self.seed, "ok": self.ok,
                "counts": {s: self.counts()[s] for s in STATUSES},
                "containers": [c.as_json() for c in self.containers],
                "items": [i.as_json() for i in self.items],
                "left_out": dict(self.left_out), "unreadable": list(self.unreadable),
                "graph_requests": self.graph_requests, "notes": list(self.notes)}
