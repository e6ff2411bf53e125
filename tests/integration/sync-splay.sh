#!/bin/sh
# SPDX-License-Identifier: MIT
# sync-splay.sh: when root's openclaw-sync syncs the directory
# (docs/directory.md, "Throttling, budget and splay"). Due once per
# sync_interval at this host's splay offset; a timer run that finds the
# point within 70 s waits for it (so a revocation is seen within
# sync_interval plus the run, not up to a timer period later); a request
# (pam_openclaw's unknown kid) ends the wait at once; a point further away
# is left to a later timer run (nothing asked of Graph); a full sync falls
# between half and all of full_sync_interval after the last, at the host's
# own place. Against the local tenant. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/lib/dirsync.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

OCS=$top_builddir/helper/sync/openclaw-sync
[ "$(id -u)" = 0 ] || tap_skip_all "needs root (openclaw-sync runs as root only)"
[ -x "$OCS" ] || tap_skip_all "openclaw-sync not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-splay.XXXXXX")
chmod 755 "$work"
BG=""
cleanup() {
    if [ -n "$BG" ]; then
        kill -KILL "$BG" 2>/dev/null
        wait "$BG" 2>/dev/null
    fi
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT

tenant_start "$work/tenant" || tap_setup_fail "the local tenant does not start"
mkdir -p "$work/state"
T=$work/state-trust
D=$T/directory.json
C=$work/openclaw.conf

write_conf() { # SYNC_INTERVAL [LINE...]
    local iv=$1
    shift
    {
        conf_global "$work/state" "$work/openclawd.sock" "allow_insecure_credentials = yes"
        dirsync_section "$work/admin.secret" "sync_interval = $iv" "$@"
    } >"$C"
    chmod 644 "$C"
}
# this host's offset in an interval, as openclaw-sync computes it
offset() {
    "$PY" -c '
import os, socket, sys
mid = open("/etc/machine-id").read().strip() if os.path.exists("/etc/machine-id") else ""
mid = mid or socket.gethostname()
h = 0xcbf29ce484222325
for b in ("openclaw-sync:" + mid).encode():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print(h % int(sys.argv[1]))' "$1"
}
# next_point IV: the next splay point after now
next_point() {
    local off now
    off=$(offset "$1")
    now=$(date +%s)
    echo $((now - ((now - off) % $1) + $1))
}

write_conf 30
if "$OCS" --config "$C" --force >"$work/first.out" 2>&1 && [ -s "$D" ]; then
    tap_ok "a first (forced) sync writes directory.json"
else
    tap_fail "a first (forced) sync writes directory.json" "$(tail -n 5 "$work/first.out")"
    exit 1
fi

# --- a point within 70 s: the run waits for it, then syncs -----------------
# (sync_interval 30: the next point is always within 70 s; at least 8 s
#  ahead so that "at the point" and "at once" are told apart)
p=$(next_point 30)
if [ $((p - $(date +%s))) -lt 8 ]; then
    sleep $((p - $(date +%s) + 1))
    p=$(next_point 30)
fi
# the last sync after this interval's point (the forced one may have ended
# just before it, which makes the directory due at once)
touch "$D"
dirsync_stats_reset
"$OCS" --config "$C" >"$work/wait.out" 2>&1
rc=$?
t_end=$(date +%s)
m=$(stat -c %Y "$D")
echo "# next point $p, run ended $t_end, directory.json written at $m"
tap_check "a timer run before the splay point succeeds (exit $rc)" test "$rc" = 0
tap_check "it says it waits for this host's offset" grep -q "due in .*waiting for it" "$work/wait.out"
tap_check "it synced at the point, not before ($m >= $p)" test "$m" -ge "$p"
tap_check "... and not long after it (ended $((t_end - p)) s after it, <= 10)" test "$t_end" -le $((p + 10))
tap_check "the sync asked Graph ($(dirsync_requests) requests)" test "$(dirsync_requests)" -ge 1

# --- a request ends the wait at once ---------------------------------------
p=$(next_point 30)
if [ $((p - $(date +%s))) -lt 12 ]; then
    sleep $((p - $(date +%s) + 1))
    p=$(next_point 30)
fi
touch "$D"
mkdir -p "$T/jwks"
"$OCS" --config "$C" >"$work/req.out" 2>&1 &
BG=$!
sleep 2
: >"$T/jwks/refresh-requested"
i=0
while kill -0 "$BG" 2>/dev/null && [ "$i" -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
t_end=$(date +%s)
wait "$BG"
rc=$?
BG=""
echo "# next point $p, the run asked for keys ended at $t_end"
tap_check "pam_openclaw's refresh request ends the wait (exit $rc, $((p - t_end)) s before the point)" \
    test "$rc" = 0 -a "$t_end" -lt "$p"
tap_check "... and the keys are fetched" grep -q "refresh requested" "$work/req.out"

# --- the full syncs: between half and all of full_sync_interval, at this
#     host's own place in it (a fleet started together spreads them) ------
write_conf 30 "full_sync_interval = 600"
"$OCS" --config "$C" --force >"$work/full.out" 2>&1
F=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["full_at"])' "$T/graph-state.json")
due=$((600 - $(offset 300)))
# inc_at SECONDS: an incremental-or-full sync as if SECONDS after the full one
inc_at() {
    touch -d "@$((F + $1 - 120))" "$D"
    OPENCLAW_TEST_NOW=$((F + $1)) "$OCS" --config "$C" >"$work/at.out" 2>&1
}
echo "# this host's full sync falls $due s after the last (full_sync_interval 600)"
inc_at $((due - 3))
tap_check "before this host's share of full_sync_interval ($((due - 3)) s): incremental" \
    grep -q "directory sync (incremental)" "$work/at.out"
inc_at $((due + 3))
tap_check "past it ($((due + 3)) s, within the 600 s): a full sync" \
    grep -q "directory sync (full)" "$work/at.out"
tap_check "... saying so" grep -q "past this host's ${due}s of full_sync_interval" "$work/at.out"

# --- a point further away: nothing now --------------------------------------
iv=""
for cand in 3600 7200 86400; do
    if [ $(($(next_point "$cand") - $(date +%s))) -gt 90 ]; then
        iv=$cand
        break
    fi
done
if [ -z "$iv" ]; then
    tap_fail "an interval whose next point is over 90 s away" "3600, 7200 and 86400 all within 90 s"
else
    write_conf "$iv"
    touch "$D"
    dirsync_stats_reset
    t0=$(date +%s)
    "$OCS" --config "$C" >"$work/far.out" 2>&1
    rc=$?
    t1=$(date +%s)
    tap_check "sync_interval $iv, point over 90 s away: the run ends at once ($((t1 - t0)) s, exit $rc)" \
        test "$rc" = 0 -a $((t1 - t0)) -le 5
    tap_check "... without a Graph request" test "$(dirsync_requests)" = 0
fi
tap_done
