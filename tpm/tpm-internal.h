/* SPDX-License-Identifier: MIT */
/* tpm-internal.h: shared between the files of tpm/ only. */
#ifndef OC_TPM_INTERNAL_H
#define OC_TPM_INTERNAL_H

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include "tpm/tpm.h"

struct oc_tpm {
    TSS2_TCTI_CONTEXT_COMMON_V2 counter; /* wraps inner; handed to ESAPI */
    TSS2_TCTI_CONTEXT *inner;
    ESYS_CONTEXT *esys;
    ESYS_TR primary;
    bool primary_transient;
    ESYS_TR session; /* salted HMAC session, continued */
    uint16_t parent;
    uint32_t persistent;
    struct oc_tpm_key *keys; /* loaded keys, flushed at close */
    unsigned n_keys;
    uint64_t n_commands;
    uint64_t n_sign;
    bool allow_software_keys; /* the admin's opt-in, from the options */
    char keys_dir[OC_TPM_KEYS_DIR_MAX];
    char tcti[OC_TPM_TCTI_MAX];
    char err[768];
};

struct oc_tpm_key {
    struct oc_tpm *tpm;
    ESYS_TR handle;
    TPM2B_PUBLIC pub;
    enum oc_tpm_key_alg alg;
    EVP_PKEY *soft; /* software key (no TPM handle); NULL for TPM keys */
    struct oc_tpm_key *prev, *next;
};

int oc_tpm_set_error(struct oc_tpm *tpm, int r, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int oc_tpm_fail(struct oc_tpm *tpm, const char *what, TSS2_RC rc);
int oc_tpm_errno(TSS2_RC rc);
TSS2_RC oc_tpm_rc_base(TSS2_RC rc);
int oc_tpm_session_attrs(struct oc_tpm *tpm, TPMA_SESSION flags);
int oc_tpm_esys_sign(struct oc_tpm_key *key, TPMI_ALG_SIG_SCHEME scheme_alg, TPMI_ALG_HASH hash,
                     const uint8_t *digest, size_t len, const char *what, TPMT_SIGNATURE **ret,
                     TSS2_RC *ret_rc);
const TPMT_SYM_DEF *oc_tpm_session_symmetric(void);
int oc_tpm_check_parent(struct oc_tpm *tpm, const struct oc_tpmblob *b);
void oc_tpm_pcr_selection(uint16_t bank, uint32_t mask, TPML_PCR_SELECTION *sel);
const char *oc_strstrip_spaces(char *s);

/* -ENODEV with a message when the context reaches no TPM (software keys only). */
int oc_tpm_require_device(struct oc_tpm *tpm);

/* software.c: load a parsed software key blob into key->soft (checks the opt-in). */
int oc_soft_key_load(struct oc_tpm *tpm, const struct oc_tpmblob *b, struct oc_tpm_key *key);
/* software.c: sign with key->soft; same output as oc_tpm_key_sign(). */
int oc_soft_key_sign(struct oc_tpm_key *key, enum oc_jws_alg alg, const uint8_t digest[32],
                     uint8_t sig[OC_TPM_SIG_MAX], size_t *ret_len);

#endif /* OC_TPM_INTERNAL_H */
