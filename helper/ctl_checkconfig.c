/* SPDX-License-Identifier: MIT */
/*
 * ctl_checkconfig.c: `openclawctl check-config`, every problem of the
 * configuration and the host files it names, each with file:line and the
 * fix. Beyond the parser (which stops at the first error): ownership and
 * modes of the config, key, certificate, sealed and secret files and of
 * the state directories (DESIGN.md's Files table), [roles] and agent
 * groups that do not exist, uid collisions between agents and with local
 * users, and PAM stacks that give pam_openclaw an unknown argument.
 *
 * Exit status: 0 no problem, 1 problems found, 2 the file cannot be read.
 * Read only: it changes nothing.
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

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf.h"
#include "helper/ctl.h"
#include "idmap.h"
#include "util.h"

#define CHECK_PAM_DIR       "/etc/pam.d"
#define CHECK_DAEMON_USER   "openclaw"
#define CHECK_PAM_LINE_MAX  4096
#define CHECK_PAM_FILES_MAX 512
#define CHECK_CERT_WARN     (14 * 86400) /* a certificate expiring sooner is reported */

struct check {
    const char *path;
    const char *pam_dir;
    const char *daemon_user;
    uid_t daemon_uid;
    bool daemon_known;
    unsigned problems;
    unsigned notes;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: openclawctl check-config [--config FILE] [--pam-dir DIR] [--daemon-user "
            "USER]\n\n"
            "Loads the configuration and reports every problem with file:line and the fix:\n"
            "parse errors, files and directories (existence, owner, mode), [roles] groups,\n"
            "uid collisions, pam_openclaw arguments in the PAM stacks (default %s).\n"
            "Exit status: 0 no problem, 1 problems found, 2 the file cannot be read.\n",
            CHECK_PAM_DIR);
}

