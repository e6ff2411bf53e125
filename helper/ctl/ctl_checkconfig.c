/* SPDX-License-Identifier: MIT */
/*
 * ctl_checkconfig.c: `openclawctl check-config`, every problem of the
 * configuration and the host files it names, each with file:line and the
 * fix, all in one run. Beyond the parser: ownership and modes of the
 * config, key, certificate, sealed and secret files and of the state
 * directories (DESIGN.md's Files table), [roles] and agent groups that do
 * not exist, the agent uid range against login.defs and /etc/passwd, uid
 * and name collisions between agents and local users or groups, and the
 * PAM stacks: arguments of pam_openclaw (the module's own table), services
 * without a [service] section and sections no PAM file uses, and the
 * openclaw profile enabled while the configuration is invalid, and
 * mode=helper where it hands the agent to someone else: su, or sudo with
 * targetpw/runaspw in sudoers.
 *
 * Exit status: 0 clean, 1 errors, 2 the file cannot be read, 3 warnings
 * only. Read only: it changes nothing.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf.h"
#include "directory.h"
#include "helper/ctl/ctl.h"
#include "helper/ctl/ctl_localdb.h"
#include "idmap.h"
#include "pamargs.h"
#include "jwks.h"
#include "rootdir.h"
#include "tally.h"
#include "util.h"

#define CHECK_PAM_DIR         "/etc/pam.d"
#define CHECK_SUDOERS         "/etc/sudoers" /* and the files of its ".d" directory */
#define CHECK_SUDOERS_FILES   256
#define CHECK_DAEMON_USER     "openclaw"
#define CHECK_PAM_LINE_MAX    4096
#define CHECK_PAM_FILES_MAX   512
#define CHECK_PAM_INCLUDE_MAX 16           /* includes followed per PAM file */
#define CHECK_CERT_WARN       (14 * 86400) /* a certificate expiring sooner is reported */
#define CHECK_PARSE_ERRORS    64           /* parse errors collected in one run */
#define CHECK_FINDINGS_MAX    10000
#define CHECK_EXIT_WARNINGS   3

struct finding {
    bool warning;
    char *file;
    unsigned line;
    char *msg;
};

/* A PAM file of the PAM directory and how it reaches pam_openclaw. */
struct pam_file {
    char name[256];
    unsigned oc_line; /* first line naming pam_openclaw.so, 0: none */
    size_t n_inc;
    char inc[CHECK_PAM_INCLUDE_MAX][256]; /* @include, include, substack */
    unsigned inc_line[CHECK_PAM_INCLUDE_MAX];
    bool uses;            /* directly or through an include */
    unsigned uses_line;   /* the line that does it */
    unsigned helper_line; /* first pam_openclaw line with mode=helper, 0: none */
    bool helper;          /* reaches mode=helper, directly or through an include */
    unsigned helper_via;  /* the line that does it */
};

struct check {
    const char *path;
    const char *pam_dir;
    const char *sudoers;
    const char *daemon_user;
    uid_t daemon_uid;
    bool daemon_known;
    bool json;
    struct ctl_localdb db;
    struct finding *f;
    size_t n, cap;
    unsigned errors, warnings;
    bool oom;
    struct pam_file *pam;
    size_t n_pam;
    bool pam_read;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: openclawctl check-config [--config FILE] [--pam-dir DIR] [--daemon-user USER]\n"
            "                                [--login-defs FILE] [--passwd FILE] [--group FILE]\n"
            "                                [--sudoers FILE] [--json]\n\n"
            "Loads the configuration and reports every problem with file:line and the fix:\n"
            "parse errors, files and directories (existence, owner, mode), [roles] groups,\n"
            "the agent uid range against login.defs and the local users, names and uids\n"
            "shared with local users or groups, the PAM stacks (default %s): pam_openclaw\n"
            "arguments, services without a [service] section, sections no PAM file uses,\n"
            "the openclaw profile enabled while the configuration is invalid, and\n"
            "mode=helper on su, or on sudo with targetpw/runaspw in sudoers (default %s\n"
            "and the files of %s.d).\n"
            "Exit status: 0 clean, 1 errors, 2 the file cannot be read, 3 warnings only.\n",
            CHECK_PAM_DIR, CHECK_SUDOERS, CHECK_SUDOERS);
}

static void add(struct check *c, bool warning, const char *file, unsigned line, const char *fmt,
                va_list ap) __attribute__((format(printf, 5, 0)));
static void add(struct check *c, bool warning, const char *file, unsigned line, const char *fmt,
                va_list ap)
{
    char *msg = NULL;

    if (warning) {
        c->warnings++;
    } else {
        c->errors++;
    }
    if (c->n == c->cap) {
        size_t ncap = c->cap == 0 ? 32 : c->cap * 2;
        struct finding *n = ncap <= CHECK_FINDINGS_MAX ? realloc(c->f, ncap * sizeof(*n)) : NULL;
        if (n == NULL) {
            c->oom = true;
            return;
        }
        c->f = n;
        c->cap = ncap;
    }
    if (vasprintf(&msg, fmt, ap) < 0) {
        c->oom = true;
        return;
    }
    c->f[c->n].warning = warning;
    c->f[c->n].file = strdup(file);
    c->f[c->n].line = line;
    c->f[c->n].msg = msg;
    if (c->f[c->n].file == NULL) {
        free(msg);
        c->oom = true;
        return;
    }
    c->n++;
}

static void problem(struct check *c, const char *file, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void problem(struct check *c, const char *file, unsigned line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    add(c, false, file, line, fmt, ap);
    va_end(ap);
}

static void warning(struct check *c, const char *file, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void warning(struct check *c, const char *file, unsigned line, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    add(c, true, file, line, fmt, ap);
    va_end(ap);
}

/* Move the last finding to the front (the one an admin must read first). */
static void to_front(struct check *c)
{
    if (c->n > 1) {
        struct finding last = c->f[c->n - 1];
        memmove(&c->f[1], &c->f[0], (c->n - 1) * sizeof(c->f[0]));
        c->f[0] = last;
    }
}

static void free_findings(struct check *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->f[i].file);
        free(c->f[i].msg);
    }
    free(c->f);
    c->f = NULL;
    c->n = c->cap = 0;
}

