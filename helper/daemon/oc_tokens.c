/* SPDX-License-Identifier: MIT */
/* oc_tokens.c: token cache, refresh ahead of expiry, backoff (see oc_tokens.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "helper/daemon/oc_tokens.h"
#include "util.h"

void oc_tokens_init(struct oc_tokens *t, struct oc_fetch_ctx *fetch, oc_tokens_done_fn done,
                    void *done_arg)
{
    memset(t, 0, sizeof(*t));
    t->fetch = fetch;
    t->done = done;
    t->done_arg = done_arg;
}

void oc_tokens_free(struct oc_tokens *t)
{
    for (size_t i = 0; i < t->n; i++) {
        oc_token_clear(&t->entries[i].token);
    }
    free(t->entries);
    t->entries = NULL;
    t->n = 0;
}

int oc_tokens_entry(struct oc_tokens *t, size_t agent, const char *scope,
                    struct oc_token_entry **ret_entry)
{
    size_t per_agent = 0;
    struct oc_token_entry *p;

    for (size_t i = 0; i < t->n; i++) {
        if (t->entries[i].agent == agent) {
            if (strcmp(t->entries[i].scope, scope) == 0) {
                *ret_entry = &t->entries[i];
                return 0;
            }
            per_agent++;
        }
    }
    if (t->n >= OC_TOKENS_MAX || per_agent >= OC_SCOPES_PER_AGENT_MAX) {
        return -ENOSPC;
    }
    if (strlen(scope) > OC_PROTO_SCOPE_MAX) {
        return -EINVAL;
    }
    p = realloc(t->entries, (t->n + 1) * sizeof(*p));
    if (p == NULL) {
        return -ENOMEM;
    }
    t->entries = p;
    p = &t->entries[t->n++];
    memset(p, 0, sizeof(*p));
    p->agent = agent;
    oc_strscpy(p->scope, sizeof(p->scope), scope);
    *ret_entry = p;
    return 0;
}

const char *oc_tokens_valid(const struct oc_token_entry *e, int64_t now)
{
    if (e->token.access_token == NULL || e->token.expires_on - OC_TOKEN_MIN_VALIDITY <= now) {
        return NULL;
    }
    return e->token.access_token;
}

/* Uniform in [lo, hi] (inclusive), from the kernel's CSPRNG. */
static uint32_t uniform(uint32_t lo, uint32_t hi)
{
    return lo + arc4random_uniform(hi - lo + 1);
}

#ifdef OC_TEST_HOOKS
/* Test builds only (configure --enable-test-hooks): OPENCLAW_TEST_TOKEN_HOOK
 * = "drop-last-good" makes a failed refresh drop the token held, a
 * deliberately broken daemon that stops serving its last good token during
 * an outage (the negative control of tests/reliability/outage.sh). */
static void token_test_hook(struct oc_token_entry *e)
{
    const char *s = secure_getenv("OPENCLAW_TEST_TOKEN_HOOK");

    if (s != NULL && strcmp(s, "drop-last-good") == 0 && e->token.access_token != NULL) {
        oc_token_clear(&e->token);
        fprintf(stderr, "openclawd: test hook: the last good token is dropped (drop-last-good)\n");
    }
}
#endif

static void record(struct oc_token_entry *e, int r, struct oc_token tok,
                   const struct oc_fetch_error *res_err)
{
    struct oc_fetch_error err = *res_err;
    int64_t now = oc_now();

    e->in_flight = false;
    if (r == 0) {
        oc_token_clear(&e->token);
        e->token = tok;
        e->obtained = now;
        e->refresh_at =
                now +
                (tok.lifetime * uniform(OC_REFRESH_FRACTION_MIN, OC_REFRESH_FRACTION_MAX)) / 1000;
        /* Short-lived tokens: refresh while the token is still served. */
        if (e->refresh_at > tok.expires_on - 2 * OC_TOKEN_MIN_VALIDITY) {
            e->refresh_at = tok.expires_on - 2 * OC_TOKEN_MIN_VALIDITY;
        }
        e->next_attempt = 0;
        e->failures = 0;
        e->last_status = 200;
        e->last_error[0] = '\0';
        e->last_entra_code[0] = '\0';
        e->last_entra_desc[0] = '\0';
        return;
    }
    /* Exponential backoff with "equal jitter": half fixed, half random. */
    int64_t delay;
    if (err.permanent) {
        delay = OC_BACKOFF_PERMANENT;
    } else {
        unsigned shift = e->failures < 16 ? e->failures : 16;
        int64_t cap = (int64_t)OC_BACKOFF_BASE << shift;
        if (cap > OC_BACKOFF_MAX) {
            cap = OC_BACKOFF_MAX;
        }
        delay = cap / 2 + uniform(0, (uint32_t)(cap - cap / 2));
    }
    /* oc_now() counts whole seconds: one more makes sure that at least
     * Retry-After seconds pass, whatever the fraction of this second. */
    if (err.retry_after >= 0 && err.retry_after + 1 > delay) {
        delay = err.retry_after + 1;
    }
    if (e->failures < UINT32_MAX) {
        e->failures++;
    }
    e->next_attempt = now + delay;
    e->last_status = err.http_status;
#ifdef OC_TEST_HOOKS
    token_test_hook(e);
#endif
    oc_strscpy(e->last_error, sizeof(e->last_error), err.msg);
    oc_strscpy(e->last_entra_code, sizeof(e->last_entra_code), err.entra_code);
    oc_strscpy(e->last_entra_desc, sizeof(e->last_entra_desc), err.entra_desc);
    fprintf(stderr, "openclawd: %s (next attempt in %llds%s)\n", err.msg, (long long)delay,
            oc_tokens_valid(e, now) != NULL ? "; serving the last good token until it expires"
                                            : "");
}

