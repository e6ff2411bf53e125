/* SPDX-License-Identifier: MIT */
/*
 * oc_request.h: parse one openclawd request body (strict JSON object).
 *
 *   {"type": "get-token", "scope": "api://x/.default", "agent": "build-bot",
 *    "max_age": 300}
 *
 * Members other than type, scope, agent and max_age, a type not in the
 * table of common/proto.h, a scope with spaces or control characters, an
 * agent that is not a valid user name, a max_age that is not an integer
 * in [0, OC_PROTO_MAX_AGE_MAX] or on another type than get-token, or a
 * missing agent on a request that names one (session-open, session-close,
 * agent-lock, agent-unlock, anomaly): the request is invalid and the
 * daemon ends the connection. No logging.
 */
#ifndef OC_REQUEST_H
#define OC_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "util.h"

struct oc_request {
    const struct oc_proto_request_def *def;
    char scope[OC_PROTO_SCOPE_MAX + 1]; /* "" when absent */
    char agent[OC_USER_NAME_MAX + 1];   /* "" when absent */
    int64_t max_age;                    /* get-token: seconds, -1 when absent */
};

/* Does a request of this type have to name an agent? */
bool oc_request_needs_agent(enum oc_proto_type type);

/* 0, or -EINVAL with *ret_reason (static string) set. */
int oc_request_parse(const char *body, size_t len, struct oc_request *ret_req,
                     const char **ret_reason);

#endif
