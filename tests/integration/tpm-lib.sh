# tpm-lib.sh: shared by the TPM integration tests (sourced, not run).
# Starts private swtpm instances on Unix sockets in a temporary directory,
# stops them by PID at exit, and prints TAP.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
SWTPM=${SWTPM:-$(command -v swtpm 2>/dev/null || true)}
CTL="$top_builddir/helper/ctl/openclawctl"
PY=${PYTHON3:-/usr/bin/python3}
# tpm2-tss prints failed commands itself; the tests read our messages
TSS2_LOG=${TSS2_LOG:-all+none}
export TSS2_LOG

tap_n=0
tap_failed=0
ok() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $*"
}
not_ok() {
    tap_n=$((tap_n + 1))
    tap_failed=$((tap_failed + 1))
    echo "not ok $tap_n - $*"
}
# check DESCRIPTION CMD...: ok when CMD succeeds
check() {
    local d=$1
    shift
    if "$@" >"$work/last.out" 2>"$work/last.err"; then
        ok "$d"
    else
        not_ok "$d"
        sed 's/^/# /' "$work/last.out" "$work/last.err" | head -n 20
    fi
}
# refuse DESCRIPTION PATTERN CMD...: ok when CMD fails (exit 1 or 2, no
# signal, no sanitizer report) and stderr matches PATTERN
refuse() {
    local d=$1 pat=$2 rc
    shift 2
    "$@" >"$work/last.out" 2>"$work/last.err"
    rc=$?
    if [ "$rc" -ge 1 ] && [ "$rc" -le 2 ] && grep -q -- "$pat" "$work/last.err" &&
        ! grep -q 'Sanitizer' "$work/last.err"; then
        ok "$d"
    else
        not_ok "$d (exit $rc)"
        sed 's/^/# /' "$work/last.err" | head -n 20
    fi
}
skip_all() {
    echo "1..0 # SKIP $*"
    exit 0
}

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-tpm-test.XXXXXX")
swtpm_pids=""
cleanup() {
    for p in $swtpm_pids; do
        kill "$p" 2>/dev/null
    done
    for p in $swtpm_pids; do
        # swtpm needs about a second to exit
        for _ in $(seq 1 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$p" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# start_swtpm NAME: a fresh TPM in $work/NAME; sets TCTI_<NAME>
start_swtpm() {
    local name=$1 d="$work/$1" pid=""
    mkdir -p "$d"
    "$SWTPM" socket --tpm2 --tpmstate dir="$d" \
        --server type=unixio,path="$d/sock" --ctrl type=unixio,path="$d/sock.ctrl" \
        --flags not-need-init,startup-clear --pid file="$d/pid" --daemon \
        >"$d/log" 2>&1 || return 1
    for _ in $(seq 1 100); do
        [ -s "$d/pid" ] && [ -S "$d/sock" ] && break
        sleep 0.05
    done
    pid=$(cat "$d/pid" 2>/dev/null)
    [ -n "$pid" ] || return 1
    swtpm_pids="$swtpm_pids $pid"
    eval "TCTI_$name=swtpm:path=$d/sock"
    return 0
}
