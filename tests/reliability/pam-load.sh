#!/bin/bash
# SPDX-License-Identifier: MIT
# Load with faults: PAM authentications through libpam and pam_openclaw.so
# from 16 threads of one process (pam-load), valid and invalid tokens mixed,
# in rounds of 1000, while the tenant rotates its signing keys, root's
# openclaw-sync rewrites the JWKS file under the readers (as its timer or
# path unit does), and openclawd is killed
# (SIGKILL and SIGTERM) and started again: OC_LOAD_FAULTS (default 12)
# faults in turn, so at least 3 of each kind, every one with decisions made
# across it (the driver's progress count grew from just before the fault to
# just after the restart). What this measures: PAM's offline verification
# from the keys.json openclaw-sync keeps, under rotation and daemon
# restarts; no case asks openclawd (PAM needs no daemon to decide), the
# unknown kid asks openclaw-sync at most (refused at once while the keys
# are fresh). Every decision must be the
# expected one, the driver's fds must not grow and its memory must settle
# after the warm-up. Then one burst: 1000 threads, one authentication
# each, let go together through a gate. OC_LOAD_ROUNDS / OC_LOAD_FAULTS make
# the rounds longer (make soak). Then two negative controls, each breaking
# on purpose what a check claims and requiring that same check to fail:
# faults injected with no load running (no decisions across them), and one
# round of the load with keys.json frozen at openclaw-sync's first
# version, without the rotated key (valid tokens signed with that key
# must be refused: wrong decisions). Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

LOAD="$top_builddir/tests/reliability/pam-load"
MOD=$(pam_module)
FAULTS=${OC_LOAD_FAULTS:-12}
MAX_ROUNDS=${OC_LOAD_ROUNDS:-300}

command -v curl >/dev/null || tap_skip_all "curl missing (scripts/install-deps.sh)"
"$OC_PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
[ "$(id -u)" = 0 ] || tap_skip_all "needs root (openclawd --allow-root, root-owned config)"
for b in "$LOAD" "$OCD"; do
    [ -x "$b" ] || tap_skip_all "$b not built (make check builds it)"
done
grep -q OPENCLAW_TEST_AUDIT_FILE "$MOD" || tap_skip_all "not a --enable-test-hooks build"
asan=no
nm -u "$MOD" 2>/dev/null | grep -q __asan_ && asan=yes
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}

work=$(mktemp -d /tmp/oc-load.XXXXXX)
chmod 755 "$work"
PAM_WORK=$work
export PAM_WORK
HELPER_PID_main=""
load_pid=""
cleanup() {
    [ -n "$load_pid" ] && kill -KILL "$load_pid" 2>/dev/null
    helper_stop "$HELPER_PID_main" >/dev/null 2>&1
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT
tenant_start "$work/tenant" || tap_setup_fail "the local tenant did not start"
mkdir -p "$work/state/jwks" "$work/tally" "$work/run" "$work/svc" "$work/tok"
install -d -m 0755 "$work/trust"
TRUST_LOG=$work/sync.log
chmod 700 "$work/tally"
printf '%s\n' "$ALPHA_SECRET" >"$work/alpha.secret"
chmod 600 "$work/alpha.secret"
S=$work/run/ocd.sock
conf=$work/openclaw.conf
cat >"$conf" <<CONF
[global]
tenant_id = $TENANT_ID
authority = $TENANT_URL
audiences = $RESOURCE_URI, $RESOURCE_V2_APP
issuer_v2 = https://login.microsoftonline.com/{tenantid}/v2.0
state_dir = $work/state
trust_dir = $work/trust
jwks_dir = $work/trust/jwks
tally_dir = $work/tally
runtime_dir = $work/run
socket = $S
ca_file = $TENANT_CA
allow_insecure_credentials = yes
uid_min = 1879048192
uid_max = 2147352575

[service sshd]
require_role = Host.Login
deny = 1000
fail_interval = 1
unlock_time = 1

[agent agent-alpha]
app_id = $ALPHA_APP
object_id = $ALPHA_OID
credential = secret-file
secret_file = $work/alpha.secret

[agent agent-beta]
app_id = $BETA_APP
object_id = $BETA_OID
CONF
chmod 644 "$conf"
export TZ=UTC OPENCLAW_TEST_AUDIT_FILE="$work/audit.log"
printf 'auth required %s config=%s nodelay\naccount required %s config=%s\n' \
    "$MOD" "$conf" "$MOD" "$conf" >"$work/svc/sshd"

helper_start main "$conf" --no-token-store || tap_setup_fail "openclawd did not start: $(tail -n 3 "$work/main.log")"
trust_sync "$conf" || tap_setup_fail "openclaw-sync fetched no keys: $(tail -n 3 "$work/sync.log")"
# the first keys.json, before any rotation: the negative control's frozen file
cp -p "$work/trust/jwks/keys.json" "$work/keys-frozen.json"

# --- the cases ---------------------------------------------------------------
tk=$work/tok
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$tk/alpha-k0"
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_V2_URI/.default" >"$tk/alpha-k0-v2"
tenant_token "$BETA_APP" "$BETA_SECRET" "$RESOURCE_URI/.default" >"$tk/beta-k0"
tenant_ctl POST rotate-keys '{}' >/dev/null # K0 stays published
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$tk/alpha-k1"
tenant_token "$BETA_APP" "$BETA_SECRET" "$RESOURCE_URI/.default" >"$tk/beta-k1"
resign_token "$tk/beta-k1" "{\"exp\":$(($(date +%s) - 600)),\"nbf\":$(($(date +%s) - 4000)),\"iat\":$(($(date +%s) - 4000))}" >"$tk/beta-expired"
resign_token "$tk/beta-k1" '{"roles":null}' >"$tk/beta-noroles"
resign_token "$tk/beta-k1" '{"aud":"api://someone-else"}' >"$tk/beta-otheraud"
"$OC_PY" - "$tk" <<'PY'
import base64, json, sys
d = sys.argv[1]
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
h, p, s = open(d + "/beta-k1").read().strip().split(".")
open(d + "/beta-tampered", "w").write(h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:])
hdr = json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))
hdr["kid"] = "not-published"
hdr.pop("x5t", None)
open(d + "/beta-unknownkid", "w").write(b64u(json.dumps(hdr).encode()) + "." + p + "." + s)
open(d + "/garbage", "w").write("x.y.z")
PY
# openclaw-sync fetches every published key (what its timer does): keys.json
# holds K0 and K1 before the load (an unknown kid right after a fetch is
# rate-limited by design and would be refused, rightly, with "kid")
trust_sync "$conf" || tap_fail "openclaw-sync fetched the rotated keys" "$(tail -n 3 "$work/sync.log")"
k1=$("$OC_PY" -c 'import base64, json, sys
h = open(sys.argv[1]).read().split(".")[0]
print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["kid"])' "$tk/alpha-k1")
grep -qF -- "$k1" "$work/trust/jwks/keys.json" ||
    tap_fail "keys.json holds the second key before the load" "$(tail -n 3 "$work/sync.log")"
