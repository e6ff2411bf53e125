/* SPDX-License-Identifier: MIT */
/*
 * oc_mihttp.h: the minimal, strict HTTP/1.1 of openclawd's managed-identity
 * endpoint (docs/mi-endpoint.md): one GET per connection, no body.
 *
 *   GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=R HTTP/1.1
 *   Host: 127.0.0.1:8400
 *   Metadata: true
 *
 * The head (request line, header fields, blank line) is at most
 * OC_MIHTTP_HEAD_MAX bytes, lines end in CRLF, field names are tokens with
 * the colon right after them, values are visible ASCII, spaces and tabs; no
 * obsolete line folding, no body (Content-Length other than 0 and
 * Transfer-Encoding are refused), Host, Metadata and Content-Length at most
 * once. Anything else is malformed and the daemon ends the connection
 * without an answer. The query of an IMDS token request is parsed by
 * oc_mihttp_query_parse(); its errors are answered (400). No logging, no
 * allocation: everything lands in fixed buffers.
 */
#ifndef OC_MIHTTP_H
#define OC_MIHTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OC_MIHTTP_HEAD_MAX     8192          /* request line + header fields + blank line */
#define OC_MIHTTP_TARGET_MAX   4096          /* request-target (path and query) */
#define OC_MIHTTP_METHOD_MAX   16            /* method token */
#define OC_MIHTTP_FIELDS_MAX   64            /* header fields */
#define OC_MIHTTP_HOST_MAX     255           /* Host field value */
#define OC_MIHTTP_VALUE_MAX    1024          /* one decoded query parameter value */
#define OC_MIHTTP_APIVER_MAX   32            /* api-version value */
#define OC_MIHTTP_RESPONSE_MAX (64u * 1024u) /* a whole response */

/* The IMDS token path, the only one served. */
#define OC_MIHTTP_TOKEN_PATH "/metadata/identity/oauth2/token"

struct oc_mihttp_request {
    char method[OC_MIHTTP_METHOD_MAX + 1];
    char path[OC_MIHTTP_TARGET_MAX + 1];  /* before '?', as sent (not decoded) */
    char query[OC_MIHTTP_TARGET_MAX + 1]; /* after '?', "" when none */
    bool has_query;
    unsigned minor; /* HTTP/1.<minor>: 0 or 1 */
    char host[OC_MIHTTP_HOST_MAX + 1];
    bool has_host;
    int metadata;   /* -1: no Metadata field; 1: "true" (any case); 0: other */
    bool forwarded; /* X-Forwarded-For or Forwarded present (a proxy relayed it) */
};

/*
 * How far buf[0..len) holds a complete head: its length (ending with the
 * blank line) when complete, 0 when more bytes are needed, -E2BIG when
 * no head ends within OC_MIHTTP_HEAD_MAX bytes.
 */
ssize_t oc_mihttp_head_len(const char *buf, size_t len);

/* Parse a complete head of len bytes. 0, or -EINVAL with *ret_reason
 * (a static string, for the log) set. */
int oc_mihttp_parse(const char *head, size_t len, struct oc_mihttp_request *ret_req,
                    const char **ret_why);

/* The parameters of an IMDS token request. Identity selectors are "" when absent. */
struct oc_mihttp_query {
    char api_version[OC_MIHTTP_APIVER_MAX + 1];
    char resource[OC_MIHTTP_VALUE_MAX + 1];
    char client_id[OC_MIHTTP_VALUE_MAX + 1];
    char object_id[OC_MIHTTP_VALUE_MAX + 1];
    char res_id[OC_MIHTTP_VALUE_MAX + 1]; /* msi_res_id (IMDS) or mi_res_id */
};

/*
 * Parse the query of a token request: name=value pairs joined by '&',
 * percent-encoding (and '+' for a space) decoded, each name at most once
 * (so at most 8 pairs).
 * Names: api-version and resource (required), client_id, object_id,
 * msi_res_id / mi_res_id (one identity selector at most), and
 * token_sha256_to_refresh, xms_cc (sent by MSAL; accepted, not used).
 * Decoded values must be printable ASCII without spaces. 0, or -EINVAL
 * with *ret_reason set to an IMDS-style error description (static).
 */
int oc_mihttp_query_parse(const char *query, struct oc_mihttp_query *ret_q, const char **ret_why);

/*
 * A complete response: status line, Content-Type: application/json,
 * Content-Length, Cache-Control: no-store, Connection: close, Retry-After
 * when retry_after >= 0, then body. Writes into out (size cap); returns the
 * length, or -ENOBUFS. The caller wipes out when body held a token.
 */
ssize_t oc_mihttp_response(char *out, size_t cap, int status, int64_t retry_after,
                           const char *body);

#endif
