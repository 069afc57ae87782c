"""The client-side limits of notes2m365.graph: the per-mailbox request window and the token bucket."""

from __future__ import annotations

import asyncio

from notes2m365.graph import MailboxWindow, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_window_admits_the_limit_then_waits_for_the_oldest_answer_to_age(monkeypatch) -> None:
    clock = Clock()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # advance the fake clock instead of waiting
        slept.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(asyncio, "sleep", sleep)
    window = MailboxWindow(limit=50, window=10.0, clock=clock)

    async def scenario() -> None:
        await window.enter({"a@x": 20})
        await window.enter({"a@x": 20})
        clock.now = 0.3
        window.leave({"a@x": 20})  # the first batch answered at 0.3 s: counted until 10.3 s
        window.leave({"a@x": 20})
        await window.enter({"b@x": 20})  # another mailbox has its own window
        assert slept == []
        await window.enter({"a@x": 20})  # 40 + 20 > 50: waits until the answers are 10 s old
        assert clock.now == 10.3
        await window.enter({"a@x": 10})  # 20 + 10 <= 50
        assert clock.now == 10.3

    asyncio.run(scenario())


def test_window_zero_limit_is_off() -> None:
    window = MailboxWindow(limit=0, window=10.0)

    async def scenario() -> None:
        for _ in range(100):
            await window.enter({"a@x": 20})
        window.leave({"a@x": 20})

    asyncio.run(scenario())


def test_token_bucket_charges_a_batch_larger_than_the_bucket_in_full(monkeypatch) -> None:
    clock = Clock()

    async def sleep(seconds: float) -> None:
        clock.now += seconds

    monkeypatch.setattr(asyncio, "sleep", sleep)
    bucket = TokenBucket(rate=10.0, clock=clock)  # holds 10 tokens

    async def scenario() -> None:
        await bucket.take(20)  # 10 now, 10 more over the next second
        assert abs(clock.now - 1.0) < 1e-9

    asyncio.run(scenario())


def test_window_cancelled_while_waiting_gives_back_what_it_took() -> None:
    window = MailboxWindow(limit=20, window=60.0)

    async def scenario() -> None:
        await window.enter({"b@x": 20})  # b is full (in flight)
        waiting = asyncio.create_task(window.enter({"a@x": 5, "b@x": 5}))
        await asyncio.sleep(0.01)
        waiting.cancel()
        try:
            await waiting
        except asyncio.CancelledError:
            pass
        await asyncio.wait_for(window.enter({"a@x": 20}), 1)  # a's 5 were given back

    asyncio.run(scenario())
