#!/bin/sh
# The local test tenant accepts a client assertion signed inside the TPM for
# an application whose registered certificate is the TPM key's, and refuses
# it (AADSTS700027) for an application that holds another certificate.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/tpm-lib.sh"

tenant="$top_srcdir/tests/tenant/tenant"
[ -n "$SWTPM" ] && [ -x "$SWTPM" ] || skip_all "swtpm not installed (apt-get install swtpm)"
[ -x "$CTL" ] || skip_all "openclawctl not built"
[ -f "$tenant" ] || skip_all "the local test tenant is not there"
"$PY" -c 'import cryptography' 2>/dev/null || skip_all "python3-cryptography missing"
start_swtpm A || {
    echo "1..1"
    echo "not ok 1 - swtpm starts"
    exit 1
}
cd "$work" || exit 1
tenant_pid=""
stop_tenant() {
    if [ -n "$tenant_pid" ]; then
        kill "$tenant_pid" 2>/dev/null
        for _ in $(seq 1 50); do
            kill -0 "$tenant_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$tenant_pid" 2>/dev/null
    fi
    cleanup
}
trap stop_tenant EXIT

ctl() { "$CTL" tpm "$@" --tcti "$TCTI_A"; }
for alg in rsa ecc; do
    ctl keygen --alg $alg --out key-$alg >/dev/null &&
        ctl cert --key key-$alg --subject "tpm-agent-$alg" --out cert-$alg.pem >/dev/null ||
        { echo "1..1"; echo "not ok 1 - TPM key and certificate ($alg)"; exit 1; }
done

# A seed: the demo tenant plus three applications, two holding our TPM
# certificates and one holding a certificate of another (software) key.
"$PY" - "$top_srcdir/tests/tenant/seed.json" seed.json ids <<'PYEOF'
import base64, datetime, json, sys, uuid
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

seed = json.load(open(sys.argv[1]))
t = seed["tenants"][0]

def der_b64(pem_file):
    cert = x509.load_pem_x509_certificate(open(pem_file, "rb").read())
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()

def other_cert():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone-else")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()

ids = {}
for name, key in (("rsa", der_b64("cert-rsa.pem")), ("ecc", der_b64("cert-ecc.pem")),
                  ("other", other_cert())):
    app_id, obj, sp = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    t["applications"].append({
        "id": obj, "appId": app_id, "displayName": "tpm-agent-" + name,
        "keyCredentials": [{"keyId": str(uuid.uuid4()), "type": "AsymmetricX509Cert",
                            "usage": "Verify", "key": key,
                            "startDateTime": "2024-01-01T00:00:00Z",
                            "endDateTime": "2099-12-31T00:00:00Z"}],
        "tags": [], "isAgentBlueprint": False})
    t["servicePrincipals"].append({"id": sp, "appId": app_id,
                                   "displayName": "tpm-agent-" + name,
                                   "accountEnabled": True, "tags": [],
                                   "servicePrincipalType": "Application",
                                   "appRoleAssignmentRequired": False})
    ids[name] = app_id
json.dump(seed, open(sys.argv[2], "w"))
with open(sys.argv[3], "w") as f:
    f.write("tid=%s\nrsa_app=%s\necc_app=%s\nother_app=%s\n"
            % (t["id"], ids["rsa"], ids["ecc"], ids["other"]))
PYEOF
[ -s ids ] || { echo "1..1"; echo "not ok 1 - seed with the TPM certificates"; exit 1; }
. ./ids

mkdir -p tenant-state
"$PY" "$tenant" --state "$work/tenant-state" --port 0 --seed "$work/seed.json" --daemon \
    >tenant.out 2>&1
tenant_pid=$(cat tenant-state/pid 2>/dev/null)
[ -s tenant-state/ready ] || {
    echo "1..1"
    echo "not ok 1 - the local tenant starts"
    sed 's/^/# /' tenant.out tenant-state/tenant.log 2>/dev/null | tail -n 20
    exit 1
}
url=$(cat tenant-state/url)
token_url="$url/$tid/oauth2/v2.0/token"

# post ASSERTION-FILE CLIENT-ID: prints "HTTP-STATUS error-code-or-token-type"
post() {
    "$PY" - "$token_url" "$work/tenant-state/ca.pem" "$1" "$2" <<'PYEOF'
import json, ssl, sys, urllib.error, urllib.parse, urllib.request
url, ca, assertion_file, client_id = sys.argv[1:5]
body = urllib.parse.urlencode({
    "grant_type": "client_credentials", "client_id": client_id,
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    "client_assertion": open(assertion_file).read().strip(),
    "scope": "https://graph.microsoft.com/.default"}).encode()
ctx = ssl.create_default_context(cafile=ca)
try:
    with urllib.request.urlopen(urllib.request.Request(url, data=body), context=ctx,
                                timeout=20) as r:
        doc = json.load(r)
        print(r.status, doc.get("token_type"), "access_token" in doc)
except urllib.error.HTTPError as e:
    doc = json.load(e)
    print(e.code, ",".join("AADSTS%d" % c for c in doc.get("error_codes", [])))
PYEOF
}

# assert DESCRIPTION EXPECTED ASSERTION-FILE CLIENT-ID
expect() {
    got=$(post "$3" "$4" 2>"$work/post.err")
    case $got in
    "$2"*) ok "$1" ;;
    *)
        not_ok "$1 (got: $got)"
        sed 's/^/# /' "$work/post.err" | tail -n 5
        ;;
    esac
}

for spec in "RS256 rsa" "PS256 rsa --ps256" "ES256 ecc"; do
    set -- $spec
    a=$1 k=$2 extra=${3:-}
    eval "app=\$${k}_app"
    if ctl sign-assertion --key key-$k --cert cert-$k.pem --client-id "$app" \
        --aud "$token_url" $extra >jwt-$a 2>sign.err; then
        expect "the tenant accepts the TPM-signed $a client assertion" "200 Bearer True" \
            jwt-$a "$app"
    else
        not_ok "sign the $a client assertion"
        sed 's/^/# /' sign.err
    fi
done
expect "a replayed assertion (same jti) is refused" "401 AADSTS700024" jwt-RS256 "$rsa_app"

# the app that registered another certificate must refuse our key
ctl sign-assertion --key key-rsa --cert cert-rsa.pem --client-id "$other_app" \
    --aud "$token_url" >jwt-other 2>/dev/null
expect "the tenant refuses it for an app holding another certificate (AADSTS700027)" \
    "401 AADSTS700027" jwt-other "$other_app"
# our ECC key's assertion presented for the RSA app: the thumbprint is not registered there
ctl sign-assertion --key key-ecc --cert cert-ecc.pem --client-id "$rsa_app" \
    --aud "$token_url" >jwt-cross 2>/dev/null
expect "an assertion naming a certificate the app does not hold is refused (AADSTS700027)" \
    "401 AADSTS700027" jwt-cross "$rsa_app"

echo "1..$tap_n"
[ "$tap_failed" -eq 0 ]
