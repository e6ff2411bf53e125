#!/bin/sh
# SPDX-License-Identifier: MIT
# helper-directory.sh: the directory sync against the local test tenant.
# Root's openclaw-sync (the directory is root's: docs/security.md, "The
# trust boundary") reads the service principals holding a role on the
# host's resource application through Graph and writes nss.cache and
# directory.json into trust_dir; openclawd (the daemon account) syncs
# nothing and refuses cache-rebuild, naming openclaw-sync; checked through
# nss_wrapper + libnss_openclaw (getent), the files themselves, the
# daemon's status, and pam_openclaw's account phase (pamtester under
# pam_wrapper) for a service our auth did not run in. Also: certificate keys as ssh keys, a disabled service principal
# leaving NSS, a removed role, Graph down (files kept), hostile display
# names (fallback names), name pinning across renames. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

MODULE="$top_builddir/nss_openclaw/.libs/libnss_openclaw.so.2"
PAM_MODULE="$top_builddir/pam_openclaw/.libs/pam_openclaw.so"

[ "$(id -u)" = 0 ] || tap_skip_all "needs root (root-owned config, root-only requests)"
[ -x "$OCD" ] || tap_skip_all "openclawd not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
command -v openssl >/dev/null 2>&1 || tap_skip_all "openssl missing"
# Sanitizer build: the daemon runs instrumented, but the getent and PAM
# checks are skipped (preloaded nss_wrapper, getent and pamtester lack the
# ASan runtime).
SAN=
if readelf --dyn-syms -W "$MODULE" 2>/dev/null | grep -q '__asan_' ||
    nm "$OCD" 2>/dev/null | grep -q '__asan_init'; then
    SAN=yes
fi
SAN_WHY="sanitizer build: nss_wrapper, getent and pamtester lack the ASan runtime"
NSSW=
PAMW=
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib \
    "/usr/lib/$(gcc -print-multiarch 2>/dev/null)"; do
    [ -z "$NSSW" ] && [ -f "$d/libnss_wrapper.so" ] && NSSW="$d/libnss_wrapper.so"
    [ -z "$PAMW" ] && [ -f "$d/libpam_wrapper.so" ] && PAMW="$d/libpam_wrapper.so"
done
[ -n "$NSSW" ] || [ -n "$SAN" ] ||
    tap_skip_all "libnss_wrapper.so not found (apt-get install libnss-wrapper)"

