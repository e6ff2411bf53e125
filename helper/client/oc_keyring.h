/* SPDX-License-Identifier: MIT */
/*
 * oc_keyring.h: openclaw-token --keyring: keep the agent's token in the
 * session's Secret Service keyring (libsecret), fresh, while the session
 * lives.
 *
 * The token is stored in the default collection under the schema
 * OC_KEYRING_SCHEMA with the attributes agent and scope, so any program of
 * the session finds it with
 *     secret-tool lookup agent NAME scope SCOPE
 * The loop asks openclawd again at half the remaining lifetime (at least
 * every OC_KEYRING_MAX_SLEEP, at most every OC_KEYRING_MIN_SLEEP) and
 * replaces the item when the daemon hands out a new token. It ends when the
 * session bus closes, on SIGTERM, SIGINT or SIGHUP (the item is removed
 * then: no token stays at rest in a keyring file), on a refusal by the
 * daemon, or after OC_KEYRING_FAILURES_MAX failures in a row. Only this
 * program links libsecret.
 */
#ifndef OC_KEYRING_H
#define OC_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "util.h"

#define OC_KEYRING_SCHEMA       "org.openclaw.Token"
#define OC_KEYRING_MIN_SLEEP    5    /* seconds between two requests, at least */
#define OC_KEYRING_MAX_SLEEP    1800 /* seconds between two requests, at most */
#define OC_KEYRING_FAILURES_MAX 10   /* failures in a row before giving up */
#define OC_KEYRING_BACKOFF_MAX  300  /* seconds, after failures */

struct oc_keyring_token {
    char *access_token; /* wiped and freed by the keyring loop */
    int64_t expires_on;
    char agent[OC_USER_NAME_MAX + 1];
    char scope[OC_PROTO_SCOPE_MAX + 1];
};

/* How a fetch ended. */
enum oc_keyring_fetch {
    OC_KEYRING_FETCH_OK = 0,
    OC_KEYRING_FETCH_RETRY,  /* daemon unreachable, token unavailable: try again later */
    OC_KEYRING_FETCH_REFUSED /* denied, no such agent, bad request: give up */
};

/* Ask openclawd for the token; messages go to stderr. */
typedef enum oc_keyring_fetch (*oc_keyring_fetch_fn)(void *ctx, struct oc_keyring_token *ret);

/*
 * Run the keyring loop until the session ends. Returns the exit status of
 * openclaw-token: 0 the session ended (or a signal), 1 refused or too many
 * failures, 2 no session bus or no keyring.
 */
int oc_keyring_run(oc_keyring_fetch_fn fetch, void *ctx);

#endif
