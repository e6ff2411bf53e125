/* SPDX-License-Identifier: MIT */
/* policy.c: network lists and time windows (see policy.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "policy.h"
#include "util.h"

static unsigned family_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

static bool host_bits_clear(const struct oc_net *n)
{
    unsigned bits = family_bits(n->family);
    unsigned i;

    for (i = n->prefix; i < bits; i++) {
        if ((n->addr[i / 8] >> (7 - i % 8)) & 1) {
            return false;
        }
    }
    return true;
}

int oc_net_parse(const char *text, struct oc_net *ret_net)
{
    char buf[OC_NET_TEXT_MAX + 1];
    struct oc_net n = {0};
    char *slash;
    uint32_t prefix;

    if (text == NULL || oc_strscpy(buf, sizeof(buf), text) < 0 || buf[0] == '\0') {
        return -EINVAL;
    }
    slash = strchr(buf, '/');
    if (slash != NULL) {
        *slash = '\0';
    }
    if (inet_pton(AF_INET, buf, n.addr) == 1) {
        n.family = AF_INET;
    } else if (inet_pton(AF_INET6, buf, n.addr) == 1) {
        n.family = AF_INET6;
    } else {
        return -EINVAL;
    }
    n.prefix = family_bits(n.family);
    if (slash != NULL) {
        int r = oc_parse_u32(slash + 1, 0, 128, &prefix);

        if (r == -EINVAL || slash[1] == '\0') {
            return -EINVAL;
        }
        if (r < 0 || prefix > family_bits(n.family)) {
            return -ERANGE;
        }
        n.prefix = prefix;
    }
    if (!host_bits_clear(&n)) {
        return -EDOM;
    }
    *ret_net = n;
    return 0;
}

void oc_netlist_init_any(struct oc_netlist *list)
{
    memset(list, 0, sizeof(*list));
    list->any = true;
}

int oc_netlist_parse(const char *text, struct oc_netlist *ret_list)
{
    struct oc_list_iter it = OC_LIST_ITER_INIT(text);
    struct oc_netlist l = {0};
    char item[OC_NET_TEXT_MAX + 1];
    const char *p;
    size_t len;
    int r;

    if (text == NULL) {
        return -EINVAL;
    }
    while ((r = oc_list_next(&it, &p, &len)) > 0) {
        if (len > OC_NET_TEXT_MAX) {
            return -EINVAL;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (strcmp(item, "any") == 0) {
            if (l.any || l.n > 0) {
                return -EINVAL;
            }
            l.any = true;
            continue;
        }
        if (l.any) {
            return -EINVAL;
        }
        if (l.n >= OC_NETLIST_MAX) {
            return -E2BIG;
        }
        r = oc_net_parse(item, &l.nets[l.n]);
        if (r < 0) {
            return r;
        }
        l.n++;
    }
    if (r < 0) {
        return r;
    }
    if (!l.any && l.n == 0) {
        return -EINVAL;
    }
    *ret_list = l;
    return 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
    unsigned full = prefix / 8, rem = prefix % 8;

    if (memcmp(a, net, full) != 0) {
        return false;
    }
    if (rem != 0) {
        uint8_t mask = (uint8_t)(0xFF << (8 - rem));

        if ((a[full] & mask) != (net[full] & mask)) {
            return false;
        }
    }
    return true;
}

bool oc_netlist_match(const struct oc_netlist *list, const char *addr)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    uint8_t a6[16], a4[4];
    bool have4 = false, have6 = false;
    size_t i;

    if (list == NULL) {
        return false;
    }
    if (list->any) {
        return true;
    }
    if (addr == NULL || addr[0] == '\0' || strnlen(addr, OC_NET_TEXT_MAX + 1) > OC_NET_TEXT_MAX) {
        return false;
    }
    if (inet_pton(AF_INET, addr, a4) == 1) {
        have4 = true;
    } else if (inet_pton(AF_INET6, addr, a6) == 1) {
        have6 = true;
        if (memcmp(a6, v4mapped, sizeof(v4mapped)) == 0) {
            memcpy(a4, a6 + 12, 4);
            have4 = true;
        }
    } else {
        return false;
    }
    for (i = 0; i < list->n && i < OC_NETLIST_MAX; i++) {
        const struct oc_net *n = &list->nets[i];

        if (n->family == AF_INET && have4 && prefix_match(a4, n->addr, n->prefix)) {
            return true;
        }
        if (n->family == AF_INET6 && have6 && prefix_match(a6, n->addr, n->prefix)) {
            return true;
        }
    }
    return false;
}

/* ---- time windows ---- */

static const char *const day_names[7] = {"su", "mo", "tu", "we", "th", "fr", "sa"};

/* s[0..len) equals the lowercase ASCII word, ignoring case. */
static bool word_eq(const char *s, size_t len, const char *word)
{
    size_t i;

    if (strlen(word) != len) {
        return false;
    }
    for (i = 0; i < len; i++) {
        char c = s[i];

        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != word[i]) {
            return false;
        }
    }
    return true;
}

