/* SPDX-License-Identifier: MIT */
/* auditjournal.c: journalctl --output=json entries for openclawctl audit (see auditjournal.h). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "helper/ctl/auditjournal.h"
#include "json.h"

#define JOURNAL_NUMBER_MAX 24 /* digits of a numeric field (as journalctl gives it: a string) */

/* A decimal string of 1..20 digits, no sign, no leading junk, <= max. */
static int parse_dec(const char *s, uint64_t max, uint64_t *ret)
{
    uint64_t v = 0;
    size_t i = 0;

    if (s[0] == '\0') {
        return -EINVAL;
    }
    for (; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 20) {
            return -EINVAL;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10) {
            return -ERANGE;
        }
        v = v * 10 + d;
    }
    *ret = v;
    return 0;
}

/* A numeric journal field (journalctl writes every value as a string). */
static int get_dec(const cJSON *o, const char *name, uint64_t max, uint64_t *ret)
{
    const char *s = NULL;
    int r = oc_json_get_string(o, name, JOURNAL_NUMBER_MAX, &s);

    return r < 0 ? r : parse_dec(s, max, ret);
}

/*
 * MESSAGE given as an array of byte values (journalctl's form for a value
 * that is not printable UTF-8): the first OC_AUDITLOG_LINE_MAX bytes into
 * buf. Returns the byte count, or -EINVAL when it is not such an array.
 */
static long decode_bytes(const cJSON *a, char buf[OC_AUDITLOG_LINE_MAX])
{
    size_t n = 0;
    const cJSON *it;

    if (!cJSON_IsArray(a)) {
        return -EINVAL;
    }
    cJSON_ArrayForEach(it, a)
    {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 255 ||
            it->valuedouble != (double)(int)it->valuedouble) {
            return -EINVAL;
        }
        if (n < OC_AUDITLOG_LINE_MAX) {
            buf[n++] = (char)(int)it->valuedouble;
        }
    }
    return (long)n;
}

int oc_auditjournal_parse(const char *line, size_t len, struct oc_auditjournal_entry *ret_entry,
                          struct oc_auditlog_rec *ret_rec)
{
    struct oc_auditjournal_entry e;
    struct oc_auditlog_rec rec;
    const char *ident = NULL, *s = NULL;
    const cJSON *m;
    cJSON *o = NULL;
    uint64_t v;
    bool has_event;
    int r;

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        len--;
    }
    memset(&e, 0, sizeof(e));
    e.time = -1;
    e.pid = -1;
    e.syslog_pid = -1;
    has_event = memmem(line, len, "event=", 6) != NULL;
    if (len > OC_AUDITJOURNAL_LINE_MAX) {
        r = -EINVAL;
        goto out;
    }
    r = oc_json_parse_object(line, len, &o, NULL);
    if (r == -ENOMEM) {
        return r;
    }
    if (r < 0) {
        r = -EINVAL;
        goto out;
    }
    e.parsed = true;
    if (get_dec(o, "__REALTIME_TIMESTAMP", INT64_MAX, &v) == 0) {
        e.time = (int64_t)(v / 1000000);
    }
    if (get_dec(o, "_UID", UINT32_MAX - 1, &v) == 0) {
        e.has_uid = true;
        e.uid = (uint32_t)v;
    }
    if (get_dec(o, "_PID", INT32_MAX, &v) == 0) {
        e.pid = (int64_t)v;
    }
    if (get_dec(o, "SYSLOG_PID", INT32_MAX, &v) == 0) {
        e.syslog_pid = (int64_t)v;
    }
    /* an identifier given twice comes as an array: then there is none */
    if (oc_json_get_string(o, "SYSLOG_IDENTIFIER", OC_AUDITLOG_LINE_MAX, &ident) == 0) {
        size_t il = strnlen(ident, OC_AUDITJOURNAL_IDENT_MAX);
        memcpy(e.ident, ident, il);
        e.ident[il] = '\0';
    } else {
        ident = NULL;
    }
    m = oc_json_member(o, "MESSAGE");
    if (oc_json_get_string(o, "MESSAGE", OC_AUDITJOURNAL_LINE_MAX, &s) == 0) {
        memset(&rec, 0, sizeof(rec));
        r = oc_auditlog_parse_message(ident, s, strlen(s), &rec);
        if (r == 0) {
            rec.time = e.time;
            *ret_rec = rec;
        }
    } else {
        char buf[OC_AUDITLOG_LINE_MAX];
        long n = m != NULL ? decode_bytes(m, buf) : -EINVAL;
        size_t start;
        if (n >= 0) {
            /* bytes (not valid UTF-8): openclaw never writes them; ours in shape: malformed */
            int k = oc_auditlog_message_kind(ident, buf, (size_t)n, &start);
            r = k == -ENOENT ? -ENOENT : -EINVAL;
        } else {
            /* absent, null (journalctl leaves out values over 4096 bytes) or another type */
            r = oc_auditlog_ident_ours(ident) ? -EINVAL : -ENOENT;
        }
    }
out:
    cJSON_Delete(o);
    if (r == -EINVAL && !e.parsed && !has_event) {
        r = -ENOENT;
    }
    if (r == 0 || r == -EINVAL) {
        *ret_entry = e;
    }
    return r;
}

bool oc_auditjournal_trusted(const struct oc_auditjournal_entry *e, bool daemon_known,
                             uid_t daemon_uid)
{
    if (!e->parsed || !e->has_uid) {
        return false;
    }
    if (e->uid == 0) {
        return true;
    }
    return daemon_known && e->uid == (uint32_t)daemon_uid && strcmp(e->ident, "openclawd") == 0;
}
