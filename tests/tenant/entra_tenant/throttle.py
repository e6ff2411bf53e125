"""Microsoft Graph's identity and access throttling, imitated: a request
budget per application+tenant pair, counted in Graph's resource units, and
per-client request counters for tests.  See README.md ("Throttling") for the
numbers and where they come from."""

import collections
import math
import re
import threading
import time

from .errors import GraphError

# Resource units per 10 seconds for one application in one tenant, by tenant
# size (S: under 50 users, M: 50-500, L: over 500), and the write quota, as
# Microsoft Graph's service-specific throttling limits publish them for
# identity and access.
TENANT_SIZES = {"S": 3500, "M": 5000, "L": 8000}
DEFAULTS = {"enabled": False, "tenant_size": "S", "limit": None, "window_seconds": 10.0,
            "write_limit": 3000, "write_window_seconds": 150.0, "costs": "graph",
            "charge_throttled": True}

GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
ROUTE_SUBS = [(re.compile(r"\(appId='[^']*'\)"), "(appId='{appId}')"),
              (re.compile(GUID), "{id}"),
              (re.compile(r"(/appRoleAssignedTo/)[A-Za-z0-9_-]+$"), r"\1{id}")]


def route_of(method, path):
    """A request's route template, e.g. "GET servicePrincipals/{id}/appRoleAssignedTo"."""
    route = path[len("/v1.0/"):] if path.startswith("/v1.0/") else path
    for pattern, repl in ROUTE_SUBS:
        route = pattern.sub(repl, route)
    return "%s %s" % (method, route)


def request_cost(method, path, query, flat=False):
    """(resource units, write units) of one request, after Graph's table of
    base costs for identity paths and its adjustments."""
    route = route_of(method, path)
    write = 1 if method in ("POST", "PATCH", "PUT", "DELETE") else 0
    if flat:
        return 1, write
    base = {"GET applications": 2,
            "POST directoryObjects/getByIds": 3,
            "GET servicePrincipals/{id}/appRoleAssignments": 2}.get(route, 1)
    if route == "POST directoryObjects/getByIds":
        write = 0
    if query.get("$select"):
        base -= 1
    if query.get("$expand"):
        base += 1
    top = query.get("$top")
    if top is not None and top.isdigit() and int(top) < 20:
        base -= 1
    return max(1, base), write


class _Bucket:
    def __init__(self, capacity, window):
        self.capacity = float(capacity)
        self.rate = float(capacity) / float(window)
        self.tokens = float(capacity)
        self.stamp = time.monotonic()

    def take(self, cost, charge_when_refused):
        """Returns 0 when the cost fits, else the seconds until it would."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return 0
        if charge_when_refused:
            self.tokens = max(-self.capacity, self.tokens - cost)
        return max(1, math.ceil((cost - self.tokens) / self.rate))


class Meter:
    """Counts every authenticated Graph request per (tenant, client appId)
    and, when enabled, refuses the ones over budget with 429 + Retry-After."""

    def __init__(self):
        self._lock = threading.Lock()
        self.settings = dict(DEFAULTS)
        self._buckets = {}
        self._stats = {}

    def configure(self, data):
        unknown = set(data) - set(DEFAULTS)
        if unknown:
            raise ValueError("unknown throttle setting %s" % sorted(unknown)[0])
        new = dict(self.settings)
        new.update(data)
        if new["tenant_size"] not in TENANT_SIZES:
            raise ValueError("tenant_size must be S, M or L")
        if new["costs"] not in ("graph", "flat"):
            raise ValueError("costs must be graph or flat")
        for key in ("limit", "write_limit"):
            if new[key] is not None and (not isinstance(new[key], int) or new[key] < 1):
                raise ValueError("%s must be a positive integer or null" % key)
        for key in ("window_seconds", "write_window_seconds"):
            if not isinstance(new[key], (int, float)) or new[key] <= 0:
                raise ValueError("%s must be a positive number" % key)
        new["enabled"] = bool(new["enabled"])
        new["charge_throttled"] = bool(new["charge_throttled"])
        with self._lock:
            self.settings = new
            self._buckets = {}
        return self.describe()

    def describe(self):
        out = dict(self.settings)
        out["effective_limit"] = self._limit()
        return out

    def _limit(self):
        return self.settings["limit"] or TENANT_SIZES[self.settings["tenant_size"]]

    def _entry(self, tid, app_id):
        key = (tid, (app_id or "").lower())
        entry = self._stats.get(key)
        if entry is None:
            entry = self._stats[key] = {
                "tenantId": tid, "appId": app_id, "requests": 0, "resource_units": 0,
                "write_units": 0, "throttled": 0, "batches": 0, "batched_requests": 0,
                "routes": {}, "first": time.time(), "last": None, "minute_max": 0,
                "_recent": collections.deque()}
        return entry

    @staticmethod
    def _http_request(entry):
        """One HTTP request of the client (a $batch is one): its most in any
        60 s window, `minute_max` (what a per-host budget is checked by)."""
        now = time.monotonic()
        recent = entry["_recent"]
        recent.append(now)
        while recent and recent[0] <= now - 60:
            recent.popleft()
        entry["minute_max"] = max(entry["minute_max"], len(recent))

    def count_batch(self, tid, app_id):
        with self._lock:
            entry = self._entry(tid, app_id)
            entry["batches"] += 1
            entry["last"] = time.time()
            self._http_request(entry)

    def charge(self, tid, app_id, method, path, query, in_batch=False):
        """Count one request; raise GraphError 429 when it is over budget.
        Returns the response headers throttling adds."""
        settings = self.settings
        units, write = request_cost(method, path, query, settings["costs"] == "flat")
        with self._lock:
            entry = self._entry(tid, app_id)
            entry["requests"] += 1
            entry["batched_requests"] += 1 if in_batch else 0
            if not in_batch:
                self._http_request(entry)
            entry["resource_units"] += units
            entry["write_units"] += write
            entry["last"] = time.time()
            route = route_of(method, path)
            entry["routes"][route] = entry["routes"].get(route, 0) + 1
            if not settings["enabled"]:
                return {}
            key = (tid, (app_id or "").lower())
            buckets = self._buckets.get(key)
            if buckets is None:
                buckets = self._buckets[key] = (
                    _Bucket(self._limit(), settings["window_seconds"]),
                    _Bucket(settings["write_limit"], settings["write_window_seconds"]))
            wait = buckets[0].take(units, settings["charge_throttled"])
            limit, info = "ReadWrite", "ResourceUnitLimitExceeded"
            if wait == 0 and write:
                wait = buckets[1].take(write, settings["charge_throttled"])
                limit, info = "Write", "WriteLimitExceeded"
            if wait == 0:
                return {"x-ms-resource-unit": str(units)}
            entry["throttled"] += 1
        raise GraphError(429, "TooManyRequests",
                         "Too many requests: the application %s exceeded its %s budget in "
                         "this tenant. Retry after %d seconds." % (app_id, limit.lower(), wait),
                         {"Retry-After": str(wait),
                          "x-ms-throttle-scope": "Tenant_Application/%s/%s/%s"
                          % (limit, app_id, tid),
                          "x-ms-throttle-information": info})

    def stats(self):
        with self._lock:
            clients = []
            for entry in self._stats.values():
                out = {k: v for k, v in entry.items() if not k.startswith("_")}
                out["routes"] = dict(entry["routes"])
                clients.append(out)
        return {"clients": clients, "throttle": self.describe()}

    def reset(self):
        with self._lock:
            self._stats = {}
            self._buckets = {}
