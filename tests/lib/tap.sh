# tests/lib/tap.sh: TAP output for shell test scripts (sourced).
#   tap_ok DESC / tap_fail DESC [DETAIL] / tap_skip DESC REASON
#   tap_check DESC CMD...       ok when CMD succeeds
#   tap_done                    prints the plan; exit status 1 if anything failed
tap_n=0
tap_failed=0

tap_ok() {
    tap_n=$((tap_n + 1))
    printf 'ok %d - %s\n' "$tap_n" "$1"
}

tap_fail() {
    tap_n=$((tap_n + 1))
    tap_failed=$((tap_failed + 1))
    printf 'not ok %d - %s\n' "$tap_n" "$1"
    if [ $# -gt 1 ] && [ -n "$2" ]; then
        printf '%s\n' "$2" | sed 's/^/#   /'
    fi
}

tap_skip() {
    tap_n=$((tap_n + 1))
    printf 'ok %d - %s # SKIP %s\n' "$tap_n" "$1" "$2"
}

tap_check() {
    local desc=$1
    shift
    if "$@"; then
        tap_ok "$desc"
    else
        tap_fail "$desc" "command failed: $*"
    fi
}

# The whole script is skipped (plan 1..0) with a reason.
tap_skip_all() {
    printf '1..0 # SKIP %s\n' "$1"
    exit 0
}

tap_done() {
    printf '1..%d\n' "$tap_n"
    [ "$tap_failed" -eq 0 ]
}