/* The config file itself: root, not writable by group or others, not a symlink. */
static void check_config_file(struct check *c)
{
    struct stat st;

    if (lstat(c->path, &st) < 0) {
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        problem(c, c->path, 0,
                "is a symbolic link (refused by every openclaw component): put the "
                "file itself there");
        return;
    }
    if (st.st_uid != 0) {
        problem(c, c->path, 0, "owned by uid %u, not root: chown root:root %s", (unsigned)st.st_uid,
                c->path);
    }
    if ((st.st_mode & 022) != 0) {
        problem(c, c->path, 0, "writable by group or others (mode %04o): chmod 0644 %s",
                (unsigned)(st.st_mode & 07777), c->path);
    }
}

/*
 * A file the daemon reads: present, regular, owned by the daemon user (or
 * root), and (when secret) not readable by group or others.
 */
static void check_file(struct check *c, unsigned line, const char *what, const char *path,
                       bool secret)
{
    struct stat st;

    if (path == NULL) {
        return;
    }
    if (lstat(path, &st) < 0) {
        problem(c, c->path, line, "%s %s: %s: %s", what, path, strerror(errno),
                errno == ENOENT ? "create it (openclawctl enroll NAME, or openclawctl tpm "
                                  "keygen/cert/seal) or correct the path"
                                : "fix the permissions of its directory");
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        problem(c, c->path, line, "%s %s is not a regular file%s: point the key at the file itself",
                what, path, S_ISLNK(st.st_mode) ? " (a symbolic link)" : "");
        return;
    }
    if (st.st_uid != 0 && !(c->daemon_known && st.st_uid == c->daemon_uid)) {
        problem(c, c->path, line, "%s %s is owned by uid %u: chown %s %s", what, path,
                (unsigned)st.st_uid, c->daemon_user, path);
    }
    if (secret && (st.st_mode & 077) != 0) {
        problem(c, c->path, line,
                "%s %s is readable or writable by others (mode %04o): chmod 0600 %s", what, path,
                (unsigned)(st.st_mode & 07777), path);
    } else if (!secret && (st.st_mode & 022) != 0) {
        problem(c, c->path, line, "%s %s is writable by others (mode %04o): chmod 0644 %s", what,
                path, (unsigned)(st.st_mode & 07777), path);
    }
}

static void check_cert(struct check *c, unsigned line, const char *path)
{
    FILE *f;
    X509 *x;
    time_t soon = time(NULL) + CHECK_CERT_WARN;

    if (path == NULL || (f = fopen(path, "re")) == NULL) {
        return; /* check_file said it */
    }
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL) {
        problem(c, c->path, line,
                "cert_file %s is not a PEM certificate: remake it with "
                "openclawctl tpm cert (or openclawctl enroll)",
                path);
        return;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
        problem(c, c->path, line,
                "cert_file %s has expired: run openclawctl enroll again (it "
                "makes and registers a new certificate)",
                path);
    } else if (X509_cmp_time(X509_get0_notAfter(x), &soon) <= 0) {
        warning(c, c->path, line,
                "cert_file %s expires within 14 days: run openclawctl enroll "
                "again to renew it",
                path);
    }
    X509_free(x);
}

/* A directory: exists, owner, exact mode bits that matter. */
static void check_dir(struct check *c, const char *what, const char *path, const char *owner,
                      mode_t mode)
{
    struct stat st;
    struct passwd *pw = getpwnam(owner);

    if (path == NULL) {
        return;
    }
    if (stat(path, &st) < 0) {
        problem(c, c->path, 0, "%s %s: %s: install -d -o %s -m %04o %s", what, path,
                strerror(errno), owner, (unsigned)mode, path);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        problem(c, c->path, 0, "%s %s is not a directory", what, path);
        return;
    }
    if (pw != NULL && st.st_uid != pw->pw_uid) {
        problem(c, c->path, 0, "%s %s is owned by uid %u, not %s: chown %s %s", what, path,
                (unsigned)st.st_uid, owner, owner, path);
    }
    if ((st.st_mode & 07777) != mode && ((st.st_mode & 07777) & ~mode) != 0) {
        problem(c, c->path, 0, "%s %s has mode %04o (wider than %04o): chmod %04o %s", what, path,
                (unsigned)(st.st_mode & 07777), (unsigned)mode, (unsigned)mode, path);
    }
}

/*
 * A directory of root's as pam_openclaw opens it (rootdir.h, owner root):
 * every directory above it root's and not writable by group or others
 * (sticky ones excepted), no symlink on the way. Its owner or a writer of
 * a directory above could rename it or swap it for a symlink. The
 * directory's own owner and mode are check_dir()'s. key: "tally_dir" or
 * "jwks_dir"; deflt: its default, named in the advice.
 */
static void check_root_dir(struct check *c, const char *key, const char *path, mode_t mode,
                           const char *deflt)
{
    char at[OC_CONFIG_PATH_MAX + 1];
    struct stat st;
    size_t bad = 0;
    int r;

    if (path == NULL) {
        return;
    }
    check_dir(c, key, path, "root", mode);
    r = oc_rootdir_open(path, 0, (mode_t)(~mode & 077), 0, NULL, &bad);
    if (r == 0 || r == -ENOENT || bad >= sizeof(at)) {
        return; /* missing: check_dir() said how to make it */
    }
    memcpy(at, path, bad);
    at[bad] = '\0';
    bool self = path[strspn(path + bad, "/") + bad] == '\0';
    bool seen = lstat(at, &st) == 0;
    if (seen && S_ISLNK(st.st_mode)) {
        problem(c, c->path, 0,
                "%s %s: %s is a symlink: pam_openclaw refuses agents (a symlink on the way lets "
                "its owner redirect root): name the real directory in %s",
                key, path, at, key);
    } else if (self && r == -EPERM) {
        return; /* owner or mode of the directory itself: check_dir() said it */
    } else if (seen && r == -EPERM && st.st_uid != 0) {
        problem(c, c->path, 0,
                "%s %s: %s above it is owned by uid %u, not root: pam_openclaw refuses agents "
                "(that account could rename or replace the directory): choose a %s below "
                "root's directories only (default %s)",
                key, path, at, (unsigned)st.st_uid, key, deflt);
    } else if (seen && r == -EPERM) {
        problem(c, c->path, 0,
                "%s %s: %s above it has mode %04o (writable by group or others, not sticky): "
                "pam_openclaw refuses agents: chmod go-w %s",
                key, path, at, (unsigned)(st.st_mode & 07777), at);
    } else {
        problem(c, c->path, 0, "%s %s: %s: %s: pam_openclaw refuses agents", key, path, at,
                strerror(-r));
    }
}

