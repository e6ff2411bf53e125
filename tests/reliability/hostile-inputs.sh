#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile inputs through the real binaries, not the unit API:
#   tokens  -> openclawctl verify-token and pam_openclaw (libpam driver)
#   configs -> openclawctl check-config, and pam_openclaw with a valid token
#   caches  -> libnss_openclaw.so.2 (every lookup kind, dlopen'ed)
#   frames  -> a running openclawd's socket, as root and as another uid
# Every input must be refused with a reason (an audit reason, a failed
# check, a config error line, NSS UNAVAIL, an error answer or a closed
# connection); none may be accepted, crash or hang, and openclawd must
# answer a ping after each frame with no fd growth. The inputs come from
# hostile_inputs.py (deterministic). Ends with a summary table. Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

CTL="$top_builddir/helper/openclawctl"
CONV="$top_builddir/tests/integration/pam-askpass-conv"
PROBE="$top_builddir/tests/reliability/nss-probe"
GEN="$top_srcdir/tests/reliability/hostile_inputs.py"
MOD=$(pam_module)

command -v curl >/dev/null || tap_skip_all "curl missing (scripts/install-deps.sh)"
"$OC_PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
[ "$(id -u)" = 0 ] || tap_skip_all "needs root (root-owned configs, a second uid for frames)"
for b in "$CTL" "$CONV" "$PROBE" "$OCD"; do
    [ -x "$b" ] || tap_skip_all "$b not built (make check builds it)"
done
grep -q OPENCLAW_TEST_AUDIT_FILE "$MOD" || tap_skip_all "not a --enable-test-hooks build"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

work=$(mktemp -d /tmp/oc-hostile.XXXXXX)
chmod 755 "$work"
PAM_WORK=$work
export PAM_WORK
HELPER_PID_main=""
cleanup() {
    helper_stop "$HELPER_PID_main" >/dev/null 2>&1
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT
tenant_start "$work/tenant" || tap_setup_fail "the local tenant did not start"
mkdir -p "$work/jwks" "$work/svc" "$work/run" "$work/tally" "$work/pamdir" "$work/state"
chmod 700 "$work/tally"
tenant_get "/$TENANT_ID/discovery/v2.0/keys" >"$work/jwks/keys.json"
export TZ=UTC OPENCLAW_TEST_AUDIT_FILE="$work/audit.log"
conf=$work/openclaw.conf
pam_write_config "$conf" ""
sed -i "s|^\[global\]|[global]\nstate_dir = $work/state|" "$conf"
mkdir -p "$work/state/keys"
chmod 700 "$work/state/keys"
printf 'auth required %s config=%s nodelay\naccount required %s config=%s\n' \
    "$MOD" "$conf" "$MOD" "$conf" >"$work/svc/sshd"

declare -A tried refused crashed accepted
for k in tokens configs caches frames; do
    tried[$k]=0 refused[$k]=0 crashed[$k]=0 accepted[$k]=0
done
# outcome KIND ID DESC RESULT DETAIL; RESULT: refused | accepted | crashed
outcome() {
    local kind=$1 id=$2 desc=$3 result=$4 detail=${5:-}
    tried[$kind]=$((tried[$kind] + 1))
    case $result in
    refused)
        refused[$kind]=$((refused[$kind] + 1))
        tap_ok "$kind $id ($desc): refused, $detail"
        ;;
    accepted)
        accepted[$kind]=$((accepted[$kind] + 1))
        tap_fail "$kind $id ($desc): must be refused" "$detail"
        ;;
    *)
        crashed[$kind]=$((crashed[$kind] + 1))
        tap_fail "$kind $id ($desc): no crash, no hang" "$detail"
        ;;
    esac
}
# the driver's or tool's exit status: >= 124 is a timeout, a signal or a sanitizer abort
is_crash() { [ "$1" -ge 124 ] || grep -q "Sanitizer\|runtime error" "$2" 2>/dev/null; }

