/* SPDX-License-Identifier: MIT */
/*
 * openclawd: the token helper daemon.
 *
 * Runs as the unprivileged user "openclaw" (never root unless
 * --allow-root, for tests), nothing setuid. One thread, one poll loop:
 * the listening socket, a signalfd and at most OC_CLIENTS_MAX clients.
 * Every client is identified by SO_PEERCRED right after accept(), before
 * a byte is read; each request type has a fixed rule for who may send it
 * (common/proto.c); anything else ends the connection. See docs/helper.md.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "clock.h"
#include "conf.h"
#include "directory.h"
#include "idmap.h"
#include "helper/daemon/oc_agentstate.h"
#include "helper/daemon/oc_decide.h"
#include "helper/creds/oc_fetch.h"
#include "helper/daemon/oc_mi.h"
#include "helper/daemon/oc_request.h"
#include "helper/daemon/oc_sshsign.h"
#include "helper/daemon/oc_store.h"
#include "helper/lib/oc_sweep.h"
#include "helper/daemon/oc_tokens.h"
#include "proto.h"
#include "util.h"

#define OC_CLIENTS_MAX        64      /* concurrent connections; more are closed at once */
#define OC_CLIENTS_ROOT       8       /* of those, kept for root (PAM, openclawctl) */
#define OC_CLIENTS_PER_UID    8       /* connections of one non-root uid at once */
#define OC_FIRST_FRAME        2       /* seconds for a new connection's first whole frame */
#define OC_ACCEPT_BATCH       64      /* connections accepted (or refused) per loop turn */
#define OC_ROOT_SOCKET_SUFFIX ".root" /* root's own socket next to the socket, 0600 */
#define OC_CLIENT_TIMEOUT     10      /* seconds a connection may stay idle or half-sent */
#define OC_REQUESTS_PER_CONN  64      /* requests on one connection */
#define OC_JWKS_MIN_INTERVAL  30      /* refresh-jwks at most this often (seconds) */
#define OC_JWKS_INTERVAL      86400   /* periodic JWKS refresh */
#define OC_JWKS_RETRY         60      /* after a failed JWKS refresh */
#define OC_OUTBUF_MAX         (OC_PROTO_HEADER + OC_PROTO_FRAME_MAX)
#define OC_LISTEN_BACKLOG     512

struct client {
    int fd;
    uint32_t uid;
    uint32_t gid;
    int32_t pid;
    int64_t deadline;
    unsigned requests;
    bool closing;       /* close once the output is flushed */
    ssize_t wait_entry; /* waiting for this token entry's request, or -1 */
    bool wait_jwks;     /* waiting for the JWKS request */
    bool wait_fresh;    /* get-token max_age: only a token of the request awaited will do */
    struct oc_proto_reader reader;
    uint8_t *out;
    size_t out_len;
    size_t out_off;
};

struct daemon {
    struct oc_config *config;
    struct oc_idmap_entry *ids;
    size_t n_ids;
    struct oc_fetch_ctx fetch;
    struct oc_tokens tokens;
    struct oc_store *store; /* NULL: tokens are not persisted */
    const char *jwks_dir;
    int64_t started;
    int64_t jwks_last_attempt;
    int64_t jwks_last_ok;
    int64_t jwks_next;
    bool jwks_in_flight;
    char jwks_error[OC_FETCH_ERR_MAX];
    const char *graph_state_dir;
    int listen_fd;
    int root_fd; /* root's own socket (socket + OC_ROOT_SOCKET_SUFFIX, 0600) */
    char root_path[OC_CONFIG_PATH_MAX + 8];
    int signal_fd;
    struct client clients[OC_CLIENTS_MAX];
    size_t n_clients;
    struct oc_agentstate agents; /* sessions and admin locks (oc_agentstate.h) */
    struct oc_decide decide;     /* the one decision point (oc_decide.h) */
    char dir_file[OC_CONFIG_PATH_MAX + 32];
    struct oc_mi *mi; /* managed-identity endpoint (oc_mi.h); NULL when off */
};

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    int n;

    /* One write per line: lines never interleave in the journal. */
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    fprintf(stderr, "openclawd: %s\n", line);
}

/*
 * The audit sink: one key=value record of common/audit.h per decision, to
 * syslog at LOG_AUTHPRIV under the ident openclawd (openlog in main), where
 * auth.log, the journal's authpriv and `openclawctl audit` read it. The
 * prose lines above stay on standard error (the daemon facility).
 */
static void audit_record(const struct oc_audit *a)
{
    char line[OC_AUDIT_LINE_MAX];
    int prio = strcmp(a->result, "success") == 0 ? LOG_INFO : LOG_NOTICE;

    if (strcmp(a->event, "anomaly") == 0 || strcmp(a->event, "sp-disable") == 0) {
        prio = LOG_WARNING;
    }
    (void)oc_audit_format(a, line, sizeof(line));
    syslog(LOG_AUTHPRIV | prio, "%s", line);
}

/* A record about agent name asked by client c (through the socket). */
static void audit_client(struct daemon *d, const struct client *c, const char *event,
                         const char *name, const char *result, const char *reason,
                         const char *detail)
{
    const struct oc_agent *ag = oc_config_agent_by_name(d->config, name);

    audit_record(&(const struct oc_audit){
            .event = event,
            .service = "openclawd",
            .user = name,
            .agent_app_id = ag != NULL ? ag->app_id : NULL,
            .agent_oid = ag != NULL ? ag->object_id : NULL,
            .result = result,
            .reason = reason,
            .via = "socket",
            .caller_uid = c->uid,
            .caller_pid = c->pid > 0 ? c->pid : -1,
            .detail = detail,
    });
}

/*
 * The daemon holds every agent's tokens and loads their keys: none of it
 * may reach a core file, another process of the same uid (ptrace,
 * /proc/PID/mem: not dumpable), or swap. Memory is locked when the limit
 * allows it (root, or LimitMEMLOCK=infinity as the shipped unit sets);
 * otherwise one line says so.
 */
static void harden_process(void)
{
    struct rlimit rl = {0, 0};

    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        logmsg("warning: cannot make the process non-dumpable: %s", strerror(errno));
    }
    /* EPERM under the unit's system call filter: its LimitCORE=0 holds there */
    (void)setrlimit(RLIMIT_CORE, &rl);
    if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || geteuid() == 0)) {
        if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0) {
            logmsg("memory not locked (%s): tokens may reach swap; allow mlockall "
                   "(SystemCallFilter=@memlock) or use encrypted swap",
                   strerror(errno));
        }
    } else {
        logmsg("memory not locked: RLIMIT_MEMLOCK is finite (the shipped unit sets "
               "LimitMEMLOCK=infinity); tokens may reach swap unless it is encrypted");
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: openclawd --config FILE --foreground [--state DIR] [--imds URL]\n"
            "                 [--no-token-store] [--arc URL] [--arc-token-dir DIR] [--allow-root]\n"
            "  --config FILE   openclaw.conf (default " OC_CONFIG_PATH ")\n"
            "  --foreground    run in the foreground, log to stderr (required)\n"
            "  --state DIR     state directory instead of state_dir (JWKS in DIR/jwks)\n"
            "  --imds URL      managed identity endpoint base (default: $IDENTITY_ENDPOINT\n"
            "                  base, $IMDS_ENDPOINT, else " OC_IMDS_DEFAULT ")\n"
            "  --no-token-store  keep tokens in memory only (no tokens.db)\n"
            "  --arc URL       Azure Arc identity endpoint base (default: $IDENTITY_ENDPOINT\n"
            "                  without its path, $IMDS_ENDPOINT, else " OC_ARC_DEFAULT ")\n"
            "  --arc-token-dir DIR  where Arc challenge key files must be (default\n"
            "                  " OC_ARC_TOKEN_DIR ")\n"
            "  --allow-root    run as root (tests only; production runs as user openclaw)\n");
}

