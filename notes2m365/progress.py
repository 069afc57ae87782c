"""Progress of a migration on stderr: tqdm bars on a terminal, periodic log lines otherwise.

One bar per source (a mailbox or site and its DXL files) and one overall;
the overall total grows as sources are planned (they are read one at a
time).  Without a terminal (a batch job, a CI log) the same facts come as a
plain line per source every ``interval`` seconds and when it finishes.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from typing import Any

log = logging.getLogger("notes2m365.progress")


class TqdmProgress:
    """Bars per source and overall (tqdm, stderr)."""

    def __init__(self, stream: Any = None) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self._stream = stream or sys.stderr
        self._bars: dict[str, Any] = {}
        self._overall = tqdm(total=0, desc="overall", unit="item", file=self._stream, position=0, leave=True,
                             dynamic_ncols=True)

    def source_started(self, label: str, total: int) -> None:
        self._overall.total = (self._overall.total or 0) + total
        self._overall.refresh()
        self._bars[label] = self._tqdm(total=total, desc=label[:48], unit="item", file=self._stream,
                                       position=len(self._bars) + 1, leave=False, dynamic_ncols=True)

    def item_finished(self, label: str, outcome: str) -> None:
        self._bars[label].update(1)
        self._overall.update(1)
        if outcome == "failed":
            self._overall.set_postfix_str("failures, see the summary", refresh=False)

    def source_finished(self, label: str) -> None:
        bar = self._bars.pop(label, None)
        if bar is not None:
            bar.close()

    def close(self) -> None:
        for bar in list(self._bars.values()):
            bar.close()
        self._overall.close()


class LogProgress:
    """The same as plain lines on stderr (and INFO in the log file), at most one per source per interval."""

    def __init__(self, interval: float = 10.0, clock: Any = time.monotonic, stream: Any = None) -> None:
        self.interval = interval
        self._stream = stream or sys.stderr
        self._clock = clock
        self._totals: dict[str, int] = {}
        self._counts: dict[str, Counter[str]] = {}
        self._last: dict[str, float] = {}

    def source_started(self, label: str, total: int) -> None:
        self._totals[label] = total
        self._counts[label] = Counter()
        self._last[label] = self._clock()
        self._say(f"{label}: {total} operations planned")

    def item_finished(self, label: str, outcome: str) -> None:
        self._counts[label][outcome] += 1
        now = self._clock()
        if now - self._last[label] >= self.interval:
            self._last[label] = now
            self._line(label)

    def _line(self, label: str) -> None:
        counts = self._counts[label]
        done = sum(counts.values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        self._say(f"{label}: {done}/{self._totals[label]} ({detail or 'nothing yet'})")

    def _say(self, text: str) -> None:
        log.info("%s", text)
        print(time.strftime("%H:%M:%S ") + text, file=self._stream, flush=True)

    def source_finished(self, label: str) -> None:
        if label in self._counts:
            self._line(label)

    def close(self) -> None:
        pass
