#!/bin/bash
# openclawctl check-config: a clean setup passes (exit 0); a broken one has
# every problem reported with file:line and the fix, all in one run (exit 1;
# warnings only: exit 3); parse errors are all reported with their lines;
# an unreadable file exits 2; --json says the same; mode=helper on su, or
# on sudo with targetpw/runaspw, is warned about. Host files (login.defs,
# passwd, group, the PAM directory, sudoers) are fixtures given by option:
# the host's own are never read.
set -u
. "$top_srcdir/tests/lib/tap.sh"
ctl="$top_builddir/helper/ctl/openclawctl"
[ -x "$ctl" ] || tap_skip_all "openclawctl not built"
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (configuration and files owned by root)"

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-checkconf.XXXXXX")
trap 'rm -rf "$work"' EXIT
st="$work/state"
install -d -m 0755 "$st" "$st/jwks" "$work/run"
install -d -m 0700 "$st/keys" "$work/run/tally"
# root's keys, as openclaw-sync writes them
install -d -m 0755 "$work/trust" "$work/trust/jwks"
install -m 0644 "$top_srcdir/tests/unit/fixtures/jwks-tenant.json" "$work/trust/jwks/keys.json"
mkdir -p "$work/pam.d"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/x.key" -out "$st/keys/a.crt" \
    -subj /CN=a -days 30 2>/dev/null
printf 'not really a key blob\n' >"$st/keys/a.tpmkey"
chmod 0600 "$st/keys/a.tpmkey"
chmod 0644 "$st/keys/a.crt"

# fixtures: login.defs as Debian ships it, local users and groups
cat >"$work/login.defs" <<'DEFS'
# comment
UID_MIN			 1000
UID_MAX			60000
SYS_UID_MIN		  100
SYS_UID_MAX		  999
DEFS
cat >"$work/passwd" <<'PW'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/bash
ocuser:x:1001:1001::/home/ocuser:/bin/bash
PW
cat >"$work/group" <<'GR'
root:x:0:
sudo:x:27:alice
alice:x:1000:
ocuser:x:1001:
ocgroup:x:1002:
GR
conf="$work/openclaw.conf"
write_good() {
    cat >"$conf" <<CONF
[global]
tenant_id = 5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c
audiences = api://openclaw-host
state_dir = $st
trust_dir = $work/trust
jwks_dir = $work/trust/jwks
runtime_dir = $work/run
tally_dir = $work/run/tally
uid_min = 200000
uid_max = 299999

[service sshd]
require_role = Host.Login

[service sudo]
require_role = Host.Sudo

[roles]
Host.Sudo = sudo

[agent agent-a]
app_id = a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f
object_id = a3d5f7b9-1c4e-4a8b-8d2f-3c5e7a9b1d4f
credential = tpm-certificate
key_file = $st/keys/a.tpmkey
cert_file = $st/keys/a.crt
CONF
    chmod 0644 "$conf"
}
write_pam() {
    rm -f "$work/pam.d/"*
    printf 'auth required pam_openclaw.so debug require_role=Host.Login\n' >"$work/pam.d/sshd"
    # pam_openclaw(8)'s "sudo by live role" stack
    printf 'auth [success=done default=ignore] pam_openclaw.so mode=helper helper_max_age=60 helper_timeout=5 require_role=Host.Sudo\n@include common-auth\n' \
        >"$work/pam.d/sudo"
    printf 'auth required pam_unix.so\n' >"$work/pam.d/common-auth"
    printf 'auth required pam_deny.so\n' >"$work/pam.d/other"
}
# sudoers as Debian ships it (what sudo by live role needs: no targetpw)
write_sudoers() {
    rm -rf "$work/sudoers.d"
    mkdir -p "$work/sudoers.d"
    printf 'Defaults\tenv_reset\nDefaults\tmail_badpass\n# Defaults targetpw\nroot ALL=(ALL:ALL) ALL\n@includedir %s\n' \
        "$work/sudoers.d" >"$work/sudoers"
    printf '# sudo reads this directory\n' >"$work/sudoers.d/README"
}
write_sudoers
LD="$work/login.defs"
run() {
    "$ctl" check-config --config "$conf" --pam-dir "$work/pam.d" --daemon-user root \
        --login-defs "$LD" --passwd "$work/passwd" --group "$work/group" \
        --sudoers "$work/sudoers" "$@"
}
expect() { # DESC PATTERN
    if printf '%s\n' "$out" | grep -q -- "$2"; then tap_ok "$1"; else tap_fail "$1" "$out"; fi
}
expect_not() { # DESC PATTERN
    if printf '%s\n' "$out" | grep -q -- "$2"; then tap_fail "$1" "$out"; else tap_ok "$1"; fi
}
expect_rc() { # DESC RC
    [ "$rc" -eq "$2" ] && tap_ok "$1" || tap_fail "$1" "exit $rc: $out"
}

