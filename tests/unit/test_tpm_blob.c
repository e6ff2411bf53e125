/* SPDX-License-Identifier: MIT */
/* test_tpm_blob: the TPM blob file format, without a TPM. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "b64url.h"
#include "tpm/blob.h"
#include "tpm/tpm-internal.h"

static void fake_key(struct oc_tpmblob *b, uint16_t alg)
{
    memset(b, 0, sizeof(*b));
    b->type = OC_TPMBLOB_SIGNING_KEY;
    b->key_alg = alg;
    b->parent = OC_TPM_PARENT_ECC_SRK;
    b->created = 1764300000;
    b->pub.publicArea.nameAlg = TPM2_ALG_SHA256;
    b->pub.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                         TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH;
    if (alg == OC_TPM_KEY_RSA2048) {
        b->pub.publicArea.type = TPM2_ALG_RSA;
        b->pub.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        b->pub.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        b->pub.publicArea.parameters.rsaDetail.keyBits = 2048;
        b->pub.publicArea.unique.rsa.size = 256;
        memset(b->pub.publicArea.unique.rsa.buffer, 0xa5, 256);
    } else {
        b->pub.publicArea.type = TPM2_ALG_ECC;
        b->pub.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        b->pub.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        b->pub.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        b->pub.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        b->pub.publicArea.unique.ecc.x.size = 32;
        b->pub.publicArea.unique.ecc.y.size = 32;
    }
    b->priv.size = 126;
    memset(b->priv.buffer, 0x5a, b->priv.size);
}

static void fake_sealed(struct oc_tpmblob *b, const uint8_t *payload, size_t payload_len)
{
    memset(b, 0, sizeof(*b));
    b->type = OC_TPMBLOB_SEALED;
    b->parent = OC_TPM_PARENT_RSA_SRK;
    b->flags = OC_TPMBLOB_F_PCR | OC_TPMBLOB_F_AUTH;
    b->pcr_bank = TPM2_ALG_SHA256;
    b->pcr_mask = 1u << 16 | 1u << 7;
    b->pub.publicArea.type = TPM2_ALG_KEYEDHASH;
    b->pub.publicArea.nameAlg = TPM2_ALG_SHA256;
    b->pub.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
    b->pub.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
    b->pub.publicArea.authPolicy.size = 32;
    b->priv.size = 80;
    memset(b->priv.buffer, 0x11, b->priv.size);
    if (payload != NULL) {
        b->flags |= OC_TPMBLOB_F_AEAD;
        b->payload = payload;
        b->payload_len = payload_len;
    }
}

static void roundtrip_key(void **state)
{
    uint16_t algs[] = {OC_TPM_KEY_RSA2048, OC_TPM_KEY_ECC_P256};

    for (size_t i = 0; i < 2; i++) {
        struct oc_tpmblob in, out;
        uint8_t *buf = NULL;
        size_t len = 0;
        const char *why = NULL;

        fake_key(&in, algs[i]);
        assert_int_equal(oc_tpmblob_write(&in, &buf, &len), 0);
        assert_memory_equal(buf, "OCTB", 4);
        assert_int_equal(oc_tpmblob_parse(buf, len, &out, &why), 0);
        assert_int_equal(out.type, OC_TPMBLOB_SIGNING_KEY);
        assert_int_equal(out.key_alg, algs[i]);
        assert_int_equal(out.parent, OC_TPM_PARENT_ECC_SRK);
        assert_int_equal(out.created, 1764300000);
        assert_int_equal(out.priv.size, 126);
        assert_memory_equal(out.priv.buffer, in.priv.buffer, 126);
        assert_int_equal(out.pub.publicArea.type, in.pub.publicArea.type);
        assert_ptr_equal(out.payload, NULL);
        assert_ptr_equal(out.header, buf);
        free(buf);
    }
}

static void roundtrip_sealed(void **state)
{
    uint8_t payload[OC_TPM_AEAD_NONCE + 200 + OC_TPM_AEAD_TAG];
    struct oc_tpmblob in, out;
    uint8_t *buf = NULL;
    size_t len = 0;

    memset(payload, 0x77, sizeof(payload));
    fake_sealed(&in, payload, sizeof(payload));
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), 0);
    assert_int_equal(oc_tpmblob_parse(buf, len, &out, NULL), 0);
    assert_int_equal(out.type, OC_TPMBLOB_SEALED);
    assert_int_equal(out.flags, OC_TPMBLOB_F_PCR | OC_TPMBLOB_F_AUTH | OC_TPMBLOB_F_AEAD);
    assert_int_equal(out.pcr_bank, TPM2_ALG_SHA256);
    assert_int_equal(out.pcr_mask, 1u << 16 | 1u << 7);
    assert_int_equal(out.payload_len, sizeof(payload));
    assert_memory_equal(out.payload, payload, sizeof(payload));
    assert_ptr_equal(out.pub_raw, buf + OC_TPMBLOB_HEADER_SIZE);
    free(buf);
}

/* Every single-bit flip anywhere is refused, never crashes. */
static void every_bit_flip_refused(void **state)
{
    struct oc_tpmblob in, out;
    uint8_t *buf = NULL;
    size_t len = 0;

    fake_key(&in, OC_TPM_KEY_ECC_P256);
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), 0);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            const char *why = NULL;
            buf[i] ^= (uint8_t)(1u << bit);
            int r = oc_tpmblob_parse(buf, len, &out, &why);
            assert_true(r < 0);
            assert_non_null(why);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(oc_tpmblob_parse(buf, len, &out, NULL), 0);
    free(buf);
}