pam_try() { # CONFIG TOKENFILE -> rc; audit line in $work/audit.log
    : >"$work/audit.log"
    rm -f "$work"/tally/agent-*
    printf 'auth required %s config=%s nodelay\naccount required %s config=%s\n' \
        "$MOD" "$1" "$MOD" "$1" >"$work/svc/sshd"
    timeout 30 "$CONV" -d "$work/svc" sshd agent-alpha authenticate acct_mgmt <"$2" \
        >"$work/pam.out" 2>&1
}

phase_start=$SECONDS
# ---------------------------------------------------------------- tokens
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$work/good.token"
pam_try "$conf" "$work/good.token"
rc=$?
"$CTL" verify-token --config "$conf" --json --user agent-alpha --service sshd \
    <"$work/good.token" >/dev/null 2>&1
vrc=$?
if [ $rc -eq 0 ] && [ $vrc -eq 0 ]; then
    tap_ok "control: the unmodified token is accepted by verify-token and by the PAM stack"
else
    tap_fail "control: the unmodified token is accepted" "pam rc=$rc verify rc=$vrc $(cat "$work/pam.out")"
fi
export TENANT_ID BETA_APP BETA_OID
"$OC_PY" "$GEN" tokens "$work/tokens" "$work/good.token" >/dev/null 2>"$work/gen.err" ||
    tap_fail "generating the hostile tokens" "$(cat "$work/gen.err")"
while IFS=$'\t' read -r id desc; do
    f=$work/tokens/$id
    out=$(timeout 30 "$CTL" verify-token --config "$conf" --json --user agent-alpha \
        --service sshd <"$f" 2>"$work/v.err")
    vrc=$?
    failed=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"failed":[[:space:]]*"\([^"]*\)".*/\1/p')
    pam_try "$conf" "$f"
    prc=$?
    reason=$(sed -n 's/.*result=\(failure\|error\) reason=\([^ ]*\).*/\2/p' "$work/audit.log" | head -n 1)
    if is_crash $vrc "$work/v.err" || is_crash $prc "$work/pam.out"; then
        outcome tokens "$id" "$desc" crashed "verify rc=$vrc pam rc=$prc $(head -c 600 "$work/v.err" "$work/pam.out")"
    elif [ $vrc -eq 0 ] || [ $prc -eq 0 ]; then
        outcome tokens "$id" "$desc" accepted "verify rc=$vrc pam rc=$prc"
    elif [ -z "$failed$(head -c 200 "$work/v.err")" ] || [ -z "$reason" ]; then
        outcome tokens "$id" "$desc" crashed "refused without a reason: verify '$failed' pam '$reason' $(cat "$work/audit.log")"
    else
        outcome tokens "$id" "$desc" refused "verify: ${failed:-$(head -n 1 "$work/v.err")}; pam: $reason"
    fi
done <"$work/tokens/list"

printf "# %s: %d s\n" tokens $((SECONDS - phase_start))
phase_start=$SECONDS
# ---------------------------------------------------------------- configs
if "$CTL" check-config --config "$conf" --pam-dir "$work/pamdir" --daemon-user root >"$work/cc.out" 2>&1; then
    tap_ok "control: the unmodified config passes check-config"
else
    tap_fail "control: the unmodified config passes check-config" "$(cat "$work/cc.out")"
fi
"$OC_PY" "$GEN" configs "$work/configs" "$conf" >/dev/null 2>"$work/gen.err" ||
    tap_fail "generating the hostile configs" "$(cat "$work/gen.err")"
while IFS=$'\t' read -r id desc; do
    f=$work/configs/$id
    chmod 644 "$f"
    timeout 30 "$CTL" check-config --config "$f" --pam-dir "$work/pamdir" --daemon-user root >"$work/cc.out" 2>&1
    crc=$?
    pam_try "$f" "$work/good.token"
    prc=$?
    if is_crash $crc "$work/cc.out" || is_crash $prc "$work/pam.out"; then
        outcome configs "$id" "$desc" crashed "check-config rc=$crc pam rc=$prc $(head -c 600 "$work/cc.out" "$work/pam.out")"
    elif [ $crc -eq 0 ] || [ $prc -eq 0 ]; then
        outcome configs "$id" "$desc" accepted "check-config rc=$crc pam rc=$prc $(head -c 300 "$work/cc.out")"
    elif ! [ -s "$work/cc.out" ]; then
        outcome configs "$id" "$desc" crashed "check-config rc=$crc said nothing"
    else
        outcome configs "$id" "$desc" refused "$(grep -m 1 -v '^ *$' "$work/cc.out" | cut -c 1-120); pam rc=$prc"
    fi
