"""HTTP(S) front end: routing, discovery documents, JWKS, managed identity
endpoints, the test control API, fault injection and the request log."""

import json
import os
import re
import secrets
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import jose
from .errors import AadError, ControlError, GraphError, ImdsError
from .faults import FaultQueue, RequestLog
from .graph import GraphApi
from .model import normalize_key_credential, normalize_password_credential, \
    resolve_assignment_refs, same_guid
from .tokens import TokenService

MAX_BODY = 1 << 20
BATCH_MAX = 20  # Graph's limit of requests in one JSON batch
SEED_AGENTS_MAX = 200000
BATCH_PATHS = ("/v1.0/$batch", "/v1.0/%24batch")
HANDSHAKE_TIMEOUT = 10
ARC_KEY_VALIDITY = 600
META_TENANTS = ("common", "organizations", "consumers")
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


class Request:
    def __init__(self, method, path, query, headers, body, client_ip):
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.client_ip = client_ip
        self._form = None

    @property
    def form(self):
        if self._form is None:
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            self._form = {}
            if ctype == "application/x-www-form-urlencoded" and self.body:
                try:
                    pairs = urllib.parse.parse_qsl(self.body.decode("utf-8"),
                                                   keep_blank_values=True)
                except UnicodeDecodeError:
                    pairs = []
                for key, value in pairs:
                    self._form.setdefault(key, value)
        return self._form

    def json(self):
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            raise ControlError(400, "body is not JSON")
        if not isinstance(data, dict):
            raise ControlError(400, "body must be a JSON object")
        return data


class _Headers(dict):
    """Case-insensitive get() over a plain dict, like the request headers of
    http.server, for the requests of a batch."""

    def get(self, key, default=None):
        for k, v in self.items():
            if k.lower() == key.lower():
                return v
        return default


class Response:
    def __init__(self, status, body=b"", headers=None,
                 content_type="application/json; charset=utf-8"):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        if content_type and body:
            self.headers.setdefault("Content-Type", content_type)

    @classmethod
    def json(cls, status, obj, headers=None):
        return cls(status, json.dumps(obj).encode("utf-8"), headers)


