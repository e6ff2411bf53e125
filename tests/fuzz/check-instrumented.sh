#!/bin/sh
# check-instrumented.sh BUILDDIR: every fuzz target of a --enable-fuzzing
# build, and every object and library linked into it, carries ASan and
# aborting UBSan checks (nm):
#  - each target binary holds the ASan runtime (__asan_report_load*);
#  - each object file of the build (targets, the sources they compile in,
#    the static libraries' members) calls __asan_report_* or
#    __asan_load* (it is instrumented), and calls no recoverable UBSan
#    handler (__ubsan_handle_X without _abort: -fno-sanitize-recover=all).
# Prints one line per target and a total; fails on the first gap.
set -eu
dir=$1
cd "$dir"
targets=$(make -s print-fuzz-targets)
[ -n "$targets" ] || {
    echo "check-instrumented.sh: $dir has no fuzz targets (configure --enable-fuzzing)" >&2
    exit 1
}
bad=0
for t in $targets; do
    if [ ! -x "$t" ]; then
        echo "not built: $t" >&2
        bad=1
        continue
    fi
    n=$(nm "$t" | grep -c ' __asan_report_load' || true)
    printf 'target %-28s ASan report functions: %s\n' "$t" "$n"
    [ "$n" -gt 0 ] || bad=1
done
objs=$(find . -name '*.o' ! -name '*fuzz_planted*' | sort)
libs=$(find . -name '*.a' -path '*/.libs/*' | sort)
nobj=0
for o in $objs $libs; do
    # nm -A on an archive names each member: archive:member.o: ...
    nm -A "$o" 2>/dev/null | awk -v f="$o" '
        { m = $1; sub(/:[0-9a-f]*$/, "", m) }
        / U __asan_(report_|load|store|memcpy|memset|memmove)/ { asan[m] = 1 }
        # (builtin_unreachable and missing_return never return: no _abort twin)
        / U __ubsan_handle_/ && !/_abort$/ && !/_(builtin_unreachable|missing_return)$/ { rec[m] = rec[m] " " $NF }
        { seen[m] = 1 }
        END {
            for (m in seen) {
                if (!(m in asan)) printf "no ASan checks: %s\n", m
                if (m in rec) printf "recoverable UBSan handlers in %s:%s\n", m, rec[m]
            }
        }'
done >problems.$$ || true
nobj=$(for o in $objs; do echo "$o"; done | wc -l)
if [ -s problems.$$ ]; then
    cat problems.$$ >&2
    bad=1
fi
rm -f problems.$$
echo "objects checked: $nobj (+ $(echo $libs | wc -w) static libraries), problems: $bad"
[ "$bad" -eq 0 ]
