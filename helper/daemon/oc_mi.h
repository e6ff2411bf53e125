/* SPDX-License-Identifier: MIT */
/*
 * oc_mi.h: openclawd's managed-identity-compatible endpoint
 * (docs/mi-endpoint.md).
 *
 * A loopback TCP listener ([global] mi_endpoint) speaking the Azure IMDS
 * token protocol, so an unmodified Azure SDK ManagedIdentityCredential in
 * an agent's session, pointed at it by AZURE_POD_IDENTITY_AUTHORITY_HOST,
 * gets that agent's token. The caller is identified by the kernel: the
 * owner uid of its own socket (oc_sockdiag.h), looked up right after
 * accept(), before a byte is read. That uid gets the token of the agent
 * mapped to it, exactly as on the Unix socket; root and uids without an
 * agent get none here.
 *
 * It lives inside the daemon's one loop: the daemon adds the endpoint's
 * descriptors to its poll set (oc_mi_pollfds), hands back what poll saw
 * (oc_mi_handle), and tells it when a token request finished
 * (oc_mi_token_done). Tokens come from the daemon's cache (oc_tokens.h);
 * a caller whose token must be fetched is parked until the one request
 * for that (agent, scope) completes, like a Unix-socket client. Every
 * function accepts mi == NULL (endpoint off) and then does nothing.
 */
#ifndef OC_MI_H
#define OC_MI_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "conf.h"
#include "idmap.h"
#include "helper/daemon/oc_decide.h"
#include "helper/daemon/oc_tokens.h"

#define OC_MI_CONNS_MAX       32 /* connections at once; more are closed at once */
#define OC_MI_TIMEOUT         5  /* seconds to send the request, and to take the answer */
#define OC_MI_POLLFDS_MAX     (1 + OC_MI_CONNS_MAX)
#define OC_MI_RETRY_AFTER_MAX 60 /* Retry-After sent on 503, at most */

/* The variable that points the Azure SDKs at the endpoint. */
#define OC_MI_ENV_NAME "AZURE_POD_IDENTITY_AUTHORITY_HOST"

struct oc_mi;

typedef void (*oc_mi_log_fn)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Open the endpoint when config has mi_endpoint: listen on it, open the
 * sock_diag socket. *ret_mi is NULL when the endpoint is off. config,
 * ids, tokens and decide must outlive it. 0, or a negative errno (logged).
 */
int oc_mi_open(const struct oc_config *config, const struct oc_idmap_entry *ids, size_t n_ids,
               struct oc_tokens *tokens, struct oc_decide *decide, oc_mi_log_fn log,
               struct oc_mi **ret_mi);
void oc_mi_close(struct oc_mi *mi);

/*
 * Before poll: close connections past their deadline, then write the
 * descriptors to watch into pfd (room for OC_MI_POLLFDS_MAX) and return
 * their number. *wait (seconds) is lowered to the next deadline.
 */
unsigned oc_mi_pollfds(struct oc_mi *mi, struct curl_waitfd *pfd, int64_t now, int64_t *wait);

/* After poll: pfd and n exactly as oc_mi_pollfds() returned them, revents set. */
void oc_mi_handle(struct oc_mi *mi, const struct curl_waitfd *pfd, unsigned n);

/* The token request of entry index idx finished: answer whoever waits for it. */
void oc_mi_token_done(struct oc_mi *mi, size_t idx);

/*
 * For the session-open answer (the PAM module exports it into the agent's
 * session): the variable name (OC_MI_ENV_NAME) and its value,
 * "http://127.0.0.1:8400" or "http://[::1]:8400". -ENOENT when the
 * endpoint is off (export nothing), -ENOBUFS when value is too small.
 * In helper/daemon/oc_mi_env.c, which needs only the configuration.
 */
int oc_mi_session_env(const struct oc_config *config, const char **ret_name, char *value,
                      size_t len);

#endif
