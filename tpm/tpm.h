/* SPDX-License-Identifier: MIT */
/*
 * tpm.h: credentials bound to this host's TPM (tpm2-tss ESAPI).
 *
 * One struct oc_tpm per process (or per thread: it is not thread-safe).
 * Opening it connects to the TCTI, creates the storage primary key from
 * the TCG template (or uses a configured persistent one) and starts one
 * salted HMAC session bound to it, used for parameter encryption on
 * every command that carries secrets. Closing it flushes every transient
 * object and session it created: there may be no resource manager.
 *
 * Library code: returns 0 or a negative errno, never logs. After a
 * failure, oc_tpm_strerror() describes what went wrong and what the admin
 * should do (TPM response code decoded with Tss2_RC_Decode).
 *
 * Errors: -ENODEV (TCTI or TPM unreachable), -EBADMSG (blob malformed),
 * -EPROTONOSUPPORT (blob of another format version), -EKEYREJECTED (the
 * TPM refuses the blob: made on another TPM, or the storage key changed),
 * -EACCES (policy or auth value check failed: PCRs changed, wrong auth),
 * -EBUSY (TPM in dictionary-attack lockout), -ENOSPC (TPM object memory
 * full), -EPROTO (any other TPM error), -EINVAL, -ENOMEM, -EPERM (a
 * software key without the allow_software_keys opt-in, or an unsafe host
 * key file).
 *
 * Software keys (docs/tpm.md, "Software keys"): a blob of type
 * OC_TPMBLOB_SOFTWARE_KEY holds an RSA-2048 or P-256 key encrypted with
 * AES-256-GCM under the host key <keys_dir>/software-host.key. They are
 * made and loaded only when the caller passes allow_software_keys (the
 * admin's configuration), through the same functions as TPM keys. Every
 * function that loads or uses one returns OC_TPM_SOFTWARE_KEY (1) instead
 * of 0 on success: the caller must log a warning each time.
 */
#ifndef OC_TPM_H
#define OC_TPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tpm/blob.h"

/* Default TCTI: the kernel's resource manager. */
#define OC_TPM_DEFAULT_TCTI "device:/dev/tpmrm0"
#define OC_TPM_TCTI_MAX     512
/* Longest auth value accepted (bytes). */
#define OC_TPM_AUTH_MAX 32
/* client_assertion lifetime: default and cap (seconds). */
#define OC_ASSERTION_LIFETIME_DEFAULT 300
#define OC_ASSERTION_LIFETIME_MAX     600
/* Longest client id and audience accepted in an assertion. */
#define OC_ASSERTION_FIELD_MAX 2048
/* Longest keys_dir accepted (the host key of software keys lives there). */
#define OC_TPM_KEYS_DIR_MAX 1024
/* The host key file in keys_dir: 32 random bytes, mode 0600. */
#define OC_SOFTKEY_HOST_KEY_FILE "software-host.key"
#define OC_SOFTKEY_HOST_KEY_SIZE 32
/* keys_dir when the caller passes none (the configuration's default). */
#define OC_TPM_DEFAULT_KEYS_DIR "/var/lib/openclaw/keys"
/* Positive success value of every call that loaded or used a software key. */
#define OC_TPM_SOFTWARE_KEY 1

/* Unseal retries when the PCRs change between PolicyPCR and Unseal. */
#define OC_TPM_PCR_CHANGED_RETRIES 3

struct oc_tpm;
struct oc_tpm_key;

struct oc_tpm_options {
    const char *tcti;         /* NULL: OC_TPM_DEFAULT_TCTI */
    uint16_t parent;          /* OC_TPM_PARENT_*; 0: ECC SRK */
    uint32_t persistent_srk;  /* with OC_TPM_PARENT_PERSISTENT */
    bool allow_software_keys; /* the admin's opt-in to software keys (docs/tpm.md) */
    const char *keys_dir;     /* host key of software keys; NULL: OC_TPM_DEFAULT_KEYS_DIR */
};

/*
 * Open the TPM. On failure err (optional, errlen bytes) receives what went
 * wrong and what to do; a failure to reach the TPM names the
 * allow_software_keys option and keygen --software (there is no silent
 * fallback).
 *
 * With parent OC_TPM_PARENT_SOFTWARE no TPM is contacted: the context can
 * only make and load software keys, and opening it fails with -EPERM
 * unless allow_software_keys is set. A context with a TPM loads software
 * keys too when allow_software_keys is set.
 */
