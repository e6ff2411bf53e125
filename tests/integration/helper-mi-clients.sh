#!/bin/bash
# Real Azure clients, unmodified, against openclawd's managed-identity
# endpoint at Azure IMDS's own address (mi_endpoint = imds,
# docs/mi-endpoint.md, "Clients that work"), in a network namespace the test
# made: 169.254.169.254 on its loopback, the local tenant, openclawd under
# an unprivileged uid with the socket handed over as systemd does
# (socket_activate.py). Each client runs as agent-alpha's uid, as
# agent-beta's uid and as a human's uid (setpriv), with a clean environment
# and its own HOME per uid; nothing tells a client where the endpoint is:
#  - Debian 12's azure-cli: az login --identity [--allow-no-subscriptions],
#    az account get-access-token --resource (a cloud registered with
#    az cloud register names the local tenant's resource and a stand-in
#    Azure Resource Manager that lists no subscription, as ARM does for an
#    identity without a role assignment); az login --username with the
#    agent's own id and with another agent's; in AzureCloud, what az
#    needs from ARM;
#  - Debian 12's python3-azure: ManagedIdentityCredential and
#    DefaultAzureCredential (the whole chain), the agent's own client_id
#    and another agent's;
#  - @azure/identity (tests/node) without AZURE_POD_IDENTITY_AUTHORITY_HOST,
#    and another agent's client_id.
# Each agent gets its own token (appid, oid) and only its own; the human
# gets IMDS's refusal through each client's own error. Prints TAP.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/lib/tap.sh"

NODE_DIR=$top_srcdir/tests/node
if [ "${1:-}" != --inner ]; then
    [ "$(id -u)" = 0 ] || tap_skip_all "needs root (network namespaces, port 80, other uids)"
    for t in unshare setpriv ip curl az node; do
        command -v "$t" >/dev/null 2>&1 || tap_skip_all "$t missing (scripts/install-deps.sh)"
    done
    /usr/bin/python3 -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
    /usr/bin/python3 -c 'import azure.identity' 2>/dev/null ||
        tap_skip_all "python3-azure missing (scripts/install-deps.sh)"
    [ -f "$NODE_DIR/node_modules/@azure/identity/package.json" ] ||
        tap_skip_all "@azure/identity not installed: run scripts/install-deps.sh (npm ci in tests/node)"
    unshare --net --mount --propagation private true 2>/dev/null || tap_skip_all "unshare --net --mount not permitted here"
    exec unshare --net --mount --propagation private bash "$0" --inner
fi

. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"
ip link set lo up
AZ=$(command -v az)
NODE=$(command -v node)
CTL=$top_builddir/helper/ctl/openclawctl
[ -x "$OCD" ] && [ -x "$CTL" ] || tap_skip_all "openclawd or openclawctl not built"

IMDS=169.254.169.254
UID_D=4244       # the daemon (the "openclaw" user in production)
UID_A=1879048193 # agent-alpha
UID_B=1879048194 # agent-beta
UID_HUMAN=4245
work=$(mktemp -d "${TMPDIR:-/tmp}/oc-miclients.XXXXXX")
chmod 755 "$work"
uid_copies "$work/bin" "$top_srcdir/tests/integration/azure_identity_client.py"
mkdir -m 0755 "$work/node"
cp -R "$NODE_DIR/mi-token.js" "$NODE_DIR/package.json" "$NODE_DIR/node_modules" "$work/node/" &&
    chmod -R a+rX "$work/node" || uid_copies_failed "$work/node"
