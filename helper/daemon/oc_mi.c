/* SPDX-License-Identifier: MIT */
/* oc_mi.c: the managed-identity-compatible endpoint of openclawd (see oc_mi.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "helper/creds/oc_fetch.h"
#include "helper/daemon/oc_mi.h"
#include "helper/daemon/oc_mihttp.h"
#include "helper/daemon/oc_sockdiag.h"
#include "proto.h"
#include "util.h"

#define OC_MI_BACKLOG 512
/* Connections of one uid at once (a local flood must not lock others out). */
#define OC_MI_CONNS_PER_UID 4
#define OC_MI_ACCEPT_BATCH  64
/* Room for the status line and headers around a body. */
#define OC_MI_HEADERS_ROOM 512

struct mi_conn {
    int fd;
    uint32_t uid;       /* owner of the peer socket, from the kernel */
    unsigned peer_port; /* for the log */
    int64_t deadline;
    ssize_t wait_entry; /* parked on this token entry's request, or -1 */
    bool answered;      /* the request is done: close once out is sent */
    char resource[OC_MIHTTP_VALUE_MAX + 1];
    size_t in_len;
    char in[OC_MIHTTP_HEAD_MAX];
    char *out; /* may hold a token: wiped */
    size_t out_len;
    size_t out_off;
};

struct oc_mi {
    const struct oc_config *config;
    const struct oc_idmap_entry *ids;
    size_t n_ids;
    struct oc_tokens *tokens;
    struct oc_decide *decide;
    oc_mi_log_fn log;
    int listen_fd;
    int nl_fd;
    uint32_t seq;
    unsigned polled; /* connections handed to the last poll */
    size_t n;
    struct mi_conn conns[OC_MI_CONNS_MAX];
};

/* ------------------------------------------------------------------ */
/* Setup                                                              */
/* ------------------------------------------------------------------ */

static int listen_on(const struct oc_mi_endpoint *ep, oc_mi_log_fn log)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd, one = 1;

    memset(&ss, 0, sizeof(ss));
    if (ep->ipv6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, ep->addr, 16);
        s6->sin6_port = htons(ep->port);
        sl = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, ep->addr, 4);
        s4->sin_port = htons(ep->port);
        sl = sizeof(*s4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        int e = -errno;
        log("mi_endpoint %s: cannot create a TCP socket: %s (is AF_INET/AF_INET6 allowed to "
            "openclawd?)",
            ep->text, strerror(-e));
        return e;
    }
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ep->ipv6) {
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, OC_MI_BACKLOG) < 0) {
        int e = -errno;
        log("mi_endpoint %s: cannot listen: %s; %s", ep->text, strerror(-e),
            e == -EADDRINUSE ? "another process holds this port: choose a free port in "
                               "mi_endpoint (and in the sessions' environment)"
            : e == -EACCES   ? "ports below 1024 need CAP_NET_BIND_SERVICE: choose a port "
                               "of 1024 or more"
                             : "check mi_endpoint in openclaw.conf");
        close(fd);
        return e;
    }
    return fd;
}

/*
 * mi_endpoint = imds: the listening socket systemd made and passed
 * (openclawd-imds.socket: socket activation, LISTEN_PID = this process,
 * LISTEN_FDS from fd 3), bound to 169.254.169.254:80, which it put on lo.
 * openclawd needs no privilege for port 80 or for the address. The other
 * passed descriptors are closed; the variables are removed.
 */
