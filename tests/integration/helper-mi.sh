#!/bin/sh
# openclawd's managed-identity endpoint with the real Azure SDK: the daemon
# runs under an unprivileged uid (as in production) against the local
# tenant, with mi_endpoint on loopback; @azure/identity's unmodified
# ManagedIdentityCredential (Node) runs under the uids of two agents, a
# human and root (setpriv), pointed at the endpoint only through
# AZURE_POD_IDENTITY_AUTHORITY_HOST. Checks that each agent's uid gets its
# own token and never the other's, the IMDS wire format, the refusals
# (no Metadata header, wrong Host, forwarded requests, unknown uid, root),
# malformed and oversized requests (connection closed, daemon alive), one
# token request for parked waiters, the 5 s deadline, IPv6, and that no
# token reaches the log. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

NODE_DIR=$top_srcdir/tests/node
NODE=${NODE:-$(command -v node 2>/dev/null)}

[ "$(id -u)" = 0 ] || tap_skip_all "needs root (daemon and clients run under several uids with setpriv)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
command -v curl >/dev/null 2>&1 || tap_skip_all "curl missing"
[ -x "$OCD" ] || tap_skip_all "openclawd not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
[ -n "$NODE" ] || tap_skip_all "node missing (Node.js 18.20 or later: scripts/install-deps.sh)"
[ -f "$NODE_DIR/node_modules/@azure/identity/package.json" ] ||
    tap_skip_all "@azure/identity not installed: run scripts/install-deps.sh (npm ci in tests/node)"

UID_D=4240       # the daemon (the "openclaw" user in production)
UID_A=1879048193 # agent-alpha (secret-file)
UID_B=1879048194 # agent-beta (secret-file, no app role: still gets tokens)
UID_HUMAN=4242
TOKEN_PATH=/oauth2/v2.0/token
SCOPE="$RESOURCE_URI/.default"

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-mi.XXXXXX")
chmod 755 "$work"
uid_copies "$work/bin" # what runs under other uids: copies, never the tree
# the SDK too: the test's node script and the locked modules beside it
mkdir -m 0755 "$work/node"
cp -R "$NODE_DIR/mi-token.js" "$NODE_DIR/package.json" "$NODE_DIR/package-lock.json" \
    "$NODE_DIR/check-engines.js" "$NODE_DIR/node_modules" "$work/node/" &&
    chmod -R a+rX "$work/node" || uid_copies_failed "$work/node"
NODE_DIR=$work/node
mkdir -m 1777 "$work/out" # curl under the agents' uids writes its answers here
O=$work/out
HELPER_PID_mi=""
HELPER_PID_mi6=""
cleanup() {
    helper_stop "$HELPER_PID_mi"
    helper_stop "$HELPER_PID_mi6"
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { # [HOST]
    "$PY" -c '
import socket, sys
h = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
s = socket.socket(socket.AF_INET6 if ":" in h else socket.AF_INET)
s.bind((h, 0))
print(s.getsockname()[1])' "$@"
}

tenant_start "$work/tenant" || {
    echo "1..1"
    echo "not ok 1 - local tenant starts"
    exit 1
}

printf '%s\n' "$ALPHA_SECRET" >"$work/alpha.secret"
printf '%s\n' "$BETA_SECRET" >"$work/beta.secret"
chmod 600 "$work/alpha.secret" "$work/beta.secret"
chown "$UID_D" "$work/alpha.secret" "$work/beta.secret"

write_conf() { # FILE NAME MI_ENDPOINT
    mkdir -p "$work/$2-state" "$work/$2-run"
    chown "$UID_D" "$work/$2-state" "$work/$2-run"
    {
        conf_global "$work/$2-state" "$work/$2-run/openclawd.sock" \
            "allow_insecure_credentials = yes" "mi_endpoint = $3"
        conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $UID_A" \
            "credential = secret-file" "secret_file = $work/alpha.secret"
        conf_agent agent-beta "$BETA_APP" "$BETA_OID" "uid = $UID_B" "credential = secret-file" \
            "secret_file = $work/beta.secret"
    } >"$1"
    chmod 644 "$1"
}

# Start openclawd under UID_D (not root: sock_diag must work unprivileged).
mi_start() { # NAME CONF
    local name=$1 conf=$2 i pid
    sock=$(sed -n 's/^socket *= *//p' "$conf")
    # setpriv execs the daemon: $! is the daemon's PID.
    setpriv --reuid="$UID_D" --regid="$UID_D" --clear-groups $OCD_WRAPPER "$OCD" --config "$conf" \
        --foreground >"$work/$name.log" 2>&1 &
    pid=$!
    eval "HELPER_PID_$name=$pid"
    for i in $(seq 1 300); do
        [ -S "$sock" ] && grep -q "listening on" "$work/$name.log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

PORT=$(free_port)
EP=127.0.0.1:$PORT
write_conf "$work/mi.conf" mi "$EP"
S=$work/mi-run/openclawd.sock
LOG=$work/mi.log

if mi_start mi "$work/mi.conf" && grep -q "managed-identity endpoint on http://$EP" "$LOG"; then
    tap_ok "openclawd (uid $UID_D, not root) serves the managed-identity endpoint on $EP"
else
    tap_fail "openclawd serves the managed-identity endpoint" "$(cat "$LOG")"
    tap_done
    exit 1
fi

# The Azure SDK as uid U: node mi-token.js SCOPE [CLIENT_ID]; one JSON line.
sdk() { # UID [CLIENT_ID] [HOST]
    local uid=$1 cid=${2:-} host=${3:-http://$EP}
    as_uid "$uid" env -i PATH="$PATH" HOME=/nonexistent AZURE_POD_IDENTITY_AUTHORITY_HOST="$host" \
        "$NODE" "$NODE_DIR/mi-token.js" "$SCOPE" $cid 2>>"$work/node.err"
}
field() { # JSON FIELD
    printf '%s' "$1" | "$PY" -c '
import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
print("" if v is None else v)' "$2" 2>/dev/null
}
token_requests() { # CLIENT_ID
    tenant_ctl GET "requests?path=$TOKEN_PATH" | "$PY" -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin)["requests"] if r.get("client_id") == sys.argv[1]))' "$1"
}

