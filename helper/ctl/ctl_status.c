/* SPDX-License-Identifier: MIT */
/*
 * openclawctl status: what this host's openclaw looks like right now, read
 * from local files (no network, no TPM command): the config, the JWKS and
 * NSS cache files and their age, whether software keys are allowed, and
 * per agent its uid, credential kind, whether its key is TPM-bound or
 * software, and its lockout state; and, when openclawd answers a status
 * request on its socket (2 s at most), what the daemon reports: JWKS,
 * discovery and directory sync age and last error, and per agent the
 * state and expiry of its tokens and the last refresh error.
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
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "conf.h"
#include "helper/ctl/ctl.h"
#include "hostpolicy.h"
#include "jwks.h"
#include "rootdir.h"
#include "nsscache.h"
#include "proto.h"
#include "protocall.h"
#include "tally.h"
#include "tpm/blob.h"
#include "util.h"

/* The keys pam_openclaw trusts: keys.json in jwks_dir (root's, written by
 * openclaw-sync). */
#define STATUS_JWKS_FILE OC_JWKS_FILE

static void status_usage(FILE *f)
{
    fprintf(f, "Usage: openclawctl status [--config FILE] [--json] [--insecure-config]\n\n"
               "Shows, from local files: the tenant, the JWKS and NSS cache files and their\n"
               "age, whether software keys are allowed, and per agent: uid, credential,\n"
               "TPM-bound or software key, lockout. When openclawd answers on its socket,\n"
               "also what it reports: JWKS/discovery/directory sync age and last error, and\n"
               "per agent the token state, expiry and last refresh error.\n");
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

/* keys.json as pam_openclaw reads it: through the checked directory, a
 * file of root's that nobody else can write (rootdir.h). */
static void jwks_state(const char *dir, int64_t now, struct file_state *st)
{
    char path[OC_CONFIG_PATH_MAX + 32];
    struct oc_jwks *keys = NULL;
    const char *why = NULL;
    struct stat sb;
    int dfd = -1, fd = -1, r;

    snprintf(path, sizeof(path), "%s/%s", dir, STATUS_JWKS_FILE);
    memset(st, 0, sizeof(*st));
    if (stat(path, &sb) < 0) {
        snprintf(st->detail, sizeof(st->detail), "%s: %s (openclaw-sync fetches it, as root)", path,
                 strerror(errno));
        return;
    }
    st->present = true;
    st->age = now - (int64_t)sb.st_mtime;
    r = oc_rootdir_open(dir, 0, 022, 0, &dfd, NULL);
    if (r == 0) {
        r = oc_rootfile_open(dfd, STATUS_JWKS_FILE, O_RDONLY, 0, false, &fd, NULL);
        close(dfd);
        if (r < 0) {
            why = r == -EPERM ? "not root's, or writable by others: pam_openclaw refuses it "
                                "(only openclaw-sync may write it)"
                              : NULL;
        }
    } else {
        why = r == -EPERM || r == -ELOOP ? "jwks_dir is not a directory of root's that only "
                                           "root can write: pam_openclaw refuses it "
                                           "(openclawctl check-config)"
                                         : NULL;
    }
    if (r == 0) {
        r = oc_jwks_load_fd(fd, &keys, &why);
        close(fd);
    }
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
        snprintf(st->detail, sizeof(st->detail),
                 "%s: %s (openclaw-sync writes it, as root; or openclawctl cache rebuild)", path,
                 strerror(errno));
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

/*
 * Ask openclawd for its status over its socket: true when something
 * accepts connections there; *ret_status is the parsed answer (root sees
 * every agent) or NULL when the daemon did not answer within 2 s.
 */
static bool helper_status(const char *path, cJSON **ret_status)
{
    char *body = NULL;
    size_t len = 0;
    int r = oc_proto_call(path, "{\"type\":\"status\"}", 2000, &body, &len);

    *ret_status = NULL;
    if (r < 0) {
        return oc_proto_call_connected(r);
    }
    cJSON *o = cJSON_ParseWithLength(body, len);
    if (o != NULL && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ok"))) {
        *ret_status = o;
    } else {
        cJSON_Delete(o);
    }
    free(body);
    return true;
}

/* The daemon's status entry of agent name, or NULL. */
static const cJSON *daemon_agent(const cJSON *st, const char *name)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(st, "agents"))
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(a, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) {
            return a;
        }
    }
    return NULL;
}

/*
 * One short text for the tokens the daemon holds for an agent: the state
 * of the first scope ("fresh, expires in 52m", "STALE: <error>", ...).
 */
