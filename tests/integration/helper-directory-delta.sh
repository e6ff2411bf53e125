#!/bin/sh
# SPDX-License-Identifier: MIT
# helper-directory-delta.sh: the incremental directory sync at fleet scale
# against the local tenant (docs/directory.md, "Cost"). Root's
# openclaw-sync with 2 000 seeded agents: the request counts of a full
# sync (<= N/500 + 10) and of a sync with nothing changed (<= 2, from the
# tenant's per-client counters), then through the deltaLink kept in
# graph-state.json: a disabled service principal, a deleted one
# (@removed), new agents ($batch), a role withdrawn (seen when the
# principal changes, or at full_sync_interval), Graph's 410 Gone (a full
# sync), $batch members answering 429 and 404, a 429 storm, the request
# budget, the splay, and openclaw-sync killed mid-sync (every file kept).
# Then the app role assignment delta (directoryObjects/delta): without
# User.Read.All one log line per full sync and no request at incremental
# syncs; with it, a steady state of 2 requests, a role withdrawn from a
# principal that did not change gone at the next incremental sync, other
# resources' assignments costing nothing more, and 410 Gone on its
# deltaLink making a full sync.
# Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

OCS=$top_builddir/helper/sync/openclaw-sync
[ "$(id -u)" = 0 ] || tap_skip_all "needs root (openclaw-sync runs as root only)"
[ -x "$OCS" ] || tap_skip_all "openclaw-sync not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"