static void every_truncation_refused(void **state)
{
    struct oc_tpmblob in, out;
    uint8_t *buf = NULL, *copy;
    size_t len = 0;

    fake_key(&in, OC_TPM_KEY_RSA2048);
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), 0);
    for (size_t n = 0; n < len; n++) {
        const char *why = NULL;
        /* a fresh allocation of exactly n bytes, so ASan sees any over-read */
        copy = malloc(n > 0 ? n : 1);
        assert_non_null(copy);
        memcpy(copy, buf, n);
        assert_int_equal(oc_tpmblob_parse(copy, n, &out, &why), n < 4 ? -EBADMSG : -EBADMSG);
        assert_non_null(why);
        free(copy);
    }
    /* one byte too many */
    copy = malloc(len + 1);
    memcpy(copy, buf, len);
    copy[len] = 0;
    assert_int_equal(oc_tpmblob_parse(copy, len + 1, &out, NULL), -EBADMSG);
    free(copy);
    free(buf);
}

static void wrong_version_refused(void **state)
{
    struct oc_tpmblob in, out;
    uint8_t *buf = NULL;
    size_t len = 0;
    const char *why = NULL;

    fake_key(&in, OC_TPM_KEY_ECC_P256);
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), 0);
    buf[5] = 2;
    assert_int_equal(oc_tpmblob_update_checksum(buf, len), 0);
    assert_int_equal(oc_tpmblob_parse(buf, len, &out, &why), -EPROTONOSUPPORT);
    assert_non_null(strstr(why, "version"));
    buf[5] = 1;
    buf[0] = 'X';
    assert_int_equal(oc_tpmblob_parse(buf, len, &out, &why), -EBADMSG);
    assert_non_null(strstr(why, "magic"));
    free(buf);
}

/* Header fields edited and the checksum recomputed: still refused by the field checks. */
static void bad_fields_refused(void **state)
{
    static const struct {
        size_t off;
        uint8_t val;
    } edits[] = {
            {7, 9},     /* type */
            {9, 47},    /* header size */
            {11, 0x80}, /* unknown flag */
            {11, 0x02}, /* PCR flag on a key */
            {13, 7},    /* key alg */
            {15, 9},    /* parent */
            {19, 1},    /* parent handle on a templated parent */
            {21, 0x0b}, /* PCR bank without flag */
            {23, 1},    /* reserved */
            {24, 0xff}, /* PCR mask beyond 23 */
            {36, 0x7f}, /* public length beyond cap */
            {40, 0x7f}, /* private length beyond cap */
            {44, 0x7f}, /* payload length beyond cap */
            {47, 1},    /* payload on a key (length no longer matches) */
    };
    struct oc_tpmblob in, out;
    uint8_t *buf = NULL;
    size_t len = 0;

    fake_key(&in, OC_TPM_KEY_ECC_P256);
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), 0);
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        uint8_t *copy = malloc(len);
        const char *why = NULL;
        memcpy(copy, buf, len);
        copy[edits[i].off] = edits[i].val;
        assert_int_equal(oc_tpmblob_update_checksum(copy, len), 0);
        assert_true(oc_tpmblob_parse(copy, len, &out, &why) < 0);
        assert_non_null(why);
        free(copy);
    }
    free(buf);
}

