/* SPDX-License-Identifier: MIT */
/*
 * proto.h: the openclawd socket protocol, framing and request table.
 *
 * A frame is a 4-byte big-endian length followed by that many bytes of
 * JSON (an object). The length is never 0 and never more than
 * OC_PROTO_FRAME_MAX. This file knows nothing about JSON: it splits a
 * byte stream into frames, builds frame headers and holds the table of
 * request types with who may send each one. Libc only, no logging.
 *
 * The table is the whole protocol: a type that is not in it, a frame
 * over the cap, or a body the daemon cannot parse ends the connection.
 */
#ifndef OC_PROTO_H
#define OC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest frame body, in bytes (the 4-byte header is not counted). */
#define OC_PROTO_FRAME_MAX (64u * 1024u)
#define OC_PROTO_HEADER    4u
/* Longest request type name. */
#define OC_PROTO_TYPE_MAX 32u
/* Longest scope a client may ask for (a resource URI + "/.default"). */
#define OC_PROTO_SCOPE_MAX 1024u
/* Largest get-token max_age (seconds) a client may ask for. */
#define OC_PROTO_MAX_AGE_MAX 86400

enum oc_proto_type {
    OC_REQ_INVALID = 0,
    OC_REQ_PING,
    OC_REQ_STATUS,
    OC_REQ_GET_TOKEN,
    OC_REQ_REFRESH_JWKS,
    OC_REQ_SESSION_OPEN,
    OC_REQ_SESSION_CLOSE,
    OC_REQ_AGENT_LOCK,
    OC_REQ_AGENT_UNLOCK,
    OC_REQ_ANOMALY,
    OC_REQ_CACHE_REBUILD,
    OC_REQ_SSH_IDENTITIES,
    OC_REQ_SSH_SIGN,
};

/* Who may send a request type. */
enum oc_proto_who {
    OC_WHO_ANY = 1,  /* any local peer */
    OC_WHO_ROOT = 2, /* peer uid 0 only (admins, the PAM module as root) */
};

struct oc_proto_request_def {
    const char *name; /* on the wire: "get-token" */
    enum oc_proto_type type;
    enum oc_proto_who who;
    const char *what; /* one line for docs and errors */
};

/* The table lookup by wire name (exact match); NULL when unknown. */
const struct oc_proto_request_def *oc_proto_request_lookup(const char *name, size_t len);
/* The whole table (for docs and tests); *ret_n entries. */
const struct oc_proto_request_def *oc_proto_request_table(size_t *ret_n);

/* May a peer with this uid send def? */
bool oc_proto_peer_may_send(const struct oc_proto_request_def *def, uint32_t peer_uid);

/* Write the 4-byte header for a body of len bytes. 0 or -EMSGSIZE (0 or too long). */
int oc_proto_header(uint8_t ret_hdr[OC_PROTO_HEADER], size_t len);

/*
 * Incremental frame reader: feed bytes as they arrive; a complete frame
 * is returned once, then the reader starts on the next one. The body
 * buffer is allocated at the announced size only (never above the cap).
 */
struct oc_proto_reader {
    uint8_t hdr[OC_PROTO_HEADER];
    size_t hdr_have;
    uint8_t *body; /* NULL until the header is complete */
    size_t body_len;
    size_t body_have;
};

void oc_proto_reader_init(struct oc_proto_reader *r);
/* Wipes and frees the body buffer. */
void oc_proto_reader_reset(struct oc_proto_reader *r);

/*
 * Consume up to len bytes of data. *ret_used says how many were taken.
 * Returns 1 with *ret_body and *ret_len set when a frame completed (the caller
 * owns the buffer: free() it, it is NUL-terminated one byte past the
 * body), 0 when more bytes are needed, -EMSGSIZE on a length of 0 or over
 * OC_PROTO_FRAME_MAX (the connection must end), -ENOMEM.
 */
int oc_proto_reader_feed(struct oc_proto_reader *r, const uint8_t *data, size_t len,
                         size_t *ret_used, uint8_t **ret_body, size_t *ret_len);

#endif /* OC_PROTO_H */
