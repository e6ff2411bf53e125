/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the openclawd socket input path: the byte stream
 * is split into frames by the incremental reader (in chunks whose sizes
 * come from the input itself), and each frame goes through the strict
 * request parser, exactly as the daemon does.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "helper/daemon/oc_request.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_proto_reader r;
    size_t off = 1;
    unsigned chunk;

    if (size < 1) {
        return 0;
    }
    chunk = (unsigned)data[0] % 17 + 1;
    oc_proto_reader_init(&r);
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk, used = 0, len = 0;
        uint8_t *body = NULL;
        int rc = oc_proto_reader_feed(&r, data + off, n, &used, &body, &len);

        if (used == 0 && rc == 0) {
            abort(); /* no progress would hang the daemon */
        }
        off += used;
        if (rc < 0) {
            break;
        }
        if (rc == 1) {
            struct oc_request q;
            const char *why = NULL;
            if (oc_request_parse((const char *)body, len, &q, &why) == 0 && q.def == NULL) {
                abort();
            }
            free(body);
        }
    }
    oc_proto_reader_reset(&r);
    return 0;
}
