/* jwks.h: JSON Web Key Set (RFC 7517) -> OpenSSL 3 public keys.
 *
 * A key set is parsed once (from the daemon's JWKS cache file or any
 * JWKS document) and then shared by any number of concurrent
 * verifications. The only thing written after oc_jwks_parse() returns is
 * each key's cache of prepared verification contexts (struct
 * oc_jwk_prepared), filled on first use with an atomic compare-and-swap.
 *
 * Usable keys: RSA (2048..8192-bit modulus, odd, minimal encoding; public
 * exponent odd, 3..2^32-1) and EC P-256 (x, y of 32 bytes, point on the
 * curve). "use" must be "sig" when present; "alg", when present, binds the
 * key to that one algorithm. Anything else is skipped (not fatal) and the
 * reason is kept for diagnostics; a set with no usable key is an error.
 * Library code: no logging. */
#ifndef OC_JWKS_H
#define OC_JWKS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "jwt.h"

#define OC_JWKS_MAX_BYTES  (256 * 1024) /* JWKS document */
#define OC_JWKS_MAX_KEYS   64           /* entries in "keys" */
#define OC_JWK_ISSUER_MAX  512          /* per-key "issuer" */
#define OC_RSA_MIN_BITS    2048
#define OC_RSA_MAX_BITS    8192
#define OC_JWK_SKIP_REASON 96

enum oc_jwk_type {
    OC_JWK_RSA = 1,
    OC_JWK_EC_P256 = 2,
};

/* Verification contexts of one key, one per algorithm (index: the bit
 * number of its OC_ALG_*), each set up by EVP_DigestVerifyInit() on the
 * first verification with that algorithm and then only copied: the
 * initialisation (fetching the signature implementation, binding the key,
 * setting the padding) costs about a third of an RSA-2048 verification. */
#define OC_ALG_SLOTS 3
struct oc_jwk_prepared {
    EVP_MD_CTX *ctx[OC_ALG_SLOTS]; /* NULL until first use; written once, atomically */
};

struct oc_jwk {
    char kid[OC_KID_MAX + 1];
    char x5t[OC_KID_MAX + 1]; /* "" when absent */
    char *issuer;             /* per-key issuer (may hold "{tenantid}"), NULL when absent */
    enum oc_jwk_type type;
    unsigned alg_mask; /* OC_ALG_* this key may verify */
    int bits;
    EVP_PKEY *pkey;
    EVP_MD *sha256; /* fetched once at load: no implicit fetch per verification */
    struct oc_jwk_prepared *prepared;
};

/* A key that was skipped, and why ("RSA modulus 1024 bits < 2048"). */
struct oc_jwk_skipped {
    char kid[OC_KID_MAX + 1]; /* "" when the entry had no usable kid */
    char reason[OC_JWK_SKIP_REASON];
};

struct oc_jwks {
    struct oc_jwk *keys;
    size_t n_keys;
    struct oc_jwk_skipped *skipped;
    size_t n_skipped;
};

/* Parses a JWKS document. Returns 0, -EFBIG (larger than
 * OC_JWKS_MAX_BYTES), -EINVAL (malformed, more than OC_JWKS_MAX_KEYS
 * entries, or no usable key; *ret_reason, a static string, says which) or
 * -ENOMEM. ret_reason may be NULL. */
int oc_jwks_parse(const char *buf, size_t len, struct oc_jwks **ret_jwks, const char **ret_why);

/* Reads (O_CLOEXEC, size-capped) and parses a JWKS file. -errno of the
 * I/O, -EFBIG when larger than OC_JWKS_MAX_BYTES, or as oc_jwks_parse(). */
int oc_jwks_load_file(const char *path, struct oc_jwks **ret_jwks, const char **ret_why);
/* In jwks_dir (root's, written by openclaw-sync): the key set, and the file
 * whose existence asks openclaw-sync (openclaw-sync.path) for a refresh;
 * it fetches at most every OC_JWKS_REFRESH_MIN seconds on request, and
 * pam_openclaw waits up to OC_JWKS_REFRESH_WAIT_MS for the new file. */
#define OC_JWKS_FILE            "keys.json"
#define OC_JWKS_REQUEST_FILE    "refresh-requested"
#define OC_JWKS_REFRESH_MIN     30
#define OC_JWKS_REFRESH_WAIT_MS 2000

/* The same from an open descriptor (pam_openclaw: a file opened relative to
 * its checked directory, rootdir.h). */
int oc_jwks_load_fd(int fd, struct oc_jwks **ret_jwks, const char **ret_why);

/* Finds a usable key by kid (a key matches on its kid, or on its x5t when
 * the token only had an x5t). NULL when absent. */
const struct oc_jwk *oc_jwks_find(const struct oc_jwks *jwks, const char *kid, bool kid_from_x5t);

/* The skip record for kid, or NULL (explains "unknown kid" refusals). */
const struct oc_jwk_skipped *oc_jwks_find_skipped(const struct oc_jwks *jwks, const char *kid);

void oc_jwks_free(struct oc_jwks *jwks);

/* Verifies a JWS signature over data with key for alg (one OC_ALG_* bit).
 * ES256 signatures are the 64-byte JOSE r||s form. Returns 0 when valid,
 * -EBADMSG when not, -EINVAL when the key cannot do alg, -ENOMEM. */
int oc_jwk_verify(const struct oc_jwk *key, unsigned alg, const void *data, size_t data_len,
                  const uint8_t *sig, size_t sig_len);

#endif
