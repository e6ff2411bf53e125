#!/bin/bash
# One decision point (docs/security.md): every openclawd path that issues a
# credential on an agent's behalf - each request type of the socket's
# table that hands out a token or a signature, the managed-identity
# endpoint, the ssh-agent's ssh-sign - refuses an agent that an admin
# locked, that pam_openclaw reported locked out (anomaly), or whose
# service principal the directory sync found disabled; and allows it again
# once that is lifted. One audit line per decision.
# The local tenant; agent-alpha with a software tpm-certificate key whose
# certificate is registered on its application (tokens by client
# assertion, ssh signatures by the same key); openclawd as root, the
# clients under the agent's uid (setpriv). Prints TAP.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

. "$top_srcdir/tests/integration/helper-agentkey-lib.sh"

# --- the request table: which types hand out a credential -------------------------
# Every type of common/proto.c's table is either one that issues a token or
# a signature on an agent's behalf (tested below) or one that does not; a
# new type fails here until it is classified (and, if it issues, tested).
ISSUING="get-token ssh-sign"
NOT_ISSUING="ping status refresh-jwks session-open session-close agent-lock agent-unlock cache-rebuild anomaly ssh-identities"
types=$(sed -n 's/^ *{"\([a-z-]*\)", OC_REQ_.*/\1/p' "$top_srcdir/common/proto.c" | sort | tr '\n' ' ')
known=$(printf '%s\n' $ISSUING $NOT_ISSUING | sort | tr '\n' ' ')
if [ -n "$types" ] && [ "$types" = "$known" ]; then
    tap_ok "the request table has exactly the known types; issuing: $ISSUING"
else
    tap_fail "the request table has exactly the known types" "table: $types; known: $known"
fi

# --- the three issuing entry points, as the agent's uid ---------------------------
# ssh-sign signs an SSH userauth request for the agent's own key (what ssh asks).
ssh_sign() {
    as_uid $UID_A "$PY" "$SC" "$S" userauth
}
get_token() {
    as_uid $UID_A "$PY" "$CLIENT" "$S" json '{"type":"get-token"}' |
        "$PY" -c 'import json,sys; a=json.load(sys.stdin); print("TOKEN" if a.get("ok") else "REFUSED:%s" % a.get("error"))' 2>/dev/null ||
        echo "CLOSED"
}
mi_token() {
    local code
    code=$(as_uid $UID_A curl -sS -o "$work/out/mi.json" -w '%{http_code}' -H 'Metadata: true' \
        "http://127.0.0.1:$PORT/metadata/identity/oauth2/token?api-version=2018-02-01&resource=$RESOURCE_URI" 2>/dev/null)
    if [ "$code" = 200 ] && grep -q access_token "$work/out/mi.json"; then
        echo TOKEN
    else
        echo "REFUSED:$code"
    fi
}
# expect_all STATE WANT(TOKEN/SIGNED or REFUSED): the three paths
expect_all() {
    local state=$1 want=$2 g m s
    g=$(get_token)
    m=$(mi_token)
    s=$(ssh_sign)
    if [ "$want" = ok ]; then
        if [ "$g" = TOKEN ] && [ "$m" = TOKEN ] && [ "$s" = SIGNED ]; then
            tap_ok "$state: get-token, the MI endpoint and ssh-sign all issue"
        else
            tap_fail "$state: get-token, the MI endpoint and ssh-sign all issue" "get-token=$g mi=$m ssh-sign=$s"
        fi
        return
    fi
    for p in "get-token:$g" "mi-endpoint:$m" "ssh-sign:$s"; do
        case ${p#*:} in
        REFUSED:*) tap_ok "$state: ${p%%:*} refused (${p#*:})" ;;
        *) tap_fail "$state: ${p%%:*} refused" "got ${p#*:}" ;;
        esac
    done
}

# the first sync, so that the directory data exists
sync_now "$C" && cp "$work/sync.log" "$work/sync1.out"
expect_all "agent-alpha, enabled and not locked" ok

# 1. the admin lock (openclawctl agent lock)
req "$S" '{"type":"agent-lock","agent":"agent-alpha"}' >/dev/null
expect_all "admin lock" refused
req "$S" '{"type":"agent-unlock","agent":"agent-alpha"}' >/dev/null
expect_all "after agent-unlock" ok

# 2. a lockout pam_openclaw reported (anomaly)
req "$S" '{"type":"anomaly","agent":"agent-alpha"}' >/dev/null
expect_all "PAM lockout reported (anomaly)" refused
# the lockout outlives a restart of openclawd (kept in locked-agents)
cat "$LOG" >"$work/before-restart.log"
helper_stop "$HELPER_PID_main" >/dev/null
if helper_start main "$C"; then
    tap_check "the reported lockout is written to locked-agents" grep -q '^agent-alpha lockout-until=[0-9]' "$work/state/locked-agents"
    expect_all "PAM lockout reported, after a restart of openclawd" refused
else
    tap_fail "openclawd starts again" "$(cat "$work/main.log")"
fi
req "$S" '{"type":"agent-unlock","agent":"agent-alpha"}' >/dev/null
expect_all "after openclawctl agent unlock (agent-unlock)" ok

# 3. the service principal disabled in Entra (accountEnabled false at the sync)
tenant_ctl POST disable-sp "{\"appId\":\"$ALPHA_APP\"}" >/dev/null
sync_now "$C"
cp "$work/sync.log" "$work/sync2.out"
if grep -q '"enabled":[[:space:]]*false' "$work/state-trust/directory.json" 2>/dev/null; then
    expect_all "service principal disabled in the directory data" refused
else
    tap_fail "the sync saw the disabled service principal" "$(cat "$work/sync2.out"; head -c 1500 "$work/state-trust/directory.json"; grep -i "sync\|directory" "$LOG" | tail -5)"
fi
tenant_ctl POST enable-sp "{\"appId\":\"$ALPHA_APP\"}" >/dev/null
sync_now "$C"
expect_all "service principal enabled again" ok

# 4. the agent's scopes hold on every token path
out=$(as_uid $UID_A "$PY" "$CLIENT" "$S" json '{"type":"get-token","scope":"https://graph.microsoft.com/.default"}')
tap_check "get-token: a scope outside the agent's scopes is refused" sh -c 'printf "%s" "$1" | grep -q "\"error\":\"denied\"\|CLOSED"' _ "$out"
code=$(as_uid $UID_A curl -sS -o /dev/null -w '%{http_code}' -H 'Metadata: true' \
    "http://127.0.0.1:$PORT/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://graph.microsoft.com")
tap_check "MI endpoint: a resource outside the agent's scopes is refused (403)" test "$code" = 403

# one audit line per decision, naming the path (both daemons' logs)
cat "$work/before-restart.log" "$LOG" >"$work/all.log"
LOG=$work/all.log
for p in get-token mi-token ssh-sign; do
    tap_check "audit lines of the decision point for $p (allowed and refused)" sh -c \
        "grep -q 'audit: $p: agent agent-alpha for uid $UID_A .*: allowed' '$LOG' && grep -q 'audit: $p: agent agent-alpha for uid $UID_A .*: refused (locked)' '$LOG'"
done
tap_check "refused (locked-out) and refused (disabled) are audited" sh -c \
    "grep -q 'refused (locked-out)' '$LOG' && grep -q 'refused (disabled)' '$LOG'"

tap_done