static void token_text(const cJSON *agent, int64_t now, char *buf, size_t len)
{
    const cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(agent, "tokens"), 0);
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(t, "state");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(t, "expires_on");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(t, "last_error");
    char age[48] = "";

    if (!cJSON_IsString(state)) {
        snprintf(buf, len, "none requested yet");
        return;
    }
    if (cJSON_IsNumber(exp)) {
        fmt_age((int64_t)exp->valuedouble - now, age, sizeof(age));
    }
    if (strcmp(state->valuestring, "fresh") == 0) {
        snprintf(buf, len, "fresh, expires in %s", age);
    } else if (strcmp(state->valuestring, "stale") == 0) {
        snprintf(buf, len, "STALE (served until it expires in %s; refresh failing: %s)", age,
                 cJSON_IsString(err) ? err->valuestring : "?");
    } else if (strcmp(state->valuestring, "failing") == 0) {
        snprintf(buf, len, "FAILING: %s", cJSON_IsString(err) ? err->valuestring : "?");
    } else {
        snprintf(buf, len, "%s", state->valuestring);
    }
}

/* "age 3m12s" or "never" plus ", last error: ..." for a daemon section. */
static void section_text(const cJSON *sec, char *buf, size_t len)
{
    const cJSON *age = cJSON_GetObjectItemCaseSensitive(sec, "age");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(sec, "last_error");
    char a[48] = "never";
    if (cJSON_IsNumber(age)) {
        fmt_age((int64_t)age->valuedouble, a, sizeof(a));
    }
    snprintf(buf, len, "%s%s%s%s", cJSON_IsNumber(age) ? "age " : "", a,
             cJSON_IsString(err) ? ", last error: " : "",
             cJSON_IsString(err) ? err->valuestring : "");
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

/*
 * The TPM the configuration names, without a TPM command: the TCTI's
 * backend ("device", "swtpm", "mssim", "tabrmd" or "other") and whether
 * it is there (the device node, or a simulator's Unix socket accepting a
 * connection). Other backends are not probed: present stays -1.
 */
struct tpm_state {
    char backend[16];
    int present; /* 1 there, 0 not there, -1 not probed */
    char detail[OC_CONFIG_PATH_MAX + 128];
};

static const char *tcti_arg(const char *tcti, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(tcti, name, n) != 0 || (tcti[n] != ':' && tcti[n] != '\0')) {
        return NULL;
    }
    return tcti[n] == ':' ? tcti + n + 1 : "";
}