static int take_activated(const struct oc_mi_endpoint *ep, oc_mi_log_fn log)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    uint32_t p = 0, n = 0;
    int found = -1;

    if (pid == NULL || fds == NULL || oc_parse_u32(pid, 1, UINT32_MAX, &p) < 0 ||
        p != (uint32_t)getpid() || oc_parse_u32(fds, 1, 64, &n) < 0) {
        log("mi_endpoint = imds: systemd passed no socket: systemctl enable --now "
            "openclawd-imds.socket (it puts %s on lo and hands the listening socket to "
            "openclawd), then systemctl restart openclawd",
            OC_MI_IMDS_ADDR);
        return -ENOTSOCK;
    }
    for (int fd = 3; fd < 3 + (int)n; fd++) {
        struct sockaddr_in sa;
        socklen_t sl = sizeof(sa);
        int type = 0, acc = 0;
        socklen_t il = sizeof(int);
        if (found < 0 && getsockname(fd, (struct sockaddr *)&sa, &sl) == 0 &&
            sa.sin_family == AF_INET && sl == sizeof(sa) &&
            memcmp(&sa.sin_addr, ep->addr, 4) == 0 && ntohs(sa.sin_port) == ep->port &&
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &il) == 0 && type == SOCK_STREAM &&
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &il) == 0 && acc != 0) {
            found = fd;
        } else {
            (void)close(fd);
        }
    }
    (void)unsetenv("LISTEN_PID");
    (void)unsetenv("LISTEN_FDS");
    (void)unsetenv("LISTEN_FDNAMES");
    if (found < 0) {
        log("mi_endpoint = imds: none of the %u socket(s) systemd passed listens on %s: "
            "openclawd-imds.socket must have ListenStream=%s",
            (unsigned)n, ep->text, ep->text);
        return -EADDRNOTAVAIL;
    }
    int fl = fcntl(found, F_GETFL);
    if (fl < 0 || fcntl(found, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(found, F_SETFD, FD_CLOEXEC) < 0) {
        int e = -errno;
        close(found);
        return e;
    }
    return found;
}

int oc_mi_open(const struct oc_config *config, const struct oc_idmap_entry *ids, size_t n_ids,
               struct oc_tokens *tokens, struct oc_decide *decide, oc_mi_log_fn log,
               struct oc_mi **ret_mi)
{
    const struct oc_mi_endpoint *ep = &config->global.mi_endpoint;
    struct oc_mi *mi;
    int r;

    if (!ep->set) {
        *ret_mi = NULL;
        return 0;
    }
    mi = calloc(1, sizeof(*mi));
    if (mi == NULL) {
        log("out of memory");
        return -ENOMEM;
    }
    mi->config = config;
    mi->ids = ids;
    mi->n_ids = n_ids;
    mi->tokens = tokens;
    mi->decide = decide;
    mi->log = log;
    mi->listen_fd = -1;
    mi->nl_fd = oc_sockdiag_open();
    if (mi->nl_fd < 0) {
        r = mi->nl_fd;
        log("mi_endpoint %s: cannot open a NETLINK_SOCK_DIAG socket: %s; the endpoint "
            "identifies callers with it: allow AF_NETLINK to openclawd (RestrictAddressFamilies)",
            ep->text, strerror(-r));
        free(mi);
        return r;
    }
    mi->listen_fd = ep->imds ? take_activated(ep, log) : listen_on(ep, log);
    if (mi->listen_fd < 0) {
        r = mi->listen_fd;
        close(mi->nl_fd);
        free(mi);
        return r;
    }
    if (ep->imds) {
        log("managed-identity endpoint on http://%s, Azure IMDS's own address on lo (the socket "
            "from openclawd-imds.socket; sessions need no variable)",
            ep->text);
    } else {
        log("managed-identity endpoint on http://%s (sessions: %s=http://%s)", ep->text,
            OC_MI_ENV_NAME, ep->text);
    }
    *ret_mi = mi;
    return 0;
}

static void conn_close(struct oc_mi *mi, size_t i)
{
    struct mi_conn *c = &mi->conns[i];

    close(c->fd);
    oc_wipe(c->in, c->in_len);
    if (c->out != NULL) {
        oc_free_wipe(c->out, c->out_len);
    }
    if (i != mi->n - 1) {
        memcpy(c, &mi->conns[mi->n - 1], sizeof(*c));
    }
    mi->n--;
}

