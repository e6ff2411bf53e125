/* SPDX-License-Identifier: MIT */
/*
 * oc_cred.c: the credentials that take two requests, azure-arc (challenge,
 * key file, retry) and agent-identity (blueprint -> T1 -> agent token),
 * with the T1 cache. See oc_cred.h. Each request runs as an oc_fetch job;
 * nothing here waits for the network.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <curl/curl.h>
#include <linux/openat2.h>

#include "clock.h"
#include "helper/creds/oc_cred.h"
#include "util.h"

#define T1_FORM_MAX (32u * 1024u) /* a token request form, T1 included */

struct t1_entry {
    char blueprint[OC_GUID_SIZE];
    char agent[OC_GUID_SIZE]; /* the fmi_path T1 was issued for */
    char *t1;                 /* wiped */
    int64_t expires_on;
    int64_t renew_at; /* fetch a new T1 from then on */
};

struct oc_cred_ctx {
    struct t1_entry *t1;
    size_t n;
};

void oc_step_free(struct oc_step *st)
{
    free(st);
}

static struct oc_step *step_new(enum oc_step_kind kind, size_t agent, uint64_t id,
                                const char *scope)
{
    struct oc_step *st = calloc(1, sizeof(*st));

    if (st != NULL) {
        st->kind = kind;
        st->agent = agent;
        st->id = id;
        if (scope != NULL && oc_strscpy(st->scope, sizeof(st->scope), scope) < 0) {
            free(st);
            return NULL;
        }
    }
    return st;
}

static void fail(struct oc_fetch_error *err, long status, bool permanent, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void fail(struct oc_fetch_error *err, long status, bool permanent, const char *fmt, ...)
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

const char *oc_cred_unusable(const struct oc_config *config, const struct oc_agent *agent)
{
    if (agent->credential != OC_CRED_AGENT_IDENTITY) {
        return NULL; /* azure-arc needs nothing from the config */
    }
    switch (agent->blueprint_credential) {
    case OC_CRED_SECRET_FILE:
        if (!config->global.allow_insecure_credentials) {
            return "blueprint_credential = secret-file keeps the blueprint's secret on disk and is "
                   "refused unless [global] allow_insecure_credentials = yes (use "
                   "tpm-certificate in production)";
        }
        return agent->secret_file == NULL
                       ? "blueprint_credential = secret-file needs secret_file = PATH"
                       : NULL;
    case OC_CRED_TPM_CERTIFICATE:
        return agent->key_file == NULL || agent->cert_file == NULL
                       ? "blueprint_credential = tpm-certificate needs key_file and cert_file"
                       : NULL;
    case OC_CRED_TPM_SEALED_SECRET:
        return agent->sealed_file == NULL
                       ? "blueprint_credential = tpm-sealed-secret needs sealed_file = PATH"
                       : NULL;
    default:
        return "this blueprint_credential is not supported by this version of openclawd "
               "(supported: tpm-certificate, tpm-sealed-secret, secret-file)";
    }
}

/* ------------------------------------------------------------------ */
/* Azure Arc                                                          */
/* ------------------------------------------------------------------ */

static int arc_url(const struct oc_fetch_ctx *ctx, const char *scope, char *buf, size_t len)
{
    char resource[OC_PROTO_SCOPE_MAX + 1];
    size_t n = strlen(scope);
    char *esc;
    int w;

    /* Arc, like IMDS, takes a resource: drop "/.default". */
    if (n >= 9 && strcmp(scope + n - 9, "/.default") == 0) {
        n -= 9;
    }
    if (oc_strnscpy(resource, sizeof(resource), scope, n) < 0) {
        return -ENOBUFS;
    }
    esc = curl_easy_escape(NULL, resource, 0);
    if (esc == NULL) {
        return -ENOMEM;
    }
    w = snprintf(buf, len,
                 "%s/metadata/identity/oauth2/token?api-version=" OC_ARC_API_VERSION "&resource=%s",
                 ctx->arc_base != NULL ? ctx->arc_base : OC_ARC_DEFAULT, esc);
    curl_free(esc);
    return w < 0 || (size_t)w >= len ? -ENOBUFS : 0;
}

int oc_cred_arc_start(struct oc_fetch_ctx *ctx, size_t i, const char *scope, uint64_t id,
                      struct oc_fetch_error *err)
{
    const char *name = ctx->config->agents[i].name;
    char url[OC_CONFIG_PATH_MAX + 3 * (OC_PROTO_SCOPE_MAX + 1) + 128];
    struct oc_step *st;
    int r;

    r = arc_url(ctx, scope, url, sizeof(url));
    if (r < 0) {
        fail(err, 0, true, "agent %s: the Azure Arc token URL is too long", name);
        return r;
    }
    st = step_new(OC_STEP_ARC_CHALLENGE, i, id, scope);
    if (st == NULL) {
        fail(err, 0, false, "out of memory");
        return -ENOMEM;
    }
    r = oc_fetch_step_start(ctx, st, url, true, NULL, NULL, 0, err);
    if (r < 0) {
        oc_step_free(st);
    }
    return r;
}

static int openat2_nofollow(const char *path)
{
#ifdef SYS_openat2
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
                           .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    long fd;

    do {
        fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
    } while (fd < 0 && errno == EINTR);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) {
        return fd >= 0 ? (int)fd : -errno;
    }
#endif
    /* No openat2 (old kernel, or a seccomp filter): realpath() equality was
     * checked just before; O_NOFOLLOW covers the last component. */
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    return f >= 0 ? f : -errno;
}

