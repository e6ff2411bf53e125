/* jwt.h: JWS compact serialization parser for signed JWTs (RFC 7515/7519).
 *
 * Parses and checks everything that can be checked without a key: size
 * (first, before any scan), three strict base64url segments, the protected
 * header (strict JSON, alg whitelist, typ, crit, kid). The payload is NOT
 * parsed here: its bytes are only authenticated data until the signature
 * has been verified (oc_jwt_decode_payload() is called after that).
 * Library code: no logging; every refusal names the failed check. */
#ifndef OC_JWT_H
#define OC_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define OC_TOKEN_MAX  (16 * 1024) /* whole compact token, bytes */
#define OC_KID_MAX    256         /* kid / x5t header values, bytes */
#define OC_SIG_MAX    1024        /* decoded signature (RSA-8192) */
#define OC_DETAIL_MAX 192         /* refusal detail text */

/* Signature algorithms openclaw can verify, usable as a bit mask: alg.h. */
#include "alg.h"

/* Why something was refused: check is a stable name ("size", "format",
 * "header", "alg", "kid", "payload", ...), detail a log-safe sentence that
 * never contains the token or its signature. */
struct oc_refusal {
    const char *check;
    char detail[OC_DETAIL_MAX];
};

struct oc_jwt {
    unsigned alg;         /* exactly one OC_ALG_* bit */
    const char *alg_name; /* static string, e.g. "RS256" */
    char kid[OC_KID_MAX + 1];
    bool kid_from_x5t; /* header had only x5t (Entra v1), used as the kid */
    bool has_x5t;
    cJSON *header;
    /* Borrowed from the token passed to oc_jwt_parse(), which must outlive
     * this object: the JWS signing input "header.payload" and the payload
     * segment (still base64url). */
    const char *signing_input;
    size_t signing_input_len;
    const char *payload_b64;
    size_t payload_b64_len;
    uint8_t *sig;
    size_t sig_len;
};

/* Parses a compact JWS. alg_mask selects the algorithms enabled by policy
 * (subset of OC_ALG_ALL); "none" and HS* are refused whatever the mask.
 * Returns 0, -EACCES (refused, *why filled), -EINVAL (bad arguments) or
 * -ENOMEM. why may be NULL. */
int oc_jwt_parse(const char *token, size_t len, unsigned alg_mask, struct oc_jwt **ret_jwt,
                 struct oc_refusal *why);

/* Decodes and strictly parses the payload (call only after the signature
 * has been verified). Refusals use the check name "payload". */
int oc_jwt_decode_payload(const struct oc_jwt *jwt, cJSON **ret_payload, struct oc_refusal *why);

void oc_jwt_free(struct oc_jwt *jwt);

/* "RS256" for OC_ALG_RS256 etc.; NULL for anything else. */
const char *oc_alg_name(unsigned alg);
/* 0 and the bit for a supported name, -ENOENT otherwise. */
int oc_alg_from_name(const char *name, unsigned *ret_alg);

/* Fills a refusal (printf-style detail). Returns -EACCES for tail calls. */
int oc_refuse(struct oc_refusal *why, const char *check, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Copies an untrusted string for a detail message: at most cap-1 bytes,
 * non-printable bytes replaced by '?', "..." appended if cut. */
void oc_safe_copy(char *dst, size_t cap, const char *src);

/* Log-safe fingerprint of a token: the first 8 bytes of SHA-256 in hex
 * (16 chars + NUL). Returns 0 or -EINVAL. */
int oc_token_fingerprint(const char *token, size_t len, char ret_hex[17]);

#endif
