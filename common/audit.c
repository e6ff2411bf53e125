/* SPDX-License-Identifier: MIT */
/* audit.c: key=value audit lines (see audit.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"

struct out {
    char *buf;
    size_t len;
    size_t pos;
    bool cut;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->pos + n >= o->len) {
        n = o->len - o->pos - 1;
        o->cut = true;
    }
    memcpy(o->buf + o->pos, s, n);
    o->pos += n;
    o->buf[o->pos] = '\0';
}

static bool safe_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-_.:/@+,~[]", c) != NULL;
}

static void put_value(struct out *o, const char *v)
{
    size_t n, i;
    bool bare = true;
    char esc[8];

    if (v == NULL || v[0] == '\0') {
        put(o, "-", 1);
        return;
    }
    n = strlen(v);
    for (i = 0; i < n; i++) {
        if (!safe_char((unsigned char)v[i])) {
            bare = false;
            break;
        }
    }
    if (bare && n <= OC_AUDIT_VALUE_MAX) {
        put(o, v, n);
        return;
    }
    put(o, "\"", 1);
    for (i = 0; i < n && i < OC_AUDIT_VALUE_MAX; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(o, esc, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            (void)snprintf(esc, sizeof(esc), "\\x%02x", c);
            put(o, esc, 4);
        } else {
            put(o, (const char *)&v[i], 1);
        }
    }
    if (n > OC_AUDIT_VALUE_MAX) {
        put(o, "...", 3);
    }
    put(o, "\"", 1);
}

static void field(struct out *o, const char *key, const char *v, bool first)
{
    if (!first) {
        put(o, " ", 1);
    }
    put(o, key, strlen(key));
    put(o, "=", 1);
    put_value(o, v);
}

static void field_num(struct out *o, const char *key, int64_t v)
{
    char num[24];

    if (v < 0) {
        num[0] = '\0';
    } else {
        (void)snprintf(num, sizeof(num), "%lld", (long long)v);
    }
    field(o, key, num, false);
}

int oc_audit_format(const struct oc_audit *a, char *buf, size_t len)
{
    struct out o = {.buf = buf, .len = len, .pos = 0, .cut = false};

    if (a == NULL || buf == NULL || len == 0) {
        return -EINVAL;
    }
    buf[0] = '\0';
    field(&o, "event", a->event, true);
    field(&o, "service", a->service, false);
    field(&o, "user", a->user, false);
    field(&o, "agent_app_id", a->agent_app_id, false);
    field(&o, "agent_oid", a->agent_oid, false);
    field(&o, "token_uti", a->token_uti, false);
    field(&o, "rhost", a->rhost, false);
    field(&o, "result", a->result, false);
    field(&o, "reason", a->reason, false);
    if (a->via != NULL) {
        field_num(&o, "caller_uid", a->caller_uid);
        field_num(&o, "caller_pid", a->caller_pid);
        field(&o, "via", a->via, false);
        field(&o, "scope", a->scope, false);
    }
    if (a->detail != NULL) {
        field(&o, "detail", a->detail, false);
    }
    return o.cut ? -ENOBUFS : 0;
}