# --- the real SDK, per uid --------------------------------------------------
# Which Node.js and SDK run here (Debian 12's nodejs 18.20, or a newer Node
# where one is installed), and that every locked package accepts Node 18.20.
echo "# node $("$NODE" --version), @azure/identity $("$PY" -c '
import json, sys
print(json.load(open(sys.argv[1]))["version"])' "$NODE_DIR/node_modules/@azure/identity/package.json")"
if engines=$("$NODE" "$NODE_DIR/check-engines.js" 18.20.0 "$("$NODE" --version)" 2>&1); then
    tap_ok "every package in package-lock.json runs on Debian 12's Node 18.20 and on this one ($(printf '%s' "$engines" | tr '\n' ';'))"
else
    tap_fail "every package in package-lock.json runs on Node 18.20 and on this one" "$engines"
fi
a=$(sdk $UID_A)
if [ "$(field "$a" ok)" = True ] && [ "$(field "$a" appid)" = "$ALPHA_APP" ] &&
    [ "$(field "$a" oid)" = "$ALPHA_OID" ] && [ "$(field "$a" aud)" = "$RESOURCE_URI" ]; then
    tap_ok "@azure/identity ManagedIdentityCredential as agent-alpha's uid: alpha's token (appid, oid, aud; $(field "$a" sdk) on node $(field "$a" node))"
else
    tap_fail "ManagedIdentityCredential as agent-alpha's uid gets alpha's token" "$a $(tail -3 "$work/node.err") $(tail -5 "$LOG")"
fi
exp=$(field "$a" expires_in)
[ -n "$exp" ] && [ "$exp" -gt 600 ] 2>/dev/null &&
    tap_ok "the SDK reads the expiry from expires_on (${exp} s left)" ||
    tap_fail "the SDK reads the expiry from expires_on" "$a"

b=$(sdk $UID_B)
if [ "$(field "$b" ok)" = True ] && [ "$(field "$b" appid)" = "$BETA_APP" ] &&
    [ "$(field "$b" oid)" = "$BETA_OID" ]; then
    tap_ok "ManagedIdentityCredential as agent-beta's uid: beta's own token"
else
    tap_fail "ManagedIdentityCredential as agent-beta's uid: beta's own token" "$b $(tail -3 "$work/node.err")"
fi
case $b in
*"$ALPHA_APP"* | *"$ALPHA_OID"*) tap_fail "agent-beta's uid never sees alpha's identity" "$b" ;;
*) tap_ok "agent-beta's uid never sees alpha's identity" ;;
esac

