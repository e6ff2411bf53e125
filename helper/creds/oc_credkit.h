/* SPDX-License-Identifier: MIT */
/*
 * oc_credkit.h: what the files of helper/creds/ share, inside libocreds
 * only: the credential kind table entry, the token request and its
 * answer, errors, forms, the TPM keys. Callers use oc_fetch.h.
 *
 * A credential kind is one file that defines a struct oc_cred_kind and
 * starts its HTTP requests through oc_http.h, each with its own
 * completion callback; the kind table (oc_fetch.c) names every kind.
 */
#ifndef OC_CREDKIT_H
#define OC_CREDKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "helper/creds/oc_fetch.h"
#include "helper/creds/oc_http.h"

#define OC_CRED_FORM_MAX (32u * 1024u) /* a token request form */

/* One credential kind (credential = NAME in an agent's section). */
struct oc_cred_kind {
    enum oc_credential kind;
    /* Why the section cannot use this kind, or NULL; NULL function: always usable. */
    const char *(*unusable)(const struct oc_config *config, const struct oc_agent *agent);
    /* Start the token request(s); as oc_fetch_token_start(). */
    int (*start)(struct oc_fetch_ctx *ctx, const struct oc_agent *agent, const char *scope,
                 oc_fetch_done_fn done, void *arg, struct oc_fetch_error *err);
};

/* oc_cred_client.c: the client-credentials grant with a secret or an assertion */
extern const struct oc_cred_kind oc_cred_secret_file;
extern const struct oc_cred_kind oc_cred_tpm_sealed_secret;
extern const struct oc_cred_kind oc_cred_tpm_certificate;
/* oc_cred_mi.c */
extern const struct oc_cred_kind oc_cred_managed_identity;
/* oc_cred_arc.c */
extern const struct oc_cred_kind oc_cred_azure_arc;
/* oc_cred_agentid.c */
extern const struct oc_cred_kind oc_cred_agent_identity;
/* The agent-identity T1 cache (wiped). */
void oc_cred_agentid_free(struct oc_fetch_ctx *ctx);

/*
 * oc_cred_client.c: add to form the client authentication of client_id
 * using credential kind and the files of agent's section: client_secret
 * (secret-file, tpm-sealed-secret) or a TPM-signed client_assertion for
 * audience (tpm-certificate). Used by agent-identity for the blueprint.
 */
int oc_cred_client_auth(struct oc_fetch_ctx *ctx, const struct oc_agent *agent,
                        enum oc_credential kind, const char *client_id, const char *audience,
                        char *form, size_t cap, struct oc_fetch_error *err);

/* ---- oc_credkit.c --------------------------------------------------- */

void oc_cred_fail(struct oc_fetch_error *err, long status, bool permanent, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* An empty error (retry_after -1). */
void oc_cred_error_init(struct oc_fetch_error *err);

/* form += "&key=value", URL-encoded. 0 or -ENOMEM / -E2BIG. */
int oc_cred_form_add(char *form, size_t cap, const char *key, const char *value);

/* The token endpoint: discovered, else <authority>/<tenant>/oauth2/v2.0/token. */
int oc_cred_token_endpoint(const struct oc_fetch_ctx *ctx, char *buf, size_t len);

/* A token answer: 200 parsed into ret, else the error explained (as for
 * every credential). who names the requester in messages. */
int oc_cred_answer_token(const char *who, const struct oc_http_answer *a, struct oc_token *ret,
                         struct oc_fetch_error *err);

/* Hand res to done, then wipe and free what done left in it. */
void oc_cred_finish(oc_fetch_done_fn done, void *arg, struct oc_fetch_result *res);

/* A cancelled job's result for done (oc_fetch_done()). */
void oc_cred_cancelled(oc_fetch_done_fn done, void *arg);

/*
 * A token job: one or more HTTP requests, each answer read by the job's
 * current step. A kind with several requests starts the next one from a
 * step and returns 1; any other return ends the job with that result (the
 * token in res on 0) and frees it.
 */
struct oc_cred_job;
typedef int (*oc_cred_step_fn)(struct oc_cred_job *job, const struct oc_http_answer *a,
                               struct oc_fetch_result *res);
struct oc_cred_job {
    struct oc_fetch_ctx *ctx;
    const struct oc_agent *agent;
    char scope[OC_PROTO_SCOPE_MAX + 1];
    bool imds;            /* a one-request token from IMDS (for messages) */
    oc_cred_step_fn step; /* reads the answer of the request in flight */
    oc_fetch_done_fn done;
    void *arg;
};

/* A new job of agent for scope; NULL with err filled. */
struct oc_cred_job *oc_cred_job_new(struct oc_fetch_ctx *ctx, const struct oc_agent *agent,
                                    const char *scope, oc_fetch_done_fn done, void *arg,
                                    struct oc_fetch_error *err);

/* Start the job's next request (req's done and arg are set here), its
 * answer read by step. 0, or a negative errno with err filled (the job
 * stays the caller's; a form is wiped). */
int oc_cred_job_request(struct oc_cred_job *job, struct oc_http_request *req, oc_cred_step_fn step,
                        struct oc_fetch_error *err);

/*
 * A token from one HTTP request (the client-credentials grant, IMDS):
 * req's url, metadata and form (taken over) are sent; the answer is parsed
 * as a token of agent and handed to done. 0, or a negative errno with err
 * filled.
 */
int oc_cred_token_request(struct oc_fetch_ctx *ctx, const struct oc_agent *agent,
                          const struct oc_http_request *req, oc_fetch_done_fn done, void *arg,
                          struct oc_fetch_error *err);

/* A resource for IMDS and Arc: scope without "/.default". 0 or -ENOBUFS. */
int oc_cred_resource(const char *scope, char *buf, size_t len);

/* ---- oc_credtpm.c: the TPM context and the keys loaded in it -------- */

/* A client assertion for client_id at audience, signed with agent's TPM
 * key. 0, OC_TPM_SOFTWARE_KEY (signed with a software key), or -errno
 * with err saying why. */
int oc_credtpm_assertion(struct oc_fetch_ctx *ctx, const struct oc_agent *agent,
                         const char *client_id, const char *audience, char **ret_jwt,
                         struct oc_fetch_error *err);

/* The key slots of every [agent] and of [directory]. 0 or -ENOMEM. */
int oc_credtpm_init(struct oc_fetch_ctx *ctx);
/* Every key freed, the TPM context closed. */
void oc_credtpm_done(struct oc_fetch_ctx *ctx);

#endif