write_good
write_pam
out=$(run 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && printf '%s' "$out" | grep -q ': OK$'; then
    tap_ok "a clean configuration passes with exit 0 (helper_max_age/helper_timeout accepted)"
else
    tap_fail "a clean configuration passes with exit 0 (helper_max_age/helper_timeout accepted)" \
        "exit $rc: $out"
fi

# the tally directory below a directory another account owns or may write,
# or through a symlink: pam_openclaw refuses agents, check-config names it
write_good
write_pam
chown nobody "$work/run"
out=$(run 2>&1)
rc=$?
expect_rc "tally_dir below a directory of another account: exit 1" 1
expect "tally_dir below a directory of another account: that directory named" \
    "error: tally_dir $work/run/tally: $work/run above it is owned by uid $(id -u nobody), not root"
chown root "$work/run"
chmod 0777 "$work/run"
out=$(run 2>&1)
expect "tally_dir below a directory writable by others: the chmod" \
    "error: tally_dir $work/run/tally: $work/run above it has mode 0777 .*chmod go-w $work/run"
chmod 0755 "$work/run"
mv "$work/run/tally" "$work/run/tally.real"
ln -s tally.real "$work/run/tally"
out=$(run 2>&1)
expect "tally_dir a symlink: named" "error: tally_dir $work/run/tally: $work/run/tally is a symlink"
rm "$work/run/tally"
mv "$work/run/tally.real" "$work/run/tally"
out=$(run 2>&1)
rc=$?
expect_rc "tally_dir back in root's directories: clean again" 0

# the keys pam_openclaw trusts: root's directory and file only
chown nobody "$work/trust/jwks"
out=$(run 2>&1)
rc=$?
expect_rc "jwks_dir owned by another account: exit 1" 1
expect "jwks_dir owned by another account: named with the chown" \
    "error: jwks_dir $work/trust/jwks is owned by uid $(id -u nobody), not root: chown root"
chown root "$work/trust/jwks"
chown nobody "$work/trust"
out=$(run 2>&1)
expect "jwks_dir below a directory of another account: that directory named" \
    "error: jwks_dir $work/trust/jwks: $work/trust above it is owned by uid $(id -u nobody), not root"
chown root "$work/trust"
chown nobody "$work/trust/jwks/keys.json"
out=$(run 2>&1)
expect "keys.json not root's: openclaw-sync named as its writer" \
    "error: $work/trust/jwks/keys.json is not a regular file of root's .*run openclaw-sync"
chown root "$work/trust/jwks/keys.json"
mv "$work/trust/jwks/keys.json" "$work/keys.json.saved"
out=$(run 2>&1)
rc=$?
expect "no keys.json yet: a warning that says how openclaw-sync fetches them" \
    "warning: $work/trust/jwks/keys.json does not exist yet: .*openclaw-sync.timer"
mv "$work/keys.json.saved" "$work/trust/jwks/keys.json"
out=$(run 2>&1)
rc=$?
expect_rc "jwks_dir and keys.json root's again: clean again" 0

# break many things at once
chmod 0644 "$st/keys/a.tpmkey"
chmod 0755 "$st/keys"
write_good
chmod 0664 "$conf"
cat >>"$conf" <<CONF

[agent agent-b]
app_id = b1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f2a
object_id = b3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e4a
credential = tpm-sealed-secret
sealed_file = $st/keys/b.sealed
uid = 200500
groups = no-such-group-oc

[agent ocuser]
app_id = c1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f2a
object_id = c3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e4a
credential = managed-identity

[agent ocgroup]
app_id = d1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f2a
object_id = d3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e4a
credential = managed-identity

[service ssh]
require_role = Host.Login
CONF
sed -i 's/^Host.Sudo = sudo$/Host.Sudo = sudo\nHost.Login = no-such-role-group-oc/' "$conf"
sed -i '/^\[service sshd\]$/,/^$/d' "$conf"
printf 'ochuman:x:200500:200500::/home/ochuman:/bin/sh\n' >>"$work/passwd"
printf '# comment pam_openclaw.so frob\nauth required pam_openclaw.so debug frobnicate helper_max_age=abc\naccount [success=ok default=bad] /lib/security/pam_openclaw.so use_first_pass try_first_pass\n' \
    >"$work/pam.d/sudo"
printf '@include common-auth\n' >"$work/pam.d/login"
printf 'auth [success=1 default=ignore] pam_openclaw.so\nauth required pam_unix.so\n' \
    >"$work/pam.d/common-auth"
out=$(run 2>&1)
rc=$?
b_line=$(grep -n '^\[agent agent-b\]' "$conf" | cut -d: -f1)
a_line=$(grep -n '^\[agent agent-a\]' "$conf" | cut -d: -f1)
u_line=$(grep -n '^\[agent ocuser\]' "$conf" | cut -d: -f1)
g_line=$(grep -n '^\[agent ocgroup\]' "$conf" | cut -d: -f1)
ssh_line=$(grep -n '^\[service ssh\]' "$conf" | cut -d: -f1)
h_line=$(grep -n '^ochuman:' "$work/passwd" | cut -d: -f1)
expect_rc "problems found: exit 1" 1
expect "config writable by group, with the chmod" \
    "^$conf: error: writable by group or others (mode 0664): chmod 0644"
expect "key file readable by others, with file:line and the chmod" \
    "^$conf:$a_line: error: key_file $st/keys/a.tpmkey is readable or writable by others (mode 0644): chmod 0600"
expect "missing sealed file, with the agent's line" \
    "^$conf:$b_line: error: sealed_file $st/keys/b.sealed: No such file"
expect "keys_dir wider than 0700" "keys_dir $st/keys has mode 0755 (wider than 0700): chmod 0700"
expect "unknown [roles] group" "group 'no-such-role-group-oc' does not exist: groupadd"
expect "unknown agent group" \
    "^$conf:$b_line: error: \[agent agent-b\] groups: group 'no-such-group-oc' does not exist"
expect "uid collision with a local user, with the passwd line" \
    "^$conf:$b_line: error: \[agent agent-b\] gets uid 200500, which local user 'ochuman' already has ($work/passwd:$h_line)"
expect "a local user inside the agent uid range: passwd file:line and the fix" \
    "^$work/passwd:$h_line: error: local user 'ochuman' has uid 200500, inside the agent uid range 200000..299999 .*move the range"
expect "an agent named like a local user" \
    "^$conf:$u_line: error: \[agent ocuser\]: $work/passwd:4 has a local user of that name (uid 1001).*rename"
expect "an agent named like a local group" \
    "^$conf:$g_line: error: \[agent ocgroup\]: $work/group:5 has a local group of that name (gid 1002).*rename"
expect "unknown pam_openclaw argument with the PAM file:line and the known ones" \
    "^$work/pam.d/sudo:2: error: pam_openclaw.so: argument 'frobnicate': unknown argument (known: .*helper_timeout=SECONDS)"
expect "a malformed value with the module's own bounds" \
    "^$work/pam.d/sudo:2: error: pam_openclaw.so: argument 'helper_max_age=abc': give seconds from 0 to 86400"
expect "conflicting PAM arguments in a bracketed-control line" \
    "^$work/pam.d/sudo:3: error: pam_openclaw.so: use_first_pass and try_first_pass exclude"
expect "a PAM service using pam_openclaw without a [service] section (warning)" \
    "^$work/pam.d/sshd:1: warning: service 'sshd' uses pam_openclaw, but $conf has no \[service sshd\] and no \[service default\].*add a \[service sshd\]"
expect "a service reaching pam_openclaw through @include (warning, the include line)" \
    "^$work/pam.d/login:1: warning: service 'login' uses pam_openclaw through an include"
expect "a [service] section no PAM file uses (warning, a typo?)" \
    "^$conf:$ssh_line: warning: \[service ssh\]: no PAM file of that name .*a typo?.*: login, sshd\|^$conf:$ssh_line: warning: \[service ssh\]: no PAM file of that name .*a typo?.*sshd"
expect_not "a commented-out line is not judged" 'sudo:1:'
expect_not "common-* files are stacks, not services" "service 'common-auth'"
case "$(printf '%s\n' "$out" | head -n 1)" in
"$work/pam.d/common-auth:1: error: the openclaw PAM profile is enabled"*) tap_ok "the profile on (common-auth) and the config refused (mode): said first" ;;
*) tap_fail "the profile on (common-auth) and the config refused (mode): said first" "$out" ;;
esac
nerr=$(printf '%s\n' "$out" | grep -c ": error: ")
nwarn=$(printf '%s\n' "$out" | grep -c ": warning: ")
expect "the count matches the lines printed" "^check-config: $nerr errors, $nwarn warnings$"
chmod 0600 "$st/keys/a.tpmkey"
chmod 0700 "$st/keys"
sed -i '/^ochuman:/d' "$work/passwd"

