/* SPDX-License-Identifier: MIT */
/* oc_cachebuild.c: agents -> NSS cache image (see oc_cachebuild.h). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper/lib/oc_cachebuild.h"
#include "helper/lib/oc_nsscwrite.h"
#include "idmap.h"
#include "nsscache.h"

#define CACHE_HOME_MAX 4096

struct grp_build {
    char *name;
    uint32_t gid;
    bool local;
    const char **members;
    size_t n_members, cap_members;
};

/* The groups, and an open-addressing index of their names (slot: index +
 * 1, 0 empty; at most half full), so that 100 000 agents' private groups
 * are found in constant time, not by a scan each. */
struct cache_build {
    struct grp_build *groups;
    size_t n_groups, cap_groups;
    size_t *slots;
    size_t n_slots; /* a power of two */
};

static size_t name_slot(const struct cache_build *b, const char *name)
{
    size_t mask = b->n_slots - 1;
    size_t i = (size_t)oc_fnv1a64(name, strlen(name)) & mask;

    while (b->slots[i] != 0 && strcmp(b->groups[b->slots[i] - 1].name, name) != 0) {
        i = (i + 1) & mask;
    }
    return i;
}

static struct grp_build *find_group(struct cache_build *b, const char *name)
{
    if (b->n_slots == 0) {
        return NULL;
    }
    size_t i = name_slot(b, name);
    return b->slots[i] != 0 ? &b->groups[b->slots[i] - 1] : NULL;
}

/* Room in the index for one more name. 0 or -ENOMEM. */
static int index_grow(struct cache_build *b)
{
    size_t n = b->n_slots ? b->n_slots : 32;
    size_t *old = b->slots;

    if ((b->n_groups + 1) * 2 <= b->n_slots) {
        return 0;
    }
    while ((b->n_groups + 1) * 2 > n) {
        n *= 2;
    }
    b->slots = calloc(n, sizeof(*b->slots));
    if (b->slots == NULL) {
        b->slots = old;
        return -ENOMEM;
    }
    free(old);
    b->n_slots = n;
    for (size_t g = 0; g < b->n_groups; g++) {
        b->slots[name_slot(b, b->groups[g].name)] = g + 1;
    }
    return 0;
}

static struct grp_build *add_group(struct cache_build *b, const char *name, uint32_t gid,
                                   bool local)
{
    if (index_grow(b) < 0) {
        return NULL;
    }
    if (b->n_groups == b->cap_groups) {
        size_t nc = b->cap_groups ? b->cap_groups * 2 : 16;
        struct grp_build *g = realloc(b->groups, nc * sizeof(*g));
        if (g == NULL) {
            return NULL;
        }
        b->groups = g;
        b->cap_groups = nc;
    }
    char *d = strdup(name);
    if (d == NULL) {
        return NULL;
    }
    b->groups[b->n_groups] = (struct grp_build){.name = d, .gid = gid, .local = local};
    b->slots[name_slot(b, d)] = b->n_groups + 1;
    return &b->groups[b->n_groups++];
}

/* Agents are added one at a time (all of one agent's groups, then the
 * next agent's), so the same agent twice in a group (a group named in
 * groups = and mapped from a role) can only be its last member. */
static int add_member(struct grp_build *g, const char *user)
{
    if (g->n_members > 0 && strcmp(g->members[g->n_members - 1], user) == 0) {
        return 0;
    }
    if (g->n_members == g->cap_members) {
        size_t nc = g->cap_members ? g->cap_members * 2 : 8;
        const char **m = realloc(g->members, nc * sizeof(*m));
        if (m == NULL) {
            return -ENOMEM;
        }
        g->members = m;
        g->cap_members = nc;
    }
    g->members[g->n_members++] = user;
    return 0;
}

static uint32_t group_gid(const struct oc_config *cfg, const char *name)
{
    char key[8 + OC_USER_NAME_MAX + 1];
    int n = snprintf(key, sizeof(key), "group:%s", name);
    uint64_t range = (uint64_t)cfg->global.uid_max - cfg->global.uid_min + 1;
    return cfg->global.uid_min + (uint32_t)(oc_fnv1a64(key, (size_t)n) % range);
}

