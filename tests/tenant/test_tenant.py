"""Tests of the local Entra ID tenant imitation.

Run with:  /usr/bin/python3 -m pytest -q tests/tenant

Every tenant process is started on 127.0.0.1 port 0 with a temporary state
directory and stopped by its PID.  Clients trust only DIR/ca.pem.
"""

import base64
import datetime
import hashlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
TENANT_BIN = os.path.join(HERE, "tenant")
SEED = json.load(open(os.path.join(HERE, "seed.json")))
T = SEED["tenants"][0]
TID = T["id"]
READY_TIMEOUT = 15
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _app(name):
    return next(a for a in T["applications"] if a["displayName"] == name)


def _sp_id(app_id):
    return next(s["id"] for s in T["servicePrincipals"] if s["appId"] == app_id)


HOST = _app("openclaw-host")
HOST_V2 = _app("openclaw-host-v2")
ALPHA = _app("agent-alpha")
BETA = _app("agent-beta")
ADMIN = _app("openclaw-admin")
BLUEPRINT = _app("openclaw-agent-blueprint")
ALPHA_SECRET = ALPHA["passwordCredentials"][0]["secretText"]
ALPHA_EXPIRED_SECRET = ALPHA["passwordCredentials"][1]["secretText"]
BETA_SECRET = BETA["passwordCredentials"][0]["secretText"]
ADMIN_SECRET = ADMIN["passwordCredentials"][0]["secretText"]
BLUEPRINT_SECRET = BLUEPRINT["passwordCredentials"][0]["secretText"]
AGENTS = [s for s in T["servicePrincipals"] if s.get("agentIdentityOf")]
AGENT1, AGENT2 = AGENTS[0], AGENTS[1]
SYSTEM_MI = next(m for m in T["managedIdentities"] if m["type"] == "SystemAssigned")
USER_MI = next(m for m in T["managedIdentities"] if m["type"] == "UserAssigned")
GRAPH = "https://graph.microsoft.com"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---------------------------------------------------------------- harness

class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class TenantProc:
    """A tenant subprocess plus an HTTPS client that trusts only its CA."""

    def __init__(self, state_dir, *args):
        self.state = str(state_dir)
        self.out = open(os.path.join(self.state + ".stdout"), "w+")
        self.err = open(os.path.join(self.state + ".stderr"), "w+")
        self.proc = subprocess.Popen([TENANT_BIN, "--state", self.state, "--port", "0"]
                                     + list(args), stdout=self.out, stderr=self.err)
        ready = os.path.join(self.state, "ready")
        deadline = time.monotonic() + READY_TIMEOUT
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                self.err.seek(0)
                raise RuntimeError("tenant did not become ready: " + self.err.read())
            time.sleep(0.05)
        with open(ready) as handle:
            self.url = handle.read().strip()
        self.ctx = ssl.create_default_context(cafile=os.path.join(self.state, "ca.pem"))

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.out.close()
        self.err.close()

    def request(self, method, path, form=None, body=None, headers=None, timeout=10):
        headers = dict(headers or {})
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        url = path if path.startswith("https://") else self.url + path
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as r:
                return Resp(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Resp(e.code, e.headers, e.read())

    def control(self, op, body=None, method=None):
        r = self.request(method or ("GET" if body is None else "POST"), "/_control/" + op,
                         body=body)
        assert r.status in (200, 201), r.body
        return r.json()

    def token(self, client_id, scope="api://openclaw-host/.default", version=2, **extra):
        form = {"grant_type": "client_credentials", "client_id": client_id}
        form["scope" if version == 2 else "resource"] = scope
        form.update(extra)
        path = "/%s/oauth2/v2.0/token" % TID if version == 2 else "/%s/oauth2/token" % TID
        return self.request("POST", path, form=form)

    def access_token(self, client_id, secret, scope="api://openclaw-host/.default"):
        r = self.token(client_id, scope, client_secret=secret)
        assert r.status == 200, r.body
        return r.json()["access_token"]

    def jwks(self, path="/%s/discovery/v2.0/keys" % TID):
        r = self.request("GET", path)
        assert r.status == 200
        return r.json()["keys"]

    def verify(self, token, audience, issuer):
        kid = jwt.get_unverified_header(token)["kid"]
        jwk = next(k for k in self.jwks() if k["kid"] == kid)
        key = jwt.PyJWK(jwk).key
        return jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=issuer)

    @property
    def token_url(self):
        return "%s/%s/oauth2/v2.0/token" % (self.url, TID)


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    proc = TenantProc(tmp_path_factory.mktemp("tenant") / "state")
    yield proc
    proc.stop()


@pytest.fixture
def own_tenant(tmp_path):
    procs = []

    def start(*args):
        proc = TenantProc(tmp_path / ("state%d" % len(procs)), *args)
        procs.append(proc)
        return proc
    yield start
    for proc in procs:
        proc.stop()


def v1_iss(tid=TID):
    return "https://sts.windows.net/%s/" % tid


def v2_iss(tid=TID):
    return "https://login.microsoftonline.com/%s/v2.0" % tid


def assert_entra_error(resp, status, error, code):
    assert resp.status == status, resp.body
    body = resp.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith("AADSTS%d: " % code)
    assert "\r\nTrace ID: " in body["error_description"]
    assert body["error_uri"] == "https://login.microsoftonline.com/error?code=%d" % code
    datetime.datetime.strptime(body["timestamp"], "%Y-%m-%d %H:%M:%SZ")
    uuid.UUID(body["trace_id"])
    uuid.UUID(body["correlation_id"])
    return body


def make_cert(kind="rsa", cn="openclaw test client"):
    key = ec.generate_private_key(ec.SECP256R1()) if kind == "ec" \
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.DER)


def assertion(key, der, client_id, aud, alg="RS256", thumb="x5t", lifetime=600,
              jti=None, **overrides):
    header = {"x5t": b64url(hashlib.sha1(der).digest())} if thumb == "x5t" \
        else {"x5t#S256": b64url(hashlib.sha256(der).digest())}
    now = int(time.time())
    claims = {"aud": aud, "iss": client_id, "sub": client_id, "iat": now, "nbf": now,
              "exp": now + lifetime, "jti": jti or str(uuid.uuid4())}
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm=alg, headers=header)


def register_cert(tenant, app_id, der):
    return tenant.control("key-credentials", {"appId": app_id,
                                              "certificate": base64.b64encode(der).decode()})


# ---------------------------------------------------------------- process & files

def test_state_dir_and_stdout(tenant):
    for name in ("ca.pem", "pid", "url", "ready"):
        assert os.path.exists(os.path.join(tenant.state, name)), name
    assert int(open(os.path.join(tenant.state, "pid")).read()) == tenant.proc.pid
    assert open(os.path.join(tenant.state, "url")).read().strip() == tenant.url
    assert tenant.url.startswith("https://127.0.0.1:") and not tenant.url.endswith("/")
    tenant.out.seek(0)
    assert tenant.out.readline().strip() == tenant.url
    ca = x509.load_pem_x509_certificate(open(os.path.join(tenant.state, "ca.pem"), "rb").read())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # The server certificate names 127.0.0.1 and localhost.
    host_url = tenant.url.replace("127.0.0.1", "localhost")
    assert tenant.request("GET", host_url + "/discovery/keys").status == 200


def test_untrusted_client_is_refused(tenant):
    ctx = ssl.create_default_context()
    with pytest.raises((ssl.SSLError, urllib.error.URLError)):
        urllib.request.urlopen(tenant.url + "/discovery/keys", context=ctx, timeout=5)


def test_sigterm_stops_and_removes_ready(own_tenant):
    t = own_tenant()
    os.kill(t.proc.pid, signal.SIGTERM)
    assert t.proc.wait(10) == 0
    assert not os.path.exists(os.path.join(t.state, "ready"))