/* ------------------------------------------------------------------ */
/* JWKS                                                               */
/* ------------------------------------------------------------------ */

static void jwks_failed(struct daemon *d, const struct oc_fetch_error *err)
{
    int64_t now = oc_now();

    oc_strscpy(d->jwks_error, sizeof(d->jwks_error), err->msg);
    d->jwks_next = now + (err->retry_after > OC_JWKS_RETRY ? err->retry_after : OC_JWKS_RETRY);
    logmsg("JWKS refresh failed: %s (PAM keeps using the cached file)", err->msg);
}

static void jwks_done(void *arg, struct oc_fetch_result *res);

/* Start a JWKS request unless one runs. */
static int jwks_start(struct daemon *d)
{
    struct oc_fetch_error err;
    int r;

    if (d->jwks_in_flight) {
        return 0;
    }
    d->jwks_last_attempt = oc_now();
    r = oc_fetch_jwks_start(&d->fetch, d->jwks_dir, jwks_done, d, &err);
    if (r < 0) {
        jwks_failed(d, &err);
        return r;
    }
    d->jwks_in_flight = true;
    d->jwks_next = INT64_MAX; /* set again on completion */
    return 0;
}

/* ------------------------------------------------------------------ */
/* Responses                                                          */
/* ------------------------------------------------------------------ */

static int client_send_json(struct client *c, cJSON *obj)
{
    char *s = cJSON_PrintUnformatted(obj);
    cJSON *tok = cJSON_GetObjectItemCaseSensitive(obj, "access_token");
    size_t len;
    uint8_t *p;

    /* The tree holds a copy of the token: wipe it before freeing. */
    if (cJSON_IsString(tok) && tok->valuestring != NULL) {
        oc_wipe(tok->valuestring, strlen(tok->valuestring));
    }
    cJSON_Delete(obj);
    if (s == NULL) {
        return -ENOMEM;
    }
    len = strlen(s);
    if (len > OC_PROTO_FRAME_MAX ||
        c->out_len - c->out_off + OC_PROTO_HEADER + len > OC_OUTBUF_MAX) {
        oc_free_wipe_str(s);
        return -EMSGSIZE;
    }
    p = malloc(c->out_len - c->out_off + OC_PROTO_HEADER + len);
    if (p == NULL) {
        oc_free_wipe_str(s);
        return -ENOMEM;
    }
    if (c->out != NULL) {
        memcpy(p, c->out + c->out_off, c->out_len - c->out_off);
        oc_free_wipe(c->out, c->out_len);
    }
    c->out_len -= c->out_off;
    c->out_off = 0;
    (void)oc_proto_header(p + c->out_len, len);
    memcpy(p + c->out_len + OC_PROTO_HEADER, s, len);
    c->out_len += OC_PROTO_HEADER + len;
    c->out = p;
    oc_free_wipe_str(s);
    return 0;
}

static int send_error(struct client *c, const char *code, const char *msg, int64_t retry_after)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddBoolToObject(o, "ok", 0);
    cJSON_AddStringToObject(o, "error", code);
    cJSON_AddStringToObject(o, "message", msg);
    if (retry_after >= 0) {
        cJSON_AddNumberToObject(o, "retry_after", (double)retry_after);
    }
    return client_send_json(c, o);
}

/* The agent index mapped to uid, or -1. */
static ssize_t agent_of_uid(const struct daemon *d, uint32_t uid)
{
    for (size_t i = 0; i < d->n_ids; i++) {
        if (d->ids[i].uid == uid) {
            return (ssize_t)d->ids[i].agent;
        }
    }
    return -1;
}

static ssize_t agent_of_name(const struct daemon *d, const char *name)
{
    for (size_t i = 0; i < d->config->n_agents; i++) {
        if (strcmp(d->config->agents[i].name, name) == 0) {
            return (ssize_t)i;
        }
    }
    return -1;
}

static const char *entry_state(const struct oc_token_entry *e, int64_t now)
{
    if (oc_tokens_valid(e, now) != NULL) {
        return e->last_error[0] != '\0' ? "stale" : "fresh";
    }
    return e->last_error[0] != '\0' ? "failing" : "none";
}

static cJSON *agent_status(const struct daemon *d, size_t a, int64_t now)
{
    const struct oc_agent *ag = &d->config->agents[a];
    const char *why = oc_agent_unusable(d->config, ag);
    cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();

    cJSON_AddStringToObject(o, "name", ag->name);
    cJSON_AddStringToObject(o, "credential", oc_credential_name(ag->credential));
    for (size_t i = 0; i < d->n_ids; i++) {
        if (d->ids[i].agent == a) {
            cJSON_AddNumberToObject(o, "uid", d->ids[i].uid);
        }
    }
    if (why != NULL) {
        cJSON_AddStringToObject(o, "unusable", why);
    }
    const char *key = oc_fetch_key_kind(&d->fetch, a);
    if (key != NULL) {
        cJSON_AddStringToObject(o, "key", key); /* "tpm" or "software" */
    }
    cJSON_AddNumberToObject(o, "sessions", d->agents.sessions[a]);
    cJSON_AddBoolToObject(o, "locked", d->agents.locked[a]);
    for (size_t i = 0; i < d->tokens.n; i++) {
        const struct oc_token_entry *e = &d->tokens.entries[i];
        cJSON *t;

        if (e->agent != a) {
            continue;
        }
        t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "scope", e->scope);
        cJSON_AddStringToObject(t, "state", entry_state(e, now));
        if (oc_tokens_valid(e, now) != NULL) {
            cJSON_AddNumberToObject(t, "expires_on", (double)e->token.expires_on);
            cJSON_AddNumberToObject(t, "refresh_at", (double)e->refresh_at);
        }
        cJSON_AddNumberToObject(t, "fetches", (double)e->fetches);
        cJSON_AddNumberToObject(t, "failures", e->failures);
        if (e->last_error[0] != '\0') {
            cJSON_AddStringToObject(t, "last_error", e->last_error);
            cJSON_AddNumberToObject(t, "next_attempt", (double)e->next_attempt);
        }
        cJSON_AddItemToArray(arr, t);
    }
    cJSON_AddItemToObject(o, "tokens", arr);
    return o;
}

/* The "directory" member of the status answer: root's openclaw-sync
 * syncs; the daemon reports the age of the file it reads. */
static cJSON *directory_status(const struct daemon *d, int64_t now)
{
    char path[OC_CONFIG_PATH_MAX + 32];
    cJSON *o = cJSON_CreateObject();
    struct stat st;

    cJSON_AddBoolToObject(o, "graph", d->config->directory != NULL);
    cJSON_AddStringToObject(o, "synced_by", "openclaw-sync");
    (void)snprintf(path, sizeof(path), "%s/%s", d->graph_state_dir, OC_DIR_FILE_NAME);
    if (stat(path, &st) == 0) {
        cJSON_AddNumberToObject(o, "last_sync", (double)st.st_mtime);
        cJSON_AddNumberToObject(o, "age", (double)(now - (int64_t)st.st_mtime));
    }
    return o;
}

