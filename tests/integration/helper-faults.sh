#!/bin/sh
# openclawd under faults: a malformed token answer, a TCP reset from the
# token endpoint, a malformed JWKS; `openclawctl status` showing what the
# daemon reports; and the daemon killed with SIGKILL 100 times while it
# writes its files at start: after every kill the files that readers use
# are complete (the last good version or the new one, never a mix), and a
# normal restart recovers and leaves no temporary file behind. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

[ "$(id -u)" = 0 ] || tap_skip_all "needs root (clients run under several uids with setpriv)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
[ -x "$OCD" ] && [ -x "$OCT" ] || tap_skip_all "openclawd not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
CTL=$top_builddir/helper/openclawctl
KILLS=${OC_KILL_LOOPS:-100}

UID_A=1879048193
ALPHA_APP=a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f
ALPHA_OID=a3d5f7b9-1c4e-4a8b-8d2f-3c5e7a9b1d4f
ALPHA_SECRET='aLp8Q~openclaw-demo-agent-alpha-secret.001'
ADMIN_APP=c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b
ADMIN_SECRET='aDm8Q~openclaw-demo-admin-secret.00000001'
TOKEN_PATH=/oauth2/v2.0/token

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-faults.XXXXXX")
chmod 755 "$work"
HELPER_PID_main=""
cleanup() {
    helper_stop "$HELPER_PID_main"
    [ -n "${kpid:-}" ] && kill -KILL "$kpid" 2>/dev/null
    tenant_stop
    [ -n "${OC_KEEP_WORK:-}" ] && echo "# kept $work" || rm -rf "$work"
}
trap cleanup EXIT

tenant_start "$work/tenant" || {
    echo "1..1"
    echo "not ok 1 - local tenant starts"
    exit 1
}
printf '%s\n' "$ALPHA_SECRET" >"$work/alpha.secret"
printf '%s\n' "$ADMIN_SECRET" >"$work/admin.secret"
chmod 600 "$work/alpha.secret" "$work/admin.secret"
mkdir -p "$work/state"
S=$work/openclawd.sock
cat >"$work/main.conf" <<CONF
[global]
tenant_id = $TENANT_ID
authority = $TENANT_URL
issuer_v2 = https://login.microsoftonline.com/{tenantid}/v2.0
audiences = api://openclaw-host
state_dir = $work/state
socket = $S
ca_file = $TENANT_CA
allow_insecure_credentials = yes

[agent agent-alpha]
app_id = $ALPHA_APP
object_id = $ALPHA_OID
uid = $UID_A
credential = secret-file
secret_file = $work/alpha.secret

[directory]
graph_url = $TENANT_URL
graph_resource = https://graph.microsoft.com
credential = secret-file
app_id = $ADMIN_APP
secret_file = $work/admin.secret
CONF
chmod 644 "$work/main.conf"
J=$work/state/jwks/keys.json
NC=$work/state/nss.cache
DJ=$work/state/directory.json

alive() { req "$S" '{"type":"ping"}' | grep -q '"pong"'; }
get_token() { # SCOPE (as root, for agent-alpha)
    req "$S" "{\"type\":\"get-token\",\"agent\":\"agent-alpha\",\"scope\":\"$1\"}"
}
jwks_complete() { # FILE: a whole JWKS document with at least one key
    "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if isinstance(d.get("keys"), list) and d["keys"] and all("kid" in k for k in d["keys"]) else 1)
' "$1" 2>/dev/null
}

helper_start main "$work/main.conf" || {
    tap_fail "openclawd starts" "$(cat "$work/main.log")"
    tap_done
    exit 1
}
wait_for 10 test -s "$J"

# --- status through the socket ------------------------------------------------
as_uid $UID_A "$OCT" --socket "$S" >/dev/null 2>&1
st=$("$CTL" status --config "$work/main.conf" --json 2>&1)
if printf '%s' "$st" | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
a = [x for x in s["agents"] if x["name"] == "agent-alpha"][0]
ok = s["helper_up"] and "jwks" in s["helper"] and a["tokens"][0]["state"] == "fresh" \
     and a["tokens"][0]["expires_on"] > 0
