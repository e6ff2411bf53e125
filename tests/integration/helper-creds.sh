#!/bin/sh
# openclawd's two-request credentials and OIDC discovery, against the local
# test tenant: azure-arc (401 challenge, key file, Basic retry), Entra
# Agent ID (blueprint -> T1 -> agent identity token, T1 reused), discovery
# (written 0644, its endpoints used, a tampered answer refused, fallbacks),
# and a hostile Arc endpoint (tests/integration/arc_fake.py) whose
# challenges must all be refused before any key file is read. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

[ "$(id -u)" = 0 ] || tap_skip_all "needs root (clients run under other uids with setpriv)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
command -v curl >/dev/null 2>&1 || tap_skip_all "curl missing"
[ -x "$OCD" ] && [ -x "$OCT" ] || tap_skip_all "openclawd not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"

CTL="$top_builddir/helper/ctl/openclawctl"
UID_ARC=1879048310
UID_ONE=1879048311
UID_TWO=1879048312
MI_CLIENT=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
MI_OBJECT=0b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e
AGENT_TWO_APP=f2c4e6a8-0d3f-4c7b-9e1a-2a4b6c8d0e3f
# A second blueprint, seeded below: agent-identity-two does not belong to it.
BP2_APP=e9a1c3e5-7d9f-4b2d-8c4e-6f8a0b2c4d6e
BP2_OBJ=e9b2d4f6-8a0c-4e3f-9a5b-7c9d1e3f5a7b
BP2_SP=e9c3e5a7-9b1d-4f4a-8b6c-8d0e2f4a6b8c
BP2_SECRET='bP2Q~openclaw-test-second-blueprint-0000001'
DOMAIN=openclawdemo.onmicrosoft.com
DISC_PATH=/v2.0/.well-known/openid-configuration

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-creds.XXXXXX")
chmod 755 "$work"
uid_copies "$work/bin" # what runs under other uids: copies, never the tree
HELPER_PID_main="" HELPER_PID_fake="" HELPER_PID_viadir="" HELPER_PID_tamper=""
HELPER_PID_http="" HELPER_PID_down="" HELPER_PID_tpmbp="" HELPER_PID_renew=""
FAKE_PID=""
swtpm_pid=""
bad_exits=""
cleanup() {
    for p in "$HELPER_PID_main" "$HELPER_PID_fake" "$HELPER_PID_viadir" "$HELPER_PID_tamper" \
        "$HELPER_PID_http" "$HELPER_PID_down" "$HELPER_PID_tpmbp" "$HELPER_PID_renew"; do
        helper_stop "$p"
    done
    if [ -n "$FAKE_PID" ]; then
        kill -TERM "$FAKE_PID" 2>/dev/null
        wait "$FAKE_PID" 2>/dev/null
    fi
    if [ -n "$swtpm_pid" ]; then
        kill "$swtpm_pid" 2>/dev/null
        for _ in $(seq 1 50); do
            kill -0 "$swtpm_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$swtpm_pid" 2>/dev/null
    fi
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT

tenant_start "$work/tenant" || {
    echo "1..1"
    echo "not ok 1 - local tenant starts"
    exit 1
}

printf '%s\n' "$BLUEPRINT_SECRET" >"$work/bp.secret"
printf '%s\n' "$BP2_SECRET" >"$work/bp2.secret"
chmod 600 "$work/bp.secret" "$work/bp2.secret"

tenant_ctl POST seed "{\"tenants\":[{\"id\":\"$TENANT_ID\",\"applications\":[{
  \"displayName\":\"second-blueprint\",\"appId\":\"$BP2_APP\",\"id\":\"$BP2_OBJ\",
  \"isAgentBlueprint\":true,\"passwordCredentials\":[{\"keyId\":\"$BP2_SP\",
  \"secretText\":\"$BP2_SECRET\",\"startDateTime\":\"2024-01-01T00:00:00Z\",
  \"endDateTime\":\"2099-12-31T00:00:00Z\"}]}],
  \"servicePrincipals\":[{\"id\":\"$BP2_SP\",\"appId\":\"$BP2_APP\",
  \"displayName\":\"second-blueprint\"}]}]}" >"$work/seed.out" 2>&1

# write_conf FILE SOCKET STATE_DIR
write_conf() {
    {
        conf_global "$3" "$2" "$ISSUER_V2_LINE" "allow_insecure_credentials = yes"
        conf_agent arc-agent "$MI_CLIENT" "$MI_OBJECT" "uid = $UID_ARC" "credential = azure-arc"
        conf_agent agent-one "$AGENT_ONE_APP" "$AGENT_ONE_APP" "uid = $UID_ONE" \
            "credential = agent-identity" "blueprint_app_id = $BLUEPRINT_APP" \
            "blueprint_credential = secret-file" "secret_file = $work/bp.secret"
        conf_agent agent-two "$AGENT_TWO_APP" "$AGENT_TWO_APP" "uid = $UID_TWO" \
            "credential = agent-identity" "blueprint_app_id = $BP2_APP" \
            "blueprint_credential = secret-file" "secret_file = $work/bp2.secret"
    } >"$1"
    chmod 644 "$1"
}

# requests_json: the tenant's request log
requests_json() { tenant_ctl GET requests; }

# Served by the tenant for the discovery answer: the real document with
# the endpoints on the tenant's domain-name paths (valid at the tenant,
# and unlike the URLs openclawd would build from tenant_id).
tenant_get "/$TENANT_ID$DISC_PATH" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
base, tid, dom = sys.argv[1], sys.argv[2], sys.argv[3]
d["token_endpoint"] = "%s/%s/oauth2/v2.0/token" % (base, dom)
d["jwks_uri"] = "%s/%s/discovery/v2.0/keys" % (base, dom)
print(json.dumps(d))' "$TENANT_URL" "$TENANT_ID" "$DOMAIN" >"$work/disc-domain.json"

fault_body() { # FILE: a JSON fault that answers the discovery GET with FILE's content
    "$PY" -c '
import json, sys
print(json.dumps({"path": sys.argv[2], "kind": "malformed", "count": 1,
                  "body": open(sys.argv[1]).read()}))' "$1" "$DISC_PATH"
}

# ==========================================================================
# The main daemon: discovery at start, then the two credentials
# ==========================================================================
S=$work/main.sock
write_conf "$work/main.conf" "$S" "$work/state"
mkdir -p "$work/state"
tenant_ctl DELETE requests >/dev/null
tenant_ctl POST faults "$(fault_body "$work/disc-domain.json")" >/dev/null
if helper_start main "$work/main.conf" --arc "$TENANT_URL/arc" \
    --arc-token-dir "$TENANT_DIR/arc-tokens"; then
    tap_ok "openclawd starts with azure-arc and agent-identity agents"
else
    tap_fail "openclawd starts" "$(cat "$work/main.log")"
    tap_done
    exit 1
fi

D=$work/state/jwks/openid-configuration.json
if wait_for 10 test -s "$work/state/jwks/keys.json" && [ -s "$D" ] &&
    [ "$(stat -c %a "$D")" = 644 ] && cmp -s "$D" "$work/disc-domain.json"; then
    tap_ok "discovery document written next to keys.json, 0644, as served"
else
    tap_fail "discovery document written" "$(ls -l "$work/state/jwks" 2>&1; cat "$work/main.log")"
fi
ls -a "$work/state/jwks" | grep -q '^\.openid' &&
    tap_fail "no temporary file left next to the discovery document" ||
    tap_ok "no temporary file left next to the discovery document"

requests_json | "$PY" -c '
import json, sys
r = json.load(sys.stdin)["requests"]
paths = [x["path"] for x in r]
disc = [i for i, p in enumerate(paths) if p.endswith(sys.argv[1])]
keys = [i for i, p in enumerate(paths) if p.endswith("/discovery/v2.0/keys")]
ok = len(disc) == 1 and len(keys) == 1 and disc[0] < keys[0] and \
     paths[keys[0]] == "/%s/discovery/v2.0/keys" % sys.argv[2]
sys.exit(0 if ok else 1)' "$DISC_PATH" "$DOMAIN" &&
    tap_ok "discovery GET first, then the JWKS from the discovered jwks_uri" ||
    tap_fail "discovery, then JWKS from jwks_uri" "$(requests_json)"

st=$(req "$S" '{"type":"status"}')
echo "$st" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)["discovery"]
sys.exit(0 if d["source"] == "discovered" and 0 <= d["age"] < 60 and
         d["token_endpoint"].endswith("/%s/oauth2/v2.0/token" % sys.argv[1]) and
         "last_error" not in d else 1)' "$DOMAIN" &&
    tap_ok "status shows the discovery source, age and endpoints" ||
    tap_fail "status shows discovery" "$st"