/* keys.json in jwks_dir: openclaw-sync's, root's and not writable by others. */
static void check_keys_file(struct check *c, const char *dir)
{
    char path[OC_CONFIG_PATH_MAX + 32];
    struct stat st;

    if (dir == NULL ||
        snprintf(path, sizeof(path), "%s/%s", dir, OC_JWKS_FILE) >= (int)sizeof(path)) {
        return;
    }
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT) {
            warning(c, c->path, 0,
                    "%s does not exist yet: agents cannot log in until openclaw-sync fetched "
                    "the keys: systemctl enable --now openclaw-sync.timer openclaw-sync.path "
                    "(or run openclaw-sync once)",
                    path);
        }
        return;
    }
    if (!oc_rootfile_stat_ok(&st, 0)) {
        problem(c, c->path, 0,
                "%s is not a regular file of root's that only root can write: pam_openclaw "
                "refuses agents; remove it and run openclaw-sync (root writes it)",
                path);
    }
}

static void check_dirs(struct check *c, const struct oc_config *cfg)
{
    const struct oc_global *g = &cfg->global;
    const char *du = c->daemon_user;

    check_dir(c, "state_dir", g->state_dir, du, 0755);
    check_root_dir(c, "trust_dir", g->trust_dir, 0755, OC_DEFAULT_TRUST_DIR);
    check_root_dir(c, "jwks_dir", g->jwks_dir, 0755, OC_DEFAULT_JWKS_DIR);
    check_keys_file(c, g->jwks_dir);
    check_dir(c, "keys_dir", g->keys_dir, du, 0700);
    check_dir(c, "runtime_dir", g->runtime_dir, du, 0755);
    check_root_dir(c, "tally_dir", g->tally_dir, 0700, OC_DEFAULT_TALLY_DIR);
    if (g->socket != NULL) {
        char dir[OC_CONFIG_PATH_MAX + 1];
        (void)oc_strscpy(dir, sizeof(dir), g->socket);
        char *slash = strrchr(dir, '/');
        if (slash != NULL && slash != dir) {
            *slash = '\0';
            if (g->runtime_dir == NULL || strcmp(dir, g->runtime_dir) != 0) {
                check_dir(c, "socket directory", dir, du, 0755);
            }
        }
    }
    if (g->ca_file != NULL && access(g->ca_file, R_OK) < 0) {
        problem(c, c->path, 0, "ca_file %s: %s: give a readable PEM file or remove ca_file",
                g->ca_file, strerror(errno));
    }
}

/* A group in the group file; with the default file also through NSS (LDAP, sssd). */
static bool group_exists(const struct check *c, const char *name)
{
    return ctl_localdb_group(&c->db, name) != NULL ||
           (strcmp(c->db.group_path, CTL_GROUP_PATH) == 0 && getgrnam(name) != NULL);
}

static void check_agents(struct check *c, const struct oc_config *cfg)
{
    for (size_t i = 0; i < cfg->n_agents; i++) {
        const struct oc_agent *a = &cfg->agents[i];
        const struct ctl_local_entry *le;
        check_file(c, a->line, "key_file", a->key_file, true);
        check_file(c, a->line, "cert_file", a->cert_file, false);
        check_cert(c, a->line, a->cert_file);
        check_file(c, a->line, "sealed_file", a->sealed_file, true);
        check_file(c, a->line, "secret_file", a->secret_file, true);
        for (size_t k = 0; k < a->groups.n; k++) {
            if (!group_exists(c, a->groups.items[k])) {
                problem(c, c->path, a->line,
                        "[agent %s] groups: group '%s' does not exist: groupadd %s, or remove it",
                        a->name, a->groups.items[k], a->groups.items[k]);
            }
        }
        if ((le = ctl_localdb_user(&c->db, a->name)) != NULL) {
            problem(c, c->path, a->line,
                    "[agent %s]: %s:%u has a local user of that name (uid %u): the local user "
                    "wins and is never an agent, the agent cannot log in; rename the section "
                    "(and the agent's pinned name)",
                    a->name, c->db.passwd_path, le->line, (unsigned)le->id);
        }
        if ((le = ctl_localdb_group(&c->db, a->name)) != NULL) {
            problem(c, c->path, a->line,
                    "[agent %s]: %s:%u has a local group of that name (gid %u): the agent's "
                    "private group would be confused with it; rename the section",
                    a->name, c->db.group_path, le->line, (unsigned)le->id);
        }
    }
}

/*
 * The [directory] credential is root's: openclaw-sync (root) syncs and
 * disables service principals with it; the daemon account must not be
 * able to read it (docs/security.md, "The trust boundary").
 */