void oc_mi_close(struct oc_mi *mi)
{
    if (mi == NULL) {
        return;
    }
    while (mi->n > 0) {
        conn_close(mi, mi->n - 1);
    }
    close(mi->listen_fd);
    close(mi->nl_fd);
    free(mi);
}

/* ------------------------------------------------------------------ */
/* Answers                                                            */
/* ------------------------------------------------------------------ */

/* Queue the response; the connection ends once it is sent. */
static int answer(struct mi_conn *c, int status, int64_t retry_after, cJSON *obj)
{
    char *body = cJSON_PrintUnformatted(obj);
    cJSON *tok = cJSON_GetObjectItemCaseSensitive(obj, "access_token");
    size_t cap;
    ssize_t n;

    /* The tree holds a copy of the token: wipe it before freeing. */
    if (cJSON_IsString(tok) && tok->valuestring != NULL) {
        oc_wipe(tok->valuestring, strlen(tok->valuestring));
    }
    cJSON_Delete(obj);
    if (body == NULL) {
        return -ENOMEM;
    }
    cap = strlen(body) + OC_MI_HEADERS_ROOM;
    c->out = malloc(cap);
    if (c->out == NULL) {
        oc_free_wipe_str(body);
        return -ENOMEM;
    }
    n = oc_mihttp_response(c->out, cap, status, retry_after, body);
    oc_free_wipe_str(body);
    if (n < 0) {
        oc_free_wipe(c->out, cap);
        c->out = NULL;
        return (int)n;
    }
    c->out_len = (size_t)n;
    c->out_off = 0;
    c->answered = true;
    c->deadline = oc_now() + OC_MI_TIMEOUT;
    return 0;
}

/* An IMDS-shaped error: {"error": CODE, "error_description": TEXT}. */
static int answer_error(struct mi_conn *c, int status, const char *code, const char *desc,
                        int64_t retry_after)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "error", code);
    cJSON_AddStringToObject(o, "error_description", desc);
    return answer(c, status, retry_after, o);
}

static void add_number_string(cJSON *o, const char *name, int64_t v)
{
    char buf[32];

    (void)snprintf(buf, sizeof(buf), "%lld", (long long)v);
    cJSON_AddStringToObject(o, name, buf);
}

/* The last attempt ended with Entra refusing the request itself (4xx other
 * than 408 Request Timeout and 429 Too Many Requests, with Entra's error). */
static bool entra_refused(const struct oc_token_entry *e)
{
    return e->last_status >= 400 && e->last_status < 500 && e->last_status != 408 &&
           e->last_status != 429 && e->last_entra_code[0] != '\0';
}

/* Entra answered 429 or 5xx with its own error: IMDS passes those on. */
static bool entra_transient(const struct oc_token_entry *e)
{
    return (e->last_status == 429 || e->last_status == 500 || e->last_status == 502 ||
            e->last_status == 503 || e->last_status == 504) &&
           e->last_entra_code[0] != '\0';
}

/* The IMDS answer for entry e (every member a string), or why there is none. */
static int answer_token(struct oc_mi *mi, struct mi_conn *c, const struct oc_token_entry *e)
{
    int64_t now = oc_now();
    const char *tok = oc_tokens_valid(e, now);
    const struct oc_agent *ag = &mi->config->agents[e->agent];
    cJSON *o;

    if (tok == NULL && entra_refused(e)) {
        /* As IMDS: Entra's 4xx (an unknown resource, a missing role
         * assignment, a disabled service principal) is a 400 with Entra's
         * own error and description, at once; the client's retry gets the
         * same answer until openclawd's next attempt (oc_tokens.h). */
        return answer_error(c, 400, e->last_entra_code, e->last_entra_desc, -1);
    }
    if (tok == NULL && entra_transient(e)) {
        /* As IMDS: Entra's 429 and 5xx come through with their status and
         * Entra's own error ("5xx: a transient error of the managed identity
         * subsystem or Entra; retry after at least 1 s"), and a Retry-After
         * of openclawd's next attempt. */
        int64_t ra = e->next_attempt > now ? e->next_attempt - now : 1;
        return answer_error(c, (int)e->last_status, e->last_entra_code, e->last_entra_desc,
                            ra < OC_MI_RETRY_AFTER_MAX ? ra : OC_MI_RETRY_AFTER_MAX);
    }
    if (tok == NULL) {
        int64_t ra = e->next_attempt > now ? e->next_attempt - now : 1;
        return answer_error(c, 503, "unavailable",
                            e->last_error[0] != '\0' ? e->last_error : "no token yet",
                            ra < OC_MI_RETRY_AFTER_MAX ? ra : OC_MI_RETRY_AFTER_MAX);
    }
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "access_token", tok);
    cJSON_AddStringToObject(o, "client_id", ag->app_id);
    add_number_string(o, "expires_in", e->token.expires_on - now);
    add_number_string(o, "expires_on", e->token.expires_on);
    add_number_string(o, "ext_expires_in", e->token.expires_on - now);
    add_number_string(o, "not_before", e->token.expires_on - e->token.lifetime);
    cJSON_AddStringToObject(o, "resource", c->resource);
    cJSON_AddStringToObject(o, "token_type", "Bearer");
    return answer(c, 200, -1, o);
}

