/* jwks.c: JWKS parsing into OpenSSL 3 public keys, and JWS signature
 * verification with those keys (see jwks.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "b64url.h"
#include "json.h"
#include "jwks.h"

#define OC_JWK_FIELD_MAX   2048 /* base64url of n (8192 bits = 1366 chars) and smaller fields */
#define OC_RSA_E_MAX_BYTES 4
#define OC_EC_COORD_BYTES  32
#define OC_JWK_SHORT_MAX   32 /* kty, use, alg, crv */
#define OC_JWK_OPS_MAX     16 /* key_ops entries */

/* Outcome of parsing one key entry. */
enum { KEY_OK = 0, KEY_SKIP = 1 };

static int skip(char *reason, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records why a key is skipped; the text is made printable (it may quote
 * member values from the file). Returns KEY_SKIP. */
static int skip(char *reason, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, OC_JWK_SKIP_REASON, fmt, ap);
    va_end(ap);
    for (char *c = reason; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) {
            *c = '?';
        }
    }
    return KEY_SKIP;
}

static bool printable_no_space(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) {
            return false;
        }
    }
    return true;
}

/* Decodes a base64url member into a new buffer; <0 with skip reason set. */
static int get_b64_member(const cJSON *k, const char *name, uint8_t **ret, size_t *ret_len,
                          char *reason)
{
    const char *s = NULL;
    int r = oc_json_get_string(k, name, OC_JWK_FIELD_MAX, &s);

    if (r < 0) {
        skip(reason, r == -ENOENT ? "missing '%s'" : "'%s' is not a short string", name);
        return r == -ENOMEM ? r : -EINVAL;
    }
    r = oc_b64url_decode(s, strlen(s), ret, ret_len);
    if (r == -ENOMEM) {
        return r;
    }
    if (r < 0) {
        skip(reason, "'%s' is not strict base64url", name);
        return -EINVAL;
    }
    return 0;
}

static int rsa_key(const cJSON *k, struct oc_jwk *key, char *reason)
{
    uint8_t *n = NULL, *e = NULL;
    size_t n_len = 0, e_len = 0;
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    uint64_t ev = 0;
    int bits, r;

    r = get_b64_member(k, "n", &n, &n_len, reason);
    if (r == 0) {
        r = get_b64_member(k, "e", &e, &e_len, reason);
    }
    if (r == -ENOMEM) {
        goto out;
    }
    if (r < 0) {
        r = KEY_SKIP;
        goto out;
    }
    if (n_len == 0 || n[0] == 0) {
        r = skip(reason, "RSA modulus is empty or not minimally encoded");
        goto out;
    }
    bits = (int)n_len * 8;
    for (uint8_t top = n[0]; (top & 0x80) == 0; top <<= 1) {
        bits--;
    }
    if (bits < OC_RSA_MIN_BITS || bits > OC_RSA_MAX_BITS) {
        r = skip(reason, "RSA modulus %d bits is outside %d..%d", bits, OC_RSA_MIN_BITS,
                 OC_RSA_MAX_BITS);
        goto out;
    }
    if ((n[n_len - 1] & 1) == 0) {
        r = skip(reason, "RSA modulus is even");
        goto out;
    }
    if (e_len == 0 || e_len > OC_RSA_E_MAX_BYTES || e[0] == 0) {
        r = skip(reason, "RSA exponent is empty, too long or not minimally encoded");
        goto out;
    }
    for (size_t i = 0; i < e_len; i++) {
        ev = (ev << 8) | e[i];
    }
    if (ev < 3 || (ev & 1) == 0) {
        r = skip(reason, "RSA exponent is not an odd number >= 3");
        goto out;
    }
    r = -ENOMEM;
    bn_n = BN_bin2bn(n, (int)n_len, NULL);
    bn_e = BN_bin2bn(e, (int)e_len, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn_n == NULL || bn_e == NULL || bld == NULL) {
        goto out;
    }
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1) {
        goto out;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (params == NULL || ctx == NULL) {
        goto out;
    }
    if (EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        r = skip(reason, "OpenSSL refused the RSA key");
        goto out;
    }
    key->type = OC_JWK_RSA;
    key->bits = bits;
    key->pkey = pkey;
    pkey = NULL;
    r = KEY_OK;
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    free(n);
    free(e);
    return r;
}