static void public_mismatch_refused(void **state)
{
    struct oc_tpmblob in;
    uint8_t *buf = NULL;
    size_t len = 0;

    /* the writer refuses what the parser would refuse */
    fake_key(&in, OC_TPM_KEY_RSA2048);
    in.key_alg = OC_TPM_KEY_ECC_P256;
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), -EINVAL);
    fake_key(&in, OC_TPM_KEY_ECC_P256);
    in.pub.publicArea.objectAttributes &= ~TPMA_OBJECT_FIXEDTPM;
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), -EINVAL);
    fake_sealed(&in, NULL, 0);
    in.pub.publicArea.type = TPM2_ALG_RSA;
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), -EINVAL);
    fake_sealed(&in, (const uint8_t *)"short", 5);
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), -EINVAL);
}

static void oversized_refused(void **state)
{
    struct oc_tpmblob out;
    size_t n = OC_TPMBLOB_FILE_MAX + 1;
    uint8_t *big = calloc(1, n);

    assert_non_null(big);
    memcpy(big, "OCTB", 4);
    assert_int_equal(oc_tpmblob_parse(big, n, &out, NULL), -EFBIG);
    free(big);
}

static void pcr_list_parsing(void **state)
{
    uint16_t bank = 0;
    uint32_t mask = 0;

    assert_int_equal(oc_tpm_parse_pcrs("16", &bank, &mask), 0);
    assert_int_equal(bank, TPM2_ALG_SHA256);
    assert_int_equal(mask, 1u << 16);
    assert_int_equal(oc_tpm_parse_pcrs("sha1:0,7,23", &bank, &mask), 0);
    assert_int_equal(bank, TPM2_ALG_SHA1);
    assert_int_equal(mask, 1u | 1u << 7 | 1u << 23);
    assert_int_equal(oc_tpm_parse_pcrs("sha256:7+16", &bank, &mask), 0);
    assert_int_equal(mask, 1u << 7 | 1u << 16);
    assert_int_equal(oc_tpm_parse_pcrs("24", &bank, &mask), -EINVAL);
    assert_int_equal(oc_tpm_parse_pcrs("md5:1", &bank, &mask), -EINVAL);
    assert_int_equal(oc_tpm_parse_pcrs("", &bank, &mask), -EINVAL);
    assert_int_equal(oc_tpm_parse_pcrs("1,", &bank, &mask), -EINVAL);
    assert_int_equal(oc_tpm_parse_pcrs("0016", &bank, &mask), -EINVAL);
    assert_int_equal(oc_tpm_parse_pcrs("sha256:", &bank, &mask), -EINVAL);
}

