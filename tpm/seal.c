/* SPDX-License-Identifier: MIT */
/*
 * seal.c: secrets sealed to this TPM as keyed-hash objects, optionally
 * guarded by a PCR policy and an auth value. Secrets longer than the TPM
 * can hold are encrypted with AES-256-GCM under a random key, and the key
 * is sealed instead (the header and the public area are the GCM AAD).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tpm/tpm-internal.h"

#define AEAD_KEY_SIZE 32

void oc_tpm_secret_free(uint8_t *secret, size_t len)
{
    if (secret != NULL) {
        OPENSSL_cleanse(secret, len);
        free(secret);
    }
}

/* AES-256-GCM; out holds len bytes (+ tag for encryption). 0 or -EBADMSG/-EIO. */
static int aead(bool enc, const uint8_t key[AEAD_KEY_SIZE], const uint8_t nonce[OC_TPM_AEAD_NONCE],
                const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2, size_t aad2_len,
                const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[OC_TPM_AEAD_TAG])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, r = -EIO;

    if (c == NULL || len > OC_TPM_SECRET_MAX) {
        goto out;
    }
    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc ? 1 : 0) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, OC_TPM_AEAD_NONCE, NULL) != 1 ||
        EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc ? 1 : 0) != 1 ||
        EVP_CipherUpdate(c, NULL, &n, aad1, (int)aad1_len) != 1 ||
        EVP_CipherUpdate(c, NULL, &n, aad2, (int)aad2_len) != 1 ||
        EVP_CipherUpdate(c, out, &n, in, (int)len) != 1) {
        goto out;
    }
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, OC_TPM_AEAD_TAG, tag) != 1) {
        goto out;
    }
    if (EVP_CipherFinal_ex(c, out + n, &n) != 1) {
        r = enc ? -EIO : -EBADMSG;
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, OC_TPM_AEAD_TAG, tag) != 1) {
        goto out;
    }
    r = 0;
out:
    EVP_CIPHER_CTX_free(c);
    return r;
}

static void flush(struct oc_tpm *tpm, ESYS_TR *h)
{
    if (*h != ESYS_TR_NONE) {
        Esys_FlushContext(tpm->esys, *h);
        *h = ESYS_TR_NONE;
    }
}

/* The policy digest of PolicyPCR(selection, current values) [+ PolicyAuthValue]. */
static int trial_policy(struct oc_tpm *tpm, uint16_t bank, uint32_t mask, bool auth,
                        TPM2B_DIGEST *ret)
{
    static const TPMT_SYM_DEF none = {.algorithm = TPM2_ALG_NULL};
    TPML_PCR_SELECTION sel;
    TPM2B_DIGEST empty;
    TPM2B_DIGEST *digest = NULL;
    ESYS_TR s = ESYS_TR_NONE;
    TSS2_RC rc;
    int r = 0;

    oc_tpm_pcr_selection(bank, mask, &sel);
    memset(&empty, 0, sizeof(empty));
    rc = Esys_StartAuthSession(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               ESYS_TR_NONE, NULL, TPM2_SE_TRIAL, &none, TPM2_ALG_SHA256, &s);
    if (rc != TSS2_RC_SUCCESS) {
        return oc_tpm_fail(tpm, "starting a trial policy session", rc);
    }
    rc = Esys_PolicyPCR(tpm->esys, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &sel);
    if (rc != TSS2_RC_SUCCESS) {
        r = oc_tpm_fail(tpm, "computing the PCR policy (is the PCR bank enabled?)", rc);
        goto out;
    }
    if (auth) {
        rc = Esys_PolicyAuthValue(tpm->esys, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE);
        if (rc != TSS2_RC_SUCCESS) {
            r = oc_tpm_fail(tpm, "computing the auth value policy", rc);
            goto out;
        }
    }
    rc = Esys_PolicyGetDigest(tpm->esys, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest);
    if (rc != TSS2_RC_SUCCESS) {
        r = oc_tpm_fail(tpm, "reading the policy digest", rc);
        goto out;
    }
    *ret = *digest;
    Esys_Free(digest);
out:
    flush(tpm, &s);
    return r;
}

