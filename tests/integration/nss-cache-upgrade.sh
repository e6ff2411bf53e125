#!/bin/bash
# An upgrade that changes the NSS cache format: with static agents only
# (no [directory]), root's openclaw-sync (its timer's run, nothing forced)
# writes the cache again when the file on disk names an older format
# version, from the config alone; a cache of the current format, newer than
# the config, is left as it is. Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

[ "$(id -u)" = 0 ] || tap_skip_all "needs root (openclawd --allow-root, root-owned config)"
CTL="$top_builddir/helper/ctl/openclawctl"
[ -x "$OCD" ] && [ -x "$CTL" ] || tap_skip_all "openclawd or openclawctl not built"
command -v curl >/dev/null || tap_skip_all "curl missing (scripts/install-deps.sh)"

work=$(mktemp -d /tmp/oc-nssup.XXXXXX)
chmod 755 "$work"
HELPER_PID_main=""
cleanup() {
    helper_stop "$HELPER_PID_main" >/dev/null 2>&1
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT
tenant_start "$work/tenant" || tap_setup_fail "the local tenant did not start"
mkdir -p "$work/state" "$work/run"
C=$work/oc.conf
{
    conf_global "$work/state" "$work/run/ocd.sock" "nss_cache = $work/state/nss.cache" \
        "uid_min = 1879048192" "uid_max = 2147352575"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = 1879048193"
} >"$C"
chmod 644 "$C"
"$CTL" cache rebuild --config "$C" >"$work/rebuild.out" 2>&1 ||
    tap_setup_fail "openclawctl cache rebuild" "$(cat "$work/rebuild.out")"

version() { # the format version in the file's header (bytes 8..11, little endian)
    od -An -tu4 -j8 -N4 "$1" | tr -d ' '
}
current=$(version "$work/state/nss.cache")

OCS=$top_builddir/helper/sync/openclaw-sync
timer_run() { "$OCS" --config "$C" >"$work/main.log" 2>&1; } # what openclaw-sync.timer runs
# 1. a cache of the current format: openclaw-sync leaves it alone
ino=$(stat -c %i "$work/state/nss.cache")
timer_run || tap_setup_fail "openclaw-sync failed" "$(cat "$work/main.log")"
if [ "$(stat -c %i "$work/state/nss.cache")" = "$ino" ] && ! grep -q "older format" "$work/main.log"; then
    tap_ok "a cache of the current format (version $current) is left as it is by openclaw-sync's run"
else
    tap_fail "a cache of the current format is left as it is" "$(tail -n 5 "$work/main.log")"
fi

# 2. the same cache marked as an older format (what an upgrade finds)
printf "$(printf '\\%03o' $((current - 1)))" | dd of="$work/state/nss.cache" bs=1 seek=8 count=1 conv=notrunc status=none
old=$(version "$work/state/nss.cache")
[ "$old" = $((current - 1)) ] || tap_setup_fail "marking the cache as version $((current - 1))" "version $old"
timer_run || tap_fail "openclaw-sync's run" "$(cat "$work/main.log")"
if [ "$(version "$work/state/nss.cache")" = "$current" ]; then
    tap_ok "a cache of an older format (version $old) is written again by openclaw-sync's next run (version $current)"
else
    tap_fail "a cache of an older format is written again" "version $(version "$work/state/nss.cache"); $(tail -n 5 "$work/main.log")"
fi
grep -q "has an older format than this release reads: written again from the config" "$work/main.log" &&
    tap_ok "openclaw-sync says so in its log" ||
    tap_fail "openclaw-sync says so in its log" "$(tail -n 5 "$work/main.log")"
# what it wrote is the cache the admin's rebuild writes (the same agents)
"$CTL" cache rebuild --config "$C" --output "$work/fresh.cache" >/dev/null 2>&1
if [ "$(stat -c %s "$work/state/nss.cache")" = "$(stat -c %s "$work/fresh.cache")" ]; then
    tap_ok "the rewritten cache holds what a cache rebuild writes ($(stat -c %s "$work/fresh.cache") bytes)"
else
    tap_fail "the rewritten cache holds what a cache rebuild writes" "$(stat -c %s "$work/state/nss.cache") vs $(stat -c %s "$work/fresh.cache") bytes"
fi
tap_done
