/* SPDX-License-Identifier: MIT */
/* blob.c: parse and write the TPM blob file format (see blob.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "tpm/blob.h"

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static int sha256(const uint8_t *buf, size_t len, uint8_t out[OC_TPMBLOB_DIGEST_SIZE])
{
    unsigned int n = 0;

    if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1 || n != OC_TPMBLOB_DIGEST_SIZE) {
        return -EIO;
    }
    return 0;
}

const char *oc_tpm_key_alg_name(uint16_t alg)
{
    switch (alg) {
    case OC_TPM_KEY_RSA2048:
        return "rsa2048";
    case OC_TPM_KEY_ECC_P256:
        return "ecc-p256";
    default:
        return NULL;
    }
}

static int fail(const char **ret_why, const char *why, int r)
{
    if (ret_why != NULL) {
        *ret_why = why;
    }
    return r;
}

static bool pcr_bank_valid(uint16_t bank)
{
    return bank == TPM2_ALG_SHA1 || bank == TPM2_ALG_SHA256 || bank == TPM2_ALG_SHA384 ||
           bank == TPM2_ALG_SHA512;
}

/* The header fields that do not depend on the lengths; shared by parse and write. */
static const char *check_fields(const struct oc_tpmblob *b)
{
    if (b->type != OC_TPMBLOB_SIGNING_KEY && b->type != OC_TPMBLOB_SEALED &&
        b->type != OC_TPMBLOB_SOFTWARE_KEY) {
        return "unknown blob type";
    }
    if ((b->flags & ~(unsigned)OC_TPMBLOB_F_ALL) != 0) {
        return "unknown flags set";
    }
    if (b->type == OC_TPMBLOB_SOFTWARE_KEY) {
        if (oc_tpm_key_alg_name(b->key_alg) == NULL) {
            return "unknown key algorithm";
        }
        if (b->flags != 0) {
            return "software key with flags set";
        }
        if (b->parent != OC_TPM_PARENT_SOFTWARE || b->parent_handle != 0) {
            return "software key with a TPM parent";
        }
        if (b->pcr_bank != 0 || b->pcr_mask != 0) {
            return "software key with a PCR selection";
        }
        if (b->payload_len < OC_TPM_AEAD_NONCE + OC_TPM_AEAD_TAG + 1 ||
            b->payload_len > OC_SOFTKEY_PAYLOAD_MAX) {
            return "software key: encrypted private key missing or larger than its cap";
        }
        return NULL;
    }
    if (b->type == OC_TPMBLOB_SIGNING_KEY) {
        if (oc_tpm_key_alg_name(b->key_alg) == NULL) {
            return "unknown key algorithm";
        }
        if ((b->flags & (OC_TPMBLOB_F_PCR | OC_TPMBLOB_F_AEAD)) != 0) {
            return "signing key with sealed-secret flags";
        }
        if (b->payload_len != 0) {
            return "signing key with a payload";
        }
    } else {
        if (b->key_alg != OC_TPM_KEY_NONE) {
            return "sealed secret with a key algorithm";
        }
        if ((b->flags & OC_TPMBLOB_F_AEAD) != 0) {
            if (b->payload_len < OC_TPM_AEAD_NONCE + OC_TPM_AEAD_TAG + 1) {
                return "encrypted payload too short";
            }
        } else if (b->payload_len != 0) {
            return "payload without the encrypted-payload flag";
        }
    }
    if (b->payload_len > OC_TPMBLOB_PAYLOAD_MAX) {
        return "payload larger than the cap";
    }
    switch (b->parent) {
    case OC_TPM_PARENT_ECC_SRK:
    case OC_TPM_PARENT_RSA_SRK:
        if (b->parent_handle != 0) {
            return "parent handle set for a templated parent";
        }
        break;
    case OC_TPM_PARENT_PERSISTENT:
        if (b->parent_handle < OC_TPM_PERSISTENT_FIRST ||
            b->parent_handle > OC_TPM_PERSISTENT_LAST) {
            return "parent handle is not a persistent handle";
        }
        break;
    default:
        return "unknown parent type";
    }
    if ((b->flags & OC_TPMBLOB_F_PCR) != 0) {
        if (!pcr_bank_valid(b->pcr_bank)) {
            return "unknown PCR bank";
        }
        if (b->pcr_mask == 0 || (b->pcr_mask & ~OC_TPM_PCR_MASK_ALL) != 0) {
            return "PCR list empty or beyond PCR 23";
        }
    } else if (b->pcr_bank != 0 || b->pcr_mask != 0) {
        return "PCR selection without the PCR flag";
    }
    return NULL;
}

