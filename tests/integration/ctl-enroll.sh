#!/bin/bash
# openclawctl enroll against swtpm and the local tenant: a new application
# and service principal registered through Graph with the TPM certificate,
# a token obtained with a TPM-signed assertion, the printed role assignment
# applied, an idempotent rerun, --app-id on an existing application (PATCH
# and addKey with a proof), and the refusals (bad admin token, token file
# mode, hostile names, a section for another app).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$top_srcdir/tests/integration/tpm-lib.sh"
. "$top_srcdir/tests/lib/tenant.sh"

[ -x "$CTL" ] || skip_all "openclawctl not built"
[ -n "$SWTPM" ] || skip_all "swtpm not installed"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (the configuration must be root-owned)"
"$OC_PY" -c 'import cryptography' 2>/dev/null || skip_all "python3-cryptography missing"

trap 'tenant_stop; cleanup' EXIT
tenant_start "$work/tenant" || skip_all "the local tenant did not start"
start_swtpm tpm || skip_all "swtpm did not start"

RESOURCE_APP=6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d
ADMIN_APP=c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b
ADMIN_SECRET='aDm8Q~openclaw-demo-admin-secret.00000001'
token_url="$TENANT_URL/$TENANT_ID/oauth2/v2.0/token"

mkdir -p "$work/state"
conf="$work/openclaw.conf"
cat >"$conf" <<CONF
[global]
tenant_id = $TENANT_ID
audiences = api://openclaw-host
state_dir = $work/state
runtime_dir = $work/run
tcti = $TCTI_tpm
ca_file = $TENANT_CA
CONF
chmod 0644 "$conf"
keys="$work/state/keys"

