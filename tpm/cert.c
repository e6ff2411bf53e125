/* SPDX-License-Identifier: MIT */
/*
 * cert.c: the self-signed X.509 certificate of a TPM key. OpenSSL builds
 * the to-be-signed part, the TPM signs its SHA-256 digest, and the
 * certificate is assembled around that signature. Also the x5t and
 * x5t#S256 thumbprints.
 *
 * Extensions: basicConstraints critical CA:FALSE, keyUsage critical
 * digitalSignature, extendedKeyUsage clientAuth, subjectKeyIdentifier.
 * A self-signed end-entity certificate is its own trust anchor: with it
 * `openssl verify -CAfile cert.pem cert.pem` succeeds.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "b64url.h"
#include "tpm/tpm-internal.h"

#define CERT_CN_MAX   64 /* the X.520 upper bound of commonName */
#define CERT_DAYS_MAX 3650

int oc_cert_thumbprints(X509 *cert, char ret_x5t[OC_X5T_SIZE], char ret_x5t_s256[OC_X5T_S256_SIZE])
{
    unsigned char *der = NULL;
    unsigned char sha1[20], sha256[32];
    unsigned int n1 = 0, n2 = 0;
    int len, r = -EIO;

    len = i2d_X509(cert, &der);
    if (len <= 0) {
        return -EINVAL;
    }
    if (EVP_Digest(der, (size_t)len, sha1, &n1, EVP_sha1(), NULL) == 1 &&
        EVP_Digest(der, (size_t)len, sha256, &n2, EVP_sha256(), NULL) == 1 &&
        oc_b64url_encode_into(sha1, n1, ret_x5t, OC_X5T_SIZE) == 0 &&
        oc_b64url_encode_into(sha256, n2, ret_x5t_s256, OC_X5T_S256_SIZE) == 0) {
        r = 0;
    }
    OPENSSL_free(der);
    return r;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok;

    if (ext == NULL) {
        return -EIO;
    }
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -EIO;
}

