/* SPDX-License-Identifier: MIT */
/*
 * oc_nsscwrite.c: the NSS cache writer (see oc_nsscwrite.h; the byte
 * layout is common/nsscache_layout.h, shared with the reader, and
 * docs/nss.md). Libc only. oc_nssc_build() runs in stages, each over the
 * whole input: check and sort the users, then the groups; collect the
 * memberships; place every record, list and string in the data area; lay
 * the file out; write the header, records and lists; seed the hash tables,
 * fill them and seal the checksum.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helper/lib/oc_nsscwrite.h"
#include "nsscache.h"
#include "nsscache_layout.h"
#include "util.h"

/* The data area under construction: records, and strings through an
 * interning table (identical strings are stored once). */
struct strtab {
    char *data;
    size_t len, cap;
    uint32_t *slots; /* offset + 1, 0 = empty */
    size_t nslots, used;
};

static uint64_t plain_hash(const char *s)
{
    static const uint8_t zero_seed[OC_NSSC_SEED_SIZE];
    return oc_nssc_name_hash(zero_seed, s, strlen(s));
}

static int strtab_grow_slots(struct strtab *t)
{
    size_t n = t->nslots ? t->nslots * 2 : 1024;
    uint32_t *s = calloc(n, sizeof(*s));
    if (s == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < t->nslots; i++) {
        if (t->slots[i] == 0) {
            continue;
        }
        size_t j = plain_hash(t->data + t->slots[i] - 1) & (n - 1);
        while (s[j] != 0) {
            j = (j + 1) & (n - 1);
        }
        s[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = s;
    t->nslots = n;
    return 0;
}

/* Room for n more bytes. */
static int strtab_room(struct strtab *t, size_t n)
{
    if (t->len + n > OC_NSSC_FILE_MAX) {
        return -E2BIG;
    }
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n) {
            cap *= 2;
        }
        char *d = realloc(t->data, cap);
        if (d == NULL) {
            return -ENOMEM;
        }
        t->data = d;
        t->cap = cap;
    }
    return 0;
}

/* Append n zero bytes. */
static int strtab_zero(struct strtab *t, size_t n)
{
    int r = strtab_room(t, n);
    if (r < 0) {
        return r;
    }
    memset(t->data + t->len, 0, n);
    t->len += n;
    return 0;
}

/* Reserve a record of size bytes (zero; filled in by the caller) that will
 * be followed by about block - size bytes of its own strings: 4-aligned,
 * and moved to the next cache line when the block would otherwise touch
 * one line more than it needs (block 0: never moved). *ret_ref: its
 * offset. */
static int strtab_record(struct strtab *t, size_t size, size_t block, uint32_t *ret_ref)
{
    size_t pad = (4 - (t->len & 3)) & 3;
    size_t at = (t->len + pad) % OC_NSSC_LINE;
    size_t lines = (block + OC_NSSC_LINE - 1) / OC_NSSC_LINE;
    if (block > 0 && at != 0 && at + block > lines * OC_NSSC_LINE) {
        pad += OC_NSSC_LINE - at;
    }
    int r = strtab_zero(t, pad);
    if (r < 0) {
        return r;
    }
    *ret_ref = (uint32_t)t->len;
    return strtab_zero(t, size);
}

/* Append s without interning it (a copy next to its record). */
static int strtab_put(struct strtab *t, const char *s, uint32_t *ret_off)
{
    size_t n = strlen(s) + 1;
    int r = strtab_room(t, n);
    if (r < 0) {
        return r;
    }
    memcpy(t->data + t->len, s, n);
    *ret_off = (uint32_t)t->len;
    t->len += n;
    return 0;
}

static int strtab_add(struct strtab *t, const char *s, uint32_t *ret_off)
{
    if (s == NULL) {
        s = "";
    }
    if ((t->used + 1) * 2 > t->nslots) {
        int r = strtab_grow_slots(t);
        if (r < 0) {
            return r;
        }
    }
    size_t j = plain_hash(s) & (t->nslots - 1);
    while (t->slots[j] != 0) {
        if (strcmp(t->data + t->slots[j] - 1, s) == 0) {
            *ret_off = t->slots[j] - 1;
            return 0;
        }
        j = (j + 1) & (t->nslots - 1);
    }
    int r = strtab_put(t, s, ret_off);
    if (r < 0) {
        return r;
    }
    t->slots[j] = *ret_off + 1;
    t->used++;
    return 0;
}

