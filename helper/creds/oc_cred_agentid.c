/* SPDX-License-Identifier: MIT */
/*
 * oc_cred_agentid.c: credential = agent-identity (Entra Agent ID). The
 * blueprint's own credential gets T1 (scope
 * api://AzureADTokenExchange/.default, fmi_path = the agent identity's
 * app id); T1 is then the agent identity's client assertion. T1 is cached
 * per (blueprint, agent identity) and renewed ahead of its expiry (while
 * renewing fails, the cached T1 is used until T1_MIN_LEFT before it
 * expires); never logged. Each request starts from the completion of the
 * previous one: nothing here waits for the network.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "helper/creds/oc_credkit.h"
#include "util.h"

#define T1_FORM_MAX          OC_CRED_FORM_MAX /* a token request form, T1 included */
#define OC_T1_SCOPE          "api://AzureADTokenExchange/.default"
#define OC_T1_REFRESH_MARGIN 300 /* seconds: T1 is renewed when less is left */
#define OC_T1_MIN_LEFT       60  /* seconds: a cached T1 still used when renewing fails */

struct t1_entry {
    char blueprint[OC_GUID_SIZE];
    char agent[OC_GUID_SIZE]; /* the fmi_path T1 was issued for */
    char *t1;                 /* wiped */
    int64_t expires_on;
    int64_t renew_at; /* fetch a new T1 from then on */
};

struct oc_t1_cache {
    struct t1_entry *t1;
    size_t n;
};