# --- azure-arc ---------------------------------------------------------------
ta=$(as_uid $UID_ARC "$OCT" --socket "$S" 2>"$work/arc.err")
if [ -n "$ta" ] && [ "$(jwt_claim "$ta" oid)" = "$MI_OBJECT" ] &&
    [ "$(jwt_claim "$ta" appid)" = "$MI_CLIENT" ]; then
    tap_ok "azure-arc: token of the system-assigned identity openclaw-vm via the 401 challenge"
else
    tap_fail "azure-arc token via the challenge" "$(cat "$work/arc.err" "$work/main.log")"
fi
requests_json | "$PY" -c '
import json, sys
r = [x for x in json.load(sys.stdin)["requests"] if x["path"].startswith("/arc/")]
sys.exit(0 if [x["status"] for x in r] == [401, 200] else 1)' &&
    tap_ok "azure-arc: exactly two requests, the challenge (401) and the retry (200)" ||
    tap_fail "azure-arc: two requests" "$(requests_json)"
leaked=no
for k in "$TENANT_DIR"/arc-tokens/*.key; do
    [ -f "$k" ] && grep -qF -- "$(cat "$k")" "$work/main.log" && leaked=yes
done
[ $leaked = no ] && ! grep -qF -- "$ta" "$work/main.log" &&
    tap_ok "azure-arc: neither the key nor the token reaches the log" ||
    tap_fail "azure-arc: key or token in the log"

# --- agent-identity ----------------------------------------------------------
t1=$(as_uid $UID_ONE "$OCT" --socket "$S" 2>"$work/one.err")
if [ -n "$t1" ] && [ "$(jwt_claim "$t1" appid)" = "$AGENT_ONE_APP" ] &&
    [ "$(jwt_claim "$t1" xms_par_app_azp)" = "$BLUEPRINT_APP" ] &&
    [ "$(jwt_claim "$t1" aud)" = "$RESOURCE_URI" ]; then
    tap_ok "agent-identity: token of the agent identity, xms_par_app_azp = the blueprint"
else
    tap_fail "agent-identity token" "$(cat "$work/one.err" "$work/main.log")"
fi
printf '%s' "$t1" >"$work/one.jwt"
out=$("$CTL" verify-token --config "$work/main.conf" --jwks "$work/state/jwks/keys.json" --user agent-one --json <"$work/one.jwt" 2>&1)
rc=$?
[ $rc -eq 0 ] && tap_ok "agent-identity: openclawctl verify-token accepts it for user agent-one" ||
    tap_fail "verify-token accepts the agent identity token" "rc=$rc $out"

t1b=$(as_uid $UID_ONE "$OCT" --socket "$S" --scope "$RESOURCE_V2_URI/.default" 2>"$work/one2.err")
[ -n "$t1b" ] && [ "$(jwt_claim "$t1b" aud)" = "$RESOURCE_V2_APP" ] &&
    [ "$(jwt_claim "$t1b" azp)" = "$AGENT_ONE_APP" ] &&
    tap_ok "agent-identity: a token for a second scope" ||
    tap_fail "agent-identity second scope" "$(cat "$work/one2.err")"
requests_json | "$PY" -c '
import json, sys
r = json.load(sys.stdin)["requests"]
tok = [x for x in r if x["path"].endswith("/oauth2/v2.0/token")]
t1 = [x for x in tok if x["scope"] == "api://AzureADTokenExchange/.default"]
agent = [x for x in tok if x["client_id"] == sys.argv[2]]
ok = len(t1) == 1 and t1[0]["client_id"] == sys.argv[3] and len(agent) == 2 and \
     all(x["path"] == "/%s/oauth2/v2.0/token" % sys.argv[1] for x in tok)
sys.exit(0 if ok else 1)' "$DOMAIN" "$AGENT_ONE_APP" "$BLUEPRINT_APP" &&
    tap_ok "agent-identity: one T1 request for two scopes, every token request to the discovered endpoint" ||
    tap_fail "T1 reused, discovered endpoint used" "$(requests_json)"
grep -q "eyJ" "$work/main.log" && tap_fail "no token (T1 or other) in the log" ||
    tap_ok "no token (T1 or other) in the log"

out=$(as_uid $UID_TWO "$OCT" --socket "$S" 2>&1)
rc=$?
line=$(grep "agent agent-two" "$work/main.log" | grep -c "AADSTS50013.*blueprint_app_id")
if [ $rc -ne 0 ] && [ "$line" = 1 ]; then
    tap_ok "agent-identity with the wrong blueprint: AADSTS50013 explained in one log line"
else
    tap_fail "wrong blueprint explained" "rc=$rc $out $(cat "$work/seed.out") $(grep agent-two "$work/main.log")"
fi

# ==========================================================================
# Discovery: tampered answers keep the previous file; none -> constructed
# ==========================================================================
cp "$D" "$work/disc.before"
tamper() { # NAME JQ-LIKE-PYTHON-EDIT: start a daemon whose discovery answer is edited
    local name=$1 edit=$2
    tenant_get "/$TENANT_ID$DISC_PATH" | "$PY" -c "
import json, sys
d = json.load(sys.stdin)
$edit
print(json.dumps(d))" >"$work/disc-$name.json"
    tenant_ctl POST faults "$(fault_body "$work/disc-$name.json")" >/dev/null
    write_conf "$work/$name.conf" "$work/$name.sock" "$work/state"
    helper_start "$name" "$work/$name.conf" --arc "$TENANT_URL/arc" \
        --arc-token-dir "$TENANT_DIR/arc-tokens" &&
        wait_for 10 grep -q "JWKS written\|JWKS refresh failed" "$work/$name.log"
}
check_tampered() { # NAME DESC WANT-IN-LOG
    local name=$1 desc=$2 want=$3 s
    s=$(req "$work/$name.sock" '{"type":"status"}')
    if grep -q "OIDC discovery document refused ($want" "$work/$name.log" &&
        cmp -s "$D" "$work/disc.before" &&
        echo "$s" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)["discovery"]
sys.exit(0 if d["source"] == "cached" and "refused" in d["last_error"] else 1)'; then
        tap_ok "$desc: refused, the previous file stays and is used"
    else
        tap_fail "$desc" "$s $(cat "$work/$name.log")"
    fi
}
tamper tamper 'd["issuer"] = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0"'
check_tampered tamper "discovery with another tenant's issuer" "its issuer"
helper_stop "$HELPER_PID_tamper" || bad_exits="$bad_exits tamper:$?"
HELPER_PID_tamper=""
tamper http 'd["token_endpoint"] = d["token_endpoint"].replace("https://", "http://")'
check_tampered http "discovery with an http token_endpoint" "token_endpoint is not an https URL"
helper_stop "$HELPER_PID_http" || bad_exits="$bad_exits http:$?"
HELPER_PID_http=""

# Discovery down and no cached file: the URLs built from authority and tenant_id.
tenant_ctl POST faults "{\"path\":\"$DISC_PATH\",\"kind\":\"status\",\"status\":503,\"count\":1}" >/dev/null
write_conf "$work/down.conf" "$work/down.sock" "$work/state-down"
mkdir -p "$work/state-down"
tenant_ctl DELETE requests >/dev/null
helper_start down "$work/down.conf" --arc "$TENANT_URL/arc" --arc-token-dir "$TENANT_DIR/arc-tokens" &&
    wait_for 10 test -s "$work/state-down/jwks/keys.json"
td=$("$OCT" --socket "$work/down.sock" --agent agent-one 2>/dev/null)
s=$(req "$work/down.sock" '{"type":"status"}')
if [ -n "$td" ] && [ ! -e "$work/state-down/jwks/openid-configuration.json" ] &&
    grep -q "OIDC discovery answered HTTP 503; using the endpoints built from authority" "$work/down.log" &&
    echo "$s" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)["discovery"]
sys.exit(0 if d["source"] == "constructed" and "503" in d["last_error"] else 1)' &&
    requests_json | "$PY" -c '
import json, sys
r = [x for x in json.load(sys.stdin)["requests"] if x["path"].endswith("/oauth2/v2.0/token")]
sys.exit(0 if r and all(x["path"] == "/%s/oauth2/v2.0/token" % sys.argv[1] for x in r) else 1)' "$TENANT_ID"; then
    tap_ok "discovery down, no cache: constructed URLs, said in status and log, tokens still come"
else
    tap_fail "discovery down, no cache" "$s $(cat "$work/down.log")"
fi
helper_stop "$HELPER_PID_down" || bad_exits="$bad_exits down:$?"
HELPER_PID_down=""

# ==========================================================================
# T1 renewed ahead of expiry; a failed renewal keeps using the cached T1
# ==========================================================================
# With 302 s tokens, T1 is renewed from 2 s on (5 min before it expires).
token_seq() { # the tenant's token requests since the last clear: "client:status ..."
    requests_json | "$PY" -c '
import json, sys
r = [x for x in json.load(sys.stdin)["requests"] if x["path"].endswith("/oauth2/v2.0/token")]
print(" ".join("%s:%s" % ("T1" if x["scope"] == "api://AzureADTokenExchange/.default"
                          else x["client_id"], x["status"]) for x in r))'
}
tenant_ctl POST token-lifetime '{"seconds": 302}' >/dev/null
write_conf "$work/renew.conf" "$work/renew.sock" "$work/state-renew"
mkdir -p "$work/state-renew"
helper_start renew "$work/renew.conf" --arc "$TENANT_URL/arc" --arc-token-dir "$TENANT_DIR/arc-tokens"
ra=$("$OCT" --socket "$work/renew.sock" --agent agent-one 2>/dev/null)
sleep 3
tenant_ctl DELETE requests >/dev/null
tenant_ctl POST faults '{"path":"/oauth2/v2.0/token","kind":"status","status":503,"count":1}' >/dev/null
rb=$("$OCT" --socket "$work/renew.sock" --agent agent-one --scope "$RESOURCE_V2_URI/.default" 2>/dev/null)
seq=$(token_seq)
if [ -n "$ra" ] && [ "$(jwt_claim "$rb" aud)" = "$RESOURCE_V2_APP" ] &&
    [ "$seq" = "T1:503 $AGENT_ONE_APP:200" ] &&
    grep -q "T1 request).*HTTP 503.*the cached T1 (valid [0-9]*s more) is used meanwhile" "$work/renew.log"; then
    tap_ok "agent-identity: T1 renewal fails (503): the cached, still valid T1 is used, one log line"
else
    tap_fail "T1 renewal failure falls back to the cached T1" "$seq $(cat "$work/renew.log")"
fi
tenant_ctl DELETE requests >/dev/null
rc3=$("$OCT" --socket "$work/renew.sock" --agent agent-one --scope "$RESOURCE_V2_APP/.default" 2>/dev/null)
seq=$(token_seq)
[ -n "$rc3" ] && [ "$seq" = "T1:200 $AGENT_ONE_APP:200" ] &&
    tap_ok "agent-identity: T1 is renewed ahead of its expiry on the next request" ||
    tap_fail "T1 renewed ahead" "$seq"
tenant_ctl POST token-lifetime '{"seconds": null}' >/dev/null
helper_stop "$HELPER_PID_renew" || bad_exits="$bad_exits renew:$?"
HELPER_PID_renew=""

# ==========================================================================
# A hostile Arc endpoint: every bad challenge refused before any read
# ==========================================================================
fake=$work/fake
mkdir -p "$fake"
echo good >"$work/arc-mode"
"$PY" "$top_srcdir/tests/integration/arc_fake.py" --dir "$fake" --mode-file "$work/arc-mode" \
    --log "$work/arc-fake.log" --port-file "$work/arc-port" 2>"$work/arc-fake.err" &
FAKE_PID=$!
wait_for 10 test -s "$work/arc-port" || tap_fail "the Arc fake starts" "$(cat "$work/arc-fake.err")"
FAKE_URL=http://127.0.0.1:$(cat "$work/arc-port")
FAKE_DIR=$(cd "$fake" && pwd -P)
write_conf "$work/fake.conf" "$work/fake.sock" "$work/state-fake"
mkdir -p "$work/state-fake"
helper_start fake "$work/fake.conf" --arc "$FAKE_URL" --arc-token-dir "$FAKE_DIR/ok" ||
    tap_fail "openclawd starts against the Arc fake" "$(cat "$work/fake.log")"

# arc_case MODE DESC WANT-IN-LOG: one get-token (own scope: own entry, no backoff)
arc_case() {
    local mode=$1 desc=$2 want=$3 out before
    echo "$mode" >"$work/arc-mode"
    before=$(grep -c "^$mode auth=yes" "$work/arc-fake.log" 2>/dev/null)
    out=$("$OCT" --socket "$work/fake.sock" --agent arc-agent --scope "api://$mode/.default" 2>/dev/null)
    if [ -z "$out" ] &&
        [ "$(grep -c "^$mode auth=yes" "$work/arc-fake.log")" = "$before" ] &&
        grep "agent arc-agent" "$work/fake.log" | grep -q -- "$want"; then
        tap_ok "hostile Arc: $desc: refused, no key sent"
    else
        tap_fail "hostile Arc: $desc" "out=$out $(tail -3 "$work/fake.log"; tail -3 "$work/arc-fake.log")"
    fi
}
tg=$("$OCT" --socket "$work/fake.sock" --agent arc-agent --scope "api://good/.default" 2>&1)
[ "$tg" = arc-fake-access-token ] && grep -q "^good auth=yes metadata=true" "$work/arc-fake.log" &&
    tap_ok "Arc fake: a good challenge is answered with the key (Metadata: true), token served" ||
    tap_fail "Arc fake: good challenge" "$tg $(cat "$work/fake.log" "$work/arc-fake.log")"
arc_case outside "realm outside the allowed directory" "not a file directly inside the allowed Arc token directory"
arc_case dotdot "realm with .." "not a canonical path"
arc_case symlink "realm is a symlink" "goes through a symbolic link"
arc_case big "realm file of 5000 bytes" "larger than 4096 bytes"
arc_case fifo "realm is a FIFO" "not a regular file"
arc_case noext "realm not ending in .key" "does not end in .key"
arc_case nochallenge "401 without WWW-Authenticate" "without a WWW-Authenticate challenge"
arc_case ok200 "200 without a challenge" "without the expected 401"
grep -q "4f1c2a9e8b7d6c5f" "$work/fake.log" && tap_fail "the Arc key never reaches the log" ||
    tap_ok "the Arc key never reaches the log"

# A symlink among the directory components (the allowed directory itself).
write_conf "$work/viadir.conf" "$work/viadir.sock" "$work/state-fake"
helper_start viadir "$work/viadir.conf" --arc "$FAKE_URL" --arc-token-dir "$FAKE_DIR/oklink" ||
    tap_fail "openclawd starts with a symlinked Arc directory" "$(cat "$work/viadir.log")"
echo viadir >"$work/arc-mode"
out=$("$OCT" --socket "$work/viadir.sock" --agent arc-agent 2>/dev/null)
[ -z "$out" ] && ! grep -q "^viadir auth=yes" "$work/arc-fake.log" &&
    grep -q "realm $FAKE_DIR/oklink/good.key: the realm path goes through a symbolic link" "$work/viadir.log" &&
    tap_ok "hostile Arc: a symlinked directory component: refused, no key sent" ||
    tap_fail "hostile Arc: symlinked directory" "$out $(cat "$work/viadir.log")"

# ==========================================================================
# agent-identity with blueprint_credential = tpm-certificate (private swtpm)
# ==========================================================================
SWTPM=${SWTPM:-$(command -v swtpm 2>/dev/null || true)}
tpm_case() {
    mkdir -p "$work/tpm"
    "$SWTPM" socket --tpm2 --tpmstate dir="$work/tpm" \
        --server type=unixio,path="$work/tpm/sock" --ctrl type=unixio,path="$work/tpm/sock.ctrl" \
        --flags not-need-init,startup-clear --pid file="$work/tpm/pid" --daemon \
        >"$work/tpm/log" 2>&1
    wait_for 5 test -s "$work/tpm/pid" && wait_for 5 test -S "$work/tpm/sock"
    swtpm_pid=$(cat "$work/tpm/pid" 2>/dev/null)
    TCTI="swtpm:path=$work/tpm/sock"
    [ -n "$swtpm_pid" ] &&
        "$CTL" tpm keygen --alg ecc --out "$work/bp.tpmkey" --tcti "$TCTI" >/dev/null 2>"$work/tpm.err" &&
        "$CTL" tpm cert --key "$work/bp.tpmkey" --subject openclaw-agent-blueprint \
            --out "$work/bp.pem" --tcti "$TCTI" >/dev/null 2>>"$work/tpm.err" || return 1
    body=$("$PY" -c 'import json,sys; print(json.dumps({"appId": sys.argv[1], "certificate": open(sys.argv[2]).read()}))' \
        "$BLUEPRINT_APP" "$work/bp.pem")
    tenant_ctl POST key-credentials "$body" | grep -q keyId || return 1
    sed -e '/^\[agent arc-agent\]/,$d' "$work/main.conf" |
        sed -e 's/^socket = .*/socket = '"$(printf '%s' "$work/tpmbp.sock" | sed 's/[\/&]/\\&/g')"'/' \
            -e 's/^allow_insecure_credentials = yes/allow_insecure_credentials = no/' >"$work/tpmbp.conf"
    cat >>"$work/tpmbp.conf" <<CONF
