#!/bin/sh
# openclawd for real: the daemon against the local test tenant, with clients
# under different uids (setpriv; the uids need not exist). Checks the
# authorization table, the frame rules, secret-file, managed identity,
# the JWKS file, caching, backoff on 503, Retry-After on 429, a slow tenant
# (the loop keeps answering, one request per (agent, scope)), and serving
# the last good token while the tenant is down. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

[ "$(id -u)" = 0 ] || tap_skip_all "needs root (clients run under several uids with setpriv)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
[ -x "$OCD" ] && [ -x "$OCT" ] || tap_skip_all "openclawd not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"

UID_A=1879048193 # agent-alpha (secret-file)
UID_B=1879048194 # agent-beta (secret-file)
UID_M=1879048195 # vm-agent (managed identity)
UID_U=1879048196 # uami-agent (user-assigned managed identity)
UID_HUMAN=4242
UAMI_CLIENT=0c3d4e5f-6a7b-4c8d-8e9f-1a2b3c4d5e6f
UAMI_OBJECT=0d4e5f6a-7b8c-4d9e-9f0a-2b3c4d5e6f7a
MI_CLIENT=0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
MI_OBJECT=0b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e
TOKEN_PATH=/oauth2/v2.0/token

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-helper.XXXXXX")
chmod 755 "$work" # clients under other uids reach the socket in it
uid_copies "$work/bin" # what runs under other uids: copies, never the tree
HELPER_PID_main=""
cleanup() {
    helper_stop "$HELPER_PID_main"
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT

tenant_start "$work/tenant" || {
    echo "1..1"
    echo "not ok 1 - local tenant starts"
    exit 1
}

printf '%s\n' "$ALPHA_SECRET" >"$work/alpha.secret"
printf '%s\n' "$BETA_SECRET" >"$work/beta.secret"
chmod 600 "$work/alpha.secret" "$work/beta.secret"

write_conf() { # FILE SOCKET INSECURE
    {
        conf_global "$work/state" "$2" "allow_insecure_credentials = $3"
        conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $UID_A" \
            "credential = secret-file" "secret_file = $work/alpha.secret"
        conf_agent agent-beta "$BETA_APP" "$BETA_OID" "uid = $UID_B" "credential = secret-file" \
            "secret_file = $work/beta.secret"
        conf_agent vm-agent "$MI_CLIENT" "$MI_OBJECT" "uid = $UID_M" \
            "credential = managed-identity"
        conf_agent uami-agent "$UAMI_CLIENT" "$UAMI_OBJECT" "uid = $UID_U" \
            "credential = managed-identity" "mi_client_id = $UAMI_CLIENT"
    } >"$1"
    chmod 644 "$1"
}
S=$work/openclawd.sock
write_conf "$work/main.conf" "$S" yes
mkdir -p "$work/state"

token_requests() { # [CLIENT_ID]: token endpoint calls in the tenant's log
    tenant_ctl GET "requests?path=$TOKEN_PATH" | "$PY" -c '
import json, sys
c = sys.argv[1] if len(sys.argv) > 1 else None
print(sum(1 for r in json.load(sys.stdin)["requests"] if c is None or r.get("client_id") == c))
' "$@"
}

# --- start-up -------------------------------------------------------------
if "$OCD" --config "$work/main.conf" --foreground >"$work/root.log" 2>&1; then
    tap_fail "openclawd refuses to run as root without --allow-root"
else
    grep -q "refusing to run as root" "$work/root.log" &&
        tap_ok "openclawd refuses to run as root without --allow-root" ||
        tap_fail "openclawd refuses to run as root without --allow-root" "$(cat "$work/root.log")"
fi

if helper_start main "$work/main.conf" --imds "$TENANT_URL"; then
    tap_ok "openclawd starts and listens"
else
    tap_fail "openclawd starts and listens" "$(cat "$work/main.log")"
    tap_done
    exit 1
fi
mode=$(stat -c %a "$S")
[ "$mode" = 666 ] && tap_ok "socket mode 0666 (authorization is per peer)" ||
    tap_fail "socket mode 0666" "mode $mode"

# --- JWKS -----------------------------------------------------------------
J=$work/state/jwks/keys.json
if wait_for 10 test -s "$J" && [ "$(stat -c %a "$J")" = 644 ] &&
    tenant_get "/$TENANT_ID/discovery/v2.0/keys" | "$PY" -c '
import json, sys
want = sorted(k["kid"] for k in json.load(sys.stdin)["keys"])
got = sorted(k["kid"] for k in json.load(open(sys.argv[1]))["keys"])
sys.exit(0 if want and want == got else 1)' "$J"; then
    tap_ok "JWKS written at start: 0644, same keys as the tenant publishes"
else
    tap_fail "JWKS written at start" "$(ls -l "$work/state/jwks" 2>&1; cat "$work/main.log")"
fi
ls -a "$work/state/jwks" | grep -q '^\.keys\.json\.' &&
    tap_fail "no temporary file left next to keys.json" ||
    tap_ok "no temporary file left next to keys.json"

# --- authorization table --------------------------------------------------
ta=$(as_uid $UID_A "$OCT" --socket "$S" 2>"$work/a.err")
if [ -n "$ta" ] && [ "$(jwt_claim "$ta" appid)" = "$ALPHA_APP" ]; then
    tap_ok "agent A's uid gets agent A's token through openclaw-token"
else
    tap_fail "agent A's uid gets agent A's token" "$(cat "$work/a.err" "$work/main.log")"
fi

tb=$(as_uid $UID_B "$OCT" --socket "$S" 2>/dev/null)
[ -n "$tb" ] && [ "$(jwt_claim "$tb" appid)" = "$BETA_APP" ] &&
    tap_ok "agent B's uid gets agent B's own token" ||
    tap_fail "agent B's uid gets agent B's own token"

out=$(as_uid $UID_B "$OCT" --socket "$S" --agent agent-alpha 2>"$work/b.err")
rc=$?
if [ $rc -eq 1 ] && [ -z "$out" ] && grep -q denied "$work/b.err"; then
    tap_ok "agent B's uid cannot get agent A's token (denied, nothing printed)"
else
    tap_fail "agent B's uid cannot get agent A's token" "rc=$rc out=${out%%.*}"
fi
ans=$(as_uid $UID_B "$PY" "$CLIENT" "$S" json '{"type":"get-token","agent":"agent-alpha"}')
case $ans in
*'"denied"'*) case $ans in *access_token*) tap_fail "raw request of B for A is denied" ;;
    *) tap_ok "raw request of B for A is denied" ;; esac ;;
