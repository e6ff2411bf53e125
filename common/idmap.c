/* SPDX-License-Identifier: MIT */
/* idmap.c: uid derivation, collision refusal, name slugs (see idmap.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "idmap.h"
#include "util.h"

uint64_t oc_fnv1a64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = OC_FNV64_OFFSET;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= OC_FNV64_PRIME;
    }
    return h;
}

static uint64_t fnv_lower(uint64_t h, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;

        if (ch >= 'A' && ch <= 'Z') {
            ch = (unsigned char)(ch - 'A' + 'a');
        }
        h ^= ch;
        h *= OC_FNV64_PRIME;
    }
    return h;
}

uint32_t oc_idmap_uid(const char *tenant_id, const char *object_id, uint32_t uid_min,
                      uint32_t uid_max)
{
    uint64_t h = OC_FNV64_OFFSET, size;

    if (uid_max < uid_min) {
        return uid_min;
    }
    h = fnv_lower(h, tenant_id != NULL ? tenant_id : "");
    h = fnv_lower(h, ":");
    h = fnv_lower(h, object_id != NULL ? object_id : "");
    size = (uint64_t)uid_max - uid_min + 1;
    return (uint32_t)(uid_min + h % size);
}

struct slot {
    uint32_t uid;
    size_t idx;
};

static int slot_cmp(const void *a, const void *b)
{
    const struct slot *x = a, *y = b;

    if (x->uid != y->uid) {
        return x->uid < y->uid ? -1 : 1;
    }
    return x->idx < y->idx ? -1 : (x->idx > y->idx ? 1 : 0);
}

static bool uid_used(const struct slot *slots, size_t n, uint32_t uid)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (slots[mid].uid == uid) {
            return true;
        }
        if (slots[mid].uid < uid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

/* A uid in [min, max] not used by any agent, searching upwards from start. */
static bool free_uid(const struct slot *slots, size_t n, uint32_t min, uint32_t max, uint32_t start,
                     uint32_t *ret_uid)
{
    uint64_t size = (uint64_t)max - min + 1, i;

    for (i = 1; i <= size && i <= n + 1; i++) {
        uint32_t u = (uint32_t)(min + ((uint64_t)start - min + i) % size);

        if (!uid_used(slots, n, u)) {
            *ret_uid = u;
            return true;
        }
    }
    return false;
}

int oc_idmap_assign(const struct oc_config *cfg, struct oc_idmap_entry **ret_entries, size_t *ret_n,
                    char *why, size_t why_len)
{
    struct oc_idmap_entry *e = NULL;
    struct slot *slots = NULL;
    const struct oc_global *g;
    size_t i, n;
    int r;

    if (why != NULL && why_len > 0) {
        why[0] = '\0';
    }
    if (cfg == NULL || ret_entries == NULL || ret_n == NULL) {
        return -EINVAL;
    }
    g = &cfg->global;
    n = cfg->n_agents;
    e = calloc(n > 0 ? n : 1, sizeof(*e));
    slots = calloc(n > 0 ? n : 1, sizeof(*slots));
    if (e == NULL || slots == NULL) {
        r = -ENOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        const struct oc_agent *a = &cfg->agents[i];

        if (oc_strscpy(e[i].name, sizeof(e[i].name), a->name) < 0) {
            r = -EINVAL;
            goto out;
        }
        e[i].pinned = a->has_uid;
        e[i].uid = a->has_uid ? a->uid
                              : oc_idmap_uid(g->tenant_id, a->object_id, g->uid_min, g->uid_max);
        e[i].gid = e[i].uid;
        e[i].agent = i;
        slots[i].uid = e[i].uid;
        slots[i].idx = i;
    }
    qsort(slots, n, sizeof(*slots), slot_cmp);
    for (i = 1; i < n; i++) {
        const struct oc_idmap_entry *a, *b, *fix;
        uint32_t suggestion;

        if (slots[i].uid != slots[i - 1].uid) {
            continue;
        }
        a = &e[slots[i - 1].idx];
        b = &e[slots[i].idx];
        /* Ask to pin the one that is not pinned yet (the later one if neither). */
        fix = !b->pinned ? b : a;
        if (why != NULL && why_len > 0) {
            char part[64] = "";

            if (a->pinned && b->pinned) {
                (void)snprintf(part, sizeof(part), "both set uid = %u; ", (unsigned)a->uid);
            }
            if (free_uid(slots, n, g->uid_min, g->uid_max, a->uid, &suggestion)) {
                (void)snprintf(
                        why, why_len,
                        "agents %s and %s both map to uid %u (and gid %u): %spin one of them "
                        "with 'uid = N' in its [agent NAME] section, e.g. 'uid = %u' in "
                        "[agent %s]",
                        a->name, b->name, a->uid, a->gid, part, suggestion, fix->name);
            } else {
                (void)snprintf(why, why_len,
                               "agents %s and %s both map to uid %u (and gid %u): %sthe range "
                               "uid_min..uid_max is full: widen it, then pin one of them with "
                               "'uid = N' in [agent %s]",
                               a->name, b->name, a->uid, a->gid, part, fix->name);
            }
        }
        r = -EEXIST;
        goto out;
    }
    *ret_entries = e;
    *ret_n = n;
    e = NULL;
    r = 0;
out:
    free(e);
    free(slots);
    return r;
}

static bool slug_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
}

static bool valid_prefix(const char *p)
{
    size_t i;

    if (p[0] == '\0') {
        return true;
    }
    if (strlen(p) > OC_IDMAP_PREFIX_MAX || !((p[0] >= 'a' && p[0] <= 'z') || p[0] == '_')) {
        return false;
    }
    for (i = 1; p[i] != '\0'; i++) {
        if (!slug_char(p[i]) && p[i] != '-') {
            return false;
        }
    }
    return true;
}

int oc_idmap_slug(const char *display_name, const char *prefix, char *buf, size_t len)
{
    char out[OC_USER_NAME_MAX + 1];
    size_t n, base;
    const char *p;

    if (prefix == NULL) {
        prefix = OC_IDMAP_SLUG_PREFIX;
    }
    if (buf == NULL || !valid_prefix(prefix)) {
        return -EINVAL;
    }
    if (display_name == NULL) {
        display_name = "";
    }
    n = strlen(prefix);
    memcpy(out, prefix, n);
    base = n;
    for (p = display_name; *p != '\0' && n < OC_USER_NAME_MAX; p++) {
        char ch = *p;

        if (ch >= 'A' && ch <= 'Z') {
            ch = (char)(ch - 'A' + 'a');
        }
        if (!slug_char(ch)) {
            ch = '-';
        }
        if (ch == '-' && (n == base || out[n - 1] == '-')) {
            continue; /* no leading '-', no runs */
        }
        if (n == 0 && ch >= '0' && ch <= '9') {
            out[n++] = '_'; /* a name cannot start with a digit */
            if (n >= OC_USER_NAME_MAX) {
                break;
            }
        }
        out[n++] = ch;
    }
    while (n > base && out[n - 1] == '-') {
        n--;
    }
    if (n == base) {
        static const char fallback[] = "unnamed";
        size_t k;

        n = base;
        for (k = 0; fallback[k] != '\0' && n < OC_USER_NAME_MAX; k++) {
            out[n++] = fallback[k];
        }
    }
    out[n] = '\0';
    if (n + 1 > len) {
        return -ENOBUFS;
    }
    memcpy(buf, out, n + 1);
    return 0;
}
