#!/bin/bash
# openclawctl status: reads only local files and says what is there, what
# is missing and what is wrong, per agent too.
set -u
. "$top_srcdir/tests/lib/tap.sh"
OC_PY=/usr/bin/python3
ctl="$top_builddir/helper/openclawctl"
[ -x "$ctl" ] || tap_skip_all "openclawctl not built"

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-status.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/keys" "$work/jwks"
chmod 0700 "$work/keys"
conf="$work/openclaw.conf"
cat >"$conf" <<CONF
[global]
tenant_id = 5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c
audiences = api://openclaw-host
state_dir = $work
runtime_dir = $work/run
allow_software_keys = yes

[agent agent-soft]
app_id = a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f
object_id = a3d5f7b9-1c4e-4a8b-8d2f-3c5e7a9b1d4f
credential = tpm-certificate
key_file = $work/keys/agent-soft.tpmkey

[agent agent-none]
app_id = b1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f2a
object_id = b3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e4a
CONF
chmod 0644 "$conf"
flags=(--config "$conf")
[ "$(id -u)" -eq 0 ] || flags+=(--insecure-config)

field() { "$OC_PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, bool) else v)' "$1"; }

out=$("$ctl" status "${flags[@]}" --json)
rc=$?
if [ "$rc" -eq 0 ] && [ "$(printf '%s' "$out" | field jwks.ok)" = false ] &&
    [ "$(printf '%s' "$out" | field nss_cache.ok)" = false ] &&
    [ "$(printf '%s' "$out" | field helper_up)" = false ]; then
    tap_ok "fresh host: caches missing, helper not running, exit 0"
else
    tap_fail "fresh host: caches missing, helper not running, exit 0" "rc=$rc $out"
fi
human=$("$ctl" status "${flags[@]}")
if printf '%s\n' "$human" | grep -q 'openclawctl cache rebuild writes it' &&
    printf '%s\n' "$human" | grep -q 'openclawd fetches it'; then
    tap_ok "missing files are reported with what writes them"
else
    tap_fail "missing files are reported with what writes them" "$human"
fi
if printf '%s' "$out" | field agents.0.key | grep -qx missing &&
    [ "$(printf '%s' "$out" | field agents.1.key)" = - ]; then
    tap_ok "a configured key file that does not exist shows as missing"
else
    tap_fail "a configured key file that does not exist shows as missing" "$out"
fi

"$ctl" cache rebuild "${flags[@]}" >/dev/null
cp "$top_srcdir/tests/unit/fixtures/jwks-tenant.json" "$work/jwks/keys.json"
out=$("$ctl" status "${flags[@]}" --json)
if [ "$(printf '%s' "$out" | field nss_cache.ok)" = true ] &&
    printf '%s' "$out" | field nss_cache.detail | grep -q '2 user(s)' &&
    [ "$(printf '%s' "$out" | field jwks.ok)" = true ]; then
    tap_ok "NSS cache and JWKS file present and readable"
else
    tap_fail "NSS cache and JWKS file present and readable" "$out"
fi

head -c 100 "$work/nss.cache" >"$work/nss.trunc" && mv "$work/nss.trunc" "$work/nss.cache"
printf '{"keys": [' >"$work/jwks/keys.json"
out=$("$ctl" status "${flags[@]}" --json)
if [ "$(printf '%s' "$out" | field nss_cache.ok)" = false ] &&
    printf '%s' "$out" | field nss_cache.detail | grep -q 'corrupt' &&
    [ "$(printf '%s' "$out" | field jwks.ok)" = false ]; then
    tap_ok "a truncated NSS cache and a broken JWKS file are reported as such"
else
    tap_fail "a truncated NSS cache and a broken JWKS file are reported as such" "$out"
fi

if "$ctl" tpm keygen --software --alg ecc --out "$work/keys/agent-soft.tpmkey" "${flags[@]}" \
    --tcti swtpm:path="$work/no-tpm" >/dev/null 2>"$work/keygen.err"; then
    out=$("$ctl" status "${flags[@]}" --json)
    human=$("$ctl" status "${flags[@]}")
    if [ "$(printf '%s' "$out" | field agents.0.key)" = software ] &&
        [ "$(printf '%s' "$out" | field allow_software_keys)" = true ] &&
        printf '%s\n' "$human" | grep -q 'software keys ALLOWED'; then
        tap_ok "a software key and the allow_software_keys setting are shown"
    else
        tap_fail "a software key and the allow_software_keys setting are shown" "$out"
    fi
else
    tap_fail "a software key and the allow_software_keys setting are shown" "$(cat "$work/keygen.err")"
fi

"$ctl" status --config "$work/missing.conf" >/dev/null 2>"$work/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q missing.conf "$work/err"; then
    tap_ok "missing config: exit 2 naming the file"
else
    tap_fail "missing config: exit 2 naming the file" "rc=$rc"
fi
tap_done
