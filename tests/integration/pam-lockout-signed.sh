#!/bin/bash
# Only Entra-signed input acts (docs/security.md): garbage, a forged
# signature or another identity's token never counts toward an agent's
# lockout nor raises the anomaly event (so nobody who reaches sshd can lock
# an agent out or make openclawd disable its service principal); it is
# charged to its source (PAM_RHOST) and throttled there. The agent's own
# signed token presented wrongly still counts and still locks.
# pamtester under pam_wrapper, the local tenant; nothing outside a temp dir.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"

mod=$(pam_module)
wrapper=$(ls /usr/lib/*/libpam_wrapper.so /usr/lib/libpam_wrapper.so 2>/dev/null | head -n1)
[ -f "$mod" ] || tap_skip_all "pam_openclaw.so not built"
[ -z "$(pam_sanitizer_preload)" ] || tap_skip_all "sanitizer build: pam-module.sh covers the module there"
command -v pamtester >/dev/null || tap_skip_all "pamtester missing (scripts/install-deps.sh)"
[ -n "$wrapper" ] || tap_skip_all "libpam-wrapper missing (scripts/install-deps.sh)"
"$OC_PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
grep -q OPENCLAW_TEST_AUDIT_FILE "$mod" || tap_skip_all "not a --enable-test-hooks build"

PAM_WORK=$(mktemp -d "${TMPDIR:-/tmp}/oc-lock.XXXXXX")
export PAM_WORK
trap 'tenant_stop; rm -rf "$PAM_WORK"' EXIT
tenant_start "$PAM_WORK/tenant" || tap_setup_fail "the local tenant did not start"
mkdir -p "$PAM_WORK/jwks" "$PAM_WORK/svc" "$PAM_WORK/run"
tenant_get "/$TENANT_ID/discovery/v2.0/keys" >"$PAM_WORK/jwks/keys.json"
export TZ=UTC
export OPENCLAW_TEST_AUDIT_FILE="$PAM_WORK/audit.log"
export OPENCLAW_TEST_INSECURE_CONFIG=1
conf="$PAM_WORK/openclaw.conf"
# deny = 5 (the default) within a minute
pam_write_config "$conf" "
[service lock]
require_role = Host.Login
deny = 5
fail_interval = 60
unlock_time = 600

[service delayed]
require_role = Host.Login
"
printf 'auth required %s config=%s nodelay\naccount required %s config=%s nodelay\n' \
    "$mod" "$conf" "$mod" "$conf" >"$PAM_WORK/svc/lock"
printf 'auth required %s config=%s\naccount required %s config=%s\n' "$mod" "$conf" "$mod" "$conf" >"$PAM_WORK/svc/delayed"
printf 'auth required pam_deny.so\naccount required pam_deny.so\n' >"$PAM_WORK/svc/other"

# pt SERVICE USER TOKENFILE [pamtester options]: sets rc
pt() {
    local service=$1 user=$2 tokfile=$3
    shift 3
    LD_PRELOAD="$wrapper" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAM_WORK/svc" timeout 60 \
        pamtester -v "$@" "$service" "$user" authenticate acct_mgmt <"$tokfile" >>"$PAM_WORK/all.out" 2>&1
    rc=$?
}
fresh() {
    rm -f "$PAM_WORK"/tally/agent-* "$PAM_WORK"/tally/@src-*
    : >"$OPENCLAW_TEST_AUDIT_FILE"
}
no_anomaly() { ! grep -q "event=anomaly" "$OPENCLAW_TEST_AUDIT_FILE"; }

tk="$PAM_WORK/tok"
mkdir -p "$tk"
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$tk/alpha"
tenant_token "$BETA_APP" "$BETA_SECRET" "$RESOURCE_URI/.default" >"$tk/beta"
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_V2_URI/.default" >"$tk/alpha-v2"
[ -s "$tk/alpha" ] && [ -s "$tk/beta" ] && [ -s "$tk/alpha-v2" ] || tap_setup_fail "the tenant issued no token"
printf 'x\n' >"$tk/garbage"
sig=$(cut -d. -f3 <"$tk/alpha")
printf '%s.%s.%s\n' "$(cut -d. -f1 <"$tk/alpha")" "$(cut -d. -f2 <"$tk/beta")" "$sig" >"$tk/forged"
printf '%s.%s.%s\n' "$(cut -d. -f1 <"$tk/alpha")" "$(cut -d. -f2 <"$tk/alpha")" "AAAA" >"$tk/badsig"

# --- the attack of the review: 5 x "x", then the agent's valid token ----------
fresh
for i in 1 2 3 4 5; do pt lock agent-alpha "$tk/garbage" -I rhost=198.51.100.7; done
pt lock agent-alpha "$tk/alpha" -I rhost=192.0.2.10
if [ "$rc" -eq 0 ] && no_anomaly; then
    tap_ok "5 garbage tokens, then agent-alpha's valid token: accepted, no anomaly"
else
    tap_fail "5 garbage tokens, then agent-alpha's valid token: accepted, no anomaly" \
        "rc=$rc $(cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
fresh
for i in 1 2 3 4 5 6; do pt lock agent-alpha "$tk/garbage"; done
pt lock agent-alpha "$tk/alpha"
tap_check "the same from one source (no rhost, as su): the valid token is still accepted" test "$rc" -eq 0

fresh
for i in 1 2 3; do pt lock agent-alpha "$tk/forged" -I rhost=198.51.100.7; done
for i in 1 2 3; do pt lock agent-alpha "$tk/badsig" -I rhost=198.51.100.7; done
pt lock agent-alpha "$tk/alpha" -I rhost=198.51.100.7
if [ "$rc" -eq 0 ] && no_anomaly; then
    tap_ok "forged and bad signatures (6) never lock the agent"
else
    tap_fail "forged and bad signatures (6) never lock the agent" "rc=$rc $(cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi

fresh
for i in 1 2 3 4 5 6; do pt lock agent-alpha "$tk/beta" -I rhost=198.51.100.8; done
pt lock agent-alpha "$tk/alpha"
if [ "$rc" -eq 0 ] && no_anomaly; then
    tap_ok "another agent's signed token (6) does not lock agent-alpha"
else
    tap_fail "another agent's signed token (6) does not lock agent-alpha" "rc=$rc $(cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi

# --- refused, audited, charged to the source -------------------------------------
fresh
for i in 1 2 3 4 5; do pt lock agent-alpha "$tk/garbage" -I rhost=198.51.100.7; done
n=$(grep -c "event=auth service=lock user=agent-alpha .*rhost=198.51.100.7 result=failure" "$OPENCLAW_TEST_AUDIT_FILE")
tap_check "each garbage token is refused and audited with its source (5 lines)" test "$n" -eq 5
if grep -q "event=throttle service=lock .*rhost=198.51.100.7 result=failure reason=source" "$OPENCLAW_TEST_AUDIT_FILE" &&
    ls "$PAM_WORK"/tally/@src-* >/dev/null 2>&1 && [ ! -e "$PAM_WORK/tally/agent-alpha" ]; then
    tap_ok "the 5th within fail_interval throttles the source (event=throttle), no agent tally file"
else
    tap_fail "the 5th within fail_interval throttles the source (event=throttle), no agent tally file" \
        "$(ls -la "$PAM_WORK/tally"; cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
# A throttled source's failures wait OC_SOURCE_DELAY_US (10 s) instead of 2 s.
start=$(date +%s%N)
pt delayed agent-alpha "$tk/garbage" -I rhost=198.51.100.7
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$rc" -ne 0 ] && [ "$ms" -ge 7000 ]; then
    tap_ok "a throttled source's next failure is delayed (${ms} ms)"
else
    tap_fail "a throttled source's next failure is delayed (${ms} ms)" "rc=$rc"
fi
start=$(date +%s%N)
pt delayed agent-alpha "$tk/alpha" -I rhost=198.51.100.7
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$rc" -eq 0 ] && [ "$ms" -lt 5000 ]; then
    tap_ok "the valid token from the throttled source is accepted without the delay (${ms} ms)"
else
    tap_fail "the valid token from the throttled source is accepted without the delay (${ms} ms)" "rc=$rc"
fi

# --- the agent's own signed token, presented wrongly, still locks ----------------
fresh
for i in 1 2 3 4 5; do pt lock agent-alpha "$tk/alpha-v2" -I rhost=192.0.2.10; done
if grep -q "event=anomaly service=lock user=agent-alpha .*result=failure reason=lockout" "$OPENCLAW_TEST_AUDIT_FILE"; then
    tap_ok "5 of agent-alpha's own tokens for another audience lock it and raise event=anomaly"
else
    tap_fail "5 of agent-alpha's own tokens for another audience lock it and raise event=anomaly" \
        "$(cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
pt lock agent-alpha "$tk/alpha"
tap_check "then its valid token is refused (locked)" \
    sh -c '[ "$1" -ne 0 ] && grep -q "result=failure reason=locked" "$2"' _ "$rc" "$OPENCLAW_TEST_AUDIT_FILE"
fresh
for i in 1 2 3 4 5; do pt lock agent-beta "$tk/beta"; done
tap_check "agent-beta's own token without the role (5) locks agent-beta" \
    grep -q "event=anomaly service=lock user=agent-beta .*reason=lockout" "$OPENCLAW_TEST_AUDIT_FILE"

tap_done
