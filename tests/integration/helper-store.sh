#!/bin/sh
# openclawd and the TPM: credential = tpm-sealed-secret (the client secret
# sealed to a private swtpm, unsealed per request; the same blob on a second
# swtpm is refused with the fix in the log), tokens at rest in tokens.db
# under a data key sealed to the TPM (a restart during an outage serves the
# stored token; the state directory copied to a second swtpm, a corrupt or
# truncated tokens.db: one clear line, fresh tokens, no crash; no TPM: not
# persisted), and the software-key warning with "key":"software" in status.
# Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/bytes.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

SWTPM=${SWTPM:-$(command -v swtpm 2>/dev/null || true)}
CTL="$top_builddir/helper/ctl/openclawctl"
[ "$(id -u)" = 0 ] || tap_skip_all "needs root (clients run under other uids with setpriv)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
[ -n "$SWTPM" ] && [ -x "$SWTPM" ] || tap_skip_all "swtpm not installed"
[ -x "$OCD" ] && [ -x "$OCT" ] && [ -x "$CTL" ] || tap_skip_all "openclawd/openclawctl not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
TSS2_LOG=${TSS2_LOG:-all+none}
export TSS2_LOG

UID_A=1879048193 # agent-alpha: tpm-sealed-secret
UID_B=1879048194 # agent-beta: tpm-certificate with a software key
UID_G=1879048197 # agent-gamma: tpm-certificate with a TPM key (status only)
GAMMA_OID=c3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e4a
TOKEN_PATH=/oauth2/v2.0/token

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-helper-store.XXXXXX")
chmod 755 "$work"
uid_copies "$work/bin" # what runs under other uids: copies, never the tree
HELPER_PID_d=""
swtpm_pids=""
cleanup() {
    helper_stop "$HELPER_PID_d"
    tenant_stop
    for p in $swtpm_pids; do
        kill "$p" 2>/dev/null
    done
    for p in $swtpm_pids; do
        for _ in $(seq 1 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT

start_swtpm() { # NAME
    local d="$work/$1"
    mkdir -p "$d"
    "$SWTPM" socket --tpm2 --tpmstate dir="$d" \
        --server type=unixio,path="$d/sock" --ctrl type=unixio,path="$d/sock.ctrl" \
        --flags not-need-init,startup-clear --pid file="$d/pid" --daemon >"$d/log" 2>&1 || return 1
    wait_for 5 test -s "$d/pid" && wait_for 5 test -S "$d/sock" || return 1
    swtpm_pids="$swtpm_pids $(cat "$d/pid")"
}
fatal() {
    tap_fail "$1" "$2"
    tap_done
    exit 1
}

start_swtpm tpmA && start_swtpm tpmB || fatal "two private swtpm instances start" "$(cat "$work"/tpm*/log)"
TCTI_A="swtpm:path=$work/tpmA/sock"
TCTI_B="swtpm:path=$work/tpmB/sock"
tenant_start "$work/tenant" || fatal "local tenant starts"

write_conf() { # FILE TCTI SOCKET
    cat >"$1" <<CONF
[global]
tenant_id = $TENANT_ID
authority = $TENANT_URL
audiences = $RESOURCE_URI
state_dir = $work/unused-state
keys_dir = $work/keys
socket = $3
ca_file = $TENANT_CA
tcti = $2
allow_software_keys = yes

[agent agent-alpha]
app_id = $ALPHA_APP
object_id = $ALPHA_OID
uid = $UID_A
credential = tpm-sealed-secret
sealed_file = $work/keys/alpha.sealed

[agent agent-beta]
app_id = $BETA_APP
object_id = $BETA_OID
uid = $UID_B
credential = tpm-certificate
key_file = $work/keys/beta.key
cert_file = $work/keys/beta.pem

[agent agent-gamma]
app_id = $AGENT_ONE_APP
object_id = $GAMMA_OID
uid = $UID_G
credential = tpm-certificate
key_file = $work/keys/gamma.key
cert_file = $work/keys/gamma.pem
CONF
    chmod 600 "$1"
}
S=$work/openclawd.sock
write_conf "$work/A.conf" "$TCTI_A" "$S"
write_conf "$work/B.conf" "$TCTI_B" "$S"
write_conf "$work/none.conf" "swtpm:path=$work/no-such-tpm" "$S"
mkdir -m 0700 "$work/keys"

# --- credentials, made with openclawctl ------------------------------------
if printf '%s\n' "$ALPHA_SECRET" |
    "$CTL" tpm seal --in - --out "$work/keys/alpha.sealed" --tcti "$TCTI_A" >/dev/null 2>"$work/ctl.err" &&
    "$CTL" tpm keygen --software --alg ecc --out "$work/keys/beta.key" --config "$work/A.conf" \
        >/dev/null 2>>"$work/ctl.err" &&
    "$CTL" tpm cert --key "$work/keys/beta.key" --subject agent-beta --out "$work/keys/beta.pem" \
        --config "$work/A.conf" >/dev/null 2>>"$work/ctl.err" &&
    "$CTL" tpm keygen --alg ecc --out "$work/keys/gamma.key" --tcti "$TCTI_A" >/dev/null 2>>"$work/ctl.err" &&
    "$CTL" tpm cert --key "$work/keys/gamma.key" --subject agent-gamma --out "$work/keys/gamma.pem" \
        --tcti "$TCTI_A" >/dev/null 2>>"$work/ctl.err"; then
    tap_ok "alpha's secret sealed to swtpm A; a software key for beta, a TPM key for gamma"
else
    fatal "credentials made with openclawctl tpm" "$(cat "$work/ctl.err")"
fi
body=$("$PY" -c 'import json,sys; print(json.dumps({"appId": sys.argv[1], "certificate": open(sys.argv[2]).read()}))' \
    "$BETA_APP" "$work/keys/beta.pem")
case $(tenant_ctl POST key-credentials "$body") in
*keyId*) tap_ok "beta's software-key certificate registered on its application" ;;
*) tap_fail "beta's certificate registered" ;;
esac