sys.exit(0 if ok else 1)'; then
    tap_ok "openclawctl status --json carries what the daemon reports (token state and expiry)"
else
    tap_fail "openclawctl status --json carries the daemon's report" "$st"
fi
human=$("$CTL" status --config "$work/main.conf" 2>&1)
printf '%s\n' "$human" | grep -q 'agent-alpha.*fresh, expires in' &&
    printf '%s\n' "$human" | grep -q '^  jwks  *age ' &&
    tap_ok "openclawctl status shows the token expiry and the JWKS age from the daemon" ||
    tap_fail "openclawctl status shows the daemon's view" "$human"

# --- openclaw-askpass without a token file: the token from openclawd -----------
full=$(as_uid $UID_A "$OCT" --socket "$S" 2>/dev/null)
askp() { as_uid $UID_A env PATH="$top_builddir/helper:$top_srcdir/helper:$PATH" OPENCLAW_SOCKET="$S" \
    OPENCLAW_TOKEN_FILE= OPENCLAW_CONFIG="$work/main.conf" sh "$top_srcdir/helper/openclaw-askpass" "$1"; }
c0=$(askp "(agent-alpha@host) Entra token [0]: ")
c1=$(askp "(agent-alpha@host) Entra token [500]: ")
if [ -n "$full" ] && [ "${#c0}" -eq 500 ] && [ "$c0$c1" = "$(printf '%s' "$full" | head -c $((500 + ${#c1})))" ]; then
    tap_ok "openclaw-askpass without a token file answers the chunks with the agent's token from openclawd"
else
    tap_fail "openclaw-askpass answers from openclawd" "len ${#c0} ${#c1} of ${#full}"
fi

# --- a malformed token answer --------------------------------------------------
tenant_ctl POST faults "{\"path\":\"$TOKEN_PATH\",\"kind\":\"malformed\",\"count\":1}" >/dev/null
ans=$(get_token "api://openclaw-host-v2/.default")
case $ans in
*'"unavailable"'*) tap_ok "malformed token answer: the client is told the token is unavailable" ;;
*) tap_fail "malformed token answer: unavailable" "$ans" ;;
esac
alive && grep -q 'agent agent-alpha' "$work/main.log" &&
    tap_ok "malformed token answer: daemon alive, one log line about it" ||
    tap_fail "malformed token answer: daemon alive" "$(tail -3 "$work/main.log")"
if wait_for 15 sh -c "'$PY' '$CLIENT' '$S' json '{\"type\":\"get-token\",\"agent\":\"agent-alpha\",\"scope\":\"api://openclaw-host-v2/.default\"}' | grep -q access_token"; then
    tap_ok "malformed token answer: the retry after the backoff gets the token"
else
    tap_fail "malformed token answer: retry gets the token" "$(tail -3 "$work/main.log")"
fi

# --- TCP resets from the token endpoint -----------------------------------------
# libcurl itself retries a request whose reused connection dies, on the next
# idle connection of its pool, so a single reset may never reach the daemon:
# the endpoint resets every connection until the faults are cleared.
tenant_ctl POST faults "{\"path\":\"$TOKEN_PATH\",\"kind\":\"reset\",\"count\":20}" >/dev/null
ans=$(get_token "https://graph.microsoft.com/.default")
case $ans in
*'"unavailable"'*) tap_ok "connection reset by the token endpoint: unavailable, retry later" ;;
*) tap_fail "connection reset: unavailable" "$(printf '%.200s' "$ans"; tenant_ctl GET "requests?path=$TOKEN_PATH" | "$PY" -c '
import json, sys
for r in json.load(sys.stdin)["requests"][-6:]:
    print(r["seq"], r["client_id"], r["scope"], r["status"], r["fault"])')" ;;
esac
alive && tap_ok "connection reset: daemon alive" || tap_fail "connection reset: daemon alive"
logged_reset() { grep -v audit "$work/main.log" | grep -Eiq 'agent-alpha.*(unreachable|reset|receiv)'; }
wait_for 5 logged_reset && tenant_ctl DELETE faults >/dev/null &&
    tap_ok "connection reset: one log line says the token endpoint is unreachable" ||
    tap_fail "connection reset: logged" "$(tail -3 "$work/main.log")"
