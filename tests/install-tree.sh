#!/bin/bash
# Check what `make install` lays out, in a DESTDIR tree (never the host):
# nothing setuid or setgid, nothing world-writable, the modules where
# PAM and glibc look for them (without libtool archives), every program
# with its manual page, the systemd unit (pointing at this build's paths),
# the sysusers.d and tmpfiles.d snippets, the pam-auth-update profile, and
# openclaw.conf installed once and never replaced by a second install.
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
sysconfdir=$(var sysconfdir)
unitdir=$(var systemdsystemunitdir)
sysusersdir=$(var sysusersdir)
tmpfilesdir=$(var tmpfilesdir)
pamconfigsdir=$(var pamconfigsdir)

special=$(find "$dest" -perm /6000 -print)
[ -z "$special" ] || bad "setuid/setgid files: $special"
writable=$(find "$dest" -perm -0002 ! -type l -print)
[ -z "$writable" ] || bad "world-writable files: $writable"
[ -f "$dest$nsslibdir/libnss_openclaw.so.2" ] || bad "no libnss_openclaw.so.2 in $nsslibdir"
[ -f "$dest$pamlibdir/pam_openclaw.so" ] || bad "no pam_openclaw.so in $pamlibdir"
las=$(find "$dest" -name '*.la' -print)
[ -z "$las" ] || bad "libtool archives installed: $las"
for p in "$sbindir/openclawctl" "$sbindir/openclawd" "$sbindir/openclaw-sync" "$bindir/openclaw-token" "$bindir/openclaw-askpass"; do
    [ -x "$dest$p" ] || bad "missing program $p"
done
for m in man5/openclaw.conf.5 man8/openclawctl.8 man8/openclawd.8 man8/openclaw-sync.8 man8/pam_openclaw.8 \
    man8/nss_openclaw.8 man1/openclaw-token.1; do
    [ -f "$dest$mandir/$m" ] || bad "missing manual page $m"
done
[ -f "$dest$mandir/man8/openclaw-authorized-keys.8" ] || bad "missing manual page openclaw-authorized-keys.8"
[ -f "$dest$mandir/man1/openclaw-askpass.1" ] || bad "missing manual page openclaw-askpass.1"

# mode FILE: octal permission bits
mode() { stat -c %a "$1" 2>/dev/null; }

# the systemd unit: this build's openclawd and configuration, user openclaw
unit=$dest$unitdir/openclawd.service
if [ -f "$unit" ]; then
    [ "$(mode "$unit")" = 644 ] || bad "$unitdir/openclawd.service: mode $(mode "$unit"), not 644"
    grep -qx "ExecStart=$sbindir/openclawd --config $sysconfdir/openclaw/openclaw.conf --foreground" "$unit" ||
        bad "openclawd.service: ExecStart does not name $sbindir/openclawd and $sysconfdir/openclaw/openclaw.conf"
    grep -qx "User=openclaw" "$unit" || bad "openclawd.service: not User=openclaw"
    grep -q "^\[Install\]" "$unit" || bad "openclawd.service: no [Install] section"
else
    bad "no systemd unit $unitdir/openclawd.service"
fi

# openclaw-sync: root's one-shot writer of the keys, hardened, its timer
# and the path unit pam_openclaw's refresh requests start it through
unit=$dest$unitdir/openclaw-sync.service
if [ -f "$unit" ]; then
    [ "$(mode "$unit")" = 644 ] || bad "$unitdir/openclaw-sync.service: mode $(mode "$unit"), not 644"
    grep -qx "ExecStart=$sbindir/openclaw-sync --config $sysconfdir/openclaw/openclaw.conf" "$unit" ||
        bad "openclaw-sync.service: ExecStart does not name $sbindir/openclaw-sync and $sysconfdir/openclaw/openclaw.conf"
    grep -q "^User=" "$unit" && bad "openclaw-sync.service: runs as another user than root"
    for want in "Type=oneshot" "ProtectSystem=strict" "ReadWritePaths=/var/lib/openclaw-trust" \
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" "SystemCallFilter=@system-service" \
        "CapabilityBoundingSet=" "NoNewPrivileges=yes" "DevicePolicy=closed"; do
        grep -qx -- "$want" "$unit" || bad "openclaw-sync.service: no '$want'"
    done