HELPER_PID_imds="" arm_pid=""
cleanup() {
    helper_stop "$HELPER_PID_imds"
    [ -n "$arm_pid" ] && kill "$arm_pid" 2>/dev/null && wait "$arm_pid" 2>/dev/null
    tenant_stop
    "$CTL" imds-address remove >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

# --- the local tenant, openclawd on 169.254.169.254:80 --------------------------
tenant_start "$work/tenant" || tap_setup_fail "the local tenant did not start"
chmod -R a+rX "$work/tenant/ca.pem"
printf '%s\n' "$ALPHA_SECRET" >"$work/alpha.secret"
printf '%s\n' "$BETA_SECRET" >"$work/beta.secret"
chmod 600 "$work/alpha.secret" "$work/beta.secret"
chown "$UID_D" "$work/alpha.secret" "$work/beta.secret"
mkdir -p "$work/state" "$work/run"
chown "$UID_D" "$work/state" "$work/run"
conf=$work/imds.conf
{
    conf_global "$work/state" "$work/run/openclawd.sock" "allow_insecure_credentials = yes" \
        "mi_endpoint = imds"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $UID_A" \
        "credential = secret-file" "secret_file = $work/alpha.secret"
    conf_agent agent-beta "$BETA_APP" "$BETA_OID" "uid = $UID_B" "credential = secret-file" \
        "secret_file = $work/beta.secret"
} >"$conf"
chmod 644 "$conf"
"$CTL" imds-address add >/dev/null 2>&1 || tap_setup_fail "openclawctl imds-address add failed"
"$PY" "$top_srcdir/tests/integration/socket_activate.py" "$IMDS" 80 \
    setpriv --reuid="$UID_D" --regid="$UID_D" --clear-groups \
    "$OCD" --config "$conf" --foreground >"$work/imds.log" 2>&1 &
HELPER_PID_imds=$!
up() { [ -S "$work/run/openclawd.sock" ] && grep -q "listening on" "$work/imds.log"; }
wait_for 30 up || tap_setup_fail "openclawd did not start on $IMDS:80: $(tail -5 "$work/imds.log")"

# --- a stand-in for Azure Resource Manager --------------------------------------
# az login lists the identity's subscriptions at the cloud's resource
# manager (GET /subscriptions, bearer token for the cloud's
# active_directory_resource_id) before it stores an account. This one
# answers as ARM does for an identity with no role assignment (an empty
# list) over HTTPS with the local tenant's certificate, and writes down
# whose token each request carried.
mkdir -p "$work/arm"
"$PY" - "$work/tenant" "$work/arm" <<'PY' >"$work/arm/log" 2>&1 &
import base64, http.server, json, os, ssl, sys
state, out = sys.argv[1], sys.argv[2]

def claims(jwt):
    p = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        path = self.path.split("?")[0]
        auth = self.headers.get("Authorization", "")
        who = "-"
        if auth.startswith("Bearer "):
            try:
                c = claims(auth[7:])
                who = "%s %s" % (c.get("appid"), c.get("aud"))
            except Exception:
                who = "malformed"
        with open(os.path.join(out, "requests"), "a") as f:
            f.write("GET %s %s\n" % (path, who))
        if who in ("-", "malformed"):
            self.send_json(401, {"error": {"code": "AuthenticationFailed",
                                           "message": "Authentication failed."}})
        elif path.rstrip("/") == "/subscriptions":
            self.send_json(200, {"value": []})
        else:
            self.send_json(404, {"error": {"code": "InvalidResourceType",
                                           "message": "not served by this stand-in"}})
    def log_message(self, *a):
        pass

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(state, "server.pem"), os.path.join(state, "server.key"))
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(os.path.join(out, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(out, "port.tmp"), os.path.join(out, "port"))
srv.serve_forever()
PY
arm_pid=$!
wait_for 10 test -s "$work/arm/port" || tap_setup_fail "the stand-in ARM did not start: $(cat "$work/arm/log")"
ARM_URL=https://127.0.0.1:$(cat "$work/arm/port")/

# --- the clients, each uid with a clean environment and its own HOME --------------
home_of() { echo "$work/home/$1"; }
for u in "$UID_A" "$UID_B" "$UID_HUMAN"; do
    install -d -m 0700 -o "$u" -g "$u" "$(home_of "$u")"
done
# client_as UID [VAR=VALUE...] CMD...: CMD as UID, no groups, only this environment
client_as() {
    local u=$1
    shift
    timeout 120 setpriv --reuid="$u" --regid="$u" --clear-groups \
        env -i HOME="$(home_of "$u")" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "$@"
}
field() { # JSON FIELD
    printf '%s' "$1" | json_get "$2" 2>/dev/null
}
SCOPE=$RESOURCE_URI/.default
name_of() {
    case $1 in
    "$UID_A") echo "agent-alpha's uid" ;;
    "$UID_B") echo "agent-beta's uid" ;;
    *) echo "a human's uid" ;;
    esac
}
app_of() {
    case $1 in
    "$UID_A") echo "$ALPHA_APP" ;;
    "$UID_B") echo "$BETA_APP" ;;
    esac
}
oid_of() {
    case $1 in
    "$UID_A") echo "$ALPHA_OID" ;;
    "$UID_B") echo "$BETA_OID" ;;
    esac
}
# own_token JSON UID: JSON (a client's line) carries UID's agent's appid and oid
own_token() {
    [ "$(field "$1" ok)" = true ] && [ "$(field "$1" appid)" = "$(app_of "$2")" ] &&
        [ "$(field "$1" oid)" = "$(oid_of "$2")" ] && [ "$(field "$1" aud)" = "$RESOURCE_URI" ]
}

