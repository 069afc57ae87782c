"""Fault injection: deterministic transient failures, including "committed but response lost".

Each request is fingerprinted (method, target, body); the n-th time the same
fingerprint arrives, the decision is a pure function of (seed, fingerprint, n).
So a run is reproducible under ``--seed`` whatever the interleaving of
concurrent requests, and a retry of a failed request draws again.

Kinds: ``503`` and ``504`` answer before the handler runs; ``reset`` drops the
connection before the handler runs; ``lost-504`` and ``lost-reset`` run the
handler and commit the write, then answer 504 or drop the connection — the
case that turns a blind retry of a POST into a duplicate (graph-semantics §9.4:
the SDK's RetryHandler retries POST on 503/504).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter

from .config import FaultConfig

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class Faults:
    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._seen: Counter[bytes] = Counter()
        self._lock = threading.Lock()

    def draw(self, method: str, target: str, body: bytes) -> str | None:
        """The fault to inject for this request, or None."""
        cfg = self.config
        if cfg.fault_rate <= 0:
            return None
        fingerprint = hashlib.sha256(b"\0".join([method.encode(), target.encode(), body])).digest()
        with self._lock:
            self._seen[fingerprint] += 1
            occurrence = self._seen[fingerprint]
        digest = hashlib.sha256(b"%d\0%s\0%d" % (cfg.seed, fingerprint, occurrence)).digest()
        share = int.from_bytes(digest[:8], "big") / 2**64
        if share >= cfg.fault_rate:
            return None
        kinds = [k for k in cfg.kinds if method in WRITE_METHODS or not k.startswith("lost-")]
        if not kinds:
            return None
        return kinds[digest[8] % len(kinds)]