static int ec_key(const cJSON *k, struct oc_jwk *key, char *reason)
{
    uint8_t *x = NULL, *y = NULL;
    size_t x_len = 0, y_len = 0;
    uint8_t point[1 + 2 * OC_EC_COORD_BYTES];
    const char *crv = NULL;
    char group[] = "prime256v1";
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = NULL, *check = NULL;
    EVP_PKEY *pkey = NULL;
    int r;

    r = oc_json_get_string(k, "crv", OC_JWK_SHORT_MAX, &crv);
    if (r < 0) {
        r = skip(reason, "EC key has no usable crv");
        goto out;
    }
    if (strcmp(crv, "P-256") != 0) {
        r = skip(reason, "EC curve '%s' is not supported (P-256 only)", crv);
        goto out;
    }
    r = get_b64_member(k, "x", &x, &x_len, reason);
    if (r == 0) {
        r = get_b64_member(k, "y", &y, &y_len, reason);
    }
    if (r == -ENOMEM) {
        goto out;
    }
    if (r < 0) {
        r = KEY_SKIP;
        goto out;
    }
    if (x_len != OC_EC_COORD_BYTES || y_len != OC_EC_COORD_BYTES) {
        r = skip(reason, "EC P-256 x and y must be 32 bytes each");
        goto out;
    }
    point[0] = 0x04;
    memcpy(point + 1, x, OC_EC_COORD_BYTES);
    memcpy(point + 1 + OC_EC_COORD_BYTES, y, OC_EC_COORD_BYTES);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
    params[2] = OSSL_PARAM_construct_end();
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL) {
        r = -ENOMEM;
        goto out;
    }
    ERR_set_mark();
    if (EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        ERR_pop_to_mark();
        r = skip(reason, "EC point is not on the P-256 curve");
        goto out;
    }
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (check == NULL || EVP_PKEY_public_check(check) != 1) {
        ERR_pop_to_mark();
        r = skip(reason, "EC point is not a valid P-256 public key");
        goto out;
    }
    ERR_pop_to_mark();
    key->type = OC_JWK_EC_P256;
    key->bits = 256;
    key->pkey = pkey;
    pkey = NULL;
    r = KEY_OK;
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    free(x);
    free(y);
    return r;
}

/* key_ops, when present, must allow "verify". */
static bool key_ops_allow_verify(const cJSON *k)
{
    const char **ops = NULL;
    size_t n = 0;
    bool ok = false;

    if (oc_json_get_string_array(k, "key_ops", OC_JWK_OPS_MAX, OC_JWK_SHORT_MAX, &ops, &n) < 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ops[i], "verify") == 0) {
            ok = true;
        }
    }
    free(ops);
    return ok;
}

static void key_clear(struct oc_jwk *key)
{
    EVP_PKEY_free(key->pkey);
    EVP_MD_free(key->sha256);
    if (key->prepared != NULL) {
        for (size_t i = 0; i < OC_ALG_SLOTS; i++) {
            EVP_MD_CTX_free(key->prepared->ctx[i]);
        }
        free(key->prepared);
    }
    free(key->issuer);
    memset(key, 0, sizeof(*key));
}