token_requests() { # CLIENT_ID: token endpoint calls in the tenant's log
    tenant_ctl GET "requests?path=$TOKEN_PATH" | "$PY" -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin)["requests"] if r.get("client_id") == sys.argv[1]))
' "$1"
}
start() { # NAME CONF STATE
    helper_start "$1" "$2" --state "$3" || fatal "openclawd ($1) starts" "$(cat "$work/$1.log")"
    HELPER_PID_d=$(eval echo "\$HELPER_PID_$1")
}
stop() {
    helper_stop "$HELPER_PID_d"
    rc=$?
    HELPER_PID_d=""
    return $rc
}
get() { # UID
    as_uid "$1" "$OCT" --socket "$S" 2>>"$work/client.err"
}
agent_field() { # AGENT FIELD: from status as root
    req "$S" '{"type":"status"}' | "$PY" -c '
import json, sys
for a in json.load(sys.stdin)["agents"]:
    if a["name"] == sys.argv[1]:
        print(a.get(sys.argv[2], ""))' "$1" "$2"
}

# --- swtpm A: sealed secret, software key, a new store ----------------------
start a1 "$work/A.conf" "$work/stateA"
grep -q "new data key sealed to this TPM" "$work/a1.log" && tap_ok "store: a data key is sealed to the TPM at first start" ||
    tap_fail "store: a data key is sealed at first start" "$(cat "$work/a1.log")"
ta=$(get $UID_A)
if [ -n "$ta" ] && [ "$(jwt_claim "$ta" appid)" = "$ALPHA_APP" ] && [ "$(jwt_claim "$ta" appidacr)" = 1 ]; then
    tap_ok "tpm-sealed-secret: agent-alpha gets a token with the client secret unsealed from the TPM"
