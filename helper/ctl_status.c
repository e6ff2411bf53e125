/* SPDX-License-Identifier: MIT */
/*
 * openclawctl status: what this host's openclaw looks like right now, read
 * from local files only (no network, no TPM command): the config, the
 * JWKS and NSS cache files and their age, whether openclawd answers on its
 * socket, whether software keys are allowed, and per agent its uid,
 * credential kind, whether its key is TPM-bound or software, and its
 * lockout state.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "conf.h"
#include "helper/ctl.h"
#include "hostpolicy.h"
#include "jwks.h"
#include "nsscache.h"
#include "tally.h"
#include "tpm/blob.h"
#include "util.h"

/* Name of the JWKS cache file inside jwks_dir (written by openclawd). */
#define STATUS_JWKS_FILE "keys.json"

static void status_usage(FILE *f)
{
    fprintf(f, "Usage: openclawctl status [--config FILE] [--json] [--insecure-config]\n\n"
               "Shows, from local files only: the tenant, the JWKS and NSS cache files and\n"
               "their age, whether openclawd answers, whether software keys are allowed,\n"
               "and per agent: uid, credential, TPM-bound or software key, lockout.\n");
}

/* "3m12s" style age, or "in the future" for clock trouble. */
static void fmt_age(int64_t secs, char *buf, size_t len)
{
    if (secs < 0) {
        snprintf(buf, len, "in the future (check the clock)");
    } else if (secs < 120) {
        snprintf(buf, len, "%llds", (long long)secs);
    } else if (secs < 7200) {
        snprintf(buf, len, "%lldm%llds", (long long)(secs / 60), (long long)(secs % 60));
    } else if (secs < 172800) {
        snprintf(buf, len, "%lldh%lldm", (long long)(secs / 3600), (long long)((secs % 3600) / 60));
    } else {
        snprintf(buf, len, "%lldd", (long long)(secs / 86400));
    }
}

struct file_state {
    bool present;
    bool ok;
    int64_t age;
    char detail[OC_CONFIG_PATH_MAX + 256];
};

static void jwks_state(const char *dir, int64_t now, struct file_state *st)
{
    char path[OC_CONFIG_PATH_MAX + 32];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/%s", dir, STATUS_JWKS_FILE);
    memset(st, 0, sizeof(*st));
    if (stat(path, &sb) < 0) {
        snprintf(st->detail, sizeof(st->detail), "%s: %s (openclawd fetches it)", path,
                 strerror(errno));
        return;
    }
    st->present = true;
    st->age = now - (int64_t)sb.st_mtime;
    struct oc_jwks *keys = NULL;
    const char *why = NULL;
    int r = oc_jwks_load_file(path, &keys, &why);
    if (r < 0) {
        snprintf(st->detail, sizeof(st->detail), "%s: unusable: %s", path,
                 why != NULL ? why : strerror(-r));
        return;
    }
    st->ok = true;
    snprintf(st->detail, sizeof(st->detail), "%s: %zu usable key(s)", path, keys->n_keys);
    oc_jwks_free(keys);
}

static void nss_state(const char *path, int64_t now, struct file_state *st)
{
    memset(st, 0, sizeof(*st));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(st->detail, sizeof(st->detail), "%s: %s (openclawctl cache rebuild writes it)",
                 path, strerror(errno));
        return;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        snprintf(st->detail, sizeof(st->detail), "%s: not a regular, non-empty file", path);
        close(fd);
        return;
    }
    st->present = true;
    st->age = now - (int64_t)sb.st_mtime;
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        snprintf(st->detail, sizeof(st->detail), "%s: cannot map: %s", path, strerror(errno));
        return;
    }
    struct oc_nssc c;
    int r = oc_nssc_open(map, (size_t)sb.st_size, &c);
    if (r < 0) {
        snprintf(st->detail, sizeof(st->detail),
                 "%s: corrupt or another version (%s): NSS answers UNAVAIL; rebuild it", path,
                 strerror(-r));
    } else {
        st->ok = true;
        snprintf(st->detail, sizeof(st->detail), "%s: %u user(s), %u group(s)", path, c.n_users,
                 c.n_groups);
    }
    munmap(map, (size_t)sb.st_size);
}