/* ------------------------------------------------------------------ */
/* Requests                                                           */
/* ------------------------------------------------------------------ */

static ssize_t agent_of_uid(const struct oc_mi *mi, uint32_t uid)
{
    for (size_t i = 0; i < mi->n_ids; i++) {
        if (mi->ids[i].uid == uid) {
            return (ssize_t)mi->ids[i].agent;
        }
    }
    return -1;
}

/* Host must name this endpoint: a page in a browser that reached the port
 * through a rebound DNS name sends its own host name. */
static bool host_ok(const struct oc_mi *mi, const struct oc_mihttp_request *req)
{
    const struct oc_mi_endpoint *ep = &mi->config->global.mi_endpoint;
    char alt[OC_MI_ENDPOINT_TEXT_MAX + 16];
    const char *colon;

    if (!req->has_host) {
        return req->minor == 0;
    }
    if (strcasecmp(req->host, ep->text) == 0) {
        return true;
    }
    (void)snprintf(alt, sizeof(alt), "localhost:%u", (unsigned)ep->port);
    if (strcasecmp(req->host, alt) == 0) {
        return true;
    }
    /* Port 80 may be left out. */
    colon = strrchr(ep->text, ':');
    return ep->port == 80 && colon != NULL && strlen(req->host) == (size_t)(colon - ep->text) &&
           strncasecmp(req->host, ep->text, (size_t)(colon - ep->text)) == 0;
}

/* Does the identity named in the query (if any) belong to agent ag? */
static bool selector_matches(const struct oc_agent *ag, const struct oc_mihttp_query *q)
{
    if (q->client_id[0] != '\0') {
        return oc_guid_equal(q->client_id, ag->app_id) ||
               (ag->mi_client_id[0] != '\0' && oc_guid_equal(q->client_id, ag->mi_client_id));
    }
    if (q->object_id[0] != '\0') {
        return oc_guid_equal(q->object_id, ag->object_id) ||
               (ag->mi_object_id[0] != '\0' && oc_guid_equal(q->object_id, ag->mi_object_id));
    }
    if (q->res_id[0] != '\0') {
        return ag->mi_res_id != NULL && strcasecmp(q->res_id, ag->mi_res_id) == 0;
    }
    return true;
}

/* The HTTP request as IMDS takes it: parsed, for this endpoint, not
 * forwarded, GET of the token path with Metadata: true, a valid query.
 * false: *ret is the answer (or a negative: end the connection). */
static bool request_ok(struct oc_mi *mi, struct mi_conn *c, size_t len,
                       struct oc_mihttp_request *req, struct oc_mihttp_query *q, int *ret)
{
    const char *why = NULL;

