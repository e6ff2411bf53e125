/* SPDX-License-Identifier: MIT */
/* auditlog.c: strict reader of openclaw audit lines (see auditlog.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "helper/ctl/auditlog.h"

/* The tags (syslog identifiers) openclaw logs under. */
static const char *const our_tags[] = {"pam_openclaw", "openclawd", "openclawctl", "openclaw-sync"};

/* The fixed keys of audit.h, in order. */
static const char *const fixed_keys[] = {"event",        "service",   "user",
                                         "agent_app_id", "agent_oid", "token_uti",
                                         "rhost",        "result",    "reason"};
#define N_FIXED (sizeof(fixed_keys) / sizeof(fixed_keys[0]))

static bool safe_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-_.:/@+,~[]", c) != NULL);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* n decimal digits at s into *v */
static bool digits(const char *s, size_t avail, size_t n, int *v)
{
    int x = 0;
    if (avail < n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

static int64_t days_from_civil(int y, int m, int d)
{
    /* Howard Hinnant's algorithm, proleptic Gregorian */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool valid_ymdhms(int y, int mo, int d, int h, int mi, int s)
{
    return y >= 1970 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 &&
           mi <= 59 && s <= 60;
}

static int64_t mk(int y, int mo, int d, int h, int mi, int s)
{
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

/*
 * RFC 3339 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" at s, or the offset as
 * +HHMM/-HHMM (journalctl --output=short-iso); *used = bytes.
 */
static bool parse_iso(const char *s, size_t n, int64_t *t, size_t *used)
{
    int y, mo, d, h, mi, se, oh = 0, om = 0;
    size_t p = 19;

    if (n < 20 || !digits(s, n, 4, &y) || s[4] != '-' || !digits(s + 5, n - 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, n - 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') ||
        !digits(s + 11, n - 11, 2, &h) || s[13] != ':' || !digits(s + 14, n - 14, 2, &mi) ||
        s[16] != ':' || !digits(s + 17, n - 17, 2, &se) || !valid_ymdhms(y, mo, d, h, mi, se)) {
        return false;
    }
    if (p < n && s[p] == '.') {
        p++;
        size_t f = 0;
        while (p < n && is_digit(s[p]) && f < 9) {
            p++;
            f++;
        }
        if (f == 0) {
            return false;
        }
    }
    int64_t v = mk(y, mo, d, h, mi, se);
    if (p < n && s[p] == 'Z') {
        p++;
    } else if (p + 6 <= n && (s[p] == '+' || s[p] == '-') && digits(s + p + 1, n - p - 1, 2, &oh) &&
               s[p + 3] == ':' && digits(s + p + 4, n - p - 4, 2, &om) && oh <= 23 && om <= 59) {
        int64_t off = oh * 3600 + om * 60;
        v += s[p] == '+' ? -off : off;
        p += 6;
    } else if (p + 5 <= n && (s[p] == '+' || s[p] == '-') && digits(s + p + 1, n - p - 1, 2, &oh) &&
               digits(s + p + 3, n - p - 3, 2, &om) && oh <= 23 && om <= 59) {
        /* journalctl short-iso (systemd 252): "+0000", "+0530", "-0800" */
        int64_t off = oh * 3600 + om * 60;
        v += s[p] == '+' ? -off : off;
        p += 5;
    } else {
        return false;
    }
    *t = v;
    *used = p;
    return true;
}

/* "Mon DD HH:MM:SS" (RFC 3164); the year is the one that puts it not after now + 1 day. */
static bool parse_bsd(const char *s, size_t n, int64_t now, int64_t *t, size_t *used)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int mo = 0, d, h, mi, se;
    time_t nt = (time_t)now;
    struct tm tm;

    if (n < 15 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':') {
        return false;
    }
    for (int i = 0; i < 12; i++) {
        if (memcmp(s, months + 3 * i, 3) == 0) {
            mo = i + 1;
        }
    }
    char dd[2] = {s[4] == ' ' ? '0' : s[4], s[5]};
    if (mo == 0 || !digits(dd, 2, 2, &d) || !digits(s + 7, 2, 2, &h) ||
        !digits(s + 10, 2, 2, &mi) || !digits(s + 13, 2, 2, &se) || gmtime_r(&nt, &tm) == NULL) {
        return false;
    }
    int y = tm.tm_year + 1900;
    if (!valid_ymdhms(y, mo, d, h, mi, se)) {
        return false;
    }
    int64_t v = mk(y, mo, d, h, mi, se);
    if (v > now + 86400) {
        v = mk(y - 1, mo, d, h, mi, se);
    }
    *t = v;
    *used = 15;
    return true;
}

/* One value at s (bare or quoted) decoded into out; *used = bytes consumed. */
static int parse_value(const char *s, size_t n, char out[OC_AUDITLOG_VALUE_MAX + 1], size_t *used)
{
    size_t p = 0, k = 0;

    if (n == 0) {
        return -EINVAL;
    }
    if (s[0] != '"') {
        while (p < n && s[p] != ' ') {
            if (!safe_char((unsigned char)s[p]) || k >= OC_AUDITLOG_VALUE_MAX) {
                return -EINVAL;
            }
            out[k++] = s[p++];
        }
        if (k == 0) {
            return -EINVAL;
        }
        out[k] = '\0';
        *used = p;
        return 0;
    }
    p = 1;
    for (;;) {
        if (p >= n) {
            return -EINVAL; /* unterminated */
        }
        unsigned char c = (unsigned char)s[p];
        if (c == '"') {
            p++;
            break;
        }
        if (c < 0x20 || c >= 0x7f || k >= OC_AUDITLOG_VALUE_MAX) {
            return -EINVAL;
        }
        if (c == '\\') {
            if (p + 1 >= n) {
                return -EINVAL;
            }
            char e = s[p + 1];
            if (e == '"' || e == '\\') {
                out[k++] = e;
                p += 2;
            } else if (e == 'x' && p + 3 < n) {
                int v = 0;
                for (int i = 2; i <= 3; i++) {
                    char h = s[p + (size_t)i];
                    int dv = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : -1;
                    if (dv < 0) {
                        return -EINVAL;
                    }
                    v = v * 16 + dv;
                }
                /* audit.c escapes only what it must: an escaped printable is forged */
                if (v >= 0x20 && v < 0x7f) {
                    return -EINVAL;
                }
                out[k++] = (char)v;
                p += 4;
            } else {
                return -EINVAL;
            }
            continue;
        }
        out[k++] = (char)c;
        p++;
    }
    out[k] = '\0';
    *used = p;
    return 0;
}

static bool ours(const char *prefix, size_t n)
{
    /* pam_syslog: "... sshd[12]: pam_openclaw(sshd:auth): " */
    for (size_t i = 0; i + 13 <= n; i++) {
        if (memcmp(prefix + i, "pam_openclaw(", 13) == 0) {
            return true;
        }
    }
    /* our own ident: " openclawd[12]: " or " openclawd: " or at the start */
    for (size_t t = 0; t < sizeof(our_tags) / sizeof(our_tags[0]); t++) {
        size_t tl = strlen(our_tags[t]);
        for (size_t i = 0; i + tl <= n; i++) {
            if ((i == 0 || prefix[i - 1] == ' ') && memcmp(prefix + i, our_tags[t], tl) == 0 &&
                i + tl < n && (prefix[i + tl] == '[' || prefix[i + tl] == ':')) {
                return true;
            }
        }
    }
    return false;
}

/* The field of an optional key (detail, openclawd's caller fields), or NULL. */
static char *optional_field(struct oc_auditlog_rec *r, const char *key, size_t klen)
{
    struct {
        const char *key;
        char *out;
    } const opt[] = {
            {"detail", r->detail}, {"caller_uid", r->caller_uid}, {"caller_pid", r->caller_pid},
            {"via", r->via},       {"scope", r->scope},
    };

    for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
        if (strlen(opt[i].key) == klen && memcmp(opt[i].key, key, klen) == 0) {
            return opt[i].out;
        }
    }
    return NULL;
}

/*
 * The key=value record at line[start..len) (it starts with "event="), into
 * *r (whose time the caller has set). 0 or -EINVAL.
 */
static int parse_record(const char *line, size_t start, size_t len, struct oc_auditlog_rec *r)
{
    size_t p, used = 0, nfields = 0;
    char *dst[N_FIXED] = {r->event,     r->service, r->user,   r->agent_app_id, r->agent_oid,
                          r->token_uti, r->rhost,   r->result, r->reason};
    p = start;
    for (;;) {
        size_t k = p;
        while (k < len && ((line[k] >= 'a' && line[k] <= 'z') || line[k] == '_') && k - p < 32) {
            k++;
        }
        if (k == p || k >= len || line[k] != '=') {
            return -EINVAL;
        }
        size_t klen = k - p;
        char scratch[OC_AUDITLOG_VALUE_MAX + 1];
        char *out = scratch;
        if (nfields < N_FIXED) {
            if (strlen(fixed_keys[nfields]) != klen ||
                memcmp(fixed_keys[nfields], line + p, klen) != 0) {
                return -EINVAL;
            }
            out = dst[nfields];
        } else if ((out = optional_field(r, line + p, klen)) != NULL) {
            if (out[0] != '\0') {
                return -EINVAL; /* a repeated key: forged */
            }
        } else {
            out = scratch;
            for (size_t f = 0; f < N_FIXED; f++) {
                if (strlen(fixed_keys[f]) == klen && memcmp(fixed_keys[f], line + p, klen) == 0) {
                    return -EINVAL; /* a repeated fixed key: forged */
                }
            }
        }
        if (++nfields > OC_AUDITLOG_FIELDS_MAX) {
            return -EINVAL;
        }
        if (parse_value(line + k + 1, len - k - 1, out, &used) < 0) {
            return -EINVAL;
        }
        p = k + 1 + used;
        if (p == len) {
            break;
        }
        if (line[p] != ' ' || p + 1 >= len) {
            return -EINVAL;
        }
        p++;
    }
    if (nfields < N_FIXED) {
        return -EINVAL;
    }
    if (strcmp(r->result, "success") != 0 && strcmp(r->result, "failure") != 0 &&
        strcmp(r->result, "ignore") != 0 && strcmp(r->result, "error") != 0) {
        return -EINVAL;
    }
    return 0;
}

int oc_auditlog_parse(const char *line, size_t len, int64_t now, struct oc_auditlog_rec *ret)
{
    struct oc_auditlog_rec r;
    size_t start = 0, used = 0;

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        len--;
    }
    if (len > OC_AUDITLOG_LINE_MAX) {
        return memmem(line, len, "event=", 6) != NULL ? -EINVAL : -ENOENT;
    }
    memset(&r, 0, sizeof(r));
    r.time = -1;
    /* the record starts at "event=" at the line start or right after ": " */
    if (len >= 6 && memcmp(line, "event=", 6) == 0) {
        start = 0;
    } else {
        const char *m = NULL;
        for (size_t i = 0; i + 8 <= len; i++) {
            if (memcmp(line + i, ": event=", 8) == 0) {
                m = line + i + 2;
                break;
            }
        }
        if (m == NULL) {
            return -ENOENT;
        }
        start = (size_t)(m - line);
        if (!ours(line, start)) {
            return -ENOENT;
        }
        if (!parse_iso(line, start, &r.time, &used) &&
            !parse_bsd(line, start, now, &r.time, &used)) {
            r.time = -1;
        }
    }
    if (parse_record(line, start, len, &r) < 0) {
        return -EINVAL;
    }
    *ret = r;
    return 0;
}

bool oc_auditlog_ident_ours(const char *ident)
{
    if (ident == NULL) {
        return false;
    }
    for (size_t t = 0; t < sizeof(our_tags) / sizeof(our_tags[0]); t++) {
        if (strcmp(ident, our_tags[t]) == 0) {
            return true;
        }
    }
    return false;
}

/* pam_syslog's "SERVICE" in "pam_openclaw(SERVICE:PHASE): " */
static bool service_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != ':' && c != '(' && c != ')' && c != '"' && c != '\\';
}

int oc_auditlog_message_kind(const char *ident, const char *msg, size_t len, size_t *ret_start)
{
    static const char pam_prefix[] = "pam_openclaw(";
    const size_t pl = sizeof(pam_prefix) - 1;

    if (len >= pl && memcmp(msg, pam_prefix, pl) == 0) {
        /*
         * pam_syslog: "pam_openclaw(" SERVICE ":" PHASE "): " then the record;
         * the module's other messages (no "event=") are not records, a
         * damaged prefix before an "event=" is malformed.
         */
        size_t p = pl, s = p;
        bool has_event = memmem(msg, len, "event=", 6) != NULL;
        while (p < len && p - s < OC_AUDITLOG_SERVICE_MAX && service_char((unsigned char)msg[p])) {
            p++;
        }
        if (p == s || p >= len || msg[p] != ':') {
            return has_event ? -EINVAL : -ENOENT;
        }
        s = ++p;
        while (p < len && p - s < 32 && ((msg[p] >= 'a' && msg[p] <= 'z') || msg[p] == '_')) {
            p++;
        }
        if (p == s || len - p < 3 || memcmp(msg + p, "): ", 3) != 0) {
            return has_event ? -EINVAL : -ENOENT;
        }
        p += 3;
        if (len - p < 6 || memcmp(msg + p, "event=", 6) != 0) {
            return has_event ? -EINVAL : -ENOENT;
        }
        *ret_start = p;
        return 0;
    }
    if (oc_auditlog_ident_ours(ident)) {
        if (len >= 6 && memcmp(msg, "event=", 6) == 0) {
            *ret_start = 0;
            return 0;
        }
        return -ENOENT; /* our program's other messages */
    }
    return -ENOENT;
}

int oc_auditlog_parse_message(const char *ident, const char *msg, size_t len,
                              struct oc_auditlog_rec *ret)
{
    struct oc_auditlog_rec r;
    size_t start = 0;
    int k;

    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r')) {
        len--;
    }
    k = oc_auditlog_message_kind(ident, msg, len, &start);
    if (k < 0) {
        return k;
    }
    if (len > OC_AUDITLOG_LINE_MAX) {
        return -EINVAL;
    }
    memset(&r, 0, sizeof(r));
    r.time = -1;
    if (parse_record(msg, start, len, &r) < 0) {
        return -EINVAL;
    }
    *ret = r;
    return 0;
}

