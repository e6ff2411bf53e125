#!/bin/sh
# SPDX-License-Identifier: MIT
# nss-system.sh: the real glibc NSS path, as root, in a private mount
# namespace. Inside the namespace only: an overlay puts the built
# libnss_openclaw.so.2 into the multiarch lib dir, an nsswitch.conf that
# lists "openclaw" is bind-mounted over /etc/nsswitch.conf, and the config
# appears at the module's config path (/etc/openclaw/openclaw.conf when
# configured with --sysconfdir=/etc). Then real getent, id and ls -l.
# Afterwards the host is checked to be untouched. Prints TAP.
set -u

: "${top_builddir:?}"
MODULE="$top_builddir/nss_openclaw/.libs/libnss_openclaw.so.2"
CTL="$top_builddir/helper/ctl/openclawctl"
TESTS="getent passwd NAME|getent passwd UID|getent group|role group members|enumeration has files and openclaw users|id NAME|id has the configured local group (initgroups_dyn)|ls -l shows the agent name|miss: getent exit 2|module loaded from the multiarch dir|host nsswitch.conf unchanged|no libnss_openclaw in the host lib dir|host config dir unchanged"

skip_all() {
    i=0
    echo "$TESTS" | tr '|' '\n' | while read -r t; do
        i=$((i + 1))
        echo "ok $i - $t # SKIP $1"
    done
    echo "1..$(echo "$TESTS" | tr '|' '\n' | wc -l)"
    exit 0
}

[ -f "$MODULE" ] || skip_all "module not built"
[ -x "$CTL" ] || skip_all "openclawctl not built"
if readelf --dyn-syms -W "$MODULE" | grep -q '__asan_'; then
    skip_all "sanitizer build: system binaries cannot load an ASan-instrumented module"
fi
[ "$(id -u)" = 0 ] || skip_all "needs root (mount namespace, overlay)"
command -v unshare >/dev/null 2>&1 || skip_all "unshare not found (util-linux)"
unshare --mount --propagation private true 2>/dev/null || skip_all "unshare --mount not permitted here"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
grep -qw overlay /proc/filesystems || skip_all "no overlay filesystem in this kernel"

multiarch=$(gcc -print-multiarch 2>/dev/null || true)
libdir=/lib/$multiarch
[ -n "$multiarch" ] && [ -d "$libdir" ] || skip_all "no multiarch lib dir"
realdir=$(readlink -f "$libdir")

# The config path compiled into the module (SYSCONFDIR/openclaw/openclaw.conf:
# /etc/... for a distribution build, /usr/local/etc/... by default).
confpath=$(strings -a "$MODULE" | grep -m1 '^/.*/openclaw/openclaw\.conf$')
[ -n "$confpath" ] || skip_all "cannot find the config path compiled into the module"
confdir=$(dirname "$confpath")
# The nearest existing ancestor of the config dir gets an overlay.
anc=$confdir
while [ ! -d "$anc" ]; do anc=$(dirname "$anc"); done
host_conf_state=$(ls -la "$confdir" 2>&1 | sha256sum | cut -d' ' -f1)

tmp=$(mktemp -d /tmp/oc-nss-system.XXXXXX)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

# Host state to compare afterwards.
host_nss_sum=$(sha256sum /etc/nsswitch.conf | cut -d' ' -f1)

local_group=
for g in adm users staff; do
    if getent group "$g" >/dev/null 2>&1; then
        local_group=$g
        break
    fi
done
local_group=${local_group:-adm}

cat >"$tmp/openclaw.conf" <<EOF
[global]
tenant_id = 11111111-2222-3333-4444-555555555555
audiences = api://openclaw-host
uid_min = 1879048192
uid_max = 2147352575
home = /home/agents/%u
shell = /bin/bash
nss_cache = $tmp/nss.cache

[agent build-bot]
app_id = aaaaaaaa-0000-0000-0000-000000000001
object_id = bbbbbbbb-0000-0000-0000-000000000001
uid = 1879048300
display_name = Build Bot
groups = builders, $local_group

[agent deploy-bot]
app_id = aaaaaaaa-0000-0000-0000-000000000002
object_id = bbbbbbbb-0000-0000-0000-000000000002
groups = builders
EOF
chmod 644 "$tmp/openclaw.conf"
"$CTL" cache rebuild --config "$tmp/openclaw.conf" --output "$tmp/nss.cache" >/dev/null ||
    skip_all "openclawctl cache rebuild failed"
lgid=$(getent group "$local_group" | cut -d: -f3)

cat >"$tmp/nsswitch.conf" <<EOF
passwd: files openclaw
group: files openclaw
shadow: files
hosts: files
EOF
cp "$MODULE" "$tmp/libnss_openclaw.so.2"