static void check_directory_credential(struct check *c, const struct oc_config *cfg)
{
    const struct oc_agent *a;
    const char *files[] = {NULL, NULL, NULL};
    const char *what[] = {"key_file", "secret_file", "sealed_file"};
    struct stat st;

    if (cfg->directory == NULL) {
        return;
    }
    a = &cfg->directory->agent;
    files[0] = a->key_file;
    files[1] = a->secret_file;
    files[2] = a->sealed_file;
    for (size_t i = 0; i < 3; i++) {
        if (files[i] == NULL || lstat(files[i], &st) < 0) {
            continue;
        }
        if (st.st_uid != 0 || (st.st_mode & 077) != 0) {
            problem(c, c->path, cfg->directory->line,
                    "[directory] %s %s is not root's alone (uid %u, mode %04o): the [directory] "
                    "credential is root's (openclaw-sync syncs with it; openclawd never needs it): "
                    "chown root:root %s && chmod 0600 %s",
                    what[i], files[i], (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
                    files[i], files[i]);
        }
    }
}

/* Agents of the directory data (with [directory]) named like a local user or group. */
static void check_dir_agents(struct check *c, const struct oc_config *cfg)
{
    char path[OC_CONFIG_PATH_MAX + 32];
    struct oc_dir *d = NULL;
    const char *why = NULL;

    if (cfg->directory == NULL) {
        return;
    }
    (void)snprintf(path, sizeof(path), "%s/%s", cfg->global.trust_dir, OC_DIR_FILE_NAME);
    if (oc_dir_load_file(path, cfg->global.uid_min, cfg->global.uid_max, &d, &why) < 0) {
        return; /* not synced yet, or openclawctl status says why */
    }
    for (size_t i = 0; i < d->n_agents; i++) {
        const struct oc_dir_agent *a = &d->agents[i];
        const struct ctl_local_entry *le = ctl_localdb_user(&c->db, a->name);
        if (le != NULL) {
            problem(c, path, 0,
                    "agent %s (app %s) has the name of a local user (%s:%u, uid %u): the local "
                    "user wins and the agent is refused; rename the local user, or pin the "
                    "agent another name in %s/names.json (docs/directory.md)",
                    a->name, a->app_id, c->db.passwd_path, le->line, (unsigned)le->id,
                    cfg->global.trust_dir);
        } else if ((le = ctl_localdb_group(&c->db, a->name)) != NULL) {
            problem(c, path, 0,
                    "agent %s (app %s) has the name of a local group (%s:%u, gid %u): its "
                    "private group would be confused with it; rename the group, or pin the "
                    "agent another name in %s/names.json (docs/directory.md)",
                    a->name, a->app_id, c->db.group_path, le->line, (unsigned)le->id,
                    cfg->global.trust_dir);
        }
    }
    oc_dir_free(d);
}

static void check_roles(struct check *c, const struct oc_config *cfg)
{
    for (size_t i = 0; i < cfg->n_roles; i++) {
        if (!group_exists(c, cfg->roles[i].group)) {
            problem(c, c->path, 0,
                    "[roles] %s = %s: group '%s' does not exist: groupadd --system %s",
                    cfg->roles[i].role, cfg->roles[i].group, cfg->roles[i].group,
                    cfg->roles[i].group);
        }
    }
}

static void check_uids(struct check *c, const struct oc_config *cfg)
{
    struct oc_idmap_entry *e = NULL;
    size_t n = 0;
    char err[512];
    int r = oc_idmap_assign(cfg, &e, &n, err, sizeof(err));

    if (r < 0) {
        problem(c, c->path, 0, "%s", err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct ctl_local_entry *pw = ctl_localdb_uid(&c->db, e[i].uid);
        if (pw != NULL && strcmp(pw->name, e[i].name) != 0) {
            problem(c, c->path, cfg->agents[e[i].agent].line,
                    "[agent %s] gets uid %u, which local user '%s' already has (%s:%u): pin "
                    "another uid with 'uid = N' in that section",
                    e[i].name, (unsigned)e[i].uid, pw->name, c->db.passwd_path, pw->line);
        }
        const struct ctl_local_entry *gr = ctl_localdb_gid(&c->db, e[i].gid);
        if (gr != NULL && strcmp(gr->name, e[i].name) != 0) {
            problem(c, c->path, cfg->agents[e[i].agent].line,
                    "[agent %s] gets gid %u, which local group '%s' already has (%s:%u): pin "
                    "another uid with 'uid = N'",
                    e[i].name, (unsigned)e[i].gid, gr->name, c->db.group_path, gr->line);
        }
    }
    free(e);
}

/* The line of "key =" in [section] of the config (0: not written there). */
static unsigned key_line(const char *path, const char *section, const char *key)
{
    FILE *f = fopen(path, "re");
    char line[CHECK_PAM_LINE_MAX + 2];
    unsigned ln = 0, found = 0;
    bool in = false;
    size_t kl = strlen(key), sl = strlen(section);

    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof(line), f) != NULL && ln < 1000000) {
        char *p = line;
        ln++;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '[') {
            in = strncmp(p + 1, section, sl) == 0 && p[1 + sl] == ']';
        } else if (in && strncmp(p, key, kl) == 0 &&
                   (p[kl] == ' ' || p[kl] == '\t' || p[kl] == '=')) {
            found = ln;
        }
    }
    fclose(f);
    return found;
}

/*
 * The agent uid range: never over the uids useradd hands out (login.defs'
 * UID_MIN..UID_MAX and SYS_UID_MIN..SYS_UID_MAX), never over a local user.
 */
static void check_range(struct check *c, const struct oc_config *cfg)
{
    uint32_t lo = cfg->global.uid_min, hi = cfg->global.uid_max;
    unsigned line = key_line(c->path, "global", "uid_min");
    const struct ctl_localdb *db = &c->db;
    struct {
        const char *what;
        uint32_t min, max;
        unsigned lmin, lmax;
    } ranges[] = {
            {"UID_MIN..UID_MAX", db->uid_min, db->uid_max, db->uid_min_line, db->uid_max_line},
            {"SYS_UID_MIN..SYS_UID_MAX", db->sys_uid_min, db->sys_uid_max, db->sys_uid_min_line,
             db->sys_uid_max_line},
    };

    if (line == 0) {
        line = key_line(c->path, "global", "uid_max");
    }
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        if (ranges[i].min <= ranges[i].max && lo <= ranges[i].max && ranges[i].min <= hi) {
            char where[64] = "";
            if (ranges[i].lmin > 0 || ranges[i].lmax > 0) {
                (void)snprintf(where, sizeof(where), ":%u",
                               ranges[i].lmax > 0 ? ranges[i].lmax : ranges[i].lmin);
            }
            problem(c, c->path, line,
                    "the agent uid range uid_min..uid_max = %u..%u overlaps %s = %u..%u of %s%s%s "
                    "(the uids useradd gives to local accounts): a new local account could take "
                    "an agent's uid; move the range above %u, e.g. leave uid_min/uid_max unset "
                    "(default %u..%u)",
                    (unsigned)lo, (unsigned)hi, ranges[i].what, (unsigned)ranges[i].min,
                    (unsigned)ranges[i].max, db->login_defs_path, where,
                    db->login_defs_read ? "" : " (its defaults: the file cannot be read)",
                    (unsigned)ranges[i].max, OC_DEFAULT_UID_MIN, OC_DEFAULT_UID_MAX);
        }
    }
    for (size_t i = 0; i < db->n_users; i++) {
        if (db->users[i].id >= lo && db->users[i].id <= hi) {
            problem(c, db->passwd_path, db->users[i].line,
                    "local user '%s' has uid %u, inside the agent uid range %u..%u of %s: it is "
                    "never an agent (local users never are) but its uid can be an agent's; move "
                    "the range (uid_min/uid_max) or give the user a uid outside it",
                    db->users[i].name, (unsigned)db->users[i].id, (unsigned)lo, (unsigned)hi,
                    c->path);
        }
    }
}

