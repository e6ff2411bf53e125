/* SPDX-License-Identifier: MIT */
/*
 * ctl_graph.c: the Microsoft Graph client of openclawctl enroll (see
 * ctl_graph.h). One easy handle, one request at a time: enroll is a short
 * admin command, not a daemon.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "helper/ctl/ctl_graph.h"
#include "json.h"
#include "util.h"

struct ctl_graph {
    CURL *curl;
    char *base;
    char *ca_file;
    char *token; /* wiped on close */
    size_t token_len;
};

struct resp {
    char *buf;
    size_t len;
    bool too_big;
};

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    struct resp *r = userdata;
    size_t k = size * n;

    if (k > CTL_GRAPH_RESPONSE_MAX - r->len) {
        r->too_big = true;
        return 0; /* curl aborts the transfer */
    }
    char *nb = realloc(r->buf, r->len + k + 1);
    if (nb == NULL) {
        return 0;
    }
    r->buf = nb;
    memcpy(r->buf + r->len, data, k);
    r->len += k;
    r->buf[r->len] = '\0';
    return k;
}

/* The admin token: a regular file of ours, 0600 or stricter, one line. */
static int read_token(const char *path, char **ret, size_t *ret_len, char *why, size_t why_len)
{
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    int fd, r = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        r = -errno;
        (void)snprintf(why, why_len, "cannot open the admin token file %s: %s%s", path,
                       strerror(errno), errno == ELOOP ? " (a symbolic link is refused)" : "");
        return r;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        (void)snprintf(why, why_len, "the admin token file %s is not a regular file", path);
        close(fd);
        return -EINVAL;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        (void)snprintf(why, why_len,
                       "the admin token file %s must be owned by you (uid %u) with mode 0600: "
                       "run chown %u %s && chmod 0600 %s",
                       path, (unsigned)geteuid(), (unsigned)geteuid(), path, path);
        close(fd);
        return -EPERM;
    }
    buf = malloc(CTL_GRAPH_TOKEN_MAX + 2);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        ssize_t k = read(fd, buf + n, CTL_GRAPH_TOKEN_MAX + 1 - n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            r = -errno;
            break;
        }
        if (k == 0) {
            break;
        }
        n += (size_t)k;
        if (n > CTL_GRAPH_TOKEN_MAX) {
            r = -EFBIG;
            break;
        }
    }
    close(fd);
    while (r == 0 && n > 0 && isspace((unsigned char)buf[n - 1])) {
        n--;
    }
    for (size_t i = 0; r == 0 && i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (!isalnum(c) && strchr("-._~+/=", c) == NULL) {
            r = -EINVAL;
        }
    }
    if (r == 0 && n == 0) {
        r = -EINVAL;
    }
    if (r < 0) {
        (void)snprintf(why, why_len,
                       "the admin token file %s does not hold one access token (%s): write only "
                       "the access_token value of a token for https://graph.microsoft.com",
                       path, r == -EFBIG ? "larger than 16 KiB" : "unexpected content");
        oc_free_wipe(buf, CTL_GRAPH_TOKEN_MAX + 2);
        return r;
    }
    buf[n] = '\0';
    *ret = buf;
    *ret_len = CTL_GRAPH_TOKEN_MAX + 2;
    return 0;
}

int ctl_graph_open(const char *base, const char *ca_file, const char *token_file,
                   struct ctl_graph **ret, char *why, size_t why_len)
{
    struct ctl_graph *g;
    size_t bl;
    int r;

    if (strncmp(base, "https://", 8) != 0 || strlen(base) > 1024 || strlen(base) <= 8) {
        (void)snprintf(why, why_len, "--graph must be an https:// URL (got %s)", base);
        return -EINVAL;
    }
    g = calloc(1, sizeof(*g));
    if (g == NULL) {
        return -ENOMEM;
    }
    g->base = strdup(base);
    g->ca_file = ca_file != NULL ? strdup(ca_file) : NULL;
    if (g->base == NULL || (ca_file != NULL && g->ca_file == NULL)) {
        ctl_graph_close(g);
        return -ENOMEM;
    }
    bl = strlen(g->base);
    while (bl > 8 && g->base[bl - 1] == '/') {
        g->base[--bl] = '\0';
    }
    r = read_token(token_file, &g->token, &g->token_len, why, why_len);
    if (r < 0) {
        ctl_graph_close(g);
        return r;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (g->curl = curl_easy_init()) == NULL) {
        (void)snprintf(why, why_len, "cannot initialise libcurl");
        ctl_graph_close(g);
        return -ENOMEM;
    }
    *ret = g;
    return 0;
}

void ctl_graph_close(struct ctl_graph *g)
{
    if (g == NULL) {
        return;
    }
    if (g->curl != NULL) {
        curl_easy_cleanup(g->curl);
    }
    if (g->token != NULL) {
        oc_free_wipe(g->token, g->token_len);
    }
    free(g->base);
    free(g->ca_file);
    free(g);
}

