#!/bin/bash
# helper-sshagent.sh: `openclaw-token --ssh-agent`, an ssh-agent whose keys
# are the agents' TPM keys held by openclawd. Private swtpm, TPM keys and
# certificates made with `openclawctl tpm`, openclawd with two
# tpm-certificate agents (alpha: ECC P-256, beta: RSA-2048; no tenant: ssh
# needs none), then as the agents' uids (setpriv):
#   - ssh-add -L lists exactly the agent's TPM key (the certificate's key);
#   - another uid cannot reach the agent, root is refused by SO_PEERCRED;
#   - the daemon refuses ssh-sign from root and from a uid without agent;
#   - ssh-keygen -Y sign through the agent, ssh-keygen -Y verify accepts;
#   - a real sshd on 127.0.0.1 (private mount + network namespace, a
#     passwd copy with the agents bind-mounted over /etc/passwd, an
#     AuthorizedKeysFile holding the TPM public key): `ssh agent-x@127.0.0.1
#     id -u` works with the agent only, not once the agent is stopped; one
#     audited signature per login in the daemon log, never the data;
#   - daemon mode: the printed variables work; the agent exits when the
#     session it was started in ends, removing its socket.
# Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"
. "$top_srcdir/tests/integration/helper-ssh-lib.sh"

SWTPM=${SWTPM:-$(command -v swtpm 2>/dev/null || true)}
CTL="$top_builddir/helper/ctl/openclawctl"
SSHD=${SSHD:-/usr/sbin/sshd}

if [ "${1:-}" != --inner ]; then
    [ "$(id -u)" = 0 ] || tap_skip_all "needs root (private namespaces, clients under other uids)"
    for t in setpriv unshare ip ssh ssh-add ssh-keygen openssl timeout; do
        command -v "$t" >/dev/null 2>&1 || tap_skip_all "$t missing"
    done
    [ -x "$SSHD" ] || tap_skip_all "sshd missing (openssh-server)"
    [ -n "$SWTPM" ] && [ -x "$SWTPM" ] || tap_skip_all "swtpm not installed"
    [ -x "$OCD" ] && [ -x "$OCT" ] && [ -x "$CTL" ] || tap_skip_all "openclawd/openclaw-token/openclawctl not built"
    unshare --mount --propagation private --net true 2>/dev/null ||
        tap_skip_all "unshare --mount --net not permitted here"
    exec timeout 300 unshare --mount --propagation private --net bash "$0" --inner
fi

# ---------------- inside the namespace ----------------
TSS2_LOG=${TSS2_LOG:-all+none}
export TSS2_LOG
UID_A=1879048193 # agent-alpha, ECC key
UID_B=1879048194 # agent-beta, RSA key
UID_G=1879048195 # agent-gamma, software key (allow_software_keys = yes)
UID_H=61234      # a human user, no agent
SSH_PORT=22023
work=$(mktemp -d "${TMPDIR:-/tmp}/oc-helper-ssh.XXXXXX")
chmod 755 "$work"
uid_copies "$work/bin" # what runs under other uids: copies, never the tree
HELPER_PID_main=""
swtpm_pid=""
cleanup() {
    for p in $agent_pids; do
        stop_pid "$p"
    done
    stop_pid "$sshd_pid"
    helper_stop "$HELPER_PID_main"
    stop_pid "$swtpm_pid"
    rm -rf "$work"
}
trap cleanup EXIT
ip link set lo up

# the agents' and a human's accounts, in this namespace only
passwd_with "agent-alpha:$UID_A" "agent-beta:$UID_B" "agent-gamma:$UID_G" "human:$UID_H" ||
    tap_skip_all "cannot bind-mount a passwd copy"

mkdir -p "$work/tpm"
"$SWTPM" socket --tpm2 --tpmstate dir="$work/tpm" \
    --server type=unixio,path="$work/tpm/sock" --ctrl type=unixio,path="$work/tpm/sock.ctrl" \
    --flags not-need-init,startup-clear --pid file="$work/tpm/pid" --daemon \
    >"$work/tpm/log" 2>&1