cat >"$work/cases" <<LIST
ok agent-alpha $tk/alpha-k0
ok agent-alpha $tk/alpha-k0-v2
ok agent-alpha $tk/alpha-k1
fail agent-beta $tk/alpha-k0
fail agent-beta $tk/beta-expired
fail agent-beta $tk/beta-noroles
fail agent-beta $tk/beta-otheraud
fail agent-beta $tk/beta-tampered
fail agent-beta $tk/beta-unknownkid
fail agent-beta $tk/garbage
fail agent-alpha $tk/beta-k0
LIST
n_ok=$(grep -c '^ok ' "$work/cases")
n_fail=$(grep -c '^fail ' "$work/cases")

# --- the load, with faults ---------------------------------------------------
: >"$work/go"
# One malloc arena: with glibc's per-thread arenas the resident size drifts
# with fragmentation (measured: +2 MiB over 30 rounds of 16 threads, flat
# with one arena), which would hide a real leak behind noise.
MALLOC_ARENA_MAX=1 timeout 600 "$LOAD" -d "$work/svc" -s sshd -t 16 -n 1000 -w "$work/go" -r "$MAX_ROUNDS" \
    -p "$work/progress" "$work/cases" >"$work/load.out" 2>"$work/load.err" &
load_pid=$!
progress() { local n; n=$(cat "$work/progress" 2>/dev/null) && echo $((10#${n:-0})) || echo 0; }
wait_for 30 test -s "$work/progress" || tap_fail "the load driver reports its progress"
faults_reset() {
    rotations=0 kills=0 terms=0 restarts_failed=0 refreshes=0 stop_fail=
    across_rot=0 across_kill=0 across_term=0
}
# Fault I (I mod 3: a key rotation, a SIGKILL, a SIGTERM), counted, and
# counted again as "across" when the driver's decisions grew from just
# before it to after the restart (or the refresh).
inject_fault() {
    local i=$1 before
    sleep 0.3
    before=$(progress)
    case $((i % 3)) in
    1)
        # a new signing key at the tenant; openclaw-sync rewrites keys.json under the readers
        tenant_ctl POST rotate-keys '{}' >/dev/null && rotations=$((rotations + 1))
        trust_sync "$conf" && refreshes=$((refreshes + 1))
        ;;
    2)
        kill -KILL "$HELPER_PID_main" 2>/dev/null && kills=$((kills + 1))
        wait "$HELPER_PID_main" 2>/dev/null
        sleep 0.2
        helper_start main "$conf" --no-token-store || restarts_failed=$((restarts_failed + 1))
        ;;
    0)
        if helper_stop "$HELPER_PID_main" >/dev/null; then
            terms=$((terms + 1))
        else
            stop_fail="$stop_fail exit=$?"
        fi
        helper_start main "$conf" --no-token-store || restarts_failed=$((restarts_failed + 1))
        ;;
    esac
    if [ "$(progress)" -gt "$before" ]; then
        case $((i % 3)) in
        1) across_rot=$((across_rot + 1)) ;;
        2) across_kill=$((across_kill + 1)) ;;
        0) across_term=$((across_term + 1)) ;;
        esac
    fi
}
# The faults check: at least WANT of each kind, each with decisions across
# it, and every restart succeeded.
faults_held() {
    local want=$1
    [ "$rotations" -ge "$want" ] && [ "$kills" -ge "$want" ] && [ "$terms" -ge "$want" ] &&
        [ "$across_rot" -eq "$rotations" ] && [ "$across_kill" -eq "$kills" ] &&
        [ "$across_term" -eq "$terms" ] && [ "$restarts_failed" -eq 0 ]
}
across_figures() { echo "rotations=$across_rot/$rotations sigkills=$across_kill/$kills sigterms=$across_term/$terms"; }
# The decisions check: the driver exited 0 and counted no wrong decision.
all_as_expected() { [ "$1" -eq 0 ] && [ "${2:-1}" = 0 ]; }
faults_reset
for i in $(seq 1 "$FAULTS"); do
    kill -0 "$load_pid" 2>/dev/null || break
    inject_fault "$i"
