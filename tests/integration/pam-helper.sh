#!/bin/bash
# pam_openclaw together with openclawd: the module (PAM applications under
# pam_wrapper, as root) and the real daemon (--allow-root) against the
# local test tenant. Checks: the daemon absent or hung never blocks a login
# for long; an unknown kid makes the module ask root's openclaw-sync for the
# keys (the request file openclaw-sync.path watches) and retry once; mode=helper gates sudo by the live role (granted and revoked in the
# tenant, no config change); session-open/close counted by the daemon, its
# environment exported; agent-lock/unlock (persisted over a restart,
# openclawctl agent unlock); a PAM lockout reported as an anomaly; every
# new root-only request from another uid ends the connection. Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"

[ "$(id -u)" = 0 ] || tap_skip_all "needs root (the module asks root-only requests; clients under other uids via setpriv)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
[ -x "$OCD" ] || tap_skip_all "openclawd not built"
mod=$(pam_module)
conv="$top_builddir/tests/integration/pam-askpass-conv"
ctl="$top_builddir/helper/ctl/openclawctl"
wrapper=$(ls /usr/lib/*/libpam_wrapper.so /usr/lib/libpam_wrapper.so 2>/dev/null | head -n1)
[ -f "$mod" ] || tap_skip_all "pam_openclaw.so not built"
[ -x "$conv" ] || tap_skip_all "pam-askpass-conv not built (make check builds it)"
SAN=$(pam_sanitizer_preload)
if [ -n "$SAN" ]; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
else
    command -v pamtester >/dev/null || tap_skip_all "pamtester missing (scripts/install-deps.sh)"
    [ -n "$wrapper" ] || tap_skip_all "libpam-wrapper missing (scripts/install-deps.sh)"
fi
command -v curl >/dev/null || tap_skip_all "curl missing (scripts/install-deps.sh)"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
grep -q OPENCLAW_TEST_AUDIT_FILE "$mod" || tap_skip_all "not a --enable-test-hooks build"

UID_A=1879048193 # agent-alpha
UID_B=1879048194 # agent-beta
UID_HUMAN=4242
HOST_APP=6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d # openclaw-host, the resource
TOKEN_PATH=/oauth2/v2.0/token

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-pamd.XXXXXX")
chmod 755 "$work" # clients under other uids reach the socket in it
uid_copies "$work/bin" # what runs under other uids: copies, never the tree
PAM_WORK=$work
HELPER_PID_main=""
HANG_PID=""
cleanup() {
    trust_watch_stop
    helper_stop "$HELPER_PID_main"
    [ -n "$HANG_PID" ] && kill "$HANG_PID" 2>/dev/null && wait "$HANG_PID" 2>/dev/null
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT
tenant_start "$work/tenant" || tap_setup_fail "the local tenant did not start"

mkdir -p "$work/state/jwks" "$work/run" "$work/svc"
install -d -m 0755 "$work/trust"
printf '%s\n' "$ALPHA_SECRET" >"$work/alpha.secret"
printf '%s\n' "$BETA_SECRET" >"$work/beta.secret"
chmod 600 "$work/alpha.secret" "$work/beta.secret"
S=$work/run/openclawd.sock
conf=$work/openclaw.conf
{
    conf_global "$work/state" "$S" "$ISSUER_V2_LINE" "jwks_dir = $work/trust/jwks" \
        "tally_dir = $work/tally" "runtime_dir = $work/run" "allow_insecure_credentials = yes" \
        "uid_min = 1879048192" "uid_max = 2147352575"
    conf_section "service sshd" "require_role = Host.Login"
    conf_section "service sudo" "require_role = Host.Sudo"
    conf_section "service sudo-hang" "require_role = Host.Sudo"
    conf_section "service su" "require_role = Host.Sudo"
    conf_section "service lock" "require_role = Host.Login" "deny = 2" "fail_interval = 60" \
        "unlock_time = 600"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $UID_A" "credential = secret-file" \
        "secret_file = $work/alpha.secret"
    conf_agent agent-beta "$BETA_APP" "$BETA_OID" "uid = $UID_B" "credential = secret-file" \
        "secret_file = $work/beta.secret"
} >"$conf"
chmod 644 "$conf"
export TZ=UTC
export OPENCLAW_TEST_AUDIT_FILE="$work/audit.log"

svc() { # NAME ARGS...: every phase of the module with ARGS
    local name=$1
    shift
    local args="config=$conf nodelay $*"
    printf 'auth required %s %s\naccount required %s %s\nsession required %s %s\n' \
        "$mod" "$args" "$mod" "$args" "$mod" "$args" >"$work/svc/$name"
}
svc sshd
svc lock
svc sudo mode=helper helper_max_age=0
svc su mode=helper helper_max_age=0
svc sudo-hang mode=helper helper_max_age=0 helper_timeout=2
printf 'auth required pam_deny.so\naccount required pam_deny.so\n' >"$work/svc/other"

# pt SERVICE USER INPUT OPS...: a PAM application (pamtester, or the test
# driver for "env" and in sanitizer builds) under pam_wrapper; sets out, rc, ms
pt() {
    local service=$1 user=$2 input=$3 t0
    shift 3
    t0=$(date +%s%N)
    if [ -n "$SAN" ]; then
        out=$(timeout 60 "$conv" -d "$work/svc" "$service" "$user" "$@" <"$input" 2>&1)
    elif [ "${PT_CONV:-}" = 1 ]; then
        out=$(LD_PRELOAD="$wrapper" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/svc" \
            timeout 60 "$conv" "$service" "$user" "$@" <"$input" 2>&1)
    else
        out=$(LD_PRELOAD="$wrapper" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/svc" \
            timeout 60 ${PT_PREFIX:-} pamtester -v ${PT_OPTS:-} "$service" "$user" "$@" <"$input" 2>&1)
    fi
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    printf '%s\n' "$out" >>"$work/all.out"
}
clear_audit() { : >"$OPENCLAW_TEST_AUDIT_FILE"; }
audit_has() { grep -q -- "$1" "$OPENCLAW_TEST_AUDIT_FILE" 2>/dev/null; }
unlock_all() { rm -f "$work"/tally/agent-*; }
# expect RESULT DESC REASON SERVICE USER INPUT OPS...: RESULT ok or refused
expect() {
    local want=$1 desc=$2 reason=$3
    shift 3
    unlock_all
    clear_audit
    pt "$@"
    if [ "$want" = ok ] && [ "$rc" -eq 0 ]; then
        tap_ok "$desc"
    elif [ "$want" = refused ] && [ "$rc" -ne 0 ] &&
        audit_has "result=failure reason=$reason\( \|$\)"; then
        tap_ok "$desc: refused, reason=$reason"
    else
        tap_fail "$desc" "rc=$rc $out
$(cat "$OPENCLAW_TEST_AUDIT_FILE" 2>/dev/null)"
    fi
}
status_of() { # AGENT FIELD: a field of the agent in root's status
    req "$S" '{"type":"status"}' | "$PY" -c '
import json, sys
for a in json.load(sys.stdin)["agents"]:
    if a["name"] == sys.argv[1]:
        v = a.get(sys.argv[2])
        print(json.dumps(v) if isinstance(v, (bool, list, dict)) else v)' "$1" "$2"
}
token_requests() { # CLIENT_ID: token endpoint calls in the tenant's log
    tenant_ctl GET "requests?path=$TOKEN_PATH" | "$PY" -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin)["requests"] if r.get("client_id") == sys.argv[1]))' "$1"
}
# root's keys, as openclaw-sync.timer fetches them
jwks_file() { trust_sync "$conf" || tap_setup_fail "openclaw-sync fetched no keys: $(tail -3 "$work/sync.log")"; }
tk=$work/tokens
mkdir -p "$tk"
: >"$tk/empty"
echo "not-a-token" >"$tk/garbage"
jwks_file

# --- the module links the protocol code but exports only pam_sm_* ----------------
if command -v nm >/dev/null; then
    syms=$(nm -D --defined-only "$mod" | awk '{ print $3 }' | sort | tr '\n' ' ')
    [ "$syms" = "pam_sm_acct_mgmt pam_sm_authenticate pam_sm_chauthtok pam_sm_close_session pam_sm_open_session pam_sm_setcred " ] &&
        tap_ok "pam_openclaw.so exports the six pam_sm_* entry points only" ||
        tap_fail "pam_openclaw.so exports the six pam_sm_* entry points only" "$syms"
else
    tap_skip "pam_openclaw.so exports pam_sm_* only" "nm missing"
fi

# --- openclawd absent: nothing blocks ----------------------------------------
expect refused "mode=helper without openclawd" helper-unavailable sudo agent-alpha "$tk/empty" \
    authenticate
[ "$ms" -lt 3000 ] && tap_ok "mode=helper without openclawd answers at once (${ms} ms)" ||
    tap_fail "mode=helper without openclawd answers at once" "${ms} ms"
PT_CONV=1 pt sshd agent-alpha "$tk/empty" open_session env close_session
if [ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -qx "env: OPENCLAW_SOCKET=$S" && [ "$ms" -lt 3000 ]; then
    tap_ok "session without openclawd: opens at once (${ms} ms), OPENCLAW_SOCKET exported"
else
    tap_fail "session without openclawd: opens at once, OPENCLAW_SOCKET exported" "rc=$rc ms=$ms $out"
fi

tenant_ctl POST rotate-keys '{}' >/dev/null
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$tk/rotated1"
# keys fetched a minute ago: past the rate limit, the module asks and waits
touch -d "@$(($(date +%s) - 60))" "$work/trust/jwks/keys.json"
expect refused "unknown kid, openclaw-sync.path not running" kid sshd agent-alpha "$tk/rotated1" authenticate
audit_has "no new keys came (openclaw-sync wrote no new keys within 2000 ms" &&
    tap_ok "unknown kid, nothing takes the request: the audit says openclaw-sync wrote no new keys" ||
    tap_fail "unknown kid, nothing takes the request: the audit says why" "$(cat "$OPENCLAW_TEST_AUDIT_FILE")"
rm -f "$work/trust/jwks/refresh-requested"
# the timer's next run: root's keys hold the rotated key from here on
jwks_file

# A daemon that accepts nothing and never answers: the deadlines hold.
"$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(64)
conns = []
for _ in range(600):
    s.settimeout(0.1)
    try:
        conns.append(s.accept()[0])
    except OSError:
        pass
' "$S" &
HANG_PID=$!
wait_for 5 test -S "$S"
PT_CONV=1 pt sshd agent-alpha "$tk/empty" open_session env
if [ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -qx "env: OPENCLAW_SOCKET=$S" && [ "$ms" -lt 2500 ]; then
    tap_ok "openclawd hung: the session opens after the short deadline (${ms} ms)"
else
    tap_fail "openclawd hung: the session opens after the short deadline" "rc=$rc ms=$ms $out"
fi
expect refused "mode=helper with a hung openclawd (helper_timeout=2)" helper-unavailable \
    sudo-hang agent-alpha "$tk/empty" authenticate
[ "$ms" -ge 1900 ] && [ "$ms" -lt 4000 ] &&
    tap_ok "mode=helper with a hung openclawd waits helper_timeout, no longer (${ms} ms)" ||
    tap_fail "mode=helper with a hung openclawd waits helper_timeout" "${ms} ms"
kill "$HANG_PID" 2>/dev/null
wait "$HANG_PID" 2>/dev/null
HANG_PID=""
rm -f "$S"

# --- the daemon runs ------------------------------------------------------------
if helper_start main "$conf"; then
    tap_ok "openclawd starts"
else
    tap_fail "openclawd starts" "$(cat "$work/main.log")"
    tap_done
    exit 1
fi

# --- authorization matrix of the new requests ---------------------------------
for r in '{"type":"session-open","agent":"agent-alpha"}' '{"type":"session-close","agent":"agent-alpha"}' \
    '{"type":"agent-lock","agent":"agent-alpha"}' '{"type":"agent-unlock","agent":"agent-alpha"}' \
    '{"type":"anomaly","agent":"agent-alpha"}' '{"type":"get-token","max_age":0}'; do
    for u in $UID_A $UID_HUMAN; do
        a=$(as_uid "$u" "$PY" "$CLIENT" "$S" json "$r")
        [ "$a" = CLOSED ] && tap_ok "uid $u sends $r: connection ended" ||
            tap_fail "uid $u sends $r: connection ended" "$a"
    done
done
for r in '{"type":"session-open"}' '{"type":"get-token","agent":"agent-alpha","max_age":-1}' \
    '{"type":"get-token","agent":"agent-alpha","max_age":86401}' \
    '{"type":"ping","max_age":5}' '{"type":"agent-lock","agent":"../x"}'; do
    [ "$(req "$S" "$r")" = CLOSED ] && tap_ok "root sends malformed $r: connection ended" ||
        tap_fail "root sends malformed $r: connection ended"
done
case $(req "$S" '{"type":"session-open","agent":"nobody-here"}') in
*no-such-agent*) tap_ok "session-open for an unknown agent: no-such-agent" ;;
*) tap_fail "session-open for an unknown agent: no-such-agent" ;;
esac
[ "$(status_of agent-alpha sessions)" = 0 ] &&
    tap_ok "refused requests changed nothing (agent-alpha: 0 sessions)" ||
    tap_fail "refused requests changed nothing" "$(status_of agent-alpha sessions)"

# --- sessions ------------------------------------------------------------------
clear_audit
PT_CONV=1 pt sshd agent-alpha "$tk/empty" open_session env
if [ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -qx "env: OPENCLAW_SOCKET=$S" &&
    printf '%s\n' "$out" | grep -qx "env: OPENCLAW_AGENT=agent-alpha"; then
    tap_ok "session-open: the daemon's environment is exported (OPENCLAW_SOCKET, OPENCLAW_AGENT)"
else
    tap_fail "session-open: the daemon's environment is exported" "rc=$rc $out"
fi
[ "$(status_of agent-alpha sessions)" = 1 ] && grep -q "audit: session opened for agent agent-alpha" "$work/main.log" &&
    tap_ok "status shows 1 session for agent-alpha; the daemon logged it" ||
    tap_fail "status shows 1 session for agent-alpha" "$(status_of agent-alpha sessions)"
fresh() {
    status_of agent-alpha tokens | "$PY" -c '
import json, sys
t = json.load(sys.stdin)
sys.exit(0 if any(x["scope"] == sys.argv[1] and x["state"] == "fresh" for x in t) else 1)' "$RESOURCE_URI/.default"
}
wait_for 10 fresh && tap_ok "an open session makes the daemon fetch the agent's default token" ||
    tap_fail "an open session makes the daemon fetch the agent's default token" "$(status_of agent-alpha tokens)"
PT_CONV=1 pt sshd agent-alpha "$tk/empty" open_session
PT_CONV=1 pt sshd agent-beta "$tk/empty" open_session
[ "$(status_of agent-alpha sessions)" = 2 ] && [ "$(status_of agent-beta sessions)" = 1 ] &&
    tap_ok "sessions are counted per agent (alpha 2, beta 1)" ||
    tap_fail "sessions are counted per agent" "$(status_of agent-alpha sessions) $(status_of agent-beta sessions)"
PT_CONV=1 pt sshd agent-alpha "$tk/empty" close_session
PT_CONV=1 pt sshd agent-alpha "$tk/empty" close_session
PT_CONV=1 pt sshd agent-alpha "$tk/empty" close_session
[ "$rc" -eq 0 ] && [ "$(status_of agent-alpha sessions)" = 0 ] &&
    grep -q "session-close for agent agent-alpha without an open session" "$work/main.log" &&
    tap_ok "session-close counts down, never below 0 (an extra close is logged)" ||
    tap_fail "session-close counts down, never below 0" "$(status_of agent-alpha sessions)"
audit_has "event=session-open .*user=agent-alpha .*result=success" &&
    audit_has "event=session-close .*user=agent-alpha .*result=success" &&
    tap_ok "the module audits session open and close" ||
    tap_fail "the module audits session open and close" "$(cat "$OPENCLAW_TEST_AUDIT_FILE")"

# --- sudo by live role (mode=helper, helper_max_age=0) ----------------------------
n0=$(token_requests "$ALPHA_APP")
expect refused "sudo, mode=helper: agent-alpha holds Host.Login only" role sudo agent-alpha \
    "$tk/empty" authenticate acct_mgmt
tenant_ctl POST assignments "{\"principalAppId\":\"$ALPHA_APP\",\"resourceAppId\":\"$HOST_APP\",\"appRole\":\"Host.Sudo\"}" >/dev/null
expect ok "sudo, mode=helper: allowed once Host.Sudo is granted in the tenant (no config change)" \
    - sudo agent-alpha "$tk/empty" authenticate acct_mgmt
audit_has "event=auth .*result=success reason=ok .*role Host.Sudo (live, from openclawd)" &&
    tap_ok "the audit line says the role came live from openclawd" ||
    tap_fail "the audit line says the role came live from openclawd" "$(cat "$OPENCLAW_TEST_AUDIT_FILE")"
PT_CONV=1 expect ok "sudo NOPASSWD-style (account only, mode=helper): allowed with the role" - \
    sudo agent-alpha "$tk/empty" acct_mgmt
# mode=helper presents no credential: only the agent itself may use it
# (the review's attack: an su stack with mode=helper, run by nobody)
if [ -z "$SAN" ]; then
    PT_OPTS="-I ruser=nobody" expect refused "mode=helper: pamtester -I ruser=nobody su agent-alpha" \
        caller su agent-alpha /dev/null authenticate
    PT_OPTS="-I ruser=nobody" PT_CONV= expect refused "mode=helper, account only (sudo NOPASSWD) invoked by nobody" \
        caller sudo agent-alpha /dev/null acct_mgmt
    PT_OPTS="-I ruser=agent-alpha" expect ok "mode=helper: PAM_RUSER is the agent itself" - \
        sudo agent-alpha /dev/null authenticate acct_mgmt
else
    tap_skip "mode=helper callers by PAM_RUSER" "sanitizer build: the test driver sets no PAM_RUSER"
fi
# The real uid, as su and sudo run (real uid the caller, effective root):
# the test driver reads the service files itself (no pam_wrapper, which
# the loader does not preload into such a process).
if [ -x "$conv" ]; then
    setpriv --ruid=65534 -- timeout 60 "$conv" -d "$work/svc" su agent-alpha authenticate \
        </dev/null >"$work/ruid-nobody.out" 2>&1
    rc_nobody=$?
    setpriv --ruid=$UID_A -- timeout 60 "$conv" -d "$work/svc" su agent-alpha authenticate \
        </dev/null >"$work/ruid-agent.out" 2>&1
    rc_agent=$?
    if [ "$rc_nobody" -ne 0 ] && [ "$rc_agent" -eq 0 ]; then
        tap_ok "mode=helper: real uid nobody is refused, the agent's own real uid is served"
    else
        tap_fail "mode=helper: real uid nobody is refused, the agent's own real uid is served" \
            "nobody rc=$rc_nobody $(cat "$work/ruid-nobody.out"); agent rc=$rc_agent $(cat "$work/ruid-agent.out")"
    fi
else
    tap_skip "mode=helper: real uid of the caller" "pam-askpass-conv not built"
fi
tenant_ctl POST assignments/remove "{\"principalAppId\":\"$ALPHA_APP\",\"resourceAppId\":\"$HOST_APP\",\"appRole\":\"Host.Sudo\"}" >/dev/null
expect refused "sudo, mode=helper: refused again once Host.Sudo is removed" role sudo agent-alpha \
    "$tk/empty" authenticate acct_mgmt
PT_CONV=1 expect refused "sudo NOPASSWD-style (account only): refused without the role" role \
    sudo agent-alpha "$tk/empty" acct_mgmt
n1=$(token_requests "$ALPHA_APP")
[ $((n1 - n0)) -ge 4 ] && tap_ok "helper_max_age=0: a fresh token for every decision ($((n1 - n0)) token requests)" ||
    tap_fail "helper_max_age=0: a fresh token for every decision" "$n0 -> $n1"
grep -q "audit: root (pid [0-9]*) requested the token of agent agent-alpha for $RESOURCE_URI/.default" "$work/main.log" &&
    tap_ok "the daemon audits the module's token requests" ||
    tap_fail "the daemon audits the module's token requests"
expect refused "mode=helper: agent-beta holds no role on the host" \
    role sudo agent-beta "$tk/empty" authenticate

# max_age shared: two clients asking with max_age 0 at once share one request
tenant_ctl POST faults "{\"path\":\"$TOKEN_PATH\",\"kind\":\"latency\",\"ms\":1500,\"count\":1}" >/dev/null
n0=$(token_requests "$BETA_APP")
req "$S" '{"type":"get-token","agent":"agent-beta","max_age":0}' >"$work/w1" &
w1=$!
sleep 0.3
req "$S" '{"type":"get-token","agent":"agent-beta","max_age":0}' >"$work/w2"
wait $w1

n1=$(token_requests "$BETA_APP")
if grep -q access_token "$work/w1" && cmp -s "$work/w1" "$work/w2" && [ $((n1 - n0)) = 1 ]; then
    tap_ok "max_age=0: two waiters share the one request in flight"
else
    tap_fail "max_age=0: two waiters share the one request in flight" "$n0 -> $n1"
fi
a1=$(req "$S" '{"type":"get-token","agent":"agent-beta","max_age":3600}')
[ "$a1" = "$(cat "$work/w1")" ] && [ "$(token_requests "$BETA_APP")" = "$n1" ] &&
    tap_ok "max_age=3600: the cached token is served, no new request" ||
    tap_fail "max_age=3600: the cached token is served"
n0=$(token_requests "$BETA_APP")
a1=$(req "$S" '{"type":"get-token","agent":"agent-beta","max_age":0}')
a2=$(req "$S" '{"type":"get-token","agent":"agent-beta","max_age":0}')
n1=$(token_requests "$BETA_APP")
case $a1$a2 in
*access_token*access_token*) [ $((n1 - n0)) = 2 ] && [ "$a1" != "$a2" ] &&
    tap_ok "max_age=0 twice within a second: two new tokens, never the one held" ||
    tap_fail "max_age=0 twice within a second: two new tokens" "$n0 -> $n1" ;;
*) tap_fail "max_age=0 twice within a second: two new tokens" "$a1 $a2" ;;
esac
tenant_ctl POST faults "{\"path\":\"$TOKEN_PATH\",\"kind\":\"status\",\"status\":503,\"count\":1}" >/dev/null
case $(req "$S" '{"type":"get-token","agent":"agent-beta","max_age":0}') in
*'"unavailable"'*) tap_ok "max_age=0 while Entra fails: unavailable, the older token is not served" ;;
*) tap_fail "max_age=0 while Entra fails: unavailable" ;;
esac
case $(req "$S" '{"type":"get-token","agent":"agent-beta"}') in
*access_token*'"stale":true'*) tap_ok "without max_age the last good token is still served (stale)" ;;
*) tap_fail "without max_age the last good token is still served (stale)" ;;
esac

# --- agent-lock / agent-unlock -------------------------------------------------
case $(req "$S" '{"type":"agent-lock","agent":"agent-alpha"}') in
*'"locked":true'*'"persisted":true'* | *'"persisted":true'*'"locked":true'*) tap_ok "root locks agent-alpha" ;;
*) tap_fail "root locks agent-alpha" ;;
esac
case $(as_uid $UID_A "$PY" "$CLIENT" "$S" json '{"type":"get-token"}') in
*'"error":"locked"'*) tap_ok "a locked agent gets error locked for its own token" ;;
*) tap_fail "a locked agent gets error locked" ;;
esac
[ "$(status_of agent-alpha locked)" = true ] && grep -qx agent-alpha "$work/state/locked-agents" &&
    [ "$(stat -c %a "$work/state/locked-agents")" = 600 ] &&
    tap_ok "status shows the lock; it is in state_dir/locked-agents (0600)" ||
    tap_fail "status shows the lock; it is persisted" "$(ls -l "$work/state")"
expect refused "mode=helper for a locked agent" helper-unavailable sudo agent-alpha "$tk/empty" authenticate
audit_has "openclawd answered locked" && tap_ok "the module's audit says the agent is locked" ||
    tap_fail "the module's audit says the agent is locked" "$(cat "$OPENCLAW_TEST_AUDIT_FILE")"
helper_stop "$HELPER_PID_main"
HELPER_PID_main=""
helper_start main "$conf" || tap_fail "openclawd restarts" "$(cat "$work/main.log")"
case $(as_uid $UID_A "$PY" "$CLIENT" "$S" json '{"type":"get-token"}') in
*'"error":"locked"'*) tap_ok "the lock survives a restart of openclawd" ;;
*) tap_fail "the lock survives a restart of openclawd" ;;
esac
grep -q "agent agent-alpha is locked" "$work/main.log" &&
    tap_ok "openclawd says at start which agents are locked" ||
    tap_fail "openclawd says at start which agents are locked"
o=$("$ctl" agent unlock agent-alpha --config "$conf" 2>&1)
case $o in
*"unlocked in openclawd"*) tap_ok "openclawctl agent unlock sends agent-unlock" ;;
*) tap_fail "openclawctl agent unlock sends agent-unlock" "$o" ;;
esac
t=$(as_uid $UID_A "$OCT" --socket "$S" 2>/dev/null)
[ "$(jwt_claim "$t" appid)" = "$ALPHA_APP" ] && [ "$(status_of agent-alpha locked)" = false ] &&
    [ ! -s "$work/state/locked-agents" ] &&
    tap_ok "after unlock the agent gets its token again; the file no longer names it" ||
    tap_fail "after unlock the agent gets its token again"
o=$("$ctl" agent lock agent-beta --config "$conf" 2>&1)
[ "$(status_of agent-beta locked)" = true ] && tap_ok "openclawctl agent lock sends agent-lock" ||
    tap_fail "openclawctl agent lock sends agent-lock" "$o"
"$ctl" agent unlock agent-beta --config "$conf" >/dev/null 2>&1

# --- a PAM lockout is reported to the daemon --------------------------------------
unlock_all
clear_audit
# the agent's own signed token for another resource: only Entra-signed
# input counts toward a lockout (garbage is charged to its source)
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_V2_URI/.default" >"$tk/alpha-other"
for i in 1 2; do pt lock agent-alpha "$tk/alpha-other" authenticate; done
if audit_has "event=anomaly .*user=agent-alpha .*reason=lockout" &&
    wait_for 5 grep -q "audit: anomaly: uid 0 pid [0-9]* reports agent agent-alpha locked out (object id [0-9a-f-]*); on_anomaly = none" "$work/main.log"; then
    tap_ok "a lockout is an anomaly event, sent to openclawd, which audits it (no response configured)"
else
    tap_fail "a lockout is sent to openclawd as an anomaly" "$(tail -5 "$work/main.log")"
fi
unlock_all

# --- unknown kid: root's openclaw-sync refreshes, then one retry ---------------------
# On request openclaw-sync fetches again only when keys.json is 30 s old:
# wait for that age, measured as openclaw-sync does (the file's mtime; a
# sync after the start may have written it later than the start).
# openclaw-sync.path, as the test runs it: trust_watch_start.
left=$(($(stat -c %Y "$work/trust/jwks/keys.json") + 31 - $(date +%s)))
[ "$left" -gt 0 ] && [ "$left" -le 31 ] && sleep "$left"
tenant_ctl POST rotate-keys '{}' >/dev/null
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$tk/rotated2"
kid=$("$PY" -c '
import base64, json, sys
h = open(sys.argv[1]).read().split(".")[0]
print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["kid"])' "$tk/rotated2")
grep -q "\"$kid\"" "$work/trust/jwks/keys.json" &&
    tap_fail "the new key is not in the JWKS file yet" ||
    tap_ok "the new key is not in the JWKS file yet"
trust_watch_start "$conf"
expect ok "unknown kid: the module has openclaw-sync refresh the keys and logs in" - sshd agent-alpha \
    "$tk/rotated2" authenticate acct_mgmt
grep -q "\"$kid\"" "$work/trust/jwks/keys.json" && grep -q "refresh requested (an unknown kid" "$work/sync.log" &&
    tap_ok "the JWKS file holds the new key; openclaw-sync logged the request" ||
    tap_fail "the JWKS file holds the new key" "$(tail -3 "$work/sync.log")"
tenant_ctl POST rotate-keys '{}' >/dev/null
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$tk/rotated3"
expect refused "unknown kid again within 30 s: openclaw-sync rate-limits" kid sshd agent-alpha \
    "$tk/rotated3" authenticate
audit_has "keys.json was fetched [0-9]*s ago; openclaw-sync fetches again on request after 30s" &&
    tap_ok "rate-limited: refused at once, the audit says when the keys were fetched" ||
    tap_fail "rate-limited: the audit says why" "$(cat "$OPENCLAW_TEST_AUDIT_FILE")"
trust_watch_stop

# --- openclawd stops: the session still closes at once -----------------------------
helper_stop "$HELPER_PID_main"
rc=$?
HELPER_PID_main=""
[ $rc -eq 0 ] && tap_ok "openclawd exits cleanly" || tap_fail "openclawd exits cleanly" "rc=$rc"
PT_CONV=1 pt sshd agent-alpha "$tk/empty" close_session
[ "$rc" -eq 0 ] && [ "$ms" -lt 3000 ] && tap_ok "session-close without openclawd: at once (${ms} ms)" ||
    tap_fail "session-close without openclawd" "rc=$rc ms=$ms"
o=$("$ctl" agent unlock agent-alpha --config "$conf" 2>&1)
case $o in
*"openclawd not reached"*) tap_ok "openclawctl agent unlock says when openclawd was unreachable" ;;
*) tap_fail "openclawctl agent unlock says when openclawd was unreachable" "$o" ;;
esac

grep -q "Sanitizer\|runtime error" "$work/main.log" "$work/all.out" &&
    tap_fail "no sanitizer report" "$(grep -A5 'Sanitizer\|runtime error' "$work/main.log" "$work/all.out")" ||
    tap_ok "no sanitizer report"
grep -q "eyJ" "$work/main.log" "$OPENCLAW_TEST_AUDIT_FILE" && tap_fail "no token in the logs" ||
    tap_ok "no token in the logs"
grep -q -- "$ALPHA_SECRET" "$work/main.log" && tap_fail "no secret in the log" || tap_ok "no secret in the log"

tap_done
