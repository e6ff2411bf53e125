#!/bin/bash
# The demo: install, build, and run the whole openclaw story for real on
# the embedded default (the local test tenant over HTTPS, and swtpm as the
# host's TPM):
#   1. an agent enrolls itself: a TPM key, its certificate, a new Entra
#      application + service principal registered through Graph;
#   2. the admin assigns it Host.Login in the tenant; openclawd starts,
#      syncs the directory and gets the agent's token;
#   3. getent / id resolve the agent's account (libnss_openclaw);
#   4. the agent logs in over ssh to sshd: with its TPM key (ssh-agent +
#      AuthorizedKeysCommand), and with its token (keyboard-interactive +
#      openclaw-askpass); in the session: openclaw-token and the unmodified
#      Azure SDK against openclawd's managed-identity endpoint;
#   5. sudo follows the Host.Sudo role granted and removed in the tenant;
#   6. five tampered tokens lock nobody; five of the agent's own signed
#      tokens for another resource lock it; openclawctl audit shows the events.
#
# Steps 1-6 run inside private mount and network namespaces (unshare): the
# built tree is installed into a staging directory that the namespace lays
# over /usr, /etc and /var, so every command is the one an admin types on a
# real host, and nothing on the host changes (the Debian packages aside).
# Prints each step with its real command line; stops everything it started
# (by PID); exits non-zero if any step fails.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
top_srcdir=$top
export top_srcdir

# ---------------------------------------------------------------- narration
step_no=${DEMO_STEP_NO:-0}
# narration goes to fd 3 (the terminal), so that $(...) captures only results
exec 3>&1
step() {
    step_no=$((step_no + 1))
    printf '\n\033[1m== %d. %s\033[0m\n' "$step_no" "$*" >&3
    if [ -n "${DEMO_TIMES:-}" ]; then date +%T >&3; fi
}
say() { printf '   %s\n' "$*" >&3; }
indent() { sed 's/^/     /'; }
# cmdline ARGS...: the arguments as a shell would read them back
cmdline() {
    local a out=""
    for a in "$@"; do
        case $a in
        *[!A-Za-z0-9_./:=@%+,-]* | '') a="'${a//\'/\'\\\'\'}'" ;;
        esac
        out="$out${out:+ }$a"
    done
    printf '%s' "$out"
}
# run CMD...: print the command line, run it, indent its output
run() {
    printf '   # %s\n' "$(cmdline "$@")" >&3
    "$@" 2>&1 | indent
    return "${PIPESTATUS[0]}"
}
die() {
    printf '\n\033[1mdemo: FAILED\033[0m — %s\n' "$*" >&2
    exit 1
}