# Python: Debian 12's python3-azure
py_client() { # UID mi|default [CLIENT_ID]
    local u=$1
    shift
    client_as "$u" /usr/bin/python3 "$UID_BIN/azure_identity_client.py" "$1" "$SCOPE" "${@:2}" \
        2>>"$work/py.err"
}
a=$(py_client "$UID_A" mi)
echo "# python3-azure: $(field "$a" sdk) on Python $(field "$a" python)"
for u in "$UID_A" "$UID_B"; do
    [ "$u" = "$UID_A" ] || a=$(py_client "$u" mi)
    own_token "$a" "$u" &&
        tap_ok "python3-azure ManagedIdentityCredential as $(name_of "$u"): its own token (appid, oid, aud; $(field "$a" seconds) s)" ||
        tap_fail "python3-azure ManagedIdentityCredential as $(name_of "$u"): its own token" "$a $(tail -3 "$work/py.err")"
    d=$(py_client "$u" default)
    own_token "$d" "$u" &&
        tap_ok "python3-azure DefaultAzureCredential as $(name_of "$u"): its own token ($(field "$d" seconds) s)" ||
        tap_fail "python3-azure DefaultAzureCredential as $(name_of "$u"): its own token" "$d $(tail -3 "$work/py.err")"
done
h=$(py_client "$UID_HUMAN" mi)
[ "$(field "$h" ok)" = false ] && [ "$(field "$h" name)" = CredentialUnavailableError ] &&
    field "$h" message | grep -q "No identity has been assigned to this resource" &&
    tap_ok "python3-azure ManagedIdentityCredential as a human's uid: IMDS's 400, the SDK's \"no identity assigned\" ($(field "$h" seconds) s)" ||
    tap_fail "python3-azure ManagedIdentityCredential as a human's uid: refused" "$h"
h=$(py_client "$UID_HUMAN" default)
[ "$(field "$h" ok)" = false ] && [ "$(field "$h" name)" = ClientAuthenticationError ] &&
    field "$h" message | grep -q "ManagedIdentityCredential: ManagedIdentityCredential authentication unavailable" &&
    tap_ok "python3-azure DefaultAzureCredential as a human's uid: every credential of the chain unavailable, no token ($(field "$h" seconds) s)" ||
    tap_fail "python3-azure DefaultAzureCredential as a human's uid: refused" "$h"
x=$(py_client "$UID_A" mi "$ALPHA_APP")
own_token "$x" "$UID_A" &&
    tap_ok "python3-azure ManagedIdentityCredential(client_id=its own) as agent-alpha's uid: its own token" ||
    tap_fail "python3-azure naming its own client_id as agent-alpha's uid: its token" "$x"
x=$(py_client "$UID_B" mi "$ALPHA_APP")
[ "$(field "$x" ok)" = false ] && field "$x" message | grep -q "The requested identity has not been assigned to this resource" &&
    tap_ok "python3-azure ManagedIdentityCredential(client_id=agent-alpha's) as agent-beta's uid: no token" ||
    tap_fail "python3-azure as agent-beta's uid naming agent-alpha's client_id: refused" "$x"

# Node: @azure/identity, IMDS's default address
node_client() { # UID [CLIENT_ID]
    local u=$1
    shift
    client_as "$u" "$NODE" "$work/node/mi-token.js" "$SCOPE" "$@" 2>>"$work/node.err"
}
for u in "$UID_A" "$UID_B"; do
    n=$(node_client "$u")
    own_token "$n" "$u" &&
        tap_ok "@azure/identity ManagedIdentityCredential as $(name_of "$u"), no AZURE_POD_IDENTITY_AUTHORITY_HOST: its own token ($(field "$n" sdk) on node $(field "$n" node))" ||
        tap_fail "@azure/identity as $(name_of "$u") at $IMDS: its own token" "$n $(tail -3 "$work/node.err")"
done
n=$(node_client "$UID_HUMAN")
[ "$(field "$n" ok)" = false ] && [ "$(field "$n" name)" = CredentialUnavailableError ] &&
    tap_ok "@azure/identity as a human's uid: no token ($(field "$n" name): $(field "$n" message | head -c 100))" ||
    tap_fail "@azure/identity as a human's uid: refused" "$n"
