#!/bin/bash
# scripts/deb-check.sh: build the Debian packages from a clean copy of the
# tree and try them in a throwaway root, never on the host itself.
#
#   1. apt-get installs the packaging tools (debhelper, lintian, fakeroot,
#      dpkg-dev) if missing;
#   2. the files a release carries (`make distdir`, from a throwaway
#      configure of the tree: no git needed, the same from a clone or from
#      an unpacked release tarball) are put in a temp dir and
#      `dpkg-buildpackage -us -uc -b` builds there;
#   3. the .debs are checked: no setuid/setgid bit, modules in the
#      multiarch dirs;
#   4. inside a private mount namespace, an overlay of / (upper layer on a
#      tmpfs) is the root of a chroot: `apt-get install ./*.deb` there,
#      then the checks (user openclaw in group tss, directory modes, PAM
#      and NSS not enabled, nsswitch.conf untouched, unit not enabled),
#      the pam-auth-update profile enabled and removed with the module,
#      and a purge that leaves nothing behind. The host's / is untouched:
#      every write lands in the tmpfs, which goes with the namespace;
#   5. lintian: errors fail the check; warnings are printed.
# Usage: scripts/deb-check.sh [--keep DIR]   (DIR receives the .debs)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
keep=""
[ "${1:-}" = --keep ] && keep=${2:?--keep needs a directory}
[ "$(id -u)" -eq 0 ] || { echo "deb-check: run as root (apt-get, unshare, chroot)" >&2; exit 2; }
start=$(date +%s)
say() { printf 'deb-check: %s\n' "$*"; }
fail=0
bad() {
    printf 'deb-check: FAIL: %s\n' "$*" >&2
    fail=1
}

need=""
for p in debhelper lintian fakeroot dpkg-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
    say "installing the packaging tools:$need"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/openclaw"
mkdir -p "$src"
# the release's files: `make distdir` (an in-tree build's, or a throwaway
# configure's in $work/dist)
if [ -f "$top/config.status" ]; then
    make -s -C "$top" distdir distdir="$src" >"$work/dist.log" 2>&1
else
    [ -x "$top/configure" ] || { bad "no $top/configure: run autoreconf -fi in $top first"; exit 1; }
    mkdir "$work/dist"
    (cd "$work/dist" && "$top/configure" -q && make -s distdir distdir="$src") >"$work/dist.log" 2>&1
fi || { tail -n 40 "$work/dist.log"; bad "make distdir failed (the release's file list)"; exit 1; }
say "source: the $(find "$src" -type f | wc -l) files of make distdir"
cd "$src"
dpkg-checkbuilddeps || { bad "build dependencies missing (scripts/install-deps.sh installs them)"; exit 1; }
say "building in $src"
DEB_BUILD_OPTIONS="parallel=2 ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1 ||
    { tail -n 40 "$work/build.log"; bad "dpkg-buildpackage failed"; exit 1; }
