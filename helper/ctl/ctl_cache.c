/* SPDX-License-Identifier: MIT */
/*
 * ctl_cache.c: openclawctl cache rebuild [--config FILE] [--output FILE]
 *              openclawctl cache sync [--config FILE]
 *
 * rebuild builds the NSS cache file from the config's static [agent]
 * sections and [roles] groups, and replaces the file atomically. The same
 * config (and the same local groups) always gives the same bytes. See
 * docs/nss.md. sync runs root's openclaw-sync now (--force) and waits for
 * it: how an admin makes a revocation in Entra take effect at once
 * (docs/ssh.md).
 * The builder (groups, gids) is helper/lib/oc_cachebuild.c, shared with
 * openclawd's directory sync.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "conf.h"
#include "helper/ctl/ctl.h"
#include "helper/lib/oc_cachebuild.h"
#include "idmap.h"
#include "nsscache.h"
#include "helperclient.h"
#include "util.h"

static void cache_usage(FILE *f)
{
    fprintf(f, "Usage: openclawctl cache rebuild [--config FILE] [--output FILE]\n"
               "       openclawctl cache sync [--config FILE]\n\n"
               "rebuild: build the NSS cache file from the [agent] sections and [roles] of\n"
               "the config and replace it atomically (default output: nss_cache from the\n"
               "config). The same input always gives the same file.\n"
               "sync (root): run openclaw-sync now: the directory from Entra, its NSS cache\n"
               "and the keys, as root, so that a certificate, role or service principal\n"
               "removed in Entra stops new logins at once.\n");
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

/* openclaw-sync: the one next to this openclawctl (an installed prefix),
 * or in a build tree (openclawctl in helper/ctl/) the one in helper/sync/;
 * else the installed one. */
static void sync_program(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    char *slash;

    if (n > 0 && (size_t)n < len - 32) {
        buf[n] = '\0';
        slash = strrchr(buf, '/');
        if (slash != NULL) {
            (void)snprintf(slash + 1, len - (size_t)(slash + 1 - buf), "openclaw-sync");
            if (access(buf, X_OK) == 0) {
                return;
            }
            if (slash - buf >= 4 && memcmp(slash - 4, "/ctl", 4) == 0) {
                (void)snprintf(slash - 3, len - (size_t)(slash - 3 - buf), "sync/openclaw-sync");
                if (access(buf, X_OK) == 0) {
                    return;
                }
            }
        }
    }
    (void)snprintf(buf, len, "%s/openclaw-sync", SBINDIR);
}

/*
 * cache sync: root's openclaw-sync, now (--force): the directory from
 * Entra (or the static sections), its NSS cache and the keys, written as
 * root into trust_dir, waited for. What openclawd (the daemon account) no
 * longer does (docs/security.md, "The trust boundary").
 */
static int cache_sync(int argc, char **argv)
{
    const char *config_path = OC_CONFIG_PATH;
    char prog[4096];
    pid_t pid;
    int c, status = 0;

    c = cache_options(argc, argv, &config_path, NULL);
    if (c >= 0) {
        return c;
    }
    if (geteuid() != 0) {
        fprintf(stderr,
                "openclawctl cache sync: only root may sync what root trusts (uid %u is not "
                "root)\n",
                (unsigned)geteuid());
        return CTL_EXIT_REFUSED;
    }
    sync_program(prog, sizeof(prog));
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "openclawctl cache sync: fork: %s\n", strerror(errno));
        return CTL_EXIT_REFUSED;
    }
    if (pid == 0) {
        execl(prog, "openclaw-sync", "--config", config_path, "--force", (char *)NULL);
        fprintf(stderr, "openclawctl cache sync: cannot run %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "openclawctl cache sync: waitpid: %s\n", strerror(errno));
            return CTL_EXIT_REFUSED;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("directory sync finished: the directory data, the NSS cache and the keys are "
               "root's and current (openclaw-sync)\n");
        return CTL_EXIT_OK;
    }
    fprintf(stderr,
            "openclawctl cache sync: the sync failed (openclaw-sync %s %d, above); the last good "
            "directory data stays in force\n",
            WIFEXITED(status) ? "exited with" : "killed by signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return CTL_EXIT_REFUSED;
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