bx=$(sdk $UID_B "$ALPHA_APP")
if [ "$(field "$bx" ok)" = False ] && printf '%s' "$bx" | grep -q "Identity not found"; then
    tap_ok "agent-beta's uid asking for alpha's client id (clientId option): refused"
else
    tap_fail "agent-beta's uid asking for alpha's client id: refused" "$bx"
fi
grep -q "denied: uid $UID_B (agent agent-beta" "$LOG" &&
    tap_ok "the refusal is logged with the caller's uid" ||
    tap_fail "the refusal is logged with the caller's uid" "$(tail -5 "$LOG")"

ac=$(sdk $UID_A "$ALPHA_APP")
[ "$(field "$ac" ok)" = True ] && [ "$(field "$ac" appid)" = "$ALPHA_APP" ] &&
    tap_ok "agent-alpha's uid naming its own client id gets its token" ||
    tap_fail "agent-alpha's uid naming its own client id gets its token" "$ac"

h=$(sdk $UID_HUMAN)
if [ "$(field "$h" ok)" = False ] && printf '%s' "$h" | grep -q "Identity not found"; then
    tap_ok "a human uid gets no token (Identity not found)"
else
    tap_fail "a human uid gets no token" "$h"
fi
r=$(sdk 0)
if [ "$(field "$r" ok)" = False ] && printf '%s' "$r" | grep -q "openclawd socket"; then
    tap_ok "root gets no token here (it uses the audited socket)"
else
    tap_fail "root gets no token here" "$r"
fi

# --- the wire format, with curl ------------------------------------------------
URL="http://$EP/metadata/identity/oauth2/token?api-version=2018-02-01&resource=$RESOURCE_URI"
n1=$(token_requests "$ALPHA_APP")
code=$(as_uid $UID_A curl -sS -o "$O/ok.json" -w '%{http_code}' -H 'Metadata: true' "$URL")
if [ "$code" = 200 ] && "$PY" -c '
import json, sys, time
d = json.load(open(sys.argv[1]))
want = {"access_token", "client_id", "expires_in", "expires_on", "ext_expires_in",
        "not_before", "resource", "token_type"}
assert set(d) == want, d.keys()
assert all(isinstance(v, str) for v in d.values())
assert d["resource"] == sys.argv[2] and d["client_id"] == sys.argv[3]
assert d["token_type"] == "Bearer"
now = time.time()
assert abs(int(d["expires_on"]) - now - int(d["expires_in"])) <= 2
assert int(d["not_before"]) <= now + 5 and int(d["expires_in"]) > 600
' "$O/ok.json" "$RESOURCE_URI" "$ALPHA_APP"; then
    tap_ok "IMDS wire format: every member a string, resource and client_id right"
