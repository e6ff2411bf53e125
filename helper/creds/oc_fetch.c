/* SPDX-License-Identifier: MIT */
/* oc_fetch.c: libcurl client, token acquisition per credential kind, JWKS. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/pem.h>

#include "clock.h"
#include "json.h"
#include "jwks.h"
#include "proto.h"
#include "helper/creds/oc_cred.h"
#include "helper/creds/oc_fetch.h"
#include "helper/lib/oc_privfile.h"
#include "helper/creds/oc_sealed.h"
#include "tpm/tpm.h"
#include "util.h"

#define SECRET_FILE_MAX 4096 /* a client secret file */
#define FORM_MAX        (32u * 1024u)

struct oc_agent_keys {
    struct oc_tpm_key *key; /* NULL until loaded */
    X509 *cert;
};

struct http_resp {
    long status;
    char *body;
    size_t len;
    bool too_big;
    int64_t retry_after;
    char challenge[OC_CHALLENGE_MAX]; /* first WWW-Authenticate value (Arc), "" if none */
    size_t cap;                       /* 0: OC_HTTP_BODY_MAX */
};

static void set_err(struct oc_fetch_error *err, long status, bool permanent, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void set_err(struct oc_fetch_error *err, long status, bool permanent, const char *fmt, ...)
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

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct http_resp *r = userdata;
    size_t n = size * nmemb;
    size_t cap = r->cap != 0 ? r->cap : OC_HTTP_BODY_MAX;
    char *p;

    if (n > cap || r->len + n > cap) {
        r->too_big = true;
        return 0;
    }
    p = realloc(r->body, r->len + n + 1);
    if (p == NULL) {
        return 0;
    }
    r->body = p;
    memcpy(r->body + r->len, ptr, n);
    r->len += n;
    r->body[r->len] = 0;
    return n;
}

/* A "WWW-Authenticate:" header line: its value (first one only) into dst. */
static bool oc_http_challenge_header(const char *buf, size_t n, char *dst, size_t cap)
{
    static const char name[] = "www-authenticate:";
    size_t i = sizeof(name) - 1;

    if (n < i || strncasecmp(buf, name, i) != 0) {
        return false;
    }
    if (dst[0] == '\0') {
        while (i < n && (buf[i] == ' ' || buf[i] == '\t')) {
            i++;
        }
        while (n > i && (buf[n - 1] == '\r' || buf[n - 1] == '\n')) {
            n--;
        }
        /* Too long, or empty: keep a value that cannot parse as a realm. */
        if (oc_strnscpy(dst, cap, buf + i, n - i) < 0 || dst[0] == '\0') {
            oc_strscpy(dst, cap, "(invalid)");
        }
    }
    return true;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct http_resp *r = userdata;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";
    char val[OC_NUMBER_TEXT_MAX + 1];
    size_t i = sizeof(name) - 1, j = 0;
    int64_t v;

    if (oc_http_challenge_header(buf, n, r->challenge, sizeof(r->challenge))) {
        return n;
    }
    if (n < sizeof(name) - 1 || strncasecmp(buf, name, sizeof(name) - 1) != 0) {
        return n;
    }
    while (i < n && (buf[i] == ' ' || buf[i] == '\t')) {
        i++;
    }
    while (i < n && j < OC_NUMBER_TEXT_MAX && isdigit((unsigned char)buf[i])) {
        val[j++] = buf[i++];
    }
    val[j] = 0;
    /* Delta-seconds only; an HTTP-date is ignored (backoff applies). */
    if (j > 0 && oc_parse_i64(val, 0, INT64_MAX, &v) == 0) {
        r->retry_after = v > OC_RETRY_AFTER_MAX ? OC_RETRY_AFTER_MAX : v;
    }
    return n;
}

static void resp_free(struct http_resp *r)
{
    if (r->body != NULL) {
        oc_free_wipe(r->body, r->len);
    }
    r->body = NULL;
    r->len = 0;
}

enum job_kind {
    JOB_TOKEN = 1,
    JOB_JWKS = 2,
    JOB_STEP = 3, /* one request of a multi-request job (oc_cred.h) */
    JOB_GRAPH = 4,
};

struct oc_fetch_job {
    CURL *easy;
    struct curl_slist *hdrs;
    char *form; /* holds the secret or assertion: wiped */
    size_t form_cap;
    struct http_resp resp;
    char errbuf[CURL_ERROR_SIZE];
    char url[OC_CONFIG_PATH_MAX + 2 * (OC_PROTO_SCOPE_MAX + 1) + 256];
    char *graph_body; /* Graph request body (PATCH, POST), or NULL */
    bool graph_post;  /* POST (a JSON $batch) rather than PATCH */
    enum job_kind kind;
    bool imds;
    size_t agent;
    uint64_t id;
    char dir[OC_CONFIG_PATH_MAX + 8]; /* JWKS target directory */
    struct oc_step *step;             /* JOB_STEP: its state, owned by the job */
    struct oc_fetch_job *next;        /* ctx->jobs list */
};

