/* SPDX-License-Identifier: MIT */
/* oc_mihttp.c: strict request parser and response writer of the MI endpoint (see oc_mihttp.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "helper/daemon/oc_mihttp.h"
#include "util.h"

static int fail(const char **ret_why, const char *why)
{
    if (ret_why != NULL) {
        *ret_why = why;
    }
    return -EINVAL;
}

ssize_t oc_mihttp_head_len(const char *buf, size_t len)
{
    size_t n = len < OC_MIHTTP_HEAD_MAX ? len : OC_MIHTTP_HEAD_MAX;

    for (size_t i = 3; i < n; i++) {
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r') {
            return (ssize_t)(i + 1);
        }
    }
    return len >= OC_MIHTTP_HEAD_MAX ? -E2BIG : 0;
}

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Case-insensitive comparison of the n bytes at s with the lowercase word. */
static bool name_is(const char *s, size_t n, const char *word)
{
    if (strlen(word) != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != word[i]) {
            return false;
        }
    }
    return true;
}

/* End of the line starting at p: the CR of its CRLF, or NULL. */
static const char *line_end(const char *p, const char *end)
{
    for (; p + 1 < end; p++) {
        if (*p == '\r') {
            return p[1] == '\n' ? p : NULL;
        }
        if (*p == '\n') {
            return NULL; /* bare LF */
        }
    }
    return NULL;
}

static int parse_request_line(const char *p, const char *eol, struct oc_mihttp_request *req,
                              const char **ret_why)
{
    const char *sp, *q;
    size_t n;

    for (sp = p; sp < eol && *sp >= 'A' && *sp <= 'Z'; sp++) {
    }
    n = (size_t)(sp - p);
    if (n == 0 || n > OC_MIHTTP_METHOD_MAX || sp == eol || *sp != ' ') {
        return fail(ret_why, "bad method");
    }
    memcpy(req->method, p, n);
    req->method[n] = '\0';
    p = sp + 1;
    for (sp = p; sp < eol && *sp != ' '; sp++) {
        if ((unsigned char)*sp <= 0x20 || (unsigned char)*sp >= 0x7f || *sp == '#') {
            return fail(ret_why, "bad character in the request target");
        }
    }
    n = (size_t)(sp - p);
    if (n == 0 || *p != '/' || n > OC_MIHTTP_TARGET_MAX || sp == eol) {
        return fail(ret_why, "request target is not an absolute path");
    }
    q = memchr(p, '?', n);
    if (q != NULL) {
        memcpy(req->path, p, (size_t)(q - p));
        req->path[q - p] = '\0';
        memcpy(req->query, q + 1, n - (size_t)(q - p) - 1);
        req->query[n - (size_t)(q - p) - 1] = '\0';
        req->has_query = true;
    } else {
        memcpy(req->path, p, n);
        req->path[n] = '\0';
    }
    p = sp + 1;
    if (eol - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1')) {
        return fail(ret_why, "not HTTP/1.0 or HTTP/1.1");
    }
    req->minor = (unsigned)(p[7] - '0');
    return 0;
}