*) tap_fail "raw request of B for A is denied" "$ans" ;;
esac

out=$(as_uid $UID_HUMAN "$OCT" --socket "$S" 2>"$work/h.err")
rc=$?
[ $rc -eq 1 ] && [ -z "$out" ] && tap_ok "a human uid gets no token" ||
    tap_fail "a human uid gets no token" "rc=$rc $(cat "$work/h.err")"
ans=$(as_uid $UID_HUMAN "$PY" "$CLIENT" "$S" json '{"type":"status"}')
echo "$ans" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["ok"] and d["agents"] == [] else 1)' &&
    tap_ok "status for a human uid shows no agent" ||
    tap_fail "status for a human uid shows no agent" "$ans"
ans=$(as_uid $UID_A "$PY" "$CLIENT" "$S" json '{"type":"status"}')
echo "$ans" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
a = d["agents"]
sys.exit(0 if len(a) == 1 and a[0]["name"] == "agent-alpha" and a[0]["tokens"][0]["state"] == "fresh" else 1)' &&
    tap_ok "status for agent A shows agent A only, token fresh" ||
    tap_fail "status for agent A shows agent A only" "$ans"

tr=$("$OCT" --socket "$S" --agent agent-alpha 2>/dev/null)
[ "$(jwt_claim "$tr" appid)" = "$ALPHA_APP" ] && grep -q "audit: root .* agent agent-alpha" "$work/main.log" &&
    tap_ok "root gets any agent's token by name, audited" ||
    tap_fail "root gets any agent's token by name, audited"
"$OCT" --socket "$S" >/dev/null 2>&1 && tap_fail "root must name the agent" ||
    tap_ok "root must name the agent"