static int do_status(struct daemon *d, struct client *c)
{
    int64_t now = oc_now();
    cJSON *o = cJSON_CreateObject(), *agents = cJSON_CreateArray(), *j = cJSON_CreateObject();
    ssize_t mine = agent_of_uid(d, c->uid);

    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddNumberToObject(o, "uptime", (double)(now - d->started));
    cJSON_AddStringToObject(j, "dir", d->jwks_dir);
    if (d->jwks_last_ok > 0) {
        cJSON_AddNumberToObject(j, "age", (double)(now - d->jwks_last_ok));
    }
    if (d->jwks_error[0] != '\0') {
        cJSON_AddStringToObject(j, "last_error", d->jwks_error);
    }
    cJSON_AddItemToObject(o, "jwks", j);
    cJSON_AddItemToObject(o, "discovery", oc_fetch_discovery_status(&d->fetch, now));
    cJSON_AddItemToObject(o, "directory", directory_status(d, now));
    /* the TPM as the daemon uses it: its TCTI, and whether a context is open
     * (opened on first use of a TPM credential) */
    cJSON *tpm = cJSON_AddObjectToObject(o, "tpm");
    if (tpm != NULL) {
        cJSON_AddStringToObject(tpm, "tcti", d->config->global.tcti);
        cJSON_AddBoolToObject(tpm, "open", d->fetch.tpm != NULL);
    }
    for (size_t a = 0; a < d->config->n_agents; a++) {
        if (c->uid == 0 || (mine >= 0 && (size_t)mine == a)) {
            cJSON_AddItemToArray(agents, agent_status(d, a, now));
        }
    }
    cJSON_AddItemToObject(o, "agents", agents);
    return client_send_json(c, o);
}

/* The answer to get-token for entry e: its token, or why there is none. */
static int reply_token(struct daemon *d, struct client *c, const struct oc_token_entry *e)
{
    int64_t now = oc_now();
    const char *tok = oc_tokens_valid(e, now);
    cJSON *o;

    if (c->wait_fresh) {
        /* max_age: the token held is too old and no new one came. */
        c->wait_fresh = false;
        return send_error(c, "unavailable",
                          e->last_error[0] != '\0'
                                  ? e->last_error
                                  : "the token held is older than max_age and a new one cannot "
                                    "be fetched now",
                          e->next_attempt > now ? e->next_attempt - now : 0);
    }
    if (tok == NULL) {
        return send_error(c, "unavailable",
                          e->last_error[0] != '\0' ? e->last_error : "no token yet",
                          e->next_attempt > now ? e->next_attempt - now : 0);
    }
    o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddStringToObject(o, "agent", d->config->agents[e->agent].name);
    cJSON_AddStringToObject(o, "scope", e->scope);
    cJSON_AddStringToObject(o, "token_type", "Bearer");
    cJSON_AddStringToObject(o, "access_token", tok);
    cJSON_AddNumberToObject(o, "expires_on", (double)e->token.expires_on);
    cJSON_AddBoolToObject(o, "stale", e->last_error[0] != '\0');
    return client_send_json(c, o);
}

static int reply_jwks(struct daemon *d, struct client *c)
{
    cJSON *o;

    if (d->jwks_error[0] != '\0') {
        return send_error(c, "unavailable", d->jwks_error, OC_JWKS_MIN_INTERVAL);
    }
    o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddBoolToObject(o, "refreshed", 1);
    return client_send_json(c, o);
}

static int do_get_token(struct daemon *d, struct client *c, const struct oc_request *req)
{
    const struct oc_agent *ag;
    struct oc_token_entry *e = NULL;
    char scope[OC_PROTO_SCOPE_MAX + 1];
    const char *why;
    int64_t now;
    ssize_t a;
    int r;

    if (c->uid == 0) {
        if (req->agent[0] == '\0') {
            c->closing = true;
            return send_error(c, "bad-request", "root must name the agent (\"agent\")", -1);
        }
        a = agent_of_name(d, req->agent);
    } else {
        a = agent_of_uid(d, c->uid);
        if (a < 0 ||
            (req->agent[0] != '\0' && strcmp(req->agent, d->config->agents[a].name) != 0)) {
            logmsg("denied: uid %u pid %d asked for a token of %s", c->uid, c->pid,
                   req->agent[0] != '\0' ? req->agent : "its agent (it has none)");
            oc_decide_refused(
                    &d->decide,
                    &(struct oc_issue){.path = OC_ISSUE_SOCKET_TOKEN,
                                       .uid = c->uid,
                                       .pid = c->pid,
                                       .scope = req->scope[0] != '\0' ? req->scope : NULL},
                    req->agent[0] != '\0' ? req->agent : NULL, "denied",
                    a < 0 ? "no agent is mapped to this uid" : "another agent's token asked for");
            c->closing = true;
            return send_error(c, "denied",
                              "this uid may get only the tokens of the agent mapped to it", -1);
        }
    }
    if (a < 0) {
        oc_decide_refused(&d->decide,
                          &(struct oc_issue){.path = OC_ISSUE_SOCKET_TOKEN,
                                             .uid = c->uid,
                                             .pid = c->pid,
                                             .scope = req->scope[0] != '\0' ? req->scope : NULL},
                          req->agent, "no-such-agent", NULL);
        c->closing = true;
        return send_error(c, "no-such-agent", "no such agent in openclaw.conf", -1);
    }
    ag = &d->config->agents[a];
    if (req->scope[0] != '\0') {
        oc_strscpy(scope, sizeof(scope), req->scope);
    } else if (oc_default_scope(d->config, ag, scope, sizeof(scope)) < 0) {
        return send_error(c, "no-scope", "no scope given and no default scope configured", -1);
    }
    if (c->uid == 0) {
        logmsg("audit: root (pid %d) requested the token of agent %s for %s", c->pid, ag->name,
               scope);
    }
    struct oc_issue is = {.path = OC_ISSUE_SOCKET_TOKEN,
                          .uid = c->uid,
                          .pid = c->pid,
                          .agent = (size_t)a,
                          .scope = scope};
    const char *code = NULL;
    if (oc_decide(&d->decide, &is, &code, &why) < 0) {
        c->closing = c->closing || strcmp(code, "denied") == 0;
        return send_error(c, code, why, -1);
    }
    why = oc_agent_unusable(d->config, ag);
    if (why != NULL) {
        return send_error(c, "unusable", why, -1);
    }
    r = oc_tokens_entry(&d->tokens, (size_t)a, scope, &e);
    if (r < 0) {
        return send_error(c, "busy", "too many distinct scopes cached", -1);
    }
    now = oc_now();
    /* max_age: a token obtained max_age seconds ago or earlier will not do;
     * a new one is fetched (waiters of a request in flight share it). */
    c->wait_fresh = req->max_age >= 0 && oc_tokens_valid(e, now) != NULL &&
                    e->obtained <= now - req->max_age;
    if (c->wait_fresh && !e->in_flight && e->next_attempt <= now) {
        (void)oc_tokens_start(&d->tokens, e);
    }
    if (oc_tokens_valid(e, now) == NULL && !e->in_flight && e->next_attempt <= now) {
        (void)oc_tokens_start(&d->tokens, e);
    }
    if ((oc_tokens_valid(e, now) == NULL || c->wait_fresh) && e->in_flight) {
        /* Answered when the request completes (one request, any number of waiters). */
        c->wait_entry = e - d->tokens.entries;
        c->deadline = now + OC_HTTP_TOTAL_TIMEOUT + OC_CLIENT_TIMEOUT;
        return 0;
    }
    return reply_token(d, c, e);
}