static void strtab_free(struct strtab *t)
{
    free(t->data);
    free(t->slots);
}

/* A field of a passwd or group line: no ':' and no newline, bounded. */
static bool field_ok(const char *s, bool may_be_empty)
{
    if (s == NULL) {
        return may_be_empty;
    }
    size_t n = strnlen(s, OC_NSSC_STRING_MAX + 1);
    if (n > OC_NSSC_STRING_MAX || (n == 0 && !may_be_empty)) {
        return false;
    }
    return strpbrk(s, ":\n\r") == NULL && oc_utf8_valid(s, n, NULL);
}

static int cmp_user_ptr(const void *a, const void *b)
{
    const struct oc_nssc_user_in *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int cmp_group_ptr(const void *a, const void *b)
{
    const struct oc_nssc_group_in *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t line_up(uint64_t off)
{
    return (off + OC_NSSC_LINE - 1) & ~(uint64_t)(OC_NSSC_LINE - 1);
}

/* Slots of a table for n records: n + n/4 + 1, so that the load stays
 * at 0.8 (a hit reads 3 slots on average, 24 bytes, mostly on one line)
 * and at least one slot is empty. */
static uint32_t slots_for(size_t n)
{
    return (uint32_t)(n + n / 4 + 1);
}

/* Where each part of the file goes (byte offsets from its start). */
struct layout {
    uint32_t user_slots, group_slots;
    uint64_t users_off, groups_off;        /* the index tables */
    uint64_t pwn_off, pwu_off;             /* the users' name and uid tables */
    uint64_t grn_off, grg_off;             /* the groups' name and gid tables */
    uint64_t refs_off, strings_off, total; /* the list slots, the data area, the size */
};

/* Everything the writer allocates, freed in one place, and the counts the
 * stages pass on. */
struct build {
    const struct oc_nssc_user_in **users;   /* sorted by name */
    const struct oc_nssc_group_in **groups; /* sorted by name */
    size_t n_users, n_groups, total_members;
    uint32_t *ids;
    uint64_t *pairs; /* (user index << 32) | gid, sorted */
    size_t n_pairs;
    const char **tmp;
    uint32_t *refs; /* the list slots */
    size_t n_refs, cap_refs;
    uint32_t *user_rec, *group_rec; /* records under construction */
    uint32_t *user_ref, *group_ref; /* where each goes in the data area */
    size_t *user_pair;              /* each user's first membership pair */
    uint64_t *gid_group;            /* (gid << 32) | group index, sorted */
    struct strtab st;
    struct layout lay;
    uint8_t *img;
};

static void build_free(struct build *b)
{
    free(b->users);
    free(b->groups);
    free(b->ids);
    free(b->pairs);
    free(b->tmp);
    free(b->refs);
    free(b->user_rec);
    free(b->group_rec);
    free(b->user_ref);
    free(b->group_ref);
    free(b->user_pair);
    free(b->gid_group);
    strtab_free(&b->st);
    free(b->img);
}

/* The user named name (b->users is sorted by name, names are unique), or
 * NULL; *ret_idx its index. */
static const struct oc_nssc_user_in *find_user(struct build *b, const char *name, size_t *ret_idx)
{
    const struct oc_nssc_user_in key = {.name = name}, *kp = &key;
    const struct oc_nssc_user_in **hit =
            bsearch(&kp, b->users, b->n_users, sizeof(*b->users), cmp_user_ptr);

    if (hit == NULL) {
        return NULL;
    }
    *ret_idx = (size_t)(hit - b->users);
    return *hit;
}

/* The same for a group. */
static const struct oc_nssc_group_in *find_group(struct build *b, const char *name, size_t *ret_idx)
{
    const struct oc_nssc_group_in key = {.name = name}, *kp = &key;
    const struct oc_nssc_group_in **hit =
            bsearch(&kp, b->groups, b->n_groups, sizeof(*b->groups), cmp_group_ptr);

    if (hit == NULL) {
        return NULL;
    }
    *ret_idx = (size_t)(hit - b->groups);
    return *hit;
}

/* Put (key, ref) in the first free slot from i on (there is one: a table
 * has more slots than records). */
static void slot_put(uint8_t *tab, uint32_t slots, uint32_t i, uint32_t key, uint32_t ref)
{
    while (ld32(tab + S_SIZE * (size_t)i + S_REF) != 0) {
        i = i + 1 < slots ? i + 1 : 0;
    }
    st32(tab + S_SIZE * (size_t)i + S_KEY, key);
    st32(tab + S_SIZE * (size_t)i + S_REF, ref);
}

/* The four hash tables for seed; records are inserted in name order, so
 * the same input gives the same slots. */
static void fill_tables(uint8_t *img, const uint8_t *seed)
{
    uint32_t n_users = ld32(img + H_N_USERS), n_groups = ld32(img + H_N_GROUPS);
    uint32_t us = ld32(img + H_USER_SLOTS), gs = ld32(img + H_GROUP_SLOTS);
    uint32_t users_off = ld32(img + H_USERS_OFF), groups_off = ld32(img + H_GROUPS_OFF);
    const uint8_t *data = img + ld32(img + H_STRINGS_OFF);
    memcpy(img + H_SEED, seed, OC_NSSC_SEED_SIZE);

    uint8_t *pwn = img + ld32(img + H_PW_NAME_OFF), *pwu = img + ld32(img + H_PW_UID_OFF);
    uint8_t *grn = img + ld32(img + H_GR_NAME_OFF), *grg = img + ld32(img + H_GR_GID_OFF);
    memset(pwn, 0, S_SIZE * (size_t)us);
    memset(pwu, 0, S_SIZE * (size_t)us);
    memset(grn, 0, S_SIZE * (size_t)gs);
    memset(grg, 0, S_SIZE * (size_t)gs);
    for (uint32_t i = 0; i < n_users; i++) {
        uint32_t ref = ld32(img + users_off + 4 * (size_t)i);
        const uint8_t *r = data + ref;
        const char *name = (const char *)data + ld32(r + U_NAME);
        uint64_t h = oc_nssc_name_hash(seed, name, strlen(name));
        uint32_t uid = ld32(r + U_UID);
        slot_put(pwn, us, slot_of((uint32_t)h, us), (uint32_t)(h >> 32), ref);
        slot_put(pwu, us, slot_of(oc_nssc_id_hash(seed, uid), us), uid, ref);
    }
    for (uint32_t i = 0; i < n_groups; i++) {
        uint32_t ref = ld32(img + groups_off + 4 * (size_t)i);
        const uint8_t *r = data + ref;
        const char *name = (const char *)data + ld32(r + G_NAME);
        uint64_t h = oc_nssc_name_hash(seed, name, strlen(name));
        uint32_t gid = ld32(r + G_GID);
        slot_put(grn, gs, slot_of((uint32_t)h, gs), (uint32_t)(h >> 32), ref);
        slot_put(grg, gs, slot_of(oc_nssc_id_hash(seed, gid), gs), gid, ref);
    }
}

static int refs_push(struct build *b, uint32_t v)
{
    if (b->n_refs >= OC_NSSC_REFS_MAX) {
        return -E2BIG;
    }
    if (b->n_refs == b->cap_refs) {
        size_t nc = b->cap_refs ? b->cap_refs * 2 : 1024;
        uint32_t *r = realloc(b->refs, nc * sizeof(*r));
        if (r == NULL) {
            return -ENOMEM;
        }
        b->refs = r;
        b->cap_refs = nc;
    }
    b->refs[b->n_refs++] = v;
    return 0;
}

/* Append a list of strings (roles, members) to the list slots: sorted,
 * duplicates dropped, each interned in the string table. Its first slot
 * and its length go to *ret_first and *ret_n. */
static int refs_push_strings(struct build *b, const char *const *list, size_t n_list,
                             uint32_t *ret_first, uint32_t *ret_n)
{
    uint32_t first = (uint32_t)b->n_refs, count = 0;
    int r;

    if (n_list > 0) {
        memcpy(b->tmp, list, n_list * sizeof(*b->tmp));
    }
    qsort(b->tmp, n_list, sizeof(*b->tmp), cmp_str_ptr);
    for (size_t j = 0; j < n_list; j++) {
        uint32_t so;
        if (j > 0 && strcmp(b->tmp[j - 1], b->tmp[j]) == 0) {
            continue;
        }
        if ((r = strtab_add(&b->st, b->tmp[j], &so)) < 0 || (r = refs_push(b, so)) < 0) {
            return r;
        }
        count++;
    }
    *ret_first = first;
    *ret_n = count;
    return 0;
}

/* ---------------------------------------------------------------- */
/* Stage 1: the input, checked and sorted                           */
/* ---------------------------------------------------------------- */

static bool user_ok(const struct oc_nssc_user_in *u)
{
    if (u->name == NULL || !oc_valid_user_name(u->name) || u->uid == 0 || u->gid == 0 ||
        !field_ok(u->gecos, true) || !field_ok(u->dir, false) || !field_ok(u->shell, false) ||
        u->n_roles > OC_NSSC_LIST_MAX || (u->n_roles > 0 && u->roles == NULL)) {
        return false;
    }
    for (size_t j = 0; j < u->n_roles; j++) {
        if (!field_ok(u->roles[j], false)) {
            return false;
        }
    }
    return true;
}

/* Validate the users and sort them by name; names and uids unique. */
static int sort_users(struct build *b, const struct oc_nssc_user_in *users)
{
    for (size_t i = 0; i < b->n_users; i++) {
        if (!user_ok(&users[i])) {
            return -EINVAL;
        }
        b->users[i] = &users[i];
        b->ids[i] = users[i].uid;
    }
    qsort(b->users, b->n_users, sizeof(*b->users), cmp_user_ptr);
    qsort(b->ids, b->n_users, sizeof(*b->ids), cmp_u32);
    for (size_t i = 1; i < b->n_users; i++) {
        if (strcmp(b->users[i - 1]->name, b->users[i]->name) == 0 || b->ids[i - 1] == b->ids[i]) {
            return -EINVAL;
        }
    }
    return 0;
}

/* The same for the groups: names and gids unique. */
static int sort_groups(struct build *b, const struct oc_nssc_group_in *groups)
{
    for (size_t i = 0; i < b->n_groups; i++) {
        const struct oc_nssc_group_in *g = &groups[i];
        if (g->name == NULL || !oc_valid_user_name(g->name) || g->gid == 0 ||
            g->n_members > OC_NSSC_LIST_MAX || (g->n_members > 0 && g->members == NULL)) {
            return -EINVAL;
        }
        b->total_members += g->n_members;
        b->groups[i] = g;
        b->ids[i] = g->gid;
    }
    qsort(b->groups, b->n_groups, sizeof(*b->groups), cmp_group_ptr);
    qsort(b->ids, b->n_groups, sizeof(*b->ids), cmp_u32);
    for (size_t i = 1; i < b->n_groups; i++) {
        if (strcmp(b->groups[i - 1]->name, b->groups[i]->name) == 0 || b->ids[i - 1] == b->ids[i]) {
            return -EINVAL;
        }
    }
    return 0;
}

/* Memberships: (user, gid) pairs, for each user's supplementary list
 * (sorted by user, then gid); every member must be a user. */
static int collect_memberships(struct build *b)
{
    b->pairs = calloc(b->total_members + 1, sizeof(*b->pairs));
    b->tmp = calloc(OC_NSSC_LIST_MAX, sizeof(*b->tmp));
    if (b->pairs == NULL || b->tmp == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < b->n_groups; i++) {
        const struct oc_nssc_group_in *g = b->groups[i];
        for (size_t j = 0; j < g->n_members; j++) {
            size_t ui;
            if (g->members[j] == NULL || find_user(b, g->members[j], &ui) == NULL) {
                return -EINVAL;
            }
            if (b->users[ui]->gid != g->gid) {
                b->pairs[b->n_pairs++] = ((uint64_t)ui << 32) | g->gid;
            }
        }
    }
    qsort(b->pairs, b->n_pairs, sizeof(*b->pairs), cmp_u64);
    return 0;
}

/* ---------------------------------------------------------------- */
/* Stage 2: records, lists and strings in the data area             */
/* ---------------------------------------------------------------- */

/* The number of user i's supplementary groups: its pairs from *pi on
 * (advanced past them), a member listed twice counted once. */
static int count_gids(struct build *b, size_t i, size_t *pi, uint32_t *ret_ng)
{
    uint32_t ng = 0;

    for (; *pi < b->n_pairs && (b->pairs[*pi] >> 32) == i; (*pi)++) {
        if (*pi > 0 && b->pairs[*pi - 1] == b->pairs[*pi]) {
            continue; /* a member listed twice */
        }
        if (ng >= OC_NSSC_LIST_MAX) {
            return -E2BIG;
        }
        ng++;
    }
    *ret_ng = ng;
    return 0;
}

/*
 * User i's block: the record, the refs of its supplementary groups'
 * records when there are few (filled in once every group record has its
 * place: initgroups finds them on the record's line), the user's name,
 * gecos and home (the shell is usually shared), the record of the user
 * private group (whose name is the user's, just above), then the refs of
 * many groups; its roles go to the list slots. field_ok bounded the
 * lengths. *pi: the user's first membership pair, advanced past them.
 */
static int place_user(struct build *b, size_t i, size_t *pi)
{
    const struct oc_nssc_user_in *u = b->users[i];
    uint32_t *rec = b->user_rec + i * (U_SIZE / 4);
    uint32_t ng;
    size_t gi;
    int r;

    b->user_pair[i] = *pi;
    if ((r = count_gids(b, i, pi, &ng)) < 0) {
        return r;
    }
    rec[U_N_GIDS / 4] = ng;
    bool upg = find_group(b, u->name, &gi) != NULL;
    bool gids_first = ng > 0 && ng <= OC_NSSC_GIDS_NEAR;
    size_t block = U_SIZE + (gids_first ? 4 * (size_t)ng : 0) + strlen(u->name) + 1 +
                   (u->gecos ? strlen(u->gecos) : 0) + 1 + strlen(u->dir) + 1;
    if ((r = strtab_record(&b->st, U_SIZE, block, &b->user_ref[i])) < 0 ||
        (gids_first && (r = strtab_record(&b->st, 4 * (size_t)ng, 0, &rec[U_GIDS / 4])) < 0) ||
        (r = strtab_add(&b->st, u->name, &rec[U_NAME / 4])) < 0 ||
        (r = strtab_add(&b->st, u->gecos, &rec[U_GECOS / 4])) < 0 ||
        (r = strtab_add(&b->st, u->dir, &rec[U_DIR / 4])) < 0 ||
        (upg && (r = strtab_record(&b->st, G_SIZE, 0, &b->group_ref[gi])) < 0) ||
        (r = strtab_add(&b->st, u->shell, &rec[U_SHELL / 4])) < 0 ||
        (ng > 0 && !gids_first &&
         (r = strtab_record(&b->st, 4 * (size_t)ng, 0, &rec[U_GIDS / 4])) < 0)) {
        return r;
    }
    rec[U_UID / 4] = u->uid;
    rec[U_GID / 4] = u->gid;
    rec[U_FLAGS / 4] = u->enabled ? OC_NSSC_USER_ENABLED : 0;
    return refs_push_strings(b, u->roles, u->n_roles, &rec[U_ROLES / 4], &rec[U_N_ROLES / 4]);
}

/* Group i's record: placed after its user when it is a user private
 * group, else here, its name after it; its members go to the list slots. */
static int place_group(struct build *b, size_t i)
{
    const struct oc_nssc_group_in *g = b->groups[i];
    uint32_t *rec = b->group_rec + i * (G_SIZE / 4);
    int r;

    if ((b->group_ref[i] == 0 &&
         (r = strtab_record(&b->st, G_SIZE, G_SIZE + strlen(g->name) + 1, &b->group_ref[i])) < 0) ||
        (r = strtab_add(&b->st, g->name, &rec[G_NAME / 4])) < 0) {
        return r;
    }
    rec[G_GID / 4] = g->gid;
    rec[G_FLAGS / 4] = g->local ? OC_NSSC_GROUP_LOCAL : 0;
    return refs_push_strings(b, g->members, g->n_members, &rec[G_MEMBERS / 4],
                             &rec[G_N_MEMBERS / 4]);
}

/* Every record, list and string, in sorted order (the empty string at
 * offset 0). */
static int place_records(struct build *b)
{
    size_t pi = 0;
    uint32_t off_empty;
    int r;

    b->user_rec = calloc(b->n_users * (U_SIZE / 4) + 1, sizeof(uint32_t));
    b->group_rec = calloc(b->n_groups * (G_SIZE / 4) + 1, sizeof(uint32_t));
    b->user_ref = calloc(b->n_users + 1, sizeof(uint32_t));
    b->group_ref = calloc(b->n_groups + 1, sizeof(uint32_t));
    b->user_pair = calloc(b->n_users + 1, sizeof(size_t));
    b->gid_group = calloc(b->n_groups + 1, sizeof(uint64_t));
    if (b->user_rec == NULL || b->group_rec == NULL || b->user_ref == NULL ||
        b->group_ref == NULL || b->user_pair == NULL || b->gid_group == NULL) {
        return -ENOMEM;
    }
    if ((r = strtab_add(&b->st, "", &off_empty)) < 0) {
        return r;
    }
    for (size_t i = 0; i < b->n_users; i++) {
        if ((r = place_user(b, i, &pi)) < 0) {
            return r;
        }
    }
    for (size_t i = 0; i < b->n_groups; i++) {
        if ((r = place_group(b, i)) < 0) {
            return r;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* Stage 3: the file laid out and written                           */
/* ---------------------------------------------------------------- */

/* Where each part goes; the image allocated (zero). Each hash table
 * starts on a line, so that a probe's slots share lines. */
static int lay_out(struct build *b)
{
    struct layout *l = &b->lay;
    uint64_t off = OC_NSSC_HEADER_SIZE;

    l->user_slots = slots_for(b->n_users);
    l->group_slots = slots_for(b->n_groups);
    l->users_off = off;
    off += 4ull * b->n_users;
    l->groups_off = off;
    off += 4ull * b->n_groups;
    l->pwn_off = line_up(off);
    l->pwu_off = line_up(l->pwn_off + (uint64_t)S_SIZE * l->user_slots);
    l->grn_off = line_up(l->pwu_off + (uint64_t)S_SIZE * l->user_slots);
    l->grg_off = line_up(l->grn_off + (uint64_t)S_SIZE * l->group_slots);
    off = l->grg_off + (uint64_t)S_SIZE * l->group_slots;
    l->refs_off = off;
    off += 4ull * b->n_refs;
    l->strings_off = line_up(off);
    off = l->strings_off + b->st.len;
    l->total = (off + 7) & ~7ull;
    if (l->total > OC_NSSC_FILE_MAX) {
        return -E2BIG;
    }
    b->img = calloc(1, (size_t)l->total);
    return b->img != NULL ? 0 : -ENOMEM;
}

static void write_header(struct build *b)
{
    const struct layout *l = &b->lay;
    uint8_t *img = b->img;

    memcpy(img + H_MAGIC, OC_NSSC_MAGIC, OC_NSSC_MAGIC_LEN);
    st32(img + H_VERSION, OC_NSSC_VERSION);
    st32(img + H_HEADER_SIZE, OC_NSSC_HEADER_SIZE);
    st64(img + H_FILE_SIZE, l->total);
    st32(img + H_BYTE_ORDER, OC_NSSC_BYTE_ORDER);
    st32(img + H_N_USERS, (uint32_t)b->n_users);
    st32(img + H_N_GROUPS, (uint32_t)b->n_groups);
    st32(img + H_USER_SLOTS, l->user_slots);
    st32(img + H_GROUP_SLOTS, l->group_slots);
    st32(img + H_USERS_OFF, (uint32_t)l->users_off);
    st32(img + H_GROUPS_OFF, (uint32_t)l->groups_off);
    st32(img + H_PW_NAME_OFF, (uint32_t)l->pwn_off);
    st32(img + H_PW_UID_OFF, (uint32_t)l->pwu_off);
    st32(img + H_GR_NAME_OFF, (uint32_t)l->grn_off);
    st32(img + H_GR_GID_OFF, (uint32_t)l->grg_off);
    st32(img + H_REFS_OFF, (uint32_t)l->refs_off);
    st32(img + H_N_REFS, (uint32_t)b->n_refs);
    st32(img + H_STRINGS_OFF, (uint32_t)l->strings_off);
    /* The padding after the strings must keep the "ends with NUL" rule:
     * count the padding as part of the string area (it is zero). */
    st32(img + H_STRINGS_SIZE, (uint32_t)(l->total - l->strings_off));
}

/* The refs of each user's supplementary groups (every gid in pairs is a
 * group's: they come from the groups' member lists). */
static void write_user_gids(struct build *b)
{
    uint8_t *data = b->img + b->lay.strings_off;

    for (size_t i = 0; i < b->n_groups; i++) {
        b->gid_group[i] = ((uint64_t)b->groups[i]->gid << 32) | i;
    }
    qsort(b->gid_group, b->n_groups, sizeof(*b->gid_group), cmp_u64);
    for (size_t i = 0; i < b->n_users; i++) {
        const uint32_t *rec = b->user_rec + i * (U_SIZE / 4);
        uint8_t *list = data + rec[U_GIDS / 4];
        for (size_t p = b->user_pair[i], k = 0; k < rec[U_N_GIDS / 4]; p++) {
            if (p > 0 && b->pairs[p - 1] == b->pairs[p]) {
                continue;
            }
            uint64_t key = (uint64_t)(uint32_t)b->pairs[p] << 32;
            size_t lo = 0, hi = b->n_groups;
            while (lo < hi) { /* the first entry >= key: the group of that gid */
                size_t mid = lo + (hi - lo) / 2;
                if (b->gid_group[mid] < key) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            st32(list + 4 * k++, b->group_ref[(uint32_t)b->gid_group[lo]]);
        }
    }
}

/* The data area, the index tables, the records and the list slots. */
static void write_records(struct build *b)
{
    const struct layout *l = &b->lay;
    uint8_t *img = b->img, *data = b->img + l->strings_off;

    if (b->st.len > 0) {
        memcpy(data, b->st.data, b->st.len);
    }
    for (size_t i = 0; i < b->n_users; i++) {
        st32(img + l->users_off + 4 * i, b->user_ref[i]);
        for (size_t k = 0; k < U_SIZE / 4; k++) {
            st32(data + b->user_ref[i] + 4 * k, b->user_rec[i * (U_SIZE / 4) + k]);
        }
    }
    write_user_gids(b);
    for (size_t i = 0; i < b->n_groups; i++) {
        st32(img + l->groups_off + 4 * i, b->group_ref[i]);
        for (size_t k = 0; k < G_SIZE / 4; k++) {
            st32(data + b->group_ref[i] + 4 * k, b->group_rec[i * (G_SIZE / 4) + k]);
        }
    }
    for (size_t i = 0; i < b->n_refs; i++) {
        st32(img + l->refs_off + 4 * i, b->refs[i]);
    }
}

/* The seed (given, or derived from the content without tables and seed),
 * the hash tables for it, then the checksum over the whole file. */
static void seal(struct build *b, const uint8_t *seed)
{
    size_t total = (size_t)b->lay.total;
    uint8_t s[OC_NSSC_SEED_SIZE];

    if (seed != NULL) {
        memcpy(s, seed, sizeof(s));
    } else {
        uint64_t h1 = oc_nssc_checksum(b->img, total);
        uint64_t h2 = h1 ^ (h1 >> 31);
        h2 *= CK_P1;
        h2 ^= h2 >> 29;
        st64(s, h1);
        st64(s + 8, h2);
    }
    fill_tables(b->img, s);
    st64(b->img + H_CHECKSUM, oc_nssc_checksum(b->img, total));
}

int oc_nssc_build(const struct oc_nssc_user_in *users, size_t n_users,
                  const struct oc_nssc_group_in *groups, size_t n_groups, const uint8_t *seed,
                  void **ret_buf, size_t *ret_len)
{
    struct build b = {.n_users = n_users, .n_groups = n_groups};
    int r;

    if (ret_buf == NULL || ret_len == NULL || (n_users > 0 && users == NULL) ||
        (n_groups > 0 && groups == NULL)) {
        return -EINVAL;
    }
    if (n_users > OC_NSSC_ENTRIES_MAX || n_groups > OC_NSSC_ENTRIES_MAX) {
        return -E2BIG;
    }
    b.users = calloc(n_users ? n_users : 1, sizeof(*b.users));
    b.groups = calloc(n_groups ? n_groups : 1, sizeof(*b.groups));
    b.ids = calloc((n_users > n_groups ? n_users : n_groups) + 1, sizeof(*b.ids));
    if (b.users == NULL || b.groups == NULL || b.ids == NULL) {
        r = -ENOMEM;
        goto out;
    }
    if ((r = sort_users(&b, users)) < 0 || (r = sort_groups(&b, groups)) < 0 ||
        (r = collect_memberships(&b)) < 0 || (r = place_records(&b)) < 0 || (r = lay_out(&b)) < 0) {
        goto out;
    }
    write_header(&b);
    write_records(&b);
    seal(&b, seed);
    *ret_buf = b.img;
    *ret_len = (size_t)b.lay.total;
    b.img = NULL;
    r = 0;
out:
    build_free(&b);
    return r;
}
