/* SPDX-License-Identifier: MIT */
/*
 * fuzz_nsscache: arbitrary bytes as an NSS cache file, then every lookup
 * and walk the NSS module makes. The checksum is recomputed first (when
 * the input is long enough to hold one), so the fuzzer explores the
 * structure behind it instead of stopping at the checksum. The input is
 * copied to an exact-size heap buffer, so ASan sees any read past the end.
 * The replaced word (written in place by a later writer, outside the
 * checksum) is driven through its states: whatever the input holds, 0
 * (live), 1 (replaced once), the top of the counter, and back; the image
 * must stay valid and the word must read back as stored.
 *
 * Whatever the slots of the hash tables hold (keys, refs, no empty slot),
 * a lookup that answers returns the entry asked for: the name it was
 * given, or the uid or gid (a slot's key only says which record to read).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nsscache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Lookups that never answer with another entry than the one asked for. */
static int pw_name(const struct oc_nssc *c, const char *name, struct oc_nssc_pw *pw)
{
    struct oc_nssc_pw n;
    int r = oc_nssc_pw_by_name(c, name, pw);
    /* the measured-name form the NSS module calls answers the same */
    if (r == 0 && strcmp(pw->name, name) != 0) {
        __builtin_trap();
    }
    if (oc_nssc_pw_by_name_n(c, name, strlen(name), &n) != r ||
        (r == 0 &&
         (n.name != pw->name || n.gecos != pw->gecos || n.dir != pw->dir || n.shell != pw->shell ||
          n.uid != pw->uid || n.gid != pw->gid || n.flags != pw->flags || n.roles != pw->roles ||
          n.n_roles != pw->n_roles || n.gids != pw->gids || n.n_gids != pw->n_gids))) {
        __builtin_trap();
    }
    return r;
}

static int pw_uid(const struct oc_nssc *c, uint32_t uid, struct oc_nssc_pw *pw)
{
    int r = oc_nssc_pw_by_uid(c, uid, pw);
    if (r == 0 && pw->uid != uid) {
        __builtin_trap();
    }
    return r;
}

static int gr_name(const struct oc_nssc *c, const char *name, struct oc_nssc_gr *gr)
{
    struct oc_nssc_gr n;
    int r = oc_nssc_gr_by_name(c, name, gr);
    if (r == 0 && strcmp(gr->name, name) != 0) {
        __builtin_trap();
    }
    if (oc_nssc_gr_by_name_n(c, name, strlen(name), &n) != r ||
        (r == 0 && memcmp(&n, gr, sizeof(n)) != 0)) {
        __builtin_trap();
    }
    return r;
}

static int gr_gid(const struct oc_nssc *c, uint32_t gid, struct oc_nssc_gr *gr)
{
    int r = oc_nssc_gr_by_gid(c, gid, gr);
    if (r == 0 && gr->gid != gid) {
        __builtin_trap();
    }
    return r;
}

static void walk_user(const struct oc_nssc *c, const struct oc_nssc_pw *pw)
{
    uint32_t gid;
    const char *s;
    struct oc_nssc_gr gr;
    struct oc_nssc_pw again;

    for (uint32_t i = 0; i < pw->n_gids && i < 64; i++) {
        uint32_t gid2, flags;
        int r = oc_nssc_pw_group_id(c, pw, i, &gid2, &flags);
        /* initgroups' accessor reads the same record as the full one */
        if (r == 0 && oc_nssc_pw_group(c, pw, i, &gr) == 0 &&
            (gr.gid != gid2 || gr.flags != flags)) {
            __builtin_trap();
        }
        if (oc_nssc_pw_gid(c, pw, i, &gid) == 0) {
            if (r != 0 || gid != gid2) {
                __builtin_trap();
            }
            (void)gr_gid(c, gid, &gr);
        }
    }
    for (uint32_t i = 0; i < pw->n_roles && i < 64; i++) {
        (void)oc_nssc_pw_role(c, pw, i, &s);
    }
    (void)pw_name(c, pw->name, &again);
    (void)pw_uid(c, pw->uid, &again);
    (void)strlen(pw->gecos);
    (void)strlen(pw->dir);
    (void)strlen(pw->shell);
}

static void walk_group(const struct oc_nssc *c, const struct oc_nssc_gr *gr)
{
    const char *m;
    struct oc_nssc_gr again;
    struct oc_nssc_pw pw;

    for (uint32_t i = 0; i < gr->n_members && i < 64; i++) {
        if (oc_nssc_gr_member(c, gr, i, &m) == 0) {
            (void)pw_name(c, m, &pw);
        }
    }
    (void)gr_name(c, gr->name, &again);
    (void)gr_gid(c, gr->gid, &again);
}

/* Every state of the replaced word keeps a valid image valid. */
static void replaced_states(uint8_t *buf, size_t size, const struct oc_nssc *c)
{
    const uint32_t was = oc_nssc_replaced(c);
    const uint32_t states[] = {0, 1, 2, UINT32_MAX, was ^ 1u, was};
    struct oc_nssc again;

    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        memcpy(buf + OC_NSSC_REPLACED_OFFSET, &states[i], sizeof(states[i]));
        if (oc_nssc_open(buf, size, &again) != 0 || oc_nssc_replaced(&again) != states[i]) {
            __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_nssc c;
    struct oc_nssc_pw pw;
    struct oc_nssc_gr gr;
    uint8_t *buf = malloc(size ? size : 1);

    if (buf == NULL) {
        return 0;
    }
    if (size > 0) {
        memcpy(buf, data, size);
    }
    /* Once as given (checksum and all), once with the checksum repaired. */
    (void)oc_nssc_open(buf, size, &c);
    if (size >= OC_NSSC_CHECKSUM_OFFSET + 8) {
        uint64_t ck = oc_nssc_checksum(buf, size);
        memcpy(buf + OC_NSSC_CHECKSUM_OFFSET, &ck, sizeof(ck));
    }
    if (oc_nssc_open(buf, size, &c) == 0) {
        replaced_states(buf, size, &c);
        static const char *const names[] = {"alice", "bob", "build-bot", "root", "", "x"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (pw_name(&c, names[i], &pw) == 0) {
                walk_user(&c, &pw);
            }
            (void)gr_name(&c, names[i], &gr);
        }
        static const uint32_t ids[] = {0, 1, 1000, 1879048300, 0xffffffffu};
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
            (void)pw_uid(&c, ids[i], &pw);
            (void)gr_gid(&c, ids[i], &gr);
        }
        for (uint32_t i = 0; i < c.n_users && i < 256; i++) {
            if (oc_nssc_pw_at(&c, i, &pw) == 0) {
                walk_user(&c, &pw);
            }
        }
        for (uint32_t i = 0; i < c.n_groups && i < 256; i++) {
            if (oc_nssc_gr_at(&c, i, &gr) == 0) {
                walk_group(&c, &gr);
            }
        }
    }
    free(buf);
    return 0;
}