static void base64url_vectors(void **state)
{
    char out[16];

    /* RFC 4648 section 10 vectors, unpadded */
    assert_int_equal(oc_b64url_encode_into((const uint8_t *)"", 0, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(oc_b64url_encode_into((const uint8_t *)"f", 1, out, sizeof(out)), 0);
    assert_string_equal(out, "Zg");
    assert_int_equal(oc_b64url_encode_into((const uint8_t *)"fo", 2, out, sizeof(out)), 0);
    assert_string_equal(out, "Zm8");
    assert_int_equal(oc_b64url_encode_into((const uint8_t *)"foobar", 6, out, sizeof(out)), 0);
    assert_string_equal(out, "Zm9vYmFy");
    assert_int_equal(oc_b64url_encode_into((const uint8_t *)"\xfb\xff", 2, out, sizeof(out)), 0);
    assert_string_equal(out, "-_8");
    assert_int_equal(oc_b64url_encode_into((const uint8_t *)"foobar", 6, out, 8), -ENOBUFS);
}

/* ---- software keys (type 3) ---- */

static uint8_t soft_payload[OC_TPM_AEAD_NONCE + 150 + OC_TPM_AEAD_TAG];

static void fake_software(struct oc_tpmblob *b, uint16_t alg)
{
    fake_key(b, alg);
    b->type = OC_TPMBLOB_SOFTWARE_KEY;
    b->parent = OC_TPM_PARENT_SOFTWARE;
    b->pub.publicArea.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH;
    memset(&b->priv, 0, sizeof(b->priv));
    memset(soft_payload, 0x3c, sizeof(soft_payload));
    b->payload = soft_payload;
    b->payload_len = sizeof(soft_payload);
}

static void software_roundtrip(void **state)
{
    uint16_t algs[] = {OC_TPM_KEY_RSA2048, OC_TPM_KEY_ECC_P256};

    for (size_t i = 0; i < 2; i++) {
        struct oc_tpmblob in, out;
        uint8_t *buf = NULL;
        size_t len = 0;

        fake_software(&in, algs[i]);
        assert_int_equal(oc_tpmblob_write(&in, &buf, &len), 0);
        assert_int_equal(oc_tpmblob_parse(buf, len, &out, NULL), 0);
        assert_int_equal(out.type, OC_TPMBLOB_SOFTWARE_KEY);
        assert_int_equal(out.parent, OC_TPM_PARENT_SOFTWARE);
        assert_int_equal(out.key_alg, algs[i]);
        assert_int_equal(out.priv.size, 0);
        assert_int_equal(out.payload_len, sizeof(soft_payload));
        assert_memory_equal(out.payload, soft_payload, sizeof(soft_payload));
        /* header, public part, payload, checksum: no private area at all */
        assert_int_equal(len, OC_TPMBLOB_HEADER_SIZE + out.pub_raw_len + sizeof(soft_payload) +
                                      OC_TPMBLOB_DIGEST_SIZE);
        free(buf);
    }
}

static void software_bit_flips_and_truncations_refused(void **state)
{
    struct oc_tpmblob in, out;
    uint8_t *buf = NULL, *copy;
    size_t len = 0;

    fake_software(&in, OC_TPM_KEY_RSA2048);
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), 0);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            const char *why = NULL;
            buf[i] ^= (uint8_t)(1u << bit);
            assert_true(oc_tpmblob_parse(buf, len, &out, &why) < 0);
            assert_non_null(why);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    for (size_t n = 0; n < len; n++) {
        const char *why = NULL;
        copy = malloc(n > 0 ? n : 1);
        assert_non_null(copy);
        memcpy(copy, buf, n);
        assert_int_equal(oc_tpmblob_parse(copy, n, &out, &why), -EBADMSG);
        assert_non_null(why);
        free(copy);
    }
    assert_int_equal(oc_tpmblob_parse(buf, len, &out, NULL), 0);
    free(buf);
}

/* Fields edited with a valid checksum: the software-key rules still refuse them. */
static void software_bad_fields_refused(void **state)
{
    static const struct {
        size_t off;
        uint8_t val;
    } edits[] = {
            {11, 0x01}, /* a flag */
            {11, 0x04}, /* the AEAD flag of sealed secrets */
            {13, 7},    /* key algorithm */
            {15, 1},    /* a TPM parent */
            {19, 1},    /* a parent handle */
            {21, 0x0b}, /* a PCR bank */
            {27, 0x01}, /* a PCR mask */
            {7, 1},     /* type 1: a TPM key without a private area */
    };
    struct oc_tpmblob in, out;
    uint8_t *buf = NULL;
    size_t len = 0;

    fake_software(&in, OC_TPM_KEY_ECC_P256);
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), 0);
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        uint8_t *copy = malloc(len);
        const char *why = NULL;
        memcpy(copy, buf, len);
        copy[edits[i].off] = edits[i].val;
        assert_int_equal(oc_tpmblob_update_checksum(copy, len), 0);
        assert_int_equal(oc_tpmblob_parse(copy, len, &out, &why), -EBADMSG);
        assert_non_null(why);
        free(copy);
    }
    free(buf);

    /* the writer refuses a software key that claims TPM binding, a private
     * area, a payload too short or above its cap */
    fake_software(&in, OC_TPM_KEY_ECC_P256);
    in.pub.publicArea.objectAttributes |= TPMA_OBJECT_FIXEDTPM;
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), -EINVAL);
    fake_software(&in, OC_TPM_KEY_RSA2048);
    in.pub.publicArea.unique.rsa.size = 128;
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), -EINVAL);
    fake_software(&in, OC_TPM_KEY_ECC_P256);
    in.payload_len = OC_TPM_AEAD_NONCE + OC_TPM_AEAD_TAG;
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), -EINVAL);
    fake_software(&in, OC_TPM_KEY_ECC_P256);
    in.payload_len = OC_SOFTKEY_PAYLOAD_MAX + 1;
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), -EINVAL);
    fake_software(&in, OC_TPM_KEY_ECC_P256);
    in.parent = OC_TPM_PARENT_ECC_SRK;
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), -EINVAL);
    /* and a TPM key may not claim the software parent */
    fake_key(&in, OC_TPM_KEY_ECC_P256);
    in.parent = OC_TPM_PARENT_SOFTWARE;
    assert_int_equal(oc_tpmblob_write(&in, &buf, &len), -EINVAL);
}