/* Resolve a group name that is not an agent's private group. */
static int resolve_group(struct cache_build *b, const struct oc_config *cfg, const char *name,
                         struct grp_build **ret, char *why, size_t why_len)
{
    struct grp_build *g = find_group(b, name);
    if (g != NULL) {
        *ret = g;
        return 0;
    }
    errno = 0;
    struct group *gr = getgrnam(name);
    bool local = gr != NULL && gr->gr_gid != 0 &&
                 (gr->gr_gid < cfg->global.uid_min || gr->gr_gid > cfg->global.uid_max);
    if (gr != NULL && gr->gr_gid == 0) {
        snprintf(why, why_len,
                 "group '%s' is gid 0: openclaw never grants it; remove it from the config", name);
        return -EPERM;
    }
    uint32_t gid = local ? (uint32_t)gr->gr_gid : group_gid(cfg, name);
    for (size_t i = 0; i < b->n_groups; i++) {
        if (b->groups[i].gid == gid) {
            snprintf(why, why_len,
                     "group '%s' would get gid %u, already used by '%s': rename one of them (or "
                     "pin the agent with \"uid =\")",
                     name, gid, b->groups[i].name);
            return -EEXIST;
        }
    }
    g = add_group(b, name, gid, local);
    if (g == NULL) {
        return -ENOMEM;
    }
    *ret = g;
    return 0;
}

int oc_cachebuild(const struct oc_config *cfg, const struct oc_cb_agent *agents, size_t n,
                  const uint8_t *seed, void **ret_img, size_t *ret_len, size_t *ret_groups,
                  char *why, size_t why_len)
{
    struct cache_build b = {0};
    struct oc_nssc_user_in *users = NULL;
    struct oc_nssc_group_in *groups = NULL;
    char **homes = NULL;
    int r = -ENOMEM;

    snprintf(why, why_len, "out of memory");
    users = calloc(n + 1, sizeof(*users));
    homes = calloc(n + 1, sizeof(*homes));
    if (users == NULL || homes == NULL) {
        goto out;
    }
    /* Users and their private groups first, so a group name equal to an
     * agent name is that agent's private group. */
    for (size_t i = 0; i < n; i++) {
        const struct oc_cb_agent *a = &agents[i];
        homes[i] = malloc(CACHE_HOME_MAX);
        if (homes[i] == NULL) {
            r = -ENOMEM;
            goto out;
        }
        if (oc_config_home(cfg, a->name, homes[i], CACHE_HOME_MAX) < 0) {
            snprintf(why, why_len, "agent %s: the home template gives an invalid path", a->name);
            r = -EINVAL;
            goto out;
        }
        users[i] = (struct oc_nssc_user_in){
                .name = a->name,
                .uid = a->uid,
                .gid = a->uid,
                .gecos = a->gecos != NULL ? a->gecos : "",
                .dir = homes[i],
                .shell = cfg->global.shell != NULL ? cfg->global.shell : OC_DEFAULT_SHELL,
                .enabled = a->enabled,
                .roles = a->roles,
                .n_roles = a->n_roles,
        };
        if (find_group(&b, a->name) != NULL) {
            snprintf(why, why_len, "agent name '%s' appears twice", a->name);
            r = -EEXIST;
            goto out;
        }
        if (add_group(&b, a->name, a->uid, false) == NULL) {
            r = -ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct oc_cb_agent *a = &agents[i];
        struct grp_build *g;

        for (size_t j = 0; a->groups != NULL && j < a->groups->n; j++) {
            if ((r = resolve_group(&b, cfg, a->groups->items[j], &g, why, why_len)) < 0) {
                goto out;
            }
            if ((r = add_member(g, a->name)) < 0) {
                goto out;
            }
        }
        /* An agent holding a role is a member of the group [roles] maps it to. */
        for (size_t j = 0; j < a->n_roles; j++) {
            const char *gname = oc_config_role_group(cfg, a->roles[j]);
            if (gname == NULL) {
                continue;
            }
            if ((r = resolve_group(&b, cfg, gname, &g, why, why_len)) < 0) {
                goto out;
            }
            if ((r = add_member(g, a->name)) < 0) {
                goto out;
            }
        }
    }
    for (size_t i = 0; i < cfg->n_roles; i++) {
        struct grp_build *g;
        if ((r = resolve_group(&b, cfg, cfg->roles[i].group, &g, why, why_len)) < 0) {
            goto out;
        }
    }
    groups = calloc(b.n_groups + 1, sizeof(*groups));
    if (groups == NULL) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < b.n_groups; i++) {
        groups[i] = (struct oc_nssc_group_in){
                .name = b.groups[i].name,
                .gid = b.groups[i].gid,
                .local = b.groups[i].local,
                .members = b.groups[i].members,
                .n_members = b.groups[i].n_members,
        };
    }
    r = oc_nssc_build(users, n, groups, b.n_groups, seed, ret_img, ret_len);
    if (r < 0) {
        snprintf(why, why_len, "cannot build the cache: %s", strerror(-r));
        goto out;
    }
    if (ret_groups != NULL) {
        *ret_groups = b.n_groups;
    }
    why[0] = '\0';
out:
    for (size_t i = 0; homes != NULL && i < n; i++) {
        free(homes[i]);
    }
    free(homes);
    free(users);
    free(groups);
    for (size_t i = 0; i < b.n_groups; i++) {
        free(b.groups[i].name);
        free(b.groups[i].members);
    }
    free(b.groups);
    free(b.slots);
    return r;
}