static void problem(struct check *c, const char *file, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void problem(struct check *c, const char *file, unsigned line, const char *fmt, ...)
{
    va_list ap;

    if (line > 0) {
        printf("%s:%u: ", file, line);
    } else {
        printf("%s: ", file);
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    c->problems++;
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
        problem(c, c->path, line,
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

static void check_dirs(struct check *c, const struct oc_config *cfg)
{
    const struct oc_global *g = &cfg->global;
    const char *du = c->daemon_user;

    check_dir(c, "state_dir", g->state_dir, du, 0755);
    check_dir(c, "jwks_dir", g->jwks_dir, du, 0755);
    check_dir(c, "keys_dir", g->keys_dir, du, 0700);
    check_dir(c, "runtime_dir", g->runtime_dir, du, 0755);
    check_dir(c, "tally_dir", g->tally_dir, "root", 0700);
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

static void check_agents(struct check *c, const struct oc_config *cfg)
{
    for (size_t i = 0; i < cfg->n_agents; i++) {
        const struct oc_agent *a = &cfg->agents[i];
        check_file(c, a->line, "key_file", a->key_file, true);
        check_file(c, a->line, "cert_file", a->cert_file, false);
        check_cert(c, a->line, a->cert_file);
        check_file(c, a->line, "sealed_file", a->sealed_file, true);
        check_file(c, a->line, "secret_file", a->secret_file, true);
        for (size_t k = 0; k < a->groups.n; k++) {
            if (getgrnam(a->groups.items[k]) == NULL) {
                problem(c, c->path, a->line,
                        "[agent %s] groups: group '%s' does not exist: groupadd %s, or remove it",
                        a->name, a->groups.items[k], a->groups.items[k]);
            }
        }
        struct passwd *pw = getpwnam(a->name);
        if (pw != NULL && (pw->pw_uid < cfg->global.uid_min || pw->pw_uid > cfg->global.uid_max)) {
            problem(c, c->path, a->line,
                    "[agent %s]: a local user of that name exists (uid %u): the agent would "
                    "shadow or be shadowed by it; rename the section",
                    a->name, (unsigned)pw->pw_uid);
        }
    }
}

static void check_roles(struct check *c, const struct oc_config *cfg)
{
    for (size_t i = 0; i < cfg->n_roles; i++) {
        if (getgrnam(cfg->roles[i].group) == NULL) {
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
        struct passwd *pw = getpwuid(e[i].uid);
        if (pw != NULL && strcmp(pw->pw_name, e[i].name) != 0) {
            problem(c, c->path, cfg->agents[e[i].agent].line,
                    "[agent %s] gets uid %u, which local user '%s' already has: pin another "
                    "uid with 'uid = N' in that section",
                    e[i].name, (unsigned)e[i].uid, pw->pw_name);
        }
        struct group *gr = getgrgid(e[i].gid);
        if (gr != NULL && strcmp(gr->gr_name, e[i].name) != 0) {
            problem(c, c->path, cfg->agents[e[i].agent].line,
                    "[agent %s] gets gid %u, which local group '%s' already has: pin another "
                    "uid with 'uid = N'",
                    e[i].name, (unsigned)e[i].gid, gr->gr_name);
        }
    }
    free(e);
}

static bool known_pam_arg(const char *a)
{
    static const char *const flags[] = {"debug",   "use_first_pass", "try_first_pass",
                                        "nodelay", "mode=helper",    "mode=token"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        if (strcmp(a, flags[i]) == 0) {
            return true;
        }
    }
    return (strncmp(a, "config=/", 8) == 0) || (strncmp(a, "prompt=", 7) == 0 && a[7] != '\0') ||
           (strncmp(a, "require_role=", 13) == 0 && a[13] != '\0');
}

/* One PAM service file: lines naming pam_openclaw.so, their arguments checked. */
static void check_pam_file(struct check *c, const char *dir, const char *name)
{
    char path[1024], line[CHECK_PAM_LINE_MAX + 2];
    unsigned ln = 0;
    FILE *f;
    int fd;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        return;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0 || (f = fdopen(fd, "r")) == NULL) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        ln++;
        char *hash = strchr(line, '#'), *save = NULL, *tok;
        bool seen = false, uf = false, tf = false;
        if (hash != NULL) {
            *hash = '\0';
        }
        if (strstr(line, "pam_openclaw") == NULL) {
            continue;
        }
        /* type control module args...; control may be [ ... ] */
        tok = strtok_r(line, " \t\r\n", &save);
        if (tok == NULL) {
            continue;
        }
        tok = strtok_r(NULL, " \t\r\n", &save);
        if (tok != NULL && tok[0] == '[') {
            while (tok != NULL && strchr(tok, ']') == NULL) {
                tok = strtok_r(NULL, " \t\r\n", &save);
            }
        }
        while ((tok = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
            if (!seen) {
                const char *base = strrchr(tok, '/');
                base = base != NULL ? base + 1 : tok;
                seen = strcmp(base, "pam_openclaw.so") == 0;
                if (!seen) {
                    break;
                }
                continue;
            }
            if (strchr(tok, '[') != NULL) {
                break; /* a bracketed argument with spaces: not ours to judge */
            }
            uf |= strcmp(tok, "use_first_pass") == 0;
            tf |= strcmp(tok, "try_first_pass") == 0;
            if (!known_pam_arg(tok)) {
                problem(c, path, ln,
                        "pam_openclaw.so: unknown argument '%s' (the module refuses the "
                        "service): known are config=/PATH debug use_first_pass try_first_pass "
                        "nodelay prompt=TEXT require_role=ROLES mode=token|helper",
                        tok);
            }
        }
        if (uf && tf) {
            problem(c, path, ln,
                    "pam_openclaw.so: use_first_pass and try_first_pass exclude "
                    "each other: keep one");
        }
    }
    fclose(f);
}

static void check_pam(struct check *c)
{
    DIR *d = opendir(c->pam_dir);
    struct dirent *de;
    unsigned n = 0;

    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL && n < CHECK_PAM_FILES_MAX) {
        if (de->d_name[0] == '.') {
            continue;
        }
        n++;
        check_pam_file(c, c->pam_dir, de->d_name);
    }
    closedir(d);
}

int ctl_check_config(int argc, char **argv)
{
    static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"pam-dir", required_argument, NULL, 'p'},
            {"daemon-user", required_argument, NULL, 'u'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct check c = {
            .path = OC_CONFIG_PATH, .pam_dir = CHECK_PAM_DIR, .daemon_user = CHECK_DAEMON_USER};
    struct oc_config *cfg = NULL;
    struct oc_config_error err;
    struct passwd *pw;
    char msg[1024];
    int ch, r;

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
    pw = getpwnam(c.daemon_user);
    if (pw != NULL) {
        c.daemon_known = true;
        c.daemon_uid = pw->pw_uid;
    }

    memset(&err, 0, sizeof(err));
    r = oc_config_load(c.path, 0, &cfg, &err);
    if (r == -EPERM || r == -ELOOP) {
        check_config_file(&c);
        memset(&err, 0, sizeof(err));
        r = oc_config_load(c.path, OC_CONFIG_INSECURE_OK, &cfg, &err);
    }
    if (r == -ENOENT || r == -EACCES || r == -EFBIG || r == -ENOMEM || r == -EISDIR) {
        if (oc_config_error_format(&err, msg, sizeof(msg)) < 0 || msg[0] == '\0') {
            (void)snprintf(msg, sizeof(msg), "%s: %s", c.path, strerror(-r));
        }
        fprintf(stderr, "check-config: %s\n", msg);
        return CTL_EXIT_USAGE;
    }
    if (r < 0) {
        if (oc_config_error_format(&err, msg, sizeof(msg)) < 0 || msg[0] == '\0') {
            (void)snprintf(msg, sizeof(msg), "%s: %s", c.path, strerror(-r));
        }
        printf("%s\n", msg);
        c.problems++;
        /* the parser stops at the first error; the PAM stacks are still worth a look */
        check_pam(&c);
        printf("check-config: %u problem%s (fix the first one and run again: the rest of the "
               "file was not read)\n",
               c.problems, c.problems == 1 ? "" : "s");
        return CTL_EXIT_REFUSED;
    }
    if (!c.daemon_known) {
        problem(&c, c.path, 0,
                "the daemon user '%s' does not exist: adduser --system --group --home "
                "/var/lib/openclaw %s && adduser %s tss (or pass --daemon-user)",
                c.daemon_user, c.daemon_user, c.daemon_user);
    }
    check_dirs(&c, cfg);
    check_agents(&c, cfg);
    check_roles(&c, cfg);
    check_uids(&c, cfg);
    check_pam(&c);
    oc_config_free(cfg);
    if (c.problems == 0) {
        printf("%s: OK\n", c.path);
        return CTL_EXIT_OK;
    }
    printf("check-config: %u problem%s\n", c.problems, c.problems == 1 ? "" : "s");
    return CTL_EXIT_REFUSED;
}
