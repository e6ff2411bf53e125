#!/bin/bash
# The daemon account's reach (docs/security.md, "The trust boundary"; issue
# 18, demonstrations 2 and 4 and the daemon's reach):
#  (a) the old layout, the directory data in the daemon account's
#      directory: it marks a disabled agent enabled and grants it Host.Sudo
#      in directory.json; pam_openclaw's account phase on a sudo stack must
#      refuse (the old module allowed it: a role Entra never granted);
#  (b) the old layout, nss.cache the daemon account's: a root process that
#      has resolved a user through libnss_openclaw, the daemon's uid
#      truncates the file, the process resolves again: no crash (the old
#      module died with SIGBUS, exit 135), the cache is simply not used;
#  (d) a lockout by the agent's own signed tokens with on_anomaly =
#      disable-service-principal: pam_openclaw asks root's openclaw-sync
#      (trust_dir/anomalies/NAME, root's), which disables the service
#      principal with the [directory] credential; openclawd never holds it;
#  (c) root's layout, written by openclaw-sync: while logins and lookups
#      run, the daemon's uid tries every write it can think of against
#      trust_dir (directory.json, names.json, nss.cache, jwks/, the
#      directory itself: write, truncate, chmod, rename, symlink, hard
#      link, a new file): every one is refused, no decision changes, no
#      process crashes.
# pamtester under pam_wrapper and nss_wrapper, Python ctypes calling the
# module's own entry points, setpriv for the other uid; everything in a
# temp dir, nothing of the host's /var/lib or /etc.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