else
    bad "no systemd unit $unitdir/openclaw-sync.service"
fi
for u in openclaw-sync.timer openclaw-sync.path; do
    [ "$(mode "$dest$unitdir/$u")" = 644 ] || bad "$unitdir/$u: missing or not 0644"
done
grep -qx "PathExists=/var/lib/openclaw-trust/jwks/refresh-requested" "$dest$unitdir/openclaw-sync.path" ||
    bad "openclaw-sync.path does not watch jwks_dir's refresh-requested"
# mi_endpoint = imds: root's socket unit adds the address and binds port 80
unit=$dest$unitdir/openclawd-imds.socket
if [ "$(mode "$unit")" = 644 ]; then
    for want in "ExecStartPre=$sbindir/openclawctl imds-address add" \
        "ExecStopPost=$sbindir/openclawctl imds-address remove" "ListenStream=169.254.169.254:80" \
        "IPAddressDeny=any" "Service=openclawd.service"; do
        grep -qx -- "$want" "$unit" || bad "openclawd-imds.socket: no '$want'"
    done
else
    bad "no systemd unit $unitdir/openclawd-imds.socket (0644)"
fi

# sysusers.d: the system user openclaw, member of tss (the TPM device's group)
su=$dest$sysusersdir/openclaw.conf
if [ -f "$su" ]; then
    grep -Eq '^u[[:space:]]+openclaw[[:space:]]+-[[:space:]]' "$su" || bad "sysusers.d/openclaw.conf: no 'u openclaw -' line"
    grep -Eq '^m[[:space:]]+openclaw[[:space:]]+tss$' "$su" || bad "sysusers.d/openclaw.conf: openclaw not put in group tss"
else
    bad "no sysusers.d snippet $sysusersdir/openclaw.conf"
fi

# tmpfiles.d: each directory with its owner and mode (docs/architecture.md, Files)
tf=$dest$tmpfilesdir/openclaw.conf
if [ -f "$tf" ]; then
    for want in "/var/lib/openclaw 0755 openclaw openclaw" "/var/lib/openclaw/jwks 0755 openclaw openclaw" \
        "/var/lib/openclaw/keys 0700 openclaw openclaw" "/run/openclaw 0755 openclaw openclaw" \
        "/var/lib/openclaw-pam 0700 root root" "/var/lib/openclaw-trust 0755 root root" \
        "/var/lib/openclaw-trust/jwks 0755 root root"; do
        awk -v w="$want" '$1 == "d" && ($2 " " $3 " " $4 " " $5) == w { f = 1 } END { exit !f }' "$tf" ||
            bad "tmpfiles.d/openclaw.conf: no 'd $want' line"
    done
else
    bad "no tmpfiles.d snippet $tmpfilesdir/openclaw.conf"
fi

# the pam-auth-update profile, off by default
pc=$dest$pamconfigsdir/openclaw
if [ -f "$pc" ]; then
    grep -qx "Default: no" "$pc" || bad "pam-configs/openclaw: not 'Default: no'"
else
    bad "no pam-auth-update profile $pamconfigsdir/openclaw"
fi

# openclaw.conf: installed when missing (0644), kept when present
conf=$dest$sysconfdir/openclaw/openclaw.conf
if [ -f "$conf" ]; then
    [ "$(mode "$conf")" = 644 ] || bad "$sysconfdir/openclaw/openclaw.conf: mode $(mode "$conf"), not 644"
    printf '# edited by the admin\n' >>"$conf"
    make -C "$builddir" -s install DESTDIR="$dest" >/dev/null || bad "a second make install failed"
    grep -qx '# edited by the admin' "$conf" || bad "a second make install replaced the existing openclaw.conf"
else
    bad "no $sysconfdir/openclaw/openclaw.conf"
fi

special=$(find "$dest" -perm /6000 -print)
[ -z "$special" ] || bad "setuid/setgid files after the second install: $special"

n=$(find "$dest" -type f | wc -l)
echo "install-tree: $n files; no setuid/setgid, nothing world-writable; modules in $pamlibdir and $nsslibdir; unit, sysusers.d, tmpfiles.d, pam-configs, openclaw.conf (kept on reinstall)"
exit $fail