else
    tap_fail "IMDS wire format" "HTTP $code $(head -c 300 "$O/ok.json" | sed 's/"access_token":"[^"]*"/"access_token":"…"/')"
fi
[ "$(token_requests "$ALPHA_APP")" = "$n1" ] &&
    tap_ok "served from the daemon's cache: no new token request" ||
    tap_fail "served from the daemon's cache" "$n1 -> $(token_requests "$ALPHA_APP")"

code=$(as_uid $UID_A curl -sS -o "$O/nometa.json" -w '%{http_code}' "$URL")
if [ "$code" = 400 ] && grep -q '"error":"bad_request_102"' "$O/nometa.json" &&
    grep -q 'Required metadata header not specified' "$O/nometa.json" &&
    ! grep -q access_token "$O/nometa.json"; then
    tap_ok "without the Metadata header: 400 bad_request_102 (as IMDS), no token"
else
    tap_fail "without the Metadata header: refused" "HTTP $code $(cat "$O/nometa.json")"
fi
code=$(as_uid $UID_A curl -sS -o "$O/probe.json" -w '%{http_code}' "http://$EP/metadata/identity/oauth2/token")
[ "$code" = 400 ] && ! grep -q access_token "$O/probe.json" &&
    tap_ok "the SDK's availability probe (no query, no Metadata) gets an error status" ||
    tap_fail "the availability probe gets an error status" "HTTP $code"

code=$(as_uid $UID_A curl -sS -o "$O/host.json" -w '%{http_code}' -H 'Metadata: true' \
    -H 'Host: attacker.example:80' "$URL")
[ "$code" = 400 ] && grep -q 'Host does not name this endpoint' "$O/host.json" &&
    tap_ok "a Host that is not the endpoint (DNS rebinding) is refused" ||
    tap_fail "a foreign Host is refused" "HTTP $code $(cat "$O/host.json")"
code=$(as_uid $UID_A curl -sS -o "$O/xff.json" -w '%{http_code}' -H 'Metadata: true' \
    -H 'X-Forwarded-For: 10.0.0.9' "$URL")
[ "$code" = 400 ] && ! grep -q access_token "$O/xff.json" &&
    tap_ok "a forwarded request (X-Forwarded-For) is refused" ||
    tap_fail "a forwarded request is refused" "HTTP $code"
code=$(as_uid $UID_A curl -sS -o "$O/q.json" -w '%{http_code}' -H 'Metadata: true' \
    "http://$EP/metadata/identity/oauth2/token?resource=$RESOURCE_URI")
[ "$code" = 400 ] && grep -q "api-version" "$O/q.json" &&
    tap_ok "a token request without api-version: 400 naming it" ||
    tap_fail "a token request without api-version: 400" "HTTP $code $(cat "$O/q.json")"
code=$(as_uid $UID_A curl -sS -o "$O/post.json" -w '%{http_code}' -H 'Metadata: true' -X POST \
    -H 'Content-Length: 0' "$URL")
[ "$code" = 405 ] && tap_ok "POST: 405" || tap_fail "POST: 405" "HTTP $code"

# --- one table, two servers (docs/mi-endpoint.md, "IMDS fidelity"): the
# same requests to the local tenant's IMDS emulation and to openclawd's
# endpoint (as agent-alpha's uid) must give the same status and error code,
# and the ones the table names.
MI_PATH=/metadata/identity/oauth2/token
Q="api-version=2018-02-01&resource=$RESOURCE_URI"
imds_answer() { # SERVER(tenant|openclawd) CURL_ARGS... -> "STATUS ERROR"
    local server=$1 out code
    shift
    out=$O/table.$server.json
    rm -f "$out"
    if [ "$server" = tenant ]; then
        code=$(curl -sS --cacert "$TENANT_CA" -o "$out" -w '%{http_code}' "$@" 2>/dev/null)
    else
        code=$(as_uid $UID_A curl -sS -o "$out" -w '%{http_code}' "$@" 2>/dev/null)
    fi
    printf '%s %s\n' "$code" "$("$PY" -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    d = {}
print(d.get("error") or ("token" if d.get("access_token") else "-"))' "$out")"
}
imds_case() { # NAME "STATUS ERROR" QUERY [CURL_ARGS...]
    local name=$1 want=$2 q=$3 t o
    shift 3
    t=$(imds_answer tenant "$@" "$TENANT_URL$MI_PATH$q")
    o=$(imds_answer openclawd "$@" "http://$EP$MI_PATH$q")
    echo "# imds table | $name | tenant IMDS: $t | openclawd: $o |"
    if [ "$t" = "$want" ] && [ "$o" = "$want" ]; then
        tap_ok "IMDS table: $name: both servers answer $want"
    else
        tap_fail "IMDS table: $name: both servers answer $want" "tenant IMDS: $t; openclawd: $o; $(cat "$O/table.openclawd.json" 2>/dev/null | head -c 400)"
    fi
}
OTHER_ID=0f0e0d0c-0b0a-4909-8807-060504030201
imds_case "a token" "200 token" "?$Q" -H 'Metadata: true'
imds_case "no Metadata header" "400 bad_request_102" "?$Q"
imds_case "Metadata: false" "400 bad_request_102" "?$Q" -H 'Metadata: false'
imds_case "no api-version" "400 invalid_request" "?resource=$RESOURCE_URI" -H 'Metadata: true'
imds_case "no resource" "400 invalid_request" "?api-version=2018-02-01" -H 'Metadata: true'
imds_case "POST" "405 invalid_request" "?$Q" -H 'Metadata: true' -X POST -H 'Content-Length: 0'
imds_case "two identity selectors" "400 invalid_request" "?$Q&client_id=$OTHER_ID&object_id=$OTHER_ID" -H 'Metadata: true'
imds_case "another identity's client_id" "400 invalid_request" "?$Q&client_id=$OTHER_ID" -H 'Metadata: true'
imds_case "a resource Entra does not know" "400 invalid_resource" "?api-version=2018-02-01&resource=api://does-not-exist" -H 'Metadata: true'
# Entra's own text comes through whole, as IMDS passes it
grep -q 'AADSTS500011: The resource principal named api://does-not-exist.* was not found in the tenant named .*wrong tenant' "$O/table.openclawd.json" &&
    tap_ok "Entra's 4xx: the whole AADSTS500011 description comes through" ||
    tap_fail "Entra's 4xx: the whole AADSTS500011 description comes through" "$(cat "$O/table.openclawd.json")"
# Entra's 429 and 5xx: IMDS passes on Entra's status and error (retry after
# at least 1 s); a fault injected at the tenant's token endpoint reaches both
# servers (the tenant's IMDS asks its token endpoint as IMDS asks Entra's).
# Each row a resource neither server has a token for yet.
imds_upstream_case() { # NAME "STATUS ERROR" FAULT_JSON RESOURCE
    local name=$1 want=$2 fault=$3 res=$4 t o ra
    tenant_ctl DELETE faults >/dev/null
    tenant_ctl POST faults "$fault" >/dev/null
    t=$(imds_answer tenant -H 'Metadata: true' "$TENANT_URL$MI_PATH?api-version=2018-02-01&resource=$res")
    tenant_ctl DELETE faults >/dev/null
    tenant_ctl POST faults "$fault" >/dev/null
    o=$(imds_answer openclawd -D "$O/table.headers" -H 'Metadata: true' "http://$EP$MI_PATH?api-version=2018-02-01&resource=$res")
    tenant_ctl DELETE faults >/dev/null
    ra=$(sed -n 's/^Retry-After: *\([0-9]*\).*/\1/Ip' "$O/table.headers" 2>/dev/null | tr -d '\r')
    echo "# imds table | $name | tenant IMDS: $t | openclawd: $o (Retry-After ${ra:-none}) |"
    if [ "$t" = "$want" ] && [ "$o" = "$want" ] && [ -n "$ra" ]; then
        tap_ok "IMDS table: $name: both servers answer $want (openclawd: Retry-After $ra)"
    else
        tap_fail "IMDS table: $name: both servers answer $want, with Retry-After" "tenant IMDS: $t; openclawd: $o; Retry-After ${ra:-none}; $(head -c 400 "$O/table.openclawd.json" 2>/dev/null)"
    fi
}
imds_upstream_case "Entra answers 503" "503 temporarily_unavailable" \
    '{"path":"/oauth2/v2.0/token","kind":"status","status":503,"count":5}' "$RESOURCE_V2_URI"
imds_upstream_case "Entra answers 500" "500 temporarily_unavailable" \
    '{"path":"/oauth2/v2.0/token","kind":"status","status":500,"count":5}' "6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d"
imds_upstream_case "Entra answers 429 (Retry-After 7)" "429 too_many_requests" \
    '{"path":"/oauth2/v2.0/token","kind":"429","retry_after":7,"count":5}' "https://graph.microsoft.com"
# the client's retry gets the same answer at once, and the agent's other
# resources are not held back by it
t0=$(date +%s%N)
again=$(imds_answer openclawd -H 'Metadata: true' "http://$EP$MI_PATH?api-version=2018-02-01&resource=api://does-not-exist")
ok=$(imds_answer openclawd -H 'Metadata: true' "http://$EP$MI_PATH?$Q")
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$again" = "400 invalid_resource" ] && [ "$ok" = "200 token" ] &&
    tap_ok "the retry gets 400 invalid_resource again and the agent's other resource its token (${ms} ms for both)" ||
    tap_fail "the retry gets 400 invalid_resource again, the other resource its token" "retry: $again; other: $ok"
# the real SDK with a resource Entra does not know: an error at once, not
# after its retries (measured and reported, not asserted as a timing)
t0=$(date +%s%N)
SCOPE_SAVED=$SCOPE
SCOPE=api://does-not-exist-2/.default
u=$(sdk $UID_A)
SCOPE=$SCOPE_SAVED
ms=$((($(date +%s%N) - t0) / 1000000))
echo "# @azure/identity with a resource Entra does not know: error after ${ms} ms"
if [ "$(field "$u" ok)" = False ] && printf '%s' "$u" | grep -q 'AADSTS500011\|invalid_resource'; then
    tap_ok "@azure/identity with a resource Entra does not know: Entra's error (after ${ms} ms)"
else
    tap_fail "@azure/identity with a resource Entra does not know: Entra's error" "$u ($ms ms)"
fi

# --- malformed requests: connection closed, no answer, daemon alive -------------
raw() { # BYTES (printf format) -> prints the answer or CLOSED
    as_uid $UID_A "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
d = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        d += b
except (ConnectionResetError, socket.timeout):
    pass
print(d.decode("latin-1", "replace") if d else "CLOSED")' "$PORT" "$1"
}
[ "$(raw 'GARBAGE\r\n\r\n')" = CLOSED ] &&
    tap_ok "a malformed request line: connection closed without an answer" ||
    tap_fail "a malformed request line: connection closed"
[ "$(raw 'GET /metadata/identity/oauth2/token HTTP/1.1\nHost: x\n\n')" = CLOSED ] &&
    tap_ok "bare LF line endings: connection closed" || tap_fail "bare LF line endings: connection closed"
[ "$(raw 'GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n')" = CLOSED ] &&
    tap_ok "obsolete header folding: connection closed" || tap_fail "header folding: connection closed"
[ "$(raw 'GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')" = CLOSED ] &&
    tap_ok "a request body (chunked): connection closed" || tap_fail "a request body: connection closed"
big=$("$PY" -c 'print("GET / HTTP/1.1\\r\\nX-Pad: " + "a" * 9000)')
[ "$(raw "$big")" = CLOSED ] &&
    tap_ok "a head over 8 KiB: connection closed" || tap_fail "a head over 8 KiB: connection closed"
case $(req "$S" '{"type":"ping"}') in
*pong*) tap_ok "daemon alive after the malformed requests (socket ping)" ;;
*) tap_fail "daemon alive after the malformed requests" "$(tail -5 "$LOG")" ;;
esac
a2=$(sdk $UID_A)
[ "$(field "$a2" appid)" = "$ALPHA_APP" ] &&
    tap_ok "the endpoint still serves the SDK after them" ||
    tap_fail "the endpoint still serves the SDK after them" "$a2"

