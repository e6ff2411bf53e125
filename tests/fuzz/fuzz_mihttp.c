/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for openclawd's managed-identity endpoint input path:
 * the bytes arrive in chunks (sizes from the input) into a head buffer of
 * OC_MIHTTP_HEAD_MAX, as the daemon reads them; a complete head goes
 * through the strict parser, its query through the IMDS query parser,
 * and the parsed values into a response, exactly as the daemon does.
 * Checks the invariants the daemon relies on.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper/daemon/oc_mihttp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct oc_mihttp_request req;
static char head[OC_MIHTTP_HEAD_MAX];
static char out[OC_MIHTTP_VALUE_MAX * 2 + 1024];

static void check_request(size_t len)
{
    struct oc_mihttp_query q;
    const char *why = NULL;
    char body[OC_MIHTTP_VALUE_MAX + 64];

    if (oc_mihttp_parse(head, len, &req, &why) < 0) {
        if (why == NULL) {
            abort(); /* the daemon logs the reason */
        }
        return;
    }
    if (req.method[0] == '\0' || req.path[0] != '/' || req.minor > 1 ||
        (req.minor == 1 && !req.has_host) || req.metadata < -1 || req.metadata > 1) {
        abort();
    }
    if (oc_mihttp_query_parse(req.query, &q, &why) < 0) {
        if (why == NULL) {
            abort();
        }
        return;
    }
    if (q.api_version[0] == '\0' || q.resource[0] == '\0' ||
        (q.client_id[0] != '\0') + (q.object_id[0] != '\0') + (q.res_id[0] != '\0') > 1) {
        abort();
    }
    for (const char *p = q.resource; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            abort(); /* decoded values are printable ASCII without spaces */
        }
    }
    snprintf(body, sizeof(body), "{\"resource\":\"%.1024s\"}", q.resource);
    if (oc_mihttp_response(out, sizeof(out), 400, -1, body) < 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 1, have = 0;
    unsigned chunk;

    if (size < 1) {
        return 0;
    }
    chunk = (unsigned)data[0] * 37u % 4096u + 1;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        ssize_t h;

        if (n > sizeof(head) - have) {
            n = sizeof(head) - have;
        }
        memcpy(head + have, data + off, n);
        have += n;
        off += n;
        h = oc_mihttp_head_len(head, have);
        if (h < 0) {
            if (have < OC_MIHTTP_HEAD_MAX) {
                abort(); /* -E2BIG only once the buffer is full */
            }
            return 0;
        }
        if (h > 0) {
            if ((size_t)h > have || memcmp(head + h - 4, "\r\n\r\n", 4) != 0) {
                abort();
            }
            if ((size_t)h == have && off == size) {
                check_request((size_t)h);
            }
            return 0; /* extra bytes: the daemon closes the connection */
        }
        if (have == sizeof(head)) {
            abort(); /* a full buffer without a head must have been -E2BIG */
        }
    }
    /* The query parser alone, on the input as a string. */
    if (size - 1 < OC_MIHTTP_TARGET_MAX) {
        struct oc_mihttp_query q;
        const char *why = NULL;
        char query[OC_MIHTTP_TARGET_MAX + 1];

        memcpy(query, data + 1, size - 1);
        query[size - 1] = '\0';
        if (oc_mihttp_query_parse(query, &q, &why) < 0 && why == NULL) {
            abort();
        }
    }
    return 0;
}
