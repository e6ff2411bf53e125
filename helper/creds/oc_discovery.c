/* SPDX-License-Identifier: MIT */
/*
 * oc_discovery.c: OIDC discovery of the authority's endpoints (see
 * oc_discovery.h). Fetched before every JWKS refresh; a document that passes
 * oc_discovery_parse() is written to <jwks_dir>/openid-configuration.json
 * (public data, 0644, atomic) and its token_endpoint and jwks_uri are used
 * from then on. Discovery down: the last good document (in memory, else
 * the cached file); none at all: the URLs built from authority and
 * tenant_id, and status says so.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "helper/creds/oc_credparse.h"
#include "helper/creds/oc_discovery.h"
#include "helper/creds/oc_http.h"
#include "util.h"

enum disc_source {
    DISC_NONE = 0, /* constructed URLs */
    DISC_CACHED,   /* read from the file at start */
    DISC_FETCHED,  /* fetched by this process */
};

struct oc_discovery_state {
    struct oc_discovery doc; /* valid unless source == DISC_NONE */
    enum disc_source source;
    int64_t fetched_at; /* when doc was fetched (the file's mtime for DISC_CACHED) */
    bool cache_tried;
    char last_error[OC_FETCH_ERR_MAX];
};

/* A discovery request in flight. */
struct disc_job {
    struct oc_fetch_ctx *ctx;
    char dir[OC_CONFIG_PATH_MAX + 8]; /* the JWKS directory */
    oc_discovery_done_fn done;
    void *arg;
};

static struct oc_discovery_state *disc(struct oc_fetch_ctx *ctx)
{
    if (ctx->discovery == NULL) {
        ctx->discovery = calloc(1, sizeof(*ctx->discovery));
    }
    return ctx->discovery;
}

void oc_discovery_free(struct oc_fetch_ctx *ctx)
{
    free(ctx->discovery);
    ctx->discovery = NULL;
}

const char *oc_discovery_token_endpoint(const struct oc_fetch_ctx *ctx)
{
    const struct oc_discovery_state *d = ctx->discovery;

    return d != NULL && d->source != DISC_NONE ? d->doc.token_endpoint : NULL;
}

const char *oc_discovery_jwks_uri(const struct oc_fetch_ctx *ctx)
{
    const struct oc_discovery_state *d = ctx->discovery;

    return d != NULL && d->source != DISC_NONE ? d->doc.jwks_uri : NULL;
}

static int expected_issuer(const struct oc_config *cfg, char *buf, size_t len)
{
    return oc_issuer_expand(cfg->global.issuer_v2, cfg->global.tenant_id, buf, len);
}

static int validate(const struct oc_fetch_ctx *ctx, const char *buf, size_t len,
                    struct oc_discovery *ret, const char **ret_why)
{
    char issuer[OC_CONFIG_PATH_MAX + OC_GUID_SIZE + 1];

    if (expected_issuer(ctx->config, issuer, sizeof(issuer)) < 0) {
        *ret_why = "issuer_v2 is too long";
        return -ENAMETOOLONG;
    }
    return oc_discovery_parse(buf, len, issuer, ctx->config->global.authority, ret, ret_why);
}

