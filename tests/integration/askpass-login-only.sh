#!/bin/bash
# What leaves the agent's session through openclaw-askpass (docs/security.md):
# it answers only pam_openclaw's own prompt, never another module's or a
# hostile server's "[N]" prompt, and only with a token for a host login
# audience of openclaw.conf, never the agent's default scope (here Graph).
# The local tenant, openclawd as root, the agent's uid through setpriv.
# Prints TAP.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

[ "$(id -u)" = 0 ] || tap_skip_all "needs root (the client runs under the agent's uid with setpriv)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
[ -x "$OCD" ] && [ -x "$OCT" ] || tap_skip_all "openclawd/openclaw-token not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"

UID_A=1879048193
GRAPH=https://graph.microsoft.com
work=$(mktemp -d "${TMPDIR:-/tmp}/oc-askpass.XXXXXX")
chmod 755 "$work"
HELPER_PID_main=""
cleanup() {
    helper_stop "$HELPER_PID_main"
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT
# what runs as the agent's uid (openclaw-askpass, openclaw-token on its
# PATH): copies, never the tree
uid_copies "$work/bin"
tenant_start "$work/tenant" || tap_setup_fail "the local tenant did not start"
printf '%s\n' "$ALPHA_SECRET" >"$work/alpha.secret"
chmod 600 "$work/alpha.secret"
mkdir -p "$work/state"
S=$work/openclawd.sock
C=$work/oc.conf
# the agent's first (default) scope is Graph, as in the review
{
    conf_global "$work/state" "$S" "allow_insecure_credentials = yes"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $UID_A" "credential = secret-file" \
        "secret_file = $work/alpha.secret" "scopes = $GRAPH/.default, $RESOURCE_URI/.default"
} >"$C"
chmod 644 "$C"
helper_start main "$C" || tap_setup_fail "openclawd did not start: $(cat "$work/main.log")"

# ask PROMPT [VAR=VALUE...]: openclaw-askpass as the agent, like ssh runs it
ask() {
    local prompt=$1
    shift
    as_uid $UID_A env -i PATH="$UID_BIN:/usr/bin:/bin" OPENCLAW_SOCKET="$S" \
        OPENCLAW_CONFIG="$C" "$@" sh "$ASKPASS" "$prompt" 2>"$work/ask.err"
}
aud_of() { jwt_claim "$1" aud; }

full=$(as_uid $UID_A "$OCT" --socket "$S" --scope "$RESOURCE_URI/.default" 2>/dev/null)
dflt=$(as_uid $UID_A "$OCT" --socket "$S" 2>/dev/null)
tap_check "setup: the agent's default scope gives a Graph token" test "$(aud_of "$dflt")" = "$GRAPH"

# --- only pam_openclaw's prompt ---------------------------------------------------
c0=$(ask "(agent-alpha@host) Entra token [0]: ")
c1=$(ask "Entra token [500]: ")
if [ "${#c0}" -eq 500 ] && [ "$c0$c1" = "$(printf '%s' "$full" | head -c $((500 + ${#c1})))" ]; then
    tap_ok "pam_openclaw's prompt (with and without ssh's (user@host)) is answered with the login token"
else
    tap_fail "pam_openclaw's prompt is answered with the login token" "${#c0} ${#c1} $(cat "$work/ask.err")"
fi
for p in "(agent-alpha@evil) Password [0]: " "Verification code [1]: " "One-time PIN [0]:" \
    "(agent-alpha@evil) Enter your Entra token [0]: " "Entra token [0]: please" \
    "Entra token [0] [500]: "; do
    out=$(ask "$p")
    rc=$?
    if [ $rc -ne 0 ] && [ -z "$out" ]; then
        tap_ok "another prompt is declined: '$p'"
    else
        tap_fail "another prompt is declined: '$p'" "rc=$rc out=${out:0:40}"
    fi
done

# --- only a token for a login audience ---------------------------------------------
out=$(ask "Entra token [0]: ")
tap_check "without OPENCLAW_TOKEN_SCOPE: the login audience's token, not the default (Graph) one" \
    test "$out" = "$(printf '%s' "$full" | head -c 500)"
out=$(ask "Entra token [0]: " OPENCLAW_TOKEN_SCOPE="$GRAPH/.default")
rc=$?
if [ $rc -ne 0 ] && [ -z "$out" ] && grep -q "not for a host login audience" "$work/ask.err"; then
    tap_ok "OPENCLAW_TOKEN_SCOPE=Graph: declined, nothing sent"
else
    tap_fail "OPENCLAW_TOKEN_SCOPE=Graph: declined, nothing sent" "rc=$rc ${out:0:40} $(cat "$work/ask.err")"
fi
printf '%s\n' "$dflt" >"$work/graph.tok"
printf '%s\n' "$full" >"$work/login.tok"
chown $UID_A "$work/graph.tok" "$work/login.tok"
chmod 600 "$work/graph.tok" "$work/login.tok"
out=$(ask "Entra token [0]: " OPENCLAW_TOKEN_FILE="$work/graph.tok")
tap_check "a Graph token in OPENCLAW_TOKEN_FILE: declined" test -z "$out"
out=$(ask "Entra token [0]: " OPENCLAW_TOKEN_FILE="$work/login.tok")
tap_check "a login token in OPENCLAW_TOKEN_FILE: answered" test "$out" = "$(printf '%s' "$full" | head -c 500)"
out=$(as_uid $UID_A env -i PATH="$UID_BIN:/usr/bin:/bin" OPENCLAW_SOCKET="$S" \
    OPENCLAW_CONFIG="$work/missing.conf" sh "$ASKPASS" "Entra token [0]: " 2>/dev/null)
tap_check "no readable openclaw.conf (no known login audience): declined" test -z "$out"

tap_done
