/* SPDX-License-Identifier: MIT */
/*
 * ctl_cache.c: openclawctl cache rebuild [--config FILE] [--output FILE]
 *
 * Builds the NSS cache file from the config's static [agent] sections and
 * [roles] groups, and replaces the file atomically. The same config (and
 * the same local groups) always gives the same bytes. See docs/nss.md.
 * The builder (groups, gids) is helper/oc_cachebuild.c, shared with
 * openclawd's directory sync.
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
#include "helper/oc_cachebuild.h"
#include "idmap.h"
#include "nsscache.h"

static void cache_usage(FILE *f)
{
    fprintf(f, "Usage: openclawctl cache rebuild [--config FILE] [--output FILE]\n\n"
               "Build the NSS cache file from the [agent] sections and [roles] of the\n"
               "config and replace it atomically (default output: nss_cache from the\n"
               "config). The same input always gives the same file.\n");
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
    size_t n_ids = 0, n_groups = 0;
    struct oc_cb_agent *agents = NULL;
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
    if (cfg->directory != NULL) {
        fprintf(stderr, "openclawctl: note: [directory] is configured: this file holds only the "
                        "static agents until openclawd's next directory sync (root can ask "
                        "openclawd for one with the cache-rebuild request)\n");
    }
    r = oc_idmap_assign(cfg, &ids, &n_ids, msg, sizeof(msg));
    if (r < 0) {
        fprintf(stderr, "openclawctl: %s\n", msg);
        goto out;
    }
    agents = calloc(n_ids + 1, sizeof(*agents));
    if (agents == NULL) {
        fprintf(stderr, "openclawctl: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < n_ids; i++) {
        const struct oc_agent *a = &cfg->agents[ids[i].agent];
        agents[i] = (struct oc_cb_agent){
                .name = ids[i].name,
                .uid = ids[i].uid,
                .gecos = a->display_name != NULL ? a->display_name : "",
                .enabled = a->enabled,
                .groups = &a->groups,
        };
    }
    r = oc_cachebuild(cfg, agents, n_ids, NULL, &img, &img_len, &n_groups, msg, sizeof(msg));
    if (r < 0) {
        fprintf(stderr, "openclawctl: %s\n", msg);
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
    printf("wrote %s: %zu users, %zu groups, %zu bytes\n", output, n_ids, n_groups, img_len);
    ret = CTL_EXIT_OK;
out:
    free(img);
    free(agents);
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
