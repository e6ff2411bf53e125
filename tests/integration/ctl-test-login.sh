#!/bin/bash
# openclawctl test-login USER SERVICE: the decision of pam_openclaw without
# a token, from local data only. A human is ignored with the rule that says
# so; an agent gets each check with its result (ok, locked, disabled in the
# directory, role missing, outside the time window, outside the networks,
# a broken config) and what a login still needs. Fixture files only: the
# local users come from --passwd, the name service from nss_wrapper.
set -u
. "$top_srcdir/tests/lib/tap.sh"
ctl="$top_builddir/helper/ctl/openclawctl"
[ -x "$ctl" ] || tap_skip_all "openclawctl not built"
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (a configuration owned by root)"
NW=$(for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
    [ -e "$d/libnss_wrapper.so" ] && echo "$d/libnss_wrapper.so" && break
done)
[ -n "$NW" ] || tap_skip_all "libnss_wrapper not installed"

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-testlogin.XXXXXX")
trap 'rm -rf "$work"' EXIT
install -d -m 0755 "$work/state"
install -d -m 0700 "$work/tally"
printf 'x\n' >"$work/admin.secret"
chmod 0600 "$work/admin.secret"
conf="$work/openclaw.conf"
cat >"$conf" <<CONF
[global]
tenant_id = 5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c
audiences = api://openclaw-host
state_dir = $work/state
trust_dir = $work/state
tally_dir = $work/tally
uid_min = 200000
uid_max = 299999
allow_insecure_credentials = yes

[service sshd]
require_role = Host.Login
allow_networks = 10.0.0.0/8
allow_time = Mo-Fr 08:00-18:00

[service sudo]
require_role = Host.Sudo

[directory]
graph_url = https://graph.example
credential = secret-file
app_id = 9a1f3c5e-7b2d-4f6a-8c0e-1a3b5c7d9e2f
secret_file = $work/admin.secret
CONF
chmod 0644 "$conf"
now=$(date +%s)
agent_json() { # NAME UID ENABLED ROLES N
    printf '{"name":"%s","app_id":"a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e%02d","object_id":"a3d5f7b9-1c4e-4a8b-8d2f-3c5e7a9b1d%02d","uid":%s,"enabled":%s,"display_name":"%s","source":"graph","roles":[%s],"keys":[]}' \
        "$1" "$5" "$5" "$2" "$3" "$1" "$4"
}
cat >"$work/state/directory.json" <<JSON
{"version":1,"tenant_id":"5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c","synced_at":$now,"source":"https://graph.example","agents":[
$(agent_json agent-ok 200100 true '"Host.Login"' 10),
$(agent_json agent-off 200101 false '"Host.Login"' 11),
$(agent_json agent-norole 200102 true '"Other.Role"' 12),
$(agent_json agent-locked 200103 true '"Host.Login"' 13)
]}
JSON
# the local users (/etc/passwd) and what the name service answers
cat >"$work/passwd" <<'PW'
root:x:0:0:root:/root:/bin/bash
alice:x:1000:1000:Alice:/home/alice:/bin/bash
PW
cp "$work/passwd" "$work/nss-passwd"
cat >>"$work/nss-passwd" <<'PW'
agent-ok:x:200100:200100::/home/agent-ok:/bin/sh
agent-off:x:200101:200101::/home/agent-off:/bin/sh
agent-norole:x:200102:200102::/home/agent-norole:/bin/sh
agent-locked:x:200103:200103::/home/agent-locked:/bin/sh
ldapuser:x:70000:70000::/home/ldapuser:/bin/sh
far-agent:x:1879048300:1879048300::/home/far-agent:/bin/sh
PW
printf 'root:x:0:\nalice:x:1000:\n' >"$work/nss-group"
# agent-locked: locked for an hour by the failure tally (tally.c's format)
/usr/bin/python3 -c '
import struct, sys, time
now = int(time.time())
open(sys.argv[1], "wb").write(struct.pack("<8sIIqqII", b"OCTALLY\0", 1, 0, now, now + 3600, 1, 0))
' "$work/tally/agent-locked"
chmod 0600 "$work/tally/agent-locked"

tl() { # USER SERVICE [ARGS]
    TZ=UTC LD_PRELOAD="$NW" NSS_WRAPPER_PASSWD="$work/nss-passwd" NSS_WRAPPER_GROUP="$work/nss-group" \
        "$ctl" test-login --config "$conf" --passwd "$work/passwd" "$@"
}
WEEKDAY="2026-12-02T10:00" # a Wednesday
expect() { # DESC PATTERN
    if printf '%s\n' "$out" | grep -q -- "$2"; then tap_ok "$1"; else tap_fail "$1" "$out"; fi
}
expect_rc() { # DESC RC
    [ "$rc" -eq "$2" ] && tap_ok "$1" || tap_fail "$1" "exit $rc: $out"
}

