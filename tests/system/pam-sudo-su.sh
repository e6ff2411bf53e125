#!/bin/bash
# pam-sudo-su.sh: real su and sudo with pam_openclaw, as root in a private
# mount namespace (see pam-ns.sh for what is shadowed).
#   su:   run by an unprivileged user (nobody, through setpriv), so su must
#         authenticate (su run by root skips auth via pam_rootok); the token
#         is the answer on standard input (libpam_misc reads up to 4095
#         bytes at once); `su agent-alpha -c 'id -u'`.
#   sudo: run by agent-alpha itself (setpriv to its uid); `sudo -S` reads
#         each answer as one line from standard input and refuses any
#         answer of 512 bytes or more (PAM_MAX_RESP_SIZE), so the token is
#         given as the 500-byte lines of the continuation protocol. Without Host.Sudo: refused;
#         with it (assigned in the tenant, new token): `id -u` prints 0.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/system/pam-ns.sh"
. "$top_srcdir/tests/lib/tenant.sh"

if [ "${1:-}" = --inner ]; then
    w=$NS_WORK
    ns_setup "$w" "$NS_MODULE" || {
        ns_result fail "namespace setup"
        exit 0
    }
    ns_add_agent agent-alpha "$ALPHA_UID"
    ns_add_agent agent-beta "$BETA_UID"
    NS_SYSLOG_PID=
    syslog_ok=false
    ns_syslog_capture "$w" && syslog_ok=true
    trap '[ -n "$NS_SYSLOG_PID" ] && kill "$NS_SYSLOG_PID" 2>/dev/null' EXIT
    args="config=$w/openclaw.conf"
    # the shipped example stacks (data/pam.d/su, data/pam.d/sudo)
    sed "s|pam_openclaw.so|pam_openclaw.so $args|" "$top_srcdir/data/pam.d/su" >/etc/pam.d/su
    sed "s|pam_openclaw.so|pam_openclaw.so $args|" "$top_srcdir/data/pam.d/sudo" >/etc/pam.d/sudo
    printf 'Defaults !lecture, !fqdn, passwd_tries=1, !syslog\nagent-alpha ALL=(ALL:ALL) ALL\nagent-beta ALL=(ALL:ALL) ALL\n' >"$w/sudoers"
    chown root:root "$w/sudoers"
    chmod 0440 "$w/sudoers"
    mount --bind "$w/sudoers" /etc/sudoers || ns_result fail "bind-mount sudoers"
    # sudo's own debug log (read when a sudo check fails)
    printf 'Debug sudoers.so %s/sudoers.debug pam@debug,conv@debug,auth@debug\n' "$w" >"$w/sudo.conf"
    [ -f /etc/sudo.conf ] && mount --bind "$w/sudo.conf" /etc/sudo.conf

    # --- su --------------------------------------------------------------
    # su_as TOKENFILE TARGET: su run by nobody, token on stdin
    su_as() {
        out=$(timeout 60 setpriv --reuid=nobody --regid=nogroup --clear-groups \
            su "$2" -c 'id -u' <"$1" 2>"$w/su.err")
        rc=$?
    }
    su_as "$w/alpha" agent-alpha
    if [ "$rc" -eq 0 ] && [ "$out" = "$ALPHA_UID" ]; then
        ns_result ok "su agent-alpha -c 'id -u' by nobody with alpha's token: uid $ALPHA_UID"
    else
        ns_result fail "su agent-alpha -c 'id -u' by nobody with alpha's token" "rc=$rc out=$out $(cat "$w/su.err")"
    fi
    su_as "$w/beta" agent-beta
    if [ "$rc" -ne 0 ] && [ -z "$out" ]; then
        ns_result ok "su agent-beta: token without Host.Login refused"
    else
        ns_result fail "su agent-beta: token without Host.Login refused" "rc=$rc out=$out"
    fi
    su_as "$w/alpha" agent-beta
    if [ "$rc" -ne 0 ] && [ -z "$out" ]; then
        ns_result ok "su agent-beta with agent-alpha's token refused"
    else
        ns_result fail "su agent-beta with agent-alpha's token refused" "rc=$rc out=$out"
    fi
    printf '\n' >"$w/nothing"
    su_as "$w/nothing" agent-alpha
    if [ "$rc" -ne 0 ] && [ -z "$out" ]; then
        ns_result ok "su agent-alpha with an empty answer refused"
    else
        ns_result fail "su agent-alpha with an empty answer refused" "rc=$rc out=$out"
    fi

    # --- sudo --------------------------------------------------------------
    # sudo_as UID INPUTFILE: sudo -S run by the agent, prompts answered from stdin
    sudo_as() {
        out=$(timeout 60 setpriv --reuid="$1" --regid="$1" --clear-groups \
            sudo -S -k -p '' id -u <"$2" 2>"$w/sudo.err")
        rc=$?
    }
    ns_token_lines "$w/alpha" >"$w/alpha.lines"
    ns_token_lines "$w/alpha-sudo" >"$w/alpha-sudo.lines"
    sudo_as "$ALPHA_UID" "$w/alpha.lines"
    if [ "$rc" -ne 0 ] && [ "$out" != 0 ] && ! grep -q "Conversation error" "$w/sudo.err"; then
        ns_result ok "sudo by agent-alpha with a token lacking Host.Sudo: refused"
    else
        ns_result fail "sudo by agent-alpha with a token lacking Host.Sudo: refused" "rc=$rc out=$out $(cat "$w/sudo.err")"
    fi
    sudo_as "$ALPHA_UID" "$w/alpha-sudo.lines"
    if [ "$rc" -eq 0 ] && [ "$out" = 0 ]; then
        ns_result ok "sudo by agent-alpha with Host.Sudo in a fresh token: id -u = 0"
    else
        ns_result fail "sudo by agent-alpha with Host.Sudo in a fresh token: id -u = 0" "rc=$rc out=$out $(cat "$w/sudo.err") $(tail -n 20 "$w/sudoers.debug" 2>/dev/null)"
    fi
    # the whole token on one line: sudo refuses answers >= 512 bytes
    tr -d '\n' <"$w/alpha-sudo" >"$w/alpha-sudo.one"
    echo >>"$w/alpha-sudo.one"
    sudo_as "$ALPHA_UID" "$w/alpha-sudo.one"
    if [ "$rc" -ne 0 ] && grep -q "Conversation error" "$w/sudo.err"; then
        ns_result ok "sudo -S refuses a $(wc -c <"$w/alpha-sudo.one")-byte answer itself (PAM_MAX_RESP_SIZE): one-line token fails"
    else
        ns_result fail "sudo -S refuses a one-line token (PAM_MAX_RESP_SIZE)" "rc=$rc out=$out $(cat "$w/sudo.err")"
    fi
    sudo_as "$BETA_UID" "$w/alpha-sudo.lines"
    if [ "$rc" -ne 0 ] && [ "$out" != 0 ]; then
        ns_result ok "sudo by agent-beta with agent-alpha's sudo token: refused"
    else
        ns_result fail "sudo by agent-beta with agent-alpha's sudo token: refused" "rc=$rc out=$out"
    fi

    # --- audit through the real syslog path (facility authpriv = 10) ------
    # <85> = authpriv.notice (refusals), <86> = authpriv.info (successes)
    if ! $syslog_ok; then
        ns_result ok "audit records through /dev/log # SKIP no private /dev/log here"
    elif ns_syslog_has "^<86>.*pam_openclaw\(su:auth\): event=auth service=su user=agent-alpha agent_app_id=$ALPHA_APP agent_oid=$ALPHA_OID token_uti=[^ ]+ rhost=- result=success reason=ok" &&
        ns_syslog_has "^<85>.*pam_openclaw\(su:auth\): event=auth service=su user=agent-beta .* result=failure reason=role" &&
        ns_syslog_has "^<85>.*pam_openclaw\(su:auth\): event=auth service=su user=agent-beta .* result=failure reason=user" &&
        ns_syslog_has "^<85>.*pam_openclaw\(sudo:auth\): event=auth service=sudo user=agent-alpha .* result=failure reason=role" &&
        ns_syslog_has "^<86>.*pam_openclaw\(sudo:auth\): event=auth service=sudo user=agent-alpha .* result=success reason=ok detail=\"role Host.Sudo\"" &&
        ns_syslog_has "^<86>.*pam_openclaw\(sudo:account\): event=account service=sudo user=agent-alpha .* result=success"; then
        ns_result ok "su and sudo decisions reach syslog as authpriv key=value lines (success info, refusal notice)"
    else
        ns_result fail "su and sudo decisions reach syslog as authpriv key=value lines" "$(grep pam_openclaw "$w/syslog.log" 2>/dev/null | head -20)"
    fi
    sig=$(cut -d. -f3 <"$w/alpha-sudo")
    if $syslog_ok && ! grep -qF -- "${sig:0:32}" "$w/syslog.log" && ! grep -qF -- "$(cut -c1-60 <"$w/alpha-sudo")" "$w/syslog.log"; then
        ns_result ok "no token in the syslog records"
    elif ! $syslog_ok; then
        ns_result ok "no token in the syslog records # SKIP no private /dev/log here"
    else
        ns_result fail "no token in the syslog records"
    fi
    exit 0