/* A job in flight: the entry it is for (entries move when they grow). */
struct token_job {
    struct oc_tokens *t;
    size_t idx;
};

static void token_job_done(void *arg, struct oc_fetch_result *res)
{
    struct token_job *tj = arg;
    struct oc_tokens *t = tj->t;
    size_t idx = tj->idx;

    free(tj);
    if (res->cancelled || idx >= t->n) {
        return; /* the daemon is shutting down */
    }
    record(&t->entries[idx], res->result, res->token, &res->err);
    memset(&res->token, 0, sizeof(res->token)); /* moved into the entry */
    if (res->result == 0) {
        t->dirty = true; /* the token store writes it (oc_store_flush) */
    }
    if (t->done != NULL) {
        t->done(t->done_arg, idx, res);
    }
}

int oc_tokens_start(struct oc_tokens *t, struct oc_token_entry *e)
{
    const struct oc_config *cfg = t->fetch->config;
    struct token_job *tj;
    struct oc_fetch_error err;
    struct oc_token none = {0};
    int r;

    if (e->in_flight) {
        return 0;
    }
    e->fetches++;
    tj = malloc(sizeof(*tj));
    if (tj == NULL) {
        memset(&err, 0, sizeof(err));
        err.retry_after = -1;
        oc_strscpy(err.msg, sizeof(err.msg), "out of memory");
        record(e, -ENOMEM, none, &err);
        return -ENOMEM;
    }
    *tj = (struct token_job){.t = t, .idx = (size_t)(e - t->entries)};
    r = oc_fetch_token_start(t->fetch, &cfg->agents[e->agent], e->scope, token_job_done, tj, &err);
    if (r < 0) {
        free(tj);
        record(e, r, none, &err);
        return r;
    }
    e->in_flight = true;
    return 0;
}

int64_t oc_tokens_tick(struct oc_tokens *t, int64_t now, int64_t max_wait)
{
    int64_t wait = max_wait;

    for (size_t i = 0; i < t->n; i++) {
        struct oc_token_entry *e = &t->entries[i];
        int64_t due;

        if (e->token.access_token != NULL && e->token.expires_on <= now) {
            /* Expired: drop it, never serve it. */
            oc_token_clear(&e->token);
        }
        if (e->in_flight || (e->token.access_token == NULL && e->failures == 0)) {
            continue; /* running, or nobody waits: fetched on the next request */
        }
        due = e->token.access_token != NULL ? e->refresh_at : 0;
        if (e->next_attempt > due) {
            due = e->next_attempt;
        }
        if (due <= now) {
            oc_tokens_start(t, e);
            if (e->in_flight) {
                continue; /* the loop hears back from it */
            }
            due = e->next_attempt != 0 ? e->next_attempt : e->refresh_at;
        }
        if (due - now < wait) {
            wait = due - now;
        }
    }
    return wait < 0 ? 0 : wait;
}

int oc_tokens_restore(struct oc_tokens *t, size_t agent, const char *scope, char *access_token,
                      int64_t expires_on, int64_t obtained)
{
    struct oc_token_entry *e = NULL;
    int64_t lifetime = expires_on - obtained;
    int r;

    if (access_token == NULL || lifetime <= 0) {
        return -EINVAL;
    }
    r = oc_tokens_entry(t, agent, scope, &e);
    if (r < 0) {
        return r;
    }
    oc_token_clear(&e->token);
    e->token.access_token = access_token;
    e->token.expires_on = expires_on;
    e->token.lifetime = lifetime;
    e->obtained = obtained;
    /* The same schedule as a fresh token, counted from when it was obtained. */
    e->refresh_at = obtained +
                    (lifetime * uniform(OC_REFRESH_FRACTION_MIN, OC_REFRESH_FRACTION_MAX)) / 1000;
    if (e->refresh_at > expires_on - 2 * OC_TOKEN_MIN_VALIDITY) {
        e->refresh_at = expires_on - 2 * OC_TOKEN_MIN_VALIDITY;
    }
    return 0;
}
