/* SPDX-License-Identifier: MIT */
/* oc_http.c: the HTTP transport, one libcurl multi handle (see oc_http.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "helper/creds/oc_http.h"
#include "util.h"

struct http_resp {
    long status;
    char *body;
    size_t len;
    bool too_big;
    int64_t retry_after;
    char challenge[OC_HTTP_CHALLENGE_MAX]; /* first WWW-Authenticate value, "" if none */
    size_t cap;
};

struct http_job {
    CURL *easy;
    struct curl_slist *hdrs; /* may hold a secret (Authorization): wiped */
    char *form;              /* holds a secret or an assertion: wiped */
    size_t form_cap;
    char *json; /* the JSON body, or NULL */
    struct http_resp resp;
    char errbuf[CURL_ERROR_SIZE];
    char url[OC_HTTP_URL_MAX];
    oc_http_done_fn done;
    void *arg;
    struct http_job *next; /* h->jobs list */
};

struct oc_http {
    CURLM *multi;
    const char *ca_file;
    struct http_job *jobs; /* in flight */
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct http_resp *r = userdata;
    size_t n = size * nmemb;
    char *p;

    if (n > r->cap || r->len + n > r->cap) {
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
static bool challenge_header(const char *buf, size_t n, char *dst, size_t cap)
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

    if (challenge_header(buf, n, r->challenge, sizeof(r->challenge))) {
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

static void job_free(struct oc_http *h, struct http_job *j)
{
    for (struct http_job **pp = &h->jobs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    }
    if (j->easy != NULL) {
        curl_multi_remove_handle(h->multi, j->easy);
        curl_easy_cleanup(j->easy);
    }
    /* A header may hold a secret (Authorization): wipe them all. */
    for (struct curl_slist *s = j->hdrs; s != NULL; s = s->next) {
        oc_wipe(s->data, strlen(s->data));
    }
    curl_slist_free_all(j->hdrs);
    if (j->form != NULL) {
        oc_free_wipe(j->form, j->form_cap);
    }
    if (j->resp.body != NULL) {
        oc_free_wipe(j->resp.body, j->resp.len);
    }
    free(j->json);
    free(j);
}

int oc_http_new(const char *ca_file, struct oc_http **ret)
{
    struct oc_http *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        return -ENOMEM;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(h);
        return -ENOMEM;
    }
    h->ca_file = ca_file;
    h->multi = curl_multi_init();
    if (h->multi == NULL) {
        curl_global_cleanup();
        free(h);
        return -ENOMEM;
    }
    *ret = h;
    return 0;
}

void oc_http_free(struct oc_http *h)
{
    if (h == NULL) {
        return;
    }
    while (h->jobs != NULL) {
        struct http_job *j = h->jobs;
        struct oc_http_answer a = {.cancelled = true,
                                   .transport_error = "cancelled",
                                   .url = j->url,
                                   .retry_after = -1,
                                   .challenge = ""};

        h->jobs = j->next; /* the callback starts nothing */
        j->next = NULL;
        j->done(j->arg, &a);
        job_free(h, j);
    }
    curl_multi_cleanup(h->multi);
    curl_global_cleanup();
    free(h);
}

/* The request headers, in the order they have always been sent. */
static int job_headers(struct http_job *j, const struct oc_http_request *req)
{
    char *auth = NULL;
    struct curl_slist *s;

    if (req->json != NULL) {
        s = curl_slist_append(j->hdrs, "Content-Type: application/json");
        if (s == NULL) {
            return -ENOMEM;
        }
        j->hdrs = s;
    }
    if (req->authorization != NULL) {
        if (asprintf(&auth, "Authorization: %s", req->authorization) < 0) {
            return -ENOMEM;
        }
        s = curl_slist_append(j->hdrs, auth);
        oc_free_wipe_str(auth);
        if (s == NULL) {
            return -ENOMEM;
        }
        j->hdrs = s;
    }
    s = curl_slist_append(j->hdrs, "Accept: application/json");
    if (s == NULL) {
        return -ENOMEM;
    }
    j->hdrs = s;
    if (req->metadata) {
        s = curl_slist_append(j->hdrs, "Metadata: true");
        if (s == NULL) {
            return -ENOMEM;
        }
        j->hdrs = s;
    }
    return 0;
}

static void job_options(struct oc_http *h, struct http_job *j, const struct oc_http_request *req)
{
    CURL *c = j->easy;

    curl_easy_setopt(c, CURLOPT_URL, j->url);
    curl_easy_setopt(c, CURLOPT_PRIVATE, j);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, req->metadata ? "http,https" : "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->ca_file != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    }
    if (req->metadata) {
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
    if (j->form != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->form);
    }
    if (j->json != NULL) {
        if (req->patch) {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PATCH");
        }
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->json);
    }
}

int oc_http_start(struct oc_http *h, const struct oc_http_request *req, const char **ret_why)
{
    struct http_job *j = calloc(1, sizeof(*j));
    int r;

    if (j == NULL) {
        if (req->form != NULL) {
            oc_free_wipe(req->form, req->form_cap);
        }
        *ret_why = "out of memory";
        return -ENOMEM;
    }
    j->form = req->form;
    j->form_cap = req->form_cap;
    j->done = req->done;
    j->arg = req->arg;
    j->resp.retry_after = -1;
    j->resp.cap = req->body_max != 0 ? req->body_max : OC_HTTP_BODY_MAX;
    if (oc_strscpy(j->url, sizeof(j->url), req->url) < 0) {
        job_free(h, j);
        *ret_why = "URL too long";
        return -ENOBUFS;
    }
    r = job_headers(j, req);
    if (r == 0 && req->json != NULL) {
        j->json = strdup(req->json);
        r = j->json == NULL ? -ENOMEM : 0;
    }
    if (r < 0) {
        job_free(h, j);
        *ret_why = "out of memory";
        return r;
    }
    j->easy = curl_easy_init();
    if (j->easy == NULL) {
        job_free(h, j);
        *ret_why = "cannot initialise libcurl";
        return -ENOMEM;
    }
    job_options(h, j, req);
    if (curl_multi_add_handle(h->multi, j->easy) != CURLM_OK) {
        job_free(h, j);
        *ret_why = "cannot start an HTTP request";
        return -ENOMEM;
    }
    j->next = h->jobs;
    h->jobs = j;
    return 0;
}

int oc_http_wait(struct oc_http *h, struct curl_waitfd *extra, unsigned n, int timeout_ms)
{
    int running = 0, numfds = 0;
    CURLMcode mc = curl_multi_poll(h->multi, extra, n, timeout_ms, &numfds);

    if (mc != CURLM_OK) {
        return -EIO;
    }
    curl_multi_perform(h->multi, &running);
    return 0;
}

void oc_http_dispatch(struct oc_http *h)
{
    int left = 0;
    CURLMsg *m;

    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        struct http_job *j = NULL;
        struct oc_http_answer a;
        CURLcode rc;

        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        if (j == NULL) {
            continue;
        }
        a = (struct oc_http_answer){.transport_ok = rc == CURLE_OK,
                                    .transport_error = j->resp.too_big
                                                               ? "response larger than the cap"
                                                               : curl_easy_strerror(rc),
                                    .tls_failed = rc == CURLE_PEER_FAILED_VERIFICATION ||
                                                  rc == CURLE_SSL_CACERT_BADFILE,
                                    .url = j->url,
                                    .body = j->resp.body,
                                    .len = j->resp.len,
                                    .retry_after = j->resp.retry_after,
                                    .challenge = j->resp.challenge};
        if (rc == CURLE_OK) {
            curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &a.status);
        }
        j->resp.body = NULL; /* the answer's now */
        j->resp.len = 0;
        j->done(j->arg, &a);
        if (a.body != NULL) {
            oc_free_wipe(a.body, a.len + 1);
        }
        job_free(h, j);
    }
}
