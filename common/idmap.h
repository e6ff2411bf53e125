/* SPDX-License-Identifier: MIT */
/*
 * idmap.h: agent identity -> Unix uid/gid and names.
 *
 * The uid of an agent follows its immutable service principal object id:
 *     uid = uid_min + FNV-1a-64(lower(tenant_id) ":" lower(object_id))
 *                     mod (uid_max - uid_min + 1)
 * so every host computes the same uid without coordination. The user
 * private group has gid = uid. Collisions are refused, never aliased: the
 * admin pins one agent with "uid = N". See docs/identity-mapping.md.
 */
#ifndef OC_IDMAP_H
#define OC_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct oc_config;

/* FNV-1a 64-bit parameters (public, unkeyed: every host must agree). */
#define OC_FNV64_OFFSET 0xcbf29ce484222325ull
#define OC_FNV64_PRIME  0x100000001b3ull

/* Default prefix for names derived from a display name. */
#define OC_IDMAP_SLUG_PREFIX "agent-"
/* Longest prefix oc_idmap_slug accepts (leaves room for the slug). */
#define OC_IDMAP_PREFIX_MAX 16

/* FNV-1a 64 over n bytes. */
uint64_t oc_fnv1a64(const void *data, size_t n);

/*
 * The uid for (tenant_id, object_id) in [uid_min, uid_max]. Both ids are
 * hashed in lowercase; callers pass validated GUIDs. Returns uid_min when
 * uid_max < uid_min (a range the config parser never lets through).
 */
uint32_t oc_idmap_uid(const char *tenant_id, const char *object_id, uint32_t uid_min,
                      uint32_t uid_max);

struct oc_idmap_entry {
    char name[OC_USER_NAME_MAX + 1];
    uint32_t uid;
    uint32_t gid; /* user private group: always equal to uid */
    bool pinned;  /* uid came from "uid =" in the config */
    size_t agent; /* index into config->agents */
};

/*
 * Compute uid/gid for every configured agent (enabled or not: a disabled
 * agent keeps its uid so its files are never inherited). An explicit
 * "uid =" wins. Two agents on one uid (hence one gid) are refused with
 * -EEXIST and a message in errbuf naming both and the fix. On success
 * *ret_entries (free()) holds *ret_n entries in config order.
 */
int oc_idmap_assign(const struct oc_config *config, struct oc_idmap_entry **ret_entries,
                    size_t *ret_n, char *why, size_t why_len);

/*
 * Derive a first-seen Unix name from a display name: ASCII lowercase,
 * every other character becomes '-', runs of '-' collapse, leading and
 * trailing '-' go, prefix prepended (NULL: OC_IDMAP_SLUG_PREFIX, "": none),
 * cut to OC_USER_NAME_MAX. The result is always oc_valid_user_name().
 * Returns 0, -EINVAL (bad prefix) or -ENOBUFS (len too small).
 * The display name is never an identity: the result is pinned in the
 * config once chosen and the uid follows the object id.
 */
int oc_idmap_slug(const char *display_name, const char *prefix, char *buf, size_t len);

#endif /* OC_IDMAP_H */
