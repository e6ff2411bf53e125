#!/bin/bash
# SPDX-License-Identifier: MIT
# Hostile inputs through the real binaries, not the unit API:
#   tokens  -> openclawctl verify-token and pam_openclaw (libpam driver)
#   configs -> openclawctl check-config, and pam_openclaw with a valid token
#   caches  -> libnss_openclaw.so.2 (every lookup kind, dlopen'ed)
#   frames  -> a running openclawd's socket, as root and as another uid
# Every input carries the reason it must be refused for (hostile_inputs.py:
# the audit reason and verify-token's failed check, the config error text,
# NSS UNAVAIL from every lookup, openclawd's answer or log line) and counts
# only when that reason is seen; a refusal for another reason, a closed
# connection without one, an acceptance, a crash or a hang fails. openclawd
# must answer a ping after each frame with no fd growth. Negative controls:
# an input checked against another input's expected reason must not count.
# The inputs are deterministic. Ends with a summary table. Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

CTL="$top_builddir/helper/ctl/openclawctl"
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
mkdir -p "$work/jwks" "$work/svc" "$work/run" "$work/tally" "$work/pamdir" "$work/state" "$work/trust"
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

declare -A tried refused wrong crashed accepted
for k in tokens configs caches frames; do
    tried[$k]=0 refused[$k]=0 wrong[$k]=0 crashed[$k]=0 accepted[$k]=0
done
# outcome KIND ID DESC RESULT DETAIL; RESULT: refused (for the expected
# reason) | wrong (refused, but for another reason or none) | accepted | crashed
outcome() {
    local kind=$1 id=$2 desc=$3 result=$4 detail=${5:-}
    tried[$kind]=$((tried[$kind] + 1))
    case $result in
    refused)
        refused[$kind]=$((refused[$kind] + 1))
        tap_ok "$kind $id ($desc): refused for the expected reason, $detail"
        ;;
    wrong)
        wrong[$kind]=$((wrong[$kind] + 1))
        tap_fail "$kind $id ($desc): refused for the expected reason" "$detail"
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
# token_verdict EXPECT VRC PRC: needs $failed, $reason, v.err, pam.out
token_verdict() {
    local got="pam=$reason verify=${failed:-$(head -n 1 "$work/v.err")}"
    if is_crash "$2" "$work/v.err" || is_crash "$3" "$work/pam.out"; then
        echo crashed
    elif [ "$2" -eq 0 ] || [ "$3" -eq 0 ]; then
        echo accepted
    elif [ "$got" = "$1" ]; then
        echo refused
    else
        echo wrong
    fi
}
token_try() { # FILE: runs verify-token and the PAM stack; sets vrc prc failed reason
    out=$(timeout 30 "$CTL" verify-token --config "$conf" --json --user agent-alpha \
        --service sshd <"$1" 2>"$work/v.err")
    vrc=$?
    failed=$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"failed":[[:space:]]*"\([^"]*\)".*/\1/p')
    pam_try "$conf" "$1"
    prc=$?
    reason=$(sed -n 's/.*result=\(failure\|error\) reason=\([^ ]*\).*/\2/p' "$work/audit.log" | head -n 1)
}
while IFS=$'\t' read -r id expect desc; do
    f=$work/tokens/$id
    token_try "$f"
    v=$(token_verdict "$expect" $vrc $prc)
    case $v in
    crashed) detail="verify rc=$vrc pam rc=$prc $(head -c 600 "$work/v.err" "$work/pam.out")" ;;
    accepted) detail="verify rc=$vrc pam rc=$prc" ;;
    refused) detail="$expect" ;;
    *) detail="expected '$expect', got 'pam=$reason verify=${failed:-$(head -n 1 "$work/v.err")}' $(cat "$work/audit.log")" ;;
    esac
    outcome tokens "$id" "$desc" "$v" "$detail"
done <"$work/tokens/list"
# negative control: the first token checked against another token's
# expected reason must not count as refused for its reason
if [ -s "$work/tokens/list" ]; then
    IFS=$'\t' read -r id expect desc <"$work/tokens/list"
    other=$(cut -f 2 "$work/tokens/list" | grep -vxF -- "$expect" | head -n 1)
    token_try "$work/tokens/$id"
    v=$(token_verdict "$other" $vrc $prc)
    [ "$v" = wrong ] && tap_ok "negative control: token $id checked against '$other' is not counted (got '$(token_verdict "$expect" $vrc $prc)' for its own '$expect')" ||
        tap_fail "negative control: token $id checked against '$other' must not count" "verdict $v"