n=$(node_client "$UID_B" "$ALPHA_APP")
[ "$(field "$n" ok)" = false ] && [ -z "$(field "$n" appid)" ] &&
    tap_ok "@azure/identity with agent-alpha's clientId as agent-beta's uid: no token" ||
    tap_fail "@azure/identity as agent-beta's uid naming agent-alpha: refused" "$n"

# Azure CLI: Debian 12's azure-cli. The cloud: the local tenant's resource as
# the cloud's Active Directory resource (what az login asks IMDS for), the
# stand-in ARM, registered per uid as an admin does for Azure Stack Hub.
az_as() { # UID ARGS...: az as UID; stdout only, errors to $work/az.err.UID
    local u=$1
    shift
    client_as "$u" AZURE_CORE_COLLECT_TELEMETRY=no REQUESTS_CA_BUNDLE="$TENANT_CA" "$AZ" "$@" \
        2>"$work/az.err.$u"
}
echo "# azure-cli $("$AZ" version --query '"azure-cli"' -o tsv 2>/dev/null)"

# Azure's own cloud (AzureCloud, az's default): login asks IMDS for Azure
# Resource Manager's resource, then ARM itself. The local tenant is taught
# ARM's application (as every Entra tenant has it); ARM's address is out
# of reach here, as on a host without a route to management.azure.com.
tenant_ctl POST seed "{\"tenants\":[{\"id\":\"$TENANT_ID\",\"applications\":[{\"displayName\":\"Windows Azure Service Management API\",\"appId\":\"797f4846-ba00-4fd7-ba43-dac1f8f63013\",\"identifierUris\":[\"https://management.core.windows.net/\",\"https://management.azure.com/\"]}],\"servicePrincipals\":[{\"appId\":\"797f4846-ba00-4fd7-ba43-dac1f8f63013\"}]}]}" >/dev/null ||
    tap_setup_fail "the local tenant did not take ARM's application"
t0=$SECONDS
o=$(az_as "$UID_A" login --identity --allow-no-subscriptions --debug)
rc=$?
arm=$(grep -m1 -o "Request URL: 'https://management.azure.com/subscriptions?api-version=[0-9-]*" "$work/az.err.$UID_A" | sed "s/^Request URL: '//")
[ "$rc" -ne 0 ] && [ -z "$o" ] && [ -n "$arm" ] &&
    grep -q "mi-token: agent agent-alpha for uid $UID_A .*scope https://management.core.windows.net//.default: allowed" "$work/imds.log" &&
    tap_ok "az login --identity in AzureCloud as agent-alpha's uid: IMDS gives alpha's ARM token, then az needs GET $arm (unreachable here: no account; $((SECONDS - t0)) s)" ||
    tap_fail "az login --identity in AzureCloud: IMDS answers, ARM is what is missing" "rc=$rc $o $(grep -v DEBUG "$work/az.err.$UID_A") $(grep management "$work/imds.log")"

for u in "$UID_A" "$UID_B" "$UID_HUMAN"; do
    if az_as "$u" cloud register -n OpenclawLocal --endpoint-resource-manager "$ARM_URL" \
        --endpoint-active-directory "$TENANT_URL" \
        --endpoint-active-directory-resource-id "$RESOURCE_URI" \
        --endpoint-active-directory-graph-resource-id https://graph.windows.net/ >/dev/null &&
        az_as "$u" cloud set -n OpenclawLocal >/dev/null; then
        tap_ok "az cloud register + az cloud set as $(name_of "$u")"
    else
        tap_fail "az cloud register + az cloud set as $(name_of "$u")" "$(cat "$work/az.err.$u")"
    fi
done

# without --allow-no-subscriptions: ARM lists none, az refuses to log in
o=$(az_as "$UID_A" login --identity)
rc=$?
[ "$rc" -ne 0 ] && grep -q "No access was configured for the VM, hence no subscriptions were found" "$work/az.err.$UID_A" &&
    grep -q "^GET /subscriptions $ALPHA_APP $RESOURCE_URI$" "$work/arm/requests" &&
    tap_ok "az login --identity as agent-alpha's uid, no subscription: refused by az (needs --allow-no-subscriptions)" ||
    tap_fail "az login --identity without subscriptions" "rc=$rc $o $(cat "$work/az.err.$UID_A")"
