#!/bin/bash
# openclawctl audit reading a real systemd journal (its default source when
# journalctl and a journal socket exist). Runs as root in a private mount,
# PID and network namespace; inside only:
#   - /run is a tmpfs (so /run/systemd/journal and /run/log/journal are
#     ours), /var/log/journal (when present) a tmpfs, /dev a tmpfs with the
#     basic device nodes bind-mounted back and /dev/log a link to journald's
#     /run/systemd/journal/dev-log;
#   - a real systemd-journald started there (volatile storage, no kmsg, no
#     forwarding; stopped by PID; the PID namespace ends anything left);
#   - the records: pam_openclaw's own pam_syslog lines, from pamtester under
#     pam_wrapper (PAM_WRAPPER_USE_SYSLOG=1) or, in a sanitizer build, from
#     the instrumented driver pam-askpass-conv, with tokens of the local
#     tenant (one login twice, refusals for two reasons);
#   - openclawd's own records: the real daemon, started as the daemon user
#     against the local tenant (its syslog(3) reaches journald through the
#     namespace's /dev/log), driven through its socket and its managed-
#     identity endpoint: a directory sync (every agent added), a token
#     handed out on the socket and on the MI endpoint, both refused to a
#     uid without an agent, agent-lock + a refused token + agent-unlock,
#     session-open/close, an anomaly whose response disables the service
#     principal through Graph (then a refused token: locked out), a sync
#     that finds a second service principal disabled (disable-sp in the
#     tenant's control API), one that finds it enabled again, a role
#     granted to it and a new agent, and one where both are withdrawn;
#   - then logger(1) lines shaped like openclawctl's, lines of other
#     facilities and forged or hostile lines that must not be counted;
#   - the trust rule: /etc/passwd (a private copy) has a daemon user
#     "openclaw"; the same look-alike lines sent by logger as root count,
#     as another uid (setpriv) they are untrusted; the daemon's records
#     (as the daemon user) count, the daemon user's pam_openclaw-shaped
#     line does not.
# Checked: openclawd's records in the journal's authpriv (SYSLOG_FACILITY=10)
# one per decision with their fields; counts and reasons exactly (text and
# --json, openclawd's table by event, via, result and reason), the
# untrusted count per uid, the source named as the journal, the time range
# against the clock around the records, --since (the second half only),
# --agent, --daemon-user, the same summary with a local time zone whose
# offset journalctl prints as +0530, and no journald left.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

ctl="$top_builddir/helper/ctl/openclawctl"
JOURNALD=/lib/systemd/systemd-journald
JOURNALCTL=/usr/bin/journalctl # the path openclawctl runs
SOURCE="journal (journalctl --facility=authpriv)"
PY=/usr/bin/python3

# PIDs of every systemd-journald this PID namespace sees (comm is cut at 15)
journald_pids() {
    local f c
    for f in /proc/[0-9]*/comm; do
        read -r c <"$f" 2>/dev/null || continue
        [ "$c" = systemd-journal ] && printf '%s ' "$(basename "$(dirname "$f")")"
    done
    return 0
}

