/* SPDX-License-Identifier: MIT */
/* sshkey_verify.c: ssh public keys and signature verification (see sshkey_verify.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "helper/client/sshkey_verify.h"

#define RSA_BITS_MIN 1024u  /* as OpenSSH's SSH_RSA_MINIMUM_MODULUS_SIZE */
#define RSA_BITS_MAX 16384u /* as OpenSSH's SSHBUF_MAX_BIGNUM * 8 */
#define ED25519_PK   32u
#define ED25519_SIG  64u

enum kind { KIND_ED25519, KIND_ECDSA, KIND_RSA };

struct curve {
    const char *type;  /* key and signature type */
    const char *name;  /* the curve's ssh name */
    const char *group; /* OpenSSL's group name */
    size_t field;      /* bytes of a coordinate */
    const EVP_MD *(*md)(void);
};

static const struct curve curves[] = {
        {"ecdsa-sha2-nistp256", "nistp256", "prime256v1", 32, EVP_sha256},
        {"ecdsa-sha2-nistp384", "nistp384", "secp384r1", 48, EVP_sha384},
        {"ecdsa-sha2-nistp521", "nistp521", "secp521r1", 66, EVP_sha512},
};

struct rd {
    const uint8_t *p;
    size_t len;
    size_t off;
};

static bool rd_string(struct rd *r, const uint8_t **ret, size_t *ret_len)
{
    uint32_t n;

    if (r->len - r->off < 4) {
        return false;
    }
    n = ((uint32_t)r->p[r->off] << 24) | ((uint32_t)r->p[r->off + 1] << 16) |
        ((uint32_t)r->p[r->off + 2] << 8) | r->p[r->off + 3];
    if (n > r->len - r->off - 4) {
        return false;
    }
    *ret = r->p + r->off + 4;
    *ret_len = n;
    r->off += 4 + (size_t)n;
    return true;
}

/* An mpint that must be positive (RFC 4251 5): no sign bit, at most one
 * leading zero byte (before a byte with the high bit set). Returns the
 * magnitude without the leading zero. */
static bool rd_mpint_pos(struct rd *r, const uint8_t **ret, size_t *ret_len)
{
    const uint8_t *s;
    size_t n;

    if (!rd_string(r, &s, &n) || n == 0 || (s[0] & 0x80) != 0) {
        return false;
    }
    if (s[0] == 0) {
        if (n == 1 || (s[1] & 0x80) == 0) {
            return false; /* zero, or not minimal */
        }
        s++;
        n--;
    }
    *ret = s;
    *ret_len = n;
    return true;
}