/* A private directory for the host key; removed by rm_tree. */
static void rm_tree(const char *dir)
{
    char p[512];
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            if (unlink(p) < 0) {
                rm_tree(p);
            }
        }
    }
    closedir(d);
    rmdir(dir);
}

static int verify(struct oc_tpm_key *key, enum oc_jws_alg alg, const uint8_t digest[32],
                  const uint8_t *sig, size_t sig_len)
{
    EVP_PKEY *pub = NULL;
    EVP_PKEY_CTX *ctx;
    uint8_t der[80];
    size_t der_len = 0;
    int ok;

    assert_int_equal(oc_tpm_key_public(key, &pub), 0);
    ctx = EVP_PKEY_CTX_new(pub, NULL);
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
    if (alg == OC_JWS_PS256) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32), 1);
    }
    if (alg == OC_JWS_ES256) {
        /* JOSE r||s to the DER ECDSA-Sig-Value OpenSSL verifies */
        ECDSA_SIG *es = ECDSA_SIG_new();
        unsigned char *p = der;
        assert_int_equal(sig_len, 64);
        assert_non_null(es);
        assert_int_equal(
                ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)), 1);
        der_len = (size_t)i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        assert_true(der_len > 0 && der_len <= sizeof(der));
        sig = der;
        sig_len = der_len;
    }
    ok = EVP_PKEY_verify(ctx, sig, sig_len, digest, 32);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pub);
    return ok;
}

