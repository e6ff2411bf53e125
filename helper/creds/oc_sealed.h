/* SPDX-License-Identifier: MIT */
/*
 * oc_sealed.h: openclawd's credential = tpm-sealed-secret: the agent's
 * client secret sealed to this host's TPM (openclawctl tpm seal), unsealed
 * just in time for each token request and wiped right after it.
 */
#ifndef OC_SEALED_H
#define OC_SEALED_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

struct oc_tpm;

/* Size of the buffer *ret_secret points to (wipe and free that many bytes). */
#define OC_SEALED_SECRET_BUF 4097 /* a secret of up to 4 KiB, NUL-terminated */

/*
 * Read a.sealed_file (regular file, not a symlink, owner-only, at most
 * OC_TPMBLOB_FILE_MAX bytes), open *tpm under the blob's storage parent
 * when it is not open yet (kept for later requests), unseal it and return
 * the secret (trailing CR/LF removed) in a new OC_SEALED_SECRET_BUF buffer.
 * On failure err receives one line saying what happened and what to do,
 * and *ret_permanent whether retrying soon can help (false) or not (true).
 */
int oc_sealed_secret_read(struct oc_tpm **tpm, const struct oc_config *config,
                          const struct oc_agent *a, char **ret_secret, char *why, size_t why_len,
                          bool *ret_permanent);

#endif