/* arc_read_key's file, open: regular, capped, one line of printable ASCII. */
static int arc_read_open_key(int fd, char **ret_key, const char **ret_why)
{
    struct stat st;
    char *buf;
    size_t len;
    int r;

    if (fstat(fd, &st) < 0) {
        *ret_why = "the realm file cannot be examined";
        return -errno;
    }
    if (!S_ISREG(st.st_mode)) {
        *ret_why = "the realm is not a regular file";
        return -EPERM;
    }
    if (st.st_size > OC_ARC_KEY_MAX) {
        *ret_why = "the realm file is larger than 4096 bytes";
        return -EFBIG;
    }
    buf = malloc(OC_ARC_KEY_MAX + 2);
    if (buf == NULL) {
        *ret_why = "out of memory";
        return -ENOMEM;
    }
    /* Read one byte more than allowed: a file that grew is refused too. */
    r = oc_read_full(fd, buf, OC_ARC_KEY_MAX + 1, &len);
    if (r < 0) {
        oc_free_wipe(buf, OC_ARC_KEY_MAX + 2);
        *ret_why = "the realm file cannot be read";
        return r;
    }
    if (len > OC_ARC_KEY_MAX) {
        oc_free_wipe(buf, OC_ARC_KEY_MAX + 2);
        *ret_why = "the realm file is larger than 4096 bytes";
        return -EFBIG;
    }
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
    }
    if (len > 0 && buf[len - 1] == '\r') {
        len--;
    }
    buf[len] = '\0';
    for (size_t k = 0; k < len; k++) {
        /* It becomes a header value: printable ASCII without spaces only. */
        if (buf[k] <= ' ' || buf[k] >= 0x7f) {
            len = 0;
            break;
        }
    }
    if (len == 0) {
        oc_free_wipe(buf, OC_ARC_KEY_MAX + 2);
        *ret_why = "the realm file is empty or not printable ASCII";
        return -EBADMSG;
    }
    *ret_key = buf;
    return 0;
}

/*
 * Read the key file an Arc challenge names, after checking its path:
 * canonical, no symlink in any component, directly in dir, *.key, a
 * regular file of at most OC_ARC_KEY_MAX bytes of printable ASCII. The
 * content (a secret) goes to *ret_key, to be wiped by the caller.
 */
static int arc_read_key(const char *path, const char *dir, char **ret_key, const char **ret_why)
{
    char real[PATH_MAX];
    int fd, r;

    r = oc_arc_realm_check(path, dir, ret_why);
    if (r < 0) {
        return r;
    }
    if (realpath(path, real) == NULL) {
        *ret_why = errno == ENOENT ? "the realm file does not exist"
                                   : "the realm path cannot be resolved";
        return -errno;
    }
    if (strcmp(real, path) != 0) {
        *ret_why = "the realm path goes through a symbolic link";
        return -EPERM;
    }
    fd = openat2_nofollow(path);
    if (fd < 0) {
        *ret_why = fd == -ELOOP || fd == -EXDEV ? "the realm path goes through a symbolic link"
                                                : "the realm file cannot be opened";
        return fd;
    }
    r = arc_read_open_key(fd, ret_key, ret_why);
    close(fd);
    return r;
}

