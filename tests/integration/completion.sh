#!/bin/bash
# bash completion of openclawctl and openclaw-token: the scripts of
# data/bash-completion, sourced in a bash without the user's rc files
# (and, when installed, with the bash-completion library loaded first),
# complete subcommands, verbs, options, agent names from the config,
# users and PAM services; make install puts them in bash-completion's
# directory.
set -u
. "$top_srcdir/tests/lib/tap.sh"
comp="$top_srcdir/data/bash-completion"
work=$(mktemp -d "${TMPDIR:-/tmp}/oc-completion.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat >"$work/openclaw.conf" <<'CONF'
[global]
tenant_id = 5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c
[agent build-bot]
app_id = x
[agent  deploy-bot]
CONF

# complete LIB LINE: the completions bash offers for LINE (cursor at its end)
complete_line() {
    bash --norc --noprofile -c '
        [ -n "$1" ] && [ -r "$1" ] && . "$1" >/dev/null 2>&1
        . "$2"/openclawctl
        . "$2"/openclaw-token
        line=$3
        read -r -a COMP_WORDS <<<"$line"
        [ "${line: -1}" = " " ] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE=$line
        COMP_POINT=${#line}
        fn=$(complete -p "${COMP_WORDS[0]}" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
        "$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s\n" "${COMPREPLY[@]}" | sort
    ' sh "$1" "$comp" "$2"
}
expect() { # LIB DESC LINE WANTED...
    local lib=$1 desc=$2 line=$3 got w missing=""
    shift 3
    got=$(complete_line "$lib" "$line")
    for w in "$@"; do
        printf '%s\n' "$got" | grep -qx -- "$w" || missing="$missing $w"
    done
    if [ -z "$missing" ]; then tap_ok "$desc"; else tap_fail "$desc" "missing:$missing; got: $got"; fi
}
expect_only() { # LIB DESC LINE WANTED (exactly one completion)
    local got
    got=$(complete_line "$1" "$3")
    [ "$got" = "$4" ] && tap_ok "$2" || tap_fail "$2" "got: $got"
}

libs=("")
[ -r /usr/share/bash-completion/bash_completion ] && libs+=(/usr/share/bash-completion/bash_completion)
for lib in "${libs[@]}"; do
    w=${lib:+" (with bash-completion)"}
    expect "$lib" "openclawctl: every subcommand$w" "openclawctl " status verify-token agent tpm \
        seal token cache enroll check-config test-login audit imds-address
    expect_only "$lib" "openclawctl: a prefix completes to its subcommand$w" "openclawctl check" check-config
    expect "$lib" "openclawctl agent: its verbs$w" "openclawctl agent " list show status lock unlock
    expect "$lib" "openclawctl imds-address: its verbs$w" "openclawctl imds-address " check add remove
    expect "$lib" "openclawctl agent unlock: agent names from --config$w" \
        "openclawctl agent --config $work/openclaw.conf unlock " build-bot deploy-bot
    expect "$lib" "openclawctl check-config: its options$w" "openclawctl check-config --" \
        --config --pam-dir --login-defs --passwd --group --json
    expect "$lib" "openclawctl test-login: its options$w" "openclawctl test-login --" \
        --rhost --at --json
    expect "$lib" "openclawctl test-login USER: local users$w" "openclawctl test-login roo" root
    if [ -e /etc/pam.d/other ]; then
        expect "$lib" "openclawctl test-login USER SERVICE: PAM services$w" \
            "openclawctl test-login root oth" other
    else
        tap_skip "openclawctl test-login USER SERVICE: PAM services$w" "no /etc/pam.d/other"
    fi
    expect "$lib" "openclawctl tpm keygen --alg: rsa and ecc$w" "openclawctl tpm keygen --alg " rsa ecc
    expect "$lib" "openclaw-token: its options$w" "openclaw-token --" --scope --json --keyring \
        --agent --socket --ssh-agent
done

# make install puts both where bash-completion finds them
if [ -f "$top_builddir/Makefile" ]; then
    if make -C "$top_builddir" -s install-dist_bashcompletionDATA DESTDIR="$work/dest" \
        >"$work/install.log" 2>&1 &&
        [ -f "$(find "$work/dest" -path '*/bash-completion/completions/openclawctl' | head -n 1)" ] &&
        [ -f "$(find "$work/dest" -path '*/bash-completion/completions/openclaw-token' | head -n 1)" ]; then
        tap_ok "make install: both in .../bash-completion/completions"
    else
        tap_fail "make install: both in .../bash-completion/completions" "$(cat "$work/install.log")"
    fi
fi
tap_done