def test_daemon_mode(tmp_path):
    state = tmp_path / "daemon"
    out = subprocess.run([TENANT_BIN, "--state", str(state), "--daemon"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    pid = int(open(state / "pid").read())
    try:
        assert (state / "ready").exists()
        assert out.stdout.strip() == open(state / "url").read().strip()
        ctx = ssl.create_default_context(cafile=str(state / "ca.pem"))
        with urllib.request.urlopen(out.stdout.strip() + "/discovery/keys", context=ctx,
                                    timeout=5) as r:
            assert r.status == 200
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (state / "ready").exists():
            time.sleep(0.05)
    assert not (state / "ready").exists()


# ---------------------------------------------------------------- discovery & keys

def test_discovery_v2(tenant):
    doc = tenant.request("GET", "/%s/v2.0/.well-known/openid-configuration" % TID).json()
    assert doc["issuer"] == v2_iss()
    assert doc["token_endpoint"] == tenant.token_url
    assert doc["jwks_uri"] == "%s/%s/discovery/v2.0/keys" % (tenant.url, TID)
    assert doc["authorization_endpoint"].startswith(tenant.url)
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["tenant_region_scope"] == "NA"
    assert doc["cloud_instance_name"] == "microsoftonline.com"
    assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]


def test_discovery_v1_and_common(tenant):
    doc = tenant.request("GET", "/%s/.well-known/openid-configuration" % TID).json()
    assert doc["issuer"] == v1_iss()
    assert doc["token_endpoint"] == "%s/%s/oauth2/token" % (tenant.url, TID)
    for seg in ("common", "organizations"):
        doc = tenant.request("GET", "/%s/v2.0/.well-known/openid-configuration" % seg).json()
        assert doc["issuer"] == "https://login.microsoftonline.com/{tenantid}/v2.0"
        assert doc["token_endpoint"] == "%s/%s/oauth2/v2.0/token" % (tenant.url, seg)
    doc = tenant.request("GET", "/common/.well-known/openid-configuration").json()
    assert doc["issuer"] == "https://sts.windows.net/{tenantid}/"
    # The tenant's domain name works like its GUID.
    doc = tenant.request("GET", "/%s/v2.0/.well-known/openid-configuration"
                         % T["domains"][0]).json()
    assert doc["issuer"] == v2_iss()
    r = tenant.request("GET", "/%s/v2.0/.well-known/openid-configuration" % uuid.uuid4())
    assert r.status == 400 and r.json()["error_codes"] == [90002]


def test_sovereign_issuer_hosts(own_tenant):
    t = own_tenant("--issuer-host-v2", "login.microsoftonline.us",
                   "--issuer-host-v1", "login.microsoftonline.us", "--token-lifetime", "1234")
    doc = t.request("GET", "/%s/v2.0/.well-known/openid-configuration" % TID).json()
    assert doc["issuer"] == "https://login.microsoftonline.us/%s/v2.0" % TID
    assert doc["cloud_instance_name"] == "microsoftonline.us"
    assert doc["token_endpoint"].startswith(t.url)
    doc = t.request("GET", "/%s/.well-known/openid-configuration" % TID).json()
    assert doc["issuer"] == "https://login.microsoftonline.us/%s/" % TID
    r = t.token(ALPHA["appId"], "api://openclaw-host-v2/.default", client_secret=ALPHA_SECRET)
    assert r.json()["expires_in"] == 1234
    claims = t.verify(r.json()["access_token"], HOST_V2["appId"],
                      "https://login.microsoftonline.us/%s/v2.0" % TID)
    assert claims["exp"] - claims["iat"] == 1234
    keys = t.jwks()
    assert keys[0]["issuer"] == "https://login.microsoftonline.us/%s/v2.0" % TID


def test_jwks_endpoints(tenant):
    tenant_v2 = tenant.jwks("/%s/discovery/v2.0/keys" % TID)
    assert tenant_v2 and all(k["issuer"] == v2_iss() for k in tenant_v2)
    for path in ("/common/discovery/v2.0/keys", "/discovery/v2.0/keys"):
        keys = tenant.jwks(path)
        assert all(k["issuer"] == "https://login.microsoftonline.com/{tenantid}/v2.0"
                   for k in keys)
    for path in ("/discovery/keys", "/%s/discovery/keys" % TID):
        assert all("issuer" not in k for k in tenant.jwks(path))
    for key in tenant_v2:
        der = base64.b64decode(key["x5c"][0])
        assert key["kid"] == key["x5t"] == b64url(hashlib.sha1(der).digest())
        assert key["kty"] == "RSA" and key["use"] == "sig" and key["e"] == "AQAB"
        assert key["cloud_instance_name"] == "microsoftonline.com"
        cert = x509.load_der_x509_certificate(der)
        n = cert.public_key().public_numbers().n
        assert key["n"] == b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))
        assert cert.public_key().key_size == 2048


# ---------------------------------------------------------------- tokens

def test_v1_endpoint_token(tenant):
    r = tenant.token(ALPHA["appId"], "api://openclaw-host", version=1,
                     client_secret=ALPHA_SECRET)
    assert r.status == 200, r.body
    body = r.json()
    for field in ("expires_in", "ext_expires_in", "expires_on", "not_before", "resource"):
        assert isinstance(body[field], str), field
    assert body["resource"] == "api://openclaw-host" and body["token_type"] == "Bearer"
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "JWT" and header["alg"] == "RS256"
    assert header["x5t"] == header["kid"]
    claims = tenant.verify(token, "api://openclaw-host", v1_iss())
    assert claims["ver"] == "1.0" and claims["idtyp"] == "app"
    assert claims["appid"] == ALPHA["appId"] and claims["appidacr"] == "1"
    assert claims["oid"] == claims["sub"] == _sp_id(ALPHA["appId"])
    assert claims["tid"] == TID and claims["idp"] == v1_iss()
    assert claims["roles"] == ["Host.Login"]
    assert claims["rh"].endswith(".") and len(claims["uti"]) == 22 and claims["aio"]
    assert claims["xms_idrel"].startswith("7 ")
    assert claims["iat"] == claims["nbf"] and 3600 <= claims["exp"] - claims["iat"] <= 5400
    assert int(body["expires_on"]) == claims["exp"]


def test_v2_endpoint_with_v1_resource_gives_v1_token(tenant):
    token = tenant.access_token(ALPHA["appId"], ALPHA_SECRET)
    claims = tenant.verify(token, "api://openclaw-host", v1_iss())
    assert claims["ver"] == "1.0"
    # Requesting by appId makes the appId the audience.
    token = tenant.access_token(ALPHA["appId"], ALPHA_SECRET, HOST["appId"] + "/.default")
    assert tenant.verify(token, HOST["appId"], v1_iss())["aud"] == HOST["appId"]


def test_v2_token(tenant):
    r = tenant.token(ALPHA["appId"], "api://openclaw-host-v2/.default",
                     client_secret=ALPHA_SECRET)
    body = r.json()
    assert set(body) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert isinstance(body["expires_in"], int)
    header = jwt.get_unverified_header(body["access_token"])
    assert "x5t" not in header and header["kid"]
    claims = tenant.verify(body["access_token"], HOST_V2["appId"], v2_iss())
    assert claims["ver"] == "2.0" and claims["idtyp"] == "app"
    assert claims["azp"] == ALPHA["appId"] and claims["azpacr"] == "1"
    assert claims["roles"] == ["Host.Login"]
    assert claims["oid"] == claims["sub"] == _sp_id(ALPHA["appId"])
    assert "appid" not in claims


def test_no_roles_claim_without_assignment(tenant):
    token = tenant.access_token(BETA["appId"], BETA_SECRET)
    assert "roles" not in tenant.verify(token, "api://openclaw-host", v1_iss())


def test_secret_via_basic_auth(tenant):
    creds = "%s:%s" % (urllib.parse.quote_plus(ALPHA["appId"]),
                       urllib.parse.quote_plus(ALPHA_SECRET))
    r = tenant.request("POST", "/%s/oauth2/v2.0/token" % TID,
                       form={"grant_type": "client_credentials",
                             "scope": "api://openclaw-host/.default"},
                       headers={"Authorization": "Basic "
                                + base64.b64encode(creds.encode()).decode()})
    assert r.status == 200, r.body
    bad = "%s:%s" % (ALPHA["appId"], "wrong")
    r = tenant.request("POST", "/%s/oauth2/v2.0/token" % TID,
                       form={"grant_type": "client_credentials",
                             "scope": "api://openclaw-host/.default"},
                       headers={"Authorization": "Basic "
                                + base64.b64encode(bad.encode()).decode()})
    assert_entra_error(r, 401, "invalid_client", 7000215)


@pytest.mark.parametrize("kind,alg,thumb", [("rsa", "RS256", "x5t"),
                                             ("rsa", "PS256", "x5t#S256"),
                                             ("ec", "ES256", "x5t#S256")])
def test_client_assertion_accepted(tenant, kind, alg, thumb):
    key, der = make_cert(kind)
    register_cert(tenant, BETA["appId"], der)
    a = assertion(key, der, BETA["appId"], tenant.token_url, alg=alg, thumb=thumb)
    r = tenant.token(BETA["appId"], client_assertion_type=JWT_BEARER, client_assertion=a)
    assert r.status == 200, r.body
    claims = tenant.verify(r.json()["access_token"], "api://openclaw-host", v1_iss())
    assert claims["appidacr"] == "2"
    # The public-cloud token endpoint URL is an accepted audience as well.
    a = assertion(key, der, BETA["appId"],
                  "https://login.microsoftonline.com/%s/oauth2/v2.0/token" % TID,
                  alg=alg, thumb=thumb)
    r = tenant.token(BETA["appId"], client_assertion_type=JWT_BEARER, client_assertion=a)
    assert r.status == 200, r.body