    if (oc_mihttp_parse(c->in, len, req, &why) < 0) {
        mi->log("mi endpoint: uid %u (port %u): malformed HTTP request (%s); connection closed",
                c->uid, c->peer_port, why != NULL ? why : "?");
        *ret = -EPROTO;
        return false;
    }
    if (!host_ok(mi, req)) {
        mi->log("mi endpoint: uid %u (port %u): Host does not name this endpoint; refused", c->uid,
                c->peer_port);
        *ret = answer_error(c, 400, "invalid_request",
                            "Host does not name this endpoint (use the address in "
                            "AZURE_POD_IDENTITY_AUTHORITY_HOST)",
                            -1);
        return false;
    }
    if (req->forwarded) {
        *ret = answer_error(c, 400, "invalid_request",
                            "Request contains a forwarding header (X-Forwarded-For, "
                            "Forwarded): this endpoint serves local callers directly, never "
                            "through a proxy",
                            -1);
        return false;
    }
    /* MSAL's URL handling adds a trailing slash; IMDS accepts both. */
    if (strcmp(req->path, OC_MIHTTP_TOKEN_PATH) != 0 &&
        strcmp(req->path, OC_MIHTTP_TOKEN_PATH "/") != 0) {
        *ret = answer_error(c, 404, "not_found", "Only " OC_MIHTTP_TOKEN_PATH " is served here",
                            -1);
        return false;
    }
    if (strcmp(req->method, "GET") != 0) {
        *ret = answer_error(c, 405, "invalid_request", "Method not allowed: use GET", -1);
        return false;
    }
    if (req->metadata != 1) {
        /* IMDS's own code for a missing or false Metadata header */
        *ret = answer_error(c, 400, "bad_request_102", "Required metadata header not specified",
                            -1);
        return false;
    }
    if (oc_mihttp_query_parse(req->query, q, &why) < 0) {
        *ret = answer_error(c, 400, "invalid_request", why, -1);
        return false;
    }
    return true;
}

/* The caller's agent: the one mapped to its uid (never root), and the
 * identity the query names must be its own. -1: refused, *ret the answer. */
static ssize_t caller_agent(struct oc_mi *mi, struct mi_conn *c, const struct oc_mihttp_query *q,
                            struct oc_issue *is, int *ret)
{
    const struct oc_agent *ag;
    ssize_t a;

    if (c->uid == 0) {
        mi->log("mi endpoint: root (port %u) asked for a token here; refused (root uses "
                "openclaw-token --agent NAME on the socket, which is audited)",
                c->peer_port);
        oc_decide_refused(mi->decide, is, NULL, "denied", "root gets no token here");
        *ret = answer_error(c, 403, "access_denied",
                            "root gets agent tokens from the openclawd socket "
                            "(openclaw-token --agent NAME), not from this endpoint",
                            -1);
        return -1;
    }
    a = agent_of_uid(mi, c->uid);
    if (a < 0) {
        mi->log("denied: uid %u (port %u) asked the mi endpoint for a token; no agent is "
                "mapped to this uid",
                c->uid, c->peer_port);
        oc_decide_refused(mi->decide, is, NULL, "denied", "no agent is mapped to this uid");
        *ret = answer_error(c, 400, "invalid_request",
                            "Identity not found: no agent is mapped to the uid of this caller", -1);
        return -1;
    }
    ag = &mi->config->agents[a];
    if (!selector_matches(ag, q)) {
        mi->log("denied: uid %u (agent %s, port %u) asked the mi endpoint for an identity that "
                "is not its agent's",
                c->uid, ag->name, c->peer_port);
        oc_decide_refused(mi->decide, is, ag->name, "denied",
                          "client_id, object_id or mi_res_id of another identity");
        *ret = answer_error(c, 400, "invalid_request",
                            "Identity not found: this caller may get only the token of the "
                            "agent mapped to its uid",
                            -1);
        return -1;
    }
    return a;
}