int oc_tpm_open(const struct oc_tpm_options *opt, struct oc_tpm **ret_tpm, char *err,
                size_t errlen);
/* Flush everything this context loaded, including keys still loaded (free
 * them first or never touch them again); NULL is fine. */
void oc_tpm_close(struct oc_tpm *tpm);

/* What failed last and what to do about it (never NULL). */
const char *oc_tpm_strerror(const struct oc_tpm *tpm);

/* TPM commands sent through this context so far, and how many were signatures. */
uint64_t oc_tpm_commands(const struct oc_tpm *tpm);
uint64_t oc_tpm_sign_commands(const struct oc_tpm *tpm);

/* Transient objects and sessions currently held in the TPM (all owners). */
int oc_tpm_handle_counts(struct oc_tpm *tpm, uint32_t *ret_transient, uint32_t *ret_sessions);

/* Manufacturer, firmware, TCTI and parent, one "key: value" per line. */
int oc_tpm_describe(struct oc_tpm *tpm, char *buf, size_t len);

/* Extend a PCR of the SHA-256 bank with the SHA-256 of data (tests, admins). */
int oc_tpm_pcr_extend(struct oc_tpm *tpm, unsigned pcr, const void *data, size_t len);

/* ---- signing keys ---- */

/* Create a signing key under the storage parent; returns a new blob (free()). */
int oc_tpm_keygen(struct oc_tpm *tpm, enum oc_tpm_key_alg alg, uint64_t now, uint8_t **ret_blob,
                  size_t *ret_len);

/*
 * Create a software signing key (OpenSSL, not bound to any TPM) encrypted
 * under the host key in keys_dir (created on first use). -EPERM unless the
 * context was opened with allow_software_keys. Returns OC_TPM_SOFTWARE_KEY
 * on success and a new blob (free()).
 */
int oc_tpm_keygen_software(struct oc_tpm *tpm, enum oc_tpm_key_alg alg, uint64_t now,
                           uint8_t **ret_blob, size_t *ret_len);

/*
 * Load a key blob: a TPM key into the TPM (it stays loaded until
 * oc_tpm_key_free()), or a software key (decrypted with the host key, only
 * with allow_software_keys; returns OC_TPM_SOFTWARE_KEY).
 */
int oc_tpm_key_load(struct oc_tpm *tpm, const uint8_t *blob, size_t len,
                    struct oc_tpm_key **ret_key);
void oc_tpm_key_free(struct oc_tpm_key *key);

/* True for a software key (not bound to a TPM). */
bool oc_tpm_key_is_software(const struct oc_tpm_key *key);

enum oc_jws_alg {
    OC_JWS_RS256 = 1,
    OC_JWS_PS256 = 2,
    OC_JWS_ES256 = 3,
};
/* "RS256" ... */
const char *oc_jws_alg_name(enum oc_jws_alg alg);

enum oc_tpm_key_alg oc_tpm_key_alg(const struct oc_tpm_key *key);
/* The default JWS algorithm of a key: RS256 for RSA, ES256 for ECC. */
enum oc_jws_alg oc_tpm_key_default_alg(const struct oc_tpm_key *key);

/* The public key as an OpenSSL key (EVP_PKEY_free()). */
int oc_tpm_key_public(const struct oc_tpm_key *key, EVP_PKEY **ret_pkey);

/*
 * Sign a SHA-256 digest inside the TPM: exactly one TPM command (with a
 * software key: OpenSSL, no TPM command, returns OC_TPM_SOFTWARE_KEY).
 * Output is the JOSE form: RSA signature bytes, or ECDSA r||s (64 bytes).
 * *ret_len is set to the signature size; buf must hold 256 bytes.
 */
#define OC_TPM_SIG_MAX 256
int oc_tpm_key_sign(struct oc_tpm_key *key, enum oc_jws_alg alg, const uint8_t digest[32],
                    uint8_t sig[OC_TPM_SIG_MAX], size_t *ret_len);

/*
 * RSASSA-PKCS1-v1_5 over a SHA-512 digest (ssh's rsa-sha2-512): one TPM
 * command (software key: OpenSSL, returns OC_TPM_SOFTWARE_KEY). RSA keys
 * only; -EOPNOTSUPP when the TPM refuses SHA-512. 256 bytes of signature.
 */
