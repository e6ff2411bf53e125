#!/bin/bash
# SPDX-License-Identifier: MIT
# Faults under a running openclawd, in a private mount namespace:
#   - the TPM (swtpm) stopped: token requests that need it fail with a
#     clear reason, the daemon stays up; swtpm started again on the same
#     state: the daemon reopens the TPM and signs again, no restart;
#   - the state directory on a full tmpfs: a new token is still served
#     (the store says it keeps tokens in memory), a directory rebuild (root's
#     openclaw-sync) fails with ENOSPC, tokens.db and nss.cache stay whole
#     and unchanged; once
#     space returns both are written again, and a restart restores the
#     tokens from the store.
# Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

SWTPM=${SWTPM:-$(command -v swtpm 2>/dev/null || true)}
CTL="$top_builddir/helper/ctl/openclawctl"

if [ "${1:-}" != --inner ]; then
    [ "$(id -u)" = 0 ] || tap_skip_all "needs root (a tmpfs in a private mount namespace)"
    [ -n "$SWTPM" ] && [ -x "$SWTPM" ] || tap_skip_all "swtpm not installed"
    [ -x "$OCD" ] && [ -x "$CTL" ] || tap_skip_all "openclawd/openclawctl not built"
    command -v curl >/dev/null || tap_skip_all "curl missing (scripts/install-deps.sh)"
    "$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
    unshare --mount --propagation private true 2>/dev/null ||
        tap_skip_all "unshare --mount not permitted here"
    exec timeout 300 unshare --mount --propagation private bash "$0" --inner
fi

TSS2_LOG=${TSS2_LOG:-all+none}
export TSS2_LOG
work=$(mktemp -d /tmp/oc-faults.XXXXXX)
chmod 755 "$work"
HELPER_PID_main=""
stop_swtpm() {
    local pid
    pid=$(cat "$work/tpm/pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
}
cleanup() {
    helper_stop "$HELPER_PID_main" >/dev/null 2>&1
    tenant_stop
    stop_swtpm
    umount "$work/state" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
start_swtpm() {
    rm -f "$work/tpm/pid"
    "$SWTPM" socket --tpm2 --tpmstate dir="$work/tpm" \
        --server type=unixio,path="$work/tpm/sock" --ctrl type=unixio,path="$work/tpm/sock.ctrl" \
        --flags not-need-init,startup-clear --pid file="$work/tpm/pid" --daemon \
        >>"$work/tpm/log" 2>&1 || return 1
    wait_for 5 test -s "$work/tpm/pid" && wait_for 5 test -S "$work/tpm/sock"
}
mkdir -p "$work/tpm" "$work/state"
start_swtpm || tap_setup_fail "swtpm did not start"
TCTI="swtpm:path=$work/tpm/sock"
"$CTL" tpm keygen --alg ecc --out "$work/agent.key" --tcti "$TCTI" >/dev/null 2>"$work/ctl.err" &&
    "$CTL" tpm cert --key "$work/agent.key" --subject agent-alpha --out "$work/agent.pem" \
        --tcti "$TCTI" >/dev/null 2>>"$work/ctl.err" ||
    tap_setup_fail "no TPM key: $(cat "$work/ctl.err")"
tenant_start "$work/tenant" || tap_setup_fail "the local tenant did not start"
body=$("$PY" -c 'import json,sys; print(json.dumps({"appId": sys.argv[1], "certificate": open(sys.argv[2]).read()}))' \
    "$ALPHA_APP" "$work/agent.pem")
tenant_ctl POST key-credentials "$body" >/dev/null

# the state directory: a 2 MiB tmpfs (only this namespace sees it)
mount -t tmpfs -o size=2m,mode=0755 oc-faults "$work/state" ||
    tap_skip_all "cannot mount a tmpfs here"
S=$work/ocd.sock
conf=$work/oc.conf
{
    conf_global "$work/state" "$S" "$ISSUER_V2_LINE" "nss_cache = $work/state/nss.cache" \
        "tcti = $TCTI"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "credential = tpm-certificate" \
        "key_file = $work/agent.key" "cert_file = $work/agent.pem"
} >"$conf"
chmod 644 "$conf"
helper_start main "$conf" || tap_setup_fail "openclawd did not start: $(tail -n 3 "$work/main.log")"

token() { req "$S" '{"type":"get-token","agent":"agent-alpha","max_age":0}'; }
is_ok() { case $1 in *'"ok":true'*) return 0 ;; esac; return 1; }
alive() { is_ok "$(req "$S" '{"type":"ping"}')" && kill -0 "$HELPER_PID_main" 2>/dev/null; }

out=$(token)
is_ok "$out" && tap_ok "a token by TPM-signed assertion" || tap_fail "a token by TPM-signed assertion" "$out"

# ---------------------------------------------------------------- TPM down
stop_swtpm
out=$(token)
case $out in
*'"ok":false'*TPM*) tap_ok "swtpm stopped: the token request fails and says the TPM is the reason" ;;
*) tap_fail "swtpm stopped: the request fails naming the TPM" "$out" ;;
esac
alive && tap_ok "swtpm stopped: openclawd stays up and answers" ||
    tap_fail "swtpm stopped: openclawd stays up" "$(tail -n 3 "$work/main.log")"
