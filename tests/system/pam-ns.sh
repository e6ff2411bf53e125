# tests/system/pam-ns.sh: shared setup of the PAM system tests (sourced).
#
# The outer half runs on the host: checks, tokens from the local tenant, a
# fingerprint of every host file the inner half shadows. The inner half
# runs as root in `unshare --mount --propagation private --net` and
# replaces, inside that namespace only:
#   - the PAM module directory: an overlay whose upper layer holds the
#     built pam_openclaw.so on top of the real multiarch security dir
#     (sshd sessions load modules from there only), or, without overlayfs,
#     a tmpfs copy of it bind-mounted over it;
#   - /etc/passwd, /etc/group, /etc/pam.d, /etc/sudoers: bind mounts of
#     copies (the agents are never added there: root and /etc/passwd
#     users are never agents, docs/pam.md);
#   - with ns_add_agent: the multiarch lib dir (an overlay adding the built
#     libnss_openclaw.so.2 and pam_openclaw.so), /etc/nsswitch.conf
#     ("files openclaw") and the NSS module's compiled-in config path (an
#     overlay holding the test config with nss_cache set): the agents
#     resolve through the real NSS module, as on a real host;
#   - /run: a tmpfs (sshd needs /run/sshd, sudo its timestamp dir).
# Inner results are written as "ok - DESC" / "not ok - DESC" lines to
# $NS_RESULTS and re-numbered by the outer half.

# The directory PAM loads modules from (where pam_permit.so is).
ns_pam_dir() {
    local f
    for f in /lib/*/security/pam_permit.so /usr/lib/*/security/pam_permit.so \
        /lib/security/pam_permit.so /usr/lib/security/pam_permit.so; do
        if [ -f "$f" ]; then
            readlink -f "$(dirname "$f")"
            return 0
        fi
    done
    return 1
}

# Fingerprint of every host file or directory the namespace shadows.
ns_host_fingerprint() {
    {
        ls -la --time-style=full-iso "$(ns_pam_dir)"
        sha256sum /etc/passwd /etc/group /etc/sudoers /etc/nsswitch.conf 2>/dev/null
        find /etc/pam.d -type f -exec sha256sum {} + 2>/dev/null | sort
        ls -la --time-style=full-iso /etc/pam.d 2>/dev/null
        ls -d /etc/openclaw /dev/log 2>/dev/null
    } | sha256sum | cut -d' ' -f1
}

ns_result() { # ns_result ok|fail DESC [DETAIL]
    if [ "$1" = ok ]; then
        printf 'ok - %s\n' "$2" >>"$NS_RESULTS"
    else
        printf 'not ok - %s\n' "$2" >>"$NS_RESULTS"
        [ -n "${3:-}" ] && printf '%s\n' "$3" | head -n 30 | sed 's/^/#   /' >>"$NS_RESULTS"
    fi
}

# Re-emit the inner results as TAP through tests/lib/tap.sh.
ns_report() {
    local line detail=""
    [ -f "$NS_RESULTS" ] || return 0
    while IFS= read -r line; do
        case $line in
        "ok - "*" # SKIP "*)
            detail=${line#ok - }
            tap_skip "${detail%% # SKIP *}" "${detail#* # SKIP }"
            ;;
        "ok - "*) tap_ok "${line#ok - }" ;;
        "not ok - "*) tap_fail "${line#not ok - }" ;;
        "#"*) printf '%s\n' "$line" ;;
        esac
    done <"$NS_RESULTS"
}

# ns_setup WORK MODULE: run inside the namespace. Sets NS_PAM_DIR.
ns_setup() {
    local w=$1 mod=$2
    NS_PAM_DIR=$(ns_pam_dir) || return 1
    mkdir -p "$w/modtop" "$w/etc"
    cp "$mod" "$w/modtop/pam_openclaw.so"
    chmod 0644 "$w/modtop/pam_openclaw.so"
    if ! mount -t overlay openclaw-pam -o "lowerdir=$w/modtop:$NS_PAM_DIR" "$NS_PAM_DIR" 2>/dev/null; then
        mkdir -p "$w/modcopy"
        mount -t tmpfs -o mode=0755 openclaw-pam "$w/modcopy" || return 1
        cp -a "$NS_PAM_DIR"/. "$w/modcopy/"
        cp "$w/modtop/pam_openclaw.so" "$w/modcopy/"
        mount --bind "$w/modcopy" "$NS_PAM_DIR" || return 1
    fi
    mount -t tmpfs -o mode=0755 openclaw-run /run || return 1
    mkdir -p /run/sshd
    chmod 0755 /run/sshd
    cp /etc/passwd "$w/etc/passwd"
    cp /etc/group "$w/etc/group"
    cp -a /etc/pam.d "$w/etc/pam.d"
    mount --bind "$w/etc/passwd" /etc/passwd || return 1
    mount --bind "$w/etc/group" /etc/group || return 1
    mount --bind "$w/etc/pam.d" /etc/pam.d || return 1
    ip link set lo up 2>/dev/null
    return 0
}