static void job_free(struct oc_fetch_ctx *ctx, struct oc_fetch_job *j)
{
    if (j == NULL) {
        return;
    }
    for (struct oc_fetch_job **pp = &ctx->jobs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    }
    if (j->easy != NULL) {
        curl_multi_remove_handle(ctx->multi, j->easy);
        curl_easy_cleanup(j->easy);
    }
    /* A header may hold a secret (Arc's Authorization): wipe them all. */
    for (struct curl_slist *h = j->hdrs; h != NULL; h = h->next) {
        oc_wipe(h->data, strlen(h->data));
    }
    curl_slist_free_all(j->hdrs);
    oc_step_free(j->step);
    if (j->form != NULL) {
        oc_free_wipe(j->form, j->form_cap);
    }
    resp_free(&j->resp);
    free(j->graph_body);
    free(j);
    ctx->in_flight--;
}

/*
 * Start a GET (form == NULL) or a POST of form (taken over: wiped and
 * freed with the job). imds: plain http allowed, never proxied.
 */
static int job_start(struct oc_fetch_ctx *ctx, struct oc_fetch_job *j, char *form, size_t form_cap,
                     struct oc_fetch_error *err)
{
    CURL *c = curl_easy_init();

    ctx->in_flight++;
    j->next = ctx->jobs;
    ctx->jobs = j;
    j->form = form;
    j->form_cap = form_cap;
    j->resp.retry_after = -1;
    if (c == NULL) {
        set_err(err, 0, false, "cannot initialise libcurl");
        job_free(ctx, j);
        return -ENOMEM;
    }
    j->easy = c;
    j->hdrs = curl_slist_append(j->hdrs, "Accept: application/json");
    if (j->imds) {
        j->hdrs = curl_slist_append(j->hdrs, "Metadata: true");
    }
    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_PRIVATE, j);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, j->imds ? "http,https" : "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ctx->config->global.ca_file != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, ctx->config->global.ca_file);
    }
    if (j->imds) {
        curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, OC_HTTP_CONNECT_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, OC_HTTP_TOTAL_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "openclawd/" PACKAGE_VERSION);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, j->hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &j->resp);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &j->resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, j->errbuf);
    if (form != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    }
    if (j->graph_body != NULL) {
        if (!j->graph_post) {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PATCH");
        }
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->graph_body);
    }
    if (curl_multi_add_handle(ctx->multi, c) != CURLM_OK) {
        set_err(err, 0, false, "cannot start an HTTP request");
        job_free(ctx, j);
        return -ENOMEM;
    }
    return 0;
}

static struct oc_fetch_job *job_new(enum job_kind kind, size_t agent, uint64_t id)
{
    struct oc_fetch_job *j = calloc(1, sizeof(*j));

    if (j != NULL) {
        j->kind = kind;
        j->agent = agent;
        j->id = id;
    }
    return j;
}

static int form_add(char *form, size_t cap, const char *key, const char *value)
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

/* config->agents[i], or the [directory] credential at i == n_agents. */
static const struct oc_agent *agent_at(const struct oc_config *cfg, size_t i)
{
    return i < cfg->n_agents ? &cfg->agents[i] : &cfg->directory->agent;
}

int oc_fetch_init(struct oc_fetch_ctx *ctx, const struct oc_config *config, const char *imds_base)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->config = config;
    ctx->imds_base = imds_base;
    /* One more slot for the [directory] credential. */
    ctx->keys = calloc(config->n_agents + 1, sizeof(*ctx->keys));
    if (ctx->keys == NULL) {
        return -ENOMEM;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return -ENOMEM;
    }
    ctx->multi = curl_multi_init();
    return ctx->multi != NULL ? 0 : -ENOMEM;
}

void oc_fetch_done(struct oc_fetch_ctx *ctx)
{
    while (ctx->jobs != NULL) {
        job_free(ctx, ctx->jobs);
    }
    if (ctx->keys != NULL) {
        for (size_t i = 0; i <= ctx->config->n_agents; i++) {
            if (ctx->keys[i].key != NULL) {
                oc_tpm_key_free(ctx->keys[i].key);
            }
            X509_free(ctx->keys[i].cert);
        }
        free(ctx->keys);
        ctx->keys = NULL;
    }
    oc_cred_ctx_free(ctx);
    oc_tpm_close(ctx->tpm);
    ctx->tpm = NULL;
    if (ctx->multi != NULL) {
        curl_multi_cleanup(ctx->multi);
        ctx->multi = NULL;
    }
    curl_global_cleanup();
}

void oc_token_clear(struct oc_token *t)
{
    oc_free_wipe_str(t->access_token);
    memset(t, 0, sizeof(*t));
}

