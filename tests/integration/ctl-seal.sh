#!/bin/bash
# openclawctl seal NAME: agent-alpha's client secret, read on stdin, sealed
# to a private swtpm into the sealed_file of its [agent] section (atomic,
# 0600, owned by the daemon's user); openclawd then gets agent-alpha's
# token from the local tenant with it. A blob sealed on a second swtpm is
# refused by openclawd; unknown agents, other credential kinds, an empty
# secret, a missing daemon user are refused by seal. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

[ "$(id -u)" = 0 ] || tap_skip_all "needs root (the sealed file is given to another user)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
SWTPM=${SWTPM:-$(command -v swtpm 2>/dev/null || true)}
[ -n "$SWTPM" ] && [ -x "$SWTPM" ] || tap_skip_all "swtpm not installed"
[ -x "$OCD" ] && [ -x "$OCT" ] && [ -x "$top_builddir/helper/ctl/openclawctl" ] ||
    tap_skip_all "openclawd/openclawctl not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"

# swtpm instances (tpm-lib.sh: start_swtpm, TCTI_<NAME>, $work, cleanup)
. "$top_srcdir/tests/integration/tpm-lib.sh"
chmod 755 "$work"
uid_copies "$work/bin" # what runs under other uids: copies, never the tree
HELPER_PID_main=""
all_cleanup() {
    helper_stop "$HELPER_PID_main"
    tenant_stop
    cleanup
}
trap all_cleanup EXIT

start_swtpm A && start_swtpm B || {
    tap_fail "two private swtpm instances start" "$(cat "$work"/A/log "$work"/B/log 2>/dev/null)"
    tap_done
    exit 1
}
tenant_start "$work/tenant" || {
    tap_fail "local tenant starts"
    tap_done
    exit 1
}

UID_A=1879048193
UID_B=1879048194
DAEMON_USER=nobody # openclawd runs as root here (--allow-root); the owner is what is checked
duid=$(id -u $DAEMON_USER)
S=$work/openclawd.sock
mkdir -m 0700 "$work/keys"
{
    conf_global "$work/state" "$S" "keys_dir = $work/keys" "tcti = $TCTI_A"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $UID_A" \
        "credential = tpm-sealed-secret"
    conf_agent agent-beta "$BETA_APP" "$BETA_OID" "uid = $UID_B" "credential = tpm-certificate" \
        "key_file = $work/keys/beta.key" "cert_file = $work/keys/beta.pem"
} >"$work/oc.conf"
chmod 644 "$work/oc.conf"
mkdir -p "$work/state"
C=(--config "$work/oc.conf" --daemon-user $DAEMON_USER)
SEALED=$work/keys/agent-alpha.sealed # the default sealed_file: <keys_dir>/<name>.sealed

# --- refusals before anything is written -------------------------------------
seal_refused() { # DESC PATTERN STDIN ARGS...
    local d=$1 pat=$2 in=$3 rc
    shift 3
    printf '%s' "$in" | "$CTL" seal "$@" >"$work/r.out" 2>"$work/r.err"
    rc=$?
    if [ $rc -eq 2 ] && grep -q -- "$pat" "$work/r.err" && [ ! -e "$SEALED" ] &&
        [ -z "$(find "$work/keys" -name '*.tmp*')" ]; then
        tap_ok "$d"
    else
        tap_fail "$d" "rc=$rc $(cat "$work/r.err")"
    fi
}
seal_refused "unknown agent: exit 2, nothing written" "no \[agent agent-nobody\] section" \
    "$ALPHA_SECRET" agent-nobody "${C[@]}"
seal_refused "credential = tpm-certificate: exit 2 naming the kind" \
    "credential = tpm-certificate, not tpm-sealed-secret" "$ALPHA_SECRET" agent-beta "${C[@]}"
seal_refused "an empty secret: exit 2" "the secret is empty" "" agent-alpha "${C[@]}"
seal_refused "a lone newline is an empty secret too" "the secret is empty" $'\n' agent-alpha "${C[@]}"
seal_refused "a secret longer than openclawd takes: exit 2" "longer than" \
    "$(head -c 5000 /dev/zero | tr '\0' x)" agent-alpha "${C[@]}"
