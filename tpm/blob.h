/* SPDX-License-Identifier: MIT */
/*
 * blob.h: the on-disk format of TPM-wrapped key and sealed-secret files.
 *
 * Pure parsing and writing: no TPM, no I/O, no logging. Everything the
 * file controls is bounds-checked against the caps below; docs/tpm.md
 * documents the layout byte by byte.
 *
 *   offset size field (integers big-endian)
 *        0    4 magic "OCTB"
 *        4    2 format version (OC_TPMBLOB_VERSION)
 *        6    2 type (enum oc_tpmblob_type)
 *        8    2 header size (OC_TPMBLOB_HEADER_SIZE)
 *       10    2 flags (OC_TPMBLOB_F_*)
 *       12    2 key algorithm (enum oc_tpm_key_alg; 0 for sealed secrets)
 *       14    2 parent (enum oc_tpm_parent)
 *       16    4 persistent parent handle (0 unless parent is persistent)
 *       20    2 PCR bank (a TPM2_ALG_ID hash, 0 without a PCR policy)
 *       22    2 reserved, zero
 *       24    4 PCR mask (bit i = PCR i, 0..23)
 *       28    8 creation time (seconds since the epoch, informational)
 *       36    4 public length P
 *       40    4 private length Q
 *       44    4 payload length R (AES-256-GCM: nonce, ciphertext, tag)
 *       48    P TPM2B_PUBLIC as marshalled by the TPM (tss2-mu)
 *     48+P    Q TPM2B_PRIVATE as marshalled by the TPM
 *   48+P+Q    R payload
 * 48+P+Q+R   32 SHA-256 of every byte before it
 *
 * The checksum catches corruption and truncation. It is not a signature:
 * tampering is caught by the TPM itself (the private part carries an
 * integrity HMAC keyed by the parent, bound to the public part) and, for
 * AEAD payloads, by GCM over the header and the public part.
 *
 * Type 3, a software signing key (only with allow_software_keys = yes):
 * parent OC_TPM_PARENT_SOFTWARE (handle 0), no flags, no PCRs, the public
 * key as a TPM2B_PUBLIC that is NOT fixedTPM/fixedParent, private length
 * Q = 0, and the payload = 12-byte nonce, the PKCS#8 DER private key
 * encrypted with AES-256-GCM under the host key (keys_dir/
 * software-host.key), 16-byte tag. The GCM additional data is the 48-byte
 * header followed by the marshalled public part.
 */
#ifndef OC_TPM_BLOB_H
#define OC_TPM_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#define OC_TPMBLOB_MAGIC       "OCTB"
#define OC_TPMBLOB_VERSION     1
#define OC_TPMBLOB_HEADER_SIZE 48
#define OC_TPMBLOB_DIGEST_SIZE 32

/* Caps on every length the file controls. */
#define OC_TPMBLOB_PUBLIC_MAX  ((uint32_t)sizeof(TPM2B_PUBLIC))
#define OC_TPMBLOB_PRIVATE_MAX ((uint32_t)sizeof(TPM2B_PRIVATE))
/* Longest secret accepted for sealing (AEAD mode). */
#define OC_TPM_SECRET_MAX (64u * 1024u)
/* Longest secret sealed directly in the TPM object (TPM MAX_SYM_DATA). */
#define OC_TPM_SEAL_INLINE_MAX 128u
#define OC_TPM_AEAD_NONCE      12u
#define OC_TPM_AEAD_TAG        16u
#define OC_TPMBLOB_PAYLOAD_MAX (OC_TPM_SECRET_MAX + OC_TPM_AEAD_NONCE + OC_TPM_AEAD_TAG)
/* Longest PKCS#8 DER private key in a software key blob (RSA-2048 needs ~1.2 KiB). */
#define OC_SOFTKEY_DER_MAX     4096u
#define OC_SOFTKEY_PAYLOAD_MAX (OC_SOFTKEY_DER_MAX + OC_TPM_AEAD_NONCE + OC_TPM_AEAD_TAG)
#define OC_TPMBLOB_FILE_MAX                                                                        \
    (OC_TPMBLOB_HEADER_SIZE + OC_TPMBLOB_PUBLIC_MAX + OC_TPMBLOB_PRIVATE_MAX +                     \
     OC_TPMBLOB_PAYLOAD_MAX + OC_TPMBLOB_DIGEST_SIZE)

