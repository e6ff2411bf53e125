# tests/integration/helper-agentkey-lib.sh: the setup of the suites about
# what openclawd issues for an agent (sourced after tap.sh, tenant.sh and
# helper-lib.sh): the local tenant; agent-alpha (uid UID_A) with a
# software tpm-certificate key whose certificate is registered on its
# application (tokens by client assertion, ssh signatures by the same key),
# scopes = the host's resource; the managed-identity endpoint on PORT;
# [directory] synced from the tenant; openclawd as root (socket S, log
# LOG, config C). What runs as the agent's uid is copied into $work/bin
# (uid_copies): CLIENT, OCT and SC (ssh_sign_client.py). Skips the suite
# when something it needs is missing.
CTL="$top_builddir/helper/ctl/openclawctl"
[ "$(id -u)" = 0 ] || tap_skip_all "needs root (clients run under the agent's uid with setpriv)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
command -v curl >/dev/null 2>&1 || tap_skip_all "curl missing"
[ -x "$OCD" ] && [ -x "$CTL" ] || tap_skip_all "openclawd/openclawctl not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"

UID_A=1879048193
RESOURCE_APP=6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d
ADMIN_APP=c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b
ADMIN_SECRET='aDm8Q~openclaw-demo-admin-secret.00000001'
work=$(mktemp -d "${TMPDIR:-/tmp}/oc-agentkey.XXXXXX")
chmod 755 "$work"
mkdir -m 1777 "$work/out"
HELPER_PID_main=""
cleanup() {
    helper_stop "$HELPER_PID_main"
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT
# what runs as the agent's uid: copies, never the tree
uid_copies "$work/bin" "$top_srcdir/tests/integration/ssh_sign_client.py"
SC=$UID_BIN/ssh_sign_client.py

tenant_start "$work/tenant" || tap_setup_fail "the local tenant did not start"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
S=$work/openclawd.sock
C=$work/oc.conf
printf '%s\n' "$ADMIN_SECRET" >"$work/admin.secret"
chmod 600 "$work/admin.secret"
mkdir -p "$work/state" "$work/run"
mkdir -m 0700 "$work/keys"
{
    conf_global "$work/state" "$S" "$ISSUER_V2_LINE" "runtime_dir = $work/run" \
        "allow_insecure_credentials = yes" "allow_software_keys = yes" "keys_dir = $work/keys" \
        "mi_endpoint = 127.0.0.1:$PORT"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $UID_A" \
        "credential = tpm-certificate" "key_file = $work/alpha.key" "cert_file = $work/alpha.pem" \
        "scopes = $RESOURCE_URI/.default"
    conf_section "directory" "resource = $RESOURCE_APP" "graph_url = $TENANT_URL" \
        "graph_resource = https://graph.microsoft.com" "sync_interval = 3600" \
        "credential = secret-file" "app_id = $ADMIN_APP" "secret_file = $work/admin.secret"
} >"$C"
chmod 644 "$C"
if ! { "$CTL" tpm keygen --software --alg ecc --out "$work/alpha.key" --config "$C" &&
    "$CTL" tpm cert --key "$work/alpha.key" --subject agent-alpha --out "$work/alpha.pem" \
        --config "$C"; } >/dev/null 2>"$work/ctl.err"; then
    tap_fail "a software key and certificate for agent-alpha" "$(cat "$work/ctl.err")"
    tap_done
    exit 1
fi
chmod 644 "$work/alpha.pem" # public; the attacker of helper-ssh-only.sh reads it too
der=$(openssl x509 -in "$work/alpha.pem" -outform DER | base64 -w0)
tenant_ctl POST key-credentials "{\"appId\":\"$ALPHA_APP\",\"key\":\"$der\"}" >"$work/kc.out" 2>&1
if ! helper_start main "$C"; then
    tap_fail "openclawd starts" "$(cat "$work/main.log")"
    tap_done
    exit 1
fi
LOG=$work/main.log