# the agent uid range over login.defs' UID_MIN..UID_MAX (the issue's 1000..60000)
write_good
write_pam
sed -i 's/^uid_min = 200000$/uid_min = 1000/; s/^uid_max = 299999$/uid_max = 60000/' "$conf"
out=$(run 2>&1)
rc=$?
line=$(grep -n '^uid_min' "$conf" | cut -d: -f1)
expect_rc "uid range over the human uids: exit 1" 1
expect "the overlap with UID_MIN..UID_MAX: config line, login.defs line and the fix" \
    "^$conf:$line: error: the agent uid range uid_min..uid_max = 1000..60000 overlaps UID_MIN..UID_MAX = 1000..60000 of $LD:3 .*leave uid_min/uid_max unset"
expect "every local user inside the range is named" "^$work/passwd:3: error: local user 'alice' has uid 1000"
# ... and over SYS_UID_MIN..SYS_UID_MAX
write_good
printf 'SYS_UID_MIN 100\nSYS_UID_MAX 250000\n' >"$work/login.defs.sys"
LD="$work/login.defs.sys"
out=$(run 2>&1)
rc=$?
LD="$work/login.defs"
expect_rc "uid range over the system uids: exit 1" 1
expect "the overlap with SYS_UID_MIN..SYS_UID_MAX" \
    "error: the agent uid range uid_min..uid_max = 200000..299999 overlaps SYS_UID_MIN..SYS_UID_MAX = 100..250000 of $work/login.defs.sys:2"