MOD=$top_builddir/pam_openclaw/.libs/pam_openclaw.so
NSSM=$top_builddir/nss_openclaw/.libs/libnss_openclaw.so.2
OCS=$top_builddir/helper/sync/openclaw-sync
PAMW=$(ls /usr/lib/*/libpam_wrapper.so /usr/lib/libpam_wrapper.so 2>/dev/null | head -n1)
NSSW=$(ls /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so 2>/dev/null | head -n1)
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (root's files, another uid through setpriv)"
[ -f "$MOD" ] && [ -f "$NSSM" ] && [ -x "$OCS" ] || tap_skip_all "the modules or openclaw-sync not built"
readelf --dyn-syms -W "$NSSM" 2>/dev/null | grep -q '__asan_' &&
    tap_skip_all "sanitizer build: pam_wrapper, nss_wrapper and Python lack the ASan runtime (the gcc build runs this)"
command -v pamtester >/dev/null || tap_skip_all "pamtester missing (scripts/install-deps.sh)"
command -v setpriv >/dev/null || tap_skip_all "setpriv (util-linux) missing"
[ -n "$PAMW" ] && [ -n "$NSSW" ] || tap_skip_all "libpam-wrapper or libnss-wrapper missing (scripts/install-deps.sh)"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
grep -q OPENCLAW_TEST_AUDIT_FILE "$MOD" || tap_skip_all "not a --enable-test-hooks build"

XUID=4242079 # the daemon account
RESOURCE_APP=6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d
ADMIN_APP=c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b
ADMIN_SECRET='aDm8Q~openclaw-demo-admin-secret.00000001'
UID_MIN=1879048192
UID_MAX=2147352575
work=$(mktemp -d "${TMPDIR:-/tmp}/oc-reach.XXXXXX")
chmod 755 "$work"
bg=""
cleanup() {
    for p in $bg; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    tenant_stop
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
tenant_start "$work/tenant" || tap_setup_fail "the local tenant did not start"
printf '%s\n' "$ADMIN_SECRET" >"$work/admin.secret"
chmod 600 "$work/admin.secret"
mkdir -p "$work/state" "$work/svc"
mkdir -m 0700 "$work/tally"
export TZ=UTC OPENCLAW_TEST_AUDIT_FILE="$work/audit.log"
as_x() { setpriv --reuid="$XUID" --regid="$XUID" --clear-groups "$@"; }

# conf NAME TRUST_DIR: a [directory] config whose root state is TRUST_DIR
conf() {
    {
        conf_global "$work/state" "$work/ocd.sock" "$ISSUER_V2_LINE" "tally_dir = $work/tally" \
            "trust_dir = $2" "allow_insecure_credentials = yes" "uid_min = $UID_MIN" \
            "uid_max = $UID_MAX"
        conf_section "service sudo-$1" "require_role = Host.Sudo"
        conf_section "service login-$1" "deny = 2" "fail_interval = 600" "unlock_time = 600"
        conf_section "directory" "resource = $RESOURCE_APP" "graph_url = $TENANT_URL" \
            "graph_resource = https://graph.microsoft.com" "credential = secret-file" \
            "app_id = $ADMIN_APP" "secret_file = $work/admin.secret" \
            "on_anomaly = disable-service-principal"
    } >"$work/$1.conf"
    chmod 644 "$work/$1.conf"
    printf 'account required %s config=%s\n' "$MOD" "$work/$1.conf" >"$work/svc/sudo-$1"
    printf 'auth required %s config=%s nodelay\n' "$MOD" "$work/$1.conf" >"$work/svc/login-$1"
}
printf 'auth required pam_deny.so\naccount required pam_deny.so\n' >"$work/svc/other"
# agent-alpha holds Host.Login only; disabled in Entra for (a)
tenant_ctl POST disable-sp "{\"appId\":\"$ALPHA_APP\"}" >/dev/null
conf root "$work/trust"
"$OCS" --config "$work/root.conf" --force >"$work/sync.log" 2>&1 ||
    tap_setup_fail "openclaw-sync" "$(tail -3 "$work/sync.log")"
D=$work/trust/directory.json
alpha_uid=$("$PY" -c '
import json, sys
print([a["uid"] for a in json.load(open(sys.argv[1]))["agents"] if a["name"] == "agent-alpha"][0])' "$D" 2>/dev/null)
[ -n "$alpha_uid" ] || tap_setup_fail "agent-alpha in root's directory.json" "$(head -c 600 "$D")"
printf 'root:x:0:0:root:/root:/bin/sh\nagent-alpha:x:%s:%s::/:/bin/sh\n' "$alpha_uid" "$alpha_uid" >"$work/passwd"
printf 'root:x:0:\n' >"$work/group"

# account LAYOUT: pam_openclaw's account phase for agent-alpha, sudo stack
account() {
    : >"$OPENCLAW_TEST_AUDIT_FILE"
    env LD_PRELOAD="$PAMW $NSSW" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/svc" \
        NSS_WRAPPER_PASSWD="$work/passwd" NSS_WRAPPER_GROUP="$work/group" \
        timeout 30 pamtester "sudo-$1" agent-alpha acct_mgmt >"$work/pt.out" 2>&1
}

# --- (a) the old layout: the daemon account edits directory.json --------------
O=$work/daemon
install -d -o "$XUID" -g "$XUID" -m 0755 "$O"
conf old "$O"
# what the daemon account wrote: agent-alpha enabled, with Host.Sudo
"$PY" - "$D" "$work/forged.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for a in d["agents"]:
    if a["name"] == "agent-alpha":
        a["enabled"] = True
        a["roles"] = sorted(set(a["roles"]) | {"Host.Sudo"})
json.dump(d, open(sys.argv[2], "w"))
PY
as_x sh -c 'cat >"$1/directory.json"' _ "$O" <"$work/forged.json"
[ "$(stat -c %u "$O/directory.json")" = "$XUID" ] || tap_setup_fail "the daemon uid's directory.json"
account old
rc=$?
if [ "$rc" -ne 0 ] && ! grep -q "account management done" "$work/pt.out" &&
    grep -Eq "user=agent-alpha .*result=error reason=directory" "$OPENCLAW_TEST_AUDIT_FILE"; then
    tap_ok "(a) directory.json of the daemon account (agent enabled, Host.Sudo granted): the sudo stack refuses (reason=directory)"
else
    tap_fail "(a) directory.json of the daemon account: the sudo stack refuses" \
        "rc=$rc $(cat "$work/pt.out" "$OPENCLAW_TEST_AUDIT_FILE")"
fi
grep -q "trust_dir must be a directory of root's" "$OPENCLAW_TEST_AUDIT_FILE" &&
    tap_ok "(a) the refusal names trust_dir and what it must be" ||
    tap_fail "(a) the refusal names trust_dir" "$(cat "$OPENCLAW_TEST_AUDIT_FILE")"
account root
rc=$?
if [ "$rc" -ne 0 ] && grep -Eq "user=agent-alpha .*result=failure" "$OPENCLAW_TEST_AUDIT_FILE"; then
    tap_ok "(a) root's directory.json (agent-alpha disabled in Entra, no Host.Sudo): refused, as Entra says"
else
    tap_fail "(a) root's directory.json: refused" "rc=$rc $(cat "$work/pt.out" "$OPENCLAW_TEST_AUDIT_FILE")"
fi
tenant_ctl POST enable-sp "{\"appId\":\"$ALPHA_APP\"}" >/dev/null
"$OCS" --config "$work/root.conf" --force >>"$work/sync.log" 2>&1

# --- (b) the old layout: the daemon account truncates the mapped cache --------
# lookups NAME... through the module's own entry point in one process; a
# "!CMD" argument runs CMD in between. Prints one line per lookup.
lookups() {
    OPENCLAW_CONFIG=$1 "$PY" - "$NSSM" "${@:2}" <<'PY'
import ctypes, subprocess, sys
class Pw(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("passwd", ctypes.c_char_p), ("uid", ctypes.c_uint),
                ("gid", ctypes.c_uint), ("gecos", ctypes.c_char_p), ("dir", ctypes.c_char_p),
                ("shell", ctypes.c_char_p)]
m = ctypes.CDLL(sys.argv[1])
f = m._nss_openclaw_getpwnam_r
f.argtypes = [ctypes.c_char_p, ctypes.POINTER(Pw), ctypes.c_char_p, ctypes.c_size_t,
              ctypes.POINTER(ctypes.c_int)]
for a in sys.argv[2:]:
    if a.startswith("!"):
        subprocess.run(a[1:], shell=True, check=False)
        continue
    pw, buf, err = Pw(), ctypes.create_string_buffer(4096), ctypes.c_int(0)
    r = f(a.encode(), ctypes.byref(pw), buf, 4096, ctypes.byref(err))
    print("%s %d %s" % (a, r, pw.uid if r == 1 else "-"), flush=True)
PY
}
N=$work/daemon/nss.cache
cp "$work/trust/nss.cache" "$work/nss.good"
as_x sh -c 'cat >"$1"' _ "$N" <"$work/nss.good"
sed -i "s|^trust_dir = .*|trust_dir = $O|" "$work/old.conf"
lookups "$work/old.conf" agent-alpha "!setpriv --reuid=$XUID --regid=$XUID --clear-groups truncate -s 0 $N" \
    agent-alpha agent-alpha >"$work/lookups.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && [ "$(grep -c '^agent-alpha ' "$work/lookups.out")" = 3 ] && ! grep -q "^agent-alpha 1 " "$work/lookups.out"; then
    tap_ok "(b) nss.cache of the daemon account, truncated by it under a root process: no crash, the cache is not used ($(tr '\n' ';' <"$work/lookups.out"))"
else
    tap_fail "(b) the daemon account truncates the mapped cache: no crash" \
        "exit $rc (135/-7: SIGBUS) $(cat "$work/lookups.out")"
fi

# a root-owned cache in a root-owned directory below the daemon account's
# directory: that account could rename the directory away (an older cache
# in its place): refused too
install -d -m 0755 "$O/sub"
install -m 0644 "$work/nss.good" "$O/sub/nss.cache"
sed "s|^trust_dir = .*|trust_dir = $O/sub|" "$work/old.conf" >"$work/below.conf"
chmod 0644 "$work/below.conf"
lookups "$work/below.conf" agent-alpha >"$work/below.out" 2>&1
if grep -q "^agent-alpha " "$work/below.out" && ! grep -q "^agent-alpha 1 " "$work/below.out"; then
    tap_ok "(b) root's cache in root's directory below the daemon account's directory: not used ($(cat "$work/below.out"))"
else
    tap_fail "(b) a cache below the daemon account's directory is not used" "$(cat "$work/below.out")"
fi

# --- (c) root's layout: every write the daemon's uid can think of -------------
T=$work/trust
cp -p "$D" "$work/dir.before"
cp -p "$T/nss.cache" "$work/nss.before"
cp -p "$T/jwks/keys.json" "$work/keys.before"
# decisions and lookups running meanwhile
(
    for i in $(seq 1 200); do
        lookups "$work/root.conf" agent-alpha >>"$work/bg-lookups.out" 2>&1 || echo "CRASH $?" >>"$work/bg-lookups.out"
        sleep 0.05
    done
) &
bg="$!"
tries=0 held=0 tried=""
attempt() { # DESCRIPTION CMD...: must fail
    tries=$((tries + 1))
    if as_x "$@" >/dev/null 2>&1; then tried="$tried; $1 SUCCEEDED"; else held=$((held + 1)); fi
}
for f in directory.json names.json nss.cache jwks/keys.json; do
    attempt "write $f" sh -c 'cat "$1" >"$2"' _ "$work/forged.json" "$T/$f"
    attempt "truncate $f" truncate -s 0 "$T/$f"
    attempt "chmod $f" chmod 0666 "$T/$f"
    attempt "rename $f" mv "$T/$f" "$T/$f.old"
    attempt "remove $f" rm -f "$T/$f"
    attempt "hard-link $f" ln "$T/$f" "$O/$(basename "$f").link"
done
attempt "a new file in trust_dir" sh -c ': >"$1/directory.json.new"' _ "$T"
attempt "a symlink in trust_dir" ln -s "$O/directory.json" "$T/evil.json"
attempt "rename trust_dir" mv "$T" "$work/trust.old"
attempt "replace jwks/ by a symlink" ln -sfn "$O" "$T/jwks"
attempt "a refresh request" sh -c ': >"$1/jwks/refresh-requested"' _ "$T"
attempt "the lock file" sh -c ': >"$1/.lock"' _ "$T"
account root
rc_acc=$?
wait "$bg"
bg=""
if [ "$held" -eq "$tries" ] && cmp -s "$D" "$work/dir.before" && cmp -s "$T/nss.cache" "$work/nss.before" &&
    cmp -s "$T/jwks/keys.json" "$work/keys.before"; then
    tap_ok "(c) the daemon's uid: $held of $tries writes against root's trust_dir refused, every file unchanged"
else
    tap_fail "(c) the daemon's uid cannot change root's trust_dir" "$held of $tries refused$tried"
fi
n_ok=$(grep -c "^agent-alpha 1 $alpha_uid$" "$work/bg-lookups.out")
if ! grep -q CRASH "$work/bg-lookups.out" && [ "$n_ok" = 200 ]; then
    tap_ok "(c) meanwhile 200 lookups of agent-alpha, each the same uid, no crash"
else
    tap_fail "(c) lookups meanwhile: same answer, no crash" "$n_ok of 200; $(grep -v "^agent-alpha 1 $alpha_uid$" "$work/bg-lookups.out" | head -3)"
fi
if [ "$rc_acc" -ne 0 ] && grep -Eq "user=agent-alpha .*result=failure reason=role" "$OPENCLAW_TEST_AUDIT_FILE"; then
    tap_ok "(c) the sudo decision is still Entra's: agent-alpha has no Host.Sudo (reason=role)"
else
    tap_fail "(c) the sudo decision is unchanged" "rc=$rc_acc $(cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
# --- (d) a lockout by signed tokens: the tenant-wide response is root's ------
sp_enabled() { # APP_ID: accountEnabled of its service principal in the tenant
    tenant_ctl GET state | "$PY" -c '
import json, sys
for t in json.load(sys.stdin)["tenants"]:
    for sp in t["servicePrincipals"]:
        if sp["appId"] == sys.argv[1]:
            print(str(sp["accountEnabled"]).lower())' "$1"
}
# agent-alpha's own token, signed by the tenant, for another audience
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_V2_URI/.default" >"$work/alpha-graph.tok"
rm -rf "$work/tally/agent-alpha" "$T/anomalies"
for i in 1 2; do
    env LD_PRELOAD="$PAMW $NSSW" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/svc" \
        NSS_WRAPPER_PASSWD="$work/passwd" NSS_WRAPPER_GROUP="$work/group" \
        timeout 30 pamtester login-root agent-alpha authenticate <"$work/alpha-graph.tok" >>"$work/lockout.out" 2>&1
done
if [ -f "$T/anomalies/agent-alpha" ] && [ "$(stat -c '%u %a' "$T/anomalies" "$T/anomalies/agent-alpha" | tr '\n' ' ')" = "0 700 0 600 " ] &&
    [ "$(sp_enabled "$ALPHA_APP")" = true ]; then
    tap_ok "(d) locked out by its own signed tokens: pam_openclaw leaves root's request trust_dir/anomalies/agent-alpha; Entra untouched so far"
else
    tap_fail "(d) the lockout leaves root's request" "$(ls -la "$T/anomalies" 2>&1; tail -3 "$work/lockout.out"; cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
"$OCS" --config "$work/root.conf" >>"$work/sync.log" 2>&1
if [ "$(sp_enabled "$ALPHA_APP")" = false ] && [ ! -e "$T/anomalies/agent-alpha" ] &&
    grep -q "audit: anomaly: service principal .* of agent agent-alpha disabled" "$work/sync.log"; then
    tap_ok "(d) openclaw-sync (root, the [directory] credential) disables agent-alpha's service principal and takes the request"
else
    tap_fail "(d) openclaw-sync disables the service principal" "enabled=$(sp_enabled "$ALPHA_APP") $(tail -5 "$work/sync.log")"
fi
tap_done
