/* SPDX-License-Identifier: MIT */
/*
 * directory.h: the directory cache file <state_dir>/directory.json.
 *
 * openclawd writes it after each successful directory sync (Graph plus
 * the static [agent] sections, docs/directory.md); pam_openclaw reads it
 * to know the synced agents (identity, enabled, roles) and openclawctl
 * shows it. It is public data (mode 0644) written atomically.
 *
 * The parser is strict and bounded: unknown members, wrong types,
 * over-long strings, too many agents, roles or keys, duplicates and
 * malformed values are refused as a whole. The file is NOT a trust root:
 * the parser refuses any uid outside [uid_min, uid_max] (from the
 * root-owned config) and uid 0, exactly as the NSS module does for the
 * NSS cache. Library code: no logging.
 */
#ifndef OC_DIRECTORY_H
#define OC_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define OC_DIR_VERSION   1
#define OC_DIR_FILE_NAME "directory.json"
/* In trust_dir: one empty file per agent that pam_openclaw locked out, for
 * root's openclaw-sync to disable its service principal through Graph
 * (on_anomaly = disable-service-principal; openclaw-sync.path starts it). */
#define OC_ANOMALY_DIR_NAME   "anomalies"
#define OC_DIR_FILE_MAX       (64u * 1024u * 1024u) /* bytes in the file */
#define OC_DIR_AGENTS_MAX     100000                /* agents in the file */
#define OC_DIR_ROLES_MAX      64                    /* roles of one agent */
#define OC_DIR_ROLE_MAX       256                   /* bytes in a role value */
#define OC_DIR_KEYS_MAX       16                    /* certificate keys of one agent */
#define OC_DIR_DISPLAY_MAX    256                   /* bytes in a display name */
#define OC_DIR_SSH_KEY_MAX    4096                  /* bytes in one authorized_keys line */
#define OC_DIR_SOURCE_MAX     1024                  /* bytes in the top-level source */
#define OC_DIR_SHA1_HEX_LEN   40
#define OC_DIR_SHA256_HEX_LEN 64

enum oc_dir_source {
    OC_DIR_SRC_GRAPH = 1, /* "graph": holds an assignment on the resource */
    OC_DIR_SRC_CONFIG,    /* "config": a static [agent] section only */
};

struct oc_dir_key {
    char key_id[OC_GUID_SIZE];
    int64_t not_before;                 /* startDateTime, epoch seconds */
    int64_t not_after;                  /* endDateTime */
    char sha1[OC_DIR_SHA1_HEX_LEN + 1]; /* certificate thumbprints, lowercase hex */
    char sha256[OC_DIR_SHA256_HEX_LEN + 1];
    char *ssh; /* "ssh-rsa AAAA..." / "ecdsa-sha2-nistp256 AAAA..."; NULL: none */
};

struct oc_dir_agent {
    char name[OC_USER_NAME_MAX + 1];
    char app_id[OC_GUID_SIZE];    /* lowercase canonical */
    char object_id[OC_GUID_SIZE]; /* lowercase canonical */
    uint32_t uid;
    bool enabled;
    char *display_name; /* informational; never NULL after parse ("" allowed) */
    char **roles;       /* role values of enabled assignments on the resource */
    size_t n_roles;
    enum oc_dir_source source;
    struct oc_dir_key *keys;
    size_t n_keys;
};

struct oc_dir {
    uint32_t version;
    char tenant_id[OC_GUID_SIZE];
    int64_t synced_at; /* epoch seconds of the sync that produced the file */
    char *source;      /* where the data came from, e.g. "https://graph.microsoft.com" */
    struct oc_dir_agent *agents;
    size_t n_agents;
};

/* Allowed characters of a role value (same rule as the config's [roles]). */
bool oc_dir_valid_role(const char *s);

/*
 * Parse a directory file image (need not be NUL-terminated). uids must be
 * inside [uid_min, uid_max] and never 0. Returns 0 with *ret (free with
 * oc_dir_free()), -EINVAL/-E2BIG/-ERANGE with *ret_why (static text) set,
 * -EPROTONOSUPPORT for another version, or -ENOMEM.
 */
int oc_dir_parse(const char *buf, size_t len, uint32_t uid_min, uint32_t uid_max,
                 struct oc_dir **ret, const char **ret_why);

/* Read and parse path: a regular file (no symlink), not writable by group or
 * others (-EPERM), at most OC_DIR_FILE_MAX. */
int oc_dir_load_file(const char *path, uint32_t uid_min, uint32_t uid_max, struct oc_dir **ret,
                     const char **ret_why);
/* The same from an open descriptor (pam_openclaw: a file of root's opened
 * relative to its checked directory, rootdir.h). */
int oc_dir_load_fd(int fd, uint32_t uid_min, uint32_t uid_max, struct oc_dir **ret,
                   const char **ret_why);

void oc_dir_free(struct oc_dir *d);

/* One key as the file holds it (also graph-state.json's, helper/sync/oc_graph.c):
 * to a new JSON object (NULL: out of memory), and back, as strictly as
 * the file's parser (0, or -EINVAL/-E2BIG/-ENOMEM with *why set; k->ssh
 * is allocated). */
struct cJSON;
struct cJSON *oc_dir_key_to_json(const struct oc_dir_key *k);
int oc_dir_key_from_json(const struct cJSON *o, struct oc_dir_key *k, const char **ret_why);

/* Serialize d (which must be valid for the parser) into a malloc'd NUL-terminated string. */
int oc_dir_format(const struct oc_dir *d, char **ret_text, size_t *ret_len);

/* Format and replace path atomically (temp file, fsync, rename, dir fsync; 0644). */
int oc_dir_write_file(const char *path, const struct oc_dir *d);

/* Lookups: NULL when absent. GUIDs are compared case-insensitively. */
const struct oc_dir_agent *oc_dir_by_name(const struct oc_dir *d, const char *name);
const struct oc_dir_agent *oc_dir_by_app_id(const struct oc_dir *d, const char *app_id);

/* True when the agent holds role. */
bool oc_dir_agent_has_role(const struct oc_dir_agent *a, const char *role);

#endif /* OC_DIRECTORY_H */
