/* SPDX-License-Identifier: MIT */
/*
 * nsscache.c: the NSS cache file's reader, its checksum and its atomic
 * replacement (see nsscache.h, nsscache_layout.h and docs/nss.md). Libc
 * only; the reader never allocates. The writer that builds an image is
 * helper/lib/oc_nsscwrite.c: the NSS module links this file, never that.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nsscache.h"
#include "nsscache_layout.h"
#include "util.h"

/* ---------------------------------------------------------------- */
/* Hashing                                                          */
/* ---------------------------------------------------------------- */

/*
 * Keyed hash for the hash tables: SipHash with one compression and three
 * finalisation rounds (SipHash-1-3), keyed by the file's random seed so
 * that nobody can choose names that collide in a given file.
 */
struct sip {
    uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip *s)
{
    s->v0 += s->v1;
    s->v1 = rotl64(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl64(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl64(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl64(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl64(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl64(s->v2, 32);
}

static uint64_t keyed_hash(const uint8_t seed[OC_NSSC_SEED_SIZE], const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t k0 = ld64(seed), k1 = ld64(seed + 8);
    struct sip s = {
            .v0 = k0 ^ 0x736f6d6570736575ull,
            .v1 = k1 ^ 0x646f72616e646f6dull,
            .v2 = k0 ^ 0x6c7967656e657261ull,
            .v3 = k1 ^ 0x7465646279746573ull,
    };
    size_t full = len & ~(size_t)7;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = ld64(p + i);
        s.v3 ^= m;
        sip_round(&s);
        s.v0 ^= m;
    }
    /* The last len % 8 bytes, little-endian, in at most three loads that
     * stay inside the input (overlapping ones OR the same byte twice). */
    const uint8_t *q = p + full;
    size_t t = len & 7;
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    if (t >= 4) {
        last |= (uint64_t)ld32(q) | (uint64_t)ld32(q + t - 4) << (8 * (t - 4));
    } else if (t > 0) {
        last |= (uint64_t)q[0] | (uint64_t)q[t / 2] << (8 * (t / 2)) |
                (uint64_t)q[t - 1] << (8 * (t - 1));
    }
    s.v3 ^= last;
    sip_round(&s);
    s.v0 ^= last;
    s.v2 ^= 0xff;
    sip_round(&s);
    sip_round(&s);
    sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

/* A name's hash: the lower bits choose its first slot, the upper 32 are
 * the key stored in the slot. */
static inline uint64_t name_hash(const uint8_t *seed, const char *name, size_t len)
{
    return keyed_hash(seed, name, len);
}

/* An id's hash: a multiply-xorshift mix keyed by the seed, about a tenth
 * of SipHash's instructions. An id is not chosen by whoever could want
 * ids to collide (an agent's uid derives from its Entra object id, an
 * override or a group's gid comes from root's config), so the mix has to
 * spread ids (sequential ones included) over the slots, not to keep
 * collisions unguessable as the names' SipHash does. */
static inline uint32_t id_hash(const uint8_t *seed, uint32_t id)
{
    uint64_t h = (uint64_t)id ^ ld64(seed);
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h ^= ld64(seed + 8);
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return (uint32_t)h;
}

uint64_t oc_nssc_name_hash(const uint8_t seed[OC_NSSC_SEED_SIZE], const char *name, size_t len)
{
    return name_hash(seed, name, len);
}

uint32_t oc_nssc_id_hash(const uint8_t seed[OC_NSSC_SEED_SIZE], uint32_t id)
{
    return id_hash(seed, id);
}

/*
 * Content checksum (not a MAC: it detects corruption, torn copies and
 * truncation; the file's integrity against tampering comes from its owner
 * and mode). Four independent 64-bit multiply-rotate lanes over the
 * 8-byte words of the file, the checksum field and the replaced word
 * (the one word a later writer changes in place) read as zero, folded
 * with the length and a final avalanche.
 */
static inline uint64_t ck_lane(uint64_t acc, uint64_t w)
{
    acc += w * CK_P2;
    acc = rotl64(acc, 29);
    return acc * CK_P1;
}

uint64_t oc_nssc_checksum(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t lane[4] = {CK_P1, CK_P2, CK_P3, 0x27d4eb2f165667c5ull};
    size_t nwords = len / 8;
    const size_t ck_word = OC_NSSC_CHECKSUM_OFFSET / 8, rp_word = H_REPLACED / 8;
    size_t i = 0;

    /* The header words, with the checksum and the replaced word as zero. */
    for (; i < nwords && i <= rp_word; i++) {
        uint64_t w = 0;
        if (i == rp_word) {
            uint8_t b[8] = {0};
            memcpy(b, p + 8 * i, H_REPLACED % 8);
            w = ld64(b);
        } else if (i != ck_word) {
            w = ld64(p + 8 * i);
        }
        lane[i & 3] = ck_lane(lane[i & 3], w);
    }
    /* Realign to a multiple of four words, then the hot loop. */
    for (; i < nwords && (i & 3) != 0; i++) {
        lane[i & 3] = ck_lane(lane[i & 3], ld64(p + 8 * i));
    }
    for (; i + 4 <= nwords; i += 4) {
        lane[0] = ck_lane(lane[0], ld64(p + 8 * i));
        lane[1] = ck_lane(lane[1], ld64(p + 8 * i + 8));
        lane[2] = ck_lane(lane[2], ld64(p + 8 * i + 16));
        lane[3] = ck_lane(lane[3], ld64(p + 8 * i + 24));
    }
    for (; i < nwords; i++) {
        lane[i & 3] = ck_lane(lane[i & 3], ld64(p + 8 * i));
    }
    uint64_t tail = 0;
    for (size_t j = nwords * 8; j < len; j++) {
        tail |= (uint64_t)p[j] << (8 * (j - nwords * 8));
    }
    uint64_t h =
            rotl64(lane[0], 1) + rotl64(lane[1], 7) + rotl64(lane[2], 12) + rotl64(lane[3], 18);
    h ^= ck_lane(0, tail);
    h ^= (uint64_t)len * CK_P3;
    h ^= h >> 33;
    h *= CK_P2;
    h ^= h >> 29;
    h *= CK_P3;
    h ^= h >> 32;
    return h;
}

/* ---------------------------------------------------------------- */
/* Reader                                                           */
/* ---------------------------------------------------------------- */

/* [off, off + count * elem) lies within [lo, size) and off is 4-aligned. */
static bool range_ok(uint64_t off, uint64_t count, uint64_t elem, uint64_t lo, uint64_t size)
{
    if (off < lo || off > size || (off & 3) != 0) {
        return false;
    }
    /* count <= 2^26, elem <= 8: no overflow in 64 bits. */
    return count * elem <= size - off;
}

int oc_nssc_open(const void *buf, size_t len, struct oc_nssc *ret)
{
    const uint8_t *p = buf;

    if (buf == NULL || ret == NULL || len < OC_NSSC_HEADER_SIZE) {
        return -EBADMSG;
    }
    if (((uintptr_t)p & 7) != 0) {
        return -EINVAL; /* the replaced word is read atomically */
    }
    if (memcmp(p + H_MAGIC, OC_NSSC_MAGIC, OC_NSSC_MAGIC_LEN) != 0) {
        return -EBADMSG;
    }
    if (ld32(p + H_VERSION) != OC_NSSC_VERSION || ld32(p + H_BYTE_ORDER) != OC_NSSC_BYTE_ORDER) {
        return -EPROTONOSUPPORT;
    }
    if (ld32(p + H_HEADER_SIZE) != OC_NSSC_HEADER_SIZE) {
        return -EBADMSG;
    }
    if (len > OC_NSSC_FILE_MAX) {
        return -EFBIG;
    }
    if (ld64(p + H_FILE_SIZE) != (uint64_t)len) {
        return -EBADMSG; /* truncated or extended */
    }

    struct oc_nssc c = {.base = p, .size = len};
    memcpy(c.seed, p + H_SEED, OC_NSSC_SEED_SIZE);
    c.n_users = ld32(p + H_N_USERS);
    c.n_groups = ld32(p + H_N_GROUPS);
    uint32_t ub = ld32(p + H_USER_SLOTS), gb = ld32(p + H_GROUP_SLOTS);
    c.users_off = ld32(p + H_USERS_OFF);
    c.groups_off = ld32(p + H_GROUPS_OFF);
    c.pw_name_off = ld32(p + H_PW_NAME_OFF);
    c.pw_uid_off = ld32(p + H_PW_UID_OFF);
    c.gr_name_off = ld32(p + H_GR_NAME_OFF);
    c.gr_gid_off = ld32(p + H_GR_GID_OFF);
    c.refs_off = ld32(p + H_REFS_OFF);
    c.n_refs = ld32(p + H_N_REFS);
    c.strings_off = ld32(p + H_STRINGS_OFF);
    c.strings_size = ld32(p + H_STRINGS_SIZE);

    if (c.n_users > OC_NSSC_ENTRIES_MAX || c.n_groups > OC_NSSC_ENTRIES_MAX ||
        c.n_refs > OC_NSSC_REFS_MAX || ub > 2 * OC_NSSC_ENTRIES_MAX ||
        gb > 2 * OC_NSSC_ENTRIES_MAX) {
        return -EFBIG;
    }
    if (ub <= c.n_users || gb <= c.n_groups) {
        return -EBADMSG; /* a full table would leave no empty slot to end a probe */
    }
    c.user_slots = ub;
    c.group_slots = gb;

    const uint64_t lo = OC_NSSC_HEADER_SIZE;
    if (!range_ok(c.users_off, c.n_users, 4, lo, len) ||
        !range_ok(c.groups_off, c.n_groups, 4, lo, len) ||
        !range_ok(c.pw_name_off, ub, S_SIZE, lo, len) ||
        !range_ok(c.pw_uid_off, ub, S_SIZE, lo, len) ||
        !range_ok(c.gr_name_off, gb, S_SIZE, lo, len) ||
        !range_ok(c.gr_gid_off, gb, S_SIZE, lo, len) ||
        !range_ok(c.refs_off, c.n_refs, 4, lo, len)) {
        return -EBADMSG;
    }
    /* The string area: non-empty, in bounds, ends with a NUL, so every
     * string that starts inside it is terminated inside it. */
    if (c.strings_size == 0 || c.strings_off < lo || c.strings_off > len ||
        c.strings_size > len - c.strings_off || p[c.strings_off + c.strings_size - 1] != 0) {
        return -EBADMSG;
    }
    if (oc_nssc_checksum(p, len) != ld64(p + H_CHECKSUM)) {
        return -EBADMSG;
    }
    *ret = c;
    return 0;
}

static int str_at(const struct oc_nssc *c, uint32_t off, const char **ret)
{
    if (off >= c->strings_size) {
        return -EBADMSG;
    }
    *ret = (const char *)c->base + c->strings_off + off;
    return 0;
}

/* 1 when the string at off is name (len bytes), 0 when not, -EBADMSG
 * when off is out of range. Reads no byte past the data area. */
static inline int str_eq(const struct oc_nssc *c, uint32_t off, const char *name, size_t len)
{
    if (off >= c->strings_size) {
        return -EBADMSG;
    }
    if (c->strings_size - off <= len) {
        return 0; /* no room for len bytes and a NUL */
    }
    return memcmp(c->base + c->strings_off + off, name, len + 1) == 0;
}

static bool list_ok(const struct oc_nssc *c, uint32_t first, uint32_t n)
{
    return n <= OC_NSSC_LIST_MAX && (uint64_t)first + n <= c->n_refs;
}

/* The record at ref in the data area, or NULL when it would not lie
 * inside it (ref 0 is the empty string, never a record). */
static inline const uint8_t *rec_at(const struct oc_nssc *c, uint32_t ref, uint32_t size)
{
    if (ref == 0 || (ref & 3) != 0 || c->strings_size < size || ref > c->strings_size - size) {
        return NULL;
    }
    return c->base + c->strings_off + ref;
}

/* A list of n record refs at off in the data area. */
static bool refs_ok(const struct oc_nssc *c, uint32_t off, uint32_t n)
{
    return n <= OC_NSSC_LIST_MAX && (off & 3) == 0 && (uint64_t)off + 4ull * n <= c->strings_size;
}

static inline __attribute__((always_inline)) int read_user(const struct oc_nssc *c,
                                                           const uint8_t *r, struct oc_nssc_pw *pw)
{
    struct oc_nssc_pw u = {
            .uid = ld32(r + U_UID),
            .gid = ld32(r + U_GID),
            .flags = ld32(r + U_FLAGS),
            .roles = ld32(r + U_ROLES),
            .n_roles = ld32(r + U_N_ROLES),
            .gids = ld32(r + U_GIDS),
            .n_gids = ld32(r + U_N_GIDS),
    };
    if (str_at(c, ld32(r + U_NAME), &u.name) < 0 || str_at(c, ld32(r + U_GECOS), &u.gecos) < 0 ||
        str_at(c, ld32(r + U_DIR), &u.dir) < 0 || str_at(c, ld32(r + U_SHELL), &u.shell) < 0 ||
        !list_ok(c, u.roles, u.n_roles) || !refs_ok(c, u.gids, u.n_gids)) {
        return -EBADMSG;
    }
    if (pw != NULL) {
        *pw = u;
    }
    return 0;
}

static inline __attribute__((always_inline)) int read_group(const struct oc_nssc *c,
                                                            const uint8_t *r, struct oc_nssc_gr *gr)
{
    struct oc_nssc_gr g = {
            .gid = ld32(r + G_GID),
            .flags = ld32(r + G_FLAGS),
            .members = ld32(r + G_MEMBERS),
            .n_members = ld32(r + G_N_MEMBERS),
    };
    if (str_at(c, ld32(r + G_NAME), &g.name) < 0 || !list_ok(c, g.members, g.n_members)) {
        return -EBADMSG;
    }
    if (gr != NULL) {
        *gr = g;
    }
    return 0;
}

int oc_nssc_pw_at(const struct oc_nssc *c, uint32_t index, struct oc_nssc_pw *ret)
{
    if (index >= c->n_users) {
        return -ENOENT;
    }
    const uint8_t *r = rec_at(c, ld32(c->base + c->users_off + 4 * (size_t)index), U_SIZE);
    return r != NULL ? read_user(c, r, ret) : -EBADMSG;
}

int oc_nssc_gr_at(const struct oc_nssc *c, uint32_t index, struct oc_nssc_gr *ret)
{
    if (index >= c->n_groups) {
        return -ENOENT;
    }
    const uint8_t *r = rec_at(c, ld32(c->base + c->groups_off + 4 * (size_t)index), G_SIZE);
    return r != NULL ? read_group(c, r, ret) : -EBADMSG;
}

/* One probe of an open-addressed table: the slots from i on that hold
 * key, up to the first empty one. */
struct probe {
    const uint8_t *tab;
    uint32_t slots, i, key, steps;
};

/* The ref of the next slot that holds the key; 0 when an empty slot ends
 * the probe; UINT32_MAX (never a valid ref) when the probe went round the
 * whole table without one (corruption: the writer always leaves one). */
static inline uint32_t probe_next(struct probe *p)
{
    while (p->steps++ < p->slots) {
        const uint8_t *s = p->tab + S_SIZE * (size_t)p->i;
        uint32_t ref = ld32(s + S_REF);
        p->i = p->i + 1 < p->slots ? p->i + 1 : 0;
        if (ref == 0) {
            return 0;
        }
        if (ld32(s + S_KEY) == p->key) {
            return ref;
        }
    }
    return UINT32_MAX;
}

/* Start a probe for name (len bytes) or for the id. */
static inline void probe_start(struct probe *p, const struct oc_nssc *c, uint32_t slots,
                               uint32_t name_off, uint32_t id_off, const char *name, size_t len,
                               uint32_t id)
{
    p->slots = slots;
    p->steps = 0;
    if (name != NULL) {
        uint64_t h = name_hash(c->seed, name, len);
        p->tab = c->base + name_off;
        p->i = slot_of((uint32_t)h, slots);
        p->key = (uint32_t)(h >> 32);
    } else {
        p->tab = c->base + id_off;
        p->i = slot_of(id_hash(c->seed, id), slots);
        p->key = id;
    }
}

/* The line after the one a record starts on: the writer keeps a record
 * and its strings on as few lines as their size allows, so a hit that
 * needs two asks for both at once instead of one after the other.
 * (A prefetch never faults, past the end of the mapping included.) */
static inline void prefetch_next_line(const uint8_t *r)
{
    __builtin_prefetch((const void *)(((uintptr_t)r | (OC_NSSC_LINE - 1)) + 1));
}

/* The line before the one a record starts on. */
static inline void prefetch_line_before(const uint8_t *r)
{
    __builtin_prefetch(
            (const void *)(((uintptr_t)r & ~(uintptr_t)(OC_NSSC_LINE - 1)) - OC_NSSC_LINE));
}
/* One kind of record's tables and fields, for find(). */
struct kind {
    uint32_t n, slots, name_off, id_off; /* records, slots, the two tables */
    uint32_t size, name_field, id_field; /* the record */
    bool name_before;                    /* its name may be on the line before */
};

/* Find a record by name (name != NULL, len bytes) or by id. Only a record whose slot
 * holds the key is read: the id itself, or 32 bits of the name's hash
 * (another name with those bits is compared and passed over). A probe
 * longer than the table, a ref or string offset out of range, or an id
 * slot whose record has another id is corruption (-EBADMSG). */
static inline __attribute__((always_inline)) int find(const struct oc_nssc *c, const struct kind *k,
                                                      const char *name, size_t len, uint32_t id,
                                                      const uint8_t **ret)
{
    struct probe p;

    if (k->n == 0) {
        return -ENOENT;
    }
    probe_start(&p, c, k->slots, k->name_off, k->id_off, name, len, id);
    for (uint32_t e; (e = probe_next(&p)) != 0;) {
        const uint8_t *r = rec_at(c, e, k->size);
        if (r == NULL) {
            return -EBADMSG;
        }
        prefetch_next_line(r);
        if (k->name_before) {
            prefetch_line_before(r);
        }
        if (name != NULL) {
            int eq = str_eq(c, ld32(r + k->name_field), name, len);
            if (eq < 0) {
                return eq;
            }
            if (eq == 0) {
                continue;
            }
        } else if (ld32(r + k->id_field) != id) {
            return -EBADMSG;
        }
        *ret = r;
        return 0;
    }
    return -ENOENT;
}

static int user_find(const struct oc_nssc *c, const char *name, size_t len, uint32_t uid,
                     struct oc_nssc_pw *ret)
{
    const struct kind k = {c->n_users, c->user_slots, c->pw_name_off, c->pw_uid_off,
                           U_SIZE,     U_NAME,        U_UID,          false};
    const uint8_t *r;
    int e = find(c, &k, name, len, uid, &r);
    return e < 0 ? e : read_user(c, r, ret);
}

/* A user private group's record follows its name (the user's). */
static int group_find(const struct oc_nssc *c, const char *name, size_t len, uint32_t gid,
                      struct oc_nssc_gr *ret)
{
    const struct kind k = {c->n_groups, c->group_slots, c->gr_name_off, c->gr_gid_off,
                           G_SIZE,      G_NAME,         G_GID,          true};
    const uint8_t *r;
    int e = find(c, &k, name, len, gid, &r);
    return e < 0 ? e : read_group(c, r, ret);
}

int oc_nssc_pw_by_name(const struct oc_nssc *c, const char *name, struct oc_nssc_pw *ret)
{
    return name != NULL ? user_find(c, name, strlen(name), 0, ret) : -ENOENT;
}

int oc_nssc_pw_by_name_n(const struct oc_nssc *c, const char *name, size_t len,
                         struct oc_nssc_pw *ret)
{
    return name != NULL ? user_find(c, name, len, 0, ret) : -ENOENT;
}

int oc_nssc_pw_by_uid(const struct oc_nssc *c, uint32_t uid, struct oc_nssc_pw *ret)
{
    return user_find(c, NULL, 0, uid, ret);
}

int oc_nssc_gr_by_name(const struct oc_nssc *c, const char *name, struct oc_nssc_gr *ret)
{
    return name != NULL ? group_find(c, name, strlen(name), 0, ret) : -ENOENT;
}

int oc_nssc_gr_by_name_n(const struct oc_nssc *c, const char *name, size_t len,
                         struct oc_nssc_gr *ret)
{
    return name != NULL ? group_find(c, name, len, 0, ret) : -ENOENT;
}

int oc_nssc_gr_by_gid(const struct oc_nssc *c, uint32_t gid, struct oc_nssc_gr *ret)
{
    return group_find(c, NULL, 0, gid, ret);
}

static int ref_at(const struct oc_nssc *c, uint32_t first, uint32_t n, uint32_t i, uint32_t *ret)
{
    if (i >= n || !list_ok(c, first, n)) {
        return -EBADMSG;
    }
    *ret = ld32(c->base + c->refs_off + 4 * ((size_t)first + i));
    return 0;
}

/* The record of the user's i-th supplementary group. */
static const uint8_t *pw_group_rec(const struct oc_nssc *c, const struct oc_nssc_pw *pw, uint32_t i)
{
    if (i >= pw->n_gids || !refs_ok(c, pw->gids, pw->n_gids)) {
        return NULL;
    }
    return rec_at(c, ld32(c->base + c->strings_off + pw->gids + 4 * (size_t)i), G_SIZE);
}

int oc_nssc_pw_gid(const struct oc_nssc *c, const struct oc_nssc_pw *pw, uint32_t i,
                   uint32_t *ret_gid)
{
    const uint8_t *r = pw_group_rec(c, pw, i);
    if (r == NULL) {
        return -EBADMSG;
    }
    *ret_gid = ld32(r + G_GID);
    return 0;
}

int oc_nssc_pw_group_id(const struct oc_nssc *c, const struct oc_nssc_pw *pw, uint32_t i,
                        uint32_t *ret_gid, uint32_t *ret_flags)
{
    const uint8_t *r = pw_group_rec(c, pw, i);
    if (r == NULL) {
        return -EBADMSG;
    }
    *ret_gid = ld32(r + G_GID);
    *ret_flags = ld32(r + G_FLAGS);
    return 0;
}

int oc_nssc_pw_group(const struct oc_nssc *c, const struct oc_nssc_pw *pw, uint32_t i,
                     struct oc_nssc_gr *ret)
{
    const uint8_t *r = pw_group_rec(c, pw, i);
    return r != NULL ? read_group(c, r, ret) : -EBADMSG;
}

int oc_nssc_pw_role(const struct oc_nssc *c, const struct oc_nssc_pw *pw, uint32_t i,
                    const char **ret_role)
{
    uint32_t off;
    int r = ref_at(c, pw->roles, pw->n_roles, i, &off);
    if (r < 0) {
        return r;
    }
    return str_at(c, off, ret_role);
}

int oc_nssc_gr_member(const struct oc_nssc *c, const struct oc_nssc_gr *gr, uint32_t i,
                      const char **ret_member)
{
    uint32_t off;
    int r = ref_at(c, gr->members, gr->n_members, i, &off);
    if (r < 0) {
        return r;
    }
    return str_at(c, off, ret_member);
}

/* ---------------------------------------------------------------- */
/* Atomic file replacement                                          */
/* ---------------------------------------------------------------- */

int oc_nssc_mark_replaced(int fd)
{
    uint8_t h[OC_NSSC_HEADER_SIZE];
    struct stat st;
    ssize_t n;

    if (fd < 0) {
        return -EBADF;
    }
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < (off_t)OC_NSSC_HEADER_SIZE) {
        return -EBADMSG;
    }
    do {
        n = pread(fd, h, sizeof(h), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -errno;
    }
    /* Only a cache of this version has the word; leave anything else alone. */
    if (n != (ssize_t)sizeof(h) || memcmp(h + H_MAGIC, OC_NSSC_MAGIC, OC_NSSC_MAGIC_LEN) != 0 ||
        ld32(h + H_VERSION) != OC_NSSC_VERSION || ld32(h + H_BYTE_ORDER) != OC_NSSC_BYTE_ORDER ||
        ld32(h + H_HEADER_SIZE) != OC_NSSC_HEADER_SIZE) {
        return -EBADMSG;
    }
    /* Through a shared mapping: one aligned 32-bit atomic store into the
     * very page every reader has mapped. Release: whoever sees the new
     * value also sees everything this writer did before (the rename). */
    void *a = mmap(NULL, OC_NSSC_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED) {
        return -errno;
    }
    uint32_t *w = (uint32_t *)(void *)((uint8_t *)a + H_REPLACED);
    uint32_t v = __atomic_load_n(w, __ATOMIC_RELAXED);
    /* a counter that never returns to 0 ("live") */
    __atomic_store_n(w, v == UINT32_MAX ? 1u : v + 1u, __ATOMIC_RELEASE);
    munmap(a, OC_NSSC_HEADER_SIZE);
    return 0;
}

int oc_nssc_write_file(const char *path, const void *buf, size_t len)
{
    int old, r;

    if (buf == NULL || path == NULL) {
        return -EINVAL;
    }
    /* The file being replaced, if it is there and we may write it: after
     * the rename, its readers are told through its own header. */
    do {
        old = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
    } while (old < 0 && errno == EINTR);
    /* ".NAME.XXXXXX" next to the file (oc_sweep.h removes those a killed
     * daemon left behind), world-readable: every process maps it */
    r = oc_replace_file(path, NULL, buf, len, 0644, (uid_t)-1, (gid_t)-1);
    if (old >= 0) {
        if (r == 0) {
            /* not a cache, or not ours: readers stat within 1 s */
            (void)oc_nssc_mark_replaced(old);
        }
        close(old);
    }
    return r;
}