n1=$(token_requests "$ALPHA_APP")
t2=$(as_uid $UID_A "$OCT" --socket "$S" 2>/dev/null)
n2=$(token_requests "$ALPHA_APP")
[ "$t2" = "$ta" ] && [ "$n1" = "$n2" ] &&
    tap_ok "a cached token is served without a new token request" ||
    tap_fail "cached token served without a new request" "$n1 -> $n2"

tm=$(as_uid $UID_M "$OCT" --socket "$S" 2>"$work/m.err")
[ -n "$tm" ] && [ "$(jwt_claim "$tm" appid)" = "$MI_CLIENT" ] &&
    tap_ok "managed-identity agent gets its token from IMDS (Metadata: true)" ||
    tap_fail "managed-identity agent gets its token from IMDS" "$(cat "$work/m.err")"

tu=$(as_uid $UID_U "$OCT" --socket "$S" 2>"$work/u.err")
[ -n "$tu" ] && [ "$(jwt_claim "$tu" appid)" = "$UAMI_CLIENT" ] &&
    tap_ok "user-assigned managed identity selected by mi_client_id" ||
    tap_fail "user-assigned managed identity selected by mi_client_id" "$(cat "$work/u.err")"

# --- frame and request-table rules ---------------------------------------
closed() { [ "$("$PY" "$CLIENT" "$S" raw "$1")" = CLOSED ]; }
closed 00010001 && tap_ok "frame over 64 KiB: connection closed" ||
    tap_fail "frame over 64 KiB: connection closed"
closed 00000000 && tap_ok "zero-length frame: connection closed" ||
    tap_fail "zero-length frame: connection closed"
closed "$(printf '{"type":"ping"' | "$PY" -c 'import sys,struct; b=sys.stdin.buffer.read(); print((struct.pack(">I",len(b))+b).hex())')" &&
    tap_ok "bad JSON: connection closed" || tap_fail "bad JSON: connection closed"
[ "$(req "$S" '{"type":"shutdown"}')" = CLOSED ] &&
    tap_ok "unknown request type: connection closed" ||
    tap_fail "unknown request type: connection closed"
[ "$(req "$S" '{"type":"ping","x":1}')" = CLOSED ] &&
    tap_ok "unknown member: connection closed" || tap_fail "unknown member: connection closed"
[ "$(as_uid $UID_A "$PY" "$CLIENT" "$S" json '{"type":"refresh-jwks"}')" = CLOSED ] &&
    tap_ok "refresh-jwks from a non-root uid: connection closed" ||
    tap_fail "refresh-jwks from a non-root uid: connection closed"
case $(req "$S" '{"type":"refresh-jwks"}') in
*rate-limited*) tap_ok "refresh-jwks from root is rate-limited (30 s)" ;;
*) tap_fail "refresh-jwks from root is rate-limited" ;;
esac
case $(req "$S" '{"type":"ping"}') in
*pong*) tap_ok "daemon still answers after the bad frames" ;;
*) tap_fail "daemon still answers after the bad frames" ;;
esac

# --- 503 then success: backoff, then a background retry ---------------------
SCOPE_V2="$RESOURCE_V2_URI/.default"
tenant_ctl DELETE requests >/dev/null
tenant_ctl POST faults "{\"path\":\"$TOKEN_PATH\",\"kind\":\"status\",\"status\":503,\"count\":1}" >/dev/null
ans=$(as_uid $UID_A "$PY" "$CLIENT" "$S" json "{\"type\":\"get-token\",\"scope\":\"$SCOPE_V2\"}")
case $ans in
*'"unavailable"'*retry_after*) tap_ok "503: the client is told to retry later" ;;
*) tap_fail "503: the client is told to retry later" "$ans" ;;
esac
got_v2() { as_uid $UID_A "$OCT" --socket "$S" --scope "$SCOPE_V2" >"$work/v2.tok" 2>/dev/null; }
if wait_for 15 got_v2 && [ "$(jwt_claim "$(cat "$work/v2.tok")" azp)" = "$ALPHA_APP" ]; then
    tap_ok "after a 503 the daemon retries with backoff and the token arrives"
else
    tap_fail "after a 503 the daemon retries" "$(tail -5 "$work/main.log")"
fi
[ "$(token_requests "$ALPHA_APP")" = 2 ] && tap_ok "503 then success: exactly two token requests" ||
    tap_fail "503 then success: exactly two token requests" "$(token_requests "$ALPHA_APP")"

