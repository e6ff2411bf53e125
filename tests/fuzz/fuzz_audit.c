/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the audit readers of `openclawctl audit`: every
 * input is one syslog line (helper/ctl/auditlog.c) and one journal entry as
 * journalctl --output=json prints it (helper/ctl/auditjournal.c, through the
 * strict JSON front end and the shared record parser, then the trust
 * rule), parsed exactly as the command does, and also tried as a --since
 * time. A parsed record must hold NUL-terminated fields within their caps.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helper/ctl/auditjournal.h"
#include "helper/ctl/auditlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_rec(const struct oc_auditlog_rec *r)
{
    if (strnlen(r->event, sizeof(r->event)) == sizeof(r->event) ||
        strnlen(r->detail, sizeof(r->detail)) == sizeof(r->detail) || r->result[0] == '\0') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_auditlog_rec r;
    struct oc_auditjournal_entry e;
    int64_t t = 0;
    char *s;
    int rc;

    if (oc_auditlog_parse((const char *)data, size, INT64_C(1790000000), &r) == 0) {
        check_rec(&r);
    }
    rc = oc_auditjournal_parse((const char *)data, size, &e, &r);
    if (rc == 0) {
        check_rec(&r);
        if (!e.parsed || r.time != e.time) {
            abort();
        }
    }
    if (rc == 0 || rc == -EINVAL) {
        if (strnlen(e.ident, sizeof(e.ident)) == sizeof(e.ident)) {
            abort();
        }
        /* the trust rule never trusts what it could not read */
        if (oc_auditjournal_trusted(&e, true, 998) && (!e.parsed || !e.has_uid)) {
            abort();
        }
    } else if (rc != -ENOENT && rc != -ENOMEM) {
        abort();
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
