"""The directory: tenants and their applications, service principals, app
role assignments and managed identities.  Objects are kept as dicts using
Microsoft Graph property names so that Graph responses are simple copies."""

import base64
import binascii
import bisect
import copy
import datetime
import hashlib
import itertools
import secrets
import uuid

from cryptography import x509

from . import jose

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
TOKEN_EXCHANGE_APP_ID = "fb60f99c-7a34-4190-8149-302f77469936"
TOKEN_EXCHANGE_URI = "api://AzureADTokenExchange"
MICROSOFT_TENANT_ID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
DEFAULT_ROLE_ID = "00000000-0000-0000-0000-000000000000"

# Application permissions of Microsoft Graph that this imitation knows about
# (value, role id as published by Microsoft Graph).
GRAPH_APP_ROLES = [
    ("Application.Read.All", "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30"),
    ("Application.ReadWrite.All", "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9"),
    ("Application.ReadWrite.OwnedBy", "18a4783c-866b-4cc7-a460-3d5e5662c884"),
    ("AppRoleAssignment.ReadWrite.All", "06b708a9-e830-4db3-a914-8e69da51d44f"),
    ("Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61"),
    ("User.Read.All", "df021288-bdef-4463-88db-98f22de89214"),
]


def _first_party_apps():
    graph_roles = [{"id": rid, "value": value, "displayName": value,
                    "description": value, "allowedMemberTypes": ["Application"],
                    "isEnabled": True, "origin": "Application"}
                   for value, rid in GRAPH_APP_ROLES]
    return [
        {"id": None, "appId": GRAPH_APP_ID, "displayName": "Microsoft Graph",
         "identifierUris": ["https://graph.microsoft.com", "https://graph.microsoft.us",
                            "https://dod-graph.microsoft.us",
                            "https://microsoftgraph.chinacloudapi.cn",
                            "https://canary.graph.microsoft.com"],
         "appRoles": graph_roles, "api": {"requestedAccessTokenVersion": None},
         "keyCredentials": [], "passwordCredentials": [], "tags": [],
         "firstParty": "graph"},
        {"id": None, "appId": TOKEN_EXCHANGE_APP_ID, "displayName": "AAD Token Exchange",
         "identifierUris": [TOKEN_EXCHANGE_URI], "appRoles": [],
         "api": {"requestedAccessTokenVersion": 2},
         "keyCredentials": [], "passwordCredentials": [], "tags": [],
         "firstParty": "token-exchange"},
    ]


FIRST_PARTY = {a["appId"]: a for a in _first_party_apps()}


# ---------------------------------------------------------------- time helpers

def iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value):
    """ISO 8601 (as Graph writes it) to epoch seconds; None stays None."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def is_current(cred, now) -> bool:
    start = parse_time(cred.get("startDateTime"))
    end = parse_time(cred.get("endDateTime"))
    return (start is None or start <= now) and (end is None or now < end)


def same_guid(a, b) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a.lower() == b.lower()


def _norm_uri(uri: str) -> str:
    return uri.rstrip("/").lower()


def new_assignment_id() -> str:
    # Graph's app role assignment ids are opaque base64url strings, not GUIDs.
    return jose.b64url(secrets.token_bytes(32))


# ---------------------------------------------------------------- certificates

def load_certificate(value):
    """Accept base64 DER, base64 of PEM text, or PEM text; return the cert."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("key must be a base64 encoded certificate")
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return x509.load_pem_x509_certificate(text.encode("ascii"))
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("key is not valid base64") from exc
    if raw.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(raw)
    return x509.load_der_x509_certificate(raw)