# --- 429 + Retry-After -------------------------------------------------------
SCOPE_APP="$RESOURCE_V2_APP/.default"
tenant_ctl DELETE requests >/dev/null
tenant_ctl POST faults "{\"path\":\"$TOKEN_PATH\",\"kind\":\"429\",\"retry_after\":4,\"count\":1}" >/dev/null
ans=$(as_uid $UID_B "$PY" "$CLIENT" "$S" json "{\"type\":\"get-token\",\"scope\":\"$SCOPE_APP\"}")
ra=$(echo "$ans" | "$PY" -c 'import json,sys; print(int(json.load(sys.stdin).get("retry_after", -1)))' 2>/dev/null)
[ -n "$ra" ] && [ "$ra" -ge 3 ] && tap_ok "429: retry_after passed on ($ra s)" ||
    tap_fail "429: retry_after passed on" "$ans"
as_uid $UID_B "$OCT" --socket "$S" --scope "$SCOPE_APP" >/dev/null 2>&1
[ "$(token_requests "$BETA_APP")" = 1 ] &&
    tap_ok "429: no new token request before Retry-After" ||
    tap_fail "429: no new token request before Retry-After" "$(token_requests "$BETA_APP")"
got_app() { as_uid $UID_B "$OCT" --socket "$S" --scope "$SCOPE_APP" >/dev/null 2>&1; }
wait_for 15 got_app && tap_ok "429: the token arrives after Retry-After" ||
    tap_fail "429: the token arrives after Retry-After"
gap=$(tenant_ctl GET "requests?path=$TOKEN_PATH" | "$PY" -c '
import json, sys
t = [r["time"] for r in json.load(sys.stdin)["requests"]]
print("%.1f" % (t[1] - t[0]) if len(t) >= 2 else "-1")')
"$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 3.9 else 1)' "$gap" &&
    tap_ok "429: the retry came at least Retry-After later (${gap}s)" ||
    tap_fail "429: the retry came at least Retry-After later" "gap $gap"

# --- a slow tenant: one request for many waiters, the loop keeps answering --
tenant_ctl DELETE requests >/dev/null
tenant_ctl POST faults "{\"path\":\"$TOKEN_PATH\",\"kind\":\"latency\",\"ms\":3000,\"count\":1}" >/dev/null
SCOPE_SLOW="$RESOURCE_V2_URI/.default"
as_uid $UID_B "$OCT" --socket "$S" --scope "$SCOPE_SLOW" >"$work/w1.tok" 2>&1 &
w1=$!
as_uid $UID_B "$OCT" --socket "$S" --scope "$SCOPE_SLOW" >"$work/w2.tok" 2>&1 &
w2=$!
sleep 0.5
t0=$(date +%s%N)
pong=$(req "$S" '{"type":"ping"}')
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
case $pong in
*pong*) [ "$ms" -lt 1000 ] && tap_ok "while Entra is slow the daemon still answers at once (${ms} ms)" ||
    tap_fail "while Entra is slow the daemon still answers at once" "${ms} ms" ;;
*) tap_fail "while Entra is slow the daemon still answers at once" "$pong" ;;
esac
wait $w1
r1=$?
wait $w2
r2=$?
if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ -s "$work/w1.tok" ] && cmp -s "$work/w1.tok" "$work/w2.tok"; then
    tap_ok "two clients waiting for the same (agent, scope) both get the token"
else
    tap_fail "two waiting clients both get the token" "$r1 $r2 $(head -c 200 "$work/w1.tok")"
fi
[ "$(token_requests "$BETA_APP")" = 1 ] &&
    tap_ok "at most one request in flight per (agent, scope)" ||
    tap_fail "at most one request in flight per (agent, scope)" "$(token_requests "$BETA_APP")"