static void pam_include(struct pam_file *pf, const char *name, unsigned ln)
{
    if (pf->n_inc < CHECK_PAM_INCLUDE_MAX &&
        oc_strscpy(pf->inc[pf->n_inc], sizeof(pf->inc[0]), name) == 0) {
        pf->inc_line[pf->n_inc++] = ln;
    }
}

/*
 * One PAM file: lines naming pam_openclaw.so, their arguments checked
 * against the module's own table (pamargs.h); the files it includes.
 */
static void check_pam_file(struct check *c, const char *dir, struct pam_file *pf)
{
    char path[1024], line[CHECK_PAM_LINE_MAX + 2];
    unsigned ln = 0;
    FILE *f;
    int fd;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, pf->name) >= sizeof(path)) {
        return;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0 || (f = fdopen(fd, "r")) == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL && ln < 100000) {
        ln++;
        char *hash = strchr(line, '#'), *save = NULL, *tok;
        bool seen = false, uf = false, tf = false, helper = false;
        if (hash != NULL) {
            *hash = '\0';
        }
        /* type control module args...; control may be [ ... ] */
        tok = strtok_r(line, " \t\r\n", &save);
        if (tok == NULL) {
            continue;
        }
        if (strcmp(tok, "@include") == 0) {
            if ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
                pam_include(pf, tok, ln);
            }
            continue;
        }
        tok = strtok_r(NULL, " \t\r\n", &save);
        if (tok != NULL && tok[0] == '[') {
            while (tok != NULL && strchr(tok, ']') == NULL) {
                tok = strtok_r(NULL, " \t\r\n", &save);
            }
        } else if (tok != NULL && (strcmp(tok, "include") == 0 || strcmp(tok, "substack") == 0)) {
            if ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
                pam_include(pf, tok, ln);
            }
            continue;
        }
        while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
            const struct oc_pam_arg *d;
            const char *v;
            uint32_t num;
            char why[512];
            if (!seen) {
                const char *base = strrchr(tok, '/');
                base = base != NULL ? base + 1 : tok;
                seen = strcmp(base, "pam_openclaw.so") == 0;
                if (!seen) {
                    break;
                }
                if (pf->oc_line == 0) {
                    pf->oc_line = ln;
                }
                continue;
            }
            if (strchr(tok, '[') != NULL) {
                break; /* a bracketed argument with spaces: not ours to judge */
            }
            if (oc_pam_arg_parse(tok, &d, &v, &num, why, sizeof(why)) < 0) {
                problem(c, path, ln,
                        "pam_openclaw.so: argument '%s': %s (the module refuses the service)", tok,
                        why);
                continue;
            }
            uf |= d->id == OC_PAM_ARG_USE_FIRST_PASS;
            tf |= d->id == OC_PAM_ARG_TRY_FIRST_PASS;
            if (d->id == OC_PAM_ARG_MODE_HELPER || d->id == OC_PAM_ARG_MODE_TOKEN) {
                helper = d->id == OC_PAM_ARG_MODE_HELPER; /* the last one wins */
            }
        }
        if (helper && pf->helper_line == 0) {
            pf->helper_line = ln;
        }
        if (uf && tf) {
            problem(c, path, ln,
                    "pam_openclaw.so: use_first_pass and try_first_pass exclude "
                    "each other: keep one");
        }
    }
    fclose(f);
}

static struct pam_file *pam_find(struct check *c, const char *name)
{
    const char *base = strrchr(name, '/');

    base = base != NULL ? base + 1 : name;
    for (size_t i = 0; i < c->n_pam; i++) {
        if (strcmp(c->pam[i].name, base) == 0) {
            return &c->pam[i];
        }
    }
    return NULL;
}

/* Editor and package-manager leftovers that libpam never reads as a service. */
static bool pam_ignored(const char *name)
{
    size_t n = strlen(name);

    return name[0] == '.' || name[n - 1] == '~' || strstr(name, ".dpkg-") != NULL ||
           strstr(name, ".ucf-") != NULL || (n > 4 && strcmp(name + n - 4, ".bak") == 0);
}

/* A file named after a service, not one only included by others. */
static bool pam_is_service(const char *name)
{
    return strncmp(name, "common-", 7) != 0;
}

