/* SPDX-License-Identifier: MIT */
/* oc_credkit.c: what the credential kinds share (see oc_credkit.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "clock.h"
#include "json.h"
#include "helper/creds/oc_credkit.h"
#include "helper/creds/oc_discovery.h"
#include "util.h"

void oc_cred_fail(struct oc_fetch_error *err, long status, bool permanent, const char *fmt, ...)
{
    va_list ap;

    err->http_status = status;
    err->permanent = permanent;
    err->entra_code[0] = '\0';
    err->entra_desc[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
}

void oc_token_clear(struct oc_token *t)
{
    oc_free_wipe_str(t->access_token);
    memset(t, 0, sizeof(*t));
}

void oc_cred_error_init(struct oc_fetch_error *err)
{
    memset(err, 0, sizeof(*err));
    err->retry_after = -1;
}

int oc_cred_form_add(char *form, size_t cap, const char *key, const char *value)
{
    char *esc = curl_easy_escape(NULL, value, 0);
    size_t have = strlen(form);
    int n;

    if (esc == NULL) {
        return -ENOMEM;
    }
    n = snprintf(form + have, cap - have, "%s%s=%s", have > 0 ? "&" : "", key, esc);
    oc_wipe(esc, strlen(esc));
    curl_free(esc);
    return n < 0 || (size_t)n >= cap - have ? -E2BIG : 0;
}

int oc_cred_token_endpoint(const struct oc_fetch_ctx *ctx, char *buf, size_t len)
{
    const char *d = oc_discovery_token_endpoint(ctx);
    int n;

    if (d != NULL) {
        return oc_strscpy(buf, len, d) < 0 ? -ENOBUFS : 0;
    }
    n = snprintf(buf, len, "%s/%s/oauth2/v2.0/token", ctx->config->global.authority,
                 ctx->config->global.tenant_id);
    return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

int oc_cred_resource(const char *scope, char *buf, size_t len)
{
    size_t n = strlen(scope);

    if (n >= 9 && strcmp(scope + n - 9, "/.default") == 0) {
        n -= 9;
    }
    return oc_strnscpy(buf, len, scope, n) < 0 ? -ENOBUFS : 0;
}

/* Server text into s (size n): printable ASCII, every other byte a space
 * (line breaks) or '?', runs of spaces kept as they are. */
static void printable_copy(char *s, size_t n, const char *text)
{
    size_t i = 0;

    for (; text[i] != '\0' && i + 1 < n; i++) {
        unsigned char ch = (unsigned char)text[i];
        s[i] = ch == '\r' || ch == '\n' || ch == '\t' ? ' '
               : ch < 0x20 || ch >= 0x7f              ? '?'
                                                      : (char)ch;
    }
    s[i] = '\0';
}

static const char *aadsts_hint(int64_t code)
{
    switch (code) {
    case 7000215:
        return "the client secret is wrong: put the current secret of the app in secret_file";
    case 7000222:
        return "the client secret has expired: create a new one and update secret_file";
    case 700016:
        return "no such application in this tenant: check app_id and tenant_id";
    case 7000229:
        return "the application has no service principal in this tenant: create one";
    case 700027:
        return "the certificate is not registered on the app, or expired: register cert_file "
               "on the application (keyCredentials)";
    case 700024:
        return "the client assertion time is wrong: check the host clock";
    case 7000112:
        return "the agent's service principal is disabled in Entra: re-enable it";
    case 500011:
        return "the resource in the scope does not exist in this tenant: check audiences/scopes";
    case 500014:
        return "the resource's service principal is disabled";
    case 501051:
        return "the resource requires an app role assignment: assign the agent a role";
    case 70011:
        return "the scope is invalid: use one <resource>/.default scope";
    case 90002:
        return "no such tenant: check tenant_id and authority";
    case 50013:
        return "the agent identity refused T1: check that blueprint_app_id is the blueprint "
               "this agent identity belongs to (its agentIdentityOf) and that app_id is the "
               "agent identity's";
    case 82001:
        return "blueprint_app_id is not an agent blueprint application: check blueprint_app_id";
    default:
        return "see the error_uri in the response or the Entra sign-in logs";
    }
}

