#!/bin/bash
# openclawctl token NAME: root gets an agent's token from openclawd (the
# local tenant behind it), plain and --json, for another scope, with
# --max-age; an unprivileged uid, an unknown agent, a locked agent and a
# stopped daemon are refused with a clear message. The token never reaches
# the daemon's log. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

CTL="$top_builddir/helper/ctl/openclawctl"
[ "$(id -u)" = 0 ] || tap_skip_all "needs root (openclawctl token is root only; clients under other uids)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
[ -x "$OCD" ] && [ -x "$CTL" ] || tap_skip_all "openclawd/openclawctl not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"

UID_A=1879048193
UID_B=1879048194
work=$(mktemp -d "${TMPDIR:-/tmp}/oc-ctl-token.XXXXXX")
chmod 755 "$work"
uid_copies "$work/bin" # what runs under other uids: copies, never the tree
HELPER_PID_main=""
cleanup() {
    helper_stop "$HELPER_PID_main"
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT

tenant_start "$work/tenant" || {
    tap_fail "local tenant starts"
    tap_done
    exit 1
}
printf '%s\n' "$ALPHA_SECRET" >"$work/alpha.secret"
chmod 600 "$work/alpha.secret"
S=$work/openclawd.sock
{
    conf_global "$work/state" "$S" "$ISSUER_V2_LINE" "allow_insecure_credentials = yes"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $UID_A" "credential = secret-file" \
        "secret_file = $work/alpha.secret"
    conf_agent agent-beta "$BETA_APP" "$BETA_OID" "uid = $UID_B" "credential = secret-file" \
        "secret_file = $work/alpha.secret"
} >"$work/oc.conf"
chmod 644 "$work/oc.conf"
mkdir -p "$work/state"
C=(--config "$work/oc.conf")

# --- the daemon is not running -----------------------------------------------
out=$("$CTL" token agent-alpha "${C[@]}" 2>"$work/down.err")
rc=$?
if [ $rc -eq 1 ] && [ -z "$out" ] && grep -q "not running" "$work/down.err" &&
    grep -q "systemctl start openclawd" "$work/down.err"; then
    tap_ok "openclawd down: exit 1, the message names systemctl start openclawd"
else
    tap_fail "openclawd down: exit 1 naming systemctl start openclawd" "rc=$rc $(cat "$work/down.err")"
fi

if ! helper_start main "$work/oc.conf"; then
    tap_fail "openclawd starts" "$(cat "$work/main.log")"
    tap_done
    exit 1
fi

# --- root gets agent-alpha's token -------------------------------------------
t=$("$CTL" token agent-alpha "${C[@]}" 2>"$work/a.err")
rc=$?
if [ $rc -eq 0 ] && [ "$(jwt_claim "$t" appid)" = "$ALPHA_APP" ] &&
    [ "$(jwt_claim "$t" oid)" = "$ALPHA_OID" ] && [ "$(jwt_claim "$t" aud)" = "$RESOURCE_URI" ]; then
    tap_ok "root: agent-alpha's token (appid, oid, aud of agent-alpha's default scope)"
else
    tap_fail "root: agent-alpha's token" "rc=$rc $(cat "$work/a.err"; tail -5 "$work/main.log")"
fi
[ "$(printf '%s\n' "$t" | wc -l)" -eq 1 ] && tap_ok "the token alone on one line of standard output" ||
    tap_fail "the token alone on one line" "$t"
wait_for 10 test -s "$work/state/jwks/keys.json"
# the keys: openclawd's own copy (the test has no root-written jwks_dir)
if printf '%s' "$t" | "$CTL" verify-token "${C[@]}" --jwks "$work/state/jwks/keys.json" --user agent-alpha >"$work/verify.out" 2>&1; then
    tap_ok "openclawctl verify-token accepts it for user agent-alpha"
else
    tap_fail "verify-token accepts it for user agent-alpha" "$(tail -5 "$work/verify.out")"
fi

j=$("$CTL" token agent-alpha "${C[@]}" --json 2>"$work/j.err")
rc=$?
now=$(date +%s)
if [ $rc -eq 0 ] && [ "$(printf '%s' "$j" | json_get agent)" = agent-alpha ] &&
    [ "$(printf '%s' "$j" | json_get uid)" = "$UID_A" ] &&
    [ "$(printf '%s' "$j" | json_get scope)" = "$RESOURCE_URI/.default" ] &&
    [ "$(printf '%s' "$j" | json_get expires_on)" -gt "$now" ] &&
    [ "$(jwt_claim "$(printf '%s' "$j" | json_get access_token)" appid)" = "$ALPHA_APP" ]; then
    tap_ok "--json: access_token, expires_on in the future, scope, agent, uid"
else
    tap_fail "--json: token, expires_on, scope, agent, uid" "rc=$rc $j $(cat "$work/j.err")"
fi

t2=$("$CTL" token agent-alpha "${C[@]}" --scope "$RESOURCE_V2_URI/.default" 2>"$work/s.err")
[ -n "$t2" ] && [ "$(jwt_claim "$t2" aud)" = "$RESOURCE_V2_APP" ] &&
    [ "$(jwt_claim "$t2" azp)" = "$ALPHA_APP" ] &&
    tap_ok "--scope: a token for the other resource" ||
    tap_fail "--scope: a token for the other resource" "$(cat "$work/s.err")"

sleep 1.1
t3=$("$CTL" token agent-alpha "${C[@]}" --max-age 0 2>"$work/m.err")
if [ -n "$t3" ] && [ "$t3" != "$t" ] && [ "$(jwt_claim "$t3" appid)" = "$ALPHA_APP" ]; then
    tap_ok "--max-age 0: a newly fetched token"
else
    tap_fail "--max-age 0: a newly fetched token" "$(cat "$work/m.err")"
fi
grep -q "audit: root (pid [0-9]*) requested the token of agent agent-alpha" "$work/main.log" &&
    tap_ok "openclawd audits root's request" || tap_fail "openclawd audits root's request" "$(cat "$work/main.log")"

# --- refusals ----------------------------------------------------------------
out=$(as_uid 65534 "$CTL" token agent-alpha "${C[@]}" 2>"$work/u.err")
rc=$?
if [ $rc -eq 1 ] && [ -z "$out" ] && grep -q "only root" "$work/u.err"; then
    tap_ok "an unprivileged uid: refused, exit 1, nothing on stdout"
else
    tap_fail "an unprivileged uid is refused" "rc=$rc out=${out:0:20} $(cat "$work/u.err")"
fi
out=$(as_uid $UID_A "$CTL" token agent-alpha "${C[@]}" 2>"$work/ua.err")
rc=$?
[ $rc -eq 1 ] && [ -z "$out" ] && tap_ok "the agent's own uid too (it has openclaw-token)" ||
    tap_fail "the agent's own uid is refused" "rc=$rc $(cat "$work/ua.err")"

out=$("$CTL" token agent-nobody "${C[@]}" 2>"$work/n.err")
rc=$?
if [ $rc -eq 2 ] && [ -z "$out" ] && grep -q "no agent agent-nobody" "$work/n.err"; then
    tap_ok "unknown agent: exit 2 naming it"
else
    tap_fail "unknown agent refused" "rc=$rc $(cat "$work/n.err")"
fi
out=$("$CTL" token 'bad/name' "${C[@]}" 2>"$work/b.err")
rc=$?
[ $rc -eq 2 ] && [ -z "$out" ] && tap_ok "an invalid name: exit 2" || tap_fail "an invalid name: exit 2" "rc=$rc"
out=$("$CTL" token agent-alpha "${C[@]}" --max-age 99999999 2>"$work/ma.err")
rc=$?
[ $rc -eq 2 ] && grep -q -- "--max-age" "$work/ma.err" && tap_ok "--max-age out of range: exit 2" ||
    tap_fail "--max-age out of range: exit 2" "rc=$rc"

"$CTL" agent lock agent-beta "${C[@]}" >/dev/null 2>&1
out=$("$CTL" token agent-beta "${C[@]}" 2>"$work/l.err")
rc=$?
if [ $rc -eq 1 ] && [ -z "$out" ] && grep -q "locked" "$work/l.err"; then
    tap_ok "a locked agent: exit 1, openclawd's reason shown"
else
    tap_fail "a locked agent is refused" "rc=$rc $(cat "$work/l.err")"
fi

# --- never logged -----------------------------------------------------------
if ! grep -qF -- "$t" "$work/main.log" && ! grep -qF -- "$t" "$work"/*.err; then
    tap_ok "the token is neither in openclawd's log nor on stderr"
else
    tap_fail "the token leaked into a log"
fi

helper_stop "$HELPER_PID_main"
HELPER_PID_main=""
out=$("$CTL" token agent-alpha "${C[@]}" 2>"$work/stop.err")
rc=$?
[ $rc -eq 1 ] && grep -q "systemctl start openclawd" "$work/stop.err" &&
    tap_ok "after openclawd stopped: exit 1 naming systemctl start openclawd" ||
    tap_fail "after openclawd stopped" "rc=$rc $(cat "$work/stop.err")"
grep -q "Sanitizer\|runtime error" "$work/main.log" "$work"/*.err &&
    tap_fail "no sanitizer report" || tap_ok "no sanitizer report"
tap_done
