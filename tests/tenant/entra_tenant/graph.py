"""A subset of Microsoft Graph v1.0: applications, service principals and
app role assignments."""

import base64
import json
import re

from . import jose
from .errors import GraphError
from .graph_scale import DeltaQueries, GraphSettings, apply_select, get_by_ids, page_of, \
    parse_select, render_assignment, render_sp
from .model import (GRAPH_APP_ID, is_current, key_credential_cert, normalize_app_role,
                    normalize_key_credential, normalize_password_credential, same_guid)
from .throttle import Meter

CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#"
GRAPH_AUDIENCES = ("https://graph.microsoft.com", "https://graph.microsoft.com/",
                   "https://graph.microsoft.us", "https://dod-graph.microsoft.us",
                   "https://microsoftgraph.chinacloudapi.cn", GRAPH_APP_ID)
PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000"
PROOF_MAX_LIFETIME = 600
SKEW = 300

READ = {"Application.Read.All", "Application.ReadWrite.All",
        "Application.ReadWrite.OwnedBy", "Directory.Read.All",
        "AppRoleAssignment.ReadWrite.All"}
# servicePrincipal: delta and directoryObject: getByIds, as Graph documents
# their application permissions.
DELTA_READ = {"Application.Read.All", "Application.ReadWrite.All",
              "Application.ReadWrite.OwnedBy", "Directory.Read.All"}
GET_BY_IDS_READ = {"Directory.Read.All"}
# directoryObject: delta of app role assignments (and users)
OBJECTS_DELTA_READ = {"User.Read.All", "Directory.Read.All"}
OBJECTS_DELTA_PATH = re.compile(r"^/v1\.0/directoryObjects/(?:microsoft\.graph\.)?delta"
                                r"(?:\(\))?/?$")
DELTA_PATH = re.compile(r"^/v1\.0/servicePrincipals/(?:microsoft\.graph\.)?delta(?:\(\))?/?$")
WRITE = {"Application.ReadWrite.All"}
ASSIGN = {"AppRoleAssignment.ReadWrite.All"}

OBJECT = re.compile(r"^/v1\.0/(applications|servicePrincipals)"
                    r"(?:/([0-9A-Fa-f-]{36})|\(appId='\{?([^'}]+)\}?'\))(/.*)?$")
COLLECTION = re.compile(r"^/v1\.0/(applications|servicePrincipals)/?$")
APP_PATCHABLE = {"displayName", "keyCredentials", "identifierUris", "appRoles", "tags",
                 "api", "signInAudience", "description", "notes"}
# application properties -> the service principal's properties they show as
APP_TO_SP = {"displayName": "appDisplayName", "identifierUris": "servicePrincipalNames"}
SP_PATCHABLE = {"accountEnabled", "displayName", "tags", "appRoleAssignmentRequired",
                "description", "notes"}


def _not_found(ident):
    return GraphError(404, "Request_ResourceNotFound",
                      "Resource '%s' does not exist or one of its queried reference-property "
                      "objects are not present." % ident)


def _bad_request(message):
    return GraphError(400, "Request_BadRequest", message)


def _denied():
    return GraphError(403, "Authorization_RequestDenied",
                      "Insufficient privileges to complete the operation.")


