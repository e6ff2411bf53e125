/* SPDX-License-Identifier: MIT */
/*
 * oc_request.h: parse one openclawd request body (strict JSON object).
 *
 *   {"type": "get-token", "scope": "api://x/.default", "agent": "build-bot",
 *    "max_age": 300}
 *
 * Members other than type, scope, agent, max_age and the ssh-sign members
 * below, a type not in the
 * table of common/proto.h, a scope with spaces or control characters, an
 * agent that is not a valid user name, a max_age that is not an integer
 * in [0, OC_PROTO_MAX_AGE_MAX] or on another type than get-token, or a
 * missing agent on a request that names one (session-open, session-close,
 * agent-lock, agent-unlock, anomaly): the request is invalid and the
 * daemon ends the connection. No logging.
 *
 * ssh-sign carries three more members, allowed with no other type:
 *
 *   {"type": "ssh-sign", "key": B64URL, "data": B64URL, "flags": N}
 *
 * key is the ssh wire-format public key blob (at most OC_SSH_KEY_BLOB_MAX
 * bytes), data the bytes to sign (1..OC_SSH_DATA_MAX), both strict
 * base64url without padding (common/b64url.h); flags the ssh-agent sign
 * flags (0..2^32-1, default 0).
 *
 */
#ifndef OC_REQUEST_H
#define OC_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "util.h"

/* Longest ssh public key blob (RSA-4096 is 535 bytes). */
#define OC_SSH_KEY_BLOB_MAX 2048u
/* Most bytes an ssh-sign request may ask to sign (an ssh userauth request
 * or an SSHSIG blob is a few hundred bytes). */
#define OC_SSH_DATA_MAX (16u * 1024u)

struct oc_ssh_args {
    uint8_t key[OC_SSH_KEY_BLOB_MAX];
    size_t key_len; /* 0 when absent */
    uint8_t data[OC_SSH_DATA_MAX];
    size_t data_len; /* 0 when absent */
    uint32_t flags;
};

struct oc_request {
    const struct oc_proto_request_def *def;
    char scope[OC_PROTO_SCOPE_MAX + 1]; /* "" when absent */
    char agent[OC_USER_NAME_MAX + 1];   /* "" when absent */
    int64_t max_age;                    /* get-token: seconds, -1 when absent */
    struct oc_ssh_args ssh;             /* ssh-sign only */
};

/* Does a request of this type have to name an agent? */
bool oc_request_needs_agent(enum oc_proto_type type);

/* 0, or -EINVAL with *ret_reason (static string) set. */
int oc_request_parse(const char *body, size_t len, struct oc_request *ret_req,
                     const char **ret_why);

#endif