if [ "${1:-}" != --inner ]; then
    [ -x "$ctl" ] || tap_skip_all "openclawctl not built"
    [ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (private mount and PID namespace)"
    [ -x "$JOURNALD" ] || tap_skip_all "systemd-journald missing (package systemd, scripts/install-deps.sh)"
    [ -x "$JOURNALCTL" ] || tap_skip_all "journalctl missing (package systemd, scripts/install-deps.sh)"
    for t in unshare logger timeout ip setpriv; do
        command -v "$t" >/dev/null || tap_skip_all "$t missing (scripts/install-deps.sh)"
    done
    unshare --mount --propagation private --pid --fork --mount-proc --net true 2>/dev/null ||
        tap_skip_all "unshare --mount --pid --net not permitted here"
    JW=$(mktemp -d /tmp/oc-jr.XXXXXX)
    trap 'rm -rf "$JW"' EXIT
    export JW
    before=$(journald_pids)
    timeout 300 unshare --mount --propagation private --pid --fork --mount-proc --net \
        bash "$0" --inner
    rc=$?
    if [ -s "$JW/skip" ]; then
        tap_skip_all "$(cat "$JW/skip")"
    fi
    read -r tap_n tap_failed <"$JW/state" 2>/dev/null || {
        tap_n=0
        tap_failed=0
        tap_fail "the namespace part ended early (exit $rc)"
    }
    # the test's own journald is gone (the namespace's PID 1 ended and took
    # it along); other journalds on the host (the system's, another
    # test's) may come and go meanwhile
    left=""
    for p in $(journald_pids); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "OC_AUDIT_JOURNAL_RUN=$JW" &&
            left="$left $p"
    done
    if [ -z "$left" ]; then
        tap_ok "no systemd-journald of this test left behind (the host's before: ${before:-none}, after: $(journald_pids))"
    else
        tap_fail "no systemd-journald of this test left behind" "still running:$left"
    fi
    tap_done
    exit
fi

# ---------------------------------------------------------------------------
# Inside the namespace (PID 1 here: when this shell ends, everything ends).
w=$JW
JPID=
TENANT_DIR=
inner_skip() {
    printf '%s\n' "$1" >"$w/skip"
    exit 0
}
stop_journald() {
    local i
    [ -n "$JPID" ] || return 0
    kill -TERM "$JPID" 2>/dev/null
    for i in $(seq 1 50); do
        kill -0 "$JPID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$JPID" 2>/dev/null
    wait "$JPID" 2>/dev/null
    JPID=
}
finish() {
    stop_journald
    tenant_stop
    printf '%s %s\n' "$tap_n" "$tap_failed" >"$w/state"
}
trap finish EXIT

mod=$(pam_module)
wrapper=$(ls /usr/lib/*/libpam_wrapper.so /usr/lib/libpam_wrapper.so 2>/dev/null | head -n1)
conv="$top_builddir/tests/integration/pam-askpass-conv"
SAN=$(pam_sanitizer_preload 2>/dev/null)
pam_why=""
if [ ! -f "$mod" ]; then
    pam_why="pam_openclaw.so not built"
elif [ -n "$SAN" ] && [ ! -x "$conv" ]; then
    pam_why="sanitizer build without pam-askpass-conv (make check builds it)"
elif [ -z "$SAN" ] && ! command -v pamtester >/dev/null; then
    pam_why="pamtester missing (scripts/install-deps.sh)"
elif [ -z "$SAN" ] && [ -z "$wrapper" ]; then
    pam_why="libpam-wrapper missing (scripts/install-deps.sh)"
elif ! command -v curl >/dev/null || ! "$OC_PY" -c 'import cryptography' 2>/dev/null; then
    pam_why="curl or python3-cryptography missing (scripts/install-deps.sh)"
fi

# --- the private file system ------------------------------------------------
mount -t tmpfs -o mode=0755 oc-run /run || inner_skip "cannot mount a tmpfs on /run in the namespace"
mkdir -p /run/systemd/journal /run/log/journal /run/systemd/journald.conf.d
if [ -d /var/log/journal ]; then
    mount -t tmpfs -o mode=0755 oc-varjournal /var/log/journal ||
        inner_skip "cannot hide /var/log/journal in the namespace"
fi
# journald needs a machine id; a missing or empty one is replaced (here only)
if ! grep -qE '^[0-9a-f]{32}$' /etc/machine-id 2>/dev/null; then
    [ -f /etc/machine-id ] || inner_skip "no /etc/machine-id to shadow (journald needs one)"
    tr -d '-' </proc/sys/kernel/random/uuid >"$w/machine-id"
    mount --bind "$w/machine-id" /etc/machine-id || inner_skip "cannot shadow /etc/machine-id"
fi
# a private /dev: the basic nodes of the real one, and /dev/log -> journald
mkdir -p "$w/olddev"
mount --rbind /dev "$w/olddev" && mount -t tmpfs -o mode=0755 oc-dev /dev ||
    inner_skip "cannot set up a private /dev in the namespace"
for n in null zero full random urandom tty; do
    [ -e "$w/olddev/$n" ] || continue
    : >"/dev/$n"
    mount --bind "$w/olddev/$n" "/dev/$n" || inner_skip "cannot bind /dev/$n"
done
mkdir -p /dev/pts /dev/shm
mount --rbind "$w/olddev/pts" /dev/pts 2>/dev/null
mount --rbind "$w/olddev/shm" /dev/shm 2>/dev/null
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
ln -s /run/systemd/journal/dev-log /dev/log
ip link set lo up 2>/dev/null
# the daemon user (openclawctl audit's default --daemon-user) at a free uid,
# and a free uid for a local user who forges records (no passwd entry needed)
DU=
FU=
for u in $(seq 61900 61990); do
    getent passwd "$u" >/dev/null && continue
    if [ -z "$DU" ]; then DU=$u; elif [ -z "$FU" ]; then FU=$u; break; fi
done
[ -n "$FU" ] || inner_skip "no free uid in 61900-61990"
{ grep -v '^openclaw:' /etc/passwd; echo "openclaw:x:$DU:$DU:openclaw test daemon:/nonexistent:/usr/sbin/nologin"; } >"$w/passwd"
mount --bind "$w/passwd" /etc/passwd || inner_skip "cannot shadow /etc/passwd in the namespace"
[ "$(getent passwd openclaw | cut -d: -f3)" = "$DU" ] || inner_skip "getent does not read the private /etc/passwd"

# --- journald ----------------------------------------------------------------
# The last drop-in wins over the host's journald.conf and its drop-ins.
cat >/run/systemd/journald.conf.d/zz-openclaw-test.conf <<'EOF'
[Journal]
Storage=volatile
ReadKMSG=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
RateLimitIntervalSec=0
EOF
# OC_AUDIT_JOURNAL_RUN marks this test's journald in its environment: the
# outer part checks that no journald with it is left, whatever other
# journalds the host runs
OC_AUDIT_JOURNAL_RUN=$w SYSTEMD_LOG_LEVEL=info SYSTEMD_LOG_TARGET=console "$JOURNALD" \
    >"$w/journald.log" 2>&1 &
JPID=$!
for i in $(seq 1 100); do
    [ -S /run/systemd/journal/socket ] && [ -S /run/systemd/journal/dev-log ] && break
    kill -0 "$JPID" 2>/dev/null || break
    sleep 0.1
done
if ! [ -S /run/systemd/journal/socket ] || ! [ -S /run/systemd/journal/dev-log ] ||
    ! kill -0 "$JPID" 2>/dev/null; then
    inner_skip "systemd-journald did not start in the namespace: $(tail -n 3 "$w/journald.log" | tr '\n' ' ')"
fi
# the journal answers: a probe line reaches journalctl (bounded)
logger -p user.info -t oc-probe "journald probe"
seen=no
for i in $(seq 1 50); do
    if "$JOURNALCTL" --no-pager --quiet -t oc-probe 2>/dev/null | grep -q 'journald probe'; then
        seen=yes
        break
    fi
    sleep 0.1
done
[ "$seen" = yes ] || inner_skip "journald in the namespace does not record /dev/log lines"
tap_ok "a real systemd-journald runs in the namespace (PID $JPID), /dev/log reaches it"

# wait_tick T: until the clock is past second T (bounded: 3 s)
wait_tick() {
    local i
    for i in $(seq 1 30); do
        [ "$(date +%s)" -gt "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
# the authpriv journal has N lines matching PATTERN (bounded: 5 s)
wait_lines() {
    local i n
    for i in $(seq 1 50); do
        n=$("$JOURNALCTL" --facility=authpriv --no-pager --quiet 2>/dev/null | grep -c -- "$1")
        [ "${n:-0}" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# the authpriv journal has N entries whose JSON matches PATTERN (bounded: 5 s)
wait_json() {
    local i n
    for i in $(seq 1 50); do
        n=$("$JOURNALCTL" --facility=authpriv --output=json --no-pager --quiet 2>/dev/null | grep -c -- "$1")
        [ "${n:-0}" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

# --- records, first half: the real module through libpam ---------------------
export TZ=UTC OPENCLAW_TEST_INSECURE_CONFIG=1
t0=$(date +%s)
pam_done=no
if [ -z "$pam_why" ]; then
    PAM_WORK=$w/pam
    mkdir -p "$PAM_WORK/jwks" "$PAM_WORK/svc" "$PAM_WORK/run"
    if tenant_start "$PAM_WORK/tenant" &&
        tenant_get "/$TENANT_ID/discovery/v2.0/keys" >"$PAM_WORK/jwks/keys.json" &&
        tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$w/alpha" &&
        tenant_token "$BETA_APP" "$BETA_SECRET" "$RESOURCE_URI/.default" >"$w/beta" &&
        [ -s "$w/alpha" ] && [ -s "$w/beta" ]; then
        pam_done=yes
    else
        pam_why="the local tenant did not start or issued no token"
    fi
fi
if [ "$pam_done" = yes ]; then
    pam_write_config "$PAM_WORK/openclaw.conf"
    for s in sshd sudo; do
        printf 'auth required %s config=%s nodelay\naccount required %s config=%s nodelay\n' \
            "$mod" "$PAM_WORK/openclaw.conf" "$mod" "$PAM_WORK/openclaw.conf" >"$PAM_WORK/svc/$s"
    done
    printf 'auth required pam_deny.so\naccount required pam_deny.so\n' >"$PAM_WORK/svc/other"
    # a copy of each line the module logs (test builds), for a cross-check
    grep -q OPENCLAW_TEST_AUDIT_FILE "$mod" && export OPENCLAW_TEST_AUDIT_FILE="$w/module-audit.log"
    # pt SERVICE USER TOKENFILE OPS...: sets rc, out
    pt() {
        local service=$1 user=$2 tok=$3
        shift 3
        if [ -n "$SAN" ]; then
            out=$(timeout 60 "$conv" -d "$PAM_WORK/svc" "$service" "$user" "$@" <"$tok" 2>&1)
        else
            out=$(LD_PRELOAD="$wrapper" PAM_WRAPPER=1 PAM_WRAPPER_USE_SYSLOG=1 \
                PAM_WRAPPER_SERVICE_DIR="$PAM_WORK/svc" timeout 60 \
                pamtester -v "$service" "$user" "$@" <"$tok" 2>&1)
        fi
        rc=$?
    }
    driver="pamtester under pam_wrapper"
    [ -n "$SAN" ] && driver="pam-askpass-conv (sanitizer build: no pam_wrapper)"
    pt sshd agent-alpha "$w/alpha" authenticate acct_mgmt
    [ "$rc" -eq 0 ] && tap_ok "pam: agent-alpha logs in to sshd (auth, account) through $driver" ||
        tap_fail "pam: agent-alpha logs in to sshd (auth, account) through $driver" "$out"
    pt sshd agent-alpha "$w/alpha" authenticate
    [ "$rc" -eq 0 ] && tap_ok "pam: agent-alpha logs in to sshd again" ||
        tap_fail "pam: agent-alpha logs in to sshd again" "$out"
    pt sshd agent-beta "$w/beta" authenticate
    [ "$rc" -ne 0 ] && tap_ok "pam: agent-beta refused on sshd (no Host.Login)" ||
        tap_fail "pam: agent-beta refused on sshd (no Host.Login)" "$out"
    pt sudo agent-alpha "$w/alpha" authenticate
    [ "$rc" -ne 0 ] && tap_ok "pam: agent-alpha refused on sudo (no Host.Sudo)" ||
        tap_fail "pam: agent-alpha refused on sudo (no Host.Sudo)" "$out"
    pt sshd agent-beta "$w/alpha" authenticate
    [ "$rc" -ne 0 ] && tap_ok "pam: agent-alpha's token for user agent-beta refused" ||
        tap_fail "pam: agent-alpha's token for user agent-beta refused" "$out"
    wait_lines ': pam_openclaw(s[a-z]*:[a-z]*): event=' 6 ||
        tap_fail "the module's six lines reach the journal"
else
    tap_skip "pam_openclaw's own lines in the journal" "$pam_why"
fi

# --- second half: openclawd's own records, from the real daemon ---------------
wait_tick "$(date +%s)" || tap_fail "the clock advances"
tmid=$(date +%s)
A=$ALPHA_APP
O=$ALPHA_OID
RESOURCE_APP=6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d
ADMIN_APP=c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b
ADMIN_SECRET='aDm8Q~openclaw-demo-admin-secret.00000001'
ONE_APP=f1b3d5f7-9c2e-4b6a-8d0e-1f3a5b7c9d2e # agent-identity-one, synced from Graph
TWO_APP=f2c4e6a8-0d3f-4c7b-9e1a-2a4b6c8d0e3f # agent-identity-two, no role on the host at first
UA=1879048193                                # agent-alpha's uid
ocd_why=""
if [ ! -x "$OCD" ]; then
    ocd_why="openclawd not built"
elif ! command -v curl >/dev/null || ! "$OC_PY" -c 'import cryptography' 2>/dev/null; then
    ocd_why="curl or python3-cryptography missing (scripts/install-deps.sh)"
elif [ -z "${TENANT_DIR:-}" ] || ! kill -0 "$(cat "$TENANT_DIR/pid" 2>/dev/null)" 2>/dev/null; then
    tenant_start "$w/tenant" || ocd_why="the local tenant did not start"
fi
ND=0 # openclawd's and openclaw-sync's records
NS=0
NDD=0
WANT_DAEMON='{}'
ocd_req() { # JSON: one request as root on the daemon's socket
    req "$work/oc.sock" "$1"
}
ocd_token() { # UID: get-token on the socket as UID; TOKEN, REFUSED:CODE or CLOSED
    as_uid "$1" "$PY" "$CLIENT" "$work/oc.sock" json '{"type":"get-token"}' 2>/dev/null |
        "$PY" -c 'import json,sys; a=json.load(sys.stdin); print("TOKEN" if a.get("ok") else "REFUSED:%s" % a.get("error"))' 2>/dev/null ||
        echo CLOSED
}
ocd_mi() { # UID: the MI endpoint's status code for UID
    as_uid "$1" curl -sS -o /dev/null -w '%{http_code}' -H 'Metadata: true' \
        "http://127.0.0.1:$MIPORT/metadata/identity/oauth2/token?api-version=2018-02-01&resource=$RESOURCE_URI" 2>/dev/null
}
# the records in the journal of openclawd (the daemon user) and of root's
# openclaw-sync (the directory changes): N of them (bounded: 10 s)
ocd_records() {
    { "$JOURNALCTL" SYSLOG_FACILITY=10 SYSLOG_IDENTIFIER=openclawd _UID="$DU" --output=json \
        --no-pager --quiet 2>/dev/null
      "$JOURNALCTL" SYSLOG_FACILITY=10 SYSLOG_IDENTIFIER=openclaw-sync _UID=0 --output=json \
        --no-pager --quiet 2>/dev/null; } | "$PY" -c '
import json, sys
for l in sys.stdin:
    m = json.loads(l).get("MESSAGE")
    if isinstance(m, str) and m.startswith("event="):
        print(m)'
}
# a directory sync: root's openclaw-sync (what its timer and `openclawctl
# cache sync` run), logging into this namespace's journal
ocd_sync() { # OUT
    "$top_builddir/helper/sync/openclaw-sync" --config "$work/oc.conf" --force >"$1" 2>&1 && echo finished >>"$1"
}
wait_records() { # PATTERN N
    local i n
    for i in $(seq 1 100); do
        n=$(ocd_records | grep -c -- "$1")
        [ "${n:-0}" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
ocd_check() { # DESC WANT GOT
    if [ "$2" = "$3" ]; then tap_ok "$1 ($3)"; else tap_fail "$1" "want $2, got $3"; fi
}
if [ -z "$ocd_why" ]; then
    # the daemon runs as the daemon user: its tree, copies of the programs
    chmod 755 "$w"
    work=$w/ocd
    mkdir -p "$work/state" "$work/run"
    uid_copies "$work/bin"
    printf '%s\n' "$ALPHA_SECRET" >"$work/alpha.secret"
    printf '%s\n' "$ADMIN_SECRET" >"$work/admin.secret"
    MIPORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    {
        conf_global "$work/state" "$work/oc.sock" "$ISSUER_V2_LINE" "runtime_dir = $work/run" \
            "allow_insecure_credentials = yes" "mi_endpoint = 127.0.0.1:$MIPORT" \
            "trust_dir = $w/trust"
        conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $UA" \
            "credential = secret-file" "secret_file = $work/alpha.secret"
        conf_section "directory" "resource = $RESOURCE_APP" "graph_url = $TENANT_URL" \
            "graph_resource = https://graph.microsoft.com" "sync_interval = 3600" \
            "on_anomaly = disable-service-principal" "credential = secret-file" \
            "app_id = $ADMIN_APP" "secret_file = $work/admin.secret"
    } >"$work/oc.conf"
    chmod 644 "$work/oc.conf"
    chown -R "$DU:$DU" "$work/state" "$work/run" "$work/alpha.secret" "$work/admin.secret"
    chmod 600 "$work/alpha.secret" "$work/admin.secret"
    chown "$DU:$DU" "$work"
    if OCD_WRAPPER="setpriv --reuid=$DU --regid=$DU --clear-groups" helper_start ocd "$work/oc.conf"; then
        tap_ok "openclawd runs as the daemon user (uid $DU) in the namespace"
        # 1. a directory sync: every agent of the first sync is added
        ocd_sync "$work/sync1.out"
        NADD=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["agents"]))' \
            "$w/trust/directory.json" 2>/dev/null)
        grep -q '^finished$' "$work/sync1.out" && [ "${NADD:-0}" -ge 2 ] ||
            tap_fail "the first directory sync finishes" "$(cat "$work/sync1.out"; tail -5 "$work/ocd.log")"
        # 2. tokens handed out (socket, MI endpoint) and refused to a uid without an agent
        ocd_check "get-token as agent-alpha's uid: handed out" TOKEN "$(ocd_token $UA)"
        ocd_check "the MI endpoint as agent-alpha's uid: handed out" 200 "$(ocd_mi $UA)"
        ocd_check "get-token as a uid without an agent: refused" REFUSED:denied "$(ocd_token "$FU")"
        ocd_check "the MI endpoint as a uid without an agent: refused" 400 "$(ocd_mi "$FU")"
        # 3. the admin lock, a token refused under it, the unlock
        ocd_req '{"type":"agent-lock","agent":"agent-alpha"}' >/dev/null
        ocd_check "get-token while locked: refused" REFUSED:locked "$(ocd_token $UA)"
        ocd_req '{"type":"agent-unlock","agent":"agent-alpha"}' >/dev/null
        # 4. a session
        ocd_req '{"type":"session-open","agent":"agent-alpha"}' >/dev/null
        ocd_req '{"type":"session-close","agent":"agent-alpha"}' >/dev/null
        # 5. an anomaly: the lockout, and the service principal disabled through Graph
        ocd_req '{"type":"anomaly","agent":"agent-alpha"}' >"$work/anomaly.out"
        grep -q '"action": *"disable-service-principal"' "$work/anomaly.out" ||
            tap_fail "the anomaly response starts" "$(cat "$work/anomaly.out")"
        # pam_openclaw's request to root's openclaw-sync, which disables it
        install -d -m 0700 "$w/trust/anomalies"
        install -m 0600 /dev/null "$w/trust/anomalies/agent-alpha"
        ocd_sync "$work/sync-anomaly.out"
        wait_records '^event=sp-disable ' 1 ||
            tap_fail "the anomaly response's outcome is recorded" "$(tail -5 "$work/ocd.log")"
        ocd_check "get-token after the anomaly: refused" REFUSED:locked-out "$(ocd_token $UA)"
        # 6. a second service principal disabled in Entra, seen by the next sync
        tenant_ctl POST disable-sp "{\"appId\":\"$ONE_APP\"}" >/dev/null
        ocd_sync "$work/sync2.out"
        wait_records '^event=agent-disabled ' 2 ||
            tap_fail "the sync records both disabled service principals" "$(cat "$work/sync2.out"; ocd_records | tail -5)"
        # 7. Entra grants roles (a new agent, a second role) and enables again, then withdraws
        HOST_APP=$RESOURCE_APP
        g2=$(tenant_ctl POST assignments "{\"principalAppId\":\"$TWO_APP\",\"resourceAppId\":\"$HOST_APP\",\"appRole\":\"Host.Login\"}" | json_get id)
        g1=$(tenant_ctl POST assignments "{\"principalAppId\":\"$ONE_APP\",\"resourceAppId\":\"$HOST_APP\",\"appRole\":\"Host.Sudo\"}" | json_get id)
        tenant_ctl POST enable-sp "{\"appId\":\"$ONE_APP\"}" >/dev/null
        ocd_sync "$work/sync3.out"
        wait_records '^event=role-granted ' 1 && wait_records '^event=agent-enabled ' 1 ||
            tap_fail "the sync records the granted role and the enabled agent" "$(cat "$work/sync3.out"; ocd_records | tail -5)"
        for id in $g2 $g1; do
            tenant_ctl POST assignments/remove "{\"id\":\"$id\"}" >/dev/null
        done
        ocd_sync "$work/sync4.out"
        wait_records '^event=role-withdrawn ' 1 && wait_records '^event=agent-removed ' 1 ||
            tap_fail "the sync records the withdrawn role and the removed agent" "$(cat "$work/sync4.out"; ocd_records | tail -5)"
        helper_stop "$HELPER_PID_ocd" >/dev/null
        # what the daemon wrote, one record per decision:
        # (event, via, result, reason): count
        ND=$((NADD + 19))
        NS=$((NADD + 8)) # of them root's openclaw-sync's: the directory changes, sp-disable
        NDD=$((ND - NS)) # and openclawd's
        WANT_DAEMON="{('agent-added', 'sync', 'success', 'sync'): $((NADD + 1)),
 ('role-granted', 'sync', 'success', 'sync'): 1, ('agent-enabled', 'sync', 'success', 'sync'): 1,
 ('role-withdrawn', 'sync', 'success', 'sync'): 1, ('agent-removed', 'sync', 'success', 'sync'): 1,
 ('token', 'socket', 'success', 'ok'): 1, ('token', 'mi', 'success', 'ok'): 1,
 ('token', 'socket', 'failure', 'denied'): 1, ('token', 'mi', 'failure', 'denied'): 1,
 ('lock', 'socket', 'success', 'admin'): 1, ('token', 'socket', 'failure', 'locked'): 1,
 ('unlock', 'socket', 'success', 'admin'): 1,
 ('session-open', 'socket', 'success', 'ok'): 1, ('session-close', 'socket', 'success', 'ok'): 1,
 ('anomaly', 'socket', 'success', 'lockout'): 1, ('sp-disable', 'sync', 'success', 'anomaly'): 1,
 ('token', 'socket', 'failure', 'locked-out'): 1, ('agent-disabled', 'sync', 'success', 'sync'): 2}"
        export WANT_DAEMON UA DU FU ALPHA_APP ALPHA_OID
        wait_records '^event=' "$ND" || tap_fail "the daemon's $ND records reach the journal"
        ocd_records >"$work/records"
        sed 's/^/# openclawd: /' "$work/records" # for the log
        if "$PY" - "$work/records" 2>"$w/py.err" <<'EOF'; then
import ast, os, re, sys
E = os.environ
recs = []
for line in open(sys.argv[1]):
    f = dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))
    # pam_openclaw's nine keys in order, then openclawd's caller fields
    assert list(f)[:13] == ["event", "service", "user", "agent_app_id", "agent_oid", "token_uti",
                            "rhost", "result", "reason", "caller_uid", "caller_pid", "via",
                            "scope"], line
    # the directory's changes are root's openclaw-sync's; the rest openclawd's
    assert f["service"] == ("openclaw-sync" if f["via"] == "sync" else "openclawd"), line
    recs.append(f)
got = {}
for f in recs:
    k = (f["event"], f["via"], f["result"], f["reason"])
    got[k] = got.get(k, 0) + 1
want = ast.literal_eval(E["WANT_DAEMON"])
assert got == want, (sorted(got.items()), sorted(want.items()))
ok = [f for f in recs if f["event"] == "token" and f["result"] == "success"]
for f in ok:
    assert f["user"] == "agent-alpha" and f["caller_uid"] == E["UA"], f
    assert f["agent_app_id"] == E["ALPHA_APP"] and f["agent_oid"] == E["ALPHA_OID"], f
    assert f["scope"] == "api://openclaw-host/.default", f
sock = [f for f in ok if f["via"] == "socket"][0]
assert sock["caller_pid"].isdigit(), sock  # the kernel's pid of the peer
assert [f for f in ok if f["via"] == "mi"][0]["caller_pid"] == "-"  # TCP: no pid
denied = [f for f in recs if f["reason"] == "denied"]
assert all(f["caller_uid"] == E["FU"] and f["user"] == "-" for f in denied), denied
lock = [f for f in recs if f["event"] in ("lock", "unlock", "session-open", "anomaly")]
assert all(f["caller_uid"] == "0" and f["user"] == "agent-alpha" for f in lock), lock
sync = [f for f in recs if f["via"] == "sync"]
assert all(f["caller_uid"] == "-" and f["caller_pid"] == "-" for f in sync), sync
dis = sorted(f["user"] for f in recs if f["event"] == "agent-disabled")
assert dis[0] == "agent-alpha" and len(dis) == 2, dis
one = {f["event"]: f for f in recs if f["user"] == dis[1]}
assert one["role-granted"]["detail"] == '"role Host.Sudo"', one
assert one["role-withdrawn"]["detail"] == '"role Host.Sudo"', one
assert "agent-enabled" in one, one
two = [f for f in recs if f["event"] in ("agent-removed", "agent-added") and f["user"] not in dis]
assert any(f["event"] == "agent-removed" and f["user"] in [g["user"] for g in two if g["event"] == "agent-added"] for f in two), two
EOF
            tap_ok "the journal's authpriv holds openclawd's $ND records, one per decision, with their fields"
        else
            tap_fail "the journal's authpriv holds openclawd's records, one per decision" \
                "$(cat "$w/py.err"; cat "$work/records")"
        fi
        # as root they would count too; the prose lines stay on stderr, not authpriv
        n=$("$JOURNALCTL" SYSLOG_FACILITY=10 --no-pager --quiet 2>/dev/null | grep -c 'openclawd.*audit: ')
        ocd_check "no prose 'audit:' line of the daemon in authpriv" 0 "$n"
    else
        tap_fail "openclawd runs as the daemon user (uid $DU) in the namespace" "$(cat "$work/ocd.log")"
    fi
else
    tap_skip "openclawd's own records in the journal" "$ocd_why"
fi

# --- lines like openclawctl's, and hostile ones -----------------------------------
rec() { # EVENT SERVICE USER RESULT REASON
    printf 'event=%s service=%s user=%s agent_app_id=%s agent_oid=%s token_uti=u1 rhost=- result=%s reason=%s' \
        "$1" "$2" "$3" "$A" "$O" "$4" "$5"
}
logger -p authpriv.notice -t openclawctl "$(rec unlock openclawctl agent-beta success admin)"
# not authpriv: never read
logger -p user.notice -t openclawd "$(rec auth helper agent-other success ok)"
logger -p daemon.notice -t sshd "pam_openclaw(sshd:auth): $(rec auth sshd agent-other success ok)"
# authpriv, not ours: read and passed over
logger -p authpriv.info -t CRON "pam_unix(cron:session): session opened for user root"
logger -p authpriv.notice -t evil "$(rec auth sshd agent-evil success ok)"
logger -p authpriv.notice -t openclawd-evil "$(rec auth sshd agent-evil success ok)"
# ours by name but forged or broken: counted as malformed only
logger -p authpriv.notice -t openclawd "$(rec auth sshd agent-evil failure role) result=success"
logger -p authpriv.notice -t openclawd "event=auth service=sshd user=agent-evil result=success reason=ok"
# not UTF-8: journalctl gives MESSAGE as bytes; malformed
logger -p authpriv.notice -t openclawd "$(rec auth sshd agent-evil success ok) detail=$(printf '\377')"
# an entry longer than openclawctl's cap for one JSON line (64 KiB): malformed
{
    echo "SYSLOG_IDENTIFIER=openclawd"
    echo "SYSLOG_FACILITY=10"
    echo "PRIORITY=5"
    echo "MESSAGE=$(rec auth sshd agent-evil success ok)"
    for i in $(seq 1 20); do echo "OC_PAD_$i=$(head -c 4000 /dev/zero | tr '\0' p)"; done
} >"$w/long.entry"
logger --journald="$w/long.entry"
# the trust rule: the same look-alikes from uid 0 count, from uid $FU they
# are untrusted (even a broken one); the daemon user's pam_openclaw-shaped
# line is untrusted (its openclawd records above count)
look1=$(rec auth helper agent-mallory success ok)
look2="pam_openclaw(sshd:auth): $(rec auth sshd agent-mallory success ok)"
logger -p authpriv.info -t openclawd "$look1"
logger -p authpriv.info -t sshd "$look2"
forge() { setpriv --reuid="$1" --regid="$1" --clear-groups logger "${@:2}"; }
forge "$FU" -p authpriv.info -t openclawd "$look1"
forge "$FU" -p authpriv.info -t sshd "$look2"
forge "$FU" -p authpriv.notice -t openclawd "event=auth service=sshd user=agent-mallory result=success"
forge "$DU" -p authpriv.info -t sshd "pam_openclaw(sshd:auth): $(rec auth sshd agent-epsilon success ok)"
wait_lines ' openclawd\[[0-9]*\]: event=auth' 5 || tap_fail "logger's lines reach the journal"
wait_lines ' sshd\[[0-9]*\]: pam_openclaw(sshd:auth): event=auth service=sshd user=agent-epsilon' 1 ||
    tap_fail "the daemon user's lines reach the journal"
wait_json '"OC_PAD_1"' 1 || tap_fail "the over-long entry reaches the journal"
wait_json '"MESSAGE":\[' 1 || tap_fail "the non-UTF-8 line reaches the journal (MESSAGE as bytes)"
t1=$(date +%s)

# --- openclawctl audit with no --file -------------------------------------------
# second half: openclawd's ND records, openclawctl's unlock (logger), two
# look-alikes from root
HALF2=$((ND + 3))
HALF2_LOGINS='[("agent-mallory", "helper", 1), ("agent-mallory", "sshd", 1)]'
# the events listed: openclawd's lock, unlock, anomaly, sp-disable and both
# agent-disabled, then openclawctl's unlock; of them agent-alpha's
WANT_EVENTS='[("unlock", "agent-beta", "admin")]'
ALPHA_EVENTS='[]'
NA=0 # openclawd's records about agent-alpha
if [ "$ND" -gt 0 ]; then
    WANT_EVENTS='[("lock", "agent-alpha", "admin"), ("unlock", "agent-alpha", "admin"), ("anomaly", "agent-alpha", "lockout"), ("sp-disable", "agent-alpha", "anomaly"), ("agent-disabled", "agent-alpha", "sync"), ("agent-disabled", "agent-identity-one", "sync"), ("unlock", "agent-beta", "admin")]'
    ALPHA_EVENTS='[("lock", "agent-alpha", "admin"), ("unlock", "agent-alpha", "admin"), ("anomaly", "agent-alpha", "lockout"), ("sp-disable", "agent-alpha", "anomaly"), ("agent-disabled", "agent-alpha", "sync")]'
    # added, 2 tokens, lock, locked, unlock, session-open/close, anomaly,
    # sp-disable, locked-out, disabled
    NA=12
fi
if [ "$pam_done" = yes ]; then
    # the module: auth + account, auth, three refused auths (six lines)
    WANT_RECORDS=$((6 + HALF2))
    WANT_LOGINS='[("agent-alpha", "sshd", 2), '${HALF2_LOGINS#\[}
    WANT_REFUSALS='{"role": 2, "user": 1}'
else
    WANT_RECORDS=$HALF2
    WANT_LOGINS=$HALF2_LOGINS
    WANT_REFUSALS='{}'
fi
export WANT_RECORDS WANT_LOGINS WANT_REFUSALS HALF2 HALF2_LOGINS SOURCE t0 tmid t1 DU FU ND NA NS NDD \
    WANT_EVENTS ALPHA_EVENTS WANT_DAEMON

out=$("$ctl" audit 2>&1)
rc=$?
[ "$rc" -eq 0 ] && tap_ok "audit with no --file exits 0" || tap_fail "audit with no --file exits 0" "$out"
has() { if printf '%s\n' "$out" | grep -q -- "$2"; then tap_ok "$1"; else tap_fail "$1" "$out"; fi; }
has "the source is the journal" "^source: *journal (journalctl --facility=authpriv)$"
if [ "$pam_done" = yes ]; then
    has "text: logins per agent and service" '^ *2  agent-alpha  sshd$'
    has "text: refusals by reason (role)" '^ *2  role$'
    has "text: refusals by reason (user)" '^ *1  user$'
fi
if [ "$ND" -gt 0 ]; then
    has "text: openclawd's table: a token handed out on the socket" '^ *1  token  via=socket  success  ok$'
    has "text: openclawd's table: a token handed out on the MI endpoint" '^ *1  token  via=mi  success  ok$'
    has "text: openclawd's table: a token refused under the admin lock" '^ *1  token  via=socket  failure  locked$'
    has "text: openclawd's table: the sync's disabled agents" '^ *2  agent-disabled  via=sync  success  sync$'
    has "text: the daemon's anomaly is listed" 'event=anomaly agent=agent-alpha service=openclawd result=success reason=lockout'
else
    has "text: no openclawd decisions" '^openclawd and openclaw-sync decisions by event, path, result and reason:$'
fi
has "text: the admin unlock is listed" 'event=unlock agent=agent-beta service=openclawctl result=success reason=admin'
has "text: forged and damaged lines counted as malformed" ', 4 MALFORMED'
has "text: the trusted senders are named" "^senders: *records counted only from uid 0 and from openclawd as openclaw (uid $DU)"
has "text: look-alikes from other uids counted as untrusted" '^untrusted: *4 UNTRUSTED (ignored)'
has "text: the forger's uid is named" " uid $FU (3, as 'openclawd', last pid [0-9]*)"
has "text: the daemon user's pam_openclaw look-alike is untrusted" " uid $DU (1, as 'sshd', last pid [0-9]*)"
has "text: the untrusted line says what it means" 'someone on this host forged these'
if printf '%s\n' "$out" | grep -q 'agent-evil\|agent-other'; then
    tap_fail "no forged, other-facility or other-program line summarised" "$out"
else
    tap_ok "no forged, other-facility or other-program line summarised"
fi

check_json() { # DESC PYTHON-ASSERTIONS [audit args...]
    local desc=$1 code=$2
    shift 2
    local j
    j=$("$ctl" audit --json "$@" 2>&1)
    if printf '%s' "$j" | "$PY" -c '
import ast, datetime, json, os, sys
d = json.load(sys.stdin)
E = os.environ
t0, tmid, t1 = int(E["t0"]), int(E["tmid"]), int(E["t1"])
def ts(s):
    return int(datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp())
def logins(d):
    return sorted((x["agent"], x["service"], x["count"]) for x in d["logins"])
def refusals(d):
    return {x["reason"]: x["count"] for x in d["refusals"]}
def daemon(d):
    return {(x["event"], x["via"], x["result"], x["reason"]): x["count"] for x in d["openclawd"]}
assert d["source"] == E["SOURCE"], d["source"]
'"$code" 2>"$w/py.err"; then
        tap_ok "$desc"
    else
        tap_fail "$desc" "$(cat "$w/py.err") $j"
    fi
}
check_json "--json: source, counts and reasons exactly" '
assert d["records"] == int(E["WANT_RECORDS"]), d["records"]
assert d["malformed"] == 4, d["malformed"]
assert d["untrusted"] == 4, d["untrusted"]
DU, FU = int(E["DU"]), int(E["FU"])
assert d["trusted_uids"] == [0, DU], d["trusted_uids"]
assert sorted((x["uid"], x["count"], x["identifier"]) for x in d["untrusted_senders"]) == sorted([(FU, 3, "openclawd"), (DU, 1, "sshd")]), d["untrusted_senders"]
assert d["untrusted_others"] == 0, d
assert all(isinstance(x["last_pid"], int) and x["last_pid"] > 1 for x in d["untrusted_senders"]), d
assert logins(d) == sorted(ast.literal_eval(E["WANT_LOGINS"])), logins(d)
assert refusals(d) == ast.literal_eval(E["WANT_REFUSALS"]), refusals(d)
assert d["errors"] == [], d["errors"]
assert [(e["event"], e["agent"], e["reason"]) for e in d["events"]] == ast.literal_eval(E["WANT_EVENTS"]), d["events"]
assert daemon(d) == ast.literal_eval(E["WANT_DAEMON"]), sorted(daemon(d).items())
'
if [ "$pam_done" = yes ]; then
    check_json "--json: the time range is the first and last record (journal clock)" '
assert t0 <= ts(d["first"]) <= tmid, (t0, d["first"], tmid)
assert tmid <= ts(d["last"]) <= t1, (tmid, d["last"], t1)
'
else
    check_json "--json: the time range is the first and last record (journal clock)" '
assert tmid <= ts(d["first"]) <= ts(d["last"]) <= t1, (tmid, d["first"], d["last"], t1)
'
fi
check_json "--since @EPOCH: only the second half" '
assert d["records"] == int(E["HALF2"]), d
assert logins(d) == sorted(ast.literal_eval(E["HALF2_LOGINS"])), d
assert d["refusals"] == [] and d["malformed"] == 4 and d["untrusted"] == 4, d
assert daemon(d) == ast.literal_eval(E["WANT_DAEMON"]), d
assert ts(d["first"]) >= tmid, d
' --since "@$tmid"
check_json "--since YYYY-MM-DDTHH:MM:SSZ: the same" '
assert d["records"] == int(E["HALF2"]), d
assert logins(d) == sorted(ast.literal_eval(E["HALF2_LOGINS"])), d
' --since "$(date -u -d "@$tmid" +%Y-%m-%dT%H:%M:%SZ)"
check_json "--agent: untrusted look-alikes are counted whatever the agent" '
assert d["records"] == 2 and d["untrusted"] == 4, d
assert logins(d) == [("agent-mallory", "helper", 1), ("agent-mallory", "sshd", 1)], d
' --since "@$tmid" --agent agent-mallory
check_json "--daemon-user another user: the daemon's records are untrusted too (root's openclaw-sync's stay)" '
NDD, NS = int(E["NDD"]), int(E["NS"])
assert d["records"] == int(E["WANT_RECORDS"]) - NDD, d
assert d["untrusted"] == 4 + NDD and d["trusted_uids"] == [0], d
assert sorted((x["uid"], x["count"]) for x in d["untrusted_senders"]) == sorted([(int(E["FU"]), 3), (int(E["DU"]), 1 + NDD)]), d
assert sum(x["count"] for x in d["openclawd"]) == NS and all(x["via"] == "sync" for x in d["openclawd"]), d
' --daemon-user oc-no-such-user
out=$("$ctl" audit --daemon-user oc-no-such-user 2>&1)
has "text: a missing daemon user is named" "^senders: *records counted only from uid 0 (no user oc-no-such-user here"
check_json "--since -1h: everything" '
assert d["records"] == int(E["WANT_RECORDS"]), d
' --since -1h
if [ "$pam_done" = yes ]; then
    check_json "--agent agent-alpha" '
assert d["records"] == 4 + int(E["NA"]), d
assert logins(d) == [("agent-alpha", "sshd", 2)], d
assert refusals(d) == {"role": 1}, d
assert [(e["event"], e["agent"], e["reason"]) for e in d["events"]] == ast.literal_eval(E["ALPHA_EVENTS"]), d
assert sum(x["count"] for x in d["openclawd"]) == int(E["NA"]), d
' --agent agent-alpha
    check_json "--agent agent-beta" '
assert d["records"] == 3, d
assert logins(d) == [], d
assert refusals(d) == {"role": 1, "user": 1}, d
assert [e["event"] for e in d["events"]] == ["unlock"], d
' --agent agent-beta
    check_json "--agent agent-alpha --since @EPOCH: openclawd's records only" '
assert d["records"] == int(E["NA"]) and d["logins"] == [] and d["refusals"] == [], d
assert sum(x["count"] for x in d["openclawd"]) == int(E["NA"]), d
' --agent agent-alpha --since "@$tmid"
    # the module's own copy of its lines (test builds) gives the same summary
    if [ -n "${OPENCLAW_TEST_AUDIT_FILE:-}" ]; then
        a=$("$ctl" audit --json --file "$OPENCLAW_TEST_AUDIT_FILE" | "$PY" -c '
import json, sys; d = json.load(sys.stdin); print(d["records"], sorted((x["agent"], x["count"]) for x in d["logins"]), sorted((x["reason"], x["count"]) for x in d["refusals"]))')
        b=$("$ctl" audit --json --since "@$t0" | "$PY" -c '
import json, os, sys; d = json.load(sys.stdin); print(d["records"] - int(os.environ["HALF2"]), sorted((x["agent"], x["count"]) for x in d["logins"] if x["agent"] in ("agent-alpha", "agent-beta")), sorted((x["reason"], x["count"]) for x in d["refusals"]))')
        if [ -n "$a" ] && [ "$a" = "$b" ]; then
            tap_ok "the journal holds every line the module logged ($a)"
        else
            tap_fail "the journal holds every line the module logged" "module: $a journal: $b"
        fi
    fi
    if "$JOURNALCTL" --facility=authpriv --no-pager --quiet -o short-iso | grep -q ' pam_openclaw(sshd:auth): event=auth service=sshd user=agent-alpha .* result=success reason=ok\( \|$\)'; then
        tap_ok "the module's lines are in the journal as pam_syslog wrote them"
    else
        tap_fail "the module's lines are in the journal as pam_syslog wrote them" \
            "$("$JOURNALCTL" --facility=authpriv --no-pager --quiet -o short-iso | tail -n 20)"
    fi
fi

# --- journalctl's short-iso offset without a colon -------------------------------
# openclawctl gives journalctl no TZ: it prints local time with "+HHMM".
zone=/usr/share/zoneinfo/Asia/Kolkata
if [ -e /etc/localtime ] && [ -f "$zone" ]; then
    ref=$("$ctl" audit --json)
    mount --bind "$zone" /etc/localtime
    raw=$(env -i PATH=/usr/bin:/bin LC_ALL=C "$JOURNALCTL" --facility=authpriv --output=short-iso \
        --no-pager --quiet | grep 'event=' | head -n 1)
    case $raw in
    [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]+0530\ *)
        tap_ok "journalctl prints short-iso as YYYY-MM-DDTHH:MM:SS+0530"
        ;;
    *) tap_fail "journalctl prints short-iso as YYYY-MM-DDTHH:MM:SS+0530" "$raw" ;;
    esac
    now=$("$ctl" audit --json)
    if [ -n "$ref" ] && [ "$ref" = "$now" ]; then
        tap_ok "the same summary and UTC range with local time +0530"
    else
        tap_fail "the same summary and UTC range with local time +0530" "before: $ref
after:  $now"
    fi
    umount /etc/localtime
else
    tap_skip "journalctl's +HHMM offsets" "no /etc/localtime or tzdata"
fi

stop_journald
left=$(journald_pids)
if [ -z "$left" ]; then
    tap_ok "journald stopped by its PID"
else
    tap_fail "journald stopped by its PID" "still running: $left"
fi
