/* SPDX-License-Identifier: MIT */
/*
 * oc_cred.h: openclawd's jobs that take more than one HTTP request, and
 * the interface between them and oc_fetch.c.
 *
 *   azure-arc       GET the Arc token URL; a 401 names a key file in
 *                   "WWW-Authenticate: Basic realm=PATH"; the path is
 *                   checked (canonical, no symlink, inside the allowed
 *                   directory, *.key, regular, <= 4 KiB) before it is
 *                   read; the request is repeated once with
 *                   "Authorization: Basic <content>" (oc_cred.c).
 *   agent-identity  Entra Agent ID: the blueprint's own credential gets T1
 *                   (scope api://AzureADTokenExchange/.default, fmi_path =
 *                   the agent identity's app id); T1 is then the agent
 *                   identity's client assertion. T1 is cached per
 *                   (blueprint, agent identity) and renewed ahead of its
 *                   expiry (while renewing fails, the cached T1 is used
 *                   until OC_T1_MIN_LEFT before it expires); never logged
 *                   (oc_cred.c).
 *   discovery       the authority's OIDC discovery document, fetched just
 *                   before every JWKS refresh, validated, written to
 *                   <jwks_dir>/openid-configuration.json (0644); its
 *                   token_endpoint and jwks_uri replace the constructed
 *                   URLs (oc_discovery.c).
 *
 * Each request is an oc_fetch job in the one curl multi handle: the next
 * request starts from the completion of the previous one, so the event
 * loop never blocks. A step's state (struct oc_step) travels from job to
 * job and is freed when the last one reports its result.
 */
#ifndef OC_CRED_H
#define OC_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "helper/creds/oc_credparse.h"
#include "helper/creds/oc_fetch.h"
#include "proto.h" /* OC_PROTO_SCOPE_MAX */

#define OC_ARC_DEFAULT       "http://localhost:40342" /* Azure Connected Machine agent */
#define OC_ARC_TOKEN_DIR     "/var/opt/azcmagent/tokens"
#define OC_ARC_API_VERSION   "2020-06-01"
#define OC_ARC_KEY_MAX       4096 /* bytes in an Arc key file */
#define OC_T1_SCOPE          "api://AzureADTokenExchange/.default"
#define OC_T1_REFRESH_MARGIN 300 /* seconds: T1 is renewed when less is left */
#define OC_T1_MIN_LEFT       60  /* seconds: a cached T1 still used when renewing fails */
#define OC_DISCOVERY_FILE    "openid-configuration.json"

enum oc_step_kind {
    OC_STEP_ARC_CHALLENGE = 1, /* first Arc request, expects the 401 */
    OC_STEP_ARC_TOKEN,         /* second Arc request, with the key */
    OC_STEP_AGENT_T1,          /* blueprint -> T1 */
    OC_STEP_AGENT_TOKEN,       /* T1 -> the agent identity's token */
    OC_STEP_DISCOVERY,         /* discovery document, then the JWKS */
};

struct oc_step {
    enum oc_step_kind kind;
    size_t agent;
    uint64_t id;
    char scope[OC_PROTO_SCOPE_MAX + 1];
    char dir[OC_CONFIG_PATH_MAX + 8]; /* discovery: the JWKS directory */
};

/* What one finished request of a step returned (filled by oc_fetch.c). */
struct oc_step_answer {
    bool transport_ok; /* false: no HTTP answer (see transport_error) */
    const char *transport_error;
    long status;
    const char *body; /* NUL-terminated, len bytes; "" when empty */
    size_t len;
    int64_t retry_after;
    const char *challenge; /* the WWW-Authenticate value, "" when absent */
};

/* Per fetch context: the T1 cache and the discovery state. */
struct oc_cred_ctx;

/* ---- provided by oc_fetch.c ---------------------------------------- */

/*
 * Start one request of step st: GET url (form == NULL) or POST form (taken
 * over, wiped and freed with the job). imds: plain http allowed, never
 * proxied, "Metadata: true". authorization: an extra header value (a
 * secret: wiped with the job) or NULL. On success the job owns st; on
 * failure st stays the caller's and err says why.
 */
