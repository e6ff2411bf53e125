#!/bin/bash
# openclawctl audit over a crafted syslog file: logins per agent and
# service, refusals by reason, lockouts, the time range, --since, --agent,
# --json; hostile lines (other programs, forged or broken records, terminal
# escapes, over-long lines) are never counted as records.
set -u
. "$top_srcdir/tests/lib/tap.sh"
ctl="$top_builddir/helper/ctl/openclawctl"
[ -x "$ctl" ] || tap_skip_all "openclawctl not built"
PY=/usr/bin/python3

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-audit.XXXXXX")
trap 'rm -rf "$work"' EXIT
log="$work/auth.log"
A=a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f
O=a3d5f7b9-1c4e-4a8b-8d2f-3c5e7a9b1d4f
rec() { # EVENT SERVICE USER RESULT REASON [extra]
    printf 'event=%s service=%s user=%s agent_app_id=%s agent_oid=%s token_uti=u1 rhost=127.0.0.1 result=%s reason=%s%s' \
        "$1" "$2" "$3" "$A" "$O" "$4" "$5" "${6:-}"
}
{
    # genuine lines: pam_syslog (RFC 3339 and traditional), openclawd, openclawctl
    echo "2026-11-27T08:00:00.000001+00:00 vm sshd[10]: pam_openclaw(sshd:auth): $(rec auth sshd agent-alpha success ok)"
    echo "2026-11-28T09:00:00.5+01:00 vm sshd[11]: pam_openclaw(sshd:auth): $(rec auth sshd agent-alpha success ok)"
    echo "2026-11-28T09:30:00Z vm sshd[11]: pam_openclaw(sshd:account): $(rec account sshd agent-alpha success ok)"
    echo "2026-11-28T10:00:00+00:00 vm sudo[12]: pam_openclaw(sudo:auth): $(rec auth sudo agent-alpha success ok)"
    echo "2026-11-28T10:01:00+00:00 vm sshd[13]: pam_openclaw(sshd:auth): $(rec auth sshd agent-beta failure role ' detail="needs \"Host.Login\""')"
    echo "2026-11-28T10:02:00+00:00 vm sshd[13]: pam_openclaw(sshd:auth): $(rec auth sshd agent-beta failure signature)"
    echo "2026-11-28T10:03:00+00:00 vm sshd[13]: pam_openclaw(sshd:auth): $(rec auth sshd agent-beta failure signature)"
    echo "2026-11-28T10:04:00+00:00 vm sshd[13]: pam_openclaw(sshd:auth): $(rec anomaly sshd agent-beta failure locked)"
    echo "2026-11-28T10:05:00+00:00 vm openclawctl[14]: $(rec unlock openclawctl agent-beta success admin)"
    echo "Nov 28 10:06:00 vm openclawd[15]: $(rec auth helper agent-gamma error network)"
    # journalctl --output=short-iso: the offset without a colon (10:05:00Z, 10:06:00Z)
    echo "2026-11-28T15:35:00+0530 vm sshd[19]: pam_openclaw(sshd:auth): $(rec auth sshd agent-delta failure expiry)"
    echo "2026-11-28T02:06:00-0800 vm sudo[20]: pam_openclaw(sudo:auth): $(rec auth sudo agent-delta success ok)"
    # an impossible offset: the record keeps no time (never -25 h)
    echo "2026-11-28T10:08:09-2460 vm sshd[21]: pam_openclaw(sshd:auth): $(rec auth sshd agent-delta failure expiry)"
    # noise and hostile lines
    echo "2026-11-28T10:07:00+00:00 vm CRON[16]: pam_unix(cron:session): session opened for user root"
    echo "2026-11-28T10:08:00+00:00 vm evil[17]: $(rec auth sshd agent-evil success ok)"
    echo "2026-11-28T10:08:01+00:00 vm sshd[18]: pam_openclaw(sshd:auth): $(rec auth sshd agent-evil failure role) result=success"
    echo "2026-11-28T10:08:02+00:00 vm sshd[18]: pam_openclaw(sshd:auth): event=auth service=sshd user=agent-evil result=success reason=ok"
    echo "2026-11-28T10:08:03+00:00 vm sshd[18]: pam_openclaw(sshd:auth): $(rec auth sshd '"agent-\x41"' success ok)"
    echo "2026-11-28T10:08:04+00:00 vm sshd[18]: pam_openclaw(sshd:auth): $(rec auth sshd '"unterminated' success ok)"
    echo "2026-11-28T10:08:05+00:00 vm sshd[18]: pam_openclaw(sshd:auth): $(rec auth sshd agent-evil maybe ok)"
    echo "2026-11-28T10:08:06+00:00 vm sshd[18]: pam_openclaw(sshd:auth): $(rec auth sshd agent-evil success ok)  "
    printf '2026-11-28T10:08:07+00:00 vm sshd[18]: pam_openclaw(sshd:auth): %s detail=%s\n' \
        "$(rec auth sshd agent-evil success ok)" "$(head -c 5000 /dev/zero | tr '\0' x)"
    echo "2026-11-28T10:08:08+00:00 vm sshd[18]: pam_openclaw(sshd:auth): $(rec auth sshd '"\x1b[31mred\x1b[0m"' success ok)"
} >"$log"

out=$("$ctl" audit --file "$log" 2>&1)
rc=$?
[ "$rc" -eq 0 ] && tap_ok "audit over a syslog file exits 0" || tap_fail "audit over a syslog file exits 0" "$out"
has() { if printf '%s\n' "$out" | grep -q -- "$2"; then tap_ok "$1"; else tap_fail "$1" "$out"; fi; }
has "logins per agent and service" '^ *2  agent-alpha  sshd$'
has "sudo logins counted apart" '^ *1  agent-alpha  sudo$'
has "refusals by reason, most first" '^ *2  signature$'
has "role refusal counted" '^ *1  role$'
has "errors listed" '^ *1  network$'
has "the lockout is listed" 'event=anomaly agent=agent-beta service=sshd result=failure reason=locked'
has "the admin unlock is listed" 'event=unlock agent=agent-beta'
has "the time range spans the records" '^range: *2026-11-27T08:00:00Z .. 2026-11-28T10:08:08Z$'
has "malformed lines are counted" 'MALFORMED'
if printf '%s\n' "$out" | grep -q 'agent-evil'; then
    tap_fail "no hostile record is summarised" "$out"
else
    tap_ok "no hostile record is summarised"
fi
if printf '%s' "$out" | grep -q -- "$(printf '\033')"; then
    tap_fail "terminal escapes from the log never reach the terminal" "$out"
else
    tap_ok "terminal escapes from the log never reach the terminal"
fi

j=$("$ctl" audit --file "$log" --json)
if printf '%s' "$j" | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d["records"] == 14, d["records"]
assert d["malformed"] == 7, d["malformed"]
logins = {(x["agent"], x["service"]): x["count"] for x in d["logins"]}
assert logins[("agent-alpha", "sshd")] == 2 and logins[("agent-alpha", "sudo")] == 1, logins
assert logins[("agent-delta", "sudo")] == 1, logins
assert {x["reason"]: x["count"] for x in d["refusals"]} == {"signature": 2, "role": 1, "locked": 1, "expiry": 2}
assert [e["event"] for e in d["events"]] == ["anomaly", "unlock"]
assert d["last"] == "2026-11-28T10:08:08Z", d["last"]
' 2>"$work/py.err"; then
    tap_ok "--json: valid JSON with the same counts (14 records, 7 malformed)"
else
    tap_fail "--json: valid JSON with the same counts" "$(cat "$work/py.err")"
fi

j=$("$ctl" audit --file "$log" --json --since 2026-11-28T10:00:00Z --agent agent-alpha)
if printf '%s' "$j" | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d["records"] == 1, d
assert d["logins"] == [{"agent": "agent-alpha", "service": "sudo", "count": 1}], d
assert d["first"] == "2026-11-28T10:00:00Z"
' 2>"$work/py.err"; then
    tap_ok "--since and --agent select the records"
else
    tap_fail "--since and --agent select the records" "$(cat "$work/py.err") $j"
fi
j=$("$ctl" audit --file "$log" --json --since 2026-11-28T10:05:00Z --agent agent-delta)
if printf '%s' "$j" | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert d["records"] == 2, d
assert d["first"] == "2026-11-28T10:05:00Z" and d["last"] == "2026-11-28T10:06:00Z", d
assert d["logins"] == [{"agent": "agent-delta", "service": "sudo", "count": 1}], d
assert d["refusals"] == [{"reason": "expiry", "count": 1}], d
' 2>"$work/py.err"; then
    tap_ok "journalctl's +HHMM/-HHMM offsets give the UTC time; an impossible offset gives none"
else
    tap_fail "journalctl's +HHMM/-HHMM offsets give the UTC time; an impossible offset gives none" "$(cat "$work/py.err") $j"
fi
for bad in yesterday 2026-13-01 -5y @x ''; do
    "$ctl" audit --file "$log" --since "$bad" >/dev/null 2>"$work/err"
    rc=$?
    if [ "$rc" -eq 2 ] && grep -q 'since takes' "$work/err"; then
        tap_ok "--since '$bad' refused with the accepted forms"
    else
        tap_fail "--since '$bad' refused with the accepted forms" "exit $rc"
    fi
done
"$ctl" audit --file "$work/none.log" >/dev/null 2>&1
[ $? -eq 2 ] && tap_ok "an unreadable log exits 2" || tap_fail "an unreadable log exits 2"
"$ctl" audit --file "$log" --agent '../x' >/dev/null 2>&1
[ $? -eq 2 ] && tap_ok "a hostile --agent is refused" || tap_fail "a hostile --agent is refused"
tap_done
