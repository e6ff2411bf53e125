#!/bin/bash
# pam-sshd.sh: a real sshd with pam_openclaw, a real ssh client with
# openclaw-askpass answering the chunked token prompts, as root in a
# private mount + network namespace (see pam-ns.sh for what is shadowed).
#   - agent-alpha logs in with a > 2 KB token (each ssh answer is cut at
#     1023 bytes, so this only works through the continuation protocol)
#     and `id -u` in the session is its mapped uid;
#   - the session has OPENCLAW_SOCKET from pam_putenv;
#   - agent-beta (no Host.Login) is refused; alpha's token for beta is refused;
#   - the host's files are unchanged afterwards.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/system/pam-ns.sh"
. "$top_srcdir/tests/lib/tenant.sh"

if [ "${1:-}" = --inner ]; then
    # ---------------- inside the namespace ----------------
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
    if [ -f "$NS_PAM_DIR/pam_openclaw.so" ] && [ ! -f "$w/host-had-module" ]; then
        ns_result ok "module visible in $NS_PAM_DIR inside the namespace only"
    else
        ns_result fail "module visible in $NS_PAM_DIR inside the namespace only"
    fi
    # the shipped example stack (data/pam.d/sshd), pointed at the test config
    sed "s|pam_openclaw.so|pam_openclaw.so config=$w/openclaw.conf|" \
        "$top_srcdir/data/pam.d/sshd" >/etc/pam.d/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$w/hostkey" || exit 0
    port=22022
    cat >"$w/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $w/hostkey
