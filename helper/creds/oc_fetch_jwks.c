/* SPDX-License-Identifier: MIT */
/*
 * oc_fetch_jwks.c: the tenant's JWKS (oc_fetch_jwks_start): OIDC
 * discovery first (oc_discovery.c), then the keys, validated and written
 * to <dir>/keys.json atomically (0644). The cached file is kept when
 * anything fails.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jwks.h"
#include "helper/creds/oc_credkit.h"
#include "helper/creds/oc_discovery.h"
#include "util.h"

/* A JWKS refresh in flight (discovery, then the keys). */
struct jwks_job {
    struct oc_fetch_ctx *ctx;
    char dir[OC_CONFIG_PATH_MAX + 8];
    oc_fetch_done_fn done;
    void *arg;
};

/* The keys, validated, into dir/keys.json. */
static int keys_write(const struct oc_http_answer *a, const char *dir, struct oc_fetch_error *err)
{
    char path[OC_CONFIG_PATH_MAX + 64];
    struct oc_jwks *jwks = NULL;
    const char *why = NULL;
    int n, r;

    if (a->status != 200) {
        oc_cred_fail(err, a->status, false, "JWKS %s: HTTP %ld", a->url, a->status);
        err->retry_after = a->retry_after;
        return -EIO;
    }
    r = oc_jwks_parse(a->body != NULL ? a->body : "", a->len, &jwks, &why);
    if (r < 0) {
        oc_cred_fail(err, a->status, false, "JWKS %s refused, the cached file is kept: %s", a->url,
                     why != NULL ? why : strerror(-r));
        return r;
    }
    oc_jwks_free(jwks);
    (void)mkdir(dir, 0755);
    n = snprintf(path, sizeof(path), "%s/%s", dir, "keys.json");
    r = n < 0 || (size_t)n >= sizeof(path)
                ? -ENAMETOOLONG
                : oc_replace_file(path, NULL, a->body != NULL ? a->body : "", a->len, 0644,
                                  (uid_t)-1, (gid_t)-1);
    if (r < 0) {
        oc_cred_fail(err, 0, true, "cannot write %s/keys.json: %s", dir, strerror(-r));
    }
    return r;
}

static void keys_answer(void *arg, struct oc_http_answer *a)
{
    struct jwks_job *jj = arg;
    struct oc_fetch_result res;

    if (a->cancelled) {
        oc_cred_cancelled(jj->done, jj->arg);
        free(jj);
        return;
    }
    memset(&res, 0, sizeof(res));
    oc_cred_error_init(&res.err);
    if (!a->transport_ok) {
        oc_cred_fail(&res.err, 0, false, "JWKS endpoint unreachable: %s: %s%s", a->url,
                     a->transport_error, a->tls_failed ? " (check ca_file in openclaw.conf)" : "");
        res.result = -EIO;
    } else {
        res.result = keys_write(a, jj->dir, &res.err);
    }
    oc_cred_finish(jj->done, jj->arg, &res);
    free(jj);
}

/* The keys request (after discovery). On failure jj stays the caller's. */
static int keys_request(struct jwks_job *jj, struct oc_fetch_error *err)
{
    const struct oc_config *cfg = jj->ctx->config;
    const char *uri = oc_discovery_jwks_uri(jj->ctx);
    struct oc_http_request req = {.done = keys_answer, .arg = jj};
    char url[OC_HTTP_URL_MAX];
    const char *why = NULL;
    int n, r;

    n = uri != NULL ? snprintf(url, sizeof(url), "%s", uri)
                    : snprintf(url, sizeof(url), "%s/%s/discovery/v2.0/keys", cfg->global.authority,
                               cfg->global.tenant_id);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        oc_cred_fail(err, 0, true, "authority or jwks directory too long");
        return -ENOBUFS;
    }
    req.url = url;
    r = oc_http_start(jj->ctx->http, &req, &why);
    if (r < 0) {
        oc_cred_fail(err, 0, r == -ENOBUFS, "%s", why);
    }
    return r;
}

/* Discovery ended (or did not run): the keys now. */
static void discovered(void *arg, bool cancelled)
{
    struct jwks_job *jj = arg;
    struct oc_fetch_result res;

    if (cancelled) {
        oc_cred_cancelled(jj->done, jj->arg);
        free(jj);
        return;
    }
    memset(&res, 0, sizeof(res));
    oc_cred_error_init(&res.err);
    res.result = keys_request(jj, &res.err);
    if (res.result < 0) {
        oc_cred_finish(jj->done, jj->arg, &res);
        free(jj);
    }
}

int oc_fetch_jwks_start(struct oc_fetch_ctx *ctx, const char *dir, oc_fetch_done_fn done, void *arg,
                        struct oc_fetch_error *err)
{
    struct jwks_job *jj = calloc(1, sizeof(*jj));
    int r;

    oc_cred_error_init(err);
    if (jj == NULL) {
        oc_cred_fail(err, 0, false, "out of memory");
        return -ENOMEM;
    }
    if (oc_strscpy(jj->dir, sizeof(jj->dir), dir) < 0) {
        free(jj);
        oc_cred_fail(err, 0, true, "authority or jwks directory too long");
        return -ENOBUFS;
    }
    jj->ctx = ctx;
    jj->done = done;
    jj->arg = arg;
    if (oc_discovery_start(ctx, dir, discovered, jj) == 0) {
        return 0; /* the keys follow from discovered() */
    }
    r = keys_request(jj, err);
    if (r < 0) {
        free(jj);
    }
    return r;
}