static int arc_challenge_done(struct oc_fetch_ctx *ctx, struct oc_step *st,
                              const struct oc_step_answer *a, struct oc_fetch_result *ret)
{
    const char *name = ctx->config->agents[st->agent].name;
    const char *dir = ctx->arc_token_dir != NULL ? ctx->arc_token_dir : OC_ARC_TOKEN_DIR;
    char url[OC_CONFIG_PATH_MAX + 3 * (OC_PROTO_SCOPE_MAX + 1) + 128];
    char path[OC_CONFIG_PATH_MAX + 1], *key = NULL, *auth = NULL;
    const char *why = NULL;
    int r;

    if (a->status != 401) {
        if (a->status == 200) {
            fail(&ret->err, 200, true,
                 "agent %s: the Azure Arc endpoint %s answered without the expected 401 "
                 "challenge; refused (check --arc / $IDENTITY_ENDPOINT: it must be the Azure "
                 "Connected Machine agent)",
                 name, ctx->arc_base != NULL ? ctx->arc_base : OC_ARC_DEFAULT);
            return -EPROTO;
        }
        return oc_fetch_answer_token(name, a, &ret->token, &ret->err);
    }
    if (a->challenge[0] == '\0') {
        fail(&ret->err, 401, false,
             "agent %s: the Azure Arc endpoint answered 401 without a WWW-Authenticate "
             "challenge; refused, no key file read (check that --arc names the Azure Connected "
             "Machine agent)",
             name);
        return -EPROTO;
    }
    r = oc_arc_challenge_realm(a->challenge, path, sizeof(path), &why);
    if (r < 0) {
        fail(&ret->err, 401, false, "agent %s: Azure Arc challenge refused, no key file read: %s",
             name, why);
        return r;
    }
    r = arc_read_key(path, dir, &key, &why);
    if (r < 0) {
        fail(&ret->err, 401, false,
             "agent %s: Azure Arc challenge refused: realm %s: %s (key files are accepted only "
             "directly in %s as regular *.key files of at most 4096 bytes, without symbolic "
             "links; see --arc-token-dir)",
             name, path, why, dir);
        return r;
    }
    r = asprintf(&auth, "Basic %s", key);
    oc_free_wipe(key, OC_ARC_KEY_MAX + 2);
    if (r < 0) {
        fail(&ret->err, 0, false, "out of memory");
        return -ENOMEM;
    }
    r = arc_url(ctx, st->scope, url, sizeof(url));
    if (r == 0) {
        st->kind = OC_STEP_ARC_TOKEN;
        r = oc_fetch_step_start(ctx, st, url, true, auth, NULL, 0, &ret->err);
    } else {
        fail(&ret->err, 0, true, "agent %s: the Azure Arc token URL is too long", name);
    }
    oc_free_wipe_str(auth);
    return r < 0 ? r : 1; /* 1: the step runs on */
}

/* ------------------------------------------------------------------ */
/* Entra Agent ID                                                     */
/* ------------------------------------------------------------------ */

static struct t1_entry *t1_find(struct oc_fetch_ctx *ctx, const struct oc_agent *a)
{
    struct oc_cred_ctx *c = ctx->cred;

    for (size_t k = 0; c != NULL && k < c->n; k++) {
        if (strcmp(c->t1[k].blueprint, a->blueprint_app_id) == 0 &&
            strcmp(c->t1[k].agent, a->app_id) == 0) {
            return &c->t1[k];
        }
    }
    return NULL;
}

static void t1_drop(struct t1_entry *e)
{
    oc_free_wipe_str(e->t1);
    e->t1 = NULL;
    e->expires_on = e->renew_at = 0;
}

/* Keep T1 (taken over) for a's (blueprint, agent identity). */
static void t1_store(struct oc_fetch_ctx *ctx, const struct oc_agent *a, struct oc_token *t1)
{
    struct t1_entry *e = t1_find(ctx, a);
    int64_t now = oc_now();

    if (e == NULL) {
        if (ctx->cred == NULL) {
            ctx->cred = calloc(1, sizeof(*ctx->cred));
        }
        if (ctx->cred == NULL || ctx->cred->n >= ctx->config->n_agents) {
            oc_token_clear(t1);
            return;
        }
        if (ctx->cred->t1 == NULL) {
            ctx->cred->t1 = calloc(ctx->config->n_agents, sizeof(*ctx->cred->t1));
            if (ctx->cred->t1 == NULL) {
                oc_token_clear(t1);
                return;
            }
        }
        e = &ctx->cred->t1[ctx->cred->n++];
        oc_strscpy(e->blueprint, sizeof(e->blueprint), a->blueprint_app_id);
        oc_strscpy(e->agent, sizeof(e->agent), a->app_id);
    }
    t1_drop(e);
    e->t1 = t1->access_token;
    e->expires_on = t1->expires_on;
    /* Renew at 3/4 of its life, and at least OC_T1_REFRESH_MARGIN before it expires. */
    e->renew_at = now + t1->lifetime * 3 / 4;
    if (e->renew_at > t1->expires_on - OC_T1_REFRESH_MARGIN) {
        e->renew_at = t1->expires_on - OC_T1_REFRESH_MARGIN;
    }
    memset(t1, 0, sizeof(*t1));
}

