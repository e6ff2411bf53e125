/* SPDX-License-Identifier: MIT */
/*
 * openclaw-sync: root's writer of the state that root trusts
 * (docs/security.md, "The trust boundary").
 *
 * pam_openclaw and nss_openclaw act on the tenant's signing keys, the
 * agent directory (agents, enabled state, roles, names, uids, ssh keys)
 * and the NSS cache. Whoever writes those decides who logs in as whom, so
 * they are written by root alone, into trust_dir (default
 * /var/lib/openclaw-trust: a directory of root's that no other account
 * can write, common/rootdir.h):
 *  - jwks/: the OIDC discovery document and the key set at its jwks_uri,
 *    fetched over TLS;
 *  - directory.json, names.json and the NSS cache: with [directory], the
 *    sync of the agents holding an app role on the host's resource
 *    application, read from Microsoft Graph with the [directory]
 *    credential (helper/sync/oc_graph.c, the engine openclawd used to run);
 *    without it, the static [agent] sections.
 * openclawd, which talks to every local user and runs as the daemon
 * account, never writes there; it reads directory.json like the modules.
 *
 * One run, then exit: openclaw-sync.timer starts it every minute and it
 * does what is due: the keys hourly, the directory every sync_interval
 * at this host's splay offset (incremental: a Graph delta query; a full
 * sync every full_sync_interval or with --force)
 * (the static cache when the config changed or the cache is missing or of
 * another format); openclaw-sync.path starts it when pam_openclaw meets an
 * unknown kid and creates jwks/refresh-requested (keys at most every
 * OC_JWKS_REFRESH_MIN seconds on request). --force does both now (the
 * admin's `openclawctl cache sync`). Runs are serialized by a lock in
 * trust_dir. It reads no input of local users: the root-owned config, the
 * [directory] credential and the tenant's answers.
 * Exit: 0 done (or nothing due), 1 a fetch or the sync failed (the last
 * good files stay), 2 usage, configuration, not root, or a directory that
 * is not root's.
 */
#include "config.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "clock.h"
#include "conf.h"
#include "directory.h"
#include "jwks.h"
#include "helper/creds/oc_fetch.h"
#include "helper/sync/oc_graph.h"
#include "helper/lib/oc_sweep.h"
#include "rootdir.h"
#include "util.h"

#define SYNC_DEADLINE      120  /* seconds for the whole run */
#define SYNC_KEYS_INTERVAL 3600 /* the keys are fetched again after this (seconds) */
#define SYNC_LOCK_FILE     ".lock"
#define SYNC_LOCK_WAIT     100 /* seconds to wait for a run in progress */
/* A run that finds this host's splay point this close ahead waits for it
 * rather than leave it to the next timer run, up to a minute later: the
 * timer's period (1 min, AccuracySec 5 s) plus a margin. */
#define SYNC_LOOKAHEAD 70

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