else
    tap_fail "tpm-sealed-secret: agent-alpha gets a token" "$(cat "$work/client.err"; tail -5 "$work/a1.log")"
fi
# File checks on sealed_file, each on a scope not fetched yet (a new request).
sealed=$work/keys/alpha.sealed
before_a=$(token_requests "$ALPHA_APP")
chmod 644 "$sealed"
out=$(as_uid $UID_A "$OCT" --socket "$S" --scope "$RESOURCE_V2_URI/.default" 2>/dev/null)
chmod 600 "$sealed"
[ -z "$out" ] && grep -q "agent agent-alpha: cannot use sealed_file $sealed: readable by group or others (chmod 600" "$work/a1.log" &&
    tap_ok "tpm-sealed-secret: a group-readable sealed_file is refused, the log says chmod 600" ||
    tap_fail "tpm-sealed-secret: group-readable sealed_file refused" "$(tail -2 "$work/a1.log")"
mv "$sealed" "$sealed.real" && ln -s "$sealed.real" "$sealed"
out=$(as_uid $UID_A "$OCT" --socket "$S" --scope "$RESOURCE_V2_APP/.default" 2>/dev/null)
rm -f "$sealed" && mv "$sealed.real" "$sealed"
[ -z "$out" ] && grep -q "agent agent-alpha: cannot use sealed_file $sealed: a symbolic link" "$work/a1.log" &&
    [ "$(token_requests "$ALPHA_APP")" = "$before_a" ] &&
    tap_ok "tpm-sealed-secret: a symlinked sealed_file is refused; no request was sent for either" ||
    tap_fail "tpm-sealed-secret: symlinked sealed_file refused" "$(tail -2 "$work/a1.log")"
tb=$(get $UID_B)
if [ -n "$tb" ] && [ "$(jwt_claim "$tb" appid)" = "$BETA_APP" ] && [ "$(jwt_claim "$tb" appidacr)" = 2 ]; then
    tap_ok "software key: agent-beta gets a token with a software-signed assertion"
else
    tap_fail "software key: agent-beta gets a token" "$(tail -5 "$work/a1.log")"
fi
n=$(grep -c "agent agent-beta: WARNING: the client assertion was signed with a software key" "$work/a1.log")
[ "$n" = 1 ] && tap_ok "software key: one warning for the one token request" ||
    tap_fail "software key: one warning per token request" "$n warnings"
[ "$(agent_field agent-beta key)" = software ] && [ "$(agent_field agent-gamma key)" = tpm ] &&
    [ -z "$(agent_field agent-alpha key)" ] &&
    tap_ok "status: \"key\":\"software\" for the software key, \"tpm\" for the TPM key" ||
    tap_fail "status: key kinds" "$(req "$S" '{"type":"status"}')"
if wait_for 5 test -s "$work/stateA/tokens.db" && [ "$(stat -c %a "$work/stateA/tokens.db")" = 600 ] &&
    [ "$(stat -c %a "$work/stateA/tokens.key")" = 600 ]; then
    tap_ok "store: tokens.db and tokens.key written, mode 0600"
else
    tap_fail "store: tokens.db and tokens.key written, 0600" "$(ls -la "$work/stateA")"
fi
ls -a "$work/stateA" | grep -q '^\.tokens\.db\.' && tap_fail "store: no temporary file left" ||
    tap_ok "store: no temporary file left"
stop && tap_ok "SIGTERM: clean exit" || tap_fail "SIGTERM: clean exit" "rc=$rc"

# --- (a) restart during an outage: the stored token is served ---------------
tenant_ctl POST faults "{\"path\":\"$TOKEN_PATH\",\"kind\":\"status\",\"status\":503,\"count\":1000}" >/dev/null
before_a=$(token_requests "$ALPHA_APP")
start a2 "$work/A.conf" "$work/stateA"
grep -q "token store: 2 token(s) restored" "$work/a2.log" && tap_ok "restart: the log says 2 tokens were restored" ||
    tap_fail "restart: tokens restored" "$(cat "$work/a2.log")"
