#!/bin/bash
# bench/fleet: the directory sync of a fleet against the local tenant
# (bench/fleet.py does the work; docs/performance.md, "Fleet"): for each
# configuration H hosts x N agents, the Graph requests of a first (full)
# sync, of the steady state per host per hour, the 429s met, each host's
# most requests in a minute against its budget, and the revocation latency
# (p50/p99 from "service principal disabled" + "role removed" in the
# tenant to both refused on every host).
#
#   make bench-fleet      (not part of make bench: about 30 minutes)
#
# Environment:
#   OC_FLEET_CONFIGS   "HxN ..." (default "100x10000 1000x1000")
#   OC_FLEET_INTERVAL  sync_interval of the hosts (default 300, the default)
#   OC_FLEET_BUDGET    max_requests_per_minute of the hosts (default 30)
#   OC_BENCH_DOC       the file whose "bench/fleet" section is replaced
#                      (default docs/performance.md); empty: print only
#   OC_FLEET_RESULTS   a bench/fleet.jsonl of an earlier run: print (and
#                      write) its table without running anything
# Needs root (openclaw-sync runs as root only; each host has its own
# /etc/machine-id in a private mount namespace). Not a test: nothing is
# asserted. Every process it starts is stopped by PID; everything lives in
# one temporary directory.
set -u
top_srcdir='%%TOP_SRCDIR%%'
top_builddir='%%TOP_BUILDDIR%%'
PY=/usr/bin/python3
CONFIGS=${OC_FLEET_CONFIGS:-"100x10000 1000x1000"}
INTERVAL=${OC_FLEET_INTERVAL:-300}
BUDGET=${OC_FLEET_BUDGET:-30}
doc=${OC_BENCH_DOC-$top_srcdir/docs/performance.md}

. "$top_srcdir/tests/lib/tenant.sh"

if [ -n "${OC_FLEET_RESULTS:-}" ]; then
    :
elif [ "$(id -u)" != 0 ]; then
    echo "bench/fleet: needs root (openclaw-sync runs as root only); not measured"
    exit 0
fi
work=$(mktemp -d /tmp/oc-bench-fleet.XXXXXX) || exit 1
chmod 755 "$work"
if [ -n "${OC_FLEET_RESULTS:-}" ]; then
    CONFIGS=
    cp "$OC_FLEET_RESULTS" "$work/results.jsonl"
    started=$(date -u -r "$OC_FLEET_RESULTS" '+%Y-%m-%d %H:%M UTC (ended)')
fi
cleanup() {
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT

[ -n "${started:-}" ] || started=$(date -u '+%Y-%m-%d %H:%M UTC')
results=$work/results.jsonl
[ -n "${OC_FLEET_RESULTS:-}" ] || : >"$results"
for c in $CONFIGS; do
    h=${c%x*} n=${c#*x}
    # a tenant of its own for each configuration (its counters, its agents)
    tenant_stop
    tenant_start "$work/tenant-$c" || {
        echo "bench/fleet: the local tenant does not start"
        exit 1
    }
    # User.Read.All when the tenant knows it: the assignment delta
    # (docs/directory.md) sees a withdrawn role at the next sync
    ura=
    grep -q '"User.Read.All"' "$top_srcdir/tests/tenant/entra_tenant/model.py" && ura=--user-read-all
    echo "# fleet $h hosts x $n agents (sync_interval $INTERVAL s, budget $BUDGET/min)" >&2
    timeout --foreground $((INTERVAL * 4 + 3600)) "$PY" "$top_srcdir/bench/fleet.py" --builddir "$top_builddir" \
        --work "$work" --tenant-url "$TENANT_URL" --tenant-ca "$TENANT_CA" --hosts "$h" \
        --agents "$n" --interval "$INTERVAL" --budget "$BUDGET" $ura >>"$results" ||
        echo "{\"hosts\": $h, \"agents\": $n, \"error\": \"bench/fleet.py failed (exit $?)\"}" >>"$results"
done

"$PY" - "$results" "$started" "$(nproc)" "$doc" <<'EOF'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
started, cores, doc = sys.argv[2], sys.argv[3], sys.argv[4]
def num(v):
    return "—" if v is None else (f"{v:,}".replace(",", " ") if isinstance(v, int) else str(v))
out = [f"Measured {started} on {cores} cores by `make bench-fleet` (bench/fleet.sh, bench/fleet.py): "
       "real openclaw-sync processes, one trust_dir, config, machine id and [directory] "
       "application per host, against the local tenant with Graph-like throttling on.", "",
       "| hosts × agents | first (full) sync: requests per host (limit N/500 + 10) | steady state: "
       "requests per sync, most of any host (per host per hour) | 429s met | most requests of a host in a "
       "minute (budget) | role removed: latency p50 / p99 / max, hosts refused | service principal "
       "disabled: latency p50 / p99 / max, hosts refused |",
       "|---|---|---|---|---|---|---|"]
def lat(v, hosts):
    if v["hosts_refused"] == 0:
        return f"not seen within {v['waited']} s on any host"
    return (f"{v['p50']} s / {v['p99']} s / {v['max']} s, {num(v['hosts_refused'])} of {num(hosts)}")
for r in rows:
    if "error" in r:
        out.append(f"| {num(r['hosts'])} × {num(r['agents'])} | not measured: {r['error']} | | | | | |")
        continue
    f, s, v, b = r["first_sync"], r["steady"], r["revocation"], r["budget"]
    out.append(
        f"| {num(r['hosts'])} × {num(r['agents'])} | {num(f['requests_median'])} (max "
        f"{num(f['requests_max'])}; limit {num(f['limit'])}) | {num(r['steady_sync']['requests_max'])} "
        f"({num(None if r['steady_sync']['requests_max'] is None else round(r['steady_sync']['requests_max'] * 3600 / r['sync_interval']))}/h) "
        f"| {num(r['throttled_total'])} | {num(max(b['minute_max'], b['minute_max_first_sync']))} "
        f"({num(r['budget_per_minute'])}) | {lat(v['role_removed'], r['hosts'])} | "
        f"{lat(v['disabled'], r['hosts'])} |")
    out.append(f"|  | sync_interval {r['sync_interval']} s (bound {r['sync_interval'] + 30} s); "
               f"both allowed before on {num(r['allowed_before'])} of {num(r['hosts'])} hosts; "
               f"{num(s['syncs'])} syncs of {num(r['hosts'])} hosts in one interval, the ends of a "
               f"host's two syncs at least {r['steady_sync']['shortest_gap']} s apart (a sync's "
               f"own duration varies); "
               f"{num(r['failed_runs_total'])} failed runs | | | | | |")
text = "\n".join(out) + "\n"
print(text, end="")
if doc:
    begin, end = "<!-- bench/fleet: generated section -->", "<!-- bench/fleet: end of generated section -->"
    s = open(doc).read()
    if begin in s and end in s:
        s = s[:s.index(begin) + len(begin)] + "\n" + text + s[s.index(end):]
        open(doc, "w").write(s)
        print(f"(written to {doc})")
    else:
        print(f"({doc} has no bench/fleet section: printed only)")
EOF
echo "# raw figures: one JSON object per configuration (kept in bench/fleet.jsonl)" >&2
cat "$results" >&2
[ -n "${OC_FLEET_RESULTS:-}" ] || { mkdir -p bench && cp "$results" bench/fleet.jsonl; }
