/* SPDX-License-Identifier: MIT */
/*
 * oc_fetch.c: libocreds' entry points (oc_fetch.h): the context, and the
 * table of credential kinds a token job is handed to. Nothing here knows
 * how a kind gets its token.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper/creds/oc_credkit.h"
#include "helper/creds/oc_discovery.h"
#include "util.h"

/* Every credential kind, one file each (helper/creds/README.md). */
static const struct oc_cred_kind *const kinds[] = {
        &oc_cred_secret_file,      &oc_cred_tpm_sealed_secret, &oc_cred_tpm_certificate,
        &oc_cred_managed_identity, &oc_cred_azure_arc,         &oc_cred_agent_identity,
};

static const struct oc_cred_kind *kind_of(enum oc_credential credential)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (kinds[i]->kind == credential) {
            return kinds[i];
        }
    }
    return NULL;
}

int oc_fetch_init(struct oc_fetch_ctx *ctx, const struct oc_config *config, const char *imds_base)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->config = config;
    ctx->imds_base = imds_base;
    if (oc_credtpm_init(ctx) < 0) {
        return -ENOMEM;
    }
    return oc_http_new(config->global.ca_file, &ctx->http);
}

void oc_fetch_set_arc(struct oc_fetch_ctx *ctx, const char *arc_base, const char *arc_token_dir)
{
    ctx->arc_base = arc_base;
    ctx->arc_token_dir = arc_token_dir;
}

void oc_fetch_done(struct oc_fetch_ctx *ctx)
{
    if (ctx->config == NULL) {
        return;
    }
    /* First: the cancelled jobs' callbacks free their state. */
    oc_http_free(ctx->http);
    ctx->http = NULL;
    oc_credtpm_done(ctx);
    oc_cred_agentid_free(ctx);
    oc_discovery_free(ctx);
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
    const struct oc_cred_kind *k;

    if (!agent->enabled) {
        return "the agent is disabled in openclaw.conf (enabled = no)";
    }
    if (agent->credential == OC_CRED_NONE) {
        return "the agent has no credential (credential = none): openclawd cannot get its tokens";
    }
    k = kind_of(agent->credential);
    if (k == NULL) {
        return "this credential kind is not supported by this version of openclawd "
               "(supported: secret-file, tpm-certificate, tpm-sealed-secret, managed-identity, "
               "azure-arc, agent-identity)";
    }
    return k->unusable != NULL ? k->unusable(config, agent) : NULL;
}

int oc_fetch_token_start(struct oc_fetch_ctx *ctx, const struct oc_agent *agent, const char *scope,
                         oc_fetch_done_fn done, void *arg, struct oc_fetch_error *err)
{
    const char *why = oc_agent_unusable(ctx->config, agent);

    oc_cred_error_init(err);
    if (why != NULL) {
        oc_cred_fail(err, 0, true, "agent %s: %s", agent->name, why);
        return -EPERM;
    }
    return kind_of(agent->credential)->start(ctx, agent, scope, done, arg, err);
}

int oc_fetch_wait(struct oc_fetch_ctx *ctx, struct curl_waitfd *extra, unsigned n, int timeout_ms)
{
    return oc_http_wait(ctx->http, extra, n, timeout_ms);
}

void oc_fetch_dispatch(struct oc_fetch_ctx *ctx)
{
    oc_http_dispatch(ctx->http);
}

cJSON *oc_fetch_discovery_status(const struct oc_fetch_ctx *ctx, int64_t now)
{
    return oc_discovery_status(ctx, now);
}