fi

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
config_try() { # FILE: check-config and the PAM stack on it; sets crc prc first
    chmod 644 "$1"
    timeout 30 "$CTL" check-config --config "$1" --pam-dir "$work/pamdir" --daemon-user root >"$work/cc.out" 2>&1
    crc=$?
    pam_try "$1" "$work/good.token"
    prc=$?
    first=$(grep -m 1 -v '^ *$' "$work/cc.out")
}
config_verdict() { # EXPECT (an ERE over check-config's first line)
    if is_crash $crc "$work/cc.out" || is_crash $prc "$work/pam.out"; then
        echo crashed
    elif [ $crc -eq 0 ] || [ $prc -eq 0 ]; then
        echo accepted
    elif printf '%s\n' "$first" | grep -Eq -- "$1"; then
        echo refused
    else
        echo wrong
    fi
}
while IFS=$'\t' read -r id expect desc; do
    config_try "$work/configs/$id"
    v=$(config_verdict "$expect")
    case $v in
    crashed) detail="check-config rc=$crc pam rc=$prc $(head -c 600 "$work/cc.out" "$work/pam.out")" ;;
    accepted) detail="check-config rc=$crc pam rc=$prc $(head -c 300 "$work/cc.out")" ;;
    refused) detail="$(printf '%s' "$first" | sed "s|$work/||" | cut -c 1-120); pam rc=$prc" ;;
    *) detail="expected /$expect/, got: ${first:-nothing} (rc=$crc)" ;;
    esac
    outcome configs "$id" "$desc" "$v" "$detail"
done <"$work/configs/list"
# negative control: "uid_min above uid_max" checked against the socket
# path's expected reason must not count
id=$(awk -F'\t' '$3 == "uid_min above uid_max" { print $1 }' "$work/configs/list")
other=$(awk -F'\t' '$3 == "a socket path too long for sun_path" { print $2 }' "$work/configs/list")
if [ -n "$id" ] && [ -n "$other" ]; then
    config_try "$work/configs/$id"
    v=$(config_verdict "$other")
    [ "$v" = wrong ] && tap_ok "negative control: config $id (uid_min above uid_max) checked against /$other/ is not counted" ||
        tap_fail "negative control: config $id checked against another reason must not count" "verdict $v: $first"
else
    tap_fail "negative control: configs" "inputs not found in the list"
fi
# negative control with the product broken on purpose: a test build whose
# config check no longer compares uid_min with uid_max
# (OPENCLAW_TEST_BREAK=uid-range) must not get "uid_min above uid_max"
# counted as refused for its reason
if [ -n "$id" ]; then
    expect=$(awk -F'\t' -v id="$id" '$1 == id { print $2 }' "$work/configs/list")
    OPENCLAW_TEST_BREAK=uid-range config_try "$work/configs/$id"
    v=$(config_verdict "$expect")
    [ "$v" != refused ] && [ "$v" != crashed ] &&
        tap_ok "negative control: with the uid range check broken on purpose, config $id (uid_min above uid_max) is not counted as refused (verdict: $v)" ||
        tap_fail "negative control: with the uid range check broken, config $id must not count as refused" "verdict $v: $first"
fi

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
    while IFS=$'\t' read -r id expect desc; do
        cp "$work/caches/$id" "$work/cache.under.test.tmp"
        chmod 644 "$work/cache.under.test.tmp"
        mv -f "$work/cache.under.test.tmp" "$work/cache.under.test"
        out=$(OPENCLAW_CONFIG=$nconf timeout 30 "$PROBE" agent-alpha "$uid_a" agent-alpha 2>"$work/probe.err")
        prc=$?
        if is_crash $prc "$work/probe.err" || [ $prc -ne 0 ]; then
            outcome caches "$id" "$desc" crashed "rc=$prc $(head -c 600 "$work/probe.err")"
        elif [ "$expect" = UNAVAIL ] &&
            [ "$out" = "pwnam=UNAVAIL pwuid=UNAVAIL grnam=UNAVAIL grgid=UNAVAIL pwent=UNAVAIL/0" ]; then
            outcome caches "$id" "$desc" refused "every lookup UNAVAIL"
        elif printf '%s' "$out" | grep -q 'SUCCESS'; then
            outcome caches "$id" "$desc" accepted "$out"
        else
            outcome caches "$id" "$desc" wrong "expected every lookup $expect, got $out"
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
    # one sender per uid kind: prints "ID<TAB>ANSWER<TAB>PING<TAB>LOG" per
    # frame, LOG the lines openclawd wrote from the frame to the ping's answer
    sender='
