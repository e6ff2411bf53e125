#!/bin/bash
# openclawctl status: reads only local files and says what is there, what
# is missing and what is wrong, per agent too.
set -u
. "$top_srcdir/tests/lib/tap.sh"
OC_PY=/usr/bin/python3
ctl="$top_builddir/helper/ctl/openclawctl"
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
trust_dir = $work
jwks_dir = $work/jwks
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
if printf '%s\n' "$human" | grep -q 'openclaw-sync writes it, as root' &&
    printf '%s\n' "$human" | grep -q 'openclaw-sync fetches it, as root'; then
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

# the TPM: backend from the tcti, present or not (no TPM command)
sed 's|^runtime_dir = .*|&\ntcti = device:'"$work"'/no-tpm|' "$conf" >"$work/notpm.conf"
chmod 0644 "$work/notpm.conf"
nflags=(--config "$work/notpm.conf")
[ "$(id -u)" -eq 0 ] || nflags+=(--insecure-config)
out=$("$ctl" status "${nflags[@]}" --json)
human=$("$ctl" status "${nflags[@]}")
if [ "$(printf '%s' "$out" | field tpm.backend)" = device ] &&
    [ "$(printf '%s' "$out" | field tpm.present)" = false ] &&
    [ "$(printf '%s' "$out" | field tpm.tcti)" = "device:$work/no-tpm" ] &&
    printf '%s\n' "$human" | grep -q "backend device: NOT PRESENT"; then
    tap_ok "tcti = device:PATH without the device: backend device, TPM not present"
else
    tap_fail "tcti = device:PATH without the device: TPM not present" "$out"
fi
sed -i "s|^tcti = .*|tcti = swtpm:path=$work/no-swtpm.sock|" "$work/notpm.conf"
out=$("$ctl" status "${nflags[@]}" --json)
if [ "$(printf '%s' "$out" | field tpm.backend)" = swtpm ] &&
    [ "$(printf '%s' "$out" | field tpm.present)" = false ]; then
    tap_ok "tcti = swtpm:path=SOCKET with nobody there: backend swtpm, not present"
else
    tap_fail "tcti = swtpm with nobody there: not present" "$out"
fi

"$ctl" status --config "$work/missing.conf" >/dev/null 2>"$work/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q missing.conf "$work/err"; then
    tap_ok "missing config: exit 2 naming the file"
else
    tap_fail "missing config: exit 2 naming the file" "rc=$rc"
fi