static void check_pam(struct check *c)
{
    DIR *d = opendir(c->pam_dir);
    struct dirent *de;
    bool changed = true;

    if (d == NULL) {
        return;
    }
    c->pam_read = true;
    c->pam = calloc(CHECK_PAM_FILES_MAX, sizeof(*c->pam));
    if (c->pam == NULL) {
        c->oom = true;
        closedir(d);
        return;
    }
    while ((de = readdir(d)) != NULL && c->n_pam < CHECK_PAM_FILES_MAX) {
        if (pam_ignored(de->d_name) ||
            oc_strscpy(c->pam[c->n_pam].name, sizeof(c->pam[0].name), de->d_name) < 0) {
            continue;
        }
        c->n_pam++;
    }
    closedir(d);
    for (size_t i = 0; i < c->n_pam; i++) {
        check_pam_file(c, c->pam_dir, &c->pam[i]);
        c->pam[i].uses = c->pam[i].oc_line > 0;
        c->pam[i].uses_line = c->pam[i].oc_line;
        c->pam[i].helper = c->pam[i].helper_line > 0;
        c->pam[i].helper_via = c->pam[i].helper_line;
    }
    /* through includes, a bounded number of rounds (include loops end here) */
    for (unsigned round = 0; changed && round < CHECK_PAM_INCLUDE_MAX; round++) {
        changed = false;
        for (size_t i = 0; i < c->n_pam; i++) {
            for (size_t k = 0; k < c->pam[i].n_inc; k++) {
                const struct pam_file *inc = pam_find(c, c->pam[i].inc[k]);
                if (inc != NULL && inc->uses && !c->pam[i].uses) {
                    c->pam[i].uses = true;
                    c->pam[i].uses_line = c->pam[i].inc_line[k];
                    changed = true;
                }
                if (inc != NULL && inc->helper && !c->pam[i].helper) {
                    c->pam[i].helper = true;
                    c->pam[i].helper_via = c->pam[i].inc_line[k];
                    changed = true;
                }
            }
        }
    }
}

/* The first common-* file that calls pam_openclaw: the profile is enabled. */
static const struct pam_file *pam_profile(const struct check *c)
{
    for (size_t i = 0; i < c->n_pam; i++) {
        if (!pam_is_service(c->pam[i].name) && c->pam[i].oc_line > 0) {
            return &c->pam[i];
        }
    }
    return NULL;
}

/* PAM services using pam_openclaw without a section, and sections no service uses. */
static void check_services(struct check *c, const struct oc_config *cfg)
{
    char path[1024], users[512] = "";
    size_t used = 0;
    bool has_default = false;

    if (!c->pam_read) {
        return;
    }
    for (size_t i = 0; i < cfg->n_services; i++) {
        has_default |= strcmp(cfg->services[i].name, "default") == 0;
    }
    for (size_t i = 0; i < c->n_pam; i++) {
        const struct pam_file *pf = &c->pam[i];
        bool found = false;
        if (!pf->uses || !pam_is_service(pf->name)) {
            continue;
        }
        if (used < sizeof(users)) {
            int w = snprintf(users + used, sizeof(users) - used, "%s%s", used > 0 ? ", " : "",
                             pf->name);
            used += w > 0 ? (size_t)w : 0;
        }
        for (size_t k = 0; k < cfg->n_services && !found; k++) {
            found = strcmp(cfg->services[k].name, pf->name) == 0;
        }
        if (!found && !has_default) {
            (void)snprintf(path, sizeof(path), "%s/%s", c->pam_dir, pf->name);
            warning(c, path, pf->uses_line,
                    "service '%s' uses pam_openclaw%s, but %s has no [service %s] and no "
                    "[service default]: every agent is refused there; add a [service %s] "
                    "section (require_role = ...), or take pam_openclaw out of this stack",
                    pf->name, pf->oc_line > 0 ? "" : " through an include", c->path, pf->name,
                    pf->name);
        }
    }
    /* No PAM service uses pam_openclaw yet (the module installed, not
     * enabled): sections waiting for it are not typos. */
    for (size_t k = 0; k < cfg->n_services && used > 0; k++) {
        const struct oc_service *s = &cfg->services[k];
        const struct pam_file *pf = pam_find(c, s->name);
        if (strcmp(s->name, "default") == 0 || (pf != NULL && pf->uses)) {
            continue;
        }
        warning(c, c->path, s->line,
                "[service %s]: %s, so the section is never used (a typo?); the services that "
                "use pam_openclaw: %s; rename the section or remove it",
                s->name,
                pf == NULL ? "no PAM file of that name in the PAM directory"
                           : "its PAM file does not call pam_openclaw",
                users);
    }
}

/*
 * One sudoers file: the first Defaults line (any binding) that sets
 * targetpw or runaspw, into where/where_line. A line continued with a
 * backslash is read as one.
 */