import os, socket, struct, sys
sock, d, who, logf = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
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
    fid, kind, expect, desc = line.rstrip("\n").split("\t", 3)
    if kind != who:
        continue
    start = os.path.getsize(logf)
    ans = talk(open(os.path.join(d, fid), "rb").read())
    p = talk(ping)
    with open(logf, "rb") as f:
        f.seek(start)
        log = f.read().decode("utf-8", "replace").replace("\t", " ").strip().replace("\n", " | ")
    print("%s\t%s\t%s\t%s" % (fid, ans, "PONG" if "\"ok\":true" in p.replace(" ", "") else p, log[:600]))
'
    chmod 755 "$work/frames"
    chmod 644 "$work/frames"/*
    {
        timeout 120 "$OC_PY" -c "$sender" "$work/run/ocd.sock" "$work/frames" root "$work/main.log"
        as_uid 65534 timeout 120 "$OC_PY" -c "$sender" "$work/run/ocd.sock" "$work/frames" user "$work/main.log"
    } >"$work/frames.out" 2>"$work/frames.err"
    # frame_verdict EXPECT: needs $line, $ans, $ping, $log
    frame_verdict() {
        if [ -z "$line" ] || [ "$ping" != PONG ] || ! kill -0 "$HELPER_PID_main" 2>/dev/null; then
            echo crashed
        elif [ "$ans" != CLOSED ] && ! printf '%s' "$ans" | tr -d ' ' | grep -q '"ok":false'; then
            echo accepted
        elif [ "$1" = EOF ]; then
            # an incomplete frame: nothing to answer, nothing to log
            [ "$ans" = CLOSED ] && [ -z "$log" ] && echo refused || echo wrong
        elif printf '%s\n%s\n' "$ans" "$log" | grep -Eq -- "$1"; then
            echo refused
        else
            echo wrong
        fi
    }
    frame_read() { # ID: the sender's line for the frame
        line=$(grep -m 1 "^$1	" "$work/frames.out")
        ans=$(printf '%s' "$line" | cut -f 2)
        ping=$(printf '%s' "$line" | cut -f 3)
        log=$(printf '%s' "$line" | cut -f 4)
    }
    while IFS=$'\t' read -r id kind expect desc; do
        frame_read "$id"
        v=$(frame_verdict "$expect")
        case $v in
        crashed) detail="answer '$ans', ping '$ping' $(tail -n 3 "$work/main.log" "$work/frames.err")" ;;
        accepted) detail="as $kind: $ans" ;;
        refused) detail="as $kind: $(printf '%s' "${log:-$ans}" | sed 's/^.*openclawd[^:]*: //' | cut -c 1-110)" ;;
        *) detail="as $kind: expected /$expect/, got answer '$ans', log '$log'" ;;
        esac
        outcome frames "$id" "$desc" "$v" "$detail"
    done <"$work/frames/list"
    # negative control: the non-root get-token refusal checked against the
    # frame-length reason must not count
    id=$(awk -F'\t' '$2 == "user" && $4 ~ /^get-token of agent-alpha/ { print $1 }' "$work/frames/list")
    if [ -n "$id" ]; then
        frame_read "$id"
        v=$(frame_verdict "frame length 0 or over the 64 KiB cap")
        [ "$v" = wrong ] && tap_ok "negative control: frame $id (another uid's token) checked against the frame-length reason is not counted" ||
            tap_fail "negative control: frame $id checked against another reason must not count" "verdict $v"
    else
        tap_fail "negative control: frames" "input not found in the list"
    fi
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
total=0 total_r=0 total_w=0 total_c=0 total_a=0
printf '# | inputs | tried | refused for the expected reason | refused for another reason | accepted | crashed or hung |\n'
printf '# |---|---:|---:|---:|---:|---:|\n'
for k in tokens configs caches frames; do
    printf '# | %s | %d | %d | %d | %d | %d |\n' "$k" "${tried[$k]}" "${refused[$k]}" "${wrong[$k]}" \
        "${accepted[$k]}" "${crashed[$k]}"
    total=$((total + tried[$k]))
    total_r=$((total_r + refused[$k]))
    total_w=$((total_w + wrong[$k]))
    total_a=$((total_a + accepted[$k]))
    total_c=$((total_c + crashed[$k]))
done
printf '# | all | %d | %d | %d | %d | %d |\n' "$total" "$total_r" "$total_w" "$total_a" "$total_c"
echo "# hostile inputs: $total tried, $total_r refused for the expected reason"
if [ "$total" -ge 200 ]; then
    tap_ok "at least 200 hostile inputs tried through the real binaries ($total)"
else
    tap_fail "at least 200 hostile inputs tried" "only $total"
fi
tap_done
