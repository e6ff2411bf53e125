/* SPDX-License-Identifier: MIT */
/*
 * oc_credtpm.c: the TPM context of libocreds and the keys loaded in it
 * (tpm-certificate agents, an agent-identity blueprint's key), each loaded
 * once from its blob and kept; reopened after the TPM went away.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "clock.h"
#include "helper/creds/oc_credkit.h"
#include "tpm/tpm.h"
#include "util.h"

struct oc_agent_keys {
    struct oc_tpm_key *key; /* NULL until loaded */
    X509 *cert;
};

/* The keys of an [agent] section, or of the [directory] credential. */
static struct oc_agent_keys *keys_of(const struct oc_fetch_ctx *ctx, const struct oc_agent *a)
{
    const struct oc_config *cfg = ctx->config;

    if (cfg->directory != NULL && a == &cfg->directory->agent) {
        return ctx->dir_keys;
    }
    return &ctx->keys[a - cfg->agents];
}

static void keys_free(struct oc_agent_keys *k)
{
    if (k->key != NULL) {
        oc_tpm_key_free(k->key);
        k->key = NULL;
    }
    X509_free(k->cert);
    k->cert = NULL;
}

static void free_keys(struct oc_fetch_ctx *ctx)
{
    for (size_t i = 0; ctx->keys != NULL && i < ctx->config->n_agents; i++) {
        keys_free(&ctx->keys[i]);
    }
    if (ctx->dir_keys != NULL) {
        keys_free(ctx->dir_keys);
    }
}

int oc_credtpm_init(struct oc_fetch_ctx *ctx)
{
    ctx->keys = calloc(ctx->config->n_agents + 1, sizeof(*ctx->keys)); /* never 0 bytes */
    ctx->dir_keys = calloc(1, sizeof(*ctx->dir_keys));
    return ctx->keys != NULL && ctx->dir_keys != NULL ? 0 : -ENOMEM;
}

void oc_credtpm_done(struct oc_fetch_ctx *ctx)
{
    free_keys(ctx);
    free(ctx->keys);
    ctx->keys = NULL;
    free(ctx->dir_keys);
    ctx->dir_keys = NULL;
    oc_tpm_close(ctx->tpm);
    ctx->tpm = NULL;
}

void oc_fetch_tpm_failed(struct oc_fetch_ctx *ctx, int r)
{
    if (r != -ENODEV || ctx->tpm == NULL) {
        return;
    }
    fprintf(stderr, "openclawd: the TPM connection failed; it is closed and opened again at "
                    "the next attempt (keys reloaded from their blobs)\n");
    free_keys(ctx);
    oc_tpm_close(ctx->tpm);
    ctx->tpm = NULL;
}

static int load_tpm_key(struct oc_fetch_ctx *ctx, const struct oc_agent *a,
                        struct oc_agent_keys **ret_keys, struct oc_fetch_error *err)
{
    struct oc_agent_keys *k = keys_of(ctx, a);
    struct oc_tpmblob b;
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *why = NULL;
    char tpmerr[512];
    FILE *f;
    int r;

    if (k->key != NULL) {
        *ret_keys = k;
        return 0;
    }
    r = oc_tpm_blob_read_file(a->key_file, &buf, &len);
    if (r < 0) {
        oc_cred_fail(err, 0, true, "agent %s: cannot read key_file %s: %s", a->name, a->key_file,
                     strerror(-r));
        return r;
    }
    r = oc_tpmblob_parse(buf, len, &b, &why);
    if (r < 0) {
        free(buf);
        oc_cred_fail(err, 0, true, "agent %s: key_file %s is not a TPM key blob: %s", a->name,
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
            oc_cred_fail(err, 0, false, "agent %s: %s", a->name, tpmerr);
            return r;
        }
    }
    r = oc_tpm_key_load(ctx->tpm, buf, len, &k->key);
    free(buf);
    if (r < 0) {
        /* an unreachable TPM is not the blob's fault: retry later */
        oc_cred_fail(err, 0, r != -ENODEV, "agent %s: the TPM refuses key_file %s: %s", a->name,
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
        oc_cred_fail(err, 0, true, "agent %s: cert_file %s is not a PEM certificate", a->name,
                     a->cert_file);
        return -EINVAL;
    }
    *ret_keys = k;
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

int oc_credtpm_assertion(struct oc_fetch_ctx *ctx, const struct oc_agent *a, const char *client_id,
                         const char *audience, char **ret_jwt, struct oc_fetch_error *err)
{
    struct oc_assertion_params p = {
            .client_id = client_id, .audience = audience, .now = oc_now(), .lifetime = 0};
    struct oc_agent_keys *k = NULL;
    int r = load_tpm_key(ctx, a, &k, err);

    if (r < 0) {
        return r;
    }
    r = oc_tpm_client_assertion(k->key, k->cert, &p, ret_jwt);
    if (r < 0) {
        oc_cred_fail(err, 0, false, "agent %s: the TPM could not sign the client assertion: %s",
                     a->name, oc_tpm_strerror(ctx->tpm));
        oc_fetch_tpm_failed(ctx, r);
    }
    return r;
}

int oc_fetch_agent_key(struct oc_fetch_ctx *ctx, size_t agent_index, struct oc_tpm_key **ret_key,
                       struct oc_fetch_error *err)
{
    struct oc_agent_keys *k = NULL;
    int r;

    if (agent_index >= ctx->config->n_agents ||
        ctx->config->agents[agent_index].credential != OC_CRED_TPM_CERTIFICATE) {
        return -ENOENT;
    }
    r = load_tpm_key(ctx, &ctx->config->agents[agent_index], &k, err);
    if (r < 0) {
        return r;
    }
    *ret_key = k->key;
    return 0;
}