static bool cn_valid(const char *cn)
{
    size_t n = strlen(cn);

    if (n == 0 || n > CERT_CN_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)cn[i];
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

/* DER length octets for n into p (at most 5 bytes); returns how many. */
static size_t der_len(size_t n, uint8_t *p)
{
    if (n < 0x80) {
        p[0] = (uint8_t)n;
        return 1;
    }
    size_t bytes = 0;
    for (size_t t = n; t > 0; t >>= 8) {
        bytes++;
    }
    p[0] = (uint8_t)(0x80 | bytes);
    for (size_t i = 0; i < bytes; i++) {
        p[1 + i] = (uint8_t)(n >> (8 * (bytes - 1 - i)));
    }
    return 1 + bytes;
}

/* The certificate's signature value: RSA bytes, or an ECDSA-Sig-Value DER. */
static int signature_value(struct oc_tpm_key *key, const uint8_t *tbs, size_t tbs_len,
                           uint8_t **ret_sig, size_t *ret_len)
{
    uint8_t digest[32], raw[OC_TPM_SIG_MAX];
    unsigned int dn = 0;
    size_t raw_len = 0;
    int r;

    if (EVP_Digest(tbs, tbs_len, digest, &dn, EVP_sha256(), NULL) != 1) {
        return -EIO;
    }
    r = oc_tpm_key_sign(key, oc_tpm_key_default_alg(key), digest, raw, &raw_len);
    if (r < 0) {
        return r;
    }
    if (key->alg == OC_TPM_KEY_RSA2048) {
        uint8_t *s = malloc(raw_len);
        if (s == NULL) {
            return -ENOMEM;
        }
        memcpy(s, raw, raw_len);
        *ret_sig = s;
        *ret_len = raw_len;
        return 0;
    }

    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *br = BN_bin2bn(raw, 32, NULL), *bs = BN_bin2bn(raw + 32, 32, NULL);
    unsigned char *der = NULL;
    int len;

    if (es == NULL || br == NULL || bs == NULL || ECDSA_SIG_set0(es, br, bs) != 1) {
        ECDSA_SIG_free(es);
        BN_free(br);
        BN_free(bs);
        return -ENOMEM;
    }
    len = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    if (len <= 0) {
        return -EIO;
    }
    *ret_sig = malloc((size_t)len);
    if (*ret_sig == NULL) {
        OPENSSL_free(der);
        return -ENOMEM;
    }
    memcpy(*ret_sig, der, (size_t)len);
    *ret_len = (size_t)len;
    OPENSSL_free(der);
    return 0;
}

int oc_tpm_cert_create(struct oc_tpm_key *key, const char *cn, unsigned days, int64_t now,
                       X509 **ret_cert)
{
    struct oc_tpm *tpm = key->tpm;
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL, *done = NULL;
    X509_NAME *name = NULL;
    X509_ALGOR *alg = NULL;
    ASN1_INTEGER *serial = NULL;
    BIGNUM *sbn = NULL;
    X509V3_CTX v3;
    ASN1_BIT_STRING *bits = NULL;
    unsigned char *tbs = NULL, *alg_der = NULL, *bits_der = NULL, *cert = NULL;
    uint8_t *sig = NULL, rnd[16];
    size_t sig_len = 0;
    int tbs_len, alg_len, bits_len, r = -EIO;
    time_t t = (time_t)now;

    if (cn == NULL || !cn_valid(cn)) {
        return oc_tpm_set_error(tpm, -EINVAL,
                                "the certificate subject must be 1 to %d printable characters",
                                CERT_CN_MAX);
    }
    if (days == 0 || days > CERT_DAYS_MAX) {
        return oc_tpm_set_error(tpm, -EINVAL, "certificate validity must be 1 to %d days",
                                CERT_DAYS_MAX);
    }
    r = oc_tpm_key_public(key, &pkey);
    if (r < 0) {
        return oc_tpm_set_error(tpm, r, "cannot convert the TPM public key");
    }
    r = -EIO;
    x = X509_new();
    name = X509_NAME_new();
    alg = X509_ALGOR_new();
    sbn = BN_new();
    if (x == NULL || name == NULL || alg == NULL || sbn == NULL) {
        r = -ENOMEM;
        goto out;
    }
    /* a positive random 127-bit serial */
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        goto out;
    }
    rnd[0] &= 0x7f;
    rnd[0] |= 0x40;
    if (BN_bin2bn(rnd, sizeof(rnd), sbn) == NULL ||
        (serial = BN_to_ASN1_INTEGER(sbn, NULL)) == NULL) {
        goto out;
    }
    if (X509_set_version(x, X509_VERSION_3) != 1 || X509_set_serialNumber(x, serial) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) != 1 ||
        X509_set_subject_name(x, name) != 1 || X509_set_issuer_name(x, name) != 1 ||
        X509_time_adj_ex(X509_getm_notBefore(x), 0, -3600, &t) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, &t) == NULL ||
        X509_set_pubkey(x, pkey) != 1) {
        goto out;
    }
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    if (add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(x, &v3, NID_key_usage, "critical,digitalSignature") < 0 ||
        add_ext(x, &v3, NID_ext_key_usage, "clientAuth") < 0 ||
        add_ext(x, &v3, NID_subject_key_identifier, "hash") < 0) {
        goto out;
    }
    /* the signature algorithm appears inside the TBS and around it */
    if (key->alg == OC_TPM_KEY_RSA2048) {
        if (X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256WithRSAEncryption), V_ASN1_NULL, NULL) !=
            1) {
            goto out;
        }
    } else if (X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, NULL) != 1) {
        goto out;
    }
    /* OpenSSL offers no setter for the TBS signature field; it is the
     * library's own object, edited in place before the TBS is encoded */
    if (X509_ALGOR_copy((X509_ALGOR *)(uintptr_t)X509_get0_tbs_sigalg(x), alg) != 1) {
        goto out;
    }
    tbs_len = i2d_re_X509_tbs(x, &tbs);
    if (tbs_len <= 0) {
        goto out;
    }
    r = signature_value(key, tbs, (size_t)tbs_len, &sig, &sig_len);
    if (r < 0) {
        goto out;
    }
    r = -EIO;
    bits = ASN1_BIT_STRING_new();
    if (bits == NULL || ASN1_BIT_STRING_set(bits, sig, (int)sig_len) != 1) {
        goto out;
    }
    /* no unused bits */
    bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    alg_len = i2d_X509_ALGOR(alg, &alg_der);
    bits_len = i2d_ASN1_BIT_STRING(bits, &bits_der);
    if (alg_len <= 0 || bits_len <= 0) {
        goto out;
    }

    /* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } */
    size_t body = (size_t)tbs_len + (size_t)alg_len + (size_t)bits_len;
    uint8_t hdr[6];
    size_t hl;
    hdr[0] = 0x30;
    hl = 1 + der_len(body, hdr + 1);
    cert = malloc(hl + body);
    if (cert == NULL) {
        r = -ENOMEM;
        goto out;
    }
    memcpy(cert, hdr, hl);
    memcpy(cert + hl, tbs, (size_t)tbs_len);
    memcpy(cert + hl + tbs_len, alg_der, (size_t)alg_len);
    memcpy(cert + hl + tbs_len + alg_len, bits_der, (size_t)bits_len);
    const unsigned char *p = cert;
    done = d2i_X509(NULL, &p, (long)(hl + body));
    if (done == NULL || p != cert + hl + body) {
        r = oc_tpm_set_error(tpm, -EIO, "the assembled certificate does not parse");
        goto out;
    }
    /* self-check: the TPM's signature verifies with the certified key */
    if (X509_verify(done, pkey) != 1) {
        r = oc_tpm_set_error(tpm, -EIO, "the TPM-made certificate signature does not verify");
        goto out;
    }
    *ret_cert = done;
    done = NULL;
    r = key->soft != NULL ? OC_TPM_SOFTWARE_KEY : 0;
out:
    X509_free(done);
    X509_free(x);
    X509_NAME_free(name);
    X509_ALGOR_free(alg);
    ASN1_INTEGER_free(serial);
    BN_free(sbn);
    ASN1_BIT_STRING_free(bits);
    EVP_PKEY_free(pkey);
    OPENSSL_free(tbs);
    OPENSSL_free(alg_der);
    OPENSSL_free(bits_der);
    free(cert);
    free(sig);
    return r;
}
