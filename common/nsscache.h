/* SPDX-License-Identifier: MIT */
/*
 * nsscache.h: the NSS cache file: its reader, and its atomic replacement.
 * Libc only.
 *
 * One immutable binary file holds the passwd and group entries of the
 * agents (docs/nss.md describes every byte; nsscache_layout.h holds the
 * byte layout). It is written whole by oc_nssc_build()
 * (helper/lib/oc_nsscwrite.h: never part of the NSS module) and
 * oc_nssc_write_file() (temporary file in the same
 * directory, fsync, rename, mode 0644) and never modified in place, so a
 * reader that maps it sees either the old or the new file, never a mix.
 * The one exception is the "replaced" word in the header (outside the
 * checksum): after the rename, the writer increments it in the OLD file
 * through a shared mapping (release store), so that a process that has
 * the old file mapped learns with one memory load (acquire) that it must
 * look at the path again. A file at the path has it 0.
 *
 * The reader (oc_nssc_open() and the lookups) trusts nothing in the image:
 * the header, the checksum and every offset, count, slot and ref are
 * checked before use, and a probe is bounded by the table's slots. It
 * works on any byte buffer (a read-only mapping, or fuzzer input) and never
 * allocates. The reader does NOT apply the uid range policy: that is the
 * NSS module's job (the cache is not a trust root).
 */
#ifndef OC_NSSCACHE_H
#define OC_NSSCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OC_NSSC_MAGIC     "OCNSSC\r\n" /* 8 bytes, no NUL */
#define OC_NSSC_MAGIC_LEN 8
/* 2: the replaced word; 3: records next to their strings; 4: hash tables of
 * open-addressed slots that hold the key next to the ref */
#define OC_NSSC_VERSION    4u
#define OC_NSSC_BYTE_ORDER 0x01020304u /* written in host order; a foreign file fails */

/* Caps on what a file may hold (the reader refuses anything larger). */
#define OC_NSSC_FILE_MAX    (1024u * 1024u * 1024u) /* bytes in the file */
#define OC_NSSC_ENTRIES_MAX (4u * 1024u * 1024u)    /* users, and groups */
#define OC_NSSC_REFS_MAX    (64u * 1024u * 1024u)   /* list slots (roles, gids, members) */
#define OC_NSSC_LIST_MAX    65536u                  /* items in one list */
#define OC_NSSC_STRING_MAX  1024u                   /* bytes in one string, without NUL */
#define OC_NSSC_SEED_SIZE   16u

/* Byte offsets in the header (for tools and fuzzing). */
#define OC_NSSC_CHECKSUM_OFFSET 24u
#define OC_NSSC_REPLACED_OFFSET 108u /* u32, written in place, outside the checksum */
#define OC_NSSC_HEADER_SIZE     112u

/* User flags */
#define OC_NSSC_USER_ENABLED 0x1u
/* Group flags: an existing local group (e.g. docker) whose gid the writer
 * resolved; never served as a group entry, only used by initgroups. */
#define OC_NSSC_GROUP_LOCAL 0x1u

/* ---------------------------------------------------------------- */
/* Atomic replacement                                               */
/* ---------------------------------------------------------------- */

/*
 * Replace path atomically with buf: a new file in the same directory,
 * written, fchmod 0644, fsync'ed, renamed over path, directory fsync'ed;
 * then, when the file it replaced was a cache this process may write, that
 * file is marked replaced (oc_nssc_mark_replaced) so its readers move on
 * at their next lookup. A reader never sees a partial file. 0 or a
 * negative errno (the marking is best effort: readers also stat the path
 * at least once a second).
 */
int oc_nssc_write_file(const char *path, const void *buf, size_t len);

/*
 * Mark the cache open on fd (O_RDWR) as replaced: increment its replaced
 * word through a shared mapping with a release store. Call it only after
 * the new file has been renamed into place. 0; -EBADMSG when fd is not a
 * regular file holding a cache of this version (left untouched).
 */
int oc_nssc_mark_replaced(int fd);

/* ---------------------------------------------------------------- */
/* Reader                                                           */
/* ---------------------------------------------------------------- */