static int do_refresh_jwks(struct daemon *d, struct client *c)
{
    int64_t now = oc_now();
    cJSON *o;

    if (d->jwks_last_attempt != 0 && now - d->jwks_last_attempt < OC_JWKS_MIN_INTERVAL) {
        o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ok", 1);
        cJSON_AddBoolToObject(o, "refreshed", 0);
        cJSON_AddStringToObject(o, "reason", "rate-limited");
        cJSON_AddNumberToObject(o, "retry_after",
                                (double)(OC_JWKS_MIN_INTERVAL - (now - d->jwks_last_attempt)));
        return client_send_json(c, o);
    }
    logmsg("audit: uid %u pid %d asked for a JWKS refresh", c->uid, c->pid);
    if (jwks_start(d) < 0) {
        return reply_jwks(d, c);
    }
    c->wait_jwks = true;
    c->deadline = now + OC_HTTP_TOTAL_TIMEOUT + OC_CLIENT_TIMEOUT;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Sessions, admin locks, anomalies (root only; see docs/helper.md)   */
/* ------------------------------------------------------------------ */

/*
 * The environment of a new session of agent a, as NAME: value strings in
 * env. pam_openclaw exports each valid entry with pam_putenv (it accepts
 * names made of A-Z, 0-9 and _ under a few prefixes, see pam_openclaw(8)).
 * Add further variables here.
 */
static void session_env(struct daemon *d, size_t a, cJSON *env)
{
    cJSON_AddStringToObject(env, "OPENCLAW_SOCKET", d->config->global.socket);
    cJSON_AddStringToObject(env, "OPENCLAW_AGENT", d->config->agents[a].name);
    const char *mi_name = NULL;
    char mi_value[128];
    if (oc_mi_session_env(d->config, &mi_name, mi_value, sizeof(mi_value)) == 0) {
        /* the managed-identity endpoint, for an unmodified Azure SDK */
        cJSON_AddStringToObject(env, mi_name, mi_value);
    }
}

/* An agent with open sessions has its default-scope token kept fresh:
 * fetched now if there is none, then refreshed by oc_tokens_tick. */
static void prefetch_default(struct daemon *d, size_t a, int64_t now)
{
    const struct oc_agent *ag = &d->config->agents[a];
    struct oc_token_entry *e = NULL;
    char scope[OC_PROTO_SCOPE_MAX + 1];

    const char *code, *why;

    if (oc_agent_unusable(d->config, ag) != NULL ||
        oc_default_scope(d->config, ag, scope, sizeof(scope)) < 0 ||
        oc_decide(&d->decide,
                  &(struct oc_issue){.path = OC_ISSUE_PREFETCH, .agent = a, .scope = scope}, &code,
                  &why) < 0 ||
        oc_tokens_entry(&d->tokens, a, scope, &e) < 0) {
        return;
    }
    if (oc_tokens_valid(e, now) == NULL && !e->in_flight && e->next_attempt <= now) {
        (void)oc_tokens_start(&d->tokens, e);
    }
}

static void sessions_keep_fresh(struct daemon *d, int64_t now)
{
    for (size_t a = 0; a < d->agents.n; a++) {
        if (d->agents.sessions[a] > 0) {
            prefetch_default(d, a, now);
        }
    }
}

/* The event= of an agent request's record. */
static const char *audit_event(enum oc_proto_type type)
{
    switch (type) {
    case OC_REQ_SESSION_OPEN:
        return "session-open";
    case OC_REQ_SESSION_CLOSE:
        return "session-close";
    case OC_REQ_AGENT_LOCK:
        return "lock";
    case OC_REQ_AGENT_UNLOCK:
        return "unlock";
    default:
        return "-";
    }
}

static int do_agent_request(struct daemon *d, struct client *c, const struct oc_request *req)
{
    char detail[OC_CONFIG_PATH_MAX + 96];
    ssize_t a = agent_of_name(d, req->agent);
    cJSON *o, *env;
    uint32_t n;
    int r;

    if (a < 0) {
        logmsg("uid %u pid %d: %s for %s, which is not a configured agent", c->uid, c->pid,
               req->def->name, req->agent);
        audit_client(d, c, audit_event(req->def->type), req->agent, "failure", "no-such-agent",
                     NULL);
        c->closing = true;
        return send_error(c, "no-such-agent", "no such agent in openclaw.conf", -1);
    }
    o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddStringToObject(o, "agent", req->agent);
    switch (req->def->type) {
    case OC_REQ_SESSION_OPEN:
        n = oc_agentstate_session(&d->agents, (size_t)a, +1);
        logmsg("audit: session opened for agent %s (pid %d; %u open)", req->agent, c->pid, n);
        (void)snprintf(detail, sizeof(detail), "%u open", n);
        audit_client(d, c, "session-open", req->agent, "success", "ok", detail);
        prefetch_default(d, (size_t)a, oc_now());
        cJSON_AddNumberToObject(o, "sessions", n);
        env = cJSON_AddObjectToObject(o, "env");
        if (env != NULL) {
            session_env(d, (size_t)a, env);
        }
        break;
    case OC_REQ_SESSION_CLOSE:
        if (d->agents.sessions[a] == 0) {
            logmsg("session-close for agent %s without an open session (openclawd restarted?)",
                   req->agent);
        }
        n = oc_agentstate_session(&d->agents, (size_t)a, -1);
        logmsg("audit: session closed for agent %s (pid %d; %u open)", req->agent, c->pid, n);
        (void)snprintf(detail, sizeof(detail), "%u open", n);
        audit_client(d, c, "session-close", req->agent, "success", "ok", detail);
        cJSON_AddNumberToObject(o, "sessions", n);
        break;
    case OC_REQ_AGENT_LOCK:
    case OC_REQ_AGENT_UNLOCK: {
        bool lock = req->def->type == OC_REQ_AGENT_LOCK;
        bool was = d->agents.locked[a];
        r = oc_agentstate_set_locked(&d->agents, d->config, (size_t)a, lock);
        logmsg("audit: root (pid %d) %s agent %s%s", c->pid, lock ? "locked" : "unlocked",
               req->agent, was == lock ? " (no change)" : "");
        if (r < 0) {
            logmsg("cannot write %s: %s; the %s holds until openclawd restarts",
                   d->agents.lock_file, strerror(-r), lock ? "lock" : "unlock");
        }
        (void)snprintf(detail, sizeof(detail), "%s%s%s%s", was == lock ? "no change" : "",
                       was == lock && r < 0 ? "; " : "", r < 0 ? "not written to " : "",
                       r < 0 ? d->agents.lock_file : "");
        audit_client(d, c, lock ? "lock" : "unlock", req->agent, "success", "admin",
                     detail[0] != '\0' ? detail : NULL);
        cJSON_AddBoolToObject(o, "locked", lock);
        cJSON_AddBoolToObject(o, "persisted", r == 0);
        break;
    }
    default:
        cJSON_Delete(o);
        return -EPROTO;
    }
    return client_send_json(c, o);
}

/* The directory, its NSS cache and the keys are root's, synced by
 * openclaw-sync (docs/security.md, "The trust boundary"): the daemon
 * account syncs nothing that root trusts. */
static int do_cache_rebuild(struct daemon *d, struct client *c)
{
    (void)d;
    return send_error(c, "unavailable",
                      "the directory is synced by openclaw-sync, as root: run openclawctl cache "
                      "sync (or systemctl start openclaw-sync)",
                      -1);
}

/*
 * anomaly {agent}: an agent was locked out (PAM, as root). Always one
 * audit line; with on_anomaly = disable-service-principal its service
 * principal is disabled through Graph by root's openclaw-sync, on
 * pam_openclaw's request (trust_dir/anomalies): not here.
 */
static int do_anomaly(struct daemon *d, struct client *c, const struct oc_request *req)
{
    const struct oc_directory *dir = d->config->directory;
    const struct oc_agent *a;
    struct oc_dir *data = NULL;
    const struct oc_dir_agent *e = NULL;
    char oid[OC_GUID_SIZE] = "", path[OC_CONFIG_PATH_MAX + 32];
    bool act = dir != NULL && dir->on_anomaly == OC_ANOMALY_DISABLE_SP;
    cJSON *o;
    int r;

    if (req->agent[0] == '\0') {
        c->closing = true;
        return send_error(c, "bad-request", "anomaly needs the agent (\"agent\")", -1);
    }
    a = oc_config_agent_by_name(d->config, req->agent);
    if (a != NULL) {
        oc_strscpy(oid, sizeof(oid), a->object_id);
    } else if (dir != NULL) {
        (void)snprintf(path, sizeof(path), "%s/%s", d->graph_state_dir, OC_DIR_FILE_NAME);
        if (oc_dir_load_file(path, d->config->global.uid_min, d->config->global.uid_max, &data,
                             NULL) == 0 &&
            (e = oc_dir_by_name(data, req->agent)) != NULL) {
            oc_strscpy(oid, sizeof(oid), e->object_id);
        }
        oc_dir_free(data);
    }
    logmsg("audit: anomaly: uid %u pid %d reports agent %s locked out (object id %s); "
           "on_anomaly = %s",
           c->uid, c->pid, req->agent, oid[0] != '\0' ? oid : "unknown",
           act ? "disable-service-principal" : "none");
    if (oid[0] == '\0') {
        audit_client(d, c, "anomaly", req->agent, "failure", "no-such-agent",
                     "not in the config or the directory data: nothing done");
        c->closing = true;
        return send_error(c, "no-such-agent", "no such agent in the config or directory data", -1);
    }
    ssize_t ai = agent_of_name(d, req->agent);
    if (ai >= 0) {
        /* Held for the decision point (oc_decide.h) until agent-unlock or
         * the longest unlock_time: no token or signature while locked out. */
        oc_decide_lockout(&d->decide, (size_t)ai, oc_now());
    }
    /* The tenant-wide response is root's: pam_openclaw asked openclaw-sync,
     * which holds the [directory] credential; the daemon account never does
     * (docs/security.md, "The trust boundary"). */
    (void)r;
    (void)snprintf(path, sizeof(path), "object id %s; on_anomaly = %s", oid,
                   !act ? "none: the service principal is not disabled"
                        : "disable-service-principal: openclaw-sync (root) disables the service "
                          "principal");
    audit_client(d, c, "anomaly", req->agent, "success", "lockout", path);
    o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddStringToObject(o, "action", act ? "disable-service-principal" : "none");
    return client_send_json(c, o);
}

/* ssh-identities and ssh-sign (helper/daemon/oc_sshsign.c, docs/ssh.md). */
static int do_ssh(struct daemon *d, struct client *c, const struct oc_request *req)
{
    ssize_t a = c->uid == 0 ? -1 : agent_of_uid(d, c->uid);
    bool close_after = false;
    cJSON *o = req->def->type == OC_REQ_SSH_SIGN
                       ? oc_sshsign_sign(&d->fetch, &d->decide, a, c->uid, c->pid, &req->ssh,
                                         logmsg, &close_after)
                       : oc_sshsign_identities(&d->fetch, a, c->uid, c->pid, logmsg);

    if (o == NULL) {
        return -ENOMEM;
    }
    c->closing = c->closing || close_after;
    return client_send_json(c, o);
}

/* One complete frame. A negative return ends the connection at once. */
static int handle_frame(struct daemon *d, struct client *c, const uint8_t *body, size_t len)
{
    struct oc_request req;
    const char *why = NULL;
    cJSON *o;

    if (oc_request_parse((const char *)body, len, &req, &why) < 0) {
        logmsg("uid %u pid %d: bad request (%s); connection closed", c->uid, c->pid,
               why != NULL ? why : "?");
        return -EPROTO;
    }
    if (!oc_proto_peer_may_send(req.def, c->uid) || (req.max_age >= 0 && c->uid != 0)) {
        logmsg("uid %u pid %d: %s%s is not allowed for this uid; connection closed", c->uid, c->pid,
               req.def->name, req.max_age >= 0 ? " with max_age" : "");
        return -EPERM;
    }
    if (++c->requests >= OC_REQUESTS_PER_CONN) {
        c->closing = true;
    }
    switch (req.def->type) {
    case OC_REQ_PING:
        o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "ok", 1);
        cJSON_AddStringToObject(o, "pong", PACKAGE_VERSION);
        return client_send_json(c, o);
    case OC_REQ_STATUS:
        return do_status(d, c);
    case OC_REQ_GET_TOKEN:
        return do_get_token(d, c, &req);
    case OC_REQ_REFRESH_JWKS:
        return do_refresh_jwks(d, c);
    case OC_REQ_SESSION_OPEN:
    case OC_REQ_SESSION_CLOSE:
    case OC_REQ_AGENT_LOCK:
    case OC_REQ_AGENT_UNLOCK:
        return do_agent_request(d, c, &req);
    case OC_REQ_CACHE_REBUILD:
        return do_cache_rebuild(d, c);
    case OC_REQ_ANOMALY:
        return do_anomaly(d, c, &req);
    case OC_REQ_SSH_IDENTITIES:
    case OC_REQ_SSH_SIGN:
        return do_ssh(d, c, &req);
    case OC_REQ_INVALID:
        break;
    }
    return -EPROTO;
}

