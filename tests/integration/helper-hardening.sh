#!/bin/bash
# openclawd keeps tokens and key material out of reach of the agent's
# session and of the disk (docs/security.md): the process is not dumpable
# (another process of the daemon's uid cannot read its memory or
# environment through /proc or ptrace), its core limit is 0, its memory is
# locked when the limit allows (root here), and the shipped unit sets
# LimitCORE=0 and LimitMEMLOCK=infinity. Prints TAP.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

[ "$(id -u)" = 0 ] || tap_skip_all "needs root (a daemon under another uid, setpriv)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
[ -x "$OCD" ] || tap_skip_all "openclawd not built"

UID_D=4240
work=$(mktemp -d "${TMPDIR:-/tmp}/oc-hard.XXXXXX")
chmod 755 "$work"
HELPER_PID_root=""
PID_user=""
cleanup() {
    helper_stop "$HELPER_PID_root"
    helper_stop "$PID_user"
    rm -rf "$work"
}
trap cleanup EXIT
uid_copies "$work/bin" # the daemon under another uid: a copy, never the tree

conf() { # DIR: a daemon config with no reachable tenant
    mkdir -p "$1/state"
    printf '[global]\ntenant_id = 5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c\nauthority = https://127.0.0.1:1\n' >"$1/oc.conf"
    printf 'audiences = api://openclaw-host\nstate_dir = %s/state\nsocket = %s/oc.sock\n' "$1" "$1" >>"$1/oc.conf"
    chmod 644 "$1/oc.conf"
}

# --- as an unprivileged user, like the openclaw account --------------------------
mkdir -p "$work/user"
conf "$work/user"
chown -R $UID_D "$work/user/state"; chown $UID_D "$work/user"
setpriv --reuid=$UID_D --regid=$UID_D --clear-groups "$OCD" --config "$work/user/oc.conf" \
    --foreground >"$work/user.log" 2>&1 &
PID_user=$!
if wait_for 10 grep -q "listening on" "$work/user.log"; then
    owner=$(stat -c %u "/proc/$PID_user/environ")
    tap_check "not dumpable: /proc/PID/environ of the daemon (uid $UID_D) belongs to root" test "$owner" = 0
    out=$(setpriv --reuid=$UID_D --regid=$UID_D --clear-groups cat "/proc/$PID_user/environ" 2>&1)
    tap_check "another process of the daemon's uid cannot read its /proc/PID/environ" \
        sh -c 'printf "%s" "$1" | grep -q "Permission denied"' _ "$out"
    out=$(setpriv --reuid=$UID_D --regid=$UID_D --clear-groups dd if="/proc/$PID_user/mem" bs=1 count=1 2>&1)
    tap_check "... nor its memory (/proc/PID/mem)" sh -c 'printf "%s" "$1" | grep -q "Permission denied"' _ "$out"
    tap_check "core file size limit 0" sh -c "grep -q '^Max core file size *0 *0' /proc/$PID_user/limits"
    tap_check "a finite RLIMIT_MEMLOCK is said in the log" grep -q "memory not locked: RLIMIT_MEMLOCK is finite" "$work/user.log"
else
    tap_fail "openclawd starts as uid $UID_D" "$(cat "$work/user.log")"
fi

# --- as root (tests): memory locked ----------------------------------------------
mkdir -p "$work/root"
conf "$work/root"
if helper_start root "$work/root/oc.conf"; then
    kb=$(awk '/^VmLck:/ { print $2 }' "/proc/$HELPER_PID_root/status")
    if nm "$OCD" 2>/dev/null | grep -q "__asan_init\|__tsan_init"; then
        # the sanitizer runtimes make mlock/mlockall no-ops
        tap_skip "memory locked" "sanitizer build: its runtime turns mlockall into a no-op"
    else
        tap_check "memory locked (VmLck ${kb:-?} kB > 0)" test "${kb:-0}" -gt 0
    fi
else
    tap_fail "openclawd starts as root" "$(cat "$work/root.log")"
fi

unit="$top_srcdir/data/openclawd.service"
tap_check "the unit sets LimitCORE=0 and LimitMEMLOCK=infinity and allows mlockall" sh -c \
    "grep -qx 'LimitCORE=0' '$unit' && grep -qx 'LimitMEMLOCK=infinity' '$unit' && grep -q '^SystemCallFilter=.*@memlock' '$unit'"

tap_done