def test_client_assertion_refusals(tenant):
    key, der = make_cert()
    register_cert(tenant, BETA["appId"], der)
    other_key, other_der = make_cert()

    def attempt(a):
        return tenant.token(BETA["appId"], client_assertion_type=JWT_BEARER,
                            client_assertion=a)
    # Signed by another key but claiming the registered certificate.
    forged = assertion(other_key, der, BETA["appId"], tenant.token_url)
    assert_entra_error(attempt(forged), 401, "invalid_client", 700027)
    # Certificate not registered.
    unknown = assertion(other_key, other_der, BETA["appId"], tenant.token_url)
    assert_entra_error(attempt(unknown), 401, "invalid_client", 700027)
    # Replay of the same jti.
    jti = str(uuid.uuid4())
    assert attempt(assertion(key, der, BETA["appId"], tenant.token_url, jti=jti)).status == 200
    body = assert_entra_error(attempt(assertion(key, der, BETA["appId"], tenant.token_url,
                                                jti=jti)), 401, "invalid_client", 700024)
    assert "replay" in body["error_description"]
    # Expired, too long, and not yet valid.
    past = int(time.time()) - 3600
    assert_entra_error(attempt(assertion(key, der, BETA["appId"], tenant.token_url,
                                         exp=past, nbf=past - 60)),
                       401, "invalid_client", 700024)
    assert_entra_error(attempt(assertion(key, der, BETA["appId"], tenant.token_url,
                                         lifetime=3 * 86400)), 401, "invalid_client", 700024)
    assert_entra_error(attempt(assertion(key, der, BETA["appId"], tenant.token_url,
                                         nbf=int(time.time()) + 3600)),
                       401, "invalid_client", 700024)
    # Wrong audience, wrong issuer, missing jti.
    assert_entra_error(attempt(assertion(key, der, BETA["appId"], "https://example.invalid/t")),
                       401, "invalid_client", 700027)
    assert_entra_error(attempt(assertion(key, der, BETA["appId"], tenant.token_url,
                                         iss=ALPHA["appId"])), 401, "invalid_client", 700021)
    a = jwt.encode({"aud": tenant.token_url, "iss": BETA["appId"], "sub": BETA["appId"],
                    "exp": int(time.time()) + 300}, key, algorithm="RS256",
                   headers={"x5t": b64url(hashlib.sha1(der).digest())})
    assert_entra_error(attempt(a), 401, "invalid_client", 50027)
    assert_entra_error(attempt("not-a-jwt"), 401, "invalid_client", 50027)


def test_error_codes(tenant):
    assert_entra_error(tenant.token(ALPHA["appId"], client_secret="nope"),
                       401, "invalid_client", 7000215)
    assert_entra_error(tenant.token(ALPHA["appId"], client_secret=ALPHA_EXPIRED_SECRET),
                       401, "invalid_client", 7000222)
    assert_entra_error(tenant.token(str(uuid.uuid4()), client_secret="x"),
                       400, "unauthorized_client", 700016)
    assert_entra_error(tenant.token(ALPHA["appId"], "api://openclaw-host/Host.Login",
                                    client_secret=ALPHA_SECRET), 400, "invalid_scope", 70011)
    assert_entra_error(tenant.token(ALPHA["appId"], "api://nothing-here/.default",
                                    client_secret=ALPHA_SECRET),
                       400, "invalid_resource", 500011)
    assert_entra_error(tenant.token(ALPHA["appId"]), 401, "invalid_client", 7000218)
    r = tenant.request("POST", "/%s/oauth2/v2.0/token" % TID,
                       form={"client_id": ALPHA["appId"], "client_secret": ALPHA_SECRET,
                             "scope": "api://openclaw-host/.default"})
    body = assert_entra_error(r, 400, "invalid_request", 900144)
    assert "'grant_type'" in body["error_description"]
    r = tenant.request("POST", "/%s/oauth2/v2.0/token" % TID,
                       form={"grant_type": "client_credentials", "client_id": ALPHA["appId"],
                             "client_secret": ALPHA_SECRET})
    assert "'scope'" in assert_entra_error(r, 400, "invalid_request",
                                           900144)["error_description"]
    r = tenant.request("POST", "/%s/oauth2/v2.0/token" % uuid.uuid4(),
                       form={"grant_type": "client_credentials"})
    assert_entra_error(r, 400, "invalid_tenant", 90002)
    # The client-request-id header becomes the correlation id.
    cid = str(uuid.uuid4())
    r = tenant.request("POST", "/%s/oauth2/v2.0/token" % TID,
                       form={"grant_type": "client_credentials", "client_id": ALPHA["appId"],
                             "client_secret": "bad", "scope": "api://openclaw-host/.default"},
                       headers={"client-request-id": cid})
    assert r.json()["correlation_id"] == cid


def test_disabled_service_principal(tenant):
    tenant.control("disable-sp", {"appId": BETA["appId"]})
    try:
        body = assert_entra_error(tenant.token(BETA["appId"], client_secret=BETA_SECRET),
                                  400, "unauthorized_client", 7000112)
        assert "is disabled" in body["error_description"]
    finally:
        tenant.control("enable-sp", {"appId": BETA["appId"]})
    assert tenant.token(BETA["appId"], client_secret=BETA_SECRET).status == 200


# ---------------------------------------------------------------- Agent ID

def _t1(tenant, fmi_path):
    r = tenant.token(BLUEPRINT["appId"], "api://AzureADTokenExchange/.default",
                     client_secret=BLUEPRINT_SECRET, fmi_path=fmi_path)
    assert r.status == 200, r.body
    return r.json()["access_token"]


def test_agent_id_exchange(tenant):
    t1 = _t1(tenant, AGENT1["appId"])
    c1 = tenant.verify(t1, "api://AzureADTokenExchange", v2_iss())
    assert c1["sub"] == "/eid1/c/pub/t/%s/a/%s/%s" % (TID, BLUEPRINT["appId"], AGENT1["appId"])
    assert c1["azp"] == BLUEPRINT["appId"]
    r = tenant.token(AGENT1["appId"], client_assertion_type=JWT_BEARER, client_assertion=t1)
    assert r.status == 200, r.body
    claims = tenant.verify(r.json()["access_token"], "api://openclaw-host", v1_iss())
    assert claims["appid"] == AGENT1["appId"] and claims["oid"] == AGENT1["id"]
    assert claims["roles"] == ["Host.Login"] and claims["idtyp"] == "app"
    assert claims["xms_par_app_azp"] == BLUEPRINT["appId"]
    assert claims["xms_act_fct"] == "3 9 11" and claims["xms_sub_fct"] == "9 3 11"
    assert "xms_tnt_fct" in claims
    # v2 resource as well
    r = tenant.token(AGENT1["appId"], "api://openclaw-host-v2/.default",
                     client_assertion_type=JWT_BEARER, client_assertion=t1)
    claims = tenant.verify(r.json()["access_token"], HOST_V2["appId"], v2_iss())
    assert claims["azp"] == AGENT1["appId"] and claims["xms_par_app_azp"] == BLUEPRINT["appId"]


def test_agent_id_refusals(tenant):
    t1 = _t1(tenant, AGENT1["appId"])
    # T1 for agent one presented by agent two.
    r = tenant.token(AGENT2["appId"], client_assertion_type=JWT_BEARER, client_assertion=t1)
    assert_entra_error(r, 401, "invalid_client", 50013)
    # Wrong fmi_path.
    r = tenant.token(AGENT1["appId"], client_assertion_type=JWT_BEARER,
                     client_assertion=_t1(tenant, str(uuid.uuid4())))
    assert_entra_error(r, 401, "invalid_client", 50013)
    # A tampered T1.
    head, body, sig = t1.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["exp"] += 3600
    forged = ".".join([head, b64url(json.dumps(claims).encode()), sig])
    r = tenant.token(AGENT1["appId"], client_assertion_type=JWT_BEARER, client_assertion=forged)
    assert_entra_error(r, 401, "invalid_client", 700027)
    # A token for another audience is no T1.
    other = tenant.access_token(BLUEPRINT["appId"], BLUEPRINT_SECRET)
    r = tenant.token(AGENT1["appId"], client_assertion_type=JWT_BEARER, client_assertion=other)
    assert_entra_error(r, 401, "invalid_client", 50013)
    # Only blueprints may ask for an fmi_path.
    r = tenant.token(ALPHA["appId"], "api://AzureADTokenExchange/.default",
                     client_secret=ALPHA_SECRET, fmi_path=AGENT1["appId"])
    assert r.status == 400 and r.json()["error_codes"] == [82001]
    # Agent identities have no secrets.
    assert_entra_error(tenant.token(AGENT1["appId"], client_secret="x"),
                       401, "invalid_client", 7000215)


# ---------------------------------------------------------------- Graph

def graph(tenant, method, path, token, body=None):
    headers = {"Authorization": "Bearer " + token} if token else {}
    return tenant.request(method, GRAPH_PREFIX + path, body=body, headers=headers)


GRAPH_PREFIX = "/v1.0"


def test_graph_token_shape(tenant):
    token = tenant.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    assert "nonce" in jwt.get_unverified_header(token)
    claims = tenant.verify(token, GRAPH, v1_iss())
    assert {"Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"} <= \
        set(claims["roles"])
    assert claims["app_displayname"] == "openclaw-admin"


def test_graph_auth_refused(tenant):
    r = graph(tenant, "GET", "/applications/%s" % HOST["id"], None)
    assert r.status == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert set(r.json()["error"]["innerError"]) >= {"date", "request-id", "client-request-id"}
    wrong_aud = tenant.access_token(ADMIN["appId"], ADMIN_SECRET)
    r = graph(tenant, "GET", "/applications/%s" % HOST["id"], wrong_aud)
    assert r.status == 401
    r = graph(tenant, "GET", "/applications/%s" % HOST["id"], "garbage.token.here")
    assert r.status == 401
    no_roles = tenant.access_token(ALPHA["appId"], ALPHA_SECRET, GRAPH + "/.default")
    for method, path, body in [("GET", "/applications/%s" % HOST["id"], None),
                               ("POST", "/applications", {"displayName": "x"}),
                               ("PATCH", "/servicePrincipals/%s" % _sp_id(BETA["appId"]),
                                {"accountEnabled": False}),
                               ("POST", "/servicePrincipals/%s/appRoleAssignedTo"
                                % _sp_id(HOST["appId"]), {})]:
        r = graph(tenant, method, path, no_roles, body)
        assert r.status == 403, (method, path)
        assert r.json()["error"]["code"] == "Authorization_RequestDenied"


