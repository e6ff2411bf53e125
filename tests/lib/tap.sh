# tests/lib/tap.sh: TAP output for shell test scripts (sourced).
#   tap_ok DESC / tap_fail DESC [DETAIL] / tap_skip DESC REASON
#   tap_check DESC CMD...       ok when CMD succeeds
#   tap_skip_all REASON         plan 1..0 # SKIP: only for a missing tool or privilege
#   tap_setup_fail REASON       our own program or fixture failed during setup
#                               (openclawd, openclawctl, the local tenant): the
#                               script fails ("Bail out!"), it never skips
#   tap_done                    prints the plan; exit status 1 if anything failed
# scripts/test.sh fails the run on any skip that tests/skip-allowlist does
# not list (docs/testing.md).
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

# The whole script is skipped (plan 1..0) with a reason: a missing tool
# or a missing privilege, never a failure of our own programs.
tap_skip_all() {
    printf '1..0 # SKIP %s\n' "$1"
    exit 0
}

# Setup failed in something the suite tests or ships (the daemon did not
# start, openclawctl failed, the local tenant gave no token): a failure.
tap_setup_fail() {
    printf 'Bail out! setup failed: %s\n' "$1"
    exit 1
}

tap_done() {
    printf '1..%d\n' "$tap_n"
    [ "$tap_failed" -eq 0 ]
}
