#!/bin/sh
# Run the local test tenant's own pytest suite and report it as TAP, one
# result per pytest test, for automake's test harness.
set -u
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
py=/usr/bin/python3
if ! "$py" -c 'import pytest, jwt, cryptography' 2>/dev/null; then
    echo "1..0 # SKIP /usr/bin/python3 lacks pytest, jwt or cryptography (scripts/install-deps.sh)"
    exit 0
fi
out=$(mktemp "${TMPDIR:-/tmp}/oc-tenant-suite.XXXXXX")
trap 'rm -f "$out"' EXIT INT TERM
cd "$srcdir/tests/tenant" || exit 1
PYTHONDONTWRITEBYTECODE=1 "$py" -m pytest -v -p no:cacheprovider -o console_output_style=classic \
    . >"$out" 2>&1
rc=$?
awk -v rc="$rc" '
    / (PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)( |$)/ && /::/ {
        n++
        name = $1
        if ($0 ~ / PASSED/ || $0 ~ / XFAIL/) print "ok " n " - " name
        else if ($0 ~ / SKIPPED/) print "ok " n " - " name " # SKIP"
        else print "not ok " n " - " name
    }
    END {
        if (n == 0) { print "not ok 1 - pytest ran no test (exit " rc ")"; n = 1 }
        else if (rc != 0 && rc != 1) { n++; print "not ok " n " - pytest exit status " rc }
        print "1.." n
    }' "$out"
# the full pytest output, as TAP comments, for the log
sed 's/^/# /' "$out"