for u in "$UID_A" "$UID_B"; do
    : >"$work/arm/requests"
    o=$(az_as "$u" login --identity --allow-no-subscriptions)
    rc=$?
    [ "$rc" -eq 0 ] && [ "$(field "$o" 0.tenantId)" = "$TENANT_ID" ] &&
        [ "$(field "$o" 0.user.name)" = systemAssignedIdentity ] &&
        grep -q "^GET /subscriptions $(app_of "$u") $RESOURCE_URI$" "$work/arm/requests" &&
        tap_ok "az login --identity --allow-no-subscriptions as $(name_of "$u"): a tenant-level account (ARM asked with its own token)" ||
        tap_fail "az login --identity --allow-no-subscriptions as $(name_of "$u")" "rc=$rc $o $(cat "$work/az.err.$u") $(cat "$work/arm/requests")"
    o=$(az_as "$u" account get-access-token --resource "$RESOURCE_URI")
    t=$(field "$o" accessToken)
    [ -n "$t" ] && [ "$(jwt_claim "$t" appid)" = "$(app_of "$u")" ] &&
        [ "$(jwt_claim "$t" oid)" = "$(oid_of "$u")" ] && [ "$(jwt_claim "$t" aud)" = "$RESOURCE_URI" ] &&
        tap_ok "az account get-access-token --resource $RESOURCE_URI as $(name_of "$u"): its own token (appid, oid, aud)" ||
        tap_fail "az account get-access-token as $(name_of "$u"): its own token" "$(printf '%s' "$o" | head -c 300) $(cat "$work/az.err.$u")"
done
o=$(az_as "$UID_HUMAN" login --identity --allow-no-subscriptions)
rc=$?
[ "$rc" -ne 0 ] && [ -z "$o" ] && grep -q "Get Token request returned http error: 400, reason: Bad Request" "$work/az.err.$UID_HUMAN" &&
    tap_ok "az login --identity as a human's uid: IMDS's 400, no account ($(tr '\n' ' ' <"$work/az.err.$UID_HUMAN" | head -c 160))" ||
    tap_fail "az login --identity as a human's uid: refused" "rc=$rc $o $(cat "$work/az.err.$UID_HUMAN")"
o=$(az_as "$UID_HUMAN" account get-access-token --resource "$RESOURCE_URI")
rc=$?
[ "$rc" -ne 0 ] && [ -z "$o" ] && tap_ok "az account get-access-token as a human's uid: no token ($(grep -m1 . "$work/az.err.$UID_HUMAN" | head -c 80))" ||
    tap_fail "az account get-access-token as a human's uid: no token" "rc=$rc $(printf '%s' "$o" | head -c 200)"
o=$(az_as "$UID_B" login --identity --username "$ALPHA_APP" --allow-no-subscriptions)
rc=$?
[ "$rc" -ne 0 ] && grep -q "Failed to connect to MSI, check your managed service identity id" "$work/az.err.$UID_B" &&
    tap_ok "az login --identity --username agent-alpha's client id as agent-beta's uid: refused, no account" ||
    tap_fail "az login naming agent-alpha as agent-beta's uid: refused" "rc=$rc $o $(cat "$work/az.err.$UID_B")"
o=$(az_as "$UID_B" account get-access-token --resource "$RESOURCE_URI")
[ "$(jwt_claim "$(field "$o" accessToken)" appid)" = "$BETA_APP" ] &&
    tap_ok "agent-beta's az account after that: still beta's own token" ||
    tap_fail "agent-beta's az account after the refused login" "$(cat "$work/az.err.$UID_B")"

# naming its own identity, as for a user-assigned identity on a VM
o=$(az_as "$UID_A" login --identity --username "$ALPHA_APP" --allow-no-subscriptions)
rc=$?
t=$(field "$(az_as "$UID_A" account get-access-token --resource "$RESOURCE_URI")" accessToken)
[ "$rc" -eq 0 ] && [ "$(field "$o" 0.user.assignedIdentityInfo)" = "MSIClient-$ALPHA_APP" ] &&
    [ "$(jwt_claim "$t" appid)" = "$ALPHA_APP" ] &&
    tap_ok "az login --identity --username its own client id as agent-alpha's uid: a user-assigned account, its own token" ||
    tap_fail "az login naming its own client id as agent-alpha's uid" "rc=$rc $o $(cat "$work/az.err.$UID_A")"

grep -q "eyJ" "$work/imds.log" && tap_fail "no token in openclawd's log" "$(grep -c eyJ "$work/imds.log")" ||
    tap_ok "no token in openclawd's log"
helper_stop "$HELPER_PID_imds" && tap_ok "openclawd exits cleanly" ||
    tap_fail "openclawd exits cleanly" "$(tail -5 "$work/imds.log")"
HELPER_PID_imds=""
echo "# run time ${SECONDS} s"
tap_done