/* Parses one entry into key: KEY_OK, KEY_SKIP (reason + kid set), or <0. */
static int parse_key(const cJSON *k, struct oc_jwk *key, char *kid_out, char *reason)
{
    static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "k"};
    const char *kid = NULL, *kty = NULL, *use = NULL, *alg = NULL, *x5t = NULL, *iss = NULL;
    unsigned alg_bit = 0;
    int r;

    kid_out[0] = '\0';
    if (!cJSON_IsObject(k)) {
        return skip(reason, "entry is not an object");
    }
    r = oc_json_get_string(k, "kid", OC_KID_MAX, &kid);
    if (r < 0 || kid[0] == '\0' || !printable_no_space(kid)) {
        return skip(reason, "no usable kid (string of 1-256 printable bytes)");
    }
    snprintf(kid_out, OC_KID_MAX + 1, "%s", kid);
    for (size_t i = 0; i < sizeof(private_members) / sizeof(private_members[0]); i++) {
        if (oc_json_member(k, private_members[i]) != NULL) {
            return skip(reason, "entry contains private key member '%s'", private_members[i]);
        }
    }
    r = oc_json_get_string(k, "kty", OC_JWK_SHORT_MAX, &kty);
    if (r < 0) {
        return skip(reason, "no usable kty");
    }
    r = oc_json_get_string(k, "use", OC_JWK_SHORT_MAX, &use);
    if (r != -ENOENT && (r < 0 || strcmp(use, "sig") != 0)) {
        return skip(reason, "use is '%s', not 'sig'", r < 0 ? "?" : use);
    }
    if (oc_json_member(k, "key_ops") != NULL && !key_ops_allow_verify(k)) {
        return skip(reason, "key_ops does not allow verify");
    }
    r = oc_json_get_string(k, "alg", OC_JWK_SHORT_MAX, &alg);
    if (r != -ENOENT && (r < 0 || oc_alg_from_name(alg, &alg_bit) < 0)) {
        return skip(reason, "alg '%s' is not supported", r < 0 ? "?" : alg);
    }
    r = oc_json_get_string(k, "x5t", OC_KID_MAX, &x5t);
    if (r != -ENOENT && (r < 0 || !printable_no_space(x5t))) {
        return skip(reason, "x5t is not a printable string");
    }
    r = oc_json_get_string(k, "issuer", OC_JWK_ISSUER_MAX, &iss);
    if (r != -ENOENT && (r < 0 || iss[0] == '\0' || !printable_no_space(iss))) {
        return skip(reason, "issuer is not a printable string of at most 512 bytes");
    }
    if (strcmp(kty, "RSA") == 0) {
        if (alg_bit != 0 && alg_bit != OC_ALG_RS256 && alg_bit != OC_ALG_PS256) {
            return skip(reason, "alg '%s' does not fit kty RSA", alg);
        }
        r = rsa_key(k, key, reason);
        key->alg_mask = alg_bit != 0 ? alg_bit : (OC_ALG_RS256 | OC_ALG_PS256);
    } else if (strcmp(kty, "EC") == 0) {
        if (alg_bit != 0 && alg_bit != OC_ALG_ES256) {
            return skip(reason, "alg '%s' does not fit kty EC", alg);
        }
        r = ec_key(k, key, reason);
        key->alg_mask = OC_ALG_ES256;
    } else {
        return skip(reason, "kty '%s' is not supported (RSA, EC only)", kty);
    }
    if (r != KEY_OK) {
        return r;
    }
    snprintf(key->kid, sizeof(key->kid), "%s", kid);
    snprintf(key->x5t, sizeof(key->x5t), "%s", x5t != NULL ? x5t : "");
    key->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    key->prepared = calloc(1, sizeof(*key->prepared));
    if (iss != NULL) {
        key->issuer = strdup(iss);
    }
    if (key->sha256 == NULL || key->prepared == NULL || (iss != NULL && key->issuer == NULL)) {
        key_clear(key);
        return -ENOMEM;
    }
    return KEY_OK;
}

void oc_jwks_free(struct oc_jwks *jwks)
{
    if (jwks == NULL) {
        return;
    }
    for (size_t i = 0; i < jwks->n_keys; i++) {
        key_clear(&jwks->keys[i]);
    }
    free(jwks->keys);
    free(jwks->skipped);
    free(jwks);
}

