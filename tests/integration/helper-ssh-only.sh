#!/bin/bash
# The ssh-agent signs only SSH (docs/ssh.md): the agent's ssh key is the
# TPM key whose certificate is its Entra credential, so ssh-sign must never
# sign a JWS signing input. The attack of the security review: a client
# assertion JWT for agent-alpha, hand-built, given to ssh-sign; with the
# signature it would be redeemed at the token endpoint for a Graph token
# with no TPM and no daemon. Also: a userauth request for another key, with
# another algorithm, with trailing bytes; SSHSIG blobs in and out of the
# allowed namespaces. The local tenant, openclawd as root, the client as
# the agent's uid. Prints TAP.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"
. "$top_srcdir/tests/integration/helper-agentkey-lib.sh"

sc() { as_uid $UID_A "$PY" "$SC" "$S" "$@" 2>&1; }
TOKEN_URL="$TENANT_URL/$TENANT_ID/oauth2/v2.0/token"

# --- the forgery ----------------------------------------------------------------
out=$(sc forge "$TOKEN_URL" "$TENANT_CA" "$work/alpha.pem" "$ALPHA_APP")
echo "# forge: $(echo $out)"
case $out in
REFUSED:not-ssh*) tap_ok "ssh-sign of a client assertion's JWS signing input is refused (not-ssh)" ;;
*) tap_fail "ssh-sign of a client assertion's JWS signing input is refused (not-ssh)" "$out" ;;
esac
case $out in
*REDEEMED:200*) tap_fail "no ssh-sign answer can be redeemed at the token endpoint" "$out" ;;
*) tap_ok "no ssh-sign answer can be redeemed at the token endpoint" ;;
esac
# the same assertion signed properly (by openclawd's own client-assertion
# path) does redeem: the refusal above is the only thing in the way
out=$(as_uid $UID_A "$PY" "$CLIENT" "$S" json '{"type":"get-token"}')
tap_check "the agent's own token path still works (get-token)" sh -c 'printf "%s" "$1" | grep -q "\"ok\":true"' _ "$out"

# --- what is signed, what is not ------------------------------------------------
expect_sc() { # DESC WANT ARGS...
    local desc=$1 want=$2
    shift 2
    out=$(sc "$@")
    case $out in
    "$want"*) tap_ok "$desc: $out" ;;
    *) tap_fail "$desc" "got $out, want $want" ;;
    esac
}
expect_sc "userauth request for the agent's own key and algorithm" SIGNED userauth
expect_sc "host-bound userauth request (publickey-hostbound-v00@openssh.com)" SIGNED userauth hostbound
expect_sc "userauth request for another key" REFUSED:not-ssh userauth other-key
expect_sc "userauth request with another algorithm" REFUSED:not-ssh userauth bad-alg
expect_sc "userauth request with trailing bytes" REFUSED:not-ssh userauth trailing
expect_sc "userauth request with an empty session id" REFUSED:not-ssh userauth no-session
expect_sc "SSHSIG in namespace git" SIGNED sshsig git
expect_sc "SSHSIG in namespace file (sha256)" SIGNED sshsig file sha256
expect_sc "SSHSIG in a namespace not allowed" REFUSED:not-ssh sshsig openclaw-assertion
expect_sc "SSHSIG with a digest of the wrong length" REFUSED:not-ssh sshsig git short
expect_sc "a bare SHA-256 digest (32 bytes)" REFUSED:not-ssh raw "$(printf x | sha256sum | cut -c1-64)"
expect_sc "an X.509/TLS-style DER blob" REFUSED:not-ssh raw 3082010a0282010100c0ffee

if grep -q "audit: ssh-sign: agent agent-alpha for uid $UID_A pid [0-9]*: refused (not-ssh)" "$LOG" &&
    grep -q "audit: ssh-sign: agent agent-alpha for uid $UID_A pid [0-9]*, SSHSIG namespace git: allowed" "$LOG" &&
    grep -q "audit: ssh-sign: agent agent-alpha for uid $UID_A pid [0-9]*, userauth as agent-alpha: allowed" "$LOG"; then
    tap_ok "each refusal and each signature is audited with what was signed"
else
    tap_fail "each refusal and each signature is audited with what was signed" "$(grep ssh-sign "$LOG" | tail -5)"
fi
n=$(grep -c "audit: ssh signature by agent agent-alpha" "$LOG")
tap_check "signatures made: exactly the 4 allowed requests (not the refused ones)" test "$n" -eq 4

tap_done