/* The object type the TPM public area must have for this blob. */
static const char *check_public(const struct oc_tpmblob *b)
{
    const TPMT_PUBLIC *p = &b->pub.publicArea;

    if (p->nameAlg != TPM2_ALG_SHA256) {
        return "public area name algorithm is not SHA-256";
    }
    if (b->type == OC_TPMBLOB_SOFTWARE_KEY) {
        TPMI_ALG_PUBLIC want = b->key_alg == OC_TPM_KEY_RSA2048 ? TPM2_ALG_RSA : TPM2_ALG_ECC;
        if (p->type != want) {
            return "public area type does not match the key algorithm";
        }
        /* honest about what it is: never claims to be bound to a TPM */
        if ((p->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) == 0 ||
            (p->objectAttributes & (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT)) != 0) {
            return "public area of a software key is not a plain signing key";
        }
        if (p->type == TPM2_ALG_RSA &&
            (p->parameters.rsaDetail.keyBits != 2048 || p->unique.rsa.size != 256)) {
            return "RSA key is not 2048 bits";
        }
        if (p->type == TPM2_ALG_ECC && (p->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 ||
                                        p->unique.ecc.x.size != 32 || p->unique.ecc.y.size != 32)) {
            return "ECC key is not a P-256 point";
        }
        return NULL;
    }
    if (b->type == OC_TPMBLOB_SIGNING_KEY) {
        TPMI_ALG_PUBLIC want = b->key_alg == OC_TPM_KEY_RSA2048 ? TPM2_ALG_RSA : TPM2_ALG_ECC;
        if (p->type != want) {
            return "public area type does not match the key algorithm";
        }
        if ((p->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) == 0 ||
            (p->objectAttributes & TPMA_OBJECT_FIXEDTPM) == 0) {
            return "public area is not a TPM-bound signing key";
        }
        if (p->type == TPM2_ALG_RSA && p->parameters.rsaDetail.keyBits != 2048) {
            return "RSA key is not 2048 bits";
        }
        if (p->type == TPM2_ALG_ECC && p->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256) {
            return "ECC key is not on P-256";
        }
    } else if (p->type != TPM2_ALG_KEYEDHASH) {
        return "public area of a sealed secret is not a keyed-hash object";
    }
    return NULL;
}

int oc_tpmblob_parse(const uint8_t *buf, size_t len, struct oc_tpmblob *ret, const char **ret_why)
{
    struct oc_tpmblob b;
    uint8_t digest[OC_TPMBLOB_DIGEST_SIZE];
    uint32_t pub_len, priv_len, payload_len;
    size_t off, total;
    const char *why;

    if (len > OC_TPMBLOB_FILE_MAX) {
        return fail(ret_why, "file larger than any valid blob", -EFBIG);
    }
    if (len < 8 || memcmp(buf, OC_TPMBLOB_MAGIC, 4) != 0) {
        return fail(ret_why, "not an openclaw TPM blob (bad magic)", -EBADMSG);
    }
    if (get16(buf + 4) != OC_TPMBLOB_VERSION) {
        return fail(ret_why, "unsupported blob format version (this build reads version 1)",
                    -EPROTONOSUPPORT);
    }
    if (len < OC_TPMBLOB_HEADER_SIZE + OC_TPMBLOB_DIGEST_SIZE) {
        return fail(ret_why, "truncated (shorter than the header)", -EBADMSG);
    }
    if (get16(buf + 8) != OC_TPMBLOB_HEADER_SIZE) {
        return fail(ret_why, "unexpected header size", -EBADMSG);
    }
    pub_len = get32(buf + 36);
    priv_len = get32(buf + 40);
    payload_len = get32(buf + 44);
    if (pub_len > OC_TPMBLOB_PUBLIC_MAX || priv_len > OC_TPMBLOB_PRIVATE_MAX ||
        payload_len > OC_TPMBLOB_PAYLOAD_MAX) {
        return fail(ret_why, "a length field is larger than its cap", -EBADMSG);
    }
    /* each term is capped above, so the sum cannot overflow */
    total = (size_t)OC_TPMBLOB_HEADER_SIZE + pub_len + priv_len + payload_len +
            OC_TPMBLOB_DIGEST_SIZE;
    if (len < total) {
        return fail(ret_why, "truncated (shorter than its length fields say)", -EBADMSG);
    }
    if (len > total) {
        return fail(ret_why, "trailing bytes after the checksum", -EBADMSG);
    }
    if (sha256(buf, len - OC_TPMBLOB_DIGEST_SIZE, digest) < 0) {
        return fail(ret_why, "cannot compute the checksum", -EIO);
    }
    if (CRYPTO_memcmp(digest, buf + len - OC_TPMBLOB_DIGEST_SIZE, sizeof(digest)) != 0) {
        return fail(ret_why, "checksum mismatch (file corrupted or edited)", -EBADMSG);
    }

    memset(&b, 0, sizeof(b));
    b.type = get16(buf + 6);
    b.flags = get16(buf + 10);
    b.key_alg = get16(buf + 12);
    b.parent = get16(buf + 14);
    b.parent_handle = get32(buf + 16);
    b.pcr_bank = get16(buf + 20);
    if (get16(buf + 22) != 0) {
        return fail(ret_why, "reserved header field is not zero", -EBADMSG);
    }
    b.pcr_mask = get32(buf + 24);
    b.created = get64(buf + 28);
    b.payload_len = payload_len;
    why = check_fields(&b);
    if (why != NULL) {
        return fail(ret_why, why, -EBADMSG);
    }

    off = 0;
    if (pub_len == 0 ||
        Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf + OC_TPMBLOB_HEADER_SIZE, pub_len, &off, &b.pub) !=
                TSS2_RC_SUCCESS ||
        off != pub_len) {
        return fail(ret_why, "malformed TPM public area", -EBADMSG);
    }
    off = 0;
    if (b.type == OC_TPMBLOB_SOFTWARE_KEY) {
        if (priv_len != 0) {
            return fail(ret_why, "software key with a TPM private area", -EBADMSG);
        }
    } else if (priv_len == 0 ||
               Tss2_MU_TPM2B_PRIVATE_Unmarshal(buf + OC_TPMBLOB_HEADER_SIZE + pub_len, priv_len,
                                               &off, &b.priv) != TSS2_RC_SUCCESS ||
               off != priv_len || b.priv.size == 0) {
        return fail(ret_why, "malformed TPM private area", -EBADMSG);
    }
    why = check_public(&b);
    if (why != NULL) {
        return fail(ret_why, why, -EBADMSG);
    }
    b.header = buf;
    b.pub_raw = buf + OC_TPMBLOB_HEADER_SIZE;
    b.pub_raw_len = pub_len;
    b.payload = payload_len > 0 ? buf + OC_TPMBLOB_HEADER_SIZE + pub_len + priv_len : NULL;
    *ret = b;
    return 0;
}