int oc_jwks_parse(const char *buf, size_t len, struct oc_jwks **ret_jwks, const char **ret_why)
{
    const char *reason = NULL;
    struct oc_jwks *jwks = NULL;
    cJSON *root = NULL;
    const cJSON *keys;
    size_t count = 0;
    int r;

    if (buf == NULL || ret_jwks == NULL) {
        return -EINVAL;
    }
    if (len > OC_JWKS_MAX_BYTES) {
        reason = "JWKS document is larger than 256 KiB";
        r = -EFBIG;
        goto out;
    }
    r = oc_json_parse_object(buf, len, &root, &reason);
    if (r < 0) {
        goto out;
    }
    keys = oc_json_member(root, "keys");
    if (keys == NULL || !cJSON_IsArray(keys)) {
        reason = "JWKS has no 'keys' array";
        r = -EINVAL;
        goto out;
    }
    for (const cJSON *k = keys->child; k != NULL; k = k->next) {
        if (++count > OC_JWKS_MAX_KEYS) {
            reason = "JWKS has more than 64 keys";
            r = -EINVAL;
            goto out;
        }
    }
    r = -ENOMEM;
    jwks = calloc(1, sizeof(*jwks));
    if (jwks == NULL) {
        goto out;
    }
    if (count > 0) {
        jwks->keys = calloc(count, sizeof(*jwks->keys));
        jwks->skipped = calloc(count, sizeof(*jwks->skipped));
        if (jwks->keys == NULL || jwks->skipped == NULL) {
            goto out;
        }
    }
    for (const cJSON *k = keys->child; k != NULL; k = k->next) {
        struct oc_jwk *key = &jwks->keys[jwks->n_keys];
        struct oc_jwk_skipped *sk = &jwks->skipped[jwks->n_skipped];

        r = parse_key(k, key, sk->kid, sk->reason);
        if (r < 0) {
            goto out;
        }
        if (r == KEY_OK && oc_jwks_find(jwks, key->kid, false) != NULL) {
            key_clear(key);
            snprintf(sk->reason, sizeof(sk->reason), "duplicate kid (an earlier key is used)");
            r = KEY_SKIP;
        }
        if (r == KEY_OK) {
            jwks->n_keys++;
        } else {
            key_clear(key);
            jwks->n_skipped++;
        }
    }
    if (jwks->n_keys == 0) {
        reason = "JWKS has no usable key";
        r = -EINVAL;
        goto out;
    }
    *ret_jwks = jwks;
    jwks = NULL;
    r = 0;
out:
    if (r == -ENOMEM && reason == NULL) {
        reason = "out of memory";
    }
    if (r < 0 && ret_why != NULL) {
        *ret_why = reason;
    }
    oc_jwks_free(jwks);
    cJSON_Delete(root);
    return r;
}

int oc_jwks_load_fd(int fd, struct oc_jwks **ret_jwks, const char **ret_why)
{
    struct stat st;
    char *buf = NULL;
    size_t have = 0;
    int r;

    if (fd < 0 || ret_jwks == NULL) {
        return -EINVAL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (ret_why != NULL) {
            *ret_why = "JWKS path is not a regular file";
        }
        return -EINVAL;
    }
    if (st.st_size > OC_JWKS_MAX_BYTES) {
        if (ret_why != NULL) {
            *ret_why = "JWKS document is larger than 256 KiB";
        }
        return -EFBIG;
    }
    /* one byte more than the cap, to notice a file that grew meanwhile */
    buf = malloc(OC_JWKS_MAX_BYTES + 1);
    if (buf == NULL) {
        return -ENOMEM;
    }
    r = 0;
    while (have <= OC_JWKS_MAX_BYTES) {
        ssize_t n = read(fd, buf + have, OC_JWKS_MAX_BYTES + 1 - have);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0) {
            break;
        }
        have += (size_t)n;
    }
    if (r < 0) {
        if (ret_why != NULL) {
            *ret_why = "cannot read the JWKS file";
        }
    } else if (have > OC_JWKS_MAX_BYTES) {
        r = -EFBIG;
        if (ret_why != NULL) {
            *ret_why = "JWKS document is larger than 256 KiB";
        }
    } else {
        r = oc_jwks_parse(buf, have, ret_jwks, ret_why);
    }
    free(buf);
    return r;
}

int oc_jwks_load_file(const char *path, struct oc_jwks **ret_jwks, const char **ret_why)
{
    int fd, r;

    if (path == NULL || ret_jwks == NULL) {
        return -EINVAL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        r = -errno;
        if (ret_why != NULL) {
            *ret_why = "cannot open the JWKS file";
        }
        return r;
    }
    r = oc_jwks_load_fd(fd, ret_jwks, ret_why);
    close(fd);
    return r;
}

const struct oc_jwk *oc_jwks_find(const struct oc_jwks *jwks, const char *kid, bool kid_from_x5t)
{
    if (jwks == NULL || kid == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < jwks->n_keys; i++) {
        if (strcmp(jwks->keys[i].kid, kid) == 0) {
            return &jwks->keys[i];
        }
    }
    if (kid_from_x5t) {
        for (size_t i = 0; i < jwks->n_keys; i++) {
            if (jwks->keys[i].x5t[0] != '\0' && strcmp(jwks->keys[i].x5t, kid) == 0) {
                return &jwks->keys[i];
            }
        }
    }
    return NULL;
}