def cert_der_b64(cert) -> str:
    from cryptography.hazmat.primitives import serialization
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def normalize_key_credential(raw: dict) -> dict:
    cert = load_certificate(raw.get("key"))
    der_b64 = cert_der_b64(cert)
    der = base64.b64decode(der_b64)
    cred = {
        "customKeyIdentifier": raw.get("customKeyIdentifier")
        or hashlib.sha1(der).hexdigest().upper(),
        "displayName": raw.get("displayName") or cert.subject.rfc4514_string(),
        "endDateTime": raw.get("endDateTime") or iso(cert.not_valid_after.replace(
            tzinfo=datetime.timezone.utc).timestamp()),
        "key": der_b64,
        "keyId": raw.get("keyId") or str(uuid.uuid4()),
        "startDateTime": raw.get("startDateTime") or iso(cert.not_valid_before.replace(
            tzinfo=datetime.timezone.utc).timestamp()),
        "type": raw.get("type") or "AsymmetricX509Cert",
        "usage": raw.get("usage") or "Verify",
    }
    if cred["type"] != "AsymmetricX509Cert" or cred["usage"] != "Verify":
        raise ValueError("only type AsymmetricX509Cert with usage Verify is supported")
    return cred


def key_credential_cert(cred):
    return x509.load_der_x509_certificate(base64.b64decode(cred["key"]))


def normalize_password_credential(raw: dict, now: float) -> dict:
    secret = raw.get("secretText") or (secrets.token_urlsafe(3)[:3] + "8Q~"
                                       + secrets.token_urlsafe(30)[:37])
    return {
        "customKeyIdentifier": None,
        "displayName": raw.get("displayName"),
        "endDateTime": raw.get("endDateTime") or iso(now + 2 * 365 * 86400),
        "hint": secret[:3],
        "keyId": raw.get("keyId") or str(uuid.uuid4()),
        "secretText": secret,
        "startDateTime": raw.get("startDateTime") or iso(now - 60),
    }


def normalize_app_role(raw: dict) -> dict:
    if not raw.get("value"):
        raise ValueError("an app role needs a value")
    return {
        "allowedMemberTypes": list(raw.get("allowedMemberTypes") or ["Application"]),
        "description": raw.get("description") or raw["value"],
        "displayName": raw.get("displayName") or raw["value"],
        "id": raw.get("id") or str(uuid.uuid4()),
        "isEnabled": bool(raw.get("isEnabled", True)),
        "origin": "Application",
        "value": raw["value"],
    }


# ---------------------------------------------------------------- indexed tables

def _lower(value):
    """value.lower(), sharing the string when it is lower case already (ids
    are, mostly): indexes of 100 000 objects hold no second copy of them."""
    low = str(value).lower()
    return value if low == value else low


class ServicePrincipalTable(dict):
    """object id -> service principal, with case-insensitive indexes by object
    id and appId, so that lookups stay O(1) in a directory of 100 000 agents.
    A service principal's id and appId never change once stored."""

    def __init__(self):
        super().__init__()
        self.by_id = {}      # lower-case object id -> key
        self.by_app_id = {}  # lower-case appId -> key

    def __setitem__(self, key, sp):
        if key in self:
            self._unindex(key)
        super().__setitem__(key, sp)
        self.by_id[_lower(key)] = key
        self.by_app_id[_lower(sp.get("appId"))] = key

    def __delitem__(self, key):
        self._unindex(key)
        super().__delitem__(key)

    def pop(self, key, *default):
        if key in self:
            self._unindex(key)
        return super().pop(key, *default)

    def _unindex(self, key):
        sp = dict.__getitem__(self, key)
        self.by_id.pop(str(key).lower(), None)
        self.by_app_id.pop(str(sp.get("appId")).lower(), None)

    def lookup(self, index, value):
        if not isinstance(value, str):
            return None
        key = index.get(value.lower())
        return None if key is None else dict.__getitem__(self, key)


