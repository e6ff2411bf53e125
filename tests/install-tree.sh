#!/bin/bash
# Check what `make install` lays out, in a DESTDIR tree (never the host):
# nothing setuid or setgid, nothing world-writable, the modules where
# PAM and glibc look for them (without libtool archives), and every
# program with its manual page.
#   tests/install-tree.sh BUILDDIR
set -u
builddir=$1
dest=$(mktemp -d "${TMPDIR:-/tmp}/oc-destdir.XXXXXX")
trap 'rm -rf "$dest"' EXIT
fail=0
bad() {
    echo "install-tree: $*" >&2
    fail=1
}

make -C "$builddir" -s install DESTDIR="$dest" >/dev/null || {
    echo "install-tree: make install failed" >&2
    exit 1
}
var() { make -C "$builddir" -s --no-print-directory print-install-dirs | sed -n "s/^$1=//p"; }
pamlibdir=$(var pamlibdir)
nsslibdir=$(var nsslibdir)
bindir=$(var bindir)
sbindir=$(var sbindir)
mandir=$(var mandir)

special=$(find "$dest" -perm /6000 -print)
[ -z "$special" ] || bad "setuid/setgid files: $special"
writable=$(find "$dest" -perm -0002 ! -type l -print)
[ -z "$writable" ] || bad "world-writable files: $writable"
[ -f "$dest$nsslibdir/libnss_openclaw.so.2" ] || bad "no libnss_openclaw.so.2 in $nsslibdir"
[ -f "$dest$pamlibdir/pam_openclaw.so" ] || bad "no pam_openclaw.so in $pamlibdir"
las=$(find "$dest" -name '*.la' -print)
[ -z "$las" ] || bad "libtool archives installed: $las"
for p in "$sbindir/openclawctl" "$sbindir/openclawd" "$bindir/openclaw-token" "$bindir/openclaw-askpass"; do
    [ -x "$dest$p" ] || bad "missing program $p"
done
for m in man5/openclaw.conf.5 man8/openclawctl.8 man8/openclawd.8 man8/pam_openclaw.8 \
    man8/nss_openclaw.8 man1/openclaw-token.1; do
    [ -f "$dest$mandir/$m" ] || bad "missing manual page $m"
done
n=$(find "$dest" -type f | wc -l)
echo "install-tree: $n files; no setuid/setgid, nothing world-writable; modules in $pamlibdir and $nsslibdir"
exit $fail
