/* SPDX-License-Identifier: MIT */
/*
 * helperclient.h: the typed requests of pam_openclaw and openclawctl to
 * openclawd, each one oc_proto_call (common/protocall.h): one connection,
 * one request, one answer, close, within one hard deadline. The answer is
 * parsed strictly (common/json.h). No logging: every function returns 0 or
 * a negative errno (oc_proto_call's, or -EREMOTEIO when openclawd answered
 * {"ok":false,...}: code and message in why) and writes a short text into
 * why.
 */
#ifndef OC_HELPERCLIENT_H
#define OC_HELPERCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deadlines used by pam_openclaw (milliseconds). */
#define OC_HC_TIMEOUT_JWKS_MS    1500 /* refresh-jwks: the daemon fetches the JWKS meanwhile */
#define OC_HC_TIMEOUT_SESSION_MS 1000 /* session-open / session-close */
#define OC_HC_TIMEOUT_NOTIFY_MS  500  /* anomaly: fire and forget */
#define OC_HC_TIMEOUT_CTL_MS     3000 /* openclawctl */
/* Caps on the session environment the daemon hands over. */
#define OC_HC_ENV_MAX       16   /* variables */
#define OC_HC_ENV_NAME_MAX  64   /* bytes of a name */
#define OC_HC_ENV_VALUE_MAX 1024 /* bytes of a value */
#define OC_HC_WHY_MAX       256

/*
 * refresh-jwks. 0: the daemon wrote a fresh JWKS file; -EAGAIN: rate-limited
 * (*ret_retry_after seconds, when not NULL); else as above.
 */
int oc_hc_refresh_jwks(const char *socket_path, int timeout_ms, int64_t *ret_retry_after, char *why,
                       size_t whylen);

/*
 * get-token for agent (root only) and scope; max_age < 0: not sent. The
 * token is malloc'd into *ret_token (*ret_len bytes, NUL-terminated): wipe it.
 */
int oc_hc_get_token(const char *socket_path, const char *agent, const char *scope, int64_t max_age,
                    int timeout_ms, char **ret_token, size_t *ret_len, char *why, size_t why_len);

/* What openclawd says about a token besides the token itself. */
#define OC_HC_SCOPE_MAX 1024
#define OC_HC_AGENT_MAX 256
struct oc_hc_token_info {
    int64_t expires_on;              /* seconds since the epoch; 0 when not said */
    bool stale;                      /* served while refreshes fail */
    char scope[OC_HC_SCOPE_MAX + 1]; /* "" when not said */
    char agent[OC_HC_AGENT_MAX + 1];
};

/* get-token as above, and (info not NULL) the token's expiry, scope and agent. */
int oc_hc_get_token_info(const char *socket_path, const char *agent, const char *scope,
                         int64_t max_age, int timeout_ms, char **ret_token, size_t *ret_len,
                         struct oc_hc_token_info *ret_info, char *why, size_t why_len);

/*
 * session-open: the daemon's "env" object as "NAME=value" strings that
 * passed oc_hc_env_valid (at most OC_HC_ENV_MAX; *ret_rejected counts the
 * others). Free with oc_hc_env_free.
 */
int oc_hc_session_open(const char *socket_path, const char *agent, int timeout_ms, char ***ret_env,
                       size_t *ret_n, size_t *ret_rejected, char *why, size_t why_len);
void oc_hc_env_free(char **env, size_t n);

/* May NAME=value go into a PAM environment? Names: A-Z, 0-9, _, not
 * starting with a digit, under one of the prefixes OPENCLAW_, AZURE_,
 * IDENTITY_, IMDS_, MSI_; values: printable ASCII, capped. */
bool oc_hc_env_valid(const char *name, const char *value);

/* A request that names an agent and whose answer is only ok or not:
 * session-close, agent-lock, agent-unlock, anomaly. */
int oc_hc_agent_request(const char *socket_path, const char *type, const char *agent,
                        int timeout_ms, char *why, size_t why_len);

#endif /* OC_HELPERCLIENT_H */