static int agent_token_start(struct oc_fetch_ctx *ctx, struct oc_step *st, const char *t1,
                             struct oc_fetch_error *err)
{
    const struct oc_agent *a = &ctx->config->agents[st->agent];
    char url[OC_CONFIG_PATH_MAX + 128];
    char *form;
    int r;

    if (oc_fetch_token_endpoint(ctx, url, sizeof(url)) < 0) {
        fail(err, 0, true, "agent %s: the token endpoint URL is too long", a->name);
        return -ENOBUFS;
    }
    form = calloc(1, T1_FORM_MAX);
    r = form == NULL ? -ENOMEM : 0;
    r = r < 0 ? r : oc_fetch_form_add(form, T1_FORM_MAX, "grant_type", "client_credentials");
    r = r < 0 ? r : oc_fetch_form_add(form, T1_FORM_MAX, "client_id", a->app_id);
    r = r < 0 ? r : oc_fetch_form_add(form, T1_FORM_MAX, "scope", st->scope);
    r = r < 0 ? r
              : oc_fetch_form_add(form, T1_FORM_MAX, "client_assertion_type",
                                  "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    r = r < 0 ? r : oc_fetch_form_add(form, T1_FORM_MAX, "client_assertion", t1);
    if (r < 0) {
        if (form != NULL) {
            oc_free_wipe(form, T1_FORM_MAX);
        }
        fail(err, 0, r != -ENOMEM, "agent %s: cannot build the agent identity's token request",
             a->name);
        return r;
    }
    st->kind = OC_STEP_AGENT_TOKEN;
    return oc_fetch_step_start(ctx, st, url, false, NULL, form, T1_FORM_MAX, err);
}

static int t1_start(struct oc_fetch_ctx *ctx, struct oc_step *st, struct oc_fetch_error *err)
{
    const struct oc_agent *a = &ctx->config->agents[st->agent];
    char url[OC_CONFIG_PATH_MAX + 128];
    char *form;
    int r;

    if (oc_fetch_token_endpoint(ctx, url, sizeof(url)) < 0) {
        fail(err, 0, true, "agent %s: the token endpoint URL is too long", a->name);
        return -ENOBUFS;
    }
    form = calloc(1, T1_FORM_MAX);
    r = form == NULL ? -ENOMEM : 0;
    r = r < 0 ? r : oc_fetch_form_add(form, T1_FORM_MAX, "grant_type", "client_credentials");
    r = r < 0 ? r : oc_fetch_form_add(form, T1_FORM_MAX, "client_id", a->blueprint_app_id);
    r = r < 0 ? r : oc_fetch_form_add(form, T1_FORM_MAX, "scope", OC_T1_SCOPE);
    r = r < 0 ? r : oc_fetch_form_add(form, T1_FORM_MAX, "fmi_path", a->app_id);
    if (r < 0) {
        if (form != NULL) {
            oc_free_wipe(form, T1_FORM_MAX);
        }
        fail(err, 0, r != -ENOMEM, "agent %s: cannot build the blueprint's token request", a->name);
        return r;
    }
    /* The blueprint's own credential, from this section's files. */
    r = oc_fetch_client_auth(ctx, st->agent, a->blueprint_credential, a->blueprint_app_id, url,
                             form, T1_FORM_MAX, err);
    if (r < 0) {
        oc_free_wipe(form, T1_FORM_MAX);
        return r;
    }
    st->kind = OC_STEP_AGENT_T1;
    return oc_fetch_step_start(ctx, st, url, false, NULL, form, T1_FORM_MAX, err);
}

int oc_cred_agent_start(struct oc_fetch_ctx *ctx, size_t i, const char *scope, uint64_t id,
                        struct oc_fetch_error *err)
{
    const struct oc_agent *a = &ctx->config->agents[i];
    struct t1_entry *e = t1_find(ctx, a);
    struct oc_step *st = step_new(OC_STEP_AGENT_T1, i, id, scope);
    int r;