tok="$work/admin.token"
(umask 077 && tenant_token "$ADMIN_APP" "$ADMIN_SECRET" https://graph.microsoft.com/.default >"$tok")
[ -s "$tok" ] || skip_all "no admin token from the tenant"

enroll() { "$CTL" enroll "$@" --admin-token-file "$tok" --graph "$TENANT_URL" --config "$conf"; }
graph_get() { # PATH [curl args]
    local p=$1
    shift
    curl -sS --cacert "$TENANT_CA" -H "Authorization: Bearer $(cat "$tok")" -G "$@" "$TENANT_URL$p"
}
apps_named() { graph_get /v1.0/applications --data-urlencode "\$filter=displayName eq '$1'"; }
count() { "$OC_PY" -c 'import json,sys; print(len(json.load(sys.stdin)["value"]))'; }
sha1_of() { openssl x509 -in "$1" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'; }
# assertion_token KEY CERT APPID: an access token for the host resource, or ""
assertion_token() {
    local a
    a=$("$CTL" tpm sign-assertion --key "$1" --cert "$2" --client-id "$3" --aud "$token_url" \
        --tcti "$TCTI_tpm") || return 1
    curl -sS --cacert "$TENANT_CA" "$token_url" -d grant_type=client_credentials \
        --data-urlencode "client_id=$3" \
        --data-urlencode 'client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer' \
        --data-urlencode "client_assertion=$a" --data-urlencode "scope=$RESOURCE_URI/.default" |
        json_get access_token 2>/dev/null
}
claims() { cut -d. -f2 | "$OC_PY" -c '
import base64, json, sys
s = sys.stdin.read().strip(); s += "=" * (-len(s) % 4)
print(json.dumps(json.loads(base64.urlsafe_b64decode(s))))'; }

# --- 1. self-registration -------------------------------------------------
DN="openclaw enroll test bot"
enroll bot-one --create --display-name "$DN" --write-config --resource-app-id "$RESOURCE_APP" \
    >"$work/e1.out" 2>"$work/e1.err"
rc=$?
[ "$rc" -eq 0 ] && ok "enroll --create exits 0" ||
    { not_ok "enroll --create exits 0 (exit $rc)"; sed 's/^/# /' "$work/e1.err"; }

apps_named "$DN" >"$work/apps.json"
app_id=$(json_get value.0.appId <"$work/apps.json" 2>/dev/null)
if [ "$(count <"$work/apps.json")" = 1 ] && json_get value.0.tags <"$work/apps.json" | grep -q openclaw-agent; then
    ok "one application with the chosen display name, tagged openclaw-agent"
else
    not_ok "one application with the chosen display name, tagged openclaw-agent"
    sed 's/^/# /' "$work/apps.json"
fi
thumb=$(sha1_of "$keys/bot-one.crt" 2>/dev/null)
if [ -n "$thumb" ] && json_get value.0.keyCredentials <"$work/apps.json" | grep -qi "\"customKeyIdentifier\": \"$thumb\""; then
    ok "the application's keyCredential has the certificate's thumbprint"
else
    not_ok "the application's keyCredential has the certificate's thumbprint ($thumb)"
fi
sp_json=$(graph_get /v1.0/servicePrincipals --data-urlencode "\$filter=appId eq '$app_id'")
sp_id=$(printf '%s' "$sp_json" | json_get value.0.id 2>/dev/null)
if [ -n "$sp_id" ] && printf '%s' "$sp_json" | json_get value.0.tags | grep -q openclaw-agent; then
    ok "a service principal exists for the app, tagged"
else
    not_ok "a service principal exists for the app, tagged"
fi
if grep -qx '\[agent bot-one\]' "$conf" && grep -qx "app_id = $app_id" "$conf" &&
    grep -qx "object_id = $sp_id" "$conf" && grep -qx 'credential = tpm-certificate' "$conf"; then
    ok "--write-config added [agent bot-one] with app_id, the SP id and tpm-certificate"
else
    not_ok "--write-config added [agent bot-one]"
    sed 's/^/# /' "$conf"
fi
if [ "$(stat -c %a "$keys/bot-one.tpmkey")" = 600 ] && ! grep -q PRIVATE "$keys/bot-one.tpmkey"; then
    ok "the key file is 0600 and holds no plain private key"
else
    not_ok "the key file is 0600 and holds no plain private key"
fi

# --- 2. the agent gets a token; the printed assignment works ---------------
at=$(assertion_token "$keys/bot-one.tpmkey" "$keys/bot-one.crt" "$app_id")
if [ -n "$at" ] && [ "$(printf '%s' "$at" | claims | json_get appid)" = "$app_id" ]; then
    ok "the new agent gets an access token with a TPM-signed assertion"
else
    not_ok "the new agent gets an access token with a TPM-signed assertion"
fi
post=$(grep -m1 -A2 'POST .*appRoleAssignedTo' "$work/e1.out")
url=$(printf '%s\n' "$post" | sed -n '1s/.*POST //p')
body=$(printf '%s\n' "$post" | sed -n '3s/^ *//p')
if printf '%s' "$body" | grep -q "\"principalId\": \"$sp_id\"" &&
    printf '%s' "$body" | grep -q '"appRoleId": "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b"'; then
    ok "the printed Graph call names the SP and the real Host.Login role id"
else
    not_ok "the printed Graph call names the SP and the real Host.Login role id"
    sed 's/^/# /' "$work/e1.out"
fi
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$TENANT_CA" -X POST \
    -H "Authorization: Bearer $(cat "$tok")" -H 'Content-Type: application/json' \
    --data "$body" "$url")
at=$(assertion_token "$keys/bot-one.tpmkey" "$keys/bot-one.crt" "$app_id")
if [ "$code" = 201 ] && printf '%s' "$at" | claims | json_get roles | grep -q Host.Login; then
    ok "after the printed assignment the agent's token carries Host.Login"
else
    not_ok "after the printed assignment the agent's token carries Host.Login (HTTP $code)"
fi

# --- 3. idempotent rerun ---------------------------------------------------
key_sum=$(sha256sum <"$keys/bot-one.tpmkey")
conf_sum=$(sha256sum <"$conf")
enroll bot-one --create --display-name "$DN" --write-config >"$work/e2.out" 2>"$work/e2.err"
rc=$?
apps_named "$DN" >"$work/apps2.json"
nkeys=$(json_get value.0.keyCredentials <"$work/apps2.json" | "$OC_PY" -c 'import json,sys; print(len(json.load(sys.stdin)))')
if [ "$rc" -eq 0 ] && [ "$(count <"$work/apps2.json")" = 1 ] && [ "$nkeys" = 1 ] &&
    [ "$(sha256sum <"$keys/bot-one.tpmkey")" = "$key_sum" ] && [ "$(sha256sum <"$conf")" = "$conf_sum" ]; then
    ok "a rerun creates no second app, no second key, and leaves the config alone"
else
    not_ok "a rerun creates no second app, no second key (exit $rc, apps $(count <"$work/apps2.json"), keys $nkeys)"
    sed 's/^/# /' "$work/e2.err"
fi

# --- 4. --app-id on an existing application (agent-beta) -------------------
# a certificate beta already has must survive the PATCH
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/old.key" -out "$work/old.crt" \
    -subj /CN=beta-old -days 30 2>/dev/null
tenant_ctl POST key-credentials "{\"appId\": \"$BETA_APP\", \"certificate\": \"$(base64 -w0 "$work/old.crt")\"}" >/dev/null
old_thumb=$(sha1_of "$work/old.crt")
enroll beta-bot --app-id "$BETA_APP" --print-config >"$work/e3.out" 2>"$work/e3.err"
rc=$?
beta=$(graph_get /v1.0/applications --data-urlencode "\$filter=appId eq '$BETA_APP'")
new_thumb=$(sha1_of "$keys/beta-bot.crt" 2>/dev/null)
if [ "$rc" -eq 0 ] && printf '%s' "$beta" | grep -qi -- "$new_thumb" && printf '%s' "$beta" | grep -qi -- "$old_thumb"; then
    ok "--app-id adds the certificate to agent-beta and keeps its existing one"
else
    not_ok "--app-id adds the certificate to agent-beta and keeps its existing one (exit $rc)"
    sed 's/^/# /' "$work/e3.err"
fi
if grep -qx "app_id = $BETA_APP" "$work/e3.out" && grep -qx "object_id = $BETA_OID" "$work/e3.out" &&
    ! grep -q beta-bot "$conf"; then
    ok "--print-config prints the section with beta's SP id and writes nothing"
else
    not_ok "--print-config prints the section with beta's SP id and writes nothing"
    sed 's/^/# /' "$work/e3.out"
fi
at=$(assertion_token "$keys/beta-bot.tpmkey" "$keys/beta-bot.crt" "$BETA_APP")
[ -n "$at" ] && ok "agent-beta gets a token with its new TPM certificate" ||
    not_ok "agent-beta gets a token with its new TPM certificate"
sec=$(tenant_token "$BETA_APP" "$BETA_SECRET" "$RESOURCE_URI/.default")
[ -n "$sec" ] && ok "agent-beta's secret still works (nothing else was touched)" ||
    not_ok "agent-beta's secret still works"

# addKey with a proof signed by the certificate the app already has (beta-bot's TPM key)
enroll beta-two --app-id "$BETA_APP" --proof-key "$keys/beta-bot.tpmkey" \
    --proof-cert "$keys/beta-bot.crt" --print-config >"$work/e4.out" 2>"$work/e4.err"
rc=$?
beta=$(graph_get /v1.0/applications --data-urlencode "\$filter=appId eq '$BETA_APP'")
t2=$(sha1_of "$keys/beta-two.crt" 2>/dev/null)
if [ "$rc" -eq 0 ] && printf '%s' "$beta" | grep -qi -- "$t2" && printf '%s' "$beta" | grep -qi -- "$new_thumb" &&
    tenant_ctl GET 'requests?path=addKey' | grep -q '"status": 200'; then
    ok "--proof-key adds the certificate through addKey, keeping the others"
else
    not_ok "--proof-key adds the certificate through addKey (exit $rc)"
    sed 's/^/# /' "$work/e4.err"
fi

# --- 5. agent list / show on what enroll wrote ----------------------------
install -d -m 0700 "$work/run/tally"
list=$("$CTL" agent list --config "$conf")
if printf '%s\n' "$list" | grep -Eq '^bot-one +[0-9]+ +tpm-certificate +yes +ok$'; then
    ok "agent list: bot-one with its uid, credential, enabled, lock state"
else
    not_ok "agent list: bot-one with its uid, credential, enabled, lock state"
    printf '%s\n' "$list" | sed 's/^/# /'
fi
"$CTL" agent show bot-one --config "$conf" --json >"$work/show.json"
x256=$(sed -n 's/.*x5t#S256 \([A-Za-z0-9_-]*\).*/\1/p' "$work/e1.err" | head -n 1)
if [ -n "$x256" ] && "$OC_PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["app_id"] == sys.argv[2] and d["key_kind"] == "TPM-bound rsa2048", d
assert d["certificate"]["x5t#S256"] == sys.argv[3] and not d["certificate"]["expired"], d
assert 1879048192 <= d["uid"] <= 2147352575 and d["gid"] == d["uid"], d
assert d["tally"]["state"] == "ok" and d["tally"]["failures"] == 0, d
' "$work/show.json" "$app_id" "$x256" 2>"$work/py.err"; then
    ok "agent show --json: ids, key kind, certificate thumbprint and validity, uid, tally"
else
    not_ok "agent show --json"
    sed 's/^/# /' "$work/py.err"
fi
refuse "agent show of an unknown agent" "not a configured agent" "$CTL" agent show nobody-here --config "$conf"

# --- 6. refusals ------------------------------------------------------------
printf 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.bm90LWEtc2lnbmF0dXJl\n' >"$work/bad.token"
chmod 0600 "$work/bad.token"
refuse "a bad admin token is refused with the explained error" \
    "Graph refused the admin token (401 InvalidAuthenticationToken.*get a fresh token for the admin app with Application.ReadWrite.All" \
    "$CTL" enroll bot-two --create --admin-token-file "$work/bad.token" --graph "$TENANT_URL" --config "$conf"
(umask 077 && tenant_token "$ALPHA_APP" "$ALPHA_SECRET" https://graph.microsoft.com/.default >"$work/weak.token")
refuse "a token without Graph permissions is refused with the permission to grant" \
    "403 Authorization_RequestDenied.*grant Application.ReadWrite.All" \
    "$CTL" enroll bot-two --create --admin-token-file "$work/weak.token" --graph "$TENANT_URL" --config "$conf"
cp "$tok" "$work/open.token" && chmod 0644 "$work/open.token"
refuse "an admin token file readable by others is refused" "mode 0600" \
    "$CTL" enroll bot-two --create --admin-token-file "$work/open.token" --graph "$TENANT_URL" --config "$conf"
for n in '../evil' 'a b' 'Bot' 'x;rm' "$(printf 'a\nb')" 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'; do
    refuse "hostile NAME '$(printf '%q' "$n")' refused" "not a valid agent name" enroll "$n" --create
done
refuse "NAME of an existing local user refused" "already a user of this host" enroll root --create
refuse "a relative or control-character keys dir is refused" "absolute path" \
    enroll bot-two --create --keys-dir "$(printf 'rel\nx')"
refuse "a display name with a newline is refused" "display-name" \
    enroll bot-three --create --display-name "$(printf 'x\ny')"
refuse "a section for another app is not replaced, and nothing is done" "configured for app" \
    enroll bot-one --app-id "$BETA_APP" --write-config
[ ! -e "$keys/bot-two.tpmkey" ] && ok "refused runs made no key" || not_ok "refused runs made no key"

tap_n_plan=$tap_n
echo "1..$tap_n_plan"
[ "$tap_failed" -eq 0 ]
