#!/bin/bash
# SPDX-License-Identifier: MIT
# Entra down for longer than a token lifetime, as one story (the tenant's
# tokens live 20 s here; every connection to it is reset while it is "down",
# its control API aside):
#   - PAM keeps accepting the token it holds, offline, until it expires;
#   - openclawd keeps serving its last good token, marked stale, until
#     5 s before expiry, then answers "unavailable" with the reason;
#   - once expired, PAM refuses that token with reason "expiry";
#   - Entra back: openclawd gets a fresh token by itself (after its
#     backoff) and PAM accepts it.
# Negative control, in the same outage: a second openclawd built to fail
# (the test hook OPENCLAW_TEST_TOKEN_HOOK=drop-last-good drops the token it
# holds when a refresh fails) must fail the same "serves the last good
# token" check.
# Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

CONV="$top_builddir/tests/integration/pam-askpass-conv"
MOD=$(pam_module)
LIFETIME=20

command -v curl >/dev/null || tap_skip_all "curl missing (scripts/install-deps.sh)"
"$OC_PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
[ "$(id -u)" = 0 ] || tap_skip_all "needs root (openclawd --allow-root, root-owned config)"
[ -x "$OCD" ] && [ -x "$CONV" ] || tap_skip_all "openclawd or pam-askpass-conv not built"
grep -q OPENCLAW_TEST_AUDIT_FILE "$MOD" || tap_skip_all "not a --enable-test-hooks build"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}

work=$(mktemp -d /tmp/oc-outage.XXXXXX)
chmod 755 "$work"
HELPER_PID_main=""
HELPER_PID_broken=""
cleanup() {
    helper_stop "$HELPER_PID_main" >/dev/null 2>&1
    helper_stop "$HELPER_PID_broken" >/dev/null 2>&1
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT
tenant_start "$work/tenant" || tap_setup_fail "the local tenant did not start"
tenant_ctl POST token-lifetime "{\"seconds\":$LIFETIME}" | grep -q "\"token_lifetime\": *$LIFETIME" ||
    tap_setup_fail "the tenant does not take a token lifetime"
mkdir -p "$work/state/jwks" "$work/tally" "$work/run" "$work/svc" "$work/state-broken/jwks" \
    "$work/run-broken"
chmod 700 "$work/tally"
printf '%s\n' "$ALPHA_SECRET" >"$work/alpha.secret"
chmod 600 "$work/alpha.secret"
S=$work/run/ocd.sock
conf=$work/openclaw.conf
{
    conf_global "$work/state" "$S" "$ISSUER_V2_LINE" "jwks_dir = $work/state/jwks" \
        "tally_dir = $work/tally" "runtime_dir = $work/run" "allow_insecure_credentials = yes" \
        "clock_skew = 0"
    conf_section "service sshd" "require_role = Host.Login"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "credential = secret-file" \
        "secret_file = $work/alpha.secret"
} >"$conf"
chmod 644 "$conf"
# the negative control's daemon: the same agent, its own state and socket
S_BROKEN=$work/run-broken/ocd.sock
conf_broken=$work/broken.conf
{
    conf_global "$work/state-broken" "$S_BROKEN" "$ISSUER_V2_LINE" \
        "jwks_dir = $work/state-broken/jwks" "runtime_dir = $work/run-broken" \
        "allow_insecure_credentials = yes" "clock_skew = 0"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "credential = secret-file" \
        "secret_file = $work/alpha.secret"
} >"$conf_broken"
chmod 644 "$conf_broken"
export TZ=UTC OPENCLAW_TEST_AUDIT_FILE="$work/audit.log"
printf 'auth required %s config=%s nodelay\naccount required %s config=%s\n' \
    "$MOD" "$conf" "$MOD" "$conf" >"$work/svc/sshd"
pam_login() { # TOKENFILE -> exit status of auth + account
    : >"$work/audit.log"
    timeout 30 "$CONV" -d "$work/svc" sshd agent-alpha authenticate acct_mgmt <"$1" >"$work/pam.out" 2>&1
}
helper_start main "$conf" --no-token-store || tap_setup_fail "openclawd did not start: $(tail -n 3 "$work/main.log")"
wait_for 20 test -s "$work/state/jwks/keys.json" || tap_fail "openclawd wrote keys.json"
OPENCLAW_TEST_TOKEN_HOOK=drop-last-good helper_start broken "$conf_broken" --no-token-store ||
    tap_setup_fail "the negative control's openclawd did not start: $(tail -n 3 "$work/broken.log")"

get() { req "${1:-$S}" '{"type":"get-token","agent":"agent-alpha"}'; }
field() { printf '%s' "$1" | json_get "$2" 2>/dev/null; }
# The check "openclawd serves its last good token, marked stale" on the
# daemon at SOCK, which got TOKENFILE before the outage; its answer in $ans.
serves_last_good() {
    ans=$(get "$1")
    [ "$(field "$ans" ok)" = true ] && [ "$(field "$ans" access_token)" = "$(cat "$2")" ] &&
        [ "$(field "$ans" stale)" = true ]
}

ans=$(get "$S_BROKEN")
field "$ans" access_token >"$work/t1-broken"
exp_broken=$(field "$ans" expires_on)
ans=$(get)
field "$ans" access_token >"$work/t1"
exp=$(field "$ans" expires_on)
[ -s "$work/t1-broken" ] && [ -n "$exp_broken" ] ||
    tap_setup_fail "the negative control's openclawd has no token: $(printf '%s' "$ans" | cut -c 1-200)"
if [ -s "$work/t1" ] && [ -n "$exp" ] && [ $((exp - $(date +%s))) -le $LIFETIME ]; then
    tap_ok "openclawd holds a token that lives ${LIFETIME} s"
else
    tap_fail "openclawd holds a short-lived token" "$ans"
    tap_done
    exit 1
fi

# --- Entra goes down ---------------------------------------------------------
tenant_ctl POST faults '{"path":"/","kind":"reset","count":1000000}' >/dev/null
pam_login "$work/t1" && tap_ok "Entra down: PAM accepts the token it is shown, offline" ||
    tap_fail "Entra down: PAM accepts a valid token offline" "$(cat "$work/pam.out" "$work/audit.log")"
# the negative control first: the same check on the daemon that drops its
# token when a refresh fails, once its refresh has failed (its refresh
# point is 10 s before its expiry) and while its token would still be
# served (more than 5 s before its expiry); it got its token just before
# the main daemon, so this comes before the main daemon's check
while [ "$(date +%s)" -lt $((exp_broken - 8)) ]; do sleep 0.5; done
# (the hook's line comes before the line of the failure it acts on)
wait_for 5 grep -q "agent agent-alpha: token endpoint unreachable" "$work/broken.log"
serves_last_good "$S_BROKEN" "$work/t1-broken"
caught=$?
if [ "$caught" -ne 0 ] && [ "$(date +%s)" -lt $((exp_broken - 5)) ] &&
    grep -q "test hook: the last good token is dropped" "$work/broken.log"; then
    tap_ok "negative control: a daemon that drops its last good token when a refresh fails is caught by the same check (it answered: $(field "$ans" error))"
else
    tap_fail "negative control: a daemon that drops its last good token is caught" \
        "the check $([ "$caught" -ne 0 ] && echo failed || echo passed) on it; its answer, $((exp_broken - $(date +%s))) s before its token's expiry: $(printf '%s' "$ans" | cut -c 1-200); $(tail -n 3 "$work/broken.log")"
fi
# past the refresh point (75-85 % of the lifetime, at most lifetime - 10 s:
# 10 s here) the refresh fails: stale, and served until 5 s before expiry
while [ "$(date +%s)" -lt $((exp - 7)) ]; do sleep 0.5; done
if serves_last_good "$S" "$work/t1"; then
    tap_ok "Entra down past the refresh point: openclawd serves the last good token, marked stale"
else
    tap_fail "Entra down: openclawd serves the last good token, stale" "$(printf '%s' "$ans" | cut -c 1-200) $(tail -n 3 "$work/main.log")"
fi
helper_stop "$HELPER_PID_broken" >/dev/null
HELPER_PID_broken=""
# the outage is the event itself: the tenant reset the daemon's token
# requests (its fault hit count), and the daemon logged it
resets=$(tenant_ctl GET "requests?path=/oauth2/v2.0/token" | "$OC_PY" -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin)["requests"] if r["fault"] == "reset"))')
if [ "${resets:-0}" -ge 1 ] &&
    grep -q "agent agent-alpha: token endpoint unreachable: .*serving the last good token" "$work/main.log"; then
    tap_ok "the log says the token endpoint is unreachable and the last good token is served (the tenant reset $resets token requests)"
