"""The token service: client authentication and access token issuance."""

import base64
import random
import secrets
import threading
import time
import urllib.parse

from . import errors, jose
from .model import (GRAPH_APP_ID, TOKEN_EXCHANGE_APP_ID, TOKEN_EXCHANGE_URI,
                    is_current, key_credential_cert, same_guid)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW = 300
MAX_ASSERTION_LIFETIME = 86400
FMI_SUB_PREFIX = "/eid1/c/pub/t/"
GRAPH_ADMIN_WIDS = ["0997a1d0-0d1d-4acb-b408-d5ca73121e90"]

# Fixed facet values carried by Agent ID tokens (see README.md).
AGENT_ACT_FCT = "3 9 11"
AGENT_SUB_FCT = "9 3 11"
AGENT_TNT_FCT = "2 3"


class Config:
    """Runtime settings, some of them changeable through the control API."""

    def __init__(self, issuer_host_v1="sts.windows.net",
                 issuer_host_v2="login.microsoftonline.com", token_lifetime=None):
        self.issuer_host_v1 = issuer_host_v1
        self.issuer_host_v2 = issuer_host_v2
        self.token_lifetime = token_lifetime
        self.clock_offset = 0.0
        self.base_url = None

    def now(self) -> float:
        return time.time() + self.clock_offset

    @property
    def cloud_instance_name(self) -> str:
        host = self.issuer_host_v2
        if host.endswith("chinacloudapi.cn"):
            return "partner.microsoftonline.cn"
        return host[len("login."):] if host.startswith("login.") else host

    def v1_issuer(self, tid: str) -> str:
        return "https://%s/%s/" % (self.issuer_host_v1, tid)

    def v2_issuer(self, tid: str) -> str:
        return "https://%s/%s/v2.0" % (self.issuer_host_v2, tid)


def _random_b64(nbytes):
    return jose.b64url(secrets.token_bytes(nbytes))


def _aio():
    return base64.b64encode(secrets.token_bytes(42)).decode("ascii")


def _rh():
    return "0.A" + _random_b64(48) + "."


def parse_basic(header):
    """HTTP Basic client authentication (RFC 6749 section 2.3.1)."""
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, None
    if ":" not in decoded:
        return None, None
    user, _, password = decoded.partition(":")
    return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)


