#!/bin/bash
# openclawctl verify-token against tokens minted by the local test tenant:
# v1, v2 and Entra Agent ID tokens accepted; each refusal names its check.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"

ctl="$top_builddir/helper/ctl/openclawctl"
command -v curl >/dev/null || tap_skip_all "curl missing (scripts/install-deps.sh)"
"$OC_PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-verify.XXXXXX")
trap 'tenant_stop; rm -rf "$work"' EXIT
tenant_start "$work/tenant" || tap_setup_fail "the local tenant did not start"

tenant_get "/$TENANT_ID/discovery/v2.0/keys" >"$work/keys.json"
cat >"$work/openclaw.conf" <<CONF
[global]
tenant_id = $TENANT_ID
audiences = $RESOURCE_URI, $RESOURCE_V2_APP
jwks_dir = $work

[service sshd]
require_role = Host.Login

[service sudo]
require_role = Host.Sudo

[service ops]
require_role = Host.Login
allow_networks = 10.0.0.0/8, fd00::/8

[agent agent-alpha]
app_id = $ALPHA_APP
object_id = $ALPHA_OID

[agent agent-beta]
app_id = $BETA_APP
object_id = $BETA_OID

[agent agent-one]
app_id = $AGENT_ONE_APP
object_id = $AGENT_ONE_APP
CONF
chmod 0644 "$work/openclaw.conf"
flags=(--config "$work/openclaw.conf")
[ "$(id -u)" -eq 0 ] || flags+=(--insecure-config)

# verify TOKENFILE ARGS... -> sets out (JSON) and rc
verify() {
    local tokfile=$1
    shift
    out=$("$ctl" verify-token "${flags[@]}" --json "$@" <"$tokfile" 2>"$work/stderr")
    rc=$?
}
field() { printf '%s' "$out" | json_get "$1" 2>/dev/null; }

# expect_refused DESC CHECK TOKENFILE ARGS...
expect_refused() {
    local desc=$1 check=$2 tokfile=$3
    shift 3
    verify "$tokfile" "$@"
    if [ "$rc" -eq 1 ] && [ "$(field valid)" = false ] && [ "$(field failed)" = "$check" ]; then
        tap_ok "$desc: refused at '$check'"
    else
        tap_fail "$desc: refused at '$check'" "rc=$rc failed=$(field failed) $(cat "$work/stderr")"
    fi
}

tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$work/v1"
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_V2_URI/.default" >"$work/v2"
tenant_token "$BETA_APP" "$BETA_SECRET" "$RESOURCE_URI/.default" >"$work/beta"
tenant_agent_id_token "$AGENT_ONE_APP" "$RESOURCE_URI/.default" >"$work/agentid"

# --- accepted -------------------------------------------------------------
verify "$work/v1" --user agent-alpha --service sshd
if [ "$rc" -eq 0 ] && [ "$(field valid)" = true ] && [ "$(field agent.name)" = agent-alpha ] &&
    [ "$(field agent.token_version)" = 1 ]; then
    tap_ok "v1 token of agent-alpha accepted for sshd"
else
    tap_fail "v1 token of agent-alpha accepted for sshd" "rc=$rc $out $(cat "$work/stderr")"
fi
uid=$(field agent.uid)
if [ -n "$uid" ] && [ "$uid" -ge 1879048192 ] && [ "$uid" -le 2147352575 ] &&
    [ "$(field agent.gid)" = "$uid" ]; then
    tap_ok "agent uid $uid is inside the default range, gid = uid"
else
    tap_fail "agent uid inside the default range, gid = uid" "uid=$uid"
fi

verify "$work/v2" --user agent-alpha --service sshd
if [ "$rc" -eq 0 ] && [ "$(field agent.token_version)" = 2 ]; then
    tap_ok "v2 token of agent-alpha accepted"
else
    tap_fail "v2 token of agent-alpha accepted" "rc=$rc $out $(cat "$work/stderr")"
fi

verify "$work/agentid" --user agent-one --service sshd
if [ "$rc" -eq 0 ] && [ "$(field agent.agent_identity)" = true ] &&
    [ "$(field agent.blueprint_app_id)" = "$BLUEPRINT_APP" ]; then
    tap_ok "Entra Agent ID token accepted and described (blueprint $BLUEPRINT_APP)"
