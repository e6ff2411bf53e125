#!/bin/bash
# mi_endpoint = imds (docs/mi-endpoint.md, "Azure IMDS's own address"), in
# private network and mount namespaces the test made (the host's loopback
# is never touched):
#  - openclawctl imds-address add puts 169.254.169.254/32 on lo, scope
#    host (again: still there once), remove takes it off;
#  - add is refused (exit 1, the message) where a fake IMDS answers on
#    169.254.169.254:80, and where a fake Azure Arc agent answers on
#    127.0.0.1:40342;
#  - openclawd, under an unprivileged uid, takes the listening socket as
#    systemd hands it over (LISTEN_FDS; socket_activate.py does what
#    openclawd-imds.socket does) and answers the documented IMDS curl
#    command verbatim: each agent's uid gets its own token, a human and
#    root get IMDS's refusal, no Metadata header gets bad_request_102;
#  - openclawd without a socket from systemd, or with one bound elsewhere,
#    exits with the fix;
#  - a caller in another network namespace, routed to 169.254.169.254
#    through a veth pair, gets no token.
# Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/lib/tap.sh"

if [ "${1:-}" != --inner ]; then
    [ "$(id -u)" = 0 ] || tap_skip_all "needs root (network namespaces, port 80, other uids)"
    for t in unshare nsenter setpriv ip curl; do
        command -v "$t" >/dev/null 2>&1 || tap_skip_all "$t missing (scripts/install-deps.sh)"
    done
    /usr/bin/python3 -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
    unshare --net --mount --propagation private true 2>/dev/null || tap_skip_all "unshare --net --mount not permitted here"
    exec unshare --net --mount --propagation private bash "$0" --inner
fi

. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"
ip link set lo up
CTL=$top_builddir/helper/ctl/openclawctl
[ -x "$OCD" ] && [ -x "$CTL" ] || tap_skip_all "openclawd or openclawctl not built"