int oc_default_scope(const struct oc_config *config, const struct oc_agent *agent, char *buf,
                     size_t len)
{
    int n;

    if (agent != NULL && agent->scopes.n > 0) {
        return oc_strscpy(buf, len, agent->scopes.items[0]);
    }
    if (config->global.audiences.n == 0) {
        return -ENOENT;
    }
    n = snprintf(buf, len, "%s/.default", config->global.audiences.items[0]);
    return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

const char *oc_agent_unusable(const struct oc_config *config, const struct oc_agent *agent)
{
    if (!agent->enabled) {
        return "the agent is disabled in openclaw.conf (enabled = no)";
    }
    switch (agent->credential) {
    case OC_CRED_SECRET_FILE:
        if (!config->global.allow_insecure_credentials) {
            return "credential = secret-file keeps a plain secret on disk and is refused unless "
                   "[global] allow_insecure_credentials = yes (use tpm-certificate in production)";
        }
        return agent->secret_file == NULL ? "credential = secret-file needs secret_file = PATH"
                                          : NULL;
    case OC_CRED_TPM_CERTIFICATE:
        return agent->key_file == NULL || agent->cert_file == NULL
                       ? "credential = tpm-certificate needs key_file and cert_file (openclawctl "
                         "tpm keygen / cert)"
                       : NULL;
    case OC_CRED_TPM_SEALED_SECRET:
        return agent->sealed_file == NULL ? "credential = tpm-sealed-secret needs sealed_file "
                                            "(openclawctl tpm seal)"
                                          : NULL;
    case OC_CRED_MANAGED_IDENTITY:
        return NULL;
    case OC_CRED_AZURE_ARC:
    case OC_CRED_AGENT_IDENTITY:
        return oc_cred_unusable(config, agent);
    case OC_CRED_NONE:
        return "the agent has no credential (credential = none): openclawd cannot get its tokens";
    default:
        return "this credential kind is not supported by this version of openclawd "
               "(supported: secret-file, tpm-certificate, tpm-sealed-secret, managed-identity, "
               "azure-arc, agent-identity)";
    }
}

/* Read a secret file: regular, not a symlink, owner-only, capped. The
 * secret goes into a buffer of SECRET_FILE_MAX + 1 bytes (wiped whole by
 * its users), line ends stripped. */
static int read_secret(const char *path, char **ret_secret)
{
    uint8_t *raw = NULL;
    size_t size = 0, len;
    char *buf;
    int r = oc_private_file_read(path, SECRET_FILE_MAX, OC_PF_OWNER_ONLY, &raw, &size);

    if (r < 0) {
        return r;
    }
    len = size;
    while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r')) {
        len--;
    }
    if (len == 0) {
        oc_free_wipe(raw, size + 1);
        return -ENODATA;
    }
    buf = calloc(1, SECRET_FILE_MAX + 1);
    if (buf != NULL) {
        memcpy(buf, raw, len);
    }
    oc_free_wipe(raw, size + 1);
    if (buf == NULL) {
        return -ENOMEM;
    }
    *ret_secret = buf;
    return 0;
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
static void describe_error(const char *agent, const struct http_resp *resp,
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
        set_err(err, resp->status, permanent,
                "agent %s: Entra refused the token request (HTTP %ld %s, AADSTS%lld): %s; what to "
                "do: %s",
                agent, resp->status, e != NULL ? e : "error", (long long)code, first,
                aadsts_hint(code));
    } else if (resp->status == 429 || resp->status >= 500) {
        set_err(err, resp->status, false,
                "agent %s: the token endpoint is unavailable (HTTP %ld%s%s); retrying with backoff",
                agent, resp->status, e != NULL ? " " : "", e != NULL ? e : "");
    } else {
        set_err(err, resp->status, permanent, "agent %s: token request failed (HTTP %ld%s%s%s%s)",
                agent, resp->status, e != NULL ? " " : "", e != NULL ? e : "",
                first[0] != '\0' ? ": " : "", first);
    }
    if (e != NULL) {
        printable_copy(err->entra_code, sizeof(err->entra_code), e);
        printable_copy(err->entra_desc, sizeof(err->entra_desc), d != NULL ? d : "");
    }
    cJSON_Delete(obj);
}

/* Token response (v2 numbers, or IMDS/v1 strings). */
static int parse_token(const char *agent, const struct http_resp *resp, struct oc_token *ret,
                       struct oc_fetch_error *err)
{
    cJSON *obj = NULL;
    const char *tok = NULL, *s = NULL;
    int64_t expires_in = 0;
    int r;

    if (oc_json_parse_object(resp->body != NULL ? resp->body : "", resp->len, &obj, NULL) < 0) {
        set_err(err, resp->status, false, "agent %s: the token response is not valid JSON", agent);
        return -EBADMSG;
    }
    r = oc_json_get_int64(obj, "expires_in", 1, 7 * 86400, &expires_in);
    if (r == -EINVAL && oc_json_get_string(obj, "expires_in", OC_NUMBER_TEXT_MAX, &s) == 0) {
        r = oc_parse_i64(s, 1, 7 * 86400, &expires_in);
    }
    if (r < 0 || oc_json_get_string(obj, "access_token", OC_TOKEN_MAX, &tok) < 0 || *tok == '\0') {
        cJSON_Delete(obj);
        set_err(err, resp->status, false,
                "agent %s: the token response lacks a usable access_token or expires_in", agent);
        return -EBADMSG;
    }
    ret->access_token = strdup(tok);
    oc_wipe((char *)tok, strlen(tok));
    cJSON_Delete(obj);
    if (ret->access_token == NULL) {
        set_err(err, 0, false, "out of memory");
        return -ENOMEM;
    }
    ret->lifetime = expires_in;
    ret->expires_on = oc_now() + expires_in;
    return 0;
}