done
rm -f "$work/go"
wait "$load_pid"
load_rc=$?
load_pid=""
line=$(cat "$work/load.out")
val() { printf '%s\n' "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
decisions=$(val decisions)
wrong=$(val wrong)
echo "# $line"
echo "# faults: $rotations key rotations ($refreshes openclaw-sync runs), $kills SIGKILL + $terms SIGTERM restarts of openclawd"
echo "# faults with decisions across: $(across_figures)"
echo "# cases: $n_ok valid, $n_fail invalid, 16 threads"

if [ "$load_rc" -lt 124 ] && [ -n "$decisions" ] && [ "$decisions" -ge 1000 ]; then
    tap_ok "$decisions PAM decisions from 16 threads (rounds of 1000) with faults injected"
else
    tap_fail "at least 1000 PAM decisions" "rc=$load_rc $line $(head -c 800 "$work/load.err")"
fi
if all_as_expected "$load_rc" "$wrong"; then
    tap_ok "every decision as expected: $n_ok valid tokens accepted, $n_fail invalid refused, each time"
else
    tap_fail "every decision as expected" "wrong=${wrong:-?} $(grep -m 5 'wrong decision' "$work/load.err")"
fi
want=$((FAULTS / 3))
if faults_held "$want"; then
    tap_ok "faults during the load, each with decisions across it: $rotations key rotations, $kills SIGKILL and $terms SIGTERM restarts of openclawd"
else
    tap_fail "at least $want of each fault during the load, each with decisions across it" "$(across_figures) failed restarts=$restarts_failed${stop_fail:+ SIGTERM stops that failed:$stop_fail} (the load ended too soon?) $(tail -n 5 "$work/main.log")"
fi
if [ -n "$(val fds_before)" ] && [ "$(val fds_before)" = "$(val fds_after)" ]; then
    tap_ok "the driver holds as many fds after the load as after the warm-up ($(val fds_before))"
else
    tap_fail "no fd growth in the driver" "$line"
fi
rss_growth=$(($(val rss_after_kib) - $(val rss_round1_kib)))
echo "# driver resident memory: $(val rss_before_kib) KiB after the warm-up, $(val rss_round1_kib) KiB after round 1, $(val rss_after_kib) KiB at the end"
if [ "$asan" = yes ]; then
    tap_skip "no memory growth after round 1" "the sanitizer's quarantine holds freed memory on purpose (LeakSanitizer checks at exit)"
elif [ "$(val rounds)" -lt 3 ]; then
    tap_skip "no memory growth after round 1" "only $(val rounds) rounds ran"
elif [ "$rss_growth" -le 1024 ]; then
    tap_ok "no memory growth: $rss_growth KiB from round 1 to round $(val rounds) (at most 1 MiB)"
else
    tap_fail "no memory growth after round 1" "grew by $rss_growth KiB"
fi
if grep -q "Sanitizer\|runtime error" "$work/load.err" "$work/main.log"; then
    tap_fail "no sanitizer report" "$(grep -m 3 "Sanitizer\|runtime error" "$work/load.err" "$work/main.log")"
else
    tap_ok "no sanitizer report from the driver or openclawd"
fi
case $(req "$S" '{"type":"ping"}') in
*'"ok":true'* | *'"ok": true'*) tap_ok "openclawd answers after the restarts" ;;
*) tap_fail "openclawd answers after the restarts" "$(tail -n 3 "$work/main.log")" ;;
esac