PidFile $w/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication no
HostbasedAuthentication no
AuthenticationMethods keyboard-interactive
PermitRootLogin no
StrictModes no
PrintMotd no
LogLevel VERBOSE
EOF
    /usr/sbin/sshd -D -e -f "$w/sshd_config" 2>"$w/sshd.log" &
    sshd_pid=$!
    trap 'kill "$sshd_pid" 2>/dev/null; wait "$sshd_pid" 2>/dev/null
        [ -n "$NS_SYSLOG_PID" ] && kill "$NS_SYSLOG_PID" 2>/dev/null' EXIT
    for _ in $(seq 1 50); do
        (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
        sleep 0.1
    done

    # ssh_as USER TOKENFILE CMD: the stock client, askpass forced, no stdin
    ssh_as() {
        out=$(OPENCLAW_TOKEN_FILE=$2 OPENCLAW_CONFIG=$w/openclaw.conf SSH_ASKPASS=$NS_ASKPASS SSH_ASKPASS_REQUIRE=force \
            DISPLAY=none timeout 60 setsid -w ssh -F /dev/null -p "$port" \
            -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
            -o PreferredAuthentications=keyboard-interactive -o NumberOfPasswordPrompts=1 \
            -o ConnectTimeout=20 -l "$1" 127.0.0.1 "$3" </dev/null 2>"$w/ssh.err")
        rc=$?
    }

    ssh_as agent-alpha "$w/alpha-big" 'id -u; echo "socket=$OPENCLAW_SOCKET"'
    if [ "$rc" -eq 0 ] && [ "$(printf '%s\n' "$out" | head -n1)" = "$ALPHA_UID" ]; then
        ns_result ok "ssh: agent-alpha logs in with a $(wc -c <"$w/alpha-big")-byte token through openclaw-askpass; id -u = $ALPHA_UID"
    else
        ns_result fail "ssh: agent-alpha logs in with a >2 KB token; id -u = mapped uid" \
            "rc=$rc out=$out $(cat "$w/ssh.err") $(tail -n 20 "$w/sshd.log")"
    fi
    if printf '%s\n' "$out" | grep -qx "socket=$w/run/openclawd.sock"; then
        ns_result ok "ssh session has OPENCLAW_SOCKET from pam_putenv"
    else
        ns_result fail "ssh session has OPENCLAW_SOCKET from pam_putenv" "$out"
    fi
    # (sshd empties the environment of its PAM auth child, so only the
    # session lines reach the test-build audit copy; syslog gets all)
    # sshd closes the session after the client has gone: its close line
    # may come a moment after ssh returned (bounded wait, then judge)
    for _ in $(seq 1 50); do
        grep -q "event=session-close service=sshd user=agent-alpha" "$w/audit.log" 2>/dev/null && break
        sleep 0.1
    done
    if grep -q "event=session-open service=sshd user=agent-alpha agent_app_id=$ALPHA_APP agent_oid=$ALPHA_OID .*rhost=127.0.0.1 result=success" "$w/audit.log" 2>/dev/null &&
        grep -q "event=session-close service=sshd user=agent-alpha" "$w/audit.log"; then
        ns_result ok "sshd: session open/close audited with the agent's ids and rhost=127.0.0.1"
    else
        ns_result fail "sshd: session open/close audited with the agent's ids and rhost=127.0.0.1" "$(cat "$w/audit.log" 2>/dev/null)"
    fi

    # the same token answered in one piece never arrives whole: ssh keeps
    # 1023 bytes of an answer (from a tty), and an askpass that writes more
    # is cut off and its answer dropped (measured: PAM sees an empty answer)
    printf '#!/bin/sh\ntr -d "\\n" <"$OPENCLAW_TOKEN_FILE"; echo\n' >"$w/whole-askpass"
    chmod 755 "$w/whole-askpass"
    NS_ASKPASS_SAVE=$NS_ASKPASS
    NS_ASKPASS=$w/whole-askpass
    : >"$w/audit.log"
    ssh_as agent-alpha "$w/alpha-big" 'id -u'
    NS_ASKPASS=$NS_ASKPASS_SAVE
    if [ "$rc" -ne 0 ]; then
        ns_result ok "ssh: the whole token in one answer does not get through the stock client"
    else
        ns_result fail "ssh: the whole token in one answer does not get through the stock client" "$out"
    fi

    ssh_as agent-beta "$w/beta" 'id -u'
    if [ "$rc" -ne 0 ] && [ -z "$out" ] && grep -q "Permission denied" "$w/ssh.err"; then
        ns_result ok "ssh: agent-beta's token without Host.Login is refused"
    else
        ns_result fail "ssh: agent-beta's token without Host.Login is refused" \
            "rc=$rc out=$out $(cat "$w/ssh.err")"
    fi
    # the same agent with the role is let in: the refusal above was the role
    ssh_as agent-beta "$w/beta-login" 'id -u'
    if [ "$rc" -eq 0 ] && [ "$out" = "$BETA_UID" ]; then
        ns_result ok "ssh: agent-beta, once assigned Host.Login in Entra, logs in; id -u = $BETA_UID"
    else
        ns_result fail "ssh: agent-beta, once assigned Host.Login in Entra, logs in" \
            "rc=$rc out=$out $(cat "$w/ssh.err")"
    fi
    ssh_as agent-beta "$w/alpha-big" 'id -u'
    if [ "$rc" -ne 0 ] && [ -z "$out" ]; then
        ns_result ok "ssh: agent-alpha's token never logs in as agent-beta"
    else
        ns_result fail "ssh: agent-alpha's token never logs in as agent-beta" "rc=$rc out=$out"
    fi
    ssh_as nobody "$w/alpha-big" 'id -u'
    if [ "$rc" -ne 0 ] && [ -z "$out" ]; then
        ns_result ok "ssh: a token never logs in as a human user (ignored, stack fails)"
    else
        ns_result fail "ssh: a token never logs in as a human user" "rc=$rc out=$out"
    fi
    # what sshd's PAM child sent to syslog (facility authpriv = 10)
    if ! $syslog_ok; then
        ns_result ok "sshd audit through /dev/log # SKIP no private /dev/log here"
    elif ns_syslog_has "^<86>.*pam_openclaw\(sshd:auth\): event=auth service=sshd user=agent-alpha agent_app_id=$ALPHA_APP agent_oid=$ALPHA_OID token_uti=[^ ]+ rhost=127.0.0.1 result=success reason=ok" &&
        ns_syslog_has "^<86>.*pam_openclaw\(sshd:account\): event=account service=sshd user=agent-alpha .*rhost=127.0.0.1 result=success" &&
        ns_syslog_has "^<85>.*pam_openclaw\(sshd:auth\): event=auth service=sshd user=agent-beta .*rhost=127.0.0.1 result=failure reason=role" &&
        ns_syslog_has "^<85>.*pam_openclaw\(sshd:auth\): event=auth service=sshd user=agent-beta .*result=failure reason=user" &&
        ns_syslog_has "^<85>.*pam_openclaw\(sshd:auth\): event=auth service=sshd user=agent-alpha .*result=failure reason=(no-token|format|signature|payload|header)"; then
        ns_result ok "sshd: every decision in syslog (authpriv), rhost=127.0.0.1, reasons role/user/no-token"
    else
        ns_result fail "sshd: every decision in syslog (authpriv)" "$(grep pam_openclaw "$w/syslog.log" 2>/dev/null | head -20)"
    fi
    exit 0
fi

# ---------------- on the host ----------------
. "$top_srcdir/tests/integration/pam-lib.sh"
mod=$(pam_module)
ctl="$top_builddir/helper/ctl/openclawctl"
[ -f "$mod" ] || tap_skip_all "pam_openclaw.so not built"
[ -n "$(pam_sanitizer_preload)" ] && tap_skip_all "sanitizer build: sshd cannot load an ASan-instrumented module"
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (private mount namespace)"
for t in unshare sshd ssh ssh-keygen setsid curl ip; do
    command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || tap_skip_all "$t missing (scripts/install-deps.sh)"
done
unshare --mount --propagation private --net true 2>/dev/null || tap_skip_all "unshare --mount --net not permitted here"
ns_pam_dir >/dev/null || tap_skip_all "cannot find the PAM module directory"

PAM_WORK=$(mktemp -d /tmp/oc-pam-sshd.XXXXXX)
chmod 0755 "$PAM_WORK"
export PAM_WORK
trap 'tenant_stop; rm -rf "$PAM_WORK"' EXIT
before=$(ns_host_fingerprint)
[ -f "$(ns_pam_dir)/pam_openclaw.so" ] && touch "$PAM_WORK/host-had-module"
tenant_start "$PAM_WORK/tenant" || tap_setup_fail "the local tenant did not start"
mkdir -p "$PAM_WORK/jwks" "$PAM_WORK/run"
tenant_get "/$TENANT_ID/discovery/v2.0/keys" >"$PAM_WORK/jwks/keys.json"
pam_write_config "$PAM_WORK/openclaw.conf"
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$PAM_WORK/alpha"
tenant_token "$BETA_APP" "$BETA_SECRET" "$RESOURCE_URI/.default" >"$PAM_WORK/beta"
# a token > 2 KB, as an agent with many roles and claims gets
resign_token "$PAM_WORK/alpha" "{\"xms_filler\": \"$(head -c 900 /dev/zero | tr '\0' x)\"}" >"$PAM_WORK/alpha-big"
tenant_ctl POST assignments "{\"principalAppId\": \"$BETA_APP\", \"resourceAppId\": \"6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d\", \"appRole\": \"Host.Login\"}" >/dev/null
tenant_token "$BETA_APP" "$BETA_SECRET" "$RESOURCE_URI/.default" >"$PAM_WORK/beta-login"
chmod 0600 "$PAM_WORK"/alpha* "$PAM_WORK"/beta*
[ "$(wc -c <"$PAM_WORK/alpha-big")" -gt 2000 ] || tap_setup_fail "could not build a > 2 KB token"
uid_of() {
    "$ctl" verify-token --config "$PAM_WORK/openclaw.conf" --json --user "$1" <"$2" | json_get agent.uid
}
ALPHA_UID=$(uid_of agent-alpha "$PAM_WORK/alpha")
BETA_UID=$(uid_of agent-beta "$PAM_WORK/beta" 2>/dev/null)
[ -n "$ALPHA_UID" ] || tap_setup_fail "openclawctl verify-token gave no uid"
[ -n "$BETA_UID" ] || BETA_UID=$((ALPHA_UID + 1))

NS_RESULTS=$PAM_WORK/results
export NS_RESULTS NS_WORK=$PAM_WORK NS_MODULE=$mod NS_ASKPASS=$top_srcdir/helper/client/openclaw-askpass
export ALPHA_UID BETA_UID top_srcdir top_builddir
export OPENCLAW_TEST_AUDIT_FILE=$PAM_WORK/audit.log
timeout 300 unshare --mount --propagation private --net bash "$0" --inner
ns_report
ns_expect 10
after=$(ns_host_fingerprint)
if [ "$before" = "$after" ]; then
    tap_ok "host PAM dir, /etc/passwd, /etc/group, /etc/pam.d unchanged"
else
    tap_fail "host PAM dir, /etc/passwd, /etc/group, /etc/pam.d unchanged"
fi
tap_done