int oc_mihttp_parse(const char *head, size_t len, struct oc_mihttp_request *ret_req,
                    const char **ret_why)
{
    struct oc_mihttp_request req;
    const char *p = head, *end = head + len, *eol;
    bool seen_cl = false;
    unsigned fields = 0;
    int r;

    memset(&req, 0, sizeof(req));
    req.metadata = -1;
    if (len < 4 || len > OC_MIHTTP_HEAD_MAX || memcmp(end - 4, "\r\n\r\n", 4) != 0) {
        return fail(ret_why, "incomplete head");
    }
    eol = line_end(p, end);
    if (eol == NULL) {
        return fail(ret_why, "bad line ending");
    }
    r = parse_request_line(p, eol, &req, ret_why);
    if (r < 0) {
        return r;
    }
    for (p = eol + 2;; p = eol + 2) {
        const char *name = p, *v, *ve;
        size_t nlen, vlen;

        eol = line_end(p, end);
        if (eol == NULL) {
            return fail(ret_why, "bad line ending");
        }
        if (eol == p) {
            break; /* the blank line */
        }
        if (eol + 2 == end) {
            return fail(ret_why, "incomplete head");
        }
        if (++fields > OC_MIHTTP_FIELDS_MAX) {
            return fail(ret_why, "too many header fields");
        }
        while (p < eol && is_tchar((unsigned char)*p)) {
            p++;
        }
        nlen = (size_t)(p - name);
        if (nlen == 0 || p == eol || *p != ':') {
            return fail(ret_why, "bad header field name");
        }
        for (v = p + 1; v < eol && (*v == ' ' || *v == '\t'); v++) {
        }
        for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--) {
        }
        for (const char *c = v; c < ve; c++) {
            if (((unsigned char)*c < 0x20 && *c != '\t') || (unsigned char)*c >= 0x7f) {
                return fail(ret_why, "bad character in a header field value");
            }
        }
        vlen = (size_t)(ve - v);
        if (name_is(name, nlen, "host")) {
            if (req.has_host || vlen == 0 || vlen > OC_MIHTTP_HOST_MAX) {
                return fail(ret_why, "bad or repeated Host");
            }
            memcpy(req.host, v, vlen);
            req.host[vlen] = '\0';
            req.has_host = true;
        } else if (name_is(name, nlen, "metadata")) {
            if (req.metadata != -1) {
                return fail(ret_why, "repeated Metadata");
            }
            req.metadata = name_is(v, vlen, "true") ? 1 : 0;
        } else if (name_is(name, nlen, "content-length")) {
            if (seen_cl || vlen != 1 || *v != '0') {
                return fail(ret_why, "a request body is not allowed");
            }
            seen_cl = true;
        } else if (name_is(name, nlen, "transfer-encoding")) {
            return fail(ret_why, "a request body is not allowed");
        } else if (name_is(name, nlen, "x-forwarded-for") || name_is(name, nlen, "forwarded")) {
            req.forwarded = true;
        }
    }
    if (req.minor == 1 && !req.has_host) {
        return fail(ret_why, "HTTP/1.1 request without Host");
    }
    *ret_req = req;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decode s[0..n) into out (size cap): printable ASCII without spaces only. */
static int decode_value(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0) {
                return -EINVAL;
            }
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c <= 0x20 || c >= 0x7f || o + 1 >= cap) {
            return -EINVAL;
        }
        out[o++] = (char)c;
    }
    if (o == 0) {
        return -EINVAL;
    }
    out[o] = '\0';
    return 0;
}

enum {
    Q_API_VERSION,
    Q_RESOURCE,
    Q_CLIENT_ID,
    Q_OBJECT_ID,
    Q_MSI_RES_ID,
    Q_MI_RES_ID,
    Q_TOKEN_SHA256,
    Q_XMS_CC,
    Q_N,
};

static const char *const qnames[Q_N] = {
        [Q_API_VERSION] = "api-version",
        [Q_RESOURCE] = "resource",
        [Q_CLIENT_ID] = "client_id",
        [Q_OBJECT_ID] = "object_id",
        [Q_MSI_RES_ID] = "msi_res_id",
        [Q_MI_RES_ID] = "mi_res_id",
        [Q_TOKEN_SHA256] = "token_sha256_to_refresh",
        [Q_XMS_CC] = "xms_cc",
};

/* api-version: YYYY-MM-DD, optionally followed by -preview. */
static bool api_version_valid(const char *s)
{
    for (size_t i = 0; i < 10; i++) {
        bool dash = i == 4 || i == 7;
        if (dash ? s[i] != '-' : !(s[i] >= '0' && s[i] <= '9')) {
            return false;
        }
    }
    return s[10] == '\0' || strcmp(s + 10, "-preview") == 0;
}