enum oc_tpmblob_type {
    OC_TPMBLOB_SIGNING_KEY = 1,
    OC_TPMBLOB_SEALED = 2,
    OC_TPMBLOB_SOFTWARE_KEY = 3, /* not TPM-bound: allow_software_keys = yes only */
};

enum oc_tpm_key_alg {
    OC_TPM_KEY_NONE = 0,
    OC_TPM_KEY_RSA2048 = 1,
    OC_TPM_KEY_ECC_P256 = 2,
};

enum oc_tpm_parent {
    OC_TPM_PARENT_ECC_SRK = 1, /* ECC P-256 storage primary, TCG template */
    OC_TPM_PARENT_RSA_SRK = 2, /* RSA-2048 storage primary, TCG template */
    OC_TPM_PARENT_PERSISTENT = 3,
    OC_TPM_PARENT_SOFTWARE = 4, /* no TPM: the host key in keys_dir encrypts the key */
};

enum {
    OC_TPMBLOB_F_AUTH = 1u << 0, /* an auth value is required */
    OC_TPMBLOB_F_PCR = 1u << 1,  /* a PCR policy guards the object */
    OC_TPMBLOB_F_AEAD = 1u << 2, /* the object holds a key; payload holds the secret */
    OC_TPMBLOB_F_ALL = OC_TPMBLOB_F_AUTH | OC_TPMBLOB_F_PCR | OC_TPMBLOB_F_AEAD,
};

/* Handle ranges, spelled out: the tss2 header macros shift a signed int
 * into its sign bit, which UBSan rightly reports. */
#define OC_TPM_PERSISTENT_FIRST     0x81000000u
#define OC_TPM_PERSISTENT_LAST      0x81ffffffu
#define OC_TPM_TRANSIENT_FIRST      0x80000000u
#define OC_TPM_LOADED_SESSION_FIRST 0x02000000u
#define OC_TPM_SAVED_SESSION_FIRST  0x03000000u

/* PCRs 0..23 exist on every PC client TPM. */
#define OC_TPM_PCR_MASK_ALL 0x00ffffffu

struct oc_tpmblob {
    uint16_t type;
    uint16_t flags;
    uint16_t key_alg;
    uint16_t parent;
    uint32_t parent_handle;
    uint16_t pcr_bank;
    uint32_t pcr_mask;
    uint64_t created;
    TPM2B_PUBLIC pub;
    TPM2B_PRIVATE priv;
    const uint8_t *payload; /* parse: points into the input; write: caller's */
    size_t payload_len;
    const uint8_t *header;  /* parse only: the OC_TPMBLOB_HEADER_SIZE header */
    const uint8_t *pub_raw; /* parse only: the marshalled public part */
    size_t pub_raw_len;
};

/*
 * Parse and check a blob. On success *ret points into buf for payload,
 * header and pub_raw (keep buf alive). Returns 0, -EBADMSG (malformed,
 * truncated, corrupted), -EPROTONOSUPPORT (another format version),
 * -EFBIG (larger than OC_TPMBLOB_FILE_MAX). *ret_why (optional) gets a
 * static, human-readable reason on failure.
 */
int oc_tpmblob_parse(const uint8_t *buf, size_t len, struct oc_tpmblob *ret, const char **ret_why);

/*
 * Serialize b (header fields, pub, priv, payload) into a new buffer.
 * The header and pub_raw fields are ignored. Returns 0, -EINVAL (a field
 * out of range), -ENOMEM. free() the result.
 */
int oc_tpmblob_write(const struct oc_tpmblob *b, uint8_t **ret_buf, size_t *ret_len);

/* Recompute the trailing checksum after editing the payload in place. */
int oc_tpmblob_update_checksum(uint8_t *buf, size_t len);

/* Marshal b's public part exactly as oc_tpmblob_write stores it. */
int oc_tpmblob_marshal_public(const TPM2B_PUBLIC *pub, uint8_t *buf, size_t cap, size_t *ret_len);

/* "rsa2048", "ecc-p256", or NULL. */
const char *oc_tpm_key_alg_name(uint16_t alg);

#endif /* OC_TPM_BLOB_H */
