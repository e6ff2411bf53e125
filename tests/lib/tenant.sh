# tests/lib/tenant.sh: start, use and stop the local test tenant (sourced).
# Needs: curl, /usr/bin/python3 with python3-cryptography.
#   tenant_start DIR          start on a free loopback port; sets TENANT_URL,
#                             TENANT_CA, TENANT_DIR (stop with tenant_stop)
#   tenant_stop               SIGTERM by PID, bounded wait
#   tenant_token ID SECRET SCOPE [EXTRA_CURL_ARGS...]
#                             prints an access token (client credentials, v2 endpoint)
#   tenant_ctl METHOD PATH [JSON]
#                             calls the control API, prints the response
#   tenant_get PATH           GET over HTTPS, prints the body
#   json_get FIELD            reads JSON on stdin, prints FIELD (dotted path)
TENANT_ID=5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c
OC_PY=/usr/bin/python3

tenant_start() {
    TENANT_DIR=$1
    mkdir -p "$TENANT_DIR"
    "$top_srcdir/tests/tenant/tenant" --state "$TENANT_DIR" --port 0 --daemon >/dev/null ||
        return 1
    TENANT_URL=$(cat "$TENANT_DIR/url")
    TENANT_CA=$TENANT_DIR/ca.pem
    export TENANT_DIR TENANT_URL TENANT_CA
}

tenant_stop() {
    local pid i
    [ -n "${TENANT_DIR:-}" ] && [ -f "$TENANT_DIR/pid" ] || return 0
    pid=$(cat "$TENANT_DIR/pid")
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    return 0
}

json_get() {
    "$OC_PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
' "$1"
}

tenant_token() {
    local id=$1 secret=$2 scope=$3
    shift 3
    curl -sS --cacert "$TENANT_CA" "$TENANT_URL/$TENANT_ID/oauth2/v2.0/token" \
        -d grant_type=client_credentials --data-urlencode "client_id=$id" \
        --data-urlencode "client_secret=$secret" --data-urlencode "scope=$scope" "$@" |
        json_get access_token
}

tenant_ctl() {
    local method=$1 path=$2 body=${3:-}
    if [ -n "$body" ]; then
        curl -sS --cacert "$TENANT_CA" -X "$method" -H 'Content-Type: application/json' \
            --data "$body" "$TENANT_URL/_control/$path"
    else
        curl -sS --cacert "$TENANT_CA" -X "$method" "$TENANT_URL/_control/$path"
    fi
}

tenant_get() {
    curl -sS --cacert "$TENANT_CA" "$TENANT_URL$1"
}

# Identities of the demo seed (tests/tenant/seed.json, tests/tenant/README.md).
RESOURCE_URI=api://openclaw-host
RESOURCE_V2_URI=api://openclaw-host-v2
RESOURCE_V2_APP=6d3a9b52-4e6f-4c8b-9d0e-1f2a3b4c5d6e
ALPHA_APP=a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f
ALPHA_OID=a3d5f7b9-1c4e-4a8b-8d2f-3c5e7a9b1d4f
ALPHA_SECRET='aLp8Q~openclaw-demo-agent-alpha-secret.001'
BETA_APP=b1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f2a
BETA_OID=b3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e4a
BETA_SECRET='bEt8Q~openclaw-demo-agent-beta-secret.0001'
BLUEPRINT_APP=e1a3c5e7-9d2f-4a6b-8c0d-1e3f5a7b9c2d
BLUEPRINT_SECRET='bPr8Q~openclaw-demo-blueprint-secret.00001'
AGENT_ONE_APP=f1b3d5f7-9c2e-4b6a-8d0e-1f3a5b7c9d2e

# Entra Agent ID: the blueprint gets T1 for the agent identity, then T1 is
# the agent identity's client assertion. Prints the agent's access token.
tenant_agent_id_token() {
    local agent=$1 scope=$2 t1
    t1=$(tenant_token "$BLUEPRINT_APP" "$BLUEPRINT_SECRET" api://AzureADTokenExchange/.default \
        --data-urlencode "fmi_path=$agent") || return 1
    curl -sS --cacert "$TENANT_CA" "$TENANT_URL/$TENANT_ID/oauth2/v2.0/token" \
        -d grant_type=client_credentials --data-urlencode "client_id=$agent" \
        --data-urlencode 'client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer' \
        --data-urlencode "client_assertion=$t1" --data-urlencode "scope=$scope" |
        json_get access_token
}
