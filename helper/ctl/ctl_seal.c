/* SPDX-License-Identifier: MIT */
/*
 * openclawctl seal NAME: put an agent's client secret where openclawd
 * finds it, sealed to this host's TPM.
 *
 * The agent's [agent NAME] section must say credential = tpm-sealed-secret;
 * its sealed_file (default <keys_dir>/NAME.sealed) is written atomically
 * (temporary file, fsync, rename), mode 0600, owned by the daemon's user
 * (openclaw) when root runs this, so that openclawd can read it and nobody
 * else. The secret is read from standard input (without echo on a
 * terminal), at most OC_SEAL_SECRET_MAX bytes; one trailing newline is not
 * part of it. Every buffer that held it is wiped before it is freed.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "conf.h"
#include "helper/ctl/ctl.h"
#include "helper/ctl/ctl_tpm.h"
#include "helper/creds/oc_sealed.h"
#include "util.h"

/* The longest secret openclawd accepts from a sealed file (oc_sealed.h). */
#define OC_SEAL_SECRET_MAX (OC_SEALED_SECRET_BUF - 1)
#define SEAL_DAEMON_USER   "openclaw"

static void seal_usage(FILE *f)
{
    fprintf(f,
            "Usage: openclawctl seal NAME [--config FILE] [--tcti STRING] [--parent "
            "ecc|rsa|0x81...]\n"
            "                        [--pcrs [sha256:]N[,N...]] [--daemon-user USER]\n\n"
            "Reads agent NAME's client secret on standard input (no echo on a terminal; at\n"
            "most %d bytes; a trailing newline is dropped), seals it to this host's TPM and\n"
            "writes it to the sealed_file of [agent NAME] (credential = tpm-sealed-secret),\n"
            "atomically, mode 0600, owned by USER (default %s) when run as root.\n"
            "--pcrs binds the secret to those PCR values (it then unseals only while they\n"
            "hold). Exit status: 0 sealed, 1 the TPM or the file refused, 2 usage or\n"
            "configuration error.\n",
            OC_SEAL_SECRET_MAX, SEAL_DAEMON_USER);
}

/* ---- the secret, from a terminal without echo or from a pipe ---- */

static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

static void restore_tty(void)
{
    if (tty_changed) {
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
        tty_changed = 0;
    }
}

/* Ctrl-C while echo is off: give the terminal back, then die of the signal. */
static void on_signal(int sig)
{
    restore_tty();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int echo_off(void)
{
    struct termios t;
    struct sigaction sa;

    if (tcgetattr(STDIN_FILENO, &saved_tty) < 0) {
        return -errno;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGHUP, &sa, NULL);
    (void)sigaction(SIGQUIT, &sa, NULL);
    t = saved_tty;
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    t.c_lflag |= ICANON;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) < 0) {
        return -errno;
    }
    tty_changed = 1;
    return 0;
}

/*
 * Read the secret into buf (cap + 2 bytes): from a terminal one line, else
 * everything up to EOF. Returns the length without the trailing newline,
 * -EFBIG when longer than cap, or a negative errno.
 */
static ssize_t read_secret(const char *name, uint8_t *buf, size_t cap)
{
    bool tty = isatty(STDIN_FILENO) != 0;
    size_t n = 0;
    int r;

    if (tty) {
        fprintf(stderr, "Client secret of agent %s (not shown): ", name);
        fflush(stderr);
        r = echo_off();
        if (r < 0) {
            fprintf(stderr, "\n");
            return r;
        }
    }
    for (;;) {
        ssize_t k = read(STDIN_FILENO, buf + n, cap + 1 - n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            r = -errno;
            restore_tty();
            return r;
        }
        if (k == 0) {
            break;
        }
        n += (size_t)k;
        /* a terminal delivers one line per read */
        if (n > cap || (tty && buf[n - 1] == '\n')) {
            break;
        }
    }
    if (tty) {
        restore_tty();
        fprintf(stderr, "\n");
    }
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r') {
            n--;
        }
    }
    if (n > cap) {
        return -EFBIG;
    }
    return (ssize_t)n;
}

/* ---- where the blob goes, and for whom ---- */

struct seal_args {
    const char *config;
    const char *tcti;
    const char *parent;
    const char *pcrs;
    const char *daemon_user;
    unsigned cflags;
    const char *name;
};

/* The agent's section, which must be a tpm-sealed-secret one. Exit code. */
static int find_agent(const struct oc_config *cfg, const struct seal_args *s,
                      const struct oc_agent **ret)
{
    const struct oc_agent *a = oc_config_agent_by_name(cfg, s->name);
    const char *kind;

    if (a == NULL) {
        fprintf(stderr,
                "openclawctl seal: %s has no [agent %s] section: add the section with "
                "credential = tpm-sealed-secret first (openclawctl agent list shows the "
                "agents)\n",
                s->config, s->name);
        return CTL_EXIT_USAGE;
    }
    if (a->credential != OC_CRED_TPM_SEALED_SECRET) {
        kind = oc_credential_name(a->credential);
        fprintf(stderr,
                "openclawctl seal: agent %s (%s line %u) has credential = %s, not "
                "tpm-sealed-secret: nothing of it is sealed; set credential = "
                "tpm-sealed-secret in its section to use a sealed client secret\n",
                s->name, s->config, a->line, kind != NULL ? kind : "(none)");
        return CTL_EXIT_USAGE;
    }
    if (a->sealed_file == NULL) {
        fprintf(stderr, "openclawctl seal: agent %s has no sealed_file: set one in its section\n",
                s->name);
        return CTL_EXIT_USAGE;
    }
    *ret = a;
    return CTL_EXIT_OK;
}

/*
 * The owner of the file: the daemon's user when root runs this (so that
 * openclawd, which runs as that user, can read a 0600 file); otherwise the
 * caller (fchown needs root), with a note.
 */