RESOURCE_APP=6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d
ADMIN_APP=c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b
ADMIN_SECRET='aDm8Q~openclaw-demo-admin-secret.00000001'
AGENT1_OID=f1b3d5f7-9c2e-4b6a-8d0e-1f3a5b7c9d2e
UID_MIN=1879048192
UID_MAX=2147352575

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-directory.XXXXXX")
chmod 755 "$work"
uid_copies "$work/bin" # what runs under other uids: copies, never the tree
HELPER_PID_dir=""
cleanup() {
    helper_stop "$HELPER_PID_dir"
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT

tenant_start "$work/tenant" || {
    echo "1..1"
    echo "not ok 1 - local tenant starts"
    exit 1
}
printf '%s\n' "$ADMIN_SECRET" >"$work/admin.secret"
chmod 600 "$work/admin.secret"
mkdir -p "$work/state" "$work/run"
mkdir -m 700 "$work/tally"
S=$work/openclawd.sock
C=$work/openclaw.conf
{
    conf_global "$work/state" "$S" "$ISSUER_V2_LINE" "runtime_dir = $work/run" \
        "tally_dir = $work/tally" "allow_insecure_credentials = yes" "uid_min = $UID_MIN" \
        "uid_max = $UID_MAX"
    conf_section "service sudo-test" "require_role = Host.Sudo"
    conf_section "service sshd-net" "allow_networks = 127.0.0.0/8, ::1"
    conf_section "service login-test" "require_role = Host.Login"
    conf_agent agent-beta "$BETA_APP" "$BETA_OID"
    conf_section "directory" "resource = $RESOURCE_APP" "graph_url = $TENANT_URL" \
        "graph_resource = https://graph.microsoft.com" "sync_interval = 30" \
        "on_anomaly = disable-service-principal" "credential = secret-file" \
        "app_id = $ADMIN_APP" "secret_file = $work/admin.secret"
} >"$C"
chmod 644 "$C"
D=$work/state-trust/directory.json
N=$work/state-trust/nss.cache
OCS=$top_builddir/helper/sync/openclaw-sync

# The daemon sees a local user "alice" (nss_wrapper): a display name equal
# to it must not become an agent's name.
printf 'root:x:0:0:root:/root:/bin/sh\nalice:x:4242:4242:Alice:/home/alice:/bin/sh\n' >"$work/passwd"
printf 'root:x:0:\nalice:x:4242:\n' >"$work/group"

# nss_check DESC CMD...: a check through getent (skipped in sanitizer builds)
nss_check() {
    if [ -n "$SAN" ]; then
        tap_skip "$1" "$SAN_WHY"
    else
        tap_check "$@"
    fi
}

# getent through nss_wrapper with libnss_openclaw reading our config.
wrap() {
    env LD_PRELOAD="$NSSW" NSS_WRAPPER_PASSWD="$work/passwd" NSS_WRAPPER_GROUP="$work/group" \
        NSS_WRAPPER_MODULE_SO_PATH="$MODULE" NSS_WRAPPER_MODULE_FN_PREFIX=openclaw \
        OPENCLAW_CONFIG="$C" "$@"
}

expect_uid() { # OID: the idmap uid of an object id
    "$PY" -c '
import sys
t, o, lo, hi = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
h = 0xcbf29ce484222325
for b in ("%s:%s" % (t.lower(), o.lower())).encode():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print(lo + h % (hi - lo + 1))' "$TENANT_ID" "$1" "$UID_MIN" "$UID_MAX"
}

dir_get() { # APP_ID FIELD: a field of that agent in directory.json
    "$PY" -c '
import json, sys
for a in json.load(open(sys.argv[1]))["agents"]:
    if a["app_id"] == sys.argv[2]:
        v = a[sys.argv[3]]
        print(json.dumps(v) if isinstance(v, (list, dict, bool)) else v)
        break
else:
    print("ABSENT")' "$D" "$1" "$2"
}

# rebuild: root's openclaw-sync now (what `openclawctl cache sync` and the
# timer run), seeing the local user "alice" through nss_wrapper; prints
# "finished" or "failed: <its last line>".
rebuild() {
    local o
    o=$(mktemp "$work/sync.XXXXXX")
    if { if [ -n "$SAN" ]; then "$OCS" --config "$C" --force; else
        env LD_PRELOAD="$NSSW" NSS_WRAPPER_PASSWD="$work/passwd" NSS_WRAPPER_GROUP="$work/group" \
            "$OCS" --config "$C" --force
    fi; } >"$o" 2>&1; then
        echo finished
    else
        echo "failed: $(tail -n 1 "$o")"
    fi
    cat "$o" >>"$work/sync.log"
    mv -f "$o" "$work/sync1.out"
}

# --- a certificate on agent-alpha's application ---------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/alpha.key" \
    -out "$work/alpha.crt" -days 30 -subj /CN=agent-alpha >/dev/null 2>&1
openssl x509 -in "$work/alpha.crt" -pubkey -noout >"$work/alpha.pub"
want_ssh=$(ssh-keygen -i -m PKCS8 -f "$work/alpha.pub" 2>/dev/null)
cert_b64=$(sed '/-----/d' "$work/alpha.crt" | tr -d '\n')
tenant_ctl POST key-credentials "{\"appId\":\"$ALPHA_APP\",\"certificate\":\"$cert_b64\"}" >/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/alpha-rsa.key" \
    -out "$work/alpha-rsa.crt" -days 30 -subj /CN=agent-alpha-rsa >/dev/null 2>&1
openssl x509 -in "$work/alpha-rsa.crt" -pubkey -noout >"$work/alpha-rsa.pub"
want_rsa=$(ssh-keygen -i -m PKCS8 -f "$work/alpha-rsa.pub" 2>/dev/null)
cert_b64=$(sed '/-----/d' "$work/alpha-rsa.crt" | tr -d '\n')
tenant_ctl POST key-credentials "{\"appId\":\"$ALPHA_APP\",\"certificate\":\"$cert_b64\"}" >/dev/null

# --- the first sync: root's openclaw-sync; the daemon syncs nothing -----------
if helper_start dir "$C"; then
    tap_ok "openclawd starts with [directory]"
else
    tap_fail "openclawd starts with [directory]" "$(cat "$work/dir.log")"
fi
sleep 1
tap_check "openclawd (the daemon account) writes no directory data" test ! -e "$D" -a ! -e "$N"
out=$(rebuild)
if [ "$out" = finished ] && test -s "$D"; then
    tap_ok "directory.json written by the first openclaw-sync run"
else
    tap_fail "directory.json written by the first openclaw-sync run" "$out $(cat "$work/sync.log")"
fi
tap_check "directory.json and nss.cache are root's, mode 0644, in root's 0755 trust_dir" \
    test "$(stat -c '%u %a' "$D" "$N" "$work/state-trust" | tr '\n' ' ')" = "0 644 0 644 0 755 "

alpha_uid=$(expect_uid "$ALPHA_OID")
out=$(wrap getent passwd agent-alpha)
echo "# $out"
nss_check "getent passwd agent-alpha: synced, idmap uid $alpha_uid" \
    test "$(echo "$out" | cut -d: -f3)" = "$alpha_uid"
tap_check "agent-alpha's roles in directory.json" test "$(dir_get "$ALPHA_APP" roles)" = '["Host.Login"]'
tap_check "agent-alpha's source is graph" test "$(dir_get "$ALPHA_APP" source)" = graph
got_ssh=$("$PY" -c '
import json, sys
for a in json.load(open(sys.argv[1]))["agents"]:
    if a["app_id"] == sys.argv[2]:
        print("\n".join(k.get("ssh", "") for k in a["keys"]))' "$D" "$ALPHA_APP")
echo "# want $want_ssh"
echo "# got  $got_ssh"
tap_check "the registered EC certificate appears as agent-alpha's ssh key" \
    sh -c "test -n '$want_ssh' && echo '$got_ssh' | grep -qxF '$want_ssh'"
tap_check "the registered RSA certificate appears as agent-alpha's ssh-rsa key" \
    sh -c "test -n '$want_rsa' && echo '$got_ssh' | grep -qxF '$want_rsa'"
# --- openclaw-authorized-keys: sshd's AuthorizedKeysCommand ------------------
AK=$top_builddir/helper/client/openclaw-authorized-keys
ak_out=$(wrap "$AK" --config "$C" agent-alpha 2>"$work/ak.err")
echo "# $ak_out"
nss_check "authorized-keys: agent-alpha gets its two registered keys, tagged with the agent" \
    sh -c "echo '$ak_out' | grep -qF '$want_ssh openclaw:agent-alpha:' &&
           echo '$ak_out' | grep -qF '$want_rsa openclaw:agent-alpha:' &&
           test \$(echo '$ak_out' | grep -c .) -eq 2"
ak_net=$(wrap "$AK" --config "$C" --service sshd-net agent-alpha 2>/dev/null)
nss_check "authorized-keys: allow_networks of the service become from=\"...\"" \
    sh -c "test \$(echo '$ak_net' | grep -c '^from=\"127.0.0.0/8,::1/128\" ') -eq 2"
ak_h=$(wrap "$AK" --config "$C" root 2>/dev/null)
rc_h=$?
ak_x=$(wrap "$AK" --config "$C" '../agent-alpha' 2>/dev/null)
rc_x=$?
nss_check "authorized-keys: nothing for a human (root) or a hostile name, exit 0" \
    test -z "$ak_h$ak_x" -a "$rc_h$rc_x" = 00
printf 'root:x:0:0:root:/root:/bin/sh\nagent-alpha:x:5000:5000::/home/x:/bin/sh\n' >"$work/passwd.ak"
ak_s=$(env LD_PRELOAD="$NSSW" NSS_WRAPPER_PASSWD="$work/passwd.ak" NSS_WRAPPER_GROUP="$work/group" \
    NSS_WRAPPER_MODULE_SO_PATH="$MODULE" NSS_WRAPPER_MODULE_FN_PREFIX=openclaw \
    OPENCLAW_CONFIG="$C" "$AK" --config "$C" agent-alpha 2>/dev/null)
nss_check "authorized-keys: a local user named like the agent gets no agent key" test -z "$ak_s"
# root's file only (docs/security.md, "The trust boundary"): a directory.json
# of another account (the daemon's, say) gives no key, and says why
chown 65534 "$D"
ak_o=$(wrap "$AK" --config "$C" agent-alpha 2>"$work/ak-owner.err")
chown 0 "$D"
echo "# $(cat "$work/ak-owner.err")"
tap_check "authorized-keys: a directory.json that is not root's gives no key and names the fix" \
    sh -c "test -z '$ak_o' && grep -q 'only openclaw-sync (root) may write it' '$work/ak-owner.err'"
sha256=$(openssl x509 -in "$work/alpha.crt" -outform DER | sha256sum | cut -d' ' -f1)
tap_check "the key's SHA-256 thumbprint matches the certificate" \
    grep -q "\"sha256\":[[:space:]]*\"$sha256\"" "$D"
tap_check "agent identity (no application): synced without keys" \
    test "$(dir_get "$AGENT1_OID" keys)" = '[]' -a "$(dir_get "$AGENT1_OID" name)" = agent-identity-one
tap_check "static agent-beta without assignment: source config, no roles" \
    test "$(dir_get "$BETA_APP" source)" = config -a "$(dir_get "$BETA_APP" roles)" = '[]'
tap_check "names.json pins the synced names" grep -q '"agent-alpha"' "$work/state-trust/names.json"

st=$(req "$S" '{"type":"status"}')
age=$(echo "$st" | json_get directory.age 2>/dev/null)
tap_check "status shows the directory sync age" test -n "$age" -a "${age:-x}" -ge 0

# --- who may ask ------------------------------------------------------------
out=$(as_uid 4242 "$PY" "$CLIENT" "$S" json '{"type":"cache-rebuild"}' 2>&1)
tap_check "cache-rebuild from a non-root uid: connection closed" test "$out" = CLOSED
out=$(req "$S" '{"type":"cache-rebuild"}')
tap_check "cache-rebuild to openclawd from root: refused, naming openclaw-sync (the daemon syncs nothing root trusts)" \
    sh -c "echo \"\$1\" | grep -q 'the directory is synced by openclaw-sync, as root: run openclawctl cache sync'" _ "$out"

# --- the PAM account phase from the directory data ----------------------------
pam_account() { # USER: pamtester acct_mgmt for service sudo-test (no auth from us)
    env LD_PRELOAD="$PAMW $NSSW" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d" \
        NSS_WRAPPER_PASSWD="${PASSWD_FILE:-$work/passwd}" NSS_WRAPPER_GROUP="$work/group" \
        NSS_WRAPPER_MODULE_SO_PATH="$MODULE" NSS_WRAPPER_MODULE_FN_PREFIX=openclaw \
        OPENCLAW_CONFIG="$C" OPENCLAW_TEST_AUDIT_FILE="$work/audit.log" \
        pamtester sudo-test "$1" acct_mgmt >"$work/pamtester.out" 2>&1
}
pam_ok=
if [ -z "$SAN" ] && [ -n "$PAMW" ] && command -v pamtester >/dev/null 2>&1 && [ -f "$PAM_MODULE" ]; then
    mkdir -p "$work/pam.d"
    printf 'account required %s config=%s\n' "$PAM_MODULE" "$C" >"$work/pam.d/sudo-test"
    printf 'auth required pam_deny.so\naccount required pam_deny.so\n' >"$work/pam.d/other"
    printf 'auth required %s config=%s nodelay\naccount required %s config=%s\n' \
        "$PAM_MODULE" "$C" "$PAM_MODULE" "$C" >"$work/pam.d/login-test"
    pam_ok=yes
fi
pam_login() { # USER TOKENFILE: pamtester authenticate + acct_mgmt for login-test
    env LD_PRELOAD="$PAMW $NSSW" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/pam.d" \
        NSS_WRAPPER_PASSWD="$work/passwd" NSS_WRAPPER_GROUP="$work/group" \
        NSS_WRAPPER_MODULE_SO_PATH="$MODULE" NSS_WRAPPER_MODULE_FN_PREFIX=openclaw \
        OPENCLAW_CONFIG="$C" OPENCLAW_TEST_AUDIT_FILE="$work/audit.log" \
        pamtester login-test "$1" authenticate acct_mgmt <"$2" >"$work/pamtester.out" 2>&1
}
if [ -n "$pam_ok" ]; then
    tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$work/alpha.tok"
    tenant_token "$BETA_APP" "$BETA_SECRET" "$RESOURCE_URI/.default" >"$work/beta.tok"
    if pam_login agent-alpha "$work/alpha.tok"; then
        tap_ok "PAM auth: synced agent-alpha logs in with its own token (no [agent] section)"
    else
        tap_fail "PAM auth: synced agent-alpha logs in with its own token" \
            "$(cat "$work/pamtester.out" "$work/audit.log" 2>/dev/null)"
    fi
    if pam_login agent-alpha "$work/beta.tok"; then
        tap_fail "PAM auth: another agent's token never logs in as synced agent-alpha"
    else
        tap_ok "PAM auth: another agent's token never logs in as synced agent-alpha"
    fi
    # A local user named like the synced agent (files first in nsswitch): refused.
    printf 'root:x:0:0:root:/root:/bin/sh\nagent-alpha:x:5000:5000::/home/x:/bin/sh\n' >"$work/passwd.shadow"
    if PASSWD_FILE="$work/passwd.shadow" pam_account agent-alpha; then
        tap_fail "PAM: a synced name that resolves to a local user is refused"
    else
        tap_ok "PAM: a synced name that resolves to a local user is refused"
    fi
    rm -f "$work/tally/agent-alpha"
else
    tap_skip "PAM auth: synced agent logs in" "pam_wrapper, pamtester or the module missing"
    tap_skip "PAM auth: other token refused" "pam_wrapper, pamtester or the module missing"
    tap_skip "PAM: shadowing local user refused" "pam_wrapper, pamtester or the module missing"
fi

# --- a role added, then removed -----------------------------------------------
tenant_ctl POST assignments \
    "{\"principalAppId\":\"$ALPHA_APP\",\"resourceAppId\":\"$RESOURCE_APP\",\"appRole\":\"Host.Sudo\"}" >/dev/null
out=$(rebuild)
echo "# $out"
tap_check "openclaw-sync finishes" test "$out" = finished
tap_check "a new assignment: Host.Sudo in agent-alpha's roles" \
    test "$(dir_get "$ALPHA_APP" roles)" = '["Host.Login", "Host.Sudo"]'
if [ -n "$pam_ok" ]; then
    if pam_account agent-alpha; then
        tap_ok "PAM account (no auth from us): allowed with Host.Sudo in directory.json"
    else
        tap_fail "PAM account: allowed with Host.Sudo in directory.json" \
            "$(cat "$work/pamtester.out" "$work/audit.log" 2>/dev/null)"
    fi
else
    tap_skip "PAM account: allowed with the role" "pam_wrapper, pamtester or the module missing"
fi
tenant_ctl POST assignments/remove \
    "{\"principalAppId\":\"$ALPHA_APP\",\"resourceAppId\":\"$RESOURCE_APP\",\"appRole\":\"Host.Sudo\"}" >/dev/null
# the admin's way to make it take effect at once
out=$(wrap "$top_builddir/helper/ctl/openclawctl" cache sync --config "$C" 2>&1)
rc=$?
echo "# $out"
tap_check "openclawctl cache sync (runs openclaw-sync): exit 0, says the sync finished" \
    sh -c "[ $rc -eq 0 ] && echo \"\$1\" | grep -q '^directory sync finished: .*(openclaw-sync)'" _ "$out"
tap_check "role assignment removed: agent-alpha's roles updated" \
    test "$(dir_get "$ALPHA_APP" roles)" = '["Host.Login"]'
out=$(as_uid 4242 "$CTL" cache sync --config "$C" 2>&1)
rc=$?
tap_check "openclawctl cache sync by a non-root uid: refused (exit 1)" \
    sh -c "[ $rc -eq 1 ] && echo \"\$1\" | grep -q 'only root'" _ "$out"
if [ -n "$pam_ok" ]; then
    if pam_account agent-alpha; then
        tap_fail "PAM account: refused after the role is removed" "$(cat "$work/pamtester.out")"
    else
        tap_ok "PAM account: refused after the role is removed"
    fi
    if pam_account agent-beta; then
        tap_fail "PAM account: a static agent without the role is refused"
    else
        tap_ok "PAM account: a static agent without the role is refused"
    fi
else
    tap_skip "PAM account: refused after the role is removed" "pam_wrapper, pamtester or the module missing"
    tap_skip "PAM account: static agent refused" "pam_wrapper, pamtester or the module missing"
fi

# --- a change made while a sync runs: a run started after it sees it ---------
# The running sync has read the assignments before the change; a run
# started after the change waits for the lock and reads them again.
tenant_ctl POST assignments \
    "{\"principalAppId\":\"$ALPHA_APP\",\"resourceAppId\":\"$RESOURCE_APP\",\"appRole\":\"Host.Sudo\"}" >/dev/null
rebuild >/dev/null
tenant_ctl DELETE requests >/dev/null
tenant_ctl POST faults '{"path":"/applications(","kind":"latency","ms":1500,"count":8}' >/dev/null
rebuild >"$work/rebuild1.out" &
rebuild_pid=$!
read_assignments() { tenant_ctl GET "requests?path=appRoleAssignedTo" | grep -q '"seq"'; }
wait_for 10 read_assignments
tenant_ctl POST assignments/remove \
    "{\"principalAppId\":\"$ALPHA_APP\",\"resourceAppId\":\"$RESOURCE_APP\",\"appRole\":\"Host.Sudo\"}" >/dev/null
out=$(rebuild)
roles=$(dir_get "$ALPHA_APP" roles)
wait "$rebuild_pid"
tenant_ctl DELETE faults >/dev/null
echo "# in flight: $(cat "$work/rebuild1.out"); after the change: $out; roles $roles"
tap_check "openclaw-sync started during a running one: waits for it, then sees the change (role gone)" \
    test "$out" = finished -a "$roles" = '["Host.Login"]'

# --- a disabled service principal leaves NSS ----------------------------------
tenant_ctl POST disable-sp "{\"appId\":\"$ALPHA_APP\"}" >/dev/null
rebuild >/dev/null
if [ -n "$SAN" ]; then
    tap_skip "SP disabled: agent-alpha is gone from NSS after the sync" "$SAN_WHY"
elif wrap getent passwd agent-alpha >/dev/null; then
    tap_fail "SP disabled: agent-alpha is gone from NSS after the sync"
else
    tap_ok "SP disabled: agent-alpha is gone from NSS after the sync"
fi
tap_check "SP disabled: directory.json says enabled false" test "$(dir_get "$ALPHA_APP" enabled)" = false
if [ -n "$pam_ok" ]; then
    tenant_ctl POST assignments \
        "{\"principalAppId\":\"$ALPHA_APP\",\"resourceAppId\":\"$RESOURCE_APP\",\"appRole\":\"Host.Sudo\"}" >/dev/null
    rebuild >/dev/null
    if pam_account agent-alpha; then
        tap_fail "PAM account: a disabled agent is refused even with the role"
    else
        tap_ok "PAM account: a disabled agent is refused even with the role"
    fi
    tenant_ctl POST assignments/remove \
        "{\"principalAppId\":\"$ALPHA_APP\",\"resourceAppId\":\"$RESOURCE_APP\",\"appRole\":\"Host.Sudo\"}" >/dev/null
fi
tenant_ctl POST enable-sp "{\"appId\":\"$ALPHA_APP\"}" >/dev/null
rebuild >/dev/null
out=$(wrap getent passwd agent-alpha | cut -d: -f1,3)
nss_check "re-enabled: same name, same uid" test "$out" = "agent-alpha:$alpha_uid"

# --- renames never move a pinned name ---------------------------------------
gt=$(tenant_token "$ADMIN_APP" "$ADMIN_SECRET" "https://graph.microsoft.com/.default")
curl -sS --cacert "$TENANT_CA" -X PATCH -H "Authorization: Bearer $gt" \
    -H 'Content-Type: application/json' --data '{"displayName":"root"}' \
    "$TENANT_URL/v1.0/servicePrincipals/$ALPHA_OID" >/dev/null
rebuild >/dev/null
tap_check "agent-alpha renamed itself to root in Entra: its name stays agent-alpha" \
    test "$(dir_get "$ALPHA_APP" name)" = agent-alpha
tap_check "...and the display name is only informational" test "$(dir_get "$ALPHA_APP" display_name)" = root

# --- hostile display names get the fallback name ---------------------------------
seed=$("$PY" -c '
import json, sys
tid, res = sys.argv[1], sys.argv[2]
apps, sps, asg = [], [], []
for i, dn in enumerate(["root", "../x", "alice", "agent-alpha", "O'"'"'Brien",
                        "a" + "\u00e9" * 300]):
    app = "dddddddd-0000-4000-8000-%012d" % (i + 1)
    sp = "%08d-0000-4000-8000-eeeeeeeeeeee" % (i + 1)
    apps.append({"id": "cccccccc-0000-4000-8000-%012d" % (i + 1), "appId": app, "displayName": dn})
    sps.append({"id": sp, "appId": app, "displayName": dn, "accountEnabled": True})
    asg.append({"principalId": sp, "resourceAppId": res, "appRole": "Host.Login"})
print(json.dumps({"tenants": [{"id": tid, "applications": apps, "servicePrincipals": sps,
                                "appRoleAssignments": asg}]}))' "$TENANT_ID" "$RESOURCE_APP")
tenant_ctl POST seed "$seed" >/dev/null
out=$(rebuild)
echo "# $out"
for i in 1 2 3 4 5 6; do
    app=dddddddd-0000-4000-8000-00000000000$i
    name=$(dir_get "$app" name)
    if [ "$i" = 3 ] && [ -n "$SAN" ]; then
        tap_skip "hostile display name alice (a local user of the daemon)" "$SAN_WHY"
        continue
    fi
    tap_check "hostile display name $(dir_get "$app" display_name | cut -c1-20) gets the fallback name (got $name)" \
        test "$name" = "oc-0000000$i"
done
names=$(for i in 1 2 3 4 5 6; do dir_get dddddddd-0000-4000-8000-00000000000$i name; done | tr '\n' ' ')
echo "# names: $names"
if [ -n "$SAN" ]; then
    tap_skip "root still resolves to the real root" "$SAN_WHY"
elif wrap getent passwd root | grep -q "^root:x:0:"; then
    tap_ok "root still resolves to the real root"
else
    tap_fail "root still resolves to the real root"
fi

# (The anomaly response below reads directory.json with the strict parser:
# a 600-byte display name cut inside a UTF-8 character would break it.)

# --- the anomaly response: disable the service principal through Graph ---------------
sp_enabled() { # SP_ID: accountEnabled in the tenant
    tenant_ctl GET state | "$PY" -c '
import json, sys
for t in json.load(sys.stdin)["tenants"]:
    for sp in t["servicePrincipals"]:
        if sp["id"] == sys.argv[1]:
            print(str(sp["accountEnabled"]).lower())' "$1"
}
out=$(as_uid 4242 "$PY" "$CLIENT" "$S" json '{"type":"anomaly","agent":"oc-00000005"}' 2>&1)
tap_check "anomaly from a non-root uid: connection closed" test "$out" = CLOSED
tap_check "no anomaly response without a report" test "$(sp_enabled 00000005-0000-4000-8000-eeeeeeeeeeee)" = true
out=$(req "$S" '{"type":"anomaly","agent":"oc-00000005"}')
echo "# $out"
tap_check "anomaly: answered with the configured action" \
    test "$(echo "$out" | json_get action)" = disable-service-principal
sp5_disabled() { test "$(sp_enabled 00000005-0000-4000-8000-eeeeeeeeeeee)" = false; }
sp5_gone() { ! wrap getent passwd oc-00000005 >/dev/null; }
sleep 1
tap_check "anomaly: openclawd (the daemon account) does not touch Entra: the service principal stays enabled" \
    test "$(sp_enabled 00000005-0000-4000-8000-eeeeeeeeeeee)" = true
# what pam_openclaw's lockout writes (root's request), then what
# openclaw-sync.path starts: root's openclaw-sync with the [directory] credential
install -d -m 0700 "$work/state-trust/anomalies"
install -m 0600 /dev/null "$work/state-trust/anomalies/oc-00000005"
rebuild >/dev/null
tap_check "anomaly: openclaw-sync disables the service principal in Entra (PATCH accountEnabled false)" \
    sp5_disabled
tap_check "anomaly: the request is taken (removed)" test ! -e "$work/state-trust/anomalies/oc-00000005"
nss_check "anomaly: after the sync that follows in the same run, the agent is gone from NSS" sp5_gone
tap_check "anomaly: audit lines in the logs" \
    sh -c "grep -q 'audit: anomaly: uid 0 .* reports agent oc-00000005' '$work/dir.log' && grep -q 'audit: anomaly: service principal 00000005-0000-4000-8000-eeeeeeeeeeee of agent oc-00000005 disabled' '$work/sync.log'"

# --- Graph down: the last good files stay ------------------------------------------
rebuild >/dev/null
cp "$D" "$work/dir.before"
cp "$N" "$work/nss.before"
tenant_ctl POST faults '{"path":"/v1.0/","kind":"status","status":503,"count":20}' >/dev/null
out=$(rebuild)
echo "# $out"
tap_check "Graph down: openclaw-sync fails (exit 1), keeping the last good files" \
    sh -c "echo \"\$1\" | grep -q '^failed: ' && grep -q 'directory sync failed: .*last good files are kept' '$work/sync1.out'" _ "$out"
out=$(wrap "$top_builddir/helper/ctl/openclawctl" cache sync --config "$C" 2>&1)
rc=$?
echo "# $out"
tap_check "Graph down: openclawctl cache sync exits 1 and says the last good data stays" \
    sh -c "[ $rc -eq 1 ] && echo \"\$1\" | grep -q 'the sync failed .*last good directory data stays'" _ "$out"
tap_check "Graph down: directory.json and nss.cache unchanged" \
    sh -c "cmp -s '$D' '$work/dir.before' && cmp -s '$N' '$work/nss.before'"
tap_check "Graph down: openclaw-sync says what Graph answered (HTTP 503)" grep -q 'HTTP 503' "$work/sync1.out"
out=$(wrap getent passwd agent-alpha | cut -d: -f1)
nss_check "Graph down: agents still resolve from the last good cache" test "$out" = agent-alpha
tenant_ctl DELETE faults >/dev/null
out=$(rebuild)
tap_check "Graph back: the sync succeeds again" test "$out" = finished
cp "$D" "$work/dir.after-ok"

# --- the [directory] credential is its own section, not one past the agents ------
# An azure-arc [directory] credential (no Arc agent on this host): the Graph
# token fails, and the error names the credential "directory" (its name was
# once read one past the end of the [agent] sections).
C2=$work/openclaw-arc.conf
sed '/^\[directory\]/,$ { s/^credential = .*/credential = azure-arc/; /^secret_file = /d; }' \
    "$C" >"$C2"
chmod 644 "$C2"
"$OCS" --config "$C2" --force >"$work/sync-arc.out" 2>&1
rc=$?
sed 's/^/# /' "$work/sync-arc.out"
tap_check "[directory] credential = azure-arc: the sync fails, the error names agent directory" \
    sh -c "[ $rc -ne 0 ] && grep -q 'Graph token: agent directory: the Azure Arc endpoint' '$work/sync-arc.out'"
tap_check "[directory] credential = azure-arc: the last good files are kept" \
    sh -c "cmp -s '$D' '$work/dir.after-ok' && test -s '$N'"

# --- hygiene -------------------------------------------------------------------------
grep "directory sync" "$work/sync.log" | sed "s/^/# /"
tap_check "no secret or token in the daemon's or openclaw-sync's log" \
    sh -c "! grep -qE 'aDm8Q|eyJ' '$work/dir.log' '$work/sync.log'"
helper_stop "$HELPER_PID_dir"
rc=$?
HELPER_PID_dir=""
tap_check "openclawd exits 0 on SIGTERM" test "$rc" = 0
tap_check "no sanitizer report in the daemon's log" \
    sh -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' '$work/dir.log'"
tap_done
