#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/fleet.py: H hosts' directory syncs against the local tenant with N
agents (bench/fleet runs it; docs/performance.md, "Fleet").

Every host is a real openclaw-sync with its own trust_dir, config,
[directory] application (as a host's own managed identity would be) and
/etc/machine-id (a bind mount in a private mount namespace, so each host
has its own splay offset). A scheduler plays each host's
openclaw-sync.timer: a run every 60 s (AccuracySec 5 s) at a random phase,
none while the host's last run is still going; openclaw-sync decides by
itself whether the directory is due, and waits for its splay point when it
falls within 70 s. Real processes rather than the sync state machine
driven H times in one process: what is measured is then what a host runs
(timer, splay, lock, budget file, the files written).

Phases, per (H, N):
  1. first syncs: every host's `openclaw-sync --force`, a few at a time
     (requests per host from the tenant's per-client counters);
  2. steady state: the timers for one sync_interval (requests per host);
  3. revocation: one agent's service principal disabled and another
     agent's role assignment removed, in the tenant; after every run of a
     host that ends later, `openclawctl test-login AGENT sshd` on that host
     (the same parser and host policy as pam_openclaw, on the host's own
     directory.json); the latency of a host is the end of the first run
     after which both are refused. Before the change both are checked
     allowed on every host (the measure's negative control).

Not a test: nothing is asserted; prints one JSON object per configuration.
Every process it starts is stopped by PID; bounded in time.
"""
import argparse
import heapq
import http.client
import json
import os
import random
import re
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid

TENANT_ID = "5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c"
RESOURCE_APP = "6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d"
GRAPH_APP = "00000003-0000-0000-c000-000000000000"
TIMER_PERIOD = 60.0
TIMER_ACCURACY = 5.0
REQ_LINE = re.compile(r"directory sync \((full|incremental)\): (\d+) Graph requests \((\d+) throttled")


class Tenant:
    """The local tenant's control API over HTTPS (one connection, renewed)."""

    def __init__(self, url, ca):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.ctx = ssl.create_default_context(cafile=ca)
        self.conn = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                                            timeout=300)
                self.conn.request(method, "/_control/" + path, body=data,
                                  headers={"Content-Type": "application/json"} if data else {})
                r = self.conn.getresponse()
                out = r.read()
                if r.status >= 400:
                    raise RuntimeError("%s %s: HTTP %d %s" % (method, path, r.status, out[:300]))
                return json.loads(out) if out else None
            except (http.client.HTTPException, OSError):
                self.conn = None
                if attempt == 2:
                    raise
        return None

    def stats(self):
        return {(c["appId"] or "").lower(): c for c in self.call("GET", "graph-stats")["clients"]}


def http_requests(c):
    """HTTP requests of a client (a $batch is one)."""
    return c["requests"] - c["batched_requests"] + c["batches"]


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


class Host:
    def __init__(self, i, root):
        self.i = i
        self.dir = os.path.join(root, "h%05d" % i)
        self.app = str(uuid.uuid4())
        self.conf = os.path.join(self.dir, "openclaw.conf")
        self.mid = os.path.join(self.dir, "machine-id")
        self.log = os.path.join(self.dir, "sync.log")
        self.trust = os.path.join(self.dir, "state-trust")
        self.proc = None
        self.started = 0.0
        self.runs = []  # (start, end, rc, kind, requests, throttled)
        self.refused_at = {}  # revocation -> end of the first run after which it is refused
        self.next_tick = 0.0


def write_host(h, a):
    os.makedirs(os.path.join(h.dir, "state"), mode=0o755)
    os.makedirs(h.trust, mode=0o755)
    os.chmod(h.dir, 0o755)
    with open(h.mid, "w") as f:
        f.write(uuid.uuid4().hex + "\n")
    secret = os.path.join(h.dir, "directory.secret")
    fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (a.secret + "\n").encode())
    os.close(fd)
    with open(h.conf, "w") as f:
        f.write("[global]\ntenant_id = %s\nauthority = %s\naudiences = api://openclaw-host\n"
                "state_dir = %s/state\nsocket = %s/openclawd.sock\nca_file = %s\n"
                "trust_dir = %s\nallow_insecure_credentials = yes\n"
                "uid_min = 1879048192\nuid_max = 2147352575\n\n"
                "[service sshd]\nrequire_role = Host.Login\n\n"
                "[directory]\nresource = %s\ngraph_url = %s\n"
                "graph_resource = https://graph.microsoft.com\nsync_interval = %d\n"
                "credential = secret-file\napp_id = %s\nsecret_file = %s\n"
                "max_requests_per_minute = %d\n%s"
                % (TENANT_ID, a.tenant_url, h.dir, h.dir, a.tenant_ca, h.trust, RESOURCE_APP,
                   a.tenant_url, a.interval, h.app, secret, a.budget, a.extra_directory))
    os.chmod(h.conf, 0o644)


def sync_cmd(a, h, force=False):
    # the host's own /etc/machine-id, in a mount namespace of its own
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind "$1" /etc/machine-id && shift && exec "$@"', "sh", h.mid,
            a.ocs, "--config", h.conf] + (["--force"] if force else [])