class AssignmentTable(dict):
    """assignment id -> app role assignment, indexed by resource and by
    principal: lower-case object id -> the assignment id, or an ordered set
    (dict) of them when there are several (most agents hold one role).

    Every addition and removal is logged for directoryObjects/delta, the way
    the tenant logs service principal changes: each takes the next sequence
    number; seq_of holds an assignment's last one, removed the ids removed
    since, and the log (sequence, id) pairs in order (stale pairs skipped),
    so a round costs O(changes), not O(assignments)."""

    def __init__(self):
        super().__init__()
        self.by_resource = {}
        self.by_principal = {}
        self.seq = 0
        self.seq_of = {}
        self.removed = set()
        self._log_seq = []
        self._log_id = []

    def _logged(self, key, removed):
        self.seq += 1
        self.seq_of[key] = self.seq
        if removed:
            self.removed.add(key)
        else:
            self.removed.discard(key)
        self._log_seq.append(self.seq)
        self._log_id.append(key)
        if len(self._log_seq) > 2 * len(self.seq_of) + 1024:
            live = [(s, i) for s, i in zip(self._log_seq, self._log_id)
                    if self.seq_of.get(i) == s]
            self._log_seq = [s for s, _ in live]
            self._log_id = [i for _, i in live]

    def changes(self, after, upto, limit, removed=True):
        """Up to `limit` assignments whose last change has a sequence number in
        (after, upto], in that order, as (seq, id, removed or not); plus whether
        more follow.  removed=False leaves out removed ones (a first round)."""
        out = []
        i = bisect.bisect_right(self._log_seq, after)
        log_seq, log_id = self._log_seq, self._log_id
        while i < len(log_seq) and log_seq[i] <= upto:
            seq, key = log_seq[i], log_id[i]
            i += 1
            if self.seq_of.get(key) != seq:
                continue
            gone = key in self.removed
            if gone and not removed:
                continue
            if len(out) == limit:
                return out, True
            out.append((seq, key, gone))
        return out, False

    def __setitem__(self, key, assignment):
        if key in self:
            self._unindex(key)
        super().__setitem__(key, assignment)
        for index, field in ((self.by_resource, "resourceId"), (self.by_principal, "principalId")):
            low = _lower(assignment[field])
            ids = index.get(low)
            if ids is None:
                index[low] = key
            elif isinstance(ids, dict):
                ids[key] = None
            else:
                index[low] = {ids: None, key: None}
        self._logged(key, False)

    def __delitem__(self, key):
        self._unindex(key)
        super().__delitem__(key)
        self._logged(key, True)

    def pop(self, key, *default):
        if key in self:
            self._unindex(key)
            self._logged(key, True)
        return super().pop(key, *default)

    def _unindex(self, key):
        a = dict.__getitem__(self, key)
        for index, field in ((self.by_resource, "resourceId"), (self.by_principal, "principalId")):
            low = str(a[field]).lower()
            ids = index.get(low)
            if isinstance(ids, dict):
                ids.pop(key, None)
                if len(ids) == 1:
                    index[low] = next(iter(ids))
            elif ids == key:
                del index[low]

    def view_of(self, field, object_id):
        """Like of(), as a sequence sliced lazily (pages of 100 000 assignments)."""
        index = self.by_resource if field == "resourceId" else self.by_principal
        ids = index.get(object_id.lower()) if isinstance(object_id, str) else None
        return _AssignmentView(self, () if ids is None else
                               ids if isinstance(ids, dict) else (ids,))

    def of(self, field, object_id):
        """The assignments whose field (resourceId or principalId) is object_id,
        in insertion order."""
        if not isinstance(object_id, str):
            return []
        index = self.by_resource if field == "resourceId" else self.by_principal
        ids = index.get(object_id.lower())
        if ids is None:
            return []
        if not isinstance(ids, dict):
            return [dict.__getitem__(self, ids)]
        return [dict.__getitem__(self, k) for k in ids]


