"""Fault injection and the request log of the test control API."""

import re
import threading
import time

KINDS = ("status", "429", "latency", "malformed", "reset")
MAX_LATENCY_MS = 30000
LOG_LIMIT = 10000


class Fault:
    def __init__(self, spec: dict):
        kind = str(spec.get("kind", "status"))
        if kind not in KINDS:
            raise ValueError("kind must be one of %s" % ", ".join(KINDS))
        path = spec.get("path")
        if not isinstance(path, str) or not path:
            raise ValueError("path is required (a substring of the request path, or a "
                             "regular expression with \"regex\": true)")
        self.kind = kind
        self.path = path
        self.regex = re.compile(path) if spec.get("regex") else None
        self.method = (spec.get("method") or "").upper() or None
        self.count = int(spec.get("count", 1))
        if self.count < 1:
            raise ValueError("count must be at least 1")
        self.status = int(spec.get("status", 429 if kind == "429" else 503))
        self.retry_after = str(spec.get("retry_after", 2))
        self.latency_ms = min(int(spec.get("ms", spec.get("latency_ms", 1000))),
                              MAX_LATENCY_MS)
        self.body = spec.get("body")
        self.hits = 0

    def matches(self, method, path):
        if self.method and self.method != method:
            return False
        if self.regex is not None:
            return self.regex.search(path) is not None
        return self.path in path

    def describe(self):
        return {"kind": self.kind, "path": self.path, "regex": self.regex is not None,
                "method": self.method, "remaining": self.count, "hits": self.hits,
                "status": self.status, "retry_after": self.retry_after,
                "ms": self.latency_ms}


class FaultQueue:
    """Faults apply, in the order they were added, to the next `count`
    requests whose path matches."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults = []

    def add(self, spec):
        fault = Fault(spec)
        with self._lock:
            self._faults.append(fault)
        return fault.describe()

    def take(self, method, path, kinds=None):
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path) and (kinds is None or fault.kind in kinds):
                    fault.count -= 1
                    fault.hits += 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self):
        with self._lock:
            self._faults = []

    def list(self):
        with self._lock:
            return [f.describe() for f in self._faults]


class RequestLog:
    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []
        self._seq = 0

    def add(self, entry):
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            entry["time"] = time.time()
            self._entries.append(entry)
            del self._entries[:-LOG_LIMIT]

    def list(self, path_contains=None):
        with self._lock:
            return [dict(e) for e in self._entries
                    if not path_contains or path_contains in e["path"]]

    def clear(self):
        with self._lock:
            self._entries = []
