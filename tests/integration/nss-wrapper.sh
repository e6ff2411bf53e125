#!/bin/sh
# SPDX-License-Identifier: MIT
# nss-wrapper.sh: libnss_openclaw.so.2 as built, through nss_wrapper
# (getent passwd|group, id), with a cache made by "openclawctl cache
# rebuild". Also checks the module's ELF: libc.so.6 is its only NEEDED
# entry, it exports nothing but _nss_openclaw_*, and it carries the cache
# reader but not the writer. Prints TAP.
set -u

: "${top_builddir:?}"
MODULE="$top_builddir/nss_openclaw/.libs/libnss_openclaw.so.2"
CTL="$top_builddir/helper/ctl/openclawctl"

n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { # check DESCRIPTION COMMAND...
    d=$1
    shift
    if "$@"; then ok "$d"; else notok "$d"; fi
}

if [ ! -f "$MODULE" ]; then
    echo "1..0 # SKIP module not built: $MODULE"
    exit 0
fi

asan=no
if readelf --dyn-syms -W "$MODULE" | grep -q '__asan_'; then
    asan=yes
fi

# --- the ELF file ---------------------------------------------------
needed=$(readelf -d "$MODULE" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "# NEEDED: $needed"
if [ "$asan" = yes ]; then
    skip "only libc.so.6 is NEEDED" "sanitizer build links the ASan runtime"
else
    check "only libc.so.6 is NEEDED" test "$needed" = "libc.so.6 "
fi
exports=$(readelf --dyn-syms -W "$MODULE" | awk '$7 != "UND" && ($5 == "GLOBAL" || $5 == "WEAK") {print $8}' |
    sed 's/@.*//' | grep -v '^_nss_openclaw_' | tr '\n' ' ')
check "exports only _nss_openclaw_* (other: '$exports')" test -z "$exports"
soname=$(readelf -d "$MODULE" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
check "SONAME is libnss_openclaw.so.2" test "$soname" = "libnss_openclaw.so.2"
# The module maps a cache and never builds one: the writer
# (helper/lib/oc_nsscwrite.c, libochelper) is not linked in. Read from the
# full symbol table, which a module built in the tree keeps.
funcs=$(readelf -s -W "$MODULE" | awk '$4 == "FUNC" {print $8}')
if ! printf '%s\n' "$funcs" | grep -qx 'oc_nssc_open'; then
    skip "the module carries no cache writer" "no symbol table (a stripped module)"
elif printf '%s\n' "$funcs" | grep -qx 'oc_nssc_build'; then
    notok "the module carries the cache reader, not the writer (oc_nssc_build is in it)"
else
    ok "the module carries the cache reader, not the writer (oc_nssc_build)"
fi

# --- through nss_wrapper ----------------------------------------------
WRAPPER=
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib \
    "/usr/lib/$(gcc -print-multiarch 2>/dev/null)"; do
    if [ -f "$d/libnss_wrapper.so" ]; then
        WRAPPER="$d/libnss_wrapper.so"
        break
    fi
done

reason=
if [ "$asan" = yes ]; then
    reason="sanitizer build: preloaded nss_wrapper and getent lack the ASan runtime"
elif [ -z "$WRAPPER" ]; then
    reason="libnss_wrapper.so not found (apt-get install libnss-wrapper)"
elif [ "$(id -u)" != 0 ]; then
    reason="the module accepts only a root-owned config; run as root"
elif [ ! -x "$CTL" ]; then
    reason="openclawctl not built"
fi
if [ -n "$reason" ]; then
    for t in "cache rebuild" "rebuild deterministic" "rebuild refuses gid 0" "getent passwd NAME" "getent passwd UID" \
        "hashed uid in range" "getent group" "role group members" "id NAME" "id groups" \
        "enumeration" "miss exit 2" "missing cache"; do
        skip "$t" "$reason"
    done
    echo "1..$n"
    exit 0
fi

tmp=$(mktemp -d /tmp/oc-nss-wrapper.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

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

[roles]
Host.Deploy = deployers
EOF
chmod 644 "$tmp/openclaw.conf"

check "cache rebuild" "$CTL" cache rebuild --config "$tmp/openclaw.conf" --output "$tmp/nss.cache"
"$CTL" cache rebuild --config "$tmp/openclaw.conf" --output "$tmp/nss.cache2" >/dev/null
check "rebuild deterministic (same bytes)" cmp -s "$tmp/nss.cache" "$tmp/nss.cache2"

sed 's/^groups = builders, .*/groups = builders, root/' "$tmp/openclaw.conf" >"$tmp/root.conf"
chmod 644 "$tmp/root.conf"
"$CTL" cache rebuild --config "$tmp/root.conf" --output "$tmp/nss.cache.root" >/dev/null 2>&1
rc=$?
check "rebuild refuses to grant the gid 0 group" test "$rc" = 2 -a ! -e "$tmp/nss.cache.root"

printf 'root:x:0:0:root:/root:/bin/sh\n' >"$tmp/passwd"
printf 'root:x:0:\n%s:x:%s:\n' "$local_group" "$(getent group "$local_group" | cut -d: -f3)" >"$tmp/group"

wrap() {
    env LD_PRELOAD="$WRAPPER" NSS_WRAPPER_PASSWD="$tmp/passwd" NSS_WRAPPER_GROUP="$tmp/group" \
        NSS_WRAPPER_MODULE_SO_PATH="$MODULE" NSS_WRAPPER_MODULE_FN_PREFIX=openclaw \
        OPENCLAW_CONFIG="$tmp/openclaw.conf" "$@"
}

out=$(wrap getent passwd build-bot)
echo "# $out"
check "getent passwd NAME" test "$out" = "build-bot:*:1879048300:1879048300:Build Bot:/home/agents/build-bot:/bin/bash"
out=$(wrap getent passwd 1879048300 | cut -d: -f1)
check "getent passwd UID" test "$out" = "build-bot"
duid=$(wrap getent passwd deploy-bot | cut -d: -f3)
echo "# deploy-bot uid $duid"
check "hashed uid in range" test "${duid:-0}" -ge 1879048192 -a "${duid:-0}" -le 2147352575

out=$(wrap getent group build-bot)
check "getent group (user private group)" test "$out" = "build-bot:*:1879048300:"
out=$(wrap getent group builders)
echo "# $out"
check "role group members" test "$(echo "$out" | cut -d: -f4)" = "build-bot,deploy-bot"

out=$(wrap id build-bot)
echo "# $out"
check "id NAME" sh -c "echo '$out' | grep -q '^uid=1879048300(build-bot) gid=1879048300(build-bot)'"
# nss_wrapper answers getgrouplist() by walking group entries, so only the
# openclaw groups show here; local groups added by initgroups_dyn are
# checked by the system test through glibc itself.
check "id groups include the openclaw group" sh -c "echo '$out' | grep -q '([b]uilders)'"

out=$(wrap getent passwd | grep -c -- '-bot:')
check "enumeration lists both agents" test "$out" = 2

wrap getent passwd no-such-agent >/dev/null
rc=$?
check "miss: getent exit 2" test "$rc" = 2

rm -f "$tmp/nss.cache"
out=$(wrap getent passwd build-bot)
check "missing cache: no answer, no crash" test -z "$out"

echo "1..$n"
exit 0