/* Entra/IMDS error JSON into one line. */
static void describe_error(const char *agent, const struct oc_http_answer *resp,
                           struct oc_fetch_error *err)
{
    cJSON *obj = NULL;
    const char *e = NULL, *d = NULL;
    char first[240] = "", ecode[OC_FETCH_ENTRA_CODE_MAX];
    int64_t code = 0;
    bool permanent =
            resp->status >= 400 && resp->status < 500 && resp->status != 429 && resp->status != 408;

    if (resp->body != NULL && oc_json_parse_object(resp->body, resp->len, &obj, NULL) == 0) {
        const cJSON *codes = oc_json_member(obj, "error_codes");

        (void)oc_json_get_string(obj, "error", 256, &e);
        (void)oc_json_get_string(obj, "error_description", 4096, &d);
        if (cJSON_IsArray(codes) && cJSON_GetArraySize(codes) > 0 &&
            cJSON_IsNumber(cJSON_GetArrayItem(codes, 0))) {
            code = (int64_t)cJSON_GetArrayItem(codes, 0)->valuedouble;
        }
        if (d != NULL) {
            size_t n = strcspn(d, "\r\n");
            oc_strnscpy(first, sizeof(first), d, n);
            if (n >= sizeof(first)) {
                /* cut for the log line: say so (the MI endpoint answers
                 * the whole text) */
                memcpy(first + sizeof(first) - 4, "...", 4);
            }
            for (char *p = first; *p != '\0'; p++) {
                if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
                    *p = '?';
                }
            }
        }
    }
    if (e != NULL) {
        /* Server text goes into a log line: printable ASCII only. */
        oc_strscpy(ecode, sizeof(ecode), e);
        for (char *p = ecode; *p != '\0'; p++) {
            if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
                *p = '?';
            }
        }
        e = ecode;
    }
    if (code != 0) {
        oc_cred_fail(
                err, resp->status, permanent,
                "agent %s: Entra refused the token request (HTTP %ld %s, AADSTS%lld): %s; what to "
                "do: %s",
                agent, resp->status, e != NULL ? e : "error", (long long)code, first,
                aadsts_hint(code));
    } else if (resp->status == 429 || resp->status >= 500) {
        oc_cred_fail(
                err, resp->status, false,
                "agent %s: the token endpoint is unavailable (HTTP %ld%s%s); retrying with backoff",
                agent, resp->status, e != NULL ? " " : "", e != NULL ? e : "");
    } else {
        oc_cred_fail(err, resp->status, permanent,
                     "agent %s: token request failed (HTTP %ld%s%s%s%s)", agent, resp->status,
                     e != NULL ? " " : "", e != NULL ? e : "", first[0] != '\0' ? ": " : "", first);
    }
    if (e != NULL) {
        printable_copy(err->entra_code, sizeof(err->entra_code), e);
        printable_copy(err->entra_desc, sizeof(err->entra_desc), d != NULL ? d : "");
    }
    cJSON_Delete(obj);
}

/* Token response (v2 numbers, or IMDS/v1 strings). */
static int parse_token(const char *agent, const struct oc_http_answer *resp, struct oc_token *ret,
                       struct oc_fetch_error *err)
{
    cJSON *obj = NULL;
    const char *tok = NULL, *s = NULL;
    int64_t expires_in = 0;
    int r;

    if (oc_json_parse_object(resp->body != NULL ? resp->body : "", resp->len, &obj, NULL) < 0) {
        oc_cred_fail(err, resp->status, false, "agent %s: the token response is not valid JSON",
                     agent);
        return -EBADMSG;
    }
    r = oc_json_get_int64(obj, "expires_in", 1, 7 * 86400, &expires_in);
    if (r == -EINVAL && oc_json_get_string(obj, "expires_in", OC_NUMBER_TEXT_MAX, &s) == 0) {
        r = oc_parse_i64(s, 1, 7 * 86400, &expires_in);
    }
    if (r < 0 || oc_json_get_string(obj, "access_token", OC_TOKEN_MAX, &tok) < 0 || *tok == '\0') {
        cJSON_Delete(obj);
        oc_cred_fail(err, resp->status, false,
                     "agent %s: the token response lacks a usable access_token or expires_in",
                     agent);
        return -EBADMSG;
    }
    ret->access_token = strdup(tok);
    oc_wipe((char *)tok, strlen(tok));
    cJSON_Delete(obj);
    if (ret->access_token == NULL) {
        oc_cred_fail(err, 0, false, "out of memory");
        return -ENOMEM;
    }
    ret->lifetime = expires_in;
    ret->expires_on = oc_now() + expires_in;
    return 0;
}