if wait_for 15 sh -c "'$PY' '$CLIENT' '$S' json '{\"type\":\"get-token\",\"agent\":\"agent-alpha\",\"scope\":\"https://graph.microsoft.com/.default\"}' | grep -q access_token"; then
    tap_ok "connection reset: the retry gets the token"
else
    tap_fail "connection reset: the retry gets the token" "$(tail -3 "$work/main.log")"
fi
helper_stop "$HELPER_PID_main"
HELPER_PID_main=""

# --- a malformed JWKS never replaces the good file -----------------------------
cp "$J" "$work/good-keys.json"
tenant_ctl POST faults '{"path":"/discovery/v2.0/keys","kind":"malformed","count":5}' >/dev/null
helper_start main "$work/main.conf" || tap_fail "openclawd restarts" "$(cat "$work/main.log")"
wait_for 10 grep -q -i 'jwks' "$work/main.log"
sleep 0.5
cmp -s "$J" "$work/good-keys.json" && jwks_complete "$J" &&
    tap_ok "a malformed JWKS answer leaves the last good keys.json in place" ||
    tap_fail "a malformed JWKS answer leaves keys.json" "$(tail -3 "$work/main.log")"
helper_stop "$HELPER_PID_main"
HELPER_PID_main=""
tenant_ctl DELETE faults >/dev/null