# --- an idle connection is closed after 5 s ------------------------------------
t0=$(date +%s%N)
idle=$(as_uid $UID_A "$PY" -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=12)
print("CLOSED" if s.recv(1) == b"" else "DATA")' "$PORT")
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$idle" = CLOSED ] && [ "$ms" -ge 4000 ] && [ "$ms" -lt 11000 ] &&
    tap_ok "a silent connection is closed after the 5 s deadline (${ms} ms)" ||
    tap_fail "a silent connection is closed after 5 s" "$idle ${ms} ms"

# --- parked requests: a slow tenant, two SDK callers, one token request ----------
tenant_ctl DELETE requests >/dev/null
tenant_ctl POST faults "{\"path\":\"$TOKEN_PATH\",\"kind\":\"latency\",\"ms\":4000,\"count\":1}" >/dev/null
SCOPE2="$RESOURCE_V2_URI/.default"
p_sdk() { # OUT
    as_uid $UID_B env -i PATH="$PATH" HOME=/nonexistent AZURE_POD_IDENTITY_AUTHORITY_HOST="http://$EP" \
        "$NODE" "$NODE_DIR/mi-token.js" "$SCOPE2" >"$1" 2>>"$work/node.err"
}
p_sdk "$work/p1.json" &
w1=$!
p_sdk "$work/p2.json" &
w2=$!
sleep 1.5
# Timed inside the client: interpreter start-up under load is not the daemon's.
ms=$("$PY" -c '
import json, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX)
t0 = time.monotonic()
s.connect(sys.argv[1])
b = json.dumps({"type": "ping"}).encode()
s.sendall(struct.pack(">I", len(b)) + b)
n = struct.unpack(">I", s.recv(4))[0]
ok = b"pong" in s.recv(n)
print(int((time.monotonic() - t0) * 1000) if ok else -1)' "$S")
[ "$ms" -ge 0 ] && [ "$ms" -lt 1000 ] &&
    tap_ok "while callers are parked the loop still answers at once (${ms} ms)" ||
    tap_fail "while callers are parked the loop still answers at once" "${ms} ms"