class TenantApp:
    """Everything but the sockets: turns a Request into a Response."""

    def __init__(self, directory, keyring, config, state_dir, verbose=False):
        self.directory = directory
        self.keyring = keyring
        self.config = config
        self.state_dir = state_dir
        self.verbose = verbose
        self.tokens = TokenService(directory, keyring, config)
        self.graph = GraphApi(directory, self.tokens, config)
        self.faults = FaultQueue()
        self.log = RequestLog()
        self.lock = threading.RLock()
        self.arc_keys = {}  # key file content -> expiry
        self.arc_dir = os.path.join(state_dir, "arc-tokens")

    # ------------------------------------------------------------ dispatch
    def handle(self, req):
        path = req.path
        try:
            if path.startswith("/_control/") or path == "/_control":
                return self.control(req)
            if path.startswith("/v1.0/"):
                return self.graph_request(req)
            if path == "/metadata/identity/oauth2/token":
                return self.imds(req, arc=False)
            if path == "/arc/metadata/identity/oauth2/token":
                return self.imds(req, arc=True)
            if path in ("/discovery/keys", "/discovery/v2.0/keys"):
                return self.jwks(None, v2=path.endswith("v2.0/keys"))
            parts = path.strip("/").split("/")
            if len(parts) >= 2:
                segment, rest = parts[0], "/".join(parts[1:])
                if rest == "v2.0/.well-known/openid-configuration":
                    return self.discovery(segment, v2=True)
                if rest == ".well-known/openid-configuration":
                    return self.discovery(segment, v2=False)
                if rest in ("discovery/v2.0/keys", "discovery/keys"):
                    return self.jwks(segment, v2=rest.startswith("discovery/v2.0"))
                if rest in ("oauth2/v2.0/token", "oauth2/token"):
                    return self.token(req, segment, 2 if "v2.0" in rest else 1)
            return Response.json(404, {"error": "not_found",
                                       "error_description": "No such endpoint: %s" % path})
        except ImdsError as exc:
            return Response.json(exc.status, exc.body(), exc.headers)
        except ControlError as exc:
            return Response.json(exc.status, {"error": exc.message})

    # ------------------------------------------------------------ discovery / keys
    def _tenant_or_error(self, segment):
        tenant = self.directory.tenant_for_segment(segment)
        if tenant is None:
            exc = AadError(400, "invalid_tenant", 90002,
                           "Tenant '%s' not found. Check to make sure you have the correct "
                           "tenant ID and are signing into the correct cloud." % segment)
            return None, Response.json(400, exc.body())
        return tenant, None

    def discovery(self, segment, v2):
        meta = segment.lower() in META_TENANTS
        if meta:
            tid, region = "{tenantid}", None
        else:
            tenant, err = self._tenant_or_error(segment)
            if err:
                return err
            tid, region = tenant.id, tenant.region
        base = "%s/%s" % (self.config.base_url, segment)
        cloud = self.config.cloud_instance_name
        common = {"tenant_region_scope": region, "cloud_instance_name": cloud,
                  "cloud_graph_host_name": "graph.windows.net",
                  "msgraph_host": "graph.microsoft.com", "rbac_url": "https://pas.windows.net"}
        if v2:
            doc = {
                "token_endpoint": base + "/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported":
                    ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                "jwks_uri": base + "/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token",
                                             "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": self.config.v2_issuer(tid),
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": base + "/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "cloud_instance_name",
                                     "cloud_instance_host_name", "cloud_graph_host_name",
                                     "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
                                     "nonce", "preferred_username", "name", "tid", "ver",
                                     "at_hash", "c_hash", "email"],
                "kerberos_endpoint": base + "/kerberos",
            }
        else:
            doc = {
                "token_endpoint": base + "/oauth2/token",
                "token_endpoint_auth_methods_supported":
                    ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                "jwks_uri": base + "/discovery/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": base + "/oauth2/logout",
                "response_types_supported": ["code", "id_token", "code id_token",
                                             "token id_token", "token"],
                "scopes_supported": ["openid"],
                "issuer": self.config.v1_issuer(tid),
                "claims_supported": ["sub", "iss", "cloud_instance_name",
                                     "cloud_instance_host_name", "cloud_graph_host_name",
                                     "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
                                     "amr", "nonce", "email", "given_name", "family_name",
                                     "nickname"],
                "microsoft_multi_refresh_token": True,
                "check_session_iframe": base + "/oauth2/checksession",
                "userinfo_endpoint": base + "/openid/userinfo",
                "kerberos_endpoint": base + "/kerberos",
            }
        doc.update(common)
        return Response.json(200, doc, {"Cache-Control": "max-age=86400, private",
                                        "Access-Control-Allow-Origin": "*"})

    def jwks(self, segment, v2):
        issuer = None
        if v2:
            if segment is None or segment.lower() in META_TENANTS:
                issuer = self.config.v2_issuer("{tenantid}")
            else:
                tenant, err = self._tenant_or_error(segment)
                if err:
                    return err
                issuer = self.config.v2_issuer(tenant.id)
        elif segment is not None and segment.lower() not in META_TENANTS:
            tenant, err = self._tenant_or_error(segment)
            if err:
                return err
        keys = [k.jwk(issuer=issuer, cloud_instance_name=self.config.cloud_instance_name,
                      v1=not v2) for k in self.keyring.published()]
        return Response.json(200, {"keys": keys}, {"Cache-Control": "max-age=86400, private",
                                                   "Access-Control-Allow-Origin": "*"})

    # ------------------------------------------------------------ token endpoint
    def token(self, req, segment, version):
        correlation = req.headers.get("client-request-id")
        headers = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache",
                   "x-ms-request-id": str(uuid.uuid4())}
        if correlation:
            headers["client-request-id"] = correlation
        if req.method != "POST":
            exc = AadError(405, "invalid_request", 900561,
                           "The endpoint only accepts POST requests. Received a %s request."
                           % req.method)
            return Response.json(405, exc.body(correlation), headers)
        try:
            with self.lock:
                body = self.tokens.token_request(segment, version, req.form, req.headers)
            return Response.json(200, body, headers)
        except AadError as exc:
            headers.update(exc.headers)
            return Response.json(exc.status, exc.body(correlation), headers)

    # ------------------------------------------------------------ Graph
    def graph_request(self, req, in_batch=False):
        if req.path in BATCH_PATHS and not in_batch:
            return self.graph_batch(req)
        client_request_id = req.headers.get("client-request-id")
        headers = {"request-id": str(uuid.uuid4()), "Cache-Control": "no-cache"}
        if client_request_id:
            headers["client-request-id"] = client_request_id
        try:
            with self.lock:
                if req.path in BATCH_PATHS:
                    raise GraphError(400, "BadRequest", "A batch cannot contain a batch.")
                try:
                    status, obj = self.graph.handle(req.method, req.path, req.query,
                                                    req.headers, req.body, in_batch)
                finally:
                    headers.update(self.graph.response_headers)
        except GraphError as exc:
            headers.update(exc.headers)
            if exc.status == 401:
                headers["WWW-Authenticate"] = 'Bearer realm="", ' \
                    'authorization_uri="https://login.microsoftonline.com/common/oauth2/' \
                    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
            return Response.json(exc.status, exc.body(client_request_id), headers)
        if obj is None:
            return Response(status, b"", headers)
        headers["OData-Version"] = "4.0"
        return Response(status, json.dumps(obj).encode("utf-8"), headers,
                        "application/json;odata.metadata=minimal;odata.streaming=true;"
                        "IEEE754Compatible=false;charset=utf-8")

    def graph_batch(self, req):
        """POST /v1.0/$batch: up to 20 requests, each run through graph_request
        (so through every Graph route, the throttle and the counters) and
        answered with its own status, headers and body."""
        def bad(message):
            exc = GraphError(400, "BadRequest", message)
            return Response.json(400, exc.body(req.headers.get("client-request-id")))

        if req.method != "POST":
            exc = GraphError(405, "Request_BadRequest", "The $batch endpoint only accepts POST.")
            return Response.json(405, exc.body(req.headers.get("client-request-id")))
        try:
            with self.lock:
                tenant, app_id = self.graph.caller(req.headers)
        except GraphError as exc:
            return Response.json(exc.status, exc.body(req.headers.get("client-request-id")))
        try:
            data = json.loads(req.body or b"")
        except ValueError:
            return bad("Invalid batch payload format: the body is not JSON.")
        requests = data.get("requests") if isinstance(data, dict) else None
        if not isinstance(requests, list) or not requests:
            return bad("Invalid batch payload format: requests must be a non-empty list.")
        if len(requests) > BATCH_MAX:
            return bad("The number of requests in the batch (%d) exceeds the limit of %d."
                       % (len(requests), BATCH_MAX))
        ids = []
        for sub in requests:
            if not isinstance(sub, dict) or not isinstance(sub.get("id"), str) or \
                    not sub["id"] or not isinstance(sub.get("method"), str) or \
                    not isinstance(sub.get("url"), str):
                return bad("Invalid batch payload format: each request needs the strings id, "
                           "method and url.")
            if not isinstance(sub.get("headers") or {}, dict) or \
                    not isinstance(sub.get("dependsOn") or [], list):
                return bad("Invalid batch payload format: headers must be an object and "
                           "dependsOn a list of ids.")
            if sub["id"].lower() in ids:
                return bad("Request id '%s' is used twice in the batch." % sub["id"])
            for dep in sub.get("dependsOn") or []:
                if not isinstance(dep, str) or dep.lower() not in ids:
                    return bad("dependsOn of request '%s' names no earlier request."
                               % sub["id"])
            ids.append(sub["id"].lower())
        with self.lock:
            self.graph.meter.count_batch(tenant.id, app_id)
        statuses, responses = {}, []
        for sub in requests:
            resp = self._batch_one(req, sub, statuses)
            statuses[sub["id"].lower()] = resp.status
            out = {"id": sub["id"], "status": resp.status,
                   "headers": {k: v for k, v in resp.headers.items()}}
            if resp.body:
                try:
                    out["body"] = json.loads(resp.body)
                except ValueError:
                    out["body"] = jose.b64url(resp.body)
            responses.append(out)
        return Response.json(200, {"responses": responses},
                             {"request-id": str(uuid.uuid4()), "Cache-Control": "no-cache",
                              "OData-Version": "4.0"})

    def _batch_one(self, envelope, sub, statuses):
        method = sub["method"].upper()
        headers = {str(k): str(v) for k, v in (sub.get("headers") or {}).items()}
        lower = {k.lower(): v for k, v in headers.items()}
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        headers["Authorization"] = envelope.headers.get("Authorization") or ""
        split = urllib.parse.urlsplit(sub["url"])
        path = "/v1.0/" + split.path.lstrip("/")
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        entry = {"method": method, "path": path, "query": query, "client_id": None,
                 "grant_type": None, "scope": None,
                 "user_agent": envelope.headers.get("User-Agent"),
                 "client_request_id": lower.get("client-request-id"), "fault": None,
                 "batch": sub["id"]}
        body = b""
        if "body" in sub and sub["body"] is not None:
            body = json.dumps(sub["body"]).encode("utf-8")
        if any(statuses.get(d.lower(), 200) >= 400 for d in sub.get("dependsOn") or []):
            resp = Response.json(424, GraphError(424, "FailedDependency",
                                                 "A request this one depends on failed.")
                                 .body(lower.get("client-request-id")))
        elif body and "content-type" not in lower:
            resp = Response.json(400, GraphError(
                400, "BadRequest", "A request with a body needs a Content-Type header.")
                .body(lower.get("client-request-id")))
        else:
            fault = self.faults.take(method, path, kinds=("status", "429", "latency"))
            entry["fault"] = fault.kind if fault else None
            if fault and fault.kind == "latency":
                time.sleep(fault.latency_ms / 1000.0)
            if fault and fault.kind in ("status", "429"):
                resp = Handler.fault_response(fault)
            else:
                resp = self.graph_request(Request(method, path, query, _Headers(headers), body,
                                                  envelope.client_ip), in_batch=True)
        entry["status"] = resp.status
        self.log.add(entry)
        return resp

    # ------------------------------------------------------------ managed identity
    def imds(self, req, arc):
        if req.method != "GET":
            raise ImdsError(405, "invalid_request", "Only GET is supported.")
        if (req.headers.get("Metadata") or "").lower() != "true":
            raise ImdsError(400, "bad_request_102", "Required metadata header not specified")
        if not req.query.get("api-version"):
            raise ImdsError(400, "invalid_request",
                            "Required query variable 'api-version' is missing")
        resource = req.query.get("resource")
        if not resource:
            raise ImdsError(400, "invalid_request",
                            "Required query variable 'resource' is missing")
        with self.lock:
            tenant = next((t for t in self.directory.tenants.values()
                           if t.managed_identities), self.directory.default_tenant)
            selectors = {k: req.query.get(k) for k in ("client_id", "object_id",
                                                       "msi_res_id", "mi_res_id")
                         if req.query.get(k)}
            if arc:
                self._arc_authenticate(req)
                if selectors:
                    raise ImdsError(400, "invalid_request",
                                    "User assigned identities are not supported by Azure Arc.")
            if len(selectors) > 1:
                raise ImdsError(400, "invalid_request",
                                "Only one of client_id, object_id or msi_res_id may be given.")
            if selectors:
                mi = tenant.find_managed_identity(
                    client_id=selectors.get("client_id"),
                    object_id=selectors.get("object_id"),
                    msi_res_id=selectors.get("msi_res_id") or selectors.get("mi_res_id"))
            else:
                system = [m for m in tenant.managed_identities if m["type"] == "SystemAssigned"]
                user = [m for m in tenant.managed_identities if m["type"] == "UserAssigned"]
                if system:
                    mi = system[0]
                elif len(user) > 1 and not arc:
                    raise ImdsError(400, "invalid_request",
                                    "Multiple user assigned identities exist, please specify "
                                    "the clientId / resourceId of the identity in the token "
                                    "request")
                else:
                    mi = user[0] if user and not arc else None
            if mi is None:
                raise ImdsError(400, "invalid_request", "Identity not found")
            self._imds_upstream(tenant)
            body = self.tokens.managed_identity_token(tenant, mi, resource)
        return Response.json(200, body, {"Cache-Control": "no-store"})

    def _imds_upstream(self, tenant):
        """IMDS asks Entra's token endpoint for the identity's token: a fault
        injected there (status, 429) reaches the IMDS caller as IMDS passes
        it on: Entra's status (429 or 5xx, "a transient error of the managed
        identities subsystem or Entra: retry after at least 1 s") and Entra's
        own error, with Retry-After when Entra gave one."""
        fault = self.faults.take("POST", "/%s/oauth2/v2.0/token" % tenant.id,
                                 kinds=("status", "429"))
        if fault is None:
            return
        resp = Handler.fault_response(fault)
        try:
            entra = json.loads(resp.body.decode("utf-8"))
        except ValueError:
            entra = {}
        headers = {"Retry-After": resp.headers["Retry-After"]} \
            if "Retry-After" in resp.headers else {}
        raise ImdsError(fault.status, entra.get("error") or "unknown_error",
                        entra.get("error_description") or "Entra answered HTTP %d"
                        % fault.status, headers)

    def _arc_authenticate(self, req):
        now = time.time()
        self.arc_keys = {k: v for k, v in self.arc_keys.items() if v > now}
        auth = req.headers.get("Authorization")
        if not auth:
            os.makedirs(self.arc_dir, mode=0o700, exist_ok=True)
            path = os.path.join(self.arc_dir, "%s.key" % uuid.uuid4())
            secret = secrets.token_hex(32)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secret)
            self.arc_keys[secret] = now + ARC_KEY_VALIDITY
            raise ImdsError(401, "unauthorized_client",
                            "Authorization required: read the key file named in the "
                            "WWW-Authenticate realm and retry with Authorization: Basic "
                            "<content>", {"WWW-Authenticate": "Basic realm=%s" % path})
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "basic" or value.strip() not in self.arc_keys:
            raise ImdsError(401, "unauthorized_client", "Invalid key in Authorization header")

    # ------------------------------------------------------------ control API
    def control(self, req):
        if req.client_ip not in LOOPBACK:
            raise ControlError(403, "the control API is loopback only")
        op = req.path[len("/_control"):].strip("/")
        method = req.method
        with self.lock:
            if method == "GET" and op == "state":
                return Response.json(200, self.state_dump())
            if op == "requests":
                if method == "GET":
                    return Response.json(200, {"requests": self.log.list(
                        req.query.get("path"))})
                if method == "DELETE":
                    self.log.clear()
                    return Response.json(200, {"cleared": True})
            if op == "requests/clear" and method == "POST":
                self.log.clear()
                return Response.json(200, {"cleared": True})
            if op == "faults":
                if method == "GET":
                    return Response.json(200, {"faults": self.faults.list()})
                if method == "DELETE":
                    self.faults.clear()
                    return Response.json(200, {"faults": []})
                if method == "POST":
                    try:
                        data = json.loads(req.body or b"{}")
                    except ValueError:
                        raise ControlError(400, "body is not JSON")
                    specs = data if isinstance(data, list) else [data]
                    try:
                        added = [self.faults.add(s) for s in specs]
                    except (ValueError, TypeError, re.error) as exc:
                        raise ControlError(400, str(exc))
                    return Response.json(200, {"added": added})
            if op == "graph-stats" and method in ("GET", "DELETE"):
                if method == "DELETE":
                    self.graph.meter.reset()
                return Response.json(200, self.graph.meter.stats())
            if op == "graph-throttle" and method == "GET":
                return Response.json(200, self.graph.meter.describe())
            if op == "graph-settings" and method == "GET":
                return Response.json(200, self.graph.settings.describe())
            if method == "DELETE" and op.startswith("assignments/"):
                return self._control_remove_assignment({"id": op.split("/", 1)[1]})
            if method != "POST":
                raise ControlError(404, "unknown control operation %s %s" % (method, op))
            data = req.json()
            handler = {
                "seed": self._control_seed,
                "assignments": self._control_add_assignment,
                "assignments/remove": self._control_remove_assignment,
                "disable-sp": lambda d: self._control_sp_enabled(d, False),
                "enable-sp": lambda d: self._control_sp_enabled(d, True),
                "token-lifetime": self._control_lifetime,
                "clock": self._control_clock,
                "settings": self._control_settings,
                "rotate-keys": self._control_rotate,
                "drop-old-keys": self._control_drop,
                "key-credentials": self._control_key_credential,
                "password-credentials": self._control_password_credential,
                "sign": self._control_sign,
                "seed-agents": self._control_seed_agents,
                "delete-sp": self._control_delete_sp,
                "delta-tokens/expire": lambda d: Response.json(
                    200, self.graph.delta.expire_all(d.get("code") or "syncStateNotFound")),
                "graph-throttle": lambda d: Response.json(200, self.graph.meter.configure(d)),
                "graph-settings": lambda d: Response.json(200, self.graph.settings.update(d)),
                "graph-stats/reset": lambda d: (self.graph.meter.reset(), Response.json(
                    200, self.graph.meter.stats()))[1],
            }.get(op)
            if handler is None:
                raise ControlError(404, "unknown control operation POST %s" % op)
            try:
                return handler(data)
            except (ValueError, TypeError, KeyError) as exc:
                raise ControlError(400, "%s: %s" % (type(exc).__name__, exc))

    def _tenant_of(self, data):
        if data.get("tenantId"):
            tenant = self.directory.tenant_by_id(data["tenantId"])
            if tenant is None:
                raise ControlError(404, "no tenant %s" % data["tenantId"])
            return tenant
        return self.directory.default_tenant

    def _sp_of(self, tenant, data, prefix=""):
        sp = None
        if data.get(prefix + "id") or data.get(prefix + "Id"):
            sp = tenant.sp_by_id(data.get(prefix + "id") or data.get(prefix + "Id"))
        elif data.get(prefix + "appId") or data.get(prefix + "AppId"):
            sp = tenant.sp_by_app_id(data.get(prefix + "appId") or data.get(prefix + "AppId"))
        if sp is None:
            raise ControlError(404, "service principal not found")
        return sp

    def _app_of(self, tenant, data):
        app = None
        if data.get("appId"):
            app = tenant.app_by_app_id(data["appId"])
        elif data.get("id"):
            app = tenant.app_by_id(data["id"])
        if app is None or app.get("firstParty"):
            raise ControlError(404, "application not found")
        return app

    def _control_seed(self, data):
        self.directory.load_seed(data, self.config.now())
        return Response.json(200, self.state_dump())

    def _control_add_assignment(self, data):
        tenant = self._tenant_of(data)
        raw = resolve_assignment_refs(tenant, {k: v for k, v in data.items()
                                               if k != "tenantId"})
        assignment = tenant.add_assignment(raw, self.config.now())
        return Response.json(201, tenant.graph_assignment(assignment))

    def _control_remove_assignment(self, data):
        tenant = self._tenant_of(data)
        if data.get("id"):
            if data["id"] not in tenant.assignments:
                raise ControlError(404, "assignment not found")
            removed = [tenant.assignments.pop(data["id"])]
        else:
            raw = resolve_assignment_refs(tenant, {k: v for k, v in data.items()
                                                   if k != "tenantId"})
            removed = [a for a in tenant.assignments.values()
                       if same_guid(a["principalId"], raw.get("principalId"))
                       and same_guid(a["resourceId"], raw.get("resourceId"))
                       and (not raw.get("appRoleId")
                            or same_guid(a["appRoleId"], raw["appRoleId"]))]
            for a in removed:
                del tenant.assignments[a["id"]]
        return Response.json(200, {"removed": [a["id"] for a in removed]})

    def _control_sp_enabled(self, data, enabled):
        tenant = self._tenant_of(data)
        sp = self._sp_of(tenant, data)
        sp["accountEnabled"] = enabled
        tenant.touch_sp(sp["id"], props=("accountEnabled",))
        return Response.json(200, tenant.graph_service_principal(sp))

    def _control_seed_agents(self, data):
        """Create many agent identities with app role assignments at once."""
        started = time.monotonic()
        tenant = self._tenant_of(data)
        count = data.get("count")
        if not isinstance(count, int) or not 1 <= count <= SEED_AGENTS_MAX:
            raise ControlError(400, "count must be an integer 1..%d" % SEED_AGENTS_MAX)
        if data.get("resourceId") or data.get("resourceAppId"):
            resource = self._sp_of(tenant, data, "resource")
        else:
            found = tenant.resolve_resource(data.get("resource") or "api://openclaw-host")
            resource = found[1] if found else None
            if resource is None:
                raise ControlError(404, "resource not found: name it by resource (identifier "
                                        "URI or appId), resourceId or resourceAppId")
        app = tenant.app_for_sp(resource) or {}
        role_ids = []
        for value in data.get("appRoles", ["Host.Login"]):
            role = next((r for r in app.get("appRoles", []) if r["value"] == value), None)
            if role is None:
                raise ControlError(400, "no app role %s on the resource" % value)
            role_ids.append(role["id"])
        blueprint = data.get("blueprintAppId")
        if blueprint is None:
            blueprint = next((a["appId"] for a in tenant.applications.values()
                              if a.get("isAgentBlueprint")), None)
        disabled_every = int(data.get("disabledEvery") or 0)
        disabled = set(range(0, count, disabled_every)) if disabled_every > 0 else ()
        ids = tenant.seed_agents(count, self.config.now(), resource, role_ids, blueprint or None,
                                 str(data.get("displayNamePrefix") or "fleet-agent-"),
                                 data.get("seed"), disabled)
        out = {"count": len(ids), "resourceId": resource["id"], "appRoleIds": role_ids,
               "blueprintAppId": blueprint, "servicePrincipals": len(tenant.service_principals),
               "assignments": len(tenant.assignments), "first": ids[0], "last": ids[-1],
               "seconds": round(time.monotonic() - started, 3)}
        if data.get("returnIds") or count <= 1000:
            out["ids"] = ids
        return Response.json(201, out)

    def _control_delete_sp(self, data):
        tenant = self._tenant_of(data)
        permanent = bool(data.get("permanent"))
        if permanent and data.get("id") and tenant.sp_by_id(data["id"]) is None:
            purged = tenant.purge_deleted_sp(data["id"])
            if purged is None:
                raise ControlError(404, "service principal not found")
            return Response.json(200, {"deleted": purged, "reason": "deleted"})
        sp = self._sp_of(tenant, data)
        tenant.delete_sp(sp, permanent)
        return Response.json(200, {"deleted": sp["id"],
                                   "reason": "deleted" if permanent else "changed"})

    def _control_lifetime(self, data):
        seconds = data.get("seconds")
        self.config.token_lifetime = None if seconds is None else int(seconds)
        return Response.json(200, {"token_lifetime": self.config.token_lifetime})

    def _control_clock(self, data):
        self.config.clock_offset = float(data.get("offset", data.get("clock_offset", 0)))
        return Response.json(200, {"clock_offset": self.config.clock_offset,
                                   "now": self.config.now()})

    def _control_settings(self, data):
        if "token_lifetime" in data:
            value = data["token_lifetime"]
            self.config.token_lifetime = None if value is None else int(value)
        if "clock_offset" in data:
            self.config.clock_offset = float(data["clock_offset"])
        return Response.json(200, {"token_lifetime": self.config.token_lifetime,
                                   "clock_offset": self.config.clock_offset})

    def _control_rotate(self, data):
        new = self.keyring.rotate(data.get("grace_seconds"))
        return Response.json(200, {"current": new.kid,
                                   "published": [k.kid for k in self.keyring.published()]})

    def _control_drop(self, data):
        dropped = self.keyring.drop_old()
        return Response.json(200, {"dropped": dropped, "current": self.keyring.current.kid})

    def _control_key_credential(self, data):
        tenant = self._tenant_of(data)
        app = self._app_of(tenant, data)
        raw = {k: data.get(k) for k in ("keyId", "displayName", "startDateTime",
                                        "endDateTime", "customKeyIdentifier")}
        raw["key"] = data.get("certificate") or data.get("key")
        cred = normalize_key_credential(raw)
        app["keyCredentials"].append(cred)
        return Response.json(201, cred)

    def _control_password_credential(self, data):
        tenant = self._tenant_of(data)
        app = self._app_of(tenant, data)
        cred = normalize_password_credential(
            {k: data.get(k) for k in ("secretText", "keyId", "displayName",
                                      "startDateTime", "endDateTime")}, self.config.now())
        app["passwordCredentials"].append(cred)
        return Response.json(201, cred)

    def _control_sign(self, data):
        """Sign arbitrary claims with the tenant's current key (for negative
        tests of token validators)."""
        claims = data.get("claims")
        if not isinstance(claims, dict):
            raise ControlError(400, "claims object required")
        token = self.tokens.sign(data.get("header") or {}, claims,
                                 v1=bool(data.get("x5t", True)))
        return Response.json(200, {"token": token, "kid": self.keyring.current.kid})

    def state_dump(self):
        now = self.config.now()
        return {
            "base_url": self.config.base_url,
            "issuer_host_v1": self.config.issuer_host_v1,
            "issuer_host_v2": self.config.issuer_host_v2,
            "token_lifetime": self.config.token_lifetime,
            "clock_offset": self.config.clock_offset,
            "now": now,
            "signing_keys": [{"kid": k.kid, "current": i == 0,
                              "retire_at": k.retire_at}
                             for i, k in enumerate(self.keyring.published())],
            "tenants": [t.dump() for t in self.directory.tenants.values()],
            "faults": self.faults.list(),
            "arc_key_dir": self.arc_dir,
        }


