/* SPDX-License-Identifier: MIT */
/*
 * nsscache.c: the NSS cache file, writer and reader (see nsscache.h and
 * docs/nss.md). Libc only; the reader never allocates.
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
#include "util.h"

/* Header field offsets (all fields in host byte order). */
enum {
    H_MAGIC = 0,
    H_VERSION = 8,
    H_HEADER_SIZE = 12,
    H_FILE_SIZE = 16,
    H_CHECKSUM = 24,
    H_SEED = 32,
    H_BYTE_ORDER = 48,
    H_N_USERS = 52,
    H_N_GROUPS = 56,
    H_USER_SLOTS = 60,
    H_GROUP_SLOTS = 64,
    H_USERS_OFF = 68,
    H_GROUPS_OFF = 72,
    H_PW_NAME_OFF = 76,
    H_PW_UID_OFF = 80,
    H_GR_NAME_OFF = 84,
    H_GR_GID_OFF = 88,
    H_REFS_OFF = 92,
    H_N_REFS = 96,
    H_STRINGS_OFF = 100,
    H_STRINGS_SIZE = 104,
    H_REPLACED = 108, /* written in place by the next writer; outside the checksum */
};

/*
 * Records live in the data area (H_STRINGS_OFF), each followed by its own
 * strings, and are named by their byte offset in that area (a "ref"; 0,
 * the empty string, names none). The index tables (H_USERS_OFF,
 * H_GROUPS_OFF) hold one ref per record in name order, for enumeration.
 *
 * The four hash tables are open-addressed (linear probing) arrays of
 * slots: a key and a ref. The key is the uid or gid itself in the id
 * tables, the upper 32 bits of the name's 64-bit keyed hash in the name
 * tables (whose lower bits choose the first slot), so a probe reads
 * only the record it will most likely return: no chain through other
 * records. A slot with ref 0 ends the probe; every table has more slots
 * than records.
 */
enum {
    S_KEY = 0,
    S_REF = 4,
    S_SIZE = 8,
};

/* User record: 11 u32 fields. */
enum {
    U_NAME = 0,
    U_GECOS = 4,
    U_DIR = 8,
    U_SHELL = 12,
    U_UID = 16,
    U_GID = 20,
    U_FLAGS = 24,
    U_ROLES = 28,
    U_N_ROLES = 32,
    U_GIDS = 36,
    U_N_GIDS = 40,
    U_SIZE = 44,
};

/* Group record: 5 u32 fields. */
enum {
    G_NAME = 0,
    G_GID = 4,
    G_FLAGS = 8,
    G_MEMBERS = 12,
    G_N_MEMBERS = 16,
    G_SIZE = 20,
};

/* A record and its strings start on a cache line when that saves one: a
 * hit then touches one line of slots and one or two lines of data. */
#define OC_NSSC_LINE 64u
/* Up to this many supplementary groups' refs go right after the user's
 * record; more go after its strings, so they never push the strings off
 * the record's lines. */
#define OC_NSSC_GIDS_NEAR 8u

_Static_assert(H_REPLACED + 4 == OC_NSSC_HEADER_SIZE, "header layout");
_Static_assert(H_CHECKSUM == OC_NSSC_CHECKSUM_OFFSET, "checksum offset");
_Static_assert(H_REPLACED == OC_NSSC_REPLACED_OFFSET, "replaced offset");
_Static_assert(H_REPLACED % 8 == 4, "the replaced word is the upper half of a checksum word");

static inline uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint64_t ld64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline void st32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

static inline void st64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

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

/*
 * Content checksum (not a MAC: it detects corruption, torn copies and
 * truncation; the file's integrity against tampering comes from its owner
 * and mode). Four independent 64-bit multiply-rotate lanes over the
 * 8-byte words of the file, the checksum field and the replaced word
 * (the one word a later writer changes in place) read as zero, folded
 * with the length and a final avalanche.
 */
#define CK_P1 0x9e3779b97f4a7c15ull
#define CK_P2 0xc2b2ae3d27d4eb4full
#define CK_P3 0x165667b19e3779f9ull

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

/* The first slot of a hash among n: the hash's 32 bits scaled to [0, n)
 * (a multiply and a shift; n needs not be a power of two). */
static inline uint32_t slot_of(uint32_t h, uint32_t n)
{
    return (uint32_t)(((uint64_t)h * n) >> 32);
}

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
/* Writer                                                           */
/* ---------------------------------------------------------------- */

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
    return keyed_hash(zero_seed, s, strlen(s));
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

