# tests/integration/helper-lib.sh: start and talk to openclawd in tests (sourced).
#   helper_start NAME CONFIG [ARGS...]  start openclawd (--allow-root; under $OCD_WRAPPER
#                                       when set), wait for its socket;
#                                       sets HELPER_PID_<NAME>; log in $work/NAME.log
#   helper_stop PID                     SIGTERM by PID, bounded wait; returns the exit status
#   as_uid UID CMD...                   run CMD with real+effective uid/gid UID, no groups
#   uid_copies DIR [FILE...]            copies of the programs other uids run (OCD, OCT,
#                                       CTL, ASKPASS, CLIENT then name them; each FILE
#                                       as DIR/its name): never the tree
#   req SOCKET JSON                     one raw request, prints the answer or CLOSED
#   wait_for SECONDS CMD...             retry CMD every 0.2 s, bounded
#   jwt_claim TOKEN CLAIM               prints a claim of a JWT payload (no verification)
#   conf_global STATE_DIR SOCKET [LINE...]  prints the [global] section of a daemon
#                                       test against the local tenant, plus LINEs
#   conf_agent NAME APP_ID OBJECT_ID [LINE...]  prints an [agent NAME] section
#   conf_section HEADER [LINE...]       prints [HEADER] and its LINEs
OCD="$top_builddir/helper/daemon/openclawd"
OCT="$top_builddir/helper/client/openclaw-token"
CLIENT="$top_srcdir/tests/integration/helper_client.py"
PY=${PYTHON3:-/usr/bin/python3}
OCD_WRAPPER=${OCD_WRAPPER:-}

helper_start() {
    local name=$1 conf=$2 sock i pid
    shift 2
    sock=$(sed -n 's/^socket *= *//p' "$conf")
    # OCD_WRAPPER: e.g. "valgrind --error-exitcode=99 --leak-check=full -q"
    $OCD_WRAPPER "$OCD" --config "$conf" --foreground --allow-root "$@" >"$work/$name.log" 2>&1 &
    pid=$!
    eval "HELPER_PID_$name=$pid"
    # Ready when its log says it listens: a socket file alone may be the one
    # a killed predecessor left behind (the new daemon replaces it, but may
    # not have got that far, nor blocked its signals yet).
    for i in $(seq 1 300); do
        [ -S "$sock" ] && grep -q "listening on" "$work/$name.log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

helper_stop() {
    local pid=$1 i rc
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 150); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            return $?
        fi
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 137
}

as_uid() {
    local uid=$1
    shift
    setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
}

# uid_copies DIR [FILE...]: what tests run under other uids, copied into
# DIR (made 0755 inside the test's own temporary directory): openclawd,
# openclaw-token, openclawctl, openclaw-askpass and helper_client.py. OCD,
# OCT, CTL, ASKPASS and CLIENT then name the copies and UID_BIN the
# directory (for PATH). Each FILE (a test's own script or data file) is
# copied too, as DIR/its name (0755 when executable, else 0644). The source
# and build trees may sit where no other uid can enter (a clone in /root,
# mode 0700): a program run under another uid never reads from them. A
# program that is not built is not copied (the test's own checks skip or
# fail); a copy that fails ends the test.
uid_copies() {
    local dir=$1 f mode
    shift
    install -d -m 0755 "$dir" || uid_copies_failed "$dir"
    for f in "$top_builddir/helper/daemon/openclawd" "$top_builddir/helper/client/openclaw-token" \
        "$top_builddir/helper/ctl/openclawctl" "$top_srcdir/helper/client/openclaw-askpass" \
        "$top_srcdir/tests/integration/helper_client.py" "$@"; do
        case $f in
        "$top_builddir"/helper/* | "$top_srcdir"/helper/*) [ -f "$f" ] || continue ;;
        esac
        mode=0644
        [ ! -x "$f" ] || mode=0755
        install -m "$mode" "$f" "$dir/" || uid_copies_failed "$dir"
    done
    UID_BIN=$dir
    CLIENT=$dir/helper_client.py
    ASKPASS=$dir/openclaw-askpass
    [ ! -f "$dir/openclawd" ] || OCD=$dir/openclawd
    [ ! -f "$dir/openclaw-token" ] || OCT=$dir/openclaw-token
    [ ! -f "$dir/openclawctl" ] || CTL=$dir/openclawctl
    return 0
}
uid_copies_failed() {
    echo "Bail out! cannot copy the programs other uids run into $1 (disk full?)"
    exit 1
}

req() {
    "$PY" "$CLIENT" "$1" json "$2"
}

wait_for() {
    local secs=$1 i
    shift
    for i in $(seq 1 $((secs * 5))); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

jwt_claim() {
    "$PY" -c '
import base64, json, sys
p = sys.argv[1].split(".")[1]
p += "=" * (-len(p) % 4)
v = json.loads(base64.urlsafe_b64decode(p)).get(sys.argv[2])
print("" if v is None else v)
' "$1" "$2"
}

# The [global] section every openclawd test starts from: the local tenant
# (tests/lib/tenant.sh) and its CA. Each LINE ("key = value") is added as
# it is; ISSUER_V2_LINE is the one for the issuer the tenant signs v2
# tokens with (tests that verify v2 tokens or use OIDC discovery add it).
ISSUER_V2_LINE='issuer_v2 = https://login.microsoftonline.com/{tenantid}/v2.0'
conf_global() {
    local state=$1 sock=$2
    shift 2
    printf '[global]\ntenant_id = %s\nauthority = %s\n' "$TENANT_ID" "$TENANT_URL"
    printf 'audiences = %s\nstate_dir = %s\nsocket = %s\nca_file = %s\n' \
        "$RESOURCE_URI" "$state" "$sock" "$TENANT_CA"
    # root's trust_dir (openclaw-sync writes the directory, the NSS cache and
    # the keys there) next to the daemon's state_dir, never the host's,
    # unless a LINE names one
    case " $* " in
    *" trust_dir = "*) ;;
    *) printf 'trust_dir = %s-trust\n' "$state" ;;
    esac
    [ $# -eq 0 ] || printf '%s\n' "$@"
    echo
}

# One [agent NAME] section; each LINE ("key = value") is added as it is.
conf_agent() {
    local name=$1 app=$2 oid=$3
    shift 3
    printf '[agent %s]\napp_id = %s\nobject_id = %s\n' "$name" "$app" "$oid"
    [ $# -eq 0 ] || printf '%s\n' "$@"
    echo
}

# Any other section: [HEADER] ("service sshd", "directory", "roles").
conf_section() {
    printf '[%s]\n' "$1"
    shift
    [ $# -eq 0 ] || printf '%s\n' "$@"
    echo
}

# sync_now CONF: root's openclaw-sync --force on CONF (what its timer, or
# `openclawctl cache sync`, does): the directory, the NSS cache and the keys
# into trust_dir. Its output goes to $work/sync.log.
sync_now() {
    "$top_builddir/helper/sync/openclaw-sync" --config "$1" --force >>"$work/sync.log" 2>&1
}
