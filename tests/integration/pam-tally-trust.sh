#!/bin/bash
# Root's own files (the failure tally and the one-time-token store) are out
# of every other account's reach (docs/security.md, "Root's own files"):
#  (a) the tally directory swapped for a symlink while PAM waits for the
#      token - by a throwaway uid that owns its parent (the daemon account
#      of the old layout), and by anyone who could rename it - never makes
#      root write elsewhere: the failure lands in the real directory or the
#      agent was refused before the prompt;
#  (b) a tally directory below a directory of another account, writable by
#      others, or reached through a symlink refuses agents (reason=tally),
#      and a human through the same stack is not affected;
#  (c) a tally file or uti.db that is a hard link or a symlink is neither
#      followed nor written.
# pamtester under pam_wrapper, the local tenant, setpriv for the other uid;
# everything in a temp dir, nothing of the host's /run or /etc.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"

mod=$(pam_module)
wrapper=$(ls /usr/lib/*/libpam_wrapper.so /usr/lib/libpam_wrapper.so 2>/dev/null | head -n1)
[ -f "$mod" ] || tap_skip_all "pam_openclaw.so not built"
[ -z "$(pam_sanitizer_preload)" ] || tap_skip_all "sanitizer build: pam-module.sh covers the module there"
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (root's files, another uid through setpriv)"
command -v pamtester >/dev/null || tap_skip_all "pamtester missing (scripts/install-deps.sh)"
command -v setpriv >/dev/null || tap_skip_all "setpriv (util-linux) missing"
[ -n "$wrapper" ] || tap_skip_all "libpam-wrapper missing (scripts/install-deps.sh)"
"$OC_PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
grep -q OPENCLAW_TEST_AUDIT_FILE "$mod" || tap_skip_all "not a --enable-test-hooks build"

# The other account (the daemon's in the old layout): a uid no one uses,
# no passwd entry needed for setpriv.
XUID=4242077
PAM_WORK=$(mktemp -d "${TMPDIR:-/tmp}/oc-tallytrust.XXXXXX")
export PAM_WORK
bg_pid=
cleanup() {
    [ -n "$bg_pid" ] && kill "$bg_pid" 2>/dev/null
    tenant_stop
    [ -n "${KEEP:-}" ] || rm -rf "$PAM_WORK"
}
trap cleanup EXIT
chmod 0755 "$PAM_WORK" # the other uid walks into its own directory below
tenant_start "$PAM_WORK/tenant" || tap_setup_fail "the local tenant did not start"
mkdir -p "$PAM_WORK/jwks" "$PAM_WORK/svc" "$PAM_WORK/run" "$PAM_WORK/out"
tenant_get "/$TENANT_ID/discovery/v2.0/keys" >"$PAM_WORK/jwks/keys.json"
export TZ=UTC
export OPENCLAW_TEST_AUDIT_FILE="$PAM_WORK/audit.log"
export OPENCLAW_TEST_INSECURE_CONFIG=1
as_x() { setpriv --reuid="$XUID" --regid="$XUID" --clear-groups "$@"; }

tk="$PAM_WORK/tok"
mkdir -m 0700 "$tk"
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$tk/alpha"
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_V2_URI/.default" >"$tk/alpha-v2"
[ -s "$tk/alpha" ] && [ -s "$tk/alpha-v2" ] || tap_setup_fail "the tenant issued no token"

# service NAME TALLY_DIR [EXTRA]: a config with that tally_dir and two PAM
# services: NAME (the module alone, for agents) and NAME-gate (the module
# in front of pam_permit as in a common stack: a human passes through).
service() {
    local name=$1 dir=$2 extra=${3:-} conf="$PAM_WORK/$1.conf"
    pam_write_config "$conf" "${extra:-"[service $name]
require_role = Host.Login"}"
    sed -i "s|^tally_dir = .*|tally_dir = $dir|" "$conf"
    printf 'auth required %s config=%s nodelay\n' "$mod" "$conf" >"$PAM_WORK/svc/$name"
    printf 'auth [success=done ignore=ignore default=die] %s config=%s nodelay\nauth required pam_permit.so\n' \
        "$mod" "$conf" >"$PAM_WORK/svc/$name-gate"
}
printf 'auth required pam_deny.so\n' >"$PAM_WORK/svc/other"

# pt SERVICE USER TOKENFILE: sets rc
pt() {
    LD_PRELOAD="$wrapper" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAM_WORK/svc" timeout 60 \
        pamtester -v "$1" "$2" authenticate <"$3" >>"$PAM_WORK/all.out" 2>&1
    rc=$?
}

# pamseq SERVICE USER [TOKENFILE | !SHELLCMD]...: one PAM handle in one
# process, pam_authenticate once per TOKENFILE (as sshd retries within a
# connection), shell commands in between; prints each result.
pamseq() {
    LD_PRELOAD="$wrapper" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAM_WORK/svc" timeout 60 \
        "$OC_PY" -c "$PAMSEQ_PY" "$@" 2>>"$PAM_WORK/all.out"
}
PAMSEQ_PY=$(cat <<'PY'
import ctypes, ctypes.util, subprocess, sys

# SERVICE USER [TOKENFILE | !SHELLCMD]...: one PAM handle, pam_authenticate
# once per TOKENFILE (as sshd retries), shell commands run in between.
libc = ctypes.CDLL(None)
libc.calloc.restype = ctypes.c_void_p
libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
libc.strdup.restype = ctypes.c_void_p
libc.strdup.argtypes = [ctypes.c_char_p]
ctypes.CDLL("libpam.so.0", mode=ctypes.RTLD_GLOBAL)
pam = ctypes.CDLL(None)  # pam_wrapper's pam_start (preloaded) before libpam's


class Msg(ctypes.Structure):
    _fields_ = [("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p)]


class Resp(ctypes.Structure):
    _fields_ = [("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int)]


CONV = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(Msg)),
                        ctypes.POINTER(ctypes.POINTER(Resp)), ctypes.c_void_p)


class Conv(ctypes.Structure):
    _fields_ = [("conv", CONV), ("appdata_ptr", ctypes.c_void_p)]


answer = [b""]


def conv(n, msgs, resp, _):
    arr = libc.calloc(n, ctypes.sizeof(Resp))
    r = ctypes.cast(arr, ctypes.POINTER(Resp))
    for i in range(n):
        if msgs[i].contents.msg_style in (1, 2):  # PAM_PROMPT_ECHO_OFF/ON
            r[i].resp = libc.strdup(answer[0])
    resp[0] = r
    return 0


c_conv = CONV(conv)
pam.pam_start.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(Conv),
                          ctypes.POINTER(ctypes.c_void_p)]
pam.pam_authenticate.argtypes = [ctypes.c_void_p, ctypes.c_int]
pam.pam_end.argtypes = [ctypes.c_void_p, ctypes.c_int]
service, user = sys.argv[1].encode(), sys.argv[2].encode()
h = ctypes.c_void_p()
cv = Conv(c_conv, None)
if pam.pam_start(service, user, ctypes.byref(cv), ctypes.byref(h)) != 0:
    sys.exit("pam_start failed")
rc = 0
for step in sys.argv[3:]:
    if step.startswith("!"):
        subprocess.run(step[1:], shell=True, check=True)
        continue
    answer[0] = open(step, "rb").read().strip()
    rc = pam.pam_authenticate(h, 0)
    print(rc, flush=True)
pam.pam_end(h, rc)
PY
)

# race SERVICE TOKENFILE CMD...: authenticate agent-alpha; once the module
# waits at its prompt (or pamtester has ended: refused before the prompt),
# run CMD, then answer with the token. Sets rc and prompted (y/n).
race_n=0
race() {
    local svc=$1 tok=$2 out fifo i
    shift 2
    race_n=$((race_n + 1))
    out="$PAM_WORK/out/race$race_n"
    fifo="$PAM_WORK/out/fifo$race_n"
    mkfifo "$fifo"
    exec 3<>"$fifo" # held open: pamtester's open never blocks, nor does our write
    LD_PRELOAD="$wrapper" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$PAM_WORK/svc" timeout 60 \
        pamtester -v "$svc" agent-alpha authenticate <"$fifo" >"$out" 2>&1 3>&- &
    bg_pid=$!
    prompted=n
    for i in $(seq 1 150); do # 30 s at most
        if grep -q "Entra token" "$out" 2>/dev/null; then
            prompted=y
            break
        fi
        kill -0 "$bg_pid" 2>/dev/null || break
        sleep 0.2
    done
    "$@"
    cat "$tok" >&3
    exec 3>&-
    for i in $(seq 1 300); do # 60 s at most
        kill -0 "$bg_pid" 2>/dev/null || break
        sleep 0.2
    done
    kill "$bg_pid" 2>/dev/null
    wait "$bg_pid"
    rc=$?
    bg_pid=
    cat "$out" >>"$PAM_WORK/all.out"
}

# A directory of root's the module must never write into: one file that
# stands for /etc/passwd, its copy, and a listing.
victim="$PAM_WORK/victim"
mkdir -m 0700 "$victim"
printf 'root:x:0:0:root:/root:/bin/bash\n' >"$victim/agent-alpha"
printf 'nothing to see\n' >"$victim/uti.db"
chmod 0600 "$victim/agent-alpha" "$victim/uti.db"
cp -a "$victim" "$PAM_WORK/victim.orig"
# each scenario starts from the original (a failing one leaves its mark)
reset_victim() {
    rm -rf "$victim"
    cp -a "$PAM_WORK/victim.orig" "$victim"
}
victim_untouched() {
    diff -r "$PAM_WORK/victim.orig" "$victim" >/dev/null 2>&1
}
audit_has() { grep -Eq -- "$1" "$OPENCLAW_TEST_AUDIT_FILE"; }
fresh_audit() { : >"$OPENCLAW_TEST_AUDIT_FILE"; }
# records of agent-alpha in a tally directory (0: no file)
records() {
    local f="$1/agent-alpha"
    [ -f "$f" ] || {
        echo 0
        return
    }
    "$OC_PY" -c 'import struct, sys; print(struct.unpack_from("<I", open(sys.argv[1], "rb").read(), 12)[0])' "$f"
}

# --- (a) the symlink swap while PAM waits for the token --------------------------
# The old layout: the tally directory root's 0700, its parent the other
# account's (the daemon's /run/openclaw).
D="$PAM_WORK/daemon"
install -d -o "$XUID" -g "$XUID" -m 0755 "$D"
install -d -m 0700 "$D/tally"
service daemonlayout "$D/tally"
swap_as_x() {
    as_x sh -c 'mv "$1/tally" "$1/tally.old" && ln -s "$2" "$1/tally"' _ "$D" "$victim"
}
reset_victim
fresh_audit
race daemonlayout "$tk/alpha-v2" swap_as_x
if victim_untouched; then
    tap_ok "(a) the daemon's uid swaps the tally dir for a symlink during the prompt: root writes nothing there"
else
    tap_fail "(a) the daemon's uid swaps the tally dir for a symlink during the prompt: root writes nothing there" \
        "$(ls -la "$victim"; diff -r "$PAM_WORK/victim.orig" "$victim" | head -5)"
fi
if [ "$rc" -ne 0 ] && audit_has "event=auth .*user=agent-alpha .*result=error reason=tally"; then
    tap_ok "(a) a tally dir whose parent another uid owns: the agent is refused (reason=tally, prompted=$prompted)"
else
    tap_fail "(a) a tally dir whose parent another uid owns: the agent is refused (reason=tally, prompted=$prompted)" \
        "rc=$rc $(cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
rm -f "$D/tally"
[ -d "$D/tally.old" ] && mv "$D/tally.old" "$D/tally"

# Root's layout; the directory renamed and replaced by a symlink during the
# prompt (only root can, now; any such swap): the descriptor opened before
# the prompt still names the real directory.
R="$PAM_WORK/root"
install -d -m 0755 "$R"
install -d -m 0700 "$R/tally"
service rootlayout "$R/tally"
swap_as_root() { mv "$R/tally" "$R/tally.real" && ln -s "$victim" "$R/tally"; }
reset_victim
fresh_audit
race rootlayout "$tk/alpha-v2" swap_as_root
if [ "$prompted" = y ] && victim_untouched; then
    tap_ok "(a) the tally dir renamed and swapped for a symlink during the prompt: the symlink's target untouched"
else
    tap_fail "(a) the tally dir renamed and swapped for a symlink during the prompt: the symlink's target untouched" \
        "prompted=$prompted $(ls -la "$victim"; diff -r "$PAM_WORK/victim.orig" "$victim" | head -5)"
fi
n=$(records "$R/tally.real")
if [ "$rc" -ne 0 ] && [ "$n" -eq 1 ] && audit_has "user=agent-alpha .*result=failure reason=audience"; then
    tap_ok "(a) ... and the failure is recorded in the real directory (1 record)"
else
    tap_fail "(a) ... and the failure is recorded in the real directory (1 record)" \
        "rc=$rc records=$n $(ls -la "$R/tally.real"; cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
rm -f "$R/tally"
mv "$R/tally.real" "$R/tally"
rm -f "$R/tally/agent-alpha"

# The same swap between two attempts in one PAM handle (the module keeps
# the directory it checked for the next attempt of the process): the
# second attempt notices it is no longer that directory and walks again.
reset_victim
fresh_audit
res=$(pamseq rootlayout agent-alpha "$tk/alpha" "!mv '$R/tally' '$R/tally.real' && ln -s '$victim' '$R/tally'" \
    "$tk/alpha-v2" | tr '\n' ' ')
if victim_untouched && [ "$(records "$R/tally.real")" -eq 0 ] && [ "${res%% *}" = 0 ] &&
    [ "$(echo "$res" | cut -d' ' -f2)" != 0 ] && audit_has "user=agent-alpha .*result=error reason=tally"; then
    tap_ok "(a) swapped between two attempts in one handle: the symlink not followed, the agent refused (reason=tally)"
else
    tap_fail "(a) swapped between two attempts in one handle: the symlink not followed, the agent refused (reason=tally)" \
        "results: $res $(diff -r "$PAM_WORK/victim.orig" "$victim" | head -5; cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
rm -f "$R/tally"
mv "$R/tally.real" "$R/tally"
rm -f "$R/tally/agent-alpha"

# --- (b) a tally directory that another account can change ----------------------
# agent_refused DESC SERVICE: the agent's valid token refused with reason
# tally; root (a human) through SERVICE-gate still passes.
agent_refused() {
    fresh_audit
    pt "$2" agent-alpha "$tk/alpha"
    if [ "$rc" -ne 0 ] && audit_has "user=agent-alpha .*result=error reason=tally"; then
        tap_ok "(b) $1: the agent is refused, reason=tally"
    else
        tap_fail "(b) $1: the agent is refused, reason=tally" "rc=$rc $(cat "$OPENCLAW_TEST_AUDIT_FILE")"
    fi
    pt "$2-gate" root "$tk/alpha"
    tap_check "(b) $1: a human through the same stack is not affected" test "$rc" -eq 0
}
agent_refused "the tally dir's parent owned by another uid" daemonlayout
chown root:root "$D"
chmod 0777 "$D"
agent_refused "the tally dir's parent writable by others" daemonlayout
chmod 0755 "$D"
ln -s root "$PAM_WORK/lnk"
service viasymlink "$PAM_WORK/lnk/tally"
agent_refused "a symlink on the way to the tally dir" viasymlink
chown "$XUID" "$R/tally"
agent_refused "the tally dir itself owned by another uid" rootlayout
chown root "$R/tally"
pt rootlayout agent-alpha "$tk/alpha"
tap_check "(b) root's layout: the agent's valid token is accepted" test "$rc" -eq 0

# --- (c) tally files and uti.db that lead elsewhere ------------------------------
reset_victim
rm -f "$R/tally/agent-alpha"
ln "$victim/agent-alpha" "$R/tally/agent-alpha"
fresh_audit
pt rootlayout agent-alpha "$tk/alpha-v2"
if victim_untouched && [ "$rc" -ne 0 ] && audit_has "user=agent-alpha .*reason=tally"; then
    tap_ok "(c) a tally file hard-linked to another file: not written, the agent refused (reason=tally)"
else
    tap_fail "(c) a tally file hard-linked to another file: not written, the agent refused (reason=tally)" \
        "rc=$rc $(diff -r "$PAM_WORK/victim.orig" "$victim" | head -5; cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
reset_victim
rm -f "$R/tally/agent-alpha"
ln -s "$victim/agent-alpha" "$R/tally/agent-alpha"
fresh_audit
pt rootlayout agent-alpha "$tk/alpha-v2"
if victim_untouched && [ "$rc" -ne 0 ]; then
    tap_ok "(c) a tally file that is a symlink: not followed"
else
    tap_fail "(c) a tally file that is a symlink: not followed" \
        "rc=$rc $(diff -r "$PAM_WORK/victim.orig" "$victim" | head -5)"
fi
rm -f "$R/tally/agent-alpha"
service once "$R/tally" "[service once]
require_role = Host.Login
one_time_tokens = yes"
reset_victim
rm -f "$R/tally/uti.db"
ln "$victim/uti.db" "$R/tally/uti.db"
fresh_audit
pt once agent-alpha "$tk/alpha"
if victim_untouched && [ "$rc" -ne 0 ] && audit_has "user=agent-alpha .*result=error reason=replay-store"; then
    tap_ok "(c) uti.db hard-linked to another file: not written, the token refused (reason=replay-store)"
else
    tap_fail "(c) uti.db hard-linked to another file: not written, the token refused (reason=replay-store)" \
        "rc=$rc $(diff -r "$PAM_WORK/victim.orig" "$victim" | head -5; cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
reset_victim
rm -f "$R/tally/uti.db"
ln -s "$victim/uti.db" "$R/tally/uti.db"
pt once agent-alpha "$tk/alpha"
if victim_untouched && [ "$rc" -ne 0 ]; then
    tap_ok "(c) uti.db that is a symlink: not followed"
else
    tap_fail "(c) uti.db that is a symlink: not followed" "rc=$rc $(diff -r "$PAM_WORK/victim.orig" "$victim" | head -5)"
fi
rm -f "$R/tally/uti.db"
pt once agent-alpha "$tk/alpha"
tap_check "(c) with root's own uti.db again, the token is accepted once" test "$rc" -eq 0
if [ "$(stat -c '%U %a %h' "$R/tally/uti.db" 2>&1)" = "root 600 1" ]; then
    tap_ok "(c) uti.db created root's, 0600, one link"
else
    tap_fail "(c) uti.db created root's, 0600, one link" "$(ls -la "$R/tally")"
fi
tap_done
