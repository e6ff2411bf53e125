#!/bin/bash
# The README's two commands on a pristine Debian 12, as a new user meets them.
#
#   scripts/fresh-check.sh [--base-only] [--rebuild-base] [--keep] [--only demo|tests] [--run CMD]
#
# 1. A pristine Debian 12 root: `debootstrap --variant=minbase bookworm`,
#    built once and cached in $OC_FRESH_CACHE (default
#    /var/cache/openclaw-fresh-check); every run starts from a fresh copy.
# 2. Copied in: only what any machine on this network has -- the apt
#    sources and apt's Acquire settings, the local CA certificates, the npm
#    client's settings (npmrc) and the CA variables of the environment.
#    No package, no Node.js, no git, no build output.
# 3. The committed HEAD of this tree is cloned into /root/openclaw (mode
#    0700 /root, as a new root user would have it).
# 4. In a private mount and PID namespace, the root bound onto itself and
#    made the namespace's root (pivot_root), with proc, sys, dev, run and
#    tmp mounted, the README's two commands run
#    exactly as written, as root, from /root/openclaw:
#        ./scripts/demo.sh
#        ./scripts/test.sh
# 5. Their results are printed; the logs (and the test command's
#    _build/logs) are kept in the work directory when a command failed (or
#    with --keep).
#
# --run CMD runs CMD (bash, in /root/openclaw of the pristine root) instead
# of the two commands: for finding out why one of them failed there.
#
# The host is left as it was: every mount lives in the private namespace,
# every process started dies with its PID namespace, and the copy of the
# root is deleted at the end (apt-get may install debootstrap on the host,
# and the cached base root stays). Not part of the test command (it takes
# 35-60 minutes on 2 cores); see docs/testing.md.
#
# Exit status: 0 when both commands exited 0 and the test command's last
# line is "N passed, 0 failed[, N skipped]"; 1 otherwise; 2 on bad usage.
set -u

usage() {
    sed -n 's/^#   //p' "$0" | head -n 1 >&2
    exit 2
}

base_only=no
rebuild=no
keep=no
only=both
custom=
while [ $# -gt 0 ]; do
    case $1 in
    --base-only) base_only=yes ;;
    --rebuild-base) rebuild=yes ;;
    --keep) keep=yes ;;
    --only)
        [ $# -ge 2 ] || usage
        only=$2
        shift
        case $only in demo | tests) ;; *) usage ;; esac
        ;;
    --run)
        [ $# -ge 2 ] || usage
        custom=$2
        only=custom
        shift
        ;;
    -h | --help) usage ;;
    *)
        echo "fresh-check: unknown option $1" >&2
        usage
        ;;
    esac
    shift
done

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${OC_FRESH_CACHE:-/var/cache/openclaw-fresh-check}
base=$cache/bookworm-minbase
suite=bookworm

say() { printf 'fresh-check: %s\n' "$*"; }
die() {
    printf 'fresh-check: %s\n' "$*" >&2
    exit 1
}

[ "$(id -u)" -eq 0 ] || die "run as root (it builds and enters a chroot)"
for t in unshare chroot mount tar; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found (util-linux, coreutils, tar)"
done
if [ "$base_only" = no ]; then
    command -v git >/dev/null 2>&1 || die "git not found: the check clones the committed tree (apt-get install git)"
    git -C "$top" rev-parse --verify -q HEAD >/dev/null || die "$top is not a git clone: the check clones the committed tree"
fi

# The mirror the host's apt uses (first deb line of its sources).
mirror() {
    local m
    m=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n 1)
    [ -n "$m" ] || m=$(sed -n 's/^deb  *\(\[[^]]*\] *\)\?\(http[^ ]*\) .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
    echo "${m:-http://deb.debian.org/debian}"
}