# --- refresh-jwks after the rate limit: a rotated key reaches the file -------
new_kid=$(tenant_ctl POST rotate-keys '{}' >/dev/null &&
    tenant_get "/$TENANT_ID/discovery/v2.0/keys" | "$PY" -c '
import json, sys
print(" ".join(sorted(k["kid"] for k in json.load(sys.stdin)["keys"])))')
refreshed() { case $(req "$S" '{"type":"refresh-jwks"}') in *'"refreshed":true'*) return 0 ;; esac; return 1; }
if wait_for 40 refreshed && [ "$("$PY" -c '
import json, sys
print(" ".join(sorted(k["kid"] for k in json.load(open(sys.argv[1]))["keys"])))' "$J")" = "$new_kid" ]; then
    tap_ok "refresh-jwks from root (after 30 s): the rotated key set is written"
else
    tap_fail "refresh-jwks from root: the rotated key set is written" "$(tail -3 "$work/main.log")"
fi

# --- secret-file refused without allow_insecure_credentials ----------------
# The config parser refuses it already; the daemon checks again before use.
write_conf "$work/strict.conf" "$work/strict.sock" no
before=$(token_requests)
if "$OCD" --config "$work/strict.conf" --foreground --allow-root --state "$work/strict-state" \
    >"$work/strict.log" 2>&1; then
    tap_fail "secret-file without allow_insecure_credentials: openclawd refuses to start"
else
    grep -q "allow_insecure_credentials = yes" "$work/strict.log" && [ ! -e "$work/strict.sock" ] &&
        [ "$(token_requests)" = "$before" ] &&
        tap_ok "secret-file without allow_insecure_credentials: refused at start, with the fix" ||
        tap_fail "secret-file without allow_insecure_credentials: refused at start" \
            "$(cat "$work/strict.log")"
fi

# --- tenant down: the last good token is served until it expires ----------
tenant_ctl POST token-lifetime '{"seconds": 20}' >/dev/null
# A scope agent-beta has not asked for yet: the v1 resource by its appId.
SCOPE_SHORT=6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d/.default
short=$(as_uid $UID_B "$OCT" --socket "$S" --scope "$SCOPE_SHORT" 2>/dev/null)
exp=$(jwt_claim "$short" exp)
iat=$(jwt_claim "$short" iat)
tenant_stop
stale() {
    req "$S" '{"type":"status"}' | "$PY" -c '
import json, sys
for a in json.load(sys.stdin)["agents"]:
    for t in a["tokens"]:
        if a["name"] == "agent-beta" and t["scope"] == sys.argv[1] and t["state"] == "stale":
            sys.exit(0)
sys.exit(1)' "$SCOPE_SHORT"
}
if [ -n "$short" ] && [ $((exp - iat)) -le 20 ] && wait_for 20 stale; then
    tap_ok "tenant down: the refresh fails and status says the token is stale"
else
    tap_fail "tenant down: status says stale" "lifetime $((exp - iat)) $(tail -3 "$work/main.log")"
fi
grep -q "agent agent-beta: token endpoint unreachable: .*serving the last good token" "$work/main.log" &&
    tap_ok "tenant down: one log line says so and that the last good token is served" ||
    tap_fail "tenant down: log line" "$(tail -3 "$work/main.log")"
again=$(as_uid $UID_B "$OCT" --socket "$S" --scope "$SCOPE_SHORT" 2>/dev/null)
[ -n "$again" ] && [ "$again" = "$short" ] &&
    tap_ok "tenant down: the last good token is still served" ||
    tap_fail "tenant down: the last good token is still served"
expired() { ! as_uid $UID_B "$OCT" --socket "$S" --scope "$SCOPE_SHORT" >/dev/null 2>&1; }
wait_for 20 expired && tap_ok "tenant down: nothing is served once the token has expired" ||
    tap_fail "tenant down: nothing is served once the token has expired"

# --- clean exit ---------------------------------------------------------------
helper_stop "$HELPER_PID_main"
rc=$?
HELPER_PID_main=""
[ $rc -eq 0 ] && [ ! -e "$S" ] && tap_ok "SIGTERM: clean exit, socket removed" ||
    tap_fail "SIGTERM: clean exit, socket removed" "rc=$rc"
grep -q "Sanitizer\|runtime error" "$work/main.log" &&
    tap_fail "no sanitizer report from the daemon" "$(grep -A5 'Sanitizer\|runtime error' "$work/main.log")" ||
    tap_ok "no sanitizer report from the daemon"
grep -q -- "$ALPHA_SECRET" "$work/main.log" && tap_fail "no secret in the log" ||
    tap_ok "no secret in the log"
grep -q "eyJ" "$work/main.log" && tap_fail "no token in the log" || tap_ok "no token in the log"

tap_done