static void graph_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void graph_log(const char *fmt, ...)
{
    va_list ap;

    if (!quiet) {
        va_start(ap, fmt);
        fputs("openclaw-sync: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

/* Every change a sync makes to the directory: one record at LOG_AUTHPRIV,
 * pam_openclaw's and openclawd's format (common/audit.c). */
static void audit_record(const struct oc_audit *a)
{
    char line[OC_AUDIT_LINE_MAX];

    (void)oc_audit_format(a, line, sizeof(line));
    syslog(LOG_AUTHPRIV | (strcmp(a->result, "success") == 0 ? LOG_INFO : LOG_NOTICE), "%s", line);
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: openclaw-sync [--config FILE] [--force] [--quiet]\n"
            "Fetch the tenant's OIDC discovery document and signing keys (JWKS), as\n"
            "root, into jwks_dir, the directory pam_openclaw trusts.\n"
            "  --config FILE  configuration (default " OC_CONFIG_PATH ")\n"
            "  --force        fetch even when a requested refresh came within %ds, and\n"
            "                 sync the directory now, in full (not from the delta state)\n"
            "  --quiet        only warnings and errors\n",
            OC_JWKS_REFRESH_MIN);
}

/* Seconds since name in dirfd was modified, or -1 when it is missing. */
static int64_t age_of(int dirfd, const char *name)
{
    struct stat st;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return -1;
    }
    return oc_now() - (int64_t)st.st_mtime;
}

/*
 * Are the keys due? A request file (pam_openclaw's unknown kid) is taken
 * here: within OC_JWKS_REFRESH_MIN of the last fetch it is answered
 * without one (unless --force). Otherwise due when forced, missing, or
 * older than SYNC_KEYS_INTERVAL.
 */
static bool keys_due(int jfd, const char *dir, bool force)
{
    int64_t age = age_of(jfd, OC_JWKS_FILE);

    if (faccessat(jfd, OC_JWKS_REQUEST_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!force && age >= 0 && age < OC_JWKS_REFRESH_MIN) {
            (void)unlinkat(jfd, OC_JWKS_REQUEST_FILE, 0);
            logmsg(LOG_INFO,
                   "refresh requested, but %s/%s was fetched %llds ago: not again before "
                   "%ds (openclaw-sync --force fetches now)",
                   dir, OC_JWKS_FILE, (long long)age, OC_JWKS_REFRESH_MIN);
            return false;
        }
        /* Taken before the fetch: a request made meanwhile starts another run. */
        (void)unlinkat(jfd, OC_JWKS_REQUEST_FILE, 0);
        logmsg(LOG_INFO, "refresh requested (an unknown kid at pam_openclaw)");
        return true;
    }
    return force || age < 0 || age >= SYNC_KEYS_INTERVAL;
}

/* This host's latest splay point at or before now, in an interval of iv s. */
static int64_t splay_point(uint32_t iv, int64_t now)
{
    int64_t off = oc_graph_splay(iv);

    return now - (((now - off) % iv) + iv) % iv;
}

/* Is the directory (or, without [directory], the static NSS cache) due? */
static bool directory_due(const struct oc_config *cfg, const char *config_path, int tfd, bool force)
{
    struct stat cs, ns;

    if (force) {
        return true;
    }
    if (cfg->directory != NULL) {
        /* Due once per interval, at this host's own offset in it (the
         * splay), so that a fleet started together spreads its syncs:
         * when the last sync is older than the latest such point. */
        uint32_t iv = cfg->directory->sync_interval;
        int64_t now = oc_now(), age = age_of(tfd, OC_DIR_FILE_NAME);
        int64_t point = splay_point(iv, now);
        return age < 0 || now - age < point || age >= (int64_t)iv ||
               oc_graph_cache_other_format(cfg->global.nss_cache);
    }
    /* static agents: when the config changed, or the cache is missing or
     * of another format (an upgrade) */
    return stat(cfg->global.nss_cache, &ns) < 0 || stat(config_path, &cs) < 0 ||
           cs.st_mtim.tv_sec > ns.st_mtim.tv_sec ||
           (cs.st_mtim.tv_sec == ns.st_mtim.tv_sec && cs.st_mtim.tv_nsec >= ns.st_mtim.tv_nsec) ||
           oc_graph_cache_other_format(cfg->global.nss_cache);
}

/*
 * Seconds until this host's next splay point when the directory is not due
 * now but will be within SYNC_LOOKAHEAD; 0 otherwise. Waiting for it keeps
 * a sync at the splay point itself, not up to a timer period after it, so
 * a revocation is seen within sync_interval plus the run.
 */
static int64_t directory_wait(const struct oc_config *cfg, const char *config_path, int tfd)
{
    if (cfg->directory == NULL || directory_due(cfg, config_path, tfd, false)) {
        return 0;
    }
    uint32_t iv = cfg->directory->sync_interval;
    int64_t now = oc_now();
    int64_t next = splay_point(iv, now) + iv;
    return next - now <= SYNC_LOOKAHEAD ? next - now : 0;
}

/* Something asked for a run now: pam_openclaw's unknown kid or a lockout. */
static bool run_requested(int tfd, int jfd)
{
    struct dirent *e;
    bool any = false;
    DIR *d;
    int afd;

    if (faccessat(jfd, OC_JWKS_REQUEST_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        return true;
    }
    afd = openat(tfd, OC_ANOMALY_DIR_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (afd < 0 || (d = fdopendir(afd)) == NULL) {
        if (afd >= 0) {
            close(afd);
        }
        return false;
    }
    while (!any && (e = readdir(d)) != NULL) {
        any = e->d_name[0] != '.';
    }
    closedir(d);
    return any;
}

/* Sleep until the splay point (directory_wait), in steps of a second, and
 * stop early when a request arrives. */
static void wait_for_splay(const struct oc_config *cfg, const char *config_path, int tfd, int jfd)
{
    int64_t left = directory_wait(cfg, config_path, tfd);

    if (left <= 0 || run_requested(tfd, jfd)) {
        return;
    }
    logmsg(LOG_INFO,
           "the directory sync is due in %llds (this host's offset in sync_interval): "
           "waiting for it",
           (long long)left);
    /* bounded in count too: oc_now() may be a fixed test clock */
    int64_t end = oc_now() + left;
    for (int i = 0; i <= SYNC_LOOKAHEAD && oc_now() < end && !run_requested(tfd, jfd); i++) {
        struct timespec one = {.tv_sec = 1};
        (void)nanosleep(&one, NULL);
    }
}

/* The service principals pam_openclaw asked to disable (anomalies/NAME). */
struct anomaly {
    char name[OC_USER_NAME_MAX + 1];
    char oid[OC_GUID_SIZE];
};
#define SYNC_ANOMALIES_MAX OC_GRAPH_ANOMALY_QUEUE

/*
 * Read trust_dir/anomalies: each entry a lockout pam_openclaw reported
 * (on_anomaly = disable-service-principal). The agent's object id comes
 * from the config or root's directory.json; an entry that names no known
 * agent is removed with a line saying so. Returns how many are queued in
 * out (the rest wait for the next run).
 */
static size_t read_anomalies(const struct oc_config *cfg, int tfd, struct anomaly *out)
{
    char path[OC_CONFIG_PATH_MAX + 32];
    struct oc_dir *data = NULL;
    struct dirent *e;
    size_t n = 0;
    int afd;
    DIR *d;

    afd = openat(tfd, OC_ANOMALY_DIR_NAME, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (afd < 0 || (d = fdopendir(afd)) == NULL) {
        if (afd >= 0) {
            close(afd);
        }
        return 0;
    }
    (void)snprintf(path, sizeof(path), "%s/%s", cfg->global.trust_dir, OC_DIR_FILE_NAME);
    (void)oc_dir_load_file(path, cfg->global.uid_min, cfg->global.uid_max, &data, NULL);
    while (n < SYNC_ANOMALIES_MAX && (e = readdir(d)) != NULL) {
        const struct oc_agent *a;
        const struct oc_dir_agent *da;
        if (e->d_name[0] == '.') {
            continue;
        }
        if (!oc_valid_user_name(e->d_name) || strlen(e->d_name) > OC_USER_NAME_MAX) {
            (void)unlinkat(dirfd(d), e->d_name, 0);
            continue;
        }
        a = oc_config_agent_by_name(cfg, e->d_name);
        da = data != NULL ? oc_dir_by_name(data, e->d_name) : NULL;
        const char *oid = a != NULL && a->object_id[0] != '\0' ? a->object_id
                          : da != NULL                         ? da->object_id
                                                               : NULL;
        if (oid == NULL) {
            logmsg(LOG_WARNING,
                   "anomaly: no agent %s in the config or the directory: request "
                   "removed",
                   e->d_name);
            (void)unlinkat(dirfd(d), e->d_name, 0);
            continue;
        }
        (void)oc_strscpy(out[n].name, sizeof(out[n].name), e->d_name);
        (void)oc_strscpy(out[n].oid, sizeof(out[n].oid), oid);
        n++;
    }
    oc_dir_free(data);
    closedir(d);
    return n;
}

static void anomalies_done(int tfd, const struct anomaly *v, size_t n)
{
    int afd = openat(tfd, OC_ANOMALY_DIR_NAME, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    for (size_t i = 0; afd >= 0 && i < n; i++) {
        (void)unlinkat(afd, v[i].name, 0);
    }
    if (afd >= 0) {
        close(afd);
    }
}

/* The JWKS refresh of a run (its job's callback argument). */
struct keys_job {
    const char *jdir;
    bool busy;
    bool failed;
};

static void keys_done(void *arg, struct oc_fetch_result *res)
{
    struct keys_job *kj = arg;

    if (res->cancelled) {
        return;
    }
    kj->busy = false;
    if (res->result < 0) {
        logmsg(LOG_ERR, "JWKS refresh failed: %s; the last good %s/%s is kept", res->err.msg,
               kj->jdir, OC_JWKS_FILE);
        kj->failed = true;
    }
}

/*
 * One run of the fetch engine: the keys into jwks_dir when keys, the
 * directory sync (or the static rebuild) into trust_dir when dir. 0, or
 * -EIO when one of them failed (said on stderr; the last good files stay).
 */
static int run_engine(const struct oc_config *cfg, bool keys, bool dir, bool full,
                      const struct anomaly *anom, size_t n_anom)
{
    const char *jdir = cfg->global.jwks_dir;
    struct oc_fetch_ctx fetch;
    struct oc_fetch_error err;
    struct keys_job kj = {.jdir = jdir};
    struct oc_graph *g = NULL;
    int64_t deadline = oc_now() + SYNC_DEADLINE;
    bool failed = false;
    int r;

    memset(&err, 0, sizeof(err));
    r = oc_fetch_init(&fetch, cfg, NULL);
    if (r < 0) {
        logmsg(LOG_ERR, "cannot set up HTTPS: %s", strerror(-r));
        oc_fetch_done(&fetch);
        return -EIO;
    }
    if (keys) {
        r = oc_fetch_jwks_start(&fetch, jdir, keys_done, &kj, &err);
        if (r < 0) {
            logmsg(LOG_ERR, "JWKS refresh failed: %s", err.msg);
            failed = true;
        } else {
            kj.busy = true;
        }
    }
    bool sync_due = dir;
    if (dir || n_anom > 0) {
        r = oc_graph_new(cfg, &fetch, cfg->global.trust_dir, graph_log, audit_record, &g);
        if (r < 0) {
            logmsg(LOG_ERR, "directory sync not started: %s", strerror(-r));
            failed = true;
            sync_due = false;
        } else {
            oc_graph_set_full(g, full);
            oc_graph_set_deadline(g, SYNC_DEADLINE - 5);
        }
    }
    /* the anomaly responses first, then the sync that sees them */
    for (size_t i = 0; g != NULL && i < n_anom; i++) {
        r = oc_graph_disable_sp(g, anom[i].name, anom[i].oid);
        if (r < 0) {
            logmsg(LOG_ERR, "anomaly: the service principal of %s is not disabled: %s",
                   anom[i].name,
                   r == -ENOTSUP ? "no [directory] section (its credential disables it)"
                                 : strerror(-r));
        }
    }
    while (kj.busy ||
           (g != NULL && (oc_graph_anomaly_busy(g) || oc_graph_running(g) || sync_due))) {
        if (sync_due && !oc_graph_anomaly_busy(g)) {
            sync_due = false;
            if (oc_graph_start(g) < 0 && !oc_graph_running(g)) {
                failed = true;
            }
            continue;
        }
        if (oc_now() > deadline) {
            logmsg(LOG_ERR, "%s did not finish within %ds; the last good files are kept",
                   kj.busy ? "the JWKS refresh" : "the directory sync", SYNC_DEADLINE);
            failed = true;
            break;
        }
        if (oc_fetch_wait(&fetch, NULL, 0, 200) < 0) {
            failed = true;
            break;
        }
        if (g != NULL) {
            oc_graph_tick(g); /* retries after Retry-After, the budget refilled */
        }
        oc_fetch_dispatch(&fetch); /* keys_done, the sync's own callbacks */
    }
    failed = failed || kj.failed;
    if (g != NULL && dir) {
        const char *e = oc_graph_running(g) ? "did not finish" : oc_graph_last_error(g);
        if (e != NULL) {
            logmsg(LOG_ERR, "directory sync failed: %s; the last good files are kept", e);
            failed = true;
        }
    }
    oc_graph_free(g);
    oc_fetch_done(&fetch);
    return failed ? -EIO : 0;
}

/* Read back what pam_openclaw will read, the way it reads it. */
static int keys_read_back(int jfd, const char *dir)
{
    struct oc_jwks *jwks = NULL;
    const char *why = NULL;
    int fd = -1, r;

    r = oc_rootfile_open(jfd, OC_JWKS_FILE, O_RDONLY, geteuid(), false, &fd, NULL);
    if (r == 0) {
        r = oc_jwks_load_fd(fd, &jwks, &why);
        close(fd);
    }
    if (r < 0) {
        logmsg(LOG_ERR, "%s/%s written, but pam_openclaw would refuse it: %s", dir, OC_JWKS_FILE,
               why != NULL ? why : strerror(-r));
        return r;
    }
    logmsg(LOG_INFO, "JWKS written to %s/%s (%zu keys)", dir, OC_JWKS_FILE, jwks->n_keys);
    oc_jwks_free(jwks);
    return 0;
}

/* One run at a time: an exclusive lock on trust_dir/.lock, waited for. */
static int take_lock(int tfd, const char *dir)
{
    int fd = -1, r;

    r = oc_rootfile_open(tfd, SYNC_LOCK_FILE, O_RDWR | O_CREAT, geteuid(), true, &fd, NULL);
    if (r < 0) {
        logmsg(LOG_ERR, "cannot open %s/%s: %s", dir, SYNC_LOCK_FILE, strerror(-r));
        return r;
    }
    for (int i = 0; i < SYNC_LOCK_WAIT * 10; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            return fd;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) {
            break;
        }
        (void)nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    logmsg(LOG_ERR, "another openclaw-sync holds %s/%s: try again later", dir, SYNC_LOCK_FILE);
    close(fd);
    return -EBUSY;
}

static int open_root_dir(const char *key, const char *dir, int *ret_fd)
{
    size_t bad = 0;
    int r = oc_rootdir_open(dir, geteuid(), 022, 0755, ret_fd, &bad);

    if (r < 0) {
        logmsg(LOG_ERR,
               "cannot use %s %s: %.*s: %s (it must be a directory of root's that group and "
               "others cannot write, every directory above it root's and no symlink: "
               "install -d -m 0755 -o root -g root %s; openclawctl check-config)",
               key, dir, (int)bad, dir, strerror(-r), dir);
    }
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
    char errbuf[1024];
    bool force = false, keys, dir;
    int opt, tfd = -1, jfd = -1, lfd = -1, r, rc = 2;

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
        logmsg(LOG_ERR, "writes what root trusts, so it runs as root only (systemctl start "
                        "openclaw-sync)");
        return 2;
    }
    umask(022);
    openlog("openclaw-sync", LOG_PID, LOG_AUTHPRIV);
    memset(&cerr, 0, sizeof(cerr));
    r = oc_config_load(config_path, 0, &cfg, &cerr);
    if (r < 0) {
        if (oc_config_error_format(&cerr, errbuf, sizeof(errbuf)) < 0 || errbuf[0] == '\0') {
            snprintf(errbuf, sizeof(errbuf), "%s: %s", config_path, strerror(-r));
        }
        logmsg(LOG_ERR, "%s", errbuf);
        return 2;
    }
    if (open_root_dir("trust_dir", cfg->global.trust_dir, &tfd) < 0 ||
        open_root_dir("jwks_dir", cfg->global.jwks_dir, &jfd) < 0) {
        goto out;
    }
    if (!force) {
        wait_for_splay(cfg, config_path, tfd, jfd);
    }
    lfd = take_lock(tfd, cfg->global.trust_dir);
    if (lfd < 0) {
        rc = 1;
        goto out;
    }
    {
        /* files a killed predecessor was writing (never those readers use) */
        static const char *const jwks_names[] = {OC_JWKS_FILE, "openid-configuration.json"};
        static const char *const trust_names[] = {OC_DIR_FILE_NAME, OC_GRAPH_NAMES_FILE,
                                                  "nss.cache", OC_GRAPH_STATE_FILE,
                                                  OC_GRAPH_BUDGET_FILE};
        size_t swept = oc_sweep_temp(cfg->global.jwks_dir, jwks_names, 2) +
                       oc_sweep_temp(cfg->global.trust_dir, trust_names, 5);
        if (swept > 0) {
            logmsg(LOG_INFO, "removed %zu temporary file(s) left by an earlier run", swept);
        }
    }
    struct anomaly anom[SYNC_ANOMALIES_MAX];
    size_t n_anom = read_anomalies(cfg, tfd, anom);
    keys = keys_due(jfd, cfg->global.jwks_dir, force);
    /* an anomaly response is followed by the sync that takes the agent out */
    dir = n_anom > 0 || directory_due(cfg, config_path, tfd, force);
    rc = 0;
    if (!keys && !dir) {
        goto out;
    }
    if (run_engine(cfg, keys, dir, force, anom, n_anom) < 0) {
        rc = 1;
    }
    anomalies_done(tfd, anom, n_anom);
    if (keys && keys_read_back(jfd, cfg->global.jwks_dir) < 0) {
        rc = 1;
    }
out:
    if (lfd >= 0) {
        close(lfd);
    }
    if (jfd >= 0) {
        close(jfd);
    }
    if (tfd >= 0) {
        close(tfd);
    }
    oc_config_free(cfg);
    return rc;
}