int oc_cred_answer_token(const char *who, const struct oc_http_answer *a, struct oc_token *ret,
                         struct oc_fetch_error *err)
{
    if (a->status != 200) {
        describe_error(who, a, err);
        err->retry_after = a->retry_after;
        return -EIO;
    }
    return parse_token(who, a, ret, err);
}

void oc_cred_finish(oc_fetch_done_fn done, void *arg, struct oc_fetch_result *res)
{
    done(arg, res);
    if (res->body != NULL) {
        oc_free_wipe(res->body, res->body_len + 1);
        res->body = NULL;
    }
    oc_token_clear(&res->token);
}

void oc_cred_cancelled(oc_fetch_done_fn done, void *arg)
{
    struct oc_fetch_result res;

    memset(&res, 0, sizeof(res));
    res.cancelled = true;
    oc_cred_error_init(&res.err);
    done(arg, &res);
}

/* oc_http_start() with err filled on failure ("URL too long" permanent). */
static int http_start(struct oc_fetch_ctx *ctx, const struct oc_http_request *req,
                      struct oc_fetch_error *err)
{
    const char *why = NULL;
    int r = oc_http_start(ctx->http, req, &why);

    if (r < 0) {
        oc_cred_fail(err, 0, r == -ENOBUFS, "%s", why);
    }
    return r;
}

struct oc_cred_job *oc_cred_job_new(struct oc_fetch_ctx *ctx, const struct oc_agent *agent,
                                    const char *scope, oc_fetch_done_fn done, void *arg,
                                    struct oc_fetch_error *err)
{
    struct oc_cred_job *job = calloc(1, sizeof(*job));

    if (job == NULL || oc_strscpy(job->scope, sizeof(job->scope), scope) < 0) {
        free(job);
        oc_cred_fail(err, 0, false, "out of memory");
        return NULL;
    }
    job->ctx = ctx;
    job->agent = agent;
    job->done = done;
    job->arg = arg;
    return job;
}

static void job_answer(void *arg, struct oc_http_answer *a)
{
    struct oc_cred_job *job = arg;
    struct oc_fetch_result res;
    int r;

    if (a->cancelled) {
        oc_cred_cancelled(job->done, job->arg);
        free(job);
        return;
    }
    memset(&res, 0, sizeof(res));
    oc_cred_error_init(&res.err);
    r = job->step(job, a, &res);
    if (r == 1) {
        return; /* the job's next request runs */
    }
    res.result = r;
    if (r < 0) {
        oc_token_clear(&res.token);
    }
    oc_cred_finish(job->done, job->arg, &res);
    free(job);
}

int oc_cred_job_request(struct oc_cred_job *job, struct oc_http_request *req, oc_cred_step_fn step,
                        struct oc_fetch_error *err)
{
    req->done = job_answer;
    req->arg = job;
    job->step = step;
    return http_start(job->ctx, req, err);
}

/* The answer of a one-request token job. */
static int token_step(struct oc_cred_job *job, const struct oc_http_answer *a,
                      struct oc_fetch_result *res)
{
    if (!a->transport_ok) {
        oc_cred_fail(&res->err, 0, false, "agent %s: %s unreachable: %s: %s%s", job->agent->name,
                     job->imds ? "IMDS" : "token endpoint", a->url, a->transport_error,
                     a->tls_failed ? " (check ca_file in openclaw.conf)" : "");
        return -EIO;
    }
    return oc_cred_answer_token(job->agent->name, a, &res->token, &res->err);
}

int oc_cred_token_request(struct oc_fetch_ctx *ctx, const struct oc_agent *agent,
                          const struct oc_http_request *req, oc_fetch_done_fn done, void *arg,
                          struct oc_fetch_error *err)
{
    struct oc_cred_job *job = oc_cred_job_new(ctx, agent, "", done, arg, err);
    struct oc_http_request r = *req;
    int rc;

    if (job == NULL) {
        if (req->form != NULL) {
            oc_free_wipe(req->form, req->form_cap);
        }
        return -ENOMEM;
    }
    job->imds = req->metadata; /* the metadata endpoint of a one-request token */
    rc = oc_cred_job_request(job, &r, token_step, err);
    if (rc < 0) {
        free(job);
    }
    return rc;
}
