/* SPDX-License-Identifier: MIT */
/* oc_graphutil.c: OData filters, Graph times, synced agent names (see oc_graphutil.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "helper/sync/oc_graphutil.h"

int oc_url_encode(const char *s, char *buf, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (o + (keep ? 1 : 3) >= len) {
            return -ENOBUFS;
        }
        if (keep) {
            buf[o++] = (char)*p;
        } else {
            buf[o++] = '%';
            buf[o++] = hex[*p >> 4];
            buf[o++] = hex[*p & 0xf];
        }
    }
    if (o >= len) {
        return -ENOBUFS;
    }
    buf[o] = '\0';
    return 0;
}

int oc_odata_eq_filter(const char *prop, const char *value, char *buf, size_t len)
{
    char expr[2048];
    size_t o;

    if (prop == NULL || value == NULL || prop[0] == '\0') {
        return -EINVAL;
    }
    for (const char *p = prop; *p != '\0'; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '/' || *p == '_')) {
            return -EINVAL;
        }
    }
    o = (size_t)snprintf(expr, sizeof(expr), "%s eq '", prop);
    if (o >= sizeof(expr)) {
        return -ENOBUFS;
    }
    for (const char *p = value; *p != '\0'; p++) {
        /* An OData string literal doubles its quote character. */
        size_t need = *p == '\'' ? 2 : 1;
        if (o + need + 2 > sizeof(expr)) {
            return -ENOBUFS;
        }
        if (*p == '\'') {
            expr[o++] = '\'';
        }
        expr[o++] = *p;
    }
    expr[o++] = '\'';
    expr[o] = '\0';
    return oc_url_encode(expr, buf, len);
}

static int digits(const char *s, size_t n, int *ret)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -EINVAL;
        }
        v = v * 10 + (s[i] - '0');
    }
    *ret = v;
    return 0;
}

int oc_graph_time(const char *s, int64_t *ret)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    struct tm tm;
    const char *p;
    time_t t;

    if (s == NULL || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || digits(s, 4, &y) < 0 || digits(s + 5, 2, &mo) < 0 ||
        digits(s + 8, 2, &d) < 0 || digits(s + 11, 2, &h) < 0 || digits(s + 14, 2, &mi) < 0 ||
        digits(s + 17, 2, &sec) < 0) {
        return -EINVAL;
    }
    p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9') {
            return -EINVAL;
        }
        for (int i = 0; *p >= '0' && *p <= '9'; p++, i++) {
            if (i >= 9) {
                return -EINVAL;
            }
        }
    }
    if (*p == 'Z' && p[1] == '\0') {
        sign = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' &&
               digits(p + 1, 2, &oh) == 0 && digits(p + 4, 2, &om) == 0 && oh < 24 && om < 60) {
        sign = *p == '+' ? 1 : -1;
    } else {
        return -EINVAL;
    }
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60) {
        return -EINVAL;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1) {
        return -EINVAL;
    }
    *ret = (int64_t)t - sign * (int64_t)(oh * 3600 + om * 60);
    return 0;
}

int oc_dir_slug(const char *display_name, char out[OC_USER_NAME_MAX + 1])
{
    size_t o = 0;

    if (display_name == NULL || !((display_name[0] >= 'a' && display_name[0] <= 'z') ||
                                  (display_name[0] >= 'A' && display_name[0] <= 'Z'))) {
        return -EINVAL;
    }
    for (const char *p = display_name; *p != '\0'; p++) {
        char ch = *p;

        if (ch >= 'A' && ch <= 'Z') {
            ch = (char)(ch - 'A' + 'a');
        } else if (ch == ' ' || ch == '_') {
            ch = '-';
        } else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) {
            return -EINVAL;
        }
        if (ch == '-' && (o == 0 || out[o - 1] == '-')) {
            continue;
        }
        if (o >= OC_USER_NAME_MAX) {
            return -EINVAL;
        }
        out[o++] = ch;
    }
    while (o > 0 && out[o - 1] == '-') {
        o--;
    }
    out[o] = '\0';
    return o > 0 && oc_valid_user_name(out) ? 0 : -EINVAL;
}

bool oc_dir_reserved_name(const char *name)
{
    static const char *const reserved[] = {
            "root",      "daemon",        "bin",      "sys",    "sync",     "games",     "man",
            "lp",        "mail",          "news",     "uucp",   "proxy",    "www-data",  "backup",
            "list",      "irc",           "gnats",    "nobody", "nogroup",  "sshd",      "openclaw",
            "admin",     "administrator", "sudo",     "wheel",  "adm",      "staff",     "users",
            "tss",       "messagebus",    "operator", "shadow", "disk",     "kmem",      "tty",
            "utmp",      "audio",         "video",    "input",  "kvm",      "render",    "docker",
            "lxd",       "polkitd",       "dbus",     "ntp",    "postfix",  "halt",      "shutdown",
            "ftp",       "guest",         "ubuntu",   "debian", "ec2-user", "azureuser", "systemd",
            "localhost", "dialout",       "plugdev",  "netdev", "crontab",  "ssh",       "ssl-cert",
    };

    if (strncmp(name, "systemd-", 8) == 0 || strncmp(name, "oc-", 3) == 0) {
        return true; /* oc-: the fallback names, only ever derived from an object id */
    }
    for (size_t i = 0; i < OC_ELEMENTSOF(reserved); i++) {
        if (strcmp(name, reserved[i]) == 0) {
            return true;
        }
    }
    return false;
}

void oc_dir_fallback_name(const char *object_id, char out[OC_USER_NAME_MAX + 1])
{
    size_t o = 3;

    memcpy(out, "oc-", 3);
    for (const char *p = object_id; *p != '\0' && o < 11; p++) {
        char ch = *p;
        if (ch >= 'A' && ch <= 'F') {
            ch = (char)(ch - 'A' + 'a');
        }
        if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')) {
            out[o++] = ch;
        }
    }
    out[o] = '\0';
}

void oc_dir_gecos(const char *in, char *out, size_t len)
{
    size_t o = 0;

    if (len == 0) {
        return;
    }
    for (const unsigned char *p = (const unsigned char *)(in != NULL ? in : "");
         *p != '\0' && o + 1 < len; p++) {
        out[o++] = (*p >= 0x20 && *p < 0x7f && *p != ':') ? (char)*p : '?';
    }
    out[o] = '\0';
}