seal_refused "a daemon user that does not exist: exit 2 naming it" "no-such-user-oc does not exist" \
    "$ALPHA_SECRET" agent-alpha --config "$work/oc.conf" --daemon-user no-such-user-oc

# --- seal, then openclawd uses it --------------------------------------------
if printf '%s\n' "$ALPHA_SECRET" | "$CTL" seal agent-alpha "${C[@]}" >"$work/seal.out" 2>"$work/seal.err" &&
    grep -q "sealed: the client secret of agent agent-alpha" "$work/seal.out"; then
    tap_ok "seal agent-alpha: the secret from stdin sealed to swtpm A"
else
    tap_fail "seal agent-alpha" "$(cat "$work/seal.out" "$work/seal.err")"
fi
if [ "$(stat -c '%a %u' "$SEALED" 2>/dev/null)" = "600 $duid" ] && [ -f "$SEALED" ] &&
    [ ! -L "$SEALED" ] && [ -z "$(find "$work/keys" -name '*.tmp*')" ]; then
    tap_ok "the sealed_file: mode 0600, owned by the daemon's user, no temporary file left"
else
    tap_fail "the sealed_file's mode and owner" "$(ls -la "$work/keys")"
fi
if ! grep -qF -- "$ALPHA_SECRET" "$SEALED" "$work/seal.out" "$work/seal.err" &&
    "$CTL" tpm unseal --in "$SEALED" --check --tcti "$TCTI_A" >/dev/null 2>&1; then
    tap_ok "the file holds a sealed blob (not the secret) that unseals on swtpm A"
else
    tap_fail "the file holds a sealed blob that unseals on A"
fi
[ "$("$CTL" tpm unseal --in "$SEALED" --stdout --tcti "$TCTI_A" 2>/dev/null)" = "$ALPHA_SECRET" ] &&
    [ "$("$CTL" tpm unseal --in "$SEALED" --stdout --tcti "$TCTI_A" 2>/dev/null | wc -c)" -eq "${#ALPHA_SECRET}" ] &&
    tap_ok "the trailing newline is not sealed" || tap_fail "the trailing newline is not sealed"

# on a terminal: a prompt, echo off while the secret is typed, the terminal
# restored; the secret never appears on the terminal
if "$PY" - "$CTL" "$work/oc.conf" "$DAEMON_USER" "$ALPHA_SECRET" >"$work/tty.out" 2>&1 <<'PYEOF'; then
import os, pty, select, sys, termios, time
ctl, conf, user, secret = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.execv(ctl, [ctl, "seal", "agent-alpha", "--config", conf, "--daemon-user", user])
out = b""
def read_some(t):
    global out
    r, _, _ = select.select([fd], [], [], t)
    if r:
        try:
            out += os.read(fd, 4096)
        except OSError:
            return False
    return True
deadline = time.time() + 20
while b"(not shown)" not in out and time.time() < deadline:
    read_some(0.2)
echo_was_off = False
while time.time() < deadline:  # the prompt comes first, then echo goes off
    if not termios.tcgetattr(fd)[3] & termios.ECHO:
        echo_was_off = True
        break
    time.sleep(0.05)
os.write(fd, secret.encode() + b"\n")
while time.time() < deadline and read_some(0.2) and b"sealed:" not in out:
    pass
echo_back = termios.tcgetattr(fd)[3] & termios.ECHO
_, status = os.waitpid(pid, 0)
text = out.decode(errors="replace")
print(text)
ok = (echo_was_off and echo_back and os.WEXITSTATUS(status) == 0 and secret not in text
      and "sealed: the client secret of agent agent-alpha" in text)
print("echo off:", echo_was_off, "restored:", bool(echo_back), "exit:", os.WEXITSTATUS(status))
sys.exit(0 if ok else 1)
PYEOF
    tap_ok "on a terminal: prompt, no echo while typed, terminal restored, the secret never shown"
else
    tap_fail "seal on a terminal without echo" "$(cat "$work/tty.out")"
