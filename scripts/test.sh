#!/bin/bash
# The test command: install what is needed, build, run every suite.
#
#   scripts/test.sh            everything (what CI runs)
#   OC_FUZZ_SECONDS=N          seconds per fuzz target (default 20)
#   OC_SKIP_INSTALL=1          skip the apt-get step (packages already there)
#
# Runs as root on Debian 12. Builds live under _build/ in the source tree,
# one directory per flavour; every step's output goes to _build/logs/.
# The last line is "N passed, N failed[, N skipped]"; the exit status is
# non-zero when anything failed. A skip not listed in tests/skip-allowlist
# for its suite counts as a failure (docs/testing.md, "Skips and failures").
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

out="$top/_build"
logs="$out/logs"
mkdir -p "$logs"
fuzz_seconds=${OC_FUZZ_SECONDS:-20}
jobs=$(nproc 2>/dev/null || echo 2)

passed=0
failed=0
skipped=0
failed_steps=()
t_start=$(date +%s)

note() { printf '==> %s\n' "$*"; }

# step NAME CMD...: a single pass/fail unit
step() {
    local name=$1 t0 rc
    shift
    t0=$(date +%s)
    "$@" >"$logs/$name.log" 2>&1
    rc=$?
    step_end "$name" "$rc" "$t0" "$(date +%s)"
}

# step_end NAME RC T0 T1: count the step NAME that ended with status RC
step_end() {
    local name=$1 rc=$2 t0=$3 t1=$4 log="$logs/$1.log"
    if [ "$rc" -eq 0 ]; then
        note "$name: ok ($((t1 - t0)) s)"
        passed=$((passed + 1))
        return 0
    fi
    note "$name: FAILED ($((t1 - t0)) s), last lines of $log:"
    tail -n 40 "$log" | sed 's/^/    /'
    failed=$((failed + 1))
    failed_steps+=("$name")
    return 1
}

# step_bg NAME CMD...: start the step in the background (its status goes to
# $logs/NAME.status); step_wait NAME PID counts it as step does
step_bg() {
    local name=$1
    shift
    (
        t0=$(date +%s)
        "$@" >"$logs/$name.log" 2>&1
        echo "$? $t0 $(date +%s)" >"$logs/$name.status"
    ) &
}
step_wait() {
    local name=$1 rc=1 t0 t1
    wait "$2"
    t0=$(date +%s) t1=$t0
    [ -s "$logs/$name.status" ] && read -r rc t0 t1 <"$logs/$name.status"
    rm -f "$logs/$name.status"
    step_end "$name" "$rc" "$t0" "$t1"
}

