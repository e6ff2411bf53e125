#!/bin/bash
# ssh-two-hosts.sh: ssh by agent identity between two hosts, end to end,
# with real programs. As root, in private namespaces only:
#   - the "cloud": the local Entra tenant on the loopback of the test's
#     own network namespace;
#   - host A: that network namespace (its own mount namespace, a passwd
#     copy with the agent), a swtpm, openclawd with agent-alpha's
#     tpm-certificate credential (its TPM key's certificate registered on
#     alpha's application in the tenant), openclaw-token --ssh-agent;
#   - host B: its own network and mount namespaces (a veth pair to A,
#     10.77.0.1 <-> 10.77.0.2), its own swtpm and openclawd (a [directory]
#     sync against the tenant's Graph, and a second TPM key of
#     agent-alpha, registered on the same application, for sudo by live
#     role), the real NSS module and pam_openclaw in the multiarch lib
#     dir (overlay), the config at the compiled-in path, its own
#     /etc/pam.d, nsswitch.conf, passwd, sudoers and /run, and a real sshd:
#       AuthorizedKeysCommand /run/oc/openclaw-authorized-keys %u
#       AuthorizedKeysCommandUser nobody, AuthorizedKeysFile none,
#       AuthenticationMethods publickey on port 22, and
#       keyboard-interactive (token through openclaw-askpass) on port 2222.
#     B's openclawd keeps the outer network namespace for its HTTPS to the
#     tenant (which listens on loopback only); everything it serves is
#     Unix sockets, reached from B's side.
# Checked: `ssh agent-alpha@B id -u` through the TPM-backed ssh-agent only;
# the certificate removed at the tenant (dropped by B's periodic sync,
# sync_interval = 30, timed against the bound), the role removed (account
# phase), the service principal disabled (gone from NSS): refused after
# B's directory sync, and allowed again once restored; an unregistered key
# refused; no keys for a human; sudo on B by live role (mode=helper, B's
# own TPM key); su to the agent with its token; the token ssh login side
# by side. The host's files are compared before and after. Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
SELF=$(readlink -f "$0")
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"
. "$top_srcdir/tests/system/pam-ns.sh"

SWTPM=${SWTPM:-$(command -v swtpm 2>/dev/null || true)}
CTL="$top_builddir/helper/ctl/openclawctl"
AK="$top_builddir/helper/client/openclaw-authorized-keys"
NSSMOD="$top_builddir/nss_openclaw/.libs/libnss_openclaw.so.2"
PAMMOD=$(pam_module)
ASKPASS="$top_srcdir/helper/client/openclaw-askpass"
SSHD=${SSHD:-/usr/sbin/sshd}
RESOURCE_APP=6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d
ADMIN_APP=c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b
ADMIN_SECRET='aDm8Q~openclaw-demo-admin-secret.00000001'
A_IP=10.77.0.1
B_IP=10.77.0.2
NET=10.77.0.0/24

