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
    assert_int_equal(oc_tpm_b64url((const uint8_t *)"", 0, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(oc_tpm_b64url((const uint8_t *)"f", 1, out, sizeof(out)), 0);
    assert_string_equal(out, "Zg");
    assert_int_equal(oc_tpm_b64url((const uint8_t *)"fo", 2, out, sizeof(out)), 0);
    assert_string_equal(out, "Zm8");
    assert_int_equal(oc_tpm_b64url((const uint8_t *)"foobar", 6, out, sizeof(out)), 0);
    assert_string_equal(out, "Zm9vYmFy");
    assert_int_equal(oc_tpm_b64url((const uint8_t *)"\xfb\xff", 2, out, sizeof(out)), 0);
    assert_string_equal(out, "-_8");
    assert_int_equal(oc_tpm_b64url((const uint8_t *)"foobar", 6, out, 8), -ENOBUFS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(roundtrip_key),           cmocka_unit_test(roundtrip_sealed),
            cmocka_unit_test(every_bit_flip_refused),  cmocka_unit_test(every_truncation_refused),
            cmocka_unit_test(wrong_version_refused),   cmocka_unit_test(bad_fields_refused),
            cmocka_unit_test(public_mismatch_refused), cmocka_unit_test(oversized_refused),
            cmocka_unit_test(pcr_list_parsing),        cmocka_unit_test(base64url_vectors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
