/* SPDX-License-Identifier: MIT */
/*
 * conf.h: the openclaw configuration file (openclaw.conf(5)).
 *
 * A strict INI parser: any unknown section or key, duplicate, bad value
 * or missing required key is an error that names file:line and says what
 * to write instead. The parsed configuration is immutable; free it with
 * oc_config_free(). Libc only: this is linked into the NSS module.
 *
 * Named conf.h, not config.h: a quoted #include "config.h" in any file of
 * common/ must keep finding the autotools-generated header.
 */
#ifndef OC_CONF_H
#define OC_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alg.h"
#include "policy.h"
#include "util.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define OC_CONFIG_PATH SYSCONFDIR "/openclaw/openclaw.conf"

/* Caps on everything the file controls. */
#define OC_CONFIG_FILE_MAX         (1024 * 1024) /* bytes in the file */
#define OC_CONFIG_LINE_MAX         4096          /* bytes in one line, without newline */
#define OC_CONFIG_LIST_MAX         64            /* items in one list value */
#define OC_CONFIG_ITEM_MAX         512           /* bytes in one list item */
#define OC_CONFIG_PATH_MAX         1024          /* bytes in a path or URL */
#define OC_CONFIG_SERVICE_NAME_MAX 64            /* bytes in a PAM service name */
#define OC_CONFIG_ROLE_MAX         256           /* bytes in an app role value */
#define OC_CONFIG_SERVICES_MAX     256           /* [service] sections */
#define OC_CONFIG_AGENTS_MAX       4096          /* [agent] sections */
#define OC_CONFIG_ROLES_MAX        1024          /* entries in [roles] */

/* Defaults (see openclaw.conf(5) for the reasons). */
#define OC_DEFAULT_AUTHORITY   "https://login.microsoftonline.com"
#define OC_DEFAULT_ISSUER_V1   "https://sts.windows.net/{tenantid}/"
#define OC_DEFAULT_CLOCK_SKEW  300
#define OC_CLOCK_SKEW_MAX      600
#define OC_DEFAULT_UID_MIN     1879048192u /* 0x70000000 */
#define OC_DEFAULT_UID_MAX     2147352575u /* 0x7FFDFFFF */
#define OC_UID_MIN_FLOOR       1000u
#define OC_DEFAULT_HOME        "/home/%u"
#define OC_DEFAULT_SHELL       "/bin/sh"
#define OC_DEFAULT_STATE_DIR   "/var/lib/openclaw"
#define OC_DEFAULT_RUNTIME_DIR "/run/openclaw"
#define OC_DEFAULT_TALLY_DIR   "/var/lib/openclaw-pam" /* root's, kept across reboots */
/* root's, written by openclaw-sync only (docs/security.md, "The trust boundary") */
#define OC_DEFAULT_TRUST_DIR     "/var/lib/openclaw-trust"
#define OC_DEFAULT_JWKS_DIR      OC_DEFAULT_TRUST_DIR "/jwks"
#define OC_DEFAULT_TCTI          "device:/dev/tpmrm0"
#define OC_DEFAULT_DENY          5
#define OC_DENY_MAX              1000
#define OC_DEFAULT_FAIL_INTERVAL 60
#define OC_DEFAULT_UNLOCK_TIME   600
#define OC_INTERVAL_MAX          31536000u /* one year, for any time in seconds */
#define OC_DEFAULT_GRAPH_URL     "https://graph.microsoft.com"
#define OC_DEFAULT_SYNC_INTERVAL 300
#define OC_SYNC_INTERVAL_MIN     30
#define OC_SYNC_INTERVAL_MAX     86400
/* [directory] full_sync_interval: every principal and assignment read again
 * (below Graph's 7-day life of a delta token) */
#define OC_DEFAULT_FULL_SYNC_INTERVAL 86400
#define OC_FULL_SYNC_INTERVAL_MAX     (6 * 86400)
/* [directory] max_requests_per_minute: this host's Graph request budget */
#define OC_DEFAULT_GRAPH_BUDGET 600
#define OC_GRAPH_BUDGET_MIN     10
#define OC_GRAPH_BUDGET_MAX     100000

/* Placeholder kept literally in issuer templates. */
#define OC_TENANT_PLACEHOLDER "{tenantid}"