class _AssignmentView:
    def __init__(self, table, ids):
        self._table = table
        self._ids = ids

    def __len__(self):
        return len(self._ids)

    def __iter__(self):
        return iter(self[:])

    def __getitem__(self, part):
        if not isinstance(part, slice) or part.step not in (None, 1):
            raise TypeError("only slices of an assignment view")
        start, stop, _ = part.indices(len(self._ids))
        return [dict.__getitem__(self._table, k)
                for k in itertools.islice(self._ids, start, stop)]


# ---------------------------------------------------------------- tenant

class Tenant:
    def __init__(self, tid, name, domains=(), region="NA"):
        self.id = tid
        self.name = name
        self.domains = list(domains) or ["%s.onmicrosoft.com" % name.replace(" ", "")]
        self.region = region
        self.applications = {}        # object id -> application
        self.service_principals = ServicePrincipalTable()  # object id -> service principal
        self.assignments = AssignmentTable()  # assignment id -> app role assignment
        self.managed_identities = []  # dicts with type, client_id, object_id, msi_res_id
        # Change tracking of service principals (servicePrincipals/delta): every
        # change takes the next sequence number; sp_seq holds each object's last
        # one, sp_removed the removal reason of deleted objects, and the log
        # (sequence, id) pairs in order, stale pairs skipped, for bisection.
        self.change_seq = 0
        self.sp_seq = {}
        self.sp_removed = {}
        self.sp_created = {}  # id -> sequence number of its creation
        self.sp_props = {}    # id -> properties changed since its creation
        self._log_seq = []
        self._log_id = []
        self.seeded_agents = 0

    # -- lookups
    def app_by_id(self, object_id):
        for app in self.applications.values():
            if same_guid(app["id"], object_id):
                return app
        return None

    def app_by_app_id(self, app_id):
        for app in self.applications.values():
            if same_guid(app["appId"], app_id):
                return app
        return FIRST_PARTY.get((app_id or "").lower())

    def sp_by_id(self, object_id):
        table = self.service_principals
        return table.lookup(table.by_id, object_id)

    def sp_by_app_id(self, app_id):
        table = self.service_principals
        return table.lookup(table.by_app_id, app_id)

    def apps_by_app_id(self):
        """lower-case appId -> what app_by_app_id() finds, for every application
        (one pass instead of one scan per service principal)."""
        out = {k: v for k, v in FIRST_PARTY.items()}
        for app in reversed(list(self.applications.values())):
            if isinstance(app.get("appId"), str):
                out[app["appId"].lower()] = app
        return out

    def app_for_sp(self, sp):
        return self.app_by_app_id(sp["appId"]) if sp else None

    def resolve_resource(self, identifier):
        """Find the resource named by an identifier URI or appId.

        Returns (application-like dict, service principal, audience for v1
        tokens) or None."""
        ident = (identifier or "").strip()
        if not ident:
            return None
        candidates = list(self.applications.values()) + list(FIRST_PARTY.values())
        for app in candidates:
            if same_guid(app["appId"], ident):
                return app, self.sp_by_app_id(app["appId"]), app["appId"]
            for uri in app.get("identifierUris") or []:
                if _norm_uri(uri) == _norm_uri(ident):
                    return app, self.sp_by_app_id(app["appId"]), uri.rstrip("/")
        return None

    def roles_for(self, principal_id, resource_sp):
        if resource_sp is None:
            return []
        app = self.app_for_sp(resource_sp)
        roles = {r["id"].lower(): r for r in (app or {}).get("appRoles", [])}
        values = []
        for a in self.assignments.of("principalId", principal_id):
            if same_guid(a["resourceId"], resource_sp["id"]):
                role = roles.get(a["appRoleId"].lower())
                if role and role.get("isEnabled", True) and role["value"] not in values:
                    values.append(role["value"])
        return values

    def has_assignment(self, principal_id, resource_sp):
        return any(same_guid(a["resourceId"], resource_sp["id"])
                   for a in self.assignments.of("principalId", principal_id))

    def find_managed_identity(self, client_id=None, object_id=None, msi_res_id=None):
        for mi in self.managed_identities:
            if client_id and same_guid(mi["client_id"], client_id):
                return mi
            if object_id and same_guid(mi["object_id"], object_id):
                return mi
            if msi_res_id and mi["msi_res_id"].lower() == msi_res_id.lower():
                return mi
        return None

    # -- mutations (callers hold the directory lock)
    def add_application(self, raw, now):
        if not raw.get("displayName"):
            raise ValueError("displayName is required")
        api = raw.get("api") or {}
        version = raw.get("accessTokenAcceptedVersion",
                          api.get("requestedAccessTokenVersion"))
        if version not in (None, 1, 2):
            raise ValueError("accessTokenAcceptedVersion must be null, 1 or 2")
        app = {
            "id": raw.get("id") or str(uuid.uuid4()),
            "appId": raw.get("appId") or str(uuid.uuid4()),
            "displayName": raw["displayName"],
            "createdDateTime": raw.get("createdDateTime") or iso(now),
            "identifierUris": list(raw.get("identifierUris") or []),
            "appRoles": [normalize_app_role(r) for r in raw.get("appRoles") or []],
            "api": {"requestedAccessTokenVersion": version},
            "keyCredentials": [normalize_key_credential(k)
                               for k in raw.get("keyCredentials") or []],
            "passwordCredentials": [normalize_password_credential(p, now)
                                    for p in raw.get("passwordCredentials") or []],
            "publisherDomain": self.domains[0],
            "signInAudience": raw.get("signInAudience") or "AzureADMyOrg",
            "tags": list(raw.get("tags") or []),
        }
        if raw.get("isAgentBlueprint"):
            app["isAgentBlueprint"] = True
        if self.app_by_app_id(app["appId"]) or self.app_by_id(app["id"]):
            raise ValueError("an application with this id or appId already exists")
        self.applications[app["id"]] = app
        return app

    def add_service_principal(self, raw, now):
        app_id = raw.get("appId")
        if not app_id:
            raise ValueError("appId is required")
        if self.sp_by_app_id(app_id):
            raise ValueError("a service principal for appId %s already exists" % app_id)
        app = self.app_by_app_id(app_id)
        if app is None and not raw.get("agentIdentityOf") and \
                raw.get("servicePrincipalType") != "ManagedIdentity":
            raise ValueError("appId %s does not reference a valid application object"
                             % app_id)
        sp = {
            "id": raw.get("id") or str(uuid.uuid4()),
            "appId": app_id,
            "displayName": raw.get("displayName") or (app or {}).get("displayName") or app_id,
            "accountEnabled": bool(raw.get("accountEnabled", True)),
            "alternativeNames": list(raw.get("alternativeNames") or []),
            "appOwnerOrganizationId": MICROSOFT_TENANT_ID if app and app.get("firstParty")
            else self.id,
            "appRoleAssignmentRequired": bool(raw.get("appRoleAssignmentRequired", False)),
            "createdDateTime": raw.get("createdDateTime") or iso(now),
            "servicePrincipalType": raw.get("servicePrincipalType")
            or ("ServiceIdentity" if raw.get("agentIdentityOf") else "Application"),
            "tags": list(raw.get("tags") or []),
        }
        if raw.get("agentIdentityOf"):
            sp["agentIdentityOf"] = raw["agentIdentityOf"]
        if self.sp_by_id(sp["id"]):
            raise ValueError("an object with id %s already exists" % sp["id"])
        self.service_principals[sp["id"]] = sp
        self.touch_sp(sp["id"], created=True)
        return sp

    def add_assignment(self, raw, now):
        principal = self.sp_by_id(raw.get("principalId"))
        if principal is None:
            raise ValueError("principalId does not reference a service principal")
        resource = self.sp_by_id(raw.get("resourceId"))
        if resource is None:
            raise ValueError("resourceId does not reference a service principal")
        role_id = raw.get("appRoleId") or DEFAULT_ROLE_ID
        app = self.app_for_sp(resource) or {}
        if role_id != DEFAULT_ROLE_ID and not any(
                same_guid(r["id"], role_id) for r in app.get("appRoles", [])):
            raise ValueError("appRoleId %s does not exist on the resource" % role_id)
        for a in self.assignments.of("principalId", principal["id"]):
            if same_guid(a["resourceId"], resource["id"]) and \
                    same_guid(a["appRoleId"], role_id):
                raise ValueError("Permission being assigned already exists on the object")
        assignment = {
            "id": raw.get("id") or new_assignment_id(),
            "appRoleId": role_id,
            "createdDateTime": raw.get("createdDateTime") or iso(now),
            "principalId": principal["id"],
            "principalType": raw.get("principalType") or "ServicePrincipal",
            "resourceId": resource["id"],
        }
        self.assignments[assignment["id"]] = assignment
        return assignment

    def add_managed_identity(self, raw, now):
        kind = raw.get("type") or "UserAssigned"
        if kind not in ("SystemAssigned", "UserAssigned"):
            raise ValueError("managed identity type must be SystemAssigned or UserAssigned")
        mi = {"type": kind,
              "client_id": raw.get("client_id") or str(uuid.uuid4()),
              "object_id": raw.get("object_id") or str(uuid.uuid4()),
              "msi_res_id": raw.get("msi_res_id")
              or "/subscriptions/%s/resourceGroups/openclaw/providers/"
                 "Microsoft.ManagedIdentity/userAssignedIdentities/%s"
                 % (uuid.uuid4(), raw.get("displayName") or "identity"),
              "displayName": raw.get("displayName") or "managed-identity"}
        self.add_service_principal({
            "id": mi["object_id"], "appId": mi["client_id"],
            "displayName": mi["displayName"], "servicePrincipalType": "ManagedIdentity",
            "alternativeNames": ["isExplicit=%s" % (kind == "UserAssigned"),
                                 mi["msi_res_id"]]}, now)
        self.managed_identities.append(mi)
        return mi

    # -- change tracking (servicePrincipals/delta)
    def touch_sp(self, sp_id, removed=None, props=(), created=False):
        """Record a change of a service principal: created, or changed
        (`props`: the properties that changed), or removed with Graph's reason
        "changed" (soft-deleted, restorable) or "deleted" (gone for good)."""
        self.change_seq += 1
        self.sp_seq[sp_id] = self.change_seq
        if created:
            self.sp_created[sp_id] = self.change_seq
            self.sp_props.pop(sp_id, None)
        elif props:
            self.sp_props.setdefault(sp_id, set()).update(props)
        if removed:
            self.sp_removed[sp_id] = removed
        else:
            self.sp_removed.pop(sp_id, None)
        self._log_seq.append(self.change_seq)
        self._log_id.append(sp_id)
        if len(self._log_seq) > 2 * len(self.sp_seq) + 1024:
            live = [(s, i) for s, i in zip(self._log_seq, self._log_id)
                    if self.sp_seq.get(i) == s]
            self._log_seq = [s for s, _ in live]
            self._log_id = [i for _, i in live]

    def changes(self, after, upto, limit, ids=None, removed=True):
        """Up to `limit` service principals whose last change has a sequence
        number in (after, upto], in that order, as (seq, id, removal reason or
        None); plus whether more follow.  `ids`: a set of lower-case ids to
        keep; removed=False leaves out removed objects."""
        out = []
        i = bisect.bisect_right(self._log_seq, after)
        log_seq, log_id = self._log_seq, self._log_id
        while i < len(log_seq) and log_seq[i] <= upto:
            seq, sp_id = log_seq[i], log_id[i]
            i += 1
            if self.sp_seq.get(sp_id) != seq or (ids is not None and sp_id.lower() not in ids):
                continue
            reason = self.sp_removed.get(sp_id)
            if reason and not removed:
                continue
            if len(out) == limit:
                return out, True
            out.append((seq, sp_id, reason))
        return out, False

    def delete_sp(self, sp, permanent=False):
        """Delete a service principal and the app role assignments it holds or
        grants (Entra removes them with it)."""
        for field in ("principalId", "resourceId"):
            for a in self.assignments.of(field, sp["id"]):
                self.assignments.pop(a["id"], None)
        del self.service_principals[sp["id"]]
        self.touch_sp(sp["id"], "deleted" if permanent else "changed")

    def purge_deleted_sp(self, object_id):
        """Turn a soft-deleted service principal into a permanently deleted one."""
        sp_id = next((i for i in self.sp_removed if same_guid(i, object_id)), None)
        if sp_id is None:
            return None
        self.touch_sp(sp_id, "deleted")
        return sp_id

    def seed_agents(self, count, now, resource_sp, role_ids, blueprint_app_id=None,
                    name_prefix="fleet-agent-", id_seed=None, disabled=()):
        """Create `count` agent identities (service principals without an
        application, as Entra Agent ID makes them) each holding every role of
        `role_ids` on `resource_sp`, without the per-object checks of
        add_service_principal (ids are fresh GUIDs).  Returns their ids."""
        created = iso(now)
        ids = []
        start = self.seeded_agents
        sps, assignments = self.service_principals, self.assignments
        for n in range(start, start + count):
            if id_seed is None:
                sp_id = str(uuid.uuid4())
            else:
                sp_id = str(uuid.uuid5(uuid.NAMESPACE_URL,
                                       "openclaw-fleet:%s:%s:%d" % (self.id, id_seed, n)))
            if sp_id in sps or sp_id in self.sp_seq:
                raise ValueError("an object with id %s already exists (seed reused?)" % sp_id)
            name = "%s%06d" % (name_prefix, n)
            sp = {"id": sp_id, "appId": sp_id, "displayName": name,
                  "accountEnabled": n - start not in disabled, "alternativeNames": [],
                  "appOwnerOrganizationId": self.id, "appRoleAssignmentRequired": False,
                  "createdDateTime": created, "servicePrincipalType": "ServiceIdentity",
                  "tags": []}
            if blueprint_app_id:
                sp["agentIdentityOf"] = blueprint_app_id
            sps[sp_id] = sp
            self.touch_sp(sp_id, created=True)
            for role_id in role_ids:
                aid = new_assignment_id()
                assignments[aid] = {"id": aid, "appRoleId": role_id, "createdDateTime": created,
                                    "principalId": sp_id, "principalType": "ServicePrincipal",
                                    "resourceId": resource_sp["id"]}
            ids.append(sp_id)
        self.seeded_agents = start + count
        return ids

    def ensure_first_party(self, now):
        for app in FIRST_PARTY.values():
            if self.sp_by_app_id(app["appId"]) is None:
                self.add_service_principal({"appId": app["appId"],
                                            "servicePrincipalType": "Application"}, now)

    # -- Graph representations
    def graph_application(self, app):
        out = copy.deepcopy(app)
        out.pop("firstParty", None)
        for k in out.get("keyCredentials", []):
            k["key"] = None
        for p in out.get("passwordCredentials", []):
            p["secretText"] = None
        return out

    def graph_service_principal(self, sp):
        out = copy.deepcopy(sp)
        app = self.app_for_sp(sp) or {}
        out["appDisplayName"] = app.get("displayName", sp["displayName"])
        out["appRoles"] = copy.deepcopy(app.get("appRoles", []))
        out["servicePrincipalNames"] = self.sp_names(sp, app)
        out["keyCredentials"] = []
        out["passwordCredentials"] = []
        return out

    def sp_names(self, sp, app=None):
        """servicePrincipalNames: the app's identifier URIs and its appId."""
        app = (self.app_for_sp(sp) or {}) if app is None else app
        return list(app.get("identifierUris", [])) + [sp["appId"]]

    def graph_assignment(self, assignment):
        out = dict(assignment)
        principal = self.sp_by_id(assignment["principalId"]) or {}
        resource = self.sp_by_id(assignment["resourceId"]) or {}
        out["deletedDateTime"] = None
        out["principalDisplayName"] = principal.get("displayName")
        out["resourceDisplayName"] = resource.get("displayName")
        return out

    def dump(self):
        return {"id": self.id, "name": self.name, "domains": self.domains,
                "region": self.region,
                "applications": copy.deepcopy(list(self.applications.values())),
                "servicePrincipals": copy.deepcopy(list(self.service_principals.values())),
                "appRoleAssignments": [self.graph_assignment(a)
                                       for a in self.assignments.values()],
                "managedIdentities": copy.deepcopy(self.managed_identities)}


