/* SPDX-License-Identifier: MIT */
/*
 * ctl_agent_info.c: `openclawctl agent list` and `openclawctl agent show
 * NAME` (ctl_agent.c hands these two verbs over): the configured agents
 * at a glance (name, uid, credential, enabled, lock state), and all that
 * is known locally about one agent (its section, uid/gid, key kind,
 * certificate thumbprints and validity, failure tally). Read only; no
 * network, no TPM commands (the key file's header says what it is).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "clock.h"
#include "conf.h"
#include "helper/ctl/ctl.h"
#include "idmap.h"
#include "tally.h"
#include "tpm/tpm.h"

static void iso(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == OC_TALLY_FOREVER) {
        (void)snprintf(buf, len, "until unlocked");
    } else if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
        (void)snprintf(buf, len, "-");
    } else {
        (void)strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
}

static const char *lock_state(const struct oc_config *cfg, const char *name, int64_t now,
                              struct oc_tally_status *st)
{
    memset(st, 0, sizeof(*st));
    if (cfg->global.tally_dir == NULL ||
        oc_tally_status(cfg->global.tally_dir, name, now, st) < 0) {
        return "unknown";
    }
    return st->locked ? "LOCKED" : "ok";
}

static const char *key_kind(const char *path)
{
    struct oc_tpmblob b;
    const char *why = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *kind = "unreadable";

    if (path == NULL) {
        return "-";
    }
    if (oc_tpm_blob_read_file(path, &buf, &len) < 0) {
        return "missing or unreadable";
    }
    if (oc_tpmblob_parse(buf, len, &b, &why) == 0) {
        kind = b.type == OC_TPMBLOB_SOFTWARE_KEY ? "software key (not TPM-bound)"
               : b.type == OC_TPMBLOB_SIGNING_KEY
                       ? (b.key_alg == OC_TPM_KEY_ECC_P256 ? "TPM-bound ecc-p256"
                                                           : "TPM-bound rsa2048")
                       : "sealed secret";
    } else {
        kind = "not an openclaw key file";
    }
    free(buf);
    return kind;
}

struct cert_info {
    bool ok;
    char x5t[OC_X5T_SIZE];
    char x5t256[OC_X5T_S256_SIZE];
    char not_before[40];
    char not_after[40];
    bool expired;
};

static int asn1_to_iso(const ASN1_TIME *t, char *buf, size_t len)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(t, &tm) != 1) {
        return -EINVAL;
    }
    (void)strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return 0;
}

static void cert_info(const char *path, struct cert_info *ci)
{
    FILE *f;
    X509 *x = NULL;

    memset(ci, 0, sizeof(*ci));
    if (path == NULL || (f = fopen(path, "re")) == NULL) {
        return;
    }
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL) {
        return;
    }
    if (oc_cert_thumbprints(x, ci->x5t, ci->x5t256) == 0 &&
        asn1_to_iso(X509_get0_notBefore(x), ci->not_before, sizeof(ci->not_before)) == 0 &&
        asn1_to_iso(X509_get0_notAfter(x), ci->not_after, sizeof(ci->not_after)) == 0) {
        ci->ok = true;
        ci->expired = X509_cmp_current_time(X509_get0_notAfter(x)) <= 0;
    }
    X509_free(x);
}

static const struct oc_idmap_entry *entry_of(const struct oc_idmap_entry *e, size_t n, size_t agent)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i].agent == agent) {
            return &e[i];
        }
    }
    return NULL;
}

static cJSON *str_list(const struct oc_strlist *l)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < l->n; i++) {
        cJSON_AddItemToArray(a, cJSON_CreateString(l->items[i]));
    }
    return a;
}

static void add_str(cJSON *o, const char *k, const char *v)
{
    if (v != NULL && v[0] != '\0') {
        cJSON_AddStringToObject(o, k, v);
    } else {
        cJSON_AddNullToObject(o, k);
    }
}

static int print_json(cJSON *o)
{
    char *s = o != NULL ? cJSON_Print(o) : NULL;
    if (s == NULL) {
        cJSON_Delete(o);
        return CTL_EXIT_USAGE;
    }
    printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
    return CTL_EXIT_OK;
}

static int do_list(const struct oc_config *cfg, const struct oc_idmap_entry *e, size_t n, bool json)
{
    int64_t now = oc_now();
    cJSON *arr = json ? cJSON_CreateArray() : NULL;

    if (!json) {
        printf("%-32s %-10s %-22s %-7s %s\n", "NAME", "UID", "CREDENTIAL", "ENABLED", "LOCK");
    }
    for (size_t i = 0; i < cfg->n_agents; i++) {
        const struct oc_agent *a = &cfg->agents[i];
        const struct oc_idmap_entry *id = entry_of(e, n, i);
        const char *cred = oc_credential_name(a->credential);
        struct oc_tally_status st;
        const char *lock = lock_state(cfg, a->name, now, &st);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            add_str(o, "name", a->name);
            if (id != NULL) {
                cJSON_AddNumberToObject(o, "uid", id->uid);
            } else {
                cJSON_AddNullToObject(o, "uid");
            }
            add_str(o, "credential", cred);
            cJSON_AddBoolToObject(o, "enabled", a->enabled);
            add_str(o, "lock", lock);
            cJSON_AddNumberToObject(o, "failures", st.n_records);
            cJSON_AddItemToArray(arr, o);
        } else {
            char uid[16] = "-";
            if (id != NULL) {
                (void)snprintf(uid, sizeof(uid), "%u", (unsigned)id->uid);
            }
            printf("%-32s %-10s %-22s %-7s %s\n", a->name, uid, cred != NULL ? cred : "-",
                   a->enabled ? "yes" : "no", lock);
        }
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "agents", arr);
        return print_json(o);
    }
    return CTL_EXIT_OK;
}

static int do_show(const struct oc_config *cfg, const char *path, const struct oc_idmap_entry *e,
                   size_t n, const char *name, bool json)
{
    const struct oc_agent *a = oc_config_agent_by_name(cfg, name);
    const struct oc_idmap_entry *id;
    struct oc_tally_status st;
    struct cert_info ci;
    char at[40], until[40], last[40];
    const char *lock, *kind;

    if (a == NULL) {
        fprintf(stderr, "agent: %s is not a configured agent (see openclawctl agent list)\n", name);
        return CTL_EXIT_REFUSED;
    }
    id = entry_of(e, n, (size_t)(a - cfg->agents));
    lock = lock_state(cfg, a->name, oc_now(), &st);
    kind = key_kind(a->key_file != NULL ? a->key_file : a->sealed_file);
    cert_info(a->cert_file, &ci);
    iso(st.locked_at, at, sizeof(at));
    iso(st.locked_until, until, sizeof(until));
    iso(st.last_failure, last, sizeof(last));

    if (json) {
        cJSON *o = cJSON_CreateObject(), *c, *t;
        add_str(o, "name", a->name);
        add_str(o, "config", path);
        cJSON_AddNumberToObject(o, "line", a->line);
        add_str(o, "app_id", a->app_id);
        add_str(o, "object_id", a->object_id);
        add_str(o, "display_name", a->display_name);
        cJSON_AddBoolToObject(o, "enabled", a->enabled);
        if (id != NULL) {
            cJSON_AddNumberToObject(o, "uid", id->uid);
            cJSON_AddNumberToObject(o, "gid", id->gid);
            cJSON_AddBoolToObject(o, "uid_pinned", id->pinned);
        }
        cJSON_AddItemToObject(o, "groups", str_list(&a->groups));
        add_str(o, "credential", oc_credential_name(a->credential));
        add_str(o, "key_file", a->key_file);
        add_str(o, "key_kind", kind);
        add_str(o, "cert_file", a->cert_file);
        add_str(o, "sealed_file", a->sealed_file);
        add_str(o, "secret_file", a->secret_file);
        cJSON_AddItemToObject(o, "scopes", str_list(&a->scopes));
        c = cJSON_AddObjectToObject(o, "certificate");
        if (c != NULL && ci.ok) {
            add_str(c, "x5t", ci.x5t);
            add_str(c, "x5t#S256", ci.x5t256);
            add_str(c, "not_before", ci.not_before);
            add_str(c, "not_after", ci.not_after);
            cJSON_AddBoolToObject(c, "expired", ci.expired);
        }
        t = cJSON_AddObjectToObject(o, "tally");
        if (t != NULL) {
            add_str(t, "state", lock);
            cJSON_AddNumberToObject(t, "failures", st.n_records);
            cJSON_AddNumberToObject(t, "locks", st.n_locks);
            add_str(t, "locked_at", at);
            add_str(t, "locked_until", st.locked ? until : "-");
            add_str(t, "last_failure", last);
        }
        return print_json(o);
    }
    printf("agent:         %s (%s:%u)\n", a->name, path, a->line);
    printf("app_id:        %s\n", a->app_id);
    printf("object_id:     %s\n", a->object_id);
    printf("display_name:  %s\n", a->display_name != NULL ? a->display_name : "-");
    printf("enabled:       %s\n", a->enabled ? "yes" : "no");
    if (id != NULL) {
        printf("uid/gid:       %u/%u%s\n", (unsigned)id->uid, (unsigned)id->gid,
               id->pinned ? " (pinned in the config)" : " (from the object id)");
    }
    printf("groups:        ");
    for (size_t i = 0; i < a->groups.n; i++) {
        printf("%s%s", i ? ", " : "", a->groups.items[i]);
    }
    printf("%s\n", a->groups.n == 0 ? "-" : "");
    printf("credential:    %s\n",
           oc_credential_name(a->credential) != NULL ? oc_credential_name(a->credential) : "-");
    if (a->key_file != NULL || a->sealed_file != NULL) {
        printf("key:           %s (%s)\n", a->key_file != NULL ? a->key_file : a->sealed_file,
               kind);
    }
    if (a->cert_file != NULL) {
        if (ci.ok) {
            printf("certificate:   %s\n  x5t:         %s\n  x5t#S256:    %s\n"
                   "  valid:       %s .. %s%s\n",
                   a->cert_file, ci.x5t, ci.x5t256, ci.not_before, ci.not_after,
                   ci.expired ? " (EXPIRED: run openclawctl enroll again)" : "");
        } else {
            printf("certificate:   %s (missing or not a PEM certificate)\n", a->cert_file);
        }
    }
    printf("tally:         %s, %u failure%s on record, %u lock%s\n", lock, st.n_records,
           st.n_records == 1 ? "" : "s", st.n_locks, st.n_locks == 1 ? "" : "s");
    if (st.locked) {
        printf("locked:        at %s until %s (openclawctl agent unlock %s)\n", at, until, a->name);
    }
    return CTL_EXIT_OK;
}

int ctl_agent_info(int argc, char **argv, const char *config, unsigned cflags, bool json)
{
    struct oc_config *cfg = NULL;
    struct oc_idmap_entry *e = NULL;
    size_t n = 0;
    char msg[1024];
    int rc;
    bool list = strcmp(argv[0], "list") == 0;

    if ((list && argc != 1) || (!list && argc != 2)) {
        fprintf(stderr, "Usage: openclawctl agent list [--json] | agent show NAME [--json]\n");
        return CTL_EXIT_USAGE;
    }
    if (!list && !oc_valid_user_name(argv[1])) {
        fprintf(stderr, "agent: '%s' is not a valid agent name\n", argv[1]);
        return CTL_EXIT_USAGE;
    }
    if (ctl_config_load("agent", config, cflags, &cfg) < 0) {
        return CTL_EXIT_USAGE;
    }
    if (oc_idmap_assign(cfg, &e, &n, msg, sizeof(msg)) < 0) {
        fprintf(stderr, "agent: %s\n", msg);
        e = NULL;
        n = 0;
    }
    rc = list ? do_list(cfg, e, n, json) : do_show(cfg, config, e, n, argv[1], json);
    free(e);
    oc_config_free(cfg);
    return rc;
}