tcti = $TCTI

[agent agent-one]
app_id = $AGENT_ONE_APP
object_id = $AGENT_ONE_APP
uid = $UID_ONE
credential = agent-identity
blueprint_app_id = $BLUEPRINT_APP
key_file = $work/bp.tpmkey
cert_file = $work/bp.pem
CONF
    chmod 644 "$work/tpmbp.conf"
    helper_start tpmbp "$work/tpmbp.conf"
}
if [ -z "$SWTPM" ] || [ ! -x "$SWTPM" ]; then
    tap_skip "agent-identity with a TPM-certificate blueprint" "swtpm not installed"
elif ! tpm_case; then
    tap_fail "agent-identity with a TPM-certificate blueprint: setup" \
        "$(cat "$work/tpm.err" "$work/tpm/log" "$work/tpmbp.log" 2>/dev/null)"
else
    tenant_ctl DELETE requests >/dev/null
    tt=$(as_uid $UID_ONE "$OCT" --socket "$work/tpmbp.sock" 2>"$work/tpmbp.err")
    if [ -n "$tt" ] && [ "$(jwt_claim "$tt" appid)" = "$AGENT_ONE_APP" ] &&
        [ "$(jwt_claim "$tt" xms_par_app_azp)" = "$BLUEPRINT_APP" ] &&
        ! grep -q "secret" "$work/tpmbp.conf" &&
        requests_json | "$PY" -c '
