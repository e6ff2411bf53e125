/* SPDX-License-Identifier: MIT */
/* Unit tests of the ssh wire encoder and of the formats openclawd builds for ssh-sign
 * (no TPM). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "helper/lib/oc_sshwire.h"

static const uint8_t *want_string(const uint8_t *p, const void *want, size_t n)
{
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    assert_memory_equal(p, len, 4);
    if (n > 0) {
        assert_memory_equal(p + 4, want, n);
    }
    return p + 4 + n;
}

static void test_ecdsa_blob_mpints(void **state)
{
    uint8_t raw[64], blob[OC_SSH_SIG_BLOB_MAX], r_want[33];
    size_t n = 0, il;
    const uint8_t *p;
    (void)state;

    /* r has its high bit set: one zero byte in front; s has leading zeros: stripped */
    raw[0] = 0x80;
    memset(raw + 1, 0x01, 31);
    memset(raw + 32, 0, 2);
    memset(raw + 34, 0x7f, 30);
    assert_int_equal(oc_ssh_sig_blob("ecdsa-sha2-nistp256", raw, 64, blob, sizeof(blob), &n), 0);
    r_want[0] = 0;
    memcpy(r_want + 1, raw, 32);
    il = 4 + 33 + 4 + 30;
    p = want_string(blob, "ecdsa-sha2-nistp256", 19);
    assert_int_equal(p[3], il);
    p = want_string(p + 4, r_want, 33);
    p = want_string(p, raw + 34, 30);
    assert_int_equal((size_t)(p - blob), n);

    /* zero is the empty mpint */
    memset(raw, 0, 32);
    memset(raw + 32, 0x11, 32);
    assert_int_equal(oc_ssh_sig_blob("ecdsa-sha2-nistp256", raw, 64, blob, sizeof(blob), &n), 0);
    p = want_string(blob, "ecdsa-sha2-nistp256", 19);
    assert_int_equal(p[3], 4 + 0 + 4 + 32);
    p = want_string(p + 4, "", 0);
    p = want_string(p, raw + 32, 32);
    assert_int_equal((size_t)(p - blob), n);

    assert_int_equal(oc_ssh_sig_blob("ecdsa-sha2-nistp256", raw, 63, blob, sizeof(blob), &n),
                     -EINVAL);
    assert_int_equal(oc_ssh_sig_blob("ecdsa-sha2-nistp256", raw, 64, blob, 40, &n), -ENOBUFS);
}

static void test_rsa_blob_and_refusals(void **state)
{
    uint8_t raw[256], blob[OC_SSH_SIG_BLOB_MAX];
    size_t n = 0;
    const uint8_t *p;
    (void)state;

    memset(raw, 0xc3, sizeof(raw));
    raw[0] = 0; /* an RSA signature keeps its full modulus length, leading zero included */
    for (int i = 0; i < 2; i++) {
        const char *alg = i == 0 ? "rsa-sha2-256" : "rsa-sha2-512";
        assert_int_equal(oc_ssh_sig_blob(alg, raw, 256, blob, sizeof(blob), &n), 0);
        p = want_string(blob, alg, 12);
        p = want_string(p, raw, 256);
        assert_int_equal((size_t)(p - blob), n);
    }
    assert_int_equal(oc_ssh_sig_blob("ssh-rsa", raw, 256, blob, sizeof(blob), &n), -EOPNOTSUPP);
    assert_int_equal(oc_ssh_sig_blob("rsa-sha2-256", raw, 0, blob, sizeof(blob), &n), -EINVAL);
}