# --- with openclawd running (root: clients under other uids; the local tenant) ---
daemon_cleanup() {
    helper_stop "$HELPER_PID_st"
    tenant_stop
    if [ -n "$swtpm_pid" ]; then
        kill "$swtpm_pid" 2>/dev/null
        for _ in $(seq 1 50); do
            kill -0 "$swtpm_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$swtpm_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
daemon_part() {
    top_builddir=${top_builddir:-$top_srcdir}
    . "$top_srcdir/tests/lib/tenant.sh"
    . "$top_srcdir/tests/integration/helper-lib.sh"
    local SWTPM=${SWTPM:-$(command -v swtpm 2>/dev/null || true)}
    local UID_A=1879048193 UID_B=1879048194 UID_G=1879048197 tcti key_kind
    local GAMMA_OID=c3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e4a
    local ADMIN_APP=c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b
    local ADMIN_SECRET='aDm8Q~openclaw-demo-admin-secret.00000001'
    local d=$work/d
    mkdir -p "$d/state" "$d/run" && chmod 755 "$work" "$d"
    mkdir -m 0700 "$d/keys" "$d/tally"
    HELPER_PID_st=""
    swtpm_pid=""
    trap daemon_cleanup EXIT
    if [ -n "$SWTPM" ] && [ -x "$SWTPM" ]; then
        mkdir -p "$d/tpm"
        "$SWTPM" socket --tpm2 --tpmstate dir="$d/tpm" \
            --server type=unixio,path="$d/tpm/sock" --ctrl type=unixio,path="$d/tpm/sock.ctrl" \
            --flags not-need-init,startup-clear --pid file="$d/tpm/pid" --daemon >"$d/tpm/log" 2>&1
        wait_for 5 test -s "$d/tpm/pid" && wait_for 5 test -S "$d/tpm/sock"
        swtpm_pid=$(cat "$d/tpm/pid" 2>/dev/null)
    fi
    if [ -n "$swtpm_pid" ]; then
        tcti="swtpm:path=$d/tpm/sock"
        key_kind=tpm
        "$ctl" tpm keygen --alg ecc --out "$d/keys/gamma.key" --tcti "$tcti" >/dev/null 2>&1
    else
        tcti="device:$d/no-tpm"
        key_kind=software
    fi
    tenant_start "$d/tenant" || {
        tap_fail "local tenant starts"
        return
    }
    printf '%s\n' "$ALPHA_SECRET" >"$d/alpha.secret"
    printf 'not-the-secret\n' >"$d/beta.secret"
    printf '%s\n' "$ADMIN_SECRET" >"$d/admin.secret"
    chmod 600 "$d"/*.secret
    local c2=$d/openclaw.conf S=$d/openclawd.sock
    cat >"$c2" <<CONF2
[global]
tenant_id = $TENANT_ID
authority = $TENANT_URL
audiences = $RESOURCE_URI
state_dir = $d/state
trust_dir = $d/trust
jwks_dir = $d/trust/jwks
keys_dir = $d/keys
socket = $S
runtime_dir = $d/run
tally_dir = $d/tally
ca_file = $TENANT_CA
tcti = $tcti
allow_insecure_credentials = yes
allow_software_keys = yes

[agent agent-alpha]
app_id = $ALPHA_APP
object_id = $ALPHA_OID
uid = $UID_A
credential = secret-file
secret_file = $d/alpha.secret

[agent agent-beta]
app_id = $BETA_APP
object_id = $BETA_OID
uid = $UID_B
credential = secret-file
secret_file = $d/beta.secret

[agent agent-gamma]
app_id = $AGENT_ONE_APP
object_id = $GAMMA_OID
uid = $UID_G
credential = tpm-certificate
key_file = $d/keys/gamma.key
cert_file = $d/keys/gamma.pem

[directory]
graph_url = $TENANT_URL
graph_resource = https://graph.microsoft.com
sync_interval = 30
credential = secret-file
app_id = $ADMIN_APP
secret_file = $d/admin.secret
CONF2
    chmod 644 "$c2"
    [ -s "$d/keys/gamma.key" ] ||
        "$ctl" tpm keygen --software --alg ecc --out "$d/keys/gamma.key" --config "$c2" >/dev/null 2>&1
    "$ctl" tpm cert --key "$d/keys/gamma.key" --subject agent-gamma --out "$d/keys/gamma.pem" \
        --config "$c2" >/dev/null 2>&1
    if ! helper_start st "$c2"; then
        tap_fail "openclawd starts" "$(cat "$work/st.log")"
        return
    fi
    "$ctl" token agent-alpha --config "$c2" >/dev/null 2>"$d/alpha.err"
    "$ctl" token agent-beta --config "$c2" >/dev/null 2>"$d/beta.err"
    "$ctl" agent lock agent-gamma --config "$c2" >/dev/null 2>&1
    wait_for 20 test -s "$d/state/jwks/keys.json"
    # root's keys and directory, as openclaw-sync.timer writes them
    install -d -m 0755 "$d/trust"
    "$top_builddir/helper/sync/openclaw-sync" --config "$c2" --quiet >>"$work/st.log" 2>&1 ||
        tap_fail "openclaw-sync fetched the keys and synced the directory" "$(tail -3 "$work/st.log")"
    st() { "$ctl" status --config "$c2" --json; }
    dir_synced() { st | field helper.directory.age >/dev/null 2>&1; }
    # the first sync, or its automatic retry on a loaded machine
    wait_for 60 dir_synced
    local out human now
    out=$(st)
    human=$("$ctl" status --config "$c2")
    now=$(date +%s)
    af() { # AGENT FIELD: a field of that agent in $out
        printf '%s' "$out" | "$OC_PY" -c '
import json, sys
for a in json.load(sys.stdin)["agents"]:
    if a["name"] == sys.argv[1]:
        v = a.get(sys.argv[2], "ABSENT")
        print(json.dumps(v) if isinstance(v, bool) or v is None else v)' "$1" "$2"
    }
    [ "$(printf '%s' "$out" | field helper_up)" = true ] &&
        [ -n "$(printf '%s' "$out" | field helper.uptime)" ] &&
        printf '%s\n' "$human" | grep -q "^openclawd: *answering" &&
        tap_ok "helper up: answering (JSON helper_up, helper.uptime; text)" ||
        tap_fail "helper up" "$out"
    [ "$(printf '%s' "$out" | field tenant_id)" = "$TENANT_ID" ] &&
        [ "$(printf '%s' "$out" | field authority)" = "$TENANT_URL" ] &&
        printf '%s\n' "$human" | grep -qF "tenant:          $TENANT_ID ($TENANT_URL)" &&
        tap_ok "tenant and authority" || tap_fail "tenant and authority" "$out"
    local ja fa
    ja=$(printf '%s' "$out" | field helper.jwks.age 2>/dev/null)
    fa=$(printf '%s' "$out" | field jwks.age_seconds 2>/dev/null)
    [ -n "$ja" ] && [ "$ja" -ge 0 ] && [ "$ja" -lt 120 ] && [ -n "$fa" ] && [ "$fa" -lt 120 ] &&
        printf '%s\n' "$human" | grep -q "^  jwks  *age [0-9]*s" &&
        tap_ok "JWKS age: of the file and as openclawd reports it" ||
        tap_fail "JWKS age" "$out"
    ja=$(printf '%s' "$out" | field helper.directory.age 2>/dev/null)
    [ -n "$ja" ] && [ "$ja" -ge 0 ] && [ "$ja" -lt 120 ] &&
        printf '%s\n' "$human" | grep -q "^  directory  *age [0-9]*s" &&
        tap_ok "directory sync age" || tap_fail "directory sync age" "$out"
    if [ "$(printf '%s' "$out" | field tpm.tcti)" = "$tcti" ] && [ -n "$swtpm_pid" ]; then
        [ "$(printf '%s' "$out" | field tpm.backend)" = swtpm ] &&
            [ "$(printf '%s' "$out" | field tpm.present)" = true ] &&
            printf '%s' "$out" | field tpm.open_in_openclawd | grep -qx 'true\|false' &&
            printf '%s\n' "$human" | grep -q "backend swtpm: present" &&
            tap_ok "TPM: present, backend swtpm, the tcti string" || tap_fail "TPM: swtpm present" "$out"
    elif [ "$(printf '%s' "$out" | field tpm.tcti)" = "$tcti" ]; then
        [ "$(printf '%s' "$out" | field tpm.present)" = false ] &&
            tap_ok "TPM: not present (no swtpm here), the tcti string" || tap_fail "TPM not present" "$out"
    else
        tap_fail "TPM: the tcti string" "$out"
    fi
    [ "$(af agent-alpha uid)" = "$UID_A" ] && [ "$(af agent-alpha credential)" = secret-file ] &&
        [ "$(af agent-alpha key)" = - ] && [ "$(af agent-alpha token_expires_on)" -gt "$now" ] &&
        [ "$(af agent-alpha last_error)" = null ] && [ "$(af agent-alpha locked)" = false ] &&
        tap_ok "agent-alpha: uid, credential kind, token expiry, no error, not locked" ||
        tap_fail "agent-alpha's row" "$out $(cat "$d/alpha.err")"
    [ "$(af agent-beta uid)" = "$UID_B" ] && [ "$(af agent-beta token_expires_on)" = null ] &&
        af agent-beta last_error | grep -q "AADSTS" &&
        printf '%s\n' "$human" | grep "^  agent-beta " | grep -q "AADSTS" &&
        tap_ok "agent-beta: no token, the last error (AADSTS...) in JSON and text" ||
        tap_fail "agent-beta's last error" "$out"
    [ "$(af agent-gamma credential)" = tpm-certificate ] && [ "$(af agent-gamma key)" = "$key_kind" ] &&
        [ "$(af agent-gamma locked)" = true ] && [ "$(af agent-gamma admin_locked)" = true ] &&
        printf '%s\n' "$human" | grep "^  agent-gamma " | grep -q "LOCKED by admin" &&
        tap_ok "agent-gamma: $key_kind key, locked by the admin" || tap_fail "agent-gamma's row" "$out"
    printf '%s\n' "$human" | grep "^  agent-alpha " | grep -q "fresh, expires in" &&
        tap_ok "text: agent-alpha's token fresh with its expiry" || tap_fail "text: token expiry" "$human"
    helper_stop "$HELPER_PID_st"
    HELPER_PID_st=""
    out=$(st)
    [ "$(printf '%s' "$out" | field helper_up)" = false ] &&
        "$ctl" status --config "$c2" | grep -q "^openclawd: *not running" &&
        tap_ok "helper stopped: not running" || tap_fail "helper stopped: not running" "$out"
}
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1 &&
    [ -x "$top_builddir/helper/daemon/openclawd" ] && "$OC_PY" -c 'import cryptography' 2>/dev/null; then
    daemon_part
else
    tap_skip "status with openclawd running" "needs root, setpriv, openclawd and python3-cryptography"
fi
tap_done