import json, sys
r = [x for x in json.load(sys.stdin)["requests"] if x["path"].endswith("/oauth2/v2.0/token")]
sys.exit(0 if [(x["client_id"], x["status"]) for x in r] == [(sys.argv[1], 200), (sys.argv[2], 200)] else 1)' \
            "$BLUEPRINT_APP" "$AGENT_ONE_APP"; then
        tap_ok "agent-identity: blueprint_credential = tpm-certificate (default): T1 by a TPM-signed assertion"
    else
        tap_fail "agent-identity with a TPM-certificate blueprint" \
            "$(cat "$work/tpmbp.err" "$work/tpmbp.log"; requests_json)"
    fi
fi

# agent-identity with blueprint_credential = tpm-sealed-secret: the
# blueprint's client secret sealed to the same private swtpm
if [ -n "$HELPER_PID_tpmbp" ]; then
    helper_stop "$HELPER_PID_tpmbp" || bad_exits="$bad_exits tpmbp:$?"
    HELPER_PID_tpmbp=""
    if printf '%s' "$BLUEPRINT_SECRET" |
        "$CTL" tpm seal --in - --out "$work/bp.sealed" --tcti "$TCTI" >/dev/null 2>"$work/seal.err"; then
        chmod 600 "$work/bp.sealed"
        sed -e '/^key_file = /d' -e '/^cert_file = /d' \
            -e 's/^socket = .*/socket = '"$(printf '%s' "$work/sealbp.sock" | sed 's/[\/&]/\\&/g')"'/' \
            "$work/tpmbp.conf" >"$work/sealbp.conf"
        printf 'blueprint_credential = tpm-sealed-secret\nsealed_file = %s\n' "$work/bp.sealed" \
            >>"$work/sealbp.conf"
        chmod 644 "$work/sealbp.conf"
        helper_start tpmbp "$work/sealbp.conf"
        tenant_ctl DELETE requests >/dev/null
        tt=$(as_uid $UID_ONE "$OCT" --socket "$work/sealbp.sock" 2>"$work/sealbp.err")
        if [ -n "$tt" ] && [ "$(jwt_claim "$tt" appid)" = "$AGENT_ONE_APP" ] &&
            [ "$(jwt_claim "$tt" xms_par_app_azp)" = "$BLUEPRINT_APP" ] &&
            ! grep -q -- "$BLUEPRINT_SECRET" "$work/sealbp.conf" "$work/tpmbp.log"; then
            tap_ok "agent-identity: blueprint_credential = tpm-sealed-secret: T1 with the unsealed secret"
        else
            tap_fail "agent-identity with a sealed blueprint secret" \
                "$(cat "$work/sealbp.err" "$work/tpmbp.log"; requests_json)"
        fi
    else
        tap_fail "agent-identity with a sealed blueprint secret: seal" "$(cat "$work/seal.err")"
    fi
fi

# --- clean exits ----------------------------------------------------------
if [ -n "$HELPER_PID_tpmbp" ]; then
    helper_stop "$HELPER_PID_tpmbp" || bad_exits="$bad_exits tpmbp:$?"
    HELPER_PID_tpmbp=""
fi
[ -z "$bad_exits" ] && tap_ok "the short-lived openclawd runs exited 0 on SIGTERM" ||
    tap_fail "the short-lived openclawd runs exited 0 on SIGTERM" "$bad_exits"
for n in main fake viadir; do
    eval "p=\$HELPER_PID_$n"
    helper_stop "$p"
    rc=$?
    eval "HELPER_PID_$n="
    [ $rc -eq 0 ] && tap_ok "openclawd ($n) exits 0 on SIGTERM" ||
        tap_fail "openclawd ($n) exits 0 on SIGTERM" "rc=$rc"
done

tap_done