const struct oc_jwk_skipped *oc_jwks_find_skipped(const struct oc_jwks *jwks, const char *kid)
{
    if (jwks == NULL || kid == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < jwks->n_skipped; i++) {
        if (jwks->skipped[i].kid[0] != '\0' && strcmp(jwks->skipped[i].kid, kid) == 0) {
            return &jwks->skipped[i];
        }
    }
    return NULL;
}

/* DER INTEGER from a big-endian unsigned value; returns bytes written. */
static size_t der_uint(uint8_t *out, const uint8_t *v, size_t n)
{
    size_t pad;

    while (n > 1 && v[0] == 0) {
        v++;
        n--;
    }
    pad = (v[0] & 0x80) != 0 ? 1 : 0;
    out[0] = 0x02;
    out[1] = (uint8_t)(n + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, v, n);
    return 2 + pad + n;
}

/* JOSE ES256 r||s (64 bytes) -> DER ECDSA-Sig-Value; returns its length. */
static size_t es256_to_der(const uint8_t *sig, uint8_t der[72])
{
    size_t n = 2;

    n += der_uint(der + n, sig, OC_EC_COORD_BYTES);
    n += der_uint(der + n, sig + OC_EC_COORD_BYTES, OC_EC_COORD_BYTES);
    der[0] = 0x30;
    der[1] = (uint8_t)(n - 2);
    return n;
}

/* A fresh context for key and alg, ready for EVP_DigestVerify(). NULL when
 * OpenSSL refuses (or is out of memory). */
static EVP_MD_CTX *prepare_ctx(const struct oc_jwk *key, unsigned alg)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool ok;

    if (mctx == NULL) {
        return NULL;
    }
    ok = EVP_DigestVerifyInit(mctx, &pctx, key->sha256, NULL, key->pkey) == 1;
    if (ok && alg == OC_ALG_PS256) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, key->sha256) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1;
    } else if (ok && alg == OC_ALG_RS256) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    }
    if (!ok) {
        EVP_MD_CTX_free(mctx);
        return NULL;
    }
    return mctx;
}

/* The key's prepared context for alg, set up on first use. Two threads
 * may both set one up: the compare-and-swap keeps the first, the other is
 * freed. A context in the cache is only ever read (copied) afterwards. */
static const EVP_MD_CTX *prepared_ctx(const struct oc_jwk *key, unsigned alg)
{
    EVP_MD_CTX **slot = &key->prepared->ctx[__builtin_ctz(alg)];
    EVP_MD_CTX *cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    EVP_MD_CTX *fresh, *expected = NULL;

    if (cur != NULL) {
        return cur;
    }
    fresh = prepare_ctx(key, alg);
    if (fresh == NULL) {
        return NULL;
    }
    if (__atomic_compare_exchange_n(slot, &expected, fresh, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        return fresh;
    }
    EVP_MD_CTX_free(fresh);
    return expected;
}

int oc_jwk_verify(const struct oc_jwk *key, unsigned alg, const void *data, size_t data_len,
                  const uint8_t *sig, size_t sig_len)
{
    uint8_t der[72];
    const EVP_MD_CTX *tmpl;
    EVP_MD_CTX *mctx = NULL;
    int r;

    if (key == NULL || key->pkey == NULL || key->sha256 == NULL || key->prepared == NULL ||
        (data == NULL && data_len > 0) || (sig == NULL && sig_len > 0)) {
        return -EINVAL;
    }
    if ((key->alg_mask & alg) == 0 || (alg & (alg - 1)) != 0 ||
        __builtin_ctz(alg) >= OC_ALG_SLOTS) {
        return -EINVAL;
    }
    if (alg == OC_ALG_ES256) {
        if (sig_len != 2 * OC_EC_COORD_BYTES) {
            return -EBADMSG;
        }
        sig_len = es256_to_der(sig, der);
        sig = der;
    } else if (sig_len != (size_t)EVP_PKEY_get_size(key->pkey)) {
        return -EBADMSG;
    }
    ERR_set_mark();
    r = -EBADMSG;
    tmpl = prepared_ctx(key, alg);
    if (tmpl == NULL) {
        goto out;
    }
    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        r = -ENOMEM;
        goto out;
    }
    if (EVP_MD_CTX_copy_ex(mctx, tmpl) == 1 &&
        EVP_DigestVerify(mctx, sig, sig_len, data, data_len) == 1) {
        r = 0;
    }
out:
    ERR_pop_to_mark();
    EVP_MD_CTX_free(mctx);
    return r;
}
