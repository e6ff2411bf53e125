/* SPDX-License-Identifier: MIT */
/*
 * openclaw-sync: root's writer of the state that root trusts
 * (docs/security.md, "The trust boundary").
 *
 * pam_openclaw verifies tokens against the tenant's signing keys. Whoever
 * writes those keys decides which tokens verify, so they are fetched by
 * root itself, over TLS, from the tenant's OIDC discovery document and
 * its jwks_uri, into jwks_dir: a directory of root's that no other
 * account can write (common/rootdir.h). openclawd, which talks to every
 * local user and runs as the daemon account, never writes there.
 *
 * One run, then exit: a systemd timer (openclaw-sync.timer) runs it
 * periodically, and a path unit (openclaw-sync.path) when pam_openclaw
 * meets an unknown kid and creates jwks_dir/refresh-requested. A run
 * started by such a request fetches at most every OC_JWKS_REFRESH_MIN
 * seconds; --force (the timer, an admin) always fetches. It reads no input
 * of local users: the root-owned config, and the tenant's answers.
 * Exit: 0 done (or a request within the rate limit), 1 the fetch failed
 * (the last good files stay), 2 usage, configuration or directory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "jwks.h"
#include "oc_fetch.h"
#include "rootdir.h"
#include "util.h"

#define SYNC_DEADLINE 60 /* seconds for the whole run */

static bool quiet;

