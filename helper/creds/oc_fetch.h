/* SPDX-License-Identifier: MIT */
/*
 * oc_fetch.h: libocreds for its callers (openclawd, openclaw-sync): a
 * token for an agent's credential, the tenant's JWKS, a Microsoft Graph
 * request. Each job is started with its own completion callback and
 * argument; the requests run in the transport's multi handle
 * (oc_http.h), never blocking the caller's event loop.
 */
#ifndef OC_FETCH_H
#define OC_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "conf.h"
#include "helper/creds/oc_http.h"
#include "jwt.h" /* OC_TOKEN_MAX */

#define OC_FETCH_ERR_MAX 512
/* Entra's own error code and description, kept whole for the MI endpoint
 * (which answers them as IMDS does). */
#define OC_FETCH_ENTRA_CODE_MAX 64
#define OC_FETCH_ENTRA_DESC_MAX 1024

/* A Graph response (directory sync, helper/sync/oc_graph.c). */
#define OC_GRAPH_BODY_MAX (8u * 1024u * 1024u)

/* IMDS: the well-known address, used when neither --imds nor the
 * environment names another endpoint. */
#define OC_IMDS_DEFAULT "http://169.254.169.254"
/* Azure Arc: the Connected Machine agent and its challenge key files. */
#define OC_ARC_DEFAULT   "http://localhost:40342"
#define OC_ARC_TOKEN_DIR "/var/opt/azcmagent/tokens"

struct oc_tpm;
struct oc_agent_keys;
struct oc_t1_cache;
struct oc_discovery_state;

/* Callers read config and tpm (status, ssh signatures); the rest belongs
 * to helper/creds/. */
struct oc_fetch_ctx {
    const struct oc_config *config;
    struct oc_tpm *tpm; /* opened on first use of a TPM credential (oc_credtpm.c) */

    struct oc_http *http;                 /* every request runs here (oc_http.h) */
    const char *imds_base;                /* no trailing slash */
    const char *arc_base;                 /* azure-arc endpoint base, no trailing slash */
    const char *arc_token_dir;            /* Arc challenge key files must be directly in here */
    struct oc_agent_keys *keys;           /* per [agent], loaded once (oc_credtpm.c) */
    struct oc_agent_keys *dir_keys;       /* the [directory] credential's */
    struct oc_t1_cache *t1;               /* agent-identity's T1 cache (oc_cred_agentid.c) */
    struct oc_discovery_state *discovery; /* OIDC discovery (oc_discovery.c) */
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

/* The outcome of a job, handed to its callback. */
struct oc_fetch_result {
    /* The context is being freed (oc_fetch_done): release the job's own
     * state, nothing else; every other field is empty. */
    bool cancelled;
    int result;            /* 0 or a negative errno */
    struct oc_token token; /* token jobs, on success: the callback may take it */
    long http_status;      /* Graph jobs: the answer's status (any) */
    char *body;            /* Graph jobs: the body (NULL when empty); the callback may take it */
    size_t body_len;
    struct oc_fetch_error err;
};

/* Called exactly once per started job, from oc_fetch_dispatch() (or with
 * res->cancelled from oc_fetch_done()). What the callback does not take
 * out of res is wiped and freed after it returns. */
typedef void (*oc_fetch_done_fn)(void *arg, struct oc_fetch_result *res);

int oc_fetch_init(struct oc_fetch_ctx *ctx, const struct oc_config *config, const char *imds_base);
/* The Azure Arc endpoint and key directory (openclawd's --arc,
 * --arc-token-dir): NULL for the defaults; kept by reference. */
void oc_fetch_set_arc(struct oc_fetch_ctx *ctx, const char *arc_base, const char *arc_token_dir);
/* Every job still running is cancelled; safe after a failed init. */
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
 * Start acquiring a token for agent (an [agent] section of the config, or
 * the [directory] credential) and scope; done(arg, result) is called when
 * it ends. Reading a secret file and signing an assertion in the TPM
 * happen here (fast, local); the HTTP requests run in the multi handle.
 * 0, or a negative errno with err filled (done is then never called).
 */
int oc_fetch_token_start(struct oc_fetch_ctx *ctx, const struct oc_agent *agent, const char *scope,
                         oc_fetch_done_fn done, void *arg, struct oc_fetch_error *err);

/* Start fetching the tenant's JWKS (OIDC discovery first); on completion
 * it is validated and written to <dir>/keys.json atomically (0644), then
 * done is called. */
int oc_fetch_jwks_start(struct oc_fetch_ctx *ctx, const char *dir, oc_fetch_done_fn done, void *arg,
                        struct oc_fetch_error *err);

/*
 * Start a Microsoft Graph request (directory sync): method "GET",
 * "PATCH" or "POST" (a JSON $batch), url an https URL, bearer the Graph
 * access token, body a JSON text or NULL. done gets any HTTP status with
 * the body; result < 0 only when there was no HTTP answer.
 */
int oc_fetch_graph_start(struct oc_fetch_ctx *ctx, const char *method, const char *url,
                         const char *bearer, const char *body, oc_fetch_done_fn done, void *arg,
                         struct oc_fetch_error *err);

/* Poll the extra fds and every transfer (curl_multi_poll), then drive the
 * transfers. revents of extra are set. 0 or -EIO. */
int oc_fetch_wait(struct oc_fetch_ctx *ctx, struct curl_waitfd *extra, unsigned n, int timeout_ms);

/* Call the callback of every job that has finished. */
void oc_fetch_dispatch(struct oc_fetch_ctx *ctx);

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

/* For status: {"source":..., "age":..., "file":..., "last_error":...}. */
cJSON *oc_fetch_discovery_status(const struct oc_fetch_ctx *ctx, int64_t now);

#endif
