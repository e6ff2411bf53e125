/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of helper/client/sshkey_verify.c, the check of the host key's
 * signature in OpenSSH's session-bind@openssh.com: keys made with
 * libcrypto here, their ssh blobs and signatures built by hand from the
 * wire format (RFC 4253, 5656, 8332, 8709), then known-good signatures,
 * corrupted ones, signatures over other data, ssh-rsa (SHA-1), mismatched
 * and unknown types, malformed blobs.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include "helper/client/sshkey_verify.h"

struct buf {
    uint8_t p[4096];
    size_t len;
};

static void put_u32(struct buf *b, uint32_t v)
{
    assert_true(b->len + 4 <= sizeof(b->p));
    b->p[b->len++] = (uint8_t)(v >> 24);
    b->p[b->len++] = (uint8_t)(v >> 16);
    b->p[b->len++] = (uint8_t)(v >> 8);
    b->p[b->len++] = (uint8_t)v;
}

static void put_string(struct buf *b, const void *d, size_t n)
{
    put_u32(b, (uint32_t)n);
    assert_true(b->len + n <= sizeof(b->p));
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void put_cstring(struct buf *b, const char *s)
{
    put_string(b, s, strlen(s));
}

static void put_bn(struct buf *b, const BIGNUM *bn)
{
    uint8_t tmp[1100];
    int n = BN_bn2bin(bn, tmp + 1);

    tmp[0] = 0;
    if ((tmp[1] & 0x80) != 0) {
        put_string(b, tmp, (size_t)n + 1);
    } else {
        put_string(b, tmp + 1, (size_t)n);
    }
}

struct key {
    const char *type;     /* ssh key type */
    const char *sig_type; /* ssh signature type */
    const char *curve;    /* ECDSA: ssh curve name */
    EVP_PKEY *pkey;
    const EVP_MD *md;
    struct buf blob;
};

static EVP_PKEY *gen(const char *alg, const char *group, unsigned bits)
{
    EVP_PKEY *pkey = NULL;

    if (strcmp(alg, "ED25519") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    } else if (strcmp(alg, "EC") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
    } else {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    }
    assert_non_null(pkey);
    return pkey;
}

static void key_blob(struct key *k)
{
    k->blob.len = 0;
    put_cstring(&k->blob, k->type);
    if (strcmp(k->type, "ssh-ed25519") == 0) {
        uint8_t pk[32];
        size_t n = sizeof(pk);
        assert_int_equal(EVP_PKEY_get_raw_public_key(k->pkey, pk, &n), 1);
        put_string(&k->blob, pk, n);
    } else if (strcmp(k->type, "ssh-rsa") == 0) {
        BIGNUM *n = NULL, *e = NULL;
        assert_int_equal(EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &n), 1);
        assert_int_equal(EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &e), 1);
        put_bn(&k->blob, e);
        put_bn(&k->blob, n);
        BN_free(n);
        BN_free(e);
    } else {
        uint8_t q[200];
        size_t n = 0;
        put_cstring(&k->blob, k->curve);
        assert_int_equal(
                EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, q, sizeof(q), &n),
                1);
        put_string(&k->blob, q, n);
    }
}

/* The ssh signature blob of data by k (with sig_type, which may differ
 * from what k would use: the tests give it wrong on purpose). */
static void sign(const struct key *k, const char *sig_type, const EVP_MD *md, const void *data,
                 size_t len, struct buf *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t raw[1100];
    size_t n = sizeof(raw);

    assert_non_null(ctx);
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, k->pkey), 1);
    assert_int_equal(EVP_DigestSign(ctx, raw, &n, data, len), 1);
    EVP_MD_CTX_free(ctx);
    out->len = 0;
    put_cstring(out, sig_type);
    if (strncmp(k->type, "ecdsa-", 6) == 0) {
        const unsigned char *p = raw;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        struct buf inner = {.len = 0};
        assert_non_null(es);
        put_bn(&inner, ECDSA_SIG_get0_r(es));
        put_bn(&inner, ECDSA_SIG_get0_s(es));
        ECDSA_SIG_free(es);
        put_string(out, inner.p, inner.len);
    } else {
        put_string(out, raw, n);
    }
}

static const uint8_t sid[32] = "a session identifier of 32 byte";

static int verify(const struct key *k, const struct buf *sig, const void *data, size_t len)
{
    const char *why = NULL;
    int r = oc_sshkey_verify(k->blob.p, k->blob.len, sig->p, sig->len, data, len, &why);

    if (r != 0) {
        assert_non_null(why);
    }
    return r;
}

/* Good signature verifies; one flipped bit anywhere in the signature
 * value, or other data, does not. */
