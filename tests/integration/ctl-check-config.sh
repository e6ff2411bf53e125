#!/bin/bash
# openclawctl check-config: a clean setup passes (exit 0); a broken one has
# every problem reported with file:line and the fix (exit 1); a parse error
# is reported with its line (exit 1); an unreadable file exits 2.
set -u
. "$top_srcdir/tests/lib/tap.sh"
ctl="$top_builddir/helper/openclawctl"
[ -x "$ctl" ] || tap_skip_all "openclawctl not built"
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (configuration and files owned by root)"

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-checkconf.XXXXXX")
trap 'rm -rf "$work"' EXIT
st="$work/state"
install -d -m 0755 "$st" "$st/jwks" "$work/run"
install -d -m 0700 "$st/keys" "$work/run/tally"
mkdir -p "$work/pam.d"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/x.key" -out "$st/keys/a.crt" \
    -subj /CN=a -days 30 2>/dev/null
printf 'not really a key blob\n' >"$st/keys/a.tpmkey"
chmod 0600 "$st/keys/a.tpmkey"
chmod 0644 "$st/keys/a.crt"
conf="$work/openclaw.conf"
write_good() {
    cat >"$conf" <<CONF
[global]
tenant_id = 5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c
audiences = api://openclaw-host
state_dir = $st
runtime_dir = $work/run
uid_min = 1000
uid_max = 60000

[roles]
Host.Sudo = root

[agent agent-a]
app_id = a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f
object_id = a3d5f7b9-1c4e-4a8b-8d2f-3c5e7a9b1d4f
credential = tpm-certificate
key_file = $st/keys/a.tpmkey
cert_file = $st/keys/a.crt
CONF
    chmod 0644 "$conf"
}
run() { "$ctl" check-config --config "$conf" --pam-dir "$work/pam.d" --daemon-user root "$@"; }
# the same inside a private mount namespace where a local user "oclocal" has uid 1500
cp /etc/passwd "$work/passwd" && cp /etc/group "$work/group"
echo 'oclocal:x:1500:1500::/nonexistent:/usr/sbin/nologin' >>"$work/passwd"
echo 'oclocal:x:1500:' >>"$work/group"
run_ns() {
    unshare --mount sh -c 'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group &&
        shift 2 && exec "$@"' sh "$work/passwd" "$work/group" \
        "$ctl" check-config --config "$conf" --pam-dir "$work/pam.d" --daemon-user root
}

write_good
printf 'auth required pam_openclaw.so debug require_role=Host.Login\n' >"$work/pam.d/sshd"
out=$(run 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && printf '%s' "$out" | grep -q ': OK$'; then
    tap_ok "a clean configuration passes with exit 0"
else
    tap_fail "a clean configuration passes with exit 0" "exit $rc: $out"
fi

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
uid = 1500
groups = no-such-group-oc
CONF
sed -i 's/^Host.Sudo = root$/Host.Sudo = root\nHost.Login = no-such-role-group-oc/' "$conf"
printf '# comment pam_openclaw.so frob\nauth required pam_openclaw.so debug frobnicate\naccount [success=ok default=bad] /lib/security/pam_openclaw.so use_first_pass try_first_pass\n' \
    >"$work/pam.d/sudo"
out=$(run_ns 2>&1)
rc=$?
b_line=$(grep -n '^\[agent agent-b\]' "$conf" | cut -d: -f1)
a_line=$(grep -n '^\[agent agent-a\]' "$conf" | cut -d: -f1)
[ "$rc" -eq 1 ] && tap_ok "problems found: exit 1" || tap_fail "problems found: exit 1" "exit $rc"
expect() { # DESC PATTERN
    if printf '%s\n' "$out" | grep -q -- "$2"; then tap_ok "$1"; else tap_fail "$1" "$out"; fi
}
expect "config writable by group, with the chmod" "^$conf: writable by group or others (mode 0664): chmod 0644"
expect "key file readable by others, with file:line and the chmod" \
    "^$conf:$a_line: key_file $st/keys/a.tpmkey is readable or writable by others (mode 0644): chmod 0600"
expect "missing sealed file, with the agent's line" "^$conf:$b_line: sealed_file $st/keys/b.sealed: No such file"
expect "keys_dir wider than 0700" "keys_dir $st/keys has mode 0755 (wider than 0700): chmod 0700"
expect "unknown [roles] group" "group 'no-such-role-group-oc' does not exist: groupadd"
expect "unknown agent group" "^$conf:$b_line: \[agent agent-b\] groups: group 'no-such-group-oc' does not exist"
expect "uid collision with a local user" "^$conf:$b_line: \[agent agent-b\] gets uid 1500, which local user 'oclocal'"
expect "unknown pam_openclaw argument with the PAM file:line" \
    "^$work/pam.d/sudo:2: pam_openclaw.so: unknown argument 'frobnicate'"
expect "conflicting PAM arguments in a bracketed-control line" \
    "^$work/pam.d/sudo:3: pam_openclaw.so: use_first_pass and try_first_pass exclude"
if printf '%s\n' "$out" | grep -q 'sudo:1:'; then
    tap_fail "a commented-out line is not judged" "$out"
else
    tap_ok "a commented-out line is not judged"
fi
n=$(printf '%s\n' "$out" | grep -c "^$conf\|^$work/pam.d")
expect "the count matches the lines printed" "^check-config: $n problems$"

# a parse error: file:line, exit 1
write_good
printf '\n[agent bad]\napp_id = not-a-guid\n' >>"$conf"
out=$(run 2>&1)
rc=$?
line=$(grep -n '^app_id = not-a-guid' "$conf" | cut -d: -f1)
if [ "$rc" -eq 1 ] && printf '%s' "$out" | grep -q "^$conf:$line:"; then
    tap_ok "a parse error is reported with file:line, exit 1"
else
    tap_fail "a parse error is reported with file:line, exit 1" "exit $rc: $out"
fi
out=$("$ctl" check-config --config "$work/missing.conf" 2>&1)
rc=$?
[ "$rc" -eq 2 ] && tap_ok "a missing file exits 2" || tap_fail "a missing file exits 2" "exit $rc: $out"
tap_done