/* Does something accept connections on the helper's socket? */
static bool helper_up(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (oc_strscpy(sa.sun_path, sizeof(sa.sun_path), path) < 0) {
        return false;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    bool up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return up;
}

/* "tpm", "software", "missing" or "unreadable: why" for a key blob file. */
static void key_kind(const char *path, char *buf, size_t len)
{
    uint8_t *blob = NULL;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(buf, len, errno == ENOENT ? "missing" : "unreadable");
        return;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
        (uint64_t)sb.st_size > OC_TPMBLOB_FILE_MAX) {
        close(fd);
        snprintf(buf, len, "unreadable");
        return;
    }
    blob = malloc((size_t)sb.st_size);
    if (blob != NULL) {
        ssize_t got = read(fd, blob, (size_t)sb.st_size);
        n = got > 0 ? (size_t)got : 0;
    }
    close(fd);
    struct oc_tpmblob b;
    const char *why = NULL;
    if (blob == NULL || oc_tpmblob_parse(blob, n, &b, &why) < 0) {
        snprintf(buf, len, "unreadable: %s", why != NULL ? why : "read error");
    } else if (b.type == OC_TPMBLOB_SOFTWARE_KEY) {
        snprintf(buf, len, "software");
    } else if (b.type == OC_TPMBLOB_SIGNING_KEY) {
        snprintf(buf, len, "tpm");
    } else {
        snprintf(buf, len, "sealed secret");
    }
    free(blob);
}

