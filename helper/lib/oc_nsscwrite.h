/* SPDX-License-Identifier: MIT */
/*
 * oc_nsscwrite.h: the NSS cache writer: an image built in memory from
 * users and groups, in the format common/nsscache.h reads (byte layout:
 * common/nsscache_layout.h; docs/nss.md). oc_nssc_write_file()
 * (nsscache.h) puts it in place. Libc only; no I/O, no logging.
 *
 * It lives in libochelper, not in libocbase: the NSS module, which every
 * process that calls getpwnam() loads, maps a cache and never builds one.
 */
#ifndef OC_NSSCWRITE_H
#define OC_NSSCWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nsscache.h"

struct oc_nssc_user_in {
    const char *name; /* user name (oc_valid_user_name) */
    uint32_t uid;
    uint32_t gid;      /* primary group (openclaw: the user private group, gid = uid) */
    const char *gecos; /* display name; NULL: "" */
    const char *dir;   /* home directory */
    const char *shell;
    bool enabled;
    const char *const *roles; /* app role values (informational) */
    size_t n_roles;
};

struct oc_nssc_group_in {
    const char *name;
    uint32_t gid;
    bool local;                 /* existing local group: OC_NSSC_GROUP_LOCAL */
    const char *const *members; /* user names; each must be a user of the same build */
    size_t n_members;
};

/*
 * Build a cache image in memory. Input order does not matter: records,
 * lists and strings are laid out sorted, so the same input gives the same
 * bytes. seed: OC_NSSC_SEED_SIZE bytes for the hash tables (use random
 * bytes when names can be chosen by others), or NULL to derive it from the
 * input (deterministic; fine for a config written by root).
 * Refuses (-EINVAL) invalid names, strings with ':', newline or NUL-only
 * trouble, duplicate names/uids/gids, uid or gid 0, members that are not
 * users, over-long lists; -E2BIG beyond the caps; -ENOMEM.
 * On success *ret_buf is malloc'd (free it) and *ret_len its size.
 */
int oc_nssc_build(const struct oc_nssc_user_in *users, size_t n_users,
                  const struct oc_nssc_group_in *groups, size_t n_groups, const uint8_t *seed,
                  void **ret_buf, size_t *ret_len);

#endif /* OC_NSSCWRITE_H */
