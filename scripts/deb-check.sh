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
#   5. upgrade and removal: version N+1 built from a copy with a bumped
#      changelog; in a second throwaway root openclawd (enabled, started)
#      must run the new binary after the upgrade, the pam-auth-update
#      profile must stay enabled; remove stops openclawd, purge cleans up;
#   6. lintian: errors fail the check; warnings are printed.
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
# production builds: no test hook (OPENCLAW_TEST_*: a settable clock, a
# write pause, a check turned off) compiled into any packaged file
mkdir -p "$work/contents"
for d in "$work"/*.deb; do
    dpkg-deb -x "$d" "$work/contents"
done
hooks=$(grep -rla 'OPENCLAW_TEST_' "$work/contents" 2>/dev/null | sed "s|^$work/contents||" || true)
[ -z "$hooks" ] || bad "test hooks compiled into the packages:$(printf ' %s' $hooks)"
[ -s "$work/contents/usr/lib/$ma/security/pam_openclaw.so" ] || bad "the packages could not be unpacked for the test-hook check"
say "no test hook (OPENCLAW_TEST_*) in any packaged file"

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
check_dir /var/lib/openclaw-pam root 700
check_dir /var/lib/openclaw-trust root 755
check_dir /var/lib/openclaw-trust/jwks root 755
[ -x /usr/sbin/openclaw-sync ] || bad "no /usr/sbin/openclaw-sync"
for u in openclaw-sync.service openclaw-sync.timer openclaw-sync.path openclawd-imds.socket; do
    [ -f "/lib/systemd/system/$u" ] || bad "no systemd unit $u"
done
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
for p in /var/lib/openclaw /var/lib/openclaw-pam /var/lib/openclaw-trust /etc/openclaw /usr/sbin/openclawd /usr/share/pam-configs/openclaw \
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

# --- upgrade and removal: openclawd across N -> N+1 -------------------------
# A second build, version N+1 (the changelog of a copy bumped), then in a
# second throwaway root: install N, enable and start openclawd, enable the
# pam-auth-update profile, upgrade to N+1: openclawd must run the new binary
# (postinst try-restart) and the profile stay in the stacks; a stopped
# openclawd stays stopped across a reinstall; remove stops it and takes the
# profile out; purge leaves nothing. No systemd runs here: a test double of
# systemctl (below) runs the unit's ExecStart, with its Environment=, as
# its User=, so the maintainer scripts' deb-systemd-invoke calls act on a
# real openclawd process.
say "building version N+1 for the upgrade test"
next="$work/next"
mkdir -p "$next"
cp -a "$src" "$next/openclaw"
vn=$(cd "$src" && dpkg-parsechangelog -S Version)
vn1="$vn+upgradetest1"
{
    printf 'openclaw (%s) unstable; urgency=medium\n\n' "$vn1"
    printf '  * Rebuilt by scripts/deb-check.sh to test an upgrade.\n\n'
    printf ' -- %s  %s\n\n' "$(cd "$src" && dpkg-parsechangelog -S Maintainer)" "$(date -R)"
    cat "$src/debian/changelog"
} >"$next/openclaw/debian/changelog.new"
mv "$next/openclaw/debian/changelog.new" "$next/openclaw/debian/changelog"
(cd "$next/openclaw" && DEB_BUILD_OPTIONS="parallel=2 ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b >"$next/build.log" 2>&1) ||
    { tail -n 40 "$next/build.log"; bad "dpkg-buildpackage of N+1 failed"; exit 1; }
dpkg-deb -I "$work"/openclaw_*.deb postinst | grep -q 'try-restart' ||
    bad "the postinst of openclaw does not try-restart openclawd on upgrade"
dpkg-deb -I "$work"/openclaw_*.deb preinst 2>/dev/null | grep -q 'stop' &&
    bad "the preinst of openclaw stops openclawd on upgrade"
dpkg-deb -I "$work"/openclaw_*.deb prerm 2>/dev/null | grep -q 'deb-systemd-invoke stop openclawd' ||
    bad "the prerm of openclaw does not stop openclawd on remove"

cat >"$work/systemctl" <<'FAKE'
#!/bin/bash
# Test double of systemctl for deb-check's throwaway root, where no
# systemd runs: enough of it for the maintainer scripts and the test, for
# openclawd.service only (any other unit: nothing to do; a call naming
# several units acts on openclawd.service among them).
set -u
args=()
for a in "$@"; do
    case $a in -*) ;; *) args+=("$a") ;; esac
done
act=${args[0]:-}
# maintainer scripts name several units at once (openclaw-sync's too):
# act on openclawd.service when it is one of them
unit=
for u in "${args[@]:1}"; do
    [ "${u%.service}" = openclawd ] && unit=openclawd
done
file=/lib/systemd/system/openclawd.service
wants=/etc/systemd/system/multi-user.target.wants/openclawd.service
pidf=/run/oc-fake-systemd/openclawd.pid
running() { [ -s "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; }
key() { sed -n "s/^$1=//p" "$file"; }
start() {
    running && return 0
    mkdir -p /run/oc-fake-systemd
    local user group env exe
    user=$(key User) group=$(key Group)
    install -d -o "$user" -g "$user" -m 0755 "/run/$(key RuntimeDirectory)"
    mapfile -t env < <(key Environment)
    exe=$(key ExecStart)
    setsid setpriv --reuid="$user" --regid="$group" --init-groups \
        env "${env[@]}" $exe >>/var/log/openclawd.log 2>&1 </dev/null &
    echo $! >"$pidf"
    sleep 1
    running
}
stop() {
    running || return 0
    local p i=0
    p=$(cat "$pidf")
    kill "$p"
    while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    rm -f "$pidf"
}
[ "$unit" = openclawd ] || [ "$act" = daemon-reload ] || [ "$act" = --version ] || exit 0
case $act in
daemon-reload) ;;
start) start ;;
stop) stop ;;
restart) stop && start ;;
try-restart | condrestart) if running; then stop && start; fi ;;
is-active) if running; then echo active; else echo inactive; exit 3; fi ;;
is-enabled) if [ -L "$wants" ]; then echo enabled; else echo disabled; exit 1; fi ;;
enable) mkdir -p "${wants%/*}" && ln -sf "$file" "$wants" ;;
disable) rm -f "$wants" ;;
*) echo "fake systemctl: $act not supported" >&2; exit 1 ;;
esac
FAKE

cat >"$work/upgrade.sh" <<'INSIDE'
#!/bin/bash
# runs chrooted in the overlay; prints FAIL lines, exit 1 on any
set -u
rc=0
bad() { echo "FAIL: $*"; rc=1; }
export DEBIAN_FRONTEND=noninteractive
say() { echo "upgrade: $*"; }
pid() { cat /run/oc-fake-systemd/openclawd.pid 2>/dev/null; }
alive() { [ -n "$(pid)" ] && kill -0 "$(pid)" 2>/dev/null; }
apt-get install -y --no-install-recommends /tmp/debs/*.deb >/tmp/apt.log 2>&1 ||
    { tail -n 30 /tmp/apt.log; echo "FAIL: apt-get install of N"; exit 1; }
v0=$(dpkg-query -W -f='${Version}' openclaw)
cat >/etc/openclaw/openclaw.conf <<'CONF'
[global]
tenant_id = 5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c
audiences = api://openclaw-host
# nothing listens there: openclawd runs and retries, offline
authority = https://127.0.0.1:9
CONF
chmod 0644 /etc/openclaw/openclaw.conf
systemctl enable openclawd.service
systemctl start openclawd.service || bad "openclawd does not start (version $v0): $(tail -n 5 /var/log/openclawd.log)"
p0=$(pid)
[ "$(stat -c %U "/proc/$p0" 2>/dev/null)" = openclaw ] || bad "openclawd does not run as openclaw"
grep -q '^TSS2_LOG=all+none$' <(tr '\0' '\n' <"/proc/$p0/environ") ||
    bad "openclawd runs without TSS2_LOG=all+none (the unit's Environment=)"
grep -q 'ERROR:tcti' /var/log/openclawd.log && bad "tpm2-tss writes ERROR:tcti lines into openclawd's log"
pam-auth-update --package --enable openclaw >/dev/null 2>&1
grep -q pam_openclaw /etc/pam.d/common-auth || bad "pam-auth-update --enable openclaw did nothing"
say "installed $v0, openclawd running as pid $p0, profile enabled"

apt-get install -y --no-install-recommends /tmp/next/*.deb >/tmp/apt-up.log 2>&1 ||
    { tail -n 30 /tmp/apt-up.log; echo "FAIL: apt-get install of N+1"; exit 1; }
v1=$(dpkg-query -W -f='${Version}' openclaw)
[ "$v1" != "$v0" ] || bad "the upgrade did not change the version ($v0)"
p1=$(pid)
if ! alive; then
    bad "openclawd is not running after the upgrade to $v1"
elif [ "$p1" = "$p0" ]; then
    bad "openclawd was not restarted by the upgrade (pid $p0 still runs the old binary)"
else
    exe=$(readlink "/proc/$p1/exe")
    case $exe in *deleted*) bad "openclawd runs a deleted binary: $exe" ;; esac
    [ "$(stat -L -c %d:%i "/proc/$p1/exe")" = "$(stat -c %d:%i /usr/sbin/openclawd)" ] ||
        bad "openclawd (pid $p1) does not run /usr/sbin/openclawd of $v1"
fi
grep -q pam_openclaw /etc/pam.d/common-auth || bad "the profile is no longer enabled after the upgrade"
[ -f /usr/share/pam-configs/openclaw ] || bad "the profile file is gone after the upgrade"
[ $rc -eq 0 ] && say "upgraded to $v1, openclawd running the new binary as pid $p1, profile still enabled"

systemctl stop openclawd.service
apt-get install -y --reinstall --no-install-recommends /tmp/next/openclaw_*.deb >/tmp/apt-re.log 2>&1 ||
    { tail -n 30 /tmp/apt-re.log; bad "apt-get install --reinstall"; }
alive && bad "a stopped openclawd was started by a reinstall of $v1"
[ $rc -eq 0 ] && say "a stopped openclawd stays stopped across a reinstall"

systemctl start openclawd.service || bad "openclawd does not start again"
apt-get remove -y openclaw libpam-openclaw libnss-openclaw >/tmp/remove.log 2>&1 ||
    { tail -n 20 /tmp/remove.log; bad "apt-get remove"; }
alive && bad "openclawd still runs after remove"
grep -l pam_openclaw /etc/pam.d/* 2>/dev/null && bad "a PAM stack still names pam_openclaw after remove"
[ $rc -eq 0 ] && say "remove stopped openclawd and took the profile out of the stacks"
rm -f /etc/openclaw/openclaw.conf # the admin's file, which purge keeps
apt-get purge -y openclaw libpam-openclaw libnss-openclaw >/tmp/purge.log 2>&1 ||
    { tail -n 20 /tmp/purge.log; bad "apt-get purge"; }
for p in /var/lib/openclaw /etc/openclaw /usr/share/pam-configs/openclaw; do
    [ -e "$p" ] && bad "$p left after purge"
done
dpkg -l openclaw libpam-openclaw libnss-openclaw 2>/dev/null | grep -q '^[ir]' &&
    bad "packages still known to dpkg after purge"
exit $rc
INSIDE
say "upgrade $vn -> $vn1 and removal in a second throwaway root"
if unshare --mount --propagation private bash -c '
    set -e
    w=$1
    mkdir -p "$w/root2"
    mount -t tmpfs -o size=1g oc-deb "$w/root2"
    mkdir "$w/root2/upper" "$w/root2/work" "$w/root2/merged"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$w/root2/upper,workdir=$w/root2/work" "$w/root2/merged"
    m=$w/root2/merged
    mount -t proc proc "$m/proc"
    mount --rbind /dev "$m/dev"
    mount -t tmpfs tmpfs "$m/run"
    mount -t tmpfs tmpfs "$m/tmp"
    mkdir "$m/tmp/debs" "$m/tmp/next" "$m/run/systemd" "$m/run/systemd/system"
    for d in "$w"/*.deb; do
        case $d in *-dbgsym_*) ;; *) cp "$d" "$m/tmp/debs/" ;; esac
    done
    for d in "$w"/next/*.deb; do
        case $d in *-dbgsym_*) ;; *) cp "$d" "$m/tmp/next/" ;; esac
    done
    cp "$w/upgrade.sh" "$m/tmp/upgrade.sh"
    # in place of the real one: apt runs dpkg with PATH=DPkg::Path (no /usr/local)
    install -m 0755 "$w/systemctl" "$m/usr/bin/systemctl"
    # services may start here (openclawd only: the test double knows no other)
    printf "#!/bin/sh\nexit 0\n" >"$m/usr/sbin/policy-rc.d"
    chmod 0755 "$m/usr/sbin/policy-rc.d"
    rc=0
    chroot "$m" /bin/bash /tmp/upgrade.sh || rc=$?
    # stop what the test started, by its pid, before the namespace goes
    if [ -s "$m/run/oc-fake-systemd/openclawd.pid" ]; then
        kill "$(cat "$m/run/oc-fake-systemd/openclawd.pid")" 2>/dev/null || :
    fi
    exit $rc
' oc-deb "$work" >"$work/upgrade.log" 2>&1; then
    sed -n 's/^upgrade: /  /p' "$work/upgrade.log"
    say "upgrade (openclawd restarted on the new binary, profile kept), remove and purge passed"
else
    sed 's/^/  /' "$work/upgrade.log"
    bad "the upgrade/remove checks failed"
fi
grep -q '^FAIL' "$work/upgrade.log" && bad "see FAIL lines above"
# --- end of the upgrade and removal test ----------------------------------

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