done <"$work/configs/list"

printf "# %s: %d s\n" configs $((SECONDS - phase_start))
phase_start=$SECONDS
# ---------------------------------------------------------------- caches
nconf=$work/nss.conf
cp "$conf" "$nconf"
sed -i "s|^\[global\]|[global]\nnss_cache = $work/cache.under.test|" "$nconf"
if "$CTL" cache rebuild --config "$conf" --output "$work/good.cache" >"$work/cr.out" 2>&1; then
    cp "$work/good.cache" "$work/cache.under.test"
    uid_a=$(OPENCLAW_CONFIG=$nconf timeout 30 "$PROBE" agent-alpha 0 agent-alpha 2>/dev/null |
        sed -n 's/.* uid=\([0-9]*\)$/\1/p')
    uid_a=${uid_a:-0}
    out=$(OPENCLAW_CONFIG=$nconf timeout 30 "$PROBE" agent-alpha "$uid_a" agent-alpha 2>&1)
    case $out in
    pwnam=SUCCESS*) tap_ok "control: the intact cache answers ($out)" ;;
    *) tap_fail "control: the intact cache answers" "$out" ;;
    esac
    "$OC_PY" "$GEN" caches "$work/caches" "$work/good.cache" >/dev/null 2>"$work/gen.err" ||
        tap_fail "generating the hostile caches" "$(cat "$work/gen.err")"
    while IFS=$'\t' read -r id desc; do
        cp "$work/caches/$id" "$work/cache.under.test.tmp"
        chmod 644 "$work/cache.under.test.tmp"
        mv -f "$work/cache.under.test.tmp" "$work/cache.under.test"
        out=$(OPENCLAW_CONFIG=$nconf timeout 30 "$PROBE" agent-alpha "$uid_a" agent-alpha 2>"$work/probe.err")
        prc=$?
        if is_crash $prc "$work/probe.err" || [ $prc -ne 0 ]; then
            outcome caches "$id" "$desc" crashed "rc=$prc $(head -c 600 "$work/probe.err")"
        elif [ "$out" = "pwnam=UNAVAIL pwuid=UNAVAIL grnam=UNAVAIL grgid=UNAVAIL pwent=UNAVAIL/0" ]; then
            outcome caches "$id" "$desc" refused "every lookup UNAVAIL"
        else
            outcome caches "$id" "$desc" accepted "$out"
        fi
    done <"$work/caches/list"
else
    tap_fail "openclawctl cache rebuild" "$(cat "$work/cr.out")"
fi

printf "# %s: %d s\n" caches $((SECONDS - phase_start))
phase_start=$SECONDS
# ---------------------------------------------------------------- frames
printf '%s\n' 'openclaw-hostile-test-secret' >"$work/alpha.secret"
chmod 600 "$work/alpha.secret"
{
    conf_global "$work/state" "$work/run/ocd.sock" "$ISSUER_V2_LINE" \
        "allow_insecure_credentials = yes"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "credential = secret-file" \
        "secret_file = $work/alpha.secret"
} >"$work/daemon.conf"
chmod 644 "$work/daemon.conf"
if helper_start main "$work/daemon.conf" --no-token-store; then
    "$OC_PY" "$GEN" frames "$work/frames" >/dev/null 2>"$work/gen.err" ||
        tap_fail "generating the hostile frames" "$(cat "$work/gen.err")"
    fds_before=$(ls "/proc/$HELPER_PID_main/fd" | wc -l)
    # one sender per uid kind: prints "ID<TAB>ANSWER<TAB>PING" per frame
    sender='
import os, socket, struct, sys
sock, d, who = sys.argv[1], sys.argv[2], sys.argv[3]
def talk(data):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(sock)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        buf = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            buf += c
            if len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
                break
    except (BrokenPipeError, ConnectionResetError):
        return "CLOSED"
    except socket.timeout:
        return "TIMEOUT"
    finally:
        s.close()
    if len(buf) < 4:
        return "CLOSED"
    return buf[4:4 + struct.unpack(">I", buf[:4])[0]].decode("utf-8", "replace").replace("\t", " ")[:200]