class TokenService:
    def __init__(self, directory, keyring, config):
        self.directory = directory
        self.keyring = keyring
        self.config = config
        self._replay_lock = threading.Lock()
        self._seen_jti = {}  # (client_id, jti) -> exp

    # ------------------------------------------------------------ issuance
    def lifetime(self) -> int:
        if self.config.token_lifetime is not None:
            return int(self.config.token_lifetime)
        return random.randint(3600, 5400)

    def sign(self, header_extra, claims, v1=True):
        key = self.keyring.current
        header = {"typ": "JWT"}
        header.update(header_extra or {})
        header["alg"] = "RS256"
        if v1:
            header["x5t"] = key.kid
        header["kid"] = key.kid
        return jose.sign_rs256(key.private_key, header, claims)

    def issue(self, tenant, client_sp, resource_app, resource_sp, audience_v1, acr,
              extra_claims=None, lifetime=None):
        """Build and sign an app-only access token.

        Returns (token, claims)."""
        now = int(self.config.now())
        lifetime = lifetime if lifetime is not None else self.lifetime()
        version = (resource_app.get("api") or {}).get("requestedAccessTokenVersion") or 1
        roles = tenant.roles_for(client_sp["id"], resource_sp)
        client_app = tenant.app_for_sp(client_sp) or {}
        is_graph = same_guid(resource_app["appId"], GRAPH_APP_ID)
        header_extra = {}
        if version == 2:
            aud = TOKEN_EXCHANGE_URI if same_guid(resource_app["appId"], TOKEN_EXCHANGE_APP_ID) \
                else resource_app["appId"]
            claims = {"aud": aud, "iss": self.config.v2_issuer(tenant.id),
                      "iat": now, "nbf": now, "exp": now + lifetime, "aio": _aio(),
                      "azp": client_sp["appId"], "azpacr": acr, "idtyp": "app",
                      "oid": client_sp["id"], "rh": _rh()}
            if roles:
                claims["roles"] = roles
            claims.update({"sub": client_sp["id"], "tid": tenant.id,
                           "uti": _random_b64(16), "ver": "2.0"})
        else:
            claims = {"aud": audience_v1, "iss": self.config.v1_issuer(tenant.id),
                      "iat": now, "nbf": now, "exp": now + lifetime, "aio": _aio()}
            if is_graph:
                claims["app_displayname"] = client_app.get("displayName",
                                                           client_sp["displayName"])
                header_extra["nonce"] = _random_b64(32)
            claims.update({"appid": client_sp["appId"], "appidacr": acr,
                           "idp": self.config.v1_issuer(tenant.id), "idtyp": "app",
                           "oid": client_sp["id"], "rh": _rh()})
            if roles:
                claims["roles"] = roles
            claims["sub"] = client_sp["id"]
            if is_graph:
                claims["tenant_region_scope"] = tenant.region
            claims.update({"tid": tenant.id, "uti": _random_b64(16), "ver": "1.0"})
            if is_graph:
                claims["wids"] = list(GRAPH_ADMIN_WIDS)
            claims["xms_idrel"] = "7 %d" % random.choice(range(2, 32, 2))
            if is_graph:
                claims["xms_tcdt"] = 1700000000
        claims.update(extra_claims or {})
        return self.sign(header_extra, claims, v1=(version != 2)), claims

    # ------------------------------------------------------------ token endpoint
    def token_request(self, tenant_segment, version, form, headers):
        """Handle POST /{tenant}/oauth2[/v2.0]/token.  Returns the JSON body."""
        tenant = self._tenant(tenant_segment)
        basic_id, basic_secret = parse_basic(headers.get("Authorization"))
        grant_type = form.get("grant_type")
        if not grant_type:
            raise errors.missing_parameter("grant_type")
        if grant_type != "client_credentials":
            raise errors.AadError(400, "unsupported_grant_type", 70003,
                                  "The app requested an unsupported grant type '%s'."
                                  % grant_type)
        client_id = form.get("client_id") or basic_id
        if not client_id:
            raise errors.missing_parameter("client_id")
        if basic_id and form.get("client_id") and basic_id != form.get("client_id"):
            raise errors.assertion_client_mismatch(
                "The client_id in the Authorization header differs from the body.")
        if version == 2:
            scope = form.get("scope")
            if not scope:
                raise errors.missing_parameter("scope")
            scopes = scope.split()
            if len(scopes) != 1 or not scopes[0].endswith("/.default"):
                raise errors.invalid_scope(scope)
            resource_name = scopes[0][:-len("/.default")]
            if not resource_name:
                raise errors.invalid_scope(scope)
        else:
            resource_name = form.get("resource")
            if not resource_name:
                raise errors.missing_parameter("resource")

        client_sp = tenant.sp_by_app_id(client_id)
        client_app = tenant.app_by_app_id(client_id)
        if client_app is not None and client_sp is None and not client_app.get("firstParty"):
            raise errors.AadError(400, "invalid_client", 7000229,
                                  "The client application %s is missing service principal "
                                  "in the tenant %s." % (client_id, tenant.id))
        if client_sp is None or (client_app or {}).get("firstParty"):
            raise errors.app_not_found(client_id, tenant.name)
        if client_sp["servicePrincipalType"] == "ManagedIdentity":
            raise errors.app_not_found(client_id, tenant.name)

        acr, extra = self._authenticate(tenant, client_sp, client_app, form,
                                        basic_secret, tenant_segment)
        if not client_sp["accountEnabled"]:
            raise errors.app_disabled(client_id, client_sp["displayName"])

        resolved = tenant.resolve_resource(resource_name)
        if resolved is None or resolved[1] is None:
            raise errors.resource_not_found(resource_name, tenant.name)
        resource_app, resource_sp, audience_v1 = resolved
        if not resource_sp["accountEnabled"]:
            raise errors.AadError(400, "invalid_resource", 500014,
                                  "The service principal for resource '%s' is disabled."
                                  % resource_name)
        if resource_sp.get("appRoleAssignmentRequired") and \
                not tenant.has_assignment(client_sp["id"], resource_sp):
            raise errors.AadError(400, "invalid_grant", 501051,
                                  "Application '%s'(%s) is not assigned to a role for the "
                                  "application '%s'(%s)." % (
                                      client_id, client_sp["displayName"],
                                      resource_app["appId"], resource_sp["displayName"]))

        fmi_path = form.get("fmi_path")
        if fmi_path:
            if not (client_app or {}).get("isAgentBlueprint"):
                raise errors.AadError(400, "invalid_request", 82001,
                                      "fmi_path is only supported for agent identity "
                                      "blueprint applications.")
            if not same_guid(resource_app["appId"], TOKEN_EXCHANGE_APP_ID):
                raise errors.invalid_scope(form.get("scope") or resource_name)
            extra = dict(extra)
            extra["sub"] = "%s%s/a/%s/%s" % (FMI_SUB_PREFIX, tenant.id, client_id, fmi_path)

        token, claims = self.issue(tenant, client_sp, resource_app, resource_sp,
                                   audience_v1, acr, extra)
        lifetime = claims["exp"] - claims["iat"]
        if version == 2:
            return {"token_type": "Bearer", "expires_in": lifetime,
                    "ext_expires_in": lifetime, "access_token": token}
        return {"token_type": "Bearer", "expires_in": str(lifetime),
                "ext_expires_in": str(lifetime), "expires_on": str(claims["exp"]),
                "not_before": str(claims["nbf"]), "resource": resource_name,
                "access_token": token}

    def _tenant(self, segment):
        if segment.lower() in ("common", "organizations", "consumers"):
            raise errors.AadError(400, "invalid_request", 50059,
                                  "No tenant-identifying information found in either the "
                                  "request or implied by any provided credentials.")
        tenant = self.directory.tenant_for_segment(segment)
        if tenant is None:
            raise errors.AadError(400, "invalid_tenant", 90002,
                                  "Tenant '%s' not found. Check to make sure you have the "
                                  "correct tenant ID and are signing into the correct "
                                  "cloud." % segment)
        return tenant

    # ------------------------------------------------------------ client authentication
    def _authenticate(self, tenant, sp, app, form, basic_secret, segment):
        """Return (acr, extra claims) or raise AadError."""
        assertion = form.get("client_assertion")
        assertion_type = form.get("client_assertion_type")
        secret = form.get("client_secret") or basic_secret
        if assertion or assertion_type:
            if not assertion:
                raise errors.missing_parameter("client_assertion")
            if assertion_type != JWT_BEARER:
                raise errors.AadError(400, "invalid_request", 900144,
                                      "The request body must contain the following "
                                      "parameter: 'client_assertion_type'.")
            if sp.get("agentIdentityOf"):
                return "2", self._verify_exchange_assertion(tenant, sp, assertion)
            self._verify_client_assertion(tenant, sp, app or {}, assertion, segment)
            return "2", {}
        if secret:
            self._verify_secret(sp, app or {}, secret)
            return "1", {}
        raise errors.no_credential()

    def _verify_secret(self, sp, app, secret):
        now = self.config.now()
        matched_expired = False
        for cred in app.get("passwordCredentials", []):
            if secrets.compare_digest(cred.get("secretText", "").encode(), secret.encode()):
                if is_current(cred, now):
                    return
                matched_expired = True
        if matched_expired:
            raise errors.expired_secret(sp["appId"])
        raise errors.invalid_secret(sp["appId"])

    def assertion_audiences(self, tenant, segment):
        bases = {self.config.base_url, "https://" + self.config.issuer_host_v2,
                 "https://login.microsoftonline.com"}
        segments = {tenant.id, segment} | set(tenant.domains)
        out = set()
        for base in bases:
            for seg in segments:
                for path in ("/oauth2/v2.0/token", "/oauth2/token"):
                    out.add(("%s/%s%s" % (base, seg, path)).lower())
        return out

    def _verify_client_assertion(self, tenant, sp, app, assertion, segment):
        try:
            jwt = jose.ParsedJwt(assertion)
        except jose.JwtError as exc:
            raise errors.assertion_malformed(str(exc))
        claims = jwt.claims
        if claims.get("iss") != sp["appId"] or claims.get("sub") != sp["appId"]:
            raise errors.assertion_client_mismatch(
                "The 'iss' and 'sub' claims must equal the client_id.")
        cred = self._find_key_credential(app, jwt.header)
        if cred is None:
            raise errors.assertion_signature(
                "The certificate with identifier used to sign the client assertion is "
                "not registered on application. [Reason - The key was not found., "
                "Thumbprint of key used by client: '%s']"
                % (jwt.header.get("x5t") or jwt.header.get("x5t#S256")))
        now = self.config.now()
        if not is_current(cred, now):
            raise errors.assertion_signature(
                "The certificate with identifier used to sign the client assertion is "
                "expired or not yet valid on application.")
        try:
            jwt.verify(key_credential_cert(cred).public_key())
        except jose.JwtError as exc:
            raise errors.assertion_signature(str(exc))
        self._check_assertion_claims(tenant, sp, claims, segment, now)

    def _find_key_credential(self, app, header):
        x5t = header.get("x5t")
        x5t256 = header.get("x5t#S256")
        if not x5t and not x5t256:
            return None
        for cred in app.get("keyCredentials", []):
            der = base64.b64decode(cred["key"])
            if x5t and x5t == jose.b64url(jose.sha1_thumbprint(der)):
                return cred
            if x5t256 and x5t256 == jose.b64url(jose.sha256_thumbprint(der)):
                return cred
        return None

    def _check_assertion_claims(self, tenant, sp, claims, segment, now):
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        allowed = self.assertion_audiences(tenant, segment)
        if not any(isinstance(a, str) and a.rstrip("/").lower() in allowed for a in auds):
            raise errors.assertion_signature(
                "The audience claim '%s' is not the token endpoint of this tenant." % aud)
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)):
            raise errors.assertion_malformed("The 'exp' claim is required.")
        if exp <= now:
            raise errors.assertion_time("The assertion expired at %d." % exp)
        if exp > now + MAX_ASSERTION_LIFETIME + CLOCK_SKEW:
            raise errors.assertion_time("The 'exp' claim is too far in the future.")
        nbf = claims.get("nbf")
        if nbf is not None and (not isinstance(nbf, (int, float)) or nbf > now + CLOCK_SKEW):
            raise errors.assertion_time("The assertion is not yet valid (nbf).")
        jti = claims.get("jti")
        if not jti or not isinstance(jti, str):
            raise errors.assertion_malformed("The 'jti' claim is required.")
        with self._replay_lock:
            for key, expiry in list(self._seen_jti.items()):
                if expiry < now - CLOCK_SKEW:
                    del self._seen_jti[key]
            key = (sp["appId"].lower(), jti)
            if key in self._seen_jti:
                raise errors.assertion_time(
                    "The assertion jti '%s' was already used (replay)." % jti)
            self._seen_jti[key] = exp

    def _verify_exchange_assertion(self, tenant, agent_sp, assertion):
        """Step 2 of the Agent ID exchange: the assertion is the token T1 that
        the agent's blueprint obtained for api://AzureADTokenExchange."""
        try:
            jwt = jose.ParsedJwt(assertion)
        except jose.JwtError as exc:
            raise errors.assertion_malformed(str(exc))
        key = self.keyring.by_kid(jwt.header.get("kid"))
        if key is None or jwt.alg != "RS256":
            raise errors.assertion_signature(
                "The assertion was not signed by a key of this tenant.")
        try:
            jwt.verify(key.public_key)
        except jose.JwtError as exc:
            raise errors.assertion_signature(str(exc))
        claims = jwt.claims
        now = self.config.now()
        if claims.get("aud") != TOKEN_EXCHANGE_URI:
            raise errors.exchange_refused("The audience must be %s." % TOKEN_EXCHANGE_URI)
        if claims.get("iss") not in (self.config.v2_issuer(tenant.id),
                                     self.config.v1_issuer(tenant.id)) or \
                not same_guid(claims.get("tid"), tenant.id):
            raise errors.exchange_refused("The assertion was issued for another tenant.")
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or exp <= now:
            raise errors.assertion_time("The assertion is expired.")
        sub = claims.get("sub") or ""
        parts = sub[len(FMI_SUB_PREFIX):].split("/", 3) if sub.startswith(FMI_SUB_PREFIX) \
            else []
        if len(parts) != 4 or parts[1] != "a" or not same_guid(parts[0], tenant.id):
            raise errors.exchange_refused("The assertion carries no fmi_path.")
        blueprint_app_id, fmi_path = parts[2], parts[3]
        if not same_guid(fmi_path, agent_sp["appId"]):
            raise errors.exchange_refused(
                "The fmi_path '%s' does not name agent identity '%s'."
                % (fmi_path, agent_sp["appId"]))
        if not same_guid(blueprint_app_id, agent_sp["agentIdentityOf"]):
            raise errors.exchange_refused(
                "Application '%s' is not the blueprint of agent identity '%s'."
                % (blueprint_app_id, agent_sp["appId"]))
        blueprint_sp = tenant.sp_by_app_id(blueprint_app_id)
        if blueprint_sp is None or not blueprint_sp["accountEnabled"]:
            raise errors.app_disabled(blueprint_app_id, "agent blueprint")
        return {"xms_act_fct": AGENT_ACT_FCT, "xms_par_app_azp": blueprint_app_id,
                "xms_sub_fct": AGENT_SUB_FCT, "xms_tnt_fct": AGENT_TNT_FCT}

    # ------------------------------------------------------------ token checks for Graph
    def verify_tenant_token(self, token, audiences):
        """Validate a bearer token issued by this server.  Returns
        (tenant, claims) or raises ValueError with a reason."""
        try:
            jwt = jose.ParsedJwt(token)
        except jose.JwtError as exc:
            raise ValueError("malformed token: %s" % exc)
        key = self.keyring.by_kid(jwt.header.get("kid"))
        if key is None or jwt.alg != "RS256":
            raise ValueError("signing key not found")
        try:
            jwt.verify(key.public_key)
        except jose.JwtError as exc:
            raise ValueError(str(exc))
        claims = jwt.claims
        tenant = self.directory.tenant_by_id(claims.get("tid"))
        if tenant is None:
            raise ValueError("unknown tenant")
        if claims.get("iss") not in (self.config.v1_issuer(tenant.id),
                                     self.config.v2_issuer(tenant.id)):
            raise ValueError("invalid issuer")
        if claims.get("aud") not in audiences:
            raise ValueError("invalid audience")
        now = self.config.now()
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now - CLOCK_SKEW:
            raise ValueError("Lifetime validation failed, the token is expired.")
        if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now + CLOCK_SKEW:
            raise ValueError("the token is not yet valid")
        return tenant, claims

    # ------------------------------------------------------------ managed identity
    def managed_identity_token(self, tenant, mi, resource):
        sp = tenant.sp_by_id(mi["object_id"])
        if sp is None or not sp["accountEnabled"]:
            raise errors.ImdsError(400, "invalid_request", "Identity not found")
        name = resource[:-len("/.default")] if resource.endswith("/.default") else resource
        resolved = tenant.resolve_resource(name)
        if resolved is None or resolved[1] is None:
            raise errors.ImdsError(400, "invalid_resource",
                                   "AADSTS500011: The resource principal named %s was not "
                                   "found in the tenant named %s." % (resource, tenant.name))
        resource_app, resource_sp, audience = resolved
        token, claims = self.issue(tenant, sp, resource_app, resource_sp, audience, "2",
                                   {"xms_mirid": mi["msi_res_id"]})
        lifetime = claims["exp"] - claims["iat"]
        return {"access_token": token, "client_id": mi["client_id"],
                "expires_in": str(lifetime), "expires_on": str(claims["exp"]),
                "ext_expires_in": str(lifetime), "not_before": str(claims["nbf"]),
                "resource": resource, "token_type": "Bearer"}