static const char *agent_identity_unusable(const struct oc_config *config,
                                           const struct oc_agent *agent)
{
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

static struct t1_entry *t1_find(struct oc_fetch_ctx *ctx, const struct oc_agent *a)
{
    struct oc_t1_cache *c = ctx->t1;

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
        if (ctx->t1 == NULL) {
            ctx->t1 = calloc(1, sizeof(*ctx->t1));
        }
        /* one entry per [agent] section and one for [directory] */
        if (ctx->t1 == NULL || ctx->t1->n >= ctx->config->n_agents + 1) {
            oc_token_clear(t1);
            return;
        }
        if (ctx->t1->t1 == NULL) {
            ctx->t1->t1 = calloc(ctx->config->n_agents + 1, sizeof(*ctx->t1->t1));
            if (ctx->t1->t1 == NULL) {
                oc_token_clear(t1);
                return;
            }
        }
        e = &ctx->t1->t1[ctx->t1->n++];
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

void oc_cred_agentid_free(struct oc_fetch_ctx *ctx)
{
    if (ctx->t1 != NULL) {
        for (size_t k = 0; k < ctx->t1->n; k++) {
            t1_drop(&ctx->t1->t1[k]);
        }
        free(ctx->t1->t1);
        free(ctx->t1);
        ctx->t1 = NULL;
    }
}

/* The agent identity's token answered. */
static int agent_token_step(struct oc_cred_job *job, const struct oc_http_answer *a,
                            struct oc_fetch_result *res)
{
    const struct oc_agent *ag = job->agent;
    int r;

    if (!a->transport_ok) {
        oc_cred_fail(&res->err, 0, false, "agent %s: the token endpoint unreachable: %s", ag->name,
                     a->transport_error);
        return -EIO;
    }
    r = oc_cred_answer_token(ag->name, a, &res->token, &res->err);
    if (r < 0 && a->status >= 400 && a->status < 500 && a->status != 429) {
        /* T1 may be what was refused (expired, revoked): get a new one next time. */
        struct t1_entry *e = t1_find(job->ctx, ag);
        if (e != NULL) {
            t1_drop(e);
        }
    }
    return r;
}

/* A client-credentials form of client_id for scope, then the pairs of
 * extra (key, value, ..., NULL), into *ret_form (T1_FORM_MAX bytes, a
 * secret); the token endpoint into url. what names the request in errors. */
static int grant_form(struct oc_cred_job *aj, const char *client_id, const char *scope,
                      const char *const *extra, const char *what, char *url, size_t url_len,
                      char **ret_form, struct oc_fetch_error *err)
{
    char *form;
    int r;

    if (oc_cred_token_endpoint(aj->ctx, url, url_len) < 0) {
        oc_cred_fail(err, 0, true, "agent %s: the token endpoint URL is too long", aj->agent->name);
        return -ENOBUFS;
    }
    form = calloc(1, T1_FORM_MAX);
    r = form == NULL ? -ENOMEM : 0;
    r = r < 0 ? r : oc_cred_form_add(form, T1_FORM_MAX, "grant_type", "client_credentials");
    r = r < 0 ? r : oc_cred_form_add(form, T1_FORM_MAX, "client_id", client_id);
    r = r < 0 ? r : oc_cred_form_add(form, T1_FORM_MAX, "scope", scope);
    for (size_t k = 0; r == 0 && extra[k] != NULL; k += 2) {
        r = oc_cred_form_add(form, T1_FORM_MAX, extra[k], extra[k + 1]);
    }
    if (r < 0) {
        if (form != NULL) {
            oc_free_wipe(form, T1_FORM_MAX);
        }
        oc_cred_fail(err, 0, r != -ENOMEM, "agent %s: cannot build %s token request",
                     aj->agent->name, what);
        return r;
    }
    *ret_form = form;
    return 0;
}

static int agent_token_start(struct oc_cred_job *aj, const char *t1, struct oc_fetch_error *err)
{
    const char *const extra[] = {"client_assertion_type",
                                 "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                                 "client_assertion", t1, NULL};
    struct oc_http_request req = {.form_cap = T1_FORM_MAX};
    char url[OC_CONFIG_PATH_MAX + 128];
    int r = grant_form(aj, aj->agent->app_id, aj->scope, extra, "the agent identity's", url,
                       sizeof(url), &req.form, err);

    if (r < 0) {
        return r;
    }
    req.url = url;
    return oc_cred_job_request(aj, &req, agent_token_step, err);
}

/* T1 answered: keep it and ask for the agent's token (1: it runs), or
 * the job's result. */
static int t1_step(struct oc_cred_job *aj, const struct oc_http_answer *a,
                   struct oc_fetch_result *ret)
{
    struct oc_fetch_ctx *ctx = aj->ctx;
    const struct oc_agent *ag = aj->agent;
    struct oc_token t1 = {0};
    struct t1_entry *e;
    char who[OC_USER_NAME_MAX + OC_GUID_SIZE + 64];
    int r;

    snprintf(who, sizeof(who), "%s (blueprint %s, T1 request)", ag->name, ag->blueprint_app_id);
    if (!a->transport_ok) {
        oc_cred_fail(&ret->err, 0, false, "agent %s: the token endpoint is unreachable: %s", who,
                     a->transport_error);
        r = -EIO;
    } else {
        r = oc_cred_answer_token(who, a, &t1, &ret->err);
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
        oc_cred_error_init(&ret->err);
        r = agent_token_start(aj, e->t1, &ret->err);
        return r < 0 ? r : 1;
    }
    t1_store(ctx, ag, &t1);
    e = t1_find(ctx, ag);
    if (e == NULL || e->t1 == NULL) {
        oc_cred_fail(&ret->err, 0, false, "out of memory");
        return -ENOMEM;
    }
    r = agent_token_start(aj, e->t1, &ret->err);
    return r < 0 ? r : 1;
}

static int t1_start(struct oc_cred_job *aj, struct oc_fetch_error *err)
{
    const struct oc_agent *a = aj->agent;
    const char *const extra[] = {"fmi_path", a->app_id, NULL};
    struct oc_http_request req = {.form_cap = T1_FORM_MAX};
    char url[OC_CONFIG_PATH_MAX + 128];
    int r = grant_form(aj, a->blueprint_app_id, OC_T1_SCOPE, extra, "the blueprint's", url,
                       sizeof(url), &req.form, err);

    if (r < 0) {
        return r;
    }
    /* The blueprint's own credential, from this section's files. */
    r = oc_cred_client_auth(aj->ctx, a, a->blueprint_credential, a->blueprint_app_id, url, req.form,
                            T1_FORM_MAX, err);
    if (r < 0) {
        oc_free_wipe(req.form, T1_FORM_MAX);
        return r;
    }
    req.url = url;
    return oc_cred_job_request(aj, &req, t1_step, err);
}

static int agent_identity_start(struct oc_fetch_ctx *ctx, const struct oc_agent *agent,
                                const char *scope, oc_fetch_done_fn done, void *arg,
                                struct oc_fetch_error *err)
{
    struct t1_entry *e = t1_find(ctx, agent);
    struct oc_cred_job *aj = oc_cred_job_new(ctx, agent, scope, done, arg, err);
    int r;

    if (aj == NULL) {
        return -ENOMEM;
    }
    if (e != NULL && e->t1 != NULL && oc_now() < e->renew_at) {
        r = agent_token_start(aj, e->t1, err); /* T1 reused */
    } else {
        r = t1_start(aj, err);
    }
    if (r < 0) {
        free(aj);
    }
    return r;
}

const struct oc_cred_kind oc_cred_agent_identity = {
        .kind = OC_CRED_AGENT_IDENTITY,
        .unusable = agent_identity_unusable,
        .start = agent_identity_start,
};
