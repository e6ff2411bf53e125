/* SPDX-License-Identifier: MIT */
/*
 * oc_graph.c: openclawd's directory sync through Microsoft Graph (see
 * oc_graph.h and docs/directory.md).
 *
 * One sync is a small state machine driven by finished fetch jobs. A
 * full sync (the first, --force, every full_sync_interval, or after Graph
 * lost the delta state):
 *   token      client credentials with the [directory] credential, scope
 *              <graph_url>/.default (kept until shortly before it expires)
 *   resource   GET servicePrincipals?$filter=appId eq '...' (or by
 *              servicePrincipalNames for an app ID URI): its id and appRoles
 *   assigned   GET servicePrincipals/{id}/appRoleAssignedTo?$top=999 (+ pages)
 *   delta      GET servicePrincipals/delta?$select=...&$top=999, a new round
 *              (+ pages): the assigned principals' properties, and the
 *              @odata.deltaLink kept in graph-state.json for the next run
 *   fetch      JSON $batch (20 requests each) of what the delta did not give:
 *              GET servicePrincipals/{id} of a principal it lacked and, for
 *              applications, GET applications(appId='...')?$select=keyCredentials
 *   write      merge with the static [agent] sections, pin names, compute
 *              uids, write nss.cache, directory.json, names.json, graph-state.json
 * An incremental sync loads graph-state.json and starts at "delta" with the
 * deltaLink (usually one request, no change); it reads "resource" and
 * "assigned" again only when the delta names the resource service
 * principal, an assigned principal, or one this host does not know (a new
 * agent may hold an assignment), then "fetch" for what is new or changed.
 * Graph's 410 Gone on the deltaLink turns it into a full sync.
 * Every Graph request goes through one queue: at most OC_GRAPH_PARALLEL in
 * flight, within the host's budget of requests per minute, and retried on
 * 429, 503 and 5xx after Retry-After or an exponential backoff with jitter.
 * Any failure before "write" leaves every file as it was.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "clock.h"
#include "directory.h"
#include "helper/lib/oc_cachebuild.h"
#include "helper/lib/oc_sshwire.h"
#include "helper/sync/oc_graph.h"
#include "helper/sync/oc_graphutil.h"
#include "idmap.h"
#include "json.h"
#include "nsscache.h"
#include "util.h"

#define IDX_TOKEN    0xFFFFFFFEu /* job index of the token request */
#define IDX_PHASE    0xFFFFFFFDu /* job index of the resource / assignments request */
#define IDX_A_TOKEN  0xFFFFFFFCu /* anomaly response: its token request */
#define IDX_A_PATCH  0xFFFFFFFBu /* anomaly response: the PATCH */
#define URL_MAX      (OC_CONFIG_PATH_MAX + 1024)
#define CERT_DER_MAX (16 * 1024)
#define TOKEN_MARGIN 120 /* seconds: a Graph token is renewed this long before it expires */
#define ERR_MAX      OC_FETCH_ERR_MAX
#define IDX_BATCH0   0xFFFFFF00u /* job index of $batch j: IDX_BATCH0 + j */
#define LINK_MAX     3072        /* a nextLink or deltaLink Graph gives (fits the fetch URL) */
/* What is read of a service principal (delta, GET, $batch). */
#define DELTA_SELECT "id,appId,displayName,accountEnabled,servicePrincipalType"
/* directoryObjects/delta tracks app role assignments only with this filter
 * (percent-encoded): isof('microsoft.graph.appRoleAssignment') or
 * isof('microsoft.graph.user') */
#define ADELTA_FILTER                                                                              \
    "isof%28%27microsoft.graph.appRoleAssignment%27%29%20or%20isof%28%27microsoft.graph."          \
    "user%27%29"
#define AID_MAX 128 /* characters of an app role assignment id kept (Graph's: 43) */

enum phase {
    PH_IDLE = 0,
    PH_TOKEN,
    PH_RESOURCE,
    PH_ASSIGNED,
    PH_DELTA,
    PH_PRINCIPALS,
    PH_ADELTA, /* the app role assignment delta (directoryObjects/delta) */
};

enum pstep {
    PS_SP = 0,   /* GET servicePrincipals/{id} to do */
    PS_SP_WAIT,  /* in flight */
    PS_APP,      /* GET applications(appId=...) to do */
    PS_APP_WAIT, /* in flight */
    PS_DONE,     /* complete */
    PS_GONE,     /* deleted meanwhile, or no longer assigned: skipped */
};

struct principal {
    char id[OC_GUID_SIZE];
    char app_id[OC_GUID_SIZE];
    char *display_name;
    bool enabled;
    char **roles;
    size_t n_roles;
    struct oc_dir_key *keys;
    size_t n_keys;
    enum pstep step;
    unsigned char tries; /* throttled answers inside a $batch */
    bool app;            /* servicePrincipalType Application: it has key credentials */
    bool have;           /* appId, accountEnabled and displayName are known */
    bool assigned;       /* in the assignments read (or kept) by this sync */
    bool consumed;       /* merged into a static [agent] by write_files() */
};

/* One Graph request of the queue: waiting (its turn, the budget or a
 * retry time) or in flight. */
struct greq {
    bool used, flying;
    uint32_t idx;
    char method[8];
    char *url;
    char *body;
    unsigned tries;
    int64_t not_before_ms; /* monotonic */
};

/* A $batch in flight: which principal and which request each member is. */
struct batch {
    size_t pr[OC_GRAPH_BATCH_MAX];
    bool app[OC_GRAPH_BATCH_MAX];
    size_t n;
};

struct role_def {
    char id[OC_GUID_SIZE];
    char *value; /* NULL: disabled or unusable value */
};

/* A set of strings (app role assignment ids), open addressing. */
struct idset {
    char **v;
    size_t n, cap;
};

struct oc_graph {
    const struct oc_config *cfg;
    struct oc_fetch_ctx *fetch;
    char state_dir[OC_CONFIG_PATH_MAX + 1];
    oc_graph_log_fn log;
    oc_audit_sink_fn audit; /* NULL: no records */

    /* Graph token */
    char *token;
    int64_t token_expires;

    /* The sync in progress */
    enum phase phase;
    uint32_t gen; /* ids of jobs of older syncs are ignored */
    char resource_id[OC_GUID_SIZE];
    struct role_def *role_defs;
    size_t n_role_defs;
    struct principal *pr;
    size_t n_pr;
    size_t *hash; /* open addressing: principal index + 1, 0 empty */
    size_t hash_cap;
    size_t in_flight;
    unsigned pages;

    /* Incremental sync */
    bool want_full;  /* the caller asked for a full sync (--force) */
    bool full;       /* this sync is a full one */
    bool reassign;   /* the delta asks for the assignments to be read again */
    char *delta_url; /* the next delta request (deltaLink or nextLink) */
    char *delta_new; /* the deltaLink this sync ends with */
    int64_t full_at; /* when the last full sync was written */
    unsigned delta_changes;
    size_t n_todo; /* principals with a request still to make */
    size_t scan;   /* where the next $batch starts looking */

    /* The app role assignment delta (assignment_delta = auto) */
    char *adelta_url;   /* the kept assignment deltaLink, then the next page */
    char *adelta_new;   /* the assignment deltaLink this sync ends with */
    bool adelta_denied; /* Graph answered 403: not asked before the next full sync */
    bool adelta_all;    /* $deltatoken=latest refused: the whole round is read */
    struct idset aids;  /* the resource's assignments to service principals */

    /* The request queue */
    struct greq q[OC_GRAPH_PARALLEL + 1];
    struct batch batches[OC_GRAPH_PARALLEL + 1];
    int64_t hold_until_ms; /* a 429 inside a batch: no new request before */
    int64_t hold_wall_ms;  /* a Retry-After, kept across runs (wall clock) */
    int64_t deadline_ms;   /* the run's end (monotonic; 0: none) */
    double budget_tokens;
    int64_t budget_stamp_ms;
    unsigned n_requests, n_throttled, n_retries;

    /* Anomaly responses: queued (name, object id), the head one in flight */
    struct {
        char name[OC_USER_NAME_MAX + 1];
        char oid[OC_GUID_SIZE];
    } anomaly[OC_GRAPH_ANOMALY_QUEUE];
    size_t n_anomaly;
    bool anomaly_busy;
    bool resync; /* sync again as soon as the running one ends */

    /* Results */
    uint64_t generation;
    int64_t last_attempt, last_ok, next;
    unsigned failures;
    size_t agents;
    char last_error[ERR_MAX];
};