/* Everything the writer allocates, freed in one place. */
struct build {
    const struct oc_nssc_user_in **users;
    const struct oc_nssc_group_in **groups;
    uint32_t *ids;
    uint64_t *pairs; /* (user index << 32) | gid */
    const char **tmp;
    uint32_t *refs;
    uint32_t *user_rec, *group_rec; /* records under construction */
    uint32_t *user_ref, *group_ref; /* where each goes in the data area */
    size_t *user_pair;              /* each user's first membership pair */
    uint64_t *gid_group;            /* (gid << 32) | group index, sorted */
    struct strtab st;
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

static const struct oc_nssc_user_in *find_user(struct build *b, size_t n, const char *name,
                                               size_t *ret_idx)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(name, b->users[mid]->name);
        if (d == 0) {
            *ret_idx = mid;
            return b->users[mid];
        }
        if (d < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

/* The group named name (b->groups is sorted by name), or NULL. */
static const struct oc_nssc_group_in *find_group(struct build *b, size_t n, const char *name,
                                                 size_t *ret_idx)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(name, b->groups[mid]->name);
        if (d == 0) {
            *ret_idx = mid;
            return b->groups[mid];
        }
        if (d < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
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
        uint64_t h = name_hash(seed, name, strlen(name));
        uint32_t uid = ld32(r + U_UID);
        slot_put(pwn, us, slot_of((uint32_t)h, us), (uint32_t)(h >> 32), ref);
        slot_put(pwu, us, slot_of(id_hash(seed, uid), us), uid, ref);
    }
    for (uint32_t i = 0; i < n_groups; i++) {
        uint32_t ref = ld32(img + groups_off + 4 * (size_t)i);
        const uint8_t *r = data + ref;
        const char *name = (const char *)data + ld32(r + G_NAME);
        uint64_t h = name_hash(seed, name, strlen(name));
        uint32_t gid = ld32(r + G_GID);
        slot_put(grn, gs, slot_of((uint32_t)h, gs), (uint32_t)(h >> 32), ref);
        slot_put(grg, gs, slot_of(id_hash(seed, gid), gs), gid, ref);
    }
}

static int refs_push(struct build *b, size_t *n, size_t *cap, uint32_t v)
{
    if (*n >= OC_NSSC_REFS_MAX) {
        return -E2BIG;
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        uint32_t *r = realloc(b->refs, nc * sizeof(*r));
        if (r == NULL) {
            return -ENOMEM;
        }
        b->refs = r;
        *cap = nc;
    }
    b->refs[(*n)++] = v;
    return 0;
}

/* Append a list of strings (roles, members) to the list slots: sorted,
 * duplicates dropped, each interned in the string table. Its first slot
 * and its length go to *ret_first and *ret_n. */
static int refs_push_strings(struct build *b, size_t *n, size_t *cap, const char *const *list,
                             size_t n_list, uint32_t *ret_first, uint32_t *ret_n)
{
    uint32_t first = (uint32_t)*n, count = 0;
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
        if ((r = strtab_add(&b->st, b->tmp[j], &so)) < 0 || (r = refs_push(b, n, cap, so)) < 0) {
            return r;
        }
        count++;
    }
    *ret_first = first;
    *ret_n = count;
    return 0;
}