ta2=$(get $UID_A)
[ -n "$ta2" ] && [ "$ta2" = "$ta" ] &&
    tap_ok "restart while Entra answers 503: agent-alpha gets the SAME token, from the store" ||
    tap_fail "restart during an outage: the same token" "$(tail -5 "$work/a2.log")"
tb2=$(get $UID_B)
[ -n "$tb2" ] && [ "$tb2" = "$tb" ] && tap_ok "... and so does agent-beta" || tap_fail "... and agent-beta"
[ "$(token_requests "$ALPHA_APP")" = "$before_a" ] &&
    tap_ok "... without any request to the token endpoint" ||
    tap_fail "... without any request to the token endpoint" "$before_a -> $(token_requests "$ALPHA_APP")"
stop
# Again, with the clock (test builds: OPENCLAW_TEST_NOW) a minute before the
# token expires: past its refresh point, so the daemon tries Entra at once,
# gets 503, and serves the stored token as stale.
before_a=$(token_requests "$ALPHA_APP")
OPENCLAW_TEST_NOW=$(($(jwt_claim "$ta" exp) - 60))
export OPENCLAW_TEST_NOW
start a3 "$work/A.conf" "$work/stateA"
unset OPENCLAW_TEST_NOW
alpha_state() {
    req "$S" '{"type":"status"}' | "$PY" -c '
import json, sys
for a in json.load(sys.stdin)["agents"]:
    if a["name"] == "agent-alpha" and a["tokens"] and a["tokens"][0]["state"] == "stale":
        sys.exit(0)
sys.exit(1)'
}
if wait_for 10 alpha_state && [ "$(get $UID_A)" = "$ta" ] &&
    [ "$(token_requests "$ALPHA_APP")" -gt "$before_a" ] &&
    grep -q "agent agent-alpha: the token endpoint is unavailable (HTTP 503.*serving the last good token" "$work/a3.log"; then
    tap_ok "restart past the refresh point while Entra answers 503: the stored token is served as stale"
else
    tap_fail "restart past the refresh point: stale token served" "$(tail -5 "$work/a3.log")"
fi
stop
tenant_ctl DELETE faults >/dev/null

# --- tpm-sealed-secret: the blob on another TPM -------------------------------
# --- (b) the state directory copied to another TPM ----------------------------
cp -a "$work/stateA" "$work/stateB"
if grep -q "eyJ" "$work/stateB/tokens.db" || grep -qF -- "$(printf '%s' "$ta" | cut -c 1-40)" "$work/stateB/tokens.db"; then
    tap_fail "the copied tokens.db holds no token in clear"
else
    tap_ok "the copied tokens.db holds no token in clear"
fi
before_a=$(token_requests "$ALPHA_APP")
before_b=$(token_requests "$BETA_APP")
start b1 "$work/B.conf" "$work/stateB"
grep -q "token store: state directory from another TPM.*ignored; tokens will be acquired fresh" "$work/b1.log" &&
    tap_ok "swtpm B: the log says the state directory is from another TPM, tokens acquired fresh" ||
    tap_fail "swtpm B: state directory from another TPM" "$(cat "$work/b1.log")"
grep -q "restored" "$work/b1.log" && tap_fail "swtpm B: nothing restored" || tap_ok "swtpm B: nothing restored"
tb3=$(get $UID_B)
[ -n "$tb3" ] && [ "$tb3" != "$tb" ] && [ "$(token_requests "$BETA_APP")" = $((before_b + 1)) ] &&
    tap_ok "swtpm B: agent-beta gets a fresh token (one new token request)" ||
    tap_fail "swtpm B: a fresh token" "$(tail -5 "$work/b1.log")"
