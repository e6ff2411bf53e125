/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the audit line reader of `openclawctl audit`
 * (helper/auditlog.c): every input is one line, parsed exactly as the
 * command does, and also tried as a --since time. A parsed record must
 * hold NUL-terminated fields within their caps.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helper/auditlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_auditlog_rec r;
    int64_t t = 0;
    char *s;

    if (oc_auditlog_parse((const char *)data, size, INT64_C(1790000000), &r) == 0) {
        if (strnlen(r.event, sizeof(r.event)) == sizeof(r.event) ||
            strnlen(r.detail, sizeof(r.detail)) == sizeof(r.detail) || r.result[0] == '\0') {
            abort();
        }
    }
    if (size > 64) {
        return 0;
    }
    s = malloc(size + 1);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    (void)oc_auditlog_parse_since(s, INT64_C(1790000000), &t);
    free(s);
    return 0;
}