cd "$work"
say "built: $(for d in "$work"/*.deb; do basename "$d"; done | tr '\n' ' ')"
[ -n "$keep" ] && mkdir -p "$keep" && cp "$work"/*.deb "$keep/"

ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for d in "$work"/*.deb; do
    dpkg-deb -c "$d" >"$work/list"
    if awk '{print $1}' "$work/list" | grep '[sS]' >/dev/null; then
        bad "$(basename "$d") has a setuid or setgid file"
    fi
done
dpkg-deb -c "$work"/libpam-openclaw_*.deb >"$work/list"
grep "\./usr/lib/$ma/security/pam_openclaw.so$" "$work/list" >/dev/null ||
    bad "pam_openclaw.so is not in /usr/lib/$ma/security"
dpkg-deb -c "$work"/libnss-openclaw_*.deb >"$work/list"
grep "\./usr/lib/$ma/libnss_openclaw.so.2$" "$work/list" >/dev/null ||
    bad "libnss_openclaw.so.2 is not in /usr/lib/$ma"
say "no setuid/setgid bits; modules in /usr/lib/$ma and /usr/lib/$ma/security"

# --- the throwaway root ---------------------------------------------------
cat >"$work/inside.sh" <<'INSIDE'
#!/bin/bash
# runs chrooted in the overlay; prints FAIL lines, exit 1 on any
set -u
rc=0
bad() { echo "FAIL: $*"; rc=1; }
export DEBIAN_FRONTEND=noninteractive
cp /etc/nsswitch.conf /tmp/nsswitch.before
for f in /etc/pam.d/common-*; do cp "$f" "/tmp/$(basename "$f").before"; done
apt-get install -y --no-install-recommends /tmp/debs/*.deb >/tmp/apt.log 2>&1 ||
    { tail -n 30 /tmp/apt.log; echo "FAIL: apt-get install"; exit 1; }
getent passwd openclaw >/dev/null || bad "no user openclaw"
id -nG openclaw | grep -qw tss || bad "openclaw is not in group tss"
[ "$(getent passwd openclaw | cut -d: -f7)" = /usr/sbin/nologin ] || bad "openclaw has a login shell"
check_dir() { # PATH OWNER MODE
    [ "$(stat -c '%U %a' "$1" 2>/dev/null)" = "$2 $3" ] || bad "$1: $(stat -c '%U %a' "$1" 2>&1), want $2 $3"
}
check_dir /var/lib/openclaw openclaw 755
check_dir /var/lib/openclaw/jwks openclaw 755
check_dir /var/lib/openclaw/keys openclaw 700
[ -f /usr/lib/tmpfiles.d/openclaw.conf ] || bad "no tmpfiles snippet"
[ -f /lib/systemd/system/openclawd.service ] || bad "no systemd unit"
ls /etc/systemd/system/*.wants/openclawd.service >/dev/null 2>&1 && bad "openclawd.service enabled"
cmp -s /etc/nsswitch.conf /tmp/nsswitch.before || bad "nsswitch.conf changed"
grep -l pam_openclaw /etc/pam.d/* 2>/dev/null && bad "pam_openclaw enabled in a PAM stack"
for f in /etc/pam.d/common-*; do
    cmp -s "$f" "/tmp/$(basename "$f").before" || bad "$f changed"
done
[ -f /usr/share/pam-configs/openclaw ] || bad "no pam-auth-update profile"
for p in openclaw libpam-openclaw libnss-openclaw; do
    for f in $(dpkg -L "$p"); do
        [ -f "$f" ] && [ -n "$(find "$f" -perm /6000)" ] && bad "$f is setuid/setgid"
    done
done
/usr/sbin/openclawctl --version >/dev/null || bad "openclawctl does not run"
# the admin enables the profile; removing the module takes it out of the stacks
pam-auth-update --package --enable openclaw >/dev/null 2>&1
grep -q pam_openclaw /etc/pam.d/common-auth || bad "pam-auth-update --enable openclaw did nothing"
apt-get purge -y openclaw libpam-openclaw libnss-openclaw >/tmp/purge.log 2>&1 ||
    { tail -n 20 /tmp/purge.log; bad "apt-get purge"; }
grep -l pam_openclaw /etc/pam.d/* 2>/dev/null && bad "a PAM stack still names pam_openclaw after removal"
for p in /var/lib/openclaw /etc/openclaw /usr/sbin/openclawd /usr/share/pam-configs/openclaw \
    /usr/lib/tmpfiles.d/openclaw.conf; do
    [ -e "$p" ] && bad "$p left after purge"
done
dpkg -l openclaw libpam-openclaw libnss-openclaw 2>/dev/null | grep -q '^[ir]' &&
    bad "packages still known to dpkg"
exit $rc
INSIDE
mkdir -p "$work/root"
say "installing in a throwaway root (overlay of / on a tmpfs, private mount namespace)"
if unshare --mount --propagation private bash -c '
    set -e
    w=$1
    mount -t tmpfs -o size=1g oc-deb "$w/root"
    mkdir "$w/root/upper" "$w/root/work" "$w/root/merged"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$w/root/upper,workdir=$w/root/work" "$w/root/merged"
    m=$w/root/merged
    mount -t proc proc "$m/proc"
    mount --rbind /dev "$m/dev"
    mount -t tmpfs tmpfs "$m/run"
    mount -t tmpfs tmpfs "$m/tmp"
    mkdir "$m/tmp/debs"
    for d in "$w"/*.deb; do
        case $d in *-dbgsym_*) ;; *) cp "$d" "$m/tmp/debs/" ;; esac
    done
    cp "$w/inside.sh" "$m/tmp/inside.sh"
    printf "#!/bin/sh\nexit 101\n" >"$m/usr/sbin/policy-rc.d"
    chmod 0755 "$m/usr/sbin/policy-rc.d"
    chroot "$m" /bin/bash /tmp/inside.sh
' oc-deb "$work" >"$work/inside.log" 2>&1; then
    say "install, checks, profile removal and purge passed in the throwaway root"
else
    sed 's/^/  /' "$work/inside.log"
    bad "the throwaway-root checks failed"
fi
grep -q '^FAIL' "$work/inside.log" && bad "see FAIL lines above"

say "lintian"
lintian --tag-display-limit 0 --fail-on error "$work"/*.changes >"$work/lintian.log" 2>&1 ||
    bad "lintian reports errors"
if [ -s "$work/lintian.log" ]; then
    sed 's/^/  /' "$work/lintian.log"
else
    say "lintian: nothing to report"
fi
say "done in $(($(date +%s) - start)) s"
exit $fail