int oc_tpm_seal(struct oc_tpm *tpm, const uint8_t *secret, size_t len,
                const struct oc_seal_options *opt, uint64_t now, uint8_t **ret_blob,
                size_t *ret_len)
{
    TPM2B_SENSITIVE_CREATE sens;
    TPM2B_PUBLIC tmpl;
    TPM2B_DATA outside;
    TPML_PCR_SELECTION creation_pcr;
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_PUBLIC *pub = NULL;
    struct oc_tpmblob b;
    uint8_t key[AEAD_KEY_SIZE];
    uint8_t *payload = NULL, *out = NULL;
    size_t out_len = 0;
    bool use_aead = len > OC_TPM_SEAL_INLINE_MAX;
    bool has_auth = opt != NULL && opt->auth != NULL && opt->auth_len > 0;
    bool has_pcr = opt != NULL && opt->pcr_mask != 0;
    TSS2_RC rc;
    int r;

    r = oc_tpm_require_device(tpm);
    if (r < 0) {
        return r;
    }
    if (len == 0 || len > OC_TPM_SECRET_MAX) {
        return oc_tpm_set_error(tpm, -EINVAL, "a secret to seal must be 1 to %u bytes",
                                OC_TPM_SECRET_MAX);
    }
    if (has_auth && opt->auth_len > OC_TPM_AUTH_MAX) {
        return oc_tpm_set_error(tpm, -EINVAL, "the auth value is longer than %d bytes",
                                OC_TPM_AUTH_MAX);
    }
    if (has_pcr && ((opt->pcr_mask & ~OC_TPM_PCR_MASK_ALL) != 0 ||
                    (opt->pcr_bank != TPM2_ALG_SHA1 && opt->pcr_bank != TPM2_ALG_SHA256 &&
                     opt->pcr_bank != TPM2_ALG_SHA384))) {
        return oc_tpm_set_error(tpm, -EINVAL, "invalid PCR selection");
    }

    memset(&sens, 0, sizeof(sens));
    memset(&outside, 0, sizeof(outside));
    memset(&creation_pcr, 0, sizeof(creation_pcr));
    memset(&tmpl, 0, sizeof(tmpl));
    memset(&b, 0, sizeof(b));
    tmpl.publicArea.type = TPM2_ALG_KEYEDHASH;
    tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
    tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
    tmpl.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
    if (!has_auth) {
        tmpl.publicArea.objectAttributes |= TPMA_OBJECT_NODA;
    }
    if (has_pcr) {
        /* no USERWITHAUTH: only the policy can authorize the unseal */
        r = trial_policy(tpm, opt->pcr_bank, opt->pcr_mask, has_auth, &tmpl.publicArea.authPolicy);
        if (r < 0) {
            return r;
        }
        b.flags |= OC_TPMBLOB_F_PCR;
        b.pcr_bank = opt->pcr_bank;
        b.pcr_mask = opt->pcr_mask;
    } else {
        tmpl.publicArea.objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
    }
    if (has_auth) {
        b.flags |= OC_TPMBLOB_F_AUTH;
        sens.sensitive.userAuth.size = (uint16_t)opt->auth_len;
        memcpy(sens.sensitive.userAuth.buffer, opt->auth, opt->auth_len);
    }
    if (use_aead) {
        if (RAND_priv_bytes(key, sizeof(key)) != 1) {
            r = oc_tpm_set_error(tpm, -EIO, "no randomness for the encryption key");
            goto out;
        }
        memcpy(sens.sensitive.data.buffer, key, sizeof(key));
        sens.sensitive.data.size = sizeof(key);
        b.flags |= OC_TPMBLOB_F_AEAD;
    } else {
        memcpy(sens.sensitive.data.buffer, secret, len);
        sens.sensitive.data.size = (uint16_t)len;
    }

    r = oc_tpm_session_attrs(tpm, TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT);
    if (r < 0) {
        goto out;
    }
    rc = Esys_Create(tpm->esys, tpm->primary, tpm->session, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                     &tmpl, &outside, &creation_pcr, &priv, &pub, NULL, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        r = oc_tpm_fail(tpm, "sealing the secret", rc);
        goto out;
    }
    b.type = OC_TPMBLOB_SEALED;
    b.parent = tpm->parent;
    b.parent_handle = tpm->parent == OC_TPM_PARENT_PERSISTENT ? tpm->persistent : 0;
    b.created = now;
    b.pub = *pub;
    b.priv = *priv;
    if (use_aead) {
        b.payload_len = OC_TPM_AEAD_NONCE + len + OC_TPM_AEAD_TAG;
        payload = calloc(1, b.payload_len);
        if (payload == NULL) {
            r = -ENOMEM;
            goto out;
        }
        b.payload = payload;
    }
    r = oc_tpmblob_write(&b, &out, &out_len);
    if (r < 0) {
        r = oc_tpm_set_error(tpm, r, "cannot write the sealed blob");
        goto out;
    }
    if (use_aead) {
        /* encrypt in place, authenticating the header and the public area */
        struct oc_tpmblob parsed;
        uint8_t *p;
        r = oc_tpmblob_parse(out, out_len, &parsed, NULL);
        if (r < 0) {
            goto out;
        }
        p = out + (parsed.payload - out);
        if (RAND_bytes(p, OC_TPM_AEAD_NONCE) != 1) {
            r = -EIO;
            goto out;
        }
        r = aead(true, key, p, parsed.header, OC_TPMBLOB_HEADER_SIZE, parsed.pub_raw,
                 parsed.pub_raw_len, secret, len, p + OC_TPM_AEAD_NONCE,
                 p + OC_TPM_AEAD_NONCE + len);
        if (r < 0) {
            goto out;
        }
        r = oc_tpmblob_update_checksum(out, out_len);
        if (r < 0) {
            goto out;
        }
    }
    *ret_blob = out;
    *ret_len = out_len;
    out = NULL;
    r = 0;
out:
    OPENSSL_cleanse(&sens, sizeof(sens));
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(&b.priv, sizeof(b.priv));
    free(payload);
    free(out);
    Esys_Free(priv);
    Esys_Free(pub);
    return r;
}

