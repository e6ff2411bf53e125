/* SPDX-License-Identifier: MIT */
/* proto.c: openclawd frame codec and request table (see proto.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "util.h"

static const struct oc_proto_request_def request_table[] = {
        {"ping", OC_REQ_PING, OC_WHO_ANY, "liveness check; answers pong"},
        {"status", OC_REQ_STATUS, OC_WHO_ANY,
         "daemon state; a peer sees its own agent, root sees every agent"},
        {"get-token", OC_REQ_GET_TOKEN, OC_WHO_ANY,
         "token of the agent mapped to the peer uid; root may name any agent (audited)"},
        {"refresh-jwks", OC_REQ_REFRESH_JWKS, OC_WHO_ROOT,
         "fetch the tenant's JWKS now (rate-limited); root or the PAM module as root"},
        {"session-open", OC_REQ_SESSION_OPEN, OC_WHO_ROOT,
         "an agent session began (pam_openclaw); answers the session's environment"},
        {"session-close", OC_REQ_SESSION_CLOSE, OC_WHO_ROOT,
         "an agent session ended (pam_openclaw)"},
        {"agent-lock", OC_REQ_AGENT_LOCK, OC_WHO_ROOT,
         "refuse every token of an agent until agent-unlock (persisted)"},
        {"agent-unlock", OC_REQ_AGENT_UNLOCK, OC_WHO_ROOT, "lift agent-lock"},
        {"cache-rebuild", OC_REQ_CACHE_REBUILD, OC_WHO_ROOT,
         "sync the directory now and rewrite nss.cache and directory.json; root only"},
        {"anomaly", OC_REQ_ANOMALY, OC_WHO_ROOT,
         "an agent was locked out (from PAM as root): audit, and with on_anomaly = "
         "disable-service-principal disable its service principal through Graph"},
        {"ssh-identities", OC_REQ_SSH_IDENTITIES, OC_WHO_ANY,
         "ssh public keys of the agent mapped to the peer uid (its TPM key); none for others"},
        {"ssh-sign", OC_REQ_SSH_SIGN, OC_WHO_ANY,
         "ssh signature by the peer uid's own agent TPM key (audited); root and others denied"},
};

const struct oc_proto_request_def *oc_proto_request_lookup(const char *name, size_t len)
{
    if (name == NULL || len == 0 || len > OC_PROTO_TYPE_MAX) {
        return NULL;
    }
    for (size_t i = 0; i < OC_ELEMENTSOF(request_table); i++) {
        if (strlen(request_table[i].name) == len && memcmp(request_table[i].name, name, len) == 0) {
            return &request_table[i];
        }
    }
    return NULL;
}

const struct oc_proto_request_def *oc_proto_request_table(size_t *ret_n)
{
    *ret_n = OC_ELEMENTSOF(request_table);
    return request_table;
}

bool oc_proto_peer_may_send(const struct oc_proto_request_def *def, uint32_t peer_uid)
{
    if (def == NULL) {
        return false;
    }
    switch (def->who) {
    case OC_WHO_ANY:
        return true;
    case OC_WHO_ROOT:
        return peer_uid == 0;
    }
    return false;
}

int oc_proto_header(uint8_t ret_hdr[OC_PROTO_HEADER], size_t len)
{
    if (len == 0 || len > OC_PROTO_FRAME_MAX) {
        return -EMSGSIZE;
    }
    ret_hdr[0] = (uint8_t)(len >> 24);
    ret_hdr[1] = (uint8_t)(len >> 16);
    ret_hdr[2] = (uint8_t)(len >> 8);
    ret_hdr[3] = (uint8_t)len;
    return 0;
}

void oc_proto_reader_init(struct oc_proto_reader *r)
{
    memset(r, 0, sizeof(*r));
}

void oc_proto_reader_reset(struct oc_proto_reader *r)
{
    if (r->body != NULL) {
        oc_free_wipe(r->body, r->body_len + 1);
    }
    oc_proto_reader_init(r);
}

int oc_proto_reader_feed(struct oc_proto_reader *r, const uint8_t *data, size_t len,
                         size_t *ret_used, uint8_t **ret_body, size_t *ret_len)
{
    size_t used = 0;

    if (r->hdr_have < OC_PROTO_HEADER) {
        size_t take = OC_PROTO_HEADER - r->hdr_have;

        if (take > len) {
            take = len;
        }
        memcpy(r->hdr + r->hdr_have, data, take);
        r->hdr_have += take;
        used += take;
        if (r->hdr_have < OC_PROTO_HEADER) {
            *ret_used = used;
            return 0;
        }
        uint32_t n = ((uint32_t)r->hdr[0] << 24) | ((uint32_t)r->hdr[1] << 16) |
                     ((uint32_t)r->hdr[2] << 8) | (uint32_t)r->hdr[3];
        if (n == 0 || n > OC_PROTO_FRAME_MAX) {
            *ret_used = used;
            return -EMSGSIZE;
        }
        r->body = malloc((size_t)n + 1);
        if (r->body == NULL) {
            *ret_used = used;
            return -ENOMEM;
        }
        r->body_len = n;
        r->body_have = 0;
    }

    size_t take = r->body_len - r->body_have;
    if (take > len - used) {
        take = len - used;
    }
    memcpy(r->body + r->body_have, data + used, take);
    r->body_have += take;
    used += take;
    *ret_used = used;
    if (r->body_have < r->body_len) {
        return 0;
    }
    r->body[r->body_len] = 0;
    *ret_body = r->body;
    *ret_len = r->body_len;
    r->body = NULL;
    oc_proto_reader_init(r);
    return 1;
}
