/* SPDX-License-Identifier: MIT */
/*
 * oc_tokens.h: openclawd's token cache and refresh scheduler.
 *
 * One entry per (agent, scope) that somebody asked for. An entry keeps
 * the last good token until it expires, is refreshed ahead of expiry at
 * a random point between OC_REFRESH_FRACTION_MIN and _MAX of the token's
 * lifetime, and after a failure waits an exponential, jittered backoff
 * (at least Retry-After when the server sent one) before the next
 * attempt. The daemon is single-threaded, so at most one request per
 * entry is ever in flight.
 */
#ifndef OC_TOKENS_H
#define OC_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "helper/creds/oc_fetch.h"
#include "proto.h"

#define OC_TOKENS_MAX           1024 /* (agent, scope) entries in memory */
#define OC_SCOPES_PER_AGENT_MAX 16
#define OC_REFRESH_FRACTION_MIN 750 /* per mille of the lifetime */
#define OC_REFRESH_FRACTION_MAX 850
#define OC_BACKOFF_BASE         2   /* seconds, first retry */
#define OC_BACKOFF_MAX          300 /* seconds */
#define OC_BACKOFF_PERMANENT    600 /* seconds, after a configuration error */
#define OC_TOKEN_MIN_VALIDITY   5   /* never hand out a token with less left */

struct oc_token_entry {
    size_t agent;
    char scope[OC_PROTO_SCOPE_MAX + 1];
    struct oc_token token; /* access_token NULL when none */
    int64_t obtained;
    int64_t refresh_at;
    int64_t next_attempt; /* 0: now */
    unsigned failures;
    uint64_t fetches; /* requests sent for this entry */
    bool in_flight;   /* a request is running: never a second one */
    long last_status;
    char last_error[OC_FETCH_ERR_MAX]; /* "" after a success */
    /* Entra's error code and description of the last failure ("" when
     * Entra gave none): what the MI endpoint answers, as IMDS does */
    char last_entra_code[OC_FETCH_ENTRA_CODE_MAX];
    char last_entra_desc[OC_FETCH_ENTRA_DESC_MAX];
};

/* Called after entry idx's job ended and the entry recorded its result. */
typedef void (*oc_tokens_done_fn)(void *arg, size_t idx, const struct oc_fetch_result *res);

struct oc_tokens {
    struct oc_fetch_ctx *fetch;
    oc_tokens_done_fn done;
    void *done_arg;
    struct oc_token_entry *entries;
    size_t n;
    bool dirty; /* a token was obtained since the store last wrote (oc_store.h) */
};

void oc_tokens_init(struct oc_tokens *t, struct oc_fetch_ctx *fetch, oc_tokens_done_fn done,
                    void *done_arg);
void oc_tokens_free(struct oc_tokens *t);

/* The entry for (agent, scope), created when absent. -ENOSPC past the caps. */
int oc_tokens_entry(struct oc_tokens *t, size_t agent, const char *scope,
                    struct oc_token_entry **ret_entry);

/* A token that is valid now (at least OC_TOKEN_MIN_VALIDITY left), or NULL. */
const char *oc_tokens_valid(const struct oc_token_entry *e, int64_t now);

/* Start a fetch for e unless one is in flight (logs on failure). 0 or a
 * negative errno (the failure is already recorded in e). */
int oc_tokens_start(struct oc_tokens *t, struct oc_token_entry *e);

/* Put a token read back from the store (oc_store.h) into the (agent, scope)
 * entry, refreshed on the normal schedule from obtained. On success the
 * entry owns access_token; on failure the caller still does. */
int oc_tokens_restore(struct oc_tokens *t, size_t agent, const char *scope, char *access_token,
                      int64_t expires_on, int64_t obtained);

/* Start every refresh and retry that is due; returns the seconds until the
 * next one (capped at max_wait). */
int64_t oc_tokens_tick(struct oc_tokens *t, int64_t now, int64_t max_wait);

#endif
