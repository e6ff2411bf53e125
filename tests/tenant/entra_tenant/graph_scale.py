"""The parts of Microsoft Graph a fleet needs: paging ($top, $skiptoken,
@odata.nextLink), $select, servicePrincipal delta queries with state tokens,
and directoryObject getByIds.  See README.md for what is imitated."""

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import urllib.parse

from . import jose
from .errors import GraphError

CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#"
PAGE_MAX = 999
GET_BY_IDS_MAX = 1000
DELTA_TOKEN_LIFETIME = 7 * 86400  # Graph: delta tokens of directory objects last 7 days
GUID_RE = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-"
                     r"[0-9A-Fa-f]{12}$")
ID_FILTER = re.compile(r"^\s*id\s+eq\s+'[^']*'(?:\s+or\s+id\s+eq\s+'[^']*')*\s*$")
# getByIds "types": the directory object types Graph knows (lower case) ->
# which of ours they select (none of users, groups, devices... exist here).
DIRECTORY_TYPES = {"directoryobject": ("sp", "app"), "serviceprincipal": ("sp",),
                   "application": ("app",), "user": (), "group": (), "device": (),
                   "orgcontact": (), "directoryrole": (), "administrativeunit": (),
                   "directoryroletemplate": ()}
LINK_SAFE = "'(),:=/@$"
SP_DELTA_PATH = "/v1.0/servicePrincipals/delta"
ASSIGNMENT_ROUND = "isof('microsoft.graph.appRoleAssignment') or isof('microsoft.graph.user')"
OBJECTS_DELTA_PATH = "/v1.0/directoryObjects/delta"
# directoryObject: delta tracks app role assignments only in this documented
# form (appRoleAssignment is listed together with user); either order.
ASSIGNMENT_FILTER = re.compile(
    r"^\s*isof\('microsoft\.graph\.(appRoleAssignment|user)'\)\s+or\s+"
    r"isof\('microsoft\.graph\.(appRoleAssignment|user)'\)\s*$")


class GraphSettings:
    """Paging and delta settings (control API: POST /_control/graph-settings)."""

    def __init__(self):
        self.page_size = None  # list pages without $top: None = everything (as before)
        self.delta_page_size = 100
        self.delta_token_lifetime = DELTA_TOKEN_LIFETIME
        self.delta_changed_only = False

    def describe(self):
        return {"page_size": self.page_size, "delta_page_size": self.delta_page_size,
                "delta_token_lifetime": self.delta_token_lifetime,
                "delta_changed_only": self.delta_changed_only}

    def update(self, data):
        for key in data:
            if key not in ("page_size", "delta_page_size", "delta_token_lifetime",
                           "delta_changed_only"):
                raise ValueError("unknown Graph setting %s" % key)
        if not isinstance(data.get("delta_changed_only", False), bool):
            raise ValueError("delta_changed_only must be true or false")
        self.delta_changed_only = data.get("delta_changed_only", self.delta_changed_only)
        page = data.get("page_size", self.page_size)
        delta = data.get("delta_page_size", self.delta_page_size)
        life = data.get("delta_token_lifetime", self.delta_token_lifetime)
        if page is not None and (not isinstance(page, int) or not 1 <= page <= PAGE_MAX):
            raise ValueError("page_size must be null or 1..%d" % PAGE_MAX)
        if not isinstance(delta, int) or not 1 <= delta <= PAGE_MAX:
            raise ValueError("delta_page_size must be 1..%d" % PAGE_MAX)
        if not isinstance(life, (int, float)) or life <= 0:
            raise ValueError("delta_token_lifetime must be a positive number of seconds")
        self.page_size, self.delta_page_size, self.delta_token_lifetime = page, delta, life
        return self.describe()


def _bad_request(message, code="Request_BadRequest"):
    return GraphError(400, code, message)


def parse_select(query):
    raw = query.get("$select")
    if raw is None:
        return None
    return [p.strip() for p in raw.split(",") if p.strip()]


def apply_select(obj, select):
    """Keep only the selected properties (id always, annotations always);
    properties this imitation does not model are left out silently."""
    if not select:
        return obj
    return {k: v for k, v in obj.items() if k in select or k == "id" or k.startswith("@")}


# Properties computed from other objects: a $select without them is served
# from the stored object alone (fast at 100 000 objects).
SP_DERIVED = {"appDisplayName", "appRoles", "servicePrincipalNames", "keyCredentials",
              "passwordCredentials"}
ASSIGNMENT_DERIVED = {"deletedDateTime", "principalDisplayName", "resourceDisplayName"}