static void tpm_state(const char *tcti, struct tpm_state *t)
{
    const char *arg;
    char path[OC_CONFIG_PATH_MAX + 1] = "";
    struct stat sb;

    memset(t, 0, sizeof(*t));
    t->present = -1;
    if ((arg = tcti_arg(tcti, "device")) != NULL) {
        snprintf(t->backend, sizeof(t->backend), "device");
        (void)oc_strscpy(path, sizeof(path), arg[0] != '\0' ? arg : "/dev/tpmrm0");
        errno = 0;
        if (stat(path, &sb) == 0 && S_ISCHR(sb.st_mode)) {
            t->present = 1;
            snprintf(t->detail, sizeof(t->detail), "device %s present", path);
        } else {
            t->present = 0;
            snprintf(t->detail, sizeof(t->detail),
                     "device %s: %s (no TPM, or the kernel's TPM driver is not loaded)", path,
                     errno != 0 ? strerror(errno) : "not a character device");
        }
        return;
    }
    if ((arg = tcti_arg(tcti, "swtpm")) != NULL) {
        const char *p = strstr(arg, "path=");
        snprintf(t->backend, sizeof(t->backend), "swtpm");
        if (p == NULL) {
            snprintf(t->detail, sizeof(t->detail), "software TPM over TCP (not probed)");
            return;
        }
        (void)oc_strnscpy(path, sizeof(path), p + 5, strcspn(p + 5, ","));
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = -1;
        t->present = 0;
        errno = ENAMETOOLONG;
        if (oc_strscpy(sa.sun_path, sizeof(sa.sun_path), path) == 0 &&
            (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
            connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            t->present = 1;
        }
        snprintf(t->detail, sizeof(t->detail), "software TPM (swtpm) at %s: %s", path,
                 t->present == 1 ? "answering" : strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    snprintf(t->backend, sizeof(t->backend), "%s",
             tcti_arg(tcti, "mssim") != NULL    ? "mssim"
             : tcti_arg(tcti, "tabrmd") != NULL ? "tabrmd"
                                                : "other");
    snprintf(t->detail, sizeof(t->detail), "TCTI %s (not probed)", tcti);
}

/* The first token error the daemon reports for an agent, or why it cannot serve it. */
static const char *agent_last_error(const cJSON *da)
{
    const cJSON *t, *u = cJSON_GetObjectItemCaseSensitive(da, "unusable");
    if (cJSON_IsString(u)) {
        return u->valuestring;
    }
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(da, "tokens"))
    {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(t, "last_error");
        if (cJSON_IsString(e)) {
            return e->valuestring;
        }
    }
    return NULL;
}

/* The latest expiry among the agent's tokens the daemon holds, or 0. */
static int64_t agent_expiry(const cJSON *da)
{
    const cJSON *t;
    int64_t best = 0;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(da, "tokens"))
    {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(t, "expires_on");
        if (cJSON_IsNumber(e) && (int64_t)e->valuedouble > best) {
            best = (int64_t)e->valuedouble;
        }
    }
    return best;
}

/* What status reports, collected before anything is printed. */
struct status {
    const char *config_path;
    bool json;
    const struct oc_config *cfg;
    int64_t now;
    struct file_state jw, ns; /* keys.json, the NSS cache */
    cJSON *dst;               /* openclawd's status answer, or NULL */
    bool up;                  /* something accepts connections on its socket */
    struct tpm_state tpm;
};

/* One agent's line (or JSON object). */
struct agent_row {
    uint32_t uid;
    char uidtxt[16];
    const char *cred;
    char key[96];
    char lock[96];
    bool locked, tally_locked, admin_locked;
    const cJSON *da; /* the daemon's entry for the agent, or NULL */
    const char *last_error;
    int64_t expires_on;
    char tok[1400];
};

/* The command line: -1 to go on, else the exit status (help, usage). */
static int status_options(int argc, char **argv, struct status *s, bool *ret_insecure)
{
    static const struct option longopts[] = {
            {"config", required_argument, NULL, 'c'},
            {"json", no_argument, NULL, 'j'},
            {"insecure-config", no_argument, NULL, 'i'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            s->config_path = optarg;
            break;
        case 'j':
            s->json = true;
            break;
        case 'i':
            *ret_insecure = true;
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
    return -1;
}

/* The host's part of the JSON answer; the agents' array, to fill. */
static cJSON *status_json_head(const struct status *s, cJSON *root)
{
    const struct oc_global *g = &s->cfg->global;

    cJSON_AddStringToObject(root, "config", s->config_path);
    cJSON_AddStringToObject(root, "tenant_id", g->tenant_id);
    cJSON_AddStringToObject(root, "authority", g->authority);
    cJSON *j = cJSON_AddObjectToObject(root, "jwks");
    cJSON_AddBoolToObject(j, "ok", s->jw.ok);
    cJSON_AddStringToObject(j, "detail", s->jw.detail);
    if (s->jw.present) {
        cJSON_AddNumberToObject(j, "age_seconds", (double)s->jw.age);
    }
    cJSON *n = cJSON_AddObjectToObject(root, "nss_cache");
    cJSON_AddBoolToObject(n, "ok", s->ns.ok);
    cJSON_AddStringToObject(n, "detail", s->ns.detail);
    if (s->ns.present) {
        cJSON_AddNumberToObject(n, "age_seconds", (double)s->ns.age);
    }
    cJSON_AddBoolToObject(root, "helper_up", s->up);
    if (s->dst != NULL) {
        cJSON_AddItemToObject(root, "helper", cJSON_Duplicate(s->dst, 1));
    }
    cJSON_AddStringToObject(root, "tcti", g->tcti);
    cJSON *tj = cJSON_AddObjectToObject(root, "tpm");
    cJSON_AddStringToObject(tj, "tcti", g->tcti);
    cJSON_AddStringToObject(tj, "backend", s->tpm.backend);
    if (s->tpm.present >= 0) {
        cJSON_AddBoolToObject(tj, "present", s->tpm.present == 1);
    } else {
        cJSON_AddNullToObject(tj, "present");
    }
    cJSON_AddStringToObject(tj, "detail", s->tpm.detail);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(s->dst, "tpm");
    if (cJSON_IsObject(dt)) {
        cJSON_AddBoolToObject(tj, "open_in_openclawd",
                              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dt, "open")));
    }
    cJSON_AddBoolToObject(root, "allow_software_keys", g->allow_software_keys);
    return cJSON_AddArrayToObject(root, "agents");
}

/* The host's part of the text answer, up to the agents' table header. */
static void status_text_head(const struct status *s)
{
    const struct oc_global *g = &s->cfg->global;
    const struct file_state *jw = &s->jw, *ns = &s->ns;
    const struct tpm_state *tpm = &s->tpm;
    char jage[48] = "", nage[48] = "";

    fmt_age(jw->age, jage, sizeof(jage));
    fmt_age(ns->age, nage, sizeof(nage));
    printf("config:          %s\n", s->config_path);
    printf("tenant:          %s (%s)\n", g->tenant_id, g->authority);
    printf("jwks cache:      %s%s%s%s\n", jw->detail, jw->present ? ", age " : "",
           jw->present ? jage : "", jw->present && !jw->ok ? " -- PAM cannot verify tokens" : "");
    printf("nss cache:       %s%s%s\n", ns->detail, ns->present ? ", age " : "",
           ns->present ? nage : "");
    printf("openclawd:       %s (%s)\n",
           s->dst != NULL ? "answering"
           : s->up        ? "accepts connections but does not answer status (check its log)"
                          : "not running",
           g->socket);
    if (s->dst != NULL) {
        static const char *const secs[] = {"jwks", "discovery", "directory"};
        for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
            const cJSON *sec = cJSON_GetObjectItemCaseSensitive(s->dst, secs[i]);
            char t[700];
            if (cJSON_IsObject(sec)) {
                section_text(sec, t, sizeof(t));
                printf("  %-14s %s\n", secs[i], t);
            }
        }
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(s->dst, "tpm");
    printf("tpm:             %s, backend %s: %s%s%s; software keys %s\n", g->tcti, tpm->backend,
           tpm->present == 1   ? "present"
           : tpm->present == 0 ? "NOT PRESENT"
                               : "not probed",
           tpm->present == 1 ? "" : " -- ", tpm->present == 1 ? "" : tpm->detail,
           g->allow_software_keys ? "ALLOWED (allow_software_keys = yes)" : "refused");
    if (cJSON_IsObject(dt)) {
        printf("  %-14s %s\n", "openclawd",
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dt, "open"))
                       ? "has the TPM open"
                       : "has not opened the TPM (opened on first use of a TPM credential)");
    }
    printf("agents:          %zu\n", s->cfg->n_agents);
    if (s->cfg->n_agents > 0) {
        printf("  %-20s %-10s %-8s %-18s %-14s %-22s %s\n", "NAME", "UID", "ENABLED", "CREDENTIAL",
               "KEY", "LOCK", "TOKEN (openclawd); LAST ERROR");
    }
}