IMDS=169.254.169.254
UID_D=4241       # the daemon (the "openclaw" user in production)
UID_A=1879048193 # agent-alpha
UID_B=1879048194 # agent-beta
UID_HUMAN=4243
work=$(mktemp -d "${TMPDIR:-/tmp}/oc-imds.XXXXXX")
chmod 755 "$work"
uid_copies "$work/bin"
HELPER_PID_imds="" fake_pid="" peer_pid=""
cleanup() {
    helper_stop "$HELPER_PID_imds"
    [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null
    [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT

on_lo() { ip -4 -o addr show dev lo | grep -q " $IMDS/32 scope host"; }

# --- the address: add, again, remove -------------------------------------------
out=$("$CTL" imds-address add 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && on_lo; then
    tap_ok "imds-address add: $IMDS/32 on lo, scope host"
else
    tap_fail "imds-address add: $IMDS/32 on lo, scope host" "rc=$rc $out $(ip -4 -o addr show dev lo)"
fi
out=$("$CTL" imds-address add 2>&1)
rc=$?
[ "$rc" -eq 0 ] && on_lo && [ "$(ip -4 -o addr show dev lo | grep -c " $IMDS/32")" = 1 ] &&
    tap_ok "imds-address add again: exit 0, the address once" ||
    tap_fail "imds-address add again" "rc=$rc $out"
out=$("$CTL" imds-address remove 2>&1)
rc=$?
[ "$rc" -eq 0 ] && ! on_lo && tap_ok "imds-address remove: off lo" || tap_fail "imds-address remove" "rc=$rc $out"
out=$("$CTL" imds-address remove 2>&1)
[ $? -eq 0 ] && tap_ok "imds-address remove again: nothing to do, exit 0" || tap_fail "imds-address remove again" "$out"
out=$(setpriv --reuid="$UID_HUMAN" --regid="$UID_HUMAN" --clear-groups "$work/bin/openclawctl" imds-address add 2>&1)
rc=$?
[ "$rc" -eq 1 ] && printf '%s' "$out" | grep -q "needs root" && ! on_lo &&
    tap_ok "imds-address add as another uid: refused, needs root" ||
    tap_fail "imds-address add as another uid: refused" "rc=$rc $out"

# --- refused where a real one answers ----------------------------------------
fake_http() { # ADDR PORT: a server answering every request with IMDS-like JSON
    "$PY" - "$1" "$2" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"compute": {"azEnvironment": "AzurePublicCloud"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
PY
    fake_pid=$!
    for _ in $(seq 1 50); do
        curl -s -o /dev/null --max-time 1 "http://$1:$2/" && return 0
        sleep 0.1
    done
    return 1
}
fake_stop() {
    kill "$fake_pid" 2>/dev/null
    wait "$fake_pid" 2>/dev/null
    fake_pid=""
}
ip addr add "$IMDS/32" dev lo # where a real IMDS would be reached
if fake_http "$IMDS" 80; then
    out=$("$CTL" imds-address add 2>&1)
    rc=$?
    [ "$rc" -eq 1 ] && printf '%s' "$out" | grep -q "a real instance metadata service answers on $IMDS:80 (an Azure VM): mi_endpoint = imds is refused" &&
        tap_ok "a fake IMDS answers on $IMDS:80: add refused (exit 1), the message says why and what instead" ||
        tap_fail "a fake IMDS answers: add refused" "rc=$rc $out"
else
    tap_fail "a fake IMDS answers: add refused" "the fake IMDS did not start"
fi
fake_stop
ip addr del "$IMDS/32" dev lo
if fake_http 127.0.0.1 40342; then
    out=$("$CTL" imds-address check 2>&1)
    rc=$?
    [ "$rc" -eq 1 ] && printf '%s' "$out" | grep -q "the Azure Arc agent (himds) answers on 127.0.0.1:40342" &&
        tap_ok "a fake Arc agent answers on 127.0.0.1:40342: check refuses (exit 1)" ||
        tap_fail "a fake Arc agent answers: check refuses" "rc=$rc $out"
else
    tap_fail "a fake Arc agent answers: check refuses" "the fake himds did not start"
fi
fake_stop
out=$("$CTL" imds-address check 2>&1)
[ $? -eq 0 ] && tap_ok "nothing answers: check passes (exit 0)" || tap_fail "nothing answers: check passes" "$out"

# --- openclawd with the socket systemd hands over ---------------------------------
tenant_start "$work/tenant" || tap_setup_fail "the local tenant did not start"
printf '%s\n' "$ALPHA_SECRET" >"$work/alpha.secret"
printf '%s\n' "$BETA_SECRET" >"$work/beta.secret"
chmod 600 "$work/alpha.secret" "$work/beta.secret"
chown "$UID_D" "$work/alpha.secret" "$work/beta.secret"
mkdir -p "$work/state" "$work/run"
chown "$UID_D" "$work/state" "$work/run"
conf=$work/imds.conf
{
    conf_global "$work/state" "$work/run/openclawd.sock" "allow_insecure_credentials = yes" \
        "mi_endpoint = imds"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $UID_A" \
        "credential = secret-file" "secret_file = $work/alpha.secret"
    conf_agent agent-beta "$BETA_APP" "$BETA_OID" "uid = $UID_B" "credential = secret-file" \
        "secret_file = $work/beta.secret"
} >"$conf"
chmod 644 "$conf"
SA=$top_srcdir/tests/integration/socket_activate.py

# openclawd without a socket from systemd: exits, says which unit to enable
timeout 20 setpriv --reuid="$UID_D" --regid="$UID_D" --clear-groups "$OCD" --config "$conf" \
    --foreground >"$work/nosock.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "mi_endpoint = imds: systemd passed no socket: systemctl enable --now openclawd-imds.socket" "$work/nosock.log" &&
    tap_ok "mi_endpoint = imds without a socket from systemd: openclawd exits ($rc), naming openclawd-imds.socket" ||
    tap_fail "mi_endpoint = imds without a socket: openclawd exits with the fix" "rc=$rc $(cat "$work/nosock.log")"
# a socket on another address: refused
timeout 20 "$PY" "$SA" 127.0.0.1 0 setpriv --reuid="$UID_D" --regid="$UID_D" --clear-groups \
    "$OCD" --config "$conf" --foreground >"$work/wrongsock.log" 2>&1
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "listens on $IMDS:80" "$work/wrongsock.log" &&
    tap_ok "a socket from systemd bound elsewhere: openclawd exits ($rc), naming ListenStream=$IMDS:80" ||
    tap_fail "a socket bound elsewhere: openclawd exits" "rc=$rc $(cat "$work/wrongsock.log")"

"$CTL" imds-address add >/dev/null 2>&1 || tap_setup_fail "imds-address add failed"
"$PY" "$SA" "$IMDS" 80 setpriv --reuid="$UID_D" --regid="$UID_D" --clear-groups \
    "$OCD" --config "$conf" --foreground >"$work/imds.log" 2>&1 &
HELPER_PID_imds=$!
up() { [ -S "$work/run/openclawd.sock" ] && grep -q "listening on" "$work/imds.log"; }
if wait_for 30 up && grep -q "managed-identity endpoint on http://$IMDS:80, Azure IMDS's own address on lo" "$work/imds.log" &&
    [ "$(stat -c %u /proc/"$HELPER_PID_imds")" = "$UID_D" ]; then
    tap_ok "openclawd (uid $UID_D, no privilege) serves http://$IMDS:80 with the socket handed over"
else
    tap_fail "openclawd serves http://$IMDS:80" "$(cat "$work/imds.log")"
    tap_done
    exit 1
fi

# The command Azure documents, verbatim but for the resource (the local
# tenant's host application), as uid U. Prints the body.
imds_curl() { # UID [EXTRA CURL ARGS...]
    local u=$1
    shift
    setpriv --reuid="$u" --regid="$u" --clear-groups \
        curl "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=$RESOURCE_URI" -H Metadata:true -s --max-time 10 "$@"
}
claim() { # JSON CLAIM: a claim of the access_token in JSON
    printf '%s' "$1" | "$PY" -c '
import base64, json, sys
t = json.load(sys.stdin)["access_token"].split(".")[1]
print(json.loads(base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))[sys.argv[1]])' "$2" 2>/dev/null
}
a=$(imds_curl "$UID_A")
[ "$(claim "$a" appid)" = "$ALPHA_APP" ] && [ "$(claim "$a" aud)" = "$RESOURCE_URI" ] &&
    tap_ok "agent-alpha's uid, the documented curl: agent-alpha's token" ||
    tap_fail "agent-alpha's uid gets its token" "$a $(tail -3 "$work/imds.log")"
b=$(imds_curl "$UID_B")
[ "$(claim "$b" appid)" = "$BETA_APP" ] &&
    tap_ok "agent-beta's uid, the same command: agent-beta's token, never alpha's" ||
    tap_fail "agent-beta's uid gets its own token" "$b"
b=$(setpriv --reuid="$UID_B" --regid="$UID_B" --clear-groups \
    curl "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=$RESOURCE_URI&client_id=$ALPHA_APP" -H Metadata:true -s --max-time 10)
[ -z "$(claim "$b" appid)" ] && printf '%s' "$b" | grep -q '"error"' &&
    tap_ok "agent-beta's uid naming agent-alpha's client_id: an IMDS error, no token" ||
    tap_fail "agent-beta's uid naming agent-alpha: refused" "$b"
h=$(imds_curl "$UID_HUMAN")
[ -z "$(claim "$h" appid)" ] && printf '%s' "$h" | grep -q '"error"' &&
    tap_ok "a human's uid: IMDS's refusal shape, no token ($(printf '%s' "$h" | head -c 120))" ||
    tap_fail "a human's uid: refused" "$h"
r=$(imds_curl 0)
[ -z "$(claim "$r" appid)" ] && printf '%s' "$r" | grep -q '"error"' &&
    tap_ok "root: IMDS's refusal, no token" || tap_fail "root: refused" "$r"
n=$(setpriv --reuid="$UID_A" --regid="$UID_A" --clear-groups \
    curl "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=$RESOURCE_URI" -s --max-time 10)
printf '%s' "$n" | grep -q 'bad_request_102' && tap_ok "no Metadata header: bad_request_102" ||
    tap_fail "no Metadata header: bad_request_102" "$n"

# --- a caller in another network namespace ------------------------------------
unshare --net sleep 600 &
peer_pid=$!
sleep 0.3
if ip link add oc-imds0 type veth peer name oc-imds1 netns "$peer_pid" 2>"$work/veth.err" &&
    ip addr add 10.213.0.1/24 dev oc-imds0 && ip link set oc-imds0 up &&
    nsenter -t "$peer_pid" -n sh -c 'ip link set lo up && ip addr add 10.213.0.2/24 dev oc-imds1 &&
        ip link set oc-imds1 up && ip route add 169.254.169.254/32 via 10.213.0.1'; then
    o=$(nsenter -t "$peer_pid" -n setpriv --reuid="$UID_A" --regid="$UID_A" --clear-groups \
        curl "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=$RESOURCE_URI" -H Metadata:true -s --max-time 5)
    # the connection reached openclawd (a local address takes any packet),
    # which found no local socket behind it and closed it unanswered
    if [ -z "$(claim "$o" appid)" ] && ! printf '%s' "$o" | grep -q access_token &&
        grep -q "mi endpoint: cannot identify the caller on port .*(Operation not permitted); connection closed" "$work/imds.log"; then
        tap_ok "agent-alpha's uid in another network namespace, routed to $IMDS: connection closed unanswered, no token"
    else
        tap_fail "a caller from another network namespace gets no token" "$o $(tail -3 "$work/imds.log")"
    fi
else
    tap_fail "a second network namespace with a veth pair" "$(cat "$work/veth.err")"
fi
kill "$peer_pid" 2>/dev/null
wait "$peer_pid" 2>/dev/null
peer_pid=""
grep -q "eyJ" "$work/imds.log" && tap_fail "no token in openclawd's log" "$(grep -c eyJ "$work/imds.log")" ||
    tap_ok "no token in openclawd's log"
helper_stop "$HELPER_PID_imds" && tap_ok "openclawd exits cleanly" || tap_fail "openclawd exits cleanly"
HELPER_PID_imds=""
"$CTL" imds-address remove >/dev/null 2>&1 && ! on_lo && tap_ok "imds-address remove after the daemon: off lo" ||
    tap_fail "imds-address remove after the daemon"
tap_done