def render_sp(tenant, sp, select):
    """A service principal as Graph shows it, $select applied."""
    if select and not SP_DERIVED.intersection(select):
        return {k: v for k, v in sp.items() if k in select or k == "id"}
    return apply_select(tenant.graph_service_principal(sp), select)


def render_assignment(tenant, assignment, select):
    if select and not ASSIGNMENT_DERIVED.intersection(select):
        return {k: v for k, v in assignment.items() if k in select or k == "id"}
    return apply_select(tenant.graph_assignment(assignment), select)


def parse_top(query, default=None):
    raw = query.get("$top")
    if raw is None:
        return default
    if not raw.strip().isdigit() or not 1 <= int(raw) <= PAGE_MAX:
        raise _bad_request("Invalid page size specified: '%s'. Must be between 1 and %d "
                           "inclusive." % (raw, PAGE_MAX), "Request_UnsupportedQuery")
    return int(raw)


def _link(base_url, path, params):
    return "%s%s?%s" % (base_url or "", path, "&".join(
        "%s=%s" % (k, urllib.parse.quote(str(v), safe=LINK_SAFE)) for k, v in params))


def page_of(items, query, settings, base_url, path):
    """One page of a list: (items of the page, @odata.nextLink or None).
    Without $top and without a configured page size, the whole list."""
    top = parse_top(query, settings.page_size)
    skip = query.get("$skiptoken") or query.get("$skipToken")
    if top is None and skip is None:
        return items, None
    offset = 0
    if skip is not None:
        try:
            text = base64.urlsafe_b64decode(skip + "=" * (-len(skip) % 4)).decode()
            if not text.startswith("page:"):
                raise ValueError(text)
            offset = int(text[5:])
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise _bad_request("The $skiptoken is not valid: follow @odata.nextLink as it is.")
    top = top or PAGE_MAX
    page = items[offset:offset + top]
    if offset + top >= len(items):
        return page, None
    params = [(k, v) for k, v in query.items()
              if k not in ("$skiptoken", "$skipToken", "$top")]
    params += [("$top", top), ("$skiptoken", jose.b64url(("page:%d" % (offset + top)).encode()))]
    return page, _link(base_url, path, params)


def get_by_ids(tenant, data, query):
    """POST /directoryObjects/getByIds: the objects among `ids` (at most 1000)
    of the `types` asked for, each with its @odata.type; unknown ids are left
    out, as Graph does."""
    ids = (data or {}).get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise _bad_request("ids must be a non-empty list of object ids (strings).")
    if len(ids) > GET_BY_IDS_MAX:
        raise _bad_request("Too many ids: %d were given, at most %d are allowed in one "
                           "request." % (len(ids), GET_BY_IDS_MAX))
    types = data.get("types")
    kinds = set()
    if types is None:
        kinds = {"sp", "app"}
    elif not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise _bad_request("types must be a list of strings.")
    else:
        for t in types:
            name = t.lower()
            if name.startswith("microsoft.graph."):
                name = name[len("microsoft.graph."):]
            if name not in DIRECTORY_TYPES:
                raise _bad_request("Invalid type specified: '%s'." % t)
            kinds.update(DIRECTORY_TYPES[name])
    select = parse_select(query)
    value, seen = [], set()
    for object_id in ids:
        if not GUID_RE.match(object_id):
            raise _bad_request("Invalid object identifier '%s'." % object_id)
        if object_id.lower() in seen:
            continue
        seen.add(object_id.lower())
        obj = None
        if "sp" in kinds:
            sp = tenant.sp_by_id(object_id)
            if sp is not None:
                obj = render_sp(tenant, sp, select)
                obj["@odata.type"] = "#microsoft.graph.servicePrincipal"
        if obj is None and "app" in kinds:
            app = tenant.app_by_id(object_id)
            if app is not None and not app.get("firstParty"):
                obj = tenant.graph_application(app)
                obj["@odata.type"] = "#microsoft.graph.application"
        if obj is not None:
            value.append(apply_select(obj, select))
    return {"@odata.context": CONTEXT + "directoryObjects", "value": value}