ping = struct.pack(">I", 15) + b"{\"type\":\"ping\"}"
for line in open(os.path.join(d, "list")):
    fid, kind, desc = line.rstrip("\n").split("\t", 2)
    if kind != who:
        continue
    ans = talk(open(os.path.join(d, fid), "rb").read())
    p = talk(ping)
    print("%s\t%s\t%s" % (fid, ans, "PONG" if "\"ok\":true" in p.replace(" ", "") else p))
'
    chmod 755 "$work/frames"
    chmod 644 "$work/frames"/*
    {
        timeout 120 "$OC_PY" -c "$sender" "$work/run/ocd.sock" "$work/frames" root
        as_uid 65534 timeout 120 "$OC_PY" -c "$sender" "$work/run/ocd.sock" "$work/frames" user
    } >"$work/frames.out" 2>"$work/frames.err"
    while IFS=$'\t' read -r id kind desc; do
        line=$(grep -m 1 "^$id	" "$work/frames.out")
        ans=$(printf '%s' "$line" | cut -f 2)
        ping=$(printf '%s' "$line" | cut -f 3)
        if [ -z "$line" ] || [ "$ping" != PONG ] || ! kill -0 "$HELPER_PID_main" 2>/dev/null; then
            outcome frames "$id" "$desc" crashed "answer '$ans', ping '$ping' $(tail -n 3 "$work/main.log" "$work/frames.err")"
        elif [ "$ans" = CLOSED ] || printf '%s' "$ans" | tr -d ' ' | grep -q '"ok":false'; then
            outcome frames "$id" "$desc" refused "as $kind: $(printf '%s' "$ans" | cut -c 1-90)"
        else
            outcome frames "$id" "$desc" accepted "as $kind: $ans"
        fi
    done <"$work/frames/list"
    fds_after=$(ls "/proc/$HELPER_PID_main/fd" 2>/dev/null | wc -l)
    if [ "$fds_after" -eq "$fds_before" ]; then
        tap_ok "openclawd holds as many fds after the frames as before ($fds_before)"
    else
        tap_fail "openclawd fds after the frames" "$fds_before before, $fds_after after"
    fi
    helper_stop "$HELPER_PID_main"
    rc=$?
    HELPER_PID_main=""
    [ $rc -eq 0 ] && tap_ok "openclawd exits cleanly after the hostile frames" ||
        tap_fail "openclawd exits cleanly after the hostile frames" "rc=$rc $(tail -n 5 "$work/main.log")"
    if grep -q "Sanitizer\|runtime error" "$work/main.log"; then
        tap_fail "no sanitizer report from openclawd" "$(grep -m 3 "Sanitizer\|runtime error" "$work/main.log")"
    fi
else
    tap_fail "openclawd starts for the frame inputs" "$(tail -n 5 "$work/main.log")"
fi

printf "# %s: %d s\n" frames $((SECONDS - phase_start))
phase_start=$SECONDS
# ---------------------------------------------------------------- summary
total=0 total_c=0 total_a=0
printf '# | inputs | tried | refused with a reason | accepted | crashed or hung |\n'
printf '# |---|---:|---:|---:|---:|\n'
for k in tokens configs caches frames; do
    printf '# | %s | %d | %d | %d | %d |\n' "$k" "${tried[$k]}" "${refused[$k]}" "${accepted[$k]}" "${crashed[$k]}"
    total=$((total + tried[$k]))
    total_a=$((total_a + accepted[$k]))
    total_c=$((total_c + crashed[$k]))
done
printf '# | all | %d | %d | %d | %d |\n' "$total" "$((total - total_a - total_c))" "$total_a" "$total_c"
if [ "$total" -ge 200 ]; then
    tap_ok "at least 200 hostile inputs tried through the real binaries ($total)"
else
    tap_fail "at least 200 hostile inputs tried" "only $total"
fi
tap_done
