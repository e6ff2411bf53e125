/* SPDX-License-Identifier: MIT */
/* helperclient.c: typed requests to openclawd over oc_proto_call (see helperclient.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "json.h"
#include "jwt.h"
#include "helperclient.h"
#include "proto.h"
#include "protocall.h"
#include "util.h"

__attribute__((format(printf, 3, 4))) static void set_why(char *why, size_t whylen, const char *fmt,
                                                          ...)
{
    va_list ap;

    if (why != NULL && whylen > 0) {
        va_start(ap, fmt);
        (void)vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
}

/* Build {"type":type[,"agent":agent][,"scope":scope][,"max_age":N]}, send, parse. */
static int request(const char *socket_path, const char *type, const char *agent, const char *scope,
                   int64_t max_age, int timeout_ms, cJSON **ret_obj, char *why, size_t why_len)
{
    cJSON *req = cJSON_CreateObject(), *obj = NULL;
    char *text = NULL, *answer = NULL;
    const char *reason = NULL, *s = NULL;
    size_t alen = 0;
    bool ok = false;
    int r = -ENOMEM;

    if (req == NULL || cJSON_AddStringToObject(req, "type", type) == NULL ||
        (agent != NULL && cJSON_AddStringToObject(req, "agent", agent) == NULL) ||
        (scope != NULL && cJSON_AddStringToObject(req, "scope", scope) == NULL) ||
        (max_age >= 0 && cJSON_AddNumberToObject(req, "max_age", (double)max_age) == NULL) ||
        (text = cJSON_PrintUnformatted(req)) == NULL) {
        cJSON_Delete(req);
        set_why(why, why_len, "out of memory");
        return -ENOMEM;
    }
    cJSON_Delete(req);
    r = oc_proto_call(socket_path, text, timeout_ms, &answer, &alen);
    free(text);
    if (r < 0) {
        set_why(why, why_len, "%s", oc_proto_call_strerror(r));
        return r;
    }
    r = oc_json_parse_object(answer, alen, &obj, &reason);
    oc_free_wipe(answer, alen + 1);
    if (r < 0 || oc_json_get_bool(obj, "ok", &ok) < 0) {
        cJSON_Delete(obj);
        set_why(why, why_len, "%s", oc_proto_call_strerror(-EPROTO));
        return -EPROTO;
    }
    if (!ok) {
        const char *msg = NULL;
        (void)oc_json_get_string(obj, "error", 64, &s);
        /* a long message (a token fetch's last error) is cut by set_why, not dropped */
        (void)oc_json_get_string(obj, "message", OC_PROTO_FRAME_MAX, &msg);
        set_why(why, why_len, "openclawd answered %s: %s", s != NULL ? s : "an error",
                msg != NULL ? msg : "-");
        cJSON_Delete(obj);
        return -EREMOTEIO;
    }
    *ret_obj = obj;
    return 0;
}

int oc_hc_refresh_jwks(const char *socket_path, int timeout_ms, int64_t *ret_retry_after, char *why,
                       size_t whylen)
{
    cJSON *o = NULL;
    bool refreshed = false;
    int64_t ra = 0;
    const char *reason = NULL;
    int r = request(socket_path, "refresh-jwks", NULL, NULL, -1, timeout_ms, &o, why, whylen);

    if (r < 0) {
        return r;
    }
    if (oc_json_get_bool(o, "refreshed", &refreshed) < 0) {
        cJSON_Delete(o);
        set_why(why, whylen, "%s", oc_proto_call_strerror(-EPROTO));
        return -EPROTO;
    }
    if (!refreshed) {
        (void)oc_json_get_string(o, "reason", 64, &reason);
        (void)oc_json_get_int64(o, "retry_after", 0, 86400, &ra);
        if (ret_retry_after != NULL) {
            *ret_retry_after = ra;
        }
        set_why(why, whylen, "openclawd did not refresh the keys: %s",
                reason != NULL ? reason : "no reason given");
        cJSON_Delete(o);
        return -EAGAIN;
    }
    cJSON_Delete(o);
    return 0;
}

int oc_hc_get_token(const char *socket_path, const char *agent, const char *scope, int64_t max_age,
                    int timeout_ms, char **ret_token, size_t *ret_len, char *why, size_t why_len)
{
    return oc_hc_get_token_info(socket_path, agent, scope, max_age, timeout_ms, ret_token, ret_len,
                                NULL, why, why_len);
}

int oc_hc_get_token_info(const char *socket_path, const char *agent, const char *scope,
                         int64_t max_age, int timeout_ms, char **ret_token, size_t *ret_len,
                         struct oc_hc_token_info *ret_info, char *why, size_t why_len)
{
    cJSON *o = NULL, *t;
    size_t len;
    char *tok;
    int r = request(socket_path, "get-token", agent, scope, max_age, timeout_ms, &o, why, why_len);

