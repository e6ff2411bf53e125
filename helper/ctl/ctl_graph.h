/* SPDX-License-Identifier: MIT */
/*
 * ctl_graph.h: a small Microsoft Graph client for openclawctl (enroll):
 * libcurl, HTTPS only, TLS verified, timeouts, a cap on every response,
 * errors turned into one line that says what to do next. The admin's
 * access token is read from a file that must be 0600 and owned by the
 * caller; it is wiped when the client is freed and never printed.
 */
#ifndef OC_CTL_GRAPH_H
#define OC_CTL_GRAPH_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define CTL_GRAPH_DEFAULT_URL     "https://graph.microsoft.com"
#define CTL_GRAPH_TOKEN_MAX       (16 * 1024)   /* bytes in the admin token file */
#define CTL_GRAPH_RESPONSE_MAX    (1024 * 1024) /* bytes in one Graph response */
#define CTL_GRAPH_CONNECT_TIMEOUT 10L           /* seconds */
#define CTL_GRAPH_TOTAL_TIMEOUT   30L           /* seconds per request */
#define CTL_GRAPH_ERR_MAX         512

struct ctl_graph;

/*
 * base: https URL without trailing slash (http only for 127.0.0.1 is NOT
 * accepted either: tests use the tenant's HTTPS). ca_file: NULL for the
 * system trust store. Returns 0 or a negative errno with err filled.
 */
int ctl_graph_open(const char *base, const char *ca_file, const char *token_file,
                   struct ctl_graph **ret, char *why, size_t why_len);
void ctl_graph_close(struct ctl_graph *g);

/*
 * One request. path starts with "/v1.0/"; body is JSON or NULL. On any
 * HTTP answer returns 0 with *ret_status, and *ret_json the parsed body
 * (NULL when empty). Transport failures: negative errno, err filled.
 */
int ctl_graph_call(struct ctl_graph *g, const char *method, const char *path, const char *body,
                   long *ret_status, cJSON **ret_json, char *why, size_t why_len);

/*
 * The one line an admin reads for a refused Graph request ("what" says
 * what we tried), with the next step for the common causes.
 */
void ctl_graph_explain(const char *what, long status, const cJSON *body, char *buf, size_t len);

/*
 * s as an OData string literal body ('' for ') and URL-encoded, for
 * $filter=appId eq '<here>'. Returns 0 or -ENOBUFS / -EINVAL (control chars).
 */
int ctl_graph_odata_quote(const char *s, char *buf, size_t len);

#endif /* OC_CTL_GRAPH_H */
