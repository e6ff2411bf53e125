/* SPDX-License-Identifier: MIT */
/*
 * openclaw-authorized-keys: sshd's AuthorizedKeysCommand for agents.
 *
 *   AuthorizedKeysCommand /usr/sbin/openclaw-authorized-keys %u
 *   AuthorizedKeysCommandUser nobody
 *
 * Prints, in authorized_keys format, the public keys of the certificate
 * credentials registered on the agent's Entra application, as openclawd's
 * directory sync last saw them (directory.json: no network here), and
 * only those valid now by their start and end dates. Each line carries
 * from="..." with the networks of [service sshd] allow_networks (nothing
 * when that is "any"). Prints nothing for a name that is not a synced,
 * enabled agent, or whose passwd entry is not exactly that agent's uid (a
 * local user with the same name is never given an agent's keys). The PAM
 * account phase still decides (role, network, time, lockout).
 *
 * Exit status: 0 (keys printed or none), 1 when the config or the
 * directory data cannot be read (sshd then offers no key), 2 usage.
 * Messages go to standard error, which sshd logs.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "directory.h"
#include "rootdir.h"
#include "util.h"

#define AK_FROM_MAX 4096
#define AK_PWBUF    16384

static void usage(FILE *f)
{
    fprintf(f, "Usage: openclaw-authorized-keys [--config FILE] [--service NAME] USER\n"
               "Print the agent's registered certificate keys for sshd's\n"
               "AuthorizedKeysCommand (from the directory data openclawd syncs).\n");
}

/* from="net,net" for the service's allow_networks; "" when any. */
static int from_option(const struct oc_service *svc, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    if (svc == NULL || svc->allow_networks.any || svc->allow_networks.n == 0) {
        return 0;
    }
    used = (size_t)snprintf(buf, len, "from=\"");
    for (size_t i = 0; i < svc->allow_networks.n; i++) {
        const struct oc_net *n = &svc->allow_networks.nets[i];
        char addr[INET6_ADDRSTRLEN];
        if (inet_ntop(n->family, n->addr, addr, sizeof(addr)) == NULL) {
            return -EINVAL;
        }
        int w = snprintf(buf + used, len - used, "%s%s/%u", i > 0 ? "," : "", addr, n->prefix);
        if (w < 0 || (size_t)w >= len - used) {
            return -ENOBUFS;
        }
        used += (size_t)w;
    }
    if (used + 3 > len) {
        return -ENOBUFS;
    }
    memcpy(buf + used, "\" ", 3);
    return 0;
}

