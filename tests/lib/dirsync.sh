# tests/lib/dirsync.sh: many directory agents synced by the real
# openclaw-sync from the local tenant (sourced after tests/lib/tenant.sh,
# with the tenant started). Used by tests/integration/directory-100k.sh and
# bench/helper.sh (openclawd's memory with a 100 000-agent directory).
#   dirsync_section SECRET_FILE [LINE...]
#                 prints the [directory] section: the tenant's Graph, read
#                 with the tenant admin's application (its secret is written
#                 to SECRET_FILE, 0600); each LINE is added as it is
#   dirsync_seed N SEED
#                 seeds N agent identities holding Host.Login on the host's
#                 resource (ids are uuid5 of SEED and the number, so runs
#                 repeat); prints the tenant's answer (first, last, seconds)
#   dirsync_run OUT CMD...
#                 runs CMD (openclaw-sync ...), its output in OUT, killed
#                 after DIRSYNC_TIMEOUT s (default 300); sets DIRSYNC_RC,
#                 DIRSYNC_SECONDS (wall, 0.1 s) and DIRSYNC_MAXRSS_KB (its
#                 peak resident memory, getrusage of the children)
#   dirsync_stats_reset, dirsync_requests
#                 the tenant's counters of the admin application: HTTP
#                 requests to Graph since the reset (a $batch is one)
DIRSYNC_RESOURCE_APP=6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d
DIRSYNC_ADMIN_APP=c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b
DIRSYNC_ADMIN_SECRET='aDm8Q~openclaw-demo-admin-secret.00000001'
DIRSYNC_TIMEOUT=${DIRSYNC_TIMEOUT:-300}

dirsync_section() {
    local secret=$1
    shift
    (umask 077 && printf '%s\n' "$DIRSYNC_ADMIN_SECRET" >"$secret")
    printf '[directory]\nresource = %s\ngraph_url = %s\n' "$DIRSYNC_RESOURCE_APP" "$TENANT_URL"
    printf 'graph_resource = https://graph.microsoft.com\ncredential = secret-file\n'
    printf 'app_id = %s\nsecret_file = %s\n' "$DIRSYNC_ADMIN_APP" "$secret"
    [ $# -eq 0 ] || printf '%s\n' "$@"
    echo
}

dirsync_seed() {
    tenant_ctl POST seed-agents "{\"count\": $1, \"seed\": \"$2\"}"
}

dirsync_run() {
    local out=$1 r
    shift
    r=$("$OC_PY" -c '
import resource, subprocess, sys, time
t0 = time.monotonic()
with open(sys.argv[2], "wb") as out:
    p = subprocess.Popen(sys.argv[3:], stdout=out, stderr=subprocess.STDOUT)
    try:
        rc = p.wait(timeout=float(sys.argv[1]))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        rc = "timeout"
print(rc, "%.1f" % (time.monotonic() - t0), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
' "$DIRSYNC_TIMEOUT" "$out" "$@")
    set -- $r
    DIRSYNC_RC=${1:-failed} DIRSYNC_SECONDS=${2:-0} DIRSYNC_MAXRSS_KB=${3:-0}
}

dirsync_stats_reset() { tenant_ctl POST graph-stats/reset '{}' >/dev/null; }
dirsync_requests() {
    tenant_ctl GET graph-stats | "$OC_PY" -c '
import json, sys
n = 0
for c in json.load(sys.stdin)["clients"]:
    if (c["appId"] or "").lower() == sys.argv[1]:
        n += c["requests"] - c["batched_requests"] + c["batches"]
print(n)' "$DIRSYNC_ADMIN_APP"
}