void oc_fetch_tpm_failed(struct oc_fetch_ctx *ctx, int r)
{
    if (r != -ENODEV || ctx->tpm == NULL) {
        return;
    }
    fprintf(stderr, "openclawd: the TPM connection failed; it is closed and opened again at "
                    "the next attempt (keys reloaded from their blobs)\n");
    for (size_t i = 0; ctx->keys != NULL && i <= ctx->config->n_agents; i++) {
        if (ctx->keys[i].key != NULL) {
            oc_tpm_key_free(ctx->keys[i].key);
            ctx->keys[i].key = NULL;
        }
        X509_free(ctx->keys[i].cert);
        ctx->keys[i].cert = NULL;
    }
    oc_tpm_close(ctx->tpm);
    ctx->tpm = NULL;
}

static int load_tpm_key(struct oc_fetch_ctx *ctx, size_t i, struct oc_fetch_error *err)
{
    const struct oc_agent *a = agent_at(ctx->config, i);
    struct oc_agent_keys *k = &ctx->keys[i];
    struct oc_tpmblob b;
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *why = NULL;
    char tpmerr[512];
    FILE *f;
    int r;

    if (k->key != NULL) {
        return 0;
    }
    r = oc_tpm_blob_read_file(a->key_file, &buf, &len);
    if (r < 0) {
        set_err(err, 0, true, "agent %s: cannot read key_file %s: %s", a->name, a->key_file,
                strerror(-r));
        return r;
    }
    r = oc_tpmblob_parse(buf, len, &b, &why);
    if (r < 0) {
        free(buf);
        set_err(err, 0, true, "agent %s: key_file %s is not a TPM key blob: %s", a->name,
                a->key_file, why);
        return r;
    }
    if (ctx->tpm == NULL) {
        struct oc_tpm_options opt = {.tcti = ctx->config->global.tcti,
                                     .keys_dir = ctx->config->global.keys_dir,
                                     .parent = b.parent,
                                     .persistent_srk = b.parent_handle,
                                     .allow_software_keys =
                                             ctx->config->global.allow_software_keys};
        r = oc_tpm_open(&opt, &ctx->tpm, tpmerr, sizeof(tpmerr));
        if (r < 0) {
            free(buf);
            set_err(err, 0, false, "agent %s: %s", a->name, tpmerr);
            return r;
        }
    }
    r = oc_tpm_key_load(ctx->tpm, buf, len, &k->key);
    free(buf);
    if (r < 0) {
        /* an unreachable TPM is not the blob's fault: retry later */
        set_err(err, 0, r != -ENODEV, "agent %s: the TPM refuses key_file %s: %s", a->name,
                a->key_file, oc_tpm_strerror(ctx->tpm));
        oc_fetch_tpm_failed(ctx, r);
        return r;
    }
    f = fopen(a->cert_file, "re");
    if (f != NULL) {
        k->cert = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
    }
    if (k->cert == NULL) {
        oc_tpm_key_free(k->key);
        k->key = NULL;
        set_err(err, 0, true, "agent %s: cert_file %s is not a PEM certificate", a->name,
                a->cert_file);
        return -EINVAL;
    }
    return 0;
}

const char *oc_fetch_key_kind(const struct oc_fetch_ctx *ctx, size_t i)
{
    const struct oc_agent *a = &ctx->config->agents[i];
    struct oc_tpmblob b;
    const char *why = NULL, *kind = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;

    if (a->credential != OC_CRED_TPM_CERTIFICATE || a->key_file == NULL) {
        return NULL;
    }
    if (ctx->keys[i].key != NULL) {
        return oc_tpm_key_is_software(ctx->keys[i].key) ? "software" : "tpm";
    }
    /* Not loaded yet: the blob's header says which kind it is. */
    if (oc_tpm_blob_read_file(a->key_file, &buf, &len) == 0 &&
        oc_tpmblob_parse(buf, len, &b, &why) == 0) {
        kind = b.type == OC_TPMBLOB_SOFTWARE_KEY ? "software" : "tpm";
    }
    free(buf);
    return kind;
}

static int token_url(const struct oc_config *cfg, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s/oauth2/v2.0/token", cfg->global.authority,
                     cfg->global.tenant_id);
    return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

/* The agent's client secret from its secret_file; on failure *err says why. */
static int secret_from_file(const struct oc_agent *a, char **ret_secret, struct oc_fetch_error *err)
{
    int r = read_secret(a->secret_file, ret_secret);

    if (r < 0) {
        set_err(err, 0, true, "agent %s: cannot use secret_file %s: %s", a->name, a->secret_file,
                r == -EPERM     ? "readable by group or others (chmod 600)"
                : r == -ENODATA ? "empty"
                : r == -EFBIG   ? "too large"
                                : strerror(-r));
    }
    return r;
}

/* The agent's client secret, unsealed by the TPM; on failure *err says why. */
static int secret_from_tpm(struct oc_fetch_ctx *ctx, const struct oc_agent *a, char **ret_secret,
                           struct oc_fetch_error *err)
{
    bool permanent = true;
    int r = oc_sealed_secret_read(&ctx->tpm, ctx->config, a, ret_secret, err->msg, sizeof(err->msg),
                                  &permanent);

