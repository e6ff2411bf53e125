#!/bin/bash
# One decision point (docs/security.md): every openclawd path that issues a
# credential on an agent's behalf - each request type of the socket's
# table that hands out a token or a signature, the managed-identity
# endpoint, the ssh-agent's ssh-sign - refuses an agent that an admin
# locked, that pam_openclaw reported locked out (anomaly), or whose
# service principal the directory sync found disabled; and allows it again
# once that is lifted. One audit line per decision.
# The local tenant; agent-alpha with a software tpm-certificate key whose
# certificate is registered on its application (tokens by client
# assertion, ssh signatures by the same key); openclawd as root, the
# clients under the agent's uid (setpriv). Prints TAP.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

CTL="$top_builddir/helper/openclawctl"
[ "$(id -u)" = 0 ] || tap_skip_all "needs root (clients run under the agent's uid with setpriv)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
command -v curl >/dev/null 2>&1 || tap_skip_all "curl missing"
[ -x "$OCD" ] && [ -x "$CTL" ] || tap_skip_all "openclawd/openclawctl not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"

UID_A=1879048193
RESOURCE_APP=6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d
ADMIN_APP=c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b
ADMIN_SECRET='aDm8Q~openclaw-demo-admin-secret.00000001'
work=$(mktemp -d "${TMPDIR:-/tmp}/oc-decide.XXXXXX")
chmod 755 "$work"
mkdir -m 1777 "$work/out"
HELPER_PID_main=""
cleanup() {
    helper_stop "$HELPER_PID_main"
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT

tenant_start "$work/tenant" || tap_skip_all "the local tenant did not start"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
S=$work/openclawd.sock
C=$work/oc.conf
printf '%s\n' "$ADMIN_SECRET" >"$work/admin.secret"
chmod 600 "$work/admin.secret"
mkdir -p "$work/state" "$work/run"
mkdir -m 0700 "$work/keys"
{
    conf_global "$work/state" "$S" "$ISSUER_V2_LINE" "runtime_dir = $work/run" \
        "allow_insecure_credentials = yes" "allow_software_keys = yes" "keys_dir = $work/keys" \
        "mi_endpoint = 127.0.0.1:$PORT"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $UID_A" \
        "credential = tpm-certificate" "key_file = $work/alpha.key" "cert_file = $work/alpha.pem" \
        "scopes = $RESOURCE_URI/.default"
    conf_section "directory" "resource = $RESOURCE_APP" "graph_url = $TENANT_URL" \
        "graph_resource = https://graph.microsoft.com" "sync_interval = 3600" \
        "credential = secret-file" "app_id = $ADMIN_APP" "secret_file = $work/admin.secret"
} >"$C"
chmod 644 "$C"
if ! { "$CTL" tpm keygen --software --alg ecc --out "$work/alpha.key" --config "$C" &&
    "$CTL" tpm cert --key "$work/alpha.key" --subject agent-alpha --out "$work/alpha.pem" \
        --config "$C"; } >/dev/null 2>"$work/ctl.err"; then
    tap_fail "a software key and certificate for agent-alpha" "$(cat "$work/ctl.err")"
    tap_done
    exit 1
fi
der=$(openssl x509 -in "$work/alpha.pem" -outform DER | base64 -w0)
tenant_ctl POST key-credentials "{\"appId\":\"$ALPHA_APP\",\"key\":\"$der\"}" >"$work/kc.out" 2>&1
if ! helper_start main "$C"; then
    tap_fail "openclawd starts" "$(cat "$work/main.log")"
    tap_done
    exit 1
fi
LOG=$work/main.log

# --- the request table: which types hand out a credential -------------------------
# Every type of common/proto.c's table is either one that issues a token or
# a signature on an agent's behalf (tested below) or one that does not; a
# new type fails here until it is classified (and, if it issues, tested).
ISSUING="get-token ssh-sign"
NOT_ISSUING="ping status refresh-jwks session-open session-close agent-lock agent-unlock cache-rebuild anomaly ssh-identities"
types=$(sed -n 's/^ *{"\([a-z-]*\)", OC_REQ_.*/\1/p' "$top_srcdir/common/proto.c" | sort | tr '\n' ' ')
known=$(printf '%s\n' $ISSUING $NOT_ISSUING | sort | tr '\n' ' ')
if [ -n "$types" ] && [ "$types" = "$known" ]; then
    tap_ok "the request table has exactly the known types; issuing: $ISSUING"
else
    tap_fail "the request table has exactly the known types" "table: $types; known: $known"
fi

# --- the three issuing entry points, as the agent's uid ---------------------------
# ssh-sign signs an SSH userauth request for the agent's own key (what ssh asks).
ssh_sign() {
    as_uid $UID_A "$PY" - "$S" "$CLIENT" <<'PYEOF'
import base64, json, os, struct, subprocess, sys
sock, client = sys.argv[1], sys.argv[2]
def req(o):
    return json.loads(subprocess.run([sys.executable, client, sock, "json", json.dumps(o)],
                                     capture_output=True, text=True, timeout=30).stdout or "{}")
ids = req({"type": "ssh-identities"}).get("identities", [])
if not ids:
    print("NO-IDENTITY"); sys.exit(0)
b64 = ids[0]["key"]
blob = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
alg = blob[4:4 + struct.unpack(">I", blob[:4])[0]]
s = lambda b: struct.pack(">I", len(b)) + b
data = (s(os.urandom(32)) + b"\x32" + s(b"agent-alpha") + s(b"ssh-connection") + s(b"publickey")
        + b"\x01" + s(alg) + s(blob))
a = req({"type": "ssh-sign", "key": b64,
         "data": base64.urlsafe_b64encode(data).decode().rstrip("=")})
print("SIGNED" if a.get("ok") else "REFUSED:%s" % a.get("error"))
PYEOF
}
get_token() {
    as_uid $UID_A "$PY" "$CLIENT" "$S" json '{"type":"get-token"}' |
        "$PY" -c 'import json,sys; a=json.load(sys.stdin); print("TOKEN" if a.get("ok") else "REFUSED:%s" % a.get("error"))' 2>/dev/null ||
        echo "CLOSED"
}
mi_token() {
    local code
    code=$(as_uid $UID_A curl -sS -o "$work/out/mi.json" -w '%{http_code}' -H 'Metadata: true' \
        "http://127.0.0.1:$PORT/metadata/identity/oauth2/token?api-version=2018-02-01&resource=$RESOURCE_URI" 2>/dev/null)
    if [ "$code" = 200 ] && grep -q access_token "$work/out/mi.json"; then
        echo TOKEN
    else
        echo "REFUSED:$code"
    fi
}
# expect_all STATE WANT(TOKEN/SIGNED or REFUSED): the three paths
expect_all() {
    local state=$1 want=$2 g m s
    g=$(get_token)
    m=$(mi_token)
    s=$(ssh_sign)
    if [ "$want" = ok ]; then
        if [ "$g" = TOKEN ] && [ "$m" = TOKEN ] && [ "$s" = SIGNED ]; then
            tap_ok "$state: get-token, the MI endpoint and ssh-sign all issue"
        else
            tap_fail "$state: get-token, the MI endpoint and ssh-sign all issue" "get-token=$g mi=$m ssh-sign=$s"
        fi
        return
    fi
    for p in "get-token:$g" "mi-endpoint:$m" "ssh-sign:$s"; do
        case ${p#*:} in
        REFUSED:*) tap_ok "$state: ${p%%:*} refused (${p#*:})" ;;
        *) tap_fail "$state: ${p%%:*} refused" "got ${p#*:}" ;;
        esac
    done
}