int oc_tpmblob_marshal_public(const TPM2B_PUBLIC *pub, uint8_t *buf, size_t cap, size_t *ret_len)
{
    size_t off = 0;

    if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, cap, &off) != TSS2_RC_SUCCESS) {
        return -EINVAL;
    }
    *ret_len = off;
    return 0;
}

int oc_tpmblob_write(const struct oc_tpmblob *b, uint8_t **ret_buf, size_t *ret_len)
{
    uint8_t pub[sizeof(TPM2B_PUBLIC)], priv[sizeof(TPM2B_PRIVATE)];
    size_t pub_len = 0, priv_len = 0, total, off;
    uint8_t *out;

    if (check_fields(b) != NULL || check_public(b) != NULL) {
        return -EINVAL;
    }
    if (b->payload_len > 0 && b->payload == NULL) {
        return -EINVAL;
    }
    if (Tss2_MU_TPM2B_PUBLIC_Marshal(&b->pub, pub, sizeof(pub), &pub_len) != TSS2_RC_SUCCESS) {
        return -EINVAL;
    }
    /* a software key has no TPM private area: its key is in the payload */
    if (b->type != OC_TPMBLOB_SOFTWARE_KEY &&
        Tss2_MU_TPM2B_PRIVATE_Marshal(&b->priv, priv, sizeof(priv), &priv_len) != TSS2_RC_SUCCESS) {
        return -EINVAL;
    }
    if (pub_len > OC_TPMBLOB_PUBLIC_MAX || priv_len > OC_TPMBLOB_PRIVATE_MAX) {
        return -EINVAL;
    }
    total = OC_TPMBLOB_HEADER_SIZE + pub_len + priv_len + b->payload_len + OC_TPMBLOB_DIGEST_SIZE;
    out = calloc(1, total);
    if (out == NULL) {
        return -ENOMEM;
    }
    memcpy(out, OC_TPMBLOB_MAGIC, 4);
    put16(out + 4, OC_TPMBLOB_VERSION);
    put16(out + 6, b->type);
    put16(out + 8, OC_TPMBLOB_HEADER_SIZE);
    put16(out + 10, b->flags);
    put16(out + 12, b->key_alg);
    put16(out + 14, b->parent);
    put32(out + 16, b->parent_handle);
    put16(out + 20, b->pcr_bank);
    put16(out + 22, 0);
    put32(out + 24, b->pcr_mask);
    put64(out + 28, b->created);
    put32(out + 36, (uint32_t)pub_len);
    put32(out + 40, (uint32_t)priv_len);
    put32(out + 44, (uint32_t)b->payload_len);
    off = OC_TPMBLOB_HEADER_SIZE;
    memcpy(out + off, pub, pub_len);
    off += pub_len;
    memcpy(out + off, priv, priv_len);
    off += priv_len;
    if (b->payload_len > 0) {
        memcpy(out + off, b->payload, b->payload_len);
        off += b->payload_len;
    }
    if (sha256(out, off, out + off) < 0) {
        free(out);
        return -EIO;
    }
    *ret_buf = out;
    *ret_len = total;
    return 0;
}

int oc_tpmblob_update_checksum(uint8_t *buf, size_t len)
{
    if (len < OC_TPMBLOB_HEADER_SIZE + OC_TPMBLOB_DIGEST_SIZE) {
        return -EINVAL;
    }
    return sha256(buf, len - OC_TPMBLOB_DIGEST_SIZE, buf + len - OC_TPMBLOB_DIGEST_SIZE);
}
