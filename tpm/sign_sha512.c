/* SPDX-License-Identifier: MIT */
/*
 * sign_sha512.c: RSASSA-PKCS1-v1_5 over a SHA-512 digest, the one
 * signature outside the SHA-256 family openclaw makes (ssh's
 * rsa-sha2-512, RFC 8332, which the OpenSSH client asks an agent for by
 * default). Our RSA keys are created with the scheme left open
 * (TPM2_ALG_NULL), so the TPM accepts any hash it implements.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "tpm/tpm-internal.h"

static int soft_sign_sha512(struct oc_tpm_key *key, const uint8_t digest[64],
                            uint8_t sig[OC_TPM_SIG_MAX], size_t *ret_len)
{
    struct oc_tpm *tpm = key->tpm;
    EVP_PKEY_CTX *ctx;
    size_t n = OC_TPM_SIG_MAX;
    int r = -EIO;

    if (!tpm->allow_software_keys) {
        return oc_tpm_set_error(tpm, -EPERM, "software keys are refused (allow_software_keys)");
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->soft, NULL);
    if (ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
        EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha512()) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
        EVP_PKEY_sign(ctx, sig, &n, digest, 64) == 1 && n == 256) {
        *ret_len = n;
        r = OC_TPM_SOFTWARE_KEY;
    } else {
        oc_tpm_set_error(tpm, r, "OpenSSL could not sign with the software key");
    }
    EVP_PKEY_CTX_free(ctx);
    return r;
}

int oc_tpm_key_sign_rsa_sha512(struct oc_tpm_key *key, const uint8_t digest[64],
                               uint8_t sig[OC_TPM_SIG_MAX], size_t *ret_len)
{
    struct oc_tpm *tpm = key->tpm;
    TPMT_SIGNATURE *s = NULL;
    TSS2_RC rc;
    int r;

    if (key->alg != OC_TPM_KEY_RSA2048) {
        return oc_tpm_set_error(tpm, -EINVAL, "RSA with SHA-512 does not fit a %s key",
                                oc_tpm_key_alg_name(key->alg));
    }
    if (key->soft != NULL) {
        return soft_sign_sha512(key, digest, sig, ret_len);
    }
    r = oc_tpm_esys_sign(key, TPM2_ALG_RSASSA, TPM2_ALG_SHA512, digest, 64,
                         "signing with SHA-512 in the TPM", &s, &rc);
    if (r < 0) {
        TSS2_RC base = oc_tpm_rc_base(rc);

        /* a TPM without SHA-512 answers TPM2_RC_HASH or TPM2_RC_SCHEME */
        return rc != TSS2_RC_SUCCESS && (base == TPM2_RC_HASH || base == TPM2_RC_SCHEME)
                       ? -EOPNOTSUPP
                       : r;
    }
    if (s->sigAlg != TPM2_ALG_RSASSA || s->signature.rsassa.hash != TPM2_ALG_SHA512 ||
        s->signature.rsassa.sig.size != 256) {
        r = oc_tpm_set_error(tpm, -EPROTO, "the TPM returned a malformed RSA signature");
    } else {
        memcpy(sig, s->signature.rsassa.sig.buffer, 256);
        *ret_len = 256;
    }
    Esys_Free(s);
    return r;
}
