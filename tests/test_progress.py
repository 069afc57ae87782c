"""Progress reporting: plain lines when stderr is not a terminal (tqdm bars are exercised by the CLI tests)."""

from __future__ import annotations

import io

from notes2m365.progress import LogProgress, TqdmProgress


def test_log_progress_prints_at_most_one_line_per_interval_and_a_last_one():
    now = [0.0]
    out = io.StringIO()
    progress = LogProgress(interval=10, clock=lambda: now[0], stream=out)
    progress.source_started("jane (mailbox)", 3)
    progress.item_finished("jane (mailbox)", "created")
    now[0] = 11
    progress.item_finished("jane (mailbox)", "failed")
    progress.item_finished("jane (mailbox)", "created")
    progress.source_finished("jane (mailbox)")
    lines = out.getvalue().splitlines()
    assert [line[9:] for line in lines] == [
        "jane (mailbox): 3 operations planned",
        "jane (mailbox): 2/3 (created 1, failed 1)",
        "jane (mailbox): 3/3 (created 2, failed 1)",
    ]


def test_tqdm_progress_grows_the_overall_total_as_sources_arrive():
    out = io.StringIO()
    progress = TqdmProgress(stream=out)
    progress.source_started("a", 2)
    progress.source_started("b", 3)
    for _ in range(2):
        progress.item_finished("a", "created")
    progress.source_finished("a")
    assert progress._overall.total == 5 and progress._overall.n == 2
    progress.close()