# [directory]: synced agents named like a local user or group
write_good
write_pam
printf 'x\n' >"$work/admin.secret"
chmod 0600 "$work/admin.secret"
cat >>"$conf" <<CONF

[directory]
graph_url = https://graph.example
credential = secret-file
app_id = 9a1f3c5e-7b2d-4f6a-8c0e-1a3b5c7d9e2f
secret_file = $work/admin.secret
CONF
sed -i 's/^audiences = api:\/\/openclaw-host$/audiences = api:\/\/openclaw-host\nallow_insecure_credentials = yes/' "$conf"
dagent() { # NAME UID N
    printf '{"name":"%s","app_id":"b1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e%02d","object_id":"b3d5f7b9-1c4e-4a8b-8d2f-3c5e7a9b1d%02d","uid":%s,"enabled":true,"display_name":"%s","source":"graph","roles":[],"keys":[]}' \
        "$1" "$3" "$3" "$2" "$1"
}
printf '{"version":1,"tenant_id":"5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c","synced_at":1,"source":"https://graph.example","agents":[%s,%s,%s]}\n' \
    "$(dagent ocuser 200001 1)" "$(dagent ocgroup 200002 2)" "$(dagent fine-bot 200003 3)" \
    >"$work/trust/directory.json"
out=$(run 2>&1)
rc=$?
expect_rc "synced agents named like local ones: exit 1" 1
expect "a synced agent named like a local user, with the fix" \
    "^$work/trust/directory.json: error: agent ocuser (app .*) has the name of a local user ($work/passwd:4, uid 1001).*names.json"
