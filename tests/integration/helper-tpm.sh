#!/bin/sh
# openclawd with a tpm-certificate credential: the client assertion is signed
# inside a private swtpm by a key whose certificate is registered on the
# agent's application in the local tenant; an agent whose application does not
# hold that certificate is refused with an AADSTS700027 log line. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

SWTPM=${SWTPM:-$(command -v swtpm 2>/dev/null || true)}
CTL="$top_builddir/helper/ctl/openclawctl"
[ "$(id -u)" = 0 ] || tap_skip_all "needs root (clients run under other uids with setpriv)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
[ -n "$SWTPM" ] && [ -x "$SWTPM" ] || tap_skip_all "swtpm not installed"
[ -x "$OCD" ] && [ -x "$OCT" ] && [ -x "$CTL" ] || tap_skip_all "openclawd/openclawctl not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
TSS2_LOG=${TSS2_LOG:-all+none}
export TSS2_LOG

UID_A=1879048193
UID_B=1879048194
work=$(mktemp -d "${TMPDIR:-/tmp}/oc-helper-tpm.XXXXXX")
chmod 755 "$work"
uid_copies "$work/bin" # what runs under other uids: copies, never the tree
HELPER_PID_main=""
swtpm_pid=""
cleanup() {
    helper_stop "$HELPER_PID_main"
    tenant_stop
    if [ -n "$swtpm_pid" ]; then
        kill "$swtpm_pid" 2>/dev/null
        for _ in $(seq 1 50); do
            kill -0 "$swtpm_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$swtpm_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/tpm"
"$SWTPM" socket --tpm2 --tpmstate dir="$work/tpm" \
    --server type=unixio,path="$work/tpm/sock" --ctrl type=unixio,path="$work/tpm/sock.ctrl" \
    --flags not-need-init,startup-clear --pid file="$work/tpm/pid" --daemon \
    >"$work/tpm/log" 2>&1
wait_for 5 test -s "$work/tpm/pid" && wait_for 5 test -S "$work/tpm/sock"
swtpm_pid=$(cat "$work/tpm/pid" 2>/dev/null)
TCTI="swtpm:path=$work/tpm/sock"
if [ -z "$swtpm_pid" ] ||
    ! "$CTL" tpm keygen --alg ecc --out "$work/agent.key" --tcti "$TCTI" >/dev/null 2>"$work/ctl.err" ||
    ! "$CTL" tpm cert --key "$work/agent.key" --subject agent-alpha --out "$work/agent.pem" \
        --tcti "$TCTI" >/dev/null 2>>"$work/ctl.err"; then
    echo "1..1"
    echo "not ok 1 - swtpm, TPM key and certificate"
    sed 's/^/# /' "$work/ctl.err" "$work/tpm/log"
    exit 1
fi
tap_ok "swtpm started, TPM key and certificate made"

tenant_start "$work/tenant" || {
    tap_fail "local tenant starts"
    tap_done
    exit 1
}
body=$("$PY" -c 'import json,sys; print(json.dumps({"appId": sys.argv[1], "certificate": open(sys.argv[2]).read()}))' \
    "$ALPHA_APP" "$work/agent.pem")
case $(tenant_ctl POST key-credentials "$body") in
*keyId*) tap_ok "certificate registered on agent-alpha's application" ;;
*) tap_fail "certificate registered on agent-alpha's application" ;;
esac

{
    conf_global "$work/state" "$work/openclawd.sock" "tcti = $TCTI"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $UID_A" \
        "credential = tpm-certificate" "key_file = $work/agent.key" \
        "cert_file = $work/agent.pem"
    conf_agent agent-beta "$BETA_APP" "$BETA_OID" "uid = $UID_B" "credential = tpm-certificate" \
        "key_file = $work/agent.key" "cert_file = $work/agent.pem"
} >"$work/oc.conf"
chmod 644 "$work/oc.conf"
mkdir -p "$work/state"
if ! helper_start main "$work/oc.conf"; then
    tap_fail "openclawd starts" "$(cat "$work/main.log")"
    tap_done
    exit 1
fi

t=$(as_uid $UID_A "$OCT" --socket "$work/openclawd.sock" 2>"$work/a.err")
if [ -n "$t" ] && [ "$(jwt_claim "$t" appid)" = "$ALPHA_APP" ] &&
    [ "$(jwt_claim "$t" appidacr)" = 2 ]; then
    tap_ok "tpm-certificate: agent A gets a token authenticated by a TPM-signed assertion"
else
    tap_fail "tpm-certificate: agent A gets its token" "$(cat "$work/a.err" "$work/main.log")"
fi
t2=$(as_uid $UID_A "$OCT" --socket "$work/openclawd.sock" --scope "$RESOURCE_V2_URI/.default" 2>/dev/null)
[ -n "$t2" ] && [ "$(jwt_claim "$t2" azp)" = "$ALPHA_APP" ] &&
    tap_ok "tpm-certificate: a second scope works with the same key" ||
    tap_fail "tpm-certificate: a second scope"

out=$(as_uid $UID_B "$OCT" --socket "$work/openclawd.sock" 2>"$work/b.err")
rc=$?
if [ $rc -eq 1 ] && [ -z "$out" ] && grep -q "AADSTS700027.*register cert_file" "$work/main.log"; then
    tap_ok "certificate not registered on the app: refused, one log line with AADSTS700027 and the fix"
else
    tap_fail "certificate not registered: refused with AADSTS700027" "rc=$rc $(tail -3 "$work/main.log")"
fi
helper_stop "$HELPER_PID_main"
rc=$?
HELPER_PID_main=""
[ $rc -eq 0 ] && tap_ok "SIGTERM: clean exit (TPM objects flushed)" || tap_fail "SIGTERM: clean exit" "rc=$rc"
grep -q "Sanitizer\|runtime error" "$work/main.log" && tap_fail "no sanitizer report from the daemon" ||
    tap_ok "no sanitizer report from the daemon"
tap_done