    if (st == NULL) {
        fail(err, 0, false, "out of memory");
        return -ENOMEM;
    }
    if (e != NULL && e->t1 != NULL && oc_now() < e->renew_at) {
        r = agent_token_start(ctx, st, e->t1, err); /* T1 reused */
    } else {
        r = t1_start(ctx, st, err);
    }
    if (r < 0) {
        oc_step_free(st);
    }
    return r;
}

static int agent_t1_done(struct oc_fetch_ctx *ctx, struct oc_step *st,
                         const struct oc_step_answer *a, struct oc_fetch_result *ret)
{
    const struct oc_agent *ag = &ctx->config->agents[st->agent];
    struct oc_token t1 = {0};
    struct t1_entry *e;
    char who[OC_USER_NAME_MAX + OC_GUID_SIZE + 64];
    int r;

    snprintf(who, sizeof(who), "%s (blueprint %s, T1 request)", ag->name, ag->blueprint_app_id);
    if (!a->transport_ok) {
        fail(&ret->err, 0, false, "agent %s: the token endpoint is unreachable: %s", who,
             a->transport_error);
        r = -EIO;
    } else {
        r = oc_fetch_answer_token(who, a, &t1, &ret->err);
    }
    if (r < 0) {
        int64_t left;

        e = t1_find(ctx, ag);
        left = e != NULL && e->t1 != NULL ? e->expires_on - oc_now() : 0;
        if (left <= OC_T1_MIN_LEFT) {
            return r;
        }
        /* Renewing ahead failed: the cached T1 is still good for a while. */
        fprintf(stderr, "openclawd: %s; the cached T1 (valid %llds more) is used meanwhile\n",
                ret->err.msg, (long long)left);
        memset(&ret->err, 0, sizeof(ret->err));
        ret->err.retry_after = -1;
        r = agent_token_start(ctx, st, e->t1, &ret->err);
        return r < 0 ? r : 1;
    }
    t1_store(ctx, ag, &t1);
    e = t1_find(ctx, ag);
    if (e == NULL || e->t1 == NULL) {
        fail(&ret->err, 0, false, "out of memory");
        return -ENOMEM;
    }
    r = agent_token_start(ctx, st, e->t1, &ret->err);
    return r < 0 ? r : 1;
}

static int agent_token_done(struct oc_fetch_ctx *ctx, struct oc_step *st,
                            const struct oc_step_answer *a, struct oc_fetch_result *ret)
{
    const struct oc_agent *ag = &ctx->config->agents[st->agent];
    int r = oc_fetch_answer_token(ag->name, a, &ret->token, &ret->err);

    if (r < 0 && a->status >= 400 && a->status < 500 && a->status != 429) {
        /* T1 may be what was refused (expired, revoked): get a new one next time. */
        struct t1_entry *e = t1_find(ctx, ag);
        if (e != NULL) {
            t1_drop(e);
        }
    }
    return r;
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                           */
/* ------------------------------------------------------------------ */

int oc_step_done(struct oc_fetch_ctx *ctx, struct oc_step *st, const struct oc_step_answer *a,
                 struct oc_fetch_result *ret)
{
    const char *name;
    int r;

    ret->id = st->id;
    ret->agent = st->agent;
    ret->jwks = st->kind == OC_STEP_DISCOVERY;
    if (st->kind == OC_STEP_DISCOVERY) {
        return oc_discovery_step_done(ctx, st, a, ret);
    }
    name = ctx->config->agents[st->agent].name;
    if (!a->transport_ok && st->kind != OC_STEP_AGENT_T1) {
        fail(&ret->err, 0, false, "agent %s: %s unreachable: %s", name,
             st->kind == OC_STEP_ARC_CHALLENGE || st->kind == OC_STEP_ARC_TOKEN
                     ? "the Azure Arc endpoint"
                     : "the token endpoint",
             a->transport_error);
        r = -EIO;
    } else {
        switch (st->kind) {
        case OC_STEP_ARC_CHALLENGE:
            r = arc_challenge_done(ctx, st, a, ret);
            break;
        case OC_STEP_AGENT_T1:
            r = agent_t1_done(ctx, st, a, ret);
            break;
        case OC_STEP_AGENT_TOKEN:
            r = agent_token_done(ctx, st, a, ret);
            break;
        case OC_STEP_ARC_TOKEN:
        default:
            r = oc_fetch_answer_token(name, a, &ret->token, &ret->err);
            break;
        }
    }
    if (r == 1) {
        return 0; /* the step's next request runs and owns st */
    }
    ret->result = r;
    if (r < 0) {
        oc_token_clear(&ret->token);
    }
    oc_step_free(st);
    return 1;
}

void oc_cred_ctx_free(struct oc_fetch_ctx *ctx)
{
    if (ctx->cred != NULL) {
        for (size_t k = 0; k < ctx->cred->n; k++) {
            t1_drop(&ctx->cred->t1[k]);
        }
        free(ctx->cred->t1);
        free(ctx->cred);
        ctx->cred = NULL;
    }
    oc_discovery_free(ctx);
}
