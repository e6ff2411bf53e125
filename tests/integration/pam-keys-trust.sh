#!/bin/bash
# The signing keys pam_openclaw trusts are root's (docs/security.md, "The
# trust boundary"; issue 18, demonstration 1):
#  (a) the old layout, keys.json in a directory the daemon account owns:
#      that account puts its own RSA key in keys.json and forges a token of
#      agent-alpha with roles ["Host.Sudo"]; a sudo stack (auth + account,
#      require_role = Host.Sudo) must refuse it (the old module answered
#      "successfully authenticated" and "account management done": root);
#  (b) root's layout, filled by openclaw-sync: the daemon's uid can neither
#      write, rename, replace nor link anything there, the forged token is
#      refused, the tenant's real token is accepted;
#  (c) keys.json not root's, writable by others or a symlink, jwks_dir
#      writable by others or reached through a symlink: agents refused
#      (reason=jwks), a human through the same stack not affected;
#  (d) openclaw-sync refuses to run as another uid or into a directory of
#      another account's, and writes root 0644 files it can read back;
#  (e) a rotated key: the module's request (refresh-requested) makes
#      openclaw-sync fetch (as openclaw-sync.path would), the token
#      verifies; a second request within 30 s is answered without a fetch.
# pamtester under pam_wrapper, the local tenant, setpriv for the other uid;
# everything in a temp dir, nothing of the host's /var/lib or /etc.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"