static void software_key_lifecycle(void **state)
{
    char dir[] = "/tmp/oc-softkey-XXXXXX", keys[64], hostkey[96];
    struct oc_tpm_options opt;
    struct oc_tpm *tpm = NULL, *refusing = NULL;
    struct oc_tpm_key *key = NULL;
    uint8_t *rsa = NULL, *ecc = NULL, *other = NULL, digest[32], sig[OC_TPM_SIG_MAX];
    size_t rsa_len = 0, ecc_len = 0, other_len = 0, sig_len = 0;
    struct stat st;

    assert_non_null(mkdtemp(dir));
    snprintf(keys, sizeof(keys), "%s/keys", dir);
    snprintf(hostkey, sizeof(hostkey), "%s/%s", keys, OC_SOFTKEY_HOST_KEY_FILE);
    memset(&opt, 0, sizeof(opt));
    opt.parent = OC_TPM_PARENT_SOFTWARE;
    opt.keys_dir = keys;

    /* without the opt-in nothing opens */
    assert_int_equal(oc_tpm_open(&opt, &refusing, NULL, 0), -EPERM);
    opt.allow_software_keys = true;
    assert_int_equal(oc_tpm_open(&opt, &tpm, NULL, 0), 0);
    /* a software-only context refuses every TPM operation */
    assert_int_equal(oc_tpm_keygen(tpm, OC_TPM_KEY_ECC_P256, 1, &other, &other_len), -ENODEV);

    assert_int_equal(oc_tpm_keygen_software(tpm, OC_TPM_KEY_RSA2048, 1764300000, &rsa, &rsa_len),
                     OC_TPM_SOFTWARE_KEY);
    assert_int_equal(stat(keys, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(hostkey, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, OC_SOFTKEY_HOST_KEY_SIZE);
    assert_int_equal(oc_tpm_keygen_software(tpm, OC_TPM_KEY_ECC_P256, 1764300000, &ecc, &ecc_len),
                     OC_TPM_SOFTWARE_KEY);

    memset(digest, 0x42, sizeof(digest));
    assert_int_equal(oc_tpm_key_load(tpm, rsa, rsa_len, &key), OC_TPM_SOFTWARE_KEY);
    assert_true(oc_tpm_key_is_software(key));
    assert_int_equal(oc_tpm_key_alg(key), OC_TPM_KEY_RSA2048);
    assert_int_equal(oc_tpm_key_sign(key, OC_JWS_RS256, digest, sig, &sig_len),
                     OC_TPM_SOFTWARE_KEY);
    assert_int_equal(verify(key, OC_JWS_RS256, digest, sig, sig_len), 1);
    assert_int_equal(oc_tpm_key_sign(key, OC_JWS_PS256, digest, sig, &sig_len),
                     OC_TPM_SOFTWARE_KEY);
    assert_int_equal(verify(key, OC_JWS_PS256, digest, sig, sig_len), 1);
    assert_int_equal(oc_tpm_key_sign(key, OC_JWS_ES256, digest, sig, &sig_len), -EINVAL);
    oc_tpm_key_free(key);

    assert_int_equal(oc_tpm_key_load(tpm, ecc, ecc_len, &key), OC_TPM_SOFTWARE_KEY);
    assert_int_equal(oc_tpm_key_sign(key, OC_JWS_ES256, digest, sig, &sig_len),
                     OC_TPM_SOFTWARE_KEY);
    assert_int_equal(verify(key, OC_JWS_ES256, digest, sig, sig_len), 1);
    /* left loaded on purpose: oc_tpm_close frees it */

    /* one flipped ciphertext byte, checksum recomputed: GCM refuses */
    ecc[ecc_len - OC_TPMBLOB_DIGEST_SIZE - OC_TPM_AEAD_TAG - 3] ^= 1;
    assert_int_equal(oc_tpmblob_update_checksum(ecc, ecc_len), 0);
    assert_int_equal(oc_tpm_key_load(tpm, ecc, ecc_len, &key), -EKEYREJECTED);
    assert_non_null(strstr(oc_tpm_strerror(tpm), "does not authenticate"));
    /* one flipped header byte (creation time), checksum recomputed: GCM refuses */
    rsa[30] ^= 1;
    assert_int_equal(oc_tpmblob_update_checksum(rsa, rsa_len), 0);
    assert_int_equal(oc_tpm_key_load(tpm, rsa, rsa_len, &key), -EKEYREJECTED);
    rsa[30] ^= 1;
    assert_int_equal(oc_tpmblob_update_checksum(rsa, rsa_len), 0);

    /* a group-readable host key is refused */
    assert_int_equal(chmod(hostkey, 0640), 0);
    assert_int_equal(oc_tpm_key_load(tpm, rsa, rsa_len, &key), -EPERM);
    assert_int_equal(chmod(hostkey, 0600), 0);

    /* another host key: refused */
    assert_int_equal(unlink(hostkey), 0);
    assert_int_equal(oc_tpm_keygen_software(tpm, OC_TPM_KEY_ECC_P256, 1, &other, &other_len),
                     OC_TPM_SOFTWARE_KEY);
    assert_int_equal(oc_tpm_key_load(tpm, rsa, rsa_len, &key), -EKEYREJECTED);
    oc_tpm_close(tpm);

    free(rsa);
    free(ecc);
    free(other);
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(roundtrip_key),
            cmocka_unit_test(roundtrip_sealed),
            cmocka_unit_test(every_bit_flip_refused),
            cmocka_unit_test(every_truncation_refused),
            cmocka_unit_test(wrong_version_refused),
            cmocka_unit_test(bad_fields_refused),
            cmocka_unit_test(public_mismatch_refused),
            cmocka_unit_test(oversized_refused),
            cmocka_unit_test(pcr_list_parsing),
            cmocka_unit_test(base64url_vectors),
            cmocka_unit_test(software_roundtrip),
            cmocka_unit_test(software_bit_flips_and_truncations_refused),
            cmocka_unit_test(software_bad_fields_refused),
            cmocka_unit_test(software_key_lifecycle),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