out=$(tl alice sshd 2>&1)
rc=$?
expect_rc "a human: exit 0" 0
expect "a human: not an agent, ignored" "^alice: not an agent; openclaw ignores this user on sshd"
expect "a human: the rule, with the passwd line" "^rule: a local user ($work/passwd:2, uid 1000): local users are never agents"
out=$(tl root sudo 2>&1)
rc=$?
expect "root: never an agent" "^rule: root is never an agent"
out=$(tl ldapuser sshd 2>&1)
rc=$?
expect "a user of another name service outside the range: ignored, the rule says why" \
    "^rule: uid 70000 (from the name service (getent passwd)) is outside the agent uid range 200000..299999"

out=$(tl agent-ok sshd --rhost 10.1.2.3 --at "$WEEKDAY" 2>&1)
rc=$?
expect_rc "agent ok: exit 0" 0
expect "agent ok: an agent, by the uid rule" "^agent-ok on sshd: an agent (uid 200100 from the directory data, inside the agent uid range 200000..299999, not in $work/passwd)"
expect "agent ok: directory data" "^  directory *pass *.*lists agent-ok, uid 200100, enabled"
expect "agent ok: lockout" "^  lockout *pass *no failure on record"
expect "agent ok: role from the directory data" "^  role *pass *\[service sshd\] requires Host.Login: the directory data lists it"
expect "agent ok: network" "^  network *pass *10.1.2.3 is inside allow_networks"
expect "agent ok: time" "^  time *pass *Wed 2026-12-02 10:00 (local) is inside allow_time"
expect "agent ok: the decision" "^decision: allowed with a valid token$"
expect "agent ok: what is still required (role and audience)" \
    "^still required: a valid access token from tenant 5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c for audience api://openclaw-host, app-only, of application a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e10 .*carrying the role Host.Login"

out=$(tl agent-locked sshd --rhost 10.1.2.3 --at "$WEEKDAY" 2>&1)
rc=$?
expect_rc "agent locked: exit 1" 1
expect "agent locked: until when (ISO 8601 UTC) and the unlock command" \
    "^  lockout *fail *locked after 0 failures, until [0-9-]*T[0-9:]*Z: openclawctl agent unlock agent-locked"
expect "agent locked: refused" "^decision: refused$"

out=$(tl agent-off sshd --rhost 10.1.2.3 --at "$WEEKDAY" 2>&1)
rc=$?
expect_rc "agent disabled in the directory: exit 1" 1
expect "agent disabled in the directory: said, with the fix" \
    "^  directory *fail *.*disabled in Entra (accountEnabled false): enable it in Entra"

out=$(tl agent-norole sshd --rhost 10.1.2.3 --at "$WEEKDAY" 2>&1)
rc=$?
expect_rc "role missing: exit 1" 1
expect "role missing: the role and the fix" \
    "^  role *fail *\[service sshd\] requires Host.Login, which the directory data does not list for agent-norole: assign the app role"

out=$(tl agent-ok sshd --rhost 10.1.2.3 --at "2026-12-06T03:00" 2>&1)
rc=$?
expect_rc "outside the time window: exit 1" 1
expect "outside the time window: when and which window" \
    "^  time *fail *Sun 2026-12-06 03:00 (local) is outside allow_time of \[service sshd\]"

out=$(tl agent-ok sshd --rhost 192.0.2.7 --at "$WEEKDAY" 2>&1)
rc=$?
expect_rc "outside the networks: exit 1" 1
expect "outside the networks: said" "^  network *fail *192.0.2.7 is outside allow_networks"

out=$(tl agent-ok ftp --at "$WEEKDAY" 2>&1)
rc=$?
expect "a service without a section: refused with the fix" \
    "^  service *fail *no \[service ftp\] or \[service default\] section"

out=$(tl agent-ok sshd --rhost 10.1.2.3 --at "$WEEKDAY" --json 2>&1)
rc=$?
if printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["agent"] is True and d["decision"] == "allowed with a valid token", d
c = {x["check"]: x["result"] for x in d["checks"]}
assert c["role"] == "pass" and c["lockout"] == "pass" and c["time"] == "pass", c
assert "Host.Login" in d["required"], d
'; then tap_ok "--json: checks, decision and what is required"; else tap_fail "--json: checks, decision and what is required" "$out"; fi

# a broken config: humans are still ignored, an agent uid (compiled-in range) is refused
cp "$conf" "$work/good.conf"
sed -i 's/^audiences = /audience = /' "$conf"
out=$(tl alice sshd 2>&1)
rc=$?
expect_rc "broken config, a human: still ignored (exit 0)" 0
out=$(tl far-agent sshd 2>&1)
rc=$?
expect_rc "broken config, a user in the compiled-in agent range: refused (exit 1)" 1
expect "broken config: the agent is refused and the fix named" \
    "^  config *fail *.*agents are refused until it is fixed (openclawctl check-config)"
cp "$work/good.conf" "$conf"

out=$("$ctl" test-login alice 2>&1)
rc=$?
expect_rc "a missing SERVICE: usage, exit 2" 2
out=$(tl agent-ok sshd --at "tomorrow" 2>&1)
rc=$?
expect_rc "a bad --at: exit 2" 2
tap_done