static void logmsg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logmsg(int prio, const char *fmt, ...)
{
    va_list ap;

    if (prio <= LOG_WARNING || !quiet) {
        va_start(ap, fmt);
        fputs("openclaw-sync: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: openclaw-sync [--config FILE] [--force] [--quiet]\n"
            "Fetch the tenant's OIDC discovery document and signing keys (JWKS), as\n"
            "root, into jwks_dir, the directory pam_openclaw trusts.\n"
            "  --config FILE  configuration (default " OC_CONFIG_PATH ")\n"
            "  --force        fetch even when a requested refresh came within %ds\n"
            "  --quiet        only warnings and errors\n",
            OC_JWKS_REFRESH_MIN);
}

/* The request file (pam_openclaw's unknown kid): taken, or within the rate
 * limit answered without a fetch. true: fetch now. */
static bool take_request(int dfd, const char *dir, bool force)
{
    struct stat st;

    if (faccessat(dfd, OC_JWKS_REQUEST_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
        return true; /* a periodic or manual run */
    }
    if (!force && fstatat(dfd, OC_JWKS_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        int64_t age = oc_now() - (int64_t)st.st_mtime;
        if (age >= 0 && age < OC_JWKS_REFRESH_MIN) {
            (void)unlinkat(dfd, OC_JWKS_REQUEST_FILE, 0);
            logmsg(LOG_INFO,
                   "refresh requested, but %s/%s was fetched %llds ago: not again before "
                   "%ds (openclaw-sync --force fetches now)",
                   dir, OC_JWKS_FILE, (long long)age, OC_JWKS_REFRESH_MIN);
            return false;
        }
    }
    /* Taken before the fetch: a request made meanwhile starts another run. */
    (void)unlinkat(dfd, OC_JWKS_REQUEST_FILE, 0);
    logmsg(LOG_INFO, "refresh requested (an unknown kid at pam_openclaw)");
    return true;
}

static int fetch_jwks(const struct oc_config *cfg, const char *dir)
{
    struct oc_fetch_ctx fetch;
    struct oc_fetch_error err;
    struct oc_fetch_result res;
    int64_t deadline = oc_now() + SYNC_DEADLINE;
    bool done = false;
    int r;

    memset(&err, 0, sizeof(err));
    r = oc_fetch_init(&fetch, cfg, NULL);
    if (r < 0) {
        logmsg(LOG_ERR, "cannot set up HTTPS: %s", strerror(-r));
        oc_fetch_done(&fetch);
        return r;
    }
    r = oc_fetch_jwks_start(&fetch, dir, 1, &err);
    if (r < 0) {
        logmsg(LOG_ERR, "JWKS refresh failed: %s", err.msg);
        oc_fetch_done(&fetch);
        return r;
    }
    while (!done) {
        if (oc_now() > deadline) {
            logmsg(LOG_ERR,
                   "JWKS refresh failed: no answer within %ds; the last good %s/%s "
                   "is kept",
                   SYNC_DEADLINE, dir, OC_JWKS_FILE);
            r = -ETIMEDOUT;
            break;
        }
        if (oc_fetch_wait(&fetch, NULL, 0, 1000) < 0) {
            r = -EIO;
            break;
        }
        while (oc_fetch_next(&fetch, &res) > 0) {
            free(res.body);
            oc_token_clear(&res.token);
            if (!res.jwks) {
                continue;
            }
            done = true;
            r = res.result;
            if (r < 0) {
                logmsg(LOG_ERR, "JWKS refresh failed: %s; the last good %s/%s is kept", res.err.msg,
                       dir, OC_JWKS_FILE);
            }
        }
    }
    oc_fetch_done(&fetch);
    return r;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"force", no_argument, NULL, 'f'},
            {"quiet", no_argument, NULL, 'q'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *config_path = OC_CONFIG_PATH;
    struct oc_config *cfg = NULL;
    struct oc_config_error cerr;
    struct oc_jwks *jwks = NULL;
    char errbuf[1024];
    bool force = false;
    size_t bad = 0;
    int opt, dfd = -1, fd = -1, r, rc = 2;

    while ((opt = getopt_long(argc, argv, "c:fqh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'f':
            force = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (geteuid() != 0) {
        logmsg(LOG_ERR, "writes the keys root trusts, so it runs as root only (systemctl start "
                        "openclaw-sync)");
        return 2;
    }
    umask(022);
    memset(&cerr, 0, sizeof(cerr));
    r = oc_config_load(config_path, 0, &cfg, &cerr);
    if (r < 0) {
        if (oc_config_error_format(&cerr, errbuf, sizeof(errbuf)) < 0 || errbuf[0] == '\0') {
            snprintf(errbuf, sizeof(errbuf), "%s: %s", config_path, strerror(-r));
        }
        logmsg(LOG_ERR, "%s", errbuf);
        return 2;
    }
    const char *dir = cfg->global.jwks_dir;
    r = oc_rootdir_open(dir, geteuid(), 022, 0755, &dfd, &bad);
    if (r < 0) {
        logmsg(LOG_ERR,
               "cannot use jwks_dir %s: %.*s: %s (it must be a directory of root's that group "
               "and others cannot write, every directory above it root's and no symlink: "
               "install -d -m 0755 -o root -g root %s; openclawctl check-config)",
               dir, (int)bad, dir, strerror(-r), dir);
        goto out;
    }
    if (!take_request(dfd, dir, force)) {
        rc = 0;
        goto out;
    }
    rc = 1;
    if (fetch_jwks(cfg, dir) < 0) {
        goto out;
    }
    /* Read back what pam_openclaw will read, the way it reads it. */
    const char *why = NULL;
    r = oc_rootfile_open(dfd, OC_JWKS_FILE, O_RDONLY, geteuid(), false, &fd, NULL);
    if (r == 0) {
        r = oc_jwks_load_fd(fd, &jwks, &why);
    }
    if (r < 0) {
        logmsg(LOG_ERR, "%s/%s written, but pam_openclaw would refuse it: %s", dir, OC_JWKS_FILE,
               why != NULL ? why : strerror(-r));
        goto out;
    }
    logmsg(LOG_INFO, "JWKS written to %s/%s (%zu keys)", dir, OC_JWKS_FILE, jwks->n_keys);
    rc = 0;
out:
    oc_jwks_free(jwks);
    if (fd >= 0) {
        close(fd);
    }
    if (dfd >= 0) {
        close(dfd);
    }
    oc_config_free(cfg);
    return rc;
}