def test_graph_lifecycle(tenant):
    admin = tenant.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    # Create an application and its service principal.
    r = graph(tenant, "POST", "/applications", admin, {"displayName": "agent-created"})
    assert r.status == 201, r.body
    app = r.json()
    uuid.UUID(app["id"]), uuid.UUID(app["appId"])
    assert app["displayName"] == "agent-created" and app["keyCredentials"] == []
    r = tenant.token(app["appId"], client_secret="x")
    assert_entra_error(r, 400, "invalid_client", 7000229)
    r = graph(tenant, "POST", "/servicePrincipals", admin, {"appId": app["appId"]})
    assert r.status == 201, r.body
    sp = r.json()
    assert sp["appId"] == app["appId"] and sp["accountEnabled"] is True
    # Read back.
    assert graph(tenant, "GET", "/applications/%s" % app["id"], admin).json()["appId"] == \
        app["appId"]
    assert graph(tenant, "GET", "/applications(appId='%s')" % app["appId"],
                 admin).json()["id"] == app["id"]
    assert graph(tenant, "GET", "/applications/%s" % uuid.uuid4(), admin).status == 404
    assert graph(tenant, "GET", "/servicePrincipals/%s" % sp["id"], admin).json()["appId"] == \
        app["appId"]
    found = graph(tenant, "GET", "/servicePrincipals?$filter=" + urllib.parse.quote(
        "appId eq '%s'" % app["appId"]), admin).json()["value"]
    assert [s["id"] for s in found] == [sp["id"]]
    # PATCH: name and a first certificate.
    key1, der1 = make_cert()
    r = graph(tenant, "PATCH", "/applications/%s" % app["id"], admin,
              {"displayName": "agent-created-2",
               "keyCredentials": [{"type": "AsymmetricX509Cert", "usage": "Verify",
                                   "key": base64.b64encode(der1).decode(),
                                   "displayName": "CN=first"}]})
    assert r.status == 204, r.body
    got = graph(tenant, "GET", "/applications/%s" % app["id"], admin).json()
    assert got["displayName"] == "agent-created-2"
    assert got["keyCredentials"][0]["key"] is None
    assert got["keyCredentials"][0]["customKeyIdentifier"] == \
        hashlib.sha1(der1).hexdigest().upper()
    # As in Graph, the key itself only with $select on one object.
    sel = graph(tenant, "GET", "/applications(appId='%s')?$select=keyCredentials" % app["appId"],
                admin).json()
    assert base64.b64decode(sel["keyCredentials"][0]["key"]) == der1
    assert "displayName" not in sel and sel["id"] == app["id"]
    # The new app authenticates with the certificate; no roles yet.
    a = assertion(key1, der1, app["appId"], tenant.token_url)
    r = tenant.token(app["appId"], client_assertion_type=JWT_BEARER, client_assertion=a)
    assert r.status == 200, r.body
    assert "roles" not in jwt.decode(r.json()["access_token"],
                                     options={"verify_signature": False})
    # addKey with a proof signed by the existing certificate.
    key2, der2 = make_cert(cn="second")
    now = int(time.time())
    proof = jwt.encode({"aud": "00000002-0000-0000-c000-000000000000", "iss": app["id"],
                        "nbf": now, "exp": now + 600}, key1, algorithm="RS256",
                       headers={"x5t": b64url(hashlib.sha1(der1).digest())})
    new_cred = {"type": "AsymmetricX509Cert", "usage": "Verify",
                "key": base64.b64encode(der2).decode(), "displayName": "CN=second"}
    bad_proof = jwt.encode({"aud": "00000002-0000-0000-c000-000000000000", "iss": app["id"],
                            "nbf": now, "exp": now + 600}, key2, algorithm="RS256")
    r = graph(tenant, "POST", "/applications/%s/addKey" % app["id"], admin,
              {"keyCredential": new_cred, "passwordCredential": None, "proof": bad_proof})
    assert r.status == 400
    long_proof = jwt.encode({"aud": "00000002-0000-0000-c000-000000000000", "iss": app["id"],
                             "nbf": now, "exp": now + 7200}, key1, algorithm="RS256")
    r = graph(tenant, "POST", "/applications/%s/addKey" % app["id"], admin,
              {"keyCredential": new_cred, "passwordCredential": None, "proof": long_proof})
    assert r.status == 400
    # The application itself may call addKey (self-service rotation).
    self_token = tenant.token(app["appId"], GRAPH + "/.default",
                              client_assertion_type=JWT_BEARER,
                              client_assertion=assertion(key1, der1, app["appId"],
                                                         tenant.token_url))
    r = graph(tenant, "POST", "/applications/%s/addKey" % app["id"],
              self_token.json()["access_token"],
              {"keyCredential": new_cred, "passwordCredential": None, "proof": proof})
    assert r.status == 200, r.body
    assert r.json()["key"] is None and r.json()["displayName"] == "CN=second"
    a = assertion(key2, der2, app["appId"], tenant.token_url, alg="PS256", thumb="x5t#S256")
    assert tenant.token(app["appId"], client_assertion_type=JWT_BEARER,
                        client_assertion=a).status == 200
    # Role assignment on the resource.
    host_sp = _sp_id(HOST["appId"])
    sudo = next(x for x in HOST["appRoles"] if x["value"] == "Host.Sudo")
    r = graph(tenant, "POST", "/servicePrincipals/%s/appRoleAssignedTo" % host_sp, admin,
              {"principalId": sp["id"], "resourceId": host_sp, "appRoleId": sudo["id"]})
    assert r.status == 201, r.body
    assignment = r.json()
    assert assignment["principalDisplayName"] == "agent-created"
    listed = graph(tenant, "GET", "/servicePrincipals/%s/appRoleAssignedTo" % host_sp,
                   admin).json()["value"]
    assert assignment["id"] in [x["id"] for x in listed]
    assert all(x["resourceId"] == host_sp for x in listed)
    a = assertion(key1, der1, app["appId"], tenant.token_url)
    token = tenant.token(app["appId"], client_assertion_type=JWT_BEARER,
                         client_assertion=a).json()["access_token"]
    assert tenant.verify(token, "api://openclaw-host", v1_iss())["roles"] == ["Host.Sudo"]
    r = graph(tenant, "DELETE", "/servicePrincipals/%s/appRoleAssignedTo/%s"
              % (host_sp, assignment["id"]), admin)
    assert r.status == 204
    assert graph(tenant, "DELETE", "/servicePrincipals/%s/appRoleAssignedTo/%s"
                 % (host_sp, assignment["id"]), admin).status == 404
    # Disable the service principal through Graph.
    r = graph(tenant, "PATCH", "/servicePrincipals/%s" % sp["id"], admin,
              {"accountEnabled": False, "tags": ["disabled-by-test"]})
    assert r.status == 204
    a = assertion(key1, der1, app["appId"], tenant.token_url)
    assert_entra_error(tenant.token(app["appId"], client_assertion_type=JWT_BEARER,
                                    client_assertion=a), 400, "unauthorized_client", 7000112)
    got = graph(tenant, "GET", "/servicePrincipals/%s" % sp["id"], admin).json()
    assert got["accountEnabled"] is False and got["tags"] == ["disabled-by-test"]


# ---------------------------------------------------------------- managed identity

def test_imds(tenant):
    path = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + \
        urllib.parse.quote("api://openclaw-host")
    r = tenant.request("GET", path)
    assert r.status == 400
    assert r.json() == {"error": "bad_request_102",
                        "error_description": "Required metadata header not specified"}
    r = tenant.request("GET", path, headers={"Metadata": "true"})
    assert r.status == 200, r.body
    body = r.json()
    assert set(body) == {"access_token", "client_id", "expires_in", "expires_on",
                         "ext_expires_in", "not_before", "resource", "token_type"}
    assert all(isinstance(v, str) for v in body.values())
    assert body["client_id"] == SYSTEM_MI["client_id"] and body["token_type"] == "Bearer"
    claims = tenant.verify(body["access_token"], "api://openclaw-host", v1_iss())
    assert claims["oid"] == SYSTEM_MI["object_id"] and claims["roles"] == ["Host.Login"]
    assert claims["xms_mirid"] == SYSTEM_MI["msi_res_id"]
    for sel in ("client_id", "object_id", "msi_res_id"):
        r = tenant.request("GET", path + "&%s=%s" % (sel, urllib.parse.quote(USER_MI[sel])),
                           headers={"Metadata": "true"})
        assert r.status == 200 and r.json()["client_id"] == USER_MI["client_id"]
    r = tenant.request("GET", path + "&client_id=%s" % uuid.uuid4(),
                       headers={"Metadata": "true"})
    assert r.status == 400 and r.json()["error"] == "invalid_request"