    if (r < 0) {
        err->permanent = permanent;
        oc_fetch_tpm_failed(ctx, r);
    }
    return r;
}

/* A client assertion for client_id at audience, signed with agent i's TPM
 * key. 0, OC_TPM_SOFTWARE_KEY (signed with a software key), or -errno with
 * *err saying why. */
static int tpm_assertion(struct oc_fetch_ctx *ctx, size_t i, const struct oc_agent *a,
                         const char *client_id, const char *audience, char **ret_jwt,
                         struct oc_fetch_error *err)
{
    struct oc_assertion_params p = {
            .client_id = client_id, .audience = audience, .now = oc_now(), .lifetime = 0};
    int r = load_tpm_key(ctx, i, err);

    if (r < 0) {
        return r;
    }
    r = oc_tpm_client_assertion(ctx->keys[i].key, ctx->keys[i].cert, &p, ret_jwt);
    if (r < 0) {
        set_err(err, 0, false, "agent %s: the TPM could not sign the client assertion: %s", a->name,
                oc_tpm_strerror(ctx->tpm));
        oc_fetch_tpm_failed(ctx, r);
    }
    return r;
}

static int client_credentials(struct oc_fetch_ctx *ctx, size_t i, const char *scope, uint64_t id,
                              struct oc_fetch_error *err)
{
    const struct oc_agent *a = agent_at(ctx->config, i);
    char url[OC_CONFIG_PATH_MAX + 128];
    char *form = NULL, *secret = NULL, *assertion = NULL;
    struct oc_fetch_job *j;
    int r;

    if (oc_fetch_token_endpoint(ctx, url, sizeof(url)) < 0) {
        set_err(err, 0, true, "authority too long");
        return -ENOBUFS;
    }
    if (a->credential == OC_CRED_SECRET_FILE) {
        r = secret_from_file(a, &secret, err);
        if (r < 0) {
            return r;
        }
    } else if (a->credential == OC_CRED_TPM_SEALED_SECRET) {
        r = secret_from_tpm(ctx, a, &secret, err);
        if (r < 0) {
            return r;
        }
    } else {
        r = tpm_assertion(ctx, i, a, a->app_id, url, &assertion, err);
        if (r < 0) {
            return r;
        }
        if (r == OC_TPM_SOFTWARE_KEY) {
            fprintf(stderr,
                    "openclawd: agent %s: WARNING: the client assertion was signed with a "
                    "software key (%s is not bound to a TPM; allow_software_keys = yes): a copy "
                    "of it and of the host key in keys_dir is this agent's credential; make a TPM "
                    "key (openclawctl tpm keygen) as soon as a TPM is available\n",
                    a->name, a->key_file);
        }
    }
    form = calloc(1, FORM_MAX);
    r = form == NULL ? -ENOMEM : 0;
    r = r < 0 ? r : form_add(form, FORM_MAX, "grant_type", "client_credentials");
    r = r < 0 ? r : form_add(form, FORM_MAX, "client_id", a->app_id);
    r = r < 0 ? r : form_add(form, FORM_MAX, "scope", scope);
    if (secret != NULL) {
        r = r < 0 ? r : form_add(form, FORM_MAX, "client_secret", secret);
        oc_free_wipe(secret, SECRET_FILE_MAX + 1);
    }
    if (assertion != NULL) {
        r = r < 0 ? r
                  : form_add(form, FORM_MAX, "client_assertion_type",
                             "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        r = r < 0 ? r : form_add(form, FORM_MAX, "client_assertion", assertion);
        oc_free_wipe_str(assertion);
    }
    if (r < 0) {
        if (form != NULL) {
            oc_free_wipe(form, FORM_MAX);
        }
        set_err(err, 0, true, "agent %s: cannot build the token request", a->name);
        return r;
    }
    j = job_new(JOB_TOKEN, i, id);
    if (j == NULL) {
        oc_free_wipe(form, FORM_MAX);
        set_err(err, 0, false, "out of memory");
        return -ENOMEM;
    }
    oc_strscpy(j->url, sizeof(j->url), url);
    return job_start(ctx, j, form, FORM_MAX, err);
}

static int managed_identity(struct oc_fetch_ctx *ctx, size_t i, const char *scope, uint64_t id,
                            struct oc_fetch_error *err)
{
    const struct oc_agent *a = agent_at(ctx->config, i);
    char resource[(OC_PROTO_SCOPE_MAX + 1)];
    char url[OC_CONFIG_PATH_MAX + 2 * (OC_PROTO_SCOPE_MAX + 1) + 256];
    char *esc, *selv = NULL;
    const char *sel = "";
    struct oc_fetch_job *j;
    size_t n = strlen(scope);
    int len;