def parse_run(h, start, end, rc, log_before):
    kind, req, thr = None, 0, 0
    with open(h.log, "rb") as f:
        f.seek(log_before)
        for line in f.read().decode(errors="replace").splitlines():
            m = REQ_LINE.search(line)
            if m:
                kind, req, thr = m.group(1), req + int(m.group(2)), thr + int(m.group(3))
    h.runs.append((start, end, rc, kind, req, thr))


def allowed(a, h, agent):
    """What the host's data says of agent on sshd: True allowed (a valid
    token still needed), False refused. The name service of this machine is
    not the host's, so its "user" check is left out."""
    r = subprocess.run([a.ctl, "test-login", agent, "sshd", "--config", h.conf, "--json"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
    try:
        o = json.loads(r.stdout)
    except ValueError:
        return False
    if not o.get("agent"):
        return False  # unknown to the host's data: no such user there
    return not any(c["result"] == "fail" for c in o.get("checks", []) if c["check"] != "user")


def names_of(h, oids):
    with open(os.path.join(h.trust, "directory.json")) as f:
        d = json.load(f)
    by = {x["object_id"]: x["name"] for x in d["agents"]}
    return [by.get(o) for o in oids]


LIVE = set()  # every openclaw-sync started and not reaped yet (stopped by PID on exit)


def stop_live():
    for pid in list(LIVE):
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        LIVE.discard(pid)


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def run_config(a, tenant):
    t_begin = time.time()
    root = os.path.join(a.work, "H%d-N%d" % (a.hosts, a.agents))
    os.makedirs(root)
    os.chmod(root, 0o755)
    out = {"hosts": a.hosts, "agents": a.agents, "sync_interval": a.interval,
           "budget_per_minute": a.budget}

    # --- the tenant: N agents, H host applications with Graph's read permissions
    t0 = time.time()
    seeded = tenant.call("POST", "seed-agents", {"count": a.agents, "seed": "fleet-%d-%d" % (
        a.hosts, a.agents), "returnIds": True})
    ids = seeded["ids"]
    x_oid, y_oid = ids[len(ids) // 3], ids[2 * len(ids) // 3]
    hosts = [Host(i, root) for i in range(a.hosts)]
    apps, sps = [], []
    for h in hosts:
        apps.append({"id": str(uuid.uuid4()), "appId": h.app, "displayName": "fleet-host-%05d" % h.i,
                     "passwordCredentials": [{"secretText": a.secret}]})
        sps.append({"id": str(uuid.uuid4()), "appId": h.app, "displayName": "fleet-host-%05d" % h.i})
    tenant.call("POST", "seed", {"tenants": [{"id": TENANT_ID, "applications": apps,
                                              "servicePrincipals": sps}]})
    roles = ["Application.Read.All"] + (["User.Read.All"] if a.user_read_all else [])
    for h in hosts:
        for role in roles:
            tenant.call("POST", "assignments", {"principalAppId": h.app, "resourceAppId": GRAPH_APP,
                                                "appRole": role})
        write_host(h, a)
    if a.throttle:
        tenant.call("POST", "graph-throttle", {"enabled": True})
    out["setup_seconds"] = round(time.time() - t0, 1)
    log("H=%d N=%d: tenant seeded in %.0f s" % (a.hosts, a.agents, time.time() - t0))

    # --- 1. first syncs (full), a few hosts at a time
    tenant.call("POST", "graph-stats/reset", {})
    t0 = time.time()
    pending, running, failed = list(hosts), {}, 0
    while pending or running:
        while pending and len(running) < a.parallel:
            h = pending.pop(0)
            size = os.path.getsize(h.log) if os.path.exists(h.log) else 0
            lf = open(h.log, "ab")
            p = subprocess.Popen(sync_cmd(a, h, force=True), stdout=lf, stderr=subprocess.STDOUT)
            lf.close()
            running[p.pid] = (p, h, time.time(), size)
            LIVE.add(p.pid)
        pid, status = os.wait()
        LIVE.discard(pid)
        if pid in running:
            p, h, st, size = running.pop(pid)
            p.returncode = os.waitstatus_to_exitcode(status)
            parse_run(h, st, time.time(), p.returncode, size)
            failed += p.returncode != 0
    first = tenant.stats()
    full_reqs = [http_requests(first[h.app]) for h in hosts if h.app in first]
    out["first_sync"] = {"seconds": round(time.time() - t0, 1), "failed": failed,
                         "requests_median": statistics.median(full_reqs) if full_reqs else None,
                         "requests_max": max(full_reqs) if full_reqs else None,
                         "seconds_per_host_median": round(statistics.median(
                             r[1] - r[0] for h in hosts for r in h.runs[:1]), 2),
                         "limit": a.agents // 500 + 10}
    log("first syncs: %s" % out["first_sync"])
    names = names_of(hosts[0], [x_oid, y_oid])
    if None in names:
        out["error"] = "the agents to revoke are not in host 0's directory.json"
        return out
    x_name, y_name = names
    before = [(allowed(a, h, x_name), allowed(a, h, y_name)) for h in hosts]
    out["allowed_before"] = sum(1 for b in before if b == (True, True))

    # --- 2. steady state: the timers, for one sync_interval
    # The hosts' first syncs ran a few at a time here; on a fleet each host
    # makes its own at boot. Take them as made together, as the timers start
    # (the last sync's time is directory.json's mtime): a host synced
    # earlier whose splay point has passed since would sync at once, and
    # again at its point within the window.
    heap = []
    now = time.time()
    for h in hosts:
        os.utime(os.path.join(h.trust, "directory.json"), (now, now))
    for h in hosts:
        h.next_tick = now + random.uniform(0, TIMER_PERIOD)
        heapq.heappush(heap, (h.next_tick, h.i))
    procs = {}

    def reap(block_until):
        """Collect ended runs until block_until (or none left to wait for)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            LIVE.discard(pid)
            if pid not in procs:
                continue
            h, st, size = procs.pop(pid)
            h.proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
            h.proc = None
            end = time.time()
            parse_run(h, st, end, os.waitstatus_to_exitcode(status), size)
            on_end(h, end)

    state = {"event": None, "agent": None, "key": None}

    def on_end(h, end):
        ev = state["event"]
        if ev is None or end < ev or state["key"] in h.refused_at:
            return
        if not allowed(a, h, state["agent"]):
            h.refused_at[state["key"]] = end

    def tick_until(t_stop, stop_when=None):
        while time.time() < t_stop:
            if stop_when is not None and stop_when():
                return
            reap(0)
            if not heap:
                break
            t, i = heap[0]
            wait = min(t - time.time(), 0.05)
            if wait > 0:
                time.sleep(wait)
                continue
            heapq.heappop(heap)
            h = hosts[i]
            if h.proc is None:
                size = os.path.getsize(h.log)
                lf = open(h.log, "ab")
                p = subprocess.Popen(sync_cmd(a, h), stdout=lf, stderr=subprocess.STDOUT)
                lf.close()
                h.proc = p
                procs[p.pid] = (h, time.time(), size)
                LIVE.add(p.pid)
            h.next_tick = t + TIMER_PERIOD + random.uniform(0, TIMER_ACCURACY)
            heapq.heappush(heap, (h.next_tick, i))

    tenant.call("POST", "graph-stats/reset", {})
    t_ss = time.time()
    for h in hosts:
        h.runs = []
    tick_until(t_ss + a.interval)
    ss = tenant.stats()
    t_ss_end = time.time()
    per_host = [http_requests(ss[h.app]) if h.app in ss else 0 for h in hosts]
    runs_ss = [r for h in hosts for r in h.runs]
    # each steady sync's own requests (openclaw-sync's log line), and the
    # shortest time between two syncs of one host (once per interval)
    per_sync = [r[4] for r in runs_ss if r[3] is not None]
    out["steady_sync"] = {"requests_max": max(per_sync) if per_sync else None,
                          "requests_median": statistics.median(per_sync) if per_sync else None,
                          "kinds": sorted({r[3] for r in runs_ss if r[3] is not None})}
    out["steady"] = {"seconds": round(t_ss_end - t_ss, 1),
                     "requests_per_host_interval_median": statistics.median(per_host),
                     "requests_per_host_interval_max": max(per_host),
                     "requests_per_host_hour_median": round(statistics.median(per_host) * 3600 /
                                                            (t_ss_end - t_ss), 1),
                     "syncs": sum(1 for r in runs_ss if r[3] is not None),
                     "runs": len(runs_ss),
                     "failed_runs": sum(1 for r in runs_ss if r[2] != 0),
                     "throttled": sum(ss[h.app]["throttled"] for h in hosts if h.app in ss)}
    log("steady: %s %s" % (out["steady"], out["steady_sync"]))

    # --- 3. revocation, one change at a time (a disabled principal makes every
    #     host read the assignments again, which would hide how a withdrawn
    #     role alone is seen): the role first, then the service principal
    out["revocation"] = {}
    for key, agent, change in (
            ("role_removed", y_name, lambda: tenant.call(
                "POST", "assignments/remove", {"principalId": y_oid, "resourceAppId": RESOURCE_APP})),
            ("disabled", x_name, lambda: tenant.call("POST", "disable-sp", {"id": x_oid}))):
        state.update(event=time.time(), agent=agent, key=key)
        change()
        t_ev = state["event"]
        tick_until(t_ev + a.interval + 2 * TIMER_PERIOD + 60,
                   stop_when=lambda: all(key in h.refused_at for h in hosts))
        lat = [h.refused_at[key] - t_ev for h in hosts if key in h.refused_at]
        out["revocation"][key] = {
            "hosts_refused": len(lat), "p50": round(pct(lat, 50), 1) if lat else None,
            "p99": round(pct(lat, 99), 1) if lat else None,
            "max": round(max(lat), 1) if lat else None, "bound": a.interval + 30,
            "waited": round(time.time() - t_ev, 1)}
        log("revocation (%s): %s" % (key, out["revocation"][key]))
        state["event"] = None
    st = tenant.stats()
    all_runs = [r for h in hosts for r in h.runs]
    out["budget"] = {"minute_max": max(st[h.app]["minute_max"] for h in hosts if h.app in st),
                     "minute_max_first_sync": max(first[h.app]["minute_max"] for h in hosts
                                                  if h.app in first)}
    out["throttled_total"] = sum(first[h.app]["throttled"] for h in hosts if h.app in first) + \
        sum(st[h.app]["throttled"] for h in hosts if h.app in st)
    out["failed_runs_total"] = sum(1 for r in all_runs if r[2] != 0)
    gaps = []  # the shortest time between two syncs of one host, every phase since the timers
    for h in hosts:
        ends = sorted(r[1] for r in h.runs if r[3] is not None)
        gaps += [b - e for e, b in zip(ends, ends[1:])]
    out["steady_sync"]["shortest_gap"] = round(min(gaps), 1) if gaps else None

    # stop the runs still going (waiting for their splay point), by PID
    for pid in list(procs):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + 30
    while procs and time.time() < deadline:
        reap(0)
        time.sleep(0.1)
    stop_live()  # what SIGTERM did not end
    out["seconds"] = round(time.time() - t_begin, 1)
    if not a.keep:
        shutil.rmtree(root, ignore_errors=True)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--builddir", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--tenant-url", required=True)
    p.add_argument("--tenant-ca", required=True)
    p.add_argument("--hosts", type=int, required=True)
    p.add_argument("--agents", type=int, required=True)
    p.add_argument("--interval", type=int, default=300)
    p.add_argument("--budget", type=int, default=30)
    p.add_argument("--parallel", type=int, default=3)
    p.add_argument("--user-read-all", action="store_true")
    p.add_argument("--no-throttle", dest="throttle", action="store_false")
    p.add_argument("--extra-directory", default="")
    p.add_argument("--keep", action="store_true")
    a = p.parse_args()
    a.ocs = os.path.join(a.builddir, "helper/sync/openclaw-sync")
    a.ctl = os.path.join(a.builddir, "helper/ctl/openclawctl")
    a.secret = "fLt8Q~openclaw-bench-fleet-host-secret.0001"
    a.extra_directory = a.extra_directory.replace("\\n", "\n")
    if a.extra_directory and not a.extra_directory.endswith("\n"):
        a.extra_directory += "\n"
    tenant = Tenant(a.tenant_url, a.tenant_ca)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        print(json.dumps(run_config(a, tenant)), flush=True)
    finally:
        stop_live()


if __name__ == "__main__":
    main()