def test_imds_passes_entra_transient_errors(tenant):
    """A fault at the token endpoint reaches the IMDS caller as IMDS passes
    Entra's 429 and 5xx on: Entra's status and error, Retry-After if any."""
    path = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" + \
        urllib.parse.quote("api://openclaw-host")
    tenant.control("faults", {"path": "/oauth2/v2.0/token", "kind": "status", "status": 503})
    r = tenant.request("GET", path, headers={"Metadata": "true"})
    assert r.status == 503 and r.json()["error"] == "temporarily_unavailable", r.body
    tenant.control("faults", {"path": "/oauth2/v2.0/token", "kind": "429", "retry_after": 9})
    r = tenant.request("GET", path, headers={"Metadata": "true"})
    assert r.status == 429 and r.json()["error"] == "too_many_requests", r.body
    assert r.headers.get("Retry-After") == "9"
    assert tenant.control("faults")["faults"] == []
    r = tenant.request("GET", path, headers={"Metadata": "true"})
    assert r.status == 200, r.body


def test_arc_challenge(tenant):
    path = "/arc/metadata/identity/oauth2/token?api-version=2020-06-01&resource=" + \
        urllib.parse.quote("api://openclaw-host")
    r = tenant.request("GET", path, headers={"Metadata": "true"})
    assert r.status == 401
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith("Basic realm=")
    key_file = challenge[len("Basic realm="):]
    assert os.path.dirname(os.path.dirname(key_file)) == tenant.state
    assert os.stat(key_file).st_mode & 0o777 == 0o600
    secret = open(key_file).read()
    r = tenant.request("GET", path, headers={"Metadata": "true",
                                             "Authorization": "Basic " + secret})
    assert r.status == 200, r.body
    assert r.json()["client_id"] == SYSTEM_MI["client_id"]
    assert all(isinstance(v, str) for v in r.json().values())
    r = tenant.request("GET", path, headers={"Metadata": "true",
                                             "Authorization": "Basic wrong" + secret})
    assert r.status == 401


# ---------------------------------------------------------------- control

def test_key_rotation(own_tenant):
    t = own_tenant()
    old_token = t.access_token(ALPHA["appId"], ALPHA_SECRET)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    rotated = t.control("rotate-keys", {})
    new_kid = rotated["current"]
    assert new_kid != old_kid
    assert {k["kid"] for k in t.jwks()} == {old_kid, new_kid}
    assert {k["kid"] for k in t.jwks("/discovery/keys")} == {old_kid, new_kid}
    new_token = t.access_token(ALPHA["appId"], ALPHA_SECRET)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    t.verify(old_token, "api://openclaw-host", v1_iss())
    t.verify(new_token, "api://openclaw-host", v1_iss())
    assert t.control("drop-old-keys", {})["dropped"] == [old_kid]
    assert [k["kid"] for k in t.jwks()] == [new_kid]
    with pytest.raises(StopIteration):
        t.verify(old_token, "api://openclaw-host", v1_iss())
    # Tokens signed by a dropped key are refused by Graph.
    admin_old = t.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    t.control("rotate-keys", {})
    t.control("drop-old-keys", {})
    assert graph(t, "GET", "/applications/%s" % HOST["id"], admin_old).status == 401
    # With a grace period the previous key leaves the JWKS by itself.
    before = t.control("rotate-keys", {"grace_seconds": 0.5})
    assert len(t.jwks()) == 2
    deadline = time.monotonic() + 5
    while len(t.jwks()) != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [k["kid"] for k in t.jwks()] == [before["current"]]


def test_control_lifetime_clock_and_sign(tenant):
    tenant.control("token-lifetime", {"seconds": 600})
    tenant.control("clock", {"offset": -7200})
    assert tenant.control("settings", {})["clock_offset"] == -7200
    try:
        r = tenant.token(ALPHA["appId"], client_secret=ALPHA_SECRET)
        assert r.json()["expires_in"] == 600
        claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 600
        assert abs(claims["iat"] - (time.time() - 7200)) < 60
    finally:
        tenant.control("token-lifetime", {"seconds": None})
        tenant.control("clock", {"offset": 0})
    signed = tenant.control("sign", {"claims": {"aud": "x", "iss": "y", "exp": 1}})
    jwk = next(k for k in tenant.jwks() if k["kid"] == signed["kid"])
    assert jwt.decode(signed["token"], jwt.PyJWK(jwk).key, algorithms=["RS256"],
                      options={"verify_exp": False, "verify_aud": False})["iss"] == "y"
    state = tenant.control("state")
    assert state["tenants"][0]["id"] == TID and state["signing_keys"]


def test_control_assignments(tenant):
    added = tenant.control("assignments", {"principalAppId": BETA["appId"],
                                           "resourceAppId": HOST["appId"],
                                           "appRole": "Host.Sudo"})
    token = tenant.access_token(BETA["appId"], BETA_SECRET)
    assert tenant.verify(token, "api://openclaw-host", v1_iss())["roles"] == ["Host.Sudo"]
    removed = tenant.control("assignments/remove", {"id": added["id"]})
    assert removed["removed"] == [added["id"]]
    token = tenant.access_token(BETA["appId"], BETA_SECRET)
    assert "roles" not in tenant.verify(token, "api://openclaw-host", v1_iss())


def _count(tenant, path):
    return len(tenant.control("requests?path=" + urllib.parse.quote(path))["requests"])


def test_faults(tenant):
    token_path = "/%s/oauth2/v2.0/token" % TID
    tenant.request("DELETE", "/_control/requests")
    tenant.control("faults", {"path": "/oauth2/v2.0/token", "kind": "status", "status": 503,
                              "count": 2})
    assert tenant.token(ALPHA["appId"], client_secret=ALPHA_SECRET).status == 503
    assert tenant.token(ALPHA["appId"], client_secret=ALPHA_SECRET).status == 503
    assert tenant.token(ALPHA["appId"], client_secret=ALPHA_SECRET).status == 200
    log = tenant.control("requests?path=" + urllib.parse.quote(token_path))["requests"]
    assert [e["status"] for e in log] == [503, 503, 200]
    assert [e["fault"] for e in log] == ["status", "status", None]
    assert log[0]["client_id"] == ALPHA["appId"]

    tenant.control("faults", {"path": "/oauth2/v2.0/token", "kind": "429",
                              "retry_after": 7})
    r = tenant.token(ALPHA["appId"], client_secret=ALPHA_SECRET)
    assert r.status == 429 and r.headers["Retry-After"] == "7"
    assert tenant.token(ALPHA["appId"], client_secret=ALPHA_SECRET).status == 200

    tenant.control("faults", {"path": "/discovery/v2.0/keys", "kind": "latency", "ms": 400})
    start = time.monotonic()
    assert tenant.request("GET", "/%s/discovery/v2.0/keys" % TID).status == 200
    assert time.monotonic() - start >= 0.4
    start = time.monotonic()
    tenant.request("GET", "/%s/discovery/v2.0/keys" % TID)
    assert time.monotonic() - start < 0.4

    tenant.control("faults", {"path": "/oauth2/v2.0/token", "kind": "malformed"})
    r = tenant.token(ALPHA["appId"], client_secret=ALPHA_SECRET)
    with pytest.raises(ValueError):
        r.json()
    assert tenant.token(ALPHA["appId"], client_secret=ALPHA_SECRET).json()["access_token"]

    tenant.control("faults", {"path": "/metadata/identity", "kind": "reset", "count": 1})
    path = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=api://openclaw-host"
    with pytest.raises((ConnectionError, urllib.error.URLError, ssl.SSLError,
                        socket.error)):
        tenant.request("GET", path, headers={"Metadata": "true"})
    assert tenant.request("GET", path, headers={"Metadata": "true"}).status == 200
    assert tenant.control("faults")["faults"] == []
    assert _count(tenant, "/metadata/identity") >= 2


def test_fault_validation(tenant):
    r = tenant.request("POST", "/_control/faults", body={"path": "/x", "kind": "explode"})
    assert r.status == 400
    r = tenant.request("POST", "/_control/nothing", body={})
    assert r.status == 404


# ---------------------------------------------------------------- Graph at fleet scale

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
HOST_SP = _sp_id(HOST["appId"])
SP_SELECT = "id,appId,displayName,accountEnabled"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """A tenant of its own with 25 seeded agents; the admin also holds
    Directory.Read.All (getByIds)."""
    proc = TenantProc(tmp_path_factory.mktemp("fleet") / "state")
    proc.agents = proc.control("seed-agents", {"count": 25, "seed": "fleet"})["ids"]
    proc.control("assignments", {"principalAppId": ADMIN["appId"],
                                 "resourceAppId": GRAPH_APP_ID, "appRole": "Directory.Read.All"})
    proc.admin = proc.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    yield proc
    proc.stop()