int oc_fetch_step_start(struct oc_fetch_ctx *ctx, struct oc_step *st, const char *url, bool imds,
                        const char *authorization, char *form, size_t form_cap,
                        struct oc_fetch_error *err);

/*
 * Add to form the client authentication of client_id using credential
 * kind and the files of agent i's section: client_secret (secret-file) or
 * a TPM-signed client_assertion for audience (tpm-certificate). The one
 * place a new kind (tpm-sealed-secret) plugs in for the blueprint.
 */
int oc_fetch_client_auth(struct oc_fetch_ctx *ctx, size_t i, enum oc_credential kind,
                         const char *client_id, const char *audience, char *form, size_t cap,
                         struct oc_fetch_error *err);

/* form += "&key=value", URL-encoded. 0 or -ENOMEM / -E2BIG. */
int oc_fetch_form_add(char *form, size_t cap, const char *key, const char *value);

/* The token endpoint: discovered, else <authority>/<tenant>/oauth2/v2.0/token. */
int oc_fetch_token_endpoint(const struct oc_fetch_ctx *ctx, char *buf, size_t len);

/* A token answer: 200 parsed into ret, else the error explained (as for
 * every other credential). who names the requester in messages. */
int oc_fetch_answer_token(const char *who, const struct oc_step_answer *a, struct oc_token *ret,
                          struct oc_fetch_error *err);

/* Write dir/name atomically, mode 0644. */
int oc_fetch_write_public(const char *dir, const char *name, const char *data, size_t len);

/* The JWKS request proper (after discovery): as oc_fetch_jwks_start(). */
int oc_fetch_jwks_request(struct oc_fetch_ctx *ctx, const char *dir, uint64_t id,
                          struct oc_fetch_error *err);

/* ---- provided by oc_cred.c ------------------------------------------ */

int oc_cred_arc_start(struct oc_fetch_ctx *ctx, size_t i, const char *scope, uint64_t id,
                      struct oc_fetch_error *err);
int oc_cred_agent_start(struct oc_fetch_ctx *ctx, size_t i, const char *scope, uint64_t id,
                        struct oc_fetch_error *err);

/* Why agent-identity or azure-arc cannot be used, or NULL. */
const char *oc_cred_unusable(const struct oc_config *config, const struct oc_agent *agent);

/*
 * A request of st finished with answer a. Returns 1 with the job's final
 * result in *ret (st freed), or 0 when the next request of st is running.
 */
int oc_step_done(struct oc_fetch_ctx *ctx, struct oc_step *st, const struct oc_step_answer *a,
                 struct oc_fetch_result *ret);

void oc_step_free(struct oc_step *st);

/* The context's T1 cache and discovery state (wiped). */
void oc_cred_ctx_free(struct oc_fetch_ctx *ctx);

/* ---- provided by oc_discovery.c ------------------------------------- */

/* Start the discovery request, whose completion starts the JWKS request
 * of dir (reported as the JWKS job id). */
int oc_discovery_start(struct oc_fetch_ctx *ctx, const char *dir, uint64_t id,
                       struct oc_fetch_error *err);
/* True when the next JWKS refresh must fetch discovery first. */
bool oc_discovery_due(struct oc_fetch_ctx *ctx);
/* As oc_step_done() for OC_STEP_DISCOVERY (the result is the JWKS job's). */
int oc_discovery_step_done(struct oc_fetch_ctx *ctx, struct oc_step *st,
                           const struct oc_step_answer *a, struct oc_fetch_result *ret);
void oc_discovery_free(struct oc_fetch_ctx *ctx);
/* Discovered endpoints, or NULL (then the constructed URL is used). */
const char *oc_discovery_token_endpoint(const struct oc_fetch_ctx *ctx);
const char *oc_discovery_jwks_uri(const struct oc_fetch_ctx *ctx);
/* For status: {"source":..., "age":..., "file":..., "last_error":...}. */
cJSON *oc_discovery_status(const struct oc_fetch_ctx *ctx, int64_t now);

#endif