    /* IMDS takes a resource; drop "/.default" from the scope. */
    if (n >= 9 && strcmp(scope + n - 9, "/.default") == 0) {
        n -= 9;
    }
    if (oc_strnscpy(resource, sizeof(resource), scope, n) < 0) {
        set_err(err, 0, true, "scope too long");
        return -ENOBUFS;
    }
    esc = curl_easy_escape(NULL, resource, 0);
    if (esc == NULL) {
        return -ENOMEM;
    }
    /* At most one selector: client_id, else object_id, else msi_res_id;
     * none selects the system-assigned identity. */
    if (a->mi_client_id[0] != '\0') {
        sel = "&client_id=";
        selv = curl_easy_escape(NULL, a->mi_client_id, 0);
    } else if (a->mi_object_id[0] != '\0') {
        sel = "&object_id=";
        selv = curl_easy_escape(NULL, a->mi_object_id, 0);
    } else if (a->mi_res_id != NULL) {
        sel = "&msi_res_id=";
        selv = curl_easy_escape(NULL, a->mi_res_id, 0);
    }
    len = snprintf(url, sizeof(url),
                   "%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=%s%s%s",
                   ctx->imds_base, esc, sel, selv != NULL ? selv : "");
    curl_free(esc);
    curl_free(selv);
    if (len < 0 || (size_t)len >= sizeof(url)) {
        set_err(err, 0, true, "IMDS URL too long");
        return -ENOBUFS;
    }
    j = job_new(JOB_TOKEN, i, id);
    if (j == NULL) {
        set_err(err, 0, false, "out of memory");
        return -ENOMEM;
    }
    j->imds = true;
    oc_strscpy(j->url, sizeof(j->url), url);
    return job_start(ctx, j, NULL, 0, err);
}

int oc_fetch_token_start(struct oc_fetch_ctx *ctx, size_t agent_index, const char *scope,
                         uint64_t id, struct oc_fetch_error *err)
{
    const struct oc_agent *a = agent_at(ctx->config, agent_index);
    const char *why = oc_agent_unusable(ctx->config, a);

    memset(err, 0, sizeof(*err));
    err->retry_after = -1;
    if (why != NULL) {
        set_err(err, 0, true, "agent %s: %s", a->name, why);
        return -EPERM;
    }
    if (a->credential == OC_CRED_MANAGED_IDENTITY) {
        return managed_identity(ctx, agent_index, scope, id, err);
    }
    if (a->credential == OC_CRED_AZURE_ARC) {
        return oc_cred_arc_start(ctx, agent_index, scope, id, err);
    }
    if (a->credential == OC_CRED_AGENT_IDENTITY) {
        return oc_cred_agent_start(ctx, agent_index, scope, id, err);
    }
    return client_credentials(ctx, agent_index, scope, id, err);
}

/* dir/name, replaced atomically (temporary .name.XXXXXX), mode 0644. */
static int write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
    char path[OC_CONFIG_PATH_MAX + 64];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

    if (n < 0 || (size_t)n >= sizeof(path)) {
        return -ENAMETOOLONG;
    }
    return oc_replace_file(path, NULL, data, len, 0644, (uid_t)-1, (gid_t)-1);
}

int oc_fetch_jwks_start(struct oc_fetch_ctx *ctx, const char *dir, uint64_t id,
                        struct oc_fetch_error *err)
{
    struct oc_fetch_job *j;
    const char *uri = oc_discovery_jwks_uri(ctx);
    int n;

    memset(err, 0, sizeof(*err));
    err->retry_after = -1;
    if (oc_discovery_due(ctx)) {
        /* Discovery first; its completion comes back here for the JWKS. */
        return oc_discovery_start(ctx, dir, id, err);
    }
    j = job_new(JOB_JWKS, 0, id);
    if (j == NULL) {
        set_err(err, 0, false, "out of memory");
        return -ENOMEM;
    }
    n = uri != NULL ? snprintf(j->url, sizeof(j->url), "%s", uri)
                    : snprintf(j->url, sizeof(j->url), "%s/%s/discovery/v2.0/keys",
                               ctx->config->global.authority, ctx->config->global.tenant_id);
    if (n < 0 || (size_t)n >= sizeof(j->url) || oc_strscpy(j->dir, sizeof(j->dir), dir) < 0) {
        free(j);
        set_err(err, 0, true, "authority or jwks directory too long");
        return -ENOBUFS;
    }
    return job_start(ctx, j, NULL, 0, err);
}

static int jwks_done(struct oc_fetch_job *j, struct oc_fetch_error *err)
{
    struct oc_jwks *jwks = NULL;
    const char *why = NULL;
    int r;

    if (j->resp.status != 200) {
        set_err(err, j->resp.status, false, "JWKS %s: HTTP %ld", j->url, j->resp.status);
        err->retry_after = j->resp.retry_after;
        return -EIO;
    }
    r = oc_jwks_parse(j->resp.body != NULL ? j->resp.body : "", j->resp.len, &jwks, &why);
    if (r < 0) {
        set_err(err, j->resp.status, false, "JWKS %s refused, the cached file is kept: %s", j->url,
                why != NULL ? why : strerror(-r));
        return r;
    }
    oc_jwks_free(jwks);
    (void)mkdir(j->dir, 0755);
    r = write_atomic(j->dir, "keys.json", j->resp.body, j->resp.len);
    if (r < 0) {
        set_err(err, 0, true, "cannot write %s/keys.json: %s", j->dir, strerror(-r));
    }
    return r;
}

static int token_done(struct oc_fetch_ctx *ctx, struct oc_fetch_job *j, struct oc_token *ret,
                      struct oc_fetch_error *err)
{
    const char *name = agent_at(ctx->config, j->agent)->name;