int oc_nssc_build(const struct oc_nssc_user_in *users, size_t n_users,
                  const struct oc_nssc_group_in *groups, size_t n_groups, const uint8_t *seed,
                  void **ret_buf, size_t *ret_len)
{
    struct build b = {0};
    size_t n_refs = 0, cap_refs = 0, n_pairs = 0;
    int r;

    if (ret_buf == NULL || ret_len == NULL || (n_users > 0 && users == NULL) ||
        (n_groups > 0 && groups == NULL)) {
        return -EINVAL;
    }
    if (n_users > OC_NSSC_ENTRIES_MAX || n_groups > OC_NSSC_ENTRIES_MAX) {
        return -E2BIG;
    }

    /* Validate and sort users by name; names and uids unique. */
    b.users = calloc(n_users ? n_users : 1, sizeof(*b.users));
    b.groups = calloc(n_groups ? n_groups : 1, sizeof(*b.groups));
    b.ids = calloc((n_users > n_groups ? n_users : n_groups) + 1, sizeof(*b.ids));
    if (b.users == NULL || b.groups == NULL || b.ids == NULL) {
        r = -ENOMEM;
        goto out;
    }
    size_t total_members = 0;
    for (size_t i = 0; i < n_users; i++) {
        const struct oc_nssc_user_in *u = &users[i];
        if (u->name == NULL || !oc_valid_user_name(u->name) || u->uid == 0 || u->gid == 0 ||
            !field_ok(u->gecos, true) || !field_ok(u->dir, false) || !field_ok(u->shell, false) ||
            u->n_roles > OC_NSSC_LIST_MAX || (u->n_roles > 0 && u->roles == NULL)) {
            r = -EINVAL;
            goto out;
        }
        for (size_t j = 0; j < u->n_roles; j++) {
            if (!field_ok(u->roles[j], false)) {
                r = -EINVAL;
                goto out;
            }
        }
        b.users[i] = u;
        b.ids[i] = u->uid;
    }
    qsort(b.users, n_users, sizeof(*b.users), cmp_user_ptr);
    qsort(b.ids, n_users, sizeof(*b.ids), cmp_u32);
    for (size_t i = 1; i < n_users; i++) {
        if (strcmp(b.users[i - 1]->name, b.users[i]->name) == 0 || b.ids[i - 1] == b.ids[i]) {
            r = -EINVAL;
            goto out;
        }
    }
    for (size_t i = 0; i < n_groups; i++) {
        const struct oc_nssc_group_in *g = &groups[i];
        if (g->name == NULL || !oc_valid_user_name(g->name) || g->gid == 0 ||
            g->n_members > OC_NSSC_LIST_MAX || (g->n_members > 0 && g->members == NULL)) {
            r = -EINVAL;
            goto out;
        }
        total_members += g->n_members;
        b.groups[i] = g;
        b.ids[i] = g->gid;
    }
    qsort(b.groups, n_groups, sizeof(*b.groups), cmp_group_ptr);
    qsort(b.ids, n_groups, sizeof(*b.ids), cmp_u32);
    for (size_t i = 1; i < n_groups; i++) {
        if (strcmp(b.groups[i - 1]->name, b.groups[i]->name) == 0 || b.ids[i - 1] == b.ids[i]) {
            r = -EINVAL;
            goto out;
        }
    }

    /* Memberships: (user, gid) pairs, for each user's supplementary list. */
    b.pairs = calloc(total_members + 1, sizeof(*b.pairs));
    b.tmp = calloc(OC_NSSC_LIST_MAX, sizeof(*b.tmp));
    if (b.pairs == NULL || b.tmp == NULL) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_groups; i++) {
        const struct oc_nssc_group_in *g = b.groups[i];
        for (size_t j = 0; j < g->n_members; j++) {
            size_t ui;
            if (g->members[j] == NULL || find_user(&b, n_users, g->members[j], &ui) == NULL) {
                r = -EINVAL;
                goto out;
            }
            if (b.users[ui]->gid != g->gid) {
                b.pairs[n_pairs++] = ((uint64_t)ui << 32) | g->gid;
            }
        }
    }
    qsort(b.pairs, n_pairs, sizeof(*b.pairs), cmp_u64);

    /* Records, lists and strings, in sorted order. */
    b.user_rec = calloc((size_t)n_users * (U_SIZE / 4) + 1, sizeof(uint32_t));
    b.group_rec = calloc((size_t)n_groups * (G_SIZE / 4) + 1, sizeof(uint32_t));
    b.user_ref = calloc((size_t)n_users + 1, sizeof(uint32_t));
    b.group_ref = calloc((size_t)n_groups + 1, sizeof(uint32_t));
    b.user_pair = calloc((size_t)n_users + 1, sizeof(size_t));
    b.gid_group = calloc((size_t)n_groups + 1, sizeof(uint64_t));
    if (b.user_rec == NULL || b.group_rec == NULL || b.user_ref == NULL || b.group_ref == NULL ||
        b.user_pair == NULL || b.gid_group == NULL) {
        r = -ENOMEM;
        goto out;
    }
    uint32_t off_empty;
    r = strtab_add(&b.st, "", &off_empty); /* offset 0 is "" */
    if (r < 0) {
        goto out;
    }
    size_t pi = 0;
    for (size_t i = 0; i < n_users; i++) {
        const struct oc_nssc_user_in *u = b.users[i];
        uint32_t *rec = b.user_rec + i * (U_SIZE / 4);
        /* supplementary groups, sorted by gid (pairs are sorted by user,
         * then gid) */
        uint32_t ng = 0;
        b.user_pair[i] = pi;
        for (; pi < n_pairs && (b.pairs[pi] >> 32) == i; pi++) {
            if (pi > 0 && b.pairs[pi - 1] == b.pairs[pi]) {
                continue; /* a member listed twice */
            }
            if (ng >= OC_NSSC_LIST_MAX) {
                r = -E2BIG;
                goto out;
            }
            ng++;
        }
        rec[U_N_GIDS / 4] = ng;
        /* The user's block: the record, the refs of its supplementary
         * groups' records when there are few (filled in once every group
         * record has its place: initgroups finds them on the record's
         * line), the user's name, gecos and home (the shell is usually
         * shared), the record of the user private group (whose name is the
         * user's, just above), then the refs of many groups. field_ok
         * bounded the lengths. */
        size_t gi;
        bool upg = find_group(&b, n_groups, u->name, &gi) != NULL;
        bool gids_first = ng > 0 && ng <= OC_NSSC_GIDS_NEAR;
        size_t block = U_SIZE + (gids_first ? 4 * (size_t)ng : 0) + strlen(u->name) + 1 +
                       (u->gecos ? strlen(u->gecos) : 0) + 1 + strlen(u->dir) + 1;
        if ((r = strtab_record(&b.st, U_SIZE, block, &b.user_ref[i])) < 0 ||
            (gids_first && (r = strtab_record(&b.st, 4 * (size_t)ng, 0, &rec[U_GIDS / 4])) < 0) ||
            (r = strtab_add(&b.st, u->name, &rec[U_NAME / 4])) < 0 ||
            (r = strtab_add(&b.st, u->gecos, &rec[U_GECOS / 4])) < 0 ||
            (r = strtab_add(&b.st, u->dir, &rec[U_DIR / 4])) < 0 ||
            (upg && (r = strtab_record(&b.st, G_SIZE, 0, &b.group_ref[gi])) < 0) ||
            (r = strtab_add(&b.st, u->shell, &rec[U_SHELL / 4])) < 0 ||
            (ng > 0 && !gids_first &&
             (r = strtab_record(&b.st, 4 * (size_t)ng, 0, &rec[U_GIDS / 4])) < 0)) {
            goto out;
        }
        rec[U_UID / 4] = u->uid;
        rec[U_GID / 4] = u->gid;
        rec[U_FLAGS / 4] = u->enabled ? OC_NSSC_USER_ENABLED : 0;
        r = refs_push_strings(&b, &n_refs, &cap_refs, u->roles, u->n_roles, &rec[U_ROLES / 4],
                              &rec[U_N_ROLES / 4]);
        if (r < 0) {
            goto out;
        }
    }
    for (size_t i = 0; i < n_groups; i++) {
        const struct oc_nssc_group_in *g = b.groups[i];
        uint32_t *rec = b.group_rec + i * (G_SIZE / 4);
        /* placed after its user when it is a user private group, else
         * here, its name after it */
        if ((b.group_ref[i] == 0 && (r = strtab_record(&b.st, G_SIZE, G_SIZE + strlen(g->name) + 1,
                                                       &b.group_ref[i])) < 0) ||
            (r = strtab_add(&b.st, g->name, &rec[G_NAME / 4])) < 0) {
            goto out;
        }
        rec[G_GID / 4] = g->gid;
        rec[G_FLAGS / 4] = g->local ? OC_NSSC_GROUP_LOCAL : 0;
        r = refs_push_strings(&b, &n_refs, &cap_refs, g->members, g->n_members, &rec[G_MEMBERS / 4],
                              &rec[G_N_MEMBERS / 4]);
        if (r < 0) {
            goto out;
        }
    }

    /* Layout. */
    uint32_t ub = slots_for(n_users), gb = slots_for(n_groups);
    uint64_t off = OC_NSSC_HEADER_SIZE;
    uint64_t users_off = off;
    off += 4ull * n_users;
    uint64_t groups_off = off;
    off += 4ull * n_groups;
    /* each table starts on a line, so that a probe's slots share lines */
    uint64_t pwn_off = line_up(off);
    uint64_t pwu_off = line_up(pwn_off + (uint64_t)S_SIZE * ub);
    uint64_t grn_off = line_up(pwu_off + (uint64_t)S_SIZE * ub);
    uint64_t grg_off = line_up(grn_off + (uint64_t)S_SIZE * gb);
    off = grg_off + (uint64_t)S_SIZE * gb;
    uint64_t refs_off = off;
    off += 4ull * n_refs;
    uint64_t strings_off = line_up(off);
    off = strings_off + b.st.len;
    uint64_t total = (off + 7) & ~7ull;
    if (total > OC_NSSC_FILE_MAX) {
        r = -E2BIG;
        goto out;
    }
    b.img = calloc(1, (size_t)total);
    if (b.img == NULL) {
        r = -ENOMEM;
        goto out;
    }
    /* The padding after the strings must keep the "ends with NUL" rule:
     * count the padding as part of the string area (it is zero). */
    uint32_t strings_size = (uint32_t)(total - strings_off);

    uint8_t *img = b.img;
    memcpy(img + H_MAGIC, OC_NSSC_MAGIC, OC_NSSC_MAGIC_LEN);
    st32(img + H_VERSION, OC_NSSC_VERSION);
    st32(img + H_HEADER_SIZE, OC_NSSC_HEADER_SIZE);
    st64(img + H_FILE_SIZE, total);
    st32(img + H_BYTE_ORDER, OC_NSSC_BYTE_ORDER);
    st32(img + H_N_USERS, (uint32_t)n_users);
    st32(img + H_N_GROUPS, (uint32_t)n_groups);
    st32(img + H_USER_SLOTS, ub);
    st32(img + H_GROUP_SLOTS, gb);
    st32(img + H_USERS_OFF, (uint32_t)users_off);
    st32(img + H_GROUPS_OFF, (uint32_t)groups_off);
    st32(img + H_PW_NAME_OFF, (uint32_t)pwn_off);
    st32(img + H_PW_UID_OFF, (uint32_t)pwu_off);
    st32(img + H_GR_NAME_OFF, (uint32_t)grn_off);
    st32(img + H_GR_GID_OFF, (uint32_t)grg_off);
    st32(img + H_REFS_OFF, (uint32_t)refs_off);
    st32(img + H_N_REFS, (uint32_t)n_refs);
    st32(img + H_STRINGS_OFF, (uint32_t)strings_off);
    st32(img + H_STRINGS_SIZE, strings_size);
    if (b.st.len > 0) {
        memcpy(img + strings_off, b.st.data, b.st.len);
    }
    for (size_t i = 0; i < n_users; i++) {
        st32(img + users_off + 4 * i, b.user_ref[i]);
        for (size_t k = 0; k < U_SIZE / 4; k++) {
            st32(img + strings_off + b.user_ref[i] + 4 * k, b.user_rec[i * (U_SIZE / 4) + k]);
        }
    }
    for (size_t i = 0; i < n_groups; i++) {
        b.gid_group[i] = ((uint64_t)b.groups[i]->gid << 32) | i;
    }
    qsort(b.gid_group, n_groups, sizeof(*b.gid_group), cmp_u64);
    for (size_t i = 0; i < n_users; i++) {
        /* the refs of the user's supplementary groups (every gid in pairs
         * is a group's: they come from the groups' member lists) */
        const uint32_t *rec = b.user_rec + i * (U_SIZE / 4);
        uint8_t *list = img + strings_off + rec[U_GIDS / 4];
        for (size_t p = b.user_pair[i], k = 0; k < rec[U_N_GIDS / 4]; p++) {
            if (p > 0 && b.pairs[p - 1] == b.pairs[p]) {
                continue;
            }
            uint64_t key = (uint64_t)(uint32_t)b.pairs[p] << 32;
            size_t lo = 0, hi = n_groups;
            while (lo < hi) { /* the first entry >= key: the group of that gid */
                size_t mid = lo + (hi - lo) / 2;
                if (b.gid_group[mid] < key) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            st32(list + 4 * k++, b.group_ref[(uint32_t)b.gid_group[lo]]);
        }
    }
    for (size_t i = 0; i < n_groups; i++) {
        st32(img + groups_off + 4 * i, b.group_ref[i]);
        for (size_t k = 0; k < G_SIZE / 4; k++) {
            st32(img + strings_off + b.group_ref[i] + 4 * k, b.group_rec[i * (G_SIZE / 4) + k]);
        }
    }
    for (size_t i = 0; i < n_refs; i++) {
        st32(img + refs_off + 4 * i, b.refs[i]);
    }

    /* Seed: given, or derived from the content without tables and seed. */
    uint8_t s[OC_NSSC_SEED_SIZE];
    if (seed != NULL) {
        memcpy(s, seed, sizeof(s));
    } else {
        uint64_t h1 = oc_nssc_checksum(img, (size_t)total);
        uint64_t h2 = h1 ^ (h1 >> 31);
        h2 *= CK_P1;
        h2 ^= h2 >> 29;
        st64(s, h1);
        st64(s + 8, h2);
    }
    fill_tables(img, s);
    st64(img + H_CHECKSUM, oc_nssc_checksum(img, (size_t)total));

    *ret_buf = b.img;
    *ret_len = (size_t)total;
    b.img = NULL;
    r = 0;
out:
    build_free(&b);
    return r;
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