/* oc_config_load() flags */
enum {
    /* Accept a file not owned by root or writable by group/others
     * (tests, forensics on a copied file). Never in production. */
    OC_CONFIG_INSECURE_OK = 1u << 0,
};

/* Signature algorithms allowed in [global] algorithms: OC_ALG_* from alg.h. */

enum oc_credential {
    OC_CRED_NONE = 0,
    OC_CRED_TPM_CERTIFICATE,
    OC_CRED_TPM_SEALED_SECRET,
    OC_CRED_MANAGED_IDENTITY,
    OC_CRED_AZURE_ARC,
    OC_CRED_AGENT_IDENTITY,
    OC_CRED_SECRET_FILE,
};

/* The keyword of a credential type ("tpm-certificate"), or NULL. */
const char *oc_credential_name(enum oc_credential c);

struct oc_strlist {
    char **items;
    size_t n;
};

/* True when list holds s (exact, byte-wise). */
bool oc_strlist_contains(const struct oc_strlist *list, const char *s);

/* [global] mi_endpoint: the loopback address of openclawd's managed-identity
 * endpoint (docs/mi-endpoint.md). */
#define OC_MI_ENDPOINT_TEXT_MAX 32                /* "127.255.255.255:65535", "[::1]:65535" */
#define OC_MI_IMDS_ADDR         "169.254.169.254" /* mi_endpoint = imds: Azure IMDS's own address */
#define OC_MI_IMDS_PORT         80
struct oc_mi_endpoint {
    bool set;                           /* false: the endpoint is off (the default) */
    bool imds;                          /* mi_endpoint = imds: 169.254.169.254:80 on lo, the
                                         * socket handed over by systemd (openclawd-imds.socket) */
    bool ipv6;                          /* ::1, else an address in 127.0.0.0/8 */
    uint8_t addr[16];                   /* network order; the first 4 bytes for IPv4 */
    uint16_t port;                      /* 1..65535 */
    char text[OC_MI_ENDPOINT_TEXT_MAX]; /* normalized: "127.0.0.1:8400", "[::1]:8400" */
};

struct oc_global {
    char tenant_id[OC_GUID_SIZE]; /* lowercase canonical */
    char *authority;              /* https URL, no trailing slash */
    char *issuer_v1;              /* template with literal {tenantid} */
    char *issuer_v2;
    struct oc_strlist audiences; /* GUIDs are stored lowercase */
    unsigned algorithms;         /* OC_ALG_* bits */
    uint32_t clock_skew;
    uint32_t uid_min;
    uint32_t uid_max;
    char *home; /* template, %u = user name, %% = % */
    char *shell;
    char *state_dir;
    char *jwks_dir;
    char *nss_cache;
    char *keys_dir;
    char *runtime_dir;
    char *socket;
    char *tally_dir;
    /* root's: directory.json, names.json, the NSS cache and jwks/ (written
     * by openclaw-sync only; docs/security.md, "The trust boundary") */
    char *trust_dir;
    char *tcti;
    char *ca_file; /* NULL: system trust store */
    bool allow_software_keys;
    bool allow_insecure_credentials;
    struct oc_mi_endpoint mi_endpoint;
    /* SSHSIG namespaces the ssh-agent signs (docs/ssh.md); empty: file, git */
    struct oc_strlist ssh_namespaces;
};

struct oc_service {
    char *name;                       /* PAM service name, or "default" */
    struct oc_strlist require_role;   /* ANY of these roles; empty: none */
    struct oc_netlist allow_networks; /* default: any */
    struct oc_timewin allow_time;     /* default: always */
    uint32_t max_token_age;           /* seconds since iat; 0: no limit */
    bool one_time_tokens;
    uint32_t deny;
    uint32_t fail_interval;
    uint32_t unlock_time; /* 0: until an admin unlocks */
    bool has_allow_agents;
    struct oc_strlist allow_agents; /* only when has_allow_agents */
    unsigned line;                  /* line of the section header */
};