else
    tap_fail "the log explains the outage" "token requests reset by the tenant: ${resets:-?}; $(tail -n 3 "$work/main.log")"
fi
while [ "$(date +%s)" -lt $((exp - 4)) ]; do sleep 0.5; done
ans=$(get)
if [ "$(field "$ans" ok)" = false ] && [ "$(field "$ans" error)" = unavailable ] &&
    [ -n "$(field "$ans" message)" ]; then
    tap_ok "5 s before expiry: openclawd answers unavailable, with the reason ($(field "$ans" message | cut -c 1-80))"
else
    tap_fail "near expiry: openclawd answers unavailable" "$(printf '%s' "$ans" | cut -c 1-200)"
fi
while [ "$(date +%s)" -le $((exp + 1)) ]; do sleep 0.5; done
if ! pam_login "$work/t1" && grep -q "result=failure reason=expiry" "$work/audit.log"; then
    tap_ok "expired during the outage: PAM refuses the token with reason expiry"
else
    tap_fail "expired: PAM refuses with reason expiry" "$(cat "$work/audit.log")"
fi

# --- Entra back ----------------------------------------------------------------
tenant_ctl DELETE faults >/dev/null
got=""
for _ in $(seq 1 120); do
    ans=$(get)
    if [ "$(field "$ans" ok)" = true ]; then
        got=yes
        break
    fi
    sleep 0.5
done
field "$ans" access_token >"$work/t2"
if [ -n "$got" ] && ! cmp -s "$work/t1" "$work/t2"; then
    tap_ok "Entra back: openclawd has a fresh token after its backoff"
else
    tap_fail "Entra back: a fresh token" "$(printf '%s' "$ans" | cut -c 1-200) $(tail -n 3 "$work/main.log")"
fi
pam_login "$work/t2" && tap_ok "Entra back: PAM accepts the fresh token" ||
    tap_fail "Entra back: PAM accepts the fresh token" "$(cat "$work/audit.log")"
helper_stop "$HELPER_PID_main"
rc=$?
HELPER_PID_main=""
[ $rc -eq 0 ] && tap_ok "openclawd exits cleanly" || tap_fail "openclawd exits cleanly" "rc=$rc"
grep -q "Sanitizer\|runtime error" "$work/main.log" "$work/broken.log" "$work/pam.out" && tap_fail "no sanitizer report" ||
    tap_ok "no sanitizer report"
tap_done
