/* SPDX-License-Identifier: MIT */
/*
 * ctl_cache.c: openclawctl cache rebuild [--config FILE] [--output FILE]
 *
 * Builds the NSS cache file from the config's static [agent] sections and
 * [roles] groups, and replaces the file atomically. The same config (and
 * the same local groups) always gives the same bytes. See docs/nss.md.
 *
 * Groups: every agent has its user private group (gid = uid). Each group
 * name an agent lists in "groups =" or [roles] maps a role to is either an
 * existing local group (resolved here with getgrnam, in this ordinary
 * process, never inside the NSS module) or an openclaw group whose gid is
 *     uid_min + FNV-1a-64("group:" NAME) mod (uid_max - uid_min + 1)
 * A gid that collides with an agent's uid or another group is refused.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "helper/ctl.h"
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

struct cache_build {
    struct grp_build *groups;
    size_t n_groups, cap_groups;
};

static void cache_usage(FILE *f)
{
    fprintf(f, "Usage: openclawctl cache rebuild [--config FILE] [--output FILE]\n\n"
               "Build the NSS cache file from the [agent] sections and [roles] of the\n"
               "config and replace it atomically (default output: nss_cache from the\n"
               "config). The same input always gives the same file.\n");
}

static struct grp_build *find_group(struct cache_build *b, const char *name)
{
    for (size_t i = 0; i < b->n_groups; i++) {
        if (strcmp(b->groups[i].name, name) == 0) {
            return &b->groups[i];
        }
    }
    return NULL;
}

static struct grp_build *add_group(struct cache_build *b, const char *name, uint32_t gid,
                                   bool local)
{
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
    return &b->groups[b->n_groups++];
}

static int add_member(struct grp_build *g, const char *user)
{
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
                         struct grp_build **ret)
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
        fprintf(stderr,
                "openclawctl: group '%s' is gid 0: openclaw never grants it; remove it from "
                "the config\n",
                name);
        return -EPERM;
    }
    uint32_t gid = local ? (uint32_t)gr->gr_gid : group_gid(cfg, name);
    for (size_t i = 0; i < b->n_groups; i++) {
        if (b->groups[i].gid == gid) {
            fprintf(stderr,
                    "openclawctl: group '%s' would get gid %u, already used by '%s': rename "
                    "one of them (or pin the agent with \"uid =\")\n",
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

static int cache_rebuild(int argc, char **argv)
{
    static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"output", required_argument, NULL, 'o'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *config_path = OC_CONFIG_PATH, *output = NULL;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'h':
            cache_usage(stdout);
            return CTL_EXIT_OK;
        default:
            cache_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        cache_usage(stderr);
        return CTL_EXIT_USAGE;
    }

    struct oc_config *cfg = NULL;
    struct oc_config_error err;
    struct oc_idmap_entry *ids = NULL;
    size_t n_ids = 0;
    struct cache_build b = {0};
    struct oc_nssc_user_in *users = NULL;
    struct oc_nssc_group_in *groups = NULL;
    char **homes = NULL;
    void *img = NULL;
    size_t img_len = 0;
    int ret = CTL_EXIT_USAGE, r;
    char msg[1024];

    r = oc_config_load(config_path, 0, &cfg, &err);
    if (r < 0) {
        (void)oc_config_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "openclawctl: %s\n", msg);
        goto out;
    }
    r = oc_idmap_assign(cfg, &ids, &n_ids, msg, sizeof(msg));
    if (r < 0) {
        fprintf(stderr, "openclawctl: %s\n", msg);
        goto out;
    }
    users = calloc(n_ids + 1, sizeof(*users));
    homes = calloc(n_ids + 1, sizeof(*homes));
    if (users == NULL || homes == NULL) {
        goto oom;
    }
    /* Users and their private groups first, so a group name equal to an
     * agent name is that agent's private group. */
    for (size_t i = 0; i < n_ids; i++) {
        const struct oc_agent *a = &cfg->agents[ids[i].agent];
        homes[i] = malloc(CACHE_HOME_MAX);
        if (homes[i] == NULL) {
            goto oom;
        }
        if (oc_config_home(cfg, ids[i].name, homes[i], CACHE_HOME_MAX) < 0) {
            fprintf(stderr, "openclawctl: [agent %s]: the home template gives an invalid path\n",
                    ids[i].name);
            goto out;
        }
        users[i] = (struct oc_nssc_user_in){
                .name = ids[i].name,
                .uid = ids[i].uid,
                .gid = ids[i].gid,
                .gecos = a->display_name != NULL ? a->display_name : "",
                .dir = homes[i],
                .shell = cfg->global.shell != NULL ? cfg->global.shell : OC_DEFAULT_SHELL,
                .enabled = a->enabled,
        };
        if (find_group(&b, ids[i].name) != NULL) {
            fprintf(stderr, "openclawctl: agent name '%s' appears twice\n", ids[i].name);
            goto out;
        }
        if (add_group(&b, ids[i].name, ids[i].gid, false) == NULL) {
            goto oom;
        }
    }
    for (size_t i = 0; i < n_ids; i++) {
        const struct oc_agent *a = &cfg->agents[ids[i].agent];
        for (size_t j = 0; j < a->groups.n; j++) {
            struct grp_build *g;
            if ((r = resolve_group(&b, cfg, a->groups.items[j], &g)) < 0) {
                goto out;
            }
            if (add_member(g, ids[i].name) < 0) {
                goto oom;
            }
        }
    }
    for (size_t i = 0; i < cfg->n_roles; i++) {
        struct grp_build *g;
        if ((r = resolve_group(&b, cfg, cfg->roles[i].group, &g)) < 0) {
            goto out;
        }
    }
    groups = calloc(b.n_groups + 1, sizeof(*groups));
    if (groups == NULL) {
        goto oom;
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
    r = oc_nssc_build(users, n_ids, groups, b.n_groups, NULL, &img, &img_len);
    if (r < 0) {
        fprintf(stderr, "openclawctl: cannot build the cache: %s\n", strerror(-r));
        goto out;
    }
    if (output == NULL) {
        output = cfg->global.nss_cache;
    }
    r = oc_nssc_write_file(output, img, img_len);
    if (r < 0) {
        fprintf(stderr,
                "openclawctl: cannot write %s: %s (check the directory exists and is "
                "writable)\n",
                output, strerror(-r));
        goto out;
    }
    printf("wrote %s: %zu users, %zu groups, %zu bytes\n", output, n_ids, b.n_groups, img_len);
    ret = CTL_EXIT_OK;
    goto out;
oom:
    fprintf(stderr, "openclawctl: out of memory\n");
out:
    free(img);
    for (size_t i = 0; homes != NULL && i < n_ids; i++) {
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
    free(ids);
    oc_config_free(cfg);
    return ret;
}

int ctl_cache(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cache_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
    }
    if (strcmp(argv[1], "rebuild") == 0) {
        return cache_rebuild(argc - 1, argv + 1);
    }
    fprintf(stderr, "openclawctl cache: unknown subcommand '%s'\n", argv[1]);
    cache_usage(stderr);
    return CTL_EXIT_USAGE;
}