expect "a synced agent named like a local group, with the fix" \
    "^$work/trust/directory.json: error: agent ocgroup (app .*) has the name of a local group ($work/group:5, gid 1002)"
expect_not "a synced agent with its own name: nothing" "agent fine-bot"
rm -f "$work/trust/directory.json"

# warnings only: exit 3; [service default] covers every PAM service
write_good
write_pam
printf '\n[service ssh]\nrequire_role = Host.Login\n' >>"$conf"
out=$(run 2>&1)
rc=$?
expect_rc "warnings only: exit 3" 3
expect "warnings only: the count" "^check-config: 0 errors, 1 warning$"
write_good
sed -i '/^\[service sshd\]$/,/^$/d' "$conf"
printf '\n[service default]\nrequire_role = Host.Login\n' >>"$conf"
printf 'auth required pam_openclaw.so\n' >"$work/pam.d/cron"
out=$(run 2>&1)
rc=$?
expect_rc "[service default] covers PAM services without their own section" 0
rm -f "$work/pam.d/"*
out=$(run 2>&1)
rc=$?
expect_rc "no PAM service uses pam_openclaw yet: its sections are no typos (exit 0)" 0

# mode=helper where it hands the agent to whoever asks: su; sudo with targetpw/runaspw
write_good
write_pam
printf '\n[service su]\nrequire_role = Host.Sudo\n' >>"$conf"
printf 'auth sufficient pam_openclaw.so mode=helper require_role=Host.Sudo\n@include common-auth\n' \
    >"$work/pam.d/su"
out=$(run 2>&1)
rc=$?
expect_rc "su with mode=helper: warnings only (exit 3)" 3
expect "su with mode=helper: warned at its line, with the fix" \
    "^$work/pam.d/su:1: warning: service 'su' reaches pam_openclaw with mode=helper: mode=helper authenticates without a credential, only for the agent itself.*use mode=helper only for sudo without targetpw/runaspw"
expect_not "sudo with mode=helper and a sudoers without targetpw: nothing" "pam.d/sudo:.*mode=helper"
printf 'auth sufficient pam_openclaw.so mode=helper mode=token\n@include common-auth\n' >"$work/pam.d/su"
out=$(run 2>&1)
rc=$?
expect_rc "su with mode=token (the last mode= wins): clean" 0
printf 'auth sufficient pam_openclaw.so mode=helper\n' >"$work/pam.d/common-auth"
printf 'auth required pam_env.so\nauth include common-auth\n' >"$work/pam.d/su-l"
out=$(run 2>&1)
rc=$?
expect "su-l reaching mode=helper through an include: warned at the include line" \
    "^$work/pam.d/su-l:2: warning: service 'su-l' reaches pam_openclaw with mode=helper through an include"