fi
[ "$("$CTL" tpm unseal --in "$SEALED" --stdout --tcti "$TCTI_A" 2>/dev/null)" = "$ALPHA_SECRET" ] &&
    tap_ok "the secret typed on the terminal is what was sealed" ||
    tap_fail "the secret typed on the terminal is what was sealed"

if ! helper_start main "$work/oc.conf"; then
    tap_fail "openclawd starts" "$(cat "$work/main.log")"
    tap_done
    exit 1
fi
t=$(as_uid $UID_A "$OCT" --socket "$S" 2>"$work/a.err")
if [ -n "$t" ] && [ "$(jwt_claim "$t" appid)" = "$ALPHA_APP" ] &&
    [ "$(jwt_claim "$t" appidacr)" = 1 ]; then
    tap_ok "openclawd gets agent-alpha's token from the tenant with the sealed secret"
else
    tap_fail "openclawd gets agent-alpha's token with the sealed secret" \
        "$(cat "$work/a.err"; tail -5 "$work/main.log")"
fi

# resealed (storage key rsa, a PCR policy): atomically replaced, used at the next fetch
ino=$(stat -c %i "$SEALED")
if printf '%s' "$ALPHA_SECRET" | "$CTL" seal agent-alpha "${C[@]}" --parent rsa --pcrs sha256:16 \
    >"$work/seal2.out" 2>"$work/seal2.err" && [ "$(stat -c %i "$SEALED")" != "$ino" ] &&
    grep -q "PCR policy" "$work/seal2.out" && [ "$(stat -c '%a %u' "$SEALED")" = "600 $duid" ]; then
    tap_ok "reseal (--parent rsa, --pcrs): the file replaced by rename, same mode and owner"
else
    tap_fail "reseal with --parent rsa --pcrs" "$(cat "$work/seal2.err")"
fi
t2=$("$CTL" token agent-alpha --config "$work/oc.conf" --max-age 0 2>"$work/t2.err")
[ -n "$t2" ] && [ "$(jwt_claim "$t2" appid)" = "$ALPHA_APP" ] &&
    tap_ok "openclawd unseals the resealed secret (rsa storage key, PCR policy) at the next fetch" ||
    tap_fail "the resealed secret is used" "$(cat "$work/t2.err"; tail -3 "$work/main.log")"

# sealed on another TPM (--tcti names swtpm B): openclawd, on swtpm A, refuses it
if printf '%s\n' "$ALPHA_SECRET" | "$CTL" seal agent-alpha "${C[@]}" --tcti "$TCTI_B" \
    >/dev/null 2>"$work/sealB.err"; then
    tap_ok "--tcti: sealed to swtpm B instead"
else
    tap_fail "--tcti: sealed to swtpm B" "$(cat "$work/sealB.err")"
fi
out=$("$CTL" token agent-alpha --config "$work/oc.conf" --max-age 0 2>"$work/tB.err")
rc=$?
if [ $rc -eq 1 ] && [ -z "$out" ] && grep -q "sealed on another TPM" "$work/tB.err" &&
    grep -q "agent agent-alpha: sealed_file .* was sealed on another TPM" "$work/main.log"; then
    tap_ok "a blob sealed on another swtpm is refused, with the fix in the log"
else
    tap_fail "a blob sealed on another swtpm is refused" "rc=$rc $(cat "$work/tB.err"; tail -3 "$work/main.log")"
fi
if ! grep -qF -- "$ALPHA_SECRET" "$work/main.log"; then
    tap_ok "the secret is not in openclawd's log"
else
    tap_fail "the secret is not in openclawd's log"
fi
helper_stop "$HELPER_PID_main"
rc=$?
HELPER_PID_main=""
[ $rc -eq 0 ] && tap_ok "openclawd exits cleanly" || tap_fail "openclawd exits cleanly" "rc=$rc"
grep -q "Sanitizer\|runtime error" "$work/main.log" "$work"/*.err &&
    tap_fail "no sanitizer report" || tap_ok "no sanitizer report"
tap_done