mod=$(pam_module)
sync=$top_builddir/helper/sync/openclaw-sync
wrapper=$(ls /usr/lib/*/libpam_wrapper.so /usr/lib/libpam_wrapper.so 2>/dev/null | head -n1)
[ -f "$mod" ] || tap_skip_all "pam_openclaw.so not built"
[ -x "$sync" ] || tap_skip_all "openclaw-sync not built"
[ -z "$(pam_sanitizer_preload)" ] || tap_skip_all "sanitizer build: pam-module.sh covers the module there"
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (root's files, another uid through setpriv)"
command -v pamtester >/dev/null || tap_skip_all "pamtester missing (scripts/install-deps.sh)"
command -v setpriv >/dev/null || tap_skip_all "setpriv (util-linux) missing"
[ -n "$wrapper" ] || tap_skip_all "libpam-wrapper missing (scripts/install-deps.sh)"
"$OC_PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
grep -q OPENCLAW_TEST_AUDIT_FILE "$mod" || tap_skip_all "not a --enable-test-hooks build"

# The daemon account of the old layout: a uid no one uses.
XUID=4242078
PAM_WORK=$(mktemp -d "${TMPDIR:-/tmp}/oc-keystrust.XXXXXX")
export PAM_WORK
cleanup() {
    trust_watch_stop
    tenant_stop
    [ -n "${KEEP:-}" ] || rm -rf "$PAM_WORK"
}
trap cleanup EXIT
chmod 0755 "$PAM_WORK"
tenant_start "$PAM_WORK/tenant" || tap_setup_fail "the local tenant did not start"
mkdir -p "$PAM_WORK/svc" "$PAM_WORK/run" "$PAM_WORK/tally"
chmod 0700 "$PAM_WORK/tally"
export TZ=UTC
export OPENCLAW_TEST_AUDIT_FILE="$PAM_WORK/audit.log"
export OPENCLAW_TEST_INSECURE_CONFIG=1
as_x() { setpriv --reuid="$XUID" --regid="$XUID" --clear-groups "$@"; }
audit_has() { grep -Eq -- "$1" "$OPENCLAW_TEST_AUDIT_FILE"; }
fresh_audit() { : >"$OPENCLAW_TEST_AUDIT_FILE"; }

tk="$PAM_WORK/tok"
mkdir -m 0700 "$tk"
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$tk/alpha"
[ -s "$tk/alpha" ] || tap_setup_fail "the tenant issued no token"
tenant_get "/$TENANT_ID/discovery/v2.0/keys" >"$PAM_WORK/tenant-keys.json"

# forge JWKS_IN JWKS_OUT TOKEN_IN TOKEN_OUT: an own RSA key added to the
# key set, and agent-alpha's claims with roles Host.Sudo signed by it.
forge() {
    "$OC_PY" - "$@" <<'PY'
import base64, json, sys, time
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def num(n):
    return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))

jin, jout, tin, tout = sys.argv[1:5]
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pub = key.public_key().public_numbers()
jwks = json.load(open(jin))
jwks["keys"].append({"kty": "RSA", "use": "sig", "kid": "forged-by-the-daemon",
                     "n": num(pub.n), "e": num(pub.e)})
json.dump(jwks, open(jout, "w"))
p = open(tin).read().strip().split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
now = int(time.time())
claims.update({"roles": ["Host.Login", "Host.Sudo"], "iat": now, "nbf": now, "exp": now + 3600})
head = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "forged-by-the-daemon"}).encode())
body = b64(json.dumps(claims).encode())
sig = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
open(tout, "w").write(f"{head}.{body}.{b64(sig)}\n")
PY
}

# service NAME JWKS_DIR: a config with that jwks_dir (and what openclaw-sync
# needs to reach the tenant); NAME is a sudo stack (auth + account of the
# module, require_role = Host.Sudo), NAME-gate the module in front of
# pam_permit as in a common stack (a human passes through).
service() {
    local name=$1 dir=$2 conf="$PAM_WORK/$1.conf"
    pam_write_config "$conf" "[service $name]
require_role = Host.Sudo

[service $name-gate]
require_role = Host.Login"
    sed -i "s|^jwks_dir = .*|jwks_dir = $dir|; s|^tally_dir = .*|tally_dir = $PAM_WORK/tally|; s|^trust_dir = .*|trust_dir = $PAM_WORK/trust-$name|" "$conf"
    trust_conf "$conf"
    printf 'auth required %s config=%s nodelay\naccount required %s config=%s\n' \
        "$mod" "$conf" "$mod" "$conf" >"$PAM_WORK/svc/$name"
    printf 'auth [success=done ignore=ignore default=die] %s config=%s nodelay\nauth required pam_permit.so\n' \
        "$mod" "$conf" >"$PAM_WORK/svc/$name-gate"
}
printf 'auth required pam_deny.so\n' >"$PAM_WORK/svc/other"

# pt SERVICE USER TOKENFILE [PAM OPS]: sets rc, output in $PAM_WORK/pt.out
pt() {
    local svc=$1 user=$2 tok=$3
    shift 3
    LD_PRELOAD="$wrapper" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAM_WORK/svc" timeout 60 \
        pamtester -v "$svc" "$user" "${@:-authenticate}" <"$tok" >"$PAM_WORK/pt.out" 2>&1
    rc=$?
    cat "$PAM_WORK/pt.out" >>"$PAM_WORK/all.out"
}

# --- (a) the old layout: the daemon account's directory ------------------------
D="$PAM_WORK/daemon"
install -d -o "$XUID" -g "$XUID" -m 0755 "$D" "$D/jwks"
as_x cp "$PAM_WORK/tenant-keys.json" "$D/jwks/keys.json"
service oldlayout "$D/jwks"
# as the daemon's uid: its own key in keys.json, a token of agent-alpha signed by it
as_x sh -c 'cat >"$1/jwks/keys.json"' _ "$D" < <(
    forge "$PAM_WORK/tenant-keys.json" "$PAM_WORK/forged-keys.json" "$tk/alpha" "$tk/forged" >/dev/null &&
        cat "$PAM_WORK/forged-keys.json"
)
grep -q forged-by-the-daemon "$D/jwks/keys.json" && [ -s "$tk/forged" ] ||
    tap_setup_fail "the forged key set or token was not made"
[ "$(stat -c %u "$D/jwks/keys.json")" = "$XUID" ] || tap_setup_fail "keys.json is not the daemon uid's"
fresh_audit
pt oldlayout agent-alpha "$tk/forged" authenticate acct_mgmt
if [ "$rc" -ne 0 ] && ! grep -q "successfully authenticated" "$PAM_WORK/pt.out" &&
    audit_has "event=auth .*user=agent-alpha .*result=error reason=jwks"; then
    tap_ok "(a) a key the daemon's uid put in its keys.json, a forged Host.Sudo token: the sudo stack refuses (reason=jwks)"
else
    tap_fail "(a) a key the daemon's uid put in its keys.json, a forged Host.Sudo token: the sudo stack refuses (reason=jwks)" \
        "rc=$rc $(cat "$PAM_WORK/pt.out") $(cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
audit_has "reason=jwks .*not root's, or writable by group or others|jwks_dir must be a directory of root's" &&
    tap_ok "(a) the refusal says what to fix (jwks_dir and keys.json must be root's)" ||
    tap_fail "(a) the refusal says what to fix" "$(cat "$OPENCLAW_TEST_AUDIT_FILE")"

# --- (b) root's layout, filled by openclaw-sync ---------------------------------
R="$PAM_WORK/trust"
install -d -m 0755 "$R"
service rootlayout "$R/jwks"
if trust_sync "$PAM_WORK/rootlayout.conf" && [ "$(stat -c '%U %a' "$R/jwks" "$R/jwks/keys.json" | tr '\n' ' ')" = "root 755 root 644 " ] &&
    [ "$(stat -c '%U %a' "$R/jwks/openid-configuration.json")" = "root 644" ]; then
    tap_ok "(d) openclaw-sync as root: jwks_dir created 0755, keys.json and openid-configuration.json root 0644"
else
    tap_fail "(d) openclaw-sync as root writes root's files" "$(tail -5 "$PAM_WORK/sync.log"; ls -la "$R" "$R/jwks" 2>&1)"
fi
"$OC_PY" -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(0 if sorted(k["kid"] for k in a["keys"]) == sorted(k["kid"] for k in b["keys"]) else 1)' \
    "$R/jwks/keys.json" "$PAM_WORK/tenant-keys.json" &&
    tap_ok "(d) keys.json holds exactly the tenant's keys" ||
    tap_fail "(d) keys.json holds exactly the tenant's keys" "$(cat "$R/jwks/keys.json")"
cp -p "$R/jwks/keys.json" "$PAM_WORK/keys.before"

tries=0 held=0 tried=""
attempt() { # DESCRIPTION CMD...: the daemon's uid tries; it must fail
    tries=$((tries + 1))
    if as_x "$@" >/dev/null 2>&1; then
        tried="$tried; $1 SUCCEEDED"
    else
        held=$((held + 1))
    fi
}
attempt "write keys.json" sh -c 'cat "$1" >"$2"' _ "$PAM_WORK/forged-keys.json" "$R/jwks/keys.json"
attempt "create a file in jwks_dir" sh -c ': >"$1/keys.json.new"' _ "$R/jwks"
attempt "rename jwks_dir" mv "$R/jwks" "$R/jwks.old"
attempt "replace jwks_dir by a symlink" ln -sfn "$D/jwks" "$R/jwks"
attempt "symlink in jwks_dir" ln -s "$D/jwks/keys.json" "$R/jwks/keys2.json"
attempt "hard link in jwks_dir" ln "$D/jwks/keys.json" "$R/jwks/keys3.json"
attempt "truncate keys.json" truncate -s 0 "$R/jwks/keys.json"
attempt "chmod keys.json" chmod 0666 "$R/jwks/keys.json"
attempt "request a refresh file" sh -c ': >"$1/refresh-requested"' _ "$R/jwks"
if [ "$held" -eq "$tries" ] && cmp -s "$R/jwks/keys.json" "$PAM_WORK/keys.before"; then
    tap_ok "(b) the daemon's uid: $held of $tries writes against root's jwks_dir refused, keys.json unchanged"
else
    tap_fail "(b) the daemon's uid cannot change root's jwks_dir" "$held of $tries refused$tried"
fi
fresh_audit
pt rootlayout agent-alpha "$tk/forged" authenticate acct_mgmt
if [ "$rc" -ne 0 ] && audit_has "event=auth .*user=agent-alpha .*result=failure reason=kid"; then
    tap_ok "(b) the forged Host.Sudo token against root's keys: refused (reason=kid)"
else
    tap_fail "(b) the forged Host.Sudo token against root's keys: refused" "rc=$rc $(cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
fresh_audit
pt rootlayout-gate agent-alpha "$tk/alpha"
if [ "$rc" -eq 0 ] && audit_has "event=auth .*user=agent-alpha .*result=success"; then
    tap_ok "(b) the tenant's own token of agent-alpha against root's keys: accepted"
else
    tap_fail "(b) the tenant's own token against root's keys: accepted" "rc=$rc $(cat "$PAM_WORK/pt.out") $(cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi

# --- (c) refused layouts: agents fail closed, humans pass ----------------------
C="$PAM_WORK/bad"
install -d -m 0755 "$C"
bad_case() { # DESCRIPTION SETUP...: jwks_dir = $C/jwks after SETUP, fresh each time
    local what=$1
    shift
    rm -rf "$C/jwks" "$C/real"
    install -d -m 0755 "$C/jwks"
    cp "$R/jwks/keys.json" "$C/jwks/keys.json"
    chmod 0644 "$C/jwks/keys.json"
    "$@"
    fresh_audit
    pt badlayout agent-alpha "$tk/alpha"
    local agent_rc=$rc agent_audit
    agent_audit=$(cat "$OPENCLAW_TEST_AUDIT_FILE")
    pt badlayout-gate root "$tk/alpha"
    if [ "$agent_rc" -ne 0 ] && printf '%s' "$agent_audit" | grep -Eq "user=agent-alpha .*result=error reason=jwks" &&
        [ "$rc" -eq 0 ]; then
        tap_ok "(c) $what: the agent refused (reason=jwks), a human through the same stack passes"
    else
        tap_fail "(c) $what: the agent refused (reason=jwks), a human passes" "agent rc=$agent_rc human rc=$rc $agent_audit"
    fi
}
service badlayout "$C/jwks"
bad_case "keys.json owned by another uid" chown "$XUID" "$C/jwks/keys.json"
bad_case "keys.json writable by others" chmod 0666 "$C/jwks/keys.json"
bad_case "keys.json a symlink to root's good file" sh -c 'rm "$1/keys.json" && ln -s "$2" "$1/keys.json"' _ "$C/jwks" "$R/jwks/keys.json"
bad_case "jwks_dir writable by its group" chmod 0775 "$C/jwks"
bad_case "jwks_dir owned by another uid" chown "$XUID" "$C/jwks"
bad_case "jwks_dir a symlink to root's good directory" sh -c 'rm -rf "$1" && ln -s "$2" "$1"' _ "$C/jwks" "$R/jwks"
bad_case "a directory above jwks_dir owned by another uid" sh -c 'mkdir -p "$1/real" && chown "$2" "$1/real" && mv "$1/jwks" "$1/real/jwks" && ln -s real/jwks "$1/jwks"' _ "$C" "$XUID"

# --- (d) openclaw-sync refuses what is not root's --------------------------------
out=$(as_x "$sync" --config "$PAM_WORK/rootlayout.conf" 2>&1)
rc=$?
[ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q "runs as root only" &&
    tap_ok "(d) openclaw-sync as another uid: exit 2, 'runs as root only'" ||
    tap_fail "(d) openclaw-sync as another uid: exit 2" "rc=$rc $out"
out=$("$sync" --config "$PAM_WORK/oldlayout.conf" 2>&1)
rc=$?
if [ "$rc" -eq 2 ] && printf '%s' "$out" | grep -q "must be a directory of root's" && grep -q forged-by-the-daemon "$D/jwks/keys.json"; then
    tap_ok "(d) openclaw-sync into the daemon account's directory: exit 2, nothing written, the fix named"
else
    tap_fail "(d) openclaw-sync into the daemon account's directory: exit 2" "rc=$rc $out"
fi

# --- (e) a rotated key: the module's request, openclaw-sync's fetch ------------
tenant_ctl POST rotate-keys '{}' >/dev/null
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$tk/rotated"
# the last fetch, (b)'s, as if it were a minute old: past the 30 s limit
touch -d "@$(($(date +%s) - 60))" "$R/jwks/keys.json"
trust_watch_start "$PAM_WORK/rootlayout.conf"
fresh_audit
pt rootlayout-gate agent-alpha "$tk/rotated"
if [ "$rc" -eq 0 ] && audit_has "user=agent-alpha .*result=success" && [ ! -e "$R/jwks/refresh-requested" ]; then
    tap_ok "(e) a token of a rotated key: the module's request makes openclaw-sync fetch, the token verifies"
else
    tap_fail "(e) a token of a rotated key verifies after the requested refresh" \
        "rc=$rc $(cat "$OPENCLAW_TEST_AUDIT_FILE"; tail -5 "$PAM_WORK/sync.log")"
fi
fresh_audit
pt rootlayout agent-alpha "$tk/forged" authenticate
if [ "$rc" -ne 0 ] && audit_has "reason=kid .*keys.json was fetched [0-9]+s ago; openclaw-sync fetches again on request after 30s" &&
    [ ! -e "$R/jwks/refresh-requested" ]; then
    tap_ok "(e) a second unknown kid within 30 s: refused at once (reason=kid), no request made"
else
    tap_fail "(e) a second unknown kid within 30 s: answered without a fetch" "rc=$rc $(cat "$OPENCLAW_TEST_AUDIT_FILE"; tail -3 "$PAM_WORK/sync.log")"
fi
# openclaw-sync takes the request before it fetches: a slow fetch (the
# tenant's keys answer after 700 ms) must still be waited for, not read as
# "taken, no new keys" (the module once gave up 200 ms after the take)
tenant_ctl POST rotate-keys '{}' >/dev/null
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$tk/rotated-slow"
touch -d "@$(($(date +%s) - 60))" "$R/jwks/keys.json"
tenant_ctl POST faults '{"path": "/discovery/v2.0/keys", "kind": "latency", "ms": 700}' >/dev/null
fresh_audit
pt rootlayout-gate agent-alpha "$tk/rotated-slow"
if [ "$rc" -eq 0 ] && audit_has "user=agent-alpha .*result=success"; then
    tap_ok "(e) a rotated key whose fetch takes 700 ms: the module waits for it after openclaw-sync took the request, the token verifies"
else
    tap_fail "(e) a slow fetch after the request was taken: the token verifies" \
        "rc=$rc $(cat "$OPENCLAW_TEST_AUDIT_FILE"; tail -5 "$PAM_WORK/sync.log")"
fi
trust_watch_stop
tap_done