write_good
write_pam
printf 'Defaults:%%admin  env_keep += "HOME", runaspw\n' >>"$work/sudoers"
out=$(run 2>&1)
rc=$?
dl=$(grep -n '^Defaults:%admin' "$work/sudoers" | cut -d: -f1)
expect_rc "sudo mode=helper with runaspw: warnings only (exit 3)" 3
expect "sudo mode=helper with runaspw: the PAM line, the sudoers line and the fix" \
    "^$work/pam.d/sudo:1: warning: service 'sudo' reaches pam_openclaw with mode=helper while $work/sudoers:$dl sets runaspw: .*remove runaspw, or use mode=token"
write_sudoers
printf 'Defaults !targetpw\n' >"$work/sudoers.d/negated"
printf 'Defaults targetpw\n' >"$work/sudoers.d/old.conf"
printf 'Defaults targetpw\n' >"$work/sudoers.d/backup~"
out=$(run 2>&1)
rc=$?
expect_rc "!targetpw, and files sudo skips (a '.', a trailing '~'): clean" 0
printf 'Defaults\tenv_reset,\\\n\ttargetpw\n' >"$work/sudoers.d/local"
out=$(run 2>&1)
rc=$?
expect "targetpw in a file of sudoers.d, on a continued line: warned" \
    "^$work/pam.d/sudo:1: warning: service 'sudo' reaches pam_openclaw with mode=helper while $work/sudoers.d/local:1 sets targetpw"
write_sudoers

# --json: the same findings, machine-readable
write_good
write_pam
printf '\n[service ssh]\nrequire_role = Host.Login\n' >>"$conf"
chmod 0664 "$conf"
out=$(run --json 2>&1)
rc=$?
expect_rc "--json keeps the exit status" 1
if printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["result"] == "errors" and d["errors"] == 1 and d["warnings"] == 1, d
sev = sorted(f["severity"] for f in d["findings"])
assert sev == ["error", "warning"], sev
w = [f for f in d["findings"] if f["severity"] == "warning"][0]
assert w["file"] == sys.argv[1] and w["line"] > 0 and "[service ssh]" in w["message"], w
' "$conf"; then
    tap_ok "--json lists errors and warnings with file, line and message"
else
    tap_fail "--json lists errors and warnings with file, line and message" "$out"
fi

# parse errors: every one of them with file:line, in one run
write_good
write_pam
printf '\n[agent bad]\napp_id = not-a-guid\nobject_id = e3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e4a\ncredential = managed-identity\n' >>"$conf"
sed -i 's/^audiences = /audience = /' "$conf"
out=$(run 2>&1)
rc=$?
l1=$(grep -n '^audience = ' "$conf" | cut -d: -f1)
l2=$(grep -n '^app_id = not-a-guid' "$conf" | cut -d: -f1)
expect_rc "parse errors: exit 1" 1
expect "the first parse error, with file:line" "^$conf:$l1: error: "
expect "the next parse error too, with its file:line" "^$conf:$l2: error: "

# the profile enabled (pam_openclaw in common-*) while the config is invalid
write_pam
printf 'auth [success=1 default=ignore] pam_openclaw.so\nauth required pam_unix.so\n' \
    >"$work/pam.d/common-auth"
out=$(run 2>&1)
rc=$?
first=$(printf '%s\n' "$out" | head -n 1)
expect_rc "profile on, config invalid: exit 1" 1
case "$first" in
"$work/pam.d/common-auth:1: error: the openclaw PAM profile is enabled"*"pam-auth-update --disable openclaw"*)
    tap_ok "profile on, config invalid: said first, with the way out" ;;
*) tap_fail "profile on, config invalid: said first, with the way out" "$out" ;;
esac
write_good
chmod 0664 "$conf"
out=$(run 2>&1)
rc=$?
expect "profile on, config refused for its mode: said too" "common-auth:1: error: the openclaw PAM profile is enabled"

out=$("$ctl" check-config --config "$work/missing.conf" --pam-dir "$work/pam.d" 2>&1)
rc=$?
expect_rc "a missing file exits 2" 2
expect "a missing file with the profile on: said" "the openclaw PAM profile is enabled"
tap_done