    if (j->resp.status != 200) {
        describe_error(name, &j->resp, err);
        err->retry_after = j->resp.retry_after;
        return -EIO;
    }
    return parse_token(name, &j->resp, ret, err);
}

int oc_fetch_graph_start(struct oc_fetch_ctx *ctx, const char *method, const char *url,
                         const char *bearer, const char *body, uint64_t id,
                         struct oc_fetch_error *err)
{
    struct oc_fetch_job *j;
    char *hdr;
    size_t n;

    memset(err, 0, sizeof(*err));
    err->retry_after = -1;
    j = job_new(JOB_GRAPH, 0, id);
    if (j == NULL) {
        set_err(err, 0, false, "out of memory");
        return -ENOMEM;
    }
    j->resp.cap = OC_GRAPH_BODY_MAX;
    if (oc_strscpy(j->url, sizeof(j->url), url) < 0) {
        free(j);
        set_err(err, 0, true, "Graph URL too long");
        return -ENOBUFS;
    }
    if (strcmp(method, "PATCH") == 0 || strcmp(method, "POST") == 0) {
        j->graph_post = method[1] == 'O';
        j->graph_body = strdup(body != NULL ? body : "{}");
        j->hdrs = curl_slist_append(j->hdrs, "Content-Type: application/json");
        if (j->graph_body == NULL) {
            free(j);
            set_err(err, 0, false, "out of memory");
            return -ENOMEM;
        }
    }
    n = strlen(bearer) + 32;
    hdr = malloc(n);
    if (hdr == NULL) {
        curl_slist_free_all(j->hdrs);
        free(j->graph_body);
        free(j);
        set_err(err, 0, false, "out of memory");
        return -ENOMEM;
    }
    (void)snprintf(hdr, n, "Authorization: Bearer %s", bearer);
    j->hdrs = curl_slist_append(j->hdrs, hdr);
    oc_free_wipe(hdr, n);
    return job_start(ctx, j, NULL, 0, err);
}

int oc_fetch_wait(struct oc_fetch_ctx *ctx, struct curl_waitfd *extra, unsigned n, int timeout_ms)
{
    int running = 0, numfds = 0;
    CURLMcode mc = curl_multi_poll(ctx->multi, extra, n, timeout_ms, &numfds);

    if (mc != CURLM_OK) {
        return -EIO;
    }
    curl_multi_perform(ctx->multi, &running);
    return 0;
}

/* A request of a multi-request job finished: hand it to its step. */
static int step_finished(struct oc_fetch_ctx *ctx, struct oc_fetch_job *j, CURLcode rc,
                         struct oc_fetch_result *ret)
{
    struct oc_step *st = j->step;
    struct oc_step_answer a = {.transport_ok = rc == CURLE_OK,
                               .transport_error = j->resp.too_big ? "response larger than the cap"
                                                                  : curl_easy_strerror(rc),
                               .body = j->resp.body != NULL ? j->resp.body : "",
                               .len = j->resp.len,
                               .retry_after = j->resp.retry_after,
                               .challenge = j->resp.challenge};
    int r;

    if (rc == CURLE_OK) {
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &a.status);
    }
    j->step = NULL; /* the step lives on in its next request, or ends in oc_step_done */
    memset(ret, 0, sizeof(*ret));
    ret->err.retry_after = -1;
    r = oc_step_done(ctx, st, &a, ret);
    job_free(ctx, j);
    return r;
}

int oc_fetch_next(struct oc_fetch_ctx *ctx, struct oc_fetch_result *ret)
{
    int left = 0;
    CURLMsg *m;

    while ((m = curl_multi_info_read(ctx->multi, &left)) != NULL) {
        struct oc_fetch_job *j = NULL;
        CURLcode rc;

        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        if (j == NULL) {
            continue;
        }
        if (j->kind == JOB_STEP) {
            if (step_finished(ctx, j, rc, ret) == 1) {
                return 1;
            }
            continue; /* its next request runs */
        }
        memset(ret, 0, sizeof(*ret));
        ret->err.retry_after = -1;
        ret->id = j->id;
        ret->agent = j->agent;
        ret->jwks = j->kind == JOB_JWKS;
        ret->graph = j->kind == JOB_GRAPH;
        if (rc != CURLE_OK) {
            const char *what = j->kind == JOB_JWKS    ? "JWKS endpoint"
                               : j->kind == JOB_GRAPH ? "Microsoft Graph"
                               : j->imds              ? "IMDS"
                                                      : "token endpoint";
            set_err(&ret->err, 0, false, "%s%s%s%s unreachable: %s: %s%s",
                    j->kind == JOB_TOKEN ? "agent " : "",
                    j->kind == JOB_TOKEN ? agent_at(ctx->config, j->agent)->name : "",
                    j->kind == JOB_TOKEN ? ": " : "", what, j->url,
                    j->resp.too_big ? "response larger than the cap" : curl_easy_strerror(rc),
                    rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE
                            ? " (check ca_file in openclaw.conf)"
                            : "");
            ret->result = -EIO;
        } else if (j->kind == JOB_GRAPH) {
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &j->resp.status);
            ret->http_status = j->resp.status;
            ret->err.retry_after = j->resp.retry_after;
            ret->body = j->resp.body;
            ret->body_len = j->resp.len;
            j->resp.body = NULL;
            j->resp.len = 0;
        } else {
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &j->resp.status);
            ret->result = j->kind == JOB_JWKS ? jwks_done(j, &ret->err)
                                              : token_done(ctx, j, &ret->token, &ret->err);
        }
        job_free(ctx, j);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* For the multi-request jobs (oc_cred.h)                             */