out=$(get $UID_A)
rc=$?
if [ $rc -ne 0 ] && [ -z "$out" ] &&
    grep -q "agent agent-alpha: sealed_file .* was sealed on another TPM.*what to do: reseal the client secret on this host" "$work/b1.log" &&
    [ "$(token_requests "$ALPHA_APP")" = "$before_a" ]; then
    tap_ok "tpm-sealed-secret on swtpm B: refused, one log line says to reseal on this host, no request sent"
else
    tap_fail "tpm-sealed-secret on swtpm B: refused" "rc=$rc $(tail -5 "$work/b1.log")"
fi
wait_for 5 grep -q "new data key sealed" "$work/b1.log" && stop &&
    tap_ok "swtpm B: a new key is sealed there; clean exit" || tap_fail "swtpm B: new key; clean exit" "rc=$rc"

# --- (c) a corrupt tokens.db ---------------------------------------------------
# restart_fresh NAME PATTERN: start on B, the log matches PATTERN, beta gets a new token
restart_fresh() {
    local before
    before=$(token_requests "$BETA_APP")
    start "$1" "$work/B.conf" "$work/stateB"
    if grep -q -- "$2" "$work/$1.log" && [ -n "$(get $UID_B)" ] &&
        [ "$(token_requests "$BETA_APP")" = $((before + 1)) ] && stop; then
        return 0
    fi
    tail -5 "$work/$1.log" | sed 's/^/# /'
    stop
    return 1
}
db=$work/stateB/tokens.db
size=$(stat -c %s "$db")
flip_byte "$db" $((size / 2))
restart_fresh c1 "tokens.db is unreadable: it fails authentication (modified or corrupt).*acquired fresh" &&
    tap_ok "a flipped byte in tokens.db: one clear line, a fresh token, clean exit" ||
    tap_fail "a flipped byte in tokens.db"
head -c 30 "$db" >"$db.new" && mv "$db.new" "$db"
restart_fresh c2 "tokens.db is unreadable: it is corrupt or truncated" &&
    tap_ok "a truncated tokens.db: one clear line, a fresh token, clean exit" ||
    tap_fail "a truncated tokens.db"
printf '\000\011' | dd of="$db" bs=1 seek=4 conv=notrunc 2>/dev/null
restart_fresh c3 "tokens.db is unreadable: it has another format version" &&
    tap_ok "tokens.db of another format version: one clear line, a fresh token, clean exit" ||
    tap_fail "tokens.db of another format version"
head -c 4000 /dev/urandom >"$db"
restart_fresh c4 "tokens.db is unreadable" &&
    tap_ok "random bytes as tokens.db: one clear line, a fresh token, clean exit" ||
    tap_fail "random bytes as tokens.db"
cp "$work/stateA/tokens.db" "$db"
restart_fresh c5 "tokens.db is unreadable: it was written under another data key" &&
    tap_ok "tokens.db of another host's key: one clear line, a fresh token, clean exit" ||
    tap_fail "tokens.db of another host's key"

# --- no TPM: tokens are not persisted ----------------------------------------
start n1 "$work/none.conf" "$work/stateN"
[ -n "$(get $UID_B)" ] && stop && grep -c "token store: no TPM" "$work/n1.log" | grep -qx 1 &&
    [ ! -e "$work/stateN/tokens.db" ] &&
    tap_ok "no TPM reachable: one log line, tokens served but not persisted" ||
    tap_fail "no TPM reachable: not persisted" "$(cat "$work/n1.log")"

# --- (d) logs -------------------------------------------------------------------
logs=$(ls "$work"/*.log)
grep -qF -- "$ALPHA_SECRET" $logs && tap_fail "no secret in any log" || tap_ok "no secret in any log"
grep -q "eyJ" $logs && tap_fail "no token in any log" || tap_ok "no token in any log"
grep -q "Sanitizer\|runtime error" $logs &&
    tap_fail "no sanitizer report from the daemon" "$(grep -h -A5 'Sanitizer\|runtime error' $logs)" ||
    tap_ok "no sanitizer report from the daemon"
tap_done