static int file_owner(const struct seal_args *s, uid_t *ret_uid, gid_t *ret_gid)
{
    struct passwd *pw;

    *ret_uid = (uid_t)-1;
    *ret_gid = (gid_t)-1;
    if (geteuid() != 0) {
        fprintf(stderr,
                "openclawctl seal: note: not root: the file stays yours (uid %u); openclawd "
                "reads it only when it runs as that uid\n",
                (unsigned)geteuid());
        return 0;
    }
    errno = 0;
    pw = getpwnam(s->daemon_user);
    if (pw == NULL) {
        fprintf(stderr,
                "openclawctl seal: the daemon's user %s does not exist: create it (the "
                "package's sysusers.d snippet does: systemd-sysusers), or name the user "
                "openclawd runs as with --daemon-user\n",
                s->daemon_user);
        return -ENOENT;
    }
    *ret_uid = pw->pw_uid;
    *ret_gid = pw->pw_gid;
    return 0;
}

/* The directory of path must exist; say how to make it when it does not. */
static int check_dir(const char *path)
{
    char dir[OC_CONFIG_PATH_MAX + 1];
    char *slash;
    struct stat st;

    if (oc_strscpy(dir, sizeof(dir), path) < 0) {
        fprintf(stderr, "openclawctl seal: path too long: %s\n", path);
        return -ENAMETOOLONG;
    }
    slash = strrchr(dir, '/');
    if (slash == NULL) {
        return 0;
    }
    *(slash == dir ? slash + 1 : slash) = '\0';
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr,
                "openclawctl seal: the directory %s of sealed_file does not exist: create it "
                "(install -d -o openclaw -g openclaw -m 0700 %s)\n",
                dir, dir);
        return -ENOENT;
    }
    return 0;
}

static int seal_run(const struct seal_args *s)
{
    struct oc_config *cfg = NULL;
    const struct oc_agent *a = NULL;
    struct ctl_tpm_target t;
    uint8_t *secret = NULL;
    size_t cap = OC_SEAL_SECRET_MAX, len;
    ssize_t n;
    uid_t uid;
    gid_t gid;
    int rc;

    if (ctl_config_load("openclawctl seal", s->config, s->cflags, &cfg) < 0) {
        return CTL_EXIT_USAGE;
    }
    rc = find_agent(cfg, s, &a);
    if (rc != CTL_EXIT_OK) {
        goto out;
    }
    rc = CTL_EXIT_USAGE;
    if (check_dir(a->sealed_file) < 0 || file_owner(s, &uid, &gid) < 0) {
        goto out;
    }
    secret = malloc(cap + 2);
    if (secret == NULL) {
        fprintf(stderr, "openclawctl seal: out of memory\n");
        rc = CTL_EXIT_REFUSED;
        goto out;
    }
    n = read_secret(s->name, secret, cap);
    if (n < 0) {
        fprintf(stderr, "openclawctl seal: cannot read the secret on standard input: %s\n",
                n == -EFBIG ? "longer than the longest client secret openclawd takes"
                            : strerror((int)-n));
        goto out;
    }
    len = (size_t)n;
    if (len == 0) {
        fprintf(stderr, "openclawctl seal: the secret is empty: nothing sealed (give the "
                        "client secret on standard input)\n");
        goto out;
    }
    if (memchr(secret, 0, len) != NULL) {
        fprintf(stderr, "openclawctl seal: the secret holds a NUL byte: a client secret is "
                        "text; nothing sealed\n");
        goto out;
    }
    memset(&t, 0, sizeof(t));
    t.tcti = s->tcti != NULL ? s->tcti : cfg->global.tcti;
    t.keys_dir = cfg->global.keys_dir;
    t.allow_software_keys = cfg->global.allow_software_keys;
    rc = ctl_tpm_seal_file(&t, s->parent, s->pcrs, secret, len, a->sealed_file, uid, gid);
    if (rc == CTL_EXIT_OK) {
        printf("sealed: the client secret of agent %s (%zu bytes%s) in %s, for user %s\n", s->name,
               len, s->pcrs != NULL ? ", PCR policy" : "", a->sealed_file,
               uid != (uid_t)-1 ? s->daemon_user : "(the caller)");
    }
out:
    if (secret != NULL) {
        oc_free_wipe(secret, cap + 2);
    }
    oc_config_free(cfg);
    return rc;
}

int ctl_seal(int argc, char **argv)
{
    static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"tcti", required_argument, NULL, 't'},
            {"parent", required_argument, NULL, 'p'},
            {"pcrs", required_argument, NULL, 'P'},
            {"daemon-user", required_argument, NULL, 'u'},
            {"insecure-config", no_argument, NULL, 'I'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct seal_args s = {.config = OC_CONFIG_PATH, .daemon_user = SEAL_DAEMON_USER};
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            s.config = optarg;
            break;
        case 't':
            s.tcti = optarg;
            break;
        case 'p':
            s.parent = optarg;
            break;
        case 'P':
            s.pcrs = optarg;
            break;
        case 'u':
            s.daemon_user = optarg;
            break;
        case 'I':
            s.cflags = OC_CONFIG_INSECURE_OK;
            break;
        case 'h':
            seal_usage(stdout);
            return CTL_EXIT_OK;
        default:
            seal_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        seal_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    s.name = argv[optind];
    if (!oc_valid_user_name(s.name)) {
        fprintf(stderr, "openclawctl seal: '%s' is not a valid agent name\n", s.name);
        return CTL_EXIT_USAGE;
    }
    /* tpm2-tss logs failed commands to stderr itself; we explain them once */
    setenv("TSS2_LOG", "all+none", 0);
    return seal_run(&s);
}