wait_for 5 test -s "$work/tpm/pid" && wait_for 5 test -S "$work/tpm/sock"
swtpm_pid=$(cat "$work/tpm/pid" 2>/dev/null)
TCTI="swtpm:path=$work/tpm/sock"
made=true
for k in alpha:ecc beta:rsa; do
    "$CTL" tpm keygen --alg "${k#*:}" --out "$work/${k%%:*}.key" --tcti "$TCTI" >/dev/null 2>>"$work/ctl.err" &&
        "$CTL" tpm cert --key "$work/${k%%:*}.key" --subject "agent-${k%%:*}" --out "$work/${k%%:*}.pem" \
            --tcti "$TCTI" >/dev/null 2>>"$work/ctl.err" || made=false
done
if [ -z "$swtpm_pid" ] || ! $made; then
    tap_fail "swtpm, TPM keys and certificates" "$(cat "$work/ctl.err" "$work/tpm/log")"
    tap_done
    exit 1
fi
tap_ok "swtpm started, ECC and RSA TPM keys and certificates made"
# the certificates' public keys in ssh form: what the agent must offer
for n in alpha beta; do
    openssl x509 -in "$work/$n.pem" -pubkey -noout >"$work/$n.pub.pem"
    ssh-keygen -i -m PKCS8 -f "$work/$n.pub.pem" >"$work/$n.ssh.pub"
    chmod 644 "$work/$n.ssh.pub"
done

cat >"$work/oc.conf" <<CONF
[global]
tenant_id = 5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c
authority = https://127.0.0.1:1
audiences = api://openclaw-host
state_dir = $work/state
socket = $work/openclawd.sock
tcti = $TCTI
keys_dir = $work/keys
allow_software_keys = yes

[agent agent-alpha]
app_id = a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f
object_id = a3d5f7b9-1c4e-4a8b-8d2f-3c5e7a9b1d4f
uid = $UID_A
credential = tpm-certificate
key_file = $work/alpha.key
cert_file = $work/alpha.pem

[agent agent-beta]
app_id = b1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f2a
object_id = b3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e4a
uid = $UID_B
credential = tpm-certificate
key_file = $work/beta.key
cert_file = $work/beta.pem

[agent agent-gamma]
app_id = c1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f2a
object_id = c3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e4a
uid = $UID_G
credential = tpm-certificate
key_file = $work/gamma.key
cert_file = $work/gamma.pem
CONF
chmod 644 "$work/oc.conf"
mkdir -p "$work/state"
mkdir -m 0700 "$work/keys"
if ! { "$CTL" tpm keygen --software --alg ecc --out "$work/gamma.key" --config "$work/oc.conf" &&
    "$CTL" tpm cert --key "$work/gamma.key" --subject agent-gamma --out "$work/gamma.pem" \
        --config "$work/oc.conf"; } >/dev/null 2>"$work/ctl.err"; then
    tap_fail "software key for agent-gamma" "$(cat "$work/ctl.err")"
fi
openssl x509 -in "$work/gamma.pem" -pubkey -noout >"$work/gamma.pub.pem"
ssh-keygen -i -m PKCS8 -f "$work/gamma.pub.pem" >"$work/gamma.ssh.pub"
if ! helper_start main "$work/oc.conf"; then
    tap_fail "openclawd starts" "$(cat "$work/main.log")"
    tap_done
    exit 1
fi
DSOCK=$work/openclawd.sock
audits() { grep -c "audit: ssh signature by agent $1 " "$work/main.log"; }