# --- 1000 at once ------------------------------------------------------------
# One burst: 1000 threads, one authentication each, all started and held at
# a gate, then let go together (up to 1000 in flight at the same moment),
# the same valid and invalid cases, right after a key rotation.
tenant_ctl POST rotate-keys '{}' >/dev/null
trust_sync "$conf"
MALLOC_ARENA_MAX=1 timeout 300 "$LOAD" -d "$work/svc" -s sshd -t 16 -b 1000 "$work/cases" \
    >"$work/burst.out" 2>"$work/burst.err"
burst_rc=$?
line=$(cat "$work/burst.out")
echo "# burst: $line"
if [ "$(val decisions)" = 1000 ] && all_as_expected "$burst_rc" "$(val wrong)"; then
    tap_ok "1000 authentications let go at once (peak: $(val peak_in_flight) in flight together): every decision as expected"
else
    tap_fail "1000 authentications at once, every decision as expected" \
        "rc=$burst_rc $line $(grep -m 5 'wrong decision\|cannot' "$work/burst.err")"
fi
if [ -n "$(val fds_before)" ] && [ "$(val fds_before)" = "$(val fds_after)" ]; then
    tap_ok "the burst leaves no fd behind ($(val fds_before) before and after)"
else
    tap_fail "no fd left by the burst" "$line"
fi
if grep -q "Sanitizer\|runtime error" "$work/burst.err"; then
    tap_fail "no sanitizer report from the burst" "$(grep -m 3 "Sanitizer\|runtime error" "$work/burst.err")"
else
    tap_ok "no sanitizer report from the burst"
fi

# --- negative controls ---------------------------------------------------------
# 1. Faults with no decisions across them: one of each kind while no load
# runs (the driver has ended, its progress count stands still); the faults
# check must say they did not hold.
faults_reset
for i in 1 2 3; do
    inject_fault "$i"
done
echo "# negative control: faults without load, decisions across: $(across_figures)"
if [ "$rotations" -eq 1 ] && [ "$kills" -eq 1 ] && [ "$terms" -eq 1 ] && [ "$restarts_failed" -eq 0 ] &&
    ! faults_held 1; then
    tap_ok "negative control: 3 faults with no decisions across them are caught by the faults check ($(across_figures))"
else
    tap_fail "negative control: faults with no decisions across them are caught" \
        "$(across_figures) failed restarts=$restarts_failed $(tail -n 3 "$work/main.log")"
fi
# 2. keys.json frozen at openclaw-sync's first version, without the
# rotated key K1 (nothing writes a newer one; openclawd stopped too): one
# round of the same cases, where the valid tokens signed with K1 must be
# refused (wrong decisions, each a valid token refused), and the decisions
# check must say "wrong".
helper_stop "$HELPER_PID_main" >/dev/null
HELPER_PID_main=""
cp -p "$work/keys-frozen.json" "$work/trust/jwks/keys.json"
MALLOC_ARENA_MAX=1 timeout 120 "$LOAD" -d "$work/svc" -s sshd -t 16 -n $((20 * (n_ok + n_fail))) "$work/cases" \
    >"$work/control.out" 2>"$work/control.err"
control_rc=$?
line=$(cat "$work/control.out")
# each case ran 20 times: exactly the valid K1 cases' decisions are wrong,
# and no invalid token was accepted (stderr names every wrong decision,
# the uncounted warm-up's too)
want_wrong=$((20 * $(grep -c '^ok .*-k1$' "$work/cases")))
echo "# negative control: keys.json frozen without the rotated key: $line"
if ! grep -qF -- "$k1" "$work/keys-frozen.json" && [ "$(val wrong)" -ge 1 ] 2>/dev/null &&
    [ "$(val wrong)" = "$want_wrong" ] && ! grep -q 'wrong decision: expected refusal' "$work/control.err" &&
    ! all_as_expected "$control_rc" "$(val wrong)"; then
    tap_ok "negative control: keys.json frozen without the rotated key, $(val wrong) wrong decisions caught in $(val decisions) (the valid tokens of the rotated key, refused each time)"
else
    tap_fail "negative control: keys.json frozen without the rotated key gives wrong decisions" \
        "rc=$control_rc $line; expected wrong=$want_wrong, valid tokens only $(grep -m 3 'wrong\|cannot' "$work/control.err")"
fi
if grep -q "Sanitizer\|runtime error" "$work/control.err"; then
    tap_fail "no sanitizer report from the negative control's round" "$(grep -m 3 "Sanitizer\|runtime error" "$work/control.err")"
fi
tap_done
