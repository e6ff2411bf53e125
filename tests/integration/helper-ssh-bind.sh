#!/bin/bash
# helper-ssh-bind.sh: OpenSSH's session-bind@openssh.com at the ssh-agent
# of `openclaw-token --ssh-agent`, and its --destination list (docs/ssh.md,
# docs/security.md). The attack: the agent forwarded (ssh -A) to a hostile
# host, whose root uses it to log in elsewhere as the agent; or a local
# program that claims a session it does not have. In a private mount and
# network namespace: the local tenant, openclawd with agent-alpha's key
# (helper-agentkey-lib.sh), a real sshd on 127.0.0.1, and as agent-alpha's
# uid:
#   - real ssh through the agent logs in; its bind's host key signature is
#     verified;
#   - a bind whose signature does not verify (Ed25519, ECDSA P-384,
#     RSA rsa-sha2-512 host keys) is refused, and the userauth request for
#     that session after it too; the same binds correctly signed pass;
#   - a second bind on a connection bound for authentication is refused;
#     forwarding hops accumulate (16 at most), a repeat is a no-op;
#   - --destination with the sshd's host key (a .pub line, a known_hosts
#     line from ssh-keyscan): ssh logs in; with another host's key: the
#     agent refuses the signature and says why; a forwarding chain through
#     a host not listed is refused; SSHSIG only on local connections;
#   - the attack with real programs: ssh -A to a first sshd, and from the
#     session there ssh through the forwarded agent to a second sshd (its
#     own host key): works without a list and with both keys listed; with
#     only the first host listed the agent refuses the second login.
# Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/lib/tap.sh"

SSHD=${SSHD:-/usr/sbin/sshd}
if [ "${1:-}" != --inner ]; then
    [ "$(id -u)" = 0 ] || tap_skip_all "needs root (private namespaces, clients under other uids)"
    for t in setpriv unshare ip ssh ssh-keygen ssh-keyscan timeout; do
        command -v "$t" >/dev/null 2>&1 || tap_skip_all "$t missing"
    done
    [ -x "$SSHD" ] || tap_skip_all "sshd missing (openssh-server)"
    unshare --mount --propagation private --net true 2>/dev/null ||
        tap_skip_all "unshare --mount --net not permitted here"
    exec timeout 300 unshare --mount --propagation private --net bash "$0" --inner
fi

# ---------------- inside the namespace ----------------
ip link set lo up
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"
. "$top_srcdir/tests/integration/helper-agentkey-lib.sh"
. "$top_srcdir/tests/integration/helper-ssh-lib.sh"
cleanup() {
    for p in $agent_pids; do
        stop_pid "$p"
    done
    for p in $sshd_pids; do
        stop_pid "$p"
    done
    helper_stop "$HELPER_PID_main"
    tenant_stop
    rm -rf "$work"
}
uid_copies "$work/bin" "$top_srcdir/tests/integration/ssh_bind_client.py"
BC=$UID_BIN/ssh_bind_client.py
DSOCK=$S
SSH_PORT=22024

passwd_with "agent-alpha:$UID_A" || tap_skip_all "cannot bind-mount a passwd copy"
openssl x509 -in "$work/alpha.pem" -pubkey -noout >"$work/alpha.pub.pem"
mkdir -p "$work/authorized_keys"
ssh-keygen -i -m PKCS8 -f "$work/alpha.pub.pem" >"$work/authorized_keys/agent-alpha"
if ! sshd_start "$work/authorized_keys"; then
    tap_fail "sshd starts on 127.0.0.1:$SSH_PORT" "$(cat "$work/sshd.log")"
    tap_done
    exit 1
fi
# the hosts the python client plays: one of each host key type
mkdir -m 0755 "$work/hk"
for k in ed:ed25519:256 p384:ecdsa:384 rsa:rsa:2048 other:ed25519:256; do
    ssh-keygen -q -t "$(echo "$k" | cut -d: -f2)" -b "${k##*:}" -N '' -f "$work/hk/${k%%:*}"