# The inner script runs in the namespace and writes "PASS|FAIL description".
cat >"$tmp/inner.sh" <<'EOF'
set -u
tmp=$1 realdir=$2 lgid=$3 local_group=$4 confdir=$5 anc=$6
res=$tmp/results
r() { if eval "$2"; then echo "PASS|$1" >>"$res"; else echo "FAIL|$1" >>"$res"; fi; }

mkdir -p "$tmp/ovl"
mount -t tmpfs oc-nss-test "$tmp/ovl" || exit 3
mkdir -p "$tmp/ovl/lib-up" "$tmp/ovl/lib-work" "$tmp/ovl/etc-up" "$tmp/ovl/etc-work"
cp "$tmp/libnss_openclaw.so.2" "$tmp/ovl/lib-up/" || exit 3
mount -t overlay oc-nss-lib -o "lowerdir=$realdir,upperdir=$tmp/ovl/lib-up,workdir=$tmp/ovl/lib-work" "$realdir" || exit 4
if [ -d "$confdir" ]; then
    mount -t tmpfs oc-nss-etc "$confdir" || exit 5
else
    mount -t overlay oc-nss-etc -o "lowerdir=$anc,upperdir=$tmp/ovl/etc-up,workdir=$tmp/ovl/etc-work" "$anc" || exit 5
    mkdir -p "$confdir" || exit 5
fi
: >"$confdir/openclaw.conf"
mount --bind "$tmp/openclaw.conf" "$confdir/openclaw.conf" || exit 6
mount --bind "$tmp/nsswitch.conf" /etc/nsswitch.conf || exit 6
unset OPENCLAW_CONFIG

out=$(getent passwd build-bot)
echo "# $out" >>"$res"
r "getent passwd NAME" '[ "$out" = "build-bot:*:1879048300:1879048300:Build Bot:/home/agents/build-bot:/bin/bash" ]'
r "getent passwd UID" '[ "$(getent passwd 1879048300 | cut -d: -f1)" = build-bot ]'
r "getent group" '[ "$(getent group build-bot)" = "build-bot:*:1879048300:" ]'
r "role group members" '[ "$(getent group builders | cut -d: -f4)" = "build-bot,deploy-bot" ]'
all=$(getent passwd)
r "enumeration has files and openclaw users" 'echo "$all" | grep -q "^root:" && echo "$all" | grep -q "^build-bot:" && echo "$all" | grep -q "^deploy-bot:"'
idout=$(id build-bot)
echo "# $idout" >>"$res"
r "id NAME" 'echo "$idout" | grep -q "^uid=1879048300(build-bot) gid=1879048300(build-bot)"'
r "id has the configured local group (initgroups_dyn)" 'echo "$idout" | grep -q -- "$lgid($local_group)" && echo "$idout" | grep -q "(builders)"'
: >"$tmp/owned"
chown 1879048300:1879048300 "$tmp/owned"
ls=$(ls -l "$tmp/owned")
echo "# $ls" >>"$res"
r "ls -l shows the agent name" 'echo "$ls" | grep -q " build-bot build-bot "'
getent passwd no-such-agent >/dev/null
rc=$?
r "miss: getent exit 2" '[ $rc = 2 ]'
r "module loaded from the multiarch dir" '[ -f "$realdir/libnss_openclaw.so.2" ]'
exit 0
EOF

: >"$tmp/results"
unshare --mount --propagation private sh "$tmp/inner.sh" "$tmp" "$realdir" "$lgid" "$local_group" \
    "$confdir" "$anc"
rc=$?
[ "$rc" = 0 ] || skip_all "namespace setup failed (exit $rc): overlay or bind mount refused"

n=0
while IFS='|' read -r status desc; do
    case $status in
    PASS) n=$((n + 1)); echo "ok $n - $desc" ;;
    FAIL) n=$((n + 1)); echo "not ok $n - $desc" ;;
    *) echo "$status" ;;
    esac
done <"$tmp/results"

# The host is untouched.
n=$((n + 1))
if [ "$(sha256sum /etc/nsswitch.conf | cut -d' ' -f1)" = "$host_nss_sum" ]; then
    echo "ok $n - host nsswitch.conf unchanged"
else
    echo "not ok $n - host nsswitch.conf unchanged"
fi
n=$((n + 1))
if ls "$realdir"/libnss_openclaw* >/dev/null 2>&1; then
    echo "not ok $n - no libnss_openclaw in the host lib dir"
else
    echo "ok $n - no libnss_openclaw in the host lib dir"
fi
n=$((n + 1))
if [ "$(ls -la "$confdir" 2>&1 | sha256sum | cut -d' ' -f1)" = "$host_conf_state" ]; then
    echo "ok $n - host config dir unchanged ($confdir)"
else
    echo "not ok $n - host config dir unchanged ($confdir)"
fi
echo "1..$n"