static void sudoers_scan(const char *path, char *where, size_t where_size, unsigned *where_line,
                         char *flag, size_t flag_size)
{
    char line[CHECK_PAM_LINE_MAX + 2];
    unsigned ln = 0, start = 0;
    bool defaults = false, cont = false;
    FILE *f;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

    if (fd < 0 || (f = fdopen(fd, "r")) == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    while (*where_line == 0 && fgets(line, sizeof(line), f) != NULL && ln < 100000) {
        char *save = NULL, *tok, *p;
        size_t n;
        ln++;
        n = strcspn(line, "\r\n");
        line[n] = '\0';
        p = line + strspn(line, " \t");
        if (!cont) {
            start = ln;
            defaults = strncmp(p, "Defaults", 8) == 0 && strchr(" \t:@>!", p[8]) != NULL &&
                       p[8] != '\0';
            if (defaults) {
                p += 8 + strcspn(p + 8, " \t"); /* the binding: Defaults:user, ... */
            }
        }
        cont = n > 0 && line[n - 1] == '\\';
        if (cont) {
            line[n - 1] = '\0';
        }
        if (!defaults || *p == '#') {
            continue;
        }
        for (tok = strtok_r(p, " \t,", &save); tok != NULL; tok = strtok_r(NULL, " \t,", &save)) {
            if (strcmp(tok, "targetpw") == 0 || strcmp(tok, "runaspw") == 0) {
                (void)oc_strscpy(flag, flag_size, tok);
                (void)oc_strscpy(where, where_size, path);
                *where_line = start;
                break;
            }
        }
    }
    fclose(f);
}

/* sudoers and the files of its .d directory, as sudo's includedir reads them. */
static void sudoers_find(const char *sudoers, char *where, size_t where_size, unsigned *where_line,
                         char *flag, size_t flag_size)
{
    char dir[1024], path[1280];
    struct dirent *de;
    unsigned n = 0;
    DIR *d;

    sudoers_scan(sudoers, where, where_size, where_line, flag, flag_size);
    if ((size_t)snprintf(dir, sizeof(dir), "%s.d", sudoers) >= sizeof(dir) ||
        (d = opendir(dir)) == NULL) {
        return;
    }
    while (*where_line == 0 && (de = readdir(d)) != NULL && n++ < CHECK_SUDOERS_FILES) {
        size_t len = strlen(de->d_name);
        /* sudo skips names ending in '~' or containing a '.' */
        if (strchr(de->d_name, '.') != NULL || de->d_name[len - 1] == '~' ||
            (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path)) {
            continue;
        }
        sudoers_scan(path, where, where_size, where_line, flag, flag_size);
    }
    closedir(d);
}

/*
 * mode=helper authenticates the agent without a credential and never asks
 * who is asking: right for sudo of the agent itself, wrong for su (anyone
 * who can run su becomes the agent) and for sudo when sudoers asks for the
 * target's password (targetpw, runaspw): the same hole.
 */
static void check_helper_mode(struct check *c)
{
    char where[1024] = "", flag[16] = "", path[1024];
    unsigned where_line = 0;
    bool sudo_read = false;

    for (size_t i = 0; i < c->n_pam; i++) {
        const struct pam_file *pf = &c->pam[i];
        bool su = strcmp(pf->name, "su") == 0 || strcmp(pf->name, "su-l") == 0;
        bool sudo = strcmp(pf->name, "sudo") == 0 || strcmp(pf->name, "sudo-i") == 0;
        if (!pf->helper || !(su || sudo)) {
            continue;
        }
        if (sudo && !sudo_read) {
            sudoers_find(c->sudoers, where, sizeof(where), &where_line, flag, sizeof(flag));
            sudo_read = true;
        }
        if (sudo && where_line == 0) {
            continue;
        }
        (void)snprintf(path, sizeof(path), "%s/%s", c->pam_dir, pf->name);
        if (su) {
            warning(c, path, pf->helper_via,
                    "service '%s' reaches pam_openclaw with mode=helper%s: mode=helper "
                    "authenticates without a credential, only for the agent itself (it never asks "
                    "who is asking), so anyone who may run su becomes the agent; use mode=helper "
                    "only for sudo without targetpw/runaspw, and mode=token here",
                    pf->name, pf->helper_line > 0 ? "" : " through an include");
        } else {
            warning(c, path, pf->helper_via,
                    "service '%s' reaches pam_openclaw with mode=helper%s while %s:%u sets %s: "
                    "sudo then authenticates the target user, and mode=helper authenticates "
                    "without a credential, only for the agent itself, so anyone who may sudo to "
                    "the agent becomes it; use mode=helper only for sudo without "
                    "targetpw/runaspw: remove %s, or use mode=token here",
                    pf->name, pf->helper_line > 0 ? "" : " through an include", where, where_line,
                    flag, flag);
        }
    }
}

/* Findings on stdout: "file:line: error: what: fix", then the count. */
static void print_text(const struct check *c)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct finding *f = &c->f[i];
        if (f->line > 0) {
            printf("%s:%u: %s: %s\n", f->file, f->line, f->warning ? "warning" : "error", f->msg);
        } else {
            printf("%s: %s: %s\n", f->file, f->warning ? "warning" : "error", f->msg);
        }
    }
    if (c->errors == 0 && c->warnings == 0) {
        printf("%s: OK\n", c->path);
    } else {
        printf("check-config: %u error%s, %u warning%s\n", c->errors, c->errors == 1 ? "" : "s",
               c->warnings, c->warnings == 1 ? "" : "s");
    }
}

static int print_json(const struct check *c, int rc)
{
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();

    if (o == NULL || arr == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(arr);
        return -ENOMEM;
    }
    cJSON_AddStringToObject(o, "config", c->path);
    cJSON_AddStringToObject(o, "result",
                            rc == CTL_EXIT_OK           ? "ok"
                            : rc == CHECK_EXIT_WARNINGS ? "warnings"
                            : rc == CTL_EXIT_USAGE      ? "unreadable"
                                                        : "errors");
    cJSON_AddNumberToObject(o, "errors", c->errors);
    cJSON_AddNumberToObject(o, "warnings", c->warnings);
    cJSON_AddItemToObject(o, "findings", arr);
    for (size_t i = 0; i < c->n; i++) {
        cJSON *e = cJSON_CreateObject();
        if (e == NULL) {
            break;
        }
        cJSON_AddStringToObject(e, "severity", c->f[i].warning ? "warning" : "error");
        cJSON_AddStringToObject(e, "file", c->f[i].file);
        cJSON_AddNumberToObject(e, "line", c->f[i].line);
        cJSON_AddStringToObject(e, "message", c->f[i].msg);
        cJSON_AddItemToArray(arr, e);
    }
    return ctl_json_print(o);
}

/* Read the whole config file (for the pass that collects every parse error). */
static char *read_config(const char *path, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    char *buf;

    if (fd < 0) {
        return NULL;
    }
    buf = malloc(OC_CONFIG_FILE_MAX + 1);
    if (buf == NULL || oc_read_full(fd, buf, OC_CONFIG_FILE_MAX + 1, ret_len) < 0 ||
        *ret_len > OC_CONFIG_FILE_MAX) {
        free(buf);
        close(fd);
        return NULL;
    }
    close(fd);
    buf[*ret_len] = '\0';
    return buf;
}

/* Blank line ln (1-based) with spaces, or the whole section when it is a header. */
static void blank_line(char *buf, size_t len, unsigned ln)
{
    size_t i = 0;
    unsigned cur = 1;
    bool header, first = true;

    while (i < len && cur < ln) {
        if (buf[i++] == '\n') {
            cur++;
        }
    }
    while (i < len && (buf[i] == ' ' || buf[i] == '\t')) {
        i++;
    }
    header = i < len && buf[i] == '[';
    for (; i < len; i++) {
        if (buf[i] == '\n') {
            if (!header) {
                break;
            }
            first = false;
            continue;
        }
        if (!first && buf[i] == '[' && buf[i - 1] == '\n') {
            break; /* the next section */
        }
        buf[i] = ' ';
    }
}