wait $w1
r1=$?
wait $w2
r2=$?
p1=$(cat "$work/p1.json")
p2=$(cat "$work/p2.json")
aud1=$(field "$p1" aud)
if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ "$(field "$p1" appid)" = "$BETA_APP" ] &&
    [ "$(field "$p2" appid)" = "$BETA_APP" ] &&
    { [ "$aud1" = "$RESOURCE_V2_URI" ] || [ "$aud1" = "$RESOURCE_V2_APP" ]; }; then
    tap_ok "two parked SDK callers both get the token when the fetch completes"
else
    tap_fail "two parked SDK callers both get the token" "$r1 $r2 $p1 $p2"
fi
[ "$(token_requests "$BETA_APP")" = 1 ] &&
    tap_ok "one token request for both parked callers" ||
    tap_fail "one token request for both parked callers" "$(token_requests "$BETA_APP")"

# --- IPv6 loopback -------------------------------------------------------------------
if "$PY" -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
    PORT6=$(free_port ::1)
    write_conf "$work/mi6.conf" mi6 "[::1]:$PORT6"
    if mi_start mi6 "$work/mi6.conf"; then
        # curl: the Azure SDK for JS passes "[::1]" with its brackets to Node's
        # http.request as a host name, which fails (docs/mi-endpoint.md).
        U6="http://[::1]:$PORT6/metadata/identity/oauth2/token?api-version=2018-02-01&resource=$RESOURCE_URI"
        c6=$(as_uid $UID_A curl -sS -o "$O/v6a.json" -w '%{http_code}' -H 'Metadata: true' "$U6")
        h6=$(as_uid $UID_HUMAN curl -sS -o "$O/v6h.json" -w '%{http_code}' -H 'Metadata: true' "$U6")
        [ "$c6" = 200 ] && [ "$(field "$(cat "$O/v6a.json")" client_id)" = "$ALPHA_APP" ] &&
            [ "$h6" = 400 ] && ! grep -q access_token "$O/v6h.json" &&
            tap_ok "IPv6 [::1]: alpha's uid gets alpha's token, a human uid none" ||
            tap_fail "IPv6 [::1]" "$c6 $h6 $(cat "$O/v6h.json") $(tail -5 "$work/mi6.log")"
    else
        tap_fail "IPv6 [::1]: openclawd starts" "$(cat "$work/mi6.log")"
    fi