# the first sync, so that the directory data exists
req "$S" '{"type":"cache-rebuild"}' >"$work/sync1.out"
expect_all "agent-alpha, enabled and not locked" ok

# 1. the admin lock (openclawctl agent lock)
req "$S" '{"type":"agent-lock","agent":"agent-alpha"}' >/dev/null
expect_all "admin lock" refused
req "$S" '{"type":"agent-unlock","agent":"agent-alpha"}' >/dev/null
expect_all "after agent-unlock" ok

# 2. a lockout pam_openclaw reported (anomaly)
req "$S" '{"type":"anomaly","agent":"agent-alpha"}' >/dev/null
expect_all "PAM lockout reported (anomaly)" refused
req "$S" '{"type":"agent-unlock","agent":"agent-alpha"}' >/dev/null
expect_all "after openclawctl agent unlock (agent-unlock)" ok

# 3. the service principal disabled in Entra (accountEnabled false at the sync)
tenant_ctl POST disable-sp "{\"appId\":\"$ALPHA_APP\"}" >/dev/null
req "$S" '{"type":"cache-rebuild"}' >"$work/sync2.out"
if grep -q '"enabled":[[:space:]]*false' "$work/state/directory.json" 2>/dev/null; then
    expect_all "service principal disabled in the directory data" refused
else
    tap_fail "the sync saw the disabled service principal" "$(cat "$work/sync2.out"; head -c 1500 "$work/state/directory.json"; grep -i "sync\|directory" "$LOG" | tail -5)"
fi
tenant_ctl POST enable-sp "{\"appId\":\"$ALPHA_APP\"}" >/dev/null
req "$S" '{"type":"cache-rebuild"}' >/dev/null
expect_all "service principal enabled again" ok

# 4. the agent's scopes hold on every token path
out=$(as_uid $UID_A "$PY" "$CLIENT" "$S" json '{"type":"get-token","scope":"https://graph.microsoft.com/.default"}')
tap_check "get-token: a scope outside the agent's scopes is refused" sh -c 'printf "%s" "$1" | grep -q "\"error\":\"denied\"\|CLOSED"' _ "$out"
code=$(as_uid $UID_A curl -sS -o /dev/null -w '%{http_code}' -H 'Metadata: true' \
    "http://127.0.0.1:$PORT/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://graph.microsoft.com")
tap_check "MI endpoint: a resource outside the agent's scopes is refused (403)" test "$code" = 403

# one audit line per decision, naming the path
for p in get-token mi-token ssh-sign; do
    tap_check "audit lines of the decision point for $p (allowed and refused)" sh -c \
        "grep -q 'audit: $p: agent agent-alpha for uid $UID_A .*: allowed' '$LOG' && grep -q 'audit: $p: agent agent-alpha for uid $UID_A .*: refused (locked)' '$LOG'"
done
tap_check "refused (locked-out) and refused (disabled) are audited" sh -c \
    "grep -q 'refused (locked-out)' '$LOG' && grep -q 'refused (disabled)' '$LOG'"

tap_done
