/* SPDX-License-Identifier: MIT */
/*
 * oc_cred_client.c: the credential kinds of the OAuth2 client-credentials
 * grant, one request to the token endpoint: secret-file (client_secret
 * from an owner-only file), tpm-sealed-secret (client_secret unsealed by
 * the TPM), tpm-certificate (client_assertion signed inside the TPM).
 * Also the blueprint's authentication of agent-identity.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper/creds/oc_credkit.h"
#include "helper/creds/oc_sealed.h"
#include "helper/lib/oc_privfile.h"
#include "tpm/tpm.h"
#include "util.h"

#define SECRET_FILE_MAX 4096 /* a client secret file */
#define FORM_MAX        OC_CRED_FORM_MAX

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

/* The agent's client secret from its secret_file; on failure *err says why. */
static int secret_from_file(const struct oc_agent *a, char **ret_secret, struct oc_fetch_error *err)
{
    int r = read_secret(a->secret_file, ret_secret);

    if (r < 0) {
        oc_cred_fail(err, 0, true, "agent %s: cannot use secret_file %s: %s", a->name,
                     a->secret_file,
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

/* The client-credentials grant of agent's own credential. */
static int client_credentials(struct oc_fetch_ctx *ctx, const struct oc_agent *a, const char *scope,
                              oc_fetch_done_fn done, void *arg, struct oc_fetch_error *err)
{
    struct oc_http_request req = {0};
    char url[OC_CONFIG_PATH_MAX + 128];
    char *form = NULL, *secret = NULL, *assertion = NULL;
    int r;

    if (oc_cred_token_endpoint(ctx, url, sizeof(url)) < 0) {
        oc_cred_fail(err, 0, true, "authority too long");
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
        r = oc_credtpm_assertion(ctx, a, a->app_id, url, &assertion, err);
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
    r = r < 0 ? r : oc_cred_form_add(form, FORM_MAX, "grant_type", "client_credentials");
    r = r < 0 ? r : oc_cred_form_add(form, FORM_MAX, "client_id", a->app_id);
    r = r < 0 ? r : oc_cred_form_add(form, FORM_MAX, "scope", scope);
    if (secret != NULL) {
        r = r < 0 ? r : oc_cred_form_add(form, FORM_MAX, "client_secret", secret);
        oc_free_wipe(secret, SECRET_FILE_MAX + 1);
    }
    if (assertion != NULL) {
        r = r < 0 ? r
                  : oc_cred_form_add(form, FORM_MAX, "client_assertion_type",
                                     "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        r = r < 0 ? r : oc_cred_form_add(form, FORM_MAX, "client_assertion", assertion);
        oc_free_wipe_str(assertion);
    }
    if (r < 0) {
        if (form != NULL) {
            oc_free_wipe(form, FORM_MAX);
        }
        oc_cred_fail(err, 0, true, "agent %s: cannot build the token request", a->name);
        return r;
    }
    req.url = url;
    req.form = form;
    req.form_cap = FORM_MAX;
    return oc_cred_token_request(ctx, a, &req, done, arg, err);
}

int oc_cred_client_auth(struct oc_fetch_ctx *ctx, const struct oc_agent *a, enum oc_credential kind,
                        const char *client_id, const char *audience, char *form, size_t cap,
                        struct oc_fetch_error *err)
{
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
        r = oc_cred_form_add(form, cap, "client_secret", secret);
        oc_free_wipe(secret, SECRET_FILE_MAX + 1);
        break;
    case OC_CRED_TPM_CERTIFICATE:
        r = oc_credtpm_assertion(ctx, a, client_id, audience, &assertion, err);
        if (r < 0) {
            return r;
        }
        r = oc_cred_form_add(form, cap, "client_assertion_type",
                             "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
        r = r < 0 ? r : oc_cred_form_add(form, cap, "client_assertion", assertion);
        oc_free_wipe_str(assertion);
        break;
    default:
        oc_cred_fail(err, 0, true, "agent %s: credential %s cannot authenticate %s here", a->name,
                     oc_credential_name(kind), client_id);
        return -EOPNOTSUPP;
    }
    if (r < 0) {
        oc_cred_fail(err, 0, true, "agent %s: cannot build the token request", a->name);
    }
    return r;
}

static const char *secret_file_unusable(const struct oc_config *config,
                                        const struct oc_agent *agent)
{
    if (!config->global.allow_insecure_credentials) {
        return "credential = secret-file keeps a plain secret on disk and is refused unless "
               "[global] allow_insecure_credentials = yes (use tpm-certificate in production)";
    }
    return agent->secret_file == NULL ? "credential = secret-file needs secret_file = PATH" : NULL;
}

static const char *tpm_certificate_unusable(const struct oc_config *config,
                                            const struct oc_agent *agent)
{
    (void)config;
    return agent->key_file == NULL || agent->cert_file == NULL
                   ? "credential = tpm-certificate needs key_file and cert_file (openclawctl "
                     "tpm keygen / cert)"
                   : NULL;
}

static const char *tpm_sealed_secret_unusable(const struct oc_config *config,
                                              const struct oc_agent *agent)
{
    (void)config;
    return agent->sealed_file == NULL ? "credential = tpm-sealed-secret needs sealed_file "
                                        "(openclawctl tpm seal)"
                                      : NULL;
}

const struct oc_cred_kind oc_cred_secret_file = {
        .kind = OC_CRED_SECRET_FILE,
        .unusable = secret_file_unusable,
        .start = client_credentials,
};

const struct oc_cred_kind oc_cred_tpm_sealed_secret = {
        .kind = OC_CRED_TPM_SEALED_SECRET,
        .unusable = tpm_sealed_secret_unusable,
        .start = client_credentials,
};

const struct oc_cred_kind oc_cred_tpm_certificate = {
        .kind = OC_CRED_TPM_CERTIFICATE,
        .unusable = tpm_certificate_unusable,
        .start = client_credentials,
};