static void sync_failed(struct oc_graph *g, int64_t retry_after, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* Small helpers                                                      */
/* ------------------------------------------------------------------ */

static void principal_clear(struct principal *p);
static void roles_clear(struct principal *p);
static void q_clear(struct oc_graph *g);

static void principals_free(struct oc_graph *g)
{
    for (size_t i = 0; i < g->n_pr; i++) {
        principal_clear(&g->pr[i]);
    }
    free(g->pr);
    g->pr = NULL;
    g->n_pr = 0;
    free(g->hash);
    g->hash = NULL;
    g->hash_cap = 0;
    for (size_t i = 0; i < g->n_role_defs; i++) {
        free(g->role_defs[i].value);
    }
    free(g->role_defs);
    g->role_defs = NULL;
    g->n_role_defs = 0;
}

/* A job in flight: which request of which sync (g->gen) it is. */
struct graph_job {
    struct oc_graph *g;
    uint32_t gen;
    uint32_t idx;
};

static void job_done(struct oc_graph *g, uint32_t gen, uint32_t idx, struct oc_fetch_result *res);

static void graph_job_done(void *arg, struct oc_fetch_result *res)
{
    struct graph_job gj = *(struct graph_job *)arg;

    free(arg);
    if (!res->cancelled) {
        job_done(gj.g, gj.gen, gj.idx, res);
    }
}

/* The callback argument of a job idx of this sync; NULL with err filled. */
static struct graph_job *graph_job_new(struct oc_graph *g, uint32_t idx, struct oc_fetch_error *err)
{
    struct graph_job *gj = malloc(sizeof(*gj));

    if (gj == NULL) {
        memset(err, 0, sizeof(*err));
        err->retry_after = -1;
        oc_strscpy(err->msg, sizeof(err->msg), "out of memory");
        return NULL;
    }
    *gj = (struct graph_job){.g = g, .gen = g->gen, .idx = idx};
    return gj;
}

/* Start a Graph request as job idx. 0, or < 0 with err filled. */
static int graph_job_request(struct oc_graph *g, uint32_t idx, const char *method, const char *url,
                             const char *body, struct oc_fetch_error *err)
{
    struct graph_job *gj = graph_job_new(g, idx, err);
    int r = gj == NULL ? -ENOMEM
                       : oc_fetch_graph_start(g->fetch, method, url, g->token, body, graph_job_done,
                                              gj, err);

    if (r < 0) {
        free(gj);
    }
    return r;
}

/* Start the [directory] credential's Graph token as job idx. 0, or < 0
 * with err filled. */
static int graph_job_token(struct oc_graph *g, uint32_t idx, struct oc_fetch_error *err)
{
    char scope[OC_CONFIG_PATH_MAX + 16];
    struct graph_job *gj = graph_job_new(g, idx, err);
    int r;

    (void)snprintf(scope, sizeof(scope), "%s/.default", g->cfg->directory->graph_resource);
    r = gj == NULL ? -ENOMEM
                   : oc_fetch_token_start(g->fetch, &g->cfg->directory->agent, scope,
                                          graph_job_done, gj, err);
    if (r < 0) {
        free(gj);
    }
    return r;
}

static int64_t jitter(int64_t base, unsigned percent)
{
    uint32_t span = (uint32_t)(base * percent / 100);

    return span == 0 ? base : base - span + (int64_t)arc4random_uniform(2 * span + 1);
}

/* Log-safe copy of server text: printable ASCII only, one line. */
static void safe_text(const char *in, char *out, size_t len)
{
    oc_dir_gecos(in, out, len);
}

static void budget_save(const struct oc_graph *g);

static void idset_free(struct idset *s)
{
    for (size_t i = 0; i < s->cap; i++) {
        free(s->v[i]);
    }
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static bool idset_has(const struct idset *s, const char *id)
{
    if (s->cap == 0) {
        return false;
    }
    for (size_t k = (size_t)oc_fnv1a64(id, strlen(id)) & (s->cap - 1); s->v[k] != NULL;
         k = (k + 1) & (s->cap - 1)) {
        if (strcmp(s->v[k], id) == 0) {
            return true;
        }
    }
    return false;
}

/* Add id (copied) to s: 0 or -ENOMEM. */
static int idset_add(struct idset *s, const char *id)
{
    size_t k;

    if (idset_has(s, id)) {
        return 0;
    }
    if (2 * (s->n + 1) > s->cap) {
        struct idset t = {.cap = s->cap == 0 ? 256 : 2 * s->cap};

        t.v = calloc(t.cap, sizeof(*t.v));
        if (t.v == NULL) {
            return -ENOMEM;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (s->v[i] != NULL) {
                k = (size_t)oc_fnv1a64(s->v[i], strlen(s->v[i])) & (t.cap - 1);
                while (t.v[k] != NULL) {
                    k = (k + 1) & (t.cap - 1);
                }
                t.v[k] = s->v[i];
            }
        }
        t.n = s->n;
        free(s->v);
        *s = t;
    }
    k = (size_t)oc_fnv1a64(id, strlen(id)) & (s->cap - 1);
    while (s->v[k] != NULL) {
        k = (k + 1) & (s->cap - 1);
    }
    s->v[k] = strdup(id);
    if (s->v[k] == NULL) {
        return -ENOMEM;
    }
    s->n++;
    return 0;
}

/* Forget the assignment delta state of this sync (not the denial). */
static void adelta_clear(struct oc_graph *g)
{
    free(g->adelta_url);
    free(g->adelta_new);
    g->adelta_url = NULL;
    g->adelta_new = NULL;
    g->adelta_all = false;
    idset_free(&g->aids);
}

static void sync_end(struct oc_graph *g)
{
    principals_free(g);
    q_clear(g);
    free(g->delta_url);
    free(g->delta_new);
    g->delta_url = NULL;
    g->delta_new = NULL;
    adelta_clear(g);
    g->hold_until_ms = 0;
    memset(g->batches, 0, sizeof(g->batches));
    g->reassign = false;
    g->delta_changes = 0;
    budget_save(g);
    g->phase = PH_IDLE;
    g->gen++;
    g->generation++;
    if (g->resync) {
        g->resync = false;
        g->next = oc_now();
    }
}

static void sync_failed(struct oc_graph *g, int64_t retry_after, const char *fmt, ...)
{
    int64_t now = oc_now(), wait = OC_GRAPH_RETRY_BASE;
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(g->last_error, sizeof(g->last_error), fmt, ap);
    va_end(ap);
    for (unsigned i = 0; i < g->failures && wait < OC_GRAPH_RETRY_MAX; i++) {
        wait *= 2;
    }
    if (wait > OC_GRAPH_RETRY_MAX) {
        wait = OC_GRAPH_RETRY_MAX;
    }
    wait = jitter(wait, 20);
    if (retry_after > wait) {
        wait = retry_after;
    }
    g->failures++;
    g->next = now + wait;
    g->log("directory sync failed: %s; the last good nss.cache and directory.json are kept; "
           "retrying in %llds",
           g->last_error, (long long)wait);
    sync_end(g);
}

/* One line from a Graph error answer: HTTP status, code, message, what to do. */
static void graph_refused(struct oc_graph *g, const char *what, const struct oc_fetch_result *res)
{
    cJSON *o = NULL;
    const char *code = NULL, *msg = NULL;
    char c[96] = "", m[200] = "";
    const char *hint = "check graph_url and the tenant";

    if (res->body != NULL && oc_json_parse_object(res->body, res->body_len, &o, NULL) == 0) {
        const cJSON *e = oc_json_member(o, "error");
        (void)oc_json_get_string(e, "code", 256, &code);
        (void)oc_json_get_string(e, "message", 4096, &msg);
        safe_text(code, c, sizeof(c));
        safe_text(msg, m, sizeof(m));
    }
    if (res->http_status == 401) {
        hint = "the Graph token was refused: check the [directory] credential and graph_url";
    } else if (res->http_status == 403) {
        hint = "grant the [directory] application the Graph application permission "
               "Application.Read.All (admin consent)";
    } else if (res->http_status == 429 || res->http_status >= 500) {
        hint = "Graph is unavailable; retrying with backoff";
    }
    sync_failed(g, res->err.retry_after, "Microsoft Graph refused %s (HTTP %ld%s%s%s%s); %s", what,
                res->http_status, c[0] != '\0' ? " " : "", c, m[0] != '\0' ? ": " : "", m, hint);
    cJSON_Delete(o);
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The budget of Graph requests: a bucket of max_requests_per_minute,
 * refilled continuously, carried across runs in OC_GRAPH_BUDGET_FILE. */
static void budget_refill(struct oc_graph *g, int64_t now_ms)
{
    double cap = g->cfg->directory->max_requests_per_minute;

    if (now_ms > g->budget_stamp_ms) {
        g->budget_tokens += (double)(now_ms - g->budget_stamp_ms) * cap / 60000.0;
        g->budget_stamp_ms = now_ms;
    }
    if (g->budget_tokens > cap) {
        g->budget_tokens = cap;
    }
}

/* The bucket as the last run left it ("TOKENS WALL_MS"), refilled since. */
static void budget_load(struct oc_graph *g)
{
    double cap = g->cfg->directory->max_requests_per_minute, tokens = cap;
    char path[OC_CONFIG_PATH_MAX + 32];
    long long stamp = 0;
    FILE *f;

    (void)snprintf(path, sizeof(path), "%s/%s", g->state_dir, OC_GRAPH_BUDGET_FILE);
    f = fopen(path, "re");
    if (f != NULL) {
        double t;
        int64_t now = wall_ms();
        long long hold = 0;
        int n = fscanf(f, "%lf %lld %lld", &t, &stamp, &hold);

        if (n >= 2 && t >= -cap && t <= cap && stamp > 0 && stamp <= now) {
            tokens = t + (double)(now - stamp) * cap / 60000.0;
        }
        if (n == 3 && hold > now && hold <= now + (int64_t)OC_RETRY_AFTER_MAX * 1000) {
            g->hold_wall_ms = hold;
        }
        fclose(f);
    }
    g->budget_tokens = tokens > cap ? cap : tokens;
    g->budget_stamp_ms = mono_ms();
}

static void budget_save(const struct oc_graph *g)
{
    char path[OC_CONFIG_PATH_MAX + 32], line[64];
    double cap, tokens;
    int n;

    if (g->cfg->directory == NULL) {
        return;
    }
    cap = g->cfg->directory->max_requests_per_minute;
    tokens = g->budget_tokens + (double)(mono_ms() - g->budget_stamp_ms) * cap / 60000.0;
    n = snprintf(line, sizeof(line), "%.3f %lld %lld\n", tokens > cap ? cap : tokens,
                 (long long)wall_ms(), (long long)g->hold_wall_ms);
    (void)snprintf(path, sizeof(path), "%s/%s", g->state_dir, OC_GRAPH_BUDGET_FILE);
    (void)oc_nssc_write_file(path, line, (size_t)n);
}

/* Wait after the tries-th failed attempt: exponential, with jitter (half to all of it). */
static int64_t backoff_ms(unsigned tries)
{
    int64_t w = OC_GRAPH_BACKOFF_MS;

    for (unsigned i = 1; i < tries && w < OC_GRAPH_BACKOFF_MAX_MS; i++) {
        w *= 2;
    }
    if (w > OC_GRAPH_BACKOFF_MAX_MS) {
        w = OC_GRAPH_BACKOFF_MAX_MS;
    }
    return w / 2 + (int64_t)arc4random_uniform((uint32_t)(w / 2) + 1);
}

/*
 * Graph answered st and the request waits wait_ms (told: Graph's own
 * Retry-After, which is kept across runs in the budget file). A wait
 * beyond this run's end fails the sync at once: a later run retries, not
 * before that time. 0, or -ETIMEDOUT (the sync has failed).
 */
static int graph_wait(struct oc_graph *g, int64_t wait_ms, bool told, long st)
{
    if (told && wall_ms() + wait_ms > g->hold_wall_ms) {
        g->hold_wall_ms = wall_ms() + wait_ms;
    }
    if (g->deadline_ms > 0 && mono_ms() + wait_ms > g->deadline_ms) {
        sync_failed(g, (wait_ms + 999) / 1000,
                    "Microsoft Graph answered HTTP %ld and asked to wait %llds, beyond this run: "
                    "a later run retries after that",
                    st, (long long)((wait_ms + 999) / 1000));
        return -ETIMEDOUT;
    }
    return 0;
}

static void q_free(struct oc_graph *g, struct greq *q)
{
    free(q->url);
    free(q->body);
    memset(q, 0, sizeof(*q));
    if (g->in_flight > 0) {
        g->in_flight--;
    }
}

static void q_clear(struct oc_graph *g)
{
    for (size_t i = 0; i < sizeof(g->q) / sizeof(g->q[0]); i++) {
        free(g->q[i].url);
        free(g->q[i].body);
        memset(&g->q[i], 0, sizeof(g->q[i]));
    }
    g->in_flight = 0;
}

/* Start q when its time has come and the budget has room. 0, or < 0 when
 * it could not start (the sync has failed). */
static int q_try(struct oc_graph *g, struct greq *q, int64_t now_ms)
{
    struct oc_fetch_error err;
    int r;

    if (q->flying || now_ms < q->not_before_ms || now_ms < g->hold_until_ms ||
        wall_ms() < g->hold_wall_ms) {
        return 0;
    }
    budget_refill(g, now_ms);
    if (g->budget_tokens < 1.0) {
        return 0; /* oc_graph_tick() starts it when the bucket has refilled */
    }
    r = graph_job_request(g, q->idx, q->method, q->url, q->body, &err);
    if (r < 0) {
        sync_failed(g, -1, "%s", err.msg);
        return r;
    }
    g->budget_tokens -= 1.0;
    g->n_requests++;
    q->flying = true;
    return 0;
}

/* Queue a Graph request (body is taken); it starts at once when it may. */
static int graph_send(struct oc_graph *g, const char *method, const char *url, char *body,
                      uint32_t idx)
{
    struct greq *q = NULL;

    for (size_t i = 0; i < sizeof(g->q) / sizeof(g->q[0]) && q == NULL; i++) {
        if (!g->q[i].used) {
            q = &g->q[i];
        }
    }
    if (q == NULL) {
        free(body);
        sync_failed(g, -1, "internal error: too many Graph requests queued");
        return -EBUSY;
    }
    memset(q, 0, sizeof(*q));
    q->used = true;
    q->idx = idx;
    oc_strscpy(q->method, sizeof(q->method), method);
    q->url = strdup(url);
    q->body = body;
    g->in_flight++;
    if (q->url == NULL) {
        sync_failed(g, -1, "out of memory");
        return -ENOMEM;
    }
    return q_try(g, q, mono_ms());
}

static int graph_get(struct oc_graph *g, const char *url, uint32_t idx)
{
    return graph_send(g, "GET", url, NULL, idx);
}

/* ------------------------------------------------------------------ */
/* Certificates -> keys                                               */
/* ------------------------------------------------------------------ */

/* The certificate's public key as an authorized_keys line, or NULL if
 * unsupported (helper/lib/oc_sshwire.c, the one ssh wire encoder). */
static char *ssh_public_key(X509 *x)
{
    EVP_PKEY *pk = X509_get0_pubkey(x);
    char *line = NULL;

    if (pk == NULL || oc_ssh_pubkey_line(pk, OC_DIR_SSH_KEY_MAX / 2 - 1, &line) < 0) {
        return NULL;
    }
    return line;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char h[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[in[i] >> 4];
        out[2 * i + 1] = h[in[i] & 0xf];
    }
    out[2 * n] = '\0';
}

/* One keyCredential: a current or future certificate with its key. 1 kept, 0 skipped. */
static int key_from_credential(const cJSON *kc, struct oc_dir_key *k)
{
    const char *type = NULL, *key = NULL, *kid = NULL, *start = NULL, *end = NULL;
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    const unsigned char *pp;
    unsigned mdlen = 0;
    size_t klen;
    X509 *x = NULL;
    int n, ret = 0;

    memset(k, 0, sizeof(*k));
    if (oc_json_get_string(kc, "type", 64, &type) < 0 || strcmp(type, "AsymmetricX509Cert") != 0 ||
        oc_json_get_string(kc, "key", CERT_DER_MAX * 2, &key) < 0 ||
        oc_json_get_string(kc, "keyId", OC_GUID_LEN, &kid) < 0 ||
        oc_guid_normalize(kid, k->key_id) < 0 ||
        oc_json_get_string(kc, "startDateTime", 64, &start) < 0 ||
        oc_json_get_string(kc, "endDateTime", 64, &end) < 0 ||
        oc_graph_time(start, &k->not_before) < 0 || oc_graph_time(end, &k->not_after) < 0) {
        return 0;
    }
    klen = strlen(key);
    if (klen == 0 || klen % 4 != 0) {
        return 0;
    }
    der = malloc(klen / 4 * 3 + 1);
    if (der == NULL) {
        return -ENOMEM;
    }
    n = EVP_DecodeBlock(der, (const unsigned char *)key, (int)klen);
    if (n > 0) {
        /* EVP_DecodeBlock counts the padding as zero bytes. */
        n -= (key[klen - 1] == '=') + (key[klen - 2] == '=');
        pp = der;
        x = d2i_X509(NULL, &pp, n);
    }
    if (x != NULL && X509_digest(x, EVP_sha1(), md, &mdlen) == 1 && mdlen == 20) {
        hex(md, 20, k->sha1);
        if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32) {
            hex(md, 32, k->sha256);
            k->ssh = ssh_public_key(x);
            ret = 1;
        }
    }
    X509_free(x);
    free(der);
    return ret;
}

/* ------------------------------------------------------------------ */
/* The steps                                                          */
/* ------------------------------------------------------------------ */

static void pump(struct oc_graph *g);
static int start_delta(struct oc_graph *g);
static void to_principals(struct oc_graph *g);

static int start_token(struct oc_graph *g)
{
    struct oc_fetch_error err;
    int r;

    g->phase = PH_TOKEN;
    r = graph_job_token(g, IDX_TOKEN, &err);
    if (r < 0) {
        sync_failed(g, err.permanent ? 600 : -1, "cannot get a Microsoft Graph token: %s", err.msg);
        return r;
    }
    g->in_flight++;
    return 0;
}

static int start_resource(struct oc_graph *g)
{
    const struct oc_directory *d = g->cfg->directory;
    char filter[1200], url[URL_MAX];
    int r;

    g->phase = PH_RESOURCE;
    if (oc_is_guid(d->resource)) {
        r = oc_odata_eq_filter("appId", d->resource, filter, sizeof(filter));
        if (r == 0) {
            (void)snprintf(url, sizeof(url), "%s/v1.0/servicePrincipals?$filter=%s", d->graph_url,
                           filter);
        }
    } else {
        /* servicePrincipalNames/any(x:x eq '<uri>') */
        r = oc_odata_eq_filter("x", d->resource, filter, sizeof(filter));
        if (r == 0) {
            (void)snprintf(url, sizeof(url),
                           "%s/v1.0/servicePrincipals?$filter=servicePrincipalNames%%2Fany%%28x%%"
                           "3A%s%%29",
                           d->graph_url, filter);
        }
    }
    if (r < 0) {
        sync_failed(g, 600, "resource = %s is too long for a Graph filter", d->resource);
        return r;
    }
    return graph_get(g, url, IDX_PHASE);
}

static int resource_done(struct oc_graph *g, const struct oc_fetch_result *res)
{
    const char *resource = g->cfg->directory->resource;
    cJSON *o = NULL;
    const cJSON *arr, *sp, *roles, *it;
    const char *id = NULL;
    char url[URL_MAX];

    if (res->http_status != 200) {
        graph_refused(g, "the resource service principal lookup", res);
        return -EIO;
    }
    if (oc_json_parse_object(res->body, res->body_len, &o, NULL) < 0 ||
        !cJSON_IsArray(arr = oc_json_member(o, "value"))) {
        cJSON_Delete(o);
        sync_failed(g, -1, "the resource lookup answer from Graph is not a list");
        return -EBADMSG;
    }
    if (cJSON_GetArraySize(arr) != 1) {
        int n = cJSON_GetArraySize(arr);
        cJSON_Delete(o);
        sync_failed(g, 600, "%s service principal%s for resource = %s in the tenant: %s",
                    n == 0 ? "no" : "several", n == 0 ? "" : "s", resource,
                    n == 0 ? "check resource (the host's application appId or app ID URI) and "
                             "that the application has a service principal"
                           : "name the application by its appId");
        return -ENOENT;
    }
    sp = cJSON_GetArrayItem(arr, 0);
    if (oc_json_get_string(sp, "id", OC_GUID_LEN, &id) < 0 ||
        oc_guid_normalize(id, g->resource_id) < 0) {
        cJSON_Delete(o);
        sync_failed(g, -1, "the resource service principal from Graph has no valid id");
        return -EBADMSG;
    }
    roles = oc_json_member(sp, "appRoles");
    if (cJSON_IsArray(roles) && cJSON_GetArraySize(roles) > 0) {
        g->role_defs = calloc((size_t)cJSON_GetArraySize(roles), sizeof(*g->role_defs));
        if (g->role_defs == NULL) {
            cJSON_Delete(o);
            sync_failed(g, -1, "out of memory");
            return -ENOMEM;
        }
        cJSON_ArrayForEach(it, roles)
        {
            const char *rid = NULL, *value = NULL;
            bool enabled = false;
            struct role_def *rd = &g->role_defs[g->n_role_defs];

            if (oc_json_get_string(it, "id", OC_GUID_LEN, &rid) < 0 ||
                oc_guid_normalize(rid, rd->id) < 0) {
                continue;
            }
            if (oc_json_get_bool(it, "isEnabled", &enabled) == 0 && enabled &&
                oc_json_get_string(it, "value", OC_DIR_ROLE_MAX, &value) == 0 &&
                oc_dir_valid_role(value)) {
                rd->value = strdup(value);
            }
            g->n_role_defs++;
        }
    }
    cJSON_Delete(o);
    /* the assignments read now replace every principal's roles (and ids) */
    idset_free(&g->aids);
    for (size_t i = 0; i < g->n_pr; i++) {
        g->pr[i].assigned = false;
        roles_clear(&g->pr[i]);
    }
    g->phase = PH_ASSIGNED;
    g->pages = 0;
    (void)snprintf(url, sizeof(url),
                   "%s/v1.0/servicePrincipals/%s/appRoleAssignedTo?$top=%d"
                   "&$select=id,principalId,principalType,appRoleId",
                   g->cfg->directory->graph_url, g->resource_id, OC_GRAPH_TOP);
    return graph_get(g, url, IDX_PHASE);
}

static const char *role_value(const struct oc_graph *g, const char *role_id)
{
    for (size_t i = 0; i < g->n_role_defs; i++) {
        if (oc_guid_equal(g->role_defs[i].id, role_id)) {
            return g->role_defs[i].value;
        }
    }
    return NULL;
}

static size_t id_hash(const char *id)
{
    return (size_t)oc_fnv1a64(id, strlen(id));
}

static int hash_rebuild(struct oc_graph *g, size_t cap)
{
    size_t *h = calloc(cap, sizeof(*h));

    if (h == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; i < g->n_pr; i++) {
        size_t k = id_hash(g->pr[i].id) & (cap - 1);
        while (h[k] != 0) {
            k = (k + 1) & (cap - 1);
        }
        h[k] = i + 1;
    }
    free(g->hash);
    g->hash = h;
    g->hash_cap = cap;
    return 0;
}

static struct principal *principal_find(struct oc_graph *g, const char *id)
{
    if (g->hash_cap == 0) {
        return NULL;
    }
    for (size_t k = id_hash(id) & (g->hash_cap - 1); g->hash[k] != 0;
         k = (k + 1) & (g->hash_cap - 1)) {
        if (strcmp(g->pr[g->hash[k] - 1].id, id) == 0) {
            return &g->pr[g->hash[k] - 1];
        }
    }
    return NULL;
}

/* The principal with this (normalized) id, added when new; NULL at the cap
 * or out of memory. */
static struct principal *principal_get(struct oc_graph *g, const char *id)
{
    struct principal *p = principal_find(g, id);

    if (p != NULL) {
        return p;
    }
    if (g->n_pr >= OC_DIR_AGENTS_MAX) {
        return NULL;
    }
    if (g->n_pr % 64 == 0) {
        p = realloc(g->pr, (g->n_pr + 64) * sizeof(*p));
        if (p == NULL) {
            return NULL;
        }
        g->pr = p;
    }
    p = &g->pr[g->n_pr++];
    memset(p, 0, sizeof(*p));
    oc_strscpy(p->id, sizeof(p->id), id);
    if (2 * g->n_pr > g->hash_cap) {
        if (hash_rebuild(g, g->hash_cap == 0 ? 256 : 2 * g->hash_cap) < 0) {
            g->n_pr--;
            return NULL;
        }
    } else {
        size_t k = id_hash(id) & (g->hash_cap - 1);
        while (g->hash[k] != 0) {
            k = (k + 1) & (g->hash_cap - 1);
        }
        g->hash[k] = g->n_pr;
    }
    return p;
}

static void principal_clear(struct principal *p)
{
    free(p->display_name);
    for (size_t j = 0; j < p->n_roles; j++) {
        free(p->roles[j]);
    }
    free(p->roles);
    for (size_t j = 0; j < p->n_keys; j++) {
        free(p->keys[j].ssh);
    }
    free(p->keys);
}

static void roles_clear(struct principal *p)
{
    for (size_t j = 0; j < p->n_roles; j++) {
        free(p->roles[j]);
    }
    free(p->roles);
    p->roles = NULL;
    p->n_roles = 0;
}

/* Drop the principals no longer assigned (or gone); the index is rebuilt. */
static int principals_compact(struct oc_graph *g)
{
    size_t n = 0;

    for (size_t i = 0; i < g->n_pr; i++) {
        if (g->pr[i].assigned && g->pr[i].step != PS_GONE) {
            g->pr[n++] = g->pr[i];
        } else {
            principal_clear(&g->pr[i]);
        }
    }
    g->n_pr = n;
    return hash_rebuild(g, g->hash_cap == 0 ? 256 : g->hash_cap);
}

static int add_role(struct principal *p, const char *value)
{
    char **r;

    for (size_t i = 0; i < p->n_roles; i++) {
        if (strcmp(p->roles[i], value) == 0) {
            return 0;
        }
    }
    if (p->n_roles >= OC_DIR_ROLES_MAX) {
        return 0;
    }
    r = realloc(p->roles, (p->n_roles + 1) * sizeof(*r));
    if (r == NULL) {
        return -ENOMEM;
    }
    p->roles = r;
    p->roles[p->n_roles] = strdup(value);
    if (p->roles[p->n_roles] == NULL) {
        return -ENOMEM;
    }
    p->n_roles++;
    return 0;
}

/* With assignment_delta: the id of an assignment of the resource, so that
 * the assignment delta's @removed (which carries only the id) is known as
 * ours. 0 or -ENOMEM. */
static int aid_keep(struct oc_graph *g, const cJSON *assignment)
{
    const char *aid = NULL;

    if (!g->cfg->directory->assignment_delta ||
        oc_json_get_string(assignment, "id", AID_MAX, &aid) < 0 || aid[0] == '\0') {
        return 0;
    }
    return idset_add(&g->aids, aid);
}

static int assigned_done(struct oc_graph *g, const struct oc_fetch_result *res)
{
    const char *graph_url = g->cfg->directory->graph_url;
    cJSON *o = NULL;
    const cJSON *arr, *it;
    const char *next = NULL;
    bool capped = false;
    int r;

    if (res->http_status != 200) {
        graph_refused(g, "the app role assignments of the resource", res);
        return -EIO;
    }
    if (oc_json_parse_object(res->body, res->body_len, &o, NULL) < 0 ||
        !cJSON_IsArray(arr = oc_json_member(o, "value"))) {
        cJSON_Delete(o);
        sync_failed(g, -1, "the appRoleAssignedTo answer from Graph is not a list");
        return -EBADMSG;
    }
    cJSON_ArrayForEach(it, arr)
    {
        const char *pid = NULL, *ptype = NULL, *rid = NULL, *value;
        char id[OC_GUID_SIZE];
        struct principal *p;

        if (oc_json_get_string(it, "principalType", 64, &ptype) < 0 ||
            strcmp(ptype, "ServicePrincipal") != 0 ||
            oc_json_get_string(it, "principalId", OC_GUID_LEN, &pid) < 0 ||
            oc_guid_normalize(pid, id) < 0) {
            continue; /* users and groups are not agents */
        }
        p = principal_get(g, id);
        if (p == NULL) {
            capped = true;
            continue;
        }
        p->assigned = true;
        value = oc_json_get_string(it, "appRoleId", OC_GUID_LEN, &rid) == 0 ? role_value(g, rid)
                                                                            : NULL;
        if ((value != NULL && add_role(p, value) < 0) || aid_keep(g, it) < 0) {
            cJSON_Delete(o);
            sync_failed(g, -1, "out of memory");
            return -ENOMEM;
        }
    }
    if (capped) {
        g->log("directory sync: more than %d service principals hold roles on the resource; the "
               "rest are ignored",
               OC_DIR_AGENTS_MAX);
    }
    r = oc_json_get_string(o, "@odata.nextLink", URL_MAX - 1, &next);
    if (r == 0) {
        size_t gl = strlen(graph_url);
        char url[URL_MAX];

        /* The bearer token goes only to graph_url, never where a page points elsewhere. */
        if (strncmp(next, graph_url, gl) != 0 || next[gl] != '/' ||
            ++g->pages >= OC_GRAPH_PAGES_MAX) {
            cJSON_Delete(o);
            sync_failed(g, -1,
                        "Graph's @odata.nextLink leaves graph_url or pages too often: "
                        "refused");
            return -EBADMSG;
        }
        oc_strscpy(url, sizeof(url), next);
        cJSON_Delete(o);
        return graph_get(g, url, IDX_PHASE);
    }
    cJSON_Delete(o);
    if (g->full) {
        return start_delta(g);
    }
    to_principals(g);
    return 0;
}

/*
 * A service principal's properties from Graph (a delta entry, a GET or a
 * $batch answer): the members present are applied (a delta entry may
 * carry only the changed ones). Its next step follows. 0 or -ENOMEM.
 */
static int principal_sp_apply(struct principal *p, const cJSON *o)
{
    const char *app_id = NULL, *dn = NULL, *type = NULL;
    char aid[OC_GUID_SIZE];
    bool enabled = false, got_app = false, got_on = false;

    if (oc_json_get_string(o, "appId", OC_GUID_LEN, &app_id) == 0 &&
        oc_guid_normalize(app_id, aid) == 0) {
        oc_strscpy(p->app_id, sizeof(p->app_id), aid);
        got_app = true;
    }
    if (oc_json_get_bool(o, "accountEnabled", &enabled) == 0) {
        p->enabled = enabled;
        got_on = true;
    }
    if (oc_json_get_string(o, "displayName", 4096, &dn) < 0) {
        dn = p->have ? NULL : ""; /* absent: unchanged, or empty for a new one */
    }
    if (dn != NULL) {
        char *copy = strndup(dn, OC_DIR_DISPLAY_MAX);
        size_t bad = 0;

        if (copy == NULL) {
            return -ENOMEM;
        }
        /* A cut inside a UTF-8 sequence would make directory.json unparseable. */
        if (!oc_utf8_valid(copy, strlen(copy), &bad)) {
            copy[bad] = '\0';
        }
        free(p->display_name);
        p->display_name = copy;
    }
    /* Only applications have key credentials; agent and managed identities do not. */
    if (oc_json_get_string(o, "servicePrincipalType", 64, &type) == 0) {
        p->app = strcmp(type, "Application") == 0;
    }
    if (got_app && got_on) {
        p->have = true;
    }
    p->step = !p->have ? PS_SP : p->app ? PS_APP : PS_DONE;
    return 0;
}

/* An application's keyCredentials (the answer to $select=keyCredentials). */
static int principal_keys_apply(struct principal *p, const cJSON *o)
{
    const cJSON *arr = oc_json_member(o, "keyCredentials"), *it;

    for (size_t j = 0; j < p->n_keys; j++) {
        free(p->keys[j].ssh);
    }
    free(p->keys);
    p->keys = NULL;
    p->n_keys = 0;
    if (!cJSON_IsArray(arr)) {
        return 0;
    }
    p->keys = calloc(OC_DIR_KEYS_MAX, sizeof(*p->keys));
    if (p->keys == NULL) {
        return -ENOMEM;
    }
    cJSON_ArrayForEach(it, arr)
    {
        if (p->n_keys >= OC_DIR_KEYS_MAX) {
            break;
        }
        if (key_from_credential(it, &p->keys[p->n_keys]) == 1) {
            p->n_keys++;
        }
    }
    return 0;
}

static int write_files(struct oc_graph *g, bool synced);

/* The delta round: a new one (full sync) or from the kept deltaLink. */
static int start_delta(struct oc_graph *g)
{
    char url[URL_MAX];

    g->phase = PH_DELTA;
    g->pages = 0;
    if (g->full || g->delta_url == NULL) {
        (void)snprintf(url, sizeof(url), "%s/v1.0/servicePrincipals/delta?$select=%s&$top=%d",
                       g->cfg->directory->graph_url, DELTA_SELECT, OC_GRAPH_TOP);
        return graph_get(g, url, IDX_PHASE);
    }
    return graph_get(g, g->delta_url, IDX_PHASE);
}

/* A link Graph gave (nextLink, deltaLink): only under graph_url, where
 * the bearer token may go. */
static bool link_ok(const struct oc_graph *g, const char *link)
{
    const char *base = g->cfg->directory->graph_url;
    size_t n = strlen(base);

    return strncmp(link, base, n) == 0 && link[n] == '/' && strlen(link) < LINK_MAX;
}

/* A page of the app role assignment delta. */
static int start_adelta(struct oc_graph *g, const char *url)
{
    g->phase = PH_ADELTA;
    return graph_get(g, url, IDX_PHASE);
}

/*
 * A full sync: with assignment_delta, first a new assignment delta round
 * at the current state ($deltatoken=latest), before the assignments are
 * read, so that no change made in between is lost; then the resource.
 */
static int start_full(struct oc_graph *g)
{
    char url[URL_MAX];

    adelta_clear(g);
    g->adelta_denied = false;
    g->pages = 0;
    if (!g->cfg->directory->assignment_delta) {
        return start_resource(g);
    }
    (void)snprintf(url, sizeof(url), "%s/v1.0/directoryObjects/delta?$filter=%s&$deltatoken=latest",
                   g->cfg->directory->graph_url, ADELTA_FILTER);
    return start_adelta(g, url);
}

/* After the token: a full sync, or an incremental one from the kept
 * deltaLinks (the assignments', unless Graph refused it, then the
 * service principals'). */
static int start_sync(struct oc_graph *g)
{
    if (g->full) {
        return start_full(g);
    }
    if (g->cfg->directory->assignment_delta && !g->adelta_denied && g->adelta_url != NULL) {
        g->pages = 0;
        return start_adelta(g, g->adelta_url);
    }
    return start_delta(g);
}

/* One item of the assignment delta of an incremental sync: whether it
 * changes the resource's assignments (ours), so that they are read again. */
static bool adelta_ours(const struct oc_graph *g, const cJSON *it)
{
    const char *aid = NULL, *type = NULL, *rid = NULL;
    char res[OC_GUID_SIZE];

    if (oc_json_get_string(it, "id", AID_MAX, &aid) < 0) {
        return false;
    }
    if (oc_json_member(it, "@removed") != NULL) {
        /* a removed item carries its id only */
        return idset_has(&g->aids, aid);
    }
    return oc_json_get_string(it, "@odata.type", 128, &type) == 0 &&
           strcmp(type, "#microsoft.graph.appRoleAssignment") == 0 &&
           oc_json_get_string(it, "resourceId", OC_GUID_LEN, &rid) == 0 &&
           oc_guid_normalize(rid, res) == 0 && strcmp(res, g->resource_id) == 0;
}

static int adelta_done(struct oc_graph *g, const struct oc_fetch_result *res)
{
    cJSON *o = NULL;
    const cJSON *arr, *it;
    const char *next = NULL, *dlink = NULL;

    if (res->http_status == 410 && !g->full) {
        g->log("directory sync: Graph no longer knows this host's app role assignment delta "
               "state (HTTP 410): a full sync follows");
        principals_free(g);
        free(g->delta_url);
        g->delta_url = NULL;
        g->full = true;
        return start_full(g);
    }
    if (res->http_status == 403) {
        /* remembered in graph-state.json: not asked again before the next full sync */
        g->log("directory sync: Microsoft Graph refused the app role assignment delta (HTTP "
               "403): grant the [directory] application User.Read.All to see a withdrawn role "
               "within sync_interval; until then it is seen at the full sync "
               "(full_sync_interval)");
        adelta_clear(g);
        g->adelta_denied = true;
        return g->full ? start_resource(g) : start_delta(g);
    }
    if (res->http_status == 400 && g->full && !g->adelta_all) {
        char url[URL_MAX];

        g->log("directory sync: Graph refused $deltatoken=latest for the app role assignment "
               "delta: this full sync reads the whole round to its deltaLink");
        g->adelta_all = true;
        (void)snprintf(url, sizeof(url), "%s/v1.0/directoryObjects/delta?$filter=%s",
                       g->cfg->directory->graph_url, ADELTA_FILTER);
        return start_adelta(g, url);
    }
    if (res->http_status != 200) {
        graph_refused(g, "the app role assignment delta", res);
        return -EIO;
    }
    if (oc_json_parse_object(res->body, res->body_len, &o, NULL) < 0 ||
        !cJSON_IsArray(arr = oc_json_member(o, "value"))) {
        cJSON_Delete(o);
        sync_failed(g, -1, "the directoryObjects/delta answer from Graph is not a list");
        return -EBADMSG;
    }
    cJSON_ArrayForEach(it, arr)
    {
        /* users and other resources' assignments change nothing here */
        if (!g->full && adelta_ours(g, it)) {
            g->delta_changes++;
            g->reassign = true;
        }
    }
    if (oc_json_get_string(o, "@odata.nextLink", LINK_MAX, &next) == 0) {
        if (!link_ok(g, next) || ++g->pages >= OC_GRAPH_PAGES_MAX) {
            cJSON_Delete(o);
            sync_failed(g, -1,
                        "Graph's assignment delta @odata.nextLink leaves graph_url or pages too "
                        "often: refused");
            return -EBADMSG;
        }
        free(g->adelta_url);
        g->adelta_url = strdup(next);
        cJSON_Delete(o);
        if (g->adelta_url == NULL) {
            sync_failed(g, -1, "out of memory");
            return -ENOMEM;
        }
        return start_adelta(g, g->adelta_url);
    }
    if (oc_json_get_string(o, "@odata.deltaLink", LINK_MAX, &dlink) < 0 || !link_ok(g, dlink)) {
        cJSON_Delete(o);
        sync_failed(g, -1,
                    "the last directoryObjects/delta page from Graph has no usable "
                    "@odata.deltaLink");
        return -EBADMSG;
    }
    free(g->adelta_new);
    g->adelta_new = strdup(dlink);
    cJSON_Delete(o);
    if (g->adelta_new == NULL) {
        sync_failed(g, -1, "out of memory");
        return -ENOMEM;
    }
    return g->full ? start_resource(g) : start_delta(g);
}

static void to_principals(struct oc_graph *g)
{
    if (principals_compact(g) < 0) {
        sync_failed(g, -1, "out of memory");
        return;
    }
    g->n_todo = 0;
    for (size_t i = 0; i < g->n_pr; i++) {
        if (g->pr[i].step != PS_DONE) {
            g->n_todo++;
        }
    }
    g->scan = 0;
    g->phase = PH_PRINCIPALS;
    pump(g);
}

static int delta_done(struct oc_graph *g, const struct oc_fetch_result *res)
{
    cJSON *o = NULL;
    const cJSON *arr, *it;
    const char *next = NULL, *dlink = NULL;

    if (res->http_status == 410 && !g->full) {
        /* The state token expired or Graph reset it (syncStateNotFound,
         * resyncRequired): everything is read again. */
        g->log("directory sync: Graph no longer knows this host's delta state (HTTP 410): a "
               "full sync follows");
        principals_free(g);
        free(g->delta_url);
        g->delta_url = NULL;
        g->full = true;
        return start_resource(g);
    }
    if (res->http_status != 200) {
        graph_refused(g, "the service principal delta", res);
        return -EIO;
    }
    if (oc_json_parse_object(res->body, res->body_len, &o, NULL) < 0 ||
        !cJSON_IsArray(arr = oc_json_member(o, "value"))) {
        cJSON_Delete(o);
        sync_failed(g, -1, "the servicePrincipals/delta answer from Graph is not a list");
        return -EBADMSG;
    }
    /* With the assignment delta read in this sync, assignments are known
     * to have changed only when it says so: a changed principal gets its
     * properties from this answer, and a principal this host does not
     * know holds no assignment of the resource (it would be in that delta),
     * so neither makes every assignment be read again. */
    bool tracked = !g->full && g->cfg->directory->assignment_delta && !g->adelta_denied &&
                   g->adelta_new != NULL;

    cJSON_ArrayForEach(it, arr)
    {
        const char *sid = NULL;
        char id[OC_GUID_SIZE];
        struct principal *p;

        if (oc_json_get_string(it, "id", OC_GUID_LEN, &sid) < 0 || oc_guid_normalize(sid, id) < 0) {
            continue;
        }
        if (!g->full) {
            g->delta_changes++;
        }
        if (strcmp(id, g->resource_id) == 0) {
            g->reassign = true; /* its roles may have changed */
            continue;
        }
        p = principal_find(g, id);
        if (p == NULL) {
            /* not assigned when last read; a new agent may be now */
            g->reassign =
                    g->reassign || (!g->full && !tracked && oc_json_member(it, "@removed") == NULL);
            continue;
        }
        if (oc_json_member(it, "@removed") != NULL) {
            p->step = PS_GONE;
            p->assigned = false;
            continue;
        }
        if (principal_sp_apply(p, it) < 0) {
            cJSON_Delete(o);
            sync_failed(g, -1, "out of memory");
            return -ENOMEM;
        }
        g->reassign = g->reassign || (!g->full && !tracked);
    }
    if (oc_json_get_string(o, "@odata.nextLink", LINK_MAX, &next) == 0) {
        if (!link_ok(g, next) || ++g->pages >= OC_GRAPH_PAGES_MAX) {
            cJSON_Delete(o);
            sync_failed(g, -1,
                        "Graph's delta @odata.nextLink leaves graph_url or pages too "
                        "often: refused");
            return -EBADMSG;
        }
        free(g->delta_url);
        g->delta_url = strdup(next);
        cJSON_Delete(o);
        if (g->delta_url == NULL) {
            sync_failed(g, -1, "out of memory");
            return -ENOMEM;
        }
        return graph_get(g, g->delta_url, IDX_PHASE);
    }
    if (oc_json_get_string(o, "@odata.deltaLink", LINK_MAX, &dlink) < 0 || !link_ok(g, dlink)) {
        cJSON_Delete(o);
        sync_failed(g, -1,
                    "the last servicePrincipals/delta page from Graph has no usable "
                    "@odata.deltaLink");
        return -EBADMSG;
    }
    free(g->delta_new);
    g->delta_new = strdup(dlink);
    cJSON_Delete(o);
    if (g->delta_new == NULL) {
        sync_failed(g, -1, "out of memory");
        return -ENOMEM;
    }
    if (!g->full && g->reassign) {
        return start_resource(g);
    }
    to_principals(g);
    return 0;
}

/* The principal of member k of batch b answered: its status and body. */
static int batch_member(struct oc_graph *g, struct principal *p, bool app, long st,
                        const cJSON *body, const cJSON *headers)
{
    if (st == 429 || st == 503 || st == 500 || st == 502 || st == 504) {
        const char *ra = NULL;
        int64_t wait = backoff_ms(++p->tries);
        char *end = NULL;

        if (p->tries >= OC_GRAPH_TRIES_MAX) {
            sync_failed(g, -1,
                        "Microsoft Graph kept answering HTTP %ld to requests in a $batch; "
                        "retrying later",
                        st);
            return -EAGAIN;
        }
        if (oc_json_get_string(headers, "Retry-After", 16, &ra) == 0) {
            long v = strtol(ra, &end, 10);
            if (end != ra && *end == '\0' && v >= 0 && v <= OC_RETRY_AFTER_MAX && v * 1000 > wait) {
                wait = v * 1000;
            }
        }
        if (st == 429) {
            g->n_throttled++;
        }
        g->n_retries++;
        if (graph_wait(g, wait, ra != NULL, st) < 0) {
            return -ETIMEDOUT;
        }
        if (mono_ms() + wait > g->hold_until_ms) {
            g->hold_until_ms = mono_ms() + wait;
        }
        p->step = app ? PS_APP : PS_SP;
        g->scan = 0;
        return 0;
    }
    if (st == 404) {
        /* a service principal deleted meanwhile; an application of another
         * tenant, or deleted: no keys */
        if (!app) {
            p->step = PS_GONE;
        } else {
            p->step = PS_DONE;
        }
        g->n_todo--;
        return 0;
    }
    if (st != 200 || !cJSON_IsObject(body)) {
        sync_failed(g, -1,
                    "Microsoft Graph refused %s in a $batch (HTTP %ld); check the tenant and "
                    "the [directory] application's permissions (Application.Read.All)",
                    app ? "an application's key credentials" : "a service principal", st);
        return -EIO;
    }
    if (app ? principal_keys_apply(p, body) < 0 : principal_sp_apply(p, body) < 0) {
        sync_failed(g, -1, "out of memory");
        return -ENOMEM;
    }
    if (app) {
        p->step = PS_DONE;
    } else if (!p->have) {
        sync_failed(g, -1, "service principal %s from Graph lacks appId or accountEnabled", p->id);
        return -EBADMSG;
    }
    if (p->step == PS_DONE) {
        g->n_todo--;
    }
    return 0;
}

static void batch_done(struct oc_graph *g, uint32_t j, const struct oc_fetch_result *res)
{
    struct batch *b = &g->batches[j];
    bool seen[OC_GRAPH_BATCH_MAX] = {false};
    cJSON *o = NULL;
    const cJSON *arr, *it;

    if (res->http_status != 200) {
        graph_refused(g, "a $batch", res);
        return;
    }
    if (oc_json_parse_object(res->body, res->body_len, &o, NULL) < 0 ||
        !cJSON_IsArray(arr = oc_json_member(o, "responses"))) {
        cJSON_Delete(o);
        sync_failed(g, -1, "the $batch answer from Graph has no responses");
        return;
    }
    cJSON_ArrayForEach(it, arr)
    {
        const char *rid = NULL;
        int64_t st = 0;
        char *end = NULL;
        unsigned long k;

        if (oc_json_get_string(it, "id", 8, &rid) < 0 ||
            oc_json_get_int64(it, "status", 100, 599, &st) < 0) {
            continue;
        }
        k = strtoul(rid, &end, 10);
        if (end == rid || *end != '\0' || k >= b->n || seen[k]) {
            continue;
        }
        seen[k] = true;
        if (batch_member(g, &g->pr[b->pr[k]], b->app[k], (long)st, oc_json_member(it, "body"),
                         oc_json_member(it, "headers")) < 0) {
            cJSON_Delete(o);
            return;
        }
    }
    cJSON_Delete(o);
    /* a request the answer left out is asked again */
    for (size_t k = 0; k < b->n; k++) {
        struct principal *p = &g->pr[b->pr[k]];
        if (!seen[k] && (p->step == PS_SP_WAIT || p->step == PS_APP_WAIT)) {
            p->step = b->app[k] ? PS_APP : PS_SP;
            g->scan = 0;
        }
    }
    b->n = 0;
}

/* One $batch of up to OC_GRAPH_BATCH_MAX principals still to read. 1 sent,
 * 0 nothing to send, < 0 failed. */
static int batch_send(struct oc_graph *g, uint32_t j)
{
    const struct oc_directory *d = g->cfg->directory;
    struct batch *b = &g->batches[j];
    cJSON *body = cJSON_CreateObject(), *reqs = cJSON_AddArrayToObject(body, "requests");
    char url[URL_MAX], id[16];
    char *text;

    b->n = 0;
    if (reqs == NULL) {
        cJSON_Delete(body);
        sync_failed(g, -1, "out of memory");
        return -ENOMEM;
    }
    for (; g->scan < g->n_pr && b->n < OC_GRAPH_BATCH_MAX; g->scan++) {
        struct principal *p = &g->pr[g->scan];
        cJSON *r;

        if (p->step != PS_SP && p->step != PS_APP) {
            continue;
        }
        if (p->step == PS_SP) {
            (void)snprintf(url, sizeof(url), "/servicePrincipals/%s?$select=%s", p->id,
                           DELTA_SELECT);
        } else {
            (void)snprintf(url, sizeof(url), "/applications(appId='%s')?$select=keyCredentials",
                           p->app_id);
        }
        (void)snprintf(id, sizeof(id), "%zu", b->n);
        r = cJSON_CreateObject();
        if (r == NULL || cJSON_AddStringToObject(r, "id", id) == NULL ||
            cJSON_AddStringToObject(r, "method", "GET") == NULL ||
            cJSON_AddStringToObject(r, "url", url) == NULL) {
            cJSON_Delete(r);
            cJSON_Delete(body);
            sync_failed(g, -1, "out of memory");
            return -ENOMEM;
        }
        cJSON_AddItemToArray(reqs, r);
        b->pr[b->n] = g->scan;
        b->app[b->n] = p->step == PS_APP;
        p->step = p->step == PS_SP ? PS_SP_WAIT : PS_APP_WAIT;
        b->n++;
    }
    if (b->n == 0) {
        cJSON_Delete(body);
        return 0;
    }
    text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (text == NULL) {
        sync_failed(g, -1, "out of memory");
        return -ENOMEM;
    }
    (void)snprintf(url, sizeof(url), "%s/v1.0/$batch", d->graph_url);
    return graph_send(g, "POST", url, text, IDX_BATCH0 + j) < 0 ? -EIO : 1;
}

/* Start what can start; finish when everything is done. */
static void pump(struct oc_graph *g)
{
    while (g->phase == PH_PRINCIPALS && g->in_flight < OC_GRAPH_PARALLEL &&
           mono_ms() >= g->hold_until_ms) {
        uint32_t j = 0;
        int r;

        while (j < OC_GRAPH_PARALLEL && g->batches[j].n > 0) {
            j++;
        }
        if (j == OC_GRAPH_PARALLEL) {
            break;
        }
        r = batch_send(g, j);
        if (r <= 0) {
            break;
        }
    }
    if (g->phase == PH_PRINCIPALS && g->n_todo == 0 && g->in_flight == 0) {
        (void)write_files(g, true);
    }
}

/* ------------------------------------------------------------------ */
/* Names                                                              */
/* ------------------------------------------------------------------ */

/* The pinned names, with two hash indexes (object id, name) so that
 * 100 000 agents cost no quadratic time. Slots hold index + 1. */
struct names {
    char (*oid)[OC_GUID_SIZE];
    char (*name)[OC_USER_NAME_MAX + 1];
    size_t n, cap;
    size_t *h_oid, *h_name, hcap;
};

static size_t str_hash(const char *s)
{
    return (size_t)oc_fnv1a64(s, strlen(s));
}

static void names_index(struct names *m, size_t i)
{
    size_t k = str_hash(m->oid[i]) & (m->hcap - 1);

    while (m->h_oid[k] != 0) {
        k = (k + 1) & (m->hcap - 1);
    }
    m->h_oid[k] = i + 1;
    k = str_hash(m->name[i]) & (m->hcap - 1);
    while (m->h_name[k] != 0) {
        k = (k + 1) & (m->hcap - 1);
    }
    m->h_name[k] = i + 1;
}

static const char *names_get(const struct names *m, const char *oid)
{
    if (m->hcap == 0) {
        return NULL;
    }
    for (size_t k = str_hash(oid) & (m->hcap - 1); m->h_oid[k] != 0; k = (k + 1) & (m->hcap - 1)) {
        if (strcmp(m->oid[m->h_oid[k] - 1], oid) == 0) {
            return m->name[m->h_oid[k] - 1];
        }
    }
    return NULL;
}

static bool names_taken(const struct names *m, const char *name, const char *not_oid)
{
    if (m->hcap == 0) {
        return false;
    }
    for (size_t k = str_hash(name) & (m->hcap - 1); m->h_name[k] != 0;
         k = (k + 1) & (m->hcap - 1)) {
        size_t i = m->h_name[k] - 1;
        if (strcmp(m->name[i], name) == 0 && strcmp(m->oid[i], not_oid) != 0) {
            return true;
        }
    }
    return false;
}

static int names_add(struct names *m, const char *oid, const char *name)
{
    if (m->n == m->cap) {
        size_t nc = m->cap == 0 ? 64 : m->cap * 2;
        void *a = realloc(m->oid, nc * sizeof(*m->oid));
        if (a == NULL) {
            return -ENOMEM;
        }
        m->oid = a;
        a = realloc(m->name, nc * sizeof(*m->name));
        if (a == NULL) {
            return -ENOMEM;
        }
        m->name = a;
        m->cap = nc;
    }
    oc_strscpy(m->oid[m->n], OC_GUID_SIZE, oid);
    oc_strscpy(m->name[m->n], OC_USER_NAME_MAX + 1, name);
    m->n++;
    if (2 * m->n > m->hcap) {
        size_t nc = m->hcap == 0 ? 128 : 2 * m->hcap;
        size_t *ho = calloc(nc, sizeof(*ho)), *hn = calloc(nc, sizeof(*hn));

        if (ho == NULL || hn == NULL) {
            free(ho);
            free(hn);
            m->n--;
            return -ENOMEM;
        }
        free(m->h_oid);
        free(m->h_name);
        m->h_oid = ho;
        m->h_name = hn;
        m->hcap = nc;
        for (size_t i = 0; i < m->n; i++) {
            names_index(m, i);
        }
    } else {
        names_index(m, m->n - 1);
    }
    return 0;
}

static void names_free(struct names *m)
{
    free(m->oid);
    free(m->name);
    free(m->h_oid);
    free(m->h_name);
    memset(m, 0, sizeof(*m));
}

/* One pinned name of names.json into m. */
static int names_entry(struct names *m, const char *oid_text, const cJSON *name)
{
    char oid[OC_GUID_SIZE];

    if (oid_text == NULL || oc_guid_normalize(oid_text, oid) < 0 || !cJSON_IsString(name) ||
        !oc_valid_user_name(name->valuestring) || names_get(m, oid) != NULL ||
        m->n >= 4 * OC_DIR_AGENTS_MAX) {
        return -EBADMSG;
    }
    return names_add(m, oid, name->valuestring);
}

/*
 * names.json: {"version":2,"names":[{"id":"<object id>","name":"<name>"},...]}
 * (version 1 held an object keyed by object id, which the strict JSON
 * parser caps at 256 members: read, and written as version 2). A bad file
 * is an error.
 */
static int names_load(const char *path, struct names *m)
{
    FILE *f = fopen(path, "re");
    char *buf;
    size_t len;
    cJSON *o = NULL;
    const cJSON *names, *it;
    int64_t v = 0;
    int r = 0;

    if (f == NULL) {
        return errno == ENOENT ? 0 : -errno;
    }
    buf = malloc(OC_DIR_FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return -ENOMEM;
    }
    len = fread(buf, 1, OC_DIR_FILE_MAX + 1, f);
    fclose(f);
    if (len > OC_DIR_FILE_MAX || oc_json_parse_object(buf, len, &o, NULL) < 0 ||
        oc_json_get_int64(o, "version", 1, 2, &v) < 0 ||
        !(v == 1 ? cJSON_IsObject(names = oc_json_member(o, "names"))
                 : cJSON_IsArray(names = oc_json_member(o, "names")))) {
        free(buf);
        cJSON_Delete(o);
        return -EBADMSG;
    }
    free(buf);
    cJSON_ArrayForEach(it, names)
    {
        const char *oid = NULL;

        if (v == 1) {
            r = names_entry(m, it->string, it);
        } else if (!cJSON_IsObject(it) || cJSON_GetArraySize(it) != 2 ||
                   oc_json_get_string(it, "id", OC_GUID_LEN, &oid) < 0) {
            r = -EBADMSG;
        } else {
            r = names_entry(m, oid, oc_json_member(it, "name"));
        }
        if (r < 0) {
            break;
        }
    }
    cJSON_Delete(o);
    return r;
}

static int names_write(const char *path, const struct names *m)
{
    cJSON *o = cJSON_CreateObject(), *names = cJSON_CreateArray();
    char *text;
    int r;

    if (o == NULL || names == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(names);
        return -ENOMEM;
    }
    cJSON_AddNumberToObject(o, "version", 2);
    cJSON_AddItemToObject(o, "names", names);
    for (size_t i = 0; i < m->n; i++) {
        cJSON *e = cJSON_CreateObject();
        if (e == NULL) {
            cJSON_Delete(o);
            return -ENOMEM;
        }
        cJSON_AddItemToArray(names, e);
        cJSON_AddStringToObject(e, "id", m->oid[i]);
        cJSON_AddStringToObject(e, "name", m->name[i]);
    }
    text = cJSON_Print(o);
    cJSON_Delete(o);
    if (text == NULL) {
        return -ENOMEM;
    }
    r = oc_nssc_write_file(path, text, strlen(text));
    free(text);
    return r;
}

/*
 * Whether name may be (or stay) the name of the synced agent with uid:
 * not reserved, not a static agent, not another synced agent, and no
 * local user or group of that name other than this agent itself (the
 * daemon's getpwnam also sees the NSS cache it wrote).
 */
static const char *name_refused(const struct oc_config *cfg, const char *name, uint32_t uid,
                                const struct names *taken, const char *oid)
{
    char own[OC_USER_NAME_MAX + 1];
    struct passwd *pw;
    struct group *gr;

    if (!oc_valid_user_name(name)) {
        return "not a valid user name";
    }
    oc_dir_fallback_name(oid, own);
    /* "oc-" names are reserved for the fallback name of this very object id. */
    if (oc_dir_reserved_name(name) && strcmp(name, own) != 0) {
        return "a reserved name";
    }
    if (oc_config_agent_by_name(cfg, name) != NULL) {
        return "the name of a static [agent]";
    }
    if (names_taken(taken, name, oid)) {
        return "the name of another synced agent";
    }
    errno = 0;
    pw = getpwnam(name);
    if (pw != NULL && pw->pw_uid != uid) {
        return "the name of an existing local user";
    }
    gr = getgrnam(name);
    if (gr != NULL && gr->gr_gid != uid) {
        return "the name of an existing local group";
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Merge and write                                                    */
/* ------------------------------------------------------------------ */

static struct principal *principal_by_app(struct oc_graph *g, const char *app_id)
{
    for (size_t i = 0; i < g->n_pr; i++) {
        if (g->pr[i].step == PS_DONE && oc_guid_equal(g->pr[i].app_id, app_id)) {
            return &g->pr[i];
        }
    }
    return NULL;
}

/* The uids given so far (open addressing; 0, never an agent's uid, is empty). */
struct uidset {
    uint32_t *v;
    size_t cap;
};

static bool uid_used(const struct uidset *u, uint32_t uid)
{
    for (size_t k = (size_t)((uid * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (u->cap - 1);
         u->v[k] != 0; k = (k + 1) & (u->cap - 1)) {
        if (u->v[k] == uid) {
            return true;
        }
    }
    return false;
}

static void uid_add(struct uidset *u, uint32_t uid)
{
    size_t k = (size_t)((uid * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (u->cap - 1);

    while (u->v[k] != 0 && u->v[k] != uid) {
        k = (k + 1) & (u->cap - 1);
    }
    u->v[k] = uid;
}

static void dir_agent_fill(struct oc_dir_agent *a, const struct principal *p)
{
    /* Borrowed pointers: the caller never frees them through a. */
    a->roles = p->roles;
    a->n_roles = p->n_roles;
    a->keys = p->keys;
    a->n_keys = p->n_keys;
}

/* ------------------------------------------------------------------ */
/* Audit records of directory changes                                 */
/* ------------------------------------------------------------------ */

static void change_record(const struct oc_graph *g, const char *event, const char *name,
                          const char *app_id, const char *oid, const char *result,
                          const char *reason, const char *detail)
{
    if (g->audit == NULL) {
        return;
    }
    g->audit(&(const struct oc_audit){
            .event = event,
            .service = "openclaw-sync",
            .user = name,
            .agent_app_id = app_id,
            .agent_oid = oid,
            .result = result,
            .reason = reason,
            .via = "sync",
            .caller_uid = -1,
            .caller_pid = -1,
            .detail = detail,
    });
}

static int by_oid(const void *x, const void *y)
{
    return strcasecmp((*(const struct oc_dir_agent *const *)x)->object_id,
                      (*(const struct oc_dir_agent *const *)y)->object_id);
}

/* The agents of d sorted by object id (NULL for none or out of memory). */
static const struct oc_dir_agent **dir_sorted(const struct oc_dir *d)
{
    const struct oc_dir_agent **v;

    if (d == NULL || d->n_agents == 0 || (v = malloc(d->n_agents * sizeof(*v))) == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < d->n_agents; i++) {
        v[i] = &d->agents[i];
    }
    qsort(v, d->n_agents, sizeof(*v), by_oid);
    return v;
}

static const struct oc_dir_agent *dir_by_oid(const struct oc_dir_agent **sorted, size_t n,
                                             const struct oc_dir_agent *key)
{
    const struct oc_dir_agent **hit;

    if (sorted == NULL) {
        return NULL;
    }
    hit = bsearch(&key, sorted, n, sizeof(*sorted), by_oid);
    return hit != NULL ? *hit : NULL;
}

static void agent_record(const struct oc_graph *g, const char *event, const struct oc_dir_agent *a,
                         const char *detail)
{
    change_record(g, event, a->name, a->app_id, a->object_id, "success", "sync", detail);
}

/* The roles of a in one detail text ("uid N; roles A,B"). */
static void added_detail(const struct oc_dir_agent *a, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "uid %u; roles ", a->uid);

    for (size_t i = 0; i < a->n_roles && n < len; i++) {
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i > 0 ? "," : "", a->roles[i]);
    }
    if (a->n_roles == 0 && n < len) {
        (void)snprintf(buf + n, len - n, "none");
    }
}

/* roles of a that b lacks: one record each */
static void role_records(const struct oc_graph *g, const char *event, const struct oc_dir_agent *a,
                         const struct oc_dir_agent *b)
{
    char detail[OC_DIR_ROLE_MAX + 8];

    for (size_t i = 0; i < a->n_roles; i++) {
        if (!oc_dir_agent_has_role(b, a->roles[i])) {
            (void)snprintf(detail, sizeof(detail), "role %s", a->roles[i]);
            agent_record(g, event, a, detail);
        }
    }
}

/*
 * One record per change from old (the directory.json a sync replaces;
 * NULL: none, the first sync) to new, matched by object id (immutable).
 */
static void directory_changes(const struct oc_graph *g, const struct oc_dir *old,
                              const struct oc_dir *new)
{
    const struct oc_dir_agent **so = dir_sorted(old), **sn = dir_sorted(new);
    size_t n_old = old != NULL ? old->n_agents : 0;
    char detail[512];

    if ((so == NULL && n_old > 0) || (sn == NULL && new->n_agents > 0)) {
        g->log("directory sync: out of memory: this sync's changes are not audited one by one");
        free(so);
        free(sn);
        return;
    }
    for (size_t i = 0; i < new->n_agents; i++) {
        const struct oc_dir_agent *n = &new->agents[i];
        const struct oc_dir_agent *o = dir_by_oid(so, n_old, n);

        if (o == NULL) {
            added_detail(n, detail, sizeof(detail));
            agent_record(g, "agent-added", n, detail);
            if (!n->enabled) {
                agent_record(g, "agent-disabled", n, "disabled when added");
            }
            continue;
        }
        if (o->enabled != n->enabled) {
            agent_record(g, n->enabled ? "agent-enabled" : "agent-disabled", n,
                         n->enabled ? "enabled again" : "accountEnabled false or enabled = no");
        }
        role_records(g, "role-granted", n, o);
        role_records(g, "role-withdrawn", o, n);
    }
    for (size_t i = 0; old != NULL && i < old->n_agents; i++) {
        const struct oc_dir_agent *o = &old->agents[i];

        if (dir_by_oid(sn, new->n_agents, o) == NULL) {
            agent_record(g, "agent-removed", o, "no longer holds a role on the resource");
        }
    }
    free(so);
    free(sn);
}

/* ------------------------------------------------------------------ */
/* graph-state.json: what an incremental sync starts from             */
/* ------------------------------------------------------------------ */

/*
 * {"version":1,"graph_url":...,"resource":...,"resource_id":...,
 *  "delta_link":...,"full_at":N,"principals":[{"id","app_id",
 *  "display_name","enabled","app","roles":[...],"keys":[{"key_id",
 *  "not_before","not_after","sha1","sha256","ssh"}]}]}
 * and with assignment_delta = auto: "assignment_delta_link" (the
 * directoryObjects/delta deltaLink; absent when Graph refused it),
 * "assignment_denied" (Graph answered 403: not asked before the next full
 * sync) and "assignment_ids" (the resource's assignments to service
 * principals). A file without them (an older release's) makes the next
 * sync a full one.
 * Root's, 0644 (no secret: a deltaLink is useless without a Graph token),
 * replaced atomically after the directory files.
 */
/* The assignment delta members of graph-state.json. 0 or -ENOMEM. */
static int state_save_adelta(const struct oc_graph *g, cJSON *o)
{
    cJSON *ids;

    if (cJSON_AddBoolToObject(o, "assignment_denied", g->adelta_denied) == NULL ||
        (g->adelta_new != NULL &&
         cJSON_AddStringToObject(o, "assignment_delta_link", g->adelta_new) == NULL) ||
        (ids = cJSON_AddArrayToObject(o, "assignment_ids")) == NULL) {
        return -ENOMEM;
    }
    for (size_t i = 0; !g->adelta_denied && i < g->aids.cap; i++) {
        cJSON *id;

        if (g->aids.v[i] == NULL) {
            continue;
        }
        id = cJSON_CreateString(g->aids.v[i]);
        if (id == NULL || !cJSON_AddItemToArray(ids, id)) {
            cJSON_Delete(id);
            return -ENOMEM;
        }
    }
    return 0;
}

/* The assignment delta members of graph-state.json (all optional). 0,
 * -EBADMSG or -ENOMEM. */
static int state_load_adelta(struct oc_graph *g, const cJSON *o)
{
    const cJSON *ids = oc_json_member(o, "assignment_ids"), *it;
    const char *link = NULL;
    bool denied = false;

    if (oc_json_member(o, "assignment_denied") != NULL &&
        oc_json_get_bool(o, "assignment_denied", &denied) < 0) {
        return -EBADMSG;
    }
    g->adelta_denied = denied;
    if (oc_json_member(o, "assignment_delta_link") != NULL) {
        if (oc_json_get_string(o, "assignment_delta_link", LINK_MAX - 1, &link) < 0 ||
            !link_ok(g, link)) {
            return -EBADMSG;
        }
        g->adelta_url = strdup(link);
        if (g->adelta_url == NULL) {
            return -ENOMEM;
        }
    }
    if (ids != NULL && !cJSON_IsArray(ids)) {
        return -EBADMSG;
    }
    cJSON_ArrayForEach(it, ids)
    {
        if (!cJSON_IsString(it) || strlen(it->valuestring) > AID_MAX ||
            it->valuestring[0] == '\0') {
            return -EBADMSG;
        }
        if (idset_add(&g->aids, it->valuestring) < 0) {
            return -ENOMEM;
        }
    }
    return 0;
}

static int state_save(const struct oc_graph *g, const char *path)
{
    const struct oc_directory *d = g->cfg->directory;
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "principals");
    char *text;
    int r = -ENOMEM;

    if (arr == NULL || g->delta_new == NULL) {
        cJSON_Delete(o);
        return g->delta_new == NULL ? -EINVAL : -ENOMEM;
    }
    cJSON_AddNumberToObject(o, "version", 1);
    cJSON_AddStringToObject(o, "graph_url", d->graph_url);
    cJSON_AddStringToObject(o, "resource", d->resource);
    cJSON_AddStringToObject(o, "resource_id", g->resource_id);
    cJSON_AddStringToObject(o, "delta_link", g->delta_new);
    cJSON_AddNumberToObject(o, "full_at", (double)(g->full ? oc_now() : g->full_at));
    if (d->assignment_delta && state_save_adelta(g, o) < 0) {
        goto out;
    }
    for (size_t i = 0; i < g->n_pr; i++) {
        const struct principal *p = &g->pr[i];
        cJSON *e, *roles, *keys;

        if (p->step != PS_DONE || !p->assigned) {
            continue;
        }
        e = cJSON_CreateObject();
        if (e == NULL) {
            goto out;
        }
        cJSON_AddItemToArray(arr, e);
        cJSON_AddStringToObject(e, "id", p->id);
        cJSON_AddStringToObject(e, "app_id", p->app_id);
        cJSON_AddStringToObject(e, "display_name", p->display_name != NULL ? p->display_name : "");
        cJSON_AddBoolToObject(e, "enabled", p->enabled);
        cJSON_AddBoolToObject(e, "app", p->app);
        roles = cJSON_AddArrayToObject(e, "roles");
        keys = cJSON_AddArrayToObject(e, "keys");
        if (roles == NULL || keys == NULL) {
            goto out;
        }
        for (size_t j = 0; j < p->n_roles; j++) {
            cJSON_AddItemToArray(roles, cJSON_CreateString(p->roles[j]));
        }
        for (size_t j = 0; j < p->n_keys; j++) {
            cJSON *ko = oc_dir_key_to_json(&p->keys[j]);

            if (ko == NULL) {
                goto out;
            }
            cJSON_AddItemToArray(keys, ko);
        }
    }
    text = cJSON_PrintUnformatted(o);
    if (text != NULL) {
        r = oc_nssc_write_file(path, text, strlen(text));
        free(text);
    }
out:
    cJSON_Delete(o);
    return r;
}

/* One principal of the state file into g. */
static int state_principal(struct oc_graph *g, const cJSON *e)
{
    const char *id = NULL, *app_id = NULL, *dn = NULL;
    char oid[OC_GUID_SIZE];
    const cJSON *roles, *keys, *it;
    struct principal *p;
    bool enabled = false, app = false;

    if (oc_json_get_string(e, "id", OC_GUID_LEN, &id) < 0 || oc_guid_normalize(id, oid) < 0 ||
        oc_json_get_string(e, "app_id", OC_GUID_LEN, &app_id) < 0 ||
        oc_json_get_string(e, "display_name", OC_DIR_DISPLAY_MAX, &dn) < 0 ||
        oc_json_get_bool(e, "enabled", &enabled) < 0 || oc_json_get_bool(e, "app", &app) < 0 ||
        !cJSON_IsArray(roles = oc_json_member(e, "roles")) ||
        !cJSON_IsArray(keys = oc_json_member(e, "keys")) ||
        cJSON_GetArraySize(keys) > OC_DIR_KEYS_MAX || principal_find(g, oid) != NULL) {
        return -EBADMSG;
    }
    p = principal_get(g, oid);
    if (p == NULL) {
        return -ENOMEM;
    }
    if (oc_guid_normalize(app_id, p->app_id) < 0) {
        return -EBADMSG;
    }
    p->display_name = strdup(dn);
    p->enabled = enabled;
    p->app = app;
    p->have = true;
    p->assigned = true;
    p->step = PS_DONE;
    if (p->display_name == NULL) {
        return -ENOMEM;
    }
    cJSON_ArrayForEach(it, roles)
    {
        if (!cJSON_IsString(it) || !oc_dir_valid_role(it->valuestring)) {
            return -EBADMSG;
        }
        if (add_role(p, it->valuestring) < 0) {
            return -ENOMEM;
        }
    }
    if (cJSON_GetArraySize(keys) > 0) {
        p->keys = calloc(OC_DIR_KEYS_MAX, sizeof(*p->keys));
        if (p->keys == NULL) {
            return -ENOMEM;
        }
    }
    cJSON_ArrayForEach(it, keys)
    {
        const char *why = NULL;
        int r = oc_dir_key_from_json(it, &p->keys[p->n_keys], &why);

        if (r < 0) {
            free(p->keys[p->n_keys].ssh);
            p->keys[p->n_keys].ssh = NULL;
            return r == -ENOMEM ? r : -EBADMSG;
        }
        p->n_keys++;
    }
    return 0;
}

/* Load graph-state.json for an incremental sync: 0, -ENOENT (none),
 * -ESTALE (written for another graph_url or resource), -EBADMSG. */
static int state_load(struct oc_graph *g, const char *path)
{
    const struct oc_directory *d = g->cfg->directory;
    FILE *f = fopen(path, "re");
    const char *gu = NULL, *res = NULL, *rid = NULL, *link = NULL;
    const cJSON *arr, *it;
    cJSON *o = NULL;
    char *buf;
    size_t len;
    int64_t v = 0, full_at = 0;
    int r = 0;

    if (f == NULL) {
        return -errno;
    }
    buf = malloc(OC_GRAPH_STATE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return -ENOMEM;
    }
    len = fread(buf, 1, OC_GRAPH_STATE_MAX + 1, f);
    fclose(f);
    if (len > OC_GRAPH_STATE_MAX || oc_json_parse_object(buf, len, &o, NULL) < 0 ||
        oc_json_get_int64(o, "version", 1, 1, &v) < 0 ||
        oc_json_get_string(o, "graph_url", OC_CONFIG_PATH_MAX, &gu) < 0 ||
        oc_json_get_string(o, "resource", OC_CONFIG_PATH_MAX, &res) < 0 ||
        oc_json_get_string(o, "resource_id", OC_GUID_LEN, &rid) < 0 ||
        oc_json_get_string(o, "delta_link", LINK_MAX - 1, &link) < 0 ||
        oc_json_get_int64(o, "full_at", 0, OC_JSON_INT_MAX, &full_at) < 0 ||
        !cJSON_IsArray(arr = oc_json_member(o, "principals"))) {
        r = -EBADMSG;
        goto out;
    }
    if (strcmp(gu, d->graph_url) != 0 || strcmp(res, d->resource) != 0 || !link_ok(g, link)) {
        r = -ESTALE;
        goto out;
    }
    if (oc_guid_normalize(rid, g->resource_id) < 0 || (g->delta_url = strdup(link)) == NULL) {
        r = g->delta_url == NULL ? -ENOMEM : -EBADMSG;
        goto out;
    }
    g->full_at = full_at;
    if (d->assignment_delta && (r = state_load_adelta(g, o)) < 0) {
        goto out;
    }
    cJSON_ArrayForEach(it, arr)
    {
        r = state_principal(g, it);
        if (r < 0) {
            break;
        }
    }
out:
    free(buf);
    cJSON_Delete(o);
    return r;
}

/*
 * What one write of the files builds: the directory (static agents, then
 * synced ones), the NSS cache's agents, and what they point into. Freed
 * by files_free().
 */
struct files {
    struct oc_idmap_entry *ids; /* the static agents' names and uids */
    size_t n_ids;
    struct oc_dir dir;
    struct oc_cb_agent *cb; /* the NSS cache's agents */
    size_t n_cb, n_groups;
    const char ***nssroles;                /* per cb entry */
    char (*gecos)[OC_DIR_DISPLAY_MAX + 1]; /* per cb entry */
    struct names names;                    /* names.json */
    bool names_changed;
    struct uidset uids;
    void *img; /* the NSS cache image */
    size_t img_len;
};

static void files_free(struct files *f)
{
    for (size_t i = 0; f->nssroles != NULL && i < f->n_cb + 1; i++) {
        free(f->nssroles[i]);
    }
    free(f->nssroles);
    free(f->gecos);
    free(f->cb);
    free(f->dir.agents);
    free(f->uids.v);
    free(f->img);
    free(f->ids);
    names_free(&f->names);
}

/* The static agents' ids, names.json and the arrays for every agent. */
static int files_begin(struct oc_graph *g, struct files *f)
{
    char path[OC_CONFIG_PATH_MAX + 32], err[1024];
    size_t n;
    int r;

    r = oc_idmap_assign(g->cfg, &f->ids, &f->n_ids, err, sizeof(err));
    if (r < 0) {
        sync_failed(g, 600, "%s", err);
        return r;
    }
    (void)snprintf(path, sizeof(path), "%s/%s", g->state_dir, OC_GRAPH_NAMES_FILE);
    r = names_load(path, &f->names);
    if (r < 0) {
        sync_failed(g, 600,
                    "%s is unreadable or malformed (%s): it pins the names of synced agents; "
                    "restore it from a backup rather than deleting it",
                    path, strerror(-r));
        return r;
    }
    n = f->n_ids + g->n_pr + 1;
    for (f->uids.cap = 64; f->uids.cap < 2 * n; f->uids.cap *= 2) {
    }
    f->uids.v = calloc(f->uids.cap, sizeof(*f->uids.v));
    f->dir.agents = calloc(n, sizeof(*f->dir.agents));
    f->cb = calloc(n, sizeof(*f->cb));
    f->nssroles = calloc(n, sizeof(*f->nssroles));
    f->gecos = calloc(n, sizeof(*f->gecos));
    if (f->dir.agents == NULL || f->cb == NULL || f->nssroles == NULL || f->gecos == NULL ||
        f->uids.v == NULL) {
        sync_failed(g, -1, "out of memory");
        return -ENOMEM;
    }
    return 0;
}

/* Static agents: name and uid from the config; roles and state from Graph when assigned. */
static void files_static_agents(struct oc_graph *g, struct files *f, bool synced)
{
    const struct oc_config *cfg = g->cfg;

    for (size_t i = 0; i < f->n_ids; i++) {
        const struct oc_agent *a = &cfg->agents[f->ids[i].agent];
        struct principal *p = synced ? principal_by_app(g, a->app_id) : NULL;
        struct oc_dir_agent *da = &f->dir.agents[f->dir.n_agents++];

        oc_strscpy(da->name, sizeof(da->name), f->ids[i].name);
        oc_strscpy(da->app_id, sizeof(da->app_id), a->app_id);
        oc_strscpy(da->object_id, sizeof(da->object_id), a->object_id);
        da->uid = f->ids[i].uid;
        uid_add(&f->uids, da->uid);
        da->enabled = a->enabled && (p == NULL || p->enabled);
        da->display_name = a->display_name != NULL ? a->display_name
                           : p != NULL             ? p->display_name
                                                   : (char *)"";
        da->source = p != NULL ? OC_DIR_SRC_GRAPH : OC_DIR_SRC_CONFIG;
        if (p != NULL) {
            if (!oc_guid_equal(p->id, a->object_id)) {
                g->log("directory sync: [agent %s] has object_id %s but Graph has %s for its "
                       "app_id: fix object_id in openclaw.conf",
                       a->name, a->object_id, p->id);
            }
            dir_agent_fill(da, p);
            p->consumed = true;
        }
    }
}

/*
 * The name of synced principal p (uid uid) into name: its pinned name, or
 * a new one from its display name (else the fallback), pinned now. 1 with
 * the name, 0 when p is refused (logged), -ENOMEM.
 */
static int files_name(struct oc_graph *g, struct files *f, const struct principal *p, uint32_t uid,
                      char name[OC_USER_NAME_MAX + 1])
{
    const struct oc_config *cfg = g->cfg;
    const char *pinned = names_get(&f->names, p->id), *why;
    char dn[96];

    if (pinned != NULL) {
        why = name_refused(cfg, pinned, uid, &f->names, p->id);
        if (why != NULL) {
            g->log("directory sync: the pinned name %s of service principal %s is now %s: "
                   "agent refused until that is resolved (names never change once pinned)",
                   pinned, p->id, why);
            return 0;
        }
        oc_strscpy(name, OC_USER_NAME_MAX + 1, pinned);
        return 1;
    }
    why = oc_dir_slug(p->display_name, name) < 0 ? "not a plain name" : NULL;
    why = why != NULL ? why : name_refused(cfg, name, uid, &f->names, p->id);
    if (why != NULL) {
        safe_text(p->display_name, dn, sizeof(dn));
        oc_dir_fallback_name(p->id, name);
        g->log("directory sync: display name \"%s\" of service principal %s is %s: "
               "named %s instead",
               dn, p->id, why, name);
        why = name_refused(cfg, name, uid, &f->names, p->id);
        if (why != NULL) {
            g->log("directory sync: the fallback name %s is %s too: service principal "
                   "%s refused; add an [agent NAME] section for it",
                   name, why, p->id);
            return 0;
        }
    }
    if (names_add(&f->names, p->id, name) < 0) {
        sync_failed(g, -1, "out of memory");
        return -ENOMEM;
    }
    f->names_changed = true;
    g->log("directory sync: service principal %s (%s) pinned as %s, uid %u", p->id, p->app_id, name,
           uid);
    return 1;
}

/* Synced agents: pinned or new names, uid from the object id. */
static int files_synced_agents(struct oc_graph *g, struct files *f)
{
    const struct oc_global *gl = &g->cfg->global;

    for (size_t i = 0; i < g->n_pr; i++) {
        struct principal *p = &g->pr[i];
        char name[OC_USER_NAME_MAX + 1];
        struct oc_dir_agent *da;
        uint32_t uid;
        int r;

        if (p->step != PS_DONE || p->consumed) {
            continue;
        }
        uid = oc_idmap_uid(gl->tenant_id, p->id, gl->uid_min, gl->uid_max);
        if (uid_used(&f->uids, uid)) {
            g->log("directory sync: service principal %s (%s) maps to uid %u, which another agent "
                   "has: refused; pin it with an [agent NAME] section (app_id, object_id, uid =)",
                   p->id, p->app_id, uid);
            continue;
        }
        r = files_name(g, f, p, uid, name);
        if (r <= 0) {
            if (r < 0) {
                return r;
            }
            continue;
        }
        da = &f->dir.agents[f->dir.n_agents++];
        uid_add(&f->uids, uid);
        oc_strscpy(da->name, sizeof(da->name), name);
        oc_strscpy(da->app_id, sizeof(da->app_id), p->app_id);
        oc_strscpy(da->object_id, sizeof(da->object_id), p->id);
        da->uid = uid;
        da->enabled = p->enabled;
        da->display_name = p->display_name;
        da->source = OC_DIR_SRC_GRAPH;
        dir_agent_fill(da, p);
    }
    return 0;
}

/* The NSS cache image of the directory: disabled service principals are left out entirely. */
static int files_nss_image(struct oc_graph *g, struct files *f)
{
    const struct oc_config *cfg = g->cfg;
    uint8_t seed[OC_NSSC_SEED_SIZE];
    char err[1024];
    int r;

    for (size_t i = 0; i < f->dir.n_agents; i++) {
        const struct oc_dir_agent *da = &f->dir.agents[i];
        const struct oc_agent *sa = oc_config_agent_by_name(cfg, da->name);
        size_t k = 0;

        if (!da->enabled && (sa == NULL || sa->enabled)) {
            continue; /* disabled in Entra */
        }
        f->nssroles[f->n_cb] = calloc(da->n_roles + 1, sizeof(char *));
        if (f->nssroles[f->n_cb] == NULL) {
            sync_failed(g, -1, "out of memory");
            return -ENOMEM;
        }
        for (size_t j = 0; j < da->n_roles; j++) {
            if (strchr(da->roles[j], ':') == NULL) { /* not representable in the cache */
                f->nssroles[f->n_cb][k++] = da->roles[j];
            }
        }
        oc_dir_gecos(da->display_name, f->gecos[f->n_cb], sizeof(f->gecos[f->n_cb]));
        f->cb[f->n_cb] = (struct oc_cb_agent){
                .name = da->name,
                .uid = da->uid,
                .gecos = f->gecos[f->n_cb],
                .enabled = da->enabled,
                .groups = sa != NULL ? &sa->groups : NULL,
                .roles = f->nssroles[f->n_cb],
                .n_roles = k,
        };
        f->n_cb++;
    }
    if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        sync_failed(g, -1, "getrandom failed");
        return -EIO;
    }
    r = oc_cachebuild(cfg, f->cb, f->n_cb, seed, &f->img, &f->img_len, &f->n_groups, err,
                      sizeof(err));
    if (r < 0) {
        sync_failed(g, 600, "cannot build the NSS cache: %s", err);
    }
    return r;
}

/*
 * Write names.json (first: a name is pinned before anything serves it),
 * directory.json (audited against the file it replaces), the NSS cache,
 * and after a Graph sync its state.
 */
static int files_write(struct oc_graph *g, struct files *f, bool synced)
{
    const struct oc_global *gl = &g->cfg->global;
    char path[OC_CONFIG_PATH_MAX + 32];
    struct oc_dir *old_dir = NULL;
    bool old_ok;
    int r;

    (void)mkdir(g->state_dir, 0755);
    if (f->names_changed) {
        (void)snprintf(path, sizeof(path), "%s/%s", g->state_dir, OC_GRAPH_NAMES_FILE);
        r = names_write(path, &f->names);
        if (r < 0) {
            sync_failed(g, -1, "cannot write %s: %s", path, strerror(-r));
            return r;
        }
    }
    (void)snprintf(path, sizeof(path), "%s/%s", g->state_dir, OC_DIR_FILE_NAME);
    /* the data this sync replaces, for its change records */
    r = oc_dir_load_file(path, gl->uid_min, gl->uid_max, &old_dir, NULL);
    if (r < 0 && r != -ENOENT) {
        g->log("directory sync: %s unreadable (%s): this sync's changes are not audited one by "
               "one",
               path, strerror(-r));
    }
    old_ok = r == 0 || r == -ENOENT;
    r = oc_dir_write_file(path, &f->dir);
    if (r < 0) {
        sync_failed(g, -1, "cannot write %s: %s", path, strerror(-r));
        oc_dir_free(old_dir);
        return r;
    }
    if (old_ok) {
        directory_changes(g, old_dir, &f->dir);
    }
    oc_dir_free(old_dir);
    r = oc_nssc_write_file(gl->nss_cache, f->img, f->img_len);
    if (r < 0) {
        sync_failed(g, -1, "cannot write %s: %s (check that the directory exists and is writable)",
                    gl->nss_cache, strerror(-r));
        return r;
    }
    if (synced) {
        (void)snprintf(path, sizeof(path), "%s/%s", g->state_dir, OC_GRAPH_STATE_FILE);
        r = state_save(g, path);
        if (r < 0) {
            /* an older state would bring back what this sync replaced */
            (void)unlink(path);
            g->log("directory sync: cannot write %s (%s): the next sync is a full one", path,
                   strerror(-r));
        }
    }
    return 0;
}

static int write_files(struct oc_graph *g, bool synced)
{
    const struct oc_config *cfg = g->cfg;
    struct files f = {.dir = {.version = OC_DIR_VERSION}};
    int r;

    r = files_begin(g, &f);
    if (r < 0) {
        goto out;
    }
    oc_strscpy(f.dir.tenant_id, sizeof(f.dir.tenant_id), cfg->global.tenant_id);
    f.dir.synced_at = oc_now();
    f.dir.source = synced ? cfg->directory->graph_url : (char *)"config";
    files_static_agents(g, &f, synced);
    r = synced ? files_synced_agents(g, &f) : 0;
    if (r < 0 || (r = files_nss_image(g, &f)) < 0 || (r = files_write(g, &f, synced)) < 0) {
        goto out;
    }
    g->agents = f.dir.n_agents;
    g->last_ok = oc_now();
    g->failures = 0;
    g->last_error[0] = '\0';
    g->next = synced ? g->last_ok + jitter(cfg->directory->sync_interval, 10) : INT64_MAX;
    if (synced) {
        g->log("directory sync (%s): %u Graph requests (%u throttled, %u retried), %u delta "
               "entries%s",
               g->full ? "full" : "incremental", g->n_requests, g->n_throttled, g->n_retries,
               g->delta_changes, g->reassign ? ", assignments read again" : "");
    }
    g->log("directory sync: %zu agents (%zu in NSS, %zu groups) written to %s and %s/%s",
           f.dir.n_agents, f.n_cb, f.n_groups, cfg->global.nss_cache, g->state_dir,
           OC_DIR_FILE_NAME);
    sync_end(g);
    r = 0;
out:
    files_free(&f);
    return r;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                       */
/* ------------------------------------------------------------------ */

/* The cache file at path exists and names another format version. */
bool oc_graph_cache_other_format(const char *path)
{
    uint64_t head[(OC_NSSC_HEADER_SIZE + 7) / 8]; /* aligned, as oc_nssc_open wants */
    struct oc_nssc c;
    ssize_t n;
    int fd;

    if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        return false;
    }
    do {
        n = pread(fd, head, OC_NSSC_HEADER_SIZE, 0);
    } while (n < 0 && errno == EINTR);
    close(fd);
    return n == (ssize_t)OC_NSSC_HEADER_SIZE &&
           oc_nssc_open(head, OC_NSSC_HEADER_SIZE, &c) == -EPROTONOSUPPORT;
}

int oc_graph_new(const struct oc_config *cfg, struct oc_fetch_ctx *fetch, const char *state_dir,
                 oc_graph_log_fn log, oc_audit_sink_fn audit, struct oc_graph **ret)
{
    struct oc_graph *g = calloc(1, sizeof(*g));

    if (g == NULL) {
        return -ENOMEM;
    }
    g->cfg = cfg;
    g->fetch = fetch;
    g->log = log;
    g->audit = audit;
    if (oc_strscpy(g->state_dir, sizeof(g->state_dir), state_dir) < 0) {
        free(g);
        return -ENAMETOOLONG;
    }
    g->next = cfg->directory != NULL ? 0 : INT64_MAX;
    if (cfg->directory != NULL) {
        budget_load(g);
    }
    if (cfg->directory == NULL && oc_graph_cache_other_format(cfg->global.nss_cache)) {
        /* Static agents only: nothing else rewrites the file until an
         * admin's cache rebuild, so a cache an older release wrote (after
         * an upgrade) is written again at start, from the config alone. */
        g->log("%s has an older format than this release reads: written again from the config",
               cfg->global.nss_cache);
        g->next = 0;
    }
    *ret = g;
    return 0;
}

void oc_graph_free(struct oc_graph *g)
{
    if (g == NULL) {
        return;
    }
    principals_free(g);
    adelta_clear(g);
    free(g->delta_url);
    free(g->delta_new);
    oc_free_wipe_str(g->token);
    free(g);
}

/*
 * Seconds after a full sync that the next one is due on this host: between
 * half and all of full_sync_interval, at a place fixed by the host's splay
 * hash. A fleet started together (its first syncs full, at once) thus
 * spreads its next full syncs over half an interval, and they stay apart,
 * instead of meeting Graph together every full_sync_interval; a host still
 * syncs in full at least once per full_sync_interval.
 */
static int64_t full_sync_due(uint32_t interval)
{
    return (int64_t)interval - (interval >= 2 ? (int64_t)oc_graph_splay(interval / 2) : 0);
}

int oc_graph_start(struct oc_graph *g)
{
    int64_t now = oc_now();

    if (g->phase != PH_IDLE) {
        g->resync = true;
        return 0;
    }
    g->last_attempt = now;
    g->next = INT64_MAX;
    if (g->cfg->directory == NULL) {
        return write_files(g, false);
    }
    g->n_requests = g->n_throttled = g->n_retries = 0;
    g->full = g->want_full;
    if (!g->full) {
        char path[OC_CONFIG_PATH_MAX + 32];
        int r;

        (void)snprintf(path, sizeof(path), "%s/%s", g->state_dir, OC_GRAPH_STATE_FILE);
        r = state_load(g, path);
        if (r < 0) {
            if (r != -ENOENT) {
                g->log("directory sync: %s is %s: a full sync", path,
                       r == -ESTALE ? "for another graph_url or resource" : "unusable");
            }
            g->full = true;
        } else if (now - g->full_at >= full_sync_due(g->cfg->directory->full_sync_interval) ||
                   now < g->full_at) {
            g->log("directory sync: the last full sync is %llds old, past this host's %llds of "
                   "full_sync_interval (%us): a full sync",
                   (long long)(now - g->full_at),
                   (long long)full_sync_due(g->cfg->directory->full_sync_interval),
                   g->cfg->directory->full_sync_interval);
            g->full = true;
        } else if (g->cfg->directory->assignment_delta && g->adelta_url == NULL &&
                   !g->adelta_denied) {
            /* written by a release without it, or with assignment_delta = no */
            g->log("directory sync: %s has no app role assignment deltaLink yet: a full sync",
                   path);
            g->full = true;
        }
        if (g->full) {
            principals_free(g);
            free(g->delta_url);
            g->delta_url = NULL;
        }
    }
    if (g->hold_wall_ms > wall_ms()) {
        int64_t left = g->hold_wall_ms - wall_ms();

        if (g->deadline_ms > 0 && mono_ms() + left > g->deadline_ms) {
            sync_failed(g, (left + 999) / 1000,
                        "Microsoft Graph asked this host to wait (Retry-After) %llds more: no "
                        "request before that",
                        (long long)((left + 999) / 1000));
            return -EAGAIN;
        }
    }
    if (g->token != NULL && g->token_expires - TOKEN_MARGIN > now) {
        return start_sync(g);
    }
    return start_token(g);
}

void oc_graph_set_deadline(struct oc_graph *g, int64_t seconds)
{
    g->deadline_ms = mono_ms() + seconds * 1000;
}

void oc_graph_set_full(struct oc_graph *g, bool full)
{
    g->want_full = full;
}

void oc_graph_tick(struct oc_graph *g)
{
    int64_t now = mono_ms();
    uint32_t gen = g->gen;

    for (size_t i = 0; i < sizeof(g->q) / sizeof(g->q[0]); i++) {
        if (g->phase == PH_IDLE || g->gen != gen) {
            return;
        }
        if (g->q[i].used && !g->q[i].flying && q_try(g, &g->q[i], now) < 0) {
            return;
        }
    }
    if (g->phase == PH_PRINCIPALS) {
        pump(g);
    }
}

uint32_t oc_graph_splay(uint32_t interval)
{
    char id[256] = "";
    size_t n = 0;
    FILE *f;

    if (interval == 0) {
        return 0;
    }
    f = fopen("/etc/machine-id", "re");
    if (f != NULL) {
        n = fread(id, 1, sizeof(id) - 1, f);
        fclose(f);
    }
    while (n > 0 && (id[n - 1] == '\n' || id[n - 1] == ' ')) {
        n--;
    }
    id[n] = '\0';
    if (n == 0 && gethostname(id, sizeof(id) - 1) < 0) {
        id[0] = '\0';
    }
    /* "openclaw-sync:" + the id: not the machine id's own hash elsewhere */
    uint64_t h = oc_fnv1a64("openclaw-sync:", 14);
    for (size_t i = 0; id[i] != '\0'; i++) {
        h = (h ^ (unsigned char)id[i]) * UINT64_C(0x100000001b3);
    }
    return (uint32_t)(h % interval);
}

int64_t oc_graph_next(const struct oc_graph *g)
{
    return g->phase == PH_IDLE ? g->next : INT64_MAX;
}

bool oc_graph_running(const struct oc_graph *g)
{
    return g->phase != PH_IDLE;
}

uint64_t oc_graph_generation(const struct oc_graph *g)
{
    return g->generation;
}

const char *oc_graph_last_error(const struct oc_graph *g)
{
    return g->last_error[0] != '\0' ? g->last_error : NULL;
}

size_t oc_graph_agents(const struct oc_graph *g)
{
    return g->agents;
}

static void anomaly_next(struct oc_graph *g);

/* The outcome of the head anomaly response: its audit record. */
static void anomaly_record(const struct oc_graph *g, bool disabled, const char *detail)
{
    const struct oc_agent *a = oc_config_agent_by_name(g->cfg, g->anomaly[0].name);

    change_record(g, "sp-disable", g->anomaly[0].name, a != NULL ? a->app_id : NULL,
                  g->anomaly[0].oid, disabled ? "success" : "error", disabled ? "anomaly" : "graph",
                  detail);
}

/* The head of the anomaly queue is done (either way): drop it, start the next. */
static void anomaly_pop(struct oc_graph *g)
{
    g->anomaly_busy = false;
    if (g->n_anomaly > 0) {
        memmove(&g->anomaly[0], &g->anomaly[1], (g->n_anomaly - 1) * sizeof(g->anomaly[0]));
        g->n_anomaly--;
    }
    anomaly_next(g);
}

static void anomaly_patch(struct oc_graph *g)
{
    char url[URL_MAX];
    struct oc_fetch_error err;

    (void)snprintf(url, sizeof(url), "%s/v1.0/servicePrincipals/%s", g->cfg->directory->graph_url,
                   g->anomaly[0].oid);
    if (graph_job_request(g, IDX_A_PATCH, "PATCH", url, "{\"accountEnabled\":false}", &err) < 0) {
        g->log("audit: anomaly: cannot disable the service principal %s of agent %s: %s",
               g->anomaly[0].oid, g->anomaly[0].name, err.msg);
        anomaly_record(g, false, err.msg);
        anomaly_pop(g);
    }
}

static void anomaly_next(struct oc_graph *g)
{
    struct oc_fetch_error err;

    if (g->anomaly_busy || g->n_anomaly == 0) {
        return;
    }
    g->anomaly_busy = true;
    if (g->token != NULL && g->token_expires - TOKEN_MARGIN > oc_now()) {
        anomaly_patch(g);
        return;
    }
    if (graph_job_token(g, IDX_A_TOKEN, &err) < 0) {
        g->log("audit: anomaly: cannot disable the service principal %s of agent %s: no Graph "
               "token: %s",
               g->anomaly[0].oid, g->anomaly[0].name, err.msg);
        anomaly_record(g, false, err.msg);
        anomaly_pop(g);
    }
}

bool oc_graph_anomaly_busy(const struct oc_graph *g)
{
    return g->anomaly_busy || g->n_anomaly > 0;
}

int oc_graph_disable_sp(struct oc_graph *g, const char *name, const char *object_id)
{
    if (g->cfg->directory == NULL) {
        return -ENOTSUP;
    }
    if (g->n_anomaly >= OC_GRAPH_ANOMALY_QUEUE) {
        return -ENOSPC;
    }
    oc_strscpy(g->anomaly[g->n_anomaly].name, sizeof(g->anomaly[0].name), name);
    oc_strscpy(g->anomaly[g->n_anomaly].oid, sizeof(g->anomaly[0].oid), object_id);
    g->n_anomaly++;
    anomaly_next(g);
    return 0;
}

/* A finished job of the anomaly response. */
static void anomaly_done(struct oc_graph *g, uint32_t idx, struct oc_fetch_result *res)
{
    if (!g->anomaly_busy || g->n_anomaly == 0) {
        return;
    }
    if (idx == IDX_A_TOKEN) {
        if (res->result < 0) {
            g->log("audit: anomaly: cannot disable the service principal %s of agent %s: no "
                   "Graph token: %s",
                   g->anomaly[0].oid, g->anomaly[0].name, res->err.msg);
            anomaly_record(g, false, res->err.msg);
            anomaly_pop(g);
            return;
        }
        oc_free_wipe_str(g->token);
        g->token = res->token.access_token;
        g->token_expires = res->token.expires_on;
        res->token.access_token = NULL;
        anomaly_patch(g);
        return;
    }
    if (res->result == 0 && (res->http_status == 204 || res->http_status == 200)) {
        g->log("audit: anomaly: service principal %s of agent %s disabled in Entra "
               "(accountEnabled false, on_anomaly = disable-service-principal)",
               g->anomaly[0].oid, g->anomaly[0].name);
        anomaly_record(g, true, "accountEnabled false in Entra");
        /* The next sync takes the agent out of NSS; run it now. */
        g->next = 0;
        g->resync = g->phase != PH_IDLE;
    } else {
        char detail[256];

        if (res->result < 0) {
            oc_strscpy(detail, sizeof(detail), res->err.msg);
        } else {
            (void)snprintf(detail, sizeof(detail),
                           "Graph answered HTTP %ld (the [directory] application needs "
                           "Application.ReadWrite.All)",
                           res->http_status);
        }
        g->log("audit: anomaly: disabling the service principal %s of agent %s failed: %s",
               g->anomaly[0].oid, g->anomaly[0].name, detail);
        anomaly_record(g, false, detail);
    }
    anomaly_pop(g);
}

/* A finished job idx of sync gen (or of the anomaly response). */
static void job_done(struct oc_graph *g, uint32_t gen, uint32_t idx, struct oc_fetch_result *res)
{
    struct greq *q = NULL;

    if (idx == IDX_A_TOKEN || idx == IDX_A_PATCH) {
        anomaly_done(g, idx, res);
        goto out;
    }
    if (g->phase == PH_IDLE || gen != g->gen) {
        goto out; /* a job of an aborted sync */
    }
    if (idx == IDX_TOKEN) {
        g->in_flight--;
        if (res->result < 0) {
            sync_failed(g, res->err.permanent ? 600 : res->err.retry_after,
                        "cannot get a Microsoft Graph token: %s", res->err.msg);
            goto out;
        }
        oc_free_wipe_str(g->token);
        g->token = res->token.access_token;
        g->token_expires = res->token.expires_on;
        res->token.access_token = NULL;
        (void)start_sync(g);
        goto out;
    }
    for (size_t i = 0; i < sizeof(g->q) / sizeof(g->q[0]) && q == NULL; i++) {
        if (g->q[i].used && g->q[i].flying && g->q[i].idx == idx) {
            q = &g->q[i];
        }
    }
    if (q == NULL) {
        goto out;
    }
    q->flying = false;
    {
        long st = res->http_status;
        bool transport = res->result < 0 || (st == 0 && res->err.msg[0] != '\0');
        bool again = transport || st == 429 || st == 500 || st == 502 || st == 503 || st == 504;

        if (st == 429) {
            g->n_throttled++;
        }
        if (again && q->tries + 1 < OC_GRAPH_TRIES_MAX) {
            int64_t wait = backoff_ms(++q->tries);

            if (res->err.retry_after >= 0 && res->err.retry_after * 1000 > wait) {
                wait = res->err.retry_after * 1000;
            }
            if (graph_wait(g, wait, res->err.retry_after >= 0, st) < 0) {
                goto out;
            }
            q->not_before_ms = mono_ms() + wait;
            g->n_retries++;
            if (transport) {
                g->log("directory sync: %s; retried in %lld ms (attempt %u of %d)", res->err.msg,
                       (long long)wait, q->tries + 1, OC_GRAPH_TRIES_MAX);
            } else {
                g->log("directory sync: Graph answered HTTP %ld; retried in %lld ms (attempt %u "
                       "of %d)",
                       st, (long long)wait, q->tries + 1, OC_GRAPH_TRIES_MAX);
            }
            goto out; /* oc_graph_tick() sends it again */
        }
        q_free(g, q);
        if (transport) {
            sync_failed(g, res->err.retry_after, "%s", res->err.msg);
            goto out;
        }
    }
    if (res->http_status == 401) {
        /* An expired or revoked token: fetch a new one next time. */
        oc_free_wipe_str(g->token);
        g->token = NULL;
    }
    if (idx == IDX_PHASE) {
        if (g->phase == PH_RESOURCE) {
            (void)resource_done(g, res);
        } else if (g->phase == PH_ASSIGNED) {
            (void)assigned_done(g, res);
        } else if (g->phase == PH_DELTA) {
            (void)delta_done(g, res);
        } else if (g->phase == PH_ADELTA) {
            (void)adelta_done(g, res);
        }
        goto out;
    }
    if (idx >= IDX_BATCH0 && idx < IDX_BATCH0 + OC_GRAPH_PARALLEL && g->phase == PH_PRINCIPALS) {
        batch_done(g, idx - IDX_BATCH0, res);
        if (g->phase == PH_PRINCIPALS) {
            pump(g);
        }
    }
out:
    if (res->body != NULL) {
        oc_free_wipe(res->body, res->body_len);
        res->body = NULL;
    }
    oc_token_clear(&res->token);
}

cJSON *oc_graph_status(const struct oc_graph *g, int64_t now)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddBoolToObject(o, "graph", g->cfg->directory != NULL);
    cJSON_AddBoolToObject(o, "running", g->phase != PH_IDLE);
    if (g->last_ok > 0) {
        cJSON_AddNumberToObject(o, "last_sync", (double)g->last_ok);
        cJSON_AddNumberToObject(o, "age", (double)(now - g->last_ok));
        cJSON_AddNumberToObject(o, "agents", (double)g->agents);
    }
    if (g->last_error[0] != '\0') {
        cJSON_AddStringToObject(o, "last_error", g->last_error);
        cJSON_AddNumberToObject(o, "failures", g->failures);
    }
    if (g->phase == PH_IDLE && g->next != INT64_MAX) {
        cJSON_AddNumberToObject(o, "next_attempt", (double)g->next);
    }
    return o;
}