static int parse_day(const char *s, size_t len, int *ret_day)
{
    int d;

    for (d = 0; d < 7; d++) {
        if (word_eq(s, len, day_names[d])) {
            *ret_day = d;
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_days(const char *s, size_t len, uint8_t *ret_days)
{
    int a, b, d;

    if (word_eq(s, len, "al")) {
        *ret_days = 0x7F;
        return 0;
    }
    if (word_eq(s, len, "wk")) {
        *ret_days = 0x3E; /* Mo..Fr */
        return 0;
    }
    if (word_eq(s, len, "wd")) {
        *ret_days = 0x41; /* Su, Sa */
        return 0;
    }
    if (len == 2) {
        if (parse_day(s, 2, &a) < 0) {
            return -EINVAL;
        }
        *ret_days = (uint8_t)(1u << a);
        return 0;
    }
    if (len == 5 && s[2] == '-') {
        uint8_t days = 0;

        if (parse_day(s, 2, &a) < 0 || parse_day(s + 3, 2, &b) < 0) {
            return -EINVAL;
        }
        for (d = a;; d = (d + 1) % 7) {
            days |= (uint8_t)(1u << d);
            if (d == b) {
                break;
            }
        }
        *ret_days = days;
        return 0;
    }
    return -EINVAL;
}

/* "HH:MM", exactly five characters; 24:00 only when allow_24 is set. */
static int parse_hhmm(const char *s, bool allow_24, uint16_t *ret_minutes)
{
    unsigned h, m;

    if (!(s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' && s[2] == ':' && s[3] >= '0' &&
          s[3] <= '9' && s[4] >= '0' && s[4] <= '9')) {
        return -EINVAL;
    }
    h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24))) {
        return -EINVAL;
    }
    *ret_minutes = (uint16_t)(h * 60 + m);
    return 0;
}

/* One window: DAYS<ws>HH:MM-HH:MM, already trimmed. */
static int parse_window(const char *s, size_t len, struct oc_timerange *ret_range)
{
    struct oc_timerange r = {0};
    size_t dlen = 0, t;

    while (dlen < len && s[dlen] != ' ' && s[dlen] != '\t') {
        dlen++;
    }
    if (parse_days(s, dlen, &r.days) < 0) {
        return -EINVAL;
    }
    t = dlen;
    while (t < len && (s[t] == ' ' || s[t] == '\t')) {
        t++;
    }
    if (t == dlen || len - t != 11 || s[t + 5] != '-') {
        return -EINVAL;
    }
    if (parse_hhmm(s + t, false, &r.start) < 0 || parse_hhmm(s + t + 6, true, &r.end) < 0) {
        return -EINVAL;
    }
    if (r.start == r.end) {
        return -EINVAL;
    }
    *ret_range = r;
    return 0;
}

void oc_timewin_init_always(struct oc_timewin *win)
{
    memset(win, 0, sizeof(*win));
    win->always = true;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int oc_timewin_parse(const char *text, struct oc_timewin *ret_win)
{
    struct oc_timewin w = {0};
    const char *p, *end;
    size_t len;

    if (text == NULL) {
        return -EINVAL;
    }
    len = strnlen(text, OC_TIMEWIN_TEXT_MAX + 1);
    if (len > OC_TIMEWIN_TEXT_MAX) {
        return -E2BIG;
    }
    p = text;
    end = text + len;
    while (p < end && is_blank(*p)) {
        p++;
    }
    {
        const char *e = end;

        while (e > p && is_blank(e[-1])) {
            e--;
        }
        if (word_eq(p, (size_t)(e - p), "always")) {
            oc_timewin_init_always(ret_win);
            return 0;
        }
    }
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *ie = comma != NULL ? comma : end;
        const char *is = p;

        while (is < ie && is_blank(*is)) {
            is++;
        }
        while (ie > is && is_blank(ie[-1])) {
            ie--;
        }
        if (ie == is) {
            return -EINVAL;
        }
        if (w.n >= OC_TIMEWIN_MAX) {
            return -E2BIG;
        }
        if (parse_window(is, (size_t)(ie - is), &w.r[w.n]) < 0) {
            return -EINVAL;
        }
        w.n++;
        if (comma == NULL) {
            break;
        }
        p = comma + 1;
    }
    *ret_win = w;
    return 0;
}

bool oc_timewin_match(const struct oc_timewin *win, const struct tm *tm)
{
    unsigned day, prev, m;
    size_t i;

    if (win == NULL || tm == NULL) {
        return false;
    }
    if (win->always) {
        return true;
    }
    if (tm->tm_wday < 0 || tm->tm_wday > 6 || tm->tm_hour < 0 || tm->tm_hour > 23 ||
        tm->tm_min < 0 || tm->tm_min > 59) {
        return false;
    }
    day = (unsigned)tm->tm_wday;
    prev = (day + 6) % 7;
    m = (unsigned)tm->tm_hour * 60 + (unsigned)tm->tm_min;
    for (i = 0; i < win->n && i < OC_TIMEWIN_MAX; i++) {
        const struct oc_timerange *r = &win->r[i];

        if (r->start < r->end) {
            if ((r->days & (1u << day)) && m >= r->start && m < r->end) {
                return true;
            }
        } else {
            if ((r->days & (1u << day)) && m >= r->start) {
                return true;
            }
            if ((r->days & (1u << prev)) && m < r->end) {
                return true;
            }
        }
    }
    return false;
}
