/* SPDX-License-Identifier: MIT */
/*
 * ctl_cache.c: openclawctl cache rebuild [--config FILE] [--output FILE]
 *              openclawctl cache sync [--config FILE]
 *
 * rebuild builds the NSS cache file from the config's static [agent]
 * sections and [roles] groups, and replaces the file atomically. The same
 * config (and the same local groups) always gives the same bytes. See
 * docs/nss.md. sync asks a running openclawd (root's cache-rebuild
 * request) for a directory sync now and waits for its result: how an admin
 * makes a revocation in Entra take effect at once (docs/ssh.md).
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
#include <unistd.h>

#include <cjson/cJSON.h>

#include "conf.h"
#include "helper/ctl.h"
#include "helper/oc_cachebuild.h"
#include "idmap.h"
#include "nsscache.h"
#include "pam_openclaw/helperclient.h"
#include "util.h"

/* openclawd answers a sync request within 60 s (then "started" only). */
#define CTL_SYNC_TIMEOUT_MS 65000

static void cache_usage(FILE *f)
{
    fprintf(f, "Usage: openclawctl cache rebuild [--config FILE] [--output FILE]\n"
               "       openclawctl cache sync [--config FILE]\n\n"
               "rebuild: build the NSS cache file from the [agent] sections and [roles] of\n"
               "the config and replace it atomically (default output: nss_cache from the\n"
               "config). The same input always gives the same file.\n"
               "sync (root): ask openclawd for a directory sync from Entra now and wait for\n"
               "it (at most about a minute), so that a certificate, role or service\n"
               "principal removed in Entra stops new logins at once.\n");
}

/* The options of both subcommands: --config, --help, and --output when
 * output is not NULL (rebuild). Returns -1 to go on, else the exit code. */
static int cache_options(int argc, char **argv, const char **config_path, const char **output)
{
    static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"help", no_argument, NULL, 'h'},
            {"output", required_argument, NULL, 'o'},
            {NULL, 0, NULL, 0},
    };
    static const struct option opts_no_output[] = {
            {"config", required_argument, NULL, 'c'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, output != NULL ? "c:o:h" : "c:h",
                            output != NULL ? opts : opts_no_output, NULL)) != -1) {
        switch (c) {
        case 'c':
            *config_path = optarg;
            break;
        case 'o': /* only in the table with --output */
            *output = optarg;
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
    return -1;
}

static int cache_rebuild(int argc, char **argv)
{
    const char *config_path = OC_CONFIG_PATH, *output = NULL;
    int c;

    c = cache_options(argc, argv, &config_path, &output);
    if (c >= 0) {
        return c;
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
                        "static agents until openclawd's next directory sync (openclawctl cache "
                        "sync asks for one now)\n");
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

static int cache_sync(int argc, char **argv)
{
    const char *config_path = OC_CONFIG_PATH;
    struct oc_config *cfg = NULL;
    struct oc_config_error err;
    char msg[1024], *answer = NULL;
    size_t len = 0;
    cJSON *o = NULL;
    const cJSON *ok, *finished, *agents, *why;
    int ret = CTL_EXIT_USAGE, c, r;

    c = cache_options(argc, argv, &config_path, NULL);
    if (c >= 0) {
        return c;
    }
    if (geteuid() != 0) {
        fprintf(stderr,
                "openclawctl cache sync: only root may ask openclawd for a sync (uid %u "
                "is not root)\n",
                (unsigned)geteuid());
        return CTL_EXIT_REFUSED;
    }
    r = oc_config_load(config_path, 0, &cfg, &err);
    if (r < 0) {
        (void)oc_config_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "openclawctl: %s\n", msg);
        goto out;
    }
    if (cfg->directory == NULL) {
        fprintf(stderr, "openclawctl cache sync: note: no [directory] section: openclawd "
                        "rewrites the cache from the static [agent] sections only\n");
    }
    ret = CTL_EXIT_REFUSED;
    r = oc_hc_call(cfg->global.socket, "{\"type\":\"cache-rebuild\"}", CTL_SYNC_TIMEOUT_MS, &answer,
                   &len);
    if (r < 0) {
        fprintf(stderr, "openclawctl cache sync: %s (%s)%s\n", oc_hc_strerror(r),
                cfg->global.socket,
                r == -ENOENT || r == -ECONNREFUSED ? ": start it with systemctl start openclawd"
                                                   : "");
        goto out;
    }
    o = cJSON_ParseWithLength(answer, len);
    ok = cJSON_GetObjectItemCaseSensitive(o, "ok");
    finished = cJSON_GetObjectItemCaseSensitive(o, "finished");
    agents = cJSON_GetObjectItemCaseSensitive(o, "agents");
    why = cJSON_GetObjectItemCaseSensitive(o, "message");
    if (!cJSON_IsTrue(ok)) {
        fprintf(stderr,
                "openclawctl cache sync: the sync failed: %s (the last good directory data "
                "stays in force; openclawctl status shows the sync's age and error)\n",
                cJSON_IsString(why) ? why->valuestring : "no reason given");
        goto out;
    }
    if (!cJSON_IsTrue(finished)) {
        fprintf(stderr, "openclawctl cache sync: the sync started but did not finish within a "
                        "minute; openclawctl status shows when it does\n");
        goto out;
    }
    printf("directory sync finished: %d agents in the NSS cache and directory data\n",
           cJSON_IsNumber(agents) ? agents->valueint : 0);
    ret = CTL_EXIT_OK;
out:
    cJSON_Delete(o);
    if (answer != NULL) {
        oc_free_wipe(answer, len + 1);
    }
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
    if (strcmp(argv[1], "sync") == 0) {
        return cache_sync(argc - 1, argv + 1);
    }
    fprintf(stderr, "openclawctl cache: unknown subcommand '%s'\n", argv[1]);
    cache_usage(stderr);
    return CTL_EXIT_USAGE;
}