class DeltaQueries:
    """GET /servicePrincipals/delta.  A round starts at the current change
    sequence number of the tenant; its pages (nextLink, $skiptoken) list the
    objects whose last change is in (after, upto]; its end (deltaLink,
    $deltatoken) remembers upto, the `after` of the next round.  Tokens are
    opaque to clients: signed JSON carrying the round, the $select and the id
    filter, the issue time (tenant clock) and a generation that the control
    API bumps to expire every token at once."""

    def __init__(self, config, settings):
        self.config = config
        self.settings = settings
        self.generation = 1
        self.expired_code = "syncStateNotFound"
        self._key = secrets.token_bytes(32)

    def expire_all(self, code="syncStateNotFound"):
        if code not in ("syncStateNotFound", "resyncRequired"):
            raise ValueError("code must be syncStateNotFound or resyncRequired")
        self.generation += 1
        self.expired_code = code
        return {"generation": self.generation, "code": code}

    # -- tokens
    def _encode(self, state):
        body = jose.b64url(json.dumps(state, separators=(",", ":")).encode())
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:16]
        return body + "." + jose.b64url(mac)

    def _gone(self, code, message, select=None, ids=None, path=SP_DELTA_PATH):
        if path == SP_DELTA_PATH:
            location = self._url([], select, ids)
        else:
            location = _link(self.config.base_url, path, [("$filter", ASSIGNMENT_ROUND)])
        return GraphError(410, code, message, {"Location": location})

    def _decode(self, token, kind, tenant, path=SP_DELTA_PATH):
        expired = ("The sync state generation is not found. The delta token is expired and "
                   "data must be synchronized again.")
        try:
            body, mac = token.split(".")
            good = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:16]
            if not hmac.compare_digest(jose.b64url(good), mac):
                raise ValueError("bad signature")
            state = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            if state.get("k") != kind or state.get("t") != tenant.id:
                raise ValueError("not a %s token of this tenant" % kind)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise self._gone("syncStateNotFound", expired, path=path)
        if state.get("g") != self.generation:
            raise self._gone(self.expired_code, expired if self.expired_code ==
                             "syncStateNotFound" else "Resync required: the delta token is "
                             "no longer valid; start again with a full synchronization.",
                             state.get("s"), state.get("f"), path)
        if self.config.now() - state.get("i", 0) > self.settings.delta_token_lifetime:
            raise self._gone("syncStateNotFound", expired, state.get("s"), state.get("f"), path)
        return state

    def _url(self, params, select, ids):
        base = [] if params else ([("$select", ",".join(select))] if select else []) + \
            ([("$filter", " or ".join("id eq '%s'" % i for i in ids))] if ids else [])
        return _link(self.config.base_url, "/v1.0/servicePrincipals/delta", base + params)

    # -- the function
    def service_principals(self, tenant, query):
        skip = query.get("$skiptoken") or query.get("$skipToken")
        delta = query.get("$deltatoken") or query.get("$deltaToken")
        if skip and delta:
            raise _bad_request("$skiptoken and $deltatoken cannot be combined.")
        now = self.config.now()
        if skip:
            for key in ("$select", "$filter", "$top"):
                if key in query:
                    raise _bad_request("%s cannot be combined with $skiptoken: follow "
                                       "@odata.nextLink as it is." % key)
            state = self._decode(skip, "s", tenant)
        else:
            select = parse_select(query)
            ids = self._id_filter(query.get("$filter"))
            page = parse_top(query, self.settings.delta_page_size)
            if delta and delta.lower() != "latest":
                if "$filter" in query:
                    raise _bad_request("$filter cannot be changed on a @odata.deltaLink.")
                old = self._decode(delta, "d", tenant)
                if select is None:
                    select = old.get("s")
                ids = old.get("f")
                if "$top" not in query:
                    page = old.get("n", page)
                state = {"a": old["a"], "p": old["a"], "r": 1}
            elif delta:
                # "sync from now": no objects, a deltaLink at the current state
                state = {"k": "d", "g": self.generation, "t": tenant.id, "i": now,
                         "a": tenant.change_seq, "s": select, "f": ids, "n": page}
                return {"@odata.context": CONTEXT + "servicePrincipals", "value": [],
                        "@odata.deltaLink": self._url([("$deltatoken", self._encode(state))],
                                                      None, None)}
            else:
                state = {"a": 0, "p": 0, "r": 0}
            state.update({"u": tenant.change_seq, "s": select, "f": ids, "n": page})
        id_set = {i.lower() for i in state["f"]} if state.get("f") is not None else None
        items, more = tenant.changes(state["p"], state["u"], state["n"], id_set,
                                     removed=bool(state["r"]))
        value = []
        for _, sp_id, reason in items:
            if reason:
                value.append({"id": sp_id, "@removed": {"reason": reason}})
            else:
                obj = render_sp(tenant, tenant.service_principals[sp_id], state["s"])
                if state["r"] and self.settings.delta_changed_only and \
                        tenant.sp_created.get(sp_id, 0) <= state["a"]:
                    # an update: Graph promises only the id and the changed properties
                    changed = tenant.sp_props.get(sp_id, ())
                    obj = {k: v for k, v in obj.items() if k == "id" or k in changed}
                value.append(obj)
        out = {"@odata.context": CONTEXT + "servicePrincipals", "value": value}
        common = {"g": self.generation, "t": tenant.id, "i": now, "s": state["s"],
                  "f": state["f"], "n": state["n"]}
        if more:
            nxt = dict(common, k="s", a=state["a"], u=state["u"], p=items[-1][0], r=state["r"])
            out["@odata.nextLink"] = self._url([("$skiptoken", self._encode(nxt))], None, None)
        else:
            end = dict(common, k="d", a=state["u"])
            out["@odata.deltaLink"] = self._url([("$deltatoken", self._encode(end))], None, None)
        return out

    def directory_objects(self, tenant, query):
        """GET /directoryObjects/delta with $filter=isof('microsoft.graph.
        appRoleAssignment') or isof('microsoft.graph.user'): the app role
        assignments created since the token (with @odata.type), and those
        deleted as {"id", "@removed": {"reason": "deleted"}}.  There are no
        users here.  Tokens work as for servicePrincipals/delta (kinds "as"
        and "ad")."""
        skip = query.get("$skiptoken") or query.get("$skipToken")
        delta = query.get("$deltatoken") or query.get("$deltaToken")
        table = tenant.assignments
        if skip and delta:
            raise _bad_request("$skiptoken and $deltatoken cannot be combined.")
        now = self.config.now()
        if skip:
            for key in ("$select", "$filter", "$top"):
                if key in query:
                    raise _bad_request("%s cannot be combined with $skiptoken: follow "
                                       "@odata.nextLink as it is." % key)
            state = self._decode(skip, "as", tenant, OBJECTS_DELTA_PATH)
        else:
            select = parse_select(query)
            page = parse_top(query, self.settings.delta_page_size)
            if delta and delta.lower() != "latest":
                if "$filter" in query:
                    raise _bad_request("$filter cannot be changed on a @odata.deltaLink.")
                old = self._decode(delta, "ad", tenant, OBJECTS_DELTA_PATH)
                if select is None:
                    select = old.get("s")
                if "$top" not in query:
                    page = old.get("n", page)
                state = {"a": old["a"], "p": old["a"], "r": 1}
            else:
                flt = query.get("$filter")
                m = ASSIGNMENT_FILTER.match(flt or "")
                if not m or m.group(1) == m.group(2):
                    raise _bad_request("Unsupported or invalid query filter clause specified: "
                                       "directoryObjects/delta tracks app role assignments "
                                       "only with $filter=isof('microsoft.graph."
                                       "appRoleAssignment') or isof('microsoft.graph.user').",
                                       "Request_UnsupportedQuery")
                if delta:
                    # "sync from now": no objects, a deltaLink at the current state
                    end = {"k": "ad", "g": self.generation, "t": tenant.id, "i": now,
                           "a": table.seq, "s": select, "n": page}
                    return {"@odata.context": CONTEXT + "directoryObjects", "value": [],
                            "@odata.deltaLink": _link(self.config.base_url, OBJECTS_DELTA_PATH,
                                                      [("$deltatoken", self._encode(end))])}
                state = {"a": 0, "p": 0, "r": 0}
            state.update({"u": table.seq, "s": select, "n": page})
        items, more = table.changes(state["p"], state["u"], state["n"], removed=bool(state["r"]))
        value = []
        for _, aid, gone in items:
            if gone:
                value.append({"id": aid, "@removed": {"reason": "deleted"}})
            else:
                obj = render_assignment(tenant, table[aid], state["s"])
                obj["@odata.type"] = "#microsoft.graph.appRoleAssignment"
                value.append(obj)
        out = {"@odata.context": CONTEXT + "directoryObjects", "value": value}
        common = {"g": self.generation, "t": tenant.id, "i": now, "s": state["s"],
                  "n": state["n"]}
        if more:
            nxt = dict(common, k="as", a=state["a"], u=state["u"], p=items[-1][0], r=state["r"])
            out["@odata.nextLink"] = _link(self.config.base_url, OBJECTS_DELTA_PATH,
                                           [("$skiptoken", self._encode(nxt))])
        else:
            end = dict(common, k="ad", a=state["u"])
            out["@odata.deltaLink"] = _link(self.config.base_url, OBJECTS_DELTA_PATH,
                                            [("$deltatoken", self._encode(end))])
        return out

    @staticmethod
    def _id_filter(flt):
        if flt is None:
            return None
        if not ID_FILTER.match(flt):
            raise _bad_request("Unsupported or invalid query filter clause specified: "
                               "servicePrincipals/delta filters only by id "
                               "(id eq '...' or id eq '...').", "Request_UnsupportedQuery")
        return re.findall(r"id\s+eq\s+'([^']*)'", flt)