int oc_mihttp_query_parse(const char *query, struct oc_mihttp_query *ret_q, const char **ret_why)
{
    char value[OC_MIHTTP_VALUE_MAX + 1];
    struct oc_mihttp_query q;
    bool seen[Q_N] = {false};
    unsigned selectors;
    const char *p = query;

    memset(&q, 0, sizeof(q));
    while (*p != '\0') {
        const char *amp = strchr(p, '&'), *eq;
        size_t n = amp != NULL ? (size_t)(amp - p) : strlen(p), nlen;
        int which = -1;

        eq = memchr(p, '=', n);
        if (n == 0 || eq == NULL) {
            return fail(ret_why, "Malformed query: expected name=value pairs joined by '&'");
        }
        nlen = (size_t)(eq - p);
        for (int i = 0; i < Q_N; i++) {
            if (strlen(qnames[i]) == nlen && memcmp(qnames[i], p, nlen) == 0) {
                which = i;
            }
        }
        if (which < 0) {
            return fail(ret_why, "Unknown query parameter");
        }
        if (seen[which]) {
            return fail(ret_why, "A query parameter is given twice");
        }
        seen[which] = true;
        if (decode_value(eq + 1, n - nlen - 1, value, sizeof(value)) < 0) {
            return fail(ret_why, "A query parameter value is empty, too long, badly "
                                 "percent-encoded or not printable ASCII");
        }
        switch (which) {
        case Q_API_VERSION:
            if (oc_strscpy(q.api_version, sizeof(q.api_version), value) < 0 ||
                !api_version_valid(q.api_version)) {
                return fail(ret_why, "Invalid version");
            }
            break;
        case Q_RESOURCE:
            (void)oc_strscpy(q.resource, sizeof(q.resource), value);
            break;
        case Q_CLIENT_ID:
            (void)oc_strscpy(q.client_id, sizeof(q.client_id), value);
            break;
        case Q_OBJECT_ID:
            (void)oc_strscpy(q.object_id, sizeof(q.object_id), value);
            break;
        case Q_MSI_RES_ID:
        case Q_MI_RES_ID:
            if (q.res_id[0] != '\0') {
                return fail(ret_why, "A query parameter is given twice");
            }
            (void)oc_strscpy(q.res_id, sizeof(q.res_id), value);
            break;
        default:
            break; /* accepted, not used */
        }
        p += n;
        if (*p == '&') {
            p++;
            if (*p == '\0') {
                return fail(ret_why, "Malformed query: expected name=value pairs joined by '&'");
            }
        }
    }
    if (!seen[Q_API_VERSION]) {
        return fail(ret_why, "Required query variable 'api-version' is missing");
    }
    if (!seen[Q_RESOURCE]) {
        return fail(ret_why, "Required query variable 'resource' is missing");
    }
    selectors = (q.client_id[0] != '\0') + (q.object_id[0] != '\0') + (q.res_id[0] != '\0');
    if (selectors > 1) {
        return fail(ret_why, "Only one of client_id, object_id and msi_res_id may be given");
    }
    *ret_q = q;
    return 0;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return NULL;
    }
}

ssize_t oc_mihttp_response(char *out, size_t cap, int status, int64_t retry_after, const char *body)
{
    const char *phrase = reason_phrase(status);
    size_t blen = strlen(body);
    char ra[48] = "";
    int n;

    if (phrase == NULL) {
        return -EINVAL;
    }
    if (retry_after >= 0) {
        (void)snprintf(ra, sizeof(ra), "Retry-After: %lld\r\n", (long long)retry_after);
    }
    n = snprintf(out, cap,
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: application/json; charset=utf-8\r\n"
                 "Content-Length: %zu\r\n"
                 "Cache-Control: no-store\r\n"
                 "Connection: close\r\n"
                 "%s\r\n",
                 status, phrase, blen, ra);
    if (n < 0 || (size_t)n + blen >= cap) {
        return -ENOBUFS;
    }
    memcpy(out + n, body, blen);
    out[(size_t)n + blen] = '\0';
    return (ssize_t)((size_t)n + blen);
}