    if (r < 0) {
        return r;
    }
    t = cJSON_GetObjectItemCaseSensitive(o, "access_token");
    if (!cJSON_IsString(t) || t->valuestring == NULL || t->valuestring[0] == '\0' ||
        (len = strlen(t->valuestring)) > OC_TOKEN_MAX) {
        r = -EPROTO;
        set_why(why, why_len, "openclawd's answer holds no usable access_token");
    } else if ((tok = malloc(len + 1)) == NULL) {
        r = -ENOMEM;
        set_why(why, why_len, "out of memory");
    } else {
        memcpy(tok, t->valuestring, len + 1);
        *ret_token = tok;
        *ret_len = len;
    }
    if (r == 0 && ret_info != NULL) {
        const char *sc = NULL, *ag = NULL;
        int64_t exp = 0;
        bool stale = false;

        memset(ret_info, 0, sizeof(*ret_info));
        (void)oc_json_get_int64(o, "expires_on", 0, OC_JSON_INT_MAX, &exp);
        (void)oc_json_get_bool(o, "stale", &stale);
        if (oc_json_get_string(o, "scope", OC_HC_SCOPE_MAX, &sc) == 0) {
            (void)oc_strscpy(ret_info->scope, sizeof(ret_info->scope), sc);
        }
        if (oc_json_get_string(o, "agent", OC_HC_AGENT_MAX, &ag) == 0) {
            (void)oc_strscpy(ret_info->agent, sizeof(ret_info->agent), ag);
        }
        ret_info->expires_on = exp;
        ret_info->stale = stale;
    }
    if (cJSON_IsString(t) && t->valuestring != NULL) {
        oc_wipe(t->valuestring, strlen(t->valuestring));
    }
    cJSON_Delete(o);
    return r;
}

bool oc_hc_env_valid(const char *name, const char *value)
{
    static const char *const prefixes[] = {"OPENCLAW_", "AZURE_", "IDENTITY_", "IMDS_", "MSI_"};
    size_t n = strlen(name), vn;
    bool prefixed = false;

    if (n == 0 || n > OC_HC_ENV_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'A' && ch <= 'Z') || ch == '_' || (i > 0 && ch >= '0' && ch <= '9'))) {
            return false;
        }
    }
    for (size_t i = 0; i < OC_ELEMENTSOF(prefixes); i++) {
        size_t pn = strlen(prefixes[i]);
        if (n > pn && strncmp(name, prefixes[i], pn) == 0) {
            prefixed = true;
        }
    }
    if (!prefixed || value == NULL) {
        return false;
    }
    vn = strlen(value);
    if (vn > OC_HC_ENV_VALUE_MAX) {
        return false;
    }
    for (size_t i = 0; i < vn; i++) {
        if ((unsigned char)value[i] < 0x20 || (unsigned char)value[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

void oc_hc_env_free(char **env, size_t n)
{
    if (env == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(env[i]);
    }
    free(env);
}

int oc_hc_session_open(const char *socket_path, const char *agent, int timeout_ms, char ***ret_env,
                       size_t *ret_n, size_t *ret_rejected, char *why, size_t why_len)
{
    cJSON *o = NULL;
    const cJSON *env, *m;
    char **out = NULL;
    size_t n = 0, rejected = 0;
    int r = request(socket_path, "session-open", agent, NULL, -1, timeout_ms, &o, why, why_len);

    if (r < 0) {
        return r;
    }
    env = oc_json_member(o, "env");
    if (env != NULL && !cJSON_IsObject(env)) {
        cJSON_Delete(o);
        set_why(why, why_len, "openclawd's \"env\" is not an object");
        return -EPROTO;
    }
    out = calloc(OC_HC_ENV_MAX, sizeof(*out));
    if (out == NULL) {
        cJSON_Delete(o);
        return -ENOMEM;
    }
    cJSON_ArrayForEach(m, env)
    {
        if (n >= OC_HC_ENV_MAX || !cJSON_IsString(m) || m->string == NULL ||
            !oc_hc_env_valid(m->string, m->valuestring)) {
            rejected++;
            continue;
        }
        if (asprintf(&out[n], "%s=%s", m->string, m->valuestring) < 0) {
            out[n] = NULL;
            oc_hc_env_free(out, n);
            cJSON_Delete(o);
            return -ENOMEM;
        }
        n++;
    }
    cJSON_Delete(o);
    *ret_env = out;
    *ret_n = n;
    *ret_rejected = rejected;
    return 0;
}

int oc_hc_agent_request(const char *socket_path, const char *type, const char *agent,
                        int timeout_ms, char *why, size_t why_len)
{
    cJSON *o = NULL;
    int r = request(socket_path, type, agent, NULL, -1, timeout_ms, &o, why, why_len);

    cJSON_Delete(o);
    return r;
}
