/* SPDX-License-Identifier: MIT */
/*
 * oc_request.h: parse one openclawd request body (strict JSON object).
 *
 *   {"type": "get-token", "scope": "api://x/.default", "agent": "build-bot"}
 *
 * Members other than type, scope and agent, a type not in the table of
 * common/proto.h, a scope with spaces or control characters, or an agent
 * that is not a valid user name: the request is invalid and the daemon
 * ends the connection. No logging.
 */
#ifndef OC_REQUEST_H
#define OC_REQUEST_H

#include <stddef.h>

#include "proto.h"
#include "util.h"

struct oc_request {
    const struct oc_proto_request_def *def;
    char scope[OC_PROTO_SCOPE_MAX + 1]; /* "" when absent */
    char agent[OC_USER_NAME_MAX + 1];   /* "" when absent */
};

/* 0, or -EINVAL with *ret_reason (static string) set. */
int oc_request_parse(const char *body, size_t len, struct oc_request *ret_req,
                     const char **ret_reason);

#endif