static bool is(const uint8_t *s, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

static int fail(const char **ret_why, const char *why, int err)
{
    *ret_why = why;
    return err;
}

static EVP_PKEY *pkey_from_params(const char *alg, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
    EVP_PKEY *pkey = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static int key_ecdsa(struct rd *r, const struct curve *c, EVP_PKEY **ret, const char **ret_why)
{
    const uint8_t *name, *q;
    size_t name_len, q_len;
    OSSL_PARAM_BLD *bld;

    if (!rd_string(r, &name, &name_len) || !is(name, name_len, c->name)) {
        return fail(ret_why, "ECDSA key: curve name does not match its type", -EINVAL);
    }
    if (!rd_string(r, &q, &q_len) || q_len != 1 + 2 * c->field || q[0] != 0x04) {
        return fail(ret_why, "ECDSA key: not an uncompressed point of its curve", -EINVAL);
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL) {
        return fail(ret_why, "out of memory", -ENOMEM);
    }
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->group, 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, q_len) == 1) {
        *ret = pkey_from_params("EC", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    return *ret != NULL ? 0 : fail(ret_why, "ECDSA key: point not on its curve", -EINVAL);
}

static int key_rsa(struct rd *r, EVP_PKEY **ret, const char **ret_why)
{
    const uint8_t *e, *n;
    size_t e_len, n_len;
    BIGNUM *bn_e = NULL, *bn_n = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    int bits;

    if (!rd_mpint_pos(r, &e, &e_len) || !rd_mpint_pos(r, &n, &n_len) || e_len > 8) {
        return fail(ret_why, "RSA key: malformed exponent or modulus", -EINVAL);
    }
    bn_e = BN_bin2bn(e, (int)e_len, NULL);
    bn_n = n_len <= RSA_BITS_MAX / 8 ? BN_bin2bn(n, (int)n_len, NULL) : NULL;
    bld = OSSL_PARAM_BLD_new();
    bits = bn_n != NULL ? BN_num_bits(bn_n) : 0;
    if (bn_e != NULL && bn_n != NULL && bld != NULL && bits >= (int)RSA_BITS_MIN &&
        BN_is_odd(bn_e) && !BN_is_one(bn_e) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1) {
        *ret = pkey_from_params("RSA", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_e);
    BN_free(bn_n);
    return *ret != NULL ? 0
                        : fail(ret_why, "RSA key: modulus not 1024..16384 bits or bad exponent",
                               -EINVAL);
}

/* The key of blob: its kind, curve (ECDSA), type name and OpenSSL key. */
static int key_parse(const uint8_t *blob, size_t len, enum kind *ret_kind,
                     const struct curve **ret_curve, char ret_type[OC_SSHKEY_TYPE_MAX],
                     EVP_PKEY **ret_pkey, const char **ret_why)
{
    struct rd r = {.p = blob, .len = len, .off = 0};
    const uint8_t *t, *pk;
    size_t t_len, pk_len;
    const struct curve *c = NULL;
    EVP_PKEY *pkey = NULL;
    enum kind kind;
    int rc;

    if (blob == NULL || len == 0 || len > OC_SSHKEY_BLOB_MAX || !rd_string(&r, &t, &t_len)) {
        return fail(ret_why, "malformed public key blob", -EINVAL);
    }
    if (is(t, t_len, "ssh-ed25519")) {
        kind = KIND_ED25519;
        if (!rd_string(&r, &pk, &pk_len) || pk_len != ED25519_PK) {
            return fail(ret_why, "Ed25519 key: not 32 bytes", -EINVAL);
        }
        pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, pk_len);
        rc = pkey != NULL ? 0 : fail(ret_why, "Ed25519 key: not a valid key", -EINVAL);
    } else if (is(t, t_len, "ssh-rsa")) {
        kind = KIND_RSA;
        rc = key_rsa(&r, &pkey, ret_why);
    } else {
        kind = KIND_ECDSA;
        for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]) && c == NULL; i++) {
            c = is(t, t_len, curves[i].type) ? &curves[i] : NULL;
        }
        if (c == NULL) {
            return fail(ret_why, "key type not supported", -EOPNOTSUPP);
        }
        rc = key_ecdsa(&r, c, &pkey, ret_why);
    }
    if (rc == 0 && r.off != r.len) {
        rc = fail(ret_why, "trailing bytes after the public key", -EINVAL);
    }
    if (rc < 0) {
        EVP_PKEY_free(pkey);
        return rc;
    }
    *ret_kind = kind;
    *ret_curve = c;
    if (ret_type != NULL) {
        snprintf(ret_type, OC_SSHKEY_TYPE_MAX, "%.*s", (int)t_len, (const char *)t);
    }
    *ret_pkey = pkey;
    return 0;
}

int oc_sshkey_check(const uint8_t *blob, size_t len, char ret_type[OC_SSHKEY_TYPE_MAX],
                    const char **ret_why)
{
    const struct curve *c;
    EVP_PKEY *pkey = NULL;
    enum kind kind;
    int rc = key_parse(blob, len, &kind, &c, ret_type, &pkey, ret_why);

    EVP_PKEY_free(pkey);
    return rc;
}

/* ECDSA's (mpint r, mpint s) as the DER OpenSSL verifies. */
static int ecdsa_der(const uint8_t *blob, size_t len, size_t field, uint8_t **ret_der,
                     size_t *ret_len)
{
    struct rd r = {.p = blob, .len = len, .off = 0};
    const uint8_t *rr, *ss;
    size_t r_len, s_len;
    ECDSA_SIG *es = NULL;
    BIGNUM *br = NULL, *bs = NULL;
    unsigned char *der = NULL;
    int n = -1;

    if (!rd_mpint_pos(&r, &rr, &r_len) || !rd_mpint_pos(&r, &ss, &s_len) || r.off != r.len ||
        r_len > field || s_len > field) {
        return -EINVAL;
    }
    es = ECDSA_SIG_new();
    br = BN_bin2bn(rr, (int)r_len, NULL);
    bs = BN_bin2bn(ss, (int)s_len, NULL);
    if (es != NULL && br != NULL && bs != NULL && ECDSA_SIG_set0(es, br, bs) == 1) {
        br = bs = NULL; /* owned by es now */
        n = i2d_ECDSA_SIG(es, &der);
    }
    BN_free(br);
    BN_free(bs);
    ECDSA_SIG_free(es);
    if (n <= 0) {
        return -ENOMEM;
    }
    *ret_der = der;
    *ret_len = (size_t)n;
    return 0;
}