def follow(tenant, path, token, limit=1000):
    """GET path and every @odata.nextLink: (objects, pages, last page)."""
    url, items, pages = GRAPH_PREFIX + path, [], 0
    while pages < limit:
        r = tenant.request("GET", url, headers={"Authorization": "Bearer " + token}, timeout=60)
        assert r.status == 200, r.body
        body = r.json()
        items += body["value"]
        pages += 1
        assert not ("@odata.nextLink" in body and "@odata.deltaLink" in body)
        if "@odata.nextLink" not in body:
            return items, pages, body
        assert body["@odata.nextLink"].startswith(tenant.url + "/v1.0/")
        url = body["@odata.nextLink"]
    raise AssertionError("more than %d pages" % limit)


def delta_round(tenant, link, token):
    items, pages, last = follow(tenant, link[len(tenant.url + GRAPH_PREFIX):]
                                if link.startswith("https://") else link, token)
    assert last["@odata.deltaLink"].startswith(tenant.url + "/v1.0/servicePrincipals/delta?")
    return {o["id"]: o for o in items}, pages, last["@odata.deltaLink"]


def test_graph_paging_top_and_select(fleet):
    path = "/servicePrincipals/%s/appRoleAssignedTo" % HOST_SP
    whole = graph(fleet, "GET", path, fleet.admin).json()
    assert "@odata.nextLink" not in whole and len(whole["value"]) >= 25  # no $top: one answer
    items, pages, _ = follow(fleet, path + "?$top=10&$select=principalId,appRoleId", fleet.admin)
    assert pages == (len(whole["value"]) + 9) // 10
    assert [i["id"] for i in items] == [a["id"] for a in whole["value"]]
    assert set(items[0]) == {"id", "principalId", "appRoleId"}
    sps, pages, _ = follow(fleet, "/servicePrincipals?$top=7&$select=" + SP_SELECT, fleet.admin)
    assert len(sps) == len(graph(fleet, "GET", "/servicePrincipals", fleet.admin)
                           .json()["value"]) and pages == (len(sps) + 6) // 7
    assert set(sps[0]) == set(SP_SELECT.split(","))
    for top in ("1000", "0", "x"):
        r = graph(fleet, "GET", path + "?$top=" + top, fleet.admin)
        assert r.status == 400 and r.json()["error"]["code"] == "Request_UnsupportedQuery"
    r = graph(fleet, "GET", "/servicePrincipals/%s?$select=appId" % fleet.agents[0], fleet.admin)
    assert set(r.json()) == {"@odata.context", "id", "appId"}
    # a page size for lists without $top (Graph's default is 100; off by default)
    fleet.control("graph-settings", {"page_size": 20})
    try:
        body = graph(fleet, "GET", "/servicePrincipals", fleet.admin).json()
        assert len(body["value"]) == 20 and "$skiptoken=" in body["@odata.nextLink"]
    finally:
        fleet.control("graph-settings", {"page_size": None})


def test_delta_service_principals(fleet):
    admin = fleet.admin
    first, pages, link = delta_round(fleet, "/servicePrincipals/delta?$select=%s&$top=10"
                                     % SP_SELECT, admin)
    assert set(fleet.agents) <= set(first) and pages == (len(first) + 9) // 10
    assert set(first[fleet.agents[0]]) == set(SP_SELECT.split(","))
    assert not any("@removed" in o for o in first.values())
    same, _, link = delta_round(fleet, link, admin)
    assert same == {}  # nothing changed

    a, b, c, d = fleet.agents[:4]
    fleet.control("disable-sp", {"id": a})
    assert graph(fleet, "PATCH", "/servicePrincipals/" + b, admin,
                 {"displayName": "renamed"}).status == 204
    assert graph(fleet, "DELETE", "/servicePrincipals/" + c, admin).status == 204
    fleet.control("delete-sp", {"id": d, "permanent": True})
    new = fleet.control("seed-agents", {"count": 2, "displayNamePrefix": "late-"})["ids"]
    # app role assignments are not properties of the service principal: not tracked
    fleet.control("assignments/remove", {"principalId": fleet.agents[5],
                                         "resourceId": HOST_SP})
    changes, _, link = delta_round(fleet, link, admin)
    assert set(changes) == {a, b, c, d} | set(new)
    assert changes[a]["accountEnabled"] is False
    assert changes[b]["displayName"] == "renamed" and set(changes[b]) == set(SP_SELECT.split(","))
    assert changes[c] == {"id": c, "@removed": {"reason": "changed"}}
    assert changes[d] == {"id": d, "@removed": {"reason": "deleted"}}
    assert graph(fleet, "GET", "/servicePrincipals/" + c, admin).status == 404
    fleet.control("delete-sp", {"id": c, "permanent": True})  # purged from the recycle bin
    fleet.control("enable-sp", {"id": a})
    changes, _, link = delta_round(fleet, link, admin)
    assert changes == {c: {"id": c, "@removed": {"reason": "deleted"}},
                       a: dict(first[a], accountEnabled=True)}

    # a new round: removed objects never show; $filter by id; sync from now
    again, _, _ = delta_round(fleet, "/servicePrincipals/delta?$select=id", admin)
    assert c not in again and d not in again and set(new) <= set(again)
    flt = urllib.parse.quote("id eq '%s' or id eq '%s'" % (a, b))
    only, _, flink = delta_round(fleet, "/servicePrincipals/delta?$filter=" + flt, admin)
    assert set(only) == {a, b}
    _, _, latest = delta_round(fleet, "/servicePrincipals/delta?$deltatoken=latest", admin)
    assert delta_round(fleet, latest, admin)[0] == {}
    fleet.control("disable-sp", {"id": fleet.agents[6]})
    fleet.control("disable-sp", {"id": a})
    assert set(delta_round(fleet, flink, admin)[0]) == {a}
    assert set(delta_round(fleet, latest, admin)[0]) == {a, fleet.agents[6]}
    # Graph promises "at least" the changed properties of an update: imitated on demand
    fleet.control("graph-settings", {"delta_changed_only": True})
    try:
        _, _, link = delta_round(fleet, "/servicePrincipals/delta?$deltatoken=latest&$select="
                                 + SP_SELECT, admin)
        fleet.control("enable-sp", {"id": a})
        assert graph(fleet, "PATCH", "/servicePrincipals/" + b, admin,
                     {"tags": ["x"], "displayName": "b2"}).status == 204
        late = fleet.control("seed-agents", {"count": 1})["ids"][0]
        changes, _, _ = delta_round(fleet, link, admin)
        assert changes[a] == {"id": a, "accountEnabled": True}
        assert changes[b] == {"id": b, "displayName": "b2"}  # tags: not selected
        assert set(changes[late]) == set(SP_SELECT.split(","))  # new: whole
    finally:
        fleet.control("graph-settings", {"delta_changed_only": False})
    r = graph(fleet, "GET", "/servicePrincipals/delta?$filter=" + urllib.parse.quote(
        "displayName eq 'x'"), admin)
    assert r.status == 400 and r.json()["error"]["code"] == "Request_UnsupportedQuery"
    beta = fleet.access_token(BETA["appId"], BETA_SECRET, GRAPH + "/.default")
    assert graph(fleet, "GET", "/servicePrincipals/delta", beta).status == 403


def test_delta_token_expiry(own_tenant):
    t = own_tenant()
    admin = t.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    _, _, link = delta_round(t, "/servicePrincipals/delta?$select=id,accountEnabled", admin)
    first = graph(t, "GET", "/servicePrincipals/delta?$top=2", admin).json()["@odata.nextLink"]
    for bad in ("garbage", link.split("$deltatoken=")[1][:-3] + "AAA"):
        r = graph(t, "GET", "/servicePrincipals/delta?$deltatoken=" + bad, admin)
        assert r.status == 410 and r.json()["error"]["code"] == "syncStateNotFound"
    assert t.control("delta-tokens/expire", {})["code"] == "syncStateNotFound"
    for stale in (link, first):
        r = t.request("GET", stale, headers={"Authorization": "Bearer " + admin})
        assert r.status == 410, r.body
        assert r.json()["error"]["code"] == "syncStateNotFound"
        assert r.json()["error"]["message"].startswith("The sync state generation is not found")
    assert r.headers["Location"].startswith(t.url + "/v1.0/servicePrincipals/delta")
    _, _, link = delta_round(t, "/servicePrincipals/delta?$select=id,accountEnabled", admin)
    t.control("delta-tokens/expire", {"code": "resyncRequired"})
    r = t.request("GET", link, headers={"Authorization": "Bearer " + admin})
    assert r.status == 410 and r.json()["error"]["code"] == "resyncRequired"
    assert r.headers["Location"] == t.url + \
        "/v1.0/servicePrincipals/delta?$select=id,accountEnabled"
    # Graph keeps delta tokens of directory objects for 7 days (tenant clock)
    _, _, old = delta_round(t, "/servicePrincipals/delta", admin)
    t.control("clock", {"offset": 6 * 86400})
    admin = t.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    _, _, new = delta_round(t, old, admin)
    t.control("clock", {"offset": 7 * 86400 + 10})
    admin = t.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    r = t.request("GET", old, headers={"Authorization": "Bearer " + admin})
    assert r.status == 410 and r.json()["error"]["code"] == "syncStateNotFound"
    assert t.request("GET", new, headers={"Authorization": "Bearer " + admin}).status == 200