class Directory:
    """All tenants served by one process.  The first tenant is the default
    one for the managed identity endpoints and the control API."""

    def __init__(self):
        self.tenants = {}

    @property
    def default_tenant(self):
        return next(iter(self.tenants.values()))

    def tenant_for_segment(self, segment):
        seg = (segment or "").lower()
        for tenant in self.tenants.values():
            if tenant.id.lower() == seg or seg in (d.lower() for d in tenant.domains):
                return tenant
        return None

    def tenant_by_id(self, tid):
        for tenant in self.tenants.values():
            if same_guid(tenant.id, tid):
                return tenant
        return None

    def load_seed(self, seed, now):
        """Merge a seed document (see README.md) into the directory."""
        tenants = seed.get("tenants")
        if not isinstance(tenants, list) or not tenants:
            raise ValueError("seed must contain a non-empty 'tenants' list")
        for raw in tenants:
            tenant = self.tenant_by_id(raw.get("id")) if raw.get("id") else None
            if tenant is None:
                if not raw.get("id") or not raw.get("name"):
                    raise ValueError("a new tenant needs an id and a name")
                tenant = Tenant(raw["id"], raw["name"], raw.get("domains") or (),
                                raw.get("region") or "NA")
                self.tenants[tenant.id] = tenant
            for app in raw.get("applications") or []:
                tenant.add_application(app, now)
            for sp in raw.get("servicePrincipals") or []:
                tenant.add_service_principal(sp, now)
            for mi in raw.get("managedIdentities") or []:
                tenant.add_managed_identity(mi, now)
            tenant.ensure_first_party(now)
            for assignment in raw.get("appRoleAssignments") or []:
                tenant.add_assignment(resolve_assignment_refs(tenant, assignment), now)


def resolve_assignment_refs(tenant, raw):
    """Allow assignments to name things by appId / role value as well as by
    object ids (principalAppId, resourceAppId, appRole)."""
    out = dict(raw)
    if not out.get("principalId") and out.get("principalAppId"):
        sp = tenant.sp_by_app_id(out["principalAppId"])
        if sp is None:
            raise ValueError("no service principal for appId %s" % out["principalAppId"])
        out["principalId"] = sp["id"]
    if not out.get("resourceId") and out.get("resourceAppId"):
        sp = tenant.sp_by_app_id(out["resourceAppId"])
        if sp is None:
            raise ValueError("no service principal for appId %s" % out["resourceAppId"])
        out["resourceId"] = sp["id"]
    if not out.get("appRoleId") and out.get("appRole"):
        resource = tenant.sp_by_id(out.get("resourceId"))
        app = tenant.app_for_sp(resource) if resource else None
        role = next((r for r in (app or {}).get("appRoles", [])
                     if r["value"] == out["appRole"]), None)
        if role is None:
            raise ValueError("no app role %s on the resource" % out["appRole"])
        out["appRoleId"] = role["id"]
    for k in ("principalAppId", "resourceAppId", "appRole"):
        out.pop(k, None)
    return out