static void good_and_corrupted(struct key *k)
{
    struct buf sig;
    char type[OC_SSHKEY_TYPE_MAX];
    const char *why = NULL;

    key_blob(k);
    assert_int_equal(oc_sshkey_check(k->blob.p, k->blob.len, type, &why), 0);
    assert_string_equal(type, k->type);
    sign(k, k->sig_type, k->md, sid, sizeof(sid), &sig);
    assert_int_equal(verify(k, &sig, sid, sizeof(sid)), 0);
    /* other data */
    {
        uint8_t other[sizeof(sid)];
        memcpy(other, sid, sizeof(sid));
        other[5] ^= 1;
        assert_int_equal(verify(k, &sig, other, sizeof(other)), -EBADMSG);
    }
    /* the last byte of the signature value (RSA, Ed25519: the raw value;
     * ECDSA: the low byte of s) */
    sig.p[sig.len - 1] ^= 0x01;
    {
        int r = verify(k, &sig, sid, sizeof(sid));
        assert_true(r == -EBADMSG || r == -EINVAL);
        assert_int_not_equal(r, 0);
    }
    sig.p[sig.len - 1] ^= 0x01;
    /* a byte in the middle */
    sig.p[sig.len - 20] ^= 0x80;
    assert_int_not_equal(verify(k, &sig, sid, sizeof(sid)), 0);
    sig.p[sig.len - 20] ^= 0x80;
    assert_int_equal(verify(k, &sig, sid, sizeof(sid)), 0);
    /* trailing bytes after the signature blob */
    sig.p[sig.len] = 0;
    sig.len++;
    assert_int_equal(verify(k, &sig, sid, sizeof(sid)), -EINVAL);
    /* the key of another host does not verify it */
    {
        struct key other = *k;
        other.pkey = NULL;
        if (strcmp(k->type, "ssh-ed25519") == 0) {
            other.pkey = gen("ED25519", NULL, 0);
        } else if (strcmp(k->type, "ssh-rsa") == 0) {
            other.pkey = gen("RSA", NULL, (unsigned)EVP_PKEY_get_bits(k->pkey));
        } else {
            other.pkey = gen("EC",
                             strcmp(k->curve, "nistp256") == 0   ? "P-256"
                             : strcmp(k->curve, "nistp384") == 0 ? "P-384"
                                                                 : "P-521",
                             0);
        }
        key_blob(&other);
        sig.len--;
        assert_int_equal(verify(&other, &sig, sid, sizeof(sid)), -EBADMSG);
        EVP_PKEY_free(other.pkey);
    }
    EVP_PKEY_free(k->pkey);
}

static void test_ed25519(void **state)
{
    struct key k = {"ssh-ed25519", "ssh-ed25519", NULL, gen("ED25519", NULL, 0), NULL, {{0}, 0}};
    (void)state;
    good_and_corrupted(&k);
}

static void test_ecdsa_p256(void **state)
{
    struct key k = {"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", "nistp256",
                    gen("EC", "P-256", 0), EVP_sha256(),          {{0}, 0}};
    (void)state;
    good_and_corrupted(&k);
}

static void test_ecdsa_p384(void **state)
{
    struct key k = {"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", "nistp384",
                    gen("EC", "P-384", 0), EVP_sha384(),          {{0}, 0}};
    (void)state;
    good_and_corrupted(&k);
}

static void test_ecdsa_p521(void **state)
{
    struct key k = {"ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521", "nistp521",
                    gen("EC", "P-521", 0), EVP_sha512(),          {{0}, 0}};
    (void)state;
    good_and_corrupted(&k);
}

static void test_rsa_sha256(void **state)
{
    struct key k = {"ssh-rsa",    "rsa-sha2-256", NULL, gen("RSA", NULL, 2048),
                    EVP_sha256(), {{0}, 0}};
    (void)state;
    good_and_corrupted(&k);
}

static void test_rsa_sha512(void **state)
{
    struct key k = {"ssh-rsa",    "rsa-sha2-512", NULL, gen("RSA", NULL, 3072),
                    EVP_sha512(), {{0}, 0}};
    (void)state;
    good_and_corrupted(&k);
}

/* ssh-rsa signatures (SHA-1) are refused even when they verify; a
 * signature type that names another hash than the one used fails. */
static void test_rsa_sha1_and_mismatch_refused(void **state)
{
    struct key k = {"ssh-rsa", "ssh-rsa", NULL, gen("RSA", NULL, 2048), EVP_sha1(), {{0}, 0}};
    struct buf sig;
    (void)state;

    key_blob(&k);
    sign(&k, "ssh-rsa", EVP_sha1(), sid, sizeof(sid), &sig);
    assert_int_equal(verify(&k, &sig, sid, sizeof(sid)), -EOPNOTSUPP);
    sign(&k, "rsa-sha2-512", EVP_sha256(), sid, sizeof(sid), &sig);
    assert_int_equal(verify(&k, &sig, sid, sizeof(sid)), -EBADMSG);
    sign(&k, "ssh-ed25519", EVP_sha256(), sid, sizeof(sid), &sig);
    assert_int_equal(verify(&k, &sig, sid, sizeof(sid)), -EOPNOTSUPP);
    EVP_PKEY_free(k.pkey);

    /* an ECDSA P-256 signature labelled as P-384 */
    {
        struct key e = {"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", "nistp256",
                        gen("EC", "P-256", 0), EVP_sha256(),          {{0}, 0}};
        key_blob(&e);
        sign(&e, "ecdsa-sha2-nistp384", EVP_sha256(), sid, sizeof(sid), &sig);
        assert_int_equal(verify(&e, &sig, sid, sizeof(sid)), -EOPNOTSUPP);
        EVP_PKEY_free(e.pkey);
    }
}

