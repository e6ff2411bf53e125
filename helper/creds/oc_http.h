/* SPDX-License-Identifier: MIT */
/*
 * oc_http.h: the HTTP transport of libocreds. It runs requests in one
 * libcurl multi handle without ever blocking, and knows nothing of what
 * they are for: no credential kind, no JWKS, no Graph. Each request
 * carries its own completion callback and argument.
 *
 * TLS is always verified (ca_file when set, else the system store); no
 * redirects are followed; connect and total timeouts are bounded; answers
 * are capped; proxy variables (https_proxy, no_proxy) are honoured as
 * libcurl does by default, except for a local metadata endpoint (IMDS,
 * Azure Arc), which is never proxied and is the only one allowed plain
 * http. Forms and the Authorization header are secrets: wiped with the
 * request.
 */
#ifndef OC_HTTP_H
#define OC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "conf.h"  /* OC_CONFIG_PATH_MAX */
#include "proto.h" /* OC_PROTO_SCOPE_MAX */

#define OC_HTTP_BODY_MAX        (256u * 1024u) /* an answer's body, unless the request says */
#define OC_HTTP_CONNECT_TIMEOUT 5L             /* seconds */
#define OC_HTTP_TOTAL_TIMEOUT   15L            /* seconds */
#define OC_RETRY_AFTER_MAX      3600           /* Retry-After honoured up to this */
#define OC_HTTP_URL_MAX         (OC_CONFIG_PATH_MAX + 2 * (OC_PROTO_SCOPE_MAX + 1) + 256)
#define OC_HTTP_CHALLENGE_MAX   (OC_CONFIG_PATH_MAX + 64) /* a WWW-Authenticate value */

struct oc_http;

/* What one request got back. */
struct oc_http_answer {
    /* The transport is being freed: release the request's state, start
     * nothing, report nothing. Every other field is empty. */
    bool cancelled;
    bool transport_ok;           /* false: no HTTP answer (see transport_error) */
    const char *transport_error; /* libcurl's text, or "response larger than the cap" */
    bool tls_failed;             /* the peer's certificate or the CA file failed */
    const char *url;
    long status;
    /* NUL-terminated, len bytes; NULL when empty. The callback may take it
     * (set body to NULL, free it with oc_free_wipe(body, len + 1));
     * otherwise it is wiped and freed after the callback. */
    char *body;
    size_t len;
    int64_t retry_after;   /* seconds from Retry-After (delta-seconds), -1 when absent */
    const char *challenge; /* the first WWW-Authenticate value, "" when absent */
};

/* Called once per started request: from oc_http_dispatch() with the
 * answer, or from oc_http_free() with answer->cancelled. */
typedef void (*oc_http_done_fn)(void *arg, struct oc_http_answer *a);

struct oc_http_request {
    const char *url; /* at most OC_HTTP_URL_MAX - 1 bytes */
    /* A local metadata endpoint (IMDS, Azure Arc): plain http allowed,
     * never proxied, "Metadata: true" sent. */
    bool metadata;
    const char *authorization; /* "Authorization:" value (a secret: wiped), or NULL */
    /* POST this form (URL-encoded, a secret): taken over, also on
     * failure; wiped over form_cap bytes and freed with the request. */
    char *form;
    size_t form_cap;
    /* A JSON body (copied), sent with POST, or with PATCH when patch. */
    const char *json;
    bool patch;
    size_t body_max; /* cap of the answer's body; 0: OC_HTTP_BODY_MAX */
    oc_http_done_fn done;
    void *arg;
};

/* ca_file: the CA bundle to verify servers with (NULL: the system store);
 * kept by reference. 0 or -ENOMEM. */
int oc_http_new(const char *ca_file, struct oc_http **ret);

/* Every request still running is cancelled (its callback is called with
 * cancelled), then the transport freed. NULL: no-op. */
void oc_http_free(struct oc_http *h);

/* Start req. 0; or a negative errno with *ret_why saying why (the callback
 * is then never called): -ENOBUFS URL too long, -ENOMEM. */
int oc_http_start(struct oc_http *h, const struct oc_http_request *req, const char **ret_why);

/* Poll the extra fds and every transfer (curl_multi_poll), then drive the
 * transfers. revents of extra are set. 0 or -EIO. */
int oc_http_wait(struct oc_http *h, struct curl_waitfd *extra, unsigned n, int timeout_ms);

/* Call the callback of every request that has finished. A callback may
 * start new requests. */
void oc_http_dispatch(struct oc_http *h);

#endif