int ctl_status(int argc, char **argv)
{
    static const struct option longopts[] = {
            {"config", required_argument, NULL, 'c'},
            {"json", no_argument, NULL, 'j'},
            {"insecure-config", no_argument, NULL, 'i'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *config_path = OC_CONFIG_PATH;
    bool json = false, insecure = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'i':
            insecure = true;
            break;
        case 'h':
            status_usage(stdout);
            return CTL_EXIT_OK;
        default:
            status_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        status_usage(stderr);
        return CTL_EXIT_USAGE;
    }

    struct oc_config *cfg = NULL;
    struct oc_config_error err;
    int r = oc_config_load(config_path, insecure ? OC_CONFIG_INSECURE_OK : 0, &cfg, &err);
    if (r < 0) {
        char msg[1024];
        oc_config_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "status: %s\n", msg);
        return CTL_EXIT_USAGE;
    }
    const struct oc_global *g = &cfg->global;
    int64_t now = oc_now();
    struct file_state jw, ns;
    jwks_state(g->jwks_dir, now, &jw);
    nss_state(g->nss_cache, now, &ns);
    bool up = helper_up(g->socket);
    char jage[48] = "", nage[48] = "";
    fmt_age(jw.age, jage, sizeof(jage));
    fmt_age(ns.age, nage, sizeof(nage));

    cJSON *root = json ? cJSON_CreateObject() : NULL;
    cJSON *agents = NULL;
    if (json) {
        if (root == NULL) {
            oc_config_free(cfg);
            return CTL_EXIT_USAGE;
        }
        cJSON_AddStringToObject(root, "config", config_path);
        cJSON_AddStringToObject(root, "tenant_id", g->tenant_id);
        cJSON_AddStringToObject(root, "authority", g->authority);
        cJSON *j = cJSON_AddObjectToObject(root, "jwks");
        cJSON_AddBoolToObject(j, "ok", jw.ok);
        cJSON_AddStringToObject(j, "detail", jw.detail);
        if (jw.present) {
            cJSON_AddNumberToObject(j, "age_seconds", (double)jw.age);
        }
        cJSON *n = cJSON_AddObjectToObject(root, "nss_cache");
        cJSON_AddBoolToObject(n, "ok", ns.ok);
        cJSON_AddStringToObject(n, "detail", ns.detail);
        if (ns.present) {
            cJSON_AddNumberToObject(n, "age_seconds", (double)ns.age);
        }
        cJSON_AddBoolToObject(root, "helper_up", up);
        cJSON_AddStringToObject(root, "tcti", g->tcti);
        cJSON_AddBoolToObject(root, "allow_software_keys", g->allow_software_keys);
        agents = cJSON_AddArrayToObject(root, "agents");
    } else {
        printf("config:          %s\n", config_path);
        printf("tenant:          %s (%s)\n", g->tenant_id, g->authority);
        printf("jwks cache:      %s%s%s%s\n", jw.detail, jw.present ? ", age " : "",
               jw.present ? jage : "", jw.present && !jw.ok ? " -- PAM cannot verify tokens" : "");
        printf("nss cache:       %s%s%s\n", ns.detail, ns.present ? ", age " : "",
               ns.present ? nage : "");
        printf("openclawd:       %s (%s)\n", up ? "answering" : "not running", g->socket);
        printf("tpm:             %s; software keys %s\n", g->tcti,
               g->allow_software_keys ? "ALLOWED (allow_software_keys = yes)" : "refused");
        printf("agents:          %zu\n", cfg->n_agents);
        if (cfg->n_agents > 0) {
            printf("  %-20s %-10s %-8s %-18s %-14s %s\n", "NAME", "UID", "ENABLED", "CREDENTIAL",
                   "KEY", "LOCK");
        }
    }

    for (size_t i = 0; i < cfg->n_agents; i++) {
        const struct oc_agent *a = &cfg->agents[i];
        uint32_t uid = 0;
        bool pinned = false;
        char uidtxt[16] = "?";
        if (oc_hostpolicy_agent_uid(cfg, a, &uid, &pinned) == 0) {
            snprintf(uidtxt, sizeof(uidtxt), "%u", uid);
        }
        const char *cred = oc_credential_name(a->credential);
        char key[96] = "-";
        if (a->credential == OC_CRED_TPM_CERTIFICATE && a->key_file != NULL) {
            key_kind(a->key_file, key, sizeof(key));
        } else if (a->credential == OC_CRED_TPM_SEALED_SECRET && a->sealed_file != NULL) {
            key_kind(a->sealed_file, key, sizeof(key));
        }
        struct oc_tally_status ts;
        char lock[64] = "-";
        bool locked = false;
        if (oc_tally_status(g->tally_dir, a->name, now, &ts) == 0) {
            locked = ts.locked;
            if (ts.locked) {
                snprintf(lock, sizeof(lock), "LOCKED (%u failures)", ts.n_records);
            } else if (ts.n_records > 0) {
                snprintf(lock, sizeof(lock), "%u failure(s)", ts.n_records);
            }
        }
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", a->name);
            cJSON_AddNumberToObject(o, "uid", uid);
            cJSON_AddBoolToObject(o, "enabled", a->enabled);
            cJSON_AddStringToObject(o, "credential", cred != NULL ? cred : "none");
            cJSON_AddStringToObject(o, "key", key);
            cJSON_AddBoolToObject(o, "locked", locked);
            cJSON_AddItemToArray(agents, o);
        } else {
            printf("  %-20s %-10s %-8s %-18s %-14s %s\n", a->name, uidtxt,
                   a->enabled ? "yes" : "no", cred != NULL ? cred : "none", key, lock);
        }
    }
    if (json) {
        char *s = cJSON_Print(root);
        if (s != NULL) {
            printf("%s\n", s);
            free(s);
        }
        cJSON_Delete(root);
    }
    oc_config_free(cfg);
    return CTL_EXIT_OK;
}
