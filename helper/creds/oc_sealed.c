/* SPDX-License-Identifier: MIT */
/* oc_sealed.c: credential = tpm-sealed-secret, unsealed per request (see oc_sealed.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper/creds/oc_sealed.h"
#include "helper/lib/oc_privfile.h"
#include "tpm/tpm.h"
#include "util.h"

/* The sealed file: regular, not a symlink, owner-only (anyone who can read
 * it and reach the TPM could unseal it), capped. */
static int read_sealed_file(const char *path, uint8_t **ret_buf, size_t *ret_len)
{
    return oc_private_file_read(path, OC_TPMBLOB_FILE_MAX, OC_PF_OWNER_ONLY | OC_PF_NONEMPTY,
                                ret_buf, ret_len);
}

static const char *file_error(int r)
{
    switch (r) {
    case -EPERM:
        return "readable by group or others (chmod 600; owned by the daemon's user)";
    case -ELOOP:
        return "a symbolic link (refused: name the file itself)";
    case -EINVAL:
        return "not a regular file";
    case -EFBIG:
        return "too large for a sealed blob";
    case -ENODATA:
        return "empty";
    default:
        return strerror(-r);
    }
}

static int unseal_error(const struct oc_agent *a, int r, const char *tpmerr, char *why,
                        size_t why_len, bool *ret_permanent)
{
    if (r == -EKEYREJECTED) {
        snprintf(why, why_len,
                 "agent %s: sealed_file %s was sealed on another TPM (or this TPM was cleared) "
                 "and cannot be unsealed here; what to do: reseal the client secret on this "
                 "host (openclawctl seal %s); the TPM said: %s",
                 a->name, a->sealed_file, a->name, tpmerr);
        return r;
    }
    *ret_permanent = r != -ENODEV && r != -ENOSPC && r != -ENOMEM && r != -EPROTO;
    snprintf(why, why_len, "agent %s: cannot unseal sealed_file %s: %s", a->name, a->sealed_file,
             tpmerr);
    return r;
}

int oc_sealed_secret_read(struct oc_tpm **tpm, const struct oc_config *config,
                          const struct oc_agent *a, char **ret_secret, char *why, size_t why_len,
                          bool *ret_permanent)
{
    struct oc_tpmblob b;
    uint8_t *blob = NULL, *secret = NULL;
    size_t len = 0, secret_len = 0, used;
    const char *bad = NULL;
    char tpmerr[512];
    char *out;
    int r;

    *ret_permanent = true;
    r = read_sealed_file(a->sealed_file, &blob, &len);
    if (r < 0) {
        snprintf(why, why_len, "agent %s: cannot use sealed_file %s: %s%s", a->name, a->sealed_file,
                 file_error(r),
                 r == -ENOENT ? " (seal the client secret on this host: openclawctl seal AGENT)"
                              : "");
        return r;
    }
    r = oc_tpmblob_parse(blob, len, &b, &bad);
    if (r < 0 || b.type != OC_TPMBLOB_SEALED) {
        free(blob);
        snprintf(why, why_len,
                 "agent %s: sealed_file %s is not a sealed secret (%s): seal the client secret "
                 "with openclawctl tpm seal",
                 a->name, a->sealed_file, r < 0 ? bad : "it holds a key");
        return r < 0 ? r : -EINVAL;
    }
    if ((b.flags & OC_TPMBLOB_F_AUTH) != 0) {
        free(blob);
        snprintf(why, why_len,
                 "agent %s: sealed_file %s needs an auth value, which openclawd cannot supply: "
                 "reseal the secret without --auth-file (a PCR policy is fine)",
                 a->name, a->sealed_file);
        return -EACCES;
    }
    r = -ENODEV;
    if (*tpm != NULL) {
        r = oc_tpm_unseal(*tpm, blob, len, NULL, 0, &secret, &secret_len);
    }
    /* Not open yet (kept for later requests), or open for software keys
     * only or under another storage parent: a context of the blob's own. */
    if (*tpm == NULL || r == -ENODEV || r == -EINVAL) {
        struct oc_tpm_options opt = {.tcti = config->global.tcti,
                                     .keys_dir = config->global.keys_dir,
                                     .parent = b.parent,
                                     .persistent_srk = b.parent_handle,
                                     .allow_software_keys = config->global.allow_software_keys};
        bool keep = *tpm == NULL;
        struct oc_tpm *own = NULL;

        r = oc_tpm_open(&opt, &own, tpmerr, sizeof(tpmerr));
        if (r < 0) {
            free(blob);
            *ret_permanent = false;
            snprintf(why, why_len, "agent %s: %s", a->name, tpmerr);
            return r;
        }
        r = oc_tpm_unseal(own, blob, len, NULL, 0, &secret, &secret_len);
        if (keep) {
            *tpm = own;
        } else {
            /* Keep the message; the context goes. */
            snprintf(tpmerr, sizeof(tpmerr), "%s", oc_tpm_strerror(own));
            oc_tpm_close(own);
            own = NULL;
        }
        if (!keep && r < 0) {
            free(blob);
            return unseal_error(a, r, tpmerr, why, why_len, ret_permanent);
        }
    }
    free(blob);
    if (r < 0) {
        return unseal_error(a, r, oc_tpm_strerror(*tpm), why, why_len, ret_permanent);
    }
    used = secret_len; /* the whole buffer is wiped, whatever is trimmed */
    while (used > 0 && (secret[used - 1] == '\n' || secret[used - 1] == '\r')) {
        used--;
    }
    if (used == 0 || used >= OC_SEALED_SECRET_BUF || memchr(secret, 0, used) != NULL) {
        oc_tpm_secret_free(secret, secret_len);
        snprintf(why, why_len,
                 "agent %s: the secret sealed in %s is empty, longer than %d bytes or holds a NUL "
                 "byte: reseal the client secret itself",
                 a->name, a->sealed_file, OC_SEALED_SECRET_BUF - 1);
        return -EINVAL;
    }
    out = malloc(OC_SEALED_SECRET_BUF);
    if (out == NULL) {
        oc_tpm_secret_free(secret, secret_len);
        *ret_permanent = false;
        snprintf(why, why_len, "out of memory");
        return -ENOMEM;
    }
    memcpy(out, secret, used);
    out[used] = '\0';
    oc_tpm_secret_free(secret, secret_len);
    *ret_secret = out;
    return 0;
}