class GraphApi:
    def __init__(self, directory, tokens, config):
        self.directory = directory
        self.tokens = tokens
        self.config = config
        self.settings = GraphSettings()
        self.meter = Meter()
        self.delta = DeltaQueries(config, self.settings)
        self.response_headers = {}  # set by handle(), read by the caller under its lock

    # ------------------------------------------------------------ plumbing
    def caller(self, headers):
        """(tenant, client appId) of a request's bearer token; raises 401."""
        tenant, claims = self._authorize(headers)
        return tenant, claims.get("appid") or claims.get("azp")

    def handle(self, method, path, query, headers, body, in_batch=False):
        """Returns (status, json object or None)."""
        self.response_headers = {}
        tenant, claims = self._authorize(headers)
        roles = set(claims.get("roles") or [])
        caller_app_id = claims.get("appid") or claims.get("azp")
        self.response_headers = self.meter.charge(tenant.id, caller_app_id, method, path,
                                                  query, in_batch)
        data = None
        if method in ("POST", "PATCH"):
            try:
                data = json.loads(body or b"{}")
            except ValueError:
                raise _bad_request("Unable to read JSON request payload.")
            if not isinstance(data, dict):
                raise _bad_request("The request payload must be a JSON object.")

        if DELTA_PATH.match(path):
            if method != "GET":
                raise GraphError(405, "Request_BadRequest", "Method not allowed.")
            self._require(roles, DELTA_READ)
            return 200, self.delta.service_principals(tenant, query)
        if OBJECTS_DELTA_PATH.match(path):
            if method != "GET":
                raise GraphError(405, "Request_BadRequest", "Method not allowed.")
            self._require(roles, OBJECTS_DELTA_READ)
            return 200, self.delta.directory_objects(tenant, query)
        if path in ("/v1.0/directoryObjects/getByIds",
                    "/v1.0/directoryObjects/microsoft.graph.getByIds"):
            if method != "POST":
                raise GraphError(405, "Request_BadRequest", "Method not allowed.")
            self._require(roles, GET_BY_IDS_READ)
            return 200, get_by_ids(tenant, data, query)

        match = COLLECTION.match(path)
        if match:
            kind = match.group(1)
            if method == "GET":
                self._require(roles, READ)
                return 200, self._list(tenant, kind, query)
            if method == "POST":
                self._require(roles, WRITE)
                return 201, self._create(tenant, kind, data)
            raise GraphError(405, "Request_BadRequest", "Method not allowed.")

        match = OBJECT.match(path)
        if not match:
            raise GraphError(400, "BadRequest",
                             "Resource not found for the segment '%s'." % path.split("/")[-1])
        kind, object_id, app_id, rest = match.groups()
        rest = rest or ""
        if kind == "applications":
            obj = tenant.app_by_id(object_id) if object_id else tenant.app_by_app_id(app_id)
            if obj is not None and obj.get("firstParty"):
                obj = None
        else:
            obj = tenant.sp_by_id(object_id) if object_id else tenant.sp_by_app_id(app_id)
        if obj is None:
            raise _not_found(object_id or app_id)

        if kind == "applications":
            return self._application_op(tenant, obj, method, rest, data, roles, caller_app_id,
                                        query)
        return self._service_principal_op(tenant, obj, method, rest, data, roles, query)

    def _authorize(self, headers):
        auth = headers.get("Authorization") or ""
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        try:
            return self.tokens.verify_tenant_token(auth[7:].strip(), GRAPH_AUDIENCES)
        except ValueError as exc:
            raise GraphError(401, "InvalidAuthenticationToken", str(exc))

    @staticmethod
    def _require(roles, wanted):
        if not roles & wanted:
            raise _denied()

    # ------------------------------------------------------------ collections
    def _list(self, tenant, kind, query):
        items = list(tenant.applications.values()) if kind == "applications" \
            else list(tenant.service_principals.values())
        select = parse_select(query)
        flt = query.get("$filter")
        if flt:
            m = re.match(r"^\s*(appId|displayName|id)\s+eq\s+'((?:[^']|'')*)'\s*$", flt)
            # servicePrincipals: servicePrincipalNames/any(x:x eq '...'), as Graph
            # offers it (the identifier URIs of the app, and its appId)
            n = re.match(r"^\s*servicePrincipalNames/any\((\w+):\1\s+eq\s+'((?:[^']|'')*)'\)\s*$",
                         flt) if kind != "applications" else None
            if n:
                value = n.group(2).replace("''", "'")
                apps = tenant.apps_by_app_id()
                items = [o for o in items if value.lower() in (
                    x.lower() for x in tenant.sp_names(o, apps.get(str(o["appId"]).lower(), {})))]
            elif not m:
                raise GraphError(400, "Request_UnsupportedQuery",
                                 "Unsupported or invalid query filter clause specified.")
            elif kind != "applications" and m.group(1) in ("id", "appId"):
                # the same answer as the scan below, from the table's index
                prop, value = m.group(1), m.group(2).replace("''", "'")
                sp = tenant.sp_by_id(value) if prop == "id" else tenant.sp_by_app_id(value)
                items = [sp] if sp is not None else []
            else:
                prop, value = m.group(1), m.group(2).replace("''", "'")
                items = [o for o in items if (same_guid(o[prop], value) if prop != "displayName"
                                              else o[prop] == value)]
        if kind == "applications":
            items = [a for a in items if not a.get("firstParty")]
        items, next_link = page_of(items, query, self.settings, self.config.base_url,
                                   "/v1.0/" + kind)
        if kind == "applications":
            value = [apply_select(tenant.graph_application(a), select) for a in items]
        else:
            value = [render_sp(tenant, s, select) for s in items]
        out = {"@odata.context": CONTEXT + kind, "value": value}
        if next_link:
            out["@odata.nextLink"] = next_link
        return out

    def _create(self, tenant, kind, data):
        now = self.config.now()
        try:
            if kind == "applications":
                clean = {k: v for k, v in data.items() if k != "passwordCredentials"}
                clean.pop("id", None)
                clean.pop("appId", None)
                app = tenant.add_application(clean, now)
                out = tenant.graph_application(app)
            else:
                if not data.get("appId"):
                    raise ValueError("Property appId is required.")
                clean = {k: data[k] for k in ("appId", "accountEnabled", "tags",
                                              "appRoleAssignmentRequired", "displayName")
                         if k in data}
                sp = tenant.add_service_principal(clean, now)
                out = tenant.graph_service_principal(sp)
        except ValueError as exc:
            raise _bad_request(str(exc))
        out["@odata.context"] = CONTEXT + kind + "/$entity"
        return out

    # ------------------------------------------------------------ applications
    def _application_op(self, tenant, app, method, rest, data, roles, caller_app_id,
                        query=None):
        if rest == "" and method == "GET":
            self._require(roles, READ)
            out = tenant.graph_application(app)
            select = [s.strip() for s in ((query or {}).get("$select") or "").split(",") if s]
            if select:
                # As in Graph: keyCredentials[].key is returned only when
                # selected on a single object.
                out = {k: v for k, v in out.items() if k in select or k == "id"}
                if "keyCredentials" in select:
                    out["keyCredentials"] = [dict(k) for k in app.get("keyCredentials", [])]
            out["@odata.context"] = CONTEXT + "applications/$entity"
            return 200, out
        if rest == "" and method == "PATCH":
            self._require(roles, WRITE)
            self._patch_application(app, data)
            sp = tenant.sp_by_app_id(app["appId"])
            if sp is not None:  # its appRoles, names... show on the service principal
                tenant.touch_sp(sp["id"], props={APP_TO_SP.get(k, k) for k in data})
            return 204, None
        if rest == "" and method == "DELETE":
            self._require(roles, WRITE)
            del tenant.applications[app["id"]]
            return 204, None
        if method != "POST":
            raise GraphError(405, "Request_BadRequest", "Method not allowed.")
        is_self = same_guid(caller_app_id, app["appId"])
        if rest == "/addKey":
            if not is_self:
                self._require(roles, WRITE | {"Application.ReadWrite.OwnedBy"})
            return 200, self._add_key(app, data)
        if rest == "/addPassword":
            if not is_self:
                self._require(roles, WRITE | {"Application.ReadWrite.OwnedBy"})
            cred = normalize_password_credential(
                {k: v for k, v in (data.get("passwordCredential") or {}).items()
                 if k in ("displayName", "endDateTime", "startDateTime")},
                self.config.now())
            app["passwordCredentials"].append(cred)
            out = dict(cred)
            out["@odata.context"] = CONTEXT + "microsoft.graph.passwordCredential"
            return 200, out
        if rest == "/removePassword":
            if not is_self:
                self._require(roles, WRITE | {"Application.ReadWrite.OwnedBy"})
            key_id = data.get("keyId")
            before = len(app["passwordCredentials"])
            app["passwordCredentials"] = [p for p in app["passwordCredentials"]
                                          if not same_guid(p["keyId"], key_id)]
            if len(app["passwordCredentials"]) == before:
                raise _bad_request("No password credential found with keyId %s." % key_id)
            return 204, None
        raise GraphError(400, "BadRequest",
                         "Resource not found for the segment '%s'." % rest.strip("/"))

    def _patch_application(self, app, data):
        unknown = set(data) - APP_PATCHABLE
        if unknown:
            raise _bad_request("Property '%s' does not exist on type "
                               "'microsoft.graph.application' or cannot be updated."
                               % sorted(unknown)[0])
        try:
            updated = dict(app)
            if "keyCredentials" in data:
                existing = {k["keyId"].lower(): k for k in app["keyCredentials"]}
                creds = []
                for raw in data["keyCredentials"] or []:
                    old = existing.get(str(raw.get("keyId") or "").lower())
                    if old is not None and not raw.get("key"):
                        creds.append(old)
                    else:
                        creds.append(normalize_key_credential(raw))
                updated["keyCredentials"] = creds
            if "api" in data:
                version = (data["api"] or {}).get("requestedAccessTokenVersion")
                if version not in (None, 1, 2):
                    raise ValueError("requestedAccessTokenVersion must be null, 1 or 2")
                updated["api"] = {"requestedAccessTokenVersion": version}
            if "appRoles" in data:
                updated["appRoles"] = [normalize_app_role(r) for r in data["appRoles"] or []]
            for key in ("displayName", "identifierUris", "tags", "signInAudience",
                        "description", "notes"):
                if key in data:
                    updated[key] = data[key]
        except (ValueError, TypeError, AttributeError) as exc:
            raise _bad_request(str(exc))
        app.clear()
        app.update(updated)

    def _add_key(self, app, data):
        proof = data.get("proof")
        raw_cred = data.get("keyCredential")
        if not proof or not isinstance(raw_cred, dict):
            raise _bad_request("keyCredential and proof are required.")
        if data.get("passwordCredential"):
            raise _bad_request("Adding a passwordCredential through addKey is not supported "
                               "by this test tenant.")
        now = self.config.now()
        current = [c for c in app["keyCredentials"] if is_current(c, now)]
        if not current:
            raise _bad_request("The application has no valid certificate to verify the "
                               "proof of possession.")
        try:
            jwt = jose.ParsedJwt(proof)
        except jose.JwtError as exc:
            raise _bad_request("Invalid proof: %s" % exc)
        verified = False
        for cred in self._candidate_keys(current, jwt.header):
            try:
                jwt.verify(key_credential_cert(cred).public_key())
                verified = True
                break
            except jose.JwtError:
                continue
        if not verified:
            raise _bad_request("Invalid proof: the signature does not match an existing "
                               "certificate of the application.")
        claims = jwt.claims
        if claims.get("aud") != PROOF_AUDIENCE:
            raise _bad_request("Invalid proof: aud must be %s." % PROOF_AUDIENCE)
        if not same_guid(claims.get("iss"), app["id"]):
            raise _bad_request("Invalid proof: iss must be the application object id.")
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or exp <= now:
            raise _bad_request("Invalid proof: the proof is expired.")
        if exp > now + PROOF_MAX_LIFETIME + SKEW:
            raise _bad_request("Invalid proof: lifetime must not exceed 10 minutes.")
        nbf = claims.get("nbf")
        if isinstance(nbf, (int, float)) and nbf > now + SKEW:
            raise _bad_request("Invalid proof: not yet valid.")
        try:
            cred = normalize_key_credential(raw_cred)
        except (ValueError, TypeError) as exc:
            raise _bad_request("Invalid keyCredential: %s" % exc)
        app["keyCredentials"].append(cred)
        out = dict(cred)
        out["key"] = None
        out["@odata.context"] = CONTEXT + "microsoft.graph.keyCredential"
        return out

    @staticmethod
    def _candidate_keys(creds, header):
        x5t, x5t256 = header.get("x5t"), header.get("x5t#S256")
        if not x5t and not x5t256:
            return creds
        out = []
        for cred in creds:
            der = base64.b64decode(cred["key"])
            if x5t == jose.b64url(jose.sha1_thumbprint(der)) or \
                    x5t256 == jose.b64url(jose.sha256_thumbprint(der)):
                out.append(cred)
        return out

    # ------------------------------------------------------------ service principals
    def _service_principal_op(self, tenant, sp, method, rest, data, roles, query):
        if rest == "" and method == "GET":
            self._require(roles, READ)
            out = render_sp(tenant, sp, parse_select(query))
            out["@odata.context"] = CONTEXT + "servicePrincipals/$entity"
            return 200, out
        if rest == "" and method == "DELETE":
            self._require(roles, WRITE)
            tenant.delete_sp(sp)
            return 204, None
        if rest == "" and method == "PATCH":
            self._require(roles, WRITE)
            unknown = set(data) - SP_PATCHABLE
            if unknown:
                raise _bad_request("Property '%s' does not exist on type "
                                   "'microsoft.graph.servicePrincipal' or cannot be updated."
                                   % sorted(unknown)[0])
            if "accountEnabled" in data and not isinstance(data["accountEnabled"], bool):
                raise _bad_request("accountEnabled must be a boolean.")
            sp.update(data)
            tenant.touch_sp(sp["id"], props=data.keys())
            return 204, None
        context = CONTEXT + "servicePrincipals('%s')%s" % (sp["id"], rest)
        if rest in ("/appRoleAssignedTo", "/appRoleAssignments") and method == "GET":
            self._require(roles, READ)
            field = "resourceId" if rest == "/appRoleAssignedTo" else "principalId"
            select = parse_select(query)
            items, next_link = page_of(tenant.assignments.view_of(field, sp["id"]), query,
                                       self.settings, self.config.base_url,
                                       "/v1.0/servicePrincipals/%s%s" % (sp["id"], rest))
            value = [render_assignment(tenant, a, select) for a in items]
            out = {"@odata.context": context, "value": value}
            if next_link:
                out["@odata.nextLink"] = next_link
            return 200, out
        if rest == "/appRoleAssignedTo" and method == "POST":
            self._require(roles, ASSIGN)
            if data.get("resourceId") and not same_guid(data["resourceId"], sp["id"]):
                raise _bad_request("resourceId must be the service principal in the URL.")
            try:
                assignment = tenant.add_assignment(
                    {"principalId": data.get("principalId"), "resourceId": sp["id"],
                     "appRoleId": data.get("appRoleId"),
                     "principalType": data.get("principalType")}, self.config.now())
            except ValueError as exc:
                raise _bad_request(str(exc))
            out = tenant.graph_assignment(assignment)
            out["@odata.context"] = context + "/$entity"
            return 201, out
        m = re.match(r"^/appRoleAssignedTo/([A-Za-z0-9_-]+)$", rest)
        if m and method == "DELETE":
            self._require(roles, ASSIGN)
            assignment = tenant.assignments.get(m.group(1))
            if assignment is None or not same_guid(assignment["resourceId"], sp["id"]):
                raise _not_found(m.group(1))
            del tenant.assignments[assignment["id"]]
            return 204, None
        raise GraphError(400, "BadRequest",
                         "Resource not found for the segment '%s'." % rest.strip("/"))