static int digest_verify(EVP_PKEY *pkey, const EVP_MD *md, const uint8_t *sig, size_t sig_len,
                         const uint8_t *data, size_t data_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok;

    if (ctx == NULL) {
        return -ENOMEM;
    }
    ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 &&
         EVP_DigestVerify(ctx, sig, sig_len, data, data_len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -EBADMSG;
}

int oc_sshkey_verify(const uint8_t *blob, size_t blob_len, const uint8_t *sig, size_t sig_len,
                     const uint8_t *data, size_t data_len, const char **ret_why)
{
    struct rd r = {.p = sig, .len = sig_len, .off = 0};
    const uint8_t *t, *s;
    size_t t_len, s_len, n;
    const struct curve *c = NULL;
    EVP_PKEY *pkey = NULL;
    const EVP_MD *md = NULL;
    uint8_t *buf = NULL;
    enum kind kind;
    int rc;

    if (sig == NULL || data == NULL || ret_why == NULL) {
        return -EINVAL;
    }
    rc = key_parse(blob, blob_len, &kind, &c, NULL, &pkey, ret_why);
    if (rc < 0) {
        return rc;
    }
    if (sig_len == 0 || sig_len > OC_SSHKEY_SIG_MAX || !rd_string(&r, &t, &t_len) ||
        !rd_string(&r, &s, &s_len) || r.off != r.len) {
        rc = fail(ret_why, "malformed signature blob", -EINVAL);
    } else if (kind == KIND_ED25519) {
        if (!is(t, t_len, "ssh-ed25519")) {
            rc = fail(ret_why, "signature type does not match the Ed25519 key", -EOPNOTSUPP);
        } else if (s_len != ED25519_SIG) {
            rc = fail(ret_why, "Ed25519 signature: not 64 bytes", -EINVAL);
        } else {
            rc = digest_verify(pkey, NULL, s, s_len, data, data_len);
        }
    } else if (kind == KIND_ECDSA) {
        if (!is(t, t_len, c->type)) {
            rc = fail(ret_why, "signature type does not match the ECDSA key", -EOPNOTSUPP);
        } else if (ecdsa_der(s, s_len, c->field, &buf, &n) < 0) {
            rc = fail(ret_why, "ECDSA signature: malformed r and s", -EINVAL);
        } else {
            rc = digest_verify(pkey, c->md(), buf, n, data, data_len);
            OPENSSL_free(buf);
            buf = NULL;
        }
    } else {
        size_t mod = (size_t)EVP_PKEY_get_size(pkey);
        md = is(t, t_len, "rsa-sha2-256")   ? EVP_sha256()
             : is(t, t_len, "rsa-sha2-512") ? EVP_sha512()
                                            : NULL;
        if (md == NULL) {
            rc = fail(ret_why,
                      is(t, t_len, "ssh-rsa") ? "ssh-rsa (SHA-1) signatures are refused"
                                              : "signature type does not match the RSA key",
                      -EOPNOTSUPP);
        } else if (s_len == 0 || s_len > mod) {
            rc = fail(ret_why, "RSA signature: empty or longer than the modulus", -EINVAL);
        } else if ((buf = calloc(1, mod)) == NULL) {
            rc = -ENOMEM;
        } else {
            /* a signature shorter than the modulus is padded with zeros in front */
            memcpy(buf + mod - s_len, s, s_len);
            rc = digest_verify(pkey, md, buf, mod, data, data_len);
            free(buf);
        }
    }
    if (rc == -EBADMSG) {
        *ret_why = "the signature does not verify with the key";
    } else if (rc == -ENOMEM) {
        *ret_why = "out of memory";
    }
    EVP_PKEY_free(pkey);
    return rc;
}