/* ------------------------------------------------------------------ */
/* Connections                                                        */
/* ------------------------------------------------------------------ */

static void client_close(struct daemon *d, size_t i)
{
    struct client *c = &d->clients[i];

    close(c->fd);
    oc_proto_reader_reset(&c->reader);
    if (c->out != NULL) {
        oc_free_wipe(c->out, c->out_len);
    }
    d->clients[i] = d->clients[d->n_clients - 1];
    d->n_clients--;
}

/*
 * A local flood must not lock anybody else out: one non-root uid holds at
 * most OC_CLIENTS_PER_UID connections, all non-root uids together leave
 * OC_CLIENTS_ROOT slots to root (pam_openclaw, openclawctl), and a new
 * connection has OC_FIRST_FRAME seconds for its first frame. Connections
 * over a limit are accepted and closed at once, so the listen backlog
 * never fills up. Refusals are logged at most once a second, with a count.
 */
static bool client_slot_free(const struct daemon *d, uint32_t uid)
{
    size_t mine = 0;

    if (uid == 0) {
        return d->n_clients < OC_CLIENTS_MAX;
    }
    for (size_t i = 0; i < d->n_clients; i++) {
        mine += d->clients[i].uid == uid;
    }
    return mine < OC_CLIENTS_PER_UID && d->n_clients < OC_CLIENTS_MAX - OC_CLIENTS_ROOT;
}

