"""Graph's throttling model: Outlook per-mailbox limits and SharePoint resource units.

Outlook (per application and mailbox; graph-semantics §8.1, "Outlook service limits" in
DC:concepts/throttling-limits.md): 4 concurrent requests, 10,000 requests per
10 minutes, 150 MB uploaded (POST/PATCH/PUT bodies) per 5 minutes.  Over the
concurrency limit Graph answers 429 ``ApplicationThrottled`` "Application is
over its MailboxConcurrency limit." (quoted in magodo/terraform-provider-outlook#21).
"Throttled requests still count" (DC:concepts/throttling.md), so a rejected
request is still added to the request window.

SharePoint (per application; SPDOCS): a per-minute budget of resource units,
1 per single-item read, 2 per query or write, 5 per permission operation;
over it 429 (or 503) with ``Retry-After`` and ``RateLimit-Limit/Remaining/Reset``,
the latter also sent once 80% of the budget is used.

Windows are sliding and use an injectable clock, so tests shrink them and
stay deterministic.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import EmulatorHttpError
from .config import ThrottleConfig


@dataclass
class Slot:
    """A held concurrency slot of one (application, mailbox)."""

    key: tuple[str, str]
    released: bool = False


class Throttle:
    def __init__(self, config: ThrottleConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self._lock = threading.Lock()
        self._active: dict[tuple[str, str], int] = defaultdict(int)
        self._requests: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._uploads: dict[tuple[str, str], deque[tuple[float, int]]] = defaultdict(deque)
        self._units: dict[str, deque[tuple[float, int]]] = defaultdict(deque)

    def _retry_after(self, seconds: float) -> str:
        seconds = max(seconds, 0.001)
        if self.config.fractional_retry_after:
            return f"{seconds:.3f}"
        return str(max(1, math.ceil(seconds)))

    def _throttled(self, status: int, code: str, message: str, wait: float,
                   extra: dict[str, str] | None = None) -> EmulatorHttpError:
        headers = {"Retry-After": self._retry_after(wait), **(extra or {})}
        return EmulatorHttpError(status, code, message, headers)

    # -- Outlook --------------------------------------------------------------------------------
    def enter_mailbox(self, app: str, mailbox: str, upload_bytes: int) -> Slot | None:
        """Admit one request to a mailbox or raise 429; the returned slot must be released."""
        if not self.config.enabled:
            return None
        cfg, key, now = self.config, (app, mailbox), self.clock()
        with self._lock:
            window = self._requests[key]
            while window and window[0] <= now - cfg.mailbox_window_s:
                window.popleft()
            window.append(now)  # counted even when throttled below
            if self._active[key] >= cfg.mailbox_concurrency:
                raise self._throttled(429, "ApplicationThrottled",
                                      "Application is over its MailboxConcurrency limit.", 1.0)
            if len(window) > cfg.mailbox_requests:
                # Throttled requests count too, so the next one fits once all but limit-1 entries have left.
                wait = window[len(window) - cfg.mailbox_requests] + cfg.mailbox_window_s - now
                raise self._throttled(429, "ApplicationThrottled",
                                      "Application is over its MailboxRequests limit.", wait)
            if upload_bytes:
                uploads = self._uploads[key]
                while uploads and uploads[0][0] <= now - cfg.mailbox_upload_window_s:
                    uploads.popleft()
                used = sum(n for _, n in uploads)
                if used + upload_bytes > cfg.mailbox_upload_bytes and uploads:
                    freed, wait = used + upload_bytes - cfg.mailbox_upload_bytes, 0.0
                    for when, n in uploads:
                        freed -= n
                        wait = when + cfg.mailbox_upload_window_s - now
                        if freed <= 0:
                            break
                    raise self._throttled(429, "ApplicationThrottled",
                                          "Application is over its MailboxUpload limit.", wait)
                uploads.append((now, upload_bytes))
            self._active[key] += 1
        return Slot(key)

    def leave(self, slot: Slot | None) -> None:
        if slot is None or slot.released:
            return
        with self._lock:
            slot.released = True
            self._active[slot.key] -= 1

    # -- SharePoint ---------------------------------------------------------------------------
    def charge_sharepoint(self, app: str, units: int) -> dict[str, str]:
        """Spend resource units or raise 429/503; returns the RateLimit headers to send, if any."""
        if not self.config.enabled:
            return {}
        cfg, now = self.config, self.clock()
        with self._lock:
            spent = self._units[app]
            while spent and spent[0][0] <= now - cfg.sharepoint_window_s:
                spent.popleft()
            used = sum(n for _, n in spent)
            reset = (spent[0][0] + cfg.sharepoint_window_s - now) if spent else cfg.sharepoint_window_s
            if used + units > cfg.sharepoint_units:
                limit = {"RateLimit-Limit": str(cfg.sharepoint_units), "RateLimit-Remaining": "0",
                         "RateLimit-Reset": str(max(1, math.ceil(reset)))}
                status = cfg.sharepoint_status
                raise self._throttled(status, "activityLimitReached" if status == 429 else "serviceNotAvailable",
                                      "The request has been throttled", reset, limit)
            spent.append((now, units))
            used += units
            if used >= 0.8 * cfg.sharepoint_units:
                return {"RateLimit-Limit": str(cfg.sharepoint_units),
                        "RateLimit-Remaining": str(cfg.sharepoint_units - used),
                        "RateLimit-Reset": str(max(1, math.ceil(reset)))}
        return {}


def sharepoint_units(method: str, many: bool, path: str, query: dict[str, str]) -> int:
    """Resource units of one SharePoint call (SPDOCS: 1 read, 2 query or write, 5 permissions)."""
    if "/permissions" in path.lower() or "permissions" in query.get("$expand", "").lower():
        return 5
    if method != "GET" or many:
        return 2
    return 1
