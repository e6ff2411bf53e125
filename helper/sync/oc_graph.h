/* SPDX-License-Identifier: MIT */
/*
 * oc_graph.h: the directory sync (docs/directory.md), run by root's
 * openclaw-sync (it was openclawd's).
 *
 * With a [directory] section openclaw-sync reads, through Microsoft Graph
 * with the [directory] credential, the service principals holding an
 * app role on the host's resource application, merges them with the
 * static [agent] sections, and writes the NSS cache and
 * <state_dir>/directory.json atomically. Every request runs in the
 * caller's curl multi loop (never blocking it), its answer handed back
 * through its own callback (oc_fetch_dispatch()); incrementally from the
 * Graph delta state when it can (oc_graph.c). On any Graph failure the
 * last good files stay untouched and the sync is retried with backoff.
 * Without [directory], a sync rebuilds the NSS cache from the static
 * sections only (no network).
 */
#ifndef OC_GRAPH_H
#define OC_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "conf.h"
#include "helper/creds/oc_fetch.h"

#define OC_GRAPH_PARALLEL       4    /* Graph requests in flight at once */
#define OC_GRAPH_PAGES_MAX      1024 /* @odata.nextLink pages followed (999 each) */
#define OC_GRAPH_RETRY_BASE     30   /* seconds, first retry after a failure */
#define OC_GRAPH_RETRY_MAX      900  /* seconds */
#define OC_GRAPH_NAMES_FILE     "names.json"
#define OC_GRAPH_STATE_FILE     "graph-state.json"    /* deltaLink + the assigned principals */
#define OC_GRAPH_BUDGET_FILE    "graph-budget"        /* the request budget across runs */
#define OC_GRAPH_STATE_MAX      (64u * 1024u * 1024u) /* bytes of graph-state.json */
#define OC_GRAPH_BATCH_MAX      20   /* requests in one JSON $batch (Graph's limit) */
#define OC_GRAPH_TOP            999  /* page size asked for ($top, Graph's maximum) */
#define OC_GRAPH_TRIES_MAX      6    /* attempts of one request on 429, 503, 5xx */
#define OC_GRAPH_BACKOFF_MS     1000 /* first backoff without Retry-After */
#define OC_GRAPH_BACKOFF_MAX_MS 32000

struct oc_graph;

typedef void (*oc_graph_log_fn)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * state_dir: where directory.json and names.json live. audit (may be NULL)
 * receives one record per change a sync makes to directory.json: event=
 * agent-added, agent-removed, agent-disabled, agent-enabled, role-granted,
 * role-withdrawn (via=sync; the first sync on a host adds every agent),
 * and the outcome of an anomaly response, event=sp-disable.
 */
int oc_graph_new(const struct oc_config *cfg, struct oc_fetch_ctx *fetch, const char *state_dir,
                 oc_graph_log_fn log, oc_audit_sink_fn audit, struct oc_graph **ret);
void oc_graph_free(struct oc_graph *g);

/*
 * Start a sync now. When one runs, another is queued to start as soon as
 * it ends (the running one may have read Graph before the caller's
 * change): callers wait for that next one. Without [directory] the static
 * rebuild is done at once.
 */
int oc_graph_start(struct oc_graph *g);

/*
 * The next oc_graph_start() does a full sync (every principal and
 * assignment read again, a new delta round) instead of an incremental one
 * from graph-state.json: the admin's `openclawctl cache sync` (--force).
 */
void oc_graph_set_full(struct oc_graph *g, bool full);

/*
 * The run ends in seconds: a wait Graph asks for (Retry-After) beyond that
 * fails the sync at once instead of waiting, and is kept (in
 * OC_GRAPH_BUDGET_FILE) so that no later run sends a request before it.
 */
void oc_graph_set_deadline(struct oc_graph *g, int64_t seconds);

/*
 * Start the queued Graph requests whose time has come (a Retry-After or a
 * backoff passed, the budget refilled). Call it at least every second
 * while oc_graph_running().
 */
void oc_graph_tick(struct oc_graph *g);

/* When the next periodic sync or retry is due (INT64_MAX: none). */
int64_t oc_graph_next(const struct oc_graph *g);

bool oc_graph_running(const struct oc_graph *g);

/* Counts finished syncs (success or failure), for waiting clients. */
uint64_t oc_graph_generation(const struct oc_graph *g);

/* The last finished sync's error, or NULL when it succeeded. */
const char *oc_graph_last_error(const struct oc_graph *g);

/* Agents written by the last successful sync. */
size_t oc_graph_agents(const struct oc_graph *g);

/*
 * The anomaly response (on_anomaly = disable-service-principal): PATCH
 * servicePrincipals/{object_id} {"accountEnabled": false} with the
 * [directory] credential, then a sync. Queued (at most
 * OC_GRAPH_ANOMALY_QUEUE); the outcome is an audit record (event=sp-disable).
 * 0, -ENOSPC (queue full), -ENOTSUP (no [directory]).
 */
#define OC_GRAPH_ANOMALY_QUEUE 16
int oc_graph_disable_sp(struct oc_graph *g, const char *name, const char *object_id);

/* An anomaly response is queued or in flight. */
bool oc_graph_anomaly_busy(const struct oc_graph *g);

/* path holds an NSS cache of another format version than this release's
 * (an upgrade's): it must be written again. */
bool oc_graph_cache_other_format(const char *path);

/*
 * The host's splay: a stable offset in [0, interval) derived from
 * /etc/machine-id (the host name when it has none), so the hosts of a
 * fleet started together sync at different times, each at the same
 * time every interval. A sync is due when the last one is older than the
 * latest point now - ((now - offset) mod interval).
 */
uint32_t oc_graph_splay(uint32_t interval);

/* The "directory" member of the status answer. */
cJSON *oc_graph_status(const struct oc_graph *g, int64_t now);

#endif
