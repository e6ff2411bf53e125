/* SPDX-License-Identifier: MIT */
/* oc_request.c: strict parser of openclawd requests (see oc_request.h). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "b64url.h"
#include "json.h"
#include "helper/daemon/oc_request.h"

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

static int fail(const char **ret_why, const char *why)
{
    if (ret_why != NULL) {
        *ret_why = why;
    }
    return -EINVAL;
}

/* ---- ssh-sign members ---- */

static bool ssh_member(const char *name)
{
    return strcmp(name, "key") == 0 || strcmp(name, "data") == 0 || strcmp(name, "flags") == 0;
}

static int b64_member(const cJSON *obj, const char *name, uint8_t *out, size_t cap, size_t *ret_len)
{
    const char *s = NULL;
    size_t n = 0;

    if (oc_json_get_string(obj, name, OC_B64URL_ENCODED_LEN(cap), &s) < 0 || *s == '\0' ||
        oc_b64url_decode_into(s, strlen(s), out, cap, &n) < 0 || n == 0) {
        return -EINVAL;
    }
    *ret_len = n;
    return 0;
}

/* key, data and flags: required (flags optional) for ssh-sign, absent otherwise. */
static int ssh_args_parse(const cJSON *obj, const struct oc_proto_request_def *def,
                          struct oc_ssh_args *ssh, const char **ret_why)
{
    int64_t flags = 0;
    int r;

    if (def->type != OC_REQ_SSH_SIGN) {
        if (oc_json_member(obj, "key") != NULL || oc_json_member(obj, "data") != NULL ||
            oc_json_member(obj, "flags") != NULL) {
            *ret_why = "key, data and flags belong to ssh-sign only";
            return -EINVAL;
        }
        return 0;
    }
    if (b64_member(obj, "key", ssh->key, sizeof(ssh->key), &ssh->key_len) < 0) {
        *ret_why = "ssh-sign: key missing, empty, not base64url or too long";
        return -EINVAL;
    }
    if (b64_member(obj, "data", ssh->data, sizeof(ssh->data), &ssh->data_len) < 0) {
        *ret_why = "ssh-sign: data missing, empty, not base64url or over 16 KiB";
        return -EINVAL;
    }
    r = oc_json_get_int64(obj, "flags", 0, UINT32_MAX, &flags);
    if (r < 0 && r != -ENOENT) {
        *ret_why = "ssh-sign: flags not an integer 0..4294967295";
        return -EINVAL;
    }
    ssh->flags = (uint32_t)flags;
    return 0;
}

int oc_request_parse(const char *body, size_t len, struct oc_request *ret_req, const char **ret_why)
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
        return r == -ENOMEM ? r : fail(ret_why, why != NULL ? why : "not a JSON object");
    }
    cJSON_ArrayForEach(m, obj)
    {
        if (strcmp(m->string, "type") != 0 && strcmp(m->string, "scope") != 0 &&
            strcmp(m->string, "agent") != 0 && strcmp(m->string, "max_age") != 0 &&
            !ssh_member(m->string)) {
            cJSON_Delete(obj);
            return fail(ret_why, "unknown member in request");
        }
    }
    if (oc_json_get_string(obj, "type", OC_PROTO_TYPE_MAX, &s) < 0) {
        cJSON_Delete(obj);
        return fail(ret_why, "type missing or not a short string");
    }
    req.def = oc_proto_request_lookup(s, strlen(s));
    if (req.def == NULL) {
        cJSON_Delete(obj);
        return fail(ret_why, "unknown request type");
    }
    r = oc_json_get_string(obj, "scope", OC_PROTO_SCOPE_MAX, &s);
    if (r == 0) {
        if (*s == '\0' || !scope_valid(s)) {
            cJSON_Delete(obj);
            return fail(ret_why, "scope empty or with spaces or control characters");
        }
        oc_strscpy(req.scope, sizeof(req.scope), s);
    } else if (r != -ENOENT) {
        cJSON_Delete(obj);
        return fail(ret_why, "scope not a string or too long");
    }
    r = oc_json_get_string(obj, "agent", OC_USER_NAME_MAX, &s);
    if (r == 0) {
        if (!oc_valid_user_name(s)) {
            cJSON_Delete(obj);
            return fail(ret_why, "agent is not a valid user name");
        }
        oc_strscpy(req.agent, sizeof(req.agent), s);
    } else if (r != -ENOENT) {
        cJSON_Delete(obj);
        return fail(ret_why, "agent not a string or too long");
    }
    if (req.agent[0] == '\0' && oc_request_needs_agent(req.def->type)) {
        cJSON_Delete(obj);
        return fail(ret_why, "this request type needs an agent");
    }
    r = oc_json_get_int64(obj, "max_age", 0, OC_PROTO_MAX_AGE_MAX, &req.max_age);
    if (r == 0 && req.def->type != OC_REQ_GET_TOKEN) {
        cJSON_Delete(obj);
        return fail(ret_why, "max_age is only for get-token");
    } else if (r < 0 && r != -ENOENT) {
        cJSON_Delete(obj);
        return fail(ret_why, "max_age not an integer in [0, 86400]");
    }
    r = ssh_args_parse(obj, req.def, &req.ssh, &why);
    cJSON_Delete(obj);
    if (r < 0) {
        return fail(ret_why, why);
    }
    *ret_req = req;
    return 0;
}