int oc_tpm_key_sign_rsa_sha512(struct oc_tpm_key *key, const uint8_t digest[64],
                               uint8_t sig[OC_TPM_SIG_MAX], size_t *ret_len);

/* ---- certificate and client assertion ---- */

/*
 * A self-signed X.509 certificate for the key: OpenSSL builds the TBS,
 * the TPM signs it (RS256 for RSA keys, ES256 for ECC keys). Subject and
 * issuer are CN=cn; valid from now - 1 h for `days` days.
 */
int oc_tpm_cert_create(struct oc_tpm_key *key, const char *cn, unsigned days, int64_t now,
                       X509 **ret_cert);

/* base64url SHA-1 and SHA-256 of the certificate's DER (x5t, x5t#S256). */
#define OC_X5T_SIZE      28 /* 27 characters + NUL */
#define OC_X5T_S256_SIZE 44 /* 43 characters + NUL */
int oc_cert_thumbprints(X509 *cert, char ret_x5t[OC_X5T_SIZE], char ret_x5t_s256[OC_X5T_S256_SIZE]);

struct oc_assertion_params {
    const char *client_id; /* iss and sub */
    const char *audience;  /* the token endpoint */
    int64_t now;           /* iat and nbf */
    uint32_t lifetime;     /* seconds; 0: OC_ASSERTION_LIFETIME_DEFAULT */
    enum oc_jws_alg alg;   /* 0: the key's default */
};

/*
 * Build and sign an OAuth client_assertion JWT with the TPM key: one TPM
 * command. The header names the certificate by x5t (RS256) or x5t#S256
 * (PS256, ES256). free() the result.
 */
int oc_tpm_client_assertion(struct oc_tpm_key *key, X509 *cert,
                            const struct oc_assertion_params *params, char **ret_jwt);

/* ---- sealed secrets ---- */

struct oc_seal_options {
    uint16_t pcr_bank;   /* TPM2_ALG_SHA256 ...; with pcr_mask */
    uint32_t pcr_mask;   /* 0: no PCR policy */
    const uint8_t *auth; /* NULL: no auth value */
    size_t auth_len;
};

/*
 * Seal secret (at most OC_TPM_SECRET_MAX bytes). Up to
 * OC_TPM_SEAL_INLINE_MAX bytes are sealed in the TPM object itself;
 * longer secrets are encrypted with AES-256-GCM under a random key that is
 * sealed instead. Returns a new blob (free()).
 */
int oc_tpm_seal(struct oc_tpm *tpm, const uint8_t *secret, size_t len,
                const struct oc_seal_options *opt, uint64_t now, uint8_t **ret_blob,
                size_t *ret_len);

/*
 * Unseal a blob into a new buffer; free it with oc_tpm_secret_free()
 * (wipes). Retries briefly on TPM2_RC_PCR_CHANGED.
 */
int oc_tpm_unseal(struct oc_tpm *tpm, const uint8_t *blob, size_t len, const uint8_t *auth,
                  size_t auth_len, uint8_t **ret_secret, size_t *ret_len);
void oc_tpm_secret_free(uint8_t *secret, size_t len);

/* ---- blob files ---- */

/*
 * Read a blob file: a regular file, not a symlink, at most
 * OC_TPMBLOB_FILE_MAX bytes. 0 or a negative errno (-ELOOP for a symlink,
 * -EFBIG, -EINVAL for not a regular file). free() the result.
 */
int oc_tpm_blob_read_file(const char *path, uint8_t **ret_buf, size_t *ret_len);

/* Write a blob file atomically (temporary file, fsync, rename), mode 0600. */
int oc_tpm_blob_write_file(const char *path, const uint8_t *buf, size_t len);
/* The same, the file given to uid:gid before the rename ((uid_t)-1 / (gid_t)-1:
 * unchanged); fchown needs root. */
int oc_tpm_blob_write_file_owned(const char *path, const uint8_t *buf, size_t len, uid_t uid,
                                 gid_t gid);

/* Parse "sha256:16,23" (bank optional, default sha256) into bank + mask. */
int oc_tpm_parse_pcrs(const char *s, uint16_t *ret_bank, uint32_t *ret_mask);

#endif /* OC_TPM_H */
