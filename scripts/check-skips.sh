#!/bin/sh
# check-skips.sh SUITE LOG [ALLOWLIST]: every skip the automake harness
# reported in LOG (lines "SKIP: TEST N - DESC # SKIP REASON", or
# "SKIP: TEST - REASON" for a whole script) must be listed for SUITE in
# ALLOWLIST (default tests/skip-allowlist: "SUITE | TEST | REASON" lines).
# Prints "skips: N allowed, N not allowed" and each one not allowed;
# exits 1 when any is not allowed. Skips are for a missing tool or
# privilege only (docs/testing.md, "Allowed skips").
set -eu
suite=$1
log=$2
allow=${3:-$(cd "$(dirname "$0")/.." && pwd)/tests/skip-allowlist}
[ -r "$allow" ] || {
    echo "check-skips.sh: cannot read the allow-list $allow" >&2
    exit 1
}
awk -v suite="$suite" '
    function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
    FNR == NR {
        if ($0 ~ /^[ \t]*(#|$)/) next
        n = split($0, f, "|")
        if (n < 3) next
        r = f[3]
        for (i = 4; i <= n; i++) r = r "|" f[i]
        if (trim(f[1]) == suite) ok[trim(f[2]) "\t" trim(r)] = 1
        next
    }
    /^SKIP: / {
        test = $2
        rest = substr($0, length("SKIP: " test) + 2)
        if (rest ~ /^[0-9]+ /) {
            i = index(rest, "# SKIP")
            reason = i ? substr(rest, i + 6) : ""
        } else {
            reason = rest
            sub(/^- /, "", reason)
        }
        reason = trim(reason)
        if ((test "\t" reason) in ok) allowed++
        else { bad++; printf "skip not on the allow-list: %s: %s (%s)\n", test, reason, $0 }
    }
    END {
        printf "skips: %d allowed, %d not allowed\n", allowed, bad
        exit bad > 0
    }' "$allow" "$log"