/* A checked view of one cache image. Plain data: copy it freely. */
struct oc_nssc {
    const uint8_t *base;
    size_t size;
    uint8_t seed[OC_NSSC_SEED_SIZE];
    uint32_t n_users, n_groups;
    uint32_t user_slots, group_slots; /* slots of each hash table (more than records) */
    uint32_t users_off, groups_off;
    uint32_t pw_name_off, pw_uid_off, gr_name_off, gr_gid_off;
    uint32_t refs_off, n_refs;
    uint32_t strings_off, strings_size;
};

struct oc_nssc_pw {
    const char *name, *gecos, *dir, *shell; /* point into the image */
    uint32_t uid, gid, flags;
    uint32_t roles, n_roles; /* list slots: string offsets */
    uint32_t gids, n_gids;   /* data area: refs of the supplementary groups' records */
};

struct oc_nssc_gr {
    const char *name;
    uint32_t gid, flags;
    uint32_t members, n_members; /* list slots: string offsets of user names */
};

/*
 * Check an image and fill *ret. Errors: -EBADMSG (bad magic, size
 * mismatch, truncated, bad checksum, tables out of bounds), -EPROTONOSUPPORT
 * (other version or byte order), -EFBIG (over the caps), -EINVAL (buf not
 * 8-byte aligned). The replaced word may hold any value.
 */
int oc_nssc_open(const void *buf, size_t len, struct oc_nssc *ret);

/*
 * The image's replaced word (acquire load): 0 while the file is the one at
 * its path; a writer that renamed another file over it increments it. A
 * reader that sees it change re-checks the path; no system call otherwise.
 */
static inline uint32_t oc_nssc_replaced(const struct oc_nssc *c)
{
    return __atomic_load_n((const uint32_t *)(const void *)(c->base + OC_NSSC_REPLACED_OFFSET),
                           __ATOMIC_ACQUIRE);
}

/* Lookups: 0, -ENOENT (no such entry) or -EBADMSG (the image is corrupt). */
int oc_nssc_pw_by_name(const struct oc_nssc *c, const char *name, struct oc_nssc_pw *ret);
/* The same for a name of len bytes (name[len] is its NUL), for a caller that
 * has measured it already. */
int oc_nssc_pw_by_name_n(const struct oc_nssc *c, const char *name, size_t len,
                         struct oc_nssc_pw *ret);
int oc_nssc_pw_by_uid(const struct oc_nssc *c, uint32_t uid, struct oc_nssc_pw *ret);
int oc_nssc_pw_at(const struct oc_nssc *c, uint32_t index, struct oc_nssc_pw *ret);
int oc_nssc_gr_by_name(const struct oc_nssc *c, const char *name, struct oc_nssc_gr *ret);
int oc_nssc_gr_by_name_n(const struct oc_nssc *c, const char *name, size_t len,
                         struct oc_nssc_gr *ret);
int oc_nssc_gr_by_gid(const struct oc_nssc *c, uint32_t gid, struct oc_nssc_gr *ret);
int oc_nssc_gr_at(const struct oc_nssc *c, uint32_t index, struct oc_nssc_gr *ret);

/* List items (i < n_*): 0 or -EBADMSG. */
int oc_nssc_pw_gid(const struct oc_nssc *c, const struct oc_nssc_pw *pw, uint32_t i,
                   uint32_t *ret_gid);
int oc_nssc_pw_role(const struct oc_nssc *c, const struct oc_nssc_pw *pw, uint32_t i,
                    const char **ret_role);
int oc_nssc_gr_member(const struct oc_nssc *c, const struct oc_nssc_gr *gr, uint32_t i,
                      const char **ret_member);
/* The gid and flags of the user's i-th supplementary group (i < n_gids),
 * without its name or members (initgroups): 0 or -EBADMSG. */
int oc_nssc_pw_group_id(const struct oc_nssc *c, const struct oc_nssc_pw *pw, uint32_t i,
                        uint32_t *ret_gid, uint32_t *ret_flags);
/* The user's i-th supplementary group itself (i < n_gids): 0 or -EBADMSG. */
int oc_nssc_pw_group(const struct oc_nssc *c, const struct oc_nssc_pw *pw, uint32_t i,
                     struct oc_nssc_gr *ret);

/* The checksum stored in the header, computed over buf with that field and the
 * replaced word read as zero. */
uint64_t oc_nssc_checksum(const void *buf, size_t len);

#endif /* OC_NSSCACHE_H */