struct oc_agent {
    char *name;                   /* pinned Unix user name */
    char app_id[OC_GUID_SIZE];    /* lowercase canonical */
    char object_id[OC_GUID_SIZE]; /* lowercase canonical */
    bool has_uid;
    uint32_t uid; /* only when has_uid */
    struct oc_strlist groups;
    char *display_name; /* informational, never an identity; may be NULL */
    bool enabled;
    enum oc_credential credential;
    char *key_file; /* NULL when not set */
    char *cert_file;
    char *sealed_file;
    char *secret_file;
    char mi_client_id[OC_GUID_SIZE]; /* "" when not set */
    char mi_object_id[OC_GUID_SIZE];
    char *mi_res_id;
    char blueprint_app_id[OC_GUID_SIZE];
    /* agent-identity: how the blueprint authenticates for T1, with this
     * section's secret_file, key_file + cert_file or sealed_file. */
    enum oc_credential blueprint_credential;
    struct oc_strlist scopes;
    unsigned line; /* line of the section header */
};

/* [directory] on_anomaly */
enum oc_on_anomaly {
    OC_ANOMALY_NONE = 0,
    OC_ANOMALY_DISABLE_SP, /* disable-service-principal */
};

/*
 * [directory]: openclawd syncs the agents holding an app role on the
 * host's resource application from Microsoft Graph (docs/directory.md).
 * The Graph credential uses the same keys as an [agent]; it is kept in
 * `agent` (name "directory", object_id "" unless set).
 */
struct oc_directory {
    char *resource;       /* app ID URI or appId; default: the first audience */
    char *graph_url;      /* https URL, no trailing slash */
    char *graph_resource; /* token audience for Graph; default graph_url */
    uint32_t sync_interval;
    uint32_t full_sync_interval;      /* seconds; >= sync_interval */
    uint32_t max_requests_per_minute; /* Graph requests of this host */
    enum oc_on_anomaly on_anomaly;
    bool assignment_delta; /* auto (true): follow assignments by directoryObjects/delta */
    struct oc_agent agent; /* the Graph credential */
    unsigned line;         /* line of the section header */
};

struct oc_role_map {
    char *role;  /* app role value */
    char *group; /* Unix group name */
};

struct oc_config {
    struct oc_global global;
    struct oc_service *services;
    size_t n_services;
    struct oc_agent *agents;
    size_t n_agents;
    struct oc_role_map *roles;
    size_t n_roles;
    struct oc_directory *directory; /* NULL without a [directory] section */
};

struct oc_config_error {
    char file[256];
    unsigned line; /* 0: about the file as a whole */
    char msg[512]; /* what is wrong and what to write instead */
};

/*
 * Load and parse path. The file must be a regular file (not a symlink),
 * owned by root and not writable by group or others, unless flags has
 * OC_CONFIG_INSECURE_OK. Returns 0, or a negative errno with *err filled
 * (err may be NULL): -ENOENT/-EACCES (open), -ELOOP (symlink), -EPERM
 * (ownership or mode), -EFBIG (too large), -EINVAL (content), -ENOMEM.
 */
int oc_config_load(const char *path, unsigned flags, struct oc_config **ret_config,
                   struct oc_config_error *err);

/* Parse a buffer (need not be NUL-terminated); name is used in errors. */
int oc_config_parse(const char *buf, size_t len, const char *name, unsigned flags,
                    struct oc_config **ret_config, struct oc_config_error *err);

void oc_config_free(struct oc_config *config);

/* "file:line: message" (or "file: message" for line 0) into buf. */
int oc_config_error_format(const struct oc_config_error *err, char *buf, size_t len);

/* The [service NAME] section for pam_service, else [service default], else NULL. */
const struct oc_service *oc_config_service(const struct oc_config *config, const char *pam_service);

const struct oc_agent *oc_config_agent_by_name(const struct oc_config *config, const char *name);
/* app_id / object_id compared as GUIDs (case-insensitive); NULL if none. */
const struct oc_agent *oc_config_agent_by_app_id(const struct oc_config *config,
                                                 const char *app_id);
const struct oc_agent *oc_config_agent_by_object_id(const struct oc_config *config,
                                                    const char *object_id);

/* The Unix group mapped to an app role value in [roles], or NULL. */
const char *oc_config_role_group(const struct oc_config *config, const char *role);

/*
 * Expand the home template for user into buf. Returns 0, -EINVAL (user
 * not a valid name) or -ENOBUFS.
 */
int oc_config_home(const struct oc_config *config, const char *user, char *buf, size_t len);

#endif /* OC_CONF_H */
