/* SPDX-License-Identifier: MIT */
/*
 * pam_openclaw: log Entra ID agents in with their access token and gate
 * them by app role, source network, time window and failure history.
 *
 *   auth     the token (PAM_AUTHTOK or the chunked conversation of
 *            docs/pam.md) verified offline with the JWKS cache file, the
 *            token's agent mapped to this PAM_USER, the service's role
 *   account  agent enabled, not locked out, network, time, role
 *   session  audit open/close, tell openclawd (session-open/close), the
 *            session's environment (OPENCLAW_SOCKET at least)
 *   password refused for agents (credentials rotate in Entra)
 *
 * Users that are not agents get PAM_IGNORE everywhere, whatever is broken
 * on openclaw's side: root and the users of /etc/passwd are never agents
 * (pam_openclaw/whois.h); agents are refused when the module cannot decide
 * for them (fail safe for humans, fail closed for agents). Every
 * decision is one key=value audit line (common/audit.h) at LOG_AUTHPRIV.
 * The token is never logged and every copy the module owns is wiped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#define PAM_SM_PASSWORD
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "audit.h"
#include "clock.h"
#include "conf.h"
#include "directory.h"
#include "entra.h"
#include "hostpolicy.h"
#include "json.h"
#include "jwks.h"
#include "jwt.h"
#include "pamargs.h"
#include "rootdir.h"
#include "helperclient.h"
#include "pam_openclaw/prompt.h"
#include "pam_openclaw/replay.h"
#include "pam_openclaw/whois.h"
#include "tally.h"
#include "util.h"

/* Key of the auth result for the account and session phases. */
#define OC_DATA_AUTH "openclaw_auth"
/* Failure delay requested from libpam (microseconds), as pam_unix does. */
#define OC_FAIL_DELAY_US 2000000u
/* Failure delay for a source throttled after too much unsigned input. */
#define OC_SOURCE_DELAY_US 10000000u
/* Longest a source stays throttled (seconds), whatever unlock_time says. */
#define OC_SOURCE_HOLD_MAX 900u
/* The source of a request without PAM_RHOST (su, sudo, a local login). */
#define OC_SOURCE_LOCAL "(local)"
/* Roles accepted in a require_role= argument; longest argument (pamargs.h). */
#define OC_ARG_ROLES_MAX OC_PAM_ARG_ROLES_MAX
#define OC_ARG_MAX       OC_PAM_ARG_LEN_MAX
/* mode=helper: default age limit of the daemon's token and default wait for
 * its answer (seconds); the bounds are in pamargs.h. */
#define OC_HELPER_MAX_AGE_DEFAULT 300
#define OC_HELPER_TIMEOUT_DEFAULT 5
_Static_assert(OC_PAM_ARG_PROMPT_MAX == OC_PROMPT_BASE_MAX, "prompt= bound of pamargs.h");

struct opts {
    const char *config;
    bool debug;
    bool use_first_pass;
    bool try_first_pass;
    bool nodelay;
    bool mode_helper;
    uint32_t helper_max_age; /* seconds; 0: always a fresh token */
    uint32_t helper_timeout; /* seconds */
    const char *prompt;
    bool has_require_role;
    struct oc_strlist require_role;
    char *role_items[OC_ARG_ROLES_MAX];
    char role_buf[OC_ARG_MAX];
};

/* What auth hands to account and session (pam_set_data). */
struct auth_result {
    char user[OC_USER_NAME_MAX + 1];
    char service[OC_CONFIG_SERVICE_NAME_MAX + 1];
    char app_id[OC_GUID_SIZE];
    char oid[OC_GUID_SIZE];
    char uti[OC_REPLAY_ID_MAX];
    uint32_t uid;
    size_t n_roles;
    char *roles[OC_ROLES_MAX];
};

/* ------------------------------------------------------------------ */
/* Cached config and key set: parsed once, re-read when the file changes. */

