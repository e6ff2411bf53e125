/* SPDX-License-Identifier: MIT */
/* oc_request.c: strict parser of openclawd requests (see oc_request.h). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "json.h"
#include "oc_request.h"

static bool scope_valid(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) {
            return false;
        }
    }
    return true;
}

bool oc_request_needs_agent(enum oc_proto_type type)
{
    switch (type) {
    case OC_REQ_SESSION_OPEN:
    case OC_REQ_SESSION_CLOSE:
    case OC_REQ_AGENT_LOCK:
    case OC_REQ_AGENT_UNLOCK:
    case OC_REQ_ANOMALY:
        return true;
    default:
        return false;
    }
}

static int fail(const char **ret_reason, const char *why)
{
    if (ret_reason != NULL) {
        *ret_reason = why;
    }
    return -EINVAL;
}

int oc_request_parse(const char *body, size_t len, struct oc_request *ret_req,
                     const char **ret_reason)
{
    struct oc_request req;
    cJSON *obj = NULL;
    const cJSON *m;
    const char *s = NULL, *why = NULL;
    int r;

    memset(&req, 0, sizeof(req));
    req.max_age = -1;
    r = oc_json_parse_object(body, len, &obj, &why);
    if (r < 0) {
        return r == -ENOMEM ? r : fail(ret_reason, why != NULL ? why : "not a JSON object");
    }
    cJSON_ArrayForEach(m, obj)
    {
        if (strcmp(m->string, "type") != 0 && strcmp(m->string, "scope") != 0 &&
            strcmp(m->string, "agent") != 0 && strcmp(m->string, "max_age") != 0) {
            cJSON_Delete(obj);
            return fail(ret_reason, "unknown member in request");
        }
    }
    if (oc_json_get_string(obj, "type", OC_PROTO_TYPE_MAX, &s) < 0) {
        cJSON_Delete(obj);
        return fail(ret_reason, "type missing or not a short string");
    }
    req.def = oc_proto_request_lookup(s, strlen(s));
    if (req.def == NULL) {
        cJSON_Delete(obj);
        return fail(ret_reason, "unknown request type");
    }
    r = oc_json_get_string(obj, "scope", OC_PROTO_SCOPE_MAX, &s);
    if (r == 0) {
        if (*s == '\0' || !scope_valid(s)) {
            cJSON_Delete(obj);
            return fail(ret_reason, "scope empty or with spaces or control characters");
        }
        oc_strscpy(req.scope, sizeof(req.scope), s);
    } else if (r != -ENOENT) {
        cJSON_Delete(obj);
        return fail(ret_reason, "scope not a string or too long");
    }
    r = oc_json_get_string(obj, "agent", OC_USER_NAME_MAX, &s);
    if (r == 0) {
        if (!oc_valid_user_name(s)) {
            cJSON_Delete(obj);
            return fail(ret_reason, "agent is not a valid user name");
        }
        oc_strscpy(req.agent, sizeof(req.agent), s);
    } else if (r != -ENOENT) {
        cJSON_Delete(obj);
        return fail(ret_reason, "agent not a string or too long");
    }
    if (req.agent[0] == '\0' && oc_request_needs_agent(req.def->type)) {
        cJSON_Delete(obj);
        return fail(ret_reason, "this request type needs an agent");
    }
    r = oc_json_get_int64(obj, "max_age", 0, OC_PROTO_MAX_AGE_MAX, &req.max_age);
    if (r == 0 && req.def->type != OC_REQ_GET_TOKEN) {
        cJSON_Delete(obj);
        return fail(ret_reason, "max_age is only for get-token");
    } else if (r < 0 && r != -ENOENT) {
        cJSON_Delete(obj);
        return fail(ret_reason, "max_age not an integer in [0, 86400]");
    }
    cJSON_Delete(obj);
    *ret_req = req;
    return 0;
}