static void test_pubkey_blob_ecdsa(void **state)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    uint8_t blob[512], point[65];
    size_t n = 0, pl = 0;
    const uint8_t *p;
    (void)state;

    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                                     sizeof(point), &pl),
                     1);
    assert_int_equal(oc_ssh_pubkey_blob(k, blob, sizeof(blob), &n), 0);
    p = want_string(blob, "ecdsa-sha2-nistp256", 19);
    p = want_string(p, "nistp256", 8);
    p = want_string(p, point, 65);
    assert_int_equal((size_t)(p - blob), n);
    assert_int_equal(n, 104);
    assert_int_equal(oc_ssh_pubkey_blob(k, blob, 50, &n), -ENOBUFS);
    EVP_PKEY_free(k);
    /* the directory's certificate keys may be P-384 and P-521 too */
    static const struct {
        const char *curve, *alg, *name;
        size_t point;
    } more[] = {{"P-384", "ecdsa-sha2-nistp384", "nistp384", 97},
                {"P-521", "ecdsa-sha2-nistp521", "nistp521", 133}};
    for (size_t i = 0; i < 2; i++) {
        uint8_t pt[133];
        char *line = NULL;
        k = EVP_EC_gen(more[i].curve);
        assert_non_null(k);
        assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt,
                                                         sizeof(pt), &pl),
                         1);
        assert_int_equal(oc_ssh_pubkey_blob(k, blob, sizeof(blob), &n), 0);
        p = want_string(blob, more[i].alg, 19);
        p = want_string(p, more[i].name, 8);
        p = want_string(p, pt, more[i].point);
        assert_int_equal((size_t)(p - blob), n);
        assert_int_equal(oc_ssh_pubkey_line(k, sizeof(blob), &line), 0);
        assert_int_equal(strncmp(line, more[i].alg, 19), 0);
        assert_int_equal(line[19], ' ');
        assert_int_equal(strlen(line + 20), 4 * ((n + 2) / 3));
        free(line);
        EVP_PKEY_free(k);
    }
    k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k);
    assert_int_equal(oc_ssh_pubkey_blob(k, blob, sizeof(blob), &n), -EOPNOTSUPP);
    EVP_PKEY_free(k);
}

static void test_pubkey_blob_rsa(void **state)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIGNUM *bn = NULL;
    static const uint8_t e65537[] = {0x01, 0x00, 0x01};
    uint8_t blob[1024], nbuf[257];
    size_t n = 0;
    const uint8_t *p;
    (void)state;

    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &bn), 1);
    nbuf[0] = 0; /* a 2048-bit modulus has its top bit set: mpint of 257 bytes */
    assert_int_equal(BN_bn2binpad(bn, nbuf + 1, 256), 256);
    BN_free(bn);
    assert_int_equal(oc_ssh_pubkey_blob(k, blob, sizeof(blob), &n), 0);
    p = want_string(blob, "ssh-rsa", 7);
    p = want_string(p, e65537, 3);
    p = want_string(p, nbuf, 257);
    assert_int_equal((size_t)(p - blob), n);
    EVP_PKEY_free(k);
}

/* ---- what ssh-sign may sign ---- */

struct wire {
    uint8_t b[1024];
    size_t n;
};