int oc_auditlog_parse_since(const char *s, int64_t now, int64_t *ret)
{
    size_t n = strlen(s), used = 0;
    int y, mo, d, h = 0, mi = 0, se = 0;
    int64_t v = 0;

    if (n >= 2 && (s[0] == '-' || s[0] == '@')) {
        size_t i = 1;
        for (; i < n && is_digit(s[i]); i++) {
            if (v > INT64_C(100000000000)) {
                return -EINVAL;
            }
            v = v * 10 + (s[i] - '0');
        }
        if (i == 1) {
            return -EINVAL;
        }
        if (s[0] == '@') {
            if (i != n) {
                return -EINVAL;
            }
            *ret = v;
            return 0;
        }
        if (i + 1 != n) {
            return -EINVAL;
        }
        int64_t unit = s[i] == 's'   ? 1
                       : s[i] == 'm' ? 60
                       : s[i] == 'h' ? 3600
                       : s[i] == 'd' ? 86400
                                     : 0;
        if (unit == 0 || v > INT64_C(100000) * 86400 / unit) {
            return -EINVAL;
        }
        *ret = now - v * unit;
        return 0;
    }
    if (n == 10 && digits(s, n, 4, &y) && s[4] == '-' && digits(s + 5, 2, 2, &mo) && s[7] == '-' &&
        digits(s + 8, 2, 2, &d) && valid_ymdhms(y, mo, d, 0, 0, 0)) {
        *ret = mk(y, mo, d, 0, 0, 0);
        return 0;
    }
    if (parse_iso(s, n, &v, &used) && used == n) {
        *ret = v;
        return 0;
    }
    /* YYYY-MM-DDTHH:MM[:SS] without a zone: UTC */
    if ((n == 16 || n == 19) && digits(s, n, 4, &y) && s[4] == '-' && digits(s + 5, 2, 2, &mo) &&
        s[7] == '-' && digits(s + 8, 2, 2, &d) && (s[10] == 'T' || s[10] == ' ') &&
        digits(s + 11, 2, 2, &h) && s[13] == ':' && digits(s + 14, 2, 2, &mi) &&
        (n == 16 || (s[16] == ':' && digits(s + 17, 2, 2, &se))) &&
        valid_ymdhms(y, mo, d, h, mi, se)) {
        *ret = mk(y, mo, d, h, mi, se);
        return 0;
    }
    return -EINVAL;
}