struct cached {
    void *obj;
    void (*free_fn)(void *);
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    unsigned flags;
    char *path;
    unsigned refs;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached *cache_config;
static struct cached *cache_jwks;
static struct cached *cache_dir;

static void cached_free(struct cached *c)
{
    if (c == NULL) {
        return;
    }
    c->free_fn(c->obj);
    free(c->path);
    free(c);
}

/* A new entry for obj, parsed from the file st describes (path: its key);
 * NULL (obj freed) when out of memory. Two references: the slot's and the
 * caller's. */
static struct cached *cached_new(const char *path, void *obj, void (*free_fn)(void *),
                                 const struct stat *st, unsigned flags)
{
    struct cached *c = calloc(1, sizeof(*c));

    if (c == NULL || (c->path = strdup(path)) == NULL) {
        free(c);
        free_fn(obj);
        return NULL;
    }
    c->obj = obj;
    c->free_fn = free_fn;
    c->dev = st->st_dev;
    c->ino = st->st_ino;
    c->size = st->st_size;
    c->mtime = st->st_mtim;
    c->flags = flags;
    c->refs = 2;
    return c;
}

/* c replaces the slot's entry (under cache_lock). */
static void cached_install(struct cached **slot, struct cached *c)
{
    if (*slot != NULL && --(*slot)->refs == 0) {
        cached_free(*slot);
    }
    *slot = c;
}

static bool same_file(const struct cached *c, const char *path, const struct stat *st,
                      unsigned flags)
{
    return c != NULL && strcmp(c->path, path) == 0 && c->dev == st->st_dev &&
           c->ino == st->st_ino && c->size == st->st_size &&
           c->mtime.tv_sec == st->st_mtim.tv_sec && c->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           c->flags == flags;
}

static void free_config_obj(void *p)
{
    oc_config_free(p);
}

static void free_jwks_obj(void *p)
{
    oc_jwks_free(p);
}

typedef int (*loader_fn)(const char *path, unsigned flags, void **ret_obj, char *err,
                         size_t errlen);

static int load_config_obj(const char *path, unsigned flags, void **ret_obj, char *err,
                           size_t errlen)
{
    struct oc_config *cfg = NULL;
    struct oc_config_error e;
    int r;

    memset(&e, 0, sizeof(e));
    r = oc_config_load(path, flags, &cfg, &e);
    if (r < 0) {
        if (oc_config_error_format(&e, err, errlen) < 0 || err[0] == '\0') {
            (void)snprintf(err, errlen, "%s: %s", path, strerror(-r));
        }
        return r;
    }
    *ret_obj = cfg;
    return 0;
}

static int cache_get(struct cached **slot, const char *path, unsigned flags, bool nofollow,
                     loader_fn load, void (*free_fn)(void *), struct cached **ret, char *err,
                     size_t errlen)
{
    struct stat st;
    struct cached *c;
    void *obj = NULL;
    int r;

    pthread_mutex_lock(&cache_lock);
    if ((nofollow ? lstat(path, &st) : stat(path, &st)) < 0) {
        r = -errno;
        (void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (same_file(*slot, path, &st, flags)) {
        (*slot)->refs++;
        *ret = *slot;
        r = 0;
        goto out;
    }
    r = load(path, flags, &obj, err, errlen);
    if (r < 0) {
        goto out;
    }
    c = cached_new(path, obj, free_fn, &st, flags);
    if (c == NULL) {
        r = -ENOMEM;
        (void)snprintf(err, errlen, "out of memory");
        goto out;
    }
    cached_install(slot, c);
    *ret = c;
    r = 0;
out:
    pthread_mutex_unlock(&cache_lock);
    return r;
}

static void cache_put(struct cached *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&cache_lock);
    if (--c->refs == 0) {
        cached_free(c);
    }
    pthread_mutex_unlock(&cache_lock);
}

__attribute__((destructor)) static void cache_drop_all(void)
{
    pthread_mutex_lock(&cache_lock);
    if (cache_config != NULL && --cache_config->refs == 0) {
        cached_free(cache_config);
    }
    if (cache_jwks != NULL && --cache_jwks->refs == 0) {
        cached_free(cache_jwks);
    }
    if (cache_dir != NULL && --cache_dir->refs == 0) {
        cached_free(cache_dir);
    }
    cache_config = NULL;
    cache_jwks = NULL;
    cache_dir = NULL;
    pthread_mutex_unlock(&cache_lock);
}

/* ------------------------------------------------------------------ */
/* Arguments */

static int parse_roles(struct opts *o, const char *text)
{
    struct oc_list_iter it = OC_LIST_ITER_INIT(text);
    const char *item;
    size_t len, used = 0;
    int r;

    o->require_role.items = o->role_items;
    o->require_role.n = 0;
    while ((r = oc_list_next(&it, &item, &len)) > 0) {
        if (o->require_role.n >= OC_ARG_ROLES_MAX || used + len + 1 > sizeof(o->role_buf)) {
            return -E2BIG;
        }
        memcpy(o->role_buf + used, item, len);
        o->role_buf[used + len] = '\0';
        o->role_items[o->require_role.n++] = o->role_buf + used;
        used += len + 1;
    }
    if (r < 0 || o->require_role.n == 0) {
        return -EINVAL;
    }
    o->has_require_role = true;
    return 0;
}

static int parse_args(pam_handle_t *pamh, int argc, const char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->config = OC_CONFIG_PATH;
    o->prompt = OC_PROMPT_DEFAULT;
    o->helper_max_age = OC_HELPER_MAX_AGE_DEFAULT;
    o->helper_timeout = OC_HELPER_TIMEOUT_DEFAULT;
    for (int i = 0; i < argc; i++) {
        const struct oc_pam_arg *d = NULL;
        const char *v = NULL;
        uint32_t n = 0;
        char why[512];
        /* the table is shared with openclawctl check-config (common/pamargs.c) */
        int r = oc_pam_arg_parse(argv[i], &d, &v, &n, why, sizeof(why));
        if (r == 0 && d->id == OC_PAM_ARG_REQUIRE_ROLE && parse_roles(o, v) < 0) {
            r = -EINVAL;
            (void)snprintf(why, sizeof(why), "too many roles");
        }
        if (r < 0) {
            pam_syslog(pamh, LOG_ERR, "bad argument %d '%.64s%s': %s", i,
                       argv[i] != NULL ? argv[i] : "", r == -E2BIG ? "..." : "", why);
            return PAM_SERVICE_ERR;
        }
        switch (d->id) {
        case OC_PAM_ARG_CONFIG:
            o->config = v;
            break;
        case OC_PAM_ARG_DEBUG:
            o->debug = true;
            break;
        case OC_PAM_ARG_USE_FIRST_PASS:
            o->use_first_pass = true;
            break;
        case OC_PAM_ARG_TRY_FIRST_PASS:
            o->try_first_pass = true;
            break;
        case OC_PAM_ARG_NODELAY:
            o->nodelay = true;
            break;
        case OC_PAM_ARG_MODE_HELPER:
        case OC_PAM_ARG_MODE_TOKEN:
            o->mode_helper = d->id == OC_PAM_ARG_MODE_HELPER;
            break;
        case OC_PAM_ARG_HELPER_MAX_AGE:
            o->helper_max_age = n;
            break;
        case OC_PAM_ARG_HELPER_TIMEOUT:
            o->helper_timeout = n;
            break;
        case OC_PAM_ARG_PROMPT:
            o->prompt = v;
            break;
        case OC_PAM_ARG_REQUIRE_ROLE:
            break; /* parsed above */
        }
    }
    if (o->use_first_pass && o->try_first_pass) {
        pam_syslog(pamh, LOG_ERR, "use_first_pass and try_first_pass exclude each other");
        return PAM_SERVICE_ERR;
    }
    return PAM_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* Audit */

struct ctx {
    pam_handle_t *pamh;
    struct opts o;
    const char *phase; /* auth account session password */
    const char *user;
    const char *service;
    const char *rhost;
    struct cached *cfg_ref;
    const struct oc_config *cfg;
    const struct oc_agent *agent;
    uint32_t tally_records; /* failures on file when check_lock() ran */
    /* The failure tally's directory, opened and checked once per call
     * (tally_dir()) and used through openat() until ctx_done(): a rename
     * or symlink while the conversation waits changes nothing. */
    int tally_fd;
    int tally_err;
    /* [directory]: directory.json (openclawd's sync), this user's entry in
     * it, and for a synced (non-static) agent the agent made from it. */
    struct cached *dir_ref;
    const struct oc_dir_agent *dir_entry;
    struct oc_agent synced;
    bool is_synced;
    int in_passwd; /* oc_who_in_passwd_file() for the user */
};

static void audit(struct ctx *c, const char *event, const char *result, const char *reason,
                  const char *app_id, const char *oid, const char *uti, const char *detail)
{
    struct oc_audit a = {
            .event = event,
            .service = c->service,
            .user = c->user,
            .agent_app_id = app_id != NULL ? app_id : (c->agent != NULL ? c->agent->app_id : NULL),
            .agent_oid = oid != NULL ? oid : (c->agent != NULL ? c->agent->object_id : NULL),
            .token_uti = uti,
            .rhost = c->rhost,
            .result = result,
            .reason = reason,
            .detail = detail,
    };
    char line[OC_AUDIT_LINE_MAX];
    int prio = strcmp(result, "success") == 0 ? LOG_INFO : LOG_NOTICE;

    if (strcmp(event, "anomaly") == 0) {
        prio = LOG_WARNING;
    }
    (void)oc_audit_format(&a, line, sizeof(line));
    pam_syslog(c->pamh, prio, "%s", line);
#ifdef OC_TEST_HOOKS
    {
        /* Test builds only: a copy of each audit line for the test suites. */
        const char *f = secure_getenv("OPENCLAW_TEST_AUDIT_FILE");
        if (f != NULL && f[0] == '/') {
            FILE *fp = fopen(f, "ae");
            if (fp != NULL) {
                fprintf(fp, "%s\n", line);
                fclose(fp);
            }
        }
    }
#endif
}

__attribute__((format(printf, 2, 3))) static void debug(struct ctx *c, const char *fmt, ...)
{
    va_list ap;

    if (!c->o.debug) {
        return;
    }
    va_start(ap, fmt);
    pam_vsyslog(c->pamh, LOG_DEBUG, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Common start of every phase: arguments, user, config, agent or not. */

static void ctx_done(struct ctx *c)
{
    if (c->tally_fd >= 0) {
        close(c->tally_fd);
        c->tally_fd = -1;
    }
    cache_put(c->dir_ref);
    c->dir_ref = NULL;
    c->dir_entry = NULL;
    cache_put(c->cfg_ref);
    c->cfg_ref = NULL;
    c->cfg = NULL;
}

static unsigned config_flags(void)
{
#ifdef OC_TEST_HOOKS
    /* Test builds only: tests that do not run as root own their config. */
    if (secure_getenv("OPENCLAW_TEST_INSECURE_CONFIG") != NULL) {
        return OC_CONFIG_INSECURE_OK;
    }
#endif
    return 0;
}

static void free_dir_obj(void *p)
{
    oc_dir_free(p);
}

/*
 * The directories that a full walk (rootdir.h: every ancestor checked) last
 * accepted in this process, by path and identity: a later call skips the
 * walk only when opening the path gives that very directory again
 * (oc_rootdir_open_seen). Under cache_lock.
 */
static struct oc_rootdir_seen tally_seen, jwks_seen, trust_seen;

/* A parser of a file of root's, from its open descriptor. */
typedef int (*fd_loader_fn)(const struct ctx *c, int fd, void **ret_obj, const char **ret_why);

static int load_keys_fd(const struct ctx *c, int fd, void **ret_obj, const char **ret_why)
{
    (void)c;
    return oc_jwks_load_fd(fd, (struct oc_jwks **)ret_obj, ret_why);
}

static int load_dir_fd(const struct ctx *c, int fd, void **ret_obj, const char **ret_why)
{
    (void)c;
    /* Any non-zero uid here; the config's uid range is applied on lookup. */
    return oc_dir_load_fd(fd, OC_UID_MIN_FLOOR, UINT32_MAX - 1, (struct oc_dir **)ret_obj, ret_why);
}

/*
 * name in dir, a directory of root's that no other account may write
 * (rootdir.h; openclaw-sync writes it as root), opened relative to the
 * checked directory and parsed once while the file stays the same (slot).
 * key names the config key of dir in messages. *ret_dirfd (may be NULL):
 * the checked directory, which the caller closes.
 */
static int trusted_get(const char *key, const char *dir, const char *name,
                       struct oc_rootdir_seen *seen, struct cached **slot, const struct ctx *c,
                       fd_loader_fn load, void (*free_fn)(void *), struct cached **ret,
                       int *ret_dirfd, char *err, size_t errlen)
{
    char path[OC_CONFIG_PATH_MAX + 64];
    const char *why = NULL;
    struct cached *k = NULL;
    void *obj = NULL;
    struct stat st;
    size_t bad = 0;
    int dfd = -1, fd = -1, r;

    /* The same file as parsed before (same device, inode, size and mtime,
     * still root's and writable by root alone): its content was read
     * through the checked directory then, and only root can have changed
     * the path since. One lstat, as before the trust checks. */
    if (ret_dirfd == NULL && snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path) &&
        lstat(path, &st) == 0 && oc_rootfile_stat_ok(&st, geteuid())) {
        pthread_mutex_lock(&cache_lock);
        if (same_file(*slot, dir, &st, 0)) {
            (*slot)->refs++;
            k = *slot;
        }
        pthread_mutex_unlock(&cache_lock);
        if (k != NULL) {
            *ret = k;
            return 0;
        }
    }
    pthread_mutex_lock(&cache_lock);
    r = oc_rootdir_open_seen(seen, dir, geteuid(), 022, 0, &dfd, &bad);
    pthread_mutex_unlock(&cache_lock);
    if (r < 0) {
        (void)snprintf(err, errlen,
                       "%s: %.*s: %s (%s must be a directory of root's that group and others "
                       "cannot write, every directory above it root's, no symlinks: run "
                       "openclawctl check-config)",
                       dir, (int)bad, dir, strerror(-r), key);
        return r;
    }
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        r = -errno;
        (void)snprintf(err, errlen, "%s/%s: %s", dir, name, strerror(-r));
        goto out;
    }
    pthread_mutex_lock(&cache_lock);
    if (oc_rootfile_stat_ok(&st, geteuid()) && same_file(*slot, dir, &st, 0)) {
        (*slot)->refs++;
        k = *slot;
    }
    pthread_mutex_unlock(&cache_lock);
    if (k != NULL) {
        *ret = k;
        goto out;
    }
    r = oc_rootfile_open(dfd, name, O_RDONLY, geteuid(), false, &fd, &st);
    if (r < 0) {
        (void)snprintf(err, errlen, "%s/%s: %s", dir, name,
                       r == -EPERM    ? "not root's, or writable by group or others: only "
                                        "openclaw-sync (root) may write it"
                       : r == -ELOOP  ? "a symlink: refused"
                       : r == -EINVAL ? "not a regular file"
                                      : strerror(-r));
        goto out;
    }
    r = load(c, fd, &obj, &why);
    if (r < 0) {
        (void)snprintf(err, errlen, "%s/%s: %s", dir, name, why != NULL ? why : strerror(-r));
        goto out;
    }
    k = cached_new(dir, obj, free_fn, &st, 0);
    if (k == NULL) {
        r = -ENOMEM;
        (void)snprintf(err, errlen, "out of memory");
        goto out;
    }
    pthread_mutex_lock(&cache_lock);
    cached_install(slot, k);
    pthread_mutex_unlock(&cache_lock);
    *ret = k;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (r == 0 && ret_dirfd != NULL) {
        *ret_dirfd = dfd;
    } else {
        close(dfd);
    }
    return r;
}

/*
 * With [directory]: find the user in directory.json. A static agent keeps
 * its config identity and gets its Entra state (enabled, roles) from the
 * entry with the same name and app_id. Any other user is an agent only if
 * the entry's uid is inside uid_min..uid_max and getpwnam(user) resolves
 * to exactly that uid (never a human, never another agent). Without the
 * file, a user whose uid lies in the agent range is refused, not ignored.
 */
static int dir_init(struct ctx *c)
{
    const struct oc_global *g = &c->cfg->global;
    const struct oc_dir_agent *e = NULL;
    char path[OC_CONFIG_PATH_MAX + 32], err[OC_CONFIG_PATH_MAX + 200];
    struct passwd pwbuf, *pw = NULL;
    char pwmem[4096];
    int r;

    (void)snprintf(path, sizeof(path), "%s/%s", g->trust_dir, OC_DIR_FILE_NAME);
    r = trusted_get("trust_dir", g->trust_dir, OC_DIR_FILE_NAME, &trust_seen, &cache_dir, c,
                    load_dir_fd, free_dir_obj, &c->dir_ref, NULL, err, sizeof(err));
    if (r == 0) {
        e = oc_dir_by_name(c->dir_ref->obj, c->user);
        if (e != NULL && (e->uid < g->uid_min || e->uid > g->uid_max)) {
            pam_syslog(c->pamh, LOG_ERR,
                       "%s: the uid of %s is outside uid_min..uid_max of the config: ignored", path,
                       c->user);
            e = NULL;
        }
    }
    if (c->agent != NULL) {
        /* A static agent: the entry counts only for the same application. */
        if (e != NULL && oc_guid_equal(e->app_id, c->agent->app_id)) {
            c->dir_entry = e;
        }
        return PAM_SUCCESS;
    }
    /* Reentrant: sshd and sudo may call PAM from more than one thread. */
    if (getpwnam_r(c->user, &pwbuf, pwmem, sizeof(pwmem), &pw) != 0) {
        pw = NULL;
    }
    if (r < 0) {
        if (pw != NULL && pw->pw_uid >= g->uid_min && pw->pw_uid <= g->uid_max) {
            pam_syslog(c->pamh, LOG_ERR,
                       "user %s has an agent uid but the directory data is unusable (%s): "
                       "refused; check that openclaw-sync runs (openclawctl status)",
                       c->user, err);
            audit(c, c->phase, "error", "directory", NULL, NULL, NULL, err);
            return r == -ENOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
        }
        debug(c, "user %s is not a configured agent and there is no directory data: ignored",
              c->user);
        return PAM_IGNORE;
    }
    if (e == NULL) {
        if (pw != NULL && pw->pw_uid >= g->uid_min && pw->pw_uid <= g->uid_max) {
            /* An agent the last sync no longer lists (role removed, deleted). */
            audit(c, c->phase, "failure", "agent", NULL, NULL, NULL,
                  "an agent uid, but not in the directory data (no role on this host)");
            return PAM_AUTHINFO_UNAVAIL;
        }
        debug(c, "user %s is not an agent: ignored", c->user);
        return PAM_IGNORE;
    }
    if (pw == NULL || pw->pw_uid != e->uid) {
        /* The name resolves to a local user or to nothing: never this agent. */
        pam_syslog(c->pamh, LOG_ERR,
                   "user %s: directory.json names agent uid %u but the user resolves to %s: "
                   "refused",
                   c->user, e->uid, pw == NULL ? "no user" : "another uid");
        audit(c, c->phase, "failure", "user", e->app_id, e->object_id, NULL,
              "the name does not resolve to the agent's uid");
        return PAM_AUTHINFO_UNAVAIL;
    }
    memset(&c->synced, 0, sizeof(c->synced));
    c->synced.name = (char *)e->name;
    oc_strscpy(c->synced.app_id, sizeof(c->synced.app_id), e->app_id);
    oc_strscpy(c->synced.object_id, sizeof(c->synced.object_id), e->object_id);
    c->synced.has_uid = true;
    c->synced.uid = e->uid;
    c->synced.enabled = e->enabled;
    c->synced.display_name = e->display_name;
    c->agent = &c->synced;
    c->dir_entry = e;
    c->is_synced = true;
    return PAM_SUCCESS;
}

/*
 * The config is missing or unusable: decide "agent or not" without it
 * (pam_openclaw/whois.h), with the compiled-in agent uid range. Any other
 * user is ignored, as if openclaw were not installed; an agent is refused
 * with a line that says what to fix. Returns the code for the phase.
 */
static int config_unusable(struct ctx *c, int r, const char *err)
{
    struct passwd pwbuf, *pw = NULL;
    char pwmem[4096];
    enum oc_who who;

    /* Reentrant: sshd and sudo may call PAM from more than one thread. */
    if (getpwnam_r(c->user, &pwbuf, pwmem, sizeof(pwmem), &pw) != 0) {
        pw = NULL;
    }
    who = oc_who_classify(c->user, c->in_passwd, pw != NULL, pw != NULL ? pw->pw_uid : 0,
                          OC_DEFAULT_UID_MIN, OC_DEFAULT_UID_MAX);
    if (r == -ENOENT && who != OC_WHO_AGENT_UID) {
        /* Not configured on this host: nobody is an agent here. */
        debug(c, "%s does not exist: user %s is ignored", c->o.config, c->user);
        return PAM_IGNORE;
    }
    if (who != OC_WHO_AGENT_UID) {
        pam_syslog(c->pamh, LOG_ERR,
                   "cannot use the configuration: %s; user %s is not an agent (%s): "
                   "ignored; agents are refused until the file is fixed: run openclawctl "
                   "check-config",
                   err, c->user, oc_who_name(who));
        return PAM_IGNORE;
    }
    pam_syslog(c->pamh, LOG_ERR,
               "cannot use the configuration: %s; user %s has an agent uid (%u, in %u..%u): "
               "refused until the file is fixed: run openclawctl check-config",
               err, c->user, (unsigned)pw->pw_uid, OC_DEFAULT_UID_MIN, OC_DEFAULT_UID_MAX);
    audit(c, c->phase, "error", "config", NULL, NULL, NULL, err);
    return r == -ENOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
}

/* PAM_SUCCESS when the user is a configured agent (c->agent set), else the code to return. */
static int ctx_init(struct ctx *c, pam_handle_t *pamh, const char *phase, int argc,
                    const char **argv)
{
    const void *item = NULL;
    const char *user = NULL;
    char err[OC_CONFIG_PATH_MAX + 600];
    int r;

    memset(c, 0, sizeof(*c));
    c->tally_fd = -1;
    c->pamh = pamh;
    c->phase = phase;
    r = parse_args(pamh, argc, argv, &c->o);
    if (r != PAM_SUCCESS) {
        return r;
    }
    if (pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS && item != NULL) {
        c->service = item;
    }
    item = NULL;
    if (pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS && item != NULL) {
        c->rhost = item;
    }
    r = pam_get_user(pamh, &user, NULL);
    if (r != PAM_SUCCESS || user == NULL || user[0] == '\0') {
        debug(c, "no user name (%s): ignored", pam_strerror(pamh, r));
        return PAM_IGNORE;
    }
    c->user = user;
    if (c->service == NULL) {
        pam_syslog(pamh, LOG_ERR, "the application set no PAM service name");
        return PAM_SERVICE_ERR;
    }
    /* Root and every user of /etc/passwd are never agents, whatever the
     * config, the caches or the daemon say (docs/pam.md). */
    r = oc_who_in_passwd_file(OC_PASSWD_FILE, user);
    if (r < 0 && r != -EINVAL) {
        pam_syslog(pamh, LOG_WARNING, "cannot read %s (%s): the agent uid range alone decides",
                   OC_PASSWD_FILE, strerror(-r));
    }
    c->in_passwd = r;
    if (oc_who_classify(user, r, false, 0, 0, 0) == OC_WHO_LOCAL) {
        debug(c, "user %s is a local user (root or in %s): never an agent, ignored", user,
              OC_PASSWD_FILE);
        return PAM_IGNORE;
    }
    r = cache_get(&cache_config, c->o.config, config_flags(), true, load_config_obj,
                  free_config_obj, &c->cfg_ref, err, sizeof(err));
    if (r < 0) {
        return config_unusable(c, r, err);
    }
    c->cfg = c->cfg_ref->obj;
    c->agent = oc_config_agent_by_name(c->cfg, user);
    if (c->cfg->directory != NULL) {
        return dir_init(c); /* static and synced agents, see docs/directory.md */
    }
    if (c->agent == NULL) {
        debug(c, "user %s is not a configured agent: ignored", user);
        return PAM_IGNORE;
    }
    return PAM_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* auth */

static void auth_result_free(pam_handle_t *pamh, void *data, int error_status)
{
    struct auth_result *a = data;

    (void)pamh;
    (void)error_status;
    if (a == NULL) {
        return;
    }
    for (size_t i = 0; i < a->n_roles; i++) {
        free(a->roles[i]);
    }
    oc_wipe(a, sizeof(*a));
    free(a);
}

static int save_result(struct ctx *c, const struct oc_verify_result *res, uint32_t uid)
{
    struct auth_result *a = calloc(1, sizeof(*a));

    if (a == NULL) {
        return PAM_BUF_ERR;
    }
    (void)oc_strscpy(a->user, sizeof(a->user), c->user);
    (void)oc_strscpy(a->service, sizeof(a->service), c->service);
    (void)oc_strscpy(a->app_id, sizeof(a->app_id), res->appid);
    (void)oc_strscpy(a->oid, sizeof(a->oid), res->oid);
    if (res->log_id != NULL) {
        (void)oc_strscpy(a->uti, sizeof(a->uti), res->log_id);
    }
    a->uid = uid;
    for (size_t i = 0; i < res->n_roles && i < OC_ROLES_MAX; i++) {
        a->roles[i] = strdup(res->roles[i]);
        if (a->roles[i] == NULL) {
            auth_result_free(c->pamh, a, 0);
            return PAM_BUF_ERR;
        }
        a->n_roles++;
    }
    int r = pam_set_data(c->pamh, OC_DATA_AUTH, a, auth_result_free);
    if (r != PAM_SUCCESS) {
        auth_result_free(c->pamh, a, 0);
    }
    return r;
}

/*
 * The tally directory of this call: opened (created when it alone is
 * missing) and checked on first use, every ancestor included, then held.
 * On failure one log line says what to fix; the error is kept, so the
 * directory is walked once per call at most.
 */
static int tally_dir(struct ctx *c, int *ret_fd)
{
    const char *dir = c->cfg->global.tally_dir;
    size_t bad = 0;
    int r;

    if (c->tally_fd < 0 && c->tally_err == 0) {
        pthread_mutex_lock(&cache_lock);
        r = oc_rootdir_open_seen(&tally_seen, dir, geteuid(), 077, 0700, &c->tally_fd, &bad);
        pthread_mutex_unlock(&cache_lock);
        if (r < 0) {
            c->tally_fd = -1;
            c->tally_err = r;
            pam_syslog(c->pamh, LOG_ERR,
                       "cannot use the failure tally directory %s: %.*s: %s (it must be a "
                       "directory owned by root, mode 0700, and every directory above it owned "
                       "by root and not writable by group or others, no symlinks: run "
                       "openclawctl check-config)",
                       dir, (int)bad, dir, strerror(-r));
        }
    }
    if (c->tally_fd < 0) {
        return c->tally_err;
    }
    *ret_fd = c->tally_fd;
    return 0;
}

/*
 * on_anomaly = disable-service-principal: the tenant-wide response is
 * root's. An empty file trust_dir/anomalies/NAME (root's, through the
 * checked trust_dir) asks openclaw-sync (openclaw-sync.path) to disable
 * the agent's service principal with the [directory] credential, which the
 * daemon account never holds. Only a lockout by signed tokens gets here.
 */
static void request_sp_disable(struct ctx *c)
{
    const char *dir = c->cfg->global.trust_dir;
    struct stat st;
    size_t bad = 0;
    int dfd = -1, afd = -1, fd, r;

    pthread_mutex_lock(&cache_lock);
    r = oc_rootdir_open_seen(&trust_seen, dir, geteuid(), 022, 0, &dfd, &bad);
    pthread_mutex_unlock(&cache_lock);
    if (r == 0 && mkdirat(dfd, OC_ANOMALY_DIR_NAME, 0700) < 0 && errno != EEXIST) {
        r = -errno;
    }
    if (r == 0) {
        afd = openat(dfd, OC_ANOMALY_DIR_NAME, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        r = afd < 0                                             ? -errno
            : fstat(afd, &st) < 0                               ? -errno
            : st.st_uid != geteuid() || (st.st_mode & 022) != 0 ? -EPERM
                                                                : 0;
    }
    if (r == 0) {
        fd = openat(afd, c->agent->name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
                    0600);
        r = fd < 0 ? -errno : 0;
        if (fd >= 0) {
            close(fd);
        }
    }
    if (afd >= 0) {
        close(afd);
    }
    if (dfd >= 0) {
        close(dfd);
    }
    if (r < 0) {
        pam_syslog(c->pamh, LOG_ERR,
                   "cannot ask openclaw-sync to disable the service principal of %s: %s/%s: %s "
                   "(trust_dir must be root's; openclawctl check-config)",
                   c->agent->name, dir, OC_ANOMALY_DIR_NAME, strerror(-r));
        return;
    }
    pam_syslog(c->pamh, LOG_NOTICE,
               "asked openclaw-sync to disable the service principal of %s in Entra "
               "(on_anomaly = disable-service-principal)",
               c->agent->name);
}

/* Count one failure for the agent; a lock raises an anomaly event. */
static void count_failure(struct ctx *c, const struct oc_service *svc)
{
    const struct oc_service *s = svc != NULL ? svc : oc_config_service(c->cfg, c->service);
    uint32_t deny = s != NULL ? s->deny : OC_DEFAULT_DENY;
    uint32_t interval = s != NULL ? s->fail_interval : OC_DEFAULT_FAIL_INTERVAL;
    uint32_t unlock = s != NULL ? s->unlock_time : OC_DEFAULT_UNLOCK_TIME;
    struct oc_tally_status st;
    int64_t now = oc_now();
    char detail[200];
    int r;

    int dfd = -1;
    r = tally_dir(c, &dfd);
    if (r == 0) {
        r = oc_tally_fail_at(dfd, c->agent->name, now, c->service, c->rhost, deny, interval, unlock,
                             &st);
    }
    if (r < 0) {
        pam_syslog(c->pamh, LOG_ERR, "cannot record a failure of %s in %s: %s", c->agent->name,
                   c->cfg->global.tally_dir, strerror(-r));
        return;
    }
    if (st.newly_locked) {
        if (st.locked_until == OC_TALLY_FOREVER) {
            (void)snprintf(detail, sizeof(detail),
                           "%u failures within %us: locked until an admin runs openclawctl agent "
                           "unlock %s",
                           st.n_recent, interval, c->agent->name);
        } else {
            (void)snprintf(detail, sizeof(detail),
                           "%u failures within %us: locked for %us (openclawctl agent unlock %s)",
                           st.n_recent, interval, unlock, c->agent->name);
        }
        audit(c, "anomaly", "failure", "lockout", NULL, NULL, NULL, detail);
        /* Tell openclawd (fire and forget, short deadline; it may be absent). */
        char why[OC_HC_WHY_MAX];
        r = oc_hc_agent_request(c->cfg->global.socket, "anomaly", c->agent->name,
                                OC_HC_TIMEOUT_NOTIFY_MS, why, sizeof(why));
        if (r < 0) {
            pam_syslog(c->pamh, LOG_NOTICE, "could not report the lockout of %s to openclawd: %s",
                       c->agent->name, why);
        }
        if (c->cfg->directory != NULL && c->cfg->directory->on_anomaly == OC_ANOMALY_DISABLE_SP) {
            request_sp_disable(c);
        }
    }
}

/*
 * Input that no key of the tenant signed (nothing, garbage, a forged or
 * unverifiable token, another identity's token) proves nothing about the
 * agent: charging it to the agent would let anyone who reaches sshd lock
 * any agent out and trigger the anomaly response. It is charged to its
 * source instead (PAM_RHOST, else OC_SOURCE_LOCAL): past the service's
 * deny within fail_interval the source is throttled (its failures are
 * delayed OC_SOURCE_DELAY_US) for unlock_time, at most OC_SOURCE_HOLD_MAX.
 * Never an anomaly, never a tenant-wide action.
 */
static void count_unsigned(struct ctx *c, const struct oc_service *svc)
{
    const struct oc_service *s = svc != NULL ? svc : oc_config_service(c->cfg, c->service);
    const char *source = c->rhost != NULL && c->rhost[0] != '\0' ? c->rhost : OC_SOURCE_LOCAL;
    uint32_t deny = s != NULL ? s->deny : OC_DEFAULT_DENY;
    uint32_t interval = s != NULL ? s->fail_interval : OC_DEFAULT_FAIL_INTERVAL;
    uint32_t hold = s != NULL ? s->unlock_time : OC_DEFAULT_UNLOCK_TIME;
    struct oc_tally_status st;
    char detail[200];
    int r;

    if (hold == 0 || hold > OC_SOURCE_HOLD_MAX) {
        hold = OC_SOURCE_HOLD_MAX;
    }
    int dfd = -1;
    r = tally_dir(c, &dfd);
    if (r == 0) {
        r = oc_tally_source_fail_at(dfd, source, oc_now(), c->service, deny, interval, hold, &st);
    }
    if (r < 0) {
        pam_syslog(c->pamh, LOG_ERR, "cannot record a failure of source %s in %s: %s", source,
                   c->cfg->global.tally_dir, strerror(-r));
        return;
    }
    if (st.newly_locked) {
        (void)snprintf(detail, sizeof(detail),
                       "%u unsigned or foreign tokens from %.64s within %us: its failures are "
                       "delayed %us for %us (no agent is locked)",
                       st.n_recent, source, interval, OC_SOURCE_DELAY_US / 1000000u, hold);
        audit(c, "throttle", "failure", "source", NULL, NULL, NULL, detail);
    }
    if (st.locked && !c->o.nodelay) {
        (void)pam_fail_delay(c->pamh, OC_SOURCE_DELAY_US);
    }
}

/* Did the tenant's key verify the token's signature (whatever failed later)? */
static bool signature_verified(const struct oc_verify_report *rep)
{
    for (size_t i = 0; i < rep->n; i++) {
        if (strcmp(rep->checks[i].name, "signature") == 0) {
            return rep->checks[i].ok;
        }
    }
    return false;
}

static bool is_agents_identity(const struct ctx *c, const char *appid, const char *oid)
{
    return (appid != NULL && c->agent->app_id[0] != '\0' &&
            strcasecmp(appid, c->agent->app_id) == 0) ||
           (oid != NULL && c->agent->object_id[0] != '\0' &&
            strcasecmp(oid, c->agent->object_id) == 0);
}

/*
 * A token refused by a claim check after its signature verified: is it
 * this agent's own (appid/azp or oid)? Only such a token - a real token
 * of the agent, presented wrongly - may count toward the agent's lockout.
 * The payload is read only because the signature verified.
 */
static bool signed_by_agent(const struct ctx *c, const char *tok, size_t len,
                            const struct oc_verify_report *rep)
{
    struct oc_jwt *jwt = NULL;
    cJSON *claims = NULL;
    const char *appid = NULL, *oid = NULL;
    bool mine = false;

    if (!signature_verified(rep) ||
        oc_jwt_parse(tok, len, c->cfg->global.algorithms, &jwt, NULL) < 0) {
        return false;
    }
    if (oc_jwt_decode_payload(jwt, &claims, NULL) == 0) {
        if (oc_json_get_string(claims, "appid", OC_CLAIM_MAX, &appid) < 0) {
            appid = NULL;
            (void)oc_json_get_string(claims, "azp", OC_CLAIM_MAX, &appid);
        }
        (void)oc_json_get_string(claims, "oid", OC_CLAIM_MAX, &oid);
        mine = is_agents_identity(c, appid, oid);
        cJSON_Delete(claims);
    }
    oc_jwt_free(jwt);
    return mine;
}

/* Is the agent locked out? PAM_SUCCESS when not, else the code to return. */
static int check_lock(struct ctx *c, const char *event, int code)
{
    struct oc_tally_status st;
    char detail[160];
    int dfd = -1, r;

    r = tally_dir(c, &dfd); /* logs what is wrong with the directory */
    if (r == 0) {
        r = oc_tally_status_at(dfd, c->agent->name, oc_now(), &st);
        if (r < 0) {
            pam_syslog(c->pamh, LOG_ERR,
                       "cannot use the failure tally of %s in %s: %s (a tally file must be a "
                       "regular file owned by root with one link, never a symlink: remove %s/%s "
                       "if it is not, which also clears its failures)",
                       c->agent->name, c->cfg->global.tally_dir, strerror(-r),
                       c->cfg->global.tally_dir, c->agent->name);
        }
    }
    if (r < 0) {
        pam_syslog(c->pamh, LOG_ERR, "refusing agent %s: its failure tally is unusable",
                   c->agent->name);
        audit(c, event, "error", "tally", NULL, NULL, NULL, NULL);
        return PAM_AUTHINFO_UNAVAIL;
    }
    c->tally_records = st.n_records;
    if (st.locked) {
        char iso[32];
        if (st.locked_until == OC_TALLY_FOREVER) {
            oc_pam_iso8601(st.locked_at, iso, sizeof(iso));
            (void)snprintf(detail, sizeof(detail), "locked since %lld (%s) until an admin unlocks",
                           (long long)st.locked_at, iso);
        } else {
            oc_pam_iso8601(st.locked_until, iso, sizeof(iso));
            (void)snprintf(detail, sizeof(detail), "locked until %lld (%s)",
                           (long long)st.locked_until, iso);
        }
        audit(c, event, "failure", "locked", NULL, NULL, NULL, detail);
        return code;
    }
    return PAM_SUCCESS;
}

static int helper_unavailable(struct ctx *c, const char *event, int code, const char *why)
{
    pam_syslog(c->pamh, LOG_ERR,
               "mode=helper: cannot get a fresh token for agent %s from openclawd (%s): %s; "
               "refused",
               c->agent->name, c->cfg->global.socket, why);
    audit(c, event, "failure", "helper-unavailable", NULL, NULL, NULL, why);
    return code;
}

/*
 * mode=helper presents no credential, so it is only for the agent itself
 * (sudo by an agent already logged in): the account that invoked the
 * program - PAM_RUSER when the service sets it, and the real uid of this
 * process (sudo and su keep the caller's) - must be PAM_USER. Root may
 * ask with no other PAM_RUSER (it holds every agent's tokens anyway).
 * Otherwise su, or sudo with targetpw/runaspw, would let anyone become
 * the agent without a credential.
 */
static int check_helper_caller(struct ctx *c, const char *event, int code)
{
    const void *item = NULL;
    const char *ruser = NULL;
    uint32_t agent_uid = 0;
    bool pinned = false;
    uid_t ruid = getuid();
    char detail[OC_USER_NAME_MAX * 2 + 160];
    int r;

    if (c->is_synced && c->agent->has_uid) {
        agent_uid = c->agent->uid;
        r = 0;
    } else {
        r = oc_hostpolicy_agent_uid(c->cfg, c->agent, &agent_uid, &pinned);
    }
    if (pam_get_item(c->pamh, PAM_RUSER, &item) == PAM_SUCCESS && item != NULL &&
        ((const char *)item)[0] != '\0') {
        ruser = item;
    }
    if (r < 0) {
        (void)snprintf(detail, sizeof(detail), "cannot tell the uid of agent %s: %s",
                       c->agent->name, strerror(-r));
    } else if (ruser != NULL && strcmp(ruser, c->user) != 0) {
        struct passwd pw, *res = NULL;
        char buf[2048];
        if (getpwnam_r(ruser, &pw, buf, sizeof(buf), &res) == 0 && res != NULL &&
            res->pw_uid == agent_uid) {
            ruser = NULL; /* another name of the agent's own uid */
        } else {
            (void)snprintf(detail, sizeof(detail), "invoked by %.64s (PAM_RUSER), not by %s", ruser,
                           c->user);
        }
        r = ruser == NULL ? 0 : -EPERM;
    }
    if (r == 0 && ruid != 0 && ruid != (uid_t)agent_uid) {
        (void)snprintf(detail, sizeof(detail), "invoked by uid %u, not by %s (uid %u)",
                       (unsigned)ruid, c->user, agent_uid);
        r = -EPERM;
    }
    if (r == 0) {
        return PAM_SUCCESS;
    }
    pam_syslog(c->pamh, LOG_NOTICE,
               "mode=helper for %s refused: %s; mode=helper is only for the agent itself (sudo "
               "by an agent already logged in), never for su or sudo's targetpw/runaspw: use "
               "mode=token there",
               c->user, detail);
    audit(c, event, "failure", "caller", NULL, NULL, NULL, detail);
    return code;
}

/* mode=helper: the agent's token for this host's resource, from openclawd. */
static int helper_token(struct ctx *c, const char *event, int code, char **ret_tok, size_t *ret_len)
{
    char scope[OC_CONFIG_PATH_MAX + 16];
    char why[OC_HC_WHY_MAX];
    int r;

    if (c->cfg->global.audiences.n == 0 ||
        snprintf(scope, sizeof(scope), "%s/.default", c->cfg->global.audiences.items[0]) >=
                (int)sizeof(scope)) {
        return helper_unavailable(c, event, code, "no usable audience in openclaw.conf");
    }
    r = oc_hc_get_token(c->cfg->global.socket, c->agent->name, scope, c->o.helper_max_age,
                        (int)c->o.helper_timeout * 1000, ret_tok, ret_len, why, sizeof(why));
    if (r == -ENOMEM) {
        return PAM_BUF_ERR;
    }
    if (r < 0) {
        return helper_unavailable(c, event, code, why);
    }
    debug(c, "mode=helper: openclawd gave a token of agent %s for %s (helper_max_age=%u)",
          c->agent->name, scope, c->o.helper_max_age);
    return PAM_SUCCESS;
}

/* The signing keys: keys.json in jwks_dir (root's). */
static int keys_get(struct ctx *c, struct cached **ret, char *err, size_t errlen)
{
    return trusted_get("jwks_dir", c->cfg->global.jwks_dir, OC_JWKS_FILE, &jwks_seen, &cache_jwks,
                       c, load_keys_fd, free_jwks_obj, ret, NULL, err, errlen);
}

static bool stat_changed(const struct stat *a, const struct stat *b)
{
    return a->st_dev != b->st_dev || a->st_ino != b->st_ino || a->st_size != b->st_size ||
           a->st_mtim.tv_sec != b->st_mtim.tv_sec || a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

/*
 * Unknown kid: ask root's openclaw-sync for the keys now, by creating the
 * request file in the checked jwks_dir (openclaw-sync.path starts it; it
 * fetches at most every OC_JWKS_REFRESH_MIN seconds), and wait up to
 * OC_JWKS_REFRESH_WAIT_MS for a new keys.json, loaded past the module's
 * cache. 0 with *ret_jwks, else a negative errno with why filled in.
 */
static int refresh_keys_at(struct ctx *c, int dfd, struct oc_jwks **ret_jwks, char *why,
                           size_t whylen)
{
    const char *dir = c->cfg->global.jwks_dir;
    const struct timespec step = {0, 50 * 1000 * 1000};
    const char *reason = NULL;
    struct stat before, now;
    bool had = fstatat(dfd, OC_JWKS_FILE, &before, AT_SYMLINK_NOFOLLOW) == 0;
    int64_t t = oc_now();
    struct stat rq;
    int fd, r;

    /* No wait where none can help: keys fetched within the rate limit, or
     * an earlier request that nothing took. A flood of unknown kids costs
     * a wait of at most OC_JWKS_REFRESH_WAIT_MS once per pending request. */
    if (had && t - (int64_t)before.st_mtime >= 0 &&
        t - (int64_t)before.st_mtime < OC_JWKS_REFRESH_MIN) {
        (void)snprintf(why, whylen,
                       "%s was fetched %llds ago; openclaw-sync fetches again on request after "
                       "%ds",
                       OC_JWKS_FILE, (long long)(t - (int64_t)before.st_mtime),
                       OC_JWKS_REFRESH_MIN);
        return -EAGAIN;
    }
    if (fstatat(dfd, OC_JWKS_REQUEST_FILE, &rq, AT_SYMLINK_NOFOLLOW) == 0 &&
        t - (int64_t)rq.st_mtime > OC_JWKS_REFRESH_WAIT_MS / 1000 + 1) {
        (void)snprintf(why, whylen,
                       "a refresh requested %llds ago is still pending: nothing runs "
                       "openclaw-sync (systemctl enable --now openclaw-sync.path)",
                       (long long)(t - (int64_t)rq.st_mtime));
        return -ETIMEDOUT;
    }
    fd = openat(dfd, OC_JWKS_REQUEST_FILE,
                O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
    if (fd < 0) {
        r = -errno;
        (void)snprintf(why, whylen, "cannot ask openclaw-sync for new keys: %.200s/%s: %s", dir,
                       OC_JWKS_REQUEST_FILE, strerror(-r));
        return r;
    }
    close(fd);
    for (unsigned waited = 0; waited < OC_JWKS_REFRESH_WAIT_MS; waited += 50) {
        (void)nanosleep(&step, NULL);
        if (fstatat(dfd, OC_JWKS_FILE, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
            (!had || stat_changed(&before, &now))) {
            fd = -1;
            r = oc_rootfile_open(dfd, OC_JWKS_FILE, O_RDONLY, geteuid(), false, &fd, NULL);
            if (r == 0) {
                r = oc_jwks_load_fd(fd, ret_jwks, &reason);
                close(fd);
            }
            if (r < 0) {
                (void)snprintf(why, whylen, "refreshed, but %s: %.80s", OC_JWKS_FILE,
                               reason != NULL ? reason : strerror(-r));
            }
            return r;
        }
        /* A request taken is not an answer: openclaw-sync takes it before
         * it fetches (a request made meanwhile starts another run), so the
         * keys may still come; only the deadline ends the wait. */
    }
    if (faccessat(dfd, OC_JWKS_REQUEST_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
        (void)snprintf(why, whylen,
                       "openclaw-sync took the request but wrote no new keys within %u ms (a "
                       "fetch that failed or is slow: journalctl -u openclaw-sync)",
                       (unsigned)OC_JWKS_REFRESH_WAIT_MS);
        return -EAGAIN;
    }
    (void)snprintf(why, whylen,
                   "openclaw-sync wrote no new keys within %u ms of the request (systemctl "
                   "status openclaw-sync.path openclaw-sync.service)",
                   (unsigned)OC_JWKS_REFRESH_WAIT_MS);
    return -ETIMEDOUT;
}

/* refresh_keys_at() in jwks_dir, opened and checked here (a rare path). */
static int refresh_keys(struct ctx *c, struct oc_jwks **ret_jwks, char *why, size_t whylen)
{
    const char *dir = c->cfg->global.jwks_dir;
    size_t bad = 0;
    int dfd = -1, r;

    pthread_mutex_lock(&cache_lock);
    r = oc_rootdir_open_seen(&jwks_seen, dir, geteuid(), 022, 0, &dfd, &bad);
    pthread_mutex_unlock(&cache_lock);
    if (r < 0) {
        (void)snprintf(why, whylen, "%.200s is not a directory of root's: %s", dir, strerror(-r));
        return r;
    }
    r = refresh_keys_at(c, dfd, ret_jwks, why, whylen);
    close(dfd);
    return r;
}

/* The token: PAM_AUTHTOK (first_pass modes) or the chunked conversation. */
static int get_token(struct ctx *c, char **ret_tok, size_t *ret_len, const char **ret_reason)
{
    const void *item = NULL;
    char *tok = NULL;
    size_t len = 0;
    int r;

    *ret_reason = "no-token";
    if (c->o.use_first_pass || c->o.try_first_pass) {
        r = pam_get_item(c->pamh, PAM_AUTHTOK, &item);
        if (r == PAM_SUCCESS && item != NULL && ((const char *)item)[0] != '\0') {
            len = strnlen(item, OC_TOKEN_MAX + 1);
            if (len > OC_TOKEN_MAX) {
                *ret_reason = "size";
                return PAM_AUTH_ERR;
            }
            tok = malloc(len + 1);
            if (tok == NULL) {
                return PAM_BUF_ERR;
            }
            memcpy(tok, item, len);
            tok[len] = '\0';
            *ret_tok = tok;
            *ret_len = len;
            return PAM_SUCCESS;
        }
        if (c->o.use_first_pass) {
            return PAM_AUTH_ERR;
        }
    }
    r = oc_prompt_token(c->pamh, c->o.prompt, &tok, &len);
    if (r == -E2BIG) {
        *ret_reason = "size";
        return PAM_AUTH_ERR;
    }
    if (r == -ENOMEM) {
        return PAM_BUF_ERR;
    }
    if (r < 0) {
        *ret_reason = "conversation";
        return PAM_CONV_ERR;
    }
    if (len == 0) {
        oc_free_wipe(tok, 1);
        return PAM_AUTH_ERR;
    }
    if (len == OC_PROMPT_TRUNCATED_LEN) {
        pam_syslog(c->pamh, LOG_NOTICE,
                   "the answer for %s was exactly %d bytes: the client probably cut it (stock "
                   "ssh does); answer the chunked prompts with openclaw-askpass",
                   c->user, OC_PROMPT_TRUNCATED_LEN);
    }
    /* Like pam_get_authtok: later modules may use_first_pass it. */
    (void)pam_set_item(c->pamh, PAM_AUTHTOK, tok);
    *ret_tok = tok;
    *ret_len = len;
    return PAM_SUCCESS;
}

/*
 * One run of auth's token check: what its stages share. Stages return
 * AUTH_NEXT (go on), AUTH_REFUSED (reason and detail set: the refusal is
 * audited and counted by auth_refuse) or AUTH_DONE (ret holds the PAM
 * answer, already logged).
 */
enum { AUTH_NEXT, AUTH_REFUSED, AUTH_DONE };
struct auth_run {
    const char *event; /* "auth", or "account" (mode=helper without an auth result) */
    bool is_auth;
    const struct oc_service *svc; /* the service's rules; the verdict's once the policy passed */
    char *tok;                    /* the token, until verified (then wiped) */
    size_t len;
    struct cached *jref; /* root's keys */
    struct oc_jwks *fresh;
    struct oc_verify_policy pol;
    struct oc_verify_result *res;
    struct oc_verify_report report;
    const char *reason, *detail;
    bool agents_own; /* signed by the tenant and the agent's own */
    int ret;
    char why[OC_HC_WHY_MAX + 64];
    char kid_detail[OC_HC_WHY_MAX + 64 + 128];
};

static void auth_release(struct auth_run *a)
{
    oc_jwks_free(a->fresh);
    if (a->tok != NULL) {
        oc_free_wipe(a->tok, a->len);
    }
    oc_verify_result_free(a->res);
    cache_put(a->jref);
}

/* The lock, the caller (mode=helper) and the token: PAM_SUCCESS with
 * a->tok, or the answer (logged, audited, counted). */
static int auth_token(struct ctx *c, int flags, struct auth_run *a)
{
    int ret;

    if (!c->o.nodelay && a->is_auth) {
        (void)pam_fail_delay(c->pamh, OC_FAIL_DELAY_US);
    }
    if (a->is_auth) {
        ret = check_lock(c, "auth", PAM_AUTH_ERR);
        if (ret != PAM_SUCCESS) {
            if (ret == PAM_AUTH_ERR && (flags & PAM_SILENT) == 0) {
                pam_error(c->pamh, "Agent %s is locked after repeated failures.", c->agent->name);
            }
            return ret;
        }
    }
    if (c->o.mode_helper) {
        ret = check_helper_caller(c, a->event, a->is_auth ? PAM_AUTH_ERR : PAM_PERM_DENIED);
        if (ret != PAM_SUCCESS) {
            return ret;
        }
        return helper_token(c, a->event, a->is_auth ? PAM_AUTHINFO_UNAVAIL : PAM_PERM_DENIED,
                            &a->tok, &a->len);
    }
    ret = get_token(c, &a->tok, &a->len, &a->reason);
    if (ret != PAM_SUCCESS) {
        audit(c, "auth", ret == PAM_AUTH_ERR ? "failure" : "error", a->reason, NULL, NULL, NULL,
              NULL);
        if (ret == PAM_AUTH_ERR) {
            count_unsigned(c, a->svc); /* no token at all: nothing Entra signed */
        }
    }
    return ret;
}

/* The token verified against root's keys; on an unknown kid, one refresh
 * by openclaw-sync and one more try. The token is wiped either way. */
static int auth_verify(struct ctx *c, struct auth_run *a)
{
    const struct oc_config *cfg = c->cfg;
    char err[OC_CONFIG_PATH_MAX + 300];
    int r = keys_get(c, &a->jref, err, sizeof(err));

    if (r < 0) {
        pam_syslog(c->pamh, LOG_ERR,
                   "cannot use the signing keys: %s (openclaw-sync, as root, keeps that file "
                   "fresh: systemctl start openclaw-sync)",
                   err);
        audit(c, a->event, "error", "jwks", NULL, NULL, NULL, err);
        a->ret = r == -ENOMEM ? PAM_BUF_ERR : PAM_AUTHINFO_UNAVAIL;
        return AUTH_DONE;
    }
    a->pol = (struct oc_verify_policy){
            .tenant_id = cfg->global.tenant_id,
            .issuer_v1 = cfg->global.issuer_v1,
            .issuer_v2 = cfg->global.issuer_v2,
            .audiences = (const char *const *)cfg->global.audiences.items,
            .n_audiences = cfg->global.audiences.n,
            .alg_mask = cfg->global.algorithms,
            .now = oc_now(),
            .clock_skew = cfg->global.clock_skew,
            .max_token_age = a->svc != NULL ? a->svc->max_token_age : 0,
    };
    memset(&a->report, 0, sizeof(a->report));
    r = oc_verify_token(a->tok, a->len, a->jref->obj, &a->pol, &a->res, &a->report);
    if (r == -ENOKEY) {
        int rr = refresh_keys(c, &a->fresh, a->why, sizeof(a->why));
        if (rr == 0) {
            oc_verify_result_free(a->res);
            a->res = NULL;
            memset(&a->report, 0, sizeof(a->report));
            r = oc_verify_token(a->tok, a->len, a->fresh, &a->pol, &a->res, &a->report);
            debug(c, "token for %s: openclaw-sync refreshed the keys; verified again: %s", c->user,
                  r == 0 ? "ok" : "refused");
        } else if (rr == -ENOMEM) {
            r = -ENOMEM;
        } else {
            pam_syslog(c->pamh, LOG_NOTICE,
                       "token for %s: no key with the token's kid in the JWKS cache, and "
                       "no new keys came: %s; decided from the keys on file",
                       c->user, a->why);
        }
    }
    if (r == -EACCES && !c->o.mode_helper) {
        a->agents_own = signed_by_agent(c, a->tok, a->len, &a->report);
    }
    /* Verified or not, this copy of the token is no longer needed. */
    oc_free_wipe(a->tok, a->len);
    a->tok = NULL;
    if (r == -ENOMEM) {
        a->ret = PAM_BUF_ERR;
        return AUTH_DONE;
    }
    if (r == -ENOKEY) {
        a->reason = "kid";
        if (a->fresh != NULL) {
            a->detail = "no key with the token's kid, even after openclaw-sync refreshed the keys";
        } else {
            (void)snprintf(a->kid_detail, sizeof(a->kid_detail),
                           "no key with the token's kid in the JWKS cache, and no new keys "
                           "came (%s): decided from the keys on file",
                           a->why);
            a->detail = a->kid_detail;
        }
        return AUTH_REFUSED;
    }
    if (r < 0) {
        a->reason = oc_verify_report_failed(&a->report);
        if (a->reason[0] == '\0') {
            a->reason = "token";
        }
        for (size_t i = 0; i < a->report.n; i++) {
            if (!a->report.checks[i].ok) {
                a->detail = a->report.checks[i].detail;
            }
        }
        return AUTH_REFUSED;
    }
    return AUTH_NEXT;
}

/* The directory's enabled state and the host policy (identity, role). */
static int auth_policy(struct ctx *c, struct auth_run *a, struct oc_hostpolicy_verdict *v)
{
    const struct oc_verify_result *res = a->res;
    struct oc_hostpolicy_input in = {
            .app_id = res->appid,
            .object_id = res->oid,
            .has_roles = true,
            .roles = res->roles,
            .n_roles = res->n_roles,
            .user = c->user,
            .service = c->service,
            .rhost = c->rhost,
            .now = a->pol.now,
            .require_role = c->o.has_require_role ? &c->o.require_role : NULL,
            .synced = c->is_synced ? &c->synced : NULL,
    };
    int r;

    if (c->dir_entry != NULL && !c->dir_entry->enabled) {
        a->reason = "agent";
        a->detail = "the agent's service principal is disabled in Entra (directory data)";
        return AUTH_REFUSED;
    }
    r = oc_hostpolicy_check(c->cfg, &in, OC_HP_IDENTITY | OC_HP_ROLE, v);
    if (r == -ENOMEM) {
        a->ret = PAM_BUF_ERR;
        return AUTH_DONE;
    }
    if (r < 0) {
        a->reason = v->failed != NULL ? v->failed : "policy";
        a->detail = v->detail;
        return AUTH_REFUSED;
    }
    a->svc = v->svc;
    return AUTH_NEXT;
}

/* one_time_tokens: a presented token is used once. A token of openclawd's
 * cache is reused by design: one-time use is about presented tokens. */
static int auth_one_time(struct ctx *c, struct auth_run *a)
{
    const struct oc_config *cfg = c->cfg;
    int dfd = -1, r;

    if (!a->svc->one_time_tokens || c->o.mode_helper) {
        return AUTH_NEXT;
    }
    if (a->res->log_id == NULL) {
        a->reason = "no-uti";
        a->detail = "one_time_tokens needs a uti or jti claim";
        return AUTH_REFUSED;
    }
    r = tally_dir(c, &dfd);
    if (r == 0) {
        /* Kept as long as the verifier would still accept the token. */
        r = oc_replay_use(dfd, a->res->log_id, a->res->exp + (int64_t)cfg->global.clock_skew,
                          a->pol.now);
    }
    if (r == -EEXIST) {
        a->reason = "replay";
        a->detail = "one_time_tokens: this token was already used";
        return AUTH_REFUSED;
    }
    if (r < 0) {
        pam_syslog(c->pamh, LOG_ERR, "one-time token store %s/" OC_REPLAY_FILE ": %s; refusing%s",
                   cfg->global.tally_dir, strerror(-r),
                   r == -ENOSPC ? ""
                                : " (it must be a regular file owned by root with one link, "
                                  "never a symlink)");
        a->reason = r == -ENOSPC ? "replay-store-full" : "replay-store";
        audit(c, a->event, "error", a->reason, a->res->appid, a->res->oid, a->res->log_id, NULL);
        a->ret = PAM_AUTHINFO_UNAVAIL;
        return AUTH_DONE;
    }
    return AUTH_NEXT;
}

/* Every check passed: the result saved for account, the failures
 * cleared, the success audited. */
static int auth_success(struct ctx *c, struct auth_run *a, const struct oc_hostpolicy_verdict *v)
{
    const struct oc_verify_result *res = a->res;
    char held[OC_CONFIG_ROLE_MAX + 32];
    int ret = save_result(c, res, v->uid), r = 0;

    if (ret != PAM_SUCCESS) {
        return ret;
    }
    /* A success clears the failures (nothing to do when there were none);
     * not a mode=helper success: it proves nothing about presented tokens. */
    if (c->tally_records > 0 && !c->o.mode_helper) {
        int dfd = -1;
        r = tally_dir(c, &dfd);
        r = r < 0 ? r : oc_tally_reset_at(dfd, c->agent->name);
    }
    if (r < 0) {
        pam_syslog(c->pamh, LOG_ERR, "cannot reset the failure tally of %s: %s", c->agent->name,
                   strerror(-r));
    }
    (void)snprintf(held, sizeof(held), "role %s%s", v->role != NULL ? v->role : "(none required)",
                   c->o.mode_helper ? " (live, from openclawd)" : "");
    audit(c, a->event, "success", "ok", res->appid, res->oid, res->log_id, held);
    return PAM_SUCCESS;
}

/* A refusal: audited, and counted toward a lockout only when the token
 * was the agent's own, Entra-signed. mode=helper presents no credential,
 * so nothing can be guessed: its refusals (a missing role) do not count.
 * Anything else is charged to the source (count_unsigned). */
static int auth_refuse(struct ctx *c, struct auth_run *a)
{
    const struct oc_verify_result *res = a->res;

    audit(c, a->event, "failure", a->reason, res != NULL ? res->appid : NULL,
          res != NULL ? res->oid : NULL, res != NULL ? res->log_id : NULL, a->detail);
    if (res != NULL) {
        a->agents_own = is_agents_identity(c, res->appid, res->oid);
    }
    if (!c->o.mode_helper) {
        if (a->agents_own) {
            count_failure(c, a->svc);
        } else {
            count_unsigned(c, a->svc);
        }
    }
    return a->is_auth ? PAM_AUTH_ERR : PAM_PERM_DENIED;
}

/*
 * The token check of auth: the presented token (mode=token) or the one
 * openclawd fetches for the agent (mode=helper), verified the same way.
 * event is "auth", or "account" when mode=helper's account phase runs it
 * without an auth result (e.g. sudo with NOPASSWD). Stages, in order:
 * token, verification, policy, one-time use; then success or refusal.
 */
static int do_authenticate(struct ctx *c, int flags, const char *event)
{
    struct auth_run a = {
            .event = event,
            .is_auth = strcmp(event, "auth") == 0,
            .svc = oc_config_service(c->cfg, c->service),
    };
    struct oc_hostpolicy_verdict v;
    int ret, s;

    ret = auth_token(c, flags, &a);
    if (ret == PAM_SUCCESS) {
        s = auth_verify(c, &a);
        s = s != AUTH_NEXT ? s : auth_policy(c, &a, &v);
        s = s != AUTH_NEXT ? s : auth_one_time(c, &a);
        ret = s == AUTH_NEXT      ? auth_success(c, &a, &v)
              : s == AUTH_REFUSED ? auth_refuse(c, &a)
                                  : a.ret;
    }
    auth_release(&a);
    return ret;
}

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct ctx c;
    int r = ctx_init(&c, pamh, "auth", argc, argv);

    if (r == PAM_SUCCESS) {
        r = do_authenticate(&c, flags, "auth");
    }
    ctx_done(&c);
    return r;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct ctx c;
    int r = ctx_init(&c, pamh, "setcred", argc, argv);

    (void)flags;
    ctx_done(&c);
    return r;
}

/* ------------------------------------------------------------------ */
/* account */

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct ctx c;
    const void *data = NULL;
    const struct auth_result *a = NULL;
    struct oc_hostpolicy_verdict v;
    int r = ctx_init(&c, pamh, "account", argc, argv);

    if (r != PAM_SUCCESS) {
        goto out;
    }
    if (pam_get_data(pamh, OC_DATA_AUTH, &data) == PAM_SUCCESS && data != NULL) {
        a = data;
        if (strcmp(a->user, c.user) != 0) {
            a = NULL; /* the user changed after auth: its token proves nothing here */
        }
    }
    /* Auth in this transaction checked the lock and cleared the tally on
     * success; without it, the lock is checked here. */
    if (a == NULL) {
        r = check_lock(&c, "account", PAM_PERM_DENIED);
        if (r != PAM_SUCCESS) {
            goto out;
        }
    }
    if (a == NULL && c.o.mode_helper) {
        /* No auth in this transaction (sudo NOPASSWD): the live role is
         * checked here, with a token from openclawd. */
        r = do_authenticate(&c, flags, "account");
        if (r != PAM_SUCCESS) {
            goto out;
        }
        data = NULL;
        if (pam_get_data(pamh, OC_DATA_AUTH, &data) != PAM_SUCCESS || data == NULL) {
            r = PAM_PERM_DENIED;
            goto out;
        }
        a = data;
    }
    /* Without our auth in this transaction (sudo after an ssh login), the
     * roles come from the directory data openclawd syncs (docs/directory.md). */
    const struct oc_dir_agent *de = a == NULL ? c.dir_entry : NULL;
    if (c.dir_entry != NULL && !c.dir_entry->enabled) {
        audit(&c, "account", "failure", "agent", NULL, NULL, NULL,
              "the agent's service principal is disabled in Entra (directory data)");
        r = PAM_PERM_DENIED;
        goto out;
    }
    struct oc_hostpolicy_input in = {
            .app_id = a != NULL ? a->app_id : NULL,
            .object_id = a != NULL ? a->oid : NULL,
            .has_roles = a != NULL || de != NULL,
            .roles = a != NULL    ? (const char *const *)a->roles
                     : de != NULL ? (const char *const *)de->roles
                                  : NULL,
            .n_roles = a != NULL    ? a->n_roles
                       : de != NULL ? de->n_roles
                                    : 0,
            .user = c.user,
            .service = c.service,
            .rhost = c.rhost,
            .now = oc_now(),
            .require_role = c.o.has_require_role ? &c.o.require_role : NULL,
            .synced = c.is_synced ? &c.synced : NULL,
    };
    r = oc_hostpolicy_check(c.cfg, &in, OC_HP_ALL, &v);
    if (r == -ENOMEM) {
        r = PAM_BUF_ERR;
        goto out;
    }
    if (r < 0) {
        audit(&c, "account", "failure", v.failed != NULL ? v.failed : "policy",
              a != NULL ? a->app_id : NULL, a != NULL ? a->oid : NULL, a != NULL ? a->uti : NULL,
              v.detail);
        r = PAM_PERM_DENIED;
        goto out;
    }
    audit(&c, "account", "success", "ok", a != NULL ? a->app_id : NULL, a != NULL ? a->oid : NULL,
          a != NULL ? a->uti : NULL,
          a != NULL    ? NULL
          : de != NULL ? "no token in this transaction; roles from the directory data"
                       : "no token in this transaction; the service requires no role");
    r = PAM_SUCCESS;
out:
    ctx_done(&c);
    return r;
}

/* ------------------------------------------------------------------ */
/* session */

/*
 * Tell openclawd about the session (short deadline; it may be absent) and,
 * on open, export the environment it answers: only names and values that
 * pass oc_hc_env_valid, at most OC_HC_ENV_MAX.
 */
static void session_notify(struct ctx *c, bool open)
{
    char why[OC_HC_WHY_MAX];
    char **env = NULL;
    size_t n = 0, rejected = 0;
    int r;

    if (!open) {
        r = oc_hc_agent_request(c->cfg->global.socket, "session-close", c->agent->name,
                                OC_HC_TIMEOUT_SESSION_MS, why, sizeof(why));
        if (r < 0) {
            debug(c, "session-close of %s not sent to openclawd: %s", c->agent->name, why);
        }
        return;
    }
    r = oc_hc_session_open(c->cfg->global.socket, c->agent->name, OC_HC_TIMEOUT_SESSION_MS, &env,
                           &n, &rejected, why, sizeof(why));
    if (r < 0) {
        pam_syslog(c->pamh, LOG_INFO,
                   "session of %s not registered with openclawd (%s); the session still gets "
                   "OPENCLAW_SOCKET",
                   c->agent->name, why);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (pam_putenv(c->pamh, env[i]) != PAM_SUCCESS) {
            pam_syslog(c->pamh, LOG_ERR, "cannot set a variable from openclawd in the session");
        }
    }
    if (rejected > 0) {
        pam_syslog(c->pamh, LOG_WARNING,
                   "openclawd offered %zu session variable(s) that are not allowed (names "
                   "OPENCLAW_*, AZURE_*, IDENTITY_*, IMDS_*, MSI_* of A-Z 0-9 _, printable "
                   "values of at most %d bytes, at most %d variables); ignored",
                   rejected, OC_HC_ENV_VALUE_MAX, OC_HC_ENV_MAX);
    }
    oc_hc_env_free(env, n);
}

static int session(pam_handle_t *pamh, const char *event, int argc, const char **argv)
{
    struct ctx c;
    const void *data = NULL;
    const struct auth_result *a = NULL;
    char env[OC_CONFIG_PATH_MAX + 32];
    int r = ctx_init(&c, pamh, "session", argc, argv);

    if (r != PAM_SUCCESS) {
        goto out;
    }
    if (pam_get_data(pamh, OC_DATA_AUTH, &data) == PAM_SUCCESS && data != NULL &&
        strcmp(((const struct auth_result *)data)->user, c.user) == 0) {
        a = data;
    }
    audit(&c, event, "success", "ok", a != NULL ? a->app_id : NULL, a != NULL ? a->oid : NULL,
          a != NULL ? a->uti : NULL, NULL);
    if (strcmp(event, "session-open") == 0) {
        /* Set first: the session has them even when openclawd is absent. */
        (void)snprintf(env, sizeof(env), "OPENCLAW_SOCKET=%s", c.cfg->global.socket);
        if (pam_putenv(pamh, env) != PAM_SUCCESS) {
            pam_syslog(pamh, LOG_ERR, "cannot set OPENCLAW_SOCKET in the session");
        }
        (void)snprintf(env, sizeof(env), "OPENCLAW_AGENT=%s", c.agent->name);
        (void)pam_putenv(pamh, env);
        session_notify(&c, true);
    } else {
        session_notify(&c, false);
    }
    r = PAM_SUCCESS;
out:
    ctx_done(&c);
    return r;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)flags;
    return session(pamh, "session-open", argc, argv);
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)flags;
    return session(pamh, "session-close", argc, argv);
}

/* ------------------------------------------------------------------ */
/* password */

PAM_EXTERN int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct ctx c;
    int r = ctx_init(&c, pamh, "password", argc, argv);

    if (r != PAM_SUCCESS) {
        goto out;
    }
    if ((flags & PAM_SILENT) == 0) {
        pam_error(pamh,
                  "%s is an Entra ID agent: its credentials rotate in Entra ID (or through "
                  "openclawd), not with passwd.",
                  c.agent->name);
    }
    audit(&c, "password", "failure", "password-change", NULL, NULL, NULL, NULL);
    r = PAM_AUTHTOK_ERR;
out:
    ctx_done(&c);
    return r;
}