/* The agent's lockout: the failure tally here, then an admin's lock in
 * openclawd (openclawctl agent lock: it hands out no token). */
static void agent_lock(const struct status *s, const struct oc_agent *a, struct agent_row *row)
{
    struct oc_tally_status ts;

    snprintf(row->lock, sizeof(row->lock), "-");
    if (oc_tally_status(s->cfg->global.tally_dir, a->name, s->now, &ts) == 0) {
        row->locked = ts.locked;
        if (ts.locked) {
            snprintf(row->lock, sizeof(row->lock), "LOCKED (%u failures)", ts.n_records);
        } else if (ts.n_records > 0) {
            snprintf(row->lock, sizeof(row->lock), "%u failure(s)", ts.n_records);
        }
    }
    row->tally_locked = row->locked;
    row->admin_locked = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row->da, "locked"));
    if (row->admin_locked) {
        row->locked = true;
        if (strcmp(row->lock, "-") == 0) {
            snprintf(row->lock, sizeof(row->lock), "LOCKED by admin");
        } else {
            size_t ll = strlen(row->lock);
            snprintf(row->lock + ll, sizeof(row->lock) - ll, ", LOCKED by admin");
        }
    }
}

/* Everything status says about one agent. */
static void agent_row_fill(const struct status *s, const struct oc_agent *a, struct agent_row *row)
{
    bool pinned = false;

    memset(row, 0, sizeof(*row));
    snprintf(row->uidtxt, sizeof(row->uidtxt), "?");
    if (oc_hostpolicy_agent_uid(s->cfg, a, &row->uid, &pinned) == 0) {
        snprintf(row->uidtxt, sizeof(row->uidtxt), "%u", row->uid);
    }
    row->cred = oc_credential_name(a->credential);
    snprintf(row->key, sizeof(row->key), "-");
    if (a->credential == OC_CRED_TPM_CERTIFICATE && a->key_file != NULL) {
        key_kind(a->key_file, row->key, sizeof(row->key));
    } else if (a->credential == OC_CRED_TPM_SEALED_SECRET && a->sealed_file != NULL) {
        key_kind(a->sealed_file, row->key, sizeof(row->key));
    }
    row->da = s->dst != NULL ? daemon_agent(s->dst, a->name) : NULL;
    agent_lock(s, a, row);
    row->last_error = row->da != NULL ? agent_last_error(row->da) : NULL;
    row->expires_on = row->da != NULL ? agent_expiry(row->da) : 0;
    snprintf(row->tok, sizeof(row->tok), "-");
    if (row->da != NULL) {
        token_text(row->da, s->now, row->tok, sizeof(row->tok));
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(row->da, "unusable");
        if (cJSON_IsString(u)) {
            size_t tl = strlen(row->tok);
            snprintf(row->tok + tl, sizeof(row->tok) - tl, "; UNUSABLE: %s", u->valuestring);
        }
    } else if (s->dst == NULL) {
        snprintf(row->tok, sizeof(row->tok), "unknown (openclawd not answering)");
    }
}