# --- SIGKILL while writing, $KILLS times ----------------------------------------
# Each round starts the daemon (at start it fetches and writes the JWKS and
# the discovery document, syncs the directory and writes nss.cache,
# directory.json and names.json), waits a pseudo-random 0..199 ms, and kills
# it with SIGKILL. After each kill, the files readers open must be complete:
# keys.json a whole JWKS, nss.cache valid for openclawctl's reader (the NSS
# module's), directory.json whole. The tenant rotates its keys and flips
# agent-beta's role assignment every 10 rounds so that writes really
# replace the content.
wait_for 15 test -s "$NC"
wait_for 15 test -s "$DJ"
nss_ok() { "$CTL" status --config "$work/main.conf" --json 2>/dev/null | "$PY" -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["nss_cache"]["ok"] else 1)'; }
dir_ok() { "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if d["agents"] else 1)' "$DJ" 2>/dev/null; }
bad_nss=0 bad_dir=0
bad=0 killed_mid=0
i=1
while [ "$i" -le "$KILLS" ]; do
    if [ $((i % 10)) -eq 0 ]; then
        tenant_ctl POST rotate-keys '{}' >/dev/null
        if [ $((i % 20)) -eq 0 ]; then
            tenant_ctl POST assignments '{"principalAppId":"b1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f2a","resourceAppId":"6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d","appRole":"Host.Login"}' >/dev/null
        else
            tenant_ctl POST assignments/remove '{"principalAppId":"b1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f2a"}' >/dev/null
        fi
    fi
    "$OCD" --config "$work/main.conf" --foreground --allow-root >>"$work/kill.log" 2>&1 &
    kpid=$!
    sleep "0.$(printf '%03d' $(((i * 7919) % 200)))"
    kill -KILL "$kpid" 2>/dev/null
    wait "$kpid" 2>/dev/null
    [ -S "$S" ] && killed_mid=$((killed_mid + 1))
    if [ -e "$J" ] && ! jwks_complete "$J"; then
        bad=$((bad + 1))
        cp "$J" "$work/torn-$i.json"
    fi
    [ -e "$NC" ] && ! nss_ok && bad_nss=$((bad_nss + 1))
    [ -e "$DJ" ] && ! dir_ok && bad_dir=$((bad_dir + 1))
    i=$((i + 1))
done
kpid=""
[ "$bad" -eq 0 ] &&
    tap_ok "SIGKILL x$KILLS during start-up writes: keys.json always complete ($killed_mid kills after the socket was up)" ||
    tap_fail "SIGKILL x$KILLS: keys.json always complete" "$bad torn files"
[ "$bad_nss" -eq 0 ] && [ "$bad_dir" -eq 0 ] &&
    tap_ok "SIGKILL x$KILLS during directory syncs: nss.cache and directory.json always complete" ||
    tap_fail "SIGKILL x$KILLS: nss.cache and directory.json always complete" "nss $bad_nss, directory $bad_dir"

# restart recovers: the file is current again and no temporary file stays
helper_start main "$work/main.conf" || tap_fail "openclawd restarts after the kills" "$(tail -5 "$work/main.log")"
tenant_get "/$TENANT_ID/discovery/v2.0/keys" >"$work/tenant-keys.json"
same_kids() {
    "$PY" -c '
import json, sys
want = sorted(k["kid"] for k in json.load(open(sys.argv[1]))["keys"])
got = sorted(k["kid"] for k in json.load(open(sys.argv[2]))["keys"])
sys.exit(0 if want == got else 1)' "$work/tenant-keys.json" "$J" 2>/dev/null
}
if wait_for 10 same_kids; then
    tap_ok "after the kills a normal start writes the current keys"
else
    tap_fail "after the kills a normal start writes the current keys" "$(tail -5 "$work/main.log")"
fi
# A running daemon may be in the middle of a write (a directory sync or a
# JWKS refresh) when we look, so its own live temporary file can be seen for
# a moment; a file left by a killed run stays for good. Look until none is
# seen, for at most 10 s.
no_temps() { [ -z "$(find "$work/state" -name '.*.??????')" ]; }
if wait_for 10 no_temps; then
    tap_ok "no temporary file left in the state directory after the restart"
else
    tap_fail "no temporary file left after the restart" "$(find "$work/state" -name '.*.??????')"
fi
NSSW=$(for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib; do [ -e "$d/libnss_wrapper.so" ] && echo "$d/libnss_wrapper.so" && break; done)
NSSM=$top_builddir/nss_openclaw/.libs/libnss_openclaw.so.2
if readelf --dyn-syms -W "$NSSM" 2>/dev/null | grep -q '__asan_'; then
    tap_skip "after the kills getent resolves the agent" \
        "sanitizer build: nss_wrapper and getent lack the ASan runtime (run in the gcc build)"
elif [ -n "$NSSW" ] && [ -e "$NSSM" ]; then
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/passwd"
    printf 'root:x:0:\n' >"$work/group"
    if wait_for 10 sh -c "LD_PRELOAD='$NSSW' NSS_WRAPPER_PASSWD='$work/passwd' NSS_WRAPPER_GROUP='$work/group' \
        NSS_WRAPPER_MODULE_SO_PATH='$NSSM' \
        NSS_WRAPPER_MODULE_FN_PREFIX=openclaw OPENCLAW_CONFIG='$work/main.conf' \
        getent passwd agent-alpha | grep -q ':$UID_A:'"; then
        tap_ok "after the kills getent resolves the agent from the NSS cache"
    else
        tap_fail "after the kills getent resolves the agent" "$(tail -3 "$work/main.log")"
    fi
else
    tap_skip "after the kills getent resolves the agent" "nss_wrapper or the module missing"
fi
# PAM verifies from keys.json: a token signed by the tenant's current key
# (rotated during the kills) verifies against the file left by the last run
tok=$(tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "api://openclaw-host/.default")
if [ -n "$tok" ] && printf '%s' "$tok" | "$CTL" verify-token --config "$work/main.conf" \
    --jwks "$J" >"$work/verify.out" 2>&1; then
    tap_ok "after the kills a token signed by the current key verifies from keys.json (as PAM does)"
else
    tap_fail "after the kills a token verifies from keys.json" "$(tail -5 "$work/verify.out")"
fi
as_uid $UID_A "$OCT" --socket "$S" >/dev/null 2>&1 &&
    tap_ok "after the kills the agent gets its token" ||
    tap_fail "after the kills the agent gets its token" "$(tail -5 "$work/main.log")"
helper_stop "$HELPER_PID_main"
rc=$?
HELPER_PID_main=""
[ "$rc" -eq 0 ] && tap_ok "SIGTERM: clean exit" || tap_fail "SIGTERM: clean exit" "rc=$rc"
if grep -q "$ALPHA_SECRET" "$work"/*.log; then
    tap_fail "no secret in any log"
else
    tap_ok "no secret in any log"
fi
tap_done