# ns_nss_setup WORK CONF: serve the [agent] sections of CONF through the
# built libnss_openclaw.so.2 (see the header). Run once, inside the
# namespace, after ns_setup. Sets NS_NSS_CONF (the config the NSS module
# reads) and NS_NSS_CACHE.
ns_nss_setup() {
    local w=$1 conf=$2 nssmod confpath anc rel libdir
    [ -n "${NS_NSS_CONF:-}" ] && return 0
    nssmod=${NS_NSS_MODULE:-$(dirname "$NS_MODULE")/../../nss_openclaw/.libs/libnss_openclaw.so.2}
    [ -f "$nssmod" ] || return 1
    confpath=$(strings -a "$nssmod" | grep -m1 '^/.*/openclaw/openclaw\.conf$')
    [ -n "$confpath" ] || return 1
    NS_NSS_CACHE=$w/nss.cache
    mkdir -p "$w/nsstop/lib/security" "$w/nsstop/etc"
    sed "s|^\[global\]\$|[global]\nnss_cache = $NS_NSS_CACHE\nhome = /tmp\nshell = /bin/sh|" "$conf" >"$w/nss.conf"
    chmod 0644 "$w/nss.conf"
    "${NS_CTL:-$(dirname "$NS_MODULE")/../../helper/ctl/openclawctl}" cache rebuild \
        --config "$w/nss.conf" --output "$NS_NSS_CACHE" >/dev/null || return 1
    chmod 0644 "$NS_NSS_CACHE"
    # the modules in the real multiarch dir (sessions load them from there)
    libdir=$(dirname "$NS_PAM_DIR")
    cp "$nssmod" "$w/nsstop/lib/libnss_openclaw.so.2"
    cp "$NS_PAM_DIR/pam_openclaw.so" "$w/nsstop/lib/security/pam_openclaw.so"
    chmod 0644 "$w/nsstop/lib/libnss_openclaw.so.2" "$w/nsstop/lib/security/pam_openclaw.so"
    mount -t overlay openclaw-lib -o "lowerdir=$w/nsstop/lib:$libdir" "$libdir" || return 1
    # the config where the NSS module looks (compiled-in path)
    anc=$(dirname "$confpath")
    while [ ! -d "$anc" ]; do anc=$(dirname "$anc"); done
    rel=${confpath#"$anc"}
    mkdir -p "$w/nsstop/etc$(dirname "$rel")"
    cp "$w/nss.conf" "$w/nsstop/etc$rel"
    mount -t overlay openclaw-etc -o "lowerdir=$w/nsstop/etc:$anc" "$anc" || return 1
    sed -e 's/^passwd:.*/passwd: files openclaw/' -e 's/^group:.*/group: files openclaw/' \
        /etc/nsswitch.conf >"$w/nsswitch.conf"
    mount --bind "$w/nsswitch.conf" /etc/nsswitch.conf || return 1
    NS_NSS_CONF=$confpath
    return 0
}

# ns_add_agent NAME UID: the agent resolves through NSS (libnss_openclaw)
# to UID; its [agent NAME] section is in $NS_WORK/openclaw.conf. Never in
# /etc/passwd (a local user is never an agent).
ns_add_agent() {
    local got
    if ! ns_nss_setup "$NS_WORK" "$NS_WORK/openclaw.conf"; then
        ns_result fail "agent $1 served through libnss_openclaw"
        return 1
    fi
    got=$(getent passwd "$1" | cut -d: -f3)
    if [ "$got" != "$2" ]; then
        ns_result fail "agent $1 served through libnss_openclaw" "getent passwd $1: uid '$got', expected $2"
        return 1
    fi
    return 0
}

# Split a token file into 500-byte lines (the chunks of the continuation
# protocol), with a final empty line when the length is a multiple of 500.
ns_token_lines() {
    local t
    t=$(tr -d ' \r\n' <"$1")
    printf '%s' "$t" | fold -w 500
    echo
    [ $((${#t} % 500)) -eq 0 ] && echo
    return 0
}

# ns_expect N: the inner half reported N results, else it ended early.
ns_expect() {
    local n
    n=$(grep -c '^\(not \)\?ok - ' "$NS_RESULTS" 2>/dev/null)
    if [ "${n:-0}" -lt "$1" ]; then
        tap_fail "the namespace part ran all its checks ($n of $1)"
    fi
}

# ns_syslog_capture WORK: a private /dev (tmpfs, with the host's device
# nodes bind-mounted back) whose /dev/log is a datagram socket served by a
# small listener that appends every record to WORK/syslog.log. Lets the
# tests read what setuid programs (su, sudo) and sshd's PAM child send to
# syslog. Sets NS_SYSLOG_PID; returns 1 when it cannot be set up.
ns_syslog_capture() {
    local w=$1 n
    [ -e /dev/log ] && return 1
    mkdir -p "$w/olddev"
    mount --rbind /dev "$w/olddev" || return 1
    mount -t tmpfs -o mode=0755 openclaw-dev /dev || return 1
    for n in null zero full random urandom tty; do
        [ -e "$w/olddev/$n" ] || continue
        : >"/dev/$n"
        mount --bind "$w/olddev/$n" "/dev/$n" || return 1
    done
    mkdir -p /dev/pts /dev/shm
    mount --rbind "$w/olddev/pts" /dev/pts 2>/dev/null
    mount --rbind "$w/olddev/shm" /dev/shm 2>/dev/null
    ln -s pts/ptmx /dev/ptmx
    ln -s /proc/self/fd /dev/fd
    ln -s /proc/self/fd/0 /dev/stdin
    ln -s /proc/self/fd/1 /dev/stdout
    ln -s /proc/self/fd/2 /dev/stderr
    /usr/bin/python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
out = open(sys.argv[1], "ab", buffering=0)
open(sys.argv[1] + ".ready", "w").close()
while True:
    out.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
' "$w/syslog.log" &
    NS_SYSLOG_PID=$!
    for n in $(seq 1 50); do
        [ -e "$w/syslog.log.ready" ] && return 0
        sleep 0.1
    done
    return 1
}

# ns_syslog_has REGEX: a captured record matches (extended regex).
ns_syslog_has() {
    grep -Eq -- "$1" "$NS_WORK/syslog.log" 2>/dev/null
}