static void w_bytes(struct wire *w, const void *p, size_t n)
{
    assert_true(w->n + n <= sizeof(w->b));
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void w_string(struct wire *w, const void *p, size_t n)
{
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    w_bytes(w, len, 4);
    w_bytes(w, p, n);
}

static void w_str(struct wire *w, const char *s)
{
    w_string(w, s, strlen(s));
}

static const uint8_t key[] = "\0\0\0\x13"
                             "ecdsa-sha2-nistp256 and the rest of the key";

/* A userauth request; method NULL: publickey. */
static struct wire userauth(const char *alg, const uint8_t *k, size_t klen, const char *method)
{
    struct wire w = {.n = 0};
    uint8_t sid[32], t = 1, msg = OC_SSH_MSG_USERAUTH_REQUEST;

    memset(sid, 0xab, sizeof(sid));
    w_string(&w, sid, sizeof(sid));
    w_bytes(&w, &msg, 1);
    w_str(&w, "agent-alpha");
    w_str(&w, "ssh-connection");
    w_str(&w, method != NULL ? method : "publickey");
    w_bytes(&w, &t, 1);
    w_str(&w, alg);
    w_string(&w, k, klen);
    return w;
}

static struct wire sshsig(const char *ns, const char *hash, size_t digest_len)
{
    struct wire w = {.n = 0};
    uint8_t digest[64] = {0};

    w_bytes(&w, "SSHSIG", 6);
    w_str(&w, ns);
    w_str(&w, "");
    w_str(&w, hash);
    w_string(&w, digest, digest_len);
    return w;
}

static int check(const struct wire *w, const char *const *ns, size_t n_ns,
                 struct oc_ssh_signable *out)
{
    const char *why = NULL;
    int r = oc_ssh_signable_check(w->b, w->n, key, sizeof(key), OC_SSH_ALG_P256, ns, n_ns, out,
                                  &why);
    if (r < 0) {
        assert_non_null(why);
    }
    return r;
}

static void test_signable_userauth(void **state)
{
    struct oc_ssh_signable out;
    struct wire w;
    uint8_t other[sizeof(key)];
    (void)state;

    w = userauth(OC_SSH_ALG_P256, key, sizeof(key), NULL);
    assert_int_equal(check(&w, NULL, 0, &out), 0);
    assert_false(out.sshsig);
    assert_false(out.hostbound);
    assert_string_equal(out.user, "agent-alpha");
    assert_int_equal(out.session_id_len, 32);
    /* host-bound: a host key follows the key */
    w = userauth(OC_SSH_ALG_P256, key, sizeof(key), OC_SSH_METHOD_HOSTBOUND);
    assert_int_equal(check(&w, NULL, 0, &out), -EPERM); /* no host key */
    w_str(&w, "ssh-ed25519 host key");
    assert_int_equal(check(&w, NULL, 0, &out), 0);
    assert_true(out.hostbound);
    /* refused: another algorithm, another key, trailing bytes, cut, other method */
    w = userauth(OC_SSH_ALG_RSA_SHA256, key, sizeof(key), NULL);
    assert_int_equal(check(&w, NULL, 0, &out), -EPERM);
    memcpy(other, key, sizeof(key));
    other[sizeof(other) - 2] ^= 1;
    w = userauth(OC_SSH_ALG_P256, other, sizeof(other), NULL);
    assert_int_equal(check(&w, NULL, 0, &out), -EPERM);
    w = userauth(OC_SSH_ALG_P256, key, sizeof(key), NULL);
    w_bytes(&w, "", 1);
    assert_int_equal(check(&w, NULL, 0, &out), -EPERM);
    w = userauth(OC_SSH_ALG_P256, key, sizeof(key), NULL);
    w.n--;
    assert_int_equal(check(&w, NULL, 0, &out), -EPERM);
    w = userauth(OC_SSH_ALG_P256, key, sizeof(key), "password");
    assert_int_equal(check(&w, NULL, 0, &out), -EPERM);
}

static void test_signable_sshsig(void **state)
{
    static const char *const mine[] = {"builds"};
    struct oc_ssh_signable out;
    struct wire w;
    (void)state;

    w = sshsig("git", "sha512", 64);
    assert_int_equal(check(&w, NULL, 0, &out), 0);
    assert_true(out.sshsig);
    assert_string_equal(out.ns, "git");
    w = sshsig("file", "sha256", 32);
    assert_int_equal(check(&w, NULL, 0, &out), 0);
    w = sshsig("file", "sha256", 64); /* digest of the wrong length */
    assert_int_equal(check(&w, NULL, 0, &out), -EPERM);
    w = sshsig("file", "md5", 16);
    assert_int_equal(check(&w, NULL, 0, &out), -EPERM);
    w = sshsig("openclaw", "sha512", 64); /* not on the default list */
    assert_int_equal(check(&w, NULL, 0, &out), -EPERM);
    w = sshsig("builds", "sha512", 64); /* a configured list replaces the default */
    assert_int_equal(check(&w, mine, 1, &out), 0);
    w = sshsig("git", "sha512", 64);
    assert_int_equal(check(&w, mine, 1, &out), -EPERM);
}

static void test_signable_refuses_a_jws(void **state)
{
    static const char jws[] = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJ4In0";
    struct oc_ssh_signable out;
    const char *why = NULL;
    uint8_t digest[32] = {0};
    (void)state;

    assert_int_equal(oc_ssh_signable_check((const uint8_t *)jws, sizeof(jws) - 1, key, sizeof(key),
                                           OC_SSH_ALG_P256, NULL, 0, &out, &why),
                     -EPERM);
    assert_int_equal(oc_ssh_signable_check(digest, sizeof(digest), key, sizeof(key),
                                           OC_SSH_ALG_P256, NULL, 0, &out, &why),
                     -EPERM);
    assert_int_equal(oc_ssh_signable_check((const uint8_t *)"", 0, key, sizeof(key),
                                           OC_SSH_ALG_P256, NULL, 0, &out, &why),
                     -EPERM);
}

/* The field writer: a string whose length is set afterwards, the caller's
 * buffer refusing what does not fit, a growing one up to its cap. */
static void test_wbuf_fields(void **state)
{
    static const uint8_t want[] = {0, 0, 0, 7, 14, 0, 0, 0, 2, 'a', 'b', 0, 0, 0, 1, 0x80};
    static const uint8_t mp[] = {0, 0, 0x80};
    uint8_t fixed[8], *m = NULL, big[600];
    struct oc_ssh_wbuf w;
    size_t n = 0, at;
    (void)state;

    oc_ssh_wbuf_alloc(&w, 64);
    at = oc_ssh_string_begin(&w);
    oc_ssh_put_u8(&w, 14);
    oc_ssh_put_cstring(&w, "ab");
    oc_ssh_string_end(&w, at);
    oc_ssh_put_u32(&w, 1);
    oc_ssh_put_u8(&w, 0x80);
    assert_int_equal(oc_ssh_wbuf_take(&w, &m, &n), 0);
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(m, want, n);
    free(m);

    /* the caller's buffer: the field that does not fit and every later one dropped */
    oc_ssh_wbuf_fixed(&w, fixed, sizeof(fixed));
    oc_ssh_put_mpint(&w, mp, sizeof(mp)); /* 00 00 00 02 00 80 */
    assert_int_equal(w.err, 0);
    assert_int_equal(w.len, 6);
    assert_memory_equal(fixed, "\0\0\0\x02\0\x80", 6);
    oc_ssh_put_u32(&w, 7);
    assert_int_equal(w.err, -ENOBUFS);
    oc_ssh_put_u8(&w, 1);
    assert_int_equal(w.len, 6);

    /* a growing buffer: past its first allocation, and refused over its cap */
    memset(big, 0x5a, sizeof(big));
    oc_ssh_wbuf_alloc(&w, 4 + sizeof(big));
    oc_ssh_put_string(&w, big, sizeof(big));
    assert_int_equal(oc_ssh_wbuf_take(&w, &m, &n), 0);
    assert_int_equal(n, 4 + sizeof(big));
    want_string(m, big, sizeof(big));
    free(m);
    oc_ssh_wbuf_alloc(&w, 3 + sizeof(big));
    oc_ssh_put_string(&w, big, sizeof(big));
    m = NULL;
    assert_int_equal(oc_ssh_wbuf_take(&w, &m, &n), -ENOBUFS);
    assert_null(m);
}

static void test_fingerprint(void **state)
{
    char fp[OC_SSH_FP_SIZE];
    (void)state;

    /* SHA-256("abc") in unpadded base64, as ssh-keygen -l prints a fingerprint */
    assert_int_equal(oc_ssh_fingerprint((const uint8_t *)"abc", 3, fp), 0);
    assert_string_equal(fp, "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ecdsa_blob_mpints), cmocka_unit_test(test_rsa_blob_and_refusals),
            cmocka_unit_test(test_pubkey_blob_ecdsa), cmocka_unit_test(test_pubkey_blob_rsa),
            cmocka_unit_test(test_fingerprint),       cmocka_unit_test(test_signable_userauth),
            cmocka_unit_test(test_signable_sshsig),   cmocka_unit_test(test_signable_refuses_a_jws),
            cmocka_unit_test(test_wbuf_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