for n in alpha:$UID_A beta:$UID_B; do
    name=${n%%:*}
    uid=${n#*:}
    if ! start_agent "$name" "$uid"; then
        tap_fail "agent-$name: openclaw-token --ssh-agent starts" "$(cat "$work/agent-$name.err")"
        continue
    fi
    eval "sock=\$SOCK_$name"
    d=$(dirname "$sock")
    if [ "$(stat -c '%a %u' "$d")" = "700 $uid" ] && [ "$(stat -c '%a %u' "$sock")" = "600 $uid" ] &&
        grep -q "^SSH_AGENT_PID=[0-9]*; export SSH_AGENT_PID;" "$work/agent-$name.out"; then
        tap_ok "agent-$name: agent started; prints SSH_AUTH_SOCK/SSH_AGENT_PID; directory 0700 and socket 0600, owned by uid $uid"
    else
        tap_fail "agent-$name: private directory and socket" "$(stat -c '%n %a %u' "$d" "$sock")"
    fi
    as_agent "$uid" "$sock" ssh-add -L >"$work/$name.listed" 2>"$work/last.err"
    if [ "$(wc -l <"$work/$name.listed")" = 1 ] &&
        [ "$(cut -d' ' -f1,2 "$work/$name.listed")" = "$(cut -d' ' -f1,2 "$work/$name.ssh.pub")" ]; then
        tap_ok "agent-$name: ssh-add -L lists exactly the TPM key ($(cut -d' ' -f1 "$work/$name.listed"), the certificate's key): $(cut -d' ' -f3- "$work/$name.listed")"
    else
        tap_fail "agent-$name: ssh-add -L lists exactly the TPM key" \
            "$(cat "$work/$name.listed" "$work/last.err" "$work/$name.ssh.pub" "$work/agent-$name.err")"
    fi
done

# --- who may use an agent and the daemon's ssh requests ---
out=$(as_agent "$UID_H" "$SOCK_alpha" ssh-add -L 2>&1)
rc=$?
if [ $rc -ne 0 ] && ! printf '%s' "$out" | grep -q ecdsa; then
    tap_ok "another uid cannot reach agent-alpha's socket ($(printf '%s' "$out" | head -n1))"
else
    tap_fail "another uid cannot reach agent-alpha's socket" "rc=$rc $out"
fi
out=$(SSH_AUTH_SOCK=$SOCK_alpha timeout 30 ssh-add -L 2>&1)
rc=$?
if [ $rc -ne 0 ] && ! printf '%s' "$out" | grep -q ecdsa &&
    grep -q "refused a connection from uid 0 " "$work/agent-alpha.err"; then
    tap_ok "root reaches the socket but the agent refuses it by SO_PEERCRED (logged)"
else
    tap_fail "root is refused by SO_PEERCRED" "rc=$rc $out $(cat "$work/agent-alpha.err")"
fi
key_b64=$("$PY" -c 'import base64,sys; print(base64.urlsafe_b64encode(base64.b64decode(open(sys.argv[1]).read().split()[1])).decode().rstrip("="))' "$work/alpha.ssh.pub")
sign_req="{\"type\":\"ssh-sign\",\"key\":\"$key_b64\",\"data\":\"aGVsbG8\",\"flags\":0}"
r_root=$(req "$DSOCK" "$sign_req")
r_h=$(as_uid "$UID_H" "$PY" "$CLIENT" "$DSOCK" json "$sign_req")
r_hid=$(as_uid "$UID_H" "$PY" "$CLIENT" "$DSOCK" json '{"type":"ssh-identities"}')
r_b=$(as_uid "$UID_B" "$PY" "$CLIENT" "$DSOCK" json "$sign_req")
if printf '%s' "$r_root" | grep -q '"error":"denied"' && printf '%s' "$r_h" | grep -q '"error":"denied"' &&
    printf '%s' "$r_hid" | grep -q '"identities":\[\]' &&
    printf '%s' "$r_b" | grep -q '"error":"no-such-key"'; then
    tap_ok "openclawd: ssh-sign denied to root and to a uid without agent; no identities for it; agent-beta cannot use agent-alpha's key"
else
    tap_fail "openclawd: ssh request authorization" "root=$r_root human=$r_h human-ids=$r_hid beta=$r_b"
fi
r_bad=$(as_uid "$UID_A" "$PY" "$CLIENT" "$DSOCK" json "{\"type\":\"ssh-identities\",\"key\":\"$key_b64\"}")
r_big=$(as_uid "$UID_A" "$PY" "$CLIENT" "$DSOCK" json "{\"type\":\"ssh-sign\",\"key\":\"$key_b64\",\"data\":\"$(head -c 16385 /dev/zero | "$PY" -c 'import base64,sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).decode().rstrip("="))')\"}")
if [ "$r_bad" = CLOSED ] && [ "$r_big" = CLOSED ]; then
    tap_ok "openclawd: key on ssh-identities, and data over 16 KiB, end the connection"
else
    tap_fail "openclawd: strict ssh request parsing" "bad=$r_bad big=$r_big"
fi

# --- SSHSIG through the agent ---
for n in alpha:$UID_A beta:$UID_B; do
    name=${n%%:*}
    uid=${n#*:}
    eval "sock=\$SOCK_$name"
    h=$work/home/agent-$name
    echo "message for $name" >"$h/msg"
    printf 'agent-%s %s\n' "$name" "$(cut -d' ' -f1,2 "$work/$name.ssh.pub")" >"$work/$name.signers"
    cp "$work/$name.ssh.pub" "$h/key.pub"
    chown "$uid" "$h/msg" "$h/key.pub"
    as_agent "$uid" "$sock" ssh-keygen -Y sign -f "$h/key.pub" -n file "$h/msg" >"$work/last.out" 2>&1
    if [ -s "$h/msg.sig" ] && ssh-keygen -Y verify -f "$work/$name.signers" -I "agent-$name" -n file \
        -s "$h/msg.sig" <"$h/msg" >>"$work/last.out" 2>&1; then
        tap_ok "agent-$name: ssh-keygen -Y sign through the agent; ssh-keygen -Y verify accepts the signature"
    else
        tap_fail "agent-$name: ssh-keygen -Y sign/verify" "$(cat "$work/last.out" "$work/agent-$name.err"; tail -3 "$work/main.log")"
    fi
done

# --- a real sshd ---
mkdir -p "$work/authorized_keys"
cp "$work/alpha.ssh.pub" "$work/authorized_keys/agent-alpha"
cp "$work/beta.ssh.pub" "$work/authorized_keys/agent-beta"
cp "$work/gamma.ssh.pub" "$work/authorized_keys/agent-gamma"
sshd_start "$work/authorized_keys" || exit 1
before=$(audits agent-alpha)
out=$(ssh_login "$UID_A" "$SOCK_alpha" agent-alpha 2>"$work/ssh.err")
rc=$?
after=$(audits agent-alpha)
if [ $rc -eq 0 ] && [ "$out" = "$UID_A" ] && [ -z "$(ls "$work/home/agent-alpha/.ssh" 2>/dev/null | grep -v known_hosts)" ]; then
    tap_ok "ssh agent-alpha@127.0.0.1 id -u = $UID_A with the agent's TPM key only (ECDSA P-256, no key file on disk)"
else
    tap_fail "ssh agent-alpha@127.0.0.1 with the agent's TPM key" "rc=$rc out=$out $(cat "$work/ssh.err"; tail -5 "$work/sshd.log"; tail -3 "$work/main.log")"
fi
if [ $((after - before)) -eq 1 ] &&
    grep -q "audit: ssh signature by agent agent-alpha for uid $UID_A pid [0-9]*: key SHA256:[A-Za-z0-9+/]\{43\}, ecdsa-sha2-nistp256, [0-9]* bytes signed in the TPM" "$work/main.log"; then
    tap_ok "daemon log: one audited signature for the login (agent, uid, pid, key fingerprint)"
else
    tap_fail "daemon log: one audited signature for the login" "$((after - before)) $(grep audit "$work/main.log")"
fi
# OpenSSH binds the agent connection to the session (session-bind@openssh.com);
# the agent verifies the host key's signature, records it and signs only for that session
if grep -q "connection bound to an ssh session (host key ssh-ed25519 SHA256:[^ ]*, signature verified, hop 1)" "$work/agent-alpha.err" &&
    grep -q "audit: ssh-sign: agent agent-alpha for uid $UID_A pid [0-9]*, userauth as agent-alpha (host-bound): allowed" "$work/main.log"; then
    tap_ok "ssh's session-bind@openssh.com is verified (the host key's signature) and recorded; the signed data is a host-bound userauth request"
else
    tap_fail "ssh's session-bind@openssh.com is accepted and recorded" "$(cat "$work/agent-alpha.err"; grep ssh-sign "$work/main.log")"
fi
fp=$(ssh-keygen -l -f "$work/alpha.ssh.pub" | cut -d' ' -f2)
grep -q "key $fp," "$work/main.log" && tap_ok "the logged fingerprint is ssh-keygen -l's ($fp)" ||
    tap_fail "the logged fingerprint is ssh-keygen -l's" "$fp"

out=$(ssh_login "$UID_B" "$SOCK_beta" agent-beta -o PubkeyAcceptedAlgorithms=rsa-sha2-256 2>"$work/ssh.err")
rc=$?
if [ $rc -eq 0 ] && [ "$out" = "$UID_B" ] && grep -q "agent-beta .*rsa-sha2-256" "$work/main.log"; then
    tap_ok "ssh agent-beta@127.0.0.1 (RSA-2048 TPM key, rsa-sha2-256): id -u = $UID_B"
else
    tap_fail "ssh agent-beta with the RSA TPM key (rsa-sha2-256)" "rc=$rc out=$out $(cat "$work/ssh.err"; tail -5 "$work/sshd.log"; tail -3 "$work/main.log")"
fi
out=$(ssh_login "$UID_B" "$SOCK_beta" agent-beta 2>"$work/ssh.err")
rc=$?
if [ $rc -eq 0 ] && [ "$out" = "$UID_B" ] && [ "$(grep -c "agent agent-beta .*rsa-sha2-512" "$work/main.log")" -ge 2 ]; then
    tap_ok "ssh agent-beta@127.0.0.1 (RSA-2048 TPM key, the client's default rsa-sha2-512, SHA-512 in the TPM): id -u = $UID_B"
else
    tap_fail "ssh agent-beta with the RSA TPM key, default client options" "rc=$rc out=$out $(cat "$work/ssh.err"; tail -3 "$work/main.log")"
fi

# a software key (allow_software_keys = yes): works, warned on every signature
if start_agent gamma "$UID_G" && as_agent "$UID_G" "$SOCK_gamma" ssh-add -L >"$work/gamma.listed" 2>&1 &&
    grep -q "openclaw:agent-gamma (software key)" "$work/gamma.listed" &&
    [ "$(ssh_login "$UID_G" "$SOCK_gamma" agent-gamma 2>"$work/ssh.err")" = "$UID_G" ] &&
    grep -q "audit: ssh signature by agent agent-gamma .*bytes signed$" "$work/main.log" &&
    [ "$(grep -c "warning: agent agent-gamma signed with a SOFTWARE key" "$work/main.log")" = 1 ]; then
    tap_ok "software key (allow_software_keys = yes): listed as such, ssh works, one warning line per signature"
else
    tap_fail "software key: listed, ssh works, warned" "$(cat "$work/gamma.listed" "$work/ssh.err"; grep gamma "$work/main.log")"
fi
stop_pid "${PID_gamma:-}"

out=$(ssh_login "$UID_A" "$SOCK_beta" agent-alpha 2>&1)
[ -z "$out" ] || [ "$out" != "$UID_A" ] && tap_ok "agent-alpha's uid cannot use agent-beta's agent" ||
    tap_fail "agent-alpha's uid cannot use agent-beta's agent" "$out"

stop_pid "$PID_alpha"
if [ ! -e "$SOCK_alpha" ] && [ ! -e "$(dirname "$SOCK_alpha")" ]; then
    tap_ok "SIGTERM: the agent exits and removes its socket and directory"
else
    tap_fail "SIGTERM: the agent removes its socket and directory" "$(ls -la "$(dirname "$SOCK_alpha")")"
fi
out=$(ssh_login "$UID_A" "$SOCK_alpha" agent-alpha 2>"$work/ssh.err")
rc=$?
if [ $rc -ne 0 ] && [ -z "$out" ] && grep -q "Permission denied" "$work/ssh.err"; then
    tap_ok "with the agent stopped, ssh agent-alpha@127.0.0.1 is refused (no other key)"
else
    tap_fail "with the agent stopped, ssh is refused" "rc=$rc out=$out $(cat "$work/ssh.err")"
fi

# --- daemon mode: eval the output, exit with the starting process ---
ha=$work/home/agent-alpha
as_uid "$UID_A" env HOME="$ha" setsid -w bash -c \
    "'$OCT' --ssh-agent --socket '$DSOCK' --socket-dir '$ha' >'$ha/eval.out' 2>'$ha/eval.err'; sleep 3"
daemon_pid=$(sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p' "$ha/eval.out")
agent_pids="$agent_pids $daemon_pid"
sock=$(sed -n 's/^SSH_AUTH_SOCK=\([^;]*\);.*/\1/p' "$ha/eval.out")
# the session's leader (that bash) has exited now: the agent must follow within ~1 s
if [ -n "$daemon_pid" ] && wait_for 5 sh -c "! kill -0 $daemon_pid 2>/dev/null" && [ ! -e "$sock" ]; then
    tap_ok "daemon mode: the agent exits once the session it was started in ends, socket removed"
else
    tap_fail "daemon mode: the agent exits with its starting process" "$(cat "$ha/eval.out" "$ha/eval.err")"
fi
eval "$(as_uid "$UID_A" env HOME="$work/home/agent-alpha" "$OCT" --ssh-agent --socket "$DSOCK" \
    --socket-dir "$work/home/agent-alpha" 2>"$work/eval.err")" >/dev/null
agent_pids="$agent_pids ${SSH_AGENT_PID:-}"
out=$(ssh_login "$UID_A" "${SSH_AUTH_SOCK:-/nonexistent}" agent-alpha 2>"$work/ssh.err")
if [ "$out" = "$UID_A" ]; then
    tap_ok "daemon mode: eval \"\$(openclaw-token --ssh-agent)\"; ssh logs in with it"
else
    tap_fail "daemon mode: eval and ssh" "$out $(cat "$work/eval.err" "$work/ssh.err")"
fi
stop_pid "${SSH_AGENT_PID:-}"
unset SSH_AUTH_SOCK SSH_AGENT_PID

# A shell whose session leader is outside its PID namespace (a container
# entered with exec: getsid() gives 0) must still get a working agent from
# eval "$(openclaw-token --ssh-agent)": it is not tied to the subshell that
# started it. The namespace's pid 1 (that bash) ending kills it at the end.
ha=$work/home/agent-alpha
unshare --pid --fork setpriv --reuid="$UID_A" --regid="$UID_A" --clear-groups \
    env -i PATH=/usr/bin:/bin HOME="$ha" bash -c '
    eval "$("$1" --ssh-agent --socket "$2" --socket-dir "$3" 2>"$3/pidns.err")" >/dev/null
    sleep 2.5
    SSH_AUTH_SOCK=${SSH_AUTH_SOCK:-/nonexistent} timeout 20 ssh-add -l' _ "$OCT" "$DSOCK" "$ha" \
    >"$work/pidns.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q ECDSA "$work/pidns.out"; then
    tap_ok "daemon mode with the session leader outside the PID namespace: the agent still serves after its starter exited"
else
    tap_fail "daemon mode inside a PID namespace" "rc=$rc $(cat "$work/pidns.out" "$ha/pidns.err" 2>/dev/null)"
fi

if grep -q "aGVsbG8\|hello" "$work/main.log"; then
    tap_fail "the signed data never reaches the daemon log"
else
    tap_ok "the signed data never reaches the daemon log"
fi
helper_stop "$HELPER_PID_main"
rc=$?
HELPER_PID_main=""
[ $rc -eq 0 ] && tap_ok "openclawd: SIGTERM, clean exit (TPM objects flushed)" || tap_fail "openclawd: clean exit" "rc=$rc"
grep -q "Sanitizer\|runtime error" "$work/main.log" "$work"/agent-*.err && tap_fail "no sanitizer report" ||
    tap_ok "no sanitizer report from the daemon or the agents"
tap_done