ASSIGNMENT_DELTA = "/directoryObjects/delta?$filter=" + urllib.parse.quote(
    "isof('microsoft.graph.appRoleAssignment') or isof('microsoft.graph.user')")


def assignment_round(tenant, link, token):
    items, pages, last = follow(tenant, link[len(tenant.url + GRAPH_PREFIX):]
                                if link.startswith("https://") else link, token)
    assert last["@odata.deltaLink"].startswith(tenant.url + "/v1.0/directoryObjects/delta?")
    return {o["id"]: o for o in items}, pages, last["@odata.deltaLink"]


def test_delta_app_role_assignments(own_tenant):
    t = own_tenant()
    agents = t.control("seed-agents", {"count": 30, "seed": "adelta"})["ids"]
    admin = t.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    # User.Read.All (or Directory.Read.All) is the permission Graph lists for it
    r = graph(t, "GET", ASSIGNMENT_DELTA, admin)
    assert r.status == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"
    grant = t.control("assignments", {"principalAppId": ADMIN["appId"],
                                      "resourceAppId": GRAPH_APP_ID, "appRole": "User.Read.All"})
    admin = t.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    # only the documented filter
    for flt in (None, "isof('microsoft.graph.appRoleAssignment')",
                "isof('microsoft.graph.user') or isof('microsoft.graph.user')"):
        r = graph(t, "GET", "/directoryObjects/delta" + (
            "" if flt is None else "?$filter=" + urllib.parse.quote(flt)), admin)
        assert r.status == 400 and r.json()["error"]["code"] == "Request_UnsupportedQuery"
    first, pages, link = assignment_round(t, ASSIGNMENT_DELTA + "&$top=7", admin)
    assert len(first) == len(t.control("state")["tenants"][0]["appRoleAssignments"]) >= 30
    assert pages == (len(first) + 6) // 7
    assert grant["id"] in first
    mine = [a for a in first.values() if a["resourceId"] == HOST_SP]
    assert {a["principalId"] for a in mine} >= set(agents)
    assert all(a["@odata.type"] == "#microsoft.graph.appRoleAssignment" for a in first.values())
    assert assignment_round(t, link, admin)[0] == {}  # nothing changed
    _, _, latest = assignment_round(t, ASSIGNMENT_DELTA + "&$deltatoken=latest", admin)
    assert graph(t, "GET", latest[len(t.url + GRAPH_PREFIX):], admin).json()["value"] == []

    gone = next(a for a in mine if a["principalId"] == agents[0])
    t.control("assignments/remove", {"id": gone["id"]})
    added = t.control("assignments", {"principalId": agents[0], "resourceId": HOST_SP,
                                      "appRole": "Host.Sudo"})
    t.control("delete-sp", {"id": agents[1]})  # its assignments go with it
    of_1 = [a["id"] for a in mine if a["principalId"] == agents[1]]
    new = t.control("seed-agents", {"count": 2, "seed": "adelta-late"})["ids"]
    changes, _, link = assignment_round(t, link, admin)
    assert changes[gone["id"]] == {"id": gone["id"], "@removed": {"reason": "deleted"}}
    assert all(changes[i] == {"id": i, "@removed": {"reason": "deleted"}} for i in of_1)
    assert changes[added["id"]]["principalId"] == agents[0]
    assert changes[added["id"]]["resourceId"] == HOST_SP
    assert {a["principalId"] for a in changes.values() if "principalId" in a} == \
        {agents[0]} | set(new)
    assert len(changes) == 1 + len(of_1) + 1 + len(new)
    assert set(assignment_round(t, latest, admin)[0]) == set(changes)
    assert assignment_round(t, link, admin)[0] == {}
    # an added then removed assignment shows once, removed; $select applies
    flip = t.control("assignments", {"principalId": agents[2], "resourceId": HOST_SP,
                                     "appRole": "Host.Sudo"})
    t.control("assignments/remove", {"id": flip["id"]})
    changes, _, link = assignment_round(t, link, admin)
    assert changes == {flip["id"]: {"id": flip["id"], "@removed": {"reason": "deleted"}}}
    t.control("assignments", {"principalId": agents[3], "resourceId": HOST_SP,
                              "appRole": "Host.Sudo"})
    sel, _, _ = assignment_round(t, link + "&$select=resourceId", admin)
    assert [set(o) for o in sel.values()] == [{"id", "resourceId", "@odata.type"}]
    # state tokens: tampered, expired by the control API, too old -> 410 Gone
    r = graph(t, "GET", "/directoryObjects/delta?$deltatoken=garbage", admin)
    assert r.status == 410 and r.json()["error"]["code"] == "syncStateNotFound"
    t.control("delta-tokens/expire", {})
    r = t.request("GET", link, headers={"Authorization": "Bearer " + admin})
    assert r.status == 410 and r.json()["error"]["code"] == "syncStateNotFound"
    assert r.headers["Location"].startswith(t.url + "/v1.0/directoryObjects/delta?$filter=")
    _, _, link = assignment_round(t, ASSIGNMENT_DELTA + "&$deltatoken=latest", admin)
    t.control("clock", {"offset": 7 * 86400 + 10})
    admin = t.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    assert t.request("GET", link, headers={"Authorization": "Bearer " + admin}).status == 410
    # a servicePrincipals token is not an assignment token
    _, _, sp_link = delta_round(t, "/servicePrincipals/delta?$deltatoken=latest", admin)
    r = graph(t, "GET", "/directoryObjects/delta?" + sp_link.split("?", 1)[1], admin)
    assert r.status == 410


def test_assignment_delta_cost_is_changes(own_tenant):
    """At many assignments a round from a deltaLink reads only the changes."""
    t = own_tenant()
    t.control("seed-agents", {"count": 20000, "seed": "adelta-big"})
    t.control("assignments", {"principalAppId": ADMIN["appId"],
                              "resourceAppId": GRAPH_APP_ID, "appRole": "Directory.Read.All"})
    admin = t.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    _, _, link = assignment_round(t, ASSIGNMENT_DELTA + "&$deltatoken=latest", admin)
    started = time.monotonic()
    for _ in range(20):
        assert assignment_round(t, link, admin)[0] == {}
    assert time.monotonic() - started < 5


def test_get_by_ids(fleet):
    ids = fleet.agents[10:13] + [HOST["id"], str(uuid.uuid4()), fleet.agents[10].upper()]
    r = graph(fleet, "POST", "/directoryObjects/getByIds", fleet.admin,
              {"ids": ids, "types": ["servicePrincipal", "application"]})
    assert r.status == 200, r.body
    value = r.json()["value"]
    assert [o["id"] for o in value] == fleet.agents[10:13] + [HOST["id"]]
    assert [o["@odata.type"] for o in value] == ["#microsoft.graph.servicePrincipal"] * 3 + \
        ["#microsoft.graph.application"]
    assert value[0]["agentIdentityOf"] == BLUEPRINT["appId"]
    r = graph(fleet, "POST", "/directoryObjects/getByIds?$select=id,accountEnabled", fleet.admin,
              {"ids": ids, "types": ["ServicePrincipal"]})
    assert [set(o) for o in r.json()["value"]] == [{"id", "accountEnabled", "@odata.type"}] * 3
    assert graph(fleet, "POST", "/directoryObjects/getByIds", fleet.admin,
                 {"ids": ids, "types": ["user", "group"]}).json()["value"] == []
    ok = graph(fleet, "POST", "/directoryObjects/getByIds", fleet.admin,
               {"ids": [str(uuid.uuid4()) for _ in range(1000)]})
    assert ok.status == 200 and ok.json()["value"] == []
    for body in ({"ids": [str(uuid.uuid4()) for _ in range(1001)]}, {"ids": []},
                 {"ids": ["not-a-guid"]}, {"ids": ids, "types": ["spaceship"]}, {}):
        r = graph(fleet, "POST", "/directoryObjects/getByIds", fleet.admin, body)
        assert r.status == 400 and r.json()["error"]["code"] == "Request_BadRequest", body
    # application permission: Directory.Read.All only, as Graph documents it
    plain = fleet.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    fleet.control("assignments/remove", {"principalAppId": ADMIN["appId"],
                                         "resourceAppId": GRAPH_APP_ID,
                                         "appRole": "Directory.Read.All"})
    try:
        plain = fleet.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
        assert graph(fleet, "POST", "/directoryObjects/getByIds", plain,
                     {"ids": ids}).status == 403
    finally:
        fleet.control("assignments", {"principalAppId": ADMIN["appId"],
                                      "resourceAppId": GRAPH_APP_ID,
                                      "appRole": "Directory.Read.All"})


def batch(tenant, token, requests, headers=None):
    h = {"Authorization": "Bearer " + token} if token else {}
    h.update(headers or {})
    return tenant.request("POST", GRAPH_PREFIX + "/$batch", body={"requests": requests},
                          headers=h)


