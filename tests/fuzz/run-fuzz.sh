#!/bin/sh
# Run one libFuzzer target for a bounded time over its seed corpus.
#   run-fuzz.sh BINARY SECONDS
# The seed corpus is tests/fuzz/corpus/<name>/ where the binary is
# fuzz_<name>. New inputs go to a temporary directory (the tree stays
# clean). The run fails when the target exits non-zero, when its log holds
# any sanitizer report or UBSan "runtime error" (even one the process
# survived), or when it ran no input at all. On failure the whole log is
# kept as $FUZZ_ARTIFACTS/fuzz-<name>.log next to the crash-<name>-*
# reproducer ($FUZZ_ARTIFACTS defaults to the current directory).
# Prints one line: "fuzz NAME Ns: N execs, N exec/s, cov N, ft N, exit N".
set -eu
bin=$1
secs=$2
name=$(basename "$bin")
name=${name#fuzz_}
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
seeds="$srcdir/tests/fuzz/corpus/$name"
if [ ! -d "$seeds" ]; then
    echo "run-fuzz.sh: no seed corpus $seeds: add one (tests/fuzz/README.md)" >&2
    exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/oc-fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
artifacts=${FUZZ_ARTIFACTS:-$(pwd)}
log="$work/log"
# Every report stops the target and prints a stack; the log check below
# also catches what a build with recoverable checks would only print.
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS
mkdir "$work/corpus"
set +e
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/crash-$name-" -print_final_stats=1 \
    "$work/corpus" "$seeds" >"$log" 2>&1
rc=$?
set -e
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
persec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | sed 's/ft: //')
printf 'fuzz %-10s %ss: %s execs, %s exec/s, cov %s, ft %s, exit %s\n' \
    "$name" "$secs" "${execs:-0}" "${persec:-0}" "${cov:-0}" "${ft:-0}" "$rc"
why=
if [ "$rc" -ne 0 ]; then
    why="exit status $rc"
fi
report=$(grep -E -m 3 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|SUMMARY: [A-Za-z]*Sanitizer' "$log" || true)
if [ -n "$report" ]; then
    why="${why:+$why; }sanitizer report"
fi
case ${execs:-0} in
0 | *[!0-9]*) why="${why:+$why; }no input executed" ;;
esac
if [ -n "$why" ]; then
    cp "$log" "$artifacts/fuzz-$name.log"
    printf 'fuzz %s FAILED (%s); full log: %s\n' "$name" "$why" "$artifacts/fuzz-$name.log" >&2
    [ -z "$report" ] || printf '%s\n' "$report" >&2
    tail -n 60 "$log" >&2
    exit 1
fi