else
    tap_fail "Entra Agent ID token accepted and described" "rc=$rc $out $(cat "$work/stderr")"
fi

out=$("$ctl" verify-token --tenant "$TENANT_ID" --audience "$RESOURCE_URI" \
    --jwks "$work/keys.json" --json <"$work/v1")
rc=$?
if [ "$rc" -eq 0 ] && [ "$(field valid)" = true ] && [ "$(field agent.app_id)" = "$ALPHA_APP" ]; then
    tap_ok "forensic mode without a config (--tenant --audience --jwks)"
else
    tap_fail "forensic mode without a config" "rc=$rc $out"
fi

human=$("$ctl" verify-token "${flags[@]}" --service sshd --user agent-alpha <"$work/v1")
if printf '%s\n' "$human" | grep -q '^result: VALID for agent agent-alpha$' &&
    printf '%s\n' "$human" | grep -Eq '^  ok +signature '; then
    tap_ok "human output explains each check and the result"
else
    tap_fail "human output explains each check and the result" "$human"
fi

sig=$(cut -d. -f3 <"$work/v1")
payload=$(cut -d. -f2 <"$work/v1")
all=$("$ctl" verify-token "${flags[@]}" --json --show-claims <"$work/v1"; "$ctl" verify-token "${flags[@]}" --show-claims <"$work/v1")
if ! printf '%s' "$all" | grep -qF -- "$sig" && ! printf '%s' "$all" | grep -qF -- "$payload"; then
    tap_ok "never prints the token or its signature"
else
    tap_fail "never prints the token or its signature"
fi

# --- refused --------------------------------------------------------------
expect_refused "v1 token lacking Host.Sudo, for sudo" role "$work/v1" --service sudo
expect_refused "agent-alpha's token presented for agent-beta" user "$work/v1" --user agent-beta
expect_refused "token presented for a human user" user "$work/v1" --user root
expect_refused "agent-beta holds no role" role "$work/beta" --service sshd
expect_refused "source address outside allow_networks" network "$work/v1" --service ops --rhost 192.0.2.7
expect_refused "no source address for a network-limited service" network "$work/v1" --service ops
expect_refused "service without a section" service "$work/v1" --service telnet
expect_refused "audience not configured" audience "$work/v1" --audience api://another-host
expect_refused "another tenant" tenant "$work/v1" --tenant 11111111-2222-3333-4444-555555555555

exp=$("$OC_PY" -c 'import sys,json,base64; p=sys.stdin.read().split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["exp"])' <"$work/v1")
expect_refused "evaluated after expiry (--now)" expiry "$work/v1" --now $((exp + 301))

# payload of agent-beta, signature of agent-alpha
printf '%s.%s.%s' "$(cut -d. -f1 <"$work/v1")" "$(cut -d. -f2 <"$work/beta")" "$sig" >"$work/spliced"
expect_refused "payload swapped under a valid signature" signature "$work/spliced"

# a key rotation publishes a kid this host's cached JWKS does not have
tenant_ctl POST rotate-keys '{}' >/dev/null
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$work/rotated"
expect_refused "token signed by a key newer than the cached JWKS" kid "$work/rotated"
tenant_get "/$TENANT_ID/discovery/v2.0/keys" >"$work/keys.json"
verify "$work/rotated" --user agent-alpha
if [ "$rc" -eq 0 ]; then
    tap_ok "accepted once the JWKS cache holds the new key"
else
    tap_fail "accepted once the JWKS cache holds the new key" "rc=$rc $out"
fi

printf 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' >"$work/none"
expect_refused "alg none" alg "$work/none"

"$ctl" verify-token --config "$work/missing.conf" <"$work/v1" >/dev/null 2>"$work/stderr"
rc=$?
if [ "$rc" -eq 2 ] && grep -q 'missing.conf' "$work/stderr"; then
    tap_ok "missing config: exit 2 with the file named"
else
    tap_fail "missing config: exit 2 with the file named" "rc=$rc $(cat "$work/stderr")"
fi

tap_done
