/* SPDX-License-Identifier: MIT */
/*
 * nsscache_layout.h: the byte layout of the NSS cache file, shared by its
 * reader (common/nsscache.c, in libocbase and so in the NSS module) and
 * its writer (helper/lib/oc_nsscwrite.c, in libochelper: the module
 * never builds a file). docs/nss.md describes every byte. Include it
 * from those two files only; everybody else uses nsscache.h.
 */
#ifndef OC_NSSCACHE_LAYOUT_H
#define OC_NSSCACHE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nsscache.h"

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

/* The checksum's multipliers (oc_nssc_checksum); the writer mixes a
 * derived seed with the first. */
#define CK_P1 0x9e3779b97f4a7c15ull
#define CK_P2 0xc2b2ae3d27d4eb4full
#define CK_P3 0x165667b19e3779f9ull

/* The first slot of a hash among n: the hash's 32 bits scaled to [0, n)
 * (a multiply and a shift; n needs not be a power of two). */
static inline uint32_t slot_of(uint32_t h, uint32_t n)
{
    return (uint32_t)(((uint64_t)h * n) >> 32);
}

/* A name's hash in a file of this seed: SipHash-1-3 keyed by the seed;
 * the lower bits choose its first slot, the upper 32 are the key stored in
 * the slot. */
uint64_t oc_nssc_name_hash(const uint8_t seed[OC_NSSC_SEED_SIZE], const char *name, size_t len);

/* An id's hash in a file of this seed (a keyed multiply-xorshift mix):
 * it chooses the id's first slot; the key stored is the id itself. */
uint32_t oc_nssc_id_hash(const uint8_t seed[OC_NSSC_SEED_SIZE], uint32_t id);

#endif /* OC_NSSCACHE_LAYOUT_H */
