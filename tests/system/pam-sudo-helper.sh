#!/bin/bash
# pam-sudo-helper.sh: the real sudo with pam_openclaw in mode=helper (sudo
# by live role), as root in a private mount namespace (see pam-ns.sh for
# what is shadowed). openclawd runs on the host side (--allow-root) against
# the local tenant; the agent presents nothing: sudo's auth step asks the
# daemon for a fresh token of the invoking agent (helper_max_age=0) and
# requires Host.Sudo in it. The role is granted and removed in the tenant
# between the sudo runs; the configuration never changes.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/system/pam-ns.sh"
. "$top_srcdir/tests/lib/tenant.sh"

HOST_APP=6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d # openclaw-host, the resource

if [ "${1:-}" = --inner ]; then
    w=$NS_WORK
    ns_setup "$w" "$NS_MODULE" || {
        ns_result fail "namespace setup"
        exit 0
    }
    ns_add_agent agent-alpha "$ALPHA_UID"
    args="config=$w/openclaw.conf mode=helper helper_max_age=0"
    # the shipped example stack, in mode=helper
    sed "s|pam_openclaw.so|pam_openclaw.so $args|" "$top_srcdir/data/pam.d/sudo" >/etc/pam.d/sudo
    printf 'Defaults !lecture, !fqdn, passwd_tries=1, !syslog\nagent-alpha ALL=(ALL:ALL) ALL\n' >"$w/sudoers"
    chown root:root "$w/sudoers"
    chmod 0440 "$w/sudoers"
    mount --bind "$w/sudoers" /etc/sudoers || ns_result fail "bind-mount sudoers"
    printf 'Debug sudoers.so %s/sudoers.debug pam@debug,conv@debug,auth@debug\n' "$w" >"$w/sudo.conf"
    [ -f /etc/sudo.conf ] && mount --bind "$w/sudo.conf" /etc/sudo.conf

    # sudo run by agent-alpha; no answer is given (mode=helper asks nothing)
    sudo_alpha() {
        out=$(timeout 60 setpriv --reuid="$ALPHA_UID" --regid="$ALPHA_UID" --clear-groups \
            sudo -S -k -p '' id -u </dev/null 2>"$w/sudo.err")
        rc=$?
    }
    assign() { # POST PATH
        tenant_ctl POST "$1" "{\"principalAppId\":\"$ALPHA_APP\",\"resourceAppId\":\"$HOST_APP\",\"appRole\":\"Host.Sudo\"}" >/dev/null
    }
    sudo_alpha
    if [ "$rc" -ne 0 ] && [ "$out" != 0 ]; then
        ns_result ok "sudo by agent-alpha (mode=helper), Host.Login only: refused"
    else
        ns_result fail "sudo by agent-alpha (mode=helper), Host.Login only: refused" "rc=$rc out=$out $(cat "$w/sudo.err")"
    fi
    assign assignments
    sudo_alpha
    if [ "$rc" -eq 0 ] && [ "$out" = 0 ]; then
        ns_result ok "Host.Sudo granted in the tenant: sudo id -u = 0, no token presented, no config change"
    else
        ns_result fail "Host.Sudo granted in the tenant: sudo id -u = 0" "rc=$rc out=$out $(cat "$w/sudo.err") $(tail -n 20 "$w/sudoers.debug" 2>/dev/null)"
    fi
    assign assignments/remove
    sudo_alpha
    if [ "$rc" -ne 0 ] && [ "$out" != 0 ]; then
        ns_result ok "Host.Sudo removed in the tenant: sudo refused again at once"
    else
        ns_result fail "Host.Sudo removed in the tenant: sudo refused again" "rc=$rc out=$out"
    fi
    exit 0
fi

# ---------------- on the host ----------------
. "$top_srcdir/tests/integration/pam-lib.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"
mod=$(pam_module)
[ -f "$mod" ] || tap_skip_all "pam_openclaw.so not built"
[ -x "$OCD" ] || tap_skip_all "openclawd not built"
[ -n "$(pam_sanitizer_preload)" ] && tap_skip_all "sanitizer build: sudo cannot load an ASan-instrumented module"
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (private mount namespace)"
for t in unshare sudo setpriv curl; do
    command -v "$t" >/dev/null || tap_skip_all "$t missing (scripts/install-deps.sh)"
done
unshare --mount --propagation private true 2>/dev/null || tap_skip_all "unshare --mount not permitted here"
ns_pam_dir >/dev/null || tap_skip_all "cannot find the PAM module directory"

work=$(mktemp -d /tmp/oc-pam-sudoh.XXXXXX)
chmod 0755 "$work"
HELPER_PID_main=""
trap 'helper_stop "$HELPER_PID_main"; tenant_stop; rm -rf "$work"' EXIT
before=$(ns_host_fingerprint)
tenant_start "$work/tenant" || tap_setup_fail "the local tenant did not start"
ALPHA_UID=1879048193
mkdir -p "$work/state/jwks" "$work/run"
printf '%s\n' "$ALPHA_SECRET" >"$work/alpha.secret"
chmod 600 "$work/alpha.secret"
{
    conf_global "$work/state" "$work/run/openclawd.sock" "$ISSUER_V2_LINE" \
        "jwks_dir = $work/state/jwks" "tally_dir = $work/tally" "runtime_dir = $work/run" \
        "allow_insecure_credentials = yes" "uid_min = 1879048192" "uid_max = 2147352575"
    conf_section "service sudo" "require_role = Host.Sudo"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $ALPHA_UID" \
        "credential = secret-file" "secret_file = $work/alpha.secret"
} >"$work/openclaw.conf"
chmod 0644 "$work/openclaw.conf"
if helper_start main "$work/openclaw.conf" && wait_for 10 test -s "$work/state/jwks/keys.json"; then
    tap_ok "openclawd starts and writes the JWKS file"
else
    tap_fail "openclawd starts" "$(cat "$work/main.log" 2>/dev/null)"
    tap_done
    exit 1
fi

NS_RESULTS=$work/results
export NS_RESULTS NS_WORK=$work NS_MODULE=$mod ALPHA_UID top_srcdir top_builddir
export TENANT_URL TENANT_CA TENANT_DIR
timeout 300 unshare --mount --propagation private bash "$0" --inner
ns_report
ns_expect 3
grep -q "audit: root (pid [0-9]*) requested the token of agent agent-alpha" "$work/main.log" &&
    tap_ok "openclawd audits the token requests of sudo's PAM module" ||
    tap_fail "openclawd audits the token requests of sudo's PAM module" "$(tail -5 "$work/main.log")"
helper_stop "$HELPER_PID_main"
HELPER_PID_main=""
after=$(ns_host_fingerprint)
if [ "$before" = "$after" ]; then
    tap_ok "host PAM dir, /etc/passwd, /etc/group, /etc/pam.d, /etc/sudoers unchanged"
else
    tap_fail "host PAM dir, /etc/passwd, /etc/group, /etc/pam.d, /etc/sudoers unchanged"
fi
tap_done