/* Accept one connection on fd (root_only: the root socket); false when
 * none was pending. */
static bool accept_one(struct daemon *d, int lfd, bool root_only)
{
    static int64_t last_log;
    static unsigned refused;
    struct ucred cred;
    socklen_t sl = sizeof(cred);
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    struct client *c;
    int64_t now = oc_now();

    if (fd < 0) {
        return false;
    }
    /* The peer is known before any byte of it is read. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) < 0 || sl != sizeof(cred)) {
        close(fd);
        return true;
    }
    if (root_only && cred.uid != 0) {
        close(fd); /* only the daemon's own uid could reach it at all */
        return true;
    }
    if (!client_slot_free(d, cred.uid)) {
        close(fd);
        refused++;
        if (now != last_log) {
            logmsg("connection limit: refused %u connection(s), the last from uid %u pid %d "
                   "(%d per uid, %d kept for root, %d in all)",
                   refused, cred.uid, cred.pid, OC_CLIENTS_PER_UID, OC_CLIENTS_ROOT,
                   OC_CLIENTS_MAX);
            last_log = now;
            refused = 0;
        }
        return true;
    }
    c = &d->clients[d->n_clients++];
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->uid = cred.uid;
    c->gid = cred.gid;
    c->pid = cred.pid;
    c->wait_entry = -1;
    c->deadline = now + OC_FIRST_FRAME;
    oc_proto_reader_init(&c->reader);
    return true;
}

/* Returns -1 when the connection must end. */
static int client_read(struct daemon *d, struct client *c)
{
    uint8_t buf[4096];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    size_t off = 0;

    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return 0;
    }
    if (n <= 0) {
        return -1;
    }
    while (off < (size_t)n && !c->closing && c->wait_entry < 0 && !c->wait_jwks) {
        uint8_t *body = NULL;
        size_t used = 0, len = 0;
        int r = oc_proto_reader_feed(&c->reader, buf + off, (size_t)n - off, &used, &body, &len);

        off += used;
        if (r < 0) {
            logmsg("uid %u pid %d: %s; connection closed", c->uid, c->pid,
                   r == -EMSGSIZE ? "frame length 0 or over the 64 KiB cap" : strerror(-r));
            oc_wipe(buf, sizeof(buf));
            return -1;
        }
        if (r == 1) {
            r = handle_frame(d, c, body, len);
            oc_free_wipe(body, len + 1);
            if (r < 0) {
                oc_wipe(buf, sizeof(buf));
                return -1;
            }
            if (c->wait_entry < 0 && !c->wait_jwks) {
                c->deadline = oc_now() + OC_CLIENT_TIMEOUT;
            }
        }
    }
    oc_wipe(buf, sizeof(buf));
    /* One request at a time: bytes after a request that waits end the connection. */
    return off < (size_t)n ? -1 : 0;
}

static int client_flush(struct client *c)
{
    int r = oc_send_pending(c->fd, c->out, c->out_len, &c->out_off);

    if (r <= 0) {
        return r;
    }
    if (c->out != NULL) {
        oc_free_wipe(c->out, c->out_len);
        c->out = NULL;
        c->out_len = c->out_off = 0;
    }
    return c->closing ? -1 : 0;
}

static int listen_socket(const char *path, mode_t mode)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;
    int fd;

    if (oc_strscpy(sa.sun_path, sizeof(sa.sun_path), path) < 0) {
        logmsg("socket path too long: %s", path);
        return -ENAMETOOLONG;
    }
    /* Remove a stale socket of a previous run, never anything else. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            logmsg("%s exists and is not a socket; refusing to replace it", path);
            return -EEXIST;
        }
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, mode) < 0 ||
        listen(fd, OC_LISTEN_BACKLOG) < 0) {
        int e = -errno;
        logmsg("cannot listen on %s: %s", path, strerror(-e));
        close(fd);
        return e;
    }
    return fd;
}

/* The JWKS job ended: record it and answer the clients waiting for it. */
static void jwks_done(void *arg, struct oc_fetch_result *res)
{
    struct daemon *d = arg;

    if (res->cancelled) {
        return;
    }
    d->jwks_in_flight = false;
    if (res->result < 0) {
        jwks_failed(d, &res->err);
    } else {
        d->jwks_error[0] = '\0';
        d->jwks_last_ok = oc_now();
        d->jwks_next = d->jwks_last_ok + OC_JWKS_INTERVAL;
        logmsg("JWKS written to %s/keys.json", d->jwks_dir);
    }
    for (size_t i = 0; i < d->n_clients; i++) {
        struct client *c = &d->clients[i];
        if (c->wait_jwks) {
            c->wait_jwks = false;
            c->deadline = oc_now() + OC_CLIENT_TIMEOUT;
            if (reply_jwks(d, c) < 0) {
                c->closing = true;
            }
        }
    }
}

/* Token entry idx's job ended (oc_tokens recorded it): answer the
 * clients waiting for it. */
static void token_done(void *arg, size_t idx, const struct oc_fetch_result *res)
{
    struct daemon *d = arg;

    oc_mi_token_done(d->mi, idx);
    for (size_t i = 0; i < d->n_clients; i++) {
        struct client *c = &d->clients[i];
        if (c->wait_entry >= 0 && (size_t)c->wait_entry == idx) {
            c->wait_entry = -1;
            c->deadline = oc_now() + OC_CLIENT_TIMEOUT;
            if (res->result == 0) {
                c->wait_fresh = false; /* this is the new token it waited for */
            }
            if (reply_token(d, c, &d->tokens.entries[idx]) < 0) {
                c->closing = true;
            }
            c->wait_fresh = false;
        }
    }
}

