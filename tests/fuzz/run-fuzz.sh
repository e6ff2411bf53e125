#!/bin/sh
# Run one libFuzzer target for a bounded time over its seed corpus.
#   run-fuzz.sh BINARY SECONDS
# The seed corpus is tests/fuzz/corpus/<name>/ where the binary is
# fuzz_<name>. New inputs go to a temporary directory (the tree stays
# clean); a crash leaves its reproducer in $FUZZ_ARTIFACTS (default: the
# current directory) and makes this script fail.
set -eu
bin=$1
secs=$2
name=$(basename "$bin")
name=${name#fuzz_}
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
seeds="$srcdir/tests/fuzz/corpus/$name"
work=$(mktemp -d "${TMPDIR:-/tmp}/oc-fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
artifacts=${FUZZ_ARTIFACTS:-$(pwd)}
log="$work/log"
set +e
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/crash-$name-" -print_final_stats=1 \
    "$work" "$seeds" >"$log" 2>&1
rc=$?
set -e
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
persec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | sed 's/cov: //')
printf 'fuzz %-10s %ss: %s execs, %s exec/s, cov %s, exit %s\n' \
    "$name" "$secs" "${execs:-?}" "${persec:-?}" "${cov:-?}" "$rc"
if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log" >&2
    exit 1
fi