/*
 * The parser stops at the first error. Collect the others by parsing
 * again with each broken line (or section) blanked out, line numbers
 * kept. Returns the config parsed without the broken parts, or NULL.
 */
static struct oc_config *parse_all(struct check *c, const struct oc_config_error *first)
{
    struct oc_config_error err = *first;
    struct oc_config *cfg = NULL;
    size_t len = 0;
    char *buf = read_config(c->path, &len);
    int r = -EINVAL;

    for (unsigned i = 0, last = 0; i < CHECK_PARSE_ERRORS; i++) {
        problem(c, c->path, err.line, "%s", err.msg[0] != '\0' ? err.msg : "cannot be parsed");
        if (buf == NULL || err.line == 0 || err.line == last) {
            break; /* about the whole file, or a line already left out */
        }
        last = err.line;
        blank_line(buf, len, err.line);
        memset(&err, 0, sizeof(err));
        r = oc_config_parse(buf, len, c->path, OC_CONFIG_INSECURE_OK, &cfg, &err);
        if (r == 0) {
            break;
        }
    }
    free(buf);
    return r == 0 ? cfg : NULL;
}

int ctl_check_config(int argc, char **argv)
{
    static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"pam-dir", required_argument, NULL, 'p'},
            {"daemon-user", required_argument, NULL, 'u'},
            {"login-defs", required_argument, NULL, 'l'},
            {"passwd", required_argument, NULL, 'P'},
            {"group", required_argument, NULL, 'G'},
            {"sudoers", required_argument, NULL, 'S'},
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct check c = {.path = OC_CONFIG_PATH,
                      .pam_dir = CHECK_PAM_DIR,
                      .sudoers = CHECK_SUDOERS,
                      .daemon_user = CHECK_DAEMON_USER};
    struct oc_config *cfg = NULL;
    struct oc_config_error err;
    const struct pam_file *profile;
    struct passwd *pw;
    bool invalid = false, unreadable = false;
    int ch, r, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            c.path = optarg;
            break;
        case 'p':
            c.pam_dir = optarg;
            break;
        case 'u':
            if (!oc_valid_user_name(optarg)) {
                fprintf(stderr, "check-config: '%s' is not a user name\n", optarg);
                return CTL_EXIT_USAGE;
            }
            c.daemon_user = optarg;
            break;
        case 'l':
            c.db.login_defs_path = optarg;
            break;
        case 'P':
            c.db.passwd_path = optarg;
            break;
        case 'G':
            c.db.group_path = optarg;
            break;
        case 'S':
            c.sudoers = optarg;
            break;
        case 'j':
            c.json = true;
            break;
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        default:
            usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (ctl_localdb_load(&c.db) < 0) {
        fprintf(stderr, "check-config: out of memory\n");
        return CTL_EXIT_USAGE;
    }
    pw = getpwnam(c.daemon_user);
    if (pw != NULL) {
        c.daemon_known = true;
        c.daemon_uid = pw->pw_uid;
    }

    memset(&err, 0, sizeof(err));
    r = oc_config_load(c.path, 0, &cfg, &err);
    if (r == -EPERM || r == -ELOOP) {
        invalid = true; /* the module refuses it */
        check_config_file(&c);
        memset(&err, 0, sizeof(err));
        r = oc_config_load(c.path, OC_CONFIG_INSECURE_OK, &cfg, &err);
    }
    if (r == -ENOENT || r == -EACCES || r == -EFBIG || r == -ENOMEM || r == -EISDIR) {
        unreadable = invalid = true;
        if (err.msg[0] != '\0') {
            problem(&c, c.path, 0, "%s", err.msg);
        } else {
            problem(&c, c.path, 0, "%s: make it a regular file root can read", strerror(-r));
        }
    } else if (r < 0) {
        invalid = true;
        cfg = parse_all(&c, &err);
        if (cfg != NULL) {
            warning(&c, c.path, 0,
                    "the checks below ran on the file with the broken lines left out");
        }
    }
    if (cfg != NULL) {
        if (!c.daemon_known) {
            problem(&c, c.path, 0,
                    "the daemon user '%s' does not exist: adduser --system --group --home "
                    "/var/lib/openclaw %s && adduser %s tss (or pass --daemon-user)",
                    c.daemon_user, c.daemon_user, c.daemon_user);
        }
        check_dirs(&c, cfg);
        check_range(&c, cfg);
        check_agents(&c, cfg);
        check_dir_agents(&c, cfg);
        check_directory_credential(&c, cfg);
        check_roles(&c, cfg);
        check_uids(&c, cfg);
    }
    check_pam(&c);
    check_helper_mode(&c);
    if (cfg != NULL) {
        check_services(&c, cfg);
    }
    profile = pam_profile(&c);
    if (invalid && profile != NULL) {
        char where[1024];
        (void)snprintf(where, sizeof(where), "%s/%s", c.pam_dir, profile->name);
        problem(&c, where, profile->oc_line,
                "the openclaw PAM profile is enabled (pam_openclaw in the common stacks) while "
                "%s is invalid: every agent is refused on every service; fix the errors below, "
                "or disable the profile first with pam-auth-update --disable openclaw",
                c.path);
        to_front(&c);
    }
    oc_config_free(cfg);
    rc = unreadable       ? CTL_EXIT_USAGE
         : c.errors > 0   ? CTL_EXIT_REFUSED
         : c.warnings > 0 ? CHECK_EXIT_WARNINGS
                          : CTL_EXIT_OK;
    if (c.oom) {
        fprintf(stderr, "check-config: out of memory: some findings were lost\n");
        rc = rc == CTL_EXIT_OK || rc == CHECK_EXIT_WARNINGS ? CTL_EXIT_REFUSED : rc;
    }
    if (c.json) {
        if (print_json(&c, rc) < 0) {
            fprintf(stderr, "check-config: out of memory\n");
        }
    } else if (unreadable) {
        for (size_t i = 0; i < c.n; i++) {
            fprintf(stderr, "check-config: %s: %s\n", c.f[i].file, c.f[i].msg);
        }
    } else {
        print_text(&c);
    }
    free_findings(&c);
    free(c.pam);
    ctl_localdb_free(&c.db);
    return rc;
}