RESOURCE_APP=6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d
ADMIN_APP=c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b
ADMIN_SECRET='aDm8Q~openclaw-demo-admin-secret.00000001'
NSEED=2000

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-delta.XXXXXX")
chmod 755 "$work"
SYNC_PID=""
cleanup() {
    if [ -n "$SYNC_PID" ]; then
        kill -KILL "$SYNC_PID" 2>/dev/null
        wait "$SYNC_PID" 2>/dev/null
    fi
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT

tenant_start "$work/tenant" || tap_setup_fail "the local tenant does not start"
printf '%s\n' "$ADMIN_SECRET" >"$work/admin.secret"
chmod 600 "$work/admin.secret"
mkdir -p "$work/state"
T=$work/state-trust
D=$T/directory.json
GS=$T/graph-state.json

# write_conf [LINE...]: the config, [directory] with the extra LINEs
write_conf() {
    {
        conf_global "$work/state" "$work/openclawd.sock" "allow_insecure_credentials = yes" \
            "uid_min = 1879048192" "uid_max = 2147352575"
        conf_section "directory" "resource = $RESOURCE_APP" "graph_url = $TENANT_URL" \
            "graph_resource = https://graph.microsoft.com" "sync_interval = 30" \
            "credential = secret-file" "app_id = $ADMIN_APP" "secret_file = $work/admin.secret" "$@"
    } >"$work/openclaw.conf"
    chmod 644 "$work/openclaw.conf"
}
write_conf
C=$work/openclaw.conf

# HTTP requests the [directory] application made since the last reset (a
# $batch is one), and the 429s it got (members of a batch included)
stat_of() {
    tenant_ctl GET graph-stats | "$PY" -c '
import json, sys
n = t = 0
for c in json.load(sys.stdin)["clients"]:
    if (c["appId"] or "").lower() == sys.argv[1]:
        n += c["requests"] - c["batched_requests"] + c["batches"]
        t += c["throttled"]
print(n if sys.argv[2] == "requests" else t)' "$ADMIN_APP" "$1"
}
stats_reset() { tenant_ctl POST graph-stats/reset '{}' >/dev/null; }

# sync [ARGS...]: one openclaw-sync run, output in $work/last.out (and sync.log)
sync() {
    "$OCS" --config "$C" "$@" >"$work/last.out" 2>&1
    local rc=$?
    cat "$work/last.out" >>"$work/sync.log"
    return $rc
}
# inc: an incremental sync now (directory.json aged past sync_interval)
inc() {
    touch -d '-2 hours' "$D"
    sync "$@"
}

agents() { "$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["agents"]))' "$D"; }
dir_get() { # OBJECT_ID FIELD
    "$PY" -c '
import json, sys
for a in json.load(open(sys.argv[1]))["agents"]:
    if a["object_id"] == sys.argv[2]:
        v = a[sys.argv[3]]
        print(json.dumps(v) if isinstance(v, (list, dict, bool)) else v)
        break
else:
    print("ABSENT")' "$D" "$1" "$2"
}
sums() { sha256sum "$D" "$T/nss.cache" "$T/names.json" "$GS" 2>/dev/null; }

# --- 2 000 agents (agent identities, Host.Login), and the seed's own --------
seeded=$(tenant_ctl POST seed-agents "{\"count\": $NSEED, \"seed\": \"delta\", \"returnIds\": true}")
ids=$(echo "$seeded" | "$PY" -c 'import json,sys; print(" ".join(json.load(sys.stdin)["ids"][:8]))')
set -- $ids
[ $# -eq 8 ] || tap_setup_fail "seed-agents gave no ids: $seeded"
A_DISABLE=$1 A_DELETE=$2 A_ROLE=$3 A_ROLE2=$4 A_PATCHED=$5 A_WD=$6 A_OTHER=$7 A_DIS2=$8

# a certificate on agent-alpha's application: its key survives incremental syncs
command -v openssl >/dev/null 2>&1 || tap_skip_all "openssl missing"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/alpha.key" \
    -out "$work/alpha.crt" -days 30 -subj /CN=agent-alpha >/dev/null 2>&1
cert_b64=$(sed '/-----/d' "$work/alpha.crt" | tr -d '\n')
tenant_ctl POST key-credentials "{\"appId\":\"$ALPHA_APP\",\"certificate\":\"$cert_b64\"}" >/dev/null
alpha_key() { "$PY" -c '
import json, sys
for a in json.load(open(sys.argv[1]))["agents"]:
    if a["object_id"] == sys.argv[2]:
        print(" ".join(k["sha256"] + "/" + k.get("ssh", "")[:40] for k in a["keys"]))' "$D" "$ALPHA_OID"; }

# --- a full sync -------------------------------------------------------------
stats_reset
t0=$(date +%s)
if sync --force; then
    tap_ok "full sync of $NSEED+ agents succeeds"
else
    tap_fail "full sync of $NSEED+ agents succeeds" "$(tail -n 5 "$work/last.out")"
fi
t1=$(date +%s)
n=$(agents)
full=$(stat_of requests)
echo "# full sync: $n agents, $full Graph requests, $((t1 - t0)) s"
tap_check "directory.json lists every seeded agent ($n)" test "$n" -ge "$NSEED"
tap_check "full sync: $full Graph requests <= N/500 + 10 = $((n / 500 + 10))" \
    test "$full" -le $((n / 500 + 10))
tap_check "graph-state.json: root's, 0644, with the deltaLink" \
    sh -c "test \"\$(stat -c '%u %a' '$GS')\" = '0 644' && grep -q '\"delta_link\":\"https' '$GS'"
tap_check "names.json (version 2, an array) holds more than 256 names" \
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["version"]==2 and len(d["names"])>256' "$T/names.json"

key_full=$(alpha_key)
tap_check "agent-alpha's certificate key read in the full sync (\$batch of keyCredentials)" \
    sh -c "echo '$key_full' | grep -q '/ecdsa-sha2-nistp256'"

# --- steady state: nothing changed ---------------------------------------------
worst=0
okrun=yes
for i in 1 2 3; do
    stats_reset
    inc || okrun=no
    c=$(stat_of requests)
    [ "$c" -le "$worst" ] || worst=$c
done
echo "# steady state: at most $worst Graph requests per sync"
tap_check "steady state: three incremental syncs succeed" test "$okrun" = yes
tap_check "steady state: $worst Graph request(s) per sync interval (<= 2) with $n agents" \
    test "$worst" -le 2
tap_check "the sync says it was incremental" grep -q "directory sync (incremental)" "$work/last.out"
tap_check "an incremental sync keeps directory.json's agents" test "$(agents)" = "$n"
tap_check "... and agent-alpha's key, from graph-state.json" test "$(alpha_key)" = "$key_full"

# --- a disabled service principal ------------------------------------------------
tenant_ctl POST disable-sp "{\"id\": \"$A_DISABLE\"}" >/dev/null
stats_reset
inc
c=$(stat_of requests)
echo "# disable: $c Graph requests"
tap_check "disabled service principal: enabled false after an incremental sync" \
    test "$(dir_get "$A_DISABLE" enabled)" = false
tap_check "a change costs O(changes) plus the assignments ($c <= N/999 + 6)" \
    test "$c" -le $((n / 999 + 6))

# --- a deleted one (@removed) -------------------------------------------------------
tenant_ctl POST delete-sp "{\"id\": \"$A_DELETE\"}" >/dev/null
inc
tap_check "deleted service principal (@removed in the delta): gone from directory.json" \
    test "$(dir_get "$A_DELETE" name)" = ABSENT

# --- new agents: read through \$batch ----------------------------------------------
new=$(tenant_ctl POST seed-agents '{"count": 25, "seed": "delta-new", "returnIds": true}' |
    "$PY" -c 'import json,sys; print(" ".join(json.load(sys.stdin)["ids"]))')
stats_reset
inc
c=$(stat_of requests)
missing=0
for id in $new; do
    [ "$(dir_get "$id" name)" != ABSENT ] || missing=$((missing + 1))
done
echo "# 25 new agents: $c Graph requests"
tap_check "25 new agents appear after an incremental sync" test "$missing" = 0
if tenant_ctl GET requests | grep -q '"batch"'; then
    tap_ok "their properties came in \$batch requests"
else
    tap_fail "their properties came in \$batch requests"
fi

# --- a role withdrawn ------------------------------------------------------------------
tenant_ctl POST assignments/remove "{\"principalId\": \"$A_ROLE\", \"resourceAppId\": \"$RESOURCE_APP\"}" >/dev/null
inc
tap_check "role withdrawn alone: not seen by the delta (kept until the next full sync)" \
    test "$(dir_get "$A_ROLE" name)" != ABSENT
OPENCLAW_TEST_NOW=$(($(date +%s) + 40))
export OPENCLAW_TEST_NOW
write_conf "full_sync_interval = 30"
inc
unset OPENCLAW_TEST_NOW
write_conf
tap_check "full_sync_interval passed: the sync is a full one" \
    grep -q "directory sync (full)" "$work/last.out"
tap_check "... and is gone from directory.json" test "$(dir_get "$A_ROLE" name)" = ABSENT
# a withdrawn role of a principal that also changed: read again at once
tenant_ctl POST assignments/remove "{\"principalId\": \"$A_ROLE2\", \"resourceAppId\": \"$RESOURCE_APP\"}" >/dev/null
gt=$(tenant_token "$ADMIN_APP" "$ADMIN_SECRET" https://graph.microsoft.com/.default)
curl -sS --cacert "$TENANT_CA" -X PATCH -H "Authorization: Bearer $gt" \
    -H 'Content-Type: application/json' --data '{"displayName": "renamed-by-test"}' \
    "$TENANT_URL/v1.0/servicePrincipals/$A_ROLE2" >/dev/null
inc
tap_check "role withdrawn from a principal the delta reports: gone after one incremental sync" \
    test "$(dir_get "$A_ROLE2" name)" = ABSENT

# --- Graph lost the delta state: 410 Gone -> full sync -------------------------------------
tenant_ctl POST delta-tokens/expire '{"code": "syncStateNotFound"}' >/dev/null
stats_reset
if inc; then
    tap_ok "410 Gone on the deltaLink: the sync succeeds"
else
    tap_fail "410 Gone on the deltaLink: the sync succeeds" "$(tail -n 3 "$work/last.out")"
fi
tap_check "... through a full sync (said in the log)" grep -q "HTTP 410" "$work/last.out"
c=$(stat_of requests)
tap_check "... of at most N/500 + 11 requests ($c)" test "$c" -le $((n / 500 + 11))
inc
tap_check "... and the next sync is incremental again" grep -q "directory sync (incremental)" "$work/last.out"

# --- \$batch members answering 429 and 404 ------------------------------------------
two=$(tenant_ctl POST seed-agents '{"count": 2, "seed": "delta-batch", "returnIds": true}' |
    "$PY" -c 'import json,sys; print(" ".join(json.load(sys.stdin)["ids"]))')
set -- $two
B429=$1 B404=$2
tenant_ctl POST faults "[{\"path\": \"/servicePrincipals/$B429\", \"kind\": \"429\", \"retry_after\": 1, \"count\": 1},
    {\"path\": \"/servicePrincipals/$B404\", \"kind\": \"status\", \"status\": 404, \"count\": 1}]" >/dev/null
stats_reset
if inc; then
    tap_ok "\$batch with a member throttled and one not found: the sync succeeds"
else
    tap_fail "\$batch with a member throttled and one not found: the sync succeeds" "$(tail -n 3 "$work/last.out")"
fi
tap_check "... the throttled member was asked again after its Retry-After" \
    test "$(dir_get "$B429" name)" != ABSENT
tap_check "... the one not found is left out" test "$(dir_get "$B404" name)" = ABSENT
tenant_ctl DELETE faults >/dev/null

# --- a 429 storm: every request over a tiny budget is refused ---------------------------
tenant_ctl POST graph-throttle '{"enabled": true, "limit": 2, "window_seconds": 2, "costs": "flat"}' >/dev/null
stats_reset
t0=$(date +%s)
if sync --force; then
    tap_ok "429 storm (2 requests per 2 s in the tenant): a full sync still completes"
else
    tap_fail "429 storm (2 requests per 2 s in the tenant): a full sync still completes" "$(tail -n 3 "$work/last.out")"
fi
t1=$(date +%s)
th=$(stat_of throttled)
echo "# 429 storm: $th throttled answers, $((t1 - t0)) s"
tap_check "... having met 429s ($th) and waited their Retry-After" test "$th" -ge 1
tap_check "... the log counts them" grep -q "throttled" "$work/last.out"
tenant_ctl POST graph-throttle '{"enabled": false}' >/dev/null

# --- the request budget: an empty bucket waits ------------------------------------------------
write_conf "max_requests_per_minute = 10"
printf '0.000 %s\n' "$(($(date +%s) * 1000))" >"$T/graph-budget"
t0=$(date +%s)
inc
rc=$?
t1=$(date +%s)
echo "# budget 10/min, empty bucket: the sync took $((t1 - t0)) s"
tap_check "max_requests_per_minute = 10 with an empty bucket: the sync waits (>= 4 s) and succeeds" \
    test "$rc" = 0 -a $((t1 - t0)) -ge 4
write_conf

# --- the splay: due once per interval at this host's offset --------------------------------------
off=$("$PY" -c '
import sys
mid = open("/etc/machine-id").read().strip() if __import__("os").path.exists("/etc/machine-id") else ""
if not mid:
    import socket; mid = socket.gethostname()
h = 0xcbf29ce484222325
for b in ("openclaw-sync:" + mid).encode():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print(h % 30)')
now=$(date +%s)
# not within 4 s before the next point: both runs below fall in one interval
left=$((30 - (now - off) % 30))
if [ "$left" -le 4 ]; then
    sleep $((left + 1))
    now=$(date +%s)
fi
point=$((now - ((now - off) % 30)))
stats_reset
touch -d "@$((point - 1))" "$D"
sync
a=$(stat_of requests)
echo "# splay offset $off s of 30: before the point $a request(s)"
tap_check "splay: due when the last sync is older than this host's point in the interval" test "$a" -ge 1
# (after the point, a run waits for the next one when it is within 70 s,
#  and leaves it otherwise: tests/integration/sync-splay.sh)

# --- openclaw-sync killed mid-sync: every file as it was ----------------------------------------
# kill_mid PATH DESC: an incremental sync whose request to PATH the tenant
# delays 4 s, killed (SIGKILL) 1.5 s in: every file must be as it was
kill_mid() {
    local before
    tenant_ctl POST faults "[{\"path\": \"$1\", \"kind\": \"latency\", \"ms\": 4000, \"count\": 1}]" >/dev/null
    touch -d '-2 hours' "$D"
    before=$(sums)
    "$OCS" --config "$C" >>"$work/sync.log" 2>&1 &
    SYNC_PID=$!
    sleep 1.5
    kill -KILL "$SYNC_PID" 2>/dev/null
    wait "$SYNC_PID" 2>/dev/null
    SYNC_PID=""
    tap_check "killed during $2: directory.json, nss.cache, names.json, graph-state.json unchanged" \
        test "$(sums)" = "$before"
}
tenant_ctl POST disable-sp "{\"id\": \"$A_PATCHED\"}" >/dev/null
kill_mid /servicePrincipals/delta "the delta request"
late=$(tenant_ctl POST seed-agents '{"count": 3, "seed": "delta-kill", "returnIds": true}' |
    "$PY" -c 'import json,sys; print(json.load(sys.stdin)["ids"][0])')
kill_mid "/servicePrincipals/$late" "a \$batch (a member delayed)"
tenant_ctl DELETE faults >/dev/null
inc
tap_check "the next run completes the change (the service principal disabled meanwhile)" \
    test "$(dir_get "$A_PATCHED" enabled)" = false

# --- a Retry-After longer than the run: fail now, and no request before it ----------------------
tenant_ctl POST faults '[{"path": "/servicePrincipals/delta", "kind": "429", "retry_after": 200, "count": 1}]' >/dev/null
stats_reset
t0=$(date +%s)
inc
rc=$?
t1=$(date +%s)
c=$(stat_of requests)
# (the tenant's fault answers before its counters: the 429 is not counted)
tap_check "Retry-After 200 s (beyond the run): the sync fails at once ($((t1 - t0)) s)" \
    test "$rc" = 1 -a $((t1 - t0)) -le 10 -a "$c" -le 1
tap_check "... saying when a later run retries" grep -q "asked to wait 200s" "$work/last.out"
stats_reset
inc
rc=$?
c=$(stat_of requests)
tap_check "the next run sends no request before that time (rc $rc, $c requests)" \
    test "$rc" = 1 -a "$c" = 0
tap_check "... and says so" grep -q "asked this host to wait (Retry-After)" "$work/last.out"
tenant_ctl DELETE faults >/dev/null
printf '600.000 %s 0\n' "$(($(date +%s) * 1000))" >"$T/graph-budget"
tap_check "once the time has come, the sync runs again" inc

# --- the app role assignment delta: without User.Read.All -------------------------------
DENIED="refused the app role assignment delta (HTTP 403): grant the \[directory\] application User.Read.All"
GRAPH_APP=00000003-0000-0000-c000-000000000000
stats_reset
if sync --force; then
    tap_ok "assignment delta without User.Read.All: the full sync succeeds"
else
    tap_fail "assignment delta without User.Read.All: the full sync succeeds" "$(tail -n 3 "$work/last.out")"
fi
tap_check "... and says once what to do" test "$(grep -c -- "$DENIED" "$work/last.out")" = 1
tap_check "... remembered in graph-state.json" grep -q '"assignment_denied":true' "$GS"
stats_reset
inc
rc=$?
c=$(stat_of requests)
tap_check "the next incremental sync does not ask again (rc $rc, $c request, no log line)" \
    sh -c "test $rc = 0 -a $c = 1 && ! grep -q 'HTTP 403' '$work/last.out'"

# --- with User.Read.All granted to the [directory] application ---------------------------
tenant_ctl POST assignments "{\"principalAppId\": \"$ADMIN_APP\", \"resourceAppId\": \"$GRAPH_APP\", \"appRole\": \"User.Read.All\"}" >/dev/null
sync --force
tap_check "User.Read.All granted: a full sync keeps the assignment deltaLink" \
    grep -q '"assignment_delta_link":"https' "$GS"
tap_check "... and the resource's assignment ids" \
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["assignment_ids"]) >= int(sys.argv[2]) and not d["assignment_denied"]' "$GS" "$NSEED"
worst=0
for i in 1 2 3; do
    stats_reset
    inc
    c=$(stat_of requests)
    [ "$c" -le "$worst" ] || worst=$c
done
echo "# steady state with the assignment delta: at most $worst Graph requests per sync"
tap_check "steady state with the assignment delta: $worst requests (the two deltaLinks, <= 2)" \
    test "$worst" -le 2
tap_check "... incremental" grep -q "directory sync (incremental)" "$work/last.out"
tenant_ctl POST assignments/remove "{\"principalId\": \"$A_WD\", \"resourceAppId\": \"$RESOURCE_APP\"}" >/dev/null
stats_reset
inc
c=$(stat_of requests)
echo "# role withdrawn, assignment delta: $c Graph requests"
tap_check "role withdrawn from a principal that did not change: gone at the next incremental sync" \
    test "$(dir_get "$A_WD" name)" = ABSENT
tap_check "... an incremental one ($c requests <= N/999 + 6)" \
    sh -c "grep -q 'directory sync (incremental)' '$work/last.out' && test $c -le $((n / 999 + 6))"
tenant_ctl POST assignments "{\"principalId\": \"$A_OTHER\", \"resourceAppId\": \"6d3a9b52-4e6f-4c8b-9d0e-1f2a3b4c5d6e\", \"appRole\": \"Host.Login\"}" >/dev/null
stats_reset
inc
c=$(stat_of requests)
tap_check "a role granted on another resource: no re-read ($c requests = 2)" test "$c" = 2
tenant_ctl POST assignments/remove "{\"principalId\": \"$A_OTHER\", \"resourceAppId\": \"6d3a9b52-4e6f-4c8b-9d0e-1f2a3b4c5d6e\"}" >/dev/null
stats_reset
inc
c=$(stat_of requests)
tap_check "a role withdrawn on another resource: no re-read ($c requests = 2)" test "$c" = 2
tap_check "... the agent keeps its role here" test "$(dir_get "$A_OTHER" roles)" = '["Host.Login"]'
# a changed principal: its properties come with the delta; the assignment
# delta says whether any assignment changed, so none is read again
tenant_ctl POST disable-sp "{\"id\": \"$A_DIS2\"}" >/dev/null
stats_reset
inc
c=$(stat_of requests)
tap_check "a disabled agent, assignment delta: enabled false at the next incremental sync" \
    test "$(dir_get "$A_DIS2" enabled)" = false
tap_check "... without reading every assignment again ($c requests = 2)" test "$c" = 2
ADMIN_SP=c3f5a7b9-1e4c-4b8d-8f2a-3e5a7c9d1f4b # not assigned to the resource
gt=$(tenant_token "$ADMIN_APP" "$ADMIN_SECRET" https://graph.microsoft.com/.default)
curl -sS --cacert "$TENANT_CA" -X PATCH -H "Authorization: Bearer $gt" \
    -H 'Content-Type: application/json' --data '{"displayName": "openclaw-admin-renamed"}' \
    "$TENANT_URL/v1.0/servicePrincipals/$ADMIN_SP" >/dev/null
stats_reset
inc
c=$(stat_of requests)
tap_check "a principal this host does not know changed, assignment delta: $c requests (= 2)" \
    test "$c" = 2
tenant_ctl POST faults '[{"path": "/directoryObjects/delta", "kind": "status", "status": 410, "count": 1}]' >/dev/null
if inc; then
    tap_ok "410 Gone on the assignment deltaLink: the sync succeeds"
else
    tap_fail "410 Gone on the assignment deltaLink: the sync succeeds" "$(tail -n 3 "$work/last.out")"
fi
tenant_ctl DELETE faults >/dev/null
tap_check "... through a full sync in the same run" sh -c \
    "grep -q 'assignment delta state (HTTP 410)' '$work/last.out' && grep -q 'directory sync (full)' '$work/last.out'"
stats_reset
inc
c=$(stat_of requests)
tap_check "... then incremental again ($c requests <= 2)" \
    sh -c "grep -q 'directory sync (incremental)' '$work/last.out' && test $c -le 2"

# assignment_delta = no: today's behaviour (one request in the steady state,
# nothing about assignments in graph-state.json); back to auto, a state
# without the assignment deltaLink (as an older release wrote) means a full sync
write_conf "assignment_delta = no"
sync --force
stats_reset
inc
c=$(stat_of requests)
tap_check "assignment_delta = no: no assignment delta ($c request, nothing kept for it)" \
    sh -c "test $c = 1 && ! grep -q '\"assignment_' '$GS'"
write_conf
inc
tap_check "back to auto: a graph-state.json without the assignment deltaLink makes a full sync" \
    sh -c "grep -q 'no app role assignment deltaLink yet' '$work/last.out' && grep -q 'directory sync (full)' '$work/last.out'"
tap_check "... which keeps it" grep -q '"assignment_delta_link":"https' "$GS"

tap_check "no secret in openclaw-sync's output" sh -c "! grep -qF '$ADMIN_SECRET' '$work/sync.log'"
tap_check "no sanitizer report in openclaw-sync's output" \
    sh -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' '$work/sync.log'"
tap_done