# ================================================================ the host
if [ "${1:-}" != --inner ]; then
    [ "$(id -u)" = 0 ] || die "run as root on Debian 12 (it installs packages and uses namespaces)"
    build="$top/_build/demo"
    # short: sockets live here (distcheck-like deep clones must still work)
    work=$(mktemp -d /tmp/oc-demo.XXXXXX)
    chmod 0755 "$work"
    inner_pid=""
    cleanup_outer() {
        if [ -n "$inner_pid" ] && kill -0 "$inner_pid" 2>/dev/null; then
            kill -TERM "$inner_pid" 2>/dev/null
            wait "$inner_pid" 2>/dev/null || true
        fi
        rm -rf "$work"
    }
    trap cleanup_outer EXIT
    trap 'exit 130' INT TERM HUP

    step "Install the packages openclaw needs (Debian 12)"
    run "$top/scripts/install-deps.sh" || die "install-deps failed"

    step "Build (the layout of a distribution package: /usr, /etc, /var)"
    cd "$top"
    args="--prefix=/usr --sysconfdir=/etc --localstatedir=/var"
    # (autoreconf once: afterwards make's own rules regenerate what changed)
    if [ ! -x "$top/configure" ]; then
        say "# autoreconf -fi"
        autoreconf -fi >"$work/autoreconf.log" 2>&1 || { cat "$work/autoreconf.log"; die "autoreconf"; }
    fi
    # configure (from scratch) only when the build dir was configured
    # otherwise: the paths are compiled into the objects
    if [ ! -f "$build/config.status" ] ||
        [ "$(cd "$build" && ./config.status --config | tr -d "'")" != "$args" ]; then
        rm -rf "$build"
        mkdir -p "$build"
        say "# (cd $build && $top/configure $args)"
        # shellcheck disable=SC2086
        (cd "$build" && "$top/configure" -q $args) >"$work/configure.log" 2>&1 ||
            { cat "$work/configure.log"; die "configure"; }
    fi
    say "# make -C $build -j$(nproc)"
    make -C "$build" -j"$(nproc)" -s >"$work/make.log" 2>&1 || { tail -n 60 "$work/make.log"; die "make"; }
    say "built in $build"

    step "Install into a staging tree (what 'make install' puts on a host)"
    stage="$work/root"
    printf '   # make install DESTDIR=%s\n' "$stage"
    make -C "$build" -s install DESTDIR="$stage" >"$work/install.log" 2>&1 ||
        { tail -n 40 "$work/install.log"; die "make install"; }
    # the modules' directory, /lib/<multiarch>, is /usr/lib/<multiarch> on
    # usr-merged systems: stage them under the directory's real path
    for d in "$stage"/lib/*/; do
        [ -d "$d" ] || continue
        real=$(readlink -f "/lib/$(basename "$d")")
        if [ "$real" != "/lib/$(basename "$d")" ]; then
            mkdir -p "$stage$real"
            cp -a "$d". "$stage$real/"
            rm -rf "$d"
        fi
    done
    rmdir "$stage/lib" 2>/dev/null || true
    (cd "$stage" && find . \( -type f -o -type l \) ! -path './usr/share/*' | sed 's|^\.||' | sort) | indent
    [ -f "$top/tests/node/node_modules/@azure/identity/package.json" ] ||
        die "@azure/identity missing in tests/node (scripts/install-deps.sh runs npm ci there)"

    # what the namespace shadows, to check afterwards that the host is untouched
    . "$top/tests/system/pam-ns.sh"
    host_state() { # (a listing may fail: a missing directory is part of the state)
        {
            ns_host_fingerprint
            sha256sum /etc/nsswitch.conf /etc/hosts
            ls -la --time-style=full-iso /etc/openclaw /var/lib/openclaw /var/lib/openclaw-trust /run/openclaw /home \
                /usr/sbin /usr/bin /etc/sudoers.d
        } 2>&1 || true
    }
    host_state >"$work/host.before"

    step "Enter private mount and network namespaces"
    say "# unshare --mount --propagation private --net $0 --inner"
    export DEMO_WORK="$work" DEMO_STEP_NO="$step_no"
    t0=$(date +%s)
    timeout 600 unshare --mount --propagation private --net bash "$0" --inner &
    inner_pid=$!
    rc=0
    wait "$inner_pid" || rc=$?
    inner_pid=""
    [ "$rc" -eq 0 ] || die "a step inside the namespace failed (exit $rc)"
    host_state >"$work/host.after"
    diff "$work/host.before" "$work/host.after" >&2 ||
        die "the host changed: /etc, /usr, /var, /home or the PAM directory differ"
    left=$(ps -eo pid=,args= | grep -F -- "$work" | grep -v grep || true)
    [ -z "$left" ] || die "processes left behind: $left"
    printf '   (the namespace part took %d s; afterwards the host'"'"'s /etc, /usr, /var, /home and PAM\n' \
        "$(($(date +%s) - t0))"
    printf '    directory are unchanged and no process of the demo is left)\n'
    printf '\n\033[1mdemo: success\033[0m — an agent enrolled with a TPM key, was synced from Entra, resolved through NSS, logged in over ssh by TPM key and by token, got tokens through the Azure SDK, gained and lost sudo with a role in Entra, was locked out, and every decision is in the audit.\n'
    exit 0
fi

# ================================================================ inside the namespaces
work=$DEMO_WORK
stage=$work/root
. "$top/tests/lib/tenant.sh"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset OPENCLAW_CONFIG SSH_AUTH_SOCK SSH_AGENT_PID
TSS2_LOG=all+none # tpm2-tss prints failed commands itself; our messages say more
export TSS2_LOG

RESOURCE_APP=6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d # openclaw-host, the host's resource application
ADMIN_APP=c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b    # the tenant admin's automation app
ADMIN_SECRET='aDm8Q~openclaw-demo-admin-secret.00000001'
ROLE_SUDO=8f9a0b1c-2d3e-4f4a-9b5c-6d7e8f9a0b1c # Host.Sudo's appRole id
NAME=demo-agent
DISPLAY_NAME="openclaw demo agent"
PORT=2222
MI=127.0.0.1:8400
CONF=/etc/openclaw/openclaw.conf

pids="" # every process started here, stopped in reverse order
track() { pids="$1 $pids"; }
stop_pid() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}
cleanup_inner() {
    local rc=$?
    for p in $pids; do
        stop_pid "$p"
    done
    tenant_stop
    if [ "$rc" -ne 0 ] && [ -f "$work/openclawd.log" ]; then
        echo "--- the last lines of openclawd's log:" >&2
        tail -n 15 "$work/openclawd.log" >&2
    fi
}
trap cleanup_inner EXIT
trap 'exit 1' INT TERM HUP
wait_for() { # SECONDS CMD...
    local n=$(($1 * 10))
    shift
    for _ in $(seq 1 "$n"); do
        "$@" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# as_agent CMD...: print the command line, run CMD as the agent (its uid,
# a login-like environment, bounded in time); as_agent_q: without printing
as_agent() {
    printf '   %s$ %s\n' "$NAME" "$(cmdline "$@")" >&3
    as_agent_q "$@"
}
as_agent_q() {
    setpriv --reuid="$AGENT_UID" --regid="$AGENT_UID" --clear-groups \
        env -i PATH=/usr/bin:/bin HOME="$AGENT_HOME" USER="$NAME" LOGNAME="$NAME" \
        ${SSH_AUTH_SOCK:+SSH_AUTH_SOCK="$SSH_AUTH_SOCK"} timeout 120 "$@"
}

step "The namespace: the staged install laid over /usr, /etc and /var; a private /run, /dev/log and loopback"
mkdir -p "$work/ns"
mount -t tmpfs -o mode=0755 oc-demo "$work/ns" || die "tmpfs"
# overlay DIR [LOWER]: LOWER (when given) over DIR, writes go to a tmpfs
overlay() {
    local dir=$1 lower=${2:-} n
    n=$(printf '%s' "$dir" | tr / _)
    mkdir -p "$work/ns/up$n" "$work/ns/wk$n"
    mount -t overlay "oc-demo$n" \
        -o "lowerdir=${lower:+$lower:}$dir,upperdir=$work/ns/up$n,workdir=$work/ns/wk$n" "$dir"
}
for d in usr etc var; do
    if [ -d "$stage/$d" ]; then
        overlay "/$d" "$stage/$d" || die "overlay on /$d (needs overlayfs)"
    else
        overlay "/$d" || die "overlay on /$d (needs overlayfs)"
    fi
done
overlay /home || die "overlay on /home"
mount -t tmpfs -o mode=0755 oc-demo-run /run || die "tmpfs on /run"
ip link set lo up
# the Azure SDK of tests/node (npm ci by install-deps.sh), copied where the
# agent's uid can read it: the clone may sit where it cannot (/root, 0700)
mkdir -m 0755 "$work/sdk"
cp -R "$top/tests/node/mi-token.js" "$top/tests/node/package.json" "$top/tests/node/node_modules" \
    "$work/sdk/" && chmod -R a+rX "$work/sdk" || die "copy of tests/node to $work/sdk"
say "# mount -t overlay -o lowerdir=$stage/usr:/usr,upperdir=... /usr   (and /etc, /var, /home)"
say "# mount -t tmpfs oc-demo-run /run; ip link set lo up"

# /dev/log: a private /dev whose syslog socket appends to /var/log/auth.log
# (RFC 3339 time, host, tag: what rsyslog writes on Debian 12)
mkdir -p "$work/olddev"
mount --rbind /dev "$work/olddev"
mount -t tmpfs -o mode=0755 oc-demo-dev /dev
for n in null zero full random urandom tty; do
    [ -e "$work/olddev/$n" ] || continue
    : >"/dev/$n"
    mount --bind "$work/olddev/$n" "/dev/$n"
done
mkdir -p /dev/pts /dev/shm
mount --rbind "$work/olddev/pts" /dev/pts 2>/dev/null || true
mount --rbind "$work/olddev/shm" /dev/shm 2>/dev/null || true
ln -s pts/ptmx /dev/ptmx
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mkdir -p /var/log
/usr/bin/python3 -c '
import os, re, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
out = open(sys.argv[1], "ab", buffering=0)
open(sys.argv[2], "w").close()
host = socket.gethostname().split(".")[0].encode() or b"localhost"
head = re.compile(rb"^<(\d{1,3})>(?:[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d )?")
while True:
    m = s.recv(65536).rstrip(b"\0\n")
    h = head.match(m)
    if h and int(h.group(1)) >> 3 not in (4, 10):
        continue  # auth.log: facilities auth and authpriv only
    t = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()).encode()
    out.write(t + b" " + host + b" " + (m[h.end():] if h else m).replace(b"\n", b" ") + b"\n")
' /var/log/auth.log "$work/syslog.ready" &
track $!
wait_for 5 test -e "$work/syslog.ready" || die "the syslog socket did not start"
say "# (a small reader on /dev/log writes facility auth/authpriv records to /var/log/auth.log)"

step "Start the local test tenant (Entra ID and Graph over HTTPS on 127.0.0.1, a fresh test CA) and the TPM (swtpm)"
tenant_start "$work/tenant" || die "the local tenant did not start"
track "$(cat "$work/tenant/pid")"
say "# tests/tenant/tenant --state $work/tenant --port 0 --daemon"
say "tenant $TENANT_ID at $TENANT_URL; clients trust only $TENANT_CA"
mkdir -p "$work/tpm"
swtpm socket --tpm2 --tpmstate dir="$work/tpm" \
    --server type=unixio,path="$work/tpm/sock" --ctrl type=unixio,path="$work/tpm/sock.ctrl" \
    --flags not-need-init,startup-clear --pid file="$work/tpm/pid" --daemon >"$work/tpm/log" 2>&1 ||
    die "swtpm did not start: $(cat "$work/tpm/log")"
wait_for 5 test -s "$work/tpm/pid" -a -S "$work/tpm/sock" || die "swtpm did not start"
track "$(cat "$work/tpm/pid")"
TCTI="swtpm:path=$work/tpm/sock"
say "# swtpm socket --tpm2 --tpmstate dir=$work/tpm --server type=unixio,path=$work/tpm/sock ... --daemon"
say "TCTI $TCTI"

step "The host's configuration: $CONF (root-owned, no secrets)"
install -d -m 0755 /etc/openclaw /var/lib/openclaw /var/lib/openclaw-trust /run/openclaw
install -d -m 0700 /var/lib/openclaw/keys /run/openclaw/tally
# the directory reader's credential: the admin app's client secret, 0600
# (on a real host: a TPM-bound certificate or a managed identity)
(umask 077 && printf '%s\n' "$ADMIN_SECRET" >/etc/openclaw/directory.secret)
cat >"$CONF" <<CONF
[global]
tenant_id = $TENANT_ID
authority = $TENANT_URL
issuer_v2 = https://login.microsoftonline.com/{tenantid}/v2.0
audiences = api://openclaw-host
ca_file = $TENANT_CA
tcti = $TCTI
mi_endpoint = $MI
allow_insecure_credentials = yes

[service sshd]
require_role = Host.Login

[service sudo]
require_role = Host.Sudo

[directory]
resource = $RESOURCE_APP
graph_url = $TENANT_URL
graph_resource = https://graph.microsoft.com
sync_interval = 60
credential = secret-file
app_id = $ADMIN_APP
secret_file = /etc/openclaw/directory.secret
CONF
chmod 0644 "$CONF"
indent <"$CONF"
say "(authority, graph_url and ca_file point at the local tenant, which signs with public-cloud"
say " issuers, hence issuer_v2; allow_insecure_credentials is for the directory's secret file)"

# ---------------------------------------------------------------- 1. enroll
step "$NAME enrolls itself: a TPM key, its certificate, its own application in Entra"
say "the admin hands over a Graph token (Application.ReadWrite.All) in a 0600 file, never argv:"
say "# curl --cacert ca.pem $TENANT_URL/$TENANT_ID/oauth2/v2.0/token -d grant_type=client_credentials \\"
say "#      -d client_id=$ADMIN_APP -d client_secret=... -d scope=https://graph.microsoft.com/.default"
(umask 077 && tenant_token "$ADMIN_APP" "$ADMIN_SECRET" https://graph.microsoft.com/.default >"$work/admin.token")
[ -s "$work/admin.token" ] || die "no admin token from the tenant"
run openclawctl enroll "$NAME" --create --display-name "$DISPLAY_NAME" --alg ecc \
    --admin-token-file "$work/admin.token" --graph "$TENANT_URL" \
    --resource-app-id "$RESOURCE_APP" --write-config >"$work/enroll.out" ||
    { cat "$work/enroll.out"; die "enroll"; }
cat "$work/enroll.out"
say "the section enroll wrote (the TPM-wrapped key is useless on any other TPM):"
sed -n "/^\[agent $NAME\]/,\$p" "$CONF" | indent
ls -l "/var/lib/openclaw/keys/$NAME.tpmkey" "/var/lib/openclaw/keys/$NAME.crt" | indent
graph() { # METHOD URL [JSON]: a Graph call with the admin's token, printed
    local m=$1 url=$2 body=${3:-}
    printf '   # curl -X %s -H "Authorization: Bearer $(cat admin.token)" %s%s\n' "$m" \
        "${body:+-H 'Content-Type: application/json' --data '$body' }" "$url" >&3
    curl -sS --fail-with-body --cacert "$TENANT_CA" -X "$m" \
        -H "Authorization: Bearer $(cat "$work/admin.token")" \
        ${body:+-H 'Content-Type: application/json' --data "$body"} "$url"
}
apps=$(graph GET "$TENANT_URL/v1.0/applications?\$filter=displayName%20eq%20'$(printf '%s' "$DISPLAY_NAME" | sed 's/ /%20/g')'")
APP_ID=$(printf '%s' "$apps" | json_get value.0.appId)
printf '%s' "$apps" | /usr/bin/python3 -c '
import json, sys
a = json.load(sys.stdin)["value"][0]
print("application %r appId %s tags %s" % (a["displayName"], a["appId"], a["tags"]))
for k in a["keyCredentials"]:
    print("  keyCredential %s %s thumbprint %s" % (k["type"], k["usage"], k["customKeyIdentifier"]))' | indent
SP_ID=$(sed -n "s/^object_id *= *//p" <(sed -n "/^\[agent $NAME\]/,\$p" "$CONF") | head -n 1)
[ -n "$APP_ID" ] && [ -n "$SP_ID" ] || die "the new application or its service principal is missing"

# ---------------------------------------------------------------- 2. role, openclawd
step "The admin assigns $NAME the Host.Login role on openclaw-host (Graph, as enroll printed it)"
post=$(grep -m1 -A2 'POST .*appRoleAssignedTo' "$work/enroll.out")
url=$(printf '%s\n' "$post" | sed -n '1s/.*POST //p')
body=$(printf '%s\n' "$post" | sed -n '3s/^ *//p')
[ -n "$url" ] && [ -n "$body" ] || die "enroll printed no role assignment call"
RES_SP=$(printf '%s' "$url" | sed -n 's|.*/servicePrincipals/\([^/]*\)/appRoleAssignedTo.*|\1|p')
graph POST "$url" "$body" >"$work/login-assignment.json" || die "the Host.Login assignment"
say "assignment $(json_get id <"$work/login-assignment.json"): appRoleId $(json_get appRoleId <"$work/login-assignment.json") (Host.Login)"

step "openclaw-sync, as root: the tenant's signing keys and the directory, into root's trust_dir"
say "(what pam_openclaw and nss_openclaw trust: on a host openclaw-sync.timer runs it every minute and"
say " it does what is due; openclaw-sync.path when pam_openclaw asks; openclawd, the daemon account,"
say " cannot write there)"
run openclaw-sync || die "openclaw-sync"
ls -ld /var/lib/openclaw-trust /var/lib/openclaw-trust/jwks /var/lib/openclaw-trust/*.json \
    /var/lib/openclaw-trust/nss.cache /var/lib/openclaw-trust/jwks/*.json | indent
synced() { grep -Eq "\"name\":[[:space:]]*\"$NAME\"" /var/lib/openclaw-trust/directory.json; }
synced || die "the directory sync did not list $NAME"
say "directory.json, $NAME's entry (synced from Graph; keys = the certificates on its application):"
/usr/bin/python3 -c '
import json, sys
for a in json.load(open("/var/lib/openclaw-trust/directory.json"))["agents"]:
    if a["name"] == sys.argv[1]:
        for k in a["keys"]:
            k["ssh"] = k.get("ssh", "")[:40] + "..."
        print(json.dumps(a, indent=2))' "$NAME" | indent
AGENT_UID=$(/usr/bin/python3 -c '
import json, sys
print([a["uid"] for a in json.load(open("/var/lib/openclaw-trust/directory.json"))["agents"] if a["name"] == sys.argv[1]][0])' "$NAME")
AGENT_HOME=/

step "openclawd starts: $NAME's token (TPM-signed assertion); it syncs nothing root trusts"
say "(--allow-root is for this demo only: on a host openclawd runs as the user 'openclaw')"
say "# openclawd --foreground --allow-root &"
openclawd --foreground --allow-root >"$work/openclawd.log" 2>&1 &
OCD_PID=$!
track "$OCD_PID"
wait_for 30 test -S /run/openclaw/openclawd.sock || die "openclawd did not start"
say "$NAME (uid $AGENT_UID) asks for its token; openclawd gets it with a client assertion signed in the TPM:"
printf '   %s$ openclaw-token --json     (shown without the token itself)\n' "$NAME" >&3
as_agent_q openclaw-token --json | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
t = d.pop("token", None) or d.pop("access_token", None)
print(json.dumps(d), "+ a %d-byte token" % len(t or ""))' | indent || die "openclaw-token"
run openclawctl status || die "openclawctl status"

# ---------------------------------------------------------------- 3. NSS
step "The account resolves through NSS (libnss_openclaw.so.2 from the synced cache)"
printf 'passwd:         files openclaw\ngroup:          files openclaw\nshadow:         files\nhosts:          files\n' \
    >/etc/nsswitch.conf
say "/etc/nsswitch.conf:  passwd: files openclaw / group: files openclaw"
run getent passwd "$NAME" || die "getent passwd $NAME"
run id "$NAME" || die "id $NAME"
AGENT_UID=$(getent passwd "$NAME" | cut -d: -f3)
AGENT_HOME=$(getent passwd "$NAME" | cut -d: -f6)
install -d -m 0700 -o "$AGENT_UID" -g "$AGENT_UID" "$AGENT_HOME"
say "(its uid follows the immutable object id of its service principal; home $AGENT_HOME made for it)"

# ---------------------------------------------------------------- 4. ssh
step "sshd with pam_openclaw and AuthorizedKeysCommand openclaw-authorized-keys"
cp "$top/data/pam.d/sshd" /etc/pam.d/sshd
say "/etc/pam.d/sshd: the shipped stack (data/pam.d/sshd):"
grep '^[a-z].*pam_openclaw' /etc/pam.d/sshd | indent
ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey"
AKC=$(command -v openclaw-authorized-keys)
cat >"$work/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $work/hostkey
PidFile $work/sshd.pid
UsePAM yes
PubkeyAuthentication yes
AuthorizedKeysFile none
AuthorizedKeysCommand $AKC %u
AuthorizedKeysCommandUser nobody
KbdInteractiveAuthentication yes
PasswordAuthentication no
PermitRootLogin no
PrintMotd no
EOF
grep -v 'HostKey\|PidFile' "$work/sshd_config" | indent
say "what sshd will ask (the certificates registered on $NAME's application, valid now):"
run openclaw-authorized-keys "$NAME" || die "openclaw-authorized-keys"
mkdir -p /run/sshd
say "# /usr/sbin/sshd -D -e -f sshd_config &"
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
track $!
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" || die "sshd did not start: $(cat "$work/sshd.log")"
install -d -m 0700 -o "$AGENT_UID" -g "$AGENT_UID" "$AGENT_HOME/.ssh"
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$work/hostkey.pub")" >"$AGENT_HOME/.ssh/known_hosts"
chown "$AGENT_UID:$AGENT_UID" "$AGENT_HOME/.ssh/known_hosts"

step "(a) $NAME logs in with its TPM key: openclaw-token --ssh-agent (no key file anywhere)"
printf '   %s$ openclaw-token --ssh-agent --foreground &\n' "$NAME"
# (setpriv and env exec: $! is the agent itself)
setpriv --reuid="$AGENT_UID" --regid="$AGENT_UID" --clear-groups env -i PATH=/usr/bin:/bin HOME="$AGENT_HOME" \
    openclaw-token --ssh-agent --foreground --socket-dir "$AGENT_HOME" >"$work/agent.out" 2>"$work/agent.err" &
track $!
wait_for 10 grep -q '^SSH_AUTH_SOCK=' "$work/agent.out" || die "the ssh-agent did not start: $(cat "$work/agent.err")"
SSH_AUTH_SOCK=$(sed -n 's/^SSH_AUTH_SOCK=\([^;]*\);.*/\1/p' "$work/agent.out")
indent <"$work/agent.out"
as_agent ssh-add -L | indent || die "ssh-add -L"
SSH="ssh -p $PORT -o BatchMode=yes -o ConnectTimeout=20"
# shellcheck disable=SC2086
out=$(as_agent $SSH "$NAME@127.0.0.1" 'id; echo "session: OPENCLAW_AGENT=$OPENCLAW_AGENT"' 2>&1) ||
    die "ssh with the TPM key: $out $(tail -n 5 "$work/sshd.log")"
printf '%s\n' "$out" | indent
grep -q "^uid=$AGENT_UID($NAME)" <<<"$out" || die "the ssh session is not $NAME's"
grep "audit: ssh signature by agent $NAME" "$work/openclawd.log" | tail -n 1 | indent
grep "Accepted publickey for $NAME" "$work/sshd.log" | tail -n 1 | sed 's/^/sshd: /' | indent

step "(b) $NAME logs in with its Entra token: the stock ssh client + openclaw-askpass (keyboard-interactive)"
say "(the token comes from openclawd through openclaw-token, in 500-byte chunks: stock ssh"
say " cuts an answer at 1023 bytes; it is never written to a file)"
ASKPASS=$(command -v openclaw-askpass)
# ssh_token TOKENFILE COMMAND: the stock client, askpass forced, no tty (as
# a script runs it); TOKENFILE "" = the token from openclawd
ssh_token() {
    [ -n "${QUIET:-}" ] || printf '   %s$ %sSSH_ASKPASS=openclaw-askpass SSH_ASKPASS_REQUIRE=force ssh -p %s -o PreferredAuthentications=keyboard-interactive %s@127.0.0.1 %s\n' \
        "$NAME" "${1:+OPENCLAW_TOKEN_FILE=${1##*/} }" "$PORT" "$NAME" "$(cmdline "$2")" >&3
    SSH_AUTH_SOCK='' as_agent_q env ${1:+OPENCLAW_TOKEN_FILE=$1} \
        OPENCLAW_TOKEN_SCOPE=api://openclaw-host/.default \
        SSH_ASKPASS="$ASKPASS" SSH_ASKPASS_REQUIRE=force DISPLAY=none \
        setsid -w ssh -p "$PORT" -o PreferredAuthentications=keyboard-interactive \
        -o NumberOfPasswordPrompts=1 -o ConnectTimeout=20 "$NAME@127.0.0.1" "$2" </dev/null
}
remote='t=$(openclaw-token); echo "openclaw-token: ${#t} bytes"; echo "$AZURE_POD_IDENTITY_AUTHORITY_HOST"; node '"$work"'/sdk/mi-token.js api://openclaw-host/.default'
out=$(ssh_token "" "$remote" 2>&1) || die "ssh with the token: $out $(tail -n 5 "$work/sshd.log")"
say "in the session, the agent's token and an unmodified Azure SDK (@azure/identity"
say "ManagedIdentityCredential, tests/node/mi-token.js) through openclawd's endpoint on $MI:"
printf '%s\n' "$out" | indent
grep -q '"ok":true' <<<"$out" || die "the Azure SDK got no token"
say "(that was $(printf '%s\n' "$out" | sed -n 's/.*"sdk":"\([^"]*\)".*/\1/p') on Node.js $(printf '%s\n' "$out" | sed -n 's/.*"node":"\([^"]*\)".*/\1/p'))"
grep -q "\"appid\":\"$APP_ID\"" <<<"$out" || die "the Azure SDK's token is not $NAME's"

# ---------------------------------------------------------------- 5. sudo
step "sudo follows the Host.Sudo role in Entra (pam_openclaw mode=helper: a fresh token per sudo)"
sed "s|pam_openclaw.so|pam_openclaw.so mode=helper helper_max_age=0|" "$top/data/pam.d/sudo" >/etc/pam.d/sudo
grep '^[a-z].*pam_openclaw' /etc/pam.d/sudo | indent
# one try: a token without the role does not gain it by asking again
printf 'Defaults:%s passwd_tries=1\n%s ALL=(ALL:ALL) ALL\n' "$NAME" "$NAME" >/etc/sudoers.d/openclaw-demo
chmod 0440 /etc/sudoers.d/openclaw-demo
grep -q '^@includedir /etc/sudoers.d\|^#includedir /etc/sudoers.d' /etc/sudoers ||
    printf '@includedir /etc/sudoers.d\n' >>/etc/sudoers
say "/etc/sudoers.d/openclaw-demo:"
indent </etc/sudoers.d/openclaw-demo
sudo_try() { # prints the outcome; returns sudo's status
    local o rc=0
    # shellcheck disable=SC2086
    o=$(as_agent $SSH "$NAME@127.0.0.1" "sudo -S -k -p '' -u root id -u </dev/null" 2>&1) || rc=$?
    printf '%s\n' "$o" | indent
    return "$rc"
}
if sudo_try; then die "sudo succeeded without Host.Sudo"; fi
say "refused: $NAME holds Host.Login only"
graph POST "$TENANT_URL/v1.0/servicePrincipals/$RES_SP/appRoleAssignedTo" \
    "{\"principalId\": \"$SP_ID\", \"resourceId\": \"$RES_SP\", \"appRoleId\": \"$ROLE_SUDO\"}" \
    >"$work/sudo-assignment.json" || die "the Host.Sudo assignment"
SUDO_ASSIGNMENT=$(json_get id <"$work/sudo-assignment.json")
say "Host.Sudo granted (assignment $SUDO_ASSIGNMENT); no file on this host changes:"
sudo_try || die "sudo with Host.Sudo was refused: $(tail -n 5 "$work/openclawd.log")"
graph DELETE "$TENANT_URL/v1.0/servicePrincipals/$RES_SP/appRoleAssignedTo/$SUDO_ASSIGNMENT" ||
    die "removing the Host.Sudo assignment"
say "Host.Sudo removed; the next sudo is refused at once:"
if sudo_try; then die "sudo succeeded after Host.Sudo was removed"; fi
grep "requested the token of agent $NAME" "$work/openclawd.log" | tail -n 1 | indent

# ---------------------------------------------------------------- 6. lockout, audit
step "Unsigned tokens lock nobody; $NAME's own signed tokens, presented wrongly, lock it ([service sshd] deny = 5, fail_interval = 60)"
good=$(as_agent_q openclaw-token --scope api://openclaw-host/.default 2>/dev/null)
[ -n "$good" ] || die "openclaw-token gave no token"
# the agent's real token with its signature's last characters changed:
# anyone who reaches sshd can send such a token, so it proves nothing about
# the agent and is charged to its source (throttled), never to the agent
bad="${good%?????}AAAAA"
[ "$bad" != "$good" ] || bad="${good%?????}BBBBB"
printf '%s\n' "$bad" >"$AGENT_HOME/bad.token"
chown "$AGENT_UID:$AGENT_UID" "$AGENT_HOME/bad.token"
chmod 0600 "$AGENT_HOME/bad.token"
unset good
for i in 1 2 3 4 5; do
    if out=$(QUIET=${i#1} ssh_token "$AGENT_HOME/bad.token" true 2>&1); then
        die "a bad token logged in"
    fi
    say "attempt $i with a tampered token: $(printf '%s\n' "$out" | grep -m1 -i 'denied' || echo refused)"
done
out=$(ssh_token "" 'id -u' 2>&1) || die "five tampered tokens locked $NAME out: $out"
grep -qx -- "$AGENT_UID" <<<"$out" || die "the ssh session is not $NAME's: $out"
say "then its real token (from openclawd) logs in: uid $AGENT_UID -- the tampered tokens were"
say "charged to their source (127.0.0.1, now throttled), not to $NAME"
# The agent's own token, signed by the tenant, for another resource
# (api://openclaw-host-v2): a real credential presented wrongly, which is
# what the lockout is for. openclaw-askpass only ever sends a token for this
# host's audiences, so a plain SSH_ASKPASS script presents it.
other=$(as_agent_q openclaw-token --scope api://openclaw-host-v2/.default 2>/dev/null)
[ -n "$other" ] || die "openclaw-token gave no token for api://openclaw-host-v2"
printf '%s' "$other" >"$AGENT_HOME/other.token"
unset other
cat >"$AGENT_HOME/raw-askpass" <<'ASK'
#!/bin/sh
# answers pam_openclaw's "[N]" prompt with 500 bytes of the token file from offset N
n=$(printf '%s' "$1" | sed -n 's/.*\[\([0-9][0-9]*\)\]: *$/\1/p')
[ -n "$n" ] || exit 1
tail -c +$((n + 1)) "$OC_RAW_TOKEN" | head -c 500
ASK
chown "$AGENT_UID:$AGENT_UID" "$AGENT_HOME/other.token" "$AGENT_HOME/raw-askpass"
chmod 0600 "$AGENT_HOME/other.token"
chmod 0700 "$AGENT_HOME/raw-askpass"
printf '   %s$ OC_RAW_TOKEN=other.token SSH_ASKPASS=./raw-askpass SSH_ASKPASS_REQUIRE=force ssh -p %s -o PreferredAuthentications=keyboard-interactive %s@127.0.0.1 true\n' \
    "$NAME" "$PORT" "$NAME" >&3
for i in 1 2 3 4 5; do
    if out=$(SSH_AUTH_SOCK='' as_agent_q env OC_RAW_TOKEN="$AGENT_HOME/other.token" \
        SSH_ASKPASS="$AGENT_HOME/raw-askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none \
        setsid -w ssh -p "$PORT" -o PreferredAuthentications=keyboard-interactive \
        -o NumberOfPasswordPrompts=1 -o ConnectTimeout=20 "$NAME@127.0.0.1" true </dev/null 2>&1); then
        die "a token for another audience logged in"
    fi
    say "attempt $i with its token for api://openclaw-host-v2: $(printf '%s\n' "$out" | grep -m1 -i 'denied' || echo refused)"
done
if out=$(ssh_token "" 'id -u' 2>&1); then
    die "the locked agent logged in: $out"
fi
say "then its real token (from openclawd): $(printf '%s\n' "$out" | grep -m1 -i 'denied' || echo refused) — locked"
st=$(openclawctl agent status "$NAME" 2>&1) || true
printf '   # openclawctl agent status %s\n' "$NAME" >&3
printf '%s\n' "$st" | indent
grep -q 'LOCKED' <<<"$st" || die "agent status does not show the lockout"

step "openclawctl audit: every decision, from this host's syslog (/var/log/auth.log)"
run openclawctl agent unlock "$NAME" || die "unlock"
run openclawctl audit --file /var/log/auth.log || die "openclawctl audit"
a=$(openclawctl audit --file /var/log/auth.log --json)
printf '%s' "$a" | /usr/bin/python3 -c '
import json, sys
d, name = json.load(sys.stdin), sys.argv[1]
logins = {(x["agent"], x["service"]): x["count"] for x in d["logins"]}
refusals = {x["reason"]: x["count"] for x in d["refusals"]}
events = [(e["event"], e.get("reason")) for e in d["events"]]
assert logins.get((name, "sshd"), 0) >= 1, logins          # the token login
assert logins.get((name, "sudo"), 0) == 1, logins          # sudo with Host.Sudo
assert refusals.get("role", 0) >= 2, refusals              # sudo without it, twice
assert refusals.get("signature", 0) >= 5, refusals         # the tampered tokens
assert refusals.get("audience", 0) >= 5, refusals          # its tokens for another resource
assert refusals.get("locked", 0) >= 1, refusals            # the real token, while locked
assert ("anomaly", "lockout") in events and ("unlock", "admin") in events, events
' "$NAME" || die "the audit summary misses events: $a"
say "raw records in /var/log/auth.log, the first of each kind:"
grep -E 'pam_openclaw|openclawctl' /var/log/auth.log |
    awk '{ k = ""; for (i = 1; i <= NF; i++) if ($i ~ /^(event|service|result|reason)=/) k = k $i " "
           if (!(k in seen)) { seen[k] = 1; print } }' |
    sed -E 's/ (agent_app_id|agent_oid|token_uti)=[^ ]+//g; s/ detail=.*//' | indent
say "(each record also carries agent_app_id, agent_oid and the token's uti; left out here)"

step "Stop everything this demo started"
say "# kill -TERM (by PID): ssh-agent, sshd, openclawd, swtpm, tenant, syslog reader"
for p in $pids; do
    stop_pid "$p"
done
tenant_stop
pids=""
say "stopped; the namespace's mounts vanish with it"