/* A complete head. Negative: end the connection without an answer. */
static int handle_request(struct oc_mi *mi, struct mi_conn *c, size_t len)
{
    static struct oc_mihttp_request req; /* 8 KiB: not on the stack */
    struct oc_mihttp_query q;
    const struct oc_agent *ag;
    struct oc_token_entry *e = NULL;
    char scope[OC_PROTO_SCOPE_MAX + 1];
    const char *why = NULL;
    int64_t now;
    ssize_t a;
    int r;

    if (!request_ok(mi, c, len, &req, &q, &r)) {
        return r;
    }
    struct oc_issue is = {.path = OC_ISSUE_MI_TOKEN,
                          .uid = c->uid,
                          .pid = 0, /* TCP: the kernel gives the uid, not the pid */
                          .scope = NULL};
    a = caller_agent(mi, c, &q, &is, &r);
    if (a < 0) {
        return r;
    }
    ag = &mi->config->agents[a];
    r = snprintf(scope, sizeof(scope), "%s/.default", q.resource);
    if (r < 0 || (size_t)r >= sizeof(scope)) {
        return answer_error(c, 400, "invalid_request", "resource is too long", -1);
    }
    const char *code = NULL;
    is.agent = (size_t)a;
    is.scope = scope;
    if (oc_decide(mi->decide, &is, &code, &why) < 0) {
        return answer_error(c, 403, "access_denied", why, -1);
    }
    why = oc_agent_unusable(mi->config, ag);
    if (why != NULL) {
        return answer_error(c, 500, "unusable", why, -1);
    }
    if (oc_tokens_entry(mi->tokens, (size_t)a, scope, &e) < 0) {
        return answer_error(c, 503, "busy", "too many distinct scopes cached",
                            OC_MI_RETRY_AFTER_MAX);
    }
    (void)oc_strscpy(c->resource, sizeof(c->resource), q.resource);
    now = oc_now();
    if (oc_tokens_valid(e, now) == NULL && !e->in_flight && e->next_attempt <= now) {
        (void)oc_tokens_start(mi->tokens, e);
    }
    if (oc_tokens_valid(e, now) == NULL && e->in_flight) {
        /* Answered when the request completes (one request, any number of waiters). */
        c->wait_entry = e - mi->tokens->entries;
        c->deadline = now + OC_HTTP_TOTAL_TIMEOUT + OC_MI_TIMEOUT;
        return 0;
    }
    return answer_token(mi, c, e);
}

/* Readable, before the request is complete. Negative: end the connection. */
static int conn_read(struct oc_mi *mi, struct mi_conn *c)
{
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0), h;

    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return 0;
    }
    if (n <= 0) {
        return -1;
    }
    c->in_len += (size_t)n;
    h = oc_mihttp_head_len(c->in, c->in_len);
    if (h == 0) {
        return 0;
    }
    if (h < 0 || (size_t)h != c->in_len) {
        mi->log("mi endpoint: uid %u (port %u): %s; connection closed", c->uid, c->peer_port,
                h < 0 ? "request head over 8 KiB" : "bytes after the request head");
        return -1;
    }
    return handle_request(mi, c, (size_t)h);
}

static int conn_flush(struct mi_conn *c)
{
    /* all sent (1): Connection: close, so the connection ends either way */
    return oc_send_pending(c->fd, (const uint8_t *)c->out, c->out_len, &c->out_off) == 0 ? 0 : -1;
}

/* Accept one connection; false when none was pending. Over the limits
 * (OC_MI_CONNS_MAX, OC_MI_CONNS_PER_UID) it is accepted and closed at
 * once, so the backlog never fills up; refusals are logged once a second. */