/* One attempt: Unseal with a fresh policy session (PCR) or the salted session. */
static TSS2_RC unseal_once(struct oc_tpm *tpm, ESYS_TR obj, const struct oc_tpmblob *b,
                           TPM2B_SENSITIVE_DATA **ret_data, const char **ret_what)
{
    ESYS_TR s = ESYS_TR_NONE;
    TSS2_RC rc;

    if ((b->flags & OC_TPMBLOB_F_PCR) == 0) {
        *ret_what = "unsealing";
        if (oc_tpm_session_attrs(tpm, TPMA_SESSION_ENCRYPT) < 0) {
            return TSS2_ESYS_RC_GENERAL_FAILURE;
        }
        return Esys_Unseal(tpm->esys, obj, tpm->session, ESYS_TR_NONE, ESYS_TR_NONE, ret_data);
    }

    TPML_PCR_SELECTION sel;
    TPM2B_DIGEST empty;

    oc_tpm_pcr_selection(b->pcr_bank, b->pcr_mask, &sel);
    memset(&empty, 0, sizeof(empty));
    *ret_what = "starting the policy session";
    /* salted with the storage key, so the unsealed data travels encrypted */
    rc = Esys_StartAuthSession(tpm->esys, tpm->primary, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               ESYS_TR_NONE, NULL, TPM2_SE_POLICY, oc_tpm_session_symmetric(),
                               TPM2_ALG_SHA256, &s);
    if (rc != TSS2_RC_SUCCESS) {
        return rc;
    }
    *ret_what = "checking the PCR policy";
    rc = Esys_PolicyPCR(tpm->esys, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &empty, &sel);
    if (rc == TSS2_RC_SUCCESS && (b->flags & OC_TPMBLOB_F_AUTH) != 0) {
        *ret_what = "checking the auth value policy";
        rc = Esys_PolicyAuthValue(tpm->esys, s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE);
    }
    if (rc == TSS2_RC_SUCCESS) {
        /* the TPM flushes the session after a successful Unseal */
        rc = Esys_TRSess_SetAttributes(tpm->esys, s, TPMA_SESSION_ENCRYPT, 0xff);
    }
    if (rc == TSS2_RC_SUCCESS) {
        *ret_what = "unsealing (PCR policy)";
        rc = Esys_Unseal(tpm->esys, obj, s, ESYS_TR_NONE, ESYS_TR_NONE, ret_data);
        if (rc == TSS2_RC_SUCCESS) {
            s = ESYS_TR_NONE;
        }
    }
    flush(tpm, &s);
    return rc;
}