# suite NAME BUILDDIR TARGET [VAR=VALUE...]: run a check target with that
# environment, count each test
suite() {
    local name=$1 dir=$2 target=$3
    shift 3
    local log="$logs/$name.log" t0 t1 rc p f s
    t0=$(date +%s)
    (cd "$dir" && env "$@" make -j"$jobs" "$target") >"$log" 2>&1
    rc=$?
    t1=$(date +%s)
    # automake's harness writes one summary per test-suite.log
    read -r p f s < <(awk '
        /^# (PASS|XFAIL):/ { p += $3 }
        /^# (FAIL|XPASS|ERROR):/ { f += $3 }
        /^# SKIP:/ { s += $3 }
        END { printf "%d %d %d\n", p, f, s }' "$dir/test-suite.log" 2>/dev/null || echo "0 0 0")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1 # the build or the harness itself failed
    fi
    # a skip is for a missing tool or privilege only: each skip that
    # tests/skip-allowlist does not list for this suite is a failure
    local skipcheck unlisted
    # (read from each test's own log: in the make output of a parallel run
    #  the lines of two tests can interleave)
    local tlogs="$logs/$name.test-logs" t
    : >"$tlogs"
    while IFS= read -r t; do
        [ -f "${t%.trs}.log" ] && cat "${t%.trs}.log" >>"$tlogs"
    done < <(find "$dir/tests" -name '*.trs' 2>/dev/null | sort)
    skipcheck=$("$top/scripts/check-skips.sh" "$name" "$tlogs" 2>&1)
    printf '%s\n' "$skipcheck" >>"$log"
    unlisted=$(printf '%s\n' "$skipcheck" | grep -c '^skip not on the allow-list')
    if [ "$unlisted" -gt 0 ]; then
        f=$((f + unlisted))
        rc=1
        printf '%s\n' "$skipcheck" | grep '^skip not on the allow-list' | head -n 20 | sed 's/^/    /'
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    if [ "$rc" -eq 0 ]; then
        note "$name: $p passed, $f failed, $s skipped ($((t1 - t0)) s)"
    else
        note "$name: $p passed, $f failed, $s skipped ($((t1 - t0)) s) -- see $log"
        grep -E '^(FAIL|ERROR|XPASS):' "$log" | head -n 40 | sed 's/^/    /'
        tail -n 30 "$log" | sed 's/^/    /'
        failed_steps+=("$name")
    fi
}

configure_in() {
    local dir=$1
    shift
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$dir" && "$top/configure" -q "$@")
}

build_in() {
    (cd "$1" && make -j"$jobs")
}

# 1. packages
if [ "${OC_SKIP_INSTALL:-0}" != 1 ]; then
    step install-deps "$top/scripts/install-deps.sh" || {
        echo "0 passed, 1 failed"
        exit 1
    }
fi

# The host's own openclaw paths, before any suite: the tests never change
# them (every test works in its own directories and namespaces); compared
# at the end (host-untouched).
OC_HOST_PATHS="/etc/openclaw /var/lib/openclaw /var/lib/openclaw-pam /var/lib/openclaw-trust /run/openclaw"
host_paths() {
    local p
    for p in $OC_HOST_PATHS; do
        if [ -e "$p" ]; then
            find "$p" -printf '%p %U %m %s %T@\n' 2>/dev/null | sort
        else
            echo "$p absent"
        fi
    done
}
host_paths >"$logs/host-paths.before"

# 2. bootstrap
step autoreconf autoreconf -fi || {
    echo "$passed passed, 1 failed"
    exit 1
}

# 3. gcc build: warnings are errors; unit + integration suites
gcc_built=no
if step configure-gcc configure_in "$out/gcc" CC=gcc --enable-test-hooks &&
    step build-gcc build_in "$out/gcc"; then
    gcc_built=yes
    suite check-gcc "$out/gcc" check
    suite check-valgrind "$out/gcc" check-valgrind
fi

# 4. clang build: warnings are errors with a second compiler too
step configure-clang configure_in "$out/clang" CC=clang --enable-test-hooks &&
    step build-clang build_in "$out/clang"

# 5. ASan + UBSan build runs the C suites
if step configure-asan configure_in "$out/asan" CC=clang --enable-test-hooks --enable-sanitizers &&
    step build-asan build_in "$out/asan"; then
    suite check-asan "$out/asan" check ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi

# 5b. ThreadSanitizer over the threaded tests: the NSS module's stress test
#     (lookups from 16 threads while the cache file is replaced) and the
#     verification core's (threads sharing one key set, including the race
#     to set up each key's prepared verification context)
tsan_stress() {
    (cd "$1" && make -j"$jobs" nss_openclaw/libnss_openclaw.la tests/integration/nss-stress \
        tests/unit/test_entra &&
        env TSAN_OPTIONS=halt_on_error=1:exitcode=66 OC_STRESS_THREADS=16 \
            OC_STRESS_LOOKUPS=20000 OC_STRESS_REPLACEMENTS=50 ./tests/integration/nss-stress &&
        env TSAN_OPTIONS=halt_on_error=1:exitcode=66 top_srcdir="$top" ./tests/unit/test_entra)
}
step configure-tsan configure_in "$out/tsan" CC=clang --enable-test-hooks --enable-sanitizers=thread &&
    step tsan-nss-stress tsan_stress "$out/tsan"

# 6. fuzzers under ASan + UBSan (--enable-fuzzing implies
#    --enable-sanitizers: the targets and every library they link are
#    instrumented, UBSan aborts), a bounded run of each target. Before
#    them: nm shows the instrumentation, and a target with a planted bug
#    must make run-fuzz.sh fail (the harness's negative control).
# (only the targets are built: in this build the libraries carry
# libFuzzer's coverage hooks, which link into fuzz targets alone)
build_fuzz_targets() {
    (cd "$1" && make -j"$jobs" $(make -s print-fuzz-targets) tests/fuzz/fuzz_planted)
}
# fuzz_negative_control BUILDDIR: run-fuzz.sh must fail on the planted
# out-of-bounds read with an ASan report, and on a recoverable UBSan
# "runtime error" that leaves the exit status 0
fuzz_negative_control() {
    local d rc
    d=$(mktemp -d "${TMPDIR:-/tmp}/oc-fuzz-control.XXXXXX")
    env top_srcdir="$top" FUZZ_ARTIFACTS="$d" OC_PLANTED=oob \
        "$top/tests/fuzz/run-fuzz.sh" "$1/tests/fuzz/fuzz_planted" 10
    rc=$?
    if [ "$rc" -eq 0 ] || ! grep -q 'ERROR: AddressSanitizer: heap-buffer-overflow' "$d/fuzz-planted.log"; then
        echo "negative control: run-fuzz.sh did not fail with an ASan report on the planted read (exit $rc)"
        rm -rf "$d"
        return 1
    fi
    echo "negative control: planted out-of-bounds read caught (ASan heap-buffer-overflow)"
    rm -f "$d"/*
    env top_srcdir="$top" FUZZ_ARTIFACTS="$d" OC_PLANTED=ub \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=0 \
        "$top/tests/fuzz/run-fuzz.sh" "$1/tests/fuzz/fuzz_planted" 2
    rc=$?
    if [ "$rc" -eq 0 ] || ! grep -q 'runtime error: signed integer overflow' "$d/fuzz-planted.log"; then
        echo "negative control: run-fuzz.sh did not fail on a recoverable UBSan runtime error (exit $rc)"
        rm -rf "$d"
        return 1
    fi
    echo "negative control: recoverable UBSan runtime error caught from the log"
    rm -rf "$d"
}
if step configure-fuzz configure_in "$out/fuzz" CC=clang --enable-fuzzing --enable-test-hooks &&
    step build-fuzz build_fuzz_targets "$out/fuzz"; then
    step fuzz-instrumented "$top/tests/fuzz/check-instrumented.sh" "$out/fuzz"
    step fuzz-negative-control fuzz_negative_control "$out/fuzz"
    # one target per core at a time (each is one process on one core)
    targets=$(cd "$out/fuzz" && make -s print-fuzz-targets)
    set -- $targets
    while [ $# -gt 0 ]; do
        names=() pids=()
        for _ in $(seq 1 "$jobs"); do
            [ $# -gt 0 ] || break
            names+=("fuzz-$(basename "$1")")
            step_bg "fuzz-$(basename "$1")" env top_srcdir="$top" FUZZ_ARTIFACTS="$logs" \
                "$top/tests/fuzz/run-fuzz.sh" "$out/fuzz/$1" "$fuzz_seconds"
            pids+=("$!")
            shift
        done
        for i in "${!names[@]}"; do
            step_wait "${names[$i]}" "${pids[$i]}"
            grep '^fuzz ' "$logs/${names[$i]}.log" | sed 's/^/    /'
        done
    done
fi

# 7. what make install lays out: nothing setuid/setgid, modules in place
step install-tree "$top/tests/install-tree.sh" "$out/gcc"

# 8. formatting and the release tarball
step format-check make -C "$out/gcc" format-check
# (inside the tarball: the unit tests and the suites that use most of the
#  shipped test data; the whole suite ran from the tree above)
step distcheck make -C "$out/gcc" -j"$jobs" distcheck \
    TESTS="$(make -s -C "$out/gcc" print-distcheck-tests)"

# 8b. the Debian packages: build, install in a throwaway root, purge, lintian
step deb-check "$top/scripts/deb-check.sh"

# tap_noskip CMD...: a TAP script as a step of its own: a skip (no tool or
# privilege here) fails it, as an unlisted skip fails a suite
tap_noskip() {
    local f rc
    f=$(mktemp "${TMPDIR:-/tmp}/oc-tap.XXXXXX")
    "$@" | tee "$f"
    rc=${PIPESTATUS[0]}
    if grep -q '^1\.\.0\|^ok [0-9]* .*# SKIP' "$f"; then
        echo "a skip fails this step (tests/skip-allowlist does not apply to it)"
        rc=1
    fi
    rm -f "$f"
    return "$rc"
}

# 9. the README's first command, the demo, must keep working too. Next to
#    it (the demo mostly waits on its processes: ~55 s wall, ~10 s CPU) the
#    100 000-agent directory sync of the gcc build (~75 s, ~60 s CPU), which
#    is in no check suite (docs/testing.md)
if [ "$gcc_built" = yes ]; then
    step_bg directory-100k tap_noskip env top_srcdir="$top" top_builddir="$out/gcc" \
        "$top/tests/integration/directory-100k.sh"
    dir100k_pid=$!
fi
step demo "$top/scripts/demo.sh"
if [ "$gcc_built" = yes ]; then
    step_wait directory-100k "$dir100k_pid"
    grep -E '^# (full sync|directory.json|incremental|the whole)' "$logs/directory-100k.log" |
        sed 's/^/    /'
fi

# 10. the reliability suite's summary, from the gcc build's logs
#     (docs/reliability.md explains each row); not a pass/fail unit itself
reliability_summary() {
    local d=$1/tests reli load burst hostile faults_ok faults_all lost
    reli=$d/reliability
    load=$(sed -n 's/^# decisions=\([0-9]*\) wrong=\([0-9]*\) rounds=\([0-9]*\).*/\1 decisions in \3 rounds of 16 threads, \2 wrong/p' \
        "$reli/pam-load.log" 2>/dev/null | head -n 1)
    burst=$(sed -n 's/^# burst: decisions=\([0-9]*\) wrong=\([0-9]*\) burst=[0-9]* peak_in_flight=\([0-9]*\).*/\1 let go at once (peak \3 in flight), \2 wrong/p' \
        "$reli/pam-load.log" 2>/dev/null | head -n 1)
    # the faults, each with decisions made across it (pam-load.sh counts them)
    local across
    across=$(sed -n 's|^# faults with decisions across: rotations=\([0-9]*\)/\([0-9]*\) sigkills=\([0-9]*\)/\([0-9]*\) sigterms=\([0-9]*\)/\([0-9]*\)$|\2 key rotations, \4 SIGKILLs, \6 SIGTERMs of openclawd (with decisions across \1, \3, \5 of them)|p' \
        "$reli/pam-load.log" 2>/dev/null | head -n 1)
    if ! grep -q '^ok [0-9]* - faults during the load, each with decisions across it' "$reli/pam-load.log" 2>/dev/null; then
        across="${across:-no fault figures}: NOT each with decisions across it"
    fi
    [ -n "$load" ] && [ -n "$burst" ] && load="$load, during $across; $burst"
    # its negative controls (pam-load.sh): keys.json frozen without the
    # rotated key must give wrong decisions, faults without load must fail
    # the faults check
    local lctl
    lctl=$(sed -n 's/^ok [0-9]* - negative control: keys.json frozen without the rotated key, \([0-9]*\) wrong decisions caught in \([0-9]*\) .*/keys.json frozen without the rotated key: \1 wrong decisions caught in \2/p' \
        "$reli/pam-load.log" 2>/dev/null | head -n 1)
    if ! grep -q '^ok [0-9]* - negative control: [0-9]* faults with no decisions across them are caught' \
        "$reli/pam-load.log" 2>/dev/null; then
        lctl="negative control NOT shown (pam-load.sh: faults without decisions across them not caught${lctl:+; $lctl})"
    elif [ -z "$lctl" ]; then
        lctl="negative control NOT shown (pam-load.sh: keys.json frozen without the rotated key not caught)"
    else
        lctl="negative controls: $lctl; faults without decisions across them caught"
    fi
    [ -n "$load" ] && load="$load; $lctl"
    hostile=$(sed -n 's/^# | all | \([0-9]*\) | \([0-9]*\) | \([0-9]*\) | \([0-9]*\) | \([0-9]*\) |$/\1 tried, \2 refused for the expected reason (\3 for another reason, \4 accepted, \5 crashed or hung)/p' \
        "$reli/hostile-inputs.log" 2>/dev/null | head -n 1)
    # the reason matching itself: inputs checked against another input's
    # reason must not count (hostile-inputs.sh's negative controls), nor a
    # config refused by a test build whose uid range check is off on purpose
    if [ -n "$hostile" ] && [ "$(grep -c '^ok [0-9]* - negative control: .* checked against .* is not counted' "$reli/hostile-inputs.log")" -lt 3 ]; then
        hostile="$hostile; negative controls of the reason matching NOT shown"
    elif [ -n "$hostile" ]; then
        if grep -q '^ok [0-9]* - negative control: with the uid range check broken on purpose' "$reli/hostile-inputs.log"; then
            hostile="$hostile; negative control: with the uid range check broken on purpose, uid_min above uid_max no longer counts as refused"
        else
            hostile="$hostile; negative control with the check broken on purpose NOT shown"
        fi
    fi
    # a skipped check is never a fault survived: "ok N - ... # SKIP" counts
    # as skipped, a whole log skipped (1..0) or bailed out counts as missing
    local flogs="$reli/faults.log $reli/outage.log $d/integration/helper-faults.log" f fskip=0 fmissing=""
    faults_all=$(cat $flogs 2>/dev/null | grep -c '^\(not \)\?ok [0-9]')
    faults_ok=$(cat $flogs 2>/dev/null | grep '^ok [0-9]' | grep -vc ' # SKIP')
    fskip=$(cat $flogs 2>/dev/null | grep '^ok [0-9]' | grep -c ' # SKIP')
    for f in $flogs; do
        if [ ! -s "$f" ] || grep -q '^1\.\.0\|^Bail out!' "$f"; then
            fmissing="$fmissing $(basename "$f" .log)"
        fi
    done
    # data lost: every file the daemon wrote exists and is the previous or a
    # whole next version after each SIGKILL (kills shown landing mid-write),
    # unchanged after the disk-full writes; the negative control (a writer
    # that deletes the file before the rename) must have been caught
    local hf=$d/integration/helper-faults.log kills disk control
    kills=$(sed -n 's/^# kills=\([0-9]*\) mid_write=\([0-9]*\) swept=[0-9]* lost=\([0-9]*\) torn=\([0-9]*\).*/\1 SIGKILLs (\2 mid-write): \3 lost, \4 torn/p' \
        "$hf" 2>/dev/null | head -n 1)
    disk=$(sed -n 's/^ok [0-9]* - disk full: tokens.db and nss.cache unchanged and whole (all \([0-9]*\) files.*/disk full: \1 files unchanged/p' \
        "$reli/faults.log" 2>/dev/null | head -n 1)
    control=$(sed -n 's/^ok [0-9]* - negative control: a writer that deletes the file before the rename is caught (data lost: \([0-9]*\) in \([0-9]*\) kills)/negative control: \1 losses caught in \2 kills/p' \
        "$hf" 2>/dev/null | head -n 1)
    if [ -n "$disk" ] && [ -n "$control" ] &&
        grep -q '^ok [0-9]* - SIGKILL x[0-9]* during start-up writes and directory syncs: data lost none' "$hf" &&
        grep -q '^ok [0-9]* - SIGKILL x[0-9]*: [1-9][0-9]* kills landed mid-write' "$hf"; then
        lost="none ($kills; $disk; $control)"
    else
        lost="not shown: ${kills:-no SIGKILL figures}; ${disk:-disk full not shown}; ${control:-negative control not caught} (see the faults logs)"
    fi
    # executions per fuzz target (run-fuzz.sh's line in each step's log)
    local fuzz
    fuzz=$(cat "$logs"/fuzz-fuzz_*.log 2>/dev/null |
        sed -n 's/^fuzz \([a-z0-9_]*\) *\([0-9]*\)s: \([0-9]*\) execs.*/\1 \3 \2/p' |
        awk '{ printf "%s%s %s", sep, $1, $2; sep = ", "; n++; s = $3 }
             END { if (n) printf " (%d targets, %d s each)", n, s }')
    if grep -q '^negative control: planted out-of-bounds read caught' "$logs/fuzz-negative-control.log" 2>/dev/null; then
        fuzz="${fuzz:-no target ran}; planted out-of-bounds read caught"
    else
        fuzz="${fuzz:-no target ran}; planted bug NOT shown caught (fuzz-negative-control)"
    fi
    echo "| reliability | result |"
    echo "|---|---|"
    echo "| load held: PAM decisions from the JWKS file, offline (valid tokens never ask openclawd), while keys rotate and openclawd is killed and restarted | ${load:-not run} |"
    faults="$faults_ok of $faults_all checks passed"
    # the negative controls among those checks (a control that passes is an
    # "ok" line: a broken case caught); outage.sh's is this row's own
    local fctl
    fctl=$(cat $flogs 2>/dev/null | grep -c '^ok [0-9]* - negative control: ')
    [ "$fctl" -eq 0 ] || faults="$faults (negative controls among them: $fctl, each a broken case caught)"
    [ "$fskip" -eq 0 ] || faults="$faults ($fskip skipped, not counted as passed)"
    [ -z "$fmissing" ] || faults="$faults; did not run:$fmissing"
    if grep -q '^ok [0-9]* - negative control: a daemon that drops its last good token when a refresh fails is caught' \
        "$reli/outage.log" 2>/dev/null; then
        faults="$faults; negative control: an openclawd that drops its last good token in the outage caught"
    else
        faults="$faults; negative control NOT shown (outage.sh: an openclawd that drops its last good token)"
    fi
    echo "| faults survived (TPM restart, disk full, outage, SIGKILL loops) | $faults |"
    # the attack regression tests of the one-policy work: TAP checks held;
    # a missing, skipped or bailed-out log is "not run", never held
    local alogs="pam-lockout-signed helper-decide helper-ssh-only helper-flood askpass-login-only helper-ssh-bind pam-tally-trust pam-keys-trust trust-daemon-reach helper-mi-imds"
    local a aok=0 aall=0 askip=0 amissing="" attacks
    for a in $alogs; do
        f=$d/integration/$a.log
        if [ ! -s "$f" ] || grep -q '^1\.\.0\|^Bail out!' "$f"; then
            amissing="$amissing $a"
            continue
        fi
        aall=$((aall + $(grep -c '^\(not \)\?ok [0-9]' "$f")))
        aok=$((aok + $(grep '^ok [0-9]' "$f" | grep -vc ' # SKIP')))
        askip=$((askip + $(grep '^ok [0-9]' "$f" | grep -c ' # SKIP')))
    done
    if [ "$aall" -eq 0 ]; then
        attacks="attacks: not run"
    else
        attacks="attacks: $aok of $aall checks held (garbage-token lockout, locked agent on every path, ssh-sign forgery, local flood, askpass, forged session-bind and destinations, tally directory swapped by the daemon account, keys, directory and NSS cache of the daemon account, its writes against root's trust_dir, the IMDS address from another namespace)"
        [ "$askip" -eq 0 ] || attacks="$attacks ($askip skipped, not counted as held)"
        [ -z "$amissing" ] || attacks="$attacks; not run:$amissing"
    fi
    echo "| bad inputs refused for their own reason (tokens, configs, caches, frames) | ${hostile:-not run}; $attacks |"
    echo "| data lost (disk full; SIGKILLs mid-write, each file the previous or next version) | $lost |"
    echo "| fuzzing under ASan+UBSan (executions per target) | $fuzz |"
    # tests/system/pam-fault-matrix.sh: profile on vs off, every openclaw fault
    local lockout
    lockout=$(sed -n 's/^# humans locked out by an openclaw fault: \([0-9]* of [0-9]*\)$/\1/p' \
        "$d/system/pam-fault-matrix.log" 2>/dev/null | head -n 1)
    # its negative control: a profile that turns the module's "not an
    # agent" answer into die must show humans locked out in every service
    # (pam-fault-matrix.sh runs it after the matrix)
    local lcontrol
    lcontrol=$(sed -n 's/^# negative control: humans locked out \([0-9]* of [0-9]*\) with .*/\1/p' \
        "$d/system/pam-fault-matrix.log" 2>/dev/null | head -n 1)
    if [ -n "$lockout" ] && [ -n "$lcontrol" ] &&
        grep -q '^ok [0-9]* - negative control: a profile that turns the module.s .not an agent. answer into die is caught' "$d/system/pam-fault-matrix.log"; then
        lockout="$lockout; negative control: a profile that drops ignore=ignore locks humans out ($lcontrol caught)"
    elif [ -n "$lockout" ]; then
        lockout="$lockout; negative control NOT shown (a profile that drops ignore=ignore must lock humans out)"
    fi
    echo "| humans locked out by an openclaw fault (login, su, sudo, sshd, cron, passwd) | ${lockout:-not run} |"
}
# the host's openclaw paths are as they were before the suites
host_untouched() {
    host_paths >"$logs/host-paths.after"
    diff "$logs/host-paths.before" "$logs/host-paths.after"
}
step host-untouched host_untouched

if [ -d "$out/gcc/tests/reliability" ]; then
    echo
    reliability_summary "$out/gcc" | tee "$logs/reliability-summary.md"
fi

t_end=$(date +%s)
echo
note "total time: $((t_end - t_start)) s"
if [ ${#failed_steps[@]} -gt 0 ]; then
    note "failed steps: ${failed_steps[*]} (logs in $logs)"
fi
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
