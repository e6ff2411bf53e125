/* SPDX-License-Identifier: MIT */
/*
 * ctl_tpm.h: the parts of `openclawctl tpm` that other subcommands reuse
 * (enroll makes its key and certificate through these). Each returns a
 * CTL_EXIT_* code and has already told the admin on stderr what failed.
 */
#ifndef OC_CTL_TPM_H
#define OC_CTL_TPM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <openssl/x509.h>

#include "tpm/tpm.h"

struct ctl_tpm_target {
    const char *tcti;     /* NULL: the library's default */
    const char *keys_dir; /* NULL: the library's default */
    bool allow_software_keys;
    FILE *msg; /* where "key: ..." / "certificate: ..." lines go; NULL: stdout */
};

/* A new TPM-bound signing key (alg "rsa" or "ecc") written 0600 to out. */
int ctl_tpm_keygen_file(const struct ctl_tpm_target *t, const char *alg, const char *out);

/* A self-signed certificate for key, CN=subject, written to out; thumbprints returned. */
int ctl_tpm_cert_file(const struct ctl_tpm_target *t, const char *key, const char *subject,
                      unsigned days, const char *out, char ret_x5t[OC_X5T_SIZE],
                      char ret_x5t256[OC_X5T_S256_SIZE]);

/* A JWT signed by key (iss = sub = p->client_id, aud = p->audience). free() it. */
int ctl_tpm_assertion(const struct ctl_tpm_target *t, const char *key, X509 *cert,
                      const struct oc_assertion_params *p, char **ret_jwt);

/*
 * Seal secret (1 to OC_TPM_SECRET_MAX bytes) to the TPM under parent ("ecc", "rsa" or a
 * persistent handle; NULL: ecc), to the PCR values pcrs names when not NULL
 * ("sha256:7,16"), and write the blob atomically (temporary file, fsync, rename, mode
 * 0600) to out, given to uid:gid before it appears ((uid_t)-1 / (gid_t)-1: unchanged).
 * The secret stays the caller's to wipe.
 */
int ctl_tpm_seal_file(const struct ctl_tpm_target *t, const char *parent, const char *pcrs,
                      const uint8_t *secret, size_t len, const char *out, uid_t uid, gid_t gid);

#endif /* OC_CTL_TPM_H */