else
    tap_skip "IPv6 [::1]" "no IPv6 loopback here"
fi

# --- configuration errors ------------------------------------------------------------
write_conf "$work/bad.conf" bad "10.0.0.1:$PORT"
if "$OCD" --config "$work/bad.conf" --foreground --allow-root >"$work/bad.log" 2>&1; then
    tap_fail "a non-loopback mi_endpoint is refused at start"
else
    grep -q "must be a loopback address" "$work/bad.log" &&
        tap_ok "a non-loopback mi_endpoint is refused at start" ||
        tap_fail "a non-loopback mi_endpoint is refused at start" "$(cat "$work/bad.log")"
fi
write_conf "$work/busy.conf" busy "$EP"
if "$OCD" --config "$work/busy.conf" --foreground --allow-root >"$work/busy.log" 2>&1; then
    tap_fail "a port in use: openclawd exits with a message"
else
    grep -q "another process holds this port" "$work/busy.log" &&
        tap_ok "a port in use: openclawd exits saying what to do" ||
        tap_fail "a port in use: openclawd exits saying what to do" "$(cat "$work/busy.log")"
fi

# --- the end -------------------------------------------------------------------------
helper_stop "$HELPER_PID_mi6"
HELPER_PID_mi6=""
helper_stop "$HELPER_PID_mi"
rc=$?
HELPER_PID_mi=""
[ $rc -eq 0 ] && tap_ok "SIGTERM: clean exit" || tap_fail "SIGTERM: clean exit" "status $rc"
sig=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["access_token"].split(".")[2])' "$O/ok.json" 2>/dev/null)
if [ -n "$sig" ] && ! grep -qF -- "$sig" "$LOG" && ! grep -qF -- "$ALPHA_SECRET" "$LOG" &&
    ! grep -q 'eyJ' "$LOG"; then
    tap_ok "no token or secret in the daemon's log"
else
    tap_fail "no token or secret in the daemon's log"
fi
if grep -qE 'AddressSanitizer|runtime error|LeakSanitizer' "$LOG" "$work/mi6.log" 2>/dev/null; then
    tap_fail "no sanitizer report" "$(grep -E 'Sanitizer|runtime error' "$LOG" | head -5)"
else
    tap_ok "no sanitizer report"
fi
tap_done