/* Unknown key types, and malformed or weak keys. */
static void test_unknown_and_malformed_keys(void **state)
{
    struct buf b = {.len = 0}, sig = {.len = 0};
    const char *why = NULL;
    uint8_t zero[32] = {0};
    (void)state;

    put_cstring(&sig, "ssh-ed25519");
    put_string(&sig, zero, sizeof(zero));
    put_string(&sig, zero, sizeof(zero)); /* unused: fails on the key first */

    put_cstring(&b, "ssh-dss");
    put_string(&b, zero, sizeof(zero));
    assert_int_equal(oc_sshkey_check(b.p, b.len, NULL, &why), -EOPNOTSUPP);
    assert_int_equal(oc_sshkey_verify(b.p, b.len, sig.p, sig.len, sid, sizeof(sid), &why),
                     -EOPNOTSUPP);
    b.len = 0;
    put_cstring(&b, "sk-ssh-ed25519@openssh.com");
    put_string(&b, zero, sizeof(zero));
    assert_int_equal(oc_sshkey_check(b.p, b.len, NULL, &why), -EOPNOTSUPP);

    /* Ed25519 of 31 bytes; with trailing bytes */
    b.len = 0;
    put_cstring(&b, "ssh-ed25519");
    put_string(&b, zero, 31);
    assert_int_equal(oc_sshkey_check(b.p, b.len, NULL, &why), -EINVAL);
    b.len = 0;
    put_cstring(&b, "ssh-ed25519");
    put_string(&b, zero, 32);
    assert_int_equal(oc_sshkey_check(b.p, b.len, NULL, &why), 0);
    b.p[b.len++] = 0;
    assert_int_equal(oc_sshkey_check(b.p, b.len, NULL, &why), -EINVAL);
    /* a length past the end; empty */
    assert_int_equal(oc_sshkey_check(b.p, 10, NULL, &why), -EINVAL);
    assert_int_equal(oc_sshkey_check(b.p, 0, NULL, &why), -EINVAL);

    /* ECDSA: a point not on the curve; the wrong curve name; compressed */
    {
        uint8_t q[65];
        memset(q, 0x11, sizeof(q));
        q[0] = 0x04;
        b.len = 0;
        put_cstring(&b, "ecdsa-sha2-nistp256");
        put_cstring(&b, "nistp256");
        put_string(&b, q, sizeof(q));
        assert_int_equal(oc_sshkey_check(b.p, b.len, NULL, &why), -EINVAL);
        b.len = 0;
        put_cstring(&b, "ecdsa-sha2-nistp256");
        put_cstring(&b, "nistp384");
        put_string(&b, q, sizeof(q));
        assert_int_equal(oc_sshkey_check(b.p, b.len, NULL, &why), -EINVAL);
        b.len = 0;
        put_cstring(&b, "ecdsa-sha2-nistp256");
        put_cstring(&b, "nistp256");
        q[0] = 0x02;
        put_string(&b, q, 33);
        assert_int_equal(oc_sshkey_check(b.p, b.len, NULL, &why), -EINVAL);
    }
    /* RSA under 1024 bits; a negative modulus */
    {
        EVP_PKEY *small = gen("RSA", NULL, 768);
        struct key k = {"ssh-rsa", "rsa-sha2-256", NULL, small, EVP_sha256(), {{0}, 0}};
        key_blob(&k);
        assert_int_equal(oc_sshkey_check(k.blob.p, k.blob.len, NULL, &why), -EINVAL);
        EVP_PKEY_free(small);
        b.len = 0;
        put_cstring(&b, "ssh-rsa");
        put_string(&b, "\x01\x00\x01", 3);
        memset(b.p + b.len + 4, 0xff, 256);
        put_u32(&b, 256);
        b.len += 256;
        assert_int_equal(oc_sshkey_check(b.p, b.len, NULL, &why), -EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ed25519),
            cmocka_unit_test(test_ecdsa_p256),
            cmocka_unit_test(test_ecdsa_p384),
            cmocka_unit_test(test_ecdsa_p521),
            cmocka_unit_test(test_rsa_sha256),
            cmocka_unit_test(test_rsa_sha512),
            cmocka_unit_test(test_rsa_sha1_and_mismatch_refused),
            cmocka_unit_test(test_unknown_and_malformed_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