done
chmod 644 "$work"/hk/*
HK=$work/hk
bc() { # AGENT_SOCK STEP...: the client as agent-alpha's uid, on one connection
    local sock=$1
    shift
    as_uid "$UID_A" "$PY" "$BC" "$sock" "$@" 2>&1
}
expect() { # DESC WANT AGENT_SOCK STEP...
    local desc=$1 want=$2 out
    shift 2
    out=$(bc "$@")
    if [ "$out" = "$want" ]; then
        tap_ok "$desc: $out"
    else
        tap_fail "$desc" "got '$out', want '$want'"
    fi
}

if ! start_agent plain "$UID_A"; then
    tap_fail "openclaw-token --ssh-agent starts" "$(cat "$work/agent-plain.err")"
    tap_done
    exit 1
fi

# --- (a) real ssh: its bind verifies -------------------------------------------
out=$(ssh_login "$UID_A" "$SOCK_plain" agent-alpha 2>"$work/ssh.err")
rc=$?
if [ $rc -eq 0 ] && [ "$out" = "$UID_A" ] &&
    grep -q "connection bound to an ssh session (host key ssh-ed25519 SHA256:[^ ]*, signature verified, hop 1)" "$work/agent-plain.err"; then
    tap_ok "ssh agent-alpha@127.0.0.1 through the agent: id -u = $UID_A; ssh's session-bind verified (the sshd's Ed25519 host key signed the session id)"
else
    tap_fail "ssh through the agent with a verified session-bind" "rc=$rc out=$out $(cat "$work/ssh.err" "$work/agent-plain.err"; tail -5 "$work/sshd.log")"
fi

# --- (b) a bind whose host key signature does not verify -----------------------
for k in ed p384 rsa; do
    expect "$k host key: a correctly signed bind, then a userauth request for its session" \
        "SUCCESS SIGNED" "$SOCK_plain" "bind:$HK/$k:s1:auth" "sign:s1:$HK/$k"
    expect "$k host key: a bind with a wrong signature is refused, and the userauth request for that session after it" \
        "FAILURE FAILURE" "$SOCK_plain" "bind:$HK/$k:s1:auth:badsig" "sign:s1:$HK/$k"
done
if grep -q "refused session-bind@openssh.com for ssh-ed25519 host key SHA256:[^ ]*: the signature does not verify with the key; this connection will sign nothing" "$work/agent-plain.err" &&
    grep -q "refused session-bind@openssh.com for ecdsa-sha2-nistp384 host key" "$work/agent-plain.err" &&
    grep -q "refused session-bind@openssh.com for ssh-rsa host key" "$work/agent-plain.err"; then
    tap_ok "each refused bind is logged with the host key and the reason"
else
    tap_fail "each refused bind is logged with the host key and the reason" "$(cat "$work/agent-plain.err")"
fi
expect "a malformed bind: a failure (the connection stays open) and nothing signed after it" \
    "FAILURE FAILURE" "$SOCK_plain" junkbind "sign:s1"
grep -q "refused a malformed session-bind@openssh.com; this connection will sign nothing" "$work/agent-plain.err" &&
    tap_ok "the malformed bind is logged" || tap_fail "the malformed bind is logged" "$(cat "$work/agent-plain.err")"
expect "a bad bind, then a good one on the same connection: the connection still signs nothing" \
    "FAILURE SUCCESS FAILURE" "$SOCK_plain" "bind:$HK/ed:s1:fwd:badsig" "bind:$HK/ed:s2:auth" "sign:s2:$HK/ed"

# --- (c) several binds on one connection ----------------------------------------
expect "a second bind on a connection bound for authentication is refused (then nothing is signed)" \
    "SUCCESS FAILURE FAILURE" "$SOCK_plain" "bind:$HK/ed:s1:auth" "bind:$HK/p384:s2:auth" "sign:s1:$HK/ed"
expect "the same bind twice on a connection bound for authentication: the second is refused" \
    "SUCCESS FAILURE" "$SOCK_plain" "bind:$HK/ed:s1:auth" "bind:$HK/ed:s1:auth"
expect "forwarding hops accumulate, a repeated hop is a no-op, the last host binds for authentication and signs" \
    "SUCCESS SUCCESS SUCCESS SIGNED" "$SOCK_plain" "bind:$HK/ed:s1:fwd" "bind:$HK/ed:s1:fwd" \
    "bind:$HK/p384:s2:auth" "sign:s2:$HK/p384"
expect "a session id already bound to another host key is refused" \
    "SUCCESS FAILURE" "$SOCK_plain" "bind:$HK/ed:s1:fwd" "bind:$HK/p384:s1:fwd"
steps=""
want=""
for i in $(seq 1 17); do
    steps="$steps bind:$HK/ed:h$i:fwd"
    [ "$i" -le 16 ] && want="$want SUCCESS" || want="$want FAILURE"
done
# shellcheck disable=SC2086
expect "at most 16 forwarding hops on one connection" "${want# }" "$SOCK_plain" $steps
expect "a userauth request for another session than the bound one is refused" \
    "SUCCESS FAILURE" "$SOCK_plain" "bind:$HK/ed:s1:auth" "sign:s2:$HK/ed"
expect "without --destination: an unbound connection still signs (ssh before 8.9), SSHSIG too" \
    "SIGNED SIGNED" "$SOCK_plain" "sign:s1" "sshsig"

# --- (d) --destination ------------------------------------------------------------
{
    echo "# the hosts agent-alpha may log in to"
    cat "$work/hostkey.pub"
    cat "$HK/ed.pub"
    printf '[%s]:%s %s\n' 192.0.2.7 22 "$(cut -d' ' -f1,2 "$HK/p384.pub")"
} >"$work/dest-all"
cp "$HK/other.pub" "$work/dest-other"
ssh-keyscan -t ed25519 -p "$SSH_PORT" 127.0.0.1 >"$work/dest-scan" 2>/dev/null
chmod 644 "$work"/dest-*
ok=true
for a in all other scan; do
    start_agent "d$a" "$UID_A" --destination "$work/dest-$a" || ok=false
done
if $ok && grep -q "3 destination host key(s) from $work/dest-all" "$work/agent-dall.err"; then
    tap_ok "agents with --destination start (.pub lines, a known_hosts line, ssh-keyscan output)"
else
    tap_fail "agents with --destination start" "$(cat "$work"/agent-d*.err)"
    tap_done
    exit 1
fi
for a in all scan; do
    eval "sock=\$SOCK_d$a"
    out=$(ssh_login "$UID_A" "$sock" agent-alpha 2>"$work/ssh.err")
    rc=$?
    if [ $rc -eq 0 ] && [ "$out" = "$UID_A" ]; then
        tap_ok "--destination listing the sshd's host key ($a): ssh agent-alpha@127.0.0.1 logs in"
    else
        tap_fail "--destination listing the sshd's host key ($a): ssh logs in" "rc=$rc out=$out $(cat "$work/ssh.err" "$work/agent-d$a.err")"
    fi
done
out=$(ssh_login "$UID_A" "$SOCK_dother" agent-alpha 2>"$work/ssh.err")
rc=$?
fp=$(ssh-keygen -l -f "$work/hostkey.pub" | cut -d' ' -f2)
if [ $rc -ne 0 ] && [ "$out" != "$UID_A" ] &&
    grep -q "refused a signature: host key $fp (login, hop 1 of 1) is not in the --destination file $work/dest-other" "$work/agent-dother.err"; then
    tap_ok "--destination listing another host's key: the login is refused by the agent, which says which host key is not listed"
else
    tap_fail "--destination listing another host's key: the login is refused" "rc=$rc out=$out $(cat "$work/agent-dother.err")"
fi
expect "--destination: a forwarding chain through listed hosts signs" \
    "SUCCESS SUCCESS SIGNED" "$SOCK_dall" "bind:$HK/ed:s1:fwd" "bind:$HK/p384:s2:auth" "sign:s2:$HK/p384"
expect "--destination: a chain through a host not listed (the first hop) is refused" \
    "SUCCESS SUCCESS FAILURE" "$SOCK_dall" "bind:$HK/rsa:s1:fwd" "bind:$HK/p384:s2:auth" "sign:s2:$HK/p384"
grep -q "refused a signature: host key SHA256:[^ ]* (forwarding hop 1 of 2) is not in the --destination file" "$work/agent-dall.err" &&
    tap_ok "the refusal names the forwarding hop that is not listed" ||
    tap_fail "the refusal names the forwarding hop that is not listed" "$(cat "$work/agent-dall.err")"
expect "--destination: a forwarded agent used by its host without a bind of its own is refused" \
    "SUCCESS FAILURE" "$SOCK_dall" "bind:$HK/ed:s1:fwd" "sign:s1"
expect "--destination: a userauth request through a forwarded agent naming no host key is refused" \
    "SUCCESS SUCCESS FAILURE" "$SOCK_dall" "bind:$HK/ed:s1:fwd" "bind:$HK/p384:s2:auth" "sign:s2"
expect "--destination: a host-bound request naming another host key than the bound one is refused" \
    "SUCCESS FAILURE" "$SOCK_dall" "bind:$HK/ed:s1:auth" "sign:s1:$HK/p384"
expect "--destination: a userauth request on an unbound connection is refused" \
    "FAILURE" "$SOCK_dall" "sign:s1"
expect "--destination: SSHSIG through a forwarded agent is refused" \
    "SUCCESS FAILURE" "$SOCK_dall" "bind:$HK/ed:s1:fwd" "sshsig"
expect "--destination: SSHSIG on a local (unbound) connection is signed" \
    "SIGNED" "$SOCK_dall" "sshsig"

# --- the forwarded agent, with real ssh: host 1 (listed) on to host 2 ------------
SSH_PORT2=22025
if ! sshd_start "$work/authorized_keys" "$SSH_PORT2" sshd2; then
    tap_fail "a second sshd starts on 127.0.0.1:$SSH_PORT2" "$(cat "$work/sshd2.log")"
    tap_done
    exit 1
fi
cp "$work/hostkey.pub" "$work/dest-one"
cat "$work/hostkey.pub" "$work/sshd2-hostkey.pub" >"$work/dest-two"
chmod 644 "$work/dest-one" "$work/dest-two"
if ! start_agent done "$UID_A" --destination "$work/dest-one" ||
    ! start_agent dtwo "$UID_A" --destination "$work/dest-two"; then
    tap_fail "agents with --destination (one host, two hosts) start" "$(cat "$work/agent-done.err" "$work/agent-dtwo.err")"
    tap_done
    exit 1
fi
# what the session on host 1 runs: ssh to host 2 with the forwarded agent
SSH_CMD="ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20 -o LogLevel=ERROR -p $SSH_PORT2 agent-alpha@127.0.0.1 id -u"
export SSH_CMD
for a in plain dtwo; do
    eval "sock=\$SOCK_$a"
    out=$(ssh_login "$UID_A" "$sock" agent-alpha -A 2>"$work/ssh.err")
    rc=$?
    if [ $rc -eq 0 ] && [ "$out" = "$UID_A" ] &&
        grep -q "signature verified, forwarded agent, hop 1)" "$work/agent-$a.err"; then
        tap_ok "ssh -A host 1, then ssh host 2 through the forwarded agent ($a): logs in; the forwarded connection was bound and verified"
    else
        tap_fail "ssh -A host 1, then ssh host 2 through the forwarded agent ($a)" "rc=$rc out=$out $(cat "$work/ssh.err" "$work/agent-$a.err"; tail -5 "$work/sshd2.log")"
    fi
done
fp2=$(ssh-keygen -l -f "$work/sshd2-hostkey.pub" | cut -d' ' -f2)
out=$(ssh_login "$UID_A" "$SOCK_done" agent-alpha -A 2>"$work/ssh.err")
rc=$?
if [ $rc -ne 0 ] && [ "$out" != "$UID_A" ] &&
    grep -q "refused a signature: host key $fp2 (login, hop 2 of 2) is not in the --destination file $work/dest-one" "$work/agent-done.err"; then
    tap_ok "--destination with host 1 only: host 1's session cannot use the forwarded agent to log in to host 2 (refused, host 2's key named)"
else
    tap_fail "--destination with host 1 only: the forwarded agent is refused for host 2" "rc=$rc out=$out $(cat "$work/ssh.err" "$work/agent-done.err")"
fi
unset SSH_CMD
out=$(ssh_login "$UID_A" "$SOCK_done" agent-alpha 2>"$work/ssh.err")
[ "$out" = "$UID_A" ] && tap_ok "--destination with host 1 only: ssh to host 1 itself still logs in" ||
    tap_fail "--destination with host 1 only: ssh to host 1 logs in" "$out $(cat "$work/ssh.err" "$work/agent-done.err")"

# a bad destination file: the agent does not start and names the line
printf 'ssh-ed25519 %s\n@cert-authority * %s\n' "$(cut -d' ' -f2 "$HK/ed.pub")" "$(cut -d' ' -f1,2 "$HK/ed.pub")" >"$work/dest-bad"
chmod 644 "$work/dest-bad"
out=$(as_uid "$UID_A" env HOME="$work/home/agent-alpha" timeout 10 "$OCT" --ssh-agent --foreground \
    --socket "$DSOCK" --socket-dir "$work/home/agent-alpha" --destination "$work/dest-bad" 2>&1)
rc=$?
if [ $rc -eq 1 ] && printf '%s' "$out" | grep -q -- "--destination $work/dest-bad, line 2: marker lines"; then
    tap_ok "a destination file with a marker line: the agent does not start and names the line"
else
    tap_fail "a bad destination file is refused at start" "rc=$rc $out"
fi

grep -q "Sanitizer\|runtime error" "$work"/agent-*.err && tap_fail "no sanitizer report" ||
    tap_ok "no sanitizer report from the agents"
tap_done