# ---------------- host B's namespace setup (run through nsenter) ----------------
if [ "${1:-}" = --setup-b ]; then
    set -e
    w=$work/B
    ip link set lo up
    ip addr add "$B_IP/24" dev oc2h-b
    ip link set oc2h-b up
    mount -t tmpfs -o mode=0755 oc2h-run /run
    mkdir -p /run/sshd /run/oc
    chmod 0755 /run/sshd /run/oc
    # sshd runs the command only if it and every directory above it are
    # root-owned and not group/world writable (/tmp is not): a copy in /run
    cp "$AK" /run/oc/openclaw-authorized-keys
    chmod 0755 /run/oc/openclaw-authorized-keys
    # the NSS and PAM modules in the real multiarch dir (sessions and sshd
    # load them from there only): a read-only overlay, B only
    libdir=$(readlink -f "$(dirname "$(ns_pam_dir)")")
    mkdir -p "$w/libtop/security"
    cp "$NSSMOD" "$w/libtop/libnss_openclaw.so.2"
    cp "$PAMMOD" "$w/libtop/security/pam_openclaw.so"
    chmod 0644 "$w/libtop/libnss_openclaw.so.2" "$w/libtop/security/pam_openclaw.so"
    mount -t overlay oc2h-lib -o "lowerdir=$w/libtop:$libdir" "$libdir"
    # the config where every part looks by default (compiled-in path)
    anc=$CONFDIR
    while [ ! -d "$anc" ]; do anc=$(dirname "$anc"); done
    rel=${CONFDIR#"$anc"}
    mkdir -p "$w/etctop$rel"
    cp "$w/openclaw.conf" "$w/etctop$rel/openclaw.conf"
    chmod 0644 "$w/etctop$rel/openclaw.conf"
    mount -t overlay oc2h-etc -o "lowerdir=$w/etctop:$anc" "$anc"
    sed -e 's/^passwd:.*/passwd: files openclaw/' -e 's/^group:.*/group: files openclaw/' \
        /etc/nsswitch.conf >"$w/nsswitch.conf"
    mount --bind "$w/nsswitch.conf" /etc/nsswitch.conf
    # a human local user; the agent comes from the NSS module only
    cp /etc/passwd "$w/passwd"
    cp /etc/group "$w/group"
    printf 'human:x:%s:%s:a human:/tmp:/bin/sh\n' "$UID_H" "$UID_H" >>"$w/passwd"
    printf 'human:x:%s:\n' "$UID_H" >>"$w/group"
    mount --bind "$w/passwd" /etc/passwd
    mount --bind "$w/group" /etc/group
    cp -a /etc/pam.d "$w/pam.d"
    sed "s|pam_openclaw.so|pam_openclaw.so config=$CONFDIR/openclaw.conf|" \
        "$top_srcdir/data/pam.d/sshd" >"$w/pam.d/sshd"
    sed "s|pam_openclaw.so|pam_openclaw.so config=$CONFDIR/openclaw.conf|" \
        "$top_srcdir/data/pam.d/su" >"$w/pam.d/su"
    sed "s|pam_openclaw.so|pam_openclaw.so config=$CONFDIR/openclaw.conf mode=helper helper_max_age=0|" \
        "$top_srcdir/data/pam.d/sudo" >"$w/pam.d/sudo"
    mount --bind "$w/pam.d" /etc/pam.d
    printf 'Defaults !lecture, !fqdn, passwd_tries=1, !syslog\nagent-alpha ALL=(ALL:ALL) ALL\n' >"$w/sudoers"
    chmod 0440 "$w/sudoers"
    mount --bind "$w/sudoers" /etc/sudoers
    printf 'Debug sudoers.so %s/sudoers.debug pam@debug,auth@debug\n' "$w" >"$w/sudo.conf"
    [ -f /etc/sudo.conf ] && mount --bind "$w/sudo.conf" /etc/sudo.conf
    exit 0
fi

# ---------------- on the real host: checks only ----------------
if [ "${1:-}" != --inner ]; then
    [ "$(id -u)" = 0 ] || tap_skip_all "needs root (network and mount namespaces, sshd, sudo, su)"
    for t in unshare nsenter setpriv ip ssh ssh-add ssh-agent ssh-keygen sudo su setsid openssl curl timeout; do
        command -v "$t" >/dev/null 2>&1 || tap_skip_all "$t missing (scripts/install-deps.sh)"
    done
    [ -x "$SSHD" ] || tap_skip_all "sshd missing (openssh-server)"
    [ -n "$SWTPM" ] && [ -x "$SWTPM" ] || tap_skip_all "swtpm not installed"
    for f in "$OCD" "$OCT" "$CTL" "$AK"; do
        [ -x "$f" ] || tap_skip_all "$(basename "$f") not built"
    done
    [ -f "$NSSMOD" ] && [ -f "$PAMMOD" ] || tap_skip_all "the NSS or PAM module is not built"
    if [ -n "$(pam_sanitizer_preload)" ] || readelf --dyn-syms -W "$NSSMOD" 2>/dev/null | grep -q __asan_; then
        tap_skip_all "sanitizer build: sshd, sudo and su cannot load ASan-instrumented modules"
    fi
    "$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
    ns_pam_dir >/dev/null || tap_skip_all "cannot find the PAM module directory"
    getent passwd nobody >/dev/null && getent group nogroup >/dev/null || tap_skip_all "no nobody/nogroup"
    unshare --mount --propagation private --net true 2>/dev/null ||
        tap_skip_all "unshare --mount --net not permitted here"
    grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
    grep -qw overlay /proc/filesystems || tap_skip_all "no overlay filesystem (B's module dir)"
    confpath=$(strings -a "$NSSMOD" | grep -m1 '^/.*/openclaw/openclaw\.conf$')
    [ -n "$confpath" ] || tap_skip_all "cannot find the config path compiled into the NSS module"
    # every host file or directory the namespaces shadow, to compare afterwards
    host_state() {
        ns_host_fingerprint
        ls -la --time-style=full-iso "$(dirname "$(ns_pam_dir)")/libnss_openclaw.so.2" 2>&1
        sha256sum /etc/nsswitch.conf /etc/sudo.conf 2>&1
        ls -la --time-style=full-iso "$(dirname "$confpath")" 2>&1
    }
    out=$(mktemp -d /tmp/oc-2h-out.XXXXXX)
    host_state >"$out/host.before"
    CONFDIR=$(dirname "$confpath") OUTDIR=$out timeout 200 \
        unshare --mount --propagation private --net bash "$SELF" --inner
    rc=$?
    if [ -s "$out/skip" ]; then
        why=$(cat "$out/skip")
        rm -rf "$out"
        tap_skip_all "$why"
    fi
    cat "$out/tap" 2>/dev/null
    if grep -q '^not ok ' "$out/tap" 2>/dev/null || [ "$rc" -ne 0 ]; then
        sed 's/^/# stderr: /' "$out/err" 2>/dev/null | tail -n 30
    fi
    # go on numbering after the inner results (tap_n and tap_failed of tap.sh)
    # shellcheck disable=SC2034
    tap_n=$(grep -c '^\(not \)\?ok ' "$out/tap" 2>/dev/null)
    tap_failed=$(grep -c '^not ok ' "$out/tap" 2>/dev/null)
    [ "$rc" -eq 0 ] || [ "$tap_failed" -gt 0 ] || tap_fail "the namespace part ended early (exit $rc)"
    host_state >"$out/host.after"
    if cmp -s "$out/host.before" "$out/host.after"; then
        tap_ok "host PAM and lib dirs, config dir, /etc/passwd, group, pam.d, sudoers, nsswitch.conf unchanged"
    else
        tap_fail "host files unchanged" "$(diff "$out/host.before" "$out/host.after")"
    fi
    rm -rf "$out"
    tap_done
    exit $?
fi

# ---------------- inside: the cloud and host A ----------------
exec >"$OUTDIR/tap" 2>"$OUTDIR/err"
TSS2_LOG=${TSS2_LOG:-all+none}
export TSS2_LOG
UID_H=61234
work=$(mktemp -d /tmp/oc-2h.XXXXXX)
chmod 0755 "$work"
uid_copies "$work/bin" # what runs under other uids: copies, never the tree
mkdir -p "$work/A/state" "$work/A/run" "$work/B/state/jwks" "$work/B/run"
chmod 0755 "$work/A" "$work/B"
mkdir -m 0700 "$work/B/tally"
export work UID_H CONFDIR B_IP AK NSSMOD PAMMOD top_srcdir
HELPER_PID_A=""
HELPER_PID_B=""
B_PID=""
sshd_pid=""
other_pids=""
skip() {
    printf '%s\n' "$1" >"$OUTDIR/skip"
    exit 0
}
stop_pid() {
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null
}
cleanup() {
    for p in $other_pids; do
        stop_pid "$p"
    done
    stop_pid "$sshd_pid"
    [ -f "$work/B/sshd.pid" ] && stop_pid "$(cat "$work/B/sshd.pid")"
    helper_stop "$HELPER_PID_A"
    helper_stop "$HELPER_PID_B"
    for t in A B; do
        [ -f "$work/tpm$t/pid" ] && stop_pid "$(cat "$work/tpm$t/pid")"
    done
    stop_pid "$B_PID"
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT
t_start=$(date +%s)
ip link set lo up

# B's namespaces: a holder process; everything of B enters them by nsenter
# (creating a network namespace can take seconds on a busy kernel)
unshare --mount --propagation private --net sleep 600 2>"$work/unshare.err" &
B_PID=$!
own_net=$(readlink /proc/self/ns/net)
b_ready() { [ "$(readlink "/proc/$B_PID/ns/net" 2>/dev/null)" != "$own_net" ]; }
if ! wait_for 30 b_ready; then
    kill -0 "$B_PID" 2>/dev/null || skip "cannot create host B's namespaces: $(cat "$work/unshare.err")"
    tap_fail "host B's namespaces are created within 30 s"
    exit 1
fi
inB() { nsenter -t "$B_PID" --mount --net "$@"; }
ip link add oc2h-a type veth peer name oc2h-b 2>/dev/null || skip "no veth pairs here (kernel module veth)"
ip link set oc2h-b netns "$B_PID" || skip "cannot move a veth end into B's namespace"
ip addr add "$A_IP/24" dev oc2h-a && ip link set oc2h-a up

tenant_start "$work/tenant" || {
    tap_fail "the local tenant starts"
    exit 1
}

# one swtpm per host, each with one ECC key of agent-alpha and its certificate
start_tpm() {
    local d=$work/tpm$1
    mkdir -p "$d"
    "$SWTPM" socket --tpm2 --tpmstate dir="$d" \
        --server type=unixio,path="$d/sock" --ctrl type=unixio,path="$d/sock.ctrl" \
        --flags not-need-init,startup-clear --pid file="$d/pid" --daemon >"$d/log" 2>&1 &&
        wait_for 5 test -s "$d/pid" && wait_for 5 test -S "$d/sock" &&
        "$CTL" tpm keygen --alg ecc --out "$work/$1/alpha.key" --tcti "swtpm:path=$d/sock" >/dev/null 2>>"$d/log" &&
        "$CTL" tpm cert --key "$work/$1/alpha.key" --subject "agent-alpha@host-$1" --out "$work/$1/alpha.pem" \
            --tcti "swtpm:path=$d/sock" >/dev/null 2>>"$d/log"
}
for h in A B; do
    if ! start_tpm $h; then
        tap_fail "host $h: swtpm, TPM key and certificate" "$(cat "$work/tpm$h/log")"
        exit 1
    fi
    openssl x509 -in "$work/$h/alpha.pem" -pubkey -noout >"$work/$h/alpha.pub.pem"
    ssh-keygen -i -m PKCS8 -f "$work/$h/alpha.pub.pem" >"$work/$h/alpha.ssh.pub"
done
# register both certificates on agent-alpha's application
reg_cert() { # HOST: prints the keyId
    tenant_ctl POST key-credentials \
        "{\"appId\":\"$ALPHA_APP\",\"certificate\":\"$(sed '/-----/d' "$work/$1/alpha.pem" | tr -d '\n')\"}" |
        json_get keyId
}
KEYID_A=$(reg_cert A)
KEYID_B=$(reg_cert B)
if [ -n "$KEYID_A" ] && [ -n "$KEYID_B" ]; then
    tap_ok "two swtpm hosts; agent-alpha's TPM certificates of A and B registered on its application"
else
    tap_fail "certificates registered in the tenant" "$KEYID_A $KEYID_B"
    exit 1
fi
printf '%s\n' "$ADMIN_SECRET" >"$work/B/admin.secret"
chmod 0600 "$work/B/admin.secret"

common_conf() { # HOST [EXTRA GLOBAL LINES]
    cat <<CONF
[global]
${2:-}
tenant_id = $TENANT_ID
authority = $TENANT_URL
issuer_v2 = https://login.microsoftonline.com/{tenantid}/v2.0
audiences = $RESOURCE_URI
state_dir = $work/$1/state
runtime_dir = $work/$1/run
socket = $work/$1/run/openclawd.sock
tcti = swtpm:path=$work/tpm$1/sock
ca_file = $TENANT_CA
allow_insecure_credentials = yes

[agent agent-alpha]
app_id = $ALPHA_APP
object_id = $ALPHA_OID
credential = tpm-certificate
key_file = $work/$1/alpha.key
cert_file = $work/$1/alpha.pem
CONF
}
common_conf A >"$work/A/openclaw.conf"
{
    common_conf B "trust_dir = $work/B/trust
tally_dir = $work/B/tally"
    cat <<CONF

[service sshd]
require_role = Host.Login
allow_networks = $NET

[service su]
require_role = Host.Login

[service sudo]
require_role = Host.Sudo

[directory]
resource = $RESOURCE_APP
graph_url = $TENANT_URL
graph_resource = https://graph.microsoft.com
sync_interval = 30
credential = secret-file
app_id = $ADMIN_APP
secret_file = $work/B/admin.secret
CONF
} >"$work/B/openclaw.conf"
chmod 0644 "$work/A/openclaw.conf" "$work/B/openclaw.conf"

# --- host B ---
if ! inB bash "$SELF" --setup-b >"$work/B/setup.log" 2>&1; then
    tap_fail "host B: namespace setup (overlay, bind mounts, veth)" "$(cat "$work/B/setup.log")"
    exit 1
fi
wrapper=$OCD_WRAPPER
OCD_WRAPPER="nsenter -t $B_PID --mount $wrapper"
helper_start B "$work/B/openclaw.conf"
OCD_WRAPPER=$wrapper
D=$work/B/trust/directory.json
BSOCK=$work/B/run/openclawd.sock
# B's directory sync now: root's openclaw-sync in B (what its timer does
# every sync_interval); prints true when it finished
rebuild() {
    nsenter -t "$B_PID" --mount "$top_builddir/helper/sync/openclaw-sync" --config "$work/B/openclaw.conf" \
        --force >>"$work/B/sync.log" 2>&1 && echo true
}
if [ -n "$HELPER_PID_B" ] && [ "$(rebuild)" = true ] && test -s "$D" && test -s "$work/B/trust/jwks/keys.json"; then
    tap_ok "host B: openclaw-sync (root) synced the directory from Graph and wrote the JWKS"
else
    tap_fail "host B: openclaw-sync synced the directory" "$(cat "$work/B.log" "$work/B/sync.log")"
    exit 1
fi
# openclaw-sync.timer on B, as the test runs it: a run every 5 s (the
# unit's is a minute) that syncs when directory.json is sync_interval old;
# bounded (20 min), stopped by PID at the end
(
    for _ in $(seq 1 240); do
        nsenter -t "$B_PID" --mount "$top_builddir/helper/sync/openclaw-sync" \
            --config "$work/B/openclaw.conf" >>"$work/B/sync.log" 2>&1
        sleep 5
    done
) &
other_pids="$other_pids $!"
ALPHA_UID=$("$PY" -c '
import json, sys
for a in json.load(open(sys.argv[1]))["agents"]:
    if a["app_id"] == sys.argv[2]:
        print(a["uid"])' "$D" "$ALPHA_APP")
getent_b=$(inB getent passwd agent-alpha)
if [ -n "$ALPHA_UID" ] && [ "$(echo "$getent_b" | cut -d: -f3)" = "$ALPHA_UID" ]; then
    tap_ok "host B: agent-alpha resolves through libnss_openclaw (uid $ALPHA_UID)"
else
    tap_fail "host B: agent-alpha through NSS" "uid=$ALPHA_UID getent=$getent_b"
fi

# the command as sshd runs it (user nobody, default config path)
ak() { # USER: prints the command's output, then "rc=N"
    inB setpriv --reuid=nobody --regid=nogroup --clear-groups /run/oc/openclaw-authorized-keys "$1" 2>>"$work/ak.err"
    echo "rc=$?"
}
keyA=$(cut -d' ' -f1,2 "$work/A/alpha.ssh.pub")
keyB=$(cut -d' ' -f1,2 "$work/B/alpha.ssh.pub")
out=$(ak agent-alpha)
if echo "$out" | grep -qxF "from=\"$NET\" $keyA openclaw:agent-alpha:$KEYID_A" &&
    echo "$out" | grep -qxF "from=\"$NET\" $keyB openclaw:agent-alpha:$KEYID_B" &&
    [ "$(echo "$out" | grep -c .)" = 3 ] && echo "$out" | grep -qx "rc=0"; then
    tap_ok "openclaw-authorized-keys agent-alpha (as nobody): the two registered TPM keys, from=\"$NET\""
else
    tap_fail "openclaw-authorized-keys agent-alpha" "$out $(cat "$work/ak.err")"
fi
out=$(ak human)
if [ "$out" = "rc=0" ]; then
    tap_ok "openclaw-authorized-keys human: no output, exit status 0 (a local user gets no keys)"
else
    tap_fail "openclaw-authorized-keys human: nothing, exit 0" "$out"
fi

ssh-keygen -q -t ed25519 -N '' -f "$work/B/hostkey" || exit 1
cat >"$work/B/sshd_config" <<EOF
ListenAddress $B_IP:22
ListenAddress $B_IP:2222
HostKey $work/B/hostkey
PidFile $work/B/sshd.pid
UsePAM yes
PermitRootLogin no
PasswordAuthentication no
HostbasedAuthentication no
PubkeyAuthentication yes
KbdInteractiveAuthentication yes
AuthorizedKeysFile none
AuthorizedKeysCommand /run/oc/openclaw-authorized-keys %u
AuthorizedKeysCommandUser nobody
AuthenticationMethods publickey
PrintMotd no
LogLevel VERBOSE
Match LocalPort 2222
    PubkeyAuthentication no
    AuthenticationMethods keyboard-interactive
EOF
inB "$SSHD" -t -f "$work/B/sshd_config" >"$work/B/sshd.log" 2>&1 || {
    tap_fail "host B: sshd -t accepts the configuration" "$(cat "$work/B/sshd.log")"
    exit 1
}
# nsenter itself, not the inB function: $! must be sshd's own PID (nsenter
# execs it), not a subshell's, or cleanup would leave sshd running
nsenter -t "$B_PID" --mount --net "$SSHD" -D -e -f "$work/B/sshd_config" 2>"$work/B/sshd.log" &
sshd_pid=$!
if wait_for 10 bash -c "exec 3<>/dev/tcp/$B_IP/22" 2>/dev/null; then
    tap_ok "host B: sshd listens on $B_IP:22 (publickey) and :2222 (keyboard-interactive), reached from A over the veth"
else
    tap_fail "host B: sshd reachable from A" "$(cat "$work/B/sshd.log")"
    exit 1
fi

# --- host A ---
cp /etc/passwd "$work/A/passwd"
mkdir -p "$work/A/home"
install -d -o "$ALPHA_UID" -g "$ALPHA_UID" -m 0700 "$work/A/home/agent-alpha"
printf 'agent-alpha:x:%s:%s:openclaw agent:%s:/bin/sh\n' "$ALPHA_UID" "$ALPHA_UID" \
    "$work/A/home/agent-alpha" >>"$work/A/passwd"
mount --bind "$work/A/passwd" /etc/passwd || skip "cannot bind-mount a passwd copy on host A"
if ! helper_start A "$work/A/openclaw.conf"; then
    tap_fail "host A: openclawd starts" "$(cat "$work/A.log")"
    exit 1
fi
ASOCK=$work/A/run/openclawd.sock
HA=$work/A/home/agent-alpha
# as_agent CMD...: as agent-alpha on host A, a clean environment
as_agent() {
    as_uid "$ALPHA_UID" env -i PATH="$(dirname "$OCT"):/usr/bin:/bin" HOME="$HA" \
        OPENCLAW_SOCKET="$ASOCK" ${AGENT_ENV:-} timeout 60 "$@"
}
setpriv --reuid="$ALPHA_UID" --regid="$ALPHA_UID" --clear-groups env HOME="$HA" \
    "$OCT" --ssh-agent --foreground --socket "$ASOCK" --socket-dir "$HA" \
    >"$work/A/agent.out" 2>"$work/A/agent.err" &
other_pids="$other_pids $!"
wait_for 5 grep -q '^SSH_AUTH_SOCK=' "$work/A/agent.out"
AGENT_SOCK=$(sed -n 's/^SSH_AUTH_SOCK=\([^;]*\);.*/\1/p' "$work/A/agent.out")
listed=$(AGENT_ENV="SSH_AUTH_SOCK=$AGENT_SOCK" as_agent ssh-add -L 2>&1)
if [ "$(echo "$listed" | grep -c .)" = 1 ] && [ "$(echo "$listed" | cut -d' ' -f1,2)" = "$keyA" ]; then
    tap_ok "host A: openclaw-token --ssh-agent offers exactly A's TPM key"
else
    tap_fail "host A: the ssh-agent offers A's TPM key" "$listed $(cat "$work/A/agent.err")"
fi

# ssh_b SOCK USER CMD [OPTS...]: publickey login from A to B (port 22)
ssh_b() {
    local sock=$1 user=$2 cmd=$3
    shift 3
    out=$(AGENT_ENV="SSH_AUTH_SOCK=$sock" as_agent ssh -F /dev/null -o BatchMode=yes \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20 \
        -o LogLevel=ERROR -o PreferredAuthentications=publickey "$@" "$user@$B_IP" "$cmd" \
        2>"$work/ssh.err")
    rc=$?
}
login_ok() { # DESC
    ssh_b "$AGENT_SOCK" agent-alpha 'id -u'
    if [ "$rc" -eq 0 ] && [ "$out" = "$ALPHA_UID" ]; then
        tap_ok "$1"
    else
        tap_fail "$1" "rc=$rc out=$out $(cat "$work/ssh.err"; tail -n 8 "$work/B/sshd.log")"
    fi
}
login_refused() { # DESC [SSHD-LOG-PATTERN]: refused, by sshd's log when given
    local mark
    mark=$(wc -l <"$work/B/sshd.log")
    ssh_b "$AGENT_SOCK" agent-alpha 'id -u'
    if [ "$rc" -ne 0 ] && [ -z "$out" ] &&
        if [ -n "${2:-}" ]; then
            tail -n +"$((mark + 1))" "$work/B/sshd.log" | grep -q -- "$2"
        else
            grep -q "Permission denied" "$work/ssh.err"
        fi; then
        tap_ok "$1"
    else
        tap_fail "$1" "rc=$rc out=$out $(cat "$work/ssh.err"; tail -n +"$((mark + 1))" "$work/B/sshd.log" | tail -n 8)"
    fi
}
fpA=$(ssh-keygen -l -f "$work/A/alpha.ssh.pub" | cut -d' ' -f2)
login_ok "ssh agent-alpha@B id -u = $ALPHA_UID from host A through the TPM-backed agent only (no key file, no authorized_keys)"
if grep -q "Accepted publickey for agent-alpha from $A_IP port [0-9]* ssh2: ECDSA $fpA" "$work/B/sshd.log" &&
    grep -q "audit: ssh signature by agent agent-alpha .*key $fpA, ecdsa-sha2-nistp256, .* in the TPM" "$work/A.log"; then
    tap_ok "B's sshd accepted A's TPM key ($fpA) from $A_IP; A's openclawd audited the TPM signature"
else
    tap_fail "sshd accepted A's TPM key; A audited the signature" "$(grep -i "publickey\|Accepted" "$work/B/sshd.log" | tail -n 5; grep audit "$work/A.log")"
fi

# --- a key not registered on the application, and a human's name ---
ssh-keygen -q -t ecdsa -N '' -f "$work/A/stray" -C stray-key
chown "$ALPHA_UID" "$work/A/stray" "$work/A/stray.pub"
STRAY_SOCK=$HA/stray.sock
setpriv --reuid="$ALPHA_UID" --regid="$ALPHA_UID" --clear-groups env HOME="$HA" \
    ssh-agent -D -a "$STRAY_SOCK" >/dev/null 2>&1 &
other_pids="$other_pids $!"
wait_for 5 test -S "$STRAY_SOCK"
AGENT_ENV="SSH_AUTH_SOCK=$STRAY_SOCK" as_agent ssh-add "$work/A/stray" >/dev/null 2>&1
mark=$(wc -l <"$work/B/sshd.log")
ssh_b "$STRAY_SOCK" agent-alpha 'id -u'
if [ "$rc" -ne 0 ] && [ -z "$out" ] && grep -q "Permission denied" "$work/ssh.err" &&
    AGENT_ENV="SSH_AUTH_SOCK=$STRAY_SOCK" as_agent ssh-add -l | grep -q stray-key; then
    tap_ok "a fresh key in a plain ssh-agent (not registered in Entra) is refused"
else
    tap_fail "an unregistered key is refused" "rc=$rc out=$out $(cat "$work/ssh.err")"
fi
ssh_b "$AGENT_SOCK" human 'id -u'
if [ "$rc" -ne 0 ] && [ -z "$out" ]; then
    tap_ok "the agent's key never logs in as the local user human"
else
    tap_fail "the agent's key never logs in as human" "rc=$rc out=$out"
fi

# --- sudo on B by live role, in the ssh session ---
assign() { # add|remove ROLE
    local p=assignments
    [ "$1" = remove ] && p=assignments/remove
    tenant_ctl POST "$p" \
        "{\"principalAppId\":\"$ALPHA_APP\",\"resourceAppId\":\"$RESOURCE_APP\",\"appRole\":\"$2\"}" >/dev/null
}
SUDO='sudo -S -k -p "" id -u </dev/null'
ssh_b "$AGENT_SOCK" agent-alpha "$SUDO"
if [ "$rc" -ne 0 ] && [ "$out" != 0 ]; then
    tap_ok "sudo on B (pam_openclaw mode=helper) without Host.Sudo: refused"
else
    tap_fail "sudo on B without Host.Sudo: refused" "rc=$rc out=$out $(cat "$work/ssh.err")"
fi
assign add Host.Sudo
ssh_b "$AGENT_SOCK" agent-alpha "$SUDO"
if [ "$rc" -eq 0 ] && [ "$out" = 0 ]; then
    tap_ok "Host.Sudo assigned in Entra: sudo id -u = 0 on B, nothing typed (B's openclawd fetched a live token)"
else
    tap_fail "sudo on B with Host.Sudo: id -u = 0" "rc=$rc out=$out $(cat "$work/ssh.err"; tail -n 10 "$work/B/sudoers.debug" 2>/dev/null; tail -n 5 "$work/B.log")"
fi
# B's openclawd holds only B's TPM key for the agent: the tenant accepted
# B's client assertion for the same application
if grep -q "audit: root (pid [0-9]*) requested the token of agent agent-alpha" "$work/B.log" &&
    ! grep -q "requested the token" "$work/A.log"; then
    tap_ok "sudo's token was fetched by B's openclawd (B's own TPM key, same application), audited there"
else
    tap_fail "sudo's token from B's openclawd" "$(grep -i "token\|tpm" "$work/B.log" | tail -n 8)"
fi
assign remove Host.Sudo
ssh_b "$AGENT_SOCK" agent-alpha "$SUDO"
if [ "$rc" -ne 0 ] && [ "$out" != 0 ]; then
    tap_ok "Host.Sudo removed in Entra: sudo refused again at once (no sync needed)"
else
    tap_fail "Host.Sudo removed: sudo refused" "rc=$rc out=$out"
fi

# --- revocation at the tenant, effective at B's next directory sync ---
GT=$(tenant_token "$ADMIN_APP" "$ADMIN_SECRET" "https://graph.microsoft.com/.default")
graph() { # METHOD PATH [JSON]
    curl -sS --cacert "$TENANT_CA" -X "$1" -H "Authorization: Bearer $GT" \
        -H 'Content-Type: application/json' ${3:+--data "$3"} "$TENANT_URL/v1.0$2"
}
APP_OBJ=$(graph GET "/applications(appId='$ALPHA_APP')?\$select=id" | json_get id)
# 1. A's certificate removed from the application (Graph PATCH keyCredentials)
# (no sync request here: B's timer runs of openclaw-sync, sync_interval =
# 30, must take the key away within 30 s + the timer's period (5 s here) +
# the duration of a sync, perhaps one already running with the old data:
# at most 45 s here)
graph PATCH "/applications/$APP_OBJ" "{\"keyCredentials\":[{\"keyId\":\"$KEYID_B\"}]}" >/dev/null
t0=$(date +%s)
keyA_gone() { ! ak agent-alpha | grep -qF -- "$keyA"; }
wait_for 60 keyA_gone
t1=$(date +%s)
out_ak=$(ak agent-alpha)
if ! echo "$out_ak" | grep -qF -- "$keyA" && echo "$out_ak" | grep -qF -- "$keyB" && [ $((t1 - t0)) -le 45 ]; then
    tap_ok "certificate removed in Entra: B's periodic sync (sync_interval = 30) dropped A's key after $((t1 - t0)) s; B's key still listed"
else
    tap_fail "certificate removed: B's periodic sync drops A's key within the interval" "$((t1 - t0)) s: $out_ak"
fi
login_refused "certificate removed: ssh agent-alpha@B refused"
t2=$(date +%s.%N)
graph PATCH "/applications/$APP_OBJ" "{\"keyCredentials\":[]}" >/dev/null
r=$(rebuild)
login_refused "no certificate left on the application: refused right after openclaw-sync --force (openclawctl cache sync)"
t3=$(date +%s.%N)
echo "# revocation: periodic sync $((t1 - t0)) s; after openclaw-sync --force $(awk "BEGIN { printf \"%.2f\", $t3 - $t2 }") s to a refused login (answer $r)"
for h in A B; do
    kid=
    eval "kid=\$KEYID_$h"
    tenant_ctl POST key-credentials \
        "{\"appId\":\"$ALPHA_APP\",\"keyId\":\"$kid\",\"certificate\":\"$(sed '/-----/d' "$work/$h/alpha.pem" | tr -d '\n')\"}" >/dev/null
done
rebuild >/dev/null
login_ok "certificates registered again: ssh works after the next sync"

# 2. the role: Host.Sudo only (keys still offered), then no assignment at all
assign add Host.Sudo
assign remove Host.Login
rebuild >/dev/null
out_ak=$(ak agent-alpha)
if [ "$(echo "$out_ak" | grep -c openclaw:agent-alpha)" = 2 ]; then
    tap_ok "Host.Login removed, Host.Sudo kept: after B's sync the keys are still offered"
else
    tap_fail "Host.Sudo only: the keys are still offered" "$out_ak"
fi
login_refused "Host.Login removed (Host.Sudo kept): key accepted, refused by pam_openclaw's account phase" \
    "by PAM account configuration"
assign remove Host.Sudo
rebuild >/dev/null
out_ak=$(ak agent-alpha)
if [ "$out_ak" = "rc=0" ]; then
    login_refused "no role assignment at all: no key offered, refused"
else
    tap_fail "no role assignment: no key offered" "$out_ak"
fi
assign add Host.Login
rebuild >/dev/null
login_ok "Host.Login assigned again: ssh works after the next sync"

# 3. the service principal disabled (Graph PATCH accountEnabled)
graph PATCH "/servicePrincipals/$ALPHA_OID" '{"accountEnabled":false}' >/dev/null
rebuild >/dev/null
if ! inB getent passwd agent-alpha >/dev/null && [ "$(ak agent-alpha)" = "rc=0" ]; then
    tap_ok "service principal disabled: after B's sync agent-alpha is gone from NSS on B, no keys"
else
    tap_fail "service principal disabled: account gone on B" "$(inB getent passwd agent-alpha; ak agent-alpha)"
fi
login_refused "service principal disabled: ssh agent-alpha@B refused"
graph PATCH "/servicePrincipals/$ALPHA_OID" '{"accountEnabled":true}' >/dev/null
rebuild >/dev/null
login_ok "service principal enabled again: ssh works after the next sync"

# --- su to the agent on B with its token (fetched on A, TPM assertion) ---
AGENT_ENV='' as_agent "$OCT" --scope "$RESOURCE_URI/.default" >"$work/alpha.tok" 2>"$work/tok.err"
chmod 0644 "$work/alpha.tok"
su_b() { # TOKENFILE
    out=$(inB timeout 60 setpriv --reuid=nobody --regid=nogroup --clear-groups \
        su agent-alpha -c 'id -u' <"$1" 2>"$work/su.err")
    rc=$?
}
su_b "$work/alpha.tok"
if [ "$rc" -eq 0 ] && [ "$out" = "$ALPHA_UID" ]; then
    tap_ok "su agent-alpha on B (run by nobody), the token from A's openclawd typed as the answer: uid $ALPHA_UID"
else
    tap_fail "su agent-alpha on B with the agent's token" "rc=$rc out=$out $(cat "$work/su.err" "$work/tok.err")"
fi
printf 'eyJ.not.a-token\n' >"$work/bad.tok"
su_b "$work/bad.tok"
if [ "$rc" -ne 0 ] && [ -z "$out" ]; then
    tap_ok "su agent-alpha on B with a wrong answer: refused"
else
    tap_fail "su with a wrong answer refused" "rc=$rc out=$out"
fi

# --- the token ssh login, side by side (port 2222, openclaw-askpass) ---
# ssh_token PORT: the stock client, keyboard-interactive only, no ssh-agent;
# openclaw-askpass gets each chunk of the agent's token from A's openclawd
ssh_token() {
    out=$(AGENT_ENV="SSH_ASKPASS=$ASKPASS SSH_ASKPASS_REQUIRE=force DISPLAY=none OPENCLAW_TOKEN_SCOPE=$RESOURCE_URI/.default OPENCLAW_CONFIG=$work/A/openclaw.conf" \
        as_agent setsid -w ssh -F /dev/null -p "$1" -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=20 \
        -o PreferredAuthentications=keyboard-interactive -o NumberOfPasswordPrompts=1 \
        agent-alpha@"$B_IP" 'id -u' </dev/null 2>"$work/ssh.err")
    rc=$?
}
ssh_token 2222
if [ "$rc" -eq 0 ] && [ "$out" = "$ALPHA_UID" ]; then
    tap_ok "token login on port 2222 (stock ssh + openclaw-askpass, token from A's openclawd): id -u = $ALPHA_UID"
else
    tap_fail "token login through openclaw-askpass on port 2222" "rc=$rc out=$out $(cat "$work/ssh.err"; tail -n 8 "$work/B/sshd.log")"
fi
ssh_b "$AGENT_SOCK" agent-alpha 'id -u' -p 2222
if [ "$rc" -ne 0 ] && [ -z "$out" ]; then
    tap_ok "port 2222 (AuthenticationMethods keyboard-interactive): the ssh key is not accepted there"
else
    tap_fail "port 2222 refuses publickey" "rc=$rc out=$out"
fi
ssh_token 22
if [ "$rc" -ne 0 ] && [ -z "$out" ]; then
    tap_ok "port 22 (AuthenticationMethods publickey): the same token over keyboard-interactive is not accepted"
else
    tap_fail "port 22 refuses keyboard-interactive" "rc=$rc out=$out"
fi

# --- hygiene ---
if grep -qE 'eyJ[A-Za-z0-9_-]{20}' "$work/A.log" "$work/B.log" "$work/B/sshd.log"; then
    tap_fail "no token in the daemons' or sshd's logs"
else
    tap_ok "no token in the daemons' or sshd's logs"
fi
for h in A B; do
    hpid=
    eval "hpid=\$HELPER_PID_$h"
    helper_stop "$hpid"
    rc=$?
    eval "HELPER_PID_$h="
    [ "$rc" -eq 0 ] && tap_ok "host $h: openclawd exits 0 on SIGTERM" ||
        tap_fail "host $h: openclawd exits 0 on SIGTERM" "rc=$rc $(tail -n 5 "$work/$h.log")"
done
echo "# namespace part: $(($(date +%s) - t_start)) s"
exit 0