start_swtpm || tap_fail "swtpm starts again"
# the failure put the agent in backoff (2 s, then more): bounded wait
got=""
for _ in $(seq 1 40); do
    out=$(token)
    if is_ok "$out"; then
        got=yes
        break
    fi
    sleep 0.5
done
[ -n "$got" ] && tap_ok "swtpm back on the same state: openclawd reopens the TPM and signs again, no restart" ||
    tap_fail "swtpm back: openclawd signs again" "$out $(tail -n 4 "$work/main.log")"
grep -q "the TPM connection failed; it is closed and opened again" "$work/main.log" &&
    tap_ok "the log says the TPM connection was lost and is reopened" ||
    tap_fail "the log says the TPM connection is reopened" "$(tail -n 4 "$work/main.log")"

# ---------------------------------------------------------------- disk full
# the directory rebuild: root's openclaw-sync (what `openclawctl cache sync` runs)
rebuild() {
    if "$top_builddir/helper/sync/openclaw-sync" --config "$conf" --force >>"$work/sync.log" 2>&1; then
        echo '"ok":true'
    else
        echo '"ok":false' "$(tail -n 2 "$work/sync.log")"
    fi
}
out=$(rebuild)
is_ok "$out" && [ -s "$work/state/nss.cache" ] && [ -s "$work/state/tokens.db" ] &&
    tap_ok "before: nss.cache and tokens.db written on the tmpfs" ||
    tap_fail "before: nss.cache and tokens.db written" "$out $(ls -l "$work/state")"
# every file the daemon has written, by content hash: after the disk-full
# writes each must exist and be unchanged (a missing file is data lost)
state_hashes() { (cd "$work/state" && find . -type f ! -name '.*' ! -name '*.tmp??????' ! -name 'filler*' \
    -exec sha256sum {} + | sort -k 2); }
state_hashes >"$work/state.before"
dd if=/dev/zero of="$work/state/filler" bs=64k >/dev/null 2>&1
dd if=/dev/zero of="$work/state/filler2" bs=1k >/dev/null 2>&1
free=$(df --output=avail -k "$work/state" | tail -n 1 | tr -d ' ')
echo "# state directory full: ${free} KiB free"
out=$(token)
is_ok "$out" && tap_ok "disk full: a new token is still served" || tap_fail "disk full: a new token is served" "$out"
grep -q "token store: cannot write .*tokens.db (No space left on device)" "$work/main.log" &&
    tap_ok "disk full: the log says tokens.db cannot be written (ENOSPC) and tokens stay in memory" ||
    tap_fail "disk full: the token store says ENOSPC" "$(grep 'token store' "$work/main.log" | tail -n 3)"
out=$(rebuild)
case $out in
*'"ok":false'*) tap_ok "disk full: the directory rebuild reports its failure" ;;
*) tap_fail "disk full: the directory rebuild reports its failure" "$out" ;;
esac
state_hashes >"$work/state.after"
nfiles=$(wc -l <"$work/state.before")
if grep -q ' ./tokens.db$' "$work/state.before" && grep -q ' ./nss.cache$' "$work/state.before" &&
    cmp -s "$work/state.before" "$work/state.after"; then
    tap_ok "disk full: tokens.db and nss.cache unchanged and whole (all $nfiles files the daemon wrote exist, same content hash)"
else
    tap_fail "disk full: tokens.db and nss.cache unchanged" \
        "$(diff "$work/state.before" "$work/state.after"; ls -l "$work/state")"
fi
# openclawd writes every state file as a hidden ".NAME.<6 random>" next to
# it, then renames it (the TPM blob writer: "NAME.tmp<6 random>"); a write
# in progress may show its file for a moment, a left one stays: look for 5 s
no_temps() { [ -z "$(find "$work/state" -type f \( -name '.*' -o -name '*.tmp??????' \) 2>/dev/null)" ]; }
wait_for 5 no_temps && tap_ok "disk full: no temporary file left behind" ||
    tap_fail "disk full: no temporary file left" "$(ls -la "$work/state")"
alive && tap_ok "disk full: openclawd stays up" || tap_fail "disk full: openclawd stays up"

rm -f "$work/state/filler" "$work/state/filler2"
out=$(rebuild)
is_ok "$out" && [ -s "$work/state/nss.cache" ] && tap_ok "space back: the directory rebuild succeeds" ||
    tap_fail "space back: the directory rebuild succeeds" "$out"
out=$(token)
if is_ok "$out" && wait_for 5 grep -q "token store: .*tokens.db written again" "$work/main.log"; then
    tap_ok "space back: the next token is stored again (the log says so)"
else
    tap_fail "space back: tokens.db written again" "$out $(grep 'token store' "$work/main.log" | tail -n 3)"
fi
helper_stop "$HELPER_PID_main"
rc=$?
HELPER_PID_main=""
[ $rc -eq 0 ] && tap_ok "openclawd exits cleanly" || tap_fail "openclawd exits cleanly" "rc=$rc"
helper_start main "$conf" || tap_fail "openclawd starts again"
grep -q "token store: [1-9][0-9]* token(s) restored" "$work/main.log" &&
    tap_ok "after a restart the tokens are restored from tokens.db" ||
    tap_fail "after a restart the tokens are restored" "$(grep 'token store' "$work/main.log")"
grep -q "Sanitizer\|runtime error" "$work/main.log" && tap_fail "no sanitizer report from openclawd" ||
    tap_ok "no sanitizer report from openclawd"
tap_done
