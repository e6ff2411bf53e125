/* SPDX-License-Identifier: MIT */
/*
 * oc_fetch.h: openclawd's HTTPS client (libcurl) and the token and JWKS
 * requests made with it.
 *
 * TLS is always verified (ca_file from the config when set, else the
 * system store); no redirects are followed; connect and total timeouts
 * are bounded; responses are capped; proxy variables (https_proxy,
 * no_proxy) are honoured as libcurl does by default, except for IMDS
 * and Azure Arc, which are never proxied. Plain http is allowed only for
 * those two local endpoints.
 */
#ifndef OC_FETCH_H
#define OC_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "conf.h"
#include "jwt.h" /* OC_TOKEN_MAX */

#define OC_HTTP_BODY_MAX        (256u * 1024u) /* any response body */
#define OC_HTTP_CONNECT_TIMEOUT 5L             /* seconds */
#define OC_HTTP_TOTAL_TIMEOUT   15L            /* seconds */
#define OC_RETRY_AFTER_MAX      3600           /* Retry-After honoured up to this */
#define OC_FETCH_ERR_MAX        512
/* Entra's own error code and description, kept whole for the MI endpoint
 * (which answers them as IMDS does). */
#define OC_FETCH_ENTRA_CODE_MAX 64
#define OC_FETCH_ENTRA_DESC_MAX 1024

/* A Graph response (directory sync, helper/sync/oc_graph.c). */
#define OC_GRAPH_BODY_MAX (8u * 1024u * 1024u)

/* IMDS: the well-known address, used when neither --imds nor the
 * environment names another endpoint. */
#define OC_IMDS_DEFAULT "http://169.254.169.254"

struct oc_tpm;
struct oc_agent_keys;
struct oc_fetch_job;
struct oc_cred_ctx;
struct oc_discovery_ctx;

struct oc_fetch_ctx {
    const struct oc_config *config;
    const char *imds_base;      /* no trailing slash */
    struct oc_tpm *tpm;         /* opened on first use of a TPM credential */
    struct oc_agent_keys *keys; /* per agent, loaded once */
    CURLM *multi;               /* every HTTP request runs here, never blocking */
    struct oc_fetch_job *jobs;  /* in flight */
    size_t in_flight;
    const char *arc_base;          /* azure-arc endpoint base, no trailing slash */
    const char *arc_token_dir;     /* Arc challenge key files must be directly in here */
    struct oc_cred_ctx *cred;      /* T1 cache (oc_cred.c) */
    struct oc_discovery_ctx *disc; /* OIDC discovery (oc_discovery.c) */
};

struct oc_fetch_error {
    long http_status;           /* 0: no HTTP answer (network, TLS, timeout) */
    int64_t retry_after;        /* seconds from Retry-After, -1 when absent */
    bool permanent;             /* configuration problem: retrying cannot help soon */
    char msg[OC_FETCH_ERR_MAX]; /* one line: what happened and what to do */
    /* Entra's answer, printable ASCII ("" when there was none): its
     * "error" and its "error_description" with line breaks as spaces */
    char entra_code[OC_FETCH_ENTRA_CODE_MAX];
    char entra_desc[OC_FETCH_ENTRA_DESC_MAX];
};

struct oc_token {
    char *access_token; /* wipe with oc_token_clear() */
    int64_t expires_on; /* seconds since the epoch */
    int64_t lifetime;   /* expires_in as returned */
};

int oc_fetch_init(struct oc_fetch_ctx *ctx, const struct oc_config *config, const char *imds_base);
void oc_fetch_done(struct oc_fetch_ctx *ctx);

void oc_token_clear(struct oc_token *t);

/* The scope used when a client names none: the agent's first scope, else
 * "<first audience>/.default". */
int oc_default_scope(const struct oc_config *config, const struct oc_agent *agent, char *buf,
                     size_t len);

/* Why this agent cannot get tokens at all (credential kind not supported,
 * secret-file without allow_insecure_credentials, ...), or NULL. */
const char *oc_agent_unusable(const struct oc_config *config, const struct oc_agent *agent);

/* A tpm-certificate agent's key: "tpm", "software" (not bound to a TPM),
 * or NULL (another credential, or the key file is unreadable). */
const char *oc_fetch_key_kind(const struct oc_fetch_ctx *ctx, size_t agent_index);

/*
 * agent_index: an index into config->agents, or config->n_agents for the
 * [directory] Graph credential (when the config has that section).
 * Start acquiring a token for agent and scope; the answer arrives through
 * oc_fetch_next() with the same id. Reading a secret file and signing an
 * assertion in the TPM happen here (fast, local); the HTTP request runs
 * in the multi handle. 0, or a negative errno with err filled.
 */
int oc_fetch_token_start(struct oc_fetch_ctx *ctx, size_t agent_index, const char *scope,
                         uint64_t id, struct oc_fetch_error *err);

/* Start fetching the tenant's JWKS; on completion it is validated and
 * written to <dir>/keys.json atomically (0644). */
int oc_fetch_jwks_start(struct oc_fetch_ctx *ctx, const char *dir, uint64_t id,
                        struct oc_fetch_error *err);

/*
 * Start a Microsoft Graph request (directory sync): method "GET",
 * "PATCH" or "POST" (a JSON $batch), url an https URL, bearer the Graph access token, body a JSON
 * text or NULL. The answer (any HTTP status) arrives through
 * oc_fetch_next() with graph set and the body in result.body.
 */
int oc_fetch_graph_start(struct oc_fetch_ctx *ctx, const char *method, const char *url,
                         const char *bearer, const char *body, uint64_t id,
                         struct oc_fetch_error *err);

/* Poll the extra fds and every transfer (curl_multi_poll), then drive the
 * transfers. revents of extra are set. 0 or -EIO. */
int oc_fetch_wait(struct oc_fetch_ctx *ctx, struct curl_waitfd *extra, unsigned n, int timeout_ms);

struct oc_fetch_result {
    uint64_t id;
    bool jwks; /* a JWKS job; else a token job of agent */

    bool graph; /* a Graph job: http_status and body (caller frees) */
    long http_status;
    char *body;
    size_t body_len;
    size_t agent;
    int result;            /* 0 or a negative errno */
    struct oc_token token; /* token jobs, on success: the caller owns it */
    struct oc_fetch_error err;
};

/* 1 with a finished job in *ret, 0 when none. */
int oc_fetch_next(struct oc_fetch_ctx *ctx, struct oc_fetch_result *ret);

/* The TPM key of a tpm-certificate agent, loaded on first use and kept, as
 * for client assertions (ssh signatures use it too); owned by ctx.
 * -ENOENT for an agent with another credential; else as the token path. */
struct oc_tpm_key;
int oc_fetch_agent_key(struct oc_fetch_ctx *ctx, size_t agent_index, struct oc_tpm_key **ret_key,
                       struct oc_fetch_error *err);

/*
 * After a TPM operation failed with -ENODEV (the TCTI lost the TPM: swtpm
 * or the resource manager restarted, the device went away): every object
 * of the context went with it. Frees the loaded keys and closes the
 * context; the next use opens the TPM again and reloads each key from its
 * blob, so openclawd recovers without a restart. Other errors: no-op.
 */
void oc_fetch_tpm_failed(struct oc_fetch_ctx *ctx, int r);

#endif
