"""The executor without Graph: what ``decide`` does with each state, and that a fatal error ends a run
instead of hanging it (regression: the feeder and the item producer used to block forever putting their
end markers into a full queue once the workers had been cancelled)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from notes2m365.errors import FatalGraphError
from notes2m365.executor import Migration, decide
from notes2m365.graph import GraphStats
from notes2m365.job import MigrateSettings, Source
from notes2m365.operations import Operation
from notes2m365.plan import ContentIndex, SourcePlan
from notes2m365.state import ItemState, open_state

UPN = "jane.doe@acme.example"


def op(n: int = 1, sequence: int | None = 3) -> Operation:
    return Operation("create-message", f"mailbox:{UPN}/folder:inbox", f"C125802500222004/{n:032X}",
                     {"subject": f"message {n}"}, sequence=sequence)


def state(status: str, sequence: int | None = 3, permanent: bool = False) -> ItemState:
    return ItemState(op().key, "create-message", op().container, status, sequence=sequence,  # type: ignore[arg-type]
                     permanent=permanent)


@pytest.mark.parametrize("prev, retry_failed, mode", [
    (None, False, "fresh"),
    (state("pending"), False, "fresh"),
    (state("skipped"), False, "fresh"),  # the large-attachment policy is applied again
    (state("started"), False, "resume"),  # may have reached Graph: look it up first
    (state("started", sequence=2), False, "resume"),
    (state("failed"), False, "resume"),  # transient
    (state("failed", permanent=True), False, "failed-before"),
    (state("failed", permanent=True), True, "resume"),  # --retry-failed
    (state("failed", sequence=2, permanent=True), False, "resume"),  # the document changed since
    (state("done"), False, "unchanged"),
    (state("done"), True, "unchanged"),
    (state("done", sequence=2), False, "changed"),
])
def test_decide(prev, retry_failed, mode):
    assert decide(op(), prev, retry_failed) == mode


class FatalGraph:
    """Every request is refused for good (expired credentials, access withdrawn)."""

    def __init__(self) -> None:
        self.stats = GraphStats()
        self.calls = 0

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        await asyncio.sleep(0.01)
        raise FatalGraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")

    async def batch(self, *args: Any, **kwargs: Any) -> Any:
        return await self.request()


def source_plan(first: int, count: int) -> SourcePlan:
    source = Source(kind="mailbox", pattern="mail/*.dxl", files=(), target=UPN, mapping="builtin:mail")
    return SourcePlan(source, [op(n) for n in range(first, first + count)], ContentIndex())


@pytest.mark.parametrize("sources, items", [(5, 1), (1, 12)], ids=["feeder-blocked", "producer-blocked"])
def test_fatal_error_ends_the_run(tmp_path, sources, items):
    """With one worker, the next sources (or items) wait in full queues when the first request is refused."""
    settings = MigrateSettings(item_attempts=1, mailbox_concurrency=1, batch_size=1)
    graph = FatalGraph()
    with open_state(tmp_path / "s.sqlite") as store:
        migration = Migration(graph, store, settings, concurrency=1)  # type: ignore[arg-type]
        plans = iter([source_plan(100 * s, items) for s in range(sources)])
        summary = asyncio.run(asyncio.wait_for(migration.run(plans), timeout=10))
        assert summary.outcome == "fatal" and "InvalidAuthenticationToken" in summary.fatal
        assert graph.calls == 1  # nothing else was sent after the fatal answer
        assert store.counts()["done"] == 0
        assert not any(item.permanent for item in store.items("failed"))  # resumable
        assert store.runs()[-1]["outcome"] == "fatal"


def test_an_item_a_killed_run_started_moments_ago_is_looked_up_again_after_the_grace(tmp_path, monkeypatch):
    """A request of a killed process may still be carried out: before creating an item that run started and
    that is not found, the executor waits until in_flight_grace has passed and looks again."""
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    with open_state(tmp_path / "s.sqlite") as store:
        killed = store.start_run()  # never finished: the process was killed
        store.begin(op().key, "create-message", op().container, "h", 3, killed)
        ended = store.start_run()
        store.begin(op(2).key, "create-message", op(2).container, "h", 3, ended)
        store.finish_run(ended, "interrupted")  # ended on its own: nothing of it in flight
        migration = Migration(FatalGraph(), store, MigrateSettings(in_flight_grace=30), concurrency=1)  # type: ignore[arg-type]
        monkeypatch.setattr(asyncio, "sleep", fake_sleep)
        assert asyncio.run(migration.in_flight_wait(store.get(op().key))) is True
        assert 29 < slept[0] <= 30
        assert asyncio.run(migration.in_flight_wait(store.get(op(2).key))) is False
        assert asyncio.run(migration.in_flight_wait(None)) is False
        store.done(op().key, "id")
        assert asyncio.run(migration.in_flight_wait(store.get(op().key))) is False  # only started items wait
