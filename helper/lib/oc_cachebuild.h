/* SPDX-License-Identifier: MIT */
/*
 * oc_cachebuild.h: build the NSS cache image from a list of agents.
 *
 * Shared by `openclawctl cache rebuild` (static [agent] sections) and
 * openclawd's directory sync (Graph + static sections), so both give the
 * same groups and the same layout. Runs in an ordinary process (never in
 * the NSS module): it resolves local groups with getgrnam().
 *
 * Groups: every agent has its user private group (gid = uid). Each group
 * name an agent lists in "groups =", or that [roles] maps one of its roles
 * to, is either an existing local group (its gid) or an openclaw group
 * whose gid is
 *     uid_min + FNV-1a-64("group:" NAME) mod (uid_max - uid_min + 1)
 * A gid that collides with an agent's uid or another group is refused.
 */
#ifndef OC_CACHEBUILD_H
#define OC_CACHEBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

struct oc_cb_agent {
    const char *name;
    uint32_t uid; /* gid = uid */
    const char *gecos;
    bool enabled;
    const struct oc_strlist *groups; /* "groups =" of a static agent, or NULL */
    const char *const *roles;        /* app role values, or NULL */
    size_t n_roles;
};

/*
 * Build the image (malloc'd into *ret_img, *ret_len). seed: NULL for the
 * deterministic seed, else OC_NSSC_SEED_SIZE random bytes. On failure a
 * negative errno and one line in errbuf saying what to change.
 */
int oc_cachebuild(const struct oc_config *cfg, const struct oc_cb_agent *agents, size_t n,
                  const uint8_t *seed, void **ret_img, size_t *ret_len, size_t *ret_groups,
                  char *why, size_t why_len);

#endif