fi

# ---------------- on the host ----------------
. "$top_srcdir/tests/integration/pam-lib.sh"
mod=$(pam_module)
ctl="$top_builddir/helper/ctl/openclawctl"
[ -f "$mod" ] || tap_skip_all "pam_openclaw.so not built"
[ -n "$(pam_sanitizer_preload)" ] && tap_skip_all "sanitizer build: su and sudo cannot load an ASan-instrumented module"
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (private mount namespace)"
for t in unshare su sudo setpriv curl; do
    command -v "$t" >/dev/null || tap_skip_all "$t missing (scripts/install-deps.sh)"
done
unshare --mount --propagation private --net true 2>/dev/null || tap_skip_all "unshare --mount --net not permitted here"
ns_pam_dir >/dev/null || tap_skip_all "cannot find the PAM module directory"
getent passwd nobody >/dev/null && getent group nogroup >/dev/null || tap_skip_all "no nobody/nogroup"

PAM_WORK=$(mktemp -d /tmp/oc-pam-sudo.XXXXXX)
chmod 0755 "$PAM_WORK"
export PAM_WORK
trap 'tenant_stop; rm -rf "$PAM_WORK"' EXIT
before=$(ns_host_fingerprint)
tenant_start "$PAM_WORK/tenant" || tap_setup_fail "the local tenant did not start"
mkdir -p "$PAM_WORK/jwks" "$PAM_WORK/run"
tenant_get "/$TENANT_ID/discovery/v2.0/keys" >"$PAM_WORK/jwks/keys.json"
pam_write_config "$PAM_WORK/openclaw.conf"
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$PAM_WORK/alpha"
tenant_token "$BETA_APP" "$BETA_SECRET" "$RESOURCE_URI/.default" >"$PAM_WORK/beta"
tenant_ctl POST assignments "{\"principalAppId\": \"$ALPHA_APP\", \"resourceAppId\": \"6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d\", \"appRole\": \"Host.Sudo\"}" >/dev/null
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$PAM_WORK/alpha-sudo"
case $(token_claim "$PAM_WORK/alpha-sudo" roles) in
*Host.Sudo*) ;;
*) tap_setup_fail "the tenant did not add Host.Sudo to the token" ;;
esac
chmod 0644 "$PAM_WORK"/alpha* "$PAM_WORK"/beta # read by the unprivileged callers
uid_of() {
    "$ctl" verify-token --config "$PAM_WORK/openclaw.conf" --json --user "$1" <"$2" | json_get agent.uid
}
ALPHA_UID=$(uid_of agent-alpha "$PAM_WORK/alpha")
BETA_UID=$(uid_of agent-beta "$PAM_WORK/beta" 2>/dev/null)
[ -n "$ALPHA_UID" ] || tap_setup_fail "openclawctl verify-token gave no uid"
[ -n "$BETA_UID" ] || BETA_UID=$((ALPHA_UID + 1))

NS_RESULTS=$PAM_WORK/results
export NS_RESULTS NS_WORK=$PAM_WORK NS_MODULE=$mod ALPHA_UID BETA_UID top_srcdir top_builddir
timeout 300 unshare --mount --propagation private --net bash "$0" --inner
ns_report
ns_expect 10
after=$(ns_host_fingerprint)
if [ "$before" = "$after" ]; then
    tap_ok "host PAM dir, /etc/passwd, /etc/group, /etc/pam.d, /etc/sudoers unchanged"
else
    tap_fail "host PAM dir, /etc/passwd, /etc/group, /etc/pam.d, /etc/sudoers unchanged"
fi
tap_done