/* load_cache's file, open: a regular file of at most OC_DISCOVERY_MAX bytes. */
static void load_cache_fd(struct oc_fetch_ctx *ctx, struct oc_discovery_state *d, int fd,
                          const char *path)
{
    struct oc_discovery doc;
    const char *why = NULL;
    struct stat st;
    char *buf = NULL;
    size_t len = 0;

    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > OC_DISCOVERY_MAX) {
        return;
    }
    buf = malloc(OC_DISCOVERY_MAX + 1);
    if (buf == NULL) {
        return;
    }
    while (len <= OC_DISCOVERY_MAX) {
        ssize_t n = read(fd, buf + len, OC_DISCOVERY_MAX + 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    if (len <= OC_DISCOVERY_MAX && validate(ctx, buf, len, &doc, &why) == 0) {
        d->doc = doc;
        d->source = DISC_CACHED;
        d->fetched_at = (int64_t)st.st_mtime;
    } else {
        fprintf(stderr, "openclawd: %s ignored: %s\n", path,
                why != NULL ? why : "larger than 64 KiB");
    }
    free(buf);
}

/* The cached document, once, when nothing better is known: same checks. */
static void load_cache(struct oc_fetch_ctx *ctx, struct oc_discovery_state *d, const char *dir)
{
    char path[OC_CONFIG_PATH_MAX + 64];
    int fd;

    d->cache_tried = true;
    if (snprintf(path, sizeof(path), "%s/" OC_DISCOVERY_FILE, dir) >= (int)sizeof(path)) {
        return;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd >= 0) {
        load_cache_fd(ctx, d, fd, path);
        close(fd);
    }
}

static void discovery_done(void *arg, struct oc_http_answer *a);

int oc_discovery_start(struct oc_fetch_ctx *ctx, const char *dir, oc_discovery_done_fn done,
                       void *arg)
{
    struct oc_discovery_state *d = disc(ctx);
    struct oc_http_request req = {.done = discovery_done};
    char url[OC_CONFIG_PATH_MAX + 128];
    struct disc_job *dj;
    const char *why = NULL;
    int n, r;

    if (d == NULL) {
        return -ENOMEM; /* out of memory: the constructed URLs */
    }
    if (!d->cache_tried) {
        load_cache(ctx, d, dir);
    }
    n = snprintf(url, sizeof(url), "%s/%s/v2.0/.well-known/openid-configuration",
                 ctx->config->global.authority, ctx->config->global.tenant_id);
    dj = calloc(1, sizeof(*dj));
    r = dj == NULL ? -ENOMEM : n < 0 || (size_t)n >= sizeof(url) ? -ENOBUFS : 0;
    if (r == 0 && oc_strscpy(dj->dir, sizeof(dj->dir), dir) < 0) {
        r = -ENOBUFS;
    }
    if (r == 0) {
        dj->ctx = ctx;
        dj->done = done;
        dj->arg = arg;
        req.url = url;
        req.arg = dj;
        r = oc_http_start(ctx->http, &req, &why);
    }
    if (r < 0) {
        free(dj);
        snprintf(d->last_error, sizeof(d->last_error), "discovery not started: %s", strerror(-r));
    }
    return r;
}

/* dir/OC_DISCOVERY_FILE, replaced atomically, mode 0644. */
static int write_document(const char *dir, const char *data, size_t len)
{
    char path[OC_CONFIG_PATH_MAX + 64];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, OC_DISCOVERY_FILE);

    if (n < 0 || (size_t)n >= sizeof(path)) {
        return -ENAMETOOLONG;
    }
    return oc_replace_file(path, NULL, data, len, 0644, (uid_t)-1, (gid_t)-1);
}

static void discovery_done(void *arg, struct oc_http_answer *a)
{
    struct disc_job *dj = arg;
    struct oc_fetch_ctx *ctx = dj->ctx;
    struct oc_discovery_state *d = ctx->discovery;
    const char *body = a->body != NULL ? a->body : "";
    struct oc_discovery doc;
    const char *why = NULL;
    int r;

    if (a->cancelled) {
        dj->done(dj->arg, true);
        free(dj);
        return;
    }
    if (!a->transport_ok) {
        snprintf(d->last_error, sizeof(d->last_error), "OIDC discovery unreachable: %s",
                 a->transport_error);
    } else if (a->status != 200) {
        snprintf(d->last_error, sizeof(d->last_error), "OIDC discovery answered HTTP %ld",
                 a->status);
    } else if (validate(ctx, body, a->len, &doc, &why) < 0) {
        snprintf(d->last_error, sizeof(d->last_error),
                 "OIDC discovery document refused (%s); the previous %s is kept", why,
                 OC_DISCOVERY_FILE);
    } else {
        d->doc = doc;
        d->source = DISC_FETCHED;
        d->fetched_at = oc_now();
        d->last_error[0] = '\0';
        (void)mkdir(dj->dir, 0755);
        r = write_document(dj->dir, body, a->len);
        if (r < 0) {
            snprintf(d->last_error, sizeof(d->last_error),
                     "OIDC discovery: cannot write %.300s/%s: %s (the document is used anyway)",
                     dj->dir, OC_DISCOVERY_FILE, strerror(-r));
        }
    }
    if (d->last_error[0] != '\0') {
        fprintf(stderr, "openclawd: %s; %s\n", d->last_error,
                d->source == DISC_FETCHED  ? "using the last good document"
                : d->source == DISC_CACHED ? "using the cached document"
                                           : "using the endpoints built from authority and "
                                             "tenant_id");
    }
    dj->done(dj->arg, false);
    free(dj);
}

cJSON *oc_discovery_status(const struct oc_fetch_ctx *ctx, int64_t now)
{
    const struct oc_discovery_state *d = ctx->discovery;
    cJSON *o = cJSON_CreateObject();
    enum disc_source src = d != NULL ? d->source : DISC_NONE;

    cJSON_AddStringToObject(o, "source",
                            src == DISC_FETCHED  ? "discovered"
                            : src == DISC_CACHED ? "cached"
                                                 : "constructed");
    if (src != DISC_NONE) {
        cJSON_AddNumberToObject(o, "age", (double)(now - d->fetched_at));
        cJSON_AddStringToObject(o, "token_endpoint", d->doc.token_endpoint);
        cJSON_AddStringToObject(o, "jwks_uri", d->doc.jwks_uri);
    }
    if (d != NULL && d->last_error[0] != '\0') {
        cJSON_AddStringToObject(o, "last_error", d->last_error);
    }
    return o;
}