# 1. the cached pristine root
build_base() {
    local tmp
    if ! command -v debootstrap >/dev/null 2>&1; then
        say "installing debootstrap (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null ||
            die "apt-get install debootstrap failed"
    fi
    mkdir -p "$cache"
    rm -rf "$base" "$base.tmp"
    tmp=$base.tmp
    say "debootstrap --variant=minbase $suite from $(mirror) (a few minutes, once)"
    if ! debootstrap --variant=minbase "$suite" "$tmp" "$(mirror)" >"$cache/debootstrap.log" 2>&1; then
        tail -n 20 "$cache/debootstrap.log" >&2
        rm -rf "$tmp"
        die "debootstrap failed (log: $cache/debootstrap.log)"
    fi
    # Nothing of the host in the cached base: the apt lists debootstrap left
    # are dropped, so the first command must run apt-get update as a new
    # machine does.
    rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/*.bin
    date -u +%Y-%m-%dT%H:%M:%SZ >"$tmp/.openclaw-fresh-base"
    mv "$tmp" "$base"
}

if [ "$rebuild" = yes ] || [ ! -f "$base/.openclaw-fresh-base" ]; then
    build_base
else
    say "pristine base root from $(cat "$base/.openclaw-fresh-base") (cached; --rebuild-base for a new one)"
fi
[ "$base_only" = no ] || exit 0

# 2. a fresh copy of it, with the network's settings
work=$(mktemp -d /var/tmp/openclaw-fresh.XXXXXX) || die "mktemp failed"
root=$work/root
cleanup() {
    local rc=$?
    [ -d "$root/usr" ] && say "disk used by the root at the end: $(du -sh "$root" 2>/dev/null | cut -f1)"
    if [ "$keep" = yes ] || [ "$rc" -ne 0 ]; then
        # only the logs are worth keeping; the root is large
        [ -d "$root/root/openclaw/_build/logs" ] && cp -r "$root/root/openclaw/_build/logs" "$work/build-logs"
        # the suites' own logs of failed tests
        if [ -d "$root/root/openclaw/_build" ]; then
            (cd "$root/root/openclaw/_build" && find . -name '*.log' -path '*/tests/*' \
                -newer "$work/.start" -exec grep -l -E '^(not ok|Bail out)' {} + 2>/dev/null |
                while read -r f; do mkdir -p "$work/failed/$(dirname "$f")" && cp "$f" "$work/failed/$f"; done)
        fi
        rm -rf "$root"
        say "logs kept in $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
say "copying the base root to $root"
cp -a "$base" "$root" || die "copying the base root failed"
rm -f "$root/.openclaw-fresh-base"

# apt: the enabled sources and the Acquire settings (no disabled lists)
mkdir -p "$root/etc/apt/sources.list.d" "$root/etc/apt/apt.conf.d"
rm -f "$root/etc/apt/sources.list"
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$root/etc/apt/sources.list"
for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && cp "$f" "$root/etc/apt/sources.list.d/"
done
for f in /etc/apt/apt.conf.d/*; do
    [ -f "$f" ] && grep -q '^ *Acquire::' "$f" && cp "$f" "$root/etc/apt/apt.conf.d/"
done
# Signed-By keyrings the sources name, when the base lacks them
for k in $(sed -n 's/^Signed-By: *//p' "$root"/etc/apt/sources.list.d/*.sources 2>/dev/null); do
    [ -f "$k" ] && [ ! -f "$root$k" ] && mkdir -p "$root$(dirname "$k")" && cp "$k" "$root$k"
done
# the CA certificates of this network (installed by ca-certificates' own
# postinst when install-deps brings it in)
if [ -d /usr/local/share/ca-certificates ]; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
# npm's registry settings
for f in /etc/npmrc /usr/etc/npmrc /root/.npmrc; do
    if [ -f "$f" ]; then
        mkdir -p "$root$(dirname "$f")"
        cp -p "$f" "$root$f"
    fi
done
# resolv.conf, so names resolve as on the host
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

# 3. the committed tree, where a new root user puts it
rev=$(git -C "$top" rev-parse --short HEAD)
say "cloning $top at $rev into /root/openclaw"
git clone -q "$top" "$root/root/openclaw" || die "git clone failed"
rm -rf "$root/root/openclaw/.git/hooks"
chmod 0700 "$root/root"

# 4. the two commands, in a private mount + PID namespace
envs=(HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    LANG=C.UTF-8 TERM=dumb)
for v in NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR; do
    [ -n "${!v:-}" ] && envs+=("$v=${!v}")
done

inner=$work/inner.sh
cat >"$inner" <<'EOF'
set -u
root=$1 only=$2 custom=$3
shift 3
# The logs and the results, opened before the root changes (they live
# beside the root, outside it).
exec 5>>"$root/../results" 6>"$root/../demo.log" 7>"$root/../test.log" 8>"$root/../custom.log"
mount --make-rprivate /
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"
mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
mkdir -p "$root/run/lock"
# The pristine root becomes the root of this mount namespace (pivot_root,
# not chroot): a test that enters another mount namespace (nsenter, setns)
# lands on the namespace's root, which must be the pristine one, as on a
# real machine.
cd "$root" || exit 1
mkdir .fresh-check-old-root
pivot_root . .fresh-check-old-root || exit 1
cd / || exit 1
umount -l /.fresh-check-old-root
rmdir /.fresh-check-old-root
run() {
    local name=$1 limit=$2 fd=$3 cmd t0 t1 rc
    shift 3
    cmd="./scripts/$name.sh"
    [ "$name" != custom ] || cmd=$custom
    t0=$(date +%s)
    timeout -k 30 "$limit" /usr/bin/env -i "$@" /bin/bash -c \
        "cd /root/openclaw && $cmd" </dev/null >&"$fd" 2>&1
    rc=$?
    t1=$(date +%s)
    echo "$name $rc $((t1 - t0))" >&5
}
case $only in
custom) run custom 4800 8 "$@" ;;
demo) run demo 3600 6 "$@" ;;
tests) run test 4800 7 "$@" ;;
*)
    run demo 3600 6 "$@"
    run test 4800 7 "$@"
    ;;
esac
EOF
: >"$work/results"
: >"$work/.start"
say "running the README's commands in the pristine root (logs: $work/demo.log, $work/test.log)"
unshare --mount --pid --fork --kill-child /bin/bash "$inner" "$root" "$only" "$custom" "${envs[@]}"

# 5. results
status=0
while read -r name rc secs; do
    line=$(tail -n 1 "$work/$name.log" 2>/dev/null)
    say "$name: exit $rc in $secs s; last line: $line"
    [ "$rc" -eq 0 ] || status=1
    if [ "$name" = custom ]; then
        tail -n 60 "$work/$name.log" | sed 's/^/    /'
    fi
    if [ "$name" = test ] && ! printf '%s\n' "$line" | grep -Eq '^[0-9]+ passed, 0 failed(, [0-9]+ skipped)?$'; then
        status=1
    fi
    if [ "$rc" -ne 0 ]; then
        echo "---- last lines of $name.log"
        tail -n 40 "$work/$name.log" | sed 's/^/    /'
    fi
done <"$work/results"
case $only in
both) [ "$(wc -l <"$work/results")" -eq 2 ] || status=1 ;;
*) [ "$(wc -l <"$work/results")" -eq 1 ] || status=1 ;;
esac
if [ "$status" -eq 0 ]; then
    if [ "$only" = custom ]; then say "pass: the command exited 0 in the pristine root ($rev)"; else say "pass: the README commands succeed on a pristine Debian 12 ($rev)"; fi
else
    say "FAIL ($rev)"
fi
exit "$status"
