"""The emulator's request log: one JSON object per request (and per ``$batch`` item).

Kept in memory for tests (``GET /_emulator/requests``) and appended to a
JSON-lines file when ``--request-log`` is given.  It records what happened,
never what was said: no header values, no bodies, no query strings (upload
URLs carry their pre-authentication token in the query).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from pathlib import Path
from typing import Any

Entry = dict[str, Any]


class RequestLog:
    def __init__(self, path: str | None = None, keep: int = 100_000) -> None:
        self.entries: deque[Entry] = deque(maxlen=keep)
        self._file = None
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def write(self, entry: Entry) -> None:
        with self._lock:
            self.entries.append(entry)
            if self._file:
                self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._file:
            self._file.close()
            self._file = None