int oc_tpm_unseal(struct oc_tpm *tpm, const uint8_t *blob, size_t len, const uint8_t *auth,
                  size_t auth_len, uint8_t **ret_secret, size_t *ret_len)
{
    struct oc_tpmblob b;
    TPM2B_SENSITIVE_DATA *data = NULL;
    TPM2B_AUTH a;
    ESYS_TR obj = ESYS_TR_NONE;
    const char *why = NULL, *what = "unsealing";
    uint8_t *secret = NULL;
    size_t secret_len = 0;
    TSS2_RC rc;
    int r;

    r = oc_tpmblob_parse(blob, len, &b, &why);
    if (r < 0) {
        return oc_tpm_set_error(tpm, r, "the sealed file is not usable: %s", why);
    }
    if (b.type != OC_TPMBLOB_SEALED) {
        return oc_tpm_set_error(tpm, -EINVAL, "the file holds a signing key, not a sealed secret");
    }
    if ((b.flags & OC_TPMBLOB_F_AUTH) != 0 && (auth == NULL || auth_len == 0)) {
        return oc_tpm_set_error(
                tpm, -EACCES, "this secret was sealed with an auth value: supply it (--auth-file)");
    }
    if (auth_len > OC_TPM_AUTH_MAX) {
        return oc_tpm_set_error(tpm, -EINVAL, "the auth value is longer than %d bytes",
                                OC_TPM_AUTH_MAX);
    }
    r = oc_tpm_check_parent(tpm, &b);
    if (r < 0) {
        return r;
    }
    r = oc_tpm_session_attrs(tpm, TPMA_SESSION_DECRYPT);
    if (r < 0) {
        return r;
    }
    rc = Esys_Load(tpm->esys, tpm->primary, tpm->session, ESYS_TR_NONE, ESYS_TR_NONE, &b.priv,
                   &b.pub, &obj);
    OPENSSL_cleanse(&b.priv, sizeof(b.priv));
    if (rc != TSS2_RC_SUCCESS) {
        return oc_tpm_fail(tpm, "loading the sealed object", rc);
    }
    memset(&a, 0, sizeof(a));
    if ((b.flags & OC_TPMBLOB_F_AUTH) != 0) {
        a.size = (uint16_t)auth_len;
        memcpy(a.buffer, auth, auth_len);
    }
    rc = Esys_TR_SetAuth(tpm->esys, obj, &a);
    OPENSSL_cleanse(&a, sizeof(a));
    if (rc != TSS2_RC_SUCCESS) {
        r = oc_tpm_fail(tpm, "setting the auth value", rc);
        goto out;
    }
    for (int attempt = 0;; attempt++) {
        rc = unseal_once(tpm, obj, &b, &data, &what);
        if (oc_tpm_rc_base(rc) != TPM2_RC_PCR_CHANGED || attempt >= OC_TPM_PCR_CHANGED_RETRIES) {
            break;
        }
    }
    if (rc != TSS2_RC_SUCCESS) {
        r = oc_tpm_fail(tpm, what, rc);
        goto out;
    }

    if ((b.flags & OC_TPMBLOB_F_AEAD) != 0) {
        const uint8_t *nonce = b.payload;
        if (data->size != AEAD_KEY_SIZE) {
            r = oc_tpm_set_error(tpm, -EBADMSG, "the sealed key has the wrong size");
            goto out;
        }
        secret_len = b.payload_len - OC_TPM_AEAD_NONCE - OC_TPM_AEAD_TAG;
        secret = malloc(secret_len + 1);
        if (secret == NULL) {
            r = -ENOMEM;
            goto out;
        }
        r = aead(false, data->buffer, nonce, b.header, OC_TPMBLOB_HEADER_SIZE, b.pub_raw,
                 b.pub_raw_len, nonce + OC_TPM_AEAD_NONCE, secret_len, secret,
                 (uint8_t *)(uintptr_t)(nonce + OC_TPM_AEAD_NONCE + secret_len));
        if (r < 0) {
            r = oc_tpm_set_error(tpm, r == -EBADMSG ? -EBADMSG : r,
                                 "the encrypted payload does not authenticate (file edited)");
            goto out;
        }
    } else {
        secret_len = data->size;
        secret = malloc(secret_len + 1);
        if (secret == NULL) {
            r = -ENOMEM;
            goto out;
        }
        memcpy(secret, data->buffer, secret_len);
    }
    secret[secret_len] = '\0';
    *ret_secret = secret;
    *ret_len = secret_len;
    secret = NULL;
    r = 0;
out:
    if (data != NULL) {
        OPENSSL_cleanse(data, sizeof(*data));
        Esys_Free(data);
    }
    oc_tpm_secret_free(secret, secret_len + 1);
    flush(tpm, &obj);
    return r;
}