# ---------------------------------------------------------------- sockets

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "openclaw-test-tenant"
    sys_version = ""
    timeout = 30

    def do_GET(self):
        self._dispatch()

    do_POST = do_PATCH = do_DELETE = do_PUT = do_HEAD = do_GET

    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _dispatch(self):
        app = self.server.app
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        try:
            body = self._read_body()
        except ValueError:
            self._send(Response.json(413, {"error": "request body too large or malformed"}))
            self.close_connection = True
            return
        req = Request(self.command, path, query, self.headers, body, self.client_address[0])
        fault = None if path.startswith("/_control") else app.faults.take(self.command, path)
        entry = {"method": self.command, "path": path, "query": query,
                 "client_id": req.form.get("client_id") or query.get("client_id"),
                 "grant_type": req.form.get("grant_type"),
                 "scope": req.form.get("scope") or req.form.get("resource")
                 or query.get("resource"),
                 "user_agent": self.headers.get("User-Agent"),
                 "client_request_id": self.headers.get("client-request-id"),
                 "fault": fault.kind if fault else None}
        if fault and fault.kind == "reset":
            entry["status"] = None
            if not path.startswith("/_control"):
                app.log.add(entry)
            self._reset()
            return
        if fault and fault.kind in ("status", "429"):
            resp = self.fault_response(fault)
        else:
            if fault and fault.kind == "latency":
                time.sleep(fault.latency_ms / 1000.0)
            try:
                resp = app.handle(req)
            except Exception:  # keep serving; report the bug to the client and log
                traceback.print_exc()
                resp = Response.json(500, {"error": "server_error",
                                           "error_description": "internal test tenant error"})
            if fault and fault.kind == "malformed":
                resp = self._malform(resp, fault)
        entry["status"] = resp.status
        if not path.startswith("/_control"):
            app.log.add(entry)
        self._send(resp)

    @staticmethod
    def fault_response(fault):
        headers = {}
        if fault.kind == "429":
            headers["Retry-After"] = fault.retry_after
        if fault.body is not None:
            body = fault.body if isinstance(fault.body, str) else json.dumps(fault.body)
            return Response(fault.status, body.encode("utf-8"), headers)
        return Response.json(fault.status, {
            "error": "temporarily_unavailable" if fault.status != 429 else "too_many_requests",
            "error_description": "Injected fault: HTTP %d." % fault.status}, headers)

    @staticmethod
    def _malform(resp, fault):
        if fault.body is not None:
            body = fault.body if isinstance(fault.body, str) else json.dumps(fault.body)
            return Response(200, body.encode("utf-8"), {}, "application/json; charset=utf-8")
        body = resp.body or b'{"token_type":"Bearer","access_token":"'
        truncated = body[:max(1, len(body) // 2)]
        return Response(resp.status, truncated, resp.headers)

    def _reset(self):
        """Close the connection with a TCP reset and no response."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.rfile.close()  # drop the reference so close() really closes
            self.connection.close()
        except OSError:
            pass

    def _send(self, resp):
        try:
            self.send_response(resp.status)
            for key, value in resp.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if self.command != "HEAD" and resp.body:
                self.wfile.write(resp.body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True


class TenantHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, app, ssl_context, port):
        self.app = app
        self.ssl_context = ssl_context
        super().__init__(("127.0.0.1", port), Handler)

    def finish_request(self, request, client_address):
        request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if self.app.verbose:
            super().handle_error(request, client_address)