static bool accept_one(struct oc_mi *mi)
{
    static int64_t last_log;
    static unsigned refused;
    size_t mine = 0;
    struct mi_conn *c;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    uint32_t uid = 0;
    int fd = accept4(mi->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
    unsigned port = 0;
    int r;

    if (fd < 0) {
        return false;
    }
    if (ss.ss_family == AF_INET) {
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    /* The caller is known from the kernel before any byte of it is read. */
    r = oc_sockdiag_peer_uid(mi->nl_fd, fd, ++mi->seq, &uid);
    if (r < 0) {
        mi->log("mi endpoint: cannot identify the caller on port %u (%s); connection closed", port,
                strerror(-r));
        close(fd);
        return true;
    }
    for (size_t i = 0; i < mi->n; i++) {
        mine += mi->conns[i].uid == uid;
    }
    if (mi->n >= OC_MI_CONNS_MAX || mine >= OC_MI_CONNS_PER_UID) {
        close(fd);
        refused++;
        if (oc_now() != last_log) {
            mi->log("mi endpoint: connection limit: refused %u connection(s), the last from uid "
                    "%u (%d per uid, %d in all)",
                    refused, uid, OC_MI_CONNS_PER_UID, OC_MI_CONNS_MAX);
            last_log = oc_now();
            refused = 0;
        }
        return true;
    }
    c = &mi->conns[mi->n++];
    c->fd = fd;
    c->uid = uid;
    c->peer_port = port;
    c->deadline = oc_now() + OC_MI_TIMEOUT;
    c->wait_entry = -1;
    c->answered = false;
    c->resource[0] = '\0';
    c->in_len = 0;
    c->out = NULL;
    c->out_len = c->out_off = 0;
    return true;
}

/* ------------------------------------------------------------------ */
/* The loop's hooks                                                   */
/* ------------------------------------------------------------------ */

unsigned oc_mi_pollfds(struct oc_mi *mi, struct curl_waitfd *pfd, int64_t now, int64_t *wait)
{
    unsigned n = 0;

    if (mi == NULL) {
        return 0;
    }
    for (size_t i = 0; i < mi->n;) {
        if (mi->conns[i].deadline <= now) {
            conn_close(mi, i);
        } else {
            i++;
        }
    }
    pfd[n++] = (struct curl_waitfd){.fd = mi->listen_fd, .events = CURL_WAIT_POLLIN};
    for (size_t i = 0; i < mi->n; i++) {
        struct mi_conn *c = &mi->conns[i];

        /* POLLIN always: a hang-up must be noticed (libcurl reports no POLLHUP). */
        pfd[n++] = (struct curl_waitfd){
                .fd = c->fd,
                .events = (short)(CURL_WAIT_POLLIN |
                                  (c->out_off < c->out_len ? CURL_WAIT_POLLOUT : 0))};
        if (c->deadline - now < *wait) {
            *wait = c->deadline - now;
        }
    }
    mi->polled = (unsigned)mi->n;
    return n;
}

void oc_mi_handle(struct oc_mi *mi, const struct curl_waitfd *pfd, unsigned n)
{
    if (mi == NULL || n != 1 + mi->polled || mi->polled > mi->n) {
        return;
    }
    /* From the end: closing moves the last connection into the hole. */
    for (size_t i = mi->polled; i-- > 0;) {
        struct mi_conn *c = &mi->conns[i];
        short re = pfd[1 + i].revents;
        bool drop = false;

        if (re & CURL_WAIT_POLLIN) {
            /* After the request, readable means a hang-up or extra bytes. */
            drop = c->answered || c->wait_entry >= 0 || conn_read(mi, c) < 0;
        }
        if (!drop && c->answered) {
            drop = conn_flush(c) < 0;
        }
        if (drop) {
            conn_close(mi, i);
        }
    }
    if (pfd[0].revents & CURL_WAIT_POLLIN) {
        for (unsigned k = 0; k < OC_MI_ACCEPT_BATCH && accept_one(mi); k++) {
        }
    }
}

void oc_mi_token_done(struct oc_mi *mi, size_t idx)
{
    if (mi == NULL) {
        return;
    }
    for (size_t i = 0; i < mi->n; i++) {
        struct mi_conn *c = &mi->conns[i];

        if (c->wait_entry >= 0 && (size_t)c->wait_entry == idx) {
            c->wait_entry = -1;
            if (answer_token(mi, c, &mi->tokens->entries[idx]) < 0) {
                c->deadline = 0; /* closed before the next poll */
            }
        }
    }
}
