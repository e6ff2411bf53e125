/* SPDX-License-Identifier: MIT */
/*
 * oc_fetch_graph.c: one Microsoft Graph request for the directory sync
 * (oc_fetch_graph_start): the bearer token in the Authorization header,
 * the answer handed over whatever its status (helper/sync/oc_graph.c
 * reads it).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper/creds/oc_credkit.h"
#include "util.h"

struct graph_job {
    oc_fetch_done_fn done;
    void *arg;
};

static void graph_answer(void *arg, struct oc_http_answer *a)
{
    struct graph_job *gj = arg;
    struct oc_fetch_result res;

    if (a->cancelled) {
        oc_cred_cancelled(gj->done, gj->arg);
        free(gj);
        return;
    }
    memset(&res, 0, sizeof(res));
    oc_cred_error_init(&res.err);
    if (!a->transport_ok) {
        oc_cred_fail(&res.err, 0, false, "Microsoft Graph unreachable: %s: %s%s", a->url,
                     a->transport_error, a->tls_failed ? " (check ca_file in openclaw.conf)" : "");
        res.result = -EIO;
    } else {
        res.http_status = a->status;
        res.err.retry_after = a->retry_after;
        res.body = a->body; /* taken */
        res.body_len = a->len;
        a->body = NULL;
    }
    oc_cred_finish(gj->done, gj->arg, &res);
    free(gj);
}

int oc_fetch_graph_start(struct oc_fetch_ctx *ctx, const char *method, const char *url,
                         const char *bearer, const char *body, oc_fetch_done_fn done, void *arg,
                         struct oc_fetch_error *err)
{
    struct graph_job *gj = calloc(1, sizeof(*gj));
    struct oc_http_request req = {.url = url, .body_max = OC_GRAPH_BODY_MAX, .done = graph_answer};
    const char *why = NULL;
    char *auth = NULL;
    int r;

    oc_cred_error_init(err);
    if (gj == NULL || asprintf(&auth, "Bearer %s", bearer) < 0) {
        free(gj);
        oc_cred_fail(err, 0, false, "out of memory");
        return -ENOMEM;
    }
    gj->done = done;
    gj->arg = arg;
    if (strcmp(method, "PATCH") == 0 || strcmp(method, "POST") == 0) {
        req.patch = method[1] == 'A';
        req.json = body != NULL ? body : "{}";
    }
    req.authorization = auth;
    req.arg = gj;
    r = oc_http_start(ctx->http, &req, &why);
    oc_free_wipe_str(auth);
    if (r < 0) {
        free(gj);
        oc_cred_fail(err, 0, r == -ENOBUFS, "%s", r == -ENOBUFS ? "Graph URL too long" : why);
    }
    return r;
}