int ctl_graph_call(struct ctl_graph *g, const char *method, const char *path, const char *body,
                   long *ret_status, cJSON **ret_json, char *why, size_t why_len)
{
    struct curl_slist *hdrs = NULL, *h;
    struct resp resp = {0};
    char errbuf[CURL_ERROR_SIZE] = "", *url = NULL, *auth = NULL;
    size_t auth_len = 0;
    long status = 0;
    CURLcode cc;
    int r = 0;

    if (path[0] != '/' || asprintf(&url, "%s%s", g->base, path) < 0) {
        return -EINVAL;
    }
    auth_len = strlen(g->token) + sizeof("Authorization: Bearer ");
    auth = malloc(auth_len);
    if (auth == NULL) {
        free(url);
        return -ENOMEM;
    }
    (void)snprintf(auth, auth_len, "Authorization: Bearer %s", g->token);
    h = curl_slist_append(hdrs, auth);
    if (h != NULL) {
        hdrs = h;
        h = curl_slist_append(hdrs, "Accept: application/json");
    }
    if (h != NULL && body != NULL) {
        hdrs = h;
        h = curl_slist_append(hdrs, "Content-Type: application/json");
    }
    if (h == NULL) {
        r = -ENOMEM;
        goto out;
    }
    hdrs = h;

    CURL *c = g->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (g->ca_file != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, g->ca_file);
    }
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CTL_GRAPH_CONNECT_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, CTL_GRAPH_TOTAL_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "openclawctl/" PACKAGE_VERSION);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    cc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    if (resp.too_big) {
        (void)snprintf(why, why_len, "%s %s: the answer is larger than %d bytes (refused)", method,
                       path, CTL_GRAPH_RESPONSE_MAX);
        r = -EFBIG;
        goto out;
    }
    if (cc != CURLE_OK) {
        (void)snprintf(why, why_len, "%s %s: %s%s", method, url,
                       errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc),
                       cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE
                               ? " (give the CA with --ca-file or ca_file in the configuration)"
                               : " (check --graph and the network)");
        r = -EIO;
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    *ret_status = status;
    *ret_json = NULL;
    if (resp.len > 0) {
        const char *bad = NULL;
        cJSON *j = NULL;
        if (oc_json_parse_object_nt(resp.buf, resp.len, &j, &bad) < 0) {
            (void)snprintf(why, why_len, "%s %s: HTTP %ld with a body that is not JSON (%s)",
                           method, path, status, bad != NULL ? bad : "invalid");
            r = -EBADMSG;
            goto out;
        }
        *ret_json = j;
    }
out:
    curl_slist_free_all(hdrs);
    oc_free_wipe(auth, auth_len);
    free(url);
    free(resp.buf);
    return r;
}

void ctl_graph_explain(const char *what, long status, const cJSON *body, char *buf, size_t len)
{
    const cJSON *e = oc_json_member(body, "error");
    const char *code = NULL, *msg = NULL, *hint;

    (void)oc_json_get_string(e, "code", 256, &code);
    (void)oc_json_get_string(e, "message", 512, &msg);
    if (code == NULL) {
        code = "no error code";
    }
    if (status == 401) {
        hint = "get a fresh token for the admin app with Application.ReadWrite.All (Graph, "
               "client credentials, scope https://graph.microsoft.com/.default)";
    } else if (status == 403) {
        hint = "the admin app lacks a Graph application permission: grant "
               "Application.ReadWrite.All (and AppRoleAssignment.ReadWrite.All to assign roles) "
               "with admin consent, then get a new token";
    } else if (status == 404) {
        hint = "check the id: the object does not exist in this tenant";
    } else if (status == 429 || status >= 500) {
        hint = "Graph is busy or failing: run the same command again in a minute (it is "
               "idempotent)";
    } else {
        hint = "see the message; rerunning is safe (enroll is idempotent)";
    }
    /* Graph's message is printed with control characters replaced */
    char clean[256];
    size_t k = 0;
    for (const char *p = msg != NULL ? msg : ""; *p != '\0' && k + 1 < sizeof(clean); p++) {
        clean[k++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? ' ' : *p;
    }
    clean[k] = '\0';
    (void)snprintf(buf, len, "Graph refused %s (%ld %s%s%s): %s", what, status, code,
                   k > 0 ? ": " : "", clean, hint);
}

int ctl_graph_odata_quote(const char *s, char *buf, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return -EINVAL;
        }
        /* ' doubled for OData, then everything but unreserved characters %-encoded */
        for (int rep = 0; rep < (*p == '\'' ? 2 : 1); rep++) {
            if (isalnum(*p) || strchr("-._~", *p) != NULL) {
                if (k + 2 > len) {
                    return -ENOBUFS;
                }
                buf[k++] = (char)*p;
            } else {
                if (k + 4 > len) {
                    return -ENOBUFS;
                }
                buf[k++] = '%';
                buf[k++] = hex[*p >> 4];
                buf[k++] = hex[*p & 15];
            }
        }
    }
    if (len == 0) {
        return -ENOBUFS;
    }
    buf[k] = '\0';
    return 0;
}