static int run(struct daemon *d)
{
    struct curl_waitfd pfd[3 + OC_CLIENTS_MAX + OC_MI_POLLFDS_MAX];

    for (;;) {
        int64_t now = oc_now(), wait;
        size_t n = 0, mi_at;
        unsigned mi_n;

        /* Timeouts of idle or slow clients. */
        for (size_t i = 0; i < d->n_clients;) {
            if (d->clients[i].deadline <= now) {
                client_close(d, i);
            } else {
                i++;
            }
        }
        sessions_keep_fresh(d, now);
        wait = oc_tokens_tick(&d->tokens, now, OC_CLIENT_TIMEOUT);
        now = oc_now();
        if (d->jwks_next <= now) {
            (void)jwks_start(d);
        }
        if (d->jwks_next - now < wait) {
            wait = d->jwks_next - now;
        }
        if (wait < 0) {
            wait = 0;
        }
        pfd[n++] = (struct curl_waitfd){.fd = d->signal_fd, .events = CURL_WAIT_POLLIN};
        pfd[n++] = (struct curl_waitfd){.fd = d->listen_fd, .events = CURL_WAIT_POLLIN};
        pfd[n++] = (struct curl_waitfd){.fd = d->root_fd, .events = CURL_WAIT_POLLIN};
        /* POLLIN always: libcurl does not report POLLHUP, and a peer that
         * closed must not make the loop spin. */
        for (size_t i = 0; i < d->n_clients; i++) {
            struct client *c = &d->clients[i];
            pfd[n++] = (struct curl_waitfd){
                    .fd = c->fd,
                    .events = (short)(CURL_WAIT_POLLIN |
                                      (c->out_off < c->out_len ? CURL_WAIT_POLLOUT : 0))};
            if (c->deadline - now < wait) {
                wait = c->deadline - now > 0 ? c->deadline - now : 0;
            }
        }
        mi_at = n;
        mi_n = oc_mi_pollfds(d->mi, pfd + n, now, &wait);
        n += mi_n;
        if (oc_fetch_wait(&d->fetch, pfd, (unsigned)n, (int)(wait * 1000 + (wait == 0 ? 50 : 0))) <
            0) {
            logmsg("curl_multi_poll failed");
            return -EIO;
        }
        oc_fetch_dispatch(&d->fetch);         /* jwks_done, token_done */
        oc_store_flush(d->store, &d->tokens); /* at most one write per iteration */
        if (pfd[0].revents & CURL_WAIT_POLLIN) {
            struct signalfd_siginfo si;
            if (read(d->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                    logmsg("SIGHUP: reloading is not supported; restart openclawd to apply a "
                           "new configuration");
                } else {
                    logmsg("signal %u: exiting", si.ssi_signo);
                    return 0;
                }
            }
        }
        /* Clients (indices match pfd), from the end: closing moves the last one. */
        for (size_t i = d->n_clients; i-- > 0;) {
            struct client *c = &d->clients[i];
            short re = pfd[3 + i].revents;
            bool drop = false;

            if (re & CURL_WAIT_POLLIN) {
                /* A client that waits or is being closed sends nothing more:
                 * readable means it hung up or broke the one-request rule. */
                drop = c->closing || c->wait_entry >= 0 || c->wait_jwks || client_read(d, c) < 0;
            }
            if (!drop && (c->out_off < c->out_len || c->closing) && c->wait_entry < 0 &&
                !c->wait_jwks) {
                drop = client_flush(c) < 0;
            }
            if (drop) {
                client_close(d, i);
            }
        }
        oc_mi_handle(d->mi, pfd + mi_at, mi_n);
        /* root's socket first: no flood of the other one can delay it */
        if (pfd[2].revents & CURL_WAIT_POLLIN) {
            for (unsigned k = 0; k < OC_ACCEPT_BATCH && accept_one(d, d->root_fd, true); k++) {
            }
        }
        if (pfd[1].revents & CURL_WAIT_POLLIN) {
            for (unsigned k = 0; k < OC_ACCEPT_BATCH && accept_one(d, d->listen_fd, false); k++) {
            }
        }
    }
}

static const char *imds_from_env(void)
{
    /* App Service style: IDENTITY_ENDPOINT is the full token URL; we want its origin. */
    static char base[OC_CONFIG_PATH_MAX];
    const char *s = getenv("IMDS_ENDPOINT");

    if (s != NULL && *s != '\0' && oc_strscpy(base, sizeof(base), s) == 0) {
        size_t n = strlen(base);
        while (n > 0 && base[n - 1] == '/') {
            base[--n] = '\0';
        }
        return base;
    }
    s = getenv("IDENTITY_ENDPOINT");
    if (s != NULL && *s != '\0' && oc_strscpy(base, sizeof(base), s) == 0) {
        char *p = strstr(base, "://");
        if (p != NULL && (p = strchr(p + 3, '/')) != NULL) {
            *p = '\0';
        }
        return base;
    }
    return OC_IMDS_DEFAULT;
}

/* The Azure Arc endpoint base: the Connected Machine agent sets
 * IDENTITY_ENDPOINT to its full token URL and IMDS_ENDPOINT to its origin. */
static const char *arc_from_env(void)
{
    static const char path[] = "/metadata/identity/oauth2/token";
    static char base[OC_CONFIG_PATH_MAX];
    const char *s = getenv("IDENTITY_ENDPOINT");
    size_t n;

    if (s != NULL && *s != '\0' && oc_strscpy(base, sizeof(base), s) == 0) {
        n = strlen(base);
        if (n >= sizeof(path) - 1 && strcmp(base + n - (sizeof(path) - 1), path) == 0) {
            base[n - (sizeof(path) - 1)] = '\0';
        } else {
            char *p = strstr(base, "://");
            if (p != NULL && (p = strchr(p + 3, '/')) != NULL) {
                *p = '\0';
            }
        }
        return base;
    }
    s = getenv("IMDS_ENDPOINT");
    if (s != NULL && *s != '\0' && oc_strscpy(base, sizeof(base), s) == 0) {
        n = strlen(base);
        while (n > 0 && base[n - 1] == '/') {
            base[--n] = '\0';
        }
        return base;
    }
    return OC_ARC_DEFAULT;
}

/* openclawd's command line. */
struct options {
    const char *config_path, *state, *imds, *arc, *arc_dir;
    bool foreground, allow_root, token_store;
};