/* ------------------------------------------------------------------ */

int oc_fetch_step_start(struct oc_fetch_ctx *ctx, struct oc_step *st, const char *url, bool imds,
                        const char *authorization, char *form, size_t form_cap,
                        struct oc_fetch_error *err)
{
    struct oc_fetch_job *j = job_new(JOB_STEP, st->agent, st->id);
    char *h = NULL;
    int r = j == NULL ? -ENOMEM : 0;

    if (r == 0 && oc_strscpy(j->url, sizeof(j->url), url) < 0) {
        r = -ENOBUFS;
    }
    if (r == 0 && authorization != NULL) {
        if (asprintf(&h, "Authorization: %s", authorization) < 0) {
            h = NULL;
            r = -ENOMEM;
        } else {
            j->hdrs = curl_slist_append(NULL, h);
            oc_free_wipe_str(h);
            r = j->hdrs == NULL ? -ENOMEM : 0;
        }
    }
    if (r < 0) {
        free(j);
        if (form != NULL) {
            oc_free_wipe(form, form_cap);
        }
        set_err(err, 0, r == -ENOBUFS, r == -ENOBUFS ? "URL too long" : "out of memory");
        return r;
    }
    j->imds = imds;
    r = job_start(ctx, j, form, form_cap, err);
    if (r < 0) {
        return r; /* job_start freed the job; the step is still the caller's */
    }
    /* Not yet run (no transfer progresses before the next wait): safe to attach. */
    j->step = st;
    return 0;
}

int oc_fetch_client_auth(struct oc_fetch_ctx *ctx, size_t i, enum oc_credential kind,
                         const char *client_id, const char *audience, char *form, size_t cap,
                         struct oc_fetch_error *err)
{
    const struct oc_agent *a = &ctx->config->agents[i];
    char *secret = NULL, *assertion = NULL;
    int r;

    switch (kind) {
    case OC_CRED_SECRET_FILE:
    case OC_CRED_TPM_SEALED_SECRET:
        r = kind == OC_CRED_SECRET_FILE ? secret_from_file(a, &secret, err)
                                        : secret_from_tpm(ctx, a, &secret, err);
        if (r < 0) {
            return r;
        }
        r = form_add(form, cap, "client_secret", secret);
        oc_free_wipe(secret, SECRET_FILE_MAX + 1);
        break;
    case OC_CRED_TPM_CERTIFICATE:
        r = tpm_assertion(ctx, i, a, client_id, audience, &assertion, err);
        if (r < 0) {
            return r;
        }
        r = form_add(form, cap, "client_assertion_type",
                     "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        r = r < 0 ? r : form_add(form, cap, "client_assertion", assertion);
        oc_free_wipe_str(assertion);
        break;
    default:
        set_err(err, 0, true, "agent %s: credential %s cannot authenticate %s here", a->name,
                oc_credential_name(kind), client_id);
        return -EOPNOTSUPP;
    }
    if (r < 0) {
        set_err(err, 0, true, "agent %s: cannot build the token request", a->name);
    }
    return r;
}

int oc_fetch_form_add(char *form, size_t cap, const char *key, const char *value)
{
    return form_add(form, cap, key, value);
}

int oc_fetch_token_endpoint(const struct oc_fetch_ctx *ctx, char *buf, size_t len)
{
    const char *d = oc_discovery_token_endpoint(ctx);

    if (d != NULL) {
        return oc_strscpy(buf, len, d) < 0 ? -ENOBUFS : 0;
    }
    return token_url(ctx->config, buf, len);
}

int oc_fetch_answer_token(const char *who, const struct oc_step_answer *a, struct oc_token *ret,
                          struct oc_fetch_error *err)
{
    struct http_resp r = {.status = a->status,
                          .body = (char *)a->body,
                          .len = a->len,
                          .retry_after = a->retry_after};

    if (a->status != 200) {
        describe_error(who, &r, err);
        err->retry_after = a->retry_after;
        return -EIO;
    }
    return parse_token(who, &r, ret, err);
}

int oc_fetch_write_public(const char *dir, const char *name, const char *data, size_t len)
{
    return write_atomic(dir, name, data, len);
}

int oc_fetch_agent_key(struct oc_fetch_ctx *ctx, size_t agent_index, struct oc_tpm_key **ret_key,
                       struct oc_fetch_error *err)
{
    int r;

    if (agent_index >= ctx->config->n_agents ||
        ctx->config->agents[agent_index].credential != OC_CRED_TPM_CERTIFICATE) {
        return -ENOENT;
    }
    r = load_tpm_key(ctx, agent_index, err);
    if (r < 0) {
        return r;
    }
    *ret_key = ctx->keys[agent_index].key;
    return 0;
}
