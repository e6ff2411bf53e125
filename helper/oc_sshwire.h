/* SPDX-License-Identifier: MIT */
/*
 * oc_sshwire.h: the ssh wire formats openclawd builds for ssh-sign: public
 * key blobs (RFC 4253 6.6, RFC 5656 3.1), signature blobs (RFC 4253 6.6,
 * RFC 5656 3.1.2, RFC 8332 3) and SHA-256 fingerprints as ssh-keygen -l
 * prints them. OpenSSL only; no TPM, no I/O, no logging.
 */
#ifndef OC_SSHWIRE_H
#define OC_SSHWIRE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define OC_SSH_ALG_RSA        "ssh-rsa"
#define OC_SSH_ALG_RSA_SHA256 "rsa-sha2-256"
#define OC_SSH_ALG_RSA_SHA512 "rsa-sha2-512"
#define OC_SSH_ALG_P256       "ecdsa-sha2-nistp256"
#define OC_SSH_CURVE_P256     "nistp256"
/* Longest raw RSA signature taken (RSA-2048; the TPM code's OC_TPM_SIG_MAX). */
#define OC_SSH_RAW_SIG_MAX 256u

/* Largest ssh signature blob built here (string alg + RSA-2048 bytes or two mpints). */
#define OC_SSH_SIG_BLOB_MAX 512u
/* "SHA256:" + 43 base64 characters + NUL, as ssh-keygen -l prints it. */
#define OC_SSH_FP_SIZE 51u

/* The ssh wire-format public key blob of pkey: "ssh-rsa" (e, n) or
 * "ecdsa-sha2-nistp256" (curve, Q). -EOPNOTSUPP for other keys, -ENOBUFS. */
int oc_ssh_pubkey_blob(EVP_PKEY *pkey, uint8_t *buf, size_t cap, size_t *ret_len);

/* "SHA256:<unpadded base64 of SHA-256(blob)>". */
int oc_ssh_fingerprint(const uint8_t *blob, size_t len, char ret_fp[OC_SSH_FP_SIZE]);

/*
 * The ssh signature blob for a raw signature from oc_tpm_key_sign():
 * algo is "rsa-sha2-256" or "rsa-sha2-512" (raw = the RSA signature bytes) or
 * "ecdsa-sha2-nistp256" (raw = r||s, 64 bytes, written as two mpints).
 */
int oc_ssh_sig_blob(const char *algo, const uint8_t *raw, size_t raw_len, uint8_t *buf, size_t cap,
                    size_t *ret_len);

#endif