/* -1: go on; else the exit status (usage printed). */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"foreground", no_argument, NULL, 'f'},
            {"state", required_argument, NULL, 's'},
            {"imds", required_argument, NULL, 'i'},
            {"arc", required_argument, NULL, 'a'},
            {"arc-token-dir", required_argument, NULL, 'A'},
            {"allow-root", no_argument, NULL, 'R'},
            {"no-token-store", no_argument, NULL, 'N'}, /* tokens in memory only */
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    int opt;

    *o = (struct options){
            .config_path = OC_CONFIG_PATH, .arc_dir = OC_ARC_TOKEN_DIR, .token_store = true};
    while ((opt = getopt_long(argc, argv, "c:fs:i:a:A:RNh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            o->config_path = optarg;
            break;
        case 'f':
            o->foreground = true;
            break;
        case 's':
            o->state = optarg;
            break;
        case 'i':
            o->imds = optarg;
            break;
        case 'a':
            o->arc = optarg;
            break;
        case 'A':
            o->arc_dir = optarg;
            break;
        case 'R':
            o->allow_root = true;
            break;
        case 'N':
            o->token_store = false;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || !o->foreground) {
        usage(stderr);
        if (!o->foreground) {
            fprintf(stderr, "openclawd: --foreground is required (the service manager runs "
                            "openclawd; it never forks itself)\n");
        }
        return 2;
    }
    return -1;
}

/* The config, the agents' uids and their locks. 0; 2: no usable config
 * (nothing held); 1: the locks cannot be read (logged). */
static int load_config(struct daemon *d, const struct options *o)
{
    struct oc_config_error cerr;
    char errbuf[1024];
    int r = oc_config_load(o->config_path, 0, &d->config, &cerr);

    if (r < 0) {
        oc_config_error_format(&cerr, errbuf, sizeof(errbuf));
        logmsg("%s", errbuf);
        return 2;
    }
    r = oc_idmap_assign(d->config, &d->ids, &d->n_ids, errbuf, sizeof(errbuf));
    if (r < 0) {
        logmsg("%s", errbuf);
        oc_config_free(d->config);
        d->config = NULL;
        return 2;
    }
    for (size_t i = 0; i < d->config->n_agents; i++) {
        const char *why = oc_agent_unusable(d->config, &d->config->agents[i]);
        if (why != NULL) {
            logmsg("agent %s: no tokens: %s", d->config->agents[i].name, why);
        } else if (d->config->agents[i].credential == OC_CRED_SECRET_FILE) {
            logmsg("agent %s: WARNING: insecure credential secret-file in use "
                   "(allow_insecure_credentials = yes)",
                   d->config->agents[i].name);
        }
    }
    r = oc_agentstate_init(&d->agents, d->config,
                           o->state != NULL ? o->state : d->config->global.state_dir, errbuf,
                           sizeof(errbuf));
    if (r < 0) {
        logmsg("cannot read the agent locks: %s (fix or remove the file; openclawd does not "
               "start rather than forget a lock)",
               errbuf);
        return 1;
    }
    for (size_t i = 0; i < d->config->n_agents; i++) {
        if (d->agents.locked[i]) {
            logmsg("agent %s is locked (%s): no tokens until openclawctl agent unlock %s",
                   d->config->agents[i].name, d->agents.lock_file, d->config->agents[i].name);
        }
    }
    return 0;
}

/* The token fetcher (its Arc and IMDS addresses) and the token cache,
 * loaded from the store. 0 or -1 (logged). */
static int setup_tokens(struct daemon *d, const struct options *o, const char *state_dir)
{
    static char arc_base[OC_CONFIG_PATH_MAX], arc_tokens[OC_CONFIG_PATH_MAX];

    if (oc_fetch_init(&d->fetch, d->config, o->imds != NULL ? o->imds : imds_from_env()) < 0) {
        logmsg("out of memory");
        return -1;
    }
    if (oc_strscpy(arc_base, sizeof(arc_base), o->arc != NULL ? o->arc : arc_from_env()) < 0 ||
        oc_strscpy(arc_tokens, sizeof(arc_tokens), o->arc_dir) < 0 || arc_tokens[0] != '/') {
        logmsg("--arc and --arc-token-dir: an URL and an absolute directory, each at most %d "
               "bytes",
               OC_CONFIG_PATH_MAX - 1);
        return -1;
    }
    for (size_t n = strlen(arc_base); n > 0 && arc_base[n - 1] == '/';) {
        arc_base[--n] = '\0';
    }
    for (size_t n = strlen(arc_tokens); n > 1 && arc_tokens[n - 1] == '/';) {
        arc_tokens[--n] = '\0';
    }
    oc_fetch_set_arc(&d->fetch, arc_base, arc_tokens);
    oc_tokens_init(&d->tokens, &d->fetch, token_done, d);
    if (o->token_store) {
        oc_store_open(d->config, state_dir, &d->store);
        oc_store_load(d->store, &d->tokens);
    } else {
        logmsg("--no-token-store: tokens are kept in memory only");
    }
    return 0;
}

/* Signals through a signalfd, the main and root sockets, and the sweep of
 * temporary files a killed predecessor was writing (never those readers
 * use). 0 or -1 (logged). */
static int setup_io(struct daemon *d, const char *state_dir)
{
    static const char *const jwks_names[] = {"keys.json", "openid-configuration.json"};
    static const char *const state_names[] = {"tokens.db", "locked-agents"};
    sigset_t mask;
    size_t swept;

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    d->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (d->signal_fd < 0) {
        logmsg("signalfd: %s", strerror(errno));
        return -1;
    }
    d->listen_fd = listen_socket(d->config->global.socket, 0666);
    if (d->listen_fd < 0) {
        return -1;
    }
    (void)snprintf(d->root_path, sizeof(d->root_path), "%s%s", d->config->global.socket,
                   OC_ROOT_SOCKET_SUFFIX);
    d->root_fd = listen_socket(d->root_path, 0600);
    if (d->root_fd < 0) {
        logmsg("no root socket %s: root and pam_openclaw share the main socket (and its "
               "limits)",
               d->root_path);
    }
    swept = oc_sweep_temp(d->jwks_dir, jwks_names, 2) + oc_sweep_temp(state_dir, state_names, 2);
    if (swept > 0) {
        logmsg("removed %zu temporary file(s) left by an earlier run", swept);
    }
    return 0;
}

static void daemon_free(struct daemon *d)
{
    while (d->n_clients > 0) {
        client_close(d, d->n_clients - 1);
    }
    if (d->listen_fd >= 0) {
        close(d->listen_fd);
        unlink(d->config->global.socket);
    }
    if (d->root_fd >= 0) {
        close(d->root_fd);
        unlink(d->root_path);
    }
    if (d->signal_fd >= 0) {
        close(d->signal_fd);
    }
    oc_store_flush(d->store, &d->tokens);
    oc_store_close(d->store);
    oc_mi_close(d->mi);
    oc_tokens_free(&d->tokens);
    oc_fetch_done(&d->fetch); /* no-op when it was never set up */
    oc_decide_free(&d->decide);
    oc_agentstate_free(&d->agents);
    free(d->ids);
    oc_config_free(d->config);
}

int main(int argc, char **argv)
{
    static struct daemon d;
    struct options o;
    char jwks_dir[OC_CONFIG_PATH_MAX + 8];
    const char *state_dir;
    int rc;

    d.listen_fd = -1;
    d.root_fd = -1;
    d.signal_fd = -1;
    rc = parse_args(argc, argv, &o);
    if (rc >= 0) {
        return rc;
    }
    harden_process();
    openlog("openclawd", LOG_PID, LOG_AUTHPRIV);
    if (geteuid() == 0 && !o.allow_root) {
        logmsg("refusing to run as root: run as the user openclaw (see openclawd(8)); "
               "--allow-root exists for tests only");
        return 2;
    }
    rc = load_config(&d, &o);
    if (rc == 2) {
        return rc;
    }
    if (rc != 0) {
        goto out;
    }
    rc = 1;
    state_dir = o.state != NULL ? o.state : d.config->global.state_dir;
    /* The daemon's own copy of discovery and keys (its token endpoint, its
     * status), never the config's jwks_dir: the keys pam_openclaw trusts
     * are root's, written by openclaw-sync (docs/security.md). */
    snprintf(jwks_dir, sizeof(jwks_dir), "%s/jwks", state_dir);
    d.jwks_dir = jwks_dir;
    /* root's directory data (openclaw-sync writes it; the daemon reads it) */
    d.graph_state_dir = d.config->global.trust_dir;
    if (setup_tokens(&d, &o, state_dir) < 0 || setup_io(&d, state_dir) < 0) {
        goto out;
    }
    if (d.config->directory != NULL) {
        (void)snprintf(d.dir_file, sizeof(d.dir_file), "%s/%s", d.graph_state_dir,
                       OC_DIR_FILE_NAME);
    }
    d.decide = (struct oc_decide){.config = d.config,
                                  .agents = &d.agents,
                                  .dir_file = d.dir_file[0] != '\0' ? d.dir_file : NULL,
                                  .log = logmsg,
                                  .audit = audit_record};
    if (oc_mi_open(d.config, d.ids, d.n_ids, &d.tokens, &d.decide, logmsg, &d.mi) < 0) {
        goto out;
    }
    d.started = oc_now();
    logmsg("listening on %s (%zu agents, JWKS in %s)", d.config->global.socket, d.config->n_agents,
           d.jwks_dir);
    (void)jwks_start(&d);
    rc = run(&d) < 0 ? 1 : 0;
out:
    daemon_free(&d);
    closelog();
    return rc;
}