def test_batch(fleet):
    fleet.request("DELETE", "/_control/graph-stats")
    fleet.request("DELETE", "/_control/requests")
    agent = fleet.agents[20]
    reqs = [{"id": "1", "method": "GET", "url": "/servicePrincipals/%s?$select=displayName"
             % agent},
            {"id": "2", "method": "GET", "url": "servicePrincipals/%s" % uuid.uuid4()},
            {"id": "3", "method": "PATCH", "url": "/servicePrincipals/" + agent,
             "body": {"tags": ["batched"]}, "headers": {"Content-Type": "application/json"}},
            {"id": "4", "method": "GET", "url": "/servicePrincipals/" + agent, "dependsOn": ["3"]},
            {"id": "5", "method": "POST", "url": "/directoryObjects/getByIds",
             "body": {"ids": [agent]}, "headers": {"Content-Type": "application/json"}},
            {"id": "6", "method": "GET", "url": "/servicePrincipals/%s" % agent,
             "dependsOn": ["2"]},
            {"id": "7", "method": "PATCH", "url": "/servicePrincipals/" + agent,
             "body": {"tags": []}},
            {"id": "8", "method": "POST", "url": "/$batch", "body": {"requests": []},
             "headers": {"Content-Type": "application/json"}}]
    r = batch(fleet, fleet.admin, reqs)
    assert r.status == 200, r.body
    out = {x["id"]: x for x in r.json()["responses"]}
    assert [out[i]["status"] for i in "12345678"] == [200, 404, 204, 200, 200, 424, 400, 400]
    assert out["1"]["body"] == {"@odata.context": out["1"]["body"]["@odata.context"],
                                "id": agent, "displayName": "fleet-agent-000020"}
    assert out["2"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert "body" not in out["3"] and out["4"]["body"]["tags"] == ["batched"]
    assert out["5"]["body"]["value"][0]["id"] == agent
    assert out["4"]["headers"]["OData-Version"] == "4.0"
    stats = fleet.control("graph-stats")["clients"]
    admin = next(c for c in stats if c["appId"] == ADMIN["appId"])
    assert admin["batches"] == 1 and admin["requests"] == admin["batched_requests"] == 5
    assert admin["routes"]["PATCH servicePrincipals/{id}"] == 1
    log = fleet.control("requests?path=/servicePrincipals/")["requests"]
    assert sorted(e["batch"] for e in log if e.get("batch")) == ["1", "2", "3", "4", "6", "7"]

    # a fault hits one request of a batch, not the others
    fleet.control("faults", {"path": "/servicePrincipals/" + agent, "kind": "429",
                             "retry_after": 3})
    r = batch(fleet, fleet.admin, reqs[:1] + [dict(reqs[0], id="b")])
    statuses = [(x["status"], x["headers"].get("Retry-After")) for x in r.json()["responses"]]
    assert statuses == [(429, "3"), (200, None)]
    # whole-batch refusals
    many = [{"id": str(i), "method": "GET", "url": "/servicePrincipals/" + agent}
            for i in range(21)]
    for bad in (many, many[:2] + [dict(many[0])], [], [{"id": "1", "url": "/x"}],
                [{"id": "1", "method": "GET", "url": "/x", "dependsOn": ["9"]}],
                [{"id": "1", "method": "GET", "url": "/x", "dependsOn": 1}],
                [{"id": "1", "method": "GET", "url": "/x", "headers": ["a"]}]):
        r = batch(fleet, fleet.admin, bad)
        assert r.status == 400 and r.json()["error"]["code"] == "BadRequest", bad
    assert batch(fleet, fleet.admin, many[:20]).status == 200
    assert batch(fleet, None, many[:1]).status == 401
    assert fleet.request("GET", GRAPH_PREFIX + "/$batch",
                         headers={"Authorization": "Bearer " + fleet.admin}).status == 405


def test_throttling(own_tenant):
    t = own_tenant()
    admin = t.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    alpha = t.access_token(ALPHA["appId"], ALPHA_SECRET, GRAPH + "/.default")
    assert t.control("graph-throttle")["enabled"] is False  # off by default
    assert t.control("graph-throttle")["effective_limit"] == 3500
    path = "/servicePrincipals/" + HOST_SP
    for _ in range(30):
        assert graph(t, "GET", path, admin).status == 200
    # budgets refill slowly enough here that a loaded machine cannot refill them
    assert t.control("graph-throttle", {"enabled": True, "limit": 6, "window_seconds": 120,
                                        "write_limit": 2, "write_window_seconds": 120}
                     )["effective_limit"] == 6
    statuses = [graph(t, "GET", path, admin).status for _ in range(6)]
    r = graph(t, "GET", path, admin)
    assert statuses == [200] * 6 and r.status == 429, r.body
    assert r.json()["error"]["code"] == "TooManyRequests"
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["x-ms-throttle-scope"] == "Tenant_Application/ReadWrite/%s/%s" % (
        ADMIN["appId"], TID)
    assert graph(t, "GET", path, alpha).status in (200, 403)  # another app, its own budget
    # sub-requests of a batch count one by one
    reqs = [{"id": str(i), "method": "GET", "url": path} for i in range(4)]
    r = batch(t, admin, reqs)
    assert r.status == 200 and {x["status"] for x in r.json()["responses"]} == {429}
    assert all(x["headers"]["Retry-After"] for x in r.json()["responses"])
    stats = {c["appId"]: c for c in t.control("graph-stats")["clients"]}
    assert stats[ADMIN["appId"]]["requests"] == 30 + 6 + 1 + 4
    assert stats[ADMIN["appId"]]["throttled"] == 5
    # the most HTTP requests in any minute: the batch is one (all within a minute here)
    assert stats[ADMIN["appId"]]["minute_max"] == 30 + 6 + 1 + 1
    # the write budget
    t.control("graph-throttle", {"limit": 100})
    patch = [graph(t, "PATCH", path, admin, {"tags": []}).status for _ in range(3)]
    assert patch == [204, 204, 429]
    # costs: a getByIds is 3 resource units, less 1 with $select
    t.control("graph-throttle", {"limit": 5, "window_seconds": 200})
    assert t.control("graph-stats/reset", {})["clients"] == []
    t.control("assignments", {"principalAppId": ADMIN["appId"], "resourceAppId": GRAPH_APP_ID,
                              "appRole": "Directory.Read.All"})
    admin = t.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    r = graph(t, "POST", "/directoryObjects/getByIds", admin, {"ids": [HOST_SP]})
    assert r.status == 200 and r.headers["x-ms-resource-unit"] == "3"
    assert graph(t, "GET", path + "?$select=id", admin).headers["x-ms-resource-unit"] == "1"
    assert graph(t, "GET", path, admin).status == 200
    assert graph(t, "GET", path, admin).status == 429
    # refilled after Retry-After (a short window keeps the wait short)
    t.control("graph-throttle", {"limit": 2, "window_seconds": 1})
    for _ in range(20):
        r = graph(t, "GET", path, admin)
        if r.status == 429:
            break
    assert r.status == 429 and r.headers["Retry-After"] == "1"
    time.sleep(1.05)
    assert graph(t, "GET", path, admin).status == 200
    t.control("graph-throttle", {"enabled": False})
    assert all(graph(t, "GET", path, admin).status == 200 for _ in range(5))


def test_fleet_of_100000_agents(own_tenant):
    """100 000 agents seeded in seconds and read back through Graph with
    delta, $top=999 pages and getByIds (budget: well under 20 s)."""
    started = time.monotonic()
    t = own_tenant()
    seeded = t.control("seed-agents", {"count": 100000, "disabledEvery": 1000})
    assert seeded["count"] == 100000 and "ids" not in seeded
    assert seeded["seconds"] < 8
    t.control("assignments", {"principalAppId": ADMIN["appId"], "resourceAppId": GRAPH_APP_ID,
                              "appRole": "Directory.Read.All"})
    admin = t.access_token(ADMIN["appId"], ADMIN_SECRET, GRAPH + "/.default")
    sps, pages, link = delta_round(t, "/servicePrincipals/delta?$select=id,accountEnabled"
                                   "&$top=999", admin)
    assert len(sps) == seeded["servicePrincipals"] and pages == (len(sps) + 998) // 999
    assert sum(1 for o in sps.values() if o["accountEnabled"] is False) == 100
    held, pages, _ = follow(t, "/servicePrincipals/%s/appRoleAssignedTo?$top=999"
                            "&$select=principalId,appRoleId" % HOST_SP, admin)
    assert len(held) >= 100000 and pages == (len(held) + 998) // 999
    ids = [a["principalId"] for a in held[-1000:]]
    r = graph(t, "POST", "/directoryObjects/getByIds", admin,
              {"ids": ids, "types": ["servicePrincipal"]})
    assert len(r.json()["value"]) == 1000
    # the resource lookup the product makes, in a directory of 100 000
    found = graph(t, "GET", "/servicePrincipals?$filter=" + urllib.parse.quote(
        "servicePrincipalNames/any(x:x eq 'api://openclaw-host')"), admin).json()["value"]
    assert [sp["id"] for sp in found] == [HOST_SP]
    t.control("disable-sp", {"id": ids[0]})
    changes, _, _ = delta_round(t, link, admin)
    assert changes == {ids[0]: {"id": ids[0], "accountEnabled": False}}
    with open("/proc/%d/status" % t.proc.pid) as handle:
        rss_kib = int(next(line for line in handle if line.startswith("VmRSS:")).split()[1])
    assert rss_kib < 400 * 1024, "tenant RSS %d KiB" % rss_kib
    assert time.monotonic() - started < 30