static void agent_row_json(const struct oc_agent *a, const struct agent_row *row, cJSON *agents)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddNumberToObject(o, "uid", row->uid);
    cJSON_AddBoolToObject(o, "enabled", a->enabled);
    cJSON_AddStringToObject(o, "credential", row->cred != NULL ? row->cred : "none");
    cJSON_AddStringToObject(o, "key", row->key);
    cJSON_AddBoolToObject(o, "locked", row->locked);
    cJSON_AddBoolToObject(o, "tally_locked", row->tally_locked);
    if (row->da != NULL) {
        cJSON_AddBoolToObject(o, "admin_locked", row->admin_locked);
        if (row->expires_on > 0) {
            cJSON_AddNumberToObject(o, "token_expires_on", (double)row->expires_on);
        } else {
            cJSON_AddNullToObject(o, "token_expires_on");
        }
        if (row->last_error != NULL) {
            cJSON_AddStringToObject(o, "last_error", row->last_error);
        } else {
            cJSON_AddNullToObject(o, "last_error");
        }
        cJSON_AddItemToObject(
                o, "tokens",
                cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(row->da, "tokens"), 1));
    }
    cJSON_AddItemToArray(agents, o);
}

int ctl_status(int argc, char **argv)
{
    struct status s = {.config_path = OC_CONFIG_PATH};
    struct oc_config *cfg = NULL;
    struct oc_config_error err;
    bool insecure = false;
    int r = status_options(argc, argv, &s, &insecure);
    if (r >= 0) {
        return r;
    }
    r = oc_config_load(s.config_path, insecure ? OC_CONFIG_INSECURE_OK : 0, &cfg, &err);
    if (r < 0) {
        char msg[1024];
        oc_config_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "status: %s\n", msg);
        return CTL_EXIT_USAGE;
    }
    s.cfg = cfg;
    s.now = oc_now();
    jwks_state(cfg->global.jwks_dir, s.now, &s.jw);
    nss_state(cfg->global.nss_cache, s.now, &s.ns);
    s.up = helper_status(cfg->global.socket, &s.dst);
    tpm_state(cfg->global.tcti, &s.tpm);

    cJSON *root = s.json ? cJSON_CreateObject() : NULL;
    cJSON *agents = NULL;
    if (s.json && root == NULL) {
        cJSON_Delete(s.dst);
        oc_config_free(cfg);
        return CTL_EXIT_USAGE;
    }
    if (s.json) {
        agents = status_json_head(&s, root);
    } else {
        status_text_head(&s);
    }
    for (size_t i = 0; i < cfg->n_agents; i++) {
        const struct oc_agent *a = &cfg->agents[i];
        struct agent_row row;
        agent_row_fill(&s, a, &row);
        if (s.json) {
            agent_row_json(a, &row, agents);
        } else {
            printf("  %-20s %-10s %-8s %-18s %-14s %-22s %s\n", a->name, row.uidtxt,
                   a->enabled ? "yes" : "no", row.cred != NULL ? row.cred : "none", row.key,
                   row.lock, row.tok);
        }
    }
    if (s.json) {
        char *out = cJSON_Print(root);
        if (out != NULL) {
            printf("%s\n", out);
            free(out);
        }
        cJSON_Delete(root);
    }
    cJSON_Delete(s.dst);
    oc_config_free(cfg);
    return CTL_EXIT_OK;
}