/* The key text must be one plain authorized_keys key: "TYPE BASE64". */
static bool plain_key(const char *s)
{
    const char *sp = strchr(s, ' ');
    if (sp == NULL || strchr(sp + 1, ' ') != NULL || sp[1] == '\0') {
        return false;
    }
    if (strncmp(s, "ssh-rsa ", 8) != 0 && strncmp(s, "ecdsa-sha2-nistp256 ", 20) != 0 &&
        strncmp(s, "ecdsa-sha2-nistp384 ", 20) != 0 && strncmp(s, "ssh-ed25519 ", 12) != 0) {
        return false;
    }
    for (const char *p = sp + 1; *p != '\0'; p++) {
        bool ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= '0' && *p <= '9') || *p == '+' || *p == '/' || *p == '=';
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* root's directory.json, as pam_openclaw reads it: trust_dir walked from
 * "/" (root's all the way, no symlink), the file opened relative to it and
 * accepted only as root's, not writable by others (docs/security.md, "The
 * trust boundary"). sshd runs this as AuthorizedKeysCommandUser, often
 * nobody: the keys it prints let a login in. */
static int load_directory(const struct oc_config *cfg, struct oc_dir **ret, const char **ret_why)
{
    int dfd = -1, fd = -1, r;

    *ret_why = NULL;
    r = oc_rootdir_open(cfg->global.trust_dir, 0, 022, 0, &dfd, NULL);
    if (r < 0) {
        *ret_why = r == -EPERM   ? "trust_dir or a directory above it is not root's, or is "
                                   "writable by others"
                   : r == -ELOOP ? "a symlink in trust_dir's path"
                                 : NULL;
        return r;
    }
    r = oc_rootfile_open(dfd, OC_DIR_FILE_NAME, O_RDONLY, 0, false, &fd, NULL);
    close(dfd);
    if (r < 0) {
        *ret_why = r == -EPERM    ? "not root's, or writable by group or others: only "
                                    "openclaw-sync (root) may write it"
                   : r == -ELOOP  ? "a symlink: refused"
                   : r == -EINVAL ? "not a regular file"
                                  : NULL;
        return r;
    }
    r = oc_dir_load_fd(fd, cfg->global.uid_min, cfg->global.uid_max, ret, ret_why);
    close(fd);
    return r;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"service", required_argument, NULL, 's'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *config_path = OC_CONFIG_PATH, *service = "sshd", *user;
    struct oc_config *cfg = NULL;
    struct oc_config_error err;
    struct oc_dir *dir = NULL;
    const struct oc_dir_agent *a;
    char path[OC_CONFIG_PATH_MAX + 32], from[AK_FROM_MAX], msg[1024];
    const char *why = NULL;
    int opt, r, rc = 1;

    while ((opt = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 's':
            service = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    user = argv[optind];
    if (!oc_valid_user_name(user)) {
        /* sshd passes what the client sent: never an agent, nothing to say */
        fprintf(stderr, "openclaw-authorized-keys: not a valid user name; no keys\n");
        return 0;
    }
    r = oc_config_load(config_path, 0, &cfg, &err);
    if (r < 0) {
        (void)oc_config_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "openclaw-authorized-keys: %s\n", msg);
        return 1;
    }
    if (cfg->directory == NULL) {
        /* keys come only from the synced directory data */
        rc = 0;
        goto out;
    }
    (void)snprintf(path, sizeof(path), "%s/%s", cfg->global.trust_dir, OC_DIR_FILE_NAME);
    r = load_directory(cfg, &dir, &why);
    if (r < 0) {
        fprintf(stderr,
                "openclaw-authorized-keys: cannot use %s: %s (openclaw-sync, as root, writes it: "
                "see openclawctl status)\n",
                path, why != NULL ? why : strerror(-r));
        goto out;
    }
    rc = 0;
    a = oc_dir_by_name(dir, user);
    if (a == NULL || !a->enabled || a->n_keys == 0) {
        goto out;
    }
    {
        struct passwd pw, *res = NULL;
        char *buf = malloc(AK_PWBUF);
        bool same = buf != NULL && getpwnam_r(user, &pw, buf, AK_PWBUF, &res) == 0 && res != NULL &&
                    res->pw_uid == (uid_t)a->uid && a->uid != 0;
        free(buf);
        if (!same) {
            fprintf(stderr,
                    "openclaw-authorized-keys: %s is not agent uid %u in passwd (a local user "
                    "of that name, or NSS without openclaw); no keys\n",
                    user, a->uid);
            goto out;
        }
    }
    if (from_option(oc_config_service(cfg, service), from, sizeof(from)) < 0) {
        fprintf(stderr, "openclaw-authorized-keys: allow_networks too long for from=; no keys\n");
        goto out;
    }
    int64_t now = oc_now();
    for (size_t i = 0; i < a->n_keys; i++) {
        const struct oc_dir_key *k = &a->keys[i];
        if (k->ssh == NULL || !plain_key(k->ssh) || now < k->not_before || now >= k->not_after) {
            continue;
        }
        printf("%s%s openclaw:%s:%s\n", from, k->ssh, a->name, k->key_id);
    }
out:
    oc_dir_free(dir);
    oc_config_free(cfg);
    return rc;
}
